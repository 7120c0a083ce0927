/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The Redis master of a cluster found through Redis Sentinel: before every (re)connection the
 * node asks the sentinels in turn `SENTINEL get-master-addr-by-name`, then connects its two links
 * to that address; icecam-cluster.c checks there that `ROLE` says master. */

#include "icecam-cluster-private.h"

#include <string.h>

/* A sentinel that connected but has not answered by then is given up on (µs). */
#define SENTINEL_ANSWER_TIMEOUT (2 * G_USEC_PER_SEC)

/* "HOST:PORT" or "[V6]:PORT". */
static gboolean
parse_host_port (const gchar *text, gchar **host, guint *port)
{
  const gchar *colon = strrchr (text, ':');
  guint64 number;

  if (colon == NULL || colon == text ||
      !g_ascii_string_to_unsigned (colon + 1, 10, 1, 65535, &number, NULL))
    return FALSE;
  if (text[0] == '[') {
    if (colon[-1] != ']' || colon - text < 3)
      return FALSE;
    *host = g_strndup (text + 1, colon - text - 2);
  } else {
    *host = g_strndup (text, colon - text);
    if (strchr (*host, '[') != NULL || strchr (*host, ']') != NULL) {
      g_clear_pointer (host, g_free);
      return FALSE;
    }
  }
  *port = (guint) number;
  return TRUE;
}

/**
 * cluster_parse_sentinel_url:
 * @url: `redis-sentinel://HOST:PORT[,HOST:PORT...]/MASTERNAME[/DB]`
 * @hosts: (out) (optional): the sentinels' hosts
 * @ports: (out) (optional): their ports, as many as @hosts
 * @master: (out) (optional): the master's name the sentinels monitor
 * @db: (out) (optional): the database number, 0 if none
 * @error: where to say what is wrong with @url
 *
 * Returns: %TRUE if @url is such a URL
 */
gboolean
cluster_parse_sentinel_url (const gchar *url, GStrv *hosts, guint **ports, gchar **master,
                            guint *db, GError **error)
{
  static const gchar scheme[] = "redis-sentinel://";
  g_auto (GStrv) path = NULL;
  g_auto (GStrv) addresses = NULL;
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  g_autofree guint *numbers = NULL;
  const gchar *rest;
  const gchar *slash;
  guint64 number = 0;
  guint n;

  if (!g_str_has_prefix (url, scheme) || (slash = strchr (url + strlen (scheme), '/')) == NULL)
    goto bad;
  rest = url + strlen (scheme);
  {
    g_autofree gchar *authority = g_strndup (rest, slash - rest);

    addresses = g_strsplit (authority, ",", -1);
  }
  n = g_strv_length (addresses);
  if (n == 0 || n > 16)
    goto bad;
  numbers = g_new0 (guint, n);
  for (guint i = 0; i < n; i++) {
    g_autofree gchar *host = NULL;

    if (!parse_host_port (addresses[i], &host, &numbers[i]))
      goto bad;
    g_strv_builder_add (builder, host);
  }
  path = g_strsplit (slash + 1, "/", -1);
  if (path[0] == NULL || path[0][0] == '\0' || strpbrk (path[0], " ?#%\"\\") != NULL ||
      (path[1] != NULL && path[2] != NULL))
    goto bad;
  if (path[1] != NULL && !g_ascii_string_to_unsigned (path[1], 10, 0, 15, &number, NULL)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                 "'%s': the database must be a number from 0 to 15", url);
    return FALSE;
  }
  if (hosts != NULL)
    *hosts = g_strv_builder_end (builder);
  if (ports != NULL)
    *ports = g_steal_pointer (&numbers);
  if (master != NULL)
    *master = g_strdup (path[0]);
  if (db != NULL)
    *db = (guint) number;
  return TRUE;

bad:
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
               "'%s' is not a redis-sentinel://HOST:PORT[,HOST:PORT...]/MASTERNAME[/DB] URL",
               url);
  return FALSE;
}

static void sentinel_ask (IcecamCluster *self);

/* The query to the current sentinel is over, answered or not. */
static void
sentinel_finish (IcecamCluster *self)
{
  ClusterLink *link = self->sentinel;
  guint n = g_strv_length (self->sentinel_hosts);

  cluster_link_forget (link);
  if (self->disposed)
    return;
  if (self->sentinel_answered) {
    self->sentinel_tries = 0;
    cluster_connect_master (self);
    return;
  }
  /* The next sentinel at once; once all failed, again at the next tick. */
  self->sentinel_next = (self->sentinel_next + 1) % n;
  if (++self->sentinel_tries < n)
    sentinel_ask (self);
  else
    self->sentinel_tries = 0;
}

