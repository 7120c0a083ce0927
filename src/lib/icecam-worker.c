/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A thread running a private GMainContext, for objects that must not live in the app's. */

#include "icecam-worker.h"

/**
 * IcecamWorker:
 *
 * Owns one thread iterating one GMainContext, which is thread-default in that thread, so
 * library objects created by icecam_worker_call() emit their signals there. GStreamer
 * elements use one each for their signalling and ICE objects.
 */
struct _IcecamWorker {
  GThread *thread;
  GMainContext *context;
  GMainLoop *loop;
};

typedef struct {
  GSourceFunc func;
  gpointer data;
  GMutex lock;
  GCond cond;
  gboolean done;
} Call;

static gpointer
worker_thread (gpointer data)
{
  IcecamWorker *worker = data;

  g_main_context_push_thread_default (worker->context);
  g_main_loop_run (worker->loop);
  /* Let what the last calls started (WebSocket close frames, libnice closes) dispatch. */
  while (g_main_context_iteration (worker->context, FALSE))
    ;
  g_main_context_pop_thread_default (worker->context);
  return NULL;
}

/**
 * icecam_worker_new:
 * @name: the thread's name, for debuggers
 *
 * Returns: (transfer full): a running worker
 */
IcecamWorker *
icecam_worker_new (const gchar *name)
{
  IcecamWorker *worker = g_new0 (IcecamWorker, 1);

  worker->context = g_main_context_new ();
  worker->loop = g_main_loop_new (worker->context, FALSE);
  worker->thread = g_thread_new (name, worker_thread, worker);
  return worker;
}

GMainContext *
icecam_worker_get_context (IcecamWorker *worker)
{
  return worker->context;
}

static gboolean
call_in_worker (gpointer data)
{
  Call *call = data;

  call->func (call->data);
  g_mutex_lock (&call->lock);
  call->done = TRUE;
  g_cond_signal (&call->cond);
  g_mutex_unlock (&call->lock);
  return G_SOURCE_REMOVE;
}

/**
 * icecam_worker_call:
 * @func: run once in the worker thread; its return value is ignored
 *
 * Runs @func in the worker and waits for it to return. Must not be called from the worker.
 */
void
icecam_worker_call (IcecamWorker *worker, GSourceFunc func, gpointer data)
{
  Call call = { func, data };

  g_return_if_fail (g_thread_self () != worker->thread);

  g_mutex_init (&call.lock);
  g_cond_init (&call.cond);
  g_main_context_invoke (worker->context, call_in_worker, &call);
  g_mutex_lock (&call.lock);
  while (!call.done)
    g_cond_wait (&call.cond, &call.lock);
  g_mutex_unlock (&call.lock);
  g_mutex_clear (&call.lock);
  g_cond_clear (&call.cond);
}

static gboolean
quit_in_worker (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_REMOVE;
}

void
icecam_worker_free (IcecamWorker *worker)
{
  if (worker == NULL)
    return;
  g_main_context_invoke (worker->context, quit_in_worker, worker->loop);
  g_thread_join (worker->thread);
  g_main_loop_unref (worker->loop);
  g_main_context_unref (worker->context);
  g_free (worker);
}
