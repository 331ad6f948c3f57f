"""The pytest plugin refuses a stack holding faults its session did not put there.

``domino_stack`` checks the session's stack before every test
(:mod:`harness.pytest_plugin`): a toxic or a disabled proxy that some other
tool left on its Toxiproxy fails the test by name (proxy, toxic name, type and
stream) instead of being cleared silently or skewing the test. Proved here
with pytester: an inner session whose first test reaches the session's stack
through the pool (not through ``domino_stack``) and changes its Toxiproxy
directly with a client of its own, behind the plugin's back; each following
test that takes ``domino_stack`` must not run its body. The inner session
starts one bank stack (local backend), in a private ``DOMINO_HOME``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.toxiproxy.binary import find_toxiproxy

pytest_plugins = ["pytester"]

#: Found before pytester moves HOME and the working directory to its own folder.
TOXIPROXY = find_toxiproxy()

INNER = """
from harness.toxiproxy.client import ToxicInfo, ToxiproxyClient

PROXY = "domino_card_to_pay"


def _behind_the_plugins_back(pool):
    stack = pool.get("local", None, None)  # the stack domino_stack hands out
    return ToxiproxyClient(stack.toxiproxy.api_url)


def test_1_another_tool_adds_a_toxic(domino_stack_pool):
    toxiproxy = _behind_the_plugins_back(domino_stack_pool)
    toxiproxy.add_toxic(
        PROXY,
        ToxicInfo("left_by_another_tool", "latency", "upstream", 1.0, {"latency": 700}),
    )
    assert [t.name for t in toxiproxy.toxics(PROXY)] == ["left_by_another_tool"]


def test_2_takes_the_stack_holding_the_toxic(domino_stack):
    raise AssertionError("BODY RAN: the plugin let a test run on a stack with a foreign toxic")


def test_3_the_toxic_is_still_there_and_another_tool_disables_a_proxy(domino_stack_pool):
    toxiproxy = _behind_the_plugins_back(domino_stack_pool)
    # Refused, not cleared: the plugin left the other tool's toxic where it was.
    assert [t.name for t in toxiproxy.toxics(PROXY)] == ["left_by_another_tool"]
    toxiproxy.remove_toxic(PROXY, "left_by_another_tool")
    toxiproxy.set_enabled("domino_bank_to_card", False)


def test_4_takes_the_stack_with_a_disabled_proxy(domino_stack):
    raise AssertionError("BODY RAN: the plugin let a test run on a stack with a disabled proxy")


def test_5_another_tool_enables_it_again(domino_stack_pool):
    _behind_the_plugins_back(domino_stack_pool).set_enabled("domino_bank_to_card", True)


def test_6_takes_the_clean_stack(domino_stack):
    assert domino_stack.injector.leftovers() == []
"""


def test_domino_stack_fails_a_test_naming_a_toxic_and_a_disabled_proxy_it_did_not_put_there(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DOMINO_TOXIPROXY_BIN", str(TOXIPROXY))
    monkeypatch.setenv("DOMINO_HOME", str(tmp_path / "home"))
    pytester.makepyfile(test_inner=INNER)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rA", timeout=180)
    result.assert_outcomes(passed=4, errors=2)
    out = result.stdout.str()
    # Each refusal is reported at the setup of the test that took domino_stack.
    result.stdout.re_match_lines(
        [
            r"ERROR .*test_2_takes_the_stack_holding_the_toxic.*",
            r"ERROR .*test_4_takes_the_stack.*",
        ],
        consecutive=False,
    )
    assert "BODY RAN" not in out
    # The refusal names the proxy, the toxic's name, its type and stream.
    assert (
        "the stack holds faults this test session did not put there: "
        "toxic left_by_another_tool (latency, upstream) on domino_card_to_pay"
    ) in out
    assert "proxy domino_bank_to_card disabled" in out
    # The session tore its stack down: no run record is left in its DOMINO_HOME.
    assert not list((tmp_path / "home").glob("runs/*.json"))
