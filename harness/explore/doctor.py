"""Onboarding checks on a live system (``domino doctor``, ``domino validate --live``).

A domino.yaml can be valid and the system still escape Domino: a service
that listens on a port of its own instead of its ``{port}`` never becomes
ready (or, worse, another copy answers), and a caller that reaches its
dependency by a hard-coded address bypasses Toxiproxy, so every fault on
that edge touches nothing. The checkup starts the system on the local
backend and looks:

1. **where each service listens**: the TCP sockets of the service's
   processes (``/proc``, :mod:`harness.infra.sockets`) against the
   ``{port}`` Domino gave it; one that did not become ready but listens
   elsewhere is named with both addresses. A service listening on every
   interface (``0.0.0.0``) although its settings pass ``{bind_host}``
   ignores the host it was told;
2. **each declared edge is used through its proxy**: every journey is
   driven a few times with no fault held while Toxiproxy's byte counters
   are read (:func:`harness.explore.observed.observe_dependencies`); an
   edge a journey declares but whose proxy carried nothing is reached
   another way. The fix says whether the caller is given the edge's
   address at all (edge ``env``, or ``{target.url}`` in its files) and
   names a fixed ``host:port`` found in its settings.

Every finding is one line: what is wrong, where, and what to change.
Problems fail the checkup; notes (an edge no journey declares, so it is
not checked; a wildcard listener on a service that is not told a host)
do not.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from harness.backends import start_stack
from harness.errors import ServiceNotListeningError, ServiceStartError
from harness.explore.observed import ObservedGraph, observe_dependencies
from harness.infra.sockets import listener_on_port
from harness.model.topology import Edge, Service, Topology
from harness.stack import Stack

__all__ = ["Checkup", "Finding", "run_checkup"]

Severity = Literal["problem", "note"]

#: A fixed address in a setting: a host (name or IPv4) and a port, with no placeholder.
_FIXED_ADDRESS = re.compile(r"(?:localhost|\d{1,3}(?:\.\d{1,3}){3}|[a-z][\w.-]*):\d{2,5}\b")


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing found: ``subject`` (``service X`` / ``edge A->B``), what is wrong, the fix."""

    severity: Severity
    subject: str
    problem: str
    fix: str = ""

    def line(self) -> str:
        fix = f"; fix: {self.fix}" if self.fix else ""
        return f"{self.severity}: {self.subject}: {self.problem}{fix}"


@dataclass(frozen=True)
class Checkup:
    """What the checkup saw: lines that passed (``fine``) and its findings."""

    topology: str
    fine: tuple[str, ...] = ()
    findings: tuple[Finding, ...] = ()
    observed: ObservedGraph | None = field(default=None, repr=False)

    @property
    def problems(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "problem")

    @property
    def ok(self) -> bool:
        """True when nothing the checkup found is a problem."""
        return not self.problems

    def describe(self) -> str:
        lines = [f"checkup of {self.topology} on the local backend"]
        lines += [f"  ok: {line}" for line in self.fine]
        lines += [f"  {finding.line()}" for finding in self.findings]
        count = len(self.problems)
        lines.append(
            f"{count} problem{'s' if count != 1 else ''} found"
            if count
            else "every service listens where Domino told it and every checked edge crosses "
            "its proxy"
        )
        return "\n".join(lines)


def _strings(value: Any) -> Iterator[str]:
    """Every string inside a setting (a file's settings may nest)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


def _settings_texts(service: Service) -> dict[str, str]:
    """Where each of a service's settings is (``env FOO``, ``command``, ``files[0]``): its text."""
    texts = {f"env {key}": value for key, value in service.env.items()}
    texts["command"] = " ".join(service.command)
    for index, spec in enumerate(service.files):
        texts[f"files[{index}] ({spec.path.name})"] = " ".join(
            [spec.template, *_strings(dict(spec.settings))]
        )
    return texts


def _without_placeholders(text: str) -> str:
    return re.sub(r"\{[^{}]*\}", "", text)


def _given_address(topology: Topology, edge: Edge) -> list[str]:
    """Where Domino hands the caller this edge's address: edge env keys, files using it."""
    given = [f"env {key} (edge)" for key in edge.env]
    source = topology.service(edge.source)
    marks = (f"{{{edge.target}.", f"{{{edge.name}.")
    for where, text in _settings_texts(source).items():
        if any(mark in text for mark in marks):
            given.append(where)
    return given


def _fixed_addresses(service: Service) -> list[str]:
    """Settings of ``service`` that hold a fixed ``host:port`` (no placeholder)."""
    found = []
    for where, text in _settings_texts(service).items():
        if where == "command":
            continue
        match = _FIXED_ADDRESS.search(_without_placeholders(text))
        if match:
            found.append(f"{where} has the fixed address {match.group(0)}")
    return found


def _tells_host(service: Service) -> bool:
    return any("{bind_host}" in text for text in _settings_texts(service).values())


