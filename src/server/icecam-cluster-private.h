/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What icecam-cluster.c and icecam-cluster-claims.c share. */

#pragma once

#include "icecam-cluster.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

typedef struct _RedisSource RedisSource;

typedef struct _ClusterLink {
  IcecamCluster *cluster;
  const gchar *name;
  redisAsyncContext *ac;  /* NULL while down */
  RedisSource *source;
  gboolean up;            /* connected */
} ClusterLink;

struct _IcecamCluster {
  GObject parent_instance;

  IcecamRegistry *registry;
  gchar *host;           /* the master's (through Sentinel: as a sentinel last said) */
  guint port;
  GStrv sentinel_hosts;  /* redis-sentinel://: the sentinels, in turn; else NULL */
  guint *sentinel_ports;
  gchar *master_name;    /* the name they monitor the master by; NULL without Sentinel */
  struct _ClusterLink *sentinel; /* the query under way, if any */
  guint sentinel_next;   /* the sentinel to ask next */
  guint sentinel_tries;  /* sentinels tried in this round */
  gint64 sentinel_asked_at;
  gboolean sentinel_answered;
  guint db;
  gchar *node_id;
  gchar *advertise;
  gchar *presence_channel;
  gchar *own_channel;
  gchar *channel_prefix;
  GMainContext *context;
  struct _ClusterLink *publisher;
  struct _ClusterLink *subscriber;
  GSource *tick;
  GSource *presence_soon; /* publish_presence() for a camera that moved here */
  GHashTable *nodes;     /* node id → gint64* last heard, monotonic µs */
  GHashTable *claimed;   /* camera ids this node claimed in Redis (owned keys) */
  GSource *claims_soon;  /* refresh the claims of @fresh_claims at once */
  GHashTable *fresh_claims; /* ids granted since: their claims get the new resume hash */
  guint beats;
  guint presence_fingerprint; /* of the camera list last published */
  gboolean full_presence_due;
  gboolean degraded;
  gboolean disposed;
};

void cluster_send_heartbeat (IcecamCluster *self);
void cluster_connect_master (IcecamCluster *self);
void cluster_link_attach (IcecamCluster *self, ClusterLink *link, redisAsyncContext *ac);
void cluster_link_forget (ClusterLink *link);
void cluster_link_close (ClusterLink *link);

/* icecam-cluster-sentinel.c: the master found through Redis Sentinel. */
gboolean cluster_parse_sentinel_url (const gchar *url, GStrv *hosts, guint **ports,
                                     gchar **master, guint *db, GError **error);
void cluster_sentinel_connect (IcecamCluster *self);

/* icecam-cluster-relays.c: relay sessions counted across the cluster, in the heartbeats. */
void cluster_add_relay_sessions (IcecamCluster *self, JsonBuilder *builder);
void cluster_read_relay_sessions (IcecamCluster *self, const gchar *node, JsonObject *object);

/* icecam-cluster-claims.c: camera ids claimed in Redis (docs/design.md, "Cluster"). */
void cluster_claims_init (IcecamCluster *self);
void cluster_claims_refresh (IcecamCluster *self);
void cluster_claims_soon (IcecamCluster *self, const gchar *camera_id);
void cluster_claims_taken (IcecamCluster *self, const gchar *from, const gchar *camera_id);
void cluster_claims_clear (IcecamCluster *self);

G_END_DECLS
