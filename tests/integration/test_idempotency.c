/*
 * test_idempotency.c: request ids (SPEC §5) through the real daemon. The
 * same id with the same request gets the original answer again, marked
 * replayed, and nothing is applied twice; the same id with a different
 * request is request_id_reused and applies nothing; a refused request
 * keeps its refusal when retried, even after the ledger has changed so
 * that it would now pass. Across budgetctl runs, pipelined on one
 * connection, from many clients at once, and across a daemon restart and
 * a kill -9. Also what a request id may be, and that reads do not use one.
 *
 * Every step checks the journal (status --json journal_seq and head_hash)
 * and verify --json (ledger_steps.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ledger_steps.h"

#define CO_C "0200101397"
#define CO_D "0200202654"
#define CO_U "0200303911" /* added only later in some tests */

/* budgetctl runs at once with one request id. */
#define CONCURRENT_N 16

static struct h_daemon *idem_daemon(void **);

/* The shipped rules, contract K, companies C and D. */
static struct h_daemon *
idem_daemon(void **state)
{
	struct h_daemon *d = LS_DAEMON(state);

	LS_COMPANY(d, CO_C);
	LS_COMPANY(d, CO_D);
	return (d);
}

/*
 * The answer a must be the answer first, word for word, but for its
 * "replayed" mark.
 */
static void
assert_same_answer_at(
    int line, const struct ls_answer *first, const struct ls_answer *a)
{
	json_t *x, *y;
	char   *dx, *dy;
	int     same;

	if (!a->replayed)
		ls_fail_at(__FILE__, line, "the answer is not marked replayed");
	if (first->replayed)
		ls_fail_at(
		    __FILE__, line, "the first answer is marked replayed");
	x = json_deep_copy(first->json);
	y = json_deep_copy(a->json);
	json_object_del(y, "replayed");
	same = json_equal(x, y);
	if (!same) {
		dx = json_dumps(x, JSON_INDENT(1) | JSON_SORT_KEYS);
		dy = json_dumps(y, JSON_INDENT(1) | JSON_SORT_KEYS);
		print_error("first:\n%s\nreplayed:\n%s\n", dx, dy);
		free(dx);
		free(dy);
	}
	json_decref(x);
	json_decref(y);
	if (!same)
		ls_fail_at(__FILE__, line, "the replayed answer differs");
}

#define ASSERT_SAME_ANSWER(first, a) assert_same_answer_at(__LINE__, first, a)

/* ------------------------------------------------------------------ */
/* Same id, same request                                              */

