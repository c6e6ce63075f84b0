/* stress-caller.c: callers made and stopped, alone and in trees
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * /stress/caller/thread-cycles: 30k ag_caller_new_thread() callers, up to
 * four alive at once, each given a few jobs drawn from the seed (quick,
 * delayed, blocking until cancelled, set-later, following another pending,
 * stopping its own caller) and stopped while they run.
 *
 * /stress/caller/child-trees: 3k trees: a root with children
 * (ag_caller_get_child), grandchildren made from outside and from inside
 * the children's jobs, and work in all of them (including to_thread
 * workers); the root is stopped mid-work, by the test thread or by a job
 * deep in the tree.
 *
 * /stress/caller/stop-handoff: 2k callers stopped while a job blocks until
 * the stop cancels it and then hands its outcome off (returns its own
 * pending, or one to follow): ag_caller_stop() says those end cancelled at
 * once.
 *
 * All check every job (its pending ends SUCCEEDED or CANCELLED, or was
 * refused at submission with AG_ERROR_CLOSED; it ran at most once; its
 * destroy notify ran exactly once) and that nothing leaked: the process
 * has no more threads than before (/proc/self/task, waited for with a
 * deadline), ag_caller_list_all (FALSE) is back to its length, every
 * pending and caller made was finalized (weak references), and no source
 * is left on the contexts of the stopped callers or on the default one.
 */

#include "config.h"

#include "stress-util.h"

#define FULL_CYCLES    30000
#define FULL_TREES     3000
#define MAX_ALIVE      4

/* {{{ Jobs */

typedef enum
{
  JOB_QUICK,       /* sets its id */
  JOB_DELAYED,     /* a quick job in 30 s: cancelled by the stop */
  JOB_BLOCK,       /* waits, bounded, until it is cancelled */
  JOB_LATER,       /* returns its own pending and never sets it */
  JOB_FOLLOW,      /* follows a pending whose canceller completes it */
  JOB_STOP,        /* stops a caller from inside a job */
  JOB_SPAWN,       /* makes a grandchild and gives it work */
  JOB_POOL_BLOCK,  /* a blocking job through to_thread */
  JOB_POOL_STOP,   /* a stop job through to_thread */
  /* blocking jobs that, once the stop cancels them, hand their outcome
   * off instead of returning NULL: */
  JOB_BLOCK_LATER,        /* returns its own pending */
  JOB_BLOCK_FOLLOW,       /* follows a pending its canceller completes */
  JOB_BLOCK_FOLLOW_STUCK, /* follows a pending nobody completes */
  N_JOB_KINDS
} JobKind;

static const char *job_kind_names[N_JOB_KINDS] = {
  "quick", "delayed", "block", "later", "follow", "stop", "spawn",
  "pool-block", "pool-stop", "block-then-later", "block-then-follow",
  "block-then-follow-stuck",
};

typedef struct _Work Work;

typedef struct
{
  JobKind    kind;
  guint      id;
  Work      *work;
  AgCaller  *caller;          /* owned: where it runs (its submitter) */
  AgCaller  *target;          /* owned, nullable: what a stop job stops */
  gint       ran;             /* (atomic) */
  gint       destroyed;       /* (atomic) */
  gint       ran_after_destroy; /* (atomic) */
  /* set under work->lock once submitted */
  AgPending *pending;         /* owned */
  gboolean   done_at_submit;
} Job;

/* What one scenario step made: its jobs, callers and counts. */
struct _Work
{
  AgMutex        lock;
  GPtrArray     *jobs;         /* Job, protected by lock */
  GPtrArray     *callers;      /* AgCaller, owned, protected by lock */
  GRand         *rand;         /* for the test thread only */
  StressObjects *pendings;
  StressObjects *callers_made;
  gint           blocked;      /* (atomic) blocking jobs started */
  gint           next_id;      /* (atomic) */
  guint          depth_spawned;
};

typedef struct
{
  guint64 jobs;
  guint64 by_state[AG_PENDING_STATE_CANCELLED + 1];
  guint64 refused;
  guint64 ran;
  guint64 kinds[N_JOB_KINDS];
} JobFigures;

static AgPending *job_func (AgPending *pending,
                            gpointer   data);
static void       job_destroy (gpointer data);

