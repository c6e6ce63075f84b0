/* ag-pending-group.h: structured concurrency
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(AG_INSIDE) && !defined(AG_COMPILATION)
# error "Only <async-gobject/async-gobject.h> can be included directly."
#endif

#include "ag-caller.h"
#include "ag-pending-tracker.h"

G_BEGIN_DECLS

/**
 * AgPendingGroupMode:
 * @AG_PENDING_GROUP_MODE_IGNORE: a cancelled member changes nothing; the
 *   group exits quietly (0, the default)
 * @AG_PENDING_GROUP_MODE_CANCEL_RAISE: a cancelled member cancels the group;
 *   exit fails with %G_IO_ERROR_CANCELLED (1)
 * @AG_PENDING_GROUP_MODE_CANCEL_QUIET: a cancelled member cancels the group;
 *   exit succeeds (2)
 * @AG_PENDING_GROUP_MODE_IGNORE_RAISE: a cancelled member does not cancel
 *   the others; exit fails with %G_IO_ERROR_CANCELLED (3)
 *
 * What a cancelled member does to a [class@AsyncGObject.PendingGroup]. A
 * failed member always cancels the group, and exit fails with its error.
 *
 * Since: 0.1
 */
typedef enum
{
  AG_PENDING_GROUP_MODE_IGNORE,
  AG_PENDING_GROUP_MODE_CANCEL_RAISE,
  AG_PENDING_GROUP_MODE_CANCEL_QUIET,
  AG_PENDING_GROUP_MODE_IGNORE_RAISE,
} AgPendingGroupMode;

#define AG_TYPE_PENDING_GROUP (ag_pending_group_get_type ())

AG_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (AgPendingGroup, ag_pending_group, AG, PENDING_GROUP, AgPendingTracker)

AG_AVAILABLE_IN_ALL
AgPendingGroup     *ag_caller_create_pending_group (AgCaller            *self,
                                                    gboolean             shield,
                                                    AgPendingGroupMode   mode);
AG_AVAILABLE_IN_ALL
AgPendingGroup     *ag_pending_group_new           (gboolean             shield,
                                                    AgPendingGroupMode   mode);
AG_AVAILABLE_IN_ALL
gboolean            ag_pending_group_enter         (AgPendingGroup      *self,
                                                    GError             **error);
AG_AVAILABLE_IN_ALL
void                ag_pending_group_exit_async    (AgPendingGroup      *self,
                                                    GCancellable        *cancellable,
                                                    GAsyncReadyCallback  callback,
                                                    gpointer             user_data);
AG_AVAILABLE_IN_ALL
gboolean            ag_pending_group_exit_finish   (AgPendingGroup      *self,
                                                    GAsyncResult        *result,
                                                    GError             **error);
AG_AVAILABLE_IN_ALL
gboolean            ag_pending_group_exit_sync     (AgPendingGroup      *self,
                                                    GCancellable        *cancellable,
                                                    GError             **error);
AG_AVAILABLE_IN_ALL
void                ag_pending_group_cancel        (AgPendingGroup      *self,
                                                    const char          *message);
AG_AVAILABLE_IN_ALL
gboolean            ag_pending_group_is_cancelled  (AgPendingGroup      *self);
AG_AVAILABLE_IN_ALL
GPtrArray          *ag_pending_group_get_failed    (AgPendingGroup      *self);
AG_AVAILABLE_IN_ALL
AgPending          *ag_pending_group_get_pending   (AgPendingGroup      *self);
AG_AVAILABLE_IN_ALL
AgCaller           *ag_pending_group_get_caller    (AgPendingGroup      *self);
AG_AVAILABLE_IN_ALL
gboolean            ag_pending_group_get_shield    (AgPendingGroup      *self);
AG_AVAILABLE_IN_ALL
AgPendingGroupMode  ag_pending_group_get_mode      (AgPendingGroup      *self);

G_END_DECLS
