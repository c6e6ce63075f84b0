/* test-bad-input.c: every public function, given bad input
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Each test goes through one public header and hands every function what a
 * careless program (or a binding) might: NULL, an object of another class
 * (a GCancellable where an AgPending or an AgCaller belongs), a value of
 * the wrong GType for a typed getter, a pending that is done already, a
 * caller that has stopped, a group that has exited, NaN, negative and
 * infinite timeouts and delays, out-of-range enums. The contract (see
 * DESIGN.md, STYLE.md "Misuse vs failure", and the doc comments of the .c
 * files) is that each one answers with a g_critical() (a programmer error)
 * or a GError (a runtime failure), never a crash, a hang or silence, and
 * that documented meanings hold: a negative timeout waits without limit, a
 * negative delay runs as soon as possible.
 *
 * Cases where a crash is possible run in a subprocess, so that a failure
 * there fails that test only. Every wait is bounded by AG_TEST_TIMEOUT_MSEC;
 * threads are never lined up with sleeps.
 */

#include <math.h>
#include <string.h>

#include <gobject/gvaluecollector.h>

#include <async-gobject.h>

#include "ag-caller-private.h"

#include "test-util.h"

/* {{{ Helpers */

/* A delay long enough that a blocking wait most likely starts before it
 * ends, short enough to keep the suite quick. The tests pass whatever the
 * timing (this is no synchronisation); the delay only makes a wrong reading
 * of a negative timeout (as "no wait") observable. */
#define SHORT_DELAY_S 0.05

/* Short names for long enum values */
#define MODE_IGNORE AG_PENDING_GROUP_MODE_IGNORE
#define NO_TRACKING AG_PENDING_FLAGS_NO_TRACKING
#define BAD_MODE    ((AgPendingGroupMode) -1)

/* A new error, for the calls that take one */
static GError *
new_error (GQuark      domain,
           gint        code,
           const char *message)
{
  return g_error_new_literal (domain, code, message);
}

/* Stops @caller (forced) and waits, bounded, until it has stopped. */
static void
stop_and_wait (AgCaller *caller)
{
  g_autoptr(AgCaller) owned = g_object_ref (caller);
  g_autoptr(AgPending) stopped = g_object_ref (ag_caller_get_stopped (owned));
  g_autoptr(GError) error = NULL;

  ag_caller_stop (owned, TRUE);
  g_assert_true (ag_pending_wait_sync (stopped, AG_TEST_TIMEOUT_S, &error));
  g_assert_no_error (error);
  g_assert_cmpint (ag_caller_get_state (owned), ==, AG_CALLER_STATE_STOPPED);
}

static void
count_canceller (AgPending  *pending,
                 const char *message,
                 gpointer    data)
{
  g_atomic_int_inc ((gint *) data);
}

static AgPending *
null_producer (gpointer data)
{
  return NULL;
}

/* A thread caller and a pending that it completes (with 7) after
 * SHORT_DELAY_S: something a wait without limit must see. */
typedef struct
{
  AgCaller  *caller;   /* owned */
  AgPending *pending;  /* owned */
} Later;

static void
later_init (Later *later)
{
  later->caller = ag_caller_new_thread ("bad-input-later");
  later->pending = ag_caller_call_later (later->caller, SHORT_DELAY_S,
                                         ag_test_set_int_job,
                                         GINT_TO_POINTER (7), NULL);
  g_assert_nonnull (later->pending);
}

static void
later_clear (Later *later)
{
  stop_and_wait (later->caller);
  g_clear_object (&later->pending);
  g_clear_object (&later->caller);
}

static void
never_called_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      data)
{
  g_error ("a call refused with a critical must not call back");
}

/* Something that is a GTypeInstance but not a GObject. */
static GParamSpec *
make_not_an_object (void)
{
  return g_param_spec_ref_sink (g_param_spec_int ("not-an-object", NULL, NULL,
                                                  0, 1, 0, G_PARAM_READABLE));
}

/* Runs @func in a subprocess (bounded by AG_TEST_TIMEOUT_MSEC), for the
 * cases that found a crash or a hang: they fail alone, and the other tests
 * still run. */
static void
run_in_subprocess (void (*func) (void))
{
  if (g_test_subprocess ())
    {
      func ();
      return;
    }

  /* The child's stderr says what failed; a failure is recorded, and the
   * other tests still run. */
  g_test_trap_subprocess (NULL, (guint64) AG_TEST_TIMEOUT_MSEC * 1000,
                          G_TEST_SUBPROCESS_INHERIT_STDERR);
  if (!g_test_trap_has_passed ())
    g_test_fail_printf ("the subprocess %s",
                        g_test_trap_reached_timeout () ? "hung"
                                                       : "failed or crashed");
}

/* }}} */

/* {{{ /BadInput/pending */

/* Every function of ag-pending.h, given @self that is not an AgPending. */
static void
check_pending_bad_self (gpointer self)
{
  AgPending *bad = self;
  GObject *object = g_object_new (G_TYPE_OBJECT, NULL);
  g_auto(GValue) value = G_VALUE_INIT;
  GError *error = NULL;
  gint called = 0;
  gint destroyed = 0;
  gboolean b;
  gpointer p;
  gint64 i;
  double d;
  guint u;

  g_value_init (&value, G_TYPE_INT);
  g_value_set_int (&value, 1);

  EXPECT_CRITICAL (p = (gpointer) ag_pending_get_name (bad));
  g_assert_null (p);
  EXPECT_CRITICAL (u = ag_pending_get_flags (bad));
  g_assert_cmpuint (u, ==, AG_PENDING_FLAGS_NONE);
  EXPECT_CRITICAL (p = ag_pending_get_context (bad));
  g_assert_null (p);

  EXPECT_CRITICAL (b = ag_pending_set_value (bad, &value));
  g_assert_false (b);
  error = g_error_new_literal (AG_ERROR, AG_ERROR_FAILED, "x");
  EXPECT_CRITICAL (b = ag_pending_set_error (bad, error));
  g_assert_false (b);
  /* take_error consumes its error either way (valgrind checks) */
  EXPECT_CRITICAL (b = ag_pending_take_error (bad, g_steal_pointer (&error)));
  g_assert_false (b);
  EXPECT_CRITICAL (b = ag_pending_set_int (bad, 1));
  g_assert_false (b);
  EXPECT_CRITICAL (b = ag_pending_set_boolean (bad, TRUE));
  g_assert_false (b);
  EXPECT_CRITICAL (b = ag_pending_set_double (bad, 1.5));
  g_assert_false (b);
  EXPECT_CRITICAL (b = ag_pending_set_string (bad, "s"));
  g_assert_false (b);
  EXPECT_CRITICAL (b = ag_pending_set_object (bad, object));
  g_assert_false (b);
  EXPECT_CRITICAL (b = ag_pending_set_pointer (bad, &called, NULL));
  g_assert_false (b);

  {
    g_auto(GValue) out = G_VALUE_INIT;

    EXPECT_CRITICAL (b = ag_pending_get_value (bad, &out, &error));
    g_assert_false (b);
    g_assert_false (G_IS_VALUE (&out));
    g_assert_no_error (error);
  }
  EXPECT_CRITICAL (i = ag_pending_get_int (bad, &error));
  g_assert_cmpint (i, ==, 0);
  EXPECT_CRITICAL (b = ag_pending_get_boolean (bad, &error));
  g_assert_false (b);
  EXPECT_CRITICAL (d = ag_pending_get_double (bad, &error));
  g_assert_cmpfloat (d, ==, 0);
  EXPECT_CRITICAL (p = ag_pending_get_string (bad, &error));
  g_assert_null (p);
  EXPECT_CRITICAL (p = ag_pending_get_object (bad, &error));
  g_assert_null (p);
  EXPECT_CRITICAL (p = ag_pending_get_pointer (bad, &error));
  g_assert_null (p);
  g_assert_no_error (error);
  EXPECT_CRITICAL (p = ag_pending_dup_error (bad));
  g_assert_null (p);

  EXPECT_CRITICAL (b = ag_pending_cancel (bad, "m"));
  g_assert_false (b);
  EXPECT_CRITICAL (b = ag_pending_is_done (bad));
  g_assert_false (b);
  EXPECT_CRITICAL (b = ag_pending_is_cancelled (bad));
  g_assert_false (b);
  EXPECT_CRITICAL (u = ag_pending_get_state (bad));
  g_assert_cmpuint (u, ==, AG_PENDING_STATE_RUNNING);
  EXPECT_CRITICAL (p = ag_pending_dup_cancel_message (bad));
  g_assert_null (p);
  EXPECT_CRITICAL (ag_pending_set_canceller (bad, count_canceller, &called,
                                             ag_test_count));
  EXPECT_CRITICAL (ag_pending_add_done_callback (bad, ag_test_count_done_cb,
                                                 &called, ag_test_count));
  EXPECT_CRITICAL (u = ag_pending_remove_done_callback (bad,
                                                        ag_test_count_done_cb,
                                                        &called));
  g_assert_cmpuint (u, ==, 0);

  EXPECT_CRITICAL (b = ag_pending_wait_sync (bad, 0, &error));
  g_assert_false (b);
  EXPECT_CRITICAL (b = ag_pending_wait_sync (bad, -1, &error));
  g_assert_false (b);
  g_assert_no_error (error);
  EXPECT_CRITICAL (ag_pending_wait_async (bad, -1, FALSE, NULL,
                                          never_called_cb, NULL));
  EXPECT_CRITICAL (p = ag_pending_get_cancellable (bad));
  g_assert_null (p);

  EXPECT_CRITICAL (ag_pending_set_metadata (bad, "k", &value));
  EXPECT_CRITICAL (p = (gpointer) ag_pending_get_metadata (bad, "k"));
  g_assert_null (p);
  {
    g_auto(GValue) out = G_VALUE_INIT;

    EXPECT_CRITICAL (b = ag_pending_dup_metadata (bad, "k", &out));
    g_assert_false (b);
    g_assert_false (G_IS_VALUE (&out));
  }
  EXPECT_CRITICAL (p = ag_pending_dup_metadata_keys (bad));
  g_assert_null (p);
  EXPECT_CRITICAL (p = ag_pending_to_string (bad));
  g_assert_null (p);

  /* None of the callbacks ran: nothing was registered */
  g_assert_cmpint (called, ==, 0);
  g_assert_cmpint (destroyed, ==, 0);

  g_object_unref (object);
}

/* wait_finish() with a bad self or a result that is not its own. */
static void
check_pending_wait_finish (void)
{
  GMainContext *context = ag_test_push_context ();
  g_autoptr(AgPending) pending = ag_pending_new ();
  g_autoptr(AgPending) other = ag_pending_new ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GTask) foreign = NULL;
  GError *error = NULL;
  gboolean b;

  ag_pending_set_int (pending, 1);
  ag_pending_wait_async (pending, -1, FALSE, NULL, ag_test_store_result_cb,
                         &result);
  ag_test_iterate_until_result (context, &result);

  EXPECT_CRITICAL (b = ag_pending_wait_finish (NULL, result, &error));
  g_assert_false (b);
  EXPECT_CRITICAL (b = ag_pending_wait_finish ((AgPending *) cancellable,
                                               result, &error));
  g_assert_false (b);
  EXPECT_CRITICAL (b = ag_pending_wait_finish (pending, NULL, &error));
  g_assert_false (b);
  /* The result of another pending's wait */
  EXPECT_CRITICAL (b = ag_pending_wait_finish (other, result, &error));
  g_assert_false (b);
  /* A task of this pending, but not of wait_async() */
  foreign = g_task_new (pending, NULL, NULL, NULL);
  g_task_return_boolean (foreign, TRUE);
  EXPECT_CRITICAL (b = ag_pending_wait_finish (pending,
                                               G_ASYNC_RESULT (foreign),
                                               &error));
  g_assert_false (b);
  g_assert_no_error (error);

  /* With an error already set */
  error = g_error_new_literal (AG_ERROR, AG_ERROR_FAILED, "set before");
  EXPECT_CRITICAL (b = ag_pending_wait_finish (pending, result, &error));
  g_assert_false (b);
  g_assert_error (error, AG_ERROR, AG_ERROR_FAILED);
  g_clear_error (&error);

  /* The real result still works */
  g_assert_true (ag_pending_wait_finish (pending, result, &error));
  g_assert_no_error (error);

  ag_test_pop_context (context);
}

