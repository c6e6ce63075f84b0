/* test-caller.c: the specification of AgCaller
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Every test here states one point of AgCaller's contract (see DESIGN.md,
 * "Caller", "Decisions" and "Core C API") so that it fails if the point
 * does not hold. Threads are lined up with latches and barriers, never with
 * sleeps (g_usleep() only keeps a job busy); every wait is bounded by
 * AG_TEST_TIMEOUT_MSEC. Tests that make threads (new_thread callers,
 * children, workers) stop them, wait for ag_caller_get_stopped(), and check
 * that the process has no more threads than when they started. Stress
 * loops are sized by g_test_thorough() and AG_TEST_ITERATIONS_SCALE (see
 * test-util.h).
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE  /* sched_setaffinity () */
#endif

#include <math.h>
#ifdef __linux__
#include <sched.h>
#endif
#include <string.h>

#include <async-gobject.h>

#include "ag-caller-private.h"

#include "test-util.h"

/* {{{ Helpers */

static gint
latch_get (AgTestLatch *latch)
{
  gint value;

  ag_mutex_lock (&latch->mutex);
  value = latch->value;
  ag_mutex_unlock (&latch->mutex);

  return value;
}

static gboolean
array_contains (GPtrArray *array,
                gpointer   item)
{
  return array != NULL && g_ptr_array_find (array, item, NULL);
}

static guint
n_children (AgCaller *caller)
{
  g_autoptr(GPtrArray) children = ag_caller_dup_children (caller);

  return children->len;
}

/* {{{ Threads of the process */

typedef struct
{
  guint baseline;
} ThreadCheck;

/* Counts the threads of the process, after a warm-up: what exists once per
 * process (the main caller, the idle workers' reaper, the types, GLib's own
 * helper threads, such as the "gmain" worker that GTask's class starts) is
 * made before counting. */
static void
thread_check_begin (ThreadCheck *check)
{
  g_assert_true (AG_IS_CALLER (ag_caller_get_main ()));
  ag_caller_reaper_ensure ();
  g_type_ensure (AG_TYPE_PENDING);
  g_type_ensure (AG_TYPE_AS_COMPLETED);
  g_type_ensure (G_TYPE_TASK);

  check->baseline = ag_test_count_threads ();
}

/* No thread made since thread_check_begin() is left. A thread that said it
 * stopped may take a moment to leave the kernel's task list, so this polls,
 * bounded by the test timeout. */
