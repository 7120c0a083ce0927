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
  gchar *host;
  guint port;
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
