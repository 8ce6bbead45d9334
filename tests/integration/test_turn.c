/*
 * test_turn.c: refusals inside one write turn roll back alone (issue #6).
 *
 * cmd.c runs the mutations of a turn straight in its transaction and,
 * when one is refused after it has written (R-DM is checked with the new
 * reservation already in place), runs the turn again with that one, and
 * those after it, in nested transactions. These tests put such refusals
 * between reservations that stand, in one batch (one turn for certain)
 * and pipelined on one connection (most likely one turn), together with a
 * refusal that writes nothing (R-PB is checked before any write), and
 * check every answer, the contract, the journal, verify, and that asking
 * again replays the same answers. And what a rerun must not keep from the
 * attempt it abandons: rules loaded later in the turn (record.c keeps them
 * in memory), or a storage error that only one request met. And the
 * commit wait, which makes the requests of clients that come back at once
 * share a turn.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

#include "ops.h"

#define K_BUDGET_EUR "30000"
#define NOPS         7

/* What one op of the scenario asks, and what it must get. */
struct op {
	unsigned    serial; /* company */
	const char *package;
	int64_t     cost; /* cents */
	const char *code; /* NULL: applied */
	int64_t     subsidy;
};

/*
 * The contract has EUR 30,000. Company 2 has EUR 290,000 of de-minimis
 * aid: any subsidy over EUR 10,000 breaks its ceiling. At 50%:
 *   1: 8,500 (8,500)        2: 11,000 refused by R-DM, after writing
 *   3: 8,500 (17,000)       2: 10,500 refused by R-DM again
 *   4: 8,500 (25,500)       5: 8,500 refused by R-PB, having written nothing
 *   5: 4,250 (29,750), the same company, now that nothing of it stayed.
 * Had a refused op left anything behind, later ops would be refused for
 * it (the exclusion period, the budget) and the totals would differ.
 */
static const struct op scenario[NOPS] = {
    {1, "MEDIUM", 1700000, NULL, 850000},
    {2, "MEDIUM", 2200000, "deminimis_ceiling_exceeded", 0},
    {3, "MEDIUM", 1700000, NULL, 850000},
    {2, "MEDIUM", 2100000, "deminimis_ceiling_exceeded", 0},
    {4, "MEDIUM", 1700000, NULL, 850000},
    {5, "MEDIUM", 1700000, "contract_budget_exceeded", 0},
    {5, "START", 850000, NULL, 425000},
};

/* A daemon with the contract, companies 1-5, and company 2's old aid. */
static struct h_daemon *
turn_ledger(void **state, const char *contract)
{
	struct h_daemon *d = fx_daemon_up(state, NULL);
	char             number[FX_RID_SZ], granted[FX_DATE_SZ];

	fx_contract_open(d, contract, K_BUDGET_EUR);
	fx_companies_add(d, 1, 5);
	fx_rid(2, number);
	fx_date_ago(30, granted);
	fx_declare(d, number, "290000", granted);
	return (d);
}

static void
turn_requests(struct fx_req reqs[NOPS], const char *tag, const char *contract)
{
	char   rid[FX_ID_SZ], id[FX_ID_SZ], number[FX_RID_SZ];
	size_t i;

	for (i = 0; i < NOPS; i++) {
		snprintf(rid, sizeof(rid), "%s-r%zu", tag, i + 1);
		snprintf(id, sizeof(id), "%s-%zu", tag, i + 1);
		fx_rid(scenario[i].serial, number);
		fx_reserve(&reqs[i], rid, id, number, contract,
		    scenario[i].package, scenario[i].cost, 0);
	}
}

