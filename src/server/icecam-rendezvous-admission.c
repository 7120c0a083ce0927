/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The rendezvous's admission: its limits and deadlines, and the timers that enforce them. */

#include "icecam-rendezvous-private.h"

#include <sys/resource.h>
#include <libsoup/soup.h>

#include "icecam-acceptor.h"
#include "icecam-admission.h"

/* ---- silence and deadlines ------------------------------------------------------------ */

/* Closes the connections that have been silent for longer than the limit; runs every
 * keepalive interval, so a dead client goes within limit + interval. */
static gboolean
check_silence (gpointer user_data)
{
  IcecamRendezvous *self = user_data;
  g_autoptr (GArray) silent = icecam_admission_take_silent (self->admission,
                                                            g_get_monotonic_time ());

  /* Closing can run the registry's signals; look each one up again. */
  for (guint i = 0; i < silent->len; i++) {
    guint64 id = g_array_index (silent, guint64, i);
    Connection *conn = g_hash_table_lookup (self->connections, &id);

    if (conn == NULL)
      continue;
    g_info ("peer %" G_GUINT64_FORMAT " (%s): silent for over %u s, closing", id, conn->host,
            icecam_admission_get_silence_limit (self->admission));
    /* One that was closed already (replaced by its client's new connection, say) waits for
     * its socket to go; closing it twice is a critical in libsoup. */
    if (soup_websocket_connection_get_state (conn->ws) == SOUP_WEBSOCKET_STATE_OPEN)
      soup_websocket_connection_close (conn->ws, SOUP_WEBSOCKET_CLOSE_GOING_AWAY,
                                       "no answer to pings");
    icecam_registry_remove_peer (self->registry, id);
  }
  return G_SOURCE_CONTINUE;
}

/* Shuts down the connections that missed their handshake or hello deadline: libsoup or the
 * WebSocket reads end-of-file and closes them. An upgraded one is told why first, and its
 * registry peer goes at once. */
static gboolean
check_deadlines (gpointer user_data)
{
  IcecamRendezvous *self = user_data;
  g_autoptr (GArray) overdue = icecam_admission_take_overdue (self->admission,
                                                              g_get_monotonic_time ());

  for (guint i = 0; i < overdue->len; i++) {
    guint64 id = g_array_index (overdue, guint64, i);
    Connection *conn = g_hash_table_lookup (self->connections, &id);

    if (conn == NULL) {
      g_debug ("connection %" G_GUINT64_FORMAT ": no WebSocket upgrade in time, closing", id);
    } else {
      g_info ("peer %" G_GUINT64_FORMAT " (%s): no hello in time, closing", id, conn->host);
      if (soup_websocket_connection_get_state (conn->ws) == SOUP_WEBSOCKET_STATE_OPEN)
        soup_websocket_connection_close (conn->ws, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION,
                                         "no hello in time");
      icecam_registry_remove_peer (self->registry, id);
    }
    icecam_acceptor_shutdown (self->acceptor, id);
  }
  return G_SOURCE_CONTINUE;
}

/* ---- public API ----------------------------------------------------------------------- */

/**
 * icecam_rendezvous_set_max_connections_per_address:
 * @self: a rendezvous
 * @max: how many signalling connections one IP address may hold open; 0 for no limit
 *
 * A connection over the limit gets an `error` with code `limit-exceeded` and is closed before
 * it is a peer: nothing it sends is read. Default:
 * %ICECAM_ADMISSION_DEFAULT_MAX_CONNECTIONS_PER_ADDRESS.
 */
void
icecam_rendezvous_set_max_connections_per_address (IcecamRendezvous *self, guint max)
{
  g_return_if_fail (ICECAM_IS_RENDEZVOUS (self));

  icecam_admission_set_max_connections_per_address (self->admission, max);
}

/**
 * icecam_rendezvous_set_message_rate:
 * @self: a rendezvous
 * @per_second: messages one connection may send per second, sustained; 0 for no limit
 * @burst: how many it may send at once (at least 1)
 *
 * A token bucket per connection; each further 4 KiB of a message costs one more message.
 * A connection over its rate gets an `error` with code `limit-exceeded` and is closed: its
 * sessions end as if it had left. Defaults: %ICECAM_ADMISSION_DEFAULT_MESSAGE_RATE,
 * %ICECAM_ADMISSION_DEFAULT_MESSAGE_BURST. Applies to connections opened afterwards.
 */
void
icecam_rendezvous_set_message_rate (IcecamRendezvous *self, guint per_second, guint burst)
{
  g_return_if_fail (ICECAM_IS_RENDEZVOUS (self));
  g_return_if_fail (burst >= 1);

  icecam_admission_set_message_rate (self->admission, per_second, burst);
}

void
icecam_rendezvous_stop_check (GSource **check)
{
  if (*check != NULL) {
    g_source_destroy (*check);
    g_clear_pointer (check, g_source_unref);
  }
}

/* (Re)starts the periodic check @check, which runs @func every @source's interval. */
static void
start_check (IcecamRendezvous *self, GSource **check, GSource *source, GSourceFunc func)
{
  icecam_rendezvous_stop_check (check);
  *check = source;
  g_source_set_callback (source, func, self, NULL);
  g_source_attach (source, self->context);
}

