/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* How long an idle NAT mapping lives, by RESPONSE-PORT requests after chosen silences. */

#include "icecam-nat-lifetime.h"

/*
 * RFC 5780 section 4.6. Each trial opens a fresh socket, creates a mapping with one Binding
 * request to the server, stays silent for its wait, then a separate sender socket asks the
 * server (RESPONSE-PORT) to answer to the trial socket's mapped port: the answer only gets in
 * if the idle mapping still exists. A first trial without a wait checks that the server does
 * RESPONSE-PORT at all; then every other trial starts at once, so the test lasts about as
 * long as the mapping, and once one mapping is found gone the longer trials are stopped.
 * Silence matters: nothing is ever sent from a trial socket after its first request.
 *
 * Threading: everything runs in the context of the #IcecamStunClient.
 */

/* Idle times tried, as far as the maximum. */
static const guint waits_s[] = { 0, 2, 5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300 };

typedef enum {
  TRIAL_NEW,
  TRIAL_ESTABLISHING,
  TRIAL_IDLE,
  TRIAL_TESTING,
  TRIAL_ALIVE,
  TRIAL_GONE,
  TRIAL_STOPPED,
} TrialState;

typedef struct {
  IcecamNatLifetime *lifetime;
  guint wait_s;
  TrialState state;
  IcecamStunClientSocket *socket;
  guint16 mapped_port;
  GSource *timer;
} Trial;

struct _IcecamNatLifetime {
  IcecamStunClient *client;
  GInetSocketAddress *server;
  IcecamNatVerdict *verdict; /* borrowed: results and notes go there */
  IcecamNatLifetimeFunc func;
  gpointer user_data;
  GMainContext *context;
  gchar *log_id;

  GPtrArray *trials; /* Trial, owned */
  IcecamStunClientSocket *sender;
  guint n_running;
  GError *error;
};

static void start_trial (IcecamNatLifetime *self, Trial *trial);

static void
trial_free (Trial *trial)
{
  if (trial->timer != NULL) {
    g_source_destroy (trial->timer);
    g_source_unref (trial->timer);
  }
  g_free (trial);
}

static gboolean
trial_is_running (const Trial *trial)
{
  return trial->state == TRIAL_ESTABLISHING || trial->state == TRIAL_IDLE ||
         trial->state == TRIAL_TESTING;
}

/* The shortest wait after which a mapping was gone, and the longest shorter one it
 * survived. */
static void
conclude (IcecamNatLifetime *self)
{
  guint gone = 0;
  guint alive = 0;
  gboolean any_alive = FALSE;

  for (guint i = 0; i < self->trials->len; i++) {
    Trial *trial = g_ptr_array_index (self->trials, i);

    if (trial->state == TRIAL_GONE && (gone == 0 || trial->wait_s < gone))
      gone = trial->wait_s;
  }
  for (guint i = 0; i < self->trials->len; i++) {
    Trial *trial = g_ptr_array_index (self->trials, i);

    if (trial->state == TRIAL_ALIVE && (gone == 0 || trial->wait_s < gone)) {
      any_alive = TRUE;
      alive = MAX (alive, trial->wait_s);
    }
  }
  if (!any_alive && gone == 0)
    return;
  self->verdict->lifetime_measured = TRUE;
  self->verdict->lifetime_min_s = alive;
  self->verdict->lifetime_max_s = gone;
}

/* Callers return at once: the callback may free the test. */
static void
trial_finished (IcecamNatLifetime *self)
{
  g_return_if_fail (self->n_running > 0);

  if (--self->n_running > 0)
    return;
  conclude (self);
  self->func (self, self->error, self->user_data);
}

/* A mapping that died after @wait_s makes longer waits pointless. The trial that found it
 * gone is still running, so this never ends the test. */
static void
stop_longer_trials (IcecamNatLifetime *self, guint wait_s)
{
  for (guint i = 0; i < self->trials->len; i++) {
    Trial *trial = g_ptr_array_index (self->trials, i);

    if (trial->wait_s <= wait_s || !trial_is_running (trial))
      continue;
    if (trial->timer != NULL) {
      g_source_destroy (trial->timer);
      g_clear_pointer (&trial->timer, g_source_unref);
    }
    icecam_stun_client_stop_matching (self->client, trial);
    trial->state = TRIAL_STOPPED;
    self->n_running--;
  }
}

static void
trial_test_done (IcecamStunTransaction *t, gpointer user_data)
{
  IcecamNatLifetime *self = user_data;
  Trial *trial = t->data;

  if (t->answered && t->answered_on == trial->socket && !t->response.is_error) {
    trial->state = TRIAL_ALIVE;
  } else if (t->answered) {
    trial->state = TRIAL_STOPPED;
    if (t->response.is_error)
      icecam_nat_verdict_add_note (self->verdict, "lifetime: the server refused RESPONSE-PORT "
                                   "(error %u)", t->response.error_code);
    else
      icecam_nat_verdict_add_note (self->verdict, "lifetime: the server ignored RESPONSE-PORT");
  } else {
    trial->state = TRIAL_GONE;
  }
  g_debug ("%s: lifetime: mapping idle for %u s: %s", self->log_id, trial->wait_s,
           trial->state == TRIAL_ALIVE ? "alive" :
           trial->state == TRIAL_GONE ? "gone" : "no usable answer");

  if (trial->wait_s > 0) {
    if (trial->state == TRIAL_GONE)
      stop_longer_trials (self, trial->wait_s);
  } else if (trial->state == TRIAL_ALIVE) {
    /* The first trial only shows that RESPONSE-PORT works: now the real ones. */
    for (guint i = 1; i < self->trials->len; i++)
      start_trial (self, g_ptr_array_index (self->trials, i));
  } else if (trial->state == TRIAL_GONE) {
    icecam_nat_verdict_add_note (self->verdict, "lifetime: no answer to a RESPONSE-PORT "
                                 "request: the server may not support it");
    trial->state = TRIAL_STOPPED;
  }
  trial_finished (self);
}

