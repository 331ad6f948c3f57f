"""One run of an incident over a running stack: observe, apply the timeline, gather
evidence, judge (:mod:`.run`); campaigns of runs (:mod:`.campaign`)."""

from harness.experiment.run import FaultWindow, ProgressSink, RunResult, run_incident

__all__ = ["FaultWindow", "ProgressSink", "RunResult", "run_incident"]
