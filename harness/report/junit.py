"""JUnit XML: one test suite per run (incident x profile), one test case per expectation;
for a run that did not finish, one erring case that says so."""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree as ET

__all__ = ["render_incomplete_junit", "render_junit"]


def render_junit(data: dict[str, Any]) -> str:
    """The report data as JUnit XML: a suite per run, a case per check (inconclusive fails),
    an erring case per service that died with no fault to explain it."""
    suites = ET.Element("testsuites", name="domino")
    total = failures = errors = skipped = 0
    for run in data["runs"]:
        verdict = run["verdict"]
        name = f"{run['incident']['id']}[{run['profile']}]"
        suite = ET.SubElement(suites, "testsuite", name=name, time=f"{run['duration_s']:.3f}")
        cases = 0
        suite_failures = suite_skipped = 0
        for check in verdict["checks"]:
            cases += 1
            case = ET.SubElement(
                suite, "testcase", classname=f"domino.{name}", name=check["name"], time="0"
            )
            if verdict["outcome"] == "inconclusive":
                suite_skipped += 1
                ET.SubElement(
                    case, "skipped", message="inconclusive: " + "; ".join(verdict["reasons"])
                )
            elif not check["passed"]:
                suite_failures += 1
                failure = ET.SubElement(case, "failure", message=f"expected {check['expected']}")
                failure.text = f"expected: {check['expected']}\nmeasured: {check['measured']}"
            out = ET.SubElement(case, "system-out")
            out.text = f"measured: {check['measured']}"
        suite_errors = 0
        for death in run.get("service_deaths", []):
            # A finding of its own: the service, when, how it ended and its last log lines.
            cases += 1
            suite_errors += 1
            case = ET.SubElement(
                suite,
                "testcase",
                classname=f"domino.{name}",
                name=f"service {death['service']} lived through the run",
            )
            error = ET.SubElement(case, "error", message=death["description"])
            error.text = "last log lines:\n" + "\n".join(death["log_tail"])
        if verdict["outcome"] == "inconclusive":
            # A run that proved nothing must not look green in CI: one failing case says why.
            cases += 1
            suite_failures += 1
            case = ET.SubElement(
                suite, "testcase", classname=f"domino.{name}", name="conclusive run"
            )
            failure = ET.SubElement(case, "failure", message="inconclusive run")
            failure.text = "\n".join(verdict["reasons"])
        suite.set("tests", str(cases))
        suite.set("failures", str(suite_failures))
        suite.set("skipped", str(suite_skipped))
        suite.set("errors", str(suite_errors))
        total += cases
        failures += suite_failures
        errors += suite_errors
        skipped += suite_skipped
    suites.set("tests", str(total))
    suites.set("failures", str(failures))
    suites.set("errors", str(errors))
    suites.set("skipped", str(skipped))
    ET.indent(suites)
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
    )


def render_incomplete_junit(kind: str, reason: str) -> str:
    """JUnit XML for a ``kind`` of run ("run", "matrix") that did not finish: one case,
    erring with ``reason``, so CI never reads a pass from it."""
    suites = ET.Element("testsuites", name="domino", tests="1", failures="0", errors="1")
    suites.set("skipped", "0")
    suite = ET.SubElement(suites, "testsuite", name=f"domino {kind}", tests="1", time="0")
    suite.set("failures", "0")
    suite.set("errors", "1")
    suite.set("skipped", "0")
    case = ET.SubElement(suite, "testcase", classname=f"domino.{kind}", name=f"the {kind} finished")
    error = ET.SubElement(case, "error", message=f"the {kind} did not finish: {reason}")
    error.text = f"the {kind} did not finish: {reason}\nno result of it is in this folder"
    ET.indent(suites)
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
    )
