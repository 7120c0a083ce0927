#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A camera id held on one live cluster node, asked for on another (tests/test-cluster.sh):
raw protocol clients (docs/protocol.md) with python3-websockets.

A camera says hello on node A and keeps that connection (as a camera whose path to A broke
without a word would). On node B, a hello for its id without the resume secret of its welcome
is refused (id-in-use), and so is one with a wrong secret; with the right secret B welcomes it
at once, and A closes the first connection. Prints one TAP-like line per check.

Usage: tests/cluster-claim.py URL_A URL_B CAMERA_ID
"""
import asyncio
import json
import sys

import websockets


async def hello(url, camera_id, resume=None):
    """Returns (ws, the answer to hello: welcome or error)."""
    ws = await websockets.connect(url, max_size=None)
    msg = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert msg["type"] == "challenge", msg
    hello = {"type": "hello", "version": 1, "role": "camera", "id": camera_id}
    if resume is not None:
        hello["resume"] = resume
    await ws.send(json.dumps(hello))
    while True:
        msg = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if msg["type"] in ("welcome", "error"):
            return ws, msg


async def main(url_a, url_b, camera_id):
    failures = 0

    def check(ok, what):
        nonlocal failures
        print(("ok - " if ok else "not ok - ") + what, flush=True)
        failures += 0 if ok else 1

    first, welcome = await hello(url_a, camera_id)
    check(welcome["type"] == "welcome" and welcome.get("resume"), "camera welcomed on node a")
    if welcome["type"] != "welcome":
        return 1
    await asyncio.sleep(1.5)  # node a's heartbeat stores the hash of its resume secret

    twin, answer = await hello(url_b, camera_id)
    check(answer["type"] == "error" and answer.get("code") == "id-in-use",
          "node b refuses the id without the resume secret: %s" % answer.get("message", answer))
    await twin.close()
    twin, answer = await hello(url_b, camera_id, "0" * 32)
    check(answer["type"] == "error" and answer.get("code") == "id-in-use",
          "node b refuses a wrong resume secret")
    await twin.close()

    moved, answer = await hello(url_b, camera_id, welcome["resume"])
    check(answer["type"] == "welcome", "node b welcomes the camera with its resume secret: %s"
          % answer.get("message", answer["type"]))
    try:
        while True:
            await asyncio.wait_for(first.recv(), 5)
    except websockets.ConnectionClosed:
        check(True, "node a closed the camera's old connection")
    except asyncio.TimeoutError:
        check(False, "node a closed the camera's old connection")
    await moved.close()
    return failures


if __name__ == "__main__":
    sys.exit(1 if asyncio.run(main(*sys.argv[1:4])) else 0)