static void
thread_check_end (ThreadCheck *check)
{
  gint64 deadline = g_get_monotonic_time ()
                    + (gint64) AG_TEST_TIMEOUT_MSEC * G_TIME_SPAN_MILLISECOND;
  guint n;

  while ((n = ag_test_count_threads ()) > check->baseline
         && g_get_monotonic_time () < deadline)
    g_thread_yield ();

  if (n > check->baseline)
    {
      g_autoptr(GDir) dir = g_dir_open ("/proc/self/task", 0, NULL);
      const char *tid;

      /* Say which threads are left */
      while (dir != NULL && (tid = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *path = g_strdup_printf ("/proc/self/task/%s/comm",
                                                   tid);
          g_autofree char *comm = NULL;

          if (g_file_get_contents (path, &comm, NULL, NULL))
            g_test_message ("thread %s: %s", tid, g_strchomp (comm));
        }
    }

  g_assert_cmpuint (n, <=, check->baseline);
}

/* }}} */

/* {{{ Waiting */

/* Waits (bounded) until @caller has fully stopped. */
static void
wait_stopped (AgCaller *caller)
{
  g_autoptr(AgPending) stopped = g_object_ref (ag_caller_get_stopped (caller));
  g_autoptr(GError) error = NULL;

  g_assert_true (AG_IS_PENDING (stopped));
  g_assert_true (ag_pending_wait_sync (stopped, AG_TEST_TIMEOUT_S, &error));
  g_assert_no_error (error);
  ag_test_assert_state (stopped, AG_PENDING_STATE_SUCCEEDED);
  g_assert_cmpint (ag_caller_get_state (caller), ==, AG_CALLER_STATE_STOPPED);
  g_assert_false (ag_caller_is_running (caller));
}

/* Iterates @context (bounded) until @worker, a worker of @parent's pool,
 * stopped by itself (its idle-worker-timeout ran out), and checks that it
 * left @parent. */
static void
wait_reaped (GMainContext *context,
             AgCaller     *parent,
             AgCaller     *worker)
{
  ag_test_iterate_until_done (context, ag_caller_get_stopped (worker));
  wait_stopped (worker);
  g_assert_cmpuint (n_children (parent), ==, 0);
}

/* Waits (bounded, polling) until the reaper of idle workers sleeps with
 * no timeout and nothing to look at (ag_caller_reaper_sleeps ()). */
static void
wait_reaper_sleeps (void)
{
  gint64 deadline = g_get_monotonic_time ()
                    + (gint64) AG_TEST_TIMEOUT_MSEC * G_TIME_SPAN_MILLISECOND;

  while (!ag_caller_reaper_sleeps () && g_get_monotonic_time () < deadline)
    g_thread_yield ();
  g_assert_true (ag_caller_reaper_sleeps ());
}

/* Stops @caller and its children (workers included), and waits until they
 * have all stopped. For a guest, the calling thread must be free to
 * acquire its context (or be the one that runs it). */
static void
stop_and_wait (AgCaller *caller)
{
  /* The registry's reference may be the last one (get_current ()) */
  g_autoptr(AgCaller) owned = g_object_ref (caller);
  g_autoptr(GPtrArray) children = ag_caller_dup_children (owned);

  ag_caller_stop (owned, TRUE);
  for (guint i = 0; i < children->len; i++)
    wait_stopped (g_ptr_array_index (children, i));
  wait_stopped (owned);
}

/* }}} */

/* {{{ Probes: jobs that count their runs and their destroy notifies */

typedef struct
{
  gint        ran;        /* (atomic) */
  AgTestLatch destroyed;  /* counts the destroy notifies */
} Probe;

static void
probe_init (Probe *probe)
{
  g_atomic_int_set (&probe->ran, 0);
  ag_test_latch_init (&probe->destroyed);
}

static void
probe_clear (Probe *probe)
{
  ag_test_latch_clear (&probe->destroyed);
}

static AgPending *
probe_job (AgPending *pending,
           gpointer   data)
{
  Probe *probe = data;

  g_atomic_int_inc (&probe->ran);
  return NULL;
}

static void
probe_direct (gpointer data)
{
  Probe *probe = data;

  g_atomic_int_inc (&probe->ran);
}

static void
probe_destroy (gpointer data)
{
  Probe *probe = data;

  ag_test_latch_add (&probe->destroyed, 1);
}

/* }}} */

/* {{{ Gates: jobs that hold their thread until the test opens the gate */

typedef struct
{
  AgTestLatch started;         /* counts the gate jobs that started */
  AgTestLatch open;            /* 1 once the gate is open */
  gint        saw_cancelled;   /* (atomic) jobs that found their pending
                                * cancelled when let through */
  gint        saw_done;        /* (atomic) jobs whose pending was done
                                * while they still ran */
} Gate;

static void
gate_init (Gate *gate)
{
  ag_test_latch_init (&gate->started);
  ag_test_latch_init (&gate->open);
  g_atomic_int_set (&gate->saw_cancelled, 0);
  g_atomic_int_set (&gate->saw_done, 0);
}

static void
gate_clear (Gate *gate)
{
  ag_test_latch_clear (&gate->started);
  ag_test_latch_clear (&gate->open);
}

static void
gate_open (Gate *gate)
{
  ag_test_latch_set (&gate->open, 1);
}

static AgPending *
gate_job (AgPending *pending,
          gpointer   data)
{
  Gate *gate = data;

  ag_test_latch_add (&gate->started, 1);
  ag_test_latch_wait (&gate->open, 1);

  if (ag_pending_is_cancelled (pending))
    g_atomic_int_inc (&gate->saw_cancelled);
  if (ag_pending_is_done (pending))
    g_atomic_int_inc (&gate->saw_done);

  return NULL;
}

/* }}} */

/* }}} */

/* {{{ /Caller/get-current */

typedef struct
{
  GMainContext *context;        /* NULL: a thread that pushes no context */
  AgCaller     *caller;         /* out; owned */
  gboolean      same_twice;     /* out */
  gboolean      on_context;     /* out */
} CurrentInThread;

static gpointer
current_in_thread_func (gpointer data)
{
  CurrentInThread *in_thread = data;
  g_autoptr(GMainContext) expected = NULL;

  if (in_thread->context != NULL)
    g_main_context_push_thread_default (in_thread->context);

  expected = g_main_context_ref_thread_default ();
  in_thread->caller = g_object_ref (ag_caller_get_current ());
  in_thread->same_twice = ag_caller_get_current () == in_thread->caller;
  in_thread->on_context =
    ag_caller_get_context (in_thread->caller) == expected;

  if (in_thread->context != NULL)
    {
      /* A caller of this thread's own context: stop it here, its home */
      ag_caller_stop (in_thread->caller, TRUE);
      g_assert_cmpint (ag_caller_get_state (in_thread->caller), ==,
                       AG_CALLER_STATE_STOPPED);
      g_main_context_pop_thread_default (in_thread->context);
    }

  return NULL;
}

static AgPending *
record_current_job (AgPending *pending,
                    gpointer   data)
{
  AgCaller **current = data;

  *current = ag_caller_get_current ();
  return NULL;
}

static void
test_get_current (void)
{
  AgCaller *main_caller;
  AgCaller *current;
  AgCaller *in_job = NULL;
  GMainContext *context;
  g_autoptr(AgPending) pending = NULL;
  CurrentInThread plain = { NULL, };
  CurrentInThread pushing = { NULL, };
  gboolean main_context = FALSE;
  GThread *thread;

  /* The main caller: a guest on the global default context, and the
   * current caller of a thread that pushed no context */
  main_caller = ag_caller_get_main ();
  g_assert_true (AG_IS_CALLER (main_caller));
  g_assert_true (ag_caller_get_main () == main_caller);
  g_assert_true (ag_caller_get_current () == main_caller);
  g_assert_true (ag_caller_get_context (main_caller) ==
                 g_main_context_default ());
  g_assert_true (ag_caller_is_running (main_caller));
  g_object_get (main_caller, "main-context", &main_context, NULL);
  g_assert_true (main_context);

  /* A thread that pushed its own context gets another caller, made on
   * first use, the same on every call */
  context = ag_test_push_context ();
  current = ag_caller_get_current ();
  g_assert_true (AG_IS_CALLER (current));
  g_assert_true (current != main_caller);
  g_assert_true (ag_caller_get_current () == current);
  g_assert_true (ag_caller_get_context (current) == context);
  g_assert_true (ag_caller_get_main () == main_caller);
  g_object_get (current, "main-context", &main_context, NULL);
  g_assert_false (main_context);

  /* It is a guest: its jobs run when the context is iterated, not before,
   * and not when the default context is */
  pending = ag_caller_call_soon (current, record_current_job, &in_job, NULL);
  ag_test_drain (g_main_context_default ());
  g_assert_null (in_job);
  g_assert_false (ag_pending_is_done (pending));
  ag_test_iterate_until_done (context, pending);
  ag_test_assert_state (pending, AG_PENDING_STATE_SUCCEEDED);
  g_assert_true (in_job == current);

  /* Other threads: one that pushes its own context gets its own caller;
   * one that does not gets the caller of the global default context */
  pushing.context = g_main_context_new ();
  thread = g_thread_new ("get-current-pushing", current_in_thread_func,
                         &pushing);
  g_thread_join (thread);
  g_assert_true (pushing.same_twice);
  g_assert_true (pushing.on_context);
  g_assert_true (pushing.caller != current);
  g_assert_true (pushing.caller != main_caller);
  g_clear_object (&pushing.caller);
  g_main_context_unref (pushing.context);

  thread = g_thread_new ("get-current-plain", current_in_thread_func, &plain);
  g_thread_join (thread);
  g_assert_true (plain.same_twice);
  g_assert_true (plain.on_context);
  g_assert_true (plain.caller == main_caller);
  g_clear_object (&plain.caller);

  stop_and_wait (current);
  ag_test_pop_context (context);
}

/* }}} */

/* {{{ /Caller/new-thread */

typedef struct
{
  AgCaller  *caller;           /* not owned */
  GThread   *main_thread;
  gboolean   current_ok;
  gboolean   pending_ok;
  gboolean   owner_ok;
  gboolean   thread_default_ok;
  gboolean   other_thread;
  AgPending *pending;          /* not owned */
} InThread;

static AgPending *
in_thread_job (AgPending *pending,
               gpointer   data)
{
  InThread *in_thread = data;
  GMainContext *context = ag_caller_get_context (in_thread->caller);

  in_thread->pending = pending;
  in_thread->current_ok = ag_caller_get_current () == in_thread->caller;
  in_thread->pending_ok = ag_caller_get_current_pending () == pending;
  in_thread->owner_ok = g_main_context_is_owner (context);
  in_thread->thread_default_ok =
    g_main_context_get_thread_default () == context;
  in_thread->other_thread = g_thread_self () != in_thread->main_thread;

  ag_pending_set_int (pending, 7);
  return NULL;
}

static void
test_new_thread (void)
{
  ThreadCheck check;
  g_autoptr(AgCaller) caller = NULL;
  g_autoptr(AgPending) pending = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(AgCaller) parent = NULL;
  InThread in_thread = { NULL, };
  gboolean main_context = TRUE;

  thread_check_begin (&check);

  caller = ag_caller_new_thread ("test-thread");
  g_assert_true (AG_IS_CALLER (caller));
  g_assert_cmpstr (ag_caller_get_name (caller), ==, "test-thread");
  g_assert_cmpint (ag_caller_get_state (caller), ==, AG_CALLER_STATE_RUNNING);
  g_assert_true (ag_caller_is_running (caller));
  g_assert_nonnull (ag_caller_get_context (caller));
  g_assert_true (ag_caller_get_context (caller) != g_main_context_default ());
  g_assert_true (ag_caller_get_current () != caller);
  parent = ag_caller_dup_parent (caller);
  g_assert_null (parent);
  g_object_get (caller, "main-context", &main_context, NULL);
  g_assert_false (main_context);

  /* Its jobs run in its own thread, where it is the current caller */
  in_thread.caller = caller;
  in_thread.main_thread = g_thread_self ();
  pending = ag_caller_call_soon (caller, in_thread_job, &in_thread, NULL);
  g_assert_true (AG_IS_PENDING (pending));
  g_assert_true (ag_pending_wait_sync (pending, AG_TEST_TIMEOUT_S, &error));
  g_assert_no_error (error);
  g_assert_cmpint (ag_pending_get_int (pending, &error), ==, 7);
  g_assert_no_error (error);
  g_assert_true (in_thread.pending == pending);
  g_assert_true (in_thread.current_ok);
  g_assert_true (in_thread.pending_ok);
  g_assert_true (in_thread.owner_ok);
  g_assert_true (in_thread.thread_default_ok);
  g_assert_true (in_thread.other_thread);

  /* No job runs here */
  g_assert_null (ag_caller_get_current_pending ());

  stop_and_wait (caller);
  thread_check_end (&check);
}

/* }}} */

/* {{{ /Caller/new-guest */

/* The id the next source attached to @context gets, less one: ids are
 * handed out in sequence per context. */
static guint
mark_sources (GMainContext *context)
{
  GSource *marker = g_idle_source_new ();
  guint id;

  g_source_set_callback (marker, ag_test_set_flag_cb, NULL, NULL);
  id = g_source_attach (marker, context);
  g_source_destroy (marker);
  g_source_unref (marker);

  return id;
}

typedef struct
{
  GMainContext *context;
  gint          ran;     /* (atomic) */
  gint          owner;   /* (atomic) jobs that ran with the context owned */
} GuestRun;

static AgPending *
guest_run_job (AgPending *pending,
               gpointer   data)
{
  GuestRun *run = data;

  if (g_main_context_is_owner (run->context))
    g_atomic_int_inc (&run->owner);
  g_atomic_int_inc (&run->ran);
  return NULL;
}

typedef struct
{
  AgCaller *guest;
  GuestRun *run;
  AgTestLatch *before;   /* nullable: waited for before submitting */
} Submitter;

static gpointer
submit_thread_func (gpointer data)
{
  Submitter *submitter = data;
  g_autoptr(AgPending) pending = NULL;

  if (submitter->before != NULL)
    ag_test_latch_wait (submitter->before, 1);

  pending = ag_caller_call_soon (submitter->guest, guest_run_job,
                                 submitter->run, NULL);
  return NULL;
}

/* The poll function of the host context below: says when the host thread
 * is about to block. GPollFunc has no user data. */
static AgTestLatch *host_blocking;

static gint
spy_poll (GPollFD *fds,
          guint    n_fds,
          gint     timeout)
{
  if (timeout != 0)
    ag_test_latch_add (host_blocking, 1);
  return g_poll (fds, n_fds, timeout);
}

static void
test_new_guest (void)
{
  ThreadCheck check;
  GMainContext *context;
  g_autoptr(AgCaller) guest = NULL;
  g_autoptr(AgPending) pending = NULL;
  g_autoptr(AgPending) later = NULL;
  AgTestLatch blocking;
  GuestRun run = { NULL, };
  Submitter submitter = { NULL, };
  guint before;
  guint guest_source_id;
  guint after;
  GSource *source;
  GThread *thread;

  thread_check_begin (&check);

  context = g_main_context_new ();
  run.context = context;

  /* Exactly one source attached to the host context... */
  before = mark_sources (context);
  guest = ag_caller_new_guest (context, "guest");
  after = mark_sources (context);
  g_assert_true (AG_IS_CALLER (guest));
  g_assert_cmpstr (ag_caller_get_name (guest), ==, "guest");
  g_assert_true (ag_caller_get_context (guest) == context);
  g_assert_cmpuint (after, ==, before + 2);
  guest_source_id = before + 1;
  source = g_main_context_find_source_by_id (context, guest_source_id);
  g_assert_nonnull (source);
  g_assert_cmpint (g_source_get_priority (source), ==, G_PRIORITY_DEFAULT);

  /* ...which is all it needs to run jobs, also delayed ones, submitted
   * from any thread */
  before = after;
  pending = ag_caller_call_soon (guest, guest_run_job, &run, NULL);
  later = ag_caller_call_later (guest, 0.01, guest_run_job, &run, NULL);
  submitter.guest = guest;
  submitter.run = &run;
  thread = g_thread_new ("guest-submitter", submit_thread_func, &submitter);
  g_thread_join (thread);
  after = mark_sources (context);
  g_assert_cmpuint (after, ==, before + 1);
  before = after;

  /* Nothing runs until the host iterates its context: the guest never
   * iterates it, nor holds it */
  g_assert_cmpint (g_atomic_int_get (&run.ran), ==, 0);
  g_assert_true (g_main_context_acquire (context));
  g_main_context_release (context);
  ag_test_drain (g_main_context_default ());
  g_assert_cmpint (g_atomic_int_get (&run.ran), ==, 0);
  g_assert_false (ag_pending_is_done (pending));

  ag_test_iterate_until_done (context, later);
  ag_test_iterate_until_strict (context, &run.ran, 3);
  ag_test_assert_state (pending, AG_PENDING_STATE_SUCCEEDED);
  ag_test_assert_state (later, AG_PENDING_STATE_SUCCEEDED);
  g_assert_cmpint (g_atomic_int_get (&run.owner), ==, 3);
  /* the timeouts of the two helpers above, the marker, and nothing else */
  after = mark_sources (context);
  g_assert_cmpuint (after, ==, before + 3);

  /* Submitting from another thread wakes the host blocked in poll() */
  ag_test_latch_init (&blocking);
  host_blocking = &blocking;
  g_main_context_set_poll_func (context, spy_poll);
  submitter.before = &blocking;
  thread = g_thread_new ("guest-waker", submit_thread_func, &submitter);
  ag_test_iterate_until_strict (context, &run.ran, 4);
  g_thread_join (thread);
  g_main_context_set_poll_func (context, NULL);
  host_blocking = NULL;
  ag_test_latch_clear (&blocking);
  g_assert_cmpint (g_atomic_int_get (&run.owner), ==, 4);

  /* Stopping releases the source */
  stop_and_wait (guest);
  g_assert_null (g_main_context_find_source_by_id (context, guest_source_id));

  g_clear_object (&guest);
  ag_test_drain (context);
  g_main_context_unref (context);
  thread_check_end (&check);
}

/* }}} */

/* {{{ /Caller/properties */

static void
test_properties (void)
{
  ThreadCheck check;
  g_autoptr(AgCaller) caller = NULL;
  g_autoptr(AgCaller) other = NULL;
  g_autoptr(AgCaller) parent = NULL;
  g_autoptr(GPtrArray) children = NULL;
  g_autoptr(GMainContext) context = NULL;
  g_autofree char *name = NULL;
  AgCaller *kid;
  AgCallerState state = AG_CALLER_STATE_STOPPED;
  gboolean protected_ = TRUE;
  gboolean main_context = TRUE;
  guint id = 0;
  guint max_idle_workers = 0;
  guint max_batch_size = 0;
  double idle_worker_timeout = 0;
  double max_batch_time = 0;

  thread_check_begin (&check);

  caller = ag_caller_new_thread ("props");
  other = ag_caller_new_thread ("props-other");

  g_object_get (caller,
                "name", &name,
                "id", &id,
                "state", &state,
                "parent", &parent,
                "children", &children,
                "context", &context,
                "protected", &protected_,
                "main-context", &main_context,
                "max-idle-workers", &max_idle_workers,
                "idle-worker-timeout", &idle_worker_timeout,
                "max-batch-size", &max_batch_size,
                "max-batch-time", &max_batch_time,
                NULL);
  g_assert_cmpstr (name, ==, "props");
  g_assert_cmpuint (id, >, 0);
  g_assert_cmpuint (id, ==, ag_caller_get_id (caller));
  g_assert_cmpuint (id, !=, ag_caller_get_id (other));
  g_assert_cmpint (state, ==, AG_CALLER_STATE_RUNNING);
  g_assert_null (parent);
  g_assert_nonnull (children);
  g_assert_cmpuint (children->len, ==, 0);
  g_assert_true (context == ag_caller_get_context (caller));
  g_assert_false (protected_);
  g_assert_false (main_context);

  /* The defaults */
  g_assert_cmpuint (max_idle_workers, ==, 10);
  g_assert_cmpfloat (idle_worker_timeout, ==, 60.0);
  g_assert_cmpuint (max_batch_size, ==, 64);
  g_assert_cmpfloat (max_batch_time, >, 0.0);
  g_assert_cmpuint (ag_caller_get_max_idle_workers (caller), ==, 10);
  g_assert_cmpfloat (ag_caller_get_idle_worker_timeout (caller), ==, 60.0);
  g_assert_cmpuint (ag_caller_get_max_batch_size (caller), ==, 64);
  g_assert_cmpfloat (ag_caller_get_max_batch_time (caller), ==,
                     max_batch_time);
  g_assert_false (ag_caller_get_protected (caller));

  /* Writable by property... */
  g_object_set (caller,
                "protected", TRUE,
                "max-idle-workers", 3,
                "idle-worker-timeout", 0.5,
                "max-batch-size", 7,
                "max-batch-time", 0.25,
                NULL);
  g_assert_true (ag_caller_get_protected (caller));
  g_assert_cmpuint (ag_caller_get_max_idle_workers (caller), ==, 3);
  g_assert_cmpfloat (ag_caller_get_idle_worker_timeout (caller), ==, 0.5);
  g_assert_cmpuint (ag_caller_get_max_batch_size (caller), ==, 7);
  g_assert_cmpfloat (ag_caller_get_max_batch_time (caller), ==, 0.25);

  /* ...and by setter */
  ag_caller_set_protected (caller, FALSE);
  ag_caller_set_max_idle_workers (caller, 0);
  ag_caller_set_idle_worker_timeout (caller, 0);
  ag_caller_set_max_batch_size (caller, 1);
  ag_caller_set_max_batch_time (caller, 1.5);
  g_object_get (caller,
                "protected", &protected_,
                "max-idle-workers", &max_idle_workers,
                "idle-worker-timeout", &idle_worker_timeout,
                "max-batch-size", &max_batch_size,
                "max-batch-time", &max_batch_time,
                NULL);
  g_assert_false (protected_);
  g_assert_cmpuint (max_idle_workers, ==, 0);
  g_assert_cmpfloat (idle_worker_timeout, ==, 0.0);
  g_assert_cmpuint (max_batch_size, ==, 1);
  g_assert_cmpfloat (max_batch_time, ==, 1.5);

  /* parent and children */
  kid = ag_caller_get_child (caller, "kid");
  g_assert_true (AG_IS_CALLER (kid));
  g_clear_pointer (&children, g_ptr_array_unref);
  g_object_get (caller, "children", &children, NULL);
  g_assert_cmpuint (children->len, ==, 1);
  g_assert_true (g_ptr_array_index (children, 0) == kid);
  g_object_get (kid, "parent", &parent, NULL);
  g_assert_true (parent == caller);
  g_clear_object (&parent);

  stop_and_wait (caller);
  g_object_get (caller, "state", &state, NULL);
  g_assert_cmpint (state, ==, AG_CALLER_STATE_STOPPED);
  stop_and_wait (other);
  thread_check_end (&check);
}

/* }}} */

/* {{{ /Caller/ordering */

typedef enum
{
  KIND_SOON,
  KIND_DIRECT,
  KIND_QUEUE,
} Kind;

typedef struct _Order Order;

typedef struct
{
  Order *order;
  guint  index;
  Kind   kind;
  gint   destroyed;  /* (atomic) */
} OrderItem;

struct _Order
{
  /* written by the caller's thread only; read once it is idle */
  GArray *fifo_log;   /* guint: call_soon and call_direct items, as run */
  GArray *queue_log;  /* guint: queue_call items, as run */
};

static void
order_record (OrderItem *item)
{
  if (item->kind == KIND_QUEUE)
    g_array_append_val (item->order->queue_log, item->index);
  else
    g_array_append_val (item->order->fifo_log, item->index);
}

static AgPending *
order_job (AgPending *pending,
           gpointer   data)
{
  order_record (data);
  return NULL;
}

static void
order_direct (gpointer data)
{
  order_record (data);
}

static void
order_item_destroy (gpointer data)
{
  OrderItem *item = data;

  g_atomic_int_inc (&item->destroyed);
}

static void
assert_same_indexes (GArray *got,
                     GArray *expected)
{
  g_assert_cmpuint (got->len, ==, expected->len);
  for (guint i = 0; i < got->len; i++)
    if (g_array_index (got, guint, i) != g_array_index (expected, guint, i))
      g_error ("at position %u, item %u ran where item %u should have", i,
               g_array_index (got, guint, i),
               g_array_index (expected, guint, i));
}

static void
test_ordering (void)
{
  ThreadCheck check;
  guint n = g_test_thorough () ? 30000 : 3000;
  g_autoptr(AgCaller) caller = NULL;
  g_autoptr(AgPending) fence = NULL;
  g_autoptr(AgPending) last_queued = NULL;
  g_autoptr(GArray) fifo_expected = g_array_new (FALSE, FALSE, sizeof (guint));
  g_autoptr(GArray) queue_expected = g_array_new (FALSE, FALSE, sizeof (guint));
  OrderItem *items = g_new0 (OrderItem, n);
  Order order;
  Probe fence_probe;

  thread_check_begin (&check);

  order.fifo_log = g_array_new (FALSE, FALSE, sizeof (guint));
  order.queue_log = g_array_new (FALSE, FALSE, sizeof (guint));
  caller = ag_caller_new_thread ("ordering");

  /* Interleaved, from this one thread, while the caller already runs the
   * first ones */
  for (guint i = 0; i < n; i++)
    {
      OrderItem *item = &items[i];

      item->order = &order;
      item->index = i;
      item->kind = (Kind) g_test_rand_int_range (KIND_SOON, KIND_QUEUE + 1);

      switch (item->kind)
        {
        case KIND_SOON:
          g_array_append_val (fifo_expected, i);
          g_object_unref (ag_caller_call_soon (caller, order_job, item,
                                               order_item_destroy));
          break;

        case KIND_DIRECT:
          g_array_append_val (fifo_expected, i);
          ag_caller_call_direct (caller, order_direct, item,
                                 order_item_destroy);
          break;

        case KIND_QUEUE:
        default:
          g_array_append_val (queue_expected, i);
          g_clear_object (&last_queued);
          last_queued = ag_caller_queue_call (caller, "ordering", order_job,
                                              item, order_item_destroy);
          break;
        }
    }

  /* One FIFO: what was queued before the fence has run once it has */
  probe_init (&fence_probe);
  fence = ag_caller_call_soon (caller, probe_job, &fence_probe, NULL);
  ag_test_wait_done (fence);
  ag_test_assert_state (fence, AG_PENDING_STATE_SUCCEEDED);
  if (last_queued != NULL)
    {
      ag_test_wait_done (last_queued);
      ag_test_assert_state (last_queued, AG_PENDING_STATE_SUCCEEDED);
    }

  /* call_soon and call_direct share the caller's FIFO: one global order;
   * queue_call items keep theirs */
  assert_same_indexes (order.fifo_log, fifo_expected);
  assert_same_indexes (order.queue_log, queue_expected);

  ag_caller_queue_close (caller, "ordering");
  stop_and_wait (caller);

  /* Each destroy notify ran once */
  for (guint i = 0; i < n; i++)
    g_assert_cmpint (g_atomic_int_get (&items[i].destroyed), ==, 1);

  g_array_unref (order.fifo_log);
  g_array_unref (order.queue_log);
  g_free (items);
  probe_clear (&fence_probe);
  thread_check_end (&check);
}

/* }}} */

/* {{{ /Caller/queue */

typedef struct
{
  AgTestLatch started;
  AgPending  *pending;     /* owned: the job sets it later */
} Later;

static AgPending *
later_job (AgPending *pending,
           gpointer   data)
{
  Later *later = data;

  later->pending = g_object_ref (pending);
  ag_test_latch_add (&later->started, 1);

  /* The outcome comes later, from the test */
  return g_object_ref (pending);
}

static void
test_queue (void)
{
  ThreadCheck check;
  g_autoptr(AgCaller) caller = NULL;
  g_autoptr(AgPending) first = NULL;
  g_autoptr(AgPending) second = NULL;
  g_autoptr(AgPending) other = NULL;
  g_autoptr(AgPending) fence = NULL;
  g_autoptr(AgPending) queue = NULL;
  g_autoptr(AgPending) closed_first = NULL;
  g_autoptr(AgPending) closed_second = NULL;
  g_autoptr(AgPending) reopened = NULL;
  Later later;
  Later later2;
  Probe probe;
  Probe other_probe;
  Probe closed_probe;
  Probe reopened_probe;
  Probe fence_probe;

  thread_check_begin (&check);
  ag_test_latch_init (&later.started);
  ag_test_latch_init (&later2.started);
  probe_init (&probe);
  probe_init (&other_probe);
  probe_init (&closed_probe);
  probe_init (&reopened_probe);
  probe_init (&fence_probe);

  caller = ag_caller_new_thread ("queues");
  g_assert_null (ag_caller_queue_get (caller, "k"));

  /* The second item of a key starts only once the first one's pending is
   * done */
  first = ag_caller_queue_call (caller, "k", later_job, &later, NULL);
  second = ag_caller_queue_call (caller, "k", probe_job, &probe,
                                 probe_destroy);
  queue = ag_caller_queue_get (caller, "k");
  g_assert_true (AG_IS_PENDING (queue));
  g_object_ref (queue);
  g_assert_true (ag_caller_queue_get (caller, "k") == queue);
  ag_test_assert_state (queue, AG_PENDING_STATE_RUNNING);
  g_assert_true (queue != first && queue != second);
  g_assert_null (ag_caller_queue_get (caller, "nope"));

  ag_test_latch_wait (&later.started, 1);
  ag_test_assert_state (first, AG_PENDING_STATE_RUNNING);

  /* Other keys are not held up by it, nor is the caller */
  other = ag_caller_queue_call (caller, "other", probe_job, &other_probe,
                                NULL);
  ag_test_wait_done (other);
  ag_test_assert_state (other, AG_PENDING_STATE_SUCCEEDED);
  fence = ag_caller_call_soon (caller, probe_job, &fence_probe, NULL);
  ag_test_wait_done (fence);
  g_assert_cmpint (g_atomic_int_get (&probe.ran), ==, 0);
  ag_test_assert_state (second, AG_PENDING_STATE_RUNNING);

  g_assert_true (ag_pending_set_int (later.pending, 1));
  ag_test_wait_done (second);
  ag_test_assert_state (second, AG_PENDING_STATE_SUCCEEDED);
  g_assert_cmpint (g_atomic_int_get (&probe.ran), ==, 1);
  ag_test_latch_wait (&probe.destroyed, 1);
  ag_test_assert_state (first, AG_PENDING_STATE_SUCCEEDED);

  /* The queue's own pending runs until the queue is closed */
  ag_test_assert_state (queue, AG_PENDING_STATE_RUNNING);

  /* Closing cancels what has not started: it never runs */
  closed_first = ag_caller_queue_call (caller, "k", later_job, &later2, NULL);
  closed_second = ag_caller_queue_call (caller, "k", probe_job, &closed_probe,
                                        probe_destroy);
  ag_test_latch_wait (&later2.started, 1);
  ag_caller_queue_close (caller, "k");
  ag_test_wait_done (closed_second);
  ag_test_assert_state (closed_second, AG_PENDING_STATE_CANCELLED);
  ag_test_wait_done (queue);
  ag_test_assert_state (queue, AG_PENDING_STATE_CANCELLED);
  g_assert_null (ag_caller_queue_get (caller, "k"));
  ag_pending_set_int (later2.pending, 2);
  ag_test_wait_done (closed_first);
  ag_test_latch_wait (&closed_probe.destroyed, 1);
  g_assert_cmpint (g_atomic_int_get (&closed_probe.ran), ==, 0);

  /* The same key later makes a new queue */
  reopened = ag_caller_queue_call (caller, "k", probe_job, &reopened_probe,
                                   NULL);
  g_assert_nonnull (ag_caller_queue_get (caller, "k"));
  g_assert_true (ag_caller_queue_get (caller, "k") != queue);
  ag_test_assert_state (ag_caller_queue_get (caller, "k"), AG_PENDING_STATE_RUNNING);
  ag_test_wait_done (reopened);
  ag_test_assert_state (reopened, AG_PENDING_STATE_SUCCEEDED);
  g_assert_cmpint (g_atomic_int_get (&reopened_probe.ran), ==, 1);

  ag_caller_queue_close (caller, "k");
  ag_caller_queue_close (caller, "other");
  g_assert_null (ag_caller_queue_get (caller, "other"));
  stop_and_wait (caller);

  /* Once each */
  g_assert_cmpint (latch_get (&probe.destroyed), ==, 1);
  g_assert_cmpint (latch_get (&closed_probe.destroyed), ==, 1);

  g_clear_object (&later.pending);
  g_clear_object (&later2.pending);
  ag_test_latch_clear (&later.started);
  ag_test_latch_clear (&later2.started);
  probe_clear (&probe);
  probe_clear (&other_probe);
  probe_clear (&closed_probe);
  probe_clear (&reopened_probe);
  probe_clear (&fence_probe);
  thread_check_end (&check);
}

/* }}} */

/* {{{ /Caller/guest/host-loop */

typedef struct
{
  GMainContext *context;
  GMainLoop    *loop;
  GSource      *idle;
  AgCaller     *guest;
  gint          n_jobs;            /* immutable */
  gint          submitted;         /* (atomic) */
  gint          ran;               /* (atomic) */
  AgTestLatch   producing;         /* counts the producers that started */

  /* the host thread only */
  guint         ticks;             /* dispatches of the host's idle source */
  guint         last_tick;
  guint         run_in_tick;
  guint         max_run_in_tick;
  guint         outside_dispatch;  /* jobs not run by a source of the host */
  gboolean      timed_out;
} Host;

static gboolean
host_idle_cb (gpointer data)
{
  Host *host = data;

  host->ticks++;
  return G_SOURCE_CONTINUE;
}

static gboolean
host_timeout_cb (gpointer data)
{
  Host *host = data;

  host->timed_out = TRUE;
  g_main_loop_quit (host->loop);
  return G_SOURCE_REMOVE;
}

static void
host_record (Host *host)
{
  GSource *current = g_main_current_source ();

  if (current == NULL || current == host->idle ||
      g_source_get_context (current) != host->context ||
      !g_main_context_is_owner (host->context))
    host->outside_dispatch++;

  if (host->ticks != host->last_tick)
    {
      host->last_tick = host->ticks;
      host->run_in_tick = 0;
    }
  host->run_in_tick++;
  host->max_run_in_tick = MAX (host->max_run_in_tick, host->run_in_tick);

  if (g_atomic_int_add (&host->ran, 1) + 1 == host->n_jobs)
    g_main_loop_quit (host->loop);
}

static AgPending *
host_job (AgPending *pending,
          gpointer   data)
{
  host_record (data);
  return NULL;
}

static void
host_direct (gpointer data)
{
  host_record (data);
}

/* Submits jobs to the guest until n_jobs are: call_soon and call_direct
 * alternately, from two threads at once. */
static gpointer
host_producer_func (gpointer data)
{
  Host *host = data;
  gboolean first = TRUE;

  for (;;)
    {
      gint i = g_atomic_int_add (&host->submitted, 1);

      if (i >= host->n_jobs)
        break;

      if (i % 2 == 0)
        g_object_unref (ag_caller_call_soon (host->guest, host_job, host,
                                             NULL));
      else
        ag_caller_call_direct (host->guest, host_direct, host, NULL);

      if (first)
        {
          ag_test_latch_add (&host->producing, 1);
          first = FALSE;
        }
    }

  if (first)
    ag_test_latch_add (&host->producing, 1);

  return NULL;
}

/* Runs a host loop with an idle source of the guest's priority while two
 * threads hand @n_jobs to the guest; @max_batch 0 keeps the default. */
static void
run_host_loop (guint max_batch,
               gint  n_jobs)
{
  Host host = { NULL, };
  GSource *timeout;
  GThread *producers[2];
  guint batch;

  host.context = g_main_context_new ();
  host.loop = g_main_loop_new (host.context, FALSE);
  host.n_jobs = n_jobs;
  ag_test_latch_init (&host.producing);

  host.guest = ag_caller_new_guest (host.context, "host-guest");
  if (max_batch > 0)
    g_object_set (host.guest, "max-batch-size", max_batch, NULL);
  g_object_get (host.guest, "max-batch-size", &batch, NULL);
  if (max_batch > 0)
    g_assert_cmpuint (batch, ==, max_batch);
  else
    g_assert_cmpuint (batch, ==, 64);

  /* The host's own source, at the guest's priority, always ready */
  host.idle = g_idle_source_new ();
  g_source_set_priority (host.idle, G_PRIORITY_DEFAULT);
  g_source_set_callback (host.idle, host_idle_cb, &host, NULL);
  g_source_attach (host.idle, host.context);

  timeout = g_timeout_source_new (AG_TEST_TIMEOUT_MSEC * 6);
  g_source_set_callback (timeout, host_timeout_cb, &host, NULL);
  g_source_attach (timeout, host.context);

  producers[0] = g_thread_new ("host-producer-1", host_producer_func, &host);
  producers[1] = g_thread_new ("host-producer-2", host_producer_func, &host);

  /* Jobs are arriving; none runs before the host dispatches */
  ag_test_latch_wait (&host.producing, 2);
  g_assert_cmpint (g_atomic_int_get (&host.ran), ==, 0);

  g_main_loop_run (host.loop);

  g_thread_join (producers[0]);
  g_thread_join (producers[1]);

  g_test_message ("%d jobs, batch %u: %u host ticks, at most %u jobs "
                  "between two, at most %u per dispatch", n_jobs, batch,
                  host.ticks, host.max_run_in_tick,
                  ag_caller_get_max_dispatched (host.guest));
  g_assert_false (host.timed_out);
  g_assert_cmpint (g_atomic_int_get (&host.ran), ==, n_jobs);
  g_assert_cmpuint (host.outside_dispatch, ==, 0);

  /* The host's source was never starved: between two of its dispatches,
   * at most one batch of jobs ran */
  g_assert_cmpuint (host.max_run_in_tick, <=, batch);
  g_assert_cmpuint (host.ticks, >=, (guint) n_jobs / batch);
  g_assert_cmpuint (ag_caller_get_max_dispatched (host.guest), <=, batch);
  g_assert_cmpuint (ag_caller_get_max_dispatched (host.guest), >=, 1);

  ag_caller_stop (host.guest, TRUE);
  wait_stopped (host.guest);

  g_source_destroy (timeout);
  g_source_unref (timeout);
  g_source_destroy (host.idle);
  g_source_unref (host.idle);
  g_object_unref (host.guest);
  g_main_loop_unref (host.loop);
  ag_test_drain (host.context);
  g_main_context_unref (host.context);
  ag_test_latch_clear (&host.producing);
}

static void
test_guest_host_loop (void)
{
  ThreadCheck check;
  gint n = (gint) ag_test_iterations (100000, 1000000);

  thread_check_begin (&check);

  /* The default batch, then a small one */
  run_host_loop (0, n);
  run_host_loop (10, MAX (n / 2, 1));

  thread_check_end (&check);
}

/* }}} */

/* {{{ /Caller/call-later */

typedef struct
{
  double  delay;
  gint64  submitted;
  gint64  ran_at;
  gint    position;
  gint   *sequence;  /* shared; the caller's thread only */
} Timed;

static AgPending *
timed_job (AgPending *pending,
           gpointer   data)
{
  Timed *timed = data;

  timed->ran_at = g_get_monotonic_time ();
  timed->position = (*timed->sequence)++;
  return NULL;
}

static gint
compare_deadlines (gconstpointer a,
                   gconstpointer b)
{
  const Timed *ta = *(Timed * const *) a;
  const Timed *tb = *(Timed * const *) b;
  gint64 da = ta->submitted + (gint64) (ta->delay * G_USEC_PER_SEC);
  gint64 db = tb->submitted + (gint64) (tb->delay * G_USEC_PER_SEC);

  return da < db ? -1 : (da > db);
}

/* Schedules jobs with different delays on @caller; with @context, the
 * calling thread runs it. */
static void
check_call_later (AgCaller     *caller,
                  GMainContext *context)
{
  static const double delays[] = { 0.08, 0.02, 0.06, 0.0, 0.04, 0.1 };
  Timed timed[G_N_ELEMENTS (delays)];
  AgPending *pendings[G_N_ELEMENTS (delays)];
  g_autoptr(GPtrArray) by_deadline = g_ptr_array_new ();
  gint sequence = 0;

  for (guint i = 0; i < G_N_ELEMENTS (delays); i++)
    {
      timed[i].delay = delays[i];
      timed[i].sequence = &sequence;
      timed[i].position = -1;
      timed[i].submitted = g_get_monotonic_time ();
      pendings[i] = ag_caller_call_later (caller, delays[i], timed_job,
                                          &timed[i], NULL);
      g_ptr_array_add (by_deadline, &timed[i]);
    }

  for (guint i = 0; i < G_N_ELEMENTS (delays); i++)
    {
      if (context != NULL)
        ag_test_iterate_until_done (context, pendings[i]);
      else
        ag_test_wait_done (pendings[i]);
      ag_test_assert_state (pendings[i], AG_PENDING_STATE_SUCCEEDED);
    }

  /* Never early... */
  for (guint i = 0; i < G_N_ELEMENTS (delays); i++)
    g_assert_cmpint (timed[i].ran_at - timed[i].submitted, >=,
                     (gint64) (delays[i] * G_USEC_PER_SEC));

  /* ...and in the order of their deadlines */
  g_ptr_array_sort (by_deadline, compare_deadlines);
  for (guint i = 0; i < by_deadline->len; i++)
    g_assert_cmpint (((Timed *) g_ptr_array_index (by_deadline, i))->position,
                     ==, (gint) i);

  for (guint i = 0; i < G_N_ELEMENTS (delays); i++)
    g_object_unref (pendings[i]);
}

static void
test_call_later (void)
{
  ThreadCheck check;
  g_autoptr(AgCaller) caller = NULL;
  g_autoptr(AgPending) cancelled = NULL;
  g_autoptr(AgPending) negative = NULL;
  GMainContext *context;
  Probe probe;
  Probe negative_probe;

  thread_check_begin (&check);
  probe_init (&probe);
  probe_init (&negative_probe);

  /* A caller with its own thread, and a guest */
  caller = ag_caller_new_thread ("later");
  check_call_later (caller, NULL);

  context = ag_test_push_context ();
  check_call_later (ag_caller_get_current (), context);

  /* A negative delay means now */
  negative = ag_caller_call_later (caller, -1.0, probe_job, &negative_probe,
                                   NULL);
  ag_test_wait_done (negative);
  ag_test_assert_state (negative, AG_PENDING_STATE_SUCCEEDED);
  g_assert_cmpint (g_atomic_int_get (&negative_probe.ran), ==, 1);

  /* Cancelled before its time, a delayed job ends at once (well before its
   * hour-long delay) and never runs */
  cancelled = ag_caller_call_later (caller, 3600.0, probe_job, &probe,
                                    probe_destroy);
  g_assert_true (ag_pending_cancel (cancelled, "not today"));
  ag_test_wait_done (cancelled);
  ag_test_assert_state (cancelled, AG_PENDING_STATE_CANCELLED);
  ag_test_assert_pending_error (cancelled, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                        "not today");
  ag_test_latch_wait (&probe.destroyed, 1);
  g_assert_cmpint (g_atomic_int_get (&probe.ran), ==, 0);

  stop_and_wait (caller);
  stop_and_wait (ag_caller_get_current ());
  ag_test_pop_context (context);

  g_assert_cmpint (latch_get (&probe.destroyed), ==, 1);
  probe_clear (&probe);
  probe_clear (&negative_probe);
  thread_check_end (&check);
}

/* }}} */

/* {{{ /Caller/call-direct */

typedef struct
{
  AgCaller *caller;
  gint      ran;          /* (atomic) */
  gint      right_thread; /* (atomic) */
  gint      no_pending;   /* (atomic) */
  gint      destroyed;    /* (atomic) */
} Direct;

static void
direct_func (gpointer data)
{
  Direct *direct = data;

  if (ag_caller_get_current () == direct->caller &&
      g_main_context_is_owner (ag_caller_get_context (direct->caller)))
    g_atomic_int_inc (&direct->right_thread);
  if (ag_caller_get_current_pending () == NULL)
    g_atomic_int_inc (&direct->no_pending);
  g_atomic_int_inc (&direct->ran);
}

static void
direct_destroy (gpointer data)
{
  Direct *direct = data;

  g_atomic_int_inc (&direct->destroyed);
}

static void
test_call_direct (void)
{
  ThreadCheck check;
  g_autoptr(AgCaller) caller = NULL;
  g_autoptr(AgPending) fence = NULL;
  Direct direct = { NULL, };
  Probe probe;

  thread_check_begin (&check);
  probe_init (&probe);

  caller = ag_caller_new_thread ("direct");
  direct.caller = caller;
  for (guint i = 0; i < 10; i++)
    ag_caller_call_direct (caller, direct_func, &direct, direct_destroy);
  ag_caller_call_direct (caller, direct_func, &direct, NULL);

  fence = ag_caller_call_soon (caller, probe_job, &probe, NULL);
  ag_test_wait_done (fence);

  /* In the caller's thread, with no pending of its own */
  g_assert_cmpint (g_atomic_int_get (&direct.ran), ==, 11);
  g_assert_cmpint (g_atomic_int_get (&direct.right_thread), ==, 11);
  g_assert_cmpint (g_atomic_int_get (&direct.no_pending), ==, 11);

  stop_and_wait (caller);

  /* Each destroy notify ran once */
  g_assert_cmpint (g_atomic_int_get (&direct.destroyed), ==, 10);

  probe_clear (&probe);
  thread_check_end (&check);
}

/* }}} */

/* {{{ /Caller/jobs/outcomes */

typedef struct
{
  AgCaller  *caller;     /* not owned */
  AgPending *follow;     /* owned: what the job returns (transfer full) */
  AgPending *seen;       /* not owned: the pending the job got */
  gboolean   current_ok;
  gboolean   caller_ok;
  gint       destroyed;  /* (atomic) */
} Outcome;

static void
outcome_destroy (gpointer data)
{
  Outcome *outcome = data;

  g_atomic_int_inc (&outcome->destroyed);
}

static void
outcome_record (Outcome   *outcome,
                AgPending *pending)
{
  outcome->seen = pending;
  outcome->current_ok = ag_caller_get_current_pending () == pending;
  outcome->caller_ok = ag_caller_get_current () == outcome->caller;
}

static AgPending *
outcome_set_int_job (AgPending *pending,
                     gpointer   data)
{
  outcome_record (data, pending);
  ag_pending_set_int (pending, 42);
  return NULL;
}

static AgPending *
outcome_nothing_job (AgPending *pending,
                     gpointer   data)
{
  outcome_record (data, pending);
  return NULL;
}

static AgPending *
outcome_error_job (AgPending *pending,
                   gpointer   data)
{
  outcome_record (data, pending);
  ag_pending_take_error (pending, g_error_new_literal (G_IO_ERROR,
                                                       G_IO_ERROR_NOT_FOUND,
                                                       "nowhere"));
  return NULL;
}

static AgPending *
outcome_follow_job (AgPending *pending,
                    gpointer   data)
{
  Outcome *outcome = data;

  outcome_record (outcome, pending);
  return g_steal_pointer (&outcome->follow);
}

static AgPending *
outcome_later_job (AgPending *pending,
                   gpointer   data)
{
  outcome_record (data, pending);
  return g_object_ref (pending);
}

static gpointer
set_int_thread_func (gpointer data)
{
  ag_pending_set_int (data, 5);
  return NULL;
}

static gboolean
set_int_timeout_cb (gpointer data)
{
  ag_pending_set_int (data, 6);
  return G_SOURCE_REMOVE;
}

/* Runs @func as a job of @caller (the guest of @context) and checks what
 * it saw. The job has run when this returns. */
static AgPending *
run_outcome_job (AgCaller     *caller,
                 GMainContext *context,
                 AgJobFunc     func,
                 Outcome      *outcome)
{
  AgPending *pending;

  outcome->caller = caller;
  outcome->seen = NULL;
  outcome->current_ok = FALSE;
  outcome->caller_ok = FALSE;
  g_atomic_int_set (&outcome->destroyed, 0);

  pending = ag_caller_call_soon (caller, func, outcome, outcome_destroy);
  g_assert_null (ag_caller_get_current_pending ());
  /* the destroy notify runs once the job has returned */
  ag_test_iterate_until_strict (context, &outcome->destroyed, 1);
  g_assert_null (ag_caller_get_current_pending ());

  g_assert_true (outcome->seen == pending);
  g_assert_true (outcome->current_ok);
  g_assert_true (outcome->caller_ok);

  return pending;
}

static void
test_job_outcomes (void)
{
  GMainContext *context = ag_test_push_context ();
  AgCaller *caller = ag_caller_get_current ();
  g_auto(GValue) value = G_VALUE_INIT;
  g_autoptr(GError) error = NULL;
  g_autofree char *string = NULL;
  Outcome outcome = { NULL, };
  AgPending *followed;
  AgPending *pending;
  GSource *source;
  GThread *thread;

  /* NULL after setting the outcome: that outcome */
  pending = run_outcome_job (caller, context, outcome_set_int_job, &outcome);
  ag_test_assert_state (pending, AG_PENDING_STATE_SUCCEEDED);
  g_assert_cmpint (ag_pending_get_int (pending, &error), ==, 42);
  g_assert_no_error (error);
  g_assert_cmpint (g_atomic_int_get (&outcome.destroyed), ==, 1);
  g_object_unref (pending);

  /* NULL without setting: an empty success */
  pending = run_outcome_job (caller, context, outcome_nothing_job, &outcome);
  ag_test_assert_state (pending, AG_PENDING_STATE_SUCCEEDED);
  g_assert_true (ag_pending_get_value (pending, &value, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (G_VALUE_TYPE (&value), ==, G_TYPE_INVALID);
  g_object_unref (pending);

  /* NULL after failing */
  pending = run_outcome_job (caller, context, outcome_error_job, &outcome);
  ag_test_assert_state (pending, AG_PENDING_STATE_FAILED);
  ag_test_assert_pending_error (pending, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "nowhere");
  g_object_unref (pending);

  /* Another pending: followed, value... */
  followed = ag_pending_new ();
  outcome.follow = g_object_ref (followed);
  pending = run_outcome_job (caller, context, outcome_follow_job, &outcome);
  ag_test_drain (context);
  ag_test_assert_state (pending, AG_PENDING_STATE_RUNNING);
  g_assert_true (ag_pending_set_int (followed, 7));
  ag_test_iterate_until_done (context, pending);
  ag_test_assert_state (pending, AG_PENDING_STATE_SUCCEEDED);
  g_assert_cmpint (ag_pending_get_int (pending, &error), ==, 7);
  g_assert_no_error (error);
  g_assert_cmpint (g_atomic_int_get (&outcome.destroyed), ==, 1);
  g_object_unref (pending);
  g_object_unref (followed);

  /* ...error... */
  followed = ag_pending_new ();
  outcome.follow = g_object_ref (followed);
  pending = run_outcome_job (caller, context, outcome_follow_job, &outcome);
  ag_pending_take_error (followed,
                         g_error_new_literal (G_IO_ERROR,
                                              G_IO_ERROR_PERMISSION_DENIED,
                                              "no entry"));
  ag_test_iterate_until_done (context, pending);
  ag_test_assert_state (pending, AG_PENDING_STATE_FAILED);
  ag_test_assert_pending_error (pending, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                        "no entry");
  g_object_unref (pending);
  g_object_unref (followed);

  /* ...or already done */
  followed = ag_pending_new ();
  ag_pending_set_string (followed, "done");
  outcome.follow = g_object_ref (followed);
  pending = run_outcome_job (caller, context, outcome_follow_job, &outcome);
  ag_test_iterate_until_done (context, pending);
  ag_test_assert_state (pending, AG_PENDING_STATE_SUCCEEDED);
  string = ag_pending_get_string (pending, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (string, ==, "done");
  g_object_unref (pending);
  g_object_unref (followed);

  /* Its own pending, as a new reference: the outcome comes later, here
   * from another thread... */
  pending = run_outcome_job (caller, context, outcome_later_job, &outcome);
  ag_test_drain (context);
  ag_test_assert_state (pending, AG_PENDING_STATE_RUNNING);
  g_assert_cmpint (g_atomic_int_get (&outcome.destroyed), ==, 1);
  thread = g_thread_new ("set-later", set_int_thread_func, pending);
  g_thread_join (thread);
  ag_test_assert_state (pending, AG_PENDING_STATE_SUCCEEDED);
  g_assert_cmpint (ag_pending_get_int (pending, &error), ==, 5);
  g_assert_no_error (error);
  g_object_unref (pending);

  /* ...and here from a timeout */
  pending = run_outcome_job (caller, context, outcome_later_job, &outcome);
  ag_test_drain (context);
  ag_test_assert_state (pending, AG_PENDING_STATE_RUNNING);
  source = g_timeout_source_new (10);
  g_source_set_callback (source, set_int_timeout_cb, g_object_ref (pending),
                         g_object_unref);
  g_source_attach (source, context);
  g_source_unref (source);
  ag_test_iterate_until_done (context, pending);
  ag_test_assert_state (pending, AG_PENDING_STATE_SUCCEEDED);
  g_assert_cmpint (ag_pending_get_int (pending, &error), ==, 6);
  g_assert_no_error (error);
  g_object_unref (pending);

  stop_and_wait (caller);
  ag_test_pop_context (context);
}

/* }}} */

/* {{{ /Caller/cancel/before-start */

static void
test_cancel_before_start (void)
{
  ThreadCheck check;
  GMainContext *context;
  AgCaller *guest;
  g_autoptr(AgCaller) caller = NULL;
  g_autoptr(AgPending) pending = NULL;
  g_autoptr(AgPending) blocker = NULL;
  g_autoptr(AgPending) queued = NULL;
  g_autoptr(AgPending) queued_key = NULL;
  Probe probe;
  Probe thread_probe;
  Gate gate;

  thread_check_begin (&check);
  probe_init (&probe);
  probe_init (&thread_probe);
  gate_init (&gate);

  /* A guest whose host has not dispatched yet */
  context = ag_test_push_context ();
  guest = ag_caller_get_current ();
  pending = ag_caller_call_soon (guest, probe_job, &probe, probe_destroy);
  g_assert_true (ag_pending_cancel (pending, "too early"));
  g_assert_true (g_cancellable_is_cancelled (
                   ag_pending_get_cancellable (pending)));
  ag_test_iterate_until_done (context, pending);
  ag_test_drain (context);
  ag_test_assert_state (pending, AG_PENDING_STATE_CANCELLED);
  ag_test_assert_pending_error (pending, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                        "too early");
  g_assert_cmpint (g_atomic_int_get (&probe.ran), ==, 0);
  ag_test_latch_wait (&probe.destroyed, 1);

  /* A caller with its own thread, busy with another job: queued jobs and
   * queue items cancelled meanwhile never run */
  caller = ag_caller_new_thread ("cancel-before-start");
  blocker = ag_caller_call_soon (caller, gate_job, &gate, NULL);
  ag_test_latch_wait (&gate.started, 1);
  queued = ag_caller_call_soon (caller, probe_job, &thread_probe,
                                probe_destroy);
  queued_key = ag_caller_queue_call (caller, "key", probe_job, &thread_probe,
                                     probe_destroy);
  g_assert_true (ag_pending_cancel (queued, "queued"));
  g_assert_true (ag_pending_cancel (queued_key, "queued by key"));
  gate_open (&gate);

  ag_test_wait_done (blocker);
  ag_test_assert_state (blocker, AG_PENDING_STATE_SUCCEEDED);
  ag_test_wait_done (queued);
  ag_test_wait_done (queued_key);
  ag_test_assert_state (queued, AG_PENDING_STATE_CANCELLED);
  ag_test_assert_state (queued_key, AG_PENDING_STATE_CANCELLED);
  ag_test_assert_pending_error (queued, G_IO_ERROR, G_IO_ERROR_CANCELLED, "queued");
  ag_test_latch_wait (&thread_probe.destroyed, 2);

  ag_caller_queue_close (caller, "key");
  stop_and_wait (caller);
  g_assert_cmpint (g_atomic_int_get (&thread_probe.ran), ==, 0);
  g_assert_cmpint (latch_get (&thread_probe.destroyed), ==, 2);

  stop_and_wait (guest);
  ag_test_pop_context (context);
  g_assert_cmpint (latch_get (&probe.destroyed), ==, 1);

  probe_clear (&probe);
  probe_clear (&thread_probe);
  gate_clear (&gate);
  thread_check_end (&check);
}

/* }}} */

/* {{{ /Caller/cancel/own-canceller */

static void
refused_canceller_cb (AgPending  *pending,
                      const char *message,
                      gpointer    user_data)
{
  g_assert_not_reached ();
}

/* A job's pending has its caller's canceller: a second one is refused, and
 * the caller's still skips the job. */
static void
test_cancel_own_canceller (void)
{
  g_autoptr(AgCaller) caller = ag_caller_new_thread ("own-canceller");
  g_autoptr(AgPending) blocker = NULL;
  g_autoptr(AgPending) queued = NULL;
  gint refused_destroyed = 0;
  Probe probe;
  Gate gate;

  probe_init (&probe);
  gate_init (&gate);

  blocker = ag_caller_call_soon (caller, gate_job, &gate, NULL);
  ag_test_latch_wait (&gate.started, 1);
  queued = ag_caller_call_soon (caller, probe_job, &probe, probe_destroy);

  g_test_expect_message (AG_TEST_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                         "*already has a canceller*");
  ag_pending_set_canceller (queued, refused_canceller_cb, &refused_destroyed,
                            ag_test_count);
  g_test_assert_expected_messages ();
  g_assert_cmpint (refused_destroyed, ==, 1);

  g_assert_true (ag_pending_cancel (queued, "skipped"));
  gate_open (&gate);
  ag_test_wait_done (queued);
  ag_test_assert_state (queued, AG_PENDING_STATE_CANCELLED);
  ag_test_assert_pending_error (queued, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                "skipped");
  ag_test_wait_done (blocker);
  ag_test_latch_wait (&probe.destroyed, 1);

  stop_and_wait (caller);
  g_assert_cmpint (g_atomic_int_get (&probe.ran), ==, 0);
  g_assert_cmpint (refused_destroyed, ==, 1);
  probe_clear (&probe);
  gate_clear (&gate);
}

/* }}} */

/* {{{ /Caller/cancel/running */

typedef struct
{
  AgTestLatch started;
  AgTestLatch go;               /* set by the test once it cancelled */
  gboolean    set_outcome;      /* the job sets an int after the request */
  gint        saw_cancelled;    /* (atomic) */
  gint        saw_cancellable;  /* (atomic) */
  gint        saw_done;         /* (atomic) */
} Running;

static void
running_init (Running  *running,
              gboolean  set_outcome)
{
  ag_test_latch_init (&running->started);
  ag_test_latch_init (&running->go);
  running->set_outcome = set_outcome;
  g_atomic_int_set (&running->saw_cancelled, 0);
  g_atomic_int_set (&running->saw_cancellable, 0);
  g_atomic_int_set (&running->saw_done, 0);
}

static void
running_clear (Running *running)
{
  ag_test_latch_clear (&running->started);
  ag_test_latch_clear (&running->go);
}

static AgPending *
running_job (AgPending *pending,
             gpointer   data)
{
  Running *running = data;

  ag_test_latch_add (&running->started, 1);
  ag_test_latch_wait (&running->go, 1);

  if (ag_pending_is_cancelled (pending))
    g_atomic_int_inc (&running->saw_cancelled);
  if (g_cancellable_is_cancelled (ag_pending_get_cancellable (pending)))
    g_atomic_int_inc (&running->saw_cancellable);
  if (ag_pending_is_done (pending))
    g_atomic_int_inc (&running->saw_done);

  if (running->set_outcome)
    ag_pending_set_int (pending, 1);
  return NULL;
}

static void
check_cancel_running (AgCaller *caller,
                      gboolean  set_outcome)
{
  g_autoptr(AgPending) pending = NULL;
  Running running;

  running_init (&running, set_outcome);

  pending = ag_caller_call_soon (caller, running_job, &running, NULL);
  ag_test_latch_wait (&running.started, 1);

  /* A request, not a completion behind the job's back */
  g_assert_true (ag_pending_cancel (pending, "while running"));
  g_assert_false (ag_pending_is_done (pending));
  ag_test_assert_state (pending, AG_PENDING_STATE_CANCELLING);
  ag_test_latch_set (&running.go, 1);

  /* The job saw it, and its pending ends cancelled once it returns */
  ag_test_wait_done (pending);
  ag_test_assert_state (pending, AG_PENDING_STATE_CANCELLED);
  ag_test_assert_pending_error (pending, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                        "while running");
  g_assert_cmpint (g_atomic_int_get (&running.saw_cancelled), ==, 1);
  g_assert_cmpint (g_atomic_int_get (&running.saw_cancellable), ==, 1);
  g_assert_cmpint (g_atomic_int_get (&running.saw_done), ==, 0);

  running_clear (&running);
}

static void
test_cancel_running (void)
{
  ThreadCheck check;
  g_autoptr(AgCaller) caller = NULL;

  thread_check_begin (&check);

  caller = ag_caller_new_thread ("cancel-running");
  /* returning NULL without an outcome, and setting one after the request */
  check_cancel_running (caller, FALSE);
  check_cancel_running (caller, TRUE);

  stop_and_wait (caller);
  thread_check_end (&check);
}

/* }}} */

/* {{{ /Caller/cancel/cross-thread */

typedef struct
{
  AgTestLatch started;
  AgTestLatch cancelled;   /* set by the ::cancelled handler */
  gint        handler_ok;  /* (atomic) */
} Blocked;

static void
blocked_init (Blocked *blocked)
{
  ag_test_latch_init (&blocked->started);
  ag_test_latch_init (&blocked->cancelled);
  g_atomic_int_set (&blocked->handler_ok, 0);
}

static void
blocked_clear (Blocked *blocked)
{
  ag_test_latch_clear (&blocked->started);
  ag_test_latch_clear (&blocked->cancelled);
}

static void
blocked_cancelled_cb (GCancellable *cancellable,
                      gpointer      data)
{
  Blocked *blocked = data;

  ag_test_latch_add (&blocked->cancelled, 1);
}

/* Blocks until its cancellable fires (bounded): the way a job hands its
 * cancellable to a GIO call. */
static AgPending *
blocked_job (AgPending *pending,
             gpointer   data)
{
  Blocked *blocked = data;
  GCancellable *cancellable = ag_pending_get_cancellable (pending);
  gulong id;

  id = g_cancellable_connect (cancellable, G_CALLBACK (blocked_cancelled_cb),
                              blocked, NULL);
  ag_test_latch_add (&blocked->started, 1);
  ag_test_latch_wait (&blocked->cancelled, 1);
  g_atomic_int_inc (&blocked->handler_ok);
  g_cancellable_disconnect (cancellable, id);

  return NULL;
}

static gpointer
cancel_thread_func (gpointer data)
{
  g_assert_true (ag_pending_cancel (data, "from afar"));
  return NULL;
}

typedef struct
{
  AgPending  *pending;
  gint        ran;       /* (atomic) */
  gint        destroyed; /* (atomic) */
  gboolean    cancel_won;
} Raced;

static AgPending *
raced_job (AgPending *pending,
           gpointer   data)
{
  Raced *raced = data;

  g_atomic_int_inc (&raced->ran);
  return NULL;
}

static void
raced_destroy (gpointer data)
{
  Raced *raced = data;

  g_atomic_int_inc (&raced->destroyed);
}

typedef struct
{
  Raced *raced;
  guint  n;
} Canceller;

static gpointer
raced_cancel_thread_func (gpointer data)
{
  Canceller *canceller = data;

  for (guint i = 0; i < canceller->n; i++)
    {
      ag_test_spin (g_test_rand_int_range (0, 50));
      canceller->raced[i].cancel_won =
        ag_pending_cancel (canceller->raced[i].pending, "raced");
    }
  return NULL;
}

static void
test_cancel_cross_thread (void)
{
  ThreadCheck check;
  GMainContext *context;
  AgCaller *guest;
  g_autoptr(AgCaller) caller = NULL;
  g_autoptr(AgPending) queued = NULL;
  g_autoptr(AgPending) blocking = NULL;
  guint n = ag_test_iterations (2000, 20000);
  Raced *raced = g_new0 (Raced, n);
  Canceller canceller;
  Blocked blocked;
  Probe probe;
  GThread *thread;

  thread_check_begin (&check);
  probe_init (&probe);
  blocked_init (&blocked);

  /* A job queued on this thread's guest, cancelled by another thread */
  context = ag_test_push_context ();
  guest = ag_caller_get_current ();
  queued = ag_caller_call_soon (guest, probe_job, &probe, probe_destroy);
  thread = g_thread_new ("canceller", cancel_thread_func, queued);
  g_thread_join (thread);
  ag_test_iterate_until_done (context, queued);
  ag_test_assert_state (queued, AG_PENDING_STATE_CANCELLED);
  g_assert_cmpint (g_atomic_int_get (&probe.ran), ==, 0);

  /* A job running in a caller's thread, cancelled from a third thread:
   * its cancellable fires there */
  caller = ag_caller_new_thread ("cross-thread");
  blocking = ag_caller_call_soon (caller, blocked_job, &blocked, NULL);
  ag_test_latch_wait (&blocked.started, 1);
  thread = g_thread_new ("canceller", cancel_thread_func, blocking);
  g_thread_join (thread);
  ag_test_wait_done (blocking);
  ag_test_assert_state (blocking, AG_PENDING_STATE_CANCELLED);
  ag_test_assert_pending_error (blocking, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                        "from afar");
  g_assert_cmpint (g_atomic_int_get (&blocked.handler_ok), ==, 1);

  /* Cancellation racing the start of jobs: whatever wins, each job runs at
   * most once, a successful request always ends CANCELLED, a job that
   * never ran ends CANCELLED, and each destroy notify runs once */
  for (guint i = 0; i < n; i++)
    raced[i].pending = ag_caller_call_soon (caller, raced_job, &raced[i],
                                            raced_destroy);
  canceller.raced = raced;
  canceller.n = n;
  thread = g_thread_new ("raced-canceller", raced_cancel_thread_func,
                         &canceller);
  g_thread_join (thread);

  for (guint i = 0; i < n; i++)
    {
      AgPendingState state;

      ag_test_wait_done (raced[i].pending);
      state = ag_pending_get_state (raced[i].pending);
      g_assert_cmpint (g_atomic_int_get (&raced[i].ran), <=, 1);
      if (raced[i].cancel_won)
        g_assert_cmpint (state, ==, AG_PENDING_STATE_CANCELLED);
      else
        g_assert_cmpint (state, ==, AG_PENDING_STATE_SUCCEEDED);
      if (g_atomic_int_get (&raced[i].ran) == 0)
        g_assert_cmpint (state, ==, AG_PENDING_STATE_CANCELLED);
    }

  stop_and_wait (caller);
  for (guint i = 0; i < n; i++)
    {
      g_assert_cmpint (g_atomic_int_get (&raced[i].destroyed), ==, 1);
      g_object_unref (raced[i].pending);
    }

  stop_and_wait (guest);
  ag_test_pop_context (context);
  ag_test_latch_wait (&probe.destroyed, 1);

  g_free (raced);
  probe_clear (&probe);
  blocked_clear (&blocked);
  thread_check_end (&check);
}

/* }}} */

/* {{{ /Caller/cancel/followed */

typedef struct
{
  AgCaller  *caller;    /* not owned: where the inner job runs */
  Blocked   *blocked;
  AgPending *inner;     /* owned */
} Chain;

static AgPending *
chain_outer_job (AgPending *pending,
                 gpointer   data)
{
  Chain *chain = data;

  /* await caller.to_thread (blocked_job) */
  chain->inner = ag_caller_to_thread (chain->caller, blocked_job,
                                      chain->blocked, NULL);
  return g_object_ref (chain->inner);
}

static void
test_cancel_followed (void)
{
  ThreadCheck check;
  g_autoptr(AgCaller) caller = NULL;
  g_autoptr(AgPending) pending = NULL;
  g_autoptr(AgPending) followed = NULL;
  g_autoptr(AgPending) fence = NULL;
  g_autoptr(AgPending) outer = NULL;
  g_autofree char *message = NULL;
  Outcome outcome = { NULL, };
  Blocked blocked;
  Chain chain = { NULL, };
  Probe probe;
  GThread *thread;

  thread_check_begin (&check);
  probe_init (&probe);
  blocked_init (&blocked);

  caller = ag_caller_new_thread ("followed");

  /* A job that follows a plain pending: cancelling the job's pending, from
   * another thread, cancels the followed one */
  followed = ag_pending_new ();
  outcome.caller = caller;
  outcome.follow = g_object_ref (followed);
  pending = ag_caller_call_soon (caller, outcome_follow_job, &outcome, NULL);
  fence = ag_caller_call_soon (caller, probe_job, &probe, NULL);
  ag_test_wait_done (fence);
  g_assert_true (outcome.seen == pending);
  g_assert_false (ag_pending_is_done (pending));

  thread = g_thread_new ("canceller", cancel_thread_func, pending);
  g_thread_join (thread);
  g_assert_true (ag_pending_is_cancelled (followed));
  message = ag_pending_dup_cancel_message (followed);
  g_assert_nonnull (message);
  g_assert_nonnull (strstr (message, "from afar"));

  /* The followed pending's outcome, once set, ends the job's: cancelled */
  ag_pending_set_int (followed, 3);
  ag_test_wait_done (pending);
  ag_test_assert_state (pending, AG_PENDING_STATE_CANCELLED);

  /* A chain: a job that awaits a worker's job. Cancelling the outer one
   * reaches the inner job, which ends, and so does the outer one */
  chain.caller = caller;
  chain.blocked = &blocked;
  outer = ag_caller_call_soon (caller, chain_outer_job, &chain, NULL);
  ag_test_latch_wait (&blocked.started, 1);
  g_assert_true (ag_pending_cancel (outer, "chain"));
  ag_test_wait_done (outer);
  ag_test_assert_state (outer, AG_PENDING_STATE_CANCELLED);
  g_assert_true (AG_IS_PENDING (chain.inner));
  g_assert_true (ag_pending_is_cancelled (chain.inner));
  ag_test_wait_done (chain.inner);
  ag_test_assert_state (chain.inner, AG_PENDING_STATE_CANCELLED);
  g_assert_cmpint (g_atomic_int_get (&blocked.handler_ok), ==, 1);

  stop_and_wait (caller);

  g_clear_object (&chain.inner);
  probe_clear (&probe);
  blocked_clear (&blocked);
  thread_check_end (&check);
}

/* }}} */

/* {{{ /Caller/done-callback-on */

typedef struct
{
  AgCaller  *caller;        /* not owned */
  AgPending *pending;       /* not owned */
  gint       called;        /* (atomic) */
  gint       right_thread;  /* (atomic) */
  gint       destroyed;     /* (atomic) */
  AgTestLatch latch;        /* counts the calls, for other threads */
} DoneOn;

static void
done_on_init (DoneOn    *done_on,
              AgCaller  *caller,
              AgPending *pending)
{
  done_on->caller = caller;
  done_on->pending = pending;
  g_atomic_int_set (&done_on->called, 0);
  g_atomic_int_set (&done_on->right_thread, 0);
  g_atomic_int_set (&done_on->destroyed, 0);
  ag_test_latch_init (&done_on->latch);
}

static void
done_on_cb (AgPending *pending,
            gpointer   data)
{
  DoneOn *done_on = data;
  GMainContext *context = ag_caller_get_context (done_on->caller);

  if (pending == done_on->pending &&
      ag_caller_get_current () == done_on->caller &&
      g_main_context_is_owner (context))
    g_atomic_int_inc (&done_on->right_thread);
  g_atomic_int_inc (&done_on->called);
  ag_test_latch_add (&done_on->latch, 1);
}

static void
done_on_destroy (gpointer data)
{
  DoneOn *done_on = data;

  g_atomic_int_inc (&done_on->destroyed);
}

static void
test_done_callback_on (void)
{
  ThreadCheck check;
  GMainContext *context;
  AgCaller *current;
  g_autoptr(AgCaller) caller = NULL;
  g_autoptr(AgPending) done = NULL;
  g_autoptr(AgPending) later = NULL;
  g_autoptr(AgPending) remote = NULL;
  DoneOn done_on;
  DoneOn later_on;
  DoneOn remote_on;
  GThread *thread;

  thread_check_begin (&check);

  context = ag_test_push_context ();
  current = ag_caller_get_current ();

  /* Already done, on this thread's own caller: never inline */
  done = ag_pending_new ();
  ag_pending_set_int (done, 1);
  done_on_init (&done_on, current, done);
  ag_pending_add_done_callback_on (done, current, done_on_cb, &done_on,
                                   done_on_destroy);
  g_assert_cmpint (g_atomic_int_get (&done_on.called), ==, 0);
  ag_test_drain (g_main_context_default ());
  g_assert_cmpint (g_atomic_int_get (&done_on.called), ==, 0);
  ag_test_iterate_until_strict (context, &done_on.called, 1);
  ag_test_drain (context);
  g_assert_cmpint (g_atomic_int_get (&done_on.called), ==, 1);
  g_assert_cmpint (g_atomic_int_get (&done_on.right_thread), ==, 1);
  g_assert_cmpint (g_atomic_int_get (&done_on.destroyed), ==, 1);

  /* Completed by another thread: delivered here, when the host iterates */
  later = ag_pending_new ();
  done_on_init (&later_on, current, later);
  ag_pending_add_done_callback_on (later, current, done_on_cb, &later_on,
                                   done_on_destroy);
  thread = g_thread_new ("completer", set_int_thread_func, later);
  g_thread_join (thread);
  g_assert_true (ag_pending_is_done (later));
  g_assert_cmpint (g_atomic_int_get (&later_on.called), ==, 0);
  ag_test_iterate_until_strict (context, &later_on.called, 1);
  ag_test_drain (context);
  g_assert_cmpint (g_atomic_int_get (&later_on.called), ==, 1);
  g_assert_cmpint (g_atomic_int_get (&later_on.right_thread), ==, 1);
  g_assert_cmpint (g_atomic_int_get (&later_on.destroyed), ==, 1);

  /* On a caller with its own thread, completed here */
  caller = ag_caller_new_thread ("done-on");
  remote = ag_pending_new ();
  done_on_init (&remote_on, caller, remote);
  ag_pending_add_done_callback_on (remote, caller, done_on_cb, &remote_on,
                                   done_on_destroy);
  ag_pending_set_int (remote, 2);
  ag_test_latch_wait (&remote_on.latch, 1);
  g_assert_cmpint (g_atomic_int_get (&remote_on.right_thread), ==, 1);

  stop_and_wait (caller);
  g_assert_cmpint (g_atomic_int_get (&remote_on.called), ==, 1);
  g_assert_cmpint (g_atomic_int_get (&remote_on.destroyed), ==, 1);

  stop_and_wait (current);
  ag_test_pop_context (context);

  ag_test_latch_clear (&done_on.latch);
  ag_test_latch_clear (&later_on.latch);
  ag_test_latch_clear (&remote_on.latch);
  thread_check_end (&check);
}

/* }}} */

/* {{{ /Caller/to-thread/basic */

typedef struct
{
  AgCaller   *worker;        /* owned: the current caller of the job */
  AgCaller   *parent;        /* owned: the worker's parent, seen in the job */
  gboolean    other_thread;
  gboolean    pending_ok;
  GThread    *test_thread;
} Worker;

static AgPending *
worker_job (AgPending *pending,
            gpointer   data)
{
  Worker *worker = data;

  worker->worker = g_object_ref (ag_caller_get_current ());
  worker->parent = ag_caller_dup_parent (worker->worker);
  worker->other_thread = g_thread_self () != worker->test_thread;
  worker->pending_ok = ag_caller_get_current_pending () == pending;
  ag_pending_set_int (pending, 99);
  return NULL;
}

static void
worker_clear (Worker *worker)
{
  g_clear_object (&worker->worker);
  g_clear_object (&worker->parent);
}

static void
test_to_thread_basic (void)
{
  ThreadCheck check;
  GMainContext *context;
  AgCaller *parent;
  g_autoptr(AgPending) pending = NULL;
  g_autoptr(GPtrArray) children = NULL;
  g_autoptr(GError) error = NULL;
  Worker worker = { NULL, };

  thread_check_begin (&check);

  context = ag_test_push_context ();
  parent = ag_caller_get_current ();
  worker.test_thread = g_thread_self ();

  /* The main thread hands work to a worker thread and waits for it */
  pending = ag_caller_to_thread (parent, worker_job, &worker, NULL);
  g_assert_true (ag_pending_wait_sync (pending, AG_TEST_TIMEOUT_S, &error));
  g_assert_no_error (error);
  g_assert_cmpint (ag_pending_get_int (pending, &error), ==, 99);
  g_assert_no_error (error);

  /* A worker: a child caller of the parent, with its own thread */
  g_assert_true (worker.other_thread);
  g_assert_true (worker.pending_ok);
  g_assert_true (AG_IS_CALLER (worker.worker));
  g_assert_true (worker.worker != parent);
  g_assert_true (worker.parent == parent);
  g_assert_true (ag_caller_is_running (worker.worker));
  children = ag_caller_dup_children (parent);
  g_assert_true (array_contains (children, worker.worker));

  /* Stopped with its parent */
  stop_and_wait (parent);
  wait_stopped (worker.worker);

  worker_clear (&worker);
  ag_test_pop_context (context);
  thread_check_end (&check);
}

/* }}} */

/* {{{ /Caller/to-thread/reuse */

typedef struct
{
  AgCaller   *parent;       /* not owned */
  AgTestLatch go;
  AgCaller   *first;        /* owned */
  AgCaller   *second;       /* owned */
  AgPending  *second_job;   /* owned; made in a done callback */
  AgTestLatch second_made;
} Reuse;

static AgPending *
reuse_first_job (AgPending *pending,
                 gpointer   data)
{
  Reuse *reuse = data;

  reuse->first = g_object_ref (ag_caller_get_current ());
  ag_test_latch_wait (&reuse->go, 1);
  return NULL;
}

static AgPending *
reuse_second_job (AgPending *pending,
                  gpointer   data)
{
  Reuse *reuse = data;

  reuse->second = g_object_ref (ag_caller_get_current ());
  return NULL;
}

/* A done callback of the first job: runs as its pending completes */
static void
reuse_done_cb (AgPending *pending,
               gpointer   data)
{
  Reuse *reuse = data;

  reuse->second_job = ag_caller_to_thread (reuse->parent, reuse_second_job,
                                           reuse, NULL);
  ag_test_latch_add (&reuse->second_made, 1);
}

static void
test_to_thread_reuse (void)
{
  ThreadCheck check;
  GMainContext *context;
  AgCaller *parent;
  g_autoptr(AgPending) first = NULL;
  g_autoptr(AgPending) third = NULL;
  Worker worker = { NULL, };
  Reuse reuse = { NULL, };

  thread_check_begin (&check);
  ag_test_latch_init (&reuse.go);
  ag_test_latch_init (&reuse.second_made);

  context = ag_test_push_context ();
  parent = ag_caller_get_current ();
  reuse.parent = parent;

  /* The worker is back in the pool before the done callbacks of its job's
   * pending run: a to_thread() from one of them gets the same worker */
  first = ag_caller_to_thread (parent, reuse_first_job, &reuse, NULL);
  ag_pending_add_done_callback (first, reuse_done_cb, &reuse, NULL);
  ag_test_latch_set (&reuse.go, 1);
  ag_test_latch_wait (&reuse.second_made, 1);
  ag_test_wait_done (first);
  ag_test_wait_done (reuse.second_job);
  ag_test_assert_state (reuse.second_job, AG_PENDING_STATE_SUCCEEDED);
  g_assert_true (AG_IS_CALLER (reuse.first));
  g_assert_true (reuse.second == reuse.first);

  /* Later work reuses the idle worker too */
  worker.test_thread = g_thread_self ();
  third = ag_caller_to_thread (parent, worker_job, &worker, NULL);
  ag_test_wait_done (third);
  ag_test_assert_state (third, AG_PENDING_STATE_SUCCEEDED);
  g_assert_true (worker.worker == reuse.first);
  g_assert_cmpuint (n_children (parent), ==, 1);

  stop_and_wait (parent);
  wait_stopped (reuse.first);

  worker_clear (&worker);
  g_clear_object (&reuse.first);
  g_clear_object (&reuse.second);
  g_clear_object (&reuse.second_job);
  ag_test_latch_clear (&reuse.go);
  ag_test_latch_clear (&reuse.second_made);
  ag_test_pop_context (context);
  thread_check_end (&check);
}

/* }}} */

/* {{{ /Caller/to-thread/idle-reaping */

static void
test_to_thread_idle_reaping (void)
{
  ThreadCheck check;
  GMainContext *context;
  AgCaller *parent;
  g_autoptr(AgCaller) keeper = NULL;
  g_autoptr(AgPending) pending = NULL;
  g_autoptr(AgPending) kept = NULL;
  g_autoptr(AgPending) timer = NULL;
  g_autoptr(AgPending) again = NULL;
  Worker worker = { NULL, };
  Worker kept_worker = { NULL, };
  Worker again_worker = { NULL, };
  Probe probe;

  thread_check_begin (&check);
  probe_init (&probe);

  context = ag_test_push_context ();
  parent = ag_caller_get_current ();
  g_object_set (parent, "idle-worker-timeout", 0.05, NULL);
  worker.test_thread = g_thread_self ();

  /* An idle worker stops after idle-worker-timeout seconds */
  pending = ag_caller_to_thread (parent, worker_job, &worker, NULL);
  ag_test_wait_done (pending);
  g_assert_true (AG_IS_CALLER (worker.worker));
  wait_reaped (context, parent, worker.worker);

  /* and the pool makes a new one when needed */
  again_worker.test_thread = g_thread_self ();
  again = ag_caller_to_thread (parent, worker_job, &again_worker, NULL);
  ag_test_wait_done (again);
  ag_test_assert_state (again, AG_PENDING_STATE_SUCCEEDED);
  g_assert_true (again_worker.worker != worker.worker);

  /* 0 keeps idle workers: this one is still there long after the 0.05 s
   * that reaped the first */
  keeper = ag_caller_new_guest (context, "keeper");
  g_object_set (keeper, "idle-worker-timeout", 0.0, NULL);
  kept_worker.test_thread = g_thread_self ();
  kept = ag_caller_to_thread (keeper, worker_job, &kept_worker, NULL);
  ag_test_wait_done (kept);
  timer = ag_caller_call_later (keeper, 0.3, probe_job, &probe, NULL);
  ag_test_iterate_until_done (context, timer);
  g_assert_true (ag_caller_is_running (kept_worker.worker));
  g_assert_false (ag_pending_is_done (ag_caller_get_stopped (
                    kept_worker.worker)));
  g_assert_cmpuint (n_children (keeper), ==, 1);

  stop_and_wait (keeper);
  wait_stopped (kept_worker.worker);
  stop_and_wait (parent);
  wait_stopped (again_worker.worker);

  worker_clear (&worker);
  worker_clear (&kept_worker);
  worker_clear (&again_worker);
  probe_clear (&probe);
  ag_test_pop_context (context);
  thread_check_end (&check);
}

/* }}} */

/* {{{ /Caller/to-thread/idle-reaping/returned-elsewhere */

typedef struct
{
  AgCaller    *worker;    /* owned */
  AgTestLatch  returned;  /* 1 once @worker is set */
} LaterWorker;

static AgPending *
later_worker_job (AgPending *pending,
                  gpointer   data)
{
  LaterWorker *later = data;

  later->worker = g_object_ref (ag_caller_get_current ());
  ag_test_latch_set (&later->returned, 1);
  return g_object_ref (pending);  /* set later, by the test's thread */
}

/* A worker whose pool job ends in another thread (its pending set there,
 * long after the job returned) goes idle there, while its loop sleeps: it
 * is still stopped after idle-worker-timeout. */
static void
test_to_thread_idle_reaping_returned_elsewhere (void)
{
  ThreadCheck check;
  GMainContext *context;
  AgCaller *parent;
  g_autoptr(AgPending) pending = NULL;
  g_autoptr(AgPending) probed = NULL;
  LaterWorker later = { NULL, };
  AgCaller *worker;
  Probe probe;

  thread_check_begin (&check);
  probe_init (&probe);
  ag_test_latch_init (&later.returned);

  context = ag_test_push_context ();
  parent = ag_caller_get_current ();
  g_object_set (parent, "idle-worker-timeout", 0.05, NULL);

  pending = ag_caller_to_thread (parent, later_worker_job, &later, NULL);
  ag_test_latch_wait (&later.returned, 1);
  worker = later.worker;

  /* The job returned and its worker's loop went on (to sleep, with no
   * timeout: it holds its pool job) */
  probed = ag_caller_call_soon (worker, probe_job, &probe, NULL);
  ag_test_wait_done (probed);
  g_assert_cmpint (g_atomic_int_get (&probe.ran), ==, 1);
  g_assert_true (ag_caller_is_running (worker));
  g_assert_cmpuint (n_children (parent), ==, 1);

  ag_pending_set_int (pending, 7);
  wait_reaped (context, parent, worker);
  ag_test_assert_state (pending, AG_PENDING_STATE_SUCCEEDED);

  stop_and_wait (parent);
  g_clear_object (&later.worker);
  ag_test_latch_clear (&later.returned);
  probe_clear (&probe);
  ag_test_pop_context (context);
  thread_check_end (&check);
}

/* }}} */

/* {{{ /Caller/to-thread/idle-reaping/timeout-set-later */

/* A worker made while idle workers were kept for ever stops after the
 * idle-worker-timeout set later, once it went idle again. */
static void
test_to_thread_idle_reaping_timeout_set_later (void)
{
  ThreadCheck check;
  GMainContext *context;
  AgCaller *parent;
  g_autoptr(AgPending) first = NULL;
  g_autoptr(AgPending) second = NULL;
  Worker worker = { NULL, };
  Worker again = { NULL, };

  thread_check_begin (&check);

  context = ag_test_push_context ();
  parent = ag_caller_get_current ();
  g_object_set (parent, "idle-worker-timeout", 0.0, NULL);

  worker.test_thread = g_thread_self ();
  first = ag_caller_to_thread (parent, worker_job, &worker, NULL);
  ag_test_wait_done (first);
  ag_test_assert_state (first, AG_PENDING_STATE_SUCCEEDED);

  /* The reaper saw the worker, with no timeout, and sleeps (bounded) */
  wait_reaper_sleeps ();

  g_object_set (parent, "idle-worker-timeout", 0.05, NULL);

  /* the same worker, idle again with the new timeout */
  again.test_thread = g_thread_self ();
  second = ag_caller_to_thread (parent, worker_job, &again, NULL);
  ag_test_wait_done (second);
  g_assert_true (again.worker == worker.worker);

  wait_reaped (context, parent, worker.worker);

  stop_and_wait (parent);
  worker_clear (&worker);
  worker_clear (&again);
  ag_test_pop_context (context);
  thread_check_end (&check);
}

/* }}} */

/* {{{ /Caller/to-thread/idle-reaping/busy-worker */

/* A worker with a 1 ms idle-worker-timeout that is busy does not make the
 * reaper look at it every millisecond: the reaper sleeps until a worker
 * goes idle, then stops this one once it did. */
static void
test_to_thread_idle_reaping_busy_worker (void)
{
  ThreadCheck check;
  GMainContext *context;
  AgCaller *parent;
  g_autoptr(AgPending) pending = NULL;
  g_autoptr(AgPending) timer = NULL;
  g_autoptr(AgCaller) worker = NULL;
  Gate gate;
  guint looks;
  gint fired = 0;

  thread_check_begin (&check);
  gate_init (&gate);

  context = ag_test_push_context ();
  parent = ag_caller_get_current ();
  g_object_set (parent, "idle-worker-timeout", 0.001, NULL);

  pending = ag_caller_to_thread (parent, gate_job, &gate, NULL);
  ag_test_latch_wait (&gate.started, 1);

  /* The reaper saw no idle worker, and sleeps (bounded) */
  wait_reaper_sleeps ();

  /* and stays asleep for 50 times the timeout while the worker works */
  looks = ag_caller_reaper_get_looks ();
  timer = ag_caller_call_later (parent, 0.05, ag_test_count_job, &fired,
                                NULL);
  ag_test_iterate_until_done (context, timer);
  g_assert_cmpint (g_atomic_int_get (&fired), ==, 1);
  g_assert_cmpuint (ag_caller_reaper_get_looks (), ==, looks);
  g_assert_cmpuint (n_children (parent), ==, 1);

  /* idle: stopped */
  {
    g_autoptr(GPtrArray) children = ag_caller_dup_children (parent);

    worker = g_object_ref (g_ptr_array_index (children, 0));
  }
  gate_open (&gate);
  ag_test_wait_done (pending);
  wait_reaped (context, parent, worker);

  stop_and_wait (parent);
  gate_clear (&gate);
  ag_test_pop_context (context);
  thread_check_end (&check);
}

/* }}} */

/* {{{ /Caller/to-thread/idle-reaping/not-before */

static AgPending *
stamp_job (AgPending *pending,
           gpointer   data)
{
  AgCaller **worker = data;

  *worker = g_object_ref (ag_caller_get_current ());
  ag_pending_set_int (pending, g_get_monotonic_time ());
  return NULL;
}

/* A worker stops no sooner than idle-worker-timeout after it went idle
 * (after its job returned), whenever the reaper looks. */
static void
test_to_thread_idle_reaping_not_before (void)
{
  ThreadCheck check;
  GMainContext *context;
  AgCaller *parent;
  const gint64 timeout = 2 * G_TIME_SPAN_MILLISECOND;

  thread_check_begin (&check);

  context = ag_test_push_context ();
  parent = ag_caller_get_current ();
  g_object_set (parent, "idle-worker-timeout",
                (double) timeout / G_USEC_PER_SEC, NULL);

  for (guint i = 0; i < 20; i++)
    {
      g_autoptr(AgPending) pending = NULL;
      g_autoptr(AgCaller) worker = NULL;
      gint64 returned;
      gint64 stopped;

      pending = ag_caller_to_thread (parent, stamp_job, &worker, NULL);
      ag_test_wait_done (pending);
      returned = ag_pending_get_int (pending, NULL);
      ag_test_iterate_until_done (context, ag_caller_get_stopped (worker));
      stopped = g_get_monotonic_time ();
      wait_stopped (worker);
      g_assert_cmpint (stopped - returned, >=, timeout);
    }

  stop_and_wait (parent);
  ag_test_pop_context (context);
  thread_check_end (&check);
}

/* }}} */

/* {{{ /Caller/to-thread/max-idle-workers */

#define N_POOL_JOBS 5

typedef struct
{
  Gate       gate;
  gint       next;                   /* (atomic) */
  AgCaller  *workers[N_POOL_JOBS];   /* owned */
} Pool;

static AgPending *
pool_job (AgPending *pending,
          gpointer   data)
{
  Pool *pool = data;
  gint slot = g_atomic_int_add (&pool->next, 1);

  pool->workers[slot] = g_object_ref (ag_caller_get_current ());
  return gate_job (pending, &pool->gate);
}

static void
count_stopped_cb (AgPending *pending,
                  gpointer   data)
{
  ag_test_latch_add (data, 1);
}

static void
test_to_thread_max_idle_workers (void)
{
  ThreadCheck check;
  GMainContext *context;
  g_autoptr(AgCaller) parent = NULL;
  g_autoptr(GPtrArray) children = NULL;
  g_autoptr(AgPending) extra = NULL;
  AgPending *pendings[N_POOL_JOBS];
  AgTestLatch stopped;
  Worker extra_worker = { NULL, };
  Pool pool;
  guint n_stopped = 0;

  thread_check_begin (&check);
  memset (&pool, 0, sizeof pool);
  gate_init (&pool.gate);
  ag_test_latch_init (&stopped);

  context = ag_test_push_context ();
  parent = ag_caller_new_guest (context, "pool");
  g_object_set (parent, "max-idle-workers", 2, NULL);

  /* Five jobs at once: five workers */
  for (guint i = 0; i < N_POOL_JOBS; i++)
    pendings[i] = ag_caller_to_thread (parent, pool_job, &pool, NULL);
  ag_test_latch_wait (&pool.gate.started, N_POOL_JOBS);
  for (guint i = 0; i < N_POOL_JOBS; i++)
    for (guint j = i + 1; j < N_POOL_JOBS; j++)
      g_assert_true (pool.workers[i] != pool.workers[j]);
  g_assert_cmpuint (n_children (parent), ==, N_POOL_JOBS);

  for (guint i = 0; i < N_POOL_JOBS; i++)
    ag_pending_add_done_callback (ag_caller_get_stopped (pool.workers[i]),
                                  count_stopped_cb, &stopped, NULL);

  gate_open (&pool.gate);
  for (guint i = 0; i < N_POOL_JOBS; i++)
    {
      ag_test_wait_done (pendings[i]);
      ag_test_assert_state (pendings[i], AG_PENDING_STATE_SUCCEEDED);
    }

  /* At most two stay idle: the other three stop */
  ag_test_latch_wait (&stopped, N_POOL_JOBS - 2);
  for (guint i = 0; i < N_POOL_JOBS; i++)
    if (ag_pending_is_done (ag_caller_get_stopped (pool.workers[i])))
      n_stopped++;
  g_assert_cmpuint (n_stopped, ==, N_POOL_JOBS - 2);

  children = ag_caller_dup_children (parent);
  g_assert_cmpuint (children->len, ==, 2);
  for (guint i = 0; i < children->len; i++)
    {
      AgCaller *child = g_ptr_array_index (children, i);
      gboolean found = FALSE;

      g_assert_true (ag_caller_is_running (child));
      for (guint j = 0; j < N_POOL_JOBS; j++)
        found |= child == pool.workers[j];
      g_assert_true (found);
    }

  /* New work goes to one of them */
  extra_worker.test_thread = g_thread_self ();
  extra = ag_caller_to_thread (parent, worker_job, &extra_worker, NULL);
  ag_test_wait_done (extra);
  g_assert_true (array_contains (children, extra_worker.worker));

  stop_and_wait (parent);
  for (guint i = 0; i < N_POOL_JOBS; i++)
    {
      wait_stopped (pool.workers[i]);
      g_object_unref (pool.workers[i]);
      g_object_unref (pendings[i]);
    }
  g_assert_cmpint (latch_get (&stopped), ==, N_POOL_JOBS);

  worker_clear (&extra_worker);
  gate_clear (&pool.gate);
  ag_test_latch_clear (&stopped);
  ag_test_pop_context (context);
  thread_check_end (&check);
}

/* }}} */

/* {{{ /Caller/to-thread/pool: the pool's own queue */

/* A job of the pool tests: it says where and in which rank it started,
 * and a blocker holds its worker until the test releases it. */
typedef struct
{
  gint        *next_rank;      /* (atomic) shared by the jobs of a test */
  gboolean     blocks;         /* immutable: waits for @release */
  AgTestLatch  started;        /* 1 once it started */
  AgTestLatch  release;        /* the test sets it to 1: a blocker returns */
  AgTestLatch  destroyed;      /* counts the destroy notifies */
  gint         ran;            /* (atomic) */
  gint         saw_cancelled;  /* (atomic) its pending was cancelled when
                                * it returned */
  /* written by the job before @started, read after it (or once the job's
   * pending is done) */
  gint         rank;           /* from 1, in the order the jobs started */
  GThread     *thread;
  AgCaller    *worker;         /* owned: the current caller of the job */
} PoolJob;

static void
pool_job_init (PoolJob  *job,
               gint     *next_rank,
               gboolean  blocks)
{
  memset (job, 0, sizeof *job);
  job->next_rank = next_rank;
  job->blocks = blocks;
  ag_test_latch_init (&job->started);
  ag_test_latch_init (&job->release);
  ag_test_latch_init (&job->destroyed);
}

static void
pool_job_clear (PoolJob *job)
{
  g_clear_object (&job->worker);
  ag_test_latch_clear (&job->started);
  ag_test_latch_clear (&job->release);
  ag_test_latch_clear (&job->destroyed);
}

/* Holds a blocker until the test releases it: bounded by twice the test
 * timeout, so that a test waiting for a job that should run meanwhile fails
 * first, and says so. */
static void
pool_job_block (PoolJob *job)
{
  gint64 deadline = g_get_monotonic_time ()
                    + 2 * (gint64) AG_TEST_TIMEOUT_MSEC
                      * G_TIME_SPAN_MILLISECOND;

  ag_mutex_lock (&job->release.mutex);
  while (job->release.value < 1)
    if (!ag_cond_wait_until (&job->release.cond, &job->release.mutex,
                             deadline) &&
        job->release.value < 1)
      g_error ("a blocking pool job was never released");
  ag_mutex_unlock (&job->release.mutex);
}

static AgPending *
pool_job_run (AgPending *pending,
              gpointer   data)
{
  PoolJob *job = data;

  job->rank = g_atomic_int_add (job->next_rank, 1) + 1;
  job->thread = g_thread_self ();
  job->worker = g_object_ref (ag_caller_get_current ());
  g_atomic_int_inc (&job->ran);
  ag_test_latch_set (&job->started, 1);

  if (job->blocks)
    pool_job_block (job);
  if (ag_pending_is_cancelled (pending))
    g_atomic_int_inc (&job->saw_cancelled);

  ag_pending_set_int (pending, job->rank);
  return NULL;
}

static void
pool_job_destroy (gpointer data)
{
  PoolJob *job = data;

  ag_test_latch_add (&job->destroyed, 1);
}

static AgPending *
pool_job_submit (AgCaller *caller,
                 PoolJob  *job)
{
  return ag_caller_to_thread (caller, pool_job_run, job, pool_job_destroy);
}

/* Makes @n jobs in @jobs (blockers if @blocks) and submits each one to
 * @caller as soon as it is made, in order; their pendings go to
 * @pendings. */
static void
pool_jobs_submit (AgCaller   *caller,
                  PoolJob    *jobs,
                  AgPending **pendings,
                  guint       n,
                  gint       *next_rank,
                  gboolean    blocks)
{
  for (guint i = 0; i < n; i++)
    {
      pool_job_init (&jobs[i], next_rank, blocks);
      pendings[i] = pool_job_submit (caller, &jobs[i]);
    }
}

/* @job has not started (and so not run) yet. */
static void
pool_job_assert_waiting (PoolJob   *job,
                         AgPending *pending)
{
  g_assert_cmpint (g_atomic_int_get (&job->ran), ==, 0);
  g_assert_cmpint (latch_get (&job->started), ==, 0);
  g_assert_false (ag_pending_is_done (pending));
  ag_test_assert_state (pending, AG_PENDING_STATE_RUNNING);
}

/* @job ran exactly once, in a worker, and succeeded with its rank. */
static void
pool_job_assert_ran (PoolJob   *job,
                     AgPending *pending)
{
  g_autoptr(GError) error = NULL;

  ag_test_wait_done (pending);
  ag_test_assert_state (pending, AG_PENDING_STATE_SUCCEEDED);
  g_assert_cmpint (ag_pending_get_int (pending, &error), ==, job->rank);
  g_assert_no_error (error);
  g_assert_cmpint (g_atomic_int_get (&job->ran), ==, 1);
  g_assert_true (job->thread != g_thread_self ());
  g_assert_true (AG_IS_CALLER (job->worker));
}

/* @job never ran, and its pending ended cancelled. */
static void
pool_job_assert_never_ran (PoolJob   *job,
                           AgPending *pending)
{
  g_assert_true (ag_pending_is_done (pending));
  ag_test_assert_state (pending, AG_PENDING_STATE_CANCELLED);
  g_assert_cmpint (g_atomic_int_get (&job->ran), ==, 0);
  g_assert_cmpint (latch_get (&job->started), ==, 0);
}

/* The destroy notify of @job ran (bounded wait), exactly once. */
static void
pool_job_assert_destroyed (PoolJob *job)
{
  ag_test_latch_wait (&job->destroyed, 1);
  g_assert_cmpint (latch_get (&job->destroyed), ==, 1);
}

#define N_WAITING 4

static void
test_to_thread_pool_first_free_worker (void)
{
  ThreadCheck check;
  GMainContext *context;
  AgCaller *parent;
  AgPending *blocked[2];
  AgPending *queued[N_WAITING];
  PoolJob blockers[2];
  PoolJob waiting[N_WAITING];
  gint next_rank = 0;

  thread_check_begin (&check);

  context = ag_test_push_context ();
  parent = ag_caller_get_current ();
  ag_caller_set_max_workers (parent, 2);
  g_assert_cmpuint (ag_caller_get_max_workers (parent), ==, 2);

  /* Two jobs that block hold the two workers */
  pool_jobs_submit (parent, blockers, blocked, 2, &next_rank, TRUE);
  for (guint i = 0; i < 2; i++)
    ag_test_latch_wait (&blockers[i].started, 1);
  g_assert_true (blockers[0].thread != blockers[1].thread);
  g_assert_true (blockers[0].worker != blockers[1].worker);
  g_assert_cmpuint (n_children (parent), ==, 2);

  /* With max-workers busy, more jobs wait in the pool's queue: they do not
   * start, and no third worker is made */
  pool_jobs_submit (parent, waiting, queued, N_WAITING, &next_rank, FALSE);
  g_assert_cmpuint (n_children (parent), ==, 2);
  for (guint i = 0; i < N_WAITING; i++)
    pool_job_assert_waiting (&waiting[i], queued[i]);
  g_assert_false (ag_pending_is_done (blocked[0]));
  g_assert_false (ag_pending_is_done (blocked[1]));

  /* The second blocker returns: its worker takes the waiting jobs, in the
   * order they came, while the first blocker still holds the other worker
   * (a job never waits behind a blocked one while a worker is free) */
  ag_test_latch_set (&blockers[1].release, 1);
  pool_job_assert_ran (&blockers[1], blocked[1]);
  for (guint i = 0; i < N_WAITING; i++)
    {
      pool_job_assert_ran (&waiting[i], queued[i]);
      g_assert_cmpint (waiting[i].rank, ==, 3 + (gint) i);
      g_assert_true (waiting[i].thread == blockers[1].thread);
      g_assert_true (waiting[i].worker == blockers[1].worker);
    }
  g_assert_false (ag_pending_is_done (blocked[0]));
  g_assert_cmpint (g_atomic_int_get (&blockers[0].ran), ==, 1);
  g_assert_cmpuint (n_children (parent), ==, 2);

  ag_test_latch_set (&blockers[0].release, 1);
  pool_job_assert_ran (&blockers[0], blocked[0]);
  g_assert_cmpuint (n_children (parent), ==, 2);

  for (guint i = 0; i < 2; i++)
    pool_job_assert_destroyed (&blockers[i]);
  for (guint i = 0; i < N_WAITING; i++)
    pool_job_assert_destroyed (&waiting[i]);

  stop_and_wait (parent);
  for (guint i = 0; i < 2; i++)
    {
      wait_stopped (blockers[i].worker);
      g_assert_cmpint (g_atomic_int_get (&blockers[i].saw_cancelled), ==, 0);
      g_object_unref (blocked[i]);
      pool_job_clear (&blockers[i]);
    }
  for (guint i = 0; i < N_WAITING; i++)
    {
      g_object_unref (queued[i]);
      pool_job_clear (&waiting[i]);
    }
  ag_test_pop_context (context);
  thread_check_end (&check);
}

static void
test_to_thread_pool_raise_max_workers (void)
{
  ThreadCheck check;
  GMainContext *context;
  AgCaller *parent;
  g_autoptr(AgPending) blocked = NULL;
  g_autoptr(AgPending) queued = NULL;
  PoolJob blocker;
  PoolJob waiting;
  gint next_rank = 0;

  thread_check_begin (&check);
  pool_job_init (&blocker, &next_rank, TRUE);
  pool_job_init (&waiting, &next_rank, FALSE);

  context = ag_test_push_context ();
  parent = ag_caller_get_current ();
  ag_caller_set_max_workers (parent, 1);

  /* One worker, busy: the next job waits */
  blocked = pool_job_submit (parent, &blocker);
  ag_test_latch_wait (&blocker.started, 1);
  queued = pool_job_submit (parent, &waiting);
  g_assert_cmpuint (n_children (parent), ==, 1);
  pool_job_assert_waiting (&waiting, queued);

  /* Room for one more: a new worker takes it at once, while the blocker
   * still blocks */
  ag_caller_set_max_workers (parent, 2);
  g_assert_cmpuint (ag_caller_get_max_workers (parent), ==, 2);
  pool_job_assert_ran (&waiting, queued);
  g_assert_false (ag_pending_is_done (blocked));
  g_assert_true (waiting.thread != blocker.thread);
  g_assert_true (waiting.worker != blocker.worker);
  g_assert_cmpuint (n_children (parent), ==, 2);

  ag_test_latch_set (&blocker.release, 1);
  pool_job_assert_ran (&blocker, blocked);
  pool_job_assert_destroyed (&blocker);
  pool_job_assert_destroyed (&waiting);

  stop_and_wait (parent);
  wait_stopped (blocker.worker);
  wait_stopped (waiting.worker);

  pool_job_clear (&blocker);
  pool_job_clear (&waiting);
  ag_test_pop_context (context);
  thread_check_end (&check);
}

static void
test_to_thread_pool_cancel_waiting (void)
{
  ThreadCheck check;
  GMainContext *context;
  AgCaller *parent;
  g_autoptr(AgPending) blocked = NULL;
  g_autoptr(AgPending) cancelled = NULL;
  g_autoptr(AgPending) queued = NULL;
  PoolJob blocker;
  PoolJob dropped;
  PoolJob waiting;
  gint next_rank = 0;

  thread_check_begin (&check);
  pool_job_init (&blocker, &next_rank, TRUE);
  pool_job_init (&dropped, &next_rank, FALSE);
  pool_job_init (&waiting, &next_rank, FALSE);

  context = ag_test_push_context ();
  parent = ag_caller_get_current ();
  ag_caller_set_max_workers (parent, 1);

  blocked = pool_job_submit (parent, &blocker);
  ag_test_latch_wait (&blocker.started, 1);
  cancelled = pool_job_submit (parent, &dropped);
  queued = pool_job_submit (parent, &waiting);
  pool_job_assert_waiting (&dropped, cancelled);
  pool_job_assert_waiting (&waiting, queued);

  /* A waiting job that is cancelled ends cancelled at once, with its
   * worker still busy */
  g_assert_true (ag_pending_cancel (cancelled, "no longer wanted"));
  pool_job_assert_never_ran (&dropped, cancelled);
  g_assert_false (ag_pending_is_done (blocked));
  pool_job_assert_waiting (&waiting, queued);

  /* The worker, free again, skips it and takes the next one */
  ag_test_latch_set (&blocker.release, 1);
  pool_job_assert_ran (&blocker, blocked);
  pool_job_assert_ran (&waiting, queued);
  g_assert_cmpint (blocker.rank, ==, 1);
  g_assert_cmpint (waiting.rank, ==, 2);
  g_assert_true (waiting.worker == blocker.worker);

  /* It never ran; its data was released once */
  pool_job_assert_destroyed (&dropped);
  pool_job_assert_never_ran (&dropped, cancelled);
  pool_job_assert_destroyed (&blocker);
  pool_job_assert_destroyed (&waiting);

  stop_and_wait (parent);
  wait_stopped (blocker.worker);
  g_assert_cmpint (latch_get (&dropped.destroyed), ==, 1);
  g_assert_cmpint (g_atomic_int_get (&dropped.ran), ==, 0);

  pool_job_clear (&blocker);
  pool_job_clear (&dropped);
  pool_job_clear (&waiting);
  ag_test_pop_context (context);
  thread_check_end (&check);
}

static void
test_to_thread_pool_stop_cancels_waiting (void)
{
  ThreadCheck check;
  GMainContext *context;
  AgCaller *parent;
  g_autoptr(AgCaller) worker = NULL;
  g_autoptr(GPtrArray) children = NULL;
  g_autoptr(AgPending) blocked = NULL;
  g_autoptr(AgPending) cancelled = NULL;
  AgPending *queued[N_WAITING];
  PoolJob blocker;
  PoolJob dropped;
  PoolJob waiting[N_WAITING];
  gint next_rank = 0;

  thread_check_begin (&check);
  pool_job_init (&blocker, &next_rank, TRUE);
  pool_job_init (&dropped, &next_rank, FALSE);

  context = ag_test_push_context ();
  parent = g_object_ref (ag_caller_get_current ());
  ag_caller_set_max_workers (parent, 1);

  /* One busy worker, jobs waiting, one of them cancelled already */
  blocked = pool_job_submit (parent, &blocker);
  ag_test_latch_wait (&blocker.started, 1);
  cancelled = pool_job_submit (parent, &dropped);
  pool_jobs_submit (parent, waiting, queued, N_WAITING, &next_rank, FALSE);
  g_assert_true (ag_pending_cancel (cancelled, "no longer wanted"));
  pool_job_assert_never_ran (&dropped, cancelled);
  for (guint i = 0; i < N_WAITING; i++)
    pool_job_assert_waiting (&waiting[i], queued[i]);
  children = ag_caller_dup_children (parent);
  g_assert_cmpuint (children->len, ==, 1);
  worker = g_object_ref (g_ptr_array_index (children, 0));
  g_assert_true (worker == blocker.worker);

  /* Stopping the parent: the waiting jobs end cancelled at once, the
   * running one is asked to stop and ends when it returns */
  ag_caller_stop (parent, TRUE);
  for (guint i = 0; i < N_WAITING; i++)
    pool_job_assert_never_ran (&waiting[i], queued[i]);
  g_assert_true (ag_pending_is_cancelled (blocked));
  g_assert_false (ag_pending_is_done (blocked));

  ag_test_latch_set (&blocker.release, 1);
  ag_test_wait_done (blocked);
  ag_test_assert_state (blocked, AG_PENDING_STATE_CANCELLED);
  g_assert_cmpint (g_atomic_int_get (&blocker.saw_cancelled), ==, 1);
  wait_stopped (worker);
  wait_stopped (parent);

  /* None of them ran, not even once the worker was free; each one's data
   * was released once */
  pool_job_assert_destroyed (&blocker);
  pool_job_assert_destroyed (&dropped);
  pool_job_assert_never_ran (&dropped, cancelled);
  for (guint i = 0; i < N_WAITING; i++)
    {
      pool_job_assert_destroyed (&waiting[i]);
      pool_job_assert_never_ran (&waiting[i], queued[i]);
      g_object_unref (queued[i]);
      pool_job_clear (&waiting[i]);
    }
  g_assert_cmpint (g_atomic_int_get (&blocker.ran), ==, 1);

  g_object_unref (parent);
  pool_job_clear (&blocker);
  pool_job_clear (&dropped);
  ag_test_pop_context (context);
  thread_check_end (&check);
}

static void
test_to_thread_pool_stop_busy_worker (void)
{
  ThreadCheck check;
  GMainContext *context;
  AgCaller *parent;
  g_autoptr(AgCaller) worker = NULL;
  g_autoptr(GPtrArray) children = NULL;
  g_autoptr(GPtrArray) after = NULL;
  g_autoptr(AgPending) blocked = NULL;
  AgPending *queued[N_WAITING];
  PoolJob blocker;
  PoolJob waiting[N_WAITING];
  gint next_rank = 0;

  thread_check_begin (&check);
  pool_job_init (&blocker, &next_rank, TRUE);

  context = ag_test_push_context ();
  parent = ag_caller_get_current ();
  ag_caller_set_max_workers (parent, 1);

  blocked = pool_job_submit (parent, &blocker);
  ag_test_latch_wait (&blocker.started, 1);
  pool_jobs_submit (parent, waiting, queued, N_WAITING, &next_rank, FALSE);
  for (guint i = 0; i < N_WAITING; i++)
    pool_job_assert_waiting (&waiting[i], queued[i]);
  children = ag_caller_dup_children (parent);
  g_assert_cmpuint (children->len, ==, 1);
  worker = g_object_ref (g_ptr_array_index (children, 0));
  g_assert_true (worker == blocker.worker);

  /* The busy worker is stopped by hand: it leaves the pool, its job is
   * asked to stop; the waiting jobs go to a new worker, in order, while
   * the old one still blocks */
  ag_caller_stop (worker, TRUE);
  g_assert_true (ag_pending_is_cancelled (blocked));
  for (guint i = 0; i < N_WAITING; i++)
    {
      pool_job_assert_ran (&waiting[i], queued[i]);
      g_assert_cmpint (waiting[i].rank, ==, 2 + (gint) i);
      g_assert_true (waiting[i].worker != worker);
      g_assert_true (waiting[i].thread != blocker.thread);
      g_assert_true (waiting[i].worker == waiting[0].worker);
    }
  g_assert_false (ag_pending_is_done (blocked));
  after = ag_caller_dup_children (parent);
  g_assert_cmpuint (after->len, ==, 1);
  g_assert_true (array_contains (after, waiting[0].worker));
  g_assert_false (array_contains (after, worker));

  ag_test_latch_set (&blocker.release, 1);
  ag_test_wait_done (blocked);
  ag_test_assert_state (blocked, AG_PENDING_STATE_CANCELLED);
  g_assert_cmpint (g_atomic_int_get (&blocker.saw_cancelled), ==, 1);
  wait_stopped (worker);
  pool_job_assert_destroyed (&blocker);

  stop_and_wait (parent);
  wait_stopped (waiting[0].worker);
  for (guint i = 0; i < N_WAITING; i++)
    {
      pool_job_assert_destroyed (&waiting[i]);
      g_object_unref (queued[i]);
      pool_job_clear (&waiting[i]);
    }

  pool_job_clear (&blocker);
  ag_test_pop_context (context);
  thread_check_end (&check);
}

#define N_CHAIN 3

static void
test_to_thread_pool_idle_wake_chain (void)
{
  ThreadCheck check;
  GMainContext *context;
  AgCaller *parent;
  g_autoptr(AgPending) pause = NULL;
  g_autoptr(AgPending) last = NULL;
  AgPending *primed[N_CHAIN];
  AgPending *blocked[N_CHAIN];
  PoolJob primers[N_CHAIN];
  PoolJob blockers[N_CHAIN];
  PoolJob tail;
  gint next_rank = 0;
  Probe probe;

  thread_check_begin (&check);
  probe_init (&probe);

  context = ag_test_push_context ();
  parent = ag_caller_get_current ();
  ag_caller_set_max_workers (parent, N_CHAIN + 1);

  /* N_CHAIN + 1 workers, then all idle */
  pool_jobs_submit (parent, primers, primed, N_CHAIN, &next_rank, TRUE);
  pool_job_init (&tail, &next_rank, TRUE);
  last = pool_job_submit (parent, &tail);
  for (guint i = 0; i < N_CHAIN; i++)
    ag_test_latch_wait (&primers[i].started, 1);
  ag_test_latch_wait (&tail.started, 1);
  g_assert_cmpuint (n_children (parent), ==, N_CHAIN + 1);
  for (guint i = 0; i < N_CHAIN; i++)
    {
      ag_test_latch_set (&primers[i].release, 1);
      pool_job_assert_ran (&primers[i], primed[i]);
      pool_job_assert_destroyed (&primers[i]);
    }
  ag_test_latch_set (&tail.release, 1);
  pool_job_assert_ran (&tail, last);
  pool_job_assert_destroyed (&tail);
  g_clear_object (&last);
  pool_job_clear (&tail);

  /* Time for the idle workers' loops to stop spinning and sleep. Not a
   * synchronisation: what follows must hold either way. */
  pause = ag_caller_call_later (parent, 0.005, probe_job, &probe, NULL);
  ag_test_iterate_until_done (context, pause);

  /* Jobs that block, submitted at once to sleeping workers, then one
   * more: each wake-up is passed on to the next idle worker, so the last
   * job runs while all the others still block */
  next_rank = 0;
  pool_jobs_submit (parent, blockers, blocked, N_CHAIN, &next_rank, TRUE);
  pool_job_init (&tail, &next_rank, FALSE);
  last = pool_job_submit (parent, &tail);
  pool_job_assert_ran (&tail, last);
  for (guint i = 0; i < N_CHAIN; i++)
    ag_test_latch_wait (&blockers[i].started, 1);
  for (guint i = 0; i < N_CHAIN; i++)
    {
      g_assert_false (ag_pending_is_done (blocked[i]));
      g_assert_true (blockers[i].worker != tail.worker);
      for (guint j = i + 1; j < N_CHAIN; j++)
        g_assert_true (blockers[i].worker != blockers[j].worker);
    }
  g_assert_cmpuint (n_children (parent), ==, N_CHAIN + 1);

  for (guint i = 0; i < N_CHAIN; i++)
    {
      ag_test_latch_set (&blockers[i].release, 1);
      pool_job_assert_ran (&blockers[i], blocked[i]);
      pool_job_assert_destroyed (&blockers[i]);
    }
  pool_job_assert_destroyed (&tail);

  stop_and_wait (parent);
  for (guint i = 0; i < N_CHAIN; i++)
    {
      wait_stopped (primers[i].worker);
      g_object_unref (primed[i]);
      g_object_unref (blocked[i]);
      pool_job_clear (&primers[i]);
      pool_job_clear (&blockers[i]);
    }
  wait_stopped (tail.worker);

  pool_job_clear (&tail);
  probe_clear (&probe);
  ag_test_pop_context (context);
  thread_check_end (&check);
}

/* {{{ Bursts */

typedef struct _Burst Burst;

typedef struct
{
  Burst    *burst;
  gint      value;
  gint      ran;        /* (atomic) */
  gint      destroyed;  /* (atomic) */
  GThread  *thread;     /* read once its pending is done */
} BurstItem;

struct _Burst
{
  GThread     *submitter;  /* immutable */
  AgMutex      lock;
  GHashTable  *threads;    /* protected by lock: GThread, the threads that
                            * ran a job */
  GHashTable  *workers;    /* protected by lock: AgCaller (owned), the
                            * workers that ran a job */
  AgTestLatch  destroyed;  /* counts the destroy notifies */
};

static AgPending *
burst_job (AgPending *pending,
           gpointer   data)
{
  BurstItem *item = data;
  Burst *burst = item->burst;
  AgCaller *current = ag_caller_get_current ();

  g_atomic_int_inc (&item->ran);
  item->thread = g_thread_self ();

  ag_mutex_lock (&burst->lock);
  g_hash_table_add (burst->threads, item->thread);
  if (!g_hash_table_contains (burst->workers, current))
    g_hash_table_add (burst->workers, g_object_ref (current));
  ag_mutex_unlock (&burst->lock);

  ag_pending_set_int (pending, item->value);
  return NULL;
}

static void
burst_destroy (gpointer data)
{
  BurstItem *item = data;

  g_atomic_int_inc (&item->destroyed);
  ag_test_latch_add (&item->burst->destroyed, 1);
}

/* Submits @n jobs at once to @parent, then checks that each ran once, in
 * a worker, with its own value. */
static void
burst_run (Burst    *burst,
           AgCaller *parent,
           guint     n)
{
  BurstItem *items = g_new0 (BurstItem, n);
  AgPending **pendings = g_new0 (AgPending *, n);
  gint destroyed = latch_get (&burst->destroyed);

  for (guint i = 0; i < n; i++)
    {
      items[i].burst = burst;
      items[i].value = (gint) (i * 7 + 1);
      pendings[i] = ag_caller_to_thread (parent, burst_job, &items[i],
                                         burst_destroy);
    }

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(GError) error = NULL;

      ag_test_wait_done (pendings[i]);
      ag_test_assert_state (pendings[i], AG_PENDING_STATE_SUCCEEDED);
      g_assert_cmpint (ag_pending_get_int (pendings[i], &error), ==,
                       items[i].value);
      g_assert_no_error (error);
    }

  ag_test_latch_wait (&burst->destroyed, destroyed + (gint) n);
  for (guint i = 0; i < n; i++)
    {
      g_assert_cmpint (g_atomic_int_get (&items[i].ran), ==, 1);
      g_assert_cmpint (g_atomic_int_get (&items[i].destroyed), ==, 1);
      g_assert_true (items[i].thread != burst->submitter);
      g_object_unref (pendings[i]);
    }

  ag_mutex_lock (&burst->lock);
  g_assert_cmpuint (g_hash_table_size (burst->threads), >=, 1);
  g_assert_cmpuint (g_hash_table_size (burst->threads), <=, 2);
  g_assert_cmpuint (g_hash_table_size (burst->workers), >=, 1);
  g_assert_cmpuint (g_hash_table_size (burst->workers), <=, 2);
  ag_mutex_unlock (&burst->lock);
  g_assert_cmpuint (n_children (parent), <=, 2);

  g_free (pendings);
  g_free (items);
}

static void
test_to_thread_pool_burst (void)
{
  ThreadCheck check;
  GMainContext *context;
  AgCaller *parent;
  g_autoptr(GPtrArray) workers = NULL;
  GHashTableIter iter;
  gpointer key;
  guint rounds = ag_test_iterations (10, 100);
  Burst burst;
  Probe probe;

  thread_check_begin (&check);
  probe_init (&probe);
  burst.submitter = g_thread_self ();
  ag_mutex_init (&burst.lock);
  burst.threads = g_hash_table_new (NULL, NULL);
  burst.workers = g_hash_table_new_full (NULL, NULL, g_object_unref, NULL);
  ag_test_latch_init (&burst.destroyed);

  context = ag_test_push_context ();
  parent = ag_caller_get_current ();
  ag_caller_set_max_workers (parent, 2);

  /* Far more jobs than workers: most of them wait in the pool's queue */
  burst_run (&burst, parent, 2000);

  /* Bursts for idle workers: each needs waking them, one wake-up in flight
   * at a time, passed on by the woken worker to the next */
  for (guint r = 0; r < rounds; r++)
    {
      g_autoptr(AgPending) pause = NULL;

      /* Time for the idle workers' loops to stop spinning and sleep. Not
       * a synchronisation: the jobs must complete either way. */
      pause = ag_caller_call_later (parent, 0.005, probe_job, &probe, NULL);
      ag_test_iterate_until_done (context, pause);

      burst_run (&burst, parent, 200);
    }

  /* The workers that ran the jobs are those of the pool */
  workers = g_ptr_array_new_with_free_func (g_object_unref);
  g_hash_table_iter_init (&iter, burst.workers);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    {
      g_autoptr(AgCaller) worker_parent = ag_caller_dup_parent (key);

      g_assert_true (worker_parent == parent);
      g_ptr_array_add (workers, g_object_ref (key));
    }

  stop_and_wait (parent);
  for (guint i = 0; i < workers->len; i++)
    wait_stopped (g_ptr_array_index (workers, i));

  g_clear_pointer (&workers, g_ptr_array_unref);
  g_hash_table_unref (burst.threads);
  g_hash_table_unref (burst.workers);
  ag_mutex_clear (&burst.lock);
  ag_test_latch_clear (&burst.destroyed);
  probe_clear (&probe);
  ag_test_pop_context (context);
  thread_check_end (&check);
}

/* }}} */

/* }}} */

/* {{{ /Caller/child */

typedef struct
{
  AgCaller *expected;     /* not owned */
  AgCaller *other;        /* not owned: a caller of another thread */
  gboolean  current_ok;
  gboolean  owner_ok;
  gboolean  not_other;
  AgCaller *child;        /* not owned: get_child () inside the job */
} ChildRun;

static AgPending *
child_run_job (AgPending *pending,
               gpointer   data)
{
  ChildRun *run = data;

  run->current_ok = ag_caller_get_current () == run->expected;
  run->owner_ok = g_main_context_is_owner (
                    ag_caller_get_context (run->expected));
  run->not_other = !g_main_context_is_owner (
                     ag_caller_get_context (run->other));
  if (run->child == NULL)
    run->child = ag_caller_get_child (run->expected, "kid");
  return NULL;
}

static void
test_child (void)
{
  ThreadCheck check;
  g_autoptr(AgCaller) parent = NULL;
  g_autoptr(AgCaller) kid_parent = NULL;
  g_autoptr(GPtrArray) children = NULL;
  g_autoptr(AgPending) in_kid = NULL;
  g_autoptr(AgPending) in_parent = NULL;
  AgCaller *kid;
  AgCaller *other;
  ChildRun kid_run = { NULL, };
  ChildRun parent_run = { NULL, };

  thread_check_begin (&check);

  parent = ag_caller_new_thread ("parent");

  /* Created or found, by name */
  kid = ag_caller_get_child (parent, "kid");
  g_assert_true (AG_IS_CALLER (kid));
  g_object_ref (kid);
  g_assert_true (ag_caller_get_child (parent, "kid") == kid);
  other = ag_caller_get_child (parent, "other");
  g_assert_true (AG_IS_CALLER (other));
  g_object_ref (other);
  g_assert_true (other != kid);
  g_assert_cmpstr (ag_caller_get_name (kid), ==, "kid");
  g_assert_cmpstr (ag_caller_get_name (other), ==, "other");

  kid_parent = ag_caller_dup_parent (kid);
  g_assert_true (kid_parent == parent);
  children = ag_caller_dup_children (parent);
  g_assert_cmpuint (children->len, ==, 2);
  g_assert_true (array_contains (children, kid));
  g_assert_true (array_contains (children, other));

  /* A child runs in its own thread, not its parent's */
  g_assert_true (ag_caller_get_context (kid) !=
                 ag_caller_get_context (parent));
  kid_run.expected = kid;
  kid_run.other = parent;
  kid_run.child = kid;
  in_kid = ag_caller_call_soon (kid, child_run_job, &kid_run, NULL);
  parent_run.expected = parent;
  parent_run.other = kid;
  in_parent = ag_caller_call_soon (parent, child_run_job, &parent_run, NULL);
  ag_test_wait_done (in_kid);
  ag_test_wait_done (in_parent);
  g_assert_true (kid_run.current_ok);
  g_assert_true (kid_run.owner_ok);
  g_assert_true (kid_run.not_other);
  g_assert_true (parent_run.current_ok);
  g_assert_true (parent_run.owner_ok);
  g_assert_true (parent_run.not_other);

  /* Found from the parent's own thread too */
  g_assert_true (parent_run.child == kid);

  /* dup_child () finds the same child, and gives a reference of its own */
  {
    g_autoptr(AgCaller) dup = ag_caller_dup_child (parent, "kid");
    g_autoptr(AgCaller) made = ag_caller_dup_child (parent, "made");

    g_assert_true (dup == kid);
    g_assert_true (AG_IS_CALLER (made));
    g_assert_true (ag_caller_get_child (parent, "made") == made);
    g_assert_cmpstr (ag_caller_get_name (made), ==, "made");
    g_clear_pointer (&children, g_ptr_array_unref);
    children = ag_caller_dup_children (parent);
    g_assert_cmpuint (children->len, ==, 3);

    /* Stopped with its parent; the reference stays valid */
    ag_caller_stop (parent, FALSE);
    wait_stopped (parent);
    wait_stopped (made);
    g_assert_cmpstr (ag_caller_get_name (made), ==, "made");
  }

  /* Stopped with its parent */
  wait_stopped (kid);
  wait_stopped (other);
  g_assert_null (ag_caller_get_child (parent, "kid"));
  g_assert_null (ag_caller_get_child (parent, "new"));
  g_assert_null (ag_caller_dup_child (parent, "kid"));
  g_assert_null (ag_caller_dup_child (parent, "new"));

  g_object_unref (kid);
  g_object_unref (other);

  thread_check_end (&check);
}

/* }}} */

/* {{{ /Caller/child/dup-outlives-stop */

/* A child stopped by hand leaves its parent, which drops it: the reference
 * dup_child () gave keeps it valid (a borrowed pointer, what get_child ()
 * returns, would dangle), and the name is free for a new child. */
static void
test_child_dup_outlives_stop (void)
{
  g_autoptr(AgCaller) parent = ag_caller_new_thread ("parent");
  g_autoptr(AgCaller) kid = ag_caller_dup_child (parent, "kid");
  g_autoptr(AgCaller) again = NULL;
  g_autoptr(GPtrArray) children = NULL;

  g_assert_true (AG_IS_CALLER (kid));
  ag_caller_stop (kid, TRUE);
  wait_stopped (kid);

  children = ag_caller_dup_children (parent);
  g_assert_false (array_contains (children, kid));
  g_assert_true (AG_IS_CALLER (kid));
  g_assert_cmpstr (ag_caller_get_name (kid), ==, "kid");
  g_assert_cmpint (ag_caller_get_state (kid), ==, AG_CALLER_STATE_STOPPED);

  again = ag_caller_dup_child (parent, "kid");
  g_assert_true (AG_IS_CALLER (again));
  g_assert_true (again != kid);
  g_assert_true (ag_caller_is_running (again));

  stop_and_wait (parent);
}

/* }}} */

/* {{{ /Caller/stop/queued-and-running */

typedef struct
{
  AgMutex  lock;
  GArray  *states;   /* AgCallerState; protected by lock */
} StateLog;

static void
state_notify_cb (GObject    *object,
                 GParamSpec *pspec,
                 gpointer    data)
{
  StateLog *log = data;
  AgCallerState state = ag_caller_get_state (AG_CALLER (object));

  ag_mutex_lock (&log->lock);
  g_array_append_val (log->states, state);
  ag_mutex_unlock (&log->lock);
}

static void
test_stop_queued_and_running (void)
{
  ThreadCheck check;
  GMainContext *context;
  g_autoptr(AgCaller) caller = NULL;
  g_autoptr(AgCaller) guest = NULL;
  g_autoptr(AgPending) running = NULL;
  g_autoptr(AgPending) later = NULL;
  g_autoptr(AgPending) keyed = NULL;
  g_autoptr(AgPending) guest_queued = NULL;
  AgPending *queued[3];
  StateLog log;
  Probe probe;
  Probe guest_probe;
  Gate gate;

  thread_check_begin (&check);
  probe_init (&probe);
  probe_init (&guest_probe);
  gate_init (&gate);

  /* A caller busy with one job, with more queued of every kind */
  caller = ag_caller_new_thread ("stopping");
  running = ag_caller_call_soon (caller, gate_job, &gate, NULL);
  ag_test_latch_wait (&gate.started, 1);
  for (guint i = 0; i < G_N_ELEMENTS (queued); i++)
    queued[i] = ag_caller_call_soon (caller, probe_job, &probe,
                                     probe_destroy);
  later = ag_caller_call_later (caller, 3600.0, probe_job, &probe,
                                probe_destroy);
  keyed = ag_caller_queue_call (caller, "key", probe_job, &probe,
                                probe_destroy);
  ag_caller_call_direct (caller, probe_direct, &probe, probe_destroy);

  ag_caller_stop (caller, FALSE);

  /* Stopping: the running job was asked to stop, and ends when it
   * returns */
  g_assert_cmpint (ag_caller_get_state (caller), ==, AG_CALLER_STATE_STOPPING);
  g_assert_false (ag_caller_is_running (caller));
  g_assert_true (ag_pending_is_cancelled (running));
  g_assert_false (ag_pending_is_done (running));
  g_assert_false (ag_pending_is_done (ag_caller_get_stopped (caller)));
  gate_open (&gate);

  wait_stopped (caller);
  ag_test_wait_done (running);
  ag_test_assert_state (running, AG_PENDING_STATE_CANCELLED);
  g_assert_cmpint (g_atomic_int_get (&gate.saw_cancelled), ==, 1);
  g_assert_cmpint (g_atomic_int_get (&gate.saw_done), ==, 0);

  /* Queued work never ran and ended cancelled */
  for (guint i = 0; i < G_N_ELEMENTS (queued); i++)
    {
      ag_test_wait_done (queued[i]);
      ag_test_assert_state (queued[i], AG_PENDING_STATE_CANCELLED);
      g_object_unref (queued[i]);
    }
  ag_test_wait_done (later);
  ag_test_assert_state (later, AG_PENDING_STATE_CANCELLED);
  ag_test_wait_done (keyed);
  ag_test_assert_state (keyed, AG_PENDING_STATE_CANCELLED);
  ag_test_latch_wait (&probe.destroyed, 6);
  g_assert_cmpint (g_atomic_int_get (&probe.ran), ==, 0);

  /* A guest: the same, and its state is notified on its context */
  ag_mutex_init (&log.lock);
  log.states = g_array_new (FALSE, FALSE, sizeof (AgCallerState));
  context = ag_test_push_context ();
  guest = ag_caller_new_guest (context, "stopping-guest");
  g_signal_connect (guest, "notify::state", G_CALLBACK (state_notify_cb),
                    &log);
  guest_queued = ag_caller_call_soon (guest, probe_job, &guest_probe,
                                      probe_destroy);
  ag_caller_stop (guest, FALSE);
  g_assert_false (ag_caller_is_running (guest));
  ag_test_iterate_until_done (context, ag_caller_get_stopped (guest));
  wait_stopped (guest);
  ag_test_iterate_until_done (context, guest_queued);
  ag_test_drain (context);
  ag_test_assert_state (guest_queued, AG_PENDING_STATE_CANCELLED);
  g_assert_cmpint (g_atomic_int_get (&guest_probe.ran), ==, 0);
  ag_test_latch_wait (&guest_probe.destroyed, 1);

  ag_mutex_lock (&log.lock);
  g_assert_cmpuint (log.states->len, >=, 1);
  for (guint i = 0; i < log.states->len; i++)
    {
      AgCallerState state = g_array_index (log.states, AgCallerState, i);

      g_assert_cmpint (state, !=, AG_CALLER_STATE_RUNNING);
      if (i > 0)
        g_assert_cmpint (state, >=,
                         g_array_index (log.states, AgCallerState, i - 1));
    }
  g_assert_cmpint (g_array_index (log.states, AgCallerState,
                                  log.states->len - 1),
                   ==, AG_CALLER_STATE_STOPPED);
  ag_mutex_unlock (&log.lock);
  g_signal_handlers_disconnect_by_func (guest, state_notify_cb, &log);

  g_clear_object (&guest);
  ag_test_pop_context (context);
  g_array_unref (log.states);
  ag_mutex_clear (&log.lock);
  probe_clear (&probe);
  probe_clear (&guest_probe);
  gate_clear (&gate);
  thread_check_end (&check);
}

/* }}} */

/* {{{ /Caller/stop/children-first */

static gint cancel_sequence;  /* (atomic) */

typedef struct
{
  Gate       *gate;
  gint        cancelled_at;  /* (atomic) 0 until cancelled */
} Ordered;

static void
ordered_cancelled_cb (GCancellable *cancellable,
                      gpointer      data)
{
  Ordered *ordered = data;

  g_atomic_int_set (&ordered->cancelled_at,
                    g_atomic_int_add (&cancel_sequence, 1) + 1);
}

static AgPending *
ordered_job (AgPending *pending,
             gpointer   data)
{
  Ordered *ordered = data;
  GCancellable *cancellable = ag_pending_get_cancellable (pending);
  gulong id;

  id = g_cancellable_connect (cancellable, G_CALLBACK (ordered_cancelled_cb),
                              ordered, NULL);
  gate_job (pending, ordered->gate);
  g_cancellable_disconnect (cancellable, id);

  return NULL;
}

static void
test_stop_children_first (void)
{
  ThreadCheck check;
  g_autoptr(AgCaller) parent = NULL;
  g_autoptr(AgPending) in_parent = NULL;
  g_autoptr(AgPending) in_kid = NULL;
  AgCaller *kid;
  Ordered parent_ordered;
  Ordered kid_ordered;
  Gate gate;

  thread_check_begin (&check);
  gate_init (&gate);
  parent_ordered.gate = &gate;
  kid_ordered.gate = &gate;
  g_atomic_int_set (&parent_ordered.cancelled_at, 0);
  g_atomic_int_set (&kid_ordered.cancelled_at, 0);

  parent = ag_caller_new_thread ("parent");
  kid = g_object_ref (ag_caller_get_child (parent, "kid"));
  in_parent = ag_caller_call_soon (parent, ordered_job, &parent_ordered,
                                   NULL);
  in_kid = ag_caller_call_soon (kid, ordered_job, &kid_ordered, NULL);
  ag_test_latch_wait (&gate.started, 2);

  ag_caller_stop (parent, FALSE);

  /* The child's jobs were cancelled before the parent's own */
  g_assert_cmpint (g_atomic_int_get (&kid_ordered.cancelled_at), >, 0);
  g_assert_cmpint (g_atomic_int_get (&parent_ordered.cancelled_at), >, 0);
  g_assert_cmpint (g_atomic_int_get (&kid_ordered.cancelled_at), <,
                   g_atomic_int_get (&parent_ordered.cancelled_at));
  g_assert_false (ag_caller_is_running (kid));

  gate_open (&gate);
  wait_stopped (parent);
  wait_stopped (kid);
  ag_test_wait_done (in_parent);
  ag_test_wait_done (in_kid);
  ag_test_assert_state (in_parent, AG_PENDING_STATE_CANCELLED);
  ag_test_assert_state (in_kid, AG_PENDING_STATE_CANCELLED);

  g_object_unref (kid);
  gate_clear (&gate);
  thread_check_end (&check);
}

/* }}} */

/* {{{ /Caller/stop/protected */

static void
test_stop_protected (void)
{
  ThreadCheck check;
  g_autoptr(AgCaller) caller = NULL;
  g_autoptr(AgCaller) by_property = NULL;
  g_autoptr(AgPending) pending = NULL;
  gboolean protected_ = FALSE;

  thread_check_begin (&check);

  caller = ag_caller_new_thread ("protected");
  ag_caller_set_protected (caller, TRUE);
  g_assert_true (ag_caller_get_protected (caller));
  g_object_get (caller, "protected", &protected_, NULL);
  g_assert_true (protected_);

  /* Ignores stop requests that are not forced, and keeps working */
  ag_caller_stop (caller, FALSE);
  ag_caller_stop (caller, FALSE);
  g_assert_cmpint (ag_caller_get_state (caller), ==, AG_CALLER_STATE_RUNNING);
  pending = ag_caller_call_soon (caller, ag_test_set_int_job,
                                 GINT_TO_POINTER (4), NULL);
  ag_test_wait_done (pending);
  ag_test_assert_state (pending, AG_PENDING_STATE_SUCCEEDED);
  g_assert_false (ag_pending_is_done (ag_caller_get_stopped (caller)));

  /* The same when set by property */
  by_property = ag_caller_new_thread ("protected-by-property");
  g_object_set (by_property, "protected", TRUE, NULL);
  g_assert_true (ag_caller_get_protected (by_property));
  ag_caller_stop (by_property, FALSE);
  g_assert_true (ag_caller_is_running (by_property));

  /* Unless forced */
  stop_and_wait (caller);
  stop_and_wait (by_property);

  thread_check_end (&check);
}

/* }}} */

/* {{{ /Caller/stop/after-stop */

static void
assert_closed (AgPending  *pending,
               const char *name)
{
  g_assert_true (AG_IS_PENDING (pending));
  g_assert_true (ag_pending_is_done (pending));
  ag_test_assert_state (pending, AG_PENDING_STATE_FAILED);
  ag_test_assert_pending_error (pending, AG_ERROR, AG_ERROR_CLOSED, name);
}

static void
check_closed (AgCaller *caller,
              gboolean  with_pool)
{
  const char *name = ag_caller_get_name (caller);
  AgPending *pending;
  Probe probe;

  probe_init (&probe);

  pending = ag_caller_call_soon (caller, probe_job, &probe, probe_destroy);
  assert_closed (pending, name);
  g_object_unref (pending);

  pending = ag_caller_call_later (caller, 0.01, probe_job, &probe,
                                  probe_destroy);
  assert_closed (pending, name);
  g_object_unref (pending);

  pending = ag_caller_queue_call (caller, "key", probe_job, &probe,
                                  probe_destroy);
  assert_closed (pending, name);
  g_object_unref (pending);
  g_assert_null (ag_caller_queue_get (caller, "key"));

  if (with_pool)
    {
      pending = ag_caller_to_thread (caller, probe_job, &probe,
                                     probe_destroy);
      assert_closed (pending, name);
      g_object_unref (pending);
    }

  ag_caller_call_direct (caller, probe_direct, &probe, probe_destroy);
  g_assert_null (ag_caller_get_child (caller, "late"));

  /* Nothing ran; every destroy notify did, once */
  ag_test_latch_wait (&probe.destroyed, with_pool ? 5 : 4);
  g_assert_cmpint (g_atomic_int_get (&probe.ran), ==, 0);
  g_assert_cmpint (latch_get (&probe.destroyed), ==, with_pool ? 5 : 4);
  g_assert_cmpuint (n_children (caller), ==, 0);

  probe_clear (&probe);
}

static gpointer
stop_thread_func (gpointer data)
{
  ag_caller_stop (data, FALSE);
  ag_caller_stop (data, TRUE);
  return NULL;
}

static void
test_stop_after_stop (void)
{
  ThreadCheck check;
  g_autoptr(AgCaller) caller = NULL;
  g_autoptr(AgCaller) guest = NULL;
  GMainContext *context;
  GThread *thread;

  thread_check_begin (&check);

  caller = ag_caller_new_thread ("closed-caller");
  stop_and_wait (caller);
  check_closed (caller, TRUE);

  /* Stopping again, from anywhere, changes nothing */
  ag_caller_stop (caller, FALSE);
  ag_caller_stop (caller, TRUE);
  thread = g_thread_new ("stopper", stop_thread_func, caller);
  g_thread_join (thread);
  g_assert_cmpint (ag_caller_get_state (caller), ==, AG_CALLER_STATE_STOPPED);
  check_closed (caller, TRUE);

  context = g_main_context_new ();
  guest = ag_caller_new_guest (context, "closed-guest");
  ag_caller_stop (guest, FALSE);
  wait_stopped (guest);
  check_closed (guest, FALSE);
  g_clear_object (&guest);
  ag_test_drain (context);
  g_main_context_unref (context);

  thread_check_end (&check);
}

/* }}} */

/* {{{ /Caller/stop/repeated */

typedef struct
{
  gboolean cancelled;
  gboolean not_running;
} SelfStop;

static AgPending *
self_stop_job (AgPending *pending,
               gpointer   data)
{
  SelfStop *self_stop = data;
  AgCaller *self = ag_caller_get_current ();

  ag_caller_stop (self, FALSE);
  ag_caller_stop (self, FALSE);
  ag_caller_stop (self, TRUE);

  self_stop->not_running = !ag_caller_is_running (self);
  self_stop->cancelled = ag_pending_is_cancelled (pending);
  return NULL;
}

typedef struct
{
  AgCaller      *caller;
  AgTestBarrier *barrier;
} Stopper;

static gpointer
racing_stop_thread_func (gpointer data)
{
  Stopper *stopper = data;

  ag_test_barrier_wait (stopper->barrier);
  ag_caller_stop (stopper->caller, FALSE);
  ag_caller_stop (stopper->caller, FALSE);
  return NULL;
}

static void
test_stop_repeated (void)
{
  ThreadCheck check;
  g_autoptr(AgCaller) caller = NULL;
  g_autoptr(AgPending) pending = NULL;
  SelfStop self_stop = { FALSE, };
  guint rounds = ag_test_iterations (20, 200);

  thread_check_begin (&check);

  /* From its own job: the job's pending is cancelled, and ends so */
  caller = ag_caller_new_thread ("self-stop");
  pending = ag_caller_call_soon (caller, self_stop_job, &self_stop, NULL);
  wait_stopped (caller);
  ag_test_wait_done (pending);
  ag_test_assert_state (pending, AG_PENDING_STATE_CANCELLED);
  g_assert_true (self_stop.not_running);
  g_assert_true (self_stop.cancelled);
  g_clear_object (&caller);
  g_clear_object (&pending);

  /* From many threads at once, with children */
  for (guint round = 0; round < rounds; round++)
    {
      AgTestBarrier barrier;
      Stopper stopper;
      GThread *threads[3];
      AgCaller *kid;

      caller = ag_caller_new_thread ("racing-stops");
      kid = ag_caller_get_child (caller, "kid");
      g_object_ref (kid);
      pending = ag_caller_call_soon (kid, ag_test_set_int_job,
                                     GINT_TO_POINTER (1), NULL);

      ag_test_barrier_init (&barrier, G_N_ELEMENTS (threads) + 1);
      stopper.caller = caller;
      stopper.barrier = &barrier;
      for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
        threads[i] = g_thread_new ("stopper", racing_stop_thread_func,
                                   &stopper);
      ag_test_barrier_wait (&barrier);
      ag_caller_stop (caller, FALSE);
      for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
        g_thread_join (threads[i]);

      wait_stopped (caller);
      wait_stopped (kid);
      ag_test_wait_done (pending);
      g_clear_object (&pending);
      g_clear_object (&kid);
      g_clear_object (&caller);
    }

  thread_check_end (&check);
}

/* }}} */

/* {{{ /Caller/deadlock */

typedef struct
{
  AgCaller  *other;        /* not owned: a caller of another thread */
  GError    *own_error;    /* waiting on a job of its own caller */
  GError    *other_error;  /* waiting on a job of another caller */
  GError    *pool_error;   /* waiting on a to_thread job */
  gboolean   other_ok;
  gboolean   pool_ok;
  gint64     other_value;
  AgPending *own;          /* owned */
  gint       ran;          /* (atomic) */
} Deadlock;

static void
deadlock_wait_own (Deadlock *deadlock)
{
  AgCaller *self = ag_caller_get_current ();

  deadlock->own = ag_caller_call_soon (self, ag_test_count_job,
                                       &deadlock->ran, NULL);
  g_assert_false (ag_pending_wait_sync (deadlock->own, AG_TEST_TIMEOUT_S,
                                        &deadlock->own_error));
}

static AgPending *
deadlock_job (AgPending *pending,
              gpointer   data)
{
  Deadlock *deadlock = data;
  g_autoptr(AgPending) other = NULL;
  g_autoptr(AgPending) pooled = NULL;

  /* A job of its own caller: refused at once */
  deadlock_wait_own (deadlock);

  /* Jobs of other threads: waited for */
  other = ag_caller_call_soon (deadlock->other, ag_test_set_int_job,
                               GINT_TO_POINTER (3), NULL);
  deadlock->other_ok = ag_pending_wait_sync (other, AG_TEST_TIMEOUT_S,
                                             &deadlock->other_error);
  deadlock->other_value = ag_pending_get_int (other, NULL);

  pooled = ag_caller_to_thread (ag_caller_get_current (), ag_test_set_int_job,
                                GINT_TO_POINTER (4), NULL);
  deadlock->pool_ok = ag_pending_wait_sync (pooled, AG_TEST_TIMEOUT_S,
                                            &deadlock->pool_error);
  return NULL;
}

static void
deadlock_direct (gpointer data)
{
  deadlock_wait_own (data);
}

static void
deadlock_clear (Deadlock *deadlock)
{
  g_clear_error (&deadlock->own_error);
  g_clear_error (&deadlock->other_error);
  g_clear_error (&deadlock->pool_error);
  g_clear_object (&deadlock->own);
}

/* A thread that runs the global default context frame by frame (as a
 * render or game loop does): one iteration that does not block, then the
 * next frame. Between two frames nobody owns the context. */
typedef struct
{
  gint        stop;     /* (atomic) */
  AgTestLatch pumping;  /* 1 once it iterated the context */
} Pump;

static gpointer
pump_thread (gpointer data)
{
  Pump *pump = data;

  for (guint frame = 0; !g_atomic_int_get (&pump->stop); frame++)
    {
      g_main_context_iteration (NULL, FALSE);
      if (frame == 0)
        ag_test_latch_set (&pump->pumping, 1);
      g_usleep (G_TIME_SPAN_MILLISECOND);  /* frame pacing */
    }

  return NULL;
}

/* The thread that waits ran the global default context once, then left it
 * to another thread that iterates it: it is no longer that context's
 * thread, and may wait for a job of the main caller (it was refused with
 * WOULD_DEADLOCK while it was the last to have run the context). In a
 * subprocess, whose default context nobody ran before. */
static void
test_deadlock_main_pumped_elsewhere (void)
{
  if (g_test_subprocess ())
    {
      AgCaller *main_caller = ag_caller_get_main ();
      Pump pump = { 0, };
      g_autoptr(AgPending) here = NULL;
      g_autoptr(AgPending) refused = NULL;
      g_autoptr(AgPending) elsewhere = NULL;
      g_autoptr(GError) error = NULL;
      GThread *thread;

      /* This thread runs it: a wait here is refused */
      here = ag_caller_call_soon (main_caller, ag_test_set_int_job,
                                  GINT_TO_POINTER (1), NULL);
      ag_test_iterate_until_done (g_main_context_default (), here);
      refused = ag_caller_call_soon (main_caller, ag_test_set_int_job,
                                     GINT_TO_POINTER (2), NULL);
      g_assert_false (ag_pending_wait_sync (refused, AG_TEST_TIMEOUT_S,
                                            &error));
      g_assert_error (error, AG_ERROR, AG_ERROR_WOULD_DEADLOCK);
      g_clear_error (&error);
      ag_test_iterate_until_done (g_main_context_default (), refused);
      /* Nothing left for the context to dispatch (a wake-up still to read
       * would make the other thread dispatch the caller, which also makes
       * it the caller's thread) */
      for (guint i = 0; i < 100 && g_main_context_iteration (NULL, FALSE); i++)
        ;
      g_assert_false (g_main_context_pending (NULL));

      /* Another thread runs it now (with no job to dispatch at first): the
       * wait is not refused */
      ag_test_latch_init (&pump.pumping);
      thread = g_thread_new ("pump", pump_thread, &pump);
      ag_test_latch_wait (&pump.pumping, 1);
      elsewhere = ag_caller_call_soon (main_caller, ag_test_set_int_job,
                                       GINT_TO_POINTER (8), NULL);
      g_assert_true (ag_pending_wait_sync (elsewhere, AG_TEST_TIMEOUT_S,
                                           &error));
      g_assert_no_error (error);
      g_assert_cmpint (ag_pending_get_int (elsewhere, NULL), ==, 8);

      g_atomic_int_set (&pump.stop, 1);
      g_thread_join (thread);
      ag_test_latch_clear (&pump.pumping);
      return;
    }

  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
}

static gpointer
late_loop_thread (gpointer data)
{
  /* Only widens the window the test is about: it passes whatever the
   * delay. */
  g_usleep (50 * G_TIME_SPAN_MILLISECOND);
  g_main_loop_run (data);
  return NULL;
}

/* A process whose global default context is run by a thread other than the
 * first, whose loop starts after the first thread began to wait for a job
 * of the main caller: nothing tells that apart from a wait that will never
 * end, so the wait is not refused (the process's first thread is not taken
 * for the context's, as a rule that would refuse it did). */
static void
test_deadlock_main_loop_elsewhere (void)
{
  if (g_test_subprocess ())
    {
      g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
      g_autoptr(AgPending) pending = NULL;
      g_autoptr(GError) error = NULL;
      GThread *thread;

      pending = ag_caller_call_soon (ag_caller_get_main (), ag_test_set_int_job,
                                     GINT_TO_POINTER (8), NULL);
      thread = g_thread_new ("default-loop", late_loop_thread, loop);
      g_assert_true (ag_pending_wait_sync (pending, AG_TEST_TIMEOUT_S, &error));
      g_assert_no_error (error);
      g_assert_cmpint (ag_pending_get_int (pending, NULL), ==, 8);

      g_main_loop_quit (loop);
      g_thread_join (thread);
      return;
    }

  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
}

static void
test_deadlock (void)
{
  ThreadCheck check;
  GMainContext *context;
  AgCaller *current;
  g_autoptr(AgCaller) caller = NULL;
  g_autoptr(AgCaller) other = NULL;
  g_autoptr(AgPending) pending = NULL;
  g_autoptr(AgPending) fence = NULL;
  g_autoptr(AgPending) here = NULL;
  g_autoptr(AgPending) pooled = NULL;
  g_autoptr(GError) error = NULL;
  Deadlock in_job = { NULL, };
  Deadlock in_direct = { NULL, };
  Probe probe;
  gint64 start;

  thread_check_begin (&check);
  probe_init (&probe);

  caller = ag_caller_new_thread ("deadlock");
  other = ag_caller_new_thread ("deadlock-other");

  /* Inside a job of a caller: waiting on another job of the same caller
   * fails at once instead of hanging; waiting on other threads works */
  in_job.other = other;
  start = g_get_monotonic_time ();
  pending = ag_caller_call_soon (caller, deadlock_job, &in_job, NULL);
  ag_test_wait_done (pending);
  ag_test_assert_state (pending, AG_PENDING_STATE_SUCCEEDED);
  g_assert_error (in_job.own_error, AG_ERROR, AG_ERROR_WOULD_DEADLOCK);
  g_assert_cmpint (g_get_monotonic_time () - start, <,
                   (gint64) (AG_TEST_TIMEOUT_S * G_USEC_PER_SEC));
  g_assert_no_error (in_job.other_error);
  g_assert_true (in_job.other_ok);
  g_assert_cmpint (in_job.other_value, ==, 3);
  g_assert_no_error (in_job.pool_error);
  g_assert_true (in_job.pool_ok);

  /* The refused job still runs, once the thread is free */
  ag_test_wait_done (in_job.own);
  ag_test_assert_state (in_job.own, AG_PENDING_STATE_SUCCEEDED);

  /* Anywhere in the caller's thread: a direct call */
  ag_caller_call_direct (caller, deadlock_direct, &in_direct, NULL);
  fence = ag_caller_call_soon (caller, probe_job, &probe, NULL);
  ag_test_wait_done (fence);
  g_assert_error (in_direct.own_error, AG_ERROR, AG_ERROR_WOULD_DEADLOCK);
  ag_test_wait_done (in_direct.own);

  /* The main thread, whose caller must run the job: refused... */
  context = ag_test_push_context ();
  current = ag_caller_get_current ();
  here = ag_caller_call_soon (current, ag_test_set_int_job, GINT_TO_POINTER (5),
                              NULL);
  g_assert_false (ag_pending_wait_sync (here, AG_TEST_TIMEOUT_S, &error));
  g_assert_error (error, AG_ERROR, AG_ERROR_WOULD_DEADLOCK);
  g_clear_error (&error);
  g_assert_false (ag_pending_is_done (here));
  ag_test_iterate_until_done (context, here);
  ag_test_assert_state (here, AG_PENDING_STATE_SUCCEEDED);

  /* ...but it may wait for a worker, and for another caller's thread */
  pooled = ag_caller_to_thread (current, ag_test_set_int_job,
                                GINT_TO_POINTER (6), NULL);
  g_assert_true (ag_pending_wait_sync (pooled, AG_TEST_TIMEOUT_S, &error));
  g_assert_no_error (error);
  g_assert_cmpint (ag_pending_get_int (pooled, NULL), ==, 6);
  g_clear_object (&pending);
  pending = ag_caller_call_soon (other, ag_test_set_int_job,
                                 GINT_TO_POINTER (7), NULL);
  g_assert_true (ag_pending_wait_sync (pending, AG_TEST_TIMEOUT_S, &error));
  g_assert_no_error (error);
  g_assert_cmpint (ag_pending_get_int (pending, NULL), ==, 7);

  stop_and_wait (current);
  ag_test_pop_context (context);
  stop_and_wait (caller);
  stop_and_wait (other);

  deadlock_clear (&in_job);
  deadlock_clear (&in_direct);
  probe_clear (&probe);
  thread_check_end (&check);
}

/* }}} */

/* {{{ /Caller/registry */

static void
test_registry (void)
{
  ThreadCheck check;
  g_autoptr(AgCaller) caller = NULL;
  g_autoptr(AgCaller) other = NULL;
  g_autoptr(AgCaller) found = NULL;
  g_autoptr(GPtrArray) all = NULL;
  g_autoptr(GPtrArray) running = NULL;
  guint id;

  thread_check_begin (&check);

  caller = ag_caller_new_thread ("registered");
  other = ag_caller_new_thread ("registered-too");
  id = ag_caller_get_id (caller);
  g_assert_cmpuint (id, >, 0);
  g_assert_cmpuint (id, !=, ag_caller_get_id (other));

  all = ag_caller_list_all (FALSE);
  running = ag_caller_list_all (TRUE);
  g_assert_true (array_contains (all, caller));
  g_assert_true (array_contains (all, other));
  g_assert_true (array_contains (all, ag_caller_get_main ()));
  g_assert_true (array_contains (running, caller));
  g_assert_true (array_contains (running, other));
  g_clear_pointer (&all, g_ptr_array_unref);
  g_clear_pointer (&running, g_ptr_array_unref);

  found = ag_caller_lookup (id);
  g_assert_true (found == caller);
  g_clear_object (&found);
  found = ag_caller_lookup (ag_caller_get_id (ag_caller_get_main ()));
  g_assert_true (found == ag_caller_get_main ());
  g_clear_object (&found);

  /* Gone once stopped */
  stop_and_wait (caller);
  running = ag_caller_list_all (TRUE);
  g_assert_false (array_contains (running, caller));
  g_assert_true (array_contains (running, other));
  found = ag_caller_lookup (id);
  g_assert_null (found);

  stop_and_wait (other);
  thread_check_end (&check);
}

/* }}} */

/* {{{ /Caller/bad-args */

static void
test_bad_args (void)
{
  GMainContext *context = g_main_context_new ();
  g_autoptr(AgCaller) caller = ag_caller_new_guest (context, "bad-args");
  g_autoptr(AgPending) pending = ag_pending_new ();
  AgPending *items[1];
  gint ran = 0;

  items[0] = pending;

  EXPECT_CRITICAL (g_assert_null (ag_caller_call_soon (NULL, ag_test_count_job,
                                                       &ran, NULL)));
  EXPECT_CRITICAL (g_assert_null (ag_caller_call_soon (caller, NULL, &ran,
                                                       NULL)));
  EXPECT_CRITICAL (g_assert_null (ag_caller_call_later (NULL, 1.0,
                                                        ag_test_count_job,
                                                        &ran, NULL)));
  EXPECT_CRITICAL (g_assert_null (ag_caller_call_later (caller, NAN,
                                                        ag_test_count_job, &ran,
                                                        NULL)));
  EXPECT_CRITICAL (g_assert_null (ag_caller_call_later (caller, 1.0, NULL,
                                                        &ran, NULL)));
  EXPECT_CRITICAL (ag_caller_call_direct (NULL, ag_test_count, &ran, NULL));
  EXPECT_CRITICAL (ag_caller_call_direct (caller, NULL, &ran, NULL));
  EXPECT_CRITICAL (g_assert_null (ag_caller_to_thread (NULL, ag_test_count_job,
                                                       &ran, NULL)));
  EXPECT_CRITICAL (g_assert_null (ag_caller_to_thread (caller, NULL, &ran,
                                                       NULL)));
  EXPECT_CRITICAL (g_assert_null (ag_caller_get_child (NULL, "kid")));
  EXPECT_CRITICAL (g_assert_null (ag_caller_get_child (caller, NULL)));
  EXPECT_CRITICAL (g_assert_null (ag_caller_dup_child (NULL, "kid")));
  EXPECT_CRITICAL (g_assert_null (ag_caller_dup_child (caller, NULL)));
  EXPECT_CRITICAL (g_assert_null (ag_caller_queue_call (NULL, "k",
                                                        ag_test_count_job,
                                                        &ran, NULL)));
  EXPECT_CRITICAL (g_assert_null (ag_caller_queue_call (caller, NULL,
                                                        ag_test_count_job, &ran,
                                                        NULL)));
  EXPECT_CRITICAL (g_assert_null (ag_caller_queue_call (caller, "k", NULL,
                                                        &ran, NULL)));
  EXPECT_CRITICAL (g_assert_null (ag_caller_queue_get (NULL, "k")));
  EXPECT_CRITICAL (g_assert_null (ag_caller_queue_get (caller, NULL)));
  EXPECT_CRITICAL (ag_caller_queue_close (NULL, "k"));
  EXPECT_CRITICAL (ag_caller_queue_close (caller, NULL));
  EXPECT_CRITICAL (ag_caller_stop (NULL, TRUE));
  EXPECT_CRITICAL (g_assert_null (ag_caller_new_guest (NULL, "guest")));
  EXPECT_CRITICAL (g_assert_null (ag_caller_get_stopped (NULL)));
  EXPECT_CRITICAL (ag_pending_add_done_callback_on (NULL, caller,
                                                    ag_test_count_done_cb,
                                                    &ran, NULL));
  EXPECT_CRITICAL (ag_pending_add_done_callback_on (pending, NULL,
                                                    ag_test_count_done_cb, &ran,
                                                    NULL));
  EXPECT_CRITICAL (ag_pending_add_done_callback_on (pending, caller, NULL,
                                                    &ran, NULL));
  EXPECT_CRITICAL (g_assert_null (ag_caller_as_completed (NULL, items, 1,
                                                          FALSE)));
  EXPECT_CRITICAL (ag_caller_wait_async (NULL, items, 1, -1,
                                         AG_RETURN_WHEN_ALL_COMPLETED, NULL,
                                         NULL, NULL));
  EXPECT_CRITICAL (ag_caller_wait_async (caller, items, 1, NAN,
                                         AG_RETURN_WHEN_ALL_COMPLETED, NULL,
                                         NULL, NULL));

  /* Nothing was queued by any of them */
  ag_pending_set_int (pending, 1);
  ag_test_drain (context);
  g_assert_cmpint (g_atomic_int_get (&ran), ==, 0);
  g_assert_true (ag_caller_is_running (caller));

  stop_and_wait (caller);
  g_clear_object (&caller);
  ag_test_drain (context);
  g_main_context_unref (context);
}

/* }}} */

/* {{{ /Caller/as-completed/order */

typedef struct
{
  GMainContext  *context;
  AgAsCompleted *iter;
  AgPending     *next;     /* owned */
  GError        *error;
  gint           called;   /* (atomic) */
  gboolean       owner;
} Next;

static void
next_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      data)
{
  Next *next = data;

  g_assert_true (AG_AS_COMPLETED (source) == next->iter);
  next->owner = g_main_context_is_owner (next->context);
  next->next = ag_as_completed_next_finish (next->iter, result, &next->error);
  g_atomic_int_inc (&next->called);
}

/* Gets the next item of @iter with next_async(), running @context. */
static AgPending *
next_async (AgAsCompleted *iter,
            GMainContext  *context)
{
  Next next = { NULL, };

  next.context = context;
  next.iter = iter;
  ag_as_completed_next_async (iter, NULL, next_cb, &next);
  g_assert_cmpint (g_atomic_int_get (&next.called), ==, 0);
  ag_test_iterate_until_strict (context, &next.called, 1);
  g_assert_true (next.owner);
  g_assert_no_error (next.error);
  return next.next;
}

/* Gets the next item of @iter with next_sync(), which must give one. */
static AgPending *
next_sync (AgAsCompleted *iter)
{
  g_autoptr(GError) error = NULL;
  AgPending *next = ag_as_completed_next_sync (iter, AG_TEST_TIMEOUT_S, &error);

  g_assert_no_error (error);
  g_assert_nonnull (next);
  return next;
}

static void
assert_next_is (AgPending *next,
                AgPending *expected)
{
  g_assert_true (next == expected);
  g_object_unref (next);
}

static void
assert_end (AgAsCompleted *iter)
{
  g_autoptr(GError) error = NULL;

  g_assert_null (ag_as_completed_next_sync (iter, AG_TEST_TIMEOUT_S, &error));
  g_assert_no_error (error);
  g_assert_null (ag_as_completed_next_sync (iter, 0, &error));
  g_assert_no_error (error);
}

static gpointer
complete_in_order_thread_func (gpointer data)
{
  AgPending **items = data;

  ag_pending_set_int (items[2], 2);
  ag_pending_set_int (items[0], 0);
  return NULL;
}

typedef struct
{
  AgTestLatch go[3];
} Release;

static AgPending *
released_job (AgPending *pending,
              gpointer   data)
{
  AgTestLatch *go = data;

  ag_test_latch_wait (go, 1);
  return NULL;
}

static void
test_as_completed_order (void)
{
  ThreadCheck check;
  GMainContext *context;
  AgCaller *caller;
  g_autoptr(AgAsCompleted) iter = NULL;
  g_autoptr(AgAsCompleted) jobs_iter = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(AgPending) next = NULL;
  AgPending *items[4];
  AgPending *jobs[3];
  Release release;
  Next waiting = { NULL, };
  GThread *thread;

  thread_check_begin (&check);

  context = ag_test_push_context ();
  caller = ag_caller_get_current ();
  for (guint i = 0; i < G_N_ELEMENTS (items); i++)
    items[i] = ag_pending_new ();

  iter = ag_caller_as_completed (caller, items, G_N_ELEMENTS (items), FALSE);
  g_assert_true (AG_IS_AS_COMPLETED (iter));

  /* Nothing done yet: a timeout, not the end */
  next = ag_as_completed_next_sync (iter, 0.01, &error);
  g_assert_null (next);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error (&error);

  /* In the order they complete, not the order they were given */
  thread = g_thread_new ("completer", complete_in_order_thread_func, items);
  g_thread_join (thread);
  assert_next_is (next_sync (iter), items[2]);
  assert_next_is (next_async (iter, context), items[0]);

  /* A wait in progress gets the next one to complete, on this thread */
  waiting.context = context;
  waiting.iter = iter;
  ag_as_completed_next_async (iter, NULL, next_cb, &waiting);
  ag_test_drain (context);
  g_assert_cmpint (g_atomic_int_get (&waiting.called), ==, 0);
  thread = g_thread_new ("completer", set_int_thread_func, items[3]);
  g_thread_join (thread);
  ag_test_iterate_until_strict (context, &waiting.called, 1);
  g_assert_true (waiting.owner);
  g_assert_no_error (waiting.error);
  assert_next_is (waiting.next, items[3]);

  /* Failed items are given too */
  ag_pending_take_error (items[1], g_error_new_literal (G_IO_ERROR,
                                                        G_IO_ERROR_FAILED,
                                                        "failed"));
  assert_next_is (next_sync (iter), items[1]);

  /* Then the end: NULL and no error, for good */
  assert_end (iter);
  g_assert_null (next_async (iter, context));

  /* Jobs in worker threads, finishing in the order the test lets them */
  for (guint i = 0; i < G_N_ELEMENTS (jobs); i++)
    {
      ag_test_latch_init (&release.go[i]);
      jobs[i] = ag_caller_to_thread (caller, released_job, &release.go[i],
                                     NULL);
    }
  jobs_iter = ag_caller_as_completed (caller, jobs, G_N_ELEMENTS (jobs),
                                      FALSE);
  ag_test_latch_set (&release.go[1], 1);
  assert_next_is (next_sync (jobs_iter), jobs[1]);
  ag_test_latch_set (&release.go[2], 1);
  assert_next_is (next_async (jobs_iter, context), jobs[2]);
  ag_test_latch_set (&release.go[0], 1);
  assert_next_is (next_sync (jobs_iter), jobs[0]);
  assert_end (jobs_iter);

  for (guint i = 0; i < G_N_ELEMENTS (items); i++)
    g_object_unref (items[i]);
  for (guint i = 0; i < G_N_ELEMENTS (jobs); i++)
    {
      g_object_unref (jobs[i]);
      ag_test_latch_clear (&release.go[i]);
    }

  stop_and_wait (caller);
  ag_test_pop_context (context);
  thread_check_end (&check);
}

/* }}} */

/* {{{ /Caller/as-completed/max-concurrent */

typedef struct
{
  GPtrArray *made;           /* AgPending, owned */
  guint      limit;          /* how many to make in all */
  guint      max_concurrent;
  guint      calls_when_full;  /* calls made with max_concurrent unfinished */
  guint      max_in_flight;
  gint       destroyed;      /* (atomic) */
} Producer;

static guint
producer_unfinished (Producer *producer)
{
  guint n = 0;

  for (guint i = 0; i < producer->made->len; i++)
    if (!ag_pending_is_done (g_ptr_array_index (producer->made, i)))
      n++;
  return n;
}

static AgPending *
producer_func (gpointer data)
{
  Producer *producer = data;
  guint unfinished = producer_unfinished (producer);
  AgPending *item;

  if (unfinished >= producer->max_concurrent)
    producer->calls_when_full++;
  if (producer->made->len == producer->limit)
    return NULL;

  item = ag_pending_new ();
  g_ptr_array_add (producer->made, g_object_ref (item));
  producer->max_in_flight = MAX (producer->max_in_flight, unfinished + 1);
  return item;
}

static void
producer_destroy (gpointer data)
{
  Producer *producer = data;

  g_atomic_int_inc (&producer->destroyed);
}

/* Jobs that keep a worker busy a little, counting how many are in flight
 * from the moment the producer makes them to the moment they are done. */
typedef struct
{
  AgCaller *caller;          /* not owned */
  guint     limit;
  guint     made;
  gint      in_flight;       /* (atomic) */
  gint      max_in_flight;   /* the consuming thread only */
  GThread  *consumer;        /* the thread that asks for items */
  AgTestLatch destroyed;     /* counts the destroy notifies */
  gint      destroyed_elsewhere;  /* (atomic) */
} Busy;

static AgPending *
busy_job (AgPending *pending,
          gpointer   data)
{
  g_usleep (g_test_rand_int_range (0, 2000));
  ag_pending_set_int (pending, GPOINTER_TO_INT (data));
  return NULL;
}

static void
busy_done_cb (AgPending *pending,
              gpointer   data)
{
  Busy *busy = data;

  g_atomic_int_add (&busy->in_flight, -1);
}

static AgPending *
busy_producer_func (gpointer data)
{
  Busy *busy = data;
  AgPending *item;
  gint in_flight;

  if (busy->made == busy->limit)
    return NULL;

  in_flight = g_atomic_int_add (&busy->in_flight, 1) + 1;
  busy->max_in_flight = MAX (busy->max_in_flight, in_flight);
  item = ag_caller_to_thread (busy->caller, busy_job,
                              GINT_TO_POINTER (busy->made), NULL);
  busy->made++;
  ag_pending_add_done_callback (item, busy_done_cb, busy, NULL);
  return item;
}

static void
busy_destroy (gpointer data)
{
  Busy *busy = data;

  if (g_thread_self () != busy->consumer)
    g_atomic_int_inc (&busy->destroyed_elsewhere);
  ag_test_latch_add (&busy->destroyed, 1);
}

static void
test_as_completed_max_concurrent (void)
{
  ThreadCheck check;
  GMainContext *context;
  AgCaller *caller;
  g_autoptr(AgAsCompleted) iter = NULL;
  g_autoptr(AgAsCompleted) busy_iter = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GHashTable) seen = g_hash_table_new_full (NULL, NULL,
                                                      g_object_unref, NULL);
  Producer producer = { NULL, };
  Busy busy = { NULL, };
  guint yielded = 0;

  thread_check_begin (&check);

  context = ag_test_push_context ();
  caller = ag_caller_get_current ();

  /* Plain pendings the test completes one at a time */
  producer.made = g_ptr_array_new_with_free_func (g_object_unref);
  producer.limit = 10;
  producer.max_concurrent = 3;
  iter = ag_caller_as_completed_full (caller, producer_func, &producer,
                                      producer_destroy, 3, FALSE);

  /* Asked for items until three are in flight */
  g_assert_null (ag_as_completed_next_sync (iter, 0.01, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error (&error);
  g_assert_cmpuint (producer.made->len, ==, 3);
  g_assert_cmpuint (ag_as_completed_get_n_in_flight (iter), ==, 3);

  /* Each completion makes room for one more */
  while (yielded < producer.limit)
    {
      AgPending *oldest = NULL;
      AgPending *next;

      for (guint i = 0; i < producer.made->len && oldest == NULL; i++)
        if (!ag_pending_is_done (g_ptr_array_index (producer.made, i)))
          oldest = g_ptr_array_index (producer.made, i);
      g_assert_nonnull (oldest);
      ag_pending_set_int (oldest, (gint64) yielded);

      next = yielded % 2 == 0 ? next_sync (iter) : next_async (iter, context);
      assert_next_is (next, oldest);
      yielded++;

      g_assert_cmpuint (ag_as_completed_get_n_in_flight (iter), <=, 3);
    }
  assert_end (iter);
  g_assert_cmpuint (producer.made->len, ==, producer.limit);
  g_assert_cmpuint (producer.calls_when_full, ==, 0);
  g_assert_cmpuint (producer.max_in_flight, ==, 3);
  g_clear_object (&iter);
  g_assert_cmpint (g_atomic_int_get (&producer.destroyed), ==, 1);

  /* Jobs that finish by themselves, in worker threads */
  busy.caller = caller;
  busy.consumer = g_thread_self ();
  ag_test_latch_init (&busy.destroyed);
  busy.limit = ag_test_iterations (40, 400);
  busy_iter = ag_caller_as_completed_full (caller, busy_producer_func, &busy,
                                           busy_destroy, 3, FALSE);
  for (;;)
    {
      AgPending *next = ag_as_completed_next_sync (busy_iter, AG_TEST_TIMEOUT_S,
                                                   &error);

      g_assert_no_error (error);
      if (next == NULL)
        break;
      g_assert_true (ag_pending_is_done (next));
      g_assert_false (g_hash_table_contains (seen, next));
      g_hash_table_add (seen, next);  /* keeps it: addresses are reused */
      g_assert_cmpint (busy.max_in_flight, <=, 3);
    }
  g_assert_cmpuint (g_hash_table_size (seen), ==, busy.limit);
  g_assert_cmpuint (busy.made, ==, busy.limit);
  g_assert_cmpint (busy.max_in_flight, <=, 3);
  g_assert_cmpint (busy.max_in_flight, >=, 1);
  /* The producer's destroy notify runs once (where: see
   * /Caller/destroy-thread/as-completed-producer) */
  g_clear_object (&busy_iter);
  ag_test_latch_wait (&busy.destroyed, 1);
  g_assert_cmpint (latch_get (&busy.destroyed), ==, 1);
  ag_test_latch_clear (&busy.destroyed);

  g_ptr_array_unref (producer.made);
  stop_and_wait (caller);
  ag_test_pop_context (context);
  thread_check_end (&check);
}

/* }}} */

/* {{{ /Caller/destroy-thread/as-completed-producer */

static void
test_as_completed_destroy_thread (void)
{
  ThreadCheck check;
  GMainContext *context;
  AgCaller *caller;
  guint rounds = MAX (ag_test_iterations (100, 1000), 10);
  guint elsewhere = 0;

  thread_check_begin (&check);

  context = ag_test_push_context ();
  caller = ag_caller_get_current ();

  /* Items completed by workers: once the consumer has dropped the
   * iterator, its producer's destroy notify runs in the consumer's thread,
   * never in the worker whose item completed last (STYLE.md, anti-pattern
   * 7: no user GDestroyNotify on a worker) */
  for (guint round = 0; round < rounds; round++)
    {
      g_autoptr(GError) error = NULL;
      AgAsCompleted *iter;
      AgPending *next;
      Busy busy = { NULL, };

      busy.caller = caller;
      busy.consumer = g_thread_self ();
      busy.limit = 4;
      ag_test_latch_init (&busy.destroyed);

      iter = ag_caller_as_completed_full (caller, busy_producer_func, &busy,
                                          busy_destroy, 2, FALSE);
      while ((next = ag_as_completed_next_sync (iter, AG_TEST_TIMEOUT_S,
                                                &error)) != NULL)
        g_object_unref (next);
      g_assert_no_error (error);
      g_object_unref (iter);

      ag_test_latch_wait (&busy.destroyed, 1);
      elsewhere += g_atomic_int_get (&busy.destroyed_elsewhere);
      ag_test_latch_clear (&busy.destroyed);
    }

  g_test_message ("%u of %u destroy notifies ran in another thread",
                  elsewhere, rounds);
  g_assert_cmpuint (elsewhere, ==, 0);

  stop_and_wait (caller);
  ag_test_pop_context (context);
  thread_check_end (&check);
}

/* }}} */

/* {{{ /Caller/as-completed/cancel-unfinished */

static void
check_cancel_unfinished (AgCaller *caller,
                         gboolean  cancel_unfinished,
                         gboolean  by_finalize)
{
  AgAsCompleted *iter;
  AgPending *items[4];

  for (guint i = 0; i < G_N_ELEMENTS (items); i++)
    items[i] = ag_pending_new ();

  iter = ag_caller_as_completed (caller, items, G_N_ELEMENTS (items),
                                 cancel_unfinished);

  /* items[0] is yielded, items[1] done but not yielded yet */
  ag_pending_set_int (items[0], 0);
  assert_next_is (next_sync (iter), items[0]);
  ag_pending_set_int (items[1], 1);

  if (by_finalize)
    {
      g_object_unref (iter);
      iter = NULL;
    }
  else
    {
      g_autoptr(GError) error = NULL;
      AgPending *next;
      guint n_after = 0;

      ag_as_completed_close (iter);
      ag_as_completed_close (iter);

      /* Closed: it ends (NULL, not a timeout) without waiting for the
       * unfinished items; at most it still gives the one done already */
      while ((next = ag_as_completed_next_sync (iter, 0, &error)) != NULL)
        {
          g_assert_true (next == items[1]);
          g_object_unref (next);
          g_assert_cmpuint (++n_after, <=, 1);
        }
      g_assert_no_error (error);
    }

  /* What is done stays as it is; the others are cancelled only if asked */
  ag_test_assert_state (items[0], AG_PENDING_STATE_SUCCEEDED);
  ag_test_assert_state (items[1], AG_PENDING_STATE_SUCCEEDED);
  for (guint i = 2; i < G_N_ELEMENTS (items); i++)
    g_assert_cmpint (ag_pending_is_cancelled (items[i]), ==,
                     cancel_unfinished);

  g_clear_object (&iter);
  for (guint i = 0; i < G_N_ELEMENTS (items); i++)
    g_object_unref (items[i]);
}

static void
test_as_completed_cancel_unfinished (void)
{
  ThreadCheck check;
  GMainContext *context;
  AgCaller *caller;
  g_autoptr(AgCaller) worker = NULL;
  g_autoptr(AgAsCompleted) iter = NULL;
  AgPending *jobs[2];
  Probe probe;
  Gate gate;

  thread_check_begin (&check);
  probe_init (&probe);
  gate_init (&gate);

  context = ag_test_push_context ();
  caller = ag_caller_get_current ();

  check_cancel_unfinished (caller, TRUE, FALSE);
  check_cancel_unfinished (caller, FALSE, FALSE);
  check_cancel_unfinished (caller, TRUE, TRUE);
  check_cancel_unfinished (caller, FALSE, TRUE);

  /* Jobs: the running one sees the request and ends cancelled, the queued
   * one never runs */
  worker = ag_caller_new_thread ("as-completed-jobs");
  jobs[0] = ag_caller_call_soon (worker, gate_job, &gate, NULL);
  jobs[1] = ag_caller_call_soon (worker, probe_job, &probe, NULL);
  iter = ag_caller_as_completed (caller, jobs, G_N_ELEMENTS (jobs), TRUE);
  ag_test_latch_wait (&gate.started, 1);
  ag_as_completed_close (iter);
  gate_open (&gate);
  for (guint i = 0; i < G_N_ELEMENTS (jobs); i++)
    {
      ag_test_wait_done (jobs[i]);
      ag_test_assert_state (jobs[i], AG_PENDING_STATE_CANCELLED);
      g_object_unref (jobs[i]);
    }
  g_assert_cmpint (g_atomic_int_get (&gate.saw_cancelled), ==, 1);
  g_assert_cmpint (g_atomic_int_get (&probe.ran), ==, 0);

  stop_and_wait (worker);
  stop_and_wait (caller);
  ag_test_pop_context (context);
  probe_clear (&probe);
  gate_clear (&gate);
  thread_check_end (&check);
}

/* }}} */

/* {{{ /Caller/wait */

typedef struct
{
  GMainContext *context;
  AgCaller     *caller;
  GPtrArray    *done;      /* owned */
  GPtrArray    *not_done;  /* owned */
  GError       *error;
  gboolean      ok;
  gboolean      owner;
  gint          called;    /* (atomic) */
} Wait;

static void
wait_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      data)
{
  Wait *wait = data;

  g_assert_true (AG_CALLER (source) == wait->caller);
  wait->owner = g_main_context_is_owner (wait->context);
  wait->ok = ag_caller_wait_finish (wait->caller, result, &wait->done,
                                    &wait->not_done, &wait->error);
  g_atomic_int_inc (&wait->called);
}

static void
wait_start (Wait          *wait,
            GMainContext  *context,
            AgCaller      *caller,
            AgPending    **items,
            guint          n_items,
            double         timeout,
            AgReturnWhen   return_when)
{
  memset (wait, 0, sizeof *wait);
  wait->context = context;
  wait->caller = caller;
  ag_caller_wait_async (caller, items, n_items, timeout, return_when, NULL,
                        wait_cb, wait);

  /* Never from inside the call, and not before something happens */
  g_assert_cmpint (g_atomic_int_get (&wait->called), ==, 0);
}

static void
wait_finish (Wait *wait)
{
  ag_test_iterate_until_strict (wait->context, &wait->called, 1);
  ag_test_drain (wait->context);
  g_assert_cmpint (g_atomic_int_get (&wait->called), ==, 1);
  g_assert_true (wait->owner);
  g_assert_no_error (wait->error);
  g_assert_true (wait->ok);
  g_assert_nonnull (wait->done);
  g_assert_nonnull (wait->not_done);
}

static void
wait_clear (Wait *wait)
{
  g_clear_pointer (&wait->done, g_ptr_array_unref);
  g_clear_pointer (&wait->not_done, g_ptr_array_unref);
  g_clear_error (&wait->error);
}

/* @array holds exactly the items of @items whose bit is set in @mask. */
static void
assert_items (GPtrArray  *array,
              AgPending **items,
              guint       n_items,
              guint       mask)
{
  guint expected = 0;

  for (guint i = 0; i < n_items; i++)
    if (mask & (1u << i))
      {
        expected++;
        if (!array_contains (array, items[i]))
          g_error ("item %u is missing", i);
      }
  g_assert_cmpuint (array->len, ==, expected);
}

static void
new_items (AgPending **items,
           guint       n_items)
{
  for (guint i = 0; i < n_items; i++)
    items[i] = ag_pending_new ();
}

static void
free_items (AgPending **items,
            guint       n_items)
{
  for (guint i = 0; i < n_items; i++)
    g_object_unref (items[i]);
}

static void
fail_item (AgPending *item)
{
  ag_pending_take_error (item, g_error_new_literal (G_IO_ERROR,
                                                    G_IO_ERROR_FAILED,
                                                    "failed"));
}

static void
test_wait_first_completed (void)
{
  GMainContext *context = ag_test_push_context ();
  AgCaller *caller = ag_caller_get_current ();
  AgPending *items[3];
  Wait wait;
  GThread *thread;

  /* Returns with the first to complete, here in another thread */
  new_items (items, 3);
  wait_start (&wait, context, caller, items, 3, -1,
              AG_RETURN_WHEN_FIRST_COMPLETED);
  ag_test_drain (context);
  g_assert_cmpint (g_atomic_int_get (&wait.called), ==, 0);
  thread = g_thread_new ("completer", set_int_thread_func, items[1]);
  g_thread_join (thread);
  wait_finish (&wait);
  assert_items (wait.done, items, 3, 0x2);
  assert_items (wait.not_done, items, 3, 0x5);
  g_assert_false (ag_pending_is_cancelled (items[0]));
  g_assert_false (ag_pending_is_cancelled (items[2]));
  wait_clear (&wait);
  free_items (items, 3);

  /* One done already: still delivered later, on this thread */
  new_items (items, 3);
  fail_item (items[2]);
  wait_start (&wait, context, caller, items, 3, -1,
              AG_RETURN_WHEN_FIRST_COMPLETED);
  wait_finish (&wait);
  assert_items (wait.done, items, 3, 0x4);
  assert_items (wait.not_done, items, 3, 0x3);
  wait_clear (&wait);
  free_items (items, 3);

  stop_and_wait (caller);
  ag_test_pop_context (context);
}

static void
test_wait_first_exception (void)
{
  GMainContext *context = ag_test_push_context ();
  AgCaller *caller = ag_caller_get_current ();
  AgPending *items[3];
  Wait wait;

  /* A success is not enough; a failure is */
  new_items (items, 3);
  wait_start (&wait, context, caller, items, 3, -1,
              AG_RETURN_WHEN_FIRST_EXCEPTION);
  ag_pending_set_int (items[0], 0);
  ag_test_drain (context);
  g_assert_cmpint (g_atomic_int_get (&wait.called), ==, 0);
  fail_item (items[2]);
  wait_finish (&wait);
  assert_items (wait.done, items, 3, 0x5);
  assert_items (wait.not_done, items, 3, 0x2);
  g_assert_false (ag_pending_is_cancelled (items[1]));
  wait_clear (&wait);
  free_items (items, 3);

  /* So is a cancellation */
  new_items (items, 3);
  wait_start (&wait, context, caller, items, 3, -1,
              AG_RETURN_WHEN_FIRST_EXCEPTION);
  ag_pending_cancel (items[1], "cancelled");
  ag_pending_set_value (items[1], NULL);
  ag_test_assert_state (items[1], AG_PENDING_STATE_CANCELLED);
  wait_finish (&wait);
  assert_items (wait.done, items, 3, 0x2);
  assert_items (wait.not_done, items, 3, 0x5);
  wait_clear (&wait);
  free_items (items, 3);

  /* With no failure, it waits for all */
  new_items (items, 3);
  wait_start (&wait, context, caller, items, 3, -1,
              AG_RETURN_WHEN_FIRST_EXCEPTION);
  ag_pending_set_int (items[0], 0);
  ag_pending_set_int (items[2], 2);
  ag_test_drain (context);
  g_assert_cmpint (g_atomic_int_get (&wait.called), ==, 0);
  ag_pending_set_int (items[1], 1);
  wait_finish (&wait);
  assert_items (wait.done, items, 3, 0x7);
  assert_items (wait.not_done, items, 3, 0x0);
  wait_clear (&wait);
  free_items (items, 3);

  stop_and_wait (caller);
  ag_test_pop_context (context);
}

static void
test_wait_all_completed (void)
{
  ThreadCheck check;
  GMainContext *context;
  AgCaller *caller;
  g_autoptr(AgCaller) worker = NULL;
  AgPending *items[3];
  Wait wait;

  thread_check_begin (&check);
  context = ag_test_push_context ();
  caller = ag_caller_get_current ();

  /* Failures do not end it early */
  new_items (items, 3);
  wait_start (&wait, context, caller, items, 3, -1,
              AG_RETURN_WHEN_ALL_COMPLETED);
  ag_pending_set_int (items[0], 0);
  fail_item (items[1]);
  ag_test_drain (context);
  g_assert_cmpint (g_atomic_int_get (&wait.called), ==, 0);
  ag_pending_set_int (items[2], 2);
  wait_finish (&wait);
  assert_items (wait.done, items, 3, 0x7);
  assert_items (wait.not_done, items, 3, 0x0);
  wait_clear (&wait);
  free_items (items, 3);

  /* Jobs of another thread */
  worker = ag_caller_new_thread ("wait-all");
  for (guint i = 0; i < 3; i++)
    items[i] = ag_caller_call_soon (worker, ag_test_set_int_job,
                                    GINT_TO_POINTER (i), NULL);
  wait_start (&wait, context, caller, items, 3, -1,
              AG_RETURN_WHEN_ALL_COMPLETED);
  wait_finish (&wait);
  assert_items (wait.done, items, 3, 0x7);
  assert_items (wait.not_done, items, 3, 0x0);
  wait_clear (&wait);
  free_items (items, 3);

  stop_and_wait (worker);
  stop_and_wait (caller);
  ag_test_pop_context (context);
  thread_check_end (&check);
}

static void
test_wait_timeout (void)
{
  GMainContext *context = ag_test_push_context ();
  AgCaller *caller = ag_caller_get_current ();
  AgPending *items[3];
  Wait wait;
  gint64 start;

  /* A timeout is not a failure, and cancels nothing */
  for (AgReturnWhen when = AG_RETURN_WHEN_FIRST_COMPLETED;
       when <= AG_RETURN_WHEN_ALL_COMPLETED;
       when++)
    {
      new_items (items, 3);
      if (when != AG_RETURN_WHEN_FIRST_COMPLETED)
        ag_pending_set_int (items[0], 0);
      start = g_get_monotonic_time ();
      wait_start (&wait, context, caller, items, 3, 0.05, when);
      wait_finish (&wait);
      g_assert_cmpint (g_get_monotonic_time () - start, >=,
                       (gint64) (0.05 * G_USEC_PER_SEC));
      if (when != AG_RETURN_WHEN_FIRST_COMPLETED)
        {
          assert_items (wait.done, items, 3, 0x1);
          assert_items (wait.not_done, items, 3, 0x6);
        }
      else
        {
          assert_items (wait.done, items, 3, 0x0);
          assert_items (wait.not_done, items, 3, 0x7);
        }
      for (guint i = 0; i < 3; i++)
        g_assert_false (ag_pending_is_cancelled (items[i]));
      g_assert_false (ag_pending_is_done (items[1]));
      wait_clear (&wait);
      free_items (items, 3);
    }

  stop_and_wait (caller);
  ag_test_pop_context (context);
}

/* }}} */

/* {{{ Waking across CPUs */

typedef struct
{
  gint   delivered;  /* (atomic) */
  gint   wrong;      /* (atomic) */
  gint64 expected;
  gint   timer_ran;  /* (atomic) */
} SpinRun;

static gboolean
pin_to_cpu (int cpu)
{
#ifdef __linux__
  cpu_set_t set;

  CPU_ZERO (&set);
  CPU_SET (cpu, &set);
  return sched_setaffinity (0, sizeof set, &set) == 0;
#else
  return FALSE;
#endif
}

static AgPending *
spin_job (AgPending *pending,
          gpointer   data)
{
  static __thread gboolean pinned;

  if (!pinned)
    pinned = pin_to_cpu (1);
  ag_pending_set_int (pending, GPOINTER_TO_INT (data) * 3);
  return NULL;
}

static void
spin_delivered_cb (AgPending *pending,
                   gpointer   data)
{
  SpinRun *run = data;
  g_autoptr(GError) error = NULL;

  if (ag_pending_get_int (pending, &error) != run->expected)
    g_atomic_int_inc (&run->wrong);
  g_atomic_int_inc (&run->delivered);
}

static AgPending *
spin_timer_job (AgPending *pending,
                gpointer   data)
{
  SpinRun *run = data;

  g_atomic_int_inc (&run->timer_ran);
  return NULL;
}

/* A thread caller on another CPU than the thread that feeds it looks for
 * work a while before it sleeps, with pushes told not to wake it: no job,
 * result or timer is lost or doubled on the way, whichever side is asleep
 * or spinning when the other pushes. (Spinning itself is timing, not
 * tested here; AG_SPIN_US=0 runs this suite with it off.) */
static void
test_wake_across_cpus (void)
{
  guint n = ag_test_iterations (2000, 20000);
  g_autoptr(AgCaller) worker = NULL;
  GMainContext *context;
  AgCaller *current;
  SpinRun run = { 0, };
#ifdef __linux__
  cpu_set_t saved;
#endif

  if (g_get_num_processors () < 2)
    {
      g_test_skip ("needs two CPUs");
      return;
    }
#ifdef __linux__
  g_assert_cmpint (sched_getaffinity (0, sizeof saved, &saved), ==, 0);
#endif
  if (!pin_to_cpu (0))
    {
      g_test_skip ("cannot pin threads to CPUs");
      return;
    }

  context = ag_test_push_context ();
  current = ag_caller_get_current ();
  worker = ag_caller_new_thread ("spinner");

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(AgPending) pending = NULL;

      run.expected = (gint64) i * 3;
      pending = ag_caller_call_soon (worker, spin_job, GUINT_TO_POINTER (i),
                                     NULL);
      ag_pending_add_done_callback_on (pending, current, spin_delivered_cb,
                                       &run, NULL);
      ag_test_iterate_until (context, &run.delivered, (gint) i + 1);
      g_assert_cmpint (g_atomic_int_get (&run.delivered), ==, (gint) i + 1);

      /* A timer pushed right after a delivery, while the worker is likely
       * still spinning: it runs when due, not when something else wakes
       * the worker. */
      if (i % 200 == 0)
        {
          gint before = g_atomic_int_get (&run.timer_ran);
          g_autoptr(AgPending) timer =
            ag_caller_call_later (worker, 0.002, spin_timer_job, &run, NULL);

          ag_test_wait_done (timer);
          ag_test_assert_state (timer, AG_PENDING_STATE_SUCCEEDED);
          g_assert_cmpint (g_atomic_int_get (&run.timer_ran), ==, before + 1);
        }
    }

  g_assert_cmpint (g_atomic_int_get (&run.wrong), ==, 0);
  ag_test_drain (context);
  g_assert_cmpint (g_atomic_int_get (&run.delivered), ==, (gint) n);

  stop_and_wait (worker);
  ag_test_pop_context (context);
#ifdef __linux__
  sched_setaffinity (0, sizeof saved, &saved);
#endif
}

/* }}} */

/* {{{ /Caller/nested-loop */

typedef struct
{
  GMainContext *context;      /* the caller's */
  AgCaller     *caller;
  AgPending    *from_other;   /* queued by another thread during the loop */
  gint          later_ran;    /* (atomic) */
  gint          ran_inside;   /* (atomic) a job ran inside the nested loop */
  gint          nested_done;  /* (atomic) */
  gint          timed_out;    /* (atomic) the nested loop's bound */
} Nested;

static AgPending *
nested_later_job (AgPending *pending,
                  gpointer   data)
{
  Nested *nested = data;

  if (!g_atomic_int_get (&nested->nested_done))
    g_atomic_int_inc (&nested->ran_inside);
  g_atomic_int_inc (&nested->later_ran);
  return NULL;
}

static gpointer
nested_push_thread (gpointer data)
{
  Nested *nested = data;

  nested->from_other = ag_caller_call_soon (nested->caller, nested_later_job,
                                            nested, NULL);
  return NULL;
}

/* Runs a loop on its own caller's context, as a modal dialog would, while
 * jobs are queued to the caller from this thread and from another one:
 * they run after this job, never inside it. */
static AgPending *
nested_outer_job (AgPending *pending,
                  gpointer   data)
{
  Nested *nested = data;
  GSource *bound = g_timeout_source_new (50);
  GThread *pusher;

  g_source_set_callback (bound, ag_test_set_flag_cb, &nested->timed_out,
                         NULL);
  g_source_attach (bound, nested->context);

  g_object_unref (ag_caller_call_soon (nested->caller, nested_later_job,
                                       nested, NULL));
  pusher = g_thread_new ("nested-pusher", nested_push_thread, nested);

  while (!g_atomic_int_get (&nested->timed_out))
    g_main_context_iteration (nested->context, TRUE);

  g_thread_join (pusher);
  g_source_destroy (bound);
  g_source_unref (bound);
  g_atomic_int_set (&nested->nested_done, 1);
  return NULL;
}

static void
nested_check (Nested    *nested,
              AgPending *outer)
{
  ag_test_assert_state (outer, AG_PENDING_STATE_SUCCEEDED);
  g_assert_cmpint (g_atomic_int_get (&nested->later_ran), ==, 2);
  g_assert_cmpint (g_atomic_int_get (&nested->ran_inside), ==, 0);
  g_assert_cmpint (g_atomic_int_get (&nested->timed_out), ==, 1);
  g_clear_object (&nested->from_other);
}

static void
test_nested_loop (void)
{
  ThreadCheck check;
  Nested nested = { NULL, };
  g_autoptr(AgPending) outer = NULL;
  g_autoptr(AgCaller) caller = NULL;
  GMainContext *context;

  thread_check_begin (&check);

  /* A caller that owns its thread */
  caller = ag_caller_new_thread ("nested");
  nested.caller = caller;
  nested.context = ag_caller_get_context (caller);
  outer = ag_caller_call_soon (caller, nested_outer_job, &nested, NULL);
  ag_test_wait_done (outer);
  ag_test_wait_done (nested.from_other);
  stop_and_wait (caller);
  nested_check (&nested, outer);
  g_clear_object (&outer);

  /* A guest, whose host loop runs in this thread */
  memset (&nested, 0, sizeof nested);
  context = ag_test_push_context ();
  nested.caller = ag_caller_get_current ();
  nested.context = context;
  outer = ag_caller_call_soon (nested.caller, nested_outer_job, &nested,
                               NULL);
  ag_test_iterate_until_done (context, outer);
  ag_test_iterate_until (context, &nested.later_ran, 2);
  nested_check (&nested, outer);
  stop_and_wait (nested.caller);
  ag_test_pop_context (context);

  thread_check_end (&check);
}

/* }}} */

/* {{{ /Caller/nested-loop/batch-end */

/* A dispatch takes the whole queue and runs what max-batch-size allows: a
 * loop nested in its first job delivers the done callback at the end of
 * that batch, and the rest of the batch goes back before what was queued
 * meanwhile. */

typedef struct
{
  GMainContext *context;
  AgCaller     *caller;
  GString      *log;
  gint          done_ran;  /* (atomic) */
  gint          ran;       /* (atomic) jobs and callbacks run */
} BatchEnd;

static BatchEnd batch_end;

static void
batch_end_record (const char *what)
{
  g_string_append (batch_end.log, what);
  g_atomic_int_inc (&batch_end.ran);
}

static AgPending *
batch_end_job (AgPending *pending,
               gpointer   data)
{
  batch_end_record (data);
  return NULL;
}

static void
batch_end_done_cb (AgPending *pending,
                   gpointer   data)
{
  batch_end_record ("D");
  g_atomic_int_inc (&batch_end.done_ran);
}

static AgPending *
batch_end_outer_job (AgPending *pending,
                     gpointer   data)
{
  batch_end_record ("A");

  /* queued while the batch runs: after its rest */
  g_object_unref (ag_caller_call_soon (batch_end.caller, batch_end_job, "C",
                                       NULL));

  ag_test_iterate_until_strict (batch_end.context, &batch_end.done_ran, 1);
  return NULL;
}

static void
test_nested_loop_batch_end (void)
{
  ThreadCheck check;
  BatchEnd *be = &batch_end;
  g_autoptr(AgPending) outer = NULL;
  g_autoptr(AgPending) second = NULL;
  g_autoptr(AgPending) followed = NULL;

  thread_check_begin (&check);

  memset (be, 0, sizeof *be);
  be->context = ag_test_push_context ();
  be->caller = ag_caller_get_current ();
  be->log = g_string_new (NULL);
  ag_caller_set_max_batch_size (be->caller, 1);

  /* The queue, before the loop runs: A, B, then the done callback D */
  outer = ag_caller_call_soon (be->caller, batch_end_outer_job, NULL, NULL);
  second = ag_caller_call_soon (be->caller, batch_end_job, "B", NULL);
  followed = ag_pending_new ();
  ag_pending_add_done_callback_on (followed, be->caller, batch_end_done_cb,
                                   NULL, NULL);
  ag_pending_set_int (followed, 1);
  g_assert_cmpstr (be->log->str, ==, "");

  /* One dispatch: A, and D inside it (max-batch-size 1) */
  g_main_context_iteration (be->context, FALSE);
  g_assert_cmpstr (be->log->str, ==, "AD");
  g_assert_true (ag_pending_is_done (outer));
  g_assert_false (ag_pending_is_done (second));
  g_assert_cmpuint (ag_caller_get_max_dispatched (be->caller), ==, 1);

  /* Then the rest of the batch, then what A queued */
  ag_test_iterate_until (be->context, &be->ran, 4);
  g_assert_cmpstr (be->log->str, ==, "ADBC");
  ag_test_assert_state (outer, AG_PENDING_STATE_SUCCEEDED);
  ag_test_assert_state (second, AG_PENDING_STATE_SUCCEEDED);

  stop_and_wait (be->caller);
  ag_test_pop_context (be->context);
  g_string_free (g_steal_pointer (&be->log), TRUE);

  thread_check_end (&check);
}

/* }}} */

/* {{{ /Caller/to-thread/pool/await-pool-job, /Caller/nested-loop/... */

static AgPending *
await_inner_job (AgPending *pending,
                 gpointer   data)
{
  ag_pending_set_int (pending, GPOINTER_TO_INT (data));
  return NULL;
}

typedef struct
{
  AgCaller      *pool;
  AgTestBarrier *all_running;  /* NULL: do not wait for the others */
  gint           value;
  gboolean       later;        /* set own pending later, not follow */
} AwaitOuter;

static void
await_copy_cb (AgPending *inner,
               gpointer   data)
{
  AgPending *outer = data;
  g_autoptr(GError) error = NULL;
  gint64 value = ag_pending_get_int (inner, &error);

  g_assert_no_error (error);
  ag_pending_set_int (outer, value);
}

/* Awaits another job of the same pool, which must get a worker although
 * every worker holds such an outer job. */
static AgPending *
await_outer_job (AgPending *pending,
                 gpointer   data)
{
  AwaitOuter *outer = data;
  AgPending *inner;

  if (outer->all_running != NULL)
    ag_test_barrier_wait (outer->all_running);

  inner = ag_caller_to_thread (outer->pool, await_inner_job,
                               GINT_TO_POINTER (outer->value), NULL);
  if (!outer->later)
    return inner;  /* follow it */

  ag_pending_add_done_callback (inner, await_copy_cb,
                                g_object_ref (pending), g_object_unref);
  g_object_unref (inner);
  return g_object_ref (pending);  /* set later */
}

typedef struct
{
  AgTestLatch returned;   /* the job returned its own pending */
  GThread    *thread;     /* the job's worker thread */
  GThread    *timer_thread;
} LaterOnWorker;

static gboolean
later_timer_cb (gpointer data)
{
  AgPending *pending = data;
  LaterOnWorker *low = g_object_get_data (G_OBJECT (pending), "low");

  low->timer_thread = g_thread_self ();
  ag_pending_set_int (pending, 5);
  return G_SOURCE_REMOVE;
}

/* Sets its outcome later, from a timer on its worker's own context. */
static AgPending *
later_on_worker_job (AgPending *pending,
                     gpointer   data)
{
  LaterOnWorker *low = data;
  GSource *timer = g_timeout_source_new (20);

  low->thread = g_thread_self ();
  g_object_set_data (G_OBJECT (pending), "low", low);
  g_source_set_callback (timer, later_timer_cb, g_object_ref (pending),
                         g_object_unref);
  g_source_attach (timer, g_main_context_get_thread_default ());
  g_source_unref (timer);
  ag_test_latch_set (&low->returned, 1);
  return g_object_ref (pending);
}

static AgPending *
other_worker_job (AgPending *pending,
                  gpointer   data)
{
  ag_pending_set_int (pending, GPOINTER_TO_INT (g_thread_self () == data));
  return NULL;
}

/* A pool job that waits on its worker's own loop keeps that worker (no
 * other job runs there meanwhile, no idle limit stops it), while it no
 * longer counts against max-workers. */
static void
test_to_thread_pool_later_on_worker (void)
{
  ThreadCheck check;
  GMainContext *context;
  AgCaller *parent;
  LaterOnWorker low = { 0, };
  g_autoptr(AgPending) later = NULL;
  g_autoptr(AgPending) other = NULL;
  g_autoptr(GError) error = NULL;

  thread_check_begin (&check);
  ag_test_latch_init (&low.returned);
  context = ag_test_push_context ();
  parent = ag_caller_get_current ();
  ag_caller_set_max_workers (parent, 1);
  ag_caller_set_max_idle_workers (parent, 0);

  later = ag_caller_to_thread (parent, later_on_worker_job, &low, NULL);
  ag_test_latch_wait (&low.returned, 1);
  other = ag_caller_to_thread (parent, other_worker_job, low.thread, NULL);

  ag_test_wait_done (other);
  g_assert_cmpint (ag_pending_get_int (other, &error), ==, 0);  /* elsewhere */
  g_assert_no_error (error);
  ag_test_wait_done (later);
  ag_test_assert_state (later, AG_PENDING_STATE_SUCCEEDED);
  g_assert_cmpint (ag_pending_get_int (later, &error), ==, 5);
  g_assert_true (low.timer_thread == low.thread);

  stop_and_wait (parent);
  ag_test_pop_context (context);
  ag_test_latch_clear (&low.returned);
  thread_check_end (&check);
}

static void
test_to_thread_pool_await (void)
{
  ThreadCheck check;
  GMainContext *context;
  AgCaller *parent;
  guint n_workers[] = { 1, 3 };

  thread_check_begin (&check);
  context = ag_test_push_context ();
  parent = ag_caller_get_current ();

  for (guint k = 0; k < G_N_ELEMENTS (n_workers); k++)
    for (guint later = 0; later < 2; later++)
      {
        guint n = n_workers[k];
        g_autofree AwaitOuter *outers = g_new0 (AwaitOuter, n);
        g_autofree AgPending **pendings = g_new0 (AgPending *, n);
        AgTestBarrier all_running;

        /* every worker holds an outer job before any inner one exists */
        ag_test_barrier_init (&all_running, n);
        ag_caller_set_max_workers (parent, n);
        for (guint i = 0; i < n; i++)
          {
            outers[i].pool = parent;
            outers[i].all_running = &all_running;
            outers[i].value = (gint) (100 * k + 10 * later + i);
            outers[i].later = later;
            pendings[i] = ag_caller_to_thread (parent, await_outer_job,
                                               &outers[i], NULL);
          }
        for (guint i = 0; i < n; i++)
          {
            g_autoptr(GError) error = NULL;

            ag_test_wait_done (pendings[i]);
            g_assert_cmpint (ag_pending_get_int (pendings[i], &error), ==,
                             outers[i].value);
            g_assert_no_error (error);
            g_object_unref (pendings[i]);
          }
        /* the outer jobs keep their workers (they do not count while they
         * wait), the inner ones get others */
        g_assert_cmpuint (n_children (parent), <=, 2 * n);
      }

  stop_and_wait (parent);
  ag_test_pop_context (context);
  thread_check_end (&check);
}

typedef struct
{
  AgPending   *awaited;
  AgTestLatch  in_loop;
  gint        *until;        /* what nested_until_job () waits for */
  gint         wait_calls;   /* (atomic) */
  gboolean     wait_ok;
  GError      *wait_error;
  gint         notified;     /* (atomic) */
  gint         timed_out;    /* (atomic) */
} NestedWait;

static void
nested_wait_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      data)
{
  NestedWait *nw = data;

  nw->wait_ok = ag_pending_wait_finish (AG_PENDING (source), result,
                                        &nw->wait_error);
  g_atomic_int_inc (&nw->wait_calls);
}

