/*
 * test_reader_hold.c: long reads held back when the reader thread has as
 * many as it takes (cmd.c's cmd_hold, reader.c's READER_INFLIGHT_MAX).
 * Each connection's requests stay in order even when the connection goes
 * away; what is held runs within the limits of a turn like anything else;
 * a shutdown finishes what was held. A client that pipelines long reads
 * and never reads its answers costs a bounded amount of memory.
 *
 * R, twelve connections, fills the reader with verifies of a ledger of
 * 20,000 companies, slow enough that the rest wait; budgetctl status shows
 * them held ("held"), which is what the tests wait for, never a clock.
 */
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixture.h"
#include "harness.h"

#define NRCONN  12              /* R: connections of RPER verifies each, */
#define RPER    8               /* as many long reads as one may owe (conn.c) */
#define NREAD   (NRCONN * RPER) /* 64 on the reader thread, 32 held */
#define NDRAIN  62   /* connections of RPER verifies: more than a drain runs */
#define NOPS    4000 /* company adds in a batch */
#define NPRE    5    /* such batches before: 20,000 companies */
#define NBATCH  12   /* A's batches behind its held verify */
#define NEXPORT 128  /* exports pipelined by a client that does not read */

/*
 * What those may cost the daemon: the long reads a connection may owe
 * (8 pages of a megabyte) and its output limit (4 MiB); AddressSanitizer
 * adds shadow memory and redzones (its quarantine is kept small: main).
 */
#if defined(__SANITIZE_ADDRESS__)
#define RH_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RH_ASAN 1
#endif
#endif
#ifdef RH_ASAN
#define EXPORT_MEM_GROWTH_MAX (96 * 1024 * 1024)
#else
#define EXPORT_MEM_GROWTH_MAX (64 * 1024 * 1024)
#endif

struct hold_batch {
	struct fx_req    ops[NOPS];
	Budget__Request *ptrs[NOPS];
	struct fx_req    req;
};

static struct hold_batch batches[NBATCH];

/* A batch of NOPS company adds, companies first ... first + NOPS - 1. */
static Budget__Request *
hold_batch(struct hold_batch *hb, const char *tag, unsigned first)
{
	fx_company_reqs(hb->ops, hb->ptrs, NOPS, tag, first);
	fx_batch_req(&hb->req, tag, hb->ptrs, NOPS);
	return (&hb->req.req);
}

/* The answer to a batch: every op applied. */
static void
expect_batch_ok(int fd, const char *what)
{
	Budget__Response *resp = h_recv(fd, H_DEADLINE_MS * 3);
	size_t            j;

	if (fx_err(resp) != NULL)
		fail_msg("%s: %s", what, fx_err(resp));
	assert_int_equal(resp->result_case, BUDGET__RESPONSE__RESULT_BATCH);
	for (j = 0; j < resp->batch->n_results; j++)
		if (fx_err(resp->batch->results[j]) != NULL)
			fail_msg("%s, op %zu: %s", what, j,
			    fx_err(resp->batch->results[j]));
	budget__response__free_unpacked(resp, NULL);
}

/* A daemon (config: NULL or its text) with NPRE * NOPS companies. */
static int
setup_with(void **state, const char *config)
{
	struct h_daemon *d = fx_daemon_up(state, config);
	char             tag[16];
	int              fd, i;

	fd = h_connect(d);
	for (i = 0; i < NPRE; i++) {
		snprintf(tag, sizeof(tag), "pre%d", i);
		h_send_request(
		    fd, hold_batch(&batches[0], tag, 200000 + i * NOPS));
		expect_batch_ok(fd, tag);
	}
	close(fd);
	return (0);
}

static int
setup(void **state)
{
	return (setup_with(state, NULL));
}

/* The longest commit wait there is: one that runs out is plain to see. */
static int
setup_long_wait(void **state)
{
	return (setup_with(state, "[budgetd]\ncommit_wait_us = 10000\n"));
}

