/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* OpenSSL plumbing for DTLS-SRTP: the SSL icecam configures, its datagram BIO, key export. */

#include "icecam-dtls-openssl.h"

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/srtp.h>
#include <string.h>

#include "icecam-certificate-private.h"
#include "icecam-dtls-srtp.h"

/* The size of the largest datagram the handshake sends: icecam's media MTU (room for TURN). */
#define DTLS_MTU 1200
/* One handshake flight is a handful of records; more output than this from one call is a bug,
 * and dropping it keeps memory bounded. */
#define MAX_OUTGOING 64
/* Retransmission: the ICE path already works when DTLS starts, so round trips are known to be
 * short; start at 400 ms and double up to 2 s (OpenSSL's default starts at 1 s, caps at 60 s). */
#define RETRANSMIT_INITIAL_US (400 * 1000)
#define RETRANSMIT_MAX_US (2000 * 1000)
#define EXPORTER_LABEL "EXTRACTOR-dtls_srtp"
#define MAX_KEYING_MATERIAL (2 * (16 + 14))

/* Modern ECDHE + AEAD suites only (DTLS 1.2). ECDSA first: icecam's keys are P-256. */
#define CIPHER_LIST "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305:" \
                    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256:"     \
                    "ECDHE-RSA-CHACHA20-POLY1305:ECDHE-RSA-AES256-GCM-SHA384"

/* Takes OpenSSL's (thread-local) error queue into a message and leaves it empty. */
gchar *
icecam_dtls_take_openssl_errors (void)
{
  unsigned long code = ERR_get_error ();
  gchar buf[256] = "no OpenSSL reason";

  if (code != 0)
    ERR_error_string_n (code, buf, sizeof buf);
  ERR_clear_error ();
  return g_strdup (buf);
}

/* The datagram BIO: one BIO_write is one datagram, one BIO_read one datagram. */

static int
bio_write (BIO *bio, const char *data, int length)
{
  IcecamDtlsDatagrams *io = BIO_get_data (bio);

  BIO_clear_retry_flags (bio);
  if (length <= 0)
    return 0;
  if (io->outgoing->len < MAX_OUTGOING)
    g_ptr_array_add (io->outgoing, g_bytes_new (data, length));
  return length;
}

static int
bio_read (BIO *bio, char *buf, int size)
{
  IcecamDtlsDatagrams *io = BIO_get_data (bio);
  gsize n;

  BIO_clear_retry_flags (bio);
  if (io->incoming == NULL || size <= 0) {
    BIO_set_retry_read (bio);
    return -1;
  }
  n = MIN ((gsize) size, io->incoming_length); /* a truncated record is simply invalid */
  memcpy (buf, io->incoming, n);
  io->incoming = NULL;
  return (int) n;
}

static long
bio_ctrl (BIO *bio, int cmd, long num, void *ptr)
{
  switch (cmd) {
    case BIO_CTRL_FLUSH:
      return 1;
    case BIO_CTRL_DGRAM_QUERY_MTU:
    case BIO_CTRL_DGRAM_GET_FALLBACK_MTU:
      return DTLS_MTU;
    default:
      return 0;
  }
}

static int
bio_create (BIO *bio)
{
  BIO_set_init (bio, 1);
  return 1;
}

static gpointer
create_bio_method (gpointer data)
{
  BIO_METHOD *method = BIO_meth_new (BIO_get_new_index () | BIO_TYPE_SOURCE_SINK,
                                     "icecam-dtls-datagram");

  if (method == NULL)
    return NULL;
  BIO_meth_set_write (method, bio_write);
  BIO_meth_set_read (method, bio_read);
  BIO_meth_set_ctrl (method, bio_ctrl);
  BIO_meth_set_create (method, bio_create);
  return method;
}

/* A constant method table, made once per process. */
static BIO_METHOD *
get_bio_method (void)
{
  static GOnce once = G_ONCE_INIT;

  return g_once (&once, create_bio_method, NULL);
}

static unsigned int
dtls_timer_cb (SSL *ssl, unsigned int previous_us)
{
  if (previous_us == 0)
    return RETRANSMIT_INITIAL_US;
  return MIN (previous_us * 2, RETRANSMIT_MAX_US);
}

static IcecamSrtpProfile
selected_profile (SSL *ssl)
{
  SRTP_PROTECTION_PROFILE *p = SSL_get_selected_srtp_profile (ssl);

  if (p == NULL)
    return ICECAM_SRTP_PROFILE_NONE;
  switch (p->id) {
    case SRTP_AES128_CM_SHA1_80:
      return ICECAM_SRTP_PROFILE_AES128_CM_SHA1_80;
    case SRTP_AEAD_AES_128_GCM:
      return ICECAM_SRTP_PROFILE_AEAD_AES_128_GCM;
    default:
      return ICECAM_SRTP_PROFILE_NONE;
  }
}

/**
 * icecam_dtls_export_srtp:
 *
 * After a completed handshake: the negotiated profile's keys, exported with the RFC 5764
 * label, as libsrtp contexts for this side.
 *
 * Returns: (transfer full) (nullable): the contexts, or %NULL with @error set
 */
