#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A small TURN client (RFC 5766 over UDP) for the NAT lab: runs STEPS against the relay at
SERVER:PORT with the long-term USERNAME and PASSWORD (a REST credential as the rendezvous
mints them, or one computed here from --secret) and prints one line per step:
"<step> ok ..." or "<step> error <code> <reason>" (or "<step> timeout").

Steps: allocate | refresh:LIFETIME | perm:IP | bind:IP:PORT | sleep:SECONDS | until:UNIX
(sleeps until that wall-clock time). Exits 0 once every step ran. Python's standard library
only."""

import argparse
import base64
import hashlib
import hmac
import os
import socket
import struct
import sys
import time

MAGIC = 0x2112A442
ALLOCATE, REFRESH, CREATE_PERMISSION, CHANNEL_BIND = 0x003, 0x004, 0x008, 0x009
ATTR_USERNAME, ATTR_MI, ATTR_ERROR, ATTR_LIFETIME = 0x0006, 0x0008, 0x0009, 0x000D
ATTR_CHANNEL, ATTR_PEER, ATTR_REALM, ATTR_NONCE = 0x000C, 0x0012, 0x0014, 0x0015
ATTR_RELAYED, ATTR_TRANSPORT = 0x0016, 0x0019


def attr(kind, value):
    pad = (4 - len(value) % 4) % 4
    return struct.pack("!HH", kind, len(value)) + value + b"\0" * pad


def xor_address(ip, port):
    addr = struct.unpack("!I", socket.inet_aton(ip))[0] ^ MAGIC
    return struct.pack("!BBHI", 0, 1, port ^ (MAGIC >> 16), addr)


def parse_xor_address(value):
    _, _, port, addr = struct.unpack("!BBHI", value[:8])
    return "%s:%d" % (socket.inet_ntoa(struct.pack("!I", addr ^ MAGIC)), port ^ (MAGIC >> 16))


def parse(data):
    kind, length, _ = struct.unpack("!HHI", data[:8])
    attrs, offset = {}, 20
    while offset + 4 <= 20 + length:
        a, n = struct.unpack("!HH", data[offset:offset + 4])
        attrs.setdefault(a, data[offset + 4:offset + 4 + n])
        offset += 4 + n + (4 - n % 4) % 4
    return kind, data[8:20], attrs


class Client:
    def __init__(self, server, username, password):
        self.server = server
        self.username = username.encode()
        self.password = password.encode()
        self.realm = self.nonce = None
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    def build(self, method, attrs):
        tid = os.urandom(12)
        body = b"".join(attrs)
        if self.nonce is not None:
            body += (attr(ATTR_USERNAME, self.username) + attr(ATTR_REALM, self.realm) +
                     attr(ATTR_NONCE, self.nonce))
            key = hashlib.md5(self.username + b":" + self.realm + b":" + self.password).digest()
            head = struct.pack("!HHI", method, len(body) + 24, MAGIC) + tid
            body += attr(ATTR_MI, hmac.new(key, head + body, hashlib.sha1).digest())
        return struct.pack("!HHI", method, len(body), MAGIC) + tid + body, tid

    def transact(self, method, attrs):
        """(class, attributes): class 2 success, 3 error; None on timeout. Answers a 401
        (first request) or 438 (stale nonce) by sending again with the realm and nonce."""
        for _ in range(3):
            msg, tid = self.build(method, attrs)
            reply = self.exchange(msg, tid)
            if reply is None:
                return None
            kind, attributes = reply
            cls = ((kind >> 7) & 2) | ((kind >> 4) & 1)
            code = error_code(attributes)
            retry = cls == 3 and (code == 438 or (code == 401 and self.nonce is None))
            if retry and ATTR_NONCE in attributes:
                self.realm = attributes.get(ATTR_REALM, self.realm)
                self.nonce = attributes[ATTR_NONCE]
                continue
            return cls, attributes
        return cls, attributes

    def exchange(self, msg, tid):
        for timeout in (0.5, 1.0, 2.0):
            self.sock.sendto(msg, self.server)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                self.sock.settimeout(max(deadline - time.monotonic(), 0.01))
                try:
                    data = self.sock.recv(2048)
                except socket.timeout:
                    break
                if len(data) >= 20:
                    kind, rtid, attributes = parse(data)
                    if rtid == tid:
                        return kind, attributes
        return None


def error_code(attributes):
    value = attributes.get(ATTR_ERROR)
    if value is None or len(value) < 4:
        return 0
    return (value[2] & 7) * 100 + value[3]


def outcome(step, reply, detail=""):
    if reply is None:
        return "%s timeout" % step
    cls, attributes = reply
    if cls == 2:
        return ("%s ok %s" % (step, detail(attributes) if callable(detail) else detail)).rstrip()
    value = attributes.get(ATTR_ERROR, b"\0\0\0\0")
    return "%s error %d %s" % (step, error_code(attributes), value[4:].decode(errors="replace"))


def run_step(client, step):
    name, _, arg = step.partition(":")
    if name == "sleep":
        time.sleep(float(arg))
        return "%s ok" % step
    if name == "until":
        time.sleep(max(float(arg) - time.time(), 0))
        return "%s ok" % step
    if name == "allocate":
        reply = client.transact(ALLOCATE, [attr(ATTR_TRANSPORT, bytes([17, 0, 0, 0]))])
        return outcome(step, reply, lambda a: "relayed=%s lifetime=%d" % (
            parse_xor_address(a[ATTR_RELAYED]), struct.unpack("!I", a[ATTR_LIFETIME])[0]))
    if name == "refresh":
        reply = client.transact(REFRESH, [attr(ATTR_LIFETIME, struct.pack("!I", int(arg)))])
        return outcome(step, reply, lambda a: "lifetime=%d" % struct.unpack(
            "!I", a.get(ATTR_LIFETIME, b"\0\0\0\0"))[0])
    if name == "perm":
        return outcome(step, client.transact(CREATE_PERMISSION, [attr(ATTR_PEER, xor_address(arg, 0))]))
    if name == "bind":
        ip, _, port = arg.rpartition(":")
        channel = attr(ATTR_CHANNEL, struct.pack("!HH", 0x4000, 0))
        return outcome(step, client.transact(CHANNEL_BIND,
                                             [channel, attr(ATTR_PEER, xor_address(ip, int(port)))]))
    raise SystemExit("unknown step '%s'" % step)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("server", help="IP:PORT of the relay")
    parser.add_argument("username", help="the REST username, or with --secret EXPIRY:USER")
    parser.add_argument("password", help="the credential ('-' with --secret)")
    parser.add_argument("steps", nargs="+")
    parser.add_argument("--secret", help="compute the password from coturn's static-auth-secret")
    args = parser.parse_args()

    ip, _, port = args.server.rpartition(":")
    password = args.password
    if args.secret is not None:
        password = base64.b64encode(hmac.new(args.secret.encode(), args.username.encode(),
                                             hashlib.sha1).digest()).decode()
    client = Client((ip, int(port)), args.username, password)
    for step in args.steps:
        print(run_step(client, step), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
