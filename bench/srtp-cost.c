/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What SRTP alone costs a packet of the media path: bench/media-path.sh's 1200-byte RTP
 * packets protected and unprotected through icecam's AES-GCM (src/lib/icecam-srtp-gcm.c), in
 * batches as a frame's packets go, in this thread only. The media path can be no cheaper than
 * the raw path plus this (docs/benchmarks.md, section 21).
 * Usage: bench-srtp-cost [PACKETS]   prints "srtp-cost: protect_us=... unprotect_us=..." */

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "icecam-srtp-gcm.h"

#define PACKET_SIZE 1200
#define HEADER_SIZE 12
#define BATCH 1000
#define ROOM (PACKET_SIZE + 16)

static gdouble
thread_cpu_us (void)
{
  struct timespec now;

  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &now);
  return now.tv_sec * 1e6 + now.tv_nsec / 1e3;
}

int
main (int argc, char **argv)
{
  static const guint8 key[16] = { 0x10, 0x21, 0x32, 0x43, 0x54, 0x65, 0x76, 0x87,
                                  0x98, 0xa9, 0xba, 0xcb, 0xdc, 0xed, 0xfe, 0x0f };
  static const guint8 salt[12] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
  guint packets = argc > 1 ? (guint) strtoul (argv[1], NULL, 10) : 200000;
  g_autoptr (IcecamSrtpGcm) out = icecam_srtp_gcm_new (key, salt, TRUE);
  g_autoptr (IcecamSrtpGcm) in = icecam_srtp_gcm_new (key, salt, FALSE);
  g_autofree guint8 *batch = g_malloc (BATCH * ROOM);
  gsize lengths[BATCH];
  gdouble protect_us = 0, unprotect_us = 0;
  guint16 seq = 0;
  guint done = 0;

  if (packets < BATCH) {
    g_printerr ("bench-srtp-cost: PACKETS must be at least %d\n", BATCH);
    return 2;
  }
  while (done + BATCH <= packets) {
    gdouble start;

    for (guint i = 0; i < BATCH; i++) {
      guint8 *p = batch + (gsize) i * ROOM;

      memset (p, 0x5a, PACKET_SIZE);
      p[0] = 0x80;
      p[1] = 96;
      p[2] = (guint8) (seq >> 8);
      p[3] = (guint8) seq;
      memset (p + 4, 0, 4);
      memcpy (p + 8, "\x12\x34\x56\x78", 4);
      seq++;
    }
    start = thread_cpu_us ();
    for (guint i = 0; i < BATCH; i++) {
      if (icecam_srtp_gcm_protect (out, batch + (gsize) i * ROOM, PACKET_SIZE, ROOM,
                                   &lengths[i]) != ICECAM_SRTP_GCM_OK) {
        g_printerr ("bench-srtp-cost: protect failed\n");
        return 1;
      }
    }
    protect_us += thread_cpu_us () - start;
    start = thread_cpu_us ();
    for (guint i = 0; i < BATCH; i++) {
      gsize plain = 0;

      if (icecam_srtp_gcm_unprotect (in, batch + (gsize) i * ROOM, lengths[i], &plain) !=
            ICECAM_SRTP_GCM_OK || plain != PACKET_SIZE) {
        g_printerr ("bench-srtp-cost: unprotect failed\n");
        return 1;
      }
    }
    unprotect_us += thread_cpu_us () - start;
    done += BATCH;
  }
  g_print ("srtp-cost: packets=%u protect_us=%.3f unprotect_us=%.3f\n", done,
           protect_us / done, unprotect_us / done);
  return 0;
}
