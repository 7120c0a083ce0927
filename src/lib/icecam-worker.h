/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A thread running a private GMainContext, for objects that must not live in the app's. */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _IcecamWorker IcecamWorker;

IcecamWorker *icecam_worker_new (const gchar *name);
GMainContext *icecam_worker_get_context (IcecamWorker *worker);
void icecam_worker_call (IcecamWorker *worker, GSourceFunc func, gpointer data);
void icecam_worker_free (IcecamWorker *worker);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (IcecamWorker, icecam_worker_free)

G_END_DECLS
