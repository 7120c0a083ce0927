#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Watch a camera in a window; frames are shown as soon as they are decoded.
# Usage: pipelines/view-screen.sh [gst-launch options]
source "$(dirname "$0")/env.sh"
exec gst-launch-1.0 "$@" icecamsrc server="$ICECAM_SERVER" camera-id="$ICECAM_CAMERA" \
  ! rtpjitterbuffer latency=200 do-retransmission=true \
  ! rtph264depay request-keyframe=true ! avdec_h264 ! videoconvert ! autovideosink sync=false
