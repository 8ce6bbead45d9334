/*
 * test_audit.c: what an auditor reads (issue #4; SPEC §7): history,
 * balance --as-of and export. Owns:
 *
 * - a scenario of some thirty steps on one contract and a single
 *   undertaking (reserve, approve, amend, pay, refusals, cancel, expiry,
 *   withdraw, close, budget changes, contract close), after every step
 *   recording contract show, status and deminimis show; then balance
 *   --as-of every step's sequence number, and every moment between two
 *   entries, must give back exactly what was shown at that step;
 * - history of a dossier, a company (with everyone in its single
 *   undertaking) and a contract: exactly the entries of the export that
 *   concern it, in journal order, refusals included; --since and --until
 *   (paging over thousands of entries: test_audit_paging.c);
 * - export: JSON lines re-verified by scripts/verify-journal (python3's
 *   hashlib, no budgetd) to the head hash status shows, from the start
 *   and from every seventh entry on; CSV as RFC 4180 with the same fields;
 * - the auditor's role: every read allowed, every change refused and
 *   journaled with who asked.
 *
 * The scenario's ledger is built once (group setup) and only read by the
 * tests that share it; the role test has its own daemon.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"

/* Fictional enterprise numbers (R-ID check digits right). */
#define CO_A "0200101397"
#define CO_B "0200202654"
#define CO_C "0200303911"
#define CO_E "0200405265"

/* A name and a reason that exercise the canonical form's escaping. */
#define NAME_C   "Caf\xc3\xa9 100% \"Zuid\", BV"
#define REASON_K "addendum #2 \xe2\x80\x94 100% signed"

#define SCEN_MAX 64

/* What the ledger showed after one step. */
struct snap {
	int64_t seq;
	json_t *contract; /* contract show K; NULL: not open yet */
	json_t *dm[4]; /* deminimis show A, B, C, E on scen.today; NULL: none */
	char    what[64];
	int     torn; /* the journal moved while it was being recorded */
};

static struct {
	struct h_daemon *d;
	struct snap      s[SCEN_MAX];
	int              n;
	char             today[FX_DATE_SZ];
	json_t          *journal; /* the export, one object per entry */
	struct au_head   head;
} scen;

#define SCEN_DM 4
static const char *const scen_dm[SCEN_DM] = {CO_A, CO_B, CO_C, CO_E};

/* Record what the ledger shows now, after the step called what. */
static void
scen_snap(const char *what)
{
	struct snap *s = &scen.s[scen.n];
	json_t      *j;
	int          i, st;

	if (scen.n == SCEN_MAX)
		h_fail("scenario: too many steps");
	memset(s, 0, sizeof(*s));
	s->seq = au_seq(scen.d);
	snprintf(s->what, sizeof(s->what), "%s", what);
	j = au_ctl_json_try(scen.d, &st, "contract", "show", "K", NULL);
	if (st == 0)
		s->contract = j;
	else {
		assert_int_equal(st, 1);
		assert_string_equal(h_json_str(j, "error.code"), "not_found");
		json_decref(j);
	}
	for (i = 0; i < SCEN_DM; i++) {
		j = au_ctl_json_try(scen.d, &st, "deminimis", "show",
		    scen_dm[i], "--on", scen.today, NULL);
		if (st == 0)
			s->dm[i] = j;
		else {
			assert_int_equal(st, 1);
			assert_string_equal(
			    h_json_str(j, "error.code"), "not_found");
			json_decref(j);
		}
	}
	/*
	 * Only the daemon's expiry of D4 (due a moment after it was
	 * reserved) may come in between: then what was shown may be from
	 * either side of it, and the comparisons leave this step out.
	 */
	if (au_seq(scen.d) != s->seq ||
	    (scen.n > 0 && s->seq == scen.s[scen.n - 1].seq + 2)) {
		if (strcmp(what, "reserve D4") != 0)
			h_fail("scenario step %s: the journal moved by itself",
			    what);
		s->torn = 1;
		s->seq = scen.s[scen.n - 1].seq + 1;
	}
	/* Every step moved the journal by one entry. */
	if (scen.n > 0 && s->seq != scen.s[scen.n - 1].seq + 1)
		h_fail("scenario step %s: journal at %lld after %lld", what,
		    (long long)s->seq, (long long)scen.s[scen.n - 1].seq);
	scen.n++;
}

/*
 * One step: budgetctl --json ARGS must be done (code NULL) or refused
 * with code; then record what the ledger shows.
 */
static void
scen_step(const char *what, const char *code, ...)
{
	const char   *argv[48], *a;
	struct h_proc p;
	va_list       ap;
	size_t        n = 0;

	argv[n++] = BUDGETCTL_PATH;
	argv[n++] = "-s";
	argv[n++] = scen.d->sock;
	argv[n++] = "--json";
	va_start(ap, code);
	while ((a = va_arg(ap, const char *)) != NULL && n < 47)
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	au_run(&p, argv);
	if (p.status != (code == NULL ? 0 : 1) ||
	    (code != NULL &&
		strcmp(h_json_str(h_json(&p), "error.code"), code) != 0)) {
		print_error("stdout: %s\nstderr: %s\n", p.out, p.err);
		h_fail("scenario step %s: exit %d, expected %s", what, p.status,
		    code != NULL ? code : "done");
	}
	h_proc_free(&p);
	scen_snap(what);
}

