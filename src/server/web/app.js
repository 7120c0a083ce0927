// SPDX-License-Identifier: LGPL-2.1-or-later
// icecam's web viewer (served by icecam-rendezvous at / and /view/CAMERA; src/server/web/).
// It is a viewer of signalling protocol v1 (docs/protocol.md) on the rendezvous' own WebSocket:
// hello as a viewer, the cameras from presence, watch, answer the camera's offer with
// RTCPeerConnection (max-bundle), trickle candidates both ways. Like icecam-view it answers and
// sends pings, asks for an ICE restart while the media is stalled, and watches again when the
// camera comes back. The token (where the rendezvous requires one) comes from the URL fragment
// (#token=...) or the paste field, and goes only into hello: never into a request line.
//
// window.icecam.snapshot() returns the page's state for tests and benchmarks
// (tests/browser/, bench/browser-webapp.sh).
'use strict';

(() => {
  const FEATURES = ['ping', 'restart', 'ice-servers'];
  const ID_RE = /^[A-Za-z0-9._-]{1,64}$/;
  const TICK_MS = 500;              // stats, stall and ping checks
  const MEDIA_TIMEOUT_MS = 1500;    // no media this long: stalled (as icecam-view)
  const RESTART_INTERVAL_MS = 2000; // restart requests while stalled (as icecam-view)
  const REWATCH_AFTER_MS = 10000;   // stalled this long: a new session
  const PING_IDLE_MS = 15000;       // ping the rendezvous after this long without a word
  const PONG_TIMEOUT_MS = 3000;     // no pong this long: the connection is dead
  const RECONNECT_MIN_MS = 250;
  const RECONNECT_MAX_MS = 8000;

  const $ = (id) => document.getElementById(id);
  const ui = {
    connection: $('connection'), cameras: $('cameras'), tokenForm: $('token-form'),
    token: $('token'), notice: $('notice'), player: $('player'), video: $('video'),
    overlay: $('overlay'), status: $('player-status'), fullscreen: $('fullscreen'),
    mute: $('mute'),
  };

  // ---- where we are ------------------------------------------------------------------------

  // The path the app is served under: '/' or, behind a proxy, a prefix ('/cams/').
  function basePath() {
    const path = location.pathname;
    const view = path.lastIndexOf('/view/');
    return view >= 0 ? path.slice(0, view + 1) : path.replace(/[^/]*$/, '');
  }

  function cameraFromPath() {
    const match = location.pathname.match(/\/view\/([^/]+)$/);
    if (!match)
      return null;
    try {
      const id = decodeURIComponent(match[1]);
      return ID_RE.test(id) ? id : null;
    } catch (e) {
      return null;
    }
  }

  function tokenFromFragment() {
    const token = new URLSearchParams(location.hash.slice(1)).get('token');
    return token ? token.trim() : null;
  }

  function websocketUrl() {
    return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${basePath()}ws`;
  }

  // Why this browser cannot watch, or null.
  function browserProblem() {
    if (typeof RTCPeerConnection === 'undefined')
      return 'This browser has no WebRTC (RTCPeerConnection): it cannot play icecam cameras.';
    if (typeof RTCRtpReceiver !== 'undefined' && RTCRtpReceiver.getCapabilities) {
      const caps = RTCRtpReceiver.getCapabilities('video');
      if (caps && !caps.codecs.some((c) => c.mimeType.toLowerCase() === 'video/h264'))
        return 'This browser cannot decode H.264 video, which icecam cameras send, so it ' +
          'cannot play them. Use a browser with H.264 (Chromium, Chrome, Edge, Safari, or ' +
          'Firefox with its OpenH264 plugin).';
    }
    return null;
  }

  // ---- state -------------------------------------------------------------------------------

  const app = {
    ws: null,
    connection: 'connecting',   // connecting, online, offline, unauthorized
    welcome: null,              // the latest welcome
    viewerId: null,
    resume: null,
    serverFeatures: [],
    reconnectMs: RECONNECT_MIN_MS,
    reconnectTimer: null,
    lastHeard: 0,
    pongDue: 0,
    cameras: [],
    wanted: cameraFromPath(),
    token: tokenFromFragment(),
    watch: null,                // the session being watched, see newWatch()
    failures: 0,                // sessions in a row that ended before a frame
    retryAt: 0,
    problem: browserProblem(),
    notice: null,
    errors: [],                 // every error and bye the page was given, for tests
    watches: 0,
  };

  function newWatch(camera) {
    return {
      camera, state: 'asking', session: null, pc: null, mid: null, remoteSet: false, pending: [],
      chain: Promise.resolve(), detached: false, clickAt: performance.now(), firstFrameAt: null,
      lastProgressAt: performance.now(), lastBytes: -1, lastStatsAt: 0, stalledSince: 0,
      lastRestartAt: 0, restarts: 0, stats: null, bundlePolicy: null, closed: false,
    };
  }

  // ---- messages ----------------------------------------------------------------------------

  function send(message) {
    if (app.ws !== null && app.ws.readyState === WebSocket.OPEN) {
      app.ws.send(JSON.stringify(message));
      return true;
    }
    return false;
  }

  function showNotice(text, kind = 'error') {
    app.notice = text;
    ui.notice.textContent = text ?? '';
    ui.notice.className = kind;
    ui.notice.hidden = text === null;
  }

  function setStatus(text) {
    ui.status.textContent = text;
  }

  // A session's one state, shown to the user in the status line:
  //   asking      watch sent, no session yet
  //   offering    session given, waiting for the camera's offer
  //   connecting  answered, ICE and DTLS under way
  //   connected   connected, no picture yet
  //   playing     frames arrive
  //   stalled     no media for MEDIA_TIMEOUT_MS: pinging, asking for an ICE restart
  //   detached    the camera's signalling connection went (bye peer-left); media may go on
  function setWatchState(watch, state, text) {
    if (watch.state === state)
      return;
    console.debug(`icecam: ${watch.camera} ${watch.session ?? ''}: ${watch.state} -> ${state}`);
    watch.state = state;
    setStatus(`${watch.camera}: ${text}`);
  }

  function setConnection(state) {
    app.connection = state;
    ui.connection.textContent = state;
    ui.connection.className = `badge ${state === 'online' ? 'online' : state === 'connecting' ? '' : 'offline'}`;
  }

  function connect() {
    clearTimeout(app.reconnectTimer);
    app.reconnectTimer = null;
    setConnection('connecting');
    let ws;
    try {
      ws = new WebSocket(websocketUrl());
    } catch (e) {
      showNotice(`Cannot open the signalling connection: ${e.message}`);
      return;
    }
    app.ws = ws;
    app.pongDue = 0;
    ws.addEventListener('open', () => {
      const hello = { type: 'hello', version: 1, role: 'viewer', features: FEATURES };
      if (app.token)
        hello.token = app.token;
      if (app.resume && app.viewerId) {
        hello.resume = app.resume;
        hello.id = app.viewerId;
      }
      send(hello);
    });
    ws.addEventListener('message', (event) => {
      if (ws !== app.ws)
        return;
      app.lastHeard = performance.now();
      let msg;
      try {
        msg = JSON.parse(event.data);
      } catch (e) {
        return;
      }
      if (msg !== null && typeof msg === 'object' && typeof msg.type === 'string')
        onMessage(msg);
    });
    ws.addEventListener('close', (event) => {
      if (ws !== app.ws)
        return;
      app.ws = null;
      if (app.connection === 'unauthorized')
        return;   // no point trying again with the same token
      setConnection('offline');
      if (event.code === 4001) {
        showNotice('Another page took over this viewer\'s connection.');
        return;
      }
      app.reconnectTimer = setTimeout(connect, app.reconnectMs);
      app.reconnectMs = Math.min(app.reconnectMs * 2, RECONNECT_MAX_MS);
    });
  }

  function reconnectNow() {
    if (app.ws !== null) {
      const ws = app.ws;
      app.ws = null;
      ws.close();
    }
    connect();
  }

  function noteError(text) {
    app.errors.push(text);
    if (app.errors.length > 50)
      app.errors.shift();
  }

  function onMessage(msg) {
    switch (msg.type) {
      case 'challenge':
      case 'pong':
        if (msg.type === 'pong')
          app.pongDue = 0;
        break;
      case 'ping':
        send({ type: 'pong' });
        break;
      case 'welcome':
        onWelcome(msg);
        break;
      case 'presence':
        app.cameras = (Array.isArray(msg.cameras) ? msg.cameras : [])
          .map((c) => c && c.id).filter((id) => typeof id === 'string' && ID_RE.test(id));
        renderCameras();
        maybeWatch();
        break;
      case 'session':
        onSession(msg);
        break;
      case 'offer':
        if (forWatch(msg) && typeof msg.sdp === 'string')
          queue(app.watch, () => onOffer(app.watch, msg.sdp));
        break;
      case 'candidate':
      case 'end-of-candidates':
        if (forWatch(msg)) {
          const candidate = msg.type === 'candidate' ? String(msg.candidate) : null;
          queue(app.watch, () => onRemoteCandidate(app.watch, candidate));
        }
        break;
      case 'ice-servers':
        if (forWatch(msg) && Array.isArray(msg.ice_servers))
          app.watch.iceServers = msg.ice_servers;
        break;
      case 'bye':
        noteError(`bye ${msg.code ?? ''} ${msg.reason ?? ''}`.trim());
        if (forWatch(msg))
          onBye(msg);
        break;
      case 'error':
        onError(msg);
        break;
      default:
        break;
    }
  }

  function forWatch(msg) {
    return app.watch !== null && app.watch.session !== null && msg.session === app.watch.session;
  }

  function onWelcome(msg) {
    if (msg.version !== 1) {
      showNotice(`The rendezvous speaks protocol version ${msg.version}; this page speaks 1.`);
      setConnection('offline');
      app.connection = 'unauthorized';   // do not retry
      app.ws.close();
      return;
    }
    app.welcome = msg;
    app.viewerId = msg.id;
    app.resume = msg.resume ?? null;
    app.serverFeatures = Array.isArray(msg.features) ? msg.features : [];
    app.reconnectMs = RECONNECT_MIN_MS;
    setConnection('online');
    if (app.notice !== null && !app.problem)
      showNotice(null);
    if (!msg.resumed && app.watch !== null && app.watch.session !== null)
      endWatch(null);   // the server forgot our session; watch again once the camera is listed
  }

  function onError(msg) {
    const text = `${msg.code}: ${msg.message}`;
    noteError(`error ${text}`);
    if (msg.code === 'unauthorized') {
      if (app.watch !== null && app.watch.session === null && app.connection === 'online') {
        // The token does not grant this camera: asking again would not help.
        showNotice(`Not allowed to watch ${app.watch.camera}: ${msg.message}`);
        app.wanted = null;
        endWatch(null, true);
        renderCameras();
        return;
      }
      setConnection('unauthorized');
      showNotice(app.token
        ? `The rendezvous refused this access token: ${msg.message}`
        : 'This rendezvous needs an access token: paste it below, or open the link that ' +
          'ends in #token=…');
      return;
    }
    if (app.watch !== null && app.watch.session === null &&
        (msg.code === 'unknown-camera' || msg.code === 'limit-exceeded')) {
      setStatus(`${app.watch.camera}: ${msg.message}`);
      endWatch(null, true);
      return;
    }
    if (msg.session !== undefined && forWatch(msg) && msg.code === 'unknown-session') {
      endWatch(null, true);
      return;
    }
    showNotice(`The rendezvous said ${text}`);
  }

  // ---- the camera list ---------------------------------------------------------------------

  function renderCameras() {
    const list = ui.cameras;
    list.replaceChildren();
    if (app.cameras.length === 0) {
      const li = document.createElement('li');
      li.className = 'empty';
      li.textContent = 'none online';
      list.append(li);
    }
    for (const id of app.cameras) {
      const li = document.createElement('li');
      const button = document.createElement('button');
      button.type = 'button';
      button.textContent = id;
      button.dataset.camera = id;
      button.setAttribute('aria-pressed', String(id === app.wanted));
      button.addEventListener('click', () => choose(id));
      li.append(button);
      list.append(li);
    }
  }

  function choose(camera) {
    if (app.watch !== null && app.watch.camera !== camera)
      endWatch('closed');
    app.wanted = camera;
    app.failures = 0;
    app.retryAt = 0;
    const url = `${basePath()}view/${encodeURIComponent(camera)}${location.hash}`;
    if (location.pathname !== url.replace(/#.*$/, ''))
      history.pushState(null, '', url);
    renderCameras();
    if (app.watch === null)
      maybeWatch(true);
  }

  // ---- sessions ----------------------------------------------------------------------------

  function maybeWatch(clicked = false) {
    if (app.problem !== null || app.wanted === null || app.connection !== 'online')
      return;
    if (!app.cameras.includes(app.wanted)) {
      if (app.watch === null)
        setStatus(`${app.wanted} is offline; it plays as soon as it is back`);
      return;
    }
    if (app.watch !== null || (!clicked && performance.now() < app.retryAt))
      return;
    app.watch = newWatch(app.wanted);
    app.watches++;
    setStatus(`${app.wanted}: asking the camera`);   // state 'asking'
    send({ type: 'watch', camera: app.wanted });
  }

  // Ends the current session (saying bye with code if given) and watches again when it may.
  function endWatch(code, failed = false) {
    const watch = app.watch;
    if (watch === null)
      return;
    app.watch = null;
    watch.closed = true;
    if (code !== null && watch.session !== null)
      send({ type: 'bye', session: watch.session, code });
    if (watch.pc !== null)
      watch.pc.close();
    if (ui.video.srcObject !== null)
      ui.video.srcObject = null;
    ui.mute.hidden = true;
    ui.overlay.textContent = '';
    if (failed || watch.firstFrameAt === null)
      app.failures++;
    else
      app.failures = 0;
    const delay = app.failures === 0 ? 0 : Math.min(500 * 2 ** (app.failures - 1), 10000);
    app.retryAt = performance.now() + delay;
    if (delay > 0)
      setTimeout(() => maybeWatch(), delay + 10);
    else
      setTimeout(() => maybeWatch(), 0);
  }

  function queue(watch, step) {
    watch.chain = watch.chain.then(() => (watch.closed ? undefined : step()))
      .catch((e) => console.warn('icecam:', e));
  }

  function onSession(msg) {
    const watch = app.watch;
    if (watch === null || watch.session !== null || msg.camera !== watch.camera) {
      send({ type: 'bye', session: msg.session, code: 'closed' });
      return;
    }
    watch.session = msg.session;
    watch.iceServers = Array.isArray(msg.ice_servers) && msg.ice_servers.length > 0
      ? msg.ice_servers.concat(app.welcome.ice_servers ?? [])
      : (app.welcome.ice_servers ?? []);
    setWatchState(watch, 'offering', "waiting for the camera's offer");
  }

  // Made at the offer: max-bundle (what web apps set) when the offer has a BUNDLE group, as
  // cameras since it was added do; balanced for older ones, which Chromium refuses otherwise.
  function createPeerConnection(watch, offer) {
    const bundle = /^a=group:BUNDLE /m.test(offer);
    const config = { iceServers: watch.iceServers, bundlePolicy: bundle ? 'max-bundle' : 'balanced' };
    if (new URLSearchParams(location.hash.slice(1)).get('relay') === 'only')
      config.iceTransportPolicy = 'relay';
    const pc = new RTCPeerConnection(config);
    watch.bundlePolicy = pc.getConfiguration().bundlePolicy;
    pc.addEventListener('icecandidate', (e) => {
      if (watch.closed)
        return;
      if (e.candidate === null)
        send({ type: 'end-of-candidates', session: watch.session });
      else if (e.candidate.candidate !== '')
        send({ type: 'candidate', session: watch.session, candidate: e.candidate.candidate });
    });
    pc.addEventListener('track', (e) => {
      // The camera's audio and video share one stream (one msid): the <video> plays both.
      const current = ui.video.srcObject;
      if (e.track.kind === 'audio') {
        ui.mute.hidden = false;
        if (current instanceof MediaStream) {
          if (!current.getTracks().includes(e.track))
            current.addTrack(e.track);
          return;
        }
      }
      const stream = e.streams[0] ?? new MediaStream([e.track]);
      if (current !== stream)
        ui.video.srcObject = stream;
      ui.video.play().catch(() => {});
      if (e.track.kind === 'audio')
        return;
      const onFrame = (now, meta) => {
        if (watch.closed)
          return;
        if (watch.firstFrameAt === null) {
          watch.firstFrameAt = meta.presentationTime ?? now;
          app.failures = 0;
          setWatchState(watch, 'playing', 'playing');
        }
      };
      if (ui.video.requestVideoFrameCallback)
        ui.video.requestVideoFrameCallback(onFrame);
      else
        ui.video.addEventListener('playing', () => onFrame(performance.now(), {}), { once: true });
    });
    pc.addEventListener('connectionstatechange', () => {
      if (watch.closed)
        return;
      if (pc.connectionState === 'failed' && !watch.detached)
        requestRestart(watch);
      if (pc.connectionState === 'connected' && watch.firstFrameAt === null)
        setWatchState(watch, 'connected', 'connected, waiting for a picture');
    });
    return pc;
  }

  // The a=mid of the offer's first media section (what trickled candidates refer to).
  function firstMid(sdp) {
    const lines = sdp.split(/\r?\n/);
    const m = lines.findIndex((l) => l.startsWith('m='));
    for (let i = m + 1; m >= 0 && i < lines.length && !lines[i].startsWith('m='); i++)
      if (lines[i].startsWith('a=mid:'))
        return lines[i].slice(6).trim();
    return null;
  }

  async function onOffer(watch, sdp) {
    try {
      watch.mid = firstMid(sdp);
      if (watch.detached) {
        // The camera came back with its session (resume) and restarts ICE in it.
        watch.detached = false;
        setWatchState(watch, 'connecting', 'the camera is back, reconnecting');
      }
      if (watch.pc === null) {
        watch.pc = createPeerConnection(watch, sdp);
        setWatchState(watch, 'connecting', 'connecting');
      }
      await watch.pc.setRemoteDescription({ type: 'offer', sdp });
      await watch.pc.setLocalDescription(await watch.pc.createAnswer());
      if (watch.closed)
        return;
      send({ type: 'answer', session: watch.session, sdp: watch.pc.localDescription.sdp });
      if (!watch.remoteSet) {
        watch.remoteSet = true;
        for (const candidate of watch.pending)
          await addCandidate(watch, candidate);
        watch.pending = [];
      }
    } catch (e) {
      if (watch.closed)
        return;
      const text = `This browser refused the camera's offer: ${e.message}`;
      noteError(`offer ${e.message}`);
      showNotice(`${watch.camera}: ${text}`);
      send({ type: 'bye', session: watch.session, code: 'refused', reason: text.slice(0, 500) });
      watch.session = null;
      endWatch(null, true);
    }
  }

  async function addCandidate(watch, candidate) {
    try {
      await watch.pc.addIceCandidate(candidate === null
        ? null : { candidate, sdpMid: watch.mid ?? '0', sdpMLineIndex: 0 });
    } catch (e) {
      // A candidate this browser cannot use (another generation, a name it cannot
      // resolve): the others carry the session.
      console.debug('icecam: candidate ignored:', candidate, e.message);
    }
  }

  async function onRemoteCandidate(watch, candidate) {
    if (watch.remoteSet)
      await addCandidate(watch, candidate);
    else
      watch.pending.push(candidate);
  }

  function onBye(msg) {
    const watch = app.watch;
    if (msg.code === 'peer-left') {
      // The camera's signalling connection went; its media may go on, and its session
      // routes again if it comes back in time. Keep playing while it plays.
      watch.detached = true;
      setWatchState(watch, 'detached', 'the camera left the rendezvous');
      return;
    }
    setStatus(`${watch.camera}: the camera ended the session` +
      (msg.reason ? ` (${msg.reason})` : ''));
    endWatch(null, msg.code === 'full' || msg.code === 'refused' || msg.code === 'failed');
  }

  function requestRestart(watch) {
    const now = performance.now();
    if (watch.detached || now - watch.lastRestartAt < RESTART_INTERVAL_MS)
      return;
    if (!app.serverFeatures.includes('restart'))
      return;
    watch.lastRestartAt = now;
    watch.restarts++;
    send({ type: 'restart', session: watch.session });
  }

  // ---- statistics, stalls and pings --------------------------------------------------------

  async function readStats(watch) {
    const report = await watch.pc.getStats();
    const stats = { time: performance.now() };
    let transport = null;
    let selected = null;
    report.forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video') {
        for (const n of ['packetsReceived', 'packetsLost', 'bytesReceived', 'framesDecoded',
          'keyFramesDecoded', 'framesPerSecond', 'frameWidth', 'frameHeight', 'pliCount',
          'nackCount', 'firCount', 'framesDropped', 'freezeCount', 'totalFreezesDuration',
          'retransmittedPacketsReceived'])
          if (s[n] !== undefined)
            stats[n] = s[n];
        const codec = report.get(s.codecId);
        if (codec)
          stats.codec = `${codec.mimeType} ${codec.sdpFmtpLine ?? ''}`.trim();
      } else if (s.type === 'inbound-rtp' && s.kind === 'audio') {
        stats.audioPacketsReceived = s.packetsReceived;
        stats.audioSamplesReceived = s.totalSamplesReceived;
      } else if (s.type === 'transport' && transport === null) {
        transport = s;
      } else if (s.type === 'candidate-pair' && s.selected) {
        selected = s;   // Firefox marks the pair; Chromium names it from the transport
      }
    });
    if (transport !== null) {
      stats.dtlsState = transport.dtlsState;
      if (transport.selectedCandidatePairId)
        selected = report.get(transport.selectedCandidatePairId) ?? selected;
    }
    if (selected) {
      const local = report.get(selected.localCandidateId);
      const remote = report.get(selected.remoteCandidateId);
      stats.pair = {
        local: local ? local.candidateType : '?',
        remote: remote ? remote.candidateType : '?',
        protocol: local ? local.protocol : '?',
        relayProtocol: local ? local.relayProtocol : undefined,
        localAddress: local ? `${local.address}:${local.port}` : undefined,
        remoteAddress: remote ? `${remote.address}:${remote.port}` : undefined,
      };
      if (selected.currentRoundTripTime !== undefined)
        stats.rttMs = selected.currentRoundTripTime * 1000;
    }
    return stats;
  }

  function showStats(watch, stats, previous) {
    const lines = [];
    if (stats.pair) {
      const relay = stats.pair.relayProtocol ? ` (relay over ${stats.pair.relayProtocol})` : '';
      lines.push(`pair    ${stats.pair.local} → ${stats.pair.remote}, ${stats.pair.protocol}${relay}`);
    }
    if (previous && previous.bytesReceived !== undefined && stats.bytesReceived !== undefined) {
      const seconds = (stats.time - previous.time) / 1000;
      const kbit = ((stats.bytesReceived - previous.bytesReceived) * 8) / 1000 / seconds;
      stats.kbitPerSecond = kbit;
      const fps = stats.framesPerSecond ??
        ((stats.framesDecoded - previous.framesDecoded) / seconds);
      lines.push(`rate    ${kbit.toFixed(0)} kbit/s, ${Number(fps).toFixed(1)} fps`);
    }
    const rtt = stats.rttMs !== undefined ? `${stats.rttMs.toFixed(1)} ms` : '–';
    lines.push(`rtt     ${rtt}, lost ${stats.packetsLost ?? 0}`);
    if (stats.framesDecoded !== undefined) {
      const size = stats.frameWidth ? `, ${stats.frameWidth}×${stats.frameHeight}` : '';
      lines.push(`frames  ${stats.framesDecoded} (${stats.keyFramesDecoded ?? 0} key)${size}`);
    }
    ui.overlay.textContent = lines.join('\n');
  }

  // One tick at a time: a getStats() slower than the interval must not interleave two.
  let ticking = false;
  async function tick() {
    if (ticking)
      return;
    ticking = true;
    try {
      await checkOnce();
    } finally {
      ticking = false;
    }
  }

  async function checkOnce() {
    const now = performance.now();
    // The signalling connection: ping it when it has been quiet, give it up when it does not
    // answer (a new connection takes its place with the resume secret).
    if (app.ws !== null && app.connection === 'online' && app.serverFeatures.includes('ping')) {
      if (app.pongDue !== 0 && now > app.pongDue) {
        app.pongDue = 0;
        reconnectNow();
      } else if (app.pongDue === 0 && now - app.lastHeard > PING_IDLE_MS) {
        pingNow();
      }
    }
    const watch = app.watch;
    if (watch === null || watch.pc === null)
      return;
    let stats;
    try {
      stats = await readStats(watch);
    } catch (e) {
      return;
    }
    if (watch.closed)
      return;
    const previous = watch.stats;
    watch.stats = stats;
    showStats(watch, stats, previous);
    const bytes = stats.bytesReceived ?? 0;
    if (bytes !== watch.lastBytes) {
      watch.lastBytes = bytes;
      watch.lastProgressAt = now;
      if (watch.stalledSince !== 0) {
        watch.stalledSince = 0;
        if (!watch.detached)
          setWatchState(watch, 'playing', 'playing');
      }
      return;
    }
    // Nothing new: once it had played, or the pair is up, a stall.
    if (watch.firstFrameAt === null && watch.pc.connectionState !== 'connected')
      return;
    if (now - watch.lastProgressAt < MEDIA_TIMEOUT_MS)
      return;
    if (watch.stalledSince === 0) {
      watch.stalledSince = now;
      if (!watch.detached)
        setWatchState(watch, 'stalled', 'no video, asking for a new path');
      pingNow();
    }
    if (now - watch.stalledSince > REWATCH_AFTER_MS) {
      endWatch('failed');
      return;
    }
    if (watch.detached) {
      // The camera left; once it is listed again without its session, watch anew.
      if (app.cameras.includes(watch.camera))
        endWatch('closed');
      return;
    }
    requestRestart(watch);
  }

  function pingNow() {
    if (app.pongDue === 0 && app.serverFeatures.includes('ping') && send({ type: 'ping' }))
      app.pongDue = performance.now() + PONG_TIMEOUT_MS;
  }

  // ---- controls ----------------------------------------------------------------------------

  ui.tokenForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const token = ui.token.value.trim();
    ui.token.value = '';
    if (token === '')
      return;
    app.token = token;
    // Kept in the fragment (never sent to a server) so that a reload keeps it.
    const fragment = new URLSearchParams(location.hash.slice(1));
    fragment.set('token', token);
    history.replaceState(null, '', `${location.pathname}#${fragment}`);
    app.resume = null;
    app.viewerId = null;
    if (app.watch !== null)
      endWatch('closed');
    showNotice(null);
    setConnection('connecting');
    reconnectNow();
  });

  // Browsers refuse to autoplay sound: the video starts muted, and a click turns it on.
  ui.mute.addEventListener('click', () => {
    ui.video.muted = !ui.video.muted;
    ui.mute.textContent = ui.video.muted ? 'Unmute' : 'Mute';
    ui.video.play().catch(() => {});
  });

  ui.fullscreen.addEventListener('click', () => {
    if (document.fullscreenElement)
      document.exitFullscreen();
    else if (ui.player.requestFullscreen)
      ui.player.requestFullscreen().catch(() => {});
    else if (ui.video.webkitEnterFullscreen)
      ui.video.webkitEnterFullscreen();   // iOS Safari: the video element only
  });

  window.addEventListener('popstate', () => {
    const camera = cameraFromPath();
    if (camera !== app.wanted) {
      if (app.watch !== null)
        endWatch('closed');
      app.wanted = camera;
      renderCameras();
      maybeWatch(true);
    }
  });

  window.addEventListener('hashchange', () => {
    const token = tokenFromFragment();
    if (token && token !== app.token) {
      app.token = token;
      app.resume = null;
      app.viewerId = null;
      if (app.watch !== null)
        endWatch('closed');
      reconnectNow();
    }
  });

  window.addEventListener('pagehide', () => {
    if (app.watch !== null)
      endWatch('closed');
  });

  // ---- for tests and benchmarks ------------------------------------------------------------

  window.icecam = Object.freeze({
    snapshot() {
      const w = app.watch;
      return {
        connection: app.connection, viewer: app.viewerId, cameras: app.cameras.slice(),
        wanted: app.wanted, notice: app.notice, problem: app.problem, errors: app.errors.slice(),
        watches: app.watches, overlay: ui.overlay.textContent, status: ui.status.textContent,
        watch: w === null ? null : {
          camera: w.camera, state: w.state, session: w.session, clickAt: w.clickAt,
          firstFrameAt: w.firstFrameAt,
          detached: w.detached, restarts: w.restarts, bundlePolicy: w.bundlePolicy,
          connectionState: w.pc ? w.pc.connectionState : null, stats: w.stats,
        },
      };
    },
    videoRect() {
      const r = ui.video.getBoundingClientRect();
      return { x: r.x, y: r.y, width: r.width, height: r.height,
        videoWidth: ui.video.videoWidth, videoHeight: ui.video.videoHeight,
        scale: window.devicePixelRatio };
    },
  });

  // ---- start -------------------------------------------------------------------------------

  if (app.problem !== null) {
    showNotice(app.problem);
    setStatus('This browser cannot play icecam cameras');
  } else if (app.wanted !== null) {
    setStatus(`${app.wanted}: waiting for the camera list`);
  }
  renderCameras();
  setInterval(tick, TICK_MS);
  connect();
})();
