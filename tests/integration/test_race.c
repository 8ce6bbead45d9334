/*
 * test_race.c: races for the last euro (issue #3; SPEC §3 R-PB, R-DM and
 * R-EXCL, §5 idempotency). Many clients ask at the same moment, over raw
 * connections that send everything before reading any answer (so the
 * requests land in one batch or adjacent ones) and over budgetctl
 * processes started together; the ledger must give exactly as many
 * successes as there is room for, refuse the rest with the right code,
 * keep the balances exact, and apply a request id sent on many
 * connections at once exactly once.
 *
 * On de-minimis: a new reservation of a company whose single undertaking
 * already holds a reserved dossier is refused by R-EXCL ("one trajectory
 * at a time"), which is checked before R-DM. So reservations racing
 * inside one undertaking always end with one winner and exclusion_period
 * for the rest, whatever the de-minimis room (test_race_dm_reserve shows
 * it). Where the de-minimis ceiling alone decides is where several
 * trajectories of one undertaking exist already: amendments of approved
 * dossiers (test_race_dm_amend) and declared aid (test_race_dm_declare).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fixture.h"

/* START at EUR 10,000.00 base cost: 50% = EUR 5,000.00 of subsidy. */
#define START_COST       1000000
#define START_SUB        500000
/* MEDIUM at EUR 17,000 (EUR 8,500), extended by EUR 5,000 (EUR 11,000). */
#define MEDIUM_COST      1700000
#define MEDIUM_SUB       850000
#define MEDIUM_EXTENSION 500000
#define MEDIUM_INC       250000
/* The de-minimis ceiling of Regulation 2023/2831. */
#define DM_CEILING       30000000

/* Raw connections racing. */
#define RACE_CONNS 48
/* budgetctl processes racing. */
#define RACE_CTLS  40

/*
 * Send every request before reading any answer: request j of connection
 * c is reqs[c * per + j]; the frames go out round-robin over the
 * connections, packed beforehand so that the sending is a tight loop.
 * Then read the answers into out[] in the same layout.
 */
static void
burst(const int fds[], size_t nconn, struct fx_req reqs[], size_t per,
    Budget__Response *out[])
{
	uint8_t **frames = calloc(nconn * per, sizeof(*frames));
	size_t   *lens = calloc(nconn * per, sizeof(*lens));
	size_t    c, j, i;

	assert_non_null(frames);
	assert_non_null(lens);
	for (i = 0; i < nconn * per; i++)
		frames[i] = fx_frame(&reqs[i].req, &lens[i]);
	for (j = 0; j < per; j++) {
		for (c = 0; c < nconn; c++)
			h_send(fds[c], frames[c * per + j], lens[c * per + j]);
	}
	for (c = 0; c < nconn; c++) {
		for (j = 0; j < per; j++) {
			i = c * per + j;
			out[i] = h_recv(fds[c], H_DEADLINE_MS);
			if (strcmp(out[i]->request_id, reqs[i].rid) != 0)
				fail_msg("connection %zu: answer for \"%s\", "
					 "expected \"%s\"",
				    c, out[i]->request_id, reqs[i].rid);
		}
	}
	for (i = 0; i < nconn * per; i++)
		free(frames[i]);
	free(frames);
	free(lens);
}

/* n connections, each known to be served (a status round-trip). */
static int *
conns_open(const struct h_daemon *d, size_t n)
{
	int   *fds = calloc(n, sizeof(*fds));
	size_t i;

	assert_non_null(fds);
	for (i = 0; i < n; i++)
		fds[i] = h_connect_served(d);
	return (fds);
}

static void
conns_close(int *fds, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		close(fds[i]);
	free(fds);
}

static void
responses_free(Budget__Response *r[], size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		budget__response__free_unpacked(r[i], NULL);
}

/*
 * Count the answers: a dossier result (checked against the expected
 * state and pending amount) is a success, an error must carry code; any
 * other answer fails the test. Returns the successes; ok[i] says which.
 */
