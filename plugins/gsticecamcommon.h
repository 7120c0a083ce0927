/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What icecamsink and icecamsrc share: the ICE properties, bus messages, stats structures and
 * the way they stop. */

#pragma once

#include <gst/gst.h>

#include "icecam-ice-config.h"
#include "icecam-ice-session.h"
#include "icecam-signalling-client.h"
#include "icecam-worker.h"

G_BEGIN_DECLS

#define GST_TYPE_ICECAM_ICE_TRANSPORT_POLICY (gst_icecam_ice_transport_policy_get_type ())
GType gst_icecam_ice_transport_policy_get_type (void);

/* Properties both elements have, with the same ids after the element's own. */
typedef enum {
  GST_ICECAM_PROP_SERVER = 1,
  GST_ICECAM_PROP_CAMERA_ID,
  GST_ICECAM_PROP_STUN_SERVER,
  GST_ICECAM_PROP_TURN_SERVER,
  GST_ICECAM_PROP_TURN_SERVERS,
  GST_ICECAM_PROP_ICE_TRANSPORT_POLICY,
  GST_ICECAM_PROP_ICE_TCP,
  GST_ICECAM_PROP_STATS,
  GST_ICECAM_PROP_CA_FILE,
  GST_ICECAM_PROP_INSECURE_TLS,
  GST_ICECAM_PROP_PORT_STEP,
  GST_ICECAM_PROP_RELAY_GRACE,
  GST_ICECAM_PROP_REGION,
  GST_ICECAM_PROP_TURN_CA_FILE,
  GST_ICECAM_PROP_PUNCH,
  GST_ICECAM_PROP_PUNCH_TCP,
  GST_ICECAM_PROP_LAST,
} GstIcecamProp;

/**
 * GstIcecamSettings:
 *
 * The common properties' values; guarded by the element's object lock.
 */
typedef struct {
  gchar *server;
  gchar *camera_id;
  gchar *stun_server;
  gchar *turn_server;
  gchar **turn_servers;
  IcecamIcePolicy policy;
  gboolean ice_tcp;
  gchar *ca_file;
  gboolean insecure_tls;
  gint port_step;
  guint relay_grace;
  gchar *region;
  gchar *turn_ca_file;
  gint punch;
  gboolean punch_tcp;
} GstIcecamSettings;

void gst_icecam_install_properties (GObjectClass *klass, const gchar *stats_blurb);
void gst_icecam_settings_clear (GstIcecamSettings *settings);
gboolean gst_icecam_settings_set_property (GstIcecamSettings *settings, guint prop_id,
                                           const GValue *value);
gboolean gst_icecam_settings_get_property (GstIcecamSettings *settings, guint prop_id,
                                           GValue *value);
IcecamIceConfig *gst_icecam_settings_to_ice_config (const GstIcecamSettings *settings,
                                                    GError **error);
GstMessage *gst_icecam_pair_message_new (GstObject *src, const gchar *session,
                                         const IcecamPairInfo *info);
void gst_icecam_set_pair_fields (GstStructure *s, const IcecamPairInfo *info);

/**
 * GstIcecamCloseFunc:
 * @element: the element that stops
 * @endpoint: its endpoint (an IcecamCameraEndpoint or IcecamViewerEndpoint)
 * @callback: for the endpoint's close_async()
 * @user_data: for the endpoint's close_async()
 *
 * Called in the element's worker: disconnects @element from @endpoint and starts closing it.
 */
typedef void (*GstIcecamCloseFunc) (GstElement *element, gpointer endpoint,
                                    GAsyncReadyCallback callback, gpointer user_data);

gboolean gst_icecam_stop_endpoint (GstElement *element, IcecamWorker **worker, gpointer *endpoint,
                                   GstIcecamCloseFunc close);

G_END_DECLS
