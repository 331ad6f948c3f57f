"""Fault values reject bad input with one-line, specific errors before anything runs."""

from __future__ import annotations

import pytest

from harness import Bandwidth, FaultSpecError, Latency, Slicer, Timeout, build_fault
from harness.model.faults import FAULT_KINDS, HttpError


def test_negative_latency_is_refused_with_a_one_line_message() -> None:
    with pytest.raises(FaultSpecError) as info:
        Latency(edge="card->pay", latency_ms=-5)
    message = str(info.value)
    assert "latency_ms must be >= 0" in message
    assert "\n" not in message


def test_unknown_toxic_attribute_names_the_attribute_and_the_allowed_ones() -> None:
    with pytest.raises(
        FaultSpecError, match=r"unknown attribute 'latncy_ms'.*allowed: .*latency_ms"
    ):
        build_fault("latency", {"edge": "card->pay", "latncy_ms": 100})


def test_unknown_fault_kind_lists_the_known_kinds() -> None:
    with pytest.raises(FaultSpecError, match=r"unknown fault kind 'lag'.*latency"):
        build_fault("lag", {"edge": "card->pay"})


def test_missing_required_attribute_is_named() -> None:
    with pytest.raises(FaultSpecError, match="latency needs latency_ms"):
        build_fault("latency", {"edge": "card->pay"})


@pytest.mark.parametrize("toxicity", [0, 0.0, -0.1, 1.5])
def test_toxicity_outside_zero_one_is_refused(toxicity: float) -> None:
    # Toxicity 0 is refused rather than sent: Toxiproxy has applied such toxics anyway.
    with pytest.raises(FaultSpecError, match=r"toxicity must be in \(0, 1\]"):
        Timeout(edge="card->pay", timeout_ms=0, toxicity=toxicity)


def test_bad_stream_and_bad_edge_shape_are_refused() -> None:
    with pytest.raises(FaultSpecError, match="stream must be 'upstream' or 'downstream'"):
        Latency(edge="card->pay", latency_ms=1, stream="sideways")  # type: ignore[arg-type]
    with pytest.raises(FaultSpecError, match="must name an edge like"):
        Latency(edge="card", latency_ms=1)


def test_slicer_variation_cannot_exceed_average() -> None:
    with pytest.raises(FaultSpecError, match="size_variation_bytes"):
        Slicer(edge="card->pay", average_size_bytes=10, size_variation_bytes=11)


def test_http_error_takes_only_5xx() -> None:
    with pytest.raises(FaultSpecError, match="5xx"):
        HttpError(service="pay", status=404)


def test_every_kind_maps_attributes_to_toxiproxy_names() -> None:
    latency = Latency(edge="card->pay", latency_ms=250, jitter_ms=10)
    assert latency.toxiproxy_attributes() == {"latency": 250, "jitter": 10}
    assert set(FAULT_KINDS) >= {
        "latency",
        "timeout",
        "reset_peer",
        "bandwidth",
        "slow_close",
        "slicer",
        "limit_data",
        "down",
        "http_error",
        "slow_handler",
        "crash",
        "pause",
        "stop",
        "restart",
    }


def test_a_bandwidth_of_zero_is_refused_naming_what_holds_traffic_instead() -> None:
    # Toxiproxy 2.12.0's bandwidth toxic at rate 0 sends empty chunks every 100 ms and
    # never the data (toxics/bandwidth.go): an accidental hang, not a limit.
    with pytest.raises(FaultSpecError) as info:
        Bandwidth(edge="card->pay", rate_kb_per_s=0)
    message = str(info.value)
    assert "Bandwidth.rate_kb_per_s must be at least 1" in message
    assert "fault: timeout with timeout_ms: 0" in message
    assert "\n" not in message
    assert Bandwidth(edge="card->pay", rate_kb_per_s=1).toxiproxy_attributes() == {"rate": 1}
