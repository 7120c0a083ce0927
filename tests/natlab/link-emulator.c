/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* icecam-link-emulator: a user-space "wire" between two interfaces of a lab namespace with a
 * rate limit (token bucket and a drop-tail queue), a delay and random loss per direction, for
 * the NAT lab: the kernel here has no netem. */

#include <arpa/inet.h>
#include <errno.h>
#include <glib.h>
#include <glib-unix.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Frames are read with their virtio-net header (PACKET_VNET_HDR) and written with it, so that
 * a GSO TCP segment larger than the MTU (the signalling's) passes as the kernel gave it. */
#define VNET_HDR_SIZE 10
#define MAX_FRAME (VNET_HDR_SIZE + 65536)

typedef struct {
  guint8 *data;
  gsize length;
  gint64 deliver; /* monotonic µs */
} Frame;

/* One direction: frames read on in_fd leave on out_fd. */
typedef struct {
  const gchar *name;
  gint in_fd, out_fd;
  gint64 rate_bps;   /* 0: unlimited */
  gint64 delay_us;
  gdouble loss;      /* 0..1 */
  gint64 queue_us;   /* the queue holds at most this much sending time */
  gint64 busy_until; /* when the link has sent what is queued */
  GQueue frames;
  guint64 passed, lost, overflowed;
} Direction;

typedef struct {
  Direction dirs[2];
  GRand *rand;
  gboolean quit;
  gchar **on_usr1;  /* control lines applied on SIGUSR1 */
  gint64 started;
} Emulator;

static gint64
now_us (void)
{
  return g_get_monotonic_time ();
}

static gint
open_interface (const gchar *name, GError **error)
{
  struct sockaddr_ll addr = { 0 };
  struct packet_mreq mreq = { 0 };
  gint one = 1, buffer_size = 8 << 20;
  gint fd = socket (AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons (ETH_P_ALL));
  guint index = if_nametoindex (name);

  if (fd < 0 || index == 0) {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "interface %s: %s", name,
                 fd < 0 ? g_strerror (errno) : "no such interface");
    if (fd >= 0)
      close (fd);
    return -1;
  }
  addr.sll_family = AF_PACKET;
  addr.sll_protocol = htons (ETH_P_ALL);
  addr.sll_ifindex = (gint) index;
  mreq.mr_ifindex = (gint) index;
  mreq.mr_type = PACKET_MR_PROMISC;
  /* A keyframe's burst must not overflow the socket before the queue sees it: only the
   * emulated queue drops. (FORCE: over the sysctl limits, as root.) */
  setsockopt (fd, SOL_SOCKET, SO_RCVBUFFORCE, &buffer_size, sizeof buffer_size);
  setsockopt (fd, SOL_SOCKET, SO_SNDBUFFORCE, &buffer_size, sizeof buffer_size);
  if (setsockopt (fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof one) < 0 ||
      setsockopt (fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one) < 0 ||
      bind (fd, (struct sockaddr *) &addr, sizeof addr) < 0 ||
      setsockopt (fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mreq, sizeof mreq) < 0) {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "interface %s: %s", name,
                 g_strerror (errno));
    close (fd);
    return -1;
  }
  return fd;
}

/* A frame arrives: lost at random, dropped if the queue is full, else queued for its time. */
static void
arrive (Emulator *emu, Direction *dir, const guint8 *data, gsize length, gint64 now)
{
  Frame *frame;
  gint64 start, wire_us = 0;
  gsize wire_bytes = length > VNET_HDR_SIZE ? length - VNET_HDR_SIZE : 0;

  if (dir->loss > 0 && g_rand_double (emu->rand) < dir->loss) {
    dir->lost++;
    return;
  }
  start = MAX (now, dir->busy_until);
  if (dir->rate_bps > 0) {
    wire_us = (gint64) wire_bytes * 8 * G_USEC_PER_SEC / dir->rate_bps;
    if (start - now > dir->queue_us) {
      dir->overflowed++;
      return;
    }
  }
  dir->busy_until = start + wire_us;
  frame = g_new (Frame, 1);
  frame->data = g_memdup2 (data, length);
  frame->length = length;
  frame->deliver = dir->busy_until + dir->delay_us;
  g_queue_push_tail (&dir->frames, frame);
}

