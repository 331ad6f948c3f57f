"""The load engine's own errors.

    UsageError (harness.errors)
    └── LoadPlanError        a plan that cannot run: no caps, bad shape, bad template
    DominoError (harness.errors)
    └── LoadEngineError      the engine itself failed (a worker died, a worker timed out)

An unsafe target raises :class:`harness.errors.UnsafeTargetError` (a
``UsageError``) from :func:`harness.network_safety.check_target`, before any traffic.
"""

from __future__ import annotations

from harness.errors import DominoError, UsageError

__all__ = ["LoadEngineError", "LoadPlanError"]


class LoadPlanError(UsageError):
    """A load plan that is refused before anything is sent (the message names the field)."""


class LoadEngineError(DominoError):
    """The engine could not complete a run (for example a worker process died)."""
