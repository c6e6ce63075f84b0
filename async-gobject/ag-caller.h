/* ag-caller.h: runs jobs on a thread's main context
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
 * AgCallerState:
 * @AG_CALLER_STATE_RUNNING: the caller accepts and runs jobs
 * @AG_CALLER_STATE_STOPPING: [method@AsyncGObject.Caller.stop] was called;
 *   its jobs are being cancelled
 * @AG_CALLER_STATE_STOPPED: the caller has released its source and thread
 *
 * The states of a [class@AsyncGObject.Caller].
 *
 * Since: 0.1
 */
typedef enum
{
  AG_CALLER_STATE_RUNNING,
  AG_CALLER_STATE_STOPPING,
  AG_CALLER_STATE_STOPPED,
} AgCallerState;

/**
 * AgReturnWhen:
 * @AG_RETURN_WHEN_FIRST_COMPLETED: when any item is done
 * @AG_RETURN_WHEN_FIRST_EXCEPTION: when any item fails or is cancelled, or
 *   when all are done
 * @AG_RETURN_WHEN_ALL_COMPLETED: when all items are done
 *
 * When [method@AsyncGObject.Caller.wait_async] finishes, as with Python's
 * `asyncio.wait()`.
 *
 * Since: 0.1
 */
typedef enum
{
  AG_RETURN_WHEN_FIRST_COMPLETED,
  AG_RETURN_WHEN_FIRST_EXCEPTION,
  AG_RETURN_WHEN_ALL_COMPLETED,
} AgReturnWhen;

/**
 * AgJobFunc:
 * @pending: the pending of this job
 * @user_data: the data given with the job
 *
 * A job run by a [class@AsyncGObject.Caller].
 *
 * A job returns %NULL when it has set the outcome of @pending (an outcome
 * it did not set resolves empty); another pending to follow, whose outcome
 * becomes that of @pending (the C form of `await`); or a new reference to
 * @pending itself, to say that it will set the outcome later, from a GIO
 * callback say.
 *
 * Returns: (transfer full) (nullable): %NULL, a pending to follow, or
 *   @pending
 *
 * Since: 0.1
 */
typedef AgPending *(*AgJobFunc) (AgPending *pending,
                                 gpointer   user_data);

/**
 * AgDirectFunc:
 * @user_data: the data given with the call
 *
 * A light call run by [method@AsyncGObject.Caller.call_direct].
 *
 * Since: 0.1
 */
typedef void (*AgDirectFunc) (gpointer user_data);

/**
 * AgProducerFunc:
 * @user_data: the data given with the producer
 *
 * Gives the next item to [method@AsyncGObject.Caller.as_completed_full].
 * It is called in the thread that calls
 * [method@AsyncGObject.AsCompleted.next_async], only while fewer than
 * `max_concurrent` items are in flight.
 *
 * Returns: (transfer full) (nullable): the next pending, or %NULL when
 *   there are no more
 *
 * Since: 0.1
 */
typedef AgPending *(*AgProducerFunc) (gpointer user_data);

#define AG_TYPE_CALLER (ag_caller_get_type ())

AG_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (AgCaller, ag_caller, AG, CALLER, GObject)

AG_AVAILABLE_IN_ALL
AgCaller       *ag_caller_get_current          (void);
AG_AVAILABLE_IN_ALL
AgCaller       *ag_caller_get_main             (void);
AG_AVAILABLE_IN_ALL
AgCaller       *ag_caller_new_thread           (const char      *name);
AG_AVAILABLE_IN_ALL
AgCaller       *ag_caller_new_guest            (GMainContext    *context,
                                                const char      *name);
AG_AVAILABLE_IN_ALL
AgCaller       *ag_caller_lookup               (guint            id);
AG_AVAILABLE_IN_ALL
GPtrArray      *ag_caller_list_all             (gboolean         running_only);
AG_AVAILABLE_IN_ALL
AgPending      *ag_caller_get_current_pending  (void);

AG_AVAILABLE_IN_ALL
guint           ag_caller_get_id               (AgCaller        *self);
AG_AVAILABLE_IN_ALL
const char     *ag_caller_get_name             (AgCaller        *self);
AG_AVAILABLE_IN_ALL
AgCallerState   ag_caller_get_state            (AgCaller        *self);
AG_AVAILABLE_IN_ALL
gboolean        ag_caller_is_running           (AgCaller        *self);
AG_AVAILABLE_IN_ALL
GMainContext   *ag_caller_get_context          (AgCaller        *self);
AG_AVAILABLE_IN_ALL
AgPending      *ag_caller_get_stopped          (AgCaller        *self);
AG_AVAILABLE_IN_ALL
AgCaller       *ag_caller_dup_parent           (AgCaller        *self);
AG_AVAILABLE_IN_ALL
GPtrArray      *ag_caller_dup_children         (AgCaller        *self);
AG_AVAILABLE_IN_ALL
gboolean        ag_caller_get_protected        (AgCaller        *self);
AG_AVAILABLE_IN_ALL
void            ag_caller_set_protected        (AgCaller        *self,
                                                gboolean         protected_);