static void
work_init (Work          *work,
           GRand         *rand,
           StressObjects *pendings,
           StressObjects *callers_made)
{
  ag_mutex_init (&work->lock);
  work->jobs = g_ptr_array_new ();
  work->callers = g_ptr_array_new_with_free_func (g_object_unref);
  work->rand = rand;
  work->pendings = pendings;
  work->callers_made = callers_made;
  work->blocked = 0;
  work->next_id = 0;
}

/* Counts @caller as made (in work->callers_made) and remembers it (a new
 * reference) to wait for its stop. */
static void
work_add_caller (Work     *work,
                 AgCaller *caller)
{
  stress_objects_track (work->callers_made, caller);
  ag_mutex_lock (&work->lock);
  g_ptr_array_add (work->callers, g_object_ref (caller));
  ag_mutex_unlock (&work->lock);
}

/*
 * submit:
 * @work: the step
 * @caller: where the job runs
 * @kind: what it does
 * @target: (nullable): the caller a JOB_STOP stops
 *
 * Submits a job from any thread: the test thread, or a job.
 */
static void
submit (Work     *work,
        AgCaller *caller,
        JobKind   kind,
        AgCaller *target)
{
  Job *job = g_new0 (Job, 1);
  AgPending *pending;

  job->kind = kind;
  job->id = (guint) g_atomic_int_add (&work->next_id, 1);
  job->work = work;
  job->caller = g_object_ref (caller);
  job->target = target != NULL ? g_object_ref (target) : NULL;

  switch (kind)
    {
    case JOB_DELAYED:
      pending = ag_caller_call_later (caller, 30.0, job_func, job,
                                      job_destroy);
      break;
    case JOB_POOL_BLOCK:
    case JOB_POOL_STOP:
      pending = ag_caller_to_thread (caller, job_func, job, job_destroy);
      break;
    default:
      pending = ag_caller_call_soon (caller, job_func, job, job_destroy);
      break;
    }

  stress_objects_track (work->pendings, pending);

  ag_mutex_lock (&work->lock);
  job->pending = pending;
  job->done_at_submit = ag_pending_is_done (pending);
  g_ptr_array_add (work->jobs, job);
  ag_mutex_unlock (&work->lock);
}

static void
block_cancelled_cb (GCancellable *cancellable,
                    gpointer      data)
{
  ag_test_latch_set (data, 1);
}

/* Waits until @pending is cancelled, bounded by AG_TEST_TIMEOUT_MSEC (then
 * the test fails: a stop must cancel a running job). */
static void
block_until_cancelled (Work      *work,
                       AgPending *pending)
{
  GCancellable *cancellable = ag_pending_get_cancellable (pending);
  AgTestLatch latch;
  gulong handler;

  ag_test_latch_init (&latch);
  handler = g_cancellable_connect (cancellable,
                                   G_CALLBACK (block_cancelled_cb), &latch,
                                   NULL);
  g_atomic_int_inc (&work->blocked);
  ag_test_latch_wait (&latch, 1);
  g_cancellable_disconnect (cancellable, handler);
  ag_test_latch_clear (&latch);
}

static void
follow_canceller (AgPending  *pending,
                  const char *message,
                  gpointer    data)
{
  /* Like an I/O operation that stops when asked. */
  ag_pending_take_error (pending,
                         g_error_new_literal (G_IO_ERROR,
                                              G_IO_ERROR_CANCELLED,
                                              message ? message : "stopped"));
}

/* Finds @child among the children of @parent and returns a new reference
 * to it, without touching @child itself: ag_caller_get_child() returns a
 * borrowed pointer that a concurrent stop of @parent may free. */
static AgCaller *
ref_child (AgCaller *parent,
           AgCaller *child)
{
  g_autoptr(GPtrArray) children = ag_caller_dup_children (parent);
  guint index;

  if (child == NULL || !g_ptr_array_find (children, child, &index))
    return NULL;
  return g_object_ref (g_ptr_array_index (children, index));
}

