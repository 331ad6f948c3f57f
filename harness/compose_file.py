"""The Docker deployment of a topology, and the Compose file generated from it.

One source of truth: a :class:`~harness.topology.Topology` decides which
containers exist, which Toxiproxy listener carries each edge, and what each
service's ``DOMINO_DEP_<NAME>`` points at. The docker backend
(:mod:`harness.backends.docker`) starts containers from these values through
the Docker SDK; :func:`compose_yaml` and :func:`toxiproxy_config_json` write
the same values as ``compose/docker-compose.yml`` and ``compose/toxiproxy.json``
for users who run ``docker compose up`` themselves. A test checks that the
committed files equal what this module generates, so the two cannot drift.

Regenerate the committed files with ``python -m harness.compose_file compose/``.

Inside the project's network every service listens on :data:`SERVICE_PORT`
(``DOMINO_HOST=0.0.0.0``, ``DOMINO_PORT``) under its own name, and every
call between services goes to ``toxiproxy:<listener port>``. Only
Toxiproxy's API and the client edge's listener are published, on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from harness.topology import BANK_TOPOLOGY, Edge, Service, Topology
from harness.toxiproxy.binary import TOXIPROXY_VERSION

__all__ = [
    "COMPOSE_FILE_NAME",
    "LABEL_MANAGED",
    "LABEL_OWNER",
    "LABEL_RUN",
    "SERVICES_IMAGE",
    "SERVICE_PORT",
    "TOXIPROXY_API_PORT",
    "TOXIPROXY_CONFIG_NAME",
    "TOXIPROXY_HOST",
    "TOXIPROXY_IMAGE",
    "EdgeListener",
    "compose_yaml",
    "edge_listeners",
    "service_command",
    "service_environment",
    "service_healthcheck",
    "toxiproxy_command",
    "toxiproxy_config",
    "toxiproxy_config_json",
    "toxiproxy_healthcheck",
    "write_compose_files",
]

#: The services' image, built by ``docker/build-images.sh`` (one image, four services).
SERVICES_IMAGE = "domino/services:0.1.0"
#: Upstream Toxiproxy's image; the air-gapped build produces the same tag locally.
TOXIPROXY_IMAGE = f"ghcr.io/shopify/toxiproxy:{TOXIPROXY_VERSION}"
#: The port every service listens on inside its container.
SERVICE_PORT = 8000
#: Toxiproxy's API port inside its container.
TOXIPROXY_API_PORT = 8474
#: The host name Toxiproxy has on the project's network.
TOXIPROXY_HOST = "toxiproxy"
#: Edge listeners take consecutive ports from here, in topology order.
_FIRST_EDGE_PORT = 9001
#: Where the services keep their data inside a container.
_DATA_DIR = "/data"

#: Every container and network Domino creates carries this label ("true").
LABEL_MANAGED = "domino.managed"
#: ``<host>:<pid>:<process start>`` of the process that owns the container; a
#: later run removes what an owner that is gone left behind.
LABEL_OWNER = "domino.owner"
#: The run's id; all containers and the network of one run share it.
LABEL_RUN = "domino.run"

COMPOSE_FILE_NAME = "docker-compose.yml"
TOXIPROXY_CONFIG_NAME = "toxiproxy.json"
_CONFIG_IN_CONTAINER = "/config/" + TOXIPROXY_CONFIG_NAME


@dataclass(frozen=True, slots=True)
class EdgeListener:
    """Where one edge's proxy listens inside the network, and what it forwards to.

    ``port`` is the listener's port on the Toxiproxy container; ``upstream``
    is ``<service>:<port>`` as Toxiproxy resolves it on the project's network.
    """

    edge: Edge
    port: int

    @property
    def listen(self) -> str:
        """The proxy's ``listen`` address as Toxiproxy takes it."""
        return f"0.0.0.0:{self.port}"

    @property
    def upstream(self) -> str:
        return f"{self.edge.target}:{SERVICE_PORT}"

    @property
    def url(self) -> str:
        """The base URL a service calls to cross this edge."""
        return f"http://{TOXIPROXY_HOST}:{self.port}"


def edge_listeners(topology: Topology) -> dict[str, EdgeListener]:
    """Each edge's listener, by edge name, with ports in topology order."""
    return {
        edge.name: EdgeListener(edge, _FIRST_EDGE_PORT + index)
        for index, edge in enumerate(topology.edges)
    }


def service_command(service: Service) -> list[str]:
    """The command a service's container runs."""
    return ["python3", "-m", service.module]


def service_environment(topology: Topology, service: str) -> dict[str, str]:
    """The environment that configures ``service`` in a container (see services/kit/config).

    Profile, knobs and secrets are not included: they belong to each run.
    """
    listeners = edge_listeners(topology)
    env = {
        "DOMINO_SERVICE": service,
        "DOMINO_HOST": "0.0.0.0",  # noqa: S104 - inside the container, on the project's network
        "DOMINO_PORT": str(SERVICE_PORT),
        "DOMINO_DATA_DIR": f"{_DATA_DIR}/{service}",
    }
    for dep in topology.dependencies_of(service):
        env[f"DOMINO_DEP_{dep.target.upper()}"] = listeners[dep.name].url
        env[f"DOMINO_EDGE_{dep.target.upper()}"] = dep.name
    return env


def _probe(url: str) -> str:
    # The services image has Python but no curl; a failed urlopen raises, exit 1.
    return f"import urllib.request; urllib.request.urlopen({url!r}, timeout=2)"


def service_healthcheck(service: Service) -> list[str]:
    """A container health check command for ``service`` (exec form)."""
    return ["CMD", "python3", "-c", _probe(f"http://127.0.0.1:{SERVICE_PORT}{service.health_path}")]


