/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One ICE session over libnice with icecam's chosen defaults (see LIBNICE-NOTES.md). */

#include "icecam-ice-session.h"

#include <string.h>

#include "icecam-ice-config-resolve.h"
#include "icecam-turn-tls-bridge.h"
#include "icecam-mdns.h"
#include "icecam-port-prediction.h"
#include "icecam-relay-grace.h"

#define COMPONENT_ID 1            /* RTP and RTCP are muxed on one component */
#define MAX_PENDING_CANDIDATES 64 /* remote candidates held until the credentials arrive */
/* A peer's `<uuid>.local` host candidates (browsers hide their addresses so): names looked
 * up at once, candidates per name waiting for it, and how long a lookup may take. */
#define MAX_MDNS_NAMES 8
#define MAX_MDNS_CANDIDATES_PER_NAME 4
#define MDNS_TIMEOUT_MS 1000
/* Both sides have gathered everything and no pair works yet: libnice gives a pair that never
 * answers ~7 s (LIBNICE-NOTES.md), so after this long nothing will. */
#define NO_PAIR_TIMEOUT_S 12
/* How long the relay grace still lasts once a direct check arrived: the check that answers it
 * (triggered, sent first) must make the direct pair valid before relayed pairs are checked. */
#define RELAY_GRACE_AFTER_DIRECT_MS 100u

/* Ta, the pacing of STUN transactions (RFC 8445 14.2): libnice's default is 20 ms, and the
 * first check and the first STUN binding of gathering both wait one Ta. A camera session
 * has a handful of pairs, so checks paced 5 ms apart are still only a few packets, and every
 * session's setup is ~15 ms shorter (bench-ice-pair: 20.8 -> 5.7 ms on loopback). */
#define ICE_TA_MS 5u
/* libnice keeps its check timer ticking every Ta for its idle-timeout (5 s) after the last
 * check, only to then declare components without a nominated pair failed. Once the component
 * is READY (a nominated pair, no check in progress) there is nothing left to declare: the
 * ticks cost ~4 us per media packet at 2,000 packets/s for those 5 s (bench/media-path.sh). */
#define IDLE_TIMEOUT_WHEN_READY_MS 100u

/**
 * IcecamIceSession:
 *
 * One NiceAgent with one stream of one component. Signals ("local-candidate",
 * "gathering-done", "state-changed", "pair-selected") and the receive function run in the
 * GMainContext that was thread-default when the session was created; that context must be
 * iterated. icecam_ice_session_send(), _send_messages(), _get_stats(), _get_pair_info()
 * and _get_state() may be called from any thread; the rest only from the thread iterating
 * the session's context.
 *
 * STUN and TURN servers given by host name are looked up (asynchronously, in the session's
 * context) when icecam_ice_session_gather() is called, and the agent gathers once every
 * lookup has finished: nothing blocks on a resolver.
 */
struct _IcecamIceSession {
  GObject parent;

  NiceAgent *agent;
  guint stream_id;
  gboolean controlling;
  GMainContext *context;

  gboolean have_remote_credentials;
  GPtrArray *pending_candidates;
  GHashTable *mdns_names;     /* name -> GPtrArray of candidates waiting for its lookup */
  gchar *mdns_interface;      /* the pinned IPv4 local address the lookups ask on, or NULL */
  GCancellable *mdns_cancellable; /* cancelled by close */

  IcecamIceReceiveFunc receive_func;
  gpointer receive_data;
  GDestroyNotify receive_notify;

  GMutex lock; /* protects state and pair */
  IcecamIceState state;
  IcecamPairInfo *pair;
  gint closed; /* atomic */

  guint local_types;  /* bit per NiceCandidateType gathered */
  guint remote_types; /* bit per NiceCandidateType received */
  gboolean local_done, remote_done;
  gboolean relay_only;
  gint port_step; /* non-zero: predicted srflx candidates follow the real one */
  gboolean predicted; /* they did (after the first UDP srflx only) */
  IcecamRelayGrace *grace; /* controlling only, when configured: relayed candidates wait */
  gboolean have_turn;
  guint turn_unresolved; /* TURN relays left out because their names did not resolve */
  GSource *no_pair_source;

  /* Servers given by name: kept until gather() has looked them up, then configured. */
  IcecamIceConfig *servers;
  GCancellable *resolve_cancellable; /* cancelled by close */
  gboolean resolving;
  /* Completed once libnice has closed and no lookup is pending; holds a reference, so that a
   * lookup finishing after close still finds the session. */
  GTask *close_task;
  gboolean agent_closed;

  guint64 packets_sent, bytes_sent, packets_dropped, packets_received, bytes_received;
  GPtrArray *tls_bridges; /* IcecamTurnTlsBridge: the turns: relays, carried over real TLS */

  /* (nullable): a punched path beside ICE's pair (icecam_ice_session_use_punched_path());
   * set once, freed at finalize; sends take it while it is alive. */
  IcecamPunch *punched;
};

G_DEFINE_TYPE (IcecamIceSession, icecam_ice_session, G_TYPE_OBJECT)
G_DEFINE_BOXED_TYPE (IcecamPairInfo, icecam_pair_info, icecam_pair_info_copy,
                     icecam_pair_info_free)
G_DEFINE_QUARK (icecam-ice-session-error-quark, icecam_ice_session_error)

