/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests for the `punch` exchange of two ends behind counting NATs (IcecamPunchSession,
 * mapping sequential) on loopback, with the rendezvous's STUN responder: each end learns its
 * punching socket's mapping and signals it with its step; of two `punch` messages sent at
 * once the lower token leads and the other end answers with that token; an end that gets the
 * peer's `punch` first follows it. Both ends then probe (the probes themselves, which need a
 * counting NAT to meet, are tested in test-punch.c and the NAT lab). The TCP exchange
 * (mapping tcp) likewise, with the responder's STUN over TCP, and on loopback each end's
 * listener takes the other's connect, so both punches succeed (test_tcp_*()). */

#include "icecam-punch-session.h"
#include "icecam-stun-responder.h"

#include <string.h>

#define WAIT_TIMEOUT_MS 5000

typedef struct _End End;
struct _End {
  IcecamPunchSession *punch;
  GPtrArray *sent;     /* IcecamMessage, everything this end sent */
  GQueue *inbox;       /* IcecamMessage (borrowed from the peer's sent) not yet handled */
  End *peer;
};

static void
send_cb (IcecamMessage *msg, gpointer user_data)
{
  End *end = user_data;

  g_ptr_array_add (end->sent, msg);
  g_queue_push_tail (end->peer->inbox, msg);
}

static void
end_init (End *end, End *peer, const gchar *name, guint stun_port)
{
  end->punch = icecam_punch_session_new (name, "9f2c4e7a01b3d5c6",
                                         ICECAM_PUNCH_MAPPING_SEQUENTIAL, "127.0.0.1", stun_port,
                                         NULL, send_cb, end);
  icecam_punch_session_set_port_step (end->punch, 1);
  end->sent = g_ptr_array_new_with_free_func ((GDestroyNotify) icecam_message_free);
  end->inbox = g_queue_new ();
  end->peer = peer;
}

static void
end_clear (End *end)
{
  icecam_punch_session_free (end->punch);
  g_queue_free (end->inbox);
  g_ptr_array_unref (end->sent);
}

/* Runs the context and hands each end what the other sent, until both punch; with @cross,
 * nothing is handed over before both sent their first `punch` (they cross on the way). */
static void
run_until_both_punch (End *a, End *b, gboolean cross)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_TIMEOUT_MS * 1000;

  while ((icecam_punch_session_get_punch (a->punch) == NULL ||
          icecam_punch_session_get_punch (b->punch) == NULL) &&
         g_get_monotonic_time () < deadline) {
    g_main_context_iteration (NULL, FALSE);
    if (cross && (a->sent->len == 0 || b->sent->len == 0)) {
      g_usleep (1000);
      continue;
    }
    while (!g_queue_is_empty (a->inbox))
      icecam_punch_session_handle (a->punch, g_queue_pop_head (a->inbox));
    while (!g_queue_is_empty (b->inbox))
      icecam_punch_session_handle (b->punch, g_queue_pop_head (b->inbox));
    g_usleep (1000);
  }
  g_assert_nonnull (icecam_punch_session_get_punch (a->punch));
  g_assert_nonnull (icecam_punch_session_get_punch (b->punch));
}

static void
assert_sequential (const IcecamMessage *msg)
{
  g_assert_cmpint (msg->type, ==, ICECAM_MESSAGE_PUNCH);
  g_assert_cmpstr (msg->mapping, ==, "sequential");
  g_assert_cmpint (msg->port_step, ==, 1);
  g_assert_true (g_str_has_prefix (msg->address, "127.0.0.1:"));
  g_assert_cmpuint (strlen (msg->token), ==, 2 * ICECAM_PUNCH_TOKEN_LENGTH);
}

static IcecamStunResponder *
start_stun (guint *port)
{
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any_port = g_inet_socket_address_new (loopback, 0);
  g_autoptr (GError) error = NULL;
  IcecamStunResponder *stun = icecam_stun_responder_new ();

  g_assert_true (icecam_stun_responder_listen (stun, G_INET_SOCKET_ADDRESS (any_port), &error));
  g_assert_no_error (error);
  *port = icecam_stun_responder_get_port (stun);
  return stun;
}

/* Both ends start at once (both sessions connected on the relay): two `punch` messages
 * cross; the end with the higher token answers with the lower one, and both punch. */
