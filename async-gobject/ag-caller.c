/* ag-caller.c: runs jobs on a thread's main context
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE  /* sched_getcpu () */
#endif

#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef HAVE_SCHED_GETCPU
#include <sched.h>
#endif
#ifdef HAVE_EVENTFD
#include <errno.h>
#include <sys/eventfd.h>
#include <unistd.h>
#endif
#ifdef HAVE_VALGRIND_H
#include <valgrind/valgrind.h>
#endif

#include <glib/gi18n-lib.h>

#include "ag-caller-private.h"

#include "ag-as-completed-private.h"

#include "ag-enum-types.h"
#include "ag-error.h"
#include "ag-init-private.h"
#include "ag-lock-private.h"
#include "ag-pending-private.h"
#include "ag-pending-tracker-private.h"
#include "ag-util-private.h"

/**
 * AgCaller:
 *
 * Runs jobs in one thread, on that thread's [struct@GLib.MainContext].
 *
 * There is one caller per thread that runs a main loop. The caller of a GUI
 * thread, [func@AsyncGObject.Caller.get_main], is a *guest* on the default
 * main context: it attaches one [struct@GLib.Source] to it and never
 * iterates it, so its jobs run when GTK (or [method@Gio.Application.run],
 * or a [struct@GLib.MainLoop]) dispatches. [ctor@AsyncGObject.Caller.new_thread]
 * makes a caller that owns a new thread running its own context and loop.
 *
 * Jobs are scheduled with [method@AsyncGObject.Caller.call_soon],
 * [method@AsyncGObject.Caller.call_later],
 * [method@AsyncGObject.Caller.queue_call] (sequential per key), and
 * [method@AsyncGObject.Caller.to_thread], which hands the job to a pool of
 * worker callers. Each returns the job's [class@AsyncGObject.Pending]. A job
 * ([callback@AsyncGObject.JobFunc]) receives its own pending and either sets
 * its outcome, returns another pending to follow, or returns its own pending
 * to set the outcome later. [method@AsyncGObject.Caller.call_direct] runs a
 * light function with no pending.
 *
 * A job cancelled before it starts never runs and ends
 * %AG_PENDING_STATE_CANCELLED. Cancelling a running job does not complete
 * its pending behind its back: the job sees the request
 * ([method@AsyncGObject.Pending.is_cancelled],
 * [method@AsyncGObject.Pending.get_cancellable]) and its pending ends
 * cancelled when the job returns or sets it. Cancelling a job that follows
 * another pending cancels that one too.
 *
 * A caller works through its queue in batches bounded by
 * [property@AsyncGObject.Caller:max-batch-size] and
 * [property@AsyncGObject.Caller:max-batch-time], at %G_PRIORITY_DEFAULT, so
 * that the host's other sources run between batches and a burst of results
 * never holds up a GTK frame. Submitting from another thread wakes the host
 * once per batch, not once per job.
 *
 * [method@AsyncGObject.Caller.stop] cancels the queued and running jobs,
 * stops the children (and the worker pool) first, and releases the source
 * and the thread. Work handed to a stopped caller returns a pending that is
 * already done with %AG_ERROR_CLOSED.
 *
 * ## Thread safety
 *
 * Every function may be called from any thread. Jobs, direct calls and
 * their destroy notifies run in the caller's thread. Property notifications
 * are emitted on the caller's context.
 *
 * Since: 0.1
 */

typedef struct _AgJob      AgJob;
typedef struct _AgKeyQueue AgKeyQueue;

typedef enum
{
  JOB_QUEUED,     /* waiting in the queue or the timers */
  JOB_SKIPPED,    /* cancelled before it started: never runs */
  JOB_RUNNING,    /* its function is running */
  JOB_FOLLOWING,  /* returned a pending to follow */
  JOB_LATER,      /* returned its own pending: sets the outcome later */
  JOB_RETURNED,   /* returned NULL */
} JobPhase;

/* What a caller's queue holds: jobs, and done callbacks to deliver (which
 * start like a job: see DoneOn). */
typedef enum
{
  ITEM_JOB,
  ITEM_DONE_ON,
} ItemKind;

struct _AgJob
{
  AgJob          *next;       /* the queue's link (see caller_push) */
  gint            kind;       /* immutable; an ItemKind */
  gint            ref_count;  /* (atomic) */
  gint            phase;      /* (atomic) a JobPhase */

  AgJob          *active_prev;  /* protected by the caller's lock */
  AgJob          *active_next;  /* protected by the caller's lock */
  GSequenceIter  *timer;        /* protected by the caller's lock */
  guint           active : 1;   /* protected by the caller's lock */
  guint           finished : 1; /* protected by the caller's lock */

  /* to_thread () jobs: the pool they were submitted to. A job the pool
   * could not give a worker at once waits in the pool's queue; @caller is
   * NULL until a worker takes it. */
  AgCaller       *pool;       /* owned; immutable */
  AgJob          *pool_next;  /* protected by the pool's lock */
  gboolean        pool_done;  /* protected by the pool's lock: done before
                               * a worker took it */
  gint            pool_slot;  /* (atomic): holds its worker's place in the
                               * pool, until it is done or stops running */

  /* immutable after submission (pool jobs: once a worker took them, set
   * with the pool's lock held) */
  AgCaller       *caller;     /* owned */
  AgJobFunc       func;       /* NULL for a direct call */
  AgDirectFunc    direct;
  gpointer        data;       /* until @destroy ran */
  GDestroyNotify  destroy;
  AgPending      *pending;    /* owned; NULL for a direct call */
  AgKeyQueue     *keyq;       /* owned; for queue_call items */
  gint64          deadline;
  guint64         seq;

  AgPending      *followed;   /* owned; set before phase is FOLLOWING */
  AgTrackerSet   *trackers;   /* owned; current where it was scheduled */
};

struct _AgKeyQueue
{
  gint        ref_count;   /* (atomic) */
  char       *key;         /* immutable */
  AgCaller   *caller;      /* not owned: the caller owns its queues */
  AgPending  *pending;     /* owned; immutable; the long-lived job */
  /* protected by the caller's lock */
  GQueue      items;       /* AgJob, each owning a reference */
  AgJob      *running;     /* the item being run, not owned */
  gboolean    busy;        /* a pump is scheduled or an item runs */
};

struct _AgCaller
{
  GObject        parent_instance;

  AgMutex        lock;

  /* immutable after construction */
  guint          id;
  char          *name;
  GMainContext  *context;
  GMainLoop     *loop;         /* callers that own their thread */
  guint          owns_thread : 1;
  guint          is_worker : 1;
  guint          is_main : 1;
  AgPending     *stopped;      /* succeeds when the caller has stopped */

  gint           state;                /* (atomic); written under the lock */
  gint           state_notify_queued;  /* (atomic) */
  gint           protected_;           /* (atomic) */
  guint          max_dispatched;       /* (atomic) */
  guint          n_workers;            /* (atomic) workers ever made */
  guint          home_thread;          /* (atomic) see thread_serial() */

  /* (atomic): the jobs pushed and not yet taken by a dispatch, newest
   * first. Pushing is lock-free, so that workers handing results back never
   * make the host's loop wait for a lock they hold. */
  AgJob         *incoming;
  gint           finished;  /* (atomic); set once, with the lock held */
  /* (atomic): the loop may be about to sleep in poll () without having
   * seen the latest push (set by prepare, cleared by check). A push wakes
   * the loop only then: a loop that is awake takes the jobs at its next
   * prepare, and a wake-up it does not need costs a write and a read of
   * the eventfd (see caller_wake ()). */
  gint           may_sleep;
  /* (atomic): the CPU the latest push from another thread came from, or
   * -1 (callers that own their thread) */
  gint           last_push_cpu;
  /* immutable after construction: guest callers' eventfd that wakes the
   * loop, polled by the source, or -1 (then g_main_context_wakeup ());
   * closed at finalization, when no thread can push any more */
  int            wake_fd;
  gpointer       wake_tag;
  /* only the thread dispatching the caller: the rest of the batch being
   * dispatched, taken off the queue (a loop nested in one of its jobs
   * delivers the done callbacks in it), and the link at its end */
  AgJob         *batch;
  AgJob        **batch_tail;

  /* The worker pool of to_thread (), under a lock of its own: workers and
   * submitters take it for every job, and the caller's own lock is taken
   * by the caller's loop, which must not wait for them (a GUI thread). */
  AgMutex        pool_lock;
  /* protected by the pool lock */
  guint          max_workers;
  guint          n_live_workers;
  guint          max_idle_workers;
  gint64         idle_worker_timeout;  /* µs, 0 for never */
  AgCaller      *idle_head;  /* idle workers, most recently used first,
                              * each holding a reference (idle_next) */
  guint          n_idle;
  AgJob         *pool_head;  /* to_thread () jobs waiting for a worker */
  AgJob        **pool_tail;
  guint          n_waking;   /* idle workers woken for a job, not yet up */

  /* protected by the lock */
  guint          max_batch_size;
  gint64         max_batch_time;       /* µs */
  GSource       *source;
  AgJob         *head;
  AgJob        **tail;
  GSequence     *timers;
  guint64        timer_seq;
  AgJob         *active;
  AgCaller      *parent;
  GPtrArray     *children;
  GHashTable    *queues;
  gboolean       finish_requested;

  /* immutable: a worker's pool (its parent), owned until finalization,
   * so that the pool's code needs no reference of its own per job; the
   * worker is in it (protected by the pool's lock) until it stops */
  AgCaller      *pool_parent;
  gboolean       in_pool;
  /* protected by the parent's pool lock: its links in the parent's idle
   * workers */
  AgCaller      *idle_prev;
  AgCaller      *idle_next;
  /* (atomic), written with the parent's pool lock held: whether it is in
   * the parent's idle workers; how many times it went idle (each time an
   * idle period); that period's idle-worker-timeout in ms (0 for never) */
  gint           pool_idle;
  gint           idle_serial;
  gint           idle_timeout_ms;
  /* the reaper's thread only (see reaper_main ()): the idle period in
   * which it first saw the worker idle, and when (-1: not seen idle) */
  gint           reaper_serial;
  gint64         reaper_seen;
  /* protected by the parent's pool lock: its pool job waits for something
   * else (it returned a pending to follow, or set its outcome later), so
   * the worker does not count against max-workers until the job is done;
   * it keeps the worker, whose loop may be what the job waits on */
  gboolean       pool_uncounted;
  /* (atomic), written with the parent's pool lock held: woken from idle
   * for a job, and not dispatching yet */
  gint           pool_waking;
};

G_DEFINE_FINAL_TYPE (AgCaller, ag_caller, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_CHILDREN,
  PROP_CONTEXT,
  PROP_ID,
  PROP_IDLE_WORKER_TIMEOUT,
  PROP_MAIN_CONTEXT,
  PROP_MAX_BATCH_SIZE,
  PROP_MAX_BATCH_TIME,
  PROP_MAX_IDLE_WORKERS,
  PROP_MAX_WORKERS,
  PROP_NAME,
  PROP_PARENT,
  PROP_PROTECTED,
  PROP_STATE,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

#define DEFAULT_MAX_IDLE_WORKERS     10
#define MIN_DEFAULT_MAX_WORKERS      8
#define DEFAULT_IDLE_WORKER_TIMEOUT  (60 * G_USEC_PER_SEC)
#define DEFAULT_MAX_BATCH_SIZE       64
#define DEFAULT_MAX_BATCH_TIME       (2 * 1000)
#define DEFAULT_SPIN_TIME            50

#define ag_caller_lock(self)   ag_mutex_lock (&(self)->lock)
#define ag_caller_unlock(self) ag_mutex_unlock (&(self)->lock)
#define ag_pool_lock(self)     ag_mutex_lock (&(self)->pool_lock)
#define ag_pool_unlock(self)   ag_mutex_unlock (&(self)->pool_lock)

/* The registry: every caller not yet stopped, by id (owning a reference),
 * and the callers of get_current() and new_thread(), by context. */
static AgMutex registry_lock = AG_MUTEX_INIT;
static GHashTable *registry;          /* guint id → AgCaller, owned */
static GHashTable *context_callers;   /* GMainContext → AgCaller */
static GPtrArray *retired;            /* stopped callers of contexts, owned */
static guint last_id;

/* The caller dispatching in this thread, and the pending of the job it
 * runs. Read several times per job: compiler thread-locals, not GPrivate
 * (a call and a pthread_getspecific () each time); neither owns what it
 * points to, so no destructor is needed. */
static AG_THREAD_LOCAL AgCaller *dispatching_caller;
static AG_THREAD_LOCAL AgPending *current_pending;

static guint thread_serials;

/* A number for this thread, unique in the process (thread addresses are
 * reused once a thread is gone). */
static guint
thread_serial (void)
{
  static AG_THREAD_LOCAL guint serial;

  if (serial == 0)
    serial = (guint) g_atomic_int_add (&thread_serials, 1) + 1;
  return serial;
}

static void ag_caller_finish_stop (AgCaller *self);
static gboolean has_done_on_unlocked (AgCaller *self);
static void nested_dispatch       (AgCaller *self);
static void run_job               (AgCaller *self,
                                   AgJob    *job);

/* Job records {{{ */

/* A job is made by the thread that submits it and, when a worker runs it,
 * freed by that worker. With malloc, that free takes the submitter's arena
 * lock, which the submitter needs for its next job: a burst of to_thread ()
 * jobs spent about a third of its time there (bench/: throughput). So
 * freed records go to a lock-free stack, and a thread that needs a record
 * takes the whole stack at once into a cache of its own. Records beyond
 * the stack's bound come from GSlice and go back to it: where GSlice still
 * has per-thread magazines (GLib < 2.76), a worker freeing them after a
 * burst takes no lock the submitter needs either (the submitter's own
 * allocations, its pendings, come from GSlice too).
 *
 *  - a push is a compare-and-swap of the head, a take an exchange with
 *    NULL. No thread ever pops a single record, so a record taken and
 *    pushed again between a push's read and its swap (the ABA problem)
 *    leaves that push correct.
 *  - The stack holds at most JOB_STACK_MAX records (a record freed when it
 *    is full goes back to GSlice), so a thread's cache holds at most that
 *    many, about 11 kB. The cache is freed when its thread ends (the main
 *    thread's is left to the process's exit).
 *  - Memory checkers must see every free to find a use after it: under
 *    valgrind and the address and memory sanitizers, and when G_SLICE=
 *    always-malloc asks GLib for the same, records come from malloc and go
 *    back to it. */

#define JOB_STACK_MAX 64

static AgJob *job_stack;      /* (atomic) freed records, linked by @next */
static gint   job_stack_len;  /* (atomic) at least their number */

static void
job_records_free (gpointer data)
{
  AgJob *job = data;

  while (job != NULL)
    {
      AgJob *next = job->next;

      g_slice_free (AgJob, job);
      job = next;
    }
}

/* This thread's records, linked by @next: read for every job, so a
 * compiler thread-local, as the others (see AG_THREAD_LOCAL). */
static AG_THREAD_LOCAL AgJob *job_cache;

/* In the ending thread: frees its records. */
static void
job_cache_free (gpointer data)
{
  job_records_free (g_steal_pointer (&job_cache));
}

/* Set (to anything) once this thread has records: ends them with it. */
static GPrivate job_cache_owner = G_PRIVATE_INIT (job_cache_free);

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_HWADDRESS__)
#define JOB_RECORDS_MALLOC 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(hwaddress_sanitizer) || \
    __has_feature(memory_sanitizer)
#define JOB_RECORDS_MALLOC 1
#endif
#endif

/* ThreadSanitizer is no memory checker: it sees the atomic operations that
 * hand records from thread to thread, and should check them, even where
 * G_SLICE=always-malloc keeps GSlice's own races from it. */
#if defined(__SANITIZE_THREAD__)
#define JOB_RECORDS_IGNORE_G_SLICE 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define JOB_RECORDS_IGNORE_G_SLICE 1
#endif
#endif

#ifndef JOB_RECORDS_MALLOC
/* Whether G_SLICE=always-malloc asks for plain malloc. */
static gboolean
slice_wants_malloc (void)
{
#ifdef JOB_RECORDS_IGNORE_G_SLICE
  return FALSE;
#else
  const GDebugKey always_malloc = { "always-malloc", 1 };

  return g_parse_debug_string (g_getenv ("G_SLICE"), &always_malloc, 1) != 0;
#endif
}
#endif

static gboolean
job_records_recycled (void)
{
#ifdef JOB_RECORDS_MALLOC
  return FALSE;
#else
  static gint recycled = -1;  /* (atomic) */
  gint value = g_atomic_int_get (&recycled);

  if (G_UNLIKELY (value < 0))
    {
      value = !slice_wants_malloc ();
#ifdef HAVE_VALGRIND_H
      value = value && !RUNNING_ON_VALGRIND;
#endif
      g_atomic_int_set (&recycled, value);
    }
  return value;
#endif
}

/* A zeroed record for a job. */
static AgJob *
job_record_new (void)
{
  AgJob *job;

  if (!job_records_recycled ())
    return g_new0 (AgJob, 1);

  job = job_cache;
  if (job == NULL)
    {
      guint n = 0;

      job = g_atomic_pointer_exchange (&job_stack, NULL);
      if (job == NULL)
        return g_slice_new0 (AgJob);
      for (AgJob *taken = job; taken != NULL; taken = taken->next)
        n++;
      g_atomic_int_add (&job_stack_len, - (gint) n);
      g_private_set (&job_cache_owner, &job_cache);
    }

  job_cache = job->next;
  memset (job, 0, sizeof *job);
  return job;
}

static void
job_record_free (AgJob *job)
{
  AgJob *head;

  if (!job_records_recycled ())
    {
      g_free (job);
      return;
    }
  if (g_atomic_int_add (&job_stack_len, 1) >= JOB_STACK_MAX)
    {
      g_atomic_int_add (&job_stack_len, -1);
      g_slice_free (AgJob, job);
      return;
    }

  do
    job->next = head = g_atomic_pointer_get (&job_stack);
  while (!g_atomic_pointer_compare_and_exchange (&job_stack, head, job));
}

/* }}} */

/* Jobs {{{ */

static void
keyq_unref (AgKeyQueue *keyq)
{
  if (g_atomic_int_dec_and_test (&keyq->ref_count))
    {
      g_clear_object (&keyq->pending);
      g_free (keyq->key);
      g_free (keyq);
    }
}

static AgJob *
job_ref (AgJob *job)
{
  g_atomic_int_inc (&job->ref_count);
  return job;
}

static void
job_release_data (AgJob *job)
{
  GDestroyNotify destroy = g_steal_pointer (&job->destroy);

  if (destroy != NULL)
    destroy (g_steal_pointer (&job->data));
}

static void done_on_free (gpointer data);

/* Also drops a DoneOn item that will not be delivered. */
static void
job_unref (AgJob *job)
{
  if (G_UNLIKELY (job->kind == ITEM_DONE_ON))
    {
      done_on_free (job);
      return;
    }

  if (!g_atomic_int_dec_and_test (&job->ref_count))
    return;

  job_release_data (job);
  g_clear_pointer (&job->trackers, ag_tracker_set_unref);
  g_clear_object (&job->followed);
  g_clear_object (&job->pending);
  g_clear_pointer (&job->keyq, keyq_unref);
  g_clear_object (&job->caller);
  g_clear_object (&job->pool);
  job_record_free (job);
}