static void
nested_notify_cb (GObject    *object,
                  GParamSpec *pspec,
                  gpointer    data)
{
  NestedWait *nw = data;

  if (ag_pending_is_done (AG_PENDING (object)))
    g_atomic_int_inc (&nw->notified);
}

static void
nested_noop_cb (AgPending *pending,
                gpointer   data)
{
}

static gpointer
nested_complete_thread (gpointer data)
{
  NestedWait *nw = data;

  ag_test_latch_wait (&nw->in_loop, 1);
  ag_pending_set_int (nw->awaited, 7);
  return NULL;
}

/* Runs the caller's context until @flag is set, bounded. */
static void
nested_loop_until (NestedWait *nw,
                   gint       *flag)
{
  GMainContext *context = g_main_context_get_thread_default ();
  GSource *bound = g_timeout_source_new (AG_TEST_TIMEOUT_MSEC);

  g_source_set_callback (bound, ag_test_set_flag_cb, &nw->timed_out, NULL);
  g_source_attach (bound, context);
  ag_test_latch_set (&nw->in_loop, 1);
  while (!g_atomic_int_get (flag) && !g_atomic_int_get (&nw->timed_out))
    g_main_context_iteration (context, TRUE);
  g_source_destroy (bound);
  g_source_unref (bound);
}

