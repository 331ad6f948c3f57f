"""The bank adapter: everything Domino knows about the reference super-app beyond HTTP.

- Answers: every error body is ``{"error": {"code", "message", "cause"}}``;
  a degraded success carries ``"degraded": true`` and a ``notice`` with its
  own code and cause chain. The app's own codes are NT004 (no answer in
  time) and NT003 (could not reach bank).
- Honest degradation: CD001, DP003, OV001, OV002, FS001, MT001.
- The admin API (``X-Admin-Token``): application faults (``/admin/faults``),
  maintenance windows, kill switches, call counters (``/admin/stats``), the
  ledger check (``/admin/invariants``) and the Idempotency-Keys applied
  (``/admin/idempotency``: a flood's "failed but applied").
- Users: the seeded customers; virtual users take c0101-c0500 in turn, people
  and tests act as c0001.
- Profiles ``fragile`` and ``hardened`` with knobs (``services.kit.profiles``).

This module and its folder are the only part of Domino that imports ``services``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import importlib.util
import itertools
import json
import secrets
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from harness.adapters.http import HttpAdapter
from harness.contracts import ConfiguredLimits, Preparation, SystemControl
from harness.errors import AdminCallError, UsageError
from harness.infra.network_safety import safe_client
from harness.infra.readiness import ReadinessTimeoutError, wait_until
from harness.model.faults import HttpError, Maintenance, ServiceFault, SlowHandler, Suspend
from harness.model.outcomes import Answer, InvariantVerdict
from harness.model.topology import User
from harness.systems.bank import limits
from services.kit.errors import ERROR_CODES
from services.kit.profiles import PROFILES, KnobError, resolve_knobs
from services.kit.seed import password_of, virtual_user_ids

if TYPE_CHECKING:
    from harness.contracts import FaultApplier
    from harness.model.faults import Fault
    from harness.model.topology import Journey, Topology

__all__ = ["BankAdapter", "BankControl", "services_digest"]

#: The label docker/build-images.sh puts on the services' image.
DIGEST_LABEL = "org.domino.services-digest"
_BUILD_HINT = "run `bash docker/build-images.sh` (builds both images without a registry)"

#: What the bank's services import beyond Domino's core: the ``bank`` extra.
WEB_STACK = ("fastapi", "uvicorn", "pydantic")


def missing_web_stack() -> list[str]:
    """The bank's web-framework packages this Python cannot import (its services run on it)."""
    return [name for name in WEB_STACK if importlib.util.find_spec(name) is None]


def _answer_text(exc: httpx.HTTPError) -> str:
    """The service's own explanation when it gave one, else the transport error."""
    if isinstance(exc, httpx.HTTPStatusError):
        try:
            error = exc.response.json()["error"]
            return f"{exc.response.status_code} {error['code']}: {error['message']}"
        except (ValueError, KeyError, TypeError):
            return f"{exc.response.status_code} {exc.response.text[:200]}"
    return f"{type(exc).__name__}: {exc}"


def _request(fault: ServiceFault) -> tuple[str, str, dict[str, Any]]:
    """(method, path, body) that applies ``fault`` through the admin API."""
    if isinstance(fault, HttpError):
        body = {"route": fault.route, "status": fault.status, "share": float(fault.share)}
        return "POST", "/admin/faults", body
    if isinstance(fault, SlowHandler):
        return "POST", "/admin/faults", {"route": fault.route, "delay_ms": int(fault.delay_ms)}
    if isinstance(fault, Maintenance):
        body = {"starts_in_s": 0.0, "duration_s": float(fault.window_s), "reason": fault.reason}
        return "POST", "/admin/maintenance", body
    if isinstance(fault, Suspend):
        return (
            "PUT",
            f"/admin/switches/{fault.feature}",
            {"suspended": True, "reason": fault.reason},
        )
    raise UsageError(f"the bank's admin API cannot apply {fault.describe()}")


def _undo(fault: ServiceFault | None, handle: str) -> tuple[str, str, dict[str, Any] | None]:
    if isinstance(fault, Suspend):
        return "PUT", f"/admin/switches/{fault.feature}", {"suspended": False}
    return "DELETE", f"/admin/faults/{handle}", None


