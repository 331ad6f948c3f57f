"""The shop's audit: a Spring-style application.yml, whose path it is given (--config)."""

import argparse
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml

parser = argparse.ArgumentParser()
parser.add_argument("--config", type=Path, default=Path(__file__).parent / "application.yml")
SETTINGS = next(yaml.safe_load_all(parser.parse_args().config.read_text()))


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path not in ("/health", "/seen"):
            self.send_error(404)
            return
        data = json.dumps({"audit": SETTINGS["audit"]["name"]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


server = SETTINGS["server"]
ThreadingHTTPServer((server["address"], server["port"]), Handler).serve_forever()
