/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Birthday punching inside a peer session (docs/design.md, "Birthday punching in sessions").
 *
 * The end behind a random symmetric NAT starts once its session has a path (any, usually
 * the relay): it sends `punch` with mapping "random", its public address and a fresh token.
 * The end behind a cone answers: it opens a UDP socket of its own, learns that socket's
 * mapping from the STUN server (the rendezvous's), sends `punch` with mapping "cone", that
 * address and the same token, and starts spraying; the random end starts its 256 sockets on
 * that answer. Nothing else of the session waits for any of it. Runs in the GMainContext
 * that was thread-default at icecam_punch_session_new().
 *
 * Two ends behind counting NATs (sequential) both start once relayed: each opens a socket,
 * learns its mapping, and sends `punch` with mapping "sequential", that address, its step
 * and a token. The end whose token is the lower one leads (steps by 2); the other adopts its
 * token, answers (if it had not sent one, or again with that token) and steps by 1.
 *
 * TCP (docs/design.md, "TCP simultaneous open"), beside either: an end with --punch-tcp, once
 * relayed, learns a TCP socket's mapping from the STUN server over TCP and sends `punch` with
 * mapping "tcp"; any end that punches at all answers with its own; both then connect to each
 * other from those ports. Of two sent at once, the lower token leads, as for sequential. */

#include "icecam-punch-session.h"

#include <string.h>

#include "icecam-random.h"
#include "icecam-stun-message.h"
#include "icecam-tcp-mapping.h"

#define STUN_INTERVAL_MS 200
#define STUN_TRIES 15
/* Sequential punching: the total of other new flows the two NATs may make between the
 * mappings signalled and the probes (docs/design.md, "Sequential punching"); the leader
 * opens WINDOW + 1 destinations, the other end 2 WINDOW + 1. */
#define SEQUENTIAL_WINDOW 48

struct _IcecamPunchSession {
  gchar *log_id;
  gchar *session_id;
  IcecamPunchMapping mapping;
  GInetSocketAddress *stun;
  gchar *public_address;
  IcecamPunchSendFunc send;
  IcecamPunchPathFunc path;
  gpointer user_data;
  GMainContext *context;

  gboolean started;             /* a `punch` went out (random, sequential) or came in */
  gchar token_hex[2 * ICECAM_PUNCH_TOKEN_LENGTH + 1];
  guint8 token[ICECAM_PUNCH_TOKEN_LENGTH];
  GInetSocketAddress *peer;     /* cone: the random end's public address; sequential: the
                                 * peer's punching socket's mapping */
  gint port_step;               /* sequential: this end's NAT's step */
  gint peer_port_step;          /* sequential: the peer's */
  gboolean leader;              /* sequential: this end's token is the one in use */
  gchar *mapped;                /* cone, sequential: the punching socket's mapping, once known */

  /* cone: learning the punching socket's mapping */
  GSocket *sock;
  GSource *sock_source;
  GSource *stun_timer;
  guint stun_tries;
  guint8 stun_id[ICECAM_STUN_TRANSACTION_ID_LENGTH];

  IcecamPunch *punch;
  gboolean ran;                 /* a punch ran (it may since belong to the transport) */
  gboolean finished;
  gboolean succeeded;

  /* TCP: the same exchange over its own token, mapping and punch */
  gboolean tcp;                 /* this end starts one once relayed */
  gboolean tcp_started;         /* a tcp `punch` went out or came in */
  gboolean tcp_leader;
  gboolean tcp_ran;
  guint8 tcp_token[ICECAM_PUNCH_TOKEN_LENGTH];
  gchar tcp_token_hex[2 * ICECAM_PUNCH_TOKEN_LENGTH + 1];
  GInetSocketAddress *tcp_peer;
  gchar *tcp_mapped;
  GSocket *tcp_sock;            /* connected to the STUN server: its mapping was signalled */
  IcecamTcpMapping *tcp_mapping;
  IcecamPunch *tcp_punch;

  guint transport;              /* the session's ICE transport this state belongs to */
};

/* "ip:port" or "[ip]:port"; NULL if it is neither. */
static GInetSocketAddress *
parse_address (const gchar *text)
{
  g_autofree gchar *host = NULL;
  g_autoptr (GInetAddress) ip = NULL;
  const gchar *colon = text != NULL ? strrchr (text, ':') : NULL;
  gchar *end;
  guint64 port;

  if (colon == NULL || colon == text)
    return NULL;
  if (text[0] == '[' && colon[-1] == ']')
    host = g_strndup (text + 1, colon - text - 2);
  else
    host = g_strndup (text, colon - text);
  port = g_ascii_strtoull (colon + 1, &end, 10);
  if (*end != '\0' || end == colon + 1 || port > 65535 ||
      (ip = g_inet_address_new_from_string (host)) == NULL)
    return NULL;
  return G_INET_SOCKET_ADDRESS (g_inet_socket_address_new (ip, (guint16) port));
}

static gchar *
address_to_string (GInetSocketAddress *address)
{
  g_autofree gchar *ip = g_inet_address_to_string (g_inet_socket_address_get_address (address));

  return g_strdup_printf ("%s:%u", ip, g_inet_socket_address_get_port (address));
}

/**
 * icecam_punch_session_new:
 * @log_id: how logs name the end ("camera front-door", "viewer")
 * @mapping: this end's NAT (nothing happens for %ICECAM_PUNCH_MAPPING_NONE)
 * @stun_host: (nullable): cone: the STUN server (an IP address) the punching socket asks
 * @public_address: (nullable): random: "ip:port" the rendezvous sees this end at
 * @send: sends a `punch` to the peer
 *
 * Returns: (transfer full): the session's punch, idle until _start() or _handle()
 */
IcecamPunchSession *
icecam_punch_session_new (const gchar *log_id, const gchar *session_id,
                          IcecamPunchMapping mapping, const gchar *stun_host, guint stun_port,
                          const gchar *public_address, IcecamPunchSendFunc send,
                          gpointer user_data)
{
  IcecamPunchSession *self = g_new0 (IcecamPunchSession, 1);
  g_autoptr (GInetAddress) stun_ip = stun_host != NULL ? g_inet_address_new_from_string (stun_host)
                                                       : NULL;

  self->log_id = g_strdup (log_id);
  self->session_id = g_strdup (session_id);
  self->mapping = mapping;
  if (stun_ip != NULL && stun_port > 0 && stun_port <= 65535)
    self->stun = G_INET_SOCKET_ADDRESS (g_inet_socket_address_new (stun_ip, (guint16) stun_port));
  self->public_address = g_strdup (public_address);
  self->send = send;
  self->user_data = user_data;
  self->context = g_main_context_ref_thread_default ();
  return self;
}

/**
 * icecam_punch_session_new_for_config:
 * @config: the session's ICE settings: its punch (none: no punching) and STUN server
 * @welcome: (nullable): the rendezvous's welcome (where it sees this end)
 *
 * Returns: (transfer full) (nullable): a punch for the session, or %NULL when this end does
 *   not punch
 */
IcecamPunchSession *
icecam_punch_session_new_for_config (const gchar *log_id, const gchar *session_id,
                                     const IcecamIceConfig *config,
                                     const IcecamMessage *welcome, IcecamPunchSendFunc send,
                                     gpointer user_data)
{
  IcecamPunchSession *self;
  gboolean udp = config->punch == ICECAM_PUNCH_MAPPING_RANDOM ||
                 config->punch == ICECAM_PUNCH_MAPPING_CONE ||
                 (config->punch == ICECAM_PUNCH_MAPPING_SEQUENTIAL && config->port_step != 0 &&
                  ABS (config->port_step) <= ICECAM_PUNCH_MAX_PORT_STEP);

  if (!udp && !config->punch_tcp)
    return NULL;
  self = icecam_punch_session_new (log_id, session_id,
                                   udp ? config->punch : ICECAM_PUNCH_MAPPING_NONE,
                                   config->stun != NULL ? config->stun->host : NULL,
                                   config->stun != NULL ? config->stun->port : 0,
                                   welcome != NULL ? welcome->address : NULL, send, user_data);
  icecam_punch_session_set_port_step (self, config->port_step);
  icecam_punch_session_set_tcp (self, config->punch_tcp);
  return self;
}

/* TCP: whether this end starts a TCP punch once relayed (it answers one in any case). */
void
icecam_punch_session_set_tcp (IcecamPunchSession *self, gboolean tcp)
{
  self->tcp = tcp;
}

/* Sequential: the step by which this end's NAT counts (what --nat-probe found). */
void
icecam_punch_session_set_port_step (IcecamPunchSession *self, gint port_step)
{
  self->port_step = port_step;
}

/* Where a punch that succeeded goes (the media moves to it); unset: it stays here, logged. */
void
icecam_punch_session_set_path_func (IcecamPunchSession *self, IcecamPunchPathFunc func)
{
  self->path = func;
}

static void
on_punch_done (IcecamPunch *punch, gboolean success, gpointer user_data)
{
  IcecamPunchSession *self = user_data;

  self->finished = TRUE;
  self->succeeded |= success;
  if (success) {
    g_autofree gchar *remote = address_to_string (icecam_punch_get_remote (punch));

    g_message ("%s: session %s: punched a direct path to %s in %" G_GINT64_FORMAT
               " ms (%u probes and answers sent)%s", self->log_id, self->session_id, remote,
               icecam_punch_get_elapsed_ms (punch), icecam_punch_get_probes_sent (punch),
               icecam_punch_is_tcp (punch) ? ", over TCP" : "");
    /* The session's transport owns it from now on (and frees it). */
    if (self->path != NULL && self->punch == punch)
      self->path (g_steal_pointer (&self->punch), self->user_data);
    else if (self->path != NULL && self->tcp_punch == punch)
      self->path (g_steal_pointer (&self->tcp_punch), self->user_data);
  } else {
    g_message ("%s: session %s: punching (%s) found no path in %" G_GINT64_FORMAT
               " ms (%u sent)", self->log_id, self->session_id,
               icecam_punch_is_tcp (punch) ? "TCP" : "UDP", icecam_punch_get_elapsed_ms (punch),
               icecam_punch_get_probes_sent (punch));
  }
}

static void
run_punch (IcecamPunchSession *self, IcecamPunchRole role, GInetSocketAddress *peer)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *peer_text = NULL;
  IcecamPunchConfig config;

  self->ran = TRUE;
  icecam_punch_config_init (&config, role);
  memcpy (config.token, self->token, sizeof config.token);
  config.peer = peer;
  if (role == ICECAM_PUNCH_ROLE_SEQUENTIAL) {
    config.port_step = self->peer_port_step;
    config.stride = self->leader ? 2 : 1;
    config.max_probes = self->leader ? SEQUENTIAL_WINDOW + 1 : 2 * SEQUENTIAL_WINDOW + 1;
  }
  self->punch = icecam_punch_new (&config, self->sock, self->context, on_punch_done, self,
                                  &error);
  if (self->punch == NULL) {
    g_warning ("%s: session %s: cannot punch: %s", self->log_id, self->session_id,
               error->message);
    return;
  }
  peer_text = address_to_string (peer);
  g_info ("%s: session %s: punching (%s) towards %s", self->log_id, self->session_id,
          role == ICECAM_PUNCH_ROLE_CONE ? "spraying random ports"
          : role == ICECAM_PUNCH_ROLE_SEQUENTIAL ? (self->leader ? "next ports, by 2"
                                                                 : "next ports, by 1")
          : "256 mappings", peer_text);
  icecam_punch_start (self->punch);
}