static gint
job_compare_deadline (gconstpointer a,
                      gconstpointer b,
                      gpointer      user_data)
{
  const AgJob *ja = a;
  const AgJob *jb = b;

  if (ja->deadline != jb->deadline)
    return ja->deadline < jb->deadline ? -1 : 1;
  return ja->seq < jb->seq ? -1 : (ja->seq > jb->seq);
}

/* Puts @job first in the active jobs of @self, which stop () cancels.
 * Must hold the caller's lock. */
static void
active_push_unlocked (AgCaller *self,
                      AgJob    *job)
{
  job->active = TRUE;
  job->active_next = self->active;
  if (self->active != NULL)
    self->active->active_prev = job;
  self->active = job;
}

static void
active_unlink_unlocked (AgCaller *self,
                        AgJob    *job)
{
  if (!job->active)
    return;

  if (job->active_prev != NULL)
    job->active_prev->active_next = job->active_next;
  else
    self->active = job->active_next;
  if (job->active_next != NULL)
    job->active_next->active_prev = job->active_prev;
  job->active_prev = job->active_next = NULL;
  job->active = FALSE;
}

static void keyq_item_finished (AgJob *job);
static void done_on_deliver (gpointer data);
static void follow_done_cb (AgPending *followed,
                            gpointer   data);
static void worker_return_to_pool (AgCaller *worker);

/* The pool job @job is done: its worker takes the next job, or goes idle.
 * Once per job. */
static void
pool_release_slot (AgCaller *worker,
                   AgJob    *job)
{
  if (g_atomic_int_compare_and_exchange (&job->pool_slot, 1, 0))
    worker_return_to_pool (worker);
}

static void pool_job_waits (AgCaller *worker,
                            AgJob    *job);
static void pool_pump      (AgCaller *self);
static void pool_woken            (AgCaller *worker);

/* The job's pending is done (its canceller is released: see
 * ag_pending_set_job_canceller ()). It runs before the pending's done
 * callbacks, so a worker is back in its pool by then. */
void
ag_caller_job_finished (gpointer data)
{
  AgJob *job = data;
  AgCaller *self;

  if (job->pool == NULL)
    self = job->caller;
  else if ((self = g_atomic_pointer_get (&job->caller)) == NULL)
    {
      /* A pool job's worker is set once, with the pool's lock held (so
       * the usual case, the worker completing its own job, takes no lock
       * here). No worker has it yet: the pool drops it, unrun. */
      ag_pool_lock (job->pool);
      self = job->caller;
      if (self == NULL)
        job->pool_done = TRUE;
      ag_pool_unlock (job->pool);

      if (self == NULL)
        {
          job_unref (job);
          return;
        }
    }

  /* It may be done before it was queued (cancelled by a group the moment
   * it was made): then it is never queued. */
  ag_caller_lock (self);
  active_unlink_unlocked (self, job);
  job->finished = TRUE;
  ag_caller_unlock (self);

  /* The pending it follows, if it is still running, must not keep the
   * job (and its caller) alive. */
  if (g_atomic_int_get (&job->phase) == JOB_FOLLOWING)
    ag_pending_remove_done_callback (job->followed, follow_done_cb, job);

  if (job->keyq != NULL)
    keyq_item_finished (job);

  if (job->pool != NULL)
    pool_release_slot (self, job);

  job_unref (job);
}

/* The job's pending is cancelled (its canceller). */
void
ag_caller_job_cancel (AgPending  *pending,
                      const char *message,
                      gpointer    data)
{
  AgJob *job = data;

  for (;;)
    {
      gint phase = g_atomic_int_get (&job->phase);

      if (phase == JOB_QUEUED)
        {
          gboolean in_timers = FALSE;

          if (!g_atomic_int_compare_and_exchange (&job->phase, JOB_QUEUED,
                                                  JOB_SKIPPED))
            continue;

          /* A cancelled timer need not wait for its deadline. (Only timers:
           * a pool job may have no caller yet.) */
          if (job->deadline > 0)
            {
              AgCaller *self = job->caller;

              ag_caller_lock (self);
              if (job->timer != NULL)
                {
                  g_sequence_remove (g_steal_pointer (&job->timer));
                  in_timers = TRUE;
                }
              ag_caller_unlock (self);
            }
          if (in_timers)
            job_unref (job);

          /* It never runs: it ends cancelled, here and now. */
          ag_pending_take_value (pending, NULL);
          return;
        }

      /* Passed on once: jobs that follow each other would otherwise
       * cancel each other for ever. */
      if (phase == JOB_FOLLOWING && !ag_pending_is_cancelled (job->followed))
        ag_pending_cancel (job->followed, message);

      return;
    }
}

static AgJob *
job_new (AgCaller       *self,
         AgJobFunc       func,
         AgDirectFunc    direct,
         gpointer        data,
         GDestroyNotify  destroy)
{
  AgJob *job = job_record_new ();

  job->ref_count = 1;
  job->phase = JOB_QUEUED;
  job->caller = self != NULL ? g_object_ref (self) : NULL;
  if (func != NULL)
    job->trackers = ag_tracker_set_dup_current ();
  job->func = func;
  job->direct = direct;
  job->data = data;
  job->destroy = destroy;

  return job;
}

/* Makes the pending of @job; its canceller holds a reference to @job
 * until the pending is done. Returns a new reference to the pending. */
static AgPending *
job_make_pending (AgCaller *self,
                  AgJob    *job)
{
  AgPending *pending = ag_pending_new ();

  ag_pending_set_caller (pending, self);
  job->pending = g_object_ref (pending);
  ag_pending_set_job_canceller (pending, job_ref (job));

  return pending;
}

/* Completes the pending of a job @self refused: it never runs. */
static void
job_reject (AgCaller *self,
            AgJob    *job)
{
  g_atomic_int_set (&job->phase, JOB_SKIPPED);
  ag_pending_take_error (job->pending,
                         g_error_new (AG_ERROR, AG_ERROR_CLOSED,
                                      _("The caller “%s” is stopped"),
                                      self->name));
  job_unref (job);
}

static void
follow_done_cb (AgPending *followed,
                gpointer   data)
{
  AgJob *job = data;

  ag_pending_copy_outcome (job->pending, followed);
}

/* Runs @job, taking over the reference its queue held. */
static void
run_job (AgCaller *self,
         AgJob    *job)
{
  AgTrackerSet *previous_trackers;
  AgPending *previous;
  AgPending *result;

  if (job->kind == ITEM_DONE_ON)
    {
      /* Like a direct call, dropped once the caller stops. */
      if (g_atomic_int_get (&self->state) == AG_CALLER_STATE_RUNNING)
        done_on_deliver (job);
      done_on_free (job);
      return;
    }

  if (job->func == NULL)
    {
      /* A direct call; dropped once the caller stops. */
      if (g_atomic_int_get (&self->state) == AG_CALLER_STATE_RUNNING)
        job->direct (job->data);
      job_unref (job);
      return;
    }

  if (!g_atomic_int_compare_and_exchange (&job->phase, JOB_QUEUED,
                                          JOB_RUNNING))
    {
      /* Cancelled before it started: its pending is done already. */
      job_unref (job);
      return;
    }

  /* The job runs with the trackers current where it was scheduled, and
   * leaves this thread's as they were. */
  previous = current_pending;
  current_pending = job->pending;
  previous_trackers = ag_tracker_set_install (job->trackers);
  result = job->func (job->pending, job->data);
  ag_tracker_set_restore (previous_trackers);
  current_pending = previous;

  job_release_data (job);

  if (result == NULL)
    {
      g_atomic_int_set (&job->phase, JOB_RETURNED);
      /* An outcome the job did not set resolves empty. (Not looked at
       * under its lock when the job set it: whoever gets the result may
       * be reading it already.) */
      if (!ag_pending_is_done (job->pending))
        ag_pending_take_value (job->pending, NULL);
    }
  else if (result == job->pending)
    {
      g_atomic_int_set (&job->phase, JOB_LATER);
      /* A pool job that awaits something (another to_thread job, say) no
       * longer counts against max-workers meanwhile. */
      if (job->pool != NULL)
        pool_job_waits (self, job);
      g_object_unref (result);
    }
  else if (!AG_IS_PENDING (result))
    {
      g_critical ("A job of the caller “%s” returned something that is not "
                  "an AgPending", self->name);
      g_atomic_int_set (&job->phase, JOB_RETURNED);
      ag_pending_take_value (job->pending, NULL);
    }
  else
    {
      job->followed = result;
      g_atomic_int_set (&job->phase, JOB_FOLLOWING);
      if (job->pool != NULL)
        pool_job_waits (self, job);

      /* A cancellation that came while the job ran reached no one yet. */
      if (ag_pending_is_cancelled (job->pending))
        {
          g_autofree char *message =
            ag_pending_dup_cancel_message (job->pending);

          ag_pending_cancel (result, message);
        }

      ag_pending_add_done_callback (result, follow_done_cb, job_ref (job),
                                    (GDestroyNotify) job_unref);

      /* Done meanwhile (cancelled by a stop, say): the pending it follows
       * must not keep the job, and so its caller, alive. */
      if (ag_pending_is_done (job->pending))
        ag_pending_remove_done_callback (result, follow_done_cb, job);
    }

  /* Stopped while the job ran: stop () found it running and only
   * cancelled it (or has not reached it yet); a job that would finish
   * later ends now, cancelled. */
  if (g_atomic_int_get (&self->state) != AG_CALLER_STATE_RUNNING &&
      (result == job->pending || g_atomic_int_get (&job->phase) == JOB_FOLLOWING))
    {
      g_autofree char *message =
        g_strdup_printf (_("The caller “%s” was stopped"), self->name);

      ag_pending_cancel (job->pending, message);
      ag_pending_take_value (job->pending, NULL);
    }

  job_unref (job);
}

/* }}} */

/* The source {{{ */

typedef struct
{
  GSource   source;
  AgCaller *caller;  /* owned: the caller drops the source when it stops */
} CallerSource;

/* Whether this thread is inside a dispatch of @self (in one of its jobs).
 *
 * The source may recurse (see ag_caller_constructed ()), so a loop nested
 * in a job (a modal dialog's, a synchronous wait's) prepares, checks and
 * dispatches it. Jobs never run there: they wait for the job that runs the
 * loop to return. Done callbacks (add_done_callback_on (), and with them
 * notify::state and wait_async () deliveries) do, as a GSource's callback
 * would. */
static inline gboolean
dispatching_here (AgCaller *self)
{
  return dispatching_caller == self;
}

/* Must hold the lock. */
static gboolean
caller_ready_unlocked (AgCaller *self,
                       gint     *timeout)
{
  if (self->head != NULL || self->finish_requested ||
      g_atomic_pointer_get (&self->incoming) != NULL)
    return TRUE;

  /* the clock is read only for timers */
  if (self->timers != NULL && g_sequence_get_length (self->timers) > 0)
    {
      AgJob *first = g_sequence_get (g_sequence_get_begin_iter (self->timers));
      gint64 now = g_get_monotonic_time ();

      if (first->deadline <= now)
        return TRUE;
      if (timeout != NULL)
        *timeout = (gint) MIN ((first->deadline - now + 999) / 1000,
                               G_MAXINT);
    }

  return FALSE;
}

/* Spinning {{{ */

/* The caller whose loop runs in this thread, for callers that own their
 * thread. */
static AG_THREAD_LOCAL AgCaller *thread_owner;

/* How long a caller that owns its thread looks for new work before its loop
 * sleeps, in µs (AG_SPIN_US overrides it; 0 turns it off). */
static gint64 spin_time = -1;

/* (atomic) loops spinning now, and how many may: spinning threads beyond
 * half the CPUs would only take the CPUs from those doing the work. */
static gint spinners;
static gint max_spinners;

static inline int
current_cpu (void)
{
#ifdef HAVE_SCHED_GETCPU
  return sched_getcpu ();
#else
  return -1;
#endif
}

static inline void
cpu_relax (void)
{
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause ();
#elif defined(__aarch64__)
  __asm__ __volatile__ ("yield" ::: "memory");
#endif
}

static void
spin_time_init (void)
{
  static gsize once;

  if (g_once_init_enter (&once))
    {
      const char *env = g_getenv ("AG_SPIN_US");
      gint64 value = DEFAULT_SPIN_TIME;

      if (env != NULL && *env != '\0')
        value = CLAMP (g_ascii_strtoll (env, NULL, 10), 0, 10000);
#ifdef _SC_NPROCESSORS_ONLN
      max_spinners = (gint) MAX (sysconf (_SC_NPROCESSORS_ONLN), 1) / 2;
#else
      max_spinners = 1;
#endif
      /* One CPU: whoever hands us work cannot run while we spin. */
      spin_time = max_spinners > 0 ? value : 0;
      g_once_init_leave (&once, 1);
    }
}

/* Whether the latest work for @self came from a thread on another CPU than
 * this one (which may then hand more while this one spins). */
static gboolean
work_from_another_cpu (AgCaller *self)
{
  int cpu = current_cpu ();
  int pusher = g_atomic_int_get (&self->last_push_cpu);

  return cpu >= 0 && pusher >= 0 && pusher != cpu;
}

/* The poll function of the contexts of callers that own their thread.
 *
 * A wake-up through the caller's eventfd costs a write, a poll () that
 * returns, a read and two context switches; when the work comes from a
 * thread on another CPU, it usually comes back within tens of µs (the
 * result of the last job goes back, and the next job comes in). So before
 * sleeping, the loop looks at its queue for a short while, with pushes
 * told not to wake it. Never when the work comes from this CPU: spinning
 * would only keep that thread from running. Other sources of the context
 * wait at most that long for their fds. */
static gint
caller_poll (GPollFD *fds,
             guint    nfds,
             gint     timeout)
{
  AgCaller *self = thread_owner;

  if (timeout != 0 && self != NULL && spin_time > 0 &&
      g_atomic_pointer_get (&self->incoming) == NULL &&
      work_from_another_cpu (self))
    {
      if (g_atomic_int_add (&spinners, 1) < max_spinners)
        {
          gint64 limit = spin_time;
          gint64 end;

          if (timeout > 0)
            limit = MIN (limit, (gint64) timeout * 1000);
          end = g_get_monotonic_time () + limit;

          g_atomic_int_set (&self->may_sleep, FALSE);
          for (guint i = 1; g_atomic_pointer_get (&self->incoming) == NULL; i++)
            {
              cpu_relax ();
              if (i % 64 == 0 && g_get_monotonic_time () >= end)
                break;
            }
          /* Pushes wake the loop again: either a push sees this or the
           * check below sees the push. */
          g_atomic_int_set (&self->may_sleep, TRUE);
          if (g_atomic_pointer_get (&self->incoming) != NULL)
            timeout = 0;
        }
      g_atomic_int_add (&spinners, -1);
    }

  return g_poll (fds, nfds, timeout);
}

/* }}} */

/* Whether the source has work to dispatch: jobs and due timers (@timeout,
 * nullable, gets the time to the next timer), or, in a loop nested in one
 * of our jobs, where only done callbacks run (see nested_dispatch ()), a
 * done callback. */
static gboolean
caller_ready (AgCaller *self,
              gint     *timeout)
{
  gboolean ready;

  ag_caller_lock (self);
  if (G_UNLIKELY (dispatching_here (self)))
    ready = has_done_on_unlocked (self);
  else
    ready = caller_ready_unlocked (self, timeout);
  ag_caller_unlock (self);

  return ready;
}

static gboolean
caller_source_prepare (GSource *source,
                       gint    *timeout)
{
  AgCaller *self = ((CallerSource *) source)->caller;
  guint here = thread_serial ();
  gboolean ready;

  *timeout = -1;

  /* The thread that iterates the context is its home (for deadlock
   * detection: ag_caller_runs_in_this_thread ()), even between its
   * iterations, until another thread iterates it. A thread that ran it
   * once and left it to another must not take it for its own. */
  if ((guint) g_atomic_int_get (&self->home_thread) != here)
    g_atomic_int_set (&self->home_thread, here);

  if (g_atomic_pointer_get (&self->incoming) != NULL)
    {
      *timeout = 0;
      return TRUE;
    }

  /* From here on a push wakes the loop: either the push sees this (both
   * are sequentially consistent) or what follows sees the push. */
  g_atomic_int_set (&self->may_sleep, TRUE);

  ready = caller_ready (self, timeout);
  if (ready)
    *timeout = 0;

  return ready;
}

static gboolean
caller_source_check (GSource *source)
{
  AgCaller *self = ((CallerSource *) source)->caller;

  /* Awake until the next prepare. */
  g_atomic_int_set (&self->may_sleep, FALSE);

#ifdef HAVE_EVENTFD
  /* Acknowledged before the queue is looked at: a push after this wakes
   * the next poll. */
  if (self->wake_tag != NULL &&
      (g_source_query_unix_fd (source, self->wake_tag) & G_IO_IN))
    {
      eventfd_t count;

      (void) eventfd_read (self->wake_fd, &count);
    }
#endif

  if (g_atomic_pointer_get (&self->incoming) != NULL)
    return TRUE;

  return caller_ready (self, NULL);
}

/* Moves the timers whose deadline has come to the end of the queue, in
 * deadline order. Must hold the lock. */
static void
move_due_timers_unlocked (AgCaller *self,
                          gint64    now)
{
  if (self->timers == NULL)
    return;

  while (g_sequence_get_length (self->timers) > 0)
    {
      GSequenceIter *iter = g_sequence_get_begin_iter (self->timers);
      AgJob *job = g_sequence_get (iter);

      if (job->deadline > now)
        break;

      g_sequence_remove (iter);
      job->timer = NULL;
      job->next = NULL;
      *self->tail = job;
      self->tail = &job->next;
    }
}

/* Appends the pushed jobs to the queue, oldest first, in one walk (the
 * pushed jobs were written by other threads: each is a cache miss). Must
 * hold the lock. */
static void
take_incoming_unlocked (AgCaller *self)
{
  AgJob *stack = g_atomic_pointer_exchange (&self->incoming, NULL);
  AgJob *newest = stack;
  AgJob *chain = NULL;

  if (stack == NULL)
    return;

  while (stack != NULL)
    {
      AgJob *job = stack;

      stack = job->next;
      job->next = chain;
      chain = job;
    }

  *self->tail = chain;
  self->tail = &newest->next;
}

/* Takes the whole queue as the batch to dispatch (which is empty), once
 * the pushed jobs and the due timers have joined it, without walking it:
 * caller_dispatch () runs what its bounds allow and puts the rest back.
 * Must hold the lock. */
static void
take_batch_unlocked (AgCaller *self,
                     gint64    now)
{
  take_incoming_unlocked (self);
  move_due_timers_unlocked (self, now);

  if (self->head == NULL)
    return;

  self->batch = g_steal_pointer (&self->head);
  self->batch_tail = self->tail;
  self->tail = &self->head;
}

/* The link to the first done callback of the list at @link, or to its
 * end. */
static AgJob **
find_done_on (AgJob **link)
{
  while (*link != NULL && (*link)->kind != ITEM_DONE_ON)
    link = &(*link)->next;
  return link;
}

/* Whether a done callback waits: in the batch being dispatched (by this
 * thread) or in the queue. Must hold the lock. */
static gboolean
has_done_on_unlocked (AgCaller *self)
{
  if (*find_done_on (&self->batch) != NULL)
    return TRUE;
  take_incoming_unlocked (self);
  return *find_done_on (&self->head) != NULL;
}

/* In a loop nested in one of the caller's jobs: delivers the done
 * callbacks of the batch being dispatched and of the queue, in order, one
 * at a time (one may run a loop nested in turn, which delivers the rest),
 * and leaves the jobs where they are, in order. */
