/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A NAT probe's verdict, its classic name and the advice for icecam: pure code, no I/O. */

#include "icecam-nat-verdict.h"

#include <stdarg.h>

G_DEFINE_BOXED_TYPE (IcecamNatVerdict, icecam_nat_verdict, icecam_nat_verdict_copy,
                     icecam_nat_verdict_free)

/**
 * icecam_nat_verdict_new:
 *
 * Returns: (transfer full): a verdict where nothing is known yet
 */
IcecamNatVerdict *
icecam_nat_verdict_new (void)
{
  IcecamNatVerdict *verdict = g_new0 (IcecamNatVerdict, 1);

  verdict->notes = g_ptr_array_new_with_free_func (g_free);
  return verdict;
}

static GInetSocketAddress *
ref_address (GInetSocketAddress *address)
{
  return address != NULL ? g_object_ref (address) : NULL;
}

/**
 * icecam_nat_verdict_copy:
 * @verdict: a verdict
 *
 * Returns: (transfer full): a deep copy
 */
IcecamNatVerdict *
icecam_nat_verdict_copy (const IcecamNatVerdict *verdict)
{
  IcecamNatVerdict *copy;

  g_return_val_if_fail (verdict != NULL, NULL);

  copy = g_new0 (IcecamNatVerdict, 1);
  *copy = *verdict;
  copy->server = ref_address (verdict->server);
  copy->other_address = ref_address (verdict->other_address);
  copy->local_address = ref_address (verdict->local_address);
  copy->mapped_address = ref_address (verdict->mapped_address);
  copy->notes = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < verdict->notes->len; i++)
    g_ptr_array_add (copy->notes, g_strdup (g_ptr_array_index (verdict->notes, i)));
  return copy;
}

/**
 * icecam_nat_verdict_free:
 * @verdict: (nullable): a verdict
 */
void
icecam_nat_verdict_free (IcecamNatVerdict *verdict)
{
  if (verdict == NULL)
    return;
  g_clear_object (&verdict->server);
  g_clear_object (&verdict->other_address);
  g_clear_object (&verdict->local_address);
  g_clear_object (&verdict->mapped_address);
  g_ptr_array_unref (verdict->notes);
  g_free (verdict);
}

/**
 * icecam_nat_verdict_add_note:
 * @verdict: a verdict
 * @format: printf-style text for the user: why something is unknown
 * @...: its arguments
 */
void
icecam_nat_verdict_add_note (IcecamNatVerdict *verdict, const gchar *format, ...)
{
  va_list args;

  g_return_if_fail (verdict != NULL);
  g_return_if_fail (format != NULL);

  va_start (args, format);
  g_ptr_array_add (verdict->notes, g_strdup_vprintf (format, args));
  va_end (args);
}

/* ---- names ---------------------------------------------------------------------------- */

/**
 * icecam_nat_type_to_string:
 * @type: a NAT type
 *
 * Returns: the type's name as the tools print it and JSON carries it: "open", "full-cone",
 *   "restricted-cone", "port-restricted-cone", "symmetric", "udp-blocked" or "unknown"
 */
const gchar *
icecam_nat_type_to_string (IcecamNatType type)
{
  switch (type) {
  case ICECAM_NAT_TYPE_OPEN:
    return "open";
  case ICECAM_NAT_TYPE_FULL_CONE:
    return "full-cone";
  case ICECAM_NAT_TYPE_RESTRICTED_CONE:
    return "restricted-cone";
  case ICECAM_NAT_TYPE_PORT_RESTRICTED_CONE:
    return "port-restricted-cone";
  case ICECAM_NAT_TYPE_SYMMETRIC:
    return "symmetric";
  case ICECAM_NAT_TYPE_UDP_BLOCKED:
    return "udp-blocked";
  case ICECAM_NAT_TYPE_UNKNOWN:
  default:
    return "unknown";
  }
}

/**
 * icecam_nat_behaviour_to_string:
 * @behaviour: a mapping or filtering behaviour
 *
 * Returns: "endpoint-independent", "address-dependent", "address-and-port-dependent" or
 *   "unknown"
 */
const gchar *
icecam_nat_behaviour_to_string (IcecamNatBehaviour behaviour)
{
  switch (behaviour) {
  case ICECAM_NAT_BEHAVIOUR_ENDPOINT_INDEPENDENT:
    return "endpoint-independent";
  case ICECAM_NAT_BEHAVIOUR_ADDRESS_DEPENDENT:
    return "address-dependent";
  case ICECAM_NAT_BEHAVIOUR_ADDRESS_AND_PORT_DEPENDENT:
    return "address-and-port-dependent";
  case ICECAM_NAT_BEHAVIOUR_UNKNOWN:
  default:
    return "unknown";
  }
}

