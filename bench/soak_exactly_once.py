"""Soak: >= 10,000 money operations with client retries while toxics hit every edge.

Run: nice -n 10 .venv/bin/python bench/soak_exactly_once.py [--ops 10000]
     [--toxicity 0.3] [--share 0.3] [--per-phase 20] [--json FILE]

One local stack in the hardened profile. Eight customers' clients (one thread
each, a new TCP connection per request so Toxiproxy draws each toxic per
request) send keyed transfers and remittances through ``client->bank`` and
keyed payments (captured when the amount is even) through ``bank->pay`` and
``card->pay``; six savings enrolments go through ``client->bank`` and, for
their rate, ``bank->card`` and ``card->pay``. Every failed attempt is retried
with the same Idempotency-Key (up to 8 attempts, jittered backoff). The
faults cycle through reset_peer, timeout (``timeout_ms`` 200: the connection
closes) and limit_data (96 bytes) on every edge, each kind on each stream in
turn, then all three together, at ``--toxicity`` (< 1, so some calls pass;
drawn per connection, so on the services' own kept-alive calls it is a share
of pooled connections), then Domino's HTTP kinds drawn per request at
``--share``: http_abort before and after the target, http_status 503,
http_body truncate, each on every edge, then mixed; until ``--ops``
operations (captures not counted) were sent. Then every
operation left without an answer is sent again with its key, and the books
are audited as in tests/trust/test_exactly_once.py: invariants of every
service, a replay of every key (same id, ``Idempotent-Replayed``, nothing
moved), the books' counts against the keys, every balance and credit line,
the network's received remittances. Exit 0 when nothing was lost or
duplicated, 1 otherwise.

Seeded customers: c0062-c0069 send, c0043 receives, c0044-c0049 enrol (on
the soak's own stack; no test shares it).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness import start_stack
from tests.trust.books import (
    Workload,
    audit,
    edge_fault_phases,
    edge_http_phases,
    resolve,
    snapshot,
)

SENDERS = tuple(f"c00{n}" for n in range(62, 70))
SINK = "c0043"
ENROLLERS = tuple(f"c00{n}" for n in range(44, 50))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=10_000, help="operations to send (>= 1)")
    parser.add_argument("--toxicity", type=float, default=0.3, help="TCP toxics, per connection")
    parser.add_argument("--share", type=float, default=0.3, help="HTTP kinds, per request")
    parser.add_argument("--per-phase", type=int, default=20, help="operations per client per phase")
    parser.add_argument("--max-minutes", type=float, default=30.0, help="stop sending after this")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)

    started = time.monotonic()
    stop_at = started + args.max_minutes * 60
    with start_stack("local", profile="hardened") as stack:
        workload = Workload(
            stack, senders=SENDERS, sink=SINK, enrollers=ENROLLERS, remit_share=0.04, seed=62
        )
        phases = [
            *edge_fault_phases(stack.edges, toxicity=args.toxicity),
            *edge_http_phases(stack.edges, share=args.share, seed=62),
        ]
        before = snapshot(stack)
        enrolments = list(ENROLLERS)
        phase_count = 0

        def sent() -> int:
            return workload.count(lambda op: op.kind != "capture")

        while sent() < args.ops and time.monotonic() < stop_at:
            label, faults = phases[phase_count % len(phases)]
            with stack.inject(*faults):
                if enrolments:
                    workload.enrol(enrolments.pop(0))
                workload.run(args.per_phase, timeout_s=120)
            phase_count += 1
            print(
                f"[{time.monotonic() - started:6.0f}s] phase {phase_count:3d} {label:<22} "
                f"{sent():6d} operations sent",
                flush=True,
            )
        faulted_s = time.monotonic() - started
        unanswered = resolve(workload.ops, deadline_s=120)
        result = audit(workload, before, remittance_timeout_s=60, check_history=True)
        total_s = time.monotonic() - started

    figures = {
        "command": "nice -n 10 .venv/bin/python bench/soak_exactly_once.py "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "toxicity": args.toxicity,
        "share": args.share,
        "phases": phase_count,
        "edges": sorted(stack.edges),
        "operations_sent_without_captures": sent(),
        **result.figures(),
        "resolved_after_faults": unanswered,
        "faulted_seconds": round(faulted_s, 1),
        "total_seconds": round(total_s, 1),
        "problems": result.problems[:20],
    }
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    clean = not result.problems and result.duplicates == 0 and result.lost == 0
    return 0 if clean else 1


if __name__ == "__main__":
    raise SystemExit(main())
