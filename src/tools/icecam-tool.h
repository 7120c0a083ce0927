/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What icecam-camera and icecam-view share: ICE options, logging, Ctrl-C. */

#pragma once

#include <gst/gst.h>

#include "icecam-tool-summary.h"

G_BEGIN_DECLS

/* The relay grace --nat-probe gives a camera behind a restricted cone: the peer's dropped
 * first check is retransmitted 500 ms later (libnice's RTO), answered a round trip after. */
#define ICECAM_TOOL_RELAY_GRACE_MS 1000

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
  gboolean punch_tcp;
  gchar *ca_file;
  gchar *region;
  gchar *turn_ca_file;
  gboolean insecure_tls;
  gboolean verbose;
  gint port_step;      /* not options: --nat-probe's findings (port-step, relay-grace) */
  guint relay_grace_ms;
  gint punch; /* not an option: --nat-probe's finding (an IcecamPunchMapping), 0 when none */
  gboolean preload_plugin; /* not an option: icecam_tool_preload_plugin() once parsed */
} IcecamToolIceOptions;

GOptionGroup *icecam_tool_ice_option_group (IcecamToolIceOptions *options);
gboolean icecam_tool_apply_ice_options (const IcecamToolIceOptions *options, GstElement *element,
                                        GError **error);
void icecam_tool_ice_options_clear (IcecamToolIceOptions *options);
void icecam_tool_use_build_tree_plugin (void);
void icecam_tool_preload_plugin (void);
gboolean icecam_tool_check_plugin (GError **error);
gchar *icecam_tool_probe_nat (const gchar *tool, const gchar *rendezvous,
                              const gchar *stun_server, gchar **nat_type,
                              IcecamToolIceOptions *ice);

void icecam_tool_init (const gboolean *verbose);
GOptionEntry icecam_tool_version_entry (gboolean *version);
void icecam_tool_print_version (const gchar *tool);
gboolean icecam_tool_check_arguments (int argc, char **argv, GError **error);
gboolean icecam_tool_check_range (const gchar *option, gint value, gint min, gint max,
                                  GError **error);
gboolean icecam_tool_check_server (const gchar *url, GError **error);
gboolean icecam_tool_check_id (const gchar *option, const gchar *id, GError **error);
gboolean icecam_tool_check_ice_options (const IcecamToolIceOptions *options, GError **error);
gboolean icecam_tool_check_fingerprint (const gchar *fingerprint, GError **error);
gboolean icecam_tool_check_readable (const gchar *option, const gchar *path, GError **error);
gchar *icecam_tool_describe_error (GstMessage *msg, gboolean verbose);
GStrv icecam_tool_list_cameras (const gchar *server, const gchar *token,
                                const IcecamToolIceOptions *options, GError **error);
gchar *icecam_tool_pop_error (GstElement *pipeline, gboolean verbose);

G_END_DECLS
