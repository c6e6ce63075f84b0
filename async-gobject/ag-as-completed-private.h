/* ag-as-completed-private.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include "ag-as-completed.h"
#include "ag-caller.h"

G_BEGIN_DECLS

AgAsCompleted *ag_as_completed_new (AgCaller        *caller,
                                    AgPending      **items,
                                    guint            n_items,
                                    AgProducerFunc   producer,
                                    gpointer         user_data,
                                    GDestroyNotify   destroy,
                                    guint            max_concurrent,
                                    gboolean         cancel_unfinished);

G_END_DECLS
