"""What changed between two reports (``domino compare BASE CANDIDATE``), for pull-request gates.

Three kinds of report compare, each with one of its own kind (a path may be
the file or the folder holding it):

- **matrices** (``matrix.json`` of ``domino matrix`` or ``report merge``),
  cell by cell (same id: edge and fault kind), journey by journey. A
  *regression* is what would fail the candidate matrix that did not fail
  the base: a new cascade violation (a journey newly violating its
  contract in a cell, or a violating cell only the candidate ran), a new
  failed-slow finding when the candidate was run ``--strict``, and a cell
  that was judged and is now inconclusive (its coverage is lost). An
  *improvement* is a violation (or strict finding) gone, or an
  inconclusive cell now judged. Other changes (a journey's verdict, cells
  run by only one side) are listed and do not fail;
- **run reports** (``report.json`` of ``domino run``), run by run (incident
  and profile): an outcome worse than before (pass → inconclusive → fail)
  or a check that passed and now fails is a regression; the reverse an
  improvement;
- **cliffs** (``cliffs.json`` of ``domino cliff``), by edge and journey: a
  cliff that appeared, or moved to less added latency by more than the
  searches' resolution (the journey tolerates less), is a regression; one
  gone or moved the other way an improvement.

The comparison reads only the reports: nothing is started.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from harness.errors import UsageError

__all__ = ["Change", "Comparison", "compare_reports", "load_report"]

ReportKind = Literal["matrix", "run", "cliffs"]
ChangeKind = Literal["regression", "improvement", "change"]

#: Which file a report folder holds, per kind.
_FILES: dict[str, ReportKind] = {
    "matrix.json": "matrix",
    "report.json": "run",
    "cliffs.json": "cliffs",
}
_MAX_REPORT_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Change:
    """One difference: whether it is a regression, an improvement or neither, and what."""

    kind: ChangeKind
    subject: str
    text: str

    def line(self) -> str:
        return f"{self.subject}: {self.text}"


@dataclass(frozen=True)
class Comparison:
    """Every change from ``base`` to ``candidate`` (two reports of one ``report_kind``)."""

    report_kind: ReportKind
    base: str
    candidate: str
    changes: tuple[Change, ...]

    def of(self, kind: ChangeKind) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.kind == kind)

    @property
    def regressed(self) -> bool:
        return bool(self.of("regression"))

    def describe(self) -> str:
        lines = [f"{self.report_kind} {self.base} -> {self.candidate}"]
        titles = (
            ("regression", "regressions"),
            ("improvement", "improvements"),
            ("change", "other changes"),
        )
        for kind, title in titles:
            found = self.of(kind)  # type: ignore[arg-type]
            if found:
                lines.append(f"{title} ({len(found)}):")
                lines += [f"  {c.line()}" for c in found]
        regressions, improvements = len(self.of("regression")), len(self.of("improvement"))
        if not self.changes:
            lines.append("no change")
        lines.append(f"{regressions} regression(s), {improvements} improvement(s)")
        return "\n".join(lines)


def load_report(path: Path) -> tuple[ReportKind, dict[str, Any] | list[Any]]:
    """The report at ``path`` (a file, or a folder holding one) and its kind; UsageError if none."""
    if path.is_dir():
        held = [path / name for name in _FILES if (path / name).is_file()]
        if len(held) != 1:
            raise UsageError(
                f"{path}: a folder to compare must hold one of {', '.join(_FILES)}; "
                f"it holds {len(held) or 'none'}"
            )
        path = held[0]
    try:
        if path.stat().st_size > _MAX_REPORT_BYTES:
            raise UsageError(f"{path}: over {_MAX_REPORT_BYTES // 2**20} MiB, not a Domino report")
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file; give a report file or folder") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise UsageError(f"{path}: not a JSON report ({exc})") from None
    if isinstance(raw, dict) and raw.get("kind") == "domino-matrix":
        if raw.get("complete") is False:
            raise UsageError(f"{path}: the matrix did not finish ({raw.get('reason', '?')})")
        _require(path, raw, "cells", list)
        return "matrix", raw
    if isinstance(raw, dict) and "runs" in raw:
        if raw.get("complete") is False:
            raise UsageError(f"{path}: the run did not finish ({raw.get('reason', '?')})")
        _require(path, raw, "runs", list)
        return "run", raw
    if isinstance(raw, list) and all(isinstance(c, dict) and "edge" in c for c in raw):
        return "cliffs", raw
    raise UsageError(
        f"{path}: not a Domino report (a matrix.json, a run's report.json or a cliffs.json)"
    )


def _require(path: Path, raw: Mapping[str, Any], key: str, kind: type) -> None:
    if not isinstance(raw.get(key), kind):
        raise UsageError(f"{path}: field {key!r} is missing or not a {kind.__name__}")


def compare_reports(base: Path, candidate: Path) -> Comparison:
    """Every change from the report at ``base`` to the one at ``candidate``."""
    base_kind, base_data = load_report(base)
    cand_kind, cand_data = load_report(candidate)
    if base_kind != cand_kind:
        raise UsageError(
            f"cannot compare a {base_kind} report ({base}) with a {cand_kind} report "
            f"({candidate}): give two of one kind"
        )
    try:
        if isinstance(base_data, dict) and isinstance(cand_data, dict):
            compare = _compare_matrices if base_kind == "matrix" else _compare_runs
            changes = compare(base_data, cand_data)
        else:  # load_report gives cliffs, and only cliffs, as a list
            changes = _compare_cliffs(list(base_data), list(cand_data))
    except (KeyError, TypeError, ValueError) as exc:
        raise UsageError(
            f"{base} or {candidate}: a {base_kind} report with a field missing or "
            f"of the wrong type ({type(exc).__name__}: {exc})"
        ) from None
    return Comparison(base_kind, str(base), str(candidate), tuple(changes))


# -- matrices -----------------------------------------------------------------------------


def _failing_journeys(cell: Mapping[str, Any], strict: bool) -> dict[str, str]:
    """The journeys that fail the matrix in ``cell`` (violations; strict: findings), with why."""
    failing = {}
    for journey in cell.get("journeys", []):
        if journey.get("violation"):
            failing[journey["journey"]] = f"cascade violation ({journey.get('reason', '')})"
        elif strict and journey.get("finding"):
            failing[journey["journey"]] = f"failed-slow finding ({journey.get('reason', '')})"
    return failing


def _verdicts(cell: Mapping[str, Any]) -> dict[str, str]:
    return {j["journey"]: str(j.get("label") or j.get("verdict")) for j in cell.get("journeys", [])}


def _compare_cell(
    cell_id: str, base: Mapping[str, Any], cand: Mapping[str, Any], strict: bool
) -> list[Change]:
    subject = f"cell {cell_id}"
    was, now = base["outcome"], cand["outcome"]
    if now == "inconclusive" and was != "inconclusive":
        why = "; ".join(cand.get("reasons", [])) or "no reason given"
        return [Change("regression", subject, f"became inconclusive (was {was}): {why}")]
    if was == "inconclusive" and now != "inconclusive":
        first = [Change("improvement", subject, f"judged again: {now} (was inconclusive)")]
        return first + [
            Change("regression", subject, f"{journey}: {why}")
            for journey, why in _failing_journeys(cand, strict).items()
        ]
    if "pruned" in (was, now):
        return [Change("change", subject, f"{was} -> {now}")] if was != now else []
    before, after = _failing_journeys(base, strict), _failing_journeys(cand, strict)
    changes = [
        Change("regression", subject, f"{journey}: new {why}")
        for journey, why in after.items()
        if journey not in before
    ]
    changes += [
        Change(
            "improvement",
            subject,
            f"{journey}: fixed, was {why}; now {_verdicts(cand).get(journey, 'not watched')}",
        )
        for journey, why in before.items()
        if journey not in after
    ]
    old, new = _verdicts(base), _verdicts(cand)
    changes += [
        Change("change", subject, f"{journey}: {old[journey]} -> {new[journey]}")
        for journey in new
        if journey in old
        and old[journey] != new[journey]
        and journey not in before
        and journey not in after
    ]
    return changes


def _compare_matrices(base: Mapping[str, Any], cand: Mapping[str, Any]) -> list[Change]:
    strict = bool(cand.get("strict"))
    changes: list[Change] = []
    if (base["topology"], base["profile"]) != (cand["topology"], cand["profile"]):
        changes.append(
            Change(
                "change",
                "matrix",
                f"{base['topology']} [{base['profile']}] -> {cand['topology']} [{cand['profile']}]",
            )
        )
    old = {c["id"]: c for c in base["cells"]}
    new = {c["id"]: c for c in cand["cells"]}
    for cell_id, cell in new.items():
        if cell_id in old:
            changes += _compare_cell(cell_id, old[cell_id], cell, strict)
            continue
        failing = _failing_journeys(cell, strict)
        changes += [
            Change("regression", f"cell {cell_id}", f"{journey}: {why} (cell not in base)")
            for journey, why in failing.items()
        ]
        if not failing:
            changes.append(
                Change("change", f"cell {cell_id}", f"only in candidate: {cell['outcome']}")
            )
    changes += [
        Change("change", f"cell {cell_id}", f"only in base: {cell['outcome']}")
        for cell_id, cell in old.items()
        if cell_id not in new
    ]
    return changes


# -- run reports -------------------------------------------------------------------------

_RUN_RANK = {"pass": 0, "inconclusive": 1, "fail": 2}


def _runs(data: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {f"{r['incident']['id']} [{r['profile']}]": r for r in data["runs"]}


def _compare_runs(base: Mapping[str, Any], cand: Mapping[str, Any]) -> list[Change]:
    changes: list[Change] = []
    old, new = _runs(base), _runs(cand)
    for key, run in new.items():
        subject = f"run {key}"
        if key not in old:
            kind: ChangeKind = "regression" if run["verdict"]["outcome"] != "pass" else "change"
            changes.append(Change(kind, subject, f"only in candidate: {run['verdict']['outcome']}"))
            continue
        was, now = old[key]["verdict"]["outcome"], run["verdict"]["outcome"]
        if was != now:
            worse = _RUN_RANK.get(now, 2) > _RUN_RANK.get(was, 2)
            reasons = "; ".join(run["verdict"].get("reasons", []))
            text = f"{was} -> {now}" + (f": {reasons}" if worse and reasons else "")
            changes.append(Change("regression" if worse else "improvement", subject, text))
        before = {c["name"]: c for c in old[key]["verdict"].get("checks", [])}
        for check in run["verdict"].get("checks", []):
            prior = before.get(check["name"])
            if prior is None or prior["passed"] == check["passed"]:
                continue
            state = "now fails" if not check["passed"] else "now passes"
            changes.append(
                Change(
                    "improvement" if check["passed"] else "regression",
                    subject,
                    f"{check['name']} {state}: expected {check['expected']}, "
                    f"measured {check['measured']} (was {prior['measured']})",
                )
            )
    changes += [Change("change", f"run {key}", "only in base") for key in old if key not in new]
    return changes


# -- cliffs ------------------------------------------------------------------------------


def _cliff_text(cliff: Mapping[str, Any]) -> str:
    if cliff.get("cliff_ms") is not None:
        return f"cliff at +{cliff['cliff_ms']:g} ms"
    if cliff.get("outcome") == "none_up_to_max":
        return f"no cliff up to +{cliff.get('max_ms', 0):g} ms"
    return "not healthy without added latency"


def _compare_cliffs(base: Sequence[Any], cand: Sequence[Any]) -> list[Change]:
    changes: list[Change] = []
    old = {(c["edge"], c["journey"]): c for c in base}
    for cliff in cand:
        key = (cliff["edge"], cliff["journey"])
        subject = f"{key[0]} x {key[1]}"
        prior = old.get(key)
        if prior is None:
            changes.append(Change("change", subject, f"only in candidate: {_cliff_text(cliff)}"))
            continue
        was_ms, now_ms = prior.get("cliff_ms"), cliff.get("cliff_ms")
        text = f"{_cliff_text(prior)} -> {_cliff_text(cliff)}"
        if was_ms is None and now_ms is None:
            if prior.get("outcome") != cliff.get("outcome"):
                worse = cliff.get("outcome") != "none_up_to_max"
                changes.append(Change("regression" if worse else "improvement", subject, text))
            continue
        if was_ms is None or now_ms is None:
            healthy_now = cliff.get("outcome") == "none_up_to_max"
            appeared = now_ms is not None and prior.get("outcome") == "none_up_to_max"
            kind: ChangeKind = (
                "regression" if appeared or (now_ms is None and not healthy_now) else "improvement"
            )
            changes.append(Change(kind, subject, text))
            continue
        slack_ms = max(float(prior.get("resolution_ms", 0)), float(cliff.get("resolution_ms", 0)))
        if now_ms < was_ms - slack_ms:
            changes.append(Change("regression", subject, f"{text}: tolerates less latency"))
        elif now_ms > was_ms + slack_ms:
            changes.append(Change("improvement", subject, f"{text}: tolerates more latency"))
    changes += [
        Change("change", f"{k[0]} x {k[1]}", f"only in base: {_cliff_text(c)}")
        for k, c in old.items()
        if all((x["edge"], x["journey"]) != k for x in cand)
    ]
    return changes
