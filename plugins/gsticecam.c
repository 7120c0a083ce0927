/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The icecam GStreamer plugin: icecamsink (camera side) and icecamsrc (viewer side). */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gsticecamsink.h"
#include "gsticecamsrc.h"

static gboolean
plugin_init (GstPlugin *plugin)
{
  gboolean ret = FALSE;

  ret |= GST_ELEMENT_REGISTER (icecamsink, plugin);
  ret |= GST_ELEMENT_REGISTER (icecamsrc, plugin);
  return ret;
}

GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, icecam,
    "Camera streaming across NATs over ICE, through an icecam rendezvous",
    plugin_init, PACKAGE_VERSION, "LGPL", PACKAGE, "https://icecam.invalid/")
