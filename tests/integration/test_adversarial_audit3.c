/*
 * test_adversarial_audit3.c: the auditor's outputs (issue #4) at edges
 * the other audit tests do not reach: the days Brussels changes its
 * clock, to the microsecond, in history --since/--until (dates), balance
 * --as-of and drawdown's months (the October change falls on the last
 * day of October 2027, so a month ends an hour later in UTC than the day
 * before it did); a budget amended and the contract closed in those
 * months; the draw-down chart of a small contract; and report --csv with
 * provider names a spreadsheet or a CSV reader could trip on.
 *
 * The tests that found bugs say so above them: where the bug is, the
 * sequence of events, and why it is one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"

/* budgetctl --json ARGS must be done; the JSON is dropped. */
#define OK(d, ...) json_decref(au_ctl_json((d), 0, __VA_ARGS__, NULL))

/* history --contract K ARGS: the entries' times, in order, into t. */
static size_t
a3_history_times(const struct h_daemon *d, char t[][32], size_t max,
    const char *a1, const char *a2, const char *a3, const char *a4)
{
	json_t *j = au_ctl_json(
	    d, 0, "history", "--contract", "K", a1, a2, a3, a4, NULL);
	json_t *ents = h_json_get(j, "entries");
	size_t  i, n = json_array_size(ents);

	assert_true(n <= max);
	for (i = 0; i < n; i++)
		snprintf(t[i], sizeof(t[i]), "%s",
		    h_json_str(json_array_get(ents, i), "time"));
	json_decref(j);
	return (n);
}

/* balance --contract K --as-of at: paid and budget, and as_of. */
static void
a3_balance(const struct h_daemon *d, const char *at, int64_t paid,
    int64_t budget, const char *as_of)
{
	json_t *j = au_ctl_json(
	    d, 0, "balance", "--contract", "K", "--as-of", at, NULL);

	if (h_json_int(j, "paid_cents") != paid ||
	    h_json_int(j, "budget_cents") != budget ||
	    strcmp(h_json_str(j, "as_of"), as_of) != 0)
		h_fail("balance --as-of %s: paid %lld budget %lld as of %s; "
		       "want %lld, %lld, %s",
		    at, (long long)h_json_int(j, "paid_cents"),
		    (long long)h_json_int(j, "budget_cents"),
		    h_json_str(j, "as_of"), (long long)paid, (long long)budget,
		    as_of);
	json_decref(j);
}

/* ------------------------------------------------------------------ */
/* The days the clock changes                                          */

/*
 * Entries on either side, by a microsecond, of Brussels' midnights around
 * the two clock changes of 2027 (28 March: 23:00 UTC the day before is
 * midnight in winter time; 31 October: 22:00 UTC the day before is
 * midnight in summer time, and 31 October, the day of the change and the
 * last of the month, ends at 23:00 UTC): history --since and --until by
 * date take exactly the entries of those days; balance --as-of a date
 * includes an entry at exactly its midnight and --as-of a time a
 * microsecond before an entry does not include it; drawdown puts the last
 * minute of October in October and its midnight in November, with the
 * budget amended in October and the contract closed in November, months
 * without entries carried forward; its chart is well-formed XML.
 */
