"""The load engine against wrk, side by side, on the same nginx endpoint, one core each.

    .venv/bin/python bench/bench_loadgen.py

Starts Debian's nginx on a loopback port (its own config in a temp dir, no
daemon, pinned to core 0) serving a tiny static file, then, with the generator
pinned to core 1 (``taskset -c 1``):

1. wrk's closed-loop ceiling (req/s and latency), 64 connections;
2. wrk paced to the common rate (a Lua ``delay()`` per request: still closed
   loop, but at about that rate), for its latency there;
3. the engine's maximum sustainable open-loop rate, 1 worker and 2 workers
   (both on core 1): the rate is doubled until a run is invalid (lag p99 over
   50 ms, a dropped arrival, an error, or achieved under 97 % of offered), then
   bisected twice;
4. the engine at the common rate (open loop, latency from the intended send),
   kept-alive, and with a new connection per request at ``--per-request-rate``.

Prints a table and the ratios; ``--markdown`` prints the rows for
docs/benchmarks.md. Needs ``nginx``, ``wrk`` and ``taskset`` (apt-get install
nginx wrk). Nothing is left running: nginx is stopped in a ``finally``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
NGINX_CONF = """\
daemon off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    keepalive_requests 100000000;
    server {{
        listen 127.0.0.1:{port};
        root {tmp}/www;
    }}
}}
"""
PATH = "/hello.txt"
GENERATOR_CORE = "1"
SERVER_CORE = "0"


@dataclass(frozen=True)
class Figure:
    label: str
    rate_per_s: float
    p50_ms: float
    p99_ms: float
    note: str = ""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for_port(port: int, deadline_s: float = 10.0, what: str = "nginx") -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise SystemExit(f"{what} did not listen on 127.0.0.1:{port} within {deadline_s} s")


def _ms(text: str) -> float:
    value = float(re.sub(r"[a-z]+$", "", text))
    if text.endswith("us"):
        return value / 1000
    if text.endswith("ms"):
        return value
    if text.endswith("s"):
        return value * 1000
    return value


def _wrk(url: str, *, seconds: float, connections: int, script: Path | None = None) -> Figure:
    cmd = ["taskset", "-c", GENERATOR_CORE, "wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s"]
    cmd += ["--latency", *(["-s", str(script)] if script else []), url]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=60).stdout
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    if bad:
        raise SystemExit(f"wrk got {bad.group(1)} non-2xx answers: the endpoint is broken\n{out}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    label = "wrk, paced" if script else "wrk, closed-loop ceiling"
    return Figure(label, rate, p50, p99, f"{connections} connections")


def _engine(
    url: str,
    *,
    rate: float,
    seconds: float,
    workers: int,
    connection: str,
    tree: Path = ROOT,
    extra: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One constant-rate run of the engine of ``tree`` (``extra``: more arguments)."""
    cmd = [
        "taskset", "-c", GENERATOR_CORE, sys.executable, "-m", "harness.loadgen",
        "--url", url, "--path", PATH, "--shape", "constant", "--rate", f"{rate:g}",
        "--duration-s", f"{seconds:g}", "--arrivals", "even", "--max-requests", str(10**8),
        "--max-in-flight", "2000", "--timeout-s", "5", "--connection", connection,
        "--workers", str(workers), "--json", "--quiet", *extra,
    ]  # fmt: skip
    done = subprocess.run(
        cmd, capture_output=True, text=True, check=False, timeout=120, cwd=tree, env=env
    )
    if done.returncode not in (0, 3):
        raise SystemExit(f"engine run failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _sustained(result: dict[str, Any]) -> bool:
    return bool(
        result["valid"]
        and result["errors"] == 0
        and result["achieved_rate_per_s"] >= 0.97 * result["offered_rate_per_s"]
    )


def _ceiling(url: str, *, workers: int, seconds: float, start: float) -> tuple[Figure, list[str]]:
    log: list[str] = []
    best: dict[str, Any] | None = None
    rate, bad = start, 0.0

    def trial(r: float) -> bool:
        nonlocal best
        result = _engine(url, rate=r, seconds=seconds, workers=workers, connection="keep-alive")
        ok = _sustained(result)
        log.append(
            f"    {workers} worker(s) at {r:>7.0f}/s: {'ok     ' if ok else 'INVALID'} "
            f"lag p99 {result['lag']['p99_ms']:6.1f} ms, p99 {result['latency']['p99_ms']:6.1f} ms"
            + (
                ""
                if ok
                else f" ({result['invalid_reason'] or 'errors or short'}; errors "
                f"{result['errors']}, achieved {result['achieved_rate_per_s']:.0f}/s, "
                f"{result['first_error']})"
            )
        )
        print(log[-1], file=sys.stderr)
        if ok and (best is None or r > best["offered_rate_per_s"]):
            best = result
        return ok

    while rate <= 128_000 and trial(rate):
        rate *= 2
    bad = rate
    good = rate / 2
    for _ in range(2):
        mid = round((good + bad) / 2 / 250) * 250
        if mid <= good or mid >= bad:
            break
        if trial(mid):
            good = mid
        else:
            bad = mid
    if best is None:
        return Figure(f"engine ceiling, {workers} worker(s)", 0.0, 0.0, 0.0, "none sustained"), log
    lat = best["latency"]
    return (
        Figure(
            f"engine max sustainable, {workers} worker(s)",
            float(best["achieved_rate_per_s"]),
            lat["p50_ms"],
            lat["p99_ms"],
            f"lag p99 {best['lag']['p99_ms']:.1f} ms; next step {bad:g}/s was invalid",
        ),
        log,
    )


def _measure(args: argparse.Namespace, url: str, tmp: Path) -> tuple[list[Figure], list[str]]:
    figures = [_wrk(url + PATH, seconds=args.wrk_seconds, connections=64)]
    paced_connections = 20
    delay_ms = paced_connections * 1000 / args.common_rate
    (tmp / "paced.lua").write_text(f"function delay()\n  return {delay_ms:g}\nend\n")
    figures.append(
        _wrk(
            url + PATH,
            seconds=args.wrk_seconds,
            connections=paced_connections,
            script=tmp / "paced.lua",
        )
    )
    log: list[str] = []
    for workers in (1, 2):
        figure, lines = _ceiling(
            url, workers=workers, seconds=args.step_seconds, start=args.start_rate
        )
        figures.append(figure)
        log += lines
    # per-request last: it leaves thousands of sockets in TIME_WAIT
    for connection, rate in (
        ("keep-alive", args.common_rate),
        ("per-request", args.per_request_rate),
    ):
        result = _engine(url, rate=rate, seconds=args.wrk_seconds, workers=1, connection=connection)
        figures.append(
            Figure(
                f"engine at {rate:g}/s, {connection}",
                float(result["achieved_rate_per_s"]),
                result["latency"]["p50_ms"],
                result["latency"]["p99_ms"],
                f"{'valid' if result['valid'] else 'INVALID'}; lag p99 "
                f"{result['lag']['p99_ms']:.1f} ms; ok {result['ok']}/{result['actions']}",
            )
        )
    return figures, log


def _report(args: argparse.Namespace, figures: list[Figure], log: list[str], took_s: float) -> None:
    wrk_top, wrk_paced, engine_common = figures[0], figures[1], figures[4]
    ratios = [
        f"engine 1 worker max / wrk ceiling: {figures[2].rate_per_s / wrk_top.rate_per_s:.2f}",
        f"engine 2 workers max / wrk ceiling: {figures[3].rate_per_s / wrk_top.rate_per_s:.2f}",
        f"engine p50 / wrk paced p50 at ~{args.common_rate:g}/s: "
        f"{engine_common.p50_ms / wrk_paced.p50_ms:.1f}",
        f"engine p99 / wrk paced p99 at ~{args.common_rate:g}/s: "
        f"{engine_common.p99_ms / wrk_paced.p99_ms:.1f}",
    ]
    if args.markdown:
        print("| generator (core 1; nginx on core 0) | req/s | p50 ms | p99 ms | note |")
        print("|---|---:|---:|---:|---|")
        for f in figures:
            print(
                f"| {f.label} | {f.rate_per_s:,.0f} | {f.p50_ms:.2f} | {f.p99_ms:.2f} | {f.note} |"
            )
    else:
        for f in figures:
            print(
                f"{f.label:<45} {f.rate_per_s:>9,.0f} req/s  p50 {f.p50_ms:7.2f} ms  "
                f"p99 {f.p99_ms:7.2f} ms  {f.note}"
            )
    print()
    for line in ratios:
        print(line)
    print("\nsearch steps:")
    for line in log:
        print(line)
    print(f"\nbenchmark took {took_s:.0f} s")


def missing_tool(*tools: str) -> bool:
    """Say (on stderr) which of ``tools`` is not on PATH and how to get it; True if one is."""
    for tool in tools:
        if shutil.which(tool) is None:
            hint = "install Go" if tool == "go" else "apt-get install -y nginx wrk"
            print(f"{tool} not found: {hint}", file=sys.stderr)
            return True
    return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wrk-seconds", type=float, default=4.0)
    parser.add_argument("--step-seconds", type=float, default=2.0)
    parser.add_argument("--common-rate", type=float, default=2000.0)
    parser.add_argument("--start-rate", type=float, default=1000.0)
    parser.add_argument("--per-request-rate", type=float, default=500.0)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    if missing_tool("nginx", "wrk", "taskset"):
        return 2
    if (os.cpu_count() or 1) < 2:
        print("needs two cores (nginx on 0, the generator on 1)", file=sys.stderr)
        return 2

    tmp = Path(tempfile.mkdtemp(prefix="domino-bench-loadgen-"))
    tmp.chmod(0o755)  # nginx's workers run as an unprivileged user and must read www/
    port = _free_port()
    (tmp / "www").mkdir()
    (tmp / "www" / PATH.lstrip("/")).write_text("ok\n")
    (tmp / "nginx.conf").write_text(NGINX_CONF.format(tmp=tmp, port=port))
    url = f"http://127.0.0.1:{port}"
    nginx = subprocess.Popen(
        ["taskset", "-c", SERVER_CORE, "nginx", "-p", str(tmp), "-c", str(tmp / "nginx.conf"),
         "-e", str(tmp / "error.log")],
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    started = time.monotonic()
    load_before = os.getloadavg()[0]
    try:
        _wait_for_port(port, 10)
        figures, log = _measure(args, url, tmp)
    finally:
        nginx.terminate()
        try:
            nginx.wait(timeout=10)
        except subprocess.TimeoutExpired:
            nginx.kill()
            nginx.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)
    _report(args, figures, log, time.monotonic() - started)
    # the machine may be shared: say how busy it was
    print(f"1-minute load average: {load_before:.1f} before, {os.getloadavg()[0]:.1f} after")
    return 0


if __name__ == "__main__":
    sys.exit(main())
