/* ag-pending-manager.c: a tracker activated and deactivated by hand
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <glib/gi18n-lib.h>

#include "ag-pending-manager.h"

#include "ag-error.h"
#include "ag-lock-private.h"
#include "ag-pending-private.h"

/**
 * AgPendingManager:
 *
 * A [class@AsyncGObject.PendingTracker] that you activate and deactivate:
 * while active and current in a thread
 * ([method@AsyncGObject.PendingManager.start_tracking]), it tracks the
 * pendings made there and by the jobs scheduled from there;
 * [method@AsyncGObject.PendingManager.deactivate] cancels (or forgets) what
 * it tracks. It may be activated again once stopped.
 *
 * Since: 0.1
 */

typedef struct
{
  AgMutex    lock;
  AgPending *stopped;  /* protected by the lock: done when emptied */
} AgPendingManagerPrivate;

G_DEFINE_TYPE_WITH_PRIVATE (AgPendingManager, ag_pending_manager,
                            AG_TYPE_PENDING_TRACKER)

#define PRIV(self) \
  ((AgPendingManagerPrivate *) ag_pending_manager_get_instance_private (self))

static void
ag_pending_manager_emptied (AgPendingTracker *tracker)
{
  AgPendingManager *self = AG_PENDING_MANAGER (tracker);
  AgPendingManagerPrivate *priv = PRIV (self);
  g_autoptr(AgPending) stopped = NULL;

  if (ag_pending_tracker_get_state (tracker) != AG_PENDING_TRACKER_STATE_EXITING)
    return;

  ag_pending_tracker_set_state (tracker, AG_PENDING_TRACKER_STATE_STOPPED);

  ag_mutex_lock (&priv->lock);
  g_set_object (&stopped, priv->stopped);
  ag_mutex_unlock (&priv->lock);

  if (stopped != NULL)
    ag_pending_set_value (stopped, NULL);
}

static void
ag_pending_manager_finalize (GObject *object)
{
  AgPendingManagerPrivate *priv = PRIV (AG_PENDING_MANAGER (object));

  g_clear_object (&priv->stopped);
  ag_mutex_clear (&priv->lock);

  G_OBJECT_CLASS (ag_pending_manager_parent_class)->finalize (object);
}

static void
ag_pending_manager_class_init (AgPendingManagerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  AgPendingTrackerClass *tracker_class = AG_PENDING_TRACKER_CLASS (klass);

  object_class->finalize = ag_pending_manager_finalize;
  tracker_class->emptied = ag_pending_manager_emptied;
}

static void
ag_pending_manager_init (AgPendingManager *self)
{
  ag_mutex_init (&PRIV (self)->lock);
}

/**
 * ag_pending_manager_new:
 *
 * Creates a manager, idle until activated.
 *
 * Returns: (transfer full): a new [class@AsyncGObject.PendingManager]
 *
 * Since: 0.1
 */
AgPendingManager *
ag_pending_manager_new (void)
{
  return g_object_new (AG_TYPE_PENDING_MANAGER, NULL);
}

/**
 * ag_pending_manager_activate:
 * @self: a [class@AsyncGObject.PendingManager]
 * @error: return location for the error
 *
 * Starts tracking: @self becomes %AG_PENDING_TRACKER_STATE_ACTIVE.
 *
 * Returns: %TRUE, or %FALSE with %AG_ERROR_INVALID_STATE unless @self was
 *   idle or stopped
 *
 * Since: 0.1
 */