static void
nested_dispatch (AgCaller *self)
{
  guint max;

  ag_caller_lock (self);
  max = self->max_batch_size;
  ag_caller_unlock (self);

  for (guint n = 0; n < max; n++)
    {
      AgJob **link;
      AgJob *one;

      ag_caller_lock (self);
      link = find_done_on (&self->batch);
      if (*link != NULL)
        {
          /* the last of the batch: the one before it becomes the last */
          if ((*link)->next == NULL)
            self->batch_tail = link;
        }
      else
        {
          take_incoming_unlocked (self);
          link = find_done_on (&self->head);
          /* the last of the queue: the one before it becomes the last */
          if (*link != NULL && (*link)->next == NULL)
            self->tail = link;
        }
      one = *link;
      if (one != NULL)
        {
          *link = one->next;
          one->next = NULL;
        }
      ag_caller_unlock (self);

      if (one == NULL)
        return;

      run_job (self, one);
    }
}

static void
caller_dispatch (AgCaller *self)
{
  gint64 start = g_get_monotonic_time ();
  gint64 end;
  guint max_batch;
  guint n = 0;
  AgCaller *previous;
  AgJob *batch;

  /* Take a batch of jobs, in one go: the queue's lock is taken twice per
   * batch, not per job. */
  ag_caller_lock (self);
  if (self->finish_requested)
    {
      ag_caller_unlock (self);
      ag_caller_finish_stop (self);
      return;
    }
  max_batch = self->max_batch_size;
  end = start + self->max_batch_time;
  take_batch_unlocked (self, start);
  ag_caller_unlock (self);

  previous = dispatching_caller;
  dispatching_caller = self;
  /* Awake: the loop goes through prepare () before it sleeps again (which
   * check () does not always see: GLib skips it for a source that prepare
   * found ready). */
  g_atomic_int_set (&self->may_sleep, FALSE);

  if (G_UNLIKELY (g_atomic_int_get (&self->pool_waking)))
    pool_woken (self);

  for (;;)
    {
      gint64 now = 0;

      while (self->batch != NULL &&
             g_atomic_int_get (&self->state) == AG_CALLER_STATE_RUNNING)
        {
          AgJob *job = self->batch;

          self->batch = job->next;
          if (self->batch == NULL)
            self->batch_tail = &self->batch;
          job->next = NULL;

          run_job (self, job);
          n++;

          if (n >= max_batch)
            break;
          /* nothing more to run: no need for the clock */
          if (self->batch == NULL &&
              g_atomic_pointer_get (&self->incoming) == NULL)
            break;

          now = g_get_monotonic_time ();
          if (now >= end)
            break;
        }

      /* Work that came meanwhile (a worker's next pool job, results
       * streaming in) runs in the same dispatch, within the same bounds,
       * rather than after another turn of the loop. */
      if (self->batch != NULL || n >= max_batch ||
          g_atomic_int_get (&self->state) != AG_CALLER_STATE_RUNNING ||
          g_atomic_pointer_get (&self->incoming) == NULL)
        break;
      /* the loop above did not read the clock after its last job */
      if (now == 0)
        now = g_get_monotonic_time ();
      if (now >= end)
        break;

      ag_caller_lock (self);
      if (!self->finish_requested)
        take_batch_unlocked (self, now);
      ag_caller_unlock (self);

      if (self->batch == NULL)
        break;

      /* woken from idle for one of these: pass the wake-up on */
      if (G_UNLIKELY (g_atomic_int_get (&self->pool_waking)))
        pool_woken (self);
    }

  dispatching_caller = previous;
  batch = g_steal_pointer (&self->batch);

  if (batch != NULL)
    {
      /* Out of time or jobs (or stopping): the rest goes first next
       * time. */
      ag_caller_lock (self);
      *self->batch_tail = self->head;
      if (self->head == NULL)
        self->tail = self->batch_tail;
      self->head = batch;
      self->batch_tail = &self->batch;
      if (g_atomic_int_get (&self->finished))
        {
          /* stopped by the job that just ran: nothing will take them */
          batch = g_steal_pointer (&self->head);
          self->tail = &self->head;
        }
      else
        batch = NULL;
      ag_caller_unlock (self);

      while (batch != NULL)
        {
          AgJob *job = batch;

          batch = job->next;
          job->next = NULL;
          job_unref (job);
        }
    }

  if (n > (guint) g_atomic_int_get (&self->max_dispatched))
    g_atomic_int_set (&self->max_dispatched, n);
}

static gboolean
caller_source_dispatch (GSource     *source,
                        GSourceFunc  callback,
                        gpointer     user_data)
{
  AgCaller *self = ((CallerSource *) source)->caller;

  if (G_UNLIKELY (dispatching_here (self)))
    {
      nested_dispatch (self);
      return G_SOURCE_CONTINUE;
    }

  /* No reference of its own: the source holds one, and GLib holds the
   * source during its dispatch. */
  caller_dispatch (self);

  return G_SOURCE_CONTINUE;
}

static void
caller_source_finalize (GSource *source)
{
  g_clear_object (&((CallerSource *) source)->caller);
}

static GSourceFuncs caller_source_funcs = {
  .prepare = caller_source_prepare,
  .check = caller_source_check,
  .dispatch = caller_source_dispatch,
  .finalize = caller_source_finalize,
};

/* Wakes the loop of @self: through the source's own eventfd for a guest
 * caller, else with g_main_context_wakeup () (see ag_caller_constructed ()). */
static void
caller_wake (AgCaller *self)
{
#ifdef HAVE_EVENTFD
  if (self->wake_fd >= 0)
    {
      int res;

      do
        res = eventfd_write (self->wake_fd, 1);
      while (G_UNLIKELY (res < 0 && errno == EINTR));
      /* EAGAIN: the counter is full, so the loop is woken anyway */
      return;
    }
#endif
  g_main_context_wakeup (self->context);
}

/* Drops the jobs pushed after the caller finished stopping. */
static void
drop_incoming (AgCaller *self)
{
  AgJob *stack = g_atomic_pointer_exchange (&self->incoming, NULL);

  while (stack != NULL)
    {
      AgJob *job = stack;

      stack = job->next;
      job->next = NULL;
      job_unref (job);
    }
}

/* Pushes @item on the queue, lock-free, and wakes the loop if it may be
 * asleep. Returns FALSE (and leaves @item alone) if @self has finished
 * stopping. */
static gboolean
caller_push_item (AgCaller *self,
                  AgJob    *item)
{
  AgJob *head;

  if (g_atomic_int_get (&self->finished))
    return FALSE;

  if (self->owns_thread && dispatching_caller != self)
    g_atomic_int_set (&self->last_push_cpu, current_cpu ());

  do
    {
      head = g_atomic_pointer_get (&self->incoming);
      item->next = head;
    }
  while (!g_atomic_pointer_compare_and_exchange (&self->incoming, head, item));

  /* One wake-up per batch: only the item that makes the queue non-empty
   * wakes the loop, only when the loop may be asleep, and not when the
   * caller's own thread queues it (the loop checks the queue before it
   * sleeps). */
  if (head == NULL && g_atomic_int_get (&self->may_sleep) &&
      dispatching_caller != self)
    caller_wake (self);

  /* Stopped meanwhile: nothing would take it. */
  if (G_UNLIKELY (g_atomic_int_get (&self->finished)))
    drop_incoming (self);

  return TRUE;
}

/* Queues @job, taking its reference. Returns FALSE (and leaves @job alone)
 * when the caller no longer accepts work. */
static gboolean
caller_push (AgCaller *self,
             AgJob    *job,
             gboolean  internal)
{
  gboolean wake = FALSE;

  if (g_atomic_int_get (&self->finished) ||
      (!internal && g_atomic_int_get (&self->state) != AG_CALLER_STATE_RUNNING))
    return FALSE;

  /* A job with a pending joins the active jobs (which stop() cancels), and
   * a timer the timers, under the lock; the queue itself takes no lock. */
  if (job->pending != NULL || job->deadline > 0)
    {
      ag_caller_lock (self);

      if (g_atomic_int_get (&self->finished) ||
          (!internal &&
           g_atomic_int_get (&self->state) != AG_CALLER_STATE_RUNNING))
        {
          ag_caller_unlock (self);
          return FALSE;
        }

      if (job->finished)
        {
          /* Its pending is done already: it never runs. */
          ag_caller_unlock (self);
          job_unref (job);
          return TRUE;
        }

      if (job->pending != NULL)
        active_push_unlocked (self, job);

      if (job->deadline > 0)
        {
          if (self->timers == NULL)
            self->timers = g_sequence_new (NULL);
          job->seq = self->timer_seq++;
          job->timer = g_sequence_insert_sorted (self->timers, job,
                                                 job_compare_deadline, NULL);
          /* A new first deadline: the loop may sleep with a later one. */
          wake = g_sequence_iter_is_begin (job->timer);
        }

      ag_caller_unlock (self);
    }

  if (job->deadline == 0)
    {
      /* Finished stopping meanwhile: stop() cancelled it if it was
       * active; it never runs. */
      return caller_push_item (self, job);
    }

  /* A new first timer wakes the loop, which sleeps with the timeout of the
   * old one; not when the caller's own thread queues it. */
  if (wake && dispatching_caller != self)
    caller_wake (self);

  return TRUE;
}

/* }}} */

/* Registry and construction {{{ */

/* Must hold the registry lock. */
static void
registry_ensure_unlocked (void)
{
  if (registry == NULL)
    {
      registry = g_hash_table_new_full (NULL, NULL, NULL, g_object_unref);
      context_callers = g_hash_table_new (NULL, NULL);
    }
}

static void
registry_add (AgCaller *self)
{
  ag_mutex_lock (&registry_lock);
  registry_ensure_unlocked ();
  self->id = ++last_id;
  g_hash_table_insert (registry, GUINT_TO_POINTER (self->id),
                       g_object_ref (self));
  ag_mutex_unlock (&registry_lock);
}

static void
registry_remove (AgCaller *self)
{
  AgCaller *owned = NULL;

  ag_mutex_lock (&registry_lock);
  if (registry != NULL)
    {
      g_hash_table_steal_extended (registry, GUINT_TO_POINTER (self->id),
                                   NULL, (gpointer *) &owned);
      if (owned != NULL && !self->owns_thread &&
          g_hash_table_lookup (context_callers, self->context) == self)
        {
          /* get_current() and get_main() return borrowed pointers: a
           * stopped caller of a context stays valid for the life of the
           * process (the next call makes a new one). */
          g_hash_table_remove (context_callers, self->context);
          if (retired == NULL)
            retired = g_ptr_array_new ();
          g_ptr_array_add (retired, g_steal_pointer (&owned));
        }
      else if (g_hash_table_lookup (context_callers, self->context) == self)
        g_hash_table_remove (context_callers, self->context);
    }
  ag_mutex_unlock (&registry_lock);

  /* released outside the lock */
  g_clear_object (&owned);
}

/* Registers @self as the caller of its context: get_current () there
 * returns it. */
static void
registry_set_by_context (AgCaller *self)
{
  ag_mutex_lock (&registry_lock);
  g_hash_table_insert (context_callers, self->context, self);
  ag_mutex_unlock (&registry_lock);
}

/* An idle-worker-timeout in ms, for the reaper; 0 for never (timeouts
 * of G_MAXINT ms, about 24.8 days, or more keep idle workers too). */
static inline gint
timeout_ms (gint64 timeout)
{
  gint64 ms = (timeout + 999) / 1000;

  return ms < G_MAXINT ? (gint) ms : 0;
}

/* Set around the construction of a caller that owns its thread, so that
 * constructed () knows (the construction runs in this thread). */
static AG_THREAD_LOCAL gboolean constructing_owner;

static AgCaller *
caller_new (GMainContext *context,
            const char   *name,
            gboolean      owns_thread,
            AgCaller     *parent)
{
  AgCaller *self;

  constructing_owner = owns_thread;
  self = g_object_new (AG_TYPE_CALLER,
                       "context", context,
                       "name", name,
                       NULL);
  constructing_owner = FALSE;

  if (parent != NULL)
    {
      ag_pool_lock (parent);
      self->max_workers = parent->max_workers;
      self->max_idle_workers = parent->max_idle_workers;
      self->idle_worker_timeout = parent->idle_worker_timeout;
      self->idle_timeout_ms = timeout_ms (parent->idle_worker_timeout);
      ag_pool_unlock (parent);
      ag_caller_lock (parent);
      self->max_batch_size = parent->max_batch_size;
      self->max_batch_time = parent->max_batch_time;
      ag_caller_unlock (parent);
      self->parent = g_object_ref (parent);
    }

  /* Callers that own their thread are the callers of their context. */
  if (owns_thread)
    registry_set_by_context (self);

  return self;
}

static gpointer
caller_thread_main (gpointer data)
{
  AgCaller *self = data;

  g_atomic_int_set (&self->home_thread, thread_serial ());
  thread_owner = self;
  g_main_context_push_thread_default (self->context);
  g_main_loop_run (self->loop);

  /* Deliver what is still due on the context (notifications, GIO
   * callbacks), a bounded number of times, so that nothing it holds is left
   * behind with the context. */
  for (guint i = 0; i < 1000 && g_main_context_pending (self->context); i++)
    g_main_context_iteration (self->context, FALSE);

  g_main_context_pop_thread_default (self->context);
  thread_owner = NULL;

  /* Everything is released: say so, then let the thread go. */
  ag_pending_set_boolean (self->stopped, TRUE);
  g_object_unref (self);

  return NULL;
}

static AgCaller *
caller_new_thread (const char *name,
                   AgCaller   *parent,
                   gboolean    worker)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(GThread) thread = NULL;
  AgCaller *self;

  self = caller_new (context, name, TRUE, parent);
  self->is_worker = !!worker;
  if (worker)
    {
      self->pool_parent = g_object_ref (parent);
      self->in_pool = TRUE;
    }
  self->loop = g_main_loop_new (context, FALSE);
  spin_time_init ();
  g_main_context_set_poll_func (context, caller_poll);

  thread = g_thread_new (self->name, caller_thread_main, g_object_ref (self));

  return self;
}

/* }}} */

/* Worker pool {{{ */

/* Idle workers {{{ */

static AgMutex    reaper_lock = AG_MUTEX_INIT;
static AgCond     reaper_cond;
/* protected by reaper_lock: the workers that did not stop, owned */
static GPtrArray *reaper_workers;
static gboolean   reaper_started;
/* (atomic), written with reaper_lock held: the reaper may be about to
 * sleep with no timeout (set before it looks at the workers) */
static gint       reaper_sleeps;
/* (atomic), written with reaper_lock held: how many times it looked at
 * the workers; protected by reaper_lock: it was woken and has not looked
 * yet (both for the tests) */
static guint      reaper_looks;
static gboolean   reaper_woken;

static void reaper_poke (void);

/* The pool of @worker, with its lock held, or NULL (and no lock) once
 * @worker left it: it stopped. */
static AgCaller *
worker_lock_pool (AgCaller *worker)
{
  AgCaller *pool = worker->pool_parent;

  ag_pool_lock (pool);
  if (!worker->in_pool)
    {
      ag_pool_unlock (pool);
      return NULL;
    }

  return pool;
}

/* Puts @worker, which holds no pool job, first in the idle workers of
 * @self, its parent, with a new reference: its idle period begins, to end
 * in @self's idle-worker-timeout (see reaper_main ()). Must hold the pool's
 * lock. */
static void
idle_push_unlocked (AgCaller *self,
                    AgCaller *worker)
{
  gint ms = timeout_ms (self->idle_worker_timeout);
  gboolean changed = ms != g_atomic_int_get (&worker->idle_timeout_ms);

  worker->idle_prev = NULL;
  worker->idle_next = self->idle_head;
  if (self->idle_head != NULL)
    self->idle_head->idle_prev = worker;
  self->idle_head = g_object_ref (worker);
  self->n_idle++;

  g_atomic_int_set (&worker->idle_timeout_ms, ms);
  g_atomic_int_inc (&worker->idle_serial);
  g_atomic_int_set (&worker->pool_idle, TRUE);

  /* The reaper knows the timeout the worker was made with, and is told of
   * any other (it may sleep for a quarter of a longer one), and of an idle
   * worker when it may sleep for ever: either it sees this worker idle, or
   * this sees it about to sleep (both sequentially consistent). */
  if (changed || (ms > 0 && g_atomic_int_get (&reaper_sleeps)))
    reaper_poke ();
}

/* Takes @worker out of the idle workers of @self; the caller gets the
 * list's reference. Must hold the pool's lock. */
static void
idle_unlink_unlocked (AgCaller *self,
                      AgCaller *worker)
{
  if (worker->idle_prev != NULL)
    worker->idle_prev->idle_next = worker->idle_next;
  else
    self->idle_head = worker->idle_next;
  if (worker->idle_next != NULL)
    worker->idle_next->idle_prev = worker->idle_prev;
  worker->idle_prev = worker->idle_next = NULL;
  self->n_idle--;
  g_atomic_int_set (&worker->pool_idle, FALSE);
}

/* Takes every idle worker of @self: the list, whose references the caller
 * drops with idle_list_free (). Must hold the pool's lock. */
static AgCaller *
idle_steal_unlocked (AgCaller *self)
{
  for (AgCaller *w = self->idle_head; w != NULL; w = w->idle_next)
    g_atomic_int_set (&w->pool_idle, FALSE);
  self->n_idle = 0;

  return g_steal_pointer (&self->idle_head);
}

static void
idle_list_free (AgCaller *head)
{
  while (head != NULL)
    {
      AgCaller *worker = head;

      head = worker->idle_next;
      worker->idle_prev = worker->idle_next = NULL;
      g_object_unref (worker);
    }
}

/* The reaper of idle workers
 *
 * One thread of the process stops the workers that stayed idle for their
 * pool's idle-worker-timeout. Workers time nothing themselves: a poll ()
 * with a timeout cost each sleep of an idle worker's loop, that is every
 * job, about 1 µs on a VM (a sixth of a one-CPU round trip: bench/). While
 * idle workers with a timeout exist, the reaper looks at the workers every
 * quarter of the shortest of those timeouts (1 ms to 15 s); a worker it saw
 * idle for a whole timeout in the same idle period (idle_serial) stops, in
 * its own thread. So a worker stops at least one timeout after it went
 * idle, and at most one and a half (for timeouts under 4 ms, 2 ms more)
 * later. With no idle worker that has a timeout, the reaper sleeps until
 * one goes idle, a worker is made, or a timeout changes. */

#define REAPER_MIN_PERIOD G_TIME_SPAN_MILLISECOND
#define REAPER_MAX_PERIOD (15 * G_TIME_SPAN_SECOND)

static void
worker_stop_self (gpointer data)
{
  ag_caller_stop (data, TRUE);
}

/* The idle period in which the reaper saw @worker idle since a whole
 * timeout, @serial, is over: @worker stops, if it is still idle in that
 * period (not taken for a job meanwhile). */
static void
worker_reap (AgCaller *worker,
             gint      serial)
{
  AgCaller *parent;
  gboolean reap = FALSE;

  if ((parent = worker_lock_pool (worker)) == NULL)
    return;

  if (g_atomic_int_get (&worker->pool_idle) &&
      g_atomic_int_get (&worker->idle_serial) == serial)
    {
      idle_unlink_unlocked (parent, worker);
      reap = TRUE;
    }
  ag_pool_unlock (parent);

  /* It stops itself, in its own thread, as its reaper source did: what
   * stopping runs (the destroy notifies of what it still had queued, say)
   * does not hold up the reaper, which looks after every pool. The idle
   * list's reference goes with the call. */
  if (reap)
    ag_caller_call_direct (worker, worker_stop_self, worker, g_object_unref);
}

