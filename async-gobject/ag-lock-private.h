/* ag-lock-private.h: the locks the library uses internally
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The library's own locks go through these wrappers, so that a build for
 * ThreadSanitizer can use pthread primitives that TSan understands (Debian's
 * GLib is not instrumented, so TSan cannot see inside GMutex or GCond).
 * Every other build uses GMutex and GCond, which cost no allocation.
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

#ifdef AG_USE_PTHREAD_LOCKS

#include <errno.h>
#include <pthread.h>
#include <time.h>

typedef pthread_mutex_t AgMutex;
typedef pthread_cond_t  AgCond;

#define AG_MUTEX_INIT PTHREAD_MUTEX_INITIALIZER

static inline void
ag_mutex_init (AgMutex *mutex)
{
  pthread_mutex_init (mutex, NULL);
}

static inline void
ag_mutex_clear (AgMutex *mutex)
{
  pthread_mutex_destroy (mutex);
}

static inline void
ag_mutex_lock (AgMutex *mutex)
{
  pthread_mutex_lock (mutex);
}

static inline void
ag_mutex_unlock (AgMutex *mutex)
{
  pthread_mutex_unlock (mutex);
}

static inline void
ag_cond_init (AgCond *cond)
{
  pthread_condattr_t attr;

  pthread_condattr_init (&attr);
  pthread_condattr_setclock (&attr, CLOCK_MONOTONIC);
  pthread_cond_init (cond, &attr);
  pthread_condattr_destroy (&attr);
}

static inline void
ag_cond_clear (AgCond *cond)
{
  pthread_cond_destroy (cond);
}

static inline void
ag_cond_wait (AgCond  *cond,
              AgMutex *mutex)
{
  pthread_cond_wait (cond, mutex);
}

static inline void
ag_cond_signal (AgCond *cond)
{
  pthread_cond_signal (cond);
}

static inline void
ag_cond_broadcast (AgCond *cond)
{
  pthread_cond_broadcast (cond);
}

/* @end_time is on g_get_monotonic_time()'s clock, as for g_cond_wait_until() */
static inline gboolean
ag_cond_wait_until (AgCond  *cond,
                    AgMutex *mutex,
                    gint64   end_time)
{
  struct timespec ts;

  ts.tv_sec = end_time / G_USEC_PER_SEC;
  ts.tv_nsec = (end_time % G_USEC_PER_SEC) * 1000;
  return pthread_cond_timedwait (cond, mutex, &ts) != ETIMEDOUT;
}

#else /* !AG_USE_PTHREAD_LOCKS */

typedef GMutex AgMutex;
typedef GCond  AgCond;

/* For statically allocated mutexes */
#define AG_MUTEX_INIT { NULL }

#define ag_mutex_init(m)               g_mutex_init (m)
#define ag_mutex_clear(m)              g_mutex_clear (m)
#define ag_mutex_lock(m)               g_mutex_lock (m)
#define ag_mutex_unlock(m)             g_mutex_unlock (m)
#define ag_cond_init(c)                g_cond_init (c)
#define ag_cond_clear(c)               g_cond_clear (c)
#define ag_cond_wait(c, m)             g_cond_wait (c, m)
#define ag_cond_signal(c)              g_cond_signal (c)
#define ag_cond_broadcast(c)           g_cond_broadcast (c)
#define ag_cond_wait_until(c, m, t)    g_cond_wait_until (c, m, t)

#endif /* AG_USE_PTHREAD_LOCKS */

G_END_DECLS
