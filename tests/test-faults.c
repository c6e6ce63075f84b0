/* test-faults.c: what a faulty program may do to the library
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Each test plays one fault a real program (or a binding) commits, and
 * states what the library must still guarantee (see DESIGN.md, "Pending",
 * "Caller", "Decisions"): a job that never completes its pending still
 * ends when its caller stops; cancellers and done callbacks that cancel or
 * complete other pendings, in cycles and in chains of a thousand, neither
 * deadlock nor exhaust the stack; dropping the last reference to a pending
 * or a caller from inside its own callback or job crashes nothing; a host
 * loop quit with jobs queued loses none of them; a binding's native
 * exception (AG_ERROR_FAILED) fails its pending and its group but not the
 * caller.
 *
 * "No deadlock" is shown by bounded runs: the work runs in threads and the
 * test waits for it with a deadline (AG_TEST_TIMEOUT_MSEC). Cases that
 * found a crash or an endless recursion run in a subprocess, so that they
 * fail alone. Threads are never lined up with sleeps.
 */

#include <string.h>

#include <async-gobject.h>

#include "test-util.h"

/* {{{ Helpers */

/* The length of the chains of callbacks. */
#define CHAIN_LENGTH 1000

/* The most stack one link of a chain may use: a chain of CHAIN_LENGTH
 * links must fit well within a thread's stack (8 MiB by default).
 * AddressSanitizer makes frames larger. */
#if defined(__SANITIZE_ADDRESS__)
# define STACK_PER_LINK_MAX 6144
#else
# define STACK_PER_LINK_MAX 2048
#endif

/* Waits, bounded, until @stopped (a caller's get_stopped()) succeeded. */
static void
wait_stopped_pending (AgPending *stopped)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (ag_pending_wait_sync (stopped, AG_TEST_TIMEOUT_S, &error));
  g_assert_no_error (error);
}

/* Stops @caller (forced) and waits, bounded, until it has stopped. */
static void
stop_and_wait (AgCaller *caller)
{
  g_autoptr(AgCaller) owned = g_object_ref (caller);
  g_autoptr(AgPending) stopped = g_object_ref (ag_caller_get_stopped (owned));

  ag_caller_stop (owned, TRUE);
  wait_stopped_pending (stopped);
  g_assert_cmpint (ag_caller_get_state (owned), ==, AG_CALLER_STATE_STOPPED);
}

/* Polls, bounded, until @weak no longer holds an object: its last
 * reference, which another thread may hold for a moment longer, is gone. */
static void
wait_weak_ref_cleared (GWeakRef *weak)
{
  gint64 deadline = g_get_monotonic_time ()
                    + (gint64) AG_TEST_TIMEOUT_MSEC * G_TIME_SPAN_MILLISECOND;
  gpointer object;

  while ((object = g_weak_ref_get (weak)) != NULL &&
         g_get_monotonic_time () < deadline)
    {
      g_object_unref (object);
      g_thread_yield ();
    }

  if (object != NULL)
    {
      g_object_unref (object);
      g_error ("an object was never released");
    }
}

/* Runs @func in a subprocess, bounded by AG_TEST_TIMEOUT_MSEC, for cases
 * that may crash (an endless recursion) or hang (a deadlock): a failure is
 * recorded for this test, and the other tests still run. */
static void
run_in_subprocess (void (*func) (void))
{
  if (g_test_subprocess ())
    {
      func ();
      return;
    }

  /* Longer than the bounded waits inside, so that they report first */
  g_test_trap_subprocess (NULL, (guint64) AG_TEST_TIMEOUT_MSEC * 3000,
                          G_TEST_SUBPROCESS_INHERIT_STDERR);
  if (!g_test_trap_has_passed ())
    g_test_fail_printf ("the subprocess %s",
                        g_test_trap_reached_timeout () ? "hung (deadlock?)"
                                                       : "failed or crashed");
}

/* A thread that runs @func (@data) and counts to @done when it returns:
 * the test waits for that with a deadline, so a deadlock fails the test
 * instead of hanging it. */
typedef struct
{
  GThreadFunc  func;
  gpointer     data;
  AgTestLatch *done;
} Bounded;

static gpointer
bounded_thread_func (gpointer data)
{
  Bounded *bounded = data;

  bounded->func (bounded->data);
  ag_test_latch_add (bounded->done, 1);
  return NULL;
}

/* Runs @n_threads threads of @func, with @data[i], and waits (bounded) for
 * all of them to return. */
static void
run_bounded (GThreadFunc  func,
             gpointer    *data,
             guint        n_threads)
{
  g_autofree Bounded *bounded = g_new0 (Bounded, n_threads);
  g_autofree GThread **threads = g_new0 (GThread *, n_threads);
  AgTestLatch done;

  ag_test_latch_init (&done);

  for (guint i = 0; i < n_threads; i++)
    {
      bounded[i].func = func;
      bounded[i].data = data[i];
      bounded[i].done = &done;
      threads[i] = g_thread_new ("bounded", bounded_thread_func, &bounded[i]);
    }

  /* g_error()s out after AG_TEST_TIMEOUT_MSEC: a deadlock */
  ag_test_latch_wait (&done, (gint) n_threads);

  for (guint i = 0; i < n_threads; i++)
    g_thread_join (threads[i]);

  ag_test_latch_clear (&done);
}

/* The address of the current stack frame, to measure how deep chains of
 * callbacks go. */
static guintptr
stack_position (void)
{
  return (guintptr) __builtin_frame_address (0);
}

/* }}} */

/* {{{ /Faults/job/never-completes */

typedef struct
{
  AgTestLatch started;    /* counts the jobs that started */
  gint        n_started;  /* (atomic) the same, for ag_test_iterate_until() */
  gint        destroyed;  /* (atomic) */
} Forever;

/* Says it will set its outcome later, and never does. */
static AgPending *
forever_job (AgPending *pending,
             gpointer   data)
{
  Forever *forever = data;

  g_atomic_int_inc (&forever->n_started);
  ag_test_latch_add (&forever->started, 1);
  return g_object_ref (pending);
}

static void
forever_destroy (gpointer data)
{
  g_atomic_int_inc (&((Forever *) data)->destroyed);
}

/* @pending, whose job never completes it, ended cancelled because its
 * caller stopped, with everything it held released. */
static void
assert_ended_by_stop (AgPending *pending)
{
  GCancellable *cancellable = ag_pending_get_cancellable (pending);

  ag_test_assert_state (pending, AG_PENDING_STATE_CANCELLED);
  ag_test_assert_pending_error (pending, G_IO_ERROR, G_IO_ERROR_CANCELLED, "stopped");
  g_assert_true (g_cancellable_is_cancelled (cancellable));
}

/* Runs a job on @caller after the jobs queued before it, and waits for it
 * (iterating @context for a guest): once it ran, every job before it has
 * returned. */
