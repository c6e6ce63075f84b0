/* ag-caller-private.h: what the rest of the library may do with a caller
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include "ag-caller.h"

G_BEGIN_DECLS

/* Whether this thread is the one that runs the jobs of @self right now. */
gboolean ag_caller_runs_in_this_thread (AgCaller *self);

/* The largest number of jobs run by one dispatch of @self so far. */
guint    ag_caller_get_max_dispatched  (AgCaller *self);

G_END_DECLS
