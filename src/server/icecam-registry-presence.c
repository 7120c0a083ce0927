/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The registry's presence lists: the cameras online here and on other cluster nodes, sorted
 * once per change, filtered per viewer by its token. */

#include "icecam-registry-private.h"

#include "icecam-token.h"

#include <stdlib.h>
#include <string.h>

static gint
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const gchar * const *) a, *(const gchar * const *) b);
}

/* The sorted ids of the cameras online, as many as fit in one protocol message. Built once
 * per change of the cameras online, not per viewer: with thousands of cameras the sort was a
 * tenth of the server's time. */
static const gchar * const *
online_cameras (IcecamRegistry *self)
{
  g_autofree gpointer *keys = NULL;
  g_autoptr (GStrvBuilder) builder = NULL;
  gsize size = 64;  /* {"type":"presence","cameras":[]} and some slack */
  guint n = 0;

  if (self->online != NULL)
    return (const gchar * const *) self->online;
  builder = g_strv_builder_new ();
  keys = g_hash_table_get_keys_as_array (self->cameras, &n);
  if (g_hash_table_size (self->remote_cameras) > 0) {
    g_autofree gpointer *remote =
      g_hash_table_get_keys_as_array (self->remote_cameras, NULL);

    keys = g_renew (gpointer, keys, n + g_hash_table_size (self->remote_cameras) + 1);
    for (guint i = 0; remote[i] != NULL; i++)
      if (!g_hash_table_contains (self->cameras, remote[i]))
        keys[n++] = remote[i];
  }
  qsort (keys, n, sizeof (gpointer), compare_strings);
  for (guint i = 0; i < n; i++) {
    size += strlen (keys[i]) + sizeof ("{\"id\":\"\"},");
    if (i >= ICECAM_PROTOCOL_MAX_LIST_LENGTH || size > ICECAM_PROTOCOL_MAX_MESSAGE_SIZE) {
      g_warning ("%u cameras online, presence lists only the first %u", n, i);
      break;
    }
    g_strv_builder_add (builder, keys[i]);
  }
  self->online = g_strv_builder_end (builder);
  return (const gchar * const *) self->online;
}

void
registry_cameras_changed (IcecamRegistry *self)
{
  g_clear_pointer (&self->online, g_strfreev);
}

/* A viewer with a token sees only the cameras it may watch. */
static IcecamMessage *
presence_for (IcecamRegistry *self, Peer *viewer, const gchar * const *online)
{
  g_autoptr (GStrvBuilder) builder = NULL;
  g_auto (GStrv) visible = NULL;

  if (self->token_key == NULL)
    return icecam_message_new_presence (online);
  builder = g_strv_builder_new ();
  for (guint i = 0; online[i] != NULL; i++) {
    if (icecam_token_grants ((const gchar * const *) viewer->granted, online[i]))
      g_strv_builder_add (builder, online[i]);
  }
  visible = g_strv_builder_end (builder);
  return icecam_message_new_presence ((const gchar * const *) visible);
}

void
registry_queue_presence (IcecamRegistry *self, Peer *viewer)
{
  registry_queue_send (self, viewer, presence_for (self, viewer, online_cameras (self)));
}

void
registry_queue_presence_to_viewers (IcecamRegistry *self)
{
  const gchar * const *cameras;
  GHashTableIter iter;
  gpointer viewer;

  if (g_hash_table_size (self->viewers) == 0)
    return;
  cameras = online_cameras (self);
  g_hash_table_iter_init (&iter, self->viewers);
  while (g_hash_table_iter_next (&iter, NULL, &viewer))
    registry_queue_send (self, viewer, presence_for (self, viewer, cameras));
}