def _failed_checks(report: Any, path: str = "") -> list[str]:
    """Every ``"ok": false`` (or ``"conserved": false``) anywhere in a service's report."""
    failed: list[str] = []
    if isinstance(report, dict):
        for key, value in report.items():
            where = f"{path}.{key}" if path else str(key)
            if key in ("ok", "conserved", "holds") and value is False:
                failed.append(path or key)
            elif key == "error" and path == "":
                failed.append(f"unreadable ({value})")
            else:
                failed += _failed_checks(value, where)
    elif isinstance(report, list):
        for i, item in enumerate(report):
            failed += _failed_checks(item, f"{path}[{i}]")
    return failed


_Answer = TypeVar("_Answer")

#: How long :meth:`BankControl.applied_keys` waits for bank's core to finish its backlog.
SETTLE_TIMEOUT_S = 60.0
_KEYS_PER_PAGE = 10_000


class BankControl:
    """The bank's admin API for one running stack, over one kept-alive client."""

    def __init__(
        self, services: Mapping[str, str], admin_token: str, allowed_hosts: tuple[str, ...]
    ) -> None:
        self._urls = dict(services)
        self._http = safe_client(
            timeout_s=5.0,
            allowed_hosts=allowed_hosts,
            headers={"X-Admin-Token": admin_token},
        )
        self._faults: dict[tuple[str, str], ServiceFault] = {}
        #: The last ``/admin/invariants`` answers, for reports.
        self._reports: dict[str, Any] = {}

    def _url(self, service: str) -> str:
        if service not in self._urls:
            from harness.errors import UnknownServiceError

            raise UnknownServiceError(service, sorted(self._urls))
        return self._urls[service]

    def _send(self, service: str, method: str, path: str, body: Any) -> httpx.Response:
        return self._http.request(method, f"{self._url(service)}{path}", json=body)

    # -- FaultApplier for ServiceFault -------------------------------------------------

    def apply(self, fault: ServiceFault) -> tuple[str, str]:
        method, path, body = _request(fault)
        try:
            response = self._send(fault.service, method, path, body)
            response.raise_for_status()
            handle = str(response.json().get("id", fault.kind))
        except (httpx.HTTPError, ValueError) as exc:
            detail = _answer_text(exc) if isinstance(exc, httpx.HTTPError) else str(exc)
            raise AdminCallError(
                f"could not apply {fault.describe()} ({method} {path}): {detail}"
            ) from exc
        self._faults[(fault.service, handle)] = fault
        return fault.service, handle

    def remove(self, target: str, handle: str) -> None:
        fault = self._faults.pop((target, handle), None)
        method, path, body = _undo(fault, handle)
        try:
            response = self._send(target, method, path, body)
            if response.status_code == 404 and fault is not None and fault.ends_by_itself:
                return  # it already ended by itself, as such faults do
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise AdminCallError(
                f"could not remove fault {handle} ({method} {path}): {_answer_text(exc)}"
            ) from exc

    # -- SystemControl -------------------------------------------------------------------

    def appliers(self) -> list[tuple[type[Fault], FaultApplier]]:
        return [(ServiceFault, self)]

    def _each_service(self, ask: Callable[[str, str], _Answer]) -> dict[str, _Answer]:
        """``ask(service, url)`` of every service at once, in the services' order: each
        call waits on its service, and the first call to a fresh service's admin API
        takes about 12 ms (FastAPI prepares its routes), four in a row at every reset."""
        with ThreadPoolExecutor(max_workers=max(1, len(self._urls))) as pool:
            futures = {name: pool.submit(ask, name, url) for name, url in self._urls.items()}
            return {name: future.result() for name, future in futures.items()}

    def clear(self) -> None:
        def clear_one(service: str, url: str) -> str | None:
            try:
                self._http.delete(f"{url}/admin/faults").raise_for_status()
            except httpx.HTTPError as exc:
                return f"could not clear faults on {service}: {exc}"
            return None

        failed = [why for why in self._each_service(clear_one).values() if why is not None]
        if failed:
            raise AdminCallError(failed[0])
        self._faults.clear()

    def held(self) -> list[str]:
        def held_on(service: str, url: str) -> list[str]:
            try:
                response = self._http.get(f"{url}/admin/faults")
                response.raise_for_status()
                rules = response.json()["faults"]
            except (httpx.HTTPError, ValueError, KeyError) as exc:
                return [f"{service}: its admin API did not answer ({type(exc).__name__})"]
            return [f"{service}: {rule}" for rule in rules]

        return [found for each in self._each_service(held_on).values() for found in each]

    def edge_calls(self) -> dict[str, int]:
        def stats_of(_service: str, url: str) -> dict[str, Any]:
            try:
                response = self._http.get(f"{url}/admin/stats", timeout=2)
                deps = response.json().get("dependencies", {}) if response.is_success else {}
            except (httpx.HTTPError, ValueError):
                return {}
            return deps if isinstance(deps, dict) else {}

        calls: dict[str, int] = {}
        for deps in self._each_service(stats_of).values():
            for dep in deps.values():
                if isinstance(dep, dict) and "edge" in dep:
                    edge = str(dep["edge"])
                    calls[edge] = calls.get(edge, 0) + int(dep.get("calls", 0))
        return calls

    def invariants(self) -> list[InvariantVerdict]:
        def report_of(_service: str, url: str) -> Any:
            try:
                response = self._http.get(f"{url}/admin/invariants")
                return response.json() if response.is_success else {"error": response.status_code}
            except (httpx.HTTPError, ValueError) as exc:
                return {"error": type(exc).__name__}

        reports = self._each_service(report_of)
        self._reports = reports
        broken = [f"{service}: {c}" for service, r in reports.items() for c in _failed_checks(r)]
        if broken:
            return [InvariantVerdict("ledger_conserved", False, "; ".join(broken[:5]))]
        detail = f"{len(reports)} services report their books balanced"
        return [InvariantVerdict("ledger_conserved", True, detail)]

    def reports(self) -> dict[str, Any]:
        return dict(self._reports)

    # -- ReportsAppliedKeys ------------------------------------------------------------

    def applied_keys(self, prefix: str) -> frozenset[str]:
        """The keys with ``prefix`` bank, pay and remit applied, read from their
        idempotency records once no core transaction is waiting (work whose clients gave
        up is still done when its turn comes; after :data:`SETTLE_TIMEOUT_S`, what was
        applied by then)."""
        # Still working after that: what it applied so far is a lower bound, and still true.
        with contextlib.suppress(ReadinessTimeoutError):
            wait_until(
                self._core_idle,
                timeout_s=SETTLE_TIMEOUT_S,
                interval_s=0.2,
                what="bank's core to finish its backlog",
            )

        def keys_of(service: str, url: str) -> set[str]:
            keys: set[str] = set()
            after = ""
            while True:
                params = {"prefix": prefix, "after": after, "limit": str(_KEYS_PER_PAGE)}
                try:
                    response = self._http.get(f"{url}/admin/idempotency", params=params)
                    response.raise_for_status()
                    page = response.json()
                    keys.update(str(item["key"]) for item in page["keys"])
                    after = page["next"]
                except httpx.HTTPError as exc:
                    raise AdminCallError(
                        f"{service} did not say which keys it applied: {_answer_text(exc)}"
                    ) from exc
                except (ValueError, KeyError, TypeError) as exc:
                    raise AdminCallError(
                        f"{service} answered its applied keys unreadably ({exc!r})"
                    ) from exc
                if not after:
                    return keys

        return frozenset(key for keys in self._each_service(keys_of).values() for key in keys)

    def _core_idle(self) -> bool:
        """No service's core has a transaction waiting (services without one, or that do
        not answer, are not waited for: reading their keys says what is wrong)."""
        for url in self._urls.values():
            try:
                response = self._http.get(f"{url}/admin/stats", timeout=2)
                core = response.json().get("core") if response.is_success else None
            except (httpx.HTTPError, ValueError):
                continue
            if isinstance(core, dict) and core.get("waiting", 0):
                return False
        return True

    def close(self) -> None:
        self._http.close()