static AgPending *
job_func (AgPending *pending,
          gpointer   data)
{
  Job *job = data;
  Work *work = job->work;

  if (g_atomic_int_add (&job->ran, 1) != 0)
    g_error ("job %u (%s) ran twice", job->id, job_kind_names[job->kind]);
  if (g_atomic_int_get (&job->destroyed) != 0)
    g_atomic_int_inc (&job->ran_after_destroy);

  switch (job->kind)
    {
    case JOB_QUICK:
    case JOB_DELAYED:
      ag_pending_set_int (pending, job->id);
      return NULL;

    case JOB_BLOCK:
    case JOB_POOL_BLOCK:
      block_until_cancelled (work, pending);
      return NULL;

    case JOB_LATER:
      return g_object_ref (pending);

    case JOB_FOLLOW:
      {
        AgPending *followed = ag_pending_new ();

        stress_objects_track (work->pendings, followed);
        ag_pending_set_canceller (followed, follow_canceller, NULL, NULL);
        return followed;
      }

    case JOB_BLOCK_LATER:
      block_until_cancelled (work, pending);
      return g_object_ref (pending);

    case JOB_BLOCK_FOLLOW:
    case JOB_BLOCK_FOLLOW_STUCK:
      {
        AgPending *followed = ag_pending_new ();

        block_until_cancelled (work, pending);
        stress_objects_track (work->pendings, followed);
        if (job->kind == JOB_BLOCK_FOLLOW)
          ag_pending_set_canceller (followed, follow_canceller, NULL, NULL);
        return followed;
      }

    case JOB_STOP:
    case JOB_POOL_STOP:
      ag_caller_stop (job->target, TRUE);
      return NULL;

    case JOB_SPAWN:
      {
        g_autofree char *name = g_strdup_printf ("spawned-%u", job->id);
        g_autoptr(AgCaller) child = NULL;

        child = ref_child (job->caller,
                           ag_caller_get_child (job->caller, name));
        if (child != NULL)
          {
            work_add_caller (work, child);
            submit (work, child, JOB_QUICK, NULL);
            submit (work, child, JOB_BLOCK, NULL);
            submit (work, child, JOB_QUICK, NULL);
          }
        ag_pending_set_boolean (pending, child != NULL);
        return NULL;
      }

    default:
      g_assert_not_reached ();
    }
}

static void
job_destroy (gpointer data)
{
  Job *job = data;

  if (g_atomic_int_add (&job->destroyed, 1) != 0)
    g_error ("job %u (%s): destroy notify ran twice", job->id,
             job_kind_names[job->kind]);
}

static void
job_free (Job *job)
{
  g_clear_object (&job->pending);
  g_clear_object (&job->caller);
  g_clear_object (&job->target);
  g_free (job);
}

/* Checks every job of @work once all its callers stopped, and adds to
 * @figures. */
