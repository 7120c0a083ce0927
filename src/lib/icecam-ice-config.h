/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What an ICE session is told: STUN/TURN servers, transport policy, ICE-TCP, local addresses. */

#pragma once

#include <glib-object.h>

#include "icecam-protocol.h"

G_BEGIN_DECLS

#define ICECAM_ICE_CONFIG_ERROR (icecam_ice_config_error_quark ())
GQuark icecam_ice_config_error_quark (void);

typedef enum {
  ICECAM_ICE_CONFIG_ERROR_BAD_URL,      /* not a stun:/turn:/turns: URL icecam understands */
  ICECAM_ICE_CONFIG_ERROR_TOO_MANY,     /* more relays than libnice takes */
} IcecamIceConfigError;

/* libnice's limit of TURN relays per component. */
#define ICECAM_ICE_CONFIG_MAX_TURN_SERVERS 8

/**
 * IcecamIcePolicy:
 * @ICECAM_ICE_POLICY_ALL: every candidate type may be used
 * @ICECAM_ICE_POLICY_RELAY: only relayed candidates (like RTCIceTransportPolicy "relay")
 */
typedef enum {
  ICECAM_ICE_POLICY_ALL,
  ICECAM_ICE_POLICY_RELAY,
} IcecamIcePolicy;

typedef enum {
  ICECAM_TURN_TRANSPORT_UDP,
  ICECAM_TURN_TRANSPORT_TCP,
  ICECAM_TURN_TRANSPORT_TLS,
} IcecamTurnTransport;

/**
 * IcecamIceServerKind:
 * @ICECAM_ICE_SERVER_KIND_STUN: a STUN server (stun:)
 * @ICECAM_ICE_SERVER_KIND_TURN: a TURN relay (turn:, turns:)
 */
typedef enum {
  ICECAM_ICE_SERVER_KIND_STUN,
  ICECAM_ICE_SERVER_KIND_TURN,
} IcecamIceServerKind;

/**
 * IcecamIceServerAddress:
 * @kind: STUN server or TURN relay
 * @host: the host as the URL wrote it: an IP address (IPv6 without brackets) or a host name.
 *   Names are not resolved here: #IcecamIceSession looks them up, asynchronously, when it
 *   needs the address.
 * @port: UDP/TCP port
 * @username: (nullable): TURN username (%NULL for STUN)
 * @password: (nullable): TURN password (%NULL for STUN)
 * @transport: TURN client↔relay transport (%ICECAM_TURN_TRANSPORT_UDP for STUN)
 * @tls_name: (nullable): a `turns:` relay's host name once @host is its looked-up address:
 *   what its certificate must name
 */
typedef struct {
  IcecamIceServerKind kind;
  gchar *host;
  guint16 port;
  gchar *username;
  gchar *password;
  IcecamTurnTransport transport;
  gchar *tls_name;
} IcecamIceServerAddress;

IcecamIceServerAddress *icecam_ice_server_address_parse (const gchar *url,
                                                         const gchar *username,
                                                         const gchar *credential,
                                                         GError **error);
IcecamIceServerAddress *icecam_ice_server_address_copy (const IcecamIceServerAddress *addr);
void icecam_ice_server_address_free (IcecamIceServerAddress *addr);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (IcecamIceServerAddress, icecam_ice_server_address_free)

/**
 * IcecamIceConfig:
 * @stun: (nullable): the STUN server (only the first one is used: libnice takes one)
 * @turn: (element-type IcecamIceServerAddress): TURN relays, at most
 *   %ICECAM_ICE_CONFIG_MAX_TURN_SERVERS
 * @policy: which candidates may be used
 * @ice_tcp: whether to gather and use ICE-TCP candidates (RFC 6544)
 * @local_addresses: (nullable) (array zero-terminated=1): if set, gather only on these
 *   addresses instead of every interface
 * @port_step: this host's NAT is symmetric and counts its public ports by this step
 *   (icecam_nat_ports_classify()); non-zero signals predicted server-reflexive candidates
 *   after the real one (icecam_port_prediction_candidates()); 0: none
 * @relay_grace_ms: the controlling side keeps relayed candidates (its own and the peer's) out
 *   of ICE this long after the peer's credentials arrive, so that a direct pair that needs
 *   the peer's second check can still be nominated (#IcecamRelayGrace); 0: none
 * @turn_ca_file: (nullable): PEM file of the authorities `turns:` relays are checked
 *   against; %NULL: the system's
 * @punch: this host's NAT for birthday punching (an #IcecamPunchMapping: 0 none, 1 random
 *   symmetric, 2 cone, 3 sequential symmetric, with @port_step): the endpoints then punch a direct path beside the session's
 *   (#IcecamPunchSession)
 * @punch_tcp: once a session is relayed, try a direct TCP path (simultaneous open through
 *   both NATs) beside it and move the media there (for a host whose UDP is blocked); an end
 *   with @punch or @punch_tcp answers a peer's TCP punch
 */
typedef struct {
  IcecamIceServerAddress *stun;
  GPtrArray *turn;
  IcecamIcePolicy policy;
  gboolean ice_tcp;
  gchar **local_addresses;
  gint port_step;
  guint relay_grace_ms;
  gchar *turn_ca_file;
  gint punch;
  gboolean punch_tcp;
} IcecamIceConfig;

IcecamIceConfig *icecam_ice_config_new (void);
IcecamIceConfig *icecam_ice_config_copy (const IcecamIceConfig *config);
void icecam_ice_config_free (IcecamIceConfig *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (IcecamIceConfig, icecam_ice_config_free)

/**
 * icecam_ice_config_add_url:
 * @config: a configuration
 * @url: a URL icecam_ice_server_address_parse() accepts
 * @username: (nullable): TURN username, unless the URL carries one
 * @credential: (nullable): TURN password, unless the URL carries one
 * @error: an %ICECAM_ICE_CONFIG_ERROR
 *
 * Adds one server. Pure: no I/O, a host name is kept as a name (see
 * #IcecamIceServerAddress), so this may be called under a lock or on the streaming path.
 * A STUN URL replaces an earlier STUN server.
 *
 * Returns: %TRUE, or %FALSE with @error set
 */
gboolean icecam_ice_config_add_url (IcecamIceConfig *config, const gchar *url,
                                    const gchar *username, const gchar *credential,
                                    GError **error);

/**
 * icecam_ice_config_add_servers:
 * @config: a configuration
 * @servers: (element-type IcecamIceServer): servers from a `welcome` message
 * @error: an %ICECAM_ICE_CONFIG_ERROR
 *
 * Adds every URL of @servers, skipping STUN when @config already has a STUN server and
 * TURN relays already present, so that servers set by the user win over advertised ones.
 * Pure, like icecam_ice_config_add_url().
 *
 * Returns: %TRUE, or %FALSE with @error set
 */
gboolean icecam_ice_config_add_servers (IcecamIceConfig *config, GPtrArray *servers,
                                        GError **error);

IcecamIceConfig *icecam_ice_config_for_session (const IcecamIceConfig *user,
                                                GPtrArray *session_servers,
                                                GPtrArray *welcome_servers,
                                                gboolean server_is_loopback);

const gchar *icecam_ice_policy_to_string (IcecamIcePolicy policy);
gboolean icecam_ice_policy_from_string (const gchar *s, IcecamIcePolicy *policy);

G_END_DECLS
