#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The web viewer (src/server/web/) in Debian's headless Chromium, on loopback.

Runs in a network namespace of its own (unshare --net, only `lo` up), so that Chromium's mDNS
announcements of its hidden host candidates (left ON, as in the field) go nowhere and runs of
other suites cannot meet this one. Starts icecam-rendezvous, icecam-camera (test pattern),
icecam-view and Chromium itself; drives the page over the DevTools protocol
(tests/browser/icecam_browser.py). TAP-like output; exit status 1 on any failure, 77 (skip)
where no network namespace can be made.

Cases: the page lists the camera and plays it with bundlePolicy max-bundle for 20 s (frames,
keyframes, PLIs from getStats, a screenshot checked for a non-blank video); it rejoins when
the camera restarts; tokens from the fragment and the paste field, never in a URL or the
rendezvous' log; https:// and wss:// with a self-signed certificate; malformed answers and candidates from a page get errors and leave
icecam-view playing; a browser without H.264 is told so; Debian's firefox-esr, where
installed, over WebDriver BiDi (it has no H.264 here: the page must say so); the page
publishes the device's camera (Chromium's fake one) and icecam-view and another page watch it.

Environment: ICECAM_BUILD_DIR (set by meson), CHROMIUM (default chromium),
ICECAM_WEB_SCREENSHOT (also save the screenshot there, e.g. docs/images/web-viewer.png),
KEEP_LOG=DIR (keep every log there), PLAY_SECONDS (20).
"""

import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import icecam_browser as ib  # noqa: E402

BUILD = os.environ.get('ICECAM_BUILD_DIR', '')
RENDEZVOUS = os.path.join(BUILD, 'src/server/icecam-rendezvous')
CAMERA = os.path.join(BUILD, 'src/tools/icecam-camera')
VIEW = os.path.join(BUILD, 'src/tools/icecam-view')
PLAY_SECONDS = float(os.environ.get('PLAY_SECONDS', '20'))
SLOW = float(os.environ.get('ICECAM_TEST_SLOWDOWN', '1'))

# Records what the page sends on its WebSockets, before the app's script runs.
RECORD_SENT = '''
(() => {
  window.__sent = [];
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) {
    try { window.__sent.push(JSON.parse(data)); } catch (e) {}
    return send.call(this, data);
  };
})();
'''

# A browser without H.264: the capabilities it reports lack it.
NO_H264 = '''
(() => {
  const get = RTCRtpReceiver.getCapabilities;
  RTCRtpReceiver.getCapabilities = function (kind) {
    const caps = get.call(this, kind);
    if (caps && kind === 'video')
      caps.codecs = caps.codecs.filter((c) => c.mimeType.toLowerCase() !== 'video/h264');
    return caps;
  };
})();
'''

failures = 0


def ok(what):
    print(f'ok - {what}', flush=True)


def not_ok(what):
    global failures
    failures += 1
    print(f'not ok - {what}', flush=True)


def check(condition, what, detail=''):
    if condition:
        ok(what)
    else:
        not_ok(f'{what}: {detail}' if detail else what)
    return condition


def note(text):
    print(f'# {text}', flush=True)


class Lab:
    """The processes of the run, their logs in one directory."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.procs = []

    def start(self, name, argv, env=None):
        e = dict(os.environ)
        e.update(env or {})
        p = ib.Process(argv, os.path.join(self.tmp, f'{name}.log'), env=e)
        self.procs.append(p)
        return p

    async def rendezvous(self, name, *args):
        p = self.start(name, [RENDEZVOUS, '--listen', '127.0.0.1:0', '--verbose', *args])
        match = await p.wait_for(r'listening on (wss?)://127\.0\.0\.1:(\d+)/ws', 10)
        if match is None:
            raise RuntimeError(f'{name} did not listen: {p.text()}')
        p.ws = f'{match.group(1)}://127.0.0.1:{match.group(2)}/ws'
        p.http = f'{"https" if match.group(1) == "wss" else "http"}://127.0.0.1:{match.group(2)}'
        return p

    async def camera(self, name, server, camera_id, *args):
        p = self.start(name, [CAMERA, '--server', server.ws, '--id', camera_id, '--source', 'test',
                              *args], env={'G_MESSAGES_DEBUG': 'icecam'})
        if await p.wait_for(r'streaming|registered|online', 10) is None:
            raise RuntimeError(f'{name} did not start: {p.text()}')
        return p

    def stop_all(self):
        for p in reversed(self.procs):
            p.stop()


