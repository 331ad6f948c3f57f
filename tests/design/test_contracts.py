"""Every shipped extension implements the protocol it is registered for, from its source.

mypy checks the same where an implementation is passed as its protocol; this
test also covers what is reached only by name (``harness.plugins``).
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from harness import contracts
from harness.adapters.http import NoControl
from harness.backends.docker import ContainerControl, _DockerRun
from harness.backends.external import _ExternalRun
from harness.backends.lifecycle import BackendRun
from harness.backends.local import _LocalRun, _LocalServices
from harness.plugins import backend_names, get_adapter, get_backend
from harness.systems.bank.adapter import BankControl


def members(protocol: type) -> dict[str, Any]:
    """The names a protocol declares (methods and annotated attributes), with their values."""
    declared: dict[str, Any] = {}
    for klass in reversed(protocol.__mro__):
        if klass in (object,) or klass.__name__ in ("Protocol", "Generic"):
            continue
        declared.update(dict.fromkeys(getattr(klass, "__annotations__", {}), None))
        declared.update(
            {name: value for name, value in vars(klass).items() if not name.startswith("_")}
        )
    return declared


def missing(implementation: Any, protocol: type) -> list[str]:
    """What ``implementation`` lacks of ``protocol``, or where its parameters differ."""
    problems = []
    for name, declared in members(protocol).items():
        if not hasattr(implementation, name):
            problems.append(f"{name}: missing")
            continue
        if callable(declared):
            want = [p for p in inspect.signature(declared).parameters if p != "self"]
            have = list(inspect.signature(getattr(implementation, name)).parameters)
            if [p for p in want if p not in have]:
                problems.append(f"{name}{inspect.signature(declared)}: parameters {have}")
    return problems


def test_the_check_sees_a_missing_method() -> None:
    class Half:
        name = "half"

        def kill(self, service: str) -> None: ...

    assert "stop: missing" in missing(Half(), contracts.ServiceControl)


@pytest.mark.parametrize("name", ["http", "bank"])
def test_shipped_adapters_satisfy_the_adapter_contract(name: str) -> None:
    assert missing(get_adapter(name), contracts.SystemAdapter) == []


@pytest.mark.parametrize("implementation", [NoControl, BankControl])
def test_shipped_system_controls_satisfy_the_system_control_contract(
    implementation: type,
) -> None:
    assert missing(implementation, contracts.SystemControl) == []


@pytest.mark.parametrize("implementation", [_LocalServices, ContainerControl])
def test_backends_service_controls_satisfy_the_service_control_contract(
    implementation: type,
) -> None:
    assert missing(implementation, contracts.ServiceControl) == []


@pytest.mark.parametrize("implementation", [_LocalRun, _DockerRun, _ExternalRun])
def test_backends_runs_satisfy_the_lifecycle_contract(implementation: type) -> None:
    assert missing(implementation, BackendRun) == []


@pytest.mark.parametrize("name", backend_names())
def test_shipped_backends_take_what_start_stack_passes(name: str) -> None:
    parameters = inspect.signature(get_backend(name)).parameters
    assert next(iter(parameters)) == "topology"
    assert {"profile", "knobs", "progress"} <= set(parameters)
