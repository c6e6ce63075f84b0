/* ag-init.c: one-time library initialization
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <stdlib.h>

#include <glib/gi18n-lib.h>

#include "ag-init-private.h"

/*
 * ag_init_i18n:
 *
 * Binds the library's gettext domain (%GETTEXT_PACKAGE) to %LOCALEDIR, with
 * UTF-8 output, so that `_()` in library code finds our translations.
 *
 * Call it before translating a string, e.g. from a class_init. The first
 * call does the work; later calls, from any thread, return at once.
 */
void
ag_init_i18n (void)
{
  static gsize initialized = 0;

  if (g_once_init_enter (&initialized))
    {
      bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
      bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
      g_once_init_leave (&initialized, 1);
    }
}

static void
report_leaks_at_exit (void)
{
  g_autoptr(GString) report = g_string_new (NULL);
  guint n_pendings = ag_pending_report_leaks (report);
  guint n_callers = ag_caller_report_leaks (report);

  if (n_pendings == 0 && n_callers == 0)
    {
      g_printerr ("async-gobject: no leaks: every pending completed, every "
                  "caller stopped\n");
      return;
    }

  g_printerr ("async-gobject: %u pendings never completed, %u callers never "
              "stopped\n%s", n_pendings, n_callers, report->str);
}

/*
 * ag_debug_flags:
 *
 * Parses the `AG_DEBUG` environment variable on the first call: a list of
 * flags separated by commas, colons or spaces, or "all" ("help" lists
 * them). `leaks` reports, at exit, the pendings that never completed and
 * the callers that were never stopped.
 */
guint
ag_debug_flags (void)
{
  static gsize flags = 0;

  if (g_once_init_enter (&flags))
    {
      static const GDebugKey keys[] = {
        { "leaks", AG_DEBUG_LEAKS },
      };
      guint parsed = g_parse_debug_string (g_getenv ("AG_DEBUG"), keys,
                                           G_N_ELEMENTS (keys));

      if (parsed & AG_DEBUG_LEAKS)
        atexit (report_leaks_at_exit);

      /* Never 0 once initialized. */
      g_once_init_leave (&flags, parsed | (1u << 31));
    }

  return flags & ~(1u << 31);
}
