/* ag-error.c: the AG_ERROR error domain
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "ag-error.h"

/**
 * ag_error_quark:
 *
 * Returns the quark of the %AG_ERROR error domain, `ag-error-quark`.
 *
 * Can be called from any thread.
 *
 * Returns: the error domain quark
 *
 * Since: 0.1
 */
GQuark
ag_error_quark (void)
{
  /* Not G_DEFINE_QUARK (), whose unsynchronised first write
   * ThreadSanitizer reports when two threads raise the first AG_ERROR at
   * once. */
  static gsize quark = 0;

  if (g_once_init_enter (&quark))
    g_once_init_leave (&quark, g_quark_from_static_string ("ag-error-quark"));

  return (GQuark) quark;
}
