# SPDX-License-Identifier: LGPL-2.1-or-later
"""Headless Chromium driven over the DevTools protocol: what tests/browser/ and bench/browser-*
share.

Chromium(...) starts Debian's chromium headless with a throw-away profile in its own process
group and connects to its DevTools endpoint; Cdp is that connection (sessions flattened);
Tab is one page in it. Needs python3-websockets; runs under Debian's /usr/bin/python3.
"""

import asyncio
import base64
import functools
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib

import websockets

# Headless, no sandbox (root in a container), and quiet: no first-run UI, no component
# updates, no background requests; a host resolver that resolves nothing but 127.0.0.1 keeps
# anything we did not think of from leaving the machine.
CHROMIUM_FLAGS = [
    '--headless=new', '--no-sandbox', '--remote-debugging-port=0',
    '--no-first-run', '--no-default-browser-check', '--disable-default-apps',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--disable-extensions', '--disable-client-side-phishing-detection', '--no-pings',
    '--no-proxy-server', '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
    '--mute-audio', '--autoplay-policy=no-user-gesture-required',
    # Without it Chromium gathers no ICE candidate on loopback.
    '--allow-loopback-in-peer-connection',
]
# Chromium hides host candidates behind <uuid>.local names by default, and announces them with
# multicast DNS on every interface: off unless --mdns (libnice 0.1.21 does not resolve .local
# names either; the camera would learn the browser's address as peer-reflexive).
NO_MDNS_FEATURES = ['WebRtcHideLocalIpsWithMdns']
DISABLED_FEATURES = ['MediaRouter', 'OptimizationHints', 'Translate']

COLUMNS = ('run camera result session welcome offer answer ice_connected pair dtls_connected frame '
           'frame_received frames_decoded keyframes_decoded pli nack lost size pair_types '
           'chromium_log_lines [error]')


class CdpError(Exception):
    pass


class Cdp:
    """One DevTools protocol connection (the browser's endpoint, sessions flattened)."""

    def __init__(self, ws):
        self.ws = ws
        self.next_id = 0
        self.calls = {}
        self.listeners = {}   # sessionId -> callback (method, params)
        self.reader = asyncio.get_running_loop().create_task(self._read())

    async def _read(self):
        try:
            async for text in self.ws:
                message = json.loads(text)
                if 'id' in message:
                    future = self.calls.pop(message['id'], None)
                    if future is None or future.done():
                        continue
                    if 'error' in message:
                        future.set_exception(CdpError(message['error'].get('message')))
                    else:
                        future.set_result(message.get('result', {}))
                else:
                    listener = self.listeners.get(message.get('sessionId'))
                    if listener is not None:
                        listener(message['method'], message.get('params', {}))
        except websockets.ConnectionClosed:
            pass
        finally:
            for future in self.calls.values():
                if not future.done():
                    future.set_exception(CdpError('DevTools connection closed'))
            self.calls.clear()

    async def call(self, method, params=None, session=None, timeout=10.0):
        self.next_id += 1
        message = {'id': self.next_id, 'method': method, 'params': params or {}}
        if session is not None:
            message['sessionId'] = session
        future = asyncio.get_running_loop().create_future()
        self.calls[self.next_id] = future
        await self.ws.send(json.dumps(message))
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
            self.calls.pop(message['id'], None)

    async def close(self):
        await self.ws.close()
        await self.reader


