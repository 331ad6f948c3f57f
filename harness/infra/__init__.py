"""Leaf utilities every layer may use: Domino's home folder, child processes, signals,
readiness waits, network safety, templates and the record of a run's processes."""
