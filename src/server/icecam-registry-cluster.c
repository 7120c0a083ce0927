/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The registry's side of a cluster: the cameras other nodes hold, and sessions whose other end
 * is a client of another node, held here as a stand-in peer (docs/design.md, "Cluster"). */

#include "icecam-registry-private.h"

#include "icecam-token.h"

#include <gio/gio.h>

#include <string.h>

/* ---- stand-ins ---------------------------------------------------------------------------- */

static gchar *
proxy_key (const gchar *node, IcecamRole role, const gchar *name)
{
  return g_strdup_printf ("%s/%s/%s", node, icecam_role_to_string (role), name);
}

/* The stand-in for @name, a client of @node, made if @create and none exists yet. */
Peer *
registry_proxy_lookup (IcecamRegistry *self, const gchar *node, IcecamRole role,
                       const gchar *name, gboolean create)
{
  g_autofree gchar *key = proxy_key (node, role, name);
  Peer *proxy = g_hash_table_lookup (self->proxies, key);

  if (proxy != NULL || !create)
    return proxy;
  proxy = registry_peer_new (self->next_proxy_id--, node, NULL);
  registry_peer_set_identity (proxy, role, g_strdup (name));
  g_free (proxy->label);
  proxy->label = g_strdup_printf ("%s '%s' on node '%s'", icecam_role_to_string (role), name,
                                  node);
  proxy->node = g_strdup (node);
  /* Its own node checks what the client understands (restart and dtls: when it relays them
   * on); renewals are that node's business. */
  proxy->features = (role == ICECAM_ROLE_CAMERA ? ICECAM_FEATURE_RESTART : 0) | ICECAM_FEATURE_DTLS;
  registry_peer_set_state (proxy, PEER_STATE_READY);
  g_hash_table_insert (self->proxies, g_steal_pointer (&key), proxy);
  return proxy;
}

/* Forgets a stand-in that is in no session any more; local peers are left alone. */
void
registry_proxy_release (IcecamRegistry *self, Peer *proxy)
{
  g_autofree gchar *key = NULL;

  if (proxy->node == NULL || g_hash_table_size (proxy->sessions) > 0)
    return;
  key = proxy_key (proxy->node, proxy->role, proxy->name);
  if (g_hash_table_lookup (self->proxies, key) == proxy)
    g_hash_table_remove (self->proxies, key);
}

/* Queues ::moved-here for @camera_id, which came online here while another node listed it. */
void
registry_queue_moved_here (IcecamRegistry *self, const gchar *camera_id)
{
  Outgoing *out = g_new0 (Outgoing, 1);

  out->moved_here = g_strdup (camera_id);
  g_queue_push_tail (&self->outbox, out);
}

/* Queues @msg (taken) for the node that holds the client @proxy stands in for. */
void
registry_queue_route (IcecamRegistry *self, Peer *proxy, IcecamMessage *msg)
{
  Outgoing *out = g_new0 (Outgoing, 1);

  out->route_node = g_strdup (proxy->node);
  out->msg = msg;
  g_queue_push_tail (&self->outbox, out);
}

void
registry_cluster_clear (IcecamRegistry *self)
{
  g_clear_pointer (&self->proxies, g_hash_table_unref);
  g_clear_pointer (&self->remote_cameras, g_hash_table_unref);
}

/* ---- presence across nodes ---------------------------------------------------------------- */

/**
 * icecam_registry_dup_local_cameras:
 * @self: a registry
 *
 * Returns: (transfer full): the ids of the cameras connected to this node, for the others
 */
gchar **
icecam_registry_dup_local_cameras (IcecamRegistry *self)
{
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  GHashTableIter iter;
  gpointer id;

  g_return_val_if_fail (ICECAM_IS_REGISTRY (self), NULL);

  g_hash_table_iter_init (&iter, self->cameras);
  while (g_hash_table_iter_next (&iter, &id, NULL))
    g_strv_builder_add (builder, id);
  return g_strv_builder_end (builder);
}