static gboolean
on_trial_silence_over (gpointer user_data)
{
  Trial *trial = user_data;
  IcecamNatLifetime *self = trial->lifetime;
  IcecamStunTransaction *t;

  g_clear_pointer (&trial->timer, g_source_unref);
  trial->state = TRIAL_TESTING;
  t = icecam_stun_transaction_new (self->client, "lifetime test (RESPONSE-PORT)", self->sender,
                                   self->server, trial_test_done, self);
  icecam_stun_transaction_expect_on (t, trial->socket, FALSE);
  t->data = trial;
  icecam_stun_transaction_start (t, 0, trial->mapped_port);
  return G_SOURCE_REMOVE;
}

static void
trial_established (IcecamStunTransaction *t, gpointer user_data)
{
  IcecamNatLifetime *self = user_data;
  Trial *trial = t->data;

  if (!t->answered || t->response.is_error || !t->response.has_mapped_address) {
    trial->state = TRIAL_STOPPED;
    icecam_nat_verdict_add_note (self->verdict, "lifetime: no answer when creating a mapping");
    trial_finished (self);
    return;
  }
  trial->mapped_port = t->response.mapped_address.port;
  trial->state = TRIAL_IDLE;
  trial->timer = trial->wait_s == 0 ? g_idle_source_new () :
                                      g_timeout_source_new_seconds (trial->wait_s);
  g_source_set_callback (trial->timer, on_trial_silence_over, trial, NULL);
  g_source_set_static_name (trial->timer, "icecam-nat-lifetime");
  g_source_attach (trial->timer, self->context);
}

/* A trial whose socket cannot be opened is not run; the error is reported at the end. */
static void
start_trial (IcecamNatLifetime *self, Trial *trial)
{
  g_autoptr (GError) error = NULL;
  IcecamStunTransaction *t;

  trial->socket = icecam_stun_client_open_socket (self->client, "lifetime", &error);
  if (trial->socket == NULL) {
    trial->state = TRIAL_STOPPED;
    if (self->error == NULL)
      self->error = g_steal_pointer (&error);
    return;
  }
  trial->state = TRIAL_ESTABLISHING;
  self->n_running++;
  t = icecam_stun_transaction_new (self->client, "lifetime: create a mapping", trial->socket,
                                   self->server, trial_established, self);
  t->data = trial;
  icecam_stun_transaction_start (t, 0, 0);
}

/**
 * icecam_nat_lifetime_new:
 * @client: opens the sockets and sends the requests
 * @server: the STUN server's primary address; it must do RFC 5780 (RESPONSE-PORT)
 * @max_s: the longest silence to try
 * @verdict: where the result and notes go; must outlive the test
 * @func: called once when done
 * @user_data: for @func
 *
 * Returns: (transfer full): a test, not started
 */
IcecamNatLifetime *
icecam_nat_lifetime_new (IcecamStunClient *client, GInetSocketAddress *server, guint max_s,
                         IcecamNatVerdict *verdict, IcecamNatLifetimeFunc func,
                         gpointer user_data)
{
  IcecamNatLifetime *self = g_new0 (IcecamNatLifetime, 1);
  g_autofree gchar *primary = g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (server));

  self->log_id = g_strdup_printf ("nat-probe %s", primary);
  self->client = g_object_ref (client);
  self->server = g_object_ref (server);
  self->verdict = verdict;
  self->func = func;
  self->user_data = user_data;
  self->context = g_main_context_ref_thread_default ();
  self->trials = g_ptr_array_new_with_free_func ((GDestroyNotify) trial_free);
  for (gsize i = 0; i < G_N_ELEMENTS (waits_s) && waits_s[i] <= max_s; i++) {
    Trial *trial = g_new0 (Trial, 1);

    trial->lifetime = self;
    trial->wait_s = waits_s[i];
    g_ptr_array_add (self->trials, trial);
  }
  return self;
}

/**
 * icecam_nat_lifetime_start:
 * @self: a test, not started
 *
 * Starts the first trial; the callback comes when every trial is over.
 */
void
icecam_nat_lifetime_start (IcecamNatLifetime *self)
{
  g_autoptr (GError) error = NULL;

  g_return_if_fail (self != NULL && self->n_running == 0);

  /* Holds the test open until the first trial has started. */
  self->n_running = 1;
  self->sender = icecam_stun_client_open_socket (self->client, "lifetime-sender", &error);
  if (self->sender == NULL)
    self->error = g_steal_pointer (&error);
  else
    start_trial (self, g_ptr_array_index (self->trials, 0));
  trial_finished (self);
}

/**
 * icecam_nat_lifetime_free:
 * @self: (nullable): a test; its pending requests and timers stop without calling back
 */
void
icecam_nat_lifetime_free (IcecamNatLifetime *self)
{
  if (self == NULL)
    return;
  for (guint i = 0; i < self->trials->len; i++)
    icecam_stun_client_stop_matching (self->client, g_ptr_array_index (self->trials, i));
  g_ptr_array_unref (self->trials);
  g_object_unref (self->client);
  g_object_unref (self->server);
  g_main_context_unref (self->context);
  g_clear_error (&self->error);
  g_free (self->log_id);
  g_free (self);
}
