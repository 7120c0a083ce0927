/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Load on icecam-rendezvous: thousands of WebSocket clients in one process say hello as cameras
 * and viewers, viewers watch cameras, and sessions relay candidates at set rates; reports the
 * server's memory per connection, CPU, relayed messages per second and relay latency.
 *
 * The clients are raw non-blocking sockets with a minimal RFC 6455 client, driven by one epoll
 * descriptor inside a GLib main loop: the machine has two cores and the load generator must not
 * take the server's. `--client soup` measures what a libsoup client would have cost instead
 * (connect and hello only).
 *
 * `--hold N --hold-processes P` first has P processes of bench-connect-churn --hold open N idle
 * camera connections in all (they answer pings), so that the node holds more connections
 * than one process could (this machine caps every process at 20,000 descriptors). */

#include <arpa/inet.h>
#include <errno.h>
#include <gio/gio.h>
#include <glib-unix.h>
#include <libsoup/soup.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench-util.h"

#define MAX_EVENTS 512
#define READ_CHUNK 65536
#define PHASE_TIMEOUT_S 120
#define DRAIN_TIMEOUT_S 5

typedef enum { ROLE_CAMERA, ROLE_VIEWER } Role;
typedef enum { CONN_CONNECTING, CONN_UPGRADING, CONN_OPEN, CONN_CLOSED } ConnState;

typedef struct _App App;

typedef struct {
  App *app;
  guint index;          /* cameras: 0..cameras-1 is cam-<index>; viewers after them */
  Role role;
  gint fd;
  ConnState state;
  gboolean welcomed;
  gchar *session;       /* the first session this client was told of */
  GByteArray *in;
  GByteArray *out;
  gboolean want_write;
  SoupWebsocketConnection *ws; /* --client soup only */
} Conn;

struct _App {
  gint cameras, viewers, in_flight, churn, hold, hold_processes;
  GPtrArray *holders;   /* GSubprocess: bench-connect-churn --hold */
  gdouble window_s;
  gchar *rates;
  gchar *rendezvous;
  gchar *client;

  GMainLoop *loop;
  GSubprocess *server;
  GPid server_pid;
  struct sockaddr_in address;
  guint16 port;
  gint epfd;
  GPtrArray *conns;     /* Conn */
  SoupSession *soup;

  guint to_open;        /* connections still to open in this phase */
  guint connecting;     /* opened, not yet welcomed */
  guint welcomed, sessions, answers, failed, presences;

  /* relay window */
  gboolean measuring;
  GArray *latencies_ms;
  guint64 sent, received;
  gint64 window_start_us;
  guint next_sender;
};

/* ---- the minimal WebSocket client ------------------------------------------------------- */

static void conn_handle_text (Conn *conn, const gchar *text, gsize len);

static void
conn_update_events (Conn *conn)
{
  struct epoll_event ev = { .events = EPOLLIN, .data.ptr = conn };
  gboolean want = conn->state == CONN_CONNECTING || conn->out->len > 0;

  if (want == conn->want_write)
    return;
  conn->want_write = want;
  if (want)
    ev.events |= EPOLLOUT;
  epoll_ctl (conn->app->epfd, EPOLL_CTL_MOD, conn->fd, &ev);
}

static void
conn_fail (Conn *conn, const gchar *why)
{
  App *app = conn->app;

  if (conn->state == CONN_CLOSED)
    return;
  if (!conn->welcomed) {
    app->connecting--;
    app->failed++;
    if (app->failed <= 5)
      g_printerr ("rendezvous-load: connection %u: %s\n", conn->index, why);
  }
  epoll_ctl (app->epfd, EPOLL_CTL_DEL, conn->fd, NULL);
  close (conn->fd);
  conn->state = CONN_CLOSED;
}

static void
conn_flush (Conn *conn)
{
  while (conn->out->len > 0) {
    gssize n = send (conn->fd, conn->out->data, conn->out->len, MSG_NOSIGNAL);

    if (n < 0 && (errno == EAGAIN || errno == EINTR))
      break;
    if (n < 0) {
      conn_fail (conn, g_strerror (errno));
      return;
    }
    g_byte_array_remove_range (conn->out, 0, n);
  }
  conn_update_events (conn);
}

/* A client frame: FIN, the opcode, the length and a mask. The mask is zero: the server XORs
 * with it all the same, and the payload need not be copied through it here. */
