/* test-pending-group.c: the specification of the trackers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Every test here states one point of the contract of AgPendingTracker,
 * AgPendingManager and AgPendingGroup (see DESIGN.md, "Trackers", "Caller:
 * context propagation" and "Decisions") so that it fails if the point does
 * not hold. Threads are lined up with barriers, latches and gates, never
 * with sleeps; main contexts are iterated in bounded loops; stress loops are
 * sized by g_test_thorough() and AG_TEST_ITERATIONS_SCALE (see
 * test-util.h). Every caller thread a test creates is stopped, and waited
 * for, before the test ends.
 */

#include <string.h>

#include <async-gobject.h>

#include "test-util.h"

static GThread *main_thread;

/* {{{ Test subclasses: their own current slot */

/* A direct subclass of AgPendingTracker that counts its virtual calls. */
#define TEST_TYPE_TRACKER (test_tracker_get_type ())
G_DECLARE_FINAL_TYPE (TestTracker, test_tracker, TEST, TRACKER,
                      AgPendingTracker)

struct _TestTracker
{
  AgPendingTracker parent_instance;

  gint added;    /* (atomic) */
  gint done;     /* (atomic) */
  gint emptied;  /* (atomic) */
};

G_DEFINE_TYPE (TestTracker, test_tracker, AG_TYPE_PENDING_TRACKER)

static void
test_tracker_pending_added (AgPendingTracker *tracker,
                            AgPending        *pending)
{
  g_atomic_int_inc (&TEST_TRACKER (tracker)->added);
  AG_PENDING_TRACKER_CLASS (test_tracker_parent_class)->pending_added (tracker,
                                                                       pending);
}

static void
test_tracker_pending_done (AgPendingTracker *tracker,
                           AgPending        *pending)
{
  /* It has left the tracker already. */
  g_assert_false (ag_pending_tracker_contains (tracker, pending));
  g_assert_true (ag_pending_is_done (pending));
  g_atomic_int_inc (&TEST_TRACKER (tracker)->done);
  AG_PENDING_TRACKER_CLASS (test_tracker_parent_class)->pending_done (tracker,
                                                                      pending);
}

static void
test_tracker_emptied (AgPendingTracker *tracker)
{
  g_atomic_int_inc (&TEST_TRACKER (tracker)->emptied);
  AG_PENDING_TRACKER_CLASS (test_tracker_parent_class)->emptied (tracker);
}

static void
test_tracker_class_init (TestTrackerClass *klass)
{
  AgPendingTrackerClass *tracker_class = AG_PENDING_TRACKER_CLASS (klass);

  tracker_class->pending_added = test_tracker_pending_added;
  tracker_class->pending_done = test_tracker_pending_done;
  tracker_class->emptied = test_tracker_emptied;
}

static void
test_tracker_init (TestTracker *self)
{
}

/* A subclass of AgPendingManager, with nothing of its own but its class. */
#define TEST_TYPE_MANAGER (test_manager_get_type ())
G_DECLARE_FINAL_TYPE (TestManager, test_manager, TEST, MANAGER,
                      AgPendingManager)

struct _TestManager
{
  AgPendingManager parent_instance;
};

G_DEFINE_TYPE (TestManager, test_manager, AG_TYPE_PENDING_MANAGER)

static void
test_manager_class_init (TestManagerClass *klass)
{
}

static void
test_manager_init (TestManager *self)
{
}

/* }}} */

/* {{{ Helpers */

static void
assert_tracker_state (gpointer              tracker,
                      AgPendingTrackerState state)
{
  g_assert_cmpint (ag_pending_tracker_get_state (AG_PENDING_TRACKER (tracker)),
                   ==, state);
}

static gboolean
tracks (gpointer   tracker,
        AgPending *pending)
{
  return ag_pending_tracker_contains (AG_PENDING_TRACKER (tracker), pending);
}

static guint
n_tracked (gpointer tracker)
{
  return ag_pending_tracker_get_n_pendings (AG_PENDING_TRACKER (tracker));
}

static AgPendingTracker *
current_group (void)
{
  return ag_pending_tracker_get_current (AG_TYPE_PENDING_GROUP);
}

static AgPendingTracker *
current_manager (void)
{
  return ag_pending_tracker_get_current (AG_TYPE_PENDING_MANAGER);
}

static GError *
io_error (gint        code,
          const char *message)
{
  return g_error_new_literal (G_IO_ERROR, code, message);
}

static void
collect_descendants (AgCaller  *caller,
                     GPtrArray *out)
{
  g_autoptr(GPtrArray) children = ag_caller_dup_children (caller);

  for (guint i = 0; i < children->len; i++)
    {
      AgCaller *child = g_ptr_array_index (children, i);

      collect_descendants (child, out);
      g_ptr_array_add (out, g_object_ref (child));
    }
}

/* Stops @caller and all its descendants (workers included), and waits
 * (bounded) until each of them has stopped. */
static void
stop_caller (AgCaller *caller)
{
  g_autoptr(GPtrArray) callers =
    g_ptr_array_new_with_free_func (g_object_unref);

  collect_descendants (caller, callers);
  g_ptr_array_add (callers, g_object_ref (caller));

  ag_caller_stop (caller, TRUE);
  for (guint i = 0; i < callers->len; i++)
    {
      AgCaller *c = g_ptr_array_index (callers, i);
      g_autoptr(GError) error = NULL;

      /* A child may have left already: stopping it again is harmless. */
      ag_caller_stop (c, TRUE);
      g_assert_true (ag_pending_wait_sync (ag_caller_get_stopped (c),
                                           AG_TEST_TIMEOUT_S, &error));
      g_assert_no_error (error);
      g_assert_cmpint (ag_caller_get_state (c), ==, AG_CALLER_STATE_STOPPED);
    }
}

/* A gate: jobs block in it until the test opens it. */
typedef struct
{
  AgTestLatch entered;  /* counts the jobs that reached the gate */
  AgTestLatch open;     /* 1 once opened */
} Gate;

static void
gate_init (Gate *gate)
{
  ag_test_latch_init (&gate->entered);
  ag_test_latch_init (&gate->open);
}

static void
gate_clear (Gate *gate)
{
  ag_test_latch_clear (&gate->entered);
  ag_test_latch_clear (&gate->open);
}

static void
gate_pass (Gate *gate)
{
  ag_test_latch_add (&gate->entered, 1);
  ag_test_latch_wait (&gate->open, 1);
}

static void
gate_open (Gate *gate)
{
  ag_test_latch_set (&gate->open, 1);
}

static void
cancelled_latch_cb (GCancellable *cancellable,
                    gpointer      data)
{
  ag_test_latch_set (data, 1);
}

/* A job that runs until its pending is cancelled; @data is an AgTestLatch
 * that counts the jobs that started. */
static AgPending *
until_cancelled_job (AgPending *pending,
                     gpointer   data)
{
  GCancellable *cancellable = ag_pending_get_cancellable (pending);
  AgTestLatch cancelled;
  gulong handler;

  ag_test_latch_init (&cancelled);
  handler = g_cancellable_connect (cancellable,
                                   G_CALLBACK (cancelled_latch_cb),
                                   &cancelled, NULL);
  ag_test_latch_add (data, 1);
  ag_test_latch_wait (&cancelled, 1);
  g_cancellable_disconnect (cancellable, handler);
  ag_test_latch_clear (&cancelled);

  g_assert_true (ag_pending_is_cancelled (pending));
  return NULL;
}

/* }}} */

/* {{{ Exit helpers */

typedef struct
{
  gint          calls;         /* (atomic) */
  gboolean      ok;
  GError       *error;
  GThread      *thread;        /* owned: where the callback ran */
  GMainContext *context;       /* owned: its thread-default context */
  GPtrArray    *must_be_done;  /* nullable, not owned */
  gboolean      all_done;      /* whether they were when it ran */
} Exit;

static void
exit_init (Exit *exit)
{
  memset (exit, 0, sizeof *exit);
}

static void
exit_clear (Exit *exit)
{
  g_clear_error (&exit->error);
  g_clear_pointer (&exit->thread, g_thread_unref);
  g_clear_pointer (&exit->context, g_main_context_unref);
}

static void
exit_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      data)
{
  Exit *exit = data;

  g_assert_true (AG_IS_PENDING_GROUP (source));
  g_assert_null (exit->thread);

  exit->ok = ag_pending_group_exit_finish (AG_PENDING_GROUP (source), result,
                                           &exit->error);
  g_assert_true (exit->ok == (exit->error == NULL));
  exit->thread = g_thread_ref (g_thread_self ());
  exit->context = g_main_context_ref_thread_default ();

  exit->all_done = TRUE;
  for (guint i = 0; exit->must_be_done && i < exit->must_be_done->len; i++)
    if (!ag_pending_is_done (g_ptr_array_index (exit->must_be_done, i)))
      exit->all_done = FALSE;

  g_atomic_int_inc (&exit->calls);
}

static void
exit_begin (AgPendingGroup *group,
            GCancellable   *cancellable,
            Exit           *exit)
{
  ag_pending_group_exit_async (group, cancellable, exit_cb, exit);
  /* Never inline: the callback runs in a later iteration. */
  g_assert_cmpint (g_atomic_int_get (&exit->calls), ==, 0);
}

/* Iterates the thread-default context until the exit callback ran, then
 * checks that it ran once, in this thread, on this context. */
static void
exit_wait (Exit *exit)
{
  g_autoptr(GMainContext) context = g_main_context_ref_thread_default ();

  ag_test_iterate_until_strict (context, &exit->calls, 1);
  ag_test_drain (context);
  g_assert_cmpint (g_atomic_int_get (&exit->calls), ==, 1);
  g_assert_true (exit->thread == g_thread_self ());
  g_assert_true (exit->context == context);
}

/* The exit has not completed: what is ready on the thread-default context
 * is dispatched first. */
static void
assert_not_exited (Exit *exit)
{
  g_autoptr(GMainContext) context = g_main_context_ref_thread_default ();

  ag_test_drain (context);
  g_assert_cmpint (g_atomic_int_get (&exit->calls), ==, 0);
}

/* exit_async, and iterate until it finishes. */
static gboolean
group_exit (AgPendingGroup  *group,
            GCancellable    *cancellable,
            GError         **error)
{
  Exit exit;
  gboolean ok;

  exit_init (&exit);
  exit_begin (group, cancellable, &exit);
  exit_wait (&exit);
  ok = exit.ok;
  if (exit.error != NULL)
    g_propagate_error (error, g_steal_pointer (&exit.error));
  exit_clear (&exit);

  return ok;
}

static AgPendingGroup *
enter_new_group (gboolean           shield,
                 AgPendingGroupMode mode)
{
  AgPendingGroup *group = ag_pending_group_new (shield, mode);
  g_autoptr(GError) error = NULL;

  g_assert_true (AG_IS_PENDING_GROUP (group));
  g_assert_true (ag_pending_group_enter (group, &error));
  g_assert_no_error (error);
  g_assert_true (current_group () == AG_PENDING_TRACKER (group));

  return group;
}

/* }}} */

/* {{{ /PendingTracker/... */

