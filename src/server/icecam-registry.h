/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The rendezvous's routing logic: who is connected, which sessions exist, where messages go. */

#pragma once

#include <glib-object.h>

#include "icecam-ops-log.h"
#include "icecam-protocol.h"

G_BEGIN_DECLS

/**
 * ICECAM_REGISTRY_DEFAULT_MAX_SESSIONS_PER_VIEWER:
 *
 * How many sessions one viewer may have open at once unless configured otherwise.
 */
#define ICECAM_REGISTRY_DEFAULT_MAX_SESSIONS_PER_VIEWER 16

/**
 * ICECAM_REGISTRY_DEFAULT_MAX_SESSIONS_PER_CAMERA:
 *
 * How many sessions one camera may have open at once unless configured otherwise: four times
 * what icecam-camera serves by default (--max-viewers 16), so that the camera, not the server,
 * is what turns viewers away in normal use.
 */
#define ICECAM_REGISTRY_DEFAULT_MAX_SESSIONS_PER_CAMERA 64

/**
 * ICECAM_REGISTRY_DEFAULT_RESUME_GRACE_S:
 *
 * How long the sessions of a client whose connection is gone are kept for it to take back
 * with its `resume` secret, unless configured otherwise: long enough for a router to reboot
 * or a client to notice its dead connection and reconnect, short enough that the per-camera
 * session limits are not held by clients that are gone for good.
 */
#define ICECAM_REGISTRY_DEFAULT_RESUME_GRACE_S 30

/**
 * ICECAM_REGISTRY_DEFAULT_TURN_TTL_S:
 *
 * How long the relay credentials minted for a session stay valid unless configured otherwise:
 * long enough to gather and allocate, short enough that a credential that leaks, or outlives
 * its session or its viewer's token, is soon worth nothing. A relay keeps an allocation made
 * with it alive (coturn checks the expiry only on Allocate), and a session's ends get fresh
 * ones for later allocations every half lifetime.
 */
#define ICECAM_REGISTRY_DEFAULT_TURN_TTL_S 600

/**
 * IcecamRegistryStats:
 * @peers: connections the registry knows, including those that have not said hello yet
 * @cameras: cameras online
 * @viewers: viewers that said hello
 * @sessions: sessions open
 * @messages_relayed: messages forwarded from one end of a session to the other, since start
 * @errors_sent: `error` messages sent, since start
 * @detached: clients whose connection is gone and whose sessions are kept for them
 * @resumed: connections that took the place of an earlier one of the same client with its
 *   sessions (from a live connection or a detached one), since start
 * @relay_credentials_camera: TURN credentials handed to cameras (in `session` and
 *   `ice-servers`), since start
 * @relay_credentials_viewer: the same for viewers
 *
 * Counters for health and metrics endpoints.
 */
typedef struct {
  guint peers;
  guint cameras;
  guint viewers;
  guint sessions;
  guint64 messages_relayed;
  guint64 errors_sent;
  guint detached;
  guint64 resumed;
  guint64 relay_credentials_camera;
  guint64 relay_credentials_viewer;
} IcecamRegistryStats;

/**
 * IcecamRegistryRelay:
 * @url: the relay's URL as given (borrowed from the registry until its relays change)
 * @up: whether it is offered (the relay pool found it answering, or never checked it)
 * @sessions: open sessions it was assigned (listed first to their ends)
 * @region: (nullable): its region tag (icecam_registry_set_relay_regions())
 * @cluster_sessions: @sessions plus those the other cluster nodes say they assigned it
 */
typedef struct {
  const gchar *url;
  gboolean up;
  guint sessions;
  const gchar *region;
  guint cluster_sessions;
} IcecamRegistryRelay;

#define ICECAM_TYPE_REGISTRY (icecam_registry_get_type ())
G_DECLARE_FINAL_TYPE (IcecamRegistry, icecam_registry, ICECAM, REGISTRY, GObject)

/**
 * IcecamRegistryClaim:
 * @ICECAM_REGISTRY_CLAIM_GRANTED: the id is this node's now
 * @ICECAM_REGISTRY_CLAIM_REFUSED: a camera on another live node holds it
 * @ICECAM_REGISTRY_CLAIM_UNKNOWN: no answer (Redis lost): the node decides on its own view
 *
 * The answer to a claim on a camera id across a cluster (#IcecamRegistryClaimFunc).
 */
