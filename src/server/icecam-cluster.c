/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A rendezvous node's link to the others of its cluster, through Redis: presence heartbeats,
 * liveness keys, and the messages of sessions whose ends are on different nodes. */

#include "icecam-cluster-private.h"

#include <errno.h>
#include <json-glib/json-glib.h>
#include <string.h>

/**
 * SECTION:icecam-cluster
 *
 * Two Redis connections per node: one subscribed to the cluster's presence channel and to this
 * node's own channel, one for PUBLISH and SET. Every %ICECAM_CLUSTER_HEARTBEAT_MS the node
 * publishes `{"node","advertise","cameras"}` on the presence channel and sets its liveness key
 * with a TTL of %ICECAM_CLUSTER_NODE_TIMEOUT_S; a node not heard from for that long is dropped
 * (icecam_registry_remote_node_gone()). Messages the registry routes to another node
 * (#IcecamRegistry::route) are published on that node's channel as `{"from","message"}`.
 * When Redis is unreachable the node is degraded: it serves its own clients, keeps the other
 * nodes' sessions as they are (it cannot tell a dead node from a lost Redis), and reconnects
 * every second. See docs/design.md, "Cluster".
 *
 * Threading: create and use it in one thread; its callbacks run in the #GMainContext that was
 * thread-default when it was created.
 */

/* A heartbeat carries the full camera list at least this often (beats). */
#define FULL_PRESENCE_EVERY 5
/* A camera that came here from another node is announced this soon, not at the next beat
 * (which merges what else moved meanwhile: a node's failover moves all of its cameras). */
#define MOVED_PRESENCE_DELAY_MS 100

enum { PROP_0, PROP_DEGRADED, N_PROPS };
static GParamSpec *properties[N_PROPS];

G_DEFINE_FINAL_TYPE (IcecamCluster, icecam_cluster, G_TYPE_OBJECT)

/* ---- a Redis connection in a GMainContext ------------------------------------------------- */

struct _RedisSource {
  GSource source;
  redisAsyncContext *ac;
  GPollFD poll_fd;
};


static void
redis_source_set_events (gpointer data, gushort add, gushort remove)
{
  RedisSource *source = data;

  source->poll_fd.events = (source->poll_fd.events | add) & ~remove;
  g_main_context_wakeup (g_source_get_context (&source->source));
}

static void redis_add_read (gpointer data) { redis_source_set_events (data, G_IO_IN, 0); }
static void redis_del_read (gpointer data) { redis_source_set_events (data, 0, G_IO_IN); }
static void redis_add_write (gpointer data) { redis_source_set_events (data, G_IO_OUT, 0); }
static void redis_del_write (gpointer data) { redis_source_set_events (data, 0, G_IO_OUT); }

/* hiredis is done with the connection: it frees it right after. */
static void
redis_cleanup (gpointer data)
{
  RedisSource *source = data;

  source->ac = NULL;
  source->poll_fd.events = 0;
}

static gboolean
redis_source_prepare (GSource *source, gint *timeout)
{
  *timeout = -1;
  return FALSE;
}

static gboolean
redis_source_check (GSource *source)
{
  RedisSource *redis = (RedisSource *) source;

  return (redis->poll_fd.revents & (redis->poll_fd.events | G_IO_ERR | G_IO_HUP)) != 0;
}

static gboolean
redis_source_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  RedisSource *redis = (RedisSource *) source;
  gushort revents = redis->poll_fd.revents;

  redis->poll_fd.revents = 0;
  /* Either handler may end the connection (redis_cleanup), so look again before the next. */
  if (redis->ac != NULL && (revents & G_IO_OUT))
    redisAsyncHandleWrite (redis->ac);
  if (redis->ac != NULL && (revents & (G_IO_IN | G_IO_ERR | G_IO_HUP)))
    redisAsyncHandleRead (redis->ac);
  return redis->ac != NULL ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

static GSourceFuncs redis_source_funcs = {
  .prepare = redis_source_prepare,
  .check = redis_source_check,
  .dispatch = redis_source_dispatch,
};

static RedisSource *
redis_source_new (redisAsyncContext *ac, GMainContext *context)
{
  RedisSource *source = (RedisSource *) g_source_new (&redis_source_funcs, sizeof (RedisSource));

  source->ac = ac;
  source->poll_fd.fd = ac->c.fd;
  g_source_add_poll (&source->source, &source->poll_fd);
  ac->ev.addRead = redis_add_read;
  ac->ev.delRead = redis_del_read;
  ac->ev.addWrite = redis_add_write;
  ac->ev.delWrite = redis_del_write;
  ac->ev.cleanup = redis_cleanup;
  ac->ev.data = source;
  g_source_attach (&source->source, context);
  return source;
}

