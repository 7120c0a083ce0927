/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What every libFuzzer target of icecam shares: the entry points and the logging setup. */

#pragma once

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

G_BEGIN_DECLS

/* libFuzzer calls these; declared here because the project builds with -Wmissing-prototypes. */
int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/**
 * icecam_fuzz_init:
 *
 * Installs a log writer that drops debug, info, message and warning output (a fuzzer runs
 * millions of inputs, and hostile input is expected to be logged) and aborts on a critical,
 * so that a g_return_if_fail() tripped by input is reported as a crash with its input.
 */
void icecam_fuzz_init (void);

/**
 * icecam_fuzz_fail:
 *
 * Reports a broken property of the code under test (e.g. a round trip that changed a value)
 * and aborts, which libFuzzer records as a crash with the input that caused it.
 */
G_NORETURN void icecam_fuzz_fail (const gchar *format, ...) G_GNUC_PRINTF (1, 2);

G_END_DECLS
