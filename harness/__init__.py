"""Domino: a chaos-engineering harness for cascading failures.

Public names are re-exported here; import them from ``harness``.
"""

from harness.backends import start_stack
from harness.errors import (
    DominoError,
    FaultSpecError,
    PortInUseError,
    ServiceStartError,
    SpecError,
    StackError,
    ToxiproxyAPIError,
    ToxiproxyError,
    ToxiproxyInstallError,
    ToxiproxyNotFoundError,
    UnknownEdgeError,
    UnknownServiceError,
    UnsafeTargetError,
    UsageError,
)
from harness.faults import (
    Bandwidth,
    Crash,
    Down,
    Fault,
    HttpError,
    Latency,
    LimitData,
    Pause,
    ResetPeer,
    Slicer,
    SlowClose,
    SlowHandler,
    Timeout,
    build_fault,
)
from harness.injection import AppliedFault, FaultRemovalError, FaultScope
from harness.journeys import Journey, JourneyClient, Observation, Slo
from harness.stack import EdgeEndpoint, Stack
from harness.topology import BANK_TOPOLOGY, Edge, Service, Topology

__all__ = [
    "BANK_TOPOLOGY",
    "AppliedFault",
    "Bandwidth",
    "Crash",
    "DominoError",
    "Down",
    "Edge",
    "EdgeEndpoint",
    "Fault",
    "FaultRemovalError",
    "FaultScope",
    "FaultSpecError",
    "HttpError",
    "Journey",
    "JourneyClient",
    "Latency",
    "LimitData",
    "Observation",
    "Pause",
    "PortInUseError",
    "ResetPeer",
    "Service",
    "ServiceStartError",
    "Slicer",
    "Slo",
    "SlowClose",
    "SlowHandler",
    "SpecError",
    "Stack",
    "StackError",
    "Timeout",
    "Topology",
    "ToxiproxyAPIError",
    "ToxiproxyError",
    "ToxiproxyInstallError",
    "ToxiproxyNotFoundError",
    "UnknownEdgeError",
    "UnknownServiceError",
    "UnsafeTargetError",
    "UsageError",
    "build_fault",
    "start_stack",
]
