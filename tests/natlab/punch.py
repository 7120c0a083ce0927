#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""One side of a UDP hole-punching experiment in the NAT lab (bench/natlab-punch.sh).

Each side learns its server-reflexive address from a STUN server (a Binding request with a
transaction ID from os.urandom), writes it to a file (the "signalling"), reads the other
side's, then punches until a probe carrying the shared nonce arrives from the other side and
an answer to one of its own arrives (then it lingers 0.5 s to answer), or the time budget
runs out. Probes go only to the
address learned from the other side. Prints one line: result=ok|fail ms=... sent=... port=...

Roles:
  cone     one socket (its srflx is the address the other side aims at). --spray predict:
           probes the --window ports after the other side's STUN-mapped port (a sequential
           symmetric NAT gives the next flow the next port); --spray birthday: probes random
           ports 1024-65535 of the other side's IP, at most --max-probes; --spray none: only
           the STUN-mapped port (what ICE's srflx candidate does).
  symmetric --sockets N sockets (1 for predict/none, 256 for birthday) that each keep sending
           to the cone side's srflx address, opening N mappings on the symmetric NAT.
"""
import argparse
import json
import os
import random
import select
import socket
import struct
import sys
import time

MAGIC = 0x2112A442


def stun_mapped(sock, server, timeout=2.0):
    tid = os.urandom(12)
    request = struct.pack("!HHI", 0x0001, 0, MAGIC) + tid
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock.sendto(request, server)
        ready, _, _ = select.select([sock], [], [], 0.2)
        if not ready:
            continue
        data, _ = sock.recvfrom(2048)
        if len(data) < 20 or data[8:20] != tid:
            continue
        offset = 20
        while offset + 4 <= len(data):
            kind, length = struct.unpack("!HH", data[offset:offset + 4])
            value = data[offset + 4:offset + 4 + length]
            if kind == 0x0020 and length >= 8 and value[1] == 1:
                port = struct.unpack("!H", value[2:4])[0] ^ (MAGIC >> 16)
                ip = struct.unpack("!I", value[4:8])[0] ^ MAGIC
                return socket.inet_ntoa(struct.pack("!I", ip)), port
            offset += 4 + ((length + 3) & ~3)
    raise SystemExit("result=fail reason=no-stun-answer")


def exchange(path_out, path_in, info, timeout):
    with open(path_out + ".tmp", "w") as f:
        json.dump(info, f)
    os.rename(path_out + ".tmp", path_out)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(path_in) as f:
                return json.load(f)
        except (FileNotFoundError, json.JSONDecodeError):
            time.sleep(0.01)
    raise SystemExit("result=fail reason=no-peer-info")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("role", choices=["cone", "symmetric"])
    p.add_argument("--stun", required=True, help="IP:PORT")
    p.add_argument("--out", required=True)
    p.add_argument("--peer", required=True)
    p.add_argument("--nonce", required=True)
    p.add_argument("--spray", choices=["none", "predict", "birthday"], default="none")
    p.add_argument("--sockets", type=int, default=1)
    p.add_argument("--window", type=int, default=16)
    p.add_argument("--max-probes", type=int, default=1000)
    p.add_argument("--timeout", type=float, default=5.0)
    a = p.parse_args()
    host, port = a.stun.rsplit(":", 1)
    stun = (host, int(port))
    nonce = a.nonce.encode()

    n = a.sockets if a.role == "symmetric" else 1
    socks = []
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("0.0.0.0", 0))
        s.setblocking(False)
        socks.append(s)
    mapped = stun_mapped(socks[0], stun)
    peer = exchange(a.out, a.peer, {"ip": mapped[0], "port": mapped[1]}, a.timeout)
    peer_addr = (peer["ip"], peer["port"])

    start = time.monotonic()
    deadline = start + a.timeout
    sent = 0
    got_probe = None  # the source of the other side's first probe that arrived
    got_ack = False   # an answer to one of ours: the path works both ways
    next_round = 0.0
    linger_until = None
    while time.monotonic() < (linger_until or deadline):
        now = time.monotonic()
        if now >= next_round and not got_ack:
            next_round = now + 0.05
            if a.role == "symmetric":
                for s in socks:
                    s.sendto(b"probe " + nonce, peer_addr)
                    sent += 1
            elif a.spray == "none":
                socks[0].sendto(b"probe " + nonce, peer_addr)
                sent += 1
            elif a.spray == "predict":
                for k in range(1, a.window + 1):
                    socks[0].sendto(b"probe " + nonce, (peer["ip"], (peer["port"] + k) % 65536))
                    sent += 1
            elif sent < a.max_probes:
                for _ in range(min(100, a.max_probes - sent)):
                    socks[0].sendto(b"probe " + nonce, (peer["ip"], random.randint(1024, 65535)))
                    sent += 1
        ready, _, _ = select.select(socks, [], [], 0.01)
        for s in ready:
            try:
                data, src = s.recvfrom(2048)
            except BlockingIOError:
                continue
            if src[0] != peer["ip"]:
                continue
            if data == b"probe " + nonce:
                got_probe = got_probe or src
                # Answer, and probe back to where it came from (like ICE's triggered check).
                s.sendto(b"ack " + nonce, src)
                if not got_ack:
                    s.sendto(b"probe " + nonce, src)
                sent += 2
            elif data == b"ack " + nonce and not got_ack:
                got_ack = True
                done_ms = (time.monotonic() - start) * 1000
                # Stay a little to answer the other side's probes.
                linger_until = time.monotonic() + 0.5
    if got_ack:
        print("result=ok ms=%.0f sent=%d probe_from=%s" % (done_ms, sent, got_probe))
        return 0
    print("result=fail ms=%.0f sent=%d probe=%s" % ((time.monotonic() - start) * 1000, sent,
                                                   bool(got_probe)))
    return 1


if __name__ == "__main__":
    sys.exit(main())
