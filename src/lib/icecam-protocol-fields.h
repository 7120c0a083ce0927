/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The fields of each message, which the JSON reader (icecam-protocol-json.c) checks and the
 * writer (icecam-protocol-write.c) writes, in the same order. Private to the protocol code. */

#pragma once

#include "icecam-protocol-private.h"

G_BEGIN_DECLS

#define ICECAM_MESSAGE_MAX_FIELDS 8

/* How a field is checked and stored. The string kinds and FIELD_BOOLEAN live at
 * FieldSpec.offset in the struct; the others have their own struct member. */
typedef enum {
  FIELD_ID,
  FIELD_SDP,
  FIELD_CANDIDATE,
  FIELD_TEXT,
  FIELD_TOKEN,
  FIELD_SECRET,
  FIELD_BOOLEAN,
  FIELD_FEATURES,
  FIELD_VERSION,
  FIELD_ROLE,
  FIELD_CODE,
  FIELD_BYE_CODE,
  FIELD_ICE_SERVERS,
  FIELD_CAMERAS,
  FIELD_PORT_STEP,
  FIELD_DATA,
} FieldKind;

typedef struct {
  const gchar *name;
  FieldKind kind;
  gboolean required;
  gsize offset;
} FieldSpec;

#define STRING_FIELD(name, kind, required, member) \
  { name, kind, required, G_STRUCT_OFFSET (IcecamMessage, member) }
#define BOOLEAN_FIELD(name, required, member) \
  { name, FIELD_BOOLEAN, required, G_STRUCT_OFFSET (IcecamMessage, member) }
#define OTHER_FIELD(name, kind, required) { name, kind, required, 0 }

const FieldSpec *icecam_message_fields (IcecamMessageType type);

G_END_DECLS
