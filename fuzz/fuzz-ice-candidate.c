/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: a trickled remote candidate given to icecam_ice_session_add_remote_candidate(),
 * parsed by libnice and added to the session's agent. */

#include "icecam-fuzz.h"
#include "icecam-ice-session.h"

/* One session for the whole run: an agent per input would cost more than the parse. It never
 * gathers, so it has no local candidate, no pair to check and sends nothing; the main context
 * is never iterated, so no timer of the agent runs either. */
static IcecamIceSession *session;

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  g_autoptr (IcecamIceConfig) config = icecam_ice_config_new ();
  g_autoptr (GError) error = NULL;
  const gchar *loopback[] = { "127.0.0.1", NULL };

  icecam_fuzz_init ();
  config->local_addresses = g_strdupv ((gchar **) loopback);
  config->ice_tcp = TRUE; /* so that tcp candidates are as welcome as they are in use */
  session = icecam_ice_session_new (config, TRUE, &error);
  if (session == NULL)
    icecam_fuzz_fail ("cannot create the ICE session: %s", error->message);
  /* With credentials known, candidates are parsed and added at once rather than queued. */
  if (!icecam_ice_session_set_remote_credentials (session, "fUzZ", "fuzzfuzzfuzzfuzzfuzzfuzz",
                                                  &error))
    icecam_fuzz_fail ("cannot set the remote credentials: %s", error->message);
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  /* A candidate arrives as a C string (from JSON or an SDP line). */
  g_autofree gchar *candidate = g_strndup ((const gchar *) data, size);
  g_autoptr (GError) error = NULL;

  if (!icecam_ice_session_add_remote_candidate (session, candidate, &error) &&
      (error == NULL || error->domain != ICECAM_ICE_SESSION_ERROR))
    icecam_fuzz_fail ("refused candidate without an ICECAM_ICE_SESSION_ERROR");
  return 0;
}