static void
test_both_start (void)
{
  End a, b;
  guint port;
  g_autoptr (IcecamStunResponder) stun = start_stun (&port);
  const IcecamMessage *first_a, *first_b, *answer;
  End *follower;

  end_init (&a, &b, "a", port);
  end_init (&b, &a, "b", port);
  icecam_punch_session_start (a.punch);
  icecam_punch_session_start (b.punch);
  run_until_both_punch (&a, &b, TRUE);

  g_assert_cmpuint (a.sent->len + b.sent->len, ==, 3);
  first_a = a.sent->pdata[0];
  first_b = b.sent->pdata[0];
  assert_sequential (first_a);
  assert_sequential (first_b);
  g_assert_cmpstr (first_a->token, !=, first_b->token);
  follower = strcmp (first_a->token, first_b->token) > 0 ? &a : &b;
  g_assert_cmpuint (follower->sent->len, ==, 2);
  answer = follower->sent->pdata[1];
  assert_sequential (answer);
  /* The answer: the follower's own mapping again, with the leader's token. */
  g_assert_cmpstr (answer->address, ==,
                   ((IcecamMessage *) follower->sent->pdata[0])->address);
  g_assert_cmpstr (answer->token, ==,
                   ((IcecamMessage *) follower->peer->sent->pdata[0])->token);
  g_assert_cmpstr (first_a->address, !=, first_b->address);

  end_clear (&a);
  end_clear (&b);
}

/* Only one end starts: the other follows its `punch` (its own start later sends nothing). */
static void
test_one_starts (void)
{
  End a, b;
  guint port;
  g_autoptr (IcecamStunResponder) stun = start_stun (&port);

  end_init (&a, &b, "a", port);
  end_init (&b, &a, "b", port);
  icecam_punch_session_start (a.punch);
  run_until_both_punch (&a, &b, FALSE);
  icecam_punch_session_start (b.punch);
  g_main_context_iteration (NULL, FALSE);

  g_assert_cmpuint (a.sent->len, ==, 1);
  g_assert_cmpuint (b.sent->len, ==, 1);
  assert_sequential (a.sent->pdata[0]);
  assert_sequential (b.sent->pdata[0]);
  g_assert_cmpstr (((IcecamMessage *) a.sent->pdata[0])->token, ==,
                   ((IcecamMessage *) b.sent->pdata[0])->token);

  end_clear (&a);
  end_clear (&b);
}

/* One end's `punch` reaches the other after its start but before its own STUN answer: it
 * follows if the token is the lower one (answering once its mapping is known), or else its
 * own `punch` makes the first end follow. Either way each end's last `punch` carries the
 * lower of the two tokens. */