static size_t
tally(Budget__Response *r[], size_t n, const char *state, int64_t pending,
    const char *code, int ok[])
{
	size_t i, wins = 0;

	for (i = 0; i < n; i++) {
		ok[i] = 0;
		if (r[i]->replayed)
			fail_msg("answer %zu (%s) is marked replayed", i,
			    r[i]->request_id);
		if (fx_err(r[i]) != NULL) {
			if (strcmp(fx_err(r[i]), code) != 0)
				fail_msg("request %s: got %s (%s), expected "
					 "success or %s",
				    r[i]->request_id, fx_err(r[i]),
				    r[i]->error->message, code);
			continue;
		}
		if (r[i]->result_case != BUDGET__RESPONSE__RESULT_DOSSIER)
			fail_msg("request %s: not a dossier result",
			    r[i]->request_id);
		assert_string_equal(r[i]->dossier->state, state);
		assert_int_equal(r[i]->dossier->pending_cents, pending);
		ok[i] = 1;
		wins++;
	}
	return (wins);
}

/*
 * Every dossier id in ids[] exists (want[i] = 1, in state) or does not
 * (not_found), asked on one pipelined connection.
 */
static void
expect_dossiers(const struct h_daemon *d, char (*ids)[FX_ID_SZ],
    const int want[], size_t n, const char *state)
{
	struct fx_req     *r = calloc(n, sizeof(*r));
	Budget__Request  **reqs = calloc(n, sizeof(*reqs));
	Budget__Response **out = calloc(n, sizeof(*out));
	size_t             i;
	int                fd;

	assert_non_null(r);
	assert_non_null(reqs);
	assert_non_null(out);
	for (i = 0; i < n; i++) {
		fx_show(&r[i], ids[i]);
		reqs[i] = &r[i].req;
	}
	fd = h_connect(d);
	fx_pipeline(fd, reqs, n, out);
	close(fd);
	for (i = 0; i < n; i++) {
		if (want[i]) {
			if (fx_err(out[i]) != NULL)
				fail_msg(
				    "dossier %s: %s", ids[i], fx_err(out[i]));
			assert_string_equal(out[i]->dossier->state, state);
		} else if (fx_err(out[i]) == NULL ||
		    strcmp(fx_err(out[i]), "not_found") != 0)
			fail_msg(
			    "dossier %s of a refused request exists", ids[i]);
	}
	responses_free(out, n);
	free(out);
	free(reqs);
	free(r);
}

/*
 * nconn connections, per reservations each, all of START (EUR 5,000 of
 * subsidy) for distinct companies (serials first...), against a fresh
 * contract with room for exactly k of them and rest cents more: exactly
 * k succeed, the others get contract_budget_exceeded, and the contract
 * shows exactly k reservations.
 */
static void
race_contract(const struct h_daemon *d, const char *contract, size_t nconn,
    size_t per, size_t k, int64_t rest, unsigned first)
{
	size_t             n = nconn * per, i, wins;
	struct fx_req     *reqs = calloc(n, sizeof(*reqs));
	Budget__Response **out = calloc(n, sizeof(*out));
	char(*ids)[FX_ID_SZ] = calloc(n, sizeof(*ids));
	int               *ok = calloc(n, sizeof(*ok));
	int               *fds;
	char               budget[32], number[FX_RID_SZ], rid[FX_ID_SZ];
	struct fx_contract c;
	int64_t            seq, total = (int64_t)k * START_SUB + rest;

	assert_non_null(reqs);
	assert_non_null(out);
	assert_non_null(ids);
	assert_non_null(ok);
	snprintf(budget, sizeof(budget), "%lld.%02lld",
	    (long long)(total / 100), (long long)(total % 100));
	fx_contract_open(d, contract, budget);
	fx_companies_add(d, first, (unsigned)n);
	for (i = 0; i < n; i++) {
		fx_rid(first + (unsigned)i, number);
		snprintf(ids[i], FX_ID_SZ, "%s-D%zu", contract, i);
		snprintf(rid, sizeof(rid), "%s-r%zu", contract, i);
		fx_reserve(&reqs[i], rid, ids[i], number, contract, "START",
		    START_COST, 0);
	}
	fds = conns_open(d, nconn);
	seq = fx_journal_seq(d);

	burst(fds, nconn, reqs, per, out);

	wins = tally(
	    out, n, "reserved", START_SUB, "contract_budget_exceeded", ok);
	print_message("%s: %zu requests on %zu connections: %zu reserved\n",
	    contract, n, nconn, wins);
	assert_int_equal(wins, k);
	fx_contract_show(d, contract, &c);
	assert_int_equal(c.budget, total);
	assert_int_equal(c.reserved, (int64_t)k * START_SUB);
	assert_int_equal(c.committed, 0);
	assert_int_equal(c.paid, 0);
	assert_int_equal(c.available, rest);
	assert_int_equal(c.dossiers, (int64_t)k);
	/* One journal entry each: the reservation, or the refusal. */
	assert_int_equal(fx_journal_seq(d), seq + (int64_t)n);
	expect_dossiers(d, ids, ok, n, "reserved");

	responses_free(out, n);
	conns_close(fds, nconn);
	free(ok);
	free(ids);
	free(out);
	free(reqs);
}

