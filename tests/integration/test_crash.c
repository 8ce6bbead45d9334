/*
 * test_crash.c: kill -9 in the middle of the write path (issue #3, SPEC §4
 * I-5: every request acknowledged as applied is durable; nothing
 * unacknowledged is half-applied; §5: a request id keeps its answer).
 *
 * A stream of reservations on many connections, each keeping a few
 * requests in flight, is cut by SIGKILL at a random moment, again and
 * again across restarts on the same data directory. After each restart
 * every request ever sent is looked at: an acknowledged one must be there
 * and replay its answer; an unacknowledged one must be either wholly
 * there (its retry replays) or wholly absent (its retry is applied now);
 * one never sent must have left no dossier. The contract's balances must
 * equal the sum over the dossiers that exist, the journal must hold
 * exactly one entry per request with an answer, and the checker must
 * agree.
 *
 * The seed (printed) comes from $BUDGET_CRASH_SEED when set; the number
 * of kills from $BUDGET_CRASH_ROUNDS (default CRASH_ROUNDS), for a longer
 * crash matrix.
 */
#include <sys/time.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fixture.h"

/* START at EUR 10,000.00: EUR 5,000.00 of subsidy. */
#define START_COST 1000000
#define START_SUB  500000

/* Connections of the stream, requests each per round, in flight each. */
#define CRASH_CONNS        32
#define CRASH_PER          16
#define CRASH_WINDOW       3
#define CRASH_N            (CRASH_CONNS * CRASH_PER)
/* Kills (and restarts) by default. */
#define CRASH_ROUNDS       5
/* The longest the kill waits once armed. */
#define CRASH_DELAY_MAX_US 2000000

static struct {
	struct fx_op         *ops;
	size_t                nops;
	uint64_t              rng;
	volatile pid_t        victim; /* the daemon the alarm kills */
	volatile sig_atomic_t killed;
} crash;

static int teardown_daemon(void **);

static int
teardown_daemon(void **state)
{
	fx_ops_free(crash.ops, crash.nops);
	crash.ops = NULL;
	h_daemon_teardown(*state);
	return (0);
}

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
}

/* An answer the stream may get: the reservation, or a budget refusal. */
static void
check_answer(const struct fx_req *r, const Budget__Response *a)
{
	if (fx_err(a) != NULL) {
		if (strcmp(fx_err(a), "contract_budget_exceeded") != 0)
			fail_msg("request %s: %s: %s", r->rid, fx_err(a),
			    a->error->message);
		return;
	}
	if (a->result_case != BUDGET__RESPONSE__RESULT_DOSSIER)
		fail_msg("request %s: not a dossier result", r->rid);
	assert_string_equal(a->dossier->id, r->id);
	assert_string_equal(a->dossier->state, "reserved");
	assert_int_equal(a->dossier->subsidy_cents, START_SUB);
}

/* SIGALRM: the kill, at a moment the stream does not choose. */
static void
crash_alarm(int sig)
{
	(void)sig;
	if (crash.victim > 0)
		kill(crash.victim, SIGKILL);
	crash.killed = 1;
}

/*
 * One round: ops first .. first + CRASH_N - 1 streamed on CRASH_CONNS
 * connections, CRASH_WINDOW in flight on each (a new one for every
 * answer). Once target answers have come, a timer sends SIGKILL after
 * frac (0..1) of the time the rest of the stream should take (at most
 * CRASH_DELAY_MAX_US), while the stream goes on; everything the daemon
 * wrote before it died is read (acknowledged too) until every
 * connection is closed.
 */
static void
stream_and_kill(struct h_daemon *d, size_t first, size_t target, double frac)
{
	struct fx_sconn *cs;
	struct sigaction sa;
	struct itimerval it;
	size_t           i, acks = 0, k, open;
	int64_t          deadline = h_now_ms() + 3 * H_DEADLINE_MS;
	int64_t          t0, per_ack, delay;
	unsigned         delay_us = 0;
	int              armed = 0, status;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = crash_alarm; /* no SA_RESTART: poll says EINTR */
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGALRM, &sa, NULL), 0);
	crash.victim = d->pid;
	crash.killed = 0;
	cs = fx_sconns_open(d, CRASH_CONNS, first, CRASH_PER);
	t0 = now_us();
	for (i = 0; i < CRASH_CONNS; i++) {
		while (cs[i].nsent < CRASH_WINDOW)
			fx_sconn_send(&cs[i], crash.ops, &crash.killed);
	}
	for (open = CRASH_CONNS; open > 0;) {
		if (!armed && (acks >= target || crash.killed)) {
			/*
			 * Somewhere in what is left of the stream, at the
			 * pace it went so far.
			 */
			per_ack = (now_us() - t0) / (int64_t)(acks + 1);
			delay = (int64_t)(frac *
			    (double)(per_ack * (int64_t)(CRASH_N - acks)));
			delay_us = (unsigned)(delay < CRASH_DELAY_MAX_US
				? delay
				: CRASH_DELAY_MAX_US);
			memset(&it, 0, sizeof(it));
			it.it_value.tv_sec = (time_t)(delay_us / 1000000);
			it.it_value.tv_usec =
			    (suseconds_t)(delay_us % 1000000) + 1;
			assert_int_equal(setitimer(ITIMER_REAL, &it, NULL), 0);
			armed = 1;
		}
		fx_sconns_poll(cs, CRASH_CONNS, 100);
		if (h_now_ms() > deadline) {
			h_assert_running(d);
			fail_msg("the stream did not end; killed: %d",
			    (int)crash.killed);
		}
		for (i = 0; i < CRASH_CONNS; i++) {
			if (!cs[i].ready)
				continue;
			if (!fx_sconn_read(&cs[i])) {
				if (!crash.killed) {
					h_assert_running(d);
					fail_msg("the daemon closed connection "
						 "%zu",
					    i);
				}
				cs[i].closed = 1;
				open--;
			}
			k = fx_sconn_parse(&cs[i], crash.ops, check_answer);
			acks += k;
			while (
			    k-- > 0 && cs[i].nsent < CRASH_PER && !crash.killed)
				fx_sconn_send(&cs[i], crash.ops, &crash.killed);
		}
	}
	if (!crash.killed)
		fail_msg("every connection closed, but the kill did not come");
	if (!h_daemon_wait_exit(d, H_DEADLINE_MS, &status))
		fail_msg("budgetd survived SIGKILL");
	if (status != 128 + SIGKILL)
		fail_msg(
		    "budgetd died of something else first: status %d", status);
	crash.victim = 0;
	signal(SIGALRM, SIG_DFL);
	fx_sconns_close(cs, CRASH_CONNS);
	print_message("killed %u us after answer %zu: %zu answers\n", delay_us,
	    target, acks);
}

