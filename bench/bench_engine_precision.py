"""The load engine's precision: engine lag at fixed rates, this checkout against a baseline
revision (and with uvloop, where given), interleaved in one run, on nginx; wrk's ceiling
beside it.

    .venv/bin/python bench/bench_engine_precision.py [--baseline REV] [--rates 100,1000,...]
        [--runs 3] [--seconds 2] [--lag-bound-ms 1] [--spin-ms 2] [--uvloop DIR] [--nice N]

nginx (one worker) is pinned to core 0 and every generator to core 1, as in
bench_loadgen.py. Each rate is run ``--runs`` times by each engine, one after
another, so drift in the machine's load hits all alike. The engines: the
baseline spinning the last ``--spin-ms`` (its best), and this checkout
sleeping to each arrival and spinning, each on uvloop where ``--uvloop DIR``
is given (a folder holding the ``uvloop`` package, ``pip install --target DIR
uvloop``, put first on the engine's path: the optional ``fast`` extra), and
this checkout spinning on asyncio's own loop. A run is **valid** when the
engine's own verdict says so with ``--lag-bound-ms`` as its bound (lag p99
within it, nothing dropped) and it had no error and achieved at least 97 % of
the offered rate. ``--nice N`` runs nginx, wrk and every engine at that
niceness (negative values need root): on a machine shared with other work it
approximates cores of their own, and says so in the output.

Prints, per rate and engine, the valid runs, each run's lag p99 and how many
times the kernel preempted the engine in it (involuntary context switches: a
core of its own shows a handful; hundreds mean other work took the core and
the lag is the machine's, not the engine's); then wrk's closed-loop ceiling,
each engine's highest rate valid in every run and its ratio to that ceiling,
the span of rates, from the lowest up, at which it was valid in every run, and
the 1-minute load average before and after. Needs nginx, wrk and taskset.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from baseline import ROOT, worktree
from bench_loadgen import NGINX_CONF, PATH, _free_port, _wait_for_port, _wrk, missing_tool
from bench_loadgen import _engine as run_engine

BASELINE_REV = "5753b57"  # main before the engine kept its schedule to the millisecond


def _engine(
    tree: Path,
    url: str,
    *,
    rate: float,
    seconds: float,
    lag_bound_ms: float,
    extra_path: str,
    spin_ms: float | None,
) -> dict[str, Any]:
    extra = ["--lag-bound-ms", f"{lag_bound_ms:g}"]
    if spin_ms is not None:
        extra += ["--spin-ms", f"{spin_ms:g}"]
    switches_before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_nivcsw
    result = run_engine(
        url,
        rate=rate,
        seconds=seconds,
        workers=1,
        connection="keep-alive",
        tree=tree,
        extra=tuple(extra),
        env=dict(os.environ, PYTHONPATH=f"{extra_path}{tree}"),
    )
    # how often the kernel gave the engine's core to another process mid-run
    result["preempted"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_nivcsw - switches_before
    return result


def _valid(result: dict[str, Any]) -> bool:
    return bool(
        result["valid"]
        and result["errors"] == 0
        and result["ok"] > 0
        and result["achieved_rate_per_s"] >= 0.97 * result["offered_rate_per_s"]
    )


def _report(
    args: argparse.Namespace,
    engines: list[str],
    rates: list[float],
    runs: dict[tuple[str, float], list[dict[str, Any]]],
    ceiling_per_s: float,
) -> None:
    print(f"lag bound {args.lag_bound_ms:g} ms (p99); {args.runs} runs of {args.seconds:g} s each")
    print("| rate/s | " + " | ".join(engines) + " |")
    print("|---:|" + "---|" * len(engines))
    for rate in rates:
        cells = []
        for name in engines:
            results = runs[(name, rate)]
            lags = ", ".join(f"{r['lag']['p99_ms']:.2f}" for r in results)
            preempted = "/".join(str(r["preempted"]) for r in results)
            cells.append(
                f"{sum(_valid(r) for r in results)}/{len(results)} valid "
                f"(lag p99 {lags}; preempted {preempted})"
            )
        print(f"| {rate:,.0f} | " + " | ".join(cells) + " |")
    print(f"\nwrk closed-loop ceiling (64 connections): {ceiling_per_s:,.0f} req/s")
    for name in engines:
        best = max(
            (rate for rate in rates if all(_valid(r) for r in runs[(name, rate)])), default=0.0
        )
        # The question: valid in every run at every rate from the lowest up to what?
        upto = 0.0
        for rate in sorted(rates):
            if not all(_valid(r) for r in runs[(name, rate)]):
                break
            upto = rate
        span = f"{min(rates):,.0f}/s to {upto:,.0f}/s" if upto else "none"
        print(
            f"{name}: highest rate valid in every run {best:,.0f}/s, "
            f"{best / ceiling_per_s:.3f}x wrk's ceiling; "
            f"valid in every run at every rate from the lowest: {span}"
        )


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default=BASELINE_REV)
    parser.add_argument("--rates", default="100,1000,2000,5000,10000,15000,20000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--lag-bound-ms", type=float, default=1.0)
    parser.add_argument("--spin-ms", type=float, default=2.0)
    parser.add_argument("--uvloop", help="a folder holding the uvloop package")
    parser.add_argument("--nice", type=int, default=0, help="niceness of nginx, wrk, engines")
    return parser.parse_args()


def main() -> int:
    args = _args()
    if missing_tool("nginx", "wrk", "taskset"):
        return 2
    if args.nice:
        try:
            os.nice(args.nice)  # inherited by nginx, wrk and every engine
        except PermissionError:
            print(f"--nice {args.nice}: a negative niceness needs root", file=sys.stderr)
            return 2
    spin = f"spin {args.spin_ms:g} ms"
    uvloop = f"{Path(args.uvloop).resolve()}{os.pathsep}" if args.uvloop else ""
    on = " + uvloop" if args.uvloop else ""
    baseline = worktree(args.baseline)
    engines: dict[str, tuple[Path, str, float | None]] = {
        f"{args.baseline}, {spin}{on}": (baseline, uvloop, args.spin_ms),
        f"this, sleeps{on}": (ROOT, uvloop, None),
        f"this, {spin}{on}": (ROOT, uvloop, args.spin_ms),
    }
    if args.uvloop:
        engines[f"this, {spin}, asyncio's loop"] = (ROOT, "", args.spin_ms)
    rates = [float(r) for r in args.rates.split(",")]

    tmp = Path(tempfile.mkdtemp(prefix="domino-bench-precision-"))
    tmp.chmod(0o755)  # nginx's workers run as an unprivileged user and must read www/
    port = _free_port()
    (tmp / "www").mkdir()
    (tmp / "www" / PATH.lstrip("/")).write_text("ok\n")
    (tmp / "nginx.conf").write_text(NGINX_CONF.format(tmp=tmp, port=port))
    url = f"http://127.0.0.1:{port}"
    nginx = subprocess.Popen(
        ["taskset", "-c", "0", "nginx", "-p", str(tmp), "-c", str(tmp / "nginx.conf"),
         "-e", str(tmp / "error.log")],
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    load_before = os.getloadavg()[0]
    runs: dict[tuple[str, float], list[dict[str, Any]]] = {}
    started = time.monotonic()
    try:
        _wait_for_port(port, 10)
        ceiling = _wrk(url + PATH, seconds=4.0, connections=64)
        for rate in rates:
            for _ in range(args.runs):
                for name, (tree, extra, spin_ms) in engines.items():
                    result = _engine(
                        tree,
                        url,
                        rate=rate,
                        seconds=args.seconds,
                        lag_bound_ms=args.lag_bound_ms,
                        extra_path=extra,
                        spin_ms=spin_ms,
                    )
                    runs.setdefault((name, rate), []).append(result)
            print(f"{rate:g}/s done", file=sys.stderr)
    finally:
        nginx.terminate()
        try:
            nginx.wait(timeout=10)
        except subprocess.TimeoutExpired:
            nginx.kill()
            nginx.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)
    load_after = os.getloadavg()[0]

    _report(args, list(engines), rates, runs, ceiling.rate_per_s)
    print(
        f"1-minute load average: {load_before:.1f} before, {load_after:.1f} after (2 cores); "
        f"niceness {os.nice(0)}; took {time.monotonic() - started:.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
