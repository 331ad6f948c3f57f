"""Shared test setup: Domino's own pytest plugin is loaded from its entry point.

The suite runs on several workers (``make test``: pytest-xdist, worksteal). The
modules whose tests hold faults longest go first, so that the workers end on
short tests rather than one waiting for the other's long one (longest first is
the classic rule for balancing jobs on machines); the order within a module,
and of the others, is kept.
"""

from __future__ import annotations

import os
import time

import pytest

#: Modules whose tests take tens of seconds each (measured: docs/benchmarks.md, "The test
#: suite"), longest first.
LONG_FIRST = (
    "tests/incidents/test_incidents.py",
    "tests/explore/test_matrix.py",
    "tests/services/test_fuzz.py",
    "tests/explore/test_cliff.py",
    "tests/examples/test_shop.py",
    "tests/defences/test_defences.py",
    "tests/defences/test_bank_knobs.py",
    "tests/docker/test_docker_incidents.py",
    "tests/trust/test_exactly_once.py",
    "tests/trust/test_secrets.py",
    "tests/examples/test_shop_defences.py",
    "tests/foreign/test_foreign_matrix.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {path: i for i, path in enumerate(LONG_FIRST)}

    def key(item: pytest.Item) -> int:
        path = item.nodeid.split("::", 1)[0]
        return rank.get(path, len(LONG_FIRST))

    items.sort(key=key)  # stable: every other order is kept


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
