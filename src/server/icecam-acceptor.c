/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The rendezvous's own accept loop: every TCP connection known by id from accept to close. */

#include "icecam-acceptor.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "icecam-proxy-header.h"
#include "icecam-stun-tcp.h"

/**
 * SECTION:icecam-acceptor
 * @title: IcecamAcceptor
 * @short_description: accepts TCP connections for a #SoupServer and keeps track of them
 *
 * libsoup 3.2's #SoupServer has no timeout of its own for a request that never finishes, and
 * once it has accepted a connection it tells its owner nothing until a whole request has
 * arrived: a client that sends half a request line holds a descriptor for ever. Its own
 * listener also stops accepting for good the first time accept() fails (soup-listener.c,
 * listen_watch(): EMFILE removes the source), which is exactly what a descriptor flood causes.
 *
 * So the rendezvous accepts connections itself and hands each one to the server with
 * soup_server_accept_iostream(). Before that, #IcecamAcceptor::accepted gives the connection
 * an id and lets the owner refuse it (closed at once: the global cap); from then on the owner
 * can find the connection's socket by the remote address libsoup reports for its requests
 * (icecam_acceptor_lookup(), the same #GSocketAddress object), shut it down when it missed a
 * deadline (icecam_acceptor_shutdown(): libsoup or the WebSocket reads end-of-file and closes
 * it as if the client had gone), and hears #IcecamAcceptor::closed once the connection is gone.
 * A failing accept() pauses accepting for a moment instead of ending it.
 *
 * A connection from a trusted proxy (icecam_acceptor_set_trusted_proxies()) may start with a
 * PROXY protocol header (v1 or v2, as HAProxy and TCP load balancers send it): the acceptor
 * reads it before handing the connection over, and the client's address it names becomes the
 * connection's remote address for libsoup and for icecam_acceptor_lookup(). A header that is
 * malformed closes the connection; the bytes of one that is not a header (HTTP, TLS) are left
 * for the server. Connections from other peers are never looked at: their bytes could claim
 * anything.
 *
 * With icecam_acceptor_set_stun_over_tcp() (the STUN responder shares the signalling port's
 * number), the acceptor also looks at the first byte of every connection (after a PROXY
 * header): 0x00 or 0x01 cannot start HTTP, TLS or a PROXY header but does start a STUN
 * Binding message, and such a connection is STUN over TCP: an #IcecamStunTcp answers it
 * (XOR-MAPPED-ADDRESS: its remote address) and closes it when the client does, at a malformed
 * message, or after %ICECAM_STUN_TCP_TIMEOUT_S seconds; #IcecamAcceptor::stun tells the owner,
 * whose handshake deadline no longer concerns it. Any other first byte hands the connection
 * over at once: HTTP and TLS wait for nothing more than their first byte. A connection that
 * sends nothing stays within the owner's handshake deadline (icecam_acceptor_shutdown()).
 *
 * Setting a timeout on each GSocket (g_socket_set_timeout()) was the other way libsoup leaves
 * open; it is not used because it restarts with every read: a client sending one byte a
 * second would never meet it, and it would have to be taken off again after the upgrade.
 *
 * Connections given to a server by soup_server_accept_iostream() are never kept alive between
 * requests (libsoup keeps a connection only for a server with its own listeners): each plain
 * HTTP request has a connection of its own, closed after the answer.
 *
 * Threading: create, listen and use it in one thread; its sources and signals run in the
 * thread-default #GMainContext of icecam_acceptor_listen()'s caller.
 */

/* Connections accepted in one go before the main loop serves the others. */
#define ACCEPT_BATCH 64
/* After accept() failed (no descriptor left): wait this long, then try again. */
#define ACCEPT_RETRY_MS 100
/* A PROXY header arrived in part: look again this much later (the socket stays readable, so
 * waiting on it would spin). The owner's handshake deadline bounds the whole wait. */
#define PROXY_RETRY_MS 20

