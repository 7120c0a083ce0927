/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The web viewer the rendezvous serves at / and /view/CAMERA, from the binary's resources. */

#pragma once

#include <libsoup/soup.h>

G_BEGIN_DECLS

void icecam_web_app_add (SoupServer *server);

G_END_DECLS
