/* stress-to-thread.c: to_thread jobs while their parents stop and restart
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Three parent callers (ag_caller_new_thread) serve as to_thread parents.
 * Two submitter threads hand 500k jobs to them (each keeping at most 8 in
 * flight), picking a parent at random
 * for each job and cancelling some of their own earlier jobs; meanwhile
 * the test thread stops a parent at random points and puts a fresh one in
 * its place (sometimes at once, sometimes only after more submissions, so
 * that some go to a stopped parent); every other parent reaps its idle
 * workers after 1 ms. Jobs succeed, fail, return without
 * setting an outcome, or work a while watching for cancellation, as the
 * seed says.
 *
 * Every job is accounted for (DESIGN.md, "Caller" and "Decisions"):
 *
 * - its function ran at most once, its destroy notify exactly once, and
 *   the done callback added at submission exactly once;
 * - its pending ended SUCCEEDED (the job ran: with its value, or empty),
 *   FAILED with the job's error, or CANCELLED; or it was refused at
 *   submission: already done with AG_ERROR_CLOSED when to_thread returned,
 *   and never ran. AG_ERROR_CLOSED never arrives later;
 * - succeeded + failed + cancelled + refused == submitted.
 *
 * Then nothing is left: threads, callers, pendings, sources.
 */

#include "config.h"

#include "stress-util.h"

#define FULL_JOBS      500000
#define N_PARENTS      3
#define N_SUBMITTERS   2
#define SLOW_SPINS     4000
#define WINDOW         8

typedef enum
{
  PLAN_SUCCEED,  /* sets its index */
  PLAN_FAIL,     /* sets an error */
  PLAN_EMPTY,    /* returns NULL without an outcome: succeeds empty */
  PLAN_SLOW,     /* works a while, stopping early if cancelled */
} Plan;

typedef struct _Submitter Submitter;

typedef struct
{
  guint      index;
  Plan       plan;
  gint       ran;         /* (atomic) */
  gint       destroyed;   /* (atomic) */
  gint       done_calls;  /* (atomic) */
  gint       cancel_seen; /* (atomic) the job saw its cancellation */
  Submitter *submitter;   /* immutable once submitted */
  /* written by the submitter, read after it was joined */
  AgPending *pending;     /* owned */
  gboolean   refused;     /* done with AG_ERROR_CLOSED at submission */
  gboolean   submitted;
} Job;

typedef struct
{
  AgMutex        lock;
  AgCaller      *parents[N_PARENTS];  /* owned, protected by lock */
  Job           *jobs;
  guint          n_jobs;
  gint           next;                /* (atomic) next job to submit */
  gint           submitted;           /* (atomic) */
  StressObjects  pendings;
  StressObjects  callers;
} Shared;

/* A submitter keeps at most WINDOW of its jobs in flight, as a program
 * that hands work to threads would: with no bound, each submission that
 * finds no idle worker makes a thread. */
struct _Submitter
{
  Shared  *shared;
  guint    index;
  AgMutex  lock;
  AgCond   cond;
  guint    in_flight;  /* protected by lock */
};

/* {{{ Jobs */

static AgPending *
job_func (AgPending *pending,
          gpointer   data)
{
  Job *job = data;

  if (g_atomic_int_add (&job->ran, 1) != 0)
    g_error ("job %u ran twice", job->index);
  if (g_atomic_int_get (&job->destroyed) != 0)
    g_error ("job %u ran after its destroy notify", job->index);

  switch (job->plan)
    {
    case PLAN_SUCCEED:
      ag_pending_set_int (pending, job->index);
      break;

    case PLAN_FAIL:
      ag_pending_take_error (pending,
                             g_error_new (AG_ERROR, AG_ERROR_FAILED,
                                          "job %u failed", job->index));
      break;

    case PLAN_EMPTY:
      break;

    case PLAN_SLOW:
      for (guint i = 0; i < SLOW_SPINS; i++)
        {
          if (ag_pending_is_cancelled (pending))
            {
              g_atomic_int_set (&job->cancel_seen, 1);
              return NULL;
            }
          ag_test_spin (1);
        }
      ag_pending_set_int (pending, job->index);
      break;

    default:
      g_assert_not_reached ();
    }

  return NULL;
}

static void
job_destroy (gpointer data)
{
  Job *job = data;

  if (g_atomic_int_add (&job->destroyed, 1) != 0)
    g_error ("job %u: destroy notify ran twice", job->index);
}