static void
new_token (IcecamPunchSession *self)
{
  icecam_random_bytes (self->token, sizeof self->token);
  for (guint i = 0; i < ICECAM_PUNCH_TOKEN_LENGTH; i++)
    g_snprintf (self->token_hex + 2 * i, 3, "%02x", self->token[i]);
}

static void
adopt_token (IcecamPunchSession *self, const guint8 token[ICECAM_PUNCH_TOKEN_LENGTH],
             const gchar *token_hex)
{
  memcpy (self->token, token, ICECAM_PUNCH_TOKEN_LENGTH);
  g_strlcpy (self->token_hex, token_hex, sizeof self->token_hex);
}

static void open_punch_socket (IcecamPunchSession *self);
static void stop_stun (IcecamPunchSession *self);

/**
 * icecam_punch_session_start:
 *
 * The random end, once its session has a path: sends its `punch`; a sequential end first
 * learns its punching socket's mapping. Once per session.
 */
void
icecam_punch_session_start (IcecamPunchSession *self)
{
  g_autoptr (IcecamMessage) msg = NULL;
  g_autoptr (GInetSocketAddress) public_address = NULL;

  if (self->started)
    return;
  if (self->mapping == ICECAM_PUNCH_MAPPING_SEQUENTIAL) {
    self->started = TRUE;
    self->leader = TRUE;
    new_token (self);
    open_punch_socket (self);
    return;
  }
  if (self->mapping != ICECAM_PUNCH_MAPPING_RANDOM)
    return;
  self->started = TRUE;
  if (self->public_address != NULL)
    public_address = parse_address (self->public_address);
  if (public_address == NULL) {
    g_info ("%s: session %s: no public address known, not punching", self->log_id,
            self->session_id);
    return;
  }
  new_token (self);
  self->send (icecam_message_new_punch (self->session_id, "random", self->public_address,
                                        self->token_hex), self->user_data);
}