/* Each answer is what the scenario says. */
static void
turn_check_answers(const Budget__Response *const out[NOPS], const char *tag)
{
	size_t i;

	for (i = 0; i < NOPS; i++) {
		const struct op *o = &scenario[i];
		const char      *err = fx_err(out[i]);

		if (o->code == NULL) {
			if (err != NULL)
				h_fail("%s op %zu: refused with %s: %s", tag,
				    i + 1, err, out[i]->error->message);
			if (out[i]->dossier == NULL)
				h_fail("%s op %zu: no dossier", tag, i + 1);
			assert_int_equal(
			    out[i]->dossier->subsidy_cents, o->subsidy);
			assert_string_equal(out[i]->dossier->state, "reserved");
		} else if (err == NULL || strcmp(err, o->code) != 0)
			h_fail("%s op %zu: got %s, expected %s", tag, i + 1,
			    err != NULL ? err : "a dossier", o->code);
	}
}

/*
 * The ledger after the scenario: the contract holds exactly the ops that
 * stood, no refused dossier exists, the journal has one entry per op in
 * order (the refusals as "refused", with what was asked), and verify
 * passes.
 */
static void
turn_check_ledger(const struct h_daemon *d, const char *tag,
    const char *contract, uint64_t before)
{
	struct fx_contract k;
	json_t            *entries, *e, *j;
	char               id[FX_ID_SZ], rid[FX_ID_SZ], state[32];
	int64_t            reserved = 0, stood = 0;
	size_t             i;

	for (i = 0; i < NOPS; i++) {
		reserved += scenario[i].subsidy;
		stood += scenario[i].code == NULL;
	}
	fx_contract_show(d, contract, &k);
	assert_int_equal(k.reserved, reserved);
	assert_int_equal(k.dossiers, stood);

	entries = ops_journal(d, before + 1);
	assert_int_equal(json_array_size(entries), NOPS);
	json_array_foreach(entries, i, e) {
		const struct op *o = &scenario[i];

		snprintf(id, sizeof(id), "%s-%zu", tag, i + 1);
		snprintf(rid, sizeof(rid), "%s-r%zu", tag, i + 1);
		assert_string_equal(ops_entry_str(e, "dossier"), id);
		assert_string_equal(ops_entry_str(e, "request_id"), rid);
		assert_string_equal(ops_entry_str(e, "kind"),
		    o->code == NULL ? "dossier_reserve" : "refused");
		if (o->code != NULL)
			assert_string_equal(ops_entry_str(e, "error"), o->code);

		if (o->code == NULL) {
			fx_dossier_state(d, id, state, sizeof(state));
			assert_string_equal(state, "reserved");
		} else {
			j = fx_ctl_json(d, 1, "dossier", "show", id, NULL);
			assert_string_equal(
			    h_json_str(j, "error.code"), "not_found");
			json_decref(j);
		}
	}
	json_decref(entries);
	fx_verify_ok(d);
}

/*
 * The same requests asked again: each answer is the first one, replayed,
 * and the journal has not moved from seq before.
 */
static void
turn_check_replayed(const struct h_daemon *d,
    const Budget__Response *const          first[],
    const Budget__Response *const again[], uint64_t before)
{
	size_t i;

	for (i = 0; i < NOPS; i++) {
		assert_true(again[i]->replayed);
		assert_true(fx_same_answer(first[i], again[i]));
	}
	assert_int_equal(ops_journal_seq(d), before);
}

/* The n requests as one batch on fd (one turn for certain): its answer. */
static Budget__Response *
turn_batch(int fd, struct fx_req *reqs, size_t n)
{
	Budget__Request      req = BUDGET__REQUEST__INIT;
	Budget__BatchRequest b = BUDGET__BATCH_REQUEST__INIT;
	Budget__Request     *ops[NOPS];
	Budget__Response    *a;
	char                 rid[] = "the-batch";
	size_t               i;

	assert_true(n <= NOPS);
	for (i = 0; i < n; i++)
		ops[i] = &reqs[i].req;
	b.n_ops = n;
	b.ops = ops;
	req.version = BUDGET_PROTOCOL_VERSION;
	req.request_id = rid;
	req.command_case = BUDGET__REQUEST__COMMAND_BATCH;
	req.batch = &b;
	a = fx_call(fd, &req);
	if (a->error != NULL)
		h_fail("the batch was refused: %s", a->error->code);
	if (a->batch == NULL || a->batch->n_results != n)
		h_fail("not a batch result of %zu", n);
	return (a);
}