static gpointer
reaper_main (gpointer data)
{
  g_autoptr(GPtrArray) due = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) gone = g_ptr_array_new_with_free_func (g_object_unref);

  ag_mutex_lock (&reaper_lock);
  for (;;)
    {
      gint64 now;
      gint min_ms = G_MAXINT;
      gboolean timed = FALSE;

      /* Before the look at the workers: a worker going idle after that
       * look sees this, and wakes the reaper (idle_push_unlocked ()). */
      g_atomic_int_set (&reaper_sleeps, TRUE);
      g_atomic_int_inc (&reaper_looks);
      reaper_woken = FALSE;
      now = g_get_monotonic_time ();

      for (guint i = 0; i < reaper_workers->len; i++)
        {
          AgCaller *worker = g_ptr_array_index (reaper_workers, i);
          gint ms = g_atomic_int_get (&worker->idle_timeout_ms);
          gint serial = g_atomic_int_get (&worker->idle_serial);

          /* stopped before reaper_add () (its stop found nothing to
           * remove): released below, without the lock */
          if (g_atomic_int_get (&worker->state) != AG_CALLER_STATE_RUNNING)
            {
              g_ptr_array_add (gone,
                               g_ptr_array_steal_index_fast (reaper_workers,
                                                             i--));
              continue;
            }

          if (ms <= 0 || !g_atomic_int_get (&worker->pool_idle))
            {
              worker->reaper_seen = -1;
              continue;
            }

          /* idle, with a timeout: the next look is due in a quarter of it */
          timed = TRUE;
          min_ms = MIN (min_ms, ms);

          if (worker->reaper_seen < 0 || worker->reaper_serial != serial)
            {
              /* idle since this moment at most: the clock is read after
               * the worker was seen idle */
              worker->reaper_serial = serial;
              worker->reaper_seen = g_get_monotonic_time ();
            }
          else if (now - worker->reaper_seen >= (gint64) ms * 1000)
            {
              worker->reaper_seen = -1;
              g_ptr_array_add (due, g_object_ref (worker));
            }
        }

      /* Stopping takes other locks, and takes a worker off the list
       * (reaper_remove ()); releasing may finalize. After either, the
       * reaper looks again: what was added or changed meanwhile was not
       * looked at. */
      if (gone->len > 0 || due->len > 0)
        {
          g_atomic_int_set (&reaper_sleeps, FALSE);
          ag_mutex_unlock (&reaper_lock);
          g_ptr_array_set_size (gone, 0);
          for (guint i = 0; i < due->len; i++)
            {
              AgCaller *worker = g_ptr_array_index (due, i);

              worker_reap (worker, worker->reaper_serial);
            }
          g_ptr_array_set_size (due, 0);
          ag_mutex_lock (&reaper_lock);
          continue;
        }

      /* No idle worker with a timeout: until one goes idle, or a worker
       * is made (reaper_add ()), or its timeout changes. */
      if (!timed)
        {
          ag_cond_wait (&reaper_cond, &reaper_lock);
          continue;
        }

      g_atomic_int_set (&reaper_sleeps, FALSE);
      ag_cond_wait_until (&reaper_cond, &reaper_lock,
                          now + CLAMP ((gint64) min_ms * 1000 / 4,
                                       REAPER_MIN_PERIOD,
                                       REAPER_MAX_PERIOD));
    }

  return NULL;
}

/* Must hold reaper_lock. */
static void
reaper_start_unlocked (void)
{
  g_autoptr(GError) error = NULL;
  GThread *thread;

  if (reaper_started)
    return;

  reaper_started = TRUE;
  ag_cond_init (&reaper_cond);
  reaper_workers = g_ptr_array_new_with_free_func (g_object_unref);
  thread = g_thread_try_new ("ag-reaper", reaper_main, NULL, &error);
  if (thread == NULL)
    g_warning ("Idle workers will not be stopped: %s", error->message);
  else
    g_thread_unref (thread);
}

/* Starts the reaper's thread, once per process (tests count threads). */
void
ag_caller_reaper_ensure (void)
{
  ag_mutex_lock (&reaper_lock);
  reaper_start_unlocked ();
  ag_mutex_unlock (&reaper_lock);
}

/* Whether the reaper sleeps until it is told of an idle worker, a new
 * worker or a timeout (at its last look, no idle worker had a timeout),
 * and was not told since. */
gboolean
ag_caller_reaper_sleeps (void)
{
  gboolean sleeps;

  ag_mutex_lock (&reaper_lock);
  sleeps = g_atomic_int_get (&reaper_sleeps) && !reaper_woken;
  ag_mutex_unlock (&reaper_lock);

  return sleeps;
}

/* How many times the reaper looked at the workers. */
guint
ag_caller_reaper_get_looks (void)
{
  return (guint) g_atomic_int_get (&reaper_looks);
}

/* The reaper looks again. Must hold reaper_lock, the reaper started. */
static void
reaper_wake_unlocked (void)
{
  reaper_woken = TRUE;
  ag_cond_signal (&reaper_cond);
}

/* @worker, just made, is looked after until it stops. */
static void
reaper_add (AgCaller *worker)
{
  ag_mutex_lock (&reaper_lock);
  reaper_start_unlocked ();
  g_ptr_array_add (reaper_workers, g_object_ref (worker));
  reaper_wake_unlocked ();
  ag_mutex_unlock (&reaper_lock);
}

/* @worker stops: no longer looked after. */
static void
reaper_remove (AgCaller *worker)
{
  guint index;
  gboolean found = FALSE;

  ag_mutex_lock (&reaper_lock);
  if (reaper_workers != NULL &&
      g_ptr_array_find (reaper_workers, worker, &index))
    {
      g_ptr_array_steal_index_fast (reaper_workers, index);
      found = TRUE;
    }
  ag_mutex_unlock (&reaper_lock);

  if (found)
    g_object_unref (worker);
}

/* A worker's idle-worker-timeout changed: the reaper, which may sleep for a
 * quarter of a longer one (or for ever), looks again. Taking the lock, this
 * cannot fall between the reaper's look at the timeouts and its wait. */
static void
reaper_poke (void)
{
  ag_mutex_lock (&reaper_lock);
  if (reaper_started)
    reaper_wake_unlocked ();
  ag_mutex_unlock (&reaper_lock);
}

/* }}} */

/* Gives @job to @worker, which has no pool job. Must hold the pool's
 * lock. */
static void
pool_assign_unlocked (AgCaller *worker,
                      AgJob    *job)
{
  /* The slot first: a thread that sees the worker
   * (ag_caller_job_finished (), without the lock) must see the slot too, or
   * releasing it would fail and the worker never go back to the pool. */
  g_atomic_int_set (&job->pool_slot, 1);
  g_atomic_pointer_set (&job->caller, g_object_ref (worker));
}

/* Takes an idle worker of @self whose loop is awake (spinning for work):
 * it needs no wake-up. Must hold the lock. Returns the pool's reference, or
 * NULL. */
static AgCaller *
pool_take_idle_unlocked (AgCaller *self)
{
  for (AgCaller *worker = self->idle_head; worker != NULL;
       worker = worker->idle_next)
    {
      if (!g_atomic_int_get (&worker->may_sleep))
        {
          idle_unlink_unlocked (self, worker);
          return worker;
        }
    }

  return NULL;
}

/* Takes the idle worker of @self that went idle last, to be woken for a
 * job: one wake-up at a time is in flight, and the woken worker wakes the
 * next one if jobs wait (pool_woken ()), so that a burst of jobs is not a
 * wake-up per job, and no job waits behind another while a worker is idle.
 * Must hold the lock. Returns the pool's reference, or NULL. */
static AgCaller *
pool_wake_idle_unlocked (AgCaller *self)
{
  AgCaller *worker = self->idle_head;

  if (worker == NULL)
    return NULL;

  idle_unlink_unlocked (self, worker);
  if (!g_atomic_int_get (&worker->pool_waking))
    {
      g_atomic_int_set (&worker->pool_waking, TRUE);
      self->n_waking++;
    }

  return worker;
}

/* @worker no longer counts as being woken. Must hold the lock of @self,
 * its parent. Returns whether it did. */
static gboolean
pool_woken_unlocked (AgCaller *self,
                     AgCaller *worker)
{
  if (!g_atomic_int_get (&worker->pool_waking))
    return FALSE;

  g_atomic_int_set (&worker->pool_waking, FALSE);
  self->n_waking--;
  return TRUE;
}

/* Puts @job (and its reference) at the end of the jobs waiting in the pool
 * of @self. Must hold the lock. */
static void
pool_append_unlocked (AgCaller *self,
                      AgJob    *job)
{
  *self->pool_tail = job;
  self->pool_tail = &job->pool_next;
}

/* Takes the first job waiting in the pool of @self that is not done yet;
 * the done ones go to @drop. Must hold the lock. */
static AgJob *
pool_pop_unlocked (AgCaller  *self,
                   AgJob    **drop)
{
  while (self->pool_head != NULL)
    {
      AgJob *job = self->pool_head;

      self->pool_head = job->pool_next;
      if (self->pool_head == NULL)
        self->pool_tail = &self->pool_head;
      job->pool_next = NULL;

      if (!job->pool_done)
        return job;

      job->pool_next = *drop;
      *drop = job;
    }

  return NULL;
}

static void
pool_drop (AgJob *drop)
{
  while (drop != NULL)
    {
      AgJob *job = drop;

      drop = job->pool_next;
      job->pool_next = NULL;
      job_unref (job);
    }
}

/* Queues @job, which the pool has just given to @worker. */
static void
pool_push (AgCaller *worker,
           AgJob    *job)
{
  if (!caller_push (worker, job, FALSE))
    {
      /* @worker stopped meanwhile (its parent stopping, say): like any job
       * queued when its caller stops, it never runs and ends cancelled
       * (AG_ERROR_CLOSED is for a submission to a stopped caller). */
      g_autofree char *message =
        g_strdup_printf (_("The caller “%s” was stopped"), worker->name);

      ag_pending_cancel (job->pending, message);
      job_unref (job);
    }
}

/* Wakes an idle worker of @self for the first job waiting in its pool, if
 * a job waits, a worker is idle and no other wake-up is in flight. */
static void
pool_wake_next (AgCaller *self)
{
  AgCaller *worker = NULL;
  AgJob *next = NULL;
  AgJob *drop = NULL;

  ag_pool_lock (self);
  if (g_atomic_int_get (&self->state) == AG_CALLER_STATE_RUNNING &&
      self->n_waking == 0 && self->n_idle > 0 &&
      (next = pool_pop_unlocked (self, &drop)) != NULL)
    {
      worker = pool_wake_idle_unlocked (self);
      pool_assign_unlocked (worker, next);
    }
  ag_pool_unlock (self);

  pool_drop (drop);

  if (worker != NULL)
    {
      pool_push (worker, next);
      g_object_unref (worker);
    }
}

/* @worker, woken from idle for a job, dispatches: it passes the wake-up on
 * to the next idle worker if jobs wait, or starts a new worker for them
 * when none is idle and there is room. */
static void
pool_woken (AgCaller *worker)
{
  AgCaller *parent;
  gboolean jobs_wait;

  /* Jobs queued after this see the wake-up gone and start a worker
   * themselves (pool_submit ()). */
  if ((parent = worker_lock_pool (worker)) == NULL)
    return;
  pool_woken_unlocked (parent, worker);
  jobs_wait = parent->pool_head != NULL;
  ag_pool_unlock (parent);

  if (jobs_wait)
    pool_pump (parent);
}

/* The pool job of @worker is done: it takes the next job waiting in its
 * parent's pool, or goes back to the idle workers (or stops, if there are
 * enough of those). */
static void
worker_return_to_pool (AgCaller *worker)
{
  AgCaller *parent;
  AgJob *next = NULL;
  AgJob *drop = NULL;
  gboolean stop = FALSE;
  gboolean was_waking;

  if ((parent = worker_lock_pool (worker)) == NULL)
    return;

  if (worker->pool_uncounted)
    {
      worker->pool_uncounted = FALSE;
      parent->n_live_workers++;
    }
  /* Its job was done (cancelled) before the worker woke up for it: the
   * wake-up the waiting jobs counted on may never come. */
  was_waking = pool_woken_unlocked (parent, worker);
  if (g_atomic_int_get (&worker->state) != AG_CALLER_STATE_RUNNING)
    {
      /* going anyway */
    }
  else if (g_atomic_int_get (&parent->state) != AG_CALLER_STATE_RUNNING)
    stop = TRUE;
  else if ((next = pool_pop_unlocked (parent, &drop)) != NULL)
    pool_assign_unlocked (worker, next);
  else if (parent->n_idle >= parent->max_idle_workers)
    stop = TRUE;
  else
    {
      /* Most recently used first: warm workers are reused, cold ones
       * reaped. */
      idle_push_unlocked (parent, worker);
    }
  ag_pool_unlock (parent);

  pool_drop (drop);

  if (was_waking)
    pool_pump (parent);

  if (next != NULL)
    pool_push (worker, next);
  else if (stop)
    ag_caller_stop (worker, TRUE);
}

/* The pool job @job of @worker returned and waits for something else:
 * the worker stays with it (its loop may be what the job waits on) but no
 * longer counts against max-workers, so that jobs awaiting other pool jobs
 * never exhaust the pool; jobs waiting for a worker get a new one. */
static void
pool_job_waits (AgCaller *worker,
                AgJob    *job)
{
  AgCaller *parent;
  gboolean pump = FALSE;

  if ((parent = worker_lock_pool (worker)) == NULL)
    return;

  /* not if it is done already (and counted again) */
  if (g_atomic_int_get (&job->pool_slot) == 1 && !worker->pool_uncounted &&
      g_atomic_int_get (&worker->state) == AG_CALLER_STATE_RUNNING)
    {
      worker->pool_uncounted = TRUE;
      if (parent->n_live_workers > 0)
        parent->n_live_workers--;
      pump = parent->pool_head != NULL;
    }
  ag_pool_unlock (parent);

  if (pump)
    pool_pump (parent);
}

/* Makes a new worker for the pool of @self, which counted it in
 * n_live_workers already; it has no job yet (the caller gives it one, or
 * worker_return_to_pool () the first waiting). NULL if @self stopped
 * meanwhile. Returns a new reference. */
static AgCaller *
pool_spawn (AgCaller *self)
{
  g_autofree char *name = NULL;
  AgCaller *worker;
  gboolean running;

  name = g_strdup_printf ("%s-worker-%u", self->name,
                          (guint) g_atomic_int_add (&self->n_workers, 1) + 1);
  worker = caller_new_thread (name, self, TRUE);

  ag_caller_lock (self);
  running = g_atomic_int_get (&self->state) == AG_CALLER_STATE_RUNNING;
  if (running)
    {
      if (self->children == NULL)
        self->children = g_ptr_array_new_with_free_func (g_object_unref);
      g_ptr_array_add (self->children, g_object_ref (worker));
    }
  ag_caller_unlock (self);

  /* Stopping it leaves the pool: n_live_workers goes down there. */
  if (!running)
    {
      ag_caller_stop (worker, TRUE);
      g_clear_object (&worker);
    }
  else
    reaper_add (worker);

  return worker;
}

/* Starts workers for the jobs waiting in the pool of @self: wakes an idle
 * one, or makes new ones while there are fewer than max-workers (after a
 * worker left the pool, or max-workers grew). */
static void
pool_pump (AgCaller *self)
{
  pool_wake_next (self);

  for (;;)
    {
      g_autoptr(AgCaller) worker = NULL;

      ag_pool_lock (self);
      if (g_atomic_int_get (&self->state) != AG_CALLER_STATE_RUNNING ||
          self->pool_head == NULL || self->n_idle > 0 ||
          self->n_live_workers >= self->max_workers)
        {
          ag_pool_unlock (self);
          return;
        }
      self->n_live_workers++;
      ag_pool_unlock (self);

      worker = pool_spawn (self);
      if (worker == NULL)
        return;
      worker_return_to_pool (worker);
    }
}

/* Runs @job (a pool job, not queued anywhere yet) in a worker of the pool
 * of @self: an idle one, else a new one while there are fewer than
 * max-workers; else it waits in the pool's queue for the first worker done
 * with its job. So a job never waits behind another job while a worker is
 * free, and a burst of jobs keeps the busy workers busy without a wake-up
 * per job. */
static void
pool_submit (AgCaller *self,
             AgJob    *job)
{
  g_autoptr(AgCaller) worker = NULL;
  gboolean spawn = FALSE;
  gboolean reject = FALSE;
  gboolean drop = FALSE;
  gboolean pump = FALSE;

  ag_pool_lock (self);
  if (g_atomic_int_get (&self->state) != AG_CALLER_STATE_RUNNING)
    reject = TRUE;
  else if (job->pool_done)
    drop = TRUE;  /* done already (cancelled by a group, say) */
  else if (self->pool_head != NULL)
    {
      /* Jobs wait already: this one goes after them, and the first of
       * them starts if a worker can take it. */
      pool_append_unlocked (self, job);
      pump = self->n_idle > 0
             ? self->n_waking == 0
             : self->n_live_workers < self->max_workers;
    }
  else if ((worker = pool_take_idle_unlocked (self)) != NULL)
    pool_assign_unlocked (worker, job);
  else if (self->n_idle > 0 && self->n_waking > 0)
    {
      /* A worker is being woken: it wakes the next one for the jobs that
       * wait meanwhile (see pool_woken ()). */
      pool_append_unlocked (self, job);
    }
  else if ((worker = pool_wake_idle_unlocked (self)) != NULL)
    pool_assign_unlocked (worker, job);
  else if (self->n_live_workers < self->max_workers)
    {
      self->n_live_workers++;
      spawn = TRUE;
    }
  else
    {
      /* the queue takes the job's reference */
      pool_append_unlocked (self, job);
    }
  ag_pool_unlock (self);

  if (reject)
    {
      job_reject (self, job);
      return;
    }
  if (drop)
    {
      job_unref (job);
      return;
    }
  if (pump)
    {
      pool_pump (self);
      return;
    }
  if (spawn)
    {
      worker = pool_spawn (self);
      if (worker == NULL)
        {
          job_reject (self, job);
          return;
        }
      ag_pool_lock (self);
      if (job->pool_done)
        drop = TRUE;
      else
        pool_assign_unlocked (worker, job);
      ag_pool_unlock (self);
      if (drop)
        {
          job_unref (job);
          /* it has no job after all */
          worker_return_to_pool (worker);
          return;
        }
    }

  if (worker != NULL)
    pool_push (worker, job);
}

/* }}} */

/* Per-key queues {{{ */

static void keyq_pump (gpointer data);
static void keyq_close (AgKeyQueue *keyq);
static void queue_close_internal (AgCaller   *self,
                                  const char *key,
                                  AgKeyQueue *expected);

/* Schedules the next item of @keyq, or marks it idle. Must hold the
 * caller's lock. */
static void
keyq_schedule_unlocked (AgKeyQueue *keyq,
                        AgJob     **pump)
{
  *pump = NULL;
  if (g_queue_is_empty (&keyq->items))
    {
      keyq->busy = FALSE;
      return;
    }

  g_atomic_int_inc (&keyq->ref_count);
  *pump = job_new (keyq->caller, NULL, keyq_pump, keyq, NULL);
}

static void
keyq_push_pump (AgCaller *self,
                AgJob    *pump)
{
  if (pump == NULL)
    return;

  pump->destroy = (GDestroyNotify) keyq_unref;
  if (!caller_push (self, pump, TRUE))
    job_unref (pump);
}

