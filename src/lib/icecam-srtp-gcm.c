/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* SRTP AEAD_AES_128_GCM (RFC 7714) for RTP and RTCP through OpenSSL's EVP: the per-packet fast
 * path. */

#include "icecam-srtp-gcm.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <string.h>

#define KEY_LENGTH 16
#define SALT_LENGTH 12      /* the profile's master and session salt */
#define KDF_SALT_LENGTH 14  /* the AES-CM PRF's x: the 12-byte salt, zero-padded */
#define LABEL_RTP_KEY 0x00  /* RFC 3711 section 4.3.1 */
#define LABEL_RTP_SALT 0x02
#define LABEL_RTCP_KEY 0x03
#define LABEL_RTCP_SALT 0x05
#define RTCP_HEADER_LENGTH 8  /* RFC 7714 section 9.3: what the AAD takes of an RTCP packet */
#define RTCP_MAX_INDEX 0x7fffffff
#define WINDOW_WORDS (ICECAM_SRTP_GCM_WINDOW / 64)
#define MEDIAN 32768        /* half the sequence number space */

/**
 * IcecamSrtpGcm:
 *
 * One direction of SRTP or of SRTCP (icecam_srtp_gcm_new_rtcp()) with the AEAD_AES_128_GCM
 * profile, its cipher an OpenSSL EVP context keyed once: per packet only the IV changes.
 * Debian's libsrtp2 does its AES-GCM through NSS's PKCS#11 layer, ~5x the CPU of this on a
 * 1200-byte packet (docs/benchmarks.md, section 2).
 *
 * It keeps libsrtp's semantics (libsrtp 2.5 srtp.c and rdbx.c, read, not copied): per SSRC an
 * extended index (roll-over counter and sequence number, guessed from the highest seen as in
 * RFC 3711 appendix A, ROC 0 while the highest is below 32768), a replay window of
 * %ICECAM_SRTP_GCM_WINDOW indices; the outbound side refuses to protect an index twice (a
 * repeated IV would reveal the keystream) or one older than its window, the inbound side
 * drops replays and indices older than the window, and records an index only once its tag
 * verified. SRTCP (RFC 7714 section 9) carries its 31-bit index in the packet: the outbound
 * side counts it per SSRC from 1 as libsrtp does and stops at 2^31 - 1 (the keys are spent),
 * the inbound side keeps the same window over it. Not thread-safe: IcecamSrtp holds its
 * direction's lock around every call.
 */
typedef struct {
  guint32 ssrc;
  guint64 index; /* highest extended index: ROC << 16 | seq */
  guint64 seen[WINDOW_WORDS]; /* bit (i % WINDOW): index i, for the WINDOW up to index */
} Stream;

struct _IcecamSrtpGcm {
  EVP_CIPHER_CTX *ctx;
  gboolean outbound;
  gboolean rtcp;
  guint8 salt[SALT_LENGTH];
  Stream streams[ICECAM_SRTP_GCM_MAX_STREAMS];
  guint n_streams;
};

/**
 * icecam_srtp_gcm_enabled:
 *
 * Returns: whether icecam protects RTP with AES-GCM itself (the default), or leaves it to
 *   libsrtp because the environment says ICECAM_SRTP=libsrtp (to compare the two)
 */
gboolean
icecam_srtp_gcm_enabled (void)
{
  static gsize enabled = 0;

  if (g_once_init_enter (&enabled))
    g_once_init_leave (&enabled, g_strcmp0 (g_getenv ("ICECAM_SRTP"), "libsrtp") == 0 ? 1 : 2);
  return enabled == 2;
}

/**
 * icecam_srtp_gcm_derive:
 * @master_key: (array fixed-size=16)
 * @master_salt: (array length=salt_length)
 * @salt_length: 12 (RFC 7714) or 14 (RFC 3711)
 * @label: RFC 3711 section 4.3.1's label (0x00 RTP key, 0x02 RTP salt ...)
 *
 * The AES-CM PRF of RFC 3711 section 4.3.3 with a key derivation rate of 0 (the only one
 * DTLS-SRTP uses): AES-CTR keystream under the master key from x = salt XOR (label << 48),
 * a 12-byte salt of RFC 7714 zero-padded to 14 bytes as libsrtp does.
 */
