"""A test system for the service host: run as ``python -m tests.chaos.hosted_sleeper WHAT``.

It first prints one JSON line describing itself (argv, working folder,
environment, session, parent, and the socket ``$DOMINO_LISTEN_FD`` names),
then does WHAT: ``sleep`` until a signal ends it, ``exit N`` with code N, or
``raise`` an exception.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys


def _describe() -> dict[str, object]:
    listen = None
    fd = os.environ.get("DOMINO_LISTEN_FD")
    if fd:
        sock = socket.socket(fileno=os.dup(int(fd)))
        listen = sock.getsockname()[1]
        sock.close()
    return {
        "argv": sys.argv[1:],
        "name": __name__,
        "cwd": os.getcwd(),
        "env": dict(os.environ),
        "pid": os.getpid(),
        "sid": os.getsid(0),
        "ppid": os.getppid(),
        "listen_port": listen,
        "stdin": os.readlink("/proc/self/fd/0"),
    }


def main() -> None:
    print(json.dumps(_describe()), flush=True)
    what = sys.argv[1]
    if what == "exit":
        sys.exit(int(sys.argv[2]))
    if what == "raise":
        raise RuntimeError("boom from the hosted sleeper")
    while True:
        signal.pause()


if __name__ == "__main__":
    main()