static void
barrier_job (AgCaller     *caller,
             GMainContext *context)
{
  g_autoptr(AgPending) marker = NULL;
  gint ran = 0;

  marker = ag_caller_call_soon (caller, ag_test_count_job, &ran, NULL);
  if (context != NULL)
    ag_test_iterate_until_done (context, marker);
  else
    ag_test_wait_done (marker);
  ag_test_assert_state (marker, AG_PENDING_STATE_SUCCEEDED);
}

static void
test_job_never_completes (void)
{
  g_autoptr(AgCaller) caller = ag_caller_new_thread ("never-completes");
  GMainContext *context = ag_test_push_context ();
  g_autoptr(AgCaller) guest = ag_caller_new_guest (context, "never-guest");
  g_autoptr(AgCaller) parent = ag_caller_new_guest (context, "never-parent");
  g_autoptr(AgPending) on_thread = NULL;
  g_autoptr(AgPending) on_guest = NULL;
  g_autoptr(AgPending) on_worker = NULL;
  g_autoptr(AgPending) keyed = NULL;
  g_autoptr(AgPending) keyed_next = NULL;
  g_autoptr(GPtrArray) workers = NULL;
  AgPending *many[50];
  Forever forever;
  gint ran = 0;

  ag_test_latch_init (&forever.started);
  g_atomic_int_set (&forever.n_started, 0);
  g_atomic_int_set (&forever.destroyed, 0);

  /* On a caller that owns its thread; also many of them, and one that
   * holds up a per-key queue */
  on_thread = ag_caller_call_soon (caller, forever_job, &forever,
                                   forever_destroy);
  for (guint i = 0; i < G_N_ELEMENTS (many); i++)
    many[i] = ag_caller_call_soon (caller, forever_job, &forever,
                                   forever_destroy);
  keyed = ag_caller_queue_call (caller, "k", forever_job, &forever,
                                forever_destroy);
  keyed_next = ag_caller_queue_call (caller, "k", ag_test_count_job, &ran,
                                     NULL);
  barrier_job (caller, NULL);
  g_assert_cmpint (g_atomic_int_get (&forever.n_started), ==,
                   2 + (gint) G_N_ELEMENTS (many));

  /* Each said "later" and kept its promise never: they are running, and
   * their data was released when they returned */
  g_assert_false (ag_pending_is_done (on_thread));
  g_assert_false (ag_pending_is_done (keyed));
  g_assert_false (ag_pending_is_done (keyed_next));
  for (guint i = 0; i < G_N_ELEMENTS (many); i++)
    g_assert_false (ag_pending_is_done (many[i]));
  g_assert_cmpint (g_atomic_int_get (&forever.destroyed), ==,
                   2 + (gint) G_N_ELEMENTS (many));

  /* On a guest, run by this thread */
  on_guest = ag_caller_call_soon (guest, forever_job, &forever,
                                  forever_destroy);
  barrier_job (guest, context);
  g_assert_false (ag_pending_is_done (on_guest));

  /* On a worker of a guest's pool */
  on_worker = ag_caller_to_thread (parent, forever_job, &forever,
                                   forever_destroy);
  ag_test_latch_wait (&forever.started, 4 + (gint) G_N_ELEMENTS (many));
  workers = ag_caller_dup_children (parent);
  g_assert_cmpuint (workers->len, ==, 1);
  barrier_job (g_ptr_array_index (workers, 0), NULL);
  g_assert_false (ag_pending_is_done (on_worker));
  g_assert_cmpint (g_atomic_int_get (&forever.destroyed), ==,
                   4 + (gint) G_N_ELEMENTS (many));

  /* Stopping the callers ends them all, cancelled, at once */
  ag_caller_stop (caller, TRUE);
  assert_ended_by_stop (on_thread);
  assert_ended_by_stop (keyed);
  for (guint i = 0; i < G_N_ELEMENTS (many); i++)
    {
      assert_ended_by_stop (many[i]);
      g_object_unref (many[i]);
    }
  /* what the stuck job held up never ran */
  ag_test_assert_state (keyed_next, AG_PENDING_STATE_CANCELLED);

  ag_caller_stop (guest, TRUE);
  assert_ended_by_stop (on_guest);

  /* the parent stops its workers first */
  ag_caller_stop (parent, TRUE);
  assert_ended_by_stop (on_worker);

  stop_and_wait (caller);
  stop_and_wait (guest);
  stop_and_wait (parent);
  stop_and_wait (g_ptr_array_index (workers, 0));

  g_assert_cmpint (ran, ==, 0);

  ag_test_latch_clear (&forever.started);
  g_clear_object (&guest);
  g_clear_object (&parent);
  ag_test_pop_context (context);
}

/* {{{ /Faults/job/never-completes-stopping */

typedef struct
{
  AgTestLatch started;
  AgTestLatch go;
  gboolean    stop_self;  /* the job stops its own caller */
  AgPending  *follow;     /* nullable, not owned: a pending nobody
                           * completes, for the job to follow */
} Late;

/* Holds its thread until the test stopped the caller (or stops it
 * itself), then says it will set its outcome later (or follows a pending
 * nobody completes), and never does. */
static AgPending *
stopped_meanwhile_job (AgPending *pending,
                       gpointer   data)
{
  Late *late = data;

  if (late->stop_self)
    ag_caller_stop (ag_caller_get_current (), TRUE);
  else
    {
      ag_test_latch_set (&late->started, 1);
      ag_test_latch_wait (&late->go, 1);
    }

  if (late->follow != NULL)
    return g_object_ref (late->follow);
  return g_object_ref (pending);
}

static void
check_stopped_meanwhile (gboolean stop_self,
                         gboolean follow)
{
  g_autoptr(AgCaller) caller = ag_caller_new_thread ("stopped-meanwhile");
  g_autoptr(AgPending) pending = NULL;
  g_autoptr(AgPending) followed = NULL;
  Late late;

  g_test_message ("stopped %s, then the job %s",
                  stop_self ? "by the job itself" : "while the job runs",
                  follow ? "follows a pending nobody completes"
                         : "returns its own pending");
  ag_test_latch_init (&late.started);
  ag_test_latch_init (&late.go);
  late.stop_self = stop_self;
  if (follow)
    followed = ag_pending_new_full (AG_PENDING_FLAGS_NO_TRACKING, "orphan");
  late.follow = followed;

  pending = ag_caller_call_soon (caller, stopped_meanwhile_job, &late, NULL);
  if (!stop_self)
    {
      ag_test_latch_wait (&late.started, 1);
      ag_caller_stop (caller, TRUE);
      g_assert_true (ag_pending_is_cancelled (pending));
      ag_test_latch_set (&late.go, 1);
    }

  /* "Running jobs are cancelled and end cancelled when they return" */
  wait_stopped_pending (ag_caller_get_stopped (caller));
  ag_pending_wait_sync (pending, AG_TEST_TIMEOUT_S, NULL);
  assert_ended_by_stop (pending);

  if (followed != NULL)
    ag_pending_set_value (followed, NULL);
  ag_test_latch_clear (&late.started);
  ag_test_latch_clear (&late.go);
}

