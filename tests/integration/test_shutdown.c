/*
 * test_shutdown.c: stopping (issue #5, "Shutdown"; SPEC §4 I-5, §8;
 * README "Operations"). SIGTERM while 32 connections stream reservations:
 * the daemon exits 0; each connection gets its answers in order and then
 * the close, never an answer out of order or after the close; after a
 * restart every acknowledged request is there and replays its answer,
 * every unacknowledged one is all there or not at all (its retry replays,
 * or is applied now), the contract's reserved money is the sum over the
 * dossiers that exist, and the checker agrees. SIGTERM with a client that
 * never reads still exits 0 (after the drain). Under systemd: READY=1
 * once the socket listens, WATCHDOG=1 again and again, STOPPING=1 on
 * SIGTERM, through $NOTIFY_SOCKET.
 *
 * The seed (printed) comes from $BUDGET_SHUTDOWN_SEED when set.
 */
#include <sys/socket.h>

#include <arpa/inet.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ops.h"

/* Connections of the stream, requests each per round, in flight each. */
#define TERM_CONNS  32
#define TERM_PER    24
#define TERM_WINDOW 4
#define TERM_N      (TERM_CONNS * TERM_PER)
#define TERM_ROUNDS 3

/*
 * Answers waiting in the daemon's output when it stops reading a client
 * that never reads: more than the kernel could ever take off its hands.
 */
#define STUCK_UNSENT (1024 * 1024)

/* The watchdog interval given, and the pets to see. */
#define WATCHDOG_USEC "400000"
#define WATCHDOG_PETS 4

static struct {
	struct fx_op         *ops;
	size_t                nops;
	uint64_t              rng;
	volatile sig_atomic_t termed;
} term;

static int
teardown_daemon(void **state)
{
	fx_ops_free(term.ops, term.nops);
	term.ops = NULL;
	ops_daemon_teardown(*state);
	return (0);
}

/* A first answer: the reservation, or the contract's budget refusal. */
static void
check_answer(const struct fx_req *r, const Budget__Response *a)
{
	if (a->error != NULL) {
		if (strcmp(a->error->code, "contract_budget_exceeded") != 0)
			fail_msg("%s: %s: %s", r->rid, a->error->code,
			    a->error->message);
		return;
	}
	assert_non_null(a->dossier);
	assert_string_equal(a->dossier->id, r->id);
	assert_string_equal(a->dossier->state, "reserved");
	assert_int_equal(a->dossier->subsidy_cents, OPS_START_SUB);
}

/*
 * One round: ops first .. first + TERM_N - 1 on TERM_CONNS connections,
 * TERM_WINDOW in flight on each; SIGTERM once target answers came; read
 * until every connection is closed; the daemon must exit 0.
 */
static void
stream_and_term(struct h_daemon *d, size_t first, size_t target)
{
	struct fx_sconn *cs;
	size_t           i, k, acks = 0, open, after = 0;
	int64_t          deadline = h_now_ms() + 3 * H_DEADLINE_MS;
	int              status;

	term.termed = 0;
	cs = fx_sconns_open(d, TERM_CONNS, first, TERM_PER);
	for (i = 0; i < TERM_CONNS; i++) {
		while (cs[i].nsent < TERM_WINDOW)
			fx_sconn_send(&cs[i], term.ops, &term.termed);
	}
	for (open = TERM_CONNS; open > 0;) {
		if (!term.termed && acks >= target) {
			h_daemon_signal(d, SIGTERM);
			term.termed = 1;
		}
		fx_sconns_poll(cs, TERM_CONNS, 100);
		if (h_now_ms() > deadline)
			fail_msg("the stream did not end (SIGTERM sent: %d)",
			    term.termed);
		for (i = 0; i < TERM_CONNS; i++) {
			struct fx_sconn *c = &cs[i];

			if (!c->ready)
				continue;
			if (!fx_sconn_read(c)) {
				if (!term.termed)
					fail_msg("connection %zu closed before "
						 "SIGTERM",
					    i);
				if (c->len != 0)
					fail_msg("connection %zu closed in the "
						 "middle of an answer",
					    i);
				c->closed = 1;
				open--;
				continue;
			}
			k = fx_sconn_parse(c, term.ops, check_answer);
			acks += k;
			if (term.termed)
				after += k;
			/* After SIGTERM the daemon may be gone. */
			while (k-- > 0 && c->nsent < TERM_PER)
				fx_sconn_send(c, term.ops, &term.termed);
		}
	}
	if (!term.termed)
		fail_msg("every connection closed before SIGTERM");
	if (!h_daemon_wait_exit(d, 3 * H_DEADLINE_MS, &status))
		fail_msg("budgetd did not exit after SIGTERM");
	assert_int_equal(status, 0);
	fx_sconns_close(cs, TERM_CONNS);
	print_message("SIGTERM after %zu answers; %zu answers in all, %zu "
		      "after the signal\n",
	    target, acks, after);
}

