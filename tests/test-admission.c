/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for the rendezvous admission policy: decisions on ids, addresses and a fake clock. */

#include "icecam-admission.h"

#define HOME "203.0.113.1"
#define OTHER "198.51.100.7"
#define T0 (1000 * G_USEC_PER_SEC) /* a monotonic time well after the start */
#define MS (G_USEC_PER_SEC / 1000)
#define HOUR ((gint64) 3600 * G_USEC_PER_SEC)

typedef struct {
  IcecamAdmission *admission;
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  f->admission = icecam_admission_new ();
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_assert_finalize_object (f->admission);
}

static IcecamAdmissionStats
get_stats (Fixture *f)
{
  IcecamAdmissionStats stats;

  icecam_admission_get_stats (f->admission, &stats);
  return stats;
}

static void
assert_open (Fixture *f, guint64 id, const gchar *address, gint64 now_us,
             IcecamAdmissionVerdict expected)
{
  g_autofree gchar *refusal = NULL;

  g_assert_cmpint (icecam_admission_open (f->admission, id, address, now_us, &refusal), ==,
                   expected);
  if (expected == ICECAM_ADMISSION_TOO_MANY_CONNECTIONS)
    g_assert_nonnull (refusal);
  else
    g_assert_null (refusal);
}

static IcecamAdmissionVerdict
message (Fixture *f, guint64 id, gsize size, gint64 now_us)
{
  return icecam_admission_message (f->admission, id, size, now_us, NULL);
}

/* Sends @n one-byte messages at @now_us; they must all pass. */
static void
assert_messages_allowed (Fixture *f, guint64 id, guint n, gint64 now_us)
{
  for (guint i = 0; i < n; i++)
    g_assert_cmpint (message (f, id, 1, now_us), ==, ICECAM_ADMISSION_ALLOW);
}

static gboolean
array_has_id (GArray *ids, guint64 id)
{
  for (guint i = 0; i < ids->len; i++)
    if (g_array_index (ids, guint64, i) == id)
      return TRUE;
  return FALSE;
}

/* ---- connections per address ---------------------------------------------------------- */

/* Over the limit a connection is refused with the text the client reads; it counts for its
 * address until it is closed, and a closed one makes room again. */
static void
test_connections_limit (Fixture *f, gconstpointer data)
{
  g_autofree gchar *refusal = NULL;

  icecam_admission_set_max_connections_per_address (f->admission, 2);
  assert_open (f, 1, HOME, T0, ICECAM_ADMISSION_ALLOW);
  assert_open (f, 2, HOME, T0, ICECAM_ADMISSION_ALLOW);
  g_assert_cmpint (icecam_admission_open (f->admission, 3, HOME, T0, &refusal), ==,
                   ICECAM_ADMISSION_TOO_MANY_CONNECTIONS);
  g_assert_cmpstr (refusal, ==, HOME " already has 2 signalling connections open, the limit");
  g_assert_cmpuint (get_stats (f).connections_refused, ==, 1);

  /* Another address has its own count; the refused one's messages are dropped. */
  assert_open (f, 4, OTHER, T0, ICECAM_ADMISSION_ALLOW);
  g_assert_cmpint (message (f, 3, 10, T0), ==, ICECAM_ADMISSION_CLOSING);
  g_assert_cmpint (message (f, 1, 10, T0), ==, ICECAM_ADMISSION_ALLOW);

  /* 1 leaves, but the refused 3 is still open: HOME holds 2. */
  icecam_admission_close (f->admission, 1);
  assert_open (f, 5, HOME, T0, ICECAM_ADMISSION_TOO_MANY_CONNECTIONS);
  icecam_admission_close (f->admission, 3);
  icecam_admission_close (f->admission, 5);
  assert_open (f, 6, HOME, T0, ICECAM_ADMISSION_ALLOW);

  g_assert_cmpuint (get_stats (f).connections, ==, 3);
  g_assert_cmpuint (get_stats (f).connections_refused, ==, 2);
}

static void
test_connections_zero_is_no_limit (Fixture *f, gconstpointer data)
{
  icecam_admission_set_max_connections_per_address (f->admission, 0);
  for (guint64 id = 1; id <= 1000; id++)
    assert_open (f, id, HOME, T0, ICECAM_ADMISSION_ALLOW);
  g_assert_cmpuint (get_stats (f).connections, ==, 1000);
  g_assert_cmpuint (get_stats (f).connections_refused, ==, 0);
}

