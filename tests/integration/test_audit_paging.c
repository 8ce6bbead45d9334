/*
 * test_audit_paging.c: the auditor's reads over thousands of entries
 * (issue #4; SPEC §7 history and export). Owns paging: budgetctl history
 * fetching every page of a contract with 2,501 entries (each entry once,
 * in order; --limit), the wire's history pages ("next", page sizes, the
 * 1,000 limit, a time range across pages), export pages (since, until,
 * limit) of fields and of stored entries, and an export of more than budgetctl's 10,000-entry page
 * taken while writes go on: one consistent prefix of the journal that
 * re-verifies outside budgetd (scripts/verify-journal).
 *
 * The paging ledger is built once (group setup, batch commands) and only
 * read, but for the export under writes, which runs last.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "budget/canon.h"
#include "store.pb-c.h"

/*
 * Entries on the paging contract: well past the daemon's 1,000 a page.
 * Fewer under AddressSanitizer, where each write costs some hundred times
 * more (see PREFIX_BEFORE), but still more than a page.
 */
#if defined(__SANITIZE_ADDRESS__)
#define PAGE_AMENDS 1600
#else
#define PAGE_AMENDS 2500
#endif
/* A stretch of them for export's since and until. */
#define PAGE_UNTIL   (PAGE_AMENDS * 84 / 100)
#define PAGE_SINCE   (PAGE_AMENDS / 2 - 16)
#define PAGE_STR(x)  #x
#define PAGE_XSTR(x) PAGE_STR(x)

/* The ledger the paging tests share (they only read it). */
static struct h_daemon *page_d;

struct amend_req {
	Budget__Request       req;
	Budget__ContractAmend amend;
	char                  rid[32];
};

/* Amendments per batch frame (the daemon takes up to 8,190). */
#define AMEND_BATCH 500

/*
 * Amend contract KP n times, budgets 100,000.00 + (first + i) cents,
 * request ids page-(first + i): AMEND_BATCH at a time as one batch
 * command (one frame, one transaction), each batch answered before the
 * next goes (so that batches get times of their own). Far faster than
 * single requests, which matters under the sanitizers.
 */
static void
amend_many(const struct h_daemon *d, size_t first, size_t n)
{
	struct amend_req    *r = calloc(n, sizeof(*r));
	Budget__Request    **ops = calloc(n, sizeof(*ops));
	Budget__Request      req = BUDGET__REQUEST__INIT;
	Budget__BatchRequest batch = BUDGET__BATCH_REQUEST__INIT;
	Budget__Response    *resp;
	char                 rid[32];
	size_t               i, done, k;
	int                  fd;

	assert_non_null(r);
	assert_non_null(ops);
	for (i = 0; i < n; i++) {
		budget__request__init(&r[i].req);
		budget__contract_amend__init(&r[i].amend);
		snprintf(r[i].rid, sizeof(r[i].rid), "page-%zu", first + i);
		r[i].req.version = BUDGET_PROTOCOL_VERSION;
		r[i].req.request_id = r[i].rid;
		r[i].req.command_case = BUDGET__REQUEST__COMMAND_CONTRACT_AMEND;
		r[i].req.contract_amend = &r[i].amend;
		r[i].amend.id = H_STR("KP");
		r[i].amend.budget_cents = 10000000 + (int64_t)(first + i) * 100;
		r[i].amend.reason = H_STR("paging");
		ops[i] = &r[i].req;
	}
	fd = h_connect(d);
	req.version = BUDGET_PROTOCOL_VERSION;
	req.command_case = BUDGET__REQUEST__COMMAND_BATCH;
	req.batch = &batch;
	for (done = 0; done < n; done += k) {
		k = n - done < AMEND_BATCH ? n - done : AMEND_BATCH;
		snprintf(rid, sizeof(rid), "batch-%zu", first + done);
		req.request_id = rid;
		batch.ops = &ops[done];
		batch.n_ops = k;
		resp = fx_call(fd, &req);
		if (fx_err(resp) != NULL || resp->batch == NULL ||
		    resp->batch->n_results != k)
			h_fail("batch of amendments from %zu: %s", first + done,
			    fx_err(resp) != NULL ? fx_err(resp) : "no results");
		for (i = 0; i < k; i++)
			if (fx_err(resp->batch->results[i]) != NULL)
				h_fail("amend %zu: %s", first + done + i,
				    fx_err(resp->batch->results[i]));
		budget__response__free_unpacked(resp, NULL);
	}
	close(fd);
	free(ops);
	free(r);
}

