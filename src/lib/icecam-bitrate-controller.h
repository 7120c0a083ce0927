/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Congestion control for one shared encoder: a bandwidth estimate per viewer from its receiver
 * reports, and the encoder's target between a minimum and a maximum. */

#pragma once

#include "icecam-rtcp-feedback.h"

G_BEGIN_DECLS

/**
 * IcecamViewerRate:
 * @estimate_kbps: what the viewer's path is estimated to carry
 * @sent_kbps: what was sent to it over the last report interval (media and retransmissions)
 * @rtt_ms: the last round trip measured from its reports, -1 before the first
 * @loss: the fraction of packets its last report says were lost, 0..1
 * @reduced: it is far below the others: it gets a reduced stream (keyframes only) and does not
 *   hold the encoder down
 */
typedef struct {
  guint estimate_kbps;
  guint sent_kbps;
  gint rtt_ms;
  gdouble loss;
  gboolean reduced;
} IcecamViewerRate;

typedef struct _IcecamBitrateController IcecamBitrateController;

IcecamBitrateController *icecam_bitrate_controller_new (guint min_kbps, guint max_kbps);
void icecam_bitrate_controller_free (IcecamBitrateController *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (IcecamBitrateController, icecam_bitrate_controller_free)

void icecam_bitrate_controller_set_limits (IcecamBitrateController *self, guint min_kbps,
                                           guint max_kbps);
void icecam_bitrate_controller_set_enabled (IcecamBitrateController *self, gboolean enabled);
void icecam_bitrate_controller_add_viewer (IcecamBitrateController *self, gconstpointer viewer);
void icecam_bitrate_controller_add_viewer_at (IcecamBitrateController *self, gconstpointer viewer,
                                              guint start_kbps);
void icecam_bitrate_controller_remove_viewer (IcecamBitrateController *self,
                                              gconstpointer viewer);
void icecam_bitrate_controller_report (IcecamBitrateController *self, gconstpointer viewer,
                                       const IcecamRtcpReportBlock *block, guint64 bytes_sent,
                                       guint64 ntp_now, gint64 now);
guint icecam_bitrate_controller_get_target_kbps (IcecamBitrateController *self);
gboolean icecam_bitrate_controller_is_congested (IcecamBitrateController *self, gint64 now);
gboolean icecam_bitrate_controller_get_viewer (IcecamBitrateController *self,
                                               gconstpointer viewer, IcecamViewerRate *rate);

G_END_DECLS
