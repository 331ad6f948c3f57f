"""What a running Toxiproxy server can do, read from its version.

Domino's own ``toxiproxy-server`` (the Go sources in ``server/``) is Toxiproxy
v2.12.0 with Domino's toxics compiled in; its version names the build, e.g.
``2.12.0+domino.3``. A stock server (``2.12.0``) has none of them: a fault
that needs one is refused there before anything is applied
(:func:`toxic_unavailable`), and the faults that have a stock form use it.

From build 3 on, every proxy of Domino's server also counts its traffic as it
passes, with no fault installed (:func:`counts_live_traffic`): the requests
crossing it, their answers, its connections and bytes, read at
``GET /domino/traffic``. A stock server counts a connection's bytes only when the
connection ends (``/metrics``, with ``-proxy-metrics``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = [
    "DOMINO_BUILD",
    "DOMINO_TOXICS",
    "LIVE_TRAFFIC_BUILD",
    "SERVER_VERSION",
    "TOXIPROXY_VERSION",
    "counts_live_traffic",
    "domino_toxics",
    "is_domino_build",
    "toxic_unavailable",
]

#: Upstream's release that Domino's server is built from (and the stock one Domino accepts).
TOXIPROXY_VERSION = "2.12.0"
#: Domino's build of it; bumped with ``Version`` in ``server/main.go`` when a toxic is added
#: or changes behaviour.
DOMINO_BUILD = 3
#: The version Domino's server reports (``/version``, ``-version``).
SERVER_VERSION = f"{TOXIPROXY_VERSION}+domino.{DOMINO_BUILD}"

#: Domino's own toxic types, each with the first build of Domino's server that has it.
DOMINO_TOXICS: Mapping[str, int] = {
    # Holds the caller with no answer until removed, even after the upstream closes.
    "domino_hang": 1,
    # Closes each connection that tries to send through a down edge, and counts them.
    "domino_refuse": 1,
    # HTTP faults, per request (a share drawn per request from a seed; method, path and
    # header filters; several requests per kept-alive connection; counted):
    # answers with a status, the request never passed on;
    "domino_http_status": 2,
    # closes the connection before the request reaches the target, or when its answer comes;
    "domino_http_abort": 2,
    # holds the request before passing it on;
    "domino_http_delay": 2,
    # breaks the answer's body (cut short, malformed JSON, wrong content type);
    "domino_http_body": 2,
    # the downstream companion that writes and breaks answers for status, abort and body.
    "domino_http_answers": 2,
}

#: The first build whose proxies count their traffic live (``GET /domino/traffic``).
LIVE_TRAFFIC_BUILD = 3

_BUILD = re.compile(r"\+domino\.(\d+)\b")


def counts_live_traffic(version: str) -> bool:
    """True when a server reporting ``version`` counts every proxy's traffic as it passes."""
    match = _BUILD.search(version)
    return match is not None and int(match.group(1)) >= LIVE_TRAFFIC_BUILD


def is_domino_build(version: str) -> bool:
    """True when ``version`` is one of Domino's builds (``2.12.0+domino.N``)."""
    return _BUILD.search(version) is not None


def domino_toxics(version: str) -> frozenset[str]:
    """Domino's toxic types a server reporting ``version`` has; empty for a stock server."""
    match = _BUILD.search(version)
    if match is None:
        return frozenset()
    build = int(match.group(1))
    return frozenset(name for name, since in DOMINO_TOXICS.items() if since <= build)


def toxic_unavailable(toxic_type: str, version: str) -> str:
    """Why a server reporting ``version`` cannot take a Domino toxic, and what to do, in words."""
    server = (
        f"Domino's build {version}" if is_domino_build(version) else f"a stock server ({version})"
    )
    return (
        f"needs Domino's toxic {toxic_type}, which this toxiproxy-server lacks ({server}); "
        f"run `domino toxiproxy install` to build Domino's server ({SERVER_VERSION}) and "
        "start the stack with it (a toxiproxy-server found earlier on PATH or in "
        "DOMINO_TOXIPROXY_BIN is used first)"
    )
