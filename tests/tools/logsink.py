#!/usr/bin/env python3
"""logsink.py SOCKET FILE: stand in for the system log. Binds a datagram
socket at SOCKET (as syslogd does at /dev/log) and appends each message
it receives to FILE, one per line, until killed."""
import socket
import sys

sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.bind(sys.argv[1])
with open(sys.argv[2], "ab", 0) as out:
    while True:
        out.write(sock.recv(65536).rstrip(b"\n") + b"\n")
