"""One hardened stack for the trust tests (their own: crashes and toxics stay here).

The trust tests move money only for their own seeded customers (c0071 ...
c0086); see each module for which.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from harness import Stack, start_stack


@pytest.fixture(scope="package")
def trust_stack() -> Iterator[Stack]:
    """A local stack in the hardened profile, torn down when the trust tests end."""
    with start_stack("local", profile="hardened") as stack:
        yield stack


@pytest.fixture
def books_stack(trust_stack: Stack) -> Iterator[Stack]:
    """The trust stack, checked after each test: no fault left, every service's books hold."""
    yield trust_stack
    trust_stack.reset()  # raises FaultRemovalError when anything stayed behind
    with httpx.Client(timeout=10, headers={"X-Admin-Token": trust_stack.admin_token}) as http:
        for name, url in trust_stack.services.items():
            report = http.get(f"{url}/admin/invariants").json()
            assert report["ok"], f"{name} invariants broken: {report['violations']}"
