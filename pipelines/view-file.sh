#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Record a camera to an MP4 file without re-encoding: ICECAM_OUTPUT (default camera.mp4),
# ICECAM_FRAMES frames (default 300). The file is finalised on EOS (-e on Ctrl-C).
# Usage: pipelines/view-file.sh [gst-launch options]
source "$(dirname "$0")/env.sh"
ICECAM_OUTPUT=${ICECAM_OUTPUT:-camera.mp4}
ICECAM_FRAMES=${ICECAM_FRAMES:-300}
exec gst-launch-1.0 -e "$@" icecamsrc server="$ICECAM_SERVER" camera-id="$ICECAM_CAMERA" \
  ! rtph264depay request-keyframe=true ! h264parse ! identity eos-after="$ICECAM_FRAMES" \
  ! mp4mux ! filesink location="$ICECAM_OUTPUT"