/* Wait (up to the harness deadline) until the daemon expired dossier id. */
static void
scen_wait_expired(const char *id)
{
	int64_t deadline = h_now_ms() + H_DEADLINE_MS;
	char    state[32];

	for (;;) {
		json_t *j = au_ctl_json(scen.d, 0, "dossier", "show", id, NULL);

		snprintf(state, sizeof(state), "%s", h_json_str(j, "state"));
		json_decref(j);
		if (strcmp(state, "expired") == 0)
			break;
		if (h_now_ms() > deadline)
			h_fail("dossier %s did not expire (%s)", id, state);
		h_sleep_ms(100);
	}
}

static int
scen_setup(void **state)
{
	char d90[FX_DATE_SZ], d80[FX_DATE_SZ], d70[FX_DATE_SZ], d10[FX_DATE_SZ],
	    d5[FX_DATE_SZ], d400[FX_DATE_SZ], path[AU_PATH_SZ];

	(void)state;
	memset(&scen, 0, sizeof(scen));
	scen.d = h_daemon_up(NULL);
	fx_date_ago(0, scen.today);
	fx_date_ago(400, d400);
	fx_date_ago(90, d90);
	fx_date_ago(80, d80);
	fx_date_ago(70, d70);
	fx_date_ago(10, d10);
	fx_date_ago(5, d5);
	fx_rules_load(scen.d);
	scen_snap("rules load");
	scen_step("open", NULL, "contract", "open", "K", "--provider",
	    "Provider K", "--framework", "FW2", "--budget", "100000", NULL);
	scen_step("add A", NULL, "company", "add", CO_A, "--name", "A",
	    "--postcode", "9000", "--size", "small", NULL);
	scen_step("add B", NULL, "company", "add", CO_B, "--name", "B",
	    "--postcode", "2000", "--size", "micro", NULL);
	scen_step("link A B", NULL, "company", "link", CO_A, CO_B, "--since",
	    d400, NULL);
	scen_step("reserve D1", NULL, "dossier", "reserve", "D1", "--company",
	    CO_A, "--contract", "K", "--package", "MEDIUM", "--cost", "18000",
	    "--date", d90, NULL);
	scen_step("approve D1", NULL, "dossier", "approve", "D1",
	    "--decision-date", d80, NULL);
	scen_step("amend D1", NULL, "dossier", "amend", "D1",
	    "--extension-cost", "4000", NULL);
	scen_step("approve D1 amendment", NULL, "dossier", "approve", "D1",
	    "--decision-date", d70, NULL);
	scen_step(
	    "pay D1", NULL, "dossier", "pay", "D1", "--amount", "3000", NULL);
	scen_step("overpay D1", "amount_exceeds_commitment", "dossier", "pay",
	    "D1", "--amount", "100000", NULL);
	scen_step("raise K", NULL, "contract", "amend", "K", "--budget",
	    "120000", "--reason", REASON_K, NULL);
	scen_step("lower K too far", "budget_below_usage", "contract", "amend",
	    "K", "--budget", "1", "--reason", "cut", NULL);
	scen_step("reserve D2 for B", "exclusion_period", "dossier", "reserve",
	    "D2", "--company", CO_B, "--contract", "K", "--package", "START",
	    "--cost", "10000", NULL);
	scen_step("add C", NULL, "company", "add", CO_C, "--name", NAME_C,
	    "--postcode", "3000", "--size", "medium", NULL);
	scen_step("reserve D3", NULL, "dossier", "reserve", "D3", "--company",
	    CO_C, "--contract", "K", "--package", "PLUS", "--cost", "30000",
	    NULL);
	scen_step("cancel D3", NULL, "dossier", "cancel", "D3", "--reason",
	    "quote withdrawn", NULL);
	scen_step("reserve D4", NULL, "dossier", "reserve", "D4", "--company",
	    CO_C, "--contract", "K", "--package", "PLUS", "--cost", "30000",
	    "--ttl", "2s", NULL);
	scen_wait_expired("D4");
	scen_snap("D4 expired");
	scen_step("lower K", NULL, "contract", "amend", "K", "--budget",
	    "20000", "--reason", "cut", NULL);
	scen_step("reserve D5 over budget", "contract_budget_exceeded",
	    "dossier", "reserve", "D5", "--company", CO_C, "--contract", "K",
	    "--package", "PLUS", "--cost", "30000", NULL);
	scen_step("raise K again", NULL, "contract", "amend", "K", "--budget",
	    "60000", "--reason", "addendum 3", NULL);
	scen_step("reserve D5", NULL, "dossier", "reserve", "D5", "--company",
	    CO_C, "--contract", "K", "--package", "MEDIUM", "--cost", "20000",
	    "--date", d10, NULL);
	scen_step("approve D5", NULL, "dossier", "approve", "D5",
	    "--decision-date", d5, NULL);
	scen_step(
	    "pay D5", NULL, "dossier", "pay", "D5", "--amount", "4000", NULL);
	scen_step("withdraw D5", NULL, "dossier", "withdraw", "D5", "--reason",
	    "not an SME after all", NULL);
	scen_step("complete D1", NULL, "dossier", "complete", "D1", NULL);
	scen_step("close D1", NULL, "dossier", "close", "D1", NULL);
	scen_step("close K", NULL, "contract", "close", "K", "--reason",
	    "framework ended", NULL);
	scen_step("add E", NULL, "company", "add", CO_E, "--name", "E",
	    "--postcode", "8000", "--size", "small", NULL);
	/* Aid of E's, and then E joins C's undertaking (long before). */
	scen_step("declare E", NULL, "deminimis", "declare", CO_E, "--amount",
	    "1000", "--granted", d10, "--source", "kmo-portefeuille", NULL);
	scen_step("link C E", NULL, "company", "link", CO_C, CO_E, "--since",
	    d400, NULL);
	scen_step("reserve D6 on closed K", "contract_closed", "dossier",
	    "reserve", "D6", "--company", CO_E, "--contract", "K", "--package",
	    "START", "--cost", "10000", NULL);
	fx_verify_ok(scen.d);

	/* The whole journal, re-verified outside budgetd, for reference. */
	au_head(scen.d, &scen.head);
	assert_int_equal(scen.head.seq, scen.s[scen.n - 1].seq);
	if (BUDGET_PYTHON3[0] != '\0') {
		au_path(scen.d, "journal.jsonl", path);
		au_export_verified(
		    scen.d, path, 0, NULL, scen.head.seq, scen.head.hash);
		scen.journal = au_jsonl(path);
	} else {
		au_path(scen.d, "journal.jsonl", path);
		assert_int_equal(
		    au_ctl_to_file(scen.d, path, NULL, "export", NULL), 0);
		scen.journal = au_jsonl(path);
	}
	assert_int_equal(json_array_size(scen.journal), scen.head.seq);
	return (0);
}

