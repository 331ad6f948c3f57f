"""Systems that ship with Domino, each a folder with its ``domino.yaml``.

A shipped system is described by the same kind of topology file a user
writes; its adapter, incidents and anything else it needs live in its own
folder. Only a system's own folder may import that system's code; the rest
of Domino reaches a system by name (:mod:`harness.plugins`).
"""