/* ---- state -------------------------------------------------------------------------------- */

static void
update_degraded (IcecamCluster *self)
{
  gboolean degraded = !self->publisher->up || !self->subscriber->up;

  if (degraded == self->degraded || self->disposed)
    return;
  self->degraded = degraded;
  if (degraded) {
    g_warning ("cluster: node '%s' lost Redis at %s:%u: serving its own clients only",
               self->node_id, self->host, self->port);
  } else {
    GHashTableIter iter;
    gpointer last;

    g_message ("cluster: node '%s' joined through Redis at %s:%u", self->node_id, self->host,
               self->port);
    self->full_presence_due = TRUE;  /* what changed meanwhile reached nobody */
    /* Nobody could be heard meanwhile: give every node a full timeout from now. */
    g_hash_table_iter_init (&iter, self->nodes);
    while (g_hash_table_iter_next (&iter, NULL, &last))
      *(gint64 *) last = g_get_monotonic_time ();
  }
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_DEGRADED]);
}

/* In its disconnect callback: hiredis frees the connection. */
void
cluster_link_forget (ClusterLink *link)
{
  if (link->source != NULL) {
    g_source_destroy (&link->source->source);
    g_source_unref (&link->source->source);
    link->source = NULL;
  }
  link->ac = NULL;
}

/* Outside hiredis's callbacks: ends and frees the connection, no callback sees it. */
void
cluster_link_close (ClusterLink *link)
{
  redisAsyncContext *ac = link->ac;

  if (ac != NULL) {
    ac->data = NULL;
    link->ac = NULL;
    redisAsyncFree (ac);
  }
  cluster_link_forget (link);
}

void
cluster_link_attach (IcecamCluster *self, ClusterLink *link, redisAsyncContext *ac)
{
  ac->data = link;
  link->ac = ac;
  link->source = redis_source_new (ac, self->context);
}

static void
link_down (ClusterLink *link, const gchar *why)
{
  cluster_link_forget (link);
  if (link->up || !link->cluster->degraded)
    g_info ("cluster: %s connection down: %s", link->name, why);
  link->up = FALSE;
  update_degraded (link->cluster);
}

/* ---- receiving ---------------------------------------------------------------------------- */

static void
handle_presence (IcecamCluster *self, const gchar *text, gsize length)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  g_auto (GStrv) cameras = NULL;
  JsonObject *object;
  JsonArray *array;
  const gchar *node;
  gint64 *last;

  if (!json_parser_load_from_data (parser, text, length, &error) ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser))) {
    g_warning ("cluster: ignoring a presence message that is not a JSON object: %s",
               error != NULL ? error->message : "wrong type");
    return;
  }
  object = json_node_get_object (json_parser_get_root (parser));
  node = json_object_get_string_member_with_default (object, "node", NULL);
  array = json_object_has_member (object, "cameras") &&
          JSON_NODE_HOLDS_ARRAY (json_object_get_member (object, "cameras"))
          ? json_object_get_array_member (object, "cameras") : NULL;
  if (node == NULL || *node == '\0' ||
      (array == NULL && json_object_has_member (object, "cameras"))) {
    g_warning ("cluster: ignoring a presence message without a node, or cameras not a list");
    return;
  }
  if (g_str_equal (node, self->node_id))
    return;
  for (guint i = 0; array != NULL && i < json_array_get_length (array); i++) {
    JsonNode *element = json_array_get_element (array, i);

    if (JSON_NODE_HOLDS_VALUE (element) && json_node_get_value_type (element) == G_TYPE_STRING)
      g_strv_builder_add (builder, json_node_get_string (element));
  }
  cameras = g_strv_builder_end (builder);
  last = g_hash_table_lookup (self->nodes, node);
  if (last == NULL) {
    g_message ("cluster: node '%s' sees node '%s'", self->node_id, node);
    last = g_new (gint64, 1);
    g_hash_table_insert (self->nodes, g_strdup (node), last);
    self->full_presence_due = TRUE;  /* the newcomer learns our cameras at our next beat */
  }
  *last = g_get_monotonic_time ();
  cluster_read_relay_sessions (self, node, object);
  /* Without a list the node's cameras are as it last said. */
  if (array != NULL)
    icecam_registry_set_remote_cameras (self->registry, node, (const gchar * const *) cameras);
}