static void
test_connections_default_limit (Fixture *f, gconstpointer data)
{
  for (guint64 id = 1; id <= ICECAM_ADMISSION_DEFAULT_MAX_CONNECTIONS_PER_ADDRESS; id++)
    assert_open (f, id, HOME, T0, ICECAM_ADMISSION_ALLOW);
  assert_open (f, 1000, HOME, T0, ICECAM_ADMISSION_TOO_MANY_CONNECTIONS);
}

/* ---- message rate --------------------------------------------------------------------- */

/* A new connection may send its burst at once; the next message is over the rate, is
 * answered with the text the client reads, and everything after it is dropped. */
static void
test_rate_burst (Fixture *f, gconstpointer data)
{
  g_autofree gchar *refusal = NULL;

  g_assert_true (icecam_admission_set_message_rate (f->admission, 10, 5));
  assert_open (f, 1, HOME, T0, ICECAM_ADMISSION_ALLOW);
  assert_open (f, 2, HOME, T0, ICECAM_ADMISSION_ALLOW);
  assert_messages_allowed (f, 1, 5, T0);
  g_assert_cmpint (icecam_admission_message (f->admission, 1, 1, T0, &refusal), ==,
                   ICECAM_ADMISSION_OVER_RATE);
  g_assert_cmpstr (refusal, ==, "more than 10 messages a second (burst 5): closing the connection");
  g_assert_cmpint (message (f, 1, 1, T0 + 10 * G_USEC_PER_SEC), ==, ICECAM_ADMISSION_CLOSING);
  g_assert_cmpuint (get_stats (f).rate_limited, ==, 1);

  /* The other connection has its own bucket. */
  assert_messages_allowed (f, 2, 5, T0);
}

/* The bucket refills at the rate, one token per 1/rate seconds, never above the burst. */
static void
test_rate_refill (Fixture *f, gconstpointer data)
{
  gint64 now = T0;

  icecam_admission_set_message_rate (f->admission, 10, 5);
  assert_open (f, 1, HOME, now, ICECAM_ADMISSION_ALLOW);
  assert_messages_allowed (f, 1, 5, now);

  /* 10 a second, sustained: one every 100 ms passes for as long as it keeps that pace. */
  for (guint i = 0; i < 50; i++) {
    now += 100 * MS;
    assert_messages_allowed (f, 1, 1, now);
  }
  /* 50 ms later only half a token is back. */
  g_assert_cmpint (message (f, 1, 1, now + 50 * MS), ==, ICECAM_ADMISSION_OVER_RATE);

  /* A connection idle for a minute has its burst back, not 600 messages. */
  assert_open (f, 2, HOME, now, ICECAM_ADMISSION_ALLOW);
  assert_messages_allowed (f, 2, 5, now);
  now += 60 * G_USEC_PER_SEC;
  assert_messages_allowed (f, 2, 5, now);
  g_assert_cmpint (message (f, 2, 1, now), ==, ICECAM_ADMISSION_OVER_RATE);
  g_assert_cmpuint (get_stats (f).rate_limited, ==, 2);
}

/* Each further 4 KiB of a message count as one more message. */
static void
test_rate_bytes (Fixture *f, gconstpointer data)
{
  icecam_admission_set_message_rate (f->admission, 10, 5);
  assert_open (f, 1, HOME, T0, ICECAM_ADMISSION_ALLOW);
  /* 4095 bytes: 1; 4096: 2; 8191: 2. Five tokens in all. */
  g_assert_cmpint (message (f, 1, 4095, T0), ==, ICECAM_ADMISSION_ALLOW);
  g_assert_cmpint (message (f, 1, 4096, T0), ==, ICECAM_ADMISSION_ALLOW);
  g_assert_cmpint (message (f, 1, 8191, T0), ==, ICECAM_ADMISSION_ALLOW);
  g_assert_cmpint (message (f, 1, 0, T0), ==, ICECAM_ADMISSION_OVER_RATE);

  /* 5 x 4 KiB costs 6: more than a full bucket of 5. */
  assert_open (f, 2, HOME, T0, ICECAM_ADMISSION_ALLOW);
  g_assert_cmpint (message (f, 2, 5 * ICECAM_ADMISSION_BYTES_PER_MESSAGE, T0), ==,
                   ICECAM_ADMISSION_OVER_RATE);
  /* 4 x 4 KiB costs 5: exactly a full bucket. */
  assert_open (f, 3, HOME, T0, ICECAM_ADMISSION_ALLOW);
  g_assert_cmpint (message (f, 3, 4 * ICECAM_ADMISSION_BYTES_PER_MESSAGE, T0), ==,
                   ICECAM_ADMISSION_ALLOW);
  g_assert_cmpint (message (f, 3, 1, T0), ==, ICECAM_ADMISSION_OVER_RATE);
}