static void
test_tracker_basics (void)
{
  g_autoptr(TestTracker) tracker = g_object_new (TEST_TYPE_TRACKER, NULL);
  AgPendingTracker *self = AG_PENDING_TRACKER (tracker);
  g_autoptr(AgPending) a = ag_pending_new ();
  g_autoptr(AgPending) b = ag_pending_new ();
  g_autoptr(AgPending) done = ag_pending_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) pendings = NULL;
  guint n = 7;

  /* Idle: takes nothing */
  assert_tracker_state (self, AG_PENDING_TRACKER_STATE_IDLE);
  g_assert_false (ag_pending_tracker_track (self, a, &error));
  g_assert_error (error, AG_ERROR, AG_ERROR_INVALID_STATE);
  g_clear_error (&error);
  g_assert_false (tracks (self, a));
  g_assert_cmpint (g_atomic_int_get (&tracker->added), ==, 0);

  /* Active: tracks until done or removed */
  ag_pending_tracker_set_state (self, AG_PENDING_TRACKER_STATE_ACTIVE);
  assert_tracker_state (self, AG_PENDING_TRACKER_STATE_ACTIVE);
  g_assert_true (ag_pending_tracker_track (self, a, &error));
  g_assert_no_error (error);
  g_assert_true (tracks (self, a));
  g_assert_cmpuint (n_tracked (self), ==, 1);
  g_assert_cmpint (g_atomic_int_get (&tracker->added), ==, 1);

  /* Twice: changes nothing */
  g_assert_true (ag_pending_tracker_track (self, a, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (n_tracked (self), ==, 1);
  g_assert_cmpint (g_atomic_int_get (&tracker->added), ==, 1);

  /* A done pending is not tracked */
  ag_pending_set_int (done, 1);
  g_assert_true (ag_pending_tracker_track (self, done, &error));
  g_assert_no_error (error);
  g_assert_false (tracks (self, done));
  g_assert_cmpuint (n_tracked (self), ==, 1);

  g_assert_true (ag_pending_tracker_track (self, b, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (n_tracked (self), ==, 2);

  /* dup_pendings and the properties list them */
  pendings = ag_pending_tracker_dup_pendings (self);
  g_assert_cmpuint (pendings->len, ==, 2);
  g_assert_true (g_ptr_array_find (pendings, a, NULL));
  g_assert_true (g_ptr_array_find (pendings, b, NULL));
  g_clear_pointer (&pendings, g_ptr_array_unref);
  g_object_get (tracker, "pendings", &pendings, "n-pendings", &n, NULL);
  g_assert_nonnull (pendings);
  g_assert_cmpuint (pendings->len, ==, 2);
  g_assert_true (g_ptr_array_find (pendings, a, NULL));
  g_assert_true (g_ptr_array_find (pendings, b, NULL));
  g_assert_cmpuint (n, ==, 2);
  g_clear_pointer (&pendings, g_ptr_array_unref);

  /* remove: only what is tracked */
  g_assert_true (ag_pending_tracker_remove (self, a, &error));
  g_assert_no_error (error);
  g_assert_false (tracks (self, a));
  g_assert_false (ag_pending_tracker_remove (self, a, &error));
  g_assert_error (error, AG_ERROR, AG_ERROR_INVALID_STATE);
  g_clear_error (&error);
  g_assert_false (ag_pending_tracker_discard (self, a));
  g_assert_cmpuint (n_tracked (self), ==, 1);

  /* A removed pending that completes is no business of the tracker */
  ag_pending_set_int (a, 1);
  g_assert_cmpint (g_atomic_int_get (&tracker->done), ==, 0);

  /* discard */
  g_assert_true (ag_pending_tracker_discard (self, b));
  g_assert_false (tracks (self, b));
  g_assert_false (ag_pending_tracker_discard (self, b));
  g_assert_cmpuint (n_tracked (self), ==, 0);

  /* A done pending leaves its tracker */
  g_assert_true (ag_pending_tracker_track (self, b, &error));
  g_assert_no_error (error);
  g_assert_true (tracks (self, b));
  ag_pending_set_int (b, 2);
  g_assert_false (tracks (self, b));
  g_assert_cmpuint (n_tracked (self), ==, 0);
  g_assert_cmpint (g_atomic_int_get (&tracker->done), ==, 1);
  g_assert_cmpint (g_atomic_int_get (&tracker->emptied), >=, 1);

  /* Stopped: takes nothing */
  ag_pending_tracker_set_state (self, AG_PENDING_TRACKER_STATE_STOPPED);
  {
    g_autoptr(AgPending) c = ag_pending_new ();

    g_assert_false (ag_pending_tracker_track (self, c, &error));
    g_assert_error (error, AG_ERROR, AG_ERROR_INVALID_STATE);
    g_clear_error (&error);
    g_assert_false (tracks (self, c));
  }
}

static void
test_tracker_emptied_at_exit (void)
{
  g_autoptr(TestTracker) tracker = g_object_new (TEST_TYPE_TRACKER, NULL);
  AgPendingTracker *self = AG_PENDING_TRACKER (tracker);
  g_autoptr(AgPending) a = ag_pending_new_full (AG_PENDING_FLAGS_NO_TRACKING,
                                                NULL);
  gint emptied;

  /* Exiting with nothing tracked: emptied at once */
  ag_pending_tracker_set_state (self, AG_PENDING_TRACKER_STATE_ACTIVE);
  emptied = g_atomic_int_get (&tracker->emptied);
  ag_pending_tracker_set_state (self, AG_PENDING_TRACKER_STATE_EXITING);
  g_assert_cmpint (g_atomic_int_get (&tracker->emptied), ==, emptied + 1);

  /* Exiting with one tracked: emptied when it is done */
  ag_pending_tracker_set_state (self, AG_PENDING_TRACKER_STATE_ACTIVE);
  g_assert_true (ag_pending_tracker_track (self, a, NULL));
  ag_pending_tracker_set_state (self, AG_PENDING_TRACKER_STATE_EXITING);
  emptied = g_atomic_int_get (&tracker->emptied);
  g_assert_true (tracks (self, a));
  ag_pending_set_int (a, 1);
  g_assert_cmpint (g_atomic_int_get (&tracker->emptied), ==, emptied + 1);
  g_assert_cmpuint (n_tracked (self), ==, 0);
}

static void
test_tracker_current (void)
{
  g_autoptr(TestTracker) tracker = g_object_new (TEST_TYPE_TRACKER, NULL);
  g_autoptr(TestTracker) other = g_object_new (TEST_TYPE_TRACKER, NULL);
  AgPendingTracker *self = AG_PENDING_TRACKER (tracker);
  g_autoptr(AgPending) a = NULL;
  g_autoptr(AgPending) b = NULL;
  g_autoptr(AgPending) c = NULL;
  guint token;
  guint token2;

  g_assert_null (ag_pending_tracker_get_current (TEST_TYPE_TRACKER));
  g_assert_null (ag_pending_tracker_get_current (AG_TYPE_PENDING_TRACKER));

  /* Current only while active or exiting */
  token = ag_pending_tracker_push_current (self);
  g_assert_cmpuint (token, >, 0);
  g_assert_null (ag_pending_tracker_get_current (TEST_TYPE_TRACKER));
  a = ag_pending_new ();
  g_assert_false (tracks (self, a));

  ag_pending_tracker_set_state (self, AG_PENDING_TRACKER_STATE_ACTIVE);
  g_assert_true (ag_pending_tracker_get_current (TEST_TYPE_TRACKER) == self);
  /* its own slot: not the current tracker of the base class */
  g_assert_null (ag_pending_tracker_get_current (AG_TYPE_PENDING_TRACKER));
  g_assert_null (current_manager ());
  g_assert_null (current_group ());

  /* A new pending registers with it */
  b = ag_pending_new ();
  g_assert_true (tracks (self, b));

  /* but not one that opts out */
  c = ag_pending_new_full (AG_PENDING_FLAGS_NO_TRACKING, "untracked");
  g_assert_false (tracks (self, c));
  g_clear_object (&c);

  /* A push of the same class hides it until popped */
  ag_pending_tracker_set_state (AG_PENDING_TRACKER (other),
                                AG_PENDING_TRACKER_STATE_ACTIVE);
  token2 = ag_pending_tracker_push_current (AG_PENDING_TRACKER (other));
  g_assert_cmpuint (token2, >, token);
  g_assert_true (ag_pending_tracker_get_current (TEST_TYPE_TRACKER)
                 == AG_PENDING_TRACKER (other));
  c = ag_pending_new ();
  g_assert_true (tracks (other, c));
  g_assert_false (tracks (self, c));
  ag_pending_tracker_pop_current (token2);
  g_assert_true (ag_pending_tracker_get_current (TEST_TYPE_TRACKER) == self);

  /* Exiting: still current; stopped: not */
  ag_pending_tracker_set_state (self, AG_PENDING_TRACKER_STATE_EXITING);
  g_assert_true (ag_pending_tracker_get_current (TEST_TYPE_TRACKER) == self);
  ag_pending_set_int (b, 1);
  ag_pending_tracker_set_state (self, AG_PENDING_TRACKER_STATE_STOPPED);
  g_assert_null (ag_pending_tracker_get_current (TEST_TYPE_TRACKER));

  ag_pending_tracker_pop_current (token);
  g_assert_null (ag_pending_tracker_get_current (TEST_TYPE_TRACKER));

  /* Popping an older token undoes the pushes made since */
  token = ag_pending_tracker_push_current (AG_PENDING_TRACKER (other));
  ag_pending_tracker_set_state (self, AG_PENDING_TRACKER_STATE_ACTIVE);
  token2 = ag_pending_tracker_push_current (self);
  g_assert_true (ag_pending_tracker_get_current (TEST_TYPE_TRACKER) == self);
  ag_pending_tracker_pop_current (token);
  g_assert_null (ag_pending_tracker_get_current (TEST_TYPE_TRACKER));

  ag_pending_set_int (c, 1);
  ag_pending_set_int (a, 1);
}

/* Other threads have their own current trackers. */
static gpointer
current_in_thread_func (gpointer data)
{
  AgPendingTracker **seen = data;
  g_autoptr(AgPending) pending = ag_pending_new ();

  seen[0] = ag_pending_tracker_get_current (TEST_TYPE_TRACKER);
  seen[1] = current_group ();
  seen[2] = current_manager ();

  return NULL;
}

static void
test_tracker_per_thread (void)
{
  g_autoptr(TestTracker) tracker = g_object_new (TEST_TYPE_TRACKER, NULL);
  AgPendingTracker *seen[3] = { NULL, NULL, NULL };
  AgPendingTracker *self = AG_PENDING_TRACKER (tracker);
  GThread *thread;
  guint token;

  ag_pending_tracker_set_state (self, AG_PENDING_TRACKER_STATE_ACTIVE);
  token = ag_pending_tracker_push_current (self);

  thread = g_thread_new ("current", current_in_thread_func, seen);
  g_thread_join (thread);

  g_assert_null (seen[0]);
  g_assert_null (seen[1]);
  g_assert_null (seen[2]);
  /* a pending made in another thread is not tracked */
  g_assert_cmpuint (n_tracked (self), ==, 0);

  ag_pending_tracker_pop_current (token);
}

/* Subclasses (of AgPendingTracker and of AgPendingManager) each have their
 * own current slot, captured and restored by scheduling like the others. */
typedef struct
{
  AgPendingTracker *seen[4];  /* base manager, TestManager, TestTracker,
                               * base tracker */
  gboolean          tracked[3];
  gboolean          own_tracked[3];
  AgPendingManager *manager;
  TestManager      *test_manager;
  TestTracker      *test_tracker;
  AgTestLatch       ran;
} SlotsProbe;

static AgPending *
slots_job (AgPending *pending,
           gpointer   data)
{
  SlotsProbe *probe = data;
  AgTestLatch *ran = &probe->ran;
  g_autoptr(AgPending) inner = ag_pending_new ();

  probe->seen[0] = current_manager ();
  probe->seen[1] = ag_pending_tracker_get_current (TEST_TYPE_MANAGER);
  probe->seen[2] = ag_pending_tracker_get_current (TEST_TYPE_TRACKER);
  probe->seen[3] = ag_pending_tracker_get_current (AG_TYPE_PENDING_TRACKER);
  probe->tracked[0] = tracks (probe->manager, inner);
  probe->tracked[1] = tracks (probe->test_manager, inner);
  probe->tracked[2] = tracks (probe->test_tracker, inner);
  probe->own_tracked[0] = tracks (probe->manager, pending);
  probe->own_tracked[1] = tracks (probe->test_manager, pending);
  probe->own_tracked[2] = tracks (probe->test_tracker, pending);
  ag_pending_set_int (inner, 1);
  ag_test_latch_set (ran, 1);

  /* completed by the test, in the main thread */
  return g_object_ref (pending);
}

static void
test_tracker_subclass (void)
{
  g_autoptr(AgPendingManager) manager = ag_pending_manager_new ();
  g_autoptr(TestManager) test_manager = g_object_new (TEST_TYPE_MANAGER,
                                                      NULL);
  g_autoptr(TestTracker) test_tracker = g_object_new (TEST_TYPE_TRACKER,
                                                      NULL);
  g_autoptr(AgCaller) caller = ag_caller_new_thread ("slots");
  g_autoptr(AgPending) job = NULL;
  g_autoptr(AgPending) a = NULL;
  g_autoptr(AgPending) b = NULL;
  g_autoptr(AgPending) stopped = NULL;
  g_autoptr(GError) error = NULL;
  SlotsProbe probe = { { NULL, }, { FALSE, }, { FALSE, }, manager,
                       test_manager, test_tracker };
  guint token_manager;
  guint token_test_manager;
  guint token_tracker;

  ag_test_latch_init (&probe.ran);
  g_assert_true (ag_pending_manager_activate (manager, &error));
  g_assert_true (ag_pending_manager_activate (AG_PENDING_MANAGER (test_manager),
                                              &error));
  g_assert_no_error (error);

  /* The subclass's manager is not the base class's */
  token_test_manager =
    ag_pending_manager_start_tracking (AG_PENDING_MANAGER (test_manager),
                                       &error);
  g_assert_no_error (error);
  g_assert_cmpuint (token_test_manager, >, 0);
  g_assert_true (ag_pending_tracker_get_current (TEST_TYPE_MANAGER)
                 == AG_PENDING_TRACKER (test_manager));
  g_assert_null (current_manager ());

  token_manager = ag_pending_manager_start_tracking (manager, &error);
  g_assert_no_error (error);
  g_assert_true (current_manager () == AG_PENDING_TRACKER (manager));
  g_assert_true (ag_pending_tracker_get_current (TEST_TYPE_MANAGER)
                 == AG_PENDING_TRACKER (test_manager));

  ag_pending_tracker_set_state (AG_PENDING_TRACKER (test_tracker),
                                AG_PENDING_TRACKER_STATE_ACTIVE);
  token_tracker =
    ag_pending_tracker_push_current (AG_PENDING_TRACKER (test_tracker));
  g_assert_true (ag_pending_tracker_get_current (TEST_TYPE_TRACKER)
                 == AG_PENDING_TRACKER (test_tracker));
  g_assert_null (ag_pending_tracker_get_current (AG_TYPE_PENDING_TRACKER));

  /* A new pending registers with every current tracker */
  a = ag_pending_new ();
  g_assert_true (tracks (manager, a));
  g_assert_true (tracks (test_manager, a));
  g_assert_true (tracks (test_tracker, a));

  /* and so does one made by a job scheduled from here, in its thread */
  job = ag_caller_call_soon (caller, slots_job, &probe, NULL);
  ag_test_latch_wait (&probe.ran, 1);
  g_assert_true (tracks (manager, job));
  g_assert_true (tracks (test_manager, job));
  g_assert_true (tracks (test_tracker, job));
  ag_pending_set_int (job, 1);
  ag_test_assert_state (job, AG_PENDING_STATE_SUCCEEDED);
  g_assert_true (probe.seen[0] == AG_PENDING_TRACKER (manager));
  g_assert_true (probe.seen[1] == AG_PENDING_TRACKER (test_manager));
  g_assert_true (probe.seen[2] == AG_PENDING_TRACKER (test_tracker));
  g_assert_null (probe.seen[3]);
  g_assert_true (probe.tracked[0]);
  g_assert_true (probe.tracked[1]);
  g_assert_true (probe.tracked[2]);
  g_assert_true (probe.own_tracked[0]);
  g_assert_true (probe.own_tracked[1]);
  g_assert_true (probe.own_tracked[2]);
  g_assert_false (tracks (manager, job));

  /* Leaving one slot leaves the others */
  ag_pending_tracker_pop_current (token_tracker);
  g_assert_null (ag_pending_tracker_get_current (TEST_TYPE_TRACKER));
  g_assert_true (current_manager () == AG_PENDING_TRACKER (manager));
  ag_pending_manager_stop_tracking (manager, token_manager);
  g_assert_null (current_manager ());
  g_assert_true (ag_pending_tracker_get_current (TEST_TYPE_MANAGER)
                 == AG_PENDING_TRACKER (test_manager));

  b = ag_pending_new ();
  g_assert_false (tracks (manager, b));
  g_assert_true (tracks (test_manager, b));
  g_assert_false (tracks (test_tracker, b));

  ag_pending_manager_stop_tracking (AG_PENDING_MANAGER (test_manager),
                                    token_test_manager);
  g_assert_null (ag_pending_tracker_get_current (TEST_TYPE_MANAGER));

  ag_pending_set_int (a, 1);
  ag_pending_set_int (b, 1);
  g_assert_cmpuint (n_tracked (manager), ==, 0);
  g_assert_cmpuint (n_tracked (test_manager), ==, 0);
  g_assert_cmpuint (n_tracked (test_tracker), ==, 0);

  stopped = ag_pending_manager_deactivate (manager, TRUE);
  g_assert_true (ag_pending_is_done (stopped));
  g_clear_object (&stopped);
  stopped = ag_pending_manager_deactivate (AG_PENDING_MANAGER (test_manager),
                                           TRUE);
  g_assert_true (ag_pending_is_done (stopped));
  assert_tracker_state (test_manager, AG_PENDING_TRACKER_STATE_STOPPED);

  stop_caller (caller);
  ag_test_latch_clear (&probe.ran);
}

/* ::notify::state is emitted on the context of the thread that created
 * the tracker, even when a worker changes the state. */
typedef struct
{
  gint     calls;        /* (atomic) */
  gint     off_thread;   /* (atomic): calls not in the main thread */
  gint     saw_stopped;  /* (atomic) */
} NotifyLog;

static void
notify_state_cb (GObject    *object,
                 GParamSpec *pspec,
                 gpointer    data)
{
  NotifyLog *log = data;

  if (g_thread_self () != main_thread)
    g_atomic_int_inc (&log->off_thread);
  if (ag_pending_tracker_get_state (AG_PENDING_TRACKER (object))
      == AG_PENDING_TRACKER_STATE_STOPPED)
    g_atomic_int_set (&log->saw_stopped, 1);
  g_atomic_int_inc (&log->calls);
}

static gpointer
set_int_thread_func (gpointer data)
{
  ag_pending_set_int (data, 1);
  return NULL;
}

static void
test_tracker_notify_state (void)
{
  g_autoptr(AgPendingGroup) group =
    ag_pending_group_new (FALSE, AG_PENDING_GROUP_MODE_IGNORE);
  g_autoptr(AgPending) member = NULL;
  NotifyLog log = { 0, 0, 0 };
  AgPendingTrackerState state = AG_PENDING_TRACKER_STATE_IDLE;
  GThread *thread;
  Exit exit;

  g_signal_connect (group, "notify::state", G_CALLBACK (notify_state_cb),
                    &log);

  g_assert_true (ag_pending_group_enter (group, NULL));
  member = ag_pending_new ();
  exit_init (&exit);
  exit_begin (group, NULL, &exit);

  /* The last member is done in another thread: the group stops there */
  thread = g_thread_new ("complete", set_int_thread_func, member);
  g_thread_join (thread);
  assert_tracker_state (group, AG_PENDING_TRACKER_STATE_STOPPED);

  ag_test_iterate_until_strict (g_main_context_default (), &log.saw_stopped, 1);
  exit_wait (&exit);
  g_assert_true (exit.ok);
  exit_clear (&exit);

  g_assert_cmpint (g_atomic_int_get (&log.calls), >=, 1);
  g_assert_cmpint (g_atomic_int_get (&log.off_thread), ==, 0);
  g_object_get (group, "state", &state, NULL);
  g_assert_cmpint (state, ==, AG_PENDING_TRACKER_STATE_STOPPED);

  g_signal_handlers_disconnect_by_data (group, &log);
}

/* }}} */

/* {{{ /PendingManager/... */

static void
test_manager_lifecycle (void)
{
  g_autoptr(AgPendingManager) manager = ag_pending_manager_new ();
  g_autoptr(AgPending) before = NULL;
  g_autoptr(AgPending) a = NULL;
  g_autoptr(AgPending) b = NULL;
  g_autoptr(AgPending) after = NULL;
  g_autoptr(AgPending) stopped = NULL;
  g_autoptr(AgPending) stopped2 = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *message = NULL;
  guint token;

  g_assert_true (AG_IS_PENDING_TRACKER (manager));
  assert_tracker_state (manager, AG_PENDING_TRACKER_STATE_IDLE);

  /* Not active: cannot be made current */
  g_assert_cmpuint (ag_pending_manager_start_tracking (manager, &error), ==, 0);
  g_assert_error (error, AG_ERROR, AG_ERROR_INVALID_STATE);
  g_clear_error (&error);
  g_assert_null (current_manager ());

  /* Deactivating an idle manager is harmless */
  stopped = ag_pending_manager_deactivate (manager, TRUE);
  g_assert_true (AG_IS_PENDING (stopped));
  ag_test_wait_done (stopped);
  ag_test_assert_state (stopped, AG_PENDING_STATE_SUCCEEDED);
  g_clear_object (&stopped);

  /* activate; twice is an error */
  g_assert_true (ag_pending_manager_activate (manager, &error));
  g_assert_no_error (error);
  assert_tracker_state (manager, AG_PENDING_TRACKER_STATE_ACTIVE);
  g_assert_false (ag_pending_manager_activate (manager, &error));
  g_assert_error (error, AG_ERROR, AG_ERROR_INVALID_STATE);
  g_clear_error (&error);
  assert_tracker_state (manager, AG_PENDING_TRACKER_STATE_ACTIVE);

  /* Active but not current: tracks nothing by itself */
  before = ag_pending_new ();
  g_assert_false (tracks (manager, before));

  /* Current: tracks the new pendings of this thread */
  token = ag_pending_manager_start_tracking (manager, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (token, >, 0);
  g_assert_true (current_manager () == AG_PENDING_TRACKER (manager));
  a = ag_pending_new ();
  b = ag_pending_new ();
  g_assert_true (tracks (manager, a));
  g_assert_true (tracks (manager, b));
  g_assert_cmpuint (n_tracked (manager), ==, 2);

  /* Explicit track works too */
  g_assert_true (ag_pending_tracker_track (AG_PENDING_TRACKER (manager),
                                           before, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (n_tracked (manager), ==, 3);
  ag_pending_set_int (before, 0);
  g_assert_cmpuint (n_tracked (manager), ==, 2);

  /* deactivate (cancel): the pendings are cancelled; it is stopped when
   * they are done */
  stopped = ag_pending_manager_deactivate (manager, TRUE);
  g_assert_true (AG_IS_PENDING (stopped));
  g_assert_false (ag_pending_is_done (stopped));
  assert_tracker_state (manager, AG_PENDING_TRACKER_STATE_EXITING);
  g_assert_true (ag_pending_is_cancelled (a));
  g_assert_true (ag_pending_is_cancelled (b));
  message = ag_pending_dup_cancel_message (a);
  g_assert_nonnull (message);

  /* Pendings made after deactivation are not tracked, even while it is
   * still current */
  after = ag_pending_new ();
  g_assert_false (tracks (manager, after));
  g_assert_false (ag_pending_is_cancelled (after));

  /* Deactivating again is harmless */
  stopped2 = ag_pending_manager_deactivate (manager, TRUE);
  g_assert_true (AG_IS_PENDING (stopped2));
  assert_tracker_state (manager, AG_PENDING_TRACKER_STATE_EXITING);

  ag_pending_set_int (a, 1);
  g_assert_false (ag_pending_is_done (stopped));
  assert_tracker_state (manager, AG_PENDING_TRACKER_STATE_EXITING);
  ag_pending_set_int (b, 1);
  ag_test_assert_state (a, AG_PENDING_STATE_CANCELLED);
  ag_test_assert_state (b, AG_PENDING_STATE_CANCELLED);
  ag_test_wait_done (stopped);
  ag_test_assert_state (stopped, AG_PENDING_STATE_SUCCEEDED);
  ag_test_wait_done (stopped2);
  ag_test_assert_state (stopped2, AG_PENDING_STATE_SUCCEEDED);
  assert_tracker_state (manager, AG_PENDING_TRACKER_STATE_STOPPED);
  g_assert_null (current_manager ());
  g_clear_object (&stopped2);

  /* Stopped: deactivate again, still harmless */
  stopped2 = ag_pending_manager_deactivate (manager, FALSE);
  ag_test_wait_done (stopped2);
  ag_test_assert_state (stopped2, AG_PENDING_STATE_SUCCEEDED);
  assert_tracker_state (manager, AG_PENDING_TRACKER_STATE_STOPPED);

  ag_pending_manager_stop_tracking (manager, token);
  g_assert_null (current_manager ());

  /* Stopped: cannot be made current... */
  g_assert_cmpuint (ag_pending_manager_start_tracking (manager, &error), ==, 0);
  g_assert_error (error, AG_ERROR, AG_ERROR_INVALID_STATE);
  g_clear_error (&error);

  /* ...but can be activated again */
  g_assert_true (ag_pending_manager_activate (manager, &error));
  g_assert_no_error (error);
  assert_tracker_state (manager, AG_PENDING_TRACKER_STATE_ACTIVE);
  token = ag_pending_manager_start_tracking (manager, &error);
  g_assert_no_error (error);
  g_clear_object (&a);
  a = ag_pending_new ();
  g_assert_true (tracks (manager, a));
  ag_pending_manager_stop_tracking (manager, token);
  g_clear_object (&b);
  b = ag_pending_new ();
  g_assert_false (tracks (manager, b));

  ag_pending_set_int (a, 1);
  ag_pending_set_int (b, 1);
  ag_pending_set_int (after, 1);
  g_clear_object (&stopped);
  stopped = ag_pending_manager_deactivate (manager, TRUE);
  ag_test_wait_done (stopped);
  assert_tracker_state (manager, AG_PENDING_TRACKER_STATE_STOPPED);
}

static void
test_manager_deactivate_keep (void)
{
  g_autoptr(AgPendingManager) manager = ag_pending_manager_new ();
  g_autoptr(AgPending) a = NULL;
  g_autoptr(AgPending) stopped = NULL;
  guint token;

  g_assert_true (ag_pending_manager_activate (manager, NULL));
  token = ag_pending_manager_start_tracking (manager, NULL);
  a = ag_pending_new ();
  ag_pending_manager_stop_tracking (manager, token);
  g_assert_true (tracks (manager, a));

  /* Without cancelling: forgets them, and is stopped at once */
  stopped = ag_pending_manager_deactivate (manager, FALSE);
  ag_test_wait_done (stopped);
  ag_test_assert_state (stopped, AG_PENDING_STATE_SUCCEEDED);
  assert_tracker_state (manager, AG_PENDING_TRACKER_STATE_STOPPED);
  g_assert_false (tracks (manager, a));
  g_assert_false (ag_pending_is_cancelled (a));
  g_assert_false (ag_pending_is_done (a));
  ag_pending_set_int (a, 1);
}

/* A pending cancelled by deactivate that completes in another thread
 * stops the manager there. */
static void
test_manager_deactivate_thread (void)
{
  g_autoptr(AgPendingManager) manager = ag_pending_manager_new ();
  g_autoptr(AgCaller) caller = ag_caller_new_thread ("deactivate");
  g_autoptr(AgPending) job = NULL;
  g_autoptr(AgPending) stopped = NULL;
  AgTestLatch started;
  guint token;

  ag_test_latch_init (&started);
  g_assert_true (ag_pending_manager_activate (manager, NULL));
  token = ag_pending_manager_start_tracking (manager, NULL);
  job = ag_caller_call_soon (caller, until_cancelled_job, &started, NULL);
  ag_pending_manager_stop_tracking (manager, token);
  g_assert_true (tracks (manager, job));
  ag_test_latch_wait (&started, 1);

  stopped = ag_pending_manager_deactivate (manager, TRUE);
  ag_test_wait_done (stopped);
  ag_test_assert_state (stopped, AG_PENDING_STATE_SUCCEEDED);
  ag_test_assert_state (job, AG_PENDING_STATE_CANCELLED);
  assert_tracker_state (manager, AG_PENDING_TRACKER_STATE_STOPPED);

  stop_caller (caller);
  ag_test_latch_clear (&started);
}

static void
test_manager_tokens (void)
{
  g_autoptr(AgPendingManager) m1 = ag_pending_manager_new ();
  g_autoptr(AgPendingManager) m2 = ag_pending_manager_new ();
  g_autoptr(AgPending) p1 = NULL;
  g_autoptr(AgPending) p2 = NULL;
  g_autoptr(AgPending) stopped = NULL;
  guint t1;
  guint t2;

  g_assert_true (ag_pending_manager_activate (m1, NULL));
  g_assert_true (ag_pending_manager_activate (m2, NULL));

  /* Nested stretches */
  t1 = ag_pending_manager_start_tracking (m1, NULL);
  g_assert_true (current_manager () == AG_PENDING_TRACKER (m1));
  t2 = ag_pending_manager_start_tracking (m2, NULL);
  g_assert_cmpuint (t1, !=, t2);
  g_assert_true (current_manager () == AG_PENDING_TRACKER (m2));
  p2 = ag_pending_new ();
  g_assert_true (tracks (m2, p2));
  g_assert_false (tracks (m1, p2));
  ag_pending_manager_stop_tracking (m2, t2);
  g_assert_true (current_manager () == AG_PENDING_TRACKER (m1));
  p1 = ag_pending_new ();
  g_assert_true (tracks (m1, p1));
  g_assert_false (tracks (m2, p1));
  ag_pending_manager_stop_tracking (m1, t1);
  g_assert_null (current_manager ());

  /* Stopping an outer stretch ends the inner ones too */
  t1 = ag_pending_manager_start_tracking (m1, NULL);
  t2 = ag_pending_manager_start_tracking (m2, NULL);
  g_assert_true (current_manager () == AG_PENDING_TRACKER (m2));
  ag_pending_manager_stop_tracking (m1, t1);
  g_assert_null (current_manager ());

  /* The same manager twice */
  t1 = ag_pending_manager_start_tracking (m1, NULL);
  t2 = ag_pending_manager_start_tracking (m1, NULL);
  ag_pending_manager_stop_tracking (m1, t2);
  g_assert_true (current_manager () == AG_PENDING_TRACKER (m1));
  ag_pending_manager_stop_tracking (m1, t1);
  g_assert_null (current_manager ());

  ag_pending_set_int (p1, 1);
  ag_pending_set_int (p2, 1);
  stopped = ag_pending_manager_deactivate (m1, TRUE);
  g_assert_true (ag_pending_is_done (stopped));
  g_clear_object (&stopped);
  stopped = ag_pending_manager_deactivate (m2, TRUE);
  g_assert_true (ag_pending_is_done (stopped));
}

/* A manager current where jobs are scheduled tracks the pendings those
 * jobs make, in their threads. */
typedef struct
{
  AgPendingManager *manager;
  AgPendingTracker *seen;
  gboolean          tracked;
  gboolean          own_tracked;
} ManagerProbe;

static AgPending *
manager_probe_job (AgPending *pending,
                   gpointer   data)
{
  ManagerProbe *probe = data;
  g_autoptr(AgPending) inner = ag_pending_new ();

  probe->seen = current_manager ();
  probe->tracked = tracks (probe->manager, inner);
  probe->own_tracked = tracks (probe->manager, pending);
  ag_pending_set_int (inner, 1);

  return NULL;
}

static void
test_manager_propagation (void)
{
  g_autoptr(AgPendingManager) manager = ag_pending_manager_new ();
  g_autoptr(AgCaller) caller = ag_caller_new_thread ("manager");
  g_autoptr(AgPending) soon = NULL;
  g_autoptr(AgPending) thread = NULL;
  g_autoptr(AgPending) stopped = NULL;
  ManagerProbe probes[2] = { { manager, NULL, FALSE, FALSE },
                             { manager, NULL, FALSE, FALSE } };
  guint token;

  g_assert_true (ag_pending_manager_activate (manager, NULL));
  token = ag_pending_manager_start_tracking (manager, NULL);
  soon = ag_caller_call_soon (caller, manager_probe_job, &probes[0], NULL);
  thread = ag_caller_to_thread (caller, manager_probe_job, &probes[1], NULL);
  ag_pending_manager_stop_tracking (manager, token);

  ag_test_wait_done (soon);
  ag_test_wait_done (thread);
  for (guint i = 0; i < G_N_ELEMENTS (probes); i++)
    {
      g_assert_true (probes[i].seen == AG_PENDING_TRACKER (manager));
      g_assert_true (probes[i].tracked);
      g_assert_true (probes[i].own_tracked);
    }

  /* Stopped once the done jobs have left it */
  stopped = ag_pending_manager_deactivate (manager, TRUE);
  ag_test_wait_done (stopped);
  ag_test_assert_state (stopped, AG_PENDING_STATE_SUCCEEDED);
  g_assert_cmpuint (n_tracked (manager), ==, 0);
  ag_test_assert_state (soon, AG_PENDING_STATE_SUCCEEDED);
  ag_test_assert_state (thread, AG_PENDING_STATE_SUCCEEDED);
  stop_caller (caller);
}

/* }}} */

/* {{{ /PendingGroup/basics, properties, misuse */

static void
test_group_basics (void)
{
  g_autoptr(AgPendingGroup) group =
    ag_pending_group_new (FALSE, AG_PENDING_GROUP_MODE_IGNORE);
  g_autoptr(AgPending) a = NULL;
  g_autoptr(AgPending) b = NULL;
  g_autoptr(AgPending) outside = NULL;
  g_autoptr(GError) error = NULL;
  AgPending *pending;
  Exit exit;

  g_assert_true (AG_IS_PENDING_TRACKER (group));
  assert_tracker_state (group, AG_PENDING_TRACKER_STATE_IDLE);
  g_assert_null (ag_pending_group_get_pending (group));
  g_assert_null (current_group ());
  g_assert_false (ag_pending_group_is_cancelled (group));

  g_assert_true (ag_pending_group_enter (group, &error));
  g_assert_no_error (error);
  assert_tracker_state (group, AG_PENDING_TRACKER_STATE_ACTIVE);
  g_assert_true (current_group () == AG_PENDING_TRACKER (group));
  pending = ag_pending_group_get_pending (group);
  g_assert_true (AG_IS_PENDING (pending));
  g_assert_false (ag_pending_is_done (pending));
  /* the group's own pending is no member of it */
  g_assert_false (tracks (group, pending));

  a = ag_pending_new ();
  b = ag_pending_new ();
  g_assert_true (tracks (group, a));
  g_assert_true (tracks (group, b));
  g_assert_cmpuint (n_tracked (group), ==, 2);

  /* A member that is done leaves */
  ag_pending_set_int (a, 1);
  g_assert_false (tracks (group, a));
  g_assert_cmpuint (n_tracked (group), ==, 1);

  /* exit: no longer current; waits for b */
  exit_init (&exit);
  exit_begin (group, NULL, &exit);
  g_assert_null (current_group ());
  assert_tracker_state (group, AG_PENDING_TRACKER_STATE_EXITING);
  outside = ag_pending_new ();
  g_assert_false (tracks (group, outside));
  assert_not_exited (&exit);

  ag_pending_set_int (b, 2);
  exit_wait (&exit);
  g_assert_true (exit.ok);
  g_assert_no_error (exit.error);
  exit_clear (&exit);

  assert_tracker_state (group, AG_PENDING_TRACKER_STATE_STOPPED);
  ag_test_assert_state (pending, AG_PENDING_STATE_SUCCEEDED);
  g_assert_cmpuint (n_tracked (group), ==, 0);
  g_assert_false (ag_pending_group_is_cancelled (group));
  {
    g_autoptr(GPtrArray) failed = ag_pending_group_get_failed (group);

    g_assert_cmpuint (failed->len, ==, 0);
  }
  ag_pending_set_int (outside, 3);
}

static void
test_group_empty (void)
{
  g_autoptr(AgPendingGroup) group =
    enter_new_group (FALSE, AG_PENDING_GROUP_MODE_IGNORE);
  g_autoptr(GError) error = NULL;

  /* Nothing to wait for: completes, in a later iteration */
  g_assert_true (group_exit (group, NULL, &error));
  g_assert_no_error (error);
  assert_tracker_state (group, AG_PENDING_TRACKER_STATE_STOPPED);
  ag_test_assert_state (ag_pending_group_get_pending (group),
                AG_PENDING_STATE_SUCCEEDED);
}

static void
test_group_properties (void)
{
  g_autoptr(AgCaller) caller = ag_caller_new_thread ("props");
  g_autoptr(AgPendingGroup) group = NULL;
  g_autoptr(AgPendingGroup) group2 = NULL;
  g_autoptr(AgCaller) caller_prop = NULL;
  g_autoptr(GPtrArray) pendings = NULL;
  g_autoptr(AgPending) a = NULL;
  AgPendingGroupMode mode = AG_PENDING_GROUP_MODE_IGNORE;
  AgPendingTrackerState state = AG_PENDING_TRACKER_STATE_IDLE;
  gboolean shield = FALSE;
  guint n = 9;

  group = ag_caller_create_pending_group (caller, TRUE,
                                          AG_PENDING_GROUP_MODE_CANCEL_QUIET);
  g_assert_true (AG_IS_PENDING_GROUP (group));
  g_assert_true (ag_pending_group_get_caller (group) == caller);
  g_assert_true (ag_pending_group_get_shield (group));
  g_assert_cmpint (ag_pending_group_get_mode (group), ==,
                   AG_PENDING_GROUP_MODE_CANCEL_QUIET);
  g_object_get (group,
                "caller", &caller_prop,
                "shield", &shield,
                "mode", &mode,
                "state", &state,
                "n-pendings", &n,
                "pendings", &pendings,
                NULL);
  g_assert_true (caller_prop == caller);
  g_assert_true (shield);
  g_assert_cmpint (mode, ==, AG_PENDING_GROUP_MODE_CANCEL_QUIET);
  g_assert_cmpint (state, ==, AG_PENDING_TRACKER_STATE_IDLE);
  g_assert_cmpuint (n, ==, 0);
  g_assert_nonnull (pendings);
  g_assert_cmpuint (pendings->len, ==, 0);
  g_clear_pointer (&pendings, g_ptr_array_unref);

  /* The default caller is this thread's; the default mode IGNORE (0) */
  group2 = ag_pending_group_new (FALSE, 0);
  g_assert_true (ag_pending_group_get_caller (group2)
                 == ag_caller_get_current ());
  g_assert_false (ag_pending_group_get_shield (group2));
  g_assert_cmpint (ag_pending_group_get_mode (group2), ==,
                   AG_PENDING_GROUP_MODE_IGNORE);
  g_clear_object (&group2);
  group2 = g_object_new (AG_TYPE_PENDING_GROUP, NULL);
  g_assert_cmpint (ag_pending_group_get_mode (group2), ==,
                   AG_PENDING_GROUP_MODE_IGNORE);
  g_assert_false (ag_pending_group_get_shield (group2));
  g_assert_true (AG_IS_CALLER (ag_pending_group_get_caller (group2)));

  /* The modes are the seed's numbers */
  g_assert_cmpint (AG_PENDING_GROUP_MODE_IGNORE, ==, 0);
  g_assert_cmpint (AG_PENDING_GROUP_MODE_CANCEL_RAISE, ==, 1);
  g_assert_cmpint (AG_PENDING_GROUP_MODE_CANCEL_QUIET, ==, 2);
  g_assert_cmpint (AG_PENDING_GROUP_MODE_IGNORE_RAISE, ==, 3);

  /* pendings and n-pendings follow the members */
  g_assert_true (ag_pending_group_enter (group, NULL));
  a = ag_pending_new ();
  g_object_get (group,
                "n-pendings", &n,
                "pendings", &pendings,
                "state", &state,
                NULL);
  g_assert_cmpuint (n, ==, 1);
  g_assert_cmpuint (pendings->len, ==, 1);
  g_assert_true (g_ptr_array_index (pendings, 0) == a);
  g_assert_cmpint (state, ==, AG_PENDING_TRACKER_STATE_ACTIVE);
  g_clear_pointer (&pendings, g_ptr_array_unref);
  pendings = ag_pending_tracker_dup_pendings (AG_PENDING_TRACKER (group));
  g_assert_cmpuint (pendings->len, ==, 1);
  g_assert_true (g_ptr_array_index (pendings, 0) == a);
  g_clear_pointer (&pendings, g_ptr_array_unref);

  ag_pending_set_int (a, 1);
  g_assert_true (group_exit (group, NULL, NULL));

  stop_caller (caller);
}

static void
never_exit_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      data)
{
  g_assert_not_reached ();
}

static void
test_group_misuse (void)
{
  g_autoptr(AgPendingGroup) group = NULL;
  g_autoptr(AgPending) member = NULL;
  g_autoptr(AgPending) late = NULL;
  g_autoptr(GError) error = NULL;
  Exit exit;
  Exit exit2;

  /* Exit before enter */
  group = ag_pending_group_new (FALSE, AG_PENDING_GROUP_MODE_IGNORE);
  g_assert_false (group_exit (group, NULL, &error));
  g_assert_error (error, AG_ERROR, AG_ERROR_INVALID_STATE);
  g_clear_error (&error);
  g_assert_false (ag_pending_group_exit_sync (group, NULL, &error));
  g_assert_error (error, AG_ERROR, AG_ERROR_INVALID_STATE);
  g_clear_error (&error);

  /* An idle group takes no pendings */
  late = ag_pending_new ();
  g_assert_false (ag_pending_tracker_track (AG_PENDING_TRACKER (group), late,
                                            &error));
  g_assert_error (error, AG_ERROR, AG_ERROR_INVALID_STATE);
  g_clear_error (&error);

  /* Enter twice */
  g_assert_true (ag_pending_group_enter (group, &error));
  g_assert_no_error (error);
  g_assert_false (ag_pending_group_enter (group, &error));
  g_assert_error (error, AG_ERROR, AG_ERROR_INVALID_STATE);
  g_clear_error (&error);
  g_assert_true (current_group () == AG_PENDING_TRACKER (group));

  member = ag_pending_new ();

  /* Exit twice: the second fails, the first still completes */
  exit_init (&exit);
  exit_init (&exit2);
  exit_begin (group, NULL, &exit);
  exit_begin (group, NULL, &exit2);
  exit_wait (&exit2);
  g_assert_false (exit2.ok);
  g_assert_error (exit2.error, AG_ERROR, AG_ERROR_INVALID_STATE);
  assert_not_exited (&exit);
  g_assert_false (ag_pending_group_exit_sync (group, NULL, &error));
  g_assert_error (error, AG_ERROR, AG_ERROR_INVALID_STATE);
  g_clear_error (&error);

  /* Enter while exiting */
  g_assert_false (ag_pending_group_enter (group, &error));
  g_assert_error (error, AG_ERROR, AG_ERROR_INVALID_STATE);
  g_clear_error (&error);
  g_assert_null (current_group ());

  ag_pending_set_int (member, 1);
  exit_wait (&exit);
  g_assert_true (exit.ok);
  exit_clear (&exit);
  exit_clear (&exit2);

  /* Enter after exit */
  g_assert_false (ag_pending_group_enter (group, &error));
  g_assert_error (error, AG_ERROR, AG_ERROR_INVALID_STATE);
  g_clear_error (&error);
  g_assert_null (current_group ());

  /* Track into a stopped group */
  assert_tracker_state (group, AG_PENDING_TRACKER_STATE_STOPPED);
  g_assert_false (ag_pending_tracker_track (AG_PENDING_TRACKER (group), late,
                                            &error));
  g_assert_error (error, AG_ERROR, AG_ERROR_INVALID_STATE);
  g_clear_error (&error);
  g_assert_false (tracks (group, late));

  /* Exit after exit */
  g_assert_false (group_exit (group, NULL, &error));
  g_assert_error (error, AG_ERROR, AG_ERROR_INVALID_STATE);
  g_clear_error (&error);

  /* An error keeps the outcome: the group's pending still succeeded */
  ag_test_assert_state (ag_pending_group_get_pending (group),
                AG_PENDING_STATE_SUCCEEDED);

  ag_pending_set_int (late, 1);
}

/* remove / discard: exit no longer waits for them. */
static void
test_group_remove (void)
{
  g_autoptr(AgPendingGroup) group =
    enter_new_group (FALSE, AG_PENDING_GROUP_MODE_CANCEL_RAISE);
  g_autoptr(AgPending) a = ag_pending_new ();
  g_autoptr(AgPending) b = ag_pending_new ();
  g_autoptr(AgPending) c = ag_pending_new ();
  g_autoptr(GError) error = NULL;
  Exit exit;

  g_assert_cmpuint (n_tracked (group), ==, 3);

  g_assert_true (ag_pending_tracker_remove (AG_PENDING_TRACKER (group), a,
                                            &error));
  g_assert_no_error (error);
  g_assert_false (tracks (group, a));
  g_assert_false (ag_pending_tracker_remove (AG_PENDING_TRACKER (group), a,
                                             &error));
  g_assert_error (error, AG_ERROR, AG_ERROR_INVALID_STATE);
  g_clear_error (&error);

  g_assert_true (ag_pending_tracker_discard (AG_PENDING_TRACKER (group), b));
  g_assert_false (ag_pending_tracker_discard (AG_PENDING_TRACKER (group), b));
  g_assert_false (tracks (group, b));

  /* A removed member that fails or is cancelled changes nothing */
  g_assert_true (ag_pending_take_error (a, io_error (G_IO_ERROR_FAILED,
                                                     "removed")));
  ag_pending_cancel (b, "removed too");
  ag_pending_set_int (b, 0);
  g_assert_false (ag_pending_group_is_cancelled (group));
  g_assert_false (ag_pending_is_cancelled (c));

  /* Exit waits for c; removing it completes the exit */
  exit_init (&exit);
  exit_begin (group, NULL, &exit);
  assert_not_exited (&exit);
  g_assert_true (ag_pending_tracker_remove (AG_PENDING_TRACKER (group), c,
                                            &error));
  g_assert_no_error (error);
  exit_wait (&exit);
  g_assert_true (exit.ok);
  exit_clear (&exit);
  g_assert_false (ag_pending_is_done (c));
  g_assert_false (ag_pending_is_cancelled (c));
  {
    g_autoptr(GPtrArray) failed = ag_pending_group_get_failed (group);

    g_assert_cmpuint (failed->len, ==, 0);
  }
  ag_pending_set_int (c, 1);
}

/* NO_TRACKING opts out of every current tracker. */
static AgPending *
untracked_job (AgPending *pending,
               gpointer   data)
{
  AgPending **out = data;

  *out = ag_pending_new_full (AG_PENDING_FLAGS_NO_TRACKING, "untracked");
  return NULL;
}

static void
test_group_no_tracking (void)
{
  g_autoptr(AgCaller) caller = ag_caller_new_thread ("no-tracking");
  g_autoptr(AgPendingManager) manager = ag_pending_manager_new ();
  g_autoptr(AgPendingGroup) group = NULL;
  g_autoptr(AgPending) untracked = NULL;
  g_autoptr(AgPending) from_job = NULL;
  g_autoptr(AgPending) job = NULL;
  g_autoptr(AgPending) stopped = NULL;
  g_autoptr(GError) error = NULL;
  guint token;

  g_assert_true (ag_pending_manager_activate (manager, NULL));
  token = ag_pending_manager_start_tracking (manager, NULL);
  group = enter_new_group (FALSE, AG_PENDING_GROUP_MODE_IGNORE);

  untracked = ag_pending_new_full (AG_PENDING_FLAGS_NO_TRACKING, "untracked");
  g_assert_cmpint (ag_pending_get_flags (untracked), ==,
                   AG_PENDING_FLAGS_NO_TRACKING);
  g_assert_false (tracks (group, untracked));
  g_assert_false (tracks (manager, untracked));

  /* Also in a job that the group tracks */
  job = ag_caller_call_soon (caller, untracked_job, &from_job, NULL);
  ag_test_wait_done (job);
  g_assert_true (AG_IS_PENDING (from_job));
  g_assert_false (tracks (group, from_job));
  g_assert_false (tracks (manager, from_job));

  /* Exit does not wait for them */
  g_assert_true (group_exit (group, NULL, &error));
  g_assert_no_error (error);
  g_assert_false (ag_pending_is_done (untracked));
  g_assert_false (ag_pending_is_done (from_job));

  /* The flag opts out of automatic tracking only */
  g_assert_true (ag_pending_tracker_track (AG_PENDING_TRACKER (manager),
                                           untracked, &error));
  g_assert_no_error (error);
  g_assert_true (tracks (manager, untracked));

  ag_pending_manager_stop_tracking (manager, token);
  ag_pending_set_int (untracked, 1);
  ag_pending_set_int (from_job, 1);
  stopped = ag_pending_manager_deactivate (manager, TRUE);
  ag_test_wait_done (stopped);
  ag_test_assert_state (stopped, AG_PENDING_STATE_SUCCEEDED);
  g_assert_cmpuint (n_tracked (manager), ==, 0);
  stop_caller (caller);
}

/* }}} */

/* {{{ /PendingGroup/mode/... */

typedef struct
{
  const char         *path;
  AgPendingGroupMode  mode;
  gboolean            fail;           /* else the victim is cancelled */
  gboolean            while_exiting;  /* else while active */
} ModeCase;

static const ModeCase mode_cases[] = {
  { "/PendingGroup/mode/ignore/cancelled",
    AG_PENDING_GROUP_MODE_IGNORE, FALSE, FALSE },
  { "/PendingGroup/mode/cancel-raise/cancelled",
    AG_PENDING_GROUP_MODE_CANCEL_RAISE, FALSE, FALSE },
  { "/PendingGroup/mode/cancel-quiet/cancelled",
    AG_PENDING_GROUP_MODE_CANCEL_QUIET, FALSE, FALSE },
  { "/PendingGroup/mode/ignore-raise/cancelled",
    AG_PENDING_GROUP_MODE_IGNORE_RAISE, FALSE, FALSE },
  { "/PendingGroup/mode/ignore/failed",
    AG_PENDING_GROUP_MODE_IGNORE, TRUE, FALSE },
  { "/PendingGroup/mode/cancel-raise/failed",
    AG_PENDING_GROUP_MODE_CANCEL_RAISE, TRUE, FALSE },
  { "/PendingGroup/mode/cancel-quiet/failed",
    AG_PENDING_GROUP_MODE_CANCEL_QUIET, TRUE, FALSE },
  { "/PendingGroup/mode/ignore-raise/failed",
    AG_PENDING_GROUP_MODE_IGNORE_RAISE, TRUE, FALSE },
  { "/PendingGroup/mode/ignore/cancelled-while-exiting",
    AG_PENDING_GROUP_MODE_IGNORE, FALSE, TRUE },
  { "/PendingGroup/mode/cancel-raise/cancelled-while-exiting",
    AG_PENDING_GROUP_MODE_CANCEL_RAISE, FALSE, TRUE },
  { "/PendingGroup/mode/cancel-quiet/cancelled-while-exiting",
    AG_PENDING_GROUP_MODE_CANCEL_QUIET, FALSE, TRUE },
  { "/PendingGroup/mode/ignore-raise/cancelled-while-exiting",
    AG_PENDING_GROUP_MODE_IGNORE_RAISE, FALSE, TRUE },
  { "/PendingGroup/mode/ignore/failed-while-exiting",
    AG_PENDING_GROUP_MODE_IGNORE, TRUE, TRUE },
  { "/PendingGroup/mode/cancel-raise/failed-while-exiting",
    AG_PENDING_GROUP_MODE_CANCEL_RAISE, TRUE, TRUE },
  { "/PendingGroup/mode/cancel-quiet/failed-while-exiting",
    AG_PENDING_GROUP_MODE_CANCEL_QUIET, TRUE, TRUE },
  { "/PendingGroup/mode/ignore-raise/failed-while-exiting",
    AG_PENDING_GROUP_MODE_IGNORE_RAISE, TRUE, TRUE },
};

static void
test_group_mode (gconstpointer data)
{
  const ModeCase *mc = data;
  g_autoptr(AgPendingGroup) group = ag_pending_group_new (FALSE, mc->mode);
  g_autoptr(AgPending) victim = NULL;
  g_autoptr(AgPending) other0 = NULL;
  g_autoptr(AgPending) other1 = NULL;
  g_autoptr(AgPending) late = NULL;
  g_autoptr(GPtrArray) failed = NULL;
  gboolean cancels_rest = mc->fail
                          || mc->mode == AG_PENDING_GROUP_MODE_CANCEL_RAISE
                          || mc->mode == AG_PENDING_GROUP_MODE_CANCEL_QUIET;
  gboolean raises = mc->mode == AG_PENDING_GROUP_MODE_CANCEL_RAISE
                    || mc->mode == AG_PENDING_GROUP_MODE_IGNORE_RAISE;
  AgPendingState rest_state = cancels_rest ? AG_PENDING_STATE_CANCELLED
                                           : AG_PENDING_STATE_SUCCEEDED;
  AgPending *pending;
  Exit exit;

  g_assert_cmpint (ag_pending_group_get_mode (group), ==, mc->mode);
  g_assert_true (ag_pending_group_enter (group, NULL));
  pending = ag_pending_group_get_pending (group);

  victim = ag_pending_new_full (AG_PENDING_FLAGS_NONE, "victim");
  other0 = ag_pending_new_full (AG_PENDING_FLAGS_NONE, "other-0");
  other1 = ag_pending_new_full (AG_PENDING_FLAGS_NONE, "other-1");
  g_assert_cmpuint (n_tracked (group), ==, 3);

  exit_init (&exit);
  if (mc->while_exiting)
    {
      exit_begin (group, NULL, &exit);
      assert_tracker_state (group, AG_PENDING_TRACKER_STATE_EXITING);
      assert_not_exited (&exit);
    }

  if (mc->fail)
    {
      g_assert_true (ag_pending_take_error (victim,
                                            io_error (G_IO_ERROR_NOT_FOUND,
                                                      "the victim failed")));
      ag_test_assert_state (victim, AG_PENDING_STATE_FAILED);
    }
  else
    {
      g_assert_true (ag_pending_cancel (victim, "the victim was cancelled"));
      g_assert_true (ag_pending_set_int (victim, 0));
      ag_test_assert_state (victim, AG_PENDING_STATE_CANCELLED);
    }
  g_assert_false (tracks (group, victim));

  /* The others are cancelled, or not */
  g_assert_cmpint (ag_pending_is_cancelled (other0), ==, cancels_rest);
  g_assert_cmpint (ag_pending_is_cancelled (other1), ==, cancels_rest);
  g_assert_false (ag_pending_is_done (other0));
  g_assert_false (ag_pending_is_done (other1));
  if (mc->mode != AG_PENDING_GROUP_MODE_IGNORE_RAISE || mc->fail)
    g_assert_cmpint (ag_pending_group_is_cancelled (group), ==, cancels_rest);

  /* Work started now is cancelled at once if the group is, but still
   * tracked: while exiting too */
  late = ag_pending_new_full (AG_PENDING_FLAGS_NONE, "late");
  if (!mc->while_exiting)
    {
      g_assert_true (tracks (group, late));
      g_assert_cmpint (ag_pending_is_cancelled (late), ==, cancels_rest);
      exit_begin (group, NULL, &exit);
    }
  else
    {
      /* exited: this thread has no current group any more */
      g_assert_false (tracks (group, late));
      g_assert_true (ag_pending_tracker_track (AG_PENDING_TRACKER (group),
                                               late, NULL));
      g_assert_cmpint (ag_pending_is_cancelled (late), ==, cancels_rest);
    }

  /* Exit waits for the last member */
  ag_pending_set_int (other0, 1);
  ag_pending_set_int (late, 3);
  assert_not_exited (&exit);
  assert_tracker_state (group, AG_PENDING_TRACKER_STATE_EXITING);
  g_assert_false (ag_pending_is_done (pending));
  ag_pending_set_int (other1, 2);

  exit_wait (&exit);
  ag_test_assert_state (other0, rest_state);
  ag_test_assert_state (other1, rest_state);
  ag_test_assert_state (late, rest_state);
  assert_tracker_state (group, AG_PENDING_TRACKER_STATE_STOPPED);

  failed = ag_pending_group_get_failed (group);
  if (mc->fail)
    {
      /* The member's error, in every mode */
      g_assert_false (exit.ok);
      g_assert_error (exit.error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
      g_assert_cmpstr (exit.error->message, ==, "the victim failed");
      g_assert_cmpuint (failed->len, ==, 1);
      g_assert_true (g_ptr_array_index (failed, 0) == victim);
      ag_test_assert_state (pending, AG_PENDING_STATE_FAILED);
    }
  else if (raises)
    {
      g_assert_false (exit.ok);
      g_assert_error (exit.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
      g_assert_cmpuint (failed->len, ==, 0);
      ag_test_assert_state (pending, AG_PENDING_STATE_CANCELLED);
    }
  else
    {
      g_assert_true (exit.ok);
      g_assert_no_error (exit.error);
      g_assert_cmpuint (failed->len, ==, 0);
      ag_test_assert_state (pending, AG_PENDING_STATE_SUCCEEDED);
    }
  exit_clear (&exit);
}

/* A failed member's error wins over CANCELLED, whatever came after. */
static void
test_group_failure_wins (void)
{
  for (AgPendingGroupMode mode = AG_PENDING_GROUP_MODE_IGNORE;
       mode <= AG_PENDING_GROUP_MODE_IGNORE_RAISE;
       mode++)
    {
      g_autoptr(AgPendingGroup) group = enter_new_group (FALSE, mode);
      g_autoptr(AgPending) fails = ag_pending_new ();
      g_autoptr(AgPending) cancelled = ag_pending_new ();
      g_autoptr(AgPending) other = ag_pending_new ();
      g_autoptr(GCancellable) cancellable = g_cancellable_new ();
      g_autoptr(GError) error = NULL;
      Exit exit;

      g_test_message ("mode %d", mode);

      g_assert_true (ag_pending_take_error (fails,
                                            io_error (G_IO_ERROR_BUSY,
                                                      "member error")));
      /* then a cancelled member, a group cancel, an exit cancellable */
      ag_pending_cancel (cancelled, "cancelled member");
      ag_pending_set_int (cancelled, 0);
      ag_pending_group_cancel (group, "group cancelled");
      exit_init (&exit);
      exit_begin (group, cancellable, &exit);
      g_cancellable_cancel (cancellable);
      ag_pending_set_int (other, 0);
      exit_wait (&exit);

      g_assert_false (exit.ok);
      g_assert_error (exit.error, G_IO_ERROR, G_IO_ERROR_BUSY);
      g_assert_cmpstr (exit.error->message, ==, "member error");
      exit_clear (&exit);
    }

  /* Cancelled first, failed after: where the cancelled member does not
   * cancel the rest */
  for (AgPendingGroupMode mode = AG_PENDING_GROUP_MODE_IGNORE;
       mode <= AG_PENDING_GROUP_MODE_IGNORE_RAISE;
       mode += AG_PENDING_GROUP_MODE_IGNORE_RAISE)
    {
      g_autoptr(AgPendingGroup) group = enter_new_group (FALSE, mode);
      g_autoptr(AgPending) cancelled = ag_pending_new ();
      g_autoptr(AgPending) fails = ag_pending_new ();
      g_autoptr(GError) error = NULL;

      g_test_message ("mode %d, cancelled first", mode);

      ag_pending_cancel (cancelled, "cancelled member");
      ag_pending_set_int (cancelled, 0);
      g_assert_false (ag_pending_is_cancelled (fails));
      g_assert_true (ag_pending_take_error (fails,
                                            io_error (G_IO_ERROR_BUSY,
                                                      "member error")));
      g_assert_false (group_exit (group, NULL, &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_BUSY);
      g_assert_cmpstr (error->message, ==, "member error");
    }
}

/* get_failed lists every failed member, in the order they failed; exit
 * fails with the first one's error. */
static void
fail_other_cb (AgPending *pending,
               gpointer   data)
{
  ag_pending_take_error (data, io_error (G_IO_ERROR_EXISTS, "first failure"));
}

static void
test_group_failed_list (void)
{
  g_autoptr(AgPendingGroup) group =
    enter_new_group (FALSE, AG_PENDING_GROUP_MODE_IGNORE);
  g_autoptr(AgPending) first = ag_pending_new ();
  g_autoptr(AgPending) second = NULL;
  g_autoptr(AgPending) cancelled = ag_pending_new ();
  g_autoptr(GPtrArray) failed = NULL;
  g_autoptr(GError) error = NULL;

  /* second is tracked only after a done callback of its own that fails
   * first, so both fail before the group cancels either of them */
  second = ag_pending_new_full (AG_PENDING_FLAGS_NO_TRACKING, "second");
  ag_pending_add_done_callback (second, fail_other_cb, first, NULL);
  g_assert_true (ag_pending_tracker_track (AG_PENDING_TRACKER (group), second,
                                           &error));
  g_assert_no_error (error);

  g_assert_true (ag_pending_take_error (second,
                                        io_error (G_IO_ERROR_BUSY,
                                                  "second failure")));
  ag_test_assert_state (first, AG_PENDING_STATE_FAILED);
  ag_test_assert_state (second, AG_PENDING_STATE_FAILED);
  g_assert_true (ag_pending_is_cancelled (cancelled));
  ag_pending_set_int (cancelled, 0);

  failed = ag_pending_group_get_failed (group);
  g_assert_cmpuint (failed->len, ==, 2);
  g_assert_true (g_ptr_array_index (failed, 0) == first);
  g_assert_true (g_ptr_array_index (failed, 1) == second);

  g_assert_false (group_exit (group, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS);
  g_assert_cmpstr (error->message, ==, "first failure");
  g_clear_pointer (&failed, g_ptr_array_unref);
  failed = ag_pending_group_get_failed (group);
  g_assert_cmpuint (failed->len, ==, 2);
}

/* }}} */

/* {{{ /PendingGroup/cancel/... */

static void
test_group_cancel_messages (void)
{
  g_autoptr(AgPendingGroup) group =
    enter_new_group (FALSE, AG_PENDING_GROUP_MODE_IGNORE);
  g_autoptr(AgPending) member = ag_pending_new ();
  g_autoptr(AgPending) late = NULL;
  g_autoptr(GError) error = NULL;
  AgPending *pending = ag_pending_group_get_pending (group);

  ag_pending_group_cancel (group, "first reason");
  g_assert_true (ag_pending_group_is_cancelled (group));
  g_assert_true (ag_pending_is_cancelled (member));
  ag_pending_group_cancel (group, "second reason");

  /* Work started in a cancelled group is cancelled at once */
  late = ag_pending_new ();
  g_assert_true (tracks (group, late));
  g_assert_true (ag_pending_is_cancelled (late));

  ag_pending_set_int (member, 1);
  ag_pending_set_int (late, 1);
  ag_test_assert_state (member, AG_PENDING_STATE_CANCELLED);

  g_assert_false (group_exit (group, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_nonnull (strstr (error->message, "first reason"));
  g_assert_nonnull (strstr (error->message, "second reason"));
  ag_test_assert_state (pending, AG_PENDING_STATE_CANCELLED);
}

/* A cancelled group cancels jobs at once: a queued one never runs. */
static void
test_group_cancel_new_work (void)
{
  g_autoptr(AgCaller) caller = ag_caller_new_thread ("cancelled-group");
  g_autoptr(AgPendingGroup) group =
    enter_new_group (FALSE, AG_PENDING_GROUP_MODE_IGNORE);
  g_autoptr(AgPending) soon = NULL;
  g_autoptr(AgPending) thread = NULL;
  g_autoptr(AgPending) flush = NULL;
  g_autoptr(GError) error = NULL;
  gint ran = 0;

  ag_pending_group_cancel (group, NULL);

  soon = ag_caller_call_soon (caller, ag_test_count_job, &ran, NULL);
  thread = ag_caller_to_thread (caller, ag_test_count_job, &ran, NULL);
  g_assert_true (ag_pending_is_cancelled (soon));
  g_assert_true (ag_pending_is_cancelled (thread));

  g_assert_false (group_exit (group, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  ag_test_assert_state (soon, AG_PENDING_STATE_CANCELLED);
  ag_test_assert_state (thread, AG_PENDING_STATE_CANCELLED);

  /* Jobs run in order: had it been queued, it would have run by now */
  flush = ag_caller_call_soon (caller, ag_test_set_int_job, NULL, NULL);
  ag_test_wait_done (flush);
  ag_test_assert_state (flush, AG_PENDING_STATE_SUCCEEDED);
  g_assert_cmpint (g_atomic_int_get (&ran), ==, 0);

  stop_caller (caller);
}

/* cancel() from other threads while the members run. */
typedef struct
{
  AgPendingGroup *group;
  AgTestBarrier  *barrier;
  guint           index;
} Canceller;

static gpointer
cancel_group_thread (gpointer data)
{
  Canceller *canceller = data;
  g_autofree char *message = g_strdup_printf ("cancelled by thread %u",
                                              canceller->index);

  ag_test_barrier_wait (canceller->barrier);
  ag_pending_group_cancel (canceller->group, message);
  return NULL;
}

static void
test_group_cancel_threads (void)
{
  g_autoptr(AgCaller) caller = ag_caller_new_thread ("cancel-threads");
  g_autoptr(AgPendingGroup) group =
    enter_new_group (FALSE, AG_PENDING_GROUP_MODE_IGNORE);
  g_autoptr(GPtrArray) members =
    g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(AgPending) plain = ag_pending_new ();
  AgTestLatch started;
  Canceller cancellers[2];
  GThread *threads[2];
  AgTestBarrier barrier;
  Exit exit;

  ag_test_latch_init (&started);
  for (guint i = 0; i < 4; i++)
    g_ptr_array_add (members,
                     ag_caller_to_thread (caller, until_cancelled_job,
                                          &started, NULL));
  ag_test_latch_wait (&started, 4);

  exit_init (&exit);
  exit.must_be_done = members;
  exit_begin (group, NULL, &exit);

  /* Two threads cancel at once while the members run */
  ag_test_barrier_init (&barrier, G_N_ELEMENTS (threads));
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    {
      cancellers[i].group = group;
      cancellers[i].barrier = &barrier;
      cancellers[i].index = i;
      threads[i] = g_thread_new ("cancel", cancel_group_thread,
                                 &cancellers[i]);
    }
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    g_thread_join (threads[i]);

  g_assert_true (ag_pending_group_is_cancelled (group));
  g_assert_true (ag_pending_is_cancelled (plain));
  for (guint i = 0; i < members->len; i++)
    ag_test_wait_done (g_ptr_array_index (members, i));

  /* The plain member keeps the exit waiting until it is set */
  assert_not_exited (&exit);
  g_ptr_array_add (members, g_object_ref (plain));
  ag_pending_set_int (plain, 0);

  exit_wait (&exit);
  g_assert_true (exit.all_done);
  g_assert_false (exit.ok);
  g_assert_error (exit.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_nonnull (strstr (exit.error->message, "cancelled by thread 0"));
  g_assert_nonnull (strstr (exit.error->message, "cancelled by thread 1"));
  for (guint i = 0; i < members->len; i++)
    ag_test_assert_state (g_ptr_array_index (members, i), AG_PENDING_STATE_CANCELLED);
  exit_clear (&exit);

  stop_caller (caller);
  ag_test_latch_clear (&started);
}

/* }}} */

/* {{{ /PendingGroup/shield */

static void
test_group_shield (void)
{
  g_autoptr(GError) error = NULL;

  /* Shielded: the exit's cancellable is ignored */
  {
    g_autoptr(AgPendingGroup) group =
      enter_new_group (TRUE, AG_PENDING_GROUP_MODE_IGNORE);
    g_autoptr(AgPending) member = ag_pending_new ();
    g_autoptr(GCancellable) cancellable = g_cancellable_new ();
    Exit exit;

    g_assert_true (ag_pending_group_get_shield (group));
    exit_init (&exit);
    exit_begin (group, cancellable, &exit);
    g_cancellable_cancel (cancellable);
    assert_not_exited (&exit);
    g_assert_false (ag_pending_is_cancelled (member));
    g_assert_false (ag_pending_group_is_cancelled (group));

    ag_pending_set_int (member, 1);
    exit_wait (&exit);
    g_assert_true (exit.ok);
    g_assert_no_error (exit.error);
    ag_test_assert_state (member, AG_PENDING_STATE_SUCCEEDED);
    exit_clear (&exit);
  }

  /* Shielded, cancelled before exit: ignored too */
  {
    g_autoptr(AgPendingGroup) group =
      enter_new_group (TRUE, AG_PENDING_GROUP_MODE_IGNORE);
    g_autoptr(AgPending) member = ag_pending_new ();
    g_autoptr(GCancellable) cancellable = g_cancellable_new ();
    Exit exit;

    g_cancellable_cancel (cancellable);
    exit_init (&exit);
    exit_begin (group, cancellable, &exit);
    assert_not_exited (&exit);
    g_assert_false (ag_pending_is_cancelled (member));
    ag_pending_set_int (member, 1);
    exit_wait (&exit);
    g_assert_true (exit.ok);
    exit_clear (&exit);
  }

  /* A shield does not stop the group's own cancel */
  {
    g_autoptr(AgPendingGroup) group =
      enter_new_group (TRUE, AG_PENDING_GROUP_MODE_IGNORE);
    g_autoptr(AgPending) member = ag_pending_new ();

    ag_pending_group_cancel (group, "own cancel");
    g_assert_true (ag_pending_is_cancelled (member));
    ag_pending_set_int (member, 1);
    g_assert_false (group_exit (group, NULL, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    g_assert_nonnull (strstr (error->message, "own cancel"));
    g_clear_error (&error);
  }

  /* Not shielded: the cancellable cancels the members; exit fails with
   * CANCELLED once they are done */
  {
    g_autoptr(AgPendingGroup) group =
      enter_new_group (FALSE, AG_PENDING_GROUP_MODE_IGNORE);
    g_autoptr(AgPending) member = ag_pending_new ();
    g_autoptr(GCancellable) cancellable = g_cancellable_new ();
    Exit exit;

    g_assert_false (ag_pending_group_get_shield (group));
    exit_init (&exit);
    exit_begin (group, cancellable, &exit);
    assert_not_exited (&exit);
    g_assert_false (ag_pending_is_cancelled (member));
    g_cancellable_cancel (cancellable);
    g_assert_true (ag_pending_is_cancelled (member));
    g_assert_true (ag_pending_group_is_cancelled (group));
    assert_not_exited (&exit);
    assert_tracker_state (group, AG_PENDING_TRACKER_STATE_EXITING);

    ag_pending_set_int (member, 1);
    exit_wait (&exit);
    g_assert_false (exit.ok);
    g_assert_error (exit.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    ag_test_assert_state (member, AG_PENDING_STATE_CANCELLED);
    exit_clear (&exit);
  }

  /* Not shielded, cancelled before exit */
  {
    g_autoptr(AgPendingGroup) group =
      enter_new_group (FALSE, AG_PENDING_GROUP_MODE_IGNORE);
    g_autoptr(AgPending) member = ag_pending_new ();
    g_autoptr(GCancellable) cancellable = g_cancellable_new ();
    Exit exit;

    g_cancellable_cancel (cancellable);
    exit_init (&exit);
    exit_begin (group, cancellable, &exit);
    g_assert_true (ag_pending_is_cancelled (member));
    assert_not_exited (&exit);
    ag_pending_set_int (member, 1);
    exit_wait (&exit);
    g_assert_false (exit.ok);
    g_assert_error (exit.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    exit_clear (&exit);
  }

  /* The cancellable may outlive the group, and fire after the exit */
  {
    g_autoptr(GCancellable) cancellable = g_cancellable_new ();
    AgPendingGroup *group = enter_new_group (FALSE,
                                             AG_PENDING_GROUP_MODE_IGNORE);

    g_assert_true (group_exit (group, cancellable, &error));
    g_assert_no_error (error);
    g_object_unref (group);
    g_cancellable_cancel (cancellable);
  }
}

/* exit_sync, in a worker thread, with a cancellable cancelled from
 * another thread. */
typedef struct
{
  AgCaller       *pool;
  GCancellable   *cancellable;  /* nullable */
  gboolean        shield;
  gboolean        fail;
  AgTestLatch     started;
  AgTestLatch     exiting;
  AgPendingGroup *group;        /* owned */
  GPtrArray      *members;
  gboolean        ok;
  GError         *error;
  gboolean        all_done;
} SyncExit;

static AgPending *
fail_job (AgPending *pending,
          gpointer   data)
{
  ag_pending_take_error (pending, io_error (G_IO_ERROR_PERMISSION_DENIED,
                                            "job failed"));
  return NULL;
}

static AgPending *
sync_exit_job (AgPending *pending,
               gpointer   data)
{
  SyncExit *se = data;
  g_autoptr(GError) error = NULL;

  se->group = ag_caller_create_pending_group (ag_caller_get_current (),
                                              se->shield,
                                              AG_PENDING_GROUP_MODE_IGNORE);
  g_assert_true (ag_pending_group_enter (se->group, &error));
  g_assert_no_error (error);

  for (guint i = 0; i < 3; i++)
    g_ptr_array_add (se->members,
                     ag_caller_to_thread (se->pool, until_cancelled_job,
                                          &se->started, NULL));
  if (se->fail)
    g_ptr_array_add (se->members,
                     ag_caller_to_thread (se->pool, fail_job, NULL, NULL));
  else
    g_ptr_array_add (se->members,
                     ag_caller_to_thread (se->pool, ag_test_set_int_job,
                                          GINT_TO_POINTER (4), NULL));
  for (guint i = 0; i < se->members->len; i++)
    {
      AgPending *member = g_ptr_array_index (se->members, i);

      g_assert_true (tracks (se->group, member)
                     || ag_pending_is_done (member));
    }

  ag_test_latch_set (&se->exiting, 1);
  se->ok = ag_pending_group_exit_sync (se->group, se->cancellable,
                                       &se->error);
  se->all_done = TRUE;
  for (guint i = 0; i < se->members->len; i++)
    if (!ag_pending_is_done (g_ptr_array_index (se->members, i)))
      se->all_done = FALSE;
  g_assert_null (current_group ());

  return NULL;
}

static void
sync_exit_run (gboolean shield,
               gboolean fail)
{
  g_autoptr(AgCaller) caller = ag_caller_new_thread ("sync-exit");
  g_autoptr(AgCaller) pool = ag_caller_new_thread ("sync-exit-pool");
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(AgPending) job = NULL;
  SyncExit se = { pool, cancellable, shield, fail, };

  se.members = g_ptr_array_new_with_free_func (g_object_unref);
  ag_test_latch_init (&se.started);
  ag_test_latch_init (&se.exiting);

  job = ag_caller_call_soon (caller, sync_exit_job, &se, NULL);
  /* (a failure may cancel the others before they start) */
  if (!fail)
    ag_test_latch_wait (&se.started, 3);
  ag_test_latch_wait (&se.exiting, 1);

  if (!fail)
    {
      g_cancellable_cancel (cancellable);
      if (shield)
        {
          /* Ignored: the members run on until cancelled by hand */
          g_assert_false (ag_pending_is_done (job));
          for (guint i = 0; i < 3; i++)
            {
              AgPending *member = g_ptr_array_index (se.members, i);

              g_assert_false (ag_pending_is_cancelled (member));
            }
          for (guint i = 0; i < 3; i++)
            ag_pending_cancel (g_ptr_array_index (se.members, i), "by hand");
        }
    }

  ag_test_wait_done (job);
  ag_test_assert_state (job, AG_PENDING_STATE_SUCCEEDED);
  g_assert_true (se.all_done);
  if (fail)
    {
      g_assert_false (se.ok);
      g_assert_error (se.error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
    }
  else if (shield)
    {
      /* cancelled members in IGNORE mode: quiet */
      g_assert_true (se.ok);
      g_assert_no_error (se.error);
    }
  else
    {
      g_assert_false (se.ok);
      g_assert_error (se.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    }
  for (guint i = 0; i < 3; i++)
    ag_test_assert_state (g_ptr_array_index (se.members, i),
                  AG_PENDING_STATE_CANCELLED);
  assert_tracker_state (se.group, AG_PENDING_TRACKER_STATE_STOPPED);

  stop_caller (caller);
  stop_caller (pool);
  g_clear_error (&se.error);
  g_clear_object (&se.group);
  g_ptr_array_unref (se.members);
  ag_test_latch_clear (&se.started);
  ag_test_latch_clear (&se.exiting);
}

static void
test_group_exit_sync_cancel (void)
{
  sync_exit_run (FALSE, FALSE);
}

static void
test_group_exit_sync_shield (void)
{
  sync_exit_run (TRUE, FALSE);
}

static void
test_group_exit_sync_fail (void)
{
  sync_exit_run (FALSE, TRUE);
}

/* }}} */

/* {{{ /PendingGroup/nested/... */

static void
test_group_nested_fail (void)
{
  g_autoptr(AgPendingGroup) outer =
    enter_new_group (FALSE, AG_PENDING_GROUP_MODE_IGNORE);
  g_autoptr(AgPendingGroup) inner = NULL;
  g_autoptr(AgPending) in_inner = NULL;
  g_autoptr(AgPending) in_outer = NULL;
  g_autoptr(GPtrArray) failed = NULL;
  g_autoptr(GError) error = NULL;
  AgPending *inner_pending;
  Exit inner_exit;

  inner = enter_new_group (FALSE, AG_PENDING_GROUP_MODE_IGNORE);
  inner_pending = ag_pending_group_get_pending (inner);
  g_assert_true (tracks (outer, inner_pending));
  g_assert_false (tracks (inner, inner_pending));

  /* A pending made in the inner group is its member only */
  in_inner = ag_pending_new ();
  g_assert_true (tracks (inner, in_inner));
  g_assert_false (tracks (outer, in_inner));

  exit_init (&inner_exit);
  exit_begin (inner, NULL, &inner_exit);
  g_assert_true (current_group () == AG_PENDING_TRACKER (outer));
  in_outer = ag_pending_new ();
  g_assert_true (tracks (outer, in_outer));
  g_assert_false (tracks (inner, in_outer));

  /* The inner failure becomes an outer failed member */
  g_assert_true (ag_pending_take_error (in_inner,
                                        io_error (G_IO_ERROR_NOT_SUPPORTED,
                                                  "inner member failed")));
  exit_wait (&inner_exit);
  g_assert_false (inner_exit.ok);
  g_assert_error (inner_exit.error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
  exit_clear (&inner_exit);
  ag_test_assert_state (inner_pending, AG_PENDING_STATE_FAILED);

  g_assert_true (ag_pending_group_is_cancelled (outer));
  g_assert_true (ag_pending_is_cancelled (in_outer));
  failed = ag_pending_group_get_failed (outer);
  g_assert_cmpuint (failed->len, ==, 1);
  g_assert_true (g_ptr_array_index (failed, 0) == inner_pending);

  ag_pending_set_int (in_outer, 1);
  g_assert_false (group_exit (outer, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
  g_assert_cmpstr (error->message, ==, "inner member failed");
  g_assert_null (current_group ());
}

static void
test_group_nested_success (void)
{
  g_autoptr(AgPendingGroup) outer =
    enter_new_group (FALSE, AG_PENDING_GROUP_MODE_IGNORE);
  g_autoptr(AgPendingGroup) inner =
    enter_new_group (FALSE, AG_PENDING_GROUP_MODE_IGNORE);
  g_autoptr(AgPending) member = ag_pending_new ();
  g_autoptr(GError) error = NULL;
  Exit outer_exit;
  Exit inner_exit;

  exit_init (&inner_exit);
  exit_begin (inner, NULL, &inner_exit);
  exit_init (&outer_exit);
  exit_begin (outer, NULL, &outer_exit);
  g_assert_null (current_group ());

  /* The outer exit waits for the inner group, which waits for member */
  assert_not_exited (&inner_exit);
  assert_not_exited (&outer_exit);
  ag_pending_set_int (member, 1);
  exit_wait (&inner_exit);
  exit_wait (&outer_exit);
  g_assert_true (inner_exit.ok);
  g_assert_true (outer_exit.ok);
  ag_test_assert_state (ag_pending_group_get_pending (inner),
                AG_PENDING_STATE_SUCCEEDED);
  exit_clear (&inner_exit);
  exit_clear (&outer_exit);
}

/* Cancelling the outer group cancels the inner one and its members. */
static void
test_group_nested_cancel (void)
{
  g_autoptr(AgPendingGroup) outer =
    enter_new_group (FALSE, AG_PENDING_GROUP_MODE_IGNORE);
  g_autoptr(AgPendingGroup) inner =
    enter_new_group (FALSE, AG_PENDING_GROUP_MODE_IGNORE);
  g_autoptr(AgPending) member = ag_pending_new ();
  g_autoptr(GError) error = NULL;
  Exit inner_exit;

  ag_pending_group_cancel (outer, "outer cancelled");
  g_assert_true (ag_pending_is_cancelled (
                   ag_pending_group_get_pending (inner)));
  g_assert_true (ag_pending_group_is_cancelled (inner));
  g_assert_true (ag_pending_is_cancelled (member));

  exit_init (&inner_exit);
  exit_begin (inner, NULL, &inner_exit);
  ag_pending_set_int (member, 1);
  exit_wait (&inner_exit);
  g_assert_false (inner_exit.ok);
  g_assert_error (inner_exit.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  exit_clear (&inner_exit);

  g_assert_false (group_exit (outer, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_nonnull (strstr (error->message, "outer cancelled"));
}

/* A group entered in a worker, inside a job of an outer group entered in
 * the main thread, is tracked by the outer one. */
typedef struct
{
  AgPendingGroup *outer;
  AgCaller       *pool;
  AgPending      *inner_pending;  /* owned */
  gboolean        tracked;
  gboolean        ok;
  GError         *error;
} NestedWorker;

static AgPending *
nested_worker_job (AgPending *pending,
                   gpointer   data)
{
  NestedWorker *nw = data;
  g_autoptr(AgPendingGroup) inner = NULL;
  g_autoptr(AgPending) member = NULL;

  g_assert_true (current_group () == AG_PENDING_TRACKER (nw->outer));
  inner = ag_caller_create_pending_group (ag_caller_get_current (), FALSE,
                                          AG_PENDING_GROUP_MODE_IGNORE);
  g_assert_true (ag_pending_group_enter (inner, NULL));
  nw->inner_pending = g_object_ref (ag_pending_group_get_pending (inner));
  nw->tracked = tracks (nw->outer, nw->inner_pending);

  member = ag_caller_to_thread (nw->pool, fail_job, NULL, NULL);
  g_assert_true (tracks (inner, member) || ag_pending_is_done (member));
  g_assert_false (tracks (nw->outer, member));
  nw->ok = ag_pending_group_exit_sync (inner, NULL, &nw->error);
  g_assert_true (current_group () == AG_PENDING_TRACKER (nw->outer));

  return NULL;
}

static void
test_group_nested_worker (void)
{
  g_autoptr(AgCaller) caller = ag_caller_new_thread ("nested-worker");
  g_autoptr(AgPendingGroup) outer =
    enter_new_group (FALSE, AG_PENDING_GROUP_MODE_IGNORE);
  g_autoptr(AgPending) job = NULL;
  g_autoptr(GPtrArray) failed = NULL;
  g_autoptr(GError) error = NULL;
  NestedWorker nw = { outer, caller, NULL, FALSE, FALSE, NULL };

  job = ag_caller_to_thread (caller, nested_worker_job, &nw, NULL);
  g_assert_false (group_exit (outer, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);

  /* The inner group's failure cancelled the outer's other members: the job
   * that ran the inner group among them */
  ag_test_assert_state (job, AG_PENDING_STATE_CANCELLED);
  g_assert_true (nw.tracked);
  g_assert_false (nw.ok);
  g_assert_error (nw.error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
  ag_test_assert_state (nw.inner_pending, AG_PENDING_STATE_FAILED);
  failed = ag_pending_group_get_failed (outer);
  g_assert_true (g_ptr_array_find (failed, nw.inner_pending, NULL));

  g_clear_error (&nw.error);
  g_clear_object (&nw.inner_pending);
  stop_caller (caller);
}

/* }}} */

/* {{{ /PendingGroup/propagation/... */

/* Each scheduling function captures the current trackers and restores
 * them while the job runs; the job's thread has none afterwards. */
typedef struct
{
  AgPendingGroup   *group;
  AgPendingTracker *seen;
  gboolean          own_tracked;
  gboolean          inner_tracked;
  gboolean          inner_left;
  gboolean          on_main;
  AgCaller         *ran_on;  /* owned */
} Probe;

static AgPending *
probe_job (AgPending *pending,
           gpointer   data)
{
  Probe *probe = data;
  g_autoptr(AgPending) inner = ag_pending_new ();

  probe->seen = current_group ();
  probe->own_tracked = tracks (probe->group, pending);
  probe->inner_tracked = tracks (probe->group, inner);
  ag_pending_set_int (inner, 1);
  probe->inner_left = !tracks (probe->group, inner);
  probe->on_main = g_thread_self () == main_thread;
  probe->ran_on = g_object_ref (ag_caller_get_current ());

  return NULL;
}

typedef struct
{
  AgTestLatch       done;
  AgPendingTracker *seen[3];  /* group, manager, TestTracker */
} Cleared;

static void
cleared_direct (gpointer data)
{
  Cleared *cleared = data;

  cleared->seen[0] = current_group ();
  cleared->seen[1] = current_manager ();
  cleared->seen[2] = ag_pending_tracker_get_current (TEST_TYPE_TRACKER);
  ag_test_latch_set (&cleared->done, 1);
}

/* After the jobs, @caller's thread has no current tracker. */
static void
assert_cleared_in (AgCaller *caller)
{
  Cleared cleared;

  ag_test_latch_init (&cleared.done);
  cleared.seen[0] = cleared.seen[1] = cleared.seen[2] = (gpointer) &cleared;
  ag_caller_call_direct (caller, cleared_direct, &cleared, NULL);
  ag_test_latch_wait (&cleared.done, 1);
  g_assert_null (cleared.seen[0]);
  g_assert_null (cleared.seen[1]);
  g_assert_null (cleared.seen[2]);
  ag_test_latch_clear (&cleared.done);
}

enum
{
  VIA_MAIN_SOON,
  VIA_SOON,
  VIA_LATER,
  VIA_THREAD,
  VIA_CHILD,
  VIA_QUEUE,
  N_VIA
};

static const char *const via_names[N_VIA] = {
  "call_soon (main)", "call_soon", "call_later", "to_thread",
  "get_child + call_soon", "queue_call",
};

static void
test_group_propagation_schedulers (void)
{
  g_autoptr(AgCaller) caller = ag_caller_new_thread ("schedulers");
  g_autoptr(AgPendingGroup) group =
    enter_new_group (FALSE, AG_PENDING_GROUP_MODE_IGNORE);
  AgPending *jobs[N_VIA];
  Probe probes[N_VIA];
  AgCaller *child;
  Exit exit;

  for (guint i = 0; i < N_VIA; i++)
    {
      memset (&probes[i], 0, sizeof probes[i]);
      probes[i].group = group;
    }

  child = ag_caller_get_child (caller, "child");
  g_assert_true (AG_IS_CALLER (child));

  jobs[VIA_MAIN_SOON] = ag_caller_call_soon (ag_caller_get_main (), probe_job,
                                             &probes[VIA_MAIN_SOON], NULL);
  jobs[VIA_SOON] = ag_caller_call_soon (caller, probe_job, &probes[VIA_SOON],
                                        NULL);
  jobs[VIA_LATER] = ag_caller_call_later (caller, 0.001, probe_job,
                                          &probes[VIA_LATER], NULL);
  jobs[VIA_THREAD] = ag_caller_to_thread (caller, probe_job,
                                          &probes[VIA_THREAD], NULL);
  jobs[VIA_CHILD] = ag_caller_call_soon (child, probe_job, &probes[VIA_CHILD],
                                         NULL);
  jobs[VIA_QUEUE] = ag_caller_queue_call (caller, "key", probe_job,
                                          &probes[VIA_QUEUE], NULL);

  /* (a job on another thread may be done, and gone, already; each job
   * checks from inside that it is tracked) */
  for (guint i = 0; i < N_VIA; i++)
    g_assert_true (tracks (group, jobs[i]) || ag_pending_is_done (jobs[i]));

  /* The main caller's job runs during the exit: the group is exiting, still
   * current there, and still tracking */
  exit_init (&exit);
  exit_begin (group, NULL, &exit);
  g_assert_null (current_group ());
  exit_wait (&exit);
  g_assert_true (exit.ok);
  exit_clear (&exit);

  for (guint i = 0; i < N_VIA; i++)
    {
      g_test_message ("via %s", via_names[i]);
      ag_test_assert_state (jobs[i], AG_PENDING_STATE_SUCCEEDED);
      g_assert_true (probes[i].seen == AG_PENDING_TRACKER (group));
      g_assert_true (probes[i].own_tracked);
      g_assert_true (probes[i].inner_tracked);
      g_assert_true (probes[i].inner_left);
      g_assert_cmpint (probes[i].on_main, ==, i == VIA_MAIN_SOON);
      g_assert_true (AG_IS_CALLER (probes[i].ran_on));
    }
  g_assert_true (probes[VIA_CHILD].ran_on == child);
  g_assert_true (probes[VIA_MAIN_SOON].ran_on == ag_caller_get_main ());

  /* Cleared afterwards, in each thread */
  g_assert_null (current_group ());
  for (guint i = 0; i < N_VIA; i++)
    {
      if (i != VIA_MAIN_SOON)
        assert_cleared_in (probes[i].ran_on);
      g_clear_object (&probes[i].ran_on);
      g_object_unref (jobs[i]);
    }

  ag_caller_queue_close (caller, "key");
  stop_caller (caller);
}

/* Work that workers spawn from inside a group's jobs is tracked, to any
 * depth, and the exit waits for the deepest. */
typedef struct
{
  AgPendingGroup *group;
  AgCaller       *pool;
  guint           depth;
  AgMutex         lock;
  AgPending      *levels[4];   /* protected by lock; owned */
  gboolean        tracked[4];  /* protected by lock */
  AgCaller       *workers[4];  /* protected by lock; owned */
  Gate            gate;        /* the deepest job waits here */
  AgTestLatch     recorded;    /* counts the levels recorded */
} Deep;

typedef struct
{
  Deep  *deep;
  guint  level;  /* of the job that runs */
} DeepStep;

static AgPending *
deep_job (AgPending *pending,
          gpointer   data)
{
  DeepStep *step = data;
  Deep *deep = step->deep;
  guint level = step->level;

  g_assert_true (g_thread_self () != main_thread);
  g_assert_true (current_group () == AG_PENDING_TRACKER (deep->group));

  /* Running, so not done: tracked by the group if it was made there */
  ag_mutex_lock (&deep->lock);
  deep->workers[level] = g_object_ref (ag_caller_get_current ());
  deep->tracked[level] = tracks (deep->group, pending);
  ag_mutex_unlock (&deep->lock);

  if (level + 1 < deep->depth)
    {
      DeepStep *next = g_new0 (DeepStep, 1);
      AgPending *spawned;

      next->deep = deep;
      next->level = level + 1;
      spawned = ag_caller_to_thread (deep->pool, deep_job, next, g_free);

      ag_mutex_lock (&deep->lock);
      deep->levels[level + 1] = spawned;
      ag_mutex_unlock (&deep->lock);
      ag_test_latch_add (&deep->recorded, 1);
    }
  else
    gate_pass (&deep->gate);

  /* Fire and forget: this job is done before what it spawned */
  return NULL;
}

static void
deep_run (guint depth)
{
  g_autoptr(AgCaller) pool = ag_caller_new_thread ("deep");
  g_autoptr(AgPendingGroup) group =
    enter_new_group (FALSE, AG_PENDING_GROUP_MODE_IGNORE);
  g_autoptr(GPtrArray) levels = g_ptr_array_new ();
  DeepStep *first = g_new0 (DeepStep, 1);
  Deep deep;
  Exit exit;

  memset (&deep, 0, sizeof deep);
  deep.group = group;
  deep.pool = pool;
  deep.depth = depth;
  ag_mutex_init (&deep.lock);
  gate_init (&deep.gate);
  ag_test_latch_init (&deep.recorded);

  first->deep = &deep;
  first->level = 0;
  deep.levels[0] = ag_caller_to_thread (pool, deep_job, first, g_free);

  exit_init (&exit);
  exit.must_be_done = levels;
  exit_begin (group, NULL, &exit);

  /* The deepest job runs: every level was tracked, and the group still
   * waits */
  ag_test_latch_wait (&deep.gate.entered, 1);
  ag_test_latch_wait (&deep.recorded, depth - 1);
  ag_mutex_lock (&deep.lock);
  for (guint i = 0; i < depth; i++)
    {
      g_assert_nonnull (deep.levels[i]);
      g_assert_true (deep.tracked[i]);
      g_ptr_array_add (levels, deep.levels[i]);
    }
  ag_mutex_unlock (&deep.lock);
  /* the shallower ones are done, or about to be: the deepest is not */
  g_assert_false (ag_pending_is_done (deep.levels[depth - 1]));
  g_assert_true (tracks (group, deep.levels[depth - 1]));
  assert_tracker_state (group, AG_PENDING_TRACKER_STATE_EXITING);
  assert_not_exited (&exit);

  gate_open (&deep.gate);
  exit_wait (&exit);
  g_assert_true (exit.ok);
  g_assert_true (exit.all_done);
  exit_clear (&exit);

  for (guint i = 0; i < depth; i++)
    {
      ag_test_assert_state (deep.levels[i], AG_PENDING_STATE_SUCCEEDED);
      g_assert_true (AG_IS_CALLER (deep.workers[i]));
    }
  assert_tracker_state (group, AG_PENDING_TRACKER_STATE_STOPPED);

  /* Each worker's thread has no current group after its job */
  for (guint i = 0; i < depth; i++)
    assert_cleared_in (deep.workers[i]);

  stop_caller (pool);
  for (guint i = 0; i < depth; i++)
    {
      g_clear_object (&deep.levels[i]);
      g_clear_object (&deep.workers[i]);
    }
  gate_clear (&deep.gate);
  ag_test_latch_clear (&deep.recorded);
  ag_mutex_clear (&deep.lock);
}

static void
test_group_propagation_depth2 (void)
{
  deep_run (2);
}

static void
test_group_propagation_depth3 (void)
{
  deep_run (3);
}

/* While exiting, the group tracks what its members spawn. */
typedef struct
{
  Gate       gate;
  AgPending *spawned;  /* owned; set before the job returns */
} Spawner;

static AgPending *
spawn_later_job (AgPending *pending,
                 gpointer   data)
{
  Spawner *spawner = data;

  gate_pass (&spawner->gate);
  spawner->spawned = ag_pending_new ();
  return NULL;
}

static void
test_group_exiting_tracks (void)
{
  g_autoptr(AgCaller) caller = ag_caller_new_thread ("spawner");
  g_autoptr(AgPendingGroup) group =
    enter_new_group (FALSE, AG_PENDING_GROUP_MODE_IGNORE);
  g_autoptr(AgPending) job = NULL;
  Spawner spawner;
  Exit exit;

  memset (&spawner, 0, sizeof spawner);
  gate_init (&spawner.gate);
  job = ag_caller_call_soon (caller, spawn_later_job, &spawner, NULL);
  ag_test_latch_wait (&spawner.gate.entered, 1);

  exit_init (&exit);
  exit_begin (group, NULL, &exit);
  assert_tracker_state (group, AG_PENDING_TRACKER_STATE_EXITING);
  gate_open (&spawner.gate);
  ag_test_wait_done (job);

  g_assert_true (AG_IS_PENDING (spawner.spawned));
  g_assert_true (tracks (group, spawner.spawned));
  assert_tracker_state (group, AG_PENDING_TRACKER_STATE_EXITING);
  assert_not_exited (&exit);

  ag_pending_set_int (spawner.spawned, 1);
  exit_wait (&exit);
  g_assert_true (exit.ok);
  exit_clear (&exit);

  g_clear_object (&spawner.spawned);
  gate_clear (&spawner.gate);
  stop_caller (caller);
}

/* }}} */

/* {{{ /PendingGroup/exit-async/thread-context */

typedef struct
{
  AgTestLatch  waiting;
  AgPending   *member;   /* owned */
  Exit         exit;
  GThread     *thread;
} ThreadExit;

static gpointer
thread_exit_func (gpointer data)
{
  ThreadExit *te = data;
  GMainContext *context = ag_test_push_context ();
  g_autoptr(AgPendingGroup) group = NULL;

  te->thread = g_thread_self ();
  group = ag_caller_create_pending_group (ag_caller_get_main (), FALSE,
                                          AG_PENDING_GROUP_MODE_IGNORE);
  g_assert_true (ag_pending_group_enter (group, NULL));
  te->member = ag_pending_new ();
  g_assert_true (tracks (group, te->member));

  exit_init (&te->exit);
  exit_begin (group, NULL, &te->exit);
  ag_test_latch_set (&te->waiting, 1);

  /* Completed by the main thread; the callback runs here */
  exit_wait (&te->exit);
  g_assert_true (te->exit.context == context);
  g_assert_true (te->exit.thread == g_thread_self ());

  g_clear_object (&group);
  ag_test_pop_context (context);
  return NULL;
}

static void
test_group_exit_thread_context (void)
{
  ThreadExit te;
  GThread *thread;

  memset (&te, 0, sizeof te);
  ag_test_latch_init (&te.waiting);

  thread = g_thread_new ("exit-context", thread_exit_func, &te);
  ag_test_latch_wait (&te.waiting, 1);
  ag_pending_set_int (te.member, 1);
  g_thread_join (thread);

  g_assert_true (te.exit.ok);
  g_assert_cmpint (g_atomic_int_get (&te.exit.calls), ==, 1);
  exit_clear (&te.exit);
  g_clear_object (&te.member);
  ag_test_latch_clear (&te.waiting);
}

/* On the main thread, with a pushed context: the callback runs on it. */
static void
test_group_exit_pushed_context (void)
{
  GMainContext *context = ag_test_push_context ();
  g_autoptr(AgPendingGroup) group = NULL;
  g_autoptr(AgPending) member = NULL;
  GThread *thread;
  Exit exit;

  group = ag_caller_create_pending_group (ag_caller_get_main (), FALSE,
                                          AG_PENDING_GROUP_MODE_IGNORE);
  g_assert_true (ag_pending_group_enter (group, NULL));
  member = ag_pending_new ();
  exit_init (&exit);
  exit_begin (group, NULL, &exit);
  thread = g_thread_new ("complete", set_int_thread_func, member);
  exit_wait (&exit);
  g_thread_join (thread);
  g_assert_true (exit.context == context);
  g_assert_true (exit.ok);
  exit_clear (&exit);

  g_clear_object (&group);
  ag_test_pop_context (context);
}

/* }}} */

/* {{{ /PendingGroup/stress/... */

typedef struct
{
  GPtrArray     *members;
  gint           next;     /* (atomic) */
  AgTestBarrier  barrier;
} Racers;

static gpointer
racer_thread (gpointer data)
{
  Racers *racers = data;
  gint i;

  ag_test_barrier_wait (&racers->barrier);
  while ((i = g_atomic_int_add (&racers->next, 1))
         < (gint) racers->members->len)
    ag_pending_set_int (g_ptr_array_index (racers->members, i), i);

  return NULL;
}

static void
test_group_stress_threads (void)
{
  guint n = ag_test_iterations (10000, 100000);
  g_autoptr(AgPendingGroup) group =
    enter_new_group (FALSE, AG_PENDING_GROUP_MODE_IGNORE);
  g_autoptr(GPtrArray) members =
    g_ptr_array_new_with_free_func (g_object_unref);
  Racers racers;
  GThread *threads[4];
  Exit exit;

  g_test_message ("%u members", n);
  for (guint i = 0; i < n; i++)
    g_ptr_array_add (members, ag_pending_new ());
  g_assert_cmpuint (n_tracked (group), ==, n);

  racers.members = members;
  racers.next = 0;
  ag_test_barrier_init (&racers.barrier, G_N_ELEMENTS (threads) + 1);
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    threads[i] = g_thread_new ("racer", racer_thread, &racers);

  /* The exit races with the completions */
  exit_init (&exit);
  exit.must_be_done = members;
  ag_test_barrier_wait (&racers.barrier);
  ag_pending_group_exit_async (group, NULL, exit_cb, &exit);

  exit_wait (&exit);
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    g_thread_join (threads[i]);
  ag_test_drain (g_main_context_default ());

  g_assert_cmpint (g_atomic_int_get (&exit.calls), ==, 1);
  g_assert_true (exit.all_done);
  g_assert_true (exit.ok);
  g_assert_cmpuint (n_tracked (group), ==, 0);
  assert_tracker_state (group, AG_PENDING_TRACKER_STATE_STOPPED);
  for (guint i = 0; i < n; i++)
    ag_test_assert_state (g_ptr_array_index (members, i), AG_PENDING_STATE_SUCCEEDED);
  exit_clear (&exit);
}

static void
test_group_stress_jobs (void)
{
  guint n = ag_test_iterations (10000, 100000);
  g_autoptr(AgPendingGroup) group =
    enter_new_group (FALSE, AG_PENDING_GROUP_MODE_IGNORE);
  g_autoptr(GPtrArray) members =
    g_ptr_array_new_with_free_func (g_object_unref);
  AgCaller *callers[4];
  Exit exit;

  g_test_message ("%u jobs", n);
  for (guint i = 0; i < G_N_ELEMENTS (callers); i++)
    callers[i] = ag_caller_new_thread ("stress");

  for (guint i = 0; i < n; i++)
    g_ptr_array_add (members,
                     ag_caller_call_soon (callers[i % G_N_ELEMENTS (callers)],
                                          ag_test_set_int_job,
                                          GINT_TO_POINTER (i), NULL));

  exit_init (&exit);
  exit.must_be_done = members;
  exit_begin (group, NULL, &exit);
  exit_wait (&exit);
  ag_test_drain (g_main_context_default ());

  g_assert_cmpint (g_atomic_int_get (&exit.calls), ==, 1);
  g_assert_true (exit.all_done);
  g_assert_true (exit.ok);
  g_assert_cmpuint (n_tracked (group), ==, 0);
  for (guint i = 0; i < n; i++)
    ag_test_assert_state (g_ptr_array_index (members, i), AG_PENDING_STATE_SUCCEEDED);
  exit_clear (&exit);

  for (guint i = 0; i < G_N_ELEMENTS (callers); i++)
    {
      stop_caller (callers[i]);
      g_object_unref (callers[i]);
    }
}

/* }}} */

/* {{{ bad input */

static void
test_tracker_bad_input (void)
{
  g_autoptr(GObject) not_a_tracker = g_object_new (G_TYPE_OBJECT, NULL);
  g_autoptr(TestTracker) tracker = g_object_new (TEST_TYPE_TRACKER, NULL);
  g_autoptr(AgPending) pending = ag_pending_new ();
  gpointer selves[2] = { NULL, not_a_tracker };
  GError *error = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (selves); i++)
    {
      AgPendingTracker *self = selves[i];
      gpointer p = &error;
      gboolean b = TRUE;
      guint u = 7;
      AgPendingTrackerState state = AG_PENDING_TRACKER_STATE_STOPPED;
      AgPendingTrackerState active = AG_PENDING_TRACKER_STATE_ACTIVE;

      EXPECT_CRITICAL (state = ag_pending_tracker_get_state (self));
      g_assert_cmpint (state, ==, AG_PENDING_TRACKER_STATE_IDLE);
      EXPECT_CRITICAL (ag_pending_tracker_set_state (self, active));
      EXPECT_CRITICAL (b = ag_pending_tracker_track (self, pending, &error));
      g_assert_false (b);
      g_assert_no_error (error);
      b = TRUE;
      EXPECT_CRITICAL (b = ag_pending_tracker_remove (self, pending, &error));
      g_assert_false (b);
      g_assert_no_error (error);
      b = TRUE;
      EXPECT_CRITICAL (b = ag_pending_tracker_discard (self, pending));
      g_assert_false (b);
      b = TRUE;
      EXPECT_CRITICAL (b = ag_pending_tracker_contains (self, pending));
      g_assert_false (b);
      EXPECT_CRITICAL (p = ag_pending_tracker_dup_pendings (self));
      g_assert_null (p);
      EXPECT_CRITICAL (u = ag_pending_tracker_get_n_pendings (self));
      g_assert_cmpuint (u, ==, 0);
      u = 7;
      EXPECT_CRITICAL (u = ag_pending_tracker_push_current (self));
      g_assert_cmpuint (u, ==, 0);
    }

  /* Bad arguments with a good tracker */
  {
    AgPendingTracker *self = AG_PENDING_TRACKER (tracker);
    g_autoptr(GObject) not_a_pending = g_object_new (G_TYPE_OBJECT, NULL);
    AgPending *bad_pending = (AgPending *) not_a_pending;
    gpointer p = &error;
    gboolean b = TRUE;

    ag_pending_tracker_set_state (self, AG_PENDING_TRACKER_STATE_ACTIVE);

    EXPECT_CRITICAL (p = ag_pending_tracker_get_current (G_TYPE_OBJECT));
    g_assert_null (p);
    p = &error;
    EXPECT_CRITICAL (p = ag_pending_tracker_get_current (AG_TYPE_PENDING));
    g_assert_null (p);
    p = &error;
    EXPECT_CRITICAL (p = ag_pending_tracker_get_current (G_TYPE_INVALID));
    g_assert_null (p);

    EXPECT_CRITICAL (b = ag_pending_tracker_track (self, NULL, &error));
    g_assert_false (b);
    b = TRUE;
    EXPECT_CRITICAL (b = ag_pending_tracker_track (self, bad_pending,
                                                   &error));
    g_assert_false (b);
    b = TRUE;
    EXPECT_CRITICAL (b = ag_pending_tracker_remove (self, NULL, &error));
    g_assert_false (b);
    b = TRUE;
    EXPECT_CRITICAL (b = ag_pending_tracker_discard (self, bad_pending));
    g_assert_false (b);
    b = TRUE;
    EXPECT_CRITICAL (b = ag_pending_tracker_contains (self, NULL));
    g_assert_false (b);
    g_assert_no_error (error);

    EXPECT_CRITICAL (ag_pending_tracker_set_state (self, 42));
    assert_tracker_state (self, AG_PENDING_TRACKER_STATE_ACTIVE);

    /* A token that was never given */
    EXPECT_CRITICAL (ag_pending_tracker_pop_current (0));
    EXPECT_CRITICAL (ag_pending_tracker_pop_current (9999));
    g_assert_null (ag_pending_tracker_get_current (TEST_TYPE_TRACKER));

    /* the tracker still works */
    g_assert_true (ag_pending_tracker_track (self, pending, &error));
    g_assert_no_error (error);
    ag_pending_set_int (pending, 1);
    g_assert_cmpuint (n_tracked (self), ==, 0);
  }
}

static void
test_manager_bad_input (void)
{
  g_autoptr(GObject) not_a_manager = g_object_new (G_TYPE_OBJECT, NULL);
  g_autoptr(AgPendingGroup) group =
    ag_pending_group_new (FALSE, AG_PENDING_GROUP_MODE_IGNORE);
  gpointer selves[3] = { NULL, not_a_manager, group };
  GError *error = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (selves); i++)
    {
      AgPendingManager *self = selves[i];
      gboolean b = TRUE;
      gpointer p = &error;
      guint u = 7;

      EXPECT_CRITICAL (b = ag_pending_manager_activate (self, &error));
      g_assert_false (b);
      g_assert_no_error (error);
      EXPECT_CRITICAL (p = ag_pending_manager_deactivate (self, TRUE));
      g_assert_null (p);
      EXPECT_CRITICAL (u = ag_pending_manager_start_tracking (self, &error));
      g_assert_cmpuint (u, ==, 0);
      g_assert_no_error (error);
      EXPECT_CRITICAL (ag_pending_manager_stop_tracking (self, 1));
    }

  /* The group was not touched */
  assert_tracker_state (group, AG_PENDING_TRACKER_STATE_IDLE);

  /* A token of 0 is never given */
  {
    g_autoptr(AgPendingManager) manager = ag_pending_manager_new ();
    g_autoptr(AgPending) stopped = NULL;

    g_assert_true (ag_pending_manager_activate (manager, NULL));
    EXPECT_CRITICAL (ag_pending_manager_stop_tracking (manager, 0));
    stopped = ag_pending_manager_deactivate (manager, TRUE);
    g_assert_true (ag_pending_is_done (stopped));
  }
}

static void
test_group_bad_input (void)
{
  g_autoptr(GObject) not_a_group = g_object_new (G_TYPE_OBJECT, NULL);
  g_autoptr(AgPendingManager) manager = ag_pending_manager_new ();
  g_autoptr(AgPendingGroup) good =
    ag_pending_group_new (FALSE, AG_PENDING_GROUP_MODE_IGNORE);
  gpointer selves[3] = { NULL, not_a_group, manager };
  GError *error = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (selves); i++)
    {
      AgPendingGroup *self = selves[i];
      gboolean b = TRUE;
      gpointer p = &error;
      AgPendingGroupMode mode = AG_PENDING_GROUP_MODE_IGNORE_RAISE;

      EXPECT_CRITICAL (b = ag_pending_group_enter (self, &error));
      g_assert_false (b);
      g_assert_no_error (error);
      EXPECT_CRITICAL (ag_pending_group_exit_async (self, NULL, never_exit_cb,
                                                    NULL));
      b = TRUE;
      EXPECT_CRITICAL (b = ag_pending_group_exit_sync (self, NULL, &error));
      g_assert_false (b);
      g_assert_no_error (error);
      EXPECT_CRITICAL (ag_pending_group_cancel (self, "x"));
      b = TRUE;
      EXPECT_CRITICAL (b = ag_pending_group_is_cancelled (self));
      g_assert_false (b);
      EXPECT_CRITICAL (p = ag_pending_group_get_failed (self));
      g_assert_null (p);
      p = &error;
      EXPECT_CRITICAL (p = ag_pending_group_get_pending (self));
      g_assert_null (p);
      p = &error;
      EXPECT_CRITICAL (p = ag_pending_group_get_caller (self));
      g_assert_null (p);
      b = TRUE;
      EXPECT_CRITICAL (b = ag_pending_group_get_shield (self));
      g_assert_false (b);
      EXPECT_CRITICAL (mode = ag_pending_group_get_mode (self));
      g_assert_cmpint (mode, ==, AG_PENDING_GROUP_MODE_IGNORE);
    }

  /* exit_finish with a bad self or a result that is not the group's */
  {
    g_autoptr(GTask) task = g_task_new (not_a_group, NULL, NULL, NULL);
    gboolean b = TRUE;

    g_task_return_boolean (task, TRUE);
    EXPECT_CRITICAL (b = ag_pending_group_exit_finish (NULL,
                                                       G_ASYNC_RESULT (task),
                                                       &error));
    g_assert_false (b);
    b = TRUE;
    EXPECT_CRITICAL (b = ag_pending_group_exit_finish (good,
                                                       G_ASYNC_RESULT (task),
                                                       &error));
    g_assert_false (b);
    b = TRUE;
    EXPECT_CRITICAL (b = ag_pending_group_exit_finish (good, NULL, &error));
    g_assert_false (b);
    g_assert_no_error (error);
  }

  /* Constructors */
  {
    AgPendingGroupMode ignore = AG_PENDING_GROUP_MODE_IGNORE;
    AgCaller *bad_caller = (AgCaller *) not_a_group;
    gpointer p = &error;

    EXPECT_CRITICAL (p = ag_caller_create_pending_group (NULL, FALSE,
                                                         ignore));
    g_assert_null (p);
    p = &error;
    EXPECT_CRITICAL (p = ag_caller_create_pending_group (bad_caller, FALSE,
                                                         ignore));
    g_assert_null (p);
    p = &error;
    EXPECT_CRITICAL (p = ag_caller_create_pending_group (ag_caller_get_main (),
                                                         FALSE, 42));
    g_assert_null (p);
    p = &error;
    EXPECT_CRITICAL (p = ag_pending_group_new (FALSE, 42));
    g_assert_null (p);
  }

  /* exit_async with something that is not a cancellable */
  {
    g_autoptr(AgPendingGroup) group =
      enter_new_group (FALSE, AG_PENDING_GROUP_MODE_IGNORE);

    EXPECT_CRITICAL (ag_pending_group_exit_async (group,
                                                  (GCancellable *) not_a_group,
                                                  never_exit_cb, NULL));
    /* still entered: a good exit works */
    g_assert_true (group_exit (group, NULL, NULL));
  }

  /* The good group was not touched */
  assert_tracker_state (good, AG_PENDING_TRACKER_STATE_IDLE);
  g_assert_null (current_group ());
}

/* }}} */

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  main_thread = g_thread_self ();

  g_test_summary ("The specification of AgPendingTracker, AgPendingManager "
                  "and AgPendingGroup: tracking, current slots, context "
                  "propagation, modes, cancellation, shield, nesting, "
                  "misuse and races");

  g_test_add_func ("/PendingTracker/basics", test_tracker_basics);
  g_test_add_func ("/PendingTracker/emptied",
                   test_tracker_emptied_at_exit);
  g_test_add_func ("/PendingTracker/current", test_tracker_current);
  g_test_add_func ("/PendingTracker/per-thread", test_tracker_per_thread);
  g_test_add_func ("/PendingTracker/subclass", test_tracker_subclass);
  g_test_add_func ("/PendingTracker/notify-state", test_tracker_notify_state);
  g_test_add_func ("/PendingTracker/bad-input", test_tracker_bad_input);

  g_test_add_func ("/PendingManager/lifecycle", test_manager_lifecycle);
  g_test_add_func ("/PendingManager/deactivate-keep",
                   test_manager_deactivate_keep);
  g_test_add_func ("/PendingManager/deactivate-thread",
                   test_manager_deactivate_thread);
  g_test_add_func ("/PendingManager/tokens", test_manager_tokens);
  g_test_add_func ("/PendingManager/propagation", test_manager_propagation);
  g_test_add_func ("/PendingManager/bad-input", test_manager_bad_input);

  g_test_add_func ("/PendingGroup/basics", test_group_basics);
  g_test_add_func ("/PendingGroup/empty", test_group_empty);
  g_test_add_func ("/PendingGroup/properties", test_group_properties);
  g_test_add_func ("/PendingGroup/misuse", test_group_misuse);
  g_test_add_func ("/PendingGroup/remove", test_group_remove);
  g_test_add_func ("/PendingGroup/no-tracking", test_group_no_tracking);

  for (guint i = 0; i < G_N_ELEMENTS (mode_cases); i++)
    g_test_add_data_func (mode_cases[i].path, &mode_cases[i],
                          test_group_mode);
  g_test_add_func ("/PendingGroup/failure-wins", test_group_failure_wins);
  g_test_add_func ("/PendingGroup/failed-list", test_group_failed_list);

  g_test_add_func ("/PendingGroup/cancel/messages",
                   test_group_cancel_messages);
  g_test_add_func ("/PendingGroup/cancel/new-work",
                   test_group_cancel_new_work);
  g_test_add_func ("/PendingGroup/cancel/threads", test_group_cancel_threads);

  g_test_add_func ("/PendingGroup/shield", test_group_shield);
  g_test_add_func ("/PendingGroup/exit-sync/cancel",
                   test_group_exit_sync_cancel);
  g_test_add_func ("/PendingGroup/exit-sync/shield",
                   test_group_exit_sync_shield);
  g_test_add_func ("/PendingGroup/exit-sync/fail", test_group_exit_sync_fail);

  g_test_add_func ("/PendingGroup/nested/fail", test_group_nested_fail);
  g_test_add_func ("/PendingGroup/nested/success", test_group_nested_success);
  g_test_add_func ("/PendingGroup/nested/cancel", test_group_nested_cancel);
  g_test_add_func ("/PendingGroup/nested/worker", test_group_nested_worker);

  g_test_add_func ("/PendingGroup/propagation/schedulers",
                   test_group_propagation_schedulers);
  g_test_add_func ("/PendingGroup/propagation/depth-2",
                   test_group_propagation_depth2);
  g_test_add_func ("/PendingGroup/propagation/depth-3",
                   test_group_propagation_depth3);
  g_test_add_func ("/PendingGroup/exiting-tracks", test_group_exiting_tracks);

  g_test_add_func ("/PendingGroup/exit-async/thread-context",
                   test_group_exit_thread_context);
  g_test_add_func ("/PendingGroup/exit-async/pushed-context",
                   test_group_exit_pushed_context);

  g_test_add_func ("/PendingGroup/stress/threads", test_group_stress_threads);
  g_test_add_func ("/PendingGroup/stress/jobs", test_group_stress_jobs);

  g_test_add_func ("/PendingGroup/bad-input", test_group_bad_input);

  return g_test_run ();
}

/* vim: set foldmethod=marker: */
