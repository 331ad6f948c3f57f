"""Attaching to a stack another Domino process is running (``domino up``).

A running stack records its endpoints in its run record; ``domino fault``
reads them to apply a fault by hand while ``domino up`` keeps the stack up.
The record holds the admin token, so the run folder is private to the user.
"""

from __future__ import annotations

from typing import Any

from harness.injection import Injector
from harness.runstate import RunRecord, owner_alive, runs_dir
from harness.stack import EdgeEndpoint, Stack
from harness.topology import BANK_TOPOLOGY, Topology
from harness.toxiproxy.client import ToxiproxyClient

__all__ = ["describe_for_record", "live_stacks"]

_TOPOLOGIES = {BANK_TOPOLOGY.name: BANK_TOPOLOGY}


def describe_for_record(stack: Stack) -> dict[str, Any]:
    """What a run record keeps so another process can attach to ``stack``."""
    return {**stack.describe(), "topology": stack.topology.name, "admin_token": stack.admin_token}


def _attach(raw: dict[str, Any]) -> Stack | None:
    topology: Topology | None = _TOPOLOGIES.get(raw.get("topology", ""))
    if topology is None:
        return None
    client = ToxiproxyClient(raw["toxiproxy"])
    edges = {name: EdgeEndpoint(**e) for name, e in raw["edges"].items()}
    injector = Injector(
        topology=topology,
        toxiproxy=client,
        proxies={name: e.proxy for name, e in edges.items()},
        admin_urls=raw["services"],
        admin_token=raw["admin_token"],
    )
    return Stack(
        backend=raw["backend"],
        topology=topology,
        profile=raw["profile"],
        toxiproxy=client,
        toxiproxy_version=raw["toxiproxy_version"],
        services=dict(raw["services"]),
        edges=edges,
        admin_token=raw["admin_token"],
        injector=injector,
    )


def live_stacks() -> list[Stack]:
    """Stacks whose owning process is still alive, oldest first."""
    found = []
    folder = runs_dir()
    paths = (
        sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime) if folder.is_dir() else []
    )
    for path in paths:
        try:
            record = RunRecord.load(path)
        except (ValueError, TypeError, KeyError, OSError):
            continue
        raw = record.extra.get("stack")
        if raw and owner_alive(record):
            stack = _attach(raw)
            if stack is not None:
                found.append(stack)
    return found
