/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What icecam-camera and icecam-view share: ICE options, logging, Ctrl-C. */

#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

/**
 * IcecamToolIceOptions:
 *
 * The ICE command-line options, named like the element properties they set.
 */
typedef struct {
  gchar *stun_server;
  gchar **turn_servers;
  gchar *policy;
  gboolean ice_tcp;
  gchar *ca_file;
  gboolean insecure_tls;
  gboolean verbose;
} IcecamToolIceOptions;

GOptionGroup *icecam_tool_ice_option_group (IcecamToolIceOptions *options);
gboolean icecam_tool_apply_ice_options (const IcecamToolIceOptions *options, GstElement *element,
                                        GError **error);
void icecam_tool_ice_options_clear (IcecamToolIceOptions *options);
void icecam_tool_use_build_tree_plugin (void);
gboolean icecam_tool_check_plugin (GError **error);
gchar *icecam_tool_probe_nat (const gchar *tool, const gchar *rendezvous,
                              const gchar *stun_server, gchar **nat_type);

G_END_DECLS
