/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The JSON form of a message, written (the reader is icecam-protocol-json.c). */

#include "icecam-protocol-fields.h"

#include <string.h>

/* The text is written directly, not through json-glib's builder and generator: a relayed
 * candidate is built once per message, and the builder's nodes, objects and two GObjects took
 * a fifth of the rendezvous's time per message (docs/benchmarks.md, section 16b). The output
 * is what json-glib 1.6 writes, byte for byte (test-protocol checks it against json-glib for
 * every message type and every ASCII character), except for U+001F, which json-glib leaves
 * raw, invalid JSON, and which is escaped here like the other control characters. */

static void
append_string (GString *out, const gchar *value)
{
  static const gchar hex[] = "0123456789abcdef";
  const gchar *run = value;
  const gchar *p;

  g_string_append_c (out, '"');
  for (p = value; *p != '\0'; p++) {
    guchar c = (guchar) *p;
    const gchar *escape;

    if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f)
      continue;
    g_string_append_len (out, run, p - run);
    run = p + 1;
    switch (c) {
    case '"': escape = "\\\""; break;
    case '\\': escape = "\\\\"; break;
    case '\b': escape = "\\b"; break;
    case '\f': escape = "\\f"; break;
    case '\n': escape = "\\n"; break;
    case '\r': escape = "\\r"; break;
    case '\t': escape = "\\t"; break;
    default: escape = NULL; break;
    }
    if (escape != NULL) {
      g_string_append (out, escape);
    } else {
      g_string_append (out, "\\u00");
      g_string_append_c (out, hex[c >> 4]);
      g_string_append_c (out, hex[c & 0xf]);
    }
  }
  g_string_append_len (out, run, p - run);
  g_string_append_c (out, '"');
}

/* ,"name": (no comma before the first member) */
static void
append_name (GString *out, const gchar *name)
{
  if (out->str[out->len - 1] != '{')
    g_string_append_c (out, ',');
  append_string (out, name);
  g_string_append_c (out, ':');
}

static void
append_ice_servers (GString *out, GPtrArray *servers)
{
  g_string_append_c (out, '[');
  for (guint i = 0; servers != NULL && i < servers->len; i++) {
    const IcecamIceServer *server = g_ptr_array_index (servers, i);

    if (i > 0)
      g_string_append_c (out, ',');
    g_string_append (out, "{\"urls\":[");
    for (guint j = 0; server->urls != NULL && server->urls[j] != NULL; j++) {
      if (j > 0)
        g_string_append_c (out, ',');
      append_string (out, server->urls[j]);
    }
    g_string_append_c (out, ']');
    if (server->username != NULL) {
      append_name (out, "username");
      append_string (out, server->username);
    }
    if (server->credential != NULL) {
      append_name (out, "credential");
      append_string (out, server->credential);
    }
    g_string_append_c (out, '}');
  }
  g_string_append_c (out, ']');
}

static void
append_cameras (GString *out, gchar **cameras)
{
  g_string_append_c (out, '[');
  for (guint i = 0; cameras != NULL && cameras[i] != NULL; i++) {
    if (i > 0)
      g_string_append_c (out, ',');
    g_string_append (out, "{\"id\":");
    append_string (out, cameras[i]);
    g_string_append_c (out, '}');
  }
  g_string_append_c (out, ']');
}

static void
append_features (GString *out, IcecamFeatures features)
{
  gboolean first = TRUE;

  g_string_append_c (out, '[');
  for (guint bit = 0; bit < 8 * sizeof features; bit++) {
    const gchar *name = (features & (1u << bit)) ? icecam_feature_to_string (1u << bit) : NULL;

    if (name == NULL)
      continue;
    if (!first)
      g_string_append_c (out, ',');
    append_string (out, name);
    first = FALSE;
  }
  g_string_append_c (out, ']');
}

static void
append_field (GString *out, const FieldSpec *spec, const IcecamMessage *msg)
{
  const gchar *value;

  switch (spec->kind) {
  case FIELD_VERSION:
    append_name (out, spec->name);
    g_string_append_printf (out, "%u", msg->version);
    break;
  case FIELD_ROLE:
    if (msg->role != ICECAM_ROLE_CAMERA && msg->role != ICECAM_ROLE_VIEWER)
      break;
    append_name (out, spec->name);
    append_string (out, icecam_role_to_string (msg->role));
    break;
  case FIELD_CODE:
    append_name (out, spec->name);
    append_string (out, icecam_error_code_to_string (msg->error_code));
    break;
  case FIELD_BYE_CODE:
    if (msg->bye_code == ICECAM_BYE_CODE_NONE)
      break;
    append_name (out, spec->name);
    append_string (out, icecam_bye_code_to_string (msg->bye_code));
    break;
  case FIELD_ICE_SERVERS:
    if (!spec->required && msg->ice_servers == NULL)
      break;
    append_name (out, spec->name);
    append_ice_servers (out, msg->ice_servers);
    break;
  case FIELD_CAMERAS:
    append_name (out, spec->name);
    append_cameras (out, msg->cameras);
    break;
  case FIELD_FEATURES:
    if (msg->features == ICECAM_FEATURE_NONE)
      break;
    append_name (out, spec->name);
    append_features (out, msg->features);
    break;
  case FIELD_PORT_STEP:
    if (msg->port_step == 0)
      break;
    append_name (out, spec->name);
    g_string_append_printf (out, "%d", msg->port_step);
    break;
  case FIELD_BOOLEAN:
    /* Only true is sent: absent means false to peers that predate the field anyway. */
    if (!G_STRUCT_MEMBER (gboolean, msg, spec->offset))
      break;
    append_name (out, spec->name);
    g_string_append (out, "true");
    break;
  default:
    value = G_STRUCT_MEMBER (const gchar *, msg, spec->offset);
    if (value == NULL)
      break;
    append_name (out, spec->name);
    append_string (out, value);
    break;
  }
}

gchar *
icecam_message_to_json (const IcecamMessage *msg)
{
  const FieldSpec *fields;
  GString *out;

  g_return_val_if_fail (msg != NULL, NULL);
  g_return_val_if_fail ((guint) msg->type < ICECAM_N_MESSAGE_TYPES, NULL);

  out = g_string_sized_new (256);
  g_string_append (out, "{\"type\":");
  append_string (out, icecam_message_type_to_string (msg->type));
  fields = icecam_message_fields (msg->type);
  for (guint i = 0; i < ICECAM_MESSAGE_MAX_FIELDS && fields[i].name != NULL; i++)
    append_field (out, &fields[i], msg);
  g_string_append_c (out, '}');
  return g_string_free (out, FALSE);
}