/* Contract KP opened, then amended PAGE_AMENDS times in batches. */
static int
page_setup(void **state)
{
	(void)state;
	page_d = h_daemon_up(NULL);
	fx_contract_open(page_d, "KP", "100000");
	amend_many(page_d, 1, PAGE_AMENDS);
	assert_int_equal(fx_journal_seq(page_d), PAGE_AMENDS + 1);
	return (0);
}

static int
page_teardown(void **state)
{
	(void)state;
	h_daemon_teardown(page_d);
	page_d = NULL;
	return (0);
}

/* budgetctl history pages through them all: each once, in order. */
static void
test_history_paging_ctl(void **state)
{
	struct h_daemon *d = page_d;
	json_t          *h, *ents;
	char             lim[16];
	size_t           i;

	(void)state;

	h = fx_ctl_json(d, 0, "history", "--contract", "KP", NULL);
	ents = h_json_get(h, "entries");
	assert_int_equal(json_array_size(ents), PAGE_AMENDS + 1);
	assert_int_equal(h_json_int(h, "count"), PAGE_AMENDS + 1);
	assert_false(h_json_bool(h, "more"));
	for (i = 0; i < json_array_size(ents); i++) {
		json_t *e = json_array_get(ents, i);

		assert_int_equal(h_json_int(e, "seq"), (json_int_t)i + 1);
		if (i > 0)
			assert_int_equal(h_json_int(e, "budget"),
			    10000000 + (json_int_t)i * 100);
	}
	json_decref(h);
	/* --limit stops there and says there is more. */
	h = fx_ctl_json(
	    d, 0, "history", "--contract", "KP", "--limit", "1500", NULL);
	ents = h_json_get(h, "entries");
	assert_int_equal(json_array_size(ents), 1500);
	assert_true(h_json_bool(h, "more"));
	assert_int_equal(h_json_int(json_array_get(ents, 1499), "seq"), 1500);
	json_decref(h);
	/* The exact page size, and one more. */
	h = fx_ctl_json(
	    d, 0, "history", "--contract", "KP", "--limit", "1000", NULL);
	assert_int_equal(json_array_size(h_json_get(h, "entries")), 1000);
	assert_true(h_json_bool(h, "more"));
	json_decref(h);
	h = fx_ctl_json(d, 0, "history", "--contract", "KP", "--limit",
	    PAGE_XSTR(PAGE_AMENDS), NULL);
	assert_int_equal(
	    json_array_size(h_json_get(h, "entries")), PAGE_AMENDS);
	assert_true(h_json_bool(h, "more"));
	json_decref(h);
	/* Exactly all of them: nothing more. */
	snprintf(lim, sizeof(lim), "%d", PAGE_AMENDS + 1);
	h = fx_ctl_json(
	    d, 0, "history", "--contract", "KP", "--limit", lim, NULL);
	assert_int_equal(
	    json_array_size(h_json_get(h, "entries")), PAGE_AMENDS + 1);
	assert_false(h_json_bool(h, "more"));
	json_decref(h);
}

/*
 * The wire's pages: "next" is the last entry sent, 0 at the end; every
 * entry once whatever the page size; at most 1000 a page; with a time
 * range across pages, exactly the entries in it.
 */