static int
scen_teardown(void **state)
{
	int i, k;

	(void)state;
	h_daemon_teardown(scen.d);
	for (i = 0; i < scen.n; i++) {
		json_decref(scen.s[i].contract);
		for (k = 0; k < SCEN_DM; k++)
			json_decref(scen.s[i].dm[k]);
	}
	json_decref(scen.journal);
	memset(&scen, 0, sizeof(scen));
	return (0);
}

/* The step whose recorded sequence number is seq. */
static const struct snap *
scen_at(int64_t seq)
{
	int i;

	for (i = 0; i < scen.n; i++)
		if (scen.s[i].seq == seq)
			return (&scen.s[i]);
	h_fail("no step ended at entry %lld", (long long)seq);
}

/* The export's entry seq. */
static json_t *
scen_entry(int64_t seq)
{
	json_t *e = json_array_get(scen.journal, (size_t)(seq - 1));

	if (e == NULL || h_json_int(e, "seq") != seq)
		h_fail("the export has no entry %lld in its place",
		    (long long)seq);
	return (e);
}

/* A contract as balance shows it, against contract show at a step. */
static void
contract_same(json_t *bal, json_t *show, const char *what)
{
	static const char *const fields[] = {"id", "provider", "framework",
	    "budget_cents", "reserved_cents", "committed_cents", "paid_cents",
	    "available_cents", "closed", "dossiers"};
	size_t                   i;

	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		json_t *a = json_object_get(bal, fields[i]);
		json_t *b = json_object_get(show, fields[i]);

		if (a == NULL || b == NULL || !json_equal(a, b)) {
			char *x = json_dumps(bal, JSON_COMPACT);
			char *y = json_dumps(show, JSON_COMPACT);

			print_error("balance:  %s\nshown:    %s\n", x, y);
			free(x);
			free(y);
			h_fail("%s: %s differs", what, fields[i]);
		}
	}
}

static void
dm_same(json_t *bal, json_t *show, const char *what)
{
	static const char *const fields[] = {"number", "on", "ceiling_cents",
	    "used_cents", "pending_cents", "available_cents", "window_start",
	    "window_end"};
	size_t                   i;

	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		json_t *a = json_object_get(bal, fields[i]);
		json_t *b = json_object_get(show, fields[i]);

		if (a == NULL || b == NULL || !json_equal(a, b)) {
			char *x = json_dumps(bal, JSON_COMPACT);
			char *y = json_dumps(show, JSON_COMPACT);

			print_error("balance:  %s\nshown:    %s\n", x, y);
			free(x);
			free(y);
			h_fail("%s: %s differs", what, fields[i]);
		}
	}
}

/* ------------------------------------------------------------------ */
/* balance --as-of                                                    */

/*
 * balance --contract K --as-of SEQ at every step is what contract show
 * said at that step; before the contract was opened, not_found.
 */
static void
test_balance_contract_seq(void **state)
{
	char    seq[32], what[128];
	json_t *j;
	int     i, st;

	(void)state;
	for (i = 0; i < scen.n; i++) {
		snprintf(seq, sizeof(seq), "%lld", (long long)scen.s[i].seq);
		j = au_ctl_json_try(scen.d, &st, "balance", "--contract", "K",
		    "--as-of", seq, NULL);
		if (i == 0) {
			/* Before "contract open". */
			assert_int_equal(st, 1);
			assert_string_equal(
			    h_json_str(j, "error.code"), "not_found");
			json_decref(j);
			continue;
		}
		if (st != 0)
			h_fail("balance --as-of %s: exit %d", seq, st);
		snprintf(what, sizeof(what), "balance --as-of %s (after %s)",
		    seq, scen.s[i].what);
		if (!scen.s[i].torn)
			contract_same(j, scen.s[i].contract, what);
		/* It stopped at the last entry of K at or before seq. */
		assert_true(h_json_int(j, "as_of_seq") <= scen.s[i].seq);
		assert_string_equal(
		    h_json_str(
			scen_entry(h_json_int(j, "as_of_seq")), "contract"),
		    "K");
		assert_string_equal(h_json_str(j, "as_of"),
		    h_json_str(scen_entry(h_json_int(j, "as_of_seq")), "time"));
		json_decref(j);
	}
	/* Past the head: the contract as it stands. */
	snprintf(seq, sizeof(seq), "%lld", (long long)scen.head.seq + 1000);
	j = au_ctl_json(
	    scen.d, 0, "balance", "--contract", "K", "--as-of", seq, NULL);
	contract_same(j, scen.s[scen.n - 1].contract, "past the head");
	json_decref(j);
}

