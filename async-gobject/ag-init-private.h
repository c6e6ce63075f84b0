/* ag-init-private.h: one-time library initialization
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

void ag_init_i18n (void);

typedef enum
{
  AG_DEBUG_LEAKS = 1 << 0,
} AgDebugFlags;

/* The flags of the AG_DEBUG environment variable, read once. */
guint ag_debug_flags (void);

/* Reports made at exit with AG_DEBUG=leaks, into @report, one line each;
 * return how many they found. */
guint ag_pending_report_leaks (GString *report);
guint ag_caller_report_leaks  (GString *report);

G_END_DECLS
