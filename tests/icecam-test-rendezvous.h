/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Helpers for test programs that run the rendezvous in process, on 127.0.0.1. */

#pragma once

#include "icecam-rendezvous.h"
#include "icecam-test-util.h"

/* A rendezvous listening on 127.0.0.1:@port (0: a port the system picks), with its STUN
 * responder if @stun. %NULL with @error set if it cannot listen, e.g. @port is taken. */
static inline IcecamRendezvous *
icecam_test_rendezvous_new (guint port, gboolean stun, GError **error)
{
  IcecamRendezvous *rendezvous = icecam_rendezvous_new ();

  icecam_rendezvous_set_stun_enabled (rendezvous, stun);
  if (!icecam_rendezvous_listen (rendezvous, "127.0.0.1", port, error)) {
    g_object_unref (rendezvous);
    return NULL;
  }
  g_assert_cmpuint (icecam_rendezvous_get_port (rendezvous), !=, 0);
  return rendezvous;
}

/* Serves wss:// with a new self-signed certificate for 127.0.0.1 (before listening); returns
 * its directory, for icecam_test_remove_dir(). */
static inline gchar *
icecam_test_rendezvous_use_certificate (IcecamRendezvous *rendezvous)
{
  gchar *dir = icecam_test_make_certificate ();
  g_autofree gchar *cert = g_build_filename (dir, "cert.pem", NULL);
  g_autofree gchar *key = g_build_filename (dir, "key.pem", NULL);
  g_autoptr (GError) error = NULL;

  g_assert_true (icecam_rendezvous_set_tls_files (rendezvous, cert, key, &error));
  g_assert_no_error (error);
  return dir;
}

static inline IcecamRegistryStats
icecam_test_rendezvous_get_stats (IcecamRendezvous *rendezvous)
{
  IcecamRegistryStats stats;

  icecam_registry_get_stats (icecam_rendezvous_get_registry (rendezvous), &stats);
  return stats;
}

/* Waits until the server has forgotten every peer (each client closed its WebSocket), then
 * drops the last reference: nothing else may hold the rendezvous. */
static inline void
icecam_test_rendezvous_finalize (IcecamRendezvous *rendezvous)
{
  g_assert_true (WAIT_UNTIL (icecam_test_rendezvous_get_stats (rendezvous).peers == 0));
  g_assert_finalize_object (rendezvous);
}
