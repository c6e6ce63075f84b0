/* stress-group.c: groups of 10k members failing and cancelling at once
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * One test per group mode (IGNORE, CANCEL_RAISE, CANCEL_QUIET,
 * IGNORE_RAISE), 40 rounds each. Each round enters a group on the test
 * thread and makes 10k members in it: plain pendings, and to_thread jobs
 * (a quarter) that start at once on a pool caller. Then, all together:
 *
 * - racer A completes every plain member, while racer B cancels some and
 *   tries to complete others first, so that many plain members are set by
 *   two racing threads; the members planned to fail (0 to 20 per round)
 *   form a cluster, sometimes at the end, that A and B reach together and
 *   fail alternately, each trying to complete the other's first; jobs
 *   succeed or fail in their workers, and B cancels some of them too;
 * - thread C cancels the whole group (ag_pending_group_cancel) once a
 *   random number of members are done, then completes the "gate" member
 *   it kept back, so the group cancel always lands before the group
 *   empties;
 * - the test thread calls exit_async and iterates its context.
 *
 * A failure cancels the group and every member not done yet, so members
 * planned to fail often end cancelled: which members failed is whatever
 * the races made it. The checks (DESIGN.md, "Trackers"):
 *
 * - exit's callback runs exactly once, after the last member is done (the
 *   group's pending completes when every member is done, and get_failed
 *   lists then what it lists at the end);
 * - get_failed lists exactly the members that ended FAILED, each once, in
 *   an order consistent with when they failed (a member whose failure
 *   ended before another's began comes first);
 * - the exit error is the first failure's; with no failure, the group
 *   cancel's G_IO_ERROR_CANCELLED with its message;
 * - every member's done callback and destroy notify ran exactly once,
 *   every job at most once, the group tracks nothing at the end, and every
 *   pending, the group and the pool's threads are gone afterwards.
 *
 * "When a failure began and ended" are tickets from one atomic counter,
 * taken just before and after the take_error() that failed the member.
 *
 * /stress/group/last-members checks the same contract where it is
 * thinnest: 200k small groups whose last two members fail and complete at
 * the same moment (see the section below).
 */

#include "config.h"

#include "stress-util.h"

#define FULL_MEMBERS   10000
#define FULL_GROUPS    40  /* per mode */
#define JOB_PERCENT    25
#define GROUP_MESSAGE  "stress group cancel"

typedef enum
{
  PLAN_SUCCEED,
  PLAN_FAIL,
  PLAN_CANCEL,   /* racer B cancels it */
} Plan;

typedef enum
{
  KIND_PLAIN,
  KIND_JOB,
  KIND_GATE,     /* plain, completed by C after the group cancel */
} Kind;

typedef struct _Round Round;

typedef struct
{
  Round     *round;
  guint      index;
  Kind       kind;
  Plan       plan;
  gboolean   b_competes;  /* racer B tries set_int first */
  gboolean   b_fails;     /* PLAN_FAIL: B fails it (and A tries set_int) */
  gboolean   meet;        /* A and B wait for each other here */
  guint      jitter;

  AgPending *pending;     /* owned; set before the racers start */
  gint       ran;         /* (atomic) jobs */
  gint       destroyed;   /* (atomic) jobs */
  gint       done_calls;  /* (atomic) */
  gint       before;      /* (atomic) tickets around the failing call */
  gint       after;       /* (atomic) */
} Member;

struct _Round
{
  guint           index;
  AgPendingGroupMode mode;
  Member         *members;
  guint           n_members;
  AgPendingGroup *group;
  AgTestBarrier   start;
  gint            ticket;       /* (atomic) */
  gint            done_count;   /* (atomic) members done */
  gint            cancel_at;    /* C cancels the group after this many */
  gint            meet;         /* (atomic) racers at the failure cluster */

  /* the group's pending: its done callback */
  gint            group_done_calls;   /* (atomic) */
  gboolean        all_done_at_group_done;
  GPtrArray      *failed_at_group_done;  /* owned */

  /* exit_async */
  gint            exit_calls;   /* (atomic) */
  gboolean        exit_ok;
  GError         *exit_error;
  gboolean        all_done_at_exit;

  StressObjects  *pendings;
};

