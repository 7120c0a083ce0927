/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* icecam-view --record: the camera's H.264, as it came, into a file that plays even if cut off. */

#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

typedef struct _IcecamViewRecord IcecamViewRecord;

IcecamViewRecord *icecam_view_record_new (GstElement *pipeline, GstElement *src,
                                          const gchar *path, GError **error);
GstElement *icecam_view_record_get_tee (IcecamViewRecord *record);
gboolean icecam_view_record_finish (IcecamViewRecord *record, guint timeout_ms);
void icecam_view_record_free (IcecamViewRecord *record);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (IcecamViewRecord, icecam_view_record_free)

G_END_DECLS