/* A dossier there after a restart holds the reservation's subsidy. */
static void
check_shown(const struct fx_req *r, const Budget__Response *a)
{
	(void)r;
	assert_int_equal(a->dossier->subsidy_cents, START_SUB);
}

static void
test_crash_kill9_during_reservations(void **state)
{
	struct h_daemon   *d;
	struct fx_contract c;
	unsigned rounds = fx_env_unsigned("BUDGET_CRASH_ROUNDS", CRASH_ROUNDS),
		 round;
	size_t  i, target, nexist, answered;
	int64_t base, budget;
	char    eur[32];

	crash.rng = fx_seed("BUDGET_CRASH_SEED");
	print_message("BUDGET_CRASH_SEED=%llu, %u rounds\n",
	    (unsigned long long)crash.rng, rounds);

	d = fx_daemon_up(state, NULL);
	/* Room for about 70% of all the requests: refusals come too. */
	crash.nops = (size_t)rounds * CRASH_N;
	budget = (int64_t)(crash.nops * 7 / 10) * START_SUB;
	snprintf(eur, sizeof(eur), "%lld", (long long)(budget / 100));
	fx_contract_open(d, "K-CRASH", eur);
	fx_companies_add(d, 1, (unsigned)crash.nops);
	crash.ops =
	    fx_ops_reserve(crash.nops, "CR", "crash", "K-CRASH", START_COST);
	base = fx_journal_seq(d);

	for (round = 0; round < rounds; round++) {
		target = 1 + (size_t)(fx_rand(&crash.rng) % (CRASH_N * 3 / 4));
		stream_and_kill(d, (size_t)round * CRASH_N, target,
		    (double)(fx_rand(&crash.rng) % 700) / 1000.0);
		h_daemon_start(d);
		/* The checker agrees with what survived, before any retry. */
		fx_verify_ok(d);

		/* Later rounds' ops were never sent: nothing to see yet. */
		nexist = fx_ops_recheck(d, crash.ops,
		    (size_t)(round + 1) * CRASH_N, check_answer, check_shown);
		for (i = answered = 0; i < crash.nops; i++)
			answered += crash.ops[i].answer != NULL;
		fx_contract_show(d, "K-CRASH", &c);
		assert_int_equal(c.budget, budget);
		assert_int_equal(c.reserved, (int64_t)nexist * START_SUB);
		assert_int_equal(c.committed, 0);
		assert_int_equal(c.available, budget - c.reserved);
		assert_int_equal(c.dossiers, (int64_t)nexist);
		/* One journal entry per answered request, none twice. */
		assert_int_equal(fx_journal_seq(d), base + (int64_t)answered);
		assert_int_equal(fx_verify_ok(d), (int64_t)nexist);
	}
	fx_ops_free(crash.ops, crash.nops);
	crash.ops = NULL;
}

/*
 * The plainest case, many times: one reservation acknowledged, SIGKILL
 * at once, and it is there after the restart.
 */
static void
test_crash_kill9_right_after_answer(void **state)
{
	struct h_daemon   *d;
	struct fx_req      r;
	struct fx_contract c;
	Budget__Response  *a, *b;
	char               number[FX_RID_SZ], id[FX_ID_SZ], rid[FX_ID_SZ];
	int                i, fd;

	d = fx_daemon_up(state, NULL);
	fx_contract_open(d, "K-ONE", "1000000");
	fx_companies_add(d, 1, 5);
	for (i = 0; i < 5; i++) {
		fx_rid(1 + (unsigned)i, number);
		snprintf(id, sizeof(id), "ONE-%d", i);
		snprintf(rid, sizeof(rid), "one-%d", i);
		fx_reserve(
		    &r, rid, id, number, "K-ONE", "START", START_COST, 0);
		fd = h_connect(d);
		a = fx_call(fd, &r.req);
		close(fd);
		check_answer(&r, a);
		h_daemon_kill9(d);
		h_daemon_start(d);
		fd = h_connect(d);
		b = fx_call(fd, &r.req);
		close(fd);
		assert_true(b->replayed);
		assert_true(fx_same_answer(a, b));
		budget__response__free_unpacked(a, NULL);
		budget__response__free_unpacked(b, NULL);
		fx_contract_show(d, "K-ONE", &c);
		assert_int_equal(c.reserved, (int64_t)(i + 1) * START_SUB);
		assert_int_equal(fx_verify_ok(d), i + 1);
	}
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, NULL, teardown_daemon)
	const struct CMUnitTest tests[] = {
	    T(test_crash_kill9_right_after_answer),
	    T(test_crash_kill9_during_reservations),
	};
#undef T

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
