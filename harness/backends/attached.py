"""Attaching to a stack another Domino process is running (``domino up``).

A running stack records its endpoints in its run record; ``domino fault``
reads them to apply a fault by hand while ``domino up`` keeps the stack up.
The record holds the stack's secrets (admin tokens), so the run folder is
private to the user.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.backends.assembly import RunPlan, assemble_stack
from harness.contracts import Preparation
from harness.errors import DominoError
from harness.infra.runstate import RunRecord, owner_alive, runs_dir
from harness.plugins import get_adapter
from harness.stack import EdgeEndpoint, Stack
from harness.toxiproxy.client import ToxiproxyClient

__all__ = ["describe_for_record", "live_stacks"]


def describe_for_record(stack: Stack) -> dict[str, Any]:
    """What a run record keeps so another process can attach to ``stack``."""
    path = stack.topology.path
    return {
        **stack.describe(),
        "topology_path": str(path) if path else None,
        "secrets": dict(stack.secrets),
        "settings": dict(stack.settings),
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
    secrets = dict(raw.get("secrets", {}))
    plan = RunPlan(
        topology,
        adapter,
        raw["profile"],
        Preparation(settings=dict(raw.get("settings", {})), secrets=secrets),
    )
    return assemble_stack(
        plan,
        backend=raw["backend"],
        toxiproxy=ToxiproxyClient(raw["toxiproxy"]),
        services=dict(raw["services"]),
        edges={name: EdgeEndpoint(**e) for name, e in raw["edges"].items()},
        allowed_hosts=tuple(raw.get("allowed_hosts", ())),
        system=f"the {topology.name} system, attached from another process",
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
