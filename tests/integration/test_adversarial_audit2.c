/*
 * test_adversarial_audit2.c: the auditor's commands (issue #4) pushed at
 * edges test_adversarial_audit.c does not reach: stored records verify
 * never looked at (the programme rules, the expiry index), journal times
 * across months and the Brussels clock change (the journal's clock moved
 * on through the data file while budgetd is stopped), balance --as-of at
 * an expiry and a refusal, paging a single undertaking's history one
 * entry at a time, and report and history around a merger.
 *
 * The tests that found bugs say so above them: where the bug is, the
 * sequence of events, and why it is one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <lmdb.h>

#include "audit.h"
#include "store.pb-c.h"

#define CO_Z "0200303911"

/* ------------------------------------------------------------------ */
/* Helpers                                                            */

/* Microseconds since the epoch of a UTC "YYYY-MM-DDTHH:MM:SSZ". */
static int64_t
a2_us(const char *s)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm) == NULL)
		h_fail("bad time %s", s);
	return ((int64_t)timegm(&tm) * 1000000);
}

/* budgetctl --json ARGS must be done; the JSON is dropped. */
#define OK(d, ...) json_decref(au_ctl_json((d), 0, __VA_ARGS__, NULL))

/* au_tamper's changes: regime 2023/2831's ceiling 300,000 -> 3,000,000. */
static int
regime_ceiling_tenfold(uint8_t **val, size_t *len)
{
	Budgetstore__DeminimisRegime *r =
	    budgetstore__deminimis_regime__unpack(NULL, *len, *val);

	assert_non_null(r);
	assert_int_equal(r->ceiling, 30000000);
	r->ceiling = 300000000;
	au_repack(&r->base, val, len);
	budgetstore__deminimis_regime__free_unpacked(r, NULL);
	return (1);
}

/* ...V2024's SME rate 50% -> 90%... */
static int
ruleset_sme_rate_up(uint8_t **val, size_t *len)
{
	Budgetstore__RuleSet *r =
	    budgetstore__rule_set__unpack(NULL, *len, *val);

	assert_non_null(r);
	assert_int_equal(r->rate_sme_bp, 5000);
	r->rate_sme_bp = 9000;
	au_repack(&r->base, val, len);
	budgetstore__rule_set__free_unpacked(r, NULL);
	return (1);
}

/* ...and the record gone. */
static int
record_drop(uint8_t **val, size_t *len)
{
	(void)val;
	(void)len;
	return (0);
}

/* ------------------------------------------------------------------ */
/* verify: stored records it did not look at                          */

/*
 * BUG: daemon/check.c never reads the rules database: the rule sets and
 * de-minimis regimes, which every reservation, approval and I-2 check is
 * judged by, are journaled in full (rules_load's text) but never compared
 * with what is stored. Raise the stored ceiling of regime 2023/2831 from
 * EUR 300,000 to EUR 3,000,000 behind budgetd's back: deminimis show says
 * the ceiling is 3,000,000, a grant above EUR 300,000 would now pass (and
 * verify's own I-2 check takes the stored ceiling too), and verify says
 * ok. I-2 and README ("a decision is judged by the rule set in force")
 * make the rules part of the ledger; verify must name the change.
 */
static void
test_verify_regime_changed(void **state)
{
	struct h_daemon *d = au_ledger_up(state, "100000", "100");
	json_t          *j;
	const char       key[] = "R2023/2831";

	fx_verify_ok(d);
	assert_int_equal(
	    au_tamper(d, "rules", key, sizeof(key) - 1, regime_ceiling_tenfold),
	    1);

	/* The change is live: the ceiling budgetd judges by is ten times. */
	j = au_ctl_json(d, 0, "deminimis", "show", AU_CO_X, NULL);
	assert_int_equal(h_json_int(j, "ceiling_cents"), 300000000);
	json_decref(j);
	au_expect_verify_names(d, "2023/2831");
}

/* The same for a rule set: V2024's SME rate from 50% to 90%. */
static void
test_verify_ruleset_changed(void **state)
{
	struct h_daemon *d = au_ledger_up(state, "100000", "100");
	const char       key[] = "SV2024";

	assert_int_equal(
	    au_tamper(d, "rules", key, sizeof(key) - 1, ruleset_sme_rate_up),
	    1);
	au_expect_verify_names(d, "V2024");
}

