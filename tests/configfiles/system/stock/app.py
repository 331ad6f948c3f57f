"""The shop's stock: its address comes from config.json beside this file."""

import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

CONFIG = json.loads((Path(__file__).parent / "config.json").read_text())


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path not in ("/health", "/item"):
            self.send_error(404)
            return
        data = json.dumps({"items": CONFIG["items"]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


listen = CONFIG["listen"]
ThreadingHTTPServer((listen["host"], listen["port"]), Handler).serve_forever()