static void
check_jobs (Work       *work,
            JobFigures *figures)
{
  g_autoptr(GPtrArray) jobs = NULL;

  ag_mutex_lock (&work->lock);
  jobs = g_ptr_array_copy (work->jobs, NULL, NULL);
  ag_mutex_unlock (&work->lock);

  for (guint i = 0; i < jobs->len; i++)
    {
      Job *job = g_ptr_array_index (jobs, i);
      AgPending *pending = job->pending;
      g_autoptr(GError) error = NULL;
      AgPendingState state;
      gint ran;

      if (!ag_pending_is_done (pending))
        {
          g_autofree char *what =
            g_strdup_printf ("job %u (%s) of a stopped caller", job->id,
                             job_kind_names[job->kind]);

          stress_wait_done (pending, what);
        }
      /* A worker's destroy notifies run in its thread, which may still be
       * finishing when its parent said it stopped. */
      if (stress_wait_at_least (&job->destroyed, 1) != 1)
        g_error ("job %u (%s): destroy notify ran %d times", job->id,
                 job_kind_names[job->kind],
                 g_atomic_int_get (&job->destroyed));

      state = ag_pending_get_state (pending);
      ran = g_atomic_int_get (&job->ran);
      error = ag_pending_dup_error (pending);
      figures->jobs++;
      figures->kinds[job->kind]++;
      figures->by_state[state]++;
      figures->ran += (guint64) ran;

      if (g_atomic_int_get (&job->ran_after_destroy) != 0)
        g_error ("job %u (%s) ran after its destroy notify", job->id,
                 job_kind_names[job->kind]);

      switch (state)
        {
        case AG_PENDING_STATE_SUCCEEDED:
          if (ran != 1)
            g_error ("job %u (%s) succeeded without running", job->id,
                     job_kind_names[job->kind]);
          if ((job->kind == JOB_QUICK || job->kind == JOB_DELAYED) &&
              ag_pending_get_int (pending, NULL) != job->id)
            g_error ("job %u succeeded with the wrong value", job->id);
          if (job->kind == JOB_BLOCK || job->kind == JOB_POOL_BLOCK ||
              job->kind == JOB_LATER || job->kind == JOB_FOLLOW ||
              job->kind == JOB_BLOCK_LATER || job->kind == JOB_BLOCK_FOLLOW ||
              job->kind == JOB_BLOCK_FOLLOW_STUCK)
            g_error ("job %u (%s) succeeded: it ends only when cancelled",
                     job->id, job_kind_names[job->kind]);
          break;

        case AG_PENDING_STATE_CANCELLED:
          g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
          break;

        case AG_PENDING_STATE_FAILED:
          /* Only a refusal at submission fails. */
          if (!g_error_matches (error, AG_ERROR, AG_ERROR_CLOSED))
            g_error ("job %u (%s) failed: %s", job->id,
                     job_kind_names[job->kind], error->message);
          if (!job->done_at_submit || ran != 0)
            g_error ("job %u (%s) ended AG_ERROR_CLOSED but was %s at "
                     "submission and ran %d times", job->id,
                     job_kind_names[job->kind],
                     job->done_at_submit ? "done" : "not done", ran);
          figures->refused++;
          break;

        default:
          g_error ("job %u (%s) is in state %d", job->id,
                   job_kind_names[job->kind], state);
        }
    }
}

/* Drops the jobs and callers of @work. */
static void
work_clear (Work *work)
{
  for (guint i = 0; i < work->jobs->len; i++)
    job_free (g_ptr_array_index (work->jobs, i));
  g_clear_pointer (&work->jobs, g_ptr_array_unref);
  g_clear_pointer (&work->callers, g_ptr_array_unref);
  ag_mutex_clear (&work->lock);
}

/* Waits (bounded) for every caller of @work to say it stopped. */
static void
wait_callers_stopped (Work *work)
{
  g_autoptr(GPtrArray) callers = NULL;

  callers = g_ptr_array_new_with_free_func (g_object_unref);
  ag_mutex_lock (&work->lock);
  for (guint i = 0; i < work->callers->len; i++)
    g_ptr_array_add (callers,
                     g_object_ref (g_ptr_array_index (work->callers, i)));
  ag_mutex_unlock (&work->lock);

  for (guint i = 0; i < callers->len; i++)
    {
      AgCaller *caller = g_ptr_array_index (callers, i);

      stress_wait_done (ag_caller_get_stopped (caller), "a caller's stop");
      g_assert_cmpint (ag_caller_get_state (caller), ==,
                       AG_CALLER_STATE_STOPPED);
    }
}

/* }}} */

/* {{{ Contexts: no source left once a caller is gone */

typedef struct
{
  GMainContext *context;    /* owned */
  char         *name;       /* owned: the caller's */
  gint          finalized;  /* (atomic) */
} ContextProbe;

static void
probe_weak_notify (gpointer  data,
                   GObject  *where_the_object_was)
{
  g_atomic_int_set (&((ContextProbe *) data)->finalized, 1);
}

static ContextProbe *
context_probe_new (AgCaller *caller)
{
  ContextProbe *probe = g_new0 (ContextProbe, 1);

  probe->context = g_main_context_ref (ag_caller_get_context (caller));
  probe->name = g_strdup (ag_caller_get_name (caller));
  g_object_weak_ref (G_OBJECT (caller), probe_weak_notify, probe);
  return probe;
}

/* Waits (bounded) for the caller to be finalized, then counts the sources
 * left on its context. */
static guint
context_probe_finish (ContextProbe *probe)
{
  guint n;

  if (stress_wait_at_least (&probe->finalized, 1) != 1)
    g_error ("the stopped caller “%s” was not finalized once its jobs were "
             "done and dropped (something still holds it)", probe->name);
  n = stress_count_sources (probe->context);
  g_main_context_unref (probe->context);
  g_free (probe->name);
  g_free (probe);
  return n;
}