/* An export from the start, limit entries a page (0: the default). */
static void
export_req(Budget__Request *req, Budget__ExportRequest *x, uint32_t limit)
{
	budget__request__init(req);
	budget__export_request__init(x);
	req->version = 1;
	req->command_case = BUDGET__REQUEST__COMMAND_EXPORT;
	req->export = x;
	x->limit = limit;
}

static json_int_t
status_int(const struct h_daemon *d, const char *key)
{
	json_t    *j = fx_ctl_json(d, 0, "status", NULL);
	json_int_t v = h_json_int(j, key);

	json_decref(j);
	return (v);
}

/* Until budgetctl status says that at least n requests are held. */
static void
wait_held(const struct h_daemon *d, json_int_t n)
{
	int64_t deadline = h_now_ms() + H_DEADLINE_MS;

	while (status_int(d, "held") < n) {
		if (h_now_ms() > deadline)
			h_fail("nothing held: the reader never filled up");
		h_sleep_ms(5);
	}
}

/* R: NRCONN connections and their verifies. */
struct readers {
	int fd[NRCONN];
};

/*
 * Until no long read has run or waited for a while: the daemon has done
 * all it will for clients that do not read. With peak, the highest
 * RssAnon seen meanwhile.
 */
static void
wait_reads_done(const struct h_daemon *d, int64_t *peak)
{
	struct h_mem now;
	int64_t      deadline = h_now_ms() + H_DEADLINE_MS * 3;
	int          quiet;

	for (quiet = 0; quiet < 5;) {
		if (peak != NULL) {
			h_daemon_mem(d, &now);
			if (now.rss_anon > *peak)
				*peak = now.rss_anon;
		}
		if (status_int(d, "slow_reads") == 0 &&
		    status_int(d, "held") == 0)
			quiet++;
		else
			quiet = 0;
		if (h_now_ms() > deadline)
			h_fail("the long reads never stopped running");
		h_sleep_ms(50);
	}
}

/*
 * R: NREAD verifies (vreq), more than the reader takes, RPER on each
 * connection, sent until budgetctl status shows some of them held.
 */
static void
fill_reader(
    const struct h_daemon *d, const Budget__Request *vreq, struct readers *r)
{
	int i, k;

	for (k = 0; k < NRCONN; k++) {
		r->fd[k] = h_connect(d);
		for (i = 0; i < RPER; i++)
			h_send_request(r->fd[k], vreq);
	}
	wait_held(d, 1);
}

/*
 * Until the daemon shows n more requests taken than R's it has not
 * answered: A's, read and waiting (on the reader or held). All R sent is
 * on the reader (slow_reads), held, or answered; R's answers are read
 * here as they come (each ok, and counted in *got), and one not read yet
 * only makes the count smaller, so it never shows A's before they are
 * there.
 */
static void
wait_taken_beyond_readers(
    const struct h_daemon *d, const struct readers *r, int *got, int n)
{
	int64_t           deadline = h_now_ms() + H_DEADLINE_MS;
	Budget__Response *resp;
	struct pollfd     pfd;
	json_t           *j;
	json_int_t        taken;
	int               k;

	for (;;) {
		for (k = 0; k < NRCONN; k++) {
			pfd.fd = r->fd[k];
			pfd.events = POLLIN;
			while (poll(&pfd, 1, 0) == 1) {
				resp = h_recv(r->fd[k], H_DEADLINE_MS);
				assert_null(resp->error);
				budget__response__free_unpacked(resp, NULL);
				(*got)++;
			}
		}
		j = fx_ctl_json(d, 0, "status", NULL);
		taken = h_json_int(j, "slow_reads") + h_json_int(j, "held");
		json_decref(j);
		if (taken - (NREAD - *got) >= n)
			return;
		if (h_now_ms() > deadline)
			h_fail("A's requests never showed as taken");
		h_sleep_ms(5);
	}
}

/*
 * R's answers, each connection's in order and each ok; returns how many
 * saw the ledger at from entries.
 */
static int
expect_readers(const struct readers *r, int64_t from)
{
	int k, at, n = 0;

	for (k = 0; k < NRCONN; k++) {
		fx_expect_verifies(r->fd[k], RPER, from, &at);
		n += at;
	}
	return (n);
}

