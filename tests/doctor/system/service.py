"""One small service of the doctor's test shop (stdlib only).

It listens on ``--host``/``--port`` and, on ``GET /go``, calls ``/go`` on
every dependency named in ``DEPS`` (``NAME=URL`` pairs' names; the URL
from the environment variable ``NAME_URL``), answering 200 when all answered
200. A developer's own settings in ``own.json`` beside this file, when there
is one, win: ``{"NAME": {"listen_host": H, "listen_port": P, "STOCK_URL": "..."}}``
— the hard-coded addresses Domino's checkup must catch.
"""

import argparse
import json
import os
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("--name", required=True)
parser.add_argument("--host", default="127.0.0.1")
parser.add_argument("--port", type=int, required=True)
args = parser.parse_args()

own_file = Path(__file__).parent / "own.json"
own = json.loads(own_file.read_text()).get(args.name, {}) if own_file.exists() else {}
deps = [d for d in os.environ.get("DEPS", "").split(",") if d]
urls = {d: own.get(f"{d.upper()}_URL") or os.environ[f"{d.upper()}_URL"] for d in deps}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/health":
            self.answer(200, b"ok")
        elif self.path == "/go":
            for url in urls.values():
                try:
                    with urllib.request.urlopen(url + "/go", timeout=5) as answer:  # noqa: S310
                        answer.read()
                except OSError:
                    self.answer(502, b"dependency failed")
                    return
            self.answer(200, args.name.encode())
        else:
            self.answer(404, b"no")

    def answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


listen = (own.get("listen_host", args.host), own.get("listen_port", args.port))
ThreadingHTTPServer(listen, Handler).serve_forever()