/*
 * balance --as-of TIME: at the time of an entry of K, the state after it;
 * a microsecond before the next entry of K, still that state.
 */
static void
test_balance_contract_time(void **state)
{
	json_t     *h, *ents, *j;
	char        at[40], what[160];
	const char *t;
	size_t      i;
	int64_t     us, next_us;
	int         st;

	(void)state;
	h = au_ctl_json(scen.d, 0, "history", "--contract", "K", NULL);
	ents = h_json_get(h, "entries");
	assert_true(json_array_size(ents) > 20);
	for (i = 0; i < json_array_size(ents); i++) {
		json_t *e = json_array_get(ents, i);
		int64_t seq = h_json_int(e, "seq");

		t = h_json_str(e, "time");
		us = au_time_us(t);
		/* Entries sharing a time are all in at that time. */
		if (i + 1 < json_array_size(ents) &&
		    au_time_us(
			h_json_str(json_array_get(ents, i + 1), "time")) == us)
			continue;
		j = au_ctl_json(scen.d, 0, "balance", "--contract", "K",
		    "--as-of", t, NULL);
		snprintf(what, sizeof(what), "balance --as-of %s (entry %lld)",
		    t, (long long)seq);
		if (!scen_at(seq)->torn)
			contract_same(j, scen_at(seq)->contract, what);
		assert_int_equal(h_json_int(j, "as_of_seq"), seq);
		json_decref(j);
		if (i + 1 == json_array_size(ents))
			break;
		next_us =
		    au_time_us(h_json_str(json_array_get(ents, i + 1), "time"));
		if (next_us - 1 <= us)
			continue;
		au_time_str(next_us - 1, at, sizeof(at));
		j = au_ctl_json(scen.d, 0, "balance", "--contract", "K",
		    "--as-of", at, NULL);
		snprintf(what, sizeof(what), "balance --as-of %s (before %lld)",
		    at,
		    (long long)h_json_int(json_array_get(ents, i + 1), "seq"));
		if (!scen_at(seq)->torn)
			contract_same(j, scen_at(seq)->contract, what);
		json_decref(j);
	}
	/* Before the first entry: not yet open. */
	t = h_json_str(json_array_get(ents, 0), "time");
	au_time_str(au_time_us(t) - 1, at, sizeof(at));
	j = au_ctl_json_try(
	    scen.d, &st, "balance", "--contract", "K", "--as-of", at, NULL);
	assert_int_equal(st, 1);
	assert_string_equal(h_json_str(j, "error.code"), "not_found");
	json_decref(j);
	/* A date is midnight in Brussels: the year 2100 is after it all. */
	j = au_ctl_json(scen.d, 0, "balance", "--contract", "K", "--as-of",
	    "2100-01-01", NULL);
	contract_same(j, scen.s[scen.n - 1].contract, "as of 2100-01-01");
	json_decref(j);
	json_decref(h);
}

/*
 * balance --company N --as-of SEQ --on TODAY is what deminimis show N
 * --on TODAY said at that step: used, pending, available, for A and B
 * (one undertaking from the start) and for C and E (one from a link made
 * late, after aid of E's: before it, C's position does not have it).
 */
static void
test_balance_company(void **state)
{
	char    seq[32], what[160];
	json_t *j;
	int     i, k, st;

	(void)state;
	for (i = 0; i < scen.n; i++) {
		if (scen.s[i].torn)
			continue;
		snprintf(seq, sizeof(seq), "%lld", (long long)scen.s[i].seq);
		for (k = 0; k < SCEN_DM; k++) {
			j = au_ctl_json_try(scen.d, &st, "balance", "--company",
			    scen_dm[k], "--as-of", seq, "--on", scen.today,
			    NULL);
			snprintf(what, sizeof(what),
			    "balance --company %s --as-of %s (after %s)",
			    scen_dm[k], seq, scen.s[i].what);
			if (scen.s[i].dm[k] == NULL) {
				/*
				 * Not added yet. B and E answer (a company
				 * of their later undertaking had entries):
				 * test_regress_audit.c has that one.
				 */
				if (st == 0 && (k == 1 || k == 3)) {
					json_decref(j);
					continue;
				}
				if (st != 1 ||
				    strcmp(h_json_str(j, "error.code"),
					"not_found") != 0)
					h_fail("%s: exit %d, expected "
					       "not_found",
					    what, st);
				json_decref(j);
				continue;
			}
			if (st != 0)
				h_fail("%s: exit %d", what, st);
			dm_same(j, scen.s[i].dm[k], what);
			json_decref(j);
		}
	}
	/* The link brought E's aid into C's position (and C's into E's). */
	for (i = 1; i < scen.n; i++) {
		if (strcmp(scen.s[i].what, "link C E") != 0)
			continue;
		assert_int_equal(h_json_int(scen.s[i].dm[2], "used_cents"),
		    h_json_int(scen.s[i - 1].dm[2], "used_cents") + 100000);
		assert_int_equal(h_json_int(scen.s[i].dm[3], "used_cents"),
		    h_json_int(scen.s[i].dm[2], "used_cents"));
		return;
	}
	h_fail("no step \"link C E\"");
}

