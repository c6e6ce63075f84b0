/* test-debug.c: AG_DEBUG
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <async-gobject.h>

/* In a subprocess: a pending never completed, a caller never stopped, and
 * work that finished properly, which must not be reported. */
static void
leaks_child (void)
{
  AgPending *forgotten = ag_pending_new_full (AG_PENDING_FLAGS_NONE,
                                              "forgotten-pending");
  AgCaller *lingering = ag_caller_new_thread ("lingering-caller");
  AgCaller *stopped = ag_caller_new_thread ("stopped-caller");
  AgPending *completed = ag_pending_new_full (AG_PENDING_FLAGS_NONE,
                                              "completed-pending");
  AgPending *dropped = ag_pending_new_full (AG_PENDING_FLAGS_NONE,
                                            "dropped-pending");
  g_autoptr(GError) error = NULL;
  AgPending *stop;

  ag_pending_set_int (completed, 1);
  g_object_unref (completed);
  g_object_unref (dropped);

  stop = g_object_ref (ag_caller_get_stopped (stopped));
  ag_caller_stop (stopped, TRUE);
  g_assert_true (ag_pending_wait_sync (stop, 10, &error));
  g_object_unref (stop);
  g_object_unref (stopped);

  (void) forgotten;
  (void) lingering;
}

static void
test_leaks (void)
{
  if (g_test_subprocess ())
    {
      g_setenv ("AG_DEBUG", "leaks", TRUE);
      leaks_child ();
      return;
    }

  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stderr ("*pendings never completed*callers never stopped*");
  g_test_trap_assert_stderr ("*never completed:*forgotten-pending*running*");
  g_test_trap_assert_stderr ("*1 pendings were finalized without being completed*");
  g_test_trap_assert_stderr ("*never stopped: caller*lingering-caller*");
  g_test_trap_assert_stderr_unmatched ("*completed-pending*");
  g_test_trap_assert_stderr_unmatched ("*caller*stopped-caller*(id*");
}

static void
test_no_leaks (void)
{
  if (g_test_subprocess ())
    {
      AgPending *pending;

      g_setenv ("AG_DEBUG", "leaks", TRUE);
      pending = ag_pending_new ();
      ag_pending_set_int (pending, 1);
      g_object_unref (pending);
      return;
    }

  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stderr ("*async-gobject: no leaks*");
}

/* volatile: the store must not be optimised away */
static AgPending * volatile kept_pending;

static void
test_off (void)
{
  if (g_test_subprocess ())
    {
      g_unsetenv ("AG_DEBUG");
      /* Never completed, but kept reachable: LeakSanitizer is not what
       * this test is about. */
      kept_pending = ag_pending_new ();
      return;
    }

  /* Without AG_DEBUG, nothing is reported. */
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stderr_unmatched ("*async-gobject:*");
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/Debug/leaks", test_leaks);
  g_test_add_func ("/Debug/no-leaks", test_no_leaks);
  g_test_add_func ("/Debug/off", test_off);

  return g_test_run ();
}
