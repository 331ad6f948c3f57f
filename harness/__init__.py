"""Domino: a chaos-engineering harness for cascading failures.

The public face: import these names from ``harness``; every other module is
Domino's own and may move. The layers beneath, lowest first: ``errors``,
``model`` (values), ``contracts`` (extension points) and ``infra``; the
engines (``verdict``, ``toxiproxy``, ``loadgen``, ``flood``, ``journeys``,
``plugins``); ``files``; ``stack``; ``backends``; ``experiment``; ``explore``
and ``report``; ``cli`` (with ``commands``) and the pytest plugin.

The names are imported when first used (PEP 562), so ``import harness`` (and
``python -m harness.cli``, which imports this package first) costs nothing
until a name is asked for: the runner starts what it can before it pays for
the rest (:mod:`harness.infra.early_host`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.adapters import HttpAdapter
    from harness.backends import start_stack
    from harness.contracts import (
        BackendFactory,
        ConfiguredLimits,
        CountsOwnTraffic,
        FaultApplier,
        Preparation,
        ReportsAppliedKeys,
        ServiceControl,
        ServiceDeath,
        SystemAdapter,
        SystemControl,
    )
    from harness.errors import (
        AdminCallError,
        ComposeImportError,
        DockerImageMissingError,
        DockerImageStaleError,
        DockerUnavailableError,
        DominoError,
        FaultRemovalError,
        FaultSpecError,
        LoadEngineError,
        LoadPlanError,
        PortInUseError,
        ServiceStartError,
        SessionError,
        SpecError,
        StackError,
        TopologyError,
        ToxiproxyAPIError,
        ToxiproxyError,
        ToxiproxyInstallError,
        ToxiproxyNotFoundError,
        UnknownEdgeError,
        UnknownServiceError,
        UnsafeTargetError,
        UnsupportedFaultError,
        UsageError,
    )
    from harness.experiment import (
        ExperimentResult,
        RunResult,
        run_experiment,
        run_incident,
    )
    from harness.files.incident_file import (
        load_spec,
        parse_spec,
    )
    from harness.files.topology_file import (
        load_topology,
        parse_topology,
    )
    from harness.journeys import JourneyClient
    from harness.library import (
        default_topology,
        find_incident,
        find_topology,
        list_incidents,
    )
    from harness.model.faults import (
        Bandwidth,
        Crash,
        Down,
        Fault,
        Flood,
        HttpAbort,
        HttpBody,
        HttpDelay,
        HttpError,
        HttpStatus,
        Latency,
        LimitData,
        Maintenance,
        Pause,
        ResetPeer,
        Restart,
        Slicer,
        SlowClose,
        SlowHandler,
        Stop,
        Surge,
        Suspend,
        Timeout,
        build_fault,
    )
    from harness.model.incident import (
        Expectation,
        Experiment,
        FaultStep,
        IncidentSpec,
        JourneyLoad,
    )
    from harness.model.outcomes import (
        Answer,
        InvariantVerdict,
        Observation,
        RunVerdict,
    )
    from harness.model.topology import (
        Edge,
        Journey,
        Readiness,
        Service,
        ServiceFile,
        Slo,
        Topology,
        User,
    )
    from harness.plugins import (
        register_adapter,
        register_backend,
    )
    from harness.stack import (
        AppliedFault,
        EdgeEndpoint,
        FaultScope,
        Stack,
    )

#: Where each public name lives.
_HOMES: dict[str, tuple[str, ...]] = {
    "harness.adapters": ("HttpAdapter",),
    "harness.backends": ("start_stack",),
    "harness.contracts": (
        "BackendFactory",
        "ConfiguredLimits",
        "CountsOwnTraffic",
        "FaultApplier",
        "Preparation",
        "ReportsAppliedKeys",
        "ServiceControl",
        "ServiceDeath",
        "SystemAdapter",
        "SystemControl",
    ),
    "harness.errors": (
        "AdminCallError",
        "ComposeImportError",
        "DockerImageMissingError",
        "DockerImageStaleError",
        "DockerUnavailableError",
        "DominoError",
        "FaultRemovalError",
        "FaultSpecError",
        "LoadEngineError",
        "LoadPlanError",
        "PortInUseError",
        "ServiceStartError",
        "SessionError",
        "SpecError",
        "StackError",
        "TopologyError",
        "ToxiproxyAPIError",
        "ToxiproxyError",
        "ToxiproxyInstallError",
        "ToxiproxyNotFoundError",
        "UnknownEdgeError",
        "UnknownServiceError",
        "UnsafeTargetError",
        "UnsupportedFaultError",
        "UsageError",
    ),
    "harness.experiment": ("ExperimentResult", "RunResult", "run_experiment", "run_incident"),
    "harness.files.incident_file": ("load_spec", "parse_spec"),
    "harness.files.topology_file": ("load_topology", "parse_topology"),
    "harness.journeys": ("JourneyClient",),
    "harness.library": ("default_topology", "find_incident", "find_topology", "list_incidents"),
    "harness.model.faults": (
        "Bandwidth",
        "Crash",
        "Down",
        "Fault",
        "Flood",
        "HttpAbort",
        "HttpBody",
        "HttpDelay",
        "HttpError",
        "HttpStatus",
        "Latency",
        "LimitData",
        "Maintenance",
        "Pause",
        "ResetPeer",
        "Restart",
        "Slicer",
        "SlowClose",
        "SlowHandler",
        "Stop",
        "Surge",
        "Suspend",
        "Timeout",
        "build_fault",
    ),
    "harness.model.incident": (
        "Expectation",
        "Experiment",
        "FaultStep",
        "IncidentSpec",
        "JourneyLoad",
    ),
    "harness.model.outcomes": ("Answer", "InvariantVerdict", "Observation", "RunVerdict"),
    "harness.model.topology": (
        "Edge",
        "Journey",
        "Readiness",
        "Service",
        "ServiceFile",
        "Slo",
        "Topology",
        "User",
    ),
    "harness.plugins": ("register_adapter", "register_backend"),
    "harness.stack": ("AppliedFault", "EdgeEndpoint", "FaultScope", "Stack"),
}
_MODULE_OF = {name: module for module, names in _HOMES.items() for name in names}


def __getattr__(name: str) -> Any:
    """A public name, imported from its module on first use and kept here."""
    if name == "__version__":
        value: Any = _version()
    elif name in _MODULE_OF:
        value = getattr(importlib.import_module(_MODULE_OF[name]), name)
    else:
        raise AttributeError(f"module 'harness' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("domino-chaos")
    except PackageNotFoundError:  # a source tree that was never installed
        return "0.0.0+unknown"


__all__ = [
    "AdminCallError",
    "Answer",
    "AppliedFault",
    "BackendFactory",
    "Bandwidth",
    "ComposeImportError",
    "ConfiguredLimits",
    "CountsOwnTraffic",
    "Crash",
    "DockerImageMissingError",
    "DockerImageStaleError",
    "DockerUnavailableError",
    "DominoError",
    "Down",
    "Edge",
    "EdgeEndpoint",
    "Expectation",
    "Experiment",
    "ExperimentResult",
    "Fault",
    "FaultApplier",
    "FaultRemovalError",
    "FaultScope",
    "FaultSpecError",
    "FaultStep",
    "Flood",
    "HttpAbort",
    "HttpAdapter",
    "HttpBody",
    "HttpDelay",
    "HttpError",
    "HttpStatus",
    "IncidentSpec",
    "InvariantVerdict",
    "Journey",
    "JourneyClient",
    "JourneyLoad",
    "Latency",
    "LimitData",
    "LoadEngineError",
    "LoadPlanError",
    "Maintenance",
    "Observation",
    "Pause",
    "PortInUseError",
    "Preparation",
    "Readiness",
    "ReportsAppliedKeys",
    "ResetPeer",
    "Restart",
    "RunResult",
    "RunVerdict",
    "Service",
    "ServiceControl",
    "ServiceDeath",
    "ServiceFile",
    "ServiceStartError",
    "SessionError",
    "Slicer",
    "Slo",
    "SlowClose",
    "SlowHandler",
    "SpecError",
    "Stack",
    "StackError",
    "Stop",
    "Surge",
    "Suspend",
    "SystemAdapter",
    "SystemControl",
    "Timeout",
    "Topology",
    "TopologyError",
    "ToxiproxyAPIError",
    "ToxiproxyError",
    "ToxiproxyInstallError",
    "ToxiproxyNotFoundError",
    "UnknownEdgeError",
    "UnknownServiceError",
    "UnsafeTargetError",
    "UnsupportedFaultError",
    "UsageError",
    "User",
    "__version__",
    "build_fault",
    "default_topology",
    "find_incident",
    "find_topology",
    "list_incidents",
    "load_spec",
    "load_topology",
    "parse_spec",
    "parse_topology",
    "register_adapter",
    "register_backend",
    "run_experiment",
    "run_incident",
    "start_stack",
]
