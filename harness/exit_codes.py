"""The ``domino`` command's exit codes.

0 success; 1 an expectation failed; 2 bad usage or input (nothing started);
3 the stack could not start, or a run was inconclusive; 130 interrupted.
"""

from __future__ import annotations

__all__ = ["EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_STACK", "EXIT_USAGE"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_STACK = 3
EXIT_INTERRUPTED = 130
