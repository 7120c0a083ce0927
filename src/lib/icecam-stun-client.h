/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* STUN Binding transactions over UDP sockets: retransmission, a time budget, matched answers. */

#pragma once

#include <gio/gio.h>

#include "icecam-stun-message.h"

G_BEGIN_DECLS

/**
 * ICECAM_STUN_CLIENT_FIRST_RTO_MS:
 *
 * The first retransmission timeout; each next one is twice as long (RFC 8489 section 6.2.1,
 * with a shorter start: the NAT probe waits seconds in all, not the RFC's 39.5 s).
 */
#define ICECAM_STUN_CLIENT_FIRST_RTO_MS 100

#define ICECAM_TYPE_STUN_CLIENT (icecam_stun_client_get_type ())
G_DECLARE_FINAL_TYPE (IcecamStunClient, icecam_stun_client, ICECAM, STUN_CLIENT, GObject)

typedef struct _IcecamStunClientSocket IcecamStunClientSocket;
typedef struct _IcecamStunTransaction IcecamStunTransaction;

/**
 * IcecamStunTransactionFunc:
 * @transaction: the transaction, answered or out of time; it is no longer pending
 * @user_data: as given
 *
 * Called once per started transaction, in the client's context, unless it was stopped or the
 * client closed first.
 */
typedef void (*IcecamStunTransactionFunc) (IcecamStunTransaction *transaction,
                                           gpointer user_data);

/**
 * IcecamStunTransaction:
 * @what: what the request tests, for logs (static)
 * @data: free for the caller, e.g. the test this transaction belongs to
 * @answered: whether an answer came before the time budget ran out
 * @answered_on: the socket the answer arrived on
 * @answer_from: (nullable): where the answer came from (the server socket that sent it)
 * @response: the answer, when it was a response (see icecam_stun_transaction_expect_on())
 * @n_sent: how many times the request was sent
 *
 * One request, retransmitted until answered or out of time. The client owns it until it
 * closes; the fields are for reading in the callback.
 */
struct _IcecamStunTransaction {
  const gchar *what;
  gpointer data;
  gboolean answered;
  IcecamStunClientSocket *answered_on;
  GInetSocketAddress *answer_from;
  IcecamStunResponse response;
  guint n_sent;

  /*< private >*/
  IcecamStunClient *client;
  IcecamStunClientSocket *from;
  IcecamStunClientSocket *expect_on;
  gboolean expect_request;
  GInetSocketAddress *to;
  guint8 id[ICECAM_STUN_TRANSACTION_ID_LENGTH];
  guint8 message[ICECAM_STUN_MESSAGE_BUFFER_SIZE];
  gsize length;
  gboolean pending;
  gint64 next_send_us;
  gint64 deadline_us;
  GSource *timer;
  IcecamStunTransactionFunc func;
  gpointer user_data;
};

IcecamStunClient *icecam_stun_client_new (GInetAddress *local_ip, guint timeout_ms,
                                          const gchar *log_id);
IcecamStunClientSocket *icecam_stun_client_open_socket (IcecamStunClient *self,
                                                        const gchar *role, GError **error);
GInetSocketAddress *icecam_stun_client_socket_get_local_address (IcecamStunClientSocket *sock);
void icecam_stun_client_stop_matching (IcecamStunClient *self, gpointer data);
void icecam_stun_client_close (IcecamStunClient *self);

IcecamStunTransaction *icecam_stun_transaction_new (IcecamStunClient *client, const gchar *what,
                                                    IcecamStunClientSocket *from,
                                                    GInetSocketAddress *to,
                                                    IcecamStunTransactionFunc func,
                                                    gpointer user_data);
void icecam_stun_transaction_expect_on (IcecamStunTransaction *transaction,
                                        IcecamStunClientSocket *sock, gboolean as_request);
void icecam_stun_transaction_start (IcecamStunTransaction *transaction, guint32 change_flags,
                                    guint16 response_port);

G_END_DECLS