AG_AVAILABLE_IN_ALL
guint           ag_caller_get_max_idle_workers (AgCaller        *self);
AG_AVAILABLE_IN_ALL
void            ag_caller_set_max_idle_workers (AgCaller        *self,
                                                guint            value);
AG_AVAILABLE_IN_ALL
guint           ag_caller_get_max_workers      (AgCaller        *self);
AG_AVAILABLE_IN_ALL
void            ag_caller_set_max_workers      (AgCaller        *self,
                                                guint            value);
AG_AVAILABLE_IN_ALL
double          ag_caller_get_idle_worker_timeout (AgCaller     *self);
AG_AVAILABLE_IN_ALL
void            ag_caller_set_idle_worker_timeout (AgCaller     *self,
                                                   double        value);
AG_AVAILABLE_IN_ALL
guint           ag_caller_get_max_batch_size   (AgCaller        *self);
AG_AVAILABLE_IN_ALL
void            ag_caller_set_max_batch_size   (AgCaller        *self,
                                                guint            value);
AG_AVAILABLE_IN_ALL
double          ag_caller_get_max_batch_time   (AgCaller        *self);
AG_AVAILABLE_IN_ALL
void            ag_caller_set_max_batch_time   (AgCaller        *self,
                                                double           value);

AG_AVAILABLE_IN_ALL
AgPending      *ag_caller_call_soon            (AgCaller        *self,
                                                AgJobFunc        func,
                                                gpointer         user_data,
                                                GDestroyNotify   destroy);
AG_AVAILABLE_IN_ALL
AgPending      *ag_caller_call_later           (AgCaller        *self,
                                                double           delay,
                                                AgJobFunc        func,
                                                gpointer         user_data,
                                                GDestroyNotify   destroy);
AG_AVAILABLE_IN_ALL
void            ag_caller_call_direct          (AgCaller        *self,
                                                AgDirectFunc     func,
                                                gpointer         user_data,
                                                GDestroyNotify   destroy);
AG_AVAILABLE_IN_ALL
AgPending      *ag_caller_to_thread            (AgCaller        *self,
                                                AgJobFunc        func,
                                                gpointer         user_data,
                                                GDestroyNotify   destroy);
AG_AVAILABLE_IN_ALL
AgCaller       *ag_caller_get_child            (AgCaller        *self,
                                                const char      *name);
AG_AVAILABLE_IN_ALL
AgCaller       *ag_caller_dup_child            (AgCaller        *self,
                                                const char      *name);
AG_AVAILABLE_IN_ALL
AgPending      *ag_caller_queue_call           (AgCaller        *self,
                                                const char      *key,
                                                AgJobFunc        func,
                                                gpointer         user_data,
                                                GDestroyNotify   destroy);
AG_AVAILABLE_IN_ALL
AgPending      *ag_caller_queue_get            (AgCaller        *self,
                                                const char      *key);
AG_AVAILABLE_IN_ALL
void            ag_caller_queue_close          (AgCaller        *self,
                                                const char      *key);
AG_AVAILABLE_IN_ALL
void            ag_caller_stop                 (AgCaller        *self,
                                                gboolean         force);

AG_AVAILABLE_IN_ALL
void            ag_caller_wait_async           (AgCaller        *self,
                                                AgPending      **items,
                                                guint            n_items,
                                                double           timeout,
                                                AgReturnWhen     return_when,
                                                GCancellable    *cancellable,
                                                GAsyncReadyCallback callback,
                                                gpointer         user_data);
AG_AVAILABLE_IN_ALL
gboolean        ag_caller_wait_finish          (AgCaller        *self,
                                                GAsyncResult    *result,
                                                GPtrArray      **done,
                                                GPtrArray      **not_done,
                                                GError         **error);

AG_AVAILABLE_IN_ALL
AgAsCompleted  *ag_caller_as_completed         (AgCaller        *self,
                                                AgPending      **items,
                                                guint            n_items,
                                                gboolean         cancel_unfinished);
AG_AVAILABLE_IN_ALL
AgAsCompleted  *ag_caller_as_completed_full    (AgCaller        *self,
                                                AgProducerFunc   producer,
                                                gpointer         user_data,
                                                GDestroyNotify   destroy,
                                                guint            max_concurrent,
                                                gboolean         cancel_unfinished);

AG_AVAILABLE_IN_ALL
void            ag_pending_add_done_callback_on (AgPending      *self,
                                                 AgCaller       *caller,
                                                 AgDoneFunc      callback,
                                                 gpointer        user_data,
                                                 GDestroyNotify  destroy);

G_END_DECLS
