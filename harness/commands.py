"""The ``domino`` command's commands: its argument parser and what each command does.

The entry point is :func:`harness.cli.main`, which starts what it can before
this module's imports and turns errors and interrupts into exit codes
(:mod:`harness.exit_codes`).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from harness.backends import BACKENDS, start_stack
from harness.backends.attached import live_stacks
from harness.errors import StackError, ToxiproxyError, UsageError
from harness.exit_codes import EXIT_FAILED, EXIT_OK, EXIT_STACK, EXIT_USAGE
from harness.infra.home import use_state_dir
from harness.infra.outputs import OutputGuard, flush_stdout_quietly
from harness.model.faults import FAULT_KINDS, build_fault
from harness.model.topology import Topology
from harness.stack import Stack
from harness.toxiproxy.binary import binary_version, find_toxiproxy, install_toxiproxy

if TYPE_CHECKING:
    from harness.explore.cliff import MeasuredDeadline
    from harness.explore.matrix import MatrixTimings

__all__ = ["build_parser", "run_command"]


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Every command, before or after its name (harness.infra.home).
        self.add_argument(
            "--state-dir",
            metavar="DIR",
            default=argparse.SUPPRESS,
            help="where Domino keeps run records, logs and per-run data "
            "(default: $DOMINO_HOME, else ./.domino)",
        )

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"domino: error: {message}\n")


def _say(message: str) -> None:
    print(f"domino: {message}", file=sys.stderr, flush=True)


def parse_knob_args(items: list[str]) -> dict[str, str]:
    """``["name=value", ...]`` from the command line into a mapping."""
    knobs = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UsageError(f"--knob takes NAME=VALUE, got {item!r}")
        knobs[name.strip()] = value.strip()
    return knobs


def _add_topology_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--topology",
        metavar="NAME|PATH",
        help="a shipped system (bank) or a domino.yaml (default: ./domino.yaml, else bank)",
    )


def _topology(args: argparse.Namespace) -> Topology:
    from harness.library import find_topology

    topology = find_topology(getattr(args, "topology", None))
    for warning in topology.warnings:
        _say(f"warning: {warning}")
    return topology


def _add_stack_options(parser: argparse.ArgumentParser, *, profiles: bool = False) -> None:
    parser.add_argument("--backend", choices=BACKENDS, default="local", help="default: local")
    _add_topology_option(parser)
    parser.add_argument(
        "--profile",
        action="append" if profiles else "store",
        help="one of the topology's profiles (default: its first; bank: fragile)"
        + ("; twice: measure both and show what changed" if profiles else ""),
    )
    parser.add_argument(
        "--knob",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override one resilience knob of the profile (repeatable)",
    )
    parser.add_argument(
        "--toxiproxy-bin",
        help="path to toxiproxy-server (else PATH, .domino/tools, then ~/.cache/domino/tools)",
    )


def _stack_options(args: argparse.Namespace) -> dict[str, object]:
    options: dict[str, object] = {
        "topology": _topology(args),
        "profile": args.profile,
        "knobs": parse_knob_args(args.knob),
        "progress": _say,
    }
    if args.toxiproxy_bin and args.backend in ("local", "external"):
        options["toxiproxy_bin"] = args.toxiproxy_bin
    return options


def _endpoint_table(stack: Stack) -> str:
    rows = [f"Toxiproxy API   {stack.toxiproxy.api_url}  (version {stack.toxiproxy_version})"]
    rows.append(f"entry (client)  {stack.entry_url}")
    rows += [f"service {name:<7} {url}" for name, url in stack.services.items()]
    rows += [
        f"edge {name:<12} proxy {e.proxy:<24} listen {e.listen:<21} -> {e.upstream}"
        for name, e in stack.edges.items()
    ]
    settings = stack.dependency_settings
    if settings:
        rows.append("set these on the running services, so their calls cross Toxiproxy:")
        rows += [
            f"  {service}: {name}={value}"
            for service, env in settings.items()
            for name, value in env.items()
        ]
    return "\n".join(rows)


def _wait_forever() -> None:
    stop = threading.Event()
    while not stop.wait(3600):
        pass


def cmd_up(args: argparse.Namespace) -> int:
    with start_stack(args.backend, **_stack_options(args)) as stack:  # type: ignore[arg-type]
        if args.json:
            print(json.dumps(stack.describe()), flush=True)
        else:
            print(_endpoint_table(stack), flush=True)
            _say(f"stack is up ({stack.profile}); Ctrl-C or SIGTERM stops it")
        _wait_forever()
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from harness.library import DEFAULT_SYSTEM, find_topology
    from harness.plugins import system_demo

    run_demo = system_demo(DEFAULT_SYSTEM)
    options = _stack_options(args)
    options["topology"] = find_topology(DEFAULT_SYSTEM)  # the demo is the shipped system's
    with start_stack(args.backend, **options) as stack:  # type: ignore[arg-type]
        result = run_demo(stack, _say)
    print(result.table())
    verdict = "PASS" if result.passed else "FAIL"
    print(f"{verdict}: {result.injected_ms} ms on card->pay slowed the card tab, not the balance")
    return EXIT_OK if result.passed else EXIT_FAILED


def cmd_fault(args: argparse.Namespace) -> int:
    fields: dict[str, object] = {}
    for item in args.set:
        name, sep, value = item.partition("=")
        if not sep:
            raise UsageError(f"--set takes NAME=VALUE, got {item!r}")
        fields[name] = _number_or_text(value)
    if args.edge:
        fields["edge"] = args.edge
    if args.service:
        fields["service"] = args.service
    fault = build_fault(args.kind, fields, where="domino fault")
    if not 0 < args.hold_s <= 3600:
        raise UsageError(f"--hold-s takes seconds in (0, 3600], got {args.hold_s:g}")
    if fault.needs_owner:
        raise UsageError(
            f"{fault.kind} needs the process that runs the stack (its processes, containers "
            "or users); use it in an incident spec or a pytest test instead of `domino fault`"
        )
    stacks = live_stacks()
    if args.topology:
        wanted = _topology(args).name
        stacks = [s for s in stacks if s.topology.name == wanted]
    if not stacks:
        raise StackError("no running stack found; start one with `domino up` in another terminal")
    stack = stacks[-1]
    held = stack.injector.leftovers()
    if held and not args.reset:
        raise StackError(
            "the stack already holds faults `domino fault` did not put there: "
            + "; ".join(held)
            + "; give --reset to clear them first"
        )
    if held:
        stack.reset()
        _say("cleared before applying: " + "; ".join(held))
    with stack.inject(fault):
        _say(f"holding {fault.describe()} for {args.hold_s:g}s (Ctrl-C removes it sooner)")
        threading.Event().wait(args.hold_s)
    _say("fault removed")
    return EXIT_OK


def _number_or_text(value: str) -> object:
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            continue
    return value


def cmd_toxiproxy(args: argparse.Namespace) -> int:
    from harness.errors import ToxiproxyNotFoundError
    from harness.toxiproxy.binary import installed_is_current

    if args.action == "where":
        path = find_toxiproxy()
        print(f"{path} ({_server_words(path)})")
        return EXIT_OK
    started = time.monotonic()
    if args.force or not installed_is_current():
        _say("building Domino's toxiproxy-server with `go build` (first time: about a minute)")
    try:
        path = install_toxiproxy(force=args.force)
    except ToxiproxyNotFoundError:  # no Go: a server found elsewhere still runs every stack
        try:
            existing = find_toxiproxy()
        except ToxiproxyError:
            existing = None
        if existing is None or args.force:
            raise
        _say(
            "cannot build Domino's toxiproxy-server: `go` is not on PATH; "
            f"keeping {existing} ({_server_words(existing)})"
        )
        return EXIT_OK
    print(f"{path} ({_server_words(path)}, {time.monotonic() - started:.1f}s)")
    used = find_toxiproxy()
    if used != path.resolve():
        _say(
            f"note: Domino runs {used} first ({_server_words(used)}), found before {path} "
            "(DOMINO_TOXIPROXY_BIN or PATH); remove it from there to use Domino's"
        )
    return EXIT_OK


def _server_words(binary: Path) -> str:
    """A toxiproxy-server's version and whether it has Domino's toxics, in words."""
    from harness.toxiproxy.abilities import domino_toxics

    version = binary_version(binary)
    toxics = sorted(domino_toxics(version))
    if toxics:
        return f"version {version}, Domino's build with {', '.join(toxics)}"
    return f"version {version}, stock: without Domino's toxics"


def cmd_list(_args: argparse.Namespace) -> int:
    from harness.library import list_incidents

    for spec in list_incidents():
        system = spec.topology.name if spec.topology else "?"
        print(
            f"{spec.id:<28} {spec.date:<12} {system:<8} {'/'.join(spec.profiles):<18} {spec.title}"
        )
    return EXIT_OK


def _chosen_topology(args: argparse.Namespace) -> Topology | None:
    return _topology(args) if getattr(args, "topology", None) else None


def cmd_show(args: argparse.Namespace) -> int:
    from harness.library import find_incident

    spec = find_incident(args.incident, _chosen_topology(args))
    system = spec.topology.name if spec.topology else "?"
    print(f"{spec.id}: {spec.title} ({spec.date}) on the {system} system")
    print(f"sources: {'; '.join(spec.sources)}")
    print(f"\n{spec.summary}\n")
    print(
        f"phases: steady {spec.steady_state_s:g} s, faults {spec.fault_span_s:g} s, "
        f"recovery {spec.recovery_s:g} s"
    )
    print("journeys:")
    for load in (*spec.journeys, *spec.background):
        kind = "background" if load.background else "judged"
        print(
            f"  {load.journey:<12} {load.users} users, think {load.think_ms} ms, "
            f"SLO p95 {load.slo.p95_ms:g} ms, success {load.slo.success_rate:.0%} ({kind})"
        )
    print("timeline:")
    for step in spec.timeline:
        ramp = f", ramp {step.ramp_s:g} s" if step.ramp_s else ""
        print(f"  at +{step.onset_s:g} s for {step.hold_s:g} s{ramp}: {step.fault.describe()}")
    for profile, expectation in spec.expect.items():
        print(f"expect [{profile}]:")
        for journey, verdicts in expectation.journeys.items():
            print(f"  {journey}: {' or '.join(verdicts)}")
        for journey, codes in expectation.codes.items():
            print(f"  {journey} shows codes: {', '.join(codes)}")
        for name, holds in expectation.invariants.items():
            print(f"  {name}: {'holds' if holds else 'broken'}")
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    from harness.experiment.campaign import run_campaign
    from harness.experiment.progress import Progress
    from harness.library import find_incident, list_incidents
    from harness.report import report_data, write_reports
    from harness.report.folder import RUN_REPORTS, ReportFolder, write_file
    from harness.report.terminal import render_summary

    if args.all == bool(args.incident):
        raise UsageError("give one incident id or spec file, or --all")
    chosen = _chosen_topology(args)
    specs = list_incidents() if args.all else [find_incident(args.incident, chosen)]
    profiles: list[str] | None = None
    if args.profile == "all":
        profiles = sorted({p for s in specs for p in s.profiles})
    elif args.profile not in (None, "spec"):
        profiles = [args.profile]
    knobs = parse_knob_args(args.knob)
    options = {"toxiproxy_bin": args.toxiproxy_bin} if args.toxiproxy_bin else {}
    folder = (
        Path(args.report) if args.report else Path("reports") / ("all" if args.all else specs[0].id)
    )
    # The folder is this run's (a second run into it is refused) and its old reports are
    # gone before anything starts; until they are written anew they say "incomplete".
    with ReportFolder(folder, RUN_REPORTS) as reports:
        results = run_campaign(
            specs,
            profiles=profiles,
            backend=args.backend,
            knobs=knobs,
            progress=Progress,
            say=_say,
            stack_options=options,
            repeat=args.repeat,
        )
        data = report_data(results)
        print(render_summary(data))
        if args.repeat > 1:
            from harness.report.stability import render_stability, stability

            data["stability"] = stability(results)
            print(render_stability(data["stability"]))
        paths = write_reports(results, folder)
        print(f"\n  reports: {paths['html']}  {paths['json']}  {paths['junit']}")
        if "stability" in data:
            stable = folder / "stability.json"
            write_file(stable, json.dumps(data["stability"], indent=1) + "\n")
            print(f"  stability: {stable}")
        reports.complete()
    return {"pass": EXIT_OK, "fail": EXIT_FAILED}.get(data["outcome"], EXIT_STACK)


def _looks_like_topology(path: Path) -> bool:
    """A topology file has top-level ``services``; anything unreadable is judged as one.

    A file over the size limit is refused here, before it is parsed (UsageError).
    """
    import yaml

    from harness.files.yamldoc import load_plain, read_text

    try:
        text = read_text(path, error=UsageError, what="a topology file or an incident spec")
        data = load_plain(text)  # nesting limited: a 500-level file is one line, not a traceback
    except (OSError, ValueError, yaml.YAMLError):
        return path.name == "domino.yaml" or "services" in path.name
    return not isinstance(data, dict) or "services" in data or "timeline" not in data


def _checkups(topologies: list[Topology], args: argparse.Namespace) -> int:
    """The live onboarding checkup of each topology (harness.explore.doctor): 1 on problems."""
    from harness.explore.doctor import run_checkup

    found = False
    for topology in topologies:
        checkup = run_checkup(
            topology, profile=args.profile, toxiproxy_bin=args.toxiproxy_bin, progress=_say
        )
        print(checkup.describe())
        found = found or not checkup.ok
    return EXIT_FAILED if found else EXIT_OK


def cmd_doctor(args: argparse.Namespace) -> int:
    return _checkups([_topology(args)], args)


def cmd_validate(args: argparse.Namespace) -> int:
    from harness.files.topology_file import load_topology
    from harness.library import find_incident

    if args.live:
        return _checkups([load_topology(Path(name)) for name in args.files], args)
    for name in args.files:
        path = Path(name)
        if _looks_like_topology(path):
            topology = load_topology(path)
            print(
                f"{path}: topology {topology.name!r} is valid: {len(topology.services)} services, "
                f"{len(topology.edges)} edges, {len(topology.journeys)} journeys, adapter "
                f"{topology.adapter}, profiles {', '.join(topology.profile_names)}"
            )
            for warning in topology.warnings:
                print(f"  warning: {warning}")
        else:
            spec = find_incident(str(path), _chosen_topology(args))
            system = spec.topology.name if spec.topology else "?"
            print(f"{path}: incident {spec.id!r} is valid on the {system} system")
    return EXIT_OK


def cmd_import_compose(args: argparse.Namespace) -> int:
    from harness.files.compose_import import import_compose
    from harness.files.topology_file import parse_topology

    out = Path(args.output)
    if out.exists() and not args.force:
        raise UsageError(f"{out} exists; give --force to overwrite it or -o another path")
    imported = import_compose(Path(args.compose_file), name=args.name)
    # The file written must be one Domino reads: check it before writing.
    parse_topology(imported.yaml_text, source=str(out), base_dir=out.resolve().parent)
    out.write_text(imported.yaml_text, encoding="utf-8")
    print(f"wrote {out}: topology {imported.name!r}, edges {', '.join(imported.edges)}")
    for note in imported.notes:
        print(f"  note: {note}")
    print(f"next: describe your journeys in {out}, then `domino validate {out}`")
    return EXIT_OK


def _csv(text: str | None) -> list[str] | None:
    return [item.strip() for item in text.split(",") if item.strip()] if text else None


def cmd_matrix(args: argparse.Namespace) -> int:
    from harness.explore.cells import parse_shard
    from harness.explore.matrix import run_matrix
    from harness.explore.observed_cache import GraphCache
    from harness.explore.report import exit_code, render_heatmap, write_matrix_reports
    from harness.report.folder import MATRIX_REPORTS, ReportFolder

    if args.workers < 1 or args.workers > 8:
        raise UsageError(f"--workers takes 1 to 8, got {args.workers}")
    if args.strict and args.no_observe:
        raise UsageError("--strict compares declared with observed dependencies: drop --no-observe")
    if args.observe == "fresh" and args.no_observe:
        raise UsageError("--observe fresh and --no-observe contradict each other: give one")
    shard = parse_shard(args.shard) if args.shard else None
    latency_ms = _latency_pair(args.latency_ms) if args.latency_ms else None
    timings = _matrix_timings(args)
    topology = _topology(args)

    def progress(done: int, total: int, cell: object) -> None:
        from harness.explore.matrix import CellResult

        assert isinstance(cell, CellResult)
        extra = f" ({', '.join(cell.violations)})" if cell.violations else ""
        _say(f"cell {done}/{total} {cell.id}: {cell.outcome}{extra}")

    options = {"toxiproxy_bin": args.toxiproxy_bin} if args.toxiproxy_bin else {}
    folder = Path(args.report) if args.report else Path("reports") / f"matrix-{topology.name}"
    with ReportFolder(folder, MATRIX_REPORTS) as reports:  # as `domino run`'s (cmd_run)
        result = run_matrix(
            topology,
            profile=args.profile,
            backend=args.backend,
            edges=_csv(args.edges),
            kinds=_csv(args.faults),
            workers=args.workers,
            shard=shard,
            prune=not args.no_prune,
            knobs=parse_knob_args(args.knob),
            progress=progress,
            say=_say,
            stack_options=options,
            observe=not args.no_observe,
            observed_cache=GraphCache(fresh=args.observe == "fresh"),
            latency_ms=latency_ms,
            strict=args.strict,
            timings=timings,
            pairs=not args.no_pairs,
        )
        print(render_heatmap(result))
        paths = write_matrix_reports(result, folder)
        print(f"\n  reports: {paths['html']}  {paths['json']}  {paths['junit']}")
        reports.complete()
    if args.strict and not result.extra.get("observed_agrees", True):
        _say("--strict: declared dependencies differ from the observed ones (see above)")
    # The same table JUnit and the heatmap are rendered from (harness.explore.report).
    return exit_code(result)


def _matrix_timings(args: argparse.Namespace) -> MatrixTimings:
    """``--hold-s`` and ``--steady-s`` as the cells' MatrixTimings (each 0.5 to 600 s)."""
    from harness.explore.matrix import MatrixTimings

    timings = MatrixTimings()
    for option, value in (("--hold-s", args.hold_s), ("--steady-s", args.steady_s)):
        if value is not None and not 0.5 <= value <= 600:
            raise UsageError(f"{option} takes 0.5 to 600 seconds, got {value:g}")
    if args.hold_s is not None:
        timings = dataclasses.replace(timings, hold_s=args.hold_s)
    if args.steady_s is not None:
        timings = dataclasses.replace(timings, steady_s=args.steady_s, recovery_s=args.steady_s)
    return timings


