/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the GStreamer benchmark programs share. */

#pragma once

#include <gst/gst.h>

/* How many packets a buffer or buffer-list probe saw: icecamsrc pushes what arrived together
 * as one list. */
static inline guint
bench_probe_packets (GstPadProbeInfo *info)
{
  if (GST_PAD_PROBE_INFO_TYPE (info) & GST_PAD_PROBE_TYPE_BUFFER_LIST)
    return gst_buffer_list_length (GST_PAD_PROBE_INFO_BUFFER_LIST (info));
  return 1;
}
