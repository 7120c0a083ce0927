/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One-shot multicast DNS lookups (RFC 6762 5.1) of a browser's `<uuid>.local` host candidate
 * names: one question, an A record back, a short timeout. The messages are built and read by
 * pure functions; the lookup runs in the caller's main context and never blocks. */

#include "icecam-mdns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#define DNS_HEADER_SIZE 12
#define DNS_TYPE_A 1
#define DNS_CLASS_IN 1
#define DNS_CLASS_MASK 0x7fff  /* the top bit is mDNS's cache-flush (answers) or QU (questions) */
#define DNS_QU 0x8000
#define DNS_FLAG_RESPONSE 0x80 /* QR, in the first flags byte */
#define MAX_NAME 255
#define MAX_POINTERS 16        /* compression pointers followed in one name */
#define MAX_RECORDS 64         /* records read from one message */
#define RESEND_MS 250          /* one more query if the first went unanswered this long */
#define MAX_READS_PER_WAKEUP 16

G_DEFINE_QUARK (icecam-mdns-error-quark, icecam_mdns_error)

/**
 * icecam_mdns_is_local_name:
 *
 * Returns: whether @name is one label of letters, digits and dashes (a UUID, as browsers
 *   make them) followed by ".local"
 */
gboolean
icecam_mdns_is_local_name (const gchar *name)
{
  const gchar *dot = strchr (name, '.');
  gsize label;

  if (dot == NULL || g_ascii_strcasecmp (dot, ".local") != 0)
    return FALSE;
  label = (gsize) (dot - name);
  if (label == 0 || label > 63)
    return FALSE;
  for (gsize i = 0; i < label; i++) {
    if (!g_ascii_isalnum (name[i]) && name[i] != '-')
      return FALSE;
  }
  return TRUE;
}

/**
 * icecam_mdns_candidate_name:
 * @candidate: "candidate:F C TRANSPORT PRIO ADDRESS PORT typ ..."
 *
 * Returns: (transfer full) (nullable): its address if that is a `<uuid>.local` name
 */
gchar *
icecam_mdns_candidate_name (const gchar *candidate)
{
  g_auto (GStrv) fields = g_strsplit (candidate, " ", 64);

  if (g_strv_length (fields) < 8 || !icecam_mdns_is_local_name (fields[4]))
    return NULL;
  return g_strdup (fields[4]);
}

/**
 * icecam_mdns_candidate_with_address:
 * @candidate: a candidate with at least five fields
 * @address: what its address becomes
 *
 * Returns: (transfer full): @candidate with @address in place of its address
 */
gchar *
icecam_mdns_candidate_with_address (const gchar *candidate, const gchar *address)
{
  g_auto (GStrv) fields = g_strsplit (candidate, " ", 64);

  g_return_val_if_fail (g_strv_length (fields) >= 5, NULL);
  g_free (fields[4]);
  fields[4] = g_strdup (address);
  return g_strjoinv (" ", fields);
}

/* Appends @name in DNS label form. */
static gboolean
append_name (GByteArray *out, const gchar *name)
{
  g_auto (GStrv) labels = g_strsplit (name, ".", 128);

  if (strlen (name) > MAX_NAME - 2)
    return FALSE;
  for (guint i = 0; labels[i] != NULL; i++) {
    guint8 length = (guint8) strlen (labels[i]);

    if (length == 0 || strlen (labels[i]) > 63)
      return FALSE;
    g_byte_array_append (out, &length, 1);
    g_byte_array_append (out, (const guint8 *) labels[i], length);
  }
  g_byte_array_append (out, (const guint8 *) "", 1);
  return TRUE;
}

/**
 * icecam_mdns_build_query:
 * @name: e.g. "1f0e2d3c-4b5a-6978-8796-a5b4c3d2e1f0.local"
 * @id: the message id (0 for queries from port 5353, RFC 6762 18.1)
 * @unicast_response: set the QU bit: the querier would like the answer sent to it directly
 *   (RFC 6762 5.4: the first query of a lookup; repeats ask for the group)
 *
 * One question, type A, class IN.
 *
 * Returns: (transfer full) (nullable): the message, or %NULL if @name cannot be encoded
 */
