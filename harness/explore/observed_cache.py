"""The observed dependencies kept per topology + profile, so a matrix observes them once.

Observing which edges each journey crosses (:mod:`.observed`) costs a matrix
about 7 s, mostly waiting, and gives the same graph every time the same
system runs under the same profile. A :class:`GraphCache` keeps each graph in
``$DOMINO_HOME/observed/<key>.json`` and hands it back while it is younger
than ``max_age_s`` (:data:`MAX_AGE_S`, 24 hours). The key is a SHA-256 over
everything the observation depends on that Domino can see:

- the topology's resolved model (services with their commands, folders,
  environment and files; edges; journeys; profiles; users; the folder it was
  read from, which the services run in), not its file's name;
- the profile, the knobs given, and the settings the adapter resolved them to;
- the backend and the Toxiproxy server's version (a stock server counts
  bytes differently);
- the observation's own parameters (calls per journey, quiet window,
  sampling, timeout) and its code (this package's ``observed.py``), and
  Domino's version;
- for a system Domino ships (the bank), the sources of its services
  (the ``services`` package) and of its adapter.

A user's own service code is not in the key (Domino cannot tell which files
make a service): a cached graph is reused until the topology or profile
changes, or the day is over; ``--observe fresh`` re-observes and replaces it.

A graph observed while some journey's calls failed is used by the matrix
that observed it but not kept: it would stand in for a day.

Files are written whole under a name of their own, then renamed over the
key's file, so two matrices (workers, shards) writing at once leave one of
their two graphs, never a mix. A file that cannot be read, is not a graph,
or is another key's, is ignored with one line saying so, then re-observed
and rewritten.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import importlib.util
import inspect
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import DominoError
from harness.explore import observed as observed_module
from harness.explore.observed import ObservedGraph, observe_dependencies
from harness.infra.home import domino_home, make_state_folder
from harness.plugins import SYSTEMS_DIR, shipped_systems
from harness.report.folder import write_file

if TYPE_CHECKING:
    from harness.stack import Stack

__all__ = [
    "CACHE_FORMAT",
    "MAX_AGE_S",
    "GraphCache",
    "GraphSource",
    "observation_key",
    "observe_timed",
    "observed_dir",
]

#: The layout of a kept graph's file; a file of another format is ignored.
CACHE_FORMAT = 1
#: A kept graph older than this is observed again (a day: a user's own service code,
#: which the key cannot see, is re-observed at least once a day without asking).
MAX_AGE_S = 24 * 3600.0
_KIND = "domino-observed-graph"
#: A scratch file a killed writer left behind is removed once it is this old.
_STALE_SCRATCH_S = 3600.0
#: How far in the future a graph's time may be (clocks set a little apart) before it is foreign.
_CLOCK_SLACK_S = 60.0

#: The parameters of the matrix's observation: :func:`.observed.observe_dependencies`'s own
#: defaults (one source of truth).
OBSERVATION: Mapping[str, float] = {
    name: parameter.default
    for name, parameter in inspect.signature(observe_dependencies).parameters.items()
    if parameter.kind is inspect.Parameter.KEYWORD_ONLY
}


def observed_dir() -> Path:
    """Where kept graphs live: ``observed/`` in Domino's state folder."""
    return domino_home() / "observed"


@dataclass(frozen=True, slots=True)
class GraphSource:
    """Where a matrix's observed graph came from.

    ``cached``: read from ``path`` instead of observed; ``observed_at`` when it
    was observed (ISO 8601, UTC) and ``observed_s`` how long that took;
    ``key`` the cache key (hex; "" when nothing was kept).
    """

    cached: bool
    observed_at: str
    observed_s: float
    key: str = ""
    path: str = ""

    def describe(self) -> str:
        """``observed (6.8 s)``, or ``from cache, observed 2026-12-06 20:10 UTC, key ...``."""
        if not self.cached:
            return f"observed ({self.observed_s:.1f} s)"
        when = dt.datetime.fromisoformat(self.observed_at).strftime("%Y-%m-%d %H:%M UTC")
        return f"from cache, observed {when}, key {self.key[:12]} (--observe fresh to re-observe)"

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": "cache" if self.cached else "observed",
            "observed_at": self.observed_at,
            "observed_s": round(self.observed_s, 3),
            "key": self.key,
            "path": self.path,
            "description": self.describe(),
        }


