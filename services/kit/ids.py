"""Fresh ids for operations and resources: a readable prefix and 80 random bits."""

from __future__ import annotations

import uuid

__all__ = ["new_id"]


def new_id(prefix: str) -> str:
    """A fresh id such as ``tr-3f9a0c...`` (``tr`` transfer, ``pm`` payment, ...)."""
    return f"{prefix}-{uuid.uuid4().hex[:20]}"
