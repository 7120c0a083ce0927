#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Browser time to first frame with the real web viewer (src/server/web/), loopback.

Builds nothing: runs BUILD's icecam-rendezvous and icecam-camera (test pattern) and Debian's
headless Chromium in a network namespace of its own (mDNS host candidates ON, as in the
field; tests/browser/icecam_browser.py), then, per run, a fresh tab on the rendezvous' page
`/`, waits for the camera in the list, clicks it (a trusted mouse event) and waits for the
first frame the <video> presents (requestVideoFrameCallback); and the page opened at
/view/CAMERA, which plays at once. Side by side in the same run, taking turns: the minimal
bench page bench/browser/viewer.html (default bundle policy, no UI) on the same camera, as the
baseline for "page start -> first frame".

  bench/browser-webapp.py [--build DIR] [--runs N] [--pause S]

Prints one line per run and a summary (median, p90, min, max in ms):
  click -> first frame        the web app at /: the click on the camera to the first frame
  page start -> first frame   the web app at /view/CAMERA and the baseline page: navigation
                              start to the first frame
Needs root (unshare), chromium, python3-websockets (scripts/setup.sh test).
"""

import argparse
import asyncio
import functools
import http.server
import json
import os
import statistics
import sys
import tempfile
import threading
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'tests', 'browser'))
import icecam_browser as ib  # noqa: E402


def summary(values):
    if not values:
        return '- - - - 0'
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))]
    return (f'{statistics.median(ordered):.1f} {p90:.1f} {ordered[0]:.1f} {ordered[-1]:.1f} '
            f'{len(ordered)}')


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


async def run_webapp(browser, base, direct):
    """direct: open /view/bench (plays at once); else open / and click the camera."""
    async with ib.Tab(browser.cdp) as tab:
        if direct:
            await tab.navigate(base + '/view/bench')
        else:
            await tab.navigate(base + '/')
            if not await tab.wait_for('document.querySelector(\'#cameras button[data-camera="bench"]\') !== null', 10):
                return None, 'the camera was not listed'
            await tab.click('#cameras button[data-camera="bench"]')
        snap = await tab.wait_for('(() => { const w = window.icecam.snapshot().watch; '
                                  'return w && w.firstFrameAt !== null ? w : null; })()', 10,
                                  interval=0.05)
        if snap is None:
            return None, json.dumps(await tab.evaluate('window.icecam.snapshot()'))[:300]
        await asyncio.sleep(0.6)  # the overlay's statistics, for the pair
        stats = (await tab.evaluate('window.icecam.snapshot().watch.stats')) or {}
        pair = stats.get('pair') or {}
        result = {'page': snap['firstFrameAt'], 'pair': f'{pair.get("local")}/{pair.get("remote")}'}
        if not direct:
            result['click'] = snap['firstFrameAt'] - snap['clickAt']
        return result, None


async def run_baseline(browser, page_url, ws_url):
    async with ib.Tab(browser.cdp) as tab:
        query = urllib.parse.urlencode({'rendezvous': ws_url, 'camera': 'bench', 'hold': 200,
                                        'timeout': 10000})
        await tab.navigate(f'{page_url}?{query}')
        result = await tab.evaluate('window.icecamViewer.result', timeout=15)
        await tab.evaluate('window.icecamViewer.stop()')
        if result.get('error') or 'frame' not in result['times']:
            return None, result.get('error')
        pair = (result.get('stats') or {}).get('pair') or {}
        return {'page': result['times']['frame'],
                'pair': f'{(pair.get("local") or "-").split()[0]}/{(pair.get("remote") or "-").split()[0]}'}, None


async def main(args):
    tmp = tempfile.mkdtemp(prefix='icecam-bench-webapp.')
    procs = []
    handler = functools.partial(QuietHandler, directory=os.path.join(HERE, 'browser'))
    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    page_url = f'http://127.0.0.1:{httpd.server_address[1]}/viewer.html'
    try:
        rv = ib.Process([os.path.join(args.build, 'src/server/icecam-rendezvous'), '--listen',
                         '127.0.0.1:0'], os.path.join(tmp, 'rendezvous.log'))
        procs.append(rv)
        match = await rv.wait_for(r'listening on ws://127\.0\.0\.1:(\d+)/ws', 10)
        port = match.group(1)
        base, ws_url = f'http://127.0.0.1:{port}', f'ws://127.0.0.1:{port}/ws'
        cam = ib.Process([os.path.join(args.build, 'src/tools/icecam-camera'), '--server', ws_url,
                          '--id', 'bench', '--source', 'test', '--keyframe-interval', '10'],
                         os.path.join(tmp, 'camera.log'))
        procs.append(cam)
        await cam.wait_for('streaming', 10)
        await asyncio.sleep(1)
        flags = ib.CHROMIUM_FLAGS + ['--disable-features=' + ','.join(ib.DISABLED_FEATURES)]
        results = {'webapp': [], 'direct': [], 'baseline': []}
        failed = 0
        async with ib.Chromium(os.environ.get('CHROMIUM', 'chromium'), flags,
                               os.path.join(tmp, 'chromium.log')) as browser:
            version = (await browser.cdp.call('Browser.getVersion')).get('product')
            print(f'# {version}, mDNS host candidates on, loopback in a network namespace; '
                  f'{args.runs} runs each (+1 warm-up), taking turns')
            print('# run page result click_to_frame_ms page_to_frame_ms pair')
            for i in range(args.runs + 1):
                order = ['webapp', 'direct', 'baseline']
                order = order if i % 2 == 0 else list(reversed(order))
                for which in order:
                    if which != 'baseline':
                        r, error = await run_webapp(browser, base, which == 'direct')
                    else:
                        r, error = await run_baseline(browser, page_url, ws_url)
                    label = 'w' if i == 0 else str(i)
                    if r is None:
                        failed += 1
                        print(f'{label} {which} failed - - {error}', flush=True)
                    else:
                        click = f'{r["click"]:.1f}' if 'click' in r else '-'
                        print(f'{"# " if i == 0 else ""}{label} {which} ok {click} {r["page"]:.1f} '
                              f'{r["pair"]}', flush=True)
                        if i > 0:
                            results[which].append(r)
                    await asyncio.sleep(args.pause)
        print()
        print('| page | phase | median | p90 | min | max | n |')
        print('|---|---|---|---|---|---|---|')
        rows = [('web app (src/server/web/)', 'click -> first frame',
                 [r['click'] for r in results['webapp']]),
                ('web app, /view/bench', 'page start -> first frame',
                 [r['page'] for r in results['direct']]),
                ('baseline bench/browser/viewer.html', 'page start -> first frame',
                 [r['page'] for r in results['baseline']])]
        for page, phase, values in rows:
            print(f'| {page} | {phase} | ' + ' | '.join(summary(values).split()) + ' |')
        web = [r['page'] for r in results['direct']]
        base_pages = [r['page'] for r in results['baseline']]
        if web and base_pages:
            print(f'\npage start -> first frame, web app (/view/bench) / baseline (medians): '
                  f'{statistics.median(web) / statistics.median(base_pages):.2f}; failed runs: {failed}')
        print(f'load at the end: {" ".join(open("/proc/loadavg").read().split()[:3])}')
    finally:
        httpd.shutdown()
        for p in reversed(procs):
            p.stop()


if __name__ == '__main__':
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--build', default=os.environ.get('BUILD', os.path.join(HERE, '..', 'build')))
    parser.add_argument('--runs', type=int, default=15)
    parser.add_argument('--pause', type=float, default=0.6,
                        help="seconds between runs (more than the camera's 200 ms keyframe-request merge)")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error('--runs must be at least 1')
    rc = ib.isolate_network(__file__)
    if rc is not None:
        sys.exit(rc)
    asyncio.run(main(args))
