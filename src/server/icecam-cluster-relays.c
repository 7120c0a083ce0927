/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Relay sessions counted across the cluster: each node's heartbeat carries
 * `"relays":{URL: sessions}`, the sessions it assigned each relay; the others add them to their
 * own when they choose a relay (docs/design.md, "The relay pool"). A node's counts leave with it
 * (its next heartbeat, or its drop), so nothing outlives a dead node, as a counter kept in a
 * Redis key would. */

#include "icecam-cluster-private.h"

void
cluster_add_relay_sessions (IcecamCluster *self, JsonBuilder *builder)
{
  g_autoptr (GArray) relays = icecam_registry_get_relays (self->registry);

  if (relays->len == 0)
    return;
  json_builder_set_member_name (builder, "relays");
  json_builder_begin_object (builder);
  for (guint i = 0; i < relays->len; i++) {
    const IcecamRegistryRelay *relay = &g_array_index (relays, IcecamRegistryRelay, i);

    json_builder_set_member_name (builder, relay->url);
    json_builder_add_int_value (builder, relay->sessions);
  }
  json_builder_end_object (builder);
}

/* Bad input (not an object, a count that is not a small non-negative integer) is skipped. */
void
cluster_read_relay_sessions (IcecamCluster *self, const gchar *node, JsonObject *object)
{
  g_autoptr (GHashTable) sessions = NULL;
  g_autoptr (GList) members = NULL;
  JsonNode *relays = json_object_get_member (object, "relays");
  JsonObject *counts;

  if (relays == NULL) {
    icecam_registry_set_remote_relay_sessions (self->registry, node, NULL);
    return;
  }
  if (!JSON_NODE_HOLDS_OBJECT (relays)) {
    g_warning ("cluster: ignoring node '%s''s relays: not an object", node);
    return;
  }
  counts = json_node_get_object (relays);
  sessions = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  members = json_object_get_members (counts);
  for (GList *l = members; l != NULL; l = l->next) {
    JsonNode *value = json_object_get_member (counts, l->data);

    if (!JSON_NODE_HOLDS_VALUE (value) || json_node_get_value_type (value) != G_TYPE_INT64 ||
        json_node_get_int (value) < 0 || json_node_get_int (value) > G_MAXINT32) {
      g_warning ("cluster: ignoring node '%s''s session count for relay '%s'", node,
                 (const gchar *) l->data);
      continue;
    }
    g_hash_table_insert (sessions, g_strdup (l->data),
                         GUINT_TO_POINTER ((guint) json_node_get_int (value)));
  }
  icecam_registry_set_remote_relay_sessions (self->registry, node, sessions);
}