static void
close_readers(const struct readers *r)
{
	int k;

	for (k = 0; k < NRCONN; k++)
		close(r->fd[k]);
}

/*
 * A's verify is held behind R's, and A's batches behind it: when they go
 * on, they go a turn's worth at a time (CMD_TURN_OPS_MAX, 8,192 ops, plus
 * the batch that crosses it), not all in one write transaction that
 * stalls everyone else and keeps LMDB's dirty list that large for good.
 */
static void
test_held_writes_keep_turn_limits(void **state)
{
	struct h_daemon      *d = *state;
	Budget__Request       vreq;
	Budget__VerifyRequest v;
	Budget__Response     *resp;
	json_int_t            c0, c1, m0, m1;
	struct readers        rd;
	char                  tag[16];
	int                   afd, i;
	int64_t               seq0 = fx_journal_seq(d);

	fx_verify_req(&vreq, &v);
	c0 = status_int(d, "commits");
	m0 = status_int(d, "committed");
	fill_reader(d, &vreq, &rd);
	afd = h_connect(d);
	h_send_request(afd, &vreq);
	for (i = 0; i < NBATCH; i++) {
		snprintf(tag, sizeof(tag), "a%d", i);
		h_send_request(
		    afd, hold_batch(&batches[i], tag, 1000000 + i * NOPS));
	}
	resp = h_recv(afd, H_DEADLINE_MS * 3);
	assert_int_equal(resp->result_case, BUDGET__RESPONSE__RESULT_VERIFY);
	/* A's verify came before its batches: it saw none of them. */
	assert_int_equal((int64_t)resp->verify->entries, seq0);
	budget__response__free_unpacked(resp, NULL);
	for (i = 0; i < NBATCH; i++)
		expect_batch_ok(afd, "a batch behind a held verify");
	(void)expect_readers(&rd, seq0);
	c1 = status_int(d, "commits");
	m1 = status_int(d, "committed");
	print_message("%lld mutations in %lld commits\n", (long long)(m1 - m0),
	    (long long)(c1 - c0));
	assert_int_equal(m1 - m0, NBATCH * NOPS);
	assert_true((c1 - c0) * (8192 + NOPS) >= NBATCH * NOPS);
	close_readers(&rd);
	close(afd);
	fx_verify_ok(d);
}

/* A's three requests: a status, a verify and a company add. */
struct a_reqs {
	Budget__Request       vreq, *a[3];
	Budget__VerifyRequest v;
	struct fx_req         st, add;
};

/*
 * Fill R (fill_reader: R's verifies held), then connect A and send its
 * three requests, tagged tag, in one write. Returns A's socket.
 */
static int
a_behind_readers(const struct h_daemon *d, struct a_reqs *q, const char *tag,
    unsigned company, struct readers *rd)
{
	char rid[FX_ID_SZ];
	int  fd;

	fx_verify_req(&q->vreq, &q->v);
	snprintf(rid, sizeof(rid), "%s-status", tag);
	fx_req_init(&q->st, rid);
	budget__status_request__init(&q->st.u.status);
	q->st.req.command_case = BUDGET__REQUEST__COMMAND_STATUS;
	q->st.req.status = &q->st.u.status;
	snprintf(rid, sizeof(rid), "%s-add", tag);
	fx_company_req(&q->add, rid, company);
	q->a[0] = &q->st.req;
	q->a[1] = &q->vreq;
	q->a[2] = &q->add.req;
	fill_reader(d, &q->vreq, rd);
	fd = h_connect(d);
	fx_send_frames(fd, q->a, 3);
	return (fd);
}

/*
 * A sends [status, verify, company add] in one write while R's verifies
 * are held, takes the status answer (so all three were decoded, and the
 * verify and the add are held) and goes away: they lose their
 * connection. They must still run in A's order: A's verify, which
 * budgetd logs, does not see A's add. R's verifies may see it or not
 * (another connection); the log holds one verify more without the add
 * than R was answered, A's.
 */
