"""Services baseline: each service's throughput and p99 at a fixed concurrency.

Run: .venv/bin/python bench/bench_services.py [--profile hardened] [--concurrency 16]
     [--seconds 4] [--write-docs]
     .venv/bin/python bench/bench_services.py --between-services 3 [--concurrency 1]

For each endpoint, ``--concurrency`` workers each hold one kept-alive
connection to the service's direct URL and send requests back to back for
``--seconds`` after a short warm-up; the figures are requests per second and
latency percentiles over that window. These are the "before" numbers that
later surge figures are compared with. Calls *between* services cross
Toxiproxy, over connections the services keep alive (as in every run).

``--between-services ROUNDS`` measures only the calls that cross another
service (card tab, card summary) on two stacks side by side: the services
keeping their connections to each other alive (the default) and opening a new
connection per call (the knob ``dependency_keepalive_s=0``, how they called
each other before), interleaved over ROUNDS rounds; each figure is the median
over rounds.

The load comes from a small asyncio HTTP/1.1 client written here rather than
httpx: on the project's 2-core CI machine httpx's async pool spends several
milliseconds per request at this concurrency, so it would measure itself, not
the service. The client speaks only what the services answer (Content-Length
bodies, keep-alive) and fails loudly on anything else.

``--write-docs`` replaces the ``## Services baseline`` section of
docs/benchmarks.md with the figures and this command.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import platform
import re
import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from harness import Stack, start_stack

DOCS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
SECTION = "## Services baseline"


class ProtocolError(RuntimeError):
    """The server answered something this small client does not speak."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One benchmarked call. ``body`` builds the JSON body per request (None: no body)."""

    service: str
    method: str
    path: str
    what: str
    body: Callable[[int], dict[str, object]] | None = None
    keyed: bool = False


@dataclass
class Series:
    """What one endpoint's run produced: latencies (ms) and status counts."""

    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    seconds: float = 0.0

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


