/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Relay grace: the controlling side keeps relayed candidates out of ICE for a moment, so that
 * a direct pair that needs the peer's second check is among the first pairs nomination sees. */

#include "icecam-relay-grace.h"

#include <string.h>

/* Why (docs/design.md, "Relay grace"): libnice 0.1.21's controlling agent nominates, once, the
 * best of the first two valid pairs. Behind a restricted cone opposite a symmetric NAT the
 * direct pair needs the peer's check to arrive after our own check opened our NAT to the
 * peer's address; the peer's first one comes too early and is dropped, its retransmission
 * comes 500 ms later (libnice's RTO), and by then two relayed pairs are valid. */

/* More than libnice takes per component (25 remote candidates) is never worth holding: a
 * peer that sends more gets them passed on at once, for libnice to refuse. */
#define MAX_HELD 32

typedef struct {
  gchar *candidate;
  gboolean local;
} Held;

struct _IcecamRelayGrace {
  guint grace_ms;
  GMainContext *context;
  IcecamRelayGraceFunc release;
  gpointer user_data;
  GArray *held; /* of Held */
  gboolean gathering_done_held;
  gboolean over;
  GSource *timer;
  gint64 due_us; /* when the timer fires, monotonic */
};

static void
held_clear (gpointer data)
{
  Held *held = data;

  g_free (held->candidate);
}

/**
 * icecam_relay_grace_new:
 * @grace_ms: how long after icecam_relay_grace_start() relayed candidates are held
 * @context: where the timer and @release run
 * @release: called for each held item when the grace is over
 *
 * Returns: (transfer full): a grace not started yet (it holds from now on)
 */
IcecamRelayGrace *
icecam_relay_grace_new (guint grace_ms, GMainContext *context, IcecamRelayGraceFunc release,
                        gpointer user_data)
{
  IcecamRelayGrace *grace = g_new0 (IcecamRelayGrace, 1);

  grace->grace_ms = grace_ms;
  grace->context = g_main_context_ref (context);
  grace->release = release;
  grace->user_data = user_data;
  grace->held = g_array_new (FALSE, FALSE, sizeof (Held));
  g_array_set_clear_func (grace->held, held_clear);
  return grace;
}

/**
 * icecam_relay_grace_is_relay:
 * @candidate: a "candidate:..." attribute value
 *
 * Returns: whether its type (after "typ") is relay
 */
gboolean
icecam_relay_grace_is_relay (const gchar *candidate)
{
  const gchar *typ = strstr (candidate, " typ ");

  return typ != NULL && g_str_has_prefix (typ + 5, "relay") &&
         (typ[10] == '\0' || typ[10] == ' ');
}

/**
 * icecam_relay_grace_hold:
 * @candidate: a local or remote "candidate:..." value
 * @local: whether it is ours
 *
 * Returns: %TRUE when @candidate is relayed and the grace is not over: it is kept (a copy)
 *   and released later; %FALSE: use it now (also once %MAX_HELD are held)
 */
gboolean
icecam_relay_grace_hold (IcecamRelayGrace *grace, const gchar *candidate, gboolean local)
{
  Held held;

  if (grace->over || grace->held->len >= MAX_HELD || !icecam_relay_grace_is_relay (candidate))
    return FALSE;
  held.candidate = g_strdup (candidate);
  held.local = local;
  g_array_append_val (grace->held, held);
  return TRUE;
}

/**
 * icecam_relay_grace_hold_gathering_done:
 *
 * Returns: %TRUE when local relayed candidates are held: the end of gathering waits for them
 *   (released last); %FALSE: signal it now
 */
gboolean
icecam_relay_grace_hold_gathering_done (IcecamRelayGrace *grace)
{
  for (guint i = 0; !grace->over && i < grace->held->len; i++) {
    if (g_array_index (grace->held, Held, i).local) {
      grace->gathering_done_held = TRUE;
      return TRUE;
    }
  }
  return FALSE;
}

static gboolean
on_grace_over (gpointer data)
{
  IcecamRelayGrace *grace = data;
  GArray *held = grace->held;
  gboolean done = grace->gathering_done_held;
  IcecamRelayGraceFunc release = grace->release;
  gpointer user_data = grace->user_data;

  g_clear_pointer (&grace->timer, g_source_unref);
  grace->over = TRUE;
  grace->held = g_array_new (FALSE, FALSE, sizeof (Held));
  g_array_set_clear_func (grace->held, held_clear);
  for (guint i = 0; i < held->len; i++) {
    Held *h = &g_array_index (held, Held, i);

    release (h->candidate, h->local, user_data);
  }
  g_array_unref (held);
  if (done)
    release (NULL, TRUE, user_data);
  return G_SOURCE_REMOVE;
}

/**
 * icecam_relay_grace_start:
 *
 * Starts the clock (the peer's credentials are known: checks begin). Only the first call
 * counts.
 */
void
icecam_relay_grace_start (IcecamRelayGrace *grace)
{
  if (grace->timer != NULL || grace->over)
    return;
  grace->due_us = g_get_monotonic_time () + (gint64) grace->grace_ms * 1000;
  grace->timer = g_timeout_source_new (grace->grace_ms);
  g_source_set_callback (grace->timer, on_grace_over, grace, NULL);
  g_source_attach (grace->timer, grace->context);
}

/**
 * icecam_relay_grace_holds_address:
 * @address: an IP address as text
 * @port: a port
 *
 * Returns: whether a held candidate is at @address:@port (a check from there came through a
 *   relay, not directly)
 */
gboolean
icecam_relay_grace_holds_address (IcecamRelayGrace *grace, const gchar *address, guint port)
{
  for (guint i = 0; i < grace->held->len; i++) {
    g_auto (GStrv) fields = g_strsplit (g_array_index (grace->held, Held, i).candidate, " ", 7);
    guint64 held_port;

    if (g_strv_length (fields) >= 6 && g_str_equal (fields[4], address) &&
        g_ascii_string_to_unsigned (fields[5], 10, 0, G_MAXUINT16, &held_port, NULL) &&
        held_port == port)
      return TRUE;
  }
  return FALSE;
}

/**
 * icecam_relay_grace_end_soon:
 * @ms: the most the grace may still last
 *
 * A direct path showed up (a peer's check arrived straight from its NAT): the relayed
 * candidates need not wait the whole grace any more, only long enough for the check that
 * answers it to make the direct pair valid first. Does nothing before
 * icecam_relay_grace_start() or after the grace.
 */
void
icecam_relay_grace_end_soon (IcecamRelayGrace *grace, guint ms)
{
  gint64 due_us = g_get_monotonic_time () + (gint64) ms * 1000;

  if (grace->timer == NULL || grace->over || grace->due_us <= due_us)
    return;
  grace->due_us = due_us;
  g_source_destroy (grace->timer);
  g_source_unref (grace->timer);
  grace->timer = g_timeout_source_new (ms);
  g_source_set_callback (grace->timer, on_grace_over, grace, NULL);
  g_source_attach (grace->timer, grace->context);
}

/**
 * icecam_relay_grace_free:
 *
 * Stops the timer; what is still held is dropped, never released.
 */
void
icecam_relay_grace_free (IcecamRelayGrace *grace)
{
  if (grace == NULL)
    return;
  if (grace->timer != NULL) {
    g_source_destroy (grace->timer);
    g_source_unref (grace->timer);
  }
  g_array_unref (grace->held);
  g_main_context_unref (grace->context);
  g_free (grace);
}
