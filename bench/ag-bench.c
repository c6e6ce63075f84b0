/* ag-bench.c: async-gobject against GLib's own ways of using worker threads
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * One run measures one scenario with one mechanism and prints one JSON line:
 *
 *   ag-bench --scenario roundtrip --mechanism ag-to-thread --pin split
 *
 * Scenarios:
 *
 *   roundtrip      the main thread (running a GMainLoop) hands one job to a
 *                  worker and gets the result back on the main context,
 *                  then hands the next one: latency of each round trip
 *   throughput     the main thread submits N jobs, then runs its loop until
 *                  all N results are back: ns per job
 *   memory         as throughput, but the loop only runs once every job has
 *                  run: peak RSS growth / N, that is what a job costs from
 *                  its submission until its result is consumed
 *   hostloop       a producer thread submits N jobs while the main loop runs:
 *                  the longest time the loop spends between two polls
 *   hostloop-idle  the same, with an idle source of default priority on the
 *                  main context that records the gaps between its dispatches
 *
 * Mechanisms: floor (GMutex + GCond, or a GAsyncQueue pair, no main loop),
 * floor-object (the queue pair with a GObject per job), floor-pending (the
 * queue pair with an AgPending per job), invoke, gtask,
 * threadpool, ag-to-thread, ag-to-thread-wait, ag-call-soon; see `--list`.
 *
 * Every result is checked: delivered exactly once, with the right value, on
 * the main thread, by a job that ran on another thread. Any failure prints a
 * message, `"ok": false`, and exits 1. `--smoke` runs every scenario with
 * every mechanism with tiny N (the `bench-smoke` test).
 */

#include "config.h"

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <async-gobject/async-gobject.h>

/* Types {{{ */

typedef enum
{
  SCENARIO_ROUNDTRIP,
  SCENARIO_THROUGHPUT,
  SCENARIO_MEMORY,
  SCENARIO_HOSTLOOP,
  SCENARIO_HOSTLOOP_IDLE,
  N_SCENARIOS
} Scenario;

static const char * const scenario_names[N_SCENARIOS] = {
  "roundtrip", "throughput", "memory", "hostloop", "hostloop-idle",
};

typedef enum
{
  PIN_NONE,
  PIN_SAME,   /* every thread on CPU 0 */
  PIN_SPLIT,  /* the main thread on CPU 0, the workers on CPU 1 */
} PinMode;

static const char * const pin_names[] = { "none", "same", "split" };

typedef struct
{
  const char *name;
  const char *description;
  void      (*setup)    (void);
  /* Hands job @id to a worker; its result must reach deliver() on the main
   * thread. Called on the main thread, or on the producer thread of the
   * hostloop scenarios. */
  void      (*submit)   (guint id);
  void      (*teardown) (void);
  /* The mechanisms with no main loop (the floors): gets @count results on
   * the main thread; NULL for the others. */
  void      (*receive)  (guint count);
  /* The scenarios it can run, a bit per Scenario; 0 for all. */
  guint       scenarios;
} Mechanism;

/* A latency histogram: 1 µs buckets up to HIST_MAX_US, then one overflow
 * bucket; the exact maximum is kept on the side. */
#define HIST_MAX_US 100000

typedef struct
{
  guint32 *buckets;   /* HIST_MAX_US + 1 */
  guint64  count;
  gint64   max_ns;
} Histogram;

/* }}} */

/* State of the run {{{ */

static struct
{
  /* immutable during a run */
  Scenario          scenario;
  PinMode           pin;
  const Mechanism  *mech;
  guint             warmup;     /* ids [0, warmup) are not measured */
  guint             total;      /* warmup + N */
  guint             generation; /* a new one for every run */
  guint             loop_timeout;  /* s */
  pthread_t         main_thread;
  GMainContext     *main_ctx;
  GMainLoop        *loop;
  AgCaller         *main_caller;
  int               worker_cpu;

  /* main thread only */
  guint8           *seen;        /* how many times each id was delivered */
  guint             delivered;
  guint             target;      /* the loop quits when delivered reaches it */
  gint64            t_submit;    /* roundtrip: when the current job went */
  double           *latency_us;  /* roundtrip: one per measured job */

  /* hostloop: wall-clock gaps, and the main thread's CPU time in them
   * (which leaves out the time it was preempted) */
  gboolean          measuring;   /* main thread only */
  gint64            last_poll_exit;
  gint64            last_poll_exit_cpu;
  Histogram         poll_gaps;
  Histogram         poll_cpu_gaps;
  glong             last_poll_exit_nvcsw;
  guint64           sleep_gaps;      /* gaps in which the loop slept */
  gint64            sleep_gap_max_ns;
  gint64            last_idle;
  gint64            last_idle_cpu;
  Histogram         idle_gaps;
  Histogram         idle_cpu_gaps;

  gint              executed;    /* (atomic) jobs run by workers */
  gint              errors;      /* (atomic) */
  gint              n_threads;   /* (atomic) distinct worker threads */
} B;

/* The generation in which this thread last ran a job: a thread counts and
 * pins itself on its first job of a run. */
static __thread guint worker_generation;

static gint64
now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (gint64) ts.tv_sec * G_GINT64_CONSTANT (1000000000) + ts.tv_nsec;
}

/* Voluntary context switches of the calling thread: the times it slept,
 * on a lock say. */
static glong
thread_nvcsw (void)
{
  struct rusage usage;

  if (getrusage (RUSAGE_THREAD, &usage) != 0)
    return 0;
  return usage.ru_nvcsw;
}

/* CPU time of the calling thread */
static gint64
thread_cpu_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  return (gint64) ts.tv_sec * G_GINT64_CONSTANT (1000000000) + ts.tv_nsec;
}

static gboolean
on_main_thread (void)
{
  return pthread_equal (pthread_self (), B.main_thread);
}

G_GNUC_PRINTF (1, 2)
static void
fail (const char *format,
      ...)
{
  va_list args;

  if (g_atomic_int_add (&B.errors, 1) >= 10)
    return;

  va_start (args, format);
  fprintf (stderr, "ag-bench: %s/%s: ", scenario_names[B.scenario],
           B.mech != NULL ? B.mech->name : "?");
  vfprintf (stderr, format, args);
  fputc ('\n', stderr);
  va_end (args);
}