/* A rule set that no rules_load ever brought. */
static void
test_verify_ruleset_added(void **state)
{
	struct h_daemon     *d = au_ledger_up(state, "100000", "100");
	Budgetstore__RuleSet r = BUDGETSTORE__RULE_SET__INIT;
	uint8_t              val[256];
	size_t               len;
	const char           key[] = "SV2026X";

	r.name = (char *)(uintptr_t) "V2026X";
	r.from = 20000; /* 2024-10-04 */
	r.rate_sme_bp = 10000;
	r.exclusion_years = 4;
	len = budgetstore__rule_set__pack(&r, val);
	au_db_put(d, "rules", key, sizeof(key) - 1, val, len);
	au_expect_verify_names(d, "V2026X");
}

/*
 * BUG: daemon/check.c never reads the expiry index (the "expiry"
 * database, expires_at + dossier id), which the daemon's clock walks to
 * release reservations (expiry.c): a reservation whose item is removed
 * behind budgetd's back is held for ever, its subsidy kept from the
 * contract and counted against the company's de-minimis ceiling, and
 * verify says ok. verify already checks that every reserved dossier has
 * an expiry time; it must also check that the index holds it.
 */
static void
test_verify_expiry_index_dropped(void **state)
{
	struct h_daemon *d = au_ledger_up(state, "100000", "100");
	char             st[32];

	OK(d, "dossier", "reserve", "D2", "--company", AU_CO_Y, "--contract",
	    "K", "--package", "START", "--cost", "9000", "--ttl", "3s");
	assert_int_equal(au_tamper(d, "expiry", NULL, 0, record_drop), 1);
	/* Held past its expiry: the item was what let it go. */
	sleep(4);
	assert_string_equal(
	    fx_dossier_state(d, "D2", st, sizeof(st)), "reserved");
	au_expect_verify_names(d, "D2");
}

/* ------------------------------------------------------------------ */
/* Months and the Brussels clock                                       */

/*
 * Entries in November (now, as the tests run whenever they run: the
 * month of the first entries is whatever it is), then on the last
 * evening of January 2027 (22:30 UTC, 23:30 in Brussels: January), then
 * on 31 March 2027 at 22:30 UTC, which is 00:30 on 1 April in Brussels
 * (summer time since 28 March). drawdown must have a point for every
 * month in between, each carrying the last one's figures, and put the
 * last payment in April; history --since 2027-04-01 (midnight in
 * Brussels, 22:00 UTC) includes it, --until 2027-04-01 does not;
 * balance --as-of 2027-04-01 stops before it; and verify holds.
 */