/* }}} */

/* {{{ /stress/caller/thread-cycles */

/* A new_thread caller with its work, and the probe of its context. */
typedef struct
{
  AgCaller     *caller;
  Work          work;
  ContextProbe *probe;
} Alive;

/* Makes the caller of @alive (which must not move afterwards: its jobs
 * point into it). */
static void
alive_start (Alive         *alive,
             const char    *name,
             GRand         *rand,
             StressObjects *pendings,
             StressObjects *callers)
{
  alive->caller = ag_caller_new_thread (name);
  alive->probe = context_probe_new (alive->caller);
  work_init (&alive->work, rand, pendings, callers);
  work_add_caller (&alive->work, alive->caller);
}

/* The jobs of a cycle (drawn with stress_draw()). */
static const StressChoice cycle_jobs[] = {
  { 30, JOB_QUICK },
  { 45, JOB_DELAYED },
  { 65, JOB_BLOCK },
  { 75, JOB_LATER },
  { 85, JOB_FOLLOW },
  { 100, JOB_STOP },
};

static void
give_cycle_work (Alive *alive,
                 GRand *rand)
{
  guint n = (guint) g_rand_int_range (rand, 0, 4);

  for (guint i = 0; i < n; i++)
    {
      JobKind kind = stress_draw (rand, cycle_jobs,
                                  G_N_ELEMENTS (cycle_jobs));

      submit (&alive->work, alive->caller, kind,
              kind == JOB_STOP ? alive->caller : NULL);
    }
}

/* Stops the caller of @alive, checks its jobs (adding to @figures), and
 * adds the sources left on its context to @sources_left. */
static void
stop_alive (Alive      *alive,
            JobFigures *figures,
            guint      *sources_left)
{
  ag_caller_stop (alive->caller, TRUE);
  wait_callers_stopped (&alive->work);
  check_jobs (&alive->work, figures);
  work_clear (&alive->work);
  g_clear_object (&alive->caller);
  *sources_left += context_probe_finish (g_steal_pointer (&alive->probe));
}

static void
test_thread_cycles (void)
{
  guint n_cycles = stress_iterations (FULL_CYCLES, 1);
  g_autoptr(GRand) rand = stress_rand_new (2);
  StressObjects pendings = { 0, };
  StressObjects callers = { 0, };
  Alive *alive[MAX_ALIVE];  /* owned; jobs point into them: never moved */
  guint n_alive = 0;
  guint made = 0;
  guint stopped = 0;
  guint sources_left = 0;
  guint max_threads = 0;
  JobFigures figures = { 0, };
  StressBaseline baseline;
  StressLeaks leaks;
  gint64 start = g_get_monotonic_time ();

  g_test_summary ("30k new_thread callers made and stopped with work in "
                  "them: no thread, caller, pending or source leaked");

  stress_baseline_take (&baseline);

  while (stopped < n_cycles)
    {
      gboolean make = made < n_cycles &&
                      (n_alive == 0 ||
                       (n_alive < MAX_ALIVE && g_rand_boolean (rand)));

      if (make)
        {
          Alive *a = g_new0 (Alive, 1);
          g_autofree char *name = g_strdup_printf ("cycle-%u", made);

          alive[n_alive++] = a;
          alive_start (a, name, rand, &pendings, &callers);
          give_cycle_work (a, rand);
          made++;
          max_threads = MAX (max_threads, ag_test_count_threads ());
        }
      else
        {
          guint i = (guint) g_rand_int_range (rand, 0, (gint32) n_alive);

          stop_alive (alive[i], &figures, &sources_left);
          g_free (alive[i]);
          alive[i] = alive[--n_alive];
          stopped++;
        }
    }

  g_assert_cmpuint (n_alive, ==, 0);

  stress_baseline_compare (&baseline, &leaks);
  g_assert_cmpint (stress_objects_wait (&pendings), ==, 0);
  g_assert_cmpint (stress_objects_wait (&callers), ==, 0);

  stress_summary ("caller-thread-cycles",
                  "%u cycles, %u callers made and stopped (up to %d alive), "
                  "%" G_GUINT64_FORMAT " jobs (%" G_GUINT64_FORMAT " ran; "
                  "succeeded %" G_GUINT64_FORMAT ", cancelled %"
                  G_GUINT64_FORMAT ", refused %" G_GUINT64_FORMAT "), "
                  "%d pendings finalized, peak %u threads, left over: "
                  "%u threads, %u callers, %u pendings, %u sources, %.1f s",
                  stopped, made, MAX_ALIVE, figures.jobs, figures.ran,
                  figures.by_state[AG_PENDING_STATE_SUCCEEDED],
                  figures.by_state[AG_PENDING_STATE_CANCELLED],
                  figures.refused, g_atomic_int_get (&pendings.finalized),
                  max_threads, leaks.threads, leaks.callers,
                  (guint) (pendings.created - pendings.finalized),
                  sources_left + leaks.default_sources,
                  stress_seconds_since (start));

  stress_assert_no_leaks (&leaks);
  g_assert_cmpuint (sources_left, ==, 0);
}

