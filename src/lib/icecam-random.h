/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unpredictable bytes for anything an off-path attacker must not guess (STUN transaction IDs). */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

void icecam_random_bytes (guint8 *buf, gsize length);

G_END_DECLS
