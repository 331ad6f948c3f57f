"""A schema-driven fuzz run (schemathesis) against every running service.

Each service's own OpenAPI document drives schemathesis's coverage, fuzzing
and stateful phases, with a customer's token. The checks: no 5xx for any
input; every status and body is the one the schema declares; schema-invalid
input is refused with a 4xx. Afterwards every service's invariants must
hold (conftest checks them), so no generated input broke a ledger.

Admin routes are left out: fuzzing them with the admin token would inject
faults on purpose. They are covered by test_auth (401 without the token).

``DOMINO_FUZZ_SEED`` picks another seed; ``DOMINO_FUZZ_EXAMPLES`` more cases.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness import Stack
from tests.services.conftest import login

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
CHECKS = ",".join(
    (
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "negative_data_rejection",
    )
)


@pytest.mark.domino_profile("hardened")
def test_no_generated_input_gets_a_5xx_or_an_undeclared_answer(
    domino_stack: Stack, tmp_path: Path
) -> None:
    token = login(domino_stack.services["bank"], "c0095")
    seed = os.environ.get("DOMINO_FUZZ_SEED", "20241203")
    examples = os.environ.get("DOMINO_FUZZ_EXAMPLES", "50")
    runs = {}
    for name, url in domino_stack.services.items():
        log_path = tmp_path / f"{name}.log"
        with log_path.open("w") as log:
            runs[name] = (
                subprocess.Popen(
                    [
                        str(SCHEMATHESIS),
                        "run",
                        f"{url}/openapi.json",
                        "--header",
                        f"Authorization: Bearer {token}",
                        "--checks",
                        CHECKS,
                        "--exclude-path-regex",
                        "^/admin",
                        "--max-examples",
                        examples,
                        "--seed",
                        seed,
                        "--workers",
                        "1",  # several workers share hypothesis's lambda parser, which crashes
                        "--request-timeout",
                        "10",
                        "--warnings",
                        "off",
                        "--output-truncate",
                        "true",
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env={**os.environ, "NO_COLOR": "1"},
                ),
                log_path,
            )
    failed = []
    for name, (process, log_path) in runs.items():
        try:
            code = process.wait(timeout=120)
        finally:
            if process.poll() is None:
                process.kill()
        if code != 0:
            failed.append(f"--- {name} (exit {code}) ---\n{log_path.read_text()[-4000:]}")
    assert not failed, "\n".join(failed)
