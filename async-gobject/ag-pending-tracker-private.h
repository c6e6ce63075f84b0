/* ag-pending-tracker-private.h: the set of current trackers of a thread
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include "ag-pending-tracker.h"

G_BEGIN_DECLS

/* An immutable, reference-counted snapshot of the trackers current in a
 * thread, one per tracker class. */
typedef struct _AgTrackerSet AgTrackerSet;

AgTrackerSet *ag_tracker_set_dup_current   (void);
AgTrackerSet *ag_tracker_set_ref           (AgTrackerSet *set);
void          ag_tracker_set_unref         (AgTrackerSet *set);

/* Installs @set (may be NULL) as this thread's current set, and returns the
 * one it replaces, to give back to ag_tracker_set_restore(). */
AgTrackerSet *ag_tracker_set_install       (AgTrackerSet *set);
void          ag_tracker_set_restore       (AgTrackerSet *previous);

/* Registers @pending with the trackers current in this thread that accept
 * it; with @managers_only, only with AgPendingManager and its subclasses. */
void          ag_pending_tracker_track_new (AgPending    *pending,
                                            gboolean      managers_only);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (AgTrackerSet, ag_tracker_set_unref)

G_END_DECLS
