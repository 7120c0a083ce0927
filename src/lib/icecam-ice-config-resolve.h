/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Looking up the host names of an ICE configuration's servers, asynchronously. */

#pragma once

#include <gio/gio.h>

#include "icecam-ice-config.h"

G_BEGIN_DECLS

gboolean icecam_ice_config_has_host_names (const IcecamIceConfig *config);
void icecam_ice_config_resolve_async (const IcecamIceConfig *config, GCancellable *cancellable,
                                      GAsyncReadyCallback callback, gpointer user_data);
IcecamIceConfig *icecam_ice_config_resolve_finish (GAsyncResult *result, GError **error);

G_END_DECLS