/* One batch: its ops run in one turn, whatever else the daemon does. */
static void
test_refusals_in_a_batch(void **state)
{
	static const char      *tag = "B", *contract = "K-BATCH";
	struct h_daemon        *d = turn_ledger(state, contract);
	struct fx_req           reqs[NOPS];
	Budget__Response       *first, *again;
	const Budget__Response *out[NOPS];
	uint64_t                before = ops_journal_seq(d);
	size_t                  i;
	int                     fd;

	turn_requests(reqs, tag, contract);
	fd = h_connect(d);
	first = turn_batch(fd, reqs, NOPS);
	for (i = 0; i < NOPS; i++)
		out[i] = first->batch->results[i];
	turn_check_answers(out, "batch");
	turn_check_ledger(d, tag, contract, before);

	/* Asked again: each op's answer replayed, and nothing moves. */
	before = ops_journal_seq(d);
	again = turn_batch(fd, reqs, NOPS);
	turn_check_replayed(d, out,
	    (const Budget__Response *const *)again->batch->results, before);
	budget__response__free_unpacked(again, NULL);
	budget__response__free_unpacked(first, NULL);
	close(fd);
	fx_verify_ok(d);
}

/*
 * The same ops as requests of their own, pipelined: the turn boundaries
 * fall where they fall, and the outcome must not depend on them.
 */
static void
test_refusals_pipelined(void **state)
{
	static const char *tag = "P", *contract = "K-PIPE";
	struct h_daemon   *d = turn_ledger(state, contract);
	struct fx_req      reqs[NOPS];
	Budget__Request   *ptrs[NOPS];
	Budget__Response  *out[NOPS], *again[NOPS];
	uint64_t           before = ops_journal_seq(d);
	size_t             i;
	int                fd;

	turn_requests(reqs, tag, contract);
	for (i = 0; i < NOPS; i++)
		ptrs[i] = &reqs[i].req;
	fd = h_connect(d);
	fx_pipeline(fd, ptrs, NOPS, out);
	turn_check_answers((const Budget__Response *const *)out, "pipelined");
	turn_check_ledger(d, tag, contract, before);

	before = ops_journal_seq(d);
	fx_pipeline(fd, ptrs, NOPS, again);
	turn_check_replayed(d, (const Budget__Response *const *)out,
	    (const Budget__Response *const *)again, before);
	for (i = 0; i < NOPS; i++) {
		budget__response__free_unpacked(again[i], NULL);
		budget__response__free_unpacked(out[i], NULL);
	}
	close(fd);
	fx_verify_ok(d);
}

/*
 * Rules loaded in the middle of a turn that is then run again. One batch:
 *   1: reserve company 1, MEDIUM EUR 17,000: V2024 (50%), 8,500;
 *   2: rules load of VTEST, in force since yesterday, 40% for SMEs;
 *   3: reserve company 3, MEDIUM EUR 17,000: VTEST now, 6,800;
 *   4: reserve company 2, PLUS EUR 35,000: 14,000 breaks its de-minimis
 *      ceiling, refused after writing: the turn runs again.
 * The abandoned attempt left VTEST in the rules cache (op 3 read it); a
 * rerun that kept the cache gave op 1 VTEST's 6,800, and verify could not
 * tell (both sets were in force that day).
 */
