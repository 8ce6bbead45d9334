/*
 * test_tamper.c: a ledger whose data file was changed behind budgetd's
 * back (issue #4; SPEC §4 I-3, I-4). Owns the tampering: with the daemon
 * stopped, the test opens DIR/data/data.mdb itself through liblmdb (test
 * code only; budgetd's own store.c stays the one place that includes
 * <lmdb.h> in the daemon), changes one journal entry (a byte of a string,
 * an amount, the encoding), drops one, swaps two, changes a stored
 * contract's balances or the history index; then starts budgetd again and
 * asks verify.
 *
 * What must follow: verify --json says ok:false, names the first bad
 * journal entry in first_bad_seq and exits 1; an export of the tampered
 * journal, re-verified by scripts/verify-journal outside budgetd, names
 * the same entry; a changed balance (the journal intact) is an I-3
 * problem naming the contract. Putting the original bytes back makes
 * verify say ok again, which shows it was that change it saw.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

#include "audit.h"
#include "budget/date.h"
#include "store.pb-c.h"

/* ------------------------------------------------------------------ */
/* The data file, opened by the test while budgetd is stopped         */

static void
seq_key(uint64_t seq, uint8_t k[8])
{
	int i;

	for (i = 7; i >= 0; i--, seq >>= 8)
		k[i] = (uint8_t)(seq & 0xff);
}

/* A copy of the value under key (free it); its length in *len. */
static uint8_t *
tdb_get(struct au_db *t, const void *key, size_t klen, size_t *len)
{
	MDB_val  k = {klen, (void *)(uintptr_t)key}, v;
	uint8_t *copy;

	au_db_check(mdb_get(t->txn, t->dbi, &k, &v), "mdb_get");
	if ((copy = malloc(v.mv_size + 1)) == NULL)
		h_fail("tamper: out of memory");
	memcpy(copy, v.mv_data, v.mv_size);
	*len = v.mv_size;
	return (copy);
}

static void
tdb_put(
    struct au_db *t, const void *key, size_t klen, const void *val, size_t len)
{
	MDB_val k = {klen, (void *)(uintptr_t)key};
	MDB_val v = {len, (void *)(uintptr_t)val};

	au_db_check(mdb_put(t->txn, t->dbi, &k, &v, 0), "mdb_put");
}

static void
tdb_del(struct au_db *t, const void *key, size_t klen)
{
	MDB_val k = {klen, (void *)(uintptr_t)key};

	au_db_check(mdb_del(t->txn, t->dbi, &k, NULL), "mdb_del");
}

/* A copy of the value under key in db of d's stopped ledger (free it). */
static uint8_t *
record_get(const struct h_daemon *d, const char *db, const void *key,
    size_t klen, size_t *len)
{
	struct au_db t;
	uint8_t     *v;

	au_db_open(d, db, &t);
	v = tdb_get(&t, key, klen, len);
	mdb_txn_abort(t.txn);
	mdb_env_close(t.env);
	return (v);
}

/* Store val under key in db of d's stopped ledger. */
static void
record_put(const struct h_daemon *d, const char *db, const void *key,
    size_t klen, const void *val, size_t len)
{
	struct au_db t;

	au_db_open(d, db, &t);
	tdb_put(&t, key, klen, val, len);
	au_db_close(&t);
}

/* The stored bytes of journal entry seq (free them). */
static uint8_t *
entry_bytes(const struct h_daemon *d, uint64_t seq, size_t *len)
{
	uint8_t k[8];

	seq_key(seq, k);
	return (record_get(d, "journal", k, sizeof(k), len));
}

/* Store these bytes as journal entry seq. */
static void
entry_put(const struct h_daemon *d, uint64_t seq, const uint8_t *v, size_t len)
{
	uint8_t k[8];

	seq_key(seq, k);
	record_put(d, "journal", k, sizeof(k), v, len);
}

/*
 * Stop d, take journal entry seq out, start d again. Returns the entry's
 * bytes (free them), its length in *len.
 */
static uint8_t *
entry_drop(struct h_daemon *d, uint64_t seq, size_t *len)
{
	struct au_db t;
	uint8_t      k[8], *orig;

	assert_int_equal(h_daemon_stop(d), 0);
	orig = entry_bytes(d, seq, len);
	seq_key(seq, k);
	au_db_open(d, "journal", &t);
	tdb_del(&t, k, sizeof(k));
	au_db_close(&t);
	h_daemon_start(d);
	return (orig);
}

static Budgetstore__JournalEntry *
entry_decode(const uint8_t *v, size_t len)
{
	Budgetstore__JournalEntry *m =
	    budgetstore__journal_entry__unpack(NULL, len, v);

	if (m == NULL)
		h_fail("tamper: a journal entry does not decode");
	return (m);
}

/* Any stored record, packed into a new buffer (free it). */
static uint8_t *
record_encode(const ProtobufCMessage *m, size_t *len)
{
	uint8_t *buf;

	*len = protobuf_c_message_get_packed_size(m);
	if ((buf = malloc(*len + 1)) == NULL)
		h_fail("tamper: out of memory");
	protobuf_c_message_pack(m, buf);
	return (buf);
}

/* A copy of len bytes, to spoil (free it). */
static uint8_t *
bytes_dup(const uint8_t *v, size_t len)
{
	uint8_t *copy = malloc(len);

	assert_non_null(copy);
	memcpy(copy, v, len);
	return (copy);
}

/* ------------------------------------------------------------------ */
/* The ledger, and what verify says about it                          */