static void
test_months_and_summer_time(void **state)
{
	struct h_daemon *d = au_ledger_up(state, "100000", "1000");
	json_t          *j, *pts, *p, *e;
	int64_t          first_month, m;
	size_t           i;
	char             want[32];
	time_t           now = time(NULL);

	/* Only while the host's clock is before the times set below. */
	if (now > a2_us("2027-01-31T00:00:00Z") / 1000000)
		skip();
	au_journal_clock(d, a2_us("2027-01-31T22:30:00Z"));
	OK(d, "dossier", "pay", "D1", "--amount", "2000");
	au_journal_clock(d, a2_us("2027-03-31T22:30:00Z"));
	OK(d, "dossier", "pay", "D1", "--amount", "3000");
	fx_verify_ok(d);

	j = au_ctl_json(d, 0, "drawdown", "--contract", "K", NULL);
	pts = h_json_get(j, "points");
	/* The first month: Brussels' month of the first entries. */
	p = json_array_get(pts, 0);
	assert_non_null(p);
	{
		const char *s = h_json_str(p, "month");

		first_month =
		    strtol(s, NULL, 10) * 12 + strtol(s + 5, NULL, 10) - 1;
	}
	assert_int_equal(
	    json_array_size(pts), (size_t)(2027 * 12 + 3 - first_month + 1));
	for (i = 0; i < json_array_size(pts); i++) {
		p = json_array_get(pts, i);
		m = first_month + (int64_t)i;
		snprintf(want, sizeof(want), "%04d-%02d", (int)(m / 12),
		    (int)(m % 12 + 1));
		assert_string_equal(h_json_str(p, "month"), want);
		if (m < 2027 * 12 + 0)
			assert_int_equal(h_json_int(p, "paid_cents"), 100000);
		else if (m < 2027 * 12 + 3)
			assert_int_equal(h_json_int(p, "paid_cents"), 300000);
		else
			assert_int_equal(h_json_int(p, "paid_cents"), 600000);
		assert_int_equal(h_json_int(p, "budget_cents"), 10000000);
		assert_int_equal(h_json_int(p, "paid_cents") +
			h_json_int(p, "committed_cents"),
		    900000);
	}
	json_decref(j);

	/* Midnight in Brussels on 1 April is 22:00 UTC on 31 March. */
	j = au_ctl_json(
	    d, 0, "history", "--contract", "K", "--since", "2027-04-01", NULL);
	assert_int_equal(h_json_int(j, "count"), 1);
	e = json_array_get(h_json_get(j, "entries"), 0);
	assert_string_equal(
	    h_json_str(e, "time"), "2027-03-31T22:30:00.000000Z");
	json_decref(j);
	j = au_ctl_json(d, 0, "history", "--contract", "K", "--since",
	    "2027-01-31T22:30:00Z", "--until", "2027-04-01", NULL);
	assert_int_equal(h_json_int(j, "count"), 1);
	e = json_array_get(h_json_get(j, "entries"), 0);
	assert_string_equal(
	    h_json_str(e, "time"), "2027-01-31T22:30:00.000000Z");
	json_decref(j);
	/* A date on the winter side: midnight is 23:00 UTC the day before. */
	j = au_ctl_json(
	    d, 0, "history", "--contract", "K", "--since", "2027-02-01", NULL);
	assert_int_equal(h_json_int(j, "count"), 1);
	json_decref(j);
	j = au_ctl_json(d, 0, "history", "--contract", "K", "--since",
	    "2027-01-31", "--until", "2027-02-01", NULL);
	assert_int_equal(h_json_int(j, "count"), 1);
	json_decref(j);

	j = au_ctl_json(
	    d, 0, "balance", "--contract", "K", "--as-of", "2027-04-01", NULL);
	assert_int_equal(h_json_int(j, "paid_cents"), 300000);
	assert_string_equal(
	    h_json_str(j, "as_of"), "2027-01-31T22:30:00.000000Z");
	json_decref(j);
	j = au_ctl_json(d, 0, "balance", "--contract", "K", "--as-of",
	    "2027-03-31T22:30:00Z", NULL);
	assert_int_equal(h_json_int(j, "paid_cents"), 600000);
	json_decref(j);
}

/* ------------------------------------------------------------------ */
/* balance --as-of                                                     */

/*
 * BUG: daemon/cmd-balance.c, cmd_balance_exec judges a company's position
 * "as of" an entry by the de-minimis regimes stored now
 * (record_regime_on), not by those loaded by then. Load the shipped rules
 * without regime 2023/2831 (only 1407/2013: EUR 200,000 over three fiscal
 * years), declare EUR 150,000 of aid granted on 2025-01-10 (entry s):
 * balance --company --as-of s says ceiling 200,000, available 50,000.
 * Then load regime 2023/2831 (from 2024-01-01): the same question about
 * the same past entry s now says ceiling 300,000, available 150,000,
 * under a regime the ledger did not have at s. A position as of a moment
 * must not change with what was loaded after it (the rules are
 * journaled, rules_load, with the rest).
 */
