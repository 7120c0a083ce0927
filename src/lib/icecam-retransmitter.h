/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One viewer's retransmissions: NACKs answered from the shared history as RTX, within a cap. */

#pragma once

#include <glib.h>

#include "icecam-rtp-history.h"

G_BEGIN_DECLS

/* A viewer may have resent at most this share of the stream's rate (plus a floor). */
#define ICECAM_RETRANSMIT_SHARE 0.5
#define ICECAM_RETRANSMIT_FLOOR_BYTES_PER_S 16000

/**
 * IcecamRetransmitStats:
 * @nacked: sequence numbers the viewer asked for
 * @sent: packets resent
 * @bytes: bytes resent (plain RTX packets)
 * @missing: asked for but no longer (or never) in the history
 * @refused: asked for beyond the viewer's cap, or again too soon
 */
typedef struct {
  guint64 nacked;
  guint64 sent;
  guint64 bytes;
  guint64 missing;
  guint64 refused;
} IcecamRetransmitStats;

typedef struct _IcecamRetransmitter IcecamRetransmitter;

/**
 * IcecamRetransmitSendFunc:
 * @packet: (array length=length): a plain RTX packet
 *
 * Protects and sends one packet to the viewer.
 *
 * Returns: whether it went out
 */
typedef gboolean (*IcecamRetransmitSendFunc) (const guint8 *packet, gsize length,
                                              gpointer user_data);

IcecamRetransmitter *icecam_retransmitter_new (void);
void icecam_retransmitter_free (IcecamRetransmitter *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (IcecamRetransmitter, icecam_retransmitter_free)

guint icecam_retransmitter_answer (IcecamRetransmitter *self, IcecamRtpHistory *history,
                                   guint rtx_payload_type, guint32 rtx_ssrc,
                                   guint16 seq_offset, const guint8 *rtcp, gsize length,
                                   IcecamRetransmitSendFunc send, gpointer user_data);
void icecam_retransmitter_set_ceiling (IcecamRetransmitter *self, guint64 bytes_per_s);
void icecam_retransmitter_get_stats (IcecamRetransmitter *self, IcecamRetransmitStats *stats);

G_END_DECLS
