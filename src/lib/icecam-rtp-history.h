/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The camera's short memory of the RTP packets it sent, shared by all viewers, for
 * retransmissions. */

#pragma once

#include <glib.h>
#include <nice/agent.h>

G_BEGIN_DECLS

/* Packets older than this are not resent: the viewer has given up on them. */
#define ICECAM_RTP_HISTORY_MAX_AGE_US (1000 * 1000)
/* Slots, by sequence number modulo this: 1 s of a 10 Mbit/s stream of 1200-byte packets. */
#define ICECAM_RTP_HISTORY_SLOTS 1024
/* Longest packet kept. */
#define ICECAM_RTP_HISTORY_MAX_PACKET 1500

typedef struct _IcecamRtpHistory IcecamRtpHistory;

IcecamRtpHistory *icecam_rtp_history_new (void);
void icecam_rtp_history_free (IcecamRtpHistory *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (IcecamRtpHistory, icecam_rtp_history_free)

void icecam_rtp_history_push (IcecamRtpHistory *self, const NiceOutputMessage *messages,
                              guint n_messages, gint64 now);
gboolean icecam_rtp_history_copy (IcecamRtpHistory *self, guint16 seq, gint64 now, guint8 *out,
                                  gsize *length);
guint64 icecam_rtp_history_get_rate (IcecamRtpHistory *self, gint64 now);

G_END_DECLS
