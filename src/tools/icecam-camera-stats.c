/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* icecam-camera --stats-interval: one line per viewer session from icecamsink's "stats"
 * (the viewer's bandwidth estimate, what it was sent, the NACKs it sent and the
 * retransmissions that answered them), for people watching a camera and for tests. */

#include "icecam-camera-stats.h"

static void
print_session (const GstStructure *s)
{
  guint64 nacked = 0, retransmitted = 0, refused = 0, packets = 0;
  guint estimate = 0, sent = 0;
  gint rtt = -1;
  gdouble lost = 0;
  gboolean reduced = FALSE;

  gst_structure_get_uint64 (s, "packets-sent", &packets);
  gst_structure_get_uint64 (s, "packets-nacked", &nacked);
  gst_structure_get_uint64 (s, "packets-retransmitted", &retransmitted);
  gst_structure_get_uint64 (s, "retransmissions-refused", &refused);
  gst_structure_get_uint (s, "estimate-kbps", &estimate);
  gst_structure_get_uint (s, "sent-kbps", &sent);
  gst_structure_get_int (s, "rtt-ms", &rtt);
  gst_structure_get_double (s, "fraction-lost", &lost);
  gst_structure_get_boolean (s, "reduced", &reduced);
  g_print ("icecam-camera: stats session=%s viewer=%s state=%s packets=%" G_GUINT64_FORMAT
           " estimate_kbps=%u sent_kbps=%u rtt_ms=%d lost_pct=%.1f nacked=%" G_GUINT64_FORMAT
           " retransmitted=%" G_GUINT64_FORMAT " refused=%" G_GUINT64_FORMAT " reduced=%s\n",
           gst_structure_get_string (s, "session"), gst_structure_get_string (s, "viewer"),
           gst_structure_get_string (s, "state"), packets, estimate, sent, rtt, lost * 100,
           nacked, retransmitted, refused, reduced ? "yes" : "no");
}

static gboolean
on_tick (gpointer user_data)
{
  GstElement *sink = user_data;
  g_autoptr (GstStructure) stats = NULL;
  const GValue *sessions;

  g_object_get (sink, "stats", &stats, NULL);
  sessions = stats != NULL ? gst_structure_get_value (stats, "sessions") : NULL;
  for (guint i = 0; sessions != NULL && i < gst_value_list_get_size (sessions); i++) {
    const GValue *v = gst_value_list_get_value (sessions, i);

    if (GST_VALUE_HOLDS_STRUCTURE (v))
      print_session (gst_value_get_structure (v));
  }
  return G_SOURCE_CONTINUE;
}

/**
 * icecam_camera_stats_start:
 * @sink: the camera's icecamsink
 * @seconds: the interval; 0: none
 *
 * Returns: the timeout's id (in the default context), 0 if none
 */
guint
icecam_camera_stats_start (GstElement *sink, guint seconds)
{
  if (seconds == 0)
    return 0;
  return g_timeout_add_seconds_full (G_PRIORITY_DEFAULT, seconds, on_tick,
                                     gst_object_ref (sink), gst_object_unref);
}