static void
test_clock_change_days(void **state)
{
	struct h_daemon         *d = au_ledger_up(state, "100000", "1000");
	static const char *const at[] = {
	    "2027-03-27T22:59:59.999999Z", /* 27 March, 23:59:59.999999 */
	    "2027-03-27T23:00:00.000000Z", /* 28 March, 00:00 CET */
	    "2027-10-30T21:59:59.999999Z", /* 30 October, 23:59:59.999999 */
	    "2027-10-30T22:00:00.000000Z", /* 31 October, 00:00 CEST */
	    "2027-10-31T22:59:59.999999Z", /* 31 October, 23:59:59.999999 CET */
	    "2027-10-31T23:00:00.000000Z", /* 1 November, 00:00 CET */
	};
	char        t[16][32], path[AU_PATH_SZ], root[16], want[16];
	json_t     *j, *pts, *p;
	const char *month;
	size_t      n, i;
	int64_t     paid, budget;

	/* Only while the host's clock is before the times set below. */
	if (time(NULL) >= au_time_us(at[0]) / 1000000 - 3600)
		skip();
	/* One payment of EUR 100 at each, the budget raised at the 5th. */
	for (i = 0; i < 6; i++) {
		au_journal_clock(d, au_time_us(at[i]));
		if (i == 4)
			OK(d, "contract", "amend", "K", "--budget", "150000",
			    "--reason", "raised on the last day of October");
		OK(d, "dossier", "pay", "D1", "--amount", "100");
	}
	OK(d, "contract", "close", "K");
	fx_verify_ok(d);

	/* Every entry carries the time it was written at. */
	n = a3_history_times(d, t, 16, "--since", "2027-01-01", NULL, NULL);
	assert_int_equal(n, 8);
	for (i = 0; i < 4; i++)
		assert_string_equal(t[i], at[i]);
	assert_string_equal(t[4], at[4]); /* the amend */
	assert_string_equal(t[5], at[4]);
	assert_string_equal(t[6], at[5]);
	assert_string_equal(t[7], at[5]); /* the close */

	/* 28 March begins at 23:00 UTC on the 27th. */
	n = a3_history_times(
	    d, t, 16, "--since", "2027-03-27", "--until", "2027-03-28");
	assert_int_equal(n, 1);
	assert_string_equal(t[0], at[0]);
	n = a3_history_times(
	    d, t, 16, "--since", "2027-03-28", "--until", "2027-03-29");
	assert_int_equal(n, 1);
	assert_string_equal(t[0], at[1]);
	/* 31 October: from 22:00 UTC on the 30th to 23:00 UTC on the 31st. */
	n = a3_history_times(
	    d, t, 16, "--since", "2027-10-30", "--until", "2027-10-31");
	assert_int_equal(n, 1);
	assert_string_equal(t[0], at[2]);
	n = a3_history_times(
	    d, t, 16, "--since", "2027-10-31", "--until", "2027-11-01");
	assert_int_equal(n, 3);
	assert_string_equal(t[0], at[3]);
	assert_string_equal(t[2], at[4]);
	n = a3_history_times(d, t, 16, "--since", "2027-11-01", NULL, NULL);
	assert_int_equal(n, 2);
	assert_string_equal(t[0], at[5]);
	/* A date and the same moment as a time are one bound. */
	n = a3_history_times(d, t, 16, "--since", "2027-10-31T23:00:00Z",
	    "--until", "2027-11-01");
	assert_int_equal(n, 0);

	/* At a date: the last entry at or before its midnight, included. */
	a3_balance(d, "2027-11-01", 160000, 15000000, at[5]);
	a3_balance(d, "2027-10-31T22:59:59.999999Z", 150000, 15000000, at[4]);
	a3_balance(d, "2027-10-31T22:59:59.999998Z", 140000, 10000000, at[3]);
	a3_balance(d, "2027-10-31", 140000, 10000000, at[3]);
	a3_balance(d, "2027-10-30T21:59:59.999998Z", 120000, 10000000, at[1]);
	a3_balance(d, "2027-03-28", 120000, 10000000, at[1]);
	a3_balance(d, "2027-03-27T22:59:59.999999Z", 110000, 10000000, at[0]);

	/*
	 * Drawdown: the month of D1's first entries to November 2027, one
	 * point each; October ends after the 5th payment and the raise,
	 * November has the 6th and the close.
	 */
	j = au_ctl_json(d, 0, "drawdown", "--contract", "K", NULL);
	assert_true(h_json_bool(j, "contract.closed"));
	pts = h_json_get(j, "points");
	n = json_array_size(pts);
	assert_true(n >= 2);
	p = json_array_get(pts, n - 1);
	assert_string_equal(h_json_str(p, "month"), "2027-11");
	assert_int_equal(h_json_int(p, "paid_cents"), 160000);
	p = json_array_get(pts, n - 2);
	assert_string_equal(h_json_str(p, "month"), "2027-10");
	assert_int_equal(h_json_int(p, "paid_cents"), 150000);
	assert_int_equal(h_json_int(p, "budget_cents"), 15000000);
	assert_int_equal(h_json_int(p, "available_cents"), 15000000 - 900000);
	for (i = 0; i < n; i++) {
		int mo = 2027 * 12 + 10 - (int)(n - 1 - i);

		p = json_array_get(pts, i);
		month = h_json_str(p, "month");
		snprintf(want, sizeof(want), "%04d-%02d", mo / 12, mo % 12 + 1);
		assert_string_equal(month, want);
		if (strcmp(month, "2027-03") < 0)
			paid = 100000;
		else if (strcmp(month, "2027-10") < 0)
			paid = 120000;
		else
			paid = strcmp(month, "2027-10") == 0 ? 150000 : 160000;
		budget = strcmp(month, "2027-10") < 0 ? 10000000 : 15000000;
		assert_int_equal(h_json_int(p, "paid_cents"), paid);
		assert_int_equal(h_json_int(p, "budget_cents"), budget);
		assert_int_equal(
		    h_json_int(p, "committed_cents") + paid, 900000);
		assert_int_equal(
		    h_json_int(p, "cumulative_committed_cents"), 900000);
	}
	json_decref(j);

	au_path(d, "k.svg", path);
	json_decref(au_ctl_json(
	    d, 0, "drawdown", "--contract", "K", "--svg", path, NULL));
	au_xml_root(path, root, sizeof(root));
	assert_string_equal(root, "svg");
}

