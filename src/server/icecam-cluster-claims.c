/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Camera ids claimed in Redis: one key per camera id, `icecam:DB:camera:ID`, whose value is
 * "NODE HASH" (the node holding the camera, and the SHA-256 of the `resume` secret of its
 * latest welcome, "-" if none) with a TTL of ICECAM_CLUSTER_NODE_TIMEOUT_S, refreshed with
 * every heartbeat. A Lua script makes each claim atomic; it grants an id held by another node
 * only when that node is dead (no subscriber on its channel: its connections to Redis closed)
 * or when the camera proves it is the same one (the resume secret whose hash is stored, or its
 * provisioned secret). See docs/design.md, "Cluster". */

#include "icecam-cluster-private.h"

#include <json-glib/json-glib.h>
#include <string.h>

/* How many claims one refresh script carries. */
#define REFRESH_CHUNK 256

/* KEYS[1] the claim; ARGV: node, hash to store, hash presented ("none"), proven ("1"),
 * TTL in ms, node channel prefix. Returns {1, ""} granted; {1, NODE} granted, taken from
 * the live NODE; {0, NODE} refused. A key of another type (bad data) is overwritten. */
static const gchar claim_script[] =
  "local v = redis.pcall('GET', KEYS[1]) "
  "local owner, hash = nil, nil "
  "if type(v) == 'string' then owner, hash = string.match(v, '^(%S+) (%S+)$') end "
  "if owner ~= nil and owner ~= ARGV[1] then "
  "  local alive = redis.call('PUBSUB', 'NUMSUB', ARGV[6] .. owner)[2] > 0 "
  "  if alive and ARGV[4] ~= '1' and (ARGV[3] == 'none' or ARGV[3] ~= hash) then "
  "    return {0, owner} "
  "  end "
  "  redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. ARGV[2], 'PX', ARGV[5]) "
  "  if alive then return {1, owner} end "
  "  return {1, ''} "
  "end "
  "redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. ARGV[2], 'PX', ARGV[5]) "
  "return {1, ''}";

/* KEYS: claims this node holds; ARGV: node, TTL in ms, node channel prefix, then a hash per
 * key. Refreshes each, unless a live node took it: returns {index, NODE, ...} of those. */
static const gchar refresh_script[] =
  "local lost = {} "
  "for i, key in ipairs(KEYS) do "
  "  local v = redis.pcall('GET', key) "
  "  local owner = nil "
  "  if type(v) == 'string' then owner = string.match(v, '^(%S+) ') end "
  "  if owner ~= nil and owner ~= ARGV[1] and "
  "     redis.call('PUBSUB', 'NUMSUB', ARGV[3] .. owner)[2] > 0 then "
  "    table.insert(lost, i) "
  "    table.insert(lost, owner) "
  "  else "
  "    redis.call('SET', key, ARGV[1] .. ' ' .. ARGV[3 + i], 'PX', ARGV[2]) "
  "  end "
  "end "
  "return lost";

/* KEYS: claims of cameras that left; ARGV[1]: node. Deletes those still this node's. */
static const gchar release_script[] =
  "for _, key in ipairs(KEYS) do "
  "  local v = redis.pcall('GET', key) "
  "  if type(v) == 'string' and string.sub(v, 1, #ARGV[1] + 1) == ARGV[1] .. ' ' then "
  "    redis.call('DEL', key) "
  "  end "
  "end "
  "return 0";

static gchar *
claim_key (IcecamCluster *self, const gchar *camera_id)
{
  return g_strconcat (self->channel_prefix, "camera:", camera_id, NULL);
}

static gchar *
node_channel_prefix (IcecamCluster *self)
{
  return g_strconcat (self->channel_prefix, "node:", NULL);
}

/* What the claim stores of a resume secret: its hash, so Redis never holds the secret. */
static gchar *
resume_hash (const gchar *resume, const gchar *none)
{
  if (resume == NULL || *resume == '\0')
    return g_strdup (none);
  return g_compute_checksum_for_string (G_CHECKSUM_SHA256, resume, -1);
}

static void
on_script_error (redisReply *reply, const gchar *what)
{
  if (reply != NULL && reply->type == REDIS_REPLY_ERROR)
    g_warning ("cluster: Redis refused the %s script: %s", what, reply->str);
  else if (reply != NULL)
    g_warning ("cluster: unexpected answer to the %s script (type %d)", what, reply->type);
}

