/* ag-as-completed.h: pendings in the order they complete
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(AG_INSIDE) && !defined(AG_COMPILATION)
# error "Only <async-gobject/async-gobject.h> can be included directly."
#endif

#include <gio/gio.h>

#include "ag-types.h"
#include "ag-version-macros.h"

G_BEGIN_DECLS

#define AG_TYPE_AS_COMPLETED (ag_as_completed_get_type ())

AG_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (AgAsCompleted, ag_as_completed, AG, AS_COMPLETED, GObject)

AG_AVAILABLE_IN_ALL
void            ag_as_completed_next_async     (AgAsCompleted       *self,
                                                GCancellable        *cancellable,
                                                GAsyncReadyCallback  callback,
                                                gpointer             user_data);
AG_AVAILABLE_IN_ALL
AgPending      *ag_as_completed_next_finish    (AgAsCompleted       *self,
                                                GAsyncResult        *result,
                                                GError             **error);
AG_AVAILABLE_IN_ALL
AgPending      *ag_as_completed_next_sync      (AgAsCompleted       *self,
                                                double               timeout,
                                                GError             **error);
AG_AVAILABLE_IN_ALL
void            ag_as_completed_close          (AgAsCompleted       *self);
AG_AVAILABLE_IN_ALL
guint           ag_as_completed_get_n_in_flight (AgAsCompleted      *self);

G_END_DECLS