typedef struct
{
  guint64 groups;
  guint64 members;
  guint64 jobs;
  guint64 by_state[AG_PENDING_STATE_CANCELLED + 1];
  guint64 planned_failures;
  guint64 exits_failed;
  guint64 exits_cancelled;
  guint64 max_failed;
} Figures;

/* {{{ Members */

static void
fail_member (Member    *member,
             AgPending *pending)
{
  Round *round = member->round;

  g_atomic_int_set (&member->before, g_atomic_int_add (&round->ticket, 1));
  ag_pending_take_error (pending,
                         g_error_new (AG_ERROR, AG_ERROR_FAILED,
                                      "member %u failed", member->index));
  g_atomic_int_set (&member->after, g_atomic_int_add (&round->ticket, 1));
}

static AgPending *
member_job (AgPending *pending,
            gpointer   data)
{
  Member *member = data;

  if (g_atomic_int_add (&member->ran, 1) != 0)
    g_error ("member %u: the job ran twice", member->index);

  if (member->plan == PLAN_FAIL)
    fail_member (member, pending);
  else
    ag_pending_set_int (pending, member->index);

  return NULL;
}

static void
member_job_destroy (gpointer data)
{
  Member *member = data;

  if (g_atomic_int_add (&member->destroyed, 1) != 0)
    g_error ("member %u: the job's destroy notify ran twice", member->index);
}

static void
member_done_cb (AgPending *pending,
                gpointer   data)
{
  Member *member = data;

  if (g_atomic_int_add (&member->done_calls, 1) != 0)
    g_error ("member %u: done callback ran twice", member->index);
  g_atomic_int_inc (&member->round->done_count);
}

/* }}} */

/* {{{ The racers */

/* A and B wait for each other (bounded: 20 ms, never a sleep) at the start
 * of the failure cluster, so that they fail its members at the same time:
 * B, which has less to do, would otherwise get there long before A. */
static void
meet_at_cluster (Round *round)
{
  gint64 deadline = g_get_monotonic_time () + 20 * G_TIME_SPAN_MILLISECOND;

  g_atomic_int_inc (&round->meet);
  while (g_atomic_int_get (&round->meet) < 2 &&
         g_get_monotonic_time () < deadline)
    stress_spin (64);
}

/* Racer A: completes the plain members as planned (B fails half of those
 * planned to fail: A then tries to complete them first). */
static gpointer
racer_a (gpointer data)
{
  Round *round = data;

  ag_test_barrier_wait (&round->start);

  for (guint i = 0; i < round->n_members; i++)
    {
      Member *member = &round->members[i];

      if (member->meet)
        meet_at_cluster (round);
      if (member->kind != KIND_PLAIN)
        continue;

      stress_spin (member->jitter);
      if (member->plan == PLAN_FAIL && !member->b_fails)
        fail_member (member, member->pending);
      else
        ag_pending_set_int (member->pending, member->index);
    }

  return NULL;
}

/* Racer B: cancels the members planned to be cancelled (jobs too), fails
 * half of the plain members planned to fail (while A tries to complete
 * them), and races A to complete some others. */
static gpointer
racer_b (gpointer data)
{
  Round *round = data;

  ag_test_barrier_wait (&round->start);

  for (guint i = 0; i < round->n_members; i++)
    {
      Member *member = &round->members[i];

      if (member->meet)
        meet_at_cluster (round);
      if (member->kind == KIND_GATE)
        continue;

      stress_spin (member->jitter);
      if (member->plan == PLAN_CANCEL)
        ag_pending_cancel (member->pending, "cancelled by racer B");
      else if (member->plan == PLAN_FAIL && member->b_fails)
        fail_member (member, member->pending);
      else if (member->b_competes && member->kind == KIND_PLAIN)
        ag_pending_set_int (member->pending, member->index);
    }

  return NULL;
}

/* Fails the test for a round that stopped making progress, saying how far
 * it got and how long the cancel messages of the members left have grown
 * (each cancellation of a member appends to its message). */
G_GNUC_NORETURN static void
report_stuck (Round      *round,
              const char *what)
{
  gsize longest = 0;
  guint not_done = 0;

  for (guint i = 0; i < round->n_members; i++)
    {
      AgPending *pending = round->members[i].pending;
      g_autofree char *message = NULL;

      if (ag_pending_is_done (pending))
        continue;
      not_done++;
      message = ag_pending_dup_cancel_message (pending);
      if (message != NULL)
        longest = MAX (longest, strlen (message));
    }

  g_error ("round %u (mode %d): %s: only %d of %u members done after "
           "%d ms; %u not done, whose longest cancel message is %"
           G_GSIZE_FORMAT " bytes", round->index, round->mode, what,
           g_atomic_int_get (&round->done_count), round->n_members,
           AG_TEST_TIMEOUT_MSEC, not_done, longest);
}