static void
job_never_completes_stopping (void)
{
  check_stopped_meanwhile (FALSE, FALSE);
  check_stopped_meanwhile (TRUE, FALSE);
  check_stopped_meanwhile (FALSE, TRUE);
  check_stopped_meanwhile (TRUE, TRUE);
}

/* A job that never completes its pending, whose caller is stopped while it
 * runs (by the job itself, or by another thread before it returns): when
 * it returns its own pending, nothing will ever complete it, so the
 * caller's stop must. */
static void
test_job_never_completes_stopping (void)
{
  run_in_subprocess (job_never_completes_stopping);
}

/* }}} */

/* }}} */

/* {{{ /Faults/canceller/others */

typedef struct
{
  AgPending *self;       /* not owned */
  AgPending *complete;   /* not owned; nullable: set by the canceller */
  AgPending *cancel;     /* not owned; nullable: cancelled by the canceller */
  gboolean   guarded;    /* cancel only if not cancelled yet */
  gboolean   set_first;  /* set its own outcome before cancelling */
  gint       calls;      /* (atomic) */
} Canceller;

/* A canceller that cancels and completes other pendings, then stops the
 * work behind its own: it sets its outcome. */
static void
other_canceller (AgPending  *pending,
                 const char *message,
                 gpointer    data)
{
  Canceller *canceller = data;

  g_assert_true (pending == canceller->self);
  g_atomic_int_inc (&canceller->calls);

  if (canceller->set_first)
    ag_pending_set_value (pending, NULL);

  if (canceller->complete != NULL)
    ag_pending_set_int (canceller->complete, 1);

  if (canceller->cancel != NULL &&
      (!canceller->guarded || !ag_pending_is_cancelled (canceller->cancel)))
    ag_pending_cancel (canceller->cancel, message);

  ag_pending_set_value (pending, NULL);
}

static void
canceller_init (Canceller *canceller,
                AgPending *self)
{
  memset (canceller, 0, sizeof *canceller);
  canceller->self = self;
  ag_pending_set_canceller (self, other_canceller, canceller, NULL);
}

/* Cancels the pending @data in a thread of run_bounded(). */
static gpointer
cancel_thread_func (gpointer data)
{
  ag_pending_cancel (data, "from a thread");
  return NULL;
}

static void
test_canceller_others (void)
{
  guint rounds = ag_test_iterations (200, 2000);
  AgPending *a = ag_pending_new ();
  AgPending *b = ag_pending_new ();
  AgPending *c = ag_pending_new ();
  Canceller ca;
  Canceller cc;

  /* A's canceller completes B and cancels C; C's canceller completes C */
  canceller_init (&ca, a);
  ca.complete = b;
  ca.cancel = c;
  canceller_init (&cc, c);

  g_assert_true (ag_pending_cancel (a, "a"));
  ag_test_assert_state (a, AG_PENDING_STATE_CANCELLED);
  ag_test_assert_state (b, AG_PENDING_STATE_SUCCEEDED);
  ag_test_assert_state (c, AG_PENDING_STATE_CANCELLED);
  ag_test_assert_pending_error (c, G_IO_ERROR, G_IO_ERROR_CANCELLED, "a");
  g_assert_cmpint (ca.calls, ==, 1);
  g_assert_cmpint (cc.calls, ==, 1);
  g_object_unref (a);
  g_object_unref (b);
  g_object_unref (c);

  /* Many threads at once, each cancelling the head of a chain that
   * cancels and completes pendings shared with the other chains: every
   * run ends, and every pending ends cancelled or succeeded */
  for (guint round = 0; round < rounds; round++)
    {
      enum { N = 4 };
      AgPending *heads[N];
      AgPending *shared[N];
      Canceller head_cancellers[N];
      Canceller shared_cancellers[N];
      gpointer data[N];

      for (guint i = 0; i < N; i++)
        {
          heads[i] = ag_pending_new ();
          shared[i] = ag_pending_new ();
        }
      for (guint i = 0; i < N; i++)
        {
          canceller_init (&head_cancellers[i], heads[i]);
          head_cancellers[i].cancel = shared[i];
          head_cancellers[i].complete = shared[(i + 1) % N];
          canceller_init (&shared_cancellers[i], shared[i]);
          shared_cancellers[i].cancel = heads[(i + 1) % N];
          shared_cancellers[i].guarded = TRUE;
          data[i] = heads[i];
        }

      run_bounded (cancel_thread_func, data, N);

      for (guint i = 0; i < N; i++)
        {
          g_assert_true (ag_pending_is_done (heads[i]));
          g_assert_true (ag_pending_is_done (shared[i]));
          ag_test_assert_state (heads[i], AG_PENDING_STATE_CANCELLED);
          g_object_unref (heads[i]);
          g_object_unref (shared[i]);
        }
    }
}

/* }}} */

/* {{{ /Faults/canceller/cycle */

/* A's canceller cancels B, B's cancels A; each then completes its own
 * pending (the canceller of a job does that). With @guarded, each cancels
 * the other only if it is not cancelled yet; with @set_first, each
 * completes its own pending before it cancels the other. */
static void
check_cycle (gboolean guarded,
             gboolean set_first)
{
  guint rounds = ag_test_iterations (200, 2000);
  AgPending *a = ag_pending_new ();
  AgPending *b = ag_pending_new ();
  Canceller ca;
  Canceller cb;
  g_autofree char *message = NULL;

  g_test_message ("cycle, guarded %d, set first %d", guarded, set_first);

  canceller_init (&ca, a);
  canceller_init (&cb, b);
  ca.cancel = b;
  cb.cancel = a;
  ca.guarded = cb.guarded = guarded;
  ca.set_first = cb.set_first = set_first;

  /* From this thread: the cancel returns, both end cancelled, each
   * canceller ran a bounded number of times */
  g_assert_true (ag_pending_cancel (a, "round the cycle"));
  ag_test_assert_state (a, AG_PENDING_STATE_CANCELLED);
  ag_test_assert_state (b, AG_PENDING_STATE_CANCELLED);
  message = ag_pending_dup_cancel_message (b);
  g_assert_nonnull (strstr (message, "round the cycle"));
  g_assert_cmpint (ca.calls, >=, 1);
  g_assert_cmpint (ca.calls, <=, 2);
  g_assert_cmpint (cb.calls, >=, 1);
  g_assert_cmpint (cb.calls, <=, 2);
  g_object_unref (a);
  g_object_unref (b);

  /* From two threads at once, one at each end of the cycle */
  for (guint round = 0; round < rounds; round++)
    {
      gpointer data[2];

      a = ag_pending_new ();
      b = ag_pending_new ();
      canceller_init (&ca, a);
      canceller_init (&cb, b);
      ca.cancel = b;
      cb.cancel = a;
      ca.guarded = cb.guarded = guarded;
      ca.set_first = cb.set_first = set_first;
      data[0] = a;
      data[1] = b;

      run_bounded (cancel_thread_func, data, 2);

      ag_test_assert_state (a, AG_PENDING_STATE_CANCELLED);
      ag_test_assert_state (b, AG_PENDING_STATE_CANCELLED);
      g_object_unref (a);
      g_object_unref (b);
    }
}