typedef struct {
  struct _IcecamAcceptor *acceptor;
  guint64 id;
  GSocket *socket;
  GSocketAddress *remote;  /* the key of by_remote */
  GObject *connection;     /* weak: the GSocketConnection handed on; NULL once finalized */
  GSource *first_wait;     /* waiting for its first bytes, not handed over yet */
  gboolean proxy_header;   /* a trusted proxy's: its PROXY header (if any) is still due */
  gboolean shut;           /* shut down while waiting: dropped at the next look */
  IcecamStunTcp *stun;     /* STUN over TCP, answered here; never handed over */
} Accepted;

struct _IcecamAcceptor {
  GObject parent_instance;

  SoupServer *server;             /* not a reference: the server's owner owns this too */
  GTlsCertificate *certificate;   /* wss:// when set */
  GSocket *listening;
  GSource *listen_source;
  GSource *retry_source;
  guint64 next_id;
  GHashTable *by_id;              /* &Accepted.id → Accepted (owned) */
  GHashTable *by_remote;          /* GSocketAddress * → Accepted */
  GPtrArray *trusted_proxies;     /* GInetAddressMask: peers whose PROXY header is read */
  gboolean stun_over_tcp;         /* look for STUN in every connection's first byte */
};

enum {
  SIGNAL_ACCEPTED,
  SIGNAL_CLOSED,
  SIGNAL_PROXY_REFUSED,
  SIGNAL_STUN,
  N_SIGNALS,
};

static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (IcecamAcceptor, icecam_acceptor, G_TYPE_OBJECT)

static void start_accepting (IcecamAcceptor *self);
static void wait_for_first_bytes (Accepted *accepted, guint delay_ms);
static void on_connection_finalized (gpointer data, GObject *where_the_object_was);

/* Also when the acceptor goes first: its connections are closed under their holders, whose
 * next read or write fails. */
static void
accepted_free (Accepted *accepted)
{
  if (accepted->first_wait != NULL) {
    g_source_destroy (accepted->first_wait);
    g_clear_pointer (&accepted->first_wait, g_source_unref);
  }
  if (accepted->stun != NULL) {
    g_signal_handlers_disconnect_by_data (accepted->stun, accepted);
    g_clear_object (&accepted->stun);
  }
  if (accepted->connection != NULL)
    g_object_weak_unref (accepted->connection, on_connection_finalized, accepted);
  g_socket_close (accepted->socket, NULL);
  g_object_unref (accepted->socket);
  g_object_unref (accepted->remote);
  g_free (accepted);
}

/* The connection's last reference is gone (GIOStream closes on dispose): so is its socket. */
static void
on_connection_finalized (gpointer data, GObject *where_the_object_was)
{
  Accepted *accepted = data;
  IcecamAcceptor *self = accepted->acceptor;
  guint64 id = accepted->id;

  accepted->connection = NULL;
  g_hash_table_remove (self->by_remote, accepted->remote);
  g_hash_table_remove (self->by_id, &id);
  g_signal_emit (self, signals[SIGNAL_CLOSED], 0, id);
}

static GIOStream *
wrap_tls (IcecamAcceptor *self, GIOStream *connection)
{
  g_autoptr (GError) error = NULL;
  GIOStream *tls = g_tls_server_connection_new (connection, self->certificate, &error);

  if (tls == NULL) {
    g_warning ("acceptor: no TLS for a new connection: %s", error->message);
    return NULL;
  }
  /* As libsoup's own listener: clients that just drop the connection are common. */
  g_tls_connection_set_require_close_notify (G_TLS_CONNECTION (tls), FALSE);
  return tls;
}

/* Hands a connection the owner kept to the server; the handshake of wss:// happens on the
 * server's first read, within the owner's deadline like the rest of the request. */
