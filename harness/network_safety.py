"""Domino sends traffic only to loopback and to the project's own Docker networks.

Every URL the harness will load or fault is checked here first. Other
targets are refused unless the user allows them explicitly
(``DOMINO_ALLOW_TARGETS=host1,host2``), because a load loop pointed at the
wrong host is an attack, not a test.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable
from urllib.parse import urlsplit

from harness.errors import UnsafeTargetError

__all__ = ["check_target", "is_loopback_host"]


def is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_target(url: str, *, extra_allowed: Iterable[str] = ()) -> str:
    """Return ``url`` if its host is loopback or explicitly allowed; raise otherwise.

    ``extra_allowed`` holds hosts the backend vouches for, such as container
    names on the project's own Docker network.
    """
    host = urlsplit(url).hostname or ""
    allowed = {h.strip() for h in os.environ.get("DOMINO_ALLOW_TARGETS", "").split(",") if h}
    allowed.update(extra_allowed)
    if is_loopback_host(host) or host in allowed:
        return url
    raise UnsafeTargetError(
        f"refusing to send traffic to {url}: {host!r} is not loopback or one of the project's "
        "own hosts; set DOMINO_ALLOW_TARGETS=HOST if this target is really yours"
    )