async def page_snapshot(tab):
    return await tab.evaluate('window.icecam.snapshot()')


async def wait_playing(tab, timeout, session_not=None):
    """Waits for a first frame in a session other than session_not; the snapshot or None."""
    expression = ('(() => { const s = window.icecam.snapshot(); const w = s.watch; '
                  'return w && w.firstFrameAt !== null && w.session !== %s ? s : null; })()'
                  % json.dumps(session_not))
    return await tab.wait_for(expression, timeout)


async def wait_camera_listed(tab, camera, timeout):
    return await tab.wait_for(
        f'document.querySelector(\'#cameras button[data-camera="{camera}"]\') !== null', timeout)


# ---- cases -------------------------------------------------------------------------------------

async def case_loopback(browser, lab, rv, camera):
    """The page lists the camera, plays it, and the camera restart: it rejoins."""
    async with ib.Tab(browser.cdp) as tab:
        await tab.add_init_script(RECORD_SENT)
        await tab.call('Emulation.setDeviceMetricsOverride',
                       {'width': 1000, 'height': 640, 'deviceScaleFactor': 1, 'mobile': False})
        await tab.navigate(rv.http + '/')
        listed = await wait_camera_listed(tab, 'cam', 10 * SLOW)
        check(listed, 'the page lists the camera from presence')
        if not listed:
            return
        await tab.click('#cameras button[data-camera="cam"]')
        snap = await wait_playing(tab, 15 * SLOW)
        if not check(snap is not None, 'clicking the camera plays it',
                     json.dumps(await page_snapshot(tab))[:800]):
            note('\n# '.join(tab.console[-20:]))
            return
        watch = snap['watch']
        check(watch['bundlePolicy'] == 'max-bundle', 'the peer connection uses max-bundle',
              watch['bundlePolicy'])
        path = await tab.evaluate('location.pathname')
        check(path == '/view/cam', 'the URL names the camera (/view/cam)', path)
        await asyncio.sleep(PLAY_SECONDS)
        sent = await tab.evaluate('window.__sent')
        note('the page sent: ' + '; '.join(m['candidate'] for m in sent if m.get('type') == 'candidate'))
        hosts = [m['candidate'] for m in sent if m.get('type') == 'candidate' and ' typ host' in m['candidate']]
        # Chromium sends a host candidate only once its mDNS name is registered, which in one CI
        # run never happened in 20 s (the page played on its srflx candidate): none is a note; a
        # host candidate with a bare address is the failure.
        if not hosts:
            note('Chromium sent no host candidate this time (its mDNS name was not registered)')
        check(all(re.search(r' [0-9a-f-]{36}\.local ', c) for c in hosts),
              'Chromium hides its host candidates as mDNS names', '; '.join(hosts) or 'none sent')
        hello = next((m for m in sent if m.get('type') == 'hello'), {})
        check(set(hello.get('features', [])) >= {'ping', 'restart'} and hello.get('role') == 'viewer',
              'hello as a viewer with the ping and restart features', json.dumps(hello))

        snap = await page_snapshot(tab)
        stats = (snap['watch'] or {}).get('stats') or {}
        note(f'after {PLAY_SECONDS:.0f} s: ' + json.dumps(stats))
        check((snap['watch'] or {}).get('state') == 'playing' and snap['status'] == 'cam: playing',
              "the session's state and the status line say playing",
              f'{(snap["watch"] or {}).get("state")} / {snap["status"]}')
        check(stats.get('framesDecoded', 0) >= 15 * PLAY_SECONDS,
              f'>= {15 * PLAY_SECONDS:.0f} frames decoded in {PLAY_SECONDS:.0f} s',
              str(stats.get('framesDecoded')))
        check(stats.get('audioSamplesReceived', 0) > 0,
              "the camera's Opus audio is received (inbound-rtp audio totalSamplesReceived)",
              str(stats.get('audioSamplesReceived')))
        sound = await tab.evaluate("[document.getElementById('video').muted, "
                                   "document.getElementById('mute').hidden]")
        check(sound == [True, False], 'the video starts muted, with an Unmute button', json.dumps(sound))
        await tab.click('#mute')
        sound = await tab.evaluate("[document.getElementById('video').muted, "
                                   "document.getElementById('mute').textContent]")
        check(sound == [False, 'Mute'], 'Unmute turns the sound on', json.dumps(sound))
        check(stats.get('keyFramesDecoded', 99) <= 4, '<= 4 keyframes', str(stats.get('keyFramesDecoded')))
        check(stats.get('pliCount', 99) <= 4, '<= 4 PLIs', str(stats.get('pliCount')))
        pair = stats.get('pair') or {}
        check(pair.get('local') and pair.get('remote') and pair.get('protocol') == 'udp',
              'getStats names the selected pair', json.dumps(pair))
        overlay = snap['overlay']
        check(re.search(r'pair +\w+ → \w+, udp', overlay) and re.search(r'\d+ kbit/s, [\d.]+ fps', overlay)
              and 'rtt' in overlay and 'lost' in overlay,
              'the overlay shows pair, bitrate, frame rate, RTT and loss', overlay)
        # The same addresses (one end may name an address peer-reflexive that the other
        # learned as server-reflexive; Chromium leaves out a local prflx address: its port).
        selected = re.findall(r'selected (\w+) (\S+) <-> (\w+) (\S+) \((\w+)\)', camera.text())
        local_address = pair.get('localAddress') or '-'
        same = bool(selected) and selected[-1][1] == pair.get('remoteAddress') and \
            selected[-1][3].endswith(local_address) and selected[-1][4] == pair.get('protocol')
        check(same, 'the camera selected the same pair as the browser',
              f'camera {selected[-1:]} browser {pair}')

        rect = await tab.evaluate('window.icecam.videoRect()')
        png = await tab.screenshot()
        with open(os.path.join(lab.tmp, 'web-viewer.png'), 'wb') as f:
            f.write(png)
        target = os.environ.get('ICECAM_WEB_SCREENSHOT')
        if target:
            with open(target, 'wb') as f:
                f.write(png)
        # The picture inside the video element (object-fit: contain centres it).
        scale = min(rect['width'] / rect['videoWidth'], rect['height'] / rect['videoHeight']) \
            if rect['videoWidth'] else 1
        w, h = rect['videoWidth'] * scale, rect['videoHeight'] * scale
        x = rect['x'] + (rect['width'] - w) / 2
        y = rect['y'] + (rect['height'] - h) / 2
        mean, variance, colours = ib.region_stats(png, x + 4, y + 4, w - 8, h - 8)
        check(rect['videoWidth'] > 0 and variance > 200 and colours > 8,
              'the screenshot shows a picture in the video rectangle',
              f'{rect} mean {mean:.0f} variance {variance:.0f} colours {colours}')
        fullscreen = await tab.evaluate('document.getElementById("fullscreen") !== null')
        check(fullscreen, 'a full screen button')

        # The camera restarts (a new process, no resume secret): the page watches again.
        old = snap['watch']['session']
        camera.stop(signal.SIGKILL)
        gone = await tab.wait_for('!window.icecam.snapshot().cameras.includes("cam")', 70 * SLOW)
        note(f'camera gone from the list: {bool(gone)}')
        camera = await lab.camera('camera-2', rv, 'cam', '--keyframe-interval', '10')
        snap = await wait_playing(tab, 20 * SLOW, session_not=old)
        check(snap is not None, 'the page rejoins by itself when the camera comes back',
              json.dumps(await page_snapshot(tab))[:600])
    return camera


