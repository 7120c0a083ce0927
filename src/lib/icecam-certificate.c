/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A DTLS identity: an EC P-256 key and its self-signed certificate, kept on disk or ephemeral. */

#include "icecam-certificate-private.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A key and a certificate are ~1 KiB of PEM; anything much larger is not ours. */
#define MAX_FILE_SIZE (64 * 1024)
/* The certificate is an identity that viewers pin by fingerprint, not a credential anybody
 * checks the dates of (DTLS-SRTP peers verify the fingerprint, RFC 8122, and icecam replaces
 * chain verification). An expiry would only force a new key, which changes the fingerprint
 * and breaks every pin, so it is chosen to outlive the device; rotation is a deliberate act
 * (delete the file). An expired certificate found on disk is still used. */
#define VALIDITY_DAYS (10 * 365)
#define COMMON_NAME "icecam"

/**
 * IcecamCertificate:
 *
 * An EC P-256 private key and a self-signed X.509 certificate for it, identified by the
 * SHA-256 fingerprint of the certificate (RFC 8122 form). Immutable once created, so it
 * may be shared between threads and sessions. A camera keeps one on disk
 * (icecam_certificate_load_or_create()) so its fingerprint survives restarts and can be
 * pinned; a viewer makes an ephemeral one per run.
 */
struct _IcecamCertificate {
  GObject parent;

  EVP_PKEY *key;
  X509 *cert;
  gchar *fingerprint;
};

G_DEFINE_TYPE (IcecamCertificate, icecam_certificate, G_TYPE_OBJECT)
G_DEFINE_QUARK (icecam-certificate-error-quark, icecam_certificate_error)

/* Takes OpenSSL's error queue (thread-local) into a message and leaves it empty. */
static gchar *
take_openssl_errors (void)
{
  unsigned long code = ERR_get_error ();
  gchar buf[256] = "unknown OpenSSL error";

  if (code != 0)
    ERR_error_string_n (code, buf, sizeof buf);
  ERR_clear_error ();
  return g_strdup (buf);
}

gboolean
icecam_certificate_digest_x509 (X509 *cert, guint8 digest[ICECAM_FINGERPRINT_DIGEST_LENGTH])
{
  unsigned int len = 0;
  guint8 md[EVP_MAX_MD_SIZE];

  if (cert == NULL || X509_digest (cert, EVP_sha256 (), md, &len) != 1 ||
      len != ICECAM_FINGERPRINT_DIGEST_LENGTH) {
    ERR_clear_error ();
    return FALSE;
  }
  memcpy (digest, md, ICECAM_FINGERPRINT_DIGEST_LENGTH);
  return TRUE;
}

/**
 * icecam_fingerprint_format:
 *
 * Returns: (transfer full): "sha-256 AB:CD:..", uppercase hex with colons (RFC 8122)
 */
gchar *
icecam_fingerprint_format (const guint8 digest[ICECAM_FINGERPRINT_DIGEST_LENGTH])
{
  GString *s = g_string_sized_new (8 + 3 * ICECAM_FINGERPRINT_DIGEST_LENGTH);

  g_string_append (s, "sha-256 ");
  for (guint i = 0; i < ICECAM_FINGERPRINT_DIGEST_LENGTH; i++)
    g_string_append_printf (s, i == 0 ? "%02X" : ":%02X", digest[i]);
  return g_string_free (s, FALSE);
}

/**
 * icecam_fingerprint_parse:
 * @text: "sha-256 AB:CD:..", as in a=fingerprint (the hash name is case-insensitive, the
 *   hex digits may be either case; leading and trailing blanks are ignored)
 * @digest: (out caller-allocates): the 32 digest bytes
 *
 * Only sha-256 is accepted: it is what every DTLS-SRTP implementation offers, and weaker
 * hashes (sha-1, md5) must not be able to stand in for it.
 *
 * Returns: whether @text is a sha-256 fingerprint; %FALSE with @error set otherwise
 */