static void
job_done_cb (AgPending *pending,
             gpointer   data)
{
  Job *job = data;

  Submitter *submitter = job->submitter;

  if (g_atomic_int_add (&job->done_calls, 1) != 0)
    g_error ("job %u: done callback ran twice", job->index);

  ag_mutex_lock (&submitter->lock);
  submitter->in_flight--;
  ag_cond_signal (&submitter->cond);
  ag_mutex_unlock (&submitter->lock);
}

/* Waits (bounded) until fewer than @window jobs of @submitter are in
 * flight, and counts one more. */
static void
window_enter (Submitter *submitter,
              guint      window)
{
  gint64 deadline = stress_deadline (1);

  ag_mutex_lock (&submitter->lock);
  while (submitter->in_flight >= window)
    if (!ag_cond_wait_until (&submitter->cond, &submitter->lock, deadline) &&
        submitter->in_flight >= window)
      g_error ("no job of submitter %u ended for %d ms", submitter->index,
               AG_TEST_TIMEOUT_MSEC);
  submitter->in_flight++;
  ag_mutex_unlock (&submitter->lock);
}

/* }}} */

/* {{{ Submitters */

static AgCaller *
dup_parent (Shared *shared,
            guint   i)
{
  AgCaller *parent;

  ag_mutex_lock (&shared->lock);
  parent = g_object_ref (shared->parents[i]);
  ag_mutex_unlock (&shared->lock);

  return parent;
}

static gpointer
submitter_thread (gpointer data)
{
  Submitter *submitter = data;
  Shared *shared = submitter->shared;
  g_autoptr(GRand) rand = stress_rand_new (100 + submitter->index);
  g_autoptr(GPtrArray) mine = g_ptr_array_new ();  /* Job, borrowed */

  for (;;)
    {
      gint i = g_atomic_int_add (&shared->next, 1);
      g_autoptr(AgCaller) parent = NULL;
      g_autoptr(GError) error = NULL;
      AgPending *pending;
      Job *job;

      if (i >= (gint) shared->n_jobs)
        break;

      job = &shared->jobs[i];
      job->submitter = submitter;
      window_enter (submitter, WINDOW);
      parent = dup_parent (shared, (guint) g_rand_int_range (rand, 0,
                                                             N_PARENTS));
      pending = ag_caller_to_thread (parent, job_func, job, job_destroy);
      stress_objects_track (&shared->pendings, pending);

      /* Refused: done at once with AG_ERROR_CLOSED. A job that already ran
       * is not refused, whatever its outcome. */
      if (ag_pending_is_done (pending))
        {
          error = ag_pending_dup_error (pending);
          job->refused = g_error_matches (error, AG_ERROR, AG_ERROR_CLOSED) &&
                         g_atomic_int_get (&job->ran) == 0;
        }

      ag_pending_add_done_callback (pending, job_done_cb, job, NULL);
      job->pending = pending;
      job->submitted = TRUE;
      g_ptr_array_add (mine, job);
      g_atomic_int_inc (&shared->submitted);

      /* Cancel one of our recent jobs now and then. */
      if (g_rand_int_range (rand, 0, 100) < 8)
        {
          guint back = (guint) g_rand_int_range (rand, 0, 16);

          if (back < mine->len)
            {
              Job *victim = g_ptr_array_index (mine, mine->len - 1 - back);

              ag_pending_cancel (victim->pending, "cancelled by a submitter");
            }
        }
    }

  return NULL;
}

/* }}} */

/* The plans of the jobs (drawn with stress_draw()). */
static const StressChoice plans[] = {
  { 55, PLAN_SUCCEED },
  { 70, PLAN_FAIL },
  { 80, PLAN_EMPTY },
  { 100, PLAN_SLOW },
};

static AgCaller *
new_parent (Shared *shared,
            guint   generation)
{
  g_autofree char *name = g_strdup_printf ("to-thread-parent-%u", generation);
  AgCaller *parent = ag_caller_new_thread (name);

  /* Every other parent reaps its idle workers after 1 ms: workers stop
   * while submitters take them for jobs. */
  if (generation % 2 == 1)
    ag_caller_set_idle_worker_timeout (parent, 0.001);

  stress_objects_track (&shared->callers, parent);
  return parent;
}

