#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Camera from a test pattern: 640x480 at 30 fps, H.264 for low latency, 10 s between
# scheduled keyframes (joining viewers get one at once).
# Usage: pipelines/camera-test.sh [gst-launch options]; ICECAM_SERVER, ICECAM_CAMERA set the
# rendezvous and the camera id.
source "$(dirname "$0")/env.sh"
exec gst-launch-1.0 "$@" videotestsrc is-live=true ! video/x-raw,width=640,height=480,framerate=30/1 \
  ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=300 \
  ! video/x-h264,stream-format=byte-stream,alignment=au \
  ! rtph264pay aggregate-mode=zero-latency \
  ! icecamsink server="$ICECAM_SERVER" camera-id="$ICECAM_CAMERA"