static void
handle_routed (IcecamCluster *self, const gchar *text, gsize length)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  JsonObject *object;
  const gchar *from;
  const gchar *message;

  if (!json_parser_load_from_data (parser, text, length, &error) ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser))) {
    g_warning ("cluster: ignoring a routed message that is not a JSON object: %s",
               error != NULL ? error->message : "wrong type");
    return;
  }
  object = json_node_get_object (json_parser_get_root (parser));
  from = json_object_get_string_member_with_default (object, "from", NULL);
  message = json_object_get_string_member_with_default (object, "message", NULL);
  if (from != NULL && json_object_has_member (object, "taken")) {
    const gchar *taken = json_object_get_string_member_with_default (object, "taken", NULL);

    if (taken == NULL)
      g_warning ("cluster: ignoring a 'taken' that is not a camera id");
    else
      cluster_claims_taken (self, from, taken);
    return;
  }
  if (from == NULL || message == NULL) {
    g_warning ("cluster: ignoring a routed message without 'from' or 'message'");
    return;
  }
  if (!icecam_registry_remote_message (self->registry, from, message, strlen (message),
                                       &error))
    g_warning ("cluster: ignoring a message from node '%s': %s", from, error->message);
}

/* Every message on the subscribed channels: ["message", channel, payload]. */
static void
on_subscriber_reply (redisAsyncContext *ac, void *data, void *privdata)
{
  IcecamCluster *self = privdata;
  redisReply *reply = data;
  redisReply *channel;
  redisReply *payload;

  if (reply == NULL || self->disposed)
    return;
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3 ||
      reply->element[0]->type != REDIS_REPLY_STRING) {
    g_warning ("cluster: ignoring an unexpected reply on the subscriber connection");
    return;
  }
  if (strcmp (reply->element[0]->str, "message") != 0)
    return;  /* "subscribe" confirmations */
  channel = reply->element[1];
  payload = reply->element[2];
  if (channel->type != REDIS_REPLY_STRING || payload->type != REDIS_REPLY_STRING) {
    g_warning ("cluster: ignoring a pub/sub message with a non-string channel or payload");
    return;
  }
  if (strcmp (channel->str, self->presence_channel) == 0)
    handle_presence (self, payload->str, payload->len);
  else if (strcmp (channel->str, self->own_channel) == 0)
    handle_routed (self, payload->str, payload->len);
}

/* ---- sending ------------------------------------------------------------------------------ */

static void
on_command_reply (redisAsyncContext *ac, void *data, void *privdata)
{
  redisReply *reply = data;

  if (reply != NULL && reply->type == REDIS_REPLY_ERROR)
    g_warning ("cluster: Redis refused a command: %s", reply->str);
}

static void
publish (IcecamCluster *self, const gchar *channel, const gchar *payload)
{
  if (!self->publisher->up)
    return;
  redisAsyncCommand (self->publisher->ac, on_command_reply, NULL, "PUBLISH %s %s", channel,
                     payload);
}

/* Publishes the node's presence: its camera list when it changed (or a full one is due), and
 * its relay sessions. */
static void
publish_presence (IcecamCluster *self)
{
  g_autoptr (JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr (JsonGenerator) generator = json_generator_new ();
  g_autoptr (JsonNode) root = NULL;
  g_auto (GStrv) cameras = icecam_registry_dup_local_cameras (self->registry);
  g_autofree gchar *text = NULL;
  guint fingerprint = 0;
  guint n = 0;

  /* The list only when it changed, a node joined, or every FULL_PRESENCE_EVERY beats (to heal
   * a lost message): at thousands of cameras a node, parsing every node's list every second
   * is most of what a quiet cluster does. */
  for (; cameras[n] != NULL; n++)
    fingerprint ^= g_str_hash (cameras[n]);
  fingerprint ^= n * 2654435761u;
  if (fingerprint != self->presence_fingerprint || self->full_presence_due ||
      self->beats % FULL_PRESENCE_EVERY == 0) {
    self->presence_fingerprint = fingerprint;
    self->full_presence_due = FALSE;
  } else {
    g_clear_pointer (&cameras, g_strfreev);
  }
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "node");
  json_builder_add_string_value (builder, self->node_id);
  json_builder_set_member_name (builder, "advertise");
  json_builder_add_string_value (builder, self->advertise != NULL ? self->advertise : "");
  if (cameras != NULL) {
    json_builder_set_member_name (builder, "cameras");
    json_builder_begin_array (builder);
    for (guint i = 0; cameras[i] != NULL; i++)
      json_builder_add_string_value (builder, cameras[i]);
    json_builder_end_array (builder);
  }
  cluster_add_relay_sessions (self, builder);
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  text = json_generator_to_data (generator, NULL);

  publish (self, self->presence_channel, text);
}