/* 48 connections, one reservation each, room for 13 and EUR 1,234.56. */
static void
test_race_contract_raw(void **state)
{
	struct h_daemon *d = fx_daemon_up(state, NULL);

	race_contract(d, "K-ONE", RACE_CONNS, 1, 13, 123456, 1);
	assert_int_equal(fx_verify_ok(d), 13);
}

/*
 * 32 connections pipelining 4 reservations each (128 in flight), room
 * for 50 and one cent short of a 51st; then a second contract raced the
 * same way leaves the first untouched.
 */
static void
test_race_contract_pipelined(void **state)
{
	struct h_daemon   *d = fx_daemon_up(state, NULL);
	struct fx_contract c;

	race_contract(d, "K-PIPE", 32, 4, 50, START_SUB - 1, 1);
	race_contract(d, "K-PIPE2", 40, 2, 1, 0, 1001);
	fx_contract_show(d, "K-PIPE", &c);
	assert_int_equal(c.reserved, 50 * START_SUB);
	assert_int_equal(c.available, START_SUB - 1);
	assert_int_equal(fx_verify_ok(d), 51);
}

/* 40 budgetctl processes started at once; room for 7. */
static void
test_race_contract_ctl(void **state)
{
	struct h_daemon   *d = fx_daemon_up(state, NULL);
	struct h_proc      p[RACE_CTLS];
	struct fx_contract c;
	char               number[RACE_CTLS][FX_RID_SZ];
	char               id[RACE_CTLS][FX_ID_SZ];
	int64_t            seq;
	size_t             i, wins = 0, refused = 0;

	fx_contract_open(d, "K-CTL", "35000");
	fx_companies_add(d, 1, RACE_CTLS);
	seq = fx_journal_seq(d);
	for (i = 0; i < RACE_CTLS; i++) {
		fx_rid(1 + (unsigned)i, number[i]);
		snprintf(id[i], FX_ID_SZ, "CTL-%zu", i);
		h_ctl_spawn(&p[i], d, "--json", "dossier", "reserve", id[i],
		    "--company", number[i], "--contract", "K-CTL", "--package",
		    "START", "--cost", "10000", NULL);
	}
	for (i = 0; i < RACE_CTLS; i++)
		h_proc_wait(&p[i], H_DEADLINE_MS);
	for (i = 0; i < RACE_CTLS; i++) {
		if (p[i].status == 0) {
			assert_string_equal(
			    h_json_str(h_json(&p[i]), "state"), "reserved");
			assert_int_equal(
			    h_json_int(h_json(&p[i]), "subsidy_cents"),
			    START_SUB);
			wins++;
		} else {
			h_proc_expect(&p[i], 1);
			assert_string_equal(
			    h_json_str(h_json(&p[i]), "error.code"),
			    "contract_budget_exceeded");
			refused++;
		}
		h_proc_free(&p[i]);
	}
	assert_int_equal(wins, 7);
	assert_int_equal(refused, RACE_CTLS - 7);
	fx_contract_show(d, "K-CTL", &c);
	assert_int_equal(c.reserved, 7 * START_SUB);
	assert_int_equal(c.available, 0);
	assert_int_equal(c.dossiers, 7);
	assert_int_equal(fx_journal_seq(d), seq + RACE_CTLS);
	assert_int_equal(fx_verify_ok(d), 7);
}

