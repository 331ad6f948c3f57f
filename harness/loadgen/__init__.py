"""Domino's open-loop load engine.

Arrivals follow a schedule whatever the server answers (open loop); latency is
measured from each arrival's intended send time (no coordinated omission); a
run in which the engine fell behind its schedule is marked invalid, never
passed. Every run is bounded by a request cap and a time cap, and every target
must pass :func:`harness.network_safety.check_target`.

    from harness.loadgen import Constant, LoadPlan, RequestTemplate, run_load

    plan = LoadPlan(
        url="http://127.0.0.1:8080",
        templates=(RequestTemplate("balance", "/accounts"),),
        shape=Constant(rate_per_s=200, duration_s=10),
        max_requests=5_000,
        max_duration_s=20,
    )
    result = run_load(plan, progress=lambda p: print(p.line()))
    assert result.valid, result.invalid_reason
"""

from __future__ import annotations

from harness.errors import LoadEngineError, LoadPlanError
from harness.loadgen.client import ClientError, HttpClient, Response
from harness.loadgen.engine import ProgressCallback
from harness.loadgen.histogram import LatencyHistogram
from harness.loadgen.plan import Connection, LoadPlan
from harness.loadgen.request import (
    DEFAULT_REJECTION_STATUSES,
    DEFAULT_SUCCESS_STATUSES,
    HeaderFactory,
    RequestContext,
    RequestTemplate,
    Sessions,
    WaitCheck,
)
from harness.loadgen.result import (
    LatencySummary,
    LoadResult,
    Progress,
    SecondStats,
    StopReason,
    TemplateCounts,
)
from harness.loadgen.retry import DEFAULT_RETRY_STATUSES, RetryKind, RetryPolicy
from harness.loadgen.runner import run_load, run_load_async
from harness.loadgen.schedule import (
    Arrivals,
    Constant,
    CryptoCrash,
    Ramp,
    Shape,
    Spike,
    Step,
    arrival_times,
    expected_arrivals,
)

__all__ = [
    "DEFAULT_REJECTION_STATUSES",
    "DEFAULT_RETRY_STATUSES",
    "DEFAULT_SUCCESS_STATUSES",
    "Arrivals",
    "ClientError",
    "Connection",
    "Constant",
    "CryptoCrash",
    "HeaderFactory",
    "HttpClient",
    "LatencyHistogram",
    "LatencySummary",
    "LoadEngineError",
    "LoadPlan",
    "LoadPlanError",
    "LoadResult",
    "Progress",
    "ProgressCallback",
    "Ramp",
    "RequestContext",
    "RequestTemplate",
    "Response",
    "RetryKind",
    "RetryPolicy",
    "SecondStats",
    "Sessions",
    "Shape",
    "Spike",
    "Step",
    "StopReason",
    "TemplateCounts",
    "WaitCheck",
    "arrival_times",
    "expected_arrivals",
    "run_load",
    "run_load_async",
]
