"""Pin the services' run-time requirements to what a Python environment has installed.

Usage: ``python docker/pin_requirements.py ROOTS_FILE [TARGET_PYTHON_VERSION]``

Reads package names from ROOTS_FILE (one a line, ``#`` comments), walks their
dependencies as installed in the running interpreter's environment, and prints
``name==version`` for each, sorted. Markers are evaluated for
TARGET_PYTHON_VERSION (the image's Python, e.g. ``3.11``), default the running
one. A root that is not installed is printed bare, for pip to resolve.

Run by docker/build-images.sh with the project's virtualenv, so the services'
image gets exactly the versions the tests ran with.
"""

from __future__ import annotations

import re
import sys
from importlib import metadata
from pathlib import Path

try:
    from packaging.markers import Marker
    from packaging.requirements import Requirement
except ImportError:  # a bare interpreter: pip carries its own copy
    from pip._vendor.packaging.markers import Marker  # type: ignore[no-redef]
    from pip._vendor.packaging.requirements import Requirement  # type: ignore[no-redef]


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _applies(marker: Marker | None, python_version: str) -> bool:
    if marker is None:
        return True
    environment = {"extra": "", "python_version": python_version}
    environment["python_full_version"] = python_version + ".0"
    return bool(marker.evaluate(environment))


def pins(roots: list[str], python_version: str) -> list[str]:
    """``name==version`` for ``roots`` and everything they need, as installed here."""
    found: dict[str, str] = {}
    bare: list[str] = []
    queue = list(roots)
    while queue:
        name = queue.pop()
        key = _canonical(name)
        if key in found:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            if name in roots:
                bare.append(name)
            continue
        found[key] = f"{dist.metadata['Name']}=={dist.version}"
        for raw in dist.requires or ():
            requirement = Requirement(raw)
            if _applies(requirement.marker, python_version):
                queue.append(requirement.name)
    return sorted(found.values(), key=str.lower) + sorted(bare)


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        sys.stderr.write(__doc__ or "")
        return 2
    roots = [
        line.split("#", 1)[0].strip()
        for line in Path(argv[1]).read_text().splitlines()
        if line.split("#", 1)[0].strip()
    ]
    version = argv[2] if len(argv) == 3 else f"{sys.version_info[0]}.{sys.version_info[1]}"
    sys.stdout.write("".join(pin + "\n" for pin in pins(roots, version)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
