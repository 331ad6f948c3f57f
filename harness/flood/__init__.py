"""Floods: open-loop demand from an incident's timeline (:class:`~harness.model.faults.Flood`).

A flood turns a topology's journeys into :mod:`harness.loadgen` request
templates and drives them against the stack's entry on the crypto-crash
schedule, from a thread beside the run's observer, in a forked engine
process (:mod:`harness.experiment.flooding`). Its virtual customers log in
before the run starts (a login costs nothing inside the measured window);
a journey whose headers hold ``{uuid}`` gets one key per user action, kept
across that action's retries, so a retried deposit is the same deposit.

The trigger (the hold) ends at the step's end; the flood then goes on at
its base rate for ``tail_s`` with the same retries. What the engine measured
is judged as two checks (:func:`flood_checks`): ``surge_answered`` (flood
actions were answered, not failed, and the admitted ones kept their SLO; a
429/503 counts as "told to wait" only with the system's honest code and
nothing applied, and an action that failed although the system applied it
is "failed but applied", :mod:`harness.flood.answers`) and
``surge_recovered`` (the flood's own traffic was healthy again, every second
to its end, within ``tail_s`` of the trigger's end: the time to recover is
the figure). An engine that fell behind its schedule makes the run
inconclusive, never passed.
"""

from harness.flood.answers import AppliedCheck, FloodOutcomes, applied_check, honest_wait
from harness.flood.judge import flood_checks
from harness.flood.plan import check_flood, crash_shape
from harness.flood.run import FloodRun, recovery_s

__all__ = [
    "AppliedCheck",
    "FloodOutcomes",
    "FloodRun",
    "applied_check",
    "check_flood",
    "crash_shape",
    "flood_checks",
    "honest_wait",
    "recovery_s",
]