/*
 * Ten-odd entries: rules, a contract, two companies, a dossier reserved,
 * approved and paid, the budget raised, a second dossier reserved and
 * cancelled. Verifies; the journal's head in *h.
 */
static struct h_daemon *
tamper_ledger(void **state, struct au_head *h)
{
	struct h_daemon *d = au_ledger_up(state, "100000", "1000");

	json_decref(au_ctl_json(d, 0, "contract", "amend", "K", "--budget",
	    "150000", "--reason", "addendum", NULL));
	json_decref(au_ctl_json(d, 0, "dossier", "reserve", "D2", "--company",
	    AU_CO_Y, "--contract", "K", "--package", "START", "--cost", "10000",
	    NULL));
	json_decref(au_ctl_json(
	    d, 0, "dossier", "cancel", "D2", "--reason", "withdrawn", NULL));
	json_decref(
	    au_ctl_json(d, 0, "dossier", "pay", "D1", "--amount", "500", NULL));
	fx_verify_ok(d);
	au_head(d, h);
	assert_int_equal(h->seq, 11);
	return (d);
}

/* The entry of this kind (the first one); its sequence number. */
static uint64_t
entry_of_kind(const struct h_daemon *d, const char *kind)
{
	json_t  *h = au_ctl_json(d, 0, "history", "--contract", "K", NULL);
	json_t  *ents = h_json_get(h, "entries");
	uint64_t seq = 0;
	size_t   i;

	for (i = 0; i < json_array_size(ents) && seq == 0; i++)
		if (strcmp(h_json_str(json_array_get(ents, i), "kind"), kind) ==
		    0)
			seq = (uint64_t)h_json_int(
			    json_array_get(ents, i), "seq");
	json_decref(h);
	if (seq == 0)
		h_fail("tamper: no %s entry", kind);
	return (seq);
}

/* One of verify's problems contains all of the given words. */
static int
has_problem(json_t *v, const char *a, const char *b)
{
	json_t *ps = h_json_get(v, "problems");
	size_t  i;

	for (i = 0; i < json_array_size(ps); i++) {
		const char *p = json_string_value(json_array_get(ps, i));

		if (p != NULL && strstr(p, a) != NULL &&
		    (b == NULL || strstr(p, b) != NULL))
			return (1);
	}
	return (0);
}

static void
dump_verify(json_t *v)
{
	char *s = json_dumps(v, JSON_INDENT(1));

	print_error("verify: %s\n", s != NULL ? s : "?");
	free(s);
}

/*
 * verify --json: ok false, first_bad_seq == seq (0: null, the chain
 * intact), exit 1; and the plain verify exits 1 too. Returns the verdict
 * (json_decref it).
 */
static json_t *
expect_broken(const struct h_daemon *d, uint64_t seq)
{
	struct h_proc p;
	json_t       *v;
	int           st;

	v = au_ctl_json_try(d, &st, "verify", NULL);
	if (v == NULL || st != 1 || h_json_bool(v, "ok") ||
	    (seq != 0 &&
		(!json_is_integer(h_json_get(v, "first_bad_seq")) ||
		    h_json_int(v, "first_bad_seq") != (json_int_t)seq)) ||
	    (seq == 0 && !json_is_null(h_json_get(v, "first_bad_seq")))) {
		if (v != NULL)
			dump_verify(v);
		h_fail("verify: exit %d; expected exit 1, ok:false and "
		       "first_bad_seq %llu",
		    st, (unsigned long long)seq);
	}
	{
		const char *argv[] = {
		    BUDGETCTL_PATH, "-s", d->sock, "verify", NULL};

		au_run(&p, argv);
		h_proc_expect(&p, 1);
		if (seq != 0)
			assert_non_null(strstr(p.out, "first bad entry"));
		h_proc_free(&p);
	}
	return (v);
}

/*
 * An export of the ledger as it now is, re-verified outside budgetd:
 * ok false and first_bad_seq == seq.
 */
static void
expect_export_broken(const struct h_daemon *d, uint64_t seq)
{
	char    path[AU_PATH_SZ];
	json_t *v;
	int     st;

	au_need_python();
	au_path(d, "tampered.jsonl", path);
	assert_int_equal(au_ctl_to_file(d, path, NULL, "export", NULL), 0);
	v = au_verify_journal(path, NULL, &st);
	if (st != 1 || h_json_bool(v, "ok") ||
	    h_json_int(v, "first_bad_seq") != (json_int_t)seq) {
		char *s = json_dumps(v, 0);

		print_error("verify-journal: %s\n", s != NULL ? s : "?");
		free(s);
		h_fail("verify-journal does not name entry %llu",
		    (unsigned long long)seq);
	}
	json_decref(v);
}

/* Restart, and verify must be ok with the original head. */
static void
expect_restored(struct h_daemon *d, const struct au_head *h)
{
	struct au_head now;
	json_t        *v;

	h_daemon_start(d);
	v = au_ctl_json(d, 0, "verify", NULL);
	assert_true(h_json_bool(v, "ok"));
	json_decref(v);
	au_head(d, &now);
	assert_int_equal(now.seq, h->seq);
	assert_string_equal(now.hash, h->hash);
}

/*
 * expect_broken, and one of verify's problems must contain a and b (NULL:
 * a alone); the verdict is printed when none does.
 */
static void
expect_problem(
    const struct h_daemon *d, uint64_t seq, const char *a, const char *b)
{
	json_t *v = expect_broken(d, seq);

	if (!has_problem(v, a, b)) {
		dump_verify(v);
		h_fail("verify names no problem with \"%s\"%s%s%s", a,
		    b != NULL ? " and \"" : "", b != NULL ? b : "",
		    b != NULL ? "\"" : "");
	}
	json_decref(v);
}