/* Companies 1..n, 2..n linked to 1 (its single undertaking) since. */
static void
undertaking_make(const struct h_daemon *d, unsigned n, const char *since)
{
	char     parent[FX_RID_SZ], child[FX_RID_SZ];
	unsigned i;

	fx_rid(1, parent);
	for (i = 2; i <= n; i++) {
		fx_rid(i, child);
		fx_company_link(d, parent, child, since);
	}
}

/* deminimis show of company 1 --json. */
static json_t *
dm_show(const struct h_daemon *d)
{
	char number[FX_RID_SZ];

	fx_rid(1, number);
	return (fx_ctl_json(d, 0, "deminimis", "show", number, NULL));
}

/*
 * 33 companies of one single undertaking reserve at once; the declared
 * aid leaves room for exactly one START subsidy. One wins; every other
 * is refused by R-EXCL, checked before R-DM (one trajectory at a time),
 * and the undertaking's pending amount is exactly the winner's.
 */
static void
test_race_dm_reserve(void **state)
{
	struct h_daemon  *d = fx_daemon_up(state, NULL);
	size_t            n = 33, i, wins;
	struct fx_req     reqs[33];
	Budget__Response *out[33];
	char              ids[33][FX_ID_SZ], number[FX_RID_SZ];
	char              rid[FX_ID_SZ], since[FX_DATE_SZ], granted[FX_DATE_SZ];
	int               ok[33], *fds;
	struct fx_contract c;
	json_t            *j;
	int64_t            seq;

	fx_contract_open(d, "K-DMR", "1000000");
	fx_companies_add(d, 1, (unsigned)n);
	fx_date_ago(400, since);
	fx_date_ago(30, granted);
	undertaking_make(d, (unsigned)n, since);
	fx_rid(1, number);
	fx_declare(d, number, "295000", granted);
	for (i = 0; i < n; i++) {
		fx_rid(1 + (unsigned)i, number);
		snprintf(ids[i], FX_ID_SZ, "DMR-%zu", i);
		snprintf(rid, sizeof(rid), "dmr-%zu", i);
		fx_reserve(&reqs[i], rid, ids[i], number, "K-DMR", "START",
		    START_COST, 0);
	}
	fds = conns_open(d, n);
	seq = fx_journal_seq(d);
	burst(fds, n, reqs, 1, out);
	wins = tally(out, n, "reserved", START_SUB, "exclusion_period", ok);
	assert_int_equal(wins, 1);
	expect_dossiers(d, ids, ok, n, "reserved");
	j = dm_show(d);
	assert_int_equal(h_json_int(j, "used_cents"), 29500000);
	assert_int_equal(h_json_int(j, "pending_cents"), START_SUB);
	assert_int_equal(h_json_int(j, "available_cents"), 0);
	json_decref(j);
	fx_contract_show(d, "K-DMR", &c);
	assert_int_equal(c.reserved, START_SUB);
	assert_int_equal(fx_journal_seq(d), seq + (int64_t)n);
	assert_int_equal(fx_verify_ok(d), 1);
	responses_free(out, n);
	conns_close(fds, n);
}

/*
 * One single undertaking of 32 companies, each with an approved MEDIUM
 * dossier (approved before the companies were linked, so R-EXCL let each
 * through), and declared aid: EUR 13,500 of de-minimis room left. All 32
 * amend at once, each asking EUR 2,500 more: exactly 5 fit, 27 get
 * deminimis_ceiling_exceeded, and the undertaking shows EUR 12,500
 * pending and EUR 1,000 available. Approving the 5 keeps I-2.
 */
