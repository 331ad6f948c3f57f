"""The committed Compose files are what the topology generates; they cannot drift."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from harness import find_topology
from harness.backends.docker.compose import (
    SERVICES_IMAGE,
    TOXIPROXY_API_PORT,
    TOXIPROXY_IMAGE,
    compose_yaml,
    edge_listeners,
    toxiproxy_config_json,
)
from harness.toxiproxy.binary import TOXIPROXY_VERSION

COMPOSE = Path(__file__).resolve().parents[2] / "compose"
REGENERATE = "regenerate with `python -m harness.backends.docker.compose compose/` and commit"
BANK_TOPOLOGY = find_topology("bank")
SERVICE_PORT = 8000


def test_committed_compose_file_is_the_generated_one() -> None:
    committed = (COMPOSE / "docker-compose.yml").read_text()
    assert committed == compose_yaml(BANK_TOPOLOGY), REGENERATE


def test_committed_toxiproxy_config_is_the_generated_one() -> None:
    committed = (COMPOSE / "toxiproxy.json").read_text()
    assert committed == toxiproxy_config_json(BANK_TOPOLOGY), REGENERATE


def test_every_edge_is_a_proxy_and_every_call_crosses_one() -> None:
    """Read the files as Compose and Toxiproxy would, and check them against the topology."""
    document = yaml.safe_load((COMPOSE / "docker-compose.yml").read_text())
    proxies = {p["name"]: p for p in json.loads((COMPOSE / "toxiproxy.json").read_text())}
    services = document["services"]
    assert set(services) == {"toxiproxy", *BANK_TOPOLOGY.service_names}

    for edge in BANK_TOPOLOGY.edges:
        proxy = proxies.pop(edge.proxy_name)
        assert proxy["upstream"] == f"{edge.target}:{SERVICE_PORT}"
        port = int(proxy["listen"].rsplit(":", 1)[1])
        if edge.source != "client":
            env = services[edge.source]["environment"]
            assert env[f"DOMINO_DEP_{edge.target.upper()}"] == f"http://toxiproxy:{port}"
            assert env[f"DOMINO_EDGE_{edge.target.upper()}"] == edge.name
    assert not proxies, f"proxies without an edge: {sorted(proxies)}"

    for service in BANK_TOPOLOGY.services:
        env = services[service.name]["environment"]
        deps = {k for k in env if k.startswith("DOMINO_DEP_")}
        edges = BANK_TOPOLOGY.dependencies_of(service.name)
        wanted = {f"DOMINO_DEP_{e.target.upper()}" for e in edges}
        assert deps == wanted, f"{service.name} calls something that is not an edge"
        assert services[service.name]["image"] == SERVICES_IMAGE
        assert services[service.name]["command"] == ["python3", "-m", f"services.{service.name}"]


def test_only_the_toxiproxy_api_and_the_client_edge_are_published_on_loopback() -> None:
    document = yaml.safe_load((COMPOSE / "docker-compose.yml").read_text())
    toxiproxy = document["services"]["toxiproxy"]
    assert toxiproxy["image"] == TOXIPROXY_IMAGE
    assert TOXIPROXY_IMAGE.endswith(f":{TOXIPROXY_VERSION}")
    entry_port = edge_listeners(BANK_TOPOLOGY)["client->bank"].port
    published = [p.rsplit(":", 1)[1] for p in toxiproxy["ports"]]
    assert published == [str(TOXIPROXY_API_PORT), str(entry_port)]
    assert all(p.startswith("127.0.0.1:") for p in toxiproxy["ports"])
    for name in BANK_TOPOLOGY.service_names:
        assert "ports" not in document["services"][name]