/* report --by BY is refused with storage_error, not answered in part. */
static void
expect_report_refused(const struct h_daemon *d, const char *by)
{
	json_t *j;
	int     st;

	j = au_ctl_json_try(d, &st, "report", "--by", by, NULL);
	assert_int_not_equal(st, 0);
	assert_non_null(j);
	assert_string_equal(
	    h_json_str(h_json_get(j, "error"), "code"), "storage_error");
	json_decref(j);
}

/*
 * Stop d, put orig back under key in db (and free it), and restart:
 * verify must be ok with the original head h again.
 */
static void
restore_record(struct h_daemon *d, const char *db, const void *key, size_t klen,
    uint8_t *orig, size_t len, const struct au_head *h)
{
	assert_int_equal(h_daemon_stop(d), 0);
	record_put(d, db, key, klen, orig, len);
	free(orig);
	expect_restored(d, h);
}

/* restore_record of journal entry seq. */
static void
restore_entry(struct h_daemon *d, uint64_t seq, uint8_t *orig, size_t len,
    const struct au_head *h)
{
	uint8_t k[8];

	seq_key(seq, k);
	restore_record(d, "journal", k, sizeof(k), orig, len, h);
}

/*
 * Entry seq of d's stopped ledger with one byte changed: a character of
 * its request id, so that it still decodes but its hash no longer holds.
 * Its stored bytes as they were, to put back (free them; *len bytes).
 */
static uint8_t *
entry_spoil(const struct h_daemon *d, uint64_t seq, size_t *len)
{
	Budgetstore__JournalEntry *m;
	uint8_t                   *orig, *bad;
	char                      *at;

	orig = entry_bytes(d, seq, len);
	m = entry_decode(orig, *len);
	assert_int_equal(m->seq, seq);
	assert_true(strlen(m->request_id) > 4);
	bad = bytes_dup(orig, *len);
	at = memmem(bad, *len, m->request_id, strlen(m->request_id));
	assert_non_null(at);
	/* A letter changes case, a digit changes value. */
	at[2] ^= at[2] >= '0' && at[2] <= '9' ? 0x01 : 0x20;
	budgetstore__journal_entry__free_unpacked(m, NULL);
	m = entry_decode((uint8_t *)bad, *len);
	assert_string_not_equal(m->kind, "");
	budgetstore__journal_entry__free_unpacked(m, NULL);
	entry_put(d, seq, bad, *len);
	free(bad);
	return (orig);
}

/*
 * The same problem found with the chain broken at entry seq, where the
 * stored records are checked against each other alone, with no replay to
 * hold them to; d stopped, and stopped again after.
 */
static void
expect_problem_unchained(
    struct h_daemon *d, uint64_t seq, const char *a, const char *b)
{
	uint8_t *orig;
	size_t   len;
	uint8_t  k[8];

	orig = entry_spoil(d, seq, &len);
	h_daemon_start(d);
	expect_problem(d, seq, a, b);
	assert_int_equal(h_daemon_stop(d), 0);
	seq_key(seq, k);
	record_put(d, "journal", k, sizeof(k), orig, len);
	free(orig);
}

/* ------------------------------------------------------------------ */
/* Tests                                                              */

/*
 * One byte of one entry: a character of its request id, which still
 * decodes. Every entry in turn: verify names it, and so does an export
 * re-verified outside budgetd; the original byte back, verify is ok.
 */
static void
test_tamper_byte(void **state)
{
	struct au_head   h;
	struct h_daemon *d = tamper_ledger(state, &h);
	uint8_t         *orig;
	size_t           len;
	uint64_t         seq;

	for (seq = 1; seq <= (uint64_t)h.seq; seq++) {
		assert_int_equal(h_daemon_stop(d), 0);
		orig = entry_spoil(d, seq, &len);
		h_daemon_start(d);

		expect_problem(d, seq, "hash does not match", NULL);
		if (seq == 1 || seq == 6 || seq == (uint64_t)h.seq)
			expect_export_broken(d, seq);

		restore_entry(d, seq, orig, len, &h);
	}
}

/* An amount changed by one cent (re-encoded: the entry still decodes). */
static void
test_tamper_amount(void **state)
{
	struct au_head             h;
	struct h_daemon           *d = tamper_ledger(state, &h);
	uint64_t                   seq = entry_of_kind(d, "dossier_pay");
	Budgetstore__JournalEntry *m;
	uint8_t                   *orig, *bad;
	size_t                     len, blen;

	assert_int_equal(h_daemon_stop(d), 0);
	orig = entry_bytes(d, seq, &len);
	m = entry_decode(orig, len);
	assert_int_equal(m->amount, 100000);
	m->amount += 1;
	bad = record_encode(&m->base, &blen);
	budgetstore__journal_entry__free_unpacked(m, NULL);
	entry_put(d, seq, bad, blen);
	h_daemon_start(d);
	json_decref(expect_broken(d, seq));
	expect_export_broken(d, seq);
	/* The contract's balances are untouched: its stored paid is right. */
	free(bad);
	restore_entry(d, seq, orig, len, &h);
}

