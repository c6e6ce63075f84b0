/* ag-init.c: one-time library initialization
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

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
