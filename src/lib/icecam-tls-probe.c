/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Whether a server a wss:// URL names answers plain HTTP instead of TLS: a TLS ClientHello
 * sent to a plain HTTP server is an unfinished request line to it, and it waits for the rest
 * until its own timeout, so the TLS handshake alone says nothing for seconds. */

#include "icecam-tls-probe.h"

#include <string.h>

#define REQUEST "HEAD / HTTP/1.0\r\n\r\n"
#define ANSWER_PREFIX "HTTP/"

typedef struct {
  GSocketConnection *connection;
  gchar answer[512];
} Probe;

/* A plain HTTP answer, and not the one a TLS proxy gives a plain request on its TLS port
 * (nginx: "400 The plain HTTP request was sent to HTTPS port"). */
static gboolean
is_plain_http_answer (const gchar *answer, gsize length)
{
  g_autofree gchar *text = NULL;

  if (length < strlen (ANSWER_PREFIX) ||
      memcmp (answer, ANSWER_PREFIX, strlen (ANSWER_PREFIX)) != 0)
    return FALSE;
  text = g_ascii_strdown (answer, (gssize) length);
  return strstr (text, "https") == NULL && strstr (text, "tls") == NULL &&
         strstr (text, "ssl") == NULL;
}

static void
probe_free (Probe *probe)
{
  if (probe->connection != NULL)
    g_io_stream_close (G_IO_STREAM (probe->connection), NULL, NULL);
  g_clear_object (&probe->connection);
  g_free (probe);
}

static void
read_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  Probe *probe = g_task_get_task_data (task);
  GError *error = NULL;
  gssize read = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);

  if (read < 0) {
    g_task_return_error (task, error);
    return;
  }
  g_task_return_boolean (task, is_plain_http_answer (probe->answer, (gsize) read));
}

static void
write_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  Probe *probe = g_task_get_task_data (task);
  GError *error = NULL;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error)) {
    g_task_return_error (task, error);
    return;
  }
  /* The first segment back holds the status line (a whole HEAD answer, as a rule). */
  g_input_stream_read_async (g_io_stream_get_input_stream (G_IO_STREAM (probe->connection)),
                             probe->answer, sizeof probe->answer, G_PRIORITY_DEFAULT,
                             g_task_get_cancellable (task), read_done_cb, g_object_ref (task));
}

static void
connect_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  Probe *probe = g_task_get_task_data (task);
  GError *error = NULL;

  probe->connection = g_socket_client_connect_to_host_finish (G_SOCKET_CLIENT (source), result,
                                                              &error);
  if (probe->connection == NULL) {
    g_task_return_error (task, error);
    return;
  }
  g_output_stream_write_all_async (
    g_io_stream_get_output_stream (G_IO_STREAM (probe->connection)), REQUEST,
    strlen (REQUEST), G_PRIORITY_DEFAULT, g_task_get_cancellable (task), write_done_cb,
    g_object_ref (task));
}

/**
 * icecam_tls_probe_plain_http_async:
 * @host: the server's host
 * @port: its port
 * @cancellable: (nullable): stops the probe (a server that answers nothing keeps it waiting)
 *
 * Opens a plain TCP connection, sends a HEAD request and reads the first bytes back. A TLS
 * server refuses the request, or (a TLS proxy) answers that it wants TLS; a plain HTTP server
 * answers "HTTP/". The callback runs in the thread-default main context of the caller.
 */
void
icecam_tls_probe_plain_http_async (const gchar *host, guint16 port, GCancellable *cancellable,
                                   GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);

  g_task_set_source_tag (task, icecam_tls_probe_plain_http_async);
  g_task_set_task_data (task, g_new0 (Probe, 1), (GDestroyNotify) probe_free);
  g_socket_client_connect_to_host_async (client, host, port, cancellable, connect_done_cb, task);
}

/**
 * icecam_tls_probe_plain_http_finish:
 *
 * Returns: %TRUE when the server answered plain HTTP; %FALSE otherwise (@error set when the
 *   probe could not run to the end: refused, reset, cancelled)
 */
gboolean
icecam_tls_probe_plain_http_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}