def _now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def observe_timed(
    stack: Stack,
    parameters: Mapping[str, float] = OBSERVATION,
    say: Callable[[str], None] = lambda _msg: None,
) -> tuple[ObservedGraph, GraphSource]:
    """Observe ``stack`` now (nothing kept); ``say`` hears that it does, the source how long
    it took."""
    say("observing which edges each journey crosses")
    at = _now_iso()
    began = time.monotonic()
    graph = observe_dependencies(
        stack,
        calls_per_journey=int(parameters["calls_per_journey"]),
        quiet_s=parameters["quiet_s"],
        sample_s=parameters["sample_s"],
        timeout_s=parameters["timeout_s"],
    )
    return graph, GraphSource(cached=False, observed_at=at, observed_s=time.monotonic() - began)


def _plain(value: Any) -> Any:
    """``value`` as JSON-able data, the same for equal models (paths as text, sets sorted)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(str(v) for v in value)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)  # paths, and anything else that says what it is as text


def _sources_digest(folder: Path) -> str:
    """SHA-256 over every ``.py`` under ``folder`` (names and contents, in name order)."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*.py")):
        digest.update(str(path.relative_to(folder)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def _own_sources(stack: Stack) -> dict[str, str]:
    """For a system Domino ships, the digests of the code that makes it; {} for a user's."""
    where = stack.topology.path
    shipped = {p.resolve(): name for name, p in shipped_systems().items()}
    name = shipped.get(where.resolve()) if where is not None else None
    if name is None:
        return {}
    # Found, not imported: only a shipped system's own folder imports the services.
    spec = importlib.util.find_spec("services")
    folders = list(spec.submodule_search_locations or ()) if spec is not None else []
    return {
        "services": ",".join(_sources_digest(Path(f)) for f in folders),
        "adapter": _sources_digest(SYSTEMS_DIR / name),
    }


def _domino_version() -> str:
    try:
        return metadata.version("domino-chaos")
    except metadata.PackageNotFoundError:
        return "unknown"


def observation_key(
    stack: Stack,
    *,
    knobs: Mapping[str, Any] | None = None,
    parameters: Mapping[str, float] = OBSERVATION,
) -> tuple[str, dict[str, Any]]:
    """The cache key of observing ``stack`` (hex SHA-256), and a digest of each part that
    went into it (the parts themselves, users' passwords among them, are never written)."""
    topology = {k: v for k, v in _plain(stack.topology).items() if k != "path"}
    parts: dict[str, Any] = {
        "format": CACHE_FORMAT,
        "domino": _domino_version(),
        "observation_code": hashlib.sha256(Path(observed_module.__file__).read_bytes()).hexdigest(),
        "parameters": _plain(parameters),
        "topology": topology,
        "profile": stack.profile,
        "knobs": _plain(knobs or {}),
        "settings": _plain(stack.settings),
        "backend": stack.backend,
        "toxiproxy": stack.toxiproxy_version,
        "own_sources": _own_sources(stack),
    }
    digests = {name: _digest(part) for name, part in parts.items()}
    return _digest(digests), digests


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _parse(text: str, key: str, stack: Stack, path: Path) -> tuple[ObservedGraph, GraphSource]:
    """The graph and its source in a kept file's ``text``; ValueError (KeyError, TypeError)
    when it is not a graph of ``key`` for ``stack``."""
    raw = json.loads(text)
    if not isinstance(raw, dict) or raw.get("kind") != _KIND:
        raise ValueError("not an observed graph")
    if raw.get("format") != CACHE_FORMAT:
        raise ValueError(f"format {raw.get('format')!r}, not {CACHE_FORMAT}")
    if raw.get("key") != key:
        raise ValueError("another key's graph")
    graph = ObservedGraph.from_record(raw["graph"])
    if (graph.topology, graph.profile) != (stack.topology.name, stack.profile):
        raise ValueError(f"a graph of {graph.topology} ({graph.profile})")
    if graph.edges != tuple(stack.topology.edge_names):
        raise ValueError("its edges are not the topology's")
    source = GraphSource(
        cached=True,
        observed_at=str(raw["observed_at"]),
        observed_s=float(raw["observed_s"]),
        key=key,
        path=str(path),
    )
    return graph, source


def _sweep_scratch(folder: Path) -> None:
    """Remove scratch files killed writers left (an hour old: no live writer's)."""
    limit = time.time() - _STALE_SCRATCH_S
    for scratch in folder.glob(".*.tmp"):
        with contextlib.suppress(OSError):
            if scratch.stat().st_mtime < limit:
                scratch.unlink()


class GraphCache:
    """Observed graphs kept in ``folder`` (default :func:`observed_dir`), per key.

    ``fresh``: never reuse a kept graph (observe, then keep the new one);
    ``max_age_s``: a kept graph older than this is observed again;
    ``parameters``: the observation's (:data:`OBSERVATION`; part of the key);
    ``now_s``: the clock ages are read against (seconds since the epoch).
    """

    def __init__(
        self,
        folder: Path | None = None,
        *,
        fresh: bool = False,
        max_age_s: float = MAX_AGE_S,
        parameters: Mapping[str, float] = OBSERVATION,
        now_s: Callable[[], float] = time.time,
    ) -> None:
        self.folder = folder if folder is not None else observed_dir()
        self.fresh = fresh
        self.max_age_s = max_age_s
        self.parameters = dict(parameters)
        self._now_s = now_s

    def path_of(self, key: str) -> Path:
        return self.folder / f"{key}.json"

    def graph(
        self,
        stack: Stack,
        *,
        knobs: Mapping[str, Any] | None = None,
        say: Callable[[str], None] = lambda _msg: None,
    ) -> tuple[ObservedGraph, GraphSource]:
        """``stack``'s observed graph: the kept one when there is a good one, else observed
        now and kept. ``say`` gets one line per note (a file ignored, and why)."""
        key, parts = observation_key(stack, knobs=knobs, parameters=self.parameters)
        path = self.path_of(key)
        if not self.fresh:
            kept = self._read(path, key, stack, say)
            if kept is not None:
                return kept
        graph, source = observe_timed(stack, self.parameters, say)
        failed = [
            f"{o.calls - o.ok_calls} of {o.calls} {o.journey}"
            for o in graph.journeys
            if o.ok_calls < o.calls
        ]
        if failed:
            # A graph seen through failing calls would stand in for a day: not kept. Asked
            # for afresh, the graph kept before is not the one wanted either: gone too.
            if self.fresh:
                with contextlib.suppress(OSError):
                    path.unlink(missing_ok=True)
            say(
                f"observed dependencies not kept: {', '.join(failed)} calls failed while "
                "observing; the next matrix observes again"
            )
            return graph, source
        source = dataclasses.replace(source, key=key, path=str(path))
        self._keep(source, parts, graph, say)
        return graph, source

    def _read(
        self, path: Path, key: str, stack: Stack, say: Callable[[str], None]
    ) -> tuple[ObservedGraph, GraphSource] | None:
        """The graph kept at ``path``, if it is a good one for ``key`` and young enough."""
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            say(f"ignored the kept observed graph {path} ({exc}); observing again")
            return None
        try:
            graph, source = _parse(text, key, stack, path)
            at_s = dt.datetime.fromisoformat(source.observed_at).timestamp()
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
            say(f"ignored the kept observed graph {path} ({exc}); observing again")
            return None
        age_s = self._now_s() - at_s
        if age_s > self.max_age_s or age_s < -_CLOCK_SLACK_S:
            say(
                f"the kept observed graph is from {source.observed_at} "
                f"(older than {self.max_age_s / 3600:g} h, or from the future); observing again"
            )
            return None
        return graph, source

    def _keep(
        self,
        source: GraphSource,
        parts: Mapping[str, Any],
        graph: ObservedGraph,
        say: Callable[[str], None],
    ) -> None:
        """Write the graph at ``source.path``; a folder that cannot be written is said, not
        fatal."""
        path = Path(source.path)
        record = {
            "kind": _KIND,
            "format": CACHE_FORMAT,
            "key": source.key,
            "observed_at": source.observed_at,
            "observed_s": source.observed_s,
            "graph": graph.to_record(),
            "key_parts": parts,  # which part changed, when a key did
        }
        try:
            make_state_folder(self.folder)
            _sweep_scratch(self.folder)
            write_file(path, json.dumps(record, indent=1))
        except (OSError, DominoError) as exc:
            say(f"could not keep the observed graph in {path} ({exc}); the next matrix observes")
