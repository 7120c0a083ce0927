#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Camera from a V4L2 device (ICECAM_DEVICE, default /dev/video0), scaled to 640x480 at 30 fps.
# Usage: pipelines/camera-v4l2.sh [gst-launch options]
source "$(dirname "$0")/env.sh"
ICECAM_DEVICE=${ICECAM_DEVICE:-/dev/video0}
exec gst-launch-1.0 "$@" v4l2src device="$ICECAM_DEVICE" ! videoconvert ! videoscale ! videorate \
  ! video/x-raw,format=I420,width=640,height=480,framerate=30/1 \
  ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=300 \
  ! video/x-h264,stream-format=byte-stream,alignment=au \
  ! rtph264pay aggregate-mode=zero-latency \
  ! icecamsink server="$ICECAM_SERVER" camera-id="$ICECAM_CAMERA"
