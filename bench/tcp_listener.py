#!/usr/bin/env python3
"""A TCP listener on 127.0.0.1 for bench/scale.sh: it accepts every connection, waits for
the client to close it, then closes its end with a reset (SO_LINGER 0).

Usage: tcp_listener.py PORTFILE — binds an ephemeral port, writes it to PORTFILE, serves
until killed.

Why the reset after the client's close: a probe closes first, so the client's socket
would sit in TIME_WAIT for 60 s. After a 10,000-probe run that is 10,000 sockets in
TIME_WAIT on the same address pair, and every later connect() pays for searching past
them: the benchmark then measured the kernel's port search, not ops. A reset answering
the client's FIN ends both sides at once (no TIME_WAIT anywhere), and comes after the
probe has already seen its connection succeed and let it go."""
import os
import selectors
import socket
import struct
import sys

s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0))
s.listen(4096)
s.setblocking(False)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(s.getsockname()[1]))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])

LINGER_RESET = struct.pack("ii", 1, 0)
sel = selectors.DefaultSelector()
sel.register(s, selectors.EVENT_READ)
while True:
    for key, _ in sel.select():
        if key.fileobj is s:
            while True:
                try:
                    c, _ = s.accept()
                except BlockingIOError:
                    break
                c.setblocking(False)
                sel.register(c, selectors.EVENT_READ)
            continue
        c = key.fileobj
        try:
            data = c.recv(4096)
        except (BlockingIOError, InterruptedError):
            continue
        except OSError:
            data = b""
        if data:
            continue
        sel.unregister(c)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RESET)
        c.close()
