/* stress-util.h: helpers shared by the stress programs
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Seeds, summaries and leak accounting for tests/stress/. Everything here is
 * static inline, like test-util.h, which this header extends.
 *
 * Seeds: every random choice of a stress program comes from GRands seeded
 * with one 32-bit seed, printed at start. `--seed N` (anywhere among the
 * arguments) or `AG_STRESS_SEED=N` replays the same choices; the
 * interleaving of the threads is the kernel's and differs from run to run.
 *
 * Memory: a stress program bounds its own address space (or, under a
 * sanitizer, its RSS), so that a runaway allocation in the library fails
 * the program instead of starving a shared machine.
 *
 * Summaries: each scenario prints one line to stdout,
 *
 *   # stress: <name>: <count> <unit>, <result figures>
 *
 * (a TAP comment), which tests/stress/reliability-report collects into
 * tests/RELIABILITY.md.
 */

#pragma once

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include <async-gobject.h>

#include "../test-util.h"
#include "ag-caller-private.h"

G_BEGIN_DECLS

/* {{{ Memory limit */

/* The most address space a stress program may use (outside sanitizers and
 * valgrind, which reserve much more): a runaway allocation then fails the
 * program (g_malloc() aborts) instead of starving the machine. Under
 * AddressSanitizer or ThreadSanitizer, their own memory limits do the same
 * (an ASAN_OPTIONS or TSAN_OPTIONS given at run time still wins). */
#if defined(__SANITIZE_ADDRESS__)
const char *__asan_default_options (void);
const char *
__asan_default_options (void)
{
  return "hard_rss_limit_mb=3072:malloc_limit_mb=3072";
}
#endif
#if defined(__SANITIZE_THREAD__)
const char *__tsan_default_options (void);
const char *
__tsan_default_options (void)
{
  return "memory_limit_mb=3072";
}
#endif

#define STRESS_MAX_ADDRESS_SPACE ((rlim_t) 4 << 30)

static inline void
stress_limit_memory (void)
{
  struct rlimit limit;

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  return;
#endif
#if defined(__has_feature)
# if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
     __has_feature(memory_sanitizer)
  return;
# endif
#endif

  if (ag_test_running_on_valgrind () || getrlimit (RLIMIT_AS, &limit) != 0)
    return;
  if (limit.rlim_cur == RLIM_INFINITY ||
      limit.rlim_cur > STRESS_MAX_ADDRESS_SPACE)
    {
      limit.rlim_cur = STRESS_MAX_ADDRESS_SPACE;
      if (limit.rlim_max != RLIM_INFINITY && limit.rlim_max < limit.rlim_cur)
        limit.rlim_cur = limit.rlim_max;
      setrlimit (RLIMIT_AS, &limit);
    }
}

/* }}} */

/* {{{ Seed */

static guint32 stress_seed_value;
static gboolean stress_seed_set;

/*
 * stress_init:
 * @argc: the program's argc
 * @argv: the program's argv
 *
 * Takes the seed from `--seed N` / `--seed=N` (removed from @argv, so that
 * g_test_init() does not read it as its own seed string), else from
 * `AG_STRESS_SEED`, else from /dev/urandom through g_random_int(), and
 * bounds the program's address space (stress_limit_memory()). Call it
 * before g_test_init().
 */
static inline void
stress_init (int    *argc,
             char ***argv)
{
  const char *env = g_getenv ("AG_STRESS_SEED");
  guint64 n;
  int i;

  for (i = 1; i < *argc; i++)
    {
      const char *arg = (*argv)[i];
      const char *value = NULL;
      int consumed = 0;

      if (g_str_equal (arg, "--seed") && i + 1 < *argc)
        {
          value = (*argv)[i + 1];
          consumed = 2;
        }
      else if (g_str_has_prefix (arg, "--seed="))
        {
          value = arg + strlen ("--seed=");
          consumed = 1;
        }

      /* A GTest seed string ("R02S...") is left to g_test_init(). */
      if (value == NULL ||
          !g_ascii_string_to_unsigned (value, 10, 0, G_MAXUINT32, &n, NULL))
        continue;

      stress_seed_value = (guint32) n;
      stress_seed_set = TRUE;
      memmove (&(*argv)[i], &(*argv)[i + consumed],
               sizeof (char *) * (gsize) (*argc - i - consumed + 1));
      *argc -= consumed;
      i--;
    }

  if (!stress_seed_set && env != NULL && *env != '\0')
    {
      if (!g_ascii_string_to_unsigned (env, 10, 0, G_MAXUINT32, &n, NULL))
        g_error ("AG_STRESS_SEED=%s is not a number from 0 to %u", env,
                 G_MAXUINT32);
      stress_seed_value = (guint32) n;
      stress_seed_set = TRUE;
    }

  if (!stress_seed_set)
    stress_seed_value = g_random_int ();

  stress_limit_memory ();
}

