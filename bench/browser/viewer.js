// SPDX-License-Identifier: LGPL-2.1-or-later
// Watches one icecam camera with RTCPeerConnection (signalling protocol v1, docs/protocol.md)
// and times each step to the first frame, for bench/browser-ttff.py.
//
// Query string: rendezvous (ws:// URL of the rendezvous, required), camera (its id, required),
// name (the viewer's preferred id; default "browser"), hold (ms to keep playing after the first
// frame before the statistics are read; default 1000), timeout (ms from the page's start to
// give up; default 10000).
//
// window.icecamViewer.result: a promise that always resolves (never rejects), to
//   { camera, viewer, session, error (null or text), times: { event: ms }, stats, log: [text] }
// times are performance.now() values (ms since the navigation started), each the first time
// the event happened:
//   start            this script runs (the page's start)
//   welcome, session, offer, answer (sent)
//   ice-<state>      pc.iceConnectionState, e.g. ice-connected
//   pair             the ICE transport's first selected candidate pair
//   dtls-<state>     the receiver's RTCDtlsTransport state, e.g. dtls-connected
//   connection-<state>  pc.connectionState
//   track, frame     the first video frame presented (requestVideoFrameCallback's
//                    presentationTime); frame-callback: that callback's own time;
//                    frame-received: when the last packet of that frame arrived
// stats: what getStats() said when the result was taken (inbound video, DTLS transport,
// selected pair).
// window.icecamViewer.stop(): says bye, closes the peer connection and the WebSocket; the
// promise it returns resolves once the WebSocket is closed (the bye sent), or after 1 s.
'use strict';