/* Bytes that do not decode at all. */
static void
test_tamper_undecodable(void **state)
{
	struct au_head   h;
	struct h_daemon *d = tamper_ledger(state, &h);
	uint8_t         *orig, *bad;
	size_t           len;

	assert_int_equal(h_daemon_stop(d), 0);
	orig = entry_bytes(d, 4, &len);
	bad = bytes_dup(orig, len);
	bad[0] = 0xff; /* field 31, wire type 7: no such thing */
	bad[1] = 0xff;
	entry_put(d, 4, bad, len);
	h_daemon_start(d);
	expect_problem(d, 4, "journal entry 4", NULL);
	free(bad);
	restore_entry(d, 4, orig, len, &h);
}

/*
 * An entry dropped: in the middle, the chain breaks there (and outside
 * budgetd, an export skips from N-1 to N+1); at the end, the head names
 * an entry that is not there.
 */
static void
test_tamper_drop(void **state)
{
	struct au_head   h;
	struct h_daemon *d = tamper_ledger(state, &h);
	uint8_t         *orig;
	size_t           len;

	orig = entry_drop(d, 5, &len);
	expect_problem(d, 5, "journal entry 5", NULL);
	expect_export_broken(d, 5);
	restore_entry(d, 5, orig, len, &h);

	/* The last one. */
	orig = entry_drop(d, (uint64_t)h.seq, &len);
	json_decref(expect_broken(d, (uint64_t)h.seq));
	restore_entry(d, (uint64_t)h.seq, orig, len, &h);
}

/*
 * Two entries swapped: as stored (each still says its own sequence
 * number), and rewritten to carry their new places' numbers (so that
 * only the chain can tell). Both are found at the first of the two.
 */
static void
test_tamper_reorder(void **state)
{
	struct au_head             h;
	struct h_daemon           *d = tamper_ledger(state, &h);
	Budgetstore__JournalEntry *m;
	uint8_t                   *a, *b, *ra, *rb;
	size_t                     la, lb, lra, lrb;

	assert_int_equal(h_daemon_stop(d), 0);
	a = entry_bytes(d, 6, &la);
	b = entry_bytes(d, 7, &lb);
	entry_put(d, 6, b, lb);
	entry_put(d, 7, a, la);
	h_daemon_start(d);
	json_decref(expect_broken(d, 6));

	/* Renumbered. */
	assert_int_equal(h_daemon_stop(d), 0);
	m = entry_decode(b, lb);
	m->seq = 6;
	rb = record_encode(&m->base, &lrb);
	budgetstore__journal_entry__free_unpacked(m, NULL);
	m = entry_decode(a, la);
	m->seq = 7;
	ra = record_encode(&m->base, &lra);
	budgetstore__journal_entry__free_unpacked(m, NULL);
	entry_put(d, 6, rb, lrb);
	entry_put(d, 7, ra, lra);
	h_daemon_start(d);
	expect_problem(d, 6, "journal entry 6", "hash");
	expect_export_broken(d, 6);

	assert_int_equal(h_daemon_stop(d), 0);
	entry_put(d, 6, a, la);
	entry_put(d, 7, b, lb);
	free(a);
	free(b);
	free(ra);
	free(rb);
	expect_restored(d, &h);
}

/*
 * A stored balance changed, the journal left alone: the chain holds
 * (first_bad_seq null, an export re-verifies), but replaying the journal
 * does not give the stored balances: an I-3 problem naming the contract.
 */
static void
test_tamper_balance(void **state)
{
	struct au_head         h;
	struct h_daemon       *d = tamper_ledger(state, &h);
	struct fx_contract     before, after;
	Budgetstore__Contract *k;
	uint8_t               *orig, *bad;
	size_t                 len, blen;
	char                   path[AU_PATH_SZ], seq[32];
	json_t                *v;

	fx_contract_show(d, "K", &before);
	assert_int_equal(h_daemon_stop(d), 0);
	orig = record_get(d, "contracts", "K", 1, &len);
	k = budgetstore__contract__unpack(NULL, len, orig);
	assert_non_null(k);
	assert_int_equal(k->committed, before.committed);
	k->committed += 100000;
	k->paid -= 100000;
	bad = record_encode(&k->base, &blen);
	budgetstore__contract__free_unpacked(k, NULL);
	record_put(d, "contracts", "K", 1, bad, blen);
	h_daemon_start(d);

	v = expect_broken(d, 0);
	if (!has_problem(v, "I-3", "contract K")) {
		dump_verify(v);
		h_fail("verify names no I-3 problem of contract K");
	}
	assert_int_equal(h_json_int(v, "entries"), h.seq);
	assert_string_equal(h_json_str(v, "head_hash"), h.hash);
	json_decref(v);
	/* What is stored, and what the journal says. */
	fx_contract_show(d, "K", &after);
	assert_int_equal(after.committed, before.committed + 100000);
	snprintf(seq, sizeof(seq), "%lld", (long long)h.seq);
	v = au_ctl_json(
	    d, 0, "balance", "--contract", "K", "--as-of", seq, NULL);
	assert_int_equal(h_json_int(v, "committed_cents"), before.committed);
	assert_int_equal(h_json_int(v, "paid_cents"), before.paid);
	json_decref(v);
	/* The chain itself re-verifies outside budgetd. */
	if (BUDGET_PYTHON3[0] != '\0') {
		au_path(d, "intact.jsonl", path);
		au_export_verified(d, path, 0, NULL, h.seq, h.hash);
	}

	free(bad);
	restore_record(d, "contracts", "K", 1, orig, len, &h);
}