static void
test_balance_as_of_keeps_its_regime(void **state)
{
	struct h_daemon *d;
	char             p1[AU_PATH_SZ], p2[AU_PATH_SZ];
	char            *text, *cut, *end;
	json_t          *j;
	int64_t          s;

	*state = d = h_daemon_up(NULL);
	text = au_read_file(BUDGET_RULES_PATH, NULL);
	cut = strstr(text, "[deminimis 2023/2831]");
	end = strstr(text, "# --- Programme rule sets");
	assert_non_null(cut);
	assert_non_null(end);
	assert_true(cut < end);
	au_path(d, "old.rules", p1);
	au_path(d, "new.rules", p2);
	au_write_file(p2, cut, (size_t)(end - cut));
	memmove(cut, end, strlen(end) + 1);
	au_write_file(p1, text, strlen(text));
	free(text);

	OK(d, "rules", "load", p1);
	OK(d, "company", "add", AU_CO_X, "--name", "X", "--postcode", "9000",
	    "--size", "small");
	OK(d, "deminimis", "declare", AU_CO_X, "--amount", "150000",
	    "--granted", "2025-01-10", "--source", "other agency");
	s = au_seq(d);
	{
		char seq[32];

		snprintf(seq, sizeof(seq), "%lld", (long long)s);
		j = au_ctl_json(d, 0, "balance", "--company", AU_CO_X,
		    "--as-of", seq, NULL);
		assert_string_equal(h_json_str(j, "regime"), "1407/2013");
		assert_int_equal(h_json_int(j, "ceiling_cents"), 20000000);
		assert_int_equal(h_json_int(j, "available_cents"), 5000000);
		json_decref(j);

		OK(d, "rules", "load", p2);
		j = au_ctl_json(d, 0, "balance", "--company", AU_CO_X,
		    "--as-of", seq, NULL);
		assert_int_equal(h_json_int(j, "as_of_seq"), s);
		assert_string_equal(h_json_str(j, "regime"), "1407/2013");
		assert_int_equal(h_json_int(j, "ceiling_cents"), 20000000);
		assert_int_equal(h_json_int(j, "available_cents"), 5000000);
		json_decref(j);
	}
	/* Now, the new regime is the one in force. */
	j = au_ctl_json(d, 0, "deminimis", "show", AU_CO_X, NULL);
	assert_int_equal(h_json_int(j, "ceiling_cents"), 30000000);
	json_decref(j);
}

/*
 * Found a bug (cmd-balance.c): balance --company --as-of without --on
 * judged the de-minimis window on the date of the undertaking's own last
 * entry, not of the moment asked about. Aid of EUR 150,000 granted on
 * 2024-02-01 and declared today; the journal's clock then moves on to
 * 2027-03-01 and another company is added. As of that entry, or of that
 * day, the rolling three years (2024-03-02 to 2027-03-01) no longer hold
 * the aid, but the answer said "on" today and counted it: an auditor
 * asking about 2027 got today's position. README: the window's date is
 * "the date of the as-of moment".
 */
static void
test_balance_as_of_day_is_the_moment(void **state)
{
	struct h_daemon *d;
	json_t          *j;
	char             seq[32];
	const char      *at[] = {seq, "2027-03-01T12:00:00Z"};
	size_t           i;
	time_t           now = time(NULL);

	/* Only while the host's clock is before the time set below. */
	if (now > a2_us("2027-02-28T00:00:00Z") / 1000000)
		skip();
	*state = d = h_daemon_up(NULL);
	OK(d, "rules", "load", BUDGET_RULES_PATH);
	OK(d, "company", "add", AU_CO_X, "--name", "X", "--postcode", "9000",
	    "--size", "small");
	OK(d, "deminimis", "declare", AU_CO_X, "--amount", "150000",
	    "--granted", "2024-02-01", "--source", "other agency");
	/* As of the declaration itself: counted, on the day it was entered. */
	snprintf(seq, sizeof(seq), "%lld", (long long)au_seq(d));
	j = au_ctl_json(
	    d, 0, "balance", "--company", AU_CO_X, "--as-of", seq, NULL);
	assert_int_equal(h_json_int(j, "used_cents"), 15000000);
	json_decref(j);

	au_journal_clock(d, a2_us("2027-03-01T10:00:00Z"));
	OK(d, "company", "add", CO_Z, "--name", "Z", "--postcode", "9000",
	    "--size", "small");
	snprintf(seq, sizeof(seq), "%lld", (long long)au_seq(d));
	for (i = 0; i < 2; i++) {
		j = au_ctl_json(d, 0, "balance", "--company", AU_CO_X,
		    "--as-of", at[i], NULL);
		assert_string_equal(h_json_str(j, "on"), "2027-03-01");
		assert_int_equal(h_json_int(j, "used_cents"), 0);
		assert_int_equal(h_json_int(j, "available_cents"), 30000000);
		json_decref(j);
	}
	/* --on still says which day. */
	j = au_ctl_json(d, 0, "balance", "--company", AU_CO_X, "--as-of", seq,
	    "--on", "2027-01-31", NULL);
	assert_string_equal(h_json_str(j, "on"), "2027-01-31");
	assert_int_equal(h_json_int(j, "used_cents"), 15000000);
	json_decref(j);
}

/*
 * drawdown runs on to the month the journal's clock is in, not only to
 * the contract's last entry: contract K's entries are in this month; the
 * clock then moves on to March 2027 with an entry of another kind (a
 * company added). K's points run to 2027-03, every month after its last
 * entry carrying that entry's figures. They stopped at this month.
 */