gboolean
icecam_fingerprint_parse (const gchar *text, guint8 digest[ICECAM_FINGERPRINT_DIGEST_LENGTH],
                          GError **error)
{
  const gchar *p;

  if (text == NULL) {
    g_set_error (error, ICECAM_CERTIFICATE_ERROR, ICECAM_CERTIFICATE_ERROR_FINGERPRINT,
                 "no fingerprint");
    return FALSE;
  }
  p = text;
  while (*p == ' ' || *p == '\t')
    p++;
  if (g_ascii_strncasecmp (p, "sha-256", 7) != 0 || (p[7] != ' ' && p[7] != '\t')) {
    g_set_error (error, ICECAM_CERTIFICATE_ERROR, ICECAM_CERTIFICATE_ERROR_FINGERPRINT,
                 "fingerprint '%.80s' is not 'sha-256 <hex>' (only sha-256 is accepted)", text);
    return FALSE;
  }
  p += 7;
  while (*p == ' ' || *p == '\t')
    p++;
  for (guint i = 0; i < ICECAM_FINGERPRINT_DIGEST_LENGTH; i++) {
    gint hi = g_ascii_xdigit_value (p[0]);
    gint lo = hi < 0 ? -1 : g_ascii_xdigit_value (p[1]);
    gchar sep = lo < 0 ? '\0' : p[2];

    if (lo < 0 || (i + 1 < ICECAM_FINGERPRINT_DIGEST_LENGTH ? sep != ':' : sep == ':')) {
      g_set_error (error, ICECAM_CERTIFICATE_ERROR, ICECAM_CERTIFICATE_ERROR_FINGERPRINT,
                   "fingerprint '%.120s' is not 32 colon-separated hex bytes", text);
      return FALSE;
    }
    digest[i] = (guint8) (hi << 4 | lo);
    p += i + 1 < ICECAM_FINGERPRINT_DIGEST_LENGTH ? 3 : 2;
  }
  while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
    p++;
  if (*p != '\0') {
    g_set_error (error, ICECAM_CERTIFICATE_ERROR, ICECAM_CERTIFICATE_ERROR_FINGERPRINT,
                 "fingerprint '%.120s' has trailing characters", text);
    return FALSE;
  }
  return TRUE;
}

/**
 * icecam_fingerprint_normalize:
 * @text: a fingerprint as a user or an SDP wrote it
 *
 * For comparing and storing pins: one spelling per fingerprint.
 *
 * Returns: (transfer full) (nullable): "sha-256 AB:CD:..", or %NULL with @error set
 */
gchar *
icecam_fingerprint_normalize (const gchar *text, GError **error)
{
  guint8 digest[ICECAM_FINGERPRINT_DIGEST_LENGTH];

  if (!icecam_fingerprint_parse (text, digest, error))
    return NULL;
  return icecam_fingerprint_format (digest);
}

/* Takes @key and @cert. */
static IcecamCertificate *
certificate_new (EVP_PKEY *key, X509 *cert, GError **error)
{
  IcecamCertificate *self;
  guint8 digest[ICECAM_FINGERPRINT_DIGEST_LENGTH];

  if (!icecam_certificate_digest_x509 (cert, digest)) {
    g_set_error (error, ICECAM_CERTIFICATE_ERROR, ICECAM_CERTIFICATE_ERROR_CRYPTO,
                 "cannot compute the certificate's SHA-256 digest");
    EVP_PKEY_free (key);
    X509_free (cert);
    return NULL;
  }
  self = g_object_new (ICECAM_TYPE_CERTIFICATE, NULL);
  self->key = key;
  self->cert = cert;
  self->fingerprint = icecam_fingerprint_format (digest);
  return self;
}

static gboolean
set_random_serial (X509 *cert)
{
  guint8 bytes[16];
  BIGNUM *bn;
  gboolean ok;

  if (RAND_bytes (bytes, sizeof bytes) != 1)
    return FALSE;
  bytes[0] &= 0x7f; /* positive, at most 16 octets (RFC 5280 allows 20) */
  bytes[0] |= 0x01; /* never zero */
  bn = BN_bin2bn (bytes, sizeof bytes, NULL);
  ok = bn != NULL && BN_to_ASN1_INTEGER (bn, X509_get_serialNumber (cert)) != NULL;
  BN_free (bn);
  return ok;
}

static IcecamCertificate *
generate (GError **error)
{
  EVP_PKEY *key = EVP_EC_gen ("P-256");
  X509 *cert = X509_new ();
  X509_NAME *name;
  g_autofree gchar *reason = NULL;

  if (key == NULL || cert == NULL || X509_set_version (cert, X509_VERSION_3) != 1 ||
      !set_random_serial (cert) ||
      X509_gmtime_adj (X509_getm_notBefore (cert), -24 * 3600) == NULL || /* clock skew */
      X509_time_adj_ex (X509_getm_notAfter (cert), VALIDITY_DAYS, 0, NULL) == NULL)
    goto failed;
  name = X509_get_subject_name (cert);
  if (X509_NAME_add_entry_by_txt (name, "CN", MBSTRING_ASC, (const guchar *) COMMON_NAME, -1,
                                  -1, 0) != 1 ||
      X509_set_issuer_name (cert, name) != 1 || X509_set_pubkey (cert, key) != 1 ||
      X509_sign (cert, key, EVP_sha256 ()) <= 0)
    goto failed;
  return certificate_new (key, cert, error);

failed:
  reason = take_openssl_errors ();
  g_set_error (error, ICECAM_CERTIFICATE_ERROR, ICECAM_CERTIFICATE_ERROR_CRYPTO,
               "cannot create a certificate: %s", reason);
  EVP_PKEY_free (key);
  X509_free (cert);
  return NULL;
}

