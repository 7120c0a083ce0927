/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A camera id claimed across the cluster before the camera is registered: the cluster (Redis)
 * answers atomically whether a camera of another live node holds it, so that two cameras with
 * one id on two nodes at once cannot both get in, and a camera that moves from a dead node, or
 * proves it is the same camera, gets its id back at once (docs/design.md, "Cluster"). */

#include "icecam-registry-private.h"

/**
 * icecam_registry_set_claim_func:
 * @self: a registry
 * @func: (nullable): claims a camera id for this node; %NULL: the node decides alone
 * @user_data: for @func
 *
 * With @func, a camera whose id is free on this node is registered only once the claim is
 * granted (icecam_registry_claim_done()); until then its connection waits for its `welcome`.
 */
void
icecam_registry_set_claim_func (IcecamRegistry *self, IcecamRegistryClaimFunc func,
                                gpointer user_data)
{
  g_return_if_fail (ICECAM_IS_REGISTRY (self));

  self->claim_func = func;
  self->claim_data = user_data;
}

/* Asks the cluster for @hello's id; TRUE if @peer now waits for the answer. */
gboolean
registry_claim_start (IcecamRegistry *self, Peer *peer, const IcecamMessage *hello,
                      gboolean proven)
{
  guint64 id = peer->id;

  if (self->claim_func == NULL)
    return FALSE;
  peer->claiming = icecam_message_copy (hello);
  if (self->claim_func (self, id, hello->id, hello->resume, proven, self->claim_data))
    return TRUE;
  /* No claim made (the cluster is degraded): the caller decides now. */
  peer = g_hash_table_lookup (self->peers, &id);
  if (peer != NULL)
    g_clear_pointer (&peer->claiming, icecam_message_free);
  return FALSE;
}

/**
 * icecam_registry_claim_done:
 * @self: a registry
 * @peer_id: the connection that asked for the id
 * @result: the cluster's answer
 * @holder: (nullable): with %ICECAM_REGISTRY_CLAIM_REFUSED, the node that holds the id
 *
 * Registers the camera the claim was for, or refuses it with `id-in-use`. Nothing happens if
 * the connection is gone meanwhile.
 */
void
icecam_registry_claim_done (IcecamRegistry *self, guint64 peer_id, IcecamRegistryClaim result,
                            const gchar *holder)
{
  g_autoptr (IcecamMessage) hello = NULL;
  Peer *peer;

  g_return_if_fail (ICECAM_IS_REGISTRY (self));

  peer = g_hash_table_lookup (self->peers, &peer_id);
  if (peer == NULL || peer->claiming == NULL)
    return;
  hello = g_steal_pointer (&peer->claiming);
  if (peer->state != PEER_STATE_CONNECTED)
    return;
  if (result == ICECAM_REGISTRY_CLAIM_UNKNOWN &&
      g_hash_table_contains (self->remote_cameras, hello->id)) {
    result = ICECAM_REGISTRY_CLAIM_REFUSED;
    holder = g_hash_table_lookup (self->remote_cameras, hello->id);
  }
  if (result == ICECAM_REGISTRY_CLAIM_REFUSED) {
    icecam_ops_log_event (self->ops_log, ICECAM_OPS_LOG_CAMERA_REFUSED,
                          "camera '%s' refused from %s: online on cluster node '%s'",
                          hello->id, peer->address, holder != NULL ? holder : "?");
    registry_queue_error (self, peer, ICECAM_ERROR_CODE_ID_IN_USE, NULL,
                          "camera id '%s' is already online on cluster node '%s'", hello->id,
                          holder != NULL ? holder : "?");
    registry_queue_close (self, peer, "camera id already online on another node");
  } else {
    registry_register_camera_claimed (self, peer, hello);
  }
  registry_flush_outbox (self);
}

/**
 * icecam_registry_dup_claimed_cameras:
 * @self: a registry
 * @resumes: (out) (transfer full) (array zero-terminated=1): for each id, the `resume` secret
 *   of its camera's latest welcome, "" if none
 *
 * Returns: (transfer full) (array zero-terminated=1): the ids this node holds: its cameras
 *   online and those whose connection is gone but whose sessions are kept for them
 */
