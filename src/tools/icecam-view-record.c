/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* icecam-view --record: a tee after icecamsrc, one branch to the viewer's decoder, the other
 * depayloaded, parsed and muxed (no decoding, no re-encoding) into a file that plays even if
 * the viewer is killed: fragmented MP4 (a fragment a second) or Matroska (cluster by cluster),
 * by the file's extension. */

#include "icecam-view-record.h"

#include <errno.h>
#include <glib/gstdio.h>

/* One second of video per MP4 fragment: what a killed viewer loses at most. */
#define MP4_MUXER "mp4mux fragment-duration=1000"
#define MKV_MUXER "matroskamux"

struct _IcecamViewRecord {
  gchar *path;
  GstElement *tee;
  GstElement *branch;    /* queue ! rtph264depay ! h264parse ! muxer ! filesink */
  GMutex lock;
  GCond cond;
  gboolean written;      /* EOS reached the file: the muxer finished it */
};

static const gchar *
muxer_for (const gchar *path, GError **error)
{
  g_autofree gchar *lower = g_ascii_strdown (path, -1);

  if (g_str_has_suffix (lower, ".mp4") || g_str_has_suffix (lower, ".m4v") ||
      g_str_has_suffix (lower, ".mov"))
    return MP4_MUXER;
  if (g_str_has_suffix (lower, ".mkv"))
    return MKV_MUXER;
  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
               "--record: '%s' must end in .mp4 (fragmented MP4) or .mkv (Matroska)", path);
  return NULL;
}

/* The streaming thread: the end of the stream reached the file. */
static GstPadProbeReturn
on_file_eos (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  IcecamViewRecord *record = data;

  if (GST_EVENT_TYPE (GST_PAD_PROBE_INFO_EVENT (info)) == GST_EVENT_EOS) {
    g_mutex_lock (&record->lock);
    record->written = TRUE;
    g_cond_signal (&record->cond);
    g_mutex_unlock (&record->lock);
  }
  return GST_PAD_PROBE_OK;
}

static gboolean
check_writable (const gchar *path, GError **error)
{
  FILE *file = g_fopen (path, "wb");

  if (file == NULL) {
    int saved = errno;

    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved),
                 "--record: cannot write '%s': %s", path, g_strerror (saved));
    return FALSE;
  }
  fclose (file);
  return TRUE;
}

/**
 * icecam_view_record_new:
 * @pipeline: the viewer's pipeline, @src in it
 * @src: icecamsrc
 * @path: the file: .mp4 (or .m4v, .mov) for fragmented MP4, .mkv for Matroska
 *
 * Adds the tee after @src and the recording branch after the tee. The viewer's own chain
 * links from icecam_view_record_get_tee().
 *
 * Returns: (transfer full) (nullable): the recording, or %NULL with @error set (a G_OPTION_ERROR
 *   for a file name the muxers do not fit, a G_FILE_ERROR for a file that cannot be written)
 */
IcecamViewRecord *
icecam_view_record_new (GstElement *pipeline, GstElement *src, const gchar *path, GError **error)
{
  g_autoptr (IcecamViewRecord) record = g_new0 (IcecamViewRecord, 1);
  g_autofree gchar *description = NULL;
  g_autoptr (GstElement) sink = NULL;
  g_autoptr (GstPad) pad = NULL;
  const gchar *muxer = muxer_for (path, error);

  g_mutex_init (&record->lock);
  g_cond_init (&record->cond);
  record->path = g_strdup (path);
  if (muxer == NULL || !check_writable (path, error))
    return NULL;
  /* The queue: the file's writes never hold the viewer back. h264parse puts the parameter
   * sets where each muxer wants them. filesink unbuffered: the muxer's output goes to the file
   * as it comes (a fragment, a cluster), not in 64 KiB blocks, seconds of video a killed
   * viewer would lose. */
  description = g_strdup_printf ("queue max-size-buffers=0 max-size-bytes=0 max-size-time=0 "
                                 "! rtph264depay ! h264parse ! %s "
                                 "! filesink name=file buffer-mode=unbuffered", muxer);
  record->branch = gst_parse_bin_from_description (description, TRUE, error);
  if (record->branch == NULL)
    return NULL;
  gst_object_ref_sink (record->branch);
  sink = gst_bin_get_by_name (GST_BIN (record->branch), "file");
  g_object_set (sink, "location", path, NULL);
  pad = gst_element_get_static_pad (sink, "sink");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, on_file_eos, record, NULL);
  record->tee = gst_object_ref_sink (gst_element_factory_make ("tee", "record-tee"));
  /* While the viewer swaps its decoder, the tee's other branch is unlinked for a moment. */
  g_object_set (record->tee, "allow-not-linked", TRUE, NULL);
  gst_bin_add_many (GST_BIN (pipeline), record->tee, record->branch, NULL);
  if (!gst_element_link (src, record->tee) || !gst_element_link (record->tee, record->branch)) {
    g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_NEGOTIATION,
                 "--record: cannot link icecamsrc to the recording");
    return NULL;
  }
  return g_steal_pointer (&record);
}

/**
 * icecam_view_record_get_tee:
 *
 * Returns: (transfer none): the tee after icecamsrc
 */
GstElement *
icecam_view_record_get_tee (IcecamViewRecord *record)
{
  return record->tee;
}

/**
 * icecam_view_record_finish:
 * @timeout_ms: how long to wait for the muxer
 *
 * Ends the recording's stream (unless the camera's end already did) and waits until the
 * muxer has written the file's end (an MP4's index of fragments), before the pipeline stops.
 *
 * Returns: whether the file was finished within @timeout_ms
 */
gboolean
icecam_view_record_finish (IcecamViewRecord *record, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + timeout_ms * G_TIME_SPAN_MILLISECOND;
  g_autoptr (GstPad) pad = gst_element_get_static_pad (record->branch, "sink");
  gboolean written;

  g_mutex_lock (&record->lock);
  written = record->written;
  g_mutex_unlock (&record->lock);
  if (!written)
    gst_pad_send_event (pad, gst_event_new_eos ());
  g_mutex_lock (&record->lock);
  while (!record->written && g_cond_wait_until (&record->cond, &record->lock, deadline))
    ;
  written = record->written;
  g_mutex_unlock (&record->lock);
  return written;
}

void
icecam_view_record_free (IcecamViewRecord *record)
{
  if (record == NULL)
    return;
  gst_clear_object (&record->tee);
  gst_clear_object (&record->branch);
  g_mutex_clear (&record->lock);
  g_cond_clear (&record->cond);
  g_free (record->path);
  g_free (record);
}