enum {
  SIGNAL_LOCAL_CANDIDATE,
  SIGNAL_GATHERING_DONE,
  SIGNAL_STATE_CHANGED,
  SIGNAL_PAIR_SELECTED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

#define COUNT(field, n) __atomic_fetch_add (&self->field, (n), __ATOMIC_RELAXED)

IcecamPairInfo *
icecam_pair_info_copy (const IcecamPairInfo *info)
{
  IcecamPairInfo *copy = g_new0 (IcecamPairInfo, 1);

  copy->local_type = g_strdup (info->local_type);
  copy->remote_type = g_strdup (info->remote_type);
  copy->transport = g_strdup (info->transport);
  copy->local_address = g_strdup (info->local_address);
  copy->remote_address = g_strdup (info->remote_address);
  return copy;
}

void
icecam_pair_info_free (IcecamPairInfo *info)
{
  if (info == NULL)
    return;
  g_free (info->local_type);
  g_free (info->remote_type);
  g_free (info->transport);
  g_free (info->local_address);
  g_free (info->remote_address);
  g_free (info);
}

const gchar *
icecam_ice_state_to_string (IcecamIceState state)
{
  switch (state) {
    case ICECAM_ICE_STATE_NEW:
      return "new";
    case ICECAM_ICE_STATE_CHECKING:
      return "checking";
    case ICECAM_ICE_STATE_CONNECTED:
      return "connected";
    case ICECAM_ICE_STATE_FAILED:
      return "failed";
    case ICECAM_ICE_STATE_CLOSED:
      return "closed";
    default:
      return "unknown";
  }
}

static const gchar *
candidate_type_name (NiceCandidateType type)
{
  switch (type) {
    case NICE_CANDIDATE_TYPE_HOST:
      return "host";
    case NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE:
      return "srflx";
    case NICE_CANDIDATE_TYPE_PEER_REFLEXIVE:
      return "prflx";
    case NICE_CANDIDATE_TYPE_RELAYED:
      return "relay";
    default:
      return "unknown";
  }
}

static gchar *
address_to_string (const NiceAddress *addr)
{
  gchar ip[NICE_ADDRESS_STRING_LEN];

  nice_address_to_string (addr, ip);
  if (nice_address_ip_version (addr) == 6)
    return g_strdup_printf ("[%s]:%u", ip, nice_address_get_port (addr));
  return g_strdup_printf ("%s:%u", ip, nice_address_get_port (addr));
}

static void
set_state (IcecamIceSession *self, IcecamIceState state)
{
  IcecamIceState old;

  g_mutex_lock (&self->lock);
  old = self->state;
  if (old == state || old == ICECAM_ICE_STATE_CLOSED) {
    g_mutex_unlock (&self->lock);
    return;
  }
  self->state = state;
  g_mutex_unlock (&self->lock);

  g_debug ("ice-session %p: %s -> %s", self, icecam_ice_state_to_string (old),
           icecam_ice_state_to_string (state));
  g_signal_emit (self, signals[SIGNAL_STATE_CHANGED], 0, (guint) state);
}

/* A sequential symmetric NAT gives the mapping towards the peer a port a few steps past the
 * one towards the relay (the srflx candidate): the peer checks those too (docs/design.md). */
static void
emit_predicted_candidates (IcecamIceSession *self, const gchar *srflx)
{
  g_auto (GStrv) predicted = icecam_port_prediction_candidates (srflx, self->port_step,
                                                                ICECAM_PORT_PREDICTION_COUNT);

  if (predicted[0] != NULL)
    g_debug ("ice-session %p: %u predicted srflx candidates, port step %d", self,
             g_strv_length (predicted), self->port_step);
  for (guint i = 0; predicted[i] != NULL; i++)
    g_signal_emit (self, signals[SIGNAL_LOCAL_CANDIDATE], 0, predicted[i]);
}

static void
on_agent_new_candidate (NiceAgent *agent, NiceCandidate *candidate, IcecamIceSession *self)
{
  g_autofree gchar *sdp = NULL;

  if (candidate->stream_id != self->stream_id || candidate->component_id != COMPONENT_ID)
    return;
  self->local_types |= 1u << candidate->type;
  sdp = nice_agent_generate_local_candidate_sdp (agent, candidate);
  if (sdp == NULL || !g_str_has_prefix (sdp, "a="))
    return;
  if (self->grace != NULL && icecam_relay_grace_hold (self->grace, sdp + 2, TRUE))
    return;
  g_debug ("ice-session %p: local %s", self, sdp + 2);
  g_signal_emit (self, signals[SIGNAL_LOCAL_CANDIDATE], 0, sdp + 2);
  /* Once: a symmetric NAT shows one srflx per STUN/TURN server, and the peer's libnice takes
   * 25 remote candidates in all (its relayed ones must still fit). */
  if (self->port_step != 0 && candidate->type == NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE &&
      candidate->transport == NICE_CANDIDATE_TRANSPORT_UDP && !self->predicted) {
    self->predicted = TRUE;
    emit_predicted_candidates (self, sdp + 2);
  }
}

/* A peer-reflexive candidate from an address that is none of the held relayed ones: the
 * peer's check came straight from its NAT, so the direct pair is about to be valid and the
 * relay grace may end (RELAY_GRACE_AFTER_DIRECT_MS later, once the answering check is back). */
static void
on_agent_new_remote_candidate (NiceAgent *agent, NiceCandidate *candidate,
                               IcecamIceSession *self)
{
  gchar ip[INET6_ADDRSTRLEN];

  if (self->grace == NULL || candidate->stream_id != self->stream_id ||
      candidate->type != NICE_CANDIDATE_TYPE_PEER_REFLEXIVE)
    return;
  nice_address_to_string (&candidate->addr, ip);
  if (icecam_relay_grace_holds_address (self->grace, ip, nice_address_get_port (&candidate->addr)))
    return;
  g_debug ("ice-session %p: a direct check from %s: the relay grace ends", self, ip);
  icecam_relay_grace_end_soon (self->grace, RELAY_GRACE_AFTER_DIRECT_MS);
}

static gboolean
on_no_pair_timeout (gpointer data)
{
  IcecamIceSession *self = data;

  g_clear_pointer (&self->no_pair_source, g_source_unref);
  if (icecam_ice_session_get_state (self) == ICECAM_ICE_STATE_CHECKING) {
    g_debug ("ice-session %p: no pair %d s after both sides gathered", self, NO_PAIR_TIMEOUT_S);
    set_state (self, ICECAM_ICE_STATE_FAILED);
  }
  return G_SOURCE_REMOVE;
}

/* libnice 0.1.21 in trickle mode never fails a component that has no pair at all (one side
 * has no candidate: a relay-only agent whose TURN allocation was refused, say). Once both
 * sides have said they are done, decide here. */
static void
check_hopeless (IcecamIceSession *self)
{
  if (!self->local_done || !self->remote_done ||
      icecam_ice_session_get_state (self) != ICECAM_ICE_STATE_CHECKING)
    return;
  if (self->local_types == 0 || self->remote_types == 0) {
    g_debug ("ice-session %p: a side has no candidates, nothing to check", self);
    set_state (self, ICECAM_ICE_STATE_FAILED);
    return;
  }
  if (self->no_pair_source == NULL) {
    self->no_pair_source = g_timeout_source_new_seconds (NO_PAIR_TIMEOUT_S);
    g_source_set_callback (self->no_pair_source, on_no_pair_timeout, self, NULL);
    g_source_attach (self->no_pair_source, self->context);
  }
}

static void
on_agent_gathering_done (NiceAgent *agent, guint stream_id, IcecamIceSession *self)
{
  if (stream_id != self->stream_id ||
      (self->grace != NULL && icecam_relay_grace_hold_gathering_done (self->grace)))
    return;
  g_debug ("ice-session %p: gathering done", self);
  self->local_done = TRUE;
  g_signal_emit (self, signals[SIGNAL_GATHERING_DONE], 0);
  check_hopeless (self);
}

/**
 * icecam_ice_session_set_remote_gathering_done:
 *
 * The peer sent end-of-candidates: with nothing more to come, a session whose sides have no
 * pair to check fails now instead of waiting forever.
 */
void
icecam_ice_session_set_remote_gathering_done (IcecamIceSession *self)
{
  g_return_if_fail (ICECAM_IS_ICE_SESSION (self));

  self->remote_done = TRUE;
  check_hopeless (self);
}

static void
on_agent_component_state_changed (NiceAgent *agent, guint stream_id, guint component_id,
                                  guint state, IcecamIceSession *self)
{
  if (stream_id != self->stream_id || component_id != COMPONENT_ID)
    return;
  switch (state) {
    case NICE_COMPONENT_STATE_GATHERING:
    case NICE_COMPONENT_STATE_CONNECTING:
      set_state (self, ICECAM_ICE_STATE_CHECKING);
      break;
    case NICE_COMPONENT_STATE_READY:
      g_object_set (agent, "idle-timeout", IDLE_TIMEOUT_WHEN_READY_MS, NULL);
      set_state (self, ICECAM_ICE_STATE_CONNECTED);
      break;
    case NICE_COMPONENT_STATE_CONNECTED:
      set_state (self, ICECAM_ICE_STATE_CONNECTED);
      break;
    case NICE_COMPONENT_STATE_FAILED:
      set_state (self, ICECAM_ICE_STATE_FAILED);
      break;
    default:
      break;
  }
}

static void
on_agent_new_selected_pair (NiceAgent *agent, guint stream_id, guint component_id,
                            NiceCandidate *lcand, NiceCandidate *rcand,
                            IcecamIceSession *self)
{
  IcecamPairInfo *info;

  if (stream_id != self->stream_id || component_id != COMPONENT_ID)
    return;
  info = g_new0 (IcecamPairInfo, 1);
  info->local_type = g_strdup (candidate_type_name (lcand->type));
  info->remote_type = g_strdup (candidate_type_name (rcand->type));
  info->transport = g_strdup (lcand->transport == NICE_CANDIDATE_TRANSPORT_UDP ? "udp" : "tcp");
  info->local_address = address_to_string (&lcand->addr);
  info->remote_address = address_to_string (&rcand->addr);

  g_mutex_lock (&self->lock);
  icecam_pair_info_free (self->pair);
  self->pair = icecam_pair_info_copy (info);
  g_mutex_unlock (&self->lock);

  g_debug ("ice-session %p: selected %s %s <-> %s %s (%s)", self, info->local_type,
           info->local_address, info->remote_type, info->remote_address, info->transport);
  g_signal_emit (self, signals[SIGNAL_PAIR_SELECTED], 0, info);
  icecam_pair_info_free (info);
  /* libnice can send on a selected pair before READY; so can we. */
  set_state (self, ICECAM_ICE_STATE_CONNECTED);
}

static void
agent_recv_cb (NiceAgent *agent, guint stream_id, guint component_id, guint len, gchar *buf,
               gpointer user_data)
{
  IcecamIceSession *self = user_data;

  if (g_atomic_int_get (&self->closed))
    return; /* still attached while closing, for the TURN answers; media is not wanted */
  COUNT (packets_received, 1);
  COUNT (bytes_received, len);
  if (self->receive_func != NULL)
    self->receive_func ((const guint8 *) buf, len, self->receive_data);
}

static void
stop_tls_bridges (IcecamIceSession *self)
{
  for (guint i = 0; self->tls_bridges != NULL && i < self->tls_bridges->len; i++)
    icecam_turn_tls_bridge_stop (g_ptr_array_index (self->tls_bridges, i));
}

/* ---- The punched path (docs/design.md, "Birthday punching in sessions") ---------------- */

static gint
send_punched (IcecamIceSession *self, const NiceOutputMessage *messages, guint n_messages)
{
  gint sent = 0;

  for (guint i = 0; i < n_messages; i++) {
    if (!icecam_punch_send (self->punched, messages[i].buffers, (guint) messages[i].n_buffers))
      break;
    sent++;
  }
  return sent;
}

static void
on_punched_data (const guint8 *data, gsize length, gpointer user_data)
{
  agent_recv_cb (NULL, 0, 0, (guint) length, (gchar *) data, user_data);
}

/* Tells the peer session (and through it the endpoint, the element, the tools) which path
 * carries the media now: the punched one, or ICE's pair again. */
static void
on_punched_alive (IcecamPunch *punch, gboolean alive, gpointer user_data)
{
  IcecamIceSession *self = user_data;
  g_autoptr (IcecamPairInfo) info = NULL;

  if (g_atomic_int_get (&self->closed))
    return;
  if (alive) {
    GInetSocketAddress *remote = icecam_punch_get_remote (punch);
    g_autoptr (GInetSocketAddress) local = icecam_punch_get_local_address (punch, 0);
    g_autofree gchar *remote_ip =
      g_inet_address_to_string (g_inet_socket_address_get_address (remote));

    info = g_new0 (IcecamPairInfo, 1);
    info->local_type = g_strdup ("punched");
    info->remote_type = g_strdup ("punched");
    info->transport = g_strdup (icecam_punch_is_tcp (punch) ? "tcp" : "udp");
    info->local_address = g_strdup_printf ("port %u", local != NULL ?
                                           g_inet_socket_address_get_port (local) : 0);
    info->remote_address = g_strdup_printf ("%s:%u", remote_ip,
                                            g_inet_socket_address_get_port (remote));
  } else {
    g_mutex_lock (&self->lock);
    info = self->pair != NULL ? icecam_pair_info_copy (self->pair) : NULL;
    g_mutex_unlock (&self->lock);
  }
  g_message ("ice-session %p: media %s", self, alive ? "on the punched path"
                                                       : "back on ICE's pair (punched path silent)");
  if (info != NULL)
    g_signal_emit (self, signals[SIGNAL_PAIR_SELECTED], 0, info);
}

/**
 * icecam_ice_session_use_punched_path:
 * @punch: (transfer full): a punch that succeeded, towards this session's peer
 *
 * From now on, while the punched path is alive, packets go out on it instead of ICE's pair,
 * and what arrives on it is received like what arrives on the pair (the same DTLS-SRTP
 * association); "pair-selected" says which path carries them ("punched"/"punched"). ICE's
 * pair stays up (consent freshness, TURN refreshes) as the fallback. Once per session.
 */
void
icecam_ice_session_use_punched_path (IcecamIceSession *self, IcecamPunch *punch)
{
  if (self->punched != NULL || g_atomic_int_get (&self->closed)) {
    icecam_punch_free (punch);
    return;
  }
  icecam_punch_set_path_funcs (punch, on_punched_data, on_punched_alive, self);
  g_atomic_pointer_set (&self->punched, punch);
  if (icecam_punch_is_alive (punch))
    on_punched_alive (punch, TRUE, self);
}

static gboolean
configure_agent (IcecamIceSession *self, const IcecamIceConfig *config, GError **error)
{
  g_object_set (self->agent,
                "upnp", FALSE,                    /* saves ~200 ms per gathering */
                "stun-pacing-timer", ICE_TA_MS,
                "controlling-mode", self->controlling,
                "ice-tcp", config->ice_tcp,
                "ice-udp", TRUE,
                "force-relay", config->policy == ICECAM_ICE_POLICY_RELAY,
                NULL);

  for (guint i = 0; config->local_addresses && config->local_addresses[i]; i++) {
    NiceAddress addr;

    if (!nice_address_set_from_string (&addr, config->local_addresses[i]) ||
        !nice_agent_add_local_address (self->agent, &addr)) {
      g_set_error (error, ICECAM_ICE_SESSION_ERROR, ICECAM_ICE_SESSION_ERROR_AGENT,
                   "cannot use local address '%s'", config->local_addresses[i]);
      return FALSE;
    }
  }

  self->stream_id = nice_agent_add_stream (self->agent, 1);
  if (self->stream_id == 0) {
    g_set_error (error, ICECAM_ICE_SESSION_ERROR, ICECAM_ICE_SESSION_ERROR_AGENT,
                 "libnice could not add a stream");
    return FALSE;
  }
  nice_agent_set_stream_name (self->agent, self->stream_id, "video");
  return TRUE;
}

/* Before gathering, with numeric addresses only (libnice takes no name for a relay). */
static gboolean
configure_servers (IcecamIceSession *self, const IcecamIceConfig *servers, GError **error)
{
  /* With TURN configured the srflx comes from the allocation, and a STUN server beside it
   * only delays gathering (LIBNICE-NOTES.md). */
  if (servers->stun != NULL && servers->turn->len == 0)
    g_object_set (self->agent, "stun-server", servers->stun->host,
                  "stun-server-port", (guint) servers->stun->port, NULL);
  self->have_turn = servers->turn->len > 0;
  for (guint i = 0; i < servers->turn->len; i++) {
    const IcecamIceServerAddress *turn = g_ptr_array_index (servers->turn, i);
    NiceRelayType type = turn->transport == ICECAM_TURN_TRANSPORT_UDP ? NICE_RELAY_TYPE_TURN_UDP
                         : NICE_RELAY_TYPE_TURN_TCP;
    const gchar *host = turn->host;
    guint port = turn->port;

    /* libnice's own "TLS" is no real TLS: it gets a loopback TCP relay that is carried over
     * TLS to this one (icecam-turn-tls-bridge.c). */
    if (turn->transport == ICECAM_TURN_TRANSPORT_TLS) {
      IcecamTurnTlsBridge *bridge = icecam_turn_tls_bridge_new (turn->host, turn->port,
                                                                turn->tls_name,
                                                                servers->turn_ca_file, error);

      if (bridge == NULL)
        return FALSE;
      if (self->tls_bridges == NULL)
        self->tls_bridges = g_ptr_array_new_with_free_func (g_object_unref);
      g_ptr_array_add (self->tls_bridges, bridge);
      host = "127.0.0.1";
      port = icecam_turn_tls_bridge_get_port (bridge);
    }
    if (!nice_agent_set_relay_info (self->agent, self->stream_id, COMPONENT_ID, host,
                                    port, turn->username, turn->password, type)) {
      g_set_error (error, ICECAM_ICE_SESSION_ERROR, ICECAM_ICE_SESSION_ERROR_AGENT,
                   "libnice refused TURN server %s:%u", turn->host, turn->port);
      return FALSE;
    }
  }
  return TRUE;
}

static gboolean add_candidate_now (IcecamIceSession *self, const gchar *candidate,
                                   GError **error);

/* The relay grace is over: our relayed candidates go to the peer, the peer's into ICE, and
 * then our end of gathering. */
static void
on_relay_grace_over (const gchar *candidate, gboolean local, gpointer user_data)
{
  IcecamIceSession *self = user_data;
  g_autoptr (GError) error = NULL;

  if (candidate == NULL) {
    on_agent_gathering_done (self->agent, self->stream_id, self);
  } else if (local) {
    g_debug ("ice-session %p: local %s (after the relay grace)", self, candidate);
    g_signal_emit (self, signals[SIGNAL_LOCAL_CANDIDATE], 0, candidate);
  } else if (!add_candidate_now (self, candidate, &error)) {
    g_debug ("ice-session %p: %s", self, error->message);
  }
}

/**
 * icecam_ice_session_new:
 * @config: servers, policy and addresses
 * @controlling: whether this side is the controlling agent (the camera is)
 * @error: an %ICECAM_ICE_SESSION_ERROR
 *
 * Creates the agent in the thread-default GMainContext. Nothing is sent, and no host name
 * is looked up, until icecam_ice_session_gather(); the local credentials are known at once.
 *
 * Returns: (transfer full) (nullable): the session
 */
IcecamIceSession *
icecam_ice_session_new (const IcecamIceConfig *config, gboolean controlling, GError **error)
{
  g_autoptr (IcecamIceSession) self = g_object_new (ICECAM_TYPE_ICE_SESSION, NULL);

  self->controlling = controlling;
  self->relay_only = config->policy == ICECAM_ICE_POLICY_RELAY;
  self->port_step = self->relay_only ? 0 : config->port_step;
  /* mDNS lookups ask where the candidates are: on the pinned address's interface (loopback
   * in tests: nothing leaves the machine), else on the system's default. */
  for (guint i = 0; config->local_addresses && config->local_addresses[i]; i++) {
    if (strchr (config->local_addresses[i], ':') == NULL) {
      self->mdns_interface = g_strdup (config->local_addresses[i]);
      break;
    }
  }
  self->context = g_main_context_ref_thread_default ();
  if (controlling && !self->relay_only && config->relay_grace_ms > 0)
    self->grace = icecam_relay_grace_new (config->relay_grace_ms, self->context,
                                          on_relay_grace_over, self);
  /* Consent freshness (RFC 7675) detects a dead peer in ~10 s; libnice's default keepalive
   * indications never do. Regular nomination (RFC 8445 8.1.1, the only kind it keeps): the
   * controlling camera nominates one pair, once, and both ends use that one. With aggressive
   * nomination every check nominates, so a browser kept the first pair that worked while
   * libnice moved on to a higher-priority one learned later (its TURN relay, as prflx). */
  self->agent = nice_agent_new_full (self->context, NICE_COMPATIBILITY_RFC5245,
                                     NICE_AGENT_OPTION_ICE_TRICKLE |
                                     NICE_AGENT_OPTION_CONSENT_FRESHNESS |
                                     NICE_AGENT_OPTION_REGULAR_NOMINATION);
  if (!configure_agent (self, config, error))
    return NULL;
  /* Every name is looked up, the STUN server's too: it is the fallback should no TURN
   * relay's name resolve. */
  if (icecam_ice_config_has_host_names (config))
    self->servers = icecam_ice_config_copy (config); /* configured after the lookups */
  else if (!configure_servers (self, config, error))
    return NULL;

  g_signal_connect (self->agent, "new-candidate-full", G_CALLBACK (on_agent_new_candidate), self);
  g_signal_connect (self->agent, "candidate-gathering-done",
                    G_CALLBACK (on_agent_gathering_done), self);
  g_signal_connect (self->agent, "component-state-changed",
                    G_CALLBACK (on_agent_component_state_changed), self);
  g_signal_connect (self->agent, "new-selected-pair-full",
                    G_CALLBACK (on_agent_new_selected_pair), self);
  g_signal_connect (self->agent, "new-remote-candidate-full",
                    G_CALLBACK (on_agent_new_remote_candidate), self);
  /* A receiver must be attached on both sides or connectivity checks go unanswered. */
  nice_agent_attach_recv (self->agent, self->stream_id, COMPONENT_ID, self->context,
                          agent_recv_cb, self);
  return g_steal_pointer (&self);
}

static gboolean
start_gathering (IcecamIceSession *self, GError **error)
{
  if (!nice_agent_gather_candidates (self->agent, self->stream_id)) {
    g_set_error (error, ICECAM_ICE_SESSION_ERROR, ICECAM_ICE_SESSION_ERROR_AGENT,
                 "libnice could not gather candidates (no usable interface?)");
    set_state (self, ICECAM_ICE_STATE_FAILED);
    return FALSE;
  }
  return TRUE;
}

static void close_finish_if_done (IcecamIceSession *self);

/* Session context. @self is alive: its user holds it, or the close task does. */
static void
resolve_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  IcecamIceSession *self = user_data;
  g_autoptr (IcecamIceConfig) servers = icecam_ice_config_resolve_finish (result, NULL);
  g_autoptr (IcecamIceConfig) named = g_steal_pointer (&self->servers);
  g_autoptr (GError) error = NULL;

