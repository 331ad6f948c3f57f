"""Incident specs: YAML files describing an outage to replay, validated precisely.

A spec names the incident (id, title, date, sources), the profiles to run it
under, the journeys users keep taking (with SLOs), background traffic, a fault
timeline (what, where, onset, hold, ramp) and, per profile, what must be seen.
Every mistake is one :class:`~harness.errors.SpecError` line naming the file,
the line, the field, what is wrong and what is allowed. Nothing is started
before a spec validates.

The format, field by field, is in ``docs/incidents.md``.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from harness.errors import FaultSpecError, SpecError
from harness.faults import FAULT_KINDS, EdgeFault, Fault, Latency, build_fault
from harness.journeys import Slo
from harness.topology import Topology

__all__ = [
    "INVARIANTS",
    "VERDICTS",
    "Expectation",
    "FaultStep",
    "IncidentSpec",
    "JourneyLoad",
    "load_spec",
    "parse_spec",
]

#: What a journey can be judged.
VERDICTS = ("healthy", "degraded", "failed")
#: Invariants every run checks.
INVARIANTS = ("ledger_conserved", "no_fault_left", "codes_truthful", "recovered")

_ID = re.compile(r"^[a-z0-9][a-z0-9-]{2,63}$")
_Path = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class JourneyLoad:
    """A journey driven by ``users`` virtual users, each pausing ``think_ms`` between calls."""

    journey: str
    users: int
    think_ms: int
    slo: Slo
    background: bool = False


@dataclass(frozen=True, slots=True)
class FaultStep:
    """One fault of the timeline: applied ``onset_s`` after the fault phase starts,
    held ``hold_s``; a latency fault with ``ramp_s`` grows to its value over that time."""

    fault: Fault
    onset_s: float
    hold_s: float
    ramp_s: float = 0.0

    @property
    def end_s(self) -> float:
        return self.onset_s + self.hold_s


@dataclass(frozen=True, slots=True)
class Expectation:
    """What a profile's run must show.

    ``journeys`` maps a journey to the verdicts allowed for it during the fault;
    ``codes`` maps a journey to error codes that must each be seen; ``invariants``
    maps an invariant to whether it must hold (True) or must be broken (False).
    """

    journeys: Mapping[str, tuple[str, ...]]
    codes: Mapping[str, tuple[str, ...]]
    invariants: Mapping[str, bool]


@dataclass(frozen=True)
class IncidentSpec:
    id: str
    title: str
    date: str
    sources: tuple[str, ...]
    summary: str
    profiles: tuple[str, ...]
    journeys: tuple[JourneyLoad, ...]
    background: tuple[JourneyLoad, ...]
    timeline: tuple[FaultStep, ...]
    expect: Mapping[str, Expectation]
    steady_state_s: float
    recovery_s: float
    client_timeout_s: float
    path: Path | None = None

    @property
    def fault_span_s(self) -> float:
        """From the start of the fault phase until the last fault is removed."""
        return max(step.end_s for step in self.timeline)

    @property
    def floor_s(self) -> float:
        """Time a run cannot be shorter than: steady state, faults, recovery."""
        return self.steady_state_s + self.fault_span_s + self.recovery_s

    @property
    def faulted_edges(self) -> set[str]:
        return {s.fault.edge for s in self.timeline if isinstance(s.fault, EdgeFault)}

    @property
    def faulted_services(self) -> set[str]:
        return {
            str(getattr(s.fault, "service", ""))
            for s in self.timeline
            if getattr(s.fault, "service", None)
        }


# -- reading YAML with line numbers ---------------------------------------------------


class _Doc:
    """YAML data plus the line of every path, for error messages."""

    def __init__(self, source: str, text: str) -> None:
        self.source = source
        self.lines: dict[_Path, int] = {}
        try:
            node = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            # A problem found at the end of the stream is reported on the last line.
            last_line = max(1, len(text.splitlines()))
            where = f"{source}:{min(mark.line + 1, last_line)}" if mark is not None else source
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise SpecError(f"{where}: not valid YAML: {problem}") from None
        if node is None:
            raise SpecError(f"{source}: the file is empty; an incident spec is a YAML mapping")
        self.data = self._build(node, ())

    def _build(self, node: yaml.Node, path: _Path) -> Any:
        self.lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            result: dict[str, Any] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    line = key_node.start_mark.line + 1
                    raise SpecError(
                        f"{self.source}:{line}: {_dotted(path) or '(top level)'}: "
                        "a key must be plain text, not a list or mapping"
                    )
                key = key_node.value
                if key in result:
                    line = key_node.start_mark.line + 1
                    raise SpecError(f"{self.source}:{line}: {_dotted((*path, key))}: duplicate key")
                result[key] = self._build(value_node, (*path, key))
                # Errors about a field point at its key, where a reader looks for it.
                self.lines[(*path, key)] = key_node.start_mark.line + 1
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self._build(item, (*path, i)) for i, item in enumerate(node.value)]
        try:
            return yaml.SafeLoader(" ").construct_object(node)
        except yaml.YAMLError as exc:
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise self.error(path, f"cannot read this value: {problem}") from None

    def error(self, path: _Path, problem: str) -> SpecError:
        line = None
        probe = path
        while line is None and probe:
            line = self.lines.get(probe)
            probe = probe[:-1]
        where = f"{self.source}:{line}" if line else self.source
        field = _dotted(path) or "(top level)"
        return SpecError(f"{where}: {field}: {problem}")


_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _dotted(path: _Path) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
            continue
        # Odd keys (spaces, newlines, ...) are quoted so a message stays one readable line.
        key = str(part) if _PLAIN_KEY.fullmatch(str(part)) else repr(str(part))
        out += f".{key}" if out else key
    return out


# -- field readers ----------------------------------------------------------------------


class _Reader:
    def __init__(self, doc: _Doc) -> None:
        self.doc = doc

    def mapping(
        self, value: Any, path: _Path, required: tuple[str, ...], optional: tuple[str, ...]
    ) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.doc.error(path, f"must be a mapping, got {_kind(value)}")
        allowed = required + optional
        for key in value:
            if key not in allowed:
                raise self.doc.error(
                    (*path, key), f"unknown field; allowed here: {', '.join(allowed)}"
                )
        for key in required:
            if key not in value:
                raise self.doc.error(path, f"missing required field {key!r}")
        return value

    def text(self, value: Any, path: _Path) -> str:
        if isinstance(value, str) and value.strip():
            return value.strip()
        if value is not None and not isinstance(value, dict | list | bool):
            return str(value)
        raise self.doc.error(path, f"must be text, got {_kind(value)}")

    def number(
        self, value: Any, path: _Path, *, minimum: float = 0.0, maximum: float = math.inf
    ) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
            raise self.doc.error(path, f"must be a number, got {_kind(value)}")
        if not minimum <= value <= maximum:
            bound = (
                f"between {minimum:g} and {maximum:g}" if maximum < math.inf else f">= {minimum:g}"
            )
            raise self.doc.error(path, f"must be {bound}, got {value!r}")
        return float(value)

    def integer(self, value: Any, path: _Path, *, minimum: int, maximum: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.doc.error(path, f"must be a whole number, got {_kind(value)}")
        if not minimum <= value <= maximum:
            raise self.doc.error(path, f"must be between {minimum} and {maximum}, got {value}")
        return value

    def listing(self, value: Any, path: _Path, *, non_empty: bool = True) -> list[Any]:
        if not isinstance(value, list):
            raise self.doc.error(path, f"must be a list, got {_kind(value)}")
        if non_empty and not value:
            raise self.doc.error(path, "must not be empty")
        return value

    def choice(self, value: Any, path: _Path, allowed: tuple[str, ...] | list[str]) -> str:
        if not isinstance(value, str) or value not in allowed:
            raise self.doc.error(path, f"{value!r} is not allowed; allowed: {', '.join(allowed)}")
        return value


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    return {dict: "a mapping", list: "a list", str: f"text {value!r}", bool: f"{value}"}.get(
        type(value), f"{value!r}"
    )


# -- the spec ---------------------------------------------------------------------------

_TOP_REQUIRED = ("id", "title", "date", "sources", "profiles", "journeys", "timeline", "expect")
_TOP_OPTIONAL = ("summary", "background", "steady_state_s", "recovery_s", "client_timeout_s")


def _journey_loads(
    r: _Reader, raw: Any, path: _Path, topology: Topology, *, background: bool
) -> tuple[JourneyLoad, ...]:
    known = {j.name: j for j in topology.journeys}
    loads = []
    for i, item in enumerate(r.listing(raw, path)):
        where = (*path, i)
        fields = r.mapping(item, where, ("journey",), ("users", "think_ms", "slo"))
        name = r.choice(fields["journey"], (*where, "journey"), sorted(known))
        slo = known[name].slo
        if "slo" in fields:
            slo_raw = r.mapping(fields["slo"], (*where, "slo"), (), ("p95_ms", "success_rate"))
            slo = Slo(
                p95_ms=r.number(
                    slo_raw.get("p95_ms", slo.p95_ms), (*where, "slo", "p95_ms"), minimum=1
                ),
                success_rate=r.number(
                    slo_raw.get("success_rate", slo.success_rate),
                    (*where, "slo", "success_rate"),
                    minimum=0,
                    maximum=1,
                ),
            )
        loads.append(
            JourneyLoad(
                journey=name,
                users=r.integer(fields.get("users", 1), (*where, "users"), minimum=1, maximum=64),
                think_ms=r.integer(
                    fields.get("think_ms", 100), (*where, "think_ms"), minimum=0, maximum=60_000
                ),
                slo=slo,
                background=background,
            )
        )
    return tuple(loads)


def _timeline(r: _Reader, raw: Any, path: _Path, topology: Topology) -> tuple[FaultStep, ...]:
    steps = []
    for i, item in enumerate(r.listing(raw, path)):
        where = (*path, i)
        if not isinstance(item, dict):
            raise r.doc.error(where, f"must be a mapping, got {_kind(item)}")
        if "fault" not in item:
            raise r.doc.error(
                where, f"missing required field 'fault' (one of: {', '.join(sorted(FAULT_KINDS))})"
            )
        kind = r.choice(item["fault"], (*where, "fault"), sorted(FAULT_KINDS))
        timing = {k: item[k] for k in ("onset_s", "hold_s", "ramp_s") if k in item}
        fields = {k: v for k, v in item.items() if k not in ("fault", *timing)}
        try:
            fault = build_fault(kind, fields, where="fault")
        except FaultSpecError as exc:
            bad = next((k for k in fields if f"'{k}'" in str(exc) or f".{k} " in str(exc)), None)
            message = str(exc).removeprefix("fault: ")
            raise r.doc.error((*where, bad) if bad else where, message) from None
        if isinstance(fault, EdgeFault) and fault.edge not in topology.edge_names:
            raise r.doc.error(
                (*where, "edge"),
                f"unknown edge {fault.edge!r}; known edges: {', '.join(topology.edge_names)}",
            )
        surge_journey = getattr(fault, "journey", None)
        known_journeys = [j.name for j in topology.journeys]
        if surge_journey is not None and surge_journey not in known_journeys:
            raise r.doc.error(
                (*where, "journey"),
                f"unknown journey {surge_journey!r}; known: {', '.join(known_journeys)}",
            )
        service = getattr(fault, "service", None)
        if service is not None and service not in topology.service_names:
            raise r.doc.error(
                (*where, "service"),
                f"unknown service {service!r}; known: {', '.join(topology.service_names)}",
            )
        if "hold_s" not in timing:
            raise r.doc.error(where, "missing required field 'hold_s' (seconds the fault is held)")
        ramp_s = r.number(timing.get("ramp_s", 0), (*where, "ramp_s"), maximum=600)
        if ramp_s and not isinstance(fault, Latency):
            raise r.doc.error((*where, "ramp_s"), f"only latency faults can ramp, not {kind}")
        hold_s = r.number(timing["hold_s"], (*where, "hold_s"), minimum=0.1, maximum=3600)
        if ramp_s > hold_s:
            raise r.doc.error((*where, "ramp_s"), f"must not exceed hold_s ({hold_s:g})")
        steps.append(
            FaultStep(
                fault=fault,
                onset_s=r.number(timing.get("onset_s", 0), (*where, "onset_s"), maximum=3600),
                hold_s=hold_s,
                ramp_s=ramp_s,
            )
        )
    return tuple(steps)


def _expectation(r: _Reader, raw: Any, path: _Path, journeys: set[str]) -> Expectation:
    fields = r.mapping(raw, path, ("journeys",), ("codes", "invariants"))
    verdicts: dict[str, tuple[str, ...]] = {}
    jraw = r.mapping(fields["journeys"], (*path, "journeys"), (), tuple(sorted(journeys)))
    for name, allowed in jraw.items():
        where = (*path, "journeys", name)
        options = allowed if isinstance(allowed, list) else [allowed]
        verdicts[name] = tuple(r.choice(v, where, VERDICTS) for v in options)
    codes: dict[str, tuple[str, ...]] = {}
    craw = r.mapping(fields.get("codes", {}), (*path, "codes"), (), tuple(sorted(journeys)))
    for name, listed in craw.items():
        where = (*path, "codes", name)
        codes[name] = tuple(r.text(c, (*where, i)) for i, c in enumerate(r.listing(listed, where)))
    invariants: dict[str, bool] = {}
    iraw = r.mapping(fields.get("invariants", {}), (*path, "invariants"), (), INVARIANTS)
    for name, holds in iraw.items():
        where = (*path, "invariants", name)
        word = r.choice(holds, where, ("holds", "broken"))
        invariants[name] = word == "holds"
    return Expectation(verdicts, codes, invariants)


def parse_spec(
    text: str, *, source: str, topology: Topology, profiles: tuple[str, ...]
) -> IncidentSpec:
    """Validate spec text; ``source`` names it in errors (usually the file path)."""
    doc = _Doc(source, text)
    r = _Reader(doc)
    top = r.mapping(doc.data, (), _TOP_REQUIRED, _TOP_OPTIONAL)
    spec_id = r.text(top["id"], ("id",))
    if not _ID.match(spec_id):
        raise doc.error(("id",), f"{spec_id!r} must be 3-64 lowercase letters, digits or '-'")
    sources = tuple(
        r.text(s, ("sources", i)) for i, s in enumerate(r.listing(top["sources"], ("sources",)))
    )
    chosen = tuple(
        r.choice(p, ("profiles", i), profiles)
        for i, p in enumerate(r.listing(top["profiles"], ("profiles",)))
    )
    journeys = _journey_loads(r, top["journeys"], ("journeys",), topology, background=False)
    background = (
        _journey_loads(r, top["background"], ("background",), topology, background=True)
        if "background" in top
        else ()
    )
    names = {j.journey for j in journeys}
    expect_raw = r.mapping(top["expect"], ("expect",), chosen, ())
    expect = {p: _expectation(r, expect_raw[p], ("expect", p), names) for p in chosen}
    return IncidentSpec(
        id=spec_id,
        title=r.text(top["title"], ("title",)),
        date=r.text(top["date"], ("date",)),
        sources=sources,
        summary=r.text(top.get("summary", "-"), ("summary",)),
        profiles=chosen,
        journeys=journeys,
        background=background,
        timeline=_timeline(r, top["timeline"], ("timeline",), topology),
        expect=expect,
        steady_state_s=r.number(
            top.get("steady_state_s", 3), ("steady_state_s",), minimum=0.5, maximum=600
        ),
        recovery_s=r.number(top.get("recovery_s", 3), ("recovery_s",), minimum=0.5, maximum=600),
        client_timeout_s=r.number(
            top.get("client_timeout_s", 15), ("client_timeout_s",), minimum=0.1, maximum=120
        ),
    )


def load_spec(path: Path, *, topology: Topology, profiles: tuple[str, ...]) -> IncidentSpec:
    """Read and validate a spec file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(f"{path}: no such spec file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"{path}: cannot read the spec file: {exc}") from None
    spec = parse_spec(text, source=str(path), topology=topology, profiles=profiles)
    return dataclasses.replace(spec, path=path)