/* ---- TCP (docs/design.md, "TCP simultaneous open") ------------------------------------- */

static void
tcp_new_token (IcecamPunchSession *self)
{
  icecam_random_bytes (self->tcp_token, sizeof self->tcp_token);
  for (guint i = 0; i < ICECAM_PUNCH_TOKEN_LENGTH; i++)
    g_snprintf (self->tcp_token_hex + 2 * i, 3, "%02x", self->tcp_token[i]);
}

static void
tcp_send (IcecamPunchSession *self)
{
  self->send (icecam_message_new_punch (self->session_id, "tcp", self->tcp_mapped,
                                        self->tcp_token_hex), self->user_data);
}

static void
tcp_run (IcecamPunchSession *self)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *peer_text = NULL;
  IcecamPunchConfig config;

  if (self->tcp_ran)
    return;
  self->tcp_ran = TRUE;
  icecam_punch_config_init (&config, ICECAM_PUNCH_ROLE_TCP);
  memcpy (config.token, self->tcp_token, sizeof config.token);
  config.peer = self->tcp_peer;
  config.leader = self->tcp_leader;
  self->tcp_punch = icecam_punch_new (&config, self->tcp_sock, self->context, on_punch_done,
                                      self, &error);
  if (self->tcp_punch == NULL) {
    g_warning ("%s: session %s: cannot punch over TCP: %s", self->log_id, self->session_id,
               error->message);
    return;
  }
  peer_text = address_to_string (self->tcp_peer);
  g_info ("%s: session %s: punching (TCP simultaneous open) towards %s", self->log_id,
          self->session_id, peer_text);
  icecam_punch_start (self->tcp_punch);
}

