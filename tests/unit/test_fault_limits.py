"""Fault values are checked against what Toxiproxy and the services accept, when a spec is read.

A ``slow_handler`` of more than the services' 600,000 ms validated and failed
only once the stack was up (the admin API answered 422); a ``latency_ms``
past Toxiproxy's range validated and applied no delay (its boundary is
proved on a real server in tests/toxiproxy/test_duration_limits.py). The
limits are the services' own: read here from their request models, so the
two cannot drift apart.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from annotated_types import Le, MaxLen

from harness.errors import FaultSpecError, SpecError
from harness.files.incident_file import parse_spec
from harness.library import find_topology
from harness.model.faults import (
    SERVICE_MAX_DELAY_MS,
    TOXIPROXY_MAX_MS,
    HttpDelay,
    Maintenance,
    ResetPeer,
    SlowClose,
    SlowHandler,
    Suspend,
    Timeout,
    build_fault,
)


def _limit(model: Any, field: str, kind: type) -> Any:
    found = [m for m in model.model_fields[field].metadata if isinstance(m, kind)]
    assert found, f"{model.__name__}.{field} has no {kind.__name__}"
    return found[0].le if kind is Le else found[0].max_length


def test_the_limits_are_the_services_own() -> None:
    from services.bank.models import SwitchIn
    from services.kit.admin import FaultRuleIn
    from services.remit.app import WindowIn

    assert _limit(FaultRuleIn, "delay_ms", Le) == SERVICE_MAX_DELAY_MS
    route = _limit(FaultRuleIn, "route", MaxLen)
    window = _limit(WindowIn, "duration_s", Le)
    reason = _limit(WindowIn, "reason", MaxLen)
    assert _limit(SwitchIn, "reason", MaxLen) == reason
    with pytest.raises(FaultSpecError) as info:
        SlowHandler(service="pay", route="/" + "x" * route, delay_ms=1)
    assert info.value.field == "route"
    SlowHandler(service="pay", route="/" + "x" * (route - 1), delay_ms=1)
    with pytest.raises(FaultSpecError) as info:
        Maintenance(service="remit", window_s=window + 1)
    assert info.value.field == "window_s"
    Maintenance(service="remit", window_s=window)
    for fault in (Maintenance, Suspend):
        extra = {"window_s": 5} if fault is Maintenance else {"feature": "fx"}
        with pytest.raises(FaultSpecError) as info:
            fault(service="bank", reason="r" * (reason + 1), **extra)  # type: ignore[arg-type]
        assert info.value.field == "reason"


def test_a_slow_handler_over_the_services_limit_is_refused_naming_its_field() -> None:
    assert SlowHandler(service="pay", delay_ms=600_000).delay_ms == 600_000
    with pytest.raises(FaultSpecError, match=r"at most 600,000 .*got 600001") as info:
        SlowHandler(service="pay", delay_ms=600_001)
    assert info.value.field == "delay_ms"
    with pytest.raises(FaultSpecError) as info:
        SlowHandler(service="pay", delay_ms=0)  # the services refuse a rule that does nothing
    assert info.value.field == "delay_ms"


@pytest.mark.parametrize(
    ("kind", "fields", "field"),
    [
        (Timeout, {"timeout_ms": TOXIPROXY_MAX_MS + 1}, "timeout_ms"),
        (ResetPeer, {"timeout_ms": TOXIPROXY_MAX_MS + 1}, "timeout_ms"),
        (SlowClose, {"delay_ms": TOXIPROXY_MAX_MS + 1}, "delay_ms"),
        (HttpDelay, {"delay_ms": TOXIPROXY_MAX_MS + 1}, "delay_ms"),
    ],
)
def test_every_toxic_duration_is_held_to_toxiproxys_range(
    kind: type, fields: dict[str, int], field: str
) -> None:
    with pytest.raises(FaultSpecError) as info:
        kind(edge="card->pay", **fields)
    assert info.value.field == field
    kind(edge="card->pay", **{k: (v - 1 if k == field else v) for k, v in fields.items()})


def test_build_fault_names_the_field_of_every_error() -> None:
    with pytest.raises(FaultSpecError) as info:
        build_fault("no_such_kind", {})
    assert info.value.field == "kind"
    with pytest.raises(FaultSpecError) as info:
        build_fault("slow_handler", {"service": "pay"})
    assert info.value.field == "delay_ms"


_SPEC = """\
id: too-slow
title: a handler slower than the services take
date: "2024-01-01"
sources: [tests]
profiles: [hardened]
journeys:
  - {{journey: balance, users: 1}}
timeline:
  - {{fault: {fault}, onset_s: 0, hold_s: 1}}
expect:
  hardened:
    journeys:
      balance: [healthy, degraded, failed]
"""


@pytest.mark.parametrize(
    ("fault", "field"),
    [
        ("slow_handler, service: pay, delay_ms: 600001", "delay_ms"),
        ('latency, edge: "card->pay", latency_ms: 9223372036855', "latency_ms"),
        ('latency, edge: "card->pay", latency_ms: 9223372036854, jitter_ms: 1', "jitter_ms"),
    ],
)
def test_a_spec_past_a_limit_is_one_line_at_its_field(fault: str, field: str) -> None:
    with pytest.raises(SpecError) as info:
        parse_spec(
            _SPEC.format(fault=fault),
            source="too-slow.yaml",
            topology=find_topology("bank"),
            base=Path("."),
        )
    message = str(info.value)
    assert message.startswith(f"too-slow.yaml:9: timeline[0].{field}: "), message
    assert "\n" not in message
