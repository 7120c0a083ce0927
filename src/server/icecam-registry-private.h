/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the registry's two files share: its peers, sessions and state, and the helpers both use.
 * icecam-registry.c routes; icecam-registry-clients.c says who each connection is. */

#pragma once

#include "icecam-registry.h"
#include "icecam-ops-log.h"

G_BEGIN_DECLS

typedef enum {
  PEER_STATE_CONNECTED, /* no hello yet */
  PEER_STATE_READY,     /* welcomed: a camera online or a viewer */
  PEER_STATE_CLOSING,   /* close requested: whatever it still sends is dropped */
  PEER_STATE_DETACHED,  /* connection gone, sessions kept for the client to take back */
} PeerState;

/* One signal to emit: a message for a peer, or (msg == NULL) a request to close it, because
 * of close_reason or because it was replaced. */
typedef struct {
  guint64 peer_id;
  IcecamMessage *msg;
  gchar *close_reason;
  gboolean replaced;
  gchar *route_node;     /* for a client of this other cluster node (msg set) */
  gchar *moved_here;     /* a camera id other nodes list as another node's (nothing else set) */
} Outgoing;

typedef struct _Session Session;

typedef struct {
  guint64 id;
  PeerState state;
  IcecamRole role;
  gchar *name;           /* the camera id or viewer id, once welcomed */
  gchar *label;          /* for logs */
  gchar *address;
  GPtrArray *ice_servers;
  GHashTable *sessions;  /* session id → Session, both borrowed from registry->sessions */
  gchar *nonce;          /* of this connection's challenge */
  gchar **granted;       /* viewer with a token: the cameras it may watch */
  gint64 grant_expiry;
  gchar *resume;         /* the secret of its latest welcome: a new connection with it takes
                          * this one's place */
  IcecamFeatures features; /* the later additions to the protocol it said it understands */
  gint64 detached_until; /* DETACHED: when its sessions are forgotten, monotonic */
  GPtrArray *held_byes;  /* DETACHED: how sessions ended meanwhile, told when it is back */
  gchar *node;           /* a stand-in for a client of this other cluster node, or NULL */
  gchar *region;         /* the region hint of its hello, or NULL */
  IcecamMessage *claiming; /* CONNECTED camera: its hello, waiting for the cluster's claim on
                            * its id (icecam-registry-claim.c) */
} Peer;

struct _Session {
  gchar *id;
  Peer *camera;
  Peer *viewer;
  gint64 relay_renew_at; /* when its ends get fresh relay credentials, monotonic */
  GList *relay_link;     /* in registry->relay_renewals, or NULL */
  gchar *relay_url;      /* the relay it was assigned (listed first to its ends), or NULL */
};

struct _IcecamRegistry {
  GObject parent_instance;

  GHashTable *peers;     /* &Peer.id → Peer (owned) */
  /* debug messages are written (G_MESSAGES_DEBUG), as it was when the registry was made:
   * g_debug() formats its text even when it is dropped, on every message relayed */
  gboolean debug;
  GHashTable *cameras;   /* camera id → Peer (borrowed) */
  gchar **online;        /* the presence list: sorted ids, capped; NULL when cameras changed */
  GHashTable *viewers;   /* viewer id → Peer (borrowed) */
  GHashTable *sessions;  /* session id → Session (owned) */
  GHashTable *detached_cameras; /* camera id → DETACHED Peer (owned through ->detached) */
  GHashTable *detached_viewers; /* viewer id → DETACHED Peer (owned through ->detached) */
  GQueue detached;       /* the DETACHED Peers (owned), the first to expire first */
  guint resume_grace_s;
  guint64 resumed;
  GPtrArray *ice_servers;
  gchar **turn_urls;     /* TURN relays to mint credentials for, or NULL */
  GHashTable *relay_down;     /* URL → itself: relays the pool found dead (withdrawn) */
  GHashTable *relay_assigned; /* URL → GUINT_TO_POINTER (sessions assigned to it) */
  GHashTable *relay_regions;  /* URL → its region tag (both owned), relays that have one */
  GHashTable *relay_remote;   /* cluster node → (URL → GUINT_TO_POINTER (its sessions)) */
  gchar *turn_secret;
  guint turn_ttl;
  GQueue relay_renewals; /* Sessions (borrowed) by relay_renew_at, the first due first */
  guint64 relay_issued_camera;
  guint64 relay_issued_viewer;
  GHashTable *camera_secrets; /* camera id → secret; NULL: cameras need no proof */
  gchar *token_key;           /* NULL: viewers need no token */
  guint max_sessions_per_viewer;
  guint max_sessions_per_camera;
  guint64 next_viewer_number;
  guint64 messages_relayed;
  guint64 errors_sent;
  GQueue outbox;         /* Outgoing, emitted by flush_outbox() */
  IcecamOpsLog *ops_log; /* the operator's lines: cameras coming and going, refusals */
  GHashTable *remote_cameras; /* camera id → the cluster node holding it (both owned) */
  GHashTable *proxies;   /* "node/role/name" → stand-in Peer of another node's client (owned) */
  guint64 next_proxy_id;
  IcecamRegistryClaimFunc claim_func; /* the cluster's claim on a camera id, or NULL */
  gpointer claim_data;
};

