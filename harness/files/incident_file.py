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
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from harness.errors import FaultSpecError, LoadPlanError, SpecError, UsageError
from harness.files.yamldoc import (
    FieldPath,
    FieldReader,
    YamlDoc,
    brief,
    describe_kind,
    merge_keys,
    read_text,
    without_extensions,
)
from harness.model.faults import FAULT_KINDS, Fault, Flood, build_fault
from harness.model.incident import (
    INVARIANTS,
    VERDICTS,
    Expectation,
    FaultStep,
    IncidentSpec,
    JourneyLoad,
)
from harness.model.topology import Slo, Topology

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


_ID = re.compile(r"^[a-z0-9][a-z0-9-]{2,63}$")
#: Largest number a fault attribute may hold (exact as a float and as a 64-bit integer).
MAX_ATTRIBUTE = 2**53
#: Longest a fault's own message may be in a spec error.
_LONGEST_MESSAGE = 300


# -- the spec ---------------------------------------------------------------------------

_TOP_REQUIRED = ("id", "title", "date", "sources", "profiles", "journeys", "timeline", "expect")
_TOP_OPTIONAL = (
    "summary",
    "topology",
    "background",
    "steady_state_s",
    "recovery_s",
    "client_timeout_s",
)


def _journey_loads(
    r: FieldReader, raw: Any, path: FieldPath, topology: Topology, *, background: bool
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


def _check_sizes(r: FieldReader, fields: Mapping[str, Any], where: FieldPath) -> None:
    """Refuse numbers no fault attribute can mean.

    Checked here, not by the fault: a 400-digit integer does not even fit a
    float, and Toxiproxy and the services read attributes as 64-bit numbers.
    """
    for key, value in fields.items():
        if (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and not (isinstance(value, float) and math.isnan(value))
            and abs(value) > MAX_ATTRIBUTE
        ):
            raise r.doc.error((*where, key), f"{brief(value)} is too large; allowed: at most 2^53")


def _cut(message: str) -> str:
    """A fault's message cut to a readable length (it quotes the value it got, any size)."""
    return message if len(message) <= _LONGEST_MESSAGE else f"{message[: _LONGEST_MESSAGE - 3]}..."


def _timeline(
    r: FieldReader, raw: Any, path: FieldPath, topology: Topology
) -> tuple[FaultStep, ...]:
    steps = []
    for i, item in enumerate(r.listing(raw, path)):
        where = (*path, i)
        if not isinstance(item, dict):
            raise r.doc.error(where, f"must be a mapping, got {describe_kind(item)}")
        if "fault" not in item:
            raise r.doc.error(
                where, f"missing required field 'fault' (one of: {', '.join(sorted(FAULT_KINDS))})"
            )
        kind = r.choice(item["fault"], (*where, "fault"), sorted(FAULT_KINDS))
        timing = {k: item[k] for k in ("onset_s", "hold_s", "ramp_s") if k in item}
        fields = {k: v for k, v in item.items() if k not in ("fault", *timing)}
        _check_sizes(r, fields, where)
        try:
            fault = build_fault(kind, fields, where="fault")
        except FaultSpecError as exc:
            bad = exc.field if exc.field in fields else None
            message = _cut(str(exc).removeprefix("fault: "))
            raise r.doc.error((*where, bad) if bad else where, message) from None
        _check_places(r, fault, where, topology)
        if "hold_s" not in timing:
            raise r.doc.error(where, "missing required field 'hold_s' (seconds the fault is held)")
        ramp_s = r.number(timing.get("ramp_s", 0), (*where, "ramp_s"), maximum=600)
        if ramp_s and fault.ramped(1.0) is None:
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


def _check_places(r: FieldReader, fault: Fault, where: FieldPath, topology: Topology) -> None:
    """The edges, journeys and services ``fault`` names exist in ``topology``."""
    edge = fault.faulted_edge
    if edge is not None and edge not in topology.edge_names:
        raise r.doc.error(
            (*where, "edge"),
            f"unknown edge {brief(edge)}; known edges: {', '.join(topology.edge_names)}",
        )
    known_journeys = [j.name for j in topology.journeys]
    for field_name in ("journey", "journeys"):
        named = getattr(fault, field_name, None)
        for journey in (named,) if isinstance(named, str) else named or ():
            if journey not in known_journeys:
                raise r.doc.error(
                    (*where, field_name),
                    f"unknown journey {brief(journey)}; known: {', '.join(known_journeys)}",
                )
    kind_check = _KIND_CHECKS.get(fault.kind)
    if kind_check is not None:
        try:
            kind_check(fault, topology)
        except (FaultSpecError, LoadPlanError) as exc:
            raise r.doc.error((*where, exc.field or "journeys"), str(exc)) from None
    service = fault.faulted_service
    if service is not None and service not in topology.service_names:
        raise r.doc.error(
            (*where, "service"),
            f"unknown service {brief(service)}; known: {', '.join(topology.service_names)}",
        )


def _check_flood(fault: Fault, topology: Topology) -> None:
    """A flood can send every journey it names (the load engine only when a spec floods)."""
    from harness.flood import check_flood

    assert isinstance(fault, Flood)  # registered for the flood kind only
    check_flood(fault, {j.name: j for j in topology.journeys})


#: Checks a kind needs beyond its own values, against the topology.
_KIND_CHECKS: dict[str, Callable[[Fault, Topology], None]] = {Flood.kind: _check_flood}


def _expectation(
    r: FieldReader,
    raw: Any,
    path: FieldPath,
    journeys: set[str],
    invariant_names: tuple[str, ...],
) -> Expectation:
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
    iraw = r.mapping(fields.get("invariants", {}), (*path, "invariants"), (), invariant_names)
    for name, holds in iraw.items():
        where = (*path, "invariants", name)
        word = r.choice(holds, where, ("holds", "broken"))
        invariants[name] = word == "holds"
    return Expectation(verdicts, codes, invariants)


FindTopology = Callable[..., Topology]


def parse_spec(
    text: str,
    *,
    source: str,
    topology: Topology | None = None,
    find_topology: FindTopology | None = None,
    base: Path | None = None,
) -> IncidentSpec:
    """Validate spec text; ``source`` names it in errors (usually the file path).

    The spec is checked against ``topology`` when given, else against the
    one its ``topology:`` field names (looked up with ``find_topology``,
    relative to ``base``), else the default one.
    """
    doc = YamlDoc(source, text, error=SpecError, what="an incident spec")
    # Compose's habits: `x-` keys hold anchors, `<<: *anchor` merges them in.
    doc.data = merge_keys(without_extensions(doc.data), (), doc.lines, refuse=doc.error)
    r = FieldReader(doc)
    top = r.mapping(doc.data, (), _TOP_REQUIRED, _TOP_OPTIONAL, extensions=True)
    if topology is None:
        if find_topology is None:
            raise SpecError(f"{source}: no topology to check the spec against")
        ref = r.text(top["topology"], ("topology",)) if "topology" in top else None
        try:
            topology = find_topology(ref, base=base)
        except UsageError as exc:
            raise doc.error(("topology",), str(exc)) from None
        except (OSError, ValueError) as exc:  # ValueError: a path holding a NUL byte
            raise doc.error(
                ("topology",),
                f"cannot read topology {brief(ref)}: {exc}; give a shipped "
                "system's name or the path of a domino.yaml",
            ) from None
    from harness.plugins import get_adapter

    invariant_names = (*INVARIANTS, *get_adapter(topology.adapter).invariant_names)
    profiles = tuple(topology.profile_names)
    spec_id = r.text(top["id"], ("id",))
    if not _ID.match(spec_id):
        raise doc.error(("id",), f"{brief(spec_id)} must be 3-64 lowercase letters, digits or '-'")
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
    expect = {
        p: _expectation(r, expect_raw[p], ("expect", p), names, invariant_names) for p in chosen
    }
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
        topology=topology,
        expect=expect,
        steady_state_s=r.number(
            top.get("steady_state_s", 3), ("steady_state_s",), minimum=0.5, maximum=600
        ),
        recovery_s=r.number(top.get("recovery_s", 3), ("recovery_s",), minimum=0.5, maximum=600),
        client_timeout_s=r.number(
            top.get("client_timeout_s", 15), ("client_timeout_s",), minimum=0.1, maximum=120
        ),
    )


def load_spec(
    path: Path, *, topology: Topology | None = None, find_topology: FindTopology | None = None
) -> IncidentSpec:
    """Read and validate a spec file."""
    try:
        text = read_text(path, error=SpecError, what="an incident spec")
    except FileNotFoundError:
        raise SpecError(f"{path}: no such spec file") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        # ValueError: a path holding a NUL byte.
        raise SpecError(f"{path}: cannot read the spec file: {exc}") from None
    spec = parse_spec(
        text,
        source=str(path),
        topology=topology,
        find_topology=find_topology,
        base=path.resolve().parent,
    )
    return dataclasses.replace(spec, path=path)
