/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The signalling client: a libsoup WebSocket to the rendezvous speaking icecam-protocol. */

#include "icecam-signalling-client.h"

#include "icecam-tls-probe.h"
#include "icecam-token.h"

#include <libsoup/soup.h>
#include <string.h>

#define MAX_INCOMING_PAYLOAD (1024 * 1024)
/* WebSocket pings: they keep NAT mappings open, also towards servers that predate `ping`. */
#define KEEPALIVE_INTERVAL_S 15
/* Reconnect backoff: 250 ms doubling to 30 s, each delay spread by ±25 % so that cameras
 * that lost the same rendezvous do not come back in one wave. */
#define RETRY_FIRST_MS 250
#define RETRY_MAX_MS (30 * 1000)

/**
 * IcecamSignallingClient:
 *
 * Connects to the rendezvous, sends `hello` and waits for `welcome`. Its signals
 * ("state-changed", "message") are emitted in the GMainContext that was thread-default when
 * the client was created; all its functions must be called from that context.
 *
 * A connection can die without a word (a router reboots and forgets its mappings). When the
 * server says it answers `ping`, the client pings it after a quiet keepalive interval, or at
 * once on icecam_signalling_client_check(); no `pong` within the keepalive timeout and the
 * connection counts as dead: the client drops it and, with reconnect on, connects again at
 * once. Every `hello` after the first carries the `resume` secret of the latest `welcome`, so
 * the server gives the client back its id and its sessions (the new `welcome` says `resumed`)
 * even while it still holds the dead connection.
 */
struct _IcecamSignallingClient {
  GObject parent;

  GUri *uri;       /* the rendezvous it uses now: one of @uris */
  GPtrArray *uris; /* every rendezvous node it may use (GUri), in the order given */
  guint uri_index;
  IcecamRole role;
  gchar *id;
  gchar *secret;   /* camera: proves its id against the challenge */
  gchar *token;    /* viewer: its grant */
  gchar *region;   /* the region hint of its hello, or NULL */
  gboolean accept_invalid_certificates;
  gboolean hello_sent;
  IcecamFeatures extra_features; /* listed in hello beside those every client acts on */

  SoupSession *session;
  SoupWebsocketConnection *ws;
  GCancellable *cancellable;
  GCancellable *attempt_cancellable; /* this connection attempt (and its TLS probe) */
  GSource *tls_probe_source;   /* wss://: probes for plain HTTP if the handshake drags on */
  IcecamSignallingState state;
  gboolean reconnect;
  guint attempt;
  GSource *retry_source;
  gboolean retry_at_once;      /* the next attempt without a delay: the connection just died */
  IcecamMessage *welcome;
  GError *error;

  guint keepalive_interval_s;  /* ping after this long without a word; 0: only on check() */
  guint keepalive_timeout_s;   /* no pong this long after a ping: the connection is dead */
  gint64 heard_us;             /* when the server last sent anything, monotonic */
  gint64 pong_due_us;          /* a ping is out and its pong is due then; 0: no ping out */
  GSource *keepalive_source;
};

/* A wss:// handshake not done after this long is when the server is asked whether it
 * answers plain HTTP (a local rendezvous completes it in a few ms, a distant one in a few
 * round trips: well under a second but on the worst links). */
#define TLS_PROBE_DELAY_MS 1000

static void tls_probe_stop (IcecamSignallingClient *self);

G_DEFINE_TYPE (IcecamSignallingClient, icecam_signalling_client, G_TYPE_OBJECT)
G_DEFINE_QUARK (icecam-signalling-error-quark, icecam_signalling_error)

