"""The shop, a Go system that knows nothing about Domino, run from its domino.yaml alone."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from harness import Latency, Stack, find_incident, find_topology, load_topology, start_stack
from harness.experiment.campaign import run_campaign
from harness.infra.readiness import http_ok, wait_until
from tests.examples.conftest import SHOP_DIR

SHOP = SHOP_DIR / "domino.yaml"


@pytest.fixture(scope="module")
def shop(shop_binaries: Path) -> Iterator[Stack]:
    with start_stack("local", topology=find_topology(SHOP), profile="naive") as stack:
        yield stack


def _median_ms(stack: Stack, journey: str, calls: int = 5) -> float:
    with stack.client(timeout_s=10) as client:
        seen = [client.run(stack.topology.journey(journey)) for _ in range(calls)]
    assert all(o.ok for o in seen), seen
    return sorted(o.latency_ms for o in seen)[calls // 2]


@pytest.mark.parametrize(
    ("edge", "slowed", "spared"),
    [("storefront->catalog", "browse", "checkout"), ("checkout->payments", "checkout", "browse")],
)
def test_a_latency_toxic_slows_exactly_the_journeys_that_cross_its_edge(
    shop: Stack, edge: str, slowed: str, spared: str
) -> None:
    added_ms = 400
    before = {j: _median_ms(shop, j) for j in (slowed, spared)}
    with shop.inject(Latency(edge=edge, latency_ms=added_ms)):
        during = {j: _median_ms(shop, j) for j in (slowed, spared)}
    assert during[slowed] >= before[slowed] + added_ms * 0.9
    assert during[spared] < before[spared] + added_ms / 4
    assert shop.injector.leftovers() == []


def test_the_shop_has_no_admin_api_so_application_faults_are_refused_clearly(shop: Stack) -> None:
    from harness import HttpError, UnsupportedFaultError

    with (
        pytest.raises(UnsupportedFaultError, match=r"shop system \(adapter http\).*latency"),
        shop.inject(HttpError(service="payments", status=503)),
    ):
        pytest.fail("an http_error fault was applied to a system without an admin API")


def test_the_shops_incident_reproduces_its_cascade_with_per_journey_verdicts(
    shop_binaries: Path,
) -> None:
    spec = find_incident(str(SHOP_DIR / "incidents" / "catalog-slow.yaml"))
    # One campaign per profile, side by side: each starts a stack of its own.
    with ThreadPoolExecutor(max_workers=len(spec.profiles)) as pool:
        campaigns = pool.map(
            lambda profile: run_campaign([spec], profiles=[profile]), spec.profiles
        )
        results = {r.profile: r for campaign in campaigns for r in campaign}
    assert set(results) == {"naive", "guarded"}
    for profile, result in results.items():
        assert result.verdict.outcome == "pass", (profile, result.verdict.reasons)
        assert all(w.touched for w in result.faults)
    during = {p: {v.journey: v for v in r.verdict.during} for p, r in results.items()}
    assert during["naive"]["checkout"].verdict == "failed"
    assert during["naive"]["checkout"].stats.p95_ms >= 3000  # waited the slow catalog out
    assert during["naive"]["browse"].verdict == "healthy"
    assert during["guarded"]["checkout"].verdict in ("healthy", "degraded")
    assert during["guarded"]["checkout"].stats.p95_ms < 800
    assert during["guarded"]["browse"].verdict == "healthy"


def _free_ports(count: int) -> list[int]:
    socks = [socket.socket() for _ in range(count)]
    try:
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for sock in socks:
            sock.close()


def test_external_mode_faults_services_it_did_not_start_and_leaves_them_running(
    shop_binaries: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The test starts the shop itself; Domino only puts Toxiproxy between its services."""
    from harness.toxiproxy.binary import find_toxiproxy

    monkeypatch.setenv("DOMINO_TOXIPROXY_BIN", str(find_toxiproxy()))
    monkeypatch.setenv("DOMINO_HOME", str(tmp_path / "home"))
    names = ("storefront", "catalog", "checkout", "payments")
    ports = dict(zip(names, _free_ports(4), strict=True))
    edges = (
        "client->storefront",
        "storefront->catalog",
        "storefront->checkout",
        "checkout->catalog",
        "checkout->payments",
    )
    listen = dict(zip(edges, _free_ports(len(edges)), strict=True))
    deps = {
        "storefront": {
            "CATALOG_URL": "storefront->catalog",
            "CHECKOUT_URL": "storefront->checkout",
        },
        "checkout": {"CATALOG_URL": "checkout->catalog", "PAYMENTS_URL": "checkout->payments"},
    }
    running: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name in names:
            env = dict(os.environ, PORT=str(ports[name]), BIND="127.0.0.1", LOG_REQUESTS="0")
            env.update(
                {var: f"http://127.0.0.1:{listen[e]}" for var, e in deps.get(name, {}).items()}
            )
            running[name] = subprocess.Popen(
                [str(shop_binaries / name)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        for name in names:
            wait_until(
                lambda n=name: http_ok(f"http://127.0.0.1:{ports[n]}/healthz"),  # type: ignore[misc]
                timeout_s=10,
                what=f"{name} started by the test",
            )
        services = "\n".join(
            f"  {n}: {{url: 'http://127.0.0.1:{ports[n]}', ready: {{http: /healthz}}}}"
            for n in names
        )
        edge_lines = "\n".join(
            f"  {e}: {{listen: '127.0.0.1:{listen[e]}'"
            + (
                f", env: {{{var}: 'http://{{host}}:{{port}}'}}"
                if (var := next((v for s in deps.values() for v, ee in s.items() if ee == e), None))
                else ""
            )
            + "}"
            for e in edges
        )
        text = f"""name: shop-staging
services:
{services}
edges:
{edge_lines}
journeys:
  checkout:
    method: POST
    path: /checkout
    headers: {{Idempotency-Key: "{{uuid}}"}}
    json: {{sku: sku-1, qty: 1}}
    slo: {{p95_ms: 800}}
    hard: [client->storefront, storefront->checkout, checkout->payments]
"""
        staging = tmp_path / "staging.yaml"
        staging.write_text(text, encoding="utf-8")
        topology = load_topology(staging)
        with start_stack("external", topology=topology) as stack:
            settings = stack.dependency_settings
            assert settings["checkout"]["PAYMENTS_URL"] == (
                f"http://127.0.0.1:{listen['checkout->payments']}"
            )
            base = _median_ms(stack, "checkout")
            with stack.inject(Latency(edge="checkout->payments", latency_ms=500)):
                slowed = _median_ms(stack, "checkout")
            assert slowed >= base + 450
            assert stack.injector.supports(Latency)
            from harness import Crash

            assert not stack.injector.supports(Crash)  # never touches what it did not start
            _domino_fault_attaches(stack, "checkout->payments")
        for name, process in running.items():
            assert process.poll() is None, f"{name} was stopped by Domino"
            assert http_ok(f"http://127.0.0.1:{ports[name]}/healthz")
    finally:
        for process in running.values():
            process.terminate()
            process.wait(timeout=10)


def _domino_fault_attaches(stack: Stack, edge: str) -> None:
    """``domino fault`` in another process finds the stack from its run record and holds a
    toxic on ``edge`` until its hold ends."""
    proxy = stack.edges[edge].proxy
    command = [
        sys.executable,
        "-m",
        "harness.cli",
        "fault",
        "latency",
        "--edge",
        edge,
        "--set",
        "latency_ms=300",
        "--hold-s",
        "5",
    ]
    fault = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ)
    )
    try:
        wait_until(
            lambda: bool(stack.toxiproxy.toxics(proxy)) or fault.poll() is not None,
            timeout_s=30,
            what=f"domino fault to hold a toxic on {edge}",
        )
        assert fault.poll() is None, fault.communicate()
        assert [t.type for t in stack.toxiproxy.toxics(proxy)] == ["latency"]
    finally:
        _out, err = fault.communicate(timeout=60)
    assert fault.returncode == 0, err
    assert "fault removed" in err, err
    assert stack.toxiproxy.toxics(proxy) == []


def test_a_flood_drives_the_shops_own_journeys_open_loop(shop: Stack) -> None:
    # Floods are not bank-only: the shop's journeys, with no session and no keys.
    from harness.experiment.flooding import FloodApplier
    from harness.model.faults import Flood

    flood = Flood(journeys=("browse", "checkout"), peak_per_s=60, base_per_s=30, users=1)
    applier = FloodApplier(shop, lambda: 0.0, [(flood, 2.0)])
    target, _ = applier.apply(flood)
    (run,) = applier.finish()
    assert target == "client->storefront"
    assert run.result is not None, run.error
    assert run.result.valid, run.result.invalid_reason
    names = {t.name: t for t in run.result.templates}
    assert set(names) == {"browse", "checkout"}
    assert all(t.ok > 0 for t in names.values()), names
    assert run.result.ok == run.result.actions  # the shop takes 60/s with room to spare