gboolean
icecam_srtp_gcm_derive (const guint8 *master_key, const guint8 *master_salt, gsize salt_length,
                        guint8 label, guint8 *out, gsize out_length)
{
  guint8 iv[16] = { 0 };
  EVP_CIPHER_CTX *ctx;
  int n = 0;
  gboolean ok;

  g_return_val_if_fail (salt_length <= KDF_SALT_LENGTH, FALSE);
  ctx = EVP_CIPHER_CTX_new ();
  memcpy (iv, master_salt, salt_length);
  iv[7] ^= label;
  memset (out, 0, out_length);
  ok = ctx != NULL && out_length <= G_MAXINT &&
       EVP_EncryptInit_ex (ctx, EVP_aes_128_ctr (), NULL, master_key, iv) == 1 &&
       EVP_EncryptUpdate (ctx, out, &n, out, (int) out_length) == 1 && (gsize) n == out_length;
  EVP_CIPHER_CTX_free (ctx);
  G_STATIC_ASSERT (KDF_SALT_LENGTH + 2 == sizeof iv);
  return ok;
}

static IcecamSrtpGcm *
gcm_new (const guint8 *master_key, const guint8 *master_salt, gboolean outbound, gboolean rtcp)
{
  g_autoptr (IcecamSrtpGcm) self = g_new0 (IcecamSrtpGcm, 1);
  guint8 session_key[KEY_LENGTH];
  gboolean ok;

  self->outbound = outbound;
  self->rtcp = rtcp;
  self->ctx = EVP_CIPHER_CTX_new ();
  ok = self->ctx != NULL &&
       icecam_srtp_gcm_derive (master_key, master_salt, SALT_LENGTH,
                               rtcp ? LABEL_RTCP_KEY : LABEL_RTP_KEY, session_key,
                               sizeof session_key) &&
       icecam_srtp_gcm_derive (master_key, master_salt, SALT_LENGTH,
                               rtcp ? LABEL_RTCP_SALT : LABEL_RTP_SALT, self->salt,
                               sizeof self->salt) &&
       (outbound ? EVP_EncryptInit_ex (self->ctx, EVP_aes_128_gcm (), NULL, session_key, NULL)
                 : EVP_DecryptInit_ex (self->ctx, EVP_aes_128_gcm (), NULL, session_key,
                                       NULL)) == 1;
  OPENSSL_cleanse (session_key, sizeof session_key);
  return ok ? g_steal_pointer (&self) : NULL;
}

/**
 * icecam_srtp_gcm_new:
 * @master_key: (array fixed-size=16): the direction's master key, from DTLS-SRTP
 * @master_salt: (array fixed-size=12): its master salt
 * @outbound: protect (else unprotect)
 *
 * Returns: (transfer full) (nullable): the context for RTP, or %NULL if OpenSSL failed
 */
IcecamSrtpGcm *
icecam_srtp_gcm_new (const guint8 *master_key, const guint8 *master_salt, gboolean outbound)
{
  return gcm_new (master_key, master_salt, outbound, FALSE);
}

/**
 * icecam_srtp_gcm_new_rtcp:
 * @master_key: (array fixed-size=16): the direction's master key, from DTLS-SRTP
 * @master_salt: (array fixed-size=12): its master salt
 * @outbound: protect (else unprotect)
 *
 * Returns: (transfer full) (nullable): the context for RTCP (SRTCP's session keys), or %NULL
 *   if OpenSSL failed
 */
IcecamSrtpGcm *
icecam_srtp_gcm_new_rtcp (const guint8 *master_key, const guint8 *master_salt,
                          gboolean outbound)
{
  return gcm_new (master_key, master_salt, outbound, TRUE);
}

void
icecam_srtp_gcm_free (IcecamSrtpGcm *self)
{
  if (self == NULL)
    return;
  EVP_CIPHER_CTX_free (self->ctx);
  OPENSSL_cleanse (self, sizeof *self);
  g_free (self);
}

/* RFC 3550 section 5.1: the fixed header, CSRCs and header extension; 0 if they do not fit. */
static gsize
header_length (const guint8 *p, gsize length)
{
  gsize header = 12;

  if (length < header || (p[0] >> 6) != 2)
    return 0;
  header += 4 * (gsize) (p[0] & 0x0f);
  if (p[0] & 0x10) {
    if (header + 4 > length)
      return 0;
    header += 4 + 4 * (((gsize) p[header + 2] << 8) | p[header + 3]);
  }
  return header <= length ? header : 0;
}