/* In a job: wait_async, then a nested loop until the wait ends (the
 * synchronous-over-asynchronous pattern of a modal dialog). */
static AgPending *
nested_wait_job (AgPending *pending,
                 gpointer   data)
{
  NestedWait *nw = data;

  ag_pending_wait_async (nw->awaited, 60.0, FALSE, NULL, nested_wait_cb, nw);
  nested_loop_until (nw, &nw->wait_calls);
  return NULL;
}

/* In a job: a nested loop until @nw->until is set (notify::state saying
 * the pending is done, or a wait started before the job ending). */
static AgPending *
nested_until_job (AgPending *pending,
                  gpointer   data)
{
  NestedWait *nw = data;

  nested_loop_until (nw, nw->until);
  return NULL;
}

/* The wait ended once, with the outcome, before the loop's bound; then
 * stops @caller and clears @nw. */
static void
nested_wait_end (NestedWait *nw,
                 AgCaller   *caller)
{
  g_assert_cmpint (g_atomic_int_get (&nw->timed_out), ==, 0);
  g_assert_cmpint (g_atomic_int_get (&nw->wait_calls), ==, 1);
  g_assert_no_error (nw->wait_error);
  g_assert_true (nw->wait_ok);

  stop_and_wait (caller);
  g_clear_error (&nw->wait_error);
  g_object_unref (nw->awaited);
  ag_test_latch_clear (&nw->in_loop);
}

