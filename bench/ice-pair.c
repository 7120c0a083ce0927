/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Baseline for the ICE part of time to first frame: two libnice agents on loopback, libnice's
 * defaults against icecam's settings (src/lib/icecam-ice-session.c), time to a selected pair. */

#include <nice.h>
#include <stdio.h>

#include "bench-util.h"

#define RUN_TIMEOUT_US (10 * G_TIME_SPAN_SECOND)

typedef enum {
  VARIANT_DEFAULTS, /* nice_agent_new() as it comes; candidates sent once gathering is done */
  VARIANT_UPNP_OFF, /* the same with upnp=FALSE: what the UPnP probe alone costs */
  VARIANT_TA20,     /* icecam's settings and trickle, but libnice's own Ta of 20 ms */
  VARIANT_ICECAM,   /* icecam's settings and trickle, as IcecamIceSession configures */
  N_VARIANTS
} Variant;

static const gchar *const variant_names[N_VARIANTS] = { "defaults", "upnp-off", "icecam-ta20",
                                                                "icecam" };

typedef struct _App App;
typedef struct _Pair Pair;

typedef struct {
  Pair *pair;
  NiceAgent *agent;
  guint stream;
  gboolean gathered;
  gboolean selected;
} Side;

struct _Pair {
  App *app;
  Variant variant;
  Side sides[2];
  gint64 start_us;
  GSource *timeout;
  gboolean finished;
  guint open_agents;
};

struct _App {
  gint runs;
  gdouble rate_seconds;
  gint in_flight;
  gchar *only;

  GMainLoop *loop;
  GArray *times[N_VARIANTS]; /* ms to a selected pair on both sides */
  guint failures[N_VARIANTS];
  GQueue schedule;           /* Variant (as pointer) still to run, sequential mode */
  gint64 rate_end_us;
  guint rate_started, rate_done, pairs_open;
};

static void start_next (App *app);
static void start_pair (App *app, Variant variant);

static Side *
other_side (Side *side)
{
  return side == &side->pair->sides[0] ? &side->pair->sides[1] : &side->pair->sides[0];
}

static void
on_recv (NiceAgent *agent, guint stream, guint component, guint len, gchar *buf, gpointer data)
{
}

static void
agent_closed_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  Pair *pair = data;
  App *app = pair->app;

  if (--pair->open_agents > 0)
    return;
  for (guint i = 0; i < 2; i++)
    g_object_unref (pair->sides[i].agent);
  g_free (pair);
  app->pairs_open--;
  start_next (app);
}

static void
finish_pair (Pair *pair, gboolean ok)
{
  App *app = pair->app;
  gdouble ms = (g_get_monotonic_time () - pair->start_us) / 1000.0;

  if (pair->finished)
    return;
  pair->finished = TRUE;
  g_source_destroy (pair->timeout);
  g_clear_pointer (&pair->timeout, g_source_unref);
  if (app->rate_seconds > 0)
    app->rate_done += ok;
  else if (ok)
    g_array_append_val (app->times[pair->variant], ms);
  else
    app->failures[pair->variant]++;
  for (guint i = 0; i < 2; i++) {
    g_signal_handlers_disconnect_by_data (pair->sides[i].agent, &pair->sides[i]);
    nice_agent_close_async (pair->sides[i].agent, agent_closed_cb, pair);
  }
}

static gboolean
on_pair_timeout (gpointer data)
{
  finish_pair (data, FALSE);
  return G_SOURCE_REMOVE;
}

/* Non-trickle: each side learns the other's credentials and every candidate at once. */
static void
exchange_everything (Pair *pair)
{
  for (guint i = 0; i < 2; i++) {
    Side *from = &pair->sides[i], *to = other_side (from);
    g_autofree gchar *ufrag = NULL, *pwd = NULL;
    GSList *candidates;

    nice_agent_get_local_credentials (from->agent, from->stream, &ufrag, &pwd);
    nice_agent_set_remote_credentials (to->agent, to->stream, ufrag, pwd);
    candidates = nice_agent_get_local_candidates (from->agent, from->stream, 1);
    nice_agent_set_remote_candidates (to->agent, to->stream, 1, candidates);
    g_slist_free_full (candidates, (GDestroyNotify) nice_candidate_free);
  }
}

static void
on_gathering_done (NiceAgent *agent, guint stream, Side *side)
{
  side->gathered = TRUE;
  if (side->pair->variant < VARIANT_TA20 && other_side (side)->gathered)
    exchange_everything (side->pair);
}