/* A dossier's stored payment changed: found too, naming the dossier. */
static void
test_tamper_dossier(void **state)
{
	struct au_head        h;
	struct h_daemon      *d = tamper_ledger(state, &h);
	Budgetstore__Dossier *m;
	uint8_t              *orig, *bad;
	size_t                len, blen;

	assert_int_equal(h_daemon_stop(d), 0);
	orig = record_get(d, "dossiers", "D1", 2, &len);
	m = budgetstore__dossier__unpack(NULL, len, orig);
	assert_non_null(m);
	m->paid += 1;
	bad = record_encode(&m->base, &blen);
	budgetstore__dossier__free_unpacked(m, NULL);
	record_put(d, "dossiers", "D1", 2, bad, blen);
	h_daemon_start(d);
	expect_problem(d, 0, "dossier D1", NULL);
	free(bad);
	restore_record(d, "dossiers", "D1", 2, orig, len, &h);
}

/* One item of the history index: (D, id) -> seq; add or remove it. */
static void
history_item(
    const struct h_daemon *d, const char *dossier, uint64_t seq, int add)
{
	struct au_db t;
	uint8_t      key[64], v[8];
	size_t       klen = strlen(dossier) + 2;
	MDB_val      k = {klen, key}, val = {sizeof(v), v};

	key[0] = 'D';
	memcpy(key + 1, dossier, klen - 1);
	seq_key(seq, v);
	au_db_open(d, "history", &t);
	if (add)
		au_db_check(mdb_put(t.txn, t.dbi, &k, &val, 0), "mdb_put");
	else
		au_db_check(mdb_del(t.txn, t.dbi, &k, &val), "mdb_del");
	au_db_close(&t);
}

/*
 * The history index behind history and balance --as-of, changed with the
 * journal intact: an item dropped, an item moved to another entry (the
 * same count: only an item-by-item look finds it), an item added. verify
 * names the entry whose item is missing, or says the index holds more
 * than the journal calls for; the chain itself is not in question.
 */
static void
test_tamper_history(void **state)
{
	struct au_head   h;
	struct h_daemon *d = tamper_ledger(state, &h);
	uint64_t         approve = entry_of_kind(d, "dossier_approve");
	uint64_t         cancel = entry_of_kind(d, "dossier_cancel");
	char             want[64];

	snprintf(want, sizeof(want), "journal entry %llu ",
	    (unsigned long long)approve);

	/* Dropped: D1's history no longer shows its approval. */
	assert_int_equal(h_daemon_stop(d), 0);
	history_item(d, "D1", approve, 0);
	h_daemon_start(d);
	expect_problem(d, 0, want, "history of D1");

	/* Moved: as many items as before, one of them wrong. */
	assert_int_equal(h_daemon_stop(d), 0);
	history_item(d, "D1", cancel, 1);
	h_daemon_start(d);
	expect_problem(d, 0, want, "history of D1");

	/* Added: one item more than the journal calls for. */
	assert_int_equal(h_daemon_stop(d), 0);
	history_item(d, "D1", approve, 1);
	h_daemon_start(d);
	expect_problem(d, 0, "history index holds", "calls for");

	assert_int_equal(h_daemon_stop(d), 0);
	history_item(d, "D1", cancel, 0);
	expect_restored(d, &h);
}

/*
 * A record that no longer decodes (a grant, here): verify says the ledger
 * could not be read, and still gives the chain's verdict (it holds, to the
 * head) instead of the comparisons it could not finish, which would be
 * noise; a report over that grant is refused, not cut short.
 */
static void
test_tamper_unreadable_record(void **state)
{
	struct au_head   h;
	struct h_daemon *d = tamper_ledger(state, &h);
	struct au_db     t;
	MDB_cursor      *cur;
	MDB_val          k, v;
	uint8_t          junk[4] = {0xff, 0xff, 0xff, 0xff}, *orig, key[64];
	size_t           klen, vlen;
	json_t          *j;

	assert_int_equal(h_daemon_stop(d), 0);
	au_db_open(d, "grants", &t);
	au_db_check(mdb_cursor_open(t.txn, t.dbi, &cur), "mdb_cursor_open");
	au_db_check(mdb_cursor_get(cur, &k, &v, MDB_FIRST), "mdb_cursor_get");
	if (k.mv_size > sizeof(key))
		h_fail("tamper: a grant key of %zu bytes", k.mv_size);
	klen = k.mv_size;
	memcpy(key, k.mv_data, klen);
	mdb_cursor_close(cur);
	orig = tdb_get(&t, key, klen, &vlen);
	tdb_put(&t, key, klen, junk, sizeof(junk));
	au_db_close(&t);
	h_daemon_start(d);

	j = expect_broken(d, 0);
	if (!has_problem(j, "could not be read", NULL) ||
	    has_problem(j, "history index", NULL) ||
	    has_problem(j, "does not exist", NULL)) {
		dump_verify(j);
		h_fail("verify: not the read error alone");
	}
	assert_int_equal(h_json_int(j, "entries"), h.seq);
	assert_string_equal(h_json_str(j, "head_hash"), h.hash);
	json_decref(j);
	expect_report_refused(d, "year,contract");
	restore_record(d, "grants", key, klen, orig, vlen, &h);
}

/* Take key out of db of d's stopped ledger. */
static void
record_del(
    const struct h_daemon *d, const char *db, const void *key, size_t klen)
{
	struct au_db t;

	au_db_open(d, db, &t);
	tdb_del(&t, key, klen);
	au_db_close(&t);
}

/* A dossier's key in the company index: company number, dossier id. */
static size_t
summary_key(const char *company, const char *dossier, uint8_t key[64])
{
	size_t clen = strlen(company), dlen = strlen(dossier);

	memcpy(key, company, clen);
	memcpy(key + clen, dossier, dlen);
	return (clen + dlen);
}

