/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Looks up the host names of an ICE configuration's servers, asynchronously: libnice takes
 * only numeric addresses, and the configuration itself is pure (icecam-ice-config.c). */

#include "icecam-ice-config-resolve.h"

typedef struct {
  IcecamIceConfig *config; /* the copy whose names are replaced by addresses */
  guint pending;           /* lookups not finished */
} Resolve;

typedef struct {
  GTask *task;                    /* owned */
  IcecamIceServerAddress *server; /* in the task's configuration */
} Lookup;

static void
resolve_free (Resolve *resolve)
{
  icecam_ice_config_free (resolve->config);
  g_free (resolve);
}

static const gchar *
kind_name (const IcecamIceServerAddress *server)
{
  return server->kind == ICECAM_ICE_SERVER_KIND_STUN ? "STUN" : "TURN";
}

/**
 * icecam_ice_config_has_host_names:
 * @config: a configuration
 *
 * Returns: whether a STUN server or TURN relay of @config is given by a host name
 */
gboolean
icecam_ice_config_has_host_names (const IcecamIceConfig *config)
{
  if (config->stun != NULL && !g_hostname_is_ip_address (config->stun->host))
    return TRUE;
  for (guint i = 0; i < config->turn->len; i++) {
    const IcecamIceServerAddress *turn = g_ptr_array_index (config->turn, i);

    if (!g_hostname_is_ip_address (turn->host))
      return TRUE;
  }
  return FALSE;
}

/* IPv4 when the name has it: the server's IPv6 address is no use to an IPv4-only host, and
 * most hosts and relays still have IPv4. */
static gchar *
pick_address (GList *addresses)
{
  for (GList *l = addresses; l != NULL; l = l->next) {
    if (g_inet_address_get_family (l->data) == G_SOCKET_FAMILY_IPV4)
      return g_inet_address_to_string (l->data);
  }
  return g_inet_address_to_string (addresses->data);
}

static void
drop_unresolved (IcecamIceConfig *config)
{
  if (config->stun != NULL && config->stun->host == NULL)
    g_clear_pointer (&config->stun, icecam_ice_server_address_free);
  for (guint i = config->turn->len; i > 0; i--) {
    const IcecamIceServerAddress *turn = g_ptr_array_index (config->turn, i - 1);

    if (turn->host == NULL)
      g_ptr_array_remove_index (config->turn, i - 1);
  }
}

static void
lookup_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Lookup *lookup = user_data;
  g_autoptr (GTask) task = lookup->task;
  IcecamIceServerAddress *server = lookup->server;
  Resolve *resolve = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;
  GList *addresses = g_resolver_lookup_by_name_finish (G_RESOLVER (source), result, &error);

  g_free (lookup);
  if (addresses != NULL) {
    gchar *address = pick_address (addresses);

    g_debug ("%s server %s is %s", kind_name (server), server->host, address);
    /* A TLS relay's certificate names the host, not the address. */
    if (server->transport == ICECAM_TURN_TRANSPORT_TLS && server->tls_name == NULL)
      server->tls_name = g_strdup (server->host);
    g_free (server->host);
    server->host = address;
    g_resolver_free_addresses (addresses);
  } else {
    if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
      g_warning ("%s server %s:%u does not resolve, going on without it: %s",
                 kind_name (server), server->host, server->port, error->message);
    g_clear_pointer (&server->host, g_free);
  }

  if (--resolve->pending > 0 || g_task_return_error_if_cancelled (task))
    return;
  drop_unresolved (resolve->config);
  g_task_return_pointer (task, g_steal_pointer (&resolve->config),
                         (GDestroyNotify) icecam_ice_config_free);
}

/**
 * icecam_ice_config_resolve_async:
 * @config: a configuration
 * @cancellable: (nullable): cancels every lookup
 * @callback: called in the thread-default GMainContext of the caller, once every lookup has
 *   finished
 *
 * Looks up every server host name of @config at once with the default #GResolver. A name
 * that does not resolve is logged (one warning naming the server) and its server left out:
 * ICE can still work with the other servers, or with host candidates.
 */
void
icecam_ice_config_resolve_async (const IcecamIceConfig *config, GCancellable *cancellable,
                                 GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  g_autoptr (GResolver) resolver = g_resolver_get_default ();
  g_autoptr (GPtrArray) names = g_ptr_array_new ();
  Resolve *resolve = g_new0 (Resolve, 1);

  g_task_set_source_tag (task, icecam_ice_config_resolve_async);
  resolve->config = icecam_ice_config_copy (config);
  g_task_set_task_data (task, resolve, (GDestroyNotify) resolve_free);

  if (resolve->config->stun != NULL && !g_hostname_is_ip_address (resolve->config->stun->host))
    g_ptr_array_add (names, resolve->config->stun);
  for (guint i = 0; i < resolve->config->turn->len; i++) {
    IcecamIceServerAddress *turn = g_ptr_array_index (resolve->config->turn, i);

    if (!g_hostname_is_ip_address (turn->host))
      g_ptr_array_add (names, turn);
  }
  if (names->len == 0) {
    g_task_return_pointer (task, g_steal_pointer (&resolve->config),
                           (GDestroyNotify) icecam_ice_config_free);
    return;
  }

  /* Counted before the first lookup starts, so that no callback sees a partial count. */
  resolve->pending = names->len;
  for (guint i = 0; i < names->len; i++) {
    Lookup *lookup = g_new0 (Lookup, 1);

    lookup->task = g_object_ref (task);
    lookup->server = g_ptr_array_index (names, i);
    g_resolver_lookup_by_name_async (resolver, lookup->server->host, cancellable, lookup_cb,
                                     lookup);
  }
}

/**
 * icecam_ice_config_resolve_finish:
 *
 * Returns: (transfer full) (nullable): a copy of the configuration with numeric addresses
 *   only, and without the servers whose names did not resolve; %NULL with @error set only
 *   when cancelled
 */
IcecamIceConfig *
icecam_ice_config_resolve_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