static void
test_drawdown_runs_to_the_clock(void **state)
{
	struct h_daemon *d;
	json_t          *j, *pts, *first, *p;
	size_t           i, n;
	const char      *keys[] = {
		 "budget_cents", "reserved_cents", "committed_cents", "paid_cents"};
	size_t k;
	time_t now = time(NULL);

	if (now > a2_us("2027-02-28T00:00:00Z") / 1000000)
		skip();
	d = au_ledger_up(state, "100000", "1000");
	au_journal_clock(d, a2_us("2027-03-01T10:00:00Z"));
	OK(d, "company", "add", CO_Z, "--name", "Z", "--postcode", "9000",
	    "--size", "small");
	j = au_ctl_json(d, 0, "drawdown", "--contract", "K", NULL);
	pts = h_json_get(j, "points");
	n = json_array_size(pts);
	assert_true(n >= 2);
	first = json_array_get(pts, 0);
	assert_string_equal(
	    h_json_str(json_array_get(pts, n - 1), "month"), "2027-03");
	/* Every month after the first (all of K's entries) carries it. */
	for (i = 1; i < n; i++) {
		p = json_array_get(pts, i);
		for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
			assert_int_equal(
			    h_json_int(p, keys[k]), h_json_int(first, keys[k]));
	}
	assert_int_equal(h_json_int(first, "paid_cents"), 100000);
	json_decref(j);
}

/*
 * Contract balances as of an expiry the daemon wrote itself, and as of a
 * refusal right after it: each what contract show said at that step.
 */
static void
test_balance_at_expiry_and_refusal(void **state)
{
	struct h_daemon   *d = au_ledger_up(state, "20000", "100");
	struct fx_contract c;
	json_t            *j;
	int64_t            s_res, s_exp, s_ref;
	char               seq[32], st[32];
	int                stp, i;

	OK(d, "dossier", "reserve", "D2", "--company", AU_CO_Y, "--contract",
	    "K", "--package", "START", "--cost", "9000", "--ttl", "1s");
	s_res = au_seq(d);
	for (i = 0; i < 50; i++) {
		if (strcmp(fx_dossier_state(d, "D2", st, sizeof(st)),
			"expired") == 0)
			break;
		usleep(100 * 1000);
	}
	assert_string_equal(st, "expired");
	s_exp = au_seq(d);
	assert_int_equal(s_exp, s_res + 1);
	fx_contract_show(d, "K", &c);
	assert_int_equal(c.reserved, 0);
	/* 20,000 budget, 9,000 committed: 12,000 of subsidy does not fit. */
	json_decref(au_ctl_json_try(d, &stp, "dossier", "reserve", "D3",
	    "--company", AU_CO_Y, "--contract", "K", "--package", "PLUS",
	    "--cost", "30000", NULL));
	assert_int_equal(stp, 1);
	s_ref = au_seq(d);
	assert_int_equal(s_ref, s_exp + 1);

	snprintf(seq, sizeof(seq), "%lld", (long long)s_res);
	j = au_ctl_json(
	    d, 0, "balance", "--contract", "K", "--as-of", seq, NULL);
	assert_int_equal(h_json_int(j, "reserved_cents"), 450000);
	assert_int_equal(
	    h_json_int(j, "available_cents"), 2000000 - 900000 - 450000);
	json_decref(j);
	snprintf(seq, sizeof(seq), "%lld", (long long)s_exp);
	j = au_ctl_json(
	    d, 0, "balance", "--contract", "K", "--as-of", seq, NULL);
	assert_int_equal(h_json_int(j, "as_of_seq"), s_exp);
	assert_int_equal(h_json_int(j, "reserved_cents"), c.reserved);
	assert_int_equal(h_json_int(j, "committed_cents"), c.committed);
	assert_int_equal(h_json_int(j, "paid_cents"), c.paid);
	assert_int_equal(h_json_int(j, "available_cents"), c.available);
	json_decref(j);
	snprintf(seq, sizeof(seq), "%lld", (long long)s_ref);
	j = au_ctl_json(
	    d, 0, "balance", "--contract", "K", "--as-of", seq, NULL);
	assert_int_equal(h_json_int(j, "as_of_seq"), s_ref);
	assert_int_equal(h_json_int(j, "available_cents"), c.available);
	json_decref(j);
	/* The company's pending reservation went with the expiry. */
	snprintf(seq, sizeof(seq), "%lld", (long long)s_res);
	j = au_ctl_json(
	    d, 0, "balance", "--company", AU_CO_Y, "--as-of", seq, NULL);
	assert_int_equal(h_json_int(j, "pending_cents"), 450000);
	json_decref(j);
	snprintf(seq, sizeof(seq), "%lld", (long long)s_exp);
	j = au_ctl_json(
	    d, 0, "balance", "--company", AU_CO_Y, "--as-of", seq, NULL);
	assert_int_equal(h_json_int(j, "pending_cents"), 0);
	json_decref(j);
	fx_verify_ok(d);
}

