/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: what an IP camera hands icecam-camera over RTSP and icecam passes through.
 * The whole input, as text, is its SDP's H.264 format parameters (the profile from
 * sprop-parameter-sets, the fmtp offered to viewers); as bytes, an SPS NAL unit; and, cut into
 * packets by one-byte lengths, its RTP stream through the GOP cache that new viewers start from
 * (icecam_gop_cache_push(), a viewer joining halfway, paced reads until it is live). */

#include "icecam-fuzz.h"
#include "icecam-gop-cache.h"
#include "icecam-h264.h"

#include <string.h>

/* Small, so that inputs reach the group given up for its size. */
#define CACHE_BYTES 4096
#define MAX_PACKETS 256

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  icecam_fuzz_init ();
  return 0;
}

static void
check_profile (const gchar *profile, const gchar *what)
{
  if (strlen (profile) != 6 || strspn (profile, "0123456789abcdefABCDEF") != 6)
    icecam_fuzz_fail ("a profile-level-id from %s that is not six hex digits: '%s'", what,
                      profile);
}

static void
check_fmtp (const uint8_t *data, size_t size)
{
  g_autofree gchar *text = g_strndup ((const gchar *) data, size);
  g_autofree gchar *sprop = icecam_h264_fmtp_get (text, "sprop-parameter-sets");
  g_autofree gchar *offer = icecam_h264_fmtp_for_offer (text, "42e01f");
  g_autofree gchar *offered = NULL;
  gchar profile[ICECAM_H264_PROFILE_LEVEL_ID_LENGTH];

  if (icecam_h264_profile_level_id_from_sprop (text, profile))
    check_profile (profile, "a sprop-parameter-sets value");
  if (sprop != NULL && icecam_h264_profile_level_id_from_sprop (sprop, profile))
    check_profile (profile, "the fmtp's sprop-parameter-sets");
  if (offer == NULL)
    icecam_fuzz_fail ("no fmtp offered for a known profile");
  offered = icecam_h264_fmtp_get (offer, "profile-level-id");
  if (g_strcmp0 (offered, "42e01f") != 0)
    icecam_fuzz_fail ("the fmtp offered says profile-level-id=%s, not the stream's 42e01f",
                      offered != NULL ? offered : "(none)");
  g_clear_pointer (&offer, g_free);
  offer = icecam_h264_fmtp_for_offer (text, NULL);
  if (offer != NULL) {
    g_clear_pointer (&offered, g_free);
    offered = icecam_h264_fmtp_get (offer, "profile-level-id");
    if (offered == NULL)
      icecam_fuzz_fail ("an fmtp offered without a profile-level-id: '%s'", offer);
  }
}

/* Whether @packet is one of the @n pushed. */
static gboolean
was_pushed (GBytes *packet, const guint8 * const *pushed, const gsize *lengths, guint n)
{
  gsize length;
  const guint8 *data = g_bytes_get_data (packet, &length);

  for (guint i = 0; i < n; i++) {
    if (lengths[i] == length && (length == 0 || memcmp (pushed[i], data, length) == 0))
      return TRUE;
  }
  return FALSE;
}

static void
check_gop_cache (const uint8_t *data, size_t size)
{
  g_autoptr (IcecamGopCache) cache = icecam_gop_cache_new (CACHE_BYTES);
  g_autoptr (GPtrArray) copies = g_ptr_array_new_with_free_func (g_free);
  const guint8 *packets[MAX_PACKETS];
  gsize lengths[MAX_PACKETS];
  IcecamGopCursor cursor = { 0 };
  guint n = 0, joined = 0;
  gint64 now = 1000 * G_USEC_PER_SEC;

  /* each packet its own allocation, so that ASan sees any read past it */
  for (gsize at = 0; at < size && n < MAX_PACKETS;) {
    gsize length = MIN ((gsize) data[at], size - at - 1);

    packets[n] = g_malloc (MAX (length, 1)); /* never NULL, as a packet never is */
    memcpy ((guint8 *) packets[n], data + at + 1, length);
    g_ptr_array_add (copies, (gpointer) packets[n]);
    lengths[n++] = length;
    at += 1 + length;
  }
  icecam_gop_cache_push (cache, packets, lengths, n / 2);
  if (icecam_gop_cache_start (cache, &cursor, now, NULL, NULL))
    joined = 1;
  icecam_gop_cache_push (cache, packets + n / 2, lengths + n / 2, n - n / 2);
  for (guint round = 0; joined && round < 64; round++) {
    g_autoptr (GPtrArray) out = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
    IcecamGopCursorState state = icecam_gop_cache_take (cache, &cursor, now, out);

    for (guint i = 0; i < out->len; i++) {
      if (!was_pushed (g_ptr_array_index (out, i), packets, lengths, n))
        icecam_fuzz_fail ("the cache gave a packet nobody pushed");
    }
    if (state != ICECAM_GOP_CURSOR_CATCHING_UP)
      break;
    now += 100 * G_TIME_SPAN_MILLISECOND;
  }
  icecam_gop_cursor_clear (&cursor);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree guint8 *nal = NULL;
  gchar profile[ICECAM_H264_PROFILE_LEVEL_ID_LENGTH];

  if (size > 16384)
    return 0;
  check_fmtp (data, size);
  nal = g_memdup2 (data, size);
  if (icecam_h264_profile_level_id_from_sps (nal, size, profile))
    check_profile (profile, "an SPS");
  check_gop_cache (data, size);
  return 0;
}