/* Prints the seed (a TAP comment). Call it after g_test_init(). */
static inline void
stress_print_seed (const char *program)
{
  g_print ("# stress seed: %s: %u (replay with --seed %u or "
           "AG_STRESS_SEED=%u)\n",
           program, stress_seed_value, stress_seed_value, stress_seed_value);
  fflush (stdout);
}

/*
 * stress_test_init:
 * @argc: the program's argc
 * @argv: the program's argv
 * @program: the program's name, for the seed line
 *
 * What every stress program's main() does first, in the order it needs:
 * stress_init() (which takes `--seed N` out of @argv), g_test_init(), then
 * stress_print_seed().
 */
static inline void
stress_test_init (int         *argc,
                  char      ***argv,
                  const char  *program)
{
  stress_init (argc, argv);
  g_test_init (argc, argv, NULL);
  stress_print_seed (program);
}

/*
 * stress_rand_new:
 * @stream: which stream of choices (a scenario and a thread)
 *
 * Returns: (transfer full): a GRand seeded with the seed and @stream, so
 *   that each thread draws its own reproducible sequence
 */
static inline GRand *
stress_rand_new (guint32 stream)
{
  guint32 seeds[2] = { stress_seed_value, stream };

  return g_rand_new_with_seed_array (seeds, G_N_ELEMENTS (seeds));
}

/* One outcome of a draw: @value when the percentile drawn is below
 * @below (and not below the bound of an earlier entry). */
typedef struct
{
  gint below;
  gint value;
} StressChoice;

/*
 * stress_draw:
 * @rand: the stream of choices
 * @choices: (array length=n_choices): increasing bounds, the last one 100
 * @n_choices: the length of @choices
 *
 * Draws a percentile (one g_rand_int_range (@rand, 0, 100)) and returns
 * the value of the first of @choices whose bound is above it.
 *
 * Returns: a value of @choices
 */
static inline gint
stress_draw (GRand              *rand,
             const StressChoice *choices,
             gsize               n_choices)
{
  gint r = g_rand_int_range (rand, 0, 100);
  gsize i;

  g_assert (n_choices > 0 && choices[n_choices - 1].below == 100);
  for (i = 0; r >= choices[i].below; i++)
    ;

  return choices[i].value;
}

/* }}} */

/* {{{ Summary */

/* Prints `# stress: <name>: <figures>` to stdout, at once. */
G_GNUC_PRINTF (2, 3)
static inline void
stress_summary (const char *name,
                const char *format,
                ...)
{
  g_autofree char *figures = NULL;
  va_list args;

  va_start (args, format);
  figures = g_strdup_vprintf (format, args);
  va_end (args);

  g_print ("# stress: %s: %s\n", name, figures);
  fflush (stdout);
}

static inline double
stress_percent (guint64 part,
                guint64 whole)
{
  return whole > 0 ? 100.0 * (double) part / (double) whole : 0.0;
}

static inline double
stress_seconds_since (gint64 start)
{
  return (double) (g_get_monotonic_time () - start) / G_USEC_PER_SEC;
}

/* }}} */

/* {{{ Bounded waits */

/* The deadline for something that should happen soon (see
 * AG_TEST_TIMEOUT_MSEC), times @factor. */
static inline gint64
stress_deadline (guint factor)
{
  return g_get_monotonic_time ()
         + (gint64) AG_TEST_TIMEOUT_MSEC * G_TIME_SPAN_MILLISECOND * factor;
}

