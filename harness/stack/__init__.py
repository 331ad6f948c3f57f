"""A running system, whatever backend brought it up, and the faults applied to it.

:class:`Stack` is the one face of a running system; :mod:`.injection` applies
faults in scopes that always remove them.
"""

from harness.stack.injection import AppliedFault, FaultScope, Injector
from harness.stack.running import EdgeEndpoint, Stack

__all__ = ["AppliedFault", "EdgeEndpoint", "FaultScope", "Injector", "Stack"]
