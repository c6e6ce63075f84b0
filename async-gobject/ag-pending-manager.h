/* ag-pending-manager.h: a tracker activated and deactivated by hand
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(AG_INSIDE) && !defined(AG_COMPILATION)
# error "Only <async-gobject/async-gobject.h> can be included directly."
#endif

#include "ag-pending-tracker.h"

G_BEGIN_DECLS

#define AG_TYPE_PENDING_MANAGER (ag_pending_manager_get_type ())

AG_AVAILABLE_IN_ALL
G_DECLARE_DERIVABLE_TYPE (AgPendingManager, ag_pending_manager, AG, PENDING_MANAGER, AgPendingTracker)

/**
 * AgPendingManagerClass:
 * @parent_class: the parent class
 *
 * The class of [class@AsyncGObject.PendingManager]. Subclass it to have a
 * current manager of your own in each thread.
 *
 * Since: 0.1
 */
struct _AgPendingManagerClass
{
  AgPendingTrackerClass parent_class;

  /*< private >*/
  gpointer _reserved[8];
};

AG_AVAILABLE_IN_ALL
AgPendingManager *ag_pending_manager_new            (void);
AG_AVAILABLE_IN_ALL
gboolean          ag_pending_manager_activate       (AgPendingManager  *self,
                                                     GError           **error);
AG_AVAILABLE_IN_ALL
AgPending        *ag_pending_manager_deactivate     (AgPendingManager  *self,
                                                     gboolean           cancel_pending);
AG_AVAILABLE_IN_ALL
guint             ag_pending_manager_start_tracking (AgPendingManager  *self,
                                                     GError           **error);
AG_AVAILABLE_IN_ALL
void              ag_pending_manager_stop_tracking  (AgPendingManager  *self,
                                                     guint              token);

G_END_DECLS