GBytes *
icecam_mdns_build_query (const gchar *name, guint16 id, gboolean unicast_response)
{
  g_autoptr (GByteArray) out = g_byte_array_new ();
  const guint8 header[DNS_HEADER_SIZE] = { id >> 8, id & 0xff, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0 };
  const guint8 question[4] = { 0, DNS_TYPE_A, unicast_response ? DNS_QU >> 8 : 0, DNS_CLASS_IN };

  g_byte_array_append (out, header, sizeof header);
  if (!append_name (out, name))
    return NULL;
  g_byte_array_append (out, question, sizeof question);
  return g_byte_array_free_to_bytes (g_steal_pointer (&out));
}

/* Reads the (possibly compressed) name at *@offset into @out as dotted text; *@offset moves
 * past it. Bounded: at most MAX_POINTERS jumps, MAX_NAME characters. */
static gboolean
read_name (const guint8 *data, gsize length, gsize *offset, gchar out[MAX_NAME + 1])
{
  gsize at = *offset, written = 0;
  gboolean jumped = FALSE;
  guint jumps = 0;

  for (;;) {
    guint8 label;

    if (at >= length)
      return FALSE;
    label = data[at];
    if ((label & 0xc0) == 0xc0) {
      if (at + 1 >= length || ++jumps > MAX_POINTERS)
        return FALSE;
      if (!jumped)
        *offset = at + 2;
      jumped = TRUE;
      at = ((gsize) (label & 0x3f) << 8) | data[at + 1];
      continue;
    }
    if (label & 0xc0)
      return FALSE;
    if (label == 0) {
      if (!jumped)
        *offset = at + 1;
      out[written] = '\0';
      return TRUE;
    }
    if (at + 1 + label > length || written + label + 1 > MAX_NAME)
      return FALSE;
    if (written > 0)
      out[written++] = '.';
    memcpy (out + written, data + at + 1, label);
    written += label;
    at += 1 + label;
  }
}

/**
 * icecam_mdns_parse_answer:
 * @name: the name asked for
 * @address: (out): its IPv4 address
 *
 * Reads a DNS response, bounds-checked: its answer and additional records, for an A record of
 * @name (case-insensitive).
 *
 * Returns: whether one was found
 */
gboolean
icecam_mdns_parse_answer (const guint8 *data, gsize length, const gchar *name,
                          guint8 address[4])
{
  gchar owner[MAX_NAME + 1];
  gsize offset = DNS_HEADER_SIZE;
  guint questions, records;

  if (length < DNS_HEADER_SIZE || !(data[2] & DNS_FLAG_RESPONSE))
    return FALSE;
  questions = ((guint) data[4] << 8) | data[5];
  records = (((guint) data[6] << 8) | data[7]) + (((guint) data[8] << 8) | data[9]) +
            (((guint) data[10] << 8) | data[11]);
  if (questions > MAX_RECORDS || records > MAX_RECORDS)
    return FALSE;
  for (guint i = 0; i < questions; i++) {
    if (!read_name (data, length, &offset, owner) || offset + 4 > length)
      return FALSE;
    offset += 4;
  }
  for (guint i = 0; i < records; i++) {
    guint type, klass, rdlength;

    if (!read_name (data, length, &offset, owner) || offset + 10 > length)
      return FALSE;
    type = ((guint) data[offset] << 8) | data[offset + 1];
    klass = (((guint) data[offset + 2] << 8) | data[offset + 3]) & DNS_CLASS_MASK;
    rdlength = ((guint) data[offset + 8] << 8) | data[offset + 9];
    offset += 10;
    if (offset + rdlength > length)
      return FALSE;
    if (type == DNS_TYPE_A && klass == DNS_CLASS_IN && rdlength == 4 &&
        g_ascii_strcasecmp (owner, name) == 0) {
      memcpy (address, data + offset, 4);
      return TRUE;
    }
    offset += rdlength;
  }
  return FALSE;
}

/* ---- the lookup ------------------------------------------------------------------------ */

typedef struct {
  gchar *name;
  GBytes *query;        /* the first, with the QU bit */
  GBytes *repeat;       /* the second, answered to the group */
  GSocket *socket;
  GSocketAddress *group;
  GSource *read_source;
  GSource *resend_source;
  GSource *timeout_source;
  GSource *cancel_source;
} Lookup;

static void
clear_source (GSource **source)
{
  if (*source == NULL)
    return;
  g_source_destroy (*source);
  g_clear_pointer (source, g_source_unref);
}

static void
lookup_free (Lookup *lookup)
{
  clear_source (&lookup->read_source);
  clear_source (&lookup->resend_source);
  clear_source (&lookup->timeout_source);
  clear_source (&lookup->cancel_source);
  g_clear_object (&lookup->socket);
  g_clear_object (&lookup->group);
  g_clear_pointer (&lookup->query, g_bytes_unref);
  g_clear_pointer (&lookup->repeat, g_bytes_unref);
  g_free (lookup->name);
  g_free (lookup);
}