static void
test_sigterm_under_load(void **state)
{
	struct h_daemon   *d;
	struct fx_contract c;
	size_t             i, round, nexist, answered;
	int64_t            base, budget;
	char               eur[32];

	term.rng = fx_seed("BUDGET_SHUTDOWN_SEED");
	print_message(
	    "BUDGET_SHUTDOWN_SEED=%llu\n", (unsigned long long)term.rng);

	*state = d = h_daemon_up(NULL);
	fx_rules_load(d);
	term.nops = TERM_ROUNDS * TERM_N;
	/* Room for 80%: budget refusals come too, and are journaled. */
	budget = (int64_t)(term.nops * 8 / 10) * OPS_START_SUB;
	snprintf(eur, sizeof(eur), "%lld", (long long)(budget / 100));
	fx_contract_open(d, "K-TERM", eur);
	fx_companies_add(d, 1, (unsigned)term.nops);
	term.ops =
	    fx_ops_reserve(term.nops, "T", "term", "K-TERM", OPS_START_COST);
	base = fx_journal_seq(d);

	for (round = 0; round < TERM_ROUNDS; round++) {
		stream_and_term(d, round * TERM_N,
		    1 + (size_t)(fx_rand(&term.rng) % (TERM_N * 3 / 4)));
		h_daemon_start(d);
		fx_verify_ok(d);
		nexist = fx_ops_recheck(
		    d, term.ops, (round + 1) * TERM_N, check_answer, NULL);
		for (i = answered = 0; i < term.nops; i++)
			answered += term.ops[i].answer != NULL;
		fx_contract_show(d, "K-TERM", &c);
		assert_int_equal(c.reserved, (int64_t)nexist * OPS_START_SUB);
		assert_int_equal(c.available, budget - c.reserved);
		assert_int_equal(c.dossiers, (int64_t)nexist);
		assert_int_equal(fx_journal_seq(d), base + (int64_t)answered);
		assert_int_equal(fx_verify_ok(d), (int64_t)nexist);
	}
	assert_true(
	    h_daemon_log_wait(d, "SIGTERM: finishing what is in flight", 0));
}

/*
 * SIGTERM with a client that floods and never reads: the answers owed to
 * it cannot drain, so after the drain time the daemon gives up on it and
 * exits 0 all the same; the ledger is whole. The flood goes on until the
 * daemon says (-v) it stopped reading that client with MiBs of answers
 * unsent, so that SIGTERM surely finds answers that cannot drain.
 */
