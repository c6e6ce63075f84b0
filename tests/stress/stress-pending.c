/* stress-pending.c: complete, cancel and add-callback races on pendings
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Four threads race on 2M fresh pendings, in batches of 64. For each
 * pending, each thread has one operation, drawn from the seed: thread 0
 * always completes it (set_int, set_error, or take_error with
 * G_IO_ERROR_CANCELLED); the others cancel it, add a done callback (and
 * maybe remove it at once), complete it too, or set its canceller (which,
 * when called, completes the pending or does nothing). The threads line
 * up on a barrier before each batch and after it; then thread 0 checks
 * every pending against the contract (DESIGN.md, "Pending" and
 * "Decisions"):
 *
 * - exactly one completion returned TRUE (the threads' and the canceller's);
 * - a cancel that returned TRUE ran before the winning completion, and the
 *   pending ended CANCELLED; one that returned FALSE ran after it, and then
 *   the state is the winner's (SUCCEEDED with its value, FAILED with its
 *   error, CANCELLED for G_IO_ERROR_CANCELLED);
 * - every done callback ran exactly once (or was removed, and then never
 *   ran), saw the pending done in its final state, and its destroy notify
 *   ran exactly once;
 * - the canceller ran once per cancel that returned TRUE (when it was set
 *   before the race; at most that many when set during it), never after
 *   its destroy notify, which ran exactly once;
 * - every pending was finalized when the batch dropped it.
 *
 * "Before" and "after" are checked with tickets: each thread takes a
 * number from one atomic counter just before and just after its call.
 *
 * On 2 CPUs at most two of the four threads run at once, and a thread
 * that runs alone goes through a whole batch before the others wake up.
 * So at each pending a thread waits a little (a bounded spin) for a
 * second one, then both start after a jitter shorter than a call: the
 * summary reports in how many races two calls really overlapped in time
 * (tickets again), which depends on the machine's load.
 */

#include "config.h"

#include "stress-util.h"

#define N_THREADS     4
#define BATCH         64
#define MAX_JITTER    64     /* about as long as one call */
#define MEET_SPINS    30000  /* tens of microseconds at most */
#define FULL_RACES    (1u << 21)  /* 2097152 */

typedef enum
{
  OP_NONE,
  OP_SET_INT,
  OP_SET_ERROR,
  OP_TAKE_CANCELLED,
  OP_CANCEL,
  OP_ADD_CALLBACK,
  OP_ADD_REMOVE_CALLBACK,
  OP_SET_CANCELLER,
} Op;

typedef enum
{
  CANCELLER_NOOP,       /* only records the call */
  CANCELLER_COMPLETES,  /* completes the pending, like a real operation */
} CancellerKind;

typedef struct _Slot Slot;

typedef struct
{
  Slot *slot;
  gint  calls;       /* (atomic) */
  gint  destroys;    /* (atomic) */
  gint  state_seen;  /* (atomic) the state the callback saw */
  gint  thread;      /* (atomic) the thread that ran it */
} CallbackRecord;

struct _Slot
{
  /* set by thread 0 before the race */
  AgPending     *pending;
  guint          index;
  Op             ops[N_THREADS];
  guint          jitter[N_THREADS];
  gboolean       canceller_preset;
  CancellerKind  canceller_kind;

  /* written by thread t only, read after the end barrier */
  gboolean       returned[N_THREADS];  /* the result of its call */
  guint          removed[N_THREADS];   /* remove_done_callback's result */
  gint           before[N_THREADS];    /* tickets */
  gint           after[N_THREADS];

  CallbackRecord callbacks[N_THREADS];

  gint           canceller_calls;     /* (atomic) */
  gint           canceller_won;       /* (atomic) its completions */
  gint           canceller_destroys;  /* (atomic) */
  gint           canceller_late;      /* (atomic) calls after destroy */

  gint           arrived;             /* (atomic) threads at the slot */
};

typedef struct
{
  AgTestBarrier start;
  AgTestBarrier end;
  gint          quit;     /* (atomic) */
  gint          ticket;   /* (atomic) */
  Slot          slots[BATCH];
  guint         n_slots;  /* written by thread 0 before the start barrier */
} Race;

typedef struct
{
  Race  *race;
  guint  index;
} RaceThread;