  self->resolving = FALSE;
  if (g_atomic_int_get (&self->closed) || servers == NULL) {
    close_finish_if_done (self);
    return;
  }
  self->turn_unresolved = named->turn->len - servers->turn->len;
  g_debug ("ice-session %p: servers looked up: STUN %s, %u of %u TURN", self,
           named->stun == NULL ? "none" : servers->stun != NULL ? "resolved" : "unresolved",
           servers->turn->len, named->turn->len);
  /* A relay-only session whose relays are all gone has nothing to gather. */
  if (self->relay_only && named->turn->len > 0 && servers->turn->len == 0) {
    g_debug ("ice-session %p: relay-only and no TURN server name resolved", self);
    set_state (self, ICECAM_ICE_STATE_FAILED);
    return;
  }
  if (!configure_servers (self, servers, &error) || !start_gathering (self, &error)) {
    g_warning ("ice-session %p: %s", self, error->message);
    set_state (self, ICECAM_ICE_STATE_FAILED);
  }
}

/**
 * icecam_ice_session_gather:
 * @error: an %ICECAM_ICE_SESSION_ERROR
 *
 * Starts gathering local candidates; they trickle out as "local-candidate". With a STUN or
 * TURN server given by name, returns at once and gathers once the names are looked up (a
 * name that does not resolve is logged and its server left out; a relay-only session left
 * without any relay goes to %ICECAM_ICE_STATE_FAILED). Call it once.
 *
 * Returns: %TRUE, or %FALSE with @error set when libnice cannot gather at all
 */
