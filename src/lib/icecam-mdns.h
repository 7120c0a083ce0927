/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One-shot multicast DNS (RFC 6762 5.1) lookups of the `<uuid>.local` names browsers give
 * their host candidates (RFC 8828 / draft-ietf-mmusic-mdns-ice-candidates). */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define ICECAM_MDNS_ERROR (icecam_mdns_error_quark ())
GQuark icecam_mdns_error_quark (void);

typedef enum {
  ICECAM_MDNS_ERROR_NAME,      /* not a name icecam looks up */
  ICECAM_MDNS_ERROR_SOCKET,    /* no multicast socket on this host or interface */
  ICECAM_MDNS_ERROR_TIMED_OUT, /* nobody answered */
} IcecamMdnsError;

#define ICECAM_MDNS_PORT 5353
#define ICECAM_MDNS_GROUP "224.0.0.251"

gboolean icecam_mdns_is_local_name (const gchar *name);
gchar *icecam_mdns_candidate_name (const gchar *candidate);
gchar *icecam_mdns_candidate_with_address (const gchar *candidate, const gchar *address);
GBytes *icecam_mdns_build_query (const gchar *name, guint16 id, gboolean unicast_response);
gboolean icecam_mdns_parse_answer (const guint8 *data, gsize length, const gchar *name,
                                   guint8 address[4]);

void icecam_mdns_resolve_async (const gchar *name, const gchar *interface_address,
                                guint timeout_ms, GCancellable *cancellable,
                                GAsyncReadyCallback callback, gpointer user_data);
GInetAddress *icecam_mdns_resolve_finish (GAsyncResult *result, GError **error);

G_END_DECLS