/* Thread C: cancels the group once enough members are done, then lets the
 * gate member go. */
static gpointer
group_canceller (gpointer data)
{
  Round *round = data;
  Member *gate = &round->members[round->n_members - 1];

  ag_test_barrier_wait (&round->start);

  if (stress_wait_at_least (&round->done_count, round->cancel_at) <
      round->cancel_at)
    report_stuck (round, "members done before the group cancel");

  ag_pending_group_cancel (round->group, GROUP_MESSAGE);
  ag_pending_set_int (gate->pending, gate->index);

  return NULL;
}

/* }}} */

/* {{{ The group's pending and exit */

static void
group_done_cb (AgPending *pending,
               gpointer   data)
{
  Round *round = data;

  round->all_done_at_group_done = TRUE;
  for (guint i = 0; i < round->n_members; i++)
    if (!ag_pending_is_done (round->members[i].pending))
      round->all_done_at_group_done = FALSE;
  round->failed_at_group_done = ag_pending_group_get_failed (round->group);

  g_atomic_int_inc (&round->group_done_calls);
}

static void
exit_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      data)
{
  Round *round = data;

  round->exit_ok = ag_pending_group_exit_finish (AG_PENDING_GROUP (source),
                                                 result, &round->exit_error);
  round->all_done_at_exit = TRUE;
  for (guint i = 0; i < round->n_members; i++)
    if (!ag_pending_is_done (round->members[i].pending))
      round->all_done_at_exit = FALSE;

  g_atomic_int_inc (&round->exit_calls);
}

/* }}} */

/* {{{ Checks */

