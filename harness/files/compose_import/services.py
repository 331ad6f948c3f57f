"""Each Compose service's settings read into its Domino service: image, command, env, ready."""

from __future__ import annotations

import re
import shlex
from typing import Any

from harness.files.compose_import.compose_file import ComposeFile, show
from harness.files.compose_import.env_files import read_env_files
from harness.files.compose_import.model import Service
from harness.files.compose_import.ports import choose_port, container_ports
from harness.files.compose_import.render import escape
from harness.files.yamldoc import FieldPath, describe_kind

__all__ = ["read_services"]

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_HEALTH_URL = re.compile(
    r"(?P<scheme>https?)://(?:localhost|127\.0\.0\.1|0\.0\.0\.0|\[::1\])"
    r"(?::(?P<port>[0-9]{1,5}))?(?P<path>/[^\s'\"|;&)>]*)?"
)
#: Compose keys this importer reads.
_HANDLED_KEYS = frozenset(
    {
        "image",
        "build",
        "command",
        "environment",
        "env_file",
        "expose",
        "ports",
        "healthcheck",
        "depends_on",
        "networks",
        "container_name",
        "links",
    }
)
#: Compose keys that change nothing Domino does, so they are dropped without a note.
_HARMLESS_KEYS = frozenset(
    {
        "restart",
        "labels",
        "hostname",
        "logging",
        "stop_grace_period",
        "stop_signal",
        "init",
        "tty",
        "stdin_open",
        "platform",
        "pull_policy",
        "domainname",
    }
)


def read_services(compose: ComposeFile, services: dict[str, Service], project: str) -> None:
    """Fill in each service from its Compose settings, in file order.

    ``project`` is the Compose project name, which names the images Compose builds.
    """
    # Services without an HTTP healthcheck, noted together (often databases and caches).
    tcp_only: list[str] = []
    for compose_name, service in services.items():
        _read_service(compose, compose.raw_services[compose_name], service, project, tcp_only)
    if tcp_only:
        compose.notes.append(
            f"no HTTP healthcheck on localhost for {', '.join(map(show, tcp_only))}: "
            "their ready is {tcp: true} (the port accepts connections); set ready.http to "
            "a health path where they have one"
        )


def _read_service(
    compose: ComposeFile, raw: dict[str, Any], service: Service, project: str, tcp_only: list[str]
) -> None:
    path = service.path
    label = show(service.compose_name)
    image = raw.get("image")
    if image is not None and not isinstance(image, str):
        raise compose.error((*path, "image"), f"must be an image name, got {describe_kind(image)}")
    image = compose.interpolate(image.strip(), (*path, "image")) if image else ""
    if image:
        service.image = image
    elif raw.get("build") is not None:
        # `docker compose build` tags a service's image <project>-<service>.
        service.image = f"{project}-{service.compose_name.lower()}"
        compose.notes.append(
            f"service {label} is built by Compose (build:); its image is "
            f"{service.image!r}, the name `docker compose build` gives it; build it first"
        )
    else:
        service.image = f"{project}-{service.compose_name.lower()}"
        compose.notes.append(
            f"service {label} has neither image nor build (extends?); "
            f"its image is set to {service.image!r}: replace it with the real one"
        )

    service.published = bool(container_ports(compose, raw, path, published_only=True))
    if "command" in raw:
        service.container_command = _command(compose, raw["command"], (*path, "command"))
    service.env = _environment(compose, raw, path)
    choose_port(compose, raw, service)
    service.ready = _readiness(compose, raw, service, tcp_only)

    ignored = [
        key
        for key in raw
        if key not in _HANDLED_KEYS and key not in _HARMLESS_KEYS and not key.startswith("x-")
    ]
    if ignored:
        shown = ", ".join(show(k) for k in ignored)
        compose.notes.append(
            f"service {label}: Compose settings not imported: {shown} "
            "(Domino has no field for them; bake what the service needs into its image)"
        )


def _command(compose: ComposeFile, raw: Any, path: FieldPath) -> list[str] | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        try:
            argv = shlex.split(compose.interpolate(raw, path))
        except ValueError as exc:
            raise compose.error(path, f"cannot split this command: {exc}") from None
        return argv or None
    if isinstance(raw, list):
        argv = []
        for i, item in enumerate(raw):
            if item is None or isinstance(item, dict | list | bool):
                raise compose.error((*path, i), f"must be text, got {describe_kind(item)}")
            argv.append(compose.interpolate(str(item), (*path, i)))
        return argv or None
    raise compose.error(path, f"must be a command (text or a list), got {describe_kind(raw)}")