static void
test_order_kept_when_connection_goes(void **state)
{
	struct h_daemon  *d = *state;
	struct a_reqs     q;
	Budget__Response *resp;
	char             *log, *p, want[64];
	int64_t           seq0 = fx_journal_seq(d), deadline;
	struct readers    rd;
	int               afd, r_before, logged;

	afd = a_behind_readers(d, &q, "gone", 7777, &rd);
	resp = h_recv(afd, H_DEADLINE_MS);
	assert_int_equal(resp->result_case, BUDGET__RESPONSE__RESULT_STATUS);
	budget__response__free_unpacked(resp, NULL);
	close(afd);
	r_before = expect_readers(&rd, seq0);
	close_readers(&rd);
	/* A's verify runs after R's: wait until every verify is logged. */
	snprintf(
	    want, sizeof(want), "verify: %lld entries in ", (long long)seq0);
	deadline = h_now_ms() + H_DEADLINE_MS * 3;
	for (;;) {
		log = h_daemon_log(d);
		for (p = log, logged = 0; (p = strstr(p, "verify: ")) != NULL;
		     p++)
			logged++;
		if (logged >= NREAD + 1)
			break;
		free(log);
		if (h_now_ms() > deadline)
			h_fail("%d verifies logged, %d expected", logged,
			    NREAD + 1);
		h_sleep_ms(20);
	}
	for (p = log, logged = 0; (p = strstr(p, want)) != NULL; p++)
		logged++;
	free(log);
	print_message("R saw the ledger before A's add %d times, the log "
		      "%d times\n",
	    r_before, logged);
	assert_int_equal(fx_journal_seq(d), seq0 + 1); /* the add ran */
	assert_int_equal(logged, r_before + 1);
}

/*
 * SIGTERM while requests are held. If the clients take their answers
 * within the drain (10 s), each is answered in order; a slower build may
 * not, and budgetd then closes them. Either way the write accepted behind
 * a held verify is applied before budgetd exits (cmd_finish), and the
 * exit is clean.
 */
static void
test_shutdown_runs_held(void **state)
{
	struct h_daemon      *d = *state;
	Budget__Request       vreq;
	Budget__VerifyRequest v;
	Budget__Response     *resp;
	struct fx_req         add;
	int64_t               seq0 = fx_journal_seq(d);
	struct readers        rd;
	int                   afd, st, k, got = 0, rgot = 0;

	fx_verify_req(&vreq, &v);
	fx_company_req(&add, "held-add", 7777);
	fill_reader(d, &vreq, &rd);
	afd = h_connect(d);
	h_send_request(afd, &vreq);
	h_send_request(afd, &add.req);
	wait_taken_beyond_readers(d, &rd, &rgot, 2);
	assert_int_equal(fx_journal_seq(d), seq0); /* the add is held */
	h_daemon_signal(d, SIGTERM);
	while (h_recv_try(afd, H_DEADLINE_MS * 3, &resp) == WIRE_OK) {
		if (got++ == 0)
			assert_int_equal((int64_t)resp->verify->entries, seq0);
		else
			assert_null(fx_err(resp));
		budget__response__free_unpacked(resp, NULL);
	}
	for (k = 0; k < NRCONN; k++)
		while (
		    h_recv_try(rd.fd[k], H_DEADLINE_MS * 3, &resp) == WIRE_OK) {
			assert_null(resp->error);
			budget__response__free_unpacked(resp, NULL);
			rgot++;
		}
	print_message(
	    "A got %d of its 2 answers, R %d of its %d\n", got, rgot, NREAD);
	close_readers(&rd);
	close(afd);
	assert_true(h_daemon_wait_exit(d, H_DEADLINE_MS * 3, &st));
	assert_int_equal(h_exit_status(st), 0);
	h_daemon_start(d);
	assert_int_equal(fx_journal_seq(d), seq0 + 1);
	fx_verify_ok(d);
}

/*
 * SIGTERM with more long reads owed than run in the drain (10 s), and a
 * client that takes none of its answers, so that the drain runs out: the
 * write held behind a read is applied all the same, the reads not yet
 * begun are dropped, and budgetd exits cleanly. (On a machine fast enough
 * to run every read within the drain, the write is applied in the loop.)
 */