/*
 * stress_wait_at_least:
 * @counter: (atomic): what another thread bumps
 * @target: the value to wait for
 *
 * Polls @counter, yielding, until it reaches @target or the deadline of
 * AG_TEST_TIMEOUT_MSEC passes: a bounded loop, not a sleep.
 *
 * Returns: the last value read
 */
static inline gint
stress_wait_at_least (const gint *counter,
                      gint        target)
{
  gint64 deadline = stress_deadline (1);
  gint value;

  while ((value = g_atomic_int_get ((gint *) counter)) < target &&
         g_get_monotonic_time () < deadline)
    g_thread_yield ();

  return value;
}

/* Busy-waits for about @n steps, on this thread's own memory (unlike
 * ag_test_spin(), which all threads share): a jitter shorter than a call. */
static inline void
stress_spin (guint n)
{
  for (volatile guint i = 0; i < n; i++)
    ;
}

/* Waits (bounded) for @pending to be done; fails the test if it is not. */
static inline void
stress_wait_done (AgPending  *pending,
                  const char *what)
{
  g_autoptr(GError) error = NULL;

  if (ag_pending_is_done (pending))
    return;

  ag_pending_wait_sync (pending, AG_TEST_TIMEOUT_MSEC / 1000.0, &error);
  if (!ag_pending_is_done (pending))
    g_error ("%s: not done after %d ms (%s)", what, AG_TEST_TIMEOUT_MSEC,
             error != NULL ? error->message : "no error");
}

/* }}} */

/* {{{ Threads, callers, sources */

/* Polls @count, yielding, until it returns at most @baseline or the
 * deadline of AG_TEST_TIMEOUT_MSEC passes. Returns the last count. */
static inline guint
stress_wait_count_at_most (guint (*count) (void),
                           guint   baseline)
{
  gint64 deadline = stress_deadline (1);
  guint n;

  while ((n = count ()) > baseline && g_get_monotonic_time () < deadline)
    g_thread_yield ();

  return n;
}

/* Waits (bounded) until the process has at most @baseline threads: a
 * stopped caller's thread leaves the task list a moment after it said it
 * stopped. Returns the last count. */
static inline guint
stress_wait_threads (guint baseline)
{
  return stress_wait_count_at_most (ag_test_count_threads, baseline);
}

/* Callers not stopped yet: ag_caller_list_all (FALSE). */
static inline guint
stress_count_callers (void)
{
  g_autoptr(GPtrArray) callers = ag_caller_list_all (FALSE);

  return callers->len;
}

static inline guint
stress_wait_callers (guint baseline)
{
  return stress_wait_count_at_most (stress_count_callers, baseline);
}

static gboolean
stress_probe_prepare (GSource *source,
                      gint    *timeout)
{
  *timeout = -1;
  return FALSE;
}

static gboolean
stress_probe_dispatch (GSource     *source,
                       GSourceFunc  callback,
                       gpointer     user_data)
{
  return G_SOURCE_REMOVE;
}

static GSourceFuncs stress_probe_funcs = {
  .prepare = stress_probe_prepare,
  .dispatch = stress_probe_dispatch,
};

/*
 * stress_count_sources:
 * @context: a main context
 *
 * Counts the sources attached to @context and not destroyed. Source ids
 * are given per context in increasing order, so attaching a probe (never
 * ready) gives an id above every id given so far; every id below it is
 * looked up. Any thread, whoever owns @context.
 *
 * Returns: the number of live sources on @context
 */
static inline guint
stress_count_sources (GMainContext *context)
{
  GSource *probe = g_source_new (&stress_probe_funcs, sizeof (GSource));
  guint last;
  guint n = 0;

  g_source_set_static_name (probe, "stress source probe");
  last = g_source_attach (probe, context);
  for (guint id = 1; id < last; id++)
    if (g_main_context_find_source_by_id (context, id) != NULL)
      n++;
  g_source_destroy (probe);
  g_source_unref (probe);

  return n;
}

/* }}} */

/* {{{ Object accounting: weak references count finalizations */

