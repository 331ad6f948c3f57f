"""What a service's settings file holds for one process, and how a working-copy file is put back."""

from __future__ import annotations

import configparser
import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from harness import UsageError, parse_topology
from harness.backends.service_files import (
    RenderedFile,
    address_values,
    render_files,
    write_files,
)
from harness.infra.runstate import RunRecord, keep_original, reconcile, restore_originals
from harness.model.topology import Edge

_LISTENERS = {"api->db": ("127.0.0.1", 41001), "api->mail": ("127.0.0.1", 41002)}


@pytest.fixture(autouse=True)
def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOMINO_HOME", str(tmp_path / "home"))


def _render(folder: Path, files: str) -> str:
    """The one file the ``api`` service declares (``files`` is its YAML list), rendered."""
    text = f"""
name: unit
services:
  api:
    command: [./api]
    files:
{files}
  db: {{command: [./db, "{{port}}"]}}
  mail: {{command: [./mail, "{{port}}"]}}
edges:
  client->api: {{}}
  api->db: {{}}
  api->mail: {{}}
journeys:
  home: {{path: /, slo: {{p95_ms: 100}}}}
"""
    topology = parse_topology(text, source="unit.yaml", base_dir=folder)
    service = topology.service("api")

    def listener(edge: Edge) -> tuple[str, int]:
        return _LISTENERS[edge.name]

    values = {
        "port": "18080",
        "bind_host": "127.0.0.1",
        "dir": str(folder),
        "data_dir": str(folder / "data"),
        "python": sys.executable,
        "service": "api",
        **address_values(topology, service, listener),
    }
    (rendered,) = render_files(service, values, data_dir=folder / "data")
    return rendered.content.decode()


def test_a_template_gets_the_services_values_and_each_edges_address(tmp_path: Path) -> None:
    files = """
      - path: "{data_dir}/app.conf"
        template: |
          listen {bind_host}:{port};
          upstream db {{ server {db.host}:{api->db.port}; }}
          mail = {mail.url}
"""
    assert _render(tmp_path, files) == (
        "listen 127.0.0.1:18080;\nupstream db { server 127.0.0.1:41001; }\n"
        "mail = http://127.0.0.1:41002\n"
    )


def test_a_template_file_is_read_and_rendered(tmp_path: Path) -> None:
    (tmp_path / "app.conf.tmpl").write_text("port={port}\n")
    files = """
      - path: "{data_dir}/app.conf"
        template_file: app.conf.tmpl
"""
    assert _render(tmp_path, files) == "port=18080\n"


def test_dotenv_sets_keys_in_place_keeps_the_rest_and_quotes_what_needs_it(
    tmp_path: Path,
) -> None:
    (tmp_path / ".env").write_text("# mine\nexport PORT=3000\nNAME=shop\nDB_URL=x\n")
    files = """
      - path: .env
        dotenv:
          PORT: "{port}"
          DB_URL: "{db.url}"
          GREETING: "hello $USER"
          QUOTE: "it's \\"x\\""
"""
    assert _render(tmp_path, files).splitlines() == [
        "# mine",
        "export PORT=18080",
        "NAME=shop",
        "DB_URL=http://127.0.0.1:41001",
        "GREETING='hello $USER'",
        'QUOTE="it\'s \\"x\\""',
    ]


def test_json_edits_keep_the_rest_and_write_a_port_as_a_number_unless_it_was_text(
    tmp_path: Path,
) -> None:
    (tmp_path / "config.json").write_text(
        json.dumps({"port": 3000, "db": {"port": "5432", "pool": 4}, "hosts": ["a", "b"]})
    )
    files = """
      - path: config.json
        json:
          port: "{port}"
          db.port: "{db.port}"
          hosts.1: "{mail.host}"
          mail.url: "{mail.url}"
          mail.tls: false
"""
    assert json.loads(_render(tmp_path, files)) == {
        "port": 18080,
        "db": {"port": "41001", "pool": 4},
        "hosts": ["a", "127.0.0.1"],
        "mail": {"url": "http://127.0.0.1:41002", "tls": False},
    }


