/*
 * test_reader.c: long reads on the reader thread (daemon/reader.c). A slow
 * read must see exactly the requests before it and none after it, on its
 * connection and across connections, and writes must go on while it runs.
 * Asserted through what the reads report, never through timing.
 */
#include <setjmp.h>
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

#define CONTRACT "RD-1"

static int
setup(void **state)
{
	struct h_daemon *d = fx_daemon_up(state, NULL);

	fx_contract_open(d, CONTRACT, "1000000");
	fx_companies_add(d, 1, 64);
	return (0);
}

static void
pack_report(Budget__Request *req, Budget__ReportRequest *rr, char **by)
{
	budget__request__init(req);
	budget__report_request__init(rr);
	req->version = 1;
	rr->by = by;
	rr->n_by = 1;
	req->command_case = BUDGET__REQUEST__COMMAND_REPORT;
	req->report = rr;
}

/*
 * [reserve, verify, reserve] pipelined on one connection: the verify is
 * run on the reader thread, yet sees the first reservation's entry and
 * not the second's; both reservations are applied.
 */
static void
test_snapshot_between_writes(void **state)
{
	struct h_daemon      *d = *state;
	struct fx_req         a, b;
	Budget__Request       vreq;
	Budget__VerifyRequest v;
	Budget__Response     *ra, *rv, *rb;
	char                  co1[FX_RID_SZ], co2[FX_RID_SZ];
	int64_t               seq0;
	int                   fd;

	fx_rid(1, co1);
	fx_rid(2, co2);
	seq0 = fx_journal_seq(d);
	fx_reserve(&a, "rd-a", "RD-A", co1, CONTRACT, "START", 1000000, 0);
	fx_reserve(&b, "rd-b", "RD-B", co2, CONTRACT, "START", 1000000, 0);
	fx_verify_req(&vreq, &v);

	fd = h_connect(d);
	h_send_request(fd, &a.req);
	h_send_request(fd, &vreq);
	h_send_request(fd, &b.req);
	ra = h_recv(fd, 10000);
	rv = h_recv(fd, 10000);
	rb = h_recv(fd, 10000);
	assert_null(ra->error);
	assert_null(rb->error);
	assert_int_equal(rv->result_case, BUDGET__RESPONSE__RESULT_VERIFY);
	assert_true(rv->verify->ok);
	/* Exactly one more entry than before: a's, not b's. */
	assert_int_equal((int64_t)rv->verify->entries, seq0 + 1);
	assert_int_equal(rv->verify->dossiers, 1);
	assert_int_equal(fx_journal_seq(d), seq0 + 2);
	budget__response__free_unpacked(ra, NULL);
	budget__response__free_unpacked(rv, NULL);
	budget__response__free_unpacked(rb, NULL);
	close(fd);
	fx_verify_ok(d);
}

/*
 * Answers stay in request order on a connection even when a slow read in
 * the middle finishes on another thread: [status, report, status] comes
 * back as status, report, status, and the report counts what was
 * approved before it.
 */
static void
test_order_around_slow_read(void **state)
{
	struct h_daemon      *d = *state;
	struct fx_req         a, ap;
	Budget__Request       rreq;
	Budget__ReportRequest rr;
	Budget__Response     *r[4];
	char                  year[] = "year";
	char                 *by[] = {year};
	char                  co[FX_RID_SZ];
	int                   fd, i;

	fx_rid(3, co);
	fx_reserve(&a, "rd-c", "RD-C", co, CONTRACT, "START", 1000000, 0);
	fx_approve(&ap, "rd-c-ok", "RD-C");
	pack_report(&rreq, &rr, by);

	fd = h_connect(d);
	h_send_request(fd, &a.req);
	h_send_request(fd, &ap.req);
	h_send_request(fd, &rreq);
	h_send_status(fd, "after-report");
	for (i = 0; i < 4; i++)
		r[i] = h_recv(fd, 10000);
	assert_int_equal(r[0]->result_case, BUDGET__RESPONSE__RESULT_DOSSIER);
	assert_int_equal(r[1]->result_case, BUDGET__RESPONSE__RESULT_DOSSIER);
	assert_int_equal(r[2]->result_case, BUDGET__RESPONSE__RESULT_REPORT);
	assert_int_equal(r[3]->result_case, BUDGET__RESPONSE__RESULT_STATUS);
	assert_string_equal(r[3]->request_id, "after-report");
	/* The approval before the report is in it. */
	assert_int_equal(r[2]->report->total->grant_events, 1);
	assert_int_equal(r[2]->report->total->granted_cents, 500000);
	for (i = 0; i < 4; i++)
		budget__response__free_unpacked(r[i], NULL);
	close(fd);
}

