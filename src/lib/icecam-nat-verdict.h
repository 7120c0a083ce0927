/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What a NAT probe found, the classic NAT type it amounts to and what it means for icecam. */

#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "icecam-nat-ports.h"

G_BEGIN_DECLS

/**
 * IcecamNatBehaviour:
 * @ICECAM_NAT_BEHAVIOUR_UNKNOWN: not tested, or the test could not tell
 * @ICECAM_NAT_BEHAVIOUR_ENDPOINT_INDEPENDENT: the same for every remote address and port
 * @ICECAM_NAT_BEHAVIOUR_ADDRESS_DEPENDENT: depends on the remote IP address only
 * @ICECAM_NAT_BEHAVIOUR_ADDRESS_AND_PORT_DEPENDENT: depends on the remote IP address and port
 *
 * A NAT's mapping or filtering behaviour, in the terms of RFC 4787.
 */
typedef enum {
  ICECAM_NAT_BEHAVIOUR_UNKNOWN,
  ICECAM_NAT_BEHAVIOUR_ENDPOINT_INDEPENDENT,
  ICECAM_NAT_BEHAVIOUR_ADDRESS_DEPENDENT,
  ICECAM_NAT_BEHAVIOUR_ADDRESS_AND_PORT_DEPENDENT,
} IcecamNatBehaviour;

/**
 * IcecamNatAnswer:
 * @ICECAM_NAT_ANSWER_UNKNOWN: not tested, or the test could not tell
 * @ICECAM_NAT_ANSWER_NO: no
 * @ICECAM_NAT_ANSWER_YES: yes
 *
 * The answer to a yes/no question about the network.
 */
typedef enum {
  ICECAM_NAT_ANSWER_UNKNOWN,
  ICECAM_NAT_ANSWER_NO,
  ICECAM_NAT_ANSWER_YES,
} IcecamNatAnswer;

/**
 * IcecamNatType:
 * @ICECAM_NAT_TYPE_UNKNOWN: the tests that decide it could not run or could not tell
 * @ICECAM_NAT_TYPE_OPEN: no NAT and nothing filtered
 * @ICECAM_NAT_TYPE_FULL_CONE: endpoint-independent mapping and filtering
 * @ICECAM_NAT_TYPE_RESTRICTED_CONE: endpoint-independent mapping, address-dependent filtering
 * @ICECAM_NAT_TYPE_PORT_RESTRICTED_CONE: endpoint-independent mapping, address-and-port-dependent
 *   filtering
 * @ICECAM_NAT_TYPE_SYMMETRIC: the mapping depends on the remote address
 * @ICECAM_NAT_TYPE_UDP_BLOCKED: no UDP answer from the STUN server at all
 *
 * The classic (RFC 3489) names. A host without NAT whose firewall filters is named by its
 * filtering, as a cone: that is how it behaves for NAT traversal.
 */
typedef enum {
  ICECAM_NAT_TYPE_UNKNOWN,
  ICECAM_NAT_TYPE_OPEN,
  ICECAM_NAT_TYPE_FULL_CONE,
  ICECAM_NAT_TYPE_RESTRICTED_CONE,
  ICECAM_NAT_TYPE_PORT_RESTRICTED_CONE,
  ICECAM_NAT_TYPE_SYMMETRIC,
  ICECAM_NAT_TYPE_UDP_BLOCKED,
} IcecamNatType;

/**
 * ICECAM_NAT_N_TYPES:
 *
 * How many #IcecamNatType values there are, to loop over them.
 */
#define ICECAM_NAT_N_TYPES (ICECAM_NAT_TYPE_UDP_BLOCKED + 1)

/**
 * IcecamNatPath:
 * @ICECAM_NAT_PATH_UNKNOWN: cannot be predicted from what is known
 * @ICECAM_NAT_PATH_DIRECT: ICE connects the two directly (host, srflx or prflx candidates)
 * @ICECAM_NAT_PATH_RELAY: only through a TURN relay
 * @ICECAM_NAT_PATH_RELAY_TCP: only through a TURN relay reached over TCP
 *
 * How media can flow between a camera and a viewer behind two given NAT types.
 */