class Chromium:
    """Headless Chromium with a fresh profile in a temporary directory.

    `async with Chromium(...) as browser:` starts it and connects browser.cdp; leaving the
    block closes it (killing its process group if it does not go) and removes the profile.
    Its stderr is kept in browser.log_lines (and copied to log_path if given).
    """

    def __init__(self, executable='chromium', flags=(), log_path=None):
        self.executable = executable
        self.flags = list(flags)
        self.log_path = log_path
        self.log_lines = []
        self.log_lock = threading.Lock()
        self.proc = None
        self.profile = None
        self.cdp = None
        self.reader = None

    async def __aenter__(self):
        try:
            await self._start()
        except BaseException:
            await self.__aexit__(None, None, None)
            raise
        return self

    async def _start(self):
        self.profile = tempfile.mkdtemp(prefix='icecam-chromium.')
        loop = asyncio.get_running_loop()
        found = loop.create_future()
        # Its own process group, so that its helpers (zygote, renderers, GPU) go with it.
        self.proc = subprocess.Popen(
            [self.executable, *self.flags, f'--user-data-dir={self.profile}', 'about:blank'],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            start_new_session=True)

        def read_stderr():
            log = open(self.log_path, 'w', encoding='utf-8') if self.log_path else None
            try:
                for raw in self.proc.stderr:
                    line = raw.decode('utf-8', 'replace').rstrip('\n')
                    with self.log_lock:
                        self.log_lines.append(line)
                    if log is not None:
                        log.write(line + '\n')
                        log.flush()
                    match = re.match(r'DevTools listening on (ws://\S+)', line)
                    if match:
                        resolve(lambda u=match.group(1): found.set_result(u))
            finally:
                if log is not None:
                    log.close()
                resolve(lambda: found.set_exception(
                    RuntimeError('chromium exited before it listened for DevTools')))

        def resolve(settle):
            try:
                loop.call_soon_threadsafe(lambda: found.done() or settle())
            except RuntimeError:
                pass  # the loop is gone: nobody waits any more

        self.reader = threading.Thread(target=read_stderr, daemon=True)
        self.reader.start()
        url = await asyncio.wait_for(found, 30)
        ws = await websockets.connect(url, max_size=None, ping_interval=None)
        self.cdp = Cdp(ws)

    async def __aexit__(self, *exc):
        if self.cdp is not None:
            try:
                await self.cdp.call('Browser.close', timeout=3)
            except (CdpError, asyncio.TimeoutError, websockets.ConnectionClosed):
                pass
            try:
                await asyncio.wait_for(self.cdp.close(), 3)
            except (asyncio.TimeoutError, websockets.ConnectionClosed):
                pass
            self.cdp = None
        if self.proc is not None:
            for sig in (None, signal.SIGTERM, signal.SIGKILL):
                if sig is not None:
                    try:
                        os.killpg(self.proc.pid, sig)
                    except ProcessLookupError:
                        pass
                try:
                    await asyncio.get_running_loop().run_in_executor(
                        None, functools.partial(self.proc.wait, 5))
                    break
                except subprocess.TimeoutExpired:
                    continue
            # Helpers left in its group once the browser itself is gone.
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc = None
        if self.reader is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.reader.join, 5)
            self.reader = None
        if self.profile is not None:
            shutil.rmtree(self.profile, ignore_errors=True)
            self.profile = None

    def log_mark(self):
        with self.log_lock:
            return len(self.log_lines)

    def log_since(self, mark):
        with self.log_lock:
            return self.log_lines[mark:]


def describe_console(method, params):
    """A console message, exception or log entry of a page as one line, else None."""
    if method == 'Runtime.consoleAPICalled':
        args = ' '.join(str(a.get('value', a.get('description', ''))) for a in params.get('args', []))
        return f'console.{params.get("type")}: {args}'
    if method == 'Runtime.exceptionThrown':
        details = params.get('exceptionDetails', {})
        return 'exception: ' + details.get('exception', {}).get('description', details.get('text', ''))
    if method == 'Log.entryAdded':
        entry = params.get('entry', {})
        return f'{entry.get("source")} {entry.get("level")}: {entry.get("text")} {entry.get("url", "")}'.rstrip()
    return None


