#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Opens viewer connections to a rendezvous and reports what each was told, one JSON line each.

Standard library only (a raw RFC 6455 client): each connection may come from its own loopback
source address, send extra request headers and start with a PROXY protocol header, so the
proxy tests can say exactly who connects and what it claims. Every connection says hello as a
viewer and waits for welcome or error; all stay open until every one has its answer, so that
they count together against the per-address limit.

  ws-hello.py --port P [--count N] [--source-base 127.0.1.] [--header 'Name: value']
              [--proxy-v1 'PROXY TCP4 ...'] [--proxy-v2 SRC:PORT] [--raw-first HEX]
              [--big-frame BYTES]

With --session-for CAMERA, one connection says hello as that camera (the rendezvous must not
ask cameras for secrets) and another, as a viewer (with --token), watches it: the viewer's
session message is printed (its TURN credentials).

With --big-frame, each connection sends instead a text frame header announcing BYTES and then
streams its payload until the server closes; it reports the close code and how much it sent.
"""
import argparse
import base64
import ipaddress
import json
import os
import socket
import struct
import sys
import time


def recv_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError("closed")
        data += chunk
    return data


def read_frame(sock):
    """Returns (opcode, payload) of one unmasked server frame."""
    b0, b1 = recv_exact(sock, 2)
    length = b1 & 0x7F
    if length == 126:
        length = struct.unpack("!H", recv_exact(sock, 2))[0]
    elif length == 127:
        length = struct.unpack("!Q", recv_exact(sock, 8))[0]
    return b0 & 0x0F, recv_exact(sock, length)


def send_text(sock, text):
    payload = text.encode()
    mask = os.urandom(4)
    header = bytes([0x81])
    if len(payload) < 126:
        header += bytes([0x80 | len(payload)])
    else:
        header += bytes([0x80 | 126]) + struct.pack("!H", len(payload))
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    sock.sendall(header + mask + masked)


def proxy_v2(source, dest):
    src_host, src_port = source.rsplit(":", 1)
    dst_host, dst_port = dest
    signature = b"\r\n\r\n\x00\r\nQUIT\n"
    body = (ipaddress.IPv4Address(src_host).packed + ipaddress.IPv4Address(dst_host).packed
            + struct.pack("!HH", int(src_port), int(dst_port)))
    return signature + bytes([0x21, 0x11]) + struct.pack("!H", len(body)) + body


def open_one(args, index):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(args.timeout)
    if args.source_base:
        sock.bind((args.source_base + str(index + 1), 0))
    elif args.source:
        sock.bind((args.source, 0))
    sock.connect((args.host, args.port))
    source = "%s:%d" % sock.getsockname()
    first = b""
    if args.proxy_v1:
        first += args.proxy_v1.replace("{PORT}", str(args.port)).encode() + b"\r\n"
    if args.proxy_v2:
        first += proxy_v2(args.proxy_v2, (args.host, args.port))
    if args.raw_first:
        first += bytes.fromhex(args.raw_first)
    key = base64.b64encode(os.urandom(16)).decode()
    request = ("GET /ws HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n" % (args.host, args.port, key))
    if args.deflate:
        request += "Sec-WebSocket-Extensions: permessage-deflate\r\n"
    for header in args.header:
        request += header.replace("{N}", str(index + 1)) + "\r\n"
    sock.sendall(first + (request + "\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)
        if not chunk:
            raise EOFError("closed before the HTTP answer")
        head += chunk
    status = head.split(b"\r\n", 1)[0].decode(errors="replace")
    if " 101 " not in status:
        return sock, {"source": source, "result": "http", "status": status}
    extensions = None
    for line in head.decode(errors="replace").split("\r\n")[1:]:
        if line.lower().startswith("sec-websocket-extensions:"):
            extensions = line.split(":", 1)[1].strip()
    if args.big_frame and args.deflate:
        return sock, deflated_frame(sock, args.big_frame, source, extensions)
    if args.big_frame:
        return sock, big_frame(sock, args.big_frame, source)
    send_text(sock, json.dumps({"type": "hello", "version": 1, "role": "viewer"}))
    while True:
        opcode, payload = read_frame(sock)
        if opcode == 0x8:
            code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 0
            return sock, {"source": source, "result": "closed", "code": code}
        if opcode != 0x1:
            continue
        msg = json.loads(payload)
        if msg.get("type") == "welcome":
            return sock, {"source": source, "result": "welcome", "address": msg.get("address"),
                          "extensions": extensions}
        if msg.get("type") == "error":
            return sock, {"source": source, "result": "error", "code": msg.get("code"),
                          "message": msg.get("message")}


def close_code(received):
    """The code of the first close frame among the server's frames in RECEIVED, or None."""
    at = 0
    while at + 2 <= len(received):
        opcode, length, header = received[at] & 0x0F, received[at + 1] & 0x7F, 2
        if length == 126:
            if at + 4 > len(received):
                return None
            length, header = struct.unpack("!H", received[at + 2:at + 4])[0], 4
        elif length == 127:
            if at + 10 > len(received):
                return None
            length, header = struct.unpack("!Q", received[at + 2:at + 10])[0], 10
        if at + header + length > len(received):
            return None
        if opcode == 0x8 and length >= 2:
            return struct.unpack("!H", received[at + header:at + header + 2])[0]
        at += header + length
    return None