static void
test_same_request_replayed(void **state)
{
	struct h_daemon *d = idem_daemon(state);
	struct ls_answer first, a, approve, pay;
	struct h_proc    p;
	int              i;

	/* A reservation, then the same again: the same answer, once. */
	LS_DO_A(d, &first, "--request-id", "R1",
	    LS_RESERVE("D1", CO_C, "K", "START", "10000", "2024-06-01"));
	assert_false(first.replayed);
	LS_WANT(&first, "request_id=R1");
	for (i = 0; i < 3; i++) {
		LS_STEP(d, NULL, 0, &a, "--request-id", "R1",
		    LS_RESERVE(
			"D1", CO_C, "K", "START", "10000", "2024-06-01"));
		ASSERT_SAME_ANSWER(&first, &a);
		ls_answer_free(&a);
	}
	/* The same request spelled otherwise is the same request. */
	LS_STEP(d, NULL, 0, &a, "dossier", "reserve", "--date", "2024-06-01",
	    "--cost", "10000.00", "--package", "START", "--contract", "K",
	    "--company", CO_C, "D1", "--request-id", "R1");
	ASSERT_SAME_ANSWER(&first, &a);
	ls_answer_free(&a);
	LS_STEP(d, NULL, 0, &a, "contract", "show", "K");
	LS_WANT(&a, "reserved_cents=500000");
	LS_WANT(&a, "dossiers=1");
	ls_answer_free(&a);
	/* Text mode says so. */
	h_ctl(&p, d, "--request-id", "R1",
	    LS_RESERVE("D1", CO_C, "K", "START", "10000", "2024-06-01"), NULL);
	h_proc_expect(&p, 0);
	assert_non_null(strstr(p.err, "request R1 was answered before"));
	assert_non_null(strstr(p.out, "reserved"));
	h_proc_free(&p);

	/* The answer is the one given then, not the dossier as it is now. */
	LS_DO_A(
	    d, &approve, "--request-id", "R2", LS_APPROVE("D1", "2024-06-01"));
	LS_STEP(d, NULL, 0, &a, "--request-id", "R1",
	    LS_RESERVE("D1", CO_C, "K", "START", "10000", "2024-06-01"));
	ASSERT_SAME_ANSWER(&first, &a);
	LS_WANT(&a, "state=reserved");
	ls_answer_free(&a);
	LS_STEP(d, NULL, 0, &a, "--request-id", "R2",
	    LS_APPROVE("D1", "2024-06-01"));
	ASSERT_SAME_ANSWER(&approve, &a);
	ls_answer_free(&a);
	LS_STEP(d, NULL, 0, &a, LS_SHOW("D1"));
	LS_WANT(&a, "state=approved");
	LS_WANT(&a, "grants#=1");
	ls_answer_free(&a);

	/* A payment retried: paid once. */
	LS_DO_A(d, &pay, "--request-id", "R3", "dossier", "pay", "D1",
	    "--amount", "1000");
	for (i = 0; i < 3; i++) {
		LS_STEP(d, NULL, 0, &a, "--request-id", "R3", "dossier", "pay",
		    "D1", "--amount", "1000");
		ASSERT_SAME_ANSWER(&pay, &a);
		ls_answer_free(&a);
	}
	LS_STEP(d, NULL, 0, &a, "contract", "show", "K");
	LS_WANT(&a, "paid_cents=100000");
	LS_WANT(&a, "committed_cents=400000");
	ls_answer_free(&a);

	/* Declared aid retried: counted once. */
	ls_answer_free(&first);
	LS_DO_A(d, &first, "--request-id", "R4",
	    LS_DECLARE(CO_D, "1000", "2024-06-01"));
	LS_STEP(d, NULL, 0, &a, "--request-id", "R4",
	    LS_DECLARE(CO_D, "1000", "2024-06-01"));
	ASSERT_SAME_ANSWER(&first, &a);
	ls_answer_free(&a);
	LS_STEP(d, NULL, 0, &a, LS_DM_SHOW(CO_D, "2024-06-01"));
	LS_WANT(&a, "used_cents=100000");
	ls_answer_free(&a);

	/* Creations retried: the creation again, not already_exists. */
	ls_answer_free(&first);
	LS_DO_A(d, &first, "--request-id", "R5", LS_OPEN("K2", "500"));
	LS_STEP(d, NULL, 0, &a, "--request-id", "R5", LS_OPEN("K2", "500"));
	ASSERT_SAME_ANSWER(&first, &a);
	ls_answer_free(&a);
	ls_answer_free(&first);
	LS_DO_A(d, &first, "--request-id", "R6", LS_ADD(CO_U, "small"));
	LS_STEP(d, NULL, 0, &a, "--request-id", "R6", LS_ADD(CO_U, "small"));
	ASSERT_SAME_ANSWER(&first, &a);
	ls_answer_free(&a);
	ls_answer_free(&first);
	LS_DO_A(
	    d, &first, "--request-id", "R7", LS_LINK(CO_C, CO_U, "2024-01-01"));
	LS_STEP(d, NULL, 0, &a, "--request-id", "R7",
	    LS_LINK(CO_C, CO_U, "2024-01-01"));
	ASSERT_SAME_ANSWER(&first, &a);
	ls_answer_free(&a);
	/* Without a request id it is a new request: already_exists. */
	LS_NO(d, "already_exists", LS_LINK(CO_C, CO_U, "2024-01-01"));

	ls_answer_free(&first);
	ls_answer_free(&approve);
	ls_answer_free(&pay);
	LS_CLI_CHECK(d);
}

