"""Domino: a chaos-engineering harness for cascading failures.

The public face: import these names from ``harness``; every other module is
Domino's own and may move. The layers beneath, lowest first: ``errors``,
``model`` (values), ``contracts`` (extension points) and ``infra``; the
engines (``verdict``, ``toxiproxy``, ``loadgen``, ``flood``, ``journeys``,
``plugins``); ``files``; ``stack``; ``backends``; ``experiment``; ``explore``
and ``report``; ``cli`` and the pytest plugin.
"""

from importlib.metadata import PackageNotFoundError, version

from harness.adapters import HttpAdapter
from harness.backends import start_stack
from harness.contracts import (
    BackendFactory,
    ConfiguredLimits,
    FaultApplier,
    Preparation,
    ServiceControl,
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
from harness.experiment import ExperimentResult, RunResult, run_experiment, run_incident
from harness.files.incident_file import load_spec, parse_spec
from harness.files.topology_file import load_topology, parse_topology
from harness.journeys import JourneyClient
from harness.library import default_topology, find_incident, find_topology, list_incidents
from harness.model.faults import (
    Bandwidth,
    Crash,
    Down,
    Fault,
    Flood,
    HttpError,
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
from harness.model.incident import Expectation, Experiment, FaultStep, IncidentSpec, JourneyLoad
from harness.model.outcomes import Answer, InvariantVerdict, Observation, RunVerdict
from harness.model.topology import Edge, Journey, Readiness, Service, Slo, Topology, User
from harness.plugins import register_adapter, register_backend
from harness.stack import AppliedFault, EdgeEndpoint, FaultScope, Stack

try:
    __version__ = version("domino-chaos")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = [
    "AdminCallError",
    "Answer",
    "AppliedFault",
    "BackendFactory",
    "Bandwidth",
    "ComposeImportError",
    "ConfiguredLimits",
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
    "HttpAdapter",
    "HttpError",
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
    "ResetPeer",
    "Restart",
    "RunResult",
    "RunVerdict",
    "Service",
    "ServiceControl",
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
