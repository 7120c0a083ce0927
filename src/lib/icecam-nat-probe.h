/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* RFC 5780 NAT behaviour discovery over UDP: which NAT this host is behind. */

#pragma once

#include <gio/gio.h>

#include "icecam-nat-verdict.h"

G_BEGIN_DECLS

/**
 * ICECAM_NAT_PROBE_DEFAULT_PORT:
 *
 * The STUN port of a "stun:HOST" URL without one (RFC 8489).
 */
#define ICECAM_NAT_PROBE_DEFAULT_PORT 3478

/**
 * ICECAM_NAT_PROBE_DEFAULT_TIMEOUT_MS:
 *
 * How long one test waits for its answer, retransmissions included, unless told otherwise.
 */
#define ICECAM_NAT_PROBE_DEFAULT_TIMEOUT_MS 3000

/**
 * ICECAM_NAT_PROBE_DEFAULT_MAX_LIFETIME_S:
 *
 * The longest idle time the mapping lifetime test waits, unless told otherwise.
 */
#define ICECAM_NAT_PROBE_DEFAULT_MAX_LIFETIME_S 120

#define ICECAM_NAT_PROBE_ERROR (icecam_nat_probe_error_quark ())
GQuark icecam_nat_probe_error_quark (void);

/**
 * IcecamNatProbeError:
 * @ICECAM_NAT_PROBE_ERROR_BAD_URL: not a stun:, ws: or wss: URL
 * @ICECAM_NAT_PROBE_ERROR_RESOLVE: the server's name has no usable address
 * @ICECAM_NAT_PROBE_ERROR_SOCKET: no local UDP socket could be opened towards the server
 *   (no route, or the local address is not on this host)
 *
 * Why a probe could not run at all. A server that does not answer is not an error: it is the
 * "UDP blocked" verdict.
 */
typedef enum {
  ICECAM_NAT_PROBE_ERROR_BAD_URL,
  ICECAM_NAT_PROBE_ERROR_RESOLVE,
  ICECAM_NAT_PROBE_ERROR_SOCKET,
} IcecamNatProbeError;

#define ICECAM_TYPE_NAT_PROBE (icecam_nat_probe_get_type ())
G_DECLARE_FINAL_TYPE (IcecamNatProbe, icecam_nat_probe, ICECAM, NAT_PROBE, GObject)

GSocketConnectable *icecam_nat_probe_parse_server (const gchar *url, GError **error);

IcecamNatProbe *icecam_nat_probe_new (GSocketConnectable *server);
void icecam_nat_probe_set_local_address (IcecamNatProbe *self, GInetAddress *address);
void icecam_nat_probe_set_timeout (IcecamNatProbe *self, guint timeout_ms);
void icecam_nat_probe_set_lifetime (IcecamNatProbe *self, gboolean measure, guint max_s);

void icecam_nat_probe_run_async (IcecamNatProbe *self, GCancellable *cancellable,
                                 GAsyncReadyCallback callback, gpointer user_data);
IcecamNatVerdict *icecam_nat_probe_run_finish (IcecamNatProbe *self, GAsyncResult *result,
                                               GError **error);

G_END_DECLS
