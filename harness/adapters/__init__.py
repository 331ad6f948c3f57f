"""System adapters: what Domino knows about a system beyond HTTP (see :mod:`.base`)."""

from harness.adapters.base import Answer, Preparation, SystemAdapter, SystemControl
from harness.adapters.http import HttpAdapter, NoControl
from harness.adapters.registry import adapter_names, get_adapter, register_adapter

__all__ = [
    "Answer",
    "HttpAdapter",
    "NoControl",
    "Preparation",
    "SystemAdapter",
    "SystemControl",
    "adapter_names",
    "get_adapter",
    "register_adapter",
]
