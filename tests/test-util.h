/* test-util.h: helpers shared by the C test suites
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Everything here is static inline, so that each test program gets its own
 * copy and unused helpers cost nothing (and warn about nothing).
 */

#pragma once

#include <string.h>

#include <glib.h>
#include <glib-object.h>

/* The library's lock wrappers: GMutex/GCond normally, pthreads in a
 * ThreadSanitizer build (TSan cannot see inside Debian's GMutex), so that
 * TSan sees the handshakes of the tests too. */
#include "ag-lock-private.h"

#if defined(__has_include)
# if __has_include(<valgrind/valgrind.h>)
#  include <valgrind/valgrind.h>
#  define AG_TEST_HAVE_VALGRIND 1
# endif
#endif

G_BEGIN_DECLS

/* The log domain of the library's own messages (criticals, warnings). */
#define AG_TEST_LOG_DOMAIN "AsyncGObject"

/* The longest we wait for something that should happen at once: 10 s, or a
 * minute under valgrind. */
#define AG_TEST_TIMEOUT_MSEC (ag_test_running_on_valgrind () ? 60000 : 10000)

/* The same, in seconds: for ag_pending_wait_sync() and friends. */
#define AG_TEST_TIMEOUT_S (AG_TEST_TIMEOUT_MSEC / 1000.0)

/* @stmt must emit exactly one critical of the library: a failed
 * g_return_if_fail(). (Not prefixed: the suites use it hundreds of times.) */
#define EXPECT_CRITICAL(stmt)                                          \
  G_STMT_START                                                         \
    {                                                                  \
      g_test_expect_message (AG_TEST_LOG_DOMAIN, G_LOG_LEVEL_CRITICAL, \
                             "*assertion*failed*");                    \
      stmt;                                                            \
      g_test_assert_expected_messages ();                              \
    }                                                                  \
  G_STMT_END

/*
 * ag_test_running_on_valgrind:
 *
 * Returns: %TRUE when the program runs under valgrind (and valgrind.h was
 *   found at build time)
 */
static inline gboolean
ag_test_running_on_valgrind (void)
{
#ifdef AG_TEST_HAVE_VALGRIND
  return RUNNING_ON_VALGRIND != 0;
#else
  return FALSE;
#endif
}

/*
 * ag_test_iterations:
 * @quick: the count for a quick run (the default of `meson test`)
 * @thorough: the count for a thorough run (`-m thorough`)
 *
 * How many times to repeat a stress loop. The base count is @quick or
 * @thorough; it is multiplied by `AG_TEST_ITERATIONS_SCALE` if that is set
 * (a floating-point number), else by 0.01 under valgrind. Never less than 1.
 */
static inline guint
ag_test_iterations (guint quick,
                    guint thorough)
{
  const char *env = g_getenv ("AG_TEST_ITERATIONS_SCALE");
  double base = g_test_thorough () ? thorough : quick;
  double scale = 1.0;
  double n;

  if (env != NULL && *env != '\0')
    scale = g_ascii_strtod (env, NULL);
  else if (ag_test_running_on_valgrind ())
    scale = 0.01;

  if (!(scale > 0.0))
    scale = 0.0;

  n = base * scale;
  if (n < 1.0)
    return 1;
  if (n > G_MAXUINT)
    return G_MAXUINT;
  return (guint) n;
}

/* {{{ Counters */

/* A GDestroyNotify (or any one-pointer callback) that counts its calls in the
 * gint @data points to. */
static inline void
ag_test_count (gpointer data)
{
  g_atomic_int_inc ((gint *) data);
}

/* A job (AgJobFunc) that counts its runs in the gint @data points to, and
 * succeeds with no value. */
static inline AgPending *
ag_test_count_job (AgPending *pending,
                   gpointer   data)
{
  g_atomic_int_inc ((gint *) data);
  return NULL;
}

/* A done callback (AgDoneFunc) that counts its calls in the gint @data
 * points to. */