static void
test_sigterm_with_stuck_client(void **state)
{
	struct h_daemon *d;
	uint8_t          buf[64 * 64];
	size_t           len = 0, off = 0;
	int64_t          deadline;
	char             rid[32];
	int              fd, i, status;

	*state = d = h_daemon_new(NULL);
	d->verbose = 1; /* "conn N: blocked (...)" */
	h_daemon_start(d);
	for (i = 0; i < 64; i++) {
		snprintf(rid, sizeof(rid), "stuck-%d", i);
		len += h_pack_status(buf + len, sizeof(buf) - len, 1, rid);
	}
	fd = h_connect(d);
	h_set_nonblock(fd, 1);
	deadline = h_now_ms() + 3 * H_DEADLINE_MS;
	for (;;) {
		ssize_t       n = send(fd, buf + off, len - off, MSG_NOSIGNAL);
		struct pollfd p = {fd, POLLOUT, 0};

		if (n > 0) {
			off = (off + (size_t)n) % len;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			fail_msg("send: %s", strerror(errno));
		if (ops_log_blocked(d, STUCK_UNSENT))
			break;
		if (h_now_ms() > deadline)
			fail_msg("the daemon never stopped reading a client "
				 "that does not read");
		(void)poll(&p, 1, 100);
	}
	h_daemon_signal(d, SIGTERM);
	assert_true(h_daemon_wait_exit(d, 3 * H_DEADLINE_MS, &status));
	assert_int_equal(status, 0);
	assert_true(h_daemon_log_wait(d, "did not take their answers", 0));
	close(fd);
	h_daemon_start(d);
	fx_verify_ok(d);
}

/*
 * systemd's notification socket: READY=1 (with MAINPID) once the control
 * socket listens, WATCHDOG=1 every half interval, STOPPING=1 on SIGTERM,
 * then exit 0.
 */
static void
test_systemd_notify(void **state)
{
	struct h_daemon *d;
	char             env[H_NOTIFY_ENV_SZ], msg[1024], pid[32];
	const char      *envp[3];
	int64_t          deadline;
	int              ns, fd, pets = 0, ready = 0, stopping = 0, status;

	*state = d = h_daemon_new(NULL);
	ns = h_notify_listen(d, env);
	envp[0] = env;
	envp[1] = "WATCHDOG_USEC=" WATCHDOG_USEC;
	envp[2] = NULL;
	h_daemon_spawn_ex(d, envp, 0);

	deadline = h_now_ms() + H_DEADLINE_MS;
	while (!ready && h_now_ms() < deadline) {
		if (!h_notify_recv(ns, msg, sizeof(msg), 100))
			continue;
		if (strstr(msg, "READY=1") == NULL)
			continue;
		ready = 1;
		/* By now the socket listens: a connect succeeds at once. */
		fd = h_connect_try(d->sock);
		if (fd == -1)
			fail_msg(
			    "READY=1 came, but connect: %s", strerror(errno));
		h_send_status(fd, "after-ready");
		h_expect_status(fd, "after-ready");
		close(fd);
		snprintf(pid, sizeof(pid), "MAINPID=%d", (int)d->pid);
		if (strstr(msg, pid) == NULL)
			fail_msg("READY without %s: %s", pid, msg);
	}
	assert_true(ready);

	deadline = h_now_ms() + H_DEADLINE_MS;
	while (pets < WATCHDOG_PETS && h_now_ms() < deadline) {
		if (h_notify_recv(ns, msg, sizeof(msg), 100) &&
		    strstr(msg, "WATCHDOG=1") != NULL)
			pets++;
	}
	print_message("%d watchdog pets\n", pets);
	assert_int_equal(pets, WATCHDOG_PETS);
	h_assert_serving(d);

	h_daemon_signal(d, SIGTERM);
	deadline = h_now_ms() + H_DEADLINE_MS;
	while (!stopping && h_now_ms() < deadline) {
		if (h_notify_recv(ns, msg, sizeof(msg), 100) &&
		    strstr(msg, "STOPPING=1") != NULL)
			stopping = 1;
	}
	assert_true(stopping);
	assert_true(h_daemon_wait_exit(d, 3 * H_DEADLINE_MS, &status));
	assert_int_equal(status, 0);
	h_notify_close(d, ns);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, NULL, teardown_daemon)
	const struct CMUnitTest tests[] = {
	    T(test_sigterm_under_load),
	    T(test_sigterm_with_stuck_client),
	    T(test_systemd_notify),
	};
#undef T

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
