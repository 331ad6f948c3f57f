"""A strict client for the Toxiproxy API, built on toxiproxy-python.

toxiproxy-python 0.1.1 keeps the server address in class attributes (one
server per process), sets no timeouts, returns None from ``add_toxic`` and
lets non-2xx answers other than 400/404/409 pass silently. This layer gives
each client its own consumer class bound to one server, passes a timeout on
every call, raises :class:`ToxiproxyAPIError` on any failure, and reads every
toxic and proxy change back from the server before reporting success.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import quote, urlsplit

import requests
from toxiproxy.api import APIConsumer, validate_response
from toxiproxy.exceptions import InvalidToxic, NotFound, ProxyExists

from harness.errors import ToxiproxyAPIError
from harness.infra.network_safety import check_target

__all__ = ["ProxyInfo", "ToxicInfo", "ToxiproxyClient"]

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
    attributes: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ProxyInfo:
    """A proxy as Toxiproxy reports it; ``listen`` is the real host:port."""

    name: str
    listen: str
    upstream: str
    enabled: bool
    toxics: tuple[ToxicInfo, ...] = ()


def _toxic(raw: Mapping[str, Any]) -> ToxicInfo:
    return ToxicInfo(
        name=str(raw["name"]),
        type=str(raw["type"]),
        stream=str(raw.get("stream", "downstream")),
        toxicity=float(raw.get("toxicity", 1.0)),
        attributes={str(k): int(v) for k, v in dict(raw.get("attributes") or {}).items()},
    )


def _proxy(raw: Mapping[str, Any]) -> ProxyInfo:
    return ProxyInfo(
        name=str(raw["name"]),
        listen=str(raw["listen"]),
        upstream=str(raw["upstream"]),
        enabled=bool(raw["enabled"]),
        toxics=tuple(_toxic(t) for t in raw.get("toxics") or ()),
    )


class ToxiproxyClient:
    """One Toxiproxy server's API. Every call has a timeout and raises on failure.

    ``api_url`` is e.g. ``http://127.0.0.1:8474``; ``timeout_s`` bounds each call.
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

    # -- raw calls -----------------------------------------------------------------

    def _call(self, method: str, path: str, json: Any = None) -> requests.Response:
        what = f"Toxiproxy {method.upper()} {self.api_url}{path}"
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
            raise ToxiproxyAPIError(f"{what} timed out after {self.timeout_s:g}s") from exc
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
        self._call("post", "/reset")

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
        return created

    def delete_proxy(self, name: str) -> None:
        self._call("delete", f"/proxies/{quote(name, safe='')}")

    def set_enabled(self, name: str, enabled: bool) -> ProxyInfo:
        """Enable or disable a proxy ("down" is a disabled proxy) and read it back."""
        self._call("post", f"/proxies/{quote(name, safe='')}", {"enabled": enabled})
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
            "delete", f"/proxies/{quote(proxy, safe='')}/toxics/{quote(toxic_name, safe='')}"
        )

    # -- metrics -------------------------------------------------------------------

    def proxy_bytes(self) -> dict[str, int]:
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


def _detail(exc: Exception) -> str:
    text = exc.args[0] if exc.args else ""
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    return str(text).strip()[:200]