typedef struct
{
  gint created;    /* (atomic) */
  gint finalized;  /* (atomic) */
} StressObjects;

static void
stress_objects_weak_notify (gpointer  data,
                            GObject  *where_the_object_was)
{
  g_atomic_int_inc (&((StressObjects *) data)->finalized);
}

/* Counts @object as made, and as finalized once its last reference goes
 * (in whatever thread). Returns @object. */
static inline gpointer
stress_objects_track (StressObjects *objects,
                      gpointer       object)
{
  g_atomic_int_inc (&objects->created);
  g_object_weak_ref (object, stress_objects_weak_notify, objects);
  return object;
}

/* Waits (bounded) until every tracked object was finalized (the last
 * reference may be dropped by a thread that is still finishing). Returns
 * how many are still alive. */
static inline gint
stress_objects_wait (StressObjects *objects)
{
  gint created = g_atomic_int_get (&objects->created);

  return created - stress_wait_at_least (&objects->finalized, created);
}

/* }}} */

/* {{{ Leak baseline: threads, callers, sources of the default context */

typedef struct
{
  guint threads;
  guint callers;
  guint default_sources;
} StressBaseline;

typedef struct
{
  guint threads;          /* threads left over the baseline */
  guint callers;          /* callers left over the baseline */
  guint default_sources;  /* sources left over the baseline */
} StressLeaks;

/* Counts what exists before a scenario, after making what exists once per
 * process (the main caller, the idle workers' reaper, the types and their
 * class data). */
static inline void
stress_baseline_take (StressBaseline *baseline)
{
  g_assert_true (AG_IS_CALLER (ag_caller_get_main ()));
  ag_caller_reaper_ensure ();
  g_type_ensure (AG_TYPE_PENDING);
  g_type_ensure (AG_TYPE_CALLER);
  g_type_ensure (AG_TYPE_PENDING_GROUP);
  g_type_ensure (G_TYPE_TASK);
  g_type_ensure (G_TYPE_CANCELLABLE);

  baseline->threads = ag_test_count_threads ();
  baseline->callers = stress_count_callers ();
  baseline->default_sources = stress_count_sources (g_main_context_default ());
}

/* Waits (bounded) for threads and callers to go back to @baseline, and
 * counts what is left. */
static inline void
stress_baseline_compare (const StressBaseline *baseline,
                         StressLeaks          *leaks)
{
  guint threads = stress_wait_threads (baseline->threads);
  guint callers = stress_wait_callers (baseline->callers);
  guint sources = stress_count_sources (g_main_context_default ());

  leaks->threads = threads > baseline->threads
                     ? threads - baseline->threads : 0;
  leaks->callers = callers > baseline->callers
                     ? callers - baseline->callers : 0;
  leaks->default_sources = sources > baseline->default_sources
                             ? sources - baseline->default_sources : 0;
}

/* Names the threads left over (for the test log). */
static inline void
stress_list_threads (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/task", 0, NULL);
  const char *tid;

  while (dir != NULL && (tid = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_strdup_printf ("/proc/self/task/%s/comm", tid);
      g_autofree char *comm = NULL;

      if (g_file_get_contents (path, &comm, NULL, NULL))
        g_test_message ("thread %s: %s", tid, g_strchomp (comm));
    }
}

/* Fails the test if anything leaked. */
static inline void
stress_assert_no_leaks (const StressLeaks *leaks)
{
  if (leaks->threads > 0)
    stress_list_threads ();
  g_assert_cmpuint (leaks->threads, ==, 0);
  g_assert_cmpuint (leaks->callers, ==, 0);
  g_assert_cmpuint (leaks->default_sources, ==, 0);
}

/* }}} */

/* {{{ Scale */

/*
 * stress_iterations:
 * @full: the count of the full stress run
 *
 * @full scaled by AG_TEST_ITERATIONS_SCALE (0.01 under valgrind), through
 * ag_test_iterations(); at least @minimum.
 */
static inline guint
stress_iterations (guint full,
                   guint minimum)
{
  guint n = ag_test_iterations (full, full);

  return MAX (n, minimum);
}

/* }}} */

G_END_DECLS

/* vim: set foldmethod=marker: */
