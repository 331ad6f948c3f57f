"""One hop through Domino's Toxiproxy server vs stock Toxiproxy vs direct, side by side.

    .venv/bin/python bench/bench_http_hop.py [--rounds 5] [--seconds 3] [--markdown]

Starts Debian's nginx on a loopback port serving a tiny file (its own config in a
temp dir, no daemon), then two Toxiproxy servers in front of it, each with its
own proxies:

- **stock**: upstream's ``toxiproxy-server`` v2.12.0 (``go install`` into a temp
  GOBIN), one proxy, no toxic;
- **domino, counting**: Domino's server built from this checkout's sources, one
  proxy with no toxic (every proxy counts its requests, answers and bytes as
  they pass: the passive counter);
- **domino, HTTP toxic not matching**: Domino's server, one proxy holding an
  ``http_status`` fault (its request toxic and its answers companion) whose
  path filter matches no request: every request is parsed twice (counter and
  toxic) and passed on, every answer followed by the answers toxic.

Each is measured with wrk (pinned to core 1; nginx and the servers to core 0)
for ``--seconds`` per run: kept-alive with 1 connection (latency) and with 8
(throughput), and a new connection per request (``Connection: close``, 1
connection). The runs are interleaved in ``--rounds`` rounds and each figure is
the median over rounds: p50 from wrk's ``--latency`` distribution, requests/s,
and the Toxiproxy server's CPU time per request (user + system, from /proc,
over the run): the cost that scheduling noise on a shared machine does not
blur.
Prints the table, the added p50 over direct and over stock, and the throughput
ratios, then the hop per call kept-alive (1 connection) beside a new connection
per call, through each server: what a caller pays for opening a connection per
call, as the bank's services did so that Toxiproxy's per-connection toxicity was
drawn per call (they keep their connections alive now). ``--markdown`` prints
the rows for docs/benchmarks.md. Checks, at the end, that the toxic matched
nothing and that the counter counted every request it let through. Needs
``go``, ``nginx``, ``wrk`` and ``taskset``. Nothing is left running: every
process is stopped in a ``finally``.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_loadgen import (  # noqa: E402  (bench/ is on the path when run as a script)
    GENERATOR_CORE,
    NGINX_CONF,
    PATH,
    SERVER_CORE,
    _free_port,
    _ms,
    _wait_for_port,
    missing_tool,
)

from harness.toxiproxy.abilities import TOXIPROXY_VERSION, counts_live_traffic  # noqa: E402
from harness.toxiproxy.binary import install_toxiproxy  # noqa: E402
from harness.toxiproxy.client import ToxicInfo, ToxiproxyClient  # noqa: E402

UPSTREAM = "github.com/Shopify/toxiproxy/v2"
#: (label, wrk connections, extra wrk arguments)
MODES: tuple[tuple[str, int, list[str]], ...] = (
    ("kept-alive, 1 conn", 1, []),
    ("kept-alive, 8 conns", 8, []),
    ("new connection each", 1, ["-H", "Connection: close"]),
)
TARGETS = ("direct", "stock", "domino, counting", "domino, HTTP toxic not matching")


@contextmanager
def _process(cmd: list[str], port: int, what: str, log: Path) -> Iterator[int]:
    with log.open("wb") as out:
        process = subprocess.Popen(
            ["taskset", "-c", SERVER_CORE, *cmd], stdout=out, stderr=subprocess.STDOUT
        )
    try:
        _wait_for_port(port, what=what)
        yield process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _stock_server(tmp: Path) -> Path:
    gobin = tmp / "stock-bin"
    env = dict(os.environ, GOBIN=str(gobin), GOFLAGS="-mod=mod", CGO_ENABLED="0", GOWORK="off")
    subprocess.run(
        [
            "go",
            "install",
            f"-ldflags=-X {UPSTREAM}.Version={TOXIPROXY_VERSION}",
            f"{UPSTREAM}/cmd/server@v{TOXIPROXY_VERSION}",
        ],
        env=env,
        check=True,
        timeout=600,
    )
    return gobin / "server"


def _toxiproxy(binary: Path, tmp: Path, name: str, stack: ExitStack) -> tuple[ToxiproxyClient, int]:
    """A server on a free port, and its pid."""
    port = _free_port()
    cmd = [str(binary), "-host", "127.0.0.1", "-port", str(port)]
    pid = stack.enter_context(_process(cmd, port, name, tmp / f"{name}.log"))
    return ToxiproxyClient(f"http://127.0.0.1:{port}"), pid


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) the process has used so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wrk(
    url: str, seconds: float, connections: int, extra: list[str], pid: int | None
) -> tuple[float, float, float | None]:
    """(p50 ms, requests/s, the server's CPU µs per request) of one wrk run."""
    cpu_before = _cpu_s(pid) if pid else 0.0
    cmd = ["taskset", "-c", GENERATOR_CORE, "wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s"]
    cmd += ["--latency", *extra, url]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=120).stdout
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    if bad or (errors and "connect 0, read 0, write 0, timeout 0" not in errors.group(0)):
        raise SystemExit(f"wrk saw failures on {url}: the hop is broken\n{out}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    done = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    cpu_us = (_cpu_s(pid) - cpu_before) * 1e6 / done if pid and done else None
    return p50, rate, cpu_us


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    if missing_tool("go", "nginx", "wrk", "taskset"):
        raise SystemExit(2)
    with tempfile.TemporaryDirectory(prefix="bench-hop-") as tmp_name, ExitStack() as stack:
        tmp = Path(tmp_name)
        tmp.chmod(0o755)  # nginx's workers run as an unprivileged user and must read www/
        (tmp / "www").mkdir()
        (tmp / "www" / PATH.lstrip("/")).write_text("hello\n", encoding="utf-8")
        nginx_port = _free_port()
        (tmp / "nginx.conf").write_text(NGINX_CONF.format(tmp=tmp, port=nginx_port))
        nginx = ["nginx", "-c", str(tmp / "nginx.conf"), "-p", str(tmp)]
        stack.enter_context(_process(nginx, nginx_port, "nginx", tmp / "nginx.log"))
        print("building the servers (go caches make it quick after the first)", file=sys.stderr)
        domino_bin = install_toxiproxy(target_dir=tmp / "domino-bin")
        stock, stock_pid = _toxiproxy(_stock_server(tmp), tmp, "stock", stack)
        domino, domino_pid = _toxiproxy(domino_bin, tmp, "domino", stack)
        pids = {
            "direct": None,
            "stock": stock_pid,
            "domino, counting": domino_pid,
            "domino, HTTP toxic not matching": domino_pid,
        }
        if not counts_live_traffic(domino.version()) or counts_live_traffic(stock.version()):
            raise SystemExit(f"unexpected servers: {domino.version()}, {stock.version()}")
        upstream = f"127.0.0.1:{nginx_port}"
        urls = {
            "direct": f"http://{upstream}{PATH}",
            "stock": f"http://{stock.create_proxy('hop', upstream).listen}{PATH}",
            "domino, counting": f"http://{domino.create_proxy('bare', upstream).listen}{PATH}",
        }
        toxic = domino.create_proxy("toxic", upstream)
        domino.add_toxic(
            "toxic", ToxicInfo("s_answers", "domino_http_answers", "downstream", 1.0, {"pair": "s"})
        )
        domino.add_toxic(
            "toxic",
            ToxicInfo(
                "s", "domino_http_status", "upstream", 1.0,
                {"pair": "s", "status": 503, "path": "/never-matches"},
            ),
        )  # fmt: skip
        urls["domino, HTTP toxic not matching"] = f"http://{toxic.listen}{PATH}"
        load = os.getloadavg()[0]
        runs: dict[tuple[str, str], list[tuple[float, float, float | None]]] = {}
        for number in range(args.rounds):
            print(f"round {number + 1} of {args.rounds}", file=sys.stderr)
            for mode, connections, extra in MODES:
                for target in TARGETS:
                    figure = _wrk(urls[target], args.seconds, connections, extra, pids[target])
                    runs.setdefault((mode, target), []).append(figure)
        held = {t.name: t for t in domino.toxics("toxic")}["s"].attributes
        counted = domino.traffic()
    if held.get("matched") != 0 or not held.get("requests"):
        raise SystemExit(f"the toxic was meant to match nothing: {held}")
    if counted["toxic"].requests != held["requests"]:
        raise SystemExit(f"the counter saw {counted['toxic'].requests}, the toxic {held}")
    _report(runs, args, load, int(held["requests"] or 0))


def _report(
    runs: dict[tuple[str, str], list[tuple[float, float, float | None]]],
    args: argparse.Namespace,
    load: float,
    toxic_requests: int,
) -> None:
    def p50_us(mode: str, target: str) -> float:
        return statistics.median(p for p, _, _ in runs[(mode, target)]) * 1000

    def rate(mode: str, target: str) -> float:
        return statistics.median(r for _, r, _ in runs[(mode, target)])

    def cpu_us(mode: str, target: str) -> float | None:
        spent = [c for _, _, c in runs[(mode, target)] if c is not None]
        return statistics.median(spent) if spent else None

    rows = []
    for mode, _, _ in MODES:
        for target in TARGETS:
            p50 = p50_us(mode, target)
            cpu = cpu_us(mode, target)
            stock_cpu = cpu_us(mode, "stock")
            rows.append(
                (
                    mode,
                    target,
                    p50,
                    p50 - p50_us(mode, "direct"),
                    p50 - p50_us(mode, "stock"),
                    rate(mode, target),
                    rate(mode, target) / rate(mode, "stock"),
                    "" if cpu is None else f"{cpu:.1f}",
                    "" if cpu is None or stock_cpu is None else f"{cpu - stock_cpu:+.1f}",
                )
            )
    head = (
        "mode",
        "path",
        "p50 µs",
        "+ over direct",
        "+ over stock",
        "req/s",
        "÷ stock",
        "server CPU µs/req",
        "+ over stock",
    )
    print(
        f"\n{args.rounds} rounds x {args.seconds:g} s per run, medians; load average "
        f"{load:.1f} at the start; the toxic saw {toxic_requests} requests, matched none"
    )
    if args.markdown:
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
    for mode, target, p50, over_direct, over_stock, per_s, ratio, cpu_text, cpu_over in rows:
        cells = (
            mode,
            target,
            f"{p50:.0f}",
            f"{over_direct:+.0f}",
            "" if target == "direct" else f"{over_stock:+.0f}",
            f"{per_s:,.0f}",
            f"{ratio:.2f}",
            cpu_text,
            "" if target == "stock" else cpu_over,
        )
        if args.markdown:
            print("| " + " | ".join(cells) + " |")
        else:
            print("  ".join(f"{c:>32}" if i == 1 else f"{c:>20}" for i, c in enumerate(cells)))
    _per_call(p50_us, cpu_us, markdown=args.markdown)


def _per_call(
    p50_us: Callable[[str, str], float],
    cpu_us: Callable[[str, str], float | None],
    *,
    markdown: bool,
) -> None:
    """Each proxied path's hop, kept-alive (1 connection) beside a new connection per call."""
    kept, fresh = MODES[0][0], MODES[2][0]
    head = (
        "path",
        "p50 µs kept-alive",
        "p50 µs new conn",
        "hop over direct, kept-alive",
        "hop over direct, new conn",
        "server CPU µs/req kept-alive",
        "server CPU µs/req new conn",
    )
    print(f"\nper call: {kept} beside {fresh}")
    if markdown:
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
    for target in TARGETS[1:]:
        cpu = [cpu_us(kept, target), cpu_us(fresh, target)]
        cpu_cells = ["" if c is None else f"{c:.1f}" for c in cpu]
        if cpu[0] and cpu[1]:
            cpu_cells[1] += f" ({cpu[1] / cpu[0]:.1f}x)"
        cells = (
            target,
            f"{p50_us(kept, target):.0f}",
            f"{p50_us(fresh, target):.0f}",
            f"{p50_us(kept, target) - p50_us(kept, 'direct'):+.0f}",
            f"{p50_us(fresh, target) - p50_us(fresh, 'direct'):+.0f}",
            *cpu_cells,
        )
        if markdown:
            print("| " + " | ".join(cells) + " |")
        else:
            print("  ".join(f"{c:>32}" if i == 0 else f"{c:>16}" for i, c in enumerate(cells)))


if __name__ == "__main__":
    main()
