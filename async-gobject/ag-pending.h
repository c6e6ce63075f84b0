/* ag-pending.h: a thread-safe result with cancellation
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

/**
 * AgPendingState:
 * @AG_PENDING_STATE_RUNNING: not done and not cancelled
 * @AG_PENDING_STATE_CANCELLING: cancellation was requested, the outcome is
 *   not set yet
 * @AG_PENDING_STATE_SUCCEEDED: done with a value (possibly empty)
 * @AG_PENDING_STATE_FAILED: done with an error
 * @AG_PENDING_STATE_CANCELLED: done after a cancellation request, or with
 *   %G_IO_ERROR_CANCELLED
 *
 * The states of a [class@AsyncGObject.Pending].
 *
 * A pending starts %AG_PENDING_STATE_RUNNING, may go to
 * %AG_PENDING_STATE_CANCELLING, and ends in exactly one of the three done
 * states.
 *
 * Since: 0.1
 */
typedef enum
{
  AG_PENDING_STATE_RUNNING,
  AG_PENDING_STATE_CANCELLING,
  AG_PENDING_STATE_SUCCEEDED,
  AG_PENDING_STATE_FAILED,
  AG_PENDING_STATE_CANCELLED,
} AgPendingState;

/**
 * AgPendingFlags:
 * @AG_PENDING_FLAGS_NONE: no flags
 * @AG_PENDING_FLAGS_NO_TRACKING: do not register the new pending with the
 *   trackers (such as a pending group) current in the creating thread
 *
 * Flags given to [ctor@AsyncGObject.Pending.new_full].
 *
 * Since: 0.1
 */
typedef enum /*< flags >*/
{
  AG_PENDING_FLAGS_NONE        = 0,
  AG_PENDING_FLAGS_NO_TRACKING = 1 << 0,
} AgPendingFlags;

/**
 * AgDoneFunc:
 * @pending: the pending that is done
 * @user_data: the data given with the callback
 *
 * Called once when @pending is done.
 *
 * Since: 0.1
 */
typedef void (*AgDoneFunc) (AgPending *pending,
                            gpointer   user_data);

/**
 * AgCancellerFunc:
 * @pending: the pending being cancelled
 * @message: (nullable): the message given to this cancellation request
 * @user_data: the data given with the canceller
 *
 * Called on each [method@AsyncGObject.Pending.cancel] while @pending is not
 * done, in the thread that cancels, with no lock held. It stops the work
 * behind @pending, which then sets the outcome (at once or later).
 *
 * Since: 0.1
 */
typedef void (*AgCancellerFunc) (AgPending  *pending,
                                 const char *message,
                                 gpointer    user_data);

#define AG_TYPE_PENDING (ag_pending_get_type ())

AG_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (AgPending, ag_pending, AG, PENDING, GObject)

AG_AVAILABLE_IN_ALL
AgPending      *ag_pending_new                  (void);
AG_AVAILABLE_IN_ALL
AgPending      *ag_pending_new_full             (AgPendingFlags    flags,
                                                 const char       *name);
AG_AVAILABLE_IN_ALL
const char     *ag_pending_get_name             (AgPending        *self);
AG_AVAILABLE_IN_ALL
AgPendingFlags  ag_pending_get_flags            (AgPending        *self);
AG_AVAILABLE_IN_ALL
GMainContext   *ag_pending_get_context          (AgPending        *self);

AG_AVAILABLE_IN_ALL
gboolean        ag_pending_set_value            (AgPending        *self,
                                                 const GValue     *value);
AG_AVAILABLE_IN_ALL
gboolean        ag_pending_set_error            (AgPending        *self,
                                                 const GError     *error);
AG_AVAILABLE_IN_ALL
gboolean        ag_pending_take_error           (AgPending        *self,
                                                 GError           *error);
AG_AVAILABLE_IN_ALL
gboolean        ag_pending_set_int              (AgPending        *self,
                                                 gint64            value);
AG_AVAILABLE_IN_ALL
gboolean        ag_pending_set_boolean          (AgPending        *self,
                                                 gboolean          value);
AG_AVAILABLE_IN_ALL
gboolean        ag_pending_set_double           (AgPending        *self,
                                                 double            value);
