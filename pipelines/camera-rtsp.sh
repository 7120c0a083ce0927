#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# An IP camera's H.264 passed through, not decoded or re-encoded: rtspsrc (UDP, else TCP),
# depayloaded, SPS/PPS put before every IDR (h264parse config-interval=-1), payloaded again
# for icecam (MTU 1200), and a GOP cache so a new viewer need not wait for the camera's next
# keyframe. The password goes in rtspsrc user-pw, not in the URL (gst-launch still shows it in
# the process list; icecam-camera --rtsp-password-file does not).
# Usage: ICECAM_RTSP_URL=rtsp://HOST:554/PATH [ICECAM_RTSP_USER=..] [ICECAM_RTSP_PASSWORD=..]
#   pipelines/camera-rtsp.sh [gst-launch options]; ICECAM_SERVER, ICECAM_CAMERA set the
#   rendezvous and the camera id. icecam-camera --source rtsp://... does the same and also
#   connects again when the camera drops.
source "$(dirname "$0")/env.sh"
: "${ICECAM_RTSP_URL:?set ICECAM_RTSP_URL=rtsp://HOST[:PORT]/PATH}"
exec gst-launch-1.0 "$@" rtspsrc location="$ICECAM_RTSP_URL" latency=100 protocols=udp+tcp \
  ${ICECAM_RTSP_USER:+user-id="$ICECAM_RTSP_USER"} \
  ${ICECAM_RTSP_PASSWORD:+user-pw="$ICECAM_RTSP_PASSWORD"} \
  ! rtph264depay ! h264parse config-interval=-1 \
  ! video/x-h264,stream-format=byte-stream,alignment=au \
  ! rtph264pay aggregate-mode=zero-latency mtu=1200 \
  ! icecamsink server="$ICECAM_SERVER" camera-id="$ICECAM_CAMERA" gop-cache=true