gboolean
ag_pending_manager_activate (AgPendingManager  *self,
                             GError           **error)
{
  AgPendingManagerPrivate *priv;
  AgPendingTrackerState state;

  g_return_val_if_fail (AG_IS_PENDING_MANAGER (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  priv = PRIV (self);

  ag_mutex_lock (&priv->lock);
  state = ag_pending_tracker_get_state (AG_PENDING_TRACKER (self));
  if (state != AG_PENDING_TRACKER_STATE_IDLE &&
      state != AG_PENDING_TRACKER_STATE_STOPPED)
    {
      ag_mutex_unlock (&priv->lock);
      g_set_error (error, AG_ERROR, AG_ERROR_INVALID_STATE,
                   _("The manager is active already"));
      return FALSE;
    }
  g_clear_object (&priv->stopped);
  ag_mutex_unlock (&priv->lock);

  ag_pending_tracker_set_state (AG_PENDING_TRACKER (self),
                                AG_PENDING_TRACKER_STATE_ACTIVE);
  return TRUE;
}

/**
 * ag_pending_manager_deactivate:
 * @self: a [class@AsyncGObject.PendingManager]
 * @cancel_pending: %TRUE to cancel the tracked pendings, %FALSE to stop
 *   tracking them
 *
 * Stops tracking new pendings, and cancels (or forgets) those tracked.
 * @self is %AG_PENDING_TRACKER_STATE_EXITING until the cancelled ones are
 * done, then %AG_PENDING_TRACKER_STATE_STOPPED. Deactivating again is
 * harmless.
 *
 * Returns: (transfer full): a pending that succeeds once @self is stopped
 *
 * Since: 0.1
 */
AgPending *
ag_pending_manager_deactivate (AgPendingManager *self,
                               gboolean          cancel_pending)
{
  AgPendingTracker *tracker;
  AgPendingManagerPrivate *priv;
  g_autoptr(GPtrArray) pendings = NULL;
  AgPending *stopped;
  AgPendingTrackerState state;
  g_autofree char *message = NULL;

  g_return_val_if_fail (AG_IS_PENDING_MANAGER (self), NULL);

  tracker = AG_PENDING_TRACKER (self);
  priv = PRIV (self);

  ag_mutex_lock (&priv->lock);
  if (priv->stopped == NULL)
    priv->stopped = ag_pending_new_full (AG_PENDING_FLAGS_NO_TRACKING, NULL);
  stopped = g_object_ref (priv->stopped);
  state = ag_pending_tracker_get_state (tracker);
  ag_mutex_unlock (&priv->lock);

  if (state == AG_PENDING_TRACKER_STATE_IDLE ||
      state == AG_PENDING_TRACKER_STATE_STOPPED)
    {
      ag_pending_set_value (stopped, NULL);
      return stopped;
    }
  if (state == AG_PENDING_TRACKER_STATE_EXITING)
    return stopped;

  /* No new pendings from now on. It stops at once when nothing is tracked,
   * else when the last tracked pending is done or discarded. */
  pendings = ag_pending_tracker_dup_pendings (tracker);
  ag_pending_tracker_set_state (tracker, AG_PENDING_TRACKER_STATE_EXITING);

  message = g_strdup_printf (_("The %s was deactivated"),
                             G_OBJECT_TYPE_NAME (self));
  for (guint i = 0; i < pendings->len; i++)
    {
      AgPending *pending = g_ptr_array_index (pendings, i);

      if (cancel_pending)
        ag_pending_cancel (pending, message);
      else
        ag_pending_tracker_discard (tracker, pending);
    }

  return stopped;
}

/**
 * ag_pending_manager_start_tracking:
 * @self: a [class@AsyncGObject.PendingManager]
 * @error: return location for the error
 *
 * Makes @self the current manager of its class in this thread, until
 * [method@AsyncGObject.PendingManager.stop_tracking].
 *
 * Returns: a token for [method@AsyncGObject.PendingManager.stop_tracking],
 *   or 0 with %AG_ERROR_INVALID_STATE if @self is not active
 *
 * Since: 0.1
 */
guint
ag_pending_manager_start_tracking (AgPendingManager  *self,
                                   GError           **error)
{
  g_return_val_if_fail (AG_IS_PENDING_MANAGER (self), 0);
  g_return_val_if_fail (error == NULL || *error == NULL, 0);

  if (ag_pending_tracker_get_state (AG_PENDING_TRACKER (self)) !=
      AG_PENDING_TRACKER_STATE_ACTIVE)
    {
      g_set_error (error, AG_ERROR, AG_ERROR_INVALID_STATE,
                   _("The manager is not active"));
      return 0;
    }

  return ag_pending_tracker_push_current (AG_PENDING_TRACKER (self));
}

/**
 * ag_pending_manager_stop_tracking:
 * @self: a [class@AsyncGObject.PendingManager]
 * @token: the token [method@AsyncGObject.PendingManager.start_tracking]
 *   gave, in this thread
 *
 * Makes current again the trackers that were current when @token was made.
 *
 * Since: 0.1
 */
void
ag_pending_manager_stop_tracking (AgPendingManager *self,
                                  guint             token)
{
  g_return_if_fail (AG_IS_PENDING_MANAGER (self));
  g_return_if_fail (token > 0);

  ag_pending_tracker_pop_current (token);
}