static void
test_history_paging_raw(void **state)
{
	static const uint32_t sizes[] = {1000, 7, 999, 1};
	struct h_daemon      *d = page_d;
	Budget__Response     *r;
	char                  path[AU_PATH_SZ], since[40], until[40];
	json_t               *all;
	uint64_t              after, expect;
	int64_t               u1, u2;
	size_t                s, i, n;
	int                   fd = h_connect(d);

	(void)state;

	for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		after = 0;
		expect = 1;
		for (;;) {
			r = au_history_page(
			    fd, "KP", NULL, after, sizes[s], NULL, NULL);
			assert_null(r->error);
			assert_non_null(r->journal);
			assert_true(r->journal->n_entries <= sizes[s]);
			for (i = 0; i < r->journal->n_entries; i++)
				assert_int_equal(
				    r->journal->entries[i]->seq, expect++);
			after = r->journal->next;
			if (after != 0)
				assert_int_equal(after, expect - 1);
			assert_int_equal(r->journal->head_seq, PAGE_AMENDS + 1);
			budget__response__free_unpacked(r, NULL);
			if (after == 0)
				break;
			if (sizes[s] == 1 && expect > 40)
				break; /* enough of that */
		}
		if (sizes[s] != 1)
			assert_int_equal(expect, PAGE_AMENDS + 2);
	}
	r = au_history_page(fd, "KP", NULL, 0, 1001, NULL, NULL);
	assert_non_null(r->error);
	assert_string_equal(r->error->code, "invalid_argument");
	budget__response__free_unpacked(r, NULL);

	/* A time range across pages, against the export's times. */
	au_path(d, "page.jsonl", path);
	assert_int_equal(au_ctl_to_file(d, path, NULL, "export", NULL), 0);
	all = au_jsonl(path);
	assert_int_equal(json_array_size(all), PAGE_AMENDS + 1);
	snprintf(since, sizeof(since), "%s",
	    h_json_str(json_array_get(all, PAGE_AMENDS * 28 / 100), "time"));
	snprintf(until, sizeof(until), "%s",
	    h_json_str(json_array_get(all, PAGE_AMENDS * 92 / 100), "time"));
	u1 = au_time_us(since);
	u2 = au_time_us(until);
	after = 0;
	n = 0;
	i = 0;
	for (;;) {
		r = au_history_page(fd, "KP", NULL, after, 100, since, until);
		assert_null(r->error);
		for (s = 0; s < r->journal->n_entries; s++) {
			uint64_t seq = r->journal->entries[s]->seq;
			int64_t  t;

			/* Skip what is before the range in the export. */
			while (au_time_us(h_json_str(
				   json_array_get(all, i), "time")) < u1)
				i++;
			t = au_time_us(
			    h_json_str(json_array_get(all, i), "time"));
			assert_true(t >= u1 && t < u2);
			assert_int_equal(
			    seq, h_json_int(json_array_get(all, i), "seq"));
			i++;
			n++;
		}
		after = r->journal->next;
		budget__response__free_unpacked(r, NULL);
		if (after == 0)
			break;
	}
	/* Nothing in range was left out. */
	assert_true(i == json_array_size(all) ||
	    au_time_us(h_json_str(json_array_get(all, i), "time")) >= u2);
	assert_true(n > 0);
	json_decref(all);
	close(fd);
}

/* An export of entries since..PAGE_UNTIL, 333 a page. */
static void
export_request(Budget__Request *req, Budget__ExportRequest *er, uint64_t since)
{
	req->version = BUDGET_PROTOCOL_VERSION;
	req->request_id = H_STR("export");
	req->command_case = BUDGET__REQUEST__COMMAND_EXPORT;
	req->export = er;
	er->since = since;
	er->until = PAGE_UNTIL;
	er->limit = 333;
}

/*
 * Raw export pages: since, until and limit; "next" is the first entry of
 * the next page. The JSON-lines export of thousands re-verifies.
 */
