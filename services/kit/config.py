"""A service's configuration, read once from the environment the backend sets.

``DOMINO_SERVICE`` (name), ``DOMINO_PROFILE`` and ``DOMINO_KNOBS`` (JSON
overrides), ``DOMINO_DEP_<NAME>`` (each dependency's base URL, a Toxiproxy
listener) with ``DOMINO_EDGE_<NAME>`` (the edge's name for cause chains),
``DOMINO_DATA_DIR``, ``DOMINO_ADMIN_TOKEN``, ``DOMINO_TOKEN_SECRET``, and where
to listen: ``DOMINO_LISTEN_FD`` (an inherited socket) or ``DOMINO_PORT``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from services.kit.profiles import Knobs, resolve_knobs

__all__ = ["Dependency", "ServiceConfig"]


@dataclass(frozen=True, slots=True)
class Dependency:
    """A service this one calls: its base URL and the edge that carries the calls."""

    name: str
    base_url: str
    edge: str


@dataclass(frozen=True)
class ServiceConfig:
    name: str
    profile: str
    knobs: Knobs
    data_dir: Path
    admin_token: str
    token_secret: str
    dependencies: dict[str, Dependency] = field(default_factory=dict)
    listen_fd: int | None = None
    host: str = "127.0.0.1"
    port: int = 0

    @classmethod
    def from_env(cls, name: str, env: Mapping[str, str] | None = None) -> ServiceConfig:
        env = os.environ if env is None else env
        profile = env.get("DOMINO_PROFILE", "fragile")
        knobs = resolve_knobs(profile, json.loads(env.get("DOMINO_KNOBS", "{}") or "{}"))
        deps = {}
        for key, url in env.items():
            if key.startswith("DOMINO_DEP_"):
                dep = key.removeprefix("DOMINO_DEP_").lower()
                edge = env.get(f"DOMINO_EDGE_{dep.upper()}", f"{name}->{dep}")
                deps[dep] = Dependency(dep, url.rstrip("/"), edge)
        fd = env.get("DOMINO_LISTEN_FD")
        return cls(
            name=name,
            profile=profile,
            knobs=knobs,
            data_dir=Path(env.get("DOMINO_DATA_DIR", f".domino/data/{name}")),
            admin_token=env.get("DOMINO_ADMIN_TOKEN", ""),
            token_secret=env.get("DOMINO_TOKEN_SECRET", "domino-dev-secret"),
            dependencies=deps,
            listen_fd=int(fd) if fd else None,
            host=env.get("DOMINO_HOST", "127.0.0.1"),
            port=int(env.get("DOMINO_PORT", "0")),
        )
