/* test-pending.c: the specification of AgPending
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Every test here states one point of AgPending's contract (see
 * DESIGN.md, "Pending" and "Decisions") so that it fails if the point does
 * not hold. Threads are lined up with barriers and latches, never with
 * sleeps; stress loops are sized by g_test_thorough() and
 * AG_TEST_ITERATIONS_SCALE (see test-util.h).
 */

#include <math.h>
#include <string.h>

#include <async-gobject.h>

#include "test-util.h"

/* {{{ Helpers */

static GError *
io_error (gint        code,
          const char *message)
{
  return g_error_new_literal (G_IO_ERROR, code, message);
}

static GObject *
new_object (void)
{
  return g_object_new (G_TYPE_OBJECT, NULL);
}

static guint
object_ref_count (gpointer object)
{
  return g_atomic_int_get ((gint *) &G_OBJECT (object)->ref_count);
}

static void
assert_state (AgPending      *pending,
              AgPendingState  state)
{
  gboolean done = state == AG_PENDING_STATE_SUCCEEDED
                  || state == AG_PENDING_STATE_FAILED
                  || state == AG_PENDING_STATE_CANCELLED;
  gboolean cancelled = state == AG_PENDING_STATE_CANCELLING
                       || state == AG_PENDING_STATE_CANCELLED;

  g_assert_cmpint (ag_pending_get_state (pending), ==, state);
  g_assert_cmpint (ag_pending_is_done (pending), ==, done);
  g_assert_cmpint (ag_pending_is_cancelled (pending), ==, cancelled);
}

/* Reading the outcome of a pending that is neither done nor cancelled. */
static void
assert_outcome_invalid_state (AgPending *pending)
{
  g_auto(GValue) value = G_VALUE_INIT;
  g_autoptr(GError) error = NULL;
  g_autofree char *string = NULL;
  g_autoptr(GObject) object = NULL;

  g_assert_false (ag_pending_get_value (pending, &value, &error));
  g_assert_error (error, AG_ERROR, AG_ERROR_INVALID_STATE);
  g_assert_cmpuint (G_VALUE_TYPE (&value), ==, G_TYPE_INVALID);
  g_clear_error (&error);

  g_assert_false (ag_pending_get_value (pending, NULL, &error));
  g_assert_error (error, AG_ERROR, AG_ERROR_INVALID_STATE);
  g_clear_error (&error);

  g_assert_cmpint (ag_pending_get_int (pending, &error), ==, 0);
  g_assert_error (error, AG_ERROR, AG_ERROR_INVALID_STATE);
  g_clear_error (&error);

  g_assert_false (ag_pending_get_boolean (pending, &error));
  g_assert_error (error, AG_ERROR, AG_ERROR_INVALID_STATE);
  g_clear_error (&error);

  g_assert_cmpfloat (ag_pending_get_double (pending, &error), ==, 0.0);
  g_assert_error (error, AG_ERROR, AG_ERROR_INVALID_STATE);
  g_clear_error (&error);

  string = ag_pending_get_string (pending, &error);
  g_assert_null (string);
  g_assert_error (error, AG_ERROR, AG_ERROR_INVALID_STATE);
  g_clear_error (&error);

  object = ag_pending_get_object (pending, &error);
  g_assert_null (object);
  g_assert_error (error, AG_ERROR, AG_ERROR_INVALID_STATE);
  g_clear_error (&error);

  g_assert_null (ag_pending_get_pointer (pending, &error));
  g_assert_error (error, AG_ERROR, AG_ERROR_INVALID_STATE);
  g_clear_error (&error);

  /* not done: no error to duplicate */
  g_assert_null (ag_pending_dup_error (pending));
}

/* Every getter of @pending fails with @domain/@code (and @message when not
 * NULL). */
static void
assert_outcome_error (AgPending  *pending,
                      GQuark      domain,
                      gint        code,
                      const char *message)
{
  g_auto(GValue) value = G_VALUE_INIT;
  g_autoptr(GError) error = NULL;
  g_autofree char *string = NULL;
  g_autoptr(GObject) object = NULL;

#define CHECK_ERROR()                                        \
  G_STMT_START                                               \
    {                                                        \
      g_assert_error (error, domain, code);                  \
      if (message != NULL)                                   \
        g_assert_cmpstr (error->message, ==, message);       \
      g_clear_error (&error);                                \
    }                                                        \
  G_STMT_END

  g_assert_false (ag_pending_get_value (pending, &value, &error));
  CHECK_ERROR ();
  g_assert_cmpuint (G_VALUE_TYPE (&value), ==, G_TYPE_INVALID);

  g_assert_false (ag_pending_get_value (pending, NULL, &error));
  CHECK_ERROR ();

  g_assert_cmpint (ag_pending_get_int (pending, &error), ==, 0);
  CHECK_ERROR ();

  g_assert_false (ag_pending_get_boolean (pending, &error));
  CHECK_ERROR ();

  g_assert_cmpfloat (ag_pending_get_double (pending, &error), ==, 0.0);
  CHECK_ERROR ();

  string = ag_pending_get_string (pending, &error);
  g_assert_null (string);
  CHECK_ERROR ();

  object = ag_pending_get_object (pending, &error);
  g_assert_null (object);
  CHECK_ERROR ();

  g_assert_null (ag_pending_get_pointer (pending, &error));
  CHECK_ERROR ();

#undef CHECK_ERROR
}

/* }}} */

/* {{{ /Pending/new */

static gpointer
new_in_thread_func (gpointer data)
{
  GMainContext *context = data;
  AgPending *pending;

  g_main_context_push_thread_default (context);
  pending = ag_pending_new ();
  g_assert_true (ag_pending_get_context (pending) == context);
  g_main_context_pop_thread_default (context);

  return pending;
}

static void
test_new (void)
{
  g_autoptr(AgPending) a = ag_pending_new ();
  g_autoptr(AgPending) b = g_object_new (AG_TYPE_PENDING, NULL);
  g_autoptr(AgPending) c = NULL;
  g_autoptr(GMainContext) thread_default = g_main_context_ref_thread_default ();
  GMainContext *context;
  AgPending *in_thread;
  GThread *thread;
  AgPending *pendings[2];
  guint i;

  pendings[0] = a;
  pendings[1] = b;

  /* ag_pending_new () and g_object_new () give the same object */
  for (i = 0; i < G_N_ELEMENTS (pendings); i++)
    {
      AgPending *p = pendings[i];

      g_assert_true (AG_IS_PENDING (p));
      g_assert_true (G_OBJECT_TYPE (p) == AG_TYPE_PENDING);
      g_assert_true (g_type_is_a (AG_TYPE_PENDING, G_TYPE_OBJECT));
      g_assert_cmpuint (object_ref_count (p), ==, 1);
      assert_state (p, AG_PENDING_STATE_RUNNING);
      g_assert_null (ag_pending_get_name (p));
      g_assert_cmpint (ag_pending_get_flags (p), ==, AG_PENDING_FLAGS_NONE);
      g_assert_true (ag_pending_get_context (p) == thread_default);
      g_assert_true (ag_pending_get_context (p) == g_main_context_default ());
      g_assert_null (ag_pending_dup_cancel_message (p));
      assert_outcome_invalid_state (p);
    }

  /* ag_pending_new_full () */
  c = ag_pending_new_full (AG_PENDING_FLAGS_NO_TRACKING, "my pending");
  g_assert_true (AG_IS_PENDING (c));
  assert_state (c, AG_PENDING_STATE_RUNNING);
  g_assert_cmpstr (ag_pending_get_name (c), ==, "my pending");
  g_assert_cmpint (ag_pending_get_flags (c), ==, AG_PENDING_FLAGS_NO_TRACKING);
  g_assert_true (ag_pending_get_context (c) == thread_default);
  g_clear_object (&c);

  c = ag_pending_new_full (AG_PENDING_FLAGS_NONE, NULL);
  g_assert_null (ag_pending_get_name (c));
  g_assert_cmpint (ag_pending_get_flags (c), ==, AG_PENDING_FLAGS_NONE);
  g_clear_object (&c);

  /* The context is the thread-default one of the creating thread: here a
   * context pushed in the main thread... */
  context = ag_test_push_context ();
  c = ag_pending_new ();
  g_assert_true (ag_pending_get_context (c) == context);
  ag_test_pop_context (context);
  /* ...which it keeps after the push is undone */
  g_assert_true (ag_pending_get_context (c) == context);
  g_clear_object (&c);

  /* ...and here a context pushed in another thread */
  context = g_main_context_new ();
  thread = g_thread_new ("new-in-thread", new_in_thread_func, context);
  in_thread = g_thread_join (thread);
  g_assert_true (AG_IS_PENDING (in_thread));
  g_assert_true (ag_pending_get_context (in_thread) == context);
  g_object_unref (in_thread);
  g_main_context_unref (context);
}

/* }}} */

/* {{{ /Pending/properties */

static void
test_properties (void)
{
  g_autoptr(GTypeClass) klass = g_type_class_ref (AG_TYPE_PENDING);
  g_autoptr(GEnumClass) state_class = g_type_class_ref (AG_TYPE_PENDING_STATE);
  g_autoptr(AgPending) pending = NULL;
  g_autofree char *name = NULL;
  GParamSpec *pspec;
  AgPendingState state;
  AgPendingFlags flags;
  static const struct
  {
    AgPendingState state;
    const char *nick;
  } nicks[] = {
    { AG_PENDING_STATE_RUNNING, "running" },
    { AG_PENDING_STATE_CANCELLING, "cancelling" },
    { AG_PENDING_STATE_SUCCEEDED, "succeeded" },
    { AG_PENDING_STATE_FAILED, "failed" },
    { AG_PENDING_STATE_CANCELLED, "cancelled" },
  };
  guint i;

  /* The generated enum types */
  g_assert_true (G_TYPE_IS_ENUM (AG_TYPE_PENDING_STATE));
  g_assert_true (G_TYPE_IS_FLAGS (AG_TYPE_PENDING_FLAGS));
  for (i = 0; i < G_N_ELEMENTS (nicks); i++)
    {
      GEnumValue *value = g_enum_get_value (state_class, nicks[i].state);

      g_assert_nonnull (value);
      g_assert_cmpstr (value->value_nick, ==, nicks[i].nick);
    }

  /* "state": read-only AgPendingState */
  pspec = g_object_class_find_property (G_OBJECT_CLASS (klass), "state");
  g_assert_nonnull (pspec);
  g_assert_true (pspec->value_type == AG_TYPE_PENDING_STATE);
  g_assert_true (pspec->flags & G_PARAM_READABLE);
  g_assert_false (pspec->flags & G_PARAM_WRITABLE);
  g_assert_cmpint (G_PARAM_SPEC_ENUM (pspec)->default_value, ==,
                   AG_PENDING_STATE_RUNNING);

  /* "name": construct-only string */
  pspec = g_object_class_find_property (G_OBJECT_CLASS (klass), "name");
  g_assert_nonnull (pspec);
  g_assert_true (pspec->value_type == G_TYPE_STRING);
  g_assert_true (pspec->flags & G_PARAM_READABLE);
  g_assert_true (pspec->flags & G_PARAM_WRITABLE);
  g_assert_true (pspec->flags & G_PARAM_CONSTRUCT_ONLY);

  /* "flags": construct-only AgPendingFlags */
  pspec = g_object_class_find_property (G_OBJECT_CLASS (klass), "flags");
  g_assert_nonnull (pspec);
  g_assert_true (pspec->value_type == AG_TYPE_PENDING_FLAGS);
  g_assert_true (pspec->flags & G_PARAM_READABLE);
  g_assert_true (pspec->flags & G_PARAM_WRITABLE);
  g_assert_true (pspec->flags & G_PARAM_CONSTRUCT_ONLY);

  /* Constructed through properties: the same as ag_pending_new_full () */
  pending = g_object_new (AG_TYPE_PENDING,
                          "name", "by-properties",
                          "flags", AG_PENDING_FLAGS_NO_TRACKING,
                          NULL);
  g_assert_cmpstr (ag_pending_get_name (pending), ==, "by-properties");
  g_assert_cmpint (ag_pending_get_flags (pending), ==,
                   AG_PENDING_FLAGS_NO_TRACKING);

  g_object_get (pending,
                "state", &state,
                "name", &name,
                "flags", &flags,
                NULL);
  g_assert_cmpint (state, ==, AG_PENDING_STATE_RUNNING);
  g_assert_cmpstr (name, ==, "by-properties");
  g_assert_cmpint (flags, ==, AG_PENDING_FLAGS_NO_TRACKING);

  /* "state" follows the pending */
  g_assert_true (ag_pending_cancel (pending, NULL));
  g_object_get (pending, "state", &state, NULL);
  g_assert_cmpint (state, ==, AG_PENDING_STATE_CANCELLING);

  g_assert_true (ag_pending_set_int (pending, 1));
  g_object_get (pending, "state", &state, NULL);
  g_assert_cmpint (state, ==, AG_PENDING_STATE_CANCELLED);
  g_clear_object (&pending);

  pending = ag_pending_new ();
  g_assert_true (ag_pending_set_int (pending, 1));
  g_object_get (pending, "state", &state, NULL);
  g_assert_cmpint (state, ==, AG_PENDING_STATE_SUCCEEDED);
  g_clear_object (&pending);

  pending = ag_pending_new ();
  g_assert_true (ag_pending_take_error (pending,
                                        io_error (G_IO_ERROR_FAILED, "x")));
  g_object_get (pending, "state", &state, NULL);
  g_assert_cmpint (state, ==, AG_PENDING_STATE_FAILED);
}

/* }}} */

/* {{{ /Pending/states */

static void
test_states (void)
{
  AgPending *pending;
  g_autoptr(GError) error = NULL;
  g_autofree char *message = NULL;

  /* RUNNING -> SUCCEEDED */
  pending = ag_pending_new ();
  assert_state (pending, AG_PENDING_STATE_RUNNING);
  g_assert_true (ag_pending_set_int (pending, 3));
  assert_state (pending, AG_PENDING_STATE_SUCCEEDED);
  g_assert_null (ag_pending_dup_error (pending));
  g_object_unref (pending);

  /* RUNNING -> FAILED */
  pending = ag_pending_new ();
  g_assert_true (ag_pending_take_error (pending,
                                        io_error (G_IO_ERROR_NOT_FOUND,
                                                  "no such thing")));
  assert_state (pending, AG_PENDING_STATE_FAILED);
  error = ag_pending_dup_error (pending);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_cmpstr (error->message, ==, "no such thing");
  g_clear_error (&error);
  assert_outcome_error (pending, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                        "no such thing");
  g_object_unref (pending);

  /* RUNNING -> CANCELLING -> CANCELLED, whatever outcome is then set:
   * a value... */
  pending = ag_pending_new ();
  g_assert_true (ag_pending_cancel (pending, "stop"));
  assert_state (pending, AG_PENDING_STATE_CANCELLING);
  g_assert_true (ag_pending_set_int (pending, 3));
  assert_state (pending, AG_PENDING_STATE_CANCELLED);
  assert_outcome_error (pending, G_IO_ERROR, G_IO_ERROR_CANCELLED, "stop");
  error = ag_pending_dup_error (pending);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_object_unref (pending);

  /* ...an empty value... */
  pending = ag_pending_new ();
  g_assert_true (ag_pending_cancel (pending, "stop"));
  g_assert_true (ag_pending_set_value (pending, NULL));
  assert_state (pending, AG_PENDING_STATE_CANCELLED);
  assert_outcome_error (pending, G_IO_ERROR, G_IO_ERROR_CANCELLED, "stop");
  g_object_unref (pending);

  /* ...or another error */
  pending = ag_pending_new ();
  g_assert_true (ag_pending_cancel (pending, "stop"));
  g_assert_true (ag_pending_take_error (pending,
                                        io_error (G_IO_ERROR_FAILED,
                                                  "failed anyway")));
  assert_state (pending, AG_PENDING_STATE_CANCELLED);
  assert_outcome_error (pending, G_IO_ERROR, G_IO_ERROR_CANCELLED, "stop");
  error = ag_pending_dup_error (pending);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_object_unref (pending);

  /* RUNNING -> CANCELLED directly, with G_IO_ERROR_CANCELLED: the pending
   * counts as cancelled and the error message is the cancel message. */
  pending = ag_pending_new ();
  g_assert_true (ag_pending_take_error (pending,
                                        io_error (G_IO_ERROR_CANCELLED,
                                                  "stopped by job")));
  assert_state (pending, AG_PENDING_STATE_CANCELLED);
  message = ag_pending_dup_cancel_message (pending);
  g_assert_cmpstr (message, ==, "stopped by job");
  g_clear_pointer (&message, g_free);
  assert_outcome_error (pending, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                        "stopped by job");
  error = ag_pending_dup_error (pending);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpstr (error->message, ==, "stopped by job");
  g_clear_error (&error);
  g_assert_false (ag_pending_cancel (pending, "too late"));
  g_object_unref (pending);

  /* The same through set_error () */
  pending = ag_pending_new ();
  error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, "copied");
  g_assert_true (ag_pending_set_error (pending, error));
  g_clear_error (&error);
  assert_state (pending, AG_PENDING_STATE_CANCELLED);
  message = ag_pending_dup_cancel_message (pending);
  g_assert_cmpstr (message, ==, "copied");
  assert_outcome_error (pending, G_IO_ERROR, G_IO_ERROR_CANCELLED, "copied");
  g_object_unref (pending);
}

/* }}} */

/* {{{ /Pending/set-value */

