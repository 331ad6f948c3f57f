"""Every error Domino raises on purpose, in one place.

    DominoError                      base: a problem Domino explains in one line
    ├── UsageError                   the caller asked for something invalid (CLI exit 2)
    │   ├── UnknownEdgeError         an edge name that the topology does not have
    │   ├── UnknownServiceError      a service name that the topology does not have
    │   ├── FaultSpecError           a fault with a bad type, attribute or value
    │   ├── SpecError                an incident spec file that does not validate
    │   ├── TopologyError            a topology file (domino.yaml) that does not validate
    │   ├── UnsupportedFaultError    a fault this system or backend cannot apply
    │   └── UnsafeTargetError        a target outside loopback / the project's networks
    ├── ToxiproxyError               anything about the Toxiproxy server
    │   ├── ToxiproxyNotFoundError   no toxiproxy-server binary and no way to install one
    │   ├── ToxiproxyInstallError    `go install` was tried and failed
    │   └── ToxiproxyAPIError        a call to the Toxiproxy API failed or answered wrongly
    └── StackError                   the stack could not be brought up (CLI exit 3)
        ├── PortInUseError           a port Domino needs is taken
        ├── ServiceStartError        a service did not become healthy in time
        ├── DockerUnavailableError   no Docker engine answers
        └── DockerImageMissingError  an image the stack needs is not in the engine
            └── DockerImageStaleError  the services' image was built from other source

Messages are single lines that say what was wrong, where, and what to do.
"""

from __future__ import annotations

__all__ = [
    "DockerImageMissingError",
    "DockerImageStaleError",
    "DockerUnavailableError",
    "DominoError",
    "FaultSpecError",
    "PortInUseError",
    "ServiceStartError",
    "SpecError",
    "StackError",
    "TopologyError",
    "ToxiproxyAPIError",
    "ToxiproxyError",
    "ToxiproxyInstallError",
    "ToxiproxyNotFoundError",
    "UnknownEdgeError",
    "UnknownServiceError",
    "UnsafeTargetError",
    "UnsupportedFaultError",
    "UsageError",
]


class DominoError(Exception):
    """Base of every error Domino raises on purpose."""


class UsageError(DominoError):
    """The caller asked for something invalid; nothing was started."""


class UnknownEdgeError(UsageError):
    """An edge name that the running topology does not have."""

    def __init__(self, edge: str, known: list[str]) -> None:
        self.edge = edge
        self.known = known
        super().__init__(f"unknown edge {edge!r}; known edges: {', '.join(known)}")


class UnknownServiceError(UsageError):
    """A service name that the running topology does not have."""

    def __init__(self, service: str, known: list[str]) -> None:
        self.service = service
        self.known = known
        super().__init__(f"unknown service {service!r}; known services: {', '.join(known)}")


class FaultSpecError(UsageError):
    """A fault with an unknown type, an unknown attribute or a value out of range."""


class SpecError(UsageError):
    """An incident spec that does not validate (the message names file and field)."""


class TopologyError(UsageError):
    """A topology file that does not validate (the message names file, line and field)."""


class UnsupportedFaultError(UsageError):
    """A fault kind that this system's adapter or this backend cannot apply."""


class UnsafeTargetError(UsageError):
    """A target address outside loopback and the project's own networks."""


class ToxiproxyError(DominoError):
    """Anything about the Toxiproxy server."""


class ToxiproxyNotFoundError(ToxiproxyError):
    """No toxiproxy-server binary could be found or installed."""


class ToxiproxyInstallError(ToxiproxyError):
    """Installing Toxiproxy with `go install` failed."""


class ToxiproxyAPIError(ToxiproxyError):
    """A Toxiproxy API call failed, timed out, or its result did not read back."""


class StackError(DominoError):
    """The stack could not be brought up."""


class PortInUseError(StackError):
    """A port Domino needs is already taken."""


class ServiceStartError(StackError):
    """A service did not become healthy before its deadline."""


class DockerUnavailableError(StackError):
    """No Docker engine answers (daemon not running, no permission, wrong DOCKER_HOST)."""


class DockerImageMissingError(StackError):
    """An image the stack needs is not in the engine; nothing is pulled implicitly."""


class DockerImageStaleError(DockerImageMissingError):
    """The services' image was built from other source than the checkout in use."""
