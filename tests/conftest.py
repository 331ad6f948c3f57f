"""Shared test setup: Domino's own pytest plugin is loaded from its entry point.

The suite runs on several workers (``make test``: pytest-xdist, ``--dist
loadscope``, its scopes given by :func:`unit_of`): each worker takes the next
unit of work from one queue when it is nearly out of work. A unit is a whole
module (its module-scoped fixtures, such as a started stack or a measured
defence map, are then built once, on one worker), except for the modules in
:data:`SPLIT`, whose long, independent tests are units of their own, and the
:data:`HEAVY` tests, one unit together. The queue holds the units longest first
(longest first is the classic rule for balancing jobs on machines, and the
workers then end on short units rather than one waiting for the other's long
one); the order within a module, and of the modules not listed, is kept.
"""

from __future__ import annotations

import os
import time
from typing import Any

import pytest

#: Modules by the time their tests take together, longest first (measured with
#: ``DOMINO_TEST_TIMELINE``: docs/benchmarks.md, "The test suite"); the others follow.
LONG_FIRST = (  # (the incidents' module is all in the heavy unit, which comes first)
    "tests/explore/test_matrix.py",  # 205 s
    "tests/defences/test_defences.py",  # 65 s once its three measured maps are built once
    "tests/explore/test_cliff.py",  # 86 s
    "tests/services/test_fuzz.py",  # 58 s
    "tests/examples/test_shop.py",  # 55 s
    "tests/docker/test_docker_kill_points.py",  # ~55 s
    "tests/docker/test_docker_incidents.py",  # ~45 s
    "tests/trust/test_exactly_once.py",  # 38 s
    "tests/explore/test_observed_cache.py",  # 30 s
    "tests/trust/test_kill_points.py",  # 33 s
    "tests/incidents/test_report_freshness.py",  # 32 s
    "tests/trust/test_secrets.py",  # 30 s
    "tests/incidents/test_cli_run.py",  # 29 s
    "tests/examples/test_shop_defences.py",  # 29 s
    "tests/chaos/test_core_loop.py",  # 29 s
    "tests/trust/test_crash_books.py",  # 29 s
    "tests/incidents/test_flood_answers.py",  # 27 s
    "tests/defences/test_bank_knobs.py",  # 26 s
    "tests/trust/test_fuzz_files.py",  # 21 s
    "tests/chaos/test_lifecycle.py",  # 21 s
    "tests/foreign/test_foreign_matrix.py",  # 20 s
    "tests/explore/test_observed.py",  # 19 s
    "tests/toxiproxy/test_http_faults.py",  # 18 s
    "tests/services/test_cascade.py",  # 17 s
    "tests/examples/test_shop_matrix.py",  # 13 s
    "tests/services/test_features.py",  # 13 s
    "tests/toxiproxy/test_keepalive_system.py",  # 13 s
    "tests/doctor/test_doctor.py",  # 13 s
    "tests/loadgen/test_command.py",  # 13 s
    "tests/topologies/test_topology_errors.py",  # 12 s
    "tests/toxiproxy/test_faults_on_each_server.py",  # 12 s
    "tests/chaos/test_service_deaths.py",  # 11 s
    "tests/specs/test_input_limits.py",  # 11 s
    "tests/trust/test_spawn_interrupts.py",  # 11 s
    "tests/ci/test_ci_workflow.py",  # 11 s
    "tests/topologies/test_adapter_in_a_project.py",  # 10 s
)

#: Modules whose tests are each a unit of work: long and independent (their
#: stacks come from the session's pool, or a module stack costs little beside them).
SPLIT = frozenset(
    {
        "tests/explore/test_matrix.py",
        "tests/explore/test_cliff.py",
        "tests/examples/test_shop.py",
        "tests/docker/test_docker_kill_points.py",
        "tests/docker/test_docker_incidents.py",
        "tests/trust/test_kill_points.py",
    }
)


#: Tests that use more than their share of the cores: a flood (its load engine's lag
#: is judged) or several stacks side by side. They form one unit, run one after
#: another on one worker, so two never overlap (a flood beside three KB Pay runs
#: once saw its answers' p99 pushed past the SLO).
HEAVY = (
    "tests/incidents/test_incidents.py::",  # its runs of three stacks side by side, floods
    "tests/incidents/test_flood_answers.py::",
    "tests/trust/test_flood_books.py::",
    "tests/explore/test_matrix.py::test_hardened_bank_contains_faults_on_card_and_pay_",
    "tests/explore/test_matrix.py::test_merged_shard_reports_equal_an_unsharded_run",
)


def _module(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def unit_of(nodeid: str) -> str:
    """The unit of work a test belongs to (tests of one unit run on one worker, in order)."""
    if nodeid.startswith(HEAVY):
        return "heavy"
    module = _module(nodeid)
    return nodeid if module in SPLIT else module


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {path: i for i, path in enumerate(LONG_FIRST)}

    def key(item: pytest.Item) -> int:  # the heavy unit first: it is the longest
        if item.nodeid.startswith(HEAVY):
            return -1
        return rank.get(_module(item.nodeid), len(LONG_FIRST))

    items.sort(key=key)  # stable


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadscope`` with :func:`unit_of` as the scope (xdist's own grouping
    by mark, ``loadgroup``, renames each test's node id, which pytest 9 ignores)."""
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class Units(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            return unit_of(nodeid)

    return Units(config, log)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> object:
    """With ``DOMINO_TEST_TIMELINE=FILE``, append each test's worker, start and end
    (seconds since the epoch) to FILE, one tab-separated line per test: the data
    behind the suite's timeline in docs/benchmarks.md (which worker waited on which)."""
    path = os.environ.get("DOMINO_TEST_TIMELINE")
    started_s = time.time()
    yield
    if path:
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        with open(path, "a", encoding="utf-8") as timeline:
            timeline.write(f"{worker}\t{started_s:.3f}\t{time.time():.3f}\t{item.nodeid}\n")
