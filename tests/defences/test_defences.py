"""``domino defences`` on a system with four textbook mistakes (``tests/defences``: stdlib
Python services, real Toxiproxy, local backend), and on its profile that fixes them.

What the services are set to (``domino.yaml``), and the tolerances allowed:

- gateway waits 300 ms for pricing, 400 ms for profile, 400 ms per attempt for ledger;
  fragile profile waits 1200 ms for telemetry (fixed: 150 ms).
- A deadline search finds each deadline in ``Deadline.range_ms``, at most the search's
  resolution plus twice the journey's own time wide: the configured deadline must lie in it,
  give or take ``SLACK_MS`` for timers and scheduling on a shared machine; the whole wait
  at the top of the range, per attempt, is the configured deadline give or take ``SLACK_MS``.
- A caller's whole wait at the top of the range is its deadline times its attempts, give or
  take ``SLACK_MS``; where a caller further out stops waiting first, it is that one's deadline.
- ``domino.yaml`` declares each caller's settings as the services are configured (the
  ``fixed`` profile's own over them): every one agrees with the measurement, within the
  tolerances :mod:`harness.explore.defences.declared` states.
"""

from __future__ import annotations

import html
import json
from dataclasses import replace
from pathlib import Path

import pytest

from harness import find_topology, start_stack
from harness.cli import main
from harness.explore.attribution import declared_line
from harness.explore.defences import (
    DefenceMap,
    compare_declared,
    compare_maps,
    measure_defences,
    render_defences_html,
)
from harness.explore.defences.model import BACKOFF_MS
from harness.model.topology import DeclaredDefences

SYSTEM = Path(__file__).resolve().parent / "domino.yaml"
RESOLUTION_MS = 50.0
MAX_MS = 1500.0
SLACK_MS = 40.0


@pytest.fixture(scope="module")
def fragile() -> DefenceMap:
    with start_stack("local", topology=find_topology(SYSTEM), profile="fragile") as stack:
        found = measure_defences(stack, resolution_ms=RESOLUTION_MS, max_ms=MAX_MS)
        assert stack.injector.leftovers() == []
    return found