gchar **
icecam_registry_dup_claimed_cameras (IcecamRegistry *self, gchar ***resumes)
{
  g_autoptr (GStrvBuilder) ids = g_strv_builder_new ();
  g_autoptr (GStrvBuilder) secrets = g_strv_builder_new ();
  GHashTable *tables[2];
  GHashTableIter iter;
  gpointer key;
  gpointer value;

  g_return_val_if_fail (ICECAM_IS_REGISTRY (self), NULL);
  g_return_val_if_fail (resumes != NULL, NULL);

  tables[0] = self->cameras;
  tables[1] = self->detached_cameras;
  for (guint t = 0; t < G_N_ELEMENTS (tables); t++) {
    g_hash_table_iter_init (&iter, tables[t]);
    while (g_hash_table_iter_next (&iter, &key, &value)) {
      const Peer *peer = value;

      /* An online camera's id wins over a detached one of the same id (replaced soon). */
      if (t == 1 && g_hash_table_contains (self->cameras, key))
        continue;
      g_strv_builder_add (ids, key);
      g_strv_builder_add (secrets, peer->resume != NULL ? peer->resume : "");
    }
  }
  *resumes = g_strv_builder_end (secrets);
  return g_strv_builder_end (ids);
}

/**
 * icecam_registry_get_camera_resume:
 * @self: a registry
 * @camera_id: a camera id
 *
 * Returns: (nullable): the `resume` secret of the latest welcome of the camera holding
 *   @camera_id here (online, or detached), "" if it has none; %NULL if no camera holds it
 */
const gchar *
icecam_registry_get_camera_resume (IcecamRegistry *self, const gchar *camera_id)
{
  Peer *peer;

  g_return_val_if_fail (ICECAM_IS_REGISTRY (self), NULL);

  peer = g_hash_table_lookup (self->cameras, camera_id);
  if (peer == NULL)
    peer = g_hash_table_lookup (self->detached_cameras, camera_id);
  if (peer == NULL)
    return NULL;
  return peer->resume != NULL ? peer->resume : "";
}

/**
 * icecam_registry_camera_taken:
 * @self: a registry
 * @camera_id: a camera id this node held
 * @node: the cluster node that holds it now
 *
 * The camera moved to @node (or proved there that it is the one): its connection here, live
 * or gone, is dropped as replaced, and its sessions here end with `peer-left` for their other
 * ends, as when its node dies; their media may go on.
 *
 * Returns: %TRUE if this node held @camera_id
 */
gboolean
icecam_registry_camera_taken (IcecamRegistry *self, const gchar *camera_id, const gchar *node)
{
  Peer *online;
  Peer *detached;

  g_return_val_if_fail (ICECAM_IS_REGISTRY (self), FALSE);
  g_return_val_if_fail (camera_id != NULL && node != NULL, FALSE);

  online = g_hash_table_lookup (self->cameras, camera_id);
  detached = g_hash_table_lookup (self->detached_cameras, camera_id);
  if (online == NULL && detached == NULL)
    return FALSE;
  if (online != NULL) {
    g_message ("%s: moved to cluster node '%s'", online->label, node);
    icecam_ops_log_event (self->ops_log, ICECAM_OPS_LOG_CAMERA_OFFLINE,
                          "camera '%s' offline here (was at %s): online on node '%s'",
                          camera_id, online->address, node);
    g_hash_table_remove (self->cameras, camera_id);
    registry_cameras_changed (self);
    registry_sessions_end (self, online, ICECAM_BYE_CODE_PEER_LEFT, ICECAM_BYE_REASON_PEER_LEFT,
                           TRUE);
    registry_queue_replaced (self, online);
    registry_queue_presence_to_viewers (self);
  }
  if (detached != NULL) {
    g_info ("%s: back on cluster node '%s', its sessions here are over", detached->label, node);
    registry_sessions_end (self, detached, ICECAM_BYE_CODE_PEER_LEFT,
                           ICECAM_BYE_REASON_PEER_LEFT, FALSE);
    registry_detached_free (self, detached);
  }
  registry_flush_outbox (self);
  return TRUE;
}