def _latency_pair(text: str) -> tuple[int, int]:
    """``--latency-ms BELOW,ABOVE`` as two positive whole milliseconds."""
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 2 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise UsageError(f"--latency-ms takes BELOW,ABOVE in ms, e.g. 300,20000, got {text!r}")
    return int(parts[0]), int(parts[1])


def _check_names(topology: Topology, args: argparse.Namespace) -> None:
    """``--edges`` and ``--journeys`` name the topology's own, before any stack starts."""
    for edge in _csv(getattr(args, "edges", None)) or []:
        topology.edge(edge)
    for journey in _csv(getattr(args, "journeys", None)) or []:
        topology.journey(journey)


def cmd_cliff(args: argparse.Namespace) -> int:
    from harness.explore.cliff import find_cliffs

    options = _stack_options(args)
    topology = options["topology"]
    assert isinstance(topology, Topology)
    _check_names(topology, args)
    given = Path(args.defences) if args.defences else None
    if given is not None and not given.exists():
        raise UsageError(f"--defences {given}: no such file or folder (a defences.json)")
    with start_stack(args.backend, **options) as stack:  # type: ignore[arg-type]
        journeys_for = None
        if args.journeys:
            wanted = _csv(args.journeys) or []
            journeys_for = dict.fromkeys(_csv(args.edges) or topology.edge_names, wanted)
        cliffs = find_cliffs(
            stack,
            edges=_csv(args.edges),
            journeys_for=journeys_for,
            resolution_ms=args.resolution_ms,
            progress=lambda text: _say(str(text)),
            measured=_measured_deadlines(given, topology.name, stack.profile),
        )
    for cliff in cliffs:
        print(cliff.describe())
    folder = Path(args.report) if args.report else Path("reports") / f"cliff-{topology.name}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "cliffs.json"
    path.write_text(json.dumps([c.as_dict() for c in cliffs], indent=1) + "\n", encoding="utf-8")
    print(f"\n  report: {path}")
    return EXIT_OK


