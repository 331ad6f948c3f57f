"""The load engine's own errors, declared with every other in :mod:`harness.errors`.

    UsageError (harness.errors)
    └── LoadPlanError        a plan that cannot run: no caps, bad shape, bad template
    DominoError (harness.errors)
    └── LoadEngineError      the engine itself failed (a worker died, a worker timed out)

An unsafe target raises :class:`harness.errors.UnsafeTargetError` (a
``UsageError``) from :func:`harness.infra.network_safety.check_target`, before any traffic.
"""

from __future__ import annotations

from harness.errors import LoadEngineError, LoadPlanError

__all__ = ["LoadEngineError", "LoadPlanError"]