/* Never ask for a passphrase on a terminal: an encrypted key is simply not loadable. */
static int
no_password_cb (char *buf, int size, int rwflag, void *user_data)
{
  return 0;
}

static IcecamCertificate *
parse_pem (const gchar *path, const gchar *pem, gsize len, GError **error)
{
  BIO *key_bio = BIO_new_mem_buf (pem, (int) len);
  BIO *cert_bio = BIO_new_mem_buf (pem, (int) len);
  EVP_PKEY *key = key_bio ? PEM_read_bio_PrivateKey (key_bio, NULL, no_password_cb, NULL) : NULL;
  X509 *cert = cert_bio ? PEM_read_bio_X509 (cert_bio, NULL, no_password_cb, NULL) : NULL;
  const gchar *problem = NULL;

  BIO_free (key_bio);
  BIO_free (cert_bio);
  if (key == NULL)
    problem = "no unencrypted private key";
  else if (cert == NULL)
    problem = "no certificate";
  else if (X509_check_private_key (cert, key) != 1)
    problem = "the certificate is not the private key's";
  ERR_clear_error ();
  if (problem != NULL) {
    /* Never silently replace an identity viewers may have pinned: the user decides. */
    g_set_error (error, ICECAM_CERTIFICATE_ERROR, ICECAM_CERTIFICATE_ERROR_INVALID,
                 "%s: %s (delete the file to create a new identity)", path, problem);
    EVP_PKEY_free (key);
    X509_free (cert);
    return NULL;
  }
  return certificate_new (key, cert, error);
}

/* Returns NULL with @error unset when @path does not exist. */
static IcecamCertificate *
load (const gchar *path, GError **error)
{
  struct stat st;
  gchar *pem = NULL;
  gsize pem_len = 0;
  gsize got = 0;
  IcecamCertificate *self = NULL;
  int fd = g_open (path, O_RDONLY | O_CLOEXEC, 0);
  int saved_errno = errno;

  if (fd < 0 && saved_errno == ENOENT)
    return NULL;
  if (fd < 0 || fstat (fd, &st) != 0) {
    saved_errno = errno;
    g_set_error (error, ICECAM_CERTIFICATE_ERROR, ICECAM_CERTIFICATE_ERROR_IO,
                 "cannot read %s: %s", path, g_strerror (saved_errno));
    goto out;
  }
  if (!S_ISREG (st.st_mode) || st.st_size <= 0 || st.st_size > MAX_FILE_SIZE) {
    g_set_error (error, ICECAM_CERTIFICATE_ERROR, ICECAM_CERTIFICATE_ERROR_INVALID,
                 "%s is not a regular file of 1..%d bytes", path, MAX_FILE_SIZE);
    goto out;
  }
  if ((st.st_mode & 077) != 0) {
    g_warning ("certificate %s: private key readable by others (mode %04o), setting 0600",
               path, (guint) (st.st_mode & 07777));
    if (fchmod (fd, 0600) != 0)
      g_warning ("certificate %s: chmod failed: %s", path, g_strerror (errno));
  }
  pem_len = st.st_size;
  pem = g_malloc (pem_len);
  while (got < pem_len) {
    gssize n = read (fd, pem + got, pem_len - got);

    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      g_set_error (error, ICECAM_CERTIFICATE_ERROR, ICECAM_CERTIFICATE_ERROR_IO,
                   "cannot read %s: %s", path, n < 0 ? g_strerror (errno) : "short read");
      goto out;
    }
    got += n;
  }
  self = parse_pem (path, pem, got, error);

out:
  if (pem != NULL) {
    OPENSSL_cleanse (pem, pem_len);
    g_free (pem);
  }
  if (fd >= 0)
    close (fd);
  return self;
}

/* The PEM of the key then the certificate, in memory that is wiped when freed. */
static gboolean
write_pem (IcecamCertificate *self, int fd)
{
  BIO *bio = BIO_new (BIO_s_secmem ());
  char *data = NULL;
  long len;
  gboolean ok = FALSE;

  if (bio == NULL || PEM_write_bio_PrivateKey (bio, self->key, NULL, NULL, 0, NULL, NULL) != 1 ||
      PEM_write_bio_X509 (bio, self->cert) != 1)
    goto out;
  len = BIO_get_mem_data (bio, &data);
  while (len > 0) {
    gssize n = write (fd, data, len);

    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      goto out;
    data += n;
    len -= n;
  }
  ok = fsync (fd) == 0;
out:
  ERR_clear_error ();
  BIO_free (bio);
  return ok;
}

/* Writes a temporary file in the same directory (created 0600) and links it into place,
 * so the file is never seen half-written and two processes racing agree on one key.
 * Returns the certificate now at @path (ours, or the winner's of a race). */