/* On a new caller named @name: @setup (if any), then @job, whose nested
 * loop runs while another thread completes @nw->awaited. Returns the
 * caller. */
static AgCaller *
nested_run (const char *name,
            NestedWait *nw,
            AgJobFunc   setup,
            AgJobFunc   job)
{
  AgCaller *caller = ag_caller_new_thread (name);
  g_autoptr(AgPending) outer = NULL;
  GThread *completer;

  if (setup != NULL)
    {
      g_autoptr(AgPending) done = ag_caller_call_soon (caller, setup, nw,
                                                       NULL);

      ag_test_wait_done (done);
    }
  completer = g_thread_new ("completer", nested_complete_thread, nw);
  outer = ag_caller_call_soon (caller, job, nw, NULL);
  ag_test_wait_done (outer);
  g_thread_join (completer);

  ag_test_assert_state (outer, AG_PENDING_STATE_SUCCEEDED);
  return caller;
}

static AgPending *
start_wait_job (AgPending *pending,
                gpointer   data)
{
  NestedWait *nw = data;

  ag_pending_wait_async (nw->awaited, 60.0, FALSE, NULL, nested_wait_cb, nw);
  return NULL;
}

/* Makes the pending to await in the caller's thread (its notifications
 * belong to the caller's context), with a done callback there. */
