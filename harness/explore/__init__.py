"""Exploring a system by itself: observed dependencies, the blast-radius matrix, latency cliffs."""
