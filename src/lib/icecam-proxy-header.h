/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Where a proxied client really is: the PROXY protocol header, Forwarded and X-Forwarded-For. */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define ICECAM_PROXY_HEADER_ERROR (icecam_proxy_header_error_quark ())
GQuark icecam_proxy_header_error_quark (void);

typedef enum {
  ICECAM_PROXY_HEADER_ERROR_MALFORMED,
} IcecamProxyHeaderError;

/* The longest PROXY header accepted: v1's 107 bytes, or v2's 16 plus this many of addresses
 * and TLVs (the spec allows 65535; load balancers send tens). */
#define ICECAM_PROXY_HEADER_MAX_V2_LENGTH 2048
#define ICECAM_PROXY_HEADER_MAX (16 + ICECAM_PROXY_HEADER_MAX_V2_LENGTH)

typedef enum {
  ICECAM_PROXY_HEADER_NONE,      /* the bytes are no PROXY header (HTTP, TLS): read as they are */
  ICECAM_PROXY_HEADER_NEED_MORE, /* a header's beginning: wait for more bytes */
  ICECAM_PROXY_HEADER_DONE,      /* a whole header */
  ICECAM_PROXY_HEADER_INVALID,   /* a header's signature, and then something wrong */
} IcecamProxyHeaderResult;

IcecamProxyHeaderResult icecam_proxy_header_parse (const guint8 *data, gsize len,
                                                   gsize *header_len,
                                                   GInetSocketAddress **source,
                                                   GError **error);

GPtrArray *icecam_forwarded_parse (const gchar *forwarded, const gchar *x_forwarded_for,
                                   GError **error);
GInetSocketAddress *icecam_forwarded_pick_client (GPtrArray *hops, GPtrArray *trusted);
gboolean icecam_proxy_is_trusted (GPtrArray *trusted, GInetAddress *address);

G_END_DECLS
