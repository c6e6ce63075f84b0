/* ag-error.h: the AG_ERROR error domain
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(AG_INSIDE) && !defined(AG_COMPILATION)
# error "Only <async-gobject/async-gobject.h> can be included directly."
#endif

#include <glib.h>

#include "ag-version-macros.h"

G_BEGIN_DECLS

/**
 * AG_ERROR:
 *
 * The error domain of async-gobject. Errors in this domain are from the
 * [error@AsyncGObject.Error] enumeration.
 *
 * Cancellation and timeouts are not in this domain: they are reported as
 * %G_IO_ERROR_CANCELLED and %G_IO_ERROR_TIMED_OUT, as everywhere in GIO.
 *
 * Since: 0.1
 */
#define AG_ERROR (ag_error_quark ())

/**
 * AgError:
 * @AG_ERROR_INVALID_STATE: the operation is not valid in the current state,
 *   for instance the outcome of a pending was read before it was done, or a
 *   group was entered twice
 * @AG_ERROR_WOULD_DEADLOCK: waiting would block forever, because the only
 *   thread that could complete what is waited for is the one that waits
 * @AG_ERROR_CLOSED: the caller that was to run the work stopped before it
 *   ran
 * @AG_ERROR_FAILED: the work failed; a language binding uses this for one
 *   of its native exceptions, which it keeps and raises again as itself
 * @AG_ERROR_TYPE_MISMATCH: a typed getter was used on a value of another
 *   type
 *
 * Error codes of the %AG_ERROR domain.
 *
 * Since: 0.1
 */
typedef enum
{
  AG_ERROR_INVALID_STATE,
  AG_ERROR_WOULD_DEADLOCK,
  AG_ERROR_CLOSED,
  AG_ERROR_FAILED,
  AG_ERROR_TYPE_MISMATCH,
} AgError;

AG_AVAILABLE_IN_ALL
GQuark ag_error_quark (void);

G_END_DECLS
