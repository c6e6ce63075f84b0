/* ag-as-completed.c: pendings in the order they complete
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <math.h>

#include <glib/gi18n-lib.h>

#include "ag-as-completed-private.h"

#include "ag-lock-private.h"
#include "ag-pending-private.h"

/**
 * AgAsCompleted:
 *
 * Yields pendings in the order they complete, as Python's
 * `asyncio.as_completed()` does. Made by
 * [method@AsyncGObject.Caller.as_completed] from a list of pendings, or by
 * [method@AsyncGObject.Caller.as_completed_full] from a producer that is
 * asked for more only while fewer than `max_concurrent` items are in
 * flight.
 *
 * Call [method@AsyncGObject.AsCompleted.next_async] (or
 * [method@AsyncGObject.AsCompleted.next_sync] in a thread that may block)
 * until it gives %NULL. [method@AsyncGObject.AsCompleted.close], also run
 * when the object is finalized, stops watching the items left and, if the
 * iterator was made with `cancel_unfinished`, cancels those not done.
 *
 * ## Thread safety
 *
 * Items may complete in any thread. One thread consumes: the producer runs
 * in the thread that asks for the next item, and so does the callback of
 * [method@AsyncGObject.AsCompleted.next_async] (on its thread-default
 * context).
 *
 * Since: 0.1
 */

/* What the items' done callbacks hold instead of the iterator: dropping
 * the iterator closes it even while its items run, and its last reference
 * (so its finalization and the producer's destroy notify) stays with the
 * consuming thread, never a worker. */
typedef struct
{
  gint           ref_count;  /* (atomic) */
  AgMutex        lock;
  AgAsCompleted *owner;      /* protected by the lock; not owned */
} Link;

typedef struct
{
  GTask        *task;
  GCancellable *cancellable;
  gulong        cancelled_id;
} Waiter;

struct _AgAsCompleted
{
  GObject         parent_instance;

  AgMutex         lock;
  AgCond          cond;

  /* immutable after construction */
  AgCaller       *caller;
  Link           *link;
  AgProducerFunc  producer;
  gpointer        producer_data;
  GDestroyNotify  producer_destroy;
  guint           max_concurrent;
  gboolean        cancel_unfinished;

  /* protected by the lock */
  GHashTable     *unfinished;   /* AgPending, owned */
  GQueue          done;         /* AgPending, owned; not yielded yet */
  gboolean        exhausted;    /* no more items will be added */
  gboolean        closed;
  Waiter         *waiter;       /* the next_async in progress */

  /* only in the consuming thread */
  gboolean        producing;
};

G_DEFINE_FINAL_TYPE (AgAsCompleted, ag_as_completed, G_TYPE_OBJECT)

#define ag_as_completed_lock(self)   ag_mutex_lock (&(self)->lock)
#define ag_as_completed_unlock(self) ag_mutex_unlock (&(self)->lock)

static Link *
link_ref (Link *link)
{
  g_atomic_int_inc (&link->ref_count);
  return link;
}

static void
link_unref (gpointer data)
{
  Link *link = data;

  if (g_atomic_int_dec_and_test (&link->ref_count))
    {
      ag_mutex_clear (&link->lock);
      g_free (link);
    }
}

static void
waiter_free (Waiter *waiter)
{
  /* Never disconnect from inside a ::cancelled emission: one in progress
   * means the cancellable is cancelled, and the handler then finds no
   * waiter. */
  if (waiter->cancellable != NULL && waiter->cancelled_id != 0 &&
      !g_cancellable_is_cancelled (waiter->cancellable))
    g_cancellable_disconnect (waiter->cancellable, waiter->cancelled_id);
  g_clear_object (&waiter->cancellable);
  g_clear_object (&waiter->task);
  g_free (waiter);
}

/* Pops the next item to yield, or NULL. Sets *@end when there will be no
 * more. Must hold the lock. */
static AgPending *
pop_done_unlocked (AgAsCompleted *self,
                   gboolean      *end)
{
  AgPending *item;

  /* A closed iterator gives nothing more. */
  if (self->closed)
    {
      *end = TRUE;
      return NULL;
    }

  item = g_queue_pop_head (&self->done);
  *end = item == NULL &&
         self->exhausted && g_hash_table_size (self->unfinished) == 0;
  return item;
}