static void
test_rate_zero_is_no_limit (Fixture *f, gconstpointer data)
{
  icecam_admission_set_message_rate (f->admission, 0, 1);
  assert_open (f, 1, HOME, T0, ICECAM_ADMISSION_ALLOW);
  assert_messages_allowed (f, 1, 10000, T0);
  g_assert_cmpint (message (f, 1, G_MAXSIZE, T0), ==, ICECAM_ADMISSION_ALLOW);
  g_assert_cmpuint (get_stats (f).rate_limited, ==, 0);
}

/* ---- silence -------------------------------------------------------------------------- */

/* Silent past the limit: taken once; a message or a pong keeps a connection, and a
 * connection refused for another reason is not counted again. */
static void
test_silence_after_limit (Fixture *f, gconstpointer data)
{
  g_autoptr (GArray) early = NULL;
  g_autoptr (GArray) late = NULL;
  g_autoptr (GArray) again = NULL;

  g_assert_true (icecam_admission_set_keepalive (f->admission, 1, 3));
  g_assert_cmpuint (icecam_admission_get_keepalive_interval (f->admission), ==, 1);
  g_assert_cmpuint (icecam_admission_get_silence_limit (f->admission), ==, 3);
  icecam_admission_set_max_connections_per_address (f->admission, 3);
  assert_open (f, 1, HOME, T0, ICECAM_ADMISSION_ALLOW);  /* says nothing */
  assert_open (f, 2, HOME, T0, ICECAM_ADMISSION_ALLOW);  /* sends a message */
  assert_open (f, 3, HOME, T0, ICECAM_ADMISSION_ALLOW);  /* answers pings */
  assert_open (f, 4, HOME, T0, ICECAM_ADMISSION_TOO_MANY_CONNECTIONS);
  g_assert_cmpint (message (f, 2, 10, T0 + 2 * G_USEC_PER_SEC), ==, ICECAM_ADMISSION_ALLOW);
  icecam_admission_heard (f->admission, 3, T0 + 2 * G_USEC_PER_SEC);

  /* Exactly at the limit it is not over it yet. */
  early = icecam_admission_take_silent (f->admission, T0 + 3 * G_USEC_PER_SEC);
  g_assert_cmpuint (early->len, ==, 0);

  late = icecam_admission_take_silent (f->admission, T0 + 3 * G_USEC_PER_SEC + 1);
  g_assert_cmpuint (late->len, ==, 1);
  g_assert_true (array_has_id (late, 1));
  g_assert_cmpint (message (f, 1, 10, T0 + 4 * G_USEC_PER_SEC), ==, ICECAM_ADMISSION_CLOSING);

  again = icecam_admission_take_silent (f->admission, T0 + 6 * G_USEC_PER_SEC);
  g_assert_cmpuint (again->len, ==, 2);
  g_assert_true (array_has_id (again, 2));
  g_assert_true (array_has_id (again, 3));
  g_assert_cmpuint (get_stats (f).silent_closed, ==, 3);
  g_assert_cmpuint (get_stats (f).connections_refused, ==, 1);
  g_assert_cmpuint (get_stats (f).connections, ==, 4);
}

static void
test_silence_defaults (Fixture *f, gconstpointer data)
{
  g_autoptr (GArray) before = NULL;
  g_autoptr (GArray) after = NULL;
  gint64 limit = ICECAM_ADMISSION_DEFAULT_SILENCE_LIMIT_S * G_USEC_PER_SEC;

  g_assert_cmpuint (icecam_admission_get_keepalive_interval (f->admission), ==,
                    ICECAM_ADMISSION_DEFAULT_KEEPALIVE_INTERVAL_S);
  assert_open (f, 1, HOME, T0, ICECAM_ADMISSION_ALLOW);
  before = icecam_admission_take_silent (f->admission, T0 + limit);
  after = icecam_admission_take_silent (f->admission, T0 + limit + 1);
  g_assert_cmpuint (before->len, ==, 0);
  g_assert_cmpuint (after->len, ==, 1);
}

