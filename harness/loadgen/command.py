"""``domino load``: drive the engine by hand, with a live line and a summary.

The lead wires this into ``harness.cli`` as a subcommand::

    sub = subparsers.add_parser("load", help="open-loop load against a running stack")
    loadgen.command.add_arguments(sub)
    ... return loadgen.command.run(args)

Until then: ``python -m harness.loadgen --url http://127.0.0.1:8080 --path /x
--shape constant --rate 200 --duration-s 10 --max-requests 5000``.
Exit codes: 0 the run was valid, 2 bad usage or unsafe target (nothing sent),
3 the run was invalid (the engine fell behind; do not judge the system on it),
130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TextIO

from harness.errors import LoadEngineError, UsageError
from harness.loadgen.plan import LoadPlan
from harness.loadgen.request import RequestTemplate
from harness.loadgen.result import LoadResult, Progress
from harness.loadgen.retry import RetryPolicy
from harness.loadgen.runner import run_load
from harness.loadgen.schedule import Constant, CryptoCrash, Ramp, Shape, Spike, Step

__all__ = ["add_arguments", "build_plan", "run"]

_CRASH_PARTS_S = (2.0, 2.0, 2.0, 1.0, 5.0, 5.0, 3.0)  # CryptoCrash defaults; sum 20 s


def add_arguments(parser: argparse.ArgumentParser) -> None:
    target = parser.add_argument_group("target")
    target.add_argument("--url", required=True, help="http://HOST:PORT (loopback or allowed)")
    target.add_argument("--path", default="/", help="request path (default /)")
    target.add_argument("--method", default="GET")
    target.add_argument("--header", action="append", default=[], metavar="NAME:VALUE")
    target.add_argument("--json-body", help="a JSON value sent as the body")
    target.add_argument(
        "--idempotency-key",
        action="store_true",
        help="send a fresh Idempotency-Key per action (kept across its retries)",
    )

    sched = parser.add_argument_group("schedule (open loop)")
    sched.add_argument(
        "--shape", choices=["constant", "step", "ramp", "spike", "crash"], default="constant"
    )
    sched.add_argument(
        "--rate",
        type=float,
        default=10.0,
        help="arrivals/s: constant rate, ramp start, spike/crash baseline",
    )
    sched.add_argument(
        "--peak-rate", type=float, help="ramp end, spike rate, crash peak (default 5 x --rate)"
    )
    sched.add_argument("--plateau-rate", type=float, help="crash plateau (default peak / 2)")
    sched.add_argument("--rates", help="step: comma-separated rates, e.g. 100,200,400")
    sched.add_argument(
        "--duration-s",
        type=float,
        default=10.0,
        help="schedule length (step: each step is duration / number of steps)",
    )
    sched.add_argument("--arrivals", choices=["poisson", "even"], default="poisson")
    sched.add_argument("--seed", type=int, default=0)

    bounds = parser.add_argument_group("bounds")
    bounds.add_argument(
        "--max-requests",
        type=int,
        required=True,
        help="request cap: HTTP attempts in all, retries included (mandatory)",
    )
    bounds.add_argument(
        "--max-duration-s",
        type=float,
        help="time cap from the start (default: duration + timeout + 2 s)",
    )
    bounds.add_argument("--max-in-flight", type=int, default=1000)
    bounds.add_argument(
        "--lag-bound-ms",
        type=float,
        default=50.0,
        help="the run is invalid when engine lag p99 exceeds this",
    )
    bounds.add_argument(
        "--spin-ms",
        type=float,
        default=0.0,
        help="spin this long before each arrival instead of sleeping: sub-millisecond "
        "precision for the cost of a core (default 0: sleep)",
    )

    client = parser.add_argument_group("client")
    client.add_argument("--timeout-s", type=float, default=5.0, help="per attempt")
    client.add_argument("--connection", choices=["keep-alive", "per-request"], default="keep-alive")
    client.add_argument(
        "--retry", choices=["none", "immediate", "backoff", "retry-after"], default="none"
    )
    client.add_argument("--retries", type=int, default=3, help="retries per action (not none)")
    client.add_argument("--retry-after-cap-s", type=float, default=5.0)
    client.add_argument("--workers", type=int, default=1, help="processes (one per core at most)")

    out = parser.add_argument_group("output")
    out.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    out.add_argument("--quiet", action="store_true", help="no live progress line")


def _shape(args: argparse.Namespace) -> Shape:
    rate = float(args.rate)
    duration_s = float(args.duration_s)
    peak = float(args.peak_rate) if args.peak_rate is not None else rate * 5
    if args.shape == "constant":
        return Constant(rate, duration_s)
    if args.shape == "ramp":
        return Ramp(rate, peak, duration_s)
    if args.shape == "step":
        if not args.rates:
            raise UsageError("--shape step needs --rates, e.g. --rates 100,200,400")
        try:
            rates = tuple(float(r) for r in str(args.rates).split(","))
        except ValueError:
            raise UsageError(f"--rates takes comma-separated numbers, got {args.rates!r}") from None
        return Step(rates, duration_s / len(rates))
    if args.shape == "spike":
        return Spike(rate, peak, duration_s, duration_s / 3, duration_s / 3)
    scale = duration_s / sum(_CRASH_PARTS_S)
    parts = [p * scale for p in _CRASH_PARTS_S]
    plateau = float(args.plateau_rate) if args.plateau_rate is not None else peak / 2
    return CryptoCrash(rate, peak, plateau, *parts)


def _retry(args: argparse.Namespace) -> RetryPolicy:
    kind = args.retry
    if kind == "none":
        return RetryPolicy.none()
    if kind == "immediate":
        return RetryPolicy.immediate(args.retries)
    if kind == "backoff":
        return RetryPolicy.backoff(args.retries, retry_after_cap_s=args.retry_after_cap_s)
    return RetryPolicy.retry_after(args.retries, cap_s=args.retry_after_cap_s)


def build_plan(args: argparse.Namespace) -> LoadPlan:
    """The plan the parsed arguments describe (raises ``UsageError`` subclasses)."""
    headers = []
    for item in args.header:
        name, sep, value = str(item).partition(":")
        if not sep:
            raise UsageError(f"--header takes NAME:VALUE, got {item!r}")
        headers.append((name.strip(), value.strip()))
    json_body = None
    if args.json_body is not None:
        try:
            json_body = json.loads(args.json_body)
        except json.JSONDecodeError as exc:
            raise UsageError(f"--json-body is not JSON: {exc}") from None
    factory = None
    if args.idempotency_key:
        seed = args.seed

        def factory(ctx: object) -> dict[str, str]:
            index = getattr(ctx, "action_index", 0)
            return {"Idempotency-Key": f"domino-load-{seed}-{index}"}

    template = RequestTemplate(
        name=f"{args.method} {args.path}",
        path=args.path,
        method=args.method,
        headers=tuple(headers),
        json_body=json_body,
        header_factory=factory,
    )
    shape = _shape(args)
    max_duration_s = (
        args.max_duration_s
        if args.max_duration_s is not None
        else shape.duration_s + args.timeout_s + 2.0
    )
    return LoadPlan(
        url=args.url,
        templates=(template,),
        shape=shape,
        max_requests=args.max_requests,
        max_duration_s=max_duration_s,
        arrivals=args.arrivals,
        seed=args.seed,
        max_in_flight=args.max_in_flight,
        timeout_s=args.timeout_s,
        retry=_retry(args),
        connection=args.connection,
        workers=args.workers,
        lag_bound_p99_ms=args.lag_bound_ms,
        spin_ms=args.spin_ms,
    )


class _LiveLine:
    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = bool(getattr(stream, "isatty", lambda: False)())

    def __call__(self, progress: Progress) -> None:
        if self.tty:
            self.stream.write("\r\x1b[2K" + progress.line())
        else:
            self.stream.write(progress.line() + "\n")
        self.stream.flush()

    def end(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def run(
    args: argparse.Namespace, *, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    try:
        plan = build_plan(args)
    except UsageError as exc:
        err.write(f"domino load: {exc}\n")
        return 2
    live = _LiveLine(err)
    try:
        result: LoadResult = run_load(plan, progress=None if args.quiet else live)
    except UsageError as exc:
        err.write(f"domino load: {exc}\n")
        return 2
    except LoadEngineError as exc:
        live.end()
        err.write(f"domino load: {exc}\n")
        return 3
    except KeyboardInterrupt:
        live.end()
        err.write("domino load: interrupted\n")
        return 130
    if not args.quiet:
        live.end()
    if args.json:
        out.write(json.dumps(result.to_json()) + "\n")
        err.write(result.summary() + "\n")
    else:
        out.write(result.summary() + "\n")
    return 0 if result.valid else 3