static void
check_round (Round   *round,
             Figures *figures)
{
  g_autoptr(GPtrArray) failed = ag_pending_group_get_failed (round->group);
  g_autoptr(GHashTable) failed_set = g_hash_table_new (NULL, NULL);
  guint n_failed_members = 0;

  /* Exit: once, after every member. */
  g_assert_cmpint (g_atomic_int_get (&round->exit_calls), ==, 1);
  g_assert_cmpint (g_atomic_int_get (&round->group_done_calls), ==, 1);
  if (!round->all_done_at_group_done)
    g_error ("round %u: the group's pending completed before every member "
             "was done", round->index);
  if (!round->all_done_at_exit)
    g_error ("round %u: exit finished before every member was done",
             round->index);
  g_assert_cmpuint (ag_pending_tracker_get_n_pendings (
                      AG_PENDING_TRACKER (round->group)), ==, 0);
  g_assert_cmpint (ag_pending_tracker_get_state (
                     AG_PENDING_TRACKER (round->group)), ==,
                   AG_PENDING_TRACKER_STATE_STOPPED);

  /* get_failed: exactly the FAILED members, each once. */
  for (guint i = 0; i < failed->len; i++)
    {
      AgPending *pending = g_ptr_array_index (failed, i);

      if (!g_hash_table_add (failed_set, pending))
        g_error ("round %u: get_failed lists a member twice", round->index);
      if (ag_pending_get_state (pending) != AG_PENDING_STATE_FAILED)
        g_error ("round %u: get_failed lists a member in state %d",
                 round->index, ag_pending_get_state (pending));
    }

  for (guint i = 0; i < round->n_members; i++)
    {
      Member *member = &round->members[i];
      AgPendingState state = ag_pending_get_state (member->pending);

      if (!ag_pending_is_done (member->pending))
        g_error ("round %u: member %u is not done", round->index, i);
      /* The group may exit while the thread that completed its last
       * member still runs that member's later done callbacks (ours come
       * after the group's): wait for them, bounded. */
      if (stress_wait_at_least (&member->done_calls, 1) != 1)
        g_error ("round %u: member %u: done callback ran %d times",
                 round->index, i, g_atomic_int_get (&member->done_calls));
      if (member->kind == KIND_JOB &&
          stress_wait_at_least (&member->destroyed, 1) != 1)
        g_error ("round %u: member %u: the job's destroy ran %d times",
                 round->index, i, g_atomic_int_get (&member->destroyed));

      figures->by_state[state]++;
      if (state == AG_PENDING_STATE_FAILED)
        {
          n_failed_members++;
          if (member->plan != PLAN_FAIL)
            g_error ("round %u: member %u failed, planned %d", round->index,
                     i, member->plan);
          if (!g_hash_table_contains (failed_set, member->pending))
            g_error ("round %u: member %u failed but get_failed does not "
                     "list it", round->index, i);
        }
    }
  if (n_failed_members != failed->len)
    g_error ("round %u: %u members failed, get_failed lists %u",
             round->index, n_failed_members, failed->len);
  figures->max_failed = MAX (figures->max_failed, failed->len);

  /* The same list when the group's pending completed: nothing failed
   * after the group was done with. */
  if (round->failed_at_group_done->len != failed->len)
    g_error ("round %u: get_failed listed %u members when the group's "
             "pending completed, %u at the end", round->index,
             round->failed_at_group_done->len, failed->len);

  /* In an order consistent with the failures' times. */
  for (guint i = 0; i < failed->len; i++)
    for (guint j = i + 1; j < failed->len; j++)
      {
        Member *earlier = NULL;
        Member *later = NULL;

        for (guint k = 0; k < round->n_members; k++)
          {
            if (round->members[k].pending == g_ptr_array_index (failed, i))
              earlier = &round->members[k];
            if (round->members[k].pending == g_ptr_array_index (failed, j))
              later = &round->members[k];
          }
        g_assert_nonnull (earlier);
        g_assert_nonnull (later);
        if (g_atomic_int_get (&later->after) <
            g_atomic_int_get (&earlier->before))
          g_error ("round %u: get_failed lists member %u before member %u, "
                   "whose failure ended before the other began",
                   round->index, earlier->index, later->index);
      }

  /* The exit error: the first failure's, else the group cancel's. */
  g_assert_false (round->exit_ok);
  if (failed->len > 0)
    {
      g_autoptr(GError) first =
        ag_pending_dup_error (g_ptr_array_index (failed, 0));

      if (!g_error_matches (round->exit_error, first->domain, first->code) ||
          !g_str_equal (round->exit_error->message, first->message))
        g_error ("round %u: exit failed with “%s”, the first failure is "
                 "“%s”",
                 round->index, round->exit_error->message, first->message);
      figures->exits_failed++;
    }
  else
    {
      if (!g_error_matches (round->exit_error, G_IO_ERROR,
                            G_IO_ERROR_CANCELLED) ||
          strstr (round->exit_error->message, GROUP_MESSAGE) == NULL)
        g_error ("round %u: with no failure, exit failed with “%s”",
                 round->index, round->exit_error->message);
      figures->exits_cancelled++;
    }
}

/* }}} */

