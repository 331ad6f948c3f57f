"""``harness`` imports its public names on first use (PEP 562).

``import harness`` (which ``python -m harness.cli`` does first) must cost
nothing until a name is asked for; each name then resolves to the object its
module defines. Checked in fresh interpreters, where no other test has
imported anything yet.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import textwrap
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest

import harness

REPO = Path(__file__).resolve().parents[2]


def _fresh(code: str) -> object:
    """What ``code`` prints as JSON on its last line, run in a new interpreter."""
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=REPO,
    )
    return json.loads(result.stdout.splitlines()[-1])


def test_import_harness_imports_none_of_the_heavy_parts() -> None:
    loaded = _fresh(
        """
        import json, sys
        import harness
        print(json.dumps(sorted(sys.modules)))
        """
    )
    assert isinstance(loaded, list)
    assert "harness" in loaded
    heavy = ("harness.backends", "harness.experiment", "harness.stack", "httpx")
    assert [m for m in loaded if m.startswith(heavy)] == []


def test_a_name_imports_its_module_on_first_use() -> None:
    loaded = _fresh(
        """
        import json, sys
        import harness
        before = "harness.model.faults" in sys.modules
        harness.Latency
        print(json.dumps([before, "harness.model.faults" in sys.modules]))
        """
    )
    assert loaded == [False, True]


def test_every_public_name_resolves_to_its_modules_object() -> None:
    assert set(harness.__all__) == {*harness._MODULE_OF, "__version__"}
    resolved = _fresh(
        """
        import json
        import harness
        print(json.dumps({n: getattr(harness, n).__module__ for n in harness.__all__
                          if n != "__version__"}))
        """
    )
    assert isinstance(resolved, dict)
    assert resolved == {
        n: getattr(harness, n).__module__ for n in harness.__all__ if n != "__version__"
    }, "each name, resolved afresh, is the object it is here"
    for name, home in harness._MODULE_OF.items():
        value = getattr(harness, name)
        assert value is getattr(importlib.import_module(home), name), name
        assert name in vars(harness), f"{name} is kept once resolved"


def test_the_version_is_the_installed_distributions() -> None:
    try:
        expected = version("domino-chaos")
    except PackageNotFoundError:
        expected = "0.0.0+unknown"
    assert harness.__version__ == expected
    assert _fresh("import harness, json; print(json.dumps(harness.__version__))") == expected


def test_an_unknown_name_is_an_attribute_error_naming_it() -> None:
    with pytest.raises(AttributeError, match="module 'harness' has no attribute 'NoSuchThing'"):
        _ = harness.NoSuchThing
    assert not hasattr(harness, "no_such_name")
    with pytest.raises(ImportError, match="NoSuchThing"):
        from harness import NoSuchThing  # type: ignore[attr-defined]  # noqa: F401


def test_dir_lists_every_public_name_before_any_is_used() -> None:
    # In a fresh interpreter: here every name has been resolved into the module already.
    listed = _fresh("import harness, json; print(json.dumps(dir(harness)))")
    assert isinstance(listed, list)
    assert set(harness.__all__) <= set(listed)


def test_star_import_gives_every_public_name() -> None:
    names = _fresh(
        """
        import json
        namespace = {}
        exec("from harness import *", namespace)
        print(json.dumps(sorted(k for k in namespace if k != "__builtins__")))
        """
    )
    assert isinstance(names, list)
    assert sorted(names) == sorted(harness.__all__)