gboolean
icecam_ice_session_gather (IcecamIceSession *self, GError **error)
{
  g_autoptr (GMainContext) current = NULL;

  g_return_val_if_fail (ICECAM_IS_ICE_SESSION (self), FALSE);

  if (g_atomic_int_get (&self->closed)) {
    g_set_error (error, ICECAM_ICE_SESSION_ERROR, ICECAM_ICE_SESSION_ERROR_AGENT,
                 "the session is closed");
    return FALSE;
  }
  set_state (self, ICECAM_ICE_STATE_CHECKING);
  if (self->servers == NULL)
    return start_gathering (self, error);
  if (self->resolving)
    return TRUE;

  /* The lookups report to the session's context, whichever is thread-default here. */
  current = g_main_context_ref_thread_default ();
  if (current != self->context)
    g_main_context_push_thread_default (self->context);
  self->resolving = TRUE;
  self->resolve_cancellable = g_cancellable_new ();
  icecam_ice_config_resolve_async (self->servers, self->resolve_cancellable, resolve_cb, self);
  if (current != self->context)
    g_main_context_pop_thread_default (self->context);
  return TRUE;
}

void
icecam_ice_session_get_local_credentials (IcecamIceSession *self, gchar **ufrag, gchar **pwd)
{
  g_return_if_fail (ICECAM_IS_ICE_SESSION (self));

  nice_agent_get_local_credentials (self->agent, self->stream_id, ufrag, pwd);
}

