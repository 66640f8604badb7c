#!/usr/bin/env python3
"""A loopback HTTP server for the run benchmark: /slow answers after 100 ms, /fast at once.

Usage: slow_server.py PORT   (binds 127.0.0.1 only; a thread per connection; backlog 256)
"""
import http.server
import json
import socket
import socketserver
import sys
import time


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        # Headers and body are two writes: without TCP_NODELAY, Nagle plus the client's
        # delayed ACK add 40 ms to every keep-alive request.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self):
        if self.path.startswith("/big"):
            # 100 MB, streamed: for the flat-memory check of a capped probe body.
            chunk = b"x" * (1 << 20)
            self.send_response(200)
            self.send_header("content-type", "text/plain")
            self.send_header("content-length", str(100 * len(chunk)))
            self.end_headers()
            try:
                for _ in range(100):
                    self.wfile.write(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass
            return
        if self.path.startswith("/slow"):
            time.sleep(0.1)
        body = json.dumps({"status": "ok"}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    request_queue_size = 256
    allow_reuse_address = True


if __name__ == "__main__":
    Server(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
