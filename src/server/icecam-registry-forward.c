/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the registry forwards from one end of a session to the other: descriptions, candidates
 * and bye as they are, and the messages added to version 1 (restart, punch, dtls) only to an
 * end that can take them. */

#include "icecam-registry-private.h"

#include <gio/gio.h>
#include <string.h>

/* The session @msg names, if @peer is one of its ends; else answers unknown-session. */
static Session *
lookup_own_session (IcecamRegistry *self, Peer *peer, const IcecamMessage *msg)
{
  Session *session = g_hash_table_lookup (peer->sessions, msg->session);

  if (session == NULL)
    registry_queue_error (self, peer, ICECAM_ERROR_CODE_UNKNOWN_SESSION, msg->session,
                          "unknown session '%s'", msg->session);
  return session;
}

/* Forwards @msg to the other end of its session; @from_role is who may send it (NONE: both). */
void
registry_forward (IcecamRegistry *self, Peer *peer, const IcecamMessage *msg, IcecamRole from_role)
{
  Session *session;
  Peer *other;

  if (from_role != ICECAM_ROLE_NONE && peer->role != from_role) {
    registry_queue_error (self, peer, ICECAM_ERROR_CODE_NOT_ALLOWED, msg->session,
                          "a %s may not send '%s'", icecam_role_to_string (peer->role),
                          icecam_message_type_to_string (msg->type));
    return;
  }
  session = lookup_own_session (self, peer, msg);
  if (session == NULL)
    return;

  /* The other end's connection went and it may come back: not an unknown session. */
  other = registry_session_other_end (session, peer);
  if (other->state != PEER_STATE_DETACHED)
    self->messages_relayed++;
  registry_queue_send (self, other, icecam_message_copy (msg));
  if (msg->type == ICECAM_MESSAGE_BYE)
    registry_session_destroy (self, session);
}

/* Relayed like an answer, to a camera that said it acts on it; others cannot. */
void
registry_handle_restart (IcecamRegistry *self, Peer *peer, const IcecamMessage *msg)
{
  Session *session = g_hash_table_lookup (peer->sessions, msg->session);

  if (peer->role == ICECAM_ROLE_VIEWER && session != NULL &&
      session->camera->state != PEER_STATE_DETACHED &&
      !(session->camera->features & ICECAM_FEATURE_RESTART)) {
    registry_queue_error (self, peer, ICECAM_ERROR_CODE_NOT_ALLOWED, msg->session,
                          "camera '%s' does not support 'restart'", session->camera->name);
    return;
  }
  registry_forward (self, peer, msg, ICECAM_ROLE_VIEWER);
}

/* The IP of "IP:PORT" or "[IPv6]:PORT", parsed; %NULL if it is neither. */
static GInetAddress *
address_host (const gchar *address)
{
  g_autofree gchar *host = NULL;
  const gchar *end;

  if (address == NULL)
    return NULL;
  if (address[0] == '[') {
    end = strchr (address, ']');
    host = end != NULL ? g_strndup (address + 1, end - address - 1) : NULL;
  } else {
    end = strrchr (address, ':');
    host = end != NULL ? g_strndup (address, end - address) : g_strdup (address);
  }
  return host != NULL ? g_inet_address_new_from_string (host) : NULL;
}

/* Either way, to the other end of the session if it listed @feature; dropped otherwise (an
 * unknown session is answered as by registry_forward()). */
static void
forward_if_listed (IcecamRegistry *self, Peer *peer, const IcecamMessage *msg,
                   IcecamFeatures feature)
{
  Session *session = g_hash_table_lookup (peer->sessions, msg->session);

  if (session != NULL && !(registry_session_other_end (session, peer)->features & feature)) {
    g_debug ("%s: '%s' dropped: the other end of session %s did not list it", peer->label,
             icecam_message_type_to_string (msg->type), msg->session);
    return;
  }
  registry_forward (self, peer, msg, ICECAM_ROLE_NONE);
}

/* Relayed either way, only to an end that listed `punch`: for any other (an older client, a
 * browser, an end on another node of a cluster) it is dropped, and the sender, which gets no
 * `punch` back, simply does not punch. Its address must be on the IP the sender connects from
 * (its NAT's, which its punching socket's mapping shares): otherwise a client could aim the
 * other end's probes (up to 256 sockets for 10 s, or 1000 probes) at a third party. */
void
registry_handle_punch (IcecamRegistry *self, Peer *peer, const IcecamMessage *msg)
{
  g_autoptr (GInetAddress) from = address_host (peer->address);
  g_autoptr (GInetAddress) claimed = address_host (msg->address);

  if (from == NULL || claimed == NULL || !g_inet_address_equal (from, claimed)) {
    g_info ("%s: 'punch' dropped: %s is not where it connects from (%s)", peer->label,
            msg->address != NULL ? msg->address : "no address", peer->address);
    return;
  }
  forward_if_listed (self, peer, msg, ICECAM_FEATURE_PUNCH);
}

/* A DTLS handshake datagram before the session has a path: only to an end that takes them
 * (its description offered them, which it does only when it listed the feature). */
void
registry_handle_dtls (IcecamRegistry *self, Peer *peer, const IcecamMessage *msg)
{
  forward_if_listed (self, peer, msg, ICECAM_FEATURE_DTLS);
}