/* What balance takes: one of --contract or --company, an --as-of. */
static void
test_balance_usage(void **state)
{
	json_t *j;
	int     st;

	(void)state;
	j = fx_ctl_json_try(scen.d, &st, "balance", "--contract", "K", NULL);
	assert_int_equal(st, 2);
	json_decref(j);
	j = fx_ctl_json_try(scen.d, &st, "balance", "--contract", "K",
	    "--company", CO_A, "--as-of", "3", NULL);
	assert_int_equal(st, 2);
	json_decref(j);
	j = fx_ctl_json_try(
	    scen.d, &st, "balance", "--contract", "K", "--as-of", "0", NULL);
	assert_int_equal(st, 2);
	json_decref(j);
	j = fx_ctl_json_try(
	    scen.d, &st, "balance", "--contract", "NOPE", "--as-of", "3", NULL);
	assert_int_equal(st, 1);
	assert_string_equal(h_json_str(j, "error.code"), "not_found");
	json_decref(j);
	j = fx_ctl_json_try(scen.d, &st, "balance", "--contract", "K",
	    "--as-of", "2024-02-30", NULL);
	assert_int_equal(st, 1);
	assert_string_equal(h_json_str(j, "error.code"), "invalid_argument");
	json_decref(j);
}

/* ------------------------------------------------------------------ */
/* history                                                            */

/* Does the export's entry concern these companies (either field)? */
static int
entry_of_companies(json_t *e, const char *const *cos, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		json_t *a = json_object_get(e, "company");
		json_t *b = json_object_get(e, "company2");

		if ((a != NULL && strcmp(json_string_value(a), cos[i]) == 0) ||
		    (b != NULL && strcmp(json_string_value(b), cos[i]) == 0))
			return (1);
	}
	return (0);
}

/*
 * history --json ARGS must list exactly the export's entries for which
 * want() holds, between since and until (microseconds; 0: open), in
 * order, each with the export's fields and hash, an actor, and count.
 * Returns the history (json_decref it).
 */
static json_t *
history_check(const char *what, int (*want)(json_t *, const void *),
    const void *arg, int64_t since, int64_t until, ...)
{
	const char   *argv[32], *a;
	struct h_proc p;
	json_t       *h, *ents, *e, *x, *ev;
	const char   *key;
	va_list       ap;
	size_t        n = 0, i, k = 0;
	int64_t       t;

	argv[n++] = BUDGETCTL_PATH;
	argv[n++] = "-s";
	argv[n++] = scen.d->sock;
	argv[n++] = "--json";
	argv[n++] = "history";
	va_start(ap, until);
	while ((a = va_arg(ap, const char *)) != NULL && n < 31)
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	h_run(&p, argv);
	h_proc_expect(&p, 0);
	h = json_incref(h_json(&p));
	h_proc_free(&p);
	ents = h_json_get(h, "entries");
	assert_true(json_is_array(ents));
	for (i = 0; i < json_array_size(scen.journal); i++) {
		e = json_array_get(scen.journal, i);
		t = au_time_us(h_json_str(e, "time"));
		if (!want(e, arg) || (since != 0 && t < since) ||
		    (until != 0 && t >= until))
			continue;
		x = json_array_get(ents, k++);
		if (x == NULL)
			h_fail("%s: entry %lld is missing", what,
			    (long long)h_json_int(e, "seq"));
		if (h_json_int(x, "seq") != h_json_int(e, "seq"))
			h_fail("%s: entry %lld where %lld belongs", what,
			    (long long)h_json_int(x, "seq"),
			    (long long)h_json_int(e, "seq"));
		json_object_foreach(e, key, ev) {
			json_t *v = json_object_get(x, key);

			if (v == NULL || !json_equal(v, ev))
				h_fail("%s: entry %lld: %s differs from the "
				       "export",
				    what, (long long)h_json_int(e, "seq"), key);
		}
		assert_int_equal(json_object_size(x), json_object_size(e) + 1);
		assert_true(json_is_string(json_object_get(x, "actor")));
	}
	if (k != json_array_size(ents))
		h_fail("%s: %zu entries, the export has %zu of them", what,
		    json_array_size(ents), k);
	assert_int_equal(h_json_int(h, "count"), (json_int_t)k);
	assert_false(h_json_bool(h, "more"));
	return (h);
}

static int
want_field(json_t *e, const void *arg)
{
	const char *const *kv = arg;
	json_t            *v = json_object_get(e, kv[0]);

	return (v != NULL && strcmp(json_string_value(v), kv[1]) == 0);
}

static int
want_companies(json_t *e, const void *arg)
{
	const char *const *cos = arg;
	size_t             n = 0;

	while (cos[n] != NULL)
		n++;
	return (entry_of_companies(e, cos, n));
}

/* One refusal with this error code among the entries. */
static void
has_refusal(json_t *h, const char *code)
{
	json_t *ents = h_json_get(h, "entries"), *e;
	size_t  i;

	for (i = 0; i < json_array_size(ents); i++) {
		e = json_array_get(ents, i);
		if (strcmp(h_json_str(e, "kind"), "refused") == 0 &&
		    json_is_string(json_object_get(e, "error")) &&
		    strcmp(h_json_str(e, "error"), code) == 0)
			return;
	}
	h_fail("history has no refusal %s", code);
}