/* The id budgetctl makes up is printed, and retrying with it replays. */
static void
test_generated_id_retried(void **state)
{
	struct h_daemon *d = idem_daemon(state);
	struct ls_answer first, a;
	struct ls_snap   before;
	struct h_proc    p;
	char             id[80];
	const char      *s, *eol;

	LS_DO_A(d, &first,
	    LS_RESERVE("D1", CO_C, "K", "START", "10000", "2024-06-01"));
	snprintf(id, sizeof(id), "%s", LS_STR(&first, "request_id"));
	assert_true(strncmp(id, "ctl-", 4) == 0);
	LS_STEP(d, NULL, 0, &a, "--request-id", id,
	    LS_RESERVE("D1", CO_C, "K", "START", "10000", "2024-06-01"));
	ASSERT_SAME_ANSWER(&first, &a);
	ls_answer_free(&a);
	ls_answer_free(&first);

	/* In text mode it goes to stderr, before the answer. */
	LS_SNAP(d, &before);
	h_ctl(&p, d, "dossier", "cancel", "D1", "--reason", "test", NULL);
	h_proc_expect(&p, 0);
	assert_non_null(s = strstr(p.err, "request-id: "));
	s += strlen("request-id: ");
	assert_non_null(eol = strchr(s, '\n'));
	snprintf(id, sizeof(id), "%.*s", (int)(eol - s), s);
	h_proc_free(&p);
	LS_MOVED(d, &before, 1);
	LS_STEP(d, NULL, 0, &a, "--request-id", id, LS_CANCEL("D1"));
	assert_true(a.replayed);
	LS_WANT(&a, "state=cancelled");
	ls_answer_free(&a);
	LS_CLI_CHECK(d);
}

/* ------------------------------------------------------------------ */
/* Same id, different request                                         */

static void
test_reuse_detected(void **state)
{
	struct h_daemon *d = idem_daemon(state);
	struct ls_answer first, a;

	LS_DO_A(d, &first, "--request-id", "R10",
	    LS_RESERVE("D2", CO_C, "K", "START", "10000", "2024-06-01"));
	/* Another dossier, one cent more, another day, no day. */
	LS_STEP(d, "request_id_reused", 0, &a, "--request-id", "R10",
	    LS_RESERVE("D3", CO_C, "K", "START", "10000", "2024-06-01"));
	assert_non_null(strstr(a.message, "different request"));
	assert_non_null(strstr(a.message, "nothing was applied"));
	ls_answer_free(&a);
	LS_NO(d, "request_id_reused", "--request-id", "R10",
	    LS_RESERVE("D2", CO_C, "K", "START", "10000.01", "2024-06-01"));
	LS_NO(d, "request_id_reused", "--request-id", "R10",
	    LS_RESERVE("D2", CO_C, "K", "START", "10000", "2024-06-02"));
	LS_NO(d, "request_id_reused", "--request-id", "R10", "dossier",
	    "reserve", "D2", "--company", CO_C, "--contract", "K", "--package",
	    "START", "--cost", "10000");
	/* Another command altogether. */
	LS_NO(
	    d, "request_id_reused", "--request-id", "R10", LS_OPEN("K3", "5"));
	LS_NO(d, "request_id_reused", "--request-id", "R10", LS_CANCEL("D2"));
	/* None of it happened. */
	LS_NO(d, "not_found", LS_SHOW("D3"));
	LS_NO(d, "not_found", "contract", "show", "K3");
	LS_STEP(d, NULL, 0, &a, LS_SHOW("D2"));
	LS_WANT(&a, "state=reserved");
	LS_WANT(&a, "cost_cents=1000000");
	LS_WANT(&a, "reserved_on=2024-06-01");
	ls_answer_free(&a);
	/* The first request still gets its own answer. */
	LS_STEP(d, NULL, 0, &a, "--request-id", "R10",
	    LS_RESERVE("D2", CO_C, "K", "START", "10000", "2024-06-01"));
	ASSERT_SAME_ANSWER(&first, &a);
	ls_answer_free(&a);
	ls_answer_free(&first);

	/* An id spent on a refusal is spent too. */
	LS_NO(d, "not_found", "--request-id", "R11", LS_SHOW("NOPE"));
	LS_NO(d, "not_found", "--request-id", "R11",
	    LS_RESERVE("D4", CO_U, "K", "START", "10000", "2024-06-01"));
	LS_NO(d, "request_id_reused", "--request-id", "R11",
	    LS_RESERVE("D4", CO_D, "K", "START", "10000", "2024-06-01"));
	LS_NO(d, "not_found", LS_SHOW("D4"));
	LS_CLI_CHECK(d);
}

