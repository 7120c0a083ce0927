/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The registry's relay credentials: minted for a session the server authorised, named after
 * it, short-lived, and renewed for its ends while the session lasts. */

#include "icecam-registry-private.h"

#include "icecam-turn-credentials.h"

#include <gio/gio.h>
#include <string.h>

/* Renewed when half their lifetime is gone: a client always holds credentials with at least
 * half a lifetime left, for the allocation of a new transport (an ICE restart). */
static gint64
renew_interval_us (IcecamRegistry *self)
{
  return (gint64) self->turn_ttl * G_USEC_PER_SEC / 2;
}

/**
 * icecam_registry_set_turn:
 * @urls: (nullable) (array zero-terminated=1): "turn:HOST:PORT?transport=udp|tcp" relays, or
 *   %NULL for none
 * @secret: the secret shared with the relays (coturn's static-auth-secret)
 * @ttl_seconds: how long minted credentials stay valid
 *
 * Every `session` then carries TURN credentials of the REST scheme (username
 * "<expiry>:<session id>:<role>", password base64 (HMAC-SHA1 (secret, username))) minted for
 * that session and end; `welcome` never carries any. Ends that listed the `ice-servers`
 * feature get fresh ones in an `ice-servers` message every @ttl_seconds / 2 while the
 * session lasts (a viewer only while its token is valid). Sessions created before this call
 * keep what they had.
 */
void
icecam_registry_set_turn (IcecamRegistry *self, const gchar * const *urls, const gchar *secret,
                          guint ttl_seconds)
{
  g_return_if_fail (ICECAM_IS_REGISTRY (self));
  g_return_if_fail (urls == NULL || secret != NULL);
  g_return_if_fail (urls == NULL || ttl_seconds >= 2);

  g_clear_pointer (&self->turn_urls, g_strfreev);
  g_clear_pointer (&self->turn_secret, g_free);
  if (urls == NULL || urls[0] == NULL)
    return;
  self->turn_urls = g_strdupv ((gchar **) urls);
  self->turn_secret = g_strdup (secret);
  self->turn_ttl = ttl_seconds;
}

static guint
relay_assigned (IcecamRegistry *self, const gchar *url)
{
  return GPOINTER_TO_UINT (g_hash_table_lookup (self->relay_assigned, url));
}

/* The sessions @url was assigned here and, as they last said, on the other cluster nodes. */
static guint
relay_assigned_cluster (IcecamRegistry *self, const gchar *url)
{
  guint total = relay_assigned (self, url);
  GHashTableIter iter;
  gpointer counts;

  g_hash_table_iter_init (&iter, self->relay_remote);
  while (g_hash_table_iter_next (&iter, NULL, &counts))
    total += GPOINTER_TO_UINT (g_hash_table_lookup (counts, url));
  return total;
}

/* The region a session's relay should be in: its camera's hint if the camera is a client of
 * this node, else its viewer's (each node chooses the relay of its own client's end). */
static const gchar *
session_region (Session *session)
{
  if (session->camera->node == NULL && session->camera->region != NULL)
    return session->camera->region;
  if (session->viewer->node == NULL)
    return session->viewer->region;
  return NULL;
}

/* The relay a new session gets: a healthy one (any if none is), then one in the region of the
 * session's end here, then the fewest sessions across the cluster, the order given among
 * equals. */
static const gchar *
relay_choose (IcecamRegistry *self, Session *session)
{
  const gchar *region = session_region (session);
  const gchar *best = NULL;
  gboolean best_up = FALSE;
  gboolean best_near = FALSE;
  guint best_count = 0;

  for (guint i = 0; self->turn_urls[i] != NULL; i++) {
    const gchar *url = self->turn_urls[i];
    gboolean up = !g_hash_table_contains (self->relay_down, url);
    gboolean near = region != NULL &&
                    g_strcmp0 (g_hash_table_lookup (self->relay_regions, url), region) == 0;
    guint count = relay_assigned_cluster (self, url);

    if (best == NULL || (up && !best_up) ||
        (up == best_up && near && !best_near) ||
        (up == best_up && near == best_near && count < best_count)) {
      best = url;
      best_up = up;
      best_near = near;
      best_count = count;
    }
  }
  return best;
}

/**
 * icecam_relay_entry_split:
 * @entry: a `--turn-server` entry: a `turn:` or `turns:` URL, optionally followed by
 *   `,region=NAME`
 * @url: (out): the URL
 * @region: (out) (nullable): the region tag, %NULL if none
 * @error: where to say what is wrong with the tag
 *
 * Returns: %TRUE if the tag (if any) is 1 to 64 characters of A-Z a-z 0-9 . _ -
 */
