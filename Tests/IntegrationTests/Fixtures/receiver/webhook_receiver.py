"""A webhook receiver on loopback for the notification tests: logs every POST (path and body)
as one JSON line to LOG and answers as MODE says: ok (200), 500, or slow (no answer for 30 s).
Usage: webhook_receiver.py PORT MODE LOG. Writes LOG.ready once it listens."""
import http.server
import json
import sys
import time

port, mode, log = int(sys.argv[1]), sys.argv[2], sys.argv[3]


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with open(log, "a") as f:
            f.write(json.dumps({"path": self.path, "content_type": self.headers.get("Content-Type"), "body": body.decode()}) + "\n")
        if mode == "slow":
            time.sleep(30)
        self.send_response(500 if mode == "500" else 200)
        self.end_headers()
        self.wfile.write(b"boom" if mode == "500" else b"ok")

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
open(log + ".ready", "w").close()
server.serve_forever()