static void
test_set_value (void)
{
  AgPending *pending;
  GValue in = G_VALUE_INIT;
  GValue out = G_VALUE_INIT;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) variant = NULL;

  /* An int: get_value () gives a copy of the same type */
  pending = ag_pending_new ();
  g_value_init (&in, G_TYPE_INT);
  g_value_set_int (&in, -17);
  g_assert_true (ag_pending_set_value (pending, &in));
  g_value_unset (&in);
  assert_state (pending, AG_PENDING_STATE_SUCCEEDED);
  g_assert_true (ag_pending_get_value (pending, &out, &error));
  g_assert_no_error (error);
  g_assert_true (G_VALUE_HOLDS_INT (&out));
  g_assert_cmpint (g_value_get_int (&out), ==, -17);
  g_value_unset (&out);
  /* reading twice gives the same */
  g_assert_true (ag_pending_get_value (pending, &out, &error));
  g_assert_cmpint (g_value_get_int (&out), ==, -17);
  g_value_unset (&out);
  /* out may be NULL: just says whether it succeeded */
  g_assert_true (ag_pending_get_value (pending, NULL, &error));
  g_assert_no_error (error);
  /* and error may be NULL */
  g_assert_true (ag_pending_get_value (pending, NULL, NULL));
  g_object_unref (pending);

  /* A string: the pending keeps its own copy, and gives out copies */
  pending = ag_pending_new ();
  g_value_init (&in, G_TYPE_STRING);
  g_value_set_string (&in, "hello");
  g_assert_true (ag_pending_set_value (pending, &in));
  g_value_set_string (&in, "changed after set");
  g_assert_true (ag_pending_get_value (pending, &out, &error));
  g_assert_no_error (error);
  g_assert_true (G_VALUE_HOLDS_STRING (&out));
  g_assert_cmpstr (g_value_get_string (&out), ==, "hello");
  g_value_set_string (&out, "changed after get");
  g_value_unset (&out);
  g_assert_true (ag_pending_get_value (pending, &out, &error));
  g_assert_cmpstr (g_value_get_string (&out), ==, "hello");
  g_value_unset (&out);
  g_value_unset (&in);
  g_object_unref (pending);

  /* A boxed type (GVariant): any GType travels */
  pending = ag_pending_new ();
  variant = g_variant_ref_sink (g_variant_new ("(si)", "x", 7));
  g_value_init (&in, G_TYPE_VARIANT);
  g_value_set_variant (&in, variant);
  g_assert_true (ag_pending_set_value (pending, &in));
  g_value_unset (&in);
  g_assert_true (ag_pending_get_value (pending, &out, &error));
  g_assert_true (G_VALUE_HOLDS_VARIANT (&out));
  g_assert_true (g_variant_equal (g_value_get_variant (&out), variant));
  g_value_unset (&out);
  g_object_unref (pending);

  /* NULL: an empty outcome, SUCCEEDED; out stays unset */
  pending = ag_pending_new ();
  g_assert_true (ag_pending_set_value (pending, NULL));
  assert_state (pending, AG_PENDING_STATE_SUCCEEDED);
  g_assert_true (ag_pending_get_value (pending, &out, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (G_VALUE_TYPE (&out), ==, G_TYPE_INVALID);
  g_assert_true (ag_pending_get_value (pending, NULL, &error));
  g_assert_no_error (error);
  g_assert_null (ag_pending_dup_error (pending));
  g_object_unref (pending);

  /* set_error () copies: the caller keeps its error */
  pending = ag_pending_new ();
  error = g_error_new (G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                       "no %s", "way");
  g_assert_true (ag_pending_set_error (pending, error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
  g_assert_cmpstr (error->message, ==, "no way");
  {
    g_autoptr(GError) copy = NULL;

    g_assert_false (ag_pending_get_value (pending, &out, &copy));
    g_assert_error (copy, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
    g_assert_cmpstr (copy->message, ==, "no way");
    g_assert_true (copy != error);
    g_assert_cmpuint (G_VALUE_TYPE (&out), ==, G_TYPE_INVALID);
  }
  g_clear_error (&error);
  assert_state (pending, AG_PENDING_STATE_FAILED);
  /* the stored error outlives the caller's */
  assert_outcome_error (pending, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                        "no way");
  {
    g_autoptr(GError) a = ag_pending_dup_error (pending);
    g_autoptr(GError) b = ag_pending_dup_error (pending);

    g_assert_error (a, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
    g_assert_cmpstr (a->message, ==, "no way");
    g_assert_true (a != b);
  }
  g_object_unref (pending);

  /* take_error () with another domain */
  pending = ag_pending_new ();
  g_assert_true (ag_pending_take_error (pending,
                                        g_error_new_literal (AG_ERROR,
                                                             AG_ERROR_CLOSED,
                                                             "closed")));
  assert_state (pending, AG_PENDING_STATE_FAILED);
  assert_outcome_error (pending, AG_ERROR, AG_ERROR_CLOSED, "closed");
  g_object_unref (pending);
}

/* }}} */

/* {{{ /Pending/typed */

static void
assert_type_mismatch_int (AgPending *pending)
{
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (ag_pending_get_int (pending, &error), ==, 0);
  g_assert_error (error, AG_ERROR, AG_ERROR_TYPE_MISMATCH);
}

static void
assert_type_mismatch_double (AgPending *pending)
{
  g_autoptr(GError) error = NULL;

  g_assert_cmpfloat (ag_pending_get_double (pending, &error), ==, 0.0);
  g_assert_error (error, AG_ERROR, AG_ERROR_TYPE_MISMATCH);
}

static void
assert_type_mismatch_boolean (AgPending *pending)
{
  g_autoptr(GError) error = NULL;

  g_assert_false (ag_pending_get_boolean (pending, &error));
  g_assert_error (error, AG_ERROR, AG_ERROR_TYPE_MISMATCH);
}

static void
assert_type_mismatch_string (AgPending *pending)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *string = ag_pending_get_string (pending, &error);

  g_assert_null (string);
  g_assert_error (error, AG_ERROR, AG_ERROR_TYPE_MISMATCH);
}

static void
assert_type_mismatch_object (AgPending *pending)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GObject) object = ag_pending_get_object (pending, &error);

  g_assert_null (object);
  g_assert_error (error, AG_ERROR, AG_ERROR_TYPE_MISMATCH);
}

static void
assert_type_mismatch_pointer (AgPending *pending)
{
  g_autoptr(GError) error = NULL;

  g_assert_null (ag_pending_get_pointer (pending, &error));
  g_assert_error (error, AG_ERROR, AG_ERROR_TYPE_MISMATCH);
}

/* A pending that succeeded with @value (consumed). */
static AgPending *
pending_with_value (GValue *value)
{
  AgPending *pending = ag_pending_new ();

  g_assert_true (ag_pending_set_value (pending, value));
  g_value_unset (value);
  return pending;
}

/* Stores @x in @value, initialised to an integer type (or an enum). */
static void
set_integer_value (GValue *value,
                   gint64  x)
{
  GType type = G_VALUE_TYPE (value);

  if (type == G_TYPE_INT)
    g_value_set_int (value, (gint) x);
  else if (type == G_TYPE_UINT)
    g_value_set_uint (value, (guint) x);
  else if (type == G_TYPE_LONG)
    g_value_set_long (value, (glong) x);
  else if (type == G_TYPE_ULONG)
    g_value_set_ulong (value, (gulong) x);
  else if (type == G_TYPE_INT64)
    g_value_set_int64 (value, x);
  else if (type == G_TYPE_UINT64)
    g_value_set_uint64 (value, (guint64) x);
  else if (type == G_TYPE_CHAR)
    g_value_set_schar (value, (gint8) x);
  else if (type == G_TYPE_UCHAR)
    g_value_set_uchar (value, (guchar) x);
  else if (G_TYPE_IS_ENUM (type))
    g_value_set_enum (value, (gint) x);
  else
    g_assert_not_reached ();
}

static void
check_get_int (GType  type,
               gint64 expected)
{
  GValue value = G_VALUE_INIT;
  g_autoptr(AgPending) pending = NULL;
  g_autoptr(GError) error = NULL;

  g_value_init (&value, type);
  set_integer_value (&value, expected);
  pending = pending_with_value (&value);
  g_assert_cmpint (ag_pending_get_int (pending, &error), ==, expected);
  g_assert_no_error (error);
  /* integers read as doubles too */
  g_assert_cmpfloat (ag_pending_get_double (pending, &error), ==,
                     (double) expected);
  g_assert_no_error (error);
  /* but not as booleans, strings, objects or pointers */
  assert_type_mismatch_boolean (pending);
  assert_type_mismatch_string (pending);
  assert_type_mismatch_object (pending);
  assert_type_mismatch_pointer (pending);
}

static void
test_typed (void)
{
  AgPending *pending;
  g_autoptr(GError) error = NULL;
  GValue value = G_VALUE_INIT;
  g_autofree char *string = NULL;
  g_autofree char *string2 = NULL;
  g_autoptr(GObject) object = NULL;
  GObject *got;
  gint destroyed = 0;
  static int pointee = 42;

  /* set_int: stored as gint64 */
  pending = ag_pending_new ();
  g_assert_true (ag_pending_set_int (pending, G_MININT64));
  g_assert_true (ag_pending_get_value (pending, &value, &error));
  g_assert_no_error (error);
  g_assert_true (G_VALUE_TYPE (&value) == G_TYPE_INT64);
  g_assert_cmpint (g_value_get_int64 (&value), ==, G_MININT64);
  g_value_unset (&value);
  g_assert_cmpint (ag_pending_get_int (pending, &error), ==, G_MININT64);
  g_assert_no_error (error);
  assert_type_mismatch_boolean (pending);
  assert_type_mismatch_string (pending);
  g_object_unref (pending);

  pending = ag_pending_new ();
  g_assert_true (ag_pending_set_int (pending, G_MAXINT64));
  g_assert_cmpint (ag_pending_get_int (pending, &error), ==, G_MAXINT64);
  g_assert_no_error (error);
  g_object_unref (pending);

  /* get_int accepts every integer type, get_double too */
  check_get_int (G_TYPE_INT, -5);
  check_get_int (G_TYPE_INT, G_MAXINT);
  check_get_int (G_TYPE_UINT, G_MAXUINT);
  check_get_int (G_TYPE_LONG, -123456);
  check_get_int (G_TYPE_ULONG, 123456);
  check_get_int (G_TYPE_INT64, G_MININT64 + 1);
  check_get_int (G_TYPE_UINT64, 42);
  check_get_int (G_TYPE_CHAR, 'a');
  check_get_int (G_TYPE_CHAR, -3);
  check_get_int (G_TYPE_UCHAR, 200);
  check_get_int (AG_TYPE_PENDING_STATE, AG_PENDING_STATE_FAILED);

  /* set_boolean */
  pending = ag_pending_new ();
  g_assert_true (ag_pending_set_boolean (pending, TRUE));
  g_assert_true (ag_pending_get_value (pending, &value, NULL));
  g_assert_true (G_VALUE_TYPE (&value) == G_TYPE_BOOLEAN);
  g_assert_true (g_value_get_boolean (&value));
  g_value_unset (&value);
  g_assert_true (ag_pending_get_boolean (pending, &error));
  g_assert_no_error (error);
  assert_type_mismatch_string (pending);
  assert_type_mismatch_object (pending);
  assert_type_mismatch_pointer (pending);
  g_object_unref (pending);

  pending = ag_pending_new ();
  g_assert_true (ag_pending_set_boolean (pending, FALSE));
  g_assert_false (ag_pending_get_boolean (pending, &error));
  g_assert_no_error (error);
  g_object_unref (pending);

  /* set_double */
  pending = ag_pending_new ();
  g_assert_true (ag_pending_set_double (pending, -2.5));
  g_assert_true (ag_pending_get_value (pending, &value, NULL));
  g_assert_true (G_VALUE_TYPE (&value) == G_TYPE_DOUBLE);
  g_assert_cmpfloat (g_value_get_double (&value), ==, -2.5);
  g_value_unset (&value);
  g_assert_cmpfloat (ag_pending_get_double (pending, &error), ==, -2.5);
  g_assert_no_error (error);
  /* a double is not an integer, nor a boolean */
  assert_type_mismatch_int (pending);
  assert_type_mismatch_boolean (pending);
  assert_type_mismatch_string (pending);
  g_object_unref (pending);

  /* get_double accepts floats */
  g_value_init (&value, G_TYPE_FLOAT);
  g_value_set_float (&value, 1.5f);
  pending = pending_with_value (&value);
  g_assert_cmpfloat (ag_pending_get_double (pending, &error), ==, 1.5);
  g_assert_no_error (error);
  assert_type_mismatch_int (pending);
  g_object_unref (pending);

  /* set_string: get_string gives a new copy each time */
  pending = ag_pending_new ();
  g_assert_true (ag_pending_set_string (pending, "text"));
  g_assert_true (ag_pending_get_value (pending, &value, NULL));
  g_assert_true (G_VALUE_TYPE (&value) == G_TYPE_STRING);
  g_assert_cmpstr (g_value_get_string (&value), ==, "text");
  string = ag_pending_get_string (pending, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (string, ==, "text");
  g_assert_true (string != g_value_get_string (&value));
  string2 = ag_pending_get_string (pending, &error);
  g_assert_cmpstr (string2, ==, "text");
  g_assert_true (string != string2);
  g_value_unset (&value);
  g_clear_pointer (&string, g_free);
  g_clear_pointer (&string2, g_free);
  assert_type_mismatch_int (pending);
  assert_type_mismatch_double (pending);
  assert_type_mismatch_boolean (pending);
  assert_type_mismatch_object (pending);
  assert_type_mismatch_pointer (pending);
  g_object_unref (pending);

  /* set_string (NULL): reads back as NULL, no error */
  pending = ag_pending_new ();
  g_assert_true (ag_pending_set_string (pending, NULL));
  assert_state (pending, AG_PENDING_STATE_SUCCEEDED);
  string = ag_pending_get_string (pending, &error);
  g_assert_no_error (error);
  g_assert_null (string);
  g_object_unref (pending);

  /* set_object: takes a ref; get_object gives a new one */
  object = new_object ();
  pending = ag_pending_new ();
  g_assert_true (ag_pending_set_object (pending, object));
  g_assert_cmpuint (object_ref_count (object), ==, 2);
  g_assert_true (ag_pending_get_value (pending, &value, NULL));
  g_assert_true (G_VALUE_HOLDS_OBJECT (&value));
  g_assert_true (g_value_get_object (&value) == object);
  g_value_unset (&value);
  got = ag_pending_get_object (pending, &error);
  g_assert_no_error (error);
  g_assert_true (got == object);
  g_assert_cmpuint (object_ref_count (object), ==, 3);
  g_object_unref (got);
  assert_type_mismatch_int (pending);
  assert_type_mismatch_string (pending);
  assert_type_mismatch_pointer (pending);
  g_object_unref (pending);
  /* the pending's ref goes with it */
  g_assert_cmpuint (object_ref_count (object), ==, 1);

  /* set_object (NULL): reads back as NULL, no error */
  pending = ag_pending_new ();
  g_assert_true (ag_pending_set_object (pending, NULL));
  assert_state (pending, AG_PENDING_STATE_SUCCEEDED);
  got = ag_pending_get_object (pending, &error);
  g_assert_no_error (error);
  g_assert_null (got);
  g_object_unref (pending);

  /* set_pointer: transfer none on read; the destroy notify gets the pointer
   * and runs exactly once, at finalize. Here the pointer is the counter. */
  pending = ag_pending_new ();
  g_assert_true (ag_pending_set_pointer (pending, &destroyed, ag_test_count));
  g_assert_true (ag_pending_get_value (pending, &value, NULL));
  g_assert_true (G_VALUE_HOLDS_POINTER (&value));
  g_assert_true (g_value_get_pointer (&value) == &destroyed);
  g_value_unset (&value);
  g_assert_true (ag_pending_get_pointer (pending, &error) == &destroyed);
  g_assert_no_error (error);
  g_assert_true (ag_pending_get_pointer (pending, &error) == &destroyed);
  assert_type_mismatch_int (pending);
  assert_type_mismatch_string (pending);
  assert_type_mismatch_object (pending);
  g_assert_cmpint (g_atomic_int_get (&destroyed), ==, 0);
  g_object_unref (pending);
  g_assert_cmpint (g_atomic_int_get (&destroyed), ==, 1);

  /* set_pointer without a destroy notify */
  pending = ag_pending_new ();
  g_assert_true (ag_pending_set_pointer (pending, &pointee, NULL));
  g_assert_true (ag_pending_get_pointer (pending, &error) == &pointee);
  g_assert_no_error (error);
  g_object_unref (pending);
  g_assert_cmpint (pointee, ==, 42);

  /* A string value is not a double; a boolean is not a double either */
  g_value_init (&value, G_TYPE_STRING);
  g_value_set_string (&value, "1.5");
  pending = pending_with_value (&value);
  assert_type_mismatch_double (pending);
  assert_type_mismatch_int (pending);
  assert_type_mismatch_boolean (pending);
  g_object_unref (pending);

  /* An object of another type is still an object */
  g_value_init (&value, G_TYPE_CANCELLABLE);
  g_value_take_object (&value, g_cancellable_new ());
  pending = pending_with_value (&value);
  got = ag_pending_get_object (pending, &error);
  g_assert_no_error (error);
  g_assert_true (G_IS_CANCELLABLE (got));
  g_object_unref (got);
  assert_type_mismatch_string (pending);
  g_object_unref (pending);

  /* An empty outcome: no error for string and object (NULL), a type
   * mismatch for int, double and boolean */
  pending = ag_pending_new ();
  g_assert_true (ag_pending_set_value (pending, NULL));
  string = ag_pending_get_string (pending, &error);
  g_assert_no_error (error);
  g_assert_null (string);
  got = ag_pending_get_object (pending, &error);
  g_assert_no_error (error);
  g_assert_null (got);
  assert_type_mismatch_int (pending);
  assert_type_mismatch_double (pending);
  assert_type_mismatch_boolean (pending);
  g_object_unref (pending);

  /* The typed getters fail like get_value () by state: not done... */
  pending = ag_pending_new ();
  assert_outcome_invalid_state (pending);
  /* ...cancelled, even before done... */
  g_assert_true (ag_pending_cancel (pending, "typed"));
  assert_outcome_error (pending, G_IO_ERROR, G_IO_ERROR_CANCELLED, "typed");
  /* ...and after */
  g_assert_true (ag_pending_set_int (pending, 1));
  assert_outcome_error (pending, G_IO_ERROR, G_IO_ERROR_CANCELLED, "typed");
  g_object_unref (pending);

  /* ...failed: a copy of the stored error */
  pending = ag_pending_new ();
  g_assert_true (ag_pending_take_error (pending,
                                        io_error (G_IO_ERROR_BUSY, "busy")));
  assert_outcome_error (pending, G_IO_ERROR, G_IO_ERROR_BUSY, "busy");
  g_object_unref (pending);
}

/* }}} */

/* {{{ /Pending/first-wins */

static void
count_done_cb (AgPending *pending,
               gpointer   user_data)
{
  g_assert_true (AG_IS_PENDING (pending));
  g_assert_true (ag_pending_is_done (pending));
  g_atomic_int_inc ((gint *) user_data);
}

static void
test_first_wins (void)
{
  AgPending *pending;
  g_autoptr(GError) error = NULL;
  g_autoptr(GObject) object = NULL;
  GValue value = G_VALUE_INIT;
  gint destroyed = 0;
  gint done = 0;
  gint pointer_destroyed = 0;
  gint late_pointer_destroyed = 0;

  object = new_object ();

  /* The first outcome wins, later ones return FALSE (no warning: the test
   * would abort on one) and change nothing */
  pending = ag_pending_new ();
  ag_pending_add_done_callback (pending, count_done_cb, &done, NULL);
  g_assert_true (ag_pending_set_int (pending, 1));
  g_assert_cmpint (done, ==, 1);

  g_assert_false (ag_pending_set_int (pending, 2));
  g_assert_false (ag_pending_set_boolean (pending, TRUE));
  g_assert_false (ag_pending_set_double (pending, 2.0));
  g_assert_false (ag_pending_set_string (pending, "loser"));
  g_assert_false (ag_pending_set_string (pending, NULL));
  g_assert_false (ag_pending_set_value (pending, NULL));
  g_value_init (&value, G_TYPE_STRING);
  g_value_set_string (&value, "loser value");
  g_assert_false (ag_pending_set_value (pending, &value));
  g_value_unset (&value);

  /* a refused object is not kept */
  g_assert_false (ag_pending_set_object (pending, object));
  g_assert_cmpuint (object_ref_count (object), ==, 1);

  /* a refused pointer is destroyed at once, exactly once */
  g_assert_false (ag_pending_set_pointer (pending, &pointer_destroyed,
                                          ag_test_count));
  g_assert_cmpint (pointer_destroyed, ==, 1);

  /* set_error () copies, so the caller still owns its error */
  error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_FAILED, "loser error");
  g_assert_false (ag_pending_set_error (pending, error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_FAILED);
  g_clear_error (&error);

  /* take_error () consumes its error even when refused (valgrind checks) */
  g_assert_false (ag_pending_take_error (pending,
                                         io_error (G_IO_ERROR_FAILED,
                                                   "taken")));
  /* a refused G_IO_ERROR_CANCELLED does not cancel either */
  g_assert_false (ag_pending_take_error (pending,
                                         io_error (G_IO_ERROR_CANCELLED,
                                                   "late cancel")));

  assert_state (pending, AG_PENDING_STATE_SUCCEEDED);
  g_assert_null (ag_pending_dup_cancel_message (pending));
  g_assert_cmpint (ag_pending_get_int (pending, &error), ==, 1);
  g_assert_no_error (error);
  /* the done callbacks ran once, not once per attempt */
  g_assert_cmpint (done, ==, 1);
  g_object_unref (pending);
  g_assert_cmpint (pointer_destroyed, ==, 1);

  /* A failed pending stays failed */
  pending = ag_pending_new ();
  g_assert_true (ag_pending_take_error (pending,
                                        io_error (G_IO_ERROR_EXISTS, "first")));
  g_assert_false (ag_pending_set_int (pending, 3));
  g_assert_false (ag_pending_set_object (pending, object));
  g_assert_cmpuint (object_ref_count (object), ==, 1);
  g_assert_false (ag_pending_take_error (pending,
                                         io_error (G_IO_ERROR_FAILED,
                                                   "second")));
  assert_state (pending, AG_PENDING_STATE_FAILED);
  assert_outcome_error (pending, G_IO_ERROR, G_IO_ERROR_EXISTS, "first");
  g_object_unref (pending);

  /* A kept pointer is destroyed once, at finalize; a late one at once */
  pending = ag_pending_new ();
  g_assert_true (ag_pending_set_pointer (pending, &pointer_destroyed,
                                         ag_test_count));
  g_assert_false (ag_pending_set_pointer (pending, &late_pointer_destroyed,
                                          ag_test_count));
  g_assert_cmpint (late_pointer_destroyed, ==, 1);
  g_assert_true (ag_pending_get_pointer (pending, NULL) == &pointer_destroyed);
  g_assert_cmpint (pointer_destroyed, ==, 1);
  g_object_unref (pending);
  g_assert_cmpint (pointer_destroyed, ==, 2);
  g_assert_cmpint (late_pointer_destroyed, ==, 1);

  /* A kept object is released at finalize */
  pending = ag_pending_new ();
  g_assert_true (ag_pending_set_object (pending, object));
  g_assert_false (ag_pending_set_object (pending, object));
  g_assert_cmpuint (object_ref_count (object), ==, 2);
  g_object_unref (pending);
  g_assert_cmpuint (object_ref_count (object), ==, 1);

  /* A cancelled (done) pending refuses too */
  pending = ag_pending_new ();
  g_assert_true (ag_pending_cancel (pending, NULL));
  g_assert_true (ag_pending_set_string (pending, "first"));
  g_assert_false (ag_pending_set_string (pending, "second"));
  g_assert_false (ag_pending_set_pointer (pending, &destroyed, ag_test_count));
  g_assert_cmpint (destroyed, ==, 1);
  assert_state (pending, AG_PENDING_STATE_CANCELLED);
  g_object_unref (pending);
}

/* }}} */

/* {{{ /Pending/cancel */

static void
test_cancel (void)
{
  AgPending *pending;
  g_autoptr(GError) error = NULL;
  g_autofree char *message = NULL;

  /* Not cancelled: no message */
  pending = ag_pending_new ();
  g_assert_null (ag_pending_dup_cancel_message (pending));

  /* cancel (NULL): cancelled, no message; the error has a default one */
  g_assert_true (ag_pending_cancel (pending, NULL));
  assert_state (pending, AG_PENDING_STATE_CANCELLING);
  g_assert_null (ag_pending_dup_cancel_message (pending));
  g_assert_false (ag_pending_get_value (pending, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_nonnull (error->message);
  g_assert_cmpstr (error->message, !=, "");
  g_clear_error (&error);

  /* Messages accumulate, joined by newlines; NULL and "" add nothing */
  g_assert_true (ag_pending_cancel (pending, "first"));
  g_assert_true (ag_pending_cancel (pending, ""));
  g_assert_true (ag_pending_cancel (pending, NULL));
  g_assert_true (ag_pending_cancel (pending, "second"));
  assert_state (pending, AG_PENDING_STATE_CANCELLING);
  message = ag_pending_dup_cancel_message (pending);
  g_assert_cmpstr (message, ==, "first\nsecond");
  g_clear_pointer (&message, g_free);
  /* the outcome reads as cancelled before it is set... */
  assert_outcome_error (pending, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                        "first\nsecond");

  /* ...and after */
  g_assert_true (ag_pending_set_string (pending, "whatever"));
  assert_state (pending, AG_PENDING_STATE_CANCELLED);
  assert_outcome_error (pending, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                        "first\nsecond");
  error = ag_pending_dup_error (pending);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpstr (error->message, ==, "first\nsecond");
  g_clear_error (&error);

  /* Once done, cancel changes nothing and returns FALSE */
  g_assert_false (ag_pending_cancel (pending, "third"));
  message = ag_pending_dup_cancel_message (pending);
  g_assert_cmpstr (message, ==, "first\nsecond");
  g_clear_pointer (&message, g_free);
  assert_state (pending, AG_PENDING_STATE_CANCELLED);
  g_object_unref (pending);

  /* A succeeded pending cannot be cancelled */
  pending = ag_pending_new ();
  g_assert_true (ag_pending_set_int (pending, 5));
  g_assert_false (ag_pending_cancel (pending, "late"));
  g_assert_false (ag_pending_cancel (pending, NULL));
  assert_state (pending, AG_PENDING_STATE_SUCCEEDED);
  g_assert_null (ag_pending_dup_cancel_message (pending));
  g_assert_cmpint (ag_pending_get_int (pending, &error), ==, 5);
  g_assert_no_error (error);
  g_object_unref (pending);

  /* Nor a failed one */
  pending = ag_pending_new ();
  g_assert_true (ag_pending_take_error (pending,
                                        io_error (G_IO_ERROR_FAILED,
                                                  "failed")));
  g_assert_false (ag_pending_cancel (pending, "late"));
  assert_state (pending, AG_PENDING_STATE_FAILED);
  g_assert_null (ag_pending_dup_cancel_message (pending));
  assert_outcome_error (pending, G_IO_ERROR, G_IO_ERROR_FAILED, "failed");
  g_object_unref (pending);

  /* Cancelled with only NULL messages, then done: the default message */
  pending = ag_pending_new ();
  g_assert_true (ag_pending_cancel (pending, NULL));
  g_assert_true (ag_pending_set_value (pending, NULL));
  assert_state (pending, AG_PENDING_STATE_CANCELLED);
  g_assert_null (ag_pending_dup_cancel_message (pending));
  g_assert_false (ag_pending_get_value (pending, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpstr (error->message, !=, "");
  g_object_unref (pending);
}

/* }}} */

/* {{{ /Pending/canceller/... */

typedef struct
{
  AgPending *pending;
  gint       calls;       /* (atomic) */
  gint       destroyed;   /* (atomic) */
  GPtrArray *messages;    /* one per call; "(null)" for NULL */
  GThread   *thread;      /* the thread expected to call, or NULL */
  gint       mode;
  gboolean   result;      /* of the last set/cancel made by the canceller */
} CancellerData;

enum
{
  CANCELLER_RECORD,
  CANCELLER_SET,
  CANCELLER_REENTER,
};

static void
canceller_data_init (CancellerData *data,
                     AgPending     *pending,
                     gint           mode)
{
  memset (data, 0, sizeof *data);
  data->pending = pending;
  data->mode = mode;
  data->messages = g_ptr_array_new_with_free_func (g_free);
}

static void
canceller_data_clear (CancellerData *data)
{
  g_ptr_array_unref (data->messages);
}

static void
canceller_destroy (gpointer user_data)
{
  CancellerData *data = user_data;

  g_assert_cmpint (g_atomic_int_add (&data->destroyed, 1), ==, 0);
}

static void
canceller_cb (AgPending  *pending,
              const char *message,
              gpointer    user_data)
{
  CancellerData *data = user_data;
  gint call;
  g_autofree char *accumulated = NULL;

  g_assert_true (pending == data->pending);
  g_assert_cmpint (g_atomic_int_get (&data->destroyed), ==, 0);
  if (data->thread != NULL)
    g_assert_true (g_thread_self () == data->thread);

  call = g_atomic_int_add (&data->calls, 1);
  g_ptr_array_add (data->messages, g_strdup (message ? message : "(null)"));

  /* No lock is held: the canceller may use the pending freely */
  g_assert_true (ag_pending_is_cancelled (pending));
  accumulated = ag_pending_dup_cancel_message (pending);
  if (message != NULL && *message != '\0')
    {
      g_assert_nonnull (accumulated);
      g_assert_true (g_str_has_suffix (accumulated, message));
    }

  switch (data->mode)
    {
    case CANCELLER_RECORD:
      g_assert_cmpint (ag_pending_get_state (pending), ==,
                       AG_PENDING_STATE_CANCELLING);
      break;

    case CANCELLER_SET:
      g_assert_cmpint (ag_pending_get_state (pending), ==,
                       AG_PENDING_STATE_CANCELLING);
      data->result = ag_pending_take_error (pending,
                                            io_error (G_IO_ERROR_CANCELLED,
                                                      "by canceller"));
      g_assert_cmpint (ag_pending_get_state (pending), ==,
                       AG_PENDING_STATE_CANCELLED);
      break;

    case CANCELLER_REENTER:
      g_assert_cmpint (ag_pending_get_state (pending), ==,
                       AG_PENDING_STATE_CANCELLING);
      if (call == 0)
        {
          /* a nested cancel calls the canceller again, here */
          g_assert_true (ag_pending_cancel (pending, "again"));
          g_assert_cmpint (g_atomic_int_get (&data->calls), ==, 2);
          g_assert_true (ag_pending_is_done (pending));
          g_assert_false (ag_pending_cancel (pending, "after done"));
          g_assert_cmpint (g_atomic_int_get (&data->calls), ==, 2);
        }
      else
        {
          data->result = ag_pending_set_int (pending, 99);
          g_assert_true (data->result);
          g_assert_true (ag_pending_is_done (pending));
          g_assert_false (ag_pending_set_int (pending, 100));
        }
      break;

    default:
      g_assert_not_reached ();
    }
}

static void
test_canceller_called (void)
{
  AgPending *pending = ag_pending_new ();
  CancellerData data;

  canceller_data_init (&data, pending, CANCELLER_RECORD);
  data.thread = g_thread_self ();
  ag_pending_set_canceller (pending, canceller_cb, &data, canceller_destroy);
  g_assert_cmpint (data.calls, ==, 0);

  /* Called on every cancel while not done, synchronously, with that call's
   * message */
  g_assert_true (ag_pending_cancel (pending, "one"));
  g_assert_cmpint (data.calls, ==, 1);
  g_assert_true (ag_pending_cancel (pending, NULL));
  g_assert_cmpint (data.calls, ==, 2);
  g_assert_true (ag_pending_cancel (pending, "two"));
  g_assert_cmpint (data.calls, ==, 3);
  g_assert_cmpstr (g_ptr_array_index (data.messages, 0), ==, "one");
  g_assert_cmpstr (g_ptr_array_index (data.messages, 1), ==, "(null)");
  g_assert_cmpstr (g_ptr_array_index (data.messages, 2), ==, "two");
  g_assert_cmpint (data.destroyed, ==, 0);

  /* Not once done; its destroy notify runs once, by finalize at the latest */
  g_assert_true (ag_pending_set_int (pending, 0));
  g_assert_cmpint (data.destroyed, <=, 1);
  g_assert_false (ag_pending_cancel (pending, "three"));
  g_assert_cmpint (data.calls, ==, 3);
  g_object_unref (pending);
  g_assert_cmpint (data.destroyed, ==, 1);
  canceller_data_clear (&data);

  /* Never called if the pending is never cancelled; destroyed anyway */
  pending = ag_pending_new ();
  canceller_data_init (&data, pending, CANCELLER_RECORD);
  ag_pending_set_canceller (pending, canceller_cb, &data, canceller_destroy);
  g_assert_true (ag_pending_set_int (pending, 0));
  g_object_unref (pending);
  g_assert_cmpint (data.calls, ==, 0);
  g_assert_cmpint (data.destroyed, ==, 1);
  canceller_data_clear (&data);

  /* Never done at all: destroyed at finalize */
  pending = ag_pending_new ();
  canceller_data_init (&data, pending, CANCELLER_RECORD);
  ag_pending_set_canceller (pending, canceller_cb, &data, canceller_destroy);
  g_assert_true (ag_pending_cancel (pending, "x"));
  g_assert_cmpint (data.destroyed, ==, 0);
  g_object_unref (pending);
  g_assert_cmpint (data.calls, ==, 1);
  g_assert_cmpint (data.destroyed, ==, 1);
  canceller_data_clear (&data);
}

static void
test_canceller_sets (void)
{
  AgPending *pending = ag_pending_new ();
  CancellerData data;
  g_autofree char *message = NULL;

  /* A canceller that completes the pending from inside cancel () */
  canceller_data_init (&data, pending, CANCELLER_SET);
  ag_pending_set_canceller (pending, canceller_cb, &data, canceller_destroy);
  g_assert_true (ag_pending_cancel (pending, "please stop"));
  g_assert_cmpint (data.calls, ==, 1);
  g_assert_true (data.result);
  assert_state (pending, AG_PENDING_STATE_CANCELLED);
  message = ag_pending_dup_cancel_message (pending);
  g_assert_nonnull (message);
  g_assert_true (g_str_has_prefix (message, "please stop"));
  g_assert_false (ag_pending_cancel (pending, "again"));
  g_assert_cmpint (data.calls, ==, 1);
  g_object_unref (pending);
  g_assert_cmpint (data.destroyed, ==, 1);
  canceller_data_clear (&data);
}

static void
test_canceller_reentrant (void)
{
  AgPending *pending = ag_pending_new ();
  CancellerData data;
  g_autofree char *message = NULL;

  /* The canceller calls cancel (which calls it again), get_state and set_*
   * on its own pending: nothing deadlocks */
  canceller_data_init (&data, pending, CANCELLER_REENTER);
  ag_pending_set_canceller (pending, canceller_cb, &data, canceller_destroy);
  g_assert_true (ag_pending_cancel (pending, "first"));
  g_assert_cmpint (data.calls, ==, 2);
  g_assert_cmpstr (g_ptr_array_index (data.messages, 0), ==, "first");
  g_assert_cmpstr (g_ptr_array_index (data.messages, 1), ==, "again");
  assert_state (pending, AG_PENDING_STATE_CANCELLED);
  message = ag_pending_dup_cancel_message (pending);
  g_assert_cmpstr (message, ==, "first\nagain");
  assert_outcome_error (pending, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                        "first\nagain");
  g_object_unref (pending);
  g_assert_cmpint (data.destroyed, ==, 1);
  canceller_data_clear (&data);
}

static void
second_canceller_cb (AgPending  *pending,
                     const char *message,
                     gpointer    user_data)
{
  g_assert_not_reached ();
}

static void
test_canceller_second (void)
{
  AgPending *pending = ag_pending_new ();
  CancellerData data;
  gint second_destroyed = 0;

  canceller_data_init (&data, pending, CANCELLER_RECORD);
  ag_pending_set_canceller (pending, canceller_cb, &data, canceller_destroy);

  /* A second canceller is refused with a warning, and released at once */
  g_test_expect_message (AG_TEST_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                         "*canceller*");
  ag_pending_set_canceller (pending, second_canceller_cb, &second_destroyed,
                            ag_test_count);
  g_test_assert_expected_messages ();
  g_assert_cmpint (second_destroyed, ==, 1);

  /* the first one stays */
  g_assert_true (ag_pending_cancel (pending, "m"));
  g_assert_cmpint (data.calls, ==, 1);
  g_assert_cmpint (data.destroyed, ==, 0);

  /* Also refused while cancelling */
  g_test_expect_message (AG_TEST_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
                         "*canceller*");
  ag_pending_set_canceller (pending, second_canceller_cb, &second_destroyed,
                            ag_test_count);
  g_test_assert_expected_messages ();
  g_assert_cmpint (second_destroyed, ==, 2);
  g_assert_cmpint (data.calls, ==, 1);

  g_object_unref (pending);
  g_assert_cmpint (data.destroyed, ==, 1);
  g_assert_cmpint (second_destroyed, ==, 2);
  canceller_data_clear (&data);
}

static void
test_canceller_after_cancel (void)
{
  AgPending *pending = ag_pending_new ();
  CancellerData data;

  /* Set on a cancelled pending: called at once, with the messages so far */
  g_assert_true (ag_pending_cancel (pending, "early"));
  g_assert_true (ag_pending_cancel (pending, "earlier still"));
  canceller_data_init (&data, pending, CANCELLER_RECORD);
  data.thread = g_thread_self ();
  ag_pending_set_canceller (pending, canceller_cb, &data, canceller_destroy);
  g_assert_cmpint (data.calls, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (data.messages, 0), ==,
                   "early\nearlier still");
  g_assert_cmpint (data.destroyed, ==, 0);

  /* and on every later cancel */
  g_assert_true (ag_pending_cancel (pending, "late"));
  g_assert_cmpint (data.calls, ==, 2);
  g_assert_cmpstr (g_ptr_array_index (data.messages, 1), ==, "late");

  g_assert_true (ag_pending_set_int (pending, 0));
  g_object_unref (pending);
  g_assert_cmpint (data.destroyed, ==, 1);
  canceller_data_clear (&data);

  /* One that completes the pending at once */
  pending = ag_pending_new ();
  g_assert_true (ag_pending_cancel (pending, "early"));
  canceller_data_init (&data, pending, CANCELLER_SET);
  ag_pending_set_canceller (pending, canceller_cb, &data, canceller_destroy);
  g_assert_cmpint (data.calls, ==, 1);
  g_assert_true (data.result);
  assert_state (pending, AG_PENDING_STATE_CANCELLED);
  g_object_unref (pending);
  g_assert_cmpint (data.destroyed, ==, 1);
  canceller_data_clear (&data);
}

static void
test_canceller_after_done (void)
{
  AgPending *pending;
  gint destroyed = 0;

  /* Set on a done pending: released at once, never called */
  pending = ag_pending_new ();
  g_assert_true (ag_pending_set_int (pending, 1));
  ag_pending_set_canceller (pending, second_canceller_cb, &destroyed,
                            ag_test_count);
  g_assert_cmpint (destroyed, ==, 1);
  g_assert_false (ag_pending_cancel (pending, "x"));
  g_object_unref (pending);
  g_assert_cmpint (destroyed, ==, 1);

  /* also on a cancelled, done one */
  pending = ag_pending_new ();
  g_assert_true (ag_pending_cancel (pending, "x"));
  g_assert_true (ag_pending_set_int (pending, 1));
  ag_pending_set_canceller (pending, second_canceller_cb, &destroyed,
                            ag_test_count);
  g_assert_cmpint (destroyed, ==, 2);
  g_object_unref (pending);
  g_assert_cmpint (destroyed, ==, 2);
}

typedef struct
{
  AgPending     *pending;
  CancellerData *data;
  gboolean       result;
} CancelInThread;

static gpointer
cancel_in_thread_func (gpointer user_data)
{
  CancelInThread *cit = user_data;

  cit->data->thread = g_thread_self ();
  cit->result = ag_pending_cancel (cit->pending, "from a thread");
  /* called synchronously, before cancel returns */
  g_assert_cmpint (g_atomic_int_get (&cit->data->calls), ==, 1);
  return NULL;
}

static void
test_canceller_thread (void)
{
  AgPending *pending = ag_pending_new ();
  CancellerData data;
  CancelInThread cit = { pending, &data, FALSE };
  GThread *thread;

  /* The canceller runs in the thread that cancels */
  canceller_data_init (&data, pending, CANCELLER_RECORD);
  ag_pending_set_canceller (pending, canceller_cb, &data, canceller_destroy);
  thread = g_thread_new ("canceller", cancel_in_thread_func, &cit);
  g_thread_join (thread);
  g_assert_true (cit.result);
  g_assert_cmpint (data.calls, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (data.messages, 0), ==, "from a thread");
  assert_state (pending, AG_PENDING_STATE_CANCELLING);

  data.thread = NULL;
  g_assert_true (ag_pending_set_int (pending, 0));
  g_object_unref (pending);
  g_assert_cmpint (data.destroyed, ==, 1);
  canceller_data_clear (&data);
}

/* }}} */

/* {{{ /Pending/done-callbacks/... */

typedef struct
{
  GString *log;
  char     name;
  gint     calls;      /* (atomic) */
  gint     destroyed;  /* (atomic) */
} LogData;

static void
log_done_cb (AgPending *pending,
             gpointer   user_data)
{
  LogData *data = user_data;

  g_assert_true (ag_pending_is_done (pending));
  g_assert_cmpint (g_atomic_int_get (&data->destroyed), ==, 0);
  g_atomic_int_inc (&data->calls);
  g_string_append_c (data->log, data->name);
}

static void
log_destroy (gpointer user_data)
{
  LogData *data = user_data;

  g_assert_cmpint (g_atomic_int_add (&data->destroyed, 1), ==, 0);
  g_string_append_c (data->log, g_ascii_toupper (data->name));
}

static void
test_done_callbacks_order (void)
{
  AgPending *pending = ag_pending_new ();
  g_autoptr(GString) log = g_string_new (NULL);
  LogData data[4];
  guint i;

  for (i = 0; i < G_N_ELEMENTS (data); i++)
    {
      data[i].log = log;
      data[i].name = 'a' + i;
      data[i].calls = 0;
      data[i].destroyed = 0;
      ag_pending_add_done_callback (pending, log_done_cb, &data[i],
                                    log_destroy);
    }
  g_assert_cmpstr (log->str, ==, "");

  /* cancelling does not run them */
  g_assert_true (ag_pending_cancel (pending, NULL));
  g_assert_cmpstr (log->str, ==, "");

  /* FIFO, each once, each destroy after its callback, all before the
   * completing call returns */
  g_assert_true (ag_pending_set_int (pending, 1));
  for (i = 0; i < G_N_ELEMENTS (data); i++)
    {
      const char *cb = strchr (log->str, 'a' + i);
      const char *destroy = strchr (log->str, 'A' + i);

      g_assert_cmpint (data[i].calls, ==, 1);
      g_assert_cmpint (data[i].destroyed, ==, 1);
      g_assert_nonnull (cb);
      g_assert_nonnull (destroy);
      g_assert_true (cb < destroy);
    }
  {
    /* the callbacks alone, in order */
    g_autoptr(GString) calls = g_string_new (NULL);
    const char *c;

    for (c = log->str; *c; c++)
      if (g_ascii_islower (*c))
        g_string_append_c (calls, *c);
    g_assert_cmpstr (calls->str, ==, "abcd");
  }
  g_assert_cmpuint (log->len, ==, 8);

  /* not again */
  g_assert_false (ag_pending_set_int (pending, 2));
  g_object_unref (pending);
  g_assert_cmpuint (log->len, ==, 8);
  for (i = 0; i < G_N_ELEMENTS (data); i++)
    {
      g_assert_cmpint (data[i].calls, ==, 1);
      g_assert_cmpint (data[i].destroyed, ==, 1);
    }
}

static void
test_done_callbacks_already_done (void)
{
  AgPending *pending = ag_pending_new ();
  g_autoptr(GString) log = g_string_new (NULL);
  LogData data = { log, 'x', 0, 0 };
  LogData data2 = { log, 'y', 0, 0 };

  g_assert_true (ag_pending_take_error (pending,
                                        io_error (G_IO_ERROR_FAILED, "x")));

  /* Added to a done pending: called at once, before add returns */
  ag_pending_add_done_callback (pending, log_done_cb, &data, log_destroy);
  g_assert_cmpint (data.calls, ==, 1);
  g_assert_cmpstr (log->str, ==, "xX");

  /* without a destroy notify too */
  ag_pending_add_done_callback (pending, log_done_cb, &data2, NULL);
  g_assert_cmpint (data2.calls, ==, 1);
  g_assert_cmpstr (log->str, ==, "xXy");

  /* nothing left to remove */
  g_assert_cmpuint (ag_pending_remove_done_callback (pending, log_done_cb,
                                                     &data), ==, 0);
  g_object_unref (pending);
  g_assert_cmpstr (log->str, ==, "xXy");
  g_assert_cmpint (data.calls, ==, 1);
  g_assert_cmpint (data.destroyed, ==, 1);
}

typedef struct
{
  AgPending *other;
  gint       outer_calls;   /* (atomic) */
  gint       inner_calls;   /* (atomic) */
  gint       other_calls;   /* (atomic) */
  gint       inner_destroyed;  /* (atomic) */
  gboolean   inner_ran_inline;
} ReentrantData;

static void
reentrant_inner_cb (AgPending *pending,
                    gpointer   user_data)
{
  ReentrantData *data = user_data;

  g_assert_true (ag_pending_is_done (pending));
  g_atomic_int_inc (&data->inner_calls);
}

static void
reentrant_inner_destroy (gpointer user_data)
{
  ReentrantData *data = user_data;

  g_atomic_int_inc (&data->inner_destroyed);
}

static void
reentrant_other_cb (AgPending *pending,
                    gpointer   user_data)
{
  ReentrantData *data = user_data;

  g_atomic_int_inc (&data->other_calls);
}

static void
reentrant_outer_cb (AgPending *pending,
                    gpointer   user_data)
{
  ReentrantData *data = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *description = NULL;

  g_atomic_int_inc (&data->outer_calls);

  /* Every lock is released: the callback may read the pending... */
  assert_state (pending, AG_PENDING_STATE_SUCCEEDED);
  g_assert_cmpint (ag_pending_get_int (pending, &error), ==, 7);
  g_assert_no_error (error);
  g_assert_true (ag_pending_get_value (pending, NULL, NULL));
  g_assert_null (ag_pending_dup_error (pending));
  g_assert_false (ag_pending_cancel (pending, "no"));
  g_assert_false (ag_pending_set_int (pending, 8));
  description = ag_pending_to_string (pending);
  g_assert_nonnull (description);

  /* ...add a callback to it, which runs inline since it is done... */
  ag_pending_add_done_callback (pending, reentrant_inner_cb, data,
                                reentrant_inner_destroy);
  data->inner_ran_inline = g_atomic_int_get (&data->inner_calls) == 1;

  /* ...and complete another pending, whose callbacks run too */
  g_assert_true (ag_pending_set_int (data->other, 1));
  g_assert_cmpint (g_atomic_int_get (&data->other_calls), ==, 1);
}

static void
test_done_callbacks_reentrant (void)
{
  AgPending *pending = ag_pending_new ();
  ReentrantData data = { NULL, };

  data.other = ag_pending_new ();
  ag_pending_add_done_callback (data.other, reentrant_other_cb, &data, NULL);
  ag_pending_add_done_callback (pending, reentrant_outer_cb, &data, NULL);

  g_assert_true (ag_pending_set_int (pending, 7));
  g_assert_cmpint (data.outer_calls, ==, 1);
  g_assert_cmpint (data.inner_calls, ==, 1);
  g_assert_true (data.inner_ran_inline);
  g_assert_cmpint (data.inner_destroyed, ==, 1);
  g_assert_cmpint (data.other_calls, ==, 1);
  assert_state (data.other, AG_PENDING_STATE_SUCCEEDED);

  g_object_unref (pending);
  g_object_unref (data.other);
  g_assert_cmpint (data.outer_calls, ==, 1);
  g_assert_cmpint (data.inner_calls, ==, 1);
  g_assert_cmpint (data.inner_destroyed, ==, 1);
}

static void
other_log_done_cb (AgPending *pending,
                   gpointer   user_data)
{
  log_done_cb (pending, user_data);
}

static void
test_done_callbacks_remove (void)
{
  AgPending *pending = ag_pending_new ();
  g_autoptr(GString) log = g_string_new (NULL);
  LogData a = { log, 'a', 0, 0 };
  LogData b = { log, 'b', 0, 0 };
  LogData c = { log, 'c', 0, 0 };
  LogData d = { log, 'd', 0, 0 };
  gint plain = 0;

  ag_pending_add_done_callback (pending, log_done_cb, &a, log_destroy);
  ag_pending_add_done_callback (pending, log_done_cb, &b, log_destroy);
  ag_pending_add_done_callback (pending, log_done_cb, &c, NULL);
  ag_pending_add_done_callback (pending, log_done_cb, &c, NULL);
  ag_pending_add_done_callback (pending, other_log_done_cb, &c, log_destroy);
  ag_pending_add_done_callback (pending, log_done_cb, &d, log_destroy);
  ag_pending_add_done_callback (pending, count_done_cb, &plain, NULL);

  /* Removes every callback matching func AND data, runs their destroy
   * notifies, returns how many */
  g_assert_cmpuint (ag_pending_remove_done_callback (pending, log_done_cb,
                                                     &c), ==, 2);
  g_assert_cmpstr (log->str, ==, "");
  g_assert_cmpuint (ag_pending_remove_done_callback (pending, log_done_cb,
                                                     &a), ==, 1);
  g_assert_cmpstr (log->str, ==, "A");
  g_assert_cmpint (a.destroyed, ==, 1);
  g_assert_cmpuint (ag_pending_remove_done_callback (pending, log_done_cb,
                                                     &a), ==, 0);
  g_assert_cmpuint (ag_pending_remove_done_callback (pending, count_done_cb,
                                                     &a), ==, 0);
  g_assert_cmpuint (ag_pending_remove_done_callback (pending, log_done_cb,
                                                     NULL), ==, 0);
  g_assert_cmpstr (log->str, ==, "A");

  /* The others run, in order */
  g_assert_true (ag_pending_set_value (pending, NULL));
  g_assert_cmpint (a.calls, ==, 0);
  g_assert_cmpint (b.calls, ==, 1);
  g_assert_cmpint (c.calls, ==, 1);
  g_assert_cmpint (d.calls, ==, 1);
  g_assert_cmpint (plain, ==, 1);
  g_assert_cmpstr (log->str, ==, "AbBcCdD");

  /* Nothing to remove once done */
  g_assert_cmpuint (ag_pending_remove_done_callback (pending, log_done_cb,
                                                     &b), ==, 0);
  g_object_unref (pending);
  g_assert_cmpstr (log->str, ==, "AbBcCdD");
  g_assert_cmpint (a.destroyed, ==, 1);
  g_assert_cmpint (b.destroyed, ==, 1);
  g_assert_cmpint (c.destroyed, ==, 1);
  g_assert_cmpint (d.destroyed, ==, 1);
}

static void
test_done_callbacks_finalize (void)
{
  AgPending *pending = ag_pending_new ();
  g_autoptr(GString) log = g_string_new (NULL);
  LogData a = { log, 'a', 0, 0 };
  LogData b = { log, 'b', 0, 0 };

  /* Never done: the callbacks never run, their destroy notifies run once at
   * finalize */
  ag_pending_add_done_callback (pending, log_done_cb, &a, log_destroy);
  ag_pending_add_done_callback (pending, log_done_cb, &b, log_destroy);
  g_assert_true (ag_pending_cancel (pending, "never done"));
  g_object_unref (pending);
  g_assert_cmpint (a.calls, ==, 0);
  g_assert_cmpint (b.calls, ==, 0);
  g_assert_cmpint (a.destroyed, ==, 1);
  g_assert_cmpint (b.destroyed, ==, 1);
  g_assert_cmpstr (log->str, ==, "AB");
}

typedef struct
{
  AgPending *pending;     /* the ref the callback drops */
  gint       calls;       /* (atomic) */
  gint       after_calls; /* (atomic) */
  gint       destroyed;   /* (atomic) */
} LastRefData;

static void
last_ref_cb (AgPending *pending,
             gpointer   user_data)
{
  LastRefData *data = user_data;

  g_assert_true (pending == data->pending);
  g_atomic_int_inc (&data->calls);
  /* Drop what may be the last reference outside the library's */
  g_clear_object (&data->pending);
  /* the pending is still usable during the call */
  g_assert_true (ag_pending_is_done (pending));
}

static void
last_ref_after_cb (AgPending *pending,
                   gpointer   user_data)
{
  LastRefData *data = user_data;

  /* a later callback still runs, on a live pending */
  g_assert_true (AG_IS_PENDING (pending));
  g_assert_true (ag_pending_is_done (pending));
  g_atomic_int_inc (&data->after_calls);
}

static void
last_ref_destroy (gpointer user_data)
{
  LastRefData *data = user_data;

  g_atomic_int_inc (&data->destroyed);
}

static gpointer
set_int_in_thread_func (gpointer user_data)
{
  AgPending *pending = user_data;

  g_assert_true (ag_pending_set_int (pending, 1));
  return NULL;
}

static void
test_done_callbacks_last_ref (void)
{
  guint round;

  /* Round 0 completes in this thread, round 1 in another */
  for (round = 0; round < 2; round++)
    {
      GMainContext *context = ag_test_push_context ();
      AgPending *pending = ag_pending_new ();
      AgPending *weak = pending;
      LastRefData data = { pending, 0, 0, 0 };

      g_object_add_weak_pointer (G_OBJECT (pending), (gpointer *) &weak);
      ag_pending_add_done_callback (pending, last_ref_cb, &data, NULL);
      ag_pending_add_done_callback (pending, last_ref_after_cb, &data,
                                    last_ref_destroy);
      if (round == 0)
        {
          /* hold no reference of our own while completing */
          g_assert_true (ag_pending_set_int (weak, 1));
        }
      else
        {
          GThread *thread = g_thread_new ("last-ref", set_int_in_thread_func,
                                          pending);
          g_thread_join (thread);
        }
      g_assert_cmpint (data.calls, ==, 1);
      g_assert_cmpint (data.after_calls, ==, 1);
      g_assert_null (data.pending);

      /* nothing keeps it alive (context drained in case the library
       * deferred its release to the pending's context) */
      ag_test_drain (context);
      g_assert_null (weak);
      g_assert_cmpint (data.destroyed, ==, 1);
      ag_test_pop_context (context);
    }
}

typedef struct
{
  GThread *thread;
  gint     calls;  /* (atomic) */
} ThreadCheckData;

static void
thread_check_done_cb (AgPending *pending,
                      gpointer   user_data)
{
  ThreadCheckData *data = user_data;

  g_assert_true (g_thread_self () == data->thread);
  g_atomic_int_inc (&data->calls);
}

typedef struct
{
  AgPending       *pending;
  ThreadCheckData *data;
} CompleteInThread;

static gpointer
complete_in_thread_func (gpointer user_data)
{
  CompleteInThread *cit = user_data;

  cit->data->thread = g_thread_self ();
  g_assert_true (ag_pending_set_int (cit->pending, 1));
  /* the callbacks ran before set returned */
  g_assert_cmpint (g_atomic_int_get (&cit->data->calls), ==, 2);
  return NULL;
}

static void
test_done_callbacks_thread (void)
{
  GMainContext *context = ag_test_push_context ();
  AgPending *pending = ag_pending_new ();
  ThreadCheckData data = { NULL, 0 };
  CompleteInThread cit = { pending, &data };
  GThread *thread;

  /* Done callbacks run in the thread that completes the pending, not on the
   * pending's context */
  ag_pending_add_done_callback (pending, thread_check_done_cb, &data, NULL);
  ag_pending_add_done_callback (pending, thread_check_done_cb, &data, NULL);
  thread = g_thread_new ("complete", complete_in_thread_func, &cit);
  g_thread_join (thread);
  g_assert_cmpint (data.calls, ==, 2);

  /* added later from this thread: runs here, inline */
  data.thread = g_thread_self ();
  ag_pending_add_done_callback (pending, thread_check_done_cb, &data, NULL);
  g_assert_cmpint (data.calls, ==, 3);

  ag_test_drain (context);
  g_assert_cmpint (data.calls, ==, 3);
  g_object_unref (pending);
  ag_test_pop_context (context);
}

/* }}} */

/* {{{ /Pending/notify/... */

typedef struct
{
  GThread        *thread;      /* where the handler must run */
  AgPendingState  final;       /* the state to wait for */
  gint            calls;       /* (atomic) */
  gint            final_seen;  /* (atomic) */
} NotifyData;

static void
notify_state_cb (GObject    *object,
                 GParamSpec *pspec,
                 gpointer    user_data)
{
  NotifyData *data = user_data;
  AgPending *pending = AG_PENDING (object);

  /* Only on the pending's own context, in the thread that owns it */
  g_assert_cmpstr (pspec->name, ==, "state");
  g_assert_true (g_thread_self () == data->thread);
  g_assert_true (g_main_context_is_owner (ag_pending_get_context (pending)));

  g_atomic_int_inc (&data->calls);
  if (ag_pending_get_state (pending) == data->final)
    g_atomic_int_set (&data->final_seen, 1);
}

static gpointer
cancel_and_set_in_thread_func (gpointer user_data)
{
  AgPending *pending = user_data;

  g_assert_true (ag_pending_cancel (pending, "from worker"));
  g_assert_true (ag_pending_set_int (pending, 1));
  return NULL;
}

static void
test_notify_from_thread (void)
{
  GMainContext *context = ag_test_push_context ();
  AgPending *pending = ag_pending_new ();
  NotifyData data = { g_thread_self (), AG_PENDING_STATE_SUCCEEDED, 0, 0 };
  GThread *thread;

  /* Completed in a worker: the notify is not emitted there but delivered by
   * iterating the pending's context, in this thread */
  g_signal_connect (pending, "notify::state", G_CALLBACK (notify_state_cb),
                    &data);
  thread = g_thread_new ("notify", set_int_in_thread_func, pending);
  g_thread_join (thread);
  g_assert_cmpint (data.calls, ==, 0);

  ag_test_iterate_until (context, &data.final_seen, 1);
  g_assert_cmpint (data.calls, >=, 1);
  g_object_unref (pending);

  /* Cancelled then completed in a worker: the final state arrives too */
  pending = ag_pending_new ();
  data.final = AG_PENDING_STATE_CANCELLED;
  data.calls = 0;
  data.final_seen = 0;
  g_signal_connect (pending, "notify::state", G_CALLBACK (notify_state_cb),
                    &data);
  thread = g_thread_new ("notify", cancel_and_set_in_thread_func, pending);
  g_thread_join (thread);
  g_assert_cmpint (data.calls, ==, 0);
  ag_test_iterate_until (context, &data.final_seen, 1);
  g_object_unref (pending);

  ag_test_pop_context (context);
}

static void
notify_source_cb (GObject    *object,
                  GParamSpec *pspec,
                  gpointer    user_data)
{
  GSource *source = g_main_current_source ();

  if (source != NULL &&
      g_strcmp0 (g_source_get_name (source), "[async-gobject] AgCaller") == 0)
    g_atomic_int_inc ((gint *) user_data);
}

static void
test_notify_done_on_caller (void)
{
  GMainContext *context = ag_test_push_context ();
  g_autoptr(AgCaller) caller = g_object_ref (ag_caller_get_current ());
  AgPending *pending = ag_pending_new ();
  NotifyData data = { g_thread_self (), AG_PENDING_STATE_SUCCEEDED, 0, 0 };
  gint delivered = 0;
  gint through_caller = 0;
  GThread *thread;

  /* Done callbacks on the caller of the pending's own context: the first
   * emits notify::state there, once, from the caller's dispatch (no source
   * of its own, no lookup of handlers in the worker) */
  g_signal_connect (pending, "notify::state", G_CALLBACK (notify_state_cb),
                    &data);
  g_signal_connect (pending, "notify::state", G_CALLBACK (notify_source_cb),
                    &through_caller);
  ag_pending_add_done_callback_on (pending, caller, ag_test_count_done_cb,
                                   &delivered, NULL);
  ag_pending_add_done_callback_on (pending, caller, ag_test_count_done_cb,
                                   &delivered, NULL);
  thread = g_thread_new ("notify", set_int_in_thread_func, pending);
  g_thread_join (thread);
  g_assert_cmpint (data.calls, ==, 0);
  ag_test_iterate_until (context, &delivered, 2);
  ag_test_drain (context);
  g_assert_cmpint (data.calls, ==, 1);
  g_assert_cmpint (data.final_seen, ==, 1);
  g_assert_cmpint (through_caller, ==, 1);

  /* One added once it is done: no notification again */
  ag_pending_add_done_callback_on (pending, caller, ag_test_count_done_cb,
                                   &delivered, NULL);
  ag_test_iterate_until (context, &delivered, 3);
  ag_test_drain (context);
  g_assert_cmpint (data.calls, ==, 1);
  g_object_unref (pending);

  /* The caller stops before it delivers: the callback never runs, the
   * notification still comes, once */
  pending = ag_pending_new ();
  data.calls = 0;
  data.final_seen = 0;
  g_signal_connect (pending, "notify::state", G_CALLBACK (notify_state_cb),
                    &data);
  ag_pending_add_done_callback_on (pending, caller, ag_test_count_done_cb,
                                   &delivered, NULL);
  ag_caller_stop (caller, TRUE);
  g_assert_cmpint (ag_caller_get_state (caller), ==, AG_CALLER_STATE_STOPPED);
  thread = g_thread_new ("notify", set_int_in_thread_func, pending);
  g_thread_join (thread);
  ag_test_iterate_until (context, &data.final_seen, 1);
  ag_test_drain (context);
  g_assert_cmpint (data.calls, ==, 1);
  g_assert_cmpint (delivered, ==, 3);
  g_object_unref (pending);

  ag_test_pop_context (context);
}

static void
test_notify_default_context (void)
{
  AgPending *pending;
  NotifyData data = { g_thread_self (), AG_PENDING_STATE_SUCCEEDED, 0, 0 };
  GThread *thread;

  /* The same with the global default context, which no thread owns while
   * nobody iterates it: the worker must still not emit the notify itself
   * (by acquiring the context), it is delivered when this thread iterates */
  g_assert_true (g_main_context_get_thread_default () == NULL);
  pending = ag_pending_new ();
  g_assert_true (ag_pending_get_context (pending) == g_main_context_default ());
  g_signal_connect (pending, "notify::state", G_CALLBACK (notify_state_cb),
                    &data);
  thread = g_thread_new ("notify", set_int_in_thread_func, pending);
  g_thread_join (thread);
  g_assert_cmpint (data.calls, ==, 0);

  ag_test_iterate_until (g_main_context_default (), &data.final_seen, 1);
  g_object_unref (pending);
  ag_test_drain (g_main_context_default ());
}

static void
test_notify_owner (void)
{
  GMainContext *context = ag_test_push_context ();
  AgPending *pending = ag_pending_new ();
  NotifyData data = { g_thread_self (), AG_PENDING_STATE_CANCELLING, 0, 0 };

  /* Changed in the owning thread: delivered inline or by the next
   * iterations of the context, never lost */
  g_signal_connect (pending, "notify::state", G_CALLBACK (notify_state_cb),
                    &data);
  g_assert_true (ag_pending_cancel (pending, NULL));
  ag_test_iterate_until (context, &data.final_seen, 1);

  data.final = AG_PENDING_STATE_CANCELLED;
  data.final_seen = 0;
  g_assert_true (ag_pending_set_int (pending, 1));
  ag_test_iterate_until (context, &data.final_seen, 1);
  g_object_unref (pending);

  pending = ag_pending_new ();
  data.final = AG_PENDING_STATE_FAILED;
  data.final_seen = 0;
  g_signal_connect (pending, "notify::state", G_CALLBACK (notify_state_cb),
                    &data);
  g_assert_true (ag_pending_take_error (pending,
                                        io_error (G_IO_ERROR_FAILED, "f")));
  ag_test_iterate_until (context, &data.final_seen, 1);
  g_object_unref (pending);

  ag_test_pop_context (context);
}

typedef struct
{
  AgTestLatch  latch;
  AgPending   *pending;  /* set by the thread before latch 1 */
  NotifyData   data;
} NotifyThreadData;

static gpointer
notify_owner_thread_func (gpointer user_data)
{
  NotifyThreadData *ntd = user_data;
  GMainContext *context = ag_test_push_context ();

  ntd->pending = ag_pending_new ();
  ntd->data.thread = g_thread_self ();
  ntd->data.final = AG_PENDING_STATE_CANCELLED;
  g_signal_connect (ntd->pending, "notify::state",
                    G_CALLBACK (notify_state_cb), &ntd->data);
  ag_test_latch_set (&ntd->latch, 1);

  /* the main thread cancels and completes it meanwhile */
  ag_test_latch_wait (&ntd->latch, 2);
  ag_test_iterate_until (context, &ntd->data.final_seen, 1);

  g_clear_object (&ntd->pending);
  ag_test_pop_context (context);
  return NULL;
}

static void
test_notify_other_context (void)
{
  NotifyThreadData ntd = { 0, };
  GThread *thread;

  /* A pending created in a thread with its own context, changed from this
   * thread: the notify runs in the creating thread, when it iterates */
  ag_test_latch_init (&ntd.latch);
  thread = g_thread_new ("owner", notify_owner_thread_func, &ntd);
  ag_test_latch_wait (&ntd.latch, 1);
  g_assert_true (ag_pending_cancel (ntd.pending, "from main"));
  g_assert_true (ag_pending_set_int (ntd.pending, 1));
  g_assert_cmpint (g_atomic_int_get (&ntd.data.calls), ==, 0);
  ag_test_latch_set (&ntd.latch, 2);
  g_thread_join (thread);
  g_assert_cmpint (ntd.data.final_seen, ==, 1);
  ag_test_latch_clear (&ntd.latch);
}

static void
test_notify_no_listener (void)
{
  GMainContext *context = ag_test_push_context ();
  AgPending *pending = ag_pending_new ();
  GThread *thread;
  gint done = 0;

  /* Nobody listens: completing from a worker attaches nothing to the
   * pending's context */
  g_assert_false (g_main_context_pending (context));
  thread = g_thread_new ("no-listener", cancel_and_set_in_thread_func,
                         pending);
  g_thread_join (thread);
  assert_state (pending, AG_PENDING_STATE_CANCELLED);
  g_assert_false (g_main_context_pending (context));
  g_object_unref (pending);
  g_assert_false (g_main_context_pending (context));

  /* Nor with done callbacks only (they run in the completing thread) */
  pending = ag_pending_new ();
  ag_pending_add_done_callback (pending, count_done_cb, &done, NULL);
  thread = g_thread_new ("no-listener", set_int_in_thread_func, pending);
  g_thread_join (thread);
  g_assert_cmpint (done, ==, 1);
  g_assert_false (g_main_context_pending (context));

  /* Nor in the owning thread */
  g_object_unref (pending);
  pending = ag_pending_new ();
  g_assert_true (ag_pending_cancel (pending, NULL));
  g_assert_true (ag_pending_set_int (pending, 1));
  g_assert_false (g_main_context_pending (context));
  g_object_unref (pending);

  ag_test_pop_context (context);
}

static void
test_notify_finalize (void)
{
  GMainContext *context = ag_test_push_context ();
  AgPending *pending = ag_pending_new ();
  AgPending *weak = pending;
  NotifyData data = { g_thread_self (), AG_PENDING_STATE_SUCCEEDED, 0, 0 };
  GThread *thread;

  /* A notify queued for a pending whose last user ref goes before the
   * context runs: no crash, no leak, and the pending does go */
  g_object_add_weak_pointer (G_OBJECT (pending), (gpointer *) &weak);
  g_signal_connect (pending, "notify::state", G_CALLBACK (notify_state_cb),
                    &data);
  thread = g_thread_new ("notify", set_int_in_thread_func, pending);
  g_thread_join (thread);
  g_object_unref (pending);
  ag_test_drain (context);
  g_assert_null (weak);
  g_assert_cmpint (data.calls, <=, 1);
  g_assert_false (g_main_context_pending (context));

  ag_test_pop_context (context);
}

/* }}} */

/* {{{ /Pending/wait-sync/... */

static void
test_wait_sync_done (void)
{
  AgPending *pending;
  g_autoptr(GError) error = NULL;
  const double timeouts[] = { -1.0, 0.0, 10.0 };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (timeouts); i++)
    {
      gint64 start = g_get_monotonic_time ();

      /* Already done: returns at once */
      pending = ag_pending_new ();
      g_assert_true (ag_pending_set_int (pending, 1));
      g_assert_true (ag_pending_wait_sync (pending, timeouts[i], &error));
      g_assert_no_error (error);
      g_assert_true (ag_pending_wait_sync (pending, timeouts[i], NULL));
      g_object_unref (pending);

      pending = ag_pending_new ();
      g_assert_true (ag_pending_set_value (pending, NULL));
      g_assert_true (ag_pending_wait_sync (pending, timeouts[i], &error));
      g_assert_no_error (error);
      g_object_unref (pending);

      /* failed: the pending's own error */
      pending = ag_pending_new ();
      g_assert_true (ag_pending_take_error (pending,
                                            io_error (G_IO_ERROR_NOT_FOUND,
                                                      "not found")));
      g_assert_false (ag_pending_wait_sync (pending, timeouts[i], &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
      g_assert_cmpstr (error->message, ==, "not found");
      g_clear_error (&error);
      g_assert_false (ag_pending_wait_sync (pending, timeouts[i], NULL));
      g_object_unref (pending);

      /* cancelled */
      pending = ag_pending_new ();
      g_assert_true (ag_pending_cancel (pending, "cancelled here"));
      g_assert_true (ag_pending_set_int (pending, 1));
      g_assert_false (ag_pending_wait_sync (pending, timeouts[i], &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
      g_assert_cmpstr (error->message, ==, "cancelled here");
      g_clear_error (&error);
      g_object_unref (pending);

      g_assert_cmpint (g_get_monotonic_time () - start, <,
                       5 * G_TIME_SPAN_SECOND);
    }
}

static void
test_wait_sync_timeout (void)
{
  AgPending *pending = ag_pending_new ();
  g_autoptr(GError) error = NULL;
  gint64 start;
  gint64 elapsed;

  /* Timeout 0 on a pending that is not done: TIMED_OUT at once */
  start = g_get_monotonic_time ();
  g_assert_false (ag_pending_wait_sync (pending, 0.0, &error));
  elapsed = g_get_monotonic_time () - start;
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error (&error);
  g_assert_cmpint (elapsed, <, 5 * G_TIME_SPAN_SECOND);
  /* wait_sync does not cancel */
  assert_state (pending, AG_PENDING_STATE_RUNNING);

  /* A short timeout: waits about that long, then TIMED_OUT */
  start = g_get_monotonic_time ();
  g_assert_false (ag_pending_wait_sync (pending, 0.05, &error));
  elapsed = g_get_monotonic_time () - start;
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error (&error);
  g_assert_cmpint (elapsed, >=, 45 * G_TIME_SPAN_MILLISECOND);
  g_assert_cmpint (elapsed, <, 10 * G_TIME_SPAN_SECOND);
  assert_state (pending, AG_PENDING_STATE_RUNNING);
  g_assert_null (ag_pending_dup_cancel_message (pending));

  /* still completes normally afterwards */
  g_assert_true (ag_pending_set_int (pending, 3));
  g_assert_true (ag_pending_wait_sync (pending, 0.0, &error));
  g_assert_no_error (error);
  g_object_unref (pending);
}

typedef struct
{
  AgTestLatch  latch;
  AgPending   *pending;
  guint        kind;
} WaitSyncData;

static gpointer
wait_sync_worker_func (gpointer user_data)
{
  WaitSyncData *wsd = user_data;

  /* Complete once the main thread says it is about to wait */
  ag_test_latch_wait (&wsd->latch, 1);
  switch (wsd->kind)
    {
    case 0:
      g_assert_true (ag_pending_set_int (wsd->pending, 42));
      break;

    case 1:
      g_assert_true (ag_pending_take_error (wsd->pending,
                                            io_error (G_IO_ERROR_BUSY,
                                                      "busy")));
      break;

    case 2:
      g_assert_true (ag_pending_cancel (wsd->pending, "bye"));
      g_assert_true (ag_pending_set_int (wsd->pending, 1));
      break;

    default:
      g_assert_not_reached ();
    }
  return NULL;
}

static void
test_wait_sync_thread (void)
{
  guint n = ag_test_iterations (300, 3000);
  guint i;

  /* A real thread completes the pending while this one blocks in
   * wait_sync (or just before: the interleaving cannot be forced, so the
   * race is run many times and the result must always be right) */
  for (i = 0; i < n; i++)
    {
      WaitSyncData wsd;
      g_autoptr(GError) error = NULL;
      GThread *thread;
      gboolean ok;

      ag_test_latch_init (&wsd.latch);
      wsd.pending = ag_pending_new ();
      wsd.kind = i % 3;
      thread = g_thread_new ("wait-sync", wait_sync_worker_func, &wsd);

      ag_test_latch_set (&wsd.latch, 1);
      ok = ag_pending_wait_sync (wsd.pending, (i & 4) ? -1.0 : 60.0, &error);
      g_assert_true (ag_pending_is_done (wsd.pending));
      switch (wsd.kind)
        {
        case 0:
          g_assert_no_error (error);
          g_assert_true (ok);
          g_assert_cmpint (ag_pending_get_int (wsd.pending, NULL), ==, 42);
          break;

        case 1:
          g_assert_error (error, G_IO_ERROR, G_IO_ERROR_BUSY);
          g_assert_false (ok);
          break;

        case 2:
          g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
          g_assert_cmpstr (error->message, ==, "bye");
          g_assert_false (ok);
          break;

        default:
          g_assert_not_reached ();
        }

      g_thread_join (thread);
      g_object_unref (wsd.pending);
      ag_test_latch_clear (&wsd.latch);
    }
}

/* }}} */

/* {{{ /Pending/wait-async/... */

/* The wait-async tests run twice: on contexts without a caller (GTask
 * delivers through an idle source per wait), and on contexts with one
 * (/Pending/wait-async-on-caller/: the outcome comes back through the
 * caller's queue, and GTask returns from inside its dispatch). */
static gboolean wait_with_caller;

static GMainContext *
wait_push_context (void)
{
  GMainContext *context = ag_test_push_context ();

  if (wait_with_caller)
    g_assert_nonnull (ag_caller_get_current ());
  return context;
}

static void
wait_pop_context (GMainContext *context)
{
  if (wait_with_caller)
    {
      /* the registry's reference may be the last */
      g_autoptr(AgCaller) caller = g_object_ref (ag_caller_get_current ());

      ag_test_drain (context);
      ag_caller_stop (caller, TRUE);
      g_assert_cmpint (ag_caller_get_state (caller), ==,
                       AG_CALLER_STATE_STOPPED);
    }
  ag_test_pop_context (context);
}

typedef struct
{
  AgPending    *pending;
  GMainContext *context;  /* where the callback must run */
  GThread      *thread;   /* and in which thread */
  gint          calls;    /* (atomic) */
  gboolean      result;
  GError       *error;
  gboolean      through_caller;  /* ended by the pending's outcome */
} WaitData;

static void
wait_data_init (WaitData     *data,
                AgPending    *pending,
                GMainContext *context)
{
  memset (data, 0, sizeof *data);
  data->pending = pending;
  data->context = context;
  data->thread = g_thread_self ();
}

static void
wait_data_clear (WaitData *data)
{
  g_clear_error (&data->error);
}

static void
wait_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  WaitData *data = user_data;

  /* GIO's rules: on the thread-default context of the thread that called
   * wait_async, once, with the pending as source object */
  g_assert_true (g_thread_self () == data->thread);
  g_assert_true (g_main_context_get_thread_default () == data->context);
  g_assert_true (g_main_context_is_owner (data->context));
  g_assert_true (source == G_OBJECT (data->pending));
  g_assert_true (G_IS_ASYNC_RESULT (result));
  g_assert_cmpint (g_atomic_int_add (&data->calls, 1), ==, 0);

  data->result = ag_pending_wait_finish (data->pending, result, &data->error);
  g_assert_true (data->result == (data->error == NULL));

  /* With a caller on the context, an outcome of the pending (not a timeout
   * or a cancellable, which end the wait themselves) comes through the
   * caller's queue: no GSource of its own. */
  if (wait_with_caller && data->through_caller)
    g_assert_cmpstr (g_source_get_name (g_main_current_source ()), ==,
                     "[async-gobject] AgCaller");
}

static void
test_wait_async_done (void)
{
  GMainContext *context = wait_push_context ();
  AgPending *pending;
  WaitData data;
  const double timeouts[] = { -1.0, 0.0, 10.0 };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (timeouts); i++)
    {
      /* Succeeded: the callback is not called from inside wait_async */
      pending = ag_pending_new ();
      g_assert_true (ag_pending_set_int (pending, 1));
      wait_data_init (&data, pending, context);
      data.through_caller = TRUE;
      ag_pending_wait_async (pending, timeouts[i], FALSE, NULL, wait_cb, &data);
      g_assert_cmpint (data.calls, ==, 0);
      ag_test_iterate_until (context, &data.calls, 1);
      g_assert_true (data.result);
      g_assert_no_error (data.error);
      assert_state (pending, AG_PENDING_STATE_SUCCEEDED);
      wait_data_clear (&data);
      g_object_unref (pending);

      /* Failed: wait_finish gives the pending's error */
      pending = ag_pending_new ();
      g_assert_true (ag_pending_take_error (pending,
                                            io_error (G_IO_ERROR_NOT_FOUND,
                                                      "gone")));
      wait_data_init (&data, pending, context);
      data.through_caller = TRUE;
      ag_pending_wait_async (pending, timeouts[i], FALSE, NULL, wait_cb, &data);
      g_assert_cmpint (data.calls, ==, 0);
      ag_test_iterate_until (context, &data.calls, 1);
      g_assert_false (data.result);
      g_assert_error (data.error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
      g_assert_cmpstr (data.error->message, ==, "gone");
      wait_data_clear (&data);
      g_object_unref (pending);

      /* Cancelled */
      pending = ag_pending_new ();
      g_assert_true (ag_pending_cancel (pending, "was cancelled"));
      g_assert_true (ag_pending_set_int (pending, 1));
      wait_data_init (&data, pending, context);
      data.through_caller = TRUE;
      ag_pending_wait_async (pending, timeouts[i], FALSE, NULL, wait_cb, &data);
      g_assert_cmpint (data.calls, ==, 0);
      ag_test_iterate_until (context, &data.calls, 1);
      g_assert_false (data.result);
      g_assert_error (data.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
      g_assert_cmpstr (data.error->message, ==, "was cancelled");
      wait_data_clear (&data);
      g_object_unref (pending);
    }

  wait_pop_context (context);
}

static void
test_wait_async_later (void)
{
  GMainContext *context = wait_push_context ();
  AgPending *pending;
  WaitData data;
  GThread *thread;

  /* Completed later in this thread */
  pending = ag_pending_new ();
  wait_data_init (&data, pending, context);
  data.through_caller = TRUE;
  ag_pending_wait_async (pending, -1.0, FALSE, NULL, wait_cb, &data);
  ag_test_drain (context);
  g_assert_cmpint (data.calls, ==, 0);
  g_assert_true (ag_pending_set_int (pending, 5));
  ag_test_iterate_until (context, &data.calls, 1);
  g_assert_true (data.result);
  ag_test_drain (context);
  g_assert_cmpint (data.calls, ==, 1);
  wait_data_clear (&data);
  g_object_unref (pending);

  /* Failed later, in another thread, with a timeout that does not fire */
  pending = ag_pending_new ();
  wait_data_init (&data, pending, context);
  data.through_caller = TRUE;
  ag_pending_wait_async (pending, 60.0, FALSE, NULL, wait_cb, &data);
  thread = g_thread_new ("fail", cancel_and_set_in_thread_func, pending);
  g_thread_join (thread);
  ag_test_iterate_until (context, &data.calls, 1);
  g_assert_false (data.result);
  g_assert_error (data.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpstr (data.error->message, ==, "from worker");
  wait_data_clear (&data);
  g_object_unref (pending);

  /* Several waiters on one pending, each called once */
  {
    WaitData more[3];
    guint i;

    pending = ag_pending_new ();
    for (i = 0; i < G_N_ELEMENTS (more); i++)
      {
        wait_data_init (&more[i], pending, context);
        more[i].through_caller = TRUE;
        ag_pending_wait_async (pending, -1.0, i == 1, NULL, wait_cb, &more[i]);
      }
    g_assert_true (ag_pending_set_string (pending, "all"));
    for (i = 0; i < G_N_ELEMENTS (more); i++)
      {
        ag_test_iterate_until (context, &more[i].calls, 1);
        g_assert_true (more[i].result);
        wait_data_clear (&more[i]);
      }
    ag_test_drain (context);
    for (i = 0; i < G_N_ELEMENTS (more); i++)
      g_assert_cmpint (more[i].calls, ==, 1);
    g_object_unref (pending);
  }

  wait_pop_context (context);
}

typedef struct
{
  AgTestLatch  latch;
  AgPending   *pending;
  WaitData     data;
} WaitAsyncThreadData;

static gpointer
wait_async_thread_func (gpointer user_data)
{
  WaitAsyncThreadData *wat = user_data;
  GMainContext *context = wait_push_context ();

  wait_data_init (&wat->data, wat->pending, context);
  ag_pending_wait_async (wat->pending, -1.0, FALSE, NULL, wait_cb, &wat->data);
  g_assert_cmpint (g_atomic_int_get (&wat->data.calls), ==, 0);
  ag_test_latch_set (&wat->latch, 1);

  /* the main thread completes the pending; we get the result here */
  ag_test_iterate_until (context, &wat->data.calls, 1);
  wait_pop_context (context);
  return NULL;
}

static void
test_wait_async_thread (void)
{
  WaitAsyncThreadData wat;
  GThread *thread;

  /* wait_async from a worker with its own context: the callback runs there,
   * in the worker, even though this thread completes the pending */
  ag_test_latch_init (&wat.latch);
  wat.pending = ag_pending_new ();
  thread = g_thread_new ("wait-async", wait_async_thread_func, &wat);
  ag_test_latch_wait (&wat.latch, 1);
  g_assert_true (ag_pending_set_int (wat.pending, 11));
  g_thread_join (thread);
  g_assert_cmpint (wat.data.calls, ==, 1);
  g_assert_true (wat.data.result);
  g_assert_no_error (wat.data.error);
  wait_data_clear (&wat.data);
  g_object_unref (wat.pending);
  ag_test_latch_clear (&wat.latch);

  /* The same with a pending that already failed */
  ag_test_latch_init (&wat.latch);
  wat.pending = ag_pending_new ();
  g_assert_true (ag_pending_take_error (wat.pending,
                                        io_error (G_IO_ERROR_EXISTS,
                                                  "exists")));
  thread = g_thread_new ("wait-async", wait_async_thread_func, &wat);
  g_thread_join (thread);
  g_assert_cmpint (wat.data.calls, ==, 1);
  g_assert_false (wat.data.result);
  g_assert_error (wat.data.error, G_IO_ERROR, G_IO_ERROR_EXISTS);
  wait_data_clear (&wat.data);
  g_object_unref (wat.pending);
  ag_test_latch_clear (&wat.latch);
}

static void
test_wait_async_timeout (void)
{
  GMainContext *context = wait_push_context ();
  AgPending *pending;
  WaitData data;
  CancellerData canceller;
  guint protect;

  for (protect = 0; protect < 2; protect++)
    {
      const double timeouts[] = { 0.0, 0.05 };
      guint i;

      for (i = 0; i < G_N_ELEMENTS (timeouts); i++)
        {
          pending = ag_pending_new ();
          canceller_data_init (&canceller, pending, CANCELLER_RECORD);
          ag_pending_set_canceller (pending, canceller_cb, &canceller,
                                    canceller_destroy);
          wait_data_init (&data, pending, context);
          ag_pending_wait_async (pending, timeouts[i], protect, NULL, wait_cb,
                                 &data);
          g_assert_cmpint (data.calls, ==, 0);
          ag_test_iterate_until (context, &data.calls, 1);
          g_assert_false (data.result);
          g_assert_error (data.error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);

          if (protect)
            {
              /* protected: the pending keeps running */
              assert_state (pending, AG_PENDING_STATE_RUNNING);
              g_assert_cmpint (canceller.calls, ==, 0);
            }
          else
            {
              /* the timeout cancels the pending */
              assert_state (pending, AG_PENDING_STATE_CANCELLING);
              g_assert_cmpint (canceller.calls, ==, 1);
            }

          /* completing it later does not call the callback again */
          g_assert_true (ag_pending_set_int (pending, 1));
          assert_state (pending, protect ? AG_PENDING_STATE_SUCCEEDED
                                         : AG_PENDING_STATE_CANCELLED);
          ag_test_drain (context);
          g_assert_cmpint (data.calls, ==, 1);
          wait_data_clear (&data);
          g_object_unref (pending);
          g_assert_cmpint (canceller.destroyed, ==, 1);
          canceller_data_clear (&canceller);
          ag_test_drain (context);
          g_assert_cmpint (data.calls, ==, 1);
        }
    }

  wait_pop_context (context);
}

static void
test_wait_async_cancellable (void)
{
  GMainContext *context = wait_push_context ();
  guint protect;
  guint before;

  for (protect = 0; protect < 2; protect++)
    for (before = 0; before < 2; before++)
      {
        AgPending *pending = ag_pending_new ();
        g_autoptr(GCancellable) cancellable = g_cancellable_new ();
        CancellerData canceller;
        WaitData data;

        canceller_data_init (&canceller, pending, CANCELLER_RECORD);
        ag_pending_set_canceller (pending, canceller_cb, &canceller,
                                  canceller_destroy);
        wait_data_init (&data, pending, context);

        if (before)
          {
            /* already cancelled: still not inline */
            g_cancellable_cancel (cancellable);
            ag_pending_wait_async (pending, -1.0, protect, cancellable,
                                   wait_cb, &data);
            g_assert_cmpint (data.calls, ==, 0);
          }
        else
          {
            ag_pending_wait_async (pending, 60.0, protect, cancellable,
                                   wait_cb, &data);
            g_assert_cmpint (data.calls, ==, 0);
            ag_test_drain (context);
            g_assert_cmpint (data.calls, ==, 0);
            g_cancellable_cancel (cancellable);
          }

        ag_test_iterate_until (context, &data.calls, 1);
        g_assert_false (data.result);
        g_assert_error (data.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);

        if (protect)
          {
            assert_state (pending, AG_PENDING_STATE_RUNNING);
            g_assert_cmpint (canceller.calls, ==, 0);
          }
        else
          {
            assert_state (pending, AG_PENDING_STATE_CANCELLING);
            g_assert_cmpint (canceller.calls, ==, 1);
          }

        /* completion later does not call back again */
        g_assert_true (ag_pending_set_int (pending, 1));
        ag_test_drain (context);
        g_assert_cmpint (data.calls, ==, 1);
        wait_data_clear (&data);
        g_object_unref (pending);
        g_assert_cmpint (canceller.destroyed, ==, 1);
        canceller_data_clear (&canceller);
      }

  /* A cancellable that never fires changes nothing */
  {
    AgPending *pending = ag_pending_new ();
    g_autoptr(GCancellable) cancellable = g_cancellable_new ();
    WaitData data;

    wait_data_init (&data, pending, context);
    ag_pending_wait_async (pending, -1.0, FALSE, cancellable, wait_cb, &data);
    g_assert_true (ag_pending_set_int (pending, 1));
    ag_test_iterate_until (context, &data.calls, 1);
    g_assert_true (data.result);
    /* cancelling it afterwards is harmless */
    g_cancellable_cancel (cancellable);
    ag_test_drain (context);
    g_assert_cmpint (data.calls, ==, 1);
    assert_state (pending, AG_PENDING_STATE_SUCCEEDED);
    wait_data_clear (&data);
    g_object_unref (pending);
  }

  wait_pop_context (context);
}

/* The caller of the context stops before it delivers: the wait still
 * ends, once, on the context (GTask's own way). */
static void
test_wait_async_caller_stops (void)
{
  GMainContext *context = wait_push_context ();
  g_autoptr(AgCaller) caller = g_object_ref (ag_caller_get_current ());
  AgPending *pending = ag_pending_new ();
  AgPending *done = ag_pending_new ();
  WaitData data;
  WaitData done_data;

  wait_data_init (&data, pending, context);
  ag_pending_wait_async (pending, -1.0, FALSE, NULL, wait_cb, &data);

  /* done already: the delivery is queued when the caller stops */
  g_assert_true (ag_pending_set_int (done, 2));
  wait_data_init (&done_data, done, context);
  ag_pending_wait_async (done, -1.0, FALSE, NULL, wait_cb, &done_data);

  ag_caller_stop (caller, TRUE);
  g_assert_cmpint (ag_caller_get_state (caller), ==, AG_CALLER_STATE_STOPPED);
  g_assert_true (ag_pending_set_int (pending, 1));

  ag_test_iterate_until (context, &data.calls, 1);
  ag_test_iterate_until (context, &done_data.calls, 1);
  g_assert_true (data.result);
  g_assert_true (done_data.result);
  ag_test_drain (context);
  g_assert_cmpint (data.calls, ==, 1);
  g_assert_cmpint (done_data.calls, ==, 1);

  wait_data_clear (&data);
  wait_data_clear (&done_data);
  g_object_unref (pending);
  g_object_unref (done);
  ag_test_pop_context (context);
}

static void
run_wait_test (gconstpointer test)
{
  wait_with_caller = FALSE;
  ((GTestFunc) test) ();
}

static void
run_wait_test_on_caller (gconstpointer test)
{
  wait_with_caller = TRUE;
  ((GTestFunc) test) ();
  wait_with_caller = FALSE;
}

static void
add_wait_test (const char *name,
               GTestFunc   test)
{
  g_autofree char *plain = g_strdup_printf ("/Pending/wait-async/%s", name);
  g_autofree char *on_caller =
    g_strdup_printf ("/Pending/wait-async-on-caller/%s", name);

  g_test_add_data_func (plain, test, run_wait_test);
  g_test_add_data_func (on_caller, test, run_wait_test_on_caller);
}

/* }}} */

/* {{{ /Pending/cancellable/... */

static void
cancelled_count_cb (GCancellable *cancellable,
                    gpointer      user_data)
{
  g_atomic_int_inc ((gint *) user_data);
}

static void
test_cancellable_follows_pending (void)
{
  AgPending *pending = ag_pending_new ();
  GCancellable *cancellable;
  gint fired = 0;
  gulong id;

  /* Transfer none, the same object each time */
  cancellable = ag_pending_get_cancellable (pending);
  g_assert_true (G_IS_CANCELLABLE (cancellable));
  g_assert_true (ag_pending_get_cancellable (pending) == cancellable);
  g_assert_false (g_cancellable_is_cancelled (cancellable));
  id = g_cancellable_connect (cancellable, G_CALLBACK (cancelled_count_cb),
                              &fired, NULL);
  g_assert_cmpuint (id, >, 0);

  /* Cancelled with the pending, once */
  g_assert_true (ag_pending_cancel (pending, "one"));
  g_assert_true (g_cancellable_is_cancelled (cancellable));
  g_assert_cmpint (fired, ==, 1);
  g_assert_true (ag_pending_cancel (pending, "two"));
  g_assert_cmpint (fired, ==, 1);
  g_assert_true (ag_pending_get_cancellable (pending) == cancellable);
  g_cancellable_disconnect (cancellable, id);
  g_object_unref (pending);

  /* Cancelled before get_cancellable () was first called */
  pending = ag_pending_new ();
  g_assert_true (ag_pending_cancel (pending, NULL));
  cancellable = ag_pending_get_cancellable (pending);
  g_assert_true (g_cancellable_is_cancelled (cancellable));
  g_object_unref (pending);

  /* ...and cancelled then done */
  pending = ag_pending_new ();
  g_assert_true (ag_pending_cancel (pending, NULL));
  g_assert_true (ag_pending_set_int (pending, 1));
  cancellable = ag_pending_get_cancellable (pending);
  g_assert_true (g_cancellable_is_cancelled (cancellable));
  g_object_unref (pending);

  /* Cancelled from another thread */
  pending = ag_pending_new ();
  cancellable = ag_pending_get_cancellable (pending);
  {
    GThread *thread = g_thread_new ("cancel", cancel_and_set_in_thread_func,
                                    pending);

    g_thread_join (thread);
  }
  g_assert_true (g_cancellable_is_cancelled (cancellable));
  g_object_unref (pending);
}

static void
test_cancellable_cancels_pending (void)
{
  AgPending *pending = ag_pending_new ();
  CancellerData canceller;
  GCancellable *cancellable;

  /* The other direction: cancelling the cancellable cancels the pending,
   * which calls its canceller */
  canceller_data_init (&canceller, pending, CANCELLER_RECORD);
  canceller.thread = g_thread_self ();
  ag_pending_set_canceller (pending, canceller_cb, &canceller,
                            canceller_destroy);
  cancellable = ag_pending_get_cancellable (pending);
  g_cancellable_cancel (cancellable);
  assert_state (pending, AG_PENDING_STATE_CANCELLING);
  g_assert_cmpint (canceller.calls, ==, 1);
  g_assert_true (g_cancellable_is_cancelled (cancellable));

  /* later cancels still reach the canceller */
  g_assert_true (ag_pending_cancel (pending, "more"));
  g_assert_cmpint (canceller.calls, ==, 2);
  g_cancellable_cancel (cancellable);
  g_assert_cmpint (canceller.calls, ==, 2);

  g_assert_true (ag_pending_set_int (pending, 1));
  assert_state (pending, AG_PENDING_STATE_CANCELLED);
  g_object_unref (pending);
  g_assert_cmpint (canceller.destroyed, ==, 1);
  canceller_data_clear (&canceller);

  /* A canceller that completes the pending, reached through the
   * cancellable */
  pending = ag_pending_new ();
  canceller_data_init (&canceller, pending, CANCELLER_SET);
  ag_pending_set_canceller (pending, canceller_cb, &canceller,
                            canceller_destroy);
  g_cancellable_cancel (ag_pending_get_cancellable (pending));
  g_assert_cmpint (canceller.calls, ==, 1);
  g_assert_true (canceller.result);
  assert_state (pending, AG_PENDING_STATE_CANCELLED);
  g_object_unref (pending);
  g_assert_cmpint (canceller.destroyed, ==, 1);
  canceller_data_clear (&canceller);
}

static void
test_cancellable_succeeded (void)
{
  AgPending *pending = ag_pending_new ();
  GCancellable *cancellable = ag_pending_get_cancellable (pending);

  /* Succeeding, or failing, is not cancelling */
  g_assert_true (ag_pending_set_int (pending, 1));
  g_assert_false (g_cancellable_is_cancelled (cancellable));
  g_assert_false (ag_pending_cancel (pending, NULL));
  g_assert_false (g_cancellable_is_cancelled (cancellable));
  g_object_unref (pending);

  pending = ag_pending_new ();
  g_assert_true (ag_pending_set_int (pending, 1));
  cancellable = ag_pending_get_cancellable (pending);
  g_assert_false (g_cancellable_is_cancelled (cancellable));
  g_object_unref (pending);

  pending = ag_pending_new ();
  cancellable = ag_pending_get_cancellable (pending);
  g_assert_true (ag_pending_take_error (pending,
                                        io_error (G_IO_ERROR_FAILED,
                                                  "failed")));
  g_assert_false (g_cancellable_is_cancelled (cancellable));
  g_object_unref (pending);
}

/* }}} */

/* {{{ /Pending/metadata */

static void
test_metadata (void)
{
  AgPending *pending = ag_pending_new ();
  GValue in = G_VALUE_INIT;
  GValue out = G_VALUE_INIT;
  const GValue *got;
  char **keys;

  /* Nothing yet */
  g_assert_null (ag_pending_get_metadata (pending, "b"));
  g_assert_false (ag_pending_dup_metadata (pending, "b", &out));
  g_assert_cmpuint (G_VALUE_TYPE (&out), ==, G_TYPE_INVALID);
  keys = ag_pending_dup_metadata_keys (pending);
  g_assert_true (keys == NULL || keys[0] == NULL);
  g_strfreev (keys);

  /* Set: the pending keeps its own copy */
  g_value_init (&in, G_TYPE_INT);
  g_value_set_int (&in, 2);
  ag_pending_set_metadata (pending, "b", &in);
  g_value_unset (&in);
  g_value_init (&in, G_TYPE_STRING);
  g_value_set_string (&in, "x");
  ag_pending_set_metadata (pending, "a", &in);
  g_value_set_string (&in, "changed after set");

  /* get: borrowed */
  got = ag_pending_get_metadata (pending, "b");
  g_assert_nonnull (got);
  g_assert_true (G_VALUE_HOLDS_INT (got));
  g_assert_cmpint (g_value_get_int (got), ==, 2);
  got = ag_pending_get_metadata (pending, "a");
  g_assert_nonnull (got);
  g_assert_true (G_VALUE_HOLDS_STRING (got));
  g_assert_cmpstr (g_value_get_string (got), ==, "x");
  g_assert_null (ag_pending_get_metadata (pending, "c"));
  g_assert_null (ag_pending_get_metadata (pending, "A"));

  /* dup: a copy */
  g_assert_true (ag_pending_dup_metadata (pending, "a", &out));
  g_assert_true (G_VALUE_HOLDS_STRING (&out));
  g_assert_cmpstr (g_value_get_string (&out), ==, "x");
  g_assert_true (g_value_get_string (&out) != g_value_get_string (got));
  g_value_set_string (&out, "changed after dup");
  g_value_unset (&out);
  g_assert_cmpstr (g_value_get_string (ag_pending_get_metadata (pending, "a")),
                   ==, "x");
  g_assert_false (ag_pending_dup_metadata (pending, "c", &out));
  g_assert_cmpuint (G_VALUE_TYPE (&out), ==, G_TYPE_INVALID);

  /* keys: sorted */
  keys = ag_pending_dup_metadata_keys (pending);
  g_assert_nonnull (keys);
  g_assert_cmpuint (g_strv_length (keys), ==, 2);
  g_assert_cmpstr (keys[0], ==, "a");
  g_assert_cmpstr (keys[1], ==, "b");
  g_strfreev (keys);

  /* set replaces, whatever the type */
  ag_pending_set_metadata (pending, "b", &in);
  got = ag_pending_get_metadata (pending, "b");
  g_assert_true (G_VALUE_HOLDS_STRING (got));
  g_assert_cmpstr (g_value_get_string (got), ==, "changed after set");
  g_value_unset (&in);

  /* metadata stays usable after done */
  g_assert_true (ag_pending_set_int (pending, 1));
  g_value_init (&in, G_TYPE_BOOLEAN);
  g_value_set_boolean (&in, TRUE);
  ag_pending_set_metadata (pending, "0-first", &in);
  g_value_unset (&in);
  keys = ag_pending_dup_metadata_keys (pending);
  g_assert_cmpuint (g_strv_length (keys), ==, 3);
  g_assert_cmpstr (keys[0], ==, "0-first");
  g_assert_cmpstr (keys[1], ==, "a");
  g_assert_cmpstr (keys[2], ==, "b");
  g_strfreev (keys);

  /* NULL removes */
  ag_pending_set_metadata (pending, "a", NULL);
  g_assert_null (ag_pending_get_metadata (pending, "a"));
  g_assert_false (ag_pending_dup_metadata (pending, "a", &out));
  keys = ag_pending_dup_metadata_keys (pending);
  g_assert_cmpuint (g_strv_length (keys), ==, 2);
  g_assert_cmpstr (keys[0], ==, "0-first");
  g_assert_cmpstr (keys[1], ==, "b");
  g_strfreev (keys);
  /* removing what is not there is fine */
  ag_pending_set_metadata (pending, "a", NULL);
  ag_pending_set_metadata (pending, "b", NULL);
  ag_pending_set_metadata (pending, "0-first", NULL);
  keys = ag_pending_dup_metadata_keys (pending);
  g_assert_true (keys == NULL || keys[0] == NULL);
  g_strfreev (keys);

  /* An object value is kept alive by the pending */
  {
    g_autoptr(GObject) object = new_object ();

    g_value_init (&in, G_TYPE_OBJECT);
    g_value_set_object (&in, object);
    ag_pending_set_metadata (pending, "object", &in);
    g_value_unset (&in);
    g_assert_cmpuint (object_ref_count (object), ==, 2);
    g_object_unref (pending);
    g_assert_cmpuint (object_ref_count (object), ==, 1);
  }
}

/* }}} */

/* {{{ /Pending/to-string */

static char *
to_string_checked (AgPending *pending)
{
  char *string = ag_pending_to_string (pending);

  g_assert_nonnull (string);
  /* one line */
  g_assert_null (strchr (string, '\n'));
  return string;
}

static void
assert_only_nick (const char *string,
                  const char *nick)
{
  const char *nicks[] = { "running", "cancelling", "succeeded", "failed",
                          "cancelled" };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (nicks); i++)
    {
      if (g_str_equal (nicks[i], nick))
        g_assert_nonnull (strstr (string, nicks[i]));
      else
        g_assert_null (strstr (string, nicks[i]));
    }
}

static void
test_to_string (void)
{
  AgPending *pending = ag_pending_new_full (AG_PENDING_FLAGS_NONE, "job-17");
  GValue value = G_VALUE_INIT;
  char *string;

  string = to_string_checked (pending);
  g_assert_nonnull (strstr (string, "job-17"));
  assert_only_nick (string, "running");
  g_free (string);

  /* metadata as key=value */
  g_value_init (&value, G_TYPE_INT);
  g_value_set_int (&value, 4242);
  ag_pending_set_metadata (pending, "answer", &value);
  g_value_unset (&value);
  g_value_init (&value, G_TYPE_STRING);
  g_value_set_string (&value, "zork");
  ag_pending_set_metadata (pending, "who", &value);
  g_value_unset (&value);

  string = to_string_checked (pending);
  g_assert_nonnull (strstr (string, "job-17"));
  g_assert_nonnull (strstr (string, "answer=4242"));
  g_assert_nonnull (strstr (string, "who="));
  g_assert_nonnull (strstr (strstr (string, "who="), "zork"));
  assert_only_nick (string, "running");
  g_free (string);

  g_assert_true (ag_pending_cancel (pending, "x"));
  string = to_string_checked (pending);
  g_assert_nonnull (strstr (string, "job-17"));
  assert_only_nick (string, "cancelling");
  g_free (string);

  g_assert_true (ag_pending_set_int (pending, 1));
  string = to_string_checked (pending);
  assert_only_nick (string, "cancelled");
  g_assert_nonnull (strstr (string, "answer=4242"));
  g_free (string);
  g_object_unref (pending);

  pending = ag_pending_new_full (AG_PENDING_FLAGS_NONE, "job-18");
  g_assert_true (ag_pending_set_string (pending, "ok"));
  string = to_string_checked (pending);
  g_assert_nonnull (strstr (string, "job-18"));
  assert_only_nick (string, "succeeded");
  g_free (string);
  g_object_unref (pending);

  pending = ag_pending_new_full (AG_PENDING_FLAGS_NONE, "job-19");
  g_assert_true (ag_pending_take_error (pending,
                                        io_error (G_IO_ERROR_BUSY, "boom")));
  string = to_string_checked (pending);
  g_assert_nonnull (strstr (string, "job-19"));
  assert_only_nick (string, "failed");
  g_free (string);
  g_object_unref (pending);

  /* no name */
  pending = ag_pending_new ();
  string = to_string_checked (pending);
  assert_only_nick (string, "running");
  g_free (string);
  g_object_unref (pending);
}

/* }}} */

/* {{{ /Pending/bad-input/... */

static void
never_done_cb (AgPending *pending,
               gpointer   user_data)
{
  g_assert_not_reached ();
}

static void
never_wait_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_assert_not_reached ();
}

static void
test_bad_input_self (void)
{
  g_autoptr(GObject) not_a_pending = new_object ();
  AgPending *selves[2];
  GError *error = NULL;
  guint i;

  selves[0] = NULL;
  selves[1] = (AgPending *) not_a_pending;

  /* Every function, with a NULL or non-AgPending self: a critical and a
   * safe return value */
  for (i = 0; i < G_N_ELEMENTS (selves); i++)
    {
      AgPending *self = selves[i];
      GValue value = G_VALUE_INIT;
      gboolean b = TRUE;
      gint64 n = -1;
      double d = -1.0;
      gpointer p = &b;
      guint u = 7;
      AgPendingState state = AG_PENDING_STATE_FAILED;
      AgPendingFlags flags = AG_PENDING_FLAGS_NO_TRACKING;

      EXPECT_CRITICAL (p = (gpointer) ag_pending_get_name (self));
      g_assert_null (p);
      EXPECT_CRITICAL (flags = ag_pending_get_flags (self));
      g_assert_cmpint (flags, ==, AG_PENDING_FLAGS_NONE);
      p = &b;
      EXPECT_CRITICAL (p = ag_pending_get_context (self));
      g_assert_null (p);

      EXPECT_CRITICAL (b = ag_pending_set_value (self, NULL));
      g_assert_false (b);
      b = TRUE;
      {
        g_autoptr(GError) e = g_error_new_literal (G_IO_ERROR,
                                                   G_IO_ERROR_FAILED, "e");

        EXPECT_CRITICAL (b = ag_pending_set_error (self, e));
        g_assert_false (b);
      }
      b = TRUE;
      EXPECT_CRITICAL (b = ag_pending_take_error (self, NULL));
      g_assert_false (b);
      b = TRUE;
      EXPECT_CRITICAL (b = ag_pending_set_int (self, 1));
      g_assert_false (b);
      b = TRUE;
      EXPECT_CRITICAL (b = ag_pending_set_boolean (self, TRUE));
      g_assert_false (b);
      b = TRUE;
      EXPECT_CRITICAL (b = ag_pending_set_double (self, 1.0));
      g_assert_false (b);
      b = TRUE;
      EXPECT_CRITICAL (b = ag_pending_set_string (self, "s"));
      g_assert_false (b);
      b = TRUE;
      EXPECT_CRITICAL (b = ag_pending_set_object (self, NULL));
      g_assert_false (b);
      b = TRUE;
      EXPECT_CRITICAL (b = ag_pending_set_pointer (self, &b, NULL));
      g_assert_false (b);

      b = TRUE;
      EXPECT_CRITICAL (b = ag_pending_get_value (self, &value, &error));
      g_assert_false (b);
      g_assert_cmpuint (G_VALUE_TYPE (&value), ==, G_TYPE_INVALID);
      g_assert_no_error (error);
      EXPECT_CRITICAL (n = ag_pending_get_int (self, &error));
      g_assert_cmpint (n, ==, 0);
      g_assert_no_error (error);
      b = TRUE;
      EXPECT_CRITICAL (b = ag_pending_get_boolean (self, &error));
      g_assert_false (b);
      g_assert_no_error (error);
      EXPECT_CRITICAL (d = ag_pending_get_double (self, &error));
      g_assert_cmpfloat (d, ==, 0.0);
      g_assert_no_error (error);
      p = &b;
      EXPECT_CRITICAL (p = ag_pending_get_string (self, &error));
      g_assert_null (p);
      g_assert_no_error (error);
      p = &b;
      EXPECT_CRITICAL (p = ag_pending_get_object (self, &error));
      g_assert_null (p);
      g_assert_no_error (error);
      p = &b;
      EXPECT_CRITICAL (p = ag_pending_get_pointer (self, &error));
      g_assert_null (p);
      g_assert_no_error (error);
      p = &b;
      EXPECT_CRITICAL (p = ag_pending_dup_error (self));
      g_assert_null (p);

      b = TRUE;
      EXPECT_CRITICAL (b = ag_pending_cancel (self, "m"));
      g_assert_false (b);
      b = TRUE;
      EXPECT_CRITICAL (b = ag_pending_is_done (self));
      g_assert_false (b);
      b = TRUE;
      EXPECT_CRITICAL (b = ag_pending_is_cancelled (self));
      g_assert_false (b);
      EXPECT_CRITICAL (state = ag_pending_get_state (self));
      g_assert_cmpint (state, ==, AG_PENDING_STATE_RUNNING);
      p = &b;
      EXPECT_CRITICAL (p = ag_pending_dup_cancel_message (self));
      g_assert_null (p);
      EXPECT_CRITICAL (ag_pending_set_canceller (self, second_canceller_cb,
                                                 NULL, NULL));

      EXPECT_CRITICAL (ag_pending_add_done_callback (self, never_done_cb,
                                                     NULL, NULL));
      EXPECT_CRITICAL (u = ag_pending_remove_done_callback (self,
                                                            never_done_cb,
                                                            NULL));
      g_assert_cmpuint (u, ==, 0);

      b = TRUE;
      EXPECT_CRITICAL (b = ag_pending_wait_sync (self, 0.0, &error));
      g_assert_false (b);
      g_assert_no_error (error);
      EXPECT_CRITICAL (ag_pending_wait_async (self, -1.0, FALSE, NULL,
                                              never_wait_cb, NULL));
      b = TRUE;
      EXPECT_CRITICAL (b = ag_pending_wait_finish (self, NULL, &error));
      g_assert_false (b);
      g_assert_no_error (error);
      p = &b;
      EXPECT_CRITICAL (p = ag_pending_get_cancellable (self));
      g_assert_null (p);

      EXPECT_CRITICAL (ag_pending_set_metadata (self, "k", NULL));
      p = &b;
      EXPECT_CRITICAL (p = (gpointer) ag_pending_get_metadata (self, "k"));
      g_assert_null (p);
      b = TRUE;
      EXPECT_CRITICAL (b = ag_pending_dup_metadata (self, "k", &value));
      g_assert_false (b);
      g_assert_cmpuint (G_VALUE_TYPE (&value), ==, G_TYPE_INVALID);
      p = &b;
      EXPECT_CRITICAL (p = ag_pending_dup_metadata_keys (self));
      g_assert_null (p);
      p = &b;
      EXPECT_CRITICAL (p = ag_pending_to_string (self));
      g_assert_null (p);
    }

  /* the not-a-pending object was not harmed */
  g_assert_cmpuint (object_ref_count (not_a_pending), ==, 1);
}

static void
test_bad_input_arguments (void)
{
  AgPending *pending = ag_pending_new ();
  GValue value = G_VALUE_INIT;
  GError *error = NULL;
  gboolean b;

  /* set_error (NULL) */
  EXPECT_CRITICAL (b = ag_pending_set_error (pending, NULL));
  g_assert_false (b);
  assert_state (pending, AG_PENDING_STATE_RUNNING);

  /* wait_sync with a NaN timeout */
  EXPECT_CRITICAL (b = ag_pending_wait_sync (pending, NAN, &error));
  g_assert_false (b);
  g_assert_no_error (error);
  assert_state (pending, AG_PENDING_STATE_RUNNING);

  /* set_metadata with a NULL key */
  g_value_init (&value, G_TYPE_INT);
  g_value_set_int (&value, 1);
  EXPECT_CRITICAL (ag_pending_set_metadata (pending, NULL, &value));
  g_value_unset (&value);
  {
    char **keys = ag_pending_dup_metadata_keys (pending);

    g_assert_true (keys == NULL || keys[0] == NULL);
    g_strfreev (keys);
  }

  /* get_value into a GValue that is not zeroed: refused, left alone */
  g_assert_true (ag_pending_set_int (pending, 3));
  g_value_init (&value, G_TYPE_STRING);
  g_value_set_string (&value, "mine");
  EXPECT_CRITICAL (b = ag_pending_get_value (pending, &value, &error));
  g_assert_false (b);
  g_assert_no_error (error);
  g_assert_true (G_VALUE_HOLDS_STRING (&value));
  g_assert_cmpstr (g_value_get_string (&value), ==, "mine");
  g_value_unset (&value);

  /* the pending is unharmed */
  g_assert_cmpint (ag_pending_get_int (pending, &error), ==, 3);
  g_assert_no_error (error);
  g_object_unref (pending);
}

/* }}} */

/* {{{ /Pending/race/... */

#define RACE_SETTERS 8

typedef struct
{
  AgTestBarrier  barrier;
  guint          rounds;
  AgPending     *pending;  /* published before the start barrier */
  GObject       *objects[RACE_SETTERS];
  gint           pointer_destroyed[RACE_SETTERS];  /* (atomic) */
  gint           results[RACE_SETTERS];            /* (atomic) */
  char          *strings[RACE_SETTERS];
} RaceSetData;

typedef struct
{
  RaceSetData *data;
  guint        index;
} RaceSetter;

static gpointer
race_setter_func (gpointer user_data)
{
  RaceSetter *setter = user_data;
  RaceSetData *data = setter->data;
  guint i = setter->index;
  guint round;

  for (round = 0; round < data->rounds; round++)
    {
      AgPending *pending;
      gboolean won = FALSE;

      ag_test_barrier_wait (&data->barrier);
      pending = data->pending;
      ag_test_spin (((round + i) % 8) * 4);
      switch (i % 4)
        {
        case 0:
          won = ag_pending_set_int (pending, i);
          break;

        case 1:
          won = ag_pending_set_string (pending, data->strings[i]);
          break;

        case 2:
          won = ag_pending_set_object (pending, data->objects[i]);
          break;

        case 3:
          won = ag_pending_set_pointer (pending, &data->pointer_destroyed[i],
                                        ag_test_count);
          break;

        default:
          g_assert_not_reached ();
        }
      g_atomic_int_set (&data->results[i], won);
      ag_test_barrier_wait (&data->barrier);
    }

  return NULL;
}

typedef struct
{
  gint calls;      /* (atomic) */
  gint destroyed;  /* (atomic) */
} RoundCount;

static void
round_count_cb (AgPending *pending,
                gpointer   user_data)
{
  RoundCount *count = user_data;

  g_assert_true (ag_pending_is_done (pending));
  g_assert_cmpint (g_atomic_int_get (&count->destroyed), ==, 0);
  g_atomic_int_inc (&count->calls);
}

static void
round_count_destroy (gpointer user_data)
{
  RoundCount *count = user_data;

  g_atomic_int_inc (&count->destroyed);
}

static void
test_race_set (void)
{
  RaceSetData data;
  RaceSetter setters[RACE_SETTERS];
  GThread *threads[RACE_SETTERS];
  guint i;
  guint round;
  guint wins[RACE_SETTERS] = { 0, };

  /* 8 threads race to complete one pending, many times: exactly one wins,
   * the done callback runs once, the value is the winner's, the losers'
   * values are freed */
  memset (&data, 0, sizeof data);
  data.rounds = ag_test_iterations (10000, 100000);
  ag_test_barrier_init (&data.barrier, RACE_SETTERS + 1);
  for (i = 0; i < RACE_SETTERS; i++)
    {
      data.objects[i] = new_object ();
      data.strings[i] = g_strdup_printf ("thread %u", i);
      setters[i].data = &data;
      setters[i].index = i;
      threads[i] = g_thread_new ("race-set", race_setter_func, &setters[i]);
    }

  for (round = 0; round < data.rounds; round++)
    {
      RoundCount counts[2] = { { 0, 0 }, { 0, 0 } };
      guint winner = G_MAXUINT;
      guint n_winners = 0;
      g_autoptr(GError) error = NULL;

      data.pending = ag_pending_new ();
      ag_pending_add_done_callback (data.pending, round_count_cb, &counts[0],
                                    round_count_destroy);
      ag_pending_add_done_callback (data.pending, round_count_cb, &counts[1],
                                    round_count_destroy);

      ag_test_barrier_wait (&data.barrier);
      /* the setters run */
      ag_test_barrier_wait (&data.barrier);

      for (i = 0; i < RACE_SETTERS; i++)
        if (g_atomic_int_get (&data.results[i]))
          {
            winner = i;
            n_winners++;
          }
      g_assert_cmpuint (n_winners, ==, 1);
      wins[winner]++;
      /* each callback ran once, before the winning set returned */
      g_assert_cmpint (g_atomic_int_get (&counts[0].calls), ==, 1);
      g_assert_cmpint (g_atomic_int_get (&counts[1].calls), ==, 1);
      assert_state (data.pending, AG_PENDING_STATE_SUCCEEDED);

      switch (winner % 4)
        {
        case 0:
          g_assert_cmpint (ag_pending_get_int (data.pending, &error), ==,
                           winner);
          break;

        case 1:
          {
            g_autofree char *s = ag_pending_get_string (data.pending, &error);

            g_assert_cmpstr (s, ==, data.strings[winner]);
          }
          break;

        case 2:
          {
            g_autoptr(GObject) o = ag_pending_get_object (data.pending,
                                                          &error);

            g_assert_true (o == data.objects[winner]);
          }
          break;

        case 3:
          g_assert_true (ag_pending_get_pointer (data.pending, &error)
                         == &data.pointer_destroyed[winner]);
          break;

        default:
          g_assert_not_reached ();
        }
      g_assert_no_error (error);

      g_clear_object (&data.pending);
      for (i = 0; i < G_N_ELEMENTS (counts); i++)
        {
          g_assert_cmpint (g_atomic_int_get (&counts[i].calls), ==, 1);
          g_assert_cmpint (g_atomic_int_get (&counts[i].destroyed), ==, 1);
        }
      for (i = 0; i < RACE_SETTERS; i++)
        {
          if (i % 4 == 2)
            g_assert_cmpuint (object_ref_count (data.objects[i]), ==, 1);
          if (i % 4 == 3)
            g_assert_cmpint (g_atomic_int_get (&data.pointer_destroyed[i]),
                             ==, round + 1);
        }
    }

  for (i = 0; i < RACE_SETTERS; i++)
    {
      g_thread_join (threads[i]);
      g_object_unref (data.objects[i]);
      g_free (data.strings[i]);
      g_test_message ("setter %u won %u of %u rounds", i, wins[i],
                      data.rounds);
    }
}

typedef struct
{
  AgTestBarrier  barrier;
  guint          rounds;
  AgPending     *pending;
  gint           set_result;           /* (atomic) */
  gint           canceller_calls;      /* (atomic) */
  gint           canceller_wins;       /* (atomic) */
  gint           canceller_destroyed;  /* (atomic) */
  gint           canceller_in_flight;  /* (atomic) */
  gboolean       canceller_sets;
} RaceCancelData;

static void
race_canceller_cb (AgPending  *pending,
                   const char *message,
                   gpointer    user_data)
{
  RaceCancelData *data = user_data;

  g_assert_cmpint (g_atomic_int_get (&data->canceller_destroyed), ==, 0);
  g_atomic_int_inc (&data->canceller_in_flight);
  g_atomic_int_inc (&data->canceller_calls);
  g_assert_true (ag_pending_is_cancelled (pending));

  if (data->canceller_sets
      && ag_pending_take_error (pending,
                                io_error (G_IO_ERROR_CANCELLED,
                                          "by canceller")))
    g_atomic_int_inc (&data->canceller_wins);

  g_assert_cmpint (g_atomic_int_get (&data->canceller_destroyed), ==, 0);
  g_atomic_int_add (&data->canceller_in_flight, -1);
}

static void
race_canceller_destroy (gpointer user_data)
{
  RaceCancelData *data = user_data;

  /* never while a call is in flight, and once */
  g_assert_cmpint (g_atomic_int_get (&data->canceller_in_flight), ==, 0);
  g_assert_cmpint (g_atomic_int_add (&data->canceller_destroyed, 1), ==, 0);
}

static gpointer
race_cancel_setter_func (gpointer user_data)
{
  RaceCancelData *data = user_data;
  guint round;

  for (round = 0; round < data->rounds; round++)
    {
      ag_test_barrier_wait (&data->barrier);
      g_atomic_int_set (&data->set_result,
                        ag_pending_set_int (data->pending, 1));
      ag_test_barrier_wait (&data->barrier);
    }

  return NULL;
}

static void
test_race_cancel_set (void)
{
  RaceCancelData data;
  GThread *thread;
  guint round;
  guint cancel_won = 0;

  /* cancel () in this thread against set_int () in another, with a
   * canceller that also tries to complete the pending */
  memset (&data, 0, sizeof data);
  data.rounds = ag_test_iterations (10000, 100000);
  data.canceller_sets = TRUE;
  ag_test_barrier_init (&data.barrier, 2);
  thread = g_thread_new ("race-cancel", race_cancel_setter_func, &data);

  for (round = 0; round < data.rounds; round++)
    {
      gint done = 0;
      gboolean cancelled;
      gint setters_won;
      g_autoptr(GError) error = NULL;

      data.pending = ag_pending_new ();
      g_atomic_int_set (&data.canceller_calls, 0);
      g_atomic_int_set (&data.canceller_wins, 0);
      g_atomic_int_set (&data.canceller_destroyed, 0);
      ag_pending_set_canceller (data.pending, race_canceller_cb, &data,
                                race_canceller_destroy);
      ag_pending_add_done_callback (data.pending, count_done_cb, &done, NULL);

      ag_test_barrier_wait (&data.barrier);
      ag_test_spin ((round % 32) * 4);
      cancelled = ag_pending_cancel (data.pending, "stop");
      ag_test_barrier_wait (&data.barrier);

      /* exactly one outcome was set; the callbacks ran once */
      g_assert_true (ag_pending_is_done (data.pending));
      setters_won = g_atomic_int_get (&data.set_result)
                    + g_atomic_int_get (&data.canceller_wins);
      g_assert_cmpint (setters_won, ==, 1);
      g_assert_cmpint (g_atomic_int_get (&done), ==, 1);

      if (cancelled)
        {
          /* the request came first: CANCELLED, whatever was set */
          cancel_won++;
          assert_state (data.pending, AG_PENDING_STATE_CANCELLED);
          g_assert_cmpint (g_atomic_int_get (&data.canceller_calls), <=, 1);
          g_assert_cmpint (ag_pending_get_int (data.pending, &error), ==, 0);
          g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
        }
      else
        {
          /* the set came first */
          assert_state (data.pending, AG_PENDING_STATE_SUCCEEDED);
          g_assert_true (g_atomic_int_get (&data.set_result));
          g_assert_cmpint (g_atomic_int_get (&data.canceller_calls), ==, 0);
          g_assert_cmpint (ag_pending_get_int (data.pending, &error), ==, 1);
          g_assert_no_error (error);
          g_assert_null (ag_pending_dup_cancel_message (data.pending));
        }

      g_clear_object (&data.pending);
      g_assert_cmpint (g_atomic_int_get (&data.canceller_destroyed), ==, 1);
      g_assert_cmpint (g_atomic_int_get (&data.canceller_in_flight), ==, 0);
    }

  g_thread_join (thread);
  g_test_message ("cancel came first in %u of %u rounds", cancel_won,
                  data.rounds);
}

#define RACE_ADDED_CALLBACKS 16

typedef struct
{
  AgTestBarrier  barrier;
  guint          rounds;
  AgPending     *pending;
  gint           calls;      /* (atomic) this round */
  gint           destroyed;  /* (atomic) this round */
  gint           total;      /* (atomic) over all rounds */
  gint           inline_calls;  /* (atomic) run by the adding thread */
  GThread       *adder;      /* immutable while the adder runs */
} RaceAddData;

static void
race_add_cb (AgPending *pending,
             gpointer   user_data)
{
  RaceAddData *data = user_data;

  g_assert_true (ag_pending_is_done (pending));
  g_atomic_int_inc (&data->calls);
  g_atomic_int_inc (&data->total);
  if (g_thread_self () == data->adder)
    g_atomic_int_inc (&data->inline_calls);
}

static void
race_add_destroy (gpointer user_data)
{
  RaceAddData *data = user_data;

  g_atomic_int_inc (&data->destroyed);
}

static gpointer
race_adder_func (gpointer user_data)
{
  RaceAddData *data = user_data;
  guint round;

  data->adder = g_thread_self ();
  for (round = 0; round < data->rounds; round++)
    {
      guint i;

      ag_test_barrier_wait (&data->barrier);
      for (i = 0; i < RACE_ADDED_CALLBACKS; i++)
        ag_pending_add_done_callback (data->pending, race_add_cb, data,
                                      race_add_destroy);
      ag_test_barrier_wait (&data->barrier);
    }

  return NULL;
}

static void
test_race_add_callbacks (void)
{
  RaceAddData data;
  GThread *thread;
  guint round;

  /* Callbacks added in one thread while another completes the pending:
   * each runs exactly once, whether queued or called at once */
  memset (&data, 0, sizeof data);
  data.rounds = ag_test_iterations (10000, 100000);
  ag_test_barrier_init (&data.barrier, 2);
  thread = g_thread_new ("race-add", race_adder_func, &data);

  for (round = 0; round < data.rounds; round++)
    {
      data.pending = ag_pending_new ();
      g_atomic_int_set (&data.calls, 0);
      g_atomic_int_set (&data.destroyed, 0);
      /* one added before the race */
      ag_pending_add_done_callback (data.pending, race_add_cb, &data,
                                    race_add_destroy);

      ag_test_barrier_wait (&data.barrier);
      /* vary where in the adder's loop the completion falls */
      ag_test_spin ((round % 64) * 8);
      g_assert_true (ag_pending_set_int (data.pending, round));
      ag_test_barrier_wait (&data.barrier);

      g_assert_cmpint (g_atomic_int_get (&data.calls), ==,
                       RACE_ADDED_CALLBACKS + 1);
      g_clear_object (&data.pending);
      g_assert_cmpint (g_atomic_int_get (&data.calls), ==,
                       RACE_ADDED_CALLBACKS + 1);
      g_assert_cmpint (g_atomic_int_get (&data.destroyed), ==,
                       RACE_ADDED_CALLBACKS + 1);
    }

  g_thread_join (thread);
  g_assert_cmpint (data.total, ==,
                   (gint) data.rounds * (RACE_ADDED_CALLBACKS + 1));
  g_test_message ("%d of %u callbacks were called at once by the adding "
                  "thread", data.inline_calls,
                  data.rounds * (RACE_ADDED_CALLBACKS + 1));
}

typedef struct
{
  RaceCancelData *data;
  gint            role;
  gint            result;  /* (atomic) */
} RaceCancellerRole;

static gpointer
race_canceller_role_func (gpointer user_data)
{
  RaceCancellerRole *role = user_data;
  RaceCancelData *data = role->data;
  guint round;

  for (round = 0; round < data->rounds; round++)
    {
      ag_test_barrier_wait (&data->barrier);
      ag_test_spin ((round % (role->role == 0 ? 16 : 13)) * 4);
      if (role->role == 0)
        g_atomic_int_set (&role->result,
                          ag_pending_cancel (data->pending, "race"));
      else
        g_atomic_int_set (&role->result,
                          ag_pending_set_int (data->pending, 1));
      ag_test_barrier_wait (&data->barrier);
    }

  return NULL;
}

static void
test_race_canceller (void)
{
  RaceCancelData data;
  RaceCancellerRole roles[2];
  GThread *threads[2];
  guint round;
  guint i;
  guint n_cancelled = 0;
  guint n_called = 0;

  /* set_canceller () here, cancel () and set_int () in two other threads:
   * the canceller's destroy notify runs exactly once, never during a call,
   * and no call comes after it */
  memset (&data, 0, sizeof data);
  data.rounds = ag_test_iterations (10000, 100000);
  ag_test_barrier_init (&data.barrier, 3);
  for (i = 0; i < 2; i++)
    {
      roles[i].data = &data;
      roles[i].role = i;
      roles[i].result = 0;
      threads[i] = g_thread_new ("race-canceller", race_canceller_role_func,
                                 &roles[i]);
    }

  for (round = 0; round < data.rounds; round++)
    {
      gboolean cancelled;
      gboolean set;

      data.pending = ag_pending_new ();
      data.canceller_sets = round % 2;
      g_atomic_int_set (&data.canceller_calls, 0);
      g_atomic_int_set (&data.canceller_wins, 0);
      g_atomic_int_set (&data.canceller_destroyed, 0);

      ag_test_barrier_wait (&data.barrier);
      ag_test_spin ((round % 11) * 4);
      ag_pending_set_canceller (data.pending, race_canceller_cb, &data,
                                race_canceller_destroy);
      ag_test_barrier_wait (&data.barrier);

      cancelled = g_atomic_int_get (&roles[0].result);
      set = g_atomic_int_get (&roles[1].result);
      g_assert_true (ag_pending_is_done (data.pending));
      g_assert_cmpint (set + g_atomic_int_get (&data.canceller_wins), ==, 1);
      g_assert_cmpint (g_atomic_int_get (&data.canceller_calls), <=, 1);
      if (g_atomic_int_get (&data.canceller_calls) > 0)
        g_assert_true (cancelled);
      assert_state (data.pending, cancelled ? AG_PENDING_STATE_CANCELLED
                                            : AG_PENDING_STATE_SUCCEEDED);

      n_cancelled += cancelled;
      n_called += g_atomic_int_get (&data.canceller_calls);
      g_clear_object (&data.pending);
      g_assert_cmpint (g_atomic_int_get (&data.canceller_destroyed), ==, 1);
      g_assert_cmpint (g_atomic_int_get (&data.canceller_in_flight), ==, 0);
    }

  for (i = 0; i < 2; i++)
    g_thread_join (threads[i]);
  g_test_message ("cancelled in %u of %u rounds, canceller called in %u",
                  n_cancelled, data.rounds, n_called);
}

/* }}} */

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_summary ("The specification of AgPending: states, outcomes, "
                  "cancellation, callbacks, notifications, waiting, "
                  "metadata, misuse and races");

  g_test_add_func ("/Pending/new", test_new);
  g_test_add_func ("/Pending/properties", test_properties);
  g_test_add_func ("/Pending/states", test_states);
  g_test_add_func ("/Pending/set-value", test_set_value);
  g_test_add_func ("/Pending/typed", test_typed);
  g_test_add_func ("/Pending/first-wins", test_first_wins);
  g_test_add_func ("/Pending/cancel", test_cancel);

  g_test_add_func ("/Pending/canceller/called", test_canceller_called);
  g_test_add_func ("/Pending/canceller/sets", test_canceller_sets);
  g_test_add_func ("/Pending/canceller/reentrant", test_canceller_reentrant);
  g_test_add_func ("/Pending/canceller/second", test_canceller_second);
  g_test_add_func ("/Pending/canceller/after-cancel",
                   test_canceller_after_cancel);
  g_test_add_func ("/Pending/canceller/after-done", test_canceller_after_done);
  g_test_add_func ("/Pending/canceller/thread", test_canceller_thread);

  g_test_add_func ("/Pending/done-callbacks/order", test_done_callbacks_order);
  g_test_add_func ("/Pending/done-callbacks/already-done",
                   test_done_callbacks_already_done);
  g_test_add_func ("/Pending/done-callbacks/reentrant",
                   test_done_callbacks_reentrant);
  g_test_add_func ("/Pending/done-callbacks/remove",
                   test_done_callbacks_remove);
  g_test_add_func ("/Pending/done-callbacks/finalize",
                   test_done_callbacks_finalize);
  g_test_add_func ("/Pending/done-callbacks/last-ref",
                   test_done_callbacks_last_ref);
  g_test_add_func ("/Pending/done-callbacks/thread",
                   test_done_callbacks_thread);

  g_test_add_func ("/Pending/notify/from-thread", test_notify_from_thread);
  g_test_add_func ("/Pending/notify/done-on-caller",
                   test_notify_done_on_caller);
  g_test_add_func ("/Pending/notify/default-context",
                   test_notify_default_context);
  g_test_add_func ("/Pending/notify/owner", test_notify_owner);
  g_test_add_func ("/Pending/notify/other-context", test_notify_other_context);
  g_test_add_func ("/Pending/notify/no-listener", test_notify_no_listener);
  g_test_add_func ("/Pending/notify/finalize", test_notify_finalize);

  g_test_add_func ("/Pending/wait-sync/done", test_wait_sync_done);
  g_test_add_func ("/Pending/wait-sync/timeout", test_wait_sync_timeout);
  g_test_add_func ("/Pending/wait-sync/thread", test_wait_sync_thread);

  add_wait_test ("done", test_wait_async_done);
  add_wait_test ("later", test_wait_async_later);
  add_wait_test ("thread", test_wait_async_thread);
  add_wait_test ("timeout", test_wait_async_timeout);
  add_wait_test ("cancellable", test_wait_async_cancellable);
  g_test_add_data_func ("/Pending/wait-async-on-caller/caller-stops",
                        test_wait_async_caller_stops,
                        run_wait_test_on_caller);

  g_test_add_func ("/Pending/cancellable/follows-pending",
                   test_cancellable_follows_pending);
  g_test_add_func ("/Pending/cancellable/cancels-pending",
                   test_cancellable_cancels_pending);
  g_test_add_func ("/Pending/cancellable/succeeded",
                   test_cancellable_succeeded);

  g_test_add_func ("/Pending/metadata", test_metadata);
  g_test_add_func ("/Pending/to-string", test_to_string);

  g_test_add_func ("/Pending/bad-input/self", test_bad_input_self);
  g_test_add_func ("/Pending/bad-input/arguments", test_bad_input_arguments);

  g_test_add_func ("/Pending/race/set", test_race_set);
  g_test_add_func ("/Pending/race/cancel-set", test_race_cancel_set);
  g_test_add_func ("/Pending/race/add-callbacks", test_race_add_callbacks);
  g_test_add_func ("/Pending/race/canceller", test_race_canceller);

  return g_test_run ();
}

/* vim: set foldmethod=marker: */