/* ---- claiming ----------------------------------------------------------------------------- */

typedef struct {
  IcecamCluster *cluster;
  guint64 peer_id;
  gchar *camera_id;
} ClaimRequest;

static void
claim_request_free (ClaimRequest *request)
{
  g_free (request->camera_id);
  g_free (request);
}

/* Tells @node that this node holds @camera_id now. */
static void
publish_taken (IcecamCluster *self, const gchar *node, const gchar *camera_id)
{
  g_autoptr (JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr (JsonGenerator) generator = json_generator_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autofree gchar *text = NULL;
  g_autofree gchar *channel = g_strconcat (self->channel_prefix, "node:", node, NULL);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "from");
  json_builder_add_string_value (builder, self->node_id);
  json_builder_set_member_name (builder, "taken");
  json_builder_add_string_value (builder, camera_id);
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  text = json_generator_to_data (generator, NULL);
  redisAsyncCommand (self->publisher->ac, NULL, NULL, "PUBLISH %s %s", channel, text);
}

static void
on_claim_reply (redisAsyncContext *ac, void *data, void *privdata)
{
  ClaimRequest *request = privdata;
  IcecamCluster *self = request->cluster;
  redisReply *reply = data;

  if (self->disposed) {
    claim_request_free (request);
    return;
  }
  if (reply == NULL || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
      reply->element[0]->type != REDIS_REPLY_INTEGER ||
      reply->element[1]->type != REDIS_REPLY_STRING) {
    on_script_error (reply, "claim");
    icecam_registry_claim_done (self->registry, request->peer_id,
                                ICECAM_REGISTRY_CLAIM_UNKNOWN, NULL);
  } else if (reply->element[0]->integer == 0) {
    icecam_registry_claim_done (self->registry, request->peer_id,
                                ICECAM_REGISTRY_CLAIM_REFUSED, reply->element[1]->str);
  } else {
    const gchar *from = reply->element[1]->str;

    g_hash_table_add (self->claimed, g_strdup (request->camera_id));
    if (*from != '\0' && self->publisher->up) {
      g_info ("cluster: camera '%s' proved it is the one node '%s' holds: taken over",
              request->camera_id, from);
      publish_taken (self, from, request->camera_id);
    }
    icecam_registry_claim_done (self->registry, request->peer_id,
                                ICECAM_REGISTRY_CLAIM_GRANTED, NULL);
    /* Its claim gets the hash of its new resume secret now, not at the next heartbeat. */
    cluster_claims_soon (self, request->camera_id);
  }
  claim_request_free (request);
}

static gboolean
claim_camera (IcecamRegistry *registry, guint64 peer_id, const gchar *camera_id,
              const gchar *resume, gboolean proven, gpointer user_data)
{
  IcecamCluster *self = user_data;
  g_autofree gchar *key = NULL;
  g_autofree gchar *stored = resume_hash (resume, "-");
  g_autofree gchar *presented = resume_hash (resume, "none");
  g_autofree gchar *prefix = node_channel_prefix (self);
  g_autofree gchar *ttl = g_strdup_printf ("%u", ICECAM_CLUSTER_NODE_TIMEOUT_S * 1000);
  ClaimRequest *request;

  if (self->degraded || !self->publisher->up)
    return FALSE;
  key = claim_key (self, camera_id);
  request = g_new0 (ClaimRequest, 1);
  request->cluster = self;
  request->peer_id = peer_id;
  request->camera_id = g_strdup (camera_id);
  redisAsyncCommand (self->publisher->ac, on_claim_reply, request,
                     "EVAL %s 1 %s %s %s %s %s %s %s", claim_script, key, self->node_id, stored,
                     presented, proven ? "1" : "0", ttl, prefix);
  return TRUE;
}

/* ---- refreshing and releasing ------------------------------------------------------------- */

typedef struct {
  IcecamCluster *cluster;
  GStrv ids;
} RefreshRequest;