void
cluster_send_heartbeat (IcecamCluster *self)
{
  g_autofree gchar *key = g_strconcat (self->channel_prefix, "node:", self->node_id, NULL);

  self->beats++;
  publish_presence (self);
  if (self->publisher->up)
    redisAsyncCommand (self->publisher->ac, on_command_reply, NULL, "SET %s %s EX %u", key,
                       self->advertise != NULL ? self->advertise : self->node_id,
                       ICECAM_CLUSTER_NODE_TIMEOUT_S);
  /* Every other beat: the claims' TTL is three such periods. */
  if (self->beats % 2 == 0)
    cluster_claims_refresh (self);
}

static gboolean
on_presence_soon (gpointer user_data)
{
  IcecamCluster *self = user_data;

  g_clear_pointer (&self->presence_soon, g_source_unref);
  if (!self->degraded)
    publish_presence (self);
  return G_SOURCE_REMOVE;
}

/* The other nodes list @camera_id as another node's, and route its viewers there (to a node
 * that died, after a failover) until they hear otherwise: tell them now. */
static void
on_registry_moved_here (IcecamRegistry *registry, const gchar *camera_id, gpointer user_data)
{
  IcecamCluster *self = user_data;

  g_info ("cluster: camera '%s' was another node's: announcing it here now", camera_id);
  if (self->presence_soon != NULL)
    return;
  self->presence_soon = g_timeout_source_new (MOVED_PRESENCE_DELAY_MS);
  g_source_set_callback (self->presence_soon, on_presence_soon, self, NULL);
  g_source_attach (self->presence_soon, self->context);
}

static void
on_registry_route (IcecamRegistry *registry, const gchar *node, IcecamMessage *msg,
                   gpointer user_data)
{
  IcecamCluster *self = user_data;
  g_autoptr (JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr (JsonGenerator) generator = json_generator_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autofree gchar *message = icecam_message_to_json (msg);
  g_autofree gchar *text = NULL;
  g_autofree gchar *channel = g_strconcat (self->channel_prefix, "node:", node, NULL);

  if (!self->publisher->up) {
    g_debug ("cluster: Redis is down, dropping a message for node '%s'", node);
    return;
  }
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "from");
  json_builder_add_string_value (builder, self->node_id);
  json_builder_set_member_name (builder, "message");
  json_builder_add_string_value (builder, message);
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  text = json_generator_to_data (generator, NULL);
  publish (self, channel, text);
}

/* ---- connecting --------------------------------------------------------------------------- */

/* Connected (and, through Sentinel, to the master): the link is up. */
static void
link_ready (ClusterLink *link)
{
  IcecamCluster *self = link->cluster;

  link->up = TRUE;
  g_info ("cluster: %s connection to %s:%u up", link->name, self->host, self->port);
  if (link == self->subscriber) {
    redisAsyncCommand (link->ac, on_subscriber_reply, self, "SUBSCRIBE %s %s",
                       self->presence_channel, self->own_channel);
  } else {
    redisAsyncCommand (link->ac, on_command_reply, NULL, "SELECT %u", self->db);
    cluster_send_heartbeat (self);
  }
  update_degraded (self);
}

/* Through Sentinel: the address it gave must be the master (not a replica it has not yet
 * reconfigured, nor an old master back from the dead). */
static void
on_role_reply (redisAsyncContext *ac, void *data, void *privdata)
{
  ClusterLink *link = privdata;
  redisReply *reply = data;

  if (reply == NULL || ac->data == NULL || link->cluster->disposed)
    return;
  if (reply->type == REDIS_REPLY_ARRAY && reply->elements >= 1 &&
      reply->element[0]->type == REDIS_REPLY_STRING &&
      strcmp (reply->element[0]->str, "master") == 0) {
    link_ready (link);
    return;
  }
  g_warning ("cluster: %s:%u is not the master (ROLE says %s): asking the sentinels again",
             link->cluster->host, link->cluster->port,
             reply->type == REDIS_REPLY_ARRAY && reply->elements >= 1 &&
             reply->element[0]->type == REDIS_REPLY_STRING ? reply->element[0]->str
             : reply->type == REDIS_REPLY_ERROR ? reply->str : "something else");
  redisAsyncDisconnect (ac);
}

