"""Soak: every property test of Domino's readers, with many more cases than CI draws.

Run: nice -n 10 .venv/bin/python bench/soak_fuzz.py [--scale 10] [--workers 2] [--json FILE]

CI draws the count written at each ``@settings(max_examples=examples(N))``
(``tests/fuzzing.py``); this runs the same tests with every count multiplied
by ``--scale`` (``DOMINO_FUZZ_SCALE``) and prints, per test, how long it took,
then a JSON summary. Exit 0 when every test passed. The schema-driven fuzz of
the running services (``tests/services/test_fuzz.py``) has its own knob,
``DOMINO_FUZZ_EXAMPLES``: ``--service-examples`` sets it for this run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: The files whose property tests draw ``examples(N)`` cases.
FUZZ_FILES = [
    "tests/trust/test_fuzz_files.py",
    "tests/unit/test_compose_import.py",
    "tests/topologies/test_topology_errors.py",
    "tests/specs/test_spec_errors.py",
    "tests/configfiles/test_declarations.py",
]
SERVICE_FUZZ = "tests/services/test_fuzz.py"
_DURATION = re.compile(r"^([0-9.]+)s call\s+(\S+)$")
_COUNTS = re.compile(r"(\d+) (passed|failed|error|errors|skipped)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=10.0, help="times CI's case counts")
    parser.add_argument("--workers", type=int, default=2, help="pytest-xdist workers")
    parser.add_argument(
        "--service-examples",
        type=int,
        default=0,
        help="also fuzz the running services with this many cases per operation (0: skip)",
    )
    parser.add_argument("--json", type=Path, help="also write the summary here")
    args = parser.parse_args(argv)
    if args.scale <= 0 or args.workers < 1 or args.service_examples < 0:
        parser.error("--scale must be > 0, --workers >= 1, --service-examples >= 0")

    files = list(FUZZ_FILES)
    env = dict(os.environ, DOMINO_FUZZ_SCALE=str(args.scale))
    if args.service_examples:
        files.append(SERVICE_FUZZ)
        env["DOMINO_FUZZ_EXAMPLES"] = str(args.service_examples)
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-n",
        str(args.workers),
        "--durations=0",
        *files,
    ]
    began = time.monotonic()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    wall_s = time.monotonic() - began
    slowest = []
    for line in done.stdout.splitlines():
        match = _DURATION.match(line.strip())
        if match:
            slowest.append((float(match.group(1)), match.group(2)))
    slowest.sort(reverse=True)
    for seconds, test in slowest[:25]:
        print(f"{seconds:8.1f} s  {test}")
    tail = done.stdout.strip().splitlines()[-1:] or [done.stderr.strip()]
    counts = {kind: int(n) for n, kind in _COUNTS.findall(tail[0])}
    result = {
        "scale": args.scale,
        "workers": args.workers,
        "service_examples": args.service_examples or None,
        "files": files,
        "counts": counts,
        "exit_code": done.returncode,
        "wall_s": round(wall_s, 1),
        "summary_line": tail[0],
    }
    if done.returncode != 0:
        print(done.stdout[-6000:], file=sys.stderr)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
    return 0 if done.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
