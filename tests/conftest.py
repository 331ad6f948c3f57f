"""Shared test setup: Domino's own pytest plugin is loaded from its entry point."""