/* History of a dossier and of a contract: their entries, refusals too. */
static void
test_history_dossier_contract(void **state)
{
	static const char *const d1[] = {"dossier", "D1"};
	static const char *const d5[] = {"dossier", "D5"};
	static const char *const k[] = {"contract", "K"};
	json_t                  *h;
	struct h_proc            p;
	int                      st;

	(void)state;
	h = history_check("history --dossier D1", want_field, d1, 0, 0,
	    "--dossier", "D1", NULL);
	/* reserve, approve, amend, approve, pay, refused pay, complete,
	 * close */
	assert_int_equal(json_array_size(h_json_get(h, "entries")), 8);
	assert_string_equal(h_json_str(h, "entries.0.kind"), "dossier_reserve");
	has_refusal(h, "amount_exceeds_commitment");
	assert_null(h_json_get(h, "companies"));
	json_decref(h);
	json_decref(history_check("history --dossier D5", want_field, d5, 0, 0,
	    "--dossier", "D5", NULL));

	h = history_check("history --contract K", want_field, k, 0, 0,
	    "--contract", "K", NULL);
	assert_string_equal(h_json_str(h, "entries.0.kind"), "contract_open");
	has_refusal(h, "amount_exceeds_commitment");
	has_refusal(h, "budget_below_usage");
	has_refusal(h, "exclusion_period");
	has_refusal(h, "contract_budget_exceeded");
	has_refusal(h, "contract_closed");
	json_decref(h);

	/* The text form: one line per entry, refusals named. */
	h_ctl(&p, scen.d, "history", "--contract", "K", NULL);
	h_proc_expect(&p, 0);
	assert_non_null(strstr(p.out, "refused: contract_closed"));
	assert_non_null(strstr(p.out, "dossier_expire"));
	h_proc_free(&p);
	/* Unknown entities; exactly one of the three. */
	h = au_ctl_json_try(scen.d, &st, "history", "--dossier", "NOPE", NULL);
	assert_int_equal(st, 1);
	assert_string_equal(h_json_str(h, "error.code"), "not_found");
	json_decref(h);
	h = au_ctl_json_try(scen.d, &st, "history", NULL);
	assert_int_equal(st, 2);
	json_decref(h);
	h = au_ctl_json_try(
	    scen.d, &st, "history", "--dossier", "D1", "--contract", "K", NULL);
	assert_int_equal(st, 2);
	json_decref(h);
}

/*
 * History of a company: its own entries and those of every company in its
 * single undertaking (A controls B), named in "companies".
 */
static void
test_history_company(void **state)
{
	static const char *const ab[] = {CO_A, CO_B, NULL};
	static const char *const ce[] = {CO_C, CO_E, NULL};
	json_t                  *h, *cos;
	size_t                   i;
	int                      seen_a = 0, seen_b = 0;

	(void)state;
	for (i = 0; i < 2; i++) {
		h = history_check("history --company", want_companies, ab, 0, 0,
		    "--company", i == 0 ? CO_A : CO_B, NULL);
		cos = h_json_get(h, "companies");
		assert_true(json_is_array(cos));
		assert_int_equal(json_array_size(cos), 2);
		seen_a = seen_b = 0;
		for (size_t k = 0; k < 2; k++) {
			const char *s =
			    json_string_value(json_array_get(cos, k));

			seen_a += strcmp(s, CO_A) == 0;
			seen_b += strcmp(s, CO_B) == 0;
		}
		assert_int_equal(seen_a, 1);
		assert_int_equal(seen_b, 1);
		/* B's refused reservation is in A's history too. */
		has_refusal(h, "exclusion_period");
		json_decref(h);
	}
	/* Typed with dots and BE: the same company; E joined it late. */
	h = history_check("history --company C", want_companies, ce, 0, 0,
	    "--company", "BE 0200.303.911", NULL);
	assert_int_equal(json_array_size(h_json_get(h, "companies")), 2);
	has_refusal(h, "contract_budget_exceeded");
	json_decref(h);
}

/* --since (inclusive) and --until (exclusive), as times and dates. */
static void
test_history_since_until(void **state)
{
	static const char *const k[] = {"contract", "K"};
	static const char *const ab[] = {CO_A, CO_B, NULL};
	json_t                  *ents, *h;
	const char              *t1, *t2;
	int64_t                  u1, u2;
	size_t                   n;

	(void)state;
	h = au_ctl_json(scen.d, 0, "history", "--contract", "K", NULL);
	ents = h_json_get(h, "entries");
	n = json_array_size(ents);
	assert_true(n > 12);
	t1 = h_json_str(json_array_get(ents, 4), "time");
	t2 = h_json_str(json_array_get(ents, n - 5), "time");
	u1 = au_time_us(t1);
	u2 = au_time_us(t2);
	json_decref(history_check("--since", want_field, k, u1, 0, "--contract",
	    "K", "--since", t1, NULL));
	json_decref(history_check("--until", want_field, k, 0, u2, "--contract",
	    "K", "--until", t2, NULL));
	json_decref(history_check("--since --until", want_field, k, u1, u2,
	    "--contract", "K", "--since", t1, "--until", t2, NULL));
	/* An empty range, and ranges that hold everything or nothing. */
	json_decref(history_check("since = until", want_field, k, u1, u1,
	    "--contract", "K", "--since", t1, "--until", t1, NULL));
	json_decref(history_check("since 2000", want_companies, ab, 0, 0,
	    "--company", CO_A, "--since", "2000-01-01", NULL));
	json_decref(h);
	h = au_ctl_json(scen.d, 0, "history", "--contract", "K", "--since",
	    "2100-01-01", NULL);
	assert_int_equal(json_array_size(h_json_get(h, "entries")), 0);
	assert_int_equal(h_json_int(h, "count"), 0);
	json_decref(h);
	h = au_ctl_json(scen.d, 0, "history", "--contract", "K", "--until",
	    "2000-01-01", NULL);
	assert_int_equal(json_array_size(h_json_get(h, "entries")), 0);
	json_decref(h);
	h = au_ctl_json(scen.d, 0, "history", "--contract", "K", "--since",
	    "2000-01-01", "--until", "2100-01-01", NULL);
	assert_int_equal(json_array_size(h_json_get(h, "entries")), n);
	json_decref(h);
}

