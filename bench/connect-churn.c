/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Connects and disconnects, as fast as it can: each thread opens a TCP connection to a
 * rendezvous, upgrades it to a WebSocket, says hello as a camera of its own, waits for the
 * welcome and goes; every 16th connection asks for /healthz instead. The ways to go take
 * turns: a plain close, a WebSocket close frame and then close, a reset (SO_LINGER 0), and a
 * close right after the upgrade's 101 without a hello. bench/churn.sh runs several of these
 * against one rendezvous and watches its memory.
 *
 *   bench-connect-churn --port PORT --connections N [--threads T] [--tag NAME]
 *
 * Blocking sockets, one per thread at a time: simple, and several processes of it keep a
 * rendezvous busy on one core. Prints the connections made, failures and the rate.
 *
 * With --hold the connections stay: once all said hello it prints "holding N" and answers
 * the server's pings until it is killed (idle cameras for bench-rendezvous-load --hold). */

#include <arpa/inet.h>
#include <errno.h>
#include <glib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

typedef struct {
  guint16 port;
  gint connections;
  gint threads;
  gchar *tag;
  gboolean hold;
  gint hold_seconds;  /* 0: for ever */
  GMutex lock;
  GArray *held; /* fds, under lock */
  gint next;   /* atomic: the next connection's number */
  gint done;   /* atomic */
  gint failed; /* atomic */
} Churn;

static gboolean
send_all (gint fd, const gchar *data, gsize len)
{
  while (len > 0) {
    gssize n = send (fd, data, len, MSG_NOSIGNAL);

    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return FALSE;
    data += n;
    len -= (gsize) n;
  }
  return TRUE;
}

/* Reads until @needle is in what was read (or the peer closes, or 10 s pass). */
static gboolean
read_until (gint fd, GString *in, const gchar *needle)
{
  while (strstr (in->str, needle) == NULL) {
    gchar buffer[4096];
    gssize n = recv (fd, buffer, sizeof buffer - 1, 0);

    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return FALSE;
    /* Frames carry no NUL here (text and the 2-byte headers of short frames); keep it a
     * string by replacing any. */
    for (gssize i = 0; i < n; i++)
      if (buffer[i] == '\0')
        buffer[i] = ' ';
    g_string_append_len (in, buffer, n);
  }
  return TRUE;
}

static void
send_frame (gint fd, guint8 opcode, const gchar *payload, gsize len)
{
  guint8 frame[256] = { 0x80 | opcode, 0x80 | (guint8) len, 0, 0, 0, 0 };

  g_assert (len < 126);
  memcpy (frame + 6, payload, len); /* mask zero: the payload as it is */
  send_all (fd, (const gchar *) frame, 6 + len);
}

static gboolean
one_connection (Churn *churn, gint number)
{
  struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons (churn->port) };
  struct timeval timeout = { .tv_sec = 10 };
  g_autoptr (GString) in = g_string_new (NULL);
  gboolean ok = FALSE;
  gint way = number % 4;
  gint fd;

  address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return FALSE;
  setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  if (connect (fd, (struct sockaddr *) &address, sizeof address) != 0)
    goto out;
  if (number % 16 == 15 && !churn->hold) {
    static const gchar request[] = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

    ok = send_all (fd, request, sizeof request - 1) && read_until (fd, in, "\r\n\r\n") &&
      strncmp (in->str, "HTTP/1.1 200", 12) == 0;
    goto out;
  } else {
    g_autofree gchar *request = g_strdup_printf (
      "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
      churn->port);
    g_autofree gchar *hello = g_strdup_printf (
      "{\"type\":\"hello\",\"version\":1,\"role\":\"camera\",\"id\":\"%s-%d\"}", churn->tag,
      number);

    if (!send_all (fd, request, strlen (request)) || !read_until (fd, in, "\r\n\r\n") ||
        strncmp (in->str, "HTTP/1.1 101", 12) != 0)
      goto out;
    if (way == 3 && !churn->hold) {
      ok = TRUE; /* gone right after the upgrade */
      goto out;
    }
    send_frame (fd, 0x1, hello, strlen (hello));
    if (!read_until (fd, in, "\"welcome\""))
      goto out;
    ok = TRUE;
    if (churn->hold) {
      /* stays */
    } else if (way == 1) {
      send_frame (fd, 0x8, "\x03\xe8", 2);
    } else if (way == 2) {
      struct linger linger = { .l_onoff = 1, .l_linger = 0 };

      setsockopt (fd, SOL_SOCKET, SO_LINGER, &linger, sizeof linger);
    }
  }
out:
  if (ok && churn->hold) {
    struct timeval none = { 0 };

    setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof none);
    g_mutex_lock (&churn->lock);
    g_array_append_val (churn->held, fd);
    g_mutex_unlock (&churn->lock);
    return TRUE;
  }
  close (fd);
  return ok;
}

static gpointer
run_thread (gpointer data)
{
  Churn *churn = data;

  for (;;) {
    gint number = g_atomic_int_add (&churn->next, 1);

    if (number >= churn->connections)
      break;
    if (one_connection (churn, number))
      g_atomic_int_inc (&churn->done);
    else if (g_atomic_int_add (&churn->failed, 1) < 5)
      g_printerr ("connect-churn: connection %d failed\n", number);
  }
  return NULL;
}

/* The most of @times (sorted, µs) that fall within any @window_us. */
static guint
most_within (GArray *times, gint64 window_us)
{
  guint most = 0;

  for (guint first = 0, last = 0; last < times->len; last++) {
    while (g_array_index (times, gint64, last) - g_array_index (times, gint64, first) >= window_us)
      first++;
    most = MAX (most, last - first + 1);
  }
  return most;
}

static gint
compare_times (gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;

  return x < y ? -1 : x > y;
}