/* Ends the lookup once: every source goes, then the task returns (and may be freed). */
static void
lookup_return (GTask *task, GInetAddress *address, GError *error)
{
  Lookup *lookup = g_task_get_task_data (task);

  clear_source (&lookup->read_source);
  clear_source (&lookup->resend_source);
  clear_source (&lookup->timeout_source);
  clear_source (&lookup->cancel_source);
  if (address != NULL)
    g_task_return_pointer (task, address, g_object_unref);
  else
    g_task_return_error (task, error);
  g_object_unref (task); /* the sources' reference */
}

static void
send_query (Lookup *lookup, GBytes *query)
{
  g_autoptr (GError) error = NULL;
  gsize size;
  const gchar *data = g_bytes_get_data (query, &size);

  if (g_socket_send_to (lookup->socket, lookup->group, data, size, NULL, &error) < 0)
    g_debug ("mdns: cannot send the query for %s: %s", lookup->name, error->message);
}

static gboolean
on_readable (GSocket *socket, GIOCondition condition, gpointer user_data)
{
  GTask *task = user_data;
  Lookup *lookup = g_task_get_task_data (task);

  for (guint i = 0; i < MAX_READS_PER_WAKEUP; i++) {
    guint8 buffer[1500], address[4];
    gssize n = g_socket_receive (socket, (gchar *) buffer, sizeof buffer, NULL, NULL);

    if (n <= 0)
      break;
    if (icecam_mdns_parse_answer (buffer, (gsize) n, lookup->name, address)) {
      lookup_return (task, g_inet_address_new_from_bytes (address, G_SOCKET_FAMILY_IPV4), NULL);
      return G_SOURCE_REMOVE;
    }
  }
  return G_SOURCE_CONTINUE;
}

static gboolean
on_resend (gpointer user_data)
{
  Lookup *lookup = g_task_get_task_data (G_TASK (user_data));

  send_query (lookup, lookup->repeat);
  g_clear_pointer (&lookup->resend_source, g_source_unref);
  return G_SOURCE_REMOVE;
}

static gboolean
on_timeout (gpointer user_data)
{
  GTask *task = user_data;
  Lookup *lookup = g_task_get_task_data (task);

  g_clear_pointer (&lookup->timeout_source, g_source_unref);
  lookup_return (task, NULL, g_error_new (ICECAM_MDNS_ERROR, ICECAM_MDNS_ERROR_TIMED_OUT,
                                          "no mDNS answer for %s", lookup->name));
  return G_SOURCE_REMOVE;
}

static gboolean
on_cancelled (GCancellable *cancellable, gpointer user_data)
{
  GTask *task = user_data;
  Lookup *lookup = g_task_get_task_data (task);
  GError *error = NULL;

  g_clear_pointer (&lookup->cancel_source, g_source_unref);
  g_cancellable_set_error_if_cancelled (cancellable, &error);
  lookup_return (task, NULL, error);
  return G_SOURCE_REMOVE;
}

/* A UDP socket that can send to the mDNS group on the chosen interface and hear answers:
 * on port 5353 (shared, RFC 6762 15.1) where it can, so that answers sent to the group arrive
 * too; otherwise on any port (answers come back by unicast, RFC 6762 6.7). */