static void
test_late_start (void)
{
  End a, b;
  guint port;
  g_autoptr (IcecamStunResponder) stun = start_stun (&port);
  gint64 deadline = g_get_monotonic_time () + WAIT_TIMEOUT_MS * 1000;
  const IcecamMessage *last_a, *last_b;
  const gchar *lower;

  end_init (&a, &b, "a", port);
  end_init (&b, &a, "b", port);
  icecam_punch_session_start (a.punch);
  while (a.sent->len == 0 && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (a.sent->len, ==, 1);
  icecam_punch_session_start (b.punch);
  icecam_punch_session_handle (b.punch, g_queue_pop_head (b.inbox));
  run_until_both_punch (&a, &b, FALSE);

  last_a = a.sent->pdata[a.sent->len - 1];
  last_b = b.sent->pdata[b.sent->len - 1];
  assert_sequential (last_a);
  assert_sequential (last_b);
  g_assert_cmpstr (last_a->token, ==, last_b->token);
  lower = ((IcecamMessage *) a.sent->pdata[0])->token;
  if (strcmp (((IcecamMessage *) b.sent->pdata[0])->token, lower) < 0)
    lower = ((IcecamMessage *) b.sent->pdata[0])->token;
  g_assert_cmpstr (last_a->token, ==, lower);

  end_clear (&a);
  end_clear (&b);
}

/* A `sequential` punch without a step, or to an end that is not sequential, starts nothing. */
static void
test_ignored (void)
{
  g_autoptr (IcecamMessage) no_step = icecam_message_new_punch (
    "9f2c4e7a01b3d5c6", "sequential", "127.0.0.1:4000", "00112233445566778899aabbccddeeff");
  g_autoptr (IcecamMessage) stepped = icecam_message_copy (no_step);
  End a, b;
  IcecamPunchSession *cone;

  end_init (&a, &b, "a", 3478);
  end_init (&b, &a, "b", 3478);
  icecam_punch_session_handle (a.punch, no_step);
  g_assert_cmpuint (a.sent->len, ==, 0);
  g_assert_null (icecam_punch_session_get_punch (a.punch));

  stepped->port_step = 1;
  cone = icecam_punch_session_new ("cone", "9f2c4e7a01b3d5c6", ICECAM_PUNCH_MAPPING_CONE,
                                   "127.0.0.1", 3478, NULL, send_cb, &a);
  icecam_punch_session_handle (cone, stepped);
  g_assert_cmpuint (a.sent->len, ==, 0);
  icecam_punch_session_free (cone);
  end_clear (&a);
  end_clear (&b);
}


/* ---- TCP ------------------------------------------------------------------------------ */

static IcecamStunResponder *
start_stun_tcp (guint *port)
{
  IcecamStunResponder *stun = start_stun (port);
  g_autoptr (GError) error = NULL;

  g_assert_true (icecam_stun_responder_listen_tcp (stun, &error));
  g_assert_no_error (error);
  return stun;
}

static void
end_init_tcp (End *end, End *peer, const gchar *name, guint stun_port, IcecamPunchMapping mapping,
              gboolean tcp)
{
  end->punch = icecam_punch_session_new (name, "9f2c4e7a01b3d5c6", mapping, "127.0.0.1",
                                         stun_port, NULL, send_cb, end);
  icecam_punch_session_set_tcp (end->punch, tcp);
  icecam_punch_session_set_transport (end->punch, 1);
  end->sent = g_ptr_array_new_with_free_func ((GDestroyNotify) icecam_message_free);
  end->inbox = g_queue_new ();
  end->peer = peer;
}

static IcecamPairInfo *
pair_of (const gchar *local, const gchar *remote)
{
  IcecamPairInfo *pair = g_new0 (IcecamPairInfo, 1);

  pair->local_type = g_strdup (local);
  pair->remote_type = g_strdup (remote);
  pair->transport = g_strdup ("udp");
  return pair;
}

static void
assert_tcp (const IcecamMessage *msg)
{
  g_assert_cmpint (msg->type, ==, ICECAM_MESSAGE_PUNCH);
  g_assert_cmpstr (msg->mapping, ==, "tcp");
  g_assert_cmpint (msg->port_step, ==, 0);
  g_assert_true (g_str_has_prefix (msg->address, "127.0.0.1:"));
  g_assert_cmpuint (strlen (msg->token), ==, 2 * ICECAM_PUNCH_TOKEN_LENGTH);
}

/* Hands each end what the other sent until both punches found their path (on loopback each
 * end's listener takes the other's connect). */
static void
run_until_both_succeed (End *a, End *b)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_TIMEOUT_MS * 1000;

  while ((!icecam_punch_session_succeeded (a->punch) ||
          !icecam_punch_session_succeeded (b->punch)) && g_get_monotonic_time () < deadline) {
    g_main_context_iteration (NULL, FALSE);
    while (!g_queue_is_empty (a->inbox))
      icecam_punch_session_handle (a->punch, g_queue_pop_head (a->inbox));
    while (!g_queue_is_empty (b->inbox))
      icecam_punch_session_handle (b->punch, g_queue_pop_head (b->inbox));
    g_usleep (1000);
  }
  g_assert_true (icecam_punch_session_succeeded (a->punch));
  g_assert_true (icecam_punch_session_succeeded (b->punch));
}

/* Both ends have --punch-tcp and start once relayed: each learns its TCP mapping over STUN
 * over TCP, the two `punch` messages (mapping tcp) cross, the higher token answers with the
 * lower one, and both connect: a path at both ends, with no UDP punch. */