static void
pin_self (int cpu)
{
  cpu_set_t set;
  int err;

  CPU_ZERO (&set);
  CPU_SET (cpu, &set);
  err = pthread_setaffinity_np (pthread_self (), sizeof set, &set);
  if (err != 0)
    {
      static gint warned;

      if (g_atomic_int_compare_and_exchange (&warned, 0, 1))
        fprintf (stderr, "ag-bench: cannot pin a thread to CPU %d: %s\n",
                 cpu, g_strerror (err));
    }
}

static gint64
job_value (guint id)
{
  return (gint64) id * 7 + 3;
}

/* What every job does, on its worker thread. */
static gint64
job_body (guint id)
{
  if (worker_generation != B.generation)
    {
      worker_generation = B.generation;
      g_atomic_int_inc (&B.n_threads);
      if (B.pin == PIN_SPLIT)
        pin_self (B.worker_cpu);
    }

  if (on_main_thread ())
    fail ("job %u ran on the main thread", id);

  g_atomic_int_inc (&B.executed);
  return job_value (id);
}

/* A result in a pointer, for the mechanisms that pass one: no allocation. */
#define PACK(id, value) \
  GSIZE_TO_POINTER (((gsize) (id) << 32) | (guint32) (value))
#define PACKED_ID(p)    ((guint) (GPOINTER_TO_SIZE (p) >> 32))
#define PACKED_VALUE(p) ((gint64) (GPOINTER_TO_SIZE (p) & 0xffffffffu))

G_STATIC_ASSERT (sizeof (gpointer) == 8);

/* Checks one result, on the thread that receives it. */
static void
verify (guint  id,
        gint64 value)
{
  if (!on_main_thread ())
    fail ("result %u delivered on another thread", id);
  if (id >= B.total)
    {
      fail ("result for unknown job %u", id);
      return;
    }
  if (B.seen[id]++ != 0)
    fail ("result %u delivered %u times", id, B.seen[id]);
  if (value != job_value (id))
    fail ("result %u: value %" G_GINT64_FORMAT ", expected %" G_GINT64_FORMAT,
          id, value, job_value (id));
  B.delivered++;
}

/* Every main-loop mechanism hands its results here, on the main thread. */
static void
deliver (guint  id,
         gint64 value)
{
  verify (id, value);

  if (B.scenario == SCENARIO_ROUNDTRIP)
    {
      gint64 t = now_ns ();

      if (id >= B.warmup && id < B.total)
        B.latency_us[id - B.warmup] = (t - B.t_submit) / 1000.0;
      if (B.delivered < B.target)
        {
          B.t_submit = now_ns ();
          B.mech->submit (B.delivered);
          return;
        }
    }

  if (B.delivered == B.target)
    g_main_loop_quit (B.loop);
}

/* }}} */

/* Histograms, RSS {{{ */

static void
histogram_init (Histogram *h)
{
  /* g_new0 touches nothing; memset does, before anything is measured */
  h->buckets = g_new (guint32, HIST_MAX_US + 1);
  memset (h->buckets, 0, sizeof (guint32) * (HIST_MAX_US + 1));
  h->count = 0;
  h->max_ns = 0;
}

static void
histogram_clear (Histogram *h)
{
  g_clear_pointer (&h->buckets, g_free);
}

static void
histogram_add (Histogram *h,
               gint64     ns)
{
  gint64 us = ns / 1000;

  h->buckets[MIN (us, HIST_MAX_US)]++;
  h->count++;
  h->max_ns = MAX (h->max_ns, ns);
}

/* The upper bound of the bucket holding quantile @q, in µs. */
static double
histogram_quantile_us (const Histogram *h,
                       double           q)
{
  guint64 rank;
  guint64 seen = 0;

  if (h->count == 0)
    return 0;

  rank = (guint64) (q * (h->count - 1)) + 1;
  for (guint i = 0; i <= HIST_MAX_US; i++)
    {
      seen += h->buckets[i];
      if (seen >= rank)
        return i < HIST_MAX_US ? i + 1 : h->max_ns / 1000.0;
    }
  return h->max_ns / 1000.0;
}

/* A field of /proc/self/status, in kB; -1 if missing. */
static gint64
proc_status_kb (const char *field)
{
  g_autofree char *contents = NULL;
  const char *line;
  size_t len = strlen (field);

  if (!g_file_get_contents ("/proc/self/status", &contents, NULL, NULL))
    return -1;
  for (line = contents; line != NULL && *line != '\0';)
    {
      if (strncmp (line, field, len) == 0 && line[len] == ':')
        return g_ascii_strtoll (line + len + 1, NULL, 10);
      line = strchr (line, '\n');
      if (line != NULL)
        line++;
    }
  return -1;
}