static void
test_race_dm_amend(void **state)
{
	struct h_daemon *d = fx_daemon_up(state, NULL);
	enum { N = 32, K = 5 };
	struct fx_req     reqs[N];
	Budget__Request  *rp[N];
	Budget__Response *out[N];
	char              ids[N][FX_ID_SZ], number[FX_RID_SZ];
	char              rid[FX_ID_SZ], since[FX_DATE_SZ], granted[FX_DATE_SZ];
	int               ok[N], *fds, fd;
	struct fx_contract c;
	json_t            *j;
	int64_t            seq, used = N * MEDIUM_SUB + 1450000;
	size_t             i, wins, napproved = 0;

	fx_contract_open(d, "K-DMA", "1000000");
	fx_companies_add(d, 1, N);
	/* N separate undertakings: reserve and approve each. */
	fd = h_connect(d);
	for (i = 0; i < N; i++) {
		fx_rid(1 + (unsigned)i, number);
		snprintf(ids[i], FX_ID_SZ, "DMA-%zu", i);
		snprintf(rid, sizeof(rid), "dma-res-%zu", i);
		fx_reserve(&reqs[i], rid, ids[i], number, "K-DMA", "MEDIUM",
		    MEDIUM_COST, 0);
		rp[i] = &reqs[i].req;
	}
	fx_pipeline(fd, rp, N, out);
	for (i = 0; i < N; i++) {
		assert_null(fx_err(out[i]));
		snprintf(rid, sizeof(rid), "dma-app-%zu", i);
		fx_approve(&reqs[i], rid, ids[i]);
	}
	responses_free(out, N);
	fx_pipeline(fd, rp, N, out);
	for (i = 0; i < N; i++) {
		if (fx_err(out[i]) != NULL)
			fail_msg("approve %s: %s: %s", ids[i], fx_err(out[i]),
			    out[i]->error->message);
	}
	responses_free(out, N);
	close(fd);

	/* Then one undertaking, with EUR 13,500 of room. */
	fx_date_ago(400, since);
	fx_date_ago(30, granted);
	fx_rid(1, number);
	fx_declare(d, number, "14500", granted);
	undertaking_make(d, N, since);
	j = dm_show(d);
	assert_int_equal(json_array_size(h_json_get(j, "undertaking")), N);
	assert_int_equal(h_json_int(j, "used_cents"), used);
	assert_int_equal(h_json_int(j, "pending_cents"), 0);
	assert_int_equal(h_json_int(j, "available_cents"), 1350000);
	json_decref(j);

	/*
	 * The amendments name their (unchanged) package: without it, every
	 * refusal breaks the journal's hash chain (test_regress_write.c,
	 * test_bug_refused_amendment_breaks_journal).
	 */
	for (i = 0; i < N; i++) {
		snprintf(rid, sizeof(rid), "dma-amend-%zu", i);
		fx_amend(&reqs[i], rid, ids[i], "MEDIUM", MEDIUM_EXTENSION, 0);
	}
	fds = conns_open(d, N);
	seq = fx_journal_seq(d);
	burst(fds, N, reqs, 1, out);
	wins = tally(
	    out, N, "approved", MEDIUM_INC, "deminimis_ceiling_exceeded", ok);
	print_message("%d amendments at once: %zu fit\n", N, wins);
	assert_int_equal(wins, K);
	assert_int_equal(fx_journal_seq(d), seq + N);
	j = dm_show(d);
	assert_int_equal(h_json_int(j, "used_cents"), used);
	assert_int_equal(h_json_int(j, "pending_cents"), K * MEDIUM_INC);
	assert_int_equal(h_json_int(j, "available_cents"), 100000);
	json_decref(j);
	fx_contract_show(d, "K-DMA", &c);
	assert_int_equal(c.reserved, K * MEDIUM_INC);
	assert_int_equal(c.committed, N * MEDIUM_SUB);
	fx_verify_ok(d);
	responses_free(out, N);

	/* The winners are approved: EUR 299,000 granted, still within. */
	for (i = 0; i < N; i++) {
		if (!ok[i])
			continue;
		json_decref(
		    fx_ctl_json(d, 0, "dossier", "approve", ids[i], NULL));
		napproved++;
	}
	assert_int_equal(napproved, K);
	j = dm_show(d);
	assert_int_equal(h_json_int(j, "used_cents"), used + K * MEDIUM_INC);
	assert_int_equal(h_json_int(j, "pending_cents"), 0);
	assert_int_equal(h_json_int(j, "available_cents"),
	    DM_CEILING - used - K * MEDIUM_INC);
	json_decref(j);
	fx_contract_show(d, "K-DMA", &c);
	assert_int_equal(c.reserved, 0);
	assert_int_equal(c.committed, N * MEDIUM_SUB + K * MEDIUM_INC);
	assert_int_equal(fx_verify_ok(d), N);
	conns_close(fds, N);
}

/*
 * 32 declarations of EUR 10,000 of outside aid at once, to the 8
 * companies of one single undertaking that has EUR 65,000 of room:
 * exactly 6 are recorded, 26 refused with deminimis_ceiling_exceeded.
 */
