// SPDX-License-Identifier: LGPL-2.1-or-later
// The web viewer's other half: this device's own camera (getUserMedia) published as an icecam
// camera, on a second WebSocket to the same rendezvous (signalling protocol v1 in the camera
// role, docs/protocol.md). Every viewer (icecam-view, another browser) that watches it gets
// its own RTCPeerConnection; the page offers H.264 (packetization-mode 1) only, since that is
// what icecam viewers decode. Only where cameras need no provisioned secret
// (--camera-secrets): the page has no secret to prove.
'use strict';

(() => {
  const ID_RE = /^[A-Za-z0-9._-]{1,64}$/;
  const form = document.getElementById('publish-form');
  const input = document.getElementById('publish-id');
  const button = document.getElementById('publish-button');
  const status = document.getElementById('publish-status');
  const state = { ws: null, id: null, stream: null, iceServers: [], sessions: new Map(),
    error: null, offers: 0 };

  function basePath() {
    const path = location.pathname;
    const view = path.lastIndexOf('/view/');
    return view >= 0 ? path.slice(0, view + 1) : path.replace(/[^/]*$/, '');
  }

  function say(text, error = false) {
    status.textContent = text;
    if (error)
      state.error = text;
  }

  function send(message) {
    if (state.ws !== null && state.ws.readyState === WebSocket.OPEN)
      state.ws.send(JSON.stringify(message));
  }

  // H.264 with packetization-mode 1, constrained baseline first: what icecam viewers decode.
  function h264Codecs() {
    const caps = RTCRtpSender.getCapabilities ? RTCRtpSender.getCapabilities('video') : null;
    const h264 = (caps ? caps.codecs : []).filter((c) => c.mimeType.toLowerCase() === 'video/h264' &&
      /packetization-mode=1/.test(c.sdpFmtpLine ?? ''));
    const rank = (c) => (/profile-level-id=42e0/.test(c.sdpFmtpLine) ? 0 : 1);
    return h264.sort((a, b) => rank(a) - rank(b)).slice(0, 1);
  }

  function endSession(id, code) {
    const session = state.sessions.get(id);
    if (!session)
      return;
    state.sessions.delete(id);
    if (code)
      send({ type: 'bye', session: id, code });
    session.pc.close();
    say(`publishing as ${state.id}: ${state.sessions.size} viewer(s)`);
  }

  async function startSession(msg) {
    const servers = (Array.isArray(msg.ice_servers) ? msg.ice_servers : []).concat(state.iceServers);
    const pc = new RTCPeerConnection({ iceServers: servers, bundlePolicy: 'max-bundle' });
    const session = { pc, remoteSet: false, pending: [] };
    state.sessions.set(msg.session, session);
    const transceiver = pc.addTransceiver(state.stream.getVideoTracks()[0],
      { direction: 'sendonly', streams: [state.stream] });
    transceiver.setCodecPreferences(h264Codecs());
    pc.addEventListener('icecandidate', (e) => {
      if (e.candidate === null)
        send({ type: 'end-of-candidates', session: msg.session });
      else if (e.candidate.candidate !== '')
        send({ type: 'candidate', session: msg.session, candidate: e.candidate.candidate });
    });
    pc.addEventListener('connectionstatechange', () => {
      if (pc.connectionState === 'failed')
        endSession(msg.session, 'failed');
    });
    await pc.setLocalDescription(await pc.createOffer());
    send({ type: 'offer', session: msg.session, sdp: pc.localDescription.sdp });
    state.offers++;
    say(`publishing as ${state.id}: ${state.sessions.size} viewer(s)`);
  }

  async function onAnswer(msg) {
    const session = state.sessions.get(msg.session);
    if (!session || typeof msg.sdp !== 'string')
      return;
    try {
      await session.pc.setRemoteDescription({ type: 'answer', sdp: msg.sdp });
      session.remoteSet = true;
      for (const c of session.pending)
        await session.pc.addIceCandidate(c).catch(() => {});
      session.pending = [];
    } catch (e) {
      endSession(msg.session, 'refused');
    }
  }

  function onCandidate(msg) {
    const session = state.sessions.get(msg.session);
    if (!session)
      return;
    const candidate = msg.type === 'candidate'
      ? { candidate: String(msg.candidate), sdpMid: '0', sdpMLineIndex: 0 } : null;
    if (session.remoteSet)
      session.pc.addIceCandidate(candidate).catch(() => {});
    else
      session.pending.push(candidate);
  }

  function onMessage(event) {
    let msg;
    try {
      msg = JSON.parse(event.data);
    } catch (e) {
      return;
    }
    switch (msg && msg.type) {
      case 'welcome':
        state.iceServers = Array.isArray(msg.ice_servers) ? msg.ice_servers : [];
        say(`publishing as ${msg.id}: 0 viewer(s)`);
        break;
      case 'ping':
        send({ type: 'pong' });
        break;
      case 'session':
        if (msg.role === 'camera')
          startSession(msg).catch((e) => {
            say(`cannot offer: ${e.message}`, true);
            endSession(msg.session, 'failed');
          });
        break;
      case 'answer':
        onAnswer(msg);
        break;
      case 'candidate':
      case 'end-of-candidates':
        onCandidate(msg);
        break;
      case 'bye':
        endSession(msg.session, null);
        break;
      case 'error':
        say(`the rendezvous said ${msg.code}: ${msg.message}`, true);
        break;
      default:
        break;
    }
  }

  function stop() {
    for (const id of [...state.sessions.keys()])
      endSession(id, 'closed');
    if (state.ws !== null)
      state.ws.close();
    state.ws = null;
    if (state.stream !== null)
      state.stream.getTracks().forEach((t) => t.stop());
    state.stream = null;
    button.textContent = 'Publish';
  }

  async function start(id) {
    if (!ID_RE.test(id)) {
      say('A camera name is 1 to 64 letters, digits, ".", "_" or "-".', true);
      return;
    }
    if (h264Codecs().length === 0) {
      say('This browser cannot encode H.264, which icecam viewers need.', true);
      return;
    }
    try {
      state.stream = await navigator.mediaDevices.getUserMedia(
        { video: { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 30 } } });
    } catch (e) {
      say(`No camera: ${e.message}`, true);
      return;
    }
    state.id = id;
    state.error = null;
    button.textContent = 'Stop';
    const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${basePath()}ws`);
    state.ws = ws;
    ws.addEventListener('open', () => send({ type: 'hello', version: 1, role: 'camera', id,
      features: ['ping'] }));
    ws.addEventListener('message', onMessage);
    ws.addEventListener('close', () => {
      if (state.ws === ws) {
        say(`${id}: the rendezvous closed the connection`, state.error === null);
        stop();
      }
    });
    say(`${id}: connecting`);
  }

  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    form.hidden = true;   // no camera API (e.g. a page not in a secure context)
    return;
  }
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (state.ws !== null)
      stop();
    else
      start(input.value.trim());
  });
  window.icecamPublisher = Object.freeze({
    snapshot: () => ({ id: state.id, publishing: state.ws !== null, viewers: state.sessions.size,
      offers: state.offers, status: status.textContent, error: state.error }),
  });
})();