def _environment(compose: ComposeFile, raw: dict[str, Any], path: FieldPath) -> dict[str, str]:
    """The service's environment in file order, values interpolated (not yet escaped)."""
    label = show(str(path[-1]))
    env, unset = _environment_entries(compose, raw.get("environment"), (*path, "environment"))
    dropped = [k for k in env if not _ENV_NAME.fullmatch(k)]
    for key in dropped:
        del env[key]
    if dropped:
        compose.notes.append(
            f"service {label}: environment {', '.join(repr(k) for k in dropped)} dropped: "
            "a topology's variable names are letters, digits and '_', not starting "
            "with a digit"
        )
    if unset:
        compose.notes.append(
            f"service {label}: environment {', '.join(show(k) for k in unset)} has no "
            "value in the file (Compose takes it from the shell); Domino reads no shell, "
            "so it is not set: add it to env if it matters"
        )
    # Compose: environment wins over env_file.
    from_files = read_env_files(compose, raw.get("env_file"), (*path, "env_file"), label)
    return {**{k: v for k, v in from_files.items() if _ENV_NAME.fullmatch(k)}, **env}


def _environment_entries(
    compose: ComposeFile, raw_env: Any, epath: FieldPath
) -> tuple[dict[str, str], list[str]]:
    """``environment`` in mapping or list form: the values, and the names with none."""
    env: dict[str, str] = {}
    unset: list[str] = []
    if raw_env is None:
        return env, unset
    if isinstance(raw_env, dict):
        for key, value in raw_env.items():
            vpath: FieldPath = (*epath, key)
            if value is None:
                unset.append(key)
            elif isinstance(value, dict | list):
                raise compose.error(vpath, f"must be text, got {describe_kind(value)}")
            else:
                text = str(value).lower() if isinstance(value, bool) else str(value)
                env[key] = compose.interpolate(text, vpath)
        return env, unset
    if not isinstance(raw_env, list):
        raise compose.error(
            epath, f"must be a mapping or a list of 'NAME=value', got {describe_kind(raw_env)}"
        )
    for i, item in enumerate(raw_env):
        if not isinstance(item, str):
            raise compose.error((*epath, i), f"must be 'NAME=value', got {describe_kind(item)}")
        key, eq, value = compose.interpolate(item, (*epath, i)).partition("=")
        if eq:
            env[key] = value
        else:
            unset.append(key)
    return env, unset


def _readiness(
    compose: ComposeFile, raw: dict[str, Any], service: Service, tcp_only: list[str]
) -> dict[str, Any]:
    """``ready`` from an HTTP healthcheck on localhost; else ``{tcp: true}``.

    A service with no such healthcheck at all is added to ``tcp_only``.
    """
    label = show(service.compose_name)
    hpath: FieldPath = (*service.path, "healthcheck")
    check = raw.get("healthcheck")
    test: Any = check.get("test") if isinstance(check, dict) else None
    disabled = isinstance(check, dict) and check.get("disable") is True
    if isinstance(test, list):
        words = [str(w) for w in test]
        if words and words[0] in ("CMD", "CMD-SHELL", "NONE"):
            disabled = disabled or words[0] == "NONE"
            words = words[1:]
        test = " ".join(words)
    if isinstance(test, str) and not disabled:
        probe = _HEALTH_URL.search(compose.interpolate(test, (*hpath, "test")))
        if probe is not None and probe["scheme"] == "http":
            if probe["port"] is not None and not service.port_known:
                service.container_port, service.port_known = int(probe["port"]), True
            elif probe["port"] is not None and int(probe["port"]) != service.container_port:
                compose.notes.append(
                    f"service {label}: its healthcheck probes port {probe['port']} but "
                    f"container_port is {service.container_port}; Domino probes "
                    "container_port, check ready"
                )
            return {"http": escape(probe["path"] or "/")}
        if probe is not None:
            compose.notes.append(
                f"service {label}: its healthcheck probes HTTPS; ready.http uses plain "
                "HTTP, so ready is {tcp: true}"
            )
            return {"tcp": True}
    tcp_only.append(service.compose_name)
    return {"tcp": True}
