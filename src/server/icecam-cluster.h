/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A rendezvous node's link to the others of its cluster, through Redis. */

#pragma once

#include <glib-object.h>

#include "icecam-registry.h"

G_BEGIN_DECLS

/**
 * ICECAM_CLUSTER_HEARTBEAT_MS:
 *
 * How often a node tells the others its cameras and refreshes its liveness key.
 */
#define ICECAM_CLUSTER_HEARTBEAT_MS 1000

/**
 * ICECAM_CLUSTER_NODE_TIMEOUT_S:
 *
 * How long a node may stay silent before the others drop it, and the TTL of its key.
 */
#define ICECAM_CLUSTER_NODE_TIMEOUT_S 6

#define ICECAM_TYPE_CLUSTER (icecam_cluster_get_type ())
G_DECLARE_FINAL_TYPE (IcecamCluster, icecam_cluster, ICECAM, CLUSTER, GObject)

gboolean icecam_cluster_parse_url (const gchar *url, gchar **host, guint *port, guint *db,
                                   GError **error);
gboolean icecam_cluster_check_node_id (const gchar *node_id, GError **error);
IcecamCluster *icecam_cluster_new (IcecamRegistry *registry, const gchar *url,
                                   const gchar *node_id, const gchar *advertise,
                                   GError **error);
gboolean icecam_cluster_get_degraded (IcecamCluster *self);
guint icecam_cluster_get_nodes (IcecamCluster *self);

G_END_DECLS