/* ------------------------------------------------------------------ */
/* history of an undertaking, a page at a time                         */

/*
 * Every page of co's history at this page size: the sequence numbers in
 * seqs (at most max); returns how many.
 */
static size_t
a2_history_all(int fd, const char *co, uint32_t limit, const char *since,
    const char *until, uint64_t *seqs, size_t max)
{
	Budget__Response *r;
	uint64_t          after = 0;
	size_t            n = 0, i, pages = 0;

	do {
		r = au_history_page(fd, NULL, co, after, limit, since, until);
		if (r->result_case != BUDGET__RESPONSE__RESULT_JOURNAL)
			h_fail("history page after %llu: no page",
			    (unsigned long long)after);
		assert_true(r->journal->n_entries <= limit);
		for (i = 0; i < r->journal->n_entries; i++) {
			assert_true(n < max);
			seqs[n++] = r->journal->entries[i]->seq;
		}
		/* next is the last entry sent, or 0 at the end. */
		if (r->journal->next != 0)
			assert_int_equal(r->journal->next, seqs[n - 1]);
		after = r->journal->next;
		budget__response__free_unpacked(r, NULL);
		assert_true(++pages < 1000);
	} while (after != 0);
	return (n);
}

/*
 * AU_CO_X controls AU_CO_Y, CO_Z merges into AU_CO_X, and the three have
 * entries interleaved (adds, a refusal, dossiers, declared aid): the
 * history of any of them is the same merge of three indexes, and paged
 * one, two or three entries at a time it is the same list as in one
 * page, each entry once and in order, with and without a time range
 * whose ends fall inside a page.
 */
static void
test_history_undertaking_paged(void **state)
{
	struct h_daemon      *d = au_ledger_up(state, "100000", "100");
	static const uint32_t sizes[] = {1, 2, 3, 1000};
	uint64_t              all[128], got[128];
	json_t               *h;
	const char           *cos[] = {AU_CO_X, AU_CO_Y, CO_Z};
	char                  since[40], until[40];
	size_t                n, m, i, s, c;
	int                   stp;
	int                   fd;

	OK(d, "company", "add", CO_Z, "--name", "Z, \"the third\"",
	    "--postcode", "3500", "--size", "medium");
	OK(d, "deminimis", "declare", CO_Z, "--amount", "1000", "--granted",
	    "2025-02-03", "--source", "kmo");
	OK(d, "dossier", "reserve", "DY", "--company", AU_CO_Y, "--contract",
	    "K", "--package", "START", "--cost", "9000");
	OK(d, "company", "link", AU_CO_X, AU_CO_Y, "--since", "2024-01-01");
	OK(d, "company", "merge", CO_Z, AU_CO_X, "--on", "2026-01-01");
	/* Y's undertaking now has X's approval: refused, and journaled. */
	json_decref(au_ctl_json_try(d, &stp, "dossier", "approve", "DY", NULL));
	assert_int_equal(stp, 1);
	OK(d, "deminimis", "declare", AU_CO_Y, "--amount", "500", "--granted",
	    "2025-03-04", "--source", "kmo");
	OK(d, "dossier", "pay", "D1", "--amount", "50");

	fd = h_connect(d);
	for (c = 0; c < 3; c++) {
		n = a2_history_all(fd, cos[c], 1000, NULL, NULL, all, 128);
		if (c == 0)
			assert_true(n >= 12);
		for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
			m = a2_history_all(
			    fd, cos[c], sizes[s], NULL, NULL, got, 128);
			assert_int_equal(m, n);
			for (i = 0; i < n; i++) {
				assert_int_equal(got[i], all[i]);
				if (i > 0)
					assert_true(all[i] > all[i - 1]);
			}
		}
	}
	/* The same entries from the CLI, and the undertaking it names. */
	h = au_ctl_json(d, 0, "history", "--company", CO_Z, NULL);
	assert_int_equal(json_array_size(h_json_get(h, "entries")), n);
	assert_int_equal(json_array_size(h_json_get(h, "companies")), 3);
	json_decref(h);

	/* A range from the 3rd entry's time to the 8th's (exclusive). */
	h = au_ctl_json(d, 0, "history", "--company", AU_CO_X, NULL);
	snprintf(since, sizeof(since), "%s",
	    h_json_str(json_array_get(h_json_get(h, "entries"), 2), "time"));
	snprintf(until, sizeof(until), "%s",
	    h_json_str(json_array_get(h_json_get(h, "entries"), 7), "time"));
	json_decref(h);
	for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		m = a2_history_all(
		    fd, AU_CO_X, sizes[s], since, until, got, 128);
		assert_int_equal(m, 5);
		for (i = 0; i < m; i++)
			assert_int_equal(got[i], all[i + 2]);
	}
	close(fd);
	fx_verify_ok(d);
}