static void
run_round (guint          index,
           AgPendingGroupMode mode,
           GRand         *rand,
           AgCaller      *pool,
           guint          n_members,
           StressObjects *pendings,
           StressObjects *groups,
           Figures       *figures)
{
  static const guint failure_counts[] = { 0, 1, 2, 5, 20 };
  Round *round = g_new0 (Round, 1);
  GThread *threads[3];
  g_autoptr(GError) error = NULL;
  guint n_fail =
    failure_counts[g_rand_int_range (rand, 0, G_N_ELEMENTS (failure_counts))];
  guint cancel_percent = (guint) g_rand_int_range (rand, 0, 10);

  round->index = index;
  round->mode = mode;
  round->n_members = n_members;
  round->members = g_new0 (Member, n_members);
  round->pendings = pendings;
  round->cancel_at = g_rand_int_range (rand, 0, (gint32) n_members);
  ag_test_barrier_init (&round->start, 4);

  /* Plans. The last member is the gate. */
  for (guint i = 0; i < n_members; i++)
    {
      Member *member = &round->members[i];

      member->round = round;
      member->index = i;
      member->kind = g_rand_int_range (rand, 0, 100) < JOB_PERCENT
                       ? KIND_JOB : KIND_PLAIN;
      member->plan = (guint) g_rand_int_range (rand, 0, 100) < cancel_percent
                       ? PLAN_CANCEL : PLAN_SUCCEED;
      member->b_competes = g_rand_int_range (rand, 0, 100) < 20;
      member->jitter = (guint) g_rand_int_range (rand, 0, 32);
      member->before = member->after = -1;
    }
  round->members[n_members - 1].kind = KIND_GATE;
  round->members[n_members - 1].plan = PLAN_SUCCEED;
  /* The failures come in a cluster of plain members, failed alternately
   * by A and B (which meet at its start), so that several fail at once
   * before the first one's cancellation reaches the others. In a third of
   * the rounds the cluster is the last plain members, so that a failure
   * is among the last members done, racing the group's emptying. Now and
   * then a job fails too. */
  if (n_fail > 0 && n_members > 1)
    {
      gboolean at_end = g_rand_int_range (rand, 0, 3) == 0;
      guint i = (guint) g_rand_int_range (rand, 0, (gint32) n_members - 1);
      guint assigned = 0;
      guint meet = i;  /* where A and B meet: the cluster's first member */

      for (guint k = 0; k < n_members - 1 && assigned < n_fail; k++)
        {
          guint index = at_end ? n_members - 2 - k
                               : (i + k) % (n_members - 1);
          Member *member = &round->members[index];

          if (member->kind != KIND_PLAIN)
            continue;
          member->plan = PLAN_FAIL;
          member->b_fails = assigned % 2 == 1;
          member->b_competes = !member->b_fails;
          assigned++;
          if (at_end)
            meet = index;
        }
      round->members[meet].meet = TRUE;
      if (g_rand_int_range (rand, 0, 100) < 20)
        {
          for (guint k = 0; k < n_members - 1; k++)
            {
              Member *member = &round->members[(i + k) % (n_members - 1)];

              if (member->kind == KIND_JOB)
                {
                  member->plan = PLAN_FAIL;
                  break;
                }
            }
        }
    }
  for (guint i = 0; i < n_members; i++)
    figures->planned_failures += round->members[i].plan == PLAN_FAIL;

  /* Enter, and make the members: jobs start at once. */
  round->group = ag_pending_group_new (FALSE, round->mode);
  stress_objects_track (groups, round->group);
  g_assert_true (ag_pending_group_enter (round->group, &error));
  g_assert_no_error (error);

  for (guint i = 0; i < n_members; i++)
    {
      Member *member = &round->members[i];

      if (member->kind == KIND_JOB)
        {
          member->pending = ag_caller_to_thread (pool, member_job, member,
                                                 member_job_destroy);
          figures->jobs++;
        }
      else
        member->pending = ag_pending_new ();
      stress_objects_track (pendings, member->pending);
      ag_pending_add_done_callback (member->pending, member_done_cb, member,
                                    NULL);
    }

  ag_pending_add_done_callback (ag_pending_group_get_pending (round->group),
                                group_done_cb, round, NULL);

  threads[0] = g_thread_new ("stress-racer-a", racer_a, round);
  threads[1] = g_thread_new ("stress-racer-b", racer_b, round);
  threads[2] = g_thread_new ("stress-group-cancel", group_canceller, round);

  /* Go: the racers, the group cancel and the exit, all at once. */
  ag_test_barrier_wait (&round->start);
  ag_pending_group_exit_async (round->group, NULL, exit_cb, round);

  /* Bounded by the test timeout (times 6 for 10k members under load). */
  {
    gint timed_out = 0;
    GSource *timeout = g_timeout_source_new (AG_TEST_TIMEOUT_MSEC * 6);

    g_source_set_callback (timeout, ag_test_set_flag_cb, &timed_out, NULL);
    g_source_attach (timeout, NULL);
    while (g_atomic_int_get (&round->exit_calls) < 1 &&
           !g_atomic_int_get (&timed_out))
      g_main_context_iteration (NULL, TRUE);
    g_source_destroy (timeout);
    g_source_unref (timeout);
    if (g_atomic_int_get (&round->exit_calls) < 1)
      report_stuck (round, "the group did not exit");
  }

  for (guint t = 0; t < G_N_ELEMENTS (threads); t++)
    g_thread_join (threads[t]);

  /* Nothing more is delivered: the exit callback stays at one call. */
  ag_test_drain (NULL);

  check_round (round, figures);
  figures->groups++;
  figures->members += n_members;

  for (guint i = 0; i < n_members; i++)
    g_clear_object (&round->members[i].pending);
  g_clear_pointer (&round->failed_at_group_done, g_ptr_array_unref);
  g_clear_error (&round->exit_error);
  g_clear_object (&round->group);
  g_free (round->members);
  g_free (round);
}

