"""The Docker deployment of a topology, and the Compose file generated from it.

One source of truth: a :class:`~harness.topology.Topology` decides which
containers exist, which Toxiproxy listener carries each edge, and what each
edge's environment on its source points at. The docker backend starts
containers from these values through the Docker SDK; :func:`compose_yaml`
and :func:`toxiproxy_config_json` write the same values as a Compose file
and a Toxiproxy config for users who run ``docker compose up`` themselves
(the bank's are committed in ``compose/``; a test checks they equal what
this module generates, so the two cannot drift).

Regenerate: ``python -m harness.backends.docker.compose compose/ [--topology T]``.

Inside the project's network every service listens on its
``container_port`` under its own name, and every call between services goes
to ``toxiproxy:<listener port>``. Only Toxiproxy's API and the client edge's
listener are published, on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from harness.backends.assembly import (
    RunPlan,
    plan_run,
    render_command,
    service_environment,
    service_values,
)
from harness.errors import DominoError, UsageError
from harness.model.topology import Edge, Service, Topology
from harness.toxiproxy.binary import TOXIPROXY_VERSION

__all__ = [
    "COMPOSE_FILE_NAME",
    "LABEL_MANAGED",
    "LABEL_OWNER",
    "LABEL_RUN",
    "SERVICES_IMAGE",
    "TOXIPROXY_API_PORT",
    "TOXIPROXY_CONFIG_NAME",
    "TOXIPROXY_HOST",
    "TOXIPROXY_IMAGE",
    "EdgeListener",
    "compose_yaml",
    "container_environment",
    "container_values",
    "edge_listeners",
    "network_address",
    "service_command",
    "toxiproxy_command",
    "toxiproxy_config",
    "toxiproxy_config_json",
    "toxiproxy_healthcheck",
    "write_compose_files",
]

#: The bank's services' image, built by ``docker/build-images.sh`` (one image, four services).
SERVICES_IMAGE = "domino/services:0.1.0"
#: Upstream Toxiproxy's image; the air-gapped build produces the same tag locally.
TOXIPROXY_IMAGE = f"ghcr.io/shopify/toxiproxy:{TOXIPROXY_VERSION}"
#: Toxiproxy's API port inside its container.
TOXIPROXY_API_PORT = 8474
#: The host name Toxiproxy has on the project's network.
TOXIPROXY_HOST = "toxiproxy"
#: Edge listeners take consecutive ports from here, in topology order.
_FIRST_EDGE_PORT = 9001
#: Where the services keep their data inside a container.
_DATA_DIR = "/data"
#: Services listen on every address of their container, on the project's network.
BIND_HOST = "0.0.0.0"  # noqa: S104 - inside the container, on the project's network

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
    target_port: int

    @property
    def listen(self) -> str:
        """The proxy's ``listen`` address as Toxiproxy takes it."""
        return f"0.0.0.0:{self.port}"

    @property
    def upstream(self) -> str:
        return f"{self.edge.target}:{self.target_port}"

    @property
    def url(self) -> str:
        """The base URL a service calls to cross this edge."""
        return f"http://{TOXIPROXY_HOST}:{self.port}"


def edge_listeners(topology: Topology) -> dict[str, EdgeListener]:
    """Each edge's listener, by edge name, with ports in topology order."""
    return {
        edge.name: EdgeListener(
            edge, _FIRST_EDGE_PORT + index, topology.service(edge.target).container_port
        )
        for index, edge in enumerate(topology.edges)
    }


def _values(topology: Topology, service: Service) -> dict[str, str]:
    return service_values(
        topology,
        service,
        port=service.container_port,
        bind_host=BIND_HOST,
        data_dir=f"{_DATA_DIR}/{service.name}",
    )


def service_command(topology: Topology, service: Service) -> list[str] | None:
    """The command a service's container runs (None: the image's own)."""
    if service.container_command is None:
        return None
    return render_command(
        service.container_command, _values(topology, service), where=f"service {service.name}"
    )


def container_values(topology: Topology, service: Service) -> dict[str, str]:
    """The placeholder values of ``service``'s container: its port, bind host, ``data_dir``."""
    return _values(topology, service)


def network_address(topology: Topology) -> Callable[[Edge], tuple[str, int]]:
    """Where a service in the run's network reaches each edge: ``toxiproxy:<listener port>``."""
    listeners = edge_listeners(topology)

    def address(edge: Edge) -> tuple[str, int]:
        return TOXIPROXY_HOST, listeners[edge.name].port

    return address