gboolean
icecam_relay_entry_split (const gchar *entry, gchar **url, gchar **region, GError **error)
{
  const gchar *comma = strchr (entry, ',');

  *url = NULL;
  *region = NULL;
  if (comma == NULL) {
    *url = g_strdup (entry);
    return TRUE;
  }
  if (!g_str_has_prefix (comma + 1, "region=") ||
      !icecam_protocol_id_is_valid (comma + 1 + strlen ("region="))) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 "'%s': after the URL only ',region=NAME' (1 to %d characters of "
                 "A-Z a-z 0-9 . _ -)", entry, ICECAM_PROTOCOL_MAX_ID_LENGTH);
    return FALSE;
  }
  *url = g_strndup (entry, comma - entry);
  *region = g_strdup (comma + 1 + strlen ("region="));
  return TRUE;
}

/**
 * icecam_registry_set_relay_regions:
 * @self: a registry
 * @urls: (array zero-terminated=1): relay URLs given to icecam_registry_set_turn()
 * @regions: (array zero-terminated=1): for each, its region tag, "" for none
 *
 * A session is assigned a relay whose tag is its client's `region` hint (docs/protocol.md,
 * `hello`) before one with fewer sessions.
 */
void
icecam_registry_set_relay_regions (IcecamRegistry *self, const gchar * const *urls,
                                   const gchar * const *regions)
{
  g_return_if_fail (ICECAM_IS_REGISTRY (self));

  g_hash_table_remove_all (self->relay_regions);
  for (guint i = 0; urls != NULL && urls[i] != NULL && regions[i] != NULL; i++) {
    if (*regions[i] != '\0')
      g_hash_table_insert (self->relay_regions, g_strdup (urls[i]), g_strdup (regions[i]));
  }
}

/**
 * icecam_registry_set_remote_relay_sessions:
 * @self: a registry
 * @node: another cluster node
 * @sessions: (nullable) (element-type utf8 guint): relay URL → the sessions @node assigned it
 *   (GUINT_TO_POINTER), as its heartbeat said; %NULL when @node is gone
 *
 * Relays are chosen by their sessions across the cluster: this node's and these.
 */
void
icecam_registry_set_remote_relay_sessions (IcecamRegistry *self, const gchar *node,
                                           GHashTable *sessions)
{
  g_return_if_fail (ICECAM_IS_REGISTRY (self));
  g_return_if_fail (node != NULL);

  if (sessions == NULL)
    g_hash_table_remove (self->relay_remote, node);
  else
    g_hash_table_insert (self->relay_remote, g_strdup (node), g_hash_table_ref (sessions));
}

/* What a session's end is told: its relay first, then the other healthy ones; a withdrawn
 * relay only when every one is down. */
static gchar **
relay_urls_for (IcecamRegistry *self, Session *session)
{
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  gboolean any_up = FALSE;

  for (guint i = 0; self->turn_urls[i] != NULL; i++)
    any_up |= !g_hash_table_contains (self->relay_down, self->turn_urls[i]);
  if (session->relay_url != NULL)
    g_strv_builder_add (builder, session->relay_url);
  for (guint i = 0; self->turn_urls[i] != NULL; i++) {
    const gchar *url = self->turn_urls[i];

    if (g_strcmp0 (url, session->relay_url) == 0 ||
        (any_up && g_hash_table_contains (self->relay_down, url)))
      continue;
    g_strv_builder_add (builder, url);
  }
  return g_strv_builder_end (builder);
}

/**
 * icecam_registry_set_relay_up:
 * @self: a registry
 * @url: one of the URLs given to icecam_registry_set_turn()
 * @up: whether it answers
 *
 * Withdraws a relay that stopped answering from what later sessions and renewals are given
 * (unless every relay is down), or returns it.
 */
void
icecam_registry_set_relay_up (IcecamRegistry *self, const gchar *url, gboolean up)
{
  g_return_if_fail (ICECAM_IS_REGISTRY (self));
  g_return_if_fail (url != NULL);

  if (up)
    g_hash_table_remove (self->relay_down, url);
  else
    g_hash_table_add (self->relay_down, g_strdup (url));
}

/**
 * icecam_registry_get_relays:
 * @self: a registry
 *
 * Returns: (transfer full) (element-type IcecamRegistryRelay): each relay given to
 *   icecam_registry_set_turn(), whether it is up, and how many open sessions it was assigned
 */
