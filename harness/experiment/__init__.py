"""One run of an experiment over a running stack: observe, apply the timeline, gather
evidence, judge (:mod:`.run`); an incident's run under a profile; campaigns of runs
(:mod:`.campaign`)."""

from harness.experiment.run import (
    ExperimentResult,
    ProgressSink,
    RunResult,
    run_experiment,
    run_incident,
)
from harness.experiment.timeline import FaultWindow

__all__ = [
    "ExperimentResult",
    "FaultWindow",
    "ProgressSink",
    "RunResult",
    "run_experiment",
    "run_incident",
]