def container_environment(plan: RunPlan, service: Service) -> dict[str, str]:
    """The environment of ``service``'s container: its own, the profile's, the adapter's,
    and each outgoing edge pointing at ``toxiproxy:<listener port>``."""
    return service_environment(
        plan,
        service,
        _values(plan.topology, service),
        edge_address=network_address(plan.topology),
        inherit=False,
    )


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
    """The Compose file as data (see :func:`compose_yaml`).

    Values that belong to each run (the adapter's environment: the bank's
    profile, knobs and secrets) become ``${NAME:-}`` variables the user sets.
    """
    plan = plan_run(topology, None, None)
    defaults = plan.adapter.compose_defaults
    run_values = {key: f"${{{key}:-{defaults.get(key, '')}}}" for key in plan.preparation.env}
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
        if service.image is None:
            continue
        env = container_environment(plan, service)
        env.update({k: v for k, v in run_values.items() if k in env})
        # Start a service once Toxiproxy and everything it calls are up, so
        # `up` returns a stack whose entry service can already answer.
        needs = [TOXIPROXY_HOST] + [e.target for e in topology.dependencies_of(service.name)]
        healthy = {TOXIPROXY_HOST} | {
            s.name for s in topology.services if s.container_healthcheck is not None
        }
        container: dict[str, Any] = {"image": service.image}
        command = service_command(topology, service)
        if command is not None:
            container["command"] = command
        container["environment"] = env
        container["depends_on"] = {
            name: {"condition": "service_healthy" if name in healthy else "service_started"}
            for name in needs
        }
        if service.container_healthcheck is not None:
            container["healthcheck"] = _compose_healthcheck(["CMD", *service.container_healthcheck])
        container["labels"] = _labels()
        services[service.name] = container
    return {
        "services": services,
        "networks": {"default": {"labels": _labels()}},
    }


_HEADER = """\
# Generated from the {name!r} topology by harness/backends/docker/compose.py; do not edit.
# Regenerate: python -m harness.backends.docker.compose FOLDER --topology {name}
#
# Images: {toxiproxy} and {services}; on machines without a
# container registry, build them without one (docs/docker.md).
# Only Toxiproxy's API and the client->{entry} edge are published, on 127.0.0.1:
#   DOMINO_TOXIPROXY_PORT (default {api_port}) and DOMINO_ENTRY_PORT (default 8080).
"""


class _Dumper(yaml.SafeDumper):
    """Block style, and lists indented under their key as people write them."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def compose_yaml(topology: Topology) -> str:
    """The text of a Compose file (the bank's: ``compose/docker-compose.yml``) for ``topology``.

    UsageError for a topology with settings files (``files:``): they are rendered
    per container when the docker backend starts it, which a Compose file cannot say.
    """
    with_files = [s.name for s in topology.services if s.files]
    if with_files:
        raise UsageError(
            f"{', '.join(with_files)} declares settings files (`files:`), which a Compose "
            "file cannot render per container; run it with `--backend docker` instead"
        )
    images = sorted({s.image for s in topology.services if s.image})
    header = _HEADER.format(
        name=topology.name,
        toxiproxy=TOXIPROXY_IMAGE,
        services=", ".join(images),
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


def write_compose_files(folder: Path, topology: Topology) -> list[Path]:
    """Write ``docker-compose.yml`` and ``toxiproxy.json`` into ``folder`` (both made first)."""
    texts = (
        (COMPOSE_FILE_NAME, compose_yaml(topology)),
        (TOXIPROXY_CONFIG_NAME, toxiproxy_config_json(topology)),
    )
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in texts:
        path = folder / name
        path.write_text(text)
        written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m harness.backends.docker.compose FOLDER``: write a topology's Compose files."""
    from harness.library import DEFAULT_SYSTEM, find_topology

    parser = argparse.ArgumentParser(
        prog="python -m harness.backends.docker.compose",
        description="Write docker-compose.yml and toxiproxy.json for a topology "
        f"(default: {DEFAULT_SYSTEM}).",
    )
    parser.add_argument("folder", type=Path, help="where to write them, e.g. compose/")
    parser.add_argument(
        "--topology", default=DEFAULT_SYSTEM, help="a shipped system or a domino.yaml"
    )
    args = parser.parse_args(argv)
    try:
        written = write_compose_files(args.folder, find_topology(args.topology))
    except DominoError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    for path in written:
        sys.stdout.write(f"wrote {path}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
