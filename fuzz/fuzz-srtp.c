/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: SRTP and SRTCP, both profiles (AEAD_AES_128_GCM through icecam's own
 * OpenSSL path, AES128_CM_SHA1_80 through libsrtp). Every datagram a peer sends after the
 * handshake reaches icecam_srtp_unprotect(), whose header walk (CSRCs, extension, the SRTCP
 * index) runs before any tag is checked. The first input byte picks the profile and whether
 * the rest is taken as RTP or RTCP; the rest is unprotected as it is (never accepted: nobody
 * holding the keys protected it) and, taken as a plain packet, protected by one end and
 * unprotected by the other (the same bytes back, when it was a packet to protect). */

#include "icecam-fuzz.h"
#include "icecam-srtp.h"

#include <string.h>

/* Fixed keys: the target looks for parsing faults, not for keys. 16-byte keys, salts up to the
 * AES-CM profile's 14 bytes (GCM takes 12 of them). */
static const guint8 key_a[16] = { 0x2a, 0x81, 0x05, 0x9c, 0x3e, 0x77, 0xd0, 0x14,
                                  0xb6, 0x49, 0xe2, 0x5f, 0x08, 0xc3, 0x91, 0x6d };
static const guint8 key_b[16] = { 0x53, 0xee, 0x1b, 0x70, 0xa4, 0x0f, 0x39, 0xc8,
                                  0x62, 0xd5, 0x87, 0x2c, 0xf1, 0x4a, 0x9e, 0x06 };
static const guint8 salt_a[14] = { 0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc,
                                   0xfe, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab };
static const guint8 salt_b[14] = { 0xcd, 0xef, 0x02, 0x46, 0x8a, 0xce, 0x13,
                                   0x57, 0x9b, 0xdf, 0x24, 0x68, 0xac, 0xe0 };

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  icecam_fuzz_init ();
  icecam_srtp_prepare ();
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  IcecamSrtpProfile profile;
  g_autoptr (IcecamSrtp) a = NULL;
  g_autoptr (IcecamSrtp) b = NULL;
  g_autofree guint8 *packet = NULL;
  g_autofree guint8 *out = NULL;
  g_autofree guint8 *back = NULL;
  gsize length, out_length, back_length;
  gboolean rtcp, is_rtcp = FALSE;

  if (size < 1 || size > 4096)
    return 0;
  profile = (data[0] & 1) ? ICECAM_SRTP_PROFILE_AES128_CM_SHA1_80
                          : ICECAM_SRTP_PROFILE_AEAD_AES_128_GCM;
  rtcp = (data[0] & 2) != 0;
  data++;
  length = size - 1;
  /* a sends with key_a and receives with key_b; b the other way round */
  a = icecam_srtp_new (profile, key_a, salt_a, key_b, salt_b, NULL);
  b = icecam_srtp_new (profile, key_b, salt_b, key_a, salt_a, NULL);
  if (a == NULL || b == NULL)
    icecam_fuzz_fail ("no SRTP session for profile %d", profile);

  /* From the network as it is: exactly its own bytes, so that ASan sees any read past them. */
  packet = g_memdup2 (data, length);
  out = g_malloc (length + ICECAM_SRTP_MAX_OVERHEAD);
  out_length = length;
  if (icecam_srtp_unprotect (b, packet, length, out, &out_length, &is_rtcp, NULL))
    icecam_fuzz_fail ("a packet nobody protected was accepted (%" G_GSIZE_FORMAT " bytes)",
                      length);

  /* Taken as a plain packet: protected by a, unprotected by b, the same bytes back. */
  out_length = length + ICECAM_SRTP_MAX_OVERHEAD;
  if (!icecam_srtp_protect (a, rtcp, packet, length, out, &out_length, NULL))
    return 0;
  if (out_length <= length || out_length > length + ICECAM_SRTP_MAX_OVERHEAD)
    icecam_fuzz_fail ("protected %" G_GSIZE_FORMAT " bytes into %" G_GSIZE_FORMAT, length,
                      out_length);
  /* the protected packet alone in its allocation too */
  back = g_memdup2 (out, out_length);
  back_length = out_length;
  if (!icecam_srtp_unprotect (b, back, out_length, back, &back_length, &is_rtcp, NULL))
    icecam_fuzz_fail ("a packet protected by one end was refused by the other");
  if (is_rtcp != rtcp)
    icecam_fuzz_fail ("protected as %s, unprotected as %s", rtcp ? "RTCP" : "RTP",
                      is_rtcp ? "RTCP" : "RTP");
  if (back_length != length || memcmp (back, data, length) != 0)
    icecam_fuzz_fail ("the round trip changed the packet (%" G_GSIZE_FORMAT " -> %"
                      G_GSIZE_FORMAT " bytes)", length, back_length);
  /* the same packet again is a replay */
  memcpy (back, out, out_length);
  back_length = out_length;
  if (icecam_srtp_unprotect (b, back, out_length, back, &back_length, NULL, NULL))
    icecam_fuzz_fail ("a replayed packet was accepted");
  return 0;
}
