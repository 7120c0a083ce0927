/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Learns a TCP socket's public mapping: binds a socket that a TCP punch can share the port of
 * (icecam_punch_tcp_socket_new()), connects it to the STUN server (the rendezvous answers
 * STUN over TCP on its STUN address), sends one Binding request with a random transaction ID
 * and reads the answer. Runs in the thread-default GMainContext of icecam_tcp_mapping_new(). */

#include "icecam-tcp-mapping.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "icecam-punch.h"
#include "icecam-random.h"
#include "icecam-stun-message.h"

#define STUN_HEADER 20

struct _IcecamTcpMapping {
  IcecamTcpMappingFunc done;
  gpointer user_data;
  GMainContext *context;
  GSocket *socket;
  GSource *source;
  GSource *timeout;
  gboolean connected;
  guint8 id[ICECAM_STUN_TRANSACTION_ID_LENGTH];
  guint8 answer[ICECAM_STUN_MESSAGE_BUFFER_SIZE];
  gsize fill;
  gboolean finished;
};

static void
stop_sources (IcecamTcpMapping *self)
{
  if (self->source != NULL) {
    g_source_destroy (self->source);
    g_clear_pointer (&self->source, g_source_unref);
  }
  if (self->timeout != NULL) {
    g_source_destroy (self->timeout);
    g_clear_pointer (&self->timeout, g_source_unref);
  }
}

static void
finish (IcecamTcpMapping *self, GInetSocketAddress *mapped)
{
  if (self->finished)
    return;
  self->finished = TRUE;
  stop_sources (self);
  if (mapped == NULL && self->socket != NULL)
    g_socket_close (self->socket, NULL);
  self->done (mapped != NULL ? self->socket : NULL, mapped, self->user_data);
}

static void watch (IcecamTcpMapping *self, GIOCondition condition);

static gboolean
on_socket (GSocket *socket, GIOCondition condition, gpointer user_data)
{
  IcecamTcpMapping *self = user_data;
  IcecamStunResponse response;
  g_autoptr (GInetSocketAddress) mapped = NULL;
  g_autoptr (GError) error = NULL;
  guint8 request[ICECAM_STUN_MESSAGE_BUFFER_SIZE];
  gsize length, need;
  gssize got;

  if (!self->connected) {
    self->connected = TRUE;
    if (!g_socket_check_connect_result (socket, &error)) {
      g_debug ("tcp-mapping: connect: %s", error->message);
      finish (self, NULL);
      return G_SOURCE_REMOVE;
    }
    length = icecam_stun_message_write_binding_request (self->id, FALSE, 0, request,
                                                        sizeof request, NULL);
    /* A request this small fits a fresh connection's send buffer whole. */
    if (length == 0 ||
        send (g_socket_get_fd (socket), request, length, MSG_NOSIGNAL) != (gssize) length) {
      finish (self, NULL);
      return G_SOURCE_REMOVE;
    }
    watch (self, G_IO_IN);
    return G_SOURCE_REMOVE;
  }
  got = recv (g_socket_get_fd (socket), self->answer + self->fill,
              sizeof self->answer - self->fill, MSG_DONTWAIT);
  if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
    return G_SOURCE_CONTINUE;
  if (got <= 0) {
    finish (self, NULL);
    return G_SOURCE_REMOVE;
  }
  self->fill += (gsize) got;
  if (self->fill < STUN_HEADER)
    return G_SOURCE_CONTINUE;
  need = STUN_HEADER + ((gsize) self->answer[2] << 8 | self->answer[3]);
  if (need > sizeof self->answer) {
    finish (self, NULL);
    return G_SOURCE_REMOVE;
  }
  if (self->fill < need)
    return G_SOURCE_CONTINUE;
  if (icecam_stun_message_parse_response (self->answer, need, &response, NULL) &&
      memcmp (response.transaction_id, self->id, sizeof self->id) == 0 && !response.is_error &&
      response.has_mapped_address)
    mapped = icecam_stun_address_to_socket_address (&response.mapped_address);
  finish (self, mapped);
  return G_SOURCE_REMOVE;
}

static void
watch (IcecamTcpMapping *self, GIOCondition condition)
{
  g_clear_pointer (&self->source, g_source_unref);
  self->source = g_socket_create_source (self->socket, condition | G_IO_ERR | G_IO_HUP, NULL);
  g_source_set_callback (self->source, G_SOURCE_FUNC (on_socket), self, NULL);
  g_source_attach (self->source, self->context);
}

static gboolean
on_timeout (gpointer user_data)
{
  IcecamTcpMapping *self = user_data;

  g_clear_pointer (&self->timeout, g_source_unref);
  g_debug ("tcp-mapping: no answer in %d ms", ICECAM_TCP_MAPPING_TIMEOUT_MS);
  finish (self, NULL);
  return G_SOURCE_REMOVE;
}

static gboolean
on_failed_idle (gpointer user_data)
{
  IcecamTcpMapping *self = user_data;

  g_clear_pointer (&self->timeout, g_source_unref);
  finish (self, NULL);
  return G_SOURCE_REMOVE;
}

/**
 * icecam_tcp_mapping_new:
 * @stun: the STUN server's address
 * @done: called once, later (never from here), with the mapping or without
 *
 * Returns: (transfer full): the request under way; free it after @done (or to cancel it)
 */
IcecamTcpMapping *
icecam_tcp_mapping_new (GInetSocketAddress *stun, IcecamTcpMappingFunc done, gpointer user_data)
{
  IcecamTcpMapping *self = g_new0 (IcecamTcpMapping, 1);
  GSocketFamily family = g_inet_address_get_family (g_inet_socket_address_get_address (stun));
  g_autoptr (GError) error = NULL;

  self->done = done;
  self->user_data = user_data;
  self->context = g_main_context_ref_thread_default ();
  icecam_random_bytes (self->id, sizeof self->id);
  self->socket = icecam_punch_tcp_socket_new (family, NULL, &error);
  if (self->socket != NULL &&
      (g_socket_connect (self->socket, G_SOCKET_ADDRESS (stun), NULL, &error) ||
       g_error_matches (error, G_IO_ERROR, G_IO_ERROR_PENDING))) {
    watch (self, G_IO_OUT);
    self->timeout = g_timeout_source_new (ICECAM_TCP_MAPPING_TIMEOUT_MS);
    g_source_set_callback (self->timeout, on_timeout, self, NULL);
  } else {
    g_debug ("tcp-mapping: %s", error != NULL ? error->message : "no socket");
    self->timeout = g_idle_source_new ();
    g_source_set_callback (self->timeout, on_failed_idle, self, NULL);
  }
  g_source_attach (self->timeout, self->context);
  return self;
}

void
icecam_tcp_mapping_free (IcecamTcpMapping *self)
{
  if (self == NULL)
    return;
  stop_sources (self);
  g_clear_object (&self->socket);
  g_main_context_unref (self->context);
  g_free (self);
}