/* The index of the racing thread running this code. */
static __thread gint thread_index = -1;

/* {{{ Callbacks */

static void
done_cb (AgPending *pending,
         gpointer   data)
{
  CallbackRecord *record = data;

  g_assert_true (ag_pending_is_done (pending));
  g_atomic_int_set (&record->state_seen, (gint) ag_pending_get_state (pending));
  g_atomic_int_set (&record->thread, thread_index);
  g_atomic_int_inc (&record->calls);
}

static void
done_destroy (gpointer data)
{
  CallbackRecord *record = data;

  g_atomic_int_inc (&record->destroys);
}

static void
canceller_cb (AgPending  *pending,
              const char *message,
              gpointer    data)
{
  Slot *slot = data;

  if (g_atomic_int_get (&slot->canceller_destroys) != 0)
    g_atomic_int_inc (&slot->canceller_late);
  g_atomic_int_inc (&slot->canceller_calls);

  if (slot->canceller_kind == CANCELLER_COMPLETES &&
      ag_pending_set_boolean (pending, TRUE))
    g_atomic_int_inc (&slot->canceller_won);
}

static void
canceller_destroy (gpointer data)
{
  Slot *slot = data;

  g_atomic_int_inc (&slot->canceller_destroys);
}

/* }}} */

/* {{{ The race */

static const char *cancel_messages[N_THREADS] = {
  "cancel-0", "cancel-1", "cancel-2", "cancel-3",
};

/* A rendezvous of two: on 2 CPUs at most two of the four threads run at
 * once, so each thread waits a little (bounded, never a sleep) for a
 * second one to reach the same pending; the jitter that follows then
 * varies which call goes first by less than a call lasts. */
static guint meet_spins = MEET_SPINS;  /* 0 under valgrind: one thread at
                                         * a time runs there */

static void
meet_at_slot (Slot *slot)
{
  if (g_atomic_int_add (&slot->arrived, 1) >= 1)
    return;

  for (guint i = 0;
       i < meet_spins && g_atomic_int_get (&slot->arrived) < 2;
       i++)
    ;
}

static void
run_op (Race  *race,
        Slot  *slot,
        guint  t)
{
  AgPending *pending = slot->pending;
  CallbackRecord *record = &slot->callbacks[t];
  gboolean returned = FALSE;

  meet_at_slot (slot);
  stress_spin (slot->jitter[t]);

  slot->before[t] = g_atomic_int_add (&race->ticket, 1);

  switch (slot->ops[t])
    {
    case OP_NONE:
      break;

    case OP_SET_INT:
      returned = ag_pending_set_int (pending, slot->index);
      break;

    case OP_SET_ERROR:
      returned = ag_pending_take_error (pending,
                                        g_error_new (AG_ERROR, AG_ERROR_FAILED,
                                                     "fail-%u", slot->index));
      break;

    case OP_TAKE_CANCELLED:
      returned = ag_pending_take_error (pending,
                                        g_error_new (G_IO_ERROR,
                                                     G_IO_ERROR_CANCELLED,
                                                     "cancelled-%u",
                                                     slot->index));
      break;

    case OP_CANCEL:
      returned = ag_pending_cancel (pending, cancel_messages[t]);
      break;

    case OP_ADD_CALLBACK:
      ag_pending_add_done_callback (pending, done_cb, record, done_destroy);
      break;

    case OP_ADD_REMOVE_CALLBACK:
      ag_pending_add_done_callback (pending, done_cb, record, done_destroy);
      slot->removed[t] = ag_pending_remove_done_callback (pending, done_cb,
                                                          record);
      break;

    case OP_SET_CANCELLER:
      ag_pending_set_canceller (pending, canceller_cb, slot,
                                canceller_destroy);
      break;

    default:
      g_assert_not_reached ();
    }

  slot->after[t] = g_atomic_int_add (&race->ticket, 1);
  slot->returned[t] = returned;
}

static void
run_batch (Race  *race,
           guint  t)
{
  for (guint i = 0; i < race->n_slots; i++)
    run_op (race, &race->slots[i], t);
}

