/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the files of IcecamRendezvous share: the object, its connections, each part's functions. */

#pragma once

#include <libsoup/soup.h>

#include "icecam-acceptor.h"
#include "icecam-admission.h"
#include "icecam-ping-wheel.h"
#include "icecam-rendezvous.h"
#include "icecam-stun-responder.h"

G_BEGIN_DECLS

typedef struct {
  IcecamRendezvous *self;   /* borrowed: connections never outlive the rendezvous */
  guint64 id;               /* the registry's peer id */
  SoupWebsocketConnection *ws;
  gulong message_handler;
  gulong closed_handler;
  gchar *host;              /* the client's IP address, as the admission counts it */
  gulong pong_handler;
  gboolean refused;         /* before admission (a malformed forwarding header): drop input */
  GObject *stream;          /* the IcecamWsStream under ws (a reference), or NULL */
  gulong oversized_handler;
  IcecamPingEntry *ping;    /* in pings: the stream's output, pinged by us, not libsoup */
  IcecamWsOutput *output;   /* with ping: that output (borrowed from stream), which sends our
                             * texts too; NULL: libsoup sends them */
  IcecamWsOutput *tls_output; /* on wss://: the output under libsoup's TLS writes (borrowed
                               * from stream), which libsoup sends our texts through */
  guint64 handed;           /* on wss://: the bytes of the frames handed to libsoup */
  GSource *slow_close;      /* the client stopped reading: closed from here, out of the send */
} Connection;

struct _IcecamRendezvous {
  GObject parent_instance;

  GMainContext *context;
  SoupServer *server;
  GPtrArray *websocket_extension_types; /* none: no permessage-deflate (see _init) */
  IcecamRendezvousWsStream ws_stream;
  IcecamRegistry *registry;
  const gchar *cluster_state;       /* NULL alone, else "ok" or "degraded" (static strings) */
  GHashTable *connections;          /* &Connection.id → Connection (owned) */
  IcecamPingWheel *pings;           /* keepalive pings of the ws:// connections, spread out */
  IcecamAcceptor *acceptor;         /* connection ids are its ids */
  IcecamAdmission *admission;
  gchar **presence_cameras;         /* the last presence list sent, and its JSON text */
  gchar *presence_json;

  GSource *silence_check;
  GSource *deadline_check;
  GSource *registry_tick;           /* the registry's timed work: relay credential renewals */

  GInetAddress *listen_address;     /* NULL until listening */
  guint port;

  gboolean stun_enabled;
  GInetSocketAddress *stun_address; /* as configured; NULL: the WebSocket's host and port */
  GInetAddress *stun_alternate;     /* RFC 5780's second IP, or NULL */
  IcecamStunResponder *stun;        /* NULL unless listening */
  GInetAddress *stun_host;          /* the host the responder is bound to */
  gboolean tls;             /* serve wss:// with the server's tls-certificate */
  GPtrArray *trusted_proxies; /* GInetAddressMask: whose PROXY and forwarding headers count */
};

/* icecam-rendezvous.c */
gchar *icecam_rendezvous_host_to_string (GInetAddress *address);
gchar *icecam_rendezvous_socket_address_to_string (GSocketAddress *address);
GPtrArray *icecam_rendezvous_peer_ice_servers (IcecamRendezvous *self, GSocketAddress *local);

/* icecam-rendezvous-connections.c */
void icecam_rendezvous_connection_free (Connection *conn);
void icecam_rendezvous_log_refusal (IcecamRendezvous *self, IcecamOpsLogKind kind, guint64 id,
                                    const gchar *host, const gchar *text);
void icecam_rendezvous_add_websocket_handler (IcecamRendezvous *self);
void icecam_rendezvous_on_registry_send (IcecamRegistry *registry, guint64 peer_id,
                                         IcecamMessage *msg, IcecamRendezvous *self);
void icecam_rendezvous_on_registry_close (IcecamRegistry *registry, guint64 peer_id,
                                          const gchar *reason, IcecamRendezvous *self);
void icecam_rendezvous_on_registry_replaced (IcecamRegistry *registry, guint64 peer_id,
                                             IcecamRendezvous *self);
gboolean icecam_rendezvous_on_acceptor_accepted (IcecamAcceptor *acceptor, guint64 id,
                                                 GSocketAddress *remote, IcecamRendezvous *self);
void icecam_rendezvous_on_acceptor_closed (IcecamAcceptor *acceptor, guint64 id,
                                           IcecamRendezvous *self);
void icecam_rendezvous_on_acceptor_stun (IcecamAcceptor *acceptor, guint64 id,
                                         IcecamStunTcp *stun_tcp, IcecamRendezvous *self);
void icecam_rendezvous_on_acceptor_proxy_refused (IcecamAcceptor *acceptor, guint64 id,
                                                  GSocketAddress *remote, const gchar *reason,
                                                  IcecamRendezvous *self);

/* icecam-rendezvous-admission.c */
void icecam_rendezvous_stop_check (GSource **check);
void icecam_rendezvous_start_silence_check (IcecamRendezvous *self);
void icecam_rendezvous_start_deadline_check (IcecamRendezvous *self);
guint icecam_rendezvous_default_max_connections (void);

G_END_DECLS