static void
on_refresh_reply (redisAsyncContext *ac, void *data, void *privdata)
{
  RefreshRequest *request = privdata;
  IcecamCluster *self = request->cluster;
  redisReply *reply = data;

  if (self->disposed || reply == NULL) {
    g_strfreev (request->ids);
    g_free (request);
    return;
  }
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements % 2 != 0) {
    on_script_error (reply, "refresh");
  } else {
    guint n = g_strv_length (request->ids);

    for (gsize i = 0; i + 1 < reply->elements; i += 2) {
      redisReply *index = reply->element[i];
      redisReply *owner = reply->element[i + 1];

      if (index->type != REDIS_REPLY_INTEGER || index->integer < 1 || index->integer > n ||
          owner->type != REDIS_REPLY_STRING)
        continue;
      cluster_claims_taken (self, owner->str, request->ids[index->integer - 1]);
    }
  }
  g_strfreev (request->ids);
  g_free (request);
}

static void
send_refresh (IcecamCluster *self, gchar **ids, gchar **resumes, guint from, guint count)
{
  g_autofree gchar *prefix = node_channel_prefix (self);
  g_autofree gchar *ttl = g_strdup_printf ("%u", ICECAM_CLUSTER_NODE_TIMEOUT_S * 1000);
  g_autofree gchar *n_keys = g_strdup_printf ("%u", count);
  GPtrArray *argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GStrvBuilder) chunk = g_strv_builder_new ();
  RefreshRequest *request;

  g_ptr_array_add (argv, g_strdup ("EVAL"));
  g_ptr_array_add (argv, g_strdup (refresh_script));
  g_ptr_array_add (argv, g_strdup (n_keys));
  for (guint i = from; i < from + count; i++) {
    g_ptr_array_add (argv, claim_key (self, ids[i]));
    g_strv_builder_add (chunk, ids[i]);
  }
  g_ptr_array_add (argv, g_strdup (self->node_id));
  g_ptr_array_add (argv, g_strdup (ttl));
  g_ptr_array_add (argv, g_strdup (prefix));
  for (guint i = from; i < from + count; i++)
    g_ptr_array_add (argv, resume_hash (resumes[i], "-"));
  request = g_new0 (RefreshRequest, 1);
  request->cluster = self;
  request->ids = g_strv_builder_end (chunk);
  redisAsyncCommandArgv (self->publisher->ac, on_refresh_reply, request, (int) argv->len,
                         (const char **) argv->pdata, NULL);
  g_ptr_array_unref (argv);
}

static void
send_release (IcecamCluster *self, GPtrArray *gone)
{
  g_autofree gchar *n_keys = g_strdup_printf ("%u", gone->len);
  GPtrArray *argv = g_ptr_array_new_with_free_func (g_free);

  g_ptr_array_add (argv, g_strdup ("EVAL"));
  g_ptr_array_add (argv, g_strdup (release_script));
  g_ptr_array_add (argv, g_strdup (n_keys));
  for (guint i = 0; i < gone->len; i++)
    g_ptr_array_add (argv, claim_key (self, gone->pdata[i]));
  g_ptr_array_add (argv, g_strdup (self->node_id));
  redisAsyncCommandArgv (self->publisher->ac, NULL, NULL, (int) argv->len,
                         (const char **) argv->pdata, NULL);
  g_ptr_array_unref (argv);
}

/* With each heartbeat: refreshes the claims of the ids the registry holds, releases those of
 * the cameras that left, and drops the cameras whose id a live node took meanwhile. */
void
cluster_claims_refresh (IcecamCluster *self)
{
  g_auto (GStrv) resumes = NULL;
  g_auto (GStrv) ids = NULL;
  g_autoptr (GPtrArray) gone = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GHashTable) now = NULL;
  GHashTableIter iter;
  gpointer id;
  guint n;

  if (!self->publisher->up)
    return;
  ids = icecam_registry_dup_claimed_cameras (self->registry, &resumes);
  n = g_strv_length (ids);
  now = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < n; i++)
    g_hash_table_add (now, ids[i]);
  g_hash_table_iter_init (&iter, self->claimed);
  while (g_hash_table_iter_next (&iter, &id, NULL)) {
    if (!g_hash_table_contains (now, id)) {
      g_ptr_array_add (gone, id);
      g_hash_table_iter_steal (&iter);
    }
  }
  if (gone->len > 0)
    send_release (self, gone);
  for (guint i = 0; i < n; i += REFRESH_CHUNK)
    send_refresh (self, ids, resumes, i, MIN (REFRESH_CHUNK, n - i));
  for (guint i = 0; i < n; i++) {
    if (!g_hash_table_contains (self->claimed, ids[i]))
      g_hash_table_add (self->claimed, g_strdup (ids[i]));
  }
}