/* libnice 0.1.21 hits a GLib critical on a TCP candidate without a valid "tcptype"
 * (RFC 6544): refuse those before it sees them (found by fuzz/fuzz-ice-candidate.c). */
static gboolean
candidate_is_safe_for_libnice (const gchar *candidate)
{
  g_auto (GStrv) fields = g_strsplit (candidate, " ", 64);
  guint n = g_strv_length (fields);

  if (n < 8 || g_ascii_strcasecmp (fields[2], "tcp") != 0)
    return n >= 8;
  /* Extensions are key/value pairs after "candidate:F C TRANSPORT PRIO ADDR PORT", read as
   * libnice reads them: "typ host" is one of them. */
  for (guint i = 6; i + 1 < n; i += 2) {
    if (g_str_equal (fields[i], "tcptype"))
      return g_str_equal (fields[i + 1], "active") || g_str_equal (fields[i + 1], "passive") ||
             g_str_equal (fields[i + 1], "so");
  }
  return FALSE;
}

typedef struct {
  IcecamIceSession *self; /* a reference */
  gchar *name;
} MdnsLookup;

static void
mdns_resolved_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  MdnsLookup *lookup = user_data;
  IcecamIceSession *self = lookup->self;
  g_autoptr (GError) error = NULL;
  g_autoptr (GInetAddress) address = icecam_mdns_resolve_finish (result, &error);
  g_autofree gchar *text = address ? g_inet_address_to_string (address) : NULL;
  g_autoptr (GPtrArray) waiting = NULL;

  g_hash_table_steal_extended (self->mdns_names, lookup->name, NULL, (gpointer *) &waiting);
  if (address == NULL) {
    /* The peer's checks still reach us: its address is learned as peer-reflexive. */
    if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
      g_debug ("ice-session %p: %s dropped (%s); its address may still be learned "
               "peer-reflexive", self, lookup->name, error->message);
  } else if (!g_atomic_int_get (&self->closed)) {
    g_debug ("ice-session %p: %s is %s (mDNS)", self, lookup->name, text);
    for (guint i = 0; waiting != NULL && i < waiting->len; i++) {
      g_autofree gchar *resolved = icecam_mdns_candidate_with_address (
          g_ptr_array_index (waiting, i), text);
      g_autoptr (GError) local_error = NULL;

      if (!add_candidate_now (self, resolved, &local_error))
        g_debug ("ice-session %p: %s", self, local_error->message);
    }
  }
  g_object_unref (lookup->self);
  g_free (lookup->name);
  g_free (lookup);
}

