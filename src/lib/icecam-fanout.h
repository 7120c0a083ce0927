/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One encoded stream to many peer sessions: who receives, and from which packet on. */

#pragma once

#include <gio/gio.h>
#include <nice/agent.h>

#include "icecam-peer-session.h"

G_BEGIN_DECLS

typedef struct _IcecamFanout IcecamFanout;

/* A receiver starts from the GOP cache: @n_packets since the keyframe, @span_ms of video. */
typedef void (*IcecamFanoutCacheFunc) (IcecamPeerSession *peer, guint n_packets, guint span_ms,
                                       gpointer data);

IcecamFanout *icecam_fanout_new (void);
void icecam_fanout_free (IcecamFanout *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (IcecamFanout, icecam_fanout_free)

void icecam_fanout_set_gop_cache (IcecamFanout *self, gboolean enabled,
                                  IcecamFanoutCacheFunc func, gpointer data);
void icecam_fanout_add (IcecamFanout *self, IcecamPeerSession *peer, gboolean from_keyframe);
void icecam_fanout_remove (IcecamFanout *self, IcecamPeerSession *peer);
void icecam_fanout_clear (IcecamFanout *self);
guint icecam_fanout_send (IcecamFanout *self, const NiceOutputMessage *messages,
                          guint n_messages);
guint icecam_fanout_send_ungated (IcecamFanout *self, const NiceOutputMessage *messages,
                                  guint n_messages);
guint icecam_fanout_get_n_peers (IcecamFanout *self);
void icecam_fanout_set_reduced (IcecamFanout *self, IcecamPeerSession *peer, gboolean reduced);
gboolean icecam_fanout_get_renumbering (IcecamFanout *self, IcecamPeerSession *peer,
                                        guint16 *seq_offset);

G_END_DECLS