/* The stream's guess of @seq's extended index, and how far it is ahead of the highest. */
static gint64
estimate_index (const Stream *stream, guint16 seq, guint64 *index)
{
  gint64 local_seq = (gint64) (stream->index & 0xffff), s = seq;
  guint64 roc = stream->index >> 16;

  if (stream->index <= MEDIAN) {
    *index = seq; /* near the start nothing goes back to a ROC below 0 */
    return s - (gint64) stream->index;
  }
  if (local_seq < MEDIAN && s - local_seq > MEDIAN) {
    *index = ((roc - 1) << 16) | seq;
    return s - local_seq - 65536;
  }
  if (local_seq >= MEDIAN && local_seq - MEDIAN > s) {
    *index = ((roc + 1) << 16) | seq;
    return s - local_seq + 65536;
  }
  *index = (roc << 16) | seq;
  return s - local_seq;
}

static IcecamSrtpGcmResult
check_replay (const Stream *stream, gint64 delta, guint64 index)
{
  if (delta > 0)
    return ICECAM_SRTP_GCM_OK;
  if (-delta >= ICECAM_SRTP_GCM_WINDOW)
    return ICECAM_SRTP_GCM_REPLAY_OLD;
  index %= ICECAM_SRTP_GCM_WINDOW;
  return (stream->seen[index / 64] >> (index % 64)) & 1 ? ICECAM_SRTP_GCM_REPLAY
                                                        : ICECAM_SRTP_GCM_OK;
}

static void
set_seen (Stream *stream, guint64 index, gboolean seen)
{
  guint64 bit = index % ICECAM_SRTP_GCM_WINDOW;

  if (seen)
    stream->seen[bit / 64] |= G_GUINT64_CONSTANT (1) << (bit % 64);
  else
    stream->seen[bit / 64] &= ~(G_GUINT64_CONSTANT (1) << (bit % 64));
}

static void
add_index (Stream *stream, gint64 delta, guint64 index)
{
  if (delta > 0) {
    if (delta >= ICECAM_SRTP_GCM_WINDOW) {
      memset (stream->seen, 0, sizeof stream->seen);
    } else {
      for (gint64 i = 1; i < delta; i++)
        set_seen (stream, stream->index + (guint64) i, FALSE);
    }
    stream->index = index;
  }
  set_seen (stream, index, TRUE);
}

static Stream *
find_stream (IcecamSrtpGcm *self, guint32 ssrc)
{
  for (guint i = 0; i < self->n_streams; i++) {
    if (self->streams[i].ssrc == ssrc)
      return &self->streams[i];
  }
  return NULL;
}

/* The stream of @ssrc, or @fresh set up for it if it is new (kept by keep_stream() only once
 * its first packet passed the replay check); NULL if there is no room for another. */
static Stream *
lookup_stream (IcecamSrtpGcm *self, guint32 ssrc, Stream *fresh)
{
  Stream *stream = find_stream (self, ssrc);

  if (stream != NULL)
    return stream;
  if (self->n_streams == ICECAM_SRTP_GCM_MAX_STREAMS)
    return NULL;
  memset (fresh, 0, sizeof *fresh);
  fresh->ssrc = ssrc;
  return fresh;
}

static Stream *
keep_stream (IcecamSrtpGcm *self, Stream *stream, const Stream *fresh)
{
  if (stream != fresh)
    return stream;
  self->streams[self->n_streams] = *fresh;
  return &self->streams[self->n_streams++];
}

/* RFC 7714 section 8.1: 00 00 || SSRC || ROC || SEQ, XOR the session salt. */
static void
make_iv (const IcecamSrtpGcm *self, guint32 ssrc, guint64 index, guint8 iv[12])
{
  guint32 roc = (guint32) (index >> 16);

  iv[0] = iv[1] = 0;
  iv[2] = ssrc >> 24; iv[3] = ssrc >> 16; iv[4] = ssrc >> 8; iv[5] = ssrc;
  iv[6] = roc >> 24; iv[7] = roc >> 16; iv[8] = roc >> 8; iv[9] = roc;
  iv[10] = (index >> 8) & 0xff; iv[11] = index & 0xff;
  for (guint i = 0; i < SALT_LENGTH; i++)
    iv[i] ^= self->salt[i];
}