static void
test_pending (void)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(AgPendingManager) manager = ag_pending_manager_new ();
  GParamSpec *not_an_object = make_not_an_object ();
  g_autoptr(AgPending) pending = ag_pending_new ();
  g_auto(GValue) value = G_VALUE_INIT;
  g_auto(GValue) unset = G_VALUE_INIT;
  GError *error = NULL;
  gint called = 0;
  gboolean b;
  gpointer p;

  /* NULL, another GObject class, another class of the library, and a type
   * instance that is no GObject at all */
  check_pending_bad_self (NULL);
  check_pending_bad_self (cancellable);
  check_pending_bad_self (manager);
  check_pending_bad_self (not_an_object);
  g_assert_false (g_cancellable_is_cancelled (cancellable));

  /* Bad arguments to a good pending */
  EXPECT_CRITICAL (b = ag_pending_set_error (pending, NULL));
  g_assert_false (b);
  EXPECT_CRITICAL (b = ag_pending_take_error (pending, NULL));
  g_assert_false (b);
  EXPECT_CRITICAL (b = ag_pending_set_object (pending, not_an_object));
  g_assert_false (b);
  EXPECT_CRITICAL (ag_pending_set_canceller (pending, NULL, &called,
                                             ag_test_count));
  EXPECT_CRITICAL (ag_pending_add_done_callback (pending, NULL, &called,
                                                 ag_test_count));
  EXPECT_CRITICAL (ag_pending_remove_done_callback (pending, NULL, &called));
  EXPECT_CRITICAL (ag_pending_wait_async (pending, -1, FALSE,
                                          (GCancellable *) manager,
                                          never_called_cb, NULL));

  g_value_init (&value, G_TYPE_INT);
  EXPECT_CRITICAL (ag_pending_set_metadata (pending, NULL, &value));
  EXPECT_CRITICAL (ag_pending_set_metadata (pending, "k", &unset));
  EXPECT_CRITICAL (p = (gpointer) ag_pending_get_metadata (pending, NULL));
  g_assert_null (p);
  EXPECT_CRITICAL (b = ag_pending_dup_metadata (pending, NULL, &unset));
  g_assert_false (b);
  EXPECT_CRITICAL (b = ag_pending_dup_metadata (pending, "k", NULL));
  g_assert_false (b);
  /* an initialized value to receive the copy */
  ag_pending_set_metadata (pending, "k", &value);
  EXPECT_CRITICAL (b = ag_pending_dup_metadata (pending, "k", &value));
  g_assert_false (b);
  ag_pending_set_metadata (pending, "k", NULL);
  g_assert_null (ag_pending_get_metadata (pending, "k"));
  g_assert_null (ag_pending_get_metadata (pending, "never set"));

  /* Out parameters that are already set */
  EXPECT_CRITICAL (b = ag_pending_get_value (pending, &value, NULL));
  g_assert_false (b);
  error = g_error_new_literal (AG_ERROR, AG_ERROR_FAILED, "set before");
  EXPECT_CRITICAL (ag_pending_get_value (pending, NULL, &error));
  EXPECT_CRITICAL (ag_pending_get_int (pending, &error));
  EXPECT_CRITICAL (ag_pending_get_boolean (pending, &error));
  EXPECT_CRITICAL (ag_pending_get_double (pending, &error));
  EXPECT_CRITICAL (p = ag_pending_get_string (pending, &error));
  g_assert_null (p);
  EXPECT_CRITICAL (p = ag_pending_get_object (pending, &error));
  g_assert_null (p);
  EXPECT_CRITICAL (p = ag_pending_get_pointer (pending, &error));
  g_assert_null (p);
  EXPECT_CRITICAL (b = ag_pending_wait_sync (pending, 0, &error));
  g_assert_false (b);
  g_assert_error (error, AG_ERROR, AG_ERROR_FAILED);
  g_assert_cmpstr (error->message, ==, "set before");
  g_clear_error (&error);

  /* NaN is no timeout */
  EXPECT_CRITICAL (b = ag_pending_wait_sync (pending, NAN, &error));
  g_assert_false (b);
  g_assert_no_error (error);
  EXPECT_CRITICAL (ag_pending_wait_async (pending, NAN, FALSE, NULL,
                                          never_called_cb, NULL));

  /* Reading the outcome before it is set is a runtime error */
  g_assert_cmpint (ag_pending_get_int (pending, &error), ==, 0);
  g_assert_error (error, AG_ERROR, AG_ERROR_INVALID_STATE);
  g_clear_error (&error);
  g_assert_null (ag_pending_dup_error (pending));

  /* Flags out of range: GObject refuses the property value */
  g_test_expect_message ("GLib-GObject", G_LOG_LEVEL_WARNING,
                         "*invalid or out of range*flags*");
  {
    g_autoptr(AgPending) odd = ag_pending_new_full (0x80, "odd flags");

    g_test_assert_expected_messages ();
    g_assert_cmpuint (ag_pending_get_flags (odd) & 0x80, ==, 0);
    g_assert_cmpstr (ag_pending_get_name (odd), ==, "odd flags");
  }

  /* A NULL name and NULL messages are fine */
  {
    g_autoptr(AgPending) anonymous = ag_pending_new_full (0, NULL);

    g_assert_null (ag_pending_get_name (anonymous));
    g_assert_true (ag_pending_cancel (anonymous, NULL));
    g_assert_true (ag_pending_cancel (anonymous, ""));
    g_assert_null (ag_pending_dup_cancel_message (anonymous));
    g_assert_true (ag_pending_set_value (anonymous, NULL));
    ag_test_assert_pending_error (anonymous, G_IO_ERROR, G_IO_ERROR_CANCELLED, NULL);
  }

  /* An unset value is the empty outcome */
  {
    g_autoptr(AgPending) empty = ag_pending_new ();
    g_auto(GValue) out = G_VALUE_INIT;

    g_assert_true (ag_pending_set_value (empty, &unset));
    ag_test_assert_state (empty, AG_PENDING_STATE_SUCCEEDED);
    g_assert_true (ag_pending_get_value (empty, &out, &error));
    g_assert_no_error (error);
    g_assert_false (G_IS_VALUE (&out));
  }

  check_pending_wait_finish ();

  /* The good pending went through all that untouched */
  ag_test_assert_state (pending, AG_PENDING_STATE_RUNNING);
  g_assert_false (ag_pending_is_cancelled (pending));
  g_assert_cmpint (called, ==, 0);
  g_assert_true (ag_pending_set_int (pending, 5));
  g_assert_cmpint (ag_pending_get_int (pending, NULL), ==, 5);
  g_assert_cmpint (called, ==, 0);

  g_param_spec_unref (not_an_object);
}

/* }}} */

/* {{{ /BadInput/pending/type-mismatch */

/* Typed getters of @pending: those in @ok succeed, the others fail with
 * AG_ERROR_TYPE_MISMATCH and the documented zero value. */
enum
{
  GET_INT     = 1 << 0,
  GET_BOOLEAN = 1 << 1,
  GET_DOUBLE  = 1 << 2,
  GET_STRING  = 1 << 3,
  GET_OBJECT  = 1 << 4,
  GET_POINTER = 1 << 5,
};

static void
check_getters (AgPending *pending,
               guint      ok)
{
  g_autofree char *description = ag_pending_to_string (pending);
  g_auto(GValue) value = G_VALUE_INIT;
  GError *error = NULL;
  gint64 i;
  gboolean b;
  double d;
  char *s;
  gpointer p;

  g_test_message ("typed getters of %s", description);

  i = ag_pending_get_int (pending, &error);
  if (ok & GET_INT)
    g_assert_no_error (error);
  else
    {
      g_assert_error (error, AG_ERROR, AG_ERROR_TYPE_MISMATCH);
      g_assert_cmpint (i, ==, 0);
      g_clear_error (&error);
    }

  b = ag_pending_get_boolean (pending, &error);
  if (ok & GET_BOOLEAN)
    g_assert_no_error (error);
  else
    {
      g_assert_error (error, AG_ERROR, AG_ERROR_TYPE_MISMATCH);
      g_assert_false (b);
      g_clear_error (&error);
    }

  d = ag_pending_get_double (pending, &error);
  if (ok & GET_DOUBLE)
    g_assert_no_error (error);
  else
    {
      g_assert_error (error, AG_ERROR, AG_ERROR_TYPE_MISMATCH);
      g_assert_cmpfloat (d, ==, 0);
      g_clear_error (&error);
    }

  s = ag_pending_get_string (pending, &error);
  if (ok & GET_STRING)
    g_assert_no_error (error);
  else
    {
      g_assert_error (error, AG_ERROR, AG_ERROR_TYPE_MISMATCH);
      g_assert_null (s);
      g_clear_error (&error);
    }
  g_free (s);

  p = ag_pending_get_object (pending, &error);
  if (ok & GET_OBJECT)
    g_assert_no_error (error);
  else
    {
      g_assert_error (error, AG_ERROR, AG_ERROR_TYPE_MISMATCH);
      g_assert_null (p);
      g_clear_error (&error);
    }
  g_clear_object (&p);

  p = ag_pending_get_pointer (pending, &error);
  if (ok & GET_POINTER)
    g_assert_no_error (error);
  else
    {
      g_assert_error (error, AG_ERROR, AG_ERROR_TYPE_MISMATCH);
      g_assert_null (p);
      g_clear_error (&error);
    }

  /* get_value() takes any type */
  g_assert_true (ag_pending_get_value (pending, &value, &error));
  g_assert_no_error (error);

  /* A mismatch is no change of outcome */
  ag_test_assert_state (pending, AG_PENDING_STATE_SUCCEEDED);
}

static AgPending *
pending_with (GType type,
              ...)
{
  AgPending *pending = ag_pending_new ();
  g_auto(GValue) value = G_VALUE_INIT;
  g_autofree char *error_message = NULL;
  va_list args;

  g_value_init (&value, type);
  va_start (args, type);
  G_VALUE_COLLECT (&value, args, 0, &error_message);
  va_end (args);
  g_assert_null (error_message);

  g_assert_true (ag_pending_set_value (pending, &value));
  return pending;
}

