"""Attaching to a stack another Domino process is running (``domino up``).

A running stack records its endpoints in its run record; ``domino fault``
reads them to apply a fault by hand while ``domino up`` keeps the stack up.
The record holds the stack's secrets (admin tokens), so the run folder is
private to the user.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.errors import DominoError
from harness.infra.runstate import RunRecord, owner_alive, runs_dir
from harness.plugins import get_adapter
from harness.stack import EdgeEndpoint, Stack
from harness.stack.injection import Injector
from harness.toxiproxy.client import ToxiproxyClient

__all__ = ["describe_for_record", "live_stacks"]


def describe_for_record(stack: Stack) -> dict[str, Any]:
    """What a run record keeps so another process can attach to ``stack``."""
    path = stack.topology.path
    return {
        **stack.describe(),
        "topology_path": str(path) if path else None,
        "secrets": dict(stack.secrets),
        "allowed_hosts": list(stack.allowed_hosts),
    }


def _attach(raw: dict[str, Any]) -> Stack | None:
    from harness.library import find_topology

    path = raw.get("topology_path")
    if not path or not Path(path).is_file():
        return None
    try:
        topology = find_topology(Path(path))
    except DominoError:
        return None
    adapter = get_adapter(topology.adapter)
    client = ToxiproxyClient(raw["toxiproxy"])
    edges = {name: EdgeEndpoint(**e) for name, e in raw["edges"].items()}
    secrets = dict(raw.get("secrets", {}))
    allowed = tuple(raw.get("allowed_hosts", ()))
    control = adapter.attach(topology, raw["services"], secrets, allowed_hosts=allowed)
    injector = Injector(
        topology=topology,
        toxiproxy=client,
        proxies={name: e.proxy for name, e in edges.items()},
        control=control,
        system=f"the {topology.name} system, attached from another process",
    )
    return Stack(
        backend=raw["backend"],
        topology=topology,
        adapter=adapter,
        profile=raw["profile"],
        toxiproxy=client,
        toxiproxy_version=raw["toxiproxy_version"],
        services=dict(raw["services"]),
        edges=edges,
        injector=injector,
        secrets=secrets,
        allowed_hosts=allowed,
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