enum {
  SIGNAL_STATE_CHANGED,
  SIGNAL_MESSAGE,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

const gchar *
icecam_signalling_state_to_string (IcecamSignallingState state)
{
  switch (state) {
    case ICECAM_SIGNALLING_STATE_IDLE:
      return "idle";
    case ICECAM_SIGNALLING_STATE_CONNECTING:
      return "connecting";
    case ICECAM_SIGNALLING_STATE_READY:
      return "ready";
    case ICECAM_SIGNALLING_STATE_RETRYING:
      return "retrying";
    case ICECAM_SIGNALLING_STATE_CLOSED:
      return "closed";
    default:
      return "unknown";
  }
}

static void
set_state (IcecamSignallingClient *self, IcecamSignallingState state)
{
  if (self->state == state)
    return;
  g_debug ("signalling %s: %s -> %s", g_uri_get_host (self->uri),
           icecam_signalling_state_to_string (self->state),
           icecam_signalling_state_to_string (state));
  self->state = state;
  g_signal_emit (self, signals[SIGNAL_STATE_CHANGED], 0, (guint) state);
}

static void connect_now (IcecamSignallingClient *self);
static void fail (IcecamSignallingClient *self, GError *error, gboolean retryable);

/* ---- keepalive ---------------------------------------------------------------------------- */

static gboolean
server_answers_pings (IcecamSignallingClient *self)
{
  return self->welcome != NULL && (self->welcome->features & ICECAM_FEATURE_PING) != 0;
}

static void
keepalive_stop (IcecamSignallingClient *self)
{
  if (self->keepalive_source == NULL)
    return;
  g_source_destroy (self->keepalive_source);
  g_clear_pointer (&self->keepalive_source, g_source_unref);
}

static gboolean on_keepalive (gpointer data);

static void
keepalive_arm (IcecamSignallingClient *self, gint64 at_us)
{
  gint64 delay_us = MAX (at_us - g_get_monotonic_time (), 0);

  keepalive_stop (self);
  self->keepalive_source = g_timeout_source_new ((guint) ((delay_us + 999) / 1000));
  g_source_set_callback (self->keepalive_source, on_keepalive, self, NULL);
  g_source_attach (self->keepalive_source, g_main_context_get_thread_default ());
}

/* One timer: for the pong that is due, else for the next ping if the server stays quiet. */
static void
keepalive_schedule (IcecamSignallingClient *self)
{
  if (self->state != ICECAM_SIGNALLING_STATE_READY || !server_answers_pings (self))
    keepalive_stop (self);
  else if (self->pong_due_us != 0)
    keepalive_arm (self, self->pong_due_us);
  else if (self->keepalive_interval_s > 0)
    keepalive_arm (self, self->heard_us + (gint64) self->keepalive_interval_s * G_USEC_PER_SEC);
  else
    keepalive_stop (self);
}

static void
send_ping (IcecamSignallingClient *self)
{
  g_autoptr (IcecamMessage) ping = icecam_message_new_ping ();

  self->pong_due_us = g_get_monotonic_time () +
                      (gint64) self->keepalive_timeout_s * G_USEC_PER_SEC;
  icecam_signalling_client_send (self, ping);
}

static gboolean
on_keepalive (gpointer data)
{
  IcecamSignallingClient *self = data;
  gint64 now = g_get_monotonic_time ();

  g_clear_pointer (&self->keepalive_source, g_source_unref);
  if (self->pong_due_us != 0 && now >= self->pong_due_us) {
    /* Whatever the path did, nothing comes back on it: a new connection is the way out. */
    self->retry_at_once = TRUE;
    fail (self, g_error_new (ICECAM_SIGNALLING_ERROR, ICECAM_SIGNALLING_ERROR_TIMEOUT,
                             "the rendezvous did not answer a ping within %u s",
                             self->keepalive_timeout_s),
          TRUE);
    return G_SOURCE_REMOVE;
  }
  if (self->pong_due_us == 0 && self->keepalive_interval_s > 0 &&
      now - self->heard_us >= (gint64) self->keepalive_interval_s * G_USEC_PER_SEC)
    send_ping (self);
  keepalive_schedule (self);
  return G_SOURCE_REMOVE;
}

static gboolean
on_retry (gpointer data)
{
  IcecamSignallingClient *self = data;

  g_clear_pointer (&self->retry_source, g_source_unref);
  connect_now (self);
  return G_SOURCE_REMOVE;
}

static guint
retry_delay_ms (guint attempt)
{
  guint delay = RETRY_MAX_MS;

  if (attempt < 8)
    delay = MIN (RETRY_FIRST_MS << attempt, RETRY_MAX_MS);
  return (guint) g_random_int_range ((gint32) (delay * 3 / 4), (gint32) (delay * 5 / 4) + 1);
}

static void
drop_websocket (IcecamSignallingClient *self)
{
  if (self->ws == NULL)
    return;
  g_signal_handlers_disconnect_by_data (self->ws, self);
  if (soup_websocket_connection_get_state (self->ws) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_close (self->ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
  g_clear_object (&self->ws);
}

/* Ends this connection because of @error (taken). With reconnect on and a cause that may
 * pass (@retryable), tries again later; otherwise the client is CLOSED. The latest error is
 * kept: it is the one a user needs to see. */
static void
fail (IcecamSignallingClient *self, GError *error, gboolean retryable)
{
  gboolean at_once = self->retry_at_once;
  guint delay;

  self->retry_at_once = FALSE;
  g_clear_error (&self->error);
  self->error = error;
  keepalive_stop (self);
  tls_probe_stop (self);
  self->pong_due_us = 0;
  drop_websocket (self);
  if (!self->reconnect || !retryable) {
    set_state (self, ICECAM_SIGNALLING_STATE_CLOSED);
    return;
  }
  /* Several nodes of a cluster: the next one may be up while this one is not. */
  if (self->uris->len > 1) {
    self->uri_index = (self->uri_index + 1) % self->uris->len;
    self->uri = g_ptr_array_index (self->uris, self->uri_index);
  }
  delay = at_once ? 0 : retry_delay_ms (self->attempt++);
  g_message ("signalling: %s; retrying in %u ms", error->message, delay);
  self->retry_source = g_timeout_source_new (delay);
  g_source_set_callback (self->retry_source, on_retry, self, NULL);
  g_source_attach (self->retry_source, g_main_context_get_thread_default ());
  set_state (self, ICECAM_SIGNALLING_STATE_RETRYING);
}

/* After a welcome, the next hello asks for the same id and sessions back with its secret. */
static void
send_hello (IcecamSignallingClient *self, const gchar *nonce)
{
  const IcecamMessage *last = self->welcome;
  gboolean resume = last != NULL && last->resume != NULL;
  g_autoptr (IcecamMessage) hello =
    icecam_message_new_hello (self->role, resume ? last->id : self->id);

  if (self->secret != NULL && nonce != NULL)
    hello->proof = icecam_camera_proof (self->secret, self->id, nonce);
  hello->token = g_strdup (self->token);
  hello->region = g_strdup (self->region);
  hello->resume = resume ? g_strdup (last->resume) : NULL;
  /* What the endpoints act on: both answer pings and take fresh relay credentials; the
   * camera also restarts ICE when asked. */
  hello->features = ICECAM_FEATURE_PING | ICECAM_FEATURE_ICE_SERVERS |
                    (self->role == ICECAM_ROLE_CAMERA ? ICECAM_FEATURE_RESTART : 0) |
                    self->extra_features;
  self->hello_sent = TRUE;
  icecam_signalling_client_send (self, hello);
}

static void
handle_message (IcecamSignallingClient *self, IcecamMessage *msg)
{
  /* Liveness is this object's business, not its users'. */
  if (msg->type == ICECAM_MESSAGE_PING) {
    g_autoptr (IcecamMessage) pong = icecam_message_new_pong ();

    icecam_signalling_client_send (self, pong);
    return;
  }
  if (msg->type == ICECAM_MESSAGE_PONG) {
    self->pong_due_us = 0;
    return;
  }
  if (msg->type == ICECAM_MESSAGE_CHALLENGE) {
    if (!self->hello_sent)
      send_hello (self, msg->nonce);
    return;
  }
  if (self->state == ICECAM_SIGNALLING_STATE_CONNECTING) {
    if (msg->type == ICECAM_MESSAGE_ERROR) {
      /* An id still held by our own dead connection frees itself when the server notices. */
      fail (self, g_error_new (ICECAM_SIGNALLING_ERROR, ICECAM_SIGNALLING_ERROR_REFUSED,
                               "the rendezvous refused us (%s): %s",
                               icecam_error_code_to_string (msg->error_code), msg->text),
            msg->error_code == ICECAM_ERROR_CODE_ID_IN_USE);
      return;
    }
    if (msg->type != ICECAM_MESSAGE_WELCOME) {
      g_warning ("signalling: '%s' before welcome, ignored",
                 icecam_message_type_to_string (msg->type));
      return;
    }
    icecam_message_free (self->welcome);
    self->welcome = icecam_message_copy (msg);
    self->attempt = 0;
    self->pong_due_us = 0;
    if (msg->resumed)
      g_message ("signalling: back as '%s' with our sessions", msg->id);
    g_clear_error (&self->error); /* the failures that led here are over */
    set_state (self, ICECAM_SIGNALLING_STATE_READY);
    keepalive_schedule (self);
  }
  g_signal_emit (self, signals[SIGNAL_MESSAGE], 0, msg);
}

static void
on_ws_message (SoupWebsocketConnection *ws, gint type, GBytes *bytes,
               IcecamSignallingClient *self)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (IcecamMessage) msg = NULL;
  gsize len;
  const gchar *data = g_bytes_get_data (bytes, &len);

  self->heard_us = g_get_monotonic_time ();
  if (type != SOUP_WEBSOCKET_DATA_TEXT) {
    g_warning ("signalling: binary frame from the server ignored");
    return;
  }
  msg = icecam_message_parse (data, len, &error);
  if (msg == NULL) {
    g_warning ("signalling: bad message from the server ignored: %s", error->message);
    return;
  }
  handle_message (self, msg);
}

static void
on_ws_closed (SoupWebsocketConnection *ws, IcecamSignallingClient *self)
{
  const gchar *reason = soup_websocket_connection_get_close_data (ws);

  fail (self, g_error_new (ICECAM_SIGNALLING_ERROR, ICECAM_SIGNALLING_ERROR_CLOSED,
                           "the rendezvous closed the connection (code %u%s%s)",
                           soup_websocket_connection_get_close_code (ws),
                           reason && *reason ? ": " : "", reason ? reason : ""),
        TRUE);
}

static void
websocket_connect_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  IcecamSignallingClient *self = user_data;
  g_autoptr (GError) error = NULL;
  SoupWebsocketConnection *ws;

  ws = soup_session_websocket_connect_finish (SOUP_SESSION (source), result, &error);
  if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    tls_probe_stop (self);
  if (ws == NULL) {
    if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
      g_autofree gchar *url = g_uri_to_string (self->uri);
      /* A handshake that broke off or never finished, not a certificate refused. */
      gboolean tls_trouble = g_str_equal (g_uri_get_scheme (self->uri), "wss") &&
                             (g_error_matches (error, G_TLS_ERROR, G_TLS_ERROR_NOT_TLS) ||
                              g_error_matches (error, G_TLS_ERROR, G_TLS_ERROR_MISC) ||
                              g_error_matches (error, G_TLS_ERROR, G_TLS_ERROR_EOF) ||
                              g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT));

      fail (self, g_error_new (ICECAM_SIGNALLING_ERROR, ICECAM_SIGNALLING_ERROR_CONNECT,
                               "cannot reach the rendezvous at %s: %s%s", url, error->message,
                               tls_trouble ? " (does the server speak TLS? if not, use ws://)"
                                           : ""),
            TRUE);
    }
    g_object_unref (self);
    return;
  }
  self->ws = ws;
  soup_websocket_connection_set_max_incoming_payload_size (ws, MAX_INCOMING_PAYLOAD);
  soup_websocket_connection_set_keepalive_interval (ws, KEEPALIVE_INTERVAL_S);
  g_signal_connect (ws, "message", G_CALLBACK (on_ws_message), self);
  g_signal_connect (ws, "closed", G_CALLBACK (on_ws_closed), self);

  /* A camera with a secret answers the server's challenge; others need not wait for it. */
  self->hello_sent = FALSE;
  if (self->secret == NULL)
    send_hello (self, NULL);
  g_object_unref (self);
}

