/* ag-pending-group.c: structured concurrency
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <glib/gi18n-lib.h>

#include "ag-pending-group.h"

#include "ag-enum-types.h"
#include "ag-error.h"
#include "ag-lock-private.h"
#include "ag-pending-private.h"

/**
 * AgPendingGroup:
 *
 * Structured concurrency: a group waits for the work started inside it.
 *
 * Between [method@AsyncGObject.PendingGroup.enter] and
 * [method@AsyncGObject.PendingGroup.exit_async] the group is the current
 * group of the entering thread, and every pending made there (unless with
 * %AG_PENDING_FLAGS_NO_TRACKING) is tracked, as is every pending made by
 * the jobs scheduled from there, on whatever thread they run, to any depth.
 * Exit completes when every tracked pending is done or removed; while
 * exiting, the group still tracks what its members spawn.
 *
 * A member that *fails* cancels the others and the group, and exit fails
 * with that member's error (the first; all failed members are listed by
 * [method@AsyncGObject.PendingGroup.get_failed]). What a *cancelled* member
 * does is the group's [enum@AsyncGObject.PendingGroupMode].
 * [method@AsyncGObject.PendingGroup.cancel] cancels the group and its
 * members from any thread; exit then fails with %G_IO_ERROR_CANCELLED
 * carrying the accumulated messages. An unshielded exit whose
 * [class@Gio.Cancellable] fires cancels the group the same way; a shielded
 * one ignores it.
 *
 * Groups nest: a group entered while another is current is tracked by it,
 * through its own pending ([method@AsyncGObject.PendingGroup.get_pending]),
 * which completes with the group's exit outcome. Entering a group twice
 * (also after it exited), or tracking into a group that has exited, fails
 * with %AG_ERROR_INVALID_STATE.
 *
 * ## Thread safety
 *
 * Enter and exit in the same thread. Members may complete in any thread;
 * the callback of [method@AsyncGObject.PendingGroup.exit_async] runs on the
 * thread-default context of the thread that called it.
 *
 * Since: 0.1
 */

struct _AgPendingGroup
{
  AgPendingTracker    parent_instance;

  AgMutex             lock;

  /* immutable after construction */
  AgCaller           *caller;
  AgPendingGroupMode  mode;
  gboolean            shield;

  /* set by enter, immutable afterwards */
  AgPending          *pending;
  GThread            *thread;  /* owned: the entering thread */
  guint               token;

  /* protected by the lock */
  gboolean            entered;
  gboolean            exiting;
  gboolean            cancelled;
  gboolean            raise_cancelled;
  char               *cancel_message;
  GError             *first_error;
  GPtrArray          *failed;
};

G_DEFINE_FINAL_TYPE (AgPendingGroup, ag_pending_group, AG_TYPE_PENDING_TRACKER)

