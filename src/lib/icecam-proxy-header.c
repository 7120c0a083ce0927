/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Where a proxied client really is: the PROXY protocol header, Forwarded and X-Forwarded-For. */

#include "icecam-proxy-header.h"

#include <string.h>

/*
 * Pure parsing, no I/O: the server asks only when the TCP peer is a proxy it trusts
 * (--trusted-proxy), since anyone can write these headers.
 *
 * The PROXY protocol (HAProxy's proxy-protocol.txt): version 1 is one text line,
 * "PROXY TCP4|TCP6|UNKNOWN SRC DST SPORT DPORT\r\n", at most 107 bytes; version 2 starts with a
 * 12-byte signature, then version/command, family/transport and a 16-bit length of what
 * follows (addresses, then TLVs, which are skipped). A LOCAL command (the balancer's own
 * health check), UNKNOWN or an unspecified family carry no client: the source is the peer.
 *
 * Forwarded (RFC 7239) and X-Forwarded-For list the hops, the client first, each proxy adding
 * the address it heard from on the right. Only the right end can be believed, as far as the
 * proxies there are trusted: the client is the rightmost hop that is not a trusted proxy.
 */

G_DEFINE_QUARK (icecam-proxy-header-error-quark, icecam_proxy_header_error)

static const guint8 v2_signature[12] = {
  0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A,
};
static const gchar v1_signature[] = "PROXY ";
#define V1_MAX 107

/* The reasons quote what the peer sent, which need not be UTF-8 (nor is a byte-counted
 * precision a character boundary): they are made valid before they reach a log. */
static void
set_malformed (GError **error, const gchar *format, ...) G_GNUC_PRINTF (2, 3);

static void
set_malformed (GError **error, const gchar *format, ...)
{
  va_list args;
  g_autofree gchar *message = NULL;
  g_autofree gchar *valid = NULL;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  valid = g_utf8_make_valid (message, -1);
  g_set_error_literal (error, ICECAM_PROXY_HEADER_ERROR, ICECAM_PROXY_HEADER_ERROR_MALFORMED,
                       valid);
}

static IcecamProxyHeaderResult
invalid (GError **error, const gchar *format, ...) G_GNUC_PRINTF (2, 3);

static IcecamProxyHeaderResult
invalid (GError **error, const gchar *format, ...)
{
  va_list args;
  g_autofree gchar *message = NULL;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  set_malformed (error, "PROXY header: %s", message);
  return ICECAM_PROXY_HEADER_INVALID;
}

/* A decimal port: 1 to 5 digits, no sign, no leading zero (but "0"), at most 65535. */
static gboolean
parse_port (const gchar *text, guint16 *port)
{
  guint value = 0;
  gsize len = strlen (text);

  if (len == 0 || len > 5 || (len > 1 && text[0] == '0'))
    return FALSE;
  for (gsize i = 0; i < len; i++) {
    if (!g_ascii_isdigit (text[i]))
      return FALSE;
    value = value * 10 + (guint) (text[i] - '0');
  }
  if (value > G_MAXUINT16)
    return FALSE;
  *port = (guint16) value;
  return TRUE;
}

static GInetAddress *
parse_address (const gchar *text, GSocketFamily family)
{
  g_autoptr (GInetAddress) address = NULL;

  /* g_inet_address_new_from_string() takes forms inet_pton() does not ("1", "0x7f.1"): only
   * dotted quads or colons. */
  if (*text == '\0' || strspn (text, "0123456789abcdefABCDEF.:") != strlen (text))
    return NULL;
  address = g_inet_address_new_from_string (text);
  if (address == NULL || g_inet_address_get_family (address) != family)
    return NULL;
  if (family == G_SOCKET_FAMILY_IPV4 && strchr (text, ':') != NULL)
    return NULL;
  return g_steal_pointer (&address);
}