static void
tls_probe_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  IcecamSignallingClient *self = user_data;
  g_autoptr (GError) error = NULL;

  if (icecam_tls_probe_plain_http_finish (result, &error) && self->ws == NULL &&
      self->state == ICECAM_SIGNALLING_STATE_CONNECTING) {
    g_autofree gchar *url = g_uri_to_string (self->uri);

    /* The handshake's own callback sees the cancellation and leaves the rest to us. */
    g_cancellable_cancel (self->attempt_cancellable);
    fail (self, g_error_new (ICECAM_SIGNALLING_ERROR, ICECAM_SIGNALLING_ERROR_CONNECT,
                             "cannot reach the rendezvous at %s: the server does not speak "
                             "TLS (it answers plain HTTP); use ws:// instead of wss://", url),
          TRUE);
  } else if (error != NULL) {
    g_debug ("signalling: plain HTTP probe: %s", error->message);
  }
  g_object_unref (self);
}

static gboolean
on_tls_probe_due (gpointer data)
{
  IcecamSignallingClient *self = data;

  g_clear_pointer (&self->tls_probe_source, g_source_unref);
  g_debug ("signalling: no TLS handshake after %u ms; does the server answer plain HTTP?",
           TLS_PROBE_DELAY_MS);
  icecam_tls_probe_plain_http_async (g_uri_get_host (self->uri),
                                     (guint16) (g_uri_get_port (self->uri) > 0
                                                  ? g_uri_get_port (self->uri) : 443),
                                     self->attempt_cancellable, tls_probe_cb,
                                     g_object_ref (self));
  return G_SOURCE_REMOVE;
}