static void
on_tcp_mapping (GSocket *sock, GInetSocketAddress *mapped, gpointer user_data)
{
  IcecamPunchSession *self = user_data;

  if (sock == NULL) {
    g_message ("%s: session %s: not punching over TCP: no mapping from the STUN server over "
               "TCP", self->log_id, self->session_id);
    return;
  }
  self->tcp_sock = g_object_ref (sock);
  self->tcp_mapped = address_to_string (mapped);
  tcp_send (self);
  /* The leader starts on the answer with its token; the other end at once. */
  if (!self->tcp_leader && self->tcp_peer != NULL)
    tcp_run (self);
}

static void
tcp_learn_mapping (IcecamPunchSession *self)
{
  if (self->stun == NULL) {
    g_info ("%s: session %s: no STUN server address to learn a TCP mapping from",
            self->log_id, self->session_id);
    return;
  }
  g_main_context_push_thread_default (self->context);
  self->tcp_mapping = icecam_tcp_mapping_new (self->stun, on_tcp_mapping, self);
  g_main_context_pop_thread_default (self->context);
}

static void
tcp_start (IcecamPunchSession *self)
{
  if (self->tcp_started)
    return;
  self->tcp_started = TRUE;
  self->tcp_leader = TRUE;
  tcp_new_token (self);
  tcp_learn_mapping (self);
}

/* A peer's tcp `punch`: the first of a session makes this end follow it (whether or not it
 * starts TCP punches itself); the answer to ours starts the leader; of two sent at once, the
 * lower token leads. */
