/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What icecamsink and icecamsrc share: the ICE properties, bus messages, stats structures and
 * the way they stop. */

#include "gsticecamcommon.h"

/* How long stop() waits for the endpoint to close (sessions ended, peers told). */
#define CLOSE_TIMEOUT_US (2 * G_TIME_SPAN_SECOND)

GType
gst_icecam_ice_transport_policy_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    { ICECAM_ICE_POLICY_ALL, "Use every candidate type", "all" },
    { ICECAM_ICE_POLICY_RELAY, "Use only relayed (TURN) candidates", "relay" },
    { 0, NULL, NULL },
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstIcecamIceTransportPolicy", values);

    g_once_init_leave (&type, t);
  }
  return type;
}

void
gst_icecam_install_properties (GObjectClass *klass, const gchar *stats_blurb)
{
  GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY;

  g_object_class_install_property (klass, GST_ICECAM_PROP_SERVER,
      g_param_spec_string ("server", "Server",
          "The icecam rendezvous, ws://HOST:PORT or wss://HOST:PORT; a comma-separated "
          "list for the nodes of a cluster, tried in turn (the next when one is lost)", NULL, rw));
  g_object_class_install_property (klass, GST_ICECAM_PROP_CAMERA_ID,
      g_param_spec_string ("camera-id", "Camera id",
          "The camera's id at the rendezvous: 1..64 characters of A-Z a-z 0-9 . _ -", NULL, rw));
  g_object_class_install_property (klass, GST_ICECAM_PROP_STUN_SERVER,
      g_param_spec_string ("stun-server", "STUN server",
          "STUN server, stun:HOST[:PORT] or stun://HOST:PORT; overrides the one the "
          "rendezvous advertises (default: the rendezvous's own)", NULL, rw));
  g_object_class_install_property (klass, GST_ICECAM_PROP_TURN_SERVER,
      g_param_spec_string ("turn-server", "TURN server",
          "A TURN relay, turn(s)://USER:PASSWORD@HOST:PORT[?transport=udp|tcp]; when set, "
          "relays advertised by the rendezvous are not used", NULL, rw));
  g_object_class_install_property (klass, GST_ICECAM_PROP_TURN_SERVERS,
      g_param_spec_boxed ("turn-servers", "TURN servers",
          "More TURN relays, in the form of turn-server (at most 8 in all)", G_TYPE_STRV, rw));
  g_object_class_install_property (klass, GST_ICECAM_PROP_ICE_TRANSPORT_POLICY,
      g_param_spec_enum ("ice-transport-policy", "ICE transport policy",
          "Which candidates may carry media: all, or relay (only TURN)",
          GST_TYPE_ICECAM_ICE_TRANSPORT_POLICY, ICECAM_ICE_POLICY_ALL, rw));
  g_object_class_install_property (klass, GST_ICECAM_PROP_ICE_TCP,
      g_param_spec_boolean ("ice-tcp", "ICE-TCP",
          "Also gather and try TCP candidates (RFC 6544); off by default because each one "
          "adds pairs to check", FALSE, rw));
  g_object_class_install_property (klass, GST_ICECAM_PROP_CA_FILE,
      g_param_spec_string ("ca-file", "CA file",
          "PEM file of the certificate authorities to trust for a wss:// server (default: the "
          "system's)", NULL, rw));
  g_object_class_install_property (klass, GST_ICECAM_PROP_INSECURE_TLS,
      g_param_spec_boolean ("insecure-tls", "Insecure TLS",
          "Accept any certificate from a wss:// server. For tests only: anyone on the path "
          "can then impersonate the rendezvous", FALSE, rw));
  g_object_class_install_property (klass, GST_ICECAM_PROP_PORT_STEP,
      g_param_spec_int ("port-step", "Port step",
          "This host's NAT is symmetric and gives each new mapping the public port this many "
          "ports past the previous one (icecam-natprobe's port-step): each session then also "
          "signals the server-reflexive ports that step predicts, for the peer to check; 0 "
          "(default): no prediction", -32, 32, 0, rw));
  g_object_class_install_property (klass, GST_ICECAM_PROP_RELAY_GRACE,
      g_param_spec_uint ("relay-grace", "Relay grace",
          "Milliseconds the controlling side (the camera) keeps relayed candidates out of "
          "ICE once the peer's are known, so that a direct pair needing the peer's second "
          "check (a restricted cone opposite a symmetric NAT) is nominated instead of the "
          "relay; relayed sessions start this much later. 0 (default): none", 0, 5000, 0, rw));
  g_object_class_install_property (klass, GST_ICECAM_PROP_REGION,
      g_param_spec_string ("region", "Region",
          "A region hint for the rendezvous: it assigns sessions a relay tagged with this "
          "region (--turn-server URL,region=NAME) first; 1..64 characters of "
          "A-Z a-z 0-9 . _ -", NULL, rw));
  g_object_class_install_property (klass, GST_ICECAM_PROP_TURN_CA_FILE,
      g_param_spec_string ("turn-ca-file", "TURN CA file",
          "PEM file of the certificate authorities to trust for turns: relays, reached over "
          "real TLS (default: the system's)", NULL, rw));
  g_object_class_install_property (klass, GST_ICECAM_PROP_PUNCH,
      g_param_spec_int ("punch", "Birthday punching",
          "This host's NAT for birthday punching (icecam-natprobe's verdict): 1 symmetric with "
          "random ports, 2 one mapping for all destinations (a cone), 3 symmetric counting its "
          "ports by port-step. Each relayed session whose two ends set it (one 1, the other 2; "
          "or both 3) punches a direct UDP path beside its own after it connects and moves its "
          "media there. 0 (default): no punching", 0, 3, 0, rw));
  g_object_class_install_property (klass, GST_ICECAM_PROP_PUNCH_TCP,
      g_param_spec_boolean ("punch-tcp", "TCP punching",
          "Once a session is relayed, open a direct TCP connection to the peer through both "
          "NATs (simultaneous open from ports whose mappings the rendezvous's STUN server saw "
          "over TCP) and move its media there: for a host whose UDP is blocked. The peer must "
          "set punch or punch-tcp (it then answers)", FALSE, rw));
  g_object_class_install_property (klass, GST_ICECAM_PROP_STATS,
      g_param_spec_boxed ("stats", "Statistics", stats_blurb, GST_TYPE_STRUCTURE,
          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
}

void
gst_icecam_settings_clear (GstIcecamSettings *settings)
{
  g_clear_pointer (&settings->server, g_free);
  g_clear_pointer (&settings->camera_id, g_free);
  g_clear_pointer (&settings->stun_server, g_free);
  g_clear_pointer (&settings->turn_server, g_free);
  g_clear_pointer (&settings->turn_servers, g_strfreev);
  g_clear_pointer (&settings->ca_file, g_free);
  g_clear_pointer (&settings->region, g_free);
  g_clear_pointer (&settings->turn_ca_file, g_free);
}

gboolean
gst_icecam_settings_set_property (GstIcecamSettings *settings, guint prop_id,
                                  const GValue *value)
{
  switch (prop_id) {
    case GST_ICECAM_PROP_SERVER:
      g_free (settings->server);
      settings->server = g_value_dup_string (value);
      return TRUE;
    case GST_ICECAM_PROP_CAMERA_ID:
      g_free (settings->camera_id);
      settings->camera_id = g_value_dup_string (value);
      return TRUE;
    case GST_ICECAM_PROP_STUN_SERVER:
      g_free (settings->stun_server);
      settings->stun_server = g_value_dup_string (value);
      return TRUE;
    case GST_ICECAM_PROP_TURN_SERVER:
      g_free (settings->turn_server);
      settings->turn_server = g_value_dup_string (value);
      return TRUE;
    case GST_ICECAM_PROP_TURN_SERVERS:
      g_strfreev (settings->turn_servers);
      settings->turn_servers = g_value_dup_boxed (value);
      return TRUE;
    case GST_ICECAM_PROP_ICE_TRANSPORT_POLICY:
      settings->policy = g_value_get_enum (value);
      return TRUE;
    case GST_ICECAM_PROP_ICE_TCP:
      settings->ice_tcp = g_value_get_boolean (value);
      return TRUE;
    case GST_ICECAM_PROP_CA_FILE:
      g_free (settings->ca_file);
      settings->ca_file = g_value_dup_string (value);
      return TRUE;
    case GST_ICECAM_PROP_INSECURE_TLS:
      settings->insecure_tls = g_value_get_boolean (value);
      return TRUE;
    case GST_ICECAM_PROP_PORT_STEP:
      settings->port_step = g_value_get_int (value);
      return TRUE;
    case GST_ICECAM_PROP_PUNCH:
      settings->punch = g_value_get_int (value);
      return TRUE;
    case GST_ICECAM_PROP_PUNCH_TCP:
      settings->punch_tcp = g_value_get_boolean (value);
      return TRUE;
    case GST_ICECAM_PROP_RELAY_GRACE:
      settings->relay_grace = g_value_get_uint (value);
      return TRUE;
    case GST_ICECAM_PROP_REGION:
      g_free (settings->region);
      settings->region = g_value_dup_string (value);
      return TRUE;
    case GST_ICECAM_PROP_TURN_CA_FILE:
      g_free (settings->turn_ca_file);
      settings->turn_ca_file = g_value_dup_string (value);
      return TRUE;
    default:
      return FALSE;
  }
}

gboolean
gst_icecam_settings_get_property (GstIcecamSettings *settings, guint prop_id, GValue *value)
{
  switch (prop_id) {
    case GST_ICECAM_PROP_SERVER:
      g_value_set_string (value, settings->server);
      return TRUE;
    case GST_ICECAM_PROP_CAMERA_ID:
      g_value_set_string (value, settings->camera_id);
      return TRUE;
    case GST_ICECAM_PROP_STUN_SERVER:
      g_value_set_string (value, settings->stun_server);
      return TRUE;
    case GST_ICECAM_PROP_TURN_SERVER:
      g_value_set_string (value, settings->turn_server);
      return TRUE;
    case GST_ICECAM_PROP_TURN_SERVERS:
      g_value_set_boxed (value, settings->turn_servers);
      return TRUE;
    case GST_ICECAM_PROP_ICE_TRANSPORT_POLICY:
      g_value_set_enum (value, settings->policy);
      return TRUE;
    case GST_ICECAM_PROP_ICE_TCP:
      g_value_set_boolean (value, settings->ice_tcp);
      return TRUE;
    case GST_ICECAM_PROP_CA_FILE:
      g_value_set_string (value, settings->ca_file);
      return TRUE;
    case GST_ICECAM_PROP_INSECURE_TLS:
      g_value_set_boolean (value, settings->insecure_tls);
      return TRUE;
    case GST_ICECAM_PROP_PORT_STEP:
      g_value_set_int (value, settings->port_step);
      return TRUE;
    case GST_ICECAM_PROP_PUNCH:
      g_value_set_int (value, settings->punch);
      return TRUE;
    case GST_ICECAM_PROP_PUNCH_TCP:
      g_value_set_boolean (value, settings->punch_tcp);
      return TRUE;
    case GST_ICECAM_PROP_RELAY_GRACE:
      g_value_set_uint (value, settings->relay_grace);
      return TRUE;
    case GST_ICECAM_PROP_REGION:
      g_value_set_string (value, settings->region);
      return TRUE;
    case GST_ICECAM_PROP_TURN_CA_FILE:
      g_value_set_string (value, settings->turn_ca_file);
      return TRUE;
    default:
      return FALSE;
  }
}

/**
 * gst_icecam_settings_to_ice_config:
 *
 * Pure, so called under the object lock: URLs are parsed, and a host name is kept as a name
 * (each ICE session looks it up asynchronously when it gathers).
 *
 * Returns: (transfer full) (nullable): the ICE configuration the properties describe
 */
IcecamIceConfig *
gst_icecam_settings_to_ice_config (const GstIcecamSettings *settings, GError **error)
{
  g_autoptr (IcecamIceConfig) config = icecam_ice_config_new ();

  config->policy = settings->policy;
  config->ice_tcp = settings->ice_tcp;
  config->port_step = settings->port_step;
  config->relay_grace_ms = settings->relay_grace;
  config->turn_ca_file = g_strdup (settings->turn_ca_file);
  config->punch = settings->punch;
  config->punch_tcp = settings->punch_tcp;
  if (settings->stun_server != NULL &&
      !icecam_ice_config_add_url (config, settings->stun_server, NULL, NULL, error))
    return NULL;
  if (settings->turn_server != NULL &&
      !icecam_ice_config_add_url (config, settings->turn_server, NULL, NULL, error))
    return NULL;
  for (guint i = 0; settings->turn_servers && settings->turn_servers[i]; i++) {
    if (!icecam_ice_config_add_url (config, settings->turn_servers[i], NULL, NULL, error))
      return NULL;
  }
  return g_steal_pointer (&config);
}

void
gst_icecam_set_pair_fields (GstStructure *s, const IcecamPairInfo *info)
{
  gst_structure_set (s,
      "local-type", G_TYPE_STRING, info->local_type,
      "remote-type", G_TYPE_STRING, info->remote_type,
      "transport", G_TYPE_STRING, info->transport,
      "local-address", G_TYPE_STRING, info->local_address,
      "remote-address", G_TYPE_STRING, info->remote_address,
      NULL);
}

/**
 * gst_icecam_pair_message_new:
 *
 * Returns: (transfer full): the "icecam-pair-selected" element message
 */
GstMessage *
gst_icecam_pair_message_new (GstObject *src, const gchar *session, const IcecamPairInfo *info)
{
  GstStructure *s = gst_structure_new ("icecam-pair-selected",
      "session", G_TYPE_STRING, session, NULL);

  gst_icecam_set_pair_fields (s, info);
  return gst_message_new_element (src, s);
}

/* Shared by gst_icecam_stop_endpoint() and the close callback, which holds a reference of its
 * own: it may come after the wait has given up. */
typedef struct {
  GMutex lock;
  GCond cond;
  gboolean closed;
} CloseWait;

static void
close_wait_clear (gpointer data)
{
  CloseWait *wait = data;

  g_mutex_clear (&wait->lock);
  g_cond_clear (&wait->cond);
}

static void
endpoint_close_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  CloseWait *wait = user_data;

  g_mutex_lock (&wait->lock);
  wait->closed = TRUE;
  g_cond_signal (&wait->cond);
  g_mutex_unlock (&wait->lock);
  g_atomic_rc_box_release_full (wait, close_wait_clear);
}

typedef struct {
  GstElement *element;
  gpointer *endpoint;
  GstIcecamCloseFunc close;
  CloseWait *wait;
} StopCall;

static gboolean
close_in_worker (gpointer data)
{
  StopCall *call = data;

  call->close (call->element, *call->endpoint, endpoint_close_cb,
               g_atomic_rc_box_acquire (call->wait));
  return G_SOURCE_REMOVE;
}

static gboolean
unref_in_worker (gpointer data)
{
  StopCall *call = data;
  gpointer endpoint;

  GST_OBJECT_LOCK (call->element);
  endpoint = g_steal_pointer (call->endpoint);
  GST_OBJECT_UNLOCK (call->element);
  g_clear_object (&endpoint);
  return G_SOURCE_REMOVE;
}

/**
 * gst_icecam_stop_endpoint:
 * @element: the element; its object lock guards *@endpoint, which other threads read
 * @worker: (inout) (transfer full) (nullable): the worker the endpoint lives in; freed and set
 *   to %NULL. Nothing is done if it is %NULL (the element never started).
 * @endpoint: (inout) (transfer full): the element's endpoint; unreffed in the worker, set to
 *   %NULL
 * @close: detaches @element from the endpoint and starts closing it, in the worker
 *
 * An element's stop(): closes its endpoint in the worker (so that peers learn their sessions
 * ended), waits for that at most 2 s, unrefs the endpoint in the worker and frees the worker.
 *
 * Returns: %FALSE if the endpoint did not close in time
 */
gboolean
gst_icecam_stop_endpoint (GstElement *element, IcecamWorker **worker, gpointer *endpoint,
                          GstIcecamCloseFunc close)
{
  StopCall call = { element, endpoint, close, NULL };
  gint64 deadline = g_get_monotonic_time () + CLOSE_TIMEOUT_US;
  gboolean closed;

  if (*worker == NULL)
    return TRUE;
  call.wait = g_atomic_rc_box_new0 (CloseWait);
  g_mutex_init (&call.wait->lock);
  g_cond_init (&call.wait->cond);
  icecam_worker_call (*worker, close_in_worker, &call);
  g_mutex_lock (&call.wait->lock);
  while (!call.wait->closed &&
         g_cond_wait_until (&call.wait->cond, &call.wait->lock, deadline))
    ;
  closed = call.wait->closed;
  g_mutex_unlock (&call.wait->lock);
  g_atomic_rc_box_release_full (call.wait, close_wait_clear);
  icecam_worker_call (*worker, unref_in_worker, &call);
  g_clear_pointer (worker, icecam_worker_free);
  return closed;
}