static void
deliver_due (Direction *dir, gint64 now)
{
  Frame *frame;

  while ((frame = g_queue_peek_head (&dir->frames)) != NULL && frame->deliver <= now) {
    g_queue_pop_head (&dir->frames);
    if (send (dir->out_fd, frame->data, frame->length, 0) >= 0)
      dir->passed++;
    g_free (frame->data);
    g_free (frame);
  }
}

static void
read_frames (Emulator *emu, Direction *dir)
{
  static guint8 buffer[MAX_FRAME];

  for (guint n = 0; n < 256; n++) {
    ssize_t got = recv (dir->in_fd, buffer, sizeof buffer, 0);

    if (got <= 0)
      return;
    arrive (emu, dir, buffer, (gsize) got, now_us ());
  }
}

/* "ab rate 800" (kbit/s), "ba delay 30" (ms), "ab loss 5" (%), "stats": changes while running. */
static void
control_line (Emulator *emu, const gchar *line)
{
  gchar dir_name[3], what[8];
  gdouble value;

  if (g_str_has_prefix (line, "stats")) {
    for (guint i = 0; i < 2; i++)
      printf ("link-emulator: %s passed=%" G_GUINT64_FORMAT " lost=%" G_GUINT64_FORMAT
              " overflowed=%" G_GUINT64_FORMAT " queued=%u t_ms=%" G_GINT64_FORMAT "\n",
              emu->dirs[i].name, emu->dirs[i].passed, emu->dirs[i].lost,
              emu->dirs[i].overflowed, g_queue_get_length (&emu->dirs[i].frames),
              (now_us () - emu->started) / 1000);
    fflush (stdout);
    return;
  }
  if (sscanf (line, "%2s %7s %lf", dir_name, what, &value) != 3)
    goto bad;
  for (guint i = 0; i < 2; i++) {
    Direction *dir = &emu->dirs[i];

    if (!g_str_equal (dir_name, dir->name))
      continue;
    if (g_str_equal (what, "rate"))
      dir->rate_bps = (gint64) (value * 1000);
    else if (g_str_equal (what, "delay"))
      dir->delay_us = (gint64) (value * 1000);
    else if (g_str_equal (what, "loss"))
      dir->loss = value / 100;
    else
      goto bad;
    printf ("link-emulator: %s %s %g\n", dir_name, what, value);
    fflush (stdout);
    return;
  }
bad:
  fprintf (stderr, "link-emulator: not understood: %s", line);
}

/* Returns FALSE at the end of stdin. */
static gboolean
read_control (Emulator *emu)
{
  gchar line[128];

  if (fgets (line, sizeof line, stdin) == NULL)
    return FALSE;
  control_line (emu, line);
  return TRUE;
}

static gboolean
on_signal (gpointer data)
{
  ((Emulator *) data)->quit = TRUE;
  return G_SOURCE_CONTINUE;
}