/* What a careful canceller does: it propagates a cancellation only once,
 * or it completes its own pending first. */
static void
test_canceller_cycle_guarded (void)
{
  check_cycle (TRUE, FALSE);
  check_cycle (TRUE, TRUE);
  check_cycle (FALSE, TRUE);
}

/* The unguarded cycle (A's canceller cancels B, B's cancels A, each every
 * time it is called) recurses without end, by design: a canceller is
 * called on every cancel while its pending is not done (DESIGN.md, as in
 * the seeds' Pending.cancel), also from inside itself
 * (/Pending/canceller/reentrant). Cancellers that propagate guard
 * themselves, as above. */

/* }}} */

/* {{{ /Faults/canceller/follow-cycle */

typedef struct
{
  AgPending   *follow;   /* not owned; the pending this job follows */
  AgTestLatch *go;       /* opened once @follow is set */
  AgTestLatch *started;
} Follower;

static AgPending *
follower_job (AgPending *pending,
              gpointer   data)
{
  Follower *follower = data;

  ag_test_latch_wait (follower->go, 1);
  ag_test_latch_add (follower->started, 1);
  return g_object_ref (follower->follow);
}

/* Two jobs that follow each other (a program's await cycle: a deadlock of
 * its own making): stopping their caller must still end them, cancelled,
 * without crashing. Cancelling a job that follows a pending cancels that
 * pending, whose job follows the first... */
static void
follow_cycle (void)
{
  g_autoptr(AgCaller) caller = ag_caller_new_thread ("follow-cycle");
  g_autoptr(AgPending) a = NULL;
  g_autoptr(AgPending) b = NULL;
  Follower fa;
  Follower fb;
  AgTestLatch go;
  AgTestLatch started;

  ag_test_latch_init (&go);
  ag_test_latch_init (&started);
  fa.go = fb.go = &go;
  fa.started = fb.started = &started;

  /* Both jobs exist before either reads what it follows */
  a = ag_caller_call_soon (caller, follower_job, &fa, NULL);
  b = ag_caller_call_soon (caller, follower_job, &fb, NULL);
  fa.follow = b;
  fb.follow = a;
  ag_test_latch_set (&go, 1);
  ag_test_latch_wait (&started, 2);
  /* both returned: each follows the other */
  barrier_job (caller, NULL);

  g_assert_false (ag_pending_is_done (a));
  g_assert_false (ag_pending_is_done (b));

  stop_and_wait (caller);
  ag_test_assert_state (a, AG_PENDING_STATE_CANCELLED);
  ag_test_assert_state (b, AG_PENDING_STATE_CANCELLED);

  ag_test_latch_clear (&go);
  ag_test_latch_clear (&started);
}

static void
test_canceller_follow_cycle (void)
{
  run_in_subprocess (follow_cycle);
}

/* }}} */

/* {{{ /Faults/done-callback/chain */

typedef struct _Chain Chain;

typedef struct
{
  Chain *chain;
  guint  index;
} Link;

struct _Chain
{
  AgPending *pendings[CHAIN_LENGTH];  /* owned */
  Link       links[CHAIN_LENGTH];
  gint       ran;                     /* (atomic) callbacks run */
  gint       in_order;                /* (atomic) each ran after the one
                                       * before */
  guintptr   stack_top;
  guintptr   stack_bottom;
};

static void
chain_record (Chain *chain,
              guint  index)
{
  guintptr here = stack_position ();

  if (g_atomic_int_get (&chain->ran) != (gint) index)
    g_atomic_int_set (&chain->in_order, 0);
  g_atomic_int_inc (&chain->ran);

  chain->stack_top = MAX (chain->stack_top, here);
  chain->stack_bottom = MIN (chain->stack_bottom, here);
}

/* Completes the next pending of the chain. */
static void
chain_complete_cb (AgPending *pending,
                   gpointer   data)
{
  Link *link = data;
  Chain *chain = link->chain;

  chain_record (chain, link->index);
  g_assert_cmpint (ag_pending_get_int (pending, NULL), ==, link->index);

  if (link->index + 1 < CHAIN_LENGTH)
    g_assert_true (ag_pending_set_int (chain->pendings[link->index + 1],
                                       link->index + 1));
}

/* Cancels the next pending of the chain (whose canceller completes it). */
static void
chain_cancel_cb (AgPending *pending,
                 gpointer   data)
{
  Link *link = data;
  Chain *chain = link->chain;

  chain_record (chain, link->index);
  g_assert_true (ag_pending_is_cancelled (pending));

  if (link->index + 1 < CHAIN_LENGTH)
    g_assert_true (ag_pending_cancel (chain->pendings[link->index + 1],
                                      "down the chain"));
}

static void
set_self_canceller (AgPending  *pending,
                    const char *message,
                    gpointer    data)
{
  ag_pending_set_value (pending, NULL);
}

static Chain *
chain_new (AgDoneFunc callback,
           gboolean   cancellable)
{
  Chain *chain = g_new0 (Chain, 1);

  chain->in_order = 1;
  chain->stack_bottom = G_MAXSIZE;

  for (guint i = 0; i < CHAIN_LENGTH; i++)
    {
      chain->pendings[i] = ag_pending_new ();
      chain->links[i].chain = chain;
      chain->links[i].index = i;
      if (cancellable)
        ag_pending_set_canceller (chain->pendings[i], set_self_canceller,
                                  NULL, NULL);
      ag_pending_add_done_callback (chain->pendings[i], callback,
                                    &chain->links[i], NULL);
    }

  return chain;
}

/* Every link ran, in order, and the whole chain took a reasonable amount
 * of stack. */
static void
chain_check_and_free (Chain          *chain,
                      AgPendingState  state)
{
  gsize span = chain->stack_top - chain->stack_bottom;

  g_test_message ("a chain of %d callbacks used %" G_GSIZE_FORMAT " bytes "
                  "of stack, %" G_GSIZE_FORMAT " per link", CHAIN_LENGTH,
                  span, span / CHAIN_LENGTH);

  g_assert_cmpint (g_atomic_int_get (&chain->ran), ==, CHAIN_LENGTH);
  g_assert_true (g_atomic_int_get (&chain->in_order));
  g_assert_cmpuint (span, <, (gsize) CHAIN_LENGTH * STACK_PER_LINK_MAX);

  for (guint i = 0; i < CHAIN_LENGTH; i++)
    {
      ag_test_assert_state (chain->pendings[i], state);
      g_object_unref (chain->pendings[i]);
    }
  g_free (chain);
}

/* Starts a chain from a job of a thread caller: the chain runs on that
 * thread's stack. */
static AgPending *
start_chain_job (AgPending *pending,
                 gpointer   data)
{
  ag_pending_set_int (data, 0);
  return NULL;
}