async def case_mobile(browser, rv):
    """A phone-sized viewport: the list above the video, nothing wider than the screen."""
    async with ib.Tab(browser.cdp) as tab:
        await tab.call('Emulation.setDeviceMetricsOverride',
                       {'width': 390, 'height': 780, 'deviceScaleFactor': 2, 'mobile': True})
        await tab.navigate(rv.http + '/view/cam')
        snap = await wait_playing(tab, 15 * SLOW)
        layout = await tab.evaluate(
            '(() => { const v = document.getElementById("player").getBoundingClientRect();'
            ' const s = document.getElementById("sidebar").getBoundingClientRect();'
            ' return { wide: document.documentElement.scrollWidth, video: [v.x, v.y, v.width, v.height],'
            ' side: [s.x, s.y, s.width, s.height] }; })()')
        check(snap is not None and layout['wide'] <= 390 and layout['video'][2] <= 390
              and layout['side'][1] < layout['video'][1],
              '/view/cam plays on a phone-sized screen, the list above the video', json.dumps(layout))


async def case_tokens(browser, lab, tmp):
    """Tokens from the fragment or the paste field; only granted cameras listed; never in a
    request line or the rendezvous' log."""
    key = os.path.join(tmp, 'token.key')
    with open(key, 'w') as f:
        f.write(os.urandom(32).hex() + '\n')
    rv = await lab.rendezvous('rendezvous-tokens', '--token-key-file', key)
    token = subprocess.run([RENDEZVOUS, 'token', '--token-key-file', key, '--camera', 'allowed',
                            '--ttl', '1h'], capture_output=True, text=True, check=True).stdout.strip()
    await lab.camera('camera-allowed', rv, 'allowed')
    await lab.camera('camera-other', rv, 'other')
    async with ib.Tab(browser.cdp) as tab:
        urls = []
        tab_listener = browser.cdp.listeners[tab.session]

        def on_event(method, params):
            tab_listener(method, params)
            if method == 'Network.requestWillBeSent':
                urls.append(params['request']['url'])
            elif method == 'Network.webSocketCreated':
                urls.append(params['url'])
        browser.cdp.listeners[tab.session] = on_event
        await tab.call('Network.enable')

        await tab.navigate(rv.http + '/')
        notice = await tab.wait_for('window.icecam.snapshot().notice', 10 * SLOW)
        check(notice and 'token' in notice, 'without a token the page asks for one', str(notice))

        await tab.navigate('about:blank')
        await tab.navigate(f'{rv.http}/#token={token}')
        listed = await tab.wait_for('(() => { const c = window.icecam.snapshot().cameras; '
                                    'return c.length > 0 ? c : null; })()', 10 * SLOW)
        await asyncio.sleep(0.5)  # a presence with more cameras would come now
        cameras = (await page_snapshot(tab))['cameras']
        check(cameras == ['allowed'], 'with #token= the page lists only the granted camera',
              json.dumps(listed) + ' then ' + json.dumps(cameras))
        await tab.click('#cameras button[data-camera="allowed"]')
        check(await wait_playing(tab, 15 * SLOW), 'the granted camera plays')

        # The paste field, in a fresh page without the fragment.
        await tab.navigate('about:blank')
        await tab.navigate(rv.http + '/view/allowed')
        await tab.wait_for('window.icecam.snapshot().notice', 10 * SLOW)
        await tab.evaluate(f'document.getElementById("token").value = {json.dumps(token)}; '
                           'document.getElementById("token-form").requestSubmit(); true')
        check(await wait_playing(tab, 15 * SLOW), 'a pasted token plays /view/allowed')
        leaked = [u for u in urls if token in u or 'token=' in u.split('#')[0]]
        check(urls and not leaked, 'the token is in no request URL (page, script, WebSocket)',
              ' '.join(leaked or urls))
    log = open(rv.log_path, encoding='utf-8', errors='replace').read()
    signature = token.rsplit('.', 1)[-1]
    check(token not in log and signature not in log, "the token is not in the rendezvous' log")


