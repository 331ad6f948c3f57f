"""The shop's ledger: configured by the .env file beside this file, as many apps are."""

import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def read_dotenv(path: Path) -> dict[str, str]:
    settings = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        settings[key.strip()] = value
    return settings


SETTINGS = read_dotenv(Path(__file__).parent / ".env")


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path not in ("/health", "/entry"):
            self.send_error(404)
            return
        data = json.dumps({"ledger": SETTINGS["LEDGER_NAME"]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


ThreadingHTTPServer((SETTINGS["HOST"], int(SETTINGS["PORT"])), Handler).serve_forever()
