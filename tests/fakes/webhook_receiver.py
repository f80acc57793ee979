"""A push subscriber, built to the Standard Webhooks specification: it checks
each delivery's signature with the subscription's secret and writes one JSON
line per verified delivery (`webhook-id` and the entries) to a file, then
answers 204. Run as a process (`python -m tests.fakes.webhook_receiver PORT
SECRET FILE`) so a test can kill it and start it again at any moment;
`--status N` answers N to everything instead (a failing subscriber; 429
and 503 with `Retry-After: 3600`, a 3xx pointing at a metadata address)."""

from __future__ import annotations

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


def serve(port: int, secret: str, out: Path, status: int = 204) -> None:
    webhook = Webhook(secret)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            try:
                entries = webhook.verify(body, dict(self.headers.items()))
            except WebhookVerificationError:
                self.send_response(401)
                self.end_headers()
                return
            if status < 300:
                line = {"id": self.headers["webhook-id"], "entries": entries}
                with out.open("a") as file:
                    file.write(json.dumps(line) + "\n")
                    file.flush()
            self.send_response(status)
            if status in (429, 503):
                self.send_header("retry-after", "3600")
            if 300 <= status < 400:
                self.send_header("location", "http://169.254.169.254/latest/meta-data")
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    port, secret, out = int(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    status = int(sys.argv[5]) if len(sys.argv) > 5 and sys.argv[4] == "--status" else 204
    serve(port, secret, out, status)
