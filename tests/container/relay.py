#!/usr/bin/env python3
"""Relays 127.0.0.1:PORT of the caller's network namespace to 127.0.0.1:PORT
of a container's (`relay.py CONTAINER_PID PORT`), for a caller that runs in a
network namespace of its own where only loopback exists, as the Claude Code
check does: the container gets `--network none`, a namespace of its own
where only loopback exists too, and nothing leaves either.

The listening socket is made in the caller's namespace; then this thread
enters the container's (setns), so every socket it makes afterwards, the
ones it connects with, belongs there. Prints "listening" once it accepts.
"""

import ctypes
import os
import socket
import sys
import threading

CLONE_NEWNET = 0x40000000


def pump(source, sink):
    try:
        while True:
            data = source.recv(65536)
            if not data:
                break
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for end in (source, sink):
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def main():
    pid, port = sys.argv[1], int(sys.argv[2])
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(64)
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open("/proc/%s/ns/net" % pid, os.O_RDONLY)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "setns into the container's network namespace")
    os.close(fd)
    print("listening", flush=True)
    while True:
        client, _ = listener.accept()
        try:
            server = socket.create_connection(("127.0.0.1", port), timeout=5)
            server.settimeout(None)
        except OSError:
            client.close()
            continue
        for a, b in ((client, server), (server, client)):
            threading.Thread(target=pump, args=(a, b), daemon=True).start()


if __name__ == "__main__":
    main()
