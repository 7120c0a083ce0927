/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The RTP packets since the last H.264 keyframe, for viewers of a source that cannot make one. */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A new viewer gets its first burst at once, then the rest at a bounded rate. */
#define ICECAM_GOP_CACHE_BURST_BYTES (128 * 1024)
#define ICECAM_GOP_CACHE_RATE_BYTES_PER_S (2500 * 1000) /* 20 Mbit/s */
#define ICECAM_GOP_CACHE_MAX_BYTES (16 * 1024 * 1024)

typedef struct _IcecamGopCache IcecamGopCache;

/* One viewer's way through the cache; used by the thread that pushes only. */
typedef struct {
  GPtrArray *gop; /* (element-type GBytes): the group it is reading; NULL: not started */
  guint next;
  gint64 started_us;
  gsize sent_bytes;
} IcecamGopCursor;

typedef enum {
  ICECAM_GOP_CURSOR_CATCHING_UP, /* more cached packets to send */
  ICECAM_GOP_CURSOR_LIVE,        /* caught up: the packets pushed last were among those taken */
  ICECAM_GOP_CURSOR_LOST,        /* the cache gave up its group (too big): wait for a keyframe */
} IcecamGopCursorState;

IcecamGopCache *icecam_gop_cache_new (gsize max_bytes);
void icecam_gop_cache_free (IcecamGopCache *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (IcecamGopCache, icecam_gop_cache_free)

void icecam_gop_cache_push (IcecamGopCache *self, const guint8 * const *packets,
                            const gsize *lengths, guint n_packets);
gboolean icecam_gop_cache_start (IcecamGopCache *self, IcecamGopCursor *cursor, gint64 now_us,
                                 guint *n_packets, guint *span_ms);
IcecamGopCursorState icecam_gop_cache_take (IcecamGopCache *self, IcecamGopCursor *cursor,
                                            gint64 now_us, GPtrArray *out);
void icecam_gop_cursor_clear (IcecamGopCursor *cursor);

G_END_DECLS