/**
 * icecam_nat_answer_to_string:
 * @answer: an answer
 *
 * Returns: "yes", "no" or "unknown"
 */
const gchar *
icecam_nat_answer_to_string (IcecamNatAnswer answer)
{
  switch (answer) {
  case ICECAM_NAT_ANSWER_YES:
    return "yes";
  case ICECAM_NAT_ANSWER_NO:
    return "no";
  case ICECAM_NAT_ANSWER_UNKNOWN:
  default:
    return "unknown";
  }
}

/**
 * icecam_nat_path_to_string:
 * @path: a media path
 *
 * Returns: "direct", "relay", "relay-tcp" or "unknown"
 */
const gchar *
icecam_nat_path_to_string (IcecamNatPath path)
{
  switch (path) {
  case ICECAM_NAT_PATH_DIRECT:
    return "direct";
  case ICECAM_NAT_PATH_RELAY:
    return "relay";
  case ICECAM_NAT_PATH_RELAY_TCP:
    return "relay-tcp";
  case ICECAM_NAT_PATH_UNKNOWN:
  default:
    return "unknown";
  }
}

/* ---- classification and advice -------------------------------------------------------- */

static IcecamNatType
cone_by_filtering (IcecamNatBehaviour filtering, IcecamNatType when_endpoint_independent)
{
  switch (filtering) {
  case ICECAM_NAT_BEHAVIOUR_ENDPOINT_INDEPENDENT:
    return when_endpoint_independent;
  case ICECAM_NAT_BEHAVIOUR_ADDRESS_DEPENDENT:
    return ICECAM_NAT_TYPE_RESTRICTED_CONE;
  case ICECAM_NAT_BEHAVIOUR_ADDRESS_AND_PORT_DEPENDENT:
    return ICECAM_NAT_TYPE_PORT_RESTRICTED_CONE;
  case ICECAM_NAT_BEHAVIOUR_UNKNOWN:
  default:
    return ICECAM_NAT_TYPE_UNKNOWN;
  }
}

/**
 * icecam_nat_classify:
 * @server_reached: whether the STUN server answered at all
 * @nat_present: whether there is a NAT
 * @mapping: the mapping behaviour
 * @filtering: the filtering behaviour
 *
 * Names a combination of facts with its classic type. A mapping that depends on the remote
 * address is symmetric whatever the filtering; without a NAT the mapping is the identity, so
 * only the filtering counts (a filtering firewall is named as the cone it behaves like); a
 * NAT with endpoint-independent mapping is the cone its filtering says. Whatever a decision
 * needs and is unknown makes the type unknown.
 *
 * Returns: the classic type
 */
IcecamNatType
icecam_nat_classify (gboolean server_reached, IcecamNatAnswer nat_present,
                     IcecamNatBehaviour mapping, IcecamNatBehaviour filtering)
{
  if (!server_reached)
    return ICECAM_NAT_TYPE_UDP_BLOCKED;
  if (mapping == ICECAM_NAT_BEHAVIOUR_ADDRESS_DEPENDENT ||
      mapping == ICECAM_NAT_BEHAVIOUR_ADDRESS_AND_PORT_DEPENDENT)
    return ICECAM_NAT_TYPE_SYMMETRIC;
  switch (nat_present) {
  case ICECAM_NAT_ANSWER_NO:
    return cone_by_filtering (filtering, ICECAM_NAT_TYPE_OPEN);
  case ICECAM_NAT_ANSWER_YES:
    if (mapping == ICECAM_NAT_BEHAVIOUR_UNKNOWN)
      return ICECAM_NAT_TYPE_UNKNOWN;
    return cone_by_filtering (filtering, ICECAM_NAT_TYPE_FULL_CONE);
  case ICECAM_NAT_ANSWER_UNKNOWN:
  default:
    return ICECAM_NAT_TYPE_UNKNOWN;
  }
}

/**
 * icecam_nat_verdict_get_nat_type:
 * @verdict: a verdict
 *
 * Returns: the classic type of @verdict, see icecam_nat_classify()
 */
IcecamNatType
icecam_nat_verdict_get_nat_type (const IcecamNatVerdict *verdict)
{
  g_return_val_if_fail (verdict != NULL, ICECAM_NAT_TYPE_UNKNOWN);

  return icecam_nat_classify (verdict->server_reached, verdict->nat_present, verdict->mapping,
                              verdict->filtering);
}

static gboolean
is_cone (IcecamNatType type)
{
  return type == ICECAM_NAT_TYPE_RESTRICTED_CONE || type == ICECAM_NAT_TYPE_PORT_RESTRICTED_CONE;
}