enum {
  PROP_0,
  PROP_CALLER,
  PROP_MODE,
  PROP_SHIELD,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

#define ag_pending_group_lock(self)   ag_mutex_lock (&(self)->lock)
#define ag_pending_group_unlock(self) ag_mutex_unlock (&(self)->lock)

/* Cancels the group and its members; @raise makes exit fail with
 * G_IO_ERROR_CANCELLED. With @once, a group cancelled already only takes
 * @raise: members that fail or are cancelled one after the other cancel
 * the rest once, not once each (10k members would make that quadratic). */
static void
cancel_internal (AgPendingGroup *self,
                 const char     *message,
                 gboolean        raise,
                 gboolean        once)
{
  g_autoptr(GPtrArray) members = NULL;

  ag_pending_group_lock (self);
  if (once && self->cancelled)
    {
      self->raise_cancelled |= raise;
      ag_pending_group_unlock (self);
      return;
    }
  if (message != NULL && message[0] != '\0')
    {
      char *joined = self->cancel_message
                       ? g_strconcat (self->cancel_message, "\n", message, NULL)
                       : g_strdup (message);

      g_free (self->cancel_message);
      self->cancel_message = joined;
    }
  self->cancelled = TRUE;
  self->raise_cancelled |= raise;
  ag_pending_group_unlock (self);

  members = ag_pending_tracker_dup_pendings (AG_PENDING_TRACKER (self));
  for (guint i = 0; i < members->len; i++)
    ag_pending_cancel (g_ptr_array_index (members, i), message);
}

static gboolean
ag_pending_group_accepts (AgPendingTracker *tracker)
{
  AgPendingTrackerState state = ag_pending_tracker_get_state (tracker);

  return state == AG_PENDING_TRACKER_STATE_ACTIVE ||
         state == AG_PENDING_TRACKER_STATE_EXITING;
}

static void
ag_pending_group_pending_added (AgPendingTracker *tracker,
                                AgPending        *pending)
{
  AgPendingGroup *self = AG_PENDING_GROUP (tracker);
  g_autofree char *message = NULL;
  gboolean cancelled;

  /* Work started in a cancelled group is cancelled at once. */
  ag_pending_group_lock (self);
  cancelled = self->cancelled;
  message = g_strdup (self->cancel_message);
  ag_pending_group_unlock (self);

  if (cancelled)
    ag_pending_cancel (pending, message);
}

static void
ag_pending_group_pending_done (AgPendingTracker *tracker,
                               AgPending        *pending)
{
  AgPendingGroup *self = AG_PENDING_GROUP (tracker);
  AgPendingState state = ag_pending_get_state (pending);
  g_autofree char *description = NULL;
  g_autofree char *message = NULL;

  if (state == AG_PENDING_STATE_FAILED)
    {
      g_autoptr(GError) error = ag_pending_dup_error (pending);

      ag_pending_group_lock (self);
      g_ptr_array_add (self->failed, g_object_ref (pending));
      if (self->first_error == NULL)
        self->first_error = g_error_copy (error);
      ag_pending_group_unlock (self);

      message = g_strdup_printf (_("A member of the group failed: %s"),
                                 error->message);
      cancel_internal (self, message, FALSE, TRUE);
      return;
    }

  if (state != AG_PENDING_STATE_CANCELLED ||
      self->mode == AG_PENDING_GROUP_MODE_IGNORE)
    return;

  description = ag_pending_dup_cancel_message (pending);
  message = g_strdup_printf (_("A member of the group was cancelled: %s"),
                             description != NULL
                               ? description
                               : _("no reason given"));

  switch (self->mode)
    {
    case AG_PENDING_GROUP_MODE_CANCEL_RAISE:
      cancel_internal (self, message, TRUE, TRUE);
      break;

    case AG_PENDING_GROUP_MODE_CANCEL_QUIET:
      cancel_internal (self, message, FALSE, TRUE);
      break;

    case AG_PENDING_GROUP_MODE_IGNORE_RAISE:
      ag_pending_group_lock (self);
      self->raise_cancelled = TRUE;
      if (self->cancel_message == NULL)
        self->cancel_message = g_steal_pointer (&message);
      ag_pending_group_unlock (self);
      break;

    case AG_PENDING_GROUP_MODE_IGNORE:
    default:
      g_assert_not_reached ();
    }
}

/* The last member is done: the group stops and its pending says how. */
static void
ag_pending_group_emptied (AgPendingTracker *tracker)
{
  AgPendingGroup *self = AG_PENDING_GROUP (tracker);
  GError *error = NULL;

  if (ag_pending_tracker_get_state (tracker) != AG_PENDING_TRACKER_STATE_EXITING)
    return;

  ag_pending_tracker_set_state (tracker, AG_PENDING_TRACKER_STATE_STOPPED);

  ag_pending_group_lock (self);
  if (self->first_error != NULL)
    error = g_error_copy (self->first_error);
  else if (self->raise_cancelled)
    error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                 self->cancel_message
                                   ? self->cancel_message
                                   : _("The group was cancelled"));
  ag_pending_group_unlock (self);

  if (error != NULL)
    ag_pending_take_error (self->pending, error);
  else
    ag_pending_set_value (self->pending, NULL);
}

static void
group_pending_cancel (AgPending  *pending,
                      const char *message,
                      gpointer    data)
{
  cancel_internal (data, message, TRUE, FALSE);
}

static void
ag_pending_group_finalize (GObject *object)
{
  AgPendingGroup *self = (AgPendingGroup *) object;

  g_clear_object (&self->caller);
  g_clear_object (&self->pending);
  g_clear_pointer (&self->thread, g_thread_unref);
  g_clear_pointer (&self->cancel_message, g_free);
  g_clear_error (&self->first_error);
  g_clear_pointer (&self->failed, g_ptr_array_unref);
  ag_mutex_clear (&self->lock);

  G_OBJECT_CLASS (ag_pending_group_parent_class)->finalize (object);
}