static void
conn_send_frame (Conn *conn, guint8 opcode, const gchar *payload, gsize len)
{
  guint8 header[14] = { 0x80 | opcode };
  gsize n = 2;

  if (len < 126) {
    header[1] = 0x80 | len;
  } else if (len < 65536) {
    header[1] = 0x80 | 126;
    header[2] = len >> 8;
    header[3] = len & 0xff;
    n = 4;
  } else {
    header[1] = 0x80 | 127;
    for (guint i = 0; i < 8; i++)
      header[2 + i] = (guint64) len >> (56 - 8 * i);
    n = 10;
  }
  n += 4; /* the zero masking key */
  g_byte_array_append (conn->out, header, n);
  g_byte_array_append (conn->out, (const guint8 *) payload, len);
  if (conn->state != CONN_CLOSED)
    conn_flush (conn);
}

static void
conn_send_text (Conn *conn, const gchar *text)
{
  conn_send_frame (conn, 0x1, text, strlen (text));
}

static void
conn_on_connected (Conn *conn)
{
  App *app = conn->app;
  g_autofree gchar *request = g_strdup_printf (
    "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    app->port);

  conn->state = CONN_UPGRADING;
  g_byte_array_append (conn->out, (const guint8 *) request, strlen (request));
  conn_flush (conn);
}

static gboolean
conn_parse_upgrade (Conn *conn)
{
  const gchar *data = (const gchar *) conn->in->data;
  const gchar *end = g_strstr_len (data, conn->in->len, "\r\n\r\n");
  g_autofree gchar *hello = NULL;

  if (end == NULL)
    return FALSE;
  if (conn->in->len < 12 || memcmp (data + 9, "101", 3) != 0) {
    conn_fail (conn, "the upgrade was refused");
    return FALSE;
  }
  g_byte_array_remove_range (conn->in, 0, end + 4 - data);
  conn->state = CONN_OPEN;
  if (conn->role == ROLE_CAMERA)
    hello = g_strdup_printf ("{\"type\":\"hello\",\"version\":1,\"role\":\"camera\","
                             "\"id\":\"cam-%u\"}", conn->index);
  else
    hello = g_strdup ("{\"type\":\"hello\",\"version\":1,\"role\":\"viewer\"}");
  conn_send_text (conn, hello);
  return TRUE;
}

/* Server frames are never masked; libsoup never fragments what it sends. */
static gboolean
conn_parse_frame (Conn *conn)
{
  const guint8 *d = conn->in->data;
  guint64 len;
  gsize header = 2;

  if (conn->in->len < 2)
    return FALSE;
  len = d[1] & 0x7f;
  if (len == 126) {
    if (conn->in->len < 4)
      return FALSE;
    len = (d[2] << 8) | d[3];
    header = 4;
  } else if (len == 127) {
    if (conn->in->len < 10)
      return FALSE;
    len = 0;
    for (guint i = 0; i < 8; i++)
      len = (len << 8) | d[2 + i];
    header = 10;
  }
  if (conn->in->len < header + len)
    return FALSE;
  switch (d[0] & 0x0f) {
    case 0x1:
      conn_handle_text (conn, (const gchar *) d + header, len);
      break;
    case 0x9: /* ping: the server sends one every 20 s */
      conn_send_frame (conn, 0xa, (const gchar *) d + header, len);
      break;
    case 0x8:
      conn_fail (conn, "closed by the server");
      return FALSE;
    default:
      break;
  }
  if (conn->state != CONN_CLOSED)
    g_byte_array_remove_range (conn->in, 0, header + len);
  return conn->state != CONN_CLOSED;
}

static void
conn_on_readable (Conn *conn)
{
  guint8 buf[READ_CHUNK];

  for (;;) {
    gssize n = recv (conn->fd, buf, sizeof buf, 0);

    if (n < 0 && (errno == EAGAIN || errno == EINTR))
      break;
    if (n <= 0) {
      conn_fail (conn, n == 0 ? "closed" : g_strerror (errno));
      return;
    }
    g_byte_array_append (conn->in, buf, n);
    if (n < (gssize) sizeof buf)
      break;
  }
  if (conn->state == CONN_UPGRADING && !conn_parse_upgrade (conn))
    return;
  while (conn->state == CONN_OPEN && conn_parse_frame (conn))
    ;
}

static void
conn_on_event (Conn *conn, guint32 events)
{
  if (conn->state == CONN_CONNECTING && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
    gint error = 0;
    socklen_t len = sizeof error;

    getsockopt (conn->fd, SOL_SOCKET, SO_ERROR, &error, &len);
    if (error != 0) {
      conn_fail (conn, g_strerror (error));
      return;
    }
    conn_on_connected (conn);
  }
  if (conn->state != CONN_CLOSED && (events & EPOLLOUT))
    conn_flush (conn);
  if (conn->state != CONN_CLOSED && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
    conn_on_readable (conn);
}

static Conn *
conn_new (App *app, Role role, guint index)
{
  Conn *conn = g_new0 (Conn, 1);

  conn->app = app;
  conn->role = role;
  conn->index = index;
  conn->fd = -1;
  conn->in = g_byte_array_new ();
  conn->out = g_byte_array_new ();
  return conn;
}

static void
conn_free (Conn *conn)
{
  if (conn->state != CONN_CLOSED && conn->fd >= 0)
    close (conn->fd);
  g_clear_object (&conn->ws);
  g_byte_array_unref (conn->in);
  g_byte_array_unref (conn->out);
  g_free (conn->session);
  g_free (conn);
}

static void
conn_open (Conn *conn)
{
  App *app = conn->app;
  struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.ptr = conn };
  gint one = 1;

  conn->fd = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  setsockopt (conn->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  conn->state = CONN_CONNECTING;
  conn->want_write = TRUE;
  app->connecting++;
  epoll_ctl (app->epfd, EPOLL_CTL_ADD, conn->fd, &ev);
  if (connect (conn->fd, (struct sockaddr *) &app->address, sizeof app->address) < 0 &&
      errno != EINPROGRESS)
    conn_fail (conn, g_strerror (errno));
}

static gboolean
on_epoll (gint fd, GIOCondition condition, gpointer data)
{
  App *app = data;
  struct epoll_event events[MAX_EVENTS];
  gint n = epoll_wait (app->epfd, events, MAX_EVENTS, 0);

  for (gint i = 0; i < n; i++)
    conn_on_event (events[i].data.ptr, events[i].events);
  return G_SOURCE_CONTINUE;
}

/* ---- what the clients say ----------------------------------------------------------------- */

/* The value of a string member in the server's compact JSON, e.g. "type"; NULL if absent. */
static gchar *
json_string (const gchar *text, gsize len, const gchar *member)
{
  g_autofree gchar *key = g_strdup_printf ("\"%s\":\"", member);
  const gchar *start = g_strstr_len (text, len, key);
  const gchar *end;

  if (start == NULL)
    return NULL;
  start += strlen (key);
  end = memchr (start, '"', text + len - start);
  return end ? g_strndup (start, end - start) : NULL;
}

static void
record_latency (App *app, const gchar *text, gsize len)
{
  static const gchar key[] = "\"candidate\":\"candidate:";
  const gchar *at = g_strstr_len (text, len, key);
  gdouble ms;

  if (at == NULL)
    return;
  ms = (g_get_monotonic_time () - g_ascii_strtoll (at + strlen (key), NULL, 10)) / 1000.0;
  app->received++;
  if (app->measuring)
    g_array_append_val (app->latencies_ms, ms);
}

static void
conn_handle_text (Conn *conn, const gchar *text, gsize len)
{
  App *app = conn->app;
  g_autofree gchar *type = json_string (text, MIN (len, 64), "type");

  if (type == NULL)
    return;
  if (g_str_equal (type, "candidate")) {
    record_latency (app, text, len);
  } else if (g_str_equal (type, "welcome")) {
    conn->welcomed = TRUE;
    app->welcomed++;
    app->connecting--;
    if (conn->role == ROLE_VIEWER) {
      g_autofree gchar *watch = g_strdup_printf ("{\"type\":\"watch\",\"camera\":\"cam-%u\"}",
                                                 (conn->index - app->cameras) % app->cameras);
      conn_send_text (conn, watch);
    }
  } else if (g_str_equal (type, "session") && conn->session == NULL) {
    conn->session = json_string (text, len, "session");
    app->sessions++;
  } else if (g_str_equal (type, "offer")) {
    g_autofree gchar *answer = g_strdup_printf (
      "{\"type\":\"answer\",\"session\":\"%s\",\"sdp\":\"v=0\\r\\no=- 2 2 IN IP4 0.0.0.0\\r\\n"
      "s=-\\r\\nt=0 0\\r\\nm=video 9 UDP/AVP 96\\r\\nc=IN IP4 0.0.0.0\\r\\n"
      "a=rtpmap:96 H264/90000\\r\\na=ice-ufrag:abcd\\r\\na=ice-pwd:abcdefghijklmnopqrstuvwx"
      "\\r\\na=ice-options:trickle\\r\\na=rtcp-mux\\r\\na=recvonly\\r\\n\"}", conn->session);
    conn_send_text (conn, answer);
  } else if (g_str_equal (type, "answer")) {
    app->answers++;
  } else if (g_str_equal (type, "presence")) {
    app->presences++;
  } else if (g_str_equal (type, "error")) {
    g_printerr ("rendezvous-load: error to %u: %.*s\n", conn->index, (gint) len, text);
  }
}

/* ---- phases ------------------------------------------------------------------------------- */

static gboolean
tick (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

/* Iterates the main loop until @cond holds, opening connections as the in-flight limit
 * allows, for at most @seconds. */
#define RUN_UNTIL(app, cond, seconds)                                                        \
  ({                                                                                         \
    gint64 _deadline = g_get_monotonic_time () + (gint64) ((seconds) * G_USEC_PER_SEC);     \
    while (!(cond) && g_get_monotonic_time () < _deadline) {                                 \
      open_more (app);                                                                       \
      g_main_context_iteration (NULL, TRUE);                                                 \
    }                                                                                        \
    (cond);                                                                                  \
  })

static void soup_open (Conn *conn);

static void
open_more (App *app)
{
  while (app->to_open > 0 && app->connecting < (guint) app->in_flight) {
    Conn *conn = g_ptr_array_index (app->conns, app->conns->len - app->to_open);

    app->to_open--;
    if (app->soup != NULL)
      soup_open (conn);
    else
      conn_open (conn);
  }
}

typedef struct {
  gint64 time_us;
  gdouble server_cpu, self_cpu;
  guint64 server_rss_kib, self_rss_kib;
} Snapshot;

static void
snapshot (App *app, Snapshot *s)
{
  s->time_us = g_get_monotonic_time ();
  bench_proc_cpu_seconds (app->server_pid, &s->server_cpu);
  bench_proc_rss_kib (app->server_pid, &s->server_rss_kib);
  s->self_cpu = bench_self_cpu_seconds ();
  bench_proc_rss_kib (getpid (), &s->self_rss_kib);
}

static gboolean
connect_clients (App *app, Role role, guint count, const gchar *what)
{
  guint first = app->conns->len;
  Snapshot before, after;
  gboolean ok;

  snapshot (app, &before);
  for (guint i = 0; i < count; i++)
    g_ptr_array_add (app->conns, conn_new (app, role, first + i));
  app->to_open = count;
  ok = RUN_UNTIL (app, app->welcomed + app->failed >= first + count &&
                  (role == ROLE_CAMERA || app->sessions >= 2 * (first + count - app->cameras)),
                  PHASE_TIMEOUT_S);
  snapshot (app, &after);
  printf ("rendezvous-load: %s: %u connected (%u failed) in %.2f s = %.0f/s; server rss %.1f -> "
          "%.1f MiB (%.1f KiB per connection), server cpu %.2f s (%.0f us per connection); "
          "load generator rss %.1f KiB and cpu %.0f us per connection\n",
          what, app->welcomed - first, app->failed, (after.time_us - before.time_us) / 1e6,
          count / ((after.time_us - before.time_us) / 1e6), before.server_rss_kib / 1024.0,
          after.server_rss_kib / 1024.0,
          ((gdouble) after.server_rss_kib - before.server_rss_kib) / count,
          after.server_cpu - before.server_cpu,
          (after.server_cpu - before.server_cpu) * 1e6 / count,
          ((gdouble) after.self_rss_kib - before.self_rss_kib) / count,
          (after.self_cpu - before.self_cpu) * 1e6 / count);
  fflush (stdout);
  return ok;
}

static void
send_offers (App *app)
{
  gint64 start = g_get_monotonic_time ();
  guint expected = 0;

  for (guint i = 0; i < app->conns->len; i++) {
    Conn *conn = g_ptr_array_index (app->conns, i);
    g_autofree gchar *offer = NULL;

    if (conn->role != ROLE_CAMERA || conn->session == NULL || conn->state != CONN_OPEN)
      continue;
    offer = g_strdup_printf (
      "{\"type\":\"offer\",\"session\":\"%s\",\"sdp\":\"v=0\\r\\no=- 1 2 IN IP4 0.0.0.0\\r\\n"
      "s=-\\r\\nt=0 0\\r\\nm=video 9 UDP/AVP 96\\r\\nc=IN IP4 0.0.0.0\\r\\n"
      "a=rtpmap:96 H264/90000\\r\\na=fmtp:96 packetization-mode=1;profile-level-id=42e01f\\r\\n"
      "a=ice-ufrag:Xq3b\\r\\na=ice-pwd:2nOqZ1lwqC7tS5K9aJ0h1rEe\\r\\na=ice-options:trickle\\r\\n"
      "a=rtcp-mux\\r\\na=sendonly\\r\\n\"}", conn->session);
    conn_send_text (conn, offer);
    expected++;
  }
  RUN_UNTIL (app, app->answers >= expected, PHASE_TIMEOUT_S);
  printf ("rendezvous-load: offer/answer: %u of %u sessions in %.2f s\n", app->answers, expected,
          (g_get_monotonic_time () - start) / 1e6);
  fflush (stdout);
}

/* Every millisecond during a window: the candidates that are due at @rate, round robin over the
 * sessions, every other one from the viewer's end. */
static void
send_due (App *app, gdouble rate)
{
  guint64 due = (guint64) ((g_get_monotonic_time () - app->window_start_us) / 1e6 * rate);
  guint n = app->conns->len;

  for (guint tries = 0; app->sent < due && tries < 4 * n; tries++) {
    Conn *conn = g_ptr_array_index (app->conns, app->next_sender++ % n);
    g_autofree gchar *msg = NULL;

    if (conn->session == NULL || conn->state != CONN_OPEN)
      continue;
    msg = g_strdup_printf ("{\"type\":\"candidate\",\"session\":\"%s\",\"candidate\":"
                           "\"candidate:%" G_GINT64_FORMAT " 1 UDP 2013266431 127.0.0.1 9 typ "
                           "host\"}", conn->session, g_get_monotonic_time ());
    conn_send_text (conn, msg);
    app->sent++;
  }
}

static void
relay_window (App *app, gdouble rate)
{
  Snapshot before, after;
  guint64 received_in_window;
  gdouble seconds, p50, p99;
  gboolean drained;

  app->sent = app->received = 0;
  g_array_set_size (app->latencies_ms, 0);
  app->measuring = TRUE;
  snapshot (app, &before);
  app->window_start_us = before.time_us;
  while (g_get_monotonic_time () < before.time_us + (gint64) (app->window_s * G_USEC_PER_SEC)) {
    send_due (app, rate);
    g_main_context_iteration (NULL, TRUE);
  }
  received_in_window = app->received;
  snapshot (app, &after);
  seconds = (after.time_us - before.time_us) / 1e6;
  drained = RUN_UNTIL (app, app->received >= app->sent, DRAIN_TIMEOUT_S);
  app->measuring = FALSE;
  p50 = bench_percentile (app->latencies_ms, 50);
  p99 = bench_percentile (app->latencies_ms, 99);
  printf ("rendezvous-load: relay rate=%.0f sent=%" G_GUINT64_FORMAT " relayed_per_s=%.0f "
          "p50_ms=%.2f p99_ms=%.2f max_ms=%.1f lost=%" G_GUINT64_FORMAT " server_cpu=%.0f%% "
          "server_us_per_msg=%.1f loadgen_cpu=%.0f%%%s\n",
          rate, app->sent, received_in_window / seconds, p50, p99,
          bench_percentile (app->latencies_ms, 100), app->sent - app->received,
          (after.server_cpu - before.server_cpu) * 100 / seconds,
          (after.server_cpu - before.server_cpu) * 1e6 / MAX (received_in_window, 1),
          (after.self_cpu - before.self_cpu) * 100 / seconds,
          drained ? "" : " (not drained)");
  fflush (stdout);
}

/* Cameras leaving and coming back while the viewers are online: each change sends every viewer
 * a new presence list. */
static void
camera_churn (App *app)
{
  guint presences = app->presences, welcomed = app->welcomed, viewers = 0;
  Snapshot before, after;

  for (guint i = 0; i < app->conns->len; i++)
    viewers += ((Conn *) g_ptr_array_index (app->conns, i))->role == ROLE_VIEWER;
  snapshot (app, &before);
  for (gint i = 0; i < app->churn; i++) {
    Conn *old = g_ptr_array_index (app->conns, app->cameras - 1 - i); /* no session */
    Conn *fresh = conn_new (app, ROLE_CAMERA, old->index);

    conn_fail (old, "churn");
    g_ptr_array_add (app->conns, fresh);
  }
  RUN_UNTIL (app, app->presences >= presences + app->churn * viewers, PHASE_TIMEOUT_S);
  app->to_open = app->churn;
  RUN_UNTIL (app, app->presences >= presences + 2 * app->churn * viewers &&
             app->welcomed >= welcomed + app->churn, PHASE_TIMEOUT_S);
  snapshot (app, &after);
  printf ("rendezvous-load: churn: %d cameras left and came back with %u viewers online: %.2f s, "
          "server cpu %.2f s = %.1f ms per camera change, %u presence messages\n", app->churn,
          viewers, (after.time_us - before.time_us) / 1e6, after.server_cpu - before.server_cpu,
          (after.server_cpu - before.server_cpu) * 1000 / (2 * app->churn),
          app->presences - presences);
}

/* ---- the libsoup client, for comparison --------------------------------------------------- */

static void
on_soup_message (SoupWebsocketConnection *ws, gint type, GBytes *message, Conn *conn)
{
  gsize len;
  const gchar *text = g_bytes_get_data (message, &len);

  conn_handle_text (conn, text, len);
}

static void
soup_connected_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  Conn *conn = data;
  g_autoptr (GError) error = NULL;
  g_autofree gchar *hello = NULL;

  conn->ws = soup_session_websocket_connect_finish (SOUP_SESSION (source), result, &error);
  if (conn->ws == NULL) {
    conn->app->connecting--;
    conn->app->failed++;
    return;
  }
  g_signal_connect (conn->ws, "message", G_CALLBACK (on_soup_message), conn);
  hello = g_strdup_printf ("{\"type\":\"hello\",\"version\":1,\"role\":\"camera\","
                           "\"id\":\"cam-%u\"}", conn->index);
  soup_websocket_connection_send_text (conn->ws, hello);
}

static void
soup_open (Conn *conn)
{
  App *app = conn->app;
  g_autofree gchar *url = g_strdup_printf ("ws://127.0.0.1:%u/ws", app->port);
  g_autoptr (SoupMessage) msg = soup_message_new (SOUP_METHOD_GET, url);

  conn->state = CONN_CLOSED; /* the raw client's state is not used */
  app->connecting++;
  soup_session_websocket_connect_async (app->soup, msg, NULL, NULL, G_PRIORITY_DEFAULT, NULL,
                                        soup_connected_cb, conn);
}

/* ---- main --------------------------------------------------------------------------------- */

/* The server must not outlive us, however we end. */
static void
die_with_parent (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGTERM);
}

static gboolean
start_server (App *app, GError **error)
{
  g_autoptr (GSubprocessLauncher) launcher =
    g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_autofree gchar *log = g_strdup_printf ("%s/bench-rendezvous-load-%d.log", g_get_tmp_dir (),
                                           getpid ());
  g_autoptr (GDataInputStream) out = NULL;
  g_autofree gchar *line = NULL;
  const gchar *at;

  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  g_subprocess_launcher_set_stderr_file_path (launcher, log);
  /* Every client comes from 127.0.0.1 and relays as fast as asked: no per-client limits. */
  /* With --hold, thousands of holders connect before they answer any ping: on a loaded
   * machine that can take longer than the default silence limit (60 s). */
  app->server = g_subprocess_launcher_spawn (launcher, error, app->rendezvous, "--listen",
                                             "127.0.0.1:0", "--stun-listen", "none",
                                             "--max-connections-per-address", "0",
                                             "--message-rate", "0", "--silence-limit",
                                             app->hold > 0 ? "600" : "60", NULL);
  if (app->server == NULL)
    return FALSE;
  app->server_pid = atoi (g_subprocess_get_identifier (app->server));
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (app->server));
  line = g_data_input_stream_read_line (out, NULL, NULL, error);
  if (line == NULL || (at = strstr (line, "ws://127.0.0.1:")) == NULL) {
    if (error != NULL && *error == NULL)
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "no 'listening' line from %s",
                   app->rendezvous);
    return FALSE;
  }
  app->port = atoi (at + strlen ("ws://127.0.0.1:"));
  app->address.sin_family = AF_INET;
  app->address.sin_port = htons (app->port);
  app->address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  printf ("rendezvous-load: server pid %d on port %u, its log in %s\n", app->server_pid,
          app->port, log);
  fflush (stdout);
  return TRUE;
}

