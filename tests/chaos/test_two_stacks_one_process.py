"""Two stacks one process runs at once (``domino matrix --workers 2`` does) each keep
their own run record: a next run can find every process either started, and
neither stack's saves break the other's.

They once shared ``runs/local-<pid>.json``: each stack's save replaced the other's
list of processes, and two saves at the same moment failed (FileNotFoundError on
the shared temporary file), ending a matrix run.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

from harness import parse_topology, start_stack
from harness.infra.runstate import RunRecord, process_cmdline
from tests.chaos.two_servers import TWO_SERVERS


def test_two_stacks_started_at_once_in_one_process_each_record_their_own_processes(
    home: Path, tmp_path: Path
) -> None:
    topology = parse_topology(TWO_SERVERS, source="domino.yaml", base_dir=tmp_path)
    both_up = threading.Barrier(2, timeout=60)
    with ExitStack() as stacks, ThreadPoolExecutor(max_workers=2) as pool:

        def start(_index: int) -> None:
            stacks.enter_context(start_stack("local", topology=topology))
            both_up.wait()

        list(pool.map(start, (1, 2)))
        paths = sorted((home / "runs").glob("*.json"))
        assert [p.name for p in paths] == [
            f"local-{os.getpid()}-2.json",
            f"local-{os.getpid()}.json",
        ]
        records = [RunRecord.load(p) for p in paths]
        for record in records:
            assert sorted(p.name for p in record.processes) == ["back", "front", "toxiproxy"]
            assert all(process_cmdline(p.pid) == p.cmdline for p in record.processes), record
        pids = [p.pid for r in records for p in r.processes]
        assert len(set(pids)) == 6, records
    assert list((home / "runs").glob("*")) == []  # both records gone with their stacks
    # The names are free again: the next stack of this process is local-<pid>.json.
    with start_stack("local", topology=topology):
        assert (home / "runs" / f"local-{os.getpid()}.json").exists()


def test_saves_from_many_threads_at_once_never_fail(home: Path) -> None:
    record = RunRecord("local")
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda i: record.add_process(f"p{i}", os.getpid()), range(200)))
        assert len(RunRecord.load(record.path).processes) == 200
    finally:
        record.discard()