/* }}} */

/* {{{ /stress/caller/child-trees */

typedef struct
{
  guint   trees;
  guint   callers;
  guint   stopped_by_job;
  guint   stopped_early;    /* before any blocking job ran */
  guint   max_threads;
  guint   sources_left;
} TreeFigures;

/* The jobs of a tree (drawn with stress_draw()). */
static const StressChoice tree_jobs[] = {
  { 35, JOB_QUICK },
  { 45, JOB_DELAYED },
  { 60, JOB_BLOCK },
  { 68, JOB_LATER },
  { 76, JOB_FOLLOW },
  { 90, JOB_POOL_BLOCK },
  { 100, JOB_QUICK },
};

/* A caller of the tree made from the test thread: in @work, probed, and
 * given work later. */
static void
add_tree_node (Work      *work,
               GPtrArray *probes,
               GPtrArray *nodes,
               AgCaller  *node)
{
  g_assert_nonnull (node);
  work_add_caller (work, node);
  g_ptr_array_add (probes, context_probe_new (node));
  g_ptr_array_add (nodes, node);
}

static void
run_tree (guint          index,
          GRand         *rand,
          StressObjects *pendings,
          StressObjects *callers_made,
          JobFigures    *figures,
          TreeFigures   *tree_figures)
{
  g_autofree char *root_name = g_strdup_printf ("tree-%u", index);
  g_autoptr(GPtrArray) probes = g_ptr_array_new ();
  g_autoptr(GPtrArray) nodes = g_ptr_array_new ();  /* borrowed */
  AgCaller *root;
  Work work;
  guint n_children = (guint) g_rand_int_range (rand, 1, 4);
  g_autoptr(GPtrArray) free_nodes = g_ptr_array_new ();  /* borrowed */
  guint reachable_blocks = 0;
  guint n_spawned = 0;
  gint wait_blocks;

  work_init (&work, rand, pendings, callers_made);

  root = ag_caller_new_thread (root_name);
  add_tree_node (&work, probes, nodes, root);

  /* Children, and grandchildren made from here or from inside a job. */
  for (guint c = 0; c < n_children; c++)
    {
      g_autofree char *name = g_strdup_printf ("child-%u", c);
      AgCaller *child = ag_caller_get_child (root, name);
      guint n_grandchildren = (guint) g_rand_int_range (rand, 0, 3);

      add_tree_node (&work, probes, nodes, child);

      for (guint g = 0; g < n_grandchildren; g++)
        {
          g_autofree char *gname = g_strdup_printf ("grandchild-%u", g);
          AgCaller *grandchild;

          if (g_rand_boolean (rand))
            {
              submit (&work, child, JOB_SPAWN, NULL);
              n_spawned++;
              continue;
            }

          grandchild = ag_caller_get_child (child, gname);
          add_tree_node (&work, probes, nodes, grandchild);
        }
    }

  /* Work everywhere. The first blocking job of a caller holds up the jobs
   * queued behind it until the stop; a to_thread job gets a worker of its
   * own, and a spawned grandchild runs a blocking job too. */
  for (guint i = 0; i < nodes->len; i++)
    {
      AgCaller *node = g_ptr_array_index (nodes, i);
      guint n_jobs = (guint) g_rand_int_range (rand, 1, 5);
      gboolean blocked = FALSE;

      for (guint j = 0; j < n_jobs; j++)
        {
          JobKind kind = stress_draw (rand, tree_jobs,
                                      G_N_ELEMENTS (tree_jobs));

          if (kind == JOB_BLOCK && !blocked)
            {
              blocked = TRUE;
              reachable_blocks++;
            }
          else if (kind == JOB_POOL_BLOCK)
            reachable_blocks++;
          submit (&work, node, kind, NULL);
        }
      if (!blocked)
        g_ptr_array_add (free_nodes, node);
    }
  reachable_blocks += n_spawned;

  /* Stop mid-work: once some of the blocking jobs run (a bounded wait),
   * from here, or from a job in the tree: in a caller with no blocking
   * job, or in a worker of any caller of the tree. */
  wait_blocks = g_rand_int_range (rand, 0, (gint32) reachable_blocks + 1);
  if (wait_blocks > 0)
    g_assert_cmpint (stress_wait_at_least (&work.blocked, wait_blocks), >=,
                     wait_blocks);
  else
    tree_figures->stopped_early++;

  if (g_rand_int_range (rand, 0, 100) < 30)
    {
      if (free_nodes->len > 0 && g_rand_boolean (rand))
        submit (&work,
                g_ptr_array_index (free_nodes,
                                   g_rand_int_range (rand, 0,
                                                     (gint32) free_nodes->len)),
                JOB_STOP, root);
      else
        submit (&work,
                g_ptr_array_index (nodes,
                                   g_rand_int_range (rand, 0,
                                                     (gint32) nodes->len)),
                JOB_POOL_STOP, root);
      tree_figures->stopped_by_job++;
    }
  else
    ag_caller_stop (root, TRUE);

  tree_figures->max_threads = MAX (tree_figures->max_threads,
                                   ag_test_count_threads ());

  wait_callers_stopped (&work);
  check_jobs (&work, figures);

  /* Callers spawned from inside jobs: probes too. */
  ag_mutex_lock (&work.lock);
  for (guint i = 0; i < work.callers->len; i++)
    {
      AgCaller *caller = g_ptr_array_index (work.callers, i);

      if (!g_ptr_array_find (nodes, caller, NULL))
        g_ptr_array_add (probes, context_probe_new (caller));
    }
  tree_figures->callers += work.callers->len;
  ag_mutex_unlock (&work.lock);

  work_clear (&work);
  g_object_unref (root);

  for (guint i = 0; i < probes->len; i++)
    tree_figures->sources_left +=
      context_probe_finish (g_ptr_array_index (probes, i));

  tree_figures->trees++;
}

