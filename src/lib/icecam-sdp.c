/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Parse and build the SDP that icecam offers and answers with: bundled RTP media sections. */

#include "icecam-sdp.h"

#include <string.h>

#define MAX_LINES 512

G_DEFINE_QUARK (icecam-sdp-error-quark, icecam_sdp_error)

IcecamSdpMedia *
icecam_sdp_media_new (const gchar *kind, guint payload_type, const gchar *rtpmap,
                      const gchar *fmtp)
{
  IcecamSdpMedia *media = g_new0 (IcecamSdpMedia, 1);

  media->kind = g_strdup (kind);
  media->payload_type = payload_type;
  media->rtpmap = g_strdup (rtpmap);
  media->fmtp = g_strdup (fmtp);
  media->rtcp_fb = g_ptr_array_new_with_free_func (g_free);
  media->direction = ICECAM_SDP_DIRECTION_SENDRECV;
  return media;
}

IcecamSdpMedia *
icecam_sdp_media_copy (const IcecamSdpMedia *media)
{
  IcecamSdpMedia *copy = icecam_sdp_media_new (media->kind, media->payload_type, media->rtpmap,
                                               media->fmtp);

  copy->mid = g_strdup (media->mid);
  for (guint i = 0; i < media->rtcp_fb->len; i++)
    g_ptr_array_add (copy->rtcp_fb, g_strdup (g_ptr_array_index (media->rtcp_fb, i)));
  copy->direction = media->direction;
  copy->ssrc = media->ssrc;
  copy->cname = g_strdup (media->cname);
  copy->msid = g_strdup (media->msid);
  copy->rtx_payload_type = media->rtx_payload_type;
  copy->rtx_ssrc = media->rtx_ssrc;
  return copy;
}

void
icecam_sdp_media_free (IcecamSdpMedia *media)
{
  if (media == NULL)
    return;
  g_free (media->kind);
  g_free (media->mid);
  g_free (media->rtpmap);
  g_free (media->fmtp);
  g_ptr_array_unref (media->rtcp_fb);
  g_free (media->cname);
  g_free (media->msid);
  g_free (media);
}

IcecamSdp *
icecam_sdp_new (void)
{
  IcecamSdp *sdp = g_new0 (IcecamSdp, 1);

  sdp->media = g_ptr_array_new_with_free_func ((GDestroyNotify) icecam_sdp_media_free);
  sdp->candidates = g_ptr_array_new_with_free_func (g_free);
  return sdp;
}

void
icecam_sdp_free (IcecamSdp *sdp)
{
  if (sdp == NULL)
    return;
  g_ptr_array_unref (sdp->media);
  g_free (sdp->ice_ufrag);
  g_free (sdp->ice_pwd);
  g_free (sdp->fingerprint);
  g_free (sdp->setup);
  g_ptr_array_unref (sdp->candidates);
  g_free (sdp);
}

IcecamSdpMedia *
icecam_sdp_add_media (IcecamSdp *sdp, IcecamSdpMedia *media)
{
  g_ptr_array_add (sdp->media, media);
  return media;
}

