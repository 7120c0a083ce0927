/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* icecamsink's hold on the upstream encoder's bitrate, whatever the encoder. */

#include "gsticecamencoder.h"

#include <string.h>

/* The common encoders' bitrate properties and their units. Others: a "bitrate" property is
 * taken as kbit/s when its maximum is under 10^6 (x264enc, vaapi, nvcodec, qsv), else bit/s;
 * "target-bitrate" (vpx, omx) is bit/s. */
typedef struct {
  const gchar *factory;
  const gchar *property;
  guint scale; /* property units per kbit/s */
} EncoderBitrate;

static const EncoderBitrate known[] = {
  { "x264enc", "bitrate", 1 },
  { "x265enc", "bitrate", 1 },
  { "openh264enc", "bitrate", 1000 },
  { "vp8enc", "target-bitrate", 1000 },
  { "vp9enc", "target-bitrate", 1000 },
  { "svtav1enc", "target-bitrate", 1 },
};

/* v4l2 stateful encoders (v4l2h264enc on a Raspberry Pi and the like): a control. */
#define V4L2_CONTROL "video_bitrate"

/**
 * gst_icecam_find_upstream_encoder:
 * @element: the element to start from (icecamsink)
 *
 * Walks upstream through single-input elements (payloader, parser, capsfilter, queue) to the
 * first element whose class says "Encoder".
 *
 * Returns: (transfer full) (nullable): the encoder
 */
GstElement *
gst_icecam_find_upstream_encoder (GstElement *element)
{
  GstElement *current = gst_object_ref (element);

  for (guint hops = 0; hops < 16; hops++) {
    GstPad *sinkpad = NULL, *peer;
    GstElement *up;
    GstIterator *it = gst_element_iterate_sink_pads (current);
    GValue item = G_VALUE_INIT;
    const gchar *klass;

    if (gst_iterator_next (it, &item) == GST_ITERATOR_OK)
      sinkpad = g_value_dup_object (&item);
    g_value_unset (&item);
    gst_iterator_free (it);
    gst_object_unref (current);
    if (sinkpad == NULL)
      return NULL;
    peer = gst_pad_get_peer (sinkpad);
    gst_object_unref (sinkpad);
    if (peer == NULL)
      return NULL;
    up = gst_pad_get_parent_element (peer);
    gst_object_unref (peer);
    if (up == NULL)
      return NULL;
    klass = gst_element_get_metadata (up, GST_ELEMENT_METADATA_KLASS);
    if (klass != NULL && strstr (klass, "Encoder") != NULL)
      return up;
    current = up;
  }
  gst_object_unref (current);
  return NULL;
}

/* The encoder's bitrate property and its units per kbit/s; NULL if it has none we know. */
static GParamSpec *
find_property (GstElement *encoder, guint *scale)
{
  GObjectClass *klass = G_OBJECT_GET_CLASS (encoder);
  GstElementFactory *factory = gst_element_get_factory (encoder);
  const gchar *name = factory ? GST_OBJECT_NAME (factory) : "";
  GParamSpec *pspec;

  for (guint i = 0; i < G_N_ELEMENTS (known); i++) {
    if (g_str_equal (name, known[i].factory)) {
      *scale = known[i].scale;
      return g_object_class_find_property (klass, known[i].property);
    }
  }
  if ((pspec = g_object_class_find_property (klass, "bitrate")) != NULL) {
    guint64 max = G_IS_PARAM_SPEC_UINT (pspec) ? G_PARAM_SPEC_UINT (pspec)->maximum
                  : G_IS_PARAM_SPEC_INT (pspec) ? (guint64) G_PARAM_SPEC_INT (pspec)->maximum
                                                : 0;

    *scale = max >= 1000000 ? 1000 : 1;
    return max > 0 ? pspec : NULL;
  }
  *scale = 1000;
  return g_object_class_find_property (klass, "target-bitrate");
}

static gboolean
is_v4l2 (GstElement *encoder)
{
  return g_object_class_find_property (G_OBJECT_GET_CLASS (encoder), "extra-controls") != NULL &&
         g_object_class_find_property (G_OBJECT_GET_CLASS (encoder), "device") != NULL;
}

/**
 * gst_icecam_encoder_get_bitrate:
 * @kbps: (out): its bitrate now
 *
 * Returns: whether @encoder has a bitrate we know how to read
 */
gboolean
gst_icecam_encoder_get_bitrate (GstElement *encoder, guint *kbps)
{
  GValue value = G_VALUE_INIT;
  GParamSpec *pspec;
  guint scale;
  guint64 v;

  if (is_v4l2 (encoder)) {
    g_autoptr (GstStructure) controls = NULL;
    gint bps = 0;

    g_object_get (encoder, "extra-controls", &controls, NULL);
    if (controls == NULL || !gst_structure_get_int (controls, V4L2_CONTROL, &bps) || bps <= 0)
      return FALSE;
    *kbps = (guint) bps / 1000;
    return TRUE;
  }
  pspec = find_property (encoder, &scale);
  if (pspec == NULL)
    return FALSE;
  g_value_init (&value, pspec->value_type);
  g_object_get_property (G_OBJECT (encoder), pspec->name, &value);
  if (G_VALUE_HOLDS_UINT (&value))
    v = g_value_get_uint (&value);
  else if (G_VALUE_HOLDS_INT (&value))
    v = (guint64) MAX (g_value_get_int (&value), 0);
  else
    v = 0;
  g_value_unset (&value);
  if (v == 0)
    return FALSE;
  *kbps = (guint) (v / scale);
  return TRUE;
}

/**
 * gst_icecam_encoder_set_bitrate:
 * @kbps: the target
 *
 * Returns: whether @encoder has a bitrate we know how to set
 */
gboolean
gst_icecam_encoder_set_bitrate (GstElement *encoder, guint kbps)
{
  GValue value = G_VALUE_INIT;
  GParamSpec *pspec;
  guint scale;

  if (is_v4l2 (encoder)) {
    g_autoptr (GstStructure) controls = NULL;

    g_object_get (encoder, "extra-controls", &controls, NULL);
    if (controls == NULL)
      controls = gst_structure_new_empty ("controls");
    gst_structure_set (controls, V4L2_CONTROL, G_TYPE_INT,
                       (gint) MIN (kbps, G_MAXINT / 1000) * 1000, NULL);
    g_object_set (encoder, "extra-controls", controls, NULL);
    return TRUE;
  }
  pspec = find_property (encoder, &scale);
  if (pspec == NULL)
    return FALSE;
  g_value_init (&value, pspec->value_type);
  if (G_VALUE_HOLDS_UINT (&value))
    g_value_set_uint (&value, (guint) MIN ((guint64) kbps * scale, G_MAXUINT));
  else if (G_VALUE_HOLDS_INT (&value))
    g_value_set_int (&value, (gint) MIN ((guint64) kbps * scale, G_MAXINT));
  else
    return FALSE;
  g_object_set_property (G_OBJECT (encoder), pspec->name, &value);
  g_value_unset (&value);
  return TRUE;
}
