"""Toxiproxy: finding or installing the server binary, and a strict API client."""

from harness.toxiproxy.binary import TOXIPROXY_VERSION, find_toxiproxy, install_toxiproxy
from harness.toxiproxy.client import ProxyInfo, ToxicInfo, ToxiproxyClient

__all__ = [
    "TOXIPROXY_VERSION",
    "ProxyInfo",
    "ToxicInfo",
    "ToxiproxyClient",
    "find_toxiproxy",
    "install_toxiproxy",
]