static void
tcp_handle (IcecamPunchSession *self, const guint8 token[ICECAM_PUNCH_TOKEN_LENGTH],
            const gchar *token_hex, GInetSocketAddress *address)
{
  gint order = memcmp (token, self->tcp_token, ICECAM_PUNCH_TOKEN_LENGTH);

  if (self->tcp_started && order == 0 && !self->tcp_leader) {
    return; /* ours again */
  } else if (self->tcp_started && order == 0) {
    g_set_object (&self->tcp_peer, address);
    if (self->tcp_sock != NULL)
      tcp_run (self);
    return;
  } else if (self->tcp_started && (!self->tcp_leader || order > 0)) {
    g_debug ("%s: session %s: tcp punch with another token ignored", self->log_id,
             self->session_id);
    return;
  }
  memcpy (self->tcp_token, token, ICECAM_PUNCH_TOKEN_LENGTH);
  g_strlcpy (self->tcp_token_hex, token_hex, sizeof self->tcp_token_hex);
  g_set_object (&self->tcp_peer, address);
  self->tcp_leader = FALSE;
  if (!self->tcp_started) {
    self->tcp_started = TRUE;
    tcp_learn_mapping (self);
  } else if (self->tcp_sock != NULL) {
    tcp_send (self);
    tcp_run (self);
  }
}

/* Back to the state of a new session: what ran for the transport before is gone with it. */
static void
reset (IcecamPunchSession *self)
{
  stop_stun (self);
  g_clear_pointer (&self->punch, icecam_punch_free);
  g_clear_pointer (&self->tcp_punch, icecam_punch_free);
  g_clear_pointer (&self->tcp_mapping, icecam_tcp_mapping_free);
  g_clear_object (&self->sock);
  g_clear_object (&self->peer);
  g_clear_object (&self->tcp_sock);
  g_clear_object (&self->tcp_peer);
  g_clear_pointer (&self->mapped, g_free);
  g_clear_pointer (&self->tcp_mapped, g_free);
  self->started = self->ran = self->finished = self->succeeded = self->leader = FALSE;
  self->tcp_started = self->tcp_ran = self->tcp_leader = FALSE;
  self->stun_tries = 0;
}

/**
 * icecam_punch_session_set_transport:
 * @number: the session's current ICE transport (icecam_peer_session_get_transport_number())
 *
 * Call before _start_if_relayed() and _handle(). After an ICE restart (a new @number) the
 * punches start over: the punched path went with the old transport, and the new one may be
 * relayed again (a rebooted NAT maps anew).
 */
void
icecam_punch_session_set_transport (IcecamPunchSession *self, guint number)
{
  if (self->transport != 0 && number != self->transport) {
    g_info ("%s: session %s: a new ICE transport (%u): punching starts over", self->log_id,
            self->session_id, number);
    reset (self);
  }
  self->transport = number;
}

/**
 * icecam_punch_session_start_if_relayed:
 * @pair: (transfer full) (nullable): the session's selected pair
 *
 * Starts (icecam_punch_session_start()) only when ICE settled on a relayed pair: a direct
 * pair needs no punching.
 */
void
icecam_punch_session_start_if_relayed (IcecamPunchSession *self, IcecamPairInfo *pair)
{
  g_autoptr (IcecamPairInfo) owned = pair;

  if (pair == NULL || (g_strcmp0 (pair->local_type, "relay") != 0 &&
                       g_strcmp0 (pair->remote_type, "relay") != 0)) {
    if ((self->mapping == ICECAM_PUNCH_MAPPING_RANDOM ||
         self->mapping == ICECAM_PUNCH_MAPPING_SEQUENTIAL || self->tcp) && !self->started &&
        !self->tcp_started)
      g_info ("%s: session %s: not punching: the pair is %s/%s", self->log_id, self->session_id,
              pair != NULL ? pair->local_type : "none", pair != NULL ? pair->remote_type : "none");
    return;
  }
  icecam_punch_session_start (self);
  if (self->tcp)
    tcp_start (self);
}

static void
stop_stun (IcecamPunchSession *self)
{
  if (self->stun_timer != NULL) {
    g_source_destroy (self->stun_timer);
    g_clear_pointer (&self->stun_timer, g_source_unref);
  }
  if (self->sock_source != NULL) {
    g_source_destroy (self->sock_source);
    g_clear_pointer (&self->sock_source, g_source_unref);
  }
}

