"""Running incidents under profiles: one stack per topology and profile, reused across incidents."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from harness.backends import start_stack
from harness.errors import UsageError
from harness.experiment import ProgressSink, RunResult, run_incident
from harness.model.incident import IncidentSpec
from harness.model.topology import Topology

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
    repeat: int = 1,
) -> list[RunResult]:
    """Run every spec under each of ``profiles`` (default: the profiles each spec lists).

    Specs run on the topology they were validated against; one stack is
    started per (topology, profile) and reused by every spec that needs it.
    ``progress(label)`` makes a progress sink per run; ``say`` gets stack messages.
    With ``repeat``, every spec runs that many times in a row on the same stack.
    """
    if not 1 <= repeat <= 100:
        raise UsageError(f"--repeat takes 1 to 100 runs, got {repeat}")
    order: list[tuple[Topology, str]] = []
    for spec in specs:
        if spec.topology is None:
            raise UsageError(f"{spec.id} was not validated against a topology")
        for profile in profiles or spec.profiles:
            if profile not in spec.expect:
                raise UsageError(
                    f"{spec.id} has no expectations for profile {profile!r}; "
                    f"it declares: {', '.join(spec.profiles)}"
                )
            if (spec.topology, profile) not in order:
                order.append((spec.topology, profile))
    results: list[RunResult] = []
    for topology, profile in order:
        chosen = [
            s for s in specs if s.topology == topology and profile in (profiles or s.profiles)
        ]
        with start_stack(
            backend,
            topology=topology,
            profile=profile,
            knobs=knobs,
            progress=say,
            **dict(stack_options or {}),
        ) as stack:
            for spec in chosen:
                for attempt in range(repeat):
                    label = f"{spec.id} [{profile}]" + (
                        f" run {attempt + 1}/{repeat}" if repeat > 1 else ""
                    )
                    sink = progress(label) if progress else None
                    results.append(run_incident(stack, spec, profile, progress=sink))
    return results