static void
test_child_trees (void)
{
  guint n_trees = stress_iterations (FULL_TREES, 1);
  g_autoptr(GRand) rand = stress_rand_new (3);
  StressObjects pendings = { 0, };
  StressObjects callers = { 0, };
  JobFigures figures = { 0, };
  TreeFigures tree_figures = { 0, };
  StressBaseline baseline;
  StressLeaks leaks;
  gint64 start = g_get_monotonic_time ();

  g_test_summary ("3k trees of children and grandchildren with work in "
                  "them, stopped mid-work: no thread, caller, pending or "
                  "source leaked");

  stress_baseline_take (&baseline);

  for (guint i = 0; i < n_trees; i++)
    run_tree (i, rand, &pendings, &callers, &figures, &tree_figures);

  stress_baseline_compare (&baseline, &leaks);
  g_assert_cmpint (stress_objects_wait (&pendings), ==, 0);
  g_assert_cmpint (stress_objects_wait (&callers), ==, 0);

  stress_summary ("caller-child-trees",
                  "%u trees, %u callers in them (%u stopped from a job, "
                  "%u before any blocking job ran), "
                  "%" G_GUINT64_FORMAT " jobs (%" G_GUINT64_FORMAT " ran; "
                  "succeeded %" G_GUINT64_FORMAT ", cancelled %"
                  G_GUINT64_FORMAT ", refused %" G_GUINT64_FORMAT "), "
                  "%d pendings finalized, peak %u threads, left over: "
                  "%u threads, %u callers, %u pendings, %u sources, %.1f s",
                  tree_figures.trees, tree_figures.callers,
                  tree_figures.stopped_by_job, tree_figures.stopped_early,
                  figures.jobs, figures.ran,
                  figures.by_state[AG_PENDING_STATE_SUCCEEDED],
                  figures.by_state[AG_PENDING_STATE_CANCELLED],
                  figures.refused, g_atomic_int_get (&pendings.finalized),
                  tree_figures.max_threads, leaks.threads, leaks.callers,
                  (guint) (pendings.created - pendings.finalized),
                  tree_figures.sources_left + leaks.default_sources,
                  stress_seconds_since (start));

  stress_assert_no_leaks (&leaks);
  g_assert_cmpuint (tree_figures.sources_left, ==, 0);
}