static void
on_sentinel_reply (redisAsyncContext *ac, void *data, void *privdata)
{
  IcecamCluster *self = privdata;
  redisReply *reply = data;
  const gchar *host = self->sentinel_hosts[self->sentinel_next];
  guint port = self->sentinel_ports[self->sentinel_next];
  guint64 number;

  if (reply == NULL || self->disposed)
    return;
  if (reply->type == REDIS_REPLY_NIL) {
    g_warning ("cluster: sentinel %s:%u knows no master named '%s'", host, port,
               self->master_name);
  } else if (reply->type == REDIS_REPLY_ERROR) {
    g_warning ("cluster: sentinel %s:%u refused: %s", host, port, reply->str);
  } else if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
             reply->element[0]->type != REDIS_REPLY_STRING ||
             reply->element[1]->type != REDIS_REPLY_STRING ||
             reply->element[0]->len == 0 ||
             strlen (reply->element[0]->str) != reply->element[0]->len ||
             !g_ascii_string_to_unsigned (reply->element[1]->str, 10, 1, 65535, &number, NULL)) {
    g_warning ("cluster: ignoring sentinel %s:%u: its answer is not [host, port]", host, port);
  } else {
    if (g_strcmp0 (self->host, reply->element[0]->str) != 0 || self->port != number)
      g_message ("cluster: sentinel %s:%u says master '%s' is %s:%u", host, port,
                 self->master_name, reply->element[0]->str, (guint) number);
    g_free (self->host);
    self->host = g_strdup (reply->element[0]->str);
    self->port = (guint) number;
    self->sentinel_answered = TRUE;
  }
  redisAsyncDisconnect (ac);
}

static void
on_sentinel_connect (const redisAsyncContext *ac, int status)
{
  ClusterLink *link = ac->data;

  if (link == NULL || status == REDIS_OK)
    return;
  g_info ("cluster: sentinel %s:%u unreachable: %s",
          link->cluster->sentinel_hosts[link->cluster->sentinel_next],
          link->cluster->sentinel_ports[link->cluster->sentinel_next], ac->errstr);
  sentinel_finish (link->cluster);
}

static void
on_sentinel_disconnect (const redisAsyncContext *ac, int status)
{
  ClusterLink *link = ac->data;
  IcecamCluster *self = link != NULL ? link->cluster : NULL;

  if (self == NULL)
    return;
  if (status != REDIS_OK)
    g_warning ("cluster: sentinel %s:%u: %s", self->sentinel_hosts[self->sentinel_next],
               self->sentinel_ports[self->sentinel_next], ac->errstr);
  sentinel_finish (self);
}

static void
sentinel_ask (IcecamCluster *self)
{
  const gchar *host = self->sentinel_hosts[self->sentinel_next];
  guint port = self->sentinel_ports[self->sentinel_next];
  redisAsyncContext *ac;

  self->sentinel_answered = FALSE;
  ac = redisAsyncConnect (host, (int) port);
  if (ac == NULL || ac->err) {
    g_info ("cluster: cannot connect to sentinel %s:%u: %s", host, port,
            ac != NULL ? ac->errstr : "out of memory");
    if (ac != NULL)
      redisAsyncFree (ac);
    self->sentinel_next = (self->sentinel_next + 1) % g_strv_length (self->sentinel_hosts);
    return;
  }
  self->sentinel_asked_at = g_get_monotonic_time ();
  cluster_link_attach (self, self->sentinel, ac);
  redisAsyncSetConnectCallback (ac, on_sentinel_connect);
  redisAsyncSetDisconnectCallback (ac, on_sentinel_disconnect);
  redisAsyncCommand (ac, on_sentinel_reply, self, "SENTINEL get-master-addr-by-name %s",
                     self->master_name);
}

/**
 * cluster_sentinel_connect:
 * @self: a cluster link whose URL is a redis-sentinel:// one
 *
 * Called every tick while a link to the master is down: asks a sentinel where the master is
 * (unless a query is under way), then connects the links that are down.
 */
void
cluster_sentinel_connect (IcecamCluster *self)
{
  ClusterLink *link = self->sentinel;

  if (link->ac != NULL) {
    if (g_get_monotonic_time () - self->sentinel_asked_at < SENTINEL_ANSWER_TIMEOUT)
      return;
    g_warning ("cluster: sentinel %s:%u did not answer in time",
               self->sentinel_hosts[self->sentinel_next],
               self->sentinel_ports[self->sentinel_next]);
    cluster_link_close (link);
    self->sentinel_next = (self->sentinel_next + 1) % g_strv_length (self->sentinel_hosts);
  }
  self->sentinel_tries = 0;
  sentinel_ask (self);
}
