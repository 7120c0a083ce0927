/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Access grants: viewer tokens, camera proofs over a nonce, random nonces, secret compares. */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define ICECAM_TOKEN_ERROR (icecam_token_error_quark ())
GQuark icecam_token_error_quark (void);

typedef enum {
  ICECAM_TOKEN_ERROR_MALFORMED, /* not a token of this format */
  ICECAM_TOKEN_ERROR_SIGNATURE, /* not signed with this rendezvous's key: forged or foreign */
  ICECAM_TOKEN_ERROR_EXPIRED,   /* past its expiry */
} IcecamTokenError;

/* Grants every camera when it is the only entry of a token's camera list. */
#define ICECAM_TOKEN_ANY_CAMERA "*"

gchar *icecam_token_mint (const gchar *key, const gchar * const *cameras, gint64 expiry_unix);
gboolean icecam_token_verify (const gchar *key, const gchar *token, gint64 now_unix,
                              gchar ***cameras, gint64 *expiry_unix, GError **error);
gboolean icecam_token_grants (const gchar * const *cameras, const gchar *camera);
gchar *icecam_camera_proof (const gchar *secret, const gchar *camera_id, const gchar *nonce);
gboolean icecam_camera_proof_check (const gchar *secret, const gchar *camera_id,
                                    const gchar *nonce, const gchar *proof);
gchar *icecam_random_hex (gsize n_bytes);
gboolean icecam_secret_equal (const gchar *expected, const gchar *given);

G_END_DECLS
