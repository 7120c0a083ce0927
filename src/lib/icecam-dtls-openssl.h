/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* OpenSSL plumbing for IcecamDtlsSrtp: a DTLS 1.2 SSL over an in-memory datagram BIO. */

#pragma once

#include <openssl/ssl.h>

#include "icecam-certificate.h"
#include "icecam-srtp.h"

G_BEGIN_DECLS

/**
 * IcecamDtlsDatagrams:
 * @incoming: (nullable): the one datagram the SSL may read next; cleared once read
 * @incoming_length: its length
 * @outgoing: (element-type GBytes): every BIO write is one datagram, appended here
 *
 * What the BIO of icecam_dtls_ssl_new() reads from and writes to. Not locked: the owner
 * guards it with the same lock as the SSL.
 */
typedef struct {
  const guint8 *incoming;
  gsize incoming_length;
  GPtrArray *outgoing;
} IcecamDtlsDatagrams;

typedef int (*IcecamDtlsVerifyFunc) (X509_STORE_CTX *store, void *unused);

SSL *icecam_dtls_ssl_new (IcecamCertificate *local, gboolean is_client,
                          IcecamDtlsDatagrams *datagrams, IcecamDtlsVerifyFunc verify,
                          gpointer app_data, GError **error);
const gchar *icecam_dtls_profile_list (IcecamSrtpProfile profiles);
IcecamSrtp *icecam_dtls_export_srtp (SSL *ssl, gboolean is_client, GError **error);
gchar *icecam_dtls_take_openssl_errors (void);

G_END_DECLS
