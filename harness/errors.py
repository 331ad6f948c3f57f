"""Every error Domino raises on purpose, in one place.

    DominoError                      base: a problem Domino explains in one line
    ├── UsageError                   the caller asked for something invalid (CLI exit 2)
    │   ├── LoadPlanError            a load plan refused before anything is sent
    │   ├── ComposeImportError       a Compose file that cannot be imported
    │   ├── UnknownEdgeError         an edge name that the topology does not have
    │   ├── UnknownServiceError      a service name that the topology does not have
    │   ├── FaultSpecError           a fault with a bad type, attribute or value
    │   ├── SpecError                an incident spec file that does not validate
    │   ├── TopologyError            a topology file (domino.yaml) that does not validate
    │   ├── UnsupportedFaultError    a fault this system or backend cannot apply
    │   └── UnsafeTargetError        a target outside loopback / the project's networks
    ├── SessionError                 a user's session could not be started
    ├── FaultRemovalError            a fault could not be removed (lists what may be left)
    ├── AdminCallError               a system's admin API refused or failed a call
    ├── LoadEngineError              the load engine could not complete a run
    ├── ToxiproxyError               anything about the Toxiproxy server
    │   ├── ToxiproxyNotFoundError   no toxiproxy-server binary and no way to install one
    │   ├── ToxiproxyInstallError    `go install` was tried and failed
    │   └── ToxiproxyAPIError        a call to the Toxiproxy API failed or answered wrongly
    └── StackError                   the stack could not be brought up (CLI exit 3)
        ├── PortInUseError           a port Domino needs is taken
        ├── ServiceStartError        a service did not become healthy in time
        │   ├── ServiceNotListeningError  it listens, but not where Domino told it to
    │   └── ServiceHostError     the service host could not start a service (it died, hung)
        ├── DockerUnavailableError   no Docker engine answers
        └── DockerImageMissingError  an image the stack needs is not in the engine
            └── DockerImageStaleError  the services' image was built from other source

Messages are single lines that say what was wrong, where, and what to do.
Every error may also carry the place it is about as fields, for code that
must point at it without reading the message: ``where`` (a file or a spec
path), ``field`` (the offending field's name) and ``edge`` (an edge name).
"""

from __future__ import annotations

__all__ = [
    "AdminCallError",
    "ComposeImportError",
    "DockerImageMissingError",
    "DockerImageStaleError",
    "DockerUnavailableError",
    "DominoError",
    "FaultRemovalError",
    "FaultSpecError",
    "LoadEngineError",
    "LoadPlanError",
    "PortInUseError",
    "ServiceHostError",
    "ServiceNotListeningError",
    "ServiceStartError",
    "SessionError",
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
    """Base of every error Domino raises on purpose.

    ``where``, ``field`` and ``edge`` say what the error is about, when known.
    """

    def __init__(
        self,
        message: str = "",
        *,
        where: str | None = None,
        field: str | None = None,
        edge: str | None = None,
    ) -> None:
        super().__init__(message)
        self.where = where
        self.field = field
        self.edge = edge


class UsageError(DominoError):
    """The caller asked for something invalid; nothing was started."""


class UnknownEdgeError(UsageError):
    """An edge name that the running topology does not have."""

    def __init__(self, edge: str, known: list[str]) -> None:
        self.known = known
        super().__init__(
            f"unknown edge {edge!r}; known edges: {', '.join(known)}", field="edge", edge=edge
        )


class UnknownServiceError(UsageError):
    """A service name that the running topology does not have."""

    def __init__(self, service: str, known: list[str]) -> None:
        self.service = service
        self.known = known
        super().__init__(
            f"unknown service {service!r}; known services: {', '.join(known)}", field="service"
        )


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


class LoadPlanError(UsageError):
    """A load plan that is refused before anything is sent (the message names the field)."""


class ComposeImportError(UsageError):
    """A Compose file that cannot be imported: one line naming file, line, field and the fix."""


class SessionError(DominoError, RuntimeError):
    """A user's session could not be started (the session request failed)."""


class FaultRemovalError(DominoError):
    """A fault could not be removed; the message lists what may be left behind."""


class AdminCallError(DominoError):
    """A system's admin-API call failed; the message has the service's own explanation."""


class LoadEngineError(DominoError):
    """The engine could not complete a run (for example a worker process died)."""


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


class ServiceNotListeningError(ServiceStartError):
    """A service listens on other addresses than the one Domino gave it (it ignores ``{port}``).

    ``service`` is its name, ``expected`` the ``host:port`` it was told,
    ``found`` the addresses it listens on instead.
    """

    def __init__(self, message: str, *, service: str, expected: str, found: list[str]) -> None:
        super().__init__(message, where=f"service {service}")
        self.service = service
        self.expected = expected
        self.found = found


class ServiceHostError(ServiceStartError):
    """The service host (harness.infra.service_host) could not start a service: it exited,
    or did not answer in time."""


class DockerUnavailableError(StackError):
    """No Docker engine answers (daemon not running, no permission, wrong DOCKER_HOST)."""


class DockerImageMissingError(StackError):
    """An image the stack needs is not in the engine; nothing is pulled implicitly."""


class DockerImageStaleError(DockerImageMissingError):
    """The services' image was built from other source than the checkout in use."""
