"""`domino import-compose` on Compose files shaped like real public multi-service apps.

Three fixtures written for these tests, each modelled on a kind of app people
publish (tests/specs/compose/real/): a voting app (Python, Node.js, .NET,
Redis, PostgreSQL) whose code names its dependencies itself; a React + Spring
Boot + MariaDB app with anchors, merge keys, an env_file and secrets; a
polyglot shop (a Node.js gateway before Go services) sharing settings through
an ``x-`` block. What the importer gets right and what it cannot know is
listed in docs/topologies.md ("Tried on real Compose files").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from harness.files.compose_import import ImportedTopology, import_compose
from harness.files.topology_file import load_topology

REAL = Path(__file__).resolve().parents[1] / "specs" / "compose" / "real"


def _import(relative: str, tmp_path: Path) -> tuple[ImportedTopology, dict[str, Any]]:
    result = import_compose(REAL / relative, name="real-app")
    out = tmp_path / "domino.yaml"
    out.write_text(result.yaml_text)
    topology = load_topology(out)  # what it wrote is a valid topology
    assert tuple(topology.edge_names) == result.edges
    data = yaml.safe_load(result.yaml_text)
    assert isinstance(data, dict)
    return result, data


def _notes(result: ImportedTopology, *words: str) -> list[str]:
    return [n for n in result.notes if all(w in n for w in words)]


def test_a_voting_app_whose_code_names_its_dependencies_gets_no_internal_edge_and_says_why(
    tmp_path: Path,
) -> None:
    result, data = _import("voting.yaml", tmp_path)
    # Right: the entry, ports (published, several, the usual port of known images), readiness.
    assert result.edges == ("client->vote",)
    services = data["services"]
    assert services["vote"]["ready"] == {"http": "/"}
    assert services["result"]["container_port"] == 80
    assert services["redis"]["container_port"] == 6379
    assert services["db"]["container_port"] == 5432
    # What it cannot know: nothing in the environment says vote calls redis. Each
    # depends_on without an edge is said, as is the second entry candidate.
    for source, target in (("vote", "redis"), ("result", "db"), ("worker", "redis")):
        assert _notes(result, f"service {source} depends_on {target}", "add the edge by hand")
    assert _notes(result, "other candidates: result")
    assert _notes(result, "service result", "not imported: entrypoint")


def test_a_spring_app_gets_its_edges_from_environment_and_env_file_and_a_tcp_database(
    tmp_path: Path,
) -> None:
    result, data = _import("spring/compose.yaml", tmp_path)
    assert result.edges == ("client->frontend", "frontend->backend", "backend->db")
    edges = data["edges"]
    # The env_file beside the Compose file names the back end: an edge, its variable moved.
    assert edges["frontend->backend"]["env"] == {"API_UPSTREAM": "http://{host}:{port}"}
    assert _notes(result, "env_file frontend.env", "secret")
    # The JDBC URL is a database connection: a tcp edge, said why.
    assert edges["backend->db"] == {
        "env": {"SPRING_DATASOURCE_URL": "jdbc:mysql://{host}:{port}/example"},
        "protocol": "tcp",
    }
    assert _notes(result, "backend->db is protocol: tcp", "mysql://")
    # Merge keys (<<: *java-env) reach the environment; x- blocks are not services.
    backend = data["services"]["backend"]
    assert backend["env"]["SPRING_PROFILES_ACTIVE"] == "compose"
    assert backend["ready"] == {"http": "/actuator/health"}
    assert set(data["services"]) == {"frontend", "backend", "db"}
    assert _notes(result, "service backend", "not imported: secrets")


def test_a_polyglot_shop_sharing_settings_through_an_x_block_gets_every_edge(
    tmp_path: Path,
) -> None:
    result, data = _import("polyglot.yaml", tmp_path)
    assert result.edges == (
        "client->gateway",
        "gateway->catalog",
        "gateway->orders",
        "catalog->prices",
        "orders->orders-db",
        "orders->catalog",
    )
    services, edges = data["services"], data["edges"]
    # The anchored health check, and its override on prices (another port).
    assert services["catalog"]["ready"] == {"http": "/healthz"}
    assert services["prices"]["container_port"] == 9090
    assert services["gateway"]["container_port"] == 3000
    assert edges["gateway->orders"]["env"] == {"ORDERS_URL": "http://{host}:{port}/api"}
    assert edges["orders->orders-db"]["protocol"] == "tcp"
    # A bare host:port may be gRPC or a database: taken as HTTP, and said.
    assert "protocol" not in edges["catalog->prices"]
    assert _notes(result, "catalog->prices", "no scheme", "protocol: tcp")


def test_an_env_file_that_is_missing_is_a_note_and_environment_wins_over_one(
    tmp_path: Path,
) -> None:
    (tmp_path / "api.env").write_text(
        '# mine\nexport STOCK_URL="http://stock:8080"\nMODE=file # a comment\n'
    )
    (tmp_path / "compose.yaml").write_text(
        "services:\n"
        "  api:\n"
        "    image: api\n"
        "    ports: ['80:8080']\n"
        "    env_file: [api.env, {path: optional.env, required: false}, gone.env]\n"
        "    environment: {MODE: env}\n"
        "  stock: {image: stock}\n"
    )
    result = import_compose(tmp_path / "compose.yaml")
    data = yaml.safe_load(result.yaml_text)
    assert data["services"]["api"]["env"] == {"MODE": "env"}
    assert data["edges"]["api->stock"]["env"] == {"STOCK_URL": "http://{host}:{port}"}
    assert _notes(result, "env_file gone.env cannot be read")
    assert not _notes(result, "optional.env")