static void
test_done_callback_chain (void)
{
  g_autoptr(AgCaller) caller = ag_caller_new_thread ("chain");
  Chain *chain;

  /* Each callback completes the next pending */
  chain = chain_new (chain_complete_cb, FALSE);
  g_assert_true (ag_pending_set_int (chain->pendings[0], 0));
  chain_check_and_free (chain, AG_PENDING_STATE_SUCCEEDED);

  /* Each callback cancels the next pending, whose canceller completes it */
  chain = chain_new (chain_cancel_cb, TRUE);
  g_assert_true (ag_pending_cancel (chain->pendings[0], "start"));
  chain_check_and_free (chain, AG_PENDING_STATE_CANCELLED);

  /* The same on a thread of a caller */
  chain = chain_new (chain_complete_cb, FALSE);
  {
    g_autoptr(AgPending) job = ag_caller_call_soon (caller, start_chain_job,
                                                    chain->pendings[0], NULL);

    ag_test_wait_done (job);
    ag_test_assert_state (job, AG_PENDING_STATE_SUCCEEDED);
  }
  chain_check_and_free (chain, AG_PENDING_STATE_SUCCEEDED);

  stop_and_wait (caller);
}

/* }}} */

/* {{{ /Faults/done-callback/chain-jobs */

typedef struct
{
  AgPending **jobs;       /* CHAIN_LENGTH, owned */
  gint        ran;        /* (atomic) jobs that ran: none may */
  gint        destroyed;  /* (atomic) */
  gint        called;     /* (atomic) done callbacks */
  guintptr    stack_top;
  guintptr    stack_bottom;
} JobChain;

typedef struct
{
  JobChain *chain;
  guint     index;
} JobLink;

static AgPending *
never_runs_job (AgPending *pending,
                gpointer   data)
{
  g_atomic_int_inc (&((JobChain *) data)->ran);
  return NULL;
}

static void
job_chain_destroy (gpointer data)
{
  g_atomic_int_inc (&((JobChain *) data)->destroyed);
}

static void
job_chain_cancel_cb (AgPending *pending,
                     gpointer   data)
{
  JobLink *link = data;
  JobChain *chain = link->chain;
  guintptr here = stack_position ();

  g_atomic_int_inc (&chain->called);
  chain->stack_top = MAX (chain->stack_top, here);
  chain->stack_bottom = MIN (chain->stack_bottom, here);

  if (link->index + 1 < CHAIN_LENGTH)
    ag_pending_cancel (chain->jobs[link->index + 1], "down the chain");
}

/* A thousand scheduled jobs, each of whose done callback cancels the next:
 * cancelling the first ends them all, none runs, every destroy notify runs
 * once. */
static void
test_done_callback_chain_jobs (void)
{
  GMainContext *context = ag_test_push_context ();
  g_autoptr(AgCaller) guest = ag_caller_new_guest (context, "job-chain");
  JobChain chain = { NULL, };
  g_autofree JobLink *links = g_new0 (JobLink, CHAIN_LENGTH);
  gsize span;

  chain.jobs = g_new0 (AgPending *, CHAIN_LENGTH);
  chain.stack_bottom = G_MAXSIZE;

  for (guint i = 0; i < CHAIN_LENGTH; i++)
    {
      /* half queued, half waiting for a far deadline */
      if (i % 2 == 0)
        chain.jobs[i] = ag_caller_call_soon (guest, never_runs_job, &chain,
                                             job_chain_destroy);
      else
        chain.jobs[i] = ag_caller_call_later (guest, 3600, never_runs_job,
                                              &chain, job_chain_destroy);
      links[i].chain = &chain;
      links[i].index = i;
      ag_pending_add_done_callback (chain.jobs[i], job_chain_cancel_cb,
                                    &links[i], NULL);
    }

  g_assert_true (ag_pending_cancel (chain.jobs[0], "start"));
  ag_test_drain (context);

  span = chain.stack_top - chain.stack_bottom;
  g_test_message ("a chain of %d jobs used %" G_GSIZE_FORMAT " bytes of "
                  "stack, %" G_GSIZE_FORMAT " per link", CHAIN_LENGTH, span,
                  span / CHAIN_LENGTH);

  g_assert_cmpint (g_atomic_int_get (&chain.called), ==, CHAIN_LENGTH);
  g_assert_cmpint (g_atomic_int_get (&chain.ran), ==, 0);
  g_assert_cmpint (g_atomic_int_get (&chain.destroyed), ==, CHAIN_LENGTH);
  g_assert_cmpuint (span, <, (gsize) CHAIN_LENGTH * STACK_PER_LINK_MAX);
  for (guint i = 0; i < CHAIN_LENGTH; i++)
    {
      ag_test_assert_state (chain.jobs[i], AG_PENDING_STATE_CANCELLED);
      g_object_unref (chain.jobs[i]);
    }
  g_free (chain.jobs);

  /* The caller is none the worse */
  {
    gint ran = 0;
    g_autoptr(AgPending) after = ag_caller_call_soon (guest,
                                                      ag_test_count_job,
                                                      &ran, NULL);

    ag_test_iterate_until_done (context, after);
    g_assert_cmpint (ran, ==, 1);
  }

  stop_and_wait (guest);
  g_clear_object (&guest);
  ag_test_pop_context (context);
}

/* }}} */

/* {{{ /Faults/done-callback/last-ref */

typedef struct
{
  GWeakRef    weak;
  gint        first;     /* (atomic) calls of the callback that unrefs */
  gint        second;    /* (atomic) calls of the callback after it */
  gint        value_ok;  /* (atomic) the second still read the value */
  AgTestLatch finished;  /* 1 once the second callback ran */
} LastRef;

static void
last_ref_init (LastRef   *last,
               AgPending *pending)
{
  g_weak_ref_init (&last->weak, pending);
  g_atomic_int_set (&last->first, 0);
  g_atomic_int_set (&last->second, 0);
  g_atomic_int_set (&last->value_ok, 0);
  ag_test_latch_init (&last->finished);
}

static void
last_ref_clear (LastRef *last)
{
  g_weak_ref_clear (&last->weak);
  ag_test_latch_clear (&last->finished);
}

/* The data of a callback whose destroy notify drops the last reference. */
typedef struct
{
  LastRef   *last;
  AgPending *pending;  /* owned: the last reference */
} Holder;

static void
holder_cb (AgPending *pending,
           gpointer   data)
{
  Holder *holder = data;

  g_assert_true (pending == holder->pending);
  g_atomic_int_inc (&holder->last->first);
}

static void
holder_free (gpointer data)
{
  Holder *holder = data;

  g_object_unref (holder->pending);
  g_free (holder);
}

/* Drops the last reference to the pending it runs for, which it was
 * given through its data. */
static void
unref_pending_cb (AgPending *pending,
                  gpointer   data)
{
  LastRef *last = data;

  g_atomic_int_inc (&last->first);
  g_object_unref (pending);
}

