"""Domino's own cost around a stack, side by side in one run: the old way against the new.

1. An HTTP client (``safe_client``): a TLS context built per client (as before)
   against the one shared context every client now uses.
2. Tearing the bank's local stack down: services stopped one after another (as
   before) against all at once.

    .venv/bin/python bench/bench_stack_floor.py [--clients 200] [--stacks 5]

Prints each figure and the ratio old/new; docs/benchmarks.md records a run.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import httpx

from harness import start_stack
from harness.backends import local
from harness.infra.network_safety import safe_client


def _clients_ms(make: Callable[[], object], count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        make()
    return (time.perf_counter() - started) * 1000 / count


def _per_client_context() -> httpx.Client:
    return httpx.Client(transport=httpx.HTTPTransport())  # what safe_client built before


def _one_by_one(services: local._LocalServices) -> None:
    for process in reversed(list(services.running.values())):
        process.stop()


def _teardown_s(stop_all: Callable[[local._LocalServices], None] | None) -> float:
    original = local._LocalServices.stop_all
    if stop_all is not None:
        local._LocalServices.stop_all = stop_all  # type: ignore[method-assign]
    try:
        context = start_stack("local", profile="hardened")
        context.__enter__()
        started = time.perf_counter()
        context.__exit__(None, None, None)
        return time.perf_counter() - started
    finally:
        local._LocalServices.stop_all = original  # type: ignore[method-assign]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--stacks", type=int, default=5)
    args = parser.parse_args()

    old_ms = _clients_ms(_per_client_context, args.clients)
    new_ms = _clients_ms(lambda: safe_client(base_url="http://127.0.0.1:1"), args.clients)
    print(
        f"client: per-client TLS context {old_ms:8.3f} ms, shared {new_ms:8.3f} ms, "
        f"ratio {old_ms / new_ms:8.1f}x  ({args.clients} clients each)"
    )

    old, new = [], []
    for _ in range(args.stacks):  # interleaved, so drift hits both alike
        old.append(_teardown_s(_one_by_one))
        new.append(_teardown_s(None))
    old_s, new_s = statistics.median(old), statistics.median(new)
    print(
        f"teardown: one by one {old_s:6.3f} s, all at once {new_s:6.3f} s, "
        f"ratio {old_s / new_s:5.2f}x  (median of {args.stacks} stacks each)"
    )


if __name__ == "__main__":
    main()