static const char *mode_names[] = {
  "ignore", "cancel-raise", "cancel-quiet", "ignore-raise",
};

static void
test_group_fail_cancel (gconstpointer data)
{
  AgPendingGroupMode mode = GPOINTER_TO_UINT (data);
  guint n_members = stress_iterations (FULL_MEMBERS, 2);
  guint n_groups = stress_iterations (FULL_GROUPS, 1);
  g_autoptr(GRand) rand = stress_rand_new (50 + mode);
  g_autofree char *name = g_strdup_printf ("group-fail-cancel-%s",
                                           mode_names[mode]);
  StressObjects pendings = { 0, };
  StressObjects groups = { 0, };
  StressObjects callers = { 0, };
  Figures figures = { 0, };
  StressBaseline baseline;
  StressLeaks leaks;
  AgCaller *pool;
  guint sources_left;
  GMainContext *pool_context;
  gint64 start = g_get_monotonic_time ();

  g_test_summary ("groups of 10k members failing and cancelling "
                  "concurrently, with a group cancel from another thread: "
                  "exit once after the last member, get_failed exact, exit "
                  "error the first failure's (one group mode)");

  stress_baseline_take (&baseline);

  pool = ag_caller_new_thread ("group-pool");
  stress_objects_track (&callers, pool);
  pool_context = g_main_context_ref (ag_caller_get_context (pool));

  for (guint i = 0; i < n_groups; i++)
    run_round (i, mode, rand, pool, n_members, &pendings, &groups, &figures);

  ag_caller_stop (pool, TRUE);
  stress_wait_done (ag_caller_get_stopped (pool), "the pool's stop");
  g_object_unref (pool);

  g_assert_cmpint (stress_objects_wait (&callers), ==, 0);
  sources_left = stress_count_sources (pool_context);
  g_main_context_unref (pool_context);
  stress_baseline_compare (&baseline, &leaks);
  g_assert_cmpint (stress_objects_wait (&pendings), ==, 0);
  g_assert_cmpint (stress_objects_wait (&groups), ==, 0);

  stress_summary (name,
                  "%" G_GUINT64_FORMAT " members, in %" G_GUINT64_FORMAT
                  " groups of %u (%" G_GUINT64_FORMAT " of them to_thread "
                  "jobs), members succeeded %" G_GUINT64_FORMAT
                  " failed %" G_GUINT64_FORMAT " (of %" G_GUINT64_FORMAT
                  " planned; up to %" G_GUINT64_FORMAT " in one group) "
                  "cancelled %" G_GUINT64_FORMAT ", exits with the first "
                  "failure %" G_GUINT64_FORMAT ", with the group cancel %"
                  G_GUINT64_FORMAT ", 1 exit callback each, "
                  "left over: %u threads, %u callers, %d pendings, "
                  "%u sources, %.1f s",
                  figures.members, figures.groups, n_members, figures.jobs,
                  figures.by_state[AG_PENDING_STATE_SUCCEEDED],
                  figures.by_state[AG_PENDING_STATE_FAILED],
                  figures.planned_failures, figures.max_failed,
                  figures.by_state[AG_PENDING_STATE_CANCELLED],
                  figures.exits_failed, figures.exits_cancelled,
                  leaks.threads, leaks.callers,
                  pendings.created - pendings.finalized,
                  sources_left + leaks.default_sources,
                  stress_seconds_since (start));

  stress_assert_no_leaks (&leaks);
  g_assert_cmpuint (sources_left, ==, 0);
}

/* {{{ /stress/group/last-members: the last members fail and complete at
 * once */

/* The emptying of a group and the failure of one of its last members race
 * in a window of a few instructions, which 10k-member groups reach rarely:
 * here each round is a small exiting group whose last two members are
 * completed at the same moment by two threads (meeting, then a jitter
 * shorter than a completion), one of them failing its member. Exit must
 * still report the failure, and get_failed must list then what it lists
 * at the end.
 *
 * The window is only hit when the thread in it is preempted there, so two
 * noise threads wake up every few tens of microseconds (g_usleep() is
 * their whole job: they make preemptions frequent; nothing waits for
 * them). */

#define FULL_SMALL_ROUNDS  200000
#define SMALL_MEET_SPINS   30000