/* ------------------------------------------------------------------ */
/* export                                                             */

/*
 * export --since N re-verifies from the hash of entry N-1 to the same
 * head; export --since 1 is the whole export; past the head, nothing.
 */
static void
test_export_since(void **state)
{
	char    path[AU_PATH_SZ], full[AU_PATH_SZ], *a, *b;
	int64_t since;
	size_t  la, lb;
	int     st;
	json_t *v;

	(void)state;
	au_need_python();
	au_path(scen.d, "since.jsonl", path);
	for (since = 2; since <= scen.head.seq; since += 7) {
		const char *prev = h_json_str(scen_entry(since - 1), "hash");

		au_export_verified(scen.d, path, since, prev,
		    scen.head.seq - since + 1, scen.head.hash);
	}
	/* The wrong predecessor does not verify. */
	au_ctl_to_file(scen.d, path, NULL, "export", "--since", "5", NULL);
	v = au_verify_journal(path, h_json_str(scen_entry(3), "hash"), &st);
	assert_int_equal(st, 1);
	assert_false(h_json_bool(v, "ok"));
	assert_int_equal(h_json_int(v, "first_bad_seq"), 5);
	json_decref(v);
	/* --since 1 is the whole journal, byte for byte. */
	au_path(scen.d, "journal.jsonl", full);
	assert_int_equal(
	    au_ctl_to_file(scen.d, path, NULL, "export", "--since", "1", NULL),
	    0);
	a = au_read_file(path, &la);
	b = au_read_file(full, &lb);
	assert_int_equal(la, lb);
	assert_memory_equal(a, b, la);
	free(a);
	free(b);
	/* Past the head: no entries. */
	{
		char s[32];

		snprintf(s, sizeof(s), "%lld", (long long)scen.head.seq + 1);
		assert_int_equal(au_ctl_to_file(scen.d, path, NULL, "export",
				     "--since", s, NULL),
		    0);
		a = au_read_file(path, &la);
		assert_int_equal(la, 0);
		free(a);
	}
}

/*
 * export --format csv: RFC 4180 (a strict reader and Python's csv agree),
 * a header of every field with seq first and hash last, one record per
 * entry whose non-empty cells are exactly the JSON line's fields.
 */
static void
test_export_csv(void **state)
{
	char        path[AU_PATH_SZ], *text;
	const char *why = NULL, *key;
	json_t     *csv, *py, *head, *rec, *e, *v;
	size_t      len, i, c, ncol, filled;

	(void)state;
	au_path(scen.d, "journal.csv", path);
	assert_int_equal(au_ctl_to_file(scen.d, path, NULL, "export",
			     "--format", "csv", NULL),
	    0);
	text = au_read_file(path, &len);
	if ((csv = au_csv_parse(text, len, &why)) == NULL)
		h_fail("export --format csv is not RFC 4180: %s", why);
	free(text);
	if (BUDGET_PYTHON3[0] != '\0') {
		py = au_csv_python(path);
		assert_true(json_equal(csv, py));
		json_decref(py);
	}
	assert_int_equal(json_array_size(csv), scen.head.seq + 1);
	head = json_array_get(csv, 0);
	ncol = json_array_size(head);
	assert_true(ncol > 10);
	assert_string_equal(json_string_value(json_array_get(head, 0)), "seq");
	assert_string_equal(
	    json_string_value(json_array_get(head, ncol - 1)), "hash");
	for (i = 1; i < json_array_size(csv); i++) {
		rec = json_array_get(csv, i);
		e = scen_entry((int64_t)i);
		assert_int_equal(json_array_size(rec), ncol);
		filled = 0;
		for (c = 0; c < ncol; c++) {
			const char *cell =
			    json_string_value(json_array_get(rec, c));
			char num[32];

			key = json_string_value(json_array_get(head, c));
			if (*cell == '\0')
				continue;
			filled++;
			if ((v = json_object_get(e, key)) == NULL)
				h_fail("csv record %zu: %s is not in the JSON "
				       "line",
				    i, key);
			if (json_is_integer(v)) {
				snprintf(num, sizeof(num), "%lld",
				    (long long)json_integer_value(v));
				assert_string_equal(cell, num);
			} else
				assert_string_equal(cell, json_string_value(v));
		}
		assert_int_equal(filled, json_object_size(e));
	}
	json_decref(csv);
}