async def case_bad_input(browser, lab, rv):
    """A page sending a malformed answer and candidates gets errors; icecam-view watching the
    same camera keeps decoding. A browser without H.264 is told so."""
    view = lab.start('view', [VIEW, '--server', rv.ws, '--camera', 'cam', '--headless',
                              '--frames', '100000', '--timeout', '120', '--stats-interval', '1'])
    if await view.wait_for(r'progress frames=[1-9]', 20 * SLOW) is None:
        not_ok(f'icecam-view plays before the bad page: {view.text()[-400:]}')
        return

    def frames():
        found = re.findall(r'progress frames=(\d+)', view.text())
        return int(found[-1]) if found else 0

    async with ib.Tab(browser.cdp) as tab:
        await tab.navigate(rv.http + '/')
        before = frames()
        hostile = '''
new Promise((resolve) => {
  const got = [];
  const ws = new WebSocket(`ws://${location.host}/ws`);
  ws.onopen = () => ws.send(JSON.stringify({ type: 'hello', version: 1, role: 'viewer' }));
  ws.onmessage = (e) => {
    const m = JSON.parse(e.data);
    got.push(m);
    if (m.type === 'welcome')
      ws.send(JSON.stringify({ type: 'watch', camera: 'cam' }));
    if (m.type === 'offer') {
      const s = m.session;
      ws.send(JSON.stringify({ type: 'candidate', session: s, candidate: 'not a candidate' }));
      ws.send(JSON.stringify({ type: 'candidate', session: s, candidate: 'candidate:x 1 UDP zz 999.1.1.1 -5 typ nonsense' }));
      ws.send(JSON.stringify({ type: 'candidate', session: s, candidate: 'candidate:' + 'A'.repeat(600) }));
      ws.send(JSON.stringify({ type: 'answer', session: s, sdp: 'v=0\\r\\nm=video 9 BROKEN\\r\\na=ice-ufrag:\\r\\n\\u00ff\\r\\n' }));
      ws.send('{"type":"answer","session":');
    }
  };
  setTimeout(() => { ws.close(); resolve(got); }, 4000);
})'''
        got = await tab.evaluate(hostile, timeout=15)
        errors = [f'{m.get("type")}:{m.get("code")}' for m in got if m.get('type') in ('error', 'bye')]
        note('the bad page got: ' + ', '.join(errors))
        check(any(e in errors for e in ('error:invalid-field', 'error:too-large'))
              and 'error:malformed' in errors,
              'malformed candidates and messages get errors from the rendezvous', ', '.join(errors))
        check(any(e.startswith('bye:') for e in errors),
              'the camera refuses the malformed answer with a bye', ', '.join(errors))
        await asyncio.sleep(3)
        after = frames()
        check(after > before + 45 and view.proc.poll() is None,
              'icecam-view watching the same camera kept decoding', f'{before} -> {after}')
        camera_alive = all(p.proc.poll() is None for p in lab.procs if 'camera' in p.log_path
                           and p.log_path.endswith('camera-2.log'))
        check(camera_alive, 'the camera still runs')
    view.stop()

    async with ib.Tab(browser.cdp) as tab:
        await tab.add_init_script(NO_H264)
        await tab.navigate(rv.http + '/view/cam')
        notice = await tab.wait_for('window.icecam.snapshot().notice', 5 * SLOW)
        shown = await tab.evaluate('(() => { const n = document.getElementById("notice"); '
                                   'return n.hidden ? "" : n.textContent; })()')
        await asyncio.sleep(1)
        snap = await page_snapshot(tab)
        check(notice and 'H.264' in shown and snap['watches'] == 0,
              'a browser without H.264 sees a clear message and does not watch',
              f'{shown!r} watches={snap["watches"]}')