AG_AVAILABLE_IN_ALL
gboolean        ag_pending_set_string           (AgPending        *self,
                                                 const char       *value);
AG_AVAILABLE_IN_ALL
gboolean        ag_pending_set_object           (AgPending        *self,
                                                 gpointer          object);
AG_AVAILABLE_IN_ALL
gboolean        ag_pending_set_pointer          (AgPending        *self,
                                                 gpointer          pointer,
                                                 GDestroyNotify    destroy);

AG_AVAILABLE_IN_ALL
gboolean        ag_pending_get_value            (AgPending        *self,
                                                 GValue           *value,
                                                 GError          **error);
AG_AVAILABLE_IN_ALL
gint64          ag_pending_get_int              (AgPending        *self,
                                                 GError          **error);
AG_AVAILABLE_IN_ALL
gboolean        ag_pending_get_boolean          (AgPending        *self,
                                                 GError          **error);
AG_AVAILABLE_IN_ALL
double          ag_pending_get_double           (AgPending        *self,
                                                 GError          **error);
AG_AVAILABLE_IN_ALL
char           *ag_pending_get_string           (AgPending        *self,
                                                 GError          **error);
AG_AVAILABLE_IN_ALL
gpointer        ag_pending_get_object           (AgPending        *self,
                                                 GError          **error);
AG_AVAILABLE_IN_ALL
gpointer        ag_pending_get_pointer          (AgPending        *self,
                                                 GError          **error);
AG_AVAILABLE_IN_ALL
GError         *ag_pending_dup_error            (AgPending        *self);

AG_AVAILABLE_IN_ALL
gboolean        ag_pending_cancel               (AgPending        *self,
                                                 const char       *message);
AG_AVAILABLE_IN_ALL
gboolean        ag_pending_is_done              (AgPending        *self);
AG_AVAILABLE_IN_ALL
gboolean        ag_pending_is_cancelled         (AgPending        *self);
AG_AVAILABLE_IN_ALL
AgPendingState  ag_pending_get_state            (AgPending        *self);
AG_AVAILABLE_IN_ALL
char           *ag_pending_dup_cancel_message   (AgPending        *self);
AG_AVAILABLE_IN_ALL
void            ag_pending_set_canceller        (AgPending        *self,
                                                 AgCancellerFunc   canceller,
                                                 gpointer          user_data,
                                                 GDestroyNotify    destroy);

AG_AVAILABLE_IN_ALL
void            ag_pending_add_done_callback    (AgPending        *self,
                                                 AgDoneFunc        callback,
                                                 gpointer          user_data,
                                                 GDestroyNotify    destroy);
AG_AVAILABLE_IN_ALL
guint           ag_pending_remove_done_callback (AgPending        *self,
                                                 AgDoneFunc        callback,
                                                 gpointer          user_data);

AG_AVAILABLE_IN_ALL
gboolean        ag_pending_wait_sync            (AgPending        *self,
                                                 double            timeout,
                                                 GError          **error);
AG_AVAILABLE_IN_ALL
void            ag_pending_wait_async           (AgPending        *self,
                                                 double            timeout,
                                                 gboolean          protect,
                                                 GCancellable     *cancellable,
                                                 GAsyncReadyCallback callback,
                                                 gpointer          user_data);
AG_AVAILABLE_IN_ALL
gboolean        ag_pending_wait_finish          (AgPending        *self,
                                                 GAsyncResult     *result,
                                                 GError          **error);
AG_AVAILABLE_IN_ALL
GCancellable   *ag_pending_get_cancellable      (AgPending        *self);

AG_AVAILABLE_IN_ALL
void            ag_pending_set_metadata         (AgPending        *self,
                                                 const char       *key,
                                                 const GValue     *value);
AG_AVAILABLE_IN_ALL
const GValue   *ag_pending_get_metadata         (AgPending        *self,
                                                 const char       *key);
AG_AVAILABLE_IN_ALL
gboolean        ag_pending_dup_metadata         (AgPending        *self,
                                                 const char       *key,
                                                 GValue           *value);
AG_AVAILABLE_IN_ALL
char          **ag_pending_dup_metadata_keys    (AgPending        *self);
AG_AVAILABLE_IN_ALL
char           *ag_pending_to_string            (AgPending        *self);

G_END_DECLS
