"""Soak: SIGKILL bank, card and pay again and again under load; the books must hold.

Run: nice -n 10 .venv/bin/python bench/soak_crashes.py [--crashes 10] [--json FILE]

One local stack in the hardened profile. Six customers' clients (two threads
each, a new TCP connection per request) send keyed transfers and remittances
through ``client->bank`` and keyed payments (captured when the amount is
even) through ``bank->pay`` and ``card->pay``, retrying with the same
Idempotency-Key (3 attempts, jittered backoff). Bank, card and pay are
crashed in turn (``Crash``: SIGKILL, restarted on the same port and data
folder when the scope ends), ``--crashes`` times each, each at a random
moment (after a random number, 5 to 40, of further answered operations).
While card is down a savings enrolment (bank -> card -> pay) is tried: it
must fail with CD001 having moved nothing. Afterwards every unanswered
operation is sent again with its key and the books are audited as in
tests/trust/test_crash_books.py. Exit 0 when nothing was lost, duplicated or
half-applied, 1 otherwise.

Seeded customers (on the soak's own stack): c0071-c0076 send, c0079 receives,
c0026-c0029 and c0035-c0039 enrol.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from harness import Crash, start_stack
from harness.infra.readiness import wait_until
from tests.trust.books import Workload, audit, background, resolve, snapshot

SENDERS = ("c0071", "c0072", "c0073", "c0074", "c0075", "c0076")
SINK = "c0079"
ENROLLERS = ("c0026", "c0027", "c0028", "c0029", "c0035", "c0036", "c0037", "c0038", "c0039")
CROSSES = {"bank": {"transfer", "remittance"}, "card": {"enrol"}, "pay": {"payment", "capture"}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crashes", type=int, default=10, help="crashes of each service")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)

    started = time.monotonic()
    crashes: dict[str, int] = {"bank": 0, "card": 0, "pay": 0}
    enrol_refusals = 0
    with start_stack("local", profile="hardened") as stack:
        workload = Workload(
            stack,
            senders=SENDERS,
            sink=SINK,
            enrollers=ENROLLERS,
            remit_share=0.03,
            max_attempts=3,
            backoff_s=0.05,
            threads_per_sender=2,
            seed=args.seed,
        )
        enrollers = list(ENROLLERS)
        before = snapshot(stack)

        def answered() -> int:
            return workload.count(lambda op: op.acknowledged)

        with background(workload, ops_per_sender=10_000, timeout_s=args.crashes * 3 * 20):
            for n in range(args.crashes * 3):
                service = ("bank", "card", "pay")[n % 3]
                target = answered() + rng.randint(5, 40)
                wait_until(lambda t=target: answered() >= t, timeout_s=30, what="load")
                if workload.finished.is_set():
                    break
                failing = workload.count(
                    lambda op, s=service: op.kind in CROSSES[s] and op.failures
                )
                with stack.inject(Crash(service=service)):
                    if service == "card" and enrollers:
                        customer = enrollers.pop(0)
                        enrolment = workload.enrol(customer)
                        savings = httpx.get(
                            f"{stack.services['bank']}/savings",
                            headers=workload.auth[customer],
                            timeout=10,
                        )
                        if not enrolment.acknowledged and savings.status_code == 404:
                            enrol_refusals += 1
                    elif service != "card":
                        wait_until(
                            lambda f=failing, s=service: (
                                workload.count(lambda op: op.kind in CROSSES[s] and op.failures) > f
                            ),
                            timeout_s=10,
                            what=f"operations failing while {service} is down",
                        )
                crashes[service] += 1
                print(
                    f"[{time.monotonic() - started:5.0f}s] crash {n + 1:3d} ({service}): "
                    f"{len(workload.ops)} operations so far",
                    flush=True,
                )
            target = answered() + 20
            wait_until(lambda: answered() >= target, timeout_s=30, what="load after the last")
        loaded_s = time.monotonic() - started
        resolved = resolve(workload.ops, deadline_s=120)
        result = audit(workload, before, remittance_timeout_s=60, check_history=False)
        total_s = time.monotonic() - started

    figures = {
        "command": "nice -n 10 .venv/bin/python bench/soak_crashes.py "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "crashes": crashes,
        "enrolments_refused_while_card_was_down_with_nothing_moved": enrol_refusals,
        **result.figures(),
        "resolved_after_restarts": resolved,
        "load_seconds": round(loaded_s, 1),
        "total_seconds": round(total_s, 1),
        "problems": result.problems[:20],
    }
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    expected_enrolments = min(args.crashes, len(ENROLLERS))
    clean = not result.problems and enrol_refusals == expected_enrolments
    return 0 if clean else 1


if __name__ == "__main__":
    raise SystemExit(main())
