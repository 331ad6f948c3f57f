"""The overseas remittance network: accepts remittances from bank."""

from __future__ import annotations

from fastapi import FastAPI

from services.kit.app import create_app
from services.kit.config import ServiceConfig

__all__ = ["build_app"]


def build_app(config: ServiceConfig) -> FastAPI:
    return create_app(config, title="remit")
