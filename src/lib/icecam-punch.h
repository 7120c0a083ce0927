/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Birthday punching: a UDP path between a side behind a random symmetric NAT and a side behind
 * a cone or port-restricted NAT, outside ICE (docs/design.md, "Birthday punching"). */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* The shared secret both sides put in every probe and answer (from icecam_random_bytes()). */
#define ICECAM_PUNCH_TOKEN_LENGTH 16
/* A punch packet: "icpb", kind (1 probe, 2 answer), three zero bytes, the token. */
#define ICECAM_PUNCH_PACKET_LENGTH (8 + ICECAM_PUNCH_TOKEN_LENGTH)
/* Bounds: mappings the symmetric side opens, probes the cone side sprays, time in all. */
#define ICECAM_PUNCH_MAX_SOCKETS 256
#define ICECAM_PUNCH_MAX_PROBES 1000
#define ICECAM_PUNCH_MAX_TIMEOUT_MS 10000
/* The largest port step of a counting NAT the sequential role follows. */
#define ICECAM_PUNCH_MAX_PORT_STEP 32

typedef enum {
  ICECAM_PUNCH_ROLE_CONE,      /* one socket whose mapping the peer knows; sprays random ports */
  ICECAM_PUNCH_ROLE_SYMMETRIC, /* many sockets, each sending to the cone side's mapping */
  ICECAM_PUNCH_ROLE_SEQUENTIAL, /* one socket behind a counting NAT, probing the other counting
                                 * NAT's next ports in order (docs/design.md) */
  ICECAM_PUNCH_ROLE_TCP,       /* TCP simultaneous open from the port whose mapping the peer
                                * knows, towards the peer's; the path is a framed TCP stream */
} IcecamPunchRole;

typedef enum {
  ICECAM_PUNCH_PACKET_NONE = 0, /* not a punch packet, or not ours */
  ICECAM_PUNCH_PACKET_PROBE = 1,
  ICECAM_PUNCH_PACKET_ANSWER = 2,
} IcecamPunchPacket;

/**
 * IcecamPunchConfig:
 * @role: which side this is
 * @token: the session's punch token (both sides the same)
 * @peer: the cone side's server-reflexive address (symmetric role), or the symmetric side's
 *   public address (cone role: its port is ignored, random ports of its IP are sprayed).
 *   Learned from signalling only.
 * @n_sockets: symmetric role: how many sockets (mappings) to open, 1 to 256
 * @max_probes: cone role: how many random ports to spray at most, 1 to 1000
 * @timeout_ms: when to give up, at most 10 s
 * @port_min: @port_max: cone role: the range of ports sprayed (1024-65535 for a real NAT)
 * @bind_ip: (nullable): the address the sockets the punch opens are bound to (NULL: any)
 *
 * The sequential role uses @peer (the other end's punching socket's mapping, P), @port_step
 * (the other NAT's step, S, ±1 to ±%ICECAM_PUNCH_MAX_PORT_STEP), @stride (1 or 2) and
 * @max_probes (how many ports): its k-th new destination (k = 1, 2, ...) is
 * P + S·(@stride·k − @stride + 1), one every few ms, in that order.
 *
 * The TCP role uses @peer (the other end's TCP mapping), @timeout_ms and @leader (this end's
 * token is the one in use: it keeps the first connection that worked, the other end follows
 * it); the socket given to icecam_punch_new() is the TCP socket whose mapping was signalled,
 * bound with SO_REUSEADDR and SO_REUSEPORT (icecam_punch_tcp_socket_new()).
 */
typedef struct {
  IcecamPunchRole role;
  guint8 token[ICECAM_PUNCH_TOKEN_LENGTH];
  GInetSocketAddress *peer;
  guint n_sockets;
  guint max_probes;
  guint timeout_ms;
  guint16 port_min;
  guint16 port_max;
  GInetAddress *bind_ip;
  gint port_step;
  guint stride;
  gboolean leader;
} IcecamPunchConfig;

typedef struct _IcecamPunch IcecamPunch;

/**
 * IcecamPunchDoneFunc:
 * @punch: the punch; on success icecam_punch_get_socket() and _get_remote() name the path
 * @success: whether a probe of ours was answered with the token
 *
 * Called once, in the punch's context, at the first success or when the time is over. Do not
 * free the punch from here (free it later, e.g. from an idle).
 */
typedef void (*IcecamPunchDoneFunc) (IcecamPunch *punch, gboolean success, gpointer user_data);

/**
 * IcecamPunchDataFunc:
 *
 * After success: a datagram from the peer that is not a punch packet (media of the session
 * that moved to the punched path), in the punch's context.
 */
typedef void (*IcecamPunchDataFunc) (const guint8 *data, gsize length, gpointer user_data);

/**
 * IcecamPunchAliveFunc:
 * @alive: FALSE once nothing came from the peer for %ICECAM_PUNCH_SILENCE_MS, TRUE when
 *   something does again
 *
 * After success, in the punch's context, at each change.
 */
typedef void (*IcecamPunchAliveFunc) (IcecamPunch *punch, gboolean alive, gpointer user_data);

/* After success: a keepalive probe this often; the path is dead after this much silence. */
#define ICECAM_PUNCH_KEEPALIVE_MS 500
#define ICECAM_PUNCH_SILENCE_MS 2000

void icecam_punch_config_init (IcecamPunchConfig *config, IcecamPunchRole role);
IcecamPunch *icecam_punch_new (const IcecamPunchConfig *config, GSocket *cone_socket,
                               GMainContext *context, IcecamPunchDoneFunc done,
                               gpointer user_data, GError **error);
void icecam_punch_start (IcecamPunch *punch);
GSocket *icecam_punch_get_socket (IcecamPunch *punch);
GInetSocketAddress *icecam_punch_get_remote (IcecamPunch *punch);
guint icecam_punch_get_probes_sent (IcecamPunch *punch);
gint64 icecam_punch_get_elapsed_ms (IcecamPunch *punch);
GInetSocketAddress *icecam_punch_get_local_address (IcecamPunch *punch, guint index);
void icecam_punch_set_path_funcs (IcecamPunch *punch, IcecamPunchDataFunc data,
                                  IcecamPunchAliveFunc alive, gpointer user_data);
gboolean icecam_punch_is_alive (IcecamPunch *punch);
gboolean icecam_punch_is_tcp (IcecamPunch *punch);
GSocket *icecam_punch_tcp_socket_new (GSocketFamily family, GInetSocketAddress *bind_to,
                                      GError **error);
gboolean icecam_punch_send (IcecamPunch *punch, const GOutputVector *vectors, guint n_vectors);
void icecam_punch_stop (IcecamPunch *punch);
void icecam_punch_free (IcecamPunch *punch);

gsize icecam_punch_build_packet (IcecamPunchPacket kind,
                                 const guint8 token[ICECAM_PUNCH_TOKEN_LENGTH],
                                 guint8 out[ICECAM_PUNCH_PACKET_LENGTH]);
gboolean icecam_punch_token_from_hex (const gchar *hex,
                                      guint8 token[ICECAM_PUNCH_TOKEN_LENGTH]);
IcecamPunchPacket icecam_punch_parse_packet (const guint8 *data, gsize length,
                                             const guint8 token[ICECAM_PUNCH_TOKEN_LENGTH]);

G_END_DECLS
