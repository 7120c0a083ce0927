#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Camera from a test pattern with sound: the video of camera-test.sh and a 440 Hz tone as Opus
# RTP into icecamsink's audio request pad (offered as a second, bundled media section).
# Usage: pipelines/camera-audio.sh [gst-launch options]; ICECAM_SERVER, ICECAM_CAMERA set the
# rendezvous and the camera id.
source "$(dirname "$0")/env.sh"
exec gst-launch-1.0 "$@" videotestsrc is-live=true ! video/x-raw,width=640,height=480,framerate=30/1 \
  ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=300 \
  ! video/x-h264,stream-format=byte-stream,alignment=au \
  ! rtph264pay aggregate-mode=zero-latency \
  ! icecamsink name=sink server="$ICECAM_SERVER" camera-id="$ICECAM_CAMERA" \
  audiotestsrc is-live=true ! audioconvert ! audioresample ! opusenc ! rtpopuspay pt=111 \
  ! sink.audio
