"""Several worker processes for one plan: the schedule dealt out, the results merged.

Worker ``w`` of ``N`` sends arrivals ``k`` with ``k % N == w`` of the one
global schedule (each worker walks the same seeded sequence), so the offered
load is the same whatever ``N`` is. Workers are forked (so a plan's hooks,
such as a header factory or a session login, need not be picklable), resolve
their sessions, say they are ready, and start together at a common
``time.monotonic()`` instant (the clock is system-wide on Linux). Each sends
its per-second snapshot as it goes, for the live progress line, and its
histograms encoded at the end; the parent merges them exactly.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import threading
import time
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess

from harness.errors import LoadEngineError
from harness.infra.processes import die_with_parent
from harness.loadgen.engine import ProgressCallback, resolve_sessions, run_worker
from harness.loadgen.loop import run_on_fast_loop
from harness.loadgen.plan import LoadPlan
from harness.loadgen.recorder import RawRun, RawSecond, build_result, merge_seconds
from harness.loadgen.result import LoadResult

__all__ = ["FINISH_MARGIN_S", "READY_TIMEOUT_S", "run_in_workers"]

READY_TIMEOUT_S = 30.0
"""How long the workers may take to start and resolve their sessions."""
_START_MARGIN_S = 0.1
FINISH_MARGIN_S = 10.0


def _worker_main(
    plan: LoadPlan, worker: int, workers: int, conn: Connection, parent_pid: int
) -> None:
    # A runner killed outright (SIGKILL) takes its load workers with it.
    die_with_parent(parent_pid)
    try:
        headers = resolve_sessions(plan, worker, workers)
        conn.send(("ready", None))
        kind, start_at = conn.recv()
        if kind != "start":
            return

        def on_second(raw: RawSecond) -> None:
            conn.send(("second", raw))

        raw = run_on_fast_loop(
            run_worker(
                plan,
                worker=worker,
                workers=workers,
                start_at=float(start_at),
                user_headers=headers,
                on_second=on_second,
            )
        )
        conn.send(("done", raw))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which raises
        with contextlib.suppress(OSError):
            conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


def _stop(processes: list[BaseProcess]) -> None:
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(5)
        if process.is_alive():
            process.kill()
            process.join(5)


def run_in_workers(
    plan: LoadPlan,
    *,
    progress: ProgressCallback | None = None,
    stop: threading.Event | None = None,
) -> LoadResult:
    """Run ``plan`` in ``plan.workers`` forked processes and merge their results.

    Setting ``stop`` ends the run early: the workers are terminated and
    :class:`LoadEngineError` is raised (there is no result to judge).
    """
    plan.check()
    workers = plan.workers
    ctx = multiprocessing.get_context("fork")
    processes: list[BaseProcess] = []
    conns: list[Connection] = []
    try:
        for worker in range(workers):
            parent_end, child_end = ctx.Pipe()
            process = ctx.Process(
                target=_worker_main,
                args=(plan, worker, workers, child_end, os.getpid()),
                name=f"domino-loadgen-{worker}",
                daemon=True,
            )
            process.start()
            child_end.close()
            processes.append(process)
            conns.append(parent_end)

        ready_by = time.monotonic() + READY_TIMEOUT_S
        for worker, conn in enumerate(conns):
            kind, payload = _receive(conn, worker, ready_by)
            if kind != "ready":
                raise LoadEngineError(f"load worker {worker} failed to start: {payload}")
        start_at = time.monotonic() + _START_MARGIN_S
        for conn in conns:
            conn.send(("start", start_at))

        finish_by = start_at + plan.max_duration_s + FINISH_MARGIN_S
        done = _collect(conns, finish_by, progress, stop)
        for started in processes:
            started.join(5)
        return build_result(
            [done[w] for w in range(workers)],
            schedule_duration_s=plan.shape.duration_s,
            lag_bound_p99_ms=plan.lag_bound_p99_ms,
            max_in_flight=plan.max_in_flight,
        )
    finally:
        _stop(processes)
        for conn in conns:
            conn.close()


def _collect(
    conns: list[Connection],
    finish_by: float,
    progress: ProgressCallback | None,
    stop: threading.Event | None = None,
) -> dict[int, RawRun]:
    """Every worker's result, passing each fully reported second to ``progress``."""
    workers = len(conns)
    done: dict[int, RawRun] = {}
    pending: dict[int, dict[int, RawSecond]] = {}
    by_conn = {id(conn): worker for worker, conn in enumerate(conns)}
    while len(done) < workers:
        waiting = [c for w, c in enumerate(conns) if w not in done]
        left_s = max(0.0, finish_by - time.monotonic())
        ready = wait(waiting, timeout=min(left_s, 0.2) if stop is not None else left_s)
        if stop is not None and stop.is_set():
            raise LoadEngineError("the load run was stopped before its end")
        if not ready and time.monotonic() < finish_by:
            continue
        if not ready:
            raise LoadEngineError(
                f"load workers did not finish within the time cap + {FINISH_MARGIN_S:g} s"
            )
        for conn in ready:
            assert isinstance(conn, Connection)
            worker = by_conn[id(conn)]
            kind, payload = _receive(conn, worker, finish_by)
            if kind == "done" and isinstance(payload, RawRun):
                done[worker] = payload
            elif kind == "second" and isinstance(payload, RawSecond):
                parts = pending.setdefault(payload.t_s, {})
                parts[worker] = payload
                if len(parts) == workers:
                    del pending[payload.t_s]
                    if progress is not None:
                        progress(merge_seconds(list(parts.values()))[1])
            else:
                raise LoadEngineError(f"load worker {worker} failed: {payload}")
    return done


def _receive(conn: Connection, worker: int, by: float) -> tuple[str, object]:
    if not conn.poll(max(0.0, by - time.monotonic())):
        raise LoadEngineError(f"load worker {worker} did not answer in time")
    try:
        kind, payload = conn.recv()
    except EOFError:
        raise LoadEngineError(f"load worker {worker} exited without a result") from None
    return str(kind), payload