static guint32
read_ssrc (const guint8 *p)
{
  return ((guint32) p[8] << 24) | ((guint32) p[9] << 16) | ((guint32) p[10] << 8) | p[11];
}

/**
 * icecam_srtp_gcm_protect:
 * @packet: (array length=length): a plain RTP packet, encrypted in place
 * @room: the bytes at @packet (at least @length + %ICECAM_SRTP_GCM_TAG_LENGTH)
 * @out_length: (out): the SRTP packet's length
 */
IcecamSrtpGcmResult
icecam_srtp_gcm_protect (IcecamSrtpGcm *self, guint8 *packet, gsize length, gsize room,
                         gsize *out_length)
{
  gsize header = header_length (packet, length);
  guint32 ssrc;
  Stream *stream;
  Stream fresh = { 0 };
  guint64 index;
  gint64 delta;
  IcecamSrtpGcmResult result;
  guint8 iv[12];
  int n = 0;

  g_return_val_if_fail (self->outbound && !self->rtcp, ICECAM_SRTP_GCM_INTERNAL);
  if (header == 0 || length > G_MAXINT || room < length + ICECAM_SRTP_GCM_TAG_LENGTH)
    return ICECAM_SRTP_GCM_MALFORMED;
  ssrc = read_ssrc (packet);
  stream = lookup_stream (self, ssrc, &fresh);
  if (stream == NULL)
    return ICECAM_SRTP_GCM_LIMIT;
  delta = estimate_index (stream, ((guint16) packet[2] << 8) | packet[3], &index);
  result = check_replay (stream, delta, index);
  if (result != ICECAM_SRTP_GCM_OK)
    return result;
  /* Counted before the cipher runs, as libsrtp does: an index is never used twice. */
  stream = keep_stream (self, stream, &fresh);
  add_index (stream, delta, index);

  make_iv (self, ssrc, index, iv);
  if (EVP_EncryptInit_ex (self->ctx, NULL, NULL, NULL, iv) != 1 ||
      EVP_EncryptUpdate (self->ctx, NULL, &n, packet, (int) header) != 1 ||
      EVP_EncryptUpdate (self->ctx, packet + header, &n, packet + header,
                         (int) (length - header)) != 1 ||
      EVP_EncryptFinal_ex (self->ctx, packet + header + n, &n) != 1 ||
      EVP_CIPHER_CTX_ctrl (self->ctx, EVP_CTRL_GCM_GET_TAG, ICECAM_SRTP_GCM_TAG_LENGTH,
                           packet + length) != 1)
    return ICECAM_SRTP_GCM_INTERNAL;
  *out_length = length + ICECAM_SRTP_GCM_TAG_LENGTH;
  return ICECAM_SRTP_GCM_OK;
}

/**
 * icecam_srtp_gcm_unprotect:
 * @packet: (array length=length): an SRTP packet from the network, decrypted in place
 * @out_length: (out): the plain RTP packet's length
 *
 * A packet of an SSRC not seen yet is accepted only while fewer than
 * %ICECAM_SRTP_GCM_MAX_STREAMS are known (IcecamSrtp bounds the inbound SSRCs tighter).
 */