static void
ag_pending_group_get_property (GObject    *object,
                               guint       prop_id,
                               GValue     *value,
                               GParamSpec *pspec)
{
  AgPendingGroup *self = AG_PENDING_GROUP (object);

  switch (prop_id)
    {
    case PROP_CALLER:
      g_value_set_object (value, self->caller);
      break;

    case PROP_MODE:
      g_value_set_enum (value, self->mode);
      break;

    case PROP_SHIELD:
      g_value_set_boolean (value, self->shield);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ag_pending_group_set_property (GObject      *object,
                               guint         prop_id,
                               const GValue *value,
                               GParamSpec   *pspec)
{
  AgPendingGroup *self = AG_PENDING_GROUP (object);

  switch (prop_id)
    {
    case PROP_CALLER:
      self->caller = g_value_dup_object (value);
      break;

    case PROP_MODE:
      self->mode = g_value_get_enum (value);
      break;

    case PROP_SHIELD:
      self->shield = g_value_get_boolean (value);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ag_pending_group_constructed (GObject *object)
{
  AgPendingGroup *self = (AgPendingGroup *) object;

  G_OBJECT_CLASS (ag_pending_group_parent_class)->constructed (object);

  if (self->caller == NULL)
    self->caller = g_object_ref (ag_caller_get_current ());
}

static void
ag_pending_group_class_init (AgPendingGroupClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  AgPendingTrackerClass *tracker_class = AG_PENDING_TRACKER_CLASS (klass);

  object_class->constructed = ag_pending_group_constructed;
  object_class->finalize = ag_pending_group_finalize;
  object_class->get_property = ag_pending_group_get_property;
  object_class->set_property = ag_pending_group_set_property;

  tracker_class->accepts = ag_pending_group_accepts;
  tracker_class->pending_added = ag_pending_group_pending_added;
  tracker_class->pending_done = ag_pending_group_pending_done;
  tracker_class->emptied = ag_pending_group_emptied;

  /**
   * AgPendingGroup:caller:
   *
   * The caller the group was made by; the current caller of the creating
   * thread by default.
   *
   * Since: 0.1
   */
  properties[PROP_CALLER] =
    g_param_spec_object ("caller", NULL, NULL,
                         AG_TYPE_CALLER,
                         (G_PARAM_READWRITE |
                          G_PARAM_CONSTRUCT_ONLY |
                          G_PARAM_STATIC_STRINGS));

  /**
   * AgPendingGroup:mode:
   *
   * What a cancelled member does to the group.
   *
   * Since: 0.1
   */
  properties[PROP_MODE] =
    g_param_spec_enum ("mode", NULL, NULL,
                       AG_TYPE_PENDING_GROUP_MODE,
                       AG_PENDING_GROUP_MODE_IGNORE,
                       (G_PARAM_READWRITE |
                        G_PARAM_CONSTRUCT_ONLY |
                        G_PARAM_STATIC_STRINGS));

  /**
   * AgPendingGroup:shield:
   *
   * Whether exit ignores the [class@Gio.Cancellable] it is given.
   *
   * Since: 0.1
   */
  properties[PROP_SHIELD] =
    g_param_spec_boolean ("shield", NULL, NULL,
                          FALSE,
                          (G_PARAM_READWRITE |
                           G_PARAM_CONSTRUCT_ONLY |
                           G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
ag_pending_group_init (AgPendingGroup *self)
{
  ag_mutex_init (&self->lock);
  self->failed = g_ptr_array_new_with_free_func (g_object_unref);
}

/**
 * ag_caller_create_pending_group:
 * @self: a [class@AsyncGObject.Caller]
 * @shield: whether exit ignores the cancellable it is given
 * @mode: what a cancelled member does to the group
 *
 * Creates a pending group, to enter with
 * [method@AsyncGObject.PendingGroup.enter].
 *
 * Returns: (transfer full): a new [class@AsyncGObject.PendingGroup]
 *
 * Since: 0.1
 */
AgPendingGroup *
ag_caller_create_pending_group (AgCaller           *self,
                                gboolean            shield,
                                AgPendingGroupMode  mode)
{
  g_return_val_if_fail (AG_IS_CALLER (self), NULL);
  g_return_val_if_fail (mode <= AG_PENDING_GROUP_MODE_IGNORE_RAISE, NULL);

  return g_object_new (AG_TYPE_PENDING_GROUP,
                       "caller", self,
                       "shield", shield,
                       "mode", mode,
                       NULL);
}

/**
 * ag_pending_group_new:
 * @shield: whether exit ignores the cancellable it is given
 * @mode: what a cancelled member does to the group
 *
 * Creates a pending group for the current caller of this thread.
 *
 * Returns: (transfer full): a new [class@AsyncGObject.PendingGroup]
 *
 * Since: 0.1
 */
AgPendingGroup *
ag_pending_group_new (gboolean           shield,
                      AgPendingGroupMode mode)
{
  g_return_val_if_fail (mode <= AG_PENDING_GROUP_MODE_IGNORE_RAISE, NULL);

  return g_object_new (AG_TYPE_PENDING_GROUP,
                       "shield", shield,
                       "mode", mode,
                       NULL);
}

/**
 * ag_pending_group_enter:
 * @self: a [class@AsyncGObject.PendingGroup]
 * @error: return location for the error
 *
 * Makes @self the current group of this thread: from now on, the pendings
 * made here, and by the jobs scheduled from here, are tracked. Any group
 * current before tracks this one.
 *
 * Returns: %TRUE, or %FALSE with %AG_ERROR_INVALID_STATE if @self was
 *   entered before
 *
 * Since: 0.1
 */
gboolean
ag_pending_group_enter (AgPendingGroup  *self,
                        GError         **error)
{
  AgPending *pending;

  g_return_val_if_fail (AG_IS_PENDING_GROUP (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  ag_pending_group_lock (self);
  if (self->entered)
    {
      ag_pending_group_unlock (self);
      g_set_error (error, AG_ERROR, AG_ERROR_INVALID_STATE,
                   _("The pending group was entered before"));
      return FALSE;
    }
  self->entered = TRUE;
  ag_pending_group_unlock (self);

  /* Made before the group is current, so that the group current until now
   * tracks it (and not this one). */
  pending = ag_pending_new_full (AG_PENDING_FLAGS_NONE, "pending group");
  ag_pending_set_canceller (pending, group_pending_cancel,
                            g_object_ref (self), g_object_unref);
  self->pending = pending;
  self->thread = g_thread_ref (g_thread_self ());

  ag_pending_tracker_set_state (AG_PENDING_TRACKER (self),
                                AG_PENDING_TRACKER_STATE_ACTIVE);
  self->token = ag_pending_tracker_push_current (AG_PENDING_TRACKER (self));

  return TRUE;
}

/* Leaves the thread's current trackers as they were before enter, and
 * starts waiting for the members. */
static gboolean
begin_exit (AgPendingGroup  *self,
            GError         **error)
{
  ag_pending_group_lock (self);
  if (!self->entered || self->exiting)
    {
      gboolean entered = self->entered;

      ag_pending_group_unlock (self);
      g_set_error_literal (error, AG_ERROR, AG_ERROR_INVALID_STATE,
                           entered ? _("The pending group is exiting already")
                                   : _("The pending group was not entered"));
      return FALSE;
    }
  self->exiting = TRUE;
  ag_pending_group_unlock (self);

  if (self->thread == g_thread_self ())
    ag_pending_tracker_pop_current (self->token);
  else
    g_warning ("%s: a pending group must exit in the thread that entered it",
               G_STRFUNC);

  /* With no member left, this stops the group at once. */
  ag_pending_tracker_set_state (AG_PENDING_TRACKER (self),
                                AG_PENDING_TRACKER_STATE_EXITING);
  return TRUE;
}

static void
exit_cancelled_cb (GCancellable *cancellable,
                   gpointer      data)
{
  cancel_internal (data, _("The exit of the pending group was cancelled"),
                   TRUE, FALSE);
}

typedef struct
{
  GCancellable *cancellable;
  gulong        handler;
} ExitData;

static void
exit_data_free (gpointer data)
{
  ExitData *exit_data = data;

  /* Never disconnect from inside a ::cancelled emission (GLib would wait
   * for it to end, for ever): one in progress means the cancellable is
   * cancelled, and then the handler stays until the cancellable goes. */
  if (exit_data->handler != 0 &&
      !g_cancellable_is_cancelled (exit_data->cancellable))
    g_cancellable_disconnect (exit_data->cancellable, exit_data->handler);
  g_clear_object (&exit_data->cancellable);
  g_free (exit_data);
}

static ExitData *
connect_exit_cancellable (AgPendingGroup *self,
                          GCancellable   *cancellable)
{
  ExitData *exit_data = g_new0 (ExitData, 1);

  if (cancellable != NULL && !self->shield)
    {
      exit_data->cancellable = g_object_ref (cancellable);
      exit_data->handler = g_cancellable_connect (cancellable,
                                                  G_CALLBACK (exit_cancelled_cb),
                                                  g_object_ref (self),
                                                  g_object_unref);
    }

  return exit_data;
}

static void
exit_wait_cb (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;

  if (ag_pending_wait_finish (AG_PENDING (object), result, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

/**
 * ag_pending_group_exit_async:
 * @self: a [class@AsyncGObject.PendingGroup]
 * @cancellable: (nullable): cancels the group, unless it is shielded
 * @callback: (scope async) (closure user_data): called when every member
 *   is done
 * @user_data: data for @callback
 *
 * Leaves the group (in the thread that entered it) and waits for every
 * tracked pending to be done or removed. @callback runs on the
 * thread-default main context of this thread.
 *
 * Since: 0.1
 */
void
ag_pending_group_exit_async (AgPendingGroup      *self,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  GError *error = NULL;

  g_return_if_fail (AG_IS_PENDING_GROUP (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, ag_pending_group_exit_async);
  g_task_set_name (task, "[async-gobject] ag_pending_group_exit_async");
  g_task_set_check_cancellable (task, FALSE);

  if (!begin_exit (self, &error))
    {
      g_task_return_error (task, error);
      return;
    }

  g_task_set_task_data (task, connect_exit_cancellable (self, cancellable),
                        exit_data_free);
  ag_pending_wait_async (self->pending, -1, TRUE, NULL, exit_wait_cb,
                         g_steal_pointer (&task));
}

/**
 * ag_pending_group_exit_finish:
 * @self: a [class@AsyncGObject.PendingGroup]
 * @result: the [iface@Gio.AsyncResult] given to the callback
 * @error: return location for the error
 *
 * Finishes [method@AsyncGObject.PendingGroup.exit_async].
 *
 * Returns: %TRUE if the group exits quietly; %FALSE with the error of the
 *   first failed member, or %G_IO_ERROR_CANCELLED when the group was
 *   cancelled (see [enum@AsyncGObject.PendingGroupMode]), or
 *   %AG_ERROR_INVALID_STATE if it was not entered or is exiting already
 *
 * Since: 0.1
 */
gboolean
ag_pending_group_exit_finish (AgPendingGroup  *self,
                              GAsyncResult    *result,
                              GError         **error)
{
  g_return_val_if_fail (AG_IS_PENDING_GROUP (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) ==
                        ag_pending_group_exit_async, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * ag_pending_group_exit_sync:
 * @self: a [class@AsyncGObject.PendingGroup]
 * @cancellable: (nullable): cancels the group, unless it is shielded
 * @error: return location for the error
 *
 * Like [method@AsyncGObject.PendingGroup.exit_async], but blocks until
 * every member is done: for worker threads.
 *
 * Returns: as [method@AsyncGObject.PendingGroup.exit_finish]
 *
 * Since: 0.1
 */
gboolean
ag_pending_group_exit_sync (AgPendingGroup  *self,
                            GCancellable    *cancellable,
                            GError         **error)
{
  ExitData *exit_data;
  gboolean ok;

  g_return_val_if_fail (AG_IS_PENDING_GROUP (self), FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable),
                        FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!begin_exit (self, error))
    return FALSE;

  exit_data = connect_exit_cancellable (self, cancellable);
  ok = ag_pending_wait_sync (self->pending, -1, error);
  exit_data_free (exit_data);

  return ok;
}

/**
 * ag_pending_group_cancel:
 * @self: a [class@AsyncGObject.PendingGroup]
 * @message: (nullable): why, for the exit error
 *
 * Cancels @self and its members. Exit then fails with
 * %G_IO_ERROR_CANCELLED carrying the accumulated messages, unless a member
 * failed (its error wins). Work started in a cancelled group is cancelled
 * at once. Any thread.
 *
 * Since: 0.1
 */
void
ag_pending_group_cancel (AgPendingGroup *self,
                         const char     *message)
{
  g_return_if_fail (AG_IS_PENDING_GROUP (self));

  cancel_internal (self, message, TRUE, FALSE);
}

/**
 * ag_pending_group_is_cancelled:
 * @self: a [class@AsyncGObject.PendingGroup]
 *
 * Whether @self was cancelled, by
 * [method@AsyncGObject.PendingGroup.cancel] or by one of its members.
 *
 * Returns: %TRUE if @self is cancelled
 *
 * Since: 0.1
 */
gboolean
ag_pending_group_is_cancelled (AgPendingGroup *self)
{
  gboolean cancelled;

  g_return_val_if_fail (AG_IS_PENDING_GROUP (self), FALSE);

  ag_pending_group_lock (self);
  cancelled = self->cancelled;
  ag_pending_group_unlock (self);

  return cancelled;
}

/**
 * ag_pending_group_get_failed:
 * @self: a [class@AsyncGObject.PendingGroup]
 *
 * Lists the members that failed, in the order they did.
 *
 * Returns: (transfer container) (element-type AsyncGObject.Pending): the
 *   failed members
 *
 * Since: 0.1
 */
GPtrArray *
ag_pending_group_get_failed (AgPendingGroup *self)
{
  GPtrArray *failed;

  g_return_val_if_fail (AG_IS_PENDING_GROUP (self), NULL);

  failed = g_ptr_array_new_with_free_func (g_object_unref);

  ag_pending_group_lock (self);
  for (guint i = 0; i < self->failed->len; i++)
    g_ptr_array_add (failed, g_object_ref (g_ptr_array_index (self->failed, i)));
  ag_pending_group_unlock (self);

  return failed;
}

/**
 * ag_pending_group_get_pending:
 * @self: a [class@AsyncGObject.PendingGroup]
 *
 * Gets the pending that stands for @self in the group (or manager) that was
 * current when @self was entered. It completes with the exit outcome of
 * @self; cancelling it cancels @self.
 *
 * Returns: (transfer none) (nullable): the pending, or %NULL before
 *   [method@AsyncGObject.PendingGroup.enter]
 *
 * Since: 0.1
 */
AgPending *
ag_pending_group_get_pending (AgPendingGroup *self)
{
  g_return_val_if_fail (AG_IS_PENDING_GROUP (self), NULL);

  return self->pending;
}

/**
 * ag_pending_group_get_caller:
 * @self: a [class@AsyncGObject.PendingGroup]
 *
 * Gets the [property@AsyncGObject.PendingGroup:caller] of @self.
 *
 * Returns: (transfer none): the caller
 *
 * Since: 0.1
 */
AgCaller *
ag_pending_group_get_caller (AgPendingGroup *self)
{
  g_return_val_if_fail (AG_IS_PENDING_GROUP (self), NULL);

  return self->caller;
}

/**
 * ag_pending_group_get_shield:
 * @self: a [class@AsyncGObject.PendingGroup]
 *
 * Gets the [property@AsyncGObject.PendingGroup:shield] of @self.
 *
 * Returns: whether exit ignores its cancellable
 *
 * Since: 0.1
 */
gboolean
ag_pending_group_get_shield (AgPendingGroup *self)
{
  g_return_val_if_fail (AG_IS_PENDING_GROUP (self), FALSE);

  return self->shield;
}

/**
 * ag_pending_group_get_mode:
 * @self: a [class@AsyncGObject.PendingGroup]
 *
 * Gets the [property@AsyncGObject.PendingGroup:mode] of @self.
 *
 * Returns: the mode
 *
 * Since: 0.1
 */
AgPendingGroupMode
ag_pending_group_get_mode (AgPendingGroup *self)
{
  g_return_val_if_fail (AG_IS_PENDING_GROUP (self),
                        AG_PENDING_GROUP_MODE_IGNORE);

  return self->mode;
}