static GSocket *
open_socket (const gchar *interface_address, GError **error)
{
  g_autoptr (GSocket) socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM,
                                             G_SOCKET_PROTOCOL_UDP, error);
  g_autoptr (GSocketAddress) mdns_port = NULL;
  g_autoptr (GSocketAddress) any_port = NULL;
  struct ip_mreq membership = { 0 };
  struct in_addr iface = { htonl (INADDR_ANY) };

  if (socket == NULL)
    return NULL;
  if (interface_address != NULL) {
    g_autoptr (GInetAddress) address = g_inet_address_new_from_string (interface_address);

    if (address == NULL || g_inet_address_get_family (address) != G_SOCKET_FAMILY_IPV4) {
      g_set_error (error, ICECAM_MDNS_ERROR, ICECAM_MDNS_ERROR_SOCKET,
                   "'%s' is not an IPv4 address", interface_address);
      return NULL;
    }
    memcpy (&iface, g_inet_address_to_bytes (address), 4);
  }
  mdns_port = g_inet_socket_address_new_from_string ("0.0.0.0", ICECAM_MDNS_PORT);
  if (!g_socket_bind (socket, mdns_port, TRUE, NULL)) {
    any_port = g_inet_socket_address_new_from_string ("0.0.0.0", 0);
    if (!g_socket_bind (socket, any_port, FALSE, error))
      return NULL;
  } else {
    inet_pton (AF_INET, ICECAM_MDNS_GROUP, &membership.imr_multiaddr);
    membership.imr_interface = iface;
    if (setsockopt (g_socket_get_fd (socket), IPPROTO_IP, IP_ADD_MEMBERSHIP, &membership,
                    sizeof membership) < 0)
      g_debug ("mdns: cannot join %s: %s", ICECAM_MDNS_GROUP, g_strerror (errno));
  }
  if (interface_address != NULL &&
      setsockopt (g_socket_get_fd (socket), IPPROTO_IP, IP_MULTICAST_IF, &iface, sizeof iface) < 0) {
    g_set_error (error, ICECAM_MDNS_ERROR, ICECAM_MDNS_ERROR_SOCKET,
                 "cannot send multicast from %s: %s", interface_address, g_strerror (errno));
    return NULL;
  }
  g_socket_set_multicast_ttl (socket, 255); /* RFC 6762 11 */
  g_socket_set_multicast_loopback (socket, TRUE);
  g_socket_set_blocking (socket, FALSE);
  return g_steal_pointer (&socket);
}

static GSource *
attach (GSource *source, GSourceFunc func, GTask *task)
{
  g_source_set_callback (source, func, task, NULL);
  g_source_attach (source, g_task_get_context (task));
  return source;
}

/**
 * icecam_mdns_resolve_async:
 * @name: a `<uuid>.local` name (icecam_mdns_is_local_name())
 * @interface_address: (nullable): the IPv4 address of the interface to ask on; %NULL: the
 *   system's default for multicast
 * @timeout_ms: how long to wait for an answer (the query is sent twice, RESEND_MS apart: first
 *   asking for a direct answer, then for one to the group)
 *
 * Asks the link once for @name's IPv4 address. Runs in the thread-default main context:
 * nothing blocks. Fails with %ICECAM_MDNS_ERROR_TIMED_OUT when nobody answers.
 */
void
icecam_mdns_resolve_async (const gchar *name, const gchar *interface_address, guint timeout_ms,
                           GCancellable *cancellable, GAsyncReadyCallback callback,
                           gpointer user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);
  g_autoptr (GInetAddress) group = g_inet_address_new_from_string (ICECAM_MDNS_GROUP);
  Lookup *lookup = g_new0 (Lookup, 1);
  GError *error = NULL;

  g_task_set_source_tag (task, icecam_mdns_resolve_async);
  g_task_set_task_data (task, lookup, (GDestroyNotify) lookup_free);
  lookup->name = g_strdup (name);
  if (!icecam_mdns_is_local_name (name) ||
      (lookup->query = icecam_mdns_build_query (name, 0, TRUE)) == NULL ||
      (lookup->repeat = icecam_mdns_build_query (name, 0, FALSE)) == NULL) {
    g_task_return_new_error (task, ICECAM_MDNS_ERROR, ICECAM_MDNS_ERROR_NAME,
                             "'%s' is not a <uuid>.local name", name);
    g_object_unref (task);
    return;
  }
  lookup->socket = open_socket (interface_address, &error);
  if (lookup->socket == NULL) {
    g_task_return_error (task, error);
    g_object_unref (task);
    return;
  }
  lookup->group = g_inet_socket_address_new (group, ICECAM_MDNS_PORT);
  /* The sources share one reference to the task, dropped by lookup_return(). */
  lookup->read_source = attach (g_socket_create_source (lookup->socket, G_IO_IN, NULL),
                                (GSourceFunc) (void (*) (void)) on_readable, task);
  lookup->resend_source = attach (g_timeout_source_new (RESEND_MS), on_resend, task);
  lookup->timeout_source = attach (g_timeout_source_new (timeout_ms), on_timeout, task);
  if (cancellable != NULL)
    lookup->cancel_source = attach (g_cancellable_source_new (cancellable),
                                    (GSourceFunc) (void (*) (void)) on_cancelled, task);
  send_query (lookup, lookup->query);
}

/**
 * icecam_mdns_resolve_finish:
 *
 * Returns: (transfer full) (nullable): the name's IPv4 address, or %NULL with @error set
 */
GInetAddress *
icecam_mdns_resolve_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}