/* Trickle: the candidate goes to the peer at once (signalling costs nothing here). */
static void
on_new_candidate (NiceAgent *agent, NiceCandidate *candidate, Side *side)
{
  Side *to = other_side (side);
  GSList list = { candidate, NULL };

  if (side->pair->variant >= VARIANT_TA20)
    nice_agent_set_remote_candidates (to->agent, to->stream, 1, &list);
}

static void
on_selected_pair (NiceAgent *agent, guint stream, guint component, NiceCandidate *local,
                  NiceCandidate *remote, Side *side)
{
  side->selected = TRUE;
  if (other_side (side)->selected)
    finish_pair (side->pair, TRUE);
}

static void
on_state_changed (NiceAgent *agent, guint stream, guint component, guint state, Side *side)
{
  if (state == NICE_COMPONENT_STATE_FAILED)
    finish_pair (side->pair, FALSE);
}

static void
setup_side (Pair *pair, guint index)
{
  Side *side = &pair->sides[index];
  GMainContext *context = g_main_context_default ();
  NiceAddress loopback;

  side->pair = pair;
  if (pair->variant >= VARIANT_TA20) {
    side->agent = nice_agent_new_full (context, NICE_COMPATIBILITY_RFC5245,
                                       NICE_AGENT_OPTION_ICE_TRICKLE |
                                       NICE_AGENT_OPTION_CONSENT_FRESHNESS);
    g_object_set (side->agent, "upnp", FALSE, "controlling-mode", index == 0, "ice-tcp", FALSE,
                  "ice-udp", TRUE, NULL);
    if (pair->variant == VARIANT_ICECAM) /* as icecam-ice-session.c */
      g_object_set (side->agent, "stun-pacing-timer", 5u, NULL);
  } else {
    side->agent = nice_agent_new (context, NICE_COMPATIBILITY_RFC5245);
    if (pair->variant == VARIANT_UPNP_OFF)
      g_object_set (side->agent, "upnp", FALSE, NULL);
  }
  /* libnice skips loopback interfaces: every variant needs this to run on 127.0.0.1. */
  nice_address_set_from_string (&loopback, "127.0.0.1");
  nice_agent_add_local_address (side->agent, &loopback);
  side->stream = nice_agent_add_stream (side->agent, 1);
  nice_agent_attach_recv (side->agent, side->stream, 1, context, on_recv, NULL);
  g_signal_connect (side->agent, "candidate-gathering-done", G_CALLBACK (on_gathering_done), side);
  g_signal_connect (side->agent, "new-candidate-full", G_CALLBACK (on_new_candidate), side);
  g_signal_connect (side->agent, "new-selected-pair-full", G_CALLBACK (on_selected_pair), side);
  g_signal_connect (side->agent, "component-state-changed", G_CALLBACK (on_state_changed), side);
}

static void
start_pair (App *app, Variant variant)
{
  Pair *pair = g_new0 (Pair, 1);

  pair->app = app;
  pair->variant = variant;
  pair->open_agents = 2;
  app->pairs_open++;
  setup_side (pair, 0);
  setup_side (pair, 1);
  if (variant >= VARIANT_TA20) {
    /* icecam sends the offer (credentials) before the candidates trickle. */
    for (guint i = 0; i < 2; i++) {
      Side *from = &pair->sides[i], *to = other_side (from);
      g_autofree gchar *ufrag = NULL, *pwd = NULL;

      nice_agent_get_local_credentials (from->agent, from->stream, &ufrag, &pwd);
      nice_agent_set_remote_credentials (to->agent, to->stream, ufrag, pwd);
    }
  }
  pair->start_us = g_get_monotonic_time ();
  for (guint i = 0; i < 2; i++)
    nice_agent_gather_candidates (pair->sides[i].agent, pair->sides[i].stream);
  pair->timeout = g_timeout_source_new (RUN_TIMEOUT_US / 1000);
  g_source_set_callback (pair->timeout, on_pair_timeout, pair, NULL);
  g_source_attach (pair->timeout, NULL);
}

static void
start_next (App *app)
{
  if (app->rate_seconds > 0) {
    while (g_get_monotonic_time () < app->rate_end_us && app->pairs_open < (guint) app->in_flight) {
      app->rate_started++;
      start_pair (app, VARIANT_ICECAM);
    }
    if (app->pairs_open == 0)
      g_main_loop_quit (app->loop);
    return;
  }
  if (g_queue_is_empty (&app->schedule)) {
    g_main_loop_quit (app->loop);
    return;
  }
  start_pair (app, GPOINTER_TO_INT (g_queue_pop_head (&app->schedule)));
}

