/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Short-lived TURN credentials of the REST scheme coturn checks with use-auth-secret. */

#include "icecam-turn-credentials.h"

#include <string.h>

/**
 * icecam_turn_credentials_password:
 * @secret: the secret shared with the TURN server (coturn's static-auth-secret)
 * @username: the username, "<expiry>:<user>"
 *
 * Returns: (transfer full): base64 (HMAC-SHA1 (@secret, @username))
 */
gchar *
icecam_turn_credentials_password (const gchar *secret, const gchar *username)
{
  g_autoptr (GHmac) hmac = g_hmac_new (G_CHECKSUM_SHA1, (const guchar *) secret, strlen (secret));
  guint8 digest[20];
  gsize len = sizeof digest;

  g_hmac_update (hmac, (const guchar *) username, -1);
  g_hmac_get_digest (hmac, digest, &len);
  return g_base64_encode (digest, len);
}

/**
 * icecam_turn_credentials_mint:
 * @urls: (array zero-terminated=1): the TURN URLs the credentials are for
 * @secret: the shared secret
 * @user: who they are for (any text without ':'; coturn does not check it)
 * @now_unix: the current time, seconds since the epoch
 * @ttl_seconds: how long they stay valid
 *
 * Returns: (transfer full): a TURN server entry with username "<now + ttl>:<user>"
 */
IcecamIceServer *
icecam_turn_credentials_mint (const gchar * const *urls, const gchar *secret, const gchar *user,
                              gint64 now_unix, guint ttl_seconds)
{
  g_autofree gchar *username = g_strdup_printf ("%" G_GINT64_FORMAT ":%s",
                                                now_unix + ttl_seconds, user);
  g_autofree gchar *password = icecam_turn_credentials_password (secret, username);

  return icecam_ice_server_new (urls, username, password);
}
