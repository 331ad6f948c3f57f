"""Who owns what the docker backend creates, and cleaning up after owners that are gone.

Everything the backend creates carries the labels ``domino.managed``,
``domino.run`` (this run) and ``domino.owner`` (``host:pid:start``): a run
killed with SIGKILL cannot clean up, so every start first removes what an
owner that is gone left behind (:func:`reconcile_docker`).
"""

from __future__ import annotations

import os
import socket
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from harness.backends.docker.compose import LABEL_MANAGED, LABEL_OWNER
from harness.backends.docker.engine import connect, sdk
from harness.infra.runstate import reconcile

__all__ = [
    "domino_resources",
    "labels_of",
    "owner_label",
    "reconcile_docker",
    "remove_labelled",
]

_BACKEND = "docker"


def _process_started(pid: int) -> str | None:
    """An opaque start time of a live process (None if there is no such live process).

    With the pid it identifies a process even after its pid is reused.
    """
    stat = Path(f"/proc/{pid}/stat")
    if Path("/proc/self/stat").exists():
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return None
        # fields[0] is the state (field 3 of proc(5)); a zombie is gone already.
        return None if fields[0] in ("Z", "X") else fields[19]
    result = subprocess.run(
        ["ps", "-o", "lstart=", "-p", str(pid)], capture_output=True, text=True, check=False
    )
    return result.stdout.strip().replace(" ", "_") or None


def owner_label(pid: int | None = None) -> str:
    """The ``domino.owner`` label value for process ``pid`` (default: this process)."""
    pid = os.getpid() if pid is None else pid
    return f"{socket.gethostname()}:{pid}:{_process_started(pid) or '?'}"


def _owner_gone(owner: str) -> bool:
    """True when the labelled owner process is certainly no longer running."""
    host, _, rest = owner.partition(":")
    pid_text, _, started = rest.partition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return False  # another machine's (or hand-made) resources: not ours to judge
    now = _process_started(int(pid_text))
    return now is None or (started not in ("", "?") and now != started)


def domino_resources(client: Any, *, label: str = LABEL_MANAGED) -> tuple[list[Any], list[Any]]:
    """Containers (running or not) and networks that carry ``label`` (``key`` or ``key=value``)."""
    containers = client.containers.list(all=True, filters={"label": label}, ignore_removed=True)
    networks = client.networks.list(filters={"label": label})
    return containers, networks


def remove_labelled(client: Any, label: str) -> list[str]:
    """Remove every container, then every network, that carries ``label``."""
    errors = sdk().errors
    removed = []
    containers, networks = domino_resources(client, label=label)

    def remove(container: Any) -> str | None:
        try:
            container.remove(force=True, v=True)
        except errors.NotFound:
            return None
        return f"container {container.name}"

    # Each removal kills and waits for one container; together they take as long as one.
    if containers:
        with ThreadPoolExecutor(max_workers=min(8, len(containers))) as pool:
            removed += [name for name in pool.map(remove, containers) if name]
    for network in networks:
        try:
            network.remove()
            removed.append(f"network {network.name}")
        except errors.NotFound:
            continue
        except errors.APIError as exc:  # still in use by a container of someone else's
            removed.append(f"network {network.name} kept: {exc.explanation}")
    return removed


def reconcile_docker(client: Any | None = None) -> list[str]:
    """Remove containers and networks whose owner process is gone; return what was removed.

    Containers and networks without an owner (``docker compose up`` by hand)
    and those of live owners are left alone.
    """
    client = client if client is not None else connect()
    removed = []
    containers, networks = domino_resources(client, label=LABEL_OWNER)
    owners = {labels_of(resource).get(LABEL_OWNER, "") for resource in (*containers, *networks)}
    dead = {owner for owner in owners if owner and _owner_gone(owner)}
    for owner in sorted(dead):
        removed += remove_labelled(client, f"{LABEL_OWNER}={owner}")
    # Run records of killed docker runs (``domino fault`` reads live ones).
    reconcile(_BACKEND)
    return removed


def labels_of(resource: Any) -> dict[str, str]:
    """Labels of a container (``.labels``) or a network (``attrs["Labels"]``)."""
    labels = getattr(resource, "labels", None)
    if labels is None:
        labels = resource.attrs.get("Labels")
    return dict(labels or {})
