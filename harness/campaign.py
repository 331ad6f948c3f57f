"""Running incidents under profiles: one stack per profile, reused across incidents."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from harness.backends import start_stack
from harness.errors import UsageError
from harness.experiment import ProgressSink, RunResult, run_incident
from harness.spec import IncidentSpec

__all__ = ["run_campaign"]


def run_campaign(
    specs: Sequence[IncidentSpec],
    *,
    profiles: Sequence[str] | None = None,
    backend: str = "local",
    knobs: Mapping[str, Any] | None = None,
    progress: Callable[[str], ProgressSink] | None = None,
    say: Callable[[str], None] | None = None,
    stack_options: Mapping[str, Any] | None = None,
) -> list[RunResult]:
    """Run every spec under each of ``profiles`` (default: the profiles each spec lists).

    ``progress(label)`` makes a progress sink per run; ``say`` gets stack messages.
    """
    order: list[str] = []
    for spec in specs:
        for profile in profiles or spec.profiles:
            if profile not in spec.expect:
                raise UsageError(
                    f"{spec.id} has no expectations for profile {profile!r}; "
                    f"it declares: {', '.join(spec.profiles)}"
                )
            if profile not in order:
                order.append(profile)
    results: list[RunResult] = []
    for profile in order:
        chosen = [s for s in specs if profile in (profiles or s.profiles)]
        with start_stack(
            backend, profile=profile, knobs=knobs, progress=say, **dict(stack_options or {})
        ) as stack:
            for spec in chosen:
                sink = progress(f"{spec.id} [{profile}]") if progress else None
                results.append(run_incident(stack, spec, profile, progress=sink))
    return results