static gpointer
race_thread (gpointer data)
{
  RaceThread *rt = data;
  Race *race = rt->race;

  thread_index = (gint) rt->index;

  for (;;)
    {
      ag_test_barrier_wait (&race->start);
      if (g_atomic_int_get (&race->quit))
        break;
      run_batch (race, rt->index);
      ag_test_barrier_wait (&race->end);
    }

  return NULL;
}

/* }}} */

/* {{{ Preparation and checks (thread 0, between the barriers) */

typedef struct
{
  guint64 races;
  guint64 cancel_true;
  guint64 cancel_false;
  guint64 set_lost;          /* completions that returned FALSE */
  guint64 canceller_won;     /* races the canceller completed */
  guint64 canceller_calls;
  guint64 callbacks_added;
  guint64 callbacks_run;
  guint64 callbacks_inline;  /* run by the thread that added them */
  guint64 callbacks_removed;
  guint64 overlapped;        /* races where two calls overlapped in time */
  guint64 final[AG_PENDING_STATE_CANCELLED + 1];
  StressObjects pendings;
} Figures;

/* What thread 0 does to a pending (drawn with stress_draw()): it always
 * completes it; */
static const StressChoice completer_ops[] = {
  { 55, OP_SET_INT },
  { 90, OP_SET_ERROR },
  { 100, OP_TAKE_CANCELLED },
};

/* and what each of the other threads does. */
static const StressChoice other_ops[] = {
  { 35, OP_CANCEL },
  { 65, OP_ADD_CALLBACK },
  { 75, OP_ADD_REMOVE_CALLBACK },
  { 85, OP_SET_INT },
  { 95, OP_SET_ERROR },
  { 100, OP_NONE },
};

static void
prepare_batch (Race    *race,
               GRand   *rand,
               guint    first,
               guint    n,
               Figures *figures)
{
  race->n_slots = n;

  for (guint i = 0; i < n; i++)
    {
      Slot *slot = &race->slots[i];

      memset (slot, 0, sizeof *slot);
      slot->index = first + i;
      slot->pending = stress_objects_track (&figures->pendings,
                                            ag_pending_new ());

      slot->ops[0] = stress_draw (rand, completer_ops,
                                  G_N_ELEMENTS (completer_ops));
      for (guint t = 1; t < N_THREADS; t++)
        slot->ops[t] = stress_draw (rand, other_ops, G_N_ELEMENTS (other_ops));
      for (guint t = 0; t < N_THREADS; t++)
        {
          slot->jitter[t] = (guint) g_rand_int_range (rand, 0, MAX_JITTER);
          slot->callbacks[t].slot = slot;
          slot->callbacks[t].thread = -1;
          slot->callbacks[t].state_seen = -1;
        }

      slot->canceller_kind = g_rand_boolean (rand) ? CANCELLER_COMPLETES
                                                   : CANCELLER_NOOP;
      slot->canceller_preset = g_rand_int_range (rand, 0, 100) < 60;
      if (slot->canceller_preset)
        ag_pending_set_canceller (slot->pending, canceller_cb, slot,
                                  canceller_destroy);
      else
        slot->ops[g_rand_int_range (rand, 1, N_THREADS)] = OP_SET_CANCELLER;
    }
}

static gboolean
op_completes (Op op)
{
  return op == OP_SET_INT || op == OP_SET_ERROR || op == OP_TAKE_CANCELLED;
}

#define slot_fail(slot, ...)                                              \
  G_STMT_START                                                            \
    {                                                                     \
      g_autofree char *description_ = ag_pending_to_string ((slot)->pending); \
      g_autofree char *what_ = g_strdup_printf (__VA_ARGS__);             \
      g_error ("race %u: %s (ops %d %d %d %d, returned %d %d %d %d, "     \
               "canceller %s/%s, canceller calls %d won %d; %s)",         \
               (slot)->index, what_,                                      \
               (slot)->ops[0], (slot)->ops[1], (slot)->ops[2],            \
               (slot)->ops[3], (slot)->returned[0], (slot)->returned[1],  \
               (slot)->returned[2], (slot)->returned[3],                  \
               (slot)->canceller_preset ? "preset" : "raced",             \
               (slot)->canceller_kind == CANCELLER_COMPLETES              \
                 ? "completes" : "noop",                                  \
               g_atomic_int_get (&(slot)->canceller_calls),               \
               g_atomic_int_get (&(slot)->canceller_won),                 \
               description_);                                             \
    }                                                                     \
  G_STMT_END

