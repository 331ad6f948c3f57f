"""The smallest local stack: two standard-library web servers, ``front`` calling ``back``."""

from __future__ import annotations

TWO_SERVERS = """
name: two-servers
services:
  front:
    command: ["{python}", "-m", "http.server", "--bind", "{bind_host}", "{port}"]
    ready: {http: /}
  back:
    command: ["{python}", "-m", "http.server", "--bind", "{bind_host}", "{port}"]
    ready: {http: /}
edges:
  client->front: {}
  front->back: {env: {BACK_URL: "http://{host}:{port}"}}
journeys:
  home: {path: /, session: false, slo: {p95_ms: 500}, hard: [client->front]}
"""