static void
tls_probe_stop (IcecamSignallingClient *self)
{
  if (self->tls_probe_source == NULL)
    return;
  g_source_destroy (self->tls_probe_source);
  g_clear_pointer (&self->tls_probe_source, g_source_unref);
}

/* ws://host:port means ws://host:port/ws: users type the server, not the endpoint. */
static GUri *
normalize_url (const gchar *url, GError **error)
{
  g_autoptr (GUri) uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);
  const gchar *scheme = uri ? g_uri_get_scheme (uri) : NULL;
  const gchar *path;

  /* "ws://" and "ws://:80" parse with an empty host, which libsoup cannot connect to. */
  if (uri == NULL || g_uri_get_host (uri) == NULL || *g_uri_get_host (uri) == '\0' ||
      (g_strcmp0 (scheme, "ws") != 0 && g_strcmp0 (scheme, "wss") != 0)) {
    g_set_error (error, ICECAM_SIGNALLING_ERROR, ICECAM_SIGNALLING_ERROR_BAD_URL,
                 "'%s' is not a ws:// or wss:// URL", url);
    return NULL;
  }
  path = g_uri_get_path (uri);
  if (path[0] == '\0' || g_str_equal (path, "/"))
    return g_uri_build (G_URI_FLAGS_NONE, scheme, NULL, g_uri_get_host (uri),
                        g_uri_get_port (uri), "/ws", g_uri_get_query (uri), NULL);
  return g_steal_pointer (&uri);
}