static void
item_done_cb (AgPending *item,
              gpointer   data)
{
  Link *link = data;
  AgAsCompleted *self;
  Waiter *waiter = NULL;
  AgPending *next = NULL;
  gboolean end = FALSE;

  /* The link's lock keeps the iterator alive while it is used here. */
  ag_mutex_lock (&link->lock);
  self = link->owner;
  if (self != NULL)
    {
      ag_as_completed_lock (self);
      if (!self->closed && g_hash_table_steal (self->unfinished, item))
        {
          g_queue_push_tail (&self->done, item);
          ag_cond_broadcast (&self->cond);
          if (self->waiter != NULL)
            {
              waiter = g_steal_pointer (&self->waiter);
              next = pop_done_unlocked (self, &end);
            }
        }
      ag_as_completed_unlock (self);
    }
  ag_mutex_unlock (&link->lock);

  if (waiter != NULL)
    {
      g_task_return_pointer (waiter->task, next, g_object_unref);
      waiter_free (waiter);
    }
}

/* Starts watching @item, which is taken. Must hold the lock. */
static void
watch_unlocked (AgAsCompleted *self,
                AgPending     *item,
                GPtrArray     *to_watch)
{
  if (g_hash_table_contains (self->unfinished, item))
    {
      g_object_unref (item);  /* listed twice: given once */
      return;
    }

  if (ag_pending_is_done (item))
    {
      g_queue_push_tail (&self->done, item);
      return;
    }

  g_hash_table_add (self->unfinished, item);
  g_ptr_array_add (to_watch, item);
}

/* Adds the callbacks outside the lock: a callback may run at once. */
static void
watch_callbacks (AgAsCompleted *self,
                 GPtrArray     *to_watch)
{
  for (guint i = 0; i < to_watch->len; i++)
    ag_pending_add_done_callback (g_ptr_array_index (to_watch, i),
                                  item_done_cb, link_ref (self->link),
                                  link_unref);
}

/* Asks the producer for items while fewer than max_concurrent are in
 * flight. In the consuming thread only. */
static void
refill (AgAsCompleted *self)
{
  if (self->producer == NULL || self->producing)
    return;

  self->producing = TRUE;

  for (;;)
    {
      g_autoptr(GPtrArray) to_watch = NULL;
      AgPending *item;
      gboolean room;

      ag_as_completed_lock (self);
      room = !self->closed && !self->exhausted &&
             g_hash_table_size (self->unfinished) < self->max_concurrent;
      ag_as_completed_unlock (self);

      if (!room)
        break;

      item = self->producer (self->producer_data);

      if (item != NULL && !AG_IS_PENDING (item))
        {
          /* As for a job that returns one: a critical, and the stranger
           * is dropped. */
          g_critical ("The producer of an AgAsCompleted gave something that "
                      "is not an AgPending; it is dropped");
          if (G_IS_OBJECT (item))
            g_object_unref (item);
          continue;
        }

      to_watch = g_ptr_array_new ();
      ag_as_completed_lock (self);
      if (item == NULL)
        self->exhausted = TRUE;
      else if (self->closed)
        g_object_unref (item);
      else
        watch_unlocked (self, item, to_watch);
      if (item == NULL)
        ag_cond_broadcast (&self->cond);
      ag_as_completed_unlock (self);

      watch_callbacks (self, to_watch);

      if (item == NULL)
        break;
    }

  self->producing = FALSE;
}

static void
ag_as_completed_dispose (GObject *object)
{
  AgAsCompleted *self = (AgAsCompleted *) object;

  ag_as_completed_close (self);

  /* Waits for a callback that is using @self in another thread. */
  ag_mutex_lock (&self->link->lock);
  self->link->owner = NULL;
  ag_mutex_unlock (&self->link->lock);

  G_OBJECT_CLASS (ag_as_completed_parent_class)->dispose (object);
}

static void
ag_as_completed_finalize (GObject *object)
{
  AgAsCompleted *self = (AgAsCompleted *) object;

  if (self->producer_destroy != NULL)
    self->producer_destroy (self->producer_data);
  g_clear_pointer (&self->unfinished, g_hash_table_unref);
  g_queue_clear_full (&self->done, g_object_unref);
  g_clear_pointer (&self->link, link_unref);
  g_clear_object (&self->caller);
  ag_cond_clear (&self->cond);
  ag_mutex_clear (&self->lock);

  G_OBJECT_CLASS (ag_as_completed_parent_class)->finalize (object);
}

static void
ag_as_completed_class_init (AgAsCompletedClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = ag_as_completed_dispose;
  object_class->finalize = ag_as_completed_finalize;
}

static void
ag_as_completed_init (AgAsCompleted *self)
{
  ag_mutex_init (&self->lock);
  ag_cond_init (&self->cond);
  self->unfinished = g_hash_table_new_full (NULL, NULL, g_object_unref, NULL);
  g_queue_init (&self->done);
  /* Made with g_object_new () alone, it has nothing to give. */
  self->exhausted = TRUE;
  self->max_concurrent = 1;
  self->link = g_new0 (Link, 1);
  self->link->ref_count = 1;
  ag_mutex_init (&self->link->lock);
  self->link->owner = self;
}