static void
test_pending_type_mismatch (void)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GBytes) bytes = g_bytes_new_static ("abc", 3);
  g_autoptr(GVariant) variant = g_variant_ref_sink (g_variant_new_int32 (3));
  const char *strv[] = { "a", "b", NULL };
  AgPending *pending;

  pending = ag_pending_new ();
  g_assert_true (ag_pending_set_int (pending, 42));
  check_getters (pending, GET_INT | GET_DOUBLE);
  g_object_unref (pending);

  pending = pending_with (G_TYPE_UINT, 7u);
  check_getters (pending, GET_INT | GET_DOUBLE);
  g_object_unref (pending);

  pending = pending_with (G_TYPE_CHAR, 'x');
  check_getters (pending, GET_INT | GET_DOUBLE);
  g_object_unref (pending);

  pending = pending_with (AG_TYPE_PENDING_STATE, AG_PENDING_STATE_FAILED);
  check_getters (pending, GET_INT | GET_DOUBLE);
  g_object_unref (pending);

  pending = ag_pending_new ();
  g_assert_true (ag_pending_set_boolean (pending, TRUE));
  check_getters (pending, GET_BOOLEAN);
  g_object_unref (pending);

  pending = ag_pending_new ();
  g_assert_true (ag_pending_set_double (pending, 2.5));
  check_getters (pending, GET_DOUBLE);
  g_object_unref (pending);

  pending = pending_with (G_TYPE_FLOAT, 1.5);
  check_getters (pending, GET_DOUBLE);
  g_object_unref (pending);

  pending = ag_pending_new ();
  g_assert_true (ag_pending_set_string (pending, "42"));
  check_getters (pending, GET_STRING);
  g_object_unref (pending);

  /* An empty string outcome (NULL) is still a string */
  pending = ag_pending_new ();
  g_assert_true (ag_pending_set_string (pending, NULL));
  check_getters (pending, GET_STRING);
  g_object_unref (pending);

  pending = ag_pending_new ();
  g_assert_true (ag_pending_set_object (pending, cancellable));
  check_getters (pending, GET_OBJECT);
  g_object_unref (pending);

  pending = ag_pending_new ();
  g_assert_true (ag_pending_set_pointer (pending, &pending, NULL));
  check_getters (pending, GET_POINTER);
  g_object_unref (pending);

  /* Boxed types are none of the typed getters' */
  pending = pending_with (G_TYPE_BYTES, bytes);
  check_getters (pending, 0);
  g_object_unref (pending);

  pending = pending_with (G_TYPE_STRV, strv);
  check_getters (pending, 0);
  g_object_unref (pending);

  pending = pending_with (G_TYPE_VARIANT, variant);
  check_getters (pending, 0);
  g_object_unref (pending);

  /* An empty outcome: no number, no boolean; a NULL string, object or
   * pointer */
  pending = ag_pending_new ();
  g_assert_true (ag_pending_set_value (pending, NULL));
  check_getters (pending, GET_STRING | GET_OBJECT | GET_POINTER);
  g_assert_null (ag_pending_get_string (pending, NULL));
  g_assert_null (ag_pending_get_object (pending, NULL));
  g_assert_null (ag_pending_get_pointer (pending, NULL));
  g_object_unref (pending);

  /* A failed or cancelled pending gives its error, not a mismatch */
  pending = ag_pending_new ();
  ag_pending_take_error (pending, g_error_new_literal (AG_ERROR,
                                                       AG_ERROR_FAILED,
                                                       "native"));
  {
    GError *error = NULL;

    g_assert_cmpint (ag_pending_get_int (pending, &error), ==, 0);
    g_assert_error (error, AG_ERROR, AG_ERROR_FAILED);
    g_clear_error (&error);
    g_assert_null (ag_pending_get_string (pending, &error));
    g_assert_error (error, AG_ERROR, AG_ERROR_FAILED);
    g_clear_error (&error);
  }
  g_object_unref (pending);

  pending = ag_pending_new ();
  ag_pending_cancel (pending, "stop");
  {
    GError *error = NULL;

    g_assert_false (ag_pending_get_boolean (pending, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    g_clear_error (&error);
  }
  ag_pending_set_int (pending, 1);
  g_object_unref (pending);
}

/* }}} */

/* {{{ /BadInput/pending/done */

typedef struct
{
  gint called;
  gint destroyed;
} Counts;

static void
counts_canceller (AgPending  *pending,
                  const char *message,
                  gpointer    data)
{
  g_atomic_int_inc (&((Counts *) data)->called);
}

static void
counts_done_cb (AgPending *pending,
                gpointer   data)
{
  g_atomic_int_inc (&((Counts *) data)->called);
}

static void
counts_destroy (gpointer data)
{
  g_atomic_int_inc (&((Counts *) data)->destroyed);
}

/* Everything that would change the outcome of a done @pending returns
 * FALSE and changes nothing; @state and the outcome stay. */
static void
check_done (AgPending      *pending,
            AgPendingState  state)
{
  g_autofree char *before = ag_pending_to_string (pending);
  g_autofree char *after = NULL;
  g_autofree char *message_before = ag_pending_dup_cancel_message (pending);
  g_autofree char *message_after = NULL;
  g_autoptr(GError) error_before = ag_pending_dup_error (pending);
  g_autoptr(GError) error_after = NULL;
  GObject *object = g_object_new (G_TYPE_OBJECT, NULL);
  g_auto(GValue) value = G_VALUE_INIT;
  GWeakRef weak;
  Counts counts = { 0, };
  gint pointer_freed = 0;

  g_assert_true (ag_pending_is_done (pending));
  ag_test_assert_state (pending, state);

  g_value_init (&value, G_TYPE_STRING);
  g_value_set_static_string (&value, "late");

  g_assert_false (ag_pending_set_value (pending, &value));
  g_assert_false (ag_pending_set_value (pending, NULL));
  g_assert_false (ag_pending_set_error (pending,
                                        &(GError) { AG_ERROR, AG_ERROR_FAILED,
                                                    (char *) "late" }));
  /* consumed even when refused (valgrind checks) */
  g_assert_false (ag_pending_take_error (pending,
                                         g_error_new_literal (AG_ERROR,
                                                              AG_ERROR_FAILED,
                                                              "late")));
  g_assert_false (ag_pending_take_error (pending,
                                         new_error (G_IO_ERROR,
                                                    G_IO_ERROR_CANCELLED,
                                                    "late")));
  g_assert_false (ag_pending_set_int (pending, 2));
  g_assert_false (ag_pending_set_boolean (pending, FALSE));
  g_assert_false (ag_pending_set_double (pending, 2.0));
  g_assert_false (ag_pending_set_string (pending, "late"));

  /* The refused object is not kept */
  g_weak_ref_init (&weak, object);
  g_assert_false (ag_pending_set_object (pending, object));
  g_object_unref (object);
  g_assert_null (g_weak_ref_get (&weak));
  g_weak_ref_clear (&weak);

  /* The refused pointer is freed at once */
  g_assert_false (ag_pending_set_pointer (pending, &pointer_freed,
                                          ag_test_count));
  g_assert_cmpint (pointer_freed, ==, 1);

  /* Cancelling a done pending changes nothing */
  g_assert_false (ag_pending_cancel (pending, "too late"));
  g_assert_false (ag_pending_cancel (pending, NULL));
  g_cancellable_cancel (ag_pending_get_cancellable (pending));
  g_assert_cmpint (ag_pending_is_cancelled (pending), ==,
                   state == AG_PENDING_STATE_CANCELLED);

  /* A canceller for a done pending is never called, and released once */
  ag_pending_set_canceller (pending, counts_canceller, &counts,
                            counts_destroy);
  g_assert_cmpint (counts.called, ==, 0);
  g_assert_cmpint (counts.destroyed, ==, 1);
  g_assert_false (ag_pending_cancel (pending, "still too late"));
  g_assert_cmpint (counts.called, ==, 0);

  /* A done callback runs at once, then its destroy; nothing to remove */
  ag_pending_add_done_callback (pending, counts_done_cb, &counts,
                                counts_destroy);
  g_assert_cmpint (counts.called, ==, 1);
  g_assert_cmpint (counts.destroyed, ==, 2);
  g_assert_cmpuint (ag_pending_remove_done_callback (pending, counts_done_cb,
                                                     &counts), ==, 0);
  g_assert_cmpint (counts.destroyed, ==, 2);

  /* Waiting for it does not wait, whatever the timeout */
  {
    g_autoptr(GError) e0 = NULL;
    g_autoptr(GError) e1 = NULL;
    gboolean ok0 = ag_pending_wait_sync (pending, 0, &e0);
    gboolean ok1 = ag_pending_wait_sync (pending, -1, &e1);

    g_assert_cmpint (ok0, ==, state == AG_PENDING_STATE_SUCCEEDED);
    g_assert_cmpint (ok1, ==, ok0);
    g_assert_false (g_error_matches (e0, G_IO_ERROR, G_IO_ERROR_TIMED_OUT));
  }

  /* Nothing changed */
  ag_test_assert_state (pending, state);
  after = ag_pending_to_string (pending);
  g_assert_cmpstr (after, ==, before);
  message_after = ag_pending_dup_cancel_message (pending);
  g_assert_cmpstr (message_after, ==, message_before);
  error_after = ag_pending_dup_error (pending);
  if (error_before == NULL)
    g_assert_null (error_after);
  else
    {
      g_assert_error (error_after, error_before->domain, error_before->code);
      g_assert_cmpstr (error_after->message, ==, error_before->message);
    }
}

static void
test_pending_done (void)
{
  AgPending *pending;
  gint pointer_freed = 0;

  pending = ag_pending_new ();
  g_assert_true (ag_pending_set_int (pending, 1));
  check_done (pending, AG_PENDING_STATE_SUCCEEDED);
  g_assert_cmpint (ag_pending_get_int (pending, NULL), ==, 1);
  g_object_unref (pending);

  /* The first pointer stays, freed once with the pending */
  pending = ag_pending_new ();
  g_assert_true (ag_pending_set_pointer (pending, &pointer_freed,
                                         ag_test_count));
  check_done (pending, AG_PENDING_STATE_SUCCEEDED);
  g_assert_true (ag_pending_get_pointer (pending, NULL) == &pointer_freed);
  g_assert_cmpint (pointer_freed, ==, 0);
  g_object_unref (pending);
  g_assert_cmpint (pointer_freed, ==, 1);

  pending = ag_pending_new ();
  g_assert_true (ag_pending_set_value (pending, NULL));
  check_done (pending, AG_PENDING_STATE_SUCCEEDED);
  g_object_unref (pending);

  pending = ag_pending_new ();
  g_assert_true (ag_pending_take_error (pending,
                                        g_error_new_literal (AG_ERROR,
                                                             AG_ERROR_FAILED,
                                                             "first")));
  check_done (pending, AG_PENDING_STATE_FAILED);
  ag_test_assert_pending_error (pending, AG_ERROR, AG_ERROR_FAILED, "first");
  g_object_unref (pending);

  pending = ag_pending_new ();
  g_assert_true (ag_pending_cancel (pending, "first"));
  g_assert_true (ag_pending_set_int (pending, 1));
  check_done (pending, AG_PENDING_STATE_CANCELLED);
  ag_test_assert_pending_error (pending, G_IO_ERROR, G_IO_ERROR_CANCELLED, "first");
  g_object_unref (pending);

  /* Completed with GIO's cancellation error */
  pending = ag_pending_new ();
  g_assert_true (ag_pending_take_error (pending,
                                        new_error (G_IO_ERROR,
                                                   G_IO_ERROR_CANCELLED,
                                                   "gio")));
  check_done (pending, AG_PENDING_STATE_CANCELLED);
  g_object_unref (pending);
}

/* }}} */

/* {{{ /BadInput/pending/timeouts */

static void
check_wait_async_no_limit (GMainContext *context,
                           double        timeout)
{
  Later later;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;

  later_init (&later);
  ag_pending_wait_async (later.pending, timeout, FALSE, NULL,
                         ag_test_store_result_cb, &result);
  ag_test_iterate_until_result (context, &result);
  g_assert_true (ag_pending_wait_finish (later.pending, result, &error));
  g_assert_no_error (error);
  g_assert_cmpint (ag_pending_get_int (later.pending, NULL), ==, 7);
  later_clear (&later);
}

static void
test_pending_timeouts (void)
{
  static const double no_limits[] = { -1, -1e-9, -INFINITY, -1e300, INFINITY,
                                      1e300 };
  GMainContext *context = ag_test_push_context ();
  g_autoptr(AgPending) never = ag_pending_new ();
  GError *error = NULL;

  /* NaN: a critical, no wait, no callback, no change */
  EXPECT_CRITICAL (g_assert_false (ag_pending_wait_sync (never, NAN, &error)));
  g_assert_no_error (error);
  EXPECT_CRITICAL (ag_pending_wait_async (never, NAN, FALSE, NULL,
                                          never_called_cb, NULL));
  EXPECT_CRITICAL (ag_pending_wait_async (never, -NAN, TRUE, NULL,
                                          never_called_cb, NULL));
  ag_test_drain (context);
  ag_test_assert_state (never, AG_PENDING_STATE_RUNNING);

  /* 0 does not wait */
  g_assert_false (ag_pending_wait_sync (never, 0, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error (&error);

  /* Negative (and infinite) timeouts wait without limit: for a pending
   * that another thread completes later */
  for (guint i = 0; i < G_N_ELEMENTS (no_limits); i++)
    {
      Later later;

      g_test_message ("wait_sync (%g)", no_limits[i]);
      later_init (&later);
      g_assert_true (ag_pending_wait_sync (later.pending, no_limits[i],
                                           &error));
      g_assert_no_error (error);
      g_assert_cmpint (ag_pending_get_int (later.pending, NULL), ==, 7);
      later_clear (&later);
    }

  for (guint i = 0; i < G_N_ELEMENTS (no_limits); i++)
    {
      g_test_message ("wait_async (%g)", no_limits[i]);
      check_wait_async_no_limit (context, no_limits[i]);
    }

  /* A wait that timed out (0) leaves the pending running when protected,
   * and cancels it otherwise */
  {
    g_autoptr(AgPending) pending = ag_pending_new ();
    g_autoptr(GAsyncResult) result = NULL;

    ag_pending_wait_async (pending, 0, TRUE, NULL, ag_test_store_result_cb,
                           &result);
    ag_test_iterate_until_result (context, &result);
    g_assert_false (ag_pending_wait_finish (pending, result, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
    g_clear_error (&error);
    ag_test_assert_state (pending, AG_PENDING_STATE_RUNNING);
    g_clear_object (&result);

    ag_pending_wait_async (pending, 0, FALSE, NULL, ag_test_store_result_cb,
                           &result);
    ag_test_iterate_until_result (context, &result);
    g_assert_false (ag_pending_wait_finish (pending, result, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
    g_clear_error (&error);
    ag_test_assert_state (pending, AG_PENDING_STATE_CANCELLING);
    ag_pending_set_value (pending, NULL);
  }

  ag_pending_set_value (never, NULL);
  ag_test_pop_context (context);
}

/* }}} */

/* {{{ /BadInput/caller */

static void
check_caller_bad_self (gpointer self,
                       AgPending *good_pending)
{
  AgCaller *bad = self;
  AgPending *items[1] = { good_pending };
  GError *error = NULL;
  gint ran = 0;
  gboolean b;
  gpointer p;
  guint u;
  double d;

  EXPECT_CRITICAL (u = ag_caller_get_id (bad));
  g_assert_cmpuint (u, ==, 0);
  EXPECT_CRITICAL (p = (gpointer) ag_caller_get_name (bad));
  g_assert_null (p);
  EXPECT_CRITICAL (u = ag_caller_get_state (bad));
  g_assert_cmpuint (u, ==, AG_CALLER_STATE_STOPPED);
  EXPECT_CRITICAL (b = ag_caller_is_running (bad));
  g_assert_false (b);
  EXPECT_CRITICAL (p = ag_caller_get_context (bad));
  g_assert_null (p);
  EXPECT_CRITICAL (p = ag_caller_get_stopped (bad));
  g_assert_null (p);
  EXPECT_CRITICAL (p = ag_caller_dup_parent (bad));
  g_assert_null (p);
  EXPECT_CRITICAL (p = ag_caller_dup_children (bad));
  g_assert_null (p);
  EXPECT_CRITICAL (b = ag_caller_get_protected (bad));
  g_assert_false (b);
  EXPECT_CRITICAL (ag_caller_set_protected (bad, TRUE));
  EXPECT_CRITICAL (u = ag_caller_get_max_idle_workers (bad));
  g_assert_cmpuint (u, ==, 0);
  EXPECT_CRITICAL (ag_caller_set_max_idle_workers (bad, 3));
  EXPECT_CRITICAL (u = ag_caller_get_max_workers (bad));
  g_assert_cmpuint (u, ==, 0);
  EXPECT_CRITICAL (ag_caller_set_max_workers (bad, 3));
  EXPECT_CRITICAL (d = ag_caller_get_idle_worker_timeout (bad));
  g_assert_cmpfloat (d, ==, 0);
  EXPECT_CRITICAL (ag_caller_set_idle_worker_timeout (bad, 1));
  EXPECT_CRITICAL (u = ag_caller_get_max_batch_size (bad));
  g_assert_cmpuint (u, ==, 0);
  EXPECT_CRITICAL (ag_caller_set_max_batch_size (bad, 3));
  EXPECT_CRITICAL (d = ag_caller_get_max_batch_time (bad));
  g_assert_cmpfloat (d, ==, 0);
  EXPECT_CRITICAL (ag_caller_set_max_batch_time (bad, 1));

  EXPECT_CRITICAL (p = ag_caller_call_soon (bad, ag_test_count_job, &ran,
                                            ag_test_count));
  g_assert_null (p);
  EXPECT_CRITICAL (p = ag_caller_call_later (bad, 0.01, ag_test_count_job, &ran,
                                             ag_test_count));
  g_assert_null (p);
  EXPECT_CRITICAL (ag_caller_call_direct (bad, ag_test_count, &ran,
                                          ag_test_count));
  EXPECT_CRITICAL (p = ag_caller_to_thread (bad, ag_test_count_job, &ran,
                                            ag_test_count));
  g_assert_null (p);
  EXPECT_CRITICAL (p = ag_caller_get_child (bad, "kid"));
  g_assert_null (p);
  EXPECT_CRITICAL (p = ag_caller_queue_call (bad, "k", ag_test_count_job, &ran,
                                             ag_test_count));
  g_assert_null (p);
  EXPECT_CRITICAL (p = ag_caller_queue_get (bad, "k"));
  g_assert_null (p);
  EXPECT_CRITICAL (ag_caller_queue_close (bad, "k"));
  EXPECT_CRITICAL (ag_caller_stop (bad, TRUE));
  EXPECT_CRITICAL (ag_caller_stop (bad, FALSE));

  EXPECT_CRITICAL (ag_caller_wait_async (bad, items, 1, -1,
                                         AG_RETURN_WHEN_ALL_COMPLETED, NULL,
                                         never_called_cb, NULL));
  EXPECT_CRITICAL (p = ag_caller_as_completed (bad, items, 1, FALSE));
  g_assert_null (p);
  EXPECT_CRITICAL (p = ag_caller_as_completed_full (bad, null_producer, &ran,
                                                    ag_test_count, 1,
                                                    FALSE));
  g_assert_null (p);
  EXPECT_CRITICAL (p = ag_caller_create_pending_group (bad, FALSE,
                                                       MODE_IGNORE));
  g_assert_null (p);
  EXPECT_CRITICAL (ag_pending_add_done_callback_on (good_pending, bad,
                                                    ag_test_count_done_cb, &ran,
                                                    ag_test_count));

  {
    g_autoptr(GTask) task = g_task_new (NULL, NULL, NULL, NULL);
    GPtrArray *done = NULL;
    GPtrArray *not_done = NULL;

    g_task_return_boolean (task, TRUE);
    EXPECT_CRITICAL (b = ag_caller_wait_finish (bad, G_ASYNC_RESULT (task),
                                                &done, &not_done, &error));
    g_assert_false (b);
    g_assert_null (done);
    g_assert_null (not_done);
    g_assert_no_error (error);
  }

  /* Nothing ran, nothing was kept */
  g_assert_cmpint (ran, ==, 0);
}

static gpointer
get_main_thread_func (gpointer data)
{
  return ag_caller_get_main ();
}

static void
test_caller (void)
{
  GMainContext *context = ag_test_push_context ();
  g_autoptr(AgCaller) caller = ag_caller_new_guest (context, "bad-input");
  g_autoptr(AgCaller) other = ag_caller_new_guest (context, "other");
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(AgPending) pending = ag_pending_new ();
  g_autoptr(AgPending) done = ag_pending_new ();
  GParamSpec *not_an_object = make_not_an_object ();
  AgPending *with_null[2] = { pending, NULL };
  AgPending *with_cancellable[2] = { pending, (AgPending *) cancellable };
  GError *error = NULL;
  gint ran = 0;
  gpointer p;

  ag_pending_set_int (done, 1);

  check_caller_bad_self (NULL, pending);
  check_caller_bad_self (cancellable, pending);
  check_caller_bad_self (pending, pending);
  check_caller_bad_self (not_an_object, pending);

  /* Bad arguments to a good caller */
  EXPECT_CRITICAL (p = ag_caller_new_guest (NULL, "no context"));
  g_assert_null (p);
  EXPECT_CRITICAL (p = ag_caller_call_soon (caller, NULL, &ran, NULL));
  g_assert_null (p);
  EXPECT_CRITICAL (p = ag_caller_call_later (caller, 1, NULL, &ran, NULL));
  g_assert_null (p);
  EXPECT_CRITICAL (ag_caller_call_direct (caller, NULL, &ran, NULL));
  EXPECT_CRITICAL (p = ag_caller_to_thread (caller, NULL, &ran, NULL));
  g_assert_null (p);
  EXPECT_CRITICAL (p = ag_caller_get_child (caller, NULL));
  g_assert_null (p);
  EXPECT_CRITICAL (p = ag_caller_queue_call (caller, NULL, ag_test_count_job,
                                             &ran, NULL));
  g_assert_null (p);
  EXPECT_CRITICAL (p = ag_caller_queue_call (caller, "k", NULL, &ran, NULL));
  g_assert_null (p);
  EXPECT_CRITICAL (p = ag_caller_queue_get (caller, NULL));
  g_assert_null (p);
  EXPECT_CRITICAL (ag_caller_queue_close (caller, NULL));

  /* add_done_callback_on */
  EXPECT_CRITICAL (ag_pending_add_done_callback_on (NULL, caller,
                                                    ag_test_count_done_cb, &ran,
                                                    NULL));
  EXPECT_CRITICAL (ag_pending_add_done_callback_on ((AgPending *) cancellable,
                                                    caller,
                                                    ag_test_count_done_cb,
                                                    &ran, NULL));
  EXPECT_CRITICAL (ag_pending_add_done_callback_on (done, NULL,
                                                    ag_test_count_done_cb, &ran,
                                                    NULL));
  EXPECT_CRITICAL (ag_pending_add_done_callback_on (done, caller, NULL, &ran,
                                                    NULL));

  /* Item lists with holes or strangers */
  EXPECT_CRITICAL (p = ag_caller_as_completed (caller, NULL, 1, FALSE));
  g_assert_null (p);
  EXPECT_CRITICAL (p = ag_caller_as_completed (caller, with_null, 2, FALSE));
  g_assert_null (p);
  EXPECT_CRITICAL (p = ag_caller_as_completed (caller, with_cancellable, 2,
                                               FALSE));
  g_assert_null (p);
  EXPECT_CRITICAL (p = ag_caller_as_completed_full (caller, NULL, &ran, NULL,
                                                    1, FALSE));
  g_assert_null (p);
  EXPECT_CRITICAL (ag_caller_wait_async (caller, NULL, 1, -1,
                                         AG_RETURN_WHEN_ALL_COMPLETED, NULL,
                                         never_called_cb, NULL));
  EXPECT_CRITICAL (ag_caller_wait_async (caller, with_null, 2, -1,
                                         AG_RETURN_WHEN_ALL_COMPLETED, NULL,
                                         never_called_cb, NULL));
  EXPECT_CRITICAL (ag_caller_wait_async (caller, with_cancellable, 2, -1,
                                         AG_RETURN_WHEN_ALL_COMPLETED, NULL,
                                         never_called_cb, NULL));
  EXPECT_CRITICAL (ag_caller_wait_async (caller, with_null, 1, -1,
                                         AG_RETURN_WHEN_ALL_COMPLETED,
                                         (GCancellable *) pending,
                                         never_called_cb, NULL));

  /* wait_finish with a result that is not this caller's */
  {
    g_autoptr(GTask) task = g_task_new (other, NULL, NULL, NULL);
    GPtrArray *done_items = NULL;
    gboolean b;

    g_task_return_boolean (task, TRUE);
    EXPECT_CRITICAL (b = ag_caller_wait_finish (caller, G_ASYNC_RESULT (task),
                                                &done_items, NULL, &error));
    g_assert_false (b);
    EXPECT_CRITICAL (b = ag_caller_wait_finish (caller, NULL, &done_items,
                                                NULL, &error));
    g_assert_false (b);
    g_assert_null (done_items);
    g_assert_no_error (error);
  }

  /* Any non-zero gboolean is TRUE */
  {
    g_autoptr(GPtrArray) odd = ag_caller_list_all (42);
    g_autoptr(GPtrArray) running = ag_caller_list_all (TRUE);

    g_assert_cmpuint (odd->len, ==, running->len);
    g_assert_true (g_ptr_array_find (odd, caller, NULL));
  }

  /* The main caller from any thread is the same one */
  {
    GThread *thread = g_thread_new ("main-elsewhere", get_main_thread_func,
                                    NULL);
    AgCaller *elsewhere = g_thread_join (thread);

    g_assert_true (elsewhere == ag_caller_get_main ());
    g_assert_true (AG_IS_CALLER (elsewhere));
  }

  /* Lookups of what does not exist are no errors */
  g_assert_null (ag_caller_lookup (0));
  g_assert_null (ag_caller_lookup (G_MAXUINT));
  g_assert_null (ag_caller_get_current_pending ());

  /* None of it queued anything */
  ag_test_drain (context);
  g_assert_cmpint (ran, ==, 0);
  g_assert_true (ag_caller_is_running (caller));
  g_assert_cmpuint (ag_caller_get_max_dispatched (caller), ==, 0);

  stop_and_wait (other);
  stop_and_wait (caller);
  g_clear_object (&other);
  g_clear_object (&caller);
  ag_test_pop_context (context);
  g_param_spec_unref (not_an_object);
}

/* }}} */

/* {{{ /BadInput/caller/settings */

static void
test_caller_settings (void)
{
  GMainContext *context = g_main_context_new ();
  g_autoptr(AgCaller) caller = ag_caller_new_guest (context, "settings");
  static const double bad_seconds[] = { NAN, -NAN, -1, -1e-9, -INFINITY,
                                        INFINITY };

  ag_caller_set_max_batch_time (caller, 0.25);
  ag_caller_set_idle_worker_timeout (caller, 30);
  ag_caller_set_max_batch_size (caller, 5);

  /* NaN, negative and infinite seconds make no sense for these: refused,
   * and the value stays */
  for (guint i = 0; i < G_N_ELEMENTS (bad_seconds); i++)
    {
      g_test_message ("seconds %g", bad_seconds[i]);
      EXPECT_CRITICAL (ag_caller_set_max_batch_time (caller, bad_seconds[i]));
      g_assert_cmpfloat (ag_caller_get_max_batch_time (caller), ==, 0.25);
      EXPECT_CRITICAL (ag_caller_set_idle_worker_timeout (caller,
                                                          bad_seconds[i]));
      g_assert_cmpfloat (ag_caller_get_idle_worker_timeout (caller), ==, 30);
    }

  /* A batch of no job, a pool of no worker */
  EXPECT_CRITICAL (ag_caller_set_max_batch_size (caller, 0));
  g_assert_cmpuint (ag_caller_get_max_batch_size (caller), ==, 5);
  ag_caller_set_max_workers (caller, 2);
  EXPECT_CRITICAL (ag_caller_set_max_workers (caller, 0));
  g_assert_cmpuint (ag_caller_get_max_workers (caller), ==, 2);

  /* Limits that are fine */
  ag_caller_set_max_idle_workers (caller, 0);
  g_assert_cmpuint (ag_caller_get_max_idle_workers (caller), ==, 0);
  ag_caller_set_max_idle_workers (caller, G_MAXUINT);
  g_assert_cmpuint (ag_caller_get_max_idle_workers (caller), ==, G_MAXUINT);
  ag_caller_set_idle_worker_timeout (caller, 0);
  g_assert_cmpfloat (ag_caller_get_idle_worker_timeout (caller), ==, 0);
  ag_caller_set_max_batch_time (caller, 0);
  g_assert_cmpfloat (ag_caller_get_max_batch_time (caller), ==, 0);
  ag_caller_set_max_batch_size (caller, G_MAXUINT);
  g_assert_cmpuint (ag_caller_get_max_batch_size (caller), ==, G_MAXUINT);
  ag_caller_set_max_workers (caller, G_MAXUINT);
  g_assert_cmpuint (ag_caller_get_max_workers (caller), ==, G_MAXUINT);

  /* Through properties, GObject's own range checks answer */
  g_test_expect_message ("GLib-GObject", G_LOG_LEVEL_WARNING,
                         "*invalid or out of range*max-batch-size*");
  g_object_set (caller, "max-batch-size", 0u, NULL);
  g_test_assert_expected_messages ();
  g_assert_cmpuint (ag_caller_get_max_batch_size (caller), ==, G_MAXUINT);

  stop_and_wait (caller);
  g_clear_object (&caller);
  ag_test_drain (context);
  g_main_context_unref (context);
}

/* }}} */

/* {{{ /BadInput/caller/delays */

typedef struct
{
  GArray *order;  /* gint; the caller's thread only */
  gint    tag;
} Ordered;

static AgPending *
ordered_job (AgPending *pending,
             gpointer   data)
{
  Ordered *ordered = data;

  g_array_append_val (ordered->order, ordered->tag);
  return NULL;
}

static void
test_caller_delays (void)
{
  GMainContext *context = ag_test_push_context ();
  g_autoptr(AgCaller) caller = ag_caller_new_guest (context, "delays");
  g_autoptr(GArray) order = g_array_new (FALSE, FALSE, sizeof (gint));
  Ordered ordered[6];
  AgPending *pendings[6];
  gint ran = 0;
  gint destroyed = 0;
  gpointer p;

  for (guint i = 0; i < G_N_ELEMENTS (ordered); i++)
    {
      ordered[i].order = order;
      ordered[i].tag = (gint) i;
    }

  /* NaN: refused with a critical, never runs */
  EXPECT_CRITICAL (p = ag_caller_call_later (caller, NAN, ag_test_count_job,
                                             &ran, NULL));
  g_assert_null (p);
  EXPECT_CRITICAL (p = ag_caller_call_later (caller, -NAN, ag_test_count_job,
                                             &ran, NULL));
  g_assert_null (p);

  /* Negative delays: as soon as possible, that is in order with
   * call_soon() */
  pendings[0] = ag_caller_call_soon (caller, ordered_job, &ordered[0], NULL);
  pendings[1] = ag_caller_call_later (caller, -1, ordered_job, &ordered[1],
                                      NULL);
  pendings[2] = ag_caller_call_soon (caller, ordered_job, &ordered[2], NULL);
  pendings[3] = ag_caller_call_later (caller, -INFINITY, ordered_job,
                                      &ordered[3], NULL);
  pendings[4] = ag_caller_call_later (caller, -1e-12, ordered_job,
                                      &ordered[4], NULL);
  pendings[5] = ag_caller_call_later (caller, 0, ordered_job, &ordered[5],
                                      NULL);

  /* All due now: one look at the context runs them, with no wait */
  ag_test_drain (context);
  g_assert_cmpuint (order->len, ==, G_N_ELEMENTS (ordered));
  for (guint i = 0; i < order->len; i++)
    {
      g_assert_cmpint (g_array_index (order, gint, i), ==, (gint) i);
      ag_test_assert_state (pendings[i], AG_PENDING_STATE_SUCCEEDED);
      g_object_unref (pendings[i]);
    }

  /* Infinite and huge delays never come, and cancelling them drops them
   * at once, releasing their data */
  {
    g_autoptr(AgPending) forever = ag_caller_call_later (caller, INFINITY,
                                                         ag_test_count_job,
                                                         &destroyed,
                                                         ag_test_count);
    g_autoptr(AgPending) huge = ag_caller_call_later (caller, 1e300,
                                                      ag_test_count_job, &ran,
                                                      NULL);

    g_assert_nonnull (forever);
    g_assert_nonnull (huge);
    ag_test_drain (context);
    ag_test_assert_state (forever, AG_PENDING_STATE_RUNNING);
    ag_test_assert_state (huge, AG_PENDING_STATE_RUNNING);

    g_assert_true (ag_pending_cancel (forever, "never mind"));
    g_assert_true (ag_pending_cancel (huge, "never mind"));
    g_assert_cmpint (destroyed, ==, 1);
    ag_test_assert_state (forever, AG_PENDING_STATE_CANCELLED);
    ag_test_assert_state (huge, AG_PENDING_STATE_CANCELLED);
    ag_test_drain (context);
  }

  /* None of them ran */
  g_assert_cmpint (ran, ==, 0);
  g_assert_cmpint (destroyed, ==, 1);

  stop_and_wait (caller);
  g_clear_object (&caller);
  ag_test_pop_context (context);
}

/* }}} */

/* {{{ /BadInput/caller/wait */

static void
test_caller_wait (void)
{
  GMainContext *context = ag_test_push_context ();
  g_autoptr(AgCaller) caller = ag_caller_new_guest (context, "wait");
  g_autoptr(AgPending) never = ag_pending_new ();
  AgPending *items[1] = { never };
  static const double no_limits[] = { -1, -INFINITY, INFINITY };
  GError *error = NULL;

  /* Out-of-range return_when and NaN: criticals, no callback */
  EXPECT_CRITICAL (ag_caller_wait_async (caller, items, 1, -1, 99, NULL,
                                         never_called_cb, NULL));
  EXPECT_CRITICAL (ag_caller_wait_async (caller, items, 1, -1,
                                         (AgReturnWhen) -1, NULL,
                                         never_called_cb, NULL));
  EXPECT_CRITICAL (ag_caller_wait_async (caller, items, 1, NAN,
                                         AG_RETURN_WHEN_FIRST_COMPLETED, NULL,
                                         never_called_cb, NULL));
  ag_test_drain (context);

  /* A timeout is no failure and cancels nothing */
  {
    g_autoptr(GAsyncResult) result = NULL;
    g_autoptr(GPtrArray) done = NULL;
    g_autoptr(GPtrArray) not_done = NULL;

    ag_caller_wait_async (caller, items, 1, 0, AG_RETURN_WHEN_ALL_COMPLETED,
                          NULL, ag_test_store_result_cb, &result);
    ag_test_iterate_until_result (context, &result);
    g_assert_true (ag_caller_wait_finish (caller, result, &done, &not_done,
                                          &error));
    g_assert_no_error (error);
    g_assert_cmpuint (done->len, ==, 0);
    g_assert_cmpuint (not_done->len, ==, 1);
    ag_test_assert_state (never, AG_PENDING_STATE_RUNNING);
  }

  /* Negative and infinite timeouts wait without limit */
  for (guint i = 0; i < G_N_ELEMENTS (no_limits); i++)
    {
      Later later;
      AgPending *later_items[1];
      g_autoptr(GAsyncResult) result = NULL;
      g_autoptr(GPtrArray) done = NULL;
      g_autoptr(GPtrArray) not_done = NULL;

      g_test_message ("wait_async (%g)", no_limits[i]);
      later_init (&later);
      later_items[0] = later.pending;
      ag_caller_wait_async (caller, later_items, 1, no_limits[i],
                            AG_RETURN_WHEN_ALL_COMPLETED, NULL,
                            ag_test_store_result_cb, &result);
      ag_test_iterate_until_result (context, &result);
      g_assert_true (ag_caller_wait_finish (caller, result, &done, &not_done,
                                            &error));
      g_assert_no_error (error);
      g_assert_cmpuint (done->len, ==, 1);
      g_assert_cmpuint (not_done->len, ==, 0);
      later_clear (&later);
    }

  /* No items at all: done at once, in a later iteration */
  {
    g_autoptr(GAsyncResult) result = NULL;
    g_autoptr(GPtrArray) done = NULL;
    g_autoptr(GPtrArray) not_done = NULL;

    ag_caller_wait_async (caller, NULL, 0, -1, AG_RETURN_WHEN_FIRST_COMPLETED,
                          NULL, ag_test_store_result_cb, &result);
    g_assert_null (result);
    ag_test_iterate_until_result (context, &result);
    g_assert_true (ag_caller_wait_finish (caller, result, &done, &not_done,
                                          &error));
    g_assert_no_error (error);
    g_assert_cmpuint (done->len, ==, 0);
    g_assert_cmpuint (not_done->len, ==, 0);
  }

  ag_pending_set_value (never, NULL);
  stop_and_wait (caller);
  g_clear_object (&caller);
  ag_test_pop_context (context);
}

/* }}} */

/* {{{ /BadInput/caller/stopped */

typedef struct
{
  gint ran;        /* (atomic) */
  gint destroyed;  /* (atomic) */
} Probe;

static AgPending *
probe_job (AgPending *pending,
           gpointer   data)
{
  g_atomic_int_inc (&((Probe *) data)->ran);
  return NULL;
}

static void
probe_direct (gpointer data)
{
  g_atomic_int_inc (&((Probe *) data)->ran);
}

static void
probe_done_cb (AgPending *pending,
               gpointer   data)
{
  g_atomic_int_inc (&((Probe *) data)->ran);
}

static void
probe_destroy (gpointer data)
{
  g_atomic_int_inc (&((Probe *) data)->destroyed);
}

/* @pending (transfer full) is done, failed with AG_ERROR_CLOSED naming
 * @caller; its job never ran and its data was released once. */
static void
assert_closed (AgPending *pending,
               AgCaller  *caller,
               Probe     *probe)
{
  g_assert_nonnull (pending);
  g_assert_true (ag_pending_is_done (pending));
  ag_test_assert_state (pending, AG_PENDING_STATE_FAILED);
  ag_test_assert_pending_error (pending, AG_ERROR, AG_ERROR_CLOSED,
                        ag_caller_get_name (caller));
  g_assert_cmpint (g_atomic_int_get (&probe->ran), ==, 0);
  g_assert_cmpint (g_atomic_int_get (&probe->destroyed), ==, 1);
  g_object_unref (pending);

  g_atomic_int_set (&probe->destroyed, 0);
}

/* Every way to hand work to the stopped @caller. */
static void
check_stopped (AgCaller *caller)
{
  g_autoptr(AgPending) done = ag_pending_new ();
  Probe probe = { 0, };
  guint id = ag_caller_get_id (caller);

  g_assert_cmpint (ag_caller_get_state (caller), ==, AG_CALLER_STATE_STOPPED);
  g_assert_false (ag_caller_is_running (caller));

  assert_closed (ag_caller_call_soon (caller, probe_job, &probe,
                                      probe_destroy), caller, &probe);
  assert_closed (ag_caller_call_later (caller, 0.01, probe_job, &probe,
                                       probe_destroy), caller, &probe);
  assert_closed (ag_caller_call_later (caller, -1, probe_job, &probe,
                                       probe_destroy), caller, &probe);
  assert_closed (ag_caller_call_later (caller, INFINITY, probe_job, &probe,
                                       probe_destroy), caller, &probe);
  assert_closed (ag_caller_to_thread (caller, probe_job, &probe,
                                      probe_destroy), caller, &probe);
  assert_closed (ag_caller_queue_call (caller, "k", probe_job, &probe,
                                       probe_destroy), caller, &probe);
  g_assert_null (ag_caller_queue_get (caller, "k"));
  ag_caller_queue_close (caller, "k");

  /* A direct call is dropped; its data released once */
  ag_caller_call_direct (caller, probe_direct, &probe, probe_destroy);
  g_assert_cmpint (g_atomic_int_get (&probe.ran), ==, 0);
  g_assert_cmpint (g_atomic_int_get (&probe.destroyed), ==, 1);
  g_atomic_int_set (&probe.destroyed, 0);

  /* No new child */
  g_assert_null (ag_caller_get_child (caller, "late-child"));
  {
    g_autoptr(GPtrArray) children = ag_caller_dup_children (caller);

    g_assert_cmpuint (children->len, ==, 0);
  }

  /* A done callback through it never runs; its data is released once */
  ag_pending_add_done_callback_on (done, caller, probe_done_cb, &probe,
                                   probe_destroy);
  ag_pending_set_int (done, 1);
  g_assert_cmpint (g_atomic_int_get (&probe.ran), ==, 0);
  g_assert_cmpint (g_atomic_int_get (&probe.destroyed), ==, 1);
  g_atomic_int_set (&probe.destroyed, 0);
  ag_pending_add_done_callback_on (done, caller, probe_done_cb, &probe,
                                   probe_destroy);
  g_assert_cmpint (g_atomic_int_get (&probe.ran), ==, 0);
  g_assert_cmpint (g_atomic_int_get (&probe.destroyed), ==, 1);

  /* It is gone from the registry; stopping again is harmless */
  g_assert_null (ag_caller_lookup (id));
  {
    g_autoptr(GPtrArray) all = ag_caller_list_all (FALSE);

    g_assert_false (g_ptr_array_find (all, caller, NULL));
  }
  ag_caller_stop (caller, FALSE);
  ag_caller_stop (caller, TRUE);
  g_assert_cmpint (ag_caller_get_state (caller), ==, AG_CALLER_STATE_STOPPED);
  ag_test_assert_state (ag_caller_get_stopped (caller), AG_PENDING_STATE_SUCCEEDED);

  /* Its settings can still be read and written */
  ag_caller_set_protected (caller, TRUE);
  g_assert_true (ag_caller_get_protected (caller));
  ag_caller_set_max_batch_size (caller, 3);
  g_assert_cmpuint (ag_caller_get_max_batch_size (caller), ==, 3);
  g_assert_nonnull (ag_caller_get_name (caller));
  g_assert_nonnull (ag_caller_get_context (caller));
}

typedef struct
{
  Probe      probe;
  AgPending *late;     /* out, owned */
  gboolean   running;  /* out */
} SelfStop;

/* Stops its own caller, then hands it more work: refused at once, while
 * the caller is still stopping. */
static AgPending *
stop_then_submit_job (AgPending *pending,
                      gpointer   data)
{
  SelfStop *self_stop = data;
  AgCaller *self = ag_caller_get_current ();

  ag_caller_stop (self, TRUE);
  self_stop->running = ag_caller_is_running (self);
  self_stop->late = ag_caller_call_soon (self, probe_job, &self_stop->probe,
                                         probe_destroy);
  return NULL;
}

static void
test_caller_stopped (void)
{
  g_autoptr(AgCaller) thread_caller = ag_caller_new_thread ("stopped-thread");
  g_autoptr(AgCaller) parent = ag_caller_new_thread ("stopped-parent");
  g_autoptr(AgCaller) child = NULL;
  g_autoptr(AgCaller) self_stopped = ag_caller_new_thread ("self-stopped");
  g_autoptr(AgPending) pending = NULL;
  GMainContext *context = g_main_context_new ();
  g_autoptr(AgCaller) guest = ag_caller_new_guest (context, "stopped-guest");
  SelfStop self_stop = { { 0, }, NULL, TRUE };

  stop_and_wait (thread_caller);
  check_stopped (thread_caller);

  stop_and_wait (guest);
  check_stopped (guest);

  /* A child is stopped with its parent */
  child = g_object_ref (ag_caller_get_child (parent, "child"));
  stop_and_wait (parent);
  stop_and_wait (child);
  check_stopped (parent);
  check_stopped (child);

  /* Work handed to a caller that is stopping is refused too */
  pending = ag_caller_call_soon (self_stopped, stop_then_submit_job,
                                 &self_stop, NULL);
  ag_test_wait_done (pending);
  g_assert_false (self_stop.running);
  g_assert_nonnull (self_stop.late);
  assert_closed (g_steal_pointer (&self_stop.late), self_stopped,
                 &self_stop.probe);
  stop_and_wait (self_stopped);
  check_stopped (self_stopped);

  g_clear_object (&guest);
  ag_test_drain (context);
  g_main_context_unref (context);
}

/* }}} */

/* {{{ /BadInput/caller/would-deadlock */

typedef struct
{
  GError  *error;     /* out */
  gboolean returned;  /* out */
} SelfWait;

/* Waits, without limit, for its own pending: the one thread that could
 * complete it is this one. */
static AgPending *
self_wait_job (AgPending *pending,
               gpointer   data)
{
  SelfWait *self_wait = data;

  ag_pending_wait_sync (pending, -1, &self_wait->error);
  self_wait->returned = TRUE;
  return NULL;
}

static void
test_caller_would_deadlock (void)
{
  g_autoptr(AgCaller) caller = ag_caller_new_thread ("would-deadlock");
  GMainContext *context = ag_test_push_context ();
  g_autoptr(AgCaller) guest = ag_caller_new_guest (context, "guest-deadlock");
  SelfWait in_thread = { NULL, FALSE };
  SelfWait in_guest = { NULL, FALSE };
  g_autoptr(AgPending) pending = NULL;
  g_autoptr(AgPending) guest_pending = NULL;

  pending = ag_caller_call_soon (caller, self_wait_job, &in_thread, NULL);
  g_assert_true (ag_pending_wait_sync (pending, AG_TEST_TIMEOUT_S, NULL));
  g_assert_true (in_thread.returned);
  g_assert_error (in_thread.error, AG_ERROR, AG_ERROR_WOULD_DEADLOCK);
  g_clear_error (&in_thread.error);

  guest_pending = ag_caller_call_soon (guest, self_wait_job, &in_guest, NULL);
  ag_test_iterate_until_done (context, guest_pending);
  g_assert_true (in_guest.returned);
  g_assert_error (in_guest.error, AG_ERROR, AG_ERROR_WOULD_DEADLOCK);
  g_clear_error (&in_guest.error);

  stop_and_wait (caller);
  stop_and_wait (guest);
  g_clear_object (&guest);
  ag_test_pop_context (context);
}

/* }}} */

/* {{{ /BadInput/as-completed */

static void
check_as_completed_bad_self (gpointer self)
{
  AgAsCompleted *bad = self;
  g_autoptr(GTask) task = g_task_new (NULL, NULL, NULL, NULL);
  GError *error = NULL;
  gpointer p;
  guint u;

  g_task_return_pointer (task, NULL, NULL);

  EXPECT_CRITICAL (ag_as_completed_next_async (bad, NULL, never_called_cb,
                                               NULL));
  EXPECT_CRITICAL (p = ag_as_completed_next_finish (bad, G_ASYNC_RESULT (task),
                                                    &error));
  g_assert_null (p);
  EXPECT_CRITICAL (p = ag_as_completed_next_sync (bad, 0, &error));
  g_assert_null (p);
  EXPECT_CRITICAL (p = ag_as_completed_next_sync (bad, -1, &error));
  g_assert_null (p);
  g_assert_no_error (error);
  EXPECT_CRITICAL (ag_as_completed_close (bad));
  EXPECT_CRITICAL (u = ag_as_completed_get_n_in_flight (bad));
  g_assert_cmpuint (u, ==, 0);
}

static void
test_as_completed (void)
{
  GMainContext *context = ag_test_push_context ();
  g_autoptr(AgCaller) caller = ag_caller_new_guest (context, "as-completed");
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(AgPending) never = ag_pending_new ();
  g_autoptr(AgPending) done = ag_pending_new ();
  AgPending *items[2];
  g_autoptr(AgAsCompleted) iter = NULL;
  g_autoptr(AgAsCompleted) other = NULL;
  g_autoptr(GAsyncResult) first = NULL;
  g_autoptr(GAsyncResult) second = NULL;
  GError *error = NULL;
  AgPending *next;
  gpointer p;

  check_as_completed_bad_self (NULL);
  check_as_completed_bad_self (cancellable);
  check_as_completed_bad_self (caller);

  ag_pending_set_int (done, 1);
  items[0] = never;
  items[1] = done;
  iter = ag_caller_as_completed (caller, items, 2, FALSE);
  other = ag_caller_as_completed (caller, NULL, 0, FALSE);

  /* Bad arguments */
  EXPECT_CRITICAL (ag_as_completed_next_async (iter,
                                               (GCancellable *) caller,
                                               never_called_cb, NULL));
  EXPECT_CRITICAL (p = ag_as_completed_next_sync (iter, NAN, &error));
  g_assert_null (p);
  error = g_error_new_literal (AG_ERROR, AG_ERROR_FAILED, "set before");
  EXPECT_CRITICAL (p = ag_as_completed_next_sync (iter, 0, &error));
  g_assert_null (p);
  g_assert_error (error, AG_ERROR, AG_ERROR_FAILED);
  g_clear_error (&error);
  g_assert_cmpuint (ag_as_completed_get_n_in_flight (iter), ==, 1);

  /* The item done already comes first, once */
  next = ag_as_completed_next_sync (iter, 0, &error);
  g_assert_no_error (error);
  g_assert_true (next == done);
  g_object_unref (next);

  /* 0 does not wait */
  g_assert_null (ag_as_completed_next_sync (iter, 0, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error (&error);

  /* One next_async() at a time: the second fails with G_IO_ERROR_PENDING */
  ag_as_completed_next_async (iter, NULL, ag_test_store_result_cb, &first);
  ag_as_completed_next_async (iter, NULL, ag_test_store_result_cb, &second);
  ag_test_iterate_until_result (context, &second);
  g_assert_null (ag_as_completed_next_finish (iter, second, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PENDING);
  g_clear_error (&error);
  g_assert_null (first);

  /* Results that are not its own */
  EXPECT_CRITICAL (p = ag_as_completed_next_finish (other, second, &error));
  g_assert_null (p);
  EXPECT_CRITICAL (p = ag_as_completed_next_finish (iter, NULL, &error));
  g_assert_null (p);
  g_assert_no_error (error);

  /* Closing ends the wait in progress with NULL, and every later one */
  ag_as_completed_close (iter);
  ag_test_iterate_until_result (context, &first);
  g_assert_null (ag_as_completed_next_finish (iter, first, &error));
  g_assert_no_error (error);
  g_assert_null (ag_as_completed_next_sync (iter, -1, &error));
  g_assert_no_error (error);
  ag_as_completed_close (iter);
  g_assert_cmpuint (ag_as_completed_get_n_in_flight (iter), ==, 0);
  ag_test_assert_state (never, AG_PENDING_STATE_RUNNING);

  /* No items: the end, at once */
  g_assert_null (ag_as_completed_next_sync (other, -1, &error));
  g_assert_no_error (error);

  /* A negative timeout waits without limit */
  {
    Later later;
    g_autoptr(AgAsCompleted) waiting = NULL;

    later_init (&later);
    items[0] = later.pending;
    waiting = ag_caller_as_completed (caller, items, 1, FALSE);
    next = ag_as_completed_next_sync (waiting, -1, &error);
    g_assert_no_error (error);
    g_assert_true (next == later.pending);
    g_object_unref (next);
    g_assert_null (ag_as_completed_next_sync (waiting, -INFINITY, &error));
    g_assert_no_error (error);
    later_clear (&later);
  }

  ag_pending_set_value (never, NULL);
  stop_and_wait (caller);
  g_clear_object (&iter);
  g_clear_object (&other);
  g_clear_object (&caller);
  ag_test_pop_context (context);
}

/* }}} */

/* {{{ /BadInput/as-completed/bad-producer */

static gint bad_criticals;  /* (atomic) */

/* Counts the library's criticals instead of printing them. */
static void
count_critical_handler (const char     *log_domain,
                        GLogLevelFlags  log_level,
                        const char     *message,
                        gpointer        user_data)
{
  g_test_message ("critical: %s", message);
  g_atomic_int_inc (&bad_criticals);
}

/* Makes the library's criticals counted, not fatal, until
 * end_counting_criticals(). For calls that may emit several, where
 * g_test_expect_message() would need to know how many. */
static guint
begin_counting_criticals (GLogLevelFlags *old_fatal)
{
  g_atomic_int_set (&bad_criticals, 0);
  *old_fatal = g_log_set_always_fatal (G_LOG_FATAL_MASK);
  return g_log_set_handler (AG_TEST_LOG_DOMAIN, G_LOG_LEVEL_CRITICAL,
                            count_critical_handler, NULL);
}

static gint
end_counting_criticals (guint          handler,
                        GLogLevelFlags old_fatal)
{
  g_log_remove_handler (AG_TEST_LOG_DOMAIN, handler);
  g_log_set_always_fatal (old_fatal);
  return g_atomic_int_get (&bad_criticals);
}

typedef struct
{
  GObject *stranger;  /* given once, then the end */
  gint     calls;
} BadProducer;

static AgPending *
bad_producer (gpointer data)
{
  BadProducer *producer = data;

  if (producer->calls++ == 0)
    return (AgPending *) g_object_ref (producer->stranger);
  return NULL;
}

/* A producer that gives something that is not an AgPending, as a binding
 * might: a critical, as for a job that returns one, and the iterator goes
 * on (the stranger is dropped) instead of waiting for it for ever. */
static void
as_completed_bad_producer (void)
{
  GMainContext *context = g_main_context_new ();
  g_autoptr(AgCaller) caller = ag_caller_new_guest (context, "bad-producer");
  BadProducer producer = { NULL, 0 };
  AgAsCompleted *iter;
  GError *error = NULL;
  AgPending *next;

  GLogLevelFlags old_fatal;
  guint handler;
  gint n_criticals;

  producer.stranger = g_object_new (G_TYPE_CANCELLABLE, NULL);

  handler = begin_counting_criticals (&old_fatal);
  iter = ag_caller_as_completed_full (caller, bad_producer, &producer, NULL,
                                      4, FALSE);
  next = ag_as_completed_next_sync (iter, 1.0, &error);
  g_object_unref (iter);
  n_criticals = end_counting_criticals (handler, old_fatal);

  g_assert_cmpint (n_criticals, >=, 1);
  g_assert_null (next);
  g_assert_no_error (error);

  g_assert_cmpint (producer.calls, ==, 2);
  g_object_unref (producer.stranger);
  stop_and_wait (caller);
  g_clear_object (&caller);
  ag_test_drain (context);
  g_main_context_unref (context);
}

static void
test_as_completed_bad_producer (void)
{
  run_in_subprocess (as_completed_bad_producer);
}

/* }}} */

/* {{{ /BadInput/tracker */

static void
check_tracker_bad_self (gpointer   self,
                        AgPending *pending)
{
  AgPendingTracker *bad = self;
  GError *error = NULL;
  gboolean b;
  gpointer p;
  guint u;

  EXPECT_CRITICAL (u = ag_pending_tracker_get_state (bad));
  g_assert_cmpuint (u, ==, AG_PENDING_TRACKER_STATE_IDLE);
  EXPECT_CRITICAL (ag_pending_tracker_set_state (bad, 1));
  EXPECT_CRITICAL (b = ag_pending_tracker_track (bad, pending, &error));
  g_assert_false (b);
  EXPECT_CRITICAL (b = ag_pending_tracker_remove (bad, pending, &error));
  g_assert_false (b);
  g_assert_no_error (error);
  EXPECT_CRITICAL (b = ag_pending_tracker_discard (bad, pending));
  g_assert_false (b);
  EXPECT_CRITICAL (b = ag_pending_tracker_contains (bad, pending));
  g_assert_false (b);
  EXPECT_CRITICAL (p = ag_pending_tracker_dup_pendings (bad));
  g_assert_null (p);
  EXPECT_CRITICAL (u = ag_pending_tracker_get_n_pendings (bad));
  g_assert_cmpuint (u, ==, 0);
  EXPECT_CRITICAL (u = ag_pending_tracker_push_current (bad));
  g_assert_cmpuint (u, ==, 0);
}

static void
check_tracker_bad_pending (AgPendingTracker *tracker,
                           gpointer          not_a_pending)
{
  AgPending *bad = not_a_pending;
  GError *error = NULL;
  gboolean b;

  EXPECT_CRITICAL (b = ag_pending_tracker_track (tracker, bad, &error));
  g_assert_false (b);
  EXPECT_CRITICAL (b = ag_pending_tracker_remove (tracker, bad, &error));
  g_assert_false (b);
  g_assert_no_error (error);
  EXPECT_CRITICAL (b = ag_pending_tracker_discard (tracker, bad));
  g_assert_false (b);
  EXPECT_CRITICAL (b = ag_pending_tracker_contains (tracker, bad));
  g_assert_false (b);
}

static gpointer
pop_in_fresh_thread (gpointer data)
{
  /* A thread that never pushed anything has no token to pop */
  EXPECT_CRITICAL (ag_pending_tracker_pop_current (1));
  return NULL;
}

static void
test_tracker (void)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(AgPending) pending = ag_pending_new_full (NO_TRACKING, "tracked");
  g_autoptr(AgPending) done = ag_pending_new ();
  g_autoptr(AgPendingTracker) tracker = g_object_new (AG_TYPE_PENDING_TRACKER,
                                                      NULL);
  GParamSpec *not_an_object = make_not_an_object ();
  GError *error = NULL;
  gpointer p;
  guint token;

  check_tracker_bad_self (NULL, pending);
  check_tracker_bad_self (cancellable, pending);
  check_tracker_bad_self (pending, pending);
  check_tracker_bad_self (not_an_object, pending);

  check_tracker_bad_pending (tracker, NULL);
  check_tracker_bad_pending (tracker, cancellable);
  check_tracker_bad_pending (tracker, tracker);

  /* get_current() of a type that is no tracker class */
  EXPECT_CRITICAL (p = ag_pending_tracker_get_current (G_TYPE_INVALID));
  g_assert_null (p);
  EXPECT_CRITICAL (p = ag_pending_tracker_get_current (G_TYPE_OBJECT));
  g_assert_null (p);
  EXPECT_CRITICAL (p = ag_pending_tracker_get_current (AG_TYPE_PENDING));
  g_assert_null (p);
  EXPECT_CRITICAL (p = ag_pending_tracker_get_current (G_TYPE_INT));
  g_assert_null (p);
  g_assert_null (ag_pending_tracker_get_current (AG_TYPE_PENDING_TRACKER));

  /* Out-of-range state */
  EXPECT_CRITICAL (ag_pending_tracker_set_state (tracker, 99));
  EXPECT_CRITICAL (ag_pending_tracker_set_state (tracker,
                                                 (AgPendingTrackerState) -1));
  g_assert_cmpint (ag_pending_tracker_get_state (tracker), ==,
                   AG_PENDING_TRACKER_STATE_IDLE);

  /* An idle tracker takes nothing: a runtime error */
  g_assert_false (ag_pending_tracker_track (tracker, pending, &error));
  g_assert_error (error, AG_ERROR, AG_ERROR_INVALID_STATE);
  g_clear_error (&error);

  /* Removing what is not tracked */
  g_assert_false (ag_pending_tracker_remove (tracker, pending, &error));
  g_assert_error (error, AG_ERROR, AG_ERROR_INVALID_STATE);
  g_clear_error (&error);
  g_assert_false (ag_pending_tracker_discard (tracker, pending));

  /* With an error already set */
  error = g_error_new_literal (AG_ERROR, AG_ERROR_FAILED, "set before");
  EXPECT_CRITICAL (ag_pending_tracker_track (tracker, pending, &error));
  EXPECT_CRITICAL (ag_pending_tracker_remove (tracker, pending, &error));
  g_assert_error (error, AG_ERROR, AG_ERROR_FAILED);
  g_clear_error (&error);

  /* Tokens that were never given */
  EXPECT_CRITICAL (ag_pending_tracker_pop_current (0));
  token = ag_pending_tracker_push_current (tracker);
  g_assert_cmpuint (token, >, 0);
  EXPECT_CRITICAL (ag_pending_tracker_pop_current (token + 1));
  EXPECT_CRITICAL (ag_pending_tracker_pop_current (G_MAXUINT));
  ag_pending_tracker_pop_current (token);
  /* a token used once is spent */
  EXPECT_CRITICAL (ag_pending_tracker_pop_current (token));
  {
    GThread *thread = g_thread_new ("fresh", pop_in_fresh_thread, NULL);

    g_thread_join (thread);
  }

  /* Stopped: still no tracking; a done pending is accepted and not kept */
  ag_pending_tracker_set_state (tracker, AG_PENDING_TRACKER_STATE_ACTIVE);
  ag_pending_set_int (done, 1);
  g_assert_true (ag_pending_tracker_track (tracker, done, &error));
  g_assert_no_error (error);
  g_assert_false (ag_pending_tracker_contains (tracker, done));
  g_assert_true (ag_pending_tracker_track (tracker, pending, &error));
  g_assert_true (ag_pending_tracker_track (tracker, pending, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (ag_pending_tracker_get_n_pendings (tracker), ==, 1);
  ag_pending_tracker_set_state (tracker, AG_PENDING_TRACKER_STATE_STOPPED);
  {
    g_autoptr(AgPending) late = ag_pending_new_full (NO_TRACKING, NULL);

    g_assert_false (ag_pending_tracker_track (tracker, late, &error));
    g_assert_error (error, AG_ERROR, AG_ERROR_INVALID_STATE);
    g_clear_error (&error);
  }
  g_assert_true (ag_pending_tracker_discard (tracker, pending));
  g_assert_cmpuint (ag_pending_tracker_get_n_pendings (tracker), ==, 0);

  g_param_spec_unref (not_an_object);
}

/* }}} */

/* {{{ /BadInput/manager */

static void
test_manager (void)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(AgPendingManager) manager = ag_pending_manager_new ();
  g_autoptr(AgPendingGroup) group = ag_pending_group_new (FALSE,
                                                          MODE_IGNORE);
  g_autoptr(AgPendingTracker) tracker = g_object_new (AG_TYPE_PENDING_TRACKER,
                                                      NULL);
  gpointer bad_selves[4] = { NULL, cancellable, group, tracker };
  GError *error = NULL;
  AgPending *stopped;
  gboolean b;
  gpointer p;
  guint token;

  /* NULL, a stranger, and trackers that are no managers */
  for (guint i = 0; i < G_N_ELEMENTS (bad_selves); i++)
    {
      AgPendingManager *bad = bad_selves[i];

      EXPECT_CRITICAL (b = ag_pending_manager_activate (bad, &error));
      g_assert_false (b);
      EXPECT_CRITICAL (p = ag_pending_manager_deactivate (bad, TRUE));
      g_assert_null (p);
      EXPECT_CRITICAL (token = ag_pending_manager_start_tracking (bad,
                                                                  &error));
      g_assert_cmpuint (token, ==, 0);
      g_assert_no_error (error);
      EXPECT_CRITICAL (ag_pending_manager_stop_tracking (bad, 1));
    }
  g_assert_cmpint (ag_pending_tracker_get_state (AG_PENDING_TRACKER (group)),
                   ==, AG_PENDING_TRACKER_STATE_IDLE);

  /* Idle: deactivating is harmless, tracking is refused */
  stopped = ag_pending_manager_deactivate (manager, TRUE);
  ag_test_assert_state (stopped, AG_PENDING_STATE_SUCCEEDED);
  g_object_unref (stopped);
  g_assert_cmpuint (ag_pending_manager_start_tracking (manager, &error), ==,
                    0);
  g_assert_error (error, AG_ERROR, AG_ERROR_INVALID_STATE);
  g_clear_error (&error);

  /* Active twice */
  g_assert_true (ag_pending_manager_activate (manager, &error));
  g_assert_no_error (error);
  g_assert_false (ag_pending_manager_activate (manager, &error));
  g_assert_error (error, AG_ERROR, AG_ERROR_INVALID_STATE);
  g_clear_error (&error);

  /* With an error already set */
  error = g_error_new_literal (AG_ERROR, AG_ERROR_FAILED, "set before");
  EXPECT_CRITICAL (b = ag_pending_manager_activate (manager, &error));
  g_assert_false (b);
  EXPECT_CRITICAL (token = ag_pending_manager_start_tracking (manager,
                                                              &error));
  g_assert_cmpuint (token, ==, 0);
  g_assert_error (error, AG_ERROR, AG_ERROR_FAILED);
  g_clear_error (&error);

  /* Tokens that were never given */
  EXPECT_CRITICAL (ag_pending_manager_stop_tracking (manager, 0));
  token = ag_pending_manager_start_tracking (manager, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (token, >, 0);
  EXPECT_CRITICAL (ag_pending_manager_stop_tracking (manager, token + 1));
  EXPECT_CRITICAL (ag_pending_manager_stop_tracking (manager, G_MAXUINT));
  g_assert_true (ag_pending_tracker_get_current (AG_TYPE_PENDING_MANAGER) ==
                 AG_PENDING_TRACKER (manager));
  ag_pending_manager_stop_tracking (manager, token);
  g_assert_null (ag_pending_tracker_get_current (AG_TYPE_PENDING_MANAGER));
  EXPECT_CRITICAL (ag_pending_manager_stop_tracking (manager, token));

  /* Deactivated: twice is harmless; tracking is refused */
  stopped = ag_pending_manager_deactivate (manager, TRUE);
  ag_test_assert_state (stopped, AG_PENDING_STATE_SUCCEEDED);
  g_object_unref (stopped);
  stopped = ag_pending_manager_deactivate (manager, FALSE);
  ag_test_assert_state (stopped, AG_PENDING_STATE_SUCCEEDED);
  g_object_unref (stopped);
  g_assert_cmpuint (ag_pending_manager_start_tracking (manager, &error), ==,
                    0);
  g_assert_error (error, AG_ERROR, AG_ERROR_INVALID_STATE);
  g_clear_error (&error);
  {
    g_autoptr(AgPending) late = ag_pending_new ();

    g_assert_false (ag_pending_tracker_track (AG_PENDING_TRACKER (manager),
                                              late, &error));
    g_assert_error (error, AG_ERROR, AG_ERROR_INVALID_STATE);
    g_clear_error (&error);
  }

  /* It may be activated again */
  g_assert_true (ag_pending_manager_activate (manager, &error));
  g_assert_no_error (error);
  stopped = ag_pending_manager_deactivate (manager, TRUE);
  g_object_unref (stopped);
}

/* }}} */

/* {{{ /BadInput/group */

static void
check_group_bad_self (gpointer self)
{
  AgPendingGroup *bad = self;
  GError *error = NULL;
  gboolean b;
  gpointer p;
  guint u;

  EXPECT_CRITICAL (b = ag_pending_group_enter (bad, &error));
  g_assert_false (b);
  EXPECT_CRITICAL (ag_pending_group_exit_async (bad, NULL, never_called_cb,
                                                NULL));
  EXPECT_CRITICAL (b = ag_pending_group_exit_sync (bad, NULL, &error));
  g_assert_false (b);
  g_assert_no_error (error);
  EXPECT_CRITICAL (ag_pending_group_cancel (bad, "m"));
  EXPECT_CRITICAL (b = ag_pending_group_is_cancelled (bad));
  g_assert_false (b);
  EXPECT_CRITICAL (p = ag_pending_group_get_failed (bad));
  g_assert_null (p);
  EXPECT_CRITICAL (p = ag_pending_group_get_pending (bad));
  g_assert_null (p);
  EXPECT_CRITICAL (p = ag_pending_group_get_caller (bad));
  g_assert_null (p);
  EXPECT_CRITICAL (b = ag_pending_group_get_shield (bad));
  g_assert_false (b);
  EXPECT_CRITICAL (u = ag_pending_group_get_mode (bad));
  g_assert_cmpuint (u, ==, AG_PENDING_GROUP_MODE_IGNORE);
}

static void
test_group (void)
{
  GMainContext *context = ag_test_push_context ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(AgPendingManager) manager = ag_pending_manager_new ();
  g_autoptr(AgPendingGroup) group = NULL;
  g_autoptr(AgPendingGroup) other = NULL;
  g_autoptr(AgPending) late = NULL;
  g_autoptr(AgCaller) guest = NULL;
  GError *error = NULL;
  gpointer p;

  check_group_bad_self (NULL);
  check_group_bad_self (cancellable);
  check_group_bad_self (manager);

  /* Constructors: a bad caller, out-of-range modes */
  EXPECT_CRITICAL (p = ag_caller_create_pending_group (NULL, FALSE,
                                                       MODE_IGNORE));
  g_assert_null (p);
  EXPECT_CRITICAL (p = ag_caller_create_pending_group ((AgCaller *) cancellable,
                                                       FALSE,
                                                       MODE_IGNORE));
  g_assert_null (p);
  EXPECT_CRITICAL (p = ag_caller_create_pending_group (ag_caller_get_current (),
                                                       FALSE, 99));
  g_assert_null (p);
  EXPECT_CRITICAL (p = ag_caller_create_pending_group (ag_caller_get_current (),
                                                       TRUE,
                                                       BAD_MODE));
  g_assert_null (p);
  EXPECT_CRITICAL (p = ag_pending_group_new (FALSE, 99));
  g_assert_null (p);
  EXPECT_CRITICAL (p = ag_pending_group_new (TRUE, BAD_MODE));
  g_assert_null (p);
  g_test_expect_message ("GLib-GObject", G_LOG_LEVEL_WARNING,
                         "*invalid or out of range*mode*");
  p = g_object_new (AG_TYPE_PENDING_GROUP, "mode", 99, NULL);
  g_test_assert_expected_messages ();
  g_assert_cmpint (ag_pending_group_get_mode (p), ==,
                   AG_PENDING_GROUP_MODE_IGNORE);
  g_object_unref (p);

  group = ag_pending_group_new (FALSE, AG_PENDING_GROUP_MODE_IGNORE);
  other = ag_pending_group_new (FALSE, AG_PENDING_GROUP_MODE_IGNORE);

  /* Before enter: exit is a runtime error; no pending yet */
  g_assert_null (ag_pending_group_get_pending (group));
  g_assert_false (ag_test_group_exit (group, context, &error));
  g_assert_error (error, AG_ERROR, AG_ERROR_INVALID_STATE);
  g_clear_error (&error);
  g_assert_false (ag_pending_group_exit_sync (group, NULL, &error));
  g_assert_error (error, AG_ERROR, AG_ERROR_INVALID_STATE);
  g_clear_error (&error);

  /* Bad arguments to a good group */
  EXPECT_CRITICAL (ag_pending_group_exit_async (group,
                                                (GCancellable *) manager,
                                                never_called_cb, NULL));
  {
    GCancellable *not_a_cancellable = (GCancellable *) manager;

    gboolean b = TRUE;

    EXPECT_CRITICAL (b = ag_pending_group_exit_sync (group, not_a_cancellable,
                                                     &error));
    g_assert_false (b);
  }
  error = g_error_new_literal (AG_ERROR, AG_ERROR_FAILED, "set before");
  EXPECT_CRITICAL (g_assert_false (ag_pending_group_enter (group, &error)));
  EXPECT_CRITICAL (g_assert_false (ag_pending_group_exit_sync (group, NULL,
                                                               &error)));
  g_assert_error (error, AG_ERROR, AG_ERROR_FAILED);
  g_clear_error (&error);
  {
    g_autoptr(GTask) task = g_task_new (other, NULL, NULL, NULL);

    GAsyncResult *foreign = G_ASYNC_RESULT (task);
    gboolean b = TRUE;

    g_task_return_boolean (task, TRUE);
    EXPECT_CRITICAL (b = ag_pending_group_exit_finish (group, foreign,
                                                       &error));
    g_assert_false (b);
    EXPECT_CRITICAL (b = ag_pending_group_exit_finish (group, NULL, &error));
    g_assert_false (b);
    g_assert_no_error (error);
  }

  /* None of that entered it */
  g_assert_cmpint (ag_pending_tracker_get_state (AG_PENDING_TRACKER (group)),
                   ==, AG_PENDING_TRACKER_STATE_IDLE);
  g_assert_null (ag_pending_tracker_get_current (AG_TYPE_PENDING_GROUP));

  /* A NULL or empty cancel message is fine */
  ag_pending_group_cancel (other, NULL);
  ag_pending_group_cancel (other, "");
  g_assert_true (ag_pending_group_is_cancelled (other));

  /* Enter, exit; then enter, track, exit again: runtime errors */
  g_assert_true (ag_pending_group_enter (group, &error));
  g_assert_no_error (error);
  g_assert_true (ag_test_group_exit (group, context, &error));
  g_assert_no_error (error);
  g_assert_cmpint (ag_pending_tracker_get_state (AG_PENDING_TRACKER (group)),
                   ==, AG_PENDING_TRACKER_STATE_STOPPED);

  g_assert_false (ag_pending_group_enter (group, &error));
  g_assert_error (error, AG_ERROR, AG_ERROR_INVALID_STATE);
  g_clear_error (&error);
  g_assert_null (ag_pending_tracker_get_current (AG_TYPE_PENDING_GROUP));

  late = ag_pending_new_full (AG_PENDING_FLAGS_NO_TRACKING, "late");
  g_assert_false (ag_pending_tracker_track (AG_PENDING_TRACKER (group), late,
                                            &error));
  g_assert_error (error, AG_ERROR, AG_ERROR_INVALID_STATE);
  g_clear_error (&error);
  g_assert_false (ag_pending_tracker_contains (AG_PENDING_TRACKER (group),
                                               late));

  g_assert_false (ag_test_group_exit (group, context, &error));
  g_assert_error (error, AG_ERROR, AG_ERROR_INVALID_STATE);
  g_clear_error (&error);
  g_assert_false (ag_pending_group_exit_sync (group, NULL, &error));
  g_assert_error (error, AG_ERROR, AG_ERROR_INVALID_STATE);
  g_clear_error (&error);

  /* Cancelling an exited group harms nothing: its outcome stays */
  ag_pending_group_cancel (group, "late");
  ag_test_assert_state (ag_pending_group_get_pending (group),
                AG_PENDING_STATE_SUCCEEDED);
  {
    g_autoptr(GPtrArray) failed = ag_pending_group_get_failed (group);

    g_assert_cmpuint (failed->len, ==, 0);
  }

  /* A group of a stopped caller still works as a tracker */
  guest = ag_caller_new_guest (context, "group-guest");
  stop_and_wait (guest);
  {
    g_autoptr(AgPendingGroup) orphan =
      ag_caller_create_pending_group (guest, FALSE,
                                      AG_PENDING_GROUP_MODE_IGNORE);

    g_assert_true (ag_pending_group_get_caller (orphan) == guest);
    g_assert_true (ag_pending_group_enter (orphan, &error));
    g_assert_no_error (error);
    g_assert_true (ag_test_group_exit (orphan, context, &error));
    g_assert_no_error (error);
  }

  ag_pending_set_value (late, NULL);
  g_clear_object (&guest);
  stop_and_wait (ag_caller_get_current ());
  ag_test_pop_context (context);
}

/* }}} */

/* {{{ /BadInput/construct: g_object_new(), as bindings construct */

/* What a binding calls for `Pending()`, `PendingGroup()`... must give an
 * object as usable as the C constructor's (DESIGN.md: "Objects are fully
 * set up in init/constructed"). */
static void
test_construct (void)
{
  GMainContext *context = ag_test_push_context ();
  GError *error = NULL;

  {
    g_autoptr(AgPending) pending = g_object_new (AG_TYPE_PENDING, NULL);

    g_assert_true (ag_pending_get_context (pending) == context);
    g_assert_true (ag_pending_set_int (pending, 1));
    g_assert_cmpint (ag_pending_get_int (pending, NULL), ==, 1);
  }

  {
    g_autoptr(AgPendingManager) manager = g_object_new (AG_TYPE_PENDING_MANAGER,
                                                        NULL);
    g_autoptr(AgPending) stopped = NULL;

    g_assert_true (ag_pending_manager_activate (manager, &error));
    g_assert_no_error (error);
    stopped = ag_pending_manager_deactivate (manager, TRUE);
    ag_test_assert_state (stopped, AG_PENDING_STATE_SUCCEEDED);
  }

  {
    g_autoptr(AgPendingGroup) group = g_object_new (AG_TYPE_PENDING_GROUP,
                                                    NULL);

    g_assert_true (ag_pending_group_get_caller (group) ==
                   ag_caller_get_current ());
    g_assert_true (ag_pending_group_enter (group, &error));
    g_assert_no_error (error);
    g_assert_true (ag_test_group_exit (group, context, &error));
    g_assert_no_error (error);
  }

  stop_and_wait (ag_caller_get_current ());
  ag_test_pop_context (context);
}

/* g_object_new (AG_TYPE_CALLER), what `AsyncGObject.Caller()` calls: a
 * working caller, with a name, an id, a context (this thread's), a stopped
 * pending, whose jobs run and which stops cleanly; not a caller that takes
 * jobs and never runs them. */
static void
construct_caller (void)
{
  GMainContext *context = ag_test_push_context ();
  g_autoptr(AgCaller) caller = g_object_new (AG_TYPE_CALLER, NULL);
  g_autoptr(AgPending) pending = NULL;
  g_autoptr(AgPending) stopped = NULL;
  gint ran = 0;

  g_assert_true (AG_IS_CALLER (caller));
  g_assert_nonnull (ag_caller_get_name (caller));
  g_assert_true (ag_caller_get_context (caller) == context);
  g_assert_nonnull (ag_caller_get_stopped (caller));
  g_assert_cmpuint (ag_caller_get_id (caller), >, 0);

  pending = ag_caller_call_soon (caller, ag_test_count_job, &ran, NULL);
  ag_test_iterate_until_done (context, pending);
  g_assert_cmpint (ran, ==, 1);

  stopped = g_object_ref (ag_caller_get_stopped (caller));
  ag_caller_stop (caller, TRUE);
  ag_test_assert_state (stopped, AG_PENDING_STATE_SUCCEEDED);

  g_clear_object (&caller);
  ag_test_pop_context (context);
}

/* g_object_new (AG_TYPE_AS_COMPLETED): an iterator over nothing, which
 * ends at once; not one that waits for ever. */
static void
construct_as_completed (void)
{
  g_autoptr(AgAsCompleted) iter = g_object_new (AG_TYPE_AS_COMPLETED, NULL);
  GError *error = NULL;
  AgPending *next;

  next = ag_as_completed_next_sync (iter, 0, &error);
  g_assert_no_error (error);
  g_assert_null (next);
}

static void
test_construct_caller (void)
{
  run_in_subprocess (construct_caller);
}

static void
test_construct_as_completed (void)
{
  run_in_subprocess (construct_as_completed);
}

/* }}} */

/* {{{ /BadInput/version */

static void
test_version (void)
{
  guint major = ag_get_major_version ();
  guint minor = ag_get_minor_version ();
  guint micro = ag_get_micro_version ();

  g_assert_cmpuint (major, ==, AG_MAJOR_VERSION);
  g_assert_cmpuint (minor, ==, AG_MINOR_VERSION);
  g_assert_cmpuint (micro, ==, AG_MICRO_VERSION);
  g_assert_true (AG_CHECK_VERSION (AG_MAJOR_VERSION, AG_MINOR_VERSION,
                                   AG_MICRO_VERSION));
  g_assert_true (AG_CHECK_VERSION (0, 0, 0));
  g_assert_false (AG_CHECK_VERSION (G_MAXINT, 0, 0));
  g_assert_cmpint (AG_VERSION, ==,
                   AG_ENCODE_VERSION (AG_MAJOR_VERSION, AG_MINOR_VERSION,
                                      AG_MICRO_VERSION));

  /* This version is fine; anything newer is refused with a reason, never a
   * crash, even for absurd numbers */
  g_assert_null (ag_check_version (major, minor, micro));
  g_assert_null (ag_check_version (major, 0, 0));
  g_assert_nonnull (ag_check_version (major + 1, 0, 0));
  g_assert_nonnull (ag_check_version (G_MAXUINT, G_MAXUINT, G_MAXUINT));
  g_assert_nonnull (ag_check_version (major, G_MAXUINT, 0));
  g_assert_nonnull (ag_check_version (major, minor, G_MAXUINT));
  g_assert_nonnull (ag_check_version (major, minor + 1, 0));
  if (major > 0)
    g_assert_nonnull (ag_check_version (major - 1, G_MAXUINT, G_MAXUINT));
  if (minor > 0)
    g_assert_null (ag_check_version (major, minor - 1, G_MAXUINT));

  /* The reasons are static strings with something to say */
  g_assert_cmpuint (strlen (ag_check_version (G_MAXUINT, 0, 0)), >, 0);
  g_assert_true (ag_check_version (G_MAXUINT, 0, 0) ==
                 ag_check_version (G_MAXUINT, 0, 0));

  /* The error domain is the documented quark */
  g_assert_cmpstr (g_quark_to_string (AG_ERROR), ==, "ag-error-quark");
  g_assert_true (AG_ERROR == ag_error_quark ());
}

/* }}} */

/* {{{ /BadInput/foreign-result: finish functions given a task of their own
 * object that their async function did not make */

static void
foreign_caller_wait (void)
{
  GMainContext *context = g_main_context_new ();
  g_autoptr(AgCaller) caller = ag_caller_new_guest (context, "foreign");
  g_autoptr(GTask) task = g_task_new (caller, NULL, NULL, NULL);
  GPtrArray *done = NULL;
  GPtrArray *not_done = NULL;
  GError *error = NULL;
  gboolean b = TRUE;

  g_task_set_source_tag (task, foreign_caller_wait);
  g_task_return_boolean (task, TRUE);
  EXPECT_CRITICAL (b = ag_caller_wait_finish (caller, G_ASYNC_RESULT (task),
                                              &done, &not_done, &error));
  g_assert_false (b);
  g_assert_null (done);
  g_assert_null (not_done);
  g_assert_no_error (error);

  stop_and_wait (caller);
  g_clear_object (&caller);
  ag_test_drain (context);
  g_main_context_unref (context);
}

static void
foreign_as_completed_next (void)
{
  GMainContext *context = g_main_context_new ();
  g_autoptr(AgCaller) caller = ag_caller_new_guest (context, "foreign");
  g_autoptr(AgAsCompleted) iter = ag_caller_as_completed (caller, NULL, 0,
                                                          FALSE);
  g_autoptr(GTask) task = g_task_new (iter, NULL, NULL, NULL);
  GError *error = NULL;
  gpointer p = NULL;

  g_task_set_source_tag (task, foreign_as_completed_next);
  g_task_return_pointer (task, g_object_new (G_TYPE_OBJECT, NULL),
                         g_object_unref);
  EXPECT_CRITICAL (p = ag_as_completed_next_finish (iter,
                                                    G_ASYNC_RESULT (task),
                                                    &error));
  g_assert_null (p);
  g_assert_no_error (error);

  stop_and_wait (caller);
  g_clear_object (&iter);
  g_clear_object (&caller);
  ag_test_drain (context);
  g_main_context_unref (context);
}

static void
foreign_group_exit (void)
{
  g_autoptr(AgPendingGroup) group =
    ag_pending_group_new (FALSE, AG_PENDING_GROUP_MODE_IGNORE);
  g_autoptr(GTask) task = g_task_new (group, NULL, NULL, NULL);
  GError *error = NULL;
  gboolean b = TRUE;

  g_task_set_source_tag (task, foreign_group_exit);
  g_task_return_boolean (task, TRUE);
  EXPECT_CRITICAL (b = ag_pending_group_exit_finish (group,
                                                     G_ASYNC_RESULT (task),
                                                     &error));
  g_assert_false (b);
  g_assert_no_error (error);
}

static void
test_foreign_result_caller_wait (void)
{
  run_in_subprocess (foreign_caller_wait);
}

static void
test_foreign_result_as_completed_next (void)
{
  run_in_subprocess (foreign_as_completed_next);
}

static void
test_foreign_result_group_exit (void)
{
  run_in_subprocess (foreign_group_exit);
}

/* }}} */

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_summary ("Every public function of async-gobject given bad input: "
                  "NULL, objects of another class, wrong value types, done "
                  "pendings, stopped callers, exited groups, NaN and "
                  "negative timeouts, out-of-range enums. Each answers with "
                  "a critical or a GError, never a crash or a hang.");

  g_test_add_func ("/BadInput/pending", test_pending);
  g_test_add_func ("/BadInput/pending/type-mismatch",
                   test_pending_type_mismatch);
  g_test_add_func ("/BadInput/pending/done", test_pending_done);
  g_test_add_func ("/BadInput/pending/timeouts", test_pending_timeouts);
  g_test_add_func ("/BadInput/caller", test_caller);
  g_test_add_func ("/BadInput/caller/settings", test_caller_settings);
  g_test_add_func ("/BadInput/caller/delays", test_caller_delays);
  g_test_add_func ("/BadInput/caller/wait", test_caller_wait);
  g_test_add_func ("/BadInput/caller/stopped", test_caller_stopped);
  g_test_add_func ("/BadInput/caller/would-deadlock",
                   test_caller_would_deadlock);
  g_test_add_func ("/BadInput/as-completed", test_as_completed);
  g_test_add_func ("/BadInput/as-completed/bad-producer",
                   test_as_completed_bad_producer);
  g_test_add_func ("/BadInput/tracker", test_tracker);
  g_test_add_func ("/BadInput/manager", test_manager);
  g_test_add_func ("/BadInput/group", test_group);
  g_test_add_func ("/BadInput/version", test_version);
  g_test_add_func ("/BadInput/construct", test_construct);
  g_test_add_func ("/BadInput/construct/caller", test_construct_caller);
  g_test_add_func ("/BadInput/construct/as-completed",
                   test_construct_as_completed);
  g_test_add_func ("/BadInput/foreign-result/caller-wait",
                   test_foreign_result_caller_wait);
  g_test_add_func ("/BadInput/foreign-result/as-completed-next",
                   test_foreign_result_as_completed_next);
  g_test_add_func ("/BadInput/foreign-result/group-exit",
                   test_foreign_result_group_exit);

  return g_test_run ();
}

/* vim: set foldmethod=marker: */