def test_yaml_edits_set_keys_in_the_first_document_and_keep_the_others(tmp_path: Path) -> None:
    (tmp_path / "application.yml").write_text(
        "server:\n  port: 8080\nspring:\n  datasource:\n    url: jdbc:x\n---\nserver:\n  port: 80\n"
    )
    files = """
      - path: "{data_dir}/application.yml"
        from: application.yml
        yaml:
          server.port: "{port}"
          spring.datasource.url: "jdbc:postgresql://{db.host}:{db.port}/shop"
"""
    first, second = yaml.safe_load_all(_render(tmp_path, files))
    assert first == {
        "server": {"port": 18080},
        "spring": {"datasource": {"url": "jdbc:postgresql://127.0.0.1:41001/shop"}},
    }
    assert second == {"server": {"port": 80}}


def test_ini_edits_set_keys_in_their_sections_and_keep_comments_and_order(tmp_path: Path) -> None:
    (tmp_path / "app.ini").write_text(
        "; mine\n[server]\nport = 3000 ; old\nname = shop\n\n[tool.db]\nurl=x\n# end\n"
    )
    files = """
      - path: app.ini
        ini:
          server.port: "{port}"
          tool.db.url: "{db.url}"
          tool.db.pool: "4"
          mail.url: "{mail.url}"
"""
    text = _render(tmp_path, files)
    assert text.splitlines() == [
        "; mine",
        "[server]",
        "port = 18080",
        "name = shop",
        "",
        "[tool.db]",
        "url = http://127.0.0.1:41001",
        "pool = 4",
        "# end",
        "",
        "[mail]",
        "url = http://127.0.0.1:41002",
    ]
    parsed = configparser.ConfigParser(inline_comment_prefixes=(";",))
    parsed.read_string(text)
    assert parsed["tool.db"]["url"] == "http://127.0.0.1:41001"


def test_toml_edits_keep_the_rest_and_write_a_port_as_a_number_unless_it_was_text(
    tmp_path: Path,
) -> None:
    (tmp_path / "app.toml").write_text(
        'title = "shop"  # mine\nport = 3000\n\n[db]\nport = "5432"\npool = 4\n'
    )
    files = """
      - path: app.toml
        toml:
          port: "{port}"
          db.port: "{db.port}"
          mail.url: "{mail.url}"
          mail.tls: false
          mail.retries: 2
"""
    text = _render(tmp_path, files)
    assert text.splitlines()[0] == 'title = "shop"  # mine'
    assert tomllib.loads(text) == {
        "title": "shop",
        "port": 18080,
        "db": {"port": "41001", "pool": 4},
        "mail": {"url": "http://127.0.0.1:41002", "tls": False, "retries": 2},
    }


def test_properties_edits_set_whole_dotted_names_in_place(tmp_path: Path) -> None:
    (tmp_path / "application.properties").write_text(
        "# Spring\nserver.port=8080\nspring.datasource.url : jdbc:x\nlong=a \\\n  b\n"
    )
    files = """
      - path: application.properties
        properties:
          server.port: "{port}"
          spring.datasource.url: "jdbc:postgresql://{db.host}:{db.port}/shop"
          mail.url: "{mail.url}"
"""
    assert _render(tmp_path, files).splitlines() == [
        "# Spring",
        "server.port=18080",
        "spring.datasource.url=jdbc:postgresql://127.0.0.1:41001/shop",
        "long=a \\",
        "  b",
        "mail.url=http://127.0.0.1:41002",
    ]


