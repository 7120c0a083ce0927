/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Short-lived TURN credentials of the REST scheme coturn checks with use-auth-secret. */

#pragma once

#include "icecam-protocol.h"

G_BEGIN_DECLS

gchar *icecam_turn_credentials_password (const gchar *secret, const gchar *username);
IcecamIceServer *icecam_turn_credentials_mint (const gchar * const *urls, const gchar *secret,
                                               const gchar *user, gint64 now_unix,
                                               guint ttl_seconds);

G_END_DECLS