static gboolean
on_stun_timer (gpointer user_data)
{
  IcecamPunchSession *self = user_data;
  guint8 request[ICECAM_STUN_MESSAGE_BUFFER_SIZE];
  gsize length;

  if (self->stun_tries++ >= STUN_TRIES) {
    g_message ("%s: session %s: not punching: no STUN answer for the punching socket",
               self->log_id, self->session_id);
    g_clear_pointer (&self->stun_timer, g_source_unref);
    stop_stun (self);
    return G_SOURCE_REMOVE;
  }
  length = icecam_stun_message_write_binding_request (self->stun_id, FALSE, 0, request,
                                                      sizeof request, NULL);
  if (length > 0)
    g_socket_send_to (self->sock, G_SOCKET_ADDRESS (self->stun), (const gchar *) request, length,
                      NULL, NULL);
  return G_SOURCE_CONTINUE;
}

static void
send_sequential (IcecamPunchSession *self)
{
  IcecamMessage *msg = icecam_message_new_punch (self->session_id, "sequential", self->mapped,
                                                 self->token_hex);

  msg->port_step = self->port_step;
  self->send (msg, self->user_data);
}

static gboolean
on_stun_readable (GSocket *sock, GIOCondition condition, gpointer user_data)
{
  IcecamPunchSession *self = user_data;
  guint8 answer[ICECAM_STUN_MESSAGE_BUFFER_SIZE];
  IcecamStunResponse response;
  g_autoptr (GInetSocketAddress) mapped = NULL;
  gssize got;

  got = g_socket_receive (sock, (gchar *) answer, sizeof answer, NULL, NULL);
  if (got <= 0 || !icecam_stun_message_parse_response (answer, got, &response, NULL) ||
      memcmp (response.transaction_id, self->stun_id, sizeof self->stun_id) != 0 ||
      response.is_error || !response.has_mapped_address ||
      (mapped = icecam_stun_address_to_socket_address (&response.mapped_address)) == NULL)
    return G_SOURCE_CONTINUE;
  g_clear_pointer (&self->sock_source, g_source_unref);
  stop_stun (self);
  self->mapped = address_to_string (mapped);
  if (self->mapping == ICECAM_PUNCH_MAPPING_CONE) {
    self->send (icecam_message_new_punch (self->session_id, "cone", self->mapped,
                                          self->token_hex), self->user_data);
    run_punch (self, ICECAM_PUNCH_ROLE_CONE, self->peer);
  } else {
    send_sequential (self);
    /* The leader starts on the answer with its token; the other end at once. */
    if (!self->leader && self->peer != NULL)
      run_punch (self, ICECAM_PUNCH_ROLE_SEQUENTIAL, self->peer);
  }
  return G_SOURCE_REMOVE;
}

/* The cone or sequential end: a socket of its own, and its mapping from the STUN server. */
static void
open_punch_socket (IcecamPunchSession *self)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GInetAddress) any = NULL;
  g_autoptr (GSocketAddress) local = NULL;
  GSocketFamily family;

  if (self->stun == NULL) {
    g_info ("%s: session %s: no STUN server address to learn a mapping from, not punching",
            self->log_id, self->session_id);
    return;
  }
  family = g_inet_address_get_family (g_inet_socket_address_get_address (self->stun));
  any = g_inet_address_new_any (family);
  local = g_inet_socket_address_new (any, 0);
  self->sock = g_socket_new (family, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, &error);
  if (self->sock == NULL || !g_socket_bind (self->sock, local, FALSE, &error)) {
    g_warning ("%s: session %s: cannot punch: %s", self->log_id, self->session_id,
               error->message);
    g_clear_object (&self->sock);
    return;
  }
  g_socket_set_blocking (self->sock, FALSE);
  icecam_random_bytes (self->stun_id, sizeof self->stun_id);
  self->sock_source = g_socket_create_source (self->sock, G_IO_IN, NULL);
  g_source_set_callback (self->sock_source, G_SOURCE_FUNC (on_stun_readable), self, NULL);
  g_source_attach (self->sock_source, self->context);
  self->stun_timer = g_timeout_source_new (STUN_INTERVAL_MS);
  g_source_set_callback (self->stun_timer, on_stun_timer, self, NULL);
  g_source_attach (self->stun_timer, self->context);
  on_stun_timer (self);
}

/* A peer behind a counting NAT: the first `punch` of a session makes this end follow it;
 * the answer to ours starts the leader; of two sent at once, the lower token leads. */