static void
test_export_paging(void **state)
{
	struct h_daemon      *d = page_d;
	Budget__Request       req = BUDGET__REQUEST__INIT;
	Budget__ExportRequest er = BUDGET__EXPORT_REQUEST__INIT;
	Budget__Response     *r;
	struct au_head        h;
	char                  path[AU_PATH_SZ], prev[65];
	json_t               *all;
	uint64_t              expect = 100;
	int                   fd = h_connect(d);
	size_t                i;

	(void)state;

	export_request(&req, &er, 100);
	for (;;) {
		r = fx_call(fd, &req);
		assert_null(r->error);
		assert_true(r->journal->n_entries <= 333);
		for (i = 0; i < r->journal->n_entries; i++)
			assert_int_equal(r->journal->entries[i]->seq, expect++);
		assert_true(r->journal->n_columns > 10);
		er.since = r->journal->next;
		budget__response__free_unpacked(r, NULL);
		if (er.since == 0)
			break;
		assert_int_equal(er.since, expect);
	}
	assert_int_equal(expect, PAGE_UNTIL + 1);
	er.since = 1;
	er.until = 0;
	er.limit = 10001;
	r = fx_call(fd, &req);
	assert_non_null(r->error);
	assert_string_equal(r->error->code, "invalid_argument");
	budget__response__free_unpacked(r, NULL);
	close(fd);

	au_need_python();
	au_head(d, &h);
	au_path(d, "page.jsonl", path);
	au_export_verified(d, path, 0, NULL, h.seq, h.hash);
	all = au_jsonl(path);
	snprintf(prev, sizeof(prev), "%s",
	    h_json_str(json_array_get(all, PAGE_SINCE - 2), "hash"));
	json_decref(all);
	au_export_verified(
	    d, path, PAGE_SINCE, prev, h.seq - PAGE_SINCE + 1, h.hash);
}

struct view_cmp {
	const Budget__JournalEntryView *v;
	size_t                          i;
	int                             same;
};

static void
view_cmp_cb(const char *name, const char *value, int number, void *arg)
{
	struct view_cmp            *c = arg;
	const Budget__JournalField *f;

	if (c->i == c->v->n_fields) {
		c->same = 0;
		return;
	}
	f = c->v->fields[c->i++];
	if (strcmp(f->name, name) != 0 || strcmp(f->value, value) != 0 ||
	    f->number != number)
		c->same = 0;
}

/*
 * Export pages of stored entries (raw), as budgetctl export asks for
 * them: limit and "next" as for fields, no fields sent, each entry decodes
 * with its sequence number in order, the chain re-hashes from the first
 * entry on, and each says exactly what the fields of the same entry say.
 */
static void
test_export_stored(void **state)
{
	struct h_daemon           *d = page_d;
	Budget__Request            req = BUDGET__REQUEST__INIT;
	Budget__ExportRequest      er = BUDGET__EXPORT_REQUEST__INIT;
	Budget__Response          *r, *views;
	Budgetstore__JournalEntry *m;
	uint8_t                    prev[32], h[32];
	uint64_t                   expect = 1;
	char                      *canon;
	size_t                     i, len, pages = 0;
	int                        fd = h_connect(d);

	(void)state;
	memset(prev, 0, sizeof(prev));
	export_request(&req, &er, 1);
	for (;;) {
		er.raw = 1;
		r = fx_call(fd, &req);
		assert_null(r->error);
		assert_int_equal(r->journal->n_entries, 0);
		assert_true(r->journal->n_raw > 0 && r->journal->n_raw <= 333);
		/* The same stretch as fields, to compare with. */
		er.raw = 0;
		views = fx_call(fd, &req);
		assert_null(views->error);
		assert_int_equal(views->journal->n_entries, r->journal->n_raw);
		for (i = 0; i < r->journal->n_raw; i++) {
			struct view_cmp c = {views->journal->entries[i], 0, 1};

			m = budgetstore__journal_entry__unpack(NULL,
			    r->journal->raw[i].len, r->journal->raw[i].data);
			assert_non_null(m);
			assert_int_equal(m->seq, expect++);
			assert_int_equal(m->hash.len, 32);
			canon = journal_canonical(m, &len);
			journal_hash(prev, canon, len, h);
			free(canon);
			assert_memory_equal(h, m->hash.data, 32);
			memcpy(prev, h, 32);
			journal_fields(m, view_cmp_cb, &c);
			assert_true(c.same && c.i == c.v->n_fields);
			budgetstore__journal_entry__free_unpacked(m, NULL);
		}
		assert_int_equal(r->journal->next, views->journal->next);
		er.since = r->journal->next;
		budget__response__free_unpacked(views, NULL);
		budget__response__free_unpacked(r, NULL);
		pages++;
		if (er.since == 0)
			break;
		assert_int_equal(er.since, expect);
	}
	assert_int_equal(expect, PAGE_UNTIL + 1);
	assert_true(pages > 1);
	close(fd);
}

