"""The harness knows a system only through its topology file and its adapter."""

from __future__ import annotations

import ast
from pathlib import Path

HARNESS = Path(__file__).resolve().parents[2] / "harness"
BANK = HARNESS / "systems" / "bank"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_nothing_outside_the_bank_systems_folder_imports_services() -> None:
    offenders = []
    for path in sorted(HARNESS.rglob("*.py")):
        if BANK in path.parents:
            continue
        if any(name == "services" or name.startswith("services.") for name in _imports(path)):
            offenders.append(str(path.relative_to(HARNESS.parent)))
    assert offenders == [], "only harness/systems/bank may import services"


def test_the_bank_folder_really_is_the_one_that_imports_services() -> None:
    """The check above can fail: the bank's adapter does import services."""
    assert any(n.startswith("services") for n in _imports(BANK / "adapter.py"))


def test_every_fault_kind_registers_itself_once() -> None:
    from harness.model.faults import FAULT_KINDS, Fault

    assert len(FAULT_KINDS) >= 17
    for kind, cls in FAULT_KINDS.items():
        assert issubclass(cls, Fault)
        assert cls.kind == kind