/* The export's content: the escapes survived, the head is status's. */
static void
test_export_content(void **state)
{
	json_t     *last;
	size_t      i;
	int         name = 0, reason = 0;
	const char *key, *last_key;
	json_t     *v;

	(void)state;
	last = json_array_get(scen.journal, json_array_size(scen.journal) - 1);
	assert_string_equal(h_json_str(last, "hash"), scen.head.hash);
	for (i = 0; i < json_array_size(scen.journal); i++) {
		json_t *e = json_array_get(scen.journal, i);

		assert_int_equal(h_json_int(e, "seq"), (json_int_t)i + 1);
		/* "hash" is the last field, after "seq" first. */
		last_key = NULL;
		json_object_foreach(e, key, v) {
			if (last_key == NULL)
				assert_string_equal(key, "seq");
			last_key = key;
		}
		assert_non_null(last_key);
		assert_string_equal(last_key, "hash");
		if (json_is_string(json_object_get(e, "name")) &&
		    strcmp(h_json_str(e, "name"), NAME_C) == 0)
			name++;
		if (json_is_string(json_object_get(e, "reason")) &&
		    strcmp(h_json_str(e, "reason"), REASON_K) == 0)
			reason++;
	}
	assert_int_equal(name, 1);
	assert_int_equal(reason, 1);
}

/* ------------------------------------------------------------------ */
/* Auditors                                                           */

/*
 * An auditor reads everything (status, history, balance, export, report,
 * drawdown, verify) and changes nothing: a mutation is refused with
 * permission_denied, and the refusal is journaled with who asked.
 */
static void
test_auditor_role(void **state)
{
	struct h_daemon         *d;
	json_t                  *j, *last;
	char                     path[AU_PATH_SZ];
	struct au_head           h0, h1;
	size_t                   i;
	static const char *const reads[][8] = {
	    {"status", NULL},
	    {"history", "--dossier", "D1", NULL},
	    {"history", "--contract", "K", NULL},
	    {"history", "--company", AU_CO_X, NULL},
	    {"balance", "--contract", "K", "--as-of", "3", NULL},
	    {"balance", "--company", AU_CO_X, "--as-of", "5", NULL},
	    {"report", "--by", "year,category", NULL},
	    {"drawdown", "--contract", "K", NULL},
	    {"verify", NULL},
	};

	d = au_auditor_ledger_up(state);
	au_head(d, &h0);

	for (i = 0; i < sizeof(reads) / sizeof(reads[0]); i++) {
		int st = au_ctl_as_nobody(d, &j, reads[i][0], reads[i][1],
		    reads[i][2], reads[i][3], reads[i][4], reads[i][5], NULL);

		if (st != 0 || j == NULL || json_object_get(j, "error") != NULL)
			h_fail("an auditor's %s: exit %d", reads[i][0], st);
		json_decref(j);
	}
	assert_int_equal(au_ctl_as_nobody(d, &j, "status", NULL), 0);
	assert_string_equal(h_json_str(j, "role"), "auditor");
	json_decref(j);

	/* Mutations: refused, and journaled with the auditor's uid. */
	assert_int_equal(au_ctl_as_nobody(d, &j, "dossier", "pay", "D1",
			     "--amount", "1", NULL),
	    1);
	assert_string_equal(h_json_str(j, "error.code"), "permission_denied");
	json_decref(j);
	assert_int_equal(au_ctl_as_nobody(d, &j, "contract", "amend", "K",
			     "--budget", "1", "--reason", "audit", NULL),
	    1);
	assert_string_equal(h_json_str(j, "error.code"), "permission_denied");
	json_decref(j);
	au_head(d, &h1);
	assert_int_equal(h1.seq, h0.seq + 2);
	fx_verify_ok(d);
	au_path(d, "journal.jsonl", path);
	assert_int_equal(au_ctl_to_file(d, path, NULL, "export", NULL), 0);
	j = au_jsonl(path);
	for (i = 0; i < 2; i++) {
		last = json_array_get(j, (size_t)h0.seq + i);
		assert_string_equal(h_json_str(last, "kind"), "refused");
		assert_string_equal(
		    h_json_str(last, "error"), "permission_denied");
		assert_string_equal(h_json_str(last, "role"), "auditor");
		assert_int_equal(h_json_int(last, "uid"), H_NOBODY_UID);
		assert_string_equal(h_json_str(last, "command"),
		    i == 0 ? "dossier_pay" : "contract_amend");
	}
	json_decref(j);
	/* The balances did not move. */
	j = au_ctl_json(d, 0, "contract", "show", "K", NULL);
	assert_int_equal(h_json_int(j, "budget_cents"), 10000000);
	assert_int_equal(h_json_int(j, "paid_cents"), 0);
	json_decref(j);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, NULL, h_teardown)
	const struct CMUnitTest scen_tests[] = {
	    cmocka_unit_test(test_balance_contract_seq),
	    cmocka_unit_test(test_balance_contract_time),
	    cmocka_unit_test(test_balance_company),
	    cmocka_unit_test(test_balance_usage),
	    cmocka_unit_test(test_history_dossier_contract),
	    cmocka_unit_test(test_history_company),
	    cmocka_unit_test(test_history_since_until),
	    cmocka_unit_test(test_export_since),
	    cmocka_unit_test(test_export_csv),
	    cmocka_unit_test(test_export_content),
	};
	const struct CMUnitTest tests[] = {
	    T(test_auditor_role),
	};
#undef T
	int rc;

	rc = cmocka_run_group_tests_name(
	    "scenario", scen_tests, scen_setup, scen_teardown);
	rc += cmocka_run_group_tests_name("roles", tests, NULL, NULL);
	return (rc);
}