def _listen_findings(stack: Stack) -> tuple[list[str], list[Finding]]:
    """Each service's listener on its port: on which address, and whether it was told that."""
    fine: list[str] = []
    findings: list[Finding] = []
    for name, url in stack.services.items():
        host, _, port = url.removeprefix("http://").rpartition(":")
        listeners = listener_on_port(int(port))
        subject = f"service {name}"
        if listeners is None:
            fine.append(
                f"{subject} answers on {host}:{port} (this system has no /proc to say more)"
            )
            continue
        wide = [lst for lst in listeners if lst.all_interfaces]
        if not wide:
            fine.append(f"{subject} listens on {host}:{port} as told")
            continue
        service = stack.topology.service(name)
        told = _tells_host(service)
        findings.append(
            Finding(
                "problem" if told else "note",
                subject,
                f"listens on {wide[0].address} (every interface), not only on {host}",
                "bind to the {bind_host} Domino passes it"
                if told
                else "pass {bind_host} in its command, env or files and bind to it",
            )
        )
    return fine, findings


def _edge_findings(topology: Topology, observed: ObservedGraph) -> tuple[list[str], list[Finding]]:
    fine: list[str] = []
    findings: list[Finding] = []
    for journey in observed.journeys:
        if journey.ok_calls < journey.calls:
            findings.append(
                Finding(
                    "problem",
                    f"journey {journey.journey}",
                    f"{journey.calls - journey.ok_calls} of {journey.calls} calls failed with "
                    "no fault held",
                    "make it pass on the running system first (see the services' logs)",
                )
            )
    for edge in topology.edges:
        declaring = [o for o in observed.journeys if edge.name in o.declared]
        subject = f"edge {edge.name}"
        if not declaring:
            findings.append(
                Finding(
                    "note",
                    subject,
                    "no journey declares it, so its use was not checked",
                    "add it to the hard or soft dependencies of the journeys that cross it",
                )
            )
            continue
        crossing = [o for o in declaring if edge.name in o.crossed]
        if crossing:
            carried = sum(o.bytes_by_edge.get(edge.name, 0) for o in crossing)
            names = ", ".join(o.journey for o in crossing)
            fine.append(f"{subject} carried {carried} bytes through its proxy ({names})")
            continue
        findings.append(_bypass(topology, edge, [o.journey for o in declaring]))
    return fine, findings


def _bypass(topology: Topology, edge: Edge, journeys: list[str]) -> Finding:
    caller = edge.source
    given = _given_address(topology, edge)
    fixed = _fixed_addresses(topology.service(caller))
    problem = (
        f"its proxy carried nothing while {', '.join(journeys)} ran, so {caller} reaches "
        f"{edge.target} another way (a hard-coded address bypasses Toxiproxy)"
    )
    if fixed:
        fix = f"in {caller}'s domino.yaml settings, {'; '.join(fixed)}: use {{{edge.target}.url}}"
    elif given:
        fix = (
            f"{caller} is given the proxy's address ({', '.join(given)}) but does not use it: "
            f"find where {caller}'s code or own config fixes {edge.target}'s address and read "
            "the given one instead"
        )
    else:
        fix = (
            f"Domino gives {caller} no address for {edge.target}: add the edge's "
            f"`env: {{{edge.target.upper()}_URL: 'http://{{host}}:{{port}}'}}` (or "
            f"{{{edge.target}.url}} in one of {caller}'s files) and make {caller} read it"
        )
    return Finding("problem", f"edge {edge.name}", problem, fix)


def _start_finding(exc: ServiceStartError) -> Finding:
    if isinstance(exc, ServiceNotListeningError):
        return Finding(
            "problem",
            f"service {exc.service}",
            f"listens on {', '.join(exc.found)}, not on {exc.expected} (the {{port}} Domino "
            "gave it)",
            f"make {exc.service} listen on {{port}} (and {{bind_host}}) passed in its command, "
            "env or files, instead of a port of its own",
        )
    first = str(exc).split("; last lines of", 1)[0]
    return Finding(
        "problem",
        "the system",
        f"did not start: {first}",
        "see the service's log; fix its command or readiness",
    )


def run_checkup(
    topology: Topology,
    *,
    profile: str | None = None,
    toxiproxy_bin: str | Path | None = None,
    calls_per_journey: int = 2,
    quiet_s: float = 0.5,
    progress: Callable[[str], None] | None = None,
) -> Checkup:
    """Start ``topology`` on the local backend and check where it listens and what it crosses.

    Each journey is made ``calls_per_journey`` times after a quiet window of
    ``quiet_s`` seconds (the background traffic allowance). Raises what the
    backend raises when the stack cannot start for reasons outside the
    system (no Toxiproxy, a bad domino.yaml); a service that does not become
    ready is a finding.
    """
    options: dict[str, Any] = {"toxiproxy_bin": toxiproxy_bin} if toxiproxy_bin else {}
    try:
        with start_stack(
            "local", topology=topology, profile=profile, progress=progress, **options
        ) as stack:
            fine, findings = _listen_findings(stack)
            observed = observe_dependencies(
                stack, calls_per_journey=calls_per_journey, quiet_s=quiet_s
            )
            edge_fine, edge_findings = _edge_findings(topology, observed)
    except ServiceStartError as exc:
        return Checkup(topology.name, findings=(_start_finding(exc),))
    return Checkup(
        topology.name,
        fine=tuple(fine + edge_fine),
        findings=tuple(findings + edge_findings),
        observed=observed,
    )