static gboolean
on_usr1 (gpointer data)
{
  Emulator *emu = data;

  for (guint i = 0; emu->on_usr1 != NULL && emu->on_usr1[i] != NULL; i++)
    control_line (emu, emu->on_usr1[i]);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_usr2 (gpointer data)
{
  control_line (data, "stats");
  return G_SOURCE_CONTINUE;
}

static gint
timeout_ms (Emulator *emu, gint64 now)
{
  gint64 next = G_MAXINT64;

  for (guint i = 0; i < 2; i++) {
    Frame *frame = g_queue_peek_head (&emu->dirs[i].frames);

    if (frame != NULL)
      next = MIN (next, frame->deliver);
  }
  if (next == G_MAXINT64)
    return 200;
  return next <= now ? 0 : (gint) MIN ((next - now + 999) / 1000, 200);
}

static void
run (Emulator *emu, gboolean control)
{
  GMainContext *context = g_main_context_default ();

  while (!emu->quit) {
    struct pollfd fds[3] = {
      { emu->dirs[0].in_fd, POLLIN, 0 },
      { emu->dirs[1].in_fd, POLLIN, 0 },
      { control ? 0 : -1, POLLIN, 0 },
    };
    gint64 now = now_us ();

    if (poll (fds, 3, timeout_ms (emu, now)) < 0 && errno != EINTR)
      break;
    for (guint i = 0; i < 2; i++) {
      if (fds[i].revents & POLLIN)
        read_frames (emu, &emu->dirs[i]);
    }
    if ((fds[2].revents & (POLLIN | POLLHUP)) && !read_control (emu))
      control = FALSE;
    now = now_us ();
    for (guint i = 0; i < 2; i++)
      deliver_due (&emu->dirs[i], now);
    g_main_context_iteration (context, FALSE);
  }
}

int
main (int argc, char **argv)
{
  Emulator emu = { 0 };
  gint ab_rate = 0, ba_rate = 0, ab_delay = 0, ba_delay = 0, queue_ms = 300, seed = 0;
  gdouble ab_loss = 0, ba_loss = 0;
  gboolean control = FALSE;
  GOptionEntry entries[] = {
    { "ab-rate", 0, 0, G_OPTION_ARG_INT, &ab_rate, "Rate from A to B (0: unlimited)", "KBIT/S" },
    { "ba-rate", 0, 0, G_OPTION_ARG_INT, &ba_rate, "Rate from B to A (0: unlimited)", "KBIT/S" },
    { "ab-delay", 0, 0, G_OPTION_ARG_INT, &ab_delay, "One-way delay from A to B", "MS" },
    { "ba-delay", 0, 0, G_OPTION_ARG_INT, &ba_delay, "One-way delay from B to A", "MS" },
    { "ab-loss", 0, 0, G_OPTION_ARG_DOUBLE, &ab_loss, "Random loss from A to B", "PERCENT" },
    { "ba-loss", 0, 0, G_OPTION_ARG_DOUBLE, &ba_loss, "Random loss from B to A", "PERCENT" },
    { "queue", 0, 0, G_OPTION_ARG_INT, &queue_ms,
      "Drop-tail queue of a rate-limited direction, in sending time (default 300)", "MS" },
    { "seed", 0, 0, G_OPTION_ARG_INT, &seed, "Seed of the loss (default: random)", "N" },
    { "control", 0, 0, G_OPTION_ARG_NONE, &control,
      "Read changes from stdin: 'ab rate 800', 'ba delay 20', 'ab loss 5', 'stats'", NULL },
    { "on-usr1", 0, 0, G_OPTION_ARG_STRING_ARRAY, &emu.on_usr1,
      "A change (as --control reads them) to make on SIGUSR1; SIGUSR2 prints the stats",
      "CHANGE" },
    { NULL }
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("IFACE_A IFACE_B");
  g_autoptr (GError) error = NULL;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error) || argc != 3 || ab_rate < 0 ||
      ba_rate < 0 || ab_delay < 0 || ba_delay < 0 || ab_loss < 0 || ab_loss > 100 ||
      ba_loss < 0 || ba_loss > 100 || queue_ms < 1) {
    fprintf (stderr, "icecam-link-emulator: %s\n",
             error ? error->message : "two interfaces and values in range, see --help");
    return 2;
  }
  emu.rand = seed ? g_rand_new_with_seed ((guint32) seed) : g_rand_new ();
  for (guint i = 0; i < 2; i++) {
    emu.dirs[i].in_fd = open_interface (argv[1 + i], &error);
    if (emu.dirs[i].in_fd < 0) {
      fprintf (stderr, "icecam-link-emulator: %s\n", error->message);
      return 1;
    }
    emu.dirs[i].queue_us = (gint64) queue_ms * 1000;
  }
  emu.dirs[0].name = "ab";
  emu.dirs[0].out_fd = emu.dirs[1].in_fd;
  emu.dirs[0].rate_bps = (gint64) ab_rate * 1000;
  emu.dirs[0].delay_us = (gint64) ab_delay * 1000;
  emu.dirs[0].loss = ab_loss / 100;
  emu.dirs[1].name = "ba";
  emu.dirs[1].out_fd = emu.dirs[0].in_fd;
  emu.dirs[1].rate_bps = (gint64) ba_rate * 1000;
  emu.dirs[1].delay_us = (gint64) ba_delay * 1000;
  emu.dirs[1].loss = ba_loss / 100;
  g_unix_signal_add (SIGTERM, on_signal, &emu);
  g_unix_signal_add (SIGINT, on_signal, &emu);
  g_unix_signal_add (SIGUSR1, on_usr1, &emu);
  g_unix_signal_add (SIGUSR2, on_usr2, &emu);
  emu.started = now_us ();
  printf ("link-emulator: %s <-> %s running\n", argv[1], argv[2]);
  fflush (stdout);
  run (&emu, control);
  control_line (&emu, "stats");
  g_rand_free (emu.rand);
  g_strfreev (emu.on_usr1);
  return 0;
}
