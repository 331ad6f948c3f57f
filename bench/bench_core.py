"""Core-loop benchmarks: stack cold start, the cost of one Toxiproxy hop, and how
fast a fault becomes visible to traffic.

Run: .venv/bin/python bench/bench_core.py [--starts 3] [--requests 500] [--faults 20]

Everything is measured in one run, side by side, because machines are noisy:
the proxied/direct ratio compares two series taken interleaved, request by
request, against the same bank process.
"""

from __future__ import annotations

import argparse
import statistics
import time

import httpx

from harness import Down, Latency, start_stack


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def bench_cold_start(starts: int) -> list[float]:
    seconds = []
    for _ in range(starts):
        began = time.monotonic()
        with start_stack("local"):
            seconds.append(time.monotonic() - began)
    return seconds


def bench_hop(requests: int) -> None:
    with start_stack("local") as stack:
        direct_url = stack.services["bank"] + "/health"
        proxied_url = stack.entry_url + "/health"
        for keepalive in (True, False):
            limits = httpx.Limits(max_keepalive_connections=10 if keepalive else 0)
            with httpx.Client(limits=limits, timeout=5) as client:
                direct, proxied = [], []
                for _ in range(20):  # warm-up
                    client.get(direct_url)
                    client.get(proxied_url)
                for _ in range(requests):
                    for url, series in ((direct_url, direct), (proxied_url, proxied)):
                        began = time.perf_counter()
                        client.get(url).raise_for_status()
                        series.append((time.perf_counter() - began) * 1000)
            mode = "keep-alive" if keepalive else "new connection per request"
            print(f"\none Toxiproxy hop, {requests} GET /health each, interleaved ({mode}):")
            for q, label in ((0.5, "p50"), (0.99, "p99")):
                d, p = _pct(direct, q), _pct(proxied, q)
                print(
                    f"  {label}: direct {d:6.3f} ms  proxied {p:6.3f} ms  "
                    f"added {p - d:+6.3f} ms  ratio {p / d:4.2f}x"
                )


def bench_fault_visibility(faults: int) -> None:
    latency_ms = 200
    with (
        start_stack("local") as stack,
        httpx.Client(limits=httpx.Limits(max_keepalive_connections=0), timeout=5) as client,
    ):
        url = stack.entry_url + "/health"
        client.get(url).raise_for_status()
        latency_gaps: list[float] = []
        latency_first_hit = 0
        down_gaps: list[float] = []
        down_first_hit = 0
        for _ in range(faults):
            with stack.inject(Latency(edge="client->bank", latency_ms=latency_ms)):
                returned = time.perf_counter()
                attempts = 0
                while True:
                    attempts += 1
                    began = time.perf_counter()
                    client.get(url)
                    if (time.perf_counter() - began) * 1000 >= latency_ms:
                        latency_gaps.append((began - returned) * 1000)
                        latency_first_hit += attempts == 1
                        break
            with stack.inject(Down(edge="client->bank")):
                returned = time.perf_counter()
                attempts = 0
                while True:
                    attempts += 1
                    began = time.perf_counter()
                    try:
                        client.get(url)
                    except httpx.TransportError:
                        down_gaps.append((began - returned) * 1000)
                        down_first_hit += attempts == 1
                        break
        print(f"\nfault visible to traffic, {faults} applications each:")
        for name, gaps, hits in (
            ("latency", latency_gaps, latency_first_hit),
            ("down", down_gaps, down_first_hit),
        ):
            print(
                f"  {name:8}: first request after the call already faulted in {hits}/{faults}; "
                f"gap p50 {statistics.median(gaps):.3f} ms, max {max(gaps):.3f} ms"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=3)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--faults", type=int, default=20)
    args = parser.parse_args()
    seconds = bench_cold_start(args.starts)
    print(
        f"stack cold start to ready ({args.starts} starts): "
        f"median {statistics.median(seconds):.2f} s, min {min(seconds):.2f} s, "
        f"max {max(seconds):.2f} s"
    )
    bench_hop(args.requests)
    bench_fault_visibility(args.faults)


if __name__ == "__main__":
    main()
