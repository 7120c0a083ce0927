/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The H.264 format parameters a camera offers (RFC 6184 8.1), read from the stream's own SPS:
 * a browser that is told nothing assumes profile-level-id 42e01f. */

#include "icecam-h264.h"

#include "icecam-rtcp.h"

#include <string.h>

#define NAL_SPS 7
#define NAL_STAP_A 24

/**
 * icecam_h264_profile_level_id_from_sps:
 * @nal: a NAL unit, header byte first
 * @out: (out): "PPCCLL" in lower-case hex: profile_idc, the constraint flags byte, level_idc
 *
 * Returns: whether @nal is a sequence parameter set long enough to hold them
 */
gboolean
icecam_h264_profile_level_id_from_sps (const guint8 *nal, gsize length,
                                       gchar out[ICECAM_H264_PROFILE_LEVEL_ID_LENGTH])
{
  if (length < 4 || (nal[0] & 0x1f) != NAL_SPS || nal[1] == 0)
    return FALSE;
  g_snprintf (out, ICECAM_H264_PROFILE_LEVEL_ID_LENGTH, "%02x%02x%02x", nal[1], nal[2], nal[3]);
  return TRUE;
}

/**
 * icecam_h264_profile_level_id_from_sprop:
 * @sprop: a sprop-parameter-sets value: base64 NAL units separated by commas
 *
 * Returns: whether one of them is an SPS; @out is set from the first
 */
gboolean
icecam_h264_profile_level_id_from_sprop (const gchar *sprop,
                                         gchar out[ICECAM_H264_PROFILE_LEVEL_ID_LENGTH])
{
  g_auto (GStrv) sets = g_strsplit (sprop, ",", 8);

  for (guint i = 0; sets[i] != NULL; i++) {
    g_autofree guchar *nal = NULL;
    gsize length = 0;

    if (*sets[i] == '\0' || strlen (sets[i]) > 1024)
      continue;
    nal = g_base64_decode (sets[i], &length);
    if (nal != NULL && icecam_h264_profile_level_id_from_sps (nal, length, out))
      return TRUE;
  }
  return FALSE;
}

/**
 * icecam_rtp_h264_find_profile_level_id:
 *
 * Reads an H.264 RTP packet (RFC 6184), bounds-checked, for an SPS: a single NAL unit or one
 * inside a STAP-A.
 *
 * Returns: whether the packet carries an SPS; @out is set from it
 */
gboolean
icecam_rtp_h264_find_profile_level_id (const guint8 *data, gsize length,
                                       gchar out[ICECAM_H264_PROFILE_LEVEL_ID_LENGTH])
{
  const guint8 *payload;
  gsize end;

  if (!icecam_rtp_get_payload (data, length, &payload, &end))
    return FALSE;
  if ((payload[0] & 0x1f) != NAL_STAP_A)
    return icecam_h264_profile_level_id_from_sps (payload, end, out);
  for (gsize i = 1; i + 2 < end;) {
    gsize size = ((gsize) payload[i] << 8) | payload[i + 1];

    i += 2;
    if (size == 0 || i + size > end)
      return FALSE;
    if (icecam_h264_profile_level_id_from_sps (payload + i, size, out))
      return TRUE;
    i += size;
  }
  return FALSE;
}

/**
 * icecam_h264_fmtp_get:
 * @fmtp: (nullable): "name=value;name=value"
 *
 * Returns: (transfer full) (nullable): the value of parameter @name (case-insensitive)
 */
gchar *
icecam_h264_fmtp_get (const gchar *fmtp, const gchar *name)
{
  g_auto (GStrv) params = fmtp ? g_strsplit (fmtp, ";", 32) : NULL;
  gsize name_length = strlen (name);

  for (guint i = 0; params != NULL && params[i] != NULL; i++) {
    const gchar *param = params[i];

    while (*param == ' ')
      param++;
    if (g_ascii_strncasecmp (param, name, name_length) == 0 && param[name_length] == '=')
      return g_strdup (param + name_length + 1);
  }
  return NULL;
}

/**
 * icecam_h264_fmtp_for_offer:
 * @fmtp: (nullable): the payloader's format parameters (e.g. from its caps)
 * @profile_level_id: (nullable): the stream's, from its SPS; %NULL: the one in @fmtp, or from
 *   its sprop-parameter-sets
 *
 * The format parameters to offer, in the form browsers write them: level-asymmetry-allowed=1
 * (the receiver may decode any level), packetization-mode=1 (FU-A and STAP-A, what
 * rtph264pay sends), the profile-level-id of the stream sent, then @fmtp's other parameters.
 *
 * Returns: (transfer full) (nullable): the fmtp value, or %NULL if the profile is not known yet
 */
gchar *
icecam_h264_fmtp_for_offer (const gchar *fmtp, const gchar *profile_level_id)
{
  g_auto (GStrv) params = fmtp ? g_strsplit (fmtp, ";", 32) : NULL;
  g_autofree gchar *stated = icecam_h264_fmtp_get (fmtp, "profile-level-id");
  g_autofree gchar *sprop = icecam_h264_fmtp_get (fmtp, "sprop-parameter-sets");
  gchar from_sprop[ICECAM_H264_PROFILE_LEVEL_ID_LENGTH];
  GString *s;

  if (profile_level_id == NULL && sprop != NULL &&
      icecam_h264_profile_level_id_from_sprop (sprop, from_sprop))
    profile_level_id = from_sprop;
  if (profile_level_id == NULL && stated != NULL && strlen (stated) == 6)
    profile_level_id = stated;
  if (profile_level_id == NULL)
    return NULL;
  s = g_string_new (NULL);
  g_string_append_printf (s, "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=%s",
                          profile_level_id);
  for (guint i = 0; params != NULL && params[i] != NULL; i++) {
    const gchar *param = params[i];

    while (*param == ' ')
      param++;
    if (*param == '\0' || g_ascii_strncasecmp (param, "level-asymmetry-allowed=", 24) == 0 ||
        g_ascii_strncasecmp (param, "packetization-mode=", 19) == 0 ||
        g_ascii_strncasecmp (param, "profile-level-id=", 17) == 0)
      continue;
    g_string_append_printf (s, ";%s", param);
  }
  return g_string_free (s, FALSE);
}