@pytest.mark.parametrize(
    ("kind", "edit", "problem"),
    [
        ("ini", "port: '{port}'", "an INI setting is section.name"),
        ("toml", "'db.\"x y\"': '{port}'", "a TOML setting is table.name"),
        ("toml", "db.hosts: [a, b]", "a TOML setting here is text, a number or true/false"),
    ],
)
def test_a_line_kind_setting_that_cannot_be_written_is_refused_at_load(
    tmp_path: Path, kind: str, edit: str, problem: str
) -> None:
    with pytest.raises(UsageError) as info:
        _render(tmp_path, f"      - path: app.{kind}\n        {kind}: {{{edit}}}\n")
    assert problem in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("original", "edit", "problem"),
    [
        ("{nope", "port: '{port}'", "config.json is not JSON"),
        ('{"db": "x"}', "db.port: '{port}'", "cannot set keys under db: it holds 'x'"),
        ('{"hosts": []}', "hosts.3: '{port}'", "cannot set hosts.3: the list there has 0 items"),
        ("[1, 2]", "port: '{port}'", "cannot set port: the list there has 2 items"),
        ('"text"', "port: '{port}'", "holds str, not a mapping of settings"),
    ],
)
def test_an_edit_that_cannot_be_made_is_one_line_naming_the_file(
    tmp_path: Path, original: str, edit: str, problem: str
) -> None:
    (tmp_path / "config.json").write_text(original)
    with pytest.raises(UsageError) as info:
        _render(tmp_path, f"      - path: config.json\n        json: {{{edit}}}\n")
    assert "service api: files[0]" in str(info.value)
    assert problem in str(info.value)
    assert "\n" not in str(info.value)


def test_a_working_copy_file_is_kept_once_and_put_back_with_its_mode(tmp_path: Path) -> None:
    settings = tmp_path / "settings.json"
    settings.write_text('{"port": 1}')
    settings.chmod(0o640)
    made = tmp_path / "made.env"  # did not exist: putting it back removes it
    record = RunRecord("unit")

    for content in (b'{"port": 2}', b'{"port": 3}'):  # a start, then a restart
        write_files(
            [RenderedFile(settings, content, True), RenderedFile(made, b"A=1\n", True)], record
        )
    assert settings.read_bytes() == b'{"port": 3}'
    assert settings.stat().st_mode & 0o777 == 0o640
    assert len(record.originals) == 2
    saved = RunRecord.load(record.path)
    assert [f.path for f in saved.originals] == [str(settings), str(made)]  # saved before writing

    assert restore_originals(record) == [
        f"put back {settings}",
        f"removed {made} (the run made it)",
    ]
    assert settings.read_bytes() == b'{"port": 1}'
    assert settings.stat().st_mode & 0o777 == 0o640
    assert not made.exists()
    assert record.originals == []
    record.discard()
    assert not record.path.exists()


def test_an_original_that_cannot_be_put_back_keeps_the_record_for_the_next_reconcile(
    tmp_path: Path,
) -> None:
    settings = tmp_path / "settings.json"
    settings.write_text("original")
    owner = subprocess.Popen([sys.executable, "-c", "pass"])
    record = RunRecord("local", owner_pid=owner.pid)
    keep_original(record, settings)
    owner.wait()  # the run is gone, as after SIGKILL
    settings.unlink()
    (settings / "in-the-way").mkdir(parents=True)  # a folder where the file was: cannot replace

    lines = reconcile("local")

    assert any(line.startswith(f"could not put back {settings}") for line in lines)
    assert record.path.exists()  # kept: the next reconcile tries again
    (settings / "in-the-way").rmdir()
    settings.rmdir()
    assert reconcile("local") == [f"put back {settings}"]
    assert settings.read_text() == "original"
    assert not record.path.exists()


def test_a_file_another_live_run_is_writing_is_refused(tmp_path: Path) -> None:
    settings = tmp_path / "settings.json"
    settings.write_text("original")
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        theirs = RunRecord("local", owner_pid=other.pid)
        keep_original(theirs, settings)
        mine = RunRecord("local")
        with pytest.raises(UsageError, match=r"being written by another Domino run \(pid \d+\)"):
            keep_original(mine, settings)
        assert mine.originals == []
    finally:
        other.kill()
        other.wait()
