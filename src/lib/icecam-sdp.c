/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Parse and build the one-media-section SDP that icecam offers and answers with. */

#include "icecam-sdp.h"

#include <string.h>

#define MAX_LINES 512

G_DEFINE_QUARK (icecam-sdp-error-quark, icecam_sdp_error)

IcecamSdp *
icecam_sdp_new (void)
{
  IcecamSdp *sdp = g_new0 (IcecamSdp, 1);

  sdp->candidates = g_ptr_array_new_with_free_func (g_free);
  sdp->direction = ICECAM_SDP_DIRECTION_SENDRECV;
  return sdp;
}

void
icecam_sdp_free (IcecamSdp *sdp)
{
  if (sdp == NULL)
    return;
  g_free (sdp->media);
  g_free (sdp->rtpmap);
  g_free (sdp->fmtp);
  g_free (sdp->ice_ufrag);
  g_free (sdp->ice_pwd);
  g_free (sdp->fingerprint);
  g_free (sdp->setup);
  g_ptr_array_unref (sdp->candidates);
  g_free (sdp);
}

/* RFC 8839 ice-char: ALPHA / DIGIT / "+" / "/" */
static gboolean
is_ice_chars (const gchar *s, gsize min_len, gsize max_len)
{
  gsize len = strlen (s);

  if (len < min_len || len > max_len)
    return FALSE;
  for (const gchar *p = s; *p; p++) {
    if (!g_ascii_isalnum (*p) && *p != '+' && *p != '/')
      return FALSE;
  }
  return TRUE;
}

static gboolean
is_printable (const gchar *s)
{
  for (const guchar *p = (const guchar *) s; *p; p++) {
    if (*p < 0x20 || *p == 0x7f)
      return FALSE;
  }
  return TRUE;
}

/* "96 H264/90000" -> payload type 96, value "H264/90000" */
static gboolean
split_payload_attribute (const gchar *value, guint *pt, const gchar **rest)
{
  gchar *end = NULL;
  guint64 n;

  if (!g_ascii_isdigit (value[0]))
    return FALSE;
  n = g_ascii_strtoull (value, &end, 10);
  if (n > 127 || *end != ' ')
    return FALSE;
  *pt = (guint) n;
  *rest = end + 1;
  return **rest != '\0';
}

static gboolean
parse_media_line (IcecamSdp *sdp, const gchar *value, gboolean *secure, GError **error)
{
  g_auto (GStrv) parts = g_strsplit (value, " ", 5);
  guint64 pt;
  gchar *end = NULL;

  if (g_strv_length (parts) < 4) {
    g_set_error (error, ICECAM_SDP_ERROR, ICECAM_SDP_ERROR_MALFORMED,
                 "m= line '%s' has fewer than four fields", value);
    return FALSE;
  }
  if (g_strcmp0 (parts[0], "video") != 0 && g_strcmp0 (parts[0], "audio") != 0) {
    g_set_error (error, ICECAM_SDP_ERROR, ICECAM_SDP_ERROR_UNSUPPORTED,
                 "media '%s' is not audio or video", parts[0]);
    return FALSE;
  }
  if (strstr (parts[2], "RTP/") == NULL) {
    g_set_error (error, ICECAM_SDP_ERROR, ICECAM_SDP_ERROR_UNSUPPORTED,
                 "transport '%s' is not RTP", parts[2]);
    return FALSE;
  }
  pt = g_ascii_strtoull (parts[3], &end, 10);
  if (end == parts[3] || (*end != '\0' && *end != ' ') || pt > 127) {
    g_set_error (error, ICECAM_SDP_ERROR, ICECAM_SDP_ERROR_MALFORMED,
                 "m= line '%s' has no valid payload type", value);
    return FALSE;
  }
  sdp->media = g_strdup (parts[0]);
  sdp->payload_type = (guint) pt;
  *secure = strstr (parts[2], "SAVP") != NULL;
  return TRUE;
}

/* RFC 8122: hash-func SP 2HEX *(":" 2HEX); 16..64 bytes covers md5 to sha-512. */
static gboolean
is_fingerprint (const gchar *value)
{
  const gchar *p = value;
  guint n_bytes = 0;

  while (g_ascii_isalnum (*p) || *p == '-')
    p++;
  if (p == value || p - value > 16 || *p != ' ')
    return FALSE;
  p++;
  for (;;) {
    if (!g_ascii_isxdigit (p[0]) || !g_ascii_isxdigit (p[1]))
      return FALSE;
    n_bytes++;
    p += 2;
    if (*p == '\0')
      break;
    if (*p != ':')
      return FALSE;
    p++;
  }
  return n_bytes >= 16 && n_bytes <= 64;
}

/* Which a=fingerprint to keep when there are several: media-level over session-level,
 * sha-256 (the one icecam checks) over other hashes. */