/**
 * icecam_nat_path:
 * @local: the NAT type on one side
 * @peer: the NAT type on the other side
 *
 * The path ICE ends on between two sides, as measured in the project's NAT lab: a side
 * without UDP needs TURN over TCP; an open or full-cone side is reached directly by anyone;
 * two restricted cones meet directly (srflx to srflx); a symmetric side meets an
 * address-restricted cone directly (its prflx address is learnt from its checks) but not a
 * port-restricted cone or another symmetric NAT, which need a relay. The table is symmetric.
 *
 * Returns: how media can flow between the two
 */
IcecamNatPath
icecam_nat_path (IcecamNatType local, IcecamNatType peer)
{
  if (local == ICECAM_NAT_TYPE_UDP_BLOCKED || peer == ICECAM_NAT_TYPE_UDP_BLOCKED)
    return ICECAM_NAT_PATH_RELAY_TCP;
  if (local == ICECAM_NAT_TYPE_UNKNOWN || peer == ICECAM_NAT_TYPE_UNKNOWN)
    return ICECAM_NAT_PATH_UNKNOWN;
  if (local == ICECAM_NAT_TYPE_OPEN || peer == ICECAM_NAT_TYPE_OPEN ||
      local == ICECAM_NAT_TYPE_FULL_CONE || peer == ICECAM_NAT_TYPE_FULL_CONE)
    return ICECAM_NAT_PATH_DIRECT;
  if (is_cone (local) && is_cone (peer))
    return ICECAM_NAT_PATH_DIRECT;
  if (local == ICECAM_NAT_TYPE_RESTRICTED_CONE || peer == ICECAM_NAT_TYPE_RESTRICTED_CONE)
    return ICECAM_NAT_PATH_DIRECT;
  return ICECAM_NAT_PATH_RELAY;
}

/* "a", "a and b", "a, b and c" */
static void
append_list (GString *text, GPtrArray *names)
{
  for (guint i = 0; i < names->len; i++) {
    if (i > 0)
      g_string_append (text, i + 1 == names->len ? " and " : ", ");
    g_string_append (text, g_ptr_array_index (names, i));
  }
}

/**
 * icecam_nat_advice:
 * @type: the NAT type of this network
 *
 * Says, in one sentence built from icecam_nat_path(), which peers icecam reaches directly from
 * a network of @type and when it needs the TURN relay.
 *
 * Returns: (transfer full): the advice
 */
gchar *
icecam_nat_advice (IcecamNatType type)
{
  static const struct {
    IcecamNatPath path;
    const gchar *words;
  } clauses[] = {
    { ICECAM_NAT_PATH_DIRECT, "connects directly to " },
    { ICECAM_NAT_PATH_RELAY, "needs a TURN relay for " },
    { ICECAM_NAT_PATH_RELAY_TCP, "needs a TURN relay, which the peer reaches over TCP, for " },
  };
  GString *text;
  gboolean first = TRUE;

  if (type == ICECAM_NAT_TYPE_UDP_BLOCKED)
    return g_strdup ("No UDP gets through (or the STUN server is down): icecam needs a TURN "
                     "relay over TCP (turn:HOST:PORT?transport=tcp) for every session.");
  if (type == ICECAM_NAT_TYPE_UNKNOWN)
    return g_strdup ("Not enough is known to predict which peers icecam reaches directly: "
                     "keep a TURN relay configured.");

  text = g_string_new ("icecam ");
  for (gsize c = 0; c < G_N_ELEMENTS (clauses); c++) {
    g_autoptr (GPtrArray) names = g_ptr_array_new ();

    for (IcecamNatType peer = 0; peer < ICECAM_NAT_N_TYPES; peer++) {
      if (peer != ICECAM_NAT_TYPE_UNKNOWN && icecam_nat_path (type, peer) == clauses[c].path)
        g_ptr_array_add (names, (gpointer) icecam_nat_type_to_string (peer));
    }
    if (names->len == 0)
      continue;
    if (!first)
      g_string_append (text, "; it ");
    g_string_append (text, clauses[c].words);
    append_list (text, names);
    g_string_append (text, " peers");
    first = FALSE;
  }
  g_string_append_c (text, '.');
  return g_string_free (text, FALSE);
}

/**
 * icecam_nat_verdict_describe_lifetime:
 * @verdict: a verdict
 *
 * Returns: (transfer full): the mapping lifetime in words: "between 20 and 30 s", "more than
 *   120 s", "less than 2 s" or "unknown"
 */
gchar *
icecam_nat_verdict_describe_lifetime (const IcecamNatVerdict *verdict)
{
  g_return_val_if_fail (verdict != NULL, NULL);

  if (!verdict->lifetime_measured)
    return g_strdup ("unknown");
  if (verdict->lifetime_max_s == 0)
    return g_strdup_printf ("more than %u s", verdict->lifetime_min_s);
  if (verdict->lifetime_min_s == 0)
    return g_strdup_printf ("less than %u s", verdict->lifetime_max_s);
  return g_strdup_printf ("between %u and %u s", verdict->lifetime_min_s,
                          verdict->lifetime_max_s);
}

