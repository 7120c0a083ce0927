#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Record a camera without re-encoding to ICECAM_OUTPUT (default camera.mp4): fragmented MP4
# (a fragment a second) for .mp4, Matroska for .mkv, written as the muxer makes it (filesink
# unbuffered: its 64 KiB buffer was seconds of video). Either plays even if this is killed
# (an MP4 up to its last whole fragment); EOS (the camera leaving, -e on Ctrl-C, or
# ICECAM_FRAMES frames if set) finishes the file. The recording waits through the camera's
# absences (icecamsrc resume=true): set ICECAM_RESUME=false to end it when the camera leaves.
# Usage: pipelines/view-file.sh [gst-launch options]
source "$(dirname "$0")/env.sh"
ICECAM_OUTPUT=${ICECAM_OUTPUT:-camera.mp4}
ICECAM_RESUME=${ICECAM_RESUME:-true}
case ${ICECAM_OUTPUT,,} in
  *.mp4|*.m4v|*.mov) mux=(mp4mux fragment-duration=1000) ;;
  *.mkv) mux=(matroskamux) ;;
  *) echo "view-file.sh: ICECAM_OUTPUT must end in .mp4 (fragmented MP4) or .mkv (Matroska)" >&2
     exit 2 ;;
esac
limit=()
[ -n "${ICECAM_FRAMES:-}" ] && limit=(! identity eos-after="$ICECAM_FRAMES")
exec gst-launch-1.0 -e "$@" icecamsrc server="$ICECAM_SERVER" camera-id="$ICECAM_CAMERA" \
  resume="$ICECAM_RESUME" ! rtph264depay request-keyframe=true ! h264parse "${limit[@]}" \
  ! "${mux[@]}" ! filesink buffer-mode=unbuffered location="$ICECAM_OUTPUT"