/* ---- bad input ------------------------------------------------------------------------ */

static void
assert_stats_equal (const IcecamAdmissionStats *a, const IcecamAdmissionStats *b)
{
  g_assert_cmpuint (a->connections, ==, b->connections);
  g_assert_cmpuint (a->connections_refused, ==, b->connections_refused);
  g_assert_cmpuint (a->rate_limited, ==, b->rate_limited);
  g_assert_cmpuint (a->silent_closed, ==, b->silent_closed);
}

/* Empty addresses, repeated or unknown ids and impossible settings are answered, counted
 * nowhere and leave every connection as it was. */
static void
test_bad_input_changes_nothing (Fixture *f, gconstpointer data)
{
  IcecamAdmissionStats before;
  IcecamAdmissionStats after;
  g_autoptr (GArray) silent = NULL;

  icecam_admission_set_max_connections_per_address (f->admission, 2);
  icecam_admission_set_message_rate (f->admission, 10, 5);
  assert_open (f, 1, HOME, T0, ICECAM_ADMISSION_ALLOW);
  before = get_stats (f);

  assert_open (f, 2, "", T0, ICECAM_ADMISSION_INVALID);
  assert_open (f, 3, NULL, T0, ICECAM_ADMISSION_INVALID);
  assert_open (f, 1, HOME, T0, ICECAM_ADMISSION_INVALID);  /* already open */
  assert_open (f, 1, OTHER, T0, ICECAM_ADMISSION_INVALID);
  g_assert_cmpint (message (f, 99, 1, T0), ==, ICECAM_ADMISSION_INVALID);
  icecam_admission_heard (f->admission, 99, T0);
  icecam_admission_close (f->admission, 99);
  g_assert_false (icecam_admission_set_message_rate (f->admission, 1, 0));
  g_assert_false (icecam_admission_set_keepalive (f->admission, 0, 10));
  g_assert_false (icecam_admission_set_keepalive (f->admission, 10, 10));
  g_assert_cmpuint (icecam_admission_get_keepalive_interval (f->admission), ==,
                    ICECAM_ADMISSION_DEFAULT_KEEPALIVE_INTERVAL_S);
  g_assert_cmpuint (icecam_admission_get_silence_limit (f->admission), ==,
                    ICECAM_ADMISSION_DEFAULT_SILENCE_LIMIT_S);
  after = get_stats (f);
  assert_stats_equal (&before, &after);

  /* HOME still holds one connection of two, and 1's bucket is still 10 a second, burst 5. */
  assert_open (f, 2, HOME, T0, ICECAM_ADMISSION_ALLOW);
  assert_open (f, 3, HOME, T0, ICECAM_ADMISSION_TOO_MANY_CONNECTIONS);
  assert_messages_allowed (f, 1, 5, T0);
  g_assert_cmpint (message (f, 1, 1, T0), ==, ICECAM_ADMISSION_OVER_RATE);

  /* Time going backwards refills nothing and makes no one silent. */
  g_assert_cmpint (message (f, 2, 1, G_MININT64), ==, ICECAM_ADMISSION_ALLOW);
  assert_messages_allowed (f, 2, 4, T0);
  g_assert_cmpint (message (f, 2, 1, T0 - G_USEC_PER_SEC), ==, ICECAM_ADMISSION_OVER_RATE);
  silent = icecam_admission_take_silent (f->admission, 0);
  g_assert_cmpuint (silent->len, ==, 0);
}

/* A message of an absurd size costs more than any bucket holds: only its own connection is
 * refused; the arithmetic neither wraps nor spills into the others. A time jump to the end
 * of time refills a bucket to its burst, no more. */
