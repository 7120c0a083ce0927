#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Plays one web viewer page in headless Chromium and prints its state as JSON.

  tests/browser/play-page.py URL [--seconds S] [--timeout S] [--progress]

Opens URL (e.g. http://HOST:PORT/view/CAMERA#relay=only) in Debian's headless Chromium with
its default mDNS hiding of host candidates, waits for the first frame (at most --timeout
seconds), lets it play --seconds, and prints window.icecam.snapshot() as one JSON line
(watch.stats holds getStats()' selected pair and counters). Exit status 0 if it played, 1 if
not. Used by tests/natlab/test-browser.sh inside a lab namespace; sends nothing but what the
page sends.
"""

import argparse
import asyncio
import json
import os
import sys
import tempfile
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import icecam_browser as ib  # noqa: E402


async def main(args):
    # The page's host resolves (an IP address: Chromium's host rules apply to those too).
    host = urllib.parse.urlsplit(args.url).hostname
    flags = [f'--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE {host}'
             if f.startswith('--host-resolver-rules=') else f for f in ib.CHROMIUM_FLAGS]
    flags.append('--disable-features=' + ','.join(ib.DISABLED_FEATURES))
    log = os.path.join(tempfile.gettempdir(), f'icecam-play-page.{os.getpid()}.log')
    async with ib.Chromium(os.environ.get('CHROMIUM', 'chromium'), flags, log) as browser:
        async with ib.Tab(browser.cdp) as tab:
            await tab.navigate(args.url)
            played = await tab.wait_for('(() => { const w = window.icecam.snapshot().watch; '
                                        'return w && w.firstFrameAt !== null; })()', args.timeout)
            if played:
                # A progress line a second, for a test that acts on the network meanwhile.
                end = asyncio.get_running_loop().time() + args.seconds
                while asyncio.get_running_loop().time() < end:
                    await asyncio.sleep(min(1.0, max(0.0, end - asyncio.get_running_loop().time())))
                    if args.progress:
                        p = await tab.evaluate(
                            '(() => { const s = window.icecam.snapshot(); const w = s.watch || {};'
                            ' return [((w.stats || {}).framesDecoded) || 0, w.restarts || 0,'
                            ' w.session, s.connection, s.watches]; })()')
                        print(f'progress frames={p[0]} restarts={p[1]} session={p[2]} '
                              f'connection={p[3]} watches={p[4]}', flush=True)
            snap = await tab.evaluate('window.icecam ? window.icecam.snapshot() : {}')
            snap['console'] = tab.console[-20:]
            print(json.dumps(snap), flush=True)
    try:
        os.unlink(log)
    except OSError:
        pass
    return 0 if played else 1


if __name__ == '__main__':
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('url')
    parser.add_argument('--seconds', type=float, default=5)
    parser.add_argument('--timeout', type=float, default=30)
    parser.add_argument('--progress', action='store_true',
                        help='print a progress line (frames decoded, restarts asked, session) every second')
    sys.exit(asyncio.run(main(parser.parse_args())))