/* ------------------------------------------------------------------ */
/* report around an upgrade and a merger                               */

/*
 * AU_CO_X: D1 approved and upgraded (two grant events, one dossier);
 * CO_Z (Limburg): its own dossier, then merged into AU_CO_X. By year and
 * province, by category, by package: X counts once in its rows and in
 * the total; Z stays a company of its own (the merger joins their
 * de-minimis ceilings, not their past), in Limburg; the total counts two
 * companies, two dossiers, three events.
 */
static void
test_report_upgrade_and_merger(void **state)
{
	struct h_daemon *d = au_ledger_up(state, "100000", "100");
	json_t          *j, *rows, *t;
	size_t           i;
	const char      *by[] = {"year,province", "category", "package",
		 "size,category", "contract,framework,provider"};

	OK(d, "company", "add", CO_Z, "--name", "Z", "--postcode", "3500",
	    "--size", "medium");
	OK(d, "dossier", "reserve", "DZ", "--company", CO_Z, "--contract", "K",
	    "--package", "START", "--cost", "9000");
	OK(d, "dossier", "approve", "DZ");
	OK(d, "dossier", "amend", "D1", "--package", "PLUS", "--cost", "30000");
	OK(d, "dossier", "approve", "D1");
	OK(d, "company", "merge", CO_Z, AU_CO_X, "--on", "2026-01-01");
	for (i = 0; i < sizeof(by) / sizeof(by[0]); i++) {
		j = au_ctl_json(d, 0, "report", "--by", by[i], NULL);
		t = h_json_get(j, "total");
		assert_int_equal(h_json_int(t, "companies"), 2);
		assert_int_equal(h_json_int(t, "dossiers"), 2);
		assert_int_equal(h_json_int(t, "grant_events"), 3);
		/* D1: 9,000 + 6,000 upgrade; DZ: 4,500. */
		assert_int_equal(h_json_int(t, "granted_cents"), 1950000);
		assert_int_equal(h_json_int(t, "paid_cents"), 10000);
		json_decref(j);
	}
	j = au_ctl_json(d, 0, "report", "--by", "province", NULL);
	rows = h_json_get(j, "rows");
	assert_int_equal(json_array_size(rows), 2);
	assert_string_equal(
	    h_json_str(json_array_get(rows, 0), "province"), "Limburg");
	assert_int_equal(h_json_int(json_array_get(rows, 0), "companies"), 1);
	assert_string_equal(
	    h_json_str(json_array_get(rows, 1), "province"), "Oost-Vlaanderen");
	assert_int_equal(h_json_int(json_array_get(rows, 1), "companies"), 1);
	assert_int_equal(h_json_int(json_array_get(rows, 1), "dossiers"), 1);
	assert_int_equal(
	    h_json_int(json_array_get(rows, 1), "grant_events"), 2);
	json_decref(j);
	j = au_ctl_json(d, 0, "report", "--by", "category", NULL);
	rows = h_json_get(j, "rows");
	assert_int_equal(json_array_size(rows), 2);
	assert_string_equal(
	    h_json_str(json_array_get(rows, 0), "category"), "initial");
	assert_int_equal(h_json_int(json_array_get(rows, 0), "companies"), 2);
	assert_int_equal(
	    h_json_int(json_array_get(rows, 0), "paid_cents"), 10000);
	assert_string_equal(
	    h_json_str(json_array_get(rows, 1), "category"), "upgrade");
	assert_int_equal(h_json_int(json_array_get(rows, 1), "companies"), 1);
	assert_int_equal(
	    h_json_int(json_array_get(rows, 1), "granted_cents"), 600000);
	json_decref(j);
	fx_verify_ok(d);
}

