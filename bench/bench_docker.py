"""Docker backend benchmarks, side by side with the local backend: stack cold start
(images already built), journey latency through the client edge, and optionally
the incident suite on both backends.

Run: .venv/bin/python bench/bench_docker.py [--starts 3] [--calls 200] [--incidents]

Needs a Docker engine and the images (`bash docker/build-images.sh`). Series
are taken interleaved (local, docker, local, ...) because machines are noisy.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable

from harness import StackError, find_topology, start_stack
from harness.backends.docker import preflight

BACKENDS = ("local", "docker")


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _summary(values: list[float], unit: str = "s", digits: int = 2) -> str:
    return (
        f"median {statistics.median(values):.{digits}f} {unit} "
        f"(min {min(values):.{digits}f}, max {max(values):.{digits}f})"
    )


def bench_cold_start(starts: int) -> None:
    up: dict[str, list[float]] = {b: [] for b in BACKENDS}
    down: dict[str, list[float]] = {b: [] for b in BACKENDS}
    for _ in range(starts):
        for backend in BACKENDS:
            began = time.monotonic()
            with start_stack(backend):
                ready = time.monotonic()
                up[backend].append(ready - began)
            down[backend].append(time.monotonic() - ready)
    print(f"stack cold start to ready, then teardown ({starts} each, interleaved):")
    for backend in BACKENDS:
        print(f"  {backend:6}: up {_summary(up[backend])}; down {_summary(down[backend])}")


def bench_journeys(calls: int) -> None:
    journeys = {j.name: j for j in find_topology("bank").journeys}
    with start_stack("local") as local, start_stack("docker") as docker:
        clients = {
            "local": local.client(),
            "docker": docker.client(),
        }
        latencies: dict[tuple[str, str], list[float]] = {}
        for _ in range(10):  # warm-up: imports, first connections, the login token
            for client in clients.values():
                for journey in journeys.values():
                    client.run(journey)
        for _ in range(calls):
            for name, journey in journeys.items():
                for backend, client in clients.items():
                    seen = client.run(journey)
                    if not seen.ok:
                        raise SystemExit(f"{name} failed on {backend}: {seen}")
                    latencies.setdefault((name, backend), []).append(seen.latency_ms)
        for client in clients.values():
            client.close()
    print(f"\njourney latency through client->bank, {calls} calls each, interleaved:")
    for name in journeys:
        row = []
        for backend in BACKENDS:
            series = latencies[(name, backend)]
            p50, p99 = _pct(series, 0.5), _pct(series, 0.99)
            row.append(f"{backend} p50 {p50:6.1f} ms p99 {p99:6.1f} ms")
        print(f"  {name:9}: " + " | ".join(row))


def bench_incidents() -> None:
    from harness.experiment import run_incident
    from harness.library import list_incidents

    print("\nincident suite (each spec under each of its profiles):")
    for spec in list_incidents():
        for profile in spec.profiles:
            row = []
            for backend in BACKENDS:
                began = time.monotonic()
                with start_stack(backend, profile=profile) as stack:
                    result = run_incident(stack, spec, profile)
                row.append(
                    f"{backend} {result.verdict.outcome} in {time.monotonic() - began:5.1f} s"
                )
            print(f"  {spec.id} [{profile}]: " + " | ".join(row))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--starts", type=int, default=3, help="cold starts per backend")
    parser.add_argument("--calls", type=int, default=200, help="calls per journey and backend")
    parser.add_argument("--incidents", action="store_true", help="also run the incident suite")
    args = parser.parse_args()
    try:
        preflight()
    except StackError as exc:
        sys.exit(f"bench_docker: {exc}")
    steps: list[Callable[[], None]] = [
        lambda: bench_cold_start(args.starts),
        lambda: bench_journeys(args.calls),
    ]
    if args.incidents:
        steps.append(bench_incidents)
    for step in steps:
        step()


if __name__ == "__main__":
    main()