static void
hand_over (IcecamAcceptor *self, Accepted *accepted, GSocketAddress *local)
{
  g_autoptr (GIOStream) connection =
    G_IO_STREAM (g_socket_connection_factory_create_connection (accepted->socket));
  g_autoptr (GIOStream) stream = NULL;
  g_autoptr (GError) error = NULL;

  g_hash_table_insert (self->by_remote, accepted->remote, accepted);
  accepted->connection = G_OBJECT (connection);
  g_object_weak_ref (accepted->connection, on_connection_finalized, accepted);
  stream = self->certificate != NULL ? wrap_tls (self, connection) : g_object_ref (connection);
  if (stream == NULL)
    return;  /* dropping the connection closes it, and reports it closed */
  if (!soup_server_accept_iostream (self->server, stream, local, accepted->remote, &error))
    g_warning ("acceptor: the server took no connection: %s", error->message);
}

static gboolean on_first_bytes (gpointer user_data);

static void
accept_one (IcecamAcceptor *self, GSocket *socket)
{
  g_autoptr (GSocketAddress) local = g_socket_get_local_address (socket, NULL);
  g_autoptr (GSocketAddress) remote = g_socket_get_remote_address (socket, NULL);
  Accepted *accepted;
  gboolean keep = FALSE;
  guint64 id;

  /* Gone before it was accepted (reset in the queue): nothing to count. */
  if (local == NULL || remote == NULL) {
    g_socket_close (socket, NULL);
    return;
  }
  id = ++self->next_id;
  g_signal_emit (self, signals[SIGNAL_ACCEPTED], 0, id, remote, &keep);
  if (!keep) {
    g_socket_close (socket, NULL);
    return;
  }
  g_socket_set_option (socket, IPPROTO_TCP, TCP_NODELAY, TRUE, NULL);
  accepted = g_new0 (Accepted, 1);
  accepted->acceptor = self;
  accepted->id = id;
  accepted->socket = g_object_ref (socket);
  accepted->remote = g_object_ref (remote);
  g_hash_table_insert (self->by_id, &accepted->id, accepted);
  accepted->proxy_header =
    G_IS_INET_SOCKET_ADDRESS (remote) &&
    icecam_proxy_is_trusted (self->trusted_proxies,
                             g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (remote)));
  if (accepted->proxy_header || self->stun_over_tcp) {
    /* Often there already: a look now saves a turn of the main loop. */
    on_first_bytes (accepted);
    return;
  }
  hand_over (self, accepted, local);
}

/* A connection not handed over yet is gone (closed by its peer, a bad header, a deadline). */
static void
accepted_drop (IcecamAcceptor *self, Accepted *accepted)
{
  guint64 id = accepted->id;

  g_hash_table_remove (self->by_id, &id);
  g_signal_emit (self, signals[SIGNAL_CLOSED], 0, id);
}

static gboolean
on_first_readable (GSocket *socket, GIOCondition condition, gpointer user_data)
{
  return on_first_bytes (user_data);
}

/* Waits for the socket to be readable, or @delay_ms first. */
static void
wait_for_first_bytes (Accepted *accepted, guint delay_ms)
{
  if (accepted->first_wait != NULL) {
    g_source_destroy (accepted->first_wait);
    g_source_unref (accepted->first_wait);
  }
  if (delay_ms > 0) {
    accepted->first_wait = g_timeout_source_new (delay_ms);
    g_source_set_callback (accepted->first_wait, on_first_bytes, accepted, NULL);
  } else {
    accepted->first_wait = g_socket_create_source (accepted->socket, G_IO_IN, NULL);
    g_source_set_callback (accepted->first_wait, G_SOURCE_FUNC (on_first_readable), accepted,
                           NULL);
  }
  g_source_attach (accepted->first_wait, g_main_context_get_thread_default ());
}

typedef enum {
  LOOK_DONE,      /* the header is read (or there was none): go on */
  LOOK_WAIT,      /* waiting again */
  LOOK_DROPPED,   /* gone, or kept here (STUN): not for the server */
} LookResult;