/* ------------------------------------------------------------------ */
/* A refusal keeps its refusal                                        */

static void
test_refusal_replayed(void **state)
{
	struct h_daemon *d = idem_daemon(state);
	struct ls_answer first, a;
	struct h_proc    p;

	/* not_found, then the company is added: still not_found. */
	LS_STEP(d, "not_found", 0, &first, "--request-id", "R20",
	    LS_RESERVE("D4", CO_U, "K", "START", "10000", "2024-06-01"));
	assert_false(first.replayed);
	LS_COMPANY(d, CO_U);
	LS_STEP(d, "not_found", 0, &a, "--request-id", "R20",
	    LS_RESERVE("D4", CO_U, "K", "START", "10000", "2024-06-01"));
	ASSERT_SAME_ANSWER(&first, &a);
	ls_answer_free(&a);
	ls_answer_free(&first);
	LS_NO(d, "not_found", LS_SHOW("D4"));

	/* invalid_argument and future_date the same way. */
	LS_STEP(d, "invalid_argument", 0, &first, "--request-id", "R21",
	    LS_RESERVE("D4", CO_U, "K", "START", "10000", "2024-02-30"));
	LS_STEP(d, "invalid_argument", 0, &a, "--request-id", "R21",
	    LS_RESERVE("D4", CO_U, "K", "START", "10000", "2024-02-30"));
	ASSERT_SAME_ANSWER(&first, &a);
	ls_answer_free(&a);
	ls_answer_free(&first);

	/*
	 * contract_budget_exceeded is journaled once, when it happens; the
	 * retry after the budget was raised is the same refusal, journaled
	 * no more.
	 */
	LS_DO(d, LS_OPEN("KS", "1000"));
	LS_STEP(d, "contract_budget_exceeded", 1, &first, "--request-id", "R22",
	    LS_RESERVE("D5", CO_C, "KS", "START", "10000", "2024-06-01"));
	LS_DO(d, "contract", "amend", "KS", "--budget", "100000", "--reason",
	    "test");
	LS_STEP(d, "contract_budget_exceeded", 0, &a, "--request-id", "R22",
	    LS_RESERVE("D5", CO_C, "KS", "START", "10000", "2024-06-01"));
	ASSERT_SAME_ANSWER(&first, &a);
	ls_answer_free(&a);
	ls_answer_free(&first);
	h_ctl(&p, d, "--request-id", "R22",
	    LS_RESERVE("D5", CO_C, "KS", "START", "10000", "2024-06-01"), NULL);
	h_proc_expect(&p, 1);
	assert_non_null(strstr(p.err, "error: contract_budget_exceeded: "));
	assert_non_null(strstr(p.err,
	    "(replayed: this is the answer given "
	    "before)"));
	h_proc_free(&p);
	LS_NO(d, "not_found", LS_SHOW("D5"));
	/* A new id for the same request: it passes now. */
	LS_DO(d, "--request-id", "R22b",
	    LS_RESERVE("D5", CO_C, "KS", "START", "10000", "2024-06-01"));

	/* exclusion_period: D5 is reserved; cancelled, the retry still no. */
	LS_STEP(d, "exclusion_period", 1, &first, "--request-id", "R23",
	    LS_RESERVE("D6", CO_C, "K", "START", "10000", "2024-06-01"));
	LS_DO(d, LS_CANCEL("D5"));
	LS_STEP(d, "exclusion_period", 0, &a, "--request-id", "R23",
	    LS_RESERVE("D6", CO_C, "K", "START", "10000", "2024-06-01"));
	ASSERT_SAME_ANSWER(&first, &a);
	ls_answer_free(&a);
	ls_answer_free(&first);

	/* deminimis_ceiling_exceeded likewise. */
	LS_DO(d, LS_DECLARE(CO_D, "296000", "2025-01-10"));
	LS_STEP(d, "deminimis_ceiling_exceeded", 1, &first, "--request-id",
	    "R24", LS_RESERVE("D7", CO_D, "K", "START", "10000", "2025-02-01"));
	LS_STEP(d, "deminimis_ceiling_exceeded", 0, &a, "--request-id", "R24",
	    LS_RESERVE("D7", CO_D, "K", "START", "10000", "2025-02-01"));
	ASSERT_SAME_ANSWER(&first, &a);
	ls_answer_free(&a);
	ls_answer_free(&first);
	/* A refused id used for another request: reused, not replayed. */
	LS_NO(d, "request_id_reused", "--request-id", "R24",
	    LS_RESERVE("D7", CO_D, "K", "START", "8500", "2025-02-01"));
	LS_CLI_CHECK(d);
}