@pytest.fixture(scope="module")
def fixed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    folder = tmp_path_factory.mktemp("defences-fixed")
    code = main(
        [
            "defences",
            "--topology",
            str(SYSTEM),
            "--profile",
            "fixed",
            "--resolution-ms",
            str(RESOLUTION_MS),
            "--max-ms",
            str(MAX_MS),
            "--report",
            str(folder),
        ]
    )
    data = json.loads((folder / "defences.json").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    page = (folder / "defences.html").read_text(encoding="utf-8")
    junit = (folder / "junit.xml").read_text(encoding="utf-8")
    return {"code": code, "page": page, "junit": junit, **data}


@pytest.fixture(scope="module")
def compared(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """``--profile fragile --profile fixed`` on the ledger edge only (one call per journey),
    its search's range from the deadlines domino.yaml declares."""
    folder = tmp_path_factory.mktemp("defences-compared")
    (folder / "defences.html").write_text("the last run's page", encoding="utf-8")
    code = main(
        [
            "defences",
            "--topology",
            str(SYSTEM),
            "--profile",
            "fragile",
            "--profile",
            "fixed",
            "--edges",
            "gateway->ledger",
            "--calls",
            "1",
            "--resolution-ms",
            "100",
            "--report",
            str(folder),
        ]
    )
    data = json.loads((folder / "defences.json").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    page = (folder / "defences.html").read_text(encoding="utf-8")
    return {"code": code, "page": page, **data}


def _deadline_near(defences: DefenceMap, edge: str, configured_ms: float) -> None:
    deadline = defences.edge(edge).deadline
    assert deadline is not None
    assert deadline.outcome == "found", deadline
    assert deadline.range_ms is not None
    low_ms, high_ms = deadline.range_ms
    assert high_ms - low_ms <= RESOLUTION_MS + 2 * deadline.base_ms + 1
    assert low_ms - SLACK_MS <= configured_ms <= high_ms + SLACK_MS, (edge, deadline.range_ms)
    # The whole wait per attempt is the sharper number.
    assert deadline.per_attempt_ms == pytest.approx(configured_ms, abs=SLACK_MS), edge


def test_every_callers_deadline_is_measured_where_it_is_configured(fragile: DefenceMap) -> None:
    _deadline_near(fragile, "gateway->pricing", 300)
    _deadline_near(fragile, "gateway->profile", 400)
    _deadline_near(fragile, "gateway->ledger", 400)  # per attempt: a retry shows it
    ledger = fragile.edge("gateway->ledger").deadline
    assert ledger is not None
    assert ledger.attempts_at_max == 3
    assert ledger.waited_ms == pytest.approx(1200, abs=3 * SLACK_MS)
    assert ledger.answer_status == 503
    # The journey's answer and time with the top latency held: the caller's own answer.
    pricing = fragile.edge("gateway->pricing").deadline
    assert pricing is not None
    assert (pricing.answer_status, pricing.attempts_at_max) == (200, 1)
    assert pricing.waited_ms == pytest.approx(300, abs=SLACK_MS)


def test_an_inner_timeout_longer_than_its_callers_is_found_and_attributed(
    fragile: DefenceMap,
) -> None:
    (finding,) = fragile.findings_of("timeout-budget")
    assert (finding.caller, finding.edge) == ("profile", "profile->telemetry")
    assert finding.setting == "its deadline on profile->telemetry"
    assert finding.path == ("client->gateway", "gateway->profile", "profile->telemetry")
    # profile (1200 ms) was still waiting when gateway stopped at its 400 ms.
    assert finding.numbers["outer_deadline_ms"] == pytest.approx(400, abs=RESOLUTION_MS + SLACK_MS)
    assert finding.numbers["inner_wait_ms"] == pytest.approx(400, abs=SLACK_MS)
    assert "profile was still waiting on profile->telemetry when gateway stopped" in (
        finding.message
    )
    # The measured waits first, caller by caller along the path.
    assert finding.message.startswith("gateway waits ")
    assert " ms for profile; profile waits at least " in finding.message


def test_a_retry_loop_to_the_same_target_is_found_with_its_attempts(fragile: DefenceMap) -> None:
    (finding,) = fragile.findings_of("retry-same-target")
    assert (finding.caller, finding.edge) == ("gateway", "gateway->ledger")
    assert finding.numbers["attempts_per_request"] == 3.0
    ledger = fragile.edge("gateway->ledger")
    assert {p.fault: p.attempts_per_request for p in ledger.failures} == {
        "http_status 503": 3.0,
        "http_abort": 3.0,
        "http_status 503 Retry-After 1 s": 3.0,
        "down": 3.0,
    }
    # Back to back, and told to wait a second it tries again at once.
    assert ledger.backoff_ms is not None
    assert ledger.backoff_ms < BACKOFF_MS
    assert ledger.retry_after == "ignored"
    assert ledger.retry_text() == "back to back; ignores Retry-After"
    assert fragile.edge("gateway->pricing").retry_after == "no retry"
    assert fragile.findings_of("retry-amplification") == ()  # one retrying caller only


def test_a_critical_dependency_without_a_fallback_is_a_single_point_of_failure(
    fragile: DefenceMap,
) -> None:
    (finding,) = fragile.findings_of("single-point-of-failure")
    assert (finding.caller, finding.edge, finding.journey) == ("gateway", "gateway->ledger", "pay")
    assert finding.numbers["ok_calls"] == 0


def test_a_fallback_is_seen_from_the_traffic_and_is_no_single_point(fragile: DefenceMap) -> None:
    assert fragile.edge("gateway->pricing").fallbacks == ("gateway->spare",)
    spare = fragile.edge("gateway->spare")
    assert spare.journeys == ()
    assert "crossed while gateway->pricing failed" in spare.note
    # profile's answer without telemetry is a soft dependency handled: no finding either.
    assert {(f.check, f.edge) for f in fragile.findings} == {
        ("timeout-budget", "profile->telemetry"),
        ("retry-same-target", "gateway->ledger"),
        ("soft-wait-past-slo", "gateway->profile"),
        ("single-point-of-failure", "gateway->ledger"),
    }


def test_a_soft_dependency_waited_on_past_the_slo_is_found_with_its_wait(
    fragile: DefenceMap,
) -> None:
    (finding,) = fragile.findings_of("soft-wait-past-slo")
    # gateway answers without profile (200), but only after its 400 ms: the SLO is 350 ms.
    assert (finding.caller, finding.edge, finding.journey) == (
        "gateway",
        "gateway->profile",
        "profile",
    )
    assert finding.setting == "its deadline on gateway->profile"
    assert finding.numbers["slo_p95_ms"] == 350
    assert finding.numbers["waited_ms"] == pytest.approx(400, abs=SLACK_MS)
    assert finding.numbers["took_ms"] > 350
    assert "before it answers without profile (200)" in finding.message
    # telemetry's wait was gateway's (it stopped first): the finding is gateway's alone.
    assert all(f.edge != "profile->telemetry" for f in fragile.findings_of("soft-wait-past-slo"))


def test_the_fixed_profile_has_no_finding_and_the_command_says_so(
    fixed: dict[str, object],
) -> None:
    assert fixed["code"] == 0
    assert (fixed["kind"], fixed["complete"], fixed["profile"]) == (
        "domino-defences",
        True,
        "fixed",
    )
    assert fixed["findings"] == []
    edges = {e["edge"]: e for e in fixed["edges"]}  # type: ignore[attr-defined]
    telemetry = edges["profile->telemetry"]["deadline"]
    low_ms, high_ms = telemetry["range_ms"]
    assert low_ms - SLACK_MS <= 150 <= high_ms + SLACK_MS
    profile = edges["gateway->profile"]["deadline"]
    assert profile["per_attempt_ms"] == pytest.approx(250, abs=SLACK_MS)
    assert edges["gateway->ledger"]["attempts_per_request"] == 1.0
    assert edges["gateway->ledger"]["fallbacks"] == ["gateway->spare"]
    assert edges["gateway->ledger"]["deadline"]["answer"]["status"] == 202


def test_every_declared_setting_agrees_with_what_was_measured(fragile: DefenceMap) -> None:
    assert fragile.declared is not None
    assert fragile.mismatches == ()
    assert fragile.declared.not_compared == ()
    assert sorted(fragile.declared.agree) == sorted(
        [
            ("gateway->pricing", "timeout_ms"),
            ("gateway->pricing", "retries"),
            ("gateway->pricing", "fallback"),
            ("gateway->profile", "timeout_ms"),
            ("gateway->profile", "fallback"),
            # 1200 ms: at least the 400 ms measured, as gateway stopped first.
            ("profile->telemetry", "timeout_ms"),
            ("gateway->ledger", "timeout_ms"),
            ("gateway->ledger", "retries"),
            ("gateway->ledger", "fallback"),
        ]
    )


def test_a_declaration_the_measurement_contradicts_is_a_mismatch_with_both_values(
    fragile: DefenceMap,
) -> None:
    wrong = {
        "gateway->pricing": DeclaredDefences(timeout_ms=1000, fallback=()),
        "gateway->ledger": DeclaredDefences(retries=0),
        # Below what was measured even though gateway stopped first: profile waited longer.
        "profile->telemetry": DeclaredDefences(timeout_ms=100),
        # Inside the tolerance (50 ms) of the range measured around 400 ms: agrees.
        "gateway->profile": DeclaredDefences(timeout_ms=440),
        "gateway->spare": DeclaredDefences(timeout_ms=2000),
    }
    check = compare_declared(fragile, wrong)
    found = {(m.edge, m.setting): m for m in check.mismatches}
    assert set(found) == {
        ("gateway->pricing", "timeout_ms"),
        ("gateway->pricing", "fallback"),
        ("gateway->ledger", "retries"),
        ("profile->telemetry", "timeout_ms"),
    }
    retries = found[("gateway->ledger", "retries")]
    assert (retries.caller, retries.declared, retries.measured) == (
        "gateway",
        "0 (1 attempts)",
        "3.0 attempts per request",
    )
    fallback = found[("gateway->pricing", "fallback")]
    assert (fallback.declared, fallback.measured) == ("none", "gateway->spare")
    assert "measured: at least" in found[("profile->telemetry", "timeout_ms")].message
    assert check.agree == (("gateway->profile", "timeout_ms"),)
    # No journey crosses spare: its declaration is not compared, and says why.
    ((edge, setting, why),) = check.not_compared
    assert (edge, setting) == ("gateway->spare", "timeout_ms")
    assert "no journey crosses it" in why


def test_the_page_shows_every_edge_and_every_finding_with_its_numbers(
    fragile: DefenceMap,
) -> None:
    page = render_defences_html([fragile], None)
    assert page.count("<svg") == 1
    for edge in fragile.edges:
        assert f"<code>{html.escape(edge.edge)}</code>" in page
        assert f"<title>{html.escape(edge.edge)}</title>" in page  # an arrow in the graph
    assert len(fragile.findings) == 4
    for finding in fragile.findings:
        assert html.escape(finding.message) in page
    assert "3.0" in page  # gateway's attempts per payment
    assert "Declared in domino.yaml" in page
    assert "http" not in page.split("<body>")[0].replace("http-equiv", "")  # nothing loaded


def test_the_fixed_profiles_report_folder_holds_the_page_and_junit(
    fixed: dict[str, object],
) -> None:
    page = str(fixed["page"])
    for edge in fixed["edges"]:  # type: ignore[attr-defined]
        assert f"<code>{html.escape(edge['edge'])}</code>" in page
    assert "0 findings" in page
    assert 'failures="0"' in str(fixed["junit"])


def test_two_profiles_show_the_findings_a_fix_made_disappear(
    compared: dict[str, object],
) -> None:
    assert compared["code"] == 0  # judged on the second profile: the fix
    assert compared["compare"] == ["fragile", "fixed"]
    maps = compared["maps"]
    assert isinstance(maps, dict)
    assert {f["check"] for f in maps["fragile"]["findings"]} == {
        "retry-same-target",
        "single-point-of-failure",
    }
    assert maps["fixed"]["findings"] == []
    # No --max-ms: the search went past the deadline declared (400 ms x 3 attempts in
    # fragile), to twice the pay journey's 1,500 ms SLO.
    for profile in ("fragile", "fixed"):
        (ledger,) = maps[profile]["edges"]
        assert ledger["deadline"]["max_ms"] == 3000
        assert "declared in domino.yaml" in ledger["deadline"]["max_why"]
        assert ledger["deadline"]["outcome"] == "found"
    changes = compared["changes"]
    assert isinstance(changes, dict)
    assert sorted((f["check"], f["edge"]) for f in changes["findings_gone"]) == [
        ("retry-same-target", "gateway->ledger"),
        ("single-point-of-failure", "gateway->ledger"),
    ]
    assert changes["findings_new"] == changes["findings_kept"] == []
    changed = {c["what"]: (c["before"], c["after"]) for c in changes["changes"]}
    assert changed["attempts/request"] == ("3.0", "1.0")
    assert changed["fallbacks"] == ("none", "gateway->spare")
    assert "(503)" in changed["deadline"][0]
    assert "(202)" in changed["deadline"][1]
    page = str(compared["page"])
    assert "the last run's page" not in page
    assert "From fragile to fixed" in page
    assert "Findings gone in fixed" in page


def test_more_than_two_profiles_or_an_unknown_one_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    for profiles in (["fragile", "fixed", "fragile"], ["fragile", "nope"]):
        argv = ["defences", "--topology", str(SYSTEM), "--report", str(tmp_path / "r")]
        for name in profiles:
            argv += ["--profile", name]
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1, err
        assert "profile" in err, err
    assert not (tmp_path / "r").exists()  # refused before anything started


def test_a_matrix_attribution_quotes_what_domino_yaml_declares_along_the_path() -> None:
    topology = find_topology(SYSTEM)
    path = ("client->gateway", "gateway->profile", "profile->telemetry")
    assert declared_line(topology, "fragile", path) == (
        "gateway->profile: timeout_ms 400, fallback none; profile->telemetry: timeout_ms 1200"
    )
    # The fixed profile's own declarations over the edges'.
    assert declared_line(topology, "fixed", path) == (
        "gateway->profile: timeout_ms 250, fallback none; profile->telemetry: timeout_ms 150"
    )
    assert declared_line(topology, "fixed", ("client->gateway",)) == ""


def test_a_change_between_profiles_counts_only_past_the_tolerances(fragile: DefenceMap) -> None:
    pricing = fragile.edge("gateway->pricing")
    assert pricing.deadline is not None
    assert pricing.deadline.waited_ms is not None

    def waited(extra_ms: float) -> DefenceMap:
        assert pricing.deadline is not None
        assert pricing.deadline.waited_ms is not None
        moved = replace(pricing.deadline, waited_ms=pricing.deadline.waited_ms + extra_ms)
        edges = tuple(replace(e, deadline=moved) if e is pricing else e for e in fragile.edges)
        return replace(fragile, edges=edges, profile="other")

    assert compare_maps(fragile, fragile).changes == ()
    assert compare_maps(fragile, waited(45)).changes == ()  # within 50 ms: noise
    (change,) = compare_maps(fragile, waited(80)).changes
    assert (change.edge, change.what) == ("gateway->pricing", "deadline")
    same = compare_maps(fragile, fragile)
    assert same.gone == same.new == ()
    assert len(same.kept) == len(fragile.findings)


def test_a_caller_that_waits_as_long_as_retry_after_says_honours_it(fragile: DefenceMap) -> None:
    ledger = fragile.edge("gateway->ledger")
    told = next(p for p in ledger.failures if p.fault == "http_status 503 Retry-After 1 s")
    assert told.took_ms < 900  # as measured: gateway did not wait
    # The same attempts, had each call taken the two seconds two waits of 1 s take.
    waited = replace(told, took_ms=2_050.0)
    patient = replace(ledger, failures=tuple(waited if p is told else p for p in ledger.failures))
    assert patient.retry_after == "honoured"
    assert patient.retry_text() == "back to back; honours Retry-After"