static void
handle_sequential (IcecamPunchSession *self, const IcecamMessage *msg,
                   const guint8 token[ICECAM_PUNCH_TOKEN_LENGTH], GInetSocketAddress *address)
{
  gint order = memcmp (token, self->token, ICECAM_PUNCH_TOKEN_LENGTH);

  if (self->started && order == 0 && !self->leader) {
    return; /* ours again */
  } else if (self->started && order == 0) {
    g_set_object (&self->peer, address);
    self->peer_port_step = msg->port_step;
    if (self->mapped != NULL)
      run_punch (self, ICECAM_PUNCH_ROLE_SEQUENTIAL, self->peer);
    return;
  } else if (self->started && (!self->leader || order > 0)) {
    g_debug ("%s: session %s: sequential punch with another token ignored", self->log_id,
             self->session_id);
    return;
  }
  /* Follow: not started yet, or both sent at once and the peer's token is the lower one. */
  adopt_token (self, token, msg->token);
  g_set_object (&self->peer, address);
  self->peer_port_step = msg->port_step;
  self->leader = FALSE;
  if (!self->started) {
    self->started = TRUE;
    open_punch_socket (self);
  } else if (self->mapped != NULL) {
    send_sequential (self);
    run_punch (self, ICECAM_PUNCH_ROLE_SEQUENTIAL, self->peer);
  }
}

/**
 * icecam_punch_session_handle:
 * @msg: a `punch` of this session from the peer (untrusted: checked here)
 */
void
icecam_punch_session_handle (IcecamPunchSession *self, const IcecamMessage *msg)
{
  g_autoptr (GInetSocketAddress) address = parse_address (msg->address);
  guint8 token[ICECAM_PUNCH_TOKEN_LENGTH];

  if (address == NULL || !icecam_punch_token_from_hex (msg->token, token)) {
    g_debug ("%s: session %s: unusable punch (address '%s')", self->log_id, self->session_id,
             msg->address);
    return;
  }
  if (g_strcmp0 (msg->mapping, "tcp") == 0) {
    if (!self->tcp_ran)
      tcp_handle (self, token, msg->token, address);
  } else if (self->mapping == ICECAM_PUNCH_MAPPING_CONE && g_strcmp0 (msg->mapping, "random") == 0 &&
      !self->started) {
    self->started = TRUE;
    memcpy (self->token, token, sizeof token);
    g_strlcpy (self->token_hex, msg->token, sizeof self->token_hex);
    self->peer = g_steal_pointer (&address);
    open_punch_socket (self);
  } else if (self->mapping == ICECAM_PUNCH_MAPPING_SEQUENTIAL &&
             g_strcmp0 (msg->mapping, "sequential") == 0 && msg->port_step != 0 && !self->ran) {
    handle_sequential (self, msg, token, address);
  } else if (self->mapping == ICECAM_PUNCH_MAPPING_RANDOM &&
             g_strcmp0 (msg->mapping, "cone") == 0 && self->started && !self->ran &&
             memcmp (token, self->token, sizeof token) == 0) {
    run_punch (self, ICECAM_PUNCH_ROLE_SYMMETRIC, address);
  } else {
    g_debug ("%s: session %s: punch (%s) ignored", self->log_id, self->session_id,
             msg->mapping);
  }
}

gboolean
icecam_punch_session_succeeded (IcecamPunchSession *self)
{
  return self->succeeded;
}

/* The punch under way or done that the transport did not take (UDP first, else TCP). */
IcecamPunch *
icecam_punch_session_get_punch (IcecamPunchSession *self)
{
  return self->punch != NULL ? self->punch : self->tcp_punch;
}

void
icecam_punch_session_free (IcecamPunchSession *self)
{
  if (self == NULL)
    return;
  stop_stun (self);
  icecam_punch_free (self->punch);
  icecam_punch_free (self->tcp_punch);
  icecam_tcp_mapping_free (self->tcp_mapping);
  g_clear_object (&self->tcp_sock);
  g_clear_object (&self->tcp_peer);
  g_free (self->tcp_mapped);
  g_clear_object (&self->sock);
  g_clear_object (&self->peer);
  g_clear_object (&self->stun);
  g_free (self->mapped);
  g_main_context_unref (self->context);
  g_free (self->public_address);
  g_free (self->session_id);
  g_free (self->log_id);
  g_free (self);
}
