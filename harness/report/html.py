"""The HTML report (placeholder until the full page lands): verdicts as a table."""

from __future__ import annotations

import html
from typing import Any

__all__ = ["render_html"]


def render_html(data: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(r['incident']['id'])}</td><td>{r['profile']}</td>"
        f"<td>{r['verdict']['outcome']}</td></tr>"
        for r in data["runs"]
    )
    return f"<!doctype html><title>Domino report</title><table>{rows}</table>"