/* ---- JSON ----------------------------------------------------------------------------- */

static void
add_address (JsonBuilder *builder, const gchar *name, GInetSocketAddress *address)
{
  json_builder_set_member_name (builder, name);
  if (address == NULL) {
    json_builder_add_null_value (builder);
  } else {
    g_autofree gchar *text = g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (address));

    json_builder_add_string_value (builder, text);
  }
}

static void
add_answer (JsonBuilder *builder, const gchar *name, IcecamNatAnswer answer)
{
  json_builder_set_member_name (builder, name);
  if (answer == ICECAM_NAT_ANSWER_UNKNOWN)
    json_builder_add_null_value (builder);
  else
    json_builder_add_boolean_value (builder, answer == ICECAM_NAT_ANSWER_YES);
}

static void
add_string (JsonBuilder *builder, const gchar *name, const gchar *value)
{
  json_builder_set_member_name (builder, name);
  json_builder_add_string_value (builder, value);
}

static void
add_lifetime (JsonBuilder *builder, const IcecamNatVerdict *verdict)
{
  json_builder_set_member_name (builder, "lifetime");
  if (!verdict->lifetime_measured) {
    json_builder_add_null_value (builder);
    return;
  }
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "min_s");
  json_builder_add_int_value (builder, verdict->lifetime_min_s);
  json_builder_set_member_name (builder, "max_s");
  if (verdict->lifetime_max_s == 0)
    json_builder_add_null_value (builder);
  else
    json_builder_add_int_value (builder, verdict->lifetime_max_s);
  json_builder_end_object (builder);
}

/**
 * icecam_nat_verdict_to_json:
 * @verdict: a verdict
 *
 * The verdict as one JSON object, the shape documented in docs/natprobe.md: the facts, the
 * classic type, the advice, and the path to a peer of each type.
 *
 * Returns: (transfer full): a JSON object node
 */
JsonNode *
icecam_nat_verdict_to_json (const IcecamNatVerdict *verdict)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  IcecamNatType type;
  g_autofree gchar *advice = NULL;

  g_return_val_if_fail (verdict != NULL, NULL);

  type = icecam_nat_verdict_get_nat_type (verdict);
  advice = icecam_nat_advice (type);
  json_builder_begin_object (builder);
  add_address (builder, "server", verdict->server);
  json_builder_set_member_name (builder, "server_reached");
  json_builder_add_boolean_value (builder, verdict->server_reached);
  json_builder_set_member_name (builder, "rfc5780");
  json_builder_add_boolean_value (builder, verdict->rfc5780);
  add_address (builder, "other_address", verdict->other_address);
  add_address (builder, "local_address", verdict->local_address);
  add_address (builder, "mapped_address", verdict->mapped_address);
  add_answer (builder, "nat", verdict->nat_present);
  add_string (builder, "mapping", icecam_nat_behaviour_to_string (verdict->mapping));
  add_string (builder, "filtering", icecam_nat_behaviour_to_string (verdict->filtering));
  add_answer (builder, "hairpinning", verdict->hairpinning);
  add_string (builder, "port_allocation",
              icecam_nat_port_allocation_to_string (verdict->port_allocation));
  json_builder_set_member_name (builder, "port_delta");
  json_builder_add_int_value (builder, verdict->port_delta);
  json_builder_set_member_name (builder, "port_spread");
  json_builder_add_int_value (builder, verdict->port_spread);
  add_lifetime (builder, verdict);
  add_string (builder, "nat_type", icecam_nat_type_to_string (type));
  add_string (builder, "advice", advice);

  json_builder_set_member_name (builder, "paths");
  json_builder_begin_object (builder);
  for (IcecamNatType peer = 0; peer < ICECAM_NAT_N_TYPES; peer++) {
    if (peer != ICECAM_NAT_TYPE_UNKNOWN)
      add_string (builder, icecam_nat_type_to_string (peer),
                  icecam_nat_path_to_string (icecam_nat_path (type, peer)));
  }
  json_builder_end_object (builder);

  json_builder_set_member_name (builder, "notes");
  json_builder_begin_array (builder);
  for (guint i = 0; i < verdict->notes->len; i++)
    json_builder_add_string_value (builder, g_ptr_array_index (verdict->notes, i));
  json_builder_end_array (builder);

  json_builder_set_member_name (builder, "elapsed_ms");
  json_builder_add_int_value (builder, (gint64) verdict->elapsed_ms);
  json_builder_end_object (builder);
  return json_builder_get_root (builder);
}