static void
test_rules_loaded_mid_turn(void **state)
{
	struct h_daemon               *d = turn_ledger(state, "K-RULES");
	struct fx_req                  reqs[4];
	Budget__RulesLoad              rl = BUDGET__RULES_LOAD__INIT;
	Budget__Response              *a;
	const Budget__Response *const *res;
	char number[FX_RID_SZ], from[FX_DATE_SZ], text[1024];
	char source[] = "vtest";

	fx_date_ago(1, from);
	snprintf(text, sizeof(text),
	    "[ruleset VTEST]\nfrom = %s\nrate_sme = 40%%\n"
	    "rate_maatwerk = 40%%\nrate_large_nis2 = 35%%\n"
	    "max_total_cost = 60000.00\nmax_subsidy = 30000.00\n"
	    "exclusion_years = 4\n\n"
	    "[package VTEST MEDIUM]\nmin_cost = 17000.00\n"
	    "max_cost = 22000.00\nrank = 2\nextensions = yes\n\n"
	    "[package VTEST PLUS]\nmin_cost = 28800.00\n"
	    "max_cost = 35000.00\nrank = 3\nextensions = yes\n",
	    from);
	fx_rid(1, number);
	fx_reserve(
	    &reqs[0], "R-r1", "R-1", number, "K-RULES", "MEDIUM", 1700000, 0);
	fx_req_init(&reqs[1], "R-r2");
	rl.text = text;
	rl.source = source;
	reqs[1].req.command_case = BUDGET__REQUEST__COMMAND_RULES_LOAD;
	reqs[1].req.rules_load = &rl;
	fx_rid(3, number);
	fx_reserve(
	    &reqs[2], "R-r3", "R-3", number, "K-RULES", "MEDIUM", 1700000, 0);
	fx_rid(2, number);
	fx_reserve(
	    &reqs[3], "R-r4", "R-2", number, "K-RULES", "PLUS", 3500000, 0);

	a = turn_batch(h_connect(d), reqs, 4);
	res = (const Budget__Response *const *)a->batch->results;
	if (fx_err(res[0]) != NULL || fx_err(res[1]) != NULL ||
	    fx_err(res[2]) != NULL)
		h_fail("ops 1-3 refused: %s, %s, %s", fx_err(res[0]),
		    fx_err(res[1]), fx_err(res[2]));
	assert_int_equal(res[0]->dossier->subsidy_cents, 850000);
	assert_string_equal(res[0]->dossier->rule_set, "V2024");
	assert_int_equal(res[2]->dossier->subsidy_cents, 680000);
	assert_string_equal(res[2]->dossier->rule_set, "VTEST");
	assert_string_equal(fx_err(res[3]), "deminimis_ceiling_exceeded");
	budget__response__free_unpacked(a, NULL);
	fx_verify_ok(d);
}

/*
 * A storage error that one request meets fails that request alone. Company
 * 2's record is made undecodable behind budgetd's back; then one batch
 * reserves for companies 1, 2 and 3. Running flat, op 2 leaves the error
 * on the turn's transaction: only a rerun with it nested keeps the others.
 */