static void
check_slot (Slot    *slot,
            Figures *figures)
{
  AgPending *pending = slot->pending;
  AgPendingState state = ag_pending_get_state (pending);
  AgPendingState expected;
  gint winner = -1;  /* a thread, or N_THREADS for the canceller */
  guint n_won = 0;
  guint n_cancel_true = 0;
  gint first_true_cancel_before = G_MAXINT;
  gint canceller_calls = g_atomic_int_get (&slot->canceller_calls);
  gint canceller_won = g_atomic_int_get (&slot->canceller_won);

  if (!ag_pending_is_done (pending))
    slot_fail (slot, "not done after the race");

  /* Exactly one completion won. */
  for (guint t = 0; t < N_THREADS; t++)
    {
      if (op_completes (slot->ops[t]))
        {
          if (slot->returned[t])
            {
              n_won++;
              winner = (gint) t;
            }
          else
            figures->set_lost++;
        }
      else if (slot->ops[t] == OP_CANCEL)
        {
          if (slot->returned[t])
            {
              n_cancel_true++;
              first_true_cancel_before = MIN (first_true_cancel_before,
                                              slot->before[t]);
            }
          figures->cancel_true += slot->returned[t] ? 1 : 0;
          figures->cancel_false += slot->returned[t] ? 0 : 1;
        }
    }
  if (canceller_won > 1)
    slot_fail (slot, "the canceller completed the pending %d times",
               canceller_won);
  if (canceller_won == 1)
    {
      n_won++;
      winner = N_THREADS;
      figures->canceller_won++;
    }
  if (n_won != 1)
    slot_fail (slot, "%u completions returned TRUE", n_won);

  /* The canceller completes only when called, from a cancel that returned
   * TRUE; and the final state follows from the winner and the cancels. */
  if (winner == N_THREADS && n_cancel_true == 0)
    slot_fail (slot, "the canceller completed it with no cancel returning "
               "TRUE");

  if (n_cancel_true > 0)
    expected = AG_PENDING_STATE_CANCELLED;
  else
    {
      switch (slot->ops[winner])
        {
        case OP_SET_INT:
          expected = AG_PENDING_STATE_SUCCEEDED;
          break;
        case OP_SET_ERROR:
          expected = AG_PENDING_STATE_FAILED;
          break;
        case OP_TAKE_CANCELLED:
          expected = AG_PENDING_STATE_CANCELLED;
          break;
        default:
          g_assert_not_reached ();
        }
    }
  if (state != expected)
    slot_fail (slot, "state %d, expected %d (winner %d, %u cancels TRUE)",
               state, expected, winner, n_cancel_true);
  figures->final[state]++;

  /* Cancels and the winning completion are ordered as their results
   * say. */
  for (guint t = 0; t < N_THREADS; t++)
    {
      if (slot->ops[t] != OP_CANCEL || winner == N_THREADS)
        continue;
      if (slot->returned[t] && !(slot->before[t] < slot->after[winner]))
        slot_fail (slot, "cancel %u returned TRUE but began after the "
                   "winning completion ended", t);
      if (!slot->returned[t] && !(slot->before[winner] < slot->after[t]))
        slot_fail (slot, "cancel %u returned FALSE but ended before the "
                   "winning completion began", t);
    }
  if (winner == N_THREADS &&
      !(first_true_cancel_before < G_MAXINT))
    slot_fail (slot, "the canceller won without a cancel");

  /* The outcome reads as the state says. */
  {
    g_autoptr(GError) error = NULL;
    gint64 value = ag_pending_get_int (pending, &error);

    switch (state)
      {
      case AG_PENDING_STATE_SUCCEEDED:
        if (error != NULL || value != slot->index)
          slot_fail (slot, "succeeded with %" G_GINT64_FORMAT " (%s)", value,
                     error ? error->message : "no error");
        break;

      case AG_PENDING_STATE_FAILED:
        {
          g_autofree char *message = g_strdup_printf ("fail-%u", slot->index);

          if (!g_error_matches (error, AG_ERROR, AG_ERROR_FAILED) ||
              !g_str_equal (error->message, message))
            slot_fail (slot, "failed with the wrong error (%s)",
                       error ? error->message : "none");
        }
        break;

      case AG_PENDING_STATE_CANCELLED:
        if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
          slot_fail (slot, "cancelled, but reads as %s",
                     error ? error->message : "a value");
        break;

      default:
        slot_fail (slot, "not in a done state");
      }
  }

  /* Each cancel that returned TRUE left its message. */
  if (n_cancel_true > 0)
    {
      g_autofree char *messages = ag_pending_dup_cancel_message (pending);

      for (guint t = 0; t < N_THREADS; t++)
        if (slot->ops[t] == OP_CANCEL && slot->returned[t] &&
            (messages == NULL || strstr (messages, cancel_messages[t]) == NULL))
          slot_fail (slot, "the cancel message “%s” lacks “%s”",
                     messages ? messages : "(null)", cancel_messages[t]);
    }

  /* Done callbacks: exactly once, or removed and never; destroy once. */
  for (guint t = 0; t < N_THREADS; t++)
    {
      CallbackRecord *record = &slot->callbacks[t];
      gint calls = g_atomic_int_get (&record->calls);
      gint destroys = g_atomic_int_get (&record->destroys);

      if (slot->ops[t] != OP_ADD_CALLBACK &&
          slot->ops[t] != OP_ADD_REMOVE_CALLBACK)
        continue;

      figures->callbacks_added++;
      if (slot->removed[t] > 1)
        slot_fail (slot, "remove_done_callback removed %u callbacks",
                   slot->removed[t]);
      if (calls != 1 - (gint) slot->removed[t])
        slot_fail (slot, "callback %u ran %d times (removed %u)", t, calls,
                   slot->removed[t]);
      if (destroys != 1)
        slot_fail (slot, "callback %u destroyed %d times", t, destroys);
      if (calls == 1)
        {
          figures->callbacks_run++;
          if (g_atomic_int_get (&record->state_seen) != (gint) state)
            slot_fail (slot, "callback %u saw state %d", t,
                       g_atomic_int_get (&record->state_seen));
          if (g_atomic_int_get (&record->thread) == (gint) t)
            figures->callbacks_inline++;
        }
      else
        figures->callbacks_removed++;
    }

  /* The canceller: once per cancel that returned TRUE, never after its
   * destroy, which ran exactly once. */
  figures->canceller_calls += (guint64) canceller_calls;
  if (slot->canceller_preset ? canceller_calls != (gint) n_cancel_true
                             : canceller_calls > (gint) n_cancel_true)
    slot_fail (slot, "the canceller ran %d times for %u cancels returning "
               "TRUE", canceller_calls, n_cancel_true);
  if (g_atomic_int_get (&slot->canceller_late) != 0)
    slot_fail (slot, "the canceller ran after its destroy notify");
  if (g_atomic_int_get (&slot->canceller_destroys) != 1)
    slot_fail (slot, "the canceller's destroy ran %d times",
               g_atomic_int_get (&slot->canceller_destroys));
}