/* --hold: idle cameras in other processes, before this one's clients. */
static gboolean
start_holders (App *app, GError **error)
{
  Snapshot before, after;

  snapshot (app, &before);
  app->holders = g_ptr_array_new_with_free_func (g_object_unref);
  for (gint i = 0; i < app->hold_processes; i++) {
    g_autoptr (GSubprocessLauncher) launcher =
      g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
    g_autofree gchar *port = g_strdup_printf ("%u", app->port);
    g_autofree gchar *count = g_strdup_printf ("%d", app->hold / app->hold_processes);
    g_autofree gchar *tag = g_strdup_printf ("hold%d", i);
    GSubprocess *holder;

    g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
    holder = g_subprocess_launcher_spawn (launcher, error, CHURN_PATH, "--port", port,
                                          "--connections", count, "--threads", "8", "--hold",
                                          "--tag", tag, NULL);
    if (holder == NULL)
      return FALSE;
    g_ptr_array_add (app->holders, holder);
  }
  for (guint i = 0; i < app->holders->len; i++) {
    g_autoptr (GDataInputStream) out =
      g_data_input_stream_new (g_subprocess_get_stdout_pipe (app->holders->pdata[i]));
    gchar *line;

    while ((line = g_data_input_stream_read_line (out, NULL, NULL, error)) != NULL) {
      gboolean holding = g_str_has_prefix (line, "holding ");

      g_print ("rendezvous-load: %s\n", line);
      g_free (line);
      if (holding)
        break;
    }
    if (line == NULL) {
      if (error != NULL && *error == NULL)
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "a holder ended early");
      return FALSE;
    }
  }
  snapshot (app, &after);
  printf ("rendezvous-load: %d idle cameras held by %d processes in %.2f s; server rss %.1f -> "
          "%.1f MiB (%.2f KiB per connection), server cpu %.2f s (%.0f us per connection)\n",
          app->hold, app->hold_processes, (after.time_us - before.time_us) / 1e6,
          before.server_rss_kib / 1024.0, after.server_rss_kib / 1024.0,
          ((gdouble) after.server_rss_kib - before.server_rss_kib) / app->hold,
          after.server_cpu - before.server_cpu,
          (after.server_cpu - before.server_cpu) * 1e6 / app->hold);
  /* What holding costs when nothing happens but pings: 10 s idle. */
  snapshot (app, &before);
  g_usleep (10 * G_USEC_PER_SEC);
  snapshot (app, &after);
  printf ("rendezvous-load: idle with %d held: server cpu %.1f %% of a core over 10 s "
          "(%.2f us/s per connection), rss %.1f MiB\n", app->hold,
          (after.server_cpu - before.server_cpu) * 100 / 10.0,
          (after.server_cpu - before.server_cpu) * 1e6 / 10.0 / app->hold,
          after.server_rss_kib / 1024.0);
  fflush (stdout);
  return TRUE;
}

