/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the two halves of the protocol code (values, JSON form) share and nobody else needs. */

#pragma once

#include "icecam-protocol.h"

G_BEGIN_DECLS

#define ICECAM_N_MESSAGE_TYPES (ICECAM_MESSAGE_DTLS + 1)
#define ICECAM_N_ERROR_CODES (ICECAM_ERROR_CODE_LIMIT_EXCEEDED + 1)

gboolean icecam_message_type_from_string (const gchar *name, IcecamMessageType *type);
gboolean icecam_role_from_string (const gchar *name, IcecamRole *role);
gboolean icecam_error_code_from_string (const gchar *name, IcecamErrorCode *code);
IcecamByeCode icecam_bye_code_from_string (const gchar *name);
IcecamFeatures icecam_feature_from_string (const gchar *name);
/* For tests: icecam_message_parse() with every text through json-glib, not the flat reader. */
IcecamMessage *icecam_message_parse_with_json_glib (const gchar *text, gsize length,
                                                    GError **error);

G_END_DECLS