static inline void
ag_test_count_done_cb (AgPending *pending,
                       gpointer   data)
{
  g_atomic_int_inc ((gint *) data);
}

/* A job (AgJobFunc) that succeeds with the int GPOINTER_TO_INT (@data). */
static inline AgPending *
ag_test_set_int_job (AgPending *pending,
                     gpointer   data)
{
  ag_pending_set_int (pending, GPOINTER_TO_INT (data));
  return NULL;
}

/* }}} */

/* {{{ Barrier: lines up @n threads, reusable */

typedef struct
{
  gint n;           /* immutable after init */
  gint waiting;     /* (atomic) */
  gint generation;  /* (atomic) */
} AgTestBarrier;

static inline void
ag_test_barrier_init (AgTestBarrier *barrier,
                      guint          n)
{
  barrier->n = (gint) n;
  g_atomic_int_set (&barrier->waiting, 0);
  g_atomic_int_set (&barrier->generation, 0);
}

/* Spins (yielding, so that it stays fair on few cores and under valgrind)
 * until all n threads called it; then they all return together. */
static inline void
ag_test_barrier_wait (AgTestBarrier *barrier)
{
  gint generation = g_atomic_int_get (&barrier->generation);

  if (g_atomic_int_add (&barrier->waiting, 1) == barrier->n - 1)
    {
      g_atomic_int_set (&barrier->waiting, 0);
      g_atomic_int_inc (&barrier->generation);
      return;
    }

  while (g_atomic_int_get (&barrier->generation) == generation)
    g_thread_yield ();
}

/* Busy-waits for about @n short steps: a jitter to vary where racing
 * threads meet after a barrier (never a synchronisation). */
static inline void
ag_test_spin (guint n)
{
  static gint sink;  /* (atomic) */
  guint i;

  for (i = 0; i < n; i++)
    g_atomic_int_inc (&sink);
}

/* }}} */

/* {{{ Latch: one thread waits for a value that another one sets */

typedef struct
{
  AgMutex mutex;
  AgCond  cond;
  gint    value;  /* protected by mutex */
} AgTestLatch;

static inline void
ag_test_latch_init (AgTestLatch *latch)
{
  ag_mutex_init (&latch->mutex);
  ag_cond_init (&latch->cond);
  latch->value = 0;
}

static inline void
ag_test_latch_clear (AgTestLatch *latch)
{
  ag_mutex_clear (&latch->mutex);
  ag_cond_clear (&latch->cond);
}

static inline void
ag_test_latch_set (AgTestLatch *latch,
                   gint         value)
{
  ag_mutex_lock (&latch->mutex);
  latch->value = value;
  ag_cond_broadcast (&latch->cond);
  ag_mutex_unlock (&latch->mutex);
}

/* Waits (bounded by AG_TEST_TIMEOUT_MSEC, then fails the test) until the
 * latch holds at least @value. */
static inline void
ag_test_latch_wait (AgTestLatch *latch,
                    gint         value)
{
  gint64 deadline = g_get_monotonic_time ()
                    + (gint64) AG_TEST_TIMEOUT_MSEC * G_TIME_SPAN_MILLISECOND;

  ag_mutex_lock (&latch->mutex);
  while (latch->value < value)
    {
      if (!ag_cond_wait_until (&latch->cond, &latch->mutex, deadline)
          && latch->value < value)
        {
          ag_mutex_unlock (&latch->mutex);
          g_error ("timed out waiting for a latch to reach %d", value);
        }
    }
  ag_mutex_unlock (&latch->mutex);
}

/* }}} */

/* {{{ Main context iteration */

static inline gboolean
ag_test_set_flag_cb (gpointer data)
{
  g_atomic_int_set ((gint *) data, 1);
  return G_SOURCE_REMOVE;
}

/* Iterates @context (blocking) until @reached (@data) or
 * AG_TEST_TIMEOUT_MSEC passed. Returns whether the time ran out. The one
 * bounded loop of the helpers below. */