static void
test_race_dm_declare(void **state)
{
	struct h_daemon *d = fx_daemon_up(state, NULL);
	enum { N = 32, M = 8, K = 6 };
	struct fx_req     reqs[N];
	Budget__Response *out[N];
	char              number[FX_RID_SZ], rid[FX_ID_SZ];
	char              since[FX_DATE_SZ], granted[FX_DATE_SZ];
	int               ok[N], *fds;
	json_t           *j;
	int64_t           seq;
	size_t            i, wins = 0;

	fx_companies_add(d, 1, M);
	fx_date_ago(400, since);
	fx_date_ago(30, granted);
	undertaking_make(d, M, since);
	fx_rid(1, number);
	fx_declare(d, number, "235000", granted);
	fx_date_ago(10, granted);
	for (i = 0; i < N; i++) {
		fx_rid(1 + (unsigned)(i % M), number);
		snprintf(rid, sizeof(rid), "dmd-%zu", i);
		fx_declare_req(&reqs[i], rid, number, 1000000, granted);
	}
	fds = conns_open(d, N);
	seq = fx_journal_seq(d);
	burst(fds, N, reqs, 1, out);
	for (i = 0; i < N; i++) {
		ok[i] = fx_err(out[i]) == NULL;
		if (ok[i]) {
			assert_int_equal(out[i]->result_case,
			    BUDGET__RESPONSE__RESULT_DEMINIMIS);
			wins++;
		} else
			assert_string_equal(
			    fx_err(out[i]), "deminimis_ceiling_exceeded");
	}
	assert_int_equal(wins, K);
	assert_int_equal(fx_journal_seq(d), seq + N);
	j = dm_show(d);
	assert_int_equal(h_json_int(j, "used_cents"), 23500000 + K * 1000000);
	assert_int_equal(h_json_int(j, "available_cents"), 500000);
	json_decref(j);
	fx_verify_ok(d);
	responses_free(out, N);
	conns_close(fds, N);
}

/*
 * Send reqs (n requests, all under one request id) on n connections at
 * once. Exactly one answer is fresh; every other identical request is
 * replayed with the very same answer; a different request under that id
 * is request_id_reused; the journal gains exactly one entry, the fresh
 * answer's, applied or refused. Returns the index of the fresh answer.
 */
static size_t
race_same_id(const struct h_daemon *d, struct fx_req reqs[], size_t n,
    Budget__Response *out[])
{
	int    *fds = conns_open(d, n);
	size_t  i, fresh = n;
	int64_t seq = fx_journal_seq(d);

	burst(fds, n, reqs, 1, out);
	for (i = 0; i < n; i++) {
		if (out[i]->replayed ||
		    (fx_err(out[i]) != NULL &&
			strcmp(fx_err(out[i]), "request_id_reused") == 0))
			continue;
		if (fresh != n)
			fail_msg("request id %s applied twice: answers %zu and "
				 "%zu are both fresh",
			    reqs[i].rid, fresh, i);
		fresh = i;
	}
	if (fresh == n)
		fail_msg("request id %s: no answer is fresh", reqs[0].rid);
	for (i = 0; i < n; i++) {
		int same = budget__request__get_packed_size(&reqs[i].req) ==
			budget__request__get_packed_size(&reqs[fresh].req) &&
		    strcmp(reqs[i].id, reqs[fresh].id) == 0;

		if (i == fresh)
			continue;
		if (same) {
			if (!out[i]->replayed)
				fail_msg("answer %zu to the same request is "
					 "not replayed",
				    i);
			if (!fx_same_answer(out[i], out[fresh]))
				fail_msg("answer %zu differs from the "
					 "original",
				    i);
		} else if (fx_err(out[i]) == NULL ||
		    strcmp(fx_err(out[i]), "request_id_reused") != 0)
			fail_msg("answer %zu to a different request under "
				 "the same id is not request_id_reused",
			    i);
	}
	conns_close(fds, n);
	if (fx_journal_seq(d) != seq + 1)
		fail_msg("request id %s: the journal moved from %lld to %lld, "
			 "not by one entry",
		    reqs[0].rid, (long long)seq, (long long)fx_journal_seq(d));
	return (fresh);
}