typedef enum {
  ICECAM_REGISTRY_CLAIM_GRANTED,
  ICECAM_REGISTRY_CLAIM_REFUSED,
  ICECAM_REGISTRY_CLAIM_UNKNOWN,
} IcecamRegistryClaim;

/**
 * IcecamRegistryClaimFunc:
 * @registry: the registry
 * @peer_id: the connection whose `hello` asks for @camera_id
 * @camera_id: the id
 * @resume: (nullable): the `resume` secret the hello carried (of its latest welcome, on
 *   whichever node)
 * @proven: whether the camera proved its id with its provisioned secret
 * @user_data: as given to icecam_registry_set_claim_func()
 *
 * Starts claiming @camera_id for this node; the answer comes later through
 * icecam_registry_claim_done().
 *
 * Returns: %TRUE if a claim was started, %FALSE to decide at once on the node's own view
 */
typedef gboolean (*IcecamRegistryClaimFunc) (IcecamRegistry *registry, guint64 peer_id,
                                             const gchar *camera_id, const gchar *resume,
                                             gboolean proven, gpointer user_data);

IcecamRegistry *icecam_registry_new (void);

void icecam_registry_set_ice_servers (IcecamRegistry *self, GPtrArray *ice_servers);
void icecam_registry_set_camera_secrets (IcecamRegistry *self, GHashTable *secrets);
void icecam_registry_set_token_key (IcecamRegistry *self, const gchar *key);
void icecam_registry_set_turn (IcecamRegistry *self, const gchar * const *urls,
                               const gchar *secret, guint ttl_seconds);
void icecam_registry_set_relay_up (IcecamRegistry *self, const gchar *url, gboolean up);
void icecam_registry_set_relay_regions (IcecamRegistry *self, const gchar * const *urls,
                                        const gchar * const *regions);
void icecam_registry_set_remote_relay_sessions (IcecamRegistry *self, const gchar *node,
                                                GHashTable *sessions);
gboolean icecam_relay_entry_split (const gchar *entry, gchar **url, gchar **region,
                                   GError **error);
GArray *icecam_registry_get_relays (IcecamRegistry *self);
void icecam_registry_set_max_sessions_per_viewer (IcecamRegistry *self, guint max_sessions);
void icecam_registry_set_max_sessions_per_camera (IcecamRegistry *self, guint max_sessions);
void icecam_registry_set_resume_grace (IcecamRegistry *self, guint seconds);

void icecam_registry_add_peer (IcecamRegistry *self, guint64 peer_id,
                               const gchar *remote_address, GPtrArray *peer_ice_servers);
void icecam_registry_remove_peer (IcecamRegistry *self, guint64 peer_id);
void icecam_registry_evict_peer (IcecamRegistry *self, guint64 peer_id);
IcecamOpsLog *icecam_registry_get_ops_log (IcecamRegistry *self);
void icecam_registry_handle_text (IcecamRegistry *self, guint64 peer_id, const gchar *text,
                                  gsize length);
void icecam_registry_send_error (IcecamRegistry *self, guint64 peer_id, IcecamErrorCode code,
                                 const gchar *session, const gchar *text);
void icecam_registry_expire (IcecamRegistry *self, gint64 now_us);

void icecam_registry_get_stats (IcecamRegistry *self, IcecamRegistryStats *stats);

/* Clustering (icecam-registry-cluster.c): what other nodes hold, and their messages. */
gchar **icecam_registry_dup_local_cameras (IcecamRegistry *self);
void icecam_registry_set_remote_cameras (IcecamRegistry *self, const gchar *node,
                                         const gchar * const *cameras);
void icecam_registry_remote_node_gone (IcecamRegistry *self, const gchar *node);
gboolean icecam_registry_remote_message (IcecamRegistry *self, const gchar *node,
                                         const gchar *text, gsize length, GError **error);

/* Camera ids claimed across the cluster (icecam-registry-claim.c). */
void icecam_registry_set_claim_func (IcecamRegistry *self, IcecamRegistryClaimFunc func,
                                     gpointer user_data);
void icecam_registry_claim_done (IcecamRegistry *self, guint64 peer_id,
                                 IcecamRegistryClaim result, const gchar *holder);
gchar **icecam_registry_dup_claimed_cameras (IcecamRegistry *self, gchar ***resumes);
const gchar *icecam_registry_get_camera_resume (IcecamRegistry *self, const gchar *camera_id);
gboolean icecam_registry_camera_taken (IcecamRegistry *self, const gchar *camera_id,
                                       const gchar *node);

G_END_DECLS
