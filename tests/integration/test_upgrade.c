/*
 * test_upgrade.c: a ledger written by an older budgetd (README,
 * "Upgrading"). Owns making one: a ledger of this build, with the daemon
 * stopped, taken back through liblmdb (test code only): to schema 3 by
 * taking from each de-minimis regime the entry that loaded it, to schema
 * 2 also by cutting every dossier summary in the company index back to
 * its schema 2 form (no "paid"), and writing the schema. budgetd must then
 * convert it as it starts, in one transaction, before it serves: status
 * says schema 4, verify holds (it compares every summary with its dossier
 * and every regime with the rules_load entry that brought it, so a
 * record left unconverted is found), the journal's head is unchanged, and
 * the report, whose paid measure reads the summaries, says what it said
 * before; systemd is asked for more time before READY=1, since a
 * conversion may outlast the unit's start timeout. A ledger of a newer
 * schema is refused and left alone.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lmdb.h>

#include "audit.h"
#include "store.pb-c.h"

/* The layout of a summary in schema 2: state, first decision, pending. */
#define SCHEMA2_SUMMARY_LEN 13
/* ...and from schema 3 on, what was paid too. */
#define SCHEMA3_SUMMARY_LEN 21

/* Every de-minimis regime in txn as schema 3 stored it: without loaded_seq. */
static void
unload_regimes(MDB_txn *txn)
{
	Budgetstore__DeminimisRegime *r;
	MDB_dbi                       rules;
	MDB_cursor                   *cur;
	MDB_val                       k, v;
	uint8_t                       key[64], val[256];
	int                           rc;

	au_db_check(mdb_dbi_open(txn, "rules", 0, &rules), "rules");
	au_db_check(mdb_cursor_open(txn, rules, &cur), "mdb_cursor_open");
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (((const uint8_t *)k.mv_data)[0] != 'R')
			continue;
		r = budgetstore__deminimis_regime__unpack(
		    NULL, v.mv_size, v.mv_data);
		if (r == NULL || k.mv_size > sizeof(key) ||
		    budgetstore__deminimis_regime__get_packed_size(r) >
			sizeof(val))
			h_fail("upgrade: a regime record that does not decode");
		r->loaded_seq = 0;
		v.mv_size = budgetstore__deminimis_regime__pack(r, val);
		v.mv_data = val;
		budgetstore__deminimis_regime__free_unpacked(r, NULL);
		memcpy(key, k.mv_data, k.mv_size);
		k.mv_data = key;
		au_db_check(
		    mdb_cursor_put(cur, &k, &v, MDB_CURRENT), "mdb_cursor_put");
	}
	if (rc != MDB_NOTFOUND)
		au_db_check(rc, "mdb_cursor_get");
	mdb_cursor_close(cur);
}

/*
 * With the daemon stopped: every summary in the company index cut to its
 * first n bytes, below schema 4 each regime without the entry that loaded
 * it, and schema written as given. Returns how many summaries.
 */
static size_t
set_schema(const struct h_daemon *d, uint64_t schema, size_t n)
{
	MDB_env    *env;
	MDB_txn    *txn;
	MDB_dbi     meta, cd;
	MDB_cursor *cur;
	MDB_val     k, v;
	uint8_t     be[8], cut[64], key[64];
	size_t      count = 0;
	int         i, rc;

	au_db_check(mdb_env_create(&env), "mdb_env_create");
	au_db_check(mdb_env_set_maxdbs(env, 32), "mdb_env_set_maxdbs");
	au_db_check(mdb_env_open(env, d->datadir, 0, 0600), d->datadir);
	au_db_check(mdb_txn_begin(env, NULL, 0, &txn), "mdb_txn_begin");
	au_db_check(mdb_dbi_open(txn, "meta", 0, &meta), "meta");
	au_db_check(
	    mdb_dbi_open(txn, "company_dossiers", 0, &cd), "company_dossiers");
	au_db_check(mdb_cursor_open(txn, cd, &cur), "mdb_cursor_open");
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (v.mv_size < n || n > sizeof(cut))
			h_fail("upgrade: a summary of %zu bytes", v.mv_size);
		memcpy(cut, v.mv_data, n);
		v.mv_data = cut;
		v.mv_size = n;
		/*
		 * The key too: it points into the page, which a put of
		 * another size rewrites under it.
		 */
		if (k.mv_size > sizeof(key))
			h_fail("upgrade: a key of %zu bytes", k.mv_size);
		memcpy(key, k.mv_data, k.mv_size);
		k.mv_data = key;
		au_db_check(
		    mdb_cursor_put(cur, &k, &v, MDB_CURRENT), "mdb_cursor_put");
		count++;
	}
	if (rc != MDB_NOTFOUND)
		au_db_check(rc, "mdb_cursor_get");
	mdb_cursor_close(cur);
	if (schema < 4)
		unload_regimes(txn);
	for (i = 0; i < 8; i++)
		be[i] = (uint8_t)(schema >> (56 - 8 * i));
	k.mv_data = (void *)(uintptr_t) "schema";
	k.mv_size = 6;
	v.mv_data = be;
	v.mv_size = sizeof(be);
	au_db_check(mdb_put(txn, meta, &k, &v, 0), "mdb_put schema");
	au_db_check(mdb_txn_commit(txn), "mdb_txn_commit");
	mdb_env_close(env);
	return (count);
}

