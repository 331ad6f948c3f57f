"""The incident specs that ship with Domino (YAML files in this folder)."""