/* }}} */

/* {{{ /stress/caller/stop-handoff */

/* A job running when its caller stops may hand its outcome off as it
 * returns: its own pending ("set later") or one to follow. The stop's
 * contract (ag_caller_stop()) is that such jobs end cancelled at once, and
 * the stopped caller releases everything. Each cycle here lines the stop
 * up with a job blocked until the stop cancels it, which then hands off. */

#define FULL_HANDOFFS  2000

static void
test_stop_handoff (void)
{
  static const JobKind kinds[] = {
    JOB_BLOCK_LATER, JOB_BLOCK_FOLLOW, JOB_BLOCK_FOLLOW_STUCK,
  };
  guint n_cycles = stress_iterations (FULL_HANDOFFS, G_N_ELEMENTS (kinds));
  g_autoptr(GRand) rand = stress_rand_new (6);
  StressObjects pendings = { 0, };
  StressObjects callers = { 0, };
  JobFigures figures = { 0, };
  StressBaseline baseline;
  StressLeaks leaks;
  guint sources_left = 0;
  gint64 start = g_get_monotonic_time ();

  g_test_summary ("2k callers stopped while a job runs that then hands its "
                  "outcome off (set later, follow): the job ends cancelled "
                  "at once, nothing leaks");

  stress_baseline_take (&baseline);

  for (guint i = 0; i < n_cycles; i++)
    {
      JobKind kind = kinds[i < G_N_ELEMENTS (kinds)
                             ? i
                             : (guint) g_rand_int_range (rand, 0,
                                                         G_N_ELEMENTS (kinds))];
      g_autofree char *name = g_strdup_printf ("handoff-%u-%s", i,
                                               job_kind_names[kind]);
      Alive alive;

      alive_start (&alive, name, rand, &pendings, &callers);
      submit (&alive.work, alive.caller, kind, NULL);
      if (stress_wait_at_least (&alive.work.blocked, 1) < 1)
        g_error ("the job of %s did not start", name);

      stop_alive (&alive, &figures, &sources_left);
    }

  stress_baseline_compare (&baseline, &leaks);
  g_assert_cmpint (stress_objects_wait (&pendings), ==, 0);
  g_assert_cmpint (stress_objects_wait (&callers), ==, 0);

  stress_summary ("caller-stop-handoff",
                  "%u cycles, %" G_GUINT64_FORMAT " jobs handing off as the "
                  "stop cancelled them (%" G_GUINT64_FORMAT " set-later, %"
                  G_GUINT64_FORMAT " follow, %" G_GUINT64_FORMAT
                  " follow-stuck), all cancelled; left over: %u threads, "
                  "%u callers, %u pendings, %u sources, %.1f s",
                  n_cycles, figures.jobs, figures.kinds[JOB_BLOCK_LATER],
                  figures.kinds[JOB_BLOCK_FOLLOW],
                  figures.kinds[JOB_BLOCK_FOLLOW_STUCK], leaks.threads,
                  leaks.callers,
                  (guint) (pendings.created - pendings.finalized),
                  sources_left + leaks.default_sources,
                  stress_seconds_since (start));

  stress_assert_no_leaks (&leaks);
  g_assert_cmpuint (sources_left, ==, 0);
}

/* }}} */

int
main (int   argc,
      char *argv[])
{
  stress_test_init (&argc, &argv, "stress-caller");

  g_test_add_func ("/stress/caller/thread-cycles", test_thread_cycles);
  g_test_add_func ("/stress/caller/child-trees", test_child_trees);
  g_test_add_func ("/stress/caller/stop-handoff", test_stop_handoff);

  return g_test_run ();
}

/* vim: set foldmethod=marker: */