/*
 * Dossiers in the states the summary tells apart: paid in part, paid in
 * full and closed, reserved; three companies.
 */
static struct h_daemon *
upgrade_ledger(void **state)
{
	struct h_daemon *d = au_ledger_up(state, "200000", "1234.56");
	char             z[FX_RID_SZ];

	json_decref(au_ctl_json(d, 0, "dossier", "reserve", "D2", "--company",
	    AU_CO_Y, "--contract", "K", "--package", "START", "--cost", "10000",
	    NULL));
	json_decref(au_ctl_json(d, 0, "dossier", "approve", "D2", NULL));
	json_decref(au_ctl_json(
	    d, 0, "dossier", "pay", "D2", "--amount", "2000", NULL));
	json_decref(au_ctl_json(d, 0, "dossier", "complete", "D2", NULL));
	json_decref(au_ctl_json(d, 0, "dossier", "close", "D2", NULL));
	fx_companies_add(d, 1, 1);
	fx_rid(1, z);
	json_decref(au_ctl_json(d, 0, "dossier", "reserve", "D3", "--company",
	    z, "--contract", "K", "--package", "START", "--cost", "9000",
	    NULL));
	fx_verify_ok(d);
	return (d);
}

static char *
report_json(const struct h_daemon *d)
{
	json_t *v = au_ctl_json(d, 0, "report", "--by", "year,province", NULL);
	char   *s = json_dumps(v, JSON_SORT_KEYS | JSON_COMPACT);

	json_decref(v);
	if (s == NULL)
		h_fail("upgrade: json_dumps");
	return (s);
}

/*
 * Start d with a NOTIFY_SOCKET of its own; fail unless EXTEND_TIMEOUT_USEC
 * comes before READY=1.
 */
static void
upgrade_start_notified(struct h_daemon *d)
{
	char        env[H_NOTIFY_ENV_SZ], msg[1024];
	const char *envp[2];
	int64_t     deadline;
	int         ns, extended = 0, ready = 0;

	ns = h_notify_listen(d, env);
	envp[0] = env;
	envp[1] = NULL;
	h_daemon_spawn_ex(d, envp, 0);
	deadline = h_now_ms() + H_DEADLINE_MS;
	while (!ready && h_now_ms() < deadline) {
		if (!h_notify_recv(ns, msg, sizeof(msg), 100))
			continue;
		if (strstr(msg, "EXTEND_TIMEOUT_USEC=") != NULL)
			extended = 1;
		if (strstr(msg, "READY=1") != NULL)
			ready = 1;
	}
	h_notify_close(d, ns);
	if (!ready || !extended)
		h_fail("upgrade: READY=1 %s, EXTEND_TIMEOUT_USEC %s before it",
		    ready ? "came" : "did not come",
		    extended ? "came" : "did not come");
	h_daemon_wait_ready(d);
}

/*
 * Start d's older ledger (upgrade_start_notified): the log says said (and
 * also, unless NULL), status says this build's schema, verify passes.
 */
static void
upgrade_converts(struct h_daemon *d, const char *said, const char *also)
{
	char   *log;
	json_t *st;

	upgrade_start_notified(d);
	log = h_daemon_log(d);
	if (strstr(log, said) == NULL ||
	    (also != NULL && strstr(log, also) == NULL))
		h_fail("upgrade: the log does not say so:\n%s", log);
	free(log);
	st = au_ctl_json(d, 0, "status", NULL);
	assert_int_equal(h_json_int(st, "schema"), 4);
	json_decref(st);
	fx_verify_ok(d);
}

/* Schema 2 converts as budgetd starts; nothing it serves changes. */
static void
test_upgrade_from_2(void **state)
{
	struct h_daemon *d = upgrade_ledger(state);
	struct au_head   before, after;
	char            *report, *again;

	au_head(d, &before);
	report = report_json(d);
	/* The paid measure is what the test is about: it must be there. */
	if (strstr(report, "\"paid_cents\": 123456") == NULL &&
	    strstr(report, "\"paid_cents\":123456") == NULL)
		h_fail("upgrade: the report shows no payment: %s", report);
	assert_int_equal(h_daemon_stop(d), 0);
	assert_int_equal(set_schema(d, 2, SCHEMA2_SUMMARY_LEN), 3);

	upgrade_converts(d, "upgraded from schema 2 to 4", NULL);
	au_head(d, &after);
	assert_int_equal(after.seq, before.seq);
	assert_string_equal(after.hash, before.hash);
	again = report_json(d);
	assert_string_equal(again, report);
	free(again);

	/* Once converted it stays so: a restart converts nothing. */
	h_daemon_restart(d);
	fx_verify_ok(d);
	again = report_json(d);
	assert_string_equal(again, report);
	free(again);
	free(report);
}

