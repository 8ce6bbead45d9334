/*
 * test_ledger.c: the programme's rules as pure functions (daemon/ledger.c),
 * table by table in the style of TigerBeetle's state-machine tests: every
 * band edge and one cent outside it, every rate, every province boundary,
 * the de-minimis windows and the exclusion window on the boundary day and
 * the day after, 29 February included.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "budget/date.h"
#include "budgetd.h"

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

static int32_t
D(const char *s)
{
	int32_t     d;
	const char *why;

	assert_int_equal(date_parse(s, &d, &why), 0);
	return (d);
}

static void
test_province(void **state)
{
	static const struct {
		const char *pc;
		const char *province; /* NULL: not a Belgian postcode */
		int         flemish;
	} t[] = {
	    {"0999", NULL, 0},
	    {"1000", "Brussel", 0},
	    {"1299", "Brussel", 0},
	    {"1300", "Waals-Brabant", 0},
	    {"1499", "Waals-Brabant", 0},
	    {"1500", "Vlaams-Brabant", 1},
	    {"1999", "Vlaams-Brabant", 1},
	    {"2000", "Antwerpen", 1},
	    {"2999", "Antwerpen", 1},
	    {"3000", "Vlaams-Brabant", 1},
	    {"3499", "Vlaams-Brabant", 1},
	    {"3500", "Limburg", 1},
	    {"3717", "Limburg", 1},
	    {"3999", "Limburg", 1},
	    {"4000", "Luik", 0},
	    {"5000", "Namen", 0},
	    {"6599", "Henegouwen", 0},
	    {"6600", "Luxemburg", 0},
	    {"7999", "Henegouwen", 0},
	    {"8000", "West-Vlaanderen", 1},
	    {"8999", "West-Vlaanderen", 1},
	    {"9000", "Oost-Vlaanderen", 1},
	    {"9999", "Oost-Vlaanderen", 1},
	    {"10000", NULL, 0},
	    {"900", NULL, 0},
	    {"9O00", NULL, 0},
	    {"", NULL, 0},
	};
	size_t i;
	int    flemish;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		const char *p = ledger_province(t[i].pc, &flemish);

		if (t[i].province == NULL) {
			assert_null(p);
			continue;
		}
		assert_non_null(p);
		assert_string_equal(p, t[i].province);
		assert_int_equal(flemish, t[i].flemish);
	}
}

/* The V2024 rule set as the shipped rules file defines it. */
static void
v2024(struct ruleset *rs)
{
	memset(rs, 0, sizeof(*rs));
	strcpy(rs->name, "V2024");
	rs->from = D("2024-04-17");
	rs->rate_sme_bp = 5000;
	rs->rate_maatwerk_bp = 5000;
	rs->rate_large_nis2_bp = 3500;
	rs->max_total_cost = 6000000;
	rs->max_subsidy = 3000000;
	rs->exclusion_years = 4;
	rs->pkgs[0] = (struct rule_package){"START", 850000, 1080000, 1, 0};
	rs->pkgs[1] = (struct rule_package){"MEDIUM", 1700000, 2200000, 2, 1};
	rs->pkgs[2] = (struct rule_package){"PLUS", 2880000, 3500000, 3, 1};
	rs->npkgs = 3;
}

static void
v2021(struct ruleset *rs)
{
	memset(rs, 0, sizeof(*rs));
	strcpy(rs->name, "V2021");
	rs->from = D("2021-01-01");
	rs->rate_sme_bp = 4500;
	rs->max_total_cost = 5000000;
	rs->exclusion_years = 4;
	rs->pkgs[0] = (struct rule_package){"BASIC", 2500000, 3000000, 2, 1};
	rs->npkgs = 1;
}

static void
test_rate(void **state)
{
	static const struct {
		int               set2021;
		enum company_size size;
		int               maatwerk, nis2;
		enum budget_err   rc;
		uint32_t          bp;
	} t[] = {
	    {0, SIZE_MICRO, 0, 0, BUDGET_OK, 5000},
	    {0, SIZE_SMALL, 0, 0, BUDGET_OK, 5000},
	    {0, SIZE_MEDIUM, 0, 0, BUDGET_OK, 5000},
	    /* A medium NIS2 entity is still an SME: 50%, not 35%. */
	    {0, SIZE_MEDIUM, 0, 1, BUDGET_OK, 5000},
	    {0, SIZE_LARGE, 0, 0, BUDGET_ERR_INELIGIBLE_COMPANY, 0},
	    {0, SIZE_LARGE, 0, 1, BUDGET_OK, 3500},
	    {0, SIZE_LARGE, 1, 0, BUDGET_OK, 5000},
	    {0, SIZE_LARGE, 1, 1, BUDGET_OK, 5000},
	    {0, SIZE_NONE, 0, 0, BUDGET_ERR_INELIGIBLE_COMPANY, 0},
	    {1, SIZE_SMALL, 0, 0, BUDGET_OK, 4500},
	    {1, SIZE_LARGE, 1, 0, BUDGET_ERR_INELIGIBLE_COMPANY, 0},
	    {1, SIZE_LARGE, 0, 1, BUDGET_ERR_INELIGIBLE_COMPANY, 0},
	};
	struct ruleset rs;
	struct company co;
	uint32_t       bp;
	char           why[256];
	size_t         i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (t[i].set2021)
			v2021(&rs);
		else
			v2024(&rs);
		memset(&co, 0, sizeof(co));
		strcpy(co.number, "0123456749");
		co.size = t[i].size;
		co.maatwerk = t[i].maatwerk;
		co.nis2 = t[i].nis2;
		bp = 0;
		assert_int_equal(
		    ledger_rate(&rs, &co, &bp, why, sizeof(why)), t[i].rc);
		if (t[i].rc == BUDGET_OK)
			assert_int_equal(bp, t[i].bp);
		else
			assert_non_null(strstr(why, "grants no rate"));
	}
}