async def case_tls(browser, lab, tmp):
    """Over TLS: the page from https:// talks to wss:// on the same port and plays."""
    key, cert = os.path.join(tmp, 'key.pem'), os.path.join(tmp, 'cert.pem')
    subprocess.run(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt',
                    'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert,
                    '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'],
                   check=True, capture_output=True)
    rv = await lab.rendezvous('rendezvous-tls', '--tls-certificate', cert, '--tls-key', key)
    await lab.camera('camera-tls', rv, 'tlscam', '--ca-file', cert)
    async with ib.Tab(browser.cdp) as tab:
        await tab.call('Network.enable')
        await tab.navigate(rv.http + '/view/tlscam')
        snap = await wait_playing(tab, 15 * SLOW)
        scheme = await tab.evaluate('location.protocol')
        check(rv.http.startswith('https://') and scheme == 'https:' and snap is not None,
              'from https:// the page plays over wss://', f'{rv.http} {scheme} '
              + json.dumps(await page_snapshot(tab))[:300])


async def case_publish(lab, rv, flags, tmp):
    """The stretch: the page publishes this device's camera (Chromium's fake device), and
    icecam-view and another page watch it. A Chromium of its own: one that granted camera
    access no longer hides its host candidates, and the other cases need them hidden."""
    flags = flags + ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream']
    async with ib.Chromium(os.environ.get('CHROMIUM', 'chromium'), flags,
                           os.path.join(tmp, 'chromium-publish.log')) as browser:
        await publish_and_watch(browser, lab, rv)


async def publish_and_watch(browser, lab, rv):
    async with ib.Tab(browser.cdp) as tab:
        await tab.navigate(rv.http + '/')
        await tab.evaluate('document.getElementById("publish-id").value = "phone"; '
                           'document.getElementById("publish-form").requestSubmit(); true')
        published = await tab.wait_for('window.icecamPublisher.snapshot().status.startsWith("publishing")',
                                       10 * SLOW)
        if not check(published, 'the page publishes its camera as "phone"',
                     json.dumps(await tab.evaluate('window.icecamPublisher.snapshot()'))):
            return
        view = lab.start('view-phone', [VIEW, '--server', rv.ws, '--camera', 'phone', '--headless',
                                        '--frames', '90', '--timeout', '20'])
        deadline = time.monotonic() + 30 * SLOW
        while view.proc.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        summary = (re.findall(r'icecam-view: result=.*', view.text()) or ['none'])[-1]
        note(summary)
        check(view.proc.returncode == 0 and 'result=ok' in summary and 'frames=90 ' in summary,
              'icecam-view decodes 90 frames of the camera the page publishes', summary)
        async with ib.Tab(browser.cdp) as watcher:
            await watcher.navigate(rv.http + '/view/phone')
            snap = await wait_playing(watcher, 15 * SLOW)
            check(snap is not None, 'another page watches the published camera',
                  json.dumps(await page_snapshot(watcher))[:300])


