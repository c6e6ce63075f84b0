/* ag-caller-private.h: what the rest of the library may do with a caller
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include "ag-caller.h"
#include "ag-pending-private.h"

G_BEGIN_DECLS

/* Whether this thread is the one that runs the jobs of @self right now. */
gboolean ag_caller_runs_in_this_thread (AgCaller *self);

/* The largest number of jobs run by one dispatch of @self so far. */
guint    ag_caller_get_max_dispatched  (AgCaller *self);
/* Starts the thread that stops idle workers, once per process. */
void     ag_caller_reaper_ensure       (void);
gboolean ag_caller_reaper_sleeps        (void);
guint    ag_caller_reaper_get_looks    (void);

AgCaller *ag_caller_dup_for_context   (GMainContext   *context);

void      ag_caller_add_done_on       (AgPending      *pending,
                                       AgCaller       *caller,
                                       AgDoneFunc      callback,
                                       gpointer        user_data,
                                       GDestroyNotify  destroy,
                                       gpointer       *handle);
void      ag_caller_remove_done_on    (AgPending      *pending,
                                       gpointer        handle);

/* What a pending does with a done callback on a caller (an AgCallback with
 * on_caller set): once done, fire it (queue it on its caller); never done,
 * drop it. Either takes over the pending's reference to the node. */
void      ag_caller_done_on_fire      (AgPending      *pending,
                                       AgCallback     *node);
void      ag_caller_done_on_drop      (AgCallback     *node);

/* The canceller of a job's pending (see ag_pending_set_job_canceller()),
 * as an AgCancellerFunc and its destroy notify, on an AgJob. */
void      ag_caller_job_cancel        (AgPending      *pending,
                                       const char     *message,
                                       gpointer        job);
void      ag_caller_job_finished      (gpointer        job);

G_END_DECLS