/* A candidate whose address is a `<uuid>.local` name: looked up with one mDNS query, added
 * once resolved; dropped quietly when it does not resolve, or when too many wait. */
static void
add_mdns_candidate (IcecamIceSession *self, const gchar *candidate, const gchar *name)
{
  GPtrArray *waiting = g_hash_table_lookup (self->mdns_names, name);
  GMainContext *current = g_main_context_get_thread_default ();
  MdnsLookup *lookup;

  /* The peer has a host candidate, by name: resolved or not, its checks can reach us, so
   * its end-of-candidates does not mean it has none (check_hopeless()). */
  self->remote_types |= 1u << NICE_CANDIDATE_TYPE_HOST;
  if (waiting != NULL) {
    if (waiting->len < MAX_MDNS_CANDIDATES_PER_NAME)
      g_ptr_array_add (waiting, g_strdup (candidate));
    return;
  }
  if (g_hash_table_size (self->mdns_names) >= MAX_MDNS_NAMES) {
    g_debug ("ice-session %p: %u mDNS names already looked up: %s dropped", self,
             MAX_MDNS_NAMES, name);
    return;
  }
  waiting = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (waiting, g_strdup (candidate));
  g_hash_table_insert (self->mdns_names, g_strdup (name), waiting);
  lookup = g_new0 (MdnsLookup, 1);
  lookup->self = g_object_ref (self);
  lookup->name = g_strdup (name);
  if (current != self->context)
    g_main_context_push_thread_default (self->context);
  icecam_mdns_resolve_async (name, self->mdns_interface, MDNS_TIMEOUT_MS,
                             self->mdns_cancellable, mdns_resolved_cb, lookup);
  if (current != self->context)
    g_main_context_pop_thread_default (self->context);
}

static gboolean
add_candidate_now (IcecamIceSession *self, const gchar *candidate, GError **error)
{
  g_autofree gchar *attr = g_strconcat ("a=", candidate, NULL);
  NiceCandidate *cand = NULL;
  GSList list = { 0 };
  gint added;
  g_autofree gchar *mdns_name = icecam_mdns_candidate_name (candidate);

  if (mdns_name != NULL) {
    add_mdns_candidate (self, candidate, mdns_name);
    return TRUE;
  }
  if (self->grace != NULL && icecam_relay_grace_hold (self->grace, candidate, FALSE)) {
    self->remote_types |= 1u << NICE_CANDIDATE_TYPE_RELAYED;
    return TRUE;
  }
  if (candidate_is_safe_for_libnice (candidate))
    cand = nice_agent_parse_remote_candidate_sdp (self->agent, self->stream_id, attr);
  if (cand == NULL) {
    g_set_error (error, ICECAM_ICE_SESSION_ERROR, ICECAM_ICE_SESSION_ERROR_CANDIDATE,
                 "cannot parse remote candidate '%s'", candidate);
    return FALSE;
  }
  if (cand->component_id != COMPONENT_ID) {
    nice_candidate_free (cand); /* RTCP is muxed: component 2 candidates are not needed */
    return TRUE;
  }
  self->remote_types |= 1u << cand->type;
  list.data = cand;
  added = nice_agent_set_remote_candidates (self->agent, self->stream_id, COMPONENT_ID, &list);
  nice_candidate_free (cand);
  if (added < 0) {
    g_set_error (error, ICECAM_ICE_SESSION_ERROR, ICECAM_ICE_SESSION_ERROR_CANDIDATE,
                 "libnice refused remote candidate '%s'", candidate);
    return FALSE;
  }
  return TRUE;
}

gboolean
icecam_ice_session_set_remote_credentials (IcecamIceSession *self, const gchar *ufrag,
                                           const gchar *pwd, GError **error)
{
  g_return_val_if_fail (ICECAM_IS_ICE_SESSION (self), FALSE);

  if (!nice_agent_set_remote_credentials (self->agent, self->stream_id, ufrag, pwd)) {
    g_set_error (error, ICECAM_ICE_SESSION_ERROR, ICECAM_ICE_SESSION_ERROR_AGENT,
                 "libnice refused the remote ICE credentials");
    return FALSE;
  }
  self->have_remote_credentials = TRUE;
  if (self->grace != NULL)
    icecam_relay_grace_start (self->grace);
  for (guint i = 0; i < self->pending_candidates->len; i++) {
    g_autoptr (GError) local_error = NULL;

    if (!add_candidate_now (self, g_ptr_array_index (self->pending_candidates, i), &local_error))
      g_debug ("ice-session %p: %s", self, local_error->message);
  }
  g_ptr_array_set_size (self->pending_candidates, 0);
  return TRUE;
}

/**
 * icecam_ice_session_add_remote_candidate:
 * @candidate: a "candidate:..." attribute value
 *
 * Adds a trickled candidate; before the remote credentials are known it is held (up to
 * 64) and added with them.
 *
 * Returns: %TRUE, or %FALSE with @error set when the candidate is unusable
 */