/**
 * icecam_signalling_client_new:
 * @url: "ws://HOST:PORT" or "wss://HOST:PORT" (path defaults to /ws), or several of them
 *   separated by commas: nodes of one cluster, tried in turn whenever a connection fails or
 *   is lost
 * @role: camera or viewer
 * @id: (nullable): the camera id, or a viewer's name
 * @error: an %ICECAM_SIGNALLING_ERROR_BAD_URL
 *
 * Returns: (transfer full) (nullable): a client, not yet connected
 */
IcecamSignallingClient *
icecam_signalling_client_new (const gchar *url, IcecamRole role, const gchar *id,
                              GError **error)
{
  IcecamSignallingClient *self;
  g_autoptr (GPtrArray) uris = g_ptr_array_new_with_free_func ((GDestroyNotify) g_uri_unref);
  g_auto (GStrv) urls = NULL;

  g_return_val_if_fail (url != NULL, NULL);

  urls = g_strsplit (url, ",", -1);
  for (guint i = 0; urls[i] != NULL; i++) {
    GUri *uri = normalize_url (g_strstrip (urls[i]), error);

    if (uri == NULL)
      return NULL;
    g_ptr_array_add (uris, uri);
  }
  if (uris->len == 0) {
    g_set_error (error, ICECAM_SIGNALLING_ERROR, ICECAM_SIGNALLING_ERROR_BAD_URL,
                 "'%s' is not a ws:// or wss:// URL", url);
    return NULL;
  }
  self = g_object_new (ICECAM_TYPE_SIGNALLING_CLIENT, NULL);
  self->uris = g_steal_pointer (&uris);
  self->uri = g_ptr_array_index (self->uris, 0);
  self->role = role;
  self->id = g_strdup (id);
  return self;
}

static gboolean
on_accept_certificate (SoupMessage *msg, GTlsCertificate *certificate,
                       GTlsCertificateFlags errors, gpointer user_data)
{
  g_message ("signalling: accepting an unverified TLS certificate (insecure-tls is set)");
  return TRUE;
}

static void
connect_now (IcecamSignallingClient *self)
{
  g_autoptr (SoupMessage) msg = soup_message_new_from_uri (SOUP_METHOD_GET, self->uri);

  if (self->accept_invalid_certificates)
    g_signal_connect (msg, "accept-certificate", G_CALLBACK (on_accept_certificate), NULL);
  set_state (self, ICECAM_SIGNALLING_STATE_CONNECTING);
  g_clear_object (&self->attempt_cancellable);
  self->attempt_cancellable = g_cancellable_new ();
  tls_probe_stop (self);
  if (g_str_equal (g_uri_get_scheme (self->uri), "wss")) {
    self->tls_probe_source = g_timeout_source_new (TLS_PROBE_DELAY_MS);
    g_source_set_callback (self->tls_probe_source, on_tls_probe_due, self, NULL);
    g_source_attach (self->tls_probe_source, g_main_context_get_thread_default ());
  }
  soup_session_websocket_connect_async (self->session, msg, NULL, NULL, G_PRIORITY_DEFAULT,
                                        self->attempt_cancellable, websocket_connect_cb,
                                        g_object_ref (self));
}

