"""Toxiproxy: Domino's own server (built from ``server/``), finding it, what it can do,
and a strict API client."""

from harness.toxiproxy.abilities import SERVER_VERSION, domino_toxics, is_domino_build
from harness.toxiproxy.binary import TOXIPROXY_VERSION, find_toxiproxy, install_toxiproxy
from harness.toxiproxy.client import ProxyInfo, ProxyTraffic, ToxicInfo, ToxiproxyClient

__all__ = [
    "SERVER_VERSION",
    "TOXIPROXY_VERSION",
    "ProxyInfo",
    "ProxyTraffic",
    "ToxicInfo",
    "ToxiproxyClient",
    "domino_toxics",
    "find_toxiproxy",
    "install_toxiproxy",
    "is_domino_build",
]