IcecamSrtpGcmResult
icecam_srtp_gcm_unprotect (IcecamSrtpGcm *self, guint8 *packet, gsize length,
                           gsize *out_length)
{
  gsize header;
  gsize plain;
  guint32 ssrc;
  Stream *stream;
  Stream fresh = { 0 };
  guint64 index;
  gint64 delta;
  IcecamSrtpGcmResult result;
  guint8 iv[12];
  int n = 0;

  g_return_val_if_fail (!self->outbound && !self->rtcp, ICECAM_SRTP_GCM_INTERNAL);
  if (length < ICECAM_SRTP_GCM_TAG_LENGTH || length > G_MAXINT)
    return ICECAM_SRTP_GCM_MALFORMED;
  plain = length - ICECAM_SRTP_GCM_TAG_LENGTH;
  header = header_length (packet, plain);
  if (header == 0)
    return ICECAM_SRTP_GCM_MALFORMED;
  ssrc = read_ssrc (packet);
  stream = lookup_stream (self, ssrc, &fresh);
  if (stream == NULL)
    return ICECAM_SRTP_GCM_LIMIT;
  delta = estimate_index (stream, ((guint16) packet[2] << 8) | packet[3], &index);
  result = check_replay (stream, delta, index);
  if (result != ICECAM_SRTP_GCM_OK)
    return result;

  make_iv (self, ssrc, index, iv);
  if (EVP_DecryptInit_ex (self->ctx, NULL, NULL, NULL, iv) != 1 ||
      EVP_DecryptUpdate (self->ctx, NULL, &n, packet, (int) header) != 1 ||
      EVP_DecryptUpdate (self->ctx, packet + header, &n, packet + header,
                         (int) (plain - header)) != 1 ||
      EVP_CIPHER_CTX_ctrl (self->ctx, EVP_CTRL_GCM_SET_TAG, ICECAM_SRTP_GCM_TAG_LENGTH,
                           packet + plain) != 1)
    return ICECAM_SRTP_GCM_INTERNAL;
  if (EVP_DecryptFinal_ex (self->ctx, packet + header + n, &n) != 1)
    return ICECAM_SRTP_GCM_AUTH; /* the payload is garbage now; the caller drops it */

  /* Only an authenticated packet makes a stream or moves its window. */
  stream = keep_stream (self, stream, &fresh);
  add_index (stream, delta, index);
  *out_length = plain;
  return ICECAM_SRTP_GCM_OK;
}

/* RFC 7714 section 9.1: 00 00 || SSRC || 00 00 || 0 + SRTCP index, XOR the session salt. */
static void
make_rtcp_iv (const IcecamSrtpGcm *self, guint32 ssrc, guint32 index, guint8 iv[12])
{
  iv[0] = iv[1] = 0;
  iv[2] = ssrc >> 24; iv[3] = ssrc >> 16; iv[4] = ssrc >> 8; iv[5] = ssrc;
  iv[6] = iv[7] = 0;
  iv[8] = index >> 24; iv[9] = index >> 16; iv[10] = index >> 8; iv[11] = index;
  for (guint i = 0; i < SALT_LENGTH; i++)
    iv[i] ^= self->salt[i];
}

static guint32
read_u32 (const guint8 *p)
{
  return ((guint32) p[0] << 24) | ((guint32) p[1] << 16) | ((guint32) p[2] << 8) | p[3];
}

static void
write_u32 (guint8 *p, guint32 value)
{
  p[0] = value >> 24; p[1] = value >> 16; p[2] = value >> 8; p[3] = value;
}

/**
 * icecam_srtp_gcm_protect_rtcp:
 * @packet: (array length=length): a plain RTCP packet (compound allowed), encrypted in place
 *   after its first 8 bytes
 * @room: the bytes at @packet (at least @length + %ICECAM_SRTP_GCM_TAG_LENGTH + 4)
 * @out_length: (out): the SRTCP packet's length: the tag and the E flag with the index follow
 */
IcecamSrtpGcmResult
icecam_srtp_gcm_protect_rtcp (IcecamSrtpGcm *self, guint8 *packet, gsize length, gsize room,
                              gsize *out_length)
{
  guint32 ssrc, trailer;
  Stream *stream;
  guint8 iv[12], aad_trailer[4];
  int n = 0;

  g_return_val_if_fail (self->outbound && self->rtcp, ICECAM_SRTP_GCM_INTERNAL);
  if (length < RTCP_HEADER_LENGTH || length > G_MAXINT ||
      room < length + ICECAM_SRTP_GCM_TAG_LENGTH + 4)
    return ICECAM_SRTP_GCM_MALFORMED;
  ssrc = read_u32 (packet + 4);
  stream = find_stream (self, ssrc);
  if (stream == NULL) {
    if (self->n_streams == ICECAM_SRTP_GCM_MAX_STREAMS)
      return ICECAM_SRTP_GCM_LIMIT;
    stream = &self->streams[self->n_streams++];
    memset (stream, 0, sizeof *stream);
    stream->ssrc = ssrc;
  }
  if (stream->index >= RTCP_MAX_INDEX)
    return ICECAM_SRTP_GCM_LIMIT; /* every index used: an IV would repeat */
  /* Counted before the cipher runs: an index is never used twice. */
  stream->index++;
  trailer = 0x80000000u | (guint32) stream->index; /* E: encrypted */
  write_u32 (aad_trailer, trailer);

  make_rtcp_iv (self, ssrc, (guint32) stream->index, iv);
  if (EVP_EncryptInit_ex (self->ctx, NULL, NULL, NULL, iv) != 1 ||
      EVP_EncryptUpdate (self->ctx, NULL, &n, packet, RTCP_HEADER_LENGTH) != 1 ||
      EVP_EncryptUpdate (self->ctx, NULL, &n, aad_trailer, sizeof aad_trailer) != 1 ||
      EVP_EncryptUpdate (self->ctx, packet + RTCP_HEADER_LENGTH, &n,
                         packet + RTCP_HEADER_LENGTH, (int) (length - RTCP_HEADER_LENGTH)) != 1 ||
      EVP_EncryptFinal_ex (self->ctx, packet + RTCP_HEADER_LENGTH + n, &n) != 1 ||
      EVP_CIPHER_CTX_ctrl (self->ctx, EVP_CTRL_GCM_GET_TAG, ICECAM_SRTP_GCM_TAG_LENGTH,
                           packet + length) != 1)
    return ICECAM_SRTP_GCM_INTERNAL;
  write_u32 (packet + length + ICECAM_SRTP_GCM_TAG_LENGTH, trailer);
  *out_length = length + ICECAM_SRTP_GCM_TAG_LENGTH + 4;
  return ICECAM_SRTP_GCM_OK;
}

