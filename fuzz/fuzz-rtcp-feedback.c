/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: loss repair's and congestion control's parsing of what peers send: generic
 * NACKs and receiver report blocks in a compound RTCP packet (the camera reads them from every
 * viewer), and RTX packets (the viewer unwraps them), with the round trips that must hold: the
 * NACK built from what was parsed names the same packets, a report block written again reads
 * back the same, and an unwrapped RTX packet wraps back to itself. */

#include <string.h>

#include "icecam-fuzz.h"
#include "icecam-rtcp-feedback.h"

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  icecam_fuzz_init ();
  return 0;
}

static void
check_nacks (const uint8_t *data, size_t size)
{
  guint16 seqs[ICECAM_RTCP_MAX_NACKED], again[ICECAM_RTCP_MAX_NACKED];
  guint8 nack[4 * 256];
  guint n = icecam_rtcp_parse_nacks (data, size, seqs, G_N_ELEMENTS (seqs));
  guint m;
  gsize length;

  if (n > G_N_ELEMENTS (seqs))
    icecam_fuzz_fail ("more sequence numbers than room");
  /* A short list fits in one NACK whatever its order. */
  n = MIN (n, 60);
  length = icecam_rtcp_build_nack (nack, sizeof nack, 1, 2, seqs, n);
  if ((n == 0) != (length == 0))
    icecam_fuzz_fail ("a NACK built for nothing, or none for something");
  m = icecam_rtcp_parse_nacks (nack, length, again, G_N_ELEMENTS (again));
  if (m != n || memcmp (seqs, again, n * sizeof seqs[0]) != 0)
    icecam_fuzz_fail ("the NACK built does not name what was parsed");
}

static void
check_rtx (const uint8_t *data, size_t size)
{
  guint8 original[2048], rtx[2050];
  gsize original_length = sizeof original, rtx_length = sizeof rtx;
  guint16 rtx_seq;

  if (size > sizeof original ||
      !icecam_rtx_unwrap (data, size, 96, 0x01020304, original, &original_length))
    return;
  if (original_length + 2 > size)
    icecam_fuzz_fail ("an unwrapped packet longer than its retransmission");
  if (!icecam_rtp_get_seq (data, size, &rtx_seq) ||
      !icecam_rtx_wrap (original, original_length, data[1] & 0x7f,
                        ((guint32) data[8] << 24) | ((guint32) data[9] << 16) |
                        ((guint32) data[10] << 8) | data[11], rtx_seq, rtx, &rtx_length))
    icecam_fuzz_fail ("an unwrapped packet does not wrap again");
  if (rtx_length != original_length + 2 || memcmp (rtx + 2, data + 2, 10) != 0)
    icecam_fuzz_fail ("unwrap and wrap changed the header");
}

static void
check_report_block (const uint8_t *data, size_t size)
{
  IcecamRtcpReportBlock block, again;
  guint8 rr[ICECAM_RTCP_RR_SIZE];

  memset (&block, 0, sizeof block);
  memset (&again, 0, sizeof again);
  if (!icecam_rtcp_find_report_block (data, size, 0, &block))
    return;
  if (icecam_rtcp_build_receiver_report (rr, sizeof rr, 1, &block) != sizeof rr ||
      !icecam_rtcp_find_report_block (rr, sizeof rr, block.ssrc, &again) ||
      memcmp (&block, &again, sizeof block) != 0)
    icecam_fuzz_fail ("a report block written again does not read back the same");
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  check_nacks (data, size);
  check_report_block (data, size);
  check_rtx (data, size);
  return 0;
}
