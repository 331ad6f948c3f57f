"""Process faults (crash, stop, pause, restart), written once over a backend's
:class:`~harness.contracts.ServiceControl`.

Each kind is an action now and an undo when its scope ends: a crash is a
SIGKILL and, at the end, a start on the same port and data (so durable
storage is really tested); a stop is a graceful stop, then a start; a pause
freezes the service until the end; a restart happens now and has nothing to
undo. A backend only says how to kill, stop, start, pause, resume and
restart one of its services.
"""

from __future__ import annotations

from collections.abc import Callable

from harness.contracts import ServiceControl
from harness.errors import UnknownServiceError, UnsupportedFaultError
from harness.model.faults import Crash, Pause, ProcessFault, Restart, Stop

__all__ = ["ProcessFaultApplier"]

_Action = Callable[[ServiceControl, str], None]


def _nothing(_control: ServiceControl, _service: str) -> None:
    return None


#: For each kind: what applying does, and what removing undoes.
_ACTIONS: dict[str, tuple[_Action, _Action]] = {
    Crash.kind: (lambda c, s: c.kill(s), lambda c, s: c.start(s)),
    Stop.kind: (lambda c, s: c.stop(s), lambda c, s: c.start(s)),
    Pause.kind: (lambda c, s: c.pause(s), lambda c, s: c.resume(s)),
    Restart.kind: (lambda c, s: c.restart(s), _nothing),
}


class ProcessFaultApplier:
    """Applies :class:`~harness.model.faults.ProcessFault` values through ``control``."""

    def __init__(self, control: ServiceControl, services: list[str]) -> None:
        self._control = control
        self._services = services

    def apply(self, fault: ProcessFault) -> tuple[str, str]:
        if fault.service not in self._services:
            raise UnknownServiceError(fault.service, sorted(self._services))
        actions = _ACTIONS.get(fault.kind)
        if actions is None:
            raise UnsupportedFaultError(
                f"the {self._control.backend} backend cannot apply {fault.describe()}"
            )
        actions[0](self._control, fault.service)
        return fault.service, fault.kind

    def remove(self, target: str, handle: str) -> None:
        _ACTIONS[handle][1](self._control, target)