/* ------------------------------------------------------------------ */
/* drawdown --svg of a small contract                                  */

/*
 * BUG: client/ctl-svg.c, svg_euros wrote a tick label in whole euros:
 * a contract of EUR 12 gets a y axis stepping by EUR 2.50, and its
 * ticks at 2.50, 5, 7.50, 10 and 12.50 were labelled 2, 5, 7, 10 and 12
 * (the cents cut off), so the chart's scale said something else than its
 * lines. Each label must be its tick's value.
 */
static void
test_drawdown_svg_small_ticks(void **state)
{
	struct h_daemon         *d;
	char                     path[AU_PATH_SZ], root[16];
	char                    *svg;
	static const char *const want[] = {">0</text>", ">2.5</text>",
	    ">5</text>", ">7.5</text>", ">10</text>", ">12.5</text>"};
	size_t                   i;

	au_need_python();
	*state = d = h_daemon_up(NULL);
	OK(d, "contract", "open", "T", "--provider", "Tiny", "--framework",
	    "FW2", "--budget", "12");
	au_path(d, "t.svg", path);
	json_decref(au_ctl_json(
	    d, 0, "drawdown", "--contract", "T", "--svg", path, NULL));
	au_xml_root(path, root, sizeof(root));
	assert_string_equal(root, "svg");
	svg = au_read_file(path, NULL);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (strstr(svg, want[i]) == NULL) {
			print_error("%s\n", svg);
			free(svg);
			h_fail("drawdown --svg: no tick label %s", want[i]);
		}
	if (strstr(svg, ">7</text>") != NULL ||
	    strstr(svg, ">12</text>") != NULL) {
		free(svg);
		h_fail("drawdown --svg: a tick label lost its cents");
	}
	free(svg);
}

/* ------------------------------------------------------------------ */
/* report --csv with awkward provider names                            */

static const char *const a3_providers[] = {
    "Acme, \"NV\"",
    "=HYPERLINK(\"http://x\",\"y\")",
    "+32 9 123",
    "-minus",
    "@at",
    " Caf\xc3\xa9 100% \xe2\x80\x94 BV ",
};