static void
test_shutdown_after_drain_runs_held_writes(void **state)
{
	struct h_daemon      *d = *state;
	Budget__Request       vreq, xreq;
	Budget__VerifyRequest v;
	Budget__ExportRequest x;
	struct fx_req         add;
	char                 *log;
	int64_t               seq0 = fx_journal_seq(d);
	int                   fd[NDRAIN + 1], afd, i, k, st;

	fx_verify_req(&vreq, &v);
	export_req(&xreq, &x, 0);
	fx_company_req(&add, "drain-add", 7777);
	for (k = 0; k <= NDRAIN; k++)
		fd[k] = h_connect(d);
	/* Five exports of some 100 KiB each, never read: no drain ends. */
	for (i = 0; i < 5; i++)
		h_send_request(fd[NDRAIN], &xreq);
	for (k = 0; k < NDRAIN; k++)
		for (i = 0; i < RPER; i++)
			h_send_request(fd[k], &vreq);
	wait_held(d, 1);
	afd = h_connect(d);
	h_send_request(afd, &vreq);
	h_send_request(afd, &add.req);
	wait_held(d, 2);
	h_daemon_signal(d, SIGTERM);
	assert_true(h_daemon_wait_exit(d, H_DEADLINE_MS * 3, &st));
	assert_int_equal(h_exit_status(st), 0);
	log = h_daemon_log(d);
	print_message("the drain %s\n",
	    strstr(log, "did not take their answers") != NULL
		? "ran out"
		: "did not run out: every read ran in the loop");
	free(log);
	for (k = 0; k <= NDRAIN; k++)
		close(fd[k]);
	close(afd);
	h_daemon_start(d);
	assert_int_equal(fx_journal_seq(d), seq0 + 1);
	fx_verify_ok(d);
}

/*
 * A client that pipelines exports of a whole page (10,000 entries, about
 * a megabyte of answer each) and never reads: each answer is made before
 * the output limit can see it, so without a limit on the long reads a
 * connection may owe (conn.c's CONN_SLOW_MAX) all NEXPORT would sit in
 * the daemon's memory. The client then reads them all: a connection
 * stopped that way goes on once it reads.
 */
static void
test_never_reading_exports_bounded(void **state)
{
	struct h_daemon      *d = *state;
	Budget__Request       xreq;
	Budget__ExportRequest x;
	Budget__Response     *resp;
	struct h_mem          before;
	int64_t               peak;
	int                   fd, i;

	export_req(&xreq, &x, 10000);
	h_daemon_mem(d, &before);
	peak = before.rss_anon;
	fd = h_connect(d);
	for (i = 0; i < NEXPORT; i++)
		h_send_request(fd, &xreq);
	wait_reads_done(d, &peak);
	print_message("%d exports owed, none read: anon %lld -> peak %lld "
		      "KiB\n",
	    NEXPORT, (long long)before.rss_anon / 1024, (long long)peak / 1024);
	assert_true(peak - before.rss_anon < EXPORT_MEM_GROWTH_MAX);
	for (i = 0; i < NEXPORT; i++) {
		resp = h_recv(fd, H_DEADLINE_MS * 3);
		if (fx_err(resp) != NULL)
			fail_msg("export %d: %s", i, fx_err(resp));
		assert_int_equal(
		    resp->result_case, BUDGET__RESPONSE__RESULT_JOURNAL);
		assert_int_equal(resp->journal->n_entries, 10000);
		budget__response__free_unpacked(resp, NULL);
	}
	close(fd);
	h_assert_serving(d);
}

/*
 * The commit wait does not wait for a connection the daemon has stopped
 * reading. C sends a company add and 8 whole-page exports in one write
 * and reads nothing: from then on C is not read (8 long reads owed, then
 * megabytes unsent), so nothing can come from it. D then adds companies
 * one at a time: none of its writes may wait for C, which with a wait of
 * 10 ms (setup_long_wait) would run out every time.
 */
