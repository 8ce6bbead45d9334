/*
 * test_check.c: verify (daemon/check.c) on a store that fails to read.
 * A read error is no tampering: verify must say the ledger could not be
 * read, and must not name a first bad entry or compare the chain with a
 * head it did not get. No test through the daemon can make LMDB fail on
 * cue, so this one links with -Wl,--wrap=mdb_get and fails the read of
 * the journal head's sequence number when told to; and with
 * -Wl,--wrap=mdb_cursor_get, a step of the journal's walk. Both on both
 * of verify's paths (two threads, and BUDGETD_VERIFY_THREADS=1).
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <lmdb.h>

#include "budgetd.h"
#include "store.pb-c.h"

/* budgetd_core's other objects refer to these; the tests never call them. */
struct budgetd *bd;
void
budgetd_shutdown(void)
{
}
void
budgetd_maybe_exit(void)
{
}

int __real_mdb_get(MDB_txn *, MDB_dbi, MDB_val *, MDB_val *);
int __wrap_mdb_get(MDB_txn *, MDB_dbi, MDB_val *, MDB_val *);

int __real_mdb_cursor_get(MDB_cursor *, MDB_val *, MDB_val *, MDB_cursor_op);
int __wrap_mdb_cursor_get(MDB_cursor *, MDB_val *, MDB_val *, MDB_cursor_op);

static int      fail_head; /* fail reads of "journal_seq" */
static int      fail_step; /* fail the cursor step after this many (0: none) */
static uint64_t flip_seq;  /* hand out journal entry flip_seq one bit off */

/*
 * Verify's third thread steps cursors of its own (companies, grants, the
 * history index) while the journal is walked, so the step fail_step
 * fails may be any of theirs: whichever it is, verify must say that the
 * ledger could not be read. flip_seq picks a journal entry by its key:
 * no other table's keys are eight bytes.
 */
int
__wrap_mdb_cursor_get(MDB_cursor *c, MDB_val *k, MDB_val *v, MDB_cursor_op op)
{
	static unsigned char copy[4096];
	int                  rc;

	if (fail_step > 0 && --fail_step == 0)
		return (MDB_CORRUPTED);
	rc = __real_mdb_cursor_get(c, k, v, op);
	/* Only the journal is keyed by eight bytes, its sequence number. */
	if (rc == 0 && flip_seq != 0 && k->mv_size == 8 &&
	    record_get_be64(k->mv_data) == flip_seq &&
	    v->mv_size <= sizeof(copy)) {
		memcpy(copy, v->mv_data, v->mv_size);
		copy[v->mv_size - 1] ^= 1; /* the last byte of its hash */
		v->mv_data = copy;
	}
	return (rc);
}

int
__wrap_mdb_get(MDB_txn *txn, MDB_dbi dbi, MDB_val *k, MDB_val *v)
{
	if (fail_head && k->mv_size == 11 &&
	    memcmp(k->mv_data, "journal_seq", 11) == 0)
		return (MDB_CORRUPTED);
	return (__real_mdb_get(txn, dbi, k, v));
}

static char dir[256];

/* n refusals appended to the journal, in one commit. */
static int
append_refusals(int n)
{
	struct store_txn t;
	struct jentry    e;
	int              i;

	store_begin(&t, 1);
	for (i = 0; i < n; i++) {
		memset(&e, 0, sizeof(e));
		e.time = 1700000000000000 + i;
		e.kind = "refused";
		e.error = "not_found";
		e.command = "dossier show";
		e.dossier = "D1";
		journal_append(&t, &e);
	}
	journal_flush(&t);
	return (store_commit(&t));
}

/* A store with a journal of three refusals: nothing else to hold. */
static int
ledger_setup(void **state)
{
	char *cause = NULL;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/budgetd-test-check-XXXXXX",
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(dir) == NULL)
		return (-1);
	if (store_open(dir, 1 << 26, 1 << 26, &cause) != 0) {
		fprintf(stderr, "store_open: %s\n", cause);
		return (-1);
	}
	return (append_refusals(3) == 0 ? 0 : -1);
}

