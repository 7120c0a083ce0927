#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A bare signalling client for the NAT lab: connects to the rendezvous at URL, answers the
challenge with a hello of ROLE (and ID), and nothing else (no proof, no token, no resume
secret), then prints each message the rendezvous sends as one JSON line and, at the end,
"close CODE REASON" when the server closed the WebSocket or "timeout" after WAIT seconds.
With --watch CAMERA (a viewer) it sends `watch` for CAMERA once welcomed.
Exits 0 once it printed that, 2 when it could not connect. Python's standard library only:
a handshake and unfragmented text frames are all this needs (RFC 6455)."""

import argparse
import base64
import hashlib
import json
import os
import socket
import struct
import sys
import time
import urllib.parse

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def handshake(sock, host, path):
    key = base64.b64encode(os.urandom(16))
    sock.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: " + host.encode() +
                 b"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " +
                 key + b"\r\nSec-WebSocket-Version: 13\r\n\r\n")
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("closed during the handshake")
        head += chunk
    head, rest = head.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    if " 101 " not in lines[0] + " ":
        raise ConnectionError("handshake refused: " + lines[0])
    accept = base64.b64encode(hashlib.sha1(key + GUID).digest()).decode()
    if not any(line.lower() == "sec-websocket-accept: " + accept.lower() for line in lines):
        raise ConnectionError("bad Sec-WebSocket-Accept")
    return rest


class Frames:
    def __init__(self, sock, buffered):
        self.sock = sock
        self.buf = buffered

    def _need(self, n, deadline):
        while len(self.buf) < n:
            self.sock.settimeout(max(deadline - time.monotonic(), 0.01))
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed without a close frame")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read(self, deadline):
        b0, b1 = self._need(2, deadline)
        length = b1 & 0x7F
        if length == 126:
            length = struct.unpack("!H", self._need(2, deadline))[0]
        elif length == 127:
            length = struct.unpack("!Q", self._need(8, deadline))[0]
        mask = self._need(4, deadline) if b1 & 0x80 else None
        payload = self._need(length, deadline)
        if mask:
            payload = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
        return b0 & 0x0F, payload

    def send(self, opcode, payload):
        mask = os.urandom(4)
        n = len(payload)
        head = bytes([0x80 | opcode])
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack("!Q", n)
        self.sock.sendall(head + mask + bytes(c ^ mask[i % 4] for i, c in enumerate(payload)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("url", help="ws://HOST:PORT[/ws]")
    parser.add_argument("role", choices=["camera", "viewer"])
    parser.add_argument("id", nargs="?")
    parser.add_argument("--wait", type=float, default=5.0)
    parser.add_argument("--watch", metavar="CAMERA")
    args = parser.parse_args()

    url = urllib.parse.urlsplit(args.url)
    try:
        sock = socket.create_connection((url.hostname, url.port or 80), timeout=args.wait)
        frames = Frames(sock, handshake(sock, url.netloc, url.path or "/ws"))
    except (OSError, ConnectionError) as e:
        print("connect-error %s" % e, flush=True)
        return 2
    hello = {"type": "hello", "version": 1, "role": args.role}
    if args.id:
        hello["id"] = args.id
    deadline = time.monotonic() + args.wait
    try:
        while True:
            opcode, payload = frames.read(deadline)
            if opcode == 0x1:
                text = payload.decode()
                print(text, flush=True)
                kind = json.loads(text).get("type")
                if kind == "challenge":
                    frames.send(0x1, json.dumps(hello).encode())
                elif kind == "welcome" and args.watch:
                    frames.send(0x1, json.dumps({"type": "watch", "camera": args.watch}).encode())
            elif opcode == 0x8:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                print("close %d %s" % (code, payload[2:].decode(errors="replace")), flush=True)
                frames.send(0x8, payload[:2])
                return 0
            elif opcode == 0x9:
                frames.send(0xA, payload)
    except socket.timeout:
        print("timeout", flush=True)
    except ConnectionError as e:
        print("closed %s" % e, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