/* icecam-registry.c: peers, sessions and the outbox; icecam-registry-presence.c: presence. */
Peer *registry_peer_new (guint64 id, const gchar *address, GPtrArray *ice_servers);
void registry_peer_free (Peer *peer);
void registry_peer_set_state (Peer *peer, PeerState state);
void registry_peer_set_identity (Peer *peer, IcecamRole role, gchar *name);
Peer *registry_session_other_end (Session *session, Peer *peer);
void registry_sessions_end (IcecamRegistry *self, Peer *peer, IcecamByeCode code,
                            const gchar *reason, gboolean tell_online);
void registry_queue_send (IcecamRegistry *self, Peer *peer, IcecamMessage *msg);
Session *registry_session_create (IcecamRegistry *self, Peer *camera, Peer *viewer,
                                  const gchar *id);
void registry_session_destroy (IcecamRegistry *self, Session *session);
IcecamMessage *registry_session_message (IcecamRegistry *self, Session *session,
                                         IcecamRole role);
void registry_flush_outbox (IcecamRegistry *self);
void registry_queue_close (IcecamRegistry *self, Peer *peer, const gchar *reason);
void registry_queue_replaced (IcecamRegistry *self, Peer *peer);
void registry_queue_error (IcecamRegistry *self, Peer *peer, IcecamErrorCode code,
                           const gchar *session, const gchar *format, ...) G_GNUC_PRINTF (5, 6);
void registry_cameras_changed (IcecamRegistry *self);
void registry_queue_presence (IcecamRegistry *self, Peer *viewer);
void registry_queue_presence_to_viewers (IcecamRegistry *self);

/* icecam-registry-forward.c */
void registry_forward (IcecamRegistry *self, Peer *peer, const IcecamMessage *msg,
                       IcecamRole from_role);
void registry_handle_restart (IcecamRegistry *self, Peer *peer, const IcecamMessage *msg);
void registry_handle_punch (IcecamRegistry *self, Peer *peer, const IcecamMessage *msg);
void registry_handle_dtls (IcecamRegistry *self, Peer *peer, const IcecamMessage *msg);

/* icecam-registry-relay.c: relay credentials, minted per session and renewed while it lasts. */
IcecamIceServer *registry_relay_mint (IcecamRegistry *self, Session *session, IcecamRole role);
void registry_relay_session_added (IcecamRegistry *self, Session *session, gint64 now_us);
void registry_relay_session_removed (IcecamRegistry *self, Session *session);
void registry_relay_renew (IcecamRegistry *self, gint64 now_us);
void registry_relay_clear (IcecamRegistry *self);

/* icecam-registry-cluster.c: sessions whose other end is a client of another cluster node. */
Peer *registry_proxy_lookup (IcecamRegistry *self, const gchar *node, IcecamRole role,
                             const gchar *name, gboolean create);
void registry_proxy_release (IcecamRegistry *self, Peer *proxy);
void registry_queue_moved_here (IcecamRegistry *self, const gchar *camera_id);
void registry_queue_route (IcecamRegistry *self, Peer *proxy, IcecamMessage *msg);
void registry_cluster_clear (IcecamRegistry *self);

/* icecam-registry-claim.c: a camera id claimed across the cluster before it is registered. */
gboolean registry_claim_start (IcecamRegistry *self, Peer *peer, const IcecamMessage *hello,
                               gboolean proven);

/* icecam-registry-clients.c: hello, and clients leaving and coming back. */
void registry_handle_hello (IcecamRegistry *self, Peer *peer, const IcecamMessage *hello);
void registry_register_camera_claimed (IcecamRegistry *self, Peer *peer,
                                       const IcecamMessage *hello);
void registry_detached_free (IcecamRegistry *self, Peer *peer);
void registry_peer_detach (IcecamRegistry *self, Peer *peer);
void registry_expire_detached (IcecamRegistry *self, gint64 now_us);

G_END_DECLS