static int
ledger_teardown(void **state)
{
	char           path[512];
	DIR           *dp;
	struct dirent *de;

	(void)state;
	store_close();
	if ((dp = opendir(dir)) != NULL) {
		while ((de = readdir(dp)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			unlink(path);
		}
		closedir(dp);
	}
	return (rmdir(dir));
}

/*
 * verify in a transaction of its own: the head's read failing (head), or
 * the journal walk's second step (step), or neither.
 */
static void
verify(struct check_report *r, int head, int step)
{
	struct store_txn t;

	store_begin(&t, 0);
	fail_head = head;
	fail_step = step ? 2 : 0;
	check_ledger(&t, r);
	fail_head = fail_step = 0;
	store_abort(&t);
}

static int
has(const struct check_report *r, const char *word)
{
	size_t i;

	for (i = 0; i < r->nproblems; i++)
		if (strstr(r->problems[i], word) != NULL)
			return (1);
	return (0);
}

static void
expect_read_error(void)
{
	struct check_report r;
	size_t              i;

	int step;

	verify(&r, 0, 0);
	for (i = 0; i < r.nproblems; i++)
		fprintf(stderr, "problem: %s\n", r.problems[i]);
	assert_true(r.ok);
	assert_int_equal(r.entries, 3);
	check_report_free(&r);

	for (step = 0; step < 2; step++) {
		verify(&r, !step, step);
		for (i = 0; i < r.nproblems; i++)
			fprintf(stderr, "problem: %s\n", r.problems[i]);
		assert_false(r.ok);
		assert_int_equal(r.first_bad_seq, 0);
		assert_true(has(&r, "could not be read"));
		assert_false(has(&r, "journal head says"));
		assert_false(has(&r, "missing, out of order"));
		check_report_free(&r);
	}
}

static void
test_read_errors_two_threads(void **state)
{
	(void)state;
	unsetenv("BUDGETD_VERIFY_THREADS");
	expect_read_error();
}

static void
test_read_errors_one_thread(void **state)
{
	(void)state;
	setenv("BUDGETD_VERIFY_THREADS", "1", 1);
	expect_read_error();
	unsetenv("BUDGETD_VERIFY_THREADS");
}

/*
 * A journal that goes round the ring between verify's threads a few
 * times: every entry is counted, in order, and one changed far along is
 * named, not one before or after it.
 */
#define RING_ENTRIES 30000

static void
expect_ring_order(void)
{
	struct check_report r;
	uint64_t            at[] = {RING_ENTRIES - 2, 1025, 9000};
	size_t              i;

	assert_int_equal(append_refusals(RING_ENTRIES - 3), 0);
	verify(&r, 0, 0);
	for (i = 0; i < r.nproblems; i++)
		fprintf(stderr, "problem: %s\n", r.problems[i]);
	assert_true(r.ok);
	assert_int_equal(r.entries, RING_ENTRIES);
	check_report_free(&r);

	for (i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		flip_seq = at[i];
		verify(&r, 0, 0);
		flip_seq = 0;
		assert_false(r.ok);
		assert_int_equal(r.first_bad_seq, at[i]);
		assert_true(has(&r, "hash does not match"));
		check_report_free(&r);
	}
}

static void
test_ring_order_two_threads(void **state)
{
	(void)state;
	unsetenv("BUDGETD_VERIFY_THREADS");
	expect_ring_order();
}

static void
test_ring_order_one_thread(void **state)
{
	(void)state;
	setenv("BUDGETD_VERIFY_THREADS", "1", 1);
	expect_ring_order();
	unsetenv("BUDGETD_VERIFY_THREADS");
}

/*
 * The replay names a kind it does not know, whatever its prefix: a
 * contract_ kind that is none of the three (once replayed as nothing), a
 * dossier_ kind on a dossier it knows.
 */
/* m, as the next entry of kind for dossier, replayed into rp. */
static int
replay_next(struct replay *rp, Budgetstore__JournalEntry *m, const char *kind,
    const char *dossier, char *why, size_t len)
{
	m->seq++;
	m->kind = PB_STR(kind);
	m->dossier = PB_STR(dossier);
	return (replay_apply(rp, m, NULL, why, len));
}

/* Into rp, with m: contract K1 opened, dossier D1 reserved on it (500). */
static void
replay_k1_d1(struct replay *rp, Budgetstore__JournalEntry *m)
{
	char why[256];

	m->contract = PB_STR("K1");
	m->company = PB_STR("0123456789");
	m->budget = 100000;
	m->amount = 500;
	assert_int_equal(
	    replay_next(rp, m, "contract_open", "", why, sizeof(why)), 0);
	assert_int_equal(
	    replay_next(rp, m, "dossier_reserve", "D1", why, sizeof(why)), 0);
}

static void
test_replay_unknown_kinds(void **state)
{
	struct replay            *rp = replay_new(4, 4, 4, 4);
	Budgetstore__JournalEntry m = BUDGETSTORE__JOURNAL_ENTRY__INIT;
	char                      why[256];

	(void)state;
	replay_k1_d1(rp, &m);
	assert_int_equal(
	    replay_next(rp, &m, "contract_reopen", "", why, sizeof(why)), -1);
	assert_string_equal(why, "entry 3: unknown kind contract_reopen");
	assert_int_equal(
	    replay_next(rp, &m, "dossier_frobnicate", "D1", why, sizeof(why)),
	    -1);
	assert_string_equal(why, "entry 4: unknown kind dossier_frobnicate");
	replay_free(rp);
}

/*
 * A second reserve of a dossier the replay knows is reported, and reserves
 * nothing on its contract. Once it was replayed: the contract's reserve
 * grew, and the list of dossiers lost its last (here D2) to D1.
 */
static void
test_replay_reserve_twice(void **state)
{
	struct replay            *rp = replay_new(4, 4, 4, 4);
	Budgetstore__JournalEntry m = BUDGETSTORE__JOURNAL_ENTRY__INIT;
	struct contract           k;
	char                      why[256];

	(void)state;
	replay_k1_d1(rp, &m);
	assert_int_equal(
	    replay_next(rp, &m, "dossier_reserve", "D2", why, sizeof(why)), 0);
	m.amount = 700;
	assert_int_equal(
	    replay_next(rp, &m, "dossier_reserve", "D1", why, sizeof(why)), -1);
	assert_string_equal(why, "entry 4: dossier D1 reserved a second time");
	assert_int_equal(replay_get_contract(rp, "K1", &k), 0);
	assert_int_equal(k.reserved, 1000);
	replay_free(rp);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		test_read_errors_two_threads, ledger_setup, ledger_teardown),
	    cmocka_unit_test_setup_teardown(
		test_read_errors_one_thread, ledger_setup, ledger_teardown),
	    cmocka_unit_test_setup_teardown(
		test_ring_order_two_threads, ledger_setup, ledger_teardown),
	    cmocka_unit_test_setup_teardown(
		test_ring_order_one_thread, ledger_setup, ledger_teardown),
	    cmocka_unit_test(test_replay_unknown_kinds),
	    cmocka_unit_test(test_replay_reserve_twice),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