void
icecam_rendezvous_start_silence_check (IcecamRendezvous *self)
{
  start_check (self, &self->silence_check,
               g_timeout_source_new_seconds (
                 icecam_admission_get_keepalive_interval (self->admission)),
               check_silence);
}

/**
 * icecam_rendezvous_set_keepalive:
 * @self: a rendezvous
 * @interval_s: seconds between the pings sent on every signalling connection (at least 1)
 * @silence_limit_s: a connection that neither sent a message nor answered a ping for this
 *   long is closed and its peer removed (more than @interval_s)
 *
 * Defaults: a ping every 20 s, closed after 60 s of silence. The interval applies to every
 * ws:// connection at once (their pings are spread over it), to wss:// connections opened
 * afterwards (libsoup pings those).
 */
void
icecam_rendezvous_set_keepalive (IcecamRendezvous *self, guint interval_s, guint silence_limit_s)
{
  g_return_if_fail (ICECAM_IS_RENDEZVOUS (self));
  g_return_if_fail (interval_s >= 1 && silence_limit_s > interval_s);

  icecam_admission_set_keepalive (self->admission, interval_s, silence_limit_s);
  icecam_ping_wheel_set_interval (self->pings, interval_s);
  icecam_rendezvous_start_silence_check (self);
}

void
icecam_rendezvous_start_deadline_check (IcecamRendezvous *self)
{
  start_check (self, &self->deadline_check,
               g_timeout_source_new (
                 icecam_admission_get_deadline_check_interval_ms (self->admission)),
               check_deadlines);
}

/* The process's descriptor limit as it is now, less a reserve for everything else. */
guint
icecam_rendezvous_default_max_connections (void)
{
  struct rlimit limit;

  if (getrlimit (RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY)
    return 0;
  return icecam_admission_max_connections_for_descriptors (limit.rlim_cur);
}

/**
 * icecam_rendezvous_set_deadlines:
 * @self: a rendezvous
 * @handshake_s: seconds a TCP connection has from accept() to finish its HTTP request and
 *   WebSocket upgrade (plain HTTP: to be answered and closed); 0 for no deadline
 * @hello_s: seconds an upgraded connection has to say a `hello` the server welcomes; 0 for no
 *   deadline
 *
 * A connection that misses either is shut down and counted (`deadline_closed`). Defaults:
 * %ICECAM_ADMISSION_DEFAULT_HANDSHAKE_TIMEOUT_S, %ICECAM_ADMISSION_DEFAULT_HELLO_TIMEOUT_S.
 * Applies to connections that start those stages afterwards.
 */
void
icecam_rendezvous_set_deadlines (IcecamRendezvous *self, guint handshake_s, guint hello_s)
{
  g_return_if_fail (ICECAM_IS_RENDEZVOUS (self));

  icecam_admission_set_deadlines (self->admission, handshake_s, hello_s);
  icecam_rendezvous_start_deadline_check (self);
}

/**
 * icecam_rendezvous_set_max_connections:
 * @self: a rendezvous
 * @max: how many TCP connections the service holds at most, in any state; 0 for no limit
 *
 * Connections beyond it are closed as soon as they are accepted and counted
 * (`capacity_refused`). Default: the descriptor limit (RLIMIT_NOFILE) when the rendezvous was
 * created, less %ICECAM_ADMISSION_DESCRIPTOR_RESERVE.
 */
void
icecam_rendezvous_set_max_connections (IcecamRendezvous *self, guint max)
{
  g_return_if_fail (ICECAM_IS_RENDEZVOUS (self));

  icecam_admission_set_max_connections (self->admission, max);
}

/**
 * icecam_rendezvous_get_max_connections:
 * @self: a rendezvous
 *
 * Returns: the global connection cap, 0 for none
 */
guint
icecam_rendezvous_get_max_connections (IcecamRendezvous *self)
{
  g_return_val_if_fail (ICECAM_IS_RENDEZVOUS (self), 0);

  return icecam_admission_get_max_connections (self->admission);
}

/**
 * icecam_rendezvous_set_ipv6_prefix_length:
 * @self: a rendezvous
 * @length: IPv6 clients count for the per-address limit by this many leading bits, 1 to 128
 *
 * Default: %ICECAM_ADMISSION_DEFAULT_IPV6_PREFIX_LENGTH.
 */
void
icecam_rendezvous_set_ipv6_prefix_length (IcecamRendezvous *self, guint length)
{
  g_return_if_fail (ICECAM_IS_RENDEZVOUS (self));
  g_return_if_fail (length >= 1 && length <= 128);

  icecam_admission_set_ipv6_prefix_length (self->admission, length);
}

/**
 * icecam_rendezvous_get_admission_stats:
 * @self: a rendezvous
 * @stats: (out caller-allocates): the admission counters, as /healthz reports them
 */
void
icecam_rendezvous_get_admission_stats (IcecamRendezvous *self, IcecamAdmissionStats *stats)
{
  g_return_if_fail (ICECAM_IS_RENDEZVOUS (self));

  icecam_admission_get_stats (self->admission, stats);
}