/**
 * icecam_srtp_gcm_unprotect_rtcp:
 * @packet: (array length=length): an SRTCP packet from the network, decrypted in place
 * @out_length: (out): the plain RTCP packet's length
 *
 * Takes encrypted packets and, as RFC 7714 section 9.2 allows, authenticated-only ones (E
 * flag clear: the whole packet is the AAD).
 */
IcecamSrtpGcmResult
icecam_srtp_gcm_unprotect_rtcp (IcecamSrtpGcm *self, guint8 *packet, gsize length,
                                gsize *out_length)
{
  gsize plain, aad;
  guint32 ssrc, trailer;
  guint64 index;
  gboolean encrypted;
  Stream *stream;
  Stream fresh = { 0 };
  gint64 delta;
  IcecamSrtpGcmResult result;
  guint8 iv[12];
  int n = 0;

  g_return_val_if_fail (!self->outbound && self->rtcp, ICECAM_SRTP_GCM_INTERNAL);
  if (length < RTCP_HEADER_LENGTH + ICECAM_SRTP_GCM_TAG_LENGTH + 4 || length > G_MAXINT)
    return ICECAM_SRTP_GCM_MALFORMED;
  plain = length - ICECAM_SRTP_GCM_TAG_LENGTH - 4;
  trailer = read_u32 (packet + length - 4);
  encrypted = (trailer & 0x80000000u) != 0;
  index = trailer & RTCP_MAX_INDEX;
  ssrc = read_u32 (packet + 4);
  stream = lookup_stream (self, ssrc, &fresh);
  if (stream == NULL)
    return ICECAM_SRTP_GCM_LIMIT;
  delta = (gint64) index - (gint64) stream->index;
  result = check_replay (stream, delta, index);
  if (result != ICECAM_SRTP_GCM_OK)
    return result;

  aad = encrypted ? RTCP_HEADER_LENGTH : plain;
  make_rtcp_iv (self, ssrc, (guint32) index, iv);
  if (EVP_DecryptInit_ex (self->ctx, NULL, NULL, NULL, iv) != 1 ||
      EVP_DecryptUpdate (self->ctx, NULL, &n, packet, (int) aad) != 1 ||
      EVP_DecryptUpdate (self->ctx, NULL, &n, packet + length - 4, 4) != 1 ||
      (plain > aad && EVP_DecryptUpdate (self->ctx, packet + aad, &n, packet + aad,
                                         (int) (plain - aad)) != 1) ||
      EVP_CIPHER_CTX_ctrl (self->ctx, EVP_CTRL_GCM_SET_TAG, ICECAM_SRTP_GCM_TAG_LENGTH,
                           packet + plain) != 1)
    return ICECAM_SRTP_GCM_INTERNAL;
  if (EVP_DecryptFinal_ex (self->ctx, packet + plain, &n) != 1)
    return ICECAM_SRTP_GCM_AUTH; /* the payload is garbage now; the caller drops it */

  stream = keep_stream (self, stream, &fresh);
  add_index (stream, delta, index);
  *out_length = plain;
  return ICECAM_SRTP_GCM_OK;
}
