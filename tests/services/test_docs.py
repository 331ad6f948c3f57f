"""The documentation says what the services really answer."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from harness import Stack

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.domino_profile("hardened")
def test_every_invariant_and_stats_key_is_documented(
    domino_stack: Stack, http: httpx.Client
) -> None:
    doc = (ROOT / "docs" / "services.md").read_text()
    admin = {"X-Admin-Token": domino_stack.admin_token}
    for name, url in domino_stack.services.items():
        for route in ("invariants", "stats"):
            report = http.get(f"{url}/admin/{route}", headers=admin).json()
            missing = [key for key in report if f"`{key}`" not in doc]
            assert not missing, f"{name} /admin/{route} keys not in docs/services.md: {missing}"
        served = http.get(f"{url}/error-codes").json()["codes"]
        documented = (ROOT / "docs" / "error-codes.md").read_text()
        assert all(f"| {c['code']} | {c['http_status']} |" in documented for c in served)