def _measured_deadlines(
    given: Path | None, topology: str, profile: str
) -> dict[str, MeasuredDeadline]:
    """The callers' deadlines ``domino defences`` measured: from ``--defences`` (its errors
    are the user's), else from ``reports/defences-TOPOLOGY`` when it measured this profile."""
    from harness.explore.defences.outputs import load_measured_deadlines

    if given is not None:
        found = load_measured_deadlines(given, topology, profile)
        _say(f"measured deadlines of {len(found)} edge(s) from {given}")
        return found
    default = Path("reports") / f"defences-{topology}" / "defences.json"
    if not default.is_file():
        return {}
    try:
        found = load_measured_deadlines(default, topology, profile)
    except UsageError as exc:
        _say(f"not using {default}: {exc}")
        return {}
    _say(f"measured deadlines of {len(found)} edge(s) from {default} (--defences to choose)")
    return found


def cmd_defences(args: argparse.Namespace) -> int:
    from harness.explore.defences import (
        DEFENCES_REPORTS,
        compare_maps,
        measure_defences,
        render_comparison,
        render_defences,
        write_defences_reports,
    )
    from harness.report.folder import ReportFolder

    if args.resolution_ms <= 0:
        raise UsageError(f"--resolution-ms takes a positive number, got {args.resolution_ms:g}")
    if args.max_ms is not None and args.max_ms <= 0:
        raise UsageError(f"--max-ms takes a positive number, got {args.max_ms:g}")
    if not 1 <= args.calls <= 50:
        raise UsageError(f"--calls takes 1 to 50, got {args.calls}")
    profiles = args.profile or [None]
    if len(profiles) > 2 or len(set(profiles)) < len(profiles):
        raise UsageError(f"--profile takes one profile, or two different ones to compare, got "
                         f"{', '.join(profiles)}")  # fmt: skip
    options = _stack_options(args)
    topology = options["topology"]
    assert isinstance(topology, Topology)
    _check_names(topology, args)
    for name in profiles:
        if name is not None:
            topology.profile(name)  # one line listing the profiles, before anything starts
    folder = Path(args.report) if args.report else Path("reports") / f"defences-{topology.name}"
    maps = []
    with ReportFolder(folder, DEFENCES_REPORTS) as reports:
        for name in profiles:
            with start_stack(args.backend, **{**options, "profile": name}) as stack:
                maps.append(
                    measure_defences(
                        stack,
                        edges=_csv(args.edges),
                        resolution_ms=args.resolution_ms,
                        max_ms=args.max_ms,
                        calls=args.calls,
                        progress=lambda text: _say(str(text)),
                    )
                )
            print(render_defences(maps[-1]) + "\n")
        change = compare_maps(*maps) if len(maps) == 2 else None
        if change is not None:
            print(render_comparison(change) + "\n")
        paths = write_defences_reports(maps, change, folder)
        print(f"  reports: {paths['html']}  {paths['json']}  {paths['junit']}")
        reports.complete()
    last = maps[-1]
    return EXIT_FAILED if last.findings or last.mismatches else EXIT_OK


