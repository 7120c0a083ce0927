/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A server-reflexive candidate predicted from a host candidate and the public address the
 * rendezvous saw, sent before the STUN/TURN answer that confirms it. No I/O. */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

gchar *icecam_predicted_public_ipv4 (const gchar *address);
gchar *icecam_predicted_candidate_from_host (const gchar *host_candidate,
                                             const gchar *public_ipv4);

G_END_DECLS