/*
 * Contracts of providers whose names hold a comma, quotes, leading
 * spreadsheet formula characters, a percent sign, non-ASCII UTF-8 and
 * blanks at both ends, one dossier each: report --by provider,contract
 * --csv read by Python's csv module gives back every name exactly, each
 * row's measures equal to --json's, and the total row last.
 */
static void
test_report_csv_awkward_providers(void **state)
{
	struct h_daemon *d;
	char             path[AU_PATH_SZ], k[8], dos[8];
	json_t          *j, *csv, *rows, *r, *c;
	size_t           i, n = sizeof(a3_providers) / sizeof(a3_providers[0]);
	char             rid[FX_RID_SZ], num[32];
	static const char *const measures[] = {"dossiers", "grant_events",
	    "companies", "granted_cents", "paid_cents"};
	size_t                   m;

	au_need_python();
	*state = d = h_daemon_up(NULL);
	json_decref(
	    au_ctl_json(d, 0, "rules", "load", BUDGET_RULES_PATH, NULL));
	for (i = 0; i < n; i++) {
		snprintf(k, sizeof(k), "K%zu", i);
		snprintf(dos, sizeof(dos), "D%zu", i);
		fx_rid((int)i + 1, rid);
		OK(d, "contract", "open", k, "--provider", a3_providers[i],
		    "--framework", "FW2", "--budget", "100000");
		OK(d, "company", "add", rid, "--name", a3_providers[i],
		    "--postcode", "9000", "--size", "small");
		OK(d, "dossier", "reserve", dos, "--company", rid, "--contract",
		    k, "--package", "START", "--cost", "9000");
		OK(d, "dossier", "approve", dos);
		if (i % 2 == 0)
			OK(d, "dossier", "pay", dos, "--amount", "1000");
	}
	j = au_ctl_json(d, 0, "report", "--by", "provider,contract", NULL);
	rows = h_json_get(j, "rows");
	assert_int_equal(json_array_size(rows), n);
	au_path(d, "r.csv", path);
	assert_int_equal(au_ctl_to_file(d, path, NULL, "report", "--by",
			     "provider,contract", "--csv", NULL),
	    0);
	csv = au_csv_python(path);
	assert_int_equal(json_array_size(csv), n + 2);
	c = json_array_get(csv, 0);
	assert_string_equal(
	    json_string_value(json_array_get(c, 0)), "provider");
	for (i = 0; i <= n; i++) {
		c = json_array_get(csv, i + 1);
		r = i < n ? json_array_get(rows, i) : h_json_get(j, "total");
		assert_int_equal(json_array_size(c), 2 + 5);
		if (i < n) {
			assert_string_equal(
			    json_string_value(json_array_get(c, 0)),
			    h_json_str(r, "provider"));
			assert_string_equal(
			    json_string_value(json_array_get(c, 1)),
			    h_json_str(r, "contract"));
		} else
			assert_string_equal(
			    json_string_value(json_array_get(c, 0)), "total");
		for (m = 0; m < 5; m++) {
			snprintf(num, sizeof(num), "%lld",
			    (long long)h_json_int(r, measures[m]));
			assert_string_equal(
			    json_string_value(json_array_get(c, 2 + m)), num);
		}
	}
	/* Every name came back exactly, in the CSV and in the JSON. */
	for (i = 0; i < n; i++) {
		size_t row;

		for (row = 1; row <= n; row++)
			if (strcmp(json_string_value(json_array_get(
				       json_array_get(csv, row), 0)),
				a3_providers[i]) == 0)
				break;
		if (row > n)
			h_fail("report --csv: provider \"%s\" did not come "
			       "back",
			    a3_providers[i]);
	}
	json_decref(csv);
	json_decref(j);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, NULL, h_teardown)
	const struct CMUnitTest tests[] = {
	    T(test_clock_change_days),
	    T(test_drawdown_svg_small_ticks),
	    T(test_report_csv_awkward_providers),
	};
#undef T

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