static void
test_subsidy(void **state)
{
	static const struct {
		int             set2021;
		const char     *pkg;
		int64_t         cost, ext;
		uint32_t        bp;
		enum budget_err rc;
		int64_t         sub;
	} t[] = {
	    /* START band edges and one cent outside. */
	    {0, "START", 850000, 0, 5000, BUDGET_OK, 425000},
	    {0, "START", 849999, 0, 5000, BUDGET_ERR_COST_OUT_OF_BAND, 0},
	    {0, "START", 1080000, 0, 5000, BUDGET_OK, 540000},
	    {0, "START", 1080001, 0, 5000, BUDGET_ERR_COST_OUT_OF_BAND, 0},
	    /* MEDIUM and PLUS edges. */
	    {0, "MEDIUM", 1700000, 0, 5000, BUDGET_OK, 850000},
	    {0, "MEDIUM", 1699999, 0, 5000, BUDGET_ERR_COST_OUT_OF_BAND, 0},
	    {0, "MEDIUM", 2200000, 0, 5000, BUDGET_OK, 1100000},
	    {0, "MEDIUM", 2200001, 0, 5000, BUDGET_ERR_COST_OUT_OF_BAND, 0},
	    {0, "PLUS", 2880000, 0, 5000, BUDGET_OK, 1440000},
	    {0, "PLUS", 2879999, 0, 5000, BUDGET_ERR_COST_OUT_OF_BAND, 0},
	    {0, "PLUS", 3500000, 0, 5000, BUDGET_OK, 1750000},
	    {0, "PLUS", 3500001, 0, 5000, BUDGET_ERR_COST_OUT_OF_BAND, 0},
	    /* 12,000 fits no package. */
	    {0, "START", 1200000, 0, 5000, BUDGET_ERR_COST_OUT_OF_BAND, 0},
	    {0, "MEDIUM", 1200000, 0, 5000, BUDGET_ERR_COST_OUT_OF_BAND, 0},
	    /* Rounded down, never up: 8,500.01 x 50% = 4,250.005. */
	    {0, "START", 850001, 0, 5000, BUDGET_OK, 425000},
	    {0, "START", 850003, 0, 3500, BUDGET_OK, 297501},
	    /* Extensions: none on START, capped totals elsewhere. */
	    {0, "START", 900000, 1, 5000, BUDGET_ERR_PACKAGE_NOT_ALLOWED, 0},
	    {0, "MEDIUM", 2200000, 3800000, 5000, BUDGET_OK, 3000000},
	    {0, "MEDIUM", 2200000, 3800001, 5000, BUDGET_OK, 3000000},
	    {0, "PLUS", 3500000, 2500000, 3500, BUDGET_OK, 2100000},
	    {0, "PLUS", 3500000, 9000000, 3500, BUDGET_OK, 2100000},
	    {0, "PLUS", 3000000, 2000000, 5000, BUDGET_OK, 2500000},
	    /* The order of checks: unknown package before the band. */
	    {0, "LIGHT", 1, 0, 5000, BUDGET_ERR_PACKAGE_NOT_ALLOWED, 0},
	    {0, "MEDIUM", 1700000, -1, 5000, BUDGET_ERR_INVALID_ARGUMENT, 0},
	    /* 2021: 45%, total cost counted up to 50,000. */
	    {1, "BASIC", 2500000, 0, 4500, BUDGET_OK, 1125000},
	    {1, "BASIC", 3000000, 2000000, 4500, BUDGET_OK, 2250000},
	    {1, "BASIC", 3000000, 2000001, 4500, BUDGET_OK, 2250000},
	    {1, "BASIC", 2499999, 0, 4500, BUDGET_ERR_COST_OUT_OF_BAND, 0},
	};
	struct ruleset rs;
	int64_t        sub;
	char           why[256];
	size_t         i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (t[i].set2021)
			v2021(&rs);
		else
			v2024(&rs);
		sub = -1;
		assert_int_equal(ledger_subsidy(&rs, t[i].pkg, t[i].cost,
				     t[i].ext, t[i].bp, &sub, why, sizeof(why)),
		    t[i].rc);
		if (t[i].rc == BUDGET_OK)
			assert_int_equal(sub, t[i].sub);
		else
			assert_true(strlen(why) > 10);
	}
}

