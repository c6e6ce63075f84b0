/* ag-pending.c: a thread-safe result with cancellation
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <math.h>
#include <string.h>

#include <glib/gi18n-lib.h>
#include <gobject/gvaluecollector.h>

#include "ag-pending-private.h"

#include "ag-caller-private.h"
#include "ag-pending-tracker-private.h"

#include "ag-enum-types.h"
#include "ag-error.h"
#include "ag-init-private.h"
#include "ag-lock-private.h"
#include "ag-util-private.h"

/**
 * AgPending:
 *
 * A thread-safe result: a value ([struct@GObject.Value]) or an error
 * ([struct@GLib.Error]) that some work will set, exactly once.
 *
 * A pending is created not done. It becomes *done* once, with a value
 * ([method@AsyncGObject.Pending.set_value] and the typed setters such as
 * [method@AsyncGObject.Pending.set_int]) or with an error
 * ([method@AsyncGObject.Pending.set_error]). The first outcome wins: later
 * ones change nothing and the setter returns %FALSE, because two threads
 * racing to complete a pending is not a programmer error.
 *
 * Cancellation is a request, as with [class@Gio.Cancellable]:
 * [method@AsyncGObject.Pending.cancel] records the request (messages
 * accumulate, joined by newlines), calls the canceller set with
 * [method@AsyncGObject.Pending.set_canceller] and cancels the
 * [class@Gio.Cancellable] of [method@AsyncGObject.Pending.get_cancellable].
 * The pending is done only when the work behind it then sets an outcome.
 * Reading the outcome of a cancelled pending gives %G_IO_ERROR_CANCELLED,
 * so code that handles GIO cancellation handles ours too.
 *
 * Done callbacks ([method@AsyncGObject.Pending.add_done_callback]) run
 * exactly once each, in first-in first-out order.
 *
 * To wait for a pending, use [method@AsyncGObject.Pending.wait_async] from a
 * thread that runs a main loop, or [method@AsyncGObject.Pending.wait_sync]
 * from a thread that may block.
 *
 * ## Thread safety
 *
 * Every function may be called from any thread. No lock is held while user
 * code (callbacks, cancellers, destroy notifies) runs, so such code may call
 * back into the same pending. Done callbacks run in the thread that completes
 * the pending, or at once in the thread that adds them when the pending is
 * already done. The cancellable's [signal@Gio.Cancellable::cancelled]
 * handlers run in the thread that cancels.
 *
 * [signal@GObject.Object::notify] for [property@AsyncGObject.Pending:state]
 * is emitted only on the pending's own context: the thread-default
 * [struct@GLib.MainContext] of the thread that created the pending
 * ([method@AsyncGObject.Pending.get_context]). When the pending changes state
 * in another thread, the notification is queued to that context, and only
 * when a handler is connected: a pending nobody watches costs no main loop
 * work.
 *
 * Since: 0.1
 */


/* The parts of a pending that most never need (a pending is made per job,
 * so its size is a job's): made on first use, under the lock. */
typedef struct
{
  char            *name;           /* immutable: set at construction */
  GDestroyNotify   value_destroy;  /* frees a G_TYPE_POINTER value */
  char            *cancel_message;
  GCancellable    *cancellable;
  gulong           cancellable_handler;
  GHashTable      *metadata;
} AgPendingExtra;

struct _AgPending
{
  GObject          parent_instance;

  AgMutex          lock;
  /* (atomic); written with the lock held, read without it */
  int              state;
  /* (atomic); a notify::state is queued on @context */
  int              notify_queued;

  /* immutable after construction; not a bitfield beside the ones below,
   * which are written under the lock while this is read without it */
  AgPendingFlags   flags;

  /* protected by the lock */
  guint            cancelled : 1;
  guint            has_canceller : 1;
  guint            canceller_is_job : 1;  /* see @canceller */
  /* protected by the lock: calls of the canceller in progress */
  guint            canceller_calls : 29;

  /* immutable after construction */
  GMainContext    *context;
  /* the caller whose job this is, or NULL; set before the pending is
   * published, immutable afterwards */
  AgCaller        *caller;

  /* protected by the lock until done, immutable afterwards: the value it
   * succeeded with, or the error it failed with, whose type field is the
   * value's, left invalid (see outcome_error ()) */
  union {
    GValue         value;
    struct {
      GType        invalid;
      GError      *error;
    }              failure;
  }                outcome;

  /* protected by the lock; made on demand (what few pendings need: see
   * AgPendingExtra), and published atomically, for the name */
  AgPendingExtra  *extra;
  /* protected by the lock: the canceller, or NULL: with canceller_is_job,
   * a caller's job (see ag_pending_set_job_canceller ()), which every job's
   * pending has; otherwise the AgCanceller ag_pending_set_canceller ()
   * made */
  gpointer         canceller;
  AgCallback      *callbacks;  /* the newest first */
};

/* A canceller set with ag_pending_set_canceller (). */
typedef struct
{
  AgCancellerFunc  func;
  gpointer         data;
  GDestroyNotify   destroy;
} AgCanceller;

G_DEFINE_FINAL_TYPE (AgPending, ag_pending, G_TYPE_OBJECT)

/* A pending is made per job: its size is a job's (bench/: memory). */
#if GLIB_SIZEOF_VOID_P == 8 && !defined(AG_USE_PTHREAD_LOCKS)
G_STATIC_ASSERT (sizeof (AgPending) <= 112);
#endif