static void
test_commit_wait_skips_blocked(void **state)
{
	struct h_daemon      *d = *state;
	Budget__Request       xreq, *a[1 + RPER];
	Budget__ExportRequest x;
	Budget__Response     *resp;
	struct fx_req         add, w;
	json_int_t            t0, t1;
	char                  rid[FX_ID_SZ];
	int                   cfd, dfd, i;

	export_req(&xreq, &x, 10000);
	fx_company_req(&add, "blocked-add", 8888);
	a[0] = &add.req;
	for (i = 1; i <= RPER; i++)
		a[i] = &xreq;
	cfd = h_connect(d);
	fx_send_frames(cfd, a, 1 + RPER);
	wait_reads_done(d, NULL);
	t0 = status_int(d, "commit_waits_timed_out");
	dfd = h_connect(d);
	for (i = 0; i < 5; i++) {
		snprintf(rid, sizeof(rid), "unblocked-%d", i);
		fx_company_req(&w, rid, 8900 + (unsigned)i);
		h_send_request(dfd, &w.req);
		resp = h_recv(dfd, H_DEADLINE_MS);
		if (fx_err(resp) != NULL)
			fail_msg("D's add %d: %s", i, fx_err(resp));
		budget__response__free_unpacked(resp, NULL);
	}
	t1 = status_int(d, "commit_waits_timed_out");
	print_message(
	    "commit waits that ran out: %lld\n", (long long)(t1 - t0));
	assert_int_equal(t1, t0);
	close(cfd);
	close(dfd);
	fx_verify_ok(d);
}

/*
 * budgetctl status shows a connection that went away with requests not
 * yet run (connections_gone), for as long as they wait. A sends [status,
 * verify, company add] while R's verifies are held, and closes with the
 * status answer unread: its socket resets, budgetd frees the connection
 * at once, and the verify and the add, held, are what it left. Once R's
 * verifies have run, so have A's, and nothing is left.
 */
static void
test_gone_connection_shown(void **state)
{
	struct h_daemon *d = *state;
	struct a_reqs    q;
	struct readers   rd;
	struct pollfd    p;
	int64_t          seq0 = fx_journal_seq(d), deadline;
	int              afd;

	assert_int_equal(status_int(d, "connections_gone"), 0);
	afd = a_behind_readers(d, &q, "ghost", 7778, &rd);
	p.fd = afd;
	p.events = POLLIN;
	assert_int_equal(poll(&p, 1, H_DEADLINE_MS), 1);
	close(afd);
	deadline = h_now_ms() + H_DEADLINE_MS;
	while (status_int(d, "connections_gone") != 1) {
		if (h_now_ms() > deadline)
			h_fail("A's connection is not shown gone");
		h_sleep_ms(5);
	}
	(void)expect_readers(&rd, seq0);
	close_readers(&rd);
	deadline = h_now_ms() + H_DEADLINE_MS * 3;
	while (fx_journal_seq(d) != seq0 + 1 ||
	    status_int(d, "connections_gone") != 0) {
		if (h_now_ms() > deadline)
			h_fail("what A left never ran");
		h_sleep_ms(20);
	}
	fx_verify_ok(d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		test_held_writes_keep_turn_limits, setup, h_teardown),
	    cmocka_unit_test_setup_teardown(
		test_order_kept_when_connection_goes, setup, h_teardown),
	    cmocka_unit_test_setup_teardown(
		test_shutdown_runs_held, setup, h_teardown),
	    cmocka_unit_test_setup_teardown(
		test_shutdown_after_drain_runs_held_writes, setup, h_teardown),
	    cmocka_unit_test_setup_teardown(
		test_never_reading_exports_bounded, setup, h_teardown),
	    cmocka_unit_test_setup_teardown(
		test_commit_wait_skips_blocked, setup_long_wait, h_teardown),
	    cmocka_unit_test_setup_teardown(
		test_gone_connection_shown, setup, h_teardown),
	};

	/*
	 * AddressSanitizer's quarantine of freed memory (256 MiB) would be
	 * resident growth the memory bounds cannot tell from answers kept.
	 */
	fx_asan_option("quarantine_size_mb=8");
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
