# SPDX-License-Identifier: LGPL-2.1-or-later
# Sourced by the pipeline scripts: use the plugin from a build tree when there is one.
ICECAM_SERVER=${ICECAM_SERVER:-ws://127.0.0.1:8080}
ICECAM_CAMERA=${ICECAM_CAMERA:-frontdoor}
_icecam_build=${ICECAM_BUILD_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/build}
if [ -d "$_icecam_build/plugins" ]; then
  export GST_PLUGIN_PATH_1_0="$_icecam_build/plugins${GST_PLUGIN_PATH_1_0:+:$GST_PLUGIN_PATH_1_0}"
fi
