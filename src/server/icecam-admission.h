/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The rendezvous's admission policy: connections per address, message rate, silence. */

#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/**
 * ICECAM_ADMISSION_DEFAULT_MAX_CONNECTIONS_PER_ADDRESS:
 *
 * How many signalling connections one IP address may hold open unless configured otherwise:
 * room for a household's cameras and viewers behind one NAT, not for a flood.
 */
#define ICECAM_ADMISSION_DEFAULT_MAX_CONNECTIONS_PER_ADDRESS 64

/**
 * ICECAM_ADMISSION_DEFAULT_MESSAGE_RATE:
 *
 * Messages per second one connection may send, sustained, unless configured otherwise; every
 * further %ICECAM_ADMISSION_BYTES_PER_MESSAGE bytes of a message count as one more message.
 */
#define ICECAM_ADMISSION_DEFAULT_MESSAGE_RATE 100

/**
 * ICECAM_ADMISSION_DEFAULT_MESSAGE_BURST:
 *
 * How many messages one connection may send at once above the sustained rate: a camera that
 * 16 viewers join at the same moment sends about 16 x 12 (offer, candidates, end).
 */
#define ICECAM_ADMISSION_DEFAULT_MESSAGE_BURST 400

/**
 * ICECAM_ADMISSION_DEFAULT_KEEPALIVE_INTERVAL_S:
 *
 * Seconds between the pings sent on every connection: they keep NAT mappings and proxies from
 * dropping idle signalling connections.
 */
#define ICECAM_ADMISSION_DEFAULT_KEEPALIVE_INTERVAL_S 20

/**
 * ICECAM_ADMISSION_DEFAULT_SILENCE_LIMIT_S:
 *
 * A client that answers neither the pings nor anything else for this long is gone (power cut,
 * cable pulled) or not reading what it is sent, which would otherwise pile up in the server.
 */
#define ICECAM_ADMISSION_DEFAULT_SILENCE_LIMIT_S 60

/**
 * ICECAM_ADMISSION_BYTES_PER_MESSAGE:
 *
 * For the message rate, each further this many bytes of a message count as one message.
 */
#define ICECAM_ADMISSION_BYTES_PER_MESSAGE 4096

/**
 * IcecamAdmissionVerdict:
 * @ICECAM_ADMISSION_ALLOW: admitted, within its rate, or not silent: carry on
 * @ICECAM_ADMISSION_TOO_MANY_CONNECTIONS: its address holds more connections than the limit;
 *   the connection is refused but counts for its address until it is closed
 * @ICECAM_ADMISSION_OVER_RATE: it sent faster than the message rate: refused
 * @ICECAM_ADMISSION_SILENT: it sent nothing and answered no ping for the silence limit: refused
 * @ICECAM_ADMISSION_CLOSING: it was refused before; drop what it still sends
 * @ICECAM_ADMISSION_INVALID: an unknown or already open connection id, or an empty address;
 *   nothing was changed
 *
 * The answers of an #IcecamAdmission. A connection is refused at most once; from then on it
 * is closing until the caller reports it closed.
 */
typedef enum {
  ICECAM_ADMISSION_ALLOW,
  ICECAM_ADMISSION_TOO_MANY_CONNECTIONS,
  ICECAM_ADMISSION_OVER_RATE,
  ICECAM_ADMISSION_SILENT,
  ICECAM_ADMISSION_CLOSING,
  ICECAM_ADMISSION_INVALID,
} IcecamAdmissionVerdict;

/**
 * IcecamAdmissionStats:
 * @connections: connections open, refused ones included until they are closed
 * @connections_refused: connections refused for their address's limit, since start
 * @rate_limited: connections refused for their message rate, since start
 * @silent_closed: connections refused for their silence, since start
 *
 * Counters for health and metrics endpoints.
 */
typedef struct {
  guint connections;
  guint64 connections_refused;
  guint64 rate_limited;
  guint64 silent_closed;
} IcecamAdmissionStats;

#define ICECAM_TYPE_ADMISSION (icecam_admission_get_type ())
G_DECLARE_FINAL_TYPE (IcecamAdmission, icecam_admission, ICECAM, ADMISSION, GObject)

IcecamAdmission *icecam_admission_new (void);

void icecam_admission_set_max_connections_per_address (IcecamAdmission *self, guint max);
gboolean icecam_admission_set_message_rate (IcecamAdmission *self, guint per_second,
                                            guint burst);
gboolean icecam_admission_set_keepalive (IcecamAdmission *self, guint interval_s,
                                         guint silence_limit_s);
guint icecam_admission_get_keepalive_interval (IcecamAdmission *self);
guint icecam_admission_get_silence_limit (IcecamAdmission *self);

IcecamAdmissionVerdict icecam_admission_open (IcecamAdmission *self, guint64 id,
                                              const gchar *address, gint64 now_us,
                                              gchar **refusal);
IcecamAdmissionVerdict icecam_admission_message (IcecamAdmission *self, guint64 id, gsize size,
                                                 gint64 now_us, gchar **refusal);
void icecam_admission_heard (IcecamAdmission *self, guint64 id, gint64 now_us);
GArray *icecam_admission_take_silent (IcecamAdmission *self, gint64 now_us);
void icecam_admission_close (IcecamAdmission *self, guint64 id);

void icecam_admission_get_stats (IcecamAdmission *self, IcecamAdmissionStats *stats);

G_END_DECLS