def cmd_report_merge(args: argparse.Namespace) -> int:
    from harness.explore.report import (
        exit_code,
        load_matrix,
        merge_matrices,
        render_heatmap,
        write_matrix_reports,
    )

    merged = merge_matrices([load_matrix(Path(d)) for d in args.folders])
    print(render_heatmap(merged))
    paths = write_matrix_reports(merged, Path(args.out))
    print(f"\n  merged {len(args.folders)} reports: {paths['html']}  {paths['json']}")
    missing = merged.planned - len(merged.cells)
    if missing:
        _say(f"{missing} of {merged.planned} planned cells are in none of the reports")
    return exit_code(merged)


def cmd_compare(args: argparse.Namespace) -> int:
    from harness.explore.compare import compare_reports

    comparison = compare_reports(Path(args.base), Path(args.candidate))
    print(comparison.describe())
    return EXIT_FAILED if comparison.regressed else EXIT_OK


def cmd_ci(args: argparse.Namespace) -> int:
    import contextlib
    import io
    import shlex

    from harness.files.ci_workflow import DEFAULT_PATHS, CiPlan, render_workflow

    try:
        matrix_args = shlex.split(args.matrix_args or "")
    except ValueError as exc:
        raise UsageError(f"--matrix-args: {exc}") from None
    errors = io.StringIO()
    try:  # the shards' arguments are checked here, not on the runners
        with contextlib.redirect_stderr(errors):
            build_parser().parse_args(["matrix", *matrix_args])
    except SystemExit:
        said = errors.getvalue().strip().splitlines()[-1].removeprefix("domino: error: ")
        raise UsageError(f"--matrix-args: {said}") from None
    _topology(args)  # the topology must load here as it will on the runners
    plan = CiPlan(
        shards=args.shards,
        topology=args.topology or "domino.yaml",
        runs_on=tuple(args.runs_on),
        install=args.install,
        setup=tuple(args.setup),
        matrix_args=tuple(matrix_args),
        baseline=args.baseline,
        image=args.image,
    )
    out = Path(args.output or DEFAULT_PATHS[args.kind])
    if out.exists() and not args.force:
        raise UsageError(f"{out} exists; give --force to overwrite it or -o another path")
    text = render_workflow(args.kind, plan)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    print(f"wrote {out}: the matrix in {plan.shards} shard(s), merged into reports/matrix")
    return EXIT_OK


