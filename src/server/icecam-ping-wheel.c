/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Keepalive pings spread evenly over the interval: a timer wheel of WebSocket outputs. */

#include "icecam-ping-wheel.h"

/*
 * The wheel has SLOTS slots and turns once per keepalive interval: a timer moves it one slot
 * every interval / SLOTS and pings every output in that slot. An output joins a slot drawn at
 * random and stays there, so it is pinged once per turn, and connections that arrive together
 * are pinged at times spread over the whole interval: with N connections, about N / SLOTS
 * pings per tick (100,000 connections, 20 s: 400 pings every 80 ms, ~1 ms of work) instead of every
 * connection of one second at once (libsoup's seconds timers, which GLib fires together).
 * Adding and removing are O(1); the timer runs only while the wheel holds an output. One
 * GSource in all instead of one timer per connection also keeps GLib's per-iteration walk of
 * the main context's sources shorter. Not more slots: each tick wakes the main loop, and an
 * idle wake-up costs a walk of all sources (one per connection; ~1 ms at 19,000).
 */

#define SLOTS 250

struct _IcecamPingEntry {
  IcecamWsOutput *output; /* a reference */
  GList link;             /* in its slot's queue; data is the entry */
  guint slot;
};

struct _IcecamPingWheel {
  GMainContext *context;
  guint interval_s;
  GQueue slots[SLOTS];
  guint current;          /* the slot the next tick pings */
  guint size;
  GSource *timer;         /* while size > 0 */
};

static gboolean
on_tick (gpointer user_data)
{
  IcecamPingWheel *wheel = user_data;

  /* Pinging only writes: nothing here adds or removes entries. */
  for (GList *l = wheel->slots[wheel->current].head; l != NULL; l = l->next)
    icecam_ws_output_ping (((IcecamPingEntry *) l->data)->output);
  wheel->current = (wheel->current + 1) % SLOTS;
  return G_SOURCE_CONTINUE;
}

static void
stop_timer (IcecamPingWheel *wheel)
{
  if (wheel->timer == NULL)
    return;
  g_source_destroy (wheel->timer);
  g_clear_pointer (&wheel->timer, g_source_unref);
}

static void
start_timer (IcecamPingWheel *wheel)
{
  guint tick_ms = MAX (1, wheel->interval_s * 1000 / SLOTS);

  stop_timer (wheel);
  wheel->timer = g_timeout_source_new (tick_ms);
  g_source_set_name (wheel->timer, "icecam keepalive ping wheel");
  g_source_set_callback (wheel->timer, on_tick, wheel, NULL);
  g_source_attach (wheel->timer, wheel->context);
}

/**
 * icecam_ping_wheel_new:
 * @context: (nullable): the main context of the outputs' WebSockets; %NULL: the default
 * @interval_s: each output is pinged once per this many seconds, at least 1
 *
 * Returns: (transfer full): an empty wheel
 */
IcecamPingWheel *
icecam_ping_wheel_new (GMainContext *context, guint interval_s)
{
  IcecamPingWheel *wheel = g_new0 (IcecamPingWheel, 1);

  wheel->context = context != NULL ? g_main_context_ref (context) : NULL;
  wheel->interval_s = MAX (1, interval_s);
  for (guint i = 0; i < SLOTS; i++)
    g_queue_init (&wheel->slots[i]);
  return wheel;
}

/**
 * icecam_ping_wheel_set_interval:
 * @wheel: a wheel
 * @interval_s: the new interval, at least 1
 *
 * The outputs keep their slots; the wheel turns at the new pace from now on.
 */
void
icecam_ping_wheel_set_interval (IcecamPingWheel *wheel, guint interval_s)
{
  g_return_if_fail (wheel != NULL);

  interval_s = MAX (1, interval_s);
  if (interval_s == wheel->interval_s)
    return;
  wheel->interval_s = interval_s;
  if (wheel->timer != NULL)
    start_timer (wheel);
}

/**
 * icecam_ping_wheel_add:
 * @wheel: a wheel
 * @output: a WebSocket's output, pinged from now on once per interval (the first time within
 *   one interval)
 *
 * Returns: (transfer none): the entry for icecam_ping_wheel_remove(), valid until then
 */
IcecamPingEntry *
icecam_ping_wheel_add (IcecamPingWheel *wheel, IcecamWsOutput *output)
{
  IcecamPingEntry *entry;

  g_return_val_if_fail (wheel != NULL, NULL);
  g_return_val_if_fail (ICECAM_IS_WS_OUTPUT (output), NULL);

  entry = g_new0 (IcecamPingEntry, 1);
  entry->output = g_object_ref (output);
  entry->link.data = entry;
  entry->slot = (guint) g_random_int_range (0, SLOTS);
  g_queue_push_tail_link (&wheel->slots[entry->slot], &entry->link);
  if (wheel->size++ == 0)
    start_timer (wheel);
  return entry;
}

/**
 * icecam_ping_wheel_remove:
 * @wheel: a wheel
 * @entry: (transfer full): what icecam_ping_wheel_add() returned
 *
 * The output is pinged no more.
 */
void
icecam_ping_wheel_remove (IcecamPingWheel *wheel, IcecamPingEntry *entry)
{
  g_return_if_fail (wheel != NULL);
  g_return_if_fail (entry != NULL);

  g_queue_unlink (&wheel->slots[entry->slot], &entry->link);
  g_object_unref (entry->output);
  g_free (entry);
  if (--wheel->size == 0)
    stop_timer (wheel);
}

/**
 * icecam_ping_wheel_get_size:
 * @wheel: a wheel
 *
 * Returns: how many outputs it pings
 */
guint
icecam_ping_wheel_get_size (IcecamPingWheel *wheel)
{
  g_return_val_if_fail (wheel != NULL, 0);

  return wheel->size;
}

/**
 * icecam_ping_wheel_free:
 * @wheel: (transfer full): a wheel
 *
 * Forgets every output still in it.
 */
void
icecam_ping_wheel_free (IcecamPingWheel *wheel)
{
  if (wheel == NULL)
    return;
  stop_timer (wheel);
  for (guint i = 0; i < SLOTS; i++) {
    GList *link;

    while ((link = g_queue_pop_head_link (&wheel->slots[i])) != NULL) {
      IcecamPingEntry *entry = link->data;

      g_object_unref (entry->output);
      g_free (entry);
    }
  }
  if (wheel->context != NULL)
    g_main_context_unref (wheel->context);
  g_free (wheel);
}
