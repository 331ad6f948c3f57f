"""System adapters shipped with the harness itself: the generic HTTP one (:mod:`.http`).

The adapter protocol is declared in :mod:`harness.contracts`; adapters are
resolved by name in :mod:`harness.plugins`.
"""

from harness.adapters.http import HttpAdapter, NoControl

__all__ = ["HttpAdapter", "NoControl"]
