/* ag-pending-tracker.c: tracks the pendings made while it is current
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <glib/gi18n-lib.h>

#include "ag-pending-tracker-private.h"

#include "ag-enum-types.h"
#include "ag-error.h"
#include "ag-init-private.h"
#include "ag-lock-private.h"
#include "ag-pending-manager.h"
#include "ag-pending-private.h"
#include "ag-util-private.h"

/**
 * AgPendingTracker:
 *
 * Tracks pendings that are not done yet.
 *
 * Each thread has, for each tracker class, at most one *current* tracker.
 * A new [class@AsyncGObject.Pending] registers with every current tracker
 * that accepts it (by default, one in %AG_PENDING_TRACKER_STATE_ACTIVE),
 * unless it was created with %AG_PENDING_FLAGS_NO_TRACKING. A pending that
 * is done leaves its trackers.
 *
 * The current trackers travel with the work: a
 * [class@AsyncGObject.Caller] captures the current trackers of the thread
 * that schedules a job and makes them current in whatever thread runs the
 * job, for as long as it runs. So a [class@AsyncGObject.PendingGroup]
 * entered in the GUI thread tracks the work that workers spawn from inside
 * its jobs, to any depth.
 *
 * Subclasses ([class@AsyncGObject.PendingManager],
 * [class@AsyncGObject.PendingGroup], or your own) each have their own
 * current tracker, found with [func@AsyncGObject.PendingTracker.get_current].
 *
 * ## Thread safety
 *
 * Every function may be called from any thread; tracked pendings may
 * complete in any thread. Which trackers are current is per thread.
 *
 * Since: 0.1
 */

typedef struct
{
  GType             type;
  AgPendingTracker *tracker;  /* owned */
} Entry;

struct _AgTrackerSet
{
  gint  ref_count;  /* (atomic) */
  guint n_entries;
  Entry entries[];
};

typedef struct
{
  AgTrackerSet *current;  /* owned, nullable */
  GPtrArray    *saved;    /* AgTrackerSet, owned, nullable: push tokens */
} ThreadState;

typedef struct
{
  AgMutex       lock;
  gint          state;          /* (atomic); written under the lock */
  gint          notify_queued;  /* (atomic) */
  GMainContext *context;        /* immutable: for notifications */
  GHashTable   *members;        /* protected by the lock; AgPending, owned */
  guint         in_flight;      /* protected by the lock: pending_done calls
                                 * in progress */
} AgPendingTrackerPrivate;

