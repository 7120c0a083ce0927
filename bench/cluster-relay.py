#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Signalling messages relayed between a camera and a viewer, as raw protocol clients
(docs/protocol.md): on one rendezvous, or with the camera on one cluster node and the viewer on
another. Prints messages per second (unpaced) and the latency p50/p99 at a paced rate.

Usage: bench/cluster-relay.py CAMERA_URL VIEWER_URL [--messages N] [--rate R] [--seconds S]
Needs python3-websockets (scripts/setup.sh bench); run by bench/cluster.sh.
"""
import argparse
import asyncio
import json
import random
import time

import websockets


async def hello(url, role, ident=None):
    ws = await websockets.connect(url, max_size=None)
    msg = json.loads(await ws.recv())
    assert msg["type"] == "challenge", msg
    hello = {"type": "hello", "version": 1, "role": role}
    if ident:
        hello["id"] = ident
    await ws.send(json.dumps(hello))
    while True:
        msg = json.loads(await ws.recv())
        if msg["type"] == "welcome":
            return ws
        if msg["type"] == "error":
            raise RuntimeError(msg)


async def open_session(cam_url, view_url):
    camera_id = "bench-%08x" % random.getrandbits(32)
    cam = await hello(cam_url, "camera", camera_id)
    view = await hello(view_url, "viewer")
    deadline = time.monotonic() + 10
    while True:  # the camera's node tells the others within a heartbeat
        await view.send(json.dumps({"type": "watch", "camera": camera_id}))
        msg = json.loads(await view.recv())
        while msg["type"] == "presence":
            msg = json.loads(await view.recv())
        if msg["type"] == "session":
            break
        if time.monotonic() > deadline:
            raise RuntimeError(msg)
        await asyncio.sleep(0.2)
    session = msg["session"]
    while True:
        msg = json.loads(await cam.recv())
        if msg["type"] == "session":
            break
    return cam, view, session


def candidate(session, seq):
    return json.dumps({"type": "candidate", "session": session,
                       "candidate": "candidate:%d 1 UDP 2013266431 198.51.100.1 %d typ host"
                       % (seq, 1024 + seq % 60000)})


async def run(cam, view, session, count, rate):
    sent = {}
    latencies = []

    async def receive():
        while len(latencies) < count:
            msg = json.loads(await view.recv())
            if msg["type"] != "candidate":
                continue
            seq = int(msg["candidate"].split()[0].split(":")[1])
            latencies.append(time.monotonic() - sent[seq])

    receiver = asyncio.create_task(receive())
    start = time.monotonic()
    for seq in range(count):
        if rate:
            due = start + seq / rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        sent[seq] = time.monotonic()
        await cam.send(candidate(session, seq))
    await asyncio.wait_for(receiver, 60)
    elapsed = time.monotonic() - start
    latencies.sort()
    return (count / elapsed, latencies[len(latencies) // 2] * 1000,
            latencies[int(len(latencies) * 0.99)] * 1000)


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("camera_url")
    parser.add_argument("viewer_url")
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--rate", type=int, default=5000)
    parser.add_argument("--seconds", type=int, default=5)
    args = parser.parse_args()
    cam, view, session = await open_session(args.camera_url, args.viewer_url)
    mps, _, _ = await run(cam, view, session, args.messages, 0)
    _, p50, p99 = await run(cam, view, session, args.rate * args.seconds, args.rate)
    print("unpaced_msgs_per_s=%.0f paced_rate=%d p50_ms=%.2f p99_ms=%.2f"
          % (mps, args.rate, p50, p99))
    await cam.close()
    await view.close()


asyncio.run(main())
