#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Watch a camera in a window; frames are shown as soon as they are decoded.
# Without a display (neither DISPLAY nor WAYLAND_DISPLAY set) autovideosink would pick a
# framebuffer sink that fails or crashes on a server: this says so and exits 2, unless
# ICECAM_VIDEOSINK names a sink (or a chain ending in one) that works there, such as
# "kmssink" on a console or "fakesink". pipelines/view-headless.sh decodes without a display.
# Usage: pipelines/view-screen.sh [gst-launch options]
source "$(dirname "$0")/env.sh"
if [ -z "${ICECAM_VIDEOSINK:-}" ] && [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  echo "view-screen.sh: no display (DISPLAY and WAYLAND_DISPLAY are unset); use" \
    "pipelines/view-headless.sh, or set ICECAM_VIDEOSINK to a sink that works here" >&2
  exit 2
fi
# A chain of elements: split on spaces on purpose.
# shellcheck disable=SC2206
sink=(${ICECAM_VIDEOSINK:-autovideosink sync=false})
exec gst-launch-1.0 "$@" icecamsrc server="$ICECAM_SERVER" camera-id="$ICECAM_CAMERA" \
  ! rtpjitterbuffer latency=200 do-retransmission=true \
  ! rtph264depay request-keyframe=true ! avdec_h264 ! videoconvert ! "${sink[@]}"
