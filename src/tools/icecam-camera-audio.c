/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* icecam-camera's audio: the --audio choice, as a pipeline branch that ends in icecamsink's
 * audio pad with Opus RTP. */

#include "icecam-camera-source.h"

#include <string.h>

/* Opus RTP for the audio pad: 20 ms frames, in-band FEC, as browsers expect (RFC 7587). */
#define OPUS_TAIL "! audioconvert ! audioresample ! audio/x-raw,rate=48000,channels=2 " \
                  "! opusenc bitrate=48000 frame-size=20 inband-fec=true " \
                  "! rtpopuspay pt=111 ! sink.audio"

/* ALSA device names: hw:1,0, plughw:CARD=C920,DEV=0, default, ... */
static gboolean
is_alsa_device (const gchar *device)
{
  if (*device == '\0' || strlen (device) > 128)
    return FALSE;
  for (const gchar *c = device; *c != '\0'; c++) {
    if (!g_ascii_isalnum (*c) && strchr (":,=_.-", *c) == NULL)
      return FALSE;
  }
  return TRUE;
}

/**
 * icecam_camera_audio_describe:
 * @audio: (nullable): auto, none, test or alsa:DEVICE; %NULL is auto
 * @rtsp: the video source is an RTSP camera
 * @branch: (out) (transfer full) (nullable): the pipeline branch to append, %NULL for none
 * @error: a %G_OPTION_ERROR for an @audio that is none of these
 *
 * auto is the RTSP camera's own audio (an appsrc named %ICECAM_CAMERA_RTSP_AUDIO_APPSRC that
 * icecam_camera_rtsp_set_audio() feeds), else none: a microphone is never opened unless asked
 * for.
 *
 * Returns: %FALSE with @error set if @audio is not valid
 */
gboolean
icecam_camera_audio_describe (const gchar *audio, gboolean rtsp, gchar **branch, GError **error)
{
  *branch = NULL;
  if (audio == NULL || g_str_equal (audio, "auto")) {
    if (rtsp)
      *branch = g_strdup ("appsrc name=" ICECAM_CAMERA_RTSP_AUDIO_APPSRC " is-live=true "
                          "format=time do-timestamp=true max-bytes=1000000 leaky-type=downstream "
                          "caps=" ICECAM_CAMERA_RTSP_AUDIO_CAPS " " OPUS_TAIL);
    return TRUE;
  }
  if (g_str_equal (audio, "none"))
    return TRUE;
  if (g_str_equal (audio, "test")) {
    *branch = g_strdup ("audiotestsrc is-live=true wave=sine freq=440 volume=0.2 " OPUS_TAIL);
    return TRUE;
  }
  if (g_str_has_prefix (audio, "alsa:") && is_alsa_device (audio + 5)) {
    g_autoptr (GstElementFactory) alsasrc = gst_element_factory_find ("alsasrc");

    /* gst_parse_launch() would leave the branch without its source: offers would wait. */
    if (alsasrc == NULL) {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--audio %s: no GStreamer element alsasrc (Debian package gstreamer1.0-alsa)",
                   audio);
      return FALSE;
    }
    *branch = g_strdup_printf ("alsasrc device=%s ! queue max-size-time=200000000 leaky=downstream "
                               OPUS_TAIL, audio + 5);
    return TRUE;
  }
  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
               "--audio '%s': expected auto, none, test or alsa:DEVICE (such as alsa:hw:1,0)",
               audio);
  return FALSE;
}
