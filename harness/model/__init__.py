"""Domino's values, shared by every stage: the topology, faults, incident specs, outcomes.

Values only (frozen dataclasses); nothing here starts, reads or judges anything.
"""

from harness.model.faults import FAULT_KINDS, Fault, build_fault
from harness.model.incident import Expectation, Experiment, FaultStep, IncidentSpec, JourneyLoad
from harness.model.outcomes import Answer, InvariantVerdict, Observation, RunVerdict
from harness.model.topology import Edge, Journey, Service, Slo, Topology, User

__all__ = [
    "FAULT_KINDS",
    "Answer",
    "Edge",
    "Expectation",
    "Experiment",
    "Fault",
    "FaultStep",
    "IncidentSpec",
    "InvariantVerdict",
    "Journey",
    "JourneyLoad",
    "Observation",
    "RunVerdict",
    "Service",
    "Slo",
    "Topology",
    "User",
    "build_fault",
]