static void
test_tcp_both_start (void)
{
  End a, b;
  guint port;
  g_autoptr (IcecamStunResponder) stun = start_stun_tcp (&port);
  const IcecamMessage *first_a, *first_b, *answer;
  End *follower;

  end_init_tcp (&a, &b, "a", port, ICECAM_PUNCH_MAPPING_NONE, TRUE);
  end_init_tcp (&b, &a, "b", port, ICECAM_PUNCH_MAPPING_NONE, TRUE);
  icecam_punch_session_start_if_relayed (a.punch, pair_of ("relay", "relay"));
  icecam_punch_session_start_if_relayed (b.punch, pair_of ("relay", "relay"));
  /* Let both mappings be known and both messages sent before either is handed over. */
  for (gint64 deadline = g_get_monotonic_time () + WAIT_TIMEOUT_MS * 1000;
       (a.sent->len == 0 || b.sent->len == 0) && g_get_monotonic_time () < deadline;)
    g_main_context_iteration (NULL, TRUE);
  run_until_both_succeed (&a, &b);

  first_a = a.sent->pdata[0];
  first_b = b.sent->pdata[0];
  assert_tcp (first_a);
  assert_tcp (first_b);
  g_assert_cmpstr (first_a->token, !=, first_b->token);
  g_assert_cmpstr (first_a->address, !=, first_b->address);
  follower = strcmp (first_a->token, first_b->token) > 0 ? &a : &b;
  g_assert_cmpuint (follower->sent->len, ==, 2);
  g_assert_cmpuint (follower->peer->sent->len, ==, 1);
  answer = follower->sent->pdata[1];
  assert_tcp (answer);
  g_assert_cmpstr (answer->address, ==, ((IcecamMessage *) follower->sent->pdata[0])->address);
  g_assert_cmpstr (answer->token, ==, ((IcecamMessage *) follower->peer->sent->pdata[0])->token);
  g_assert_true (icecam_punch_is_tcp (icecam_punch_session_get_punch (a.punch)));
  g_assert_true (icecam_punch_is_alive (icecam_punch_session_get_punch (a.punch)));
  g_assert_true (icecam_punch_is_alive (icecam_punch_session_get_punch (b.punch)));

  end_clear (&a);
  end_clear (&b);
}

/* An end that punches UDP only (a cone here) answers a TCP punch; a direct pair starts none;
 * a new ICE transport starts over with a new token. */
static void
test_tcp_answer_and_restart (void)
{
  End a, b;
  guint port;
  g_autoptr (IcecamStunResponder) stun = start_stun_tcp (&port);
  gint64 deadline;
  guint sent_before;

  end_init_tcp (&a, &b, "a", port, ICECAM_PUNCH_MAPPING_NONE, TRUE);
  end_init_tcp (&b, &a, "b", port, ICECAM_PUNCH_MAPPING_CONE, FALSE);
  icecam_punch_session_start_if_relayed (a.punch, pair_of ("srflx", "prflx"));
  g_main_context_iteration (NULL, FALSE);
  g_assert_cmpuint (a.sent->len, ==, 0);
  icecam_punch_session_start_if_relayed (b.punch, pair_of ("relay", "srflx"));
  icecam_punch_session_start_if_relayed (a.punch, pair_of ("srflx", "relay"));
  run_until_both_succeed (&a, &b);
  g_assert_cmpuint (a.sent->len, ==, 1);
  g_assert_cmpuint (b.sent->len, ==, 1);
  assert_tcp (b.sent->pdata[0]);
  g_assert_cmpstr (((IcecamMessage *) b.sent->pdata[0])->token, ==,
                   ((IcecamMessage *) a.sent->pdata[0])->token);

  /* The same transport again: nothing new. A new one (an ICE restart): a new punch. */
  icecam_punch_session_set_transport (a.punch, 1);
  icecam_punch_session_start_if_relayed (a.punch, pair_of ("relay", "relay"));
  g_main_context_iteration (NULL, FALSE);
  g_assert_cmpuint (a.sent->len, ==, 1);
  sent_before = a.sent->len;
  icecam_punch_session_set_transport (a.punch, 2);
  g_assert_false (icecam_punch_session_succeeded (a.punch));
  icecam_punch_session_start_if_relayed (a.punch, pair_of ("relay", "relay"));
  deadline = g_get_monotonic_time () + WAIT_TIMEOUT_MS * 1000;
  while (a.sent->len == sent_before && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (a.sent->len, ==, sent_before + 1);
  assert_tcp (a.sent->pdata[sent_before]);
  g_assert_cmpstr (((IcecamMessage *) a.sent->pdata[sent_before])->token, !=,
                   ((IcecamMessage *) a.sent->pdata[0])->token);

  end_clear (&a);
  end_clear (&b);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/punch-session/sequential/both-start", test_both_start);
  g_test_add_func ("/punch-session/sequential/one-starts", test_one_starts);
  g_test_add_func ("/punch-session/sequential/late-start", test_late_start);
  g_test_add_func ("/punch-session/sequential/ignored", test_ignored);
  g_test_add_func ("/punch-session/tcp/both-start", test_tcp_both_start);
  g_test_add_func ("/punch-session/tcp/answer-and-restart", test_tcp_answer_and_restart);
  return g_test_run ();
}
