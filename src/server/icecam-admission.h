/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The rendezvous's admission policy: connection limits, deadlines, message rate, silence. */

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
 * ICECAM_ADMISSION_DEFAULT_HANDSHAKE_TIMEOUT_S:
 *
 * Seconds a TCP connection has, from the moment it is accepted, to send its HTTP request and
 * be upgraded to a WebSocket (or be answered and closed, for plain HTTP): a real client needs
 * one round trip (two or three with TLS), a half-open one would otherwise hold its descriptor
 * for ever.
 */
#define ICECAM_ADMISSION_DEFAULT_HANDSHAKE_TIMEOUT_S 5

/**
 * ICECAM_ADMISSION_DEFAULT_HELLO_TIMEOUT_S:
 *
 * Seconds an upgraded connection has to say a `hello` the server welcomes (a camera that must
 * prove its secret answers a challenge first).
 */
#define ICECAM_ADMISSION_DEFAULT_HELLO_TIMEOUT_S 10

/**
 * ICECAM_ADMISSION_DEFAULT_IPV6_PREFIX_LENGTH:
 *
 * IPv6 clients count for the per-address limit by their first this many bits: every IPv6
 * client has a whole /64 to choose addresses from.
 */
#define ICECAM_ADMISSION_DEFAULT_IPV6_PREFIX_LENGTH 64

/**
 * ICECAM_ADMISSION_DESCRIPTOR_RESERVE:
 *
 * Descriptors kept out of the global connection cap for everything else the process opens:
 * listening and STUN sockets, the epoll set, GLib's wake-ups, TLS and certificate files.
 */
#define ICECAM_ADMISSION_DESCRIPTOR_RESERVE 128

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
 * @ICECAM_ADMISSION_AT_CAPACITY: the process holds the global maximum of connections: the new
 *   one is closed at once and not kept
 * @ICECAM_ADMISSION_MISSED_DEADLINE: it did not finish its HTTP request and upgrade, or its
 *   `hello`, in time: refused
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
  ICECAM_ADMISSION_AT_CAPACITY,
  ICECAM_ADMISSION_MISSED_DEADLINE,
  ICECAM_ADMISSION_INVALID,
} IcecamAdmissionVerdict;

/**
 * IcecamAdmissionStats:
 * @connections: connections open, refused ones included until they are closed
 * @connections_refused: connections refused for their address's limit, since start
 * @rate_limited: connections refused for their message rate, since start
 * @silent_closed: connections refused for their silence, since start
 * @deadline_closed: connections refused for missing the handshake or hello deadline, since
 *   start
 * @capacity_refused: connections closed at once at the global maximum, since start
 *
 * Counters for health and metrics endpoints.
 */
typedef struct {
  guint connections;
  guint64 connections_refused;
  guint64 rate_limited;
  guint64 silent_closed;
  guint64 deadline_closed;
  guint64 capacity_refused;
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
void icecam_admission_set_max_connections (IcecamAdmission *self, guint max);
guint icecam_admission_get_max_connections (IcecamAdmission *self);
void icecam_admission_set_deadlines (IcecamAdmission *self, guint handshake_s, guint hello_s);
guint icecam_admission_get_deadline_check_interval_ms (IcecamAdmission *self);
gboolean icecam_admission_set_ipv6_prefix_length (IcecamAdmission *self, guint length);
gchar *icecam_admission_address_key (IcecamAdmission *self, const gchar *address);
guint icecam_admission_max_connections_for_descriptors (guint64 descriptor_limit);

IcecamAdmissionVerdict icecam_admission_accept (IcecamAdmission *self, guint64 id,
                                                gint64 now_us);

IcecamAdmissionVerdict icecam_admission_open (IcecamAdmission *self, guint64 id,
                                              const gchar *address, gint64 now_us,
                                              gchar **refusal);
IcecamAdmissionVerdict icecam_admission_message (IcecamAdmission *self, guint64 id, gsize size,
                                                 gint64 now_us, gchar **refusal);
void icecam_admission_heard (IcecamAdmission *self, guint64 id, gint64 now_us);
void icecam_admission_welcomed (IcecamAdmission *self, guint64 id);
void icecam_admission_not_http (IcecamAdmission *self, guint64 id);
GArray *icecam_admission_take_silent (IcecamAdmission *self, gint64 now_us);
GArray *icecam_admission_take_overdue (IcecamAdmission *self, gint64 now_us);
void icecam_admission_close (IcecamAdmission *self, guint64 id);

void icecam_admission_get_stats (IcecamAdmission *self, IcecamAdmissionStats *stats);

G_END_DECLS