/* Runs after unref_pending_cb(): the pending must still be whole. */
static void
after_unref_cb (AgPending *pending,
                gpointer   data)
{
  LastRef *last = data;

  g_assert_true (AG_IS_PENDING (pending));
  g_atomic_int_inc (&last->second);
  if (ag_pending_get_int (pending, NULL) == 3)
    g_atomic_int_inc (&last->value_ok);
  ag_test_latch_set (&last->finished, 1);
}

static void
last_ref_check (LastRef *last)
{
  g_assert_cmpint (g_atomic_int_get (&last->first), ==, 1);
  g_assert_cmpint (g_atomic_int_get (&last->second), ==, 1);
  g_assert_cmpint (g_atomic_int_get (&last->value_ok), ==, 1);
  wait_weak_ref_cleared (&last->weak);
}

static gpointer
set_three_thread_func (gpointer data)
{
  ag_pending_set_int (data, 3);
  return NULL;
}

/* Waits until the test has added its callbacks, then completes. */
static AgPending *
set_three_job (AgPending *pending,
               gpointer   data)
{
  ag_test_latch_wait (data, 1);
  ag_pending_set_int (pending, 3);
  return NULL;
}

static void
test_done_callback_last_ref (void)
{
  g_autoptr(AgCaller) caller = ag_caller_new_thread ("last-ref");
  AgPending *pending;
  LastRef last;

  /* The first of two callbacks drops the last reference; the second still
   * gets a whole pending; once completion returns, the pending is gone */
  pending = ag_pending_new ();
  last_ref_init (&last, pending);
  ag_pending_add_done_callback (pending, unref_pending_cb, &last, NULL);
  ag_pending_add_done_callback (pending, after_unref_cb, &last, NULL);
  g_assert_true (ag_pending_set_int (pending, 3));
  last_ref_check (&last);
  last_ref_clear (&last);

  /* The same, completed by another thread */
  pending = ag_pending_new ();
  last_ref_init (&last, pending);
  ag_pending_add_done_callback (pending, unref_pending_cb, &last, NULL);
  ag_pending_add_done_callback (pending, after_unref_cb, &last, NULL);
  {
    gpointer data[1] = { pending };

    run_bounded (set_three_thread_func, data, 1);
  }
  last_ref_check (&last);
  last_ref_clear (&last);

  /* Through the destroy notify of the first callback */
  pending = ag_pending_new ();
  last_ref_init (&last, pending);
  {
    Holder *holder = g_new0 (Holder, 1);

    holder->last = &last;
    holder->pending = pending;
    ag_pending_add_done_callback (pending, holder_cb, holder, holder_free);
    ag_pending_add_done_callback (pending, after_unref_cb, &last, NULL);
    g_assert_true (ag_pending_set_int (pending, 3));
  }
  last_ref_check (&last);
  last_ref_clear (&last);

  /* Added to a pending done already: it runs at once and drops the last
   * reference before add_done_callback() returns */
  pending = ag_pending_new ();
  last_ref_init (&last, pending);
  ag_pending_set_int (pending, 3);
  ag_pending_add_done_callback (pending, after_unref_cb, &last, NULL);
  ag_pending_add_done_callback (pending, unref_pending_cb, &last, NULL);
  last_ref_check (&last);
  last_ref_clear (&last);

  /* The pending of a job, completed in the caller's thread; the test's
   * reference went to the callback */
  {
    AgTestLatch go;

    ag_test_latch_init (&go);
    pending = ag_caller_call_soon (caller, set_three_job, &go, NULL);
    last_ref_init (&last, pending);
    ag_pending_add_done_callback (pending, unref_pending_cb, &last, NULL);
    ag_pending_add_done_callback (pending, after_unref_cb, &last, NULL);
    ag_test_latch_set (&go, 1);
    ag_test_latch_wait (&last.finished, 1);
    last_ref_check (&last);
    last_ref_clear (&last);
    ag_test_latch_clear (&go);
  }

  stop_and_wait (caller);
}

/* }}} */

/* {{{ /Faults/job/drops-caller */

typedef struct
{
  AgCaller *caller;      /* the test's only reference, given to the job */
  gboolean  stop_self;   /* the job also stops its own caller */
  gboolean  owns_thread; /* the caller is its thread's current one */
  gboolean  was_current; /* out */
} Dropper;

static AgPending *
drop_caller_job (AgPending *pending,
                 gpointer   data)
{
  Dropper *dropper = data;
  AgCaller *caller = g_steal_pointer (&dropper->caller);

  if (dropper->owns_thread)
    dropper->was_current = ag_caller_get_current () == caller;
  g_object_unref (caller);

  if (dropper->stop_self)
    ag_caller_stop (ag_caller_get_current (), TRUE);

  return NULL;
}

/* A new_thread caller whose one reference the test hands to a job that
 * drops it: nothing crashes, the caller runs on, it stops when asked (by
 * the job itself, with @stop_self), and it is released once stopped. */
static void
check_drops_caller (gboolean stop_self)
{
  Dropper dropper = { NULL, stop_self, TRUE, FALSE };
  g_autoptr(AgPending) stopped = NULL;
  g_autoptr(AgPending) pending = NULL;
  GWeakRef weak;
  guint id;

  dropper.caller = ag_caller_new_thread ("dropped");
  id = ag_caller_get_id (dropper.caller);
  stopped = g_object_ref (ag_caller_get_stopped (dropper.caller));
  g_weak_ref_init (&weak, dropper.caller);

  pending = ag_caller_call_soon (dropper.caller, drop_caller_job, &dropper,
                                 NULL);
  ag_test_wait_done (pending);
  g_assert_null (dropper.caller);
  g_assert_true (dropper.was_current);

  if (stop_self)
    {
      /* The job stopped it: its pending ended cancelled */
      ag_test_assert_state (pending, AG_PENDING_STATE_CANCELLED);
      wait_stopped_pending (stopped);
    }
  else
    {
      AgCaller *found;
      g_autoptr(AgPending) more = NULL;
      gint ran = 0;

      ag_test_assert_state (pending, AG_PENDING_STATE_SUCCEEDED);

      /* Still running and registered: it can be found, used, stopped */
      found = ag_caller_lookup (id);
      g_assert_nonnull (found);
      g_assert_true (ag_caller_is_running (found));
      more = ag_caller_call_soon (found, ag_test_count_job, &ran, NULL);
      ag_test_wait_done (more);
      g_assert_cmpint (ran, ==, 1);
      ag_caller_stop (found, TRUE);
      g_object_unref (found);
      wait_stopped_pending (stopped);
    }

  g_assert_null (ag_caller_lookup (id));
  /* The job's pending refers to its caller: let it go too */
  g_clear_object (&pending);
  wait_weak_ref_cleared (&weak);
  g_weak_ref_clear (&weak);
}