static gint
fingerprint_rank (const gchar *value, gboolean in_media)
{
  return (g_ascii_strncasecmp (value, "sha-256 ", 8) == 0 ? 2 : 0) + (in_media ? 1 : 0);
}

static gboolean
parse_dtls_attribute (IcecamSdp *sdp, const gchar *name, const gchar *value, gboolean in_media,
                      gint *rank, GError **error)
{
  if (g_str_equal (name, "setup")) {
    if (!g_str_equal (value, "actpass") && !g_str_equal (value, "active") &&
        !g_str_equal (value, "passive")) {
      g_set_error (error, ICECAM_SDP_ERROR, ICECAM_SDP_ERROR_UNSUPPORTED,
                   "a=setup:%s is not actpass, active or passive", value);
      return FALSE;
    }
    if (in_media || sdp->setup == NULL) {
      g_free (sdp->setup);
      sdp->setup = g_strdup (value);
    }
    return TRUE;
  }
  if (!is_fingerprint (value)) {
    g_set_error (error, ICECAM_SDP_ERROR, ICECAM_SDP_ERROR_MALFORMED,
                 "a=fingerprint:%s is not '<hash> <hex bytes separated by colons>'", value);
    return FALSE;
  }
  if (fingerprint_rank (value, in_media) > *rank) {
    *rank = fingerprint_rank (value, in_media);
    g_free (sdp->fingerprint);
    sdp->fingerprint = g_strdup (value);
  }
  return TRUE;
}

static gboolean
parse_attribute (IcecamSdp *sdp, const gchar *attr, gboolean in_media, gint *rank,
                 GError **error)
{
  const gchar *colon = strchr (attr, ':');
  g_autofree gchar *name = colon ? g_strndup (attr, colon - attr) : g_strdup (attr);
  const gchar *value = colon ? colon + 1 : "";
  const gchar *rest;
  guint pt;

  if (g_str_equal (name, "ice-ufrag") || g_str_equal (name, "ice-pwd")) {
    gboolean ufrag = g_str_equal (name, "ice-ufrag");

    if (!is_ice_chars (value, ufrag ? 4 : 22, 256)) {
      g_set_error (error, ICECAM_SDP_ERROR, ICECAM_SDP_ERROR_MALFORMED,
                   "a=%s has a value that is not 4..256 (ufrag) or 22..256 (pwd) ice-chars", name);
      return FALSE;
    }
    g_free (ufrag ? sdp->ice_ufrag : sdp->ice_pwd);
    if (ufrag)
      sdp->ice_ufrag = g_strdup (value);
    else
      sdp->ice_pwd = g_strdup (value);
    return TRUE;
  }
  if (g_str_equal (name, "fingerprint") || g_str_equal (name, "setup"))
    return parse_dtls_attribute (sdp, name, value, in_media, rank, error);
  if (!in_media)
    return TRUE;

  if (g_str_equal (name, "candidate")) {
    if (sdp->candidates->len >= 64) {
      g_set_error (error, ICECAM_SDP_ERROR, ICECAM_SDP_ERROR_UNSUPPORTED,
                   "more than 64 candidates");
      return FALSE;
    }
    g_ptr_array_add (sdp->candidates, g_strdup (attr));
  } else if (g_str_equal (name, "end-of-candidates")) {
    sdp->end_of_candidates = TRUE;
  } else if (g_str_equal (name, "sendonly")) {
    sdp->direction = ICECAM_SDP_DIRECTION_SENDONLY;
  } else if (g_str_equal (name, "recvonly")) {
    sdp->direction = ICECAM_SDP_DIRECTION_RECVONLY;
  } else if (g_str_equal (name, "sendrecv")) {
    sdp->direction = ICECAM_SDP_DIRECTION_SENDRECV;
  } else if (g_str_equal (name, "rtpmap") || g_str_equal (name, "fmtp")) {
    if (!split_payload_attribute (value, &pt, &rest)) {
      g_set_error (error, ICECAM_SDP_ERROR, ICECAM_SDP_ERROR_MALFORMED,
                   "a=%s:%s is not '<payload type> <value>'", name, value);
      return FALSE;
    }
    if (pt == sdp->payload_type) {
      gchar **slot = g_str_equal (name, "rtpmap") ? &sdp->rtpmap : &sdp->fmtp;

      g_free (*slot);
      *slot = g_strdup (rest);
    }
  }
  return TRUE;
}