static void
test_bad_input_absurd_sizes (Fixture *f, gconstpointer data)
{
  icecam_admission_set_message_rate (f->admission, G_MAXUINT, 5);
  assert_open (f, 1, HOME, T0, ICECAM_ADMISSION_ALLOW);
  assert_open (f, 2, HOME, T0, ICECAM_ADMISSION_ALLOW);
  g_assert_cmpint (message (f, 1, G_MAXSIZE, T0), ==, ICECAM_ADMISSION_OVER_RATE);
  g_assert_cmpint (message (f, 2, G_MAXSIZE / 2, G_MAXINT64), ==, ICECAM_ADMISSION_OVER_RATE);

  assert_open (f, 3, HOME, T0, ICECAM_ADMISSION_ALLOW);
  assert_messages_allowed (f, 3, 5, G_MAXINT64 / 2);
  assert_messages_allowed (f, 3, 5, G_MAXINT64);
  g_assert_cmpuint (get_stats (f).rate_limited, ==, 2);

  icecam_admission_set_message_rate (f->admission, 1, G_MAXUINT);
  assert_open (f, 4, HOME, T0, ICECAM_ADMISSION_ALLOW);
  g_assert_cmpint (message (f, 4, (gsize) G_MAXUINT * ICECAM_ADMISSION_BYTES_PER_MESSAGE, T0),
                   ==, ICECAM_ADMISSION_OVER_RATE);
}

/* ---- IPv6 prefixes -------------------------------------------------------------------- */

#define NET64 "2001:db8:1:2"

/* One /64 is one client: varying the low 64 bits does not get past the limit, in brackets or
 * not; the next /64 has its own count; IPv4 stays exact. */
static void
test_ipv6_one_prefix_one_limit (Fixture *f, gconstpointer data)
{
  g_autofree gchar *refusal = NULL;
  guint64 id = 1;

  icecam_admission_set_max_connections_per_address (f->admission, 3);
  assert_open (f, id++, NET64 "::1", T0, ICECAM_ADMISSION_ALLOW);
  assert_open (f, id++, "[" NET64 ":ffff:ffff:ffff:fffe]", T0, ICECAM_ADMISSION_ALLOW);
  assert_open (f, id++, NET64 ":8000::42", T0, ICECAM_ADMISSION_ALLOW);
  g_assert_cmpint (icecam_admission_open (f->admission, id++, NET64 ":1234:5678:9abc:def0", T0,
                                          &refusal),
                   ==, ICECAM_ADMISSION_TOO_MANY_CONNECTIONS);
  g_assert_cmpstr (refusal, ==,
                   NET64 "::/64 already has 3 signalling connections open, the limit");
  for (guint i = 0; i < 100; i++) {
    g_autofree gchar *address = g_strdup_printf (NET64 ":%x:%x::%x", g_random_int_range (0, 0xffff),
                                                 i, g_random_int_range (1, 0xffff));

    assert_open (f, id++, address, T0, ICECAM_ADMISSION_TOO_MANY_CONNECTIONS);
  }

  assert_open (f, id++, "2001:db8:1:3::1", T0, ICECAM_ADMISSION_ALLOW);
  for (guint i = 1; i <= 3; i++) {
    g_autofree gchar *address = g_strdup_printf ("203.0.113.%u", i);

    assert_open (f, id++, address, T0, ICECAM_ADMISSION_ALLOW);
  }
  /* IPv4-mapped IPv6 counts as the IPv4 address. */
  assert_open (f, id++, "::ffff:203.0.113.1", T0, ICECAM_ADMISSION_ALLOW);
  assert_open (f, id++, "203.0.113.1", T0, ICECAM_ADMISSION_ALLOW);
  assert_open (f, id++, "[::ffff:203.0.113.1]", T0, ICECAM_ADMISSION_TOO_MANY_CONNECTIONS);
  g_assert_cmpuint (get_stats (f).connections_refused, ==, 102);
}