typedef struct
{
  AgTestBarrier   start;
  AgTestBarrier   end;
  gint            quit;       /* (atomic) */
  gint            meet;       /* (atomic) */
  /* set by the test thread before the start barrier */
  AgPendingGroup *group;
  AgPending      *members[2];
  gboolean        fails[2];
  guint           jitter[2];
  /* written by the racers, read after the end barrier */
  gint            before[2];
  gint            after[2];
  gint            ticket;     /* (atomic) */
} Small;

typedef struct
{
  Small *small;
  guint  index;
} SmallRacer;

static gpointer
noise_thread (gpointer data)
{
  Small *small = data;

  while (!g_atomic_int_get (&small->quit))
    g_usleep (20);

  return NULL;
}

static gpointer
small_racer (gpointer data)
{
  SmallRacer *racer = data;
  Small *small = racer->small;
  guint t = racer->index;

  for (;;)
    {
      ag_test_barrier_wait (&small->start);
      if (g_atomic_int_get (&small->quit))
        return NULL;

      g_atomic_int_inc (&small->meet);
      for (guint i = 0;
           i < SMALL_MEET_SPINS && g_atomic_int_get (&small->meet) < 2;
           i++)
        ;
      stress_spin (small->jitter[t]);

      small->before[t] = g_atomic_int_add (&small->ticket, 1);
      if (small->fails[t])
        ag_pending_take_error (small->members[t],
                               g_error_new (AG_ERROR, AG_ERROR_FAILED,
                                            "small member %u failed", t));
      else
        ag_pending_set_int (small->members[t], t);
      small->after[t] = g_atomic_int_add (&small->ticket, 1);

      ag_test_barrier_wait (&small->end);
    }
}

typedef struct
{
  gint       calls;    /* (atomic) */
  gboolean   ok;
  GError    *error;
  GPtrArray *failed_at_done;
  AgPendingGroup *group;
} SmallExit;

static void
small_group_done_cb (AgPending *pending,
                     gpointer   data)
{
  SmallExit *exit = data;

  exit->failed_at_done = ag_pending_group_get_failed (exit->group);
}

static void
small_exit_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      data)
{
  SmallExit *exit = data;

  exit->ok = ag_pending_group_exit_finish (AG_PENDING_GROUP (source), result,
                                           &exit->error);
  g_atomic_int_inc (&exit->calls);
}

