/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* icecamsrc: the viewer side; asks the rendezvous for one camera and outputs its RTP. */

#pragma once

#include <gst/base/gstpushsrc.h>

G_BEGIN_DECLS

#define GST_TYPE_ICECAM_SRC (gst_icecam_src_get_type ())
G_DECLARE_FINAL_TYPE (GstIcecamSrc, gst_icecam_src, GST, ICECAM_SRC, GstPushSrc)

GST_ELEMENT_REGISTER_DECLARE (icecamsrc);

G_END_DECLS