const IcecamSdpMedia *
icecam_sdp_get_media (const IcecamSdp *sdp, guint index)
{
  return index < sdp->media->len ? g_ptr_array_index (sdp->media, index) : NULL;
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

/* What icecam_sdp_parse() knows while it reads the lines. */
typedef struct {
  IcecamSdp *sdp;
  IcecamSdpMedia *media; /* the section being read; NULL at session level or in a skipped one */
  guint section;         /* m= lines seen so far: 0 at session level, 1 in the first section */
  gboolean secure;       /* some section's profile is SAVP/SAVPF */
  gint rank;             /* of the fingerprint kept */
  GError *skipped;       /* why the first skipped section was skipped */
} ParseState;

/* Starts a section. One that icecam cannot use (not audio/video RTP) is skipped: @state->media
 * stays NULL and the reason is kept in case no section is usable. */
static gboolean
parse_media_line (ParseState *state, const gchar *value, GError **error)
{
  g_auto (GStrv) parts = g_strsplit (value, " ", 5);
  g_autoptr (GError) unusable = NULL;
  guint64 pt;
  gchar *end = NULL;

  state->media = NULL;
  state->section++;
  if (g_strv_length (parts) < 4) {
    g_set_error (error, ICECAM_SDP_ERROR, ICECAM_SDP_ERROR_MALFORMED,
                 "m= line '%s' has fewer than four fields", value);
    return FALSE;
  }
  if (g_strcmp0 (parts[0], "video") != 0 && g_strcmp0 (parts[0], "audio") != 0)
    unusable = g_error_new (ICECAM_SDP_ERROR, ICECAM_SDP_ERROR_UNSUPPORTED,
                            "media '%s' is not audio or video", parts[0]);
  else if (strstr (parts[2], "RTP/") == NULL)
    unusable = g_error_new (ICECAM_SDP_ERROR, ICECAM_SDP_ERROR_UNSUPPORTED,
                            "transport '%s' is not RTP", parts[2]);
  if (unusable != NULL) {
    if (state->skipped == NULL)
      state->skipped = g_steal_pointer (&unusable);
    return TRUE;
  }
  pt = g_ascii_strtoull (parts[3], &end, 10);
  if (end == parts[3] || (*end != '\0' && *end != ' ') || pt > 127) {
    g_set_error (error, ICECAM_SDP_ERROR, ICECAM_SDP_ERROR_MALFORMED,
                 "m= line '%s' has no valid payload type", value);
    return FALSE;
  }
  if (state->sdp->media->len >= ICECAM_SDP_MAX_MEDIA) {
    g_set_error (error, ICECAM_SDP_ERROR, ICECAM_SDP_ERROR_UNSUPPORTED,
                 "more than %d media sections", ICECAM_SDP_MAX_MEDIA);
    return FALSE;
  }
  state->media = icecam_sdp_add_media (state->sdp,
                                       icecam_sdp_media_new (parts[0], (guint) pt, NULL, NULL));
  if (strstr (parts[2], "SAVP") != NULL)
    state->secure = TRUE;
  return TRUE;
}

/* RFC 8843 mid and RFC 8830 msid ids: tokens, no white space. */
static gboolean
is_token (const gchar *s, gsize max_len)
{
  gsize len = strlen (s);

  if (len == 0 || len > max_len)
    return FALSE;
  for (const gchar *p = s; *p; p++) {
    if (*p == ' ' || *p == '\t')
      return FALSE;
  }
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

/* "1234 cname:abc": the first source of a section, and its cname. */
static gboolean
parse_ssrc (IcecamSdpMedia *media, const gchar *value, GError **error)
{
  gchar *end = NULL;
  guint64 ssrc;

  if (!g_ascii_isdigit (value[0]))
    goto malformed;
  ssrc = g_ascii_strtoull (value, &end, 10);
  if (ssrc == 0 || ssrc > G_MAXUINT32 || (*end != ' ' && *end != '\0'))
    goto malformed;
  if (media->ssrc == 0)
    media->ssrc = (guint32) ssrc;
  if (media->ssrc == ssrc && g_str_has_prefix (end, " cname:")) {
    if (!is_token (end + 7, 255))
      goto malformed;
    g_free (media->cname);
    media->cname = g_strdup (end + 7);
  }
  return TRUE;
malformed:
  g_set_error (error, ICECAM_SDP_ERROR, ICECAM_SDP_ERROR_MALFORMED,
               "a=ssrc:%s is not '<ssrc> <attribute>'", value);
  return FALSE;
}

/* a=msid:<stream id> [<track id>] */
static gboolean
parse_msid (IcecamSdpMedia *media, const gchar *value, GError **error)
{
  g_auto (GStrv) ids = g_strsplit (value, " ", 3);
  guint n = g_strv_length (ids);

  if (n < 1 || n > 2 || !is_token (ids[0], 64) || (n == 2 && !is_token (ids[1], 64))) {
    g_set_error (error, ICECAM_SDP_ERROR, ICECAM_SDP_ERROR_MALFORMED,
                 "a=msid:%s is not '<stream id> <track id>'", value);
    return FALSE;
  }
  g_free (media->msid);
  media->msid = g_strdup (value);
  return TRUE;
}

/* "a=fmtp:97 apt=96[;...]": 97 retransmits the section's payload type 96 (RFC 4588 8.1). */
static void
note_rtx_payload_type (IcecamSdpMedia *media, const gchar *name, guint pt, const gchar *rest)
{
  gchar *end = NULL;

  if (!g_str_equal (name, "fmtp") || !g_str_has_prefix (rest, "apt=") ||
      !g_ascii_isdigit (rest[4]))
    return;
  if (g_ascii_strtoull (rest + 4, &end, 10) == media->payload_type &&
      (*end == '\0' || *end == ';') && pt >= 96)
    media->rtx_payload_type = pt;
}

/* "FID <ssrc> <rtx ssrc>" (RFC 5576 4.2, RFC 4588 8.2): the retransmission stream's source. */
static gboolean
parse_ssrc_group (IcecamSdpMedia *media, const gchar *value, GError **error)
{
  g_auto (GStrv) parts = NULL;
  guint64 ssrc, rtx_ssrc;
  gchar *end1 = NULL, *end2 = NULL;

  if (!g_str_has_prefix (value, "FID "))
    return TRUE;
  parts = g_strsplit (value + 4, " ", 3);
  if (g_strv_length (parts) != 2 || !g_ascii_isdigit (parts[0][0]) ||
      !g_ascii_isdigit (parts[1][0]))
    goto malformed;
  ssrc = g_ascii_strtoull (parts[0], &end1, 10);
  rtx_ssrc = g_ascii_strtoull (parts[1], &end2, 10);
  if (*end1 != '\0' || *end2 != '\0' || ssrc == 0 || rtx_ssrc == 0 || ssrc > G_MAXUINT32 ||
      rtx_ssrc > G_MAXUINT32 || ssrc == rtx_ssrc)
    goto malformed;
  if (media->ssrc == 0)
    media->ssrc = (guint32) ssrc;
  if (media->ssrc == ssrc)
    media->rtx_ssrc = (guint32) rtx_ssrc;
  return TRUE;
malformed:
  g_set_error (error, ICECAM_SDP_ERROR, ICECAM_SDP_ERROR_MALFORMED,
               "a=ssrc-group:%s is not 'FID <ssrc> <ssrc>'", value);
  return FALSE;
}

/* a=rtpmap, a=fmtp and a=rtcp-fb: the ones for the section's payload type (or any, "*"). */
static gboolean
parse_payload_attribute (IcecamSdpMedia *media, const gchar *name, const gchar *value,
                         GError **error)
{
  gboolean feedback = g_str_equal (name, "rtcp-fb");
  const gchar *rest;
  guint pt;

  if (feedback && value[0] == '*' && value[1] == ' ' && value[2] != '\0') {
    pt = media->payload_type;
    rest = value + 2;
  } else if (!split_payload_attribute (value, &pt, &rest)) {
    g_set_error (error, ICECAM_SDP_ERROR, ICECAM_SDP_ERROR_MALFORMED,
                 "a=%s:%s is not '<payload type> <value>'", name, value);
    return FALSE;
  }
  if (pt != media->payload_type) {
    note_rtx_payload_type (media, name, pt, rest);
    return TRUE;
  }
  if (feedback) {
    if (media->rtcp_fb->len >= 16) {
      g_set_error (error, ICECAM_SDP_ERROR, ICECAM_SDP_ERROR_UNSUPPORTED,
                   "more than 16 a=rtcp-fb for payload type %u", pt);
      return FALSE;
    }
    g_ptr_array_add (media->rtcp_fb, g_strdup (rest));
  } else {
    gchar **slot = g_str_equal (name, "rtpmap") ? &media->rtpmap : &media->fmtp;

    g_free (*slot);
    *slot = g_strdup (rest);
  }
  return TRUE;
}

/* Attributes of the transport: session level and the first section only. */
static gboolean
parse_transport_attribute (ParseState *state, const gchar *name, const gchar *attr,
                           const gchar *value, GError **error)
{
  IcecamSdp *sdp = state->sdp;

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
    return parse_dtls_attribute (sdp, name, value, state->section == 1, &state->rank, error);
  if (state->section != 1)
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
  }
  return TRUE;
}

static gboolean
is_transport_attribute (const gchar *name)
{
  return g_str_equal (name, "ice-ufrag") || g_str_equal (name, "ice-pwd") ||
         g_str_equal (name, "fingerprint") || g_str_equal (name, "setup") ||
         g_str_equal (name, "candidate") || g_str_equal (name, "end-of-candidates");
}

static gboolean
parse_attribute (ParseState *state, const gchar *attr, GError **error)
{
  const gchar *colon = strchr (attr, ':');
  g_autofree gchar *name = colon ? g_strndup (attr, colon - attr) : g_strdup (attr);
  const gchar *value = colon ? colon + 1 : "";
  IcecamSdpMedia *media = state->media;

  if (is_transport_attribute (name)) {
    if (state->section > 1)
      return TRUE; /* bundled: the first section's transport is the one */
    return parse_transport_attribute (state, name, attr, value, error);
  }
  if (state->section == 0 && g_str_equal (name, "x-icecam-signalled-dtls"))
    state->sdp->signalled_dtls = TRUE;
  if (media == NULL)
    return TRUE; /* session level (group, msid-semantic, ...) or a skipped section */

  if (g_str_equal (name, "sendonly")) {
    media->direction = ICECAM_SDP_DIRECTION_SENDONLY;
  } else if (g_str_equal (name, "recvonly")) {
    media->direction = ICECAM_SDP_DIRECTION_RECVONLY;
  } else if (g_str_equal (name, "sendrecv")) {
    media->direction = ICECAM_SDP_DIRECTION_SENDRECV;
  } else if (g_str_equal (name, "mid")) {
    if (!is_token (value, 32)) {
      g_set_error (error, ICECAM_SDP_ERROR, ICECAM_SDP_ERROR_MALFORMED,
                   "a=mid:%s is not a token of 1..32 characters", value);
      return FALSE;
    }
    g_free (media->mid);
    media->mid = g_strdup (value);
  } else if (g_str_equal (name, "msid")) {
    return parse_msid (media, value, error);
  } else if (g_str_equal (name, "ssrc")) {
    return parse_ssrc (media, value, error);
  } else if (g_str_equal (name, "ssrc-group")) {
    return parse_ssrc_group (media, value, error);
  } else if (g_str_equal (name, "rtpmap") || g_str_equal (name, "fmtp") ||
             g_str_equal (name, "rtcp-fb")) {
    return parse_payload_attribute (media, name, value, error);
  }
  return TRUE;
}

/* The checks once every line is read. */
static gboolean
check_description (ParseState *state, GError **error)
{
  IcecamSdp *sdp = state->sdp;

  if (sdp->media->len == 0) {
    if (state->skipped != NULL)
      g_propagate_error (error, g_steal_pointer (&state->skipped));
    else
      g_set_error (error, ICECAM_SDP_ERROR, ICECAM_SDP_ERROR_MISSING, "no m= line");
    return FALSE;
  }
  if (sdp->ice_ufrag == NULL || sdp->ice_pwd == NULL) {
    g_set_error (error, ICECAM_SDP_ERROR, ICECAM_SDP_ERROR_MISSING,
                 "no a=ice-ufrag or a=ice-pwd");
    return FALSE;
  }
  for (guint i = 0; i < sdp->media->len; i++) {
    IcecamSdpMedia *media = g_ptr_array_index (sdp->media, i);

    /* A section without a mid is named by its index, as the writer does. */
    if (media->mid == NULL)
      media->mid = g_strdup_printf ("%u", i);
    for (guint j = 0; j < i; j++) {
      if (g_str_equal (media->mid, ((IcecamSdpMedia *) g_ptr_array_index (sdp->media, j))->mid)) {
        g_set_error (error, ICECAM_SDP_ERROR, ICECAM_SDP_ERROR_MALFORMED,
                     "two media sections have a=mid:%s", media->mid);
        return FALSE;
      }
    }
    if (media->rtpmap == NULL) {
      g_set_error (error, ICECAM_SDP_ERROR, ICECAM_SDP_ERROR_MISSING,
                   "no a=rtpmap for payload type %u", media->payload_type);
      return FALSE;
    }
  }
  if (state->secure && sdp->fingerprint == NULL) {
    g_set_error (error, ICECAM_SDP_ERROR, ICECAM_SDP_ERROR_MISSING,
                 "no a=fingerprint for a secure (SAVP) media section");
    return FALSE;
  }
  return TRUE;
}

IcecamSdp *
icecam_sdp_parse (const gchar *text, GError **error)
{
  g_autoptr (IcecamSdp) sdp = icecam_sdp_new ();
  ParseState state = { sdp, NULL, 0, FALSE, -1, NULL };
  g_auto (GStrv) lines = NULL;
  gboolean ok = TRUE;
  guint n_lines;

  g_return_val_if_fail (text != NULL, NULL);

  lines = g_strsplit (text, "\n", MAX_LINES + 1);
  n_lines = g_strv_length (lines);
  if (n_lines > MAX_LINES) {
    g_set_error (error, ICECAM_SDP_ERROR, ICECAM_SDP_ERROR_UNSUPPORTED,
                 "more than %d lines", MAX_LINES);
    return NULL;
  }

  for (guint i = 0; ok && i < n_lines; i++) {
    gchar *line = g_strchomp (lines[i]); /* drops the CR of CRLF */

    if (*line == '\0')
      continue;
    if (!g_ascii_isalpha (line[0]) || line[1] != '=' || !is_printable (line)) {
      g_set_error (error, ICECAM_SDP_ERROR, ICECAM_SDP_ERROR_MALFORMED,
                   "line %u is not of the form 'x=value'", i + 1);
      ok = FALSE;
    } else if (line[0] == 'm') {
      ok = parse_media_line (&state, line + 2, error);
    } else if (line[0] == 'a') {
      ok = parse_attribute (&state, line + 2, error);
    }
  }
  if (ok)
    ok = check_description (&state, error);
  g_clear_error (&state.skipped);
  return ok ? g_steal_pointer (&sdp) : NULL;
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

static void
append_source (GString *s, const IcecamSdpMedia *media, guint32 ssrc)
{
  if (ssrc != 0 && media->cname != NULL)
    g_string_append_printf (s, "a=ssrc:%u cname:%s\r\n", ssrc, media->cname);
  if (ssrc != 0 && media->msid != NULL)
    g_string_append_printf (s, "a=ssrc:%u msid:%s\r\n", ssrc, media->msid);
}

static void
append_media (GString *s, const IcecamSdp *sdp, const IcecamSdpMedia *media, guint index)
{
  g_autofree gchar *mid = media->mid ? g_strdup (media->mid) : g_strdup_printf ("%u", index);
  guint pt = media->payload_type;
  g_autofree gchar *rtx_pt = media->rtx_payload_type != 0
                               ? g_strdup_printf (" %u", media->rtx_payload_type)
                               : g_strdup ("");
  const gchar *clock = strchr (media->rtpmap, '/');

  g_string_append_printf (s,
      "m=%s 9 %s %u%s\r\n"
      "c=IN IP4 0.0.0.0\r\n"
      "a=mid:%s\r\n"
      "a=ice-ufrag:%s\r\n"
      "a=ice-pwd:%s\r\n",
      media->kind, sdp->fingerprint ? "UDP/TLS/RTP/SAVPF" : "RTP/AVPF", pt, rtx_pt, mid,
      sdp->ice_ufrag, sdp->ice_pwd);
  if (sdp->fingerprint != NULL)
    g_string_append_printf (s, "a=fingerprint:%s\r\n", sdp->fingerprint);
  if (sdp->setup != NULL)
    g_string_append_printf (s, "a=setup:%s\r\n", sdp->setup);
  g_string_append_printf (s, "a=rtcp-mux\r\na=%s\r\n", direction_to_string (media->direction));
  if (media->msid != NULL)
    g_string_append_printf (s, "a=msid:%s\r\n", media->msid);
  g_string_append_printf (s, "a=rtpmap:%u %s\r\n", pt, media->rtpmap);
  if (media->fmtp != NULL)
    g_string_append_printf (s, "a=fmtp:%u %s\r\n", pt, media->fmtp);
  for (guint i = 0; i < media->rtcp_fb->len; i++)
    g_string_append_printf (s, "a=rtcp-fb:%u %s\r\n", pt,
                            (const gchar *) g_ptr_array_index (media->rtcp_fb, i));
  if (media->rtx_payload_type != 0)
    g_string_append_printf (s, "a=rtpmap:%u rtx/%s\r\na=fmtp:%u apt=%u\r\n",
                            media->rtx_payload_type, clock ? clock + 1 : "90000",
                            media->rtx_payload_type, pt);
  if (media->ssrc != 0 && media->rtx_ssrc != 0)
    g_string_append_printf (s, "a=ssrc-group:FID %u %u\r\n", media->ssrc, media->rtx_ssrc);
  append_source (s, media, media->ssrc);
  append_source (s, media, media->rtx_ssrc);
  if (index > 0)
    return;
  for (guint i = 0; i < sdp->candidates->len; i++)
    g_string_append_printf (s, "a=%s\r\n", (const gchar *) g_ptr_array_index (sdp->candidates, i));
  if (sdp->end_of_candidates)
    g_string_append (s, "a=end-of-candidates\r\n");
}

gchar *
icecam_sdp_to_string (const IcecamSdp *sdp, guint64 session_id)
{
  GString *s = g_string_new (NULL);
  gboolean msid = FALSE;

  g_return_val_if_fail (sdp->media->len > 0 && sdp->ice_ufrag && sdp->ice_pwd, NULL);

  g_string_append_printf (s,
      "v=0\r\n"
      "o=- %" G_GUINT64_FORMAT " 1 IN IP4 0.0.0.0\r\n"
      "s=icecam\r\n"
      "t=0 0\r\n"
      "a=group:BUNDLE",
      session_id);
  for (guint i = 0; i < sdp->media->len; i++) {
    const IcecamSdpMedia *media = g_ptr_array_index (sdp->media, i);

    g_return_val_if_fail (media->kind && media->rtpmap, NULL);
    if (media->mid != NULL)
      g_string_append_printf (s, " %s", media->mid);
    else
      g_string_append_printf (s, " %u", i);
    msid |= media->msid != NULL;
  }
  g_string_append (s, "\r\na=ice-options:trickle\r\n");
  if (sdp->signalled_dtls)
    g_string_append (s, "a=x-icecam-signalled-dtls\r\n");
  if (msid)
    g_string_append (s, "a=msid-semantic: WMS *\r\n");
  for (guint i = 0; i < sdp->media->len; i++)
    append_media (s, sdp, g_ptr_array_index (sdp->media, i), i);
  return g_string_free (s, FALSE);
}
