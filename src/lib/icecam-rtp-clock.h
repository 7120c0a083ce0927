/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Where each RTP source's timestamps sit on a clock: one (RTP timestamp, time) pair per SSRC.
 * The camera notes when each packet's content was captured (its sender reports tell that, not
 * when the packet left); the viewer notes the sender reports, and lines audio up with video. */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define ICECAM_RTP_CLOCK_MAX_SOURCES 8

typedef struct _IcecamRtpClock IcecamRtpClock;

IcecamRtpClock *icecam_rtp_clock_new (void);
IcecamRtpClock *icecam_rtp_clock_ref (IcecamRtpClock *self);
void icecam_rtp_clock_unref (IcecamRtpClock *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (IcecamRtpClock, icecam_rtp_clock_unref)

void icecam_rtp_clock_note (IcecamRtpClock *self, guint32 ssrc, guint32 rtp_timestamp,
                            gint64 time_us);
gboolean icecam_rtp_clock_lookup (IcecamRtpClock *self, guint32 ssrc, guint32 *rtp_timestamp,
                                  gint64 *time_us);
void icecam_rtp_clock_clear (IcecamRtpClock *self);

gint64 icecam_rtp_clock_time_of (guint32 reference_timestamp, gint64 reference_us,
                                 guint32 rtp_timestamp, guint32 clock_rate);
guint32 icecam_rtp_clock_timestamp_at (guint32 reference_timestamp, gint64 reference_us,
                                       gint64 time_us, guint32 clock_rate);
gint64 icecam_rtp_clock_unix_us_from_ntp (guint64 ntp_time);

G_END_DECLS