static gboolean slot_overlapped (const Slot *slot);

static void
finish_batch (Race    *race,
              Figures *figures)
{
  gint finalized_before = g_atomic_int_get (&figures->pendings.finalized);

  for (guint i = 0; i < race->n_slots; i++)
    {
      check_slot (&race->slots[i], figures);
      if (slot_overlapped (&race->slots[i]))
        figures->overlapped++;
    }

  for (guint i = 0; i < race->n_slots; i++)
    g_clear_object (&race->slots[i].pending);

  /* Nothing else holds a pending: the last unref finalized it, and no
   * destroy notify ran a second time. */
  g_assert_cmpint (g_atomic_int_get (&figures->pendings.finalized)
                   - finalized_before, ==, (gint) race->n_slots);
  for (guint i = 0; i < race->n_slots; i++)
    {
      Slot *slot = &race->slots[i];

      g_assert_cmpint (g_atomic_int_get (&slot->canceller_destroys), ==, 1);
      for (guint t = 0; t < N_THREADS; t++)
        if (slot->ops[t] == OP_ADD_CALLBACK ||
            slot->ops[t] == OP_ADD_REMOVE_CALLBACK)
          g_assert_cmpint (g_atomic_int_get (&slot->callbacks[t].destroys),
                           ==, 1);
    }

  figures->races += race->n_slots;
}