def toxiproxy_healthcheck() -> list[str]:
    """Toxiproxy's image is FROM scratch: its own CLI is the only client inside."""
    return ["CMD", "/toxiproxy-cli", "list"]


def toxiproxy_command(*, config: bool) -> list[str]:
    """Arguments for the Toxiproxy image's entrypoint; ``config`` loads the mounted proxies."""
    command = ["-host=0.0.0.0", f"-port={TOXIPROXY_API_PORT}", "-proxy-metrics"]
    if config:
        command.append(f"-config={_CONFIG_IN_CONTAINER}")
    return command


def toxiproxy_config(topology: Topology) -> list[dict[str, Any]]:
    """The proxies, in Toxiproxy's ``-config`` / ``/populate`` format."""
    return [
        {
            "name": listener.edge.proxy_name,
            "listen": listener.listen,
            "upstream": listener.upstream,
            "enabled": True,
        }
        for listener in edge_listeners(topology).values()
    ]


def toxiproxy_config_json(topology: Topology) -> str:
    """:func:`toxiproxy_config` as the text of ``compose/toxiproxy.json``."""
    return json.dumps(toxiproxy_config(topology), indent=2) + "\n"


def _compose_healthcheck(test: list[str]) -> dict[str, Any]:
    return {"test": test, "interval": "2s", "timeout": "3s", "retries": 30, "start_period": "2s"}


def _labels() -> dict[str, str]:
    # DOMINO_OWNER is set by Domino's own tests so that a killed test run is
    # reconciled; plain `docker compose up` leaves it empty and nothing is touched.
    return {LABEL_MANAGED: "true", LABEL_OWNER: "${DOMINO_OWNER:-}"}


def compose_document(topology: Topology) -> dict[str, Any]:
    """The Compose file as data (see :func:`compose_yaml`)."""
    entry = edge_listeners(topology)[topology.entry_edge.name]
    services: dict[str, Any] = {
        TOXIPROXY_HOST: {
            "image": TOXIPROXY_IMAGE,
            "command": toxiproxy_command(config=True),
            "volumes": [f"./{TOXIPROXY_CONFIG_NAME}:{_CONFIG_IN_CONTAINER}:ro"],
            "ports": [
                f"127.0.0.1:${{DOMINO_TOXIPROXY_PORT:-{TOXIPROXY_API_PORT}}}:{TOXIPROXY_API_PORT}",
                f"127.0.0.1:${{DOMINO_ENTRY_PORT:-8080}}:{entry.port}",
            ],
            "healthcheck": _compose_healthcheck(toxiproxy_healthcheck()),
            "labels": _labels(),
        }
    }
    for service in topology.services:
        env = service_environment(topology, service.name)
        env.update(
            {
                "DOMINO_PROFILE": "${DOMINO_PROFILE:-fragile}",
                "DOMINO_KNOBS": "${DOMINO_KNOBS:-}",
                "DOMINO_ADMIN_TOKEN": "${DOMINO_ADMIN_TOKEN:-}",
                "DOMINO_TOKEN_SECRET": "${DOMINO_TOKEN_SECRET:-domino-dev-secret}",
            }
        )
        # Start a service once Toxiproxy and everything it calls are healthy, so
        # `up` returns a stack whose entry service can already answer.
        needs = [TOXIPROXY_HOST] + [e.target for e in topology.dependencies_of(service.name)]
        services[service.name] = {
            "image": SERVICES_IMAGE,
            "command": service_command(service),
            "environment": env,
            "depends_on": {name: {"condition": "service_healthy"} for name in needs},
            "healthcheck": _compose_healthcheck(service_healthcheck(service)),
            "labels": _labels(),
        }
    return {
        "services": services,
        "networks": {"default": {"labels": _labels()}},
    }


_HEADER = """\
# Generated from the {name!r} topology by harness/compose_file.py; do not edit.
# Regenerate: python -m harness.compose_file compose/
# (tests/docker/test_compose_file.py fails when this file and the topology differ.)
#
# Images: {toxiproxy} and {services}; on machines without a
# container registry, build both with docker/build-images.sh (docs/docker.md).
# Only Toxiproxy's API and the client->{entry} edge are published, on 127.0.0.1:
#   DOMINO_TOXIPROXY_PORT (default {api_port}) and DOMINO_ENTRY_PORT (default 8080).
"""


class _Dumper(yaml.SafeDumper):
    """Block style, and lists indented under their key as people write them."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def compose_yaml(topology: Topology = BANK_TOPOLOGY) -> str:
    """The text of ``compose/docker-compose.yml`` for ``topology``."""
    header = _HEADER.format(
        name=topology.name,
        toxiproxy=TOXIPROXY_IMAGE,
        services=SERVICES_IMAGE,
        entry=topology.entry_service,
        api_port=TOXIPROXY_API_PORT,
    )
    body = yaml.dump(
        compose_document(topology),
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        width=200,
    )
    return header + body


def write_compose_files(folder: Path, topology: Topology = BANK_TOPOLOGY) -> list[Path]:
    """Write ``docker-compose.yml`` and ``toxiproxy.json`` into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in (
        (COMPOSE_FILE_NAME, compose_yaml(topology)),
        (TOXIPROXY_CONFIG_NAME, toxiproxy_config_json(topology)),
    ):
        path = folder / name
        path.write_text(text)
        written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m harness.compose_file FOLDER``: regenerate the committed Compose files."""
    parser = argparse.ArgumentParser(
        prog="python -m harness.compose_file",
        description="Write docker-compose.yml and toxiproxy.json for the bank topology.",
    )
    parser.add_argument("folder", type=Path, help="where to write them, e.g. compose/")
    args = parser.parse_args(argv)
    for path in write_compose_files(args.folder):
        sys.stdout.write(f"wrote {path}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
