/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* icecamsink: when the content of each RTP packet was captured.
 *
 * A payloader stamps its packets with the running time of what they carry: the time of capture
 * on the pipeline's clock. That clock time, taken back to g_get_monotonic_time(), goes to the
 * camera endpoint with the packet's RTP timestamp, and the sender reports then say which RTP
 * time of each stream was captured when. A viewer lining up the streams from the reports then
 * plays together what was captured together, however long each stream's encoder took. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gsticecamcapture.h"

#define RTP_HEADER_SIZE 12

/* Streaming thread of the pad @buf arrived on; @segment is that pad's. Notes once per RTP
 * timestamp (the packets of a frame share one). */
void
gst_icecam_note_capture (GstElement *element, IcecamCameraEndpoint *endpoint,
                         const GstSegment *segment, GstBuffer *buf, GstIcecamCaptureNote *last)
{
  guint8 header[RTP_HEADER_SIZE];
  guint32 ssrc, timestamp;
  GstClockTime running_time, now;
  GstClockTimeDiff age;
  g_autoptr (GstClock) clock = NULL;

  if (endpoint == NULL || segment == NULL || segment->format != GST_FORMAT_TIME ||
      !GST_BUFFER_PTS_IS_VALID (buf) ||
      gst_buffer_extract (buf, 0, header, sizeof header) != sizeof header ||
      (header[0] >> 6) != 2)
    return;
  timestamp = GST_READ_UINT32_BE (header + 4);
  ssrc = GST_READ_UINT32_BE (header + 8);
  if (last->noted && last->timestamp == timestamp)
    return;
  running_time = gst_segment_to_running_time (segment, GST_FORMAT_TIME, GST_BUFFER_PTS (buf));
  clock = gst_element_get_clock (element);
  if (!GST_CLOCK_TIME_IS_VALID (running_time) || clock == NULL)
    return;
  now = gst_clock_get_time (clock);
  age = GST_CLOCK_DIFF (running_time + gst_element_get_base_time (element), now);
  last->noted = TRUE;
  last->timestamp = timestamp;
  icecam_camera_endpoint_note_capture (endpoint, ssrc, timestamp,
                                       g_get_monotonic_time () - age / GST_USECOND);
}