/*
 * One reservation under one request id, on 2 connections at once, then
 * on 32: applied once (one journal entry, one reservation on the
 * contract), every other answer replayed and identical.
 */
static void
test_race_same_request_id(void **state)
{
	struct h_daemon   *d = fx_daemon_up(state, NULL);
	struct fx_req      reqs[32];
	Budget__Response  *out[32];
	struct fx_contract c;
	char               number[FX_RID_SZ];
	size_t             i, fresh;
	int                fd;

	fx_contract_open(d, "K-ID", "100000");
	fx_companies_add(d, 1, 2);

	fx_rid(1, number);
	for (i = 0; i < 2; i++)
		fx_reserve(&reqs[i], "same-id-two", "ID-TWO", number, "K-ID",
		    "START", START_COST, 0);
	fresh = race_same_id(d, reqs, 2, out);
	assert_null(fx_err(out[fresh]));
	assert_string_equal(out[fresh]->dossier->state, "reserved");
	fx_contract_show(d, "K-ID", &c);
	assert_int_equal(c.reserved, START_SUB);
	assert_int_equal(c.dossiers, 1);
	/* Later, on yet another connection: the same answer again. */
	fd = h_connect(d);
	{
		Budget__Response *again = fx_call(fd, &reqs[0].req);

		assert_true(again->replayed);
		assert_true(fx_same_answer(again, out[fresh]));
		budget__response__free_unpacked(again, NULL);
	}
	close(fd);
	responses_free(out, 2);

	fx_rid(2, number);
	for (i = 0; i < 32; i++)
		fx_reserve(&reqs[i], "same-id-32", "ID-32", number, "K-ID",
		    "START", START_COST, 0);
	fresh = race_same_id(d, reqs, 32, out);
	assert_null(fx_err(out[fresh]));
	fx_contract_show(d, "K-ID", &c);
	assert_int_equal(c.reserved, 2 * START_SUB);
	assert_int_equal(c.dossiers, 2);
	responses_free(out, 32);
	assert_int_equal(fx_verify_ok(d), 2);
}

/*
 * One request id, two different requests, 16 connections each, all at
 * once: one of the two is applied once, its twins are replayed, the
 * other request's 16 get request_id_reused and leave no trace.
 */
static void
test_race_same_request_id_different_requests(void **state)
{
	struct h_daemon   *d = fx_daemon_up(state, NULL);
	struct fx_req      reqs[32];
	Budget__Response  *out[32];
	struct fx_contract c;
	char               a[FX_RID_SZ], b[FX_RID_SZ], st[32];
	size_t             i, fresh;
	int                fd;
	const char        *winner, *loser;
	int64_t            seq;

	fx_contract_open(d, "K-REUSE", "100000");
	fx_companies_add(d, 1, 2);
	fx_rid(1, a);
	fx_rid(2, b);
	for (i = 0; i < 32; i++) {
		if (i % 2 == 0)
			fx_reserve(&reqs[i], "reused-id", "REUSE-A", a,
			    "K-REUSE", "START", START_COST, 0);
		else
			fx_reserve(&reqs[i], "reused-id", "REUSE-B", b,
			    "K-REUSE", "START", START_COST, 0);
	}
	fresh = race_same_id(d, reqs, 32, out);
	seq = fx_journal_seq(d);
	assert_null(fx_err(out[fresh]));
	winner = reqs[fresh].id;
	loser = strcmp(winner, "REUSE-A") == 0 ? "REUSE-B" : "REUSE-A";
	assert_string_equal(
	    fx_dossier_state(d, winner, st, sizeof(st)), "reserved");
	json_decref(fx_ctl_json(d, 1, "dossier", "show", loser, NULL));
	/* The loser left nothing behind, not even a journal entry. */
	assert_int_equal(fx_journal_seq(d), seq);
	fx_contract_show(d, "K-REUSE", &c);
	assert_int_equal(c.reserved, START_SUB);
	assert_int_equal(c.dossiers, 1);
	responses_free(out, 32);
	/* The loser under a new id goes through: nothing of it was kept. */
	fd = h_connect(d);
	i = strcmp(loser, "REUSE-A") == 0 ? 0 : 1;
	snprintf(reqs[i].rid, sizeof(reqs[i].rid), "reused-id-2");
	{
		Budget__Response *r = fx_call(fd, &reqs[i].req);

		assert_null(fx_err(r));
		assert_false(r->replayed);
		budget__response__free_unpacked(r, NULL);
	}
	close(fd);
	assert_int_equal(fx_verify_ok(d), 2);
}