static void
test_group_last_members (void)
{
  guint n_rounds = stress_iterations (FULL_SMALL_ROUNDS, 1);
  g_autoptr(GRand) rand = stress_rand_new (60);
  Small *small = g_new0 (Small, 1);
  SmallRacer racers[2];
  GThread *threads[2];
  GThread *noise[2];
  guint64 failed_total = 0, both_failed = 0, overlapped = 0;
  guint64 exits_failed = 0, exits_ok = 0;
  StressObjects pendings = { 0, };
  StressObjects groups = { 0, };
  gint64 start = g_get_monotonic_time ();

  g_test_summary ("200k small exiting groups whose last two members fail "
                  "and complete at the same moment: exit reports the "
                  "failure, get_failed is final when the group completes");

  ag_test_barrier_init (&small->start, 3);
  ag_test_barrier_init (&small->end, 3);
  for (guint t = 0; t < 2; t++)
    {
      racers[t].small = small;
      racers[t].index = t;
      threads[t] = g_thread_new ("stress-small-racer", small_racer,
                                 &racers[t]);
      noise[t] = g_thread_new ("stress-noise", noise_thread, small);
    }

  for (guint r = 0; r < n_rounds; r++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GPtrArray) failed = NULL;
      SmallExit exit = { 0, };
      guint n_failed_members = 0;

      small->group = ag_pending_group_new (FALSE, AG_PENDING_GROUP_MODE_IGNORE);
      stress_objects_track (&groups, small->group);
      exit.group = small->group;
      g_assert_true (ag_pending_group_enter (small->group, &error));
      g_assert_no_error (error);
      for (guint t = 0; t < 2; t++)
        {
          small->members[t] = stress_objects_track (&pendings,
                                                    ag_pending_new ());
          small->jitter[t] = (guint) g_rand_int_range (rand, 0, 64);
        }
      /* One fails, or both (a quarter of the rounds). */
      small->fails[0] = TRUE;
      small->fails[1] = g_rand_int_range (rand, 0, 4) == 0;
      if (g_rand_boolean (rand))
        {
          gboolean swap = small->fails[0];

          small->fails[0] = small->fails[1];
          small->fails[1] = swap;
        }
      small->meet = 0;

      ag_pending_add_done_callback (ag_pending_group_get_pending (small->group),
                                    small_group_done_cb, &exit, NULL);
      ag_pending_group_exit_async (small->group, NULL, small_exit_cb, &exit);

      ag_test_barrier_wait (&small->start);
      ag_test_barrier_wait (&small->end);

      ag_test_iterate_until (NULL, &exit.calls, 1);
      ag_test_drain (NULL);
      g_assert_cmpint (g_atomic_int_get (&exit.calls), ==, 1);

      failed = ag_pending_group_get_failed (small->group);
      for (guint t = 0; t < 2; t++)
        if (ag_pending_get_state (small->members[t]) == AG_PENDING_STATE_FAILED)
          {
            n_failed_members++;
            if (!g_ptr_array_find (failed, small->members[t], NULL))
              g_error ("round %u: member %u failed, get_failed does not list "
                       "it", r, t);
          }
      if (failed->len != n_failed_members)
        g_error ("round %u: get_failed lists %u members, %u failed", r,
                 failed->len, n_failed_members);
      if (exit.failed_at_done == NULL ||
          exit.failed_at_done->len != failed->len)
        g_error ("round %u: the group's pending completed when get_failed "
                 "listed %u of the %u failed members (the group emptied "
                 "before a failure was recorded)", r,
                 exit.failed_at_done ? exit.failed_at_done->len : 0,
                 failed->len);
      if (n_failed_members > 0)
        {
          g_autoptr(GError) first =
            ag_pending_dup_error (g_ptr_array_index (failed, 0));

          if (exit.ok || !g_error_matches (exit.error, first->domain,
                                           first->code) ||
              !g_str_equal (exit.error->message, first->message))
            g_error ("round %u: member “%s” failed, but exit %s", r,
                     first->message,
                     exit.ok ? "succeeded" : exit.error->message);
          exits_failed++;
        }
      else
        {
          g_assert_true (exit.ok);
          exits_ok++;
        }

      failed_total += n_failed_members;
      both_failed += n_failed_members == 2;
      if (small->before[0] < small->after[1] &&
          small->before[1] < small->after[0])
        overlapped++;

      g_clear_error (&exit.error);
      g_clear_pointer (&exit.failed_at_done, g_ptr_array_unref);
      g_clear_object (&small->members[0]);
      g_clear_object (&small->members[1]);
      g_clear_object (&small->group);
    }

  g_atomic_int_set (&small->quit, 1);
  ag_test_barrier_wait (&small->start);
  for (guint t = 0; t < 2; t++)
    {
      g_thread_join (threads[t]);
      g_thread_join (noise[t]);
    }

  g_assert_cmpint (stress_objects_wait (&pendings), ==, 0);
  g_assert_cmpint (stress_objects_wait (&groups), ==, 0);

  stress_summary ("group-last-members",
                  "%u groups, whose 2 last members completed at once "
                  "(%.1f%% overlapping in time), %" G_GUINT64_FORMAT
                  " failed members (%" G_GUINT64_FORMAT " groups with both "
                  "failed), exits with the first failure %" G_GUINT64_FORMAT
                  ", quiet exits %" G_GUINT64_FORMAT ", 0 exits missing a "
                  "failure, %.1f s",
                  n_rounds, stress_percent (overlapped, n_rounds),
                  failed_total, both_failed, exits_failed, exits_ok,
                  stress_seconds_since (start));

  g_free (small);
}

/* }}} */

int
main (int   argc,
      char *argv[])
{
  stress_test_init (&argc, &argv, "stress-group");

  /* One test per mode; tests/stress/meson.build runs each in its own
   * process (-p), so that one failing mode does not hide the others. */
  for (guint mode = 0; mode < G_N_ELEMENTS (mode_names); mode++)
    {
      g_autofree char *path = g_strdup_printf ("/stress/group/%s",
                                               mode_names[mode]);

      g_test_add_data_func (path, GUINT_TO_POINTER (mode),
                            test_group_fail_cancel);
    }
  g_test_add_func ("/stress/group/last-members", test_group_last_members);

  return g_test_run ();
}

/* vim: set foldmethod=marker: */
