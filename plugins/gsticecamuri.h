/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* icecamsrc's URIs, icecam://HOST:PORT/CAMERA and icecams:// (TLS): parsed and built with no
 * I/O, so that bad ones are refused with a reason before anything starts. */

#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

/**
 * GstIcecamUri:
 * @server: the rendezvous URL, ws://HOST:PORT or wss://HOST:PORT
 * @camera_id: the camera's id, valid by the protocol's rules
 * @params: (element-type utf8 utf8): the query's parameters, each an icecamsrc property name
 *   (one of gst_icecam_uri_param_names()) and its value, percent-decoded
 */
typedef struct {
  gchar *server;
  gchar *camera_id;
  GHashTable *params;
} GstIcecamUri;

const gchar * const *gst_icecam_uri_param_names (void);
GstIcecamUri *gst_icecam_uri_parse (const gchar *uri, GError **error);
void gst_icecam_uri_free (GstIcecamUri *uri);
gchar *gst_icecam_uri_build (const gchar *server, const gchar *camera_id);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GstIcecamUri, gst_icecam_uri_free)

G_END_DECLS