/* ------------------------------------------------------------------ */
/* One connection, many clients, restarts                             */

/* A reservation Request as the wire carries it. */
static void
reserve_request(Budget__Request *req, Budget__DossierReserve *dr,
    const char *rid, const char *id, const char *company)
{
	budget__request__init(req);
	budget__dossier_reserve__init(dr);
	req->version = BUDGET_PROTOCOL_VERSION;
	req->request_id = H_STR(rid);
	dr->id = H_STR(id);
	dr->company = H_STR(company);
	dr->contract = H_STR("K");
	dr->package = H_STR("START");
	dr->cost_cents = 1000000;
	dr->date = H_STR("2024-06-01");
	req->command_case = BUDGET__REQUEST__COMMAND_DOSSIER_RESERVE;
	req->dossier_reserve = dr;
}

/*
 * Pipelined on one connection, most likely in one batch (one write
 * transaction): the second of two equal requests is a replay of the
 * first, the second of two different ones with one id is refused.
 */
static void
test_pipelined_same_id(void **state)
{
	struct h_daemon       *d = idem_daemon(state);
	struct ls_snap         before;
	Budget__Request        req;
	Budget__DossierReserve dr;
	Budget__Response      *r1, *r2;
	int                    fd;

	LS_SNAP(d, &before);
	fd = h_connect(d);
	reserve_request(&req, &dr, "P1", "D1", CO_C);
	h_send_request(fd, &req);
	h_send_request(fd, &req);
	reserve_request(&req, &dr, "P2", "D2", CO_D);
	h_send_request(fd, &req);
	reserve_request(&req, &dr, "P2", "D3", CO_D);
	h_send_request(fd, &req);

	r1 = h_recv(fd, H_DEADLINE_MS);
	r2 = h_recv(fd, H_DEADLINE_MS);
	assert_null(r1->error);
	assert_null(r2->error);
	assert_string_equal(r1->request_id, "P1");
	assert_string_equal(r2->request_id, "P1");
	assert_false(r1->replayed);
	assert_true(r2->replayed);
	assert_non_null(r1->dossier);
	assert_non_null(r2->dossier);
	assert_string_equal(r2->dossier->id, "D1");
	assert_string_equal(r2->dossier->state, "reserved");
	assert_int_equal(
	    r2->dossier->subsidy_cents, r1->dossier->subsidy_cents);
	budget__response__free_unpacked(r1, NULL);
	budget__response__free_unpacked(r2, NULL);

	r1 = h_recv(fd, H_DEADLINE_MS);
	assert_null(r1->error);
	assert_false(r1->replayed);
	assert_string_equal(r1->dossier->id, "D2");
	budget__response__free_unpacked(r1, NULL);
	h_expect_error(fd, "request_id_reused", "P2");
	close(fd);

	/* Two reservations, one journal entry each. */
	LS_MOVED(d, &before, 2);
	LS_NO(d, "not_found", LS_SHOW("D3"));
	LS_STEP(d, NULL, 0, NULL, "contract", "show", "K");
	LS_CLI_CHECK(d);
}