static AgPending *
add_done_on_job (AgPending *pending,
                 gpointer   data)
{
  NestedWait *nw = data;

  nw->awaited = ag_pending_new ();
  g_signal_connect (nw->awaited, "notify::state",
                    G_CALLBACK (nested_notify_cb), nw);
  ag_pending_add_done_callback_on (nw->awaited, ag_caller_get_current (),
                                   nested_noop_cb, NULL, NULL);
  return NULL;
}

static void
test_nested_loop_waits (void)
{
  ThreadCheck check;

  thread_check_begin (&check);

  /* wait_async inside the job, completed while its nested loop runs: the
   * wait ends there, with the outcome (not the 60 s timeout) */
  {
    g_autoptr(AgCaller) caller = NULL;
    NestedWait nw = { NULL, };

    ag_test_latch_init (&nw.in_loop);
    nw.awaited = ag_pending_new ();
    caller = nested_run ("nested-wait", &nw, NULL, nested_wait_job);
    nested_wait_end (&nw, caller);
  }

  /* notify::state of a pending with a done callback on this caller,
   * completed while a job's nested loop runs: heard there */
  {
    g_autoptr(AgCaller) caller = NULL;
    NestedWait nw = { NULL, };

    ag_test_latch_init (&nw.in_loop);
    nw.until = &nw.notified;
    caller = nested_run ("nested-notify", &nw, add_done_on_job,
                         nested_until_job);
    g_assert_cmpint (g_atomic_int_get (&nw.timed_out), ==, 0);
    g_assert_cmpint (g_atomic_int_get (&nw.notified), ==, 1);
    stop_and_wait (caller);
    g_object_unref (nw.awaited);
    ag_test_latch_clear (&nw.in_loop);
  }

  /* a wait started by an earlier job of the caller, completed while a
   * later job's nested loop runs: it ends there */
  {
    g_autoptr(AgCaller) caller = NULL;
    NestedWait nw = { NULL, };

    ag_test_latch_init (&nw.in_loop);
    nw.awaited = ag_pending_new ();
    nw.until = &nw.wait_calls;
    caller = nested_run ("nested-earlier", &nw, start_wait_job,
                         nested_until_job);
    nested_wait_end (&nw, caller);
  }

  /* The same, with the wait's delivery already taken off the queue in the
   * batch that runs the job with the nested loop (queued behind it while
   * an earlier job blocked the caller) */
  {
    g_autoptr(AgCaller) caller = ag_caller_new_thread ("nested-batch");
    g_autoptr(AgPending) setup = NULL;
    g_autoptr(AgPending) gate = NULL;
    g_autoptr(AgPending) outer = NULL;
    NestedWait nw = { NULL, };
    Gate gate_data;

    ag_test_latch_init (&nw.in_loop);
    gate_init (&gate_data);
    nw.awaited = ag_pending_new ();
    nw.until = &nw.wait_calls;
    setup = ag_caller_call_soon (caller, start_wait_job, &nw, NULL);
    ag_test_wait_done (setup);

    gate = ag_caller_call_soon (caller, gate_job, &gate_data, NULL);
    ag_test_latch_wait (&gate_data.started, 1);
    outer = ag_caller_call_soon (caller, nested_until_job, &nw, NULL);
    g_assert_true (ag_pending_set_int (nw.awaited, 7));  /* queues the wait's */
    gate_open (&gate_data);

    ag_test_wait_done (outer);
    ag_test_wait_done (gate);
    nested_wait_end (&nw, caller);
    gate_clear (&gate_data);
  }

  thread_check_end (&check);
}

