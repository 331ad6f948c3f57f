"""The shop's front: every address, its own included, comes from config.json beside this file."""

import json
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

CONFIG = json.loads((Path(__file__).parent / "config.json").read_text())
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # no HTTP proxy


def fetch(url: str) -> object:
    with _OPENER.open(url, timeout=10) as answer:
        return json.loads(answer.read())


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/health":
            body: object = {"ok": True}
        elif self.path == "/buy":
            stock = CONFIG["stock"]
            body = {
                "stock": fetch(f"http://{stock['host']}:{stock['port']}/item"),
                "ledger": fetch(CONFIG["ledger"] + "/entry"),
                "audit": fetch(CONFIG["audit"]["url"] + "/seen"),
            }
        else:
            self.send_error(404)
            return
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


listen = CONFIG["listen"]
ThreadingHTTPServer((listen["host"], listen["port"]), Handler).serve_forever()
