#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Holds N camera connections open on one rendezvous node (bench/cluster-connections.sh).

Raw sockets and a minimal RFC 6455 client, standard library only, so that one process holds
thousands of connections in a few MiB: each connection says hello as camera PREFIX-<i> and waits
for its welcome (a few in flight at once); then all stay open, answering pings, until stdin
closes. Prints "ready N SECONDS" once every connection is welcomed.

Usage: bench/cluster-connections.py PORT COUNT PREFIX [IN_FLIGHT]
"""
import base64
import json
import os
import selectors
import socket
import struct
import sys
import time


def frame(opcode, payload):
    mask = os.urandom(4)
    n = len(payload)
    header = bytes([0x80 | opcode])
    if n < 126:
        header += bytes([0x80 | n])
    else:
        header += bytes([0x80 | 126]) + struct.pack("!H", n)
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def parse_frames(buf):
    """Returns ([(opcode, payload)], rest) of the complete server frames in buf."""
    out = []
    while len(buf) >= 2:
        n = buf[1] & 0x7F
        at = 2
        if n == 126:
            if len(buf) < 4:
                break
            n = struct.unpack("!H", buf[2:4])[0]
            at = 4
        elif n == 127:
            if len(buf) < 10:
                break
            n = struct.unpack("!Q", buf[2:10])[0]
            at = 10
        if len(buf) < at + n:
            break
        out.append((buf[0] & 0x0F, buf[at:at + n]))
        buf = buf[at + n:]
    return out, buf


class Conn:
    def __init__(self, index, prefix, port):
        self.ident = "%s-%d" % (prefix, index)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setblocking(False)
        self.sock.connect_ex(("127.0.0.1", port))
        self.buf = b""
        self.upgraded = False
        self.welcomed = False
        self.port = port

    def on_connected(self):
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.send(("GET /ws HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                        "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                        "Sec-WebSocket-Version: 13\r\n\r\n" % (self.port, key)).encode())

    def on_readable(self):
        """False when the connection is gone."""
        try:
            data = self.sock.recv(65536)
        except BlockingIOError:
            return True
        except OSError:
            return False
        if not data:
            return False
        self.buf += data
        if not self.upgraded:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return True
            if b" 101 " not in self.buf[:end].split(b"\r\n")[0]:
                return False
            self.upgraded = True
            self.buf = self.buf[end + 4:]
        frames, self.buf = parse_frames(self.buf)
        for opcode, payload in frames:
            if opcode == 0x9:
                self.sock.send(frame(0xA, payload))
            elif opcode == 0x8:
                return False
            elif opcode == 0x1:
                msg = json.loads(payload)
                if msg["type"] == "challenge":
                    hello = {"type": "hello", "version": 1, "role": "camera", "id": self.ident}
                    self.sock.send(frame(0x1, json.dumps(hello).encode()))
                elif msg["type"] == "welcome":
                    self.welcomed = True
                elif msg["type"] == "ping":
                    self.sock.send(frame(0x1, b'{"type":"pong"}'))
                elif msg["type"] == "error":
                    print("error for %s: %s" % (self.ident, msg), file=sys.stderr)
                    return False
        return True


def main():
    port, count, prefix = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    in_flight = int(sys.argv[4]) if len(sys.argv) > 4 else 8
    sel = selectors.EpollSelector()
    sel.register(sys.stdin, selectors.EVENT_READ, None)
    started = time.monotonic()
    opened = welcomed = 0
    pending = set()
    reported = False
    while True:
        while opened < count and len(pending) < in_flight:
            conn = Conn(opened, prefix, port)
            sel.register(conn.sock, selectors.EVENT_WRITE, conn)
            pending.add(conn)
            opened += 1
        for key, events in sel.select(timeout=1.0):
            conn = key.data
            if conn is None:
                if not sys.stdin.readline():
                    return 0
                continue
            if events & selectors.EVENT_WRITE:
                if conn.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0:
                    print("connect failed for %s" % conn.ident, file=sys.stderr)
                    return 1
                conn.on_connected()
                sel.modify(conn.sock, selectors.EVENT_READ, conn)
                continue
            was = conn.welcomed
            if not conn.on_readable():
                print("lost %s (%d welcomed)" % (conn.ident, welcomed), file=sys.stderr)
                return 1
            if conn.welcomed and not was:
                welcomed += 1
                pending.discard(conn)
        if welcomed == count and not reported:
            print("ready %d %.1f" % (count, time.monotonic() - started), flush=True)
            reported = True


if __name__ == "__main__":
    sys.exit(main())