/* Many budgetctl at once with one id: applied once, the rest replayed. */
static void
test_concurrent_same_id(void **state)
{
	struct h_daemon *d = idem_daemon(state);
	struct ls_snap   before;
	struct ls_answer a;
	struct h_proc    p[CONCURRENT_N];
	json_t          *first = NULL, *y;
	int              i, fresh = 0;

	LS_SNAP(d, &before);
	for (i = 0; i < CONCURRENT_N; i++)
		h_ctl_spawn(&p[i], d, "--json", "--request-id", "C1",
		    LS_RESERVE("D1", CO_C, "K", "START", "10000", "2024-06-01"),
		    NULL);
	for (i = 0; i < CONCURRENT_N; i++) {
		h_proc_wait(&p[i], H_DEADLINE_MS);
		h_proc_expect(&p[i], 0);
		y = json_deep_copy(h_json(&p[i]));
		if (!json_is_true(json_object_get(y, "replayed")))
			fresh++;
		json_object_del(y, "replayed");
		if (first == NULL)
			first = json_incref(y);
		else if (!json_equal(first, y)) {
			print_error("%s\n", p[i].out);
			fail_msg("answers to one request id differ");
		}
		json_decref(y);
		h_proc_free(&p[i]);
	}
	json_decref(first);
	assert_int_equal(fresh, 1);
	LS_MOVED(d, &before, 1);
	LS_STEP(d, NULL, 0, &a, "contract", "show", "K");
	LS_WANT(&a, "reserved_cents=500000");
	LS_WANT(&a, "dossiers=1");
	ls_answer_free(&a);
	LS_CLI_CHECK(d);
}

/* Request ids are kept forever: across a restart and a kill -9. */
static void
test_same_id_across_restart(void **state)
{
	struct h_daemon *d = idem_daemon(state);
	struct ls_answer r30, r31, r32, r33, a;
	struct ls_snap   before;

	LS_DO(d, LS_OPEN("KS", "1000"));
	LS_DO_A(d, &r30, "--request-id", "R30",
	    LS_RESERVE("D1", CO_C, "K", "START", "10000", "2024-06-01"));
	LS_DO_A(d, &r31, "--request-id", "R31",
	    LS_DECLARE(CO_D, "1000", "2024-06-01"));
	LS_STEP(d, "contract_budget_exceeded", 1, &r32, "--request-id", "R32",
	    LS_RESERVE("D2", CO_D, "KS", "START", "10000", "2024-06-01"));

	LS_SNAP(d, &before);
	h_daemon_restart(d);
	LS_MOVED(d, &before, 0);
	LS_STEP(d, NULL, 0, &a, "--request-id", "R30",
	    LS_RESERVE("D1", CO_C, "K", "START", "10000", "2024-06-01"));
	ASSERT_SAME_ANSWER(&r30, &a);
	ls_answer_free(&a);
	LS_STEP(d, NULL, 0, &a, "--request-id", "R31",
	    LS_DECLARE(CO_D, "1000", "2024-06-01"));
	ASSERT_SAME_ANSWER(&r31, &a);
	ls_answer_free(&a);
	LS_STEP(d, "contract_budget_exceeded", 0, &a, "--request-id", "R32",
	    LS_RESERVE("D2", CO_D, "KS", "START", "10000", "2024-06-01"));
	ASSERT_SAME_ANSWER(&r32, &a);
	ls_answer_free(&a);
	LS_NO(d, "request_id_reused", "--request-id", "R30",
	    LS_RESERVE("D3", CO_D, "K", "START", "10000", "2024-06-01"));

	/* Acknowledged means durable, the request id with it. */
	LS_DO_A(d, &r33, "--request-id", "R33", "dossier", "approve", "D1",
	    "--decision-date", "2024-06-01");
	LS_SNAP(d, &before);
	h_daemon_kill9(d);
	h_daemon_start(d);
	LS_MOVED(d, &before, 0);
	LS_STEP(d, NULL, 0, &a, "--request-id", "R33", "dossier", "approve",
	    "D1", "--decision-date", "2024-06-01");
	ASSERT_SAME_ANSWER(&r33, &a);
	ls_answer_free(&a);
	LS_STEP(d, NULL, 0, &a, "--request-id", "R30",
	    LS_RESERVE("D1", CO_C, "K", "START", "10000", "2024-06-01"));
	ASSERT_SAME_ANSWER(&r30, &a);
	ls_answer_free(&a);
	LS_STEP(d, NULL, 0, &a, "contract", "show", "K");
	LS_WANT(&a, "committed_cents=500000");
	LS_WANT(&a, "reserved_cents=0");
	ls_answer_free(&a);
	LS_STEP(d, NULL, 0, &a, LS_DM_SHOW(CO_D, "2024-06-01"));
	LS_WANT(&a, "used_cents=100000");
	ls_answer_free(&a);

	ls_answer_free(&r30);
	ls_answer_free(&r31);
	ls_answer_free(&r32);
	ls_answer_free(&r33);
	LS_CLI_CHECK(d);
}