static void
test_ipv6_prefix_length (Fixture *f, gconstpointer data)
{
  static const struct {
    guint length;
    const gchar *address;
    const gchar *key;
  } cases[] = {
    { 64, "2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64" },
    { 48, "2001:db8:1:2:3:4:5:6", "2001:db8:1::/48" },
    { 56, "[2001:db8:1:2ff::9]", "2001:db8:1:200::/56" },
    { 128, "2001:db8::7", "2001:db8::7/128" },
    { 1, "ffff::1", "8000::/1" },
    { 64, "::ffff:198.51.100.7", "198.51.100.7" },
    { 64, "198.51.100.7", "198.51.100.7" },
    { 64, "unknown", "unknown" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree gchar *key = NULL;

    g_assert_true (icecam_admission_set_ipv6_prefix_length (f->admission, cases[i].length));
    key = icecam_admission_address_key (f->admission, cases[i].address);
    g_assert_cmpstr (key, ==, cases[i].key);
  }
  g_assert_false (icecam_admission_set_ipv6_prefix_length (f->admission, 0));
  g_assert_false (icecam_admission_set_ipv6_prefix_length (f->admission, 129));

  /* With /48, two /64s of one /48 share a limit. */
  g_assert_true (icecam_admission_set_ipv6_prefix_length (f->admission, 48));
  icecam_admission_set_max_connections_per_address (f->admission, 1);
  assert_open (f, 1, "2001:db8:1:2::1", T0, ICECAM_ADMISSION_ALLOW);
  assert_open (f, 2, "2001:db8:1:3::1", T0, ICECAM_ADMISSION_TOO_MANY_CONNECTIONS);
  /* A closed connection gives its prefix's place back. */
  icecam_admission_close (f->admission, 1);
  icecam_admission_close (f->admission, 2);
  assert_open (f, 3, "2001:db8:1:ffff::1", T0, ICECAM_ADMISSION_ALLOW);
}

/* ---- the global cap ------------------------------------------------------------------- */

/* Every TCP connection counts, whatever it is doing and refused or not, until it is closed;
 * beyond the cap new ones are not kept and are counted. */
static void
test_global_cap (Fixture *f, gconstpointer data)
{
  icecam_admission_set_max_connections (f->admission, 3);
  g_assert_cmpuint (icecam_admission_get_max_connections (f->admission), ==, 3);
  g_assert_cmpint (icecam_admission_accept (f->admission, 1, T0), ==, ICECAM_ADMISSION_ALLOW);
  g_assert_cmpint (icecam_admission_accept (f->admission, 2, T0), ==, ICECAM_ADMISSION_ALLOW);
  assert_open (f, 2, HOME, T0, ICECAM_ADMISSION_ALLOW);
  assert_open (f, 3, OTHER, T0, ICECAM_ADMISSION_ALLOW);  /* accepted and upgraded at once */
  g_assert_cmpint (icecam_admission_accept (f->admission, 4, T0), ==,
                   ICECAM_ADMISSION_AT_CAPACITY);
  assert_open (f, 5, HOME, T0, ICECAM_ADMISSION_AT_CAPACITY);
  g_assert_cmpuint (get_stats (f).connections, ==, 3);
  g_assert_cmpuint (get_stats (f).capacity_refused, ==, 2);
  /* A refused id was not kept: it is unknown. */
  g_assert_cmpint (message (f, 4, 1, T0), ==, ICECAM_ADMISSION_INVALID);

  /* A connection refused for its deadline still counts until closed. */
  g_array_unref (icecam_admission_take_overdue (f->admission, T0 + HOUR));
  g_assert_cmpint (icecam_admission_accept (f->admission, 6, T0), ==,
                   ICECAM_ADMISSION_AT_CAPACITY);
  icecam_admission_close (f->admission, 1);
  g_assert_cmpint (icecam_admission_accept (f->admission, 7, T0), ==, ICECAM_ADMISSION_ALLOW);
  g_assert_cmpint (icecam_admission_accept (f->admission, 7, T0), ==, ICECAM_ADMISSION_INVALID);
  g_assert_cmpuint (get_stats (f).capacity_refused, ==, 3);

  icecam_admission_set_max_connections (f->admission, 0);
  for (guint64 id = 100; id < 1100; id++)
    g_assert_cmpint (icecam_admission_accept (f->admission, id, T0), ==, ICECAM_ADMISSION_ALLOW);
}

static void
test_global_cap_from_descriptors (void)
{
  g_assert_cmpuint (icecam_admission_max_connections_for_descriptors (20000), ==,
                    20000 - ICECAM_ADMISSION_DESCRIPTOR_RESERVE);
  g_assert_cmpuint (icecam_admission_max_connections_for_descriptors (1024), ==,
                    1024 - ICECAM_ADMISSION_DESCRIPTOR_RESERVE);
  g_assert_cmpuint (icecam_admission_max_connections_for_descriptors (100), ==, 50);
  g_assert_cmpuint (icecam_admission_max_connections_for_descriptors (1), ==, 1);
  g_assert_cmpuint (icecam_admission_max_connections_for_descriptors (G_MAXUINT64), ==,
                    G_MAXUINT);
}

/* ---- deadlines ------------------------------------------------------------------------ */

static GArray *
take_overdue (Fixture *f, gint64 now_us)
{
  return icecam_admission_take_overdue (f->admission, now_us);
}

/* The handshake deadline runs from accept to the upgrade, the hello deadline from the upgrade
 * to the welcome; a connection that meets both has none left. Each is refused once. */
static void
test_deadlines (Fixture *f, gconstpointer data)
{
  g_autoptr (GArray) early = NULL;
  g_autoptr (GArray) handshake = NULL;
  g_autoptr (GArray) hello = NULL;
  g_autoptr (GArray) later = NULL;

  icecam_admission_set_deadlines (f->admission, 2, 3);
  icecam_admission_accept (f->admission, 1, T0);       /* never sends its request */
  icecam_admission_accept (f->admission, 2, T0);       /* upgraded, never says hello */
  icecam_admission_accept (f->admission, 3, T0);       /* a camera: hello in time */
  icecam_admission_accept (f->admission, 4, T0 + 1500 * MS);
  assert_open (f, 2, HOME, T0 + 1 * G_USEC_PER_SEC, ICECAM_ADMISSION_ALLOW);
  assert_open (f, 3, HOME, T0 + 1 * G_USEC_PER_SEC, ICECAM_ADMISSION_ALLOW);
  icecam_admission_welcomed (f->admission, 3);

  early = take_overdue (f, T0 + 2 * G_USEC_PER_SEC - 1);
  g_assert_cmpuint (early->len, ==, 0);
  handshake = take_overdue (f, T0 + 2 * G_USEC_PER_SEC);
  g_assert_cmpuint (handshake->len, ==, 1);
  g_assert_cmpuint (g_array_index (handshake, guint64, 0), ==, 1);
  g_assert_cmpint (message (f, 1, 1, T0 + 2 * G_USEC_PER_SEC), ==, ICECAM_ADMISSION_CLOSING);

  hello = take_overdue (f, T0 + 4 * G_USEC_PER_SEC);
  g_assert_cmpuint (hello->len, ==, 2);
  g_assert_true (array_has_id (hello, 2));
  g_assert_true (array_has_id (hello, 4));
  later = take_overdue (f, T0 + HOUR);
  g_assert_cmpuint (later->len, ==, 0);
  g_assert_cmpuint (get_stats (f).deadline_closed, ==, 3);
  g_assert_cmpint (message (f, 3, 1, T0 + HOUR), ==, ICECAM_ADMISSION_ALLOW);

  /* Welcoming a refused or unknown one changes nothing. */
  icecam_admission_welcomed (f->admission, 2);
  icecam_admission_welcomed (f->admission, 99);
  g_assert_cmpint (message (f, 2, 1, T0), ==, ICECAM_ADMISSION_CLOSING);
}

/* A connection that is no HTTP (STUN over TCP) leaves the handshake deadline, not the global
 * count; one past its handshake, or unknown, is not affected. */
static void
test_deadlines_not_http (Fixture *f, gconstpointer data)
{
  g_autoptr (GArray) overdue = NULL;

  icecam_admission_set_deadlines (f->admission, 2, 3);
  icecam_admission_set_max_connections (f->admission, 3);
  icecam_admission_accept (f->admission, 1, T0);
  icecam_admission_accept (f->admission, 2, T0);
  icecam_admission_accept (f->admission, 3, T0);
  assert_open (f, 3, HOME, T0, ICECAM_ADMISSION_ALLOW);
  icecam_admission_not_http (f->admission, 1);
  icecam_admission_not_http (f->admission, 3);   /* upgraded: its hello deadline stays */
  icecam_admission_not_http (f->admission, 99);
  overdue = take_overdue (f, T0 + HOUR);
  g_assert_cmpuint (overdue->len, ==, 2);
  g_assert_true (array_has_id (overdue, 2));
  g_assert_true (array_has_id (overdue, 3));
  g_assert_cmpuint (get_stats (f).deadline_closed, ==, 2);
  g_assert_cmpint (icecam_admission_accept (f->admission, 4, T0), ==,
                   ICECAM_ADMISSION_AT_CAPACITY);
  icecam_admission_close (f->admission, 1);
  g_assert_cmpint (icecam_admission_accept (f->admission, 4, T0), ==, ICECAM_ADMISSION_ALLOW);
}

/* Defaults 5 s and 10 s; a connection closed before its deadline is forgotten; 0 means no
 * deadline; the check interval follows the shorter one. */
static void
test_deadlines_defaults_and_off (Fixture *f, gconstpointer data)
{
  g_autoptr (GArray) none = NULL;
  g_autoptr (GArray) at_defaults = NULL;
  g_autoptr (GArray) off = NULL;

  g_assert_cmpuint (icecam_admission_get_deadline_check_interval_ms (f->admission), ==, 1000);
  icecam_admission_accept (f->admission, 1, T0);
  icecam_admission_accept (f->admission, 2, T0);
  assert_open (f, 2, HOME, T0, ICECAM_ADMISSION_ALLOW);
  icecam_admission_accept (f->admission, 3, T0);
  icecam_admission_close (f->admission, 3);
  none = take_overdue (f, T0 + ICECAM_ADMISSION_DEFAULT_HANDSHAKE_TIMEOUT_S * G_USEC_PER_SEC - 1);
  g_assert_cmpuint (none->len, ==, 0);
  at_defaults =
    take_overdue (f, T0 + ICECAM_ADMISSION_DEFAULT_HELLO_TIMEOUT_S * G_USEC_PER_SEC);
  g_assert_cmpuint (at_defaults->len, ==, 2);

  icecam_admission_set_deadlines (f->admission, 0, 0);
  g_assert_cmpuint (icecam_admission_get_deadline_check_interval_ms (f->admission), ==, 1000);
  icecam_admission_accept (f->admission, 4, T0);
  icecam_admission_accept (f->admission, 5, T0);
  assert_open (f, 5, HOME, T0, ICECAM_ADMISSION_ALLOW);
  off = take_overdue (f, G_MAXINT64);
  g_assert_cmpuint (off->len, ==, 0);

  icecam_admission_set_deadlines (f->admission, 1, 0);
  g_assert_cmpuint (icecam_admission_get_deadline_check_interval_ms (f->admission), ==, 250);
  icecam_admission_set_deadlines (f->admission, 0, 2);
  g_assert_cmpuint (icecam_admission_get_deadline_check_interval_ms (f->admission), ==, 500);
  icecam_admission_set_deadlines (f->admission, 1000, G_MAXUINT);
  icecam_admission_accept (f->admission, 6, G_MAXINT64 - 1);
  g_array_unref (take_overdue (f, G_MAXINT64 - 1));
  g_assert_cmpint (message (f, 6, 1, G_MAXINT64 - 1), ==, ICECAM_ADMISSION_ALLOW);
}

int
main (int argc, char **argv)
{
  g_log_writer_default_set_use_stderr (TRUE);
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) g_test_add (path, Fixture, NULL, fixture_setup, func, fixture_teardown)

  ADD ("/admission/connections/limit-reached-and-released", test_connections_limit);
  ADD ("/admission/connections/zero-is-no-limit", test_connections_zero_is_no_limit);
  ADD ("/admission/connections/default-limit", test_connections_default_limit);
  ADD ("/admission/rate/burst", test_rate_burst);
  ADD ("/admission/rate/refill", test_rate_refill);
  ADD ("/admission/rate/bytes-per-message", test_rate_bytes);
  ADD ("/admission/rate/zero-is-no-limit", test_rate_zero_is_no_limit);
  ADD ("/admission/silence/after-limit", test_silence_after_limit);
  ADD ("/admission/silence/defaults", test_silence_defaults);
  ADD ("/admission/bad-input/changes-nothing", test_bad_input_changes_nothing);
  ADD ("/admission/bad-input/absurd-sizes", test_bad_input_absurd_sizes);
  ADD ("/admission/ipv6/one-prefix-one-limit", test_ipv6_one_prefix_one_limit);
  ADD ("/admission/ipv6/prefix-length", test_ipv6_prefix_length);
  ADD ("/admission/capacity/global-cap", test_global_cap);
  g_test_add_func ("/admission/capacity/from-descriptors", test_global_cap_from_descriptors);
  ADD ("/admission/deadlines/handshake-and-hello", test_deadlines);
  ADD ("/admission/deadlines/defaults-and-off", test_deadlines_defaults_and_off);
  ADD ("/admission/deadlines/not-http", test_deadlines_not_http);

#undef ADD
  return g_test_run ();
}
