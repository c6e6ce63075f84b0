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
G_DEFINE_QUARK (ag-error-quark, ag_error)