static void
test_storage_error_alone(void **state)
{
	struct h_daemon               *d = fx_daemon_up(state, NULL);
	struct fx_req                  reqs[3];
	struct fx_contract             k;
	Budget__Response              *a;
	const Budget__Response *const *res;
	MDB_env                       *env;
	MDB_txn                       *txn;
	MDB_dbi                        dbi;
	MDB_val                        key, val;
	uint8_t                        junk[4] = {0xff, 0xff, 0xff, 0xff};
	char                           number[FX_RID_SZ], id[8], rid[8];
	size_t                         i;

	fx_contract_open(d, "K-IO", K_BUDGET_EUR);
	fx_companies_add(d, 1, 3);
	fx_rid(2, number);
	assert_int_equal(h_daemon_stop(d), 0);
	key.mv_data = number;
	key.mv_size = strlen(number);
	val.mv_data = junk;
	val.mv_size = sizeof(junk);
	if (mdb_env_create(&env) != 0 || mdb_env_set_maxdbs(env, 32) != 0 ||
	    mdb_env_open(env, d->datadir, 0, 0600) != 0 ||
	    mdb_txn_begin(env, NULL, 0, &txn) != 0 ||
	    mdb_dbi_open(txn, "companies", 0, &dbi) != 0 ||
	    mdb_put(txn, dbi, &key, &val, 0) != 0 || mdb_txn_commit(txn) != 0)
		h_fail("could not change company %s in %s", number, d->datadir);
	mdb_env_close(env);
	h_daemon_start(d);

	for (i = 0; i < 3; i++) {
		fx_rid((unsigned)i + 1, number);
		snprintf(id, sizeof(id), "S-%zu", i + 1);
		snprintf(rid, sizeof(rid), "S-r%zu", i + 1);
		fx_reserve(
		    &reqs[i], rid, id, number, "K-IO", "MEDIUM", 1700000, 0);
	}
	a = turn_batch(h_connect(d), reqs, 3);
	res = (const Budget__Response *const *)a->batch->results;
	assert_null(fx_err(res[0]));
	assert_string_equal(fx_err(res[1]), "storage_error");
	assert_null(fx_err(res[2]));
	budget__response__free_unpacked(a, NULL);
	fx_contract_show(d, "K-IO", &k);
	assert_int_equal(k.reserved, 1700000);
	assert_int_equal(k.dossiers, 2);
}

/*
 * The commit wait (cmd.c): connections that each send again as soon as
 * they have their answer share one commit a round, instead of the first
 * of them starting a commit of its own while the rest are on their way;
 * and clients that would only be kept waiting are not. status counts the
 * commits, what they carried, the waits and the waits that ran to their
 * end (commit_wait_us = 10000 here, so that no wait ends by chance).
 */
#define WAIT_CONNS  8
#define WAIT_ROUNDS 12
#define WAIT_CONFIG "[budgetd]\ncommit_wait_us = 10000\n"

struct wait_counts {
	int64_t commits, committed, waits, timed_out;
};

static void
wait_status(const struct h_daemon *d, struct wait_counts *w)
{
	json_t *j = fx_ctl_json(d, 0, "status", NULL);

	w->commits = h_json_int(j, "commits");
	w->committed = h_json_int(j, "committed");
	w->waits = h_json_int(j, "commit_waits");
	w->timed_out = h_json_int(j, "commit_waits_timed_out");
	json_decref(j);
}

/* Since *w: what status says now, less *w. */
static void
wait_since(const struct h_daemon *d, struct wait_counts *w)
{
	struct wait_counts now;

	wait_status(d, &now);
	w->commits = now.commits - w->commits;
	w->committed = now.committed - w->committed;
	w->waits = now.waits - w->waits;
	w->timed_out = now.timed_out - w->timed_out;
	print_message("%lld mutations in %lld commits; %lld waits, %lld "
		      "timed out\n",
	    (long long)w->committed, (long long)w->commits, (long long)w->waits,
	    (long long)w->timed_out);
}

/* Reserve for company serial on fd, under tag-serial; answer unread. */
static void
wait_send(int fd, const char *tag, unsigned serial)
{
	struct fx_req req;
	char          rid[FX_ID_SZ], id[FX_ID_SZ], number[FX_RID_SZ];

	snprintf(rid, sizeof(rid), "%s-r%u", tag, serial);
	snprintf(id, sizeof(id), "%s-%u", tag, serial);
	fx_rid(serial, number);
	fx_reserve(&req, rid, id, number, "K-WAIT", "START", 850000, 0);
	h_send_request(fd, &req.req);
}

static void
wait_answer(int fd)
{
	Budget__Response *a = h_recv(fd, H_DEADLINE_MS);

	if (fx_err(a) != NULL)
		h_fail("reserve: %s", fx_err(a));
	budget__response__free_unpacked(a, NULL);
}