/* ------------------------------------------------------------------ */
/* What a request id is                                               */

static void
test_request_id_rules(void **state)
{
	struct h_daemon *d = idem_daemon(state);
	struct ls_answer a;
	char             id64[65], id65[66];

	memset(id64, 'a', 64);
	id64[64] = '\0';
	memset(id65, 'b', 65);
	id65[65] = '\0';
	/* 1-64 bytes of [A-Za-z0-9._:-]. */
	LS_DO(d, "--request-id", id64, LS_OPEN("K1", "5"));
	LS_DO(d, "--request-id", "x", LS_OPEN("K2", "5"));
	LS_DO(d, "--request-id", "A-Z.a_z:0-9", LS_OPEN("K3", "5"));
	LS_STEP(d, "invalid_argument", 0, &a, "--request-id", id65,
	    LS_OPEN("K4", "5"));
	assert_non_null(strstr(a.message, "request_id"));
	ls_answer_free(&a);
	LS_NO(d, "invalid_argument", "--request-id", "a b", LS_OPEN("K4", "5"));
	LS_NO(d, "invalid_argument", "--request-id", "a/b", LS_OPEN("K4", "5"));
	LS_NO(d, "invalid_argument", "--request-id", "caf\xc3\xa9",
	    LS_OPEN("K4", "5"));
	LS_NO(d, "invalid_argument", "--request-id", "", LS_OPEN("K4", "5"));
	LS_NO(d, "not_found", "contract", "show", "K4");
	/* Ids are compared byte for byte: case matters. */
	LS_DO(d, "--request-id", "X", LS_OPEN("K5", "5"));
	/* Reads do not spend an id. */
	LS_STEP(
	    d, NULL, 0, NULL, "--request-id", "R40", "contract", "show", "K1");
	LS_STEP(d, NULL, 0, NULL, "--request-id", "R40", "status");
	LS_DO(d, "--request-id", "R40", LS_OPEN("K6", "5"));
	LS_STEP(d, NULL, 0, &a, "--request-id", "R40", LS_OPEN("K6", "5"));
	assert_true(a.replayed);
	ls_answer_free(&a);
	LS_CLI_CHECK(d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_same_request_replayed, h_teardown),
	    cmocka_unit_test_teardown(test_generated_id_retried, h_teardown),
	    cmocka_unit_test_teardown(test_reuse_detected, h_teardown),
	    cmocka_unit_test_teardown(test_refusal_replayed, h_teardown),
	    cmocka_unit_test_teardown(test_pipelined_same_id, h_teardown),
	    cmocka_unit_test_teardown(test_concurrent_same_id, h_teardown),
	    cmocka_unit_test_teardown(test_same_id_across_restart, h_teardown),
	    cmocka_unit_test_teardown(test_request_id_rules, h_teardown),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