/* What a trusted peer sent first: a PROXY header to consume, or the request itself. Peeks, so
 * that bytes that are no header stay in the socket for the server. */
static LookResult
read_proxy_header (IcecamAcceptor *self, Accepted *accepted)
{
  guint8 buffer[ICECAM_PROXY_HEADER_MAX];
  g_autoptr (GInetSocketAddress) source = NULL;
  g_autoptr (GError) error = NULL;
  gsize header_len = 0;
  gssize n;

  n = recv (g_socket_get_fd (accepted->socket), buffer, sizeof buffer, MSG_PEEK);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
    wait_for_first_bytes (accepted, 0);
    return LOOK_WAIT;
  }
  if (n <= 0) {
    accepted_drop (self, accepted);
    return LOOK_DROPPED;
  }
  switch (icecam_proxy_header_parse (buffer, (gsize) n, &header_len, &source, &error)) {
  case ICECAM_PROXY_HEADER_NEED_MORE:
    if ((gsize) n == sizeof buffer) {
      accepted_drop (self, accepted);
      return LOOK_DROPPED;
    }
    wait_for_first_bytes (accepted, PROXY_RETRY_MS);
    return LOOK_WAIT;
  case ICECAM_PROXY_HEADER_INVALID:
    g_signal_emit (self, signals[SIGNAL_PROXY_REFUSED], 0, accepted->id, accepted->remote,
                   error->message);
    accepted_drop (self, accepted);
    return LOOK_DROPPED;
  case ICECAM_PROXY_HEADER_DONE:
    /* Consumed for good: the header is all there (peeked), so this cannot block. */
    if (recv (g_socket_get_fd (accepted->socket), buffer, header_len, 0) != (gssize) header_len) {
      accepted_drop (self, accepted);
      return LOOK_DROPPED;
    }
    if (source != NULL) {
      g_object_unref (accepted->remote);
      accepted->remote = G_SOCKET_ADDRESS (g_steal_pointer (&source));
    }
    break;
  case ICECAM_PROXY_HEADER_NONE:
  default:
    break;
  }
  accepted->proxy_header = FALSE;
  return LOOK_DONE;
}

static void
on_stun_closed (IcecamStunTcp *stun, const gchar *reason, gpointer user_data)
{
  Accepted *accepted = user_data;

  accepted_drop (accepted->acceptor, accepted);
}

/* The connection is STUN over TCP: answered here until it goes. */
static void
serve_stun (IcecamAcceptor *self, Accepted *accepted)
{
  if (!G_IS_INET_SOCKET_ADDRESS (accepted->remote)) {
    accepted_drop (self, accepted);
    return;
  }
  accepted->stun = icecam_stun_tcp_new (accepted->socket,
                                        G_INET_SOCKET_ADDRESS (accepted->remote));
  g_signal_connect (accepted->stun, "closed", G_CALLBACK (on_stun_closed), accepted);
  g_signal_emit (self, signals[SIGNAL_STUN], 0, accepted->id, accepted->stun);
  icecam_stun_tcp_start (accepted->stun, ICECAM_STUN_TCP_TIMEOUT_S * 1000);
}

/* The first byte decides: STUN stays here, anything else goes to the server at once. */
static LookResult
look_for_stun (IcecamAcceptor *self, Accepted *accepted)
{
  guint8 first;
  gssize n;

  n = recv (g_socket_get_fd (accepted->socket), &first, 1, MSG_PEEK);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
    wait_for_first_bytes (accepted, 0);
    return LOOK_WAIT;
  }
  if (n <= 0) {
    accepted_drop (self, accepted);
    return LOOK_DROPPED;
  }
  if (icecam_stun_tcp_may_start_with (first)) {
    serve_stun (self, accepted);
    return LOOK_DROPPED;
  }
  return LOOK_DONE;
}

/* A connection's first bytes, while it is not handed over: a trusted proxy's PROXY header,
 * then (with STUN over TCP) whether it is STUN. */