/*
 * The company index (company + dossier -> summary) changed with the
 * dossiers intact: D1's summary changed, then dropped, then one for a
 * dossier that is not there. verify compares the index with the dossiers
 * by sums, and when they differ names what differs.
 */
static void
test_tamper_summaries(void **state)
{
	struct au_head   h;
	struct h_daemon *d = tamper_ledger(state, &h);
	uint8_t          key[64], ghost[64], *orig, *bad;
	size_t           klen, glen, len;

	klen = summary_key(AU_CO_X, "D1", key);
	glen = summary_key(AU_CO_X, "D9", ghost);
	assert_int_equal(h_daemon_stop(d), 0);
	orig = record_get(d, "company_dossiers", key, klen, &len);

	/* Changed: the summary says one cent more was paid. */
	bad = bytes_dup(orig, len);
	bad[len - 1] ^= 1;
	record_put(d, "company_dossiers", key, klen, bad, len);
	free(bad);
	h_daemon_start(d);
	expect_problem(d, 0, "dossier D1:", "does not summarise");

	/* Dropped. */
	assert_int_equal(h_daemon_stop(d), 0);
	record_del(d, "company_dossiers", key, klen);
	h_daemon_start(d);
	expect_problem(d, 0, "dossier D1:", "does not summarise");

	/* Back, and a summary of a dossier nobody reserved. */
	assert_int_equal(h_daemon_stop(d), 0);
	record_put(d, "company_dossiers", key, klen, orig, len);
	record_put(d, "company_dossiers", ghost, glen, orig, len);
	h_daemon_start(d);
	expect_problem(d, 0, "summarises dossier D9", "no such dossier");

	assert_int_equal(h_daemon_stop(d), 0);
	record_del(d, "company_dossiers", ghost, glen);
	free(orig);
	expect_restored(d, &h);
}

/*
 * D1's grant, the first in the grants database of d's stopped ledger (its
 * company, AU_CO_X, sorts first): its key into key (*klen bytes), and a
 * copy of its stored bytes (free it; *len bytes).
 */
static uint8_t *
d1_grant(const struct h_daemon *d, uint8_t key[64], size_t *klen, size_t *len)
{
	struct au_db        t;
	MDB_cursor         *cur;
	MDB_val             k, v;
	Budgetstore__Grant *g;
	uint8_t            *orig;

	au_db_open(d, "grants", &t);
	au_db_check(mdb_cursor_open(t.txn, t.dbi, &cur), "mdb_cursor_open");
	au_db_check(mdb_cursor_get(cur, &k, &v, MDB_FIRST), "mdb_cursor_get");
	if (k.mv_size > 64 || k.mv_size < 12 ||
	    memcmp(k.mv_data, AU_CO_X, 10) != 0)
		h_fail("tamper: the first grant is not AU_CO_X's");
	*klen = k.mv_size;
	memcpy(key, k.mv_data, *klen);
	mdb_cursor_close(cur);
	orig = tdb_get(&t, key, *klen, len);
	mdb_txn_abort(t.txn);
	mdb_env_close(t.env);
	g = budgetstore__grant__unpack(NULL, *len, orig);
	assert_non_null(g);
	assert_string_equal(g->dossier, "D1");
	budgetstore__grant__free_unpacked(g, NULL);
	return (orig);
}

/*
 * Store D1's grant (orig, len: as d1_grant gave it) under key again,
 * changed by change, in d's stopped ledger. Its id.
 */
static uint64_t
d1_grant_change(const struct h_daemon *d, const uint8_t *key, size_t klen,
    const uint8_t *orig, size_t len, void (*change)(Budgetstore__Grant *))
{
	Budgetstore__Grant *g = budgetstore__grant__unpack(NULL, len, orig);
	uint8_t            *bad;
	size_t              blen;
	uint64_t            id;

	assert_non_null(g);
	change(g);
	id = g->id;
	bad = record_encode(&g->base, &blen);
	budgetstore__grant__free_unpacked(g, NULL);
	record_put(d, "grants", key, klen, bad, blen);
	free(bad);
	return (id);
}

static void
cut_a_cent(Budgetstore__Grant *g)
{
	g->effective -= 1;
}

static void
raise_to_ten_million(Budgetstore__Grant *g)
{
	g->amount = g->effective = INT64_C(1000000000);
}

/*
 * D1's grant (the first in the grants database, company AU_CO_X): its
 * effective amount cut by a cent, then a second copy under another date.
 * verify says the grant is not what the journal made, and with the chain
 * broken, where the records are checked against each other alone, that
 * D1's grants no longer add up to what it was granted; and that the grant
 * is stored twice.
 */
static void
test_tamper_grants(void **state)
{
	struct au_head   h;
	struct h_daemon *d = tamper_ledger(state, &h);
	uint8_t          key[64], twin[64], *orig;
	size_t           klen, len;
	char             want[64];

	assert_int_equal(h_daemon_stop(d), 0);
	orig = d1_grant(d, key, &klen, &len);
	snprintf(want, sizeof(want), "grant %llu is stored twice",
	    (unsigned long long)d1_grant_change(
		d, key, klen, orig, len, cut_a_cent));
	expect_problem_unchained(d, h.seq, "dossier D1:", "grants found");
	h_daemon_start(d);
	expect_problem(
	    d, 0, "(899999 effective), the journal replays to", NULL);

	/* The same grant under a second key: a day later. */
	assert_int_equal(h_daemon_stop(d), 0);
	record_put(d, "grants", key, klen, orig, len);
	memcpy(twin, key, klen);
	twin[13] ^= 1;
	record_put(d, "grants", twin, klen, orig, len);
	expect_problem_unchained(d, h.seq, want, NULL);
	h_daemon_start(d);
	expect_problem(d, 0, want, NULL);

	assert_int_equal(h_daemon_stop(d), 0);
	record_del(d, "grants", twin, klen);
	free(orig);
	expect_restored(d, &h);
}