static void
on_connect (const redisAsyncContext *ac, int status)
{
  ClusterLink *link = ac->data;

  if (status != REDIS_OK) {
    link_down (link, ac->errstr);
    return;
  }
  if (link->cluster->master_name != NULL)
    redisAsyncCommand (link->ac, on_role_reply, link, "ROLE");
  else
    link_ready (link);
}

static void
on_disconnect (const redisAsyncContext *ac, int status)
{
  ClusterLink *link = ac->data;

  if (link == NULL)
    return;
  link_down (link, ac->errstr[0] != '\0' ? ac->errstr : "closed");
}

static void
link_connect (IcecamCluster *self, ClusterLink *link)
{
  redisAsyncContext *ac = redisAsyncConnect (self->host, (int) self->port);

  if (ac == NULL || ac->err) {
    g_debug ("cluster: cannot connect to %s:%u: %s", self->host, self->port,
             ac != NULL ? ac->errstr : "out of memory");
    if (ac != NULL)
      redisAsyncFree (ac);
    return;
  }
  cluster_link_attach (self, link, ac);
  redisAsyncSetConnectCallback (ac, on_connect);
  redisAsyncSetDisconnectCallback (ac, on_disconnect);
}

/* Connects the links to the master that are down. */
void
cluster_connect_master (IcecamCluster *self)
{
  if (self->publisher->ac == NULL)
    link_connect (self, self->publisher);
  if (self->subscriber->ac == NULL)
    link_connect (self, self->subscriber);
}

static gboolean
on_tick (gpointer user_data)
{
  IcecamCluster *self = user_data;
  gint64 now = g_get_monotonic_time ();
  GHashTableIter iter;
  gpointer node;
  gpointer last;
  GPtrArray *gone = g_ptr_array_new_with_free_func (g_free);

  if (self->publisher->ac == NULL || self->subscriber->ac == NULL) {
    if (self->master_name != NULL)
      cluster_sentinel_connect (self);
    else
      cluster_connect_master (self);
  }
  if (!self->degraded) {
    cluster_send_heartbeat (self);
    g_hash_table_iter_init (&iter, self->nodes);
    while (g_hash_table_iter_next (&iter, &node, &last)) {
      if (now - *(gint64 *) last > ICECAM_CLUSTER_NODE_TIMEOUT_S * G_USEC_PER_SEC)
        g_ptr_array_add (gone, g_strdup (node));
    }
  }
  for (guint i = 0; i < gone->len; i++) {
    const gchar *name = gone->pdata[i];

    g_warning ("cluster: node '%s' silent for %d s: dropping its cameras and sessions", name,
               ICECAM_CLUSTER_NODE_TIMEOUT_S);
    g_hash_table_remove (self->nodes, name);
    icecam_registry_set_remote_relay_sessions (self->registry, name, NULL);
    icecam_registry_remote_node_gone (self->registry, name);
  }
  g_ptr_array_unref (gone);
  return G_SOURCE_CONTINUE;
}

/* ---- public API --------------------------------------------------------------------------- */

/**
 * icecam_cluster_parse_url:
 * @url: `redis://HOST:PORT[/DB]`, or `redis-sentinel://HOST:PORT[,HOST:PORT...]/MASTERNAME[/DB]`
 * @host: (out): the host (the first sentinel's for a Sentinel URL)
 * @port: (out): the port (the first sentinel's)
 * @db: (out): the database number, 0 if none
 * @error: where to say what is wrong with it
 *
 * Returns: %TRUE if @url is a Redis URL this understands
 */
