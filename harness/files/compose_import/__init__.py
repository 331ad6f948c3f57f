"""``domino import-compose``: a user's Docker Compose file turned into a ``domino.yaml``.

A QA team that already runs its system with Compose should not have to
describe it twice. :func:`import_compose` reads the Compose file and writes the
text of a topology file (docs/topologies.md) for the docker backend:

* every Compose service becomes a Domino service with its ``image`` (or the
  name ``docker compose build`` gives a ``build:``-only service),
  ``container_port``, ``env``, ``container_command`` and ``ready``;
* every environment value that names another Compose service
  (``CATALOG_URL: http://catalog:8080/api``, ``REDIS_ADDR: redis:6379``)
  becomes an edge, and the variable moves to that edge's ``env`` with the host
  and port replaced by ``{host}`` and ``{port}``, so the caller reaches its
  dependency through Toxiproxy;
* one client edge, and one placeholder journey the user must replace.

What the file cannot say is returned as :attr:`ImportedTopology.notes`, one
line each. This is pure text processing: no host is resolved or contacted, no
shell variable or ``.env`` file is read (``${VAR:-default}`` takes its
default), so the same file always gives the same text.

One module per stage, in the order :mod:`.importer` runs them:
:mod:`.compose_file` (the YAML, errors at fields, notes; ``${VAR}`` through
:mod:`.interpolation`), :mod:`.names`, :mod:`.services`, :mod:`.edges`,
:mod:`.ports` (declared, then inferred from callers) and :mod:`.render`; the
values they pass along are in :mod:`.model`.
"""

from harness.errors import ComposeImportError
from harness.files.compose_import.importer import import_compose
from harness.files.compose_import.model import ImportedTopology

__all__ = ["ComposeImportError", "ImportedTopology", "import_compose"]