def deflated_frame(sock, size, source, extensions):
    """With permessage-deflate negotiated, one compressed text frame of SIZE spaces (a few KiB
    on the wire); then the first answer: an error message or a close."""
    import zlib
    if not extensions or "permessage-deflate" not in extensions:
        return {"source": source, "result": "not-negotiated"}
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    payload = compressor.compress(b" " * size) + compressor.flush(zlib.Z_SYNC_FLUSH)
    payload = payload[:-4]  # RFC 7692: without the final 00 00 ff ff
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    sock.sendall(bytes([0xC1, 0x80 | 127]) + struct.pack("!Q", len(payload)) + mask + masked)
    inflater = zlib.decompressobj(-15)
    while True:
        b0, b1 = recv_exact(sock, 2)
        length = b1 & 0x7F
        if length == 126:
            length = struct.unpack("!H", recv_exact(sock, 2))[0]
        elif length == 127:
            length = struct.unpack("!Q", recv_exact(sock, 8))[0]
        opcode, data = b0 & 0x0F, recv_exact(sock, length)
        if b0 & 0x40:  # the server's frames are compressed too
            data = inflater.decompress(data + b"\x00\x00\xff\xff")
        if opcode == 0x8:
            code = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else 0
            return {"source": source, "result": "closed", "code": code, "sent": len(payload)}
        if opcode == 0x1:
            msg = json.loads(data)
            if msg.get("type") == "error":
                return {"source": source, "result": "error", "code": msg.get("code"),
                        "message": msg.get("message"), "sent": len(payload)}


def big_frame(sock, size, source):
    """Sends a masked text frame header for SIZE bytes, then zeros, 64 KiB at a time, while
    looking for the server's close frame."""
    import select
    sock.sendall(bytes([0x81, 0x80 | 127]) + struct.pack("!Q", size) + b"\0\0\0\0")
    sent = 0
    chunk = b" " * 65536
    received = b""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        readable, writable, _ = select.select([sock], [sock] if sent < size else [], [], 1)
        if readable:
            try:
                data = sock.recv(65536)
            except OSError as e:
                return {"source": source, "result": "dropped", "sent": sent, "why": str(e)}
            if not data:
                return {"source": source, "result": "dropped", "sent": sent}
            received += data
            code = close_code(received)
            if code is not None:
                return {"source": source, "result": "closed", "code": code, "sent": sent}
        if writable:
            try:
                sent += sock.send(chunk[: min(len(chunk), size - sent)])
            except OSError as e:
                return {"source": source, "result": "dropped", "sent": sent, "why": str(e)}
    return {"source": source, "result": "timeout", "sent": sent}


def connect(args):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(args.timeout)
    sock.connect((args.host, args.port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(("GET /ws HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                  "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                  "Sec-WebSocket-Version: 13\r\n\r\n" % (args.host, args.port, key)).encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)
        if not chunk:
            raise EOFError("closed before the HTTP answer")
        head += chunk
    return sock


def expect(sock, kind):
    """The next message of type KIND; an error or a close ends the wait with an exception."""
    while True:
        opcode, payload = read_frame(sock)
        if opcode == 0x8:
            raise EOFError("closed")
        if opcode != 0x1:
            continue
        msg = json.loads(payload)
        if msg.get("type") == kind:
            return msg
        if msg.get("type") == "error":
            raise EOFError("error: %s" % msg.get("message"))


def session_for(args):
    camera = connect(args)
    send_text(camera, json.dumps({"type": "hello", "version": 1, "role": "camera",
                                  "id": args.session_for}))
    expect(camera, "welcome")
    viewer = connect(args)
    hello = {"type": "hello", "version": 1, "role": "viewer"}
    if args.token:
        hello["token"] = args.token
    send_text(viewer, json.dumps(hello))
    expect(viewer, "welcome")
    send_text(viewer, json.dumps({"type": "watch", "camera": args.session_for}))
    session = expect(viewer, "session")
    print(json.dumps(session), flush=True)
    viewer.close()
    camera.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--source-base", help="connection i comes from SOURCE_BASE + (i + 1)")
    parser.add_argument("--source", help="every connection comes from this address")
    parser.add_argument("--header", action="append", default=[],
                        help="an extra request header; {N} is the connection's number")
    parser.add_argument("--proxy-v1", help="a PROXY v1 line to send first ({PORT}: --port)")
    parser.add_argument("--proxy-v2", help="send a PROXY v2 header naming this SRC:PORT")
    parser.add_argument("--raw-first", help="bytes (hex) to send before the request")
    parser.add_argument("--timeout", type=float, default=10)
    parser.add_argument("--big-frame", type=int, help="announce a frame of this many bytes")
    parser.add_argument("--session-for", help="register this camera, watch it, print the session")
    parser.add_argument("--token", help="the viewer's token, with --session-for")
    parser.add_argument("--deflate", action="store_true",
                        help="offer permessage-deflate; with --big-frame, send it compressed")
    args = parser.parse_args()
    if args.session_for:
        return session_for(args)
    sockets = []
    for i in range(args.count):
        try:
            sock, result = open_one(args, i)
            sockets.append(sock)
        except (OSError, EOFError) as e:
            result = {"result": "failed", "why": str(e)}
        print(json.dumps(result), flush=True)
    for sock in sockets:
        sock.close()


if __name__ == "__main__":
    sys.exit(main())
