/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The rendezvous's own accept loop: every TCP connection known by id from accept to close. */

#pragma once

#include <libsoup/soup.h>

G_BEGIN_DECLS

#define ICECAM_TYPE_ACCEPTOR (icecam_acceptor_get_type ())
G_DECLARE_FINAL_TYPE (IcecamAcceptor, icecam_acceptor, ICECAM, ACCEPTOR, GObject)

IcecamAcceptor *icecam_acceptor_new (SoupServer *server);

void icecam_acceptor_set_tls_certificate (IcecamAcceptor *self, GTlsCertificate *certificate);
void icecam_acceptor_set_trusted_proxies (IcecamAcceptor *self, GPtrArray *trusted);
void icecam_acceptor_set_stun_over_tcp (IcecamAcceptor *self, gboolean enabled);
void icecam_acceptor_listen (IcecamAcceptor *self, GSocket *socket);
void icecam_acceptor_stop (IcecamAcceptor *self);

GSocket *icecam_acceptor_lookup (IcecamAcceptor *self, GSocketAddress *remote, guint64 *id);
void icecam_acceptor_shutdown (IcecamAcceptor *self, guint64 id);

G_END_DECLS
