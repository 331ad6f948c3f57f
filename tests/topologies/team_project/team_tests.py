"""A team's own pytest file (copied into the team's project as tests/test_team.py)."""

from collections.abc import Callable

from harness import JourneyClient
from harness.model.topology import Journey


def test_stock_answers(
    domino_user: JourneyClient, domino_journey: Callable[[str], Journey]
) -> None:
    assert domino_user.run(domino_journey("stock")).ok