static inline gboolean
ag_test_iterate_while_not (GMainContext *context,
                           gboolean    (*reached) (gconstpointer data),
                           gconstpointer  data)
{
  gint timed_out = 0;
  GSource *timeout = g_timeout_source_new (AG_TEST_TIMEOUT_MSEC);

  g_source_set_callback (timeout, ag_test_set_flag_cb, &timed_out, NULL);
  g_source_attach (timeout, context);

  while (!reached (data) && !g_atomic_int_get (&timed_out))
    g_main_context_iteration (context, TRUE);

  g_source_destroy (timeout);
  g_source_unref (timeout);

  return g_atomic_int_get (&timed_out);
}

typedef struct
{
  const gint *counter;
  gint        target;
} AgTestCount;

static inline gboolean
ag_test_count_reached (gconstpointer data)
{
  const AgTestCount *count = data;

  return g_atomic_int_get ((gint *) count->counter) >= count->target;
}

/* Iterates @context (blocking) until `*counter >= target` or
 * AG_TEST_TIMEOUT_MSEC passed. Returns whether the time ran out. */
static inline gboolean
ag_test_iterate_until_or_timeout (GMainContext *context,
                                  const gint   *counter,
                                  gint          target)
{
  AgTestCount count = { counter, target };

  return ag_test_iterate_while_not (context, ag_test_count_reached, &count);
}

/*
 * ag_test_iterate_until:
 * @context: a context the calling thread may iterate
 * @counter: (atomic): a counter that something dispatched on @context bumps
 * @target: the count to wait for
 *
 * Iterates @context (blocking) until `*counter >= target`, and fails the
 * test if that does not happen within AG_TEST_TIMEOUT_MSEC: a bounded
 * loop, not a sleep.
 */
static inline void
ag_test_iterate_until (GMainContext *context,
                       const gint   *counter,
                       gint          target)
{
  ag_test_iterate_until_or_timeout (context, counter, target);
  g_assert_cmpint (g_atomic_int_get ((gint *) counter), >=, target);
}

/* Like ag_test_iterate_until(), but the timeout itself is a failure, even
 * if what it waited for was dispatched in the same iteration. */
static inline void
ag_test_iterate_until_strict (GMainContext *context,
                              const gint   *counter,
                              gint          target)
{
  g_assert_false (ag_test_iterate_until_or_timeout (context, counter,
                                                    target));
  g_assert_cmpint (g_atomic_int_get ((gint *) counter), >=, target);
}

/* Waits, blocking and bounded, for a pending that another thread
 * completes; any outcome but a timeout (or a refusal to wait) will do. */
static inline void
ag_test_wait_done (AgPending *pending)
{
  if (!ag_pending_is_done (pending))
    {
      g_autoptr(GError) error = NULL;

      ag_pending_wait_sync (pending, AG_TEST_TIMEOUT_S, &error);
      g_assert_false (g_error_matches (error, G_IO_ERROR,
                                       G_IO_ERROR_TIMED_OUT));
      g_assert_false (g_error_matches (error, AG_ERROR,
                                       AG_ERROR_WOULD_DEADLOCK));
    }
  g_assert_true (ag_pending_is_done (pending));
}

/* Dispatches whatever is ready on @context now, without blocking (bounded,
 * in case a source keeps itself ready). */
static inline void
ag_test_drain (GMainContext *context)
{
  guint i;

  for (i = 0; i < 1000; i++)
    if (!g_main_context_iteration (context, FALSE))
      break;
}

/* {{{ Assertions and latches shared by the suites */

static inline void
ag_test_assert_state (AgPending      *pending,
                      AgPendingState  state)
{
  g_assert_cmpint (ag_pending_get_state (pending), ==, state);
}

/* @pending ended with @domain/@code, and a message that contains
 * @fragment (unless NULL). */