static void
test_to_thread_restart (void)
{
  g_autoptr(GRand) rand = stress_rand_new (4);
  g_autoptr(GPtrArray) old_parents =
    g_ptr_array_new_with_free_func (g_object_unref);
  Shared *shared = g_new0 (Shared, 1);
  Submitter submitters[N_SUBMITTERS];
  GThread *threads[N_SUBMITTERS];
  StressBaseline baseline;
  StressLeaks leaks;
  guint generation = 0;
  guint restarts = 0;
  guint stopped_first = 0;
  guint max_threads = 0;
  guint sources_left = 0;
  guint64 succeeded = 0, failed = 0, cancelled = 0, refused = 0;
  guint64 ran = 0, empty = 0, cancel_seen = 0;
  gint64 start = g_get_monotonic_time ();

  g_test_summary ("500k to_thread jobs from 2 threads while their parents "
                  "stop and restart: every job accounted for once");

  stress_baseline_take (&baseline);

  ag_mutex_init (&shared->lock);
  shared->n_jobs = stress_iterations (FULL_JOBS, 1);
  shared->jobs = g_new0 (Job, shared->n_jobs);
  for (guint i = 0; i < shared->n_jobs; i++)
    {
      shared->jobs[i].index = i;
      shared->jobs[i].plan = stress_draw (rand, plans, G_N_ELEMENTS (plans));
    }
  for (guint p = 0; p < N_PARENTS; p++)
    shared->parents[p] = new_parent (shared, generation++);

  for (guint s = 0; s < N_SUBMITTERS; s++)
    {
      submitters[s].shared = shared;
      submitters[s].index = s;
      submitters[s].in_flight = 0;
      ag_mutex_init (&submitters[s].lock);
      ag_cond_init (&submitters[s].cond);
      threads[s] = g_thread_new ("stress-submitter", submitter_thread,
                                 &submitters[s]);
    }

  /* Restart parents at random points while the submissions go on. Each
   * wait is bounded: the submitters always make progress. */
  for (;;)
    {
      gint at = g_atomic_int_get (&shared->submitted)
                + g_rand_int_range (rand, 200, 3000);
      guint p = (guint) g_rand_int_range (rand, 0, N_PARENTS);
      AgCaller *fresh;
      AgCaller *old;

      if (at >= (gint) shared->n_jobs)
        break;
      if (stress_wait_at_least (&shared->submitted, at) < at)
        g_error ("the submitters made no progress");

      fresh = new_parent (shared, generation++);
      if (g_rand_boolean (rand))
        {
          /* Stop first: jobs given to it meanwhile are refused. */
          gint later = MIN (at + g_rand_int_range (rand, 1, 200),
                            (gint) shared->n_jobs);

          old = dup_parent (shared, p);
          ag_caller_stop (old, TRUE);
          stress_wait_at_least (&shared->submitted, later);
          ag_mutex_lock (&shared->lock);
          g_object_unref (shared->parents[p]);
          shared->parents[p] = fresh;
          ag_mutex_unlock (&shared->lock);
          stopped_first++;
        }
      else
        {
          ag_mutex_lock (&shared->lock);
          old = shared->parents[p];
          shared->parents[p] = fresh;
          ag_mutex_unlock (&shared->lock);
          ag_caller_stop (old, TRUE);
        }
      g_ptr_array_add (old_parents, old);
      restarts++;
      max_threads = MAX (max_threads, ag_test_count_threads ());
    }

  for (guint s = 0; s < N_SUBMITTERS; s++)
    g_thread_join (threads[s]);

  /* Stop everything, wait (bounded) for every parent to say so. */
  for (guint p = 0; p < N_PARENTS; p++)
    {
      ag_caller_stop (shared->parents[p], TRUE);
      g_ptr_array_add (old_parents, g_steal_pointer (&shared->parents[p]));
    }
  for (guint i = 0; i < old_parents->len; i++)
    {
      AgCaller *parent = g_ptr_array_index (old_parents, i);

      stress_wait_done (ag_caller_get_stopped (parent), "a parent's stop");
    }

  /* A parent may say it stopped before its workers' threads are gone (and
   * with them the last destroy notifies): wait for the threads too. */
  stress_wait_threads (baseline.threads);

  for (guint i = 0; i < shared->n_jobs; i++)
    {
      Job *job = &shared->jobs[i];
      AgPendingState state;
      g_autoptr(GError) error = NULL;
      gint job_ran;

      g_assert_true (job->submitted);
      stress_wait_done (job->pending, "a to_thread job");
      if (stress_wait_at_least (&job->destroyed, 1) != 1)
        g_error ("job %u: destroy notify ran %d times", i,
                 g_atomic_int_get (&job->destroyed));
      if (stress_wait_at_least (&job->done_calls, 1) != 1)
        g_error ("job %u: done callback ran %d times", i,
                 g_atomic_int_get (&job->done_calls));

      state = ag_pending_get_state (job->pending);
      error = ag_pending_dup_error (job->pending);
      job_ran = g_atomic_int_get (&job->ran);
      ran += (guint64) job_ran;
      cancel_seen += (guint64) g_atomic_int_get (&job->cancel_seen);

      if (job->refused)
        {
          if (job_ran != 0)
            g_error ("job %u was refused but ran", i);
          g_assert_error (error, AG_ERROR, AG_ERROR_CLOSED);
          refused++;
          continue;
        }

      switch (state)
        {
        case AG_PENDING_STATE_SUCCEEDED:
          if (job_ran != 1)
            g_error ("job %u succeeded without running", i);
          if (job->plan == PLAN_EMPTY)
            {
              GValue value = G_VALUE_INIT;

              g_assert_true (ag_pending_get_value (job->pending, &value, NULL));
              g_assert_false (G_IS_VALUE (&value));
              empty++;
            }
          else if (job->plan == PLAN_SUCCEED || job->plan == PLAN_SLOW)
            g_assert_cmpint (ag_pending_get_int (job->pending, NULL), ==, i);
          else
            g_error ("job %u (plan %d) succeeded", i, job->plan);
          succeeded++;
          break;

        case AG_PENDING_STATE_FAILED:
          if (g_error_matches (error, AG_ERROR, AG_ERROR_CLOSED))
            g_error ("job %u ended AG_ERROR_CLOSED after its submission "
                     "returned", i);
          if (job->plan != PLAN_FAIL || job_ran != 1)
            g_error ("job %u (plan %d, ran %d) failed: %s", i, job->plan,
                     job_ran, error->message);
          g_assert_error (error, AG_ERROR, AG_ERROR_FAILED);
          failed++;
          break;

        case AG_PENDING_STATE_CANCELLED:
          g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
          cancelled++;
          break;

        default:
          g_error ("job %u ended in state %d", i, state);
        }
    }

  g_assert_cmpuint (succeeded + failed + cancelled + refused, ==,
                    shared->n_jobs);

  for (guint i = 0; i < shared->n_jobs; i++)
    g_clear_object (&shared->jobs[i].pending);

  /* Sources left on the parents' contexts, once they are gone. */
  {
    g_autoptr(GPtrArray) contexts =
      g_ptr_array_new_with_free_func ((GDestroyNotify) g_main_context_unref);

    for (guint i = 0; i < old_parents->len; i++)
      g_ptr_array_add (contexts,
                       g_main_context_ref (ag_caller_get_context (
                         g_ptr_array_index (old_parents, i))));
    g_ptr_array_set_size (old_parents, 0);
    g_assert_cmpint (stress_objects_wait (&shared->callers), ==, 0);
    for (guint i = 0; i < contexts->len; i++)
      sources_left += stress_count_sources (g_ptr_array_index (contexts, i));
  }

  stress_baseline_compare (&baseline, &leaks);
  g_assert_cmpint (stress_objects_wait (&shared->pendings), ==, 0);

  stress_summary ("to-thread-restart",
                  "%u jobs, submitted from %d threads, %u parent restarts "
                  "(%u stopped before replaced), %" G_GUINT64_FORMAT
                  " jobs counted: succeeded %" G_GUINT64_FORMAT
                  " (%" G_GUINT64_FORMAT " empty), failed %" G_GUINT64_FORMAT
                  ", cancelled %" G_GUINT64_FORMAT " (%" G_GUINT64_FORMAT
                  " while running), refused %" G_GUINT64_FORMAT
                  "; %" G_GUINT64_FORMAT " ran, 0 lost, 0 doubled, "
                  "peak %u threads, left over: %u threads, %u callers, "
                  "%d pendings, %u sources, %.1f s",
                  shared->n_jobs, N_SUBMITTERS, restarts, stopped_first,
                  succeeded + failed + cancelled + refused, succeeded, empty,
                  failed, cancelled, cancel_seen, refused, ran, max_threads,
                  leaks.threads, leaks.callers,
                  shared->pendings.created - shared->pendings.finalized,
                  sources_left + leaks.default_sources,
                  stress_seconds_since (start));

  stress_assert_no_leaks (&leaks);
  g_assert_cmpuint (sources_left, ==, 0);

  for (guint s = 0; s < N_SUBMITTERS; s++)
    {
      ag_mutex_clear (&submitters[s].lock);
      ag_cond_clear (&submitters[s].cond);
    }
  ag_mutex_clear (&shared->lock);
  g_free (shared->jobs);
  g_free (shared);
}

int
main (int   argc,
      char *argv[])
{
  stress_test_init (&argc, &argv, "stress-to-thread");

  g_test_add_func ("/stress/to-thread/restart", test_to_thread_restart);

  return g_test_run ();
}

/* vim: set foldmethod=marker: */
