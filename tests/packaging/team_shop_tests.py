"""A team's own test of its Go shop, as it would sit in the team's project.

Not collected by Domino's suite (the name matches neither ``test_*.py`` nor
``*_test.py``): ``.ci/wheel.sh`` copies it, with the shop and its domino.yaml, into a project
outside the checkout and runs it with the pytest of a virtualenv where only
the built domino-chaos wheel is installed. The fixtures come from Domino's
pytest plugin (entry point ``pytest11: domino``); the stack is the project's
``./domino.yaml``.
"""

from __future__ import annotations

from collections.abc import Callable

import harness
from harness import JourneyClient, Latency, Stack
from harness.model.topology import Journey


def test_domino_is_the_installed_wheel_not_a_checkout() -> None:
    assert "site-packages" in harness.__file__, harness.__file__


def test_checkout_pays_through_every_proxy(
    domino_stack: Stack, domino_user: JourneyClient, domino_journey: Callable[[str], Journey]
) -> None:
    assert domino_stack.topology.name == "shop"
    seen = domino_user.run(domino_journey("checkout"))
    assert seen.ok, seen


def test_a_slow_payments_edge_slows_checkout_but_not_browse(
    domino_user: JourneyClient,
    domino_journey: Callable[[str], Journey],
    inject: Callable[..., object],
) -> None:
    added_ms = 300
    inject(Latency(edge="checkout->payments", latency_ms=added_ms))
    checkout = domino_user.run(domino_journey("checkout"))
    browse = domino_user.run(domino_journey("browse"))
    assert checkout.ok, checkout
    assert checkout.latency_ms >= added_ms * 0.9, checkout
    assert browse.ok, browse
    assert browse.latency_ms < added_ms, browse
