/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* icecam-camera's sources: the pipeline up to icecamsink, and an IP camera's RTSP stream. */

#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

typedef struct {
  gchar *source;             /* auto, test, v4l2:/dev/videoN, rtsp://[USER@]HOST[:PORT]/PATH */
  gchar *encoder;            /* auto, x264 or an element name; NULL: auto */
  gchar *pattern;            /* --source test's videotestsrc pattern; NULL: ball */
  gchar *rtsp_password_file; /* NULL: $ICECAM_RTSP_PASSWORD, if set */
  gchar *rtsp_transport;     /* auto (UDP, else TCP), udp or tcp; NULL: auto */
  gchar *audio;              /* auto, none, test, alsa:DEVICE; NULL: auto */
  gboolean no_gop_cache;
  gint width, height, fps, bitrate_kbps, keyframe_interval_s;
} IcecamCameraSourceOptions;

/* Name of the appsrc an RTSP source feeds in the pipeline icecam_camera_source_describe()
 * describes. */
#define ICECAM_CAMERA_RTSP_APPSRC "rtspin"
/* Name of the appsrc an RTSP camera's decoded audio goes to (--audio auto), and its caps. */
#define ICECAM_CAMERA_RTSP_AUDIO_APPSRC "rtspaudio"
#define ICECAM_CAMERA_RTSP_AUDIO_CAPS \
  "audio/x-raw,format=S16LE,layout=interleaved,rate=48000,channels=2"

gboolean icecam_camera_source_is_rtsp (const IcecamCameraSourceOptions *options);
gboolean icecam_camera_source_check_pattern (const IcecamCameraSourceOptions *options,
                                             GError **error);
gchar *icecam_camera_source_describe (IcecamCameraSourceOptions *options, GError **error);

gboolean icecam_camera_audio_describe (const gchar *audio, gboolean rtsp, gchar **branch,
                                       GError **error);

typedef struct _IcecamCameraRtsp IcecamCameraRtsp;

/* Called in the main context when the camera cannot be used (wrong credentials, not H.264):
 * no retry helps. @message is one line for people, with no password in it. */
typedef void (*IcecamCameraRtspFatalFunc) (const gchar *message, gpointer data);

IcecamCameraRtsp *icecam_camera_rtsp_new (const IcecamCameraSourceOptions *options,
                                          GstElement *appsrc, IcecamCameraRtspFatalFunc fatal,
                                          gpointer data, GError **error);
void icecam_camera_rtsp_set_audio (IcecamCameraRtsp *self, GstElement *appsrc,
                                   GSourceFunc no_audio, gpointer data);
void icecam_camera_rtsp_start (IcecamCameraRtsp *self);
void icecam_camera_rtsp_free (IcecamCameraRtsp *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (IcecamCameraRtsp, icecam_camera_rtsp_free)

G_END_DECLS