static gboolean
kick_off (gpointer data)
{
  start_next (data);
  return G_SOURCE_REMOVE;
}

static void
print_results (App *app)
{
  gdouble medians[N_VARIANTS] = { 0 };

  for (guint v = 0; v < N_VARIANTS; v++) {
    GArray *t = app->times[v];

    if (t->len == 0 && app->failures[v] == 0)
      continue;
    medians[v] = bench_percentile (t, 50);
    printf ("ice-pair: variant=%s runs=%u failures=%u median_ms=%.1f p90_ms=%.1f min_ms=%.1f "
            "max_ms=%.1f\n", variant_names[v], t->len, app->failures[v], medians[v],
            bench_percentile (t, 90), bench_percentile (t, 0), bench_percentile (t, 100));
  }
  for (guint v = 0; v < VARIANT_ICECAM; v++) {
    if (medians[v] > 0 && medians[VARIANT_ICECAM] > 0)
      printf ("ice-pair: ratio %s/icecam=%.1f\n", variant_names[v],
              medians[v] / medians[VARIANT_ICECAM]);
  }
}

static gboolean
parse_options (App *app, int *argc, char ***argv, GError **error)
{
  GOptionEntry entries[] = {
    { "runs", 'n', 0, G_OPTION_ARG_INT, &app->runs, "Runs per variant (default 20)", "N" },
    { "only", 0, 0, G_OPTION_ARG_STRING, &app->only,
      "Run one variant: defaults, upnp-off or icecam", "VARIANT" },
    { "rate", 0, 0, G_OPTION_ARG_DOUBLE, &app->rate_seconds,
      "Instead: start icecam-configured pairs for this long and report pairs per second",
      "SECONDS" },
    { "in-flight", 0, 0, G_OPTION_ARG_INT, &app->in_flight,
      "Pairs being set up at once with --rate (default 4)", "K" },
    { NULL }
  };
  g_autoptr (GOptionContext) context =
    g_option_context_new ("- time to a selected pair: libnice defaults vs icecam's settings");

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, argc, argv, error))
    return FALSE;
  if (app->runs < 1 || app->in_flight < 1 || app->rate_seconds < 0) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "out of range");
    return FALSE;
  }
  return TRUE;
}

int
main (int argc, char **argv)
{
  App app = { .runs = 20, .in_flight = 4 };
  g_autoptr (GError) error = NULL;
  gint64 start_us;
  gdouble cpu;

  if (!parse_options (&app, &argc, &argv, &error)) {
    g_printerr ("bench-ice-pair: %s\n", error->message);
    return 2;
  }
  app.loop = g_main_loop_new (NULL, FALSE);
  for (guint v = 0; v < N_VARIANTS; v++)
    app.times[v] = g_array_new (FALSE, FALSE, sizeof (gdouble));
  /* Variants take turns, in a rotating order, so that drift in the machine's load is shared. */
  for (gint r = 0; r < app.runs; r++) {
    for (guint k = 0; k < N_VARIANTS; k++) {
      guint v = (k + r) % N_VARIANTS;

      if (app.only == NULL || g_str_equal (app.only, variant_names[v]))
        g_queue_push_tail (&app.schedule, GINT_TO_POINTER (v));
    }
  }
  start_us = g_get_monotonic_time ();
  cpu = bench_self_cpu_seconds ();
  app.rate_end_us = start_us + (gint64) (app.rate_seconds * G_USEC_PER_SEC);
  g_idle_add (kick_off, &app);
  g_main_loop_run (app.loop);

  if (app.rate_seconds > 0) {
    gdouble elapsed = (g_get_monotonic_time () - start_us) / 1e6;

    cpu = bench_self_cpu_seconds () - cpu;
    printf ("ice-pair: rate in_flight=%d pairs=%u failed=%u elapsed_s=%.2f pairs_per_s=%.1f "
            "cpu_ms_per_pair=%.2f\n", app.in_flight, app.rate_done,
            app.rate_started - app.rate_done, elapsed, app.rate_done / elapsed,
            app.rate_done ? cpu * 1000 / app.rate_done : 0.0);
  } else {
    print_results (&app);
  }
  for (guint v = 0; v < N_VARIANTS; v++)
    g_array_unref (app.times[v]);
  g_main_loop_unref (app.loop);
  g_free (app.only);
  return 0;
}
