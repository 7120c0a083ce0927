/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unpredictable bytes for anything an off-path attacker must not guess (STUN transaction IDs). */

#include "icecam-random.h"

#include <errno.h>
#include <openssl/rand.h>
#include <sys/random.h>

/* The kernel's CSPRNG first: it needs no library state and never runs short once seeded. */
static gboolean
fill_from_kernel (guint8 *buf, gsize length)
{
  gsize done = 0;

  while (done < length) {
    ssize_t n = getrandom (buf + done, length - done, 0);

    if (n < 0) {
      if (errno == EINTR)
        continue;
      return FALSE;
    }
    done += (gsize) n;
  }
  return TRUE;
}

/**
 * icecam_random_bytes:
 * @buf: (out caller-allocates) (array length=length): where the bytes go
 * @length: how many
 *
 * Fills @buf from a cryptographic source: getrandom(2), else OpenSSL's RAND_bytes(). Unlike
 * g_random_*(), whose Mersenne Twister state can be recovered from its output (and which is
 * reseeded predictably by g_random_set_seed()), an observer of earlier values learns nothing
 * about the next ones. Use it for values that authenticate an answer, such as STUN
 * transaction IDs (RFC 8489 section 6 asks for "cryptographically random" ones).
 *
 * Both sources failing means the system has no usable randomness at all; sending guessable
 * IDs instead would be silently insecure, so that (never observed) case is fatal.
 */
void
icecam_random_bytes (guint8 *buf, gsize length)
{
  g_return_if_fail (buf != NULL || length == 0);

  if (length == 0 || fill_from_kernel (buf, length))
    return;
  if (length <= G_MAXINT && RAND_bytes (buf, (int) length) == 1)
    return;
  g_error ("icecam: neither getrandom(2) nor OpenSSL RAND_bytes() gave random bytes");
}