def cmd_load(args: argparse.Namespace) -> int:
    from harness.loadgen.command import run as run_load_command

    return run_load_command(args)


def _add_explore_parsers(sub: Any) -> None:
    """``domino matrix``, ``domino report merge`` and ``domino load``."""
    matrix = sub.add_parser(
        "matrix", help="every edge x every fault, every journey judged by its contract"
    )
    _add_stack_options(matrix)
    matrix.add_argument("--edges", metavar="E1,E2", help="only these edges (default: all)")
    matrix.add_argument(
        "--faults", metavar="K1,K2", help="only these kinds (default: all; see docs/matrix.md)"
    )
    matrix.add_argument("--workers", type=int, default=1, help="stacks running cells at once")
    matrix.add_argument("--shard", metavar="I/N", help="run a deterministic 1/N of the cells")
    matrix.add_argument("--no-prune", action="store_true", help="run every cell")
    matrix.add_argument(
        "--no-pairs",
        action="store_true",
        help="skip the pair cells (two faults at once, only {A, fallback-of-A}: an edge that "
        "carried traffic only while A was down, or declared A's fallback)",
    )
    matrix.add_argument(
        "--no-observe",
        action="store_true",
        help="skip learning first which edges each journey crosses (faults on kept-alive or "
        "long-held connections may then be judged untouched)",
    )
    matrix.add_argument(
        "--observe",
        choices=("cached", "fresh"),
        default="cached",
        help="cached (default): reuse the dependencies observed for this topology + profile "
        "within the last 24 h (kept in the state folder); fresh: observe them again (after "
        "changing your services' code)",
    )
    matrix.add_argument(
        "--strict",
        action="store_true",
        help="fail (exit 1) on failed-slow findings and when declared != observed dependencies",
    )
    matrix.add_argument(
        "--latency-ms",
        metavar="BELOW,ABOVE",
        help="latency the latency kinds add (default: from callers' deadlines, else 300,20000)",
    )
    matrix.add_argument(
        "--hold-s",
        type=float,
        help="seconds each cell holds its fault (default 3; a kind that needs longer holds longer)",
    )
    matrix.add_argument(
        "--steady-s",
        type=float,
        help="seconds of steady state before each fault and of recovery after (default 1.5)",
    )
    matrix.add_argument("--report", metavar="DIR", help="default: reports/matrix-TOPOLOGY")
    matrix.set_defaults(func=cmd_matrix)

    cliff = sub.add_parser(
        "cliff", help="the smallest added latency per edge that takes a journey out of its SLO"
    )
    _add_stack_options(cliff)
    cliff.add_argument("--edges", metavar="E1,E2", help="only these edges (default: all)")
    cliff.add_argument("--journeys", metavar="J1,J2", help="only these journeys")
    cliff.add_argument("--resolution-ms", type=float, default=50.0, help="default 50")
    cliff.add_argument("--report", metavar="DIR", help="default: reports/cliff-TOPOLOGY")
    cliff.add_argument(
        "--defences",
        metavar="PATH",
        help="a defences.json (or its folder) of this topology and profile: where no "
        "configuration gives a caller's deadline, the cliff is placed against the measured one "
        "(default: reports/defences-TOPOLOGY when it measured this profile)",
    )
    cliff.set_defaults(func=cmd_cliff)

    defences = sub.add_parser(
        "defences", help="each caller's deadline, retries and fallbacks per edge, and mistakes"
    )
    _add_stack_options(defences, profiles=True)
    defences.add_argument("--edges", metavar="E1,E2", help="only these edges (default: all)")
    defences.add_argument(
        "--resolution-ms", type=float, default=50.0, help="of the deadline search (default 50)"
    )
    defences.add_argument(
        "--max-ms",
        type=float,
        help="latency the deadline search goes up to (default: past the callers' known or "
        "declared deadlines, else 30000)",
    )
    defences.add_argument(
        "--calls", type=int, default=3, help="calls per journey under each failure (default 3)"
    )
    defences.add_argument("--report", metavar="DIR", help="default: reports/defences-TOPOLOGY")
    defences.set_defaults(func=cmd_defences)

    report = sub.add_parser("report", help="work with reports: merge matrix shards")
    report_sub = report.add_subparsers(dest="report_command", required=True, parser_class=_Parser)
    merge = report_sub.add_parser("merge", help="join matrix shard reports into one")
    merge.add_argument("folders", nargs="+", metavar="DIR")
    merge.add_argument(
        "--out", default="reports/matrix-merged", help="default: reports/matrix-merged"
    )
    merge.set_defaults(func=cmd_report_merge)

    load = sub.add_parser("load", help="open-loop load against a running stack, bounded")
    from harness.loadgen.command import add_arguments as add_load_arguments

    add_load_arguments(load)
    load.set_defaults(func=cmd_load)