static gboolean
parse_options (App *app, int *argc, char ***argv, GError **error)
{
  GOptionEntry entries[] = {
    { "cameras", 'c', 0, G_OPTION_ARG_INT, &app->cameras, "Camera connections (9000)", "N" },
    { "viewers", 'v', 0, G_OPTION_ARG_INT, &app->viewers,
      "Viewer connections, each watching one camera: the sessions (1000)", "N" },
    { "in-flight", 0, 0, G_OPTION_ARG_INT, &app->in_flight,
      "Connections being set up at once (8; more overflow the server's listen backlog)", "N" },
    { "rates", 0, 0, G_OPTION_ARG_STRING, &app->rates,
      "Relay rates to try, messages per second (1000,2000,5000,10000,20000)", "LIST" },
    { "window", 0, 0, G_OPTION_ARG_DOUBLE, &app->window_s, "Seconds per rate (5)", "S" },
    { "churn", 0, 0, G_OPTION_ARG_INT, &app->churn,
      "Cameras that leave and come back with the viewers online (5)", "N" },
    { "rendezvous", 0, 0, G_OPTION_ARG_FILENAME, &app->rendezvous,
      "The icecam-rendezvous to start", "PATH" },
    { "client", 0, 0, G_OPTION_ARG_STRING, &app->client,
      "raw (default), or soup: libsoup clients, cameras only, to compare their cost", "KIND" },
    { "hold", 0, 0, G_OPTION_ARG_INT, &app->hold,
      "Idle camera connections held by other processes first (0)", "N" },
    { "hold-processes", 0, 0, G_OPTION_ARG_INT, &app->hold_processes,
      "Processes that hold them (4)", "P" },
    { NULL }
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("- load on icecam-rendezvous");

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, argc, argv, error))
    return FALSE;
  if (app->cameras < 1 || app->viewers < 0 || app->viewers > app->cameras ||
      app->in_flight < 1 || app->churn < 0 || app->churn > app->cameras - app->viewers ||
      app->hold < 0 || app->hold_processes < 1) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 "need 0 <= viewers <= cameras, churn <= cameras - viewers");
    return FALSE;
  }
  return TRUE;
}

