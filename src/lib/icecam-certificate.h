/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A DTLS identity: an EC P-256 key and its self-signed certificate, known by its fingerprint. */

#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

#define ICECAM_CERTIFICATE_ERROR (icecam_certificate_error_quark ())
GQuark icecam_certificate_error_quark (void);

typedef enum {
  ICECAM_CERTIFICATE_ERROR_IO,          /* the file could not be read, created or written */
  ICECAM_CERTIFICATE_ERROR_INVALID,     /* the file is not a matching PEM key + certificate */
  ICECAM_CERTIFICATE_ERROR_CRYPTO,      /* OpenSSL refused to generate or sign */
  ICECAM_CERTIFICATE_ERROR_FINGERPRINT, /* not an RFC 8122 "sha-256 AB:CD:.." fingerprint */
} IcecamCertificateError;

/* Length of a SHA-256 digest, the only fingerprint hash icecam accepts. */
#define ICECAM_FINGERPRINT_DIGEST_LENGTH 32

#define ICECAM_TYPE_CERTIFICATE (icecam_certificate_get_type ())
G_DECLARE_FINAL_TYPE (IcecamCertificate, icecam_certificate, ICECAM, CERTIFICATE, GObject)

IcecamCertificate *icecam_certificate_load_or_create (const gchar *path, GError **error);
IcecamCertificate *icecam_certificate_new_ephemeral (GError **error);
const gchar *icecam_certificate_get_fingerprint (IcecamCertificate *self);

gchar *icecam_fingerprint_normalize (const gchar *text, GError **error);
gboolean icecam_fingerprint_parse (const gchar *text,
                                   guint8 digest[ICECAM_FINGERPRINT_DIGEST_LENGTH],
                                   GError **error);
gchar *icecam_fingerprint_format (const guint8 digest[ICECAM_FINGERPRINT_DIGEST_LENGTH]);

G_END_DECLS