gboolean
icecam_ice_session_add_remote_candidate (IcecamIceSession *self, const gchar *candidate,
                                         GError **error)
{
  g_return_val_if_fail (ICECAM_IS_ICE_SESSION (self), FALSE);
  g_return_val_if_fail (candidate != NULL, FALSE);

  if (!g_str_has_prefix (candidate, "candidate:")) {
    g_set_error (error, ICECAM_ICE_SESSION_ERROR, ICECAM_ICE_SESSION_ERROR_CANDIDATE,
                 "'%s' does not start with 'candidate:'", candidate);
    return FALSE;
  }
  if (self->have_remote_credentials)
    return add_candidate_now (self, candidate, error);
  if (self->pending_candidates->len >= MAX_PENDING_CANDIDATES) {
    g_set_error (error, ICECAM_ICE_SESSION_ERROR, ICECAM_ICE_SESSION_ERROR_CANDIDATE,
                 "more than %d candidates before the remote credentials", MAX_PENDING_CANDIDATES);
    return FALSE;
  }
  g_ptr_array_add (self->pending_candidates, g_strdup (candidate));
  return TRUE;
}

/**
 * icecam_ice_session_set_receive_func:
 * @func: (nullable): called in the session's context for every packet received
 *
 * Must be set from the session's context.
 */
void
icecam_ice_session_set_receive_func (IcecamIceSession *self, IcecamIceReceiveFunc func,
                                     gpointer user_data, GDestroyNotify notify)
{
  g_return_if_fail (ICECAM_IS_ICE_SESSION (self));

  if (self->receive_notify != NULL)
    self->receive_notify (self->receive_data);
  self->receive_func = func;
  self->receive_data = user_data;
  self->receive_notify = notify;
}

/**
 * icecam_ice_session_send_messages:
 * @messages: (array length=n_messages): packets, each of one or more buffers
 *
 * Sends without blocking, from any thread. Packets that cannot be sent now are counted as
 * dropped, never queued.
 *
 * Returns: the number of packets sent
 */
gint
icecam_ice_session_send_messages (IcecamIceSession *self, const NiceOutputMessage *messages,
                                  guint n_messages)
{
  gint sent;
  gsize bytes = 0;

  if (g_atomic_int_get (&self->closed)) {
    COUNT (packets_dropped, n_messages);
    return 0;
  }
  if (g_atomic_pointer_get (&self->punched) != NULL && icecam_punch_is_alive (self->punched))
    sent = send_punched (self, messages, n_messages);
  else
    sent = nice_agent_send_messages_nonblocking (self->agent, self->stream_id, COMPONENT_ID,
                                                 messages, n_messages, NULL, NULL);
  if (sent < 0)
    sent = 0;
  for (gint i = 0; i < sent; i++) {
    for (gint b = 0; b < messages[i].n_buffers; b++)
      bytes += messages[i].buffers[b].size;
  }
  COUNT (packets_sent, (guint64) sent);
  COUNT (bytes_sent, bytes);
  COUNT (packets_dropped, n_messages - (guint) sent);
  return sent;
}

gint
icecam_ice_session_send (IcecamIceSession *self, const guint8 *data, gsize length)
{
  GOutputVector vec = { data, length };
  NiceOutputMessage msg = { &vec, 1 };

  return icecam_ice_session_send_messages (self, &msg, 1);
}

IcecamIceState
icecam_ice_session_get_state (IcecamIceSession *self)
{
  IcecamIceState state;

  g_mutex_lock (&self->lock);
  state = self->state;
  g_mutex_unlock (&self->lock);
  return state;
}

/**
 * icecam_ice_session_get_pair_info:
 *
 * Returns: (transfer full) (nullable): the selected pair, or %NULL before one is selected
 */
IcecamPairInfo *
icecam_ice_session_get_pair_info (IcecamIceSession *self)
{
  IcecamPairInfo *info = NULL;

  g_mutex_lock (&self->lock);
  if (self->pair != NULL)
    info = icecam_pair_info_copy (self->pair);
  g_mutex_unlock (&self->lock);
  return info;
}

void
icecam_ice_session_get_stats (IcecamIceSession *self, IcecamIceStats *stats)
{
  stats->packets_sent = __atomic_load_n (&self->packets_sent, __ATOMIC_RELAXED);
  stats->bytes_sent = __atomic_load_n (&self->bytes_sent, __ATOMIC_RELAXED);
  stats->packets_dropped = __atomic_load_n (&self->packets_dropped, __ATOMIC_RELAXED);
  stats->packets_received = __atomic_load_n (&self->packets_received, __ATOMIC_RELAXED);
  stats->bytes_received = __atomic_load_n (&self->bytes_received, __ATOMIC_RELAXED);
}

static gchar *
describe_types (guint mask)
{
  GString *s = g_string_new (NULL);

  for (guint t = NICE_CANDIDATE_TYPE_HOST; t <= NICE_CANDIDATE_TYPE_RELAYED; t++) {
    if (mask & (1u << t))
      g_string_append_printf (s, "%s%s", s->len ? "," : "", candidate_type_name (t));
  }
  if (s->len == 0)
    g_string_append (s, "none");
  return g_string_free (s, FALSE);
}

/**
 * icecam_ice_session_describe_candidates:
 *
 * Returns: (transfer full): e.g. "local=host,srflx remote=host", for failure reports
 */
gchar *
icecam_ice_session_describe_candidates (IcecamIceSession *self)
{
  g_autofree gchar *local = describe_types (self->local_types);
  g_autofree gchar *remote = describe_types (self->remote_types);

  if (self->local_types == 0 && self->relay_only)
    return g_strdup_printf ("local=%s remote=%s; %s", local, remote,
                            self->have_turn ? "no TURN allocation succeeded: check the TURN "
                                              "server and its credentials"
                            : self->turn_unresolved > 0
                              ? "relay-only policy but no TURN server name resolved"
                              : "relay-only policy but no TURN server configured");
  return g_strdup_printf ("local=%s remote=%s", local, remote);
}

static void
close_finish_if_done (IcecamIceSession *self)
{
  GTask *task;

  if (!self->agent_closed || self->resolving || self->close_task == NULL)
    return;
  task = g_steal_pointer (&self->close_task);
  g_task_return_boolean (task, TRUE);
  g_object_unref (task); /* may finalize @self */
}

static void
agent_closed_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  IcecamIceSession *self = user_data; /* alive: the close task holds it */

  nice_agent_attach_recv (NICE_AGENT (source), self->stream_id, COMPONENT_ID, self->context,
                          NULL, NULL);
  g_object_unref (source); /* the reference taken in icecam_ice_session_close_async() */
  /* The allocations are released (through the bridges): their TLS connections can go. */
  if (self->tls_bridges != NULL)
    stop_tls_bridges (self);
  self->agent_closed = TRUE;
  close_finish_if_done (self);
}

typedef struct {
  IcecamIceSession *self; /* alive: the close task holds it */
  NiceAgent *agent;       /* released in agent_closed_cb() once closing */
  guint queued;           /* idles that hold this */
  gboolean queued_again;
  gboolean closing;
} AgentClosing;

