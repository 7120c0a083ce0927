#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Time to first frame in headless Chromium, one line of phase times per run.

Serves bench/browser/ on 127.0.0.1, starts Debian's chromium headless with a throw-away profile,
drives it over the DevTools protocol, and opens bench/browser/viewer.html in a new tab for
every run, taking turns between the cameras given. Chromium is killed and its profile removed
when the script ends, on SIGINT and SIGTERM too. Nothing leaves 127.0.0.1 (unless --mdns).

  bench/browser-ttff.py --rendezvous ws://127.0.0.1:PORT/ws --camera ID [--camera ID ...]
                        [--runs N] [--pause S] [--bundle-policy P] [--json FILE]

Needs chromium and python3-websockets (scripts/setup.sh); runs under Debian's /usr/bin/python3.
stdout: a comment header, then per run (ms since the page's script started; - if it never
happened):
  run camera result session welcome offer answer ice_connected pair dtls_connected frame
  frame_received frames_decoded keyframes_decoded pli nack lost size pair_types
  chromium_log_lines [error]
(ice_connected: iceConnectionState "connected"; pair: the first selected pair; frame: the first
frame presented, requestVideoFrameCallback's presentationTime; frame_received: when its last
packet came; the counters are getStats() after --hold seconds of playing; pair_types: the
selected pair's local/remote candidate types; chromium_log_lines: lines chromium wrote to
stderr during the run.)
Warm-up runs (not counted) are printed as comments.
"""

import argparse
import asyncio
import functools
import http.server
import json
import os
import signal
import sys
import threading
import time
import urllib.parse


PAGE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'browser')
# Chromium and its DevTools connection: shared with tests/browser/.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tests', 'browser'))
from icecam_browser import (CHROMIUM_FLAGS, DISABLED_FEATURES, NO_MDNS_FEATURES,  # noqa: E402
                            CdpError, Chromium, describe_console)

COLUMNS = ('run camera result session welcome offer answer ice_connected pair dtls_connected frame '
           'frame_received frames_decoded keyframes_decoded pli nack lost size pair_types '
           'chromium_log_lines [error]')


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass

    def end_headers(self):
        self.send_header('Cache-Control', 'no-store')
        super().end_headers()


class PageServer:
    """bench/browser/ over HTTP on 127.0.0.1, a free port, in a thread."""

    def __init__(self, directory=PAGE_DIR):
        handler = functools.partial(QuietHandler, directory=directory)
        self.httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()

    def url(self, path, **query):
        host, port = self.httpd.server_address[:2]
        return f'http://{host}:{port}/{path}?{urllib.parse.urlencode(query)}'


async def open_viewer(cdp, url, timeout):
    """Opens url in a new tab, waits for window.icecamViewer.result, stops the viewer and
    closes the tab. Returns (result or None, console lines, error or None)."""
    target = (await cdp.call('Target.createTarget', {'url': 'about:blank'}))['targetId']
    console = []
    loaded = asyncio.Event()
    session = None
    try:
        session = (await cdp.call('Target.attachToTarget',
                                  {'targetId': target, 'flatten': True}))['sessionId']

        def on_event(method, params):
            if method == 'Page.loadEventFired':
                loaded.set()
            line = describe_console(method, params)
            if line is not None:
                console.append(line)

        cdp.listeners[session] = on_event
        for domain in ('Page', 'Runtime', 'Log'):
            await cdp.call(f'{domain}.enable', session=session)
        deadline = time.monotonic() + timeout
        await cdp.call('Page.navigate', {'url': url}, session=session)
        await asyncio.wait_for(loaded.wait(), max(0.1, deadline - time.monotonic()))
        reply = await cdp.call('Runtime.evaluate',
                               {'expression': 'window.icecamViewer.result',
                                'awaitPromise': True, 'returnByValue': True},
                               session=session, timeout=max(0.1, deadline - time.monotonic()))
        if 'exceptionDetails' in reply:
            return None, console, describe_console('Runtime.exceptionThrown', reply)
        await cdp.call('Runtime.evaluate',
                       {'expression': 'window.icecamViewer.stop()', 'awaitPromise': True},
                       session=session)
        return reply['result']['value'], console, None
    except (asyncio.TimeoutError, CdpError) as e:
        return None, console, f'driver: {type(e).__name__} {e}'.strip()
    finally:
        if session is not None:
            cdp.listeners.pop(session, None)
        try:
            await cdp.call('Target.closeTarget', {'targetId': target})
        except (CdpError, asyncio.TimeoutError):
            pass


def format_run(label, camera, result, error, log_lines):
    times = (result or {}).get('times', {})
    start = times.get('start')

    def at(*names):
        for name in names:
            if name in times and start is not None:
                return f'{times[name] - start:.1f}'
        return '-'

    stats = (result or {}).get('stats') or {}
    inbound = stats.get('inbound', {})
    pair = stats.get('pair', {})

    def stat(name):
        return str(inbound.get(name, '-'))

    size = f'{inbound["frameWidth"]}x{inbound["frameHeight"]}' if 'frameWidth' in inbound else '-'
    pair_types = '-'
    if pair.get('local') and pair.get('remote'):
        pair_types = f'{pair["local"].split()[0]}/{pair["remote"].split()[0]}'
    error = error or (result or {}).get('error')
    fields = [label, camera, 'failed' if error else 'ok', (result or {}).get('session') or '-',
              at('welcome'), at('offer'), at('answer'), at('ice-connected', 'ice-completed'),
              at('pair'), at('dtls-connected'), at('frame'), at('frame-received'),
              stat('framesDecoded'), stat('keyFramesDecoded'), stat('pliCount'),
              stat('nackCount'), stat('packetsLost'), size, pair_types, str(len(log_lines))]
    if error:
        fields.append(error)
    return ' '.join(fields)


async def run(args):
    disabled = DISABLED_FEATURES + ([] if args.mdns else NO_MDNS_FEATURES)
    flags = CHROMIUM_FLAGS + [f'--disable-features={",".join(disabled)}'] + args.chromium_flag
    records = []
    with PageServer() as pages:
        async with Chromium(args.chromium, flags, args.chromium_log) as browser:
            version = await browser.cdp.call('Browser.getVersion')
            print(f'# {version.get("product")}, mDNS candidates {"on" if args.mdns else "off"}; '
                  f'pages {pages.url("viewer.html")}')
            print(f'# {COLUMNS}', flush=True)
            turns = [(f'w{i + 1}', c) for i in range(args.warmup) for c in args.camera]
            for i in range(args.runs):
                order = args.camera if i % 2 == 0 else list(reversed(args.camera))
                turns += [(str(i + 1), c) for c in order]
            for label, camera in turns:
                url = pages.url('viewer.html', rendezvous=args.rendezvous, camera=camera,
                                hold=int(args.hold * 1000), timeout=int(args.timeout * 1000),
                                bundle=args.bundle_policy)
                mark = browser.log_mark()
                result, console, error = await open_viewer(browser.cdp, url, args.timeout + 5)
                log_lines = browser.log_since(mark)
                line = format_run(label, camera, result, error, log_lines)
                print(('# ' if label.startswith('w') else '') + line, flush=True)
                if args.verbose:
                    for text in console:
                        print(f'#   {label} {camera} console: {text}', file=sys.stderr)
                    for text in log_lines:
                        print(f'#   {label} {camera} chromium: {text}', file=sys.stderr)
                    for text in (result or {}).get('log', []):
                        print(f'#   {label} {camera} page: {text}', file=sys.stderr)
                records.append({'run': label, 'camera': camera, 'result': result, 'error': error,
                                'console': console, 'chromium_log': log_lines})
                await asyncio.sleep(args.pause)
    if args.json:
        with open(args.json, 'w', encoding='utf-8') as f:
            json.dump(records, f, indent=1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--rendezvous', required=True, help='ws://127.0.0.1:PORT/ws')
    parser.add_argument('--camera', action='append', required=True,
                        help='camera id; repeat to take turns between cameras')
    parser.add_argument('--runs', type=int, default=10, help='runs per camera (default 10)')
    parser.add_argument('--warmup', type=int, default=1,
                        help='runs per camera first, not counted (default 1)')
    parser.add_argument('--pause', type=float, default=0.6,
                        help='seconds between runs (default 0.6: more than the camera\'s 200 ms '
                             'keyframe-request merge)')
    parser.add_argument('--hold', type=float, default=1.0,
                        help='seconds of playing after the first frame before the stats are read')
    parser.add_argument('--timeout', type=float, default=10.0, help='seconds per run (default 10)')
    parser.add_argument('--bundle-policy', default='max-bundle',
                        choices=('balanced', 'max-compat', 'max-bundle'),
                        help='RTCPeerConnection bundlePolicy (default max-bundle, as many web apps)')
    parser.add_argument('--mdns', action='store_true',
                        help='leave Chromium\'s mDNS host candidates on (multicasts on the LAN)')
    parser.add_argument('--chromium', default=os.environ.get('CHROMIUM', 'chromium'),
                        help='the browser (default $CHROMIUM or chromium)')
    parser.add_argument('--chromium-flag', action='append', default=[],
                        help='one more chromium flag, e.g. --chromium-flag=--enable-logging=stderr '
                             '--chromium-flag=--v=1 (repeat)')
    parser.add_argument('--chromium-log', help='copy chromium\'s stderr to this file')
    parser.add_argument('--json', help='write every run\'s result, console and log to this file')
    parser.add_argument('--verbose', action='store_true',
                        help='print each run\'s console, chromium log and page log on stderr')
    args = parser.parse_args()
    if urllib.parse.urlsplit(args.rendezvous).hostname != '127.0.0.1':
        parser.error('the rendezvous must be on 127.0.0.1')

    loop = asyncio.new_event_loop()
    task = loop.create_task(run(args))
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    try:
        loop.run_until_complete(task)
    except asyncio.CancelledError:
        return 130
    finally:
        loop.close()
    return 0


if __name__ == '__main__':
    sys.exit(main())