window.icecamViewer = (() => {
  const start = performance.now();
  const params = new URLSearchParams(location.search);
  const rendezvous = params.get('rendezvous');
  const camera = params.get('camera');
  const name = params.get('name') ?? 'browser';
  const holdMs = Number(params.get('hold') ?? 1000);
  const timeoutMs = Number(params.get('timeout') ?? 10000);
  const bundlePolicy = params.get('bundle') ?? 'balanced';

  const result = {
    camera, viewer: null, session: null, error: null, times: { start }, stats: null, log: [],
    userAgent: navigator.userAgent,
  };
  const video = document.getElementById('video');
  const statusText = document.getElementById('status');
  let ws = null;
  let pc = null;
  let iceServers = [];
  let mid = null;              // the a=mid of the offer's one media section
  let remoteSet = false;
  let pending = [];            // remote candidates before the offer; null: end-of-candidates
  let watchedDtls = null;
  let done = false;
  let resolveResult;
  const resultPromise = new Promise((resolve) => { resolveResult = resolve; });

  function log(text) {
    const line = `${(performance.now() - start).toFixed(1)} ${text}`;
    result.log.push(line);
    statusText.textContent += line + '\n';
  }

  function mark(event, time = performance.now()) {
    if (!(event in result.times))
      result.times[event] = time;
  }

  function send(message) {
    if (ws !== null && ws.readyState === WebSocket.OPEN)
      ws.send(JSON.stringify(message));
  }

  function pick(source, names) {
    const out = {};
    for (const n of names)
      if (source[n] !== undefined)
        out[n] = source[n];
    return out;
  }

  function describeCandidate(c) {
    return c ? `${c.candidateType} ${c.protocol} ${c.address}:${c.port}` : null;
  }

  async function collectStats() {
    const report = await pc.getStats();
    const stats = {};
    let transport = null;
    report.forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video') {
        stats.inbound = pick(s, ['packetsReceived', 'packetsLost', 'nackCount', 'pliCount',
          'firCount', 'framesReceived', 'framesDecoded', 'keyFramesDecoded', 'framesDropped',
          'frameWidth', 'frameHeight', 'framesPerSecond', 'decoderImplementation']);
        const codec = report.get(s.codecId);
        if (codec)
          stats.inbound.codec = `${codec.mimeType} ${codec.sdpFmtpLine ?? ''}`.trim();
      } else if (s.type === 'remote-outbound-rtp' && s.kind === 'video') {
        // From the camera's RTCP sender reports.
        stats.remoteOutbound = pick(s, ['reportsSent', 'packetsSent', 'bytesSent',
          'remoteTimestamp']);
      } else if (s.type === 'transport') {
        transport = s;
      }
    });
    if (transport !== null) {
      stats.transport = pick(transport, ['dtlsState', 'dtlsRole', 'tlsVersion', 'dtlsCipher',
        'srtpCipher', 'iceRole', 'iceState', 'selectedCandidatePairChanges']);
      const pair = report.get(transport.selectedCandidatePairId);
      if (pair) {
        stats.pair = {
          local: describeCandidate(report.get(pair.localCandidateId)),
          remote: describeCandidate(report.get(pair.remoteCandidateId)),
          nominated: pair.nominated,
          rtt: pair.currentRoundTripTime,
        };
      }
    }
    return stats;
  }

  async function finish(error) {
    if (done)
      return;
    done = true;
    if (error !== null) {
      result.error = error;
      log(`error: ${error}`);
    }
    if (pc !== null) {
      try {
        result.stats = await collectStats();
      } catch (e) {
        log(`getStats: ${e}`);
      }
    }
    resolveResult(result);
  }

  function stop() {
    const closed = new Promise((resolve) => {
      if (ws === null || ws.readyState === WebSocket.CLOSED)
        resolve();
      else
        ws.addEventListener('close', () => resolve());
      setTimeout(resolve, 1000);
    });
    if (result.session !== null)
      send({ type: 'bye', session: result.session, code: 'closed' });
    if (pc !== null)
      pc.close();
    if (ws !== null)
      ws.close(1000);
    finish('stopped');
    return closed;
  }

  // The a=mid of the first (the only) media section, which trickled candidates refer to.
  function firstMid(sdp) {
    const lines = sdp.split(/\r?\n/);
    const m = lines.findIndex((l) => l.startsWith('m='));
    if (m < 0)
      return null;
    for (const l of lines.slice(m + 1)) {
      if (l.startsWith('m='))
        break;
      if (l.startsWith('a=mid:'))
        return l.slice(6).trim();
    }
    return null;
  }

  // candidate: the protocol's candidate attribute value, or null for end-of-candidates.
  async function addRemoteCandidate(candidate) {
    try {
      await pc.addIceCandidate({ candidate: candidate ?? '', sdpMid: mid, sdpMLineIndex: 0 });
    } catch (e) {
      log(`addIceCandidate(${candidate}): ${e}`);
    }
  }

  // The receiver's DTLS and ICE transports exist once a description is applied.
  function watchTransports() {
    const receiver = pc.getReceivers()[0];
    const dtls = receiver ? receiver.transport : null;
    if (!dtls || dtls === watchedDtls)
      return;
    watchedDtls = dtls;
    const onDtlsState = () => {
      mark(`dtls-${dtls.state}`);
      log(`dtls ${dtls.state}`);
      if (dtls.state === 'failed')
        finish('DTLS failed');
    };
    dtls.addEventListener('statechange', onDtlsState);
    dtls.addEventListener('error', (e) => log(`dtls error: ${e.error ? e.error.message : e}`));
    onDtlsState();
    const ice = dtls.iceTransport;
    ice.addEventListener('selectedcandidatepairchange', () => {
      mark('pair');
      const p = ice.getSelectedCandidatePair();
      if (p)
        log(`pair ${p.local.type} ${p.local.address}:${p.local.port} <-> ${p.remote.type} ${p.remote.address}:${p.remote.port}`);
    });
  }

  async function onOffer(sdp) {
    mark('offer');
    log(remoteSet ? 'offer (a restart)' : 'offer');
    mid = firstMid(sdp);
    try {
      await pc.setRemoteDescription({ type: 'offer', sdp });
      mark('remote-description');
      if (!remoteSet) {
        remoteSet = true;
        for (const c of pending)
          await addRemoteCandidate(c);
        pending = [];
      }
      watchTransports();
      await pc.setLocalDescription(await pc.createAnswer());
      send({ type: 'answer', session: result.session, sdp: pc.localDescription.sdp });
      mark('answer');
      watchTransports();
    } catch (e) {
      finish(`answering the offer: ${e}`);
    }
  }

  function onTrack(event) {
    mark('track');
    video.srcObject = event.streams[0] ?? new MediaStream([event.track]);
    video.play().catch((e) => log(`play: ${e}`));
    video.requestVideoFrameCallback((now, frame) => {
      mark('frame', frame.presentationTime);
      mark('frame-callback', now);
      if (frame.receiveTime !== undefined)
        mark('frame-received', frame.receiveTime);
      log(`first frame ${frame.width}x${frame.height}`);
      setTimeout(() => finish(null), holdMs);
    });
  }

  function createPeerConnection(servers) {
    pc = new RTCPeerConnection({ iceServers: servers, bundlePolicy });
    pc.addEventListener('icecandidate', (e) => {
      if (e.candidate === null) {
        log('local end-of-candidates');
        send({ type: 'end-of-candidates', session: result.session });
      } else if (e.candidate.candidate !== '') {
        log(`local ${e.candidate.candidate}`);
        send({ type: 'candidate', session: result.session, candidate: e.candidate.candidate });
      }
    });
    pc.addEventListener('iceconnectionstatechange', () => {
      mark(`ice-${pc.iceConnectionState}`);
      log(`ice ${pc.iceConnectionState}`);
      if (pc.iceConnectionState === 'failed')
        finish('ICE failed');
    });
    pc.addEventListener('connectionstatechange', () => mark(`connection-${pc.connectionState}`));
    pc.addEventListener('track', onTrack);
  }

  function onMessage(event) {
    let msg;
    try {
      msg = JSON.parse(event.data);
    } catch (e) {
      log(`not JSON: ${event.data}`);
      return;
    }
    if (msg.type !== 'session' && msg.session !== undefined && msg.session !== result.session) {
      log(`${msg.type} for another session ${msg.session}, ignored`);
      return;
    }
    switch (msg.type) {
      case 'challenge':
      case 'presence':
        break;
      case 'welcome':
        mark('welcome');
        result.viewer = msg.id;
        iceServers = msg.ice_servers ?? [];
        send({ type: 'watch', camera });
        break;
      case 'session':
        if (result.session !== null) {
          log(`a second session ${msg.session}, ignored`);
          break;
        }
        mark('session');
        result.session = msg.session;
        createPeerConnection(msg.ice_servers ?? iceServers);
        break;
      case 'offer':
        onOffer(msg.sdp);
        break;
      case 'candidate':
      case 'end-of-candidates': {
        const candidate = msg.type === 'candidate' ? msg.candidate : null;
        log(`remote ${candidate ?? 'end-of-candidates'}`);
        if (remoteSet)
          addRemoteCandidate(candidate);
        else
          pending.push(candidate);
        break;
      }
      case 'bye':
        finish(`bye: ${msg.code ?? ''} ${msg.reason ?? ''}`.trim());
        break;
      case 'error':
        finish(`rendezvous: ${msg.code}: ${msg.message}`);
        break;
      default:
        log(`unexpected message ${msg.type}`);
    }
  }

  if (!rendezvous || !camera) {
    finish('usage: viewer.html?rendezvous=ws://HOST:PORT/ws&camera=ID');
  } else {
    setTimeout(() => finish(`no frame ${timeoutMs} ms after the page started`), timeoutMs);
    ws = new WebSocket(rendezvous);
    ws.addEventListener('open', () => send({ type: 'hello', version: 1, role: 'viewer', id: name }));
    ws.addEventListener('message', onMessage);
    ws.addEventListener('close', (e) => finish(`signalling closed: ${e.code} ${e.reason}`));
  }

  return { result: resultPromise, stop };
})();