AgAsCompleted *
ag_as_completed_new (AgCaller        *caller,
                     AgPending      **items,
                     guint            n_items,
                     AgProducerFunc   producer,
                     gpointer         user_data,
                     GDestroyNotify   destroy,
                     guint            max_concurrent,
                     gboolean         cancel_unfinished)
{
  g_autoptr(GPtrArray) to_watch = g_ptr_array_new ();
  AgAsCompleted *self = g_object_new (AG_TYPE_AS_COMPLETED, NULL);

  self->caller = g_object_ref (caller);
  self->producer = producer;
  self->producer_data = user_data;
  self->producer_destroy = destroy;
  self->max_concurrent = max_concurrent > 0 ? max_concurrent
                                            : ag_caller_get_max_idle_workers (caller);
  if (self->max_concurrent == 0)
    self->max_concurrent = 1;
  self->cancel_unfinished = !!cancel_unfinished;

  g_autoptr(GHashTable) listed = g_hash_table_new (NULL, NULL);

  ag_as_completed_lock (self);
  for (guint i = 0; i < n_items; i++)
    {
      /* An item listed twice is given once. */
      if (g_hash_table_add (listed, items[i]))
        watch_unlocked (self, g_object_ref (items[i]), to_watch);
    }
  self->exhausted = producer == NULL;
  ag_as_completed_unlock (self);

  watch_callbacks (self, to_watch);

  return self;
}

static void
next_cancelled_cb (GCancellable *cancellable,
                   gpointer      data)
{
  Link *link = data;
  Waiter *waiter = NULL;

  ag_mutex_lock (&link->lock);
  if (link->owner != NULL)
    {
      AgAsCompleted *self = link->owner;

      ag_as_completed_lock (self);
      if (self->waiter != NULL && self->waiter->cancellable == cancellable)
        waiter = g_steal_pointer (&self->waiter);
      ag_as_completed_unlock (self);
    }
  ag_mutex_unlock (&link->lock);

  if (waiter != NULL)
    {
      g_task_return_new_error (waiter->task, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                               _("The wait for the next pending was "
                                 "cancelled"));
      waiter_free (waiter);
    }
}

/**
 * ag_as_completed_next_async:
 * @self: a [class@AsyncGObject.AsCompleted]
 * @cancellable: (nullable): a [class@Gio.Cancellable]
 * @callback: (scope async) (closure user_data): called with the next item
 * @user_data: data for @callback
 *
 * Waits for the next item to complete. @callback runs on the thread-default
 * main context of this thread, never from inside this call; call
 * [method@AsyncGObject.AsCompleted.next_finish] there. One call at a time:
 * a second one while the first is in progress fails with
 * %G_IO_ERROR_PENDING.
 *
 * Since: 0.1
 */
void
ag_as_completed_next_async (AgAsCompleted       *self,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  AgPending *next;
  gboolean end;
  gboolean busy;

  g_return_if_fail (AG_IS_AS_COMPLETED (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, ag_as_completed_next_async);
  g_task_set_name (task, "[async-gobject] ag_as_completed_next_async");
  g_task_set_check_cancellable (task, FALSE);

  refill (self);

  ag_as_completed_lock (self);
  busy = self->waiter != NULL;
  next = busy ? NULL : pop_done_unlocked (self, &end);
  if (!busy && next == NULL && !end)
    {
      self->waiter = g_new0 (Waiter, 1);
      self->waiter->task = g_object_ref (task);
      if (cancellable != NULL)
        self->waiter->cancellable = g_object_ref (cancellable);
    }
  ag_as_completed_unlock (self);

  if (busy)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_PENDING,
                               _("A wait for the next pending is already "
                                 "in progress"));
      return;
    }

  if (next != NULL || end)
    {
      g_task_return_pointer (task, next, g_object_unref);
      return;
    }

  if (cancellable != NULL)
    {
      gulong id = g_cancellable_connect (cancellable,
                                         G_CALLBACK (next_cancelled_cb),
                                         link_ref (self->link), link_unref);

      ag_as_completed_lock (self);
      if (self->waiter != NULL && self->waiter->task == task)
        self->waiter->cancelled_id = id;
      else if (id != 0 && !g_cancellable_is_cancelled (cancellable))
        g_cancellable_disconnect (cancellable, id);
      ag_as_completed_unlock (self);
    }
}

