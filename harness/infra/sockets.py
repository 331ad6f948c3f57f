"""Which TCP addresses a process listens on, read from Linux's ``/proc``.

A service started by Domino runs in its own session (``start_new_session``),
so its listeners are those of every process in that session: a shell
wrapper's child or a ``go run``'s binary counts as the service. The kernel's
tables (``/proc/net/tcp``, ``/proc/net/tcp6``) give each listening socket's
address and inode; a process's open descriptors (``/proc/PID/fd``) say
which inodes are its own.

Elsewhere than Linux (no ``/proc/net/tcp``) every function answers None:
"unknown", never a guess.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Listener", "listener_on_port", "port_holder", "session_listeners"]

_PROC = Path("/proc")
_LISTEN_STATE = "0A"


@dataclass(frozen=True, slots=True)
class Listener:
    """One listening TCP socket: its address, port and kernel inode."""

    host: str
    port: int
    inode: int

    @property
    def address(self) -> str:
        """``host:port`` (IPv6 hosts in brackets)."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def all_interfaces(self) -> bool:
        """True for a wildcard address (0.0.0.0 or ::): reachable from other machines."""
        return self.host in ("0.0.0.0", "::")  # noqa: S104 - read, not bound


def _decode_host(hex_host: str) -> str:
    """A kernel table's address: 32-bit words in host (little-endian) byte order."""
    raw = bytes.fromhex(hex_host)
    swapped = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    address = ipaddress.ip_address(swapped)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def _all_listeners() -> list[Listener] | None:
    """Every listening TCP socket in this network namespace; None without ``/proc/net/tcp``."""
    found: list[Listener] = []
    tables = [_PROC / "net" / "tcp", _PROC / "net" / "tcp6"]
    if not tables[0].exists():
        return None
    for table in tables:
        try:
            lines = table.read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 10 or fields[3] != _LISTEN_STATE:
                continue
            hex_host, _, hex_port = fields[1].partition(":")
            found.append(Listener(_decode_host(hex_host), int(hex_port, 16), int(fields[9])))
    return found


def _session_pids(session_id: int) -> list[int]:
    """Every process whose session is ``session_id`` (field 6 of ``/proc/PID/stat``)."""
    pids = []
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # it exited meanwhile
        # The command name (field 2) is in parentheses and may hold spaces.
        fields = stat.rpartition(")")[2].split()
        if len(fields) > 3 and fields[3] == str(session_id):
            pids.append(int(entry.name))
    return pids


def _socket_inodes(pid: int) -> set[int]:
    inodes = set()
    with contextlib.suppress(OSError):
        for fd in os.listdir(_PROC / str(pid) / "fd"):
            with contextlib.suppress(OSError):
                target = os.readlink(_PROC / str(pid) / "fd" / fd)
                if target.startswith("socket:["):
                    inodes.add(int(target[8:-1]))
    return inodes


def session_listeners(session_id: int) -> list[Listener] | None:
    """The TCP sockets the processes of session ``session_id`` listen on, by port.

    None when this system has no ``/proc`` to read them from.
    """
    listeners = _all_listeners()
    if listeners is None:
        return None
    inodes: set[int] = set()
    for pid in _session_pids(session_id):
        inodes |= _socket_inodes(pid)
    mine = {(lst.host, lst.port): lst for lst in listeners if lst.inode in inodes}
    return sorted(mine.values(), key=lambda lst: (lst.port, lst.host))


def listener_on_port(port: int) -> list[Listener] | None:
    """Every socket listening on ``port`` (any address); None without ``/proc``."""
    listeners = _all_listeners()
    if listeners is None:
        return None
    return [lst for lst in listeners if lst.port == port]


def port_holder(port: int) -> str | None:
    """``pid N (name)`` of a process of this user listening on ``port``; None if none is seen.

    Only this user's processes can be looked into; another user's listener
    gives None, as does a system without ``/proc``.
    """
    listeners = listener_on_port(port)
    if not listeners:
        return None
    wanted = {lst.inode for lst in listeners}
    for entry in _PROC.iterdir():
        if entry.name.isdigit() and _socket_inodes(int(entry.name)) & wanted:
            try:
                name = (entry / "comm").read_text().strip()
            except OSError:
                name = "?"
            return f"pid {entry.name} ({name})"
    return None