/*
 * budgetctl's export takes 10,000 entries a page. Past that the ledger is
 * grown to 10,501 entries; not under AddressSanitizer, where every write
 * costs some 100 times more (LMDB's nested transactions allocate
 * megabytes, which ASan's allocator clears): there the export is one
 * page, and the test still shows it a consistent prefix under writes.
 */
#if defined(__SANITIZE_ADDRESS__)
#define PREFIX_BEFORE (PAGE_AMENDS + 1)
#define PREFIX_DURING 600
#else
#define PREFIX_BEFORE 10501
#define PREFIX_DURING 1500
#endif

/*
 * An export taken while writes go on is one consistent prefix of the
 * journal (entries 1..N, N at least the head when it began), and it
 * re-verifies outside budgetd to the hash that entry N has in a later
 * export. Runs last: it adds to the shared ledger.
 */
static void
test_export_prefix(void **state)
{
	struct h_daemon *d = page_d;
	struct h_proc    p;
	struct au_head   h0, h1;
	char             path[AU_PATH_SZ], later[AU_PATH_SZ], since[32];
	json_t          *v, *all;
	int64_t          n;
	int              st;

	(void)state;
	au_need_python();
	au_head(d, &h0);
	if (h0.seq < PREFIX_BEFORE)
		amend_many(d, (size_t)h0.seq, (size_t)(PREFIX_BEFORE - h0.seq));
	au_head(d, &h0);
	assert_int_equal(h0.seq, PREFIX_BEFORE);
	h_ctl_spawn(&p, d, "export", NULL);
	amend_many(d, (size_t)h0.seq, PREFIX_DURING);
	h_proc_wait(&p, 3 * H_DEADLINE_MS);
	h_proc_expect(&p, 0);
	au_path(d, "prefix.jsonl", path);
	au_write_file(path, p.out, p.out_len);
	h_proc_free(&p);
	au_head(d, &h1);
	assert_int_equal(h1.seq, PREFIX_BEFORE + PREFIX_DURING);

	v = au_verify_journal(path, NULL, &st);
	assert_int_equal(st, 0);
	assert_true(h_json_bool(v, "ok"));
	n = h_json_int(v, "entries");
	assert_true(n >= h0.seq && n <= h1.seq);
	/* Entry N, as a later export from it shows it: the same hash. */
	au_path(d, "later.jsonl", later);
	snprintf(since, sizeof(since), "%lld", (long long)n);
	assert_int_equal(
	    au_ctl_to_file(d, later, NULL, "export", "--since", since, NULL),
	    0);
	all = au_jsonl(later);
	assert_int_equal(json_array_size(all), h1.seq - n + 1);
	assert_string_equal(h_json_str(v, "head_hash"),
	    h_json_str(json_array_get(all, 0), "hash"));
	json_decref(all);
	json_decref(v);
	/* The whole of it, now: JSON lines re-verify, CSV has every entry. */
	au_path(d, "all.jsonl", path);
	au_export_verified(d, path, 0, NULL, h1.seq, h1.hash);
	au_path(d, "all.csv", path);
	assert_int_equal(
	    au_ctl_to_file(d, path, NULL, "export", "--format", "csv", NULL),
	    0);
	{
		size_t      len;
		char       *text = au_read_file(path, &len);
		const char *why = NULL;
		json_t     *csv = au_csv_parse(text, len, &why);
		char        last[32];

		if (csv == NULL)
			h_fail("export --format csv: %s", why);
		assert_int_equal(json_array_size(csv), h1.seq + 1);
		snprintf(last, sizeof(last), "%lld", (long long)h1.seq);
		assert_string_equal(
		    json_string_value(
			json_array_get(json_array_get(csv, (size_t)h1.seq), 0)),
		    last);
		json_decref(csv);
		free(text);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_history_paging_ctl),
	    cmocka_unit_test(test_history_paging_raw),
	    cmocka_unit_test(test_export_paging),
	    cmocka_unit_test(test_export_stored),
	    /* Last: it writes. */
	    cmocka_unit_test(test_export_prefix),
	};

	return (cmocka_run_group_tests_name(
	    "paging", tests, page_setup, page_teardown));
}