/*
 * d, stopped, holds a ledger not converted that claims this build's
 * schema: started so, verify fails; taken back to schema from (summaries
 * of len bytes) and started, budgetd converts it and verify passes (also
 * for the teardown's clean stop).
 */
static void
fails_verify_until_upgraded(struct h_daemon *d, uint64_t from, size_t len)
{
	json_t *v;
	int     st;

	h_daemon_start(d);
	v = au_ctl_json_try(d, &st, "verify", NULL);
	assert_non_null(v);
	assert_int_equal(st, 1);
	assert_false(h_json_bool(v, "ok"));
	json_decref(v);
	assert_int_equal(h_daemon_stop(d), 0);
	set_schema(d, from, len);
	h_daemon_start(d);
	fx_verify_ok(d);
}

/*
 * The test's own premise: a schema 2 ledger that budgetd did not convert
 * (here: one that claims schema 4 with short summaries) fails verify. So
 * verify passing above shows the conversion, not a lenient check.
 */
static void
test_short_summaries_fail_verify(void **state)
{
	struct h_daemon *d = upgrade_ledger(state);

	assert_int_equal(h_daemon_stop(d), 0);
	set_schema(d, 4, SCHEMA2_SUMMARY_LEN);
	fails_verify_until_upgraded(d, 2, SCHEMA2_SUMMARY_LEN);
}

/*
 * Schema 3 converts too: each regime learns the rules_load entry that
 * brought it, so that balance --as-of an entry before that load judges
 * without it (test_adversarial_audit2's test_balance_as_of_keeps_its_
 * regime), and verify, which holds each regime to that entry, passes.
 * A second load names the two regimes again, and a third: the two keep
 * the first load, the third gets the second.
 */
static void
test_upgrade_from_3(void **state)
{
	static const char more[] = "[deminimis 1407/2013]\n"
				   "from = 2014-01-01\n"
				   "ceiling = 200000.00\n"
				   "window = fiscal\n"
				   "years = 3\n"
				   "[deminimis 2023/2831]\n"
				   "from = 2024-01-01\n"
				   "ceiling = 300000.00\n"
				   "window = rolling\n"
				   "years = 3\n"
				   "[deminimis TEST/2030]\n"
				   "from = 2030-01-01\n"
				   "ceiling = 400000.00\n"
				   "window = rolling\n"
				   "years = 3\n";
	struct h_daemon  *d = upgrade_ledger(state);
	char              path[AU_PATH_SZ];

	au_path(d, "more.rules", path);
	au_write_file(path, more, sizeof(more) - 1);
	json_decref(au_ctl_json(d, 0, "rules", "load", path, NULL));
	fx_verify_ok(d);
	assert_int_equal(h_daemon_stop(d), 0);
	set_schema(d, 3, SCHEMA3_SUMMARY_LEN);
	upgrade_converts(
	    d, "upgraded from schema 3 to 4", "loaded it (3 records)");
}

/* The premise of the above: a regime not converted fails verify. */
static void
test_unloaded_regimes_fail_verify(void **state)
{
	struct h_daemon *d = upgrade_ledger(state);

	assert_int_equal(h_daemon_stop(d), 0);
	set_schema(d, 3, SCHEMA3_SUMMARY_LEN);
	set_schema(d, 4, SCHEMA3_SUMMARY_LEN);
	fails_verify_until_upgraded(d, 3, SCHEMA3_SUMMARY_LEN);
}

/* A ledger from a newer budgetd is refused, and not touched. */
static void
test_newer_refused(void **state)
{
	struct h_daemon *d = upgrade_ledger(state);
	char            *log;
	int              st;

	assert_int_equal(h_daemon_stop(d), 0);
	set_schema(d, 5, SCHEMA3_SUMMARY_LEN);
	h_daemon_spawn(d);
	if (!h_daemon_wait_exit(d, 10000, &st))
		h_fail("upgrade: budgetd serves a ledger of schema 5");
	assert_int_not_equal(st, 0);
	log = h_daemon_log(d);
	if (strstr(log, "newer budgetd") == NULL)
		h_fail("upgrade: no reason given:\n%s", log);
	free(log);
	/* Back to this build's schema: it opens as it was. */
	set_schema(d, 4, SCHEMA3_SUMMARY_LEN);
	h_daemon_start(d);
	fx_verify_ok(d);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, NULL, h_teardown)
	const struct CMUnitTest tests[] = {
	    T(test_upgrade_from_2),
	    T(test_short_summaries_fail_verify),
	    T(test_upgrade_from_3),
	    T(test_unloaded_regimes_fail_verify),
	    T(test_newer_refused),
	};
#undef T

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