/**
 * icecam_signalling_client_set_credentials:
 * @secret: (nullable): a camera's provisioned secret; it never leaves this process, only an
 *   HMAC over the server's challenge does
 * @token: (nullable): a viewer's token
 *
 * Must be called before icecam_signalling_client_start().
 */
void
icecam_signalling_client_set_credentials (IcecamSignallingClient *self, const gchar *secret,
                                          const gchar *token)
{
  g_free (self->secret);
  g_free (self->token);
  /* An empty property or file is no credential at all. */
  self->secret = secret != NULL && *secret != '\0' ? g_strdup (secret) : NULL;
  self->token = token != NULL && *token != '\0' ? g_strdup (token) : NULL;
}

/**
 * icecam_signalling_client_set_region:
 * @region: (nullable): a region hint for the rendezvous's relay policy (the `region` of
 *   `hello`), 1..64 characters of A-Z a-z 0-9 . _ -; %NULL or "": none
 * @error: what is wrong with @region
 *
 * Returns: %TRUE if @region is usable (the client then sends it with every hello)
 */
gboolean
icecam_signalling_client_set_region (IcecamSignallingClient *self, const gchar *region,
                                     GError **error)
{
  if (region != NULL && *region != '\0' && !icecam_protocol_id_is_valid (region)) {
    g_set_error (error, ICECAM_PROTOCOL_ERROR, ICECAM_PROTOCOL_ERROR_INVALID_FIELD,
                 "region '%s' must be 1..%d characters of A-Z a-z 0-9 . _ -", region,
                 ICECAM_PROTOCOL_MAX_ID_LENGTH);
    return FALSE;
  }
  g_free (self->region);
  self->region = region != NULL && *region != '\0' ? g_strdup (region) : NULL;
  return TRUE;
}

/**
 * icecam_signalling_client_set_tls:
 * @ca_file: (nullable): PEM file of the CAs to trust for wss://; %NULL: the system's
 * @accept_invalid: accept any certificate: for tests against a self-signed server only
 * @error: a #GTlsError when @ca_file cannot be loaded
 *
 * By default a wss:// server must present a certificate the system trusts, and a bad one
 * fails the connection.
 *
 * Returns: %TRUE, or %FALSE with @error set
 */
gboolean
icecam_signalling_client_set_tls (IcecamSignallingClient *self, const gchar *ca_file,
                                  gboolean accept_invalid, GError **error)
{
  self->accept_invalid_certificates = accept_invalid;
  if (ca_file != NULL) {
    g_autoptr (GTlsDatabase) database = g_tls_file_database_new (ca_file, error);

    if (database == NULL)
      return FALSE;
    soup_session_set_tls_database (self->session, database);
  }
  return TRUE;
}

/**
 * icecam_signalling_client_set_reconnect:
 * @reconnect: whether to connect again, with backoff and jitter, after the connection is
 *   lost, cannot be made, or our camera id is still held by our previous connection
 *
 * May be changed at any time; off by default. A refusal (bad version) is always final.
 */
void
icecam_signalling_client_set_reconnect (IcecamSignallingClient *self, gboolean reconnect)
{
  self->reconnect = reconnect;
}

/**
 * icecam_signalling_client_set_keepalive:
 * @interval_s: ping the server after this many seconds without a word from it; 0: only on
 *   icecam_signalling_client_check()
 * @timeout_s: a ping not answered within this many seconds (at least 1) means the connection
 *   is dead: it is dropped and, with reconnect on, made again at once
 *
 * Only with a server whose `welcome` lists the "ping" feature; others are not pinged.
 * Defaults: %ICECAM_SIGNALLING_DEFAULT_KEEPALIVE_INTERVAL_S,
 * %ICECAM_SIGNALLING_DEFAULT_KEEPALIVE_TIMEOUT_S. May be changed at any time.
 */