static gboolean
on_claims_soon (gpointer user_data)
{
  IcecamCluster *self = user_data;
  g_autoptr (GStrvBuilder) ids = g_strv_builder_new ();
  g_autoptr (GStrvBuilder) resumes = g_strv_builder_new ();
  g_auto (GStrv) id_list = NULL;
  g_auto (GStrv) resume_list = NULL;
  GHashTableIter iter;
  gpointer id;
  guint n = 0;

  g_clear_pointer (&self->claims_soon, g_source_unref);
  g_hash_table_iter_init (&iter, self->fresh_claims);
  while (g_hash_table_iter_next (&iter, &id, NULL)) {
    const gchar *resume = icecam_registry_get_camera_resume (self->registry, id);

    if (resume != NULL) {
      g_strv_builder_add (ids, id);
      g_strv_builder_add (resumes, resume);
      n++;
    }
  }
  g_hash_table_remove_all (self->fresh_claims);
  if (n == 0 || self->degraded || !self->publisher->up)
    return G_SOURCE_REMOVE;
  id_list = g_strv_builder_end (ids);
  resume_list = g_strv_builder_end (resumes);
  for (guint i = 0; i < n; i += REFRESH_CHUNK)
    send_refresh (self, id_list, resume_list, i, MIN (REFRESH_CHUNK, n - i));
  return G_SOURCE_REMOVE;
}

/* The claim of @camera_id, just granted, is refreshed with its camera's new resume hash as
 * soon as the main loop is idle (those granted meanwhile together): a camera that moves on
 * right after its welcome proves itself with that secret. Presence waits for the heartbeat:
 * a full one per camera would cost every node O(cameras) per camera that comes. */
void
cluster_claims_soon (IcecamCluster *self, const gchar *camera_id)
{
  if (self->disposed)
    return;
  g_hash_table_add (self->fresh_claims, g_strdup (camera_id));
  if (self->claims_soon != NULL)
    return;
  self->claims_soon = g_idle_source_new ();
  g_source_set_callback (self->claims_soon, on_claims_soon, self, NULL);
  g_source_attach (self->claims_soon, self->context);
}

/* ---- taken by another node ---------------------------------------------------------------- */

typedef struct {
  IcecamCluster *cluster;
  gchar *camera_id;
  gchar *from;
} TakenCheck;

static void
on_taken_check (redisAsyncContext *ac, void *data, void *privdata)
{
  TakenCheck *check = privdata;
  IcecamCluster *self = check->cluster;
  redisReply *reply = data;
  g_autofree gchar *mine = g_strconcat (self->node_id, " ", NULL);

  /* Only if the claim is not ours (any more): a late or forged word drops no camera. */
  if (!self->disposed && reply != NULL && reply->type != REDIS_REPLY_ERROR &&
      !(reply->type == REDIS_REPLY_STRING && g_str_has_prefix (reply->str, mine))) {
    g_hash_table_remove (self->claimed, check->camera_id);
    icecam_registry_camera_taken (self->registry, check->camera_id, check->from);
  }
  g_free (check->camera_id);
  g_free (check->from);
  g_free (check);
}

/* @from says, or the refresh found, that it holds @camera_id now: after a look at the claim,
 * this node's camera of that id (live or detached) is dropped. */
void
cluster_claims_taken (IcecamCluster *self, const gchar *from, const gchar *camera_id)
{
  g_autofree gchar *key = NULL;
  TakenCheck *check;

  if (g_str_equal (from, self->node_id) || !self->publisher->up)
    return;
  key = claim_key (self, camera_id);
  check = g_new0 (TakenCheck, 1);
  check->cluster = self;
  check->camera_id = g_strdup (camera_id);
  check->from = g_strdup (from);
  redisAsyncCommand (self->publisher->ac, on_taken_check, check, "GET %s", key);
}

/* ---- setup -------------------------------------------------------------------------------- */

void
cluster_claims_init (IcecamCluster *self)
{
  icecam_registry_set_claim_func (self->registry, claim_camera, self);
}

void
cluster_claims_clear (IcecamCluster *self)
{
  if (self->registry != NULL)
    icecam_registry_set_claim_func (self->registry, NULL, NULL);
  if (self->claims_soon != NULL) {
    g_source_destroy (self->claims_soon);
    g_clear_pointer (&self->claims_soon, g_source_unref);
  }
}