/* Removes @node's cameras; TRUE if it had any. */
static gboolean
remove_remote_cameras (IcecamRegistry *self, const gchar *node)
{
  GHashTableIter iter;
  gpointer value;
  gboolean removed = FALSE;

  g_hash_table_iter_init (&iter, self->remote_cameras);
  while (g_hash_table_iter_next (&iter, NULL, &value)) {
    if (g_str_equal (value, node)) {
      g_hash_table_iter_remove (&iter);
      removed = TRUE;
    }
  }
  return removed;
}

/**
 * icecam_registry_set_remote_cameras:
 * @self: a registry
 * @node: another cluster node
 * @cameras: (nullable) (array zero-terminated=1): the cameras it holds now
 *
 * Replaces what the registry knows of @node's cameras; viewers get a new `presence` when that
 * changes the list. A camera id held here stays this node's.
 */
void
icecam_registry_set_remote_cameras (IcecamRegistry *self, const gchar *node,
                                    const gchar * const *cameras)
{
  guint before = 0;
  guint after = 0;
  gboolean changed = FALSE;
  GHashTableIter iter;
  gpointer value;

  g_return_if_fail (ICECAM_IS_REGISTRY (self));
  g_return_if_fail (node != NULL);

  g_hash_table_iter_init (&iter, self->remote_cameras);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    before += g_str_equal (value, node);
  for (guint i = 0; cameras != NULL && cameras[i] != NULL; i++) {
    const gchar *holder = g_hash_table_lookup (self->remote_cameras, cameras[i]);

    if (holder == NULL || !g_str_equal (holder, node))
      changed = TRUE;
    after++;
  }
  if (!changed && before == after)
    return;

  remove_remote_cameras (self, node);
  for (guint i = 0; cameras != NULL && cameras[i] != NULL; i++) {
    if (g_hash_table_contains (self->cameras, cameras[i]))
      g_warning ("cluster: camera '%s' is online here and on node '%s'", cameras[i], node);
    else if (g_hash_table_contains (self->remote_cameras, cameras[i]))
      g_warning ("cluster: camera '%s' is listed by node '%s' and node '%s'", cameras[i],
                 (const gchar *) g_hash_table_lookup (self->remote_cameras, cameras[i]), node);
    g_hash_table_insert (self->remote_cameras, g_strdup (cameras[i]), g_strdup (node));
  }
  registry_cameras_changed (self);
  registry_queue_presence_to_viewers (self);
  registry_flush_outbox (self);
}

/**
 * icecam_registry_remote_node_gone:
 * @self: a registry
 * @node: a cluster node that stopped
 *
 * Forgets @node's cameras and ends every session with one of its clients: the local ends get
 * `bye` "peer-left", as if that client's connection had gone.
 */
void
icecam_registry_remote_node_gone (IcecamRegistry *self, const gchar *node)
{
  GPtrArray *gone = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer key;
  gpointer value;

  g_return_if_fail (ICECAM_IS_REGISTRY (self));
  g_return_if_fail (node != NULL);

  g_hash_table_iter_init (&iter, self->proxies);
  while (g_hash_table_iter_next (&iter, &key, &value)) {
    Peer *proxy = value;

    if (g_str_equal (proxy->node, node)) {
      /* Stolen, so that ending its sessions does not free it under us; the key is ours. */
      g_hash_table_iter_steal (&iter);
      g_free (key);
      g_ptr_array_add (gone, proxy);
    }
  }
  for (guint i = 0; i < gone->len; i++) {
    Peer *proxy = gone->pdata[i];

    registry_sessions_end (self, proxy, ICECAM_BYE_CODE_PEER_LEFT, ICECAM_BYE_REASON_PEER_LEFT,
                           TRUE);
    registry_peer_free (proxy);
  }
  g_ptr_array_unref (gone);
  if (remove_remote_cameras (self, node)) {
    registry_cameras_changed (self);
    registry_queue_presence_to_viewers (self);
  }
  registry_flush_outbox (self);
}

/* ---- messages from other nodes ------------------------------------------------------------ */