void
icecam_signalling_client_set_keepalive (IcecamSignallingClient *self, guint interval_s,
                                        guint timeout_s)
{
  g_return_if_fail (ICECAM_IS_SIGNALLING_CLIENT (self));
  g_return_if_fail (timeout_s >= 1);

  self->keepalive_interval_s = interval_s;
  self->keepalive_timeout_s = timeout_s;
  keepalive_schedule (self);
}

/**
 * icecam_signalling_client_check:
 *
 * Pings the server now, e.g. because media stopped and the signalling path may have died
 * with it: no `pong` within the keepalive timeout and the connection is treated as dead, as
 * by the keepalive. Does nothing if a ping is out already, the client is not READY or the
 * server does not answer pings.
 */
void
icecam_signalling_client_check (IcecamSignallingClient *self)
{
  g_return_if_fail (ICECAM_IS_SIGNALLING_CLIENT (self));

  if (self->state != ICECAM_SIGNALLING_STATE_READY || !server_answers_pings (self)) {
    g_debug ("signalling: not checking: %s", self->state != ICECAM_SIGNALLING_STATE_READY
             ? "not connected" : "the rendezvous does not answer pings");
    return;
  }
  if (self->pong_due_us != 0)
    return;
  send_ping (self);
  keepalive_schedule (self);
}

void
icecam_signalling_client_start (IcecamSignallingClient *self)
{
  g_return_if_fail (self->state == ICECAM_SIGNALLING_STATE_IDLE);

  connect_now (self);
}

/**
 * icecam_signalling_client_send:
 *
 * Sends @msg if the connection is open; otherwise drops it with a debug message (a closed
 * client has already reported why).
 */
void
icecam_signalling_client_send (IcecamSignallingClient *self, const IcecamMessage *msg)
{
  g_autofree gchar *text = NULL;

  if (self->ws == NULL ||
      soup_websocket_connection_get_state (self->ws) != SOUP_WEBSOCKET_STATE_OPEN) {
    g_debug ("signalling: not connected, '%s' dropped",
             icecam_message_type_to_string (msg->type));
    return;
  }
  text = icecam_message_to_json (msg);
  soup_websocket_connection_send_text (self->ws, text);
}

void
icecam_signalling_client_stop (IcecamSignallingClient *self)
{
  g_cancellable_cancel (self->cancellable);
  if (self->attempt_cancellable != NULL)
    g_cancellable_cancel (self->attempt_cancellable);
  tls_probe_stop (self);
  self->reconnect = FALSE;
  keepalive_stop (self);
  if (self->retry_source != NULL) {
    g_source_destroy (self->retry_source);
    g_clear_pointer (&self->retry_source, g_source_unref);
  }
  if (self->ws != NULL) {
    g_signal_handlers_disconnect_by_data (self->ws, self);
    if (soup_websocket_connection_get_state (self->ws) == SOUP_WEBSOCKET_STATE_OPEN)
      soup_websocket_connection_close (self->ws, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, NULL);
  }
  if (self->state != ICECAM_SIGNALLING_STATE_IDLE)
    set_state (self, ICECAM_SIGNALLING_STATE_CLOSED);
}

IcecamSignallingState
icecam_signalling_client_get_state (IcecamSignallingClient *self)
{
  return self->state;
}

/**
 * icecam_signalling_client_get_welcome:
 *
 * Returns: (transfer none) (nullable): the server's `welcome`, once READY
 */
const IcecamMessage *
icecam_signalling_client_get_welcome (IcecamSignallingClient *self)
{
  return self->welcome;
}

/**
 * icecam_signalling_client_get_resumed:
 *
 * Whether the server's latest `welcome` said this client took the place of its earlier
 * connection with its sessions: they kept their ids, and the other ends' messages reach it.
 * %FALSE after the first welcome, or when the server had forgotten the client (the sessions
 * it had are over).
 *
 * Returns: the `resumed` of the latest welcome
 */
gboolean
icecam_signalling_client_get_resumed (IcecamSignallingClient *self)
{
  g_return_val_if_fail (ICECAM_IS_SIGNALLING_CLIENT (self), FALSE);

  return self->welcome != NULL && self->welcome->resumed;
}

/**
 * icecam_signalling_client_get_error:
 *
 * Returns: (transfer none) (nullable): why the client is CLOSED, if it did not stop itself
 */
const GError *
icecam_signalling_client_get_error (IcecamSignallingClient *self)
{
  return self->error;
}

/**
 * icecam_signalling_client_server_is_loopback:
 *
 * Returns: whether the server URL names a loopback address (then so are its peers)
 */