gboolean
icecam_cluster_parse_url (const gchar *url, gchar **host, guint *port, guint *db,
                          GError **error)
{
  g_autoptr (GUri) uri = NULL;
  const gchar *path;
  guint64 number = 0;

  if (g_str_has_prefix (url, "redis-sentinel:")) {
    g_auto (GStrv) hosts = NULL;
    g_autofree guint *ports = NULL;

    if (!cluster_parse_sentinel_url (url, &hosts, &ports, NULL, db, error))
      return FALSE;
    *host = g_strdup (hosts[0]);
    *port = ports[0];
    return TRUE;
  }
  uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);
  if (uri == NULL || g_strcmp0 (g_uri_get_scheme (uri), "redis") != 0 ||
      g_uri_get_host (uri) == NULL || *g_uri_get_host (uri) == '\0' ||
      g_uri_get_port (uri) <= 0 || g_uri_get_userinfo (uri) != NULL ||
      g_uri_get_query (uri) != NULL) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                 "'%s' is not a redis://HOST:PORT[/DB] URL", url);
    return FALSE;
  }
  path = g_uri_get_path (uri);
  if (path[0] == '/' && path[1] != '\0' &&
      !g_ascii_string_to_unsigned (path + 1, 10, 0, 15, &number, NULL)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                 "'%s': the database must be a number from 0 to 15", url);
    return FALSE;
  }
  *host = g_strdup (g_uri_get_host (uri));
  *port = (guint) g_uri_get_port (uri);
  *db = (guint) number;
  return TRUE;
}

/**
 * icecam_cluster_check_node_id:
 * @node_id: a node's name
 * @error: where to say what is wrong with it
 *
 * Returns: %TRUE if @node_id can name a node: 1 to 64 characters, none of them a space, '/',
 *   ':', a quote or a backslash (it is part of Redis key and channel names)
 */
gboolean
icecam_cluster_check_node_id (const gchar *node_id, GError **error)
{
  if (*node_id == '\0' || strpbrk (node_id, " /:\"\\") != NULL || strlen (node_id) > 64 ||
      !g_utf8_validate (node_id, -1, NULL)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                 "node id '%s' must be 1 to 64 characters without spaces, '/', ':', quotes",
                 node_id);
    return FALSE;
  }
  return TRUE;
}

/**
 * icecam_cluster_new:
 * @registry: the node's registry
 * @url: the Redis server, `redis://HOST:PORT[/DB]`, or its sentinels,
 *   `redis-sentinel://HOST:PORT[,HOST:PORT...]/MASTERNAME[/DB]`
 * @node_id: this node's name, unique in the cluster
 * @advertise: (nullable): the URL clients reach this node at, published for operators
 * @error: where to say what is wrong with @url or @node_id
 *
 * Joins the cluster: connects to Redis in the thread-default main context and keeps trying
 * when it cannot.
 *
 * Returns: (transfer full) (nullable): the cluster link, or %NULL with @error set
 */
IcecamCluster *
icecam_cluster_new (IcecamRegistry *registry, const gchar *url, const gchar *node_id,
                    const gchar *advertise, GError **error)
{
  IcecamCluster *self;
  g_autofree gchar *host = NULL;
  guint port;
  guint db;

  g_return_val_if_fail (ICECAM_IS_REGISTRY (registry), NULL);
  g_return_val_if_fail (url != NULL && node_id != NULL, NULL);

  g_auto (GStrv) sentinel_hosts = NULL;
  g_autofree guint *sentinel_ports = NULL;
  g_autofree gchar *master_name = NULL;

  if (g_str_has_prefix (url, "redis-sentinel:")) {
    if (!cluster_parse_sentinel_url (url, &sentinel_hosts, &sentinel_ports, &master_name, &db,
                                     error))
      return NULL;
    host = g_strdup (sentinel_hosts[0]);  /* until a sentinel says where the master is */
    port = sentinel_ports[0];
  } else if (!icecam_cluster_parse_url (url, &host, &port, &db, error)) {
    return NULL;
  }
  if (!icecam_cluster_check_node_id (node_id, error))
    return NULL;
  self = g_object_new (ICECAM_TYPE_CLUSTER, NULL);
  self->sentinel_hosts = g_steal_pointer (&sentinel_hosts);
  self->sentinel_ports = g_steal_pointer (&sentinel_ports);
  self->master_name = g_steal_pointer (&master_name);
  self->registry = g_object_ref (registry);
  self->host = g_steal_pointer (&host);
  self->port = port;
  self->db = db;
  self->node_id = g_strdup (node_id);
  self->advertise = g_strdup (advertise);
  self->channel_prefix = g_strdup_printf ("icecam:%u:", db);
  self->presence_channel = g_strconcat (self->channel_prefix, "presence", NULL);
  self->own_channel = g_strconcat (self->channel_prefix, "node:", node_id, NULL);
  self->context = g_main_context_ref_thread_default ();
  g_signal_connect (registry, "route", G_CALLBACK (on_registry_route), self);
  g_signal_connect (registry, "moved-here", G_CALLBACK (on_registry_moved_here), self);
  cluster_claims_init (self);
  if (self->master_name != NULL)
    cluster_sentinel_connect (self);
  else
    cluster_connect_master (self);
  self->tick = g_timeout_source_new (ICECAM_CLUSTER_HEARTBEAT_MS);
  g_source_set_callback (self->tick, on_tick, self, NULL);
  g_source_attach (self->tick, self->context);
  return self;
}

