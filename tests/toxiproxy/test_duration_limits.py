"""Toxiproxy's real limit on a toxic's milliseconds, and Domino refusing what is past it.

Toxiproxy v2.12.0 turns a latency's milliseconds into a Go ``time.Duration``
(int64 nanoseconds) by multiplying: past ``(2**63 - 1) // 1e6`` ms the product
overflows, the delay is negative, and the toxic adds no delay at all. The red
team's ``latency_ms`` of that size validated and "held" a fault that did
nothing. Here, on a real server: at the limit the toxic holds the answer; one
millisecond past it the answer comes at once. Domino accepts the first and
refuses the second when the spec is read.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from harness.errors import FaultSpecError
from harness.model.faults import TOXIPROXY_MAX_MS, Latency
from harness.toxiproxy.client import ToxicInfo, ToxiproxyClient
from tests.toxiproxy.conftest import Upstream, http_server, running_toxiproxy


@pytest.fixture
def proxied(domino_toxiproxy_bin: Path, tmp_path: Path) -> Iterator[tuple[ToxiproxyClient, str]]:
    """A Toxiproxy with one proxy in front of an HTTP server; yields the client and its URL."""
    upstream: Upstream
    with (
        running_toxiproxy(domino_toxiproxy_bin, tmp_path) as client,
        http_server(keep_alive=False) as upstream,
    ):
        proxy = client.create_proxy("edge", upstream.address)
        yield client, f"http://{proxy.listen}/"


def _answered_within(url: str, timeout_s: float) -> float | None:
    """Seconds until ``url`` answered, or None if it did not within ``timeout_s``."""
    began = time.monotonic()
    try:
        httpx.get(url, timeout=timeout_s)
    except httpx.TimeoutException:
        return None
    return time.monotonic() - began


def _latency(client: ToxiproxyClient, latency_ms: int) -> None:
    client.add_toxic(
        "edge",
        ToxicInfo("lat", "latency", "downstream", 1.0, {"latency": latency_ms, "jitter": 0}),
    )


def test_at_toxiproxys_limit_latency_holds_and_one_ms_past_it_adds_none(
    proxied: tuple[ToxiproxyClient, str],
) -> None:
    client, url = proxied
    assert _answered_within(url, 5) is not None  # the path works

    _latency(client, TOXIPROXY_MAX_MS + 1)
    took = _answered_within(url, 5)
    assert took is not None, "past the limit Toxiproxy overflowed: no delay"
    assert took < 2

    client.remove_toxic("edge", "lat")
    _latency(client, TOXIPROXY_MAX_MS)
    assert _answered_within(url, 1.5) is None, "at the limit the answer is held"


def test_domino_takes_a_latency_up_to_the_limit_and_refuses_one_past_it() -> None:
    held = Latency(edge="card->pay", latency_ms=TOXIPROXY_MAX_MS)
    assert held.toxiproxy_attributes()["latency"] == 9_223_372_036_854
    with pytest.raises(FaultSpecError, match="at most 9,223,372,036,854") as info:
        Latency(edge="card->pay", latency_ms=TOXIPROXY_MAX_MS + 1)
    assert info.value.field == "latency_ms"
    with pytest.raises(FaultSpecError) as info:
        Latency(edge="card->pay", latency_ms=TOXIPROXY_MAX_MS, jitter_ms=1)
    assert info.value.field == "jitter_ms"