/* Answers pings (and only reads otherwise) on the held connections, for ever or
 * --hold-seconds; then says how the pings came after the first 2 s (those read at first had
 * waited in the sockets): how many at most within 10 ms, 100 ms and 1 s. */
static void
hold_connections (Churn *churn)
{
  gint epfd = epoll_create1 (EPOLL_CLOEXEC);
  GByteArray **in = g_new0 (GByteArray *, 1 << 20);
  g_autoptr (GArray) pings = g_array_new (FALSE, FALSE, sizeof (gint64));
  gint64 start = g_get_monotonic_time ();
  gint64 end = churn->hold_seconds > 0
    ? g_get_monotonic_time () + churn->hold_seconds * G_USEC_PER_SEC : G_MAXINT64;

  for (guint i = 0; i < churn->held->len; i++) {
    gint fd = g_array_index (churn->held, gint, i);
    struct epoll_event event = { .events = EPOLLIN, .data.fd = fd };

    epoll_ctl (epfd, EPOLL_CTL_ADD, fd, &event);
  }
  for (;;) {
    struct epoll_event events[256];
    gint64 now = g_get_monotonic_time ();
    gint n;

    if (now >= end)
      break;
    n = epoll_wait (epfd, events, G_N_ELEMENTS (events),
                    end == G_MAXINT64 ? -1 : (gint) ((end - now) / 1000 + 1));

    for (gint e = 0; e < n; e++) {
      gint fd = events[e].data.fd;
      guint8 buffer[4096];
      gssize got = recv (fd, buffer, sizeof buffer, 0);
      GByteArray *data;

      if (got <= 0 || fd >= (1 << 20)) {
        close (fd);
        continue;
      }
      if (in[fd] == NULL)
        in[fd] = g_byte_array_new ();
      data = g_byte_array_append (in[fd], buffer, got);
      /* Whole frames from the server (unmasked; short: pings, small messages). */
      while (data->len >= 2) {
        guint64 length = data->data[1] & 0x7f;
        gsize header = 2;

        if (length == 126) {
          if (data->len < 4)
            break;
          length = ((guint64) data->data[2] << 8) | data->data[3];
          header = 4;
        } else if (length == 127) {
          if (data->len < 10)
            break;
          length = 0;
          for (guint i = 0; i < 8; i++)
            length = (length << 8) | data->data[2 + i];
          header = 10;
        }
        if (data->len < header + length)
          break;
        if ((data->data[0] & 0x0f) == 0x9 && length < 126) {
          gint64 at = g_get_monotonic_time ();

          /* Not the pings that waited in the sockets while the others were connecting. */
          if (at >= start + 2 * G_USEC_PER_SEC)
            g_array_append_val (pings, at);
          send_frame (fd, 0xA, (const gchar *) data->data + header, (gsize) length);
        }
        g_byte_array_remove_range (data, 0, (guint) (header + length));
      }
    }
  }
  g_array_sort (pings, compare_times);
  printf ("connect-churn %s: %u connections held %d s: %u pings after the first 2 s, at most %u within 10 ms, "
          "%u within 100 ms, %u within 1 s\n", churn->tag, churn->held->len,
          churn->hold_seconds, pings->len, most_within (pings, 10000),
          most_within (pings, 100000), most_within (pings, 1000000));
}

int
main (int argc, char **argv)
{
  Churn churn = { .connections = 10000, .threads = 4 };
  gint port = 0;
  GOptionEntry entries[] = {
    { "port", 'p', 0, G_OPTION_ARG_INT, &port, "The rendezvous's port on 127.0.0.1", "PORT" },
    { "connections", 'n', 0, G_OPTION_ARG_INT, &churn.connections, "Connections (10000)",
      "N" },
    { "threads", 't', 0, G_OPTION_ARG_INT, &churn.threads, "Connections at once (4)", "T" },
    { "tag", 0, 0, G_OPTION_ARG_STRING, &churn.tag, "Camera ids are TAG-<n> (churn-<pid>)",
      "NAME" },
    { "hold", 0, 0, G_OPTION_ARG_NONE, &churn.hold,
      "Keep the connections, answer pings until killed", NULL },
    { "hold-seconds", 0, 0, G_OPTION_ARG_INT, &churn.hold_seconds,
      "With --hold: stop after S seconds and report how the pings came", "S" },
    { NULL }
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("- connect and disconnect");
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) threads = g_ptr_array_new ();
  gint64 start;
  gdouble seconds;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error)) {
    g_printerr ("connect-churn: %s\n", error->message);
    return 2;
  }
  if (port < 1 || port > 65535 || churn.connections < 1 || churn.threads < 1) {
    g_printerr ("connect-churn: need --port 1..65535, --connections >= 1, --threads >= 1\n");
    return 2;
  }
  churn.port = (guint16) port;
  churn.held = g_array_new (FALSE, FALSE, sizeof (gint));
  if (churn.tag == NULL)
    churn.tag = g_strdup_printf ("churn-%d", (gint) getpid ());
  start = g_get_monotonic_time ();
  for (gint i = 0; i < churn.threads; i++)
    g_ptr_array_add (threads, g_thread_new ("churn", run_thread, &churn));
  for (guint i = 0; i < threads->len; i++)
    g_thread_join (threads->pdata[i]);
  seconds = (g_get_monotonic_time () - start) / 1e6;
  printf ("connect-churn %s: %d connections, %d failed, %.1f s, %.0f/s\n", churn.tag,
          churn.done, churn.failed, seconds, churn.connections / seconds);
  if (churn.hold) {
    printf ("holding %u\n", churn.held->len);
    fflush (stdout);
    hold_connections (&churn);
  }
  g_free (churn.tag);
  return churn.failed > 0 ? 1 : 0;
}