IcecamSdp *
icecam_sdp_parse (const gchar *text, GError **error)
{
  g_autoptr (IcecamSdp) sdp = icecam_sdp_new ();
  g_auto (GStrv) lines = NULL;
  gboolean in_media = FALSE;
  gboolean secure = FALSE;
  gint rank = -1;
  guint n_lines;

  g_return_val_if_fail (text != NULL, NULL);

  lines = g_strsplit (text, "\n", MAX_LINES + 1);
  n_lines = g_strv_length (lines);
  if (n_lines > MAX_LINES) {
    g_set_error (error, ICECAM_SDP_ERROR, ICECAM_SDP_ERROR_UNSUPPORTED,
                 "more than %d lines", MAX_LINES);
    return NULL;
  }

  for (guint i = 0; i < n_lines; i++) {
    gchar *line = g_strchomp (lines[i]); /* drops the CR of CRLF */

    if (*line == '\0')
      continue;
    if (!g_ascii_isalpha (line[0]) || line[1] != '=' || !is_printable (line)) {
      g_set_error (error, ICECAM_SDP_ERROR, ICECAM_SDP_ERROR_MALFORMED,
                   "line %u is not of the form 'x=value'", i + 1);
      return NULL;
    }
    if (line[0] == 'm') {
      if (in_media)
        break; /* only the first media section is ours */
      if (!parse_media_line (sdp, line + 2, &secure, error))
        return NULL;
      in_media = TRUE;
    } else if (line[0] == 'a') {
      if (!parse_attribute (sdp, line + 2, in_media, &rank, error))
        return NULL;
    }
  }

  if (!in_media) {
    g_set_error (error, ICECAM_SDP_ERROR, ICECAM_SDP_ERROR_MISSING, "no m= line");
    return NULL;
  }
  if (sdp->ice_ufrag == NULL || sdp->ice_pwd == NULL) {
    g_set_error (error, ICECAM_SDP_ERROR, ICECAM_SDP_ERROR_MISSING,
                 "no a=ice-ufrag or a=ice-pwd");
    return NULL;
  }
  if (sdp->rtpmap == NULL) {
    g_set_error (error, ICECAM_SDP_ERROR, ICECAM_SDP_ERROR_MISSING,
                 "no a=rtpmap for payload type %u", sdp->payload_type);
    return NULL;
  }
  if (secure && sdp->fingerprint == NULL) {
    g_set_error (error, ICECAM_SDP_ERROR, ICECAM_SDP_ERROR_MISSING,
                 "no a=fingerprint for a secure (SAVP) media section");
    return NULL;
  }
  return g_steal_pointer (&sdp);
}

static const gchar *
direction_to_string (IcecamSdpDirection direction)
{
  switch (direction) {
    case ICECAM_SDP_DIRECTION_SENDONLY:
      return "sendonly";
    case ICECAM_SDP_DIRECTION_RECVONLY:
      return "recvonly";
    case ICECAM_SDP_DIRECTION_SENDRECV:
    default:
      return "sendrecv";
  }
}

gchar *
icecam_sdp_to_string (const IcecamSdp *sdp, guint64 session_id)
{
  GString *s = g_string_new (NULL);

  g_return_val_if_fail (sdp->media && sdp->rtpmap && sdp->ice_ufrag && sdp->ice_pwd, NULL);

  g_string_append_printf (s,
      "v=0\r\n"
      "o=- %" G_GUINT64_FORMAT " 1 IN IP4 0.0.0.0\r\n"
      "s=icecam\r\n"
      "t=0 0\r\n"
      "a=ice-options:trickle\r\n"
      "m=%s 9 %s %u\r\n"
      "c=IN IP4 0.0.0.0\r\n"
      "a=mid:0\r\n"
      "a=ice-ufrag:%s\r\n"
      "a=ice-pwd:%s\r\n",
      session_id, sdp->media, sdp->fingerprint ? "UDP/TLS/RTP/SAVPF" : "RTP/AVPF",
      sdp->payload_type, sdp->ice_ufrag, sdp->ice_pwd);
  if (sdp->fingerprint != NULL)
    g_string_append_printf (s, "a=fingerprint:%s\r\n", sdp->fingerprint);
  if (sdp->setup != NULL)
    g_string_append_printf (s, "a=setup:%s\r\n", sdp->setup);
  g_string_append_printf (s,
      "a=rtcp-mux\r\n"
      "a=%s\r\n"
      "a=rtpmap:%u %s\r\n",
      direction_to_string (sdp->direction), sdp->payload_type, sdp->rtpmap);
  if (sdp->fmtp != NULL)
    g_string_append_printf (s, "a=fmtp:%u %s\r\n", sdp->payload_type, sdp->fmtp);
  g_string_append_printf (s, "a=rtcp-fb:%u nack pli\r\n", sdp->payload_type);
  for (guint i = 0; i < sdp->candidates->len; i++)
    g_string_append_printf (s, "a=%s\r\n", (const gchar *) g_ptr_array_index (sdp->candidates, i));
  if (sdp->end_of_candidates)
    g_string_append (s, "a=end-of-candidates\r\n");
  return g_string_free (s, FALSE);
}
