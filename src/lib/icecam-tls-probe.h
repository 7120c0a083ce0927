/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Whether a server a wss:// URL names answers plain HTTP instead of TLS. */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

void icecam_tls_probe_plain_http_async (const gchar *host, guint16 port,
                                        GCancellable *cancellable,
                                        GAsyncReadyCallback callback, gpointer user_data);
gboolean icecam_tls_probe_plain_http_finish (GAsyncResult *result, GError **error);

G_END_DECLS