def _add_gate_parsers(sub: Any) -> None:
    """``domino compare`` and ``domino ci``: for pull-request gates and CI."""
    compare = sub.add_parser(
        "compare", help="what changed between two matrices, runs or cliffs (exit 1: regressions)"
    )
    compare.add_argument("base", metavar="BASE", help="matrix.json, report.json or cliffs.json")
    compare.add_argument("candidate", metavar="CANDIDATE", help="a report of the same kind")
    compare.set_defaults(func=cmd_compare)

    ci = sub.add_parser("ci", help="write a CI workflow: the matrix in N shards, merged")
    ci.add_argument("kind", choices=("github", "gitlab"))
    ci.add_argument("--shards", type=int, default=4, help="parallel jobs (default 4)")
    _add_topology_option(ci)
    ci.add_argument(
        "--runs-on", action="append", default=[], metavar="LABEL", help="runner label (repeatable)"
    )
    ci.add_argument(
        "--install", default="pip install domino-chaos", help="the command installing Domino"
    )
    ci.add_argument(
        "--setup", action="append", default=[], metavar="CMD", help="run before the matrix"
    )
    ci.add_argument(
        "--matrix-args", metavar="ARGS", help="for every `domino matrix`, e.g. '--strict'"
    )
    ci.add_argument("--baseline", metavar="REPORT", help="fail the merge on regressions from it")
    ci.add_argument("--image", help="GitLab: the jobs' image")
    ci.add_argument("-o", "--output", metavar="OUT", help="default: the CI's own place")
    ci.add_argument("--force", action="store_true", help="overwrite OUT if it exists")
    ci.set_defaults(func=cmd_ci)


