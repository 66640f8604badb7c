#!/usr/bin/env python3
"""A TCP listener on 127.0.0.1 that accepts and closes every connection (bench/scale.sh).

Usage: tcp_listener.py PORTFILE — binds an ephemeral port, writes it to PORTFILE, serves
until killed."""
import socket
import sys

s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0))
s.listen(4096)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(s.getsockname()[1]))
import os

os.rename(sys.argv[1] + ".tmp", sys.argv[1])
while True:
    c, _ = s.accept()
    c.close()