/*
 * Many slow reads on one connection and writes on others, all at once:
 * every write is applied, every read answers ok and in order, the ledger
 * verifies. (Whether writes overtake the reads is a matter of timing and
 * is not asserted; that they are all answered and correct is.)
 */
static void
test_writes_during_slow_reads(void **state)
{
	struct h_daemon      *d = *state;
	Budget__Request       vreq;
	Budget__VerifyRequest v;
	Budget__Response     *resp;
	struct fx_req         w[40];
	char                  rid[FX_ID_SZ], id[FX_ID_SZ], co[FX_RID_SZ];
	int                   rfd, wfd, i;

	fx_verify_req(&vreq, &v);
	rfd = h_connect(d);
	wfd = h_connect(d);
	for (i = 0; i < 20; i++)
		h_send_request(rfd, &vreq);
	for (i = 0; i < 40; i++) {
		snprintf(rid, sizeof(rid), "rd-w-%d", i);
		snprintf(id, sizeof(id), "RD-W-%d", i);
		fx_rid(10 + (unsigned)i, co);
		fx_reserve(&w[i], rid, id, co, CONTRACT, "START", 1000000, 0);
		h_send_request(wfd, &w[i].req);
	}
	for (i = 0; i < 40; i++) {
		resp = h_recv(wfd, 20000);
		assert_null(resp->error);
		budget__response__free_unpacked(resp, NULL);
	}
	/* Each later read sees at least what the earlier one saw. */
	fx_expect_verifies(rfd, 20, 0, NULL);
	close(rfd);
	close(wfd);
	fx_verify_ok(d);
}

/*
 * More slow reads in flight than LMDB has reader slots (126): 400
 * verifies pipelined on 20 connections, reservations on another. A
 * connection may owe 8 long reads (conn.c), so 160 are in flight at
 * once. Each slow read holds a read transaction from its place in the
 * turn until the thread has run it, so the daemon must hold back the ones
 * it has no room for rather than fail them: every verify answers ok, and
 * on each connection in order, seeing at least what the one before saw.
 */
#define SLOW_CONNS 20
#define SLOW_READS 400

static void
test_more_slow_reads_than_reader_slots(void **state)
{
	struct h_daemon      *d = *state;
	Budget__Request       vreq;
	Budget__VerifyRequest v;
	Budget__Response     *resp;
	struct fx_req         w[20];
	char                  rid[FX_ID_SZ], id[FX_ID_SZ], co[FX_RID_SZ];
	int                   rfd[SLOW_CONNS], wfd, i;

	fx_verify_req(&vreq, &v);
	for (i = 0; i < SLOW_CONNS; i++)
		rfd[i] = h_connect(d);
	wfd = h_connect(d);
	for (i = 0; i < SLOW_READS; i++) {
		h_send_request(rfd[i % SLOW_CONNS], &vreq);
		if (i % 20 != 0)
			continue;
		snprintf(rid, sizeof(rid), "rd-s-%d", i / 20);
		snprintf(id, sizeof(id), "RD-S-%d", i / 20);
		fx_rid(30 + (unsigned)i / 20, co);
		fx_reserve(
		    &w[i / 20], rid, id, co, CONTRACT, "START", 1000000, 0);
		h_send_request(wfd, &w[i / 20].req);
	}
	for (i = 0; i < SLOW_READS / 20; i++) {
		resp = h_recv(wfd, 20000);
		assert_null(resp->error);
		budget__response__free_unpacked(resp, NULL);
	}
	for (i = 0; i < SLOW_CONNS; i++) {
		fx_expect_verifies(rfd[i], SLOW_READS / SLOW_CONNS, 0, NULL);
		close(rfd[i]);
	}
	close(wfd);
	fx_verify_ok(d);
}

/* A client that goes away while its slow read runs costs nothing. */
static void
test_client_gone_during_slow_read(void **state)
{
	struct h_daemon      *d = *state;
	Budget__Request       vreq;
	Budget__VerifyRequest v;
	int                   fd, i;

	fx_verify_req(&vreq, &v);
	for (i = 0; i < 10; i++) {
		fd = h_connect(d);
		h_send_request(fd, &vreq);
		h_send_request(fd, &vreq);
		close(fd);
	}
	h_assert_serving(d);
	fx_verify_ok(d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		test_snapshot_between_writes, setup, h_teardown),
	    cmocka_unit_test_setup_teardown(
		test_order_around_slow_read, setup, h_teardown),
	    cmocka_unit_test_setup_teardown(
		test_writes_during_slow_reads, setup, h_teardown),
	    cmocka_unit_test_setup_teardown(
		test_client_gone_during_slow_read, setup, h_teardown),
	    cmocka_unit_test_setup_teardown(
		test_more_slow_reads_than_reader_slots, setup, h_teardown),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