/*
 * D1's grant filed under AU_CO_Y's part of the grants database: its key's
 * company changed, its value intact. Whose grant it is goes by the key
 * (every walk of one company's grants, I-2's included, goes by it): the
 * grant is not under its own key, and with the chain broken, D1's grants
 * no longer add up.
 */
static void
test_tamper_grant_refiled(void **state)
{
	struct au_head   h;
	struct h_daemon *d = tamper_ledger(state, &h);
	struct au_db     t;
	uint8_t          key[64], moved[64], *orig;
	size_t           klen, len;

	assert_int_equal(h_daemon_stop(d), 0);
	orig = d1_grant(d, key, &klen, &len);
	memcpy(moved, key, klen);
	memcpy(moved, AU_CO_Y, 10);
	au_db_open(d, "grants", &t);
	tdb_del(&t, key, klen);
	tdb_put(&t, moved, klen, orig, len);
	au_db_close(&t);
	expect_problem_unchained(d, h.seq, "dossier D1:", "grants found");
	h_daemon_start(d);
	expect_problem(d, 0, "is filed under company " AU_CO_Y, NULL);

	assert_int_equal(h_daemon_stop(d), 0);
	record_del(d, "grants", moved, klen);
	record_put(d, "grants", key, klen, orig, len);
	free(orig);
	expect_restored(d, &h);
}

/* How many of verify's problems contain word. */
static size_t
problems_with(json_t *v, const char *word)
{
	json_t *ps = h_json_get(v, "problems");
	size_t  i, n = 0;

	for (i = 0; i < json_array_size(ps); i++)
		n += strstr(json_string_value(json_array_get(ps, i)), word) !=
		    NULL;
	return (n);
}

/*
 * I-2 broken in the store: D1's grant raised to EUR 10 million, in one
 * undertaking of AU_CO_X and AU_CO_Y (linked). verify says so once:
 * AU_CO_Y has no grant of its own, and a member is checked only from its
 * own first grant on (with a grant of its own on or before the window's
 * day, it would say so too).
 */
static void
test_tamper_deminimis(void **state)
{
	struct au_head   h;
	struct h_daemon *d = tamper_ledger(state, &h);
	uint8_t          key[64], *orig;
	size_t           klen, len;
	json_t          *v;

	json_decref(au_ctl_json(d, 0, "company", "link", AU_CO_X, AU_CO_Y,
	    "--since", "2020-01-01", NULL));
	fx_verify_ok(d);
	au_head(d, &h);
	assert_int_equal(h_daemon_stop(d), 0);
	orig = d1_grant(d, key, &klen, &len);
	(void)d1_grant_change(d, key, klen, orig, len, raise_to_ten_million);
	h_daemon_start(d);
	v = expect_broken(d, 0);
	if (problems_with(v, "I-2 broken") != 1) {
		dump_verify(v);
		h_fail("verify: I-2 broken not said exactly once");
	}
	json_decref(v);
	restore_record(d, "grants", key, klen, orig, len, &h);
}

/*
 * verify checks I-2 company by company, and sends to dm_verify only those
 * that may break it: a company linked to nobody whose grants, none
 * negative and none before the first regime, add up to no more than the
 * lowest ceiling is passed over. The tests below break I-2 (or its
 * regimes) in each way a pass-over too eager would miss: AU_CO_X alone
 * over the ceiling, a negative grant hiding a large one, a grant before
 * any regime, two linked companies each under the lowest ceiling.
 */

/* A grant of AU_CO_X (au_tamper's change): D1's set to cents. */
static int
d1_grant_to(uint8_t **val, size_t *len, int64_t cents)
{
	Budgetstore__Grant *g = budgetstore__grant__unpack(NULL, *len, *val);

	assert_non_null(g);
	if (strcmp(g->dossier, "D1") == 0) {
		g->amount = g->effective = cents;
		au_repack(&g->base, val, len);
	}
	budgetstore__grant__free_unpacked(g, NULL);
	return (1);
}

/* ...to EUR 350,000. */
static int
d1_grant_to_350k(uint8_t **val, size_t *len)
{
	return (d1_grant_to(val, len, INT64_C(35000000)));
}

/* ...and the declared aid taken below zero: EUR -200,000. */
static int
d1_grant_to_350k_declared_negative(uint8_t **val, size_t *len)
{
	Budgetstore__Grant *g = budgetstore__grant__unpack(NULL, *len, *val);

	assert_non_null(g);
	if (g->dossier[0] == '\0') {
		g->effective = INT64_C(-20000000);
		au_repack(&g->base, val, len);
	}
	budgetstore__grant__free_unpacked(g, NULL);
	return (d1_grant_to_350k(val, len));
}

/* ...D1's dated 2010-01-01, before any regime, its key left as it was. */
static int
d1_grant_to_2010(uint8_t **val, size_t *len)
{
	Budgetstore__Grant *g = budgetstore__grant__unpack(NULL, *len, *val);

	assert_non_null(g);
	if (strcmp(g->dossier, "D1") == 0) {
		g->date = date_from_civil(2010, 1, 1);
		au_repack(&g->base, val, len);
	}
	budgetstore__grant__free_unpacked(g, NULL);
	return (1);
}