static void
keyq_pump (gpointer data)
{
  AgKeyQueue *keyq = data;
  AgCaller *self = keyq->caller;
  AgJob *job = NULL;
  AgJob *pump = NULL;

  ag_caller_lock (self);
  while ((job = g_queue_pop_head (&keyq->items)) != NULL)
    {
      if (g_atomic_int_get (&job->phase) == JOB_QUEUED)
        break;
      /* cancelled while queued: done already */
      ag_caller_unlock (self);
      job_unref (job);
      ag_caller_lock (self);
    }
  if (job != NULL)
    keyq->running = job;
  else
    keyq_schedule_unlocked (keyq, &pump);
  ag_caller_unlock (self);

  keyq_push_pump (self, pump);

  if (job != NULL)
    run_job (self, job);
}

static void
keyq_item_finished (AgJob *job)
{
  AgKeyQueue *keyq = job->keyq;
  AgCaller *self = job->caller;
  AgJob *pump = NULL;

  ag_caller_lock (self);
  if (keyq->running == job)
    {
      keyq->running = NULL;
      keyq_schedule_unlocked (keyq, &pump);
    }
  ag_caller_unlock (self);

  keyq_push_pump (self, pump);
}

static void
keyq_cancel (AgPending  *pending,
             const char *message,
             gpointer    data)
{
  AgKeyQueue *keyq = data;

  queue_close_internal (keyq->caller, keyq->key, keyq);
}

/* }}} */

/* GObject {{{ */

static void
ag_caller_finalize (GObject *object)
{
  AgCaller *self = (AgCaller *) object;

  g_assert (self->head == NULL);
  g_assert (self->incoming == NULL);
  g_assert (self->active == NULL);
  g_assert (self->pool_head == NULL);

  if (self->source != NULL)
    {
      g_source_destroy (self->source);
      g_source_unref (self->source);
    }
  g_clear_pointer (&self->timers, g_sequence_free);
  g_clear_pointer (&self->children, g_ptr_array_unref);
  idle_list_free (g_steal_pointer (&self->idle_head));
  g_clear_pointer (&self->queues, g_hash_table_unref);
  g_clear_object (&self->parent);
  g_clear_object (&self->pool_parent);
  g_clear_object (&self->stopped);
  g_clear_pointer (&self->loop, g_main_loop_unref);
  g_clear_pointer (&self->context, g_main_context_unref);
  g_clear_pointer (&self->name, g_free);
#ifdef HAVE_EVENTFD
  if (self->wake_fd >= 0)
    close (self->wake_fd);
#endif
  ag_mutex_clear (&self->lock);
  ag_mutex_clear (&self->pool_lock);

  G_OBJECT_CLASS (ag_caller_parent_class)->finalize (object);
}