static IcecamProxyHeaderResult
parse_v1 (const guint8 *data, gsize len, gsize *header_len, GInetSocketAddress **source,
          GError **error)
{
  const guint8 *end = NULL;
  g_autofree gchar *line = NULL;
  g_auto (GStrv) fields = NULL;
  g_autoptr (GInetAddress) src = NULL;
  g_autoptr (GInetAddress) dst = NULL;
  GSocketFamily family;
  guint16 src_port;
  guint16 dst_port;

  for (gsize i = 0; i + 1 < len && i + 1 < V1_MAX; i++) {
    if (data[i] == '\r' && data[i + 1] == '\n') {
      end = data + i;
      break;
    }
  }
  if (end == NULL)
    return len >= V1_MAX ? invalid (error, "no CRLF in the first %d bytes", V1_MAX)
                         : ICECAM_PROXY_HEADER_NEED_MORE;
  line = g_strndup ((const gchar *) data, (gsize) (end - data));
  if (strlen (line) != (gsize) (end - data))
    return invalid (error, "a NUL byte in the line");
  *header_len = (gsize) (end - data) + 2;
  fields = g_strsplit (line, " ", -1);
  if (g_strv_length (fields) >= 2 && strcmp (fields[1], "UNKNOWN") == 0)
    return ICECAM_PROXY_HEADER_DONE; /* the peer's own address stands */
  if (g_strv_length (fields) != 6)
    return invalid (error, "not 'PROXY TCP4|TCP6 SRC DST SPORT DPORT'");
  if (strcmp (fields[1], "TCP4") == 0)
    family = G_SOCKET_FAMILY_IPV4;
  else if (strcmp (fields[1], "TCP6") == 0)
    family = G_SOCKET_FAMILY_IPV6;
  else
    return invalid (error, "unknown protocol '%.8s'", fields[1]);
  src = parse_address (fields[2], family);
  dst = parse_address (fields[3], family);
  if (src == NULL || dst == NULL)
    return invalid (error, "addresses are not %s addresses", fields[1]);
  if (!parse_port (fields[4], &src_port) || !parse_port (fields[5], &dst_port))
    return invalid (error, "ports are not numbers from 0 to 65535");
  *source = G_INET_SOCKET_ADDRESS (g_inet_socket_address_new (src, src_port));
  return ICECAM_PROXY_HEADER_DONE;
}

static IcecamProxyHeaderResult
parse_v2 (const guint8 *data, gsize len, gsize *header_len, GInetSocketAddress **source,
          GError **error)
{
  guint8 command;
  guint8 family;
  gsize length;
  g_autoptr (GInetAddress) src = NULL;
  guint16 port;

  if (len < 16)
    return ICECAM_PROXY_HEADER_NEED_MORE;
  if ((data[12] & 0xf0) != 0x20)
    return invalid (error, "version %u, not 2", data[12] >> 4);
  command = data[12] & 0x0f;
  if (command > 1)
    return invalid (error, "unknown command %u", command);
  family = data[13];
  length = ((gsize) data[14] << 8) | data[15];
  if (length > ICECAM_PROXY_HEADER_MAX_V2_LENGTH)
    return invalid (error, "%" G_GSIZE_FORMAT " bytes of addresses and TLVs, more than %d",
                    length, ICECAM_PROXY_HEADER_MAX_V2_LENGTH);
  if (len < 16 + length)
    return ICECAM_PROXY_HEADER_NEED_MORE;
  *header_len = 16 + length;
  /* LOCAL: the balancer speaking for itself; UNSPEC or a UNIX socket: nothing to tell. */
  if (command == 0 || (family >> 4) == 0 || (family >> 4) == 3)
    return ICECAM_PROXY_HEADER_DONE;
  if ((family & 0x0f) != 1)
    return invalid (error, "transport %u, not TCP", family & 0x0f);
  if ((family >> 4) == 1) {
    if (length < 12)
      return invalid (error, "%" G_GSIZE_FORMAT " bytes, too short for IPv4 addresses", length);
    src = g_inet_address_new_from_bytes (data + 16, G_SOCKET_FAMILY_IPV4);
    port = (guint16) ((data[24] << 8) | data[25]);
  } else if ((family >> 4) == 2) {
    if (length < 36)
      return invalid (error, "%" G_GSIZE_FORMAT " bytes, too short for IPv6 addresses", length);
    src = g_inet_address_new_from_bytes (data + 16, G_SOCKET_FAMILY_IPV6);
    port = (guint16) ((data[48] << 8) | data[49]);
  } else {
    return invalid (error, "unknown address family %u", family >> 4);
  }
  *source = G_INET_SOCKET_ADDRESS (g_inet_socket_address_new (src, port));
  return ICECAM_PROXY_HEADER_DONE;
}

/**
 * icecam_proxy_header_parse:
 * @data: (array length=len): the first bytes a connection sent
 * @len: how many
 * @header_len: (out): with %ICECAM_PROXY_HEADER_DONE, the header's length, to be consumed
 * @source: (out) (transfer full) (nullable): with %ICECAM_PROXY_HEADER_DONE, the client's
 *   address, or %NULL when the header names none (LOCAL, UNKNOWN): the peer's own counts
 * @error: set with %ICECAM_PROXY_HEADER_INVALID
 *
 * Returns: whether @data starts with a PROXY header (v1 or v2), needs more bytes to tell, or
 *   starts with something else; never reads past @len
 */
