"""Loopback origins for the egress suite.

    origin.py https DIR CERT KEY    serves DIR over HTTPS with CERT
    origin.py http DIR              serves DIR over plain HTTP, with a PEP 503
                                    index of one wheel (demo 0.1) made in it

Binds 127.0.0.1 on a port the kernel picks, prints it on the first line,
then serves until killed. Files are served as they are (a dumb-HTTP git
repository, a PEP 503 index), ignoring query strings; `/big/N` answers N
bytes, and `/hold` answers its headers then holds the connection open.
"""

import hashlib
import http.server
import os
import socketserver
import ssl
import sys
import time


class Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path.startswith("/big/"):
            size = int(path[5:])
            self.send_response(200)
            self.send_header("Content-Length", str(size))
            self.end_headers()
            chunk = b"x" * 65536
            while size > 0:
                self.wfile.write(chunk[:min(size, len(chunk))])
                size -= len(chunk)
            return
        if path == "/hold":
            self.send_response(200)
            self.send_header("Content-Length", "1000000")
            self.end_headers()
            self.wfile.write(b"started\n")
            self.wfile.flush()
            time.sleep(60)
            return
        self.path = path
        super().do_GET()

    def log_message(self, *args):
        pass


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def make_index(directory):
    """A wheel of one module, and the simple index that lists it."""
    import zipfile
    name = "demo-0.1-py3-none-any.whl"
    os.makedirs(os.path.join(directory, "simple", "demo"), exist_ok=True)
    path = os.path.join(directory, "simple", "demo", name)
    files = {
        "demo/__init__.py": "VALUE = 1\n",
        "demo-0.1.dist-info/METADATA": "Metadata-Version: 2.1\nName: demo\nVersion: 0.1\n",
        "demo-0.1.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: egress-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    with zipfile.ZipFile(path, "w") as wheel:
        for member, text in files.items():
            wheel.writestr(member, text)
        wheel.writestr("demo-0.1.dist-info/RECORD", "".join(f"{m},,\n" for m in files) + "demo-0.1.dist-info/RECORD,,\n")
    digest = hashlib.sha256(open(path, "rb").read()).hexdigest()
    with open(os.path.join(directory, "simple", "demo", "index.html"), "w") as index:
        index.write(f'<!DOCTYPE html><html><body><a href="{name}#sha256={digest}">{name}</a></body></html>\n')
    with open(os.path.join(directory, "simple", "index.html"), "w") as index:
        index.write('<!DOCTYPE html><html><body><a href="demo/">demo</a></body></html>\n')


def main():
    kind, directory = sys.argv[1], sys.argv[2]
    if kind == "http":
        make_index(directory)
    handler = lambda *a, **k: Handler(*a, directory=directory, **k)
    server = Server(("127.0.0.1", 0), handler)
    if kind == "https":
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(sys.argv[3], sys.argv[4])
        # The handshake in each connection's own thread, on its first read:
        # a client that holds a tunnel open without speaking TLS does not
        # stop the accept loop.
        server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    print(server.server_address[1], flush=True)
    server.serve_forever()


main()