/* The same for a guest, run by this thread. */
static void
check_drops_guest (void)
{
  GMainContext *context = ag_test_push_context ();
  Dropper dropper = { NULL, FALSE, FALSE, FALSE };
  g_autoptr(AgPending) stopped = NULL;
  g_autoptr(AgPending) pending = NULL;
  AgCaller *found;
  GWeakRef weak;
  guint id;

  dropper.caller = ag_caller_new_guest (context, "dropped-guest");
  id = ag_caller_get_id (dropper.caller);
  stopped = g_object_ref (ag_caller_get_stopped (dropper.caller));
  g_weak_ref_init (&weak, dropper.caller);

  pending = ag_caller_call_soon (dropper.caller, drop_caller_job, &dropper,
                                 NULL);
  ag_test_iterate_until_done (context, pending);
  ag_test_assert_state (pending, AG_PENDING_STATE_SUCCEEDED);
  g_assert_null (dropper.caller);

  found = ag_caller_lookup (id);
  g_assert_nonnull (found);
  g_assert_true (ag_caller_is_running (found));
  ag_caller_stop (found, TRUE);
  g_object_unref (found);
  wait_stopped_pending (stopped);

  ag_test_drain (context);
  g_clear_object (&pending);
  wait_weak_ref_cleared (&weak);
  g_weak_ref_clear (&weak);
  ag_test_pop_context (context);
}

static void
test_job_drops_caller (void)
{
  check_drops_caller (FALSE);
  check_drops_caller (TRUE);
  check_drops_guest ();
}

/* }}} */

/* {{{ /Faults/host-loop/quit-with-queued */

typedef struct
{
  GMainLoop *loop;
  GArray    *ran;      /* gint; the host thread only */
  gint       quit_at;  /* the job that quits the loop */
} Host;

typedef struct
{
  Host *host;
  gint  index;
} HostJob;

static AgPending *
host_job (AgPending *pending,
          gpointer   data)
{
  HostJob *job = data;

  g_array_append_val (job->host->ran, job->index);
  if (job->index == job->host->quit_at)
    g_main_loop_quit (job->host->loop);
  return NULL;
}

static gboolean
host_timeout_cb (gpointer data)
{
  Host *host = data;

  /* A loop that never quits by itself: fail, do not hang */
  host->quit_at = -2;
  g_main_loop_quit (host->loop);
  return G_SOURCE_REMOVE;
}

typedef struct
{
  AgCaller  *guest;
  HostJob   *jobs;
  AgPending **pendings;
  gint       first;
  gint       n;
} Submitter;

static gpointer
submit_thread_func (gpointer data)
{
  Submitter *submitter = data;

  for (gint i = submitter->first; i < submitter->first + submitter->n; i++)
    submitter->pendings[i] = ag_caller_call_soon (submitter->guest, host_job,
                                                  &submitter->jobs[i], NULL);
  return NULL;
}

/* A GMainLoop on a pushed context runs a guest caller; a job quits the
 * loop while at least 100 jobs are queued behind it; jobs are added while
 * the loop is not running, from another thread; the loop runs again: every
 * job runs exactly once, in order. */
static void
check_quit_with_queued (guint max_batch)
{
  enum { BEFORE = 10, QUEUED = 100, LATE = 20 };
  GMainContext *context = ag_test_push_context ();
  g_autoptr(AgCaller) guest = ag_caller_new_guest (context, "host-guest");
  Host host;
  guint batch;
  gint first_total;
  gint total;
  g_autofree HostJob *jobs = NULL;
  g_autofree AgPending **pendings = NULL;
  GSource *timeout;

  if (max_batch > 0)
    ag_caller_set_max_batch_size (guest, max_batch);
  batch = ag_caller_get_max_batch_size (guest);
  g_test_message ("batches of %u", batch);

  /* Enough jobs that QUEUED are still queued after the batch that quits */
  first_total = BEFORE + 1 + QUEUED + (gint) batch;
  total = first_total + LATE;
  jobs = g_new0 (HostJob, total);
  pendings = g_new0 (AgPending *, total);

  host.loop = g_main_loop_new (context, FALSE);
  host.ran = g_array_new (FALSE, FALSE, sizeof (gint));
  host.quit_at = BEFORE;

  for (gint i = 0; i < total; i++)
    {
      jobs[i].host = &host;
      jobs[i].index = i;
    }
  for (gint i = 0; i < first_total; i++)
    pendings[i] = ag_caller_call_soon (guest, host_job, &jobs[i], NULL);

  timeout = g_timeout_source_new (AG_TEST_TIMEOUT_MSEC);
  g_source_set_callback (timeout, host_timeout_cb, &host, NULL);
  g_source_attach (timeout, context);

  g_main_loop_run (host.loop);
  g_assert_cmpint (host.quit_at, ==, BEFORE);

  /* The loop quit in the batch of the job that quit it; the rest wait */
  g_test_message ("%u jobs ran before the loop quit", host.ran->len);
  g_assert_cmpuint (host.ran->len, >=, BEFORE + 1);
  g_assert_cmpuint (host.ran->len, <=, BEFORE + (gint) batch);
  g_assert_cmpint (first_total - (gint) host.ran->len, >=, QUEUED);
  for (gint i = (gint) host.ran->len; i < first_total; i++)
    g_assert_false (ag_pending_is_done (pendings[i]));

  /* More work while nobody runs the loop, from another thread */
  {
    Submitter submitter = { guest, jobs, pendings, first_total, LATE };
    GThread *thread = g_thread_new ("submitter", submit_thread_func,
                                    &submitter);

    g_thread_join (thread);
  }

  /* Run again, until the last job */
  host.quit_at = total - 1;
  g_main_loop_run (host.loop);
  g_assert_cmpint (host.quit_at, ==, total - 1);

  /* Every job ran once, in order; nothing lost */
  g_assert_cmpuint (host.ran->len, ==, (guint) total);
  for (gint i = 0; i < total; i++)
    {
      g_assert_cmpint (g_array_index (host.ran, gint, i), ==, i);
      ag_test_assert_state (pendings[i], AG_PENDING_STATE_SUCCEEDED);
      g_object_unref (pendings[i]);
    }

  g_source_destroy (timeout);
  g_source_unref (timeout);
  stop_and_wait (guest);
  g_clear_object (&guest);
  g_main_loop_unref (host.loop);
  g_array_unref (host.ran);
  ag_test_pop_context (context);
}

static void
test_host_loop_quit_with_queued (void)
{
  check_quit_with_queued (1);
  check_quit_with_queued (0);  /* the default batch */
  check_quit_with_queued (7);
}

/* }}} */

/* {{{ /Faults/job/binding-exception */

#define NATIVE_MESSAGE "ValueError: the binding's own exception"

/* What a binding does when the native function of a job raises: it keeps
 * the exception and fails the pending with AG_ERROR_FAILED. */
static AgPending *
raising_job (AgPending *pending,
             gpointer   data)
{
  g_atomic_int_inc ((gint *) data);
  ag_pending_take_error (pending, g_error_new_literal (AG_ERROR,
                                                       AG_ERROR_FAILED,
                                                       NATIVE_MESSAGE));
  return NULL;
}