static void close_agent_later (GMainContext *context, AgentClosing *closing);

/* libnice 0.1.21 looks its STUN server's address up (a numeric one too) in two turns of its
 * context after gathering starts: a timeout starts the lookup, whose answer comes in an idle
 * of its own. Closed before the answer, it warns "Can't resolve STUN server: Operation was
 * cancelled". The close goes behind both: queued once more after the turn that may have
 * started the lookup, at the same priority (a lower one could wait behind a busy socket). */
static gboolean
close_agent_cb (gpointer data)
{
  AgentClosing *closing = data;

  if (!closing->queued_again) {
    closing->queued_again = TRUE;
    close_agent_later (closing->self->context, closing);
    return G_SOURCE_REMOVE;
  }
  closing->closing = TRUE;
  nice_agent_close_async (closing->agent, agent_closed_cb, closing->self);
  return G_SOURCE_REMOVE;
}

static void
close_agent_done (gpointer data)
{
  AgentClosing *closing = data;

  if (--closing->queued > 0)
    return;
  if (!closing->closing)
    g_object_unref (closing->agent); /* the context went away first */
  g_free (closing);
}

static void
close_agent_later (GMainContext *context, AgentClosing *closing)
{
  GSource *source = g_idle_source_new ();

  closing->queued++;
  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_callback (source, close_agent_cb, closing, close_agent_done);
  g_source_attach (source, context);
  g_source_unref (source);
}

/**
 * icecam_ice_session_close_async:
 * @callback: (nullable): called in the session's context once libnice has closed (and a
 *   host name lookup that was still pending has returned)
 *
 * Stops the session: no more signals or packets; TURN allocations are released; pending
 * lookups are cancelled. The session's context must keep being iterated until @callback runs.
 */
void
icecam_ice_session_close_async (IcecamIceSession *self, GAsyncReadyCallback callback,
                                gpointer user_data)
{
  AgentClosing *closing;
  GTask *task;

  g_return_if_fail (ICECAM_IS_ICE_SESSION (self));

  task = g_task_new (self, NULL, callback, user_data);
  g_task_set_source_tag (task, icecam_ice_session_close_async);
  if (!g_atomic_int_compare_and_exchange (&self->closed, 0, 1)) {
    g_task_return_boolean (task, TRUE);
    g_object_unref (task);
    return;
  }
  set_state (self, ICECAM_ICE_STATE_CLOSED);
  if (self->punched != NULL)
    icecam_punch_stop (self->punched);
  self->close_task = task;
  if (self->resolve_cancellable != NULL)
    g_cancellable_cancel (self->resolve_cancellable);
  g_cancellable_cancel (self->mdns_cancellable);
  if (self->no_pair_source != NULL) {
    g_source_destroy (self->no_pair_source);
    g_clear_pointer (&self->no_pair_source, g_source_unref);
  }
  g_clear_pointer (&self->grace, icecam_relay_grace_free);
  g_signal_handlers_disconnect_by_data (self->agent, self);
  /* The receiver stays attached until libnice has closed: without one libnice reads nothing,
   * so the answers to its TURN deallocations (Refresh, lifetime 0) were never seen and it
   * retransmitted them until it gave up, seconds later. agent_recv_cb() drops media now. */
  closing = g_new0 (AgentClosing, 1);
  closing->self = self;
  closing->agent = g_object_ref (self->agent);
  close_agent_later (self->context, closing);
}

gboolean
icecam_ice_session_close_finish (IcecamIceSession *self, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * icecam_ice_session_close:
 *
 * icecam_ice_session_close_async() without waiting for the end.
 */
void
icecam_ice_session_close (IcecamIceSession *self)
{
  icecam_ice_session_close_async (self, NULL, NULL);
}

static void
icecam_ice_session_dispose (GObject *object)
{
  IcecamIceSession *self = ICECAM_ICE_SESSION (object);

  if (self->agent != NULL)
    icecam_ice_session_close (self);
  icecam_ice_session_set_receive_func (self, NULL, NULL, NULL);
  g_clear_object (&self->agent);
  G_OBJECT_CLASS (icecam_ice_session_parent_class)->dispose (object);
}

static void
icecam_ice_session_finalize (GObject *object)
{
  IcecamIceSession *self = ICECAM_ICE_SESSION (object);

  g_ptr_array_unref (self->pending_candidates);
  icecam_relay_grace_free (self->grace);
  if (self->tls_bridges != NULL) {
    stop_tls_bridges (self);
    g_ptr_array_unref (self->tls_bridges);
  }
  g_hash_table_unref (self->mdns_names);
  g_free (self->mdns_interface);
  g_clear_object (&self->mdns_cancellable);
  icecam_pair_info_free (self->pair);
  icecam_punch_free (self->punched);
  icecam_ice_config_free (self->servers);
  g_clear_object (&self->resolve_cancellable);
  g_clear_pointer (&self->context, g_main_context_unref);
  g_mutex_clear (&self->lock);
  G_OBJECT_CLASS (icecam_ice_session_parent_class)->finalize (object);
}

static void
icecam_ice_session_class_init (IcecamIceSessionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = icecam_ice_session_dispose;
  object_class->finalize = icecam_ice_session_finalize;

  /**
   * IcecamIceSession::local-candidate:
   * @candidate: a "candidate:..." attribute value to trickle to the peer
   */
  signals[SIGNAL_LOCAL_CANDIDATE] =
    g_signal_new ("local-candidate", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                  NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
  signals[SIGNAL_GATHERING_DONE] =
    g_signal_new ("gathering-done", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                  NULL, NULL, G_TYPE_NONE, 0);
  /**
   * IcecamIceSession::state-changed:
   * @state: the new #IcecamIceState
   */
  signals[SIGNAL_STATE_CHANGED] =
    g_signal_new ("state-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                  NULL, NULL, G_TYPE_NONE, 1, G_TYPE_UINT);
  /**
   * IcecamIceSession::pair-selected:
   * @info: the #IcecamPairInfo of the pair now carrying media
   */
  signals[SIGNAL_PAIR_SELECTED] =
    g_signal_new ("pair-selected", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                  NULL, NULL, G_TYPE_NONE, 1, ICECAM_TYPE_PAIR_INFO);
}

static void
icecam_ice_session_init (IcecamIceSession *self)
{
  g_mutex_init (&self->lock);
  self->pending_candidates = g_ptr_array_new_with_free_func (g_free);
  self->mdns_names = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                            (GDestroyNotify) g_ptr_array_unref);
  self->mdns_cancellable = g_cancellable_new ();
  self->state = ICECAM_ICE_STATE_NEW;
}