/**
 * ag_as_completed_next_finish:
 * @self: a [class@AsyncGObject.AsCompleted]
 * @result: the [iface@Gio.AsyncResult] given to the callback
 * @error: return location for the error
 *
 * Finishes [method@AsyncGObject.AsCompleted.next_async].
 *
 * Returns: (transfer full) (nullable): the next item in completion order,
 *   or %NULL when every item has been given (or on error)
 *
 * Since: 0.1
 */
AgPending *
ag_as_completed_next_finish (AgAsCompleted  *self,
                             GAsyncResult   *result,
                             GError        **error)
{
  g_return_val_if_fail (AG_IS_AS_COMPLETED (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) ==
                        ag_as_completed_next_async, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * ag_as_completed_next_sync:
 * @self: a [class@AsyncGObject.AsCompleted]
 * @timeout: the most seconds to wait; negative to wait without limit
 * @error: return location for the error
 *
 * Blocks until the next item completes. For threads that may block; in a
 * thread that runs a main loop use
 * [method@AsyncGObject.AsCompleted.next_async].
 *
 * Returns: (transfer full) (nullable): the next item in completion order,
 *   or %NULL when every item has been given, or %NULL with
 *   %G_IO_ERROR_TIMED_OUT
 *
 * Since: 0.1
 */
AgPending *
ag_as_completed_next_sync (AgAsCompleted  *self,
                           double          timeout,
                           GError        **error)
{
  AgPending *next = NULL;
  gboolean end = FALSE;
  gint64 end_time = -1;

  g_return_val_if_fail (AG_IS_AS_COMPLETED (self), NULL);
  g_return_val_if_fail (!isnan (timeout), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (timeout >= 0 && timeout < G_MAXINT64 / (2.0 * G_USEC_PER_SEC))
    end_time = g_get_monotonic_time () + (gint64) (timeout * G_USEC_PER_SEC);

  refill (self);

  ag_as_completed_lock (self);
  for (;;)
    {
      next = pop_done_unlocked (self, &end);
      if (next != NULL || end)
        break;
      if (end_time < 0)
        ag_cond_wait (&self->cond, &self->lock);
      else if (!ag_cond_wait_until (&self->cond, &self->lock, end_time))
        {
          next = pop_done_unlocked (self, &end);
          break;
        }
    }
  ag_as_completed_unlock (self);

  if (next == NULL && !end)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                 _("Timed out after %g seconds waiting for the next "
                   "pending"), timeout);

  return next;
}

/**
 * ag_as_completed_get_n_in_flight:
 * @self: a [class@AsyncGObject.AsCompleted]
 *
 * Counts the items being watched that are not done yet.
 *
 * Returns: the number of unfinished items
 *
 * Since: 0.1
 */
guint
ag_as_completed_get_n_in_flight (AgAsCompleted *self)
{
  guint n;

  g_return_val_if_fail (AG_IS_AS_COMPLETED (self), 0);

  ag_as_completed_lock (self);
  n = g_hash_table_size (self->unfinished);
  ag_as_completed_unlock (self);

  return n;
}

/**
 * ag_as_completed_close:
 * @self: a [class@AsyncGObject.AsCompleted]
 *
 * Stops watching the items left. If @self was made with
 * `cancel_unfinished`, those not done are cancelled. A wait in progress
 * ends with %NULL, and so does every later one. Calling it again does
 * nothing.
 *
 * Since: 0.1
 */
void
ag_as_completed_close (AgAsCompleted *self)
{
  g_autoptr(GHashTable) unfinished = NULL;
  GQueue done;
  Waiter *waiter;
  GHashTableIter iter;
  gpointer item;

  g_return_if_fail (AG_IS_AS_COMPLETED (self));

  ag_as_completed_lock (self);
  if (self->closed)
    {
      ag_as_completed_unlock (self);
      return;
    }
  self->closed = TRUE;
  unfinished = g_steal_pointer (&self->unfinished);
  self->unfinished = g_hash_table_new_full (NULL, NULL, g_object_unref, NULL);
  done = self->done;
  g_queue_init (&self->done);
  waiter = g_steal_pointer (&self->waiter);
  ag_cond_broadcast (&self->cond);
  ag_as_completed_unlock (self);

  g_hash_table_iter_init (&iter, unfinished);
  while (g_hash_table_iter_next (&iter, &item, NULL))
    {
      ag_pending_remove_done_callback (item, item_done_cb, self->link);
      if (self->cancel_unfinished)
        ag_pending_cancel (item, _("Cancelled by as_completed"));
    }

  g_queue_clear_full (&done, g_object_unref);

  if (waiter != NULL)
    {
      g_task_return_pointer (waiter->task, NULL, NULL);
      waiter_free (waiter);
    }
}