/* }}} */

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_summary ("The specification of AgCaller: current, main, thread and "
                  "guest callers, scheduling and ordering, batches, jobs "
                  "and their outcomes, cancellation, worker pool, children, "
                  "per-key queues, stopping, deadlock detection, "
                  "as_completed, wait, registry and misuse");

  g_test_add_func ("/Caller/get-current", test_get_current);
  g_test_add_func ("/Caller/new-thread", test_new_thread);
  g_test_add_func ("/Caller/new-guest", test_new_guest);
  g_test_add_func ("/Caller/properties", test_properties);
  g_test_add_func ("/Caller/ordering", test_ordering);
  g_test_add_func ("/Caller/queue", test_queue);
  g_test_add_func ("/Caller/guest/host-loop", test_guest_host_loop);
  g_test_add_func ("/Caller/call-later", test_call_later);
  g_test_add_func ("/Caller/call-direct", test_call_direct);
  g_test_add_func ("/Caller/jobs/outcomes", test_job_outcomes);
  g_test_add_func ("/Caller/cancel/before-start", test_cancel_before_start);
  g_test_add_func ("/Caller/cancel/own-canceller",
                   test_cancel_own_canceller);
  g_test_add_func ("/Caller/cancel/running", test_cancel_running);
  g_test_add_func ("/Caller/cancel/cross-thread", test_cancel_cross_thread);
  g_test_add_func ("/Caller/cancel/followed", test_cancel_followed);
  g_test_add_func ("/Caller/done-callback-on", test_done_callback_on);
  g_test_add_func ("/Caller/to-thread/basic", test_to_thread_basic);
  g_test_add_func ("/Caller/to-thread/reuse", test_to_thread_reuse);
  g_test_add_func ("/Caller/to-thread/idle-reaping",
                   test_to_thread_idle_reaping);
  g_test_add_func ("/Caller/to-thread/idle-reaping/returned-elsewhere",
                   test_to_thread_idle_reaping_returned_elsewhere);
  g_test_add_func ("/Caller/to-thread/idle-reaping/timeout-set-later",
                   test_to_thread_idle_reaping_timeout_set_later);
  g_test_add_func ("/Caller/to-thread/idle-reaping/busy-worker",
                   test_to_thread_idle_reaping_busy_worker);
  g_test_add_func ("/Caller/to-thread/idle-reaping/not-before",
                   test_to_thread_idle_reaping_not_before);
  g_test_add_func ("/Caller/to-thread/max-idle-workers",
                   test_to_thread_max_idle_workers);
  g_test_add_func ("/Caller/to-thread/pool/first-free-worker",
                   test_to_thread_pool_first_free_worker);
  g_test_add_func ("/Caller/to-thread/pool/raise-max-workers",
                   test_to_thread_pool_raise_max_workers);
  g_test_add_func ("/Caller/to-thread/pool/cancel-waiting",
                   test_to_thread_pool_cancel_waiting);
  g_test_add_func ("/Caller/to-thread/pool/stop-cancels-waiting",
                   test_to_thread_pool_stop_cancels_waiting);
  g_test_add_func ("/Caller/to-thread/pool/stop-busy-worker",
                   test_to_thread_pool_stop_busy_worker);
  g_test_add_func ("/Caller/to-thread/pool/burst",
                   test_to_thread_pool_burst);
  g_test_add_func ("/Caller/to-thread/pool/idle-wake-chain",
                   test_to_thread_pool_idle_wake_chain);
  g_test_add_func ("/Caller/child", test_child);
  g_test_add_func ("/Caller/child/dup-outlives-stop",
                   test_child_dup_outlives_stop);
  g_test_add_func ("/Caller/stop/queued-and-running",
                   test_stop_queued_and_running);
  g_test_add_func ("/Caller/stop/children-first", test_stop_children_first);
  g_test_add_func ("/Caller/stop/protected", test_stop_protected);
  g_test_add_func ("/Caller/stop/after-stop", test_stop_after_stop);
  g_test_add_func ("/Caller/stop/repeated", test_stop_repeated);
  g_test_add_func ("/Caller/deadlock", test_deadlock);
  g_test_add_func ("/Caller/deadlock/main-pumped-elsewhere",
                   test_deadlock_main_pumped_elsewhere);
  g_test_add_func ("/Caller/deadlock/main-loop-elsewhere",
                   test_deadlock_main_loop_elsewhere);
  g_test_add_func ("/Caller/nested-loop", test_nested_loop);
  g_test_add_func ("/Caller/nested-loop/batch-end",
                   test_nested_loop_batch_end);
  g_test_add_func ("/Caller/nested-loop/waits", test_nested_loop_waits);
  g_test_add_func ("/Caller/to-thread/pool/await-pool-job",
                   test_to_thread_pool_await);
  g_test_add_func ("/Caller/to-thread/pool/later-on-worker",
                   test_to_thread_pool_later_on_worker);
  g_test_add_func ("/Caller/wake/across-cpus", test_wake_across_cpus);
  g_test_add_func ("/Caller/registry", test_registry);
  g_test_add_func ("/Caller/bad-args", test_bad_args);
  g_test_add_func ("/Caller/as-completed/order", test_as_completed_order);
  g_test_add_func ("/Caller/as-completed/max-concurrent",
                   test_as_completed_max_concurrent);
  g_test_add_func ("/Caller/as-completed/cancel-unfinished",
                   test_as_completed_cancel_unfinished);
  g_test_add_func ("/Caller/wait/first-completed", test_wait_first_completed);
  g_test_add_func ("/Caller/wait/first-exception", test_wait_first_exception);
  g_test_add_func ("/Caller/wait/all-completed", test_wait_all_completed);
  g_test_add_func ("/Caller/wait/timeout", test_wait_timeout);

  /* Last: in which thread user destroy notifies run */
  g_test_add_func ("/Caller/destroy-thread/as-completed-producer",
                   test_as_completed_destroy_thread);

  return g_test_run ();
}

/* vim: set foldmethod=marker: */
