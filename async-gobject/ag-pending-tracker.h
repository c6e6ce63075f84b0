/* ag-pending-tracker.h: tracks the pendings made while it is current
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(AG_INSIDE) && !defined(AG_COMPILATION)
# error "Only <async-gobject/async-gobject.h> can be included directly."
#endif

#include <gio/gio.h>

#include "ag-pending.h"
#include "ag-types.h"
#include "ag-version-macros.h"

G_BEGIN_DECLS

/**
 * AgPendingTrackerState:
 * @AG_PENDING_TRACKER_STATE_IDLE: not started
 * @AG_PENDING_TRACKER_STATE_ACTIVE: tracking new pendings
 * @AG_PENDING_TRACKER_STATE_EXITING: waiting for the tracked pendings to be
 *   done
 * @AG_PENDING_TRACKER_STATE_STOPPED: done with
 *
 * The states of a [class@AsyncGObject.PendingTracker].
 *
 * Since: 0.1
 */
typedef enum
{
  AG_PENDING_TRACKER_STATE_IDLE,
  AG_PENDING_TRACKER_STATE_ACTIVE,
  AG_PENDING_TRACKER_STATE_EXITING,
  AG_PENDING_TRACKER_STATE_STOPPED,
} AgPendingTrackerState;

#define AG_TYPE_PENDING_TRACKER (ag_pending_tracker_get_type ())

AG_AVAILABLE_IN_ALL
G_DECLARE_DERIVABLE_TYPE (AgPendingTracker, ag_pending_tracker, AG, PENDING_TRACKER, GObject)

/**
 * AgPendingTrackerClass:
 * @parent_class: the parent class
 * @accepts: whether the tracker takes new pendings now; by default, while
 *   %AG_PENDING_TRACKER_STATE_ACTIVE
 * @pending_added: a pending was tracked; called with no lock held
 * @pending_done: a tracked pending is done (it has left the tracker
 *   already); called in the thread that completed it, with no lock held
 * @emptied: the last tracked pending was done or removed
 *
 * The class of [class@AsyncGObject.PendingTracker]. Each subclass has its
 * own current tracker per thread.
 *
 * Since: 0.1
 */
struct _AgPendingTrackerClass
{
  GObjectClass parent_class;

  gboolean (*accepts)      (AgPendingTracker *self);
  void     (*pending_added) (AgPendingTracker *self,
                             AgPending        *pending);
  void     (*pending_done) (AgPendingTracker *self,
                            AgPending        *pending);
  void     (*emptied)      (AgPendingTracker *self);

  /*< private >*/
  gpointer _reserved[7];
};

AG_AVAILABLE_IN_ALL
AgPendingTracker      *ag_pending_tracker_get_current    (GType              type);
AG_AVAILABLE_IN_ALL
AgPendingTrackerState  ag_pending_tracker_get_state      (AgPendingTracker  *self);
AG_AVAILABLE_IN_ALL
void                   ag_pending_tracker_set_state      (AgPendingTracker  *self,
                                                          AgPendingTrackerState state);
AG_AVAILABLE_IN_ALL
gboolean               ag_pending_tracker_track          (AgPendingTracker  *self,
                                                          AgPending         *pending,
                                                          GError           **error);
AG_AVAILABLE_IN_ALL
gboolean               ag_pending_tracker_remove         (AgPendingTracker  *self,
                                                          AgPending         *pending,
                                                          GError           **error);
AG_AVAILABLE_IN_ALL
gboolean               ag_pending_tracker_discard        (AgPendingTracker  *self,
                                                          AgPending         *pending);
AG_AVAILABLE_IN_ALL
gboolean               ag_pending_tracker_contains       (AgPendingTracker  *self,
                                                          AgPending         *pending);
AG_AVAILABLE_IN_ALL
GPtrArray             *ag_pending_tracker_dup_pendings   (AgPendingTracker  *self);
AG_AVAILABLE_IN_ALL
guint                  ag_pending_tracker_get_n_pendings (AgPendingTracker  *self);
AG_AVAILABLE_IN_ALL
guint                  ag_pending_tracker_push_current   (AgPendingTracker  *self);
AG_AVAILABLE_IN_ALL
void                   ag_pending_tracker_pop_current    (guint              token);

G_END_DECLS
