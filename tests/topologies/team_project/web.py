"""A team's two small services in one file: ``front`` answers users by asking ``back``.

Run: BACK_URL=http://HOST:PORT python web.py front PORT | python web.py back PORT (stdlib).
"""

import json
import os
import sys
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    role = "back"
    back_url = ""

    def do_GET(self) -> None:
        if self.path == "/health":
            self._answer(200, {"ok": True})
        elif self.role == "back":
            self._answer(200, {"stock": 3})
        else:
            try:
                with urllib.request.urlopen(f"{self.back_url}/stock", timeout=1) as answer:  # noqa: S310
                    stock = json.load(answer)["stock"]
                self._answer(200, {"stock": stock})
            except OSError:
                self._answer(503, {"code": "TEAM_BACK_DOWN"})

    def _answer(self, status: int, body: dict[str, object]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_args: object) -> None:
        pass


if __name__ == "__main__":
    Handler.role = sys.argv[1]
    Handler.back_url = os.environ.get("BACK_URL", "")
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[2])), Handler).serve_forever()
