/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: the DTLS-SRTP endpoint (IcecamDtlsSrtp) on what arrives before any peer is
 * proved: every datagram on a session's path (and every `dtls` message relayed by the
 * rendezvous) reaches icecam_dtls_srtp_handle_incoming(), which sorts DTLS from SRTP (RFC 7983)
 * and hands DTLS records to OpenSSL. The first byte picks the role (the camera's server or the
 * viewer's client); the rest is cut into datagrams by two-byte lengths. Nobody here holds the
 * certificate the endpoint expects, so it never connects and never delivers media; whatever
 * it sends back stays within a datagram's size. */

#include "icecam-certificate.h"
#include "icecam-dtls-srtp.h"
#include "icecam-fuzz.h"

#include <string.h>

#define MAX_DATAGRAM 4096

static IcecamCertificate *local;
static gchar *expected; /* the fingerprint of a certificate no input can hold */

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  g_autoptr (IcecamCertificate) peer = NULL;

  icecam_fuzz_init ();
  icecam_srtp_prepare ();
  local = icecam_certificate_new_ephemeral (NULL);
  peer = icecam_certificate_new_ephemeral (NULL);
  if (local == NULL || peer == NULL)
    icecam_fuzz_fail ("no certificate");
  expected = g_strdup (icecam_certificate_get_fingerprint (peer));
  return 0;
}

static void
on_send (const guint8 *data, gsize length, gpointer user_data)
{
  if (length == 0 || length > MAX_DATAGRAM)
    icecam_fuzz_fail ("the endpoint sent a datagram of %" G_GSIZE_FORMAT " bytes", length);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (IcecamDtlsSrtp) dtls = NULL;
  gboolean client;

  if (size < 1 || size > 16384)
    return 0;
  client = (data[0] & 1) != 0;
  dtls = icecam_dtls_srtp_new (local, client, expected, NULL);
  if (dtls == NULL)
    icecam_fuzz_fail ("no DTLS endpoint");
  icecam_dtls_srtp_set_send_func (dtls, on_send, NULL, NULL);
  if ((data[0] & 2) == 0)
    icecam_dtls_srtp_start (dtls);
  for (gsize at = 1; at + 2 <= size;) {
    gsize length = MIN ((gsize) data[at] << 8 | data[at + 1], size - at - 2);
    /* each datagram alone in its allocation, so that ASan sees any read past it */
    g_autofree guint8 *datagram = g_malloc (MAX (length, 1));
    guint8 out[MAX_DATAGRAM];
    gsize out_length = sizeof out;

    memcpy (datagram, data + at + 2, length);
    if (icecam_dtls_srtp_handle_incoming (dtls, datagram, length, out, &out_length, NULL) ==
        ICECAM_DTLS_SRTP_RESULT_MEDIA)
      icecam_fuzz_fail ("media from a peer that proved nothing");
    if (icecam_dtls_srtp_get_state (dtls) == ICECAM_DTLS_STATE_CONNECTED)
      icecam_fuzz_fail ("connected to a peer without the expected certificate");
    at += 2 + length;
  }
  return 0;
}