def _add_checkup_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", help="one of the topology's profiles (default: its first)")
    parser.add_argument("--toxiproxy-bin", help="path to toxiproxy-server")


def _add_validate_parsers(sub: Any) -> None:
    """``domino validate`` (``--live``) and ``domino doctor``."""
    validate = sub.add_parser(
        "validate", help="check topology files (domino.yaml) and incident specs; nothing starts"
    )
    validate.add_argument("files", nargs="+", metavar="FILE")
    _add_topology_option(validate)
    validate.add_argument(
        "--live",
        action="store_true",
        help="also start each topology (local backend) and check it, as `domino doctor`",
    )
    _add_checkup_options(validate)
    validate.set_defaults(func=cmd_validate)

    doctor = sub.add_parser(
        "doctor",
        help="start the system and check each service listens where told and each edge "
        "crosses its proxy",
    )
    _add_topology_option(doctor)
    _add_checkup_options(doctor)
    doctor.set_defaults(func=cmd_doctor)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="domino", description="Chaos tests for cascading failures.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    up = sub.add_parser("up", help="start the stack and keep it up until Ctrl-C / SIGTERM")
    _add_stack_options(up)
    up.add_argument("--json", action="store_true", help="print endpoints as one JSON line")
    up.set_defaults(func=cmd_up)

    demo = sub.add_parser("demo", help="one fault on one edge, and what two journeys see")
    _add_stack_options(demo)
    demo.set_defaults(func=cmd_demo)

    fault = sub.add_parser("fault", help="hold a fault on the running stack (from `domino up`)")
    fault.add_argument("kind", choices=sorted(FAULT_KINDS))
    _add_topology_option(fault)
    fault.add_argument("--edge", help="e.g. card->pay (for edge faults)")
    fault.add_argument("--service", help="e.g. pay (for service faults)")
    fault.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a fault attribute, e.g. latency_ms=1000 (repeatable)",
    )
    fault.add_argument("--hold-s", type=float, default=30.0, help="seconds to hold it (default 30)")
    fault.add_argument(
        "--reset", action="store_true", help="clear faults someone else left on the stack first"
    )
    fault.set_defaults(func=cmd_fault)

    listing = sub.add_parser("list", help="the incidents shipped with Domino")
    listing.set_defaults(func=cmd_list)

    show = sub.add_parser("show", help="an incident's spec, readably")
    show.add_argument("incident", help="incident id or spec file")
    _add_topology_option(show)
    show.set_defaults(func=cmd_show)

    _add_validate_parsers(sub)

    imported = sub.add_parser(
        "import-compose", help="write a domino.yaml from an existing Docker Compose file"
    )
    imported.add_argument("compose_file", metavar="FILE", help="e.g. docker-compose.yml")
    imported.add_argument(
        "-o", "--output", metavar="OUT", default="domino.yaml", help="default: ./domino.yaml"
    )
    imported.add_argument("--name", help="the topology's name (default: from the Compose file)")
    imported.add_argument("--force", action="store_true", help="overwrite OUT if it exists")
    imported.set_defaults(func=cmd_import_compose)

    run = sub.add_parser("run", help="reproduce incidents and judge them")
    run.add_argument("incident", nargs="?", help="incident id (see `domino list`) or spec file")
    run.add_argument("--all", action="store_true", help="every shipped incident")
    _add_stack_options(run)
    run.set_defaults(profile="spec")
    for action in run._actions:
        if action.dest == "profile":
            action.help = "profile(s) to run: spec (each spec's own list, default), all, or one"
    run.add_argument("--report", metavar="DIR", help="report folder (default reports/ID)")
    run.add_argument(
        "--repeat", type=int, default=1, metavar="N", help="run each incident N times in a row"
    )
    run.set_defaults(func=cmd_run)

    _add_explore_parsers(sub)
    _add_gate_parsers(sub)

    toxi = sub.add_parser(
        "toxiproxy", help="build Domino's toxiproxy-server, or say which one Domino runs"
    )
    toxi.add_argument("action", choices=("install", "where"))
    toxi.add_argument(
        "--force", action="store_true", help="rebuild even if a current build is installed"
    )
    toxi.set_defaults(func=cmd_toxiproxy)
    return parser


def run_command(argv: Sequence[str]) -> int:
    """Parse ``argv`` and run its command; errors and interrupts are :func:`harness.cli.main`'s."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit:  # argparse printed help or a usage error: `domino --help | head -1`
        flush_stdout_quietly()
        raise
    func: Callable[[argparse.Namespace], int] = args.func
    if getattr(args, "state_dir", None):
        use_state_dir(args.state_dir)
    # Where it writes is checked before anything starts (harness.infra.outputs).
    with OutputGuard(args) as outputs:
        return outputs.exit_code(func(args))