static gboolean
on_first_bytes (gpointer user_data)
{
  Accepted *accepted = user_data;
  IcecamAcceptor *self = accepted->acceptor;
  g_autoptr (GSocketAddress) local = NULL;

  g_clear_pointer (&accepted->first_wait, g_source_unref);
  if (accepted->shut) {
    accepted_drop (self, accepted);
    return G_SOURCE_REMOVE;
  }
  if (accepted->proxy_header && read_proxy_header (self, accepted) != LOOK_DONE)
    return G_SOURCE_REMOVE;
  if (self->stun_over_tcp && look_for_stun (self, accepted) != LOOK_DONE)
    return G_SOURCE_REMOVE;
  local = g_socket_get_local_address (accepted->socket, NULL);
  if (local == NULL) {
    accepted_drop (self, accepted);
    return G_SOURCE_REMOVE;
  }
  hand_over (self, accepted, local);
  return G_SOURCE_REMOVE;
}

static gboolean
on_retry (gpointer user_data)
{
  IcecamAcceptor *self = user_data;

  g_clear_pointer (&self->retry_source, g_source_unref);
  start_accepting (self);
  return G_SOURCE_REMOVE;
}

/* accept() failed with something other than "nothing to accept": most likely no descriptor
 * is left. The queue stays readable, so keep trying would spin; wait a moment instead. */
static void
pause_accepting (IcecamAcceptor *self, const GError *error)
{
  g_warning ("acceptor: accept failed (%s), trying again in %d ms", error->message,
             ACCEPT_RETRY_MS);
  self->retry_source = g_timeout_source_new (ACCEPT_RETRY_MS);
  g_source_set_callback (self->retry_source, on_retry, self, NULL);
  g_source_attach (self->retry_source, g_main_context_get_thread_default ());
  g_clear_pointer (&self->listen_source, g_source_unref);
}

static gboolean
on_listening_readable (GSocket *listening, GIOCondition condition, gpointer user_data)
{
  IcecamAcceptor *self = user_data;

  for (guint i = 0; i < ACCEPT_BATCH; i++) {
    g_autoptr (GError) error = NULL;
    g_autoptr (GSocket) socket = g_socket_accept (listening, NULL, &error);

    if (socket != NULL) {
      accept_one (self, socket);
      continue;
    }
    if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
      break;
    pause_accepting (self, error);
    return G_SOURCE_REMOVE;
  }
  return G_SOURCE_CONTINUE;
}

static void
start_accepting (IcecamAcceptor *self)
{
  self->listen_source = g_socket_create_source (self->listening, G_IO_IN, NULL);
  g_source_set_callback (self->listen_source, G_SOURCE_FUNC (on_listening_readable), self,
                         NULL);
  g_source_attach (self->listen_source, g_main_context_get_thread_default ());
}

/* ---- public API ----------------------------------------------------------------------- */

/**
 * icecam_acceptor_new:
 * @server: the server to hand the connections to; it must outlive the acceptor
 *
 * Returns: (transfer full): an acceptor, not listening yet
 */
IcecamAcceptor *
icecam_acceptor_new (SoupServer *server)
{
  IcecamAcceptor *self;

  g_return_val_if_fail (SOUP_IS_SERVER (server), NULL);

  self = g_object_new (ICECAM_TYPE_ACCEPTOR, NULL);
  self->server = server;
  return self;
}

/**
 * icecam_acceptor_set_tls_certificate:
 * @self: an acceptor
 * @certificate: (nullable): serve TLS with it; %NULL for plain TCP
 *
 * Applies to connections accepted afterwards.
 */
void
icecam_acceptor_set_tls_certificate (IcecamAcceptor *self, GTlsCertificate *certificate)
{
  g_return_if_fail (ICECAM_IS_ACCEPTOR (self));

  g_set_object (&self->certificate, certificate);
}