int
main (int argc, char **argv)
{
  App app = { .cameras = 9000, .viewers = 1000, .in_flight = 8, .window_s = 5, .churn = 5,
              .hold_processes = 4 };
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) rates = NULL;

  if (!parse_options (&app, &argc, &argv, &error)) {
    g_printerr ("bench-rendezvous-load: %s\n", error->message);
    return 2;
  }
  if (app.rendezvous == NULL)
    app.rendezvous = g_strdup (RENDEZVOUS_PATH);
  bench_raise_fd_limit ();
  if (!start_server (&app, &error)) {
    g_printerr ("bench-rendezvous-load: %s\n", error->message);
    return 1;
  }
  if (app.hold > 0 && !start_holders (&app, &error)) {
    g_printerr ("bench-rendezvous-load: %s\n", error->message);
    g_subprocess_force_exit (app.server);
    return 1;
  }
  app.loop = g_main_loop_new (NULL, FALSE);
  app.conns = g_ptr_array_new_with_free_func ((GDestroyNotify) conn_free);
  app.latencies_ms = g_array_new (FALSE, FALSE, sizeof (gdouble));
  app.epfd = epoll_create1 (EPOLL_CLOEXEC);
  g_unix_fd_add (app.epfd, G_IO_IN, on_epoll, &app);
  g_timeout_add (1, tick, NULL); /* wakes the loop for the paced sends and the conditions */

  if (g_strcmp0 (app.client, "soup") == 0) {
    app.soup = soup_session_new_with_options ("max-conns", G_MAXINT, "max-conns-per-host",
                                              G_MAXINT, "proxy-resolver", NULL, NULL);
    connect_clients (&app, ROLE_CAMERA, app.cameras, "cameras (libsoup clients)");
  } else if (connect_clients (&app, ROLE_CAMERA, app.cameras, "cameras") &&
             connect_clients (&app, ROLE_VIEWER, app.viewers, "viewers + watch")) {
    send_offers (&app);
    rates = g_strsplit (app.rates ? app.rates : "1000,2000,5000,10000,20000", ",", 0);
    for (guint i = 0; rates[i] != NULL; i++)
      relay_window (&app, g_ascii_strtod (rates[i], NULL));
    if (app.churn > 0)
      camera_churn (&app);
  }

  /* Killed before the clients go: thousands of cameras leaving at once would keep it busy
   * (see the churn figure) and SIGTERM waits for its main loop. */
  g_subprocess_force_exit (app.server);
  for (guint i = 0; app.holders != NULL && i < app.holders->len; i++)
    g_subprocess_force_exit (app.holders->pdata[i]);
  g_clear_pointer (&app.holders, g_ptr_array_unref);
  g_ptr_array_unref (app.conns);
  g_clear_object (&app.soup);
  g_subprocess_wait (app.server, NULL, NULL);
  g_object_unref (app.server);
  close (app.epfd);
  g_array_unref (app.latencies_ms);
  g_main_loop_unref (app.loop);
  g_free (app.rates);
  g_free (app.rendezvous);
  g_free (app.client);
  return 0;
}