/*
 * A refusal raced under one id on 32 connections: one refusal is fresh
 * (and journaled once), the other 31 replay it with the same code.
 */
static void
test_race_same_request_id_refused(void **state)
{
	struct h_daemon   *d = fx_daemon_up(state, NULL);
	struct fx_req      reqs[32];
	Budget__Response  *out[32];
	struct fx_contract c;
	char               number[FX_RID_SZ];
	size_t             i;

	fx_contract_open(d, "K-POOR", "4999.99");
	fx_companies_add(d, 1, 1);
	fx_rid(1, number);
	for (i = 0; i < 32; i++)
		fx_reserve(&reqs[i], "refused-id", "POOR-1", number, "K-POOR",
		    "START", START_COST, 0);
	(void)race_same_id(d, reqs, 32, out);
	for (i = 0; i < 32; i++) {
		if (fx_err(out[i]) == NULL ||
		    strcmp(fx_err(out[i]), "contract_budget_exceeded") != 0)
			fail_msg("answer %zu is not the refusal", i);
	}
	fx_contract_show(d, "K-POOR", &c);
	assert_int_equal(c.reserved, 0);
	assert_int_equal(c.available, 499999);
	responses_free(out, 32);
	assert_int_equal(fx_verify_ok(d), 0);
}

/*
 * budgetctl --request-id X, 8 processes at once with the same request:
 * one prints a fresh answer, 7 print "replayed":true, all the same
 * dossier.
 */
static void
test_race_same_request_id_ctl(void **state)
{
	struct h_daemon   *d = fx_daemon_up(state, NULL);
	struct h_proc      p[8];
	struct fx_contract c;
	char               number[FX_RID_SZ];
	size_t             i, replayed = 0;
	int64_t            seq;
	const char        *expires = NULL;
	json_t            *first = NULL;

	fx_contract_open(d, "K-CTLID", "100000");
	fx_companies_add(d, 1, 1);
	fx_rid(1, number);
	seq = fx_journal_seq(d);
	for (i = 0; i < 8; i++)
		h_ctl_spawn(&p[i], d, "--json", "--request-id", "ctl-same-id",
		    "dossier", "reserve", "CTLID-1", "--company", number,
		    "--contract", "K-CTLID", "--package", "START", "--cost",
		    "10000", NULL);
	for (i = 0; i < 8; i++)
		h_proc_wait(&p[i], H_DEADLINE_MS);
	for (i = 0; i < 8; i++) {
		json_t *j;

		h_proc_expect(&p[i], 0);
		j = h_json(&p[i]);
		if (json_is_true(h_json_get(j, "replayed")))
			replayed++;
		assert_string_equal(h_json_str(j, "id"), "CTLID-1");
		assert_int_equal(h_json_int(j, "subsidy_cents"), START_SUB);
		if (first == NULL) {
			first = j;
			expires = h_json_str(j, "expires_at");
		} else
			assert_string_equal(
			    h_json_str(j, "expires_at"), expires);
	}
	assert_int_equal(replayed, 7);
	for (i = 0; i < 8; i++)
		h_proc_free(&p[i]);
	assert_int_equal(fx_journal_seq(d), seq + 1);
	fx_contract_show(d, "K-CTLID", &c);
	assert_int_equal(c.reserved, START_SUB);
	assert_int_equal(fx_verify_ok(d), 1);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, NULL, h_teardown)
	const struct CMUnitTest tests[] = {
	    T(test_race_contract_raw),
	    T(test_race_contract_pipelined),
	    T(test_race_contract_ctl),
	    T(test_race_dm_reserve),
	    T(test_race_dm_amend),
	    T(test_race_dm_declare),
	    T(test_race_same_request_id),
	    T(test_race_same_request_id_different_requests),
	    T(test_race_same_request_id_refused),
	    T(test_race_same_request_id_ctl),
	};
#undef T

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