IcecamProxyHeaderResult
icecam_proxy_header_parse (const guint8 *data, gsize len, gsize *header_len,
                           GInetSocketAddress **source, GError **error)
{
  gsize v1_len = sizeof v1_signature - 1;

  *header_len = 0;
  *source = NULL;
  if (len == 0)
    return ICECAM_PROXY_HEADER_NEED_MORE;
  if (memcmp (data, v2_signature, MIN (len, sizeof v2_signature)) == 0)
    return len < sizeof v2_signature ? ICECAM_PROXY_HEADER_NEED_MORE
                                     : parse_v2 (data, len, header_len, source, error);
  if (memcmp (data, v1_signature, MIN (len, v1_len)) == 0)
    return len < v1_len ? ICECAM_PROXY_HEADER_NEED_MORE
                        : parse_v1 (data, len, header_len, source, error);
  return ICECAM_PROXY_HEADER_NONE;
}

/* ---- Forwarded and X-Forwarded-For ------------------------------------------------------ */

/* "203.0.113.1", "203.0.113.1:80", "2001:db8::1", "[2001:db8::1]", "[2001:db8::1]:80"; a hop a
 * proxy did not name ("unknown", RFC 7239's "_hidden" identifiers) is a %NULL entry. */
static gboolean
parse_node (const gchar *text, GPtrArray *hops, GError **error)
{
  g_autofree gchar *host = NULL;
  g_autoptr (GInetAddress) address = NULL;
  guint16 port = 0;
  const gchar *colon;

  if (g_ascii_strcasecmp (text, "unknown") == 0 || text[0] == '_') {
    g_ptr_array_add (hops, NULL);
    return TRUE;
  }
  if (text[0] == '[') {
    const gchar *close = strchr (text, ']');

    if (close == NULL || (close[1] != '\0' && (close[1] != ':' || !parse_port (close + 2, &port))))
      goto bad;
    host = g_strndup (text + 1, (gsize) (close - text - 1));
    address = parse_address (host, G_SOCKET_FAMILY_IPV6);
  } else if ((colon = strchr (text, ':')) != NULL && strchr (colon + 1, ':') == NULL) {
    if (!parse_port (colon + 1, &port))
      goto bad;
    host = g_strndup (text, (gsize) (colon - text));
    address = parse_address (host, G_SOCKET_FAMILY_IPV4);
  } else {
    address = parse_address (text, strchr (text, ':') ? G_SOCKET_FAMILY_IPV6
                                                      : G_SOCKET_FAMILY_IPV4);
  }
  if (address == NULL)
    goto bad;
  g_ptr_array_add (hops, g_inet_socket_address_new (address, port));
  return TRUE;
bad:
  set_malformed (error, "'%.64s' is not an IP address (with an optional port)", text);
  return FALSE;
}

static gboolean
parse_x_forwarded_for (const gchar *value, GPtrArray *hops, GError **error)
{
  g_auto (GStrv) items = g_strsplit (value, ",", -1);

  for (guint i = 0; items[i] != NULL; i++) {
    if (!parse_node (g_strstrip (items[i]), hops, error)) {
      g_prefix_error (error, "X-Forwarded-For: ");
      return FALSE;
    }
  }
  return TRUE;
}

/* RFC 7239: elements by ',', pairs by ';', each token=token or token="quoted". Only for=
 * counts; an element without one is an unnamed hop. Quoted commas and semicolons are not
 * separators. */