/*
 * Regimes loaded inside one batch, around a rules_load refused after it
 * wrote (a new regime put, then a clash: the turn reruns, that op and
 * the rest nested): each stored regime names the rules_load entry that
 * brought it, as verify's replay says, and balance --as-of the company's
 * entry, before the second load, keeps the old regime.
 */
static void
test_regimes_loaded_in_a_batch(void **state)
{
	struct h_daemon  *d;
	struct fx_req     ops[4], b;
	Budget__Request  *ptrs[4];
	Budget__RulesLoad rl[3];
	Budget__Response *a;
	char             *text, *cut, *end, *newr, seq[32];
	char              x[FX_RID_SZ];
	static const char bad[] =
	    "[deminimis R-NEW]\nfrom = 2031-01-01\nceiling = 1.00\n"
	    "window = rolling\nyears = 3\n\n"
	    "[deminimis 1407/2013]\nfrom = 2014-01-01\nceiling = 1.00\n"
	    "window = fiscal\nyears = 3\n";
	json_t *j;
	size_t  i;
	int     fd;

	*state = d = h_daemon_up(NULL);
	text = au_read_file(BUDGET_RULES_PATH, NULL);
	cut = strstr(text, "[deminimis 2023/2831]");
	end = strstr(text, "# --- Programme rule sets");
	assert_non_null(cut);
	assert_non_null(end);
	newr = strndup(cut, (size_t)(end - cut));
	memmove(cut, end, strlen(end) + 1);

	for (i = 0; i < 3; i++)
		budget__rules_load__init(&rl[i]);
	rl[0].text = text;
	rl[1].text = (char *)(uintptr_t)bad;
	rl[2].text = newr;
	fx_req_init(&ops[0], "bl.0");
	ops[0].req.command_case = BUDGET__REQUEST__COMMAND_RULES_LOAD;
	ops[0].req.rules_load = &rl[0];
	fx_company_req(&ops[1], "bl.1", 7);
	fx_req_init(&ops[2], "bl.2");
	ops[2].req.command_case = BUDGET__REQUEST__COMMAND_RULES_LOAD;
	ops[2].req.rules_load = &rl[1];
	fx_req_init(&ops[3], "bl.3");
	ops[3].req.command_case = BUDGET__REQUEST__COMMAND_RULES_LOAD;
	ops[3].req.rules_load = &rl[2];
	for (i = 0; i < 4; i++)
		ptrs[i] = &ops[i].req;
	fx_batch_req(&b, "bl", ptrs, 4);
	fd = h_connect(d);
	a = fx_call(fd, &b.req);
	close(fd);
	assert_null(a->error);
	assert_int_equal(a->batch->n_results, 4);
	assert_null(fx_err(a->batch->results[0]));
	assert_null(fx_err(a->batch->results[1]));
	assert_string_equal(fx_err(a->batch->results[2]), "already_exists");
	assert_null(fx_err(a->batch->results[3]));
	budget__response__free_unpacked(a, NULL);
	free(text);
	free(newr);

	fx_verify_ok(d);
	/* Entry 2 is the company's: the new regime came after it. */
	fx_rid(7, x);
	snprintf(seq, sizeof(seq), "%d", 2);
	j = au_ctl_json(d, 0, "balance", "--company", x, "--as-of", seq, NULL);
	assert_string_equal(h_json_str(j, "regime"), "1407/2013");
	json_decref(j);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, NULL, h_teardown)
	const struct CMUnitTest tests[] = {
	    T(test_verify_regime_changed),
	    T(test_verify_ruleset_changed),
	    T(test_verify_ruleset_added),
	    T(test_verify_expiry_index_dropped),
	    T(test_months_and_summer_time),
	    T(test_balance_as_of_keeps_its_regime),
	    T(test_balance_as_of_day_is_the_moment),
	    T(test_drawdown_runs_to_the_clock),
	    T(test_regimes_loaded_in_a_batch),
	    T(test_balance_at_expiry_and_refusal),
	    T(test_history_undertaking_paged),
	    T(test_report_upgrade_and_merger),
	};
#undef T

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