GArray *
icecam_registry_get_relays (IcecamRegistry *self)
{
  GArray *relays = g_array_new (FALSE, TRUE, sizeof (IcecamRegistryRelay));

  g_return_val_if_fail (ICECAM_IS_REGISTRY (self), relays);

  for (guint i = 0; self->turn_urls != NULL && self->turn_urls[i] != NULL; i++) {
    IcecamRegistryRelay relay = {
      .url = self->turn_urls[i],
      .up = !g_hash_table_contains (self->relay_down, self->turn_urls[i]),
      .sessions = relay_assigned (self, self->turn_urls[i]),
      .region = g_hash_table_lookup (self->relay_regions, self->turn_urls[i]),
      .cluster_sessions = relay_assigned_cluster (self, self->turn_urls[i]),
    };

    g_array_append_val (relays, relay);
  }
  return relays;
}

IcecamIceServer *
registry_relay_mint (IcecamRegistry *self, Session *session, IcecamRole role)
{
  g_autofree gchar *user = g_strdup_printf ("%s:%s", session->id, icecam_role_to_string (role));
  g_auto (GStrv) urls = relay_urls_for (self, session);

  if (role == ICECAM_ROLE_CAMERA)
    self->relay_issued_camera++;
  else
    self->relay_issued_viewer++;
  return icecam_turn_credentials_mint ((const gchar * const *) urls, self->turn_secret,
                                       user, g_get_real_time () / G_USEC_PER_SEC, self->turn_ttl);
}

void
registry_relay_session_added (IcecamRegistry *self, Session *session, gint64 now_us)
{
  if (self->turn_urls == NULL)
    return;
  if (session->relay_url == NULL) {
    session->relay_url = g_strdup (relay_choose (self, session));
    g_hash_table_insert (self->relay_assigned, g_strdup (session->relay_url),
                         GUINT_TO_POINTER (relay_assigned (self, session->relay_url) + 1));
  }
  session->relay_renew_at = now_us + renew_interval_us (self);
  g_queue_push_tail (&self->relay_renewals, session);
  session->relay_link = g_queue_peek_tail_link (&self->relay_renewals);
}

void
registry_relay_session_removed (IcecamRegistry *self, Session *session)
{
  if (session->relay_url != NULL) {
    guint n = relay_assigned (self, session->relay_url);

    g_hash_table_insert (self->relay_assigned, g_strdup (session->relay_url),
                         GUINT_TO_POINTER (n > 0 ? n - 1 : 0));
    g_clear_pointer (&session->relay_url, g_free);
  }
  if (session->relay_link == NULL)
    return;
  g_queue_delete_link (&self->relay_renewals, session->relay_link);
  session->relay_link = NULL;
}

/* Only to a connected end that understands the message; a viewer whose token expired may
 * finish its session on the allocations it has, but gets no new credentials. */
static gboolean
wants_renewal (Peer *peer, gint64 now_unix)
{
  if (peer->state != PEER_STATE_READY || !(peer->features & ICECAM_FEATURE_ICE_SERVERS))
    return FALSE;
  return peer->granted == NULL || peer->grant_expiry > now_unix;
}

static void
renew_session (IcecamRegistry *self, Session *session)
{
  gint64 now_unix = g_get_real_time () / G_USEC_PER_SEC;
  Peer *ends[] = { session->camera, session->viewer };
  IcecamRole roles[] = { ICECAM_ROLE_CAMERA, ICECAM_ROLE_VIEWER };

  for (guint i = 0; i < G_N_ELEMENTS (ends); i++) {
    g_autoptr (GPtrArray) servers = NULL;

    if (!wants_renewal (ends[i], now_unix))
      continue;
    servers = g_ptr_array_new_with_free_func ((GDestroyNotify) icecam_ice_server_free);
    g_ptr_array_add (servers, registry_relay_mint (self, session, roles[i]));
    g_debug ("session %s: fresh relay credentials for %s", session->id, ends[i]->label);
    registry_queue_send (self, ends[i], icecam_message_new_ice_servers (session->id, servers));
  }
}

/* Every session renews at the same interval, so the queue stays in order: a renewed session
 * goes to the tail, after every other one. */
void
registry_relay_renew (IcecamRegistry *self, gint64 now_us)
{
  Session *session;

  while ((session = g_queue_peek_head (&self->relay_renewals)) != NULL &&
         session->relay_renew_at <= now_us) {
    g_queue_pop_head (&self->relay_renewals);
    session->relay_link = NULL;
    if (self->turn_urls == NULL)
      continue;
    renew_session (self, session);
    registry_relay_session_added (self, session, now_us);
  }
}

void
registry_relay_clear (IcecamRegistry *self)
{
  g_queue_clear (&self->relay_renewals);
}