static gboolean
parse_forwarded (const gchar *value, GPtrArray *hops, GError **error)
{
  const gchar *at = value;

  while (TRUE) {
    g_autofree gchar *node = NULL;

    while (*at != '\0' && *at != ',') {
      const gchar *name;
      gsize name_len;
      GString *pair_value = g_string_new (NULL);

      while (*at == ' ' || *at == '\t' || *at == ';')
        at++;
      if (*at == ',' || *at == '\0') {
        g_string_free (pair_value, TRUE);
        break;
      }
      name = at;
      while (*at != '\0' && *at != '=' && *at != ';' && *at != ',' && *at != ' ')
        at++;
      name_len = (gsize) (at - name);
      if (*at != '=' || name_len == 0) {
        g_string_free (pair_value, TRUE);
        goto bad;
      }
      at++;
      if (*at == '"') {
        at++;
        while (*at != '\0' && *at != '"') {
          if (*at == '\\' && at[1] != '\0')
            at++;
          g_string_append_c (pair_value, *at++);
        }
        if (*at != '"') {
          g_string_free (pair_value, TRUE);
          goto bad;
        }
        at++;
      } else {
        while (*at != '\0' && *at != ';' && *at != ',' && *at != ' ' && *at != '\t')
          g_string_append_c (pair_value, *at++);
      }
      if (name_len == 3 && g_ascii_strncasecmp (name, "for", 3) == 0) {
        g_free (node);
        node = g_string_free (pair_value, FALSE);
      } else {
        g_string_free (pair_value, TRUE);
      }
      while (*at == ' ' || *at == '\t')
        at++;
      if (*at != '\0' && *at != ';' && *at != ',')
        goto bad;
    }
    if (node == NULL)
      g_ptr_array_add (hops, NULL);
    else if (!parse_node (node, hops, error)) {
      g_prefix_error (error, "Forwarded: ");
      return FALSE;
    }
    if (*at == '\0')
      return TRUE;
    at++;
  }
bad:
  set_malformed (error, "Forwarded: not 'for=...;...' pairs at '%.32s'", at);
  return FALSE;
}

static void
hop_free (gpointer hop)
{
  if (hop != NULL)
    g_object_unref (hop);
}

/**
 * icecam_forwarded_parse:
 * @forwarded: (nullable): the request's Forwarded header (its lines joined by ", ")
 * @x_forwarded_for: (nullable): its X-Forwarded-For header, used only without @forwarded
 * @error: set when the header is malformed
 *
 * Returns: (transfer full) (element-type GInetSocketAddress) (nullable): the hops, client
 *   first, each a #GInetSocketAddress (port 0 when none was given) or %NULL for a hop the proxy
 *   did not name; empty without either header; %NULL with @error set
 */
GPtrArray *
icecam_forwarded_parse (const gchar *forwarded, const gchar *x_forwarded_for, GError **error)
{
  g_autoptr (GPtrArray) hops = g_ptr_array_new_with_free_func (hop_free);
  gboolean ok = TRUE;

  if (forwarded != NULL)
    ok = parse_forwarded (forwarded, hops, error);
  else if (x_forwarded_for != NULL)
    ok = parse_x_forwarded_for (x_forwarded_for, hops, error);
  return ok ? g_steal_pointer (&hops) : NULL;
}

/**
 * icecam_proxy_is_trusted:
 * @trusted: (element-type GInetAddressMask) (nullable): the trusted proxies
 * @address: an address
 *
 * Returns: whether @address is in one of @trusted (IPv4-mapped IPv6 addresses count as IPv4)
 */
gboolean
icecam_proxy_is_trusted (GPtrArray *trusted, GInetAddress *address)
{
  g_autoptr (GInetAddress) mapped = NULL;

  if (trusted == NULL || address == NULL)
    return FALSE;
  if (g_inet_address_get_family (address) == G_SOCKET_FAMILY_IPV6) {
    const guint8 *bytes = g_inet_address_to_bytes (address);
    static const guint8 prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

    if (memcmp (bytes, prefix, 12) == 0)
      mapped = g_inet_address_new_from_bytes (bytes + 12, G_SOCKET_FAMILY_IPV4);
  }
  for (guint i = 0; i < trusted->len; i++) {
    GInetAddressMask *mask = g_ptr_array_index (trusted, i);

    if (g_inet_address_mask_matches (mask, mapped != NULL ? mapped : address))
      return TRUE;
  }
  return FALSE;
}

/**
 * icecam_forwarded_pick_client:
 * @hops: (element-type GInetSocketAddress): from icecam_forwarded_parse(), of a request whose
 *   TCP peer is a trusted proxy
 * @trusted: (element-type GInetAddressMask): the trusted proxies
 *
 * The client is the rightmost hop that is not a trusted proxy; with all of them trusted, the
 * leftmost.
 *
 * Returns: (transfer full) (nullable): the client's address, or %NULL when that hop is
 *   unnamed or there are no hops: the peer's own address counts
 */
GInetSocketAddress *
icecam_forwarded_pick_client (GPtrArray *hops, GPtrArray *trusted)
{
  for (guint i = hops->len; i > 0; i--) {
    GInetSocketAddress *hop = g_ptr_array_index (hops, i - 1);

    if (hop == NULL)
      return NULL;
    if (!icecam_proxy_is_trusted (trusted, g_inet_socket_address_get_address (hop)) || i == 1)
      return g_object_ref (hop);
  }
  return NULL;
}