/* A viewer of @node watches one of our cameras: the session @msg names, made here too. */
static void
remote_open (IcecamRegistry *self, const gchar *node, const IcecamMessage *msg)
{
  Peer *camera = msg->camera != NULL ? g_hash_table_lookup (self->cameras, msg->camera) : NULL;
  Peer *viewer;
  Session *session;

  if (msg->peer == NULL || msg->session == NULL) {
    g_warning ("cluster: node '%s' opened a session without a viewer or id", node);
    return;
  }
  viewer = registry_proxy_lookup (self, node, ICECAM_ROLE_VIEWER, msg->peer, TRUE);
  if (camera == NULL || camera->state != PEER_STATE_READY ||
      g_hash_table_contains (self->sessions, msg->session) ||
      g_hash_table_size (camera->sessions) >= self->max_sessions_per_camera) {
    registry_queue_send (self, viewer,
                         icecam_message_new_bye (msg->session, ICECAM_BYE_CODE_PEER_LEFT,
                                                 camera == NULL ? "camera not on this node"
                                                 : "camera refused the session"));
    registry_proxy_release (self, viewer);
    return;
  }
  session = registry_session_create (self, camera, viewer, msg->session);
  g_info ("session %s: %s watches %s", session->id, viewer->label, camera->label);
  registry_queue_send (self, camera,
                       registry_session_message (self, session, ICECAM_ROLE_CAMERA));
}

/* Forwards @msg of a client of @node to the local end of its session. */
static gboolean
remote_relay (IcecamRegistry *self, const gchar *node, const IcecamMessage *msg,
              GError **error)
{
  Session *session = msg->session != NULL ? g_hash_table_lookup (self->sessions, msg->session)
                                          : NULL;
  Peer *local;

  if (session == NULL) {
    /* Crossed with its end here: nothing to tell anybody. */
    if (msg->type == ICECAM_MESSAGE_BYE)
      return TRUE;
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "unknown session '%s'",
                 msg->session != NULL ? msg->session : "");
    return FALSE;
  }
  if (session->camera->node != NULL && g_str_equal (session->camera->node, node))
    local = session->viewer;
  else if (session->viewer->node != NULL && g_str_equal (session->viewer->node, node))
    local = session->camera;
  else {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                 "session '%s' has no end on node '%s'", msg->session, node);
    return FALSE;
  }
  if (msg->type == ICECAM_MESSAGE_DTLS && !(local->features & ICECAM_FEATURE_DTLS))
    return TRUE; /* the other node could not know; its sender falls back to the path */
  if (local->state != PEER_STATE_DETACHED)
    self->messages_relayed++;
  registry_queue_send (self, local, icecam_message_copy (msg));
  if (msg->type == ICECAM_MESSAGE_BYE)
    registry_session_destroy (self, session);
  return TRUE;
}

/**
 * icecam_registry_remote_message:
 * @self: a registry
 * @node: the cluster node it came from
 * @text: (array length=length): a protocol message another node's registry routed here
 *   (#IcecamRegistry::route); untrusted
 * @length: its length in bytes
 * @error: where to say what was wrong with it
 *
 * Acts on a message for a session with a client of @node: a `session` opens it here, the
 * others go to the local end.
 *
 * Returns: %TRUE if it was understood; on %FALSE nothing changed
 */
gboolean
icecam_registry_remote_message (IcecamRegistry *self, const gchar *node, const gchar *text,
                                gsize length, GError **error)
{
  g_autoptr (IcecamMessage) msg = NULL;
  gboolean ok = TRUE;

  g_return_val_if_fail (ICECAM_IS_REGISTRY (self), FALSE);
  g_return_val_if_fail (node != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  msg = icecam_message_parse (text, length, error);
  if (msg == NULL)
    return FALSE;
  switch (msg->type) {
  case ICECAM_MESSAGE_SESSION:
    remote_open (self, node, msg);
    break;
  case ICECAM_MESSAGE_OFFER:
  case ICECAM_MESSAGE_ANSWER:
  case ICECAM_MESSAGE_CANDIDATE:
  case ICECAM_MESSAGE_END_OF_CANDIDATES:
  case ICECAM_MESSAGE_RESTART:
  case ICECAM_MESSAGE_DTLS:
  case ICECAM_MESSAGE_BYE:
    ok = remote_relay (self, node, msg, error);
    break;
  default:
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "'%s' is not routed between nodes", icecam_message_type_to_string (msg->type));
    ok = FALSE;
    break;
  }
  registry_flush_outbox (self);
  return ok;
}