async def case_firefox(rv):
    """Debian's firefox-esr, headless over WebDriver BiDi: it plays the camera if its WebRTC
    has H.264, else the page says why (Firefox's H.264 is Mozilla's OpenH264 plugin, which it
    downloads from the internet at run time; Debian does not package it)."""
    if shutil.which('firefox-esr') is None:
        note('no firefox-esr: its case skipped')
        return
    async with ib.Firefox() as ff:
        await ff.navigate(rv.http + '/view/cam')
        codecs = json.loads(await ff.evaluate(
            "JSON.stringify(RTCRtpReceiver.getCapabilities('video').codecs.map((c) => c.mimeType))"))
        h264 = 'video/H264' in codecs
        note(f'Firefox {ff.version}: WebRTC video codecs {sorted(set(codecs))}')
        deadline = time.monotonic() + 20 * SLOW
        snap = {}
        while time.monotonic() < deadline:
            snap = json.loads(await ff.evaluate('JSON.stringify(window.icecam.snapshot())'))
            w = snap.get('watch') or {}
            if (h264 and w.get('firstFrameAt') is not None) or (not h264 and snap.get('notice')):
                break
            await asyncio.sleep(0.2)
        if h264:
            check((snap.get('watch') or {}).get('firstFrameAt') is not None,
                  f'Firefox {ff.version} plays the camera', json.dumps(snap)[:400])
        else:
            await asyncio.sleep(1)
            snap = json.loads(await ff.evaluate('JSON.stringify(window.icecam.snapshot())'))
            check('H.264' in (snap.get('notice') or '') and snap['watches'] == 0,
                  f'Firefox {ff.version} without H.264: the page says so and does not watch',
                  json.dumps(snap)[:400])


async def main():
    tmp = tempfile.mkdtemp(prefix='icecam-browser.')
    lab = Lab(tmp)
    # The TLS case's certificate is self-signed.
    flags = ib.CHROMIUM_FLAGS + ['--disable-features=' + ','.join(ib.DISABLED_FEATURES),
                                 '--ignore-certificate-errors']
    try:
        rv = await lab.rendezvous('rendezvous')
        camera = await lab.camera('camera', rv, 'cam', '--keyframe-interval', '10', '--audio', 'test')
        async with ib.Chromium(os.environ.get('CHROMIUM', 'chromium'), flags,
                               os.path.join(tmp, 'chromium.log')) as browser:
            version = await browser.cdp.call('Browser.getVersion')
            note(f'{version.get("product")}, mDNS host candidates on; logs in {tmp}')
            started = time.monotonic()
            camera = await case_loopback(browser, lab, rv, camera) or camera
            await case_mobile(browser, rv)
            await case_bad_input(browser, lab, rv)
            await case_tokens(browser, lab, tmp)
            await case_tls(browser, lab, tmp)
            await case_publish(lab, rv, flags, tmp)
        await case_firefox(rv)
        note(f'cases took {time.monotonic() - started:.0f} s')
    finally:
        lab.stop_all()
        criticals = [p.log_path for p in lab.procs if '-CRITICAL **' in p.text()]
        for path in criticals:
            not_ok(f'a critical in {os.path.basename(path)}')
        keep = os.environ.get('KEEP_LOG')
        if keep:
            shutil.copytree(tmp, keep, dirs_exist_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)
    note(f'{failures} failure(s)')
    return 1 if failures else 0


if __name__ == '__main__':
    if not os.path.exists(RENDEZVOUS):
        print(f'test-browser: no {RENDEZVOUS}; set ICECAM_BUILD_DIR', file=sys.stderr)
        sys.exit(2)
    rc = ib.isolate_network(__file__)
    if rc is not None:
        sys.exit(rc)
    if shutil.which(os.environ.get('CHROMIUM', 'chromium')) is None:
        print('1..0 # SKIP no chromium (scripts/setup.sh test installs it)')
        sys.exit(77)
    sys.exit(asyncio.run(main()))