/**
 * icecam_cluster_get_degraded:
 * @self: a cluster link
 *
 * Returns: %TRUE while Redis is unreachable and the node serves only its own clients
 */
gboolean
icecam_cluster_get_degraded (IcecamCluster *self)
{
  g_return_val_if_fail (ICECAM_IS_CLUSTER (self), TRUE);
  return self->degraded;
}

/**
 * icecam_cluster_get_nodes:
 * @self: a cluster link
 *
 * Returns: how many other nodes it hears from
 */
guint
icecam_cluster_get_nodes (IcecamCluster *self)
{
  g_return_val_if_fail (ICECAM_IS_CLUSTER (self), 0);
  return g_hash_table_size (self->nodes);
}

static void
link_free (ClusterLink *link)
{
  cluster_link_close (link);
  g_free (link);
}

static void
icecam_cluster_dispose (GObject *object)
{
  IcecamCluster *self = ICECAM_CLUSTER (object);

  self->disposed = TRUE;
  if (self->registry != NULL)
    g_signal_handlers_disconnect_by_data (self->registry, self);
  cluster_claims_clear (self);
  if (self->tick != NULL) {
    g_source_destroy (self->tick);
    g_clear_pointer (&self->tick, g_source_unref);
  }
  if (self->presence_soon != NULL) {
    g_source_destroy (self->presence_soon);
    g_clear_pointer (&self->presence_soon, g_source_unref);
  }
  g_clear_pointer (&self->publisher, link_free);
  g_clear_pointer (&self->subscriber, link_free);
  g_clear_pointer (&self->sentinel, link_free);
  g_clear_object (&self->registry);
  G_OBJECT_CLASS (icecam_cluster_parent_class)->dispose (object);
}

static void
icecam_cluster_finalize (GObject *object)
{
  IcecamCluster *self = ICECAM_CLUSTER (object);

  g_hash_table_unref (self->nodes);
  g_hash_table_unref (self->claimed);
  g_hash_table_unref (self->fresh_claims);
  g_free (self->host);
  g_strfreev (self->sentinel_hosts);
  g_free (self->sentinel_ports);
  g_free (self->master_name);
  g_free (self->node_id);
  g_free (self->advertise);
  g_free (self->channel_prefix);
  g_free (self->presence_channel);
  g_free (self->own_channel);
  g_clear_pointer (&self->context, g_main_context_unref);
  G_OBJECT_CLASS (icecam_cluster_parent_class)->finalize (object);
}

static void
icecam_cluster_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  IcecamCluster *self = ICECAM_CLUSTER (object);

  switch (prop_id) {
  case PROP_DEGRADED:
    g_value_set_boolean (value, self->degraded);
    break;
  default:
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    break;
  }
}

static void
icecam_cluster_class_init (IcecamClusterClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = icecam_cluster_dispose;
  object_class->finalize = icecam_cluster_finalize;
  object_class->get_property = icecam_cluster_get_property;

  /**
   * IcecamCluster:degraded:
   *
   * Whether Redis is unreachable: the node serves its own clients only.
   */
  properties[PROP_DEGRADED] =
    g_param_spec_boolean ("degraded", NULL, NULL, TRUE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
icecam_cluster_init (IcecamCluster *self)
{
  self->nodes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->claimed = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->fresh_claims = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->publisher = g_new0 (ClusterLink, 1);
  self->publisher->cluster = self;
  self->publisher->name = "publisher";
  self->subscriber = g_new0 (ClusterLink, 1);
  self->subscriber->cluster = self;
  self->subscriber->name = "subscriber";
  self->sentinel = g_new0 (ClusterLink, 1);
  self->sentinel->cluster = self;
  self->sentinel->name = "sentinel";
  self->degraded = TRUE;
}