class Tab:
    """One page of the browser, attached over the flattened DevTools session.

    `async with Tab(browser.cdp) as tab:` opens about:blank in a new tab and enables its Page,
    Runtime and Log domains; leaving the block closes it. tab.console keeps the page's console
    messages, exceptions and log entries (CSP violations among them) as lines.
    """

    def __init__(self, cdp):
        self.cdp = cdp
        self.target = None
        self.session = None
        self.console = []
        self.loads = 0
        self.loaded = asyncio.Event()

    async def __aenter__(self):
        self.target = (await self.cdp.call('Target.createTarget', {'url': 'about:blank'}))['targetId']
        self.session = (await self.cdp.call('Target.attachToTarget',
                                            {'targetId': self.target, 'flatten': True}))['sessionId']
        self.cdp.listeners[self.session] = self._on_event
        for domain in ('Page', 'Runtime', 'Log'):
            await self.call(f'{domain}.enable')
        return self

    async def __aexit__(self, *exc):
        if self.session is not None:
            self.cdp.listeners.pop(self.session, None)
        if self.target is not None:
            try:
                await self.cdp.call('Target.closeTarget', {'targetId': self.target})
            except (CdpError, asyncio.TimeoutError):
                pass

    def _on_event(self, method, params):
        if method == 'Page.loadEventFired':
            self.loads += 1
            self.loaded.set()
        line = describe_console(method, params)
        if line is not None:
            self.console.append(line)

    async def call(self, method, params=None, timeout=10.0):
        return await self.cdp.call(method, params, session=self.session, timeout=timeout)

    async def add_init_script(self, source):
        """Runs source in every document the tab loads from now on, before its own scripts."""
        await self.call('Page.addScriptToEvaluateOnNewDocument', {'source': source})

    async def navigate(self, url, timeout=15.0):
        self.loaded.clear()
        await self.call('Page.navigate', {'url': url})
        await asyncio.wait_for(self.loaded.wait(), timeout)

    async def evaluate(self, expression, timeout=10.0):
        """The value of a JavaScript expression in the page (promises awaited)."""
        reply = await self.call('Runtime.evaluate',
                                {'expression': expression, 'awaitPromise': True,
                                 'returnByValue': True}, timeout=timeout)
        if 'exceptionDetails' in reply:
            raise CdpError(describe_console('Runtime.exceptionThrown', reply))
        return reply['result'].get('value')

    async def wait_for(self, expression, timeout, interval=0.1):
        """Polls expression until it is truthy; returns its value, or None at the timeout."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                value = await self.evaluate(expression)
            except CdpError:
                value = None
            if value:
                return value
            if time.monotonic() > deadline:
                return None
            await asyncio.sleep(interval)

    async def click(self, selector):
        """Clicks the element as a user would (a trusted mouse event at its centre)."""
        box = await self.evaluate(
            f'(() => {{ const r = document.querySelector({json.dumps(selector)})'
            f'.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; }})()')
        for kind in ('mousePressed', 'mouseReleased'):
            await self.call('Input.dispatchMouseEvent',
                            {'type': kind, 'x': box[0], 'y': box[1], 'button': 'left',
                             'clickCount': 1})

    async def screenshot(self):
        """The page as PNG bytes."""
        reply = await self.call('Page.captureScreenshot', {'format': 'png'}, timeout=20)
        return base64.b64decode(reply['data'])


# ---- PNG, enough to look at a screenshot -----------------------------------------------------

def decode_png(data):
    """(width, height, channels, rows) of an 8-bit RGB or RGBA, non-interlaced PNG; rows are
    bytes objects. Raises ValueError for anything else."""
    if data[:8] != b'\x89PNG\r\n\x1a\n':
        raise ValueError('not a PNG')
    pos, idat, header = 8, [], None
    while pos < len(data):
        length, kind = struct.unpack('>I4s', data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b'IHDR':
            header = struct.unpack('>IIBBBBB', chunk)
        elif kind == b'IDAT':
            idat.append(chunk)
        elif kind == b'IEND':
            break
    if header is None:
        raise ValueError('no IHDR')
    width, height, depth, colour, _, _, interlace = header
    if depth != 8 or colour not in (2, 6) or interlace != 0:
        raise ValueError(f'unsupported PNG: depth {depth}, colour type {colour}, interlace {interlace}')
    channels = 3 if colour == 2 else 4
    raw = zlib.decompress(b''.join(idat))
    stride = width * channels
    rows, previous = [], bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            a = line[x - channels] if x >= channels else 0
            b = previous[x]
            c = previous[x - channels] if x >= channels else 0
            if kind == 1:
                line[x] = (line[x] + a) & 0xff
            elif kind == 2:
                line[x] = (line[x] + b) & 0xff
            elif kind == 3:
                line[x] = (line[x] + (a + b) // 2) & 0xff
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xff
        rows.append(bytes(line))
        previous = line
    return width, height, channels, rows


def region_stats(png, x, y, width, height, step=2):
    """(mean, variance, distinct colours) of the luma of a rectangle of a PNG, sampled every
    step pixels."""
    w, h, channels, rows = decode_png(png)
    values, colours = [], set()
    for yy in range(max(0, int(y)), min(h, int(y + height)), step):
        row = rows[yy]
        for xx in range(max(0, int(x)), min(w, int(x + width)), step):
            r, g, b = row[xx * channels:xx * channels + 3]
            values.append((299 * r + 587 * g + 114 * b) / 1000)
            colours.add((r >> 4, g >> 4, b >> 4))
    if not values:
        return 0.0, 0.0, 0
    mean = sum(values) / len(values)
    return mean, sum((v - mean) ** 2 for v in values) / len(values), len(colours)


# ---- icecam's own processes ------------------------------------------------------------------

class Process:
    """A command whose output goes to a file; stopped (SIGINT, then SIGKILL) by stop()."""

    def __init__(self, argv, log_path, prefix=(), env=None):
        self.argv = list(prefix) + list(argv)
        self.log_path = log_path
        self.log = open(log_path, 'w', encoding='utf-8')
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT, env=env)

    def text(self):
        with open(self.log_path, encoding='utf-8', errors='replace') as f:
            return f.read()

    async def wait_for(self, pattern, timeout):
        """The first match of regex pattern in the output, or None at the timeout."""
        deadline = time.monotonic() + timeout
        while True:
            match = re.search(pattern, self.text(), re.M)
            if match or time.monotonic() > deadline or self.proc.poll() is not None:
                return match or re.search(pattern, self.text(), re.M)
            await asyncio.sleep(0.05)

    def stop(self, sig=signal.SIGINT):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


# ---- a network of one's own ------------------------------------------------------------------

ISOLATED_ENV = 'ICECAM_BROWSER_ISOLATED'


def isolate_network(script):
    """Runs script again (same arguments) in a network namespace of its own, and returns its
    exit status; inside that namespace (the second run) sets the network up and returns None.
    77 (skip) where no namespace can be made (not root, no unshare).

    The namespace has lo and a LAN interface (one end of a veth pair whose other end is here
    too) with a default route to nobody: Chromium gathers no candidate without a default
    route, and its mDNS responder needs a non-loopback interface that multicasts (without one
    it drops the host candidates it cannot hide). Chromium's mDNS announcements, like
    everything else the run sends, stay in the namespace, and parallel runs cannot meet.
    """
    if os.environ.get(ISOLATED_ENV) == '1':
        for argv in (['sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1'],
                     ['ip', 'link', 'set', 'lo', 'up'],
                     ['ip', 'link', 'add', 'iclan0', 'type', 'veth', 'peer', 'name', 'iclan1'],
                     ['ip', 'addr', 'add', '10.213.0.1/24', 'dev', 'iclan0'],
                     ['ip', 'link', 'set', 'iclan1', 'up'],
                     ['ip', 'link', 'set', 'iclan0', 'up'],
                     ['ip', 'route', 'add', 'default', 'via', '10.213.0.2', 'dev', 'iclan0']):
            subprocess.run(argv, check=True)
        return None
    if shutil.which('unshare') is None or os.geteuid() != 0:
        print('1..0 # SKIP needs root and unshare for a network namespace of its own')
        return 77
    env = dict(os.environ, **{ISOLATED_ENV: '1'})
    return subprocess.run(['unshare', '--net', sys.executable, os.path.abspath(script),
                           *sys.argv[1:]], env=env).returncode


# ---- Firefox, over WebDriver BiDi ------------------------------------------------------------

# Quiet and offline-minded prefs; the network namespace keeps it in anyway.
FIREFOX_PREFS = {
    'media.peerconnection.ice.loopback': True,       # like --allow-loopback-in-peer-connection
    'media.peerconnection.ice.obfuscate_host_addresses': True,   # mDNS host candidates, as shipped
    'media.autoplay.default': 0,
    'app.update.enabled': False,
    'app.normandy.enabled': False,
    'datareporting.policy.dataSubmissionEnabled': False,
    'toolkit.telemetry.enabled': False,
    'browser.shell.checkDefaultBrowser': False,
    'media.gmp-manager.url': 'http://127.0.0.1:1/',   # asks nobody for plugins
    'services.settings.server': 'http://127.0.0.1:1/',
    'network.captive-portal-service.enabled': False,
}


class Firefox:
    """Headless firefox-esr with a throw-away profile, driven over WebDriver BiDi.

    `async with Firefox() as ff:` starts it and opens a BiDi session; ff.navigate(url) and
    ff.evaluate(expression) act on its first tab.
    """

    def __init__(self, executable='firefox-esr'):
        self.executable = executable
        self.proc = None
        self.profile = None
        self.ws = None
        self.next_id = 0
        self.context = None
        self.version = None

    async def __aenter__(self):
        try:
            await self._start()
        except BaseException:
            await self.__aexit__(None, None, None)
            raise
        return self

    async def _start(self):
        self.profile = tempfile.mkdtemp(prefix='icecam-firefox.')
        with open(os.path.join(self.profile, 'user.js'), 'w', encoding='utf-8') as f:
            for name, value in FIREFOX_PREFS.items():
                f.write(f'user_pref({json.dumps(name)}, {json.dumps(value)});\n')
        self.proc = subprocess.Popen(
            [self.executable, '--headless', '--no-remote', '--profile', self.profile,
             '--remote-debugging-port', '0', 'about:blank'],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            start_new_session=True)
        loop = asyncio.get_running_loop()
        deadline = time.monotonic() + 60
        url = None
        while url is None and time.monotonic() < deadline:
            line = await loop.run_in_executor(None, self.proc.stderr.readline)
            if not line:
                break
            match = re.search(r'WebDriver BiDi listening on (ws://\S+)', line.decode('utf-8', 'replace'))
            if match:
                url = match.group(1)
        if url is None:
            raise RuntimeError('firefox did not listen for WebDriver BiDi')
        # Keep reading its stderr so that it never blocks on a full pipe.
        threading.Thread(target=lambda: [None for _ in self.proc.stderr], daemon=True).start()
        self.ws = await websockets.connect(url + '/session', max_size=None, ping_interval=None)
        reply = await self.call('session.new', {'capabilities': {}})
        self.version = reply.get('capabilities', {}).get('browserVersion')
        tree = await self.call('browsingContext.getTree', {})
        self.context = tree['contexts'][0]['context']

    async def call(self, method, params, timeout=30):
        self.next_id += 1
        mine = self.next_id
        await self.ws.send(json.dumps({'id': mine, 'method': method, 'params': params}))
        deadline = time.monotonic() + timeout
        while True:
            message = json.loads(await asyncio.wait_for(self.ws.recv(),
                                                        max(0.1, deadline - time.monotonic())))
            if message.get('id') != mine:
                continue   # events
            if message.get('type') == 'error':
                raise CdpError(f'{method}: {message.get("error")}: {message.get("message")}')
            return message.get('result', {})

    async def navigate(self, url):
        await self.call('browsingContext.navigate',
                        {'context': self.context, 'url': url, 'wait': 'complete'})

    async def evaluate(self, expression):
        """The value of expression, which must give a string, number, boolean or null (wrap
        anything else in JSON.stringify)."""
        reply = await self.call('script.evaluate',
                                {'expression': expression, 'target': {'context': self.context},
                                 'awaitPromise': True, 'resultOwnership': 'none'})
        if reply.get('type') == 'exception':
            raise CdpError(reply.get('exceptionDetails', {}).get('text', 'exception'))
        return reply.get('result', {}).get('value')

    async def __aexit__(self, *exc):
        if self.ws is not None:
            try:
                await self.call('session.end', {}, timeout=3)
            except (CdpError, asyncio.TimeoutError, websockets.ConnectionClosed):
                pass
            await self.ws.close()
            self.ws = None
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                await asyncio.get_running_loop().run_in_executor(
                    None, functools.partial(self.proc.wait, 5))
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc = None
        if self.profile is not None:
            shutil.rmtree(self.profile, ignore_errors=True)
            self.profile = None
