/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The NAT probe's mapping lifetime test (RFC 5780 section 4.6), for IcecamNatProbe only. */

#pragma once

#include <gio/gio.h>

#include "icecam-nat-verdict.h"
#include "icecam-stun-client.h"

G_BEGIN_DECLS

typedef struct _IcecamNatLifetime IcecamNatLifetime;

/**
 * IcecamNatLifetimeFunc:
 * @lifetime: the test, done; the callback may free it
 * @error: (nullable): why it could not run (a socket could not be opened), or %NULL
 * @user_data: as given
 *
 * Called once, in the client's context, when the test is over.
 */
typedef void (*IcecamNatLifetimeFunc) (IcecamNatLifetime *lifetime, const GError *error,
                                       gpointer user_data);

IcecamNatLifetime *icecam_nat_lifetime_new (IcecamStunClient *client, GInetSocketAddress *server,
                                            guint max_s, IcecamNatVerdict *verdict,
                                            IcecamNatLifetimeFunc func, gpointer user_data);
void icecam_nat_lifetime_start (IcecamNatLifetime *self);
void icecam_nat_lifetime_free (IcecamNatLifetime *self);

G_END_DECLS