def services_digest(root: Path | None = None) -> str:
    """A digest of the services' Python source, as docker/build-images.sh computes it.

    ``root`` is the folder that holds ``services/`` (default: where the
    ``services`` package is imported from). The digest is sha256 over the
    ``sha256sum`` lines of every ``services/**/*.py``, sorted by path.
    """
    if root is None:
        import services

        root = Path(services.__file__).resolve().parent.parent
    files = sorted(
        path.relative_to(root).as_posix()
        for path in (root / "services").rglob("*.py")
        if "__pycache__" not in path.parts
    )
    lines = "".join(
        f"{hashlib.sha256((root / rel).read_bytes()).hexdigest()}  {rel}\n" for rel in files
    )
    return hashlib.sha256(lines.encode()).hexdigest()


#: Virtual users take the seeded customers in turn, across runs in this process,
#: so repeated runs on one stack do not drain the same customers' accounts.
_next_customer = itertools.count()


class BankAdapter(HttpAdapter):
    """``adapter: bank`` (see the module docstring)."""

    name = "bank"
    timeout_code = "NT004"
    unreachable_code = "NT003"
    honest_codes = frozenset({"CD001", "DP003", "OV001", "OV002", "FS001", "MT001"})
    dependency_codes = frozenset({"NT004", "DP001", "DP002", "DP003", "CD001"})
    invariant_names = ("ledger_conserved",)
    compose_defaults = {"DOMINO_PROFILE": "fragile", "DOMINO_TOKEN_SECRET": "domino-dev-secret"}  # noqa: RUF012

    def prepare(
        self, topology: Topology, profile: str, knobs: Mapping[str, Any] | None
    ) -> Preparation:
        if missing := missing_web_stack():
            raise UsageError(
                f"the shipped bank's services need {', '.join(missing)}, not installed in "
                f"this Python; install them with: pip install 'domino-chaos[bank]'"
            )
        if profile not in PROFILES:
            raise UsageError(f"unknown profile {profile!r}; choose one of: {', '.join(PROFILES)}")
        topology.profile(profile)
        try:
            values = dataclasses.asdict(resolve_knobs(profile, knobs))
        except KnobError as exc:
            raise UsageError(str(exc)) from None
        admin_token = secrets.token_urlsafe(24)
        env = {
            "DOMINO_PROFILE": profile,
            "DOMINO_KNOBS": json.dumps(values),
            "DOMINO_ADMIN_TOKEN": admin_token,
            "DOMINO_TOKEN_SECRET": secrets.token_urlsafe(24),
        }
        return Preparation(settings=values, env=env, secrets={"admin_token": admin_token})

    def users(self, topology: Topology) -> Iterator[User]:
        ids = virtual_user_ids()
        while True:
            customer = ids[next(_next_customer) % len(ids)]
            yield User(customer, password_of(customer))

    def person(self, topology: Topology) -> User:
        return User("c0001", password_of("c0001"))

    def read_answer(self, journey: Journey, status: int, payload: Any) -> Answer:
        if 200 <= status < 300:
            degraded = bool(isinstance(payload, dict) and payload.get("degraded"))
            notice = payload.get("notice") if isinstance(payload, dict) else None
            code = None
            cause: tuple[Mapping[str, Any], ...] = ()
            if isinstance(notice, dict):
                code = notice.get("code")
                cause = tuple(c for c in notice.get("cause", ()) if isinstance(c, dict))
            return Answer(True, str(code) if code else None, cause, degraded)
        error = payload.get("error") if isinstance(payload, dict) else None
        if isinstance(error, dict):
            cause = tuple(c for c in error.get("cause", ()) if isinstance(c, dict))
            return Answer(False, str(error.get("code")), cause)
        return Answer(False)

    def code_meaning(self, code: str) -> str | None:
        known = ERROR_CODES.get(code)
        return known.meaning if known else None

    def attach(
        self,
        topology: Topology,
        services: Mapping[str, str],
        secrets: Mapping[str, str],
        *,
        allowed_hosts: tuple[str, ...],
    ) -> SystemControl:
        return BankControl(services, secrets.get("admin_token", ""), allowed_hosts)

    def configured_limits(
        self, topology: Topology, settings: Mapping[str, Any], edge: str
    ) -> ConfiguredLimits:
        return limits.configured_limits(topology, settings, edge)

    def caller_deadlines_ms(
        self, topology: Topology, settings: Mapping[str, Any]
    ) -> dict[str, float]:
        return limits.caller_deadlines_ms(topology, settings)

    def image_problem(self, image: str, labels: Mapping[str, str]) -> str | None:
        built_from = labels.get(DIGEST_LABEL)
        if built_from and built_from != services_digest():
            return (
                f"image {image} was built from other services code than this checkout's "
                f"(services/ changed since); {_BUILD_HINT}"
            )
        return None
