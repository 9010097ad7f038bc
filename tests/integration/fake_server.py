"""A stand-in kiln server on 127.0.0.1 that answers from a table, to test what the client
does with replies a real server never sends. fake_server.py PORTFILE TABLE.json LOG:
TABLE maps "METHOD PATH-PREFIX" to [status, body] (first match; else 404 {}); the port goes
to PORTFILE once listening; each request is appended to LOG as "METHOD PATH BODY"."""
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

table = json.load(open(sys.argv[2]))
log = open(sys.argv[3], "a", buffering=1)


class Handler(BaseHTTPRequestHandler):
    def answer(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        if self.headers.get("Transfer-Encoding") == "chunked":
            while True:
                size = int(self.rfile.readline().strip(), 16)
                body += self.rfile.read(size + 2)[:size]
                if size == 0:
                    break
        log.write("%s %s %s\n" % (self.command, self.path, body[:200].decode(errors="replace")))
        status, reply = 404, "{}"
        for key, (st, b) in table.items():
            method, prefix = key.split(" ", 1)
            if method == self.command and self.path.startswith(prefix):
                status, reply = st, b
                break
        data = reply.encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = answer

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
server.serve_forever()