IcecamSrtp *
icecam_dtls_export_srtp (SSL *ssl, gboolean is_client, GError **error)
{
  IcecamSrtpProfile profile = selected_profile (ssl);
  gsize key = icecam_srtp_profile_get_key_length (profile);
  gsize salt = icecam_srtp_profile_get_salt_length (profile);
  guint8 material[MAX_KEYING_MATERIAL];
  const guint8 *client_key = material, *server_key = material + key;
  const guint8 *client_salt = material + 2 * key, *server_salt = material + 2 * key + salt;
  IcecamSrtp *srtp;

  if (profile == ICECAM_SRTP_PROFILE_NONE) {
    g_set_error (error, ICECAM_DTLS_SRTP_ERROR, ICECAM_DTLS_SRTP_ERROR_HANDSHAKE,
                 "the peer negotiated no SRTP profile icecam supports (use_srtp)");
    return NULL;
  }
  if (SSL_export_keying_material (ssl, material, 2 * (key + salt), EXPORTER_LABEL,
                                  strlen (EXPORTER_LABEL), NULL, 0, 0) != 1) {
    g_autofree gchar *reason = icecam_dtls_take_openssl_errors ();

    g_set_error (error, ICECAM_DTLS_SRTP_ERROR, ICECAM_DTLS_SRTP_ERROR_INTERNAL,
                 "cannot export SRTP keying material: %s", reason);
    return NULL;
  }
  /* RFC 5764 section 4.2: client key | server key | client salt | server salt. */
  if (is_client)
    srtp = icecam_srtp_new (profile, client_key, client_salt, server_key, server_salt, error);
  else
    srtp = icecam_srtp_new (profile, server_key, server_salt, client_key, client_salt, error);
  OPENSSL_cleanse (material, sizeof material);
  return srtp;
}

/* For use_srtp, in preference order. */
const gchar *
icecam_dtls_profile_list (IcecamSrtpProfile profiles)
{
  /* The server's order decides: GCM first, it authenticates and encrypts in one pass. */
  if (profiles == ICECAM_SRTP_PROFILE_AES128_CM_SHA1_80)
    return "SRTP_AES128_CM_SHA1_80";
  if (profiles == ICECAM_SRTP_PROFILE_AEAD_AES_128_GCM)
    return "SRTP_AEAD_AES_128_GCM";
  return "SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80";
}

/**
 * icecam_dtls_ssl_new:
 * @datagrams: what the SSL's BIO reads and writes; must outlive the SSL
 * @verify: replaces certificate chain verification (the caller checks the fingerprint)
 * @app_data: for SSL_get_app_data(), e.g. in @verify
 *
 * DTLS 1.2 only, ECDHE + AEAD suites, use_srtp with every profile libsrtp can do, peer
 * certificates required both ways, no session cache, tickets or renegotiation, MTU 1200,
 * retransmissions from 400 ms doubling to 2 s.
 *
 * Returns: (transfer full) (nullable): the SSL, or %NULL with @error set
 */
SSL *
icecam_dtls_ssl_new (IcecamCertificate *local, gboolean is_client,
                     IcecamDtlsDatagrams *datagrams, IcecamDtlsVerifyFunc verify,
                     gpointer app_data, GError **error)
{
  SSL_CTX *ctx = SSL_CTX_new (DTLS_method ());
  SSL *ssl = NULL;
  BIO *bio = NULL;

  if (ctx == NULL || SSL_CTX_set_min_proto_version (ctx, DTLS1_2_VERSION) != 1 ||
      SSL_CTX_use_certificate (ctx, icecam_certificate_get_x509 (local)) != 1 ||
      SSL_CTX_use_PrivateKey (ctx, icecam_certificate_get_key (local)) != 1 ||
      SSL_CTX_check_private_key (ctx) != 1 || SSL_CTX_set_cipher_list (ctx, CIPHER_LIST) != 1 ||
      SSL_CTX_set1_groups_list (ctx, "X25519:P-256") != 1 ||
      SSL_CTX_set_tlsext_use_srtp (
        ctx, icecam_dtls_profile_list (icecam_srtp_get_handshake_profiles ())) != 0)
    goto failed;
  SSL_CTX_set_security_level (ctx, 2);
  SSL_CTX_set_verify (ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
  SSL_CTX_set_cert_verify_callback (ctx, verify, NULL);
  SSL_CTX_set_session_cache_mode (ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_options (ctx, SSL_OP_NO_QUERY_MTU | SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION |
                              SSL_OP_CIPHER_SERVER_PREFERENCE);

  ssl = SSL_new (ctx);
  bio = get_bio_method () ? BIO_new (get_bio_method ()) : NULL;
  if (ssl == NULL || bio == NULL)
    goto failed;
  BIO_set_data (bio, datagrams);
  SSL_set_bio (ssl, bio, bio); /* takes the one reference */
  bio = NULL;
  SSL_set_app_data (ssl, app_data);
  DTLS_set_timer_cb (ssl, dtls_timer_cb);
  if (DTLS_set_link_mtu (ssl, DTLS_MTU) != 1)
    goto failed;
  if (is_client)
    SSL_set_connect_state (ssl);
  else
    SSL_set_accept_state (ssl);
  SSL_CTX_free (ctx); /* the SSL keeps its own reference */
  return ssl;

failed:
  {
    g_autofree gchar *reason = icecam_dtls_take_openssl_errors ();

    g_set_error (error, ICECAM_DTLS_SRTP_ERROR, ICECAM_DTLS_SRTP_ERROR_INTERNAL,
                 "cannot set up DTLS: %s", reason);
  }
  BIO_free (bio);
  SSL_free (ssl);
  SSL_CTX_free (ctx);
  return NULL;
}
