"""Choosing a profile and knobs for a run, checked before anything starts."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from harness.errors import UsageError
from services.kit.profiles import PROFILES, KnobError, resolve_knobs

__all__ = ["PROFILES", "check_profile", "parse_knob_args"]


def check_profile(profile: str, knobs: Mapping[str, Any] | None) -> dict[str, Any]:
    """The knob values a run will pass to the services; UsageError if invalid."""
    try:
        return dataclasses.asdict(resolve_knobs(profile, knobs))
    except KnobError as exc:
        raise UsageError(str(exc)) from None


def parse_knob_args(items: list[str]) -> dict[str, str]:
    """``["name=value", ...]`` from the command line into a mapping."""
    knobs = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UsageError(f"--knob takes NAME=VALUE, got {item!r}")
        knobs[name.strip()] = value.strip()
    return knobs
