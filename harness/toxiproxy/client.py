"""A strict client for the Toxiproxy API, built on toxiproxy-python.

toxiproxy-python 0.1.1 keeps the server address in class attributes (one
server per process), sets no timeouts, returns None from ``add_toxic`` and
lets non-2xx answers other than 400/404/409 pass silently. This layer gives
each client its own consumer class bound to one server, passes a timeout on
every call, raises :class:`ToxiproxyAPIError` on any failure, and reads every
toxic and proxy change back from the server before reporting success.

Toxiproxy's admin API can hang when a toxic is removed under traffic
(Toxiproxy #88, #159, #210, #254, #412, #558; fixed only in v2.13.0). Every
call is bounded by ``timeout_s``; a call that gets no answer in time is a
hang. When the server's owner gave a way to restart it
(:meth:`ToxiproxyClient.recover_with`, the local backend does), the client
restarts it, creates again every proxy it made (same name, upstream and
listen address, enabled, no toxics) and says so in :attr:`recoveries`. A
call that wanted that state anyway (removing a toxic, enabling a proxy,
``/reset``) is then done; any other is made once more on the fresh server.
Without a way to restart, a hang is a :class:`ToxiproxyAPIError` saying so.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, cast
from urllib.parse import quote, urlsplit

import requests
from toxiproxy.api import APIConsumer, validate_response
from toxiproxy.exceptions import InvalidToxic, NotFound, ProxyExists

from harness.errors import DominoError, ToxiproxyAPIError
from harness.infra.network_safety import check_target
from harness.toxiproxy.abilities import counts_live_traffic

__all__ = ["ProxyInfo", "ProxyTraffic", "ToxicInfo", "ToxiproxyClient"]

#: Domino's server's route for every proxy's traffic counts.
_TRAFFIC_PATH = "/domino/traffic"

_METRIC = re.compile(
    r'^toxiproxy_proxy_(received|sent)_bytes_total\{direction="(\w+)",[^}]*proxy="([^"]+)"[^}]*\}\s+(\S+)$'
)


@dataclass(frozen=True, slots=True)
class ToxicInfo:
    """A toxic as Toxiproxy reports it."""

    name: str
    type: str
    stream: str
    toxicity: float
    #: JSON values: numbers for Toxiproxy's toxics, also text and mappings for Domino's HTTP ones.
    attributes: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ProxyInfo:
    """A proxy as Toxiproxy reports it; ``listen`` is the real host:port."""

    name: str
    listen: str
    upstream: str
    enabled: bool
    toxics: tuple[ToxicInfo, ...] = ()


@dataclass(frozen=True, slots=True)
class ProxyTraffic:
    """What has crossed one proxy so far (cumulative counts, both directions).

    On Domino's server (``live``) everything is counted as it passes, kept-alive
    connections included: ``requests`` are the HTTP/1.x requests sent into the
    edge, ``answers`` the final answers its target gave, ``unparsed`` the
    connection directions whose bytes were not HTTP/1.x (a raw TCP edge: count
    its bytes). On a stock server only ``bytes`` are known, and Toxiproxy adds a
    connection's bytes only when the connection ends; the rest are None.
    """

    bytes: int
    requests: int | None = None
    answers: int | None = None
    connections: int | None = None
    unparsed: int | None = None
    live: bool = False


def _traffic(raw: Mapping[str, Any]) -> ProxyTraffic:
    return ProxyTraffic(
        bytes=int(raw.get("bytes_upstream", 0)) + int(raw.get("bytes_downstream", 0)),
        requests=int(raw.get("requests", 0)),
        answers=int(raw.get("answers", 0)),
        connections=int(raw.get("connections", 0)),
        unparsed=int(raw.get("unparsed", 0)),
        live=True,
    )


def _toxic(raw: Mapping[str, Any]) -> ToxicInfo:
    return ToxicInfo(
        name=str(raw["name"]),
        type=str(raw["type"]),
        stream=str(raw.get("stream", "downstream")),
        toxicity=float(raw.get("toxicity", 1.0)),
        attributes={str(k): v for k, v in dict(raw.get("attributes") or {}).items()},
    )


def _proxy(raw: Mapping[str, Any]) -> ProxyInfo:
    return ProxyInfo(
        name=str(raw["name"]),
        listen=str(raw["listen"]),
        upstream=str(raw["upstream"]),
        enabled=bool(raw["enabled"]),
        toxics=tuple(_toxic(t) for t in raw.get("toxics") or ()),
    )


#: A call's outcome once a hung server was restarted: ``done`` (a fresh server already
#: holds what the call wanted: no toxics, every proxy enabled) or ``again`` (make it again).
_AfterRestart = Literal["done", "again"]


class ToxiproxyClient:
    """One Toxiproxy server's API. Every call has a timeout and raises on failure.

    ``api_url`` is e.g. ``http://127.0.0.1:8474``; ``timeout_s`` bounds each call.
    :attr:`recoveries` lists, one line each, every time a hung server was
    restarted (see the module docstring).
    """

    def __init__(self, api_url: str, *, timeout_s: float = 5.0) -> None:
        parts = urlsplit(api_url)
        if not parts.hostname or not parts.port:
            raise ToxiproxyAPIError(f"bad Toxiproxy API URL {api_url!r}; expected http://HOST:PORT")
        check_target(api_url)  # Domino's Toxiproxy API is always on loopback
        self.api_url = api_url.rstrip("/")
        self.timeout_s = timeout_s
        # A consumer class of its own: toxiproxy-python reads host and port
        # from class attributes, so sharing APIConsumer would share servers.
        # Its calls go through one kept-alive session: a new connection per
        # call cost a test suite seconds of bookkeeping per hundred tests.
        session = requests.Session()
        base = f"http://{parts.hostname}:{parts.port}"

        def _get(_cls: Any, /, url: str, params: Any = None, **kwargs: Any) -> Any:
            return validate_response(session.get(base + url, params=params, **kwargs))

        def _delete(_cls: Any, /, url: str, **kwargs: Any) -> Any:
            return validate_response(session.delete(base + url, **kwargs))

        def _post(_cls: Any, /, url: str, data: Any = None, json: Any = None, **kwargs: Any) -> Any:
            return validate_response(session.post(base + url, data=data, json=json, **kwargs))

        self._session = session
        self.recoveries: list[str] = []
        self._restart: Callable[[], str] | None = None
        # Proxies this client made, as the server gave them: a restart makes them again.
        self._made: dict[str, tuple[str, str]] = {}
        self._recovery_lock = threading.Lock()
        self._restarts = 0
        # Whether the server counts traffic live, learnt from its version once.
        self._live_traffic: bool | None = None
        self._consumer: Any = type(
            "BoundAPIConsumer",
            (APIConsumer,),
            {
                "host": parts.hostname,
                "port": parts.port,
                "get": classmethod(_get),
                "delete": classmethod(_delete),
                "post": classmethod(_post),
            },
        )

    # -- recovery from a hung server ------------------------------------------------

    def recover_with(self, restart: Callable[[], str]) -> None:
        """Let the server's owner restart it when a call hangs.

        ``restart`` kills the hung server and starts a new one on the same API
        address, returning once it answers, with one line saying what it did;
        the client then makes its proxies again.
        """
        self._restart = restart

    def _recover(self, what: str, seen_restarts: int) -> None:
        """Restart the hung server and make its proxies again (once for concurrent hangs)."""
        with self._recovery_lock:
            if self._restarts != seen_restarts:
                return  # another call's recovery already gave us a fresh server
            assert self._restart is not None
            hung = f"{what} got no answer within {self.timeout_s:g}s"
            try:
                restarted = self._restart()
                self._session.close()  # drop connections to the dead server
                for name, (upstream, listen) in list(self._made.items()):
                    self._call(
                        "post",
                        "/proxies",
                        {"name": name, "upstream": upstream, "listen": listen, "enabled": True},
                        after_restart=None,
                    )
            except (ToxiproxyAPIError, DominoError) as exc:
                raise ToxiproxyAPIError(
                    f"{hung} (the admin API hung) and restarting the server failed: {exc}"
                ) from exc
            self._restarts += 1
            self.recoveries.append(
                f"{hung} (Toxiproxy's admin API can hang when a toxic is removed under "
                f"traffic; fixed in v2.13.0): {restarted}, with its {len(self._made)} "
                "proxies made again, enabled, with no toxics"
            )

    # -- raw calls -----------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        json: Any = None,
        *,
        after_restart: _AfterRestart | None = "again",
    ) -> requests.Response:
        """One admin call. A hang restarts a server that can be restarted, then the call
        is ``done`` or made ``again`` (``after_restart``; None: no recovery, raise)."""
        what = f"Toxiproxy {method.upper()} {self.api_url}{path}"
        seen_restarts = self._restarts
        try:
            return self._call_once(method, path, json, what)
        except _HangError:
            if self._restart is None or after_restart is None:
                raise ToxiproxyAPIError(
                    f"{what} got no answer within {self.timeout_s:g}s; Toxiproxy's admin API can "
                    "hang when a toxic is removed under traffic (fixed in v2.13.0), and this "
                    "server is not one Domino can restart: restart it and its proxies"
                ) from None
        self._recover(what, seen_restarts)
        if after_restart == "done":
            return requests.Response()
        try:
            return self._call_once(method, path, json, what)
        except _HangError:
            raise ToxiproxyAPIError(
                f"{what} got no answer within {self.timeout_s:g}s, again after restarting "
                "the server"
            ) from None

    def _call_once(self, method: str, path: str, json: Any, what: str) -> requests.Response:
        try:
            if method == "get":
                response = self._consumer.get(path, timeout=self.timeout_s)
            elif method == "delete":
                response = self._consumer.delete(path, timeout=self.timeout_s)
            else:
                response = self._consumer.post(path, json=json, timeout=self.timeout_s)
        except (NotFound, ProxyExists, InvalidToxic) as exc:
            raise ToxiproxyAPIError(f"{what} refused: {_detail(exc)}") from exc
        except requests.Timeout as exc:
            raise _HangError(what) from exc
        except requests.RequestException as exc:
            raise ToxiproxyAPIError(
                f"{what} failed: {type(exc).__name__}; is the Toxiproxy server running?"
            ) from exc
        if not response.ok:
            raise ToxiproxyAPIError(
                f"{what} answered {response.status_code}: {response.text[:200]}"
            )
        return cast(requests.Response, response)

    def _json(self, method: str, path: str, json: Any = None) -> Any:
        response = self._call(method, path, json)
        try:
            return response.json()
        except ValueError as exc:
            raise ToxiproxyAPIError(
                f"Toxiproxy {method.upper()} {path} answered non-JSON: {response.text[:200]}"
            ) from exc

    # -- server --------------------------------------------------------------------

    def version(self) -> str:
        """The server's version string (e.g. ``2.12.0``)."""
        raw = self._json("get", "/version")
        return str(raw.get("version", "unknown")) if isinstance(raw, dict) else str(raw)

    def reachable(self) -> bool:
        """True when the API answers; never raises."""
        try:
            self.version()
        except ToxiproxyAPIError:
            return False
        return True

    def reset(self) -> None:
        """Remove every toxic and enable every proxy (proxies are kept)."""
        self._call("post", "/reset", after_restart="done")

    # -- proxies -------------------------------------------------------------------

    def proxies(self) -> dict[str, ProxyInfo]:
        raw = self._json("get", "/proxies")
        return {name: _proxy(value) for name, value in dict(raw).items()}

    def proxy(self, name: str) -> ProxyInfo:
        return _proxy(self._json("get", f"/proxies/{quote(name, safe='')}"))

    def create_proxy(self, name: str, upstream: str, listen: str = "127.0.0.1:0") -> ProxyInfo:
        """Create a proxy; with port 0 in ``listen`` the server picks a free port."""
        payload = {"name": name, "upstream": upstream, "listen": listen, "enabled": True}
        self._call("post", "/proxies", payload)
        created = self.proxy(name)
        if created.upstream != upstream or not created.enabled:
            raise ToxiproxyAPIError(f"proxy {name} read back as {created}, not as created")
        self._made[name] = (created.upstream, created.listen)
        return created

    def delete_proxy(self, name: str) -> None:
        self._call("delete", f"/proxies/{quote(name, safe='')}")
        self._made.pop(name, None)

    def set_enabled(self, name: str, enabled: bool) -> ProxyInfo:
        """Enable or disable a proxy ("down" is a disabled proxy) and read it back."""
        self._call(
            "post",
            f"/proxies/{quote(name, safe='')}",
            {"enabled": enabled},
            after_restart="done" if enabled else "again",
        )
        now = self.proxy(name)
        if now.enabled != enabled:
            raise ToxiproxyAPIError(
                f"proxy {name} still has enabled={now.enabled} after the update"
            )
        return now

    # -- toxics --------------------------------------------------------------------

    def toxics(self, proxy: str) -> list[ToxicInfo]:
        raw = self._json("get", f"/proxies/{quote(proxy, safe='')}/toxics")
        return [_toxic(t) for t in raw]

    def add_toxic(self, proxy: str, toxic: ToxicInfo) -> ToxicInfo:
        """Add a toxic and return it as read back; raise if the server holds something else."""
        payload = {
            "name": toxic.name,
            "type": toxic.type,
            "stream": toxic.stream,
            "toxicity": toxic.toxicity,
            "attributes": dict(toxic.attributes),
        }
        self._call("post", f"/proxies/{quote(proxy, safe='')}/toxics", payload)
        held = {t.name: t for t in self.toxics(proxy)}.get(toxic.name)
        if held is None:
            raise ToxiproxyAPIError(
                f"toxic {toxic.name} on {proxy} is missing right after adding it"
            )
        mismatched = {
            key: (value, held.attributes.get(key))
            for key, value in toxic.attributes.items()
            if held.attributes.get(key) != value
        }
        if held.type != toxic.type or held.stream != toxic.stream or mismatched:
            raise ToxiproxyAPIError(
                f"toxic {toxic.name} on {proxy} read back as {held}, expected {toxic}"
            )
        return held

    def remove_toxic(self, proxy: str, toxic_name: str) -> None:
        self._call(
            "delete",
            f"/proxies/{quote(proxy, safe='')}/toxics/{quote(toxic_name, safe='')}",
            after_restart="done",  # a restarted server holds no toxic
        )

    # -- metrics -------------------------------------------------------------------

    def counts_live_traffic(self) -> bool:
        """True when the server counts every proxy's traffic as it passes (Domino's, build 3+)."""
        if self._live_traffic is None:
            self._live_traffic = counts_live_traffic(self.version())
        return self._live_traffic

    def traffic(self) -> dict[str, ProxyTraffic]:
        """What has crossed each proxy so far, by proxy name.

        Domino's server counts it live (:class:`ProxyTraffic`); on a stock server
        it is the byte counters of ``/metrics`` (the server started with
        ``-proxy-metrics``, else {}), added when each connection ends.
        """
        if self.counts_live_traffic():
            raw = self._json("get", _TRAFFIC_PATH)
            if not isinstance(raw, dict):
                raise ToxiproxyAPIError(
                    f"Toxiproxy GET {_TRAFFIC_PATH} answered {str(raw)[:200]}, not counts by proxy"
                )
            return {str(name): _traffic(counts) for name, counts in raw.items()}
        return {name: ProxyTraffic(bytes=n) for name, n in self._metric_bytes().items()}

    def proxy_bytes(self) -> dict[str, int]:
        """Bytes each proxy has carried so far (both directions): live on Domino's server,
        else from ``/metrics`` (see :meth:`traffic`)."""
        return {name: t.bytes for name, t in self.traffic().items()}

    def _metric_bytes(self) -> dict[str, int]:
        """Bytes each proxy has received so far (both directions), from ``/metrics``.

        Needs the server started with ``-proxy-metrics``; returns {} otherwise.
        """
        response = self._call("get", "/metrics")
        totals: dict[str, int] = {}
        for line in response.text.splitlines():
            match = _METRIC.match(line)
            if match and match.group(1) == "received":
                name = match.group(3)
                totals[name] = totals.get(name, 0) + int(float(match.group(4)))
        return totals


class _HangError(Exception):
    """An admin call that got no answer within the client's timeout."""


def _detail(exc: Exception) -> str:
    text = exc.args[0] if exc.args else ""
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    return str(text).strip()[:200]
