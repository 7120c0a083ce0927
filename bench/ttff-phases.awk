# SPDX-License-Identifier: LGPL-2.1-or-later
# Reads the stderr+stdout of one icecam-view run with G_MESSAGES_DEBUG=icecam and
# GST_DEBUG=icecamsrc:4,basesrc:4,videodecoder:4,GST_STATES:4 and prints the time of each phase in ms since
# the viewer's main(): GStreamer's debug clock starts in gst_init(), which icecam-view calls
# first thing; GLib's debug lines carry wall-clock milliseconds, placed on the same clock by the
# one event both log, the selected pair (icecamsrc's INFO and the ice-session's debug line).
#
# Output: connect1 ready1 connect ready offer gathered pair dtls rtp decoded ttff playing
# (connect1/ready1: a first signalling session that icecam-view threw away when its pipeline
# restarted icecamsrc, as it did before commit eaf0867; -1 if absent. playing: the fakesink,
# last of the decoder chain, reached PLAYING; in a live pipeline a sink commits that state on
# its first buffer, so this is the first frame, not when the decoder's plugins were loaded.)

function wall_ms(s,  t) { split(s, t, ":"); return (t[1] * 3600 + t[2] * 60 + t[3]) * 1000 }
function gst_ms(s,  t) { split(s, t, ":"); return (t[1] * 3600 + t[2] * 60 + t[3]) * 1000 }

/icecam-DEBUG: .*signalling .*: idle -> connecting/ { n_connect++; connect[n_connect] = wall_ms($3) }
/icecam-DEBUG: .*signalling .*: connecting -> ready/ { ready[n_connect] = wall_ms($3) }
/icecam-DEBUG: .*viewer .*: waiting -> checking/ { offer = wall_ms($3) }
/icecam-DEBUG: .*ice-session .*: gathering done/ { gathered = wall_ms($3) }
/icecam-DEBUG: .*ice-session .*: selected / { pair_wall = wall_ms($3) }
/icecam-DEBUG: .*dtls-srtp .*: connecting -> connected/ { dtls = wall_ms($3) }
/icecamsrc .*on_endpoint_pair_selected/ { pair = gst_ms($1) }
/basesrc .*marking pending DISCONT/ && !rtp { rtp = gst_ms($1) }
/videodecoder .*First buffer since flush/ && !decoded { decoded = gst_ms($1) }
/GST_STATES .*<fakesink0> completed state change to PLAYING/ && !playing { playing = gst_ms($1) }
/^icecam-view: result=/ { for (i = 1; i <= NF; i++) if ($i ~ /^ttff_ms=/) ttff = substr($i, 9) }

END {
  if (!pair || !pair_wall || !decoded) { print "incomplete"; exit 1 }
  off = pair - pair_wall
  c1 = n_connect > 1 ? connect[1] + off : -1
  r1 = n_connect > 1 && (1 in ready) ? ready[1] + off : -1
  printf "%.1f %.1f %.1f %.1f %.1f %.1f %.1f %.1f %.1f %.1f %s %.1f\n", c1, r1,
         connect[n_connect] + off, ready[n_connect] + off, offer + off, gathered + off, pair,
         dtls ? dtls + off : -1, rtp, decoded, ttff, playing ? playing : -1
}
