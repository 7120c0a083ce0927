/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The rendezvous's plain HTTP answers: /healthz, /metrics, and 404 for any other path. */

#pragma once

#include <libsoup/soup.h>

#include "icecam-admission.h"
#include "icecam-registry.h"
#include "icecam-stun-responder.h"

G_BEGIN_DECLS

/**
 * IcecamHttpEndpointsStats:
 * @registry: the registry's counters
 * @admission: the admission policy's counters
 * @stun_running: whether the STUN responder runs; @stun is meaningful only then
 * @stun: the STUN responder's counters
 * @relays: (nullable) (element-type IcecamRegistryRelay): the relays, their health and
 *   sessions assigned (icecam_registry_get_relays()); freed by the endpoint
 * @cluster: (nullable): "ok" or "degraded" for a cluster node (`--cluster`), NULL alone
 *
 * What /healthz and /metrics report, gathered afresh for every request.
 */
typedef struct {
  IcecamRegistryStats registry;
  IcecamAdmissionStats admission;
  gboolean stun_running;
  IcecamStunResponderStats stun;
  GArray *relays;
  const gchar *cluster;
} IcecamHttpEndpointsStats;

/**
 * IcecamHttpEndpointsStatsFunc:
 * @stats: (out caller-allocates): where to store the counters
 * @user_data: the data given to icecam_http_endpoints_add()
 *
 * Fills @stats with the current counters.
 */
typedef void (*IcecamHttpEndpointsStatsFunc) (IcecamHttpEndpointsStats *stats,
                                              gpointer user_data);

void icecam_http_endpoints_add (SoupServer *server, IcecamHttpEndpointsStatsFunc get_stats,
                                gpointer user_data);

G_END_DECLS
