"""Settings files (``files:``) on the docker backend: rendered per container, copied in.

A service's files are rendered (:func:`~harness.backends.service_files.render_files`)
with the values its container runs with: its ``container_port``, bind host
``0.0.0.0``, ``{data_dir}`` ``/data/<service>``, and each outgoing edge's
listener ``toxiproxy:<port>``. They are copied into the container after it is
created and before it first starts, where the service reads them: a file
declared in ``{data_dir}`` goes to the container's ``{data_dir}``; a file of
the working copy goes where its ``container_path`` says (the file's place in
the image). Nothing is written on the host: the user's files are only read
(as the base of a ``json``/``yaml``/``.env`` edit). A container that a fault
restarts keeps its files, and their values stay true: every address in the
run's network is fixed.
"""

from __future__ import annotations

import io
import tarfile
import time
from pathlib import Path, PurePosixPath
from typing import Any

from harness.backends.docker.compose import container_values, network_address
from harness.backends.docker.engine import sdk
from harness.backends.service_files import address_values, render_files
from harness.errors import StackError, UsageError
from harness.model.topology import Service, Topology

__all__ = ["check_container_paths", "copy_settings_files", "image_owner", "settings_archive"]

#: Every file is readable by whichever user the image runs as.
_FILE_MODE = 0o644


def check_container_paths(topology: Topology) -> None:
    """UsageError (one line, before anything starts) for a working-copy file with no
    ``container_path``: the docker backend cannot know where it sits in the image."""
    for service in topology.services:
        for index, spec in enumerate(service.files):
            if spec.in_working_copy and spec.container_path is None:
                raise UsageError(
                    f"service {service.name}: files[{index}] ({spec.path}) is a file of the "
                    "working copy; on the docker backend say where it is in the image with "
                    "`container_path: /absolute/path` (or write it to {data_dir}/NAME)"
                )


def settings_archive(
    topology: Topology, service: Service, *, owner: tuple[int, int] = (0, 0)
) -> bytes | None:
    """A tar of ``service``'s settings files at their container paths (None: it has none).

    ``owner`` (uid, gid) owns the ``{data_dir}`` folder, so the service can write there.
    UsageError (one line) when a file to edit cannot be read or a key cannot be set.
    """
    if not service.files:
        return None
    values = container_values(topology, service)
    data_dir = PurePosixPath(values["data_dir"])
    file_values = {**values, **address_values(topology, service, network_address(topology))}
    rendered = render_files(service, file_values, data_dir=Path(values["data_dir"]))
    stamp = int(time.time())
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        if any(not spec.in_working_copy and spec.container_path is None for spec in service.files):
            folder = tarfile.TarInfo(str(data_dir).lstrip("/"))
            folder.type, folder.mode, folder.mtime = tarfile.DIRTYPE, 0o755, stamp
            folder.uid, folder.gid = owner
            tar.addfile(folder)
        for spec, made in zip(service.files, rendered, strict=True):
            where = spec.container_path or data_dir / spec.path
            entry = tarfile.TarInfo(str(where).lstrip("/"))
            entry.size, entry.mode, entry.mtime = len(made.content), _FILE_MODE, stamp
            if not spec.in_working_copy and spec.container_path is None:
                entry.uid, entry.gid = owner
            tar.addfile(entry, io.BytesIO(made.content))
    return buffer.getvalue()


def image_owner(client: Any, image: str) -> tuple[int, int]:
    """The numeric (uid, gid) ``image`` runs as; root when it names a user by name or none."""
    user = str(client.images.get(image).attrs.get("Config", {}).get("User") or "")
    uid, _, gid = user.partition(":")
    if not uid.isdigit():
        return 0, 0
    return int(uid), int(gid) if gid.isdigit() else int(uid)


def copy_settings_files(container: Any, archive: bytes) -> None:
    """Put ``archive`` into ``container`` (created, not yet started) at its root."""
    try:
        copied = container.put_archive("/", archive)
    except sdk().errors.DockerException as exc:
        raise StackError(f"could not copy settings files into {container.name}: {exc}") from None
    if not copied:
        raise StackError(f"could not copy settings files into {container.name}")
