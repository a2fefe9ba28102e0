"""A loopback HTTP server (127.0.0.1 only) for download tests: serves the files of a folder."""

from __future__ import annotations

import http.server
import threading
from pathlib import Path


class Server:
    """Serves files from a folder; can cut the first N responses short or serve other bytes."""

    def __init__(self, root: Path):
        self.root = root
        self.requests = 0
        self.cut_first = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.requests += 1
                path = outer.root / self.path.lstrip("/")
                if not path.is_file():
                    self.send_error(404)
                    return
                data = path.read_bytes()
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if outer.cut_first > 0:
                    outer.cut_first -= 1
                    self.wfile.write(data[: len(data) // 3])  # then the connection drops
                    return
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