/* verify's problems, which must say I-2 broken exactly n times. */
static void
expect_i2(const struct h_daemon *d, size_t n)
{
	json_t *v = expect_broken(d, 0);

	if (problems_with(v, "I-2 broken") != n) {
		dump_verify(v);
		h_fail("verify: I-2 broken not said exactly %zu times", n);
	}
	json_decref(v);
}

/* D1's grant over the ceiling, AU_CO_X linked to nobody. */
static void
test_tamper_deminimis_alone(void **state)
{
	struct au_head   h;
	struct h_daemon *d = tamper_ledger(state, &h);

	assert_int_equal(
	    au_tamper(d, "grants", AU_CO_X, 10, d1_grant_to_350k), 1);
	expect_i2(d, 1);
}

/*
 * EUR 150,000 declared for 2019 beside D1's grant, then D1's raised to
 * EUR 350,000 and the declared one taken to EUR -200,000: the two add up
 * to EUR 150,000, under every ceiling, but D1's window holds EUR 350,000.
 */
static void
test_tamper_deminimis_negative(void **state)
{
	struct au_head   h;
	struct h_daemon *d = tamper_ledger(state, &h);

	fx_declare(d, AU_CO_X, "150000", "2019-06-01");
	fx_verify_ok(d);
	assert_int_equal(au_tamper(d, "grants", AU_CO_X, 10,
			     d1_grant_to_350k_declared_negative),
	    2);
	expect_i2(d, 1);
}

/* ...to EUR 150,000. */
static int
d1_grant_to_150k(uint8_t **val, size_t *len)
{
	return (d1_grant_to(val, len, INT64_C(15000000)));
}

/*
 * Each company of an undertaking under the lowest ceiling, the two
 * together over it: AU_CO_Y's EUR 190,000 declared for 2025 and D1's grant
 * raised to EUR 150,000, linked since 2020. Said for each, as each has a
 * grant of its own in the window.
 */
static void
test_tamper_deminimis_linked(void **state)
{
	struct au_head   h;
	struct h_daemon *d = tamper_ledger(state, &h);

	json_decref(au_ctl_json(d, 0, "company", "link", AU_CO_X, AU_CO_Y,
	    "--since", "2020-01-01", NULL));
	fx_declare(d, AU_CO_Y, "190000", "2025-06-01");
	fx_verify_ok(d);
	assert_int_equal(
	    au_tamper(d, "grants", AU_CO_X, 10, d1_grant_to_150k), 1);
	expect_i2(d, 2);
}

/* D1's grant dated before any de-minimis regime: no ceiling to judge by. */
static void
test_tamper_deminimis_no_regime(void **state)
{
	struct au_head   h;
	struct h_daemon *d = tamper_ledger(state, &h);

	assert_int_equal(
	    au_tamper(d, "grants", AU_CO_X, 10, d1_grant_to_2010), 1);
	expect_problem(
	    d, 0, "no de-minimis regime is in force on 2010-01-01", NULL);
}

/*
 * The path verify took, as budgetd logs it: on three threads, or on one
 * when BUDGETD_VERIFY_THREADS=1 (integration_tamper_one_thread runs this
 * file so), which every other test here then also took. Two threads is
 * the path for a third transaction that does not see the snapshot, which
 * nothing here provokes.
 */
static void
test_verify_path(void **state)
{
	static const char *const paths[] = {
	    "(all on this one)", "(on two threads)", "(on three threads)"};
	struct au_head   h;
	struct h_daemon *d = tamper_ledger(state, &h);
	const char      *env = getenv("BUDGETD_VERIFY_THREADS");
	const char      *want;
	char            *log;
	size_t           i;

	want = env != NULL && strcmp(env, "1") == 0 ? paths[0] : paths[2];
	fx_verify_ok(d);
	log = h_daemon_log(d);
	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		if ((strstr(log, paths[i]) != NULL) != (paths[i] == want))
			h_fail("verify: not %s:\n%s", want, log);
	}
	free(log);
}

/*
 * A contract gone from under its dossiers' grants: the report is refused
 * with storage_error rather than answered without them.
 */
static void
test_tamper_report_missing_contract(void **state)
{
	struct au_head   h;
	struct h_daemon *d = tamper_ledger(state, &h);
	struct au_db     t;
	uint8_t         *orig;
	size_t           len;

	assert_int_equal(h_daemon_stop(d), 0);
	au_db_open(d, "contracts", &t);
	orig = tdb_get(&t, "K", 1, &len);
	tdb_del(&t, "K", 1);
	au_db_close(&t);
	h_daemon_start(d);
	expect_report_refused(d, "contract");
	restore_record(d, "contracts", "K", 1, orig, len, &h);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, NULL, h_teardown)
	const struct CMUnitTest tests[] = {
	    T(test_tamper_byte),
	    T(test_tamper_amount),
	    T(test_tamper_undecodable),
	    T(test_tamper_drop),
	    T(test_tamper_reorder),
	    T(test_tamper_balance),
	    T(test_tamper_dossier),
	    T(test_tamper_history),
	    T(test_tamper_summaries),
	    T(test_tamper_grants),
	    T(test_tamper_grant_refiled),
	    T(test_tamper_deminimis),
	    T(test_tamper_deminimis_alone),
	    T(test_tamper_deminimis_negative),
	    T(test_tamper_deminimis_no_regime),
	    T(test_tamper_deminimis_linked),
	    T(test_verify_path),
	    T(test_tamper_unreadable_record),
	    T(test_tamper_report_missing_contract),
	};
#undef T

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
