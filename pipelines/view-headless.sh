#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Decode a camera without a display and stop after ICECAM_FRAMES frames (default 30).
# Usage: pipelines/view-headless.sh [gst-launch options]
source "$(dirname "$0")/env.sh"
ICECAM_FRAMES=${ICECAM_FRAMES:-30}
exec gst-launch-1.0 "$@" icecamsrc server="$ICECAM_SERVER" camera-id="$ICECAM_CAMERA" \
  ! rtph264depay request-keyframe=true ! avdec_h264 \
  ! identity eos-after="$ICECAM_FRAMES" ! fakesink sync=false