/*
 * WAIT_CONNS connections reserve WAIT_ROUNDS times each, each sending its
 * next request right after reading its answer. With the wait, the rounds
 * are one commit each but for the first one or two (the first round's
 * requests arrive as they come), and the waits end when the last client
 * is back, not at their timeout; without the wait, this machine's 2 cores
 * split nearly every round in two. Before that, one write at a time on
 * each connection in turn, once round and one more, lets every connection
 * run a wait out: clients that come back in step must be waited for again
 * all the same, though none is waited for when they start.
 */
static void
test_commit_wait_groups(void **state)
{
	struct h_daemon   *d = fx_daemon_up(state, WAIT_CONFIG);
	struct wait_counts w;
	int                fd[WAIT_CONNS];
	unsigned           round, i;

	fx_contract_open(d, "K-WAIT", "1000000");
	fx_companies_add(d, 1, WAIT_CONNS * (WAIT_ROUNDS + 1) + 1);
	for (i = 0; i < WAIT_CONNS; i++)
		fd[i] = h_connect(d);
	wait_status(d, &w);
	for (i = 0; i <= WAIT_CONNS; i++) {
		wait_send(
		    fd[i % WAIT_CONNS], "T", WAIT_CONNS * WAIT_ROUNDS + i + 1);
		wait_answer(fd[i % WAIT_CONNS]);
	}
	wait_since(d, &w);
	assert_true(w.timed_out >= WAIT_CONNS - 1);

	wait_status(d, &w);
	for (round = 0; round <= WAIT_ROUNDS; round++) {
		for (i = 0; i < WAIT_CONNS; i++) {
			if (round > 0)
				wait_answer(fd[i]);
			if (round < WAIT_ROUNDS)
				wait_send(
				    fd[i], "G", round * WAIT_CONNS + i + 1);
		}
	}
	wait_since(d, &w);
	for (i = 0; i < WAIT_CONNS; i++)
		close(fd[i]);
	assert_int_equal(w.committed, WAIT_CONNS * WAIT_ROUNDS);
	assert_true(w.commits >= 1);
	assert_true(w.commits <= WAIT_ROUNDS + WAIT_ROUNDS / 2);
	assert_true(w.waits >= WAIT_ROUNDS / 2);
	assert_true(w.timed_out <= 2);
	fx_verify_ok(d);
}

/*
 * Who must not be kept waiting: a lone client (nobody to wait for), and a
 * client that takes turns on two connections, each write waiting for the
 * other connection, which comes only after it. Each of its connections
 * may let one wait run out; after that neither is waited for.
 */
static void
test_commit_wait_spares(void **state)
{
	struct h_daemon   *d = fx_daemon_up(state, WAIT_CONFIG);
	struct wait_counts w;
	unsigned           i;
	int                fd[2];

	fx_contract_open(d, "K-WAIT", "1000000");
	fx_companies_add(d, 1, 2 * WAIT_ROUNDS);

	fd[0] = h_connect(d);
	wait_status(d, &w);
	for (i = 1; i <= WAIT_ROUNDS; i++) {
		wait_send(fd[0], "L", i);
		wait_answer(fd[0]);
	}
	wait_since(d, &w);
	assert_int_equal(w.commits, WAIT_ROUNDS);
	assert_int_equal(w.waits, 0);

	fd[1] = h_connect(d);
	wait_status(d, &w);
	for (i = WAIT_ROUNDS + 1; i <= 2 * WAIT_ROUNDS; i++) {
		wait_send(fd[i % 2], "P", i);
		wait_answer(fd[i % 2]);
	}
	wait_since(d, &w);
	close(fd[0]);
	close(fd[1]);
	assert_int_equal(w.commits, WAIT_ROUNDS);
	assert_true(w.timed_out <= 2);
	fx_verify_ok(d);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, NULL, h_teardown)
	const struct CMUnitTest tests[] = {
	    T(test_refusals_in_a_batch),
	    T(test_refusals_pipelined),
	    T(test_rules_loaded_mid_turn),
	    T(test_storage_error_alone),
	    T(test_commit_wait_groups),
	    T(test_commit_wait_spares),
	};
#undef T

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