gboolean
icecam_signalling_client_server_is_loopback (IcecamSignallingClient *self)
{
  const gchar *host = g_uri_get_host (self->uri);
  g_autoptr (GInetAddress) addr = g_inet_address_new_from_string (host);

  if (addr != NULL)
    return g_inet_address_get_is_loopback (addr);
  return g_ascii_strcasecmp (host, "localhost") == 0;
}

static void
icecam_signalling_client_dispose (GObject *object)
{
  IcecamSignallingClient *self = ICECAM_SIGNALLING_CLIENT (object);

  keepalive_stop (self);
  if (self->retry_source != NULL) {
    g_source_destroy (self->retry_source);
    g_clear_pointer (&self->retry_source, g_source_unref);
  }
  if (self->ws != NULL) {
    g_signal_handlers_disconnect_by_data (self->ws, self);
    if (soup_websocket_connection_get_state (self->ws) == SOUP_WEBSOCKET_STATE_OPEN)
      soup_websocket_connection_close (self->ws, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, NULL);
  }
  g_clear_object (&self->ws);
  g_clear_object (&self->session);
  G_OBJECT_CLASS (icecam_signalling_client_parent_class)->dispose (object);
}

static void
icecam_signalling_client_finalize (GObject *object)
{
  IcecamSignallingClient *self = ICECAM_SIGNALLING_CLIENT (object);

  self->uri = NULL;
  g_clear_pointer (&self->uris, g_ptr_array_unref);
  g_free (self->id);
  g_free (self->region);
  g_free (self->token);
  if (self->secret != NULL)
    memset (self->secret, 0, strlen (self->secret));
  g_free (self->secret);
  tls_probe_stop (self);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->attempt_cancellable);
  icecam_message_free (self->welcome);
  g_clear_error (&self->error);
  G_OBJECT_CLASS (icecam_signalling_client_parent_class)->finalize (object);
}

static void
icecam_signalling_client_class_init (IcecamSignallingClientClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = icecam_signalling_client_dispose;
  object_class->finalize = icecam_signalling_client_finalize;

  /**
   * IcecamSignallingClient::state-changed:
   * @state: the new #IcecamSignallingState
   */
  signals[SIGNAL_STATE_CHANGED] =
    g_signal_new ("state-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                  NULL, NULL, G_TYPE_NONE, 1, G_TYPE_UINT);
  /**
   * IcecamSignallingClient::message:
   * @msg: (transfer none): a message from the server, `welcome` included
   */
  signals[SIGNAL_MESSAGE] =
    g_signal_new ("message", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 1, ICECAM_TYPE_MESSAGE | G_SIGNAL_TYPE_STATIC_SCOPE);
}

/* GIO's default proxy resolver loads its modules on the first connection (libproxy, GNOME's
 * proxy settings through dconf and D-Bus): ~10 ms of a viewer's time to first frame on an idle
 * machine, several times that on a busy one. icecam goes through a proxy when the environment
 * names one, as curl does, and otherwise connects directly without loading them. */
static gboolean
environment_names_proxy (void)
{
  static const gchar *const names[] = {
    "http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY",
  };

  for (guint i = 0; i < G_N_ELEMENTS (names); i++) {
    const gchar *value = g_getenv (names[i]);

    if (value != NULL && *value != '\0')
      return TRUE;
  }
  return FALSE;
}

static void
icecam_signalling_client_init (IcecamSignallingClient *self)
{
  self->session = soup_session_new_with_options ("timeout", 10, "idle-timeout", 0, NULL);
  if (!environment_names_proxy ())
    g_object_set (self->session, "proxy-resolver", NULL, NULL);
  self->cancellable = g_cancellable_new ();
  self->state = ICECAM_SIGNALLING_STATE_IDLE;
  self->keepalive_interval_s = ICECAM_SIGNALLING_DEFAULT_KEEPALIVE_INTERVAL_S;
  self->keepalive_timeout_s = ICECAM_SIGNALLING_DEFAULT_KEEPALIVE_TIMEOUT_S;
}

/**
 * icecam_signalling_client_add_features:
 * @features: what the user of the client also acts on (e.g. %ICECAM_FEATURE_PUNCH)
 *
 * Listed in every later `hello`: call before the client connects.
 */
void
icecam_signalling_client_add_features (IcecamSignallingClient *self, IcecamFeatures features)
{
  g_return_if_fail (ICECAM_IS_SIGNALLING_CLIENT (self));
  self->extra_features |= features;
}