/**
 * icecam_acceptor_set_trusted_proxies:
 * @self: an acceptor
 * @trusted: (element-type GInetAddressMask) (nullable): peers whose PROXY protocol header is
 *   read (if they send one); %NULL: none
 *
 * Applies to connections accepted afterwards.
 */
void
icecam_acceptor_set_trusted_proxies (IcecamAcceptor *self, GPtrArray *trusted)
{
  g_return_if_fail (ICECAM_IS_ACCEPTOR (self));

  g_clear_pointer (&self->trusted_proxies, g_ptr_array_unref);
  if (trusted != NULL)
    self->trusted_proxies = g_ptr_array_ref (trusted);
}

/**
 * icecam_acceptor_set_stun_over_tcp:
 * @self: an acceptor
 * @enabled: whether to answer STUN over TCP on the connections themselves
 *
 * For a STUN server on the same port number as this listener. Applies to connections
 * accepted afterwards.
 */
void
icecam_acceptor_set_stun_over_tcp (IcecamAcceptor *self, gboolean enabled)
{
  g_return_if_fail (ICECAM_IS_ACCEPTOR (self));

  self->stun_over_tcp = enabled;
}

/**
 * icecam_acceptor_listen:
 * @self: an acceptor, not listening yet
 * @socket: a listening TCP socket; the acceptor makes it non-blocking and closes it when it
 *   stops
 *
 * Starts accepting in the thread-default main context.
 */
void
icecam_acceptor_listen (IcecamAcceptor *self, GSocket *socket)
{
  g_return_if_fail (ICECAM_IS_ACCEPTOR (self));
  g_return_if_fail (G_IS_SOCKET (socket));
  g_return_if_fail (self->listening == NULL);

  self->listening = g_object_ref (socket);
  g_socket_set_blocking (socket, FALSE);
  start_accepting (self);
}

/**
 * icecam_acceptor_stop:
 * @self: an acceptor
 *
 * Stops accepting and closes the listening socket. The connections accepted stay.
 */
void
icecam_acceptor_stop (IcecamAcceptor *self)
{
  g_return_if_fail (ICECAM_IS_ACCEPTOR (self));

  if (self->listen_source != NULL) {
    g_source_destroy (self->listen_source);
    g_clear_pointer (&self->listen_source, g_source_unref);
  }
  if (self->retry_source != NULL) {
    g_source_destroy (self->retry_source);
    g_clear_pointer (&self->retry_source, g_source_unref);
  }
  if (self->listening != NULL)
    g_socket_close (self->listening, NULL);
  g_clear_object (&self->listening);
}

/**
 * icecam_acceptor_lookup:
 * @self: an acceptor
 * @remote: the remote address of a request (soup_server_message_get_remote_address())
 * @id: (out) (optional): the connection's id, 0 if unknown
 *
 * Returns: (transfer none) (nullable): the connection's socket, or %NULL if @remote is not
 *   one of this acceptor's open connections
 */
GSocket *
icecam_acceptor_lookup (IcecamAcceptor *self, GSocketAddress *remote, guint64 *id)
{
  Accepted *accepted;

  g_return_val_if_fail (ICECAM_IS_ACCEPTOR (self), NULL);

  accepted = remote != NULL ? g_hash_table_lookup (self->by_remote, remote) : NULL;
  if (id != NULL)
    *id = accepted != NULL ? accepted->id : 0;
  return accepted != NULL ? accepted->socket : NULL;
}

/**
 * icecam_acceptor_shutdown:
 * @self: an acceptor
 * @id: an open connection
 *
 * Shuts the connection down both ways: whoever reads it (libsoup, a WebSocket, the STUN
 * answerer) reads end-of-file, closes it, and #IcecamAcceptor::closed follows. Unknown ids are
 * ignored.
 */