/* Resets VmHWM to the current RSS (Linux ≥ 4.0). */
static gboolean
reset_peak_rss (void)
{
  int fd = open ("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
  gboolean ok;

  if (fd < 0)
    return FALSE;
  ok = write (fd, "5", 1) == 1;
  close (fd);
  return ok;
}

static int
compare_doubles (const void *a,
                 const void *b)
{
  double x = *(const double *) a;
  double y = *(const double *) b;

  return (x > y) - (x < y);
}

/* }}} */

/* Mechanism: invoke {{{ */

/* g_main_context_invoke() to a worker thread that runs its own GMainLoop,
 * and g_main_context_invoke() back to the main context. */

static GMainContext *invoke_ctx;
static GMainLoop *invoke_loop;
static GThread *invoke_thread;

static gpointer
invoke_thread_main (gpointer data)
{
  g_main_context_push_thread_default (invoke_ctx);
  g_main_loop_run (invoke_loop);
  g_main_context_pop_thread_default (invoke_ctx);
  return NULL;
}

static gboolean
result_packed_cb (gpointer data)
{
  deliver (PACKED_ID (data), PACKED_VALUE (data));
  return G_SOURCE_REMOVE;
}

static gboolean
invoke_job_cb (gpointer data)
{
  guint id = GPOINTER_TO_UINT (data);
  gint64 value = job_body (id);

  g_main_context_invoke (B.main_ctx, result_packed_cb, PACK (id, value));
  return G_SOURCE_REMOVE;
}

static void
invoke_setup (void)
{
  invoke_ctx = g_main_context_new ();
  invoke_loop = g_main_loop_new (invoke_ctx, FALSE);
  invoke_thread = g_thread_new ("bench-invoke", invoke_thread_main, NULL);
}

static void
invoke_submit (guint id)
{
  g_main_context_invoke (invoke_ctx, invoke_job_cb, GUINT_TO_POINTER (id));
}

static gboolean
invoke_quit_cb (gpointer data)
{
  g_main_loop_quit (invoke_loop);
  return G_SOURCE_REMOVE;
}

static void
invoke_teardown (void)
{
  g_main_context_invoke (invoke_ctx, invoke_quit_cb, NULL);
  g_thread_join (g_steal_pointer (&invoke_thread));
  g_clear_pointer (&invoke_loop, g_main_loop_unref);
  g_clear_pointer (&invoke_ctx, g_main_context_unref);
}

/* }}} */

/* Mechanism: gtask {{{ */

static void
gtask_thread (GTask        *task,
              gpointer      source_object,
              gpointer      task_data,
              GCancellable *cancellable)
{
  g_task_return_int (task, job_body (GPOINTER_TO_UINT (task_data)));
}

static void
gtask_done (GObject      *source_object,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(GError) error = NULL;
  gssize value = g_task_propagate_int (G_TASK (result), &error);

  if (error != NULL)
    fail ("GTask failed: %s", error->message);
  deliver (GPOINTER_TO_UINT (user_data), value);
}

static void
gtask_submit (guint id)
{
  GTask *task = g_task_new (NULL, NULL, gtask_done, GUINT_TO_POINTER (id));

  g_task_set_task_data (task, GUINT_TO_POINTER (id), NULL);
  g_task_run_in_thread (task, gtask_thread);
  g_object_unref (task);
}

/* }}} */

/* Mechanism: threadpool {{{ */

/* GThreadPool with as many threads as CPUs; results come back with
 * g_main_context_invoke(). */

static GThreadPool *pool;

static void
pool_func (gpointer data,
           gpointer user_data)
{
  guint id = GPOINTER_TO_UINT (data) - 1;
  gint64 value = job_body (id);

  g_main_context_invoke (B.main_ctx, result_packed_cb, PACK (id, value));
}

static void
pool_setup (void)
{
  g_autoptr(GError) error = NULL;

  pool = g_thread_pool_new (pool_func, NULL,
                            (int) MAX (g_get_num_processors (), 1),
                            FALSE, &error);
  g_assert_no_error (error);
}

static void
pool_submit (guint id)
{
  g_thread_pool_push (pool, GUINT_TO_POINTER (id + 1), NULL);
}

static void
pool_teardown (void)
{
  g_thread_pool_free (g_steal_pointer (&pool), FALSE, TRUE);
}

/* }}} */

/* Mechanisms: async-gobject {{{ */

static AgCaller *thread_caller;

static AgPending *
ag_job (AgPending *pending,
        gpointer   user_data)
{
  ag_pending_set_int (pending, job_body (GPOINTER_TO_UINT (user_data)));
  return NULL;
}

static void
ag_done (AgPending *pending,
         gpointer   user_data)
{
  g_autoptr(GError) error = NULL;
  gint64 value = ag_pending_get_int (pending, &error);

  if (error != NULL)
    fail ("pending failed: %s", error->message);
  deliver (GPOINTER_TO_UINT (user_data), value);
}

static void
ag_wait_done (GObject      *source_object,
              GAsyncResult *result,
              gpointer      user_data)
{
  AgPending *pending = AG_PENDING (source_object);
  g_autoptr(GError) error = NULL;
  gint64 value = 0;

  if (!ag_pending_wait_finish (pending, result, &error))
    fail ("wait failed: %s", error->message);
  else
    value = ag_pending_get_int (pending, &error);
  if (error != NULL)
    fail ("pending failed: %s", error->message);
  deliver (GPOINTER_TO_UINT (user_data), value);
}

static void
ag_to_thread_submit (guint id)
{
  g_autoptr(AgPending) pending =
    ag_caller_to_thread (B.main_caller, ag_job, GUINT_TO_POINTER (id), NULL);

  ag_pending_add_done_callback_on (pending, B.main_caller, ag_done,
                                   GUINT_TO_POINTER (id), NULL);
}

static void
ag_to_thread_wait_submit (guint id)
{
  g_autoptr(AgPending) pending =
    ag_caller_to_thread (B.main_caller, ag_job, GUINT_TO_POINTER (id), NULL);

  ag_pending_wait_async (pending, -1, FALSE, NULL, ag_wait_done,
                         GUINT_TO_POINTER (id));
}

static void
ag_call_soon_setup (void)
{
  thread_caller = ag_caller_new_thread ("bench-worker");
}

static void
ag_call_soon_submit (guint id)
{
  g_autoptr(AgPending) pending =
    ag_caller_call_soon (thread_caller, ag_job, GUINT_TO_POINTER (id), NULL);

  ag_pending_add_done_callback_on (pending, B.main_caller, ag_done,
                                   GUINT_TO_POINTER (id), NULL);
}

static void
ag_call_soon_teardown (void)
{
  ag_caller_stop (thread_caller, TRUE);
  g_clear_object (&thread_caller);
}

/* }}} */

/* Mechanism: floor {{{ */

/* Two threads and the cheapest hand-over GLib has: a GMutex and two GConds
 * for one job at a time, a pair of GAsyncQueues for many. No main loop. */

static struct
{
  GMutex       lock;
  GCond        request_cond;
  GCond        reply_cond;
  gboolean     has_request;   /* protected by the lock */
  gboolean     has_reply;     /* protected by the lock */
  gboolean     quit;          /* protected by the lock */
  guint        request;       /* protected by the lock */
  gpointer     reply;         /* protected by the lock */
  GAsyncQueue *in;
  GAsyncQueue *out;
  GThread     *thread;
} F;

static gpointer
floor_cond_worker (gpointer data)
{
  for (;;)
    {
      guint id;
      gint64 value;

      g_mutex_lock (&F.lock);
      while (!F.has_request && !F.quit)
        g_cond_wait (&F.request_cond, &F.lock);
      if (F.quit)
        {
          g_mutex_unlock (&F.lock);
          return NULL;
        }
      F.has_request = FALSE;
      id = F.request;
      g_mutex_unlock (&F.lock);

      value = job_body (id);

      /* Signalled after the unlock, so that the woken thread does not
       * block on the lock at once. */
      g_mutex_lock (&F.lock);
      F.reply = PACK (id, value);
      F.has_reply = TRUE;
      g_mutex_unlock (&F.lock);
      g_cond_signal (&F.reply_cond);
    }
}

#define FLOOR_QUIT GUINT_TO_POINTER (G_MAXUINT)

static gpointer
floor_queue_worker (gpointer data)
{
  for (;;)
    {
      gpointer item = g_async_queue_pop (F.in);
      guint id;

      if (item == FLOOR_QUIT)
        return NULL;
      id = GPOINTER_TO_UINT (item) - 1;
      g_async_queue_push (F.out, PACK (id, job_body (id)));
    }
}

static void
floor_roundtrip (void)
{
  F.quit = F.has_request = F.has_reply = FALSE;
  g_mutex_init (&F.lock);
  g_cond_init (&F.request_cond);
  g_cond_init (&F.reply_cond);
  F.thread = g_thread_new ("bench-floor", floor_cond_worker, NULL);

  for (guint id = 0; id < B.total; id++)
    {
      gint64 start = now_ns ();
      gpointer reply;

      g_mutex_lock (&F.lock);
      F.request = id;
      F.has_request = TRUE;
      g_mutex_unlock (&F.lock);
      g_cond_signal (&F.request_cond);
      g_mutex_lock (&F.lock);
      while (!F.has_reply)
        g_cond_wait (&F.reply_cond, &F.lock);
      F.has_reply = FALSE;
      reply = F.reply;
      g_mutex_unlock (&F.lock);

      if (id >= B.warmup)
        B.latency_us[id - B.warmup] = (now_ns () - start) / 1000.0;
      verify (PACKED_ID (reply), PACKED_VALUE (reply));
    }

  g_mutex_lock (&F.lock);
  F.quit = TRUE;
  g_cond_signal (&F.request_cond);
  g_mutex_unlock (&F.lock);
  g_thread_join (g_steal_pointer (&F.thread));
  g_cond_clear (&F.reply_cond);
  g_cond_clear (&F.request_cond);
  g_mutex_clear (&F.lock);
}

/* The queue pair, and @worker serving it. */
static void
floor_queues_start (GThreadFunc worker)
{
  F.in = g_async_queue_new ();
  F.out = g_async_queue_new ();
  F.thread = g_thread_new ("bench-floor", worker, NULL);
}

static void
floor_queue_setup (void)
{
  floor_queues_start (floor_queue_worker);
}

static void
floor_queue_submit (guint id)
{
  g_async_queue_push (F.in, GUINT_TO_POINTER (id + 1));
}

/* Receives @count results on the main thread. */
static void
floor_queue_receive (guint count)
{
  for (guint i = 0; i < count; i++)
    {
      gpointer reply = g_async_queue_pop (F.out);

      verify (PACKED_ID (reply), PACKED_VALUE (reply));
    }
}

static void
floor_queue_teardown (void)
{
  g_async_queue_push (F.in, FLOOR_QUIT);
  g_thread_join (g_steal_pointer (&F.thread));
  g_clear_pointer (&F.in, g_async_queue_unref);
  g_clear_pointer (&F.out, g_async_queue_unref);
}

/* }}} */

/* Mechanism: floor-object {{{ */

/* The GAsyncQueue floor, with one GObject per job: the main thread makes
 * it, the worker sets its result (a GValue), the main thread reads it and
 * releases it. Its type is the least a result object can be: one
 * read-only property (as a pending has: a class with properties pays for
 * GLib's notify machinery in g_object_new () and in the last
 * g_object_unref ()), no lock, no state, no callback, no main loop. What a
 * mechanism that gives an object per job costs at least, in the same run
 * as the others. */

#define BENCH_TYPE_RESULT (bench_result_get_type ())
G_DECLARE_FINAL_TYPE (BenchResult, bench_result, BENCH, RESULT, GObject)

struct _BenchResult
{
  GObject  parent_instance;
  guint    id;
  GValue   value;  /* set by the worker, read after the queue hands it back */
};

G_DEFINE_FINAL_TYPE (BenchResult, bench_result, G_TYPE_OBJECT)

static void
bench_result_finalize (GObject *object)
{
  BenchResult *self = (BenchResult *) object;

  if (G_IS_VALUE (&self->value))
    g_value_unset (&self->value);
  G_OBJECT_CLASS (bench_result_parent_class)->finalize (object);
}

static void
bench_result_get_property (GObject    *object,
                           guint       prop_id,
                           GValue     *value,
                           GParamSpec *pspec)
{
  BenchResult *self = (BenchResult *) object;

  if (prop_id != 1)
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  else if (G_IS_VALUE (&self->value))
    g_value_copy (&self->value, value);
}

static void
bench_result_class_init (BenchResultClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = bench_result_finalize;
  object_class->get_property = bench_result_get_property;
  g_object_class_install_property (object_class, 1,
    g_param_spec_int64 ("value", NULL, NULL, G_MININT64, G_MAXINT64, 0,
                        G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
}

static void
bench_result_init (BenchResult *self)
{
}

static gpointer
floor_object_worker (gpointer data)
{
  for (;;)
    {
      gpointer item = g_async_queue_pop (F.in);
      BenchResult *result;

      if (item == FLOOR_QUIT)
        return NULL;
      result = item;
      g_value_init (&result->value, G_TYPE_INT64);
      g_value_set_int64 (&result->value, job_body (result->id));
      g_async_queue_push (F.out, result);
    }
}

static void
floor_object_setup (void)
{
  floor_queues_start (floor_object_worker);
}

static void
floor_object_submit (guint id)
{
  BenchResult *result = g_object_new (BENCH_TYPE_RESULT, NULL);

  result->id = id;
  g_async_queue_push (F.in, result);
}

static void
floor_object_receive (guint count)
{
  for (guint i = 0; i < count; i++)
    {
      BenchResult *result = g_async_queue_pop (F.out);

      verify (result->id, g_value_get_int64 (&result->value));
      g_object_unref (result);
    }
}

/* }}} */

/* Mechanism: floor-pending {{{ */

/* The GAsyncQueue floor carrying one AgPending per job: the main thread
 * makes it, the worker completes it, the main thread reads the outcome and
 * releases it. No caller, no main loop, no done callback: what giving a
 * pending per job costs at least, whatever the mechanism that carries it. */

static gpointer
floor_pending_worker (gpointer data)
{
  /* Jobs are submitted with consecutive ids and this one thread takes
   * them in order: the pending need not carry its id (qdata would add a
   * GData array to each) */
  guint id = 0;

  for (;;)
    {
      gpointer item = g_async_queue_pop (F.in);

      if (item == FLOOR_QUIT)
        return NULL;
      ag_pending_set_int (item, GPOINTER_TO_SIZE (PACK (id, job_body (id))));
      id++;
      g_async_queue_push (F.out, item);
    }
}

static void
floor_pending_setup (void)
{
  floor_queues_start (floor_pending_worker);
}

static void
floor_pending_submit (guint id)
{
  g_async_queue_push (F.in, ag_pending_new ());
}

static void
floor_pending_receive (guint count)
{
  for (guint i = 0; i < count; i++)
    {
      AgPending *pending = g_async_queue_pop (F.out);
      g_autoptr(GError) error = NULL;
      gpointer reply;

      reply = GSIZE_TO_POINTER (ag_pending_get_int (pending, &error));
      if (error != NULL)
        fail ("pending failed: %s", error->message);
      verify (PACKED_ID (reply), PACKED_VALUE (reply));
      g_object_unref (pending);
    }
}

/* }}} */

static const Mechanism mechanisms[] = {
  { "floor", "GMutex+GCond (roundtrip) or GAsyncQueue pair, no main loop",
    floor_queue_setup, floor_queue_submit, floor_queue_teardown,
    floor_queue_receive,
    1 << SCENARIO_ROUNDTRIP | 1 << SCENARIO_THROUGHPUT | 1 << SCENARIO_MEMORY },
  { "floor-object",
    "the GAsyncQueue pair with a GObject made and released per job, no main "
    "loop (throughput and memory)",
    floor_object_setup, floor_object_submit, floor_queue_teardown,
    floor_object_receive, 1 << SCENARIO_THROUGHPUT | 1 << SCENARIO_MEMORY },
  { "floor-pending",
    "the GAsyncQueue pair with an AgPending made, completed and released "
    "per job, no main loop (throughput and memory)",
    floor_pending_setup, floor_pending_submit, floor_queue_teardown,
    floor_pending_receive, 1 << SCENARIO_THROUGHPUT | 1 << SCENARIO_MEMORY },
  { "invoke", "g_main_context_invoke to a worker thread's loop and back",
    invoke_setup, invoke_submit, invoke_teardown },
  { "gtask", "g_task_run_in_thread",
    NULL, gtask_submit, NULL },
  { "threadpool", "GThreadPool (n CPUs threads) + g_main_context_invoke back",
    pool_setup, pool_submit, pool_teardown },
  { "ag-to-thread", "ag_caller_to_thread (n CPUs workers) + ag_pending_add_done_callback_on",
    NULL, ag_to_thread_submit, NULL },
  { "ag-to-thread-wait", "ag_caller_to_thread (n CPUs workers) + ag_pending_wait_async",
    NULL, ag_to_thread_wait_submit, NULL },
  { "ag-call-soon",
    "ag_caller_call_soon on a new_thread caller + done_callback_on",
    ag_call_soon_setup, ag_call_soon_submit, ag_call_soon_teardown },
};

/* Whether the mechanism has no main loop (a floor). */
static gboolean
is_floor (void)
{
  return B.mech->receive != NULL;
}

static gboolean
mechanism_runs (const Mechanism *mech,
                Scenario         scenario)
{
  return mech->scenarios == 0 || (mech->scenarios & (1u << scenario)) != 0;
}

/* Scenarios {{{ */

static gboolean
loop_timeout_cb (gpointer data)
{
  fail ("timed out: %u of %u results after %u s", B.delivered, B.target,
        B.loop_timeout);
  g_main_loop_quit (B.loop);
  return G_SOURCE_REMOVE;
}

/* Runs the main loop until @target results are in, or until a result is
 * clearly missing. */
static void
run_loop_until (guint target)
{
  g_autoptr(GSource) timeout = NULL;

  B.target = target;
  if (B.delivered >= B.target)
    return;

  timeout = g_timeout_source_new_seconds (B.loop_timeout);
  g_source_set_callback (timeout, loop_timeout_cb, NULL, NULL);
  g_source_set_static_name (timeout, "bench timeout");
  g_source_attach (timeout, B.main_ctx);
  g_main_loop_run (B.loop);
  g_source_destroy (timeout);
}

/* Submits ids [from, to) from the main thread, then gets their results. */
static void
submit_range_and_collect (guint from,
                          guint to)
{
  for (guint id = from; id < to; id++)
    B.mech->submit (id);
  if (is_floor ())
    B.mech->receive (to - from);
  else
    run_loop_until (to);
}

static void
scenario_roundtrip (GString *json)
{
  double sum = 0;
  guint n = B.total - B.warmup;
  gint64 start = now_ns ();
  double wall;

  B.latency_us = g_new (double, n);
  memset (B.latency_us, 0, sizeof (double) * n);

  if (B.mech == &mechanisms[0])
    floor_roundtrip ();
  else
    {
      if (B.mech->setup != NULL)
        B.mech->setup ();
      B.t_submit = now_ns ();
      B.mech->submit (0);
      run_loop_until (B.total);
      if (B.mech->teardown != NULL)
        B.mech->teardown ();
    }
  wall = (now_ns () - start) / 1e9;

  for (guint i = 0; i < n; i++)
    sum += B.latency_us[i];
  qsort (B.latency_us, n, sizeof (double), compare_doubles);
  g_string_append_printf (json,
                          ", \"median_us\": %.3f, \"p99_us\": %.3f"
                          ", \"mean_us\": %.3f, \"min_us\": %.3f"
                          ", \"max_us\": %.3f, \"wall_s\": %.4f",
                          n ? B.latency_us[n / 2] : 0,
                          n ? B.latency_us[(guint) (0.99 * (n - 1))] : 0,
                          n ? sum / n : 0,
                          n ? B.latency_us[0] : 0,
                          n ? B.latency_us[n - 1] : 0,
                          wall);
  g_clear_pointer (&B.latency_us, g_free);
}

static void
scenario_throughput (GString *json)
{
  guint n = B.total - B.warmup;
  gint64 start, end;

  if (B.mech->setup != NULL)
    B.mech->setup ();

  submit_range_and_collect (0, B.warmup);
  start = now_ns ();
  submit_range_and_collect (B.warmup, B.total);
  end = now_ns ();

  if (B.mech->teardown != NULL)
    B.mech->teardown ();

  g_string_append_printf (json,
                          ", \"ns_per_job\": %.1f, \"jobs_per_s\": %.0f"
                          ", \"wall_s\": %.4f",
                          (double) (end - start) / n,
                          n * 1e9 / (double) (end - start),
                          (end - start) / 1e9);

  /* What the GObject alone costs the main thread per job, in the same
   * run: n pendings made, completed and released there, no other thread,
   * no callback (the part of ns_per_job no scheduling can remove). */
  if (g_str_has_prefix (B.mech->name, "ag-"))
    {
      AgPending **pendings = g_new (AgPending *, n);

      start = now_ns ();
      for (guint i = 0; i < n; i++)
        pendings[i] = ag_pending_new ();
      for (guint i = 0; i < n; i++)
        ag_pending_set_int (pendings[i], i);
      for (guint i = 0; i < n; i++)
        g_object_unref (pendings[i]);
      end = now_ns ();
      g_free (pendings);
      g_string_append_printf (json, ", \"pending_life_ns\": %.1f",
                              (double) (end - start) / n);
    }
}

static void
scenario_memory (GString *json)
{
  guint n = B.total - B.warmup;
  gint64 rss_base, rss_peak, rss_ran;
  gboolean reset;
  gint64 deadline;

  if (B.mech->setup != NULL)
    B.mech->setup ();

  /* Warm up: threads, pools, the allocator. */
  submit_range_and_collect (0, B.warmup);

  reset = reset_peak_rss ();
  rss_base = proc_status_kb ("VmRSS");

  for (guint id = B.warmup; id < B.total; id++)
    B.mech->submit (id);

  /* Every job runs; their results wait for the main thread. */
  deadline = now_ns () + G_GINT64_CONSTANT (120000000000);
  while ((guint) g_atomic_int_get (&B.executed) < B.total &&
         now_ns () < deadline)
    g_usleep (1000);
  g_usleep (20000);  /* the last results on their way back */

  rss_ran = proc_status_kb ("VmRSS");
  rss_peak = reset ? proc_status_kb ("VmHWM") : rss_ran;

  if (is_floor ())
    B.mech->receive (B.total - B.warmup);
  else
    run_loop_until (B.total);

  if (B.mech->teardown != NULL)
    B.mech->teardown ();

  g_string_append_printf (json,
                          ", \"bytes_per_job\": %.1f"
                          ", \"bytes_per_job_at_end\": %.1f"
                          ", \"rss_base_kb\": %" G_GINT64_FORMAT
                          ", \"rss_peak_kb\": %" G_GINT64_FORMAT
                          ", \"peak_is_hwm\": %s",
                          (rss_peak - rss_base) * 1024.0 / n,
                          (rss_ran - rss_base) * 1024.0 / n,
                          rss_base, rss_peak, reset ? "true" : "false");

  /* The part of a job that is the pending's instance, whatever the rest. */
  if (g_str_has_prefix (B.mech->name, "ag-"))
    {
      GTypeQuery query;

      g_type_query (AG_TYPE_PENDING, &query);
      g_string_append_printf (json, ", \"pending_bytes\": %u",
                              query.instance_size);
    }
}

static GPollFunc default_poll;

static gint
hostloop_poll (GPollFD *fds,
               guint    nfds,
               gint     timeout)
{
  gint ret;

  if (B.measuring && B.last_poll_exit != 0)
    {
      gint64 gap = now_ns () - B.last_poll_exit;

      histogram_add (&B.poll_gaps, gap);
      histogram_add (&B.poll_cpu_gaps,
                     thread_cpu_ns () - B.last_poll_exit_cpu);
      /* Did the loop sleep between two polls, that is wait for a lock? */
      if (thread_nvcsw () != B.last_poll_exit_nvcsw)
        {
          B.sleep_gaps++;
          B.sleep_gap_max_ns = MAX (B.sleep_gap_max_ns, gap);
        }
    }
  ret = default_poll (fds, nfds, timeout);
  B.last_poll_exit = now_ns ();
  B.last_poll_exit_cpu = thread_cpu_ns ();
  B.last_poll_exit_nvcsw = thread_nvcsw ();
  return ret;
}

static gboolean
hostloop_idle (gpointer data)
{
  gint64 t = now_ns ();
  gint64 cpu = thread_cpu_ns ();

  if (B.measuring && B.last_idle != 0)
    {
      histogram_add (&B.idle_gaps, t - B.last_idle);
      histogram_add (&B.idle_cpu_gaps, cpu - B.last_idle_cpu);
    }
  B.last_idle = t;
  B.last_idle_cpu = cpu;
  return G_SOURCE_CONTINUE;
}

static gpointer
producer_main (gpointer data)
{
  if (B.pin == PIN_SPLIT)
    pin_self (B.worker_cpu);
  for (guint id = B.warmup; id < B.total; id++)
    B.mech->submit (id);
  return NULL;
}

static void
scenario_hostloop (GString *json)
{
  g_autoptr(GSource) idle = NULL;
  GThread *producer;
  gint64 start, end;

  if (B.mech->setup != NULL)
    B.mech->setup ();

  submit_range_and_collect (0, B.warmup);

  histogram_init (&B.poll_gaps);
  histogram_init (&B.poll_cpu_gaps);
  histogram_init (&B.idle_gaps);
  histogram_init (&B.idle_cpu_gaps);
  default_poll = g_main_context_get_poll_func (B.main_ctx);
  g_main_context_set_poll_func (B.main_ctx, hostloop_poll);
  if (B.scenario == SCENARIO_HOSTLOOP_IDLE)
    {
      idle = g_idle_source_new ();
      g_source_set_priority (idle, G_PRIORITY_DEFAULT);
      g_source_set_callback (idle, hostloop_idle, NULL, NULL);
      g_source_set_static_name (idle, "bench idle");
      g_source_attach (idle, B.main_ctx);
    }

  B.measuring = TRUE;
  B.sleep_gaps = 0;
  B.sleep_gap_max_ns = 0;
  B.last_poll_exit = 0;
  B.last_idle = 0;
  start = now_ns ();
  producer = g_thread_new ("bench-producer", producer_main, NULL);
  run_loop_until (B.total);
  end = now_ns ();
  B.measuring = FALSE;
  g_thread_join (producer);

  if (idle != NULL)
    g_source_destroy (idle);
  g_main_context_set_poll_func (B.main_ctx, default_poll);

  if (B.mech->teardown != NULL)
    B.mech->teardown ();

  g_string_append_printf (json,
                          ", \"block_max_us\": %.1f, \"block_p99_us\": %.1f"
                          ", \"block_cpu_max_us\": %.1f"
                          ", \"block_cpu_p99_us\": %.1f"
                          ", \"iterations\": %" G_GUINT64_FORMAT
                          ", \"wall_s\": %.4f",
                          B.poll_gaps.max_ns / 1000.0,
                          histogram_quantile_us (&B.poll_gaps, 0.99),
                          B.poll_cpu_gaps.max_ns / 1000.0,
                          histogram_quantile_us (&B.poll_cpu_gaps, 0.99),
                          B.poll_gaps.count, (end - start) / 1e9);
  g_string_append_printf (json,
                          ", \"sleep_gaps\": %" G_GUINT64_FORMAT
                          ", \"sleep_gap_max_us\": %.1f",
                          B.sleep_gaps, B.sleep_gap_max_ns / 1000.0);
  if (B.scenario == SCENARIO_HOSTLOOP_IDLE)
    g_string_append_printf (json,
                            ", \"idle_max_us\": %.1f, \"idle_p99_us\": %.1f"
                            ", \"idle_cpu_max_us\": %.1f"
                            ", \"idle_cpu_p99_us\": %.1f"
                            ", \"idle_dispatches\": %" G_GUINT64_FORMAT,
                            B.idle_gaps.max_ns / 1000.0,
                            histogram_quantile_us (&B.idle_gaps, 0.99),
                            B.idle_cpu_gaps.max_ns / 1000.0,
                            histogram_quantile_us (&B.idle_cpu_gaps, 0.99),
                            B.idle_gaps.count);

  histogram_clear (&B.poll_gaps);
  histogram_clear (&B.poll_cpu_gaps);
  histogram_clear (&B.idle_gaps);
  histogram_clear (&B.idle_cpu_gaps);
}

/* }}} */

/* Runs one scenario with one mechanism; appends its JSON line to @out.
 * Returns FALSE if a result was wrong, missing or duplicated. */
static gboolean
run_one (Scenario         scenario,
         const Mechanism *mech,
         guint            n,
         guint            warmup,
         PinMode          pin,
         GString         *out)
{
  g_autoptr(GString) json = g_string_new (NULL);
  guint missing = 0;
  guint duplicated = 0;
  gboolean ok;

  if (!mechanism_runs (mech, scenario))
    return TRUE;  /* the floors have no main loop */

  B.scenario = scenario;
  B.mech = mech;
  B.pin = pin;
  B.warmup = warmup;
  B.total = warmup + n;
  B.generation++;
  B.delivered = 0;
  B.target = 0;
  g_atomic_int_set (&B.executed, 0);
  g_atomic_int_set (&B.errors, 0);
  g_atomic_int_set (&B.n_threads, 0);
  B.seen = g_new (guint8, B.total);
  memset (B.seen, 0, B.total);

  g_string_append_printf (json,
                          "{\"scenario\": \"%s\", \"mechanism\": \"%s\""
                          ", \"pin\": \"%s\", \"n\": %u",
                          scenario_names[scenario], mech->name,
                          pin_names[pin], n);

  switch (scenario)
    {
    case SCENARIO_ROUNDTRIP:
      scenario_roundtrip (json);
      break;
    case SCENARIO_THROUGHPUT:
      scenario_throughput (json);
      break;
    case SCENARIO_MEMORY:
      scenario_memory (json);
      break;
    case SCENARIO_HOSTLOOP:
    case SCENARIO_HOSTLOOP_IDLE:
      scenario_hostloop (json);
      break;
    case N_SCENARIOS:
    default:
      g_assert_not_reached ();
    }

  for (guint id = 0; id < B.total; id++)
    {
      if (B.seen[id] == 0)
        missing++;
      else if (B.seen[id] > 1)
        duplicated++;
    }
  if (missing > 0)
    fail ("%u results missing", missing);
  if (duplicated > 0)
    fail ("%u results delivered more than once", duplicated);
  if ((guint) g_atomic_int_get (&B.executed) != B.total)
    fail ("%d jobs ran, expected %u", g_atomic_int_get (&B.executed),
          B.total);
  ok = g_atomic_int_get (&B.errors) == 0;

  g_string_append_printf (json,
                          ", \"threads\": %d, \"errors\": %d, \"ok\": %s"
                          ", \"glib\": \"%u.%u.%u\"}",
                          g_atomic_int_get (&B.n_threads),
                          g_atomic_int_get (&B.errors),
                          ok ? "true" : "false",
                          glib_major_version, glib_minor_version,
                          glib_micro_version);
  g_string_append_printf (out, "%s\n", json->str);
  g_clear_pointer (&B.seen, g_free);

  return ok;
}

/* Main {{{ */

static void
watchdog (int signum)
{
  static const char message[] = "ag-bench: timed out\n";

  if (write (STDERR_FILENO, message, sizeof message - 1) < 0)
    {
      /* nothing more to do */
    }
  _exit (3);
}

static const Mechanism *
find_mechanism (const char *name)
{
  for (guint i = 0; i < G_N_ELEMENTS (mechanisms); i++)
    if (g_strcmp0 (mechanisms[i].name, name) == 0)
      return &mechanisms[i];
  return NULL;
}

static int
smoke (void)
{
  static const guint smoke_n[N_SCENARIOS] = { 50, 300, 300, 300, 300 };
  int status = 0;

  for (guint s = 0; s < N_SCENARIOS; s++)
    for (guint m = 0; m < G_N_ELEMENTS (mechanisms); m++)
      for (PinMode pin = PIN_NONE; pin <= PIN_SPLIT; pin += 2)
        {
          g_autoptr(GString) out = g_string_new (NULL);
          gboolean ok;

          /* pinned runs only where pinning is the point */
          if (pin != PIN_NONE && s != SCENARIO_ROUNDTRIP)
            continue;

          B.mech = &mechanisms[m];
          ok = run_one (s, &mechanisms[m], smoke_n[s], 10, pin, out);
          if (out->len == 0)
            continue;
          printf ("%s %s/%s/%s\n", ok ? "ok" : "FAILED", scenario_names[s],
                  mechanisms[m].name, pin_names[pin]);
          if (!ok)
            {
              fputs (out->str, stdout);
              status = 1;
            }
        }

  return status;
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) out = g_string_new (NULL);
  g_autofree char *scenario_name = NULL;
  g_autofree char *mechanism_name = NULL;
  g_autofree char *pin_name = NULL;
  const Mechanism *mech;
  gboolean run_smoke = FALSE;
  gboolean list = FALSE;
  int n = -1;
  int warmup = -1;
  int timeout = 600;
  PinMode pin = PIN_NONE;
  Scenario scenario = N_SCENARIOS;
  int status;
  int max_workers;
  const GOptionEntry entries[] = {
    { "scenario", 's', 0, G_OPTION_ARG_STRING, &scenario_name,
      "roundtrip, throughput, memory, hostloop or hostloop-idle", "NAME" },
    { "mechanism", 'm', 0, G_OPTION_ARG_STRING, &mechanism_name,
      "the mechanism (see --list)", "NAME" },
    { "n", 'n', 0, G_OPTION_ARG_INT, &n, "measured jobs", "N" },
    { "warmup", 'w', 0, G_OPTION_ARG_INT, &warmup,
      "jobs run first, not measured (default: N/20, 10..1000)", "N" },
    { "pin", 'p', 0, G_OPTION_ARG_STRING, &pin_name,
      "none, same (all threads on CPU 0) or split (main on CPU 0, "
      "workers on CPU 1)", "MODE" },
    { "timeout", 't', 0, G_OPTION_ARG_INT, &timeout,
      "abort after this many seconds (default 600)", "S" },
    { "smoke", 0, 0, G_OPTION_ARG_NONE, &run_smoke,
      "every scenario with every mechanism, tiny N; exit 1 on any wrong, "
      "missing or duplicate result", NULL },
    { "list", 0, 0, G_OPTION_ARG_NONE, &list, "list the mechanisms", NULL },
    G_OPTION_ENTRY_NULL
  };

  context = g_option_context_new ("- async-gobject benchmarks");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      fprintf (stderr, "ag-bench: %s\n", error->message);
      return 2;
    }

  if (list)
    {
      for (guint i = 0; i < G_N_ELEMENTS (mechanisms); i++)
        printf ("%-18s %s\n", mechanisms[i].name, mechanisms[i].description);
      return 0;
    }

  if (pin_name != NULL)
    {
      if (g_str_equal (pin_name, "same"))
        pin = PIN_SAME;
      else if (g_str_equal (pin_name, "split"))
        pin = PIN_SPLIT;
      else if (!g_str_equal (pin_name, "none"))
        {
          fprintf (stderr, "ag-bench: unknown --pin %s\n", pin_name);
          return 2;
        }
    }

  signal (SIGALRM, watchdog);
  alarm (run_smoke ? 300 : (guint) MAX (timeout, 1));

  /* Before any thread exists, so that every thread inherits it. */
  B.worker_cpu = g_get_num_processors () > 1 ? 1 : 0;
  if (pin != PIN_NONE)
    pin_self (0);

  B.main_thread = pthread_self ();
  B.main_ctx = g_main_context_default ();
  /* Own the main context for good, as a running GTK or GApplication loop
   * does: g_main_context_invoke() from a worker then queues to it instead of
   * running the function in the worker. */
  if (!g_main_context_acquire (B.main_ctx))
    g_error ("cannot acquire the main context");
  B.loop = g_main_loop_new (B.main_ctx, FALSE);
  B.main_caller = ag_caller_get_main ();
  /* The same thread budget as the GThreadPool row: as many workers as
   * CPUs. The default max-workers (twice the CPUs, at least 8) is for jobs
   * that block, which the bench's do not; with it, more threads than CPUs
   * take turns with the main thread and the producer (README.md,
   * Benchmarks: thread budget). AG_BENCH_MAX_WORKERS sets another budget,
   * for comparison. */
  max_workers = MAX (g_get_num_processors (), 1);
  if (g_getenv ("AG_BENCH_MAX_WORKERS") != NULL)
    max_workers = atoi (g_getenv ("AG_BENCH_MAX_WORKERS"));
  if (max_workers < 1)
    {
      fprintf (stderr, "ag-bench: AG_BENCH_MAX_WORKERS must be at least 1\n");
      return 2;
    }
  ag_caller_set_max_workers (B.main_caller, (guint) max_workers);
  B.loop_timeout = run_smoke ? 30 : 300;

  if (run_smoke)
    {
      setvbuf (stdout, NULL, _IOLBF, 0);
      status = smoke ();
      g_main_loop_unref (B.loop);
      g_main_context_release (B.main_ctx);
      printf ("%s\n", status == 0 ? "smoke: all results verified"
                                  : "smoke: FAILED");
      return status;
    }

  for (guint i = 0; i < N_SCENARIOS; i++)
    if (g_strcmp0 (scenario_name, scenario_names[i]) == 0)
      scenario = i;
  mech = find_mechanism (mechanism_name);
  if (scenario == N_SCENARIOS || mech == NULL)
    {
      fprintf (stderr, "ag-bench: give --scenario and --mechanism "
                       "(or --smoke); see --help and --list\n");
      return 2;
    }
  if (n < 0)
    n = scenario == SCENARIO_ROUNDTRIP ? 20000
        : scenario == SCENARIO_HOSTLOOP || scenario == SCENARIO_HOSTLOOP_IDLE
        ? 100000 : 200000;
  if (warmup < 0)
    warmup = CLAMP (n / 20, 10, 1000);

  B.mech = mech;
  if (!mechanism_runs (mech, scenario))
    {
      fprintf (stderr, "ag-bench: %s does not run the %s scenario\n",
               mech->name, scenario_names[scenario]);
      return 2;
    }

  status = run_one (scenario, mech, (guint) n, (guint) warmup, pin, out)
           ? 0 : 1;
  fputs (out->str, stdout);
  fflush (stdout);

  g_main_loop_unref (B.loop);
  g_main_context_release (B.main_ctx);

  /* Worker threads may still hold the main caller; leave at once. */
  return status;
}

/* }}} */