static void
ag_caller_get_property (GObject    *object,
                        guint       prop_id,
                        GValue     *value,
                        GParamSpec *pspec)
{
  AgCaller *self = AG_CALLER (object);

  switch (prop_id)
    {
    case PROP_CHILDREN:
      g_value_take_boxed (value, ag_caller_dup_children (self));
      break;

    case PROP_CONTEXT:
      g_value_set_boxed (value, self->context);
      break;

    case PROP_ID:
      g_value_set_uint (value, self->id);
      break;

    case PROP_IDLE_WORKER_TIMEOUT:
      g_value_set_double (value, ag_caller_get_idle_worker_timeout (self));
      break;

    case PROP_MAIN_CONTEXT:
      g_value_set_boolean (value, self->is_main);
      break;

    case PROP_MAX_BATCH_SIZE:
      g_value_set_uint (value, ag_caller_get_max_batch_size (self));
      break;

    case PROP_MAX_BATCH_TIME:
      g_value_set_double (value, ag_caller_get_max_batch_time (self));
      break;

    case PROP_MAX_IDLE_WORKERS:
      g_value_set_uint (value, ag_caller_get_max_idle_workers (self));
      break;

    case PROP_MAX_WORKERS:
      g_value_set_uint (value, ag_caller_get_max_workers (self));
      break;

    case PROP_NAME:
      g_value_set_string (value, self->name);
      break;

    case PROP_PARENT:
      g_value_take_object (value, ag_caller_dup_parent (self));
      break;

    case PROP_PROTECTED:
      g_value_set_boolean (value, ag_caller_get_protected (self));
      break;

    case PROP_STATE:
      g_value_set_enum (value, ag_caller_get_state (self));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ag_caller_set_property (GObject      *object,
                        guint         prop_id,
                        const GValue *value,
                        GParamSpec   *pspec)
{
  AgCaller *self = AG_CALLER (object);

  switch (prop_id)
    {
    case PROP_CONTEXT:
      self->context = g_value_dup_boxed (value);
      break;

    case PROP_IDLE_WORKER_TIMEOUT:
      ag_caller_set_idle_worker_timeout (self, g_value_get_double (value));
      break;

    case PROP_NAME:
      self->name = g_value_dup_string (value);
      break;

    case PROP_MAX_BATCH_SIZE:
      ag_caller_set_max_batch_size (self, g_value_get_uint (value));
      break;

    case PROP_MAX_BATCH_TIME:
      ag_caller_set_max_batch_time (self, g_value_get_double (value));
      break;

    case PROP_MAX_IDLE_WORKERS:
      ag_caller_set_max_idle_workers (self, g_value_get_uint (value));
      break;

    case PROP_MAX_WORKERS:
      ag_caller_set_max_workers (self, g_value_get_uint (value));
      break;

    case PROP_PROTECTED:
      ag_caller_set_protected (self, g_value_get_boolean (value));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

/* Everything a caller needs, so that g_object_new (AG_TYPE_CALLER, ...)
 * (what bindings call for Caller ()) makes a working guest on the
 * thread-default context, as ag_caller_new_guest () does. */
static void
ag_caller_constructed (GObject *object)
{
  AgCaller *self = (AgCaller *) object;
  g_autofree char *stopped_name = NULL;
  CallerSource *source;

  G_OBJECT_CLASS (ag_caller_parent_class)->constructed (object);

  self->owns_thread = constructing_owner;

  if (self->context == NULL)
    self->context = g_main_context_ref_thread_default ();
  self->is_main = self->context == g_main_context_default ();

  registry_add (self);

  if (self->name == NULL)
    self->name = self->is_main ? g_strdup ("main")
                               : g_strdup_printf ("caller-%u", self->id);

  stopped_name = g_strdup_printf ("stop of caller “%s”", self->name);
  self->stopped = ag_pending_new_full (AG_PENDING_FLAGS_NO_TRACKING,
                                       stopped_name);

  source = (CallerSource *) g_source_new (&caller_source_funcs,
                                          sizeof (CallerSource));
  source->caller = g_object_ref (self);
  g_source_set_priority ((GSource *) source, G_PRIORITY_DEFAULT);
  g_source_set_static_name ((GSource *) source, "[async-gobject] AgCaller");
  /* How a push wakes the loop. A caller that owns its thread (a worker, a
   * thread caller) writes the wake-up fd its context polls anyway,
   * g_main_context_wakeup (), which takes no lock: one fd fewer in each
   * poll () of the worker side (4-5% less CPU time per one-CPU round trip
   * than with an fd of the source's own). A guest caller, on a host's
   * context such as the GTK loop, polls an eventfd of its own: with the
   * host context's wake-up fd instead, the host loop slept inside
   * delivery (on GLib's global locks, which a preempted producer thread
   * held) more often in the bench's hostloop-idle runs: more than 1 ms in
   * 30 of 46 runs against 13 of 46, in four interleaved series, each of
   * which it lost (cause unexplained). */
#ifdef HAVE_EVENTFD
  if (!self->owns_thread)
    {
      self->wake_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
      if (self->wake_fd >= 0)
        self->wake_tag = g_source_add_unix_fd ((GSource *) source,
                                               self->wake_fd, G_IO_IN);
    }
#endif
  /* GLib would block a source that cannot recurse while it dispatches
   * (with an fd, also taking the fd out of the context's poll set and back
   * in, each time waking the context), and a loop nested in one of its
   * jobs would not deliver done callbacks; prepare () and check () keep
   * the jobs themselves from running there (see nested_dispatch ()). */
  g_source_set_can_recurse ((GSource *) source, TRUE);
  self->source = (GSource *) source;
  g_source_attach (self->source, self->context);
}

static void
ag_caller_class_init (AgCallerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructed = ag_caller_constructed;
  object_class->finalize = ag_caller_finalize;
  object_class->get_property = ag_caller_get_property;
  object_class->set_property = ag_caller_set_property;

  /**
   * AgCaller:children:
   *
   * The child callers: those of [method@AsyncGObject.Caller.get_child] and
   * the workers of [method@AsyncGObject.Caller.to_thread].
   *
   * Since: 0.1
   */
  properties[PROP_CHILDREN] =
    g_param_spec_boxed ("children", NULL, NULL,
                        G_TYPE_PTR_ARRAY,
                        (G_PARAM_READABLE |
                         G_PARAM_EXPLICIT_NOTIFY |
                         G_PARAM_STATIC_STRINGS));

  /**
   * AgCaller:context:
   *
   * The context whose loop runs the jobs: the host's for a guest, the
   * caller's own for one that owns its thread. A caller made with
   * g_object_new() and no context is a guest on the thread-default
   * context of the creating thread.
   *
   * Since: 0.1
   */
  properties[PROP_CONTEXT] =
    g_param_spec_boxed ("context", NULL, NULL,
                        G_TYPE_MAIN_CONTEXT,
                        (G_PARAM_READWRITE |
                         G_PARAM_CONSTRUCT_ONLY |
                         G_PARAM_STATIC_STRINGS));

  /**
   * AgCaller:id:
   *
   * A number that identifies the caller in this process, for
   * [func@AsyncGObject.Caller.lookup].
   *
   * Since: 0.1
   */
  properties[PROP_ID] =
    g_param_spec_uint ("id", NULL, NULL,
                       0, G_MAXUINT, 0,
                       (G_PARAM_READABLE |
                        G_PARAM_STATIC_STRINGS));

  /**
   * AgCaller:idle-worker-timeout:
   *
   * Seconds after which an idle worker of the pool of
   * [method@AsyncGObject.Caller.to_thread] stops; 0 keeps idle workers for
   * ever.
   *
   * One thread of the process, made with the first worker, looks at the
   * workers every quarter of the shortest such timeout among the idle ones
   * (at least every 15 seconds, at most every millisecond, and never while
   * no idle worker has a timeout): an idle worker stops, in its own thread,
   * at least one timeout after it went idle and at most one and a half
   * later (2 ms more for timeouts under 4 ms). Idle workers' loops sleep
   * without a timeout. Timeouts of 24.8 days or more keep idle workers.
   *
   * Since: 0.1
   */
  properties[PROP_IDLE_WORKER_TIMEOUT] =
    g_param_spec_double ("idle-worker-timeout", NULL, NULL,
                         0, G_MAXDOUBLE, 60,
                         (G_PARAM_READWRITE |
                          G_PARAM_EXPLICIT_NOTIFY |
                          G_PARAM_STATIC_STRINGS));

  /**
   * AgCaller:main-context:
   *
   * Whether the caller runs on the global default main context, as
   * [func@AsyncGObject.Caller.get_main] does.
   *
   * Since: 0.1
   */
  properties[PROP_MAIN_CONTEXT] =
    g_param_spec_boolean ("main-context", NULL, NULL,
                          FALSE,
                          (G_PARAM_READABLE |
                           G_PARAM_STATIC_STRINGS));

  /**
   * AgCaller:max-batch-size:
   *
   * The most jobs run by one dispatch of the caller's source, before the
   * host's other sources get their turn.
   *
   * Since: 0.1
   */
  properties[PROP_MAX_BATCH_SIZE] =
    g_param_spec_uint ("max-batch-size", NULL, NULL,
                       1, G_MAXUINT, DEFAULT_MAX_BATCH_SIZE,
                       (G_PARAM_READWRITE |
                        G_PARAM_EXPLICIT_NOTIFY |
                        G_PARAM_STATIC_STRINGS));

  /**
   * AgCaller:max-batch-time:
   *
   * The most seconds one dispatch of the caller's source starts jobs for,
   * before the host's other sources get their turn. A job that runs longer
   * is not interrupted.
   *
   * Since: 0.1
   */
  properties[PROP_MAX_BATCH_TIME] =
    g_param_spec_double ("max-batch-time", NULL, NULL,
                         0, G_MAXDOUBLE, DEFAULT_MAX_BATCH_TIME / 1e6,
                         (G_PARAM_READWRITE |
                          G_PARAM_EXPLICIT_NOTIFY |
                          G_PARAM_STATIC_STRINGS));

  /**
   * AgCaller:max-idle-workers:
   *
   * The most idle workers the pool of [method@AsyncGObject.Caller.to_thread]
   * keeps; a worker that finishes a job when the pool is full stops.
   *
   * Since: 0.1
   */
  properties[PROP_MAX_IDLE_WORKERS] =
    g_param_spec_uint ("max-idle-workers", NULL, NULL,
                       0, G_MAXUINT, DEFAULT_MAX_IDLE_WORKERS,
                       (G_PARAM_READWRITE |
                        G_PARAM_EXPLICIT_NOTIFY |
                        G_PARAM_STATIC_STRINGS));

  /**
   * AgCaller:max-workers:
   *
   * The most workers the pool of [method@AsyncGObject.Caller.to_thread]
   * runs at once (twice the number of processors, at least 8, by default).
   * When all are busy, jobs wait in the pool's queue, in order, for the
   * first worker done with its job. Raising it starts workers for the
   * jobs waiting; lowering it stops no worker.
   *
   * Since: 0.1
   */
  properties[PROP_MAX_WORKERS] =
    g_param_spec_uint ("max-workers", NULL, NULL,
                       1, G_MAXUINT, MIN_DEFAULT_MAX_WORKERS,
                       (G_PARAM_READWRITE |
                        G_PARAM_EXPLICIT_NOTIFY |
                        G_PARAM_STATIC_STRINGS));

  /**
   * AgCaller:name:
   *
   * The name of the caller, for logs; also its thread's name when it owns
   * one.
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
   * AgCaller:parent:
   *
   * The caller that made this one with
   * [method@AsyncGObject.Caller.get_child] or
   * [method@AsyncGObject.Caller.to_thread], and stops it with itself.
   *
   * Since: 0.1
   */
  properties[PROP_PARENT] =
    g_param_spec_object ("parent", NULL, NULL,
                         AG_TYPE_CALLER,
                         (G_PARAM_READABLE |
                          G_PARAM_STATIC_STRINGS));

  /**
   * AgCaller:protected:
   *
   * Whether [method@AsyncGObject.Caller.stop] ignores requests that are
   * not forced.
   *
   * Since: 0.1
   */
  properties[PROP_PROTECTED] =
    g_param_spec_boolean ("protected", NULL, NULL,
                          FALSE,
                          (G_PARAM_READWRITE |
                           G_PARAM_EXPLICIT_NOTIFY |
                           G_PARAM_STATIC_STRINGS));

  /**
   * AgCaller:state:
   *
   * The state of the caller. Notified on the caller's context.
   *
   * Since: 0.1
   */
  properties[PROP_STATE] =
    g_param_spec_enum ("state", NULL, NULL,
                       AG_TYPE_CALLER_STATE,
                       AG_CALLER_STATE_RUNNING,
                       (G_PARAM_READABLE |
                        G_PARAM_EXPLICIT_NOTIFY |
                        G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);

  ag_init_i18n ();
}

static void
ag_caller_init (AgCaller *self)
{
  ag_mutex_init (&self->lock);
  ag_mutex_init (&self->pool_lock);
  self->state = AG_CALLER_STATE_RUNNING;
  self->may_sleep = TRUE;
  self->last_push_cpu = -1;
  self->wake_fd = -1;
  self->tail = &self->head;
  self->batch_tail = &self->batch;
  self->pool_tail = &self->pool_head;
  self->max_workers = MAX (MIN_DEFAULT_MAX_WORKERS,
                           2 * g_get_num_processors ());
  self->max_idle_workers = DEFAULT_MAX_IDLE_WORKERS;
  self->idle_worker_timeout = DEFAULT_IDLE_WORKER_TIMEOUT;
  self->max_batch_size = DEFAULT_MAX_BATCH_SIZE;
  self->max_batch_time = DEFAULT_MAX_BATCH_TIME;
}

/* }}} */

/* Stopping {{{ */

static void
set_state (AgCaller      *self,
           AgCallerState  state)
{
  g_atomic_int_set (&self->state, state);
  ag_notify_on_context (self, self->context, properties[PROP_STATE],
                        &self->state_notify_queued);
}

/* Releases what the caller holds, in its own thread (or with its context
 * acquired): the queued jobs, the source, the loop. */
static void
ag_caller_finish_stop (AgCaller *self)
{
  AgJob *queued;
  GSequence *timers;
  GSource *source;

  ag_caller_lock (self);
  if (g_atomic_int_get (&self->finished))
    {
      ag_caller_unlock (self);
      return;
    }
  g_atomic_int_set (&self->finished, TRUE);
  self->finish_requested = FALSE;
  take_incoming_unlocked (self);
  queued = g_steal_pointer (&self->head);
  self->tail = &self->head;
  timers = g_steal_pointer (&self->timers);
  source = g_steal_pointer (&self->source);
  ag_caller_unlock (self);

  g_object_ref (self);

  /* Jobs still queued were cancelled by stop(); dropping them runs their
   * destroy notifies here, in the caller's thread. */
  while (queued != NULL)
    {
      AgJob *job = queued;

      queued = job->next;
      job->next = NULL;
      job_unref (job);
    }

  if (timers != NULL)
    {
      GSequenceIter *iter = g_sequence_get_begin_iter (timers);

      while (!g_sequence_iter_is_end (iter))
        {
          AgJob *job = g_sequence_get (iter);

          iter = g_sequence_iter_next (iter);
          job->timer = NULL;
          job_unref (job);
        }
      g_sequence_free (timers);
    }

  if (source != NULL)
    {
      g_source_destroy (source);
      g_source_unref (source);
    }

  registry_remove (self);
  set_state (self, AG_CALLER_STATE_STOPPED);

  if (self->loop != NULL)
    g_main_loop_quit (self->loop);
  else
    ag_pending_set_boolean (self->stopped, TRUE);

  g_object_unref (self);
}

/**
 * ag_caller_stop:
 * @self: a [class@AsyncGObject.Caller]
 * @force: stop even if @self is protected
 *
 * Stops @self: children first (and the workers of its pool), then its own
 * jobs. Queued jobs never run and end cancelled; running jobs are
 * cancelled and end cancelled when they return; jobs that follow another
 * pending or set their outcome later end cancelled at once. Then @self
 * releases its source and, if it owns one, its thread.
 *
 * A protected caller ([property@AsyncGObject.Caller:protected]) ignores
 * this unless @force is %TRUE. Stopping may be requested any number of
 * times, from any thread, also from a job of @self; after the first, it is
 * silent and harmless. The last steps happen in the caller's own thread:
 * wait for [property@AsyncGObject.Caller:state] to become
 * %AG_CALLER_STATE_STOPPED, or for the pending of
 * [method@AsyncGObject.Caller.get_stopped].
 *
 * Since: 0.1
 */
void
ag_caller_stop (AgCaller *self,
                gboolean  force)
{
  g_autoptr(AgCaller) parent = NULL;
  g_autoptr(GPtrArray) children = NULL;
  g_autoptr(GPtrArray) jobs = NULL;
  g_autoptr(GHashTable) queues = NULL;
  AgCaller *idle;
  g_autofree char *message = NULL;
  gboolean finish_here;

  g_return_if_fail (AG_IS_CALLER (self));

  if (!force && g_atomic_int_get (&self->protected_))
    return;

  ag_caller_lock (self);
  if (g_atomic_int_get (&self->state) != AG_CALLER_STATE_RUNNING)
    {
      ag_caller_unlock (self);
      return;
    }
  g_atomic_int_set (&self->state, AG_CALLER_STATE_STOPPING);
  parent = g_steal_pointer (&self->parent);
  children = g_steal_pointer (&self->children);
  queues = g_steal_pointer (&self->queues);
  jobs = g_ptr_array_new_with_free_func ((GDestroyNotify) job_unref);
  for (AgJob *job = self->active; job != NULL; job = job->active_next)
    g_ptr_array_add (jobs, job_ref (job));
  ag_caller_unlock (self);

  /* The pool: no job waits or goes to a worker once it is stopping. Jobs
   * waiting go into the array with the queue's references. */
  ag_pool_lock (self);
  idle = idle_steal_unlocked (self);
  while (self->pool_head != NULL)
    {
      AgJob *job = self->pool_head;

      self->pool_head = job->pool_next;
      job->pool_next = NULL;
      g_ptr_array_add (jobs, job);
    }
  self->pool_tail = &self->pool_head;
  ag_pool_unlock (self);

  g_object_ref (self);
  set_state (self, AG_CALLER_STATE_STOPPING);

  if (self->is_worker)
    reaper_remove (self);

  /* Leave the parent and its pool. */
  if (parent != NULL)
    {
      gboolean was_idle;
      gboolean jobs_wait;

      ag_pool_lock (parent);
      self->in_pool = FALSE;
      was_idle = g_atomic_int_get (&self->pool_idle);
      if (was_idle)
        idle_unlink_unlocked (parent, self);
      pool_woken_unlocked (parent, self);
      if (self->is_worker && !self->pool_uncounted &&
          parent->n_live_workers > 0)
        parent->n_live_workers--;
      self->pool_uncounted = FALSE;
      jobs_wait = self->is_worker && parent->pool_head != NULL;
      ag_pool_unlock (parent);

      ag_caller_lock (parent);
      if (parent->children != NULL)
        g_ptr_array_remove (parent->children, self);
      ag_caller_unlock (parent);

      if (was_idle)
        g_object_unref (self);

      /* A worker stopped by hand leaves the pool's waiting jobs to a new
       * one. */
      if (jobs_wait)
        pool_pump (parent);
    }

  /* Children first. */
  idle_list_free (idle);
  for (guint i = 0; children != NULL && i < children->len; i++)
    ag_caller_stop (g_ptr_array_index (children, i), TRUE);

  if (queues != NULL)
    {
      GHashTableIter iter;
      gpointer keyq;

      g_hash_table_iter_init (&iter, queues);
      while (g_hash_table_iter_next (&iter, NULL, &keyq))
        {
          g_hash_table_iter_steal (&iter);
          keyq_close (keyq);
        }
    }

  message = g_strdup_printf (_("The caller “%s” was stopped"), self->name);
  for (guint i = 0; i < jobs->len; i++)
    {
      AgJob *job = g_ptr_array_index (jobs, i);
      gint phase;

      ag_pending_cancel (job->pending, message);

      /* A job that is no longer running would otherwise end only when
       * whatever it waits for does. */
      phase = g_atomic_int_get (&job->phase);
      if (phase == JOB_FOLLOWING || phase == JOB_LATER)
        ag_pending_take_value (job->pending, NULL);
    }

  /* The rest happens in the caller's thread. A guest whose context nobody
   * runs right now may finish here: acquiring the context makes this thread
   * its owner for the time. */
  finish_here = ag_caller_runs_in_this_thread (self);
  if (!finish_here && !self->owns_thread &&
      g_main_context_acquire (self->context))
    {
      ag_caller_finish_stop (self);
      g_main_context_release (self->context);
    }
  else if (finish_here)
    ag_caller_finish_stop (self);
  else
    {
      ag_caller_lock (self);
      self->finish_requested = TRUE;
      ag_caller_unlock (self);
      caller_wake (self);
    }

  g_object_unref (self);
}

/* }}} */

/* Public API {{{ */

static AgCaller *
caller_for_context (GMainContext *context,
                    gboolean      home)
{
  AgCaller *self;
  AgCaller *first;

  ag_mutex_lock (&registry_lock);
  registry_ensure_unlocked ();
  self = g_hash_table_lookup (context_callers, context);
  ag_mutex_unlock (&registry_lock);

  if (self == NULL)
    {
      /* Create outside the registry lock; keep the first should two threads
       * race. The registry holds the reference. */
      self = caller_new (context, NULL, FALSE, NULL);

      ag_mutex_lock (&registry_lock);
      first = g_hash_table_lookup (context_callers, context);
      if (first == NULL)
        g_hash_table_insert (context_callers, context, self);
      ag_mutex_unlock (&registry_lock);

      if (first != NULL)
        {
          ag_caller_stop (self, TRUE);
          g_object_unref (self);
          self = first;
        }
      else
        g_object_unref (self);
    }

  /* The thread whose thread-default context this is will be the one to run
   * it, until some other thread dispatches it. */
  if (home)
    g_atomic_int_compare_and_exchange (&self->home_thread, 0,
                                       thread_serial ());

  return self;
}

/**
 * ag_caller_get_current:
 *
 * Gets the caller of this thread: the caller whose context is this thread's
 * thread-default main context. It is created on first use, as a guest on
 * that context: its jobs run when the loop that iterates the context
 * dispatches.
 *
 * A caller returned here stays valid for the life of the process, even
 * once stopped; after it stopped, the next call makes a new one.
 *
 * Returns: (transfer none): the caller of this thread
 *
 * Since: 0.1
 */
AgCaller *
ag_caller_get_current (void)
{
  g_autoptr(GMainContext) context = g_main_context_ref_thread_default ();

  /* A thread that pushed its own context is the one to run it; a plain
   * thread's thread-default context is the global default, whose home is
   * whichever thread dispatches it first. */
  return caller_for_context (context,
                             g_main_context_get_thread_default () != NULL);
}

/* The running caller of @context, if it has one (none is made). Returns a
 * new reference, or NULL. */
AgCaller *
ag_caller_dup_for_context (GMainContext *context)
{
  AgCaller *self = NULL;

  ag_mutex_lock (&registry_lock);
  if (context_callers != NULL)
    self = g_hash_table_lookup (context_callers, context);
  if (self != NULL &&
      g_atomic_int_get (&self->state) == AG_CALLER_STATE_RUNNING)
    g_object_ref (self);
  else
    self = NULL;
  ag_mutex_unlock (&registry_lock);

  return self;
}

/**
 * ag_caller_get_main:
 *
 * Gets the caller of the main thread: a guest on the global default main
 * context, created on first use.
 *
 * Returns: (transfer none): the main caller
 *
 * Since: 0.1
 */
AgCaller *
ag_caller_get_main (void)
{
  return caller_for_context (g_main_context_default (), FALSE);
}

/**
 * ag_caller_new_thread:
 * @name: (nullable): a name for the caller and its thread
 *
 * Creates a caller that owns a new thread, running the caller's own
 * context and loop until the caller is stopped.
 *
 * Returns: (transfer full): a new [class@AsyncGObject.Caller]
 *
 * Since: 0.1
 */
AgCaller *
ag_caller_new_thread (const char *name)
{
  return caller_new_thread (name, NULL, FALSE);
}

/**
 * ag_caller_new_guest:
 * @context: the host's main context
 * @name: (nullable): a name for the caller
 *
 * Creates a caller that is a guest on @context: it attaches one source to
 * it and never iterates it, so its jobs run when whoever runs @context
 * dispatches.
 *
 * Returns: (transfer full): a new [class@AsyncGObject.Caller]
 *
 * Since: 0.1
 */
AgCaller *
ag_caller_new_guest (GMainContext *context,
                     const char   *name)
{
  AgCaller *self;

  g_return_val_if_fail (context != NULL, NULL);

  /* Not the caller of the context: get_current() makes its own. */
  self = caller_new (context, name, FALSE, NULL);

  return self;
}

/**
 * ag_caller_lookup:
 * @id: the [property@AsyncGObject.Caller:id] of a caller
 *
 * Finds a caller that has not stopped by its id.
 *
 * Returns: (transfer full) (nullable): the caller, or %NULL
 *
 * Since: 0.1
 */
AgCaller *
ag_caller_lookup (guint id)
{
  AgCaller *self = NULL;

  ag_mutex_lock (&registry_lock);
  if (registry != NULL)
    self = g_hash_table_lookup (registry, GUINT_TO_POINTER (id));
  if (self != NULL)
    g_object_ref (self);
  ag_mutex_unlock (&registry_lock);

  return self;
}

static int
compare_caller_ids (gconstpointer a,
                    gconstpointer b)
{
  const AgCaller *ca = *(AgCaller * const *) a;
  const AgCaller *cb = *(AgCaller * const *) b;

  return ca->id < cb->id ? -1 : (ca->id > cb->id);
}

/**
 * ag_caller_list_all:
 * @running_only: list only callers in %AG_CALLER_STATE_RUNNING
 *
 * Lists the callers that have not stopped yet.
 *
 * Returns: (transfer container) (element-type AsyncGObject.Caller): the
 *   callers, by id
 *
 * Since: 0.1
 */
GPtrArray *
ag_caller_list_all (gboolean running_only)
{
  GPtrArray *callers = g_ptr_array_new_with_free_func (g_object_unref);

  ag_mutex_lock (&registry_lock);
  if (registry != NULL)
    {
      GHashTableIter iter;
      gpointer value;

      g_hash_table_iter_init (&iter, registry);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        {
          AgCaller *caller = value;

          if (!running_only ||
              g_atomic_int_get (&caller->state) == AG_CALLER_STATE_RUNNING)
            g_ptr_array_add (callers, g_object_ref (caller));
        }
    }
  ag_mutex_unlock (&registry_lock);

  g_ptr_array_sort (callers, compare_caller_ids);

  return callers;
}

/**
 * ag_caller_get_current_pending:
 *
 * Gets the pending of the job that runs in this thread.
 *
 * Returns: (transfer none) (nullable): the pending, or %NULL outside a job
 *
 * Since: 0.1
 */
AgPending *
ag_caller_get_current_pending (void)
{
  return current_pending;
}

/**
 * ag_caller_get_id:
 * @self: a [class@AsyncGObject.Caller]
 *
 * Gets the [property@AsyncGObject.Caller:id] of @self.
 *
 * Returns: the id
 *
 * Since: 0.1
 */
guint
ag_caller_get_id (AgCaller *self)
{
  g_return_val_if_fail (AG_IS_CALLER (self), 0);

  return self->id;
}

/**
 * ag_caller_get_name:
 * @self: a [class@AsyncGObject.Caller]
 *
 * Gets the name of @self.
 *
 * Returns: the name
 *
 * Since: 0.1
 */
const char *
ag_caller_get_name (AgCaller *self)
{
  g_return_val_if_fail (AG_IS_CALLER (self), NULL);

  return self->name;
}

/**
 * ag_caller_get_state:
 * @self: a [class@AsyncGObject.Caller]
 *
 * Gets the state of @self.
 *
 * Returns: the state
 *
 * Since: 0.1
 */
AgCallerState
ag_caller_get_state (AgCaller *self)
{
  g_return_val_if_fail (AG_IS_CALLER (self), AG_CALLER_STATE_STOPPED);

  return g_atomic_int_get (&self->state);
}

/**
 * ag_caller_is_running:
 * @self: a [class@AsyncGObject.Caller]
 *
 * Whether @self accepts work.
 *
 * Returns: %TRUE if @self is in %AG_CALLER_STATE_RUNNING
 *
 * Since: 0.1
 */
gboolean
ag_caller_is_running (AgCaller *self)
{
  return ag_caller_get_state (self) == AG_CALLER_STATE_RUNNING;
}

/**
 * ag_caller_get_context:
 * @self: a [class@AsyncGObject.Caller]
 *
 * Gets the [property@AsyncGObject.Caller:context] of @self.
 *
 * Returns: (transfer none): the context whose loop runs the jobs of @self
 *
 * Since: 0.1
 */
GMainContext *
ag_caller_get_context (AgCaller *self)
{
  g_return_val_if_fail (AG_IS_CALLER (self), NULL);

  return self->context;
}

/**
 * ag_caller_get_stopped:
 * @self: a [class@AsyncGObject.Caller]
 *
 * Gets a pending that succeeds once @self has stopped and released its
 * source and its thread.
 *
 * Returns: (transfer none): the pending
 *
 * Since: 0.1
 */
AgPending *
ag_caller_get_stopped (AgCaller *self)
{
  g_return_val_if_fail (AG_IS_CALLER (self), NULL);

  return self->stopped;
}

/**
 * ag_caller_dup_parent:
 * @self: a [class@AsyncGObject.Caller]
 *
 * Gets the [property@AsyncGObject.Caller:parent] of @self.
 *
 * Returns: (transfer full) (nullable): the parent
 *
 * Since: 0.1
 */
AgCaller *
ag_caller_dup_parent (AgCaller *self)
{
  AgCaller *parent;

  g_return_val_if_fail (AG_IS_CALLER (self), NULL);

  ag_caller_lock (self);
  parent = self->parent ? g_object_ref (self->parent) : NULL;
  ag_caller_unlock (self);

  return parent;
}

/**
 * ag_caller_dup_children:
 * @self: a [class@AsyncGObject.Caller]
 *
 * Lists the [property@AsyncGObject.Caller:children] of @self.
 *
 * Returns: (transfer container) (element-type AsyncGObject.Caller): the
 *   children
 *
 * Since: 0.1
 */
GPtrArray *
ag_caller_dup_children (AgCaller *self)
{
  GPtrArray *children;

  g_return_val_if_fail (AG_IS_CALLER (self), NULL);

  children = g_ptr_array_new_with_free_func (g_object_unref);

  ag_caller_lock (self);
  for (guint i = 0; self->children != NULL && i < self->children->len; i++)
    g_ptr_array_add (children,
                     g_object_ref (g_ptr_array_index (self->children, i)));
  ag_caller_unlock (self);

  return children;
}

/**
 * ag_caller_get_protected:
 * @self: a [class@AsyncGObject.Caller]
 *
 * Gets the [property@AsyncGObject.Caller:protected] property.
 *
 * Returns: whether @self ignores stop requests that are not forced
 *
 * Since: 0.1
 */
gboolean
ag_caller_get_protected (AgCaller *self)
{
  g_return_val_if_fail (AG_IS_CALLER (self), FALSE);

  return g_atomic_int_get (&self->protected_);
}

/**
 * ag_caller_set_protected:
 * @self: a [class@AsyncGObject.Caller]
 * @protected_: whether @self ignores stop requests that are not forced
 *
 * Sets the [property@AsyncGObject.Caller:protected] property.
 *
 * Since: 0.1
 */
void
ag_caller_set_protected (AgCaller *self,
                         gboolean  protected_)
{
  g_return_if_fail (AG_IS_CALLER (self));

  if (g_atomic_int_exchange (&self->protected_, !!protected_) != !!protected_)
    ag_notify_on_context (self, self->context, properties[PROP_PROTECTED],
                          NULL);
}

/**
 * ag_caller_get_max_idle_workers:
 * @self: a [class@AsyncGObject.Caller]
 *
 * Gets the [property@AsyncGObject.Caller:max-idle-workers] property.
 *
 * Returns: the most idle workers kept
 *
 * Since: 0.1
 */
guint
ag_caller_get_max_idle_workers (AgCaller *self)
{
  guint value;

  g_return_val_if_fail (AG_IS_CALLER (self), 0);

  ag_pool_lock (self);
  value = self->max_idle_workers;
  ag_pool_unlock (self);

  return value;
}

/**
 * ag_caller_set_max_idle_workers:
 * @self: a [class@AsyncGObject.Caller]
 * @value: the most idle workers to keep
 *
 * Sets the [property@AsyncGObject.Caller:max-idle-workers] property.
 *
 * Since: 0.1
 */
void
ag_caller_set_max_idle_workers (AgCaller *self,
                                guint    value)
{
  gboolean changed;

  g_return_if_fail (AG_IS_CALLER (self));
  g_return_if_fail (TRUE);

  ag_pool_lock (self);
  changed = self->max_idle_workers != value;
  self->max_idle_workers = value;
  ag_pool_unlock (self);

  if (changed)
    ag_notify_on_context (self, self->context,
                          properties[PROP_MAX_IDLE_WORKERS], NULL);
}

/**
 * ag_caller_get_max_workers:
 * @self: a [class@AsyncGObject.Caller]
 *
 * Gets the [property@AsyncGObject.Caller:max-workers] property.
 *
 * Returns: the most workers running at once
 *
 * Since: 0.1
 */
guint
ag_caller_get_max_workers (AgCaller *self)
{
  guint value;

  g_return_val_if_fail (AG_IS_CALLER (self), 0);

  ag_pool_lock (self);
  value = self->max_workers;
  ag_pool_unlock (self);

  return value;
}

/**
 * ag_caller_set_max_workers:
 * @self: a [class@AsyncGObject.Caller]
 * @value: the most workers to run at once, at least 1
 *
 * Sets the [property@AsyncGObject.Caller:max-workers] property. Lowering
 * it stops no worker: it limits the making of new ones.
 *
 * Since: 0.1
 */
void
ag_caller_set_max_workers (AgCaller *self,
                           guint     value)
{
  gboolean changed;

  g_return_if_fail (AG_IS_CALLER (self));
  g_return_if_fail (value >= 1);

  ag_pool_lock (self);
  changed = self->max_workers != value;
  self->max_workers = value;
  ag_pool_unlock (self);

  /* More room: jobs waiting in the pool start now. */
  pool_pump (self);

  if (changed)
    ag_notify_on_context (self, self->context,
                          properties[PROP_MAX_WORKERS], NULL);
}

/**
 * ag_caller_get_idle_worker_timeout:
 * @self: a [class@AsyncGObject.Caller]
 *
 * Gets the [property@AsyncGObject.Caller:idle-worker-timeout] property.
 *
 * Returns: the seconds after which an idle worker stops, or 0
 *
 * Since: 0.1
 */
double
ag_caller_get_idle_worker_timeout (AgCaller *self)
{
  double value;

  g_return_val_if_fail (AG_IS_CALLER (self), 0);

  ag_pool_lock (self);
  value = (double) self->idle_worker_timeout / G_USEC_PER_SEC;
  ag_pool_unlock (self);

  return value;
}

/**
 * ag_caller_set_idle_worker_timeout:
 * @self: a [class@AsyncGObject.Caller]
 * @value: the seconds after which an idle worker stops, or 0 for never
 *
 * Sets the [property@AsyncGObject.Caller:idle-worker-timeout] property. Workers that are idle already keep the
 * deadline they had.
 *
 * Since: 0.1
 */
void
ag_caller_set_idle_worker_timeout (AgCaller *self,
                                   double   value)
{
  gboolean changed;

  g_return_if_fail (AG_IS_CALLER (self));
  g_return_if_fail (value >= 0 && value < G_MAXINT64 / G_USEC_PER_SEC);

  ag_pool_lock (self);
  changed = self->idle_worker_timeout != (gint64) (value * G_USEC_PER_SEC);
  self->idle_worker_timeout = (gint64) (value * G_USEC_PER_SEC);
  ag_pool_unlock (self);

  if (changed)
    ag_notify_on_context (self, self->context,
                          properties[PROP_IDLE_WORKER_TIMEOUT], NULL);
}

/**
 * ag_caller_get_max_batch_size:
 * @self: a [class@AsyncGObject.Caller]
 *
 * Gets the [property@AsyncGObject.Caller:max-batch-size] property.
 *
 * Returns: the most jobs run by one dispatch
 *
 * Since: 0.1
 */
guint
ag_caller_get_max_batch_size (AgCaller *self)
{
  guint value;

  g_return_val_if_fail (AG_IS_CALLER (self), 0);

  ag_caller_lock (self);
  value = self->max_batch_size;
  ag_caller_unlock (self);

  return value;
}

/**
 * ag_caller_set_max_batch_size:
 * @self: a [class@AsyncGObject.Caller]
 * @value: the most jobs to run by one dispatch, at least 1
 *
 * Sets the [property@AsyncGObject.Caller:max-batch-size] property.
 *
 * Since: 0.1
 */
void
ag_caller_set_max_batch_size (AgCaller *self,
                              guint    value)
{
  gboolean changed;

  g_return_if_fail (AG_IS_CALLER (self));
  g_return_if_fail (value >= 1);

  ag_caller_lock (self);
  changed = self->max_batch_size != value;
  self->max_batch_size = value;
  ag_caller_unlock (self);

  if (changed)
    ag_notify_on_context (self, self->context,
                          properties[PROP_MAX_BATCH_SIZE], NULL);
}

/**
 * ag_caller_get_max_batch_time:
 * @self: a [class@AsyncGObject.Caller]
 *
 * Gets the [property@AsyncGObject.Caller:max-batch-time] property.
 *
 * Returns: the most seconds one dispatch starts jobs for
 *
 * Since: 0.1
 */
double
ag_caller_get_max_batch_time (AgCaller *self)
{
  double value;

  g_return_val_if_fail (AG_IS_CALLER (self), 0);

  ag_caller_lock (self);
  value = (double) self->max_batch_time / G_USEC_PER_SEC;
  ag_caller_unlock (self);

  return value;
}

/**
 * ag_caller_set_max_batch_time:
 * @self: a [class@AsyncGObject.Caller]
 * @value: the most seconds one dispatch starts jobs for
 *
 * Sets the [property@AsyncGObject.Caller:max-batch-time] property.
 *
 * Since: 0.1
 */
void
ag_caller_set_max_batch_time (AgCaller *self,
                              double   value)
{
  gboolean changed;

  g_return_if_fail (AG_IS_CALLER (self));
  g_return_if_fail (value >= 0 && value < G_MAXINT64 / G_USEC_PER_SEC);

  ag_caller_lock (self);
  changed = self->max_batch_time != (gint64) (value * G_USEC_PER_SEC);
  self->max_batch_time = (gint64) (value * G_USEC_PER_SEC);
  ag_caller_unlock (self);

  if (changed)
    ag_notify_on_context (self, self->context,
                          properties[PROP_MAX_BATCH_TIME], NULL);
}

static AgPending *
caller_submit (AgCaller       *self,
               AgJobFunc       func,
               gpointer        user_data,
               GDestroyNotify  destroy,
               gint64          deadline)
{
  AgPending *pending;
  AgJob *job;

  job = job_new (self, func, NULL, user_data, destroy);
  job->deadline = deadline;
  pending = job_make_pending (self, job);

  /* Stopped: the pending says so, and the job never runs. */
  if (!caller_push (self, job, FALSE))
    job_reject (self, job);

  return pending;
}

/**
 * ag_caller_call_soon:
 * @self: a [class@AsyncGObject.Caller]
 * @func: (scope notified) (closure user_data) (destroy destroy): the job
 * @user_data: data for @func
 * @destroy: (nullable): frees @user_data, in the caller's thread, once
 *   @func has returned or will never run
 *
 * Schedules @func to run in the thread of @self, after the jobs queued
 * before it.
 *
 * Returns: (transfer full): the pending of the job; if @self is stopped,
 *   one already done with %AG_ERROR_CLOSED
 *
 * Since: 0.1
 */
AgPending *
ag_caller_call_soon (AgCaller       *self,
                     AgJobFunc       func,
                     gpointer        user_data,
                     GDestroyNotify  destroy)
{
  g_return_val_if_fail (AG_IS_CALLER (self), NULL);
  g_return_val_if_fail (func != NULL, NULL);

  return caller_submit (self, func, user_data, destroy, 0);
}

/**
 * ag_caller_call_later:
 * @self: a [class@AsyncGObject.Caller]
 * @delay: the least seconds to wait before running @func
 * @func: (scope notified) (closure user_data) (destroy destroy): the job
 * @user_data: data for @func
 * @destroy: (nullable): frees @user_data, in the caller's thread, once
 *   @func has returned or will never run
 *
 * Schedules @func to run in the thread of @self once @delay seconds have
 * passed, never earlier. Jobs whose time has come run in the order of their
 * deadlines. Cancelling the pending before then drops the job at once.
 *
 * Returns: (transfer full): the pending of the job; if @self is stopped,
 *   one already done with %AG_ERROR_CLOSED
 *
 * Since: 0.1
 */
AgPending *
ag_caller_call_later (AgCaller       *self,
                      double          delay,
                      AgJobFunc       func,
                      gpointer        user_data,
                      GDestroyNotify  destroy)
{
  gint64 deadline;

  g_return_val_if_fail (AG_IS_CALLER (self), NULL);
  g_return_val_if_fail (!isnan (delay), NULL);
  g_return_val_if_fail (func != NULL, NULL);

  if (delay <= 0)
    return caller_submit (self, func, user_data, destroy, 0);

  if (delay > G_MAXINT64 / (4.0 * G_USEC_PER_SEC))
    delay = G_MAXINT64 / (4.0 * G_USEC_PER_SEC);
  deadline = g_get_monotonic_time () + (gint64) ceil (delay * G_USEC_PER_SEC);

  return caller_submit (self, func, user_data, destroy, deadline);
}

/**
 * ag_caller_call_direct:
 * @self: a [class@AsyncGObject.Caller]
 * @func: (scope notified) (closure user_data) (destroy destroy): the call
 * @user_data: data for @func
 * @destroy: (nullable): frees @user_data, in the caller's thread
 *
 * Queues a light call to run in the thread of @self, in order with its
 * jobs, with no pending: nothing to cancel or wait for. Calls still queued
 * when @self stops are dropped (@destroy still runs).
 *
 * Since: 0.1
 */
void
ag_caller_call_direct (AgCaller       *self,
                       AgDirectFunc    func,
                       gpointer        user_data,
                       GDestroyNotify  destroy)
{
  AgJob *job;

  g_return_if_fail (AG_IS_CALLER (self));
  g_return_if_fail (func != NULL);

  job = job_new (self, NULL, func, user_data, destroy);
  if (!caller_push (self, job, FALSE))
    job_unref (job);
}

/**
 * ag_caller_to_thread:
 * @self: a [class@AsyncGObject.Caller]
 * @func: (scope notified) (closure user_data) (destroy destroy): the job
 * @user_data: data for @func
 * @destroy: (nullable): frees @user_data once @func has returned (in the
 *   worker's thread) or will never run (in the thread that finds so: a
 *   worker's, or the one that stops @self)
 *
 * Runs @func in a worker thread: an idle worker of the pool of @self, or a
 * new one while there are fewer than
 * [property@AsyncGObject.Caller:max-workers]; else @func waits in the
 * pool's queue (jobs start in the order they were submitted) for the first
 * worker done with its job. A job never waits behind another job while a
 * worker is idle. Cancelling a job that waits ends its pending at once; it
 * never runs.
 *
 * A worker takes the next waiting job, or goes back to the pool, before the
 * pending's done callbacks run, so a `to_thread()` from one of them may
 * reuse it. The pool keeps at most
 * [property@AsyncGObject.Caller:max-idle-workers] idle workers, each for
 * [property@AsyncGObject.Caller:idle-worker-timeout] seconds.
 *
 * Returns: (transfer full): the pending of the job; if @self is stopped,
 *   one already done with %AG_ERROR_CLOSED
 *
 * Since: 0.1
 */
AgPending *
ag_caller_to_thread (AgCaller       *self,
                     AgJobFunc       func,
                     gpointer        user_data,
                     GDestroyNotify  destroy)
{
  AgPending *pending;
  AgJob *job;

  g_return_val_if_fail (AG_IS_CALLER (self), NULL);
  g_return_val_if_fail (func != NULL, NULL);

  /* Its caller is the worker that takes it (the pending has none). */
  job = job_new (NULL, func, NULL, user_data, destroy);
  job->pool = g_object_ref (self);
  pending = job_make_pending (NULL, job);

  pool_submit (self, job);

  return pending;
}

/* The child of @self named @name, created if needed; a new reference, or
 * NULL if @self is stopped. */
static AgCaller *
caller_dup_child (AgCaller   *self,
                  const char *name)
{
  AgCaller *child = NULL;

  ag_caller_lock (self);
  for (guint i = 0; self->children != NULL && i < self->children->len; i++)
    {
      AgCaller *c = g_ptr_array_index (self->children, i);

      if (!c->is_worker && g_strcmp0 (c->name, name) == 0)
        {
          child = g_object_ref (c);
          break;
        }
    }
  ag_caller_unlock (self);

  if (child != NULL ||
      g_atomic_int_get (&self->state) != AG_CALLER_STATE_RUNNING)
    return child;

  child = caller_new_thread (name, self, FALSE);

  ag_caller_lock (self);
  if (g_atomic_int_get (&self->state) == AG_CALLER_STATE_RUNNING)
    {
      AgCaller *first = NULL;

      for (guint i = 0; self->children != NULL && i < self->children->len; i++)
        {
          AgCaller *c = g_ptr_array_index (self->children, i);

          if (!c->is_worker && g_strcmp0 (c->name, name) == 0)
            first = c;
        }
      if (first == NULL)
        {
          if (self->children == NULL)
            self->children = g_ptr_array_new_with_free_func (g_object_unref);
          g_ptr_array_add (self->children, g_object_ref (child));
          ag_caller_unlock (self);
          return child;
        }
      g_object_ref (first);
      ag_caller_unlock (self);
      ag_caller_stop (child, TRUE);
      g_object_unref (child);
      return first;
    }
  ag_caller_unlock (self);

  ag_caller_stop (child, TRUE);
  g_object_unref (child);
  return NULL;
}

/**
 * ag_caller_get_child:
 * @self: a [class@AsyncGObject.Caller]
 * @name: the name of the child
 *
 * Gets the child of @self named @name, creating it if needed: a caller
 * that owns its own thread and is stopped with @self.
 *
 * The child belongs to @self, which drops it when either stops (a child
 * stopped by itself leaves its parent): where another thread may stop one
 * of them meanwhile, use [method@AsyncGObject.Caller.dup_child].
 *
 * Returns: (transfer none) (nullable): the child, or %NULL if @self is
 *   stopped
 *
 * Since: 0.1
 */
AgCaller *
ag_caller_get_child (AgCaller   *self,
                     const char *name)
{
  AgCaller *child;

  g_return_val_if_fail (AG_IS_CALLER (self), NULL);
  g_return_val_if_fail (name != NULL, NULL);

  child = caller_dup_child (self, name);
  /* @self holds it (unless a stop in another thread just made @self drop
   * it: that is what dup_child () is for). */
  if (child != NULL)
    g_object_unref (child);

  return child;
}

/**
 * ag_caller_dup_child:
 * @self: a [class@AsyncGObject.Caller]
 * @name: the name of the child
 *
 * Like [method@AsyncGObject.Caller.get_child], but returns a reference of
 * its own, which stays valid when another thread stops @self or the child
 * meanwhile (the child is then stopped, or about to be).
 *
 * Returns: (transfer full) (nullable): the child, or %NULL if @self is
 *   stopped
 *
 * Since: 0.1
 */
AgCaller *
ag_caller_dup_child (AgCaller   *self,
                     const char *name)
{
  g_return_val_if_fail (AG_IS_CALLER (self), NULL);
  g_return_val_if_fail (name != NULL, NULL);

  return caller_dup_child (self, name);
}

/**
 * ag_caller_queue_call:
 * @self: a [class@AsyncGObject.Caller]
 * @key: the queue
 * @func: (scope notified) (closure user_data) (destroy destroy): the job
 * @user_data: data for @func
 * @destroy: (nullable): frees @user_data, in the caller's thread
 *
 * Adds @func to the queue of @self named @key. The jobs of one queue run
 * one after the other, in order: the next starts when the pending of the
 * previous one is done. The queue is one long-lived job
 * ([method@AsyncGObject.Caller.queue_get]) until
 * [method@AsyncGObject.Caller.queue_close].
 *
 * Returns: (transfer full): the pending of this job; if @self is stopped,
 *   one already done with %AG_ERROR_CLOSED
 *
 * Since: 0.1
 */
AgPending *
ag_caller_queue_call (AgCaller       *self,
                      const char     *key,
                      AgJobFunc       func,
                      gpointer        user_data,
                      GDestroyNotify  destroy)
{
  g_autoptr(AgPending) queue_pending = NULL;
  AgKeyQueue *keyq;
  AgPending *pending;
  AgJob *job;
  AgJob *pump = NULL;
  gboolean accepted = FALSE;
  gboolean already_done = FALSE;

  g_return_val_if_fail (AG_IS_CALLER (self), NULL);
  g_return_val_if_fail (key != NULL, NULL);
  g_return_val_if_fail (func != NULL, NULL);

  job = job_new (self, func, NULL, user_data, destroy);
  pending = job_make_pending (self, job);

  ag_caller_lock (self);
  if (g_atomic_int_get (&self->state) == AG_CALLER_STATE_RUNNING)
    {
      if (self->queues == NULL)
        self->queues = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                              (GDestroyNotify) keyq_unref);
      keyq = g_hash_table_lookup (self->queues, key);
      if (keyq == NULL)
        {
          keyq = g_new0 (AgKeyQueue, 1);
          keyq->ref_count = 1;
          keyq->key = g_strdup (key);
          keyq->caller = self;
          /* Long-lived: tracked by managers, never by a group, which would
           * wait for it until the queue is closed. */
          keyq->pending = ag_pending_new_full (AG_PENDING_FLAGS_NO_TRACKING,
                                               key);
          ag_pending_tracker_track_new (keyq->pending, TRUE);
          ag_pending_set_caller (keyq->pending, self);
          g_queue_init (&keyq->items);
          g_hash_table_insert (self->queues, keyq->key, keyq);
          queue_pending = g_object_ref (keyq->pending);
        }
      g_atomic_int_inc (&keyq->ref_count);
      job->keyq = keyq;
      accepted = TRUE;

      if (job->finished)
        {
          /* Done already (cancelled the moment it was made): never
           * queued. */
          already_done = TRUE;
        }
      else
        {
          /* Active like any job, so that stop() cancels it. */
          active_push_unlocked (self, job);

          g_queue_push_tail (&keyq->items, job);
          if (!keyq->busy)
            {
              keyq->busy = TRUE;
              keyq_schedule_unlocked (keyq, &pump);
            }
        }
    }
  ag_caller_unlock (self);

  if (queue_pending != NULL)
    {
      g_atomic_int_inc (&job->keyq->ref_count);
      ag_pending_set_canceller (queue_pending, keyq_cancel, job->keyq,
                                (GDestroyNotify) keyq_unref);
    }

  keyq_push_pump (self, pump);

  if (!accepted)
    job_reject (self, job);
  else if (already_done)
    job_unref (job);

  return pending;
}

/**
 * ag_caller_queue_get:
 * @self: a [class@AsyncGObject.Caller]
 * @key: the queue
 *
 * Gets the pending of the long-lived job of the queue named @key.
 * Cancelling it closes the queue.
 *
 * Returns: (transfer none) (nullable): the pending, or %NULL if there is no
 *   such queue
 *
 * Since: 0.1
 */
AgPending *
ag_caller_queue_get (AgCaller   *self,
                     const char *key)
{
  AgKeyQueue *keyq = NULL;

  g_return_val_if_fail (AG_IS_CALLER (self), NULL);
  g_return_val_if_fail (key != NULL, NULL);

  ag_caller_lock (self);
  if (self->queues != NULL)
    keyq = g_hash_table_lookup (self->queues, key);
  ag_caller_unlock (self);

  return keyq != NULL ? keyq->pending : NULL;
}

/* Cancels the items of @keyq that have not started and its pending;
 * takes the reference the queue table held. */
static void
keyq_close (AgKeyQueue *keyq)
{
  AgCaller *self = keyq->caller;
  GQueue items;
  AgJob *job;

  ag_caller_lock (self);
  items = keyq->items;
  g_queue_init (&keyq->items);
  ag_caller_unlock (self);

  while ((job = g_queue_pop_head (&items)) != NULL)
    {
      ag_pending_cancel (job->pending, _("The queue was closed"));
      job_unref (job);
    }

  ag_pending_cancel (keyq->pending, NULL);
  ag_pending_take_value (keyq->pending, NULL);
  keyq_unref (keyq);
}

/* Removes @keyq (or, if NULL, whatever queue @key names) from the table of
 * @self and closes it. */
static void
queue_close_internal (AgCaller   *self,
                      const char *key,
                      AgKeyQueue *expected)
{
  AgKeyQueue *keyq = NULL;

  ag_caller_lock (self);
  if (self->queues != NULL)
    {
      keyq = g_hash_table_lookup (self->queues, key);
      if (keyq != NULL && (expected == NULL || keyq == expected))
        g_hash_table_steal (self->queues, key);
      else
        keyq = NULL;
    }
  ag_caller_unlock (self);

  if (keyq != NULL)
    keyq_close (keyq);
}

/**
 * ag_caller_queue_close:
 * @self: a [class@AsyncGObject.Caller]
 * @key: the queue
 *
 * Closes the queue named @key: its jobs that have not started are
 * cancelled and never run, the one running finishes, and the pending of
 * the queue ends cancelled. A later [method@AsyncGObject.Caller.queue_call]
 * with @key starts a new queue.
 *
 * Since: 0.1
 */
void
ag_caller_queue_close (AgCaller   *self,
                       const char *key)
{
  g_return_if_fail (AG_IS_CALLER (self));
  g_return_if_fail (key != NULL);

  queue_close_internal (self, key, NULL);
}

/* as_completed and wait {{{ */

/**
 * ag_caller_as_completed:
 * @self: a [class@AsyncGObject.Caller]
 * @items: (array length=n_items): the pendings
 * @n_items: the number of @items
 * @cancel_unfinished: whether closing the iterator cancels the items not
 *   done
 *
 * Makes an iterator that yields @items in the order they complete.
 *
 * Returns: (transfer full): a new [class@AsyncGObject.AsCompleted]
 *
 * Since: 0.1
 */
AgAsCompleted *
ag_caller_as_completed (AgCaller   *self,
                        AgPending **items,
                        guint       n_items,
                        gboolean    cancel_unfinished)
{
  g_return_val_if_fail (AG_IS_CALLER (self), NULL);
  g_return_val_if_fail (items != NULL || n_items == 0, NULL);
  for (guint i = 0; i < n_items; i++)
    g_return_val_if_fail (AG_IS_PENDING (items[i]), NULL);

  return ag_as_completed_new (self, items, n_items, NULL, NULL, NULL, 0,
                              cancel_unfinished);
}

/**
 * ag_caller_as_completed_full:
 * @self: a [class@AsyncGObject.Caller]
 * @producer: (scope notified) (closure user_data) (destroy destroy): gives
 *   the items, one at a time
 * @user_data: data for @producer
 * @destroy: (nullable): frees @user_data when the iterator is finalized
 * @max_concurrent: the most unfinished items at a time; 0 for the
 *   [property@AsyncGObject.Caller:max-idle-workers] of @self
 * @cancel_unfinished: whether closing the iterator cancels the items not
 *   done
 *
 * Makes an iterator that asks @producer for items while fewer than
 * @max_concurrent are unfinished, and yields them in the order they
 * complete: a bounded number of jobs in flight, whatever the number of
 * items.
 *
 * Returns: (transfer full): a new [class@AsyncGObject.AsCompleted]
 *
 * Since: 0.1
 */
AgAsCompleted *
ag_caller_as_completed_full (AgCaller       *self,
                             AgProducerFunc  producer,
                             gpointer        user_data,
                             GDestroyNotify  destroy,
                             guint           max_concurrent,
                             gboolean        cancel_unfinished)
{
  g_return_val_if_fail (AG_IS_CALLER (self), NULL);
  g_return_val_if_fail (producer != NULL, NULL);

  return ag_as_completed_new (self, NULL, 0, producer, user_data, destroy,
                              max_concurrent, cancel_unfinished);
}

typedef struct
{
  gint           ref_count;   /* (atomic) */
  gint           finished;    /* (atomic) */
  gint           remaining;   /* (atomic) items not done */
  AgReturnWhen   return_when;
  GPtrArray     *items;       /* AgPending, owned; immutable */
  GTask         *task;        /* taken by whoever finishes */
  GSource       *timeout;     /* owned */
  GCancellable  *cancellable; /* owned */
  gulong         cancelled_id;
} WaitAll;

typedef struct
{
  GPtrArray *done;
  GPtrArray *not_done;
} WaitResult;

static void
wait_result_free (gpointer data)
{
  WaitResult *result = data;

  g_clear_pointer (&result->done, g_ptr_array_unref);
  g_clear_pointer (&result->not_done, g_ptr_array_unref);
  g_free (result);
}

static void
wait_all_unref (gpointer data)
{
  WaitAll *wait = data;

  if (!g_atomic_int_dec_and_test (&wait->ref_count))
    return;

  g_assert (wait->task == NULL);
  g_clear_pointer (&wait->timeout, g_source_unref);
  g_clear_object (&wait->cancellable);
  g_clear_pointer (&wait->items, g_ptr_array_unref);
  g_free (wait);
}

static WaitAll *
wait_all_ref (WaitAll *wait)
{
  g_atomic_int_inc (&wait->ref_count);
  return wait;
}

static void wait_item_done_cb (AgPending *item,
                               gpointer   data);

/* Ends the wait, once: detaches from the items, the timeout and the
 * cancellable, and returns (done, not done) or @error. */
static void
wait_all_finish (WaitAll *wait,
                 GError  *error)
{
  g_autoptr(GTask) task = NULL;
  WaitResult *result;

  if (!g_atomic_int_compare_and_exchange (&wait->finished, 0, 1))
    {
      g_clear_error (&error);
      return;
    }

  task = g_steal_pointer (&wait->task);

  for (guint i = 0; i < wait->items->len; i++)
    ag_pending_remove_done_callback (g_ptr_array_index (wait->items, i),
                                     wait_item_done_cb, wait);
  if (wait->timeout != NULL)
    g_source_destroy (wait->timeout);
  if (wait->cancellable != NULL && wait->cancelled_id != 0 &&
      !g_cancellable_is_cancelled (wait->cancellable))
    g_cancellable_disconnect (wait->cancellable, wait->cancelled_id);

  if (error != NULL)
    {
      g_task_return_error (task, error);
      return;
    }

  result = g_new0 (WaitResult, 1);
  result->done = g_ptr_array_new_with_free_func (g_object_unref);
  result->not_done = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; i < wait->items->len; i++)
    {
      AgPending *item = g_ptr_array_index (wait->items, i);

      g_ptr_array_add (ag_pending_is_done (item) ? result->done
                                                 : result->not_done,
                       g_object_ref (item));
    }
  g_task_return_pointer (task, result, wait_result_free);
}

static gboolean
item_failed (AgPending *item)
{
  AgPendingState state = ag_pending_get_state (item);

  return state == AG_PENDING_STATE_FAILED ||
         state == AG_PENDING_STATE_CANCELLED;
}

static void
wait_item_done_cb (AgPending *item,
                   gpointer   data)
{
  WaitAll *wait = data;
  gboolean last = g_atomic_int_dec_and_test (&wait->remaining);

  /* @item is NULL for the count held while the callbacks were added. */
  if (last ||
      (item != NULL &&
       (wait->return_when == AG_RETURN_WHEN_FIRST_COMPLETED ||
        (wait->return_when == AG_RETURN_WHEN_FIRST_EXCEPTION &&
         item_failed (item)))))
    wait_all_finish (wait, NULL);
}

static gboolean
wait_timeout_cb (gpointer data)
{
  wait_all_finish (data, NULL);
  return G_SOURCE_REMOVE;
}

static void
wait_cancelled_cb (GCancellable *cancellable,
                   gpointer      data)
{
  wait_all_finish (data,
                   g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                        _("The wait was cancelled")));
}

/**
 * ag_caller_wait_async:
 * @self: a [class@AsyncGObject.Caller]
 * @items: (array length=n_items): the pendings to wait for
 * @n_items: the number of @items
 * @timeout: the most seconds to wait; negative to wait without limit
 * @return_when: when to finish
 * @cancellable: (nullable): a [class@Gio.Cancellable]
 * @callback: (scope async) (closure user_data): called when the wait ends
 * @user_data: data for @callback
 *
 * Waits for some or all of @items to be done, as Python's `asyncio.wait()`
 * does: until any is done (%AG_RETURN_WHEN_FIRST_COMPLETED), any fails or
 * is cancelled (%AG_RETURN_WHEN_FIRST_EXCEPTION), or all are done
 * (%AG_RETURN_WHEN_ALL_COMPLETED), or @timeout seconds pass. A timeout is
 * no failure, and nothing is cancelled: call
 * [method@AsyncGObject.Caller.wait_finish] in @callback to get the items
 * done and those not done. @callback runs on the thread-default main
 * context of this thread, never from inside this call.
 *
 * Since: 0.1
 */
void
ag_caller_wait_async (AgCaller             *self,
                      AgPending           **items,
                      guint                 n_items,
                      double                timeout,
                      AgReturnWhen          return_when,
                      GCancellable         *cancellable,
                      GAsyncReadyCallback   callback,
                      gpointer              user_data)
{
  g_autoptr(GTask) task = NULL;
  WaitAll *wait;
  gboolean satisfied;
  guint n_done = 0;
  gboolean any_failed = FALSE;

  g_return_if_fail (AG_IS_CALLER (self));
  g_return_if_fail (items != NULL || n_items == 0);
  g_return_if_fail (!isnan (timeout));
  g_return_if_fail (return_when <= AG_RETURN_WHEN_ALL_COMPLETED);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));
  for (guint i = 0; i < n_items; i++)
    g_return_if_fail (AG_IS_PENDING (items[i]));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, ag_caller_wait_async);
  g_task_set_name (task, "[async-gobject] ag_caller_wait_async");
  g_task_set_check_cancellable (task, FALSE);

  wait = g_new0 (WaitAll, 1);
  wait->ref_count = 1;
  wait->return_when = return_when;
  wait->task = g_object_ref (task);
  wait->items = g_ptr_array_new_full (n_items, g_object_unref);
  for (guint i = 0; i < n_items; i++)
    {
      g_ptr_array_add (wait->items, g_object_ref (items[i]));
      if (ag_pending_is_done (items[i]))
        {
          n_done++;
          any_failed |= item_failed (items[i]);
        }
    }
  /* One count per item not done, plus one held until the callbacks are
   * all added, so that the last item to complete is the one to finish. */
  wait->remaining = n_items + 1;

  satisfied = n_done == n_items ||
              (n_done > 0 && return_when == AG_RETURN_WHEN_FIRST_COMPLETED) ||
              (any_failed && return_when == AG_RETURN_WHEN_FIRST_EXCEPTION);
  if (satisfied)
    {
      wait_all_finish (wait, NULL);
      wait_all_unref (wait);
      return;
    }

  if (timeout >= 0 && timeout < G_MAXUINT / 1000.0)
    {
      wait->timeout = g_timeout_source_new ((guint) ceil (timeout * 1000));
      g_source_set_static_name (wait->timeout,
                                "[async-gobject] ag_caller_wait_async timeout");
      g_source_set_callback (wait->timeout, wait_timeout_cb,
                             wait_all_ref (wait), wait_all_unref);
      g_source_attach (wait->timeout, g_task_get_context (task));
    }

  if (cancellable != NULL)
    {
      wait->cancellable = g_object_ref (cancellable);
      wait->cancelled_id = g_cancellable_connect (cancellable,
                                                  G_CALLBACK (wait_cancelled_cb),
                                                  wait_all_ref (wait),
                                                  wait_all_unref);
    }

  /* Items done already count at once; the others when they complete. */
  for (guint i = 0; i < n_items; i++)
    ag_pending_add_done_callback (items[i], wait_item_done_cb,
                                  wait_all_ref (wait), wait_all_unref);

  wait_item_done_cb (NULL, wait);
  wait_all_unref (wait);
}