void
icecam_acceptor_shutdown (IcecamAcceptor *self, guint64 id)
{
  Accepted *accepted;

  g_return_if_fail (ICECAM_IS_ACCEPTOR (self));

  accepted = g_hash_table_lookup (self->by_id, &id);
  if (accepted != NULL && accepted->first_wait != NULL) {
    /* Not handed over: nobody reads it but us; drop it from the main loop, not under the
     * caller. */
    accepted->shut = TRUE;
    wait_for_first_bytes (accepted, 1);
    return;
  }
  if (accepted != NULL && !g_socket_is_closed (accepted->socket))
    g_socket_shutdown (accepted->socket, TRUE, TRUE, NULL);
}

/* ---- GObject -------------------------------------------------------------------------- */

static void
icecam_acceptor_dispose (GObject *object)
{
  IcecamAcceptor *self = ICECAM_ACCEPTOR (object);

  icecam_acceptor_stop (self);
  if (self->by_remote != NULL)
    g_hash_table_remove_all (self->by_remote);
  if (self->by_id != NULL)
    g_hash_table_remove_all (self->by_id);
  g_clear_object (&self->certificate);
  g_clear_pointer (&self->trusted_proxies, g_ptr_array_unref);

  G_OBJECT_CLASS (icecam_acceptor_parent_class)->dispose (object);
}

static void
icecam_acceptor_finalize (GObject *object)
{
  IcecamAcceptor *self = ICECAM_ACCEPTOR (object);

  g_hash_table_unref (self->by_remote);
  g_hash_table_unref (self->by_id);

  G_OBJECT_CLASS (icecam_acceptor_parent_class)->finalize (object);
}

static void
icecam_acceptor_class_init (IcecamAcceptorClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = icecam_acceptor_dispose;
  object_class->finalize = icecam_acceptor_finalize;

  /**
   * IcecamAcceptor::accepted:
   * @acceptor: the acceptor
   * @id: the new connection's id, unique for the acceptor's life
   * @remote: the client's address
   *
   * A TCP connection was accepted; nothing was read from it yet.
   *
   * Returns: %TRUE to keep it (it goes to the server), %FALSE to close it at once
   */
  signals[SIGNAL_ACCEPTED] =
    g_signal_new ("accepted", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  g_signal_accumulator_first_wins, NULL, NULL, G_TYPE_BOOLEAN, 2, G_TYPE_UINT64,
                  G_TYPE_SOCKET_ADDRESS);

  /**
   * IcecamAcceptor::closed:
   * @acceptor: the acceptor
   * @id: a connection that was kept
   *
   * The connection is closed and forgotten; emitted once for each connection kept, except
   * those still open when the acceptor is disposed of (they are closed silently).
   */
  signals[SIGNAL_CLOSED] =
    g_signal_new ("closed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_UINT64);

  /**
   * IcecamAcceptor::proxy-refused:
   * @acceptor: the acceptor
   * @id: the connection, from a trusted proxy
   * @remote: the proxy's address
   * @reason: what was wrong with its PROXY header
   *
   * The connection is closed; #IcecamAcceptor::closed follows.
   */
  signals[SIGNAL_PROXY_REFUSED] =
    g_signal_new ("proxy-refused", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 3, G_TYPE_UINT64, G_TYPE_SOCKET_ADDRESS, G_TYPE_STRING);

  /**
   * IcecamAcceptor::stun:
   * @acceptor: the acceptor
   * @id: the connection
   * @stun_tcp: what answers it, about to start
   *
   * The connection speaks STUN over TCP (icecam_acceptor_set_stun_over_tcp()): it is never
   * handed to the server, it is closed within %ICECAM_STUN_TCP_TIMEOUT_S seconds, and
   * #IcecamAcceptor::closed follows as for any other.
   */
  signals[SIGNAL_STUN] =
    g_signal_new ("stun", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 2, G_TYPE_UINT64, ICECAM_TYPE_STUN_TCP);
}

static void
icecam_acceptor_init (IcecamAcceptor *self)
{
  self->by_id = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL,
                                       (GDestroyNotify) accepted_free);
  self->by_remote = g_hash_table_new (NULL, NULL);
}
