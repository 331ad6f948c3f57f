"""The bank service: the super-app backend users log in to.

Features, one module each: login, accounts, transfers
(:mod:`~services.bank.accounts`); the card tab (:mod:`~services.bank.cardtab`,
-> card, -> pay); the combined savings product (:mod:`~services.bank.savings`,
-> card -> pay); FX with its kill switch (:mod:`~services.bank.fx`);
overseas remittance (:mod:`~services.bank.remittance`, -> remit); and KRW
deposits and withdrawals for a crypto exchange (:mod:`~services.bank.exchange`).
Money lives in a double-entry ledger (:mod:`~services.bank.ledger`).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from services.bank import accounts, cardtab, exchange, fx, remittance, savings
from services.bank.context import Bank
from services.bank.core import CoreLedger
from services.bank.ledger import HOUSE, SCHEMA, Ledger
from services.bank.models import SwitchIn
from services.kit.app import ServiceKit, create_app
from services.kit.config import ServiceConfig
from services.kit.errors import ServiceError
from services.kit.killswitch import FeatureSwitch
from services.kit.storage import Database

__all__ = ["build_app"]

#: Requests flow control keeps room for: balance inquiry.
PRIORITY_ROUTES = frozenset({("GET", "/accounts")})


class OperatorSuspensions:
    """The admin API's holds of kind ``suspension``: kill switches an operator set.

    Automatic trips are the system's own reaction, not a leftover fault, so they
    are not listed; a reset (``DELETE /admin/faults``) lifts them too.
    """

    def __init__(self, switches: dict[str, FeatureSwitch]) -> None:
        self._switches = switches

    def list_holds(self) -> list[dict[str, Any]]:
        held = []
        for switch in self._switches.values():
            active = switch.active()
            if active is not None and not active.automatic:
                held.append({"kind": "suspension", "id": active.id, **switch.describe()})
        return held

    def release_hold(self, hold_id: str) -> bool:
        for switch in self._switches.values():
            active = switch.active()
            if active is not None and active.id == hold_id:
                return switch.resume()
        return False

    def release_all(self) -> int:
        return sum(1 for switch in self._switches.values() if switch.active() and switch.resume())


def _invariants(bank: Bank) -> dict[str, Any]:
    conn = bank.db.conn
    report = bank.ledger.invariants(conn)
    violations: list[str] = report.pop("violations")
    by_state = {
        str(r[0]): {"count": int(r[1]), "amount_krw": int(r[2])}
        for r in conn.execute(
            "SELECT state, COUNT(*), COALESCE(SUM(amount_krw), 0) FROM remittances GROUP BY state"
        )
    }
    pending = by_state.get("pending", {"count": 0, "amount_krw": 0})
    sent = by_state.get("sent", {"count": 0, "amount_krw": 0})
    suspense = bank.ledger.balance(conn, HOUSE.remit_suspense)
    nostro = bank.ledger.balance(conn, HOUSE.remit_nostro)
    if suspense != pending["amount_krw"]:
        violations.append(f"remittance suspense holds {suspense}, pending ones are {pending}")
    if nostro != sent["amount_krw"]:
        violations.append(f"remittance nostro holds {nostro}, sent ones are {sent}")
    savings_count = conn.execute("SELECT COUNT(*) FROM savings").fetchone()[0]
    return {
        "service": "bank",
        "ok": not violations,
        "violations": violations,
        **report,
        "pending": {"remittances": pending["count"], "remittances_krw": pending["amount_krw"]},
        "remittances": by_state,
        "savings_enrolled": savings_count,
    }


def build_app(config: ServiceConfig) -> FastAPI:
    knobs = config.knobs
    switches: dict[str, FeatureSwitch] = {
        fx.FX_FEATURE: FeatureSwitch(
            config.name,
            fx.FX_FEATURE,
            fx.FX_EXCEPTIONS,
            armed=knobs.fx_kill_switch,
            surge_per_s=knobs.fx_surge_orders_per_s,
            suspend_s=knobs.fx_suspend_s,
        )
    }

    async def startup(app: FastAPI) -> None:
        kit: ServiceKit = app.state.kit
        db = Database(
            config.data_dir / "bank.sqlite3", (*SCHEMA, *savings.SCHEMA, *remittance.SCHEMA)
        )
        ledger = Ledger()
        with db.transaction() as conn:
            ledger.seed(conn)
        core = CoreLedger(
            connections=knobs.core_connections,
            service_ms=knobs.core_service_ms,
            flow_control=knobs.core_flow_control,
            queue_limit=knobs.core_queue_limit,
            service=config.name,
        )
        bank = Bank(kit=kit, db=db, ledger=ledger, fx_switch=switches[fx.FX_FEATURE], core=core)
        app.state.bank = bank
        if "remit" in kit.deps:
            bank.outbox = remittance.RemittanceOutbox(bank)
            bank.outbox.start()

        async def invariants() -> dict[str, Any]:
            return _invariants(bank)

        kit.invariants = invariants
        kit.key_records = lambda: db.conn
        kit.stats["switches"] = lambda: {name: s.describe() for name, s in switches.items()}
        kit.stats["core"] = core.snapshot
        kit.stats["outbox"] = lambda: bank.outbox.snapshot() if bank.outbox else None

    async def shutdown(app: FastAPI) -> None:
        bank: Bank = app.state.bank
        if bank.outbox is not None:
            await bank.outbox.stop()
        bank.db.close()

    app = create_app(
        config,
        title="bank",
        description=__doc__ or "",
        user_facing=True,
        public_paths=("/login",),
        priority_routes=PRIORITY_ROUTES,
        on_startup=startup,
        on_shutdown=shutdown,
    )
    app.state.kit.holds.append(OperatorSuspensions(switches))
    for module in (accounts, cardtab, savings, fx, remittance, exchange):
        app.include_router(module.router)

    @app.get("/admin/switches", tags=["admin"], summary="Feature kill switches")
    async def list_switches() -> dict[str, dict[str, Any]]:
        return {name: s.describe() for name, s in switches.items()}

    @app.put("/admin/switches/{feature}", tags=["admin"], summary="Suspend or resume a feature")
    async def set_switch(feature: str, body: SwitchIn) -> dict[str, Any]:
        switch = switches.get(feature)
        if switch is None:
            raise ServiceError(
                "RQ002", message=f"No kill switch {feature!r}; known: {', '.join(switches)}."
            )
        if body.suspended:
            switch.suspend(body.reason, duration_s=body.duration_s)
        else:
            switch.resume()
        return switch.describe()

    return app
