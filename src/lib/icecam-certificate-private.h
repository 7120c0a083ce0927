/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* OpenSSL-level access to an IcecamCertificate, for the DTLS code only. */

#pragma once

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "icecam-certificate.h"

G_BEGIN_DECLS

EVP_PKEY *icecam_certificate_get_key (IcecamCertificate *self);
X509 *icecam_certificate_get_x509 (IcecamCertificate *self);
gboolean icecam_certificate_digest_x509 (X509 *cert,
                                         guint8 digest[ICECAM_FINGERPRINT_DIGEST_LENGTH]);

G_END_DECLS