class Connection:
    """One kept-alive HTTP/1.1 connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def request(self, head: bytes, body: bytes) -> int:
        self._writer.write(head + body)
        await self._writer.drain()
        status_line = await self._reader.readline()
        parts = status_line.split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
            raise ProtocolError(f"bad status line {status_line!r}")
        length = None
        while True:
            line = await self._reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        if length is None:
            raise ProtocolError("answer without Content-Length")
        await self._reader.readexactly(length)
        return int(parts[1])

    async def close(self) -> None:
        self._writer.close()
        await self._writer.wait_closed()


def _head(endpoint: Endpoint, host: str, token: str, body: bytes, key: str | None) -> bytes:
    lines = [
        f"{endpoint.method} {endpoint.path} HTTP/1.1",
        f"Host: {host}",
        f"Authorization: Bearer {token}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
    ]
    if key is not None:
        lines.append(f"Idempotency-Key: {key}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def run_endpoint(
    base_url: str,
    endpoint: Endpoint,
    tokens: list[str],
    *,
    concurrency: int,
    seconds: float,
    warmup_s: float,
) -> Series:
    parts = urlsplit(base_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    series = Series()
    counter = itertools.count()
    run_id = os.urandom(4).hex()
    measuring_from = time.monotonic() + warmup_s
    until = measuring_from + seconds

    async def worker(index: int) -> None:
        connection = await Connection.open(host, port)
        token = tokens[index % len(tokens)]
        try:
            while (now := time.monotonic()) < until:
                n = next(counter)
                body = json.dumps(endpoint.body(n)).encode() if endpoint.body else b""
                key = f"bench-{run_id}-{n}" if endpoint.keyed else None
                head = _head(endpoint, f"{host}:{port}", token, body, key)
                started = time.perf_counter()
                status = await connection.request(head, body)
                if now >= measuring_from:
                    series.latencies_ms.append((time.perf_counter() - started) * 1000)
                    series.statuses[status] += 1
        finally:
            await connection.close()

    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    series.seconds = seconds
    return series


def endpoints() -> list[Endpoint]:
    beneficiary = {"name": "Bench", "account": "US00000000", "country": "US"}
    return [
        Endpoint("bank", "GET", "/accounts", "balance inquiry (local)"),
        Endpoint(
            "bank",
            "POST",
            "/transfers",
            "transfer, keyed (one SQLite transaction)",
            # c0001 ... c0016 send (one per connection); c0017 ... c0100 receive.
            lambda n: {"to_account": f"c{n % 84 + 17:04d}-krw", "amount_krw": 1},
            keyed=True,
        ),
        Endpoint(
            "bank",
            "POST",
            "/exchange/deposits",
            "exchange deposit (surge traffic)",
            lambda _n: {"amount_krw": 1},
        ),
        Endpoint("bank", "GET", "/card-tab", "card tab (-> card -> pay, -> pay)"),
        Endpoint("card", "GET", "/cards/summary", "card summary (-> pay)"),
        Endpoint("pay", "GET", "/points", "card points (local)"),
        Endpoint(
            "pay",
            "POST",
            "/payments",
            "payment authorisation, keyed",
            lambda _n: {"merchant": "bench", "amount_krw": 1},
            keyed=True,
        ),
        Endpoint("remit", "GET", "/maintenance", "maintenance schedule (local)"),
        Endpoint(
            "remit",
            "POST",
            "/remittances",
            "remittance, keyed",
            lambda n: {
                "remittance_id": f"bench-{os.getpid()}-{n}",
                "amount_krw": 10_000,
                "currency": "USD",
                "amount_minor": 700,
                "beneficiary": beneficiary,
            },
            keyed=True,
        ),
    ]


def _row(endpoint: Endpoint, series: Series) -> str:
    total = sum(series.statuses.values())
    ok = sum(n for status, n in series.statuses.items() if 200 <= status < 300)
    return (
        f"| {endpoint.service} | `{endpoint.method} {endpoint.path}` | {endpoint.what} "
        f"| {total / series.seconds:,.0f} | {series.pct(0.50):.1f} | {series.pct(0.99):.1f} "
        f"| {ok}/{total} |"
    )


def write_docs(command: str, table: str, notes: str) -> None:
    text = DOCS.read_text() if DOCS.exists() else "# Benchmarks\n"
    section = f"{SECTION}\n\nCommand: `{command}`\n\n{table}\n\n{notes}\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.DOTALL | re.MULTILINE)
    if pattern.search(text):
        text = pattern.sub(lambda _m: section + "\n", text).rstrip() + "\n"
    else:
        text = text.rstrip() + "\n\n" + section
    DOCS.write_text(text)


def _tokens(stack: Stack, count: int) -> list[str]:
    bank = stack.services["bank"]
    with httpx.Client(timeout=10) as client:
        return [
            client.post(
                f"{bank}/login",
                json={"customer_id": f"c{n:04d}", "password": f"domino-c{n:04d}"},
            ).json()["token"]
            for n in range(1, count + 1)
        ]


#: The two ways the services call each other that ``--between-services`` compares.
CALLS_BETWEEN: tuple[tuple[str, dict[str, float]], ...] = (
    ("kept alive", {}),
    ("new connection per call", {"dependency_keepalive_s": 0}),
)


def between_services(args: argparse.Namespace) -> None:
    """Calls that cross another service, on two stacks: kept-alive vs a new connection."""
    crossing = [e for e in endpoints() if "->" in e.what]
    figures: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    with contextlib.ExitStack() as held:
        stacks = [
            (label, held.enter_context(start_stack("local", profile=args.profile, knobs=knobs)))
            for label, knobs in CALLS_BETWEEN
        ]
        tokens = {label: _tokens(stack, args.concurrency) for label, stack in stacks}
        for round_no in range(args.between_services):
            for endpoint in crossing:
                for label, stack in stacks if round_no % 2 == 0 else stacks[::-1]:
                    series = asyncio.run(
                        run_endpoint(
                            stack.services[endpoint.service],
                            endpoint,
                            tokens[label],
                            concurrency=args.concurrency,
                            seconds=args.seconds,
                            warmup_s=args.warmup,
                        )
                    )
                    ok = sum(n for st, n in series.statuses.items() if 200 <= st < 300)
                    if ok != sum(series.statuses.values()):
                        raise SystemExit(f"{endpoint.path} ({label}): {dict(series.statuses)}")
                    total = sum(series.statuses.values())
                    figures.setdefault((endpoint.path, label), []).append(
                        (total / series.seconds, series.pct(0.50), series.pct(0.99))
                    )
                    print(
                        f"round {round_no + 1} {endpoint.path} {label}: "
                        f"{total / series.seconds:,.0f}/s p50 {series.pct(0.5):.2f} ms",
                        flush=True,
                    )
    print(
        f"\nprofile {args.profile}, concurrency {args.concurrency}, {args.seconds:g} s x "
        f"{args.between_services} rounds, medians over rounds:\n"
        "| call | what | between services | req/s | p50 ms | p99 ms |\n|---|---|---|---:|---:|---:|"
    )
    for endpoint in crossing:
        for label, _knobs in CALLS_BETWEEN:
            runs = figures[(endpoint.path, label)]
            rate, p50, p99 = (statistics.median(r[i] for r in runs) for i in range(3))
            print(
                f"| `{endpoint.method} {endpoint.path}` | {endpoint.what} | {label} "
                f"| {rate:,.0f} | {p50:.2f} | {p99:.2f} |"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--profile", default="hardened", choices=("fragile", "hardened"))
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--warmup", type=float, default=0.5)
    parser.add_argument("--write-docs", action="store_true")
    parser.add_argument(
        "--between-services",
        type=int,
        metavar="ROUNDS",
        help="only the calls crossing another service: kept-alive vs a new connection per call",
    )
    args = parser.parse_args()
    if args.between_services is not None:
        if args.between_services < 1 or args.write_docs:
            parser.error("--between-services takes ROUNDS >= 1 and no --write-docs")
        between_services(args)
        return

    results: list[tuple[Endpoint, Series]] = []
    with start_stack("local", profile=args.profile) as stack:
        tokens = _tokens(stack, args.concurrency)
        for endpoint in endpoints():
            series = asyncio.run(
                run_endpoint(
                    stack.services[endpoint.service],
                    endpoint,
                    tokens,
                    concurrency=args.concurrency,
                    seconds=args.seconds,
                    warmup_s=args.warmup,
                )
            )
            results.append((endpoint, series))
            print(_row(endpoint, series), flush=True)
        with httpx.Client(timeout=30, headers={"X-Admin-Token": stack.admin_token}) as client:
            broken = {
                name: client.get(f"{url}/admin/invariants").json()["violations"]
                for name, url in stack.services.items()
            }
    header = (
        "| service | call | what | req/s | p50 ms | p99 ms | 2xx |\n"
        "|---|---|---|---:|---:|---:|---:|"
    )
    table = header + "\n" + "\n".join(_row(e, s) for e, s in results)
    print("\n" + table)
    invariants_line = (
        "every service's invariants held afterwards"
        if not any(broken.values())
        else f"INVARIANTS BROKEN: {broken}"
    )
    print(invariants_line)
    if args.write_docs:
        command = (
            ".venv/bin/python bench/bench_services.py"
            f" --profile {args.profile} --concurrency {args.concurrency} --seconds {args.seconds:g}"
        )
        notes = (
            f"Profile `{args.profile}`, {args.concurrency} kept-alive connections per call,"
            f" {args.seconds:g} s measured after {args.warmup:g} s of warm-up, load generator"
            f" on the same machine ({os.cpu_count()} cores, Python {platform.python_version()});"
            f" {invariants_line}. Calls between services cross Toxiproxy over connections"
            " the services keep alive. Throughput here is bounded by one CPU-bound Python process"
            " per service sharing two cores with the load generator, Toxiproxy and the"
            " downstream services: these are the baseline for surge figures, not a ceiling."
        )
        write_docs(command, table, notes)
        print(f"wrote the '{SECTION}' section of {DOCS}")


if __name__ == "__main__":
    main()