typedef enum {
  ICECAM_NAT_PATH_UNKNOWN,
  ICECAM_NAT_PATH_DIRECT,
  ICECAM_NAT_PATH_RELAY,
  ICECAM_NAT_PATH_RELAY_TCP,
} IcecamNatPath;

/**
 * IcecamNatVerdict:
 * @server_reached: whether the STUN server answered at all; %FALSE means UDP is blocked on
 *   the way or the server is down, and every other field but @server and @local_address is
 *   unknown
 * @rfc5780: whether the server does RFC 5780 behaviour discovery (gave an OTHER-ADDRESS)
 * @nat_present: whether the mapped address differs from the local one
 * @mapping: how the NAT maps: per destination or not
 * @filtering: what the NAT lets in to a mapping
 * @hairpinning: whether a packet sent to our own mapped address comes back to us
 * @port_allocation: how the NAT picks public ports for new mappings, from one socket's
 *   mappings towards up to four destinations (icecam_nat_ports_classify())
 * @port_delta: for a sequential allocation, the step between successive mappings
 * @port_spread: the highest of those mapped ports minus the lowest
 * @lifetime_measured: whether @lifetime_min_s and @lifetime_max_s say something
 * @lifetime_min_s: the longest idle time a mapping was seen to survive (0: none tried survived)
 * @lifetime_max_s: the shortest idle time after which a mapping was gone, or 0 if it
 *   survived every wait (then it lives more than @lifetime_min_s)
 * @server: the STUN server's primary address
 * @other_address: (nullable): the server's OTHER-ADDRESS, if it gave one
 * @local_address: (nullable): the local address of the first test's socket
 * @mapped_address: (nullable): that socket's address as the server saw it
 * @notes: (element-type utf8): why something is unknown, in words for the user
 * @elapsed_ms: how long the probe took
 *
 * The facts a NAT probe established. icecam_nat_verdict_get_nat_type() names them.
 */
typedef struct {
  gboolean server_reached;
  gboolean rfc5780;
  IcecamNatAnswer nat_present;
  IcecamNatBehaviour mapping;
  IcecamNatBehaviour filtering;
  IcecamNatAnswer hairpinning;
  IcecamNatPortAllocation port_allocation;
  gint port_delta;
  guint port_spread;
  gboolean lifetime_measured;
  guint lifetime_min_s;
  guint lifetime_max_s;
  GInetSocketAddress *server;
  GInetSocketAddress *other_address;
  GInetSocketAddress *local_address;
  GInetSocketAddress *mapped_address;
  GPtrArray *notes;
  guint64 elapsed_ms;
} IcecamNatVerdict;

#define ICECAM_TYPE_NAT_VERDICT (icecam_nat_verdict_get_type ())
GType icecam_nat_verdict_get_type (void);

IcecamNatVerdict *icecam_nat_verdict_new (void);
IcecamNatVerdict *icecam_nat_verdict_copy (const IcecamNatVerdict *verdict);
void icecam_nat_verdict_free (IcecamNatVerdict *verdict);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (IcecamNatVerdict, icecam_nat_verdict_free)

void icecam_nat_verdict_add_note (IcecamNatVerdict *verdict, const gchar *format, ...)
  G_GNUC_PRINTF (2, 3);
IcecamNatType icecam_nat_verdict_get_nat_type (const IcecamNatVerdict *verdict);
gchar *icecam_nat_verdict_describe_lifetime (const IcecamNatVerdict *verdict);
JsonNode *icecam_nat_verdict_to_json (const IcecamNatVerdict *verdict);

IcecamNatType icecam_nat_classify (gboolean server_reached, IcecamNatAnswer nat_present,
                                   IcecamNatBehaviour mapping, IcecamNatBehaviour filtering);
IcecamNatPath icecam_nat_path (IcecamNatType local, IcecamNatType peer);
gchar *icecam_nat_advice (IcecamNatType type);

const gchar *icecam_nat_type_to_string (IcecamNatType type);
const gchar *icecam_nat_behaviour_to_string (IcecamNatBehaviour behaviour);
const gchar *icecam_nat_answer_to_string (IcecamNatAnswer answer);
const gchar *icecam_nat_path_to_string (IcecamNatPath path);

G_END_DECLS
