"""Text as the page writes it: escaping, CSS-class tokens, and numbers.

Every string that comes from the data passes through :func:`esc`, attributes
included: an incident file is user input and the page must never run what it
contains.
"""

from __future__ import annotations

import html
import math

__all__ = ["OUTCOMES", "VERDICTS", "css_token", "esc", "fmt_ms", "fmt_pct", "fmt_s"]

#: Outcome and verdict values a CSS class may be built from; anything else is "unknown".
OUTCOMES = frozenset({"pass", "fail", "inconclusive"})
VERDICTS = frozenset({"healthy", "degraded", "failed", "no_data"})


def esc(value: object) -> str:
    """Escape any value for HTML text and attribute values alike."""
    return html.escape(str(value), quote=True)


def css_token(value: object, allowed: frozenset[str], fallback: str = "unknown") -> str:
    """A CSS class suffix from data, limited to known values so data never shapes the markup."""
    text = str(value)
    return text if text in allowed else fallback


def fmt_ms(value: float) -> str:
    """Milliseconds, with a decimal only where it matters."""
    return f"{value:.1f} ms" if value < 10 else f"{value:,.0f} ms"


def fmt_pct(rate: float) -> str:
    """A share as a percentage, rounded down."""
    # 99.5% must not round up to a reassuring "100%".
    if rate >= 1:
        return "100%"
    return f"{math.floor(rate * 1000) / 10:.1f}%"


def fmt_s(value: float) -> str:
    """Seconds, to a tenth."""
    return f"{value:.1f} s"