static IcecamCertificate *
store (IcecamCertificate *created, const gchar *path, GError **error)
{
  g_autofree gchar *dir = g_path_get_dirname (path);
  g_autofree gchar *tmp = g_strdup_printf ("%s.XXXXXX", path);
  int fd;
  int saved_errno;

  if (g_mkdir_with_parents (dir, 0700) != 0) {
    saved_errno = errno;
    g_set_error (error, ICECAM_CERTIFICATE_ERROR, ICECAM_CERTIFICATE_ERROR_IO,
                 "cannot create directory %s: %s", dir, g_strerror (saved_errno));
    return NULL;
  }
  fd = g_mkstemp_full (tmp, O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0) {
    saved_errno = errno;
    g_set_error (error, ICECAM_CERTIFICATE_ERROR, ICECAM_CERTIFICATE_ERROR_IO,
                 "cannot create %s: %s", tmp, g_strerror (saved_errno));
    return NULL;
  }
  if (fchmod (fd, 0600) != 0 || !write_pem (created, fd)) {
    saved_errno = errno;
    close (fd);
    g_unlink (tmp);
    g_set_error (error, ICECAM_CERTIFICATE_ERROR, ICECAM_CERTIFICATE_ERROR_IO,
                 "cannot write %s: %s", tmp, g_strerror (saved_errno));
    return NULL;
  }
  close (fd);
  if (link (tmp, path) != 0) {
    saved_errno = errno;
    if (saved_errno == EEXIST) {
      g_unlink (tmp);
      return load (path, error); /* another process created it first: use theirs */
    }
    /* Filesystems without hard links: a rename is still atomic. */
    if (g_rename (tmp, path) != 0) {
      saved_errno = errno;
      g_unlink (tmp);
      g_set_error (error, ICECAM_CERTIFICATE_ERROR, ICECAM_CERTIFICATE_ERROR_IO,
                   "cannot create %s: %s", path, g_strerror (saved_errno));
      return NULL;
    }
  } else {
    g_unlink (tmp);
  }
  return g_object_ref (created);
}

/**
 * icecam_certificate_load_or_create:
 * @path: a PEM file holding a private key and its certificate
 * @error: an %ICECAM_CERTIFICATE_ERROR
 *
 * Loads the identity in @path or, when the file does not exist, creates one (EC P-256,
 * random serial, CN=icecam, valid for ten years) and writes it there with mode 0600,
 * creating missing parent directories (0700). An existing file that is not a matching
 * key and certificate is an error, never overwritten: viewers may have pinned it.
 *
 * Returns: (transfer full) (nullable): the certificate, or %NULL with @error set
 */
IcecamCertificate *
icecam_certificate_load_or_create (const gchar *path, GError **error)
{
  g_autoptr (IcecamCertificate) created = NULL;
  GError *local_error = NULL;
  IcecamCertificate *self;

  g_return_val_if_fail (path != NULL && *path != '\0', NULL);

  self = load (path, &local_error);
  if (self != NULL || local_error != NULL) {
    if (local_error != NULL)
      g_propagate_error (error, local_error);
    return self;
  }
  created = generate (error);
  if (created == NULL)
    return NULL;
  self = store (created, path, error);
  if (self != NULL)
    g_info ("certificate %s: created, fingerprint %s", path, self->fingerprint);
  return self;
}

/**
 * icecam_certificate_new_ephemeral:
 *
 * A fresh identity kept in memory only, for viewers (whose identity nobody pins).
 *
 * Returns: (transfer full) (nullable): the certificate, or %NULL with @error set
 */
IcecamCertificate *
icecam_certificate_new_ephemeral (GError **error)
{
  return generate (error);
}

/**
 * icecam_certificate_get_fingerprint:
 *
 * Returns: (transfer none): "sha-256 AB:CD:..", the value for a=fingerprint
 */
const gchar *
icecam_certificate_get_fingerprint (IcecamCertificate *self)
{
  g_return_val_if_fail (ICECAM_IS_CERTIFICATE (self), NULL);
  return self->fingerprint;
}

/* (transfer none) */
EVP_PKEY *
icecam_certificate_get_key (IcecamCertificate *self)
{
  return self->key;
}

/* (transfer none) */
X509 *
icecam_certificate_get_x509 (IcecamCertificate *self)
{
  return self->cert;
}

static void
icecam_certificate_finalize (GObject *object)
{
  IcecamCertificate *self = ICECAM_CERTIFICATE (object);

  EVP_PKEY_free (self->key);
  X509_free (self->cert);
  g_free (self->fingerprint);
  G_OBJECT_CLASS (icecam_certificate_parent_class)->finalize (object);
}

static void
icecam_certificate_class_init (IcecamCertificateClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = icecam_certificate_finalize;
}

static void
icecam_certificate_init (IcecamCertificate *self)
{
}