static inline void
ag_test_assert_pending_error (AgPending  *pending,
                              GQuark      domain,
                              gint        code,
                              const char *fragment)
{
  g_autoptr(GError) error = ag_pending_dup_error (pending);

  g_assert_error (error, domain, code);
  if (fragment != NULL && strstr (error->message, fragment) == NULL)
    g_error ("the message “%s” does not contain “%s”", error->message,
             fragment);
}

/* Adds @n to a latch (a counter that another thread can wait for). */
static inline void
ag_test_latch_add (AgTestLatch *latch,
                   gint         n)
{
  ag_mutex_lock (&latch->mutex);
  latch->value += n;
  ag_cond_broadcast (&latch->cond);
  ag_mutex_unlock (&latch->mutex);
}

/* }}} */

/* The threads of this process, from /proc/self/task. */
static inline guint
ag_test_count_threads (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/task", 0, NULL);
  guint n = 0;

  if (dir == NULL)
    return 0;
  while (g_dir_read_name (dir) != NULL)
    n++;
  return n;
}

/* {{{ Contexts shared by the suites */

/* A new context, pushed as the thread-default one of the calling thread. */
static inline GMainContext *
ag_test_push_context (void)
{
  GMainContext *context = g_main_context_new ();

  g_main_context_push_thread_default (context);
  return context;
}

/* Undoes ag_test_push_context(), after dispatching what is ready. */
static inline void
ag_test_pop_context (GMainContext *context)
{
  ag_test_drain (context);
  g_main_context_pop_thread_default (context);
  g_main_context_unref (context);
}

static inline void
ag_test_wake_context_cb (AgPending *pending,
                         gpointer   data)
{
  g_main_context_wakeup (data);
}

/* Iterates @context until @pending is done: for pendings completed by
 * sources of @context or by another thread (which wakes @context through
 * a done callback). Fails the test after AG_TEST_TIMEOUT_MSEC. */
static inline gboolean
ag_test_pending_done_reached (gconstpointer data)
{
  return ag_pending_is_done ((AgPending *) data);
}

static inline void
ag_test_iterate_until_done (GMainContext *context,
                            AgPending    *pending)
{
  ag_pending_add_done_callback (pending, ag_test_wake_context_cb,
                                g_main_context_ref (context),
                                (GDestroyNotify) g_main_context_unref);
  ag_test_iterate_while_not (context, ag_test_pending_done_reached, pending);

  g_assert_true (ag_pending_is_done (pending));
}

/* A GAsyncReadyCallback that keeps the result in the GAsyncResult *
 * @data points to (which must be NULL until then). */
static inline void
ag_test_store_result_cb (GObject      *source,
                         GAsyncResult *result,
                         gpointer      data)
{
  GAsyncResult **out = data;

  g_assert_null (*out);
  *out = g_object_ref (result);
}

/* Iterates @context until *@result is set (by ag_test_store_result_cb()),
 * and fails the test if that does not happen within AG_TEST_TIMEOUT_MSEC. */
static inline gboolean
ag_test_result_reached (gconstpointer data)
{
  return *(GAsyncResult * const *) data != NULL;
}

static inline void
ag_test_iterate_until_result (GMainContext  *context,
                              GAsyncResult **result)
{
  ag_test_iterate_while_not (context, ag_test_result_reached, result);

  g_assert_nonnull (*result);
}

/* Exits @group with exit_async(), iterating @context (bounded, as
 * ag_test_iterate_until_result()); returns what exit_finish() returns. */
static inline gboolean
ag_test_group_exit (AgPendingGroup  *group,
                    GMainContext    *context,
                    GError         **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  ag_pending_group_exit_async (group, NULL, ag_test_store_result_cb,
                               &result);
  ag_test_iterate_until_result (context, &result);
  return ag_pending_group_exit_finish (group, result, error);
}

/* }}} */

/* }}} */

G_END_DECLS

/* vim: set foldmethod=marker: */