static void
test_dm_window(void **state)
{
	struct dm_regime rolling = {"2023/2831", 0, 30000000, 0, 3, 0};
	struct dm_regime fiscal = {"1407/2013", 0, 20000000, 1, 3, 0};
	static const struct {
		int         fiscal;
		const char *day, *start, *end;
	} t[] = {
	    {0, "2024-05-01", "2021-05-01", "2024-05-01"},
	    {0, "2024-02-01", "2021-02-01", "2024-02-01"},
	    /* 29 February minus three years is 28 February. */
	    {0, "2024-02-29", "2021-02-28", "2024-02-29"},
	    {0, "2024-03-01", "2021-03-01", "2024-03-01"},
	    {1, "2023-06-15", "2021-01-01", "2023-12-31"},
	    {1, "2023-01-01", "2021-01-01", "2023-12-31"},
	    {1, "2022-12-31", "2020-01-01", "2022-12-31"},
	};
	int32_t s, e;
	size_t  i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		ledger_dm_window(
		    t[i].fiscal ? &fiscal : &rolling, D(t[i].day), &s, &e);
		assert_int_equal(s, D(t[i].start));
		assert_int_equal(e, D(t[i].end));
	}
}

static void
test_excluded(void **state)
{
	static const struct {
		const char *prior, *day;
		int         excluded;
	} t[] = {
	    /* (D - 4 years, D]: exactly four years ago is allowed again. */
	    {"2020-05-01", "2024-05-01", 0},
	    {"2020-05-02", "2024-05-01", 1},
	    {"2020-05-01", "2024-04-30", 1},
	    {"2024-05-01", "2024-05-01", 1},
	    {"2019-01-01", "2024-05-01", 0},
	    /* 29 February: 2024-02-28 minus 4 years is 2020-02-28. */
	    {"2020-02-29", "2024-02-28", 1},
	    {"2020-02-28", "2024-02-28", 0},
	    {"2020-02-29", "2024-02-29", 0},
	    {"2020-02-29", "2024-03-01", 0},
	    /* A decision back-dated before a later one counts both ways. */
	    {"2024-05-01", "2020-05-02", 1},
	    {"2024-05-01", "2020-05-01", 0},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		assert_int_equal(ledger_excluded(D(t[i].prior), D(t[i].day), 4),
		    t[i].excluded);
}

static void
test_ids_and_text(void **state)
{
	char long_id[LEDGER_ID_MAX + 2];

	(void)state;
	assert_true(ledger_id_ok("CS-2026-0001", LEDGER_ID_MAX));
	assert_true(ledger_id_ok("a.b_c:d-e", LEDGER_ID_MAX));
	assert_false(ledger_id_ok("", LEDGER_ID_MAX));
	assert_false(ledger_id_ok("with space", LEDGER_ID_MAX));
	assert_false(ledger_id_ok("slash/no", LEDGER_ID_MAX));
	assert_false(ledger_id_ok("\xc3\xa9", LEDGER_ID_MAX));
	memset(long_id, 'x', sizeof(long_id) - 1);
	long_id[LEDGER_ID_MAX + 1] = '\0';
	assert_false(ledger_id_ok(long_id, LEDGER_ID_MAX));
	long_id[LEDGER_ID_MAX] = '\0';
	assert_true(ledger_id_ok(long_id, LEDGER_ID_MAX));

	assert_true(ledger_text_ok("Bakkerij De Korenaar", 256));
	assert_true(ledger_text_ok("Caf\xc3\xa9 \xe2\x82\xac", 256));
	assert_false(ledger_text_ok("", 256));
	assert_false(ledger_text_ok("tab\there", 256));
	assert_false(ledger_text_ok("new\nline", 256));
	assert_false(ledger_text_ok("\xc3", 256));         /* truncated */
	assert_false(ledger_text_ok("\xc0\xaf", 256));     /* overlong */
	assert_false(ledger_text_ok("\xed\xa0\x80", 256)); /* surrogate */
	assert_false(ledger_text_ok("\xc2\x85", 256));     /* C1 control */
	assert_false(ledger_text_ok("\xff", 256));
	assert_false(ledger_text_ok("abc", 2));
	assert_true(ledger_utf8_ok("a\nb\tc\r\n", 64, 1));
	assert_false(ledger_utf8_ok("a\x01", 64, 1));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_province),
	    cmocka_unit_test(test_rate),
	    cmocka_unit_test(test_subsidy),
	    cmocka_unit_test(test_dm_window),
	    cmocka_unit_test(test_excluded),
	    cmocka_unit_test(test_ids_and_text),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