G_DEFINE_TYPE_WITH_PRIVATE (AgPendingTracker, ag_pending_tracker,
                            G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_N_PENDINGS,
  PROP_PENDINGS,
  PROP_STATE,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

#define PRIV(self) \
  ((AgPendingTrackerPrivate *) ag_pending_tracker_get_instance_private (self))

/* Tracker sets {{{ */

AgTrackerSet *
ag_tracker_set_ref (AgTrackerSet *set)
{
  g_atomic_int_inc (&set->ref_count);
  return set;
}

void
ag_tracker_set_unref (AgTrackerSet *set)
{
  if (set == NULL || !g_atomic_int_dec_and_test (&set->ref_count))
    return;

  for (guint i = 0; i < set->n_entries; i++)
    g_object_unref (set->entries[i].tracker);
  g_free (set);
}

static void
tracker_set_unref0 (gpointer set)
{
  ag_tracker_set_unref (set);
}

/* This thread's state, read several times per job: a compiler thread-local
 * costs less than g_private_get () (see AG_THREAD_LOCAL). thread_state_key
 * holds the same pointer, to free it when the thread ends. */
static AG_THREAD_LOCAL ThreadState *thread_state_cached;

/* In the ending thread: what it frees may still look for the state. */
static void
thread_state_free (gpointer data)
{
  ThreadState *state = data;

  thread_state_cached = NULL;
  g_clear_pointer (&state->current, ag_tracker_set_unref);
  g_clear_pointer (&state->saved, g_ptr_array_unref);
  g_free (state);
}

static GPrivate thread_state_key = G_PRIVATE_INIT (thread_state_free);

static ThreadState *
thread_state (gboolean create)
{
  ThreadState *state = thread_state_cached;

  if (G_UNLIKELY (state == NULL) && create)
    {
      state = g_new0 (ThreadState, 1);
      g_private_set (&thread_state_key, state);
      thread_state_cached = state;
    }

  return state;
}

/* A copy of @set where @tracker is the one of its class. */
static AgTrackerSet *
tracker_set_with (AgTrackerSet     *set,
                  AgPendingTracker *tracker)
{
  GType type = G_OBJECT_TYPE (tracker);
  guint n = set ? set->n_entries : 0;
  AgTrackerSet *copy;
  guint j = 0;

  copy = g_malloc0 (sizeof (AgTrackerSet) + (n + 1) * sizeof (Entry));
  copy->ref_count = 1;

  for (guint i = 0; i < n; i++)
    if (set->entries[i].type != type)
      {
        copy->entries[j].type = set->entries[i].type;
        copy->entries[j].tracker = g_object_ref (set->entries[i].tracker);
        j++;
      }
  copy->entries[j].type = type;
  copy->entries[j].tracker = g_object_ref (tracker);
  copy->n_entries = j + 1;

  return copy;
}

AgTrackerSet *
ag_tracker_set_dup_current (void)
{
  ThreadState *state = thread_state (FALSE);

  if (state == NULL || state->current == NULL)
    return NULL;

  return ag_tracker_set_ref (state->current);
}

AgTrackerSet *
ag_tracker_set_install (AgTrackerSet *set)
{
  ThreadState *state = thread_state (set != NULL);
  AgTrackerSet *previous;

  if (state == NULL)
    return NULL;

  previous = g_steal_pointer (&state->current);
  state->current = set ? ag_tracker_set_ref (set) : NULL;

  return previous;
}

void
ag_tracker_set_restore (AgTrackerSet *previous)
{
  ThreadState *state = thread_state (previous != NULL);

  if (state == NULL)
    return;

  g_clear_pointer (&state->current, ag_tracker_set_unref);
  state->current = previous;
}

void
ag_pending_tracker_track_new (AgPending *pending,
                              gboolean   managers_only)
{
  ThreadState *state = thread_state (FALSE);
  g_autoptr(AgTrackerSet) set = NULL;

  if (state == NULL || state->current == NULL)
    return;

  set = ag_tracker_set_ref (state->current);
  for (guint i = 0; i < set->n_entries; i++)
    {
      AgPendingTracker *tracker = set->entries[i].tracker;

      if (managers_only &&
          !g_type_is_a (set->entries[i].type, AG_TYPE_PENDING_MANAGER))
        continue;

      if (AG_PENDING_TRACKER_GET_CLASS (tracker)->accepts (tracker))
        ag_pending_tracker_track (tracker, pending, NULL);
    }
}

/* }}} */

/* Members {{{ */

static void
emit_emptied_if (AgPendingTracker *self,
                 gboolean          empty)
{
  if (empty)
    AG_PENDING_TRACKER_GET_CLASS (self)->emptied (self);
}

static void
member_done_cb (AgPending *pending,
                gpointer   data)
{
  AgPendingTracker *self = data;
  AgPendingTrackerPrivate *priv = PRIV (self);
  gboolean removed;
  gboolean empty;

  ag_mutex_lock (&priv->lock);
  removed = g_hash_table_steal (priv->members, pending);
  if (removed)
    priv->in_flight++;
  ag_mutex_unlock (&priv->lock);

  if (!removed)
    return;

  AG_PENDING_TRACKER_GET_CLASS (self)->pending_done (self, pending);
  g_object_unref (pending);

  /* Empty only once every member that left has been accounted for: two
   * members failing at once both count before the tracker says it is
   * empty. */
  ag_mutex_lock (&priv->lock);
  priv->in_flight--;
  empty = priv->in_flight == 0 && g_hash_table_size (priv->members) == 0;
  ag_mutex_unlock (&priv->lock);

  emit_emptied_if (self, empty);
}

/* }}} */

/* GObject {{{ */

static gboolean
ag_pending_tracker_real_accepts (AgPendingTracker *self)
{
  return ag_pending_tracker_get_state (self) == AG_PENDING_TRACKER_STATE_ACTIVE;
}

static void
ag_pending_tracker_real_pending_added (AgPendingTracker *self,
                                       AgPending        *pending)
{
}

static void
ag_pending_tracker_real_pending_done (AgPendingTracker *self,
                                      AgPending        *pending)
{
}

static void
ag_pending_tracker_real_emptied (AgPendingTracker *self)
{
}

static void
ag_pending_tracker_finalize (GObject *object)
{
  AgPendingTrackerPrivate *priv = PRIV (AG_PENDING_TRACKER (object));

  /* Members hold a reference to the tracker through their callbacks, so
   * there are none left here. */
  g_clear_pointer (&priv->members, g_hash_table_unref);
  g_clear_pointer (&priv->context, g_main_context_unref);
  ag_mutex_clear (&priv->lock);

  G_OBJECT_CLASS (ag_pending_tracker_parent_class)->finalize (object);
}

static void
ag_pending_tracker_get_property (GObject    *object,
                                 guint       prop_id,
                                 GValue     *value,
                                 GParamSpec *pspec)
{
  AgPendingTracker *self = AG_PENDING_TRACKER (object);

  switch (prop_id)
    {
    case PROP_N_PENDINGS:
      g_value_set_uint (value, ag_pending_tracker_get_n_pendings (self));
      break;

    case PROP_PENDINGS:
      g_value_take_boxed (value, ag_pending_tracker_dup_pendings (self));
      break;

    case PROP_STATE:
      g_value_set_enum (value, ag_pending_tracker_get_state (self));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ag_pending_tracker_class_init (AgPendingTrackerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = ag_pending_tracker_finalize;
  object_class->get_property = ag_pending_tracker_get_property;

  klass->accepts = ag_pending_tracker_real_accepts;
  klass->pending_added = ag_pending_tracker_real_pending_added;
  klass->pending_done = ag_pending_tracker_real_pending_done;
  klass->emptied = ag_pending_tracker_real_emptied;

  /**
   * AgPendingTracker:n-pendings:
   *
   * How many pendings are tracked. Not notified.
   *
   * Since: 0.1
   */
  properties[PROP_N_PENDINGS] =
    g_param_spec_uint ("n-pendings", NULL, NULL,
                       0, G_MAXUINT, 0,
                       (G_PARAM_READABLE |
                        G_PARAM_STATIC_STRINGS));

  /**
   * AgPendingTracker:pendings:
   *
   * A copy of the list of tracked pendings. Not notified.
   *
   * Since: 0.1
   */
  properties[PROP_PENDINGS] =
    g_param_spec_boxed ("pendings", NULL, NULL,
                        G_TYPE_PTR_ARRAY,
                        (G_PARAM_READABLE |
                         G_PARAM_STATIC_STRINGS));

  /**
   * AgPendingTracker:state:
   *
   * The state of the tracker. Notified on the context of the thread that
   * created the tracker.
   *
   * Since: 0.1
   */
  properties[PROP_STATE] =
    g_param_spec_enum ("state", NULL, NULL,
                       AG_TYPE_PENDING_TRACKER_STATE,
                       AG_PENDING_TRACKER_STATE_IDLE,
                       (G_PARAM_READABLE |
                        G_PARAM_EXPLICIT_NOTIFY |
                        G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);

  ag_init_i18n ();
}

static void
ag_pending_tracker_init (AgPendingTracker *self)
{
  AgPendingTrackerPrivate *priv = PRIV (self);

  ag_mutex_init (&priv->lock);
  priv->state = AG_PENDING_TRACKER_STATE_IDLE;
  priv->context = g_main_context_ref_thread_default ();
  priv->members = g_hash_table_new (NULL, NULL);
}

/* }}} */

/* Public API {{{ */

/**
 * ag_pending_tracker_get_current:
 * @type: a subtype of [class@AsyncGObject.PendingTracker]
 *
 * Gets the tracker of class @type current in this thread, if it is active
 * or exiting. Each class has its own: a subclass's tracker is not the
 * current tracker of its parent class.
 *
 * Returns: (transfer none) (nullable): the current tracker of @type
 *
 * Since: 0.1
 */
AgPendingTracker *
ag_pending_tracker_get_current (GType type)
{
  ThreadState *state;

  g_return_val_if_fail (g_type_is_a (type, AG_TYPE_PENDING_TRACKER), NULL);

  state = thread_state (FALSE);
  if (state == NULL || state->current == NULL)
    return NULL;

  for (guint i = 0; i < state->current->n_entries; i++)
    if (state->current->entries[i].type == type)
      {
        AgPendingTracker *tracker = state->current->entries[i].tracker;
        AgPendingTrackerState tracker_state =
          ag_pending_tracker_get_state (tracker);

        if (tracker_state == AG_PENDING_TRACKER_STATE_ACTIVE ||
            tracker_state == AG_PENDING_TRACKER_STATE_EXITING)
          return tracker;
        return NULL;
      }

  return NULL;
}

/**
 * ag_pending_tracker_get_state:
 * @self: a [class@AsyncGObject.PendingTracker]
 *
 * Gets the [property@AsyncGObject.PendingTracker:state] of @self.
 *
 * Returns: the state
 *
 * Since: 0.1
 */
AgPendingTrackerState
ag_pending_tracker_get_state (AgPendingTracker *self)
{
  g_return_val_if_fail (AG_IS_PENDING_TRACKER (self),
                        AG_PENDING_TRACKER_STATE_IDLE);

  return g_atomic_int_get (&PRIV (self)->state);
}

/**
 * ag_pending_tracker_set_state:
 * @self: a [class@AsyncGObject.PendingTracker]
 * @state: the new state
 *
 * Sets the state of @self: for subclasses, which decide when they start
 * and stop tracking. Entering %AG_PENDING_TRACKER_STATE_EXITING with no
 * tracked pendings calls the `emptied` virtual function at once.
 *
 * Since: 0.1
 */
void
ag_pending_tracker_set_state (AgPendingTracker      *self,
                              AgPendingTrackerState  state)
{
  AgPendingTrackerPrivate *priv;
  gboolean changed;
  gboolean empty;

  g_return_if_fail (AG_IS_PENDING_TRACKER (self));
  g_return_if_fail (state <= AG_PENDING_TRACKER_STATE_STOPPED);

  priv = PRIV (self);

  ag_mutex_lock (&priv->lock);
  changed = g_atomic_int_get (&priv->state) != (gint) state;
  g_atomic_int_set (&priv->state, state);
  empty = priv->in_flight == 0 && g_hash_table_size (priv->members) == 0;
  ag_mutex_unlock (&priv->lock);

  if (changed)
    ag_notify_on_context (self, priv->context, properties[PROP_STATE],
                          &priv->notify_queued);

  emit_emptied_if (self,
                   changed && empty &&
                   state == AG_PENDING_TRACKER_STATE_EXITING);
}

/**
 * ag_pending_tracker_track:
 * @self: a [class@AsyncGObject.PendingTracker]
 * @pending: the pending to track
 * @error: return location for the error
 *
 * Tracks @pending until it is done or removed. A pending that is done
 * already is not tracked, and tracking one twice changes nothing.
 *
 * Returns: %TRUE, or %FALSE with %AG_ERROR_INVALID_STATE if @self does not
 *   accept pendings now (it is not active, or a group has exited)
 *
 * Since: 0.1
 */
gboolean
ag_pending_tracker_track (AgPendingTracker  *self,
                          AgPending         *pending,
                          GError           **error)
{
  AgPendingTrackerPrivate *priv;
  gboolean added = FALSE;

  g_return_val_if_fail (AG_IS_PENDING_TRACKER (self), FALSE);
  g_return_val_if_fail (AG_IS_PENDING (pending), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  priv = PRIV (self);

  if (!AG_PENDING_TRACKER_GET_CLASS (self)->accepts (self))
    {
      g_autoptr(GEnumClass) klass = g_type_class_ref (AG_TYPE_PENDING_TRACKER_STATE);

      g_set_error (error, AG_ERROR, AG_ERROR_INVALID_STATE,
                   _("The %s cannot track pendings: it is %s"),
                   G_OBJECT_TYPE_NAME (self),
                   g_enum_get_value (klass,
                                     ag_pending_tracker_get_state (self))->value_nick);
      return FALSE;
    }

  if (ag_pending_is_done (pending))
    return TRUE;

  ag_mutex_lock (&priv->lock);
  if (!g_hash_table_contains (priv->members, pending))
    {
      g_hash_table_add (priv->members, g_object_ref (pending));
      added = TRUE;
    }
  ag_mutex_unlock (&priv->lock);

  /* It may be done by now: then the callback runs at once and removes it. */
  if (added)
    {
      AG_PENDING_TRACKER_GET_CLASS (self)->pending_added (self, pending);
      ag_pending_add_done_callback (pending, member_done_cb,
                                    g_object_ref (self), g_object_unref);
    }

  return TRUE;
}

/**
 * ag_pending_tracker_remove:
 * @self: a [class@AsyncGObject.PendingTracker]
 * @pending: a tracked pending
 * @error: return location for the error
 *
 * Stops tracking @pending, which @self then no longer waits for.
 *
 * Returns: %TRUE, or %FALSE with %AG_ERROR_INVALID_STATE if @pending was
 *   not tracked
 *
 * Since: 0.1
 */
gboolean
ag_pending_tracker_remove (AgPendingTracker  *self,
                           AgPending         *pending,
                           GError           **error)
{
  g_return_val_if_fail (AG_IS_PENDING_TRACKER (self), FALSE);
  g_return_val_if_fail (AG_IS_PENDING (pending), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (ag_pending_tracker_discard (self, pending))
    return TRUE;

  g_set_error (error, AG_ERROR, AG_ERROR_INVALID_STATE,
               _("The %s does not track this pending"),
               G_OBJECT_TYPE_NAME (self));
  return FALSE;
}

/**
 * ag_pending_tracker_discard:
 * @self: a [class@AsyncGObject.PendingTracker]
 * @pending: a pending
 *
 * Stops tracking @pending if @self tracks it.
 *
 * Returns: %TRUE if @pending was tracked
 *
 * Since: 0.1
 */
gboolean
ag_pending_tracker_discard (AgPendingTracker *self,
                            AgPending        *pending)
{
  AgPendingTrackerPrivate *priv;
  gboolean removed;
  gboolean empty;

  g_return_val_if_fail (AG_IS_PENDING_TRACKER (self), FALSE);
  g_return_val_if_fail (AG_IS_PENDING (pending), FALSE);

  priv = PRIV (self);

  ag_mutex_lock (&priv->lock);
  removed = g_hash_table_steal (priv->members, pending);
  empty = priv->in_flight == 0 && g_hash_table_size (priv->members) == 0;
  ag_mutex_unlock (&priv->lock);

  if (!removed)
    return FALSE;

  ag_pending_remove_done_callback (pending, member_done_cb, self);
  g_object_unref (pending);
  emit_emptied_if (self, empty);

  return TRUE;
}

/**
 * ag_pending_tracker_contains:
 * @self: a [class@AsyncGObject.PendingTracker]
 * @pending: a pending
 *
 * Whether @self tracks @pending.
 *
 * Returns: %TRUE if @pending is tracked
 *
 * Since: 0.1
 */
gboolean
ag_pending_tracker_contains (AgPendingTracker *self,
                             AgPending        *pending)
{
  AgPendingTrackerPrivate *priv;
  gboolean contains;

  g_return_val_if_fail (AG_IS_PENDING_TRACKER (self), FALSE);
  g_return_val_if_fail (AG_IS_PENDING (pending), FALSE);

  priv = PRIV (self);

  ag_mutex_lock (&priv->lock);
  contains = g_hash_table_contains (priv->members, pending);
  ag_mutex_unlock (&priv->lock);

  return contains;
}

/**
 * ag_pending_tracker_dup_pendings:
 * @self: a [class@AsyncGObject.PendingTracker]
 *
 * Lists the pendings @self tracks.
 *
 * Returns: (transfer container) (element-type AsyncGObject.Pending): the
 *   tracked pendings
 *
 * Since: 0.1
 */
GPtrArray *
ag_pending_tracker_dup_pendings (AgPendingTracker *self)
{
  AgPendingTrackerPrivate *priv;
  GPtrArray *pendings;
  GHashTableIter iter;
  gpointer pending;

  g_return_val_if_fail (AG_IS_PENDING_TRACKER (self), NULL);

  priv = PRIV (self);
  pendings = g_ptr_array_new_with_free_func (g_object_unref);

  ag_mutex_lock (&priv->lock);
  g_hash_table_iter_init (&iter, priv->members);
  while (g_hash_table_iter_next (&iter, &pending, NULL))
    g_ptr_array_add (pendings, g_object_ref (pending));
  ag_mutex_unlock (&priv->lock);

  return pendings;
}

/**
 * ag_pending_tracker_get_n_pendings:
 * @self: a [class@AsyncGObject.PendingTracker]
 *
 * Counts the pendings @self tracks.
 *
 * Returns: the number of tracked pendings
 *
 * Since: 0.1
 */
guint
ag_pending_tracker_get_n_pendings (AgPendingTracker *self)
{
  AgPendingTrackerPrivate *priv;
  guint n;

  g_return_val_if_fail (AG_IS_PENDING_TRACKER (self), 0);

  priv = PRIV (self);

  ag_mutex_lock (&priv->lock);
  n = g_hash_table_size (priv->members);
  ag_mutex_unlock (&priv->lock);

  return n;
}

/**
 * ag_pending_tracker_push_current:
 * @self: a [class@AsyncGObject.PendingTracker]
 *
 * Makes @self the current tracker of its class in this thread, until
 * [func@AsyncGObject.PendingTracker.pop_current] is called with the token
 * this returns, in this thread.
 *
 * Returns: a token for [func@AsyncGObject.PendingTracker.pop_current]
 *
 * Since: 0.1
 */
guint
ag_pending_tracker_push_current (AgPendingTracker *self)
{
  ThreadState *state;

  g_return_val_if_fail (AG_IS_PENDING_TRACKER (self), 0);

  state = thread_state (TRUE);
  if (state->saved == NULL)
    state->saved = g_ptr_array_new_with_free_func (tracker_set_unref0);

  g_ptr_array_add (state->saved, state->current);
  state->current = tracker_set_with (state->current, self);

  return state->saved->len;
}

/**
 * ag_pending_tracker_pop_current:
 * @token: a token from [method@AsyncGObject.PendingTracker.push_current]
 *
 * Makes current again the trackers that were current in this thread when
 * @token was made, undoing the pushes made since.
 *
 * Since: 0.1
 */
void
ag_pending_tracker_pop_current (guint token)
{
  ThreadState *state = thread_state (FALSE);

  g_return_if_fail (state != NULL && state->saved != NULL);
  g_return_if_fail (token > 0 && token <= state->saved->len);

  g_clear_pointer (&state->current, ag_tracker_set_unref);
  state->current = g_steal_pointer (&state->saved->pdata[token - 1]);
  g_ptr_array_set_size (state->saved, token - 1);
}

/* }}} */