/* Whether two of the threads' calls on @slot overlapped in time (each
 * began before the other ended): the race was a real one. */
static gboolean
slot_overlapped (const Slot *slot)
{
  for (guint a = 0; a < N_THREADS; a++)
    for (guint b = a + 1; b < N_THREADS; b++)
      if (slot->ops[a] != OP_NONE && slot->ops[b] != OP_NONE &&
          slot->before[a] < slot->after[b] && slot->before[b] < slot->after[a])
        return TRUE;
  return FALSE;
}

/* }}} */

static void
test_races (void)
{
  guint n_races = stress_iterations (FULL_RACES, BATCH);
  g_autoptr(GRand) rand = stress_rand_new (1);
  RaceThread threads[N_THREADS];
  GThread *handles[N_THREADS] = { NULL, };
  Race *race = g_new0 (Race, 1);
  Figures figures = { 0, };
  gint64 start = g_get_monotonic_time ();
  guint done = 0;

  g_test_summary ("2M races of complete, cancel, add/remove callback and "
                  "set_canceller on fresh pendings across 4 threads");

  if (ag_test_running_on_valgrind ())
    meet_spins = 0;

  ag_test_barrier_init (&race->start, N_THREADS);
  ag_test_barrier_init (&race->end, N_THREADS);

  thread_index = 0;
  for (guint t = 0; t < N_THREADS; t++)
    {
      threads[t].race = race;
      threads[t].index = t;
      if (t > 0)
        handles[t] = g_thread_new ("stress-race", race_thread, &threads[t]);
    }

  while (done < n_races)
    {
      guint n = MIN (BATCH, n_races - done);

      prepare_batch (race, rand, done, n, &figures);
      ag_test_barrier_wait (&race->start);
      run_batch (race, 0);
      ag_test_barrier_wait (&race->end);
      finish_batch (race, &figures);
      done += n;
    }

  g_atomic_int_set (&race->quit, 1);
  ag_test_barrier_wait (&race->start);
  for (guint t = 1; t < N_THREADS; t++)
    g_thread_join (handles[t]);

  g_assert_cmpint (stress_objects_wait (&figures.pendings), ==, 0);

  stress_summary ("pending-races",
                  "%" G_GUINT64_FORMAT " races, %d threads, "
                  "%.1f%% with overlapping calls, "
                  "%" G_GUINT64_FORMAT " pendings finalized, "
                  "%" G_GUINT64_FORMAT " completions lost, "
                  "cancels TRUE %" G_GUINT64_FORMAT
                  " / FALSE %" G_GUINT64_FORMAT ", "
                  "canceller calls %" G_GUINT64_FORMAT
                  " (completed %" G_GUINT64_FORMAT "), "
                  "callbacks %" G_GUINT64_FORMAT " added / %" G_GUINT64_FORMAT
                  " run once (%.1f%% inline) / %" G_GUINT64_FORMAT
                  " removed, final succeeded %.1f%% failed %.1f%% "
                  "cancelled %.1f%%, 0 violations, %.1f s",
                  figures.races, N_THREADS,
                  stress_percent (figures.overlapped, figures.races),
                  (guint64) g_atomic_int_get (&figures.pendings.finalized),
                  figures.set_lost, figures.cancel_true, figures.cancel_false,
                  figures.canceller_calls, figures.canceller_won,
                  figures.callbacks_added, figures.callbacks_run,
                  stress_percent (figures.callbacks_inline,
                                  figures.callbacks_run),
                  figures.callbacks_removed,
                  stress_percent (figures.final[AG_PENDING_STATE_SUCCEEDED],
                                  figures.races),
                  stress_percent (figures.final[AG_PENDING_STATE_FAILED],
                                  figures.races),
                  stress_percent (figures.final[AG_PENDING_STATE_CANCELLED],
                                  figures.races),
                  stress_seconds_since (start));

  g_free (race);
}

int
main (int   argc,
      char *argv[])
{
  stress_test_init (&argc, &argv, "stress-pending");

  g_test_add_func ("/stress/pending/races", test_races);

  return g_test_run ();
}

/* vim: set foldmethod=marker: */
