/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The operator's log of the rendezvous: one line per event, rate-limited per kind. */

#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/* The log domain of the operator's lines, shown at INFO unless the command says otherwise. */
#define ICECAM_OPS_LOG_DOMAIN "icecam-ops"
/* Lines of one kind printed per window at most, by default; then one "suppressed" line. */
#define ICECAM_OPS_LOG_DEFAULT_LIMIT 10
#define ICECAM_OPS_LOG_WINDOW_S 10

typedef enum {
  ICECAM_OPS_LOG_CAMERA_ONLINE,
  ICECAM_OPS_LOG_CAMERA_OFFLINE,
  ICECAM_OPS_LOG_CAMERA_REFUSED,
  ICECAM_OPS_LOG_VIEWER_REFUSED,
  ICECAM_OPS_LOG_PER_ADDRESS,
  ICECAM_OPS_LOG_MESSAGE_RATE,
  ICECAM_OPS_LOG_GLOBAL_CAP,
  ICECAM_OPS_LOG_SESSION_LIMIT,
  ICECAM_OPS_LOG_FRAME_TOO_BIG,
  ICECAM_OPS_LOG_PROXY_REFUSED,
  ICECAM_OPS_LOG_RELOAD,
  ICECAM_OPS_LOG_SLOW_READER,
  ICECAM_OPS_LOG_N_KINDS,
} IcecamOpsLogKind;

#define ICECAM_TYPE_OPS_LOG (icecam_ops_log_get_type ())
G_DECLARE_FINAL_TYPE (IcecamOpsLog, icecam_ops_log, ICECAM, OPS_LOG, GObject)

IcecamOpsLog *icecam_ops_log_new (void);
void icecam_ops_log_set_limit (IcecamOpsLog *self, guint lines_per_window);
guint icecam_ops_log_get_limit (IcecamOpsLog *self);
const gchar *icecam_ops_log_kind_to_string (IcecamOpsLogKind kind);
gboolean icecam_ops_log_admit (IcecamOpsLog *self, IcecamOpsLogKind kind, gint64 now_us,
                               guint *suppressed);
void icecam_ops_log_event (IcecamOpsLog *self, IcecamOpsLogKind kind, const gchar *format, ...)
  G_GNUC_PRINTF (3, 4);

G_END_DECLS