enum {
  PROP_0,
  PROP_FLAGS,
  PROP_NAME,
  PROP_STATE,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

#define ag_pending_lock(self)   ag_mutex_lock (&(self)->lock)
#define ag_pending_unlock(self) ag_mutex_unlock (&(self)->lock)

/* Helpers {{{ */

/* A field of the extra part, or NULL. Must hold the lock. */
#define EXTRA(self, field) ((self)->extra != NULL ? (self)->extra->field : NULL)

/* The extra part, made if needed. Must hold the lock (or be constructing
 * @self). */
static AgPendingExtra *
extra_unlocked (AgPending *self)
{
  if (self->extra == NULL)
    g_atomic_pointer_set (&self->extra, g_new0 (AgPendingExtra, 1));
  return self->extra;
}

/* The name given at construction, or NULL. Any thread, no lock: the name
 * is set before the pending is shared, and the part that holds it is
 * published atomically should it be made later. */
static inline const char *
pending_name (AgPending *self)
{
  AgPendingExtra *extra = g_atomic_pointer_get (&self->extra);

  return extra != NULL ? extra->name : NULL;
}

/* The name, or the type's for messages. */
static inline const char *
pending_display_name (AgPending *self)
{
  const char *name = pending_name (self);

  return name != NULL ? name : "AgPending";
}

/* The error it failed with (or was cancelled with), or NULL. Must hold the
 * lock, or @self be done. */
static inline GError *
outcome_error (AgPending *self)
{
  return G_IS_VALUE (&self->outcome.value) ? NULL
                                           : self->outcome.failure.error;
}

/* Reverses a list of done callbacks (added newest first). */
static AgCallback *
callbacks_reverse (AgCallback *callbacks)
{
  AgCallback *reversed = NULL;

  while (callbacks != NULL)
    {
      AgCallback *cb = callbacks;

      callbacks = cb->next;
      cb->next = reversed;
      reversed = cb;
    }

  return reversed;
}

static inline gboolean
state_is_done (int state)
{
  return state >= AG_PENDING_STATE_SUCCEEDED;
}

static inline gboolean
ag_pending_is_done_unlocked (AgPending *self)
{
  return state_is_done (g_atomic_int_get (&self->state));
}

static const char *
state_nick (AgPendingState state)
{
  GEnumClass *klass = g_type_class_ref (AG_TYPE_PENDING_STATE);
  GEnumValue *value = g_enum_get_value (klass, state);

  g_type_class_unref (klass);
  return value ? value->value_nick : "invalid";
}

/* With AG_DEBUG=leaks: the live pendings, to report those never completed
 * at exit. */
static AgMutex live_lock = AG_MUTEX_INIT;
static GHashTable *live_pendings;  /* AgPending, not owned */
static guint n_finalized_running;  /* (atomic) */

static void
live_add (AgPending *self)
{
  ag_mutex_lock (&live_lock);
  if (live_pendings == NULL)
    live_pendings = g_hash_table_new (NULL, NULL);
  g_hash_table_add (live_pendings, self);
  ag_mutex_unlock (&live_lock);
}

static void
live_remove (AgPending *self)
{
  ag_mutex_lock (&live_lock);
  if (live_pendings != NULL)
    g_hash_table_remove (live_pendings, self);
  ag_mutex_unlock (&live_lock);

  if (!ag_pending_is_done_unlocked (self))
    g_atomic_int_inc (&n_finalized_running);
}

guint
ag_pending_report_leaks (GString *report)
{
  g_autoptr(GPtrArray) running = g_ptr_array_new_with_free_func (g_object_unref);
  guint n_finalized = g_atomic_int_get (&n_finalized_running);
  GHashTableIter iter;
  gpointer key;

  ag_mutex_lock (&live_lock);
  if (live_pendings != NULL)
    {
      g_hash_table_iter_init (&iter, live_pendings);
      while (g_hash_table_iter_next (&iter, &key, NULL))
        if (!ag_pending_is_done_unlocked (key))
          g_ptr_array_add (running, g_object_ref (key));
    }
  ag_mutex_unlock (&live_lock);

  for (guint i = 0; i < running->len; i++)
    {
      g_autofree char *description =
        ag_pending_to_string (g_ptr_array_index (running, i));

      g_string_append_printf (report, "  never completed: %s\n", description);
    }
  if (n_finalized > 0)
    g_string_append_printf (report,
                            "  %u pendings were finalized without being "
                            "completed\n", n_finalized);

  return running->len + n_finalized;
}

/* Emits notify::state on the pending's own context: inline in its thread
 * (so also for a done callback that took the completion's notification
 * over, AgCallback.takes_notify: no GSource, and no lookup of handlers in
 * the completing thread), else from an idle source there. */
void
ag_pending_notify_state (AgPending *self)
{
  ag_notify_on_context (self, self->context, properties[PROP_STATE],
                        &self->notify_queued);
}

/* ag_pending_notify_state() in a thread that runs the pending's context (a
 * done callback on a caller of that context, delivered by the caller):
 * no lock taken when nobody listens. */
void
ag_pending_notify_state_here (AgPending *self)
{
  ag_notify_here (self, properties[PROP_STATE], &self->notify_queued);
}

/* The context the pending's notifications belong to. */
GMainContext *
ag_pending_get_context_internal (AgPending *self)
{
  return self->context;
}

static void
run_callbacks (AgPending  *self,
               AgCallback *callbacks)
{
  while (callbacks != NULL)
    {
      AgCallback *cb = callbacks;

      callbacks = cb->next;
      if (cb->on_caller)
        {
          /* may free it */
          ag_caller_done_on_fire (self, cb);
          continue;
        }
      cb->func (self, cb->data);
      if (cb->destroy != NULL)
        cb->destroy (cb->data);
      g_free (cb);
    }
}

static void
free_callbacks (AgCallback *callbacks)
{
  while (callbacks != NULL)
    {
      AgCallback *cb = callbacks;

      callbacks = cb->next;
      if (cb->on_caller)
        {
          ag_caller_done_on_drop (cb);
          continue;
        }
      if (cb->destroy != NULL)
        cb->destroy (cb->data);
      g_free (cb);
    }
}

/* Calls @canceller (see AgPending.canceller), whose call was counted in
 * canceller_calls with the lock held. */
static inline void
canceller_call (AgPending  *self,
                gpointer    canceller,
                gboolean    is_job,
                const char *message)
{
  if (is_job)
    {
      ag_caller_job_cancel (self, message, canceller);
    }
  else
    {
      AgCanceller *record = canceller;

      record->func (self, message, record->data);
    }
}

/* Releases @canceller (see AgPending.canceller) once it is no longer
 * needed. No lock held. */
static inline void
canceller_release (gpointer canceller,
                   gboolean is_job)
{
  if (is_job)
    {
      ag_caller_job_finished (canceller);
    }
  else
    {
      AgCanceller *record = canceller;

      if (record->destroy != NULL)
        record->destroy (record->data);
      g_free (record);
    }
}

/* Steals the canceller when it is no longer needed: the pending is done and
 * no call of it is in progress. Returns it (NULL if none or still needed);
 * the caller releases it with canceller_release () once it released the
 * lock. Must hold the lock. */
static gpointer
steal_canceller_if_unused_unlocked (AgPending *self,
                                    gboolean  *is_job)
{
  *is_job = self->canceller_is_job;

  if (self->canceller == NULL ||
      self->canceller_calls > 0 ||
      !ag_pending_is_done_unlocked (self))
    return NULL;

  return g_steal_pointer (&self->canceller);
}

/* Runs the canceller, whose call was counted in canceller_calls with the
 * lock held, then releases it if the pending was completed meanwhile. */
static void
call_canceller (AgPending  *self,
                gpointer    canceller,
                gboolean    is_job,
                const char *message)
{
  gpointer unused;

  canceller_call (self, canceller, is_job, message);

  ag_pending_lock (self);
  self->canceller_calls--;
  unused = steal_canceller_if_unused_unlocked (self, &is_job);
  ag_pending_unlock (self);

  if (unused != NULL)
    canceller_release (unused, is_job);
}

/* Completes @self with the value in @value (stolen, may be NULL or unset)
 * or with @error (stolen). @value_destroy frees a G_TYPE_POINTER value. */
static gboolean
ag_pending_complete (AgPending      *self,
                     GValue         *value,
                     GDestroyNotify  value_destroy,
                     GError         *error)
{
  g_autoptr(GCancellable) cancellable = NULL;
  gpointer canceller;
  gboolean canceller_is_job;
  AgCallback *callbacks;
  AgPendingState state;
  gboolean notify_taken = FALSE;

  ag_pending_lock (self);

  if (ag_pending_is_done_unlocked (self))
    {
      ag_pending_unlock (self);

      /* The first outcome won: free this one, outside the lock. */
      if (value != NULL && G_IS_VALUE (value))
        {
          if (value_destroy != NULL)
            value_destroy (g_value_get_pointer (value));
          g_value_unset (value);
        }
      g_clear_error (&error);
      return FALSE;
    }

  if (error != NULL)
    {
      if (!self->cancelled &&
          g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          /* Completing with GIO's cancellation error is cancelling. */
          self->cancelled = TRUE;
          extra_unlocked (self)->cancel_message = g_strdup (error->message);
          g_set_object (&cancellable, EXTRA (self, cancellable));
        }
      self->outcome.failure.error = error;
      state = self->cancelled ? AG_PENDING_STATE_CANCELLED
                              : AG_PENDING_STATE_FAILED;
    }
  else
    {
      if (value != NULL && G_IS_VALUE (value))
        {
          self->outcome.value = *value;
          memset (value, 0, sizeof *value);
          if (value_destroy != NULL)
            extra_unlocked (self)->value_destroy = value_destroy;
        }
      state = self->cancelled ? AG_PENDING_STATE_CANCELLED
                              : AG_PENDING_STATE_SUCCEEDED;
    }

  g_atomic_int_set (&self->state, state);

  /* in the order they were added */
  callbacks = callbacks_reverse (g_steal_pointer (&self->callbacks));
  canceller = steal_canceller_if_unused_unlocked (self, &canceller_is_job);

  ag_pending_unlock (self);

  /* No lock held from here on. The reference keeps @self alive should a
   * callback drop the last one its owner had. */
  g_object_ref (self);

  /* A done callback that runs on the pending's own context emits
   * notify::state there (the first such: the others do not); this thread
   * then need not look for handlers, under GLib's global signal lock. */
  for (AgCallback *cb = callbacks; cb != NULL; cb = cb->next)
    if (cb->takes_notify)
      {
        if (notify_taken)
          cb->takes_notify = FALSE;
        notify_taken = TRUE;
      }

  if (cancellable != NULL)
    g_cancellable_cancel (cancellable);

  /* The canceller is released before the done callbacks run, so that whoever
   * set it (a caller's job, say) learns of the completion first. */
  if (canceller != NULL)
    canceller_release (canceller, canceller_is_job);

  run_callbacks (self, callbacks);

  if (!notify_taken)
    ag_pending_notify_state (self);

  g_object_unref (self);

  return TRUE;
}

static gboolean
ag_pending_complete_with_value (AgPending *self,
                                GType      type,
                                ...)
{
  g_auto(GValue) value = G_VALUE_INIT;
  g_autofree char *error_message = NULL;
  va_list args;

  g_value_init (&value, type);
  va_start (args, type);
  G_VALUE_COLLECT (&value, args, 0, &error_message);
  va_end (args);
  g_assert (error_message == NULL);

  return ag_pending_complete (self, &value, NULL, NULL);
}

static void
weak_ref_free (gpointer data,
               GClosure *closure)
{
  GWeakRef *weak_ref = data;

  g_weak_ref_clear (weak_ref);
  g_free (weak_ref);
}

static gboolean ag_pending_cancel_internal (AgPending  *self,
                                            const char *message,
                                            gboolean    if_not_cancelled);

static void
cancellable_cancelled_cb (GCancellable *cancellable,
                          gpointer      data)
{
  g_autoptr(AgPending) self = g_weak_ref_get (data);

  if (self != NULL)
    ag_pending_cancel_internal (self,
                                _("Cancelled through its GCancellable"),
                                TRUE);
}

/* }}} */

/* GObject {{{ */

static void
ag_pending_finalize (GObject *object)
{
  AgPending *self = (AgPending *) object;

  if (self->extra != NULL && self->extra->cancellable != NULL)
    {
      /* The handler holds only a weak reference to @self, so it is safe to
       * disconnect even while another thread emits ::cancelled. */
      g_signal_handler_disconnect (self->extra->cancellable,
                                   self->extra->cancellable_handler);
      g_clear_object (&self->extra->cancellable);
    }

  free_callbacks (callbacks_reverse (g_steal_pointer (&self->callbacks)));

  if (self->canceller != NULL)
    canceller_release (g_steal_pointer (&self->canceller),
                       self->canceller_is_job);

  if (G_IS_VALUE (&self->outcome.value))
    {
      GDestroyNotify value_destroy = EXTRA (self, value_destroy);

      if (value_destroy != NULL)
        value_destroy (g_value_get_pointer (&self->outcome.value));
      g_value_unset (&self->outcome.value);
    }
  else
    g_clear_error (&self->outcome.failure.error);

  if (self->extra != NULL)
    {
      g_free (self->extra->name);
      g_free (self->extra->cancel_message);
      g_clear_pointer (&self->extra->metadata, g_hash_table_unref);
      g_clear_pointer (&self->extra, g_free);
    }
  g_clear_pointer (&self->context, g_main_context_unref);
  g_clear_object (&self->caller);

  if (ag_debug_flags () & AG_DEBUG_LEAKS)
    live_remove (self);

  ag_mutex_clear (&self->lock);

  G_OBJECT_CLASS (ag_pending_parent_class)->finalize (object);
}

static void
ag_pending_get_property (GObject    *object,
                         guint       prop_id,
                         GValue     *value,
                         GParamSpec *pspec)
{
  AgPending *self = AG_PENDING (object);

  switch (prop_id)
    {
    case PROP_FLAGS:
      g_value_set_flags (value, self->flags);
      break;

    case PROP_NAME:
      g_value_set_string (value, pending_name (self));
      break;

    case PROP_STATE:
      g_value_set_enum (value, ag_pending_get_state (self));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ag_pending_set_property (GObject      *object,
                         guint         prop_id,
                         const GValue *value,
                         GParamSpec   *pspec)
{
  AgPending *self = AG_PENDING (object);

  switch (prop_id)
    {
    case PROP_FLAGS:
      self->flags = g_value_get_flags (value);
      break;

    case PROP_NAME:
      /* construct-only: before the pending is shared */
      if (g_value_get_string (value) != NULL)
        extra_unlocked (self)->name = g_value_dup_string (value);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ag_pending_constructed (GObject *object)
{
  AgPending *self = (AgPending *) object;

  G_OBJECT_CLASS (ag_pending_parent_class)->constructed (object);

  if (!(self->flags & AG_PENDING_FLAGS_NO_TRACKING))
    ag_pending_tracker_track_new (self, FALSE);

  if (ag_debug_flags () & AG_DEBUG_LEAKS)
    live_add (self);
}

static void
ag_pending_class_init (AgPendingClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructed = ag_pending_constructed;
  object_class->finalize = ag_pending_finalize;
  object_class->get_property = ag_pending_get_property;
  object_class->set_property = ag_pending_set_property;

  /**
   * AgPending:flags:
   *
   * The flags the pending was created with.
   *
   * Since: 0.1
   */
  properties[PROP_FLAGS] =
    g_param_spec_flags ("flags", NULL, NULL,
                        AG_TYPE_PENDING_FLAGS,
                        AG_PENDING_FLAGS_NONE,
                        (G_PARAM_READWRITE |
                         G_PARAM_CONSTRUCT_ONLY |
                         G_PARAM_STATIC_STRINGS));

  /**
   * AgPending:name:
   *
   * A name for logs and monitors, or %NULL.
   *
   * Since: 0.1
   */
  properties[PROP_NAME] =
    g_param_spec_string ("name", NULL, NULL,
                         NULL,
                         (G_PARAM_READWRITE |
                          G_PARAM_CONSTRUCT_ONLY |
                          G_PARAM_STATIC_STRINGS));

  /**
   * AgPending:state:
   *
   * The state of the pending.
   *
   * Its notifications are emitted on the pending's context
   * ([method@AsyncGObject.Pending.get_context]), whatever thread changed
   * the state. Several changes before that context runs may be reported by
   * one notification: read the property in the handler.
   *
   * Since: 0.1
   */
  properties[PROP_STATE] =
    g_param_spec_enum ("state", NULL, NULL,
                       AG_TYPE_PENDING_STATE,
                       AG_PENDING_STATE_RUNNING,
                       (G_PARAM_READABLE |
                        G_PARAM_EXPLICIT_NOTIFY |
                        G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /* GIO's error quark (G_DEFINE_QUARK ()) writes its static without
   * synchronisation the first time: made here, before any pending exists,
   * rather than by two threads cancelling the first pendings at once. */
  g_io_error_quark ();

  ag_init_i18n ();
}

static void
ag_pending_init (AgPending *self)
{
  ag_mutex_init (&self->lock);
  self->state = AG_PENDING_STATE_RUNNING;
  self->context = g_main_context_ref_thread_default ();
}

/* }}} */

/* Public API {{{ */

/**
 * ag_pending_new:
 *
 * Creates a new pending, not done, with no name and default flags.
 *
 * The same as `g_object_new (AG_TYPE_PENDING, NULL)`.
 *
 * Returns: (transfer full): a new [class@AsyncGObject.Pending]
 *
 * Since: 0.1
 */
AgPending *
ag_pending_new (void)
{
  return g_object_new (AG_TYPE_PENDING, NULL);
}

/**
 * ag_pending_new_full:
 * @flags: flags for the new pending
 * @name: (nullable): a name for logs and monitors
 *
 * Creates a new pending, not done.
 *
 * Returns: (transfer full): a new [class@AsyncGObject.Pending]
 *
 * Since: 0.1
 */
AgPending *
ag_pending_new_full (AgPendingFlags  flags,
                     const char     *name)
{
  return g_object_new (AG_TYPE_PENDING,
                       "flags", flags,
                       "name", name,
                       NULL);
}

/**
 * ag_pending_get_name:
 * @self: a [class@AsyncGObject.Pending]
 *
 * Gets the name given at construction.
 *
 * Returns: (nullable): the name of @self
 *
 * Since: 0.1
 */
const char *
ag_pending_get_name (AgPending *self)
{
  g_return_val_if_fail (AG_IS_PENDING (self), NULL);

  return pending_name (self);
}

/**
 * ag_pending_get_flags:
 * @self: a [class@AsyncGObject.Pending]
 *
 * Gets the flags given at construction.
 *
 * Returns: the flags of @self
 *
 * Since: 0.1
 */
AgPendingFlags
ag_pending_get_flags (AgPending *self)
{
  g_return_val_if_fail (AG_IS_PENDING (self), AG_PENDING_FLAGS_NONE);

  return self->flags;
}

/**
 * ag_pending_get_context:
 * @self: a [class@AsyncGObject.Pending]
 *
 * Gets the context where @self emits its notifications: the thread-default
 * main context of the thread that created it.
 *
 * Returns: (transfer none): the context of @self
 *
 * Since: 0.1
 */
GMainContext *
ag_pending_get_context (AgPending *self)
{
  g_return_val_if_fail (AG_IS_PENDING (self), NULL);

  return self->context;
}

/**
 * ag_pending_set_value:
 * @self: a [class@AsyncGObject.Pending]
 * @value: (nullable): the value, copied; %NULL or an unset value for an
 *   empty outcome
 *
 * Completes @self with @value, unless it is already done: the first outcome
 * wins.
 *
 * Done callbacks run in this thread after every lock is released;
 * [signal@GObject.Object::notify] is emitted on the pending's context.
 * If @self was cancelled before, it ends %AG_PENDING_STATE_CANCELLED.
 *
 * Returns: %TRUE if this call completed @self, %FALSE if it was done already
 *
 * Since: 0.1
 */
gboolean
ag_pending_set_value (AgPending    *self,
                      const GValue *value)
{
  g_auto(GValue) copy = G_VALUE_INIT;

  g_return_val_if_fail (AG_IS_PENDING (self), FALSE);

  /* Copy outside the lock: copying a boxed type runs user code. */
  if (value != NULL && G_IS_VALUE (value))
    {
      g_value_init (&copy, G_VALUE_TYPE (value));
      g_value_copy (value, &copy);
    }

  return ag_pending_complete (self, &copy, NULL, NULL);
}

/**
 * ag_pending_set_error:
 * @self: a [class@AsyncGObject.Pending]
 * @error: (transfer none): why the work failed
 *
 * Completes @self with a copy of @error, unless it is already done: the first
 * outcome wins.
 *
 * An error of %G_IO_ERROR_CANCELLED makes @self cancelled, with the error's
 * message as its cancel message. If @self was cancelled before, it ends
 * %AG_PENDING_STATE_CANCELLED, otherwise %AG_PENDING_STATE_FAILED.
 *
 * Returns: %TRUE if this call completed @self, %FALSE if it was done already
 *
 * Since: 0.1
 */
gboolean
ag_pending_set_error (AgPending    *self,
                      const GError *error)
{
  g_return_val_if_fail (AG_IS_PENDING (self), FALSE);
  g_return_val_if_fail (error != NULL, FALSE);

  return ag_pending_complete (self, NULL, NULL, g_error_copy (error));
}

/**
 * ag_pending_take_error:
 * @self: a [class@AsyncGObject.Pending]
 * @error: (transfer full): why the work failed
 *
 * Like [method@AsyncGObject.Pending.set_error], but takes ownership of
 * @error, which is freed if @self was done already.
 *
 * Returns: %TRUE if this call completed @self, %FALSE if it was done already
 *
 * Since: 0.1
 */
gboolean
ag_pending_take_error (AgPending *self,
                       GError    *error)
{
  if (!AG_IS_PENDING (self))
    g_clear_error (&error);

  g_return_val_if_fail (AG_IS_PENDING (self), FALSE);
  g_return_val_if_fail (error != NULL, FALSE);

  return ag_pending_complete (self, NULL, NULL, error);
}

/**
 * ag_pending_set_int:
 * @self: a [class@AsyncGObject.Pending]
 * @value: the value
 *
 * Completes @self with @value, stored as a %G_TYPE_INT64. See
 * [method@AsyncGObject.Pending.set_value].
 *
 * Returns: %TRUE if this call completed @self, %FALSE if it was done already
 *
 * Since: 0.1
 */
gboolean
ag_pending_set_int (AgPending *self,
                    gint64     value)
{
  g_return_val_if_fail (AG_IS_PENDING (self), FALSE);

  return ag_pending_complete_with_value (self, G_TYPE_INT64, value);
}

/**
 * ag_pending_set_boolean:
 * @self: a [class@AsyncGObject.Pending]
 * @value: the value
 *
 * Completes @self with @value, stored as a %G_TYPE_BOOLEAN. See
 * [method@AsyncGObject.Pending.set_value].
 *
 * Returns: %TRUE if this call completed @self, %FALSE if it was done already
 *
 * Since: 0.1
 */
gboolean
ag_pending_set_boolean (AgPending *self,
                        gboolean   value)
{
  g_return_val_if_fail (AG_IS_PENDING (self), FALSE);

  return ag_pending_complete_with_value (self, G_TYPE_BOOLEAN, value);
}

/**
 * ag_pending_set_double:
 * @self: a [class@AsyncGObject.Pending]
 * @value: the value
 *
 * Completes @self with @value, stored as a %G_TYPE_DOUBLE. See
 * [method@AsyncGObject.Pending.set_value].
 *
 * Returns: %TRUE if this call completed @self, %FALSE if it was done already
 *
 * Since: 0.1
 */
gboolean
ag_pending_set_double (AgPending *self,
                       double     value)
{
  g_return_val_if_fail (AG_IS_PENDING (self), FALSE);

  return ag_pending_complete_with_value (self, G_TYPE_DOUBLE, value);
}

/**
 * ag_pending_set_string:
 * @self: a [class@AsyncGObject.Pending]
 * @value: (nullable): the value, copied
 *
 * Completes @self with a copy of @value, stored as a %G_TYPE_STRING. See
 * [method@AsyncGObject.Pending.set_value].
 *
 * Returns: %TRUE if this call completed @self, %FALSE if it was done already
 *
 * Since: 0.1
 */
gboolean
ag_pending_set_string (AgPending  *self,
                       const char *value)
{
  g_return_val_if_fail (AG_IS_PENDING (self), FALSE);

  return ag_pending_complete_with_value (self, G_TYPE_STRING, value);
}

/**
 * ag_pending_set_object:
 * @self: a [class@AsyncGObject.Pending]
 * @object: (type GObject.Object) (nullable): the value
 *
 * Completes @self with a new reference to @object, stored with the type of
 * @object (%G_TYPE_OBJECT when %NULL). See
 * [method@AsyncGObject.Pending.set_value].
 *
 * Returns: %TRUE if this call completed @self, %FALSE if it was done already
 *
 * Since: 0.1
 */
gboolean
ag_pending_set_object (AgPending *self,
                       gpointer   object)
{
  g_return_val_if_fail (AG_IS_PENDING (self), FALSE);
  g_return_val_if_fail (object == NULL || G_IS_OBJECT (object), FALSE);

  return ag_pending_complete_with_value (self,
                                         object ? G_OBJECT_TYPE (object)
                                                : G_TYPE_OBJECT,
                                         object);
}

/**
 * ag_pending_set_pointer:
 * @self: a [class@AsyncGObject.Pending]
 * @pointer: (nullable): the value
 * @destroy: (nullable): frees @pointer
 *
 * Completes @self with @pointer, stored as a %G_TYPE_POINTER, which @self
 * then owns: @destroy runs when @self is finalized, or at once if @self was
 * done already. See [method@AsyncGObject.Pending.set_value].
 *
 * Returns: %TRUE if this call completed @self, %FALSE if it was done already
 *
 * Since: 0.1
 */
gboolean
ag_pending_set_pointer (AgPending      *self,
                        gpointer        pointer,
                        GDestroyNotify  destroy)
{
  g_auto(GValue) value = G_VALUE_INIT;

  g_return_val_if_fail (AG_IS_PENDING (self), FALSE);

  g_value_init (&value, G_TYPE_POINTER);
  g_value_set_pointer (&value, pointer);

  return ag_pending_complete (self, &value,
                              pointer != NULL ? destroy : NULL, NULL);
}

/* The outcome of @self, done and not cancelled: it no longer changes
 * (written before the state was published), so it is read without the
 * lock. As ag_pending_peek (). */
static gboolean
peek_done (AgPending     *self,
           const GValue **value,
           GError       **error)
{
  GError *failure = outcome_error (self);

  if (failure != NULL)
    {
      if (error != NULL)
        *error = g_error_copy (failure);
      return FALSE;
    }

  *value = G_IS_VALUE (&self->outcome.value) ? &self->outcome.value : NULL;
  return TRUE;
}

/* Reads the outcome: TRUE on success, with the stored value in @value
 * (NULL for an empty outcome), not a copy: it is immutable once done and
 * lives as long as @self. Else FALSE and the error. */
static gboolean
ag_pending_peek (AgPending     *self,
                 const GValue **value,
                 GError       **error)
{
  gint state = g_atomic_int_get (&self->state);

  /* Without the lock, which another thread may still hold for a moment
   * (the worker that completed it, a late canceller), as the thread that
   * delivers the result reads it. */
  if (state == AG_PENDING_STATE_SUCCEEDED || state == AG_PENDING_STATE_FAILED)
    return peek_done (self, value, error);

  ag_pending_lock (self);

  if (self->cancelled)
    {
      const char *message = EXTRA (self, cancel_message);

      if (message != NULL && message[0] != '\0')
        g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                             message);
      else
        g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                             _("The operation was cancelled"));
      ag_pending_unlock (self);
      return FALSE;
    }

  if (!ag_pending_is_done_unlocked (self))
    {
      ag_pending_unlock (self);
      g_set_error (error, AG_ERROR, AG_ERROR_INVALID_STATE,
                   _("The outcome of “%s” is read before it is done"),
                   pending_display_name (self));
      return FALSE;
    }

  /* done since the first look, and not cancelled */
  ag_pending_unlock (self);

  return peek_done (self, value, error);
}

/* Reads the outcome: TRUE and a copy of the value (if @value is not NULL)
 * on success, else FALSE and the error. */
static gboolean
ag_pending_read (AgPending  *self,
                 GValue     *value,
                 GError    **error)
{
  const GValue *stored;

  if (!ag_pending_peek (self, &stored, error))
    return FALSE;

  if (value != NULL && stored != NULL)
    {
      g_value_init (value, G_VALUE_TYPE (stored));
      g_value_copy (stored, value);
    }

  return TRUE;
}

/* Reads the stored value for a typed getter (see ag_pending_peek ()),
 * checking its type with @type_ok. */
static gboolean
ag_pending_read_typed (AgPending     *self,
                       const GValue **value,
                       gboolean       empty_ok,
                       gboolean     (*type_ok) (GType type),
                       const char    *wanted,
                       GError       **error)
{
  if (!ag_pending_peek (self, value, error))
    return FALSE;

  if (*value == NULL)
    {
      if (empty_ok)
        return TRUE;

      g_set_error (error, AG_ERROR, AG_ERROR_TYPE_MISMATCH,
                   _("The outcome of “%s” is empty, not a %s"),
                   pending_display_name (self), wanted);
      return FALSE;
    }

  if (!type_ok (G_VALUE_TYPE (*value)))
    {
      g_set_error (error, AG_ERROR, AG_ERROR_TYPE_MISMATCH,
                   _("The outcome of “%s” is a %s, not a %s"),
                   pending_display_name (self),
                   G_VALUE_TYPE_NAME (*value), wanted);
      return FALSE;
    }

  return TRUE;
}

static gboolean
type_is_integer (GType type)
{
  switch (G_TYPE_FUNDAMENTAL (type))
    {
    case G_TYPE_CHAR:
    case G_TYPE_UCHAR:
    case G_TYPE_INT:
    case G_TYPE_UINT:
    case G_TYPE_LONG:
    case G_TYPE_ULONG:
    case G_TYPE_INT64:
    case G_TYPE_UINT64:
    case G_TYPE_ENUM:
    case G_TYPE_FLAGS:
      return TRUE;
    default:
      return FALSE;
    }
}

static gboolean
type_is_number (GType type)
{
  return type_is_integer (type) ||
         G_TYPE_FUNDAMENTAL (type) == G_TYPE_FLOAT ||
         G_TYPE_FUNDAMENTAL (type) == G_TYPE_DOUBLE;
}

static gboolean
type_is_boolean (GType type)
{
  return G_TYPE_FUNDAMENTAL (type) == G_TYPE_BOOLEAN;
}

static gboolean
type_is_string (GType type)
{
  return G_TYPE_FUNDAMENTAL (type) == G_TYPE_STRING;
}

static gboolean
type_is_object (GType type)
{
  return g_type_is_a (type, G_TYPE_OBJECT) ||
         G_TYPE_FUNDAMENTAL (type) == G_TYPE_INTERFACE;
}

static gboolean
type_is_pointer (GType type)
{
  return G_TYPE_FUNDAMENTAL (type) == G_TYPE_POINTER;
}

/**
 * ag_pending_get_value:
 * @self: a [class@AsyncGObject.Pending]
 * @value: (out caller-allocates) (optional): an uninitialized
 *   [struct@GObject.Value] (`G_VALUE_INIT`) to receive a copy of the value
 * @error: return location for the error
 *
 * Reads the outcome of @self.
 *
 * On success, @value is initialized to a copy of the value; it is left
 * unset (`G_VALUE_INIT`) for an empty outcome. It fails with
 * %G_IO_ERROR_CANCELLED carrying the accumulated cancel messages when @self
 * was cancelled (even when not done yet, as with
 * [method@Gio.Cancellable.set_error_if_cancelled]), with the stored error
 * when @self failed, and with %AG_ERROR_INVALID_STATE when @self is neither
 * done nor cancelled.
 *
 * Returns: %TRUE if @self succeeded
 *
 * Since: 0.1
 */
gboolean
ag_pending_get_value (AgPending  *self,
                      GValue     *value,
                      GError    **error)
{
  g_return_val_if_fail (AG_IS_PENDING (self), FALSE);
  g_return_val_if_fail (value == NULL || G_VALUE_TYPE (value) == 0, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return ag_pending_read (self, value, error);
}

/**
 * ag_pending_get_int:
 * @self: a [class@AsyncGObject.Pending]
 * @error: return location for the error
 *
 * Reads an integer outcome: a value of any integer type (also enums and
 * flags), converted to a #gint64.
 *
 * Fails as [method@AsyncGObject.Pending.get_value] does, and with
 * %AG_ERROR_TYPE_MISMATCH when the value is empty or of another type.
 *
 * Returns: the value, or 0 on error
 *
 * Since: 0.1
 */
gint64
ag_pending_get_int (AgPending  *self,
                    GError    **error)
{
  g_auto(GValue) converted = G_VALUE_INIT;
  const GValue *value;

  g_return_val_if_fail (AG_IS_PENDING (self), 0);
  g_return_val_if_fail (error == NULL || *error == NULL, 0);

  if (!ag_pending_read_typed (self, &value, FALSE, type_is_integer,
                              "gint64", error))
    return 0;

  switch (G_TYPE_FUNDAMENTAL (G_VALUE_TYPE (value)))
    {
    case G_TYPE_INT64:
      return g_value_get_int64 (value);
    case G_TYPE_ENUM:
      return g_value_get_enum (value);
    case G_TYPE_FLAGS:
      return g_value_get_flags (value);
    default:
      g_value_init (&converted, G_TYPE_INT64);
      g_value_transform (value, &converted);
      return g_value_get_int64 (&converted);
    }
}

/**
 * ag_pending_get_boolean:
 * @self: a [class@AsyncGObject.Pending]
 * @error: return location for the error
 *
 * Reads a boolean outcome.
 *
 * Fails as [method@AsyncGObject.Pending.get_value] does, and with
 * %AG_ERROR_TYPE_MISMATCH when the value is empty or of another type.
 *
 * Returns: the value, or %FALSE on error
 *
 * Since: 0.1
 */
gboolean
ag_pending_get_boolean (AgPending  *self,
                        GError    **error)
{
  const GValue *value;

  g_return_val_if_fail (AG_IS_PENDING (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!ag_pending_read_typed (self, &value, FALSE, type_is_boolean,
                              "gboolean", error))
    return FALSE;

  return g_value_get_boolean (value);
}

/**
 * ag_pending_get_double:
 * @self: a [class@AsyncGObject.Pending]
 * @error: return location for the error
 *
 * Reads a number outcome: a floating point or integer value, converted to a
 * double.
 *
 * Fails as [method@AsyncGObject.Pending.get_value] does, and with
 * %AG_ERROR_TYPE_MISMATCH when the value is empty or of another type.
 *
 * Returns: the value, or 0 on error
 *
 * Since: 0.1
 */
double
ag_pending_get_double (AgPending  *self,
                       GError    **error)
{
  g_auto(GValue) converted = G_VALUE_INIT;
  const GValue *value;

  g_return_val_if_fail (AG_IS_PENDING (self), 0);
  g_return_val_if_fail (error == NULL || *error == NULL, 0);

  if (!ag_pending_read_typed (self, &value, FALSE, type_is_number,
                              "double", error))
    return 0;

  switch (G_TYPE_FUNDAMENTAL (G_VALUE_TYPE (value)))
    {
    case G_TYPE_DOUBLE:
      return g_value_get_double (value);
    case G_TYPE_ENUM:
      return g_value_get_enum (value);
    case G_TYPE_FLAGS:
      return g_value_get_flags (value);
    default:
      g_value_init (&converted, G_TYPE_DOUBLE);
      g_value_transform (value, &converted);
      return g_value_get_double (&converted);
    }
}

/**
 * ag_pending_get_string:
 * @self: a [class@AsyncGObject.Pending]
 * @error: return location for the error
 *
 * Reads a string outcome. An empty outcome reads as %NULL.
 *
 * Fails as [method@AsyncGObject.Pending.get_value] does, and with
 * %AG_ERROR_TYPE_MISMATCH when the value is of another type.
 *
 * Returns: (transfer full) (nullable): a copy of the string
 *
 * Since: 0.1
 */
char *
ag_pending_get_string (AgPending  *self,
                       GError    **error)
{
  const GValue *value;

  g_return_val_if_fail (AG_IS_PENDING (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!ag_pending_read_typed (self, &value, TRUE, type_is_string,
                              "string", error))
    return NULL;

  return value != NULL ? g_value_dup_string (value) : NULL;
}

/**
 * ag_pending_get_object:
 * @self: a [class@AsyncGObject.Pending]
 * @error: return location for the error
 *
 * Reads an object outcome. An empty outcome reads as %NULL.
 *
 * Fails as [method@AsyncGObject.Pending.get_value] does, and with
 * %AG_ERROR_TYPE_MISMATCH when the value is of another type.
 *
 * Returns: (transfer full) (type GObject.Object) (nullable): a new
 *   reference to the object
 *
 * Since: 0.1
 */
gpointer
ag_pending_get_object (AgPending  *self,
                       GError    **error)
{
  const GValue *value;

  g_return_val_if_fail (AG_IS_PENDING (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!ag_pending_read_typed (self, &value, TRUE, type_is_object,
                              "GObject", error))
    return NULL;

  return value != NULL ? g_value_dup_object (value) : NULL;
}

/**
 * ag_pending_get_pointer:
 * @self: a [class@AsyncGObject.Pending]
 * @error: return location for the error
 *
 * Reads a pointer outcome, set with
 * [method@AsyncGObject.Pending.set_pointer]. An empty outcome reads as
 * %NULL. The pointer stays owned by @self.
 *
 * Fails as [method@AsyncGObject.Pending.get_value] does, and with
 * %AG_ERROR_TYPE_MISMATCH when the value is of another type.
 *
 * Returns: (transfer none) (nullable): the pointer
 *
 * Since: 0.1
 */
gpointer
ag_pending_get_pointer (AgPending  *self,
                        GError    **error)
{
  const GValue *value;

  g_return_val_if_fail (AG_IS_PENDING (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!ag_pending_read_typed (self, &value, TRUE, type_is_pointer,
                              "gpointer", error))
    return NULL;

  return value != NULL ? g_value_get_pointer (value) : NULL;
}

/**
 * ag_pending_dup_error:
 * @self: a [class@AsyncGObject.Pending]
 *
 * Gets the error that reading the outcome of a done or cancelled pending
 * gives: %G_IO_ERROR_CANCELLED when cancelled, the stored error when failed.
 *
 * Returns: (transfer full) (nullable): a copy of the error, or %NULL when
 *   @self succeeded or is still running
 *
 * Since: 0.1
 */
GError *
ag_pending_dup_error (AgPending *self)
{
  GError *error = NULL;

  g_return_val_if_fail (AG_IS_PENDING (self), NULL);

  /* The state, read atomically, says cancelled or done. */
  if (ag_pending_get_state (self) == AG_PENDING_STATE_RUNNING)
    return NULL;

  ag_pending_read (self, NULL, &error);
  return error;
}

void
ag_pending_set_caller (AgPending *self,
                       AgCaller  *caller)
{
  g_set_object (&self->caller, caller);
}

AgCaller *
ag_pending_get_caller (AgPending *self)
{
  return self->caller;
}

gboolean
ag_pending_propagate_error (AgPending  *self,
                            GError    **error)
{
  return ag_pending_read (self, NULL, error);
}

gboolean
ag_pending_take_value (AgPending *self,
                       GValue    *value)
{
  return ag_pending_complete (self, value, NULL, NULL);
}

gboolean
ag_pending_copy_outcome (AgPending *self,
                         AgPending *source)
{
  g_auto(GValue) value = G_VALUE_INIT;
  GError *error = NULL;

  g_return_val_if_fail (ag_pending_is_done (source), FALSE);

  if (ag_pending_read (source, &value, &error))
    return ag_pending_complete (self, &value, NULL, NULL);

  return ag_pending_complete (self, NULL, NULL, error);
}

static gboolean
ag_pending_cancel_internal (AgPending  *self,
                            const char *message,
                            gboolean    if_not_cancelled)
{
  g_autoptr(GCancellable) cancellable = NULL;
  g_autofree char *message_copy = NULL;
  gpointer canceller = NULL;
  gboolean canceller_is_job = FALSE;
  gboolean state_changed = FALSE;

  ag_pending_lock (self);

  if (ag_pending_is_done_unlocked (self) ||
      (if_not_cancelled && self->cancelled))
    {
      ag_pending_unlock (self);
      return FALSE;
    }

  if (message != NULL && message[0] != '\0')
    {
      AgPendingExtra *extra = extra_unlocked (self);
      char *joined;

      if (extra->cancel_message != NULL)
        joined = g_strconcat (extra->cancel_message, "\n", message, NULL);
      else
        joined = g_strdup (message);
      g_free (extra->cancel_message);
      extra->cancel_message = joined;
    }

  if (!self->cancelled)
    {
      self->cancelled = TRUE;
      g_set_object (&cancellable, EXTRA (self, cancellable));
    }

  if (g_atomic_int_get (&self->state) == AG_PENDING_STATE_RUNNING)
    {
      g_atomic_int_set (&self->state, AG_PENDING_STATE_CANCELLING);
      state_changed = TRUE;
    }

  if (self->canceller != NULL)
    {
      canceller = self->canceller;
      canceller_is_job = self->canceller_is_job;
      self->canceller_calls++;
    }

  ag_pending_unlock (self);

  g_object_ref (self);

  if (canceller != NULL)
    call_canceller (self, canceller, canceller_is_job, message);

  if (cancellable != NULL)
    g_cancellable_cancel (cancellable);

  if (state_changed)
    ag_pending_notify_state (self);

  g_object_unref (self);

  return TRUE;
}

/**
 * ag_pending_cancel:
 * @self: a [class@AsyncGObject.Pending]
 * @message: (nullable): why, for logs and the cancellation error
 *
 * Requests the cancellation of @self.
 *
 * As with [method@Gio.Cancellable.cancel], this is a request: @self is done
 * only when its canceller or the work behind it sets the outcome, and then
 * it ends %AG_PENDING_STATE_CANCELLED whatever outcome was set. Until then
 * its state is %AG_PENDING_STATE_CANCELLING. Messages of successive
 * requests accumulate, joined by newlines.
 *
 * While @self is not done, each call calls the canceller (see
 * [method@AsyncGObject.Pending.set_canceller]) with @message, in this
 * thread, with no lock held. The first call also cancels the
 * [class@Gio.Cancellable] of [method@AsyncGObject.Pending.get_cancellable].
 *
 * Returns: %TRUE if @self is now cancelled, %FALSE if it was done already
 *   (then nothing changes)
 *
 * Since: 0.1
 */
gboolean
ag_pending_cancel (AgPending  *self,
                   const char *message)
{
  g_return_val_if_fail (AG_IS_PENDING (self), FALSE);

  return ag_pending_cancel_internal (self, message, FALSE);
}

/**
 * ag_pending_is_done:
 * @self: a [class@AsyncGObject.Pending]
 *
 * Whether the outcome of @self is set.
 *
 * Returns: %TRUE if @self is done
 *
 * Since: 0.1
 */
gboolean
ag_pending_is_done (AgPending *self)
{
  g_return_val_if_fail (AG_IS_PENDING (self), FALSE);

  return ag_pending_is_done_unlocked (self);
}

/**
 * ag_pending_is_cancelled:
 * @self: a [class@AsyncGObject.Pending]
 *
 * Whether cancellation of @self was requested, done or not.
 *
 * Returns: %TRUE if @self is cancelled
 *
 * Since: 0.1
 */
gboolean
ag_pending_is_cancelled (AgPending *self)
{
  AgPendingState state;

  g_return_val_if_fail (AG_IS_PENDING (self), FALSE);

  state = g_atomic_int_get (&self->state);
  return state == AG_PENDING_STATE_CANCELLING ||
         state == AG_PENDING_STATE_CANCELLED;
}

/**
 * ag_pending_get_state:
 * @self: a [class@AsyncGObject.Pending]
 *
 * Gets the state of @self.
 *
 * Returns: the state
 *
 * Since: 0.1
 */
AgPendingState
ag_pending_get_state (AgPending *self)
{
  g_return_val_if_fail (AG_IS_PENDING (self), AG_PENDING_STATE_RUNNING);

  return g_atomic_int_get (&self->state);
}

/**
 * ag_pending_dup_cancel_message:
 * @self: a [class@AsyncGObject.Pending]
 *
 * Gets the messages given to [method@AsyncGObject.Pending.cancel], joined
 * by newlines.
 *
 * Returns: (transfer full) (nullable): the messages, or %NULL if none was
 *   given
 *
 * Since: 0.1
 */
char *
ag_pending_dup_cancel_message (AgPending *self)
{
  char *message;

  g_return_val_if_fail (AG_IS_PENDING (self), NULL);

  ag_pending_lock (self);
  message = g_strdup (EXTRA (self, cancel_message));
  ag_pending_unlock (self);

  return message;
}

/* Sets @canceller (see AgPending.canceller), or refuses it (with a warning)
 * if @self has one, or releases it at once if @self is done. */
static void
set_canceller (AgPending *self,
               gpointer   canceller,
               gboolean   is_job)
{
  g_autofree char *message = NULL;
  gboolean call = FALSE;

  ag_pending_lock (self);

  if (self->has_canceller)
    {
      ag_pending_unlock (self);
      g_warning ("%s: %s already has a canceller; the new one is ignored",
                 "ag_pending_set_canceller", pending_display_name (self));
      canceller_release (canceller, is_job);
      return;
    }

  self->has_canceller = TRUE;

  if (ag_pending_is_done_unlocked (self))
    {
      ag_pending_unlock (self);
      canceller_release (canceller, is_job);
      return;
    }

  self->canceller = canceller;
  self->canceller_is_job = is_job;

  if (self->cancelled)
    {
      message = g_strdup (EXTRA (self, cancel_message));
      self->canceller_calls++;
      call = TRUE;
    }

  ag_pending_unlock (self);

  if (call)
    {
      g_object_ref (self);
      call_canceller (self, canceller, is_job, message);
      g_object_unref (self);
    }
}

/**
 * ag_pending_set_canceller:
 * @self: a [class@AsyncGObject.Pending]
 * @canceller: (scope notified) (closure user_data) (destroy destroy): the
 *   function that stops the work behind @self
 * @user_data: data for @canceller
 * @destroy: (nullable): frees @user_data
 *
 * Sets the function that [method@AsyncGObject.Pending.cancel] calls while
 * @self is not done. It is what turns a cancellation request into an
 * outcome: it stops the work, which then sets the outcome, or it sets it
 * itself.
 *
 * A pending has at most one canceller: a second one is refused with a
 * warning (and its @destroy runs at once). If @self was cancelled already,
 * @canceller is called at once with the accumulated cancel messages. If
 * @self is done, the canceller is never called and @destroy runs at once.
 * Otherwise @destroy runs once @self is done (before its done callbacks)
 * and no call of @canceller is in progress, or when @self is finalized.
 *
 * Since: 0.1
 */
void
ag_pending_set_canceller (AgPending       *self,
                          AgCancellerFunc  canceller,
                          gpointer         user_data,
                          GDestroyNotify   destroy)
{
  AgCanceller *record;

  g_return_if_fail (AG_IS_PENDING (self));
  g_return_if_fail (canceller != NULL);

  record = g_new (AgCanceller, 1);
  record->func = canceller;
  record->data = user_data;
  record->destroy = destroy;
  set_canceller (self, record, FALSE);
}

void
ag_pending_set_job_canceller (AgPending *self,
                              gpointer   job)
{
  set_canceller (self, job, TRUE);
}

/**
 * ag_pending_add_done_callback:
 * @self: a [class@AsyncGObject.Pending]
 * @callback: (scope notified) (closure user_data) (destroy destroy): called
 *   once when @self is done
 * @user_data: data for @callback
 * @destroy: (nullable): frees @user_data
 *
 * Adds a callback to run when @self is done.
 *
 * Callbacks run in the order they were added, each exactly once, in the
 * thread that completes @self, after every lock is released. If @self is
 * done already, @callback runs at once, in this thread, before this
 * function returns. @destroy runs right after @callback, or when the
 * callback is removed with [method@AsyncGObject.Pending.remove_done_callback],
 * or when @self is finalized without being done.
 *
 * Since: 0.1
 */
void
ag_pending_add_done_callback (AgPending      *self,
                              AgDoneFunc      callback,
                              gpointer        user_data,
                              GDestroyNotify  destroy)
{
  g_return_if_fail (AG_IS_PENDING (self));
  g_return_if_fail (callback != NULL);

  if (!ag_pending_add_done_callback_if_running (self, callback, user_data,
                                                destroy))
    {
      callback (self, user_data);
      if (destroy != NULL)
        destroy (user_data);
    }
}

/* Adds @cb, which the caller filled in, to the done callbacks. A node on a
 * caller is never freed here (see AgCallback.on_caller). Returns FALSE,
 * leaving @cb alone, if @self is done already. */
gboolean
ag_pending_add_done_node_if_running (AgPending  *self,
                                     AgCallback *cb)
{
  if (ag_pending_is_done_unlocked (self))
    return FALSE;

  ag_pending_lock (self);

  if (ag_pending_is_done_unlocked (self))
    {
      ag_pending_unlock (self);
      return FALSE;
    }

  cb->next = self->callbacks;
  self->callbacks = cb;

  ag_pending_unlock (self);

  return TRUE;
}

gboolean
ag_pending_add_done_callback_if_running (AgPending      *self,
                                         AgDoneFunc      callback,
                                         gpointer        user_data,
                                         GDestroyNotify  destroy)
{
  AgCallback *cb;

  if (ag_pending_is_done_unlocked (self))
    return FALSE;

  cb = g_new (AgCallback, 1);
  cb->func = callback;
  cb->data = user_data;
  cb->destroy = destroy;
  cb->on_caller = FALSE;
  cb->takes_notify = FALSE;
  cb->delivered = FALSE;

  if (!ag_pending_add_done_node_if_running (self, cb))
    {
      g_free (cb);
      return FALSE;
    }

  return TRUE;
}

/**
 * ag_pending_remove_done_callback: (skip)
 * @self: a [class@AsyncGObject.Pending]
 * @callback: the callback
 * @user_data: its data
 *
 * Removes every done callback added with @callback and @user_data that has
 * not run yet, running their destroy notifies.
 *
 * Returns: how many callbacks were removed
 *
 * Since: 0.1
 */
guint
ag_pending_remove_done_callback (AgPending  *self,
                                 AgDoneFunc  callback,
                                 gpointer    user_data)
{
  AgCallback *removed = NULL;
  AgCallback **link;
  guint n = 0;

  g_return_val_if_fail (AG_IS_PENDING (self), 0);
  g_return_val_if_fail (callback != NULL, 0);

  ag_pending_lock (self);

  link = &self->callbacks;
  while (*link != NULL)
    {
      AgCallback *cb = *link;

      if (!cb->on_caller && cb->func == callback && cb->data == user_data)
        {
          *link = cb->next;
          cb->next = removed;
          removed = cb;
          n++;
        }
      else
        link = &cb->next;
    }

  ag_pending_unlock (self);

  free_callbacks (removed);

  return n;
}

/* Removes @cb (a node added with ag_pending_add_done_node_if_running ())
 * if it has not run yet, and drops it (see free_callbacks ()). @cb is only
 * compared, never read: it may be gone. Returns whether it was there. */
gboolean
ag_pending_remove_done_node (AgPending  *self,
                             AgCallback *cb)
{
  AgCallback **link;
  gboolean found = FALSE;

  ag_pending_lock (self);

  for (link = &self->callbacks; *link != NULL; link = &(*link)->next)
    if (*link == cb)
      {
        *link = cb->next;
        cb->next = NULL;
        found = TRUE;
        break;
      }

  ag_pending_unlock (self);

  if (found)
    free_callbacks (cb);

  return found;
}

/* wait_sync {{{ */

typedef struct
{
  AgMutex  mutex;
  AgCond   cond;
  gboolean done;
} SyncWaiter;

static void
sync_waiter_done_cb (AgPending *pending,
                     gpointer   data)
{
  SyncWaiter *waiter = data;

  /* The waiter lives on the waiting thread's stack: it must not be touched
   * after the unlock. */
  ag_mutex_lock (&waiter->mutex);
  waiter->done = TRUE;
  ag_cond_signal (&waiter->cond);
  ag_mutex_unlock (&waiter->mutex);
}

/**
 * ag_pending_wait_sync:
 * @self: a [class@AsyncGObject.Pending]
 * @timeout: the most seconds to wait; negative to wait without limit
 * @error: return location for the error
 *
 * Blocks the calling thread until @self is done or @timeout seconds have
 * passed, then reads its outcome.
 *
 * Never call this in the thread that must complete @self: it would wait
 * for ever (or until @timeout). When @self is the pending of a job of a
 * [class@AsyncGObject.Caller] whose thread is this one, it fails at once
 * with %AG_ERROR_WOULD_DEADLOCK instead. (The thread of a guest caller is
 * the last thread that iterated its context, or, before any did, the thread
 * whose thread-default context it is, if any.) Waiting does not cancel
 * @self, even when it times out. In a thread that runs a main loop, prefer
 * [method@AsyncGObject.Pending.wait_async].
 *
 * Returns: %TRUE if @self succeeded; %FALSE with %G_IO_ERROR_TIMED_OUT if it
 *   was not done in time, or with the error of @self (see
 *   [method@AsyncGObject.Pending.get_value])
 *
 * Since: 0.1
 */
gboolean
ag_pending_wait_sync (AgPending  *self,
                      double      timeout,
                      GError    **error)
{
  g_return_val_if_fail (AG_IS_PENDING (self), FALSE);
  g_return_val_if_fail (!isnan (timeout), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!ag_pending_is_done (self) && self->caller != NULL &&
      ag_caller_runs_in_this_thread (self->caller))
    {
      g_set_error (error, AG_ERROR, AG_ERROR_WOULD_DEADLOCK,
                   _("Waiting for “%s” would block the thread of its caller "
                     "“%s”, the one thread that can complete it"),
                   pending_display_name (self),
                   ag_caller_get_name (self->caller));
      return FALSE;
    }

  if (!ag_pending_is_done (self))
    {
      SyncWaiter waiter;
      gboolean timed_out = FALSE;

      ag_mutex_init (&waiter.mutex);
      ag_cond_init (&waiter.cond);
      waiter.done = FALSE;

      if (ag_pending_add_done_callback_if_running (self, sync_waiter_done_cb,
                                                   &waiter, NULL))
        {
          gint64 end_time = -1;

          if (timeout >= 0 && timeout < G_MAXINT64 / (2.0 * G_USEC_PER_SEC))
            end_time = g_get_monotonic_time ()
                       + (gint64) (timeout * G_USEC_PER_SEC);

          ag_mutex_lock (&waiter.mutex);
          while (!waiter.done)
            {
              if (end_time < 0)
                ag_cond_wait (&waiter.cond, &waiter.mutex);
              else if (!ag_cond_wait_until (&waiter.cond, &waiter.mutex,
                                            end_time))
                break;
            }
          timed_out = !waiter.done;
          ag_mutex_unlock (&waiter.mutex);

          if (timed_out &&
              ag_pending_remove_done_callback (self, sync_waiter_done_cb,
                                               &waiter) == 0)
            {
              /* Completion took the callback an instant ago: it is done,
               * and the callback still needs the waiter. */
              ag_mutex_lock (&waiter.mutex);
              while (!waiter.done)
                ag_cond_wait (&waiter.cond, &waiter.mutex);
              ag_mutex_unlock (&waiter.mutex);
              timed_out = FALSE;
            }
        }

      ag_cond_clear (&waiter.cond);
      ag_mutex_clear (&waiter.mutex);

      if (timed_out)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                       _("Timed out after %g seconds waiting for “%s”"),
                       timeout, pending_display_name (self));
          return FALSE;
        }
    }

  return ag_pending_read (self, NULL, error);
}

/* }}} */

/* wait_async {{{ */

typedef struct
{
  gint          ref_count;  /* (atomic) */
  gint          finished;   /* (atomic): set once by whoever ends the wait */
  AgPending    *pending;    /* owned; immutable */
  GTask        *task;       /* owned; taken by whoever ends the wait */
  GSource      *timeout;    /* owned; immutable once attached */
  GCancellable *cancellable;  /* owned; immutable */
  gulong        cancelled_id;
  double        seconds;
  gboolean      protect;
  gpointer      done_on;    /* (atomic) set once; see ag_pending_wait_async () */
} WaitData;

static WaitData *
wait_data_ref (WaitData *data)
{
  g_atomic_int_inc (&data->ref_count);
  return data;
}

static void
wait_data_unref (gpointer ptr)
{
  WaitData *data = ptr;

  if (!g_atomic_int_dec_and_test (&data->ref_count))
    return;

  g_assert (data->task == NULL);
  g_clear_pointer (&data->timeout, g_source_unref);
  g_clear_object (&data->cancellable);
  g_clear_object (&data->pending);
  g_free (data);
}

static void wait_done_cb (AgPending *pending,
                          gpointer   user_data);

/* Removes the wait's done callback from the pending, if it has not run. */
static void
wait_data_remove_callback (WaitData *data)
{
  gpointer done_on = g_atomic_pointer_get (&data->done_on);

  if (done_on != NULL)
    ag_caller_remove_done_on (data->pending, done_on);
  else
    ag_pending_remove_done_callback (data->pending, wait_done_cb, data);
}

static void
wait_data_detach (WaitData *data,
                  gboolean  from_done_callback)
{
  if (!from_done_callback)
    wait_data_remove_callback (data);

  if (data->timeout != NULL)
    g_source_destroy (data->timeout);

  /* Never disconnect from inside a ::cancelled emission (GLib would wait for
   * the emission to end, for ever). An emission in progress means the
   * cancellable is cancelled; the handler then stays connected until the
   * cancellable goes, and finds the wait finished. */
  if (data->cancellable != NULL && data->cancelled_id != 0 &&
      !g_cancellable_is_cancelled (data->cancellable))
    g_cancellable_disconnect (data->cancellable, data->cancelled_id);
}

static void
wait_done_cb (AgPending *pending,
              gpointer   user_data)
{
  WaitData *data = user_data;
  g_autoptr(GTask) task = NULL;

  if (!g_atomic_int_compare_and_exchange (&data->finished, 0, 1))
    return;

  task = g_steal_pointer (&data->task);
  wait_data_detach (data, TRUE);
  g_task_return_boolean (task, TRUE);
}

/* The destroy notify of a wait delivered through a caller: if the caller
 * stopped before it delivered, the wait still ends (the pending is done),
 * through GTask's own idle source. */
static void
wait_done_on_destroy (gpointer user_data)
{
  WaitData *data = user_data;

  wait_done_cb (data->pending, data);
  wait_data_unref (data);
}

static void
wait_data_give_up (WaitData *data,
                   GError   *error)
{
  g_autoptr(GTask) task = NULL;

  if (!g_atomic_int_compare_and_exchange (&data->finished, 0, 1))
    {
      g_error_free (error);
      return;
    }

  task = g_steal_pointer (&data->task);
  wait_data_detach (data, FALSE);

  if (!data->protect)
    ag_pending_cancel (data->pending, error->message);

  g_task_return_error (task, error);
}

static gboolean
wait_timeout_cb (gpointer user_data)
{
  WaitData *data = user_data;

  wait_data_give_up (data,
                     g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                                  _("Timed out after %g seconds waiting "
                                    "for “%s”"),
                                  data->seconds,
                                  pending_display_name (data->pending)));

  return G_SOURCE_REMOVE;
}

static void
wait_cancelled_cb (GCancellable *cancellable,
                   gpointer      user_data)
{
  WaitData *data = user_data;

  wait_data_give_up (data,
                     g_error_new (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                  _("The wait for “%s” was cancelled"),
                                  pending_display_name (data->pending)));
}

/**
 * ag_pending_wait_async:
 * @self: a [class@AsyncGObject.Pending]
 * @timeout: the most seconds to wait; negative to wait without limit
 * @protect: %TRUE to leave @self running when the wait times out or is
 *   cancelled
 * @cancellable: (nullable): a [class@Gio.Cancellable] that ends the wait
 * @callback: (scope async) (closure user_data): called when the wait ends
 * @user_data: data for @callback
 *
 * Waits for @self to be done, without blocking.
 *
 * As everywhere in GIO, @callback runs on the thread-default main context
 * of the thread that calls this function, in a later iteration of it: never
 * from inside this call, even when @self is done already. Call
 * [method@AsyncGObject.Pending.wait_finish] in @callback to read the
 * outcome.
 *
 * When @timeout seconds pass first, the wait fails with
 * %G_IO_ERROR_TIMED_OUT; when @cancellable is cancelled first, it fails
 * with %G_IO_ERROR_CANCELLED. In both cases @self is cancelled too, unless
 * @protect is %TRUE. The wait ends one way only: whichever comes first.
 *
 * Since: 0.1
 */
void
ag_pending_wait_async (AgPending           *self,
                       double               timeout,
                       gboolean             protect,
                       GCancellable        *cancellable,
                       GAsyncReadyCallback  callback,
                       gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(AgCaller) caller = NULL;
  WaitData *data;

  g_return_if_fail (AG_IS_PENDING (self));
  g_return_if_fail (!isnan (timeout));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, ag_pending_wait_async);
  g_task_set_name (task, "[async-gobject] ag_pending_wait_async");
  /* The wait ends one way, the first: a cancellable cancelled after @self
   * completed the wait must not turn success into an error. */
  g_task_set_check_cancellable (task, FALSE);

  data = g_new0 (WaitData, 1);
  data->ref_count = 1;
  data->pending = g_object_ref (self);
  data->task = g_object_ref (task);
  data->seconds = timeout;
  data->protect = !!protect;

  if (timeout >= 0 && timeout < G_MAXUINT / 1000.0)
    {
      data->timeout = g_timeout_source_new ((guint) ceil (timeout * 1000));
      g_source_set_static_name (data->timeout,
                                "[async-gobject] ag_pending_wait_async timeout");
      g_source_set_callback (data->timeout, wait_timeout_cb,
                             wait_data_ref (data), wait_data_unref);
      g_source_attach (data->timeout, g_task_get_context (task));
    }

  if (cancellable != NULL)
    {
      data->cancellable = g_object_ref (cancellable);
      data->cancelled_id = g_cancellable_connect (cancellable,
                                                  G_CALLBACK (wait_cancelled_cb),
                                                  wait_data_ref (data),
                                                  wait_data_unref);
    }

  caller = ag_caller_dup_for_context (g_task_get_context (task));

  if (g_atomic_int_get (&data->finished))
    {
      /* ended at once (a cancellable cancelled already) */
    }
  else if (caller != NULL)
    {
      /* The context has a caller: the outcome comes back through its queue
       * (never inline, in bounded batches, no GSource per wait; also in a
       * loop nested in one of its jobs), and GTask then returns at once,
       * from inside the caller's dispatch. */
      ag_caller_add_done_on (self, caller, wait_done_cb, wait_data_ref (data),
                             wait_done_on_destroy, &data->done_on);
    }
  else if (!ag_pending_add_done_callback_if_running (self, wait_done_cb,
                                                     wait_data_ref (data),
                                                     wait_data_unref))
    {
      /* Done already: GTask delivers in a later iteration. */
      wait_done_cb (self, data);
      wait_data_unref (data);
    }

  /* Ended meanwhile by the timeout or the cancellable, in another thread,
   * perhaps before the callback was there to remove: it goes now (or has
   * run, and this finds nothing). */
  if (g_atomic_int_get (&data->finished))
    wait_data_remove_callback (data);

  wait_data_unref (data);
}

/**
 * ag_pending_wait_finish:
 * @self: a [class@AsyncGObject.Pending]
 * @result: the [iface@Gio.AsyncResult] given to the callback
 * @error: return location for the error
 *
 * Finishes a wait started with [method@AsyncGObject.Pending.wait_async].
 *
 * Returns: %TRUE if @self succeeded; %FALSE with %G_IO_ERROR_TIMED_OUT or
 *   %G_IO_ERROR_CANCELLED if the wait ended first, or with the error of
 *   @self (see [method@AsyncGObject.Pending.get_value])
 *
 * Since: 0.1
 */
gboolean
ag_pending_wait_finish (AgPending     *self,
                        GAsyncResult  *result,
                        GError       **error)
{
  g_return_val_if_fail (AG_IS_PENDING (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) ==
                        ag_pending_wait_async, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!g_task_propagate_boolean (G_TASK (result), error))
    return FALSE;

  return ag_pending_read (self, NULL, error);
}

/* }}} */

/**
 * ag_pending_get_cancellable:
 * @self: a [class@AsyncGObject.Pending]
 *
 * Gets a [class@Gio.Cancellable] tied to @self, to hand to GIO calls made
 * by the work behind @self.
 *
 * It is cancelled when @self is cancelled (also if that happened before
 * this call), and cancelling it cancels @self. It is created on the first
 * call; later calls return the same object.
 *
 * Returns: (transfer none): the cancellable of @self
 *
 * Since: 0.1
 */
GCancellable *
ag_pending_get_cancellable (AgPending *self)
{
  g_autoptr(GCancellable) cancellable = NULL;
  GCancellable *existing;
  GWeakRef *weak_ref;
  gboolean cancelled;
  gulong handler;

  g_return_val_if_fail (AG_IS_PENDING (self), NULL);

  ag_pending_lock (self);
  existing = EXTRA (self, cancellable);
  ag_pending_unlock (self);

  if (existing != NULL)
    return existing;

  /* Nobody else can cancel the new cancellable before it is published, so
   * connecting first cannot miss a cancellation. The handler holds only a
   * weak reference: the cancellable may outlive @self. */
  cancellable = g_cancellable_new ();
  weak_ref = g_new0 (GWeakRef, 1);
  g_weak_ref_init (weak_ref, self);
  handler = g_signal_connect_data (cancellable, "cancelled",
                                   G_CALLBACK (cancellable_cancelled_cb),
                                   weak_ref, weak_ref_free, 0);

  ag_pending_lock (self);
  if (EXTRA (self, cancellable) != NULL)
    {
      /* Another thread was first. */
      existing = EXTRA (self, cancellable);
      ag_pending_unlock (self);
      g_signal_handler_disconnect (cancellable, handler);
      return existing;
    }
  extra_unlocked (self)->cancellable = g_object_ref (cancellable);
  self->extra->cancellable_handler = handler;
  cancelled = self->cancelled;
  ag_pending_unlock (self);

  if (cancelled)
    g_cancellable_cancel (cancellable);

  return cancellable;
}

/* Metadata {{{ */

static void
value_free (gpointer data)
{
  GValue *value = data;

  g_value_unset (value);
  g_free (value);
}

/**
 * ag_pending_set_metadata:
 * @self: a [class@AsyncGObject.Pending]
 * @key: the name of the entry
 * @value: (nullable): the value, copied; %NULL to remove the entry
 *
 * Sets a named value on @self, for logs, monitors and the code that waits.
 * [class@AsyncGObject.Caller] sets `caller` and `job` on the pendings of its
 * jobs.
 *
 * Since: 0.1
 */
void
ag_pending_set_metadata (AgPending    *self,
                         const char   *key,
                         const GValue *value)
{
  GHashTable *metadata;
  GValue *copy = NULL;
  GValue *old = NULL;
  char *old_key = NULL;

  g_return_if_fail (AG_IS_PENDING (self));
  g_return_if_fail (key != NULL);
  g_return_if_fail (value == NULL || G_IS_VALUE (value));

  if (value != NULL)
    {
      copy = g_new0 (GValue, 1);
      g_value_init (copy, G_VALUE_TYPE (value));
      g_value_copy (value, copy);
    }

  ag_pending_lock (self);

  metadata = EXTRA (self, metadata);
  if (metadata == NULL && copy != NULL)
    metadata = extra_unlocked (self)->metadata =
      g_hash_table_new_full (g_str_hash, g_str_equal, g_free, value_free);

  if (metadata != NULL)
    {
      /* Steal the old entry so that it is freed outside the lock. */
      gpointer k, v;

      if (g_hash_table_steal_extended (metadata, key, &k, &v))
        {
          old_key = k;
          old = v;
        }
      if (copy != NULL)
        g_hash_table_insert (metadata, g_strdup (key), copy);
    }

  ag_pending_unlock (self);

  g_free (old_key);
  if (old != NULL)
    value_free (old);
}

/**
 * ag_pending_get_metadata:
 * @self: a [class@AsyncGObject.Pending]
 * @key: the name of the entry
 *
 * Gets a named value set with [method@AsyncGObject.Pending.set_metadata].
 *
 * The value stays valid until the entry is set again or @self is
 * finalized; when another thread may set it, use
 * [method@AsyncGObject.Pending.dup_metadata] instead.
 *
 * Returns: (transfer none) (nullable): the value, or %NULL if there is no
 *   entry named @key
 *
 * Since: 0.1
 */
const GValue *
ag_pending_get_metadata (AgPending  *self,
                         const char *key)
{
  const GValue *value = NULL;

  g_return_val_if_fail (AG_IS_PENDING (self), NULL);
  g_return_val_if_fail (key != NULL, NULL);

  ag_pending_lock (self);
  if (EXTRA (self, metadata) != NULL)
    value = g_hash_table_lookup (EXTRA (self, metadata), key);
  ag_pending_unlock (self);

  return value;
}

/**
 * ag_pending_dup_metadata:
 * @self: a [class@AsyncGObject.Pending]
 * @key: the name of the entry
 * @value: (out caller-allocates): an uninitialized [struct@GObject.Value]
 *   to receive a copy of the value
 *
 * Copies a named value set with [method@AsyncGObject.Pending.set_metadata].
 *
 * Returns: %TRUE if there is an entry named @key; @value is left unset
 *   otherwise
 *
 * Since: 0.1
 */
gboolean
ag_pending_dup_metadata (AgPending  *self,
                         const char *key,
                         GValue     *value)
{
  gboolean found = FALSE;

  g_return_val_if_fail (AG_IS_PENDING (self), FALSE);
  g_return_val_if_fail (key != NULL, FALSE);
  g_return_val_if_fail (value != NULL && G_VALUE_TYPE (value) == 0, FALSE);

  ag_pending_lock (self);
  if (EXTRA (self, metadata) != NULL)
    {
      const GValue *stored = g_hash_table_lookup (EXTRA (self, metadata), key);

      if (stored != NULL)
        {
          g_value_init (value, G_VALUE_TYPE (stored));
          g_value_copy (stored, value);
          found = TRUE;
        }
    }
  ag_pending_unlock (self);

  return found;
}

static int
compare_strings (gconstpointer a,
                 gconstpointer b)
{
  return g_strcmp0 (*(char * const *) a, *(char * const *) b);
}

/**
 * ag_pending_dup_metadata_keys:
 * @self: a [class@AsyncGObject.Pending]
 *
 * Lists the names of the entries set with
 * [method@AsyncGObject.Pending.set_metadata], sorted.
 *
 * Returns: (transfer full) (array zero-terminated=1): the names
 *
 * Since: 0.1
 */
char **
ag_pending_dup_metadata_keys (AgPending *self)
{
  GPtrArray *keys;

  g_return_val_if_fail (AG_IS_PENDING (self), NULL);

  keys = g_ptr_array_new ();

  ag_pending_lock (self);
  if (EXTRA (self, metadata) != NULL)
    {
      GHashTableIter iter;
      gpointer key;

      g_hash_table_iter_init (&iter, EXTRA (self, metadata));
      while (g_hash_table_iter_next (&iter, &key, NULL))
        g_ptr_array_add (keys, g_strdup (key));
    }
  ag_pending_unlock (self);

  g_ptr_array_sort (keys, compare_strings);
  g_ptr_array_add (keys, NULL);

  return (char **) g_ptr_array_free (keys, FALSE);
}

/* }}} */

/**
 * ag_pending_to_string:
 * @self: a [class@AsyncGObject.Pending]
 *
 * Describes @self in one line for logs: its name, state, cancel messages,
 * value or error, and metadata.
 *
 * Returns: (transfer full): the description
 *
 * Since: 0.1
 */
char *
ag_pending_to_string (AgPending *self)
{
  g_auto(GStrv) keys = NULL;
  GString *str;
  AgPendingState state;

  g_return_val_if_fail (AG_IS_PENDING (self), NULL);

  state = ag_pending_get_state (self);

  str = g_string_new ("<AgPending");
  g_string_append_printf (str, " %p", self);
  if (pending_name (self) != NULL)
    g_string_append_printf (str, " “%s”", pending_name (self));
  g_string_append_printf (str, " %s", state_nick (state));
  if (self->caller != NULL)
    g_string_append_printf (str, " caller=“%s”",
                            ag_caller_get_name (self->caller));

  ag_pending_lock (self);
  if (EXTRA (self, cancel_message) != NULL)
    g_string_append_printf (str, " cancel=“%s”",
                            self->extra->cancel_message);
  if (state_is_done (state) && outcome_error (self) != NULL)
    g_string_append_printf (str, " error=“%s”", outcome_error (self)->message);
  ag_pending_unlock (self);

  if (state == AG_PENDING_STATE_SUCCEEDED &&
      G_IS_VALUE (&self->outcome.value))
    {
      g_autofree char *contents =
        g_strdup_value_contents (&self->outcome.value);

      g_string_append_printf (str, " value=%s", contents);
    }

  keys = ag_pending_dup_metadata_keys (self);
  for (guint i = 0; keys[i] != NULL; i++)
    {
      g_auto(GValue) value = G_VALUE_INIT;

      if (ag_pending_dup_metadata (self, keys[i], &value))
        {
          g_autofree char *contents = g_strdup_value_contents (&value);

          g_string_append_printf (str, " %s=%s", keys[i], contents);
        }
    }

  g_string_append_c (str, '>');

  return g_string_free (str, FALSE);
}

/* }}} */