static void
assert_native_failure (AgPending *pending)
{
  g_autoptr(GError) error = NULL;

  ag_test_assert_state (pending, AG_PENDING_STATE_FAILED);
  ag_test_assert_pending_error (pending, AG_ERROR, AG_ERROR_FAILED, NATIVE_MESSAGE);
  g_assert_false (ag_pending_wait_sync (pending, 0, &error));
  g_assert_error (error, AG_ERROR, AG_ERROR_FAILED);
  g_assert_cmpstr (error->message, ==, NATIVE_MESSAGE);
}

typedef struct
{
  AgCaller  *caller;
  gint      *ran;
  AgPending *pending;  /* out, owned */
} Outsider;

/* Schedules a job from a thread where no group is current. */
static gpointer
outsider_thread_func (gpointer data)
{
  Outsider *outsider = data;

  outsider->pending = ag_caller_call_soon (outsider->caller, ag_test_count_job,
                                           outsider->ran, NULL);
  return NULL;
}

static void
check_binding_exception_in_group (AgCaller           *caller,
                                  GMainContext       *context,
                                  AgPendingGroupMode  mode,
                                  gboolean            on_worker)
{
  g_autoptr(AgPendingGroup) group = ag_pending_group_new (FALSE, mode);
  g_autoptr(AgPending) sleeper = NULL;
  g_autoptr(AgPending) raising = NULL;
  g_autoptr(GPtrArray) failed = NULL;
  g_autoptr(GError) error = NULL;
  Outsider outsider = { caller, NULL, NULL };
  gint raised = 0;
  gint ran = 0;
  gint slept = 0;

  g_test_message ("a binding's exception in a group, mode %d%s", mode,
                  on_worker ? ", on a worker" : "");

  outsider.ran = &ran;

  g_assert_true (ag_pending_group_enter (group, &error));
  g_assert_no_error (error);

  /* A member that would run much later, and one that raises */
  sleeper = ag_caller_call_later (caller, 3600, ag_test_count_job, &slept,
                                  NULL);
  if (on_worker)
    raising = ag_caller_to_thread (caller, raising_job, &raised, NULL);
  else
    raising = ag_caller_call_soon (caller, raising_job, &raised, NULL);

  /* A job after it on the same caller, not in the group */
  {
    GThread *thread = g_thread_new ("outsider", outsider_thread_func,
                                    &outsider);

    g_thread_join (thread);
  }

  /* The group fails with the member's error, whatever its mode, and
   * cancels the rest */
  g_assert_false (ag_test_group_exit (group, context, &error));
  g_assert_error (error, AG_ERROR, AG_ERROR_FAILED);
  g_assert_cmpstr (error->message, ==, NATIVE_MESSAGE);

  g_assert_cmpint (raised, ==, 1);
  assert_native_failure (raising);
  failed = ag_pending_group_get_failed (group);
  g_assert_cmpuint (failed->len, ==, 1);
  g_assert_true (g_ptr_array_index (failed, 0) == raising);
  ag_test_assert_state (sleeper, AG_PENDING_STATE_CANCELLED);
  g_assert_cmpint (slept, ==, 0);
  ag_test_assert_state (ag_pending_group_get_pending (group),
                AG_PENDING_STATE_FAILED);
  ag_test_assert_pending_error (ag_pending_group_get_pending (group), AG_ERROR,
                        AG_ERROR_FAILED, NATIVE_MESSAGE);

  /* The caller went on with the job after it */
  ag_test_wait_done (outsider.pending);
  ag_test_assert_state (outsider.pending, AG_PENDING_STATE_SUCCEEDED);
  g_assert_cmpint (ran, ==, 1);
  g_assert_true (ag_caller_is_running (caller));
  g_clear_object (&outsider.pending);
}

static void
test_job_binding_exception (void)
{
  g_autoptr(AgCaller) caller = ag_caller_new_thread ("binding");
  GMainContext *context = ag_test_push_context ();
  g_autoptr(AgPending) raising = NULL;
  g_autoptr(AgPending) after = NULL;
  g_autoptr(AgPending) worker_raising = NULL;
  gint raised = 0;
  gint ran = 0;

  /* Alone: the pending fails with the binding's error; the next job runs */
  raising = ag_caller_call_soon (caller, raising_job, &raised, NULL);
  after = ag_caller_call_soon (caller, ag_test_count_job, &ran, NULL);
  ag_test_wait_done (after);
  g_assert_cmpint (raised, ==, 1);
  assert_native_failure (raising);
  ag_test_assert_state (after, AG_PENDING_STATE_SUCCEEDED);
  g_assert_cmpint (ran, ==, 1);
  g_assert_true (ag_caller_is_running (caller));

  /* On a worker: the same; the worker goes back to the pool */
  worker_raising = ag_caller_to_thread (caller, raising_job, &raised, NULL);
  ag_test_wait_done (worker_raising);
  assert_native_failure (worker_raising);
  g_clear_object (&after);
  after = ag_caller_to_thread (caller, ag_test_count_job, &ran, NULL);
  ag_test_wait_done (after);
  ag_test_assert_state (after, AG_PENDING_STATE_SUCCEEDED);
  g_assert_cmpint (ran, ==, 2);

  /* In a group, in every mode */
  for (AgPendingGroupMode mode = AG_PENDING_GROUP_MODE_IGNORE;
       mode <= AG_PENDING_GROUP_MODE_IGNORE_RAISE; mode++)
    {
      check_binding_exception_in_group (caller, context, mode, FALSE);
      check_binding_exception_in_group (caller, context, mode, TRUE);
    }

  stop_and_wait (caller);
  {
    AgCaller *current = ag_caller_get_current ();

    stop_and_wait (current);
  }
  ag_test_pop_context (context);
}

/* }}} */

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_summary ("Faults a program may commit: jobs that never complete, "
                  "cancellers and done callbacks that cancel or complete "
                  "other pendings (cycles, chains of 1000), last references "
                  "dropped from inside callbacks and jobs, a host loop quit "
                  "with jobs queued, a binding's native exception. No "
                  "crash, no deadlock, nothing lost.");

  g_test_add_func ("/Faults/job/never-completes", test_job_never_completes);
  g_test_add_func ("/Faults/job/never-completes-stopping",
                   test_job_never_completes_stopping);
  g_test_add_func ("/Faults/job/drops-caller", test_job_drops_caller);
  g_test_add_func ("/Faults/job/binding-exception",
                   test_job_binding_exception);
  g_test_add_func ("/Faults/canceller/others", test_canceller_others);
  g_test_add_func ("/Faults/canceller/cycle-guarded",
                   test_canceller_cycle_guarded);
  g_test_add_func ("/Faults/canceller/follow-cycle",
                   test_canceller_follow_cycle);
  g_test_add_func ("/Faults/done-callback/chain", test_done_callback_chain);
  g_test_add_func ("/Faults/done-callback/chain-jobs",
                   test_done_callback_chain_jobs);
  g_test_add_func ("/Faults/done-callback/last-ref",
                   test_done_callback_last_ref);
  g_test_add_func ("/Faults/host-loop/quit-with-queued",
                   test_host_loop_quit_with_queued);

  return g_test_run ();
}

/* vim: set foldmethod=marker: */