/**
 * ag_caller_wait_finish:
 * @self: a [class@AsyncGObject.Caller]
 * @result: the [iface@Gio.AsyncResult] given to the callback
 * @done: (out) (optional) (transfer container) (element-type AsyncGObject.Pending):
 *   the items done when the wait ended
 * @not_done: (out) (optional) (transfer container) (element-type AsyncGObject.Pending):
 *   the items not done then
 * @error: return location for the error
 *
 * Finishes [method@AsyncGObject.Caller.wait_async].
 *
 * Returns: %TRUE, or %FALSE with %G_IO_ERROR_CANCELLED if the cancellable
 *   ended the wait
 *
 * Since: 0.1
 */
gboolean
ag_caller_wait_finish (AgCaller      *self,
                       GAsyncResult  *result,
                       GPtrArray    **done,
                       GPtrArray    **not_done,
                       GError       **error)
{
  WaitResult *wait_result;

  g_return_val_if_fail (AG_IS_CALLER (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) ==
                        ag_caller_wait_async, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  wait_result = g_task_propagate_pointer (G_TASK (result), error);
  if (wait_result == NULL)
    return FALSE;

  if (done != NULL)
    *done = g_steal_pointer (&wait_result->done);
  if (not_done != NULL)
    *not_done = g_steal_pointer (&wait_result->not_done);
  wait_result_free (wait_result);

  return TRUE;
}

/* }}} */

/* Private API {{{ */

guint
ag_caller_report_leaks (GString *report)
{
  g_autoptr(GPtrArray) callers = ag_caller_list_all (FALSE);
  guint n = 0;

  for (guint i = 0; i < callers->len; i++)
    {
      AgCaller *caller = g_ptr_array_index (callers, i);
      gboolean of_context;
      gboolean busy;

      ag_mutex_lock (&registry_lock);
      of_context = g_hash_table_lookup (context_callers, caller->context) == caller;
      ag_mutex_unlock (&registry_lock);

      ag_caller_lock (caller);
      busy = caller->active != NULL;
      ag_caller_unlock (caller);

      /* The caller of a thread's context (get_main (), get_current ()) is
       * not expected to be stopped, unless it still has work. */
      if (of_context && !caller->owns_thread && !busy)
        continue;

      g_string_append_printf (report,
                              "  never stopped: caller “%s” (id %u, %s%s)\n",
                              caller->name, caller->id,
                              caller->owns_thread ? "owns a thread" : "guest",
                              busy ? ", with unfinished jobs" : "");
      n++;
    }

  return n;
}

gboolean
ag_caller_runs_in_this_thread (AgCaller *self)
{
  if (dispatching_caller == self ||
      g_main_context_is_owner (self->context))
    return TRUE;

  /* The home thread of a context that nobody runs right now (the main
   * thread before or between runs of its loop) is the one to run it: the
   * last thread that iterated it (see caller_source_prepare ()). */
  if ((guint) g_atomic_int_get (&self->home_thread) == thread_serial () &&
      g_main_context_acquire (self->context))
    {
      g_main_context_release (self->context);
      return TRUE;
    }

  return FALSE;
}

guint
ag_caller_get_max_dispatched (AgCaller *self)
{
  return g_atomic_int_get (&self->max_dispatched);
}

/* }}} */

/* Done callbacks on a caller {{{ */

/* A done callback to run on a caller: the pending's done callback (an
 * embedded node, which holds the user's callback, data and destroy notify)
 * and, once the pending is done, the item the caller's queue delivers. One
 * allocation of 56 bytes (a job's memory: bench/), made and freed by the
 * thread that registers it (in the common case): the worker that completes
 * the pending allocates nothing.
 *
 * It has one owner at a time: the pending's list of done callbacks, then
 * the caller's queue (ag_caller_done_on_fire ()), or whoever dropped it.
 * It starts like an AgJob: the node's link, which the pending no longer
 * uses once it fired the node, is the queue's, and the node's tag is the
 * item kind, ITEM_DONE_ON. */
typedef struct
{
  AgCallback      node;       /* its destroy is cleared once run */
  AgCaller       *caller;     /* owned; immutable */
  AgPending      *pending;    /* owned; set once done */
} DoneOn;

G_STATIC_ASSERT (G_STRUCT_OFFSET (DoneOn, node.next) ==
                 G_STRUCT_OFFSET (AgJob, next));
G_STATIC_ASSERT (G_STRUCT_OFFSET (DoneOn, node.tag) ==
                 G_STRUCT_OFFSET (AgJob, kind));
G_STATIC_ASSERT (sizeof (((DoneOn *) NULL)->node.tag) ==
                 sizeof (((AgJob *) NULL)->kind));
/* malloc's chunk of 64 bytes, not 80 */
G_STATIC_ASSERT (sizeof (DoneOn) <= 56 || GLIB_SIZEOF_VOID_P != 8);

static inline DoneOn *
done_on_from_node (AgCallback *node)
{
  return (DoneOn *) ((char *) node - G_STRUCT_OFFSET (DoneOn, node));
}

/* Frees a done callback that was delivered or never will be. */
static void
done_on_free (gpointer data)
{
  DoneOn *done_on = data;

  /* Never delivered (the caller stopped, or the pending went without being
   * done): the user data is still released, once, and the notification
   * this delivery took over is still emitted. */
  if (done_on->node.destroy != NULL)
    done_on->node.destroy (done_on->node.data);
  if (!done_on->node.delivered && done_on->pending != NULL &&
      done_on->node.takes_notify)
    ag_pending_notify_state (done_on->pending);
  g_clear_object (&done_on->pending);
  g_clear_object (&done_on->caller);
  g_free (done_on);
}

/* In the caller's thread: the callback, then its destroy notify. */
static void
done_on_deliver (gpointer data)
{
  DoneOn *done_on = data;
  GDestroyNotify destroy = g_steal_pointer (&done_on->node.destroy);

  done_on->node.delivered = TRUE;
  done_on->node.func (done_on->pending, done_on->node.data);
  if (destroy != NULL)
    destroy (done_on->node.data);
  /* This thread dispatches the caller's context, the pending's: no lookup
   * of handlers under GLib's global signal lock, which the host loop would
   * otherwise take once per result. */
  if (done_on->node.takes_notify)
    ag_pending_notify_state_here (done_on->pending);
}

/* Whether the thread-default context of this thread is @context. */
static gboolean
context_is_this_threads (GMainContext *context)
{
  GMainContext *here = g_main_context_get_thread_default ();

  /* Workers and thread callers have a thread-default context: no lock.
   * Other threads (the GUI's, GIO's pool) own the global default context,
   * or not. */
  if (here != NULL)
    return context == here;
  return g_main_context_is_owner (context);
}

void
ag_caller_done_on_fire (AgPending  *pending,
                        AgCallback *node)
{
  DoneOn *done_on = done_on_from_node (node);

  done_on->pending = g_object_ref (pending);

  /* Done in its own context's thread: the notification this delivery took
   * over goes out now, inline, as it always does there. */
  if (done_on->node.takes_notify &&
      context_is_this_threads (done_on->caller->context))
    {
      done_on->node.takes_notify = FALSE;
      ag_pending_notify_state (pending);
    }

  /* The node goes from the pending to the queue (the caller may deliver
   * and free it at once). */
  if (!caller_push_item (done_on->caller, (AgJob *) done_on))
    done_on_free (done_on);
}

void
ag_caller_done_on_drop (AgCallback *node)
{
  done_on_free (done_on_from_node (node));
}

/**
 * ag_pending_add_done_callback_on:
 * @self: a [class@AsyncGObject.Pending]
 * @caller: the caller whose thread runs @callback
 * @callback: (scope notified) (closure user_data) (destroy destroy): called
 *   once when @self is done
 * @user_data: data for @callback
 * @destroy: (nullable): frees @user_data
 *
 * Like [method@AsyncGObject.Pending.add_done_callback], but @callback runs
 * in the thread of @caller, through its queue: never inline, not even
 * when @self is done already and @caller is this thread's. This is the one
 * GUI code uses. Unlike jobs, done callbacks also run in a loop nested in
 * one of @caller's jobs (a modal dialog's, a synchronous wait's), as a
 * GSource's callback would. If @caller stops first, @callback never runs;
 * @destroy always runs once.
 *
 * Since: 0.1
 */
void
ag_pending_add_done_callback_on (AgPending      *self,
                                 AgCaller       *caller,
                                 AgDoneFunc      callback,
                                 gpointer        user_data,
                                 GDestroyNotify  destroy)
{
  g_return_if_fail (AG_IS_PENDING (self));
  g_return_if_fail (AG_IS_CALLER (caller));
  g_return_if_fail (callback != NULL);

  ag_caller_add_done_on (self, caller, callback, user_data, destroy, NULL);
}

/* ag_pending_add_done_callback_on(). A handle for
 * ag_caller_remove_done_on() goes to @handle (atomically), before the
 * callback can run. */
void
ag_caller_add_done_on (AgPending      *self,
                       AgCaller       *caller,
                       AgDoneFunc      callback,
                       gpointer        user_data,
                       GDestroyNotify  destroy,
                       gpointer       *handle)
{
  DoneOn *done_on;

  done_on = g_new0 (DoneOn, 1);
  if (handle != NULL)
    g_atomic_pointer_set (handle, done_on);
  done_on->node.tag = ITEM_DONE_ON;
  done_on->node.func = callback;
  done_on->node.data = user_data;
  done_on->node.destroy = destroy;
  done_on->node.on_caller = TRUE;
  done_on->node.takes_notify =
    caller->context == ag_pending_get_context_internal (self);
  done_on->caller = g_object_ref (caller);

  if (!ag_pending_add_done_node_if_running (self, &done_on->node))
    {
      /* done long ago: its notification went out then */
      done_on->node.takes_notify = FALSE;
      ag_caller_done_on_fire (self, &done_on->node);
    }
}

/* Removes a callback added with ag_caller_add_done_on() if @pending is not
 * done yet (else it is delivered as usual); its destroy notify runs. */
void
ag_caller_remove_done_on (AgPending *pending,
                          gpointer   handle)
{
  DoneOn *done_on = handle;

  /* Only compared: the callback may have been delivered and freed. */
  ag_pending_remove_done_node (pending, &done_on->node);
}

/* }}} */
