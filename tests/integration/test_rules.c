/*
 * test_rules.c: the programme rules (SPEC §3) through the real daemon,
 * table by table in the style of TigerBeetle's tests (issue #3): every
 * package band on its edges and one cent outside, rates and caps rounded
 * down, the rule set in force on the day before and on the day a set
 * starts; the order in which a reservation's and an approval's checks
 * answer when several fail at once; the de-minimis ceiling reached exactly
 * and missed by one cent under both regimes; the 3-year and fiscal windows
 * and the 4-year exclusion on their boundary day and the day after,
 * 29 February included; control links that start or end on the decision
 * day; a merger; contract budgets and amendments on their edges.
 *
 * Every step checks its answer, how far the journal moved (journaled
 * refusals: exactly one entry; other refusals: journal_seq and head_hash
 * unchanged) and that verify says ok (ledger_steps.h). Each test runs on
 * its own daemon with the shipped rules loaded. Daemon bugs these tables
 * ran into are shown in test_regress_rules.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger_steps.h"

/* ------------------------------------------------------------------ */
/* Bands, rates, caps and the rule set in force                       */

enum band_co { SME, MICRO, MEDIUM, LARGE, NIS2, MWL, NBANDCO };

static const struct {
	const char *number, *size, *flag;
} band_cos[NBANDCO] = {
    [SME] = {LS_CO01, "small", NULL},
    [MICRO] = {LS_CO02, "micro", NULL},
    [MEDIUM] = {LS_CO03, "medium", NULL},
    [LARGE] = {LS_CO04, "large", NULL},
    [NIS2] = {LS_CO05, "large", "--nis2"},
    [MWL] = {LS_CO06, "large", "--maatwerk"},
};

struct band_row {
	int          line;
	const char  *date;
	enum band_co co;
	const char  *package, *cost, *ext;
	const char  *code;    /* NULL: reserved (then cancelled) */
	const char  *msg;     /* in the refusal's message */
	json_int_t   subsidy; /* when reserved */
	const char  *rule_set;
};

/* clang-format off */
/* Reserved with this subsidy under this rule set, then cancelled. */
#define BAND_OK(date, co, pkg, cost, ext, sub, set) \
	{__LINE__, date, co, pkg, cost, ext, NULL, NULL, sub, set}
/* Refused with this code, the message saying msg; nothing changes. */
#define BAND_NO(date, co, pkg, cost, ext, code, msg) \
	{__LINE__, date, co, pkg, cost, ext, code, msg, 0, NULL}
/* clang-format on */

static const struct band_row band_rows[] = {
    /* Before the first rule set there is nothing to decide by. */
    BAND_NO("2020-12-31", SME, "BASIC", "25000", NULL, "no_rules_in_force",
	"2020-12-31"),

    /* V2021 (2021-01-01): BASIC 25,000-30,000 at 45%, total <= 50,000. */
    BAND_OK("2021-01-01", SME, "BASIC", "25000.00", NULL, 1125000, "V2021"),
    BAND_OK("2021-05-01", SME, "BASIC", "30000.00", NULL, 1350000, "V2021"),
    BAND_NO("2021-05-01", SME, "BASIC", "24999.99", NULL, "cost_out_of_band",
	"band"),
    BAND_NO("2021-05-01", SME, "BASIC", "30000.01", NULL, "cost_out_of_band",
	"band"),
    /* floor(2,500,001 x 45%) = 1,125,000.45 cents: rounded down. */
    BAND_OK("2021-05-01", SME, "BASIC", "25000.01", NULL, 1125000, "V2021"),
    BAND_OK("2021-05-01", SME, "BASIC", "25555.55", NULL, 1149999, "V2021"),
    /* The total cost counts up to 50,000 and no further. */
    BAND_OK("2021-05-01", SME, "BASIC", "30000", "20000.00", 2250000, "V2021"),
    BAND_OK("2021-05-01", SME, "BASIC", "30000", "20000.01", 2250000, "V2021"),
    BAND_OK("2021-05-01", SME, "BASIC", "30000", "19999.99", 2249999, "V2021"),
    BAND_OK("2021-05-01", MICRO, "BASIC", "25000", NULL, 1125000, "V2021"),
    BAND_OK("2021-05-01", MEDIUM, "BASIC", "25000", NULL, 1125000, "V2021"),
    BAND_NO("2021-05-01", LARGE, "BASIC", "25000", NULL, "ineligible_company",
	"no rate"),
    BAND_NO("2021-05-01", NIS2, "BASIC", "25000", NULL, "ineligible_company",
	"no rate"),
    /* V2021 had no rate for maatwerkbedrijven (a large one here). */
    BAND_NO("2021-05-01", MWL, "BASIC", "25000", NULL, "ineligible_company",
	"no rate"),
    /* LIGHT comes with V2021L, not a day earlier. */
    BAND_NO("2021-08-31", SME, "LIGHT", "15000", NULL, "package_not_allowed",
	"no package LIGHT"),

    /* V2021L (2021-09-01): LIGHT 15,000-20,000 without extensions. */
    BAND_OK("2021-09-01", SME, "LIGHT", "15000.00", NULL, 675000, "V2021L"),
    BAND_OK("2021-09-01", SME, "LIGHT", "20000.00", NULL, 900000, "V2021L"),
    BAND_NO("2021-09-01", SME, "LIGHT", "14999.99", NULL, "cost_out_of_band",
	"band"),
    BAND_NO("2021-09-01", SME, "LIGHT", "20000.01", NULL, "cost_out_of_band",
	"band"),
    BAND_NO("2021-09-01", SME, "LIGHT", "15000", "0.01", "package_not_allowed",
	"extension"),
    BAND_OK("2022-06-01", SME, "BASIC", "25000.00", NULL, 1125000, "V2021L"),
    BAND_OK("2022-06-01", SME, "BASIC", "30000.00", NULL, 1350000, "V2021L"),
    BAND_NO("2022-06-01", SME, "BASIC", "24999.99", NULL, "cost_out_of_band",
	"band"),
    BAND_NO("2022-06-01", SME, "BASIC", "30000.01", NULL, "cost_out_of_band",
	"band"),
    BAND_OK("2022-06-01", SME, "BASIC", "30000", "20000", 2250000, "V2021L"),
    BAND_OK("2022-06-01", MWL, "LIGHT", "15000", NULL, 675000, "V2021L"),
    BAND_NO("2022-06-01", LARGE, "LIGHT", "15000", NULL, "ineligible_company",
	"no rate"),
    /* START comes with V2023, not a day earlier. */
    BAND_NO("2023-02-28", SME, "START", "10000", NULL, "package_not_allowed",
	"no package START"),

    /* V2023 (2023-03-01): every package 9,200-35,000, no extensions. */
    BAND_OK("2023-03-01", SME, "START", "9200.00", NULL, 460000, "V2023"),
    BAND_OK("2023-03-01", SME, "START", "35000.00", NULL, 1750000, "V2023"),
    BAND_NO("2023-03-01", SME, "START", "9199.99", NULL, "cost_out_of_band",
	"band"),
    BAND_NO("2023-03-01", SME, "START", "35000.01", NULL, "cost_out_of_band",
	"band"),
    BAND_OK("2023-06-01", SME, "MEDIUM", "9200.00", NULL, 460000, "V2023"),
    BAND_OK("2023-06-01", SME, "MEDIUM", "35000.00", NULL, 1750000, "V2023"),
    BAND_NO("2023-06-01", SME, "MEDIUM", "9199.99", NULL, "cost_out_of_band",
	"band"),
    BAND_NO("2023-06-01", SME, "MEDIUM", "35000.01", NULL, "cost_out_of_band",
	"band"),
    BAND_OK("2023-06-01", SME, "PLUS", "9200.00", NULL, 460000, "V2023"),
    BAND_OK("2023-06-01", SME, "PLUS", "35000.00", NULL, 1750000, "V2023"),
    BAND_NO(
	"2023-06-01", SME, "PLUS", "9199.99", NULL, "cost_out_of_band", "band"),
    BAND_NO("2023-06-01", SME, "PLUS", "35000.01", NULL, "cost_out_of_band",
	"band"),
    BAND_OK("2023-06-01", SME, "START", "9200.01", NULL, 460000, "V2023"),
    BAND_NO("2023-06-01", SME, "MEDIUM", "20000", "1000", "package_not_allowed",
	"extension"),
    BAND_NO("2023-06-01", SME, "BASIC", "25000", NULL, "package_not_allowed",
	"no package BASIC"),
    BAND_NO("2023-06-01", SME, "LIGHT", "15000", NULL, "package_not_allowed",
	"no package LIGHT"),
    BAND_NO("2023-06-01", NIS2, "START", "10000", NULL, "ineligible_company",
	"no rate"),
    BAND_OK("2023-06-01", MWL, "START", "10000", NULL, 500000, "V2023"),
    /* 9,000 is below V2023's band on the last day it is in force... */
    BAND_NO(
	"2024-04-16", SME, "START", "9000", NULL, "cost_out_of_band", "V2023"),
    BAND_OK("2024-04-16", SME, "START", "9200", NULL, 460000, "V2023"),
    /* ...and inside V2024's START band on its first day. */
    BAND_OK("2024-04-17", SME, "START", "9000", NULL, 450000, "V2024"),

    /* V2024: START 8,500-10,800, MEDIUM 17,000-22,000, PLUS 28,800-35,000 */
    BAND_OK("2024-06-01", SME, "START", "8500.00", NULL, 425000, "V2024"),
    BAND_OK("2024-06-01", SME, "START", "10800.00", NULL, 540000, "V2024"),
    BAND_NO("2024-06-01", SME, "START", "8499.99", NULL, "cost_out_of_band",
	"band"),
    BAND_NO("2024-06-01", SME, "START", "10800.01", NULL, "cost_out_of_band",
	"band"),
    BAND_OK("2024-06-01", SME, "MEDIUM", "17000.00", NULL, 850000, "V2024"),
    BAND_OK("2024-06-01", SME, "MEDIUM", "22000.00", NULL, 1100000, "V2024"),
    BAND_NO("2024-06-01", SME, "MEDIUM", "16999.99", NULL, "cost_out_of_band",
	"band"),
    BAND_NO("2024-06-01", SME, "MEDIUM", "22000.01", NULL, "cost_out_of_band",
	"band"),
    BAND_OK("2024-06-01", SME, "PLUS", "28800.00", NULL, 1440000, "V2024"),
    BAND_OK("2024-06-01", SME, "PLUS", "35000.00", NULL, 1750000, "V2024"),
    BAND_NO("2024-06-01", SME, "PLUS", "28799.99", NULL, "cost_out_of_band",
	"band"),
    BAND_NO("2024-06-01", SME, "PLUS", "35000.01", NULL, "cost_out_of_band",
	"band"),
    /* Extensions: not on START; on MEDIUM and PLUS up to 60,000 total. */
    BAND_NO("2024-06-01", SME, "START", "10000", "0.01", "package_not_allowed",
	"extension"),
    BAND_OK("2024-06-01", SME, "MEDIUM", "22000", "38000.00", 3000000, "V2024"),
    BAND_OK("2024-06-01", SME, "MEDIUM", "22000", "38000.01", 3000000, "V2024"),
    BAND_OK("2024-06-01", SME, "MEDIUM", "22000", "37999.99", 2999999, "V2024"),
    BAND_OK("2024-06-01", SME, "PLUS", "35000", "25000", 3000000, "V2024"),
    BAND_OK("2024-06-01", SME, "PLUS", "35000", "100000", 3000000, "V2024"),
    /* 35% for large NIS2 entities, rounded down. */
    BAND_OK("2024-06-01", NIS2, "START", "8500.00", NULL, 297500, "V2024"),
    BAND_OK("2024-06-01", NIS2, "START", "8500.01", NULL, 297500, "V2024"),
    BAND_OK("2024-06-01", NIS2, "MEDIUM", "17000.03", NULL, 595001, "V2024"),
    BAND_OK("2024-06-01", NIS2, "PLUS", "35000", "25000", 2100000, "V2024"),
    BAND_NO("2024-06-01", LARGE, "START", "10000", NULL, "ineligible_company",
	"no rate"),
    BAND_OK("2024-06-01", MWL, "START", "10000", NULL, 500000, "V2024"),
    BAND_OK("2024-06-01", MICRO, "START", "10000", NULL, 500000, "V2024"),
    BAND_OK("2024-06-01", MEDIUM, "START", "10000", NULL, 500000, "V2024"),
    BAND_NO("2024-06-01", SME, "BASIC", "25000", NULL, "package_not_allowed",
	"no package BASIC"),
};

static void
test_bands_rates_caps(void **state)
{
	struct h_daemon *d = LS_DAEMON(state);
	struct ls_answer a;
	const char      *argv[LS_ARGV_MAX + 1];
	char             id[32], want[64];
	size_t           i, n;

	for (i = 0; i < NBANDCO; i++)
		LS_DO(d, "company", "add", band_cos[i].number, "--name",
		    "band company", "--postcode", "9000", "--size",
		    band_cos[i].size,
		    band_cos[i].flag != NULL ? band_cos[i].flag : NULL, NULL);

	for (i = 0; i < sizeof(band_rows) / sizeof(band_rows[0]); i++) {
		const struct band_row *r = &band_rows[i];

		snprintf(id, sizeof(id), "B%d", r->line);
		n = 0;
		argv[n++] = "dossier";
		argv[n++] = "reserve";
		argv[n++] = id;
		argv[n++] = "--company";
		argv[n++] = band_cos[r->co].number;
		argv[n++] = "--contract";
		argv[n++] = "K";
		argv[n++] = "--package";
		argv[n++] = r->package;
		argv[n++] = "--cost";
		argv[n++] = r->cost;
		if (r->ext != NULL) {
			argv[n++] = "--extension-cost";
			argv[n++] = r->ext;
		}
		argv[n++] = "--date";
		argv[n++] = r->date;
		argv[n] = NULL;
		ls_step_at(
		    __FILE__, r->line, d, r->code, r->code == NULL, argv, &a);
		if (r->code != NULL) {
			if (strstr(a.message, r->msg) == NULL) {
				print_error("message: %s\n", a.message);
				ls_answer_free(&a);
				ls_fail_at(__FILE__, r->line,
				    "the message does not say \"%s\"", r->msg);
			}
			ls_answer_free(&a);
			continue;
		}
		snprintf(want, sizeof(want), "subsidy_cents=%lld",
		    (long long)r->subsidy);
		ls_want_at(__FILE__, r->line, &a, want);
		snprintf(want, sizeof(want), "rule_set=%s", r->rule_set);
		ls_want_at(__FILE__, r->line, &a, want);
		ls_want_at(__FILE__, r->line, &a, "state=reserved");
		snprintf(want, sizeof(want), "pending_cents=%lld",
		    (long long)r->subsidy);
		ls_want_at(__FILE__, r->line, &a, want);
		ls_answer_free(&a);
		/* One trajectory at a time: free the company again. */
		ls_stepl_at(
		    __FILE__, r->line, d, NULL, 1, NULL, LS_CANCEL(id), NULL);
	}
	LS_CLI_CHECK(d);
}

/* ------------------------------------------------------------------ */
/* The order of the checks                                            */

/*
 * A reservation that fails many checks at once answers with the first in
 * cmd_dossier_reserve_exec's order; each row makes one more thing right.
 * Refusals that guard the money (contract_closed, exclusion_period,
 * contract_budget_exceeded, deminimis_ceiling_exceeded) are journaled.
 */
static const struct ls_row order_setup[] = {
    LS_R_DONE(LS_OPEN("K-CLOSED", "100000")),
    LS_R_DONE("contract", "close", "K-CLOSED"),
    LS_R_DONE(LS_OPEN("K-SMALL", "1000.00")),
    LS_R_DONE(LS_ADD("@A", "small")),
    LS_R_DONE(LS_ADD("@B", "small")),
    LS_R_DONE(LS_ADD("@E", "small")),
    LS_R_DONE(LS_ADD("@L", "large")),
    LS_R_DONE(LS_ADD("@M", "small")),
    LS_R_DONE(LS_ADD("@N", "small")),
    LS_R_DONE(LS_MERGE("@A", "@B", "2020-01-01")),
    /* E controls L and M: one undertaking. */
    LS_R_DONE(LS_LINK("@E", "@L", "2022-01-01")),
    LS_R_DONE(LS_LINK("@E", "@M", "2022-01-01")),
    /* E's trajectory, approved 2023-01-01 (V2021L, 45%): 11,250. */
    LS_R_DONE_W(LS_W("subsidy_cents=1125000", "rule_set=V2021L"),
	LS_RESERVE("DX", "@E", "K", "BASIC", "25000", "2023-01-01")),
    LS_R_DONE(LS_APPROVE("DX", "2023-01-01")),
    /* E+L+M: 296,250 of 300,000 used; N: 295,750. */
    LS_R_DONE(LS_DECLARE("@E", "285000", "2024-01-10")),
    LS_R_DONE(LS_DECLARE("@N", "295750", "2024-01-10")),
};

static const struct ls_row order_reserve[] = {
    /* Arguments first, in the order of the request's fields. */
    LS_R_NO("invalid_argument", "dossier id",
	LS_RESERVE("bad id", "123", "K/1", "GOLD", "1", "2024-02-30")),
    LS_R_NO("invalid_argument", "check digits",
	LS_RESERVE("DX", "0200101398", "K/1", "GOLD", "1", "2024-02-30")),
    LS_R_NO("invalid_argument", "establishment",
	LS_RESERVE("DX", "2147812701", "K/1", "GOLD", "1", "2024-02-30")),
    LS_R_NO("invalid_argument", "contract",
	LS_RESERVE("DX", "@U", "K/1", "GOLD", "1", "2024-02-30")),
    LS_R_NO("invalid_argument", "calendar",
	LS_RESERVE("DX", "@U", "NOPE", "GOLD", "1", "2024-02-30")),
    LS_R_NO("future_date", "after today",
	LS_RESERVE("DX", "@U", "NOPE", "GOLD", "1", "@FUTURE")),
    LS_R_NO("invalid_argument", "package",
	LS_RESERVE("DX", "@U", "NOPE", "GO LD", "1", "2020-06-01")),
    /* Then existence: the dossier, the company, the contract. */
    LS_R_NO("already_exists", "DX",
	LS_RESERVE("DX", "@U", "NOPE", "GOLD", "1", "2020-06-01")),
    LS_R_NO("not_found", "company",
	LS_RESERVE("D-ORD", "@U", "NOPE", "GOLD", "1", "2020-06-01")),
    LS_R_NO("not_found", "contract NOPE",
	LS_RESERVE("D-ORD", "@A", "NOPE", "GOLD", "1", "2020-06-01")),
    /* State: A was absorbed into B on 2020-01-01. */
    LS_R_NO("invalid_state", "absorbed",
	LS_RESERVE("D-ORD", "@A", "K-CLOSED", "GOLD", "1", "2020-06-01")),
    /* The rules in force on the day. */
    LS_R_NO("no_rules_in_force", "2020-06-01",
	LS_RESERVE("D-ORD", "@L", "K-CLOSED", "GOLD", "1", "2020-06-01")),
    /* The package, then the company's rate (L is large, not NIS2). */
    LS_R_NO("package_not_allowed", "GOLD",
	LS_RESERVE_EXT(
	    "D-ORD", "@L", "K-CLOSED", "GOLD", "1", "1000", "2024-06-01")),
    LS_R_NO("ineligible_company", "no rate",
	LS_RESERVE_EXT(
	    "D-ORD", "@L", "K-CLOSED", "START", "1", "1000", "2024-06-01")),
    /* The band, then an extension on a package without them. */
    LS_R_NO("cost_out_of_band", "band",
	LS_RESERVE_EXT(
	    "D-ORD", "@M", "K-CLOSED", "START", "1", "1000", "2024-06-01")),
    LS_R_NO("package_not_allowed", "extension",
	LS_RESERVE_EXT(
	    "D-ORD", "@M", "K-CLOSED", "START", "10000", "1000", "2024-06-01")),
    /* The money's guards, journaled: closed, exclusion, budget, ceiling. */
    LS_R_NOJ("contract_closed", "closed",
	LS_RESERVE("D-ORD", "@M", "K-CLOSED", "START", "10000", "2024-06-01")),
    LS_R_NOJ("exclusion_period", "DX",
	LS_RESERVE("D-ORD", "@M", "K-SMALL", "START", "10000", "2024-06-01")),
    LS_R_NOJ("contract_budget_exceeded", "K-SMALL",
	LS_RESERVE("D-ORD", "@N", "K-SMALL", "START", "10000", "2024-06-01")),
    LS_R_NOJ("deminimis_ceiling_exceeded", "300,750.00",
	LS_RESERVE("D-ORD", "@N", "K", "START", "10000", "2024-06-01")),
    /* Everything right: 295,750 + 4,250 is the ceiling exactly. */
    LS_R_DONE_W(
	LS_W("state=reserved", "subsidy_cents=425000", "rule_set=V2024"),
	LS_RESERVE("D-ORD", "@N", "K", "START", "8500", "2024-06-01")),
    LS_R_READ(LS_W("pending_cents=425000", "used_cents=29575000",
		  "available_cents=0"),
	LS_DM_SHOW("@N", "2024-06-01")),
};

static void
test_order_reserve(void **state)
{
	struct h_daemon *d = LS_DAEMON(state);
	char             future[16];
	struct ls_name   names[] = {
	      {"A", LS_CO01},
	      {"B", LS_CO02},
	      {"E", LS_CO03},
	      {"L", LS_CO04},
	      {"M", LS_CO05},
	      {"N", LS_CO06},
	      {"U", LS_CO07}, /* never added */
	      {"FUTURE", future},
	      {NULL, NULL},
        };

	ls_date_from_today(2, future);
	LS_ROWS(d, order_setup, names);
	LS_ROWS(d, order_reserve, names);
}

/*
 * Approval re-checks on its decision date what depends on it: the rule
 * set, the exclusion (a link that began after the reservation) and the
 * de-minimis window; a refused approval leaves the reservation as it was.
 */
static const struct ls_row order_approve[] = {
    LS_R_DONE(LS_ADD("@S", "small")),
    LS_R_DONE(LS_ADD("@V", "small")),
    LS_R_DONE(LS_ADD("@R", "small")),
    LS_R_DONE(LS_ADD("@T", "small")),
    LS_R_DONE(LS_ADD("@T2", "small")),
    /* V's trajectory, approved 2021-06-01. */
    LS_R_DONE(LS_RESERVE("DV", "@V", "K", "BASIC", "25000", "2021-06-01")),
    LS_R_DONE(LS_APPROVE("DV", "2021-06-01")),
    /* S reserves; afterwards aid is declared and V takes control. */
    LS_R_DONE(LS_RESERVE("DS", "@S", "K", "START", "10000", "2024-06-01")),
    LS_R_DONE(LS_DECLARE("@S", "195000.01", "2021-06-15")),
    LS_R_DONE(LS_DECLARE("@S", "100000", "2024-01-15")),
    LS_R_DONE(LS_LINK("@V", "@S", "2024-07-01")),

    LS_R_NO("invalid_argument", "dossier id", LS_APPROVE("bad id", "")),
    /* Arguments and dates come before the dossier is looked up. */
    LS_R_NO("invalid_argument", "calendar", LS_APPROVE("NOPE", "2024-02-30")),
    LS_R_NO("future_date", "after today", LS_APPROVE("NOPE", "@FUTURE")),
    LS_R_NO("not_found", "NOPE", LS_APPROVE("NOPE", "2024-06-01")),
    /* So for amend: arguments, then the dossier. */
    LS_R_NO("invalid_argument", "package", "dossier", "amend", "NOPE",
	"--package", "GO LD"),
    LS_R_NO("invalid_argument", "ttl", "dossier", "amend", "NOPE", "--cost",
	"1", "--ttl", "400d"),
    LS_R_NO("not_found", "NOPE", "dossier", "amend", "NOPE", "--cost", "1"),
    LS_R_NO("invalid_argument", "calendar", LS_APPROVE("DS", "2024-02-30")),
    LS_R_NO("future_date", "after today", LS_APPROVE("DS", "@FUTURE")),
    LS_R_NO("invalid_argument", "before", LS_APPROVE("DS", "2024-05-31")),
    /* On 2024-07-01 V is in S's undertaking: DV is within 4 years. */
    LS_R_NOJ("exclusion_period", "DV", LS_APPROVE("DS", "2024-07-01")),
    /* 195,000.01 declared on 2021-06-15 is in the window of 2024-06-15. */
    LS_R_NOJ("deminimis_ceiling_exceeded", "300,000.01",
	LS_APPROVE("DS", "2024-06-15")),
    /* The reservation stays as it was. */
    LS_R_READ(LS_W("state=reserved", "pending_cents=500000", "granted_cents=0",
		  "grants#=0"),
	LS_SHOW("DS")),
    LS_R_READ(LS_W("reserved_cents=500000", "committed_cents=1125000"),
	"contract", "show", "K"),
    /* The next day the declared aid has left the window. */
    LS_R_DONE_W(
	LS_W("state=approved", "first_decision=2024-06-16",
	    "grants.0.kind=initial", "grants.0.decision_date=2024-06-16"),
	LS_APPROVE("DS", "2024-06-16")),
    LS_R_NO("invalid_state", "approved", LS_APPROVE("DS", "2024-06-16")),

    /* Reserved under V2023 on its last day: approved under V2024? No. */
    LS_R_DONE_W(LS_W("rule_set=V2023"),
	LS_RESERVE("DR", "@R", "K", "START", "10000", "2024-04-16")),
    LS_R_NO("invalid_state", "V2024", LS_APPROVE("DR", "2024-04-17")),
    LS_R_DONE_W(LS_W("state=approved", "granted_cents=500000"),
	LS_APPROVE("DR", "2024-04-16")),

    /*
     * T and T2 each reserved before T took control of T2: neither can be
     * approved while the other is reserved (one trajectory at a time).
     */
    LS_R_DONE(LS_RESERVE("DT", "@T", "K", "START", "10000", "2024-06-01")),
    LS_R_DONE(LS_RESERVE("DT2", "@T2", "K", "START", "10000", "2024-06-01")),
    LS_R_DONE(LS_LINK("@T", "@T2", "2024-01-01")),
    LS_R_NOJ("exclusion_period", "DT2", LS_APPROVE("DT", "2024-06-02")),
    LS_R_DONE(LS_CANCEL("DT2")),
    LS_R_DONE(LS_APPROVE("DT", "2024-06-02")),
    LS_R_NO("invalid_state", "cancelled", LS_APPROVE("DT2", "2024-06-02")),
};

static void
test_order_approve(void **state)
{
	struct h_daemon *d = LS_DAEMON(state);
	char             future[16];
	struct ls_name   names[] = {
	      {"S", LS_CO01},
	      {"V", LS_CO02},
	      {"R", LS_CO03},
	      {"T", LS_CO04},
	      {"T2", LS_CO05},
	      {"FUTURE", future},
	      {NULL, NULL},
        };

	ls_date_from_today(2, future);
	LS_ROWS(d, order_approve, names);
}

/* ------------------------------------------------------------------ */
/* De-minimis: the ceiling                                            */

static const struct ls_row dm_ceiling[] = {
    LS_R_DONE(LS_ADD("@X1", "small")),
    LS_R_DONE(LS_ADD("@X2", "small")),
    LS_R_DONE(LS_ADD("@X3", "small")),
    LS_R_DONE(LS_ADD("@X4", "small")),
    /* 2023/2831: 295,000 used; 5,000 fits exactly, 5,000.01 does not. */
    LS_R_DONE_W(LS_W("used_cents=29500000", "on=2025-01-10"),
	LS_DECLARE("@X1", "295000.00", "2025-01-10")),
    LS_R_READ(LS_W("used_cents=29500000", "available_cents=500000",
		  "ceiling_cents=30000000", "window_start=2022-02-01",
		  "window_end=2025-02-01"),
	LS_DM_SHOW("@X1", "2025-02-01")),
    LS_R_NOJ("deminimis_ceiling_exceeded", "300,000.01",
	LS_RESERVE("DX1", "@X1", "K", "START", "10000.02", "2025-02-01")),
    LS_R_READ(LS_W("used_cents=29500000", "pending_cents=0"),
	LS_DM_SHOW("@X1", "2025-02-01")),
    LS_R_DONE_W(LS_W("subsidy_cents=500000"),
	LS_RESERVE("DX1", "@X1", "K", "START", "10000.00", "2025-02-01")),
    LS_R_READ(LS_W("pending_cents=500000", "available_cents=0"),
	LS_DM_SHOW("@X1", "2025-02-01")),
    LS_R_DONE(LS_APPROVE("DX1", "2025-02-01")),
    LS_R_READ(LS_W("used_cents=30000000", "pending_cents=0",
		  "available_cents=0", "grants#=2"),
	LS_DM_SHOW("@X1", "2025-02-01")),
    /* Full: not one cent more, declared or not, in any window with it. */
    LS_R_NOJ("deminimis_ceiling_exceeded", "300,000.01",
	LS_DECLARE("@X1", "0.01", "2025-01-10")),
    LS_R_NOJ("deminimis_ceiling_exceeded", "300,000.01",
	LS_DECLARE("@X1", "0.01", "2022-02-01")),
    /* 2022-01-31 lies in 2025-01-10's window but not in 2025-02-01's. */
    LS_R_DONE(LS_DECLARE("@X1", "0.01", "2022-01-31")),

    /* Declared aid alone: exactly the ceiling, then nothing more. */
    LS_R_DONE(LS_DECLARE("@X2", "300000.00", "2025-01-10")),
    LS_R_NOJ("deminimis_ceiling_exceeded", "300,000.01",
	LS_DECLARE("@X2", "0.01", "2025-01-10")),
    LS_R_NOJ("deminimis_ceiling_exceeded", "300,000.01",
	LS_DECLARE("@X3", "300000.01", "2025-01-10")),
    LS_R_READ(LS_W("used_cents=0"), LS_DM_SHOW("@X3", "2025-01-10")),
    /* SPEC's example: with 299,000 used, 1,000 passes, 1,000.01 not. */
    LS_R_DONE(LS_DECLARE("@X4", "299000.00", "2025-01-10")),
    LS_R_NOJ("deminimis_ceiling_exceeded", "300,000.01",
	LS_DECLARE("@X4", "1000.01", "2025-01-11")),
    LS_R_DONE_W(LS_W("used_cents=30000000"),
	LS_DECLARE("@X4", "1000.00", "2025-01-11")),
};

/* 1407/2013 (before 2024): 200,000 over the fiscal year and two before. */
static const struct ls_row dm_fiscal[] = {
    LS_R_DONE(LS_ADD("@F1", "small")),
    LS_R_DONE(LS_ADD("@F2", "small")),
    LS_R_DONE(LS_ADD("@F3", "small")),
    LS_R_DONE(LS_ADD("@F4", "small")),
    LS_R_DONE(LS_DECLARE("@F1", "195000.00", "2021-01-01")),
    LS_R_NOJ("deminimis_ceiling_exceeded", "200,000.01",
	LS_RESERVE("DF1", "@F1", "K", "START", "10000.02", "2023-06-01")),
    LS_R_DONE(LS_RESERVE("DF1", "@F1", "K", "START", "10000.00", "2023-06-01")),
    LS_R_READ(LS_W("regime=1407/2013", "ceiling_cents=20000000",
		  "window_start=2021-01-01", "window_end=2023-12-31",
		  "used_cents=19500000", "pending_cents=500000"),
	LS_DM_SHOW("@F1", "2023-06-01")),
    LS_R_DONE(LS_CANCEL("DF1")),
    /* The window starts on 1 January of the year two before. */
    LS_R_DONE(LS_DECLARE("@F2", "199999.99", "2020-12-31")),
    LS_R_NOJ("deminimis_ceiling_exceeded", "1407/2013",
	LS_RESERVE("DF2", "@F2", "K", "LIGHT", "15000", "2022-12-31")),
    LS_R_DONE(LS_RESERVE("DF2", "@F2", "K", "LIGHT", "15000", "2023-01-01")),
    LS_R_DONE(LS_CANCEL("DF2")),
    /* ...and ends on 31 December of the decision's year. */
    LS_R_DONE(LS_DECLARE("@F3", "196000", "2023-12-31")),
    LS_R_NOJ("deminimis_ceiling_exceeded", "1407/2013",
	LS_RESERVE("DF3", "@F3", "K", "START", "10000", "2023-03-01")),
    LS_R_NOJ("deminimis_ceiling_exceeded", "1407/2013",
	LS_RESERVE("DF3", "@F3", "K", "START", "10000", "2023-12-31")),
    /* From 2024-01-01 the ceiling is 300,000. */
    LS_R_DONE(LS_RESERVE("DF3", "@F3", "K", "START", "10000", "2024-01-01")),
    LS_R_READ(LS_W("regime=2023/2831", "ceiling_cents=30000000",
		  "window_start=2021-01-01", "window_end=2024-01-01"),
	LS_DM_SHOW("@F3", "2024-01-01")),
    LS_R_DONE(LS_CANCEL("DF3")),
    /*
     * A back-dated decision must fit every later window that holds it:
     * 2023-06-01 lies in the rolling window of 2024-01-10.
     */
    LS_R_DONE(LS_DECLARE("@F4", "296000", "2024-01-10")),
    LS_R_NOJ("deminimis_ceiling_exceeded", "on 2024-01-10",
	LS_RESERVE("DF4", "@F4", "K", "START", "10000", "2023-06-01")),
    LS_R_NOJ("deminimis_ceiling_exceeded", "on 2024-01-10",
	LS_RESERVE("DF4", "@F4", "K", "BASIC", "25000", "2021-01-10")),
    LS_R_DONE(LS_RESERVE("DF4", "@F4", "K", "BASIC", "25000", "2021-01-09")),
};

static void
test_deminimis_ceiling(void **state)
{
	struct h_daemon *d = LS_DAEMON(state);
	struct ls_name   names[] = {
	      {"X1", LS_CO01},
	      {"X2", LS_CO02},
	      {"X3", LS_CO03},
	      {"X4", LS_CO04},
	      {"F1", LS_CO05},
	      {"F2", LS_CO06},
	      {"F3", LS_CO07},
	      {"F4", LS_CO08},
	      {NULL, NULL},
        };

	LS_ROWS(d, dm_ceiling, names);
	LS_ROWS(d, dm_fiscal, names);
}

/* ------------------------------------------------------------------ */
/* De-minimis: the rolling 3-year window                              */

static const struct ls_row dm_window[] = {
    LS_R_DONE(LS_ADD("@W1", "small")),
    LS_R_DONE(LS_ADD("@W2", "small")),
    LS_R_DONE(LS_ADD("@Z1", "small")),
    LS_R_DONE(LS_ADD("@Z2", "small")),
    LS_R_DONE(LS_ADD("@Z3", "small")),
    /*
     * Before 2024 no undertaking holds more than 200,000 (1407/2013), so
     * each company's aid near the old window's edge is 196,000, and
     * 100,000 more comes in January 2024.
     */
    LS_R_NOJ("deminimis_ceiling_exceeded", "1407/2013",
	LS_DECLARE("@W1", "200000.01", "2022-03-15")),
    /* [D - 3 years, D], both ends in: in on the boundary day... */
    LS_R_DONE(LS_DECLARE("@W1", "196000", "2022-03-15")),
    LS_R_DONE(LS_DECLARE("@W1", "100000", "2024-01-15")),
    LS_R_NOJ("deminimis_ceiling_exceeded", "2022-03-15..2025-03-15",
	LS_RESERVE("DW1", "@W1", "K", "START", "10000", "2025-03-15")),
    LS_R_READ(LS_W("window_start=2022-03-15", "window_end=2025-03-15",
		  "used_cents=29600000", "grants#=2"),
	LS_DM_SHOW("@W1", "2025-03-15")),
    /* ...out the day after. */
    LS_R_DONE(LS_RESERVE("DW1", "@W1", "K", "START", "10000", "2025-03-16")),
    LS_R_READ(LS_W("window_start=2022-03-16", "used_cents=10000000",
		  "pending_cents=500000", "grants#=1"),
	LS_DM_SHOW("@W1", "2025-03-16")),
    LS_R_DONE(LS_CANCEL("DW1")),
    /* Aid granted on the decision day is in; so is aid the day after. */
    LS_R_DONE(LS_DECLARE("@W2", "296000", "2025-05-05")),
    LS_R_NOJ("deminimis_ceiling_exceeded", "2025-05-05",
	LS_RESERVE("DW2", "@W2", "K", "START", "10000", "2025-05-05")),
    LS_R_NOJ("deminimis_ceiling_exceeded", "2025-05-05",
	LS_RESERVE("DW2", "@W2", "K", "START", "10000", "2025-05-04")),

    /* 29 February 2024 minus three years is 28 February 2021. */
    LS_R_DONE(LS_DECLARE("@Z1", "196000", "2021-02-28")),
    LS_R_DONE(LS_DECLARE("@Z1", "100000", "2024-01-15")),
    LS_R_NOJ("deminimis_ceiling_exceeded", "2021-02-28..2024-02-29",
	LS_RESERVE("DZ1", "@Z1", "K", "START", "10000", "2024-02-29")),
    LS_R_READ(LS_W("window_start=2021-02-28", "window_end=2024-02-29",
		  "regime=2023/2831"),
	LS_DM_SHOW("@Z1", "2024-02-29")),
    LS_R_DONE_W(LS_W("rule_set=V2023"),
	LS_RESERVE("DZ1", "@Z1", "K", "START", "10000", "2024-03-01")),
    LS_R_READ(LS_W("window_start=2021-03-01"), LS_DM_SHOW("@Z1", "2024-03-01")),
    LS_R_DONE(LS_CANCEL("DZ1")),
    /* Aid of 1 March 2021 is in on 29 Feb, 1 March; out on 2 March. */
    LS_R_DONE(LS_DECLARE("@Z2", "196000", "2021-03-01")),
    LS_R_DONE(LS_DECLARE("@Z2", "100000", "2024-01-15")),
    LS_R_NOJ("deminimis_ceiling_exceeded", "300,000",
	LS_RESERVE("DZ2", "@Z2", "K", "START", "10000", "2024-02-29")),
    LS_R_NOJ("deminimis_ceiling_exceeded", "300,000",
	LS_RESERVE("DZ2", "@Z2", "K", "START", "10000", "2024-03-01")),
    LS_R_DONE(LS_RESERVE("DZ2", "@Z2", "K", "START", "10000", "2024-03-02")),
    LS_R_DONE(LS_CANCEL("DZ2")),
    /* Aid of 27 February 2021 is out on 28 Feb 2024 and on 29 Feb. */
    LS_R_DONE(LS_DECLARE("@Z3", "196000", "2021-02-27")),
    LS_R_DONE(LS_DECLARE("@Z3", "100000", "2024-01-15")),
    LS_R_NOJ("deminimis_ceiling_exceeded", "2021-02-27..2024-02-27",
	LS_RESERVE("DZ3", "@Z3", "K", "START", "10000", "2024-02-27")),
    LS_R_DONE(LS_RESERVE("DZ3", "@Z3", "K", "START", "10000", "2024-02-28")),
    LS_R_DONE(LS_CANCEL("DZ3")),
    LS_R_DONE(LS_RESERVE("DZ3b", "@Z3", "K", "START", "10000", "2024-02-29")),
    LS_R_DONE(LS_APPROVE("DZ3b", "2024-02-29")),
    LS_R_READ(LS_W("used_cents=10500000", "window_start=2021-02-28"),
	LS_DM_SHOW("@Z3", "2024-02-29")),
};

static void
test_deminimis_window(void **state)
{
	struct h_daemon *d = LS_DAEMON(state);
	struct ls_name   names[] = {
	      {"W1", LS_CO01},
	      {"W2", LS_CO02},
	      {"Z1", LS_CO03},
	      {"Z2", LS_CO04},
	      {"Z3", LS_CO05},
	      {NULL, NULL},
        };

	LS_ROWS(d, dm_window, names);
}

/* ------------------------------------------------------------------ */
/* R-EXCL: the 4-year exclusion                                       */

/* A rule set before the shipped ones, for approvals in 2020. */
static const char rules_t2016[] = "[ruleset T2016]\n"
				  "from = 2016-01-01\n"
				  "rate_sme = 50%\n"
				  "rate_maatwerk = 50%\n"
				  "rate_large_nis2 = none\n"
				  "max_total_cost = none\n"
				  "max_subsidy = none\n"
				  "exclusion_years = 4\n"
				  "\n"
				  "[package T2016 START]\n"
				  "min_cost = 1000.00\n"
				  "max_cost = 50000.00\n"
				  "rank = 1\n"
				  "extensions = no\n";

static const struct ls_row exclusion[] = {
    LS_R_DONE(LS_ADD("@E1", "small")),
    LS_R_DONE(LS_ADD("@E2", "small")),
    LS_R_DONE(LS_ADD("@E3", "small")),
    LS_R_DONE(LS_ADD("@P1", "small")),
    LS_R_DONE(LS_ADD("@P2", "small")),
    /* Approved 2021-05-01: a new one is excluded in (D - 4y, D]. */
    LS_R_DONE(LS_RESERVE("DE1", "@E1", "K", "BASIC", "25000", "2021-05-01")),
    LS_R_DONE(LS_APPROVE("DE1", "2021-05-01")),
    LS_R_NOJ("exclusion_period", "2021-05-01",
	LS_RESERVE("DE1b", "@E1", "K", "START", "10000", "2025-04-30")),
    LS_R_DONE(LS_RESERVE("DE1b", "@E1", "K", "START", "10000", "2025-05-01")),
    LS_R_DONE(LS_APPROVE("DE1b", "2025-05-01")),
    /* Amendments of the same dossier are not new trajectories. */
    LS_R_DONE_W(LS_W("pending_cents=350000"), "dossier", "amend", "DE1b",
	"--package", "MEDIUM", "--cost", "17000"),
    LS_R_DONE(LS_APPROVE("DE1b", "2025-05-02")),

    /* Back-dated before a later approval: the same 4 years, mirrored. */
    LS_R_DONE(LS_RESERVE("DE2", "@E2", "K", "START", "10000", "2025-06-01")),
    LS_R_DONE(LS_APPROVE("DE2", "2025-06-01")),
    LS_R_NOJ("exclusion_period", "2025-06-01",
	LS_RESERVE("DE2b", "@E2", "K", "BASIC", "25000", "2021-06-02")),
    LS_R_DONE(LS_RESERVE("DE2b", "@E2", "K", "BASIC", "25000", "2021-06-01")),
    LS_R_DONE(LS_APPROVE("DE2b", "2021-06-01")),

    /* One trajectory at a time: a reserved dossier excludes another. */
    LS_R_DONE(LS_RESERVE("DE3", "@E3", "K", "START", "10000", "2024-06-01")),
    LS_R_NOJ("exclusion_period", "reserved",
	LS_RESERVE("DE3b", "@E3", "K", "START", "10000", "2024-06-01")),
    LS_R_DONE(LS_CANCEL("DE3")),
    LS_R_DONE(LS_RESERVE("DE3b", "@E3", "K", "START", "10000", "2024-06-01")),

    /* 29 February: four years before 2024-02-29 is 2020-02-29. */
    LS_R_DONE_W(LS_W("rule_set=T2016", "subsidy_cents=500000"),
	LS_RESERVE("DP1", "@P1", "K", "START", "10000", "2020-02-29")),
    LS_R_DONE(LS_APPROVE("DP1", "2020-02-29")),
    LS_R_NOJ("exclusion_period", "2020-02-29",
	LS_RESERVE("DP1b", "@P1", "K", "START", "10000", "2024-02-28")),
    LS_R_DONE_W(LS_W("rule_set=V2023"),
	LS_RESERVE("DP1b", "@P1", "K", "START", "10000", "2024-02-29")),
    LS_R_DONE(LS_APPROVE("DP1b", "2024-02-29")),
    LS_R_DONE(LS_RESERVE("DP2", "@P2", "K", "START", "10000", "2020-03-01")),
    LS_R_DONE(LS_APPROVE("DP2", "2020-03-01")),
    LS_R_NOJ("exclusion_period", "2020-03-01",
	LS_RESERVE("DP2b", "@P2", "K", "START", "10000", "2024-02-29")),
    LS_R_DONE(LS_RESERVE("DP2b", "@P2", "K", "START", "10000", "2024-03-01")),
};

static void
test_exclusion(void **state)
{
	struct h_daemon *d = LS_DAEMON(state);
	struct ls_name   names[] = {
	      {"E1", LS_CO01},
	      {"E2", LS_CO02},
	      {"E3", LS_CO03},
	      {"P1", LS_CO04},
	      {"P2", LS_CO05},
	      {NULL, NULL},
        };

	LS_RULES_TEXT(d, "t2016.rules", rules_t2016);
	LS_ROWS(d, exclusion, names);
}

/*
 * An exclusion of 3 years in force on 29 February: 2024-02-29 minus
 * three years is 2021-02-28, so an approval of 2021-02-28 is out of it
 * and one of 2021-03-01 in.
 */
static const char rules_leap3[] = "[ruleset LEAP3]\n"
				  "from = 2024-02-29\n"
				  "rate_sme = 50%\n"
				  "rate_maatwerk = 50%\n"
				  "rate_large_nis2 = none\n"
				  "max_total_cost = none\n"
				  "max_subsidy = none\n"
				  "exclusion_years = 3\n"
				  "\n"
				  "[package LEAP3 START]\n"
				  "min_cost = 1000.00\n"
				  "max_cost = 50000.00\n"
				  "rank = 1\n"
				  "extensions = no\n";

static const struct ls_row exclusion_leap3[] = {
    LS_R_DONE(LS_ADD("@Y1", "small")),
    LS_R_DONE(LS_ADD("@Y2", "small")),
    LS_R_DONE(LS_RESERVE("DY1", "@Y1", "K", "BASIC", "25000", "2021-02-28")),
    LS_R_DONE(LS_APPROVE("DY1", "2021-02-28")),
    LS_R_DONE_W(LS_W("rule_set=LEAP3"),
	LS_RESERVE("DY1b", "@Y1", "K", "START", "10000", "2024-02-29")),
    LS_R_DONE(LS_RESERVE("DY2", "@Y2", "K", "BASIC", "25000", "2021-03-01")),
    LS_R_DONE(LS_APPROVE("DY2", "2021-03-01")),
    LS_R_NOJ("exclusion_period", "3 years",
	LS_RESERVE("DY2b", "@Y2", "K", "START", "10000", "2024-02-29")),
    LS_R_DONE(LS_RESERVE("DY2b", "@Y2", "K", "START", "10000", "2024-03-01")),
};

static void
test_exclusion_leap_day(void **state)
{
	struct h_daemon *d = LS_DAEMON(state);
	struct ls_name   names[] = {
	      {"Y1", LS_CO01},
	      {"Y2", LS_CO02},
	      {NULL, NULL},
        };

	LS_RULES_TEXT(d, "leap3.rules", rules_leap3);
	LS_ROWS(d, exclusion_leap3, names);
}

/* ------------------------------------------------------------------ */
/* Single undertakings: links and mergers                             */

static const struct ls_row links[] = {
    LS_R_DONE(LS_ADD("@Q1", "small")),
    LS_R_DONE(LS_ADD("@Q2", "small")),
    LS_R_DONE(LS_ADD("@Q3", "small")),
    LS_R_DONE(LS_ADD("@H1", "small")),
    LS_R_DONE(LS_ADD("@H2", "small")),
    LS_R_DONE(LS_ADD("@H3", "small")),
    LS_R_DONE(LS_ADD("@G1", "small")),
    LS_R_DONE(LS_ADD("@G2", "small")),
    LS_R_DONE(LS_ADD("@G3", "small")),

    /* Q1 controls Q2 in March 2025 only: from the 1st to the 31st. */
    LS_R_DONE(LS_DECLARE("@Q1", "296000", "2025-01-10")),
    LS_R_DONE(LS_LINK_UNTIL("@Q1", "@Q2", "2025-03-01", "2025-03-31")),
    LS_R_READ(
	LS_W("undertaking#=1"), "company", "show", "@Q2", "--on", "2025-02-28"),
    LS_R_READ(LS_W("undertaking#=2", "undertaking.1=@Q1"), "company", "show",
	"@Q2", "--on", "2025-03-01"),
    LS_R_READ(
	LS_W("undertaking#=2"), "company", "show", "@Q2", "--on", "2025-03-31"),
    LS_R_READ(
	LS_W("undertaking#=1"), "company", "show", "@Q2", "--on", "2025-04-01"),
    LS_R_DONE(LS_RESERVE("DQ2", "@Q2", "K", "START", "10000", "2025-02-28")),
    LS_R_DONE(LS_CANCEL("DQ2")),
    LS_R_NOJ("deminimis_ceiling_exceeded", "2 companies",
	LS_RESERVE("DQ2b", "@Q2", "K", "START", "10000", "2025-03-01")),
    LS_R_NOJ("deminimis_ceiling_exceeded", "2 companies",
	LS_RESERVE("DQ2b", "@Q2", "K", "START", "10000", "2025-03-31")),
    LS_R_READ(LS_W("used_cents=29600000", "undertaking#=2"),
	LS_DM_SHOW("@Q2", "2025-03-31")),
    LS_R_READ(LS_W("used_cents=0", "undertaking#=1"),
	LS_DM_SHOW("@Q2", "2025-04-01")),
    LS_R_DONE(LS_RESERVE("DQ2b", "@Q2", "K", "START", "10000", "2025-04-01")),
    LS_R_DONE(LS_CANCEL("DQ2b")),
    /*
     * Q3 reserved before Q1 took control of it; the approval is judged
     * with the undertaking of its own decision date.
     */
    LS_R_DONE(LS_RESERVE("DQ3", "@Q3", "K", "START", "10000", "2025-02-25")),
    LS_R_DONE(LS_LINK("@Q1", "@Q3", "2025-03-10")),
    LS_R_NOJ("deminimis_ceiling_exceeded", "3 companies",
	LS_APPROVE("DQ3", "2025-03-10")),
    LS_R_NOJ("deminimis_ceiling_exceeded", "2 companies",
	LS_APPROVE("DQ3", "2025-04-15")),
    LS_R_DONE(LS_CANCEL("DQ3")),

    /* Links are followed transitively: H1 - H2 - H3. */
    LS_R_DONE(LS_DECLARE("@H1", "296000", "2025-01-10")),
    LS_R_DONE(LS_LINK("@H1", "@H2", "2025-01-01")),
    LS_R_DONE(LS_LINK("@H2", "@H3", "2025-01-01")),
    LS_R_READ(
	LS_W("undertaking#=3"), "company", "show", "@H3", "--on", "2025-02-01"),
    LS_R_NOJ("deminimis_ceiling_exceeded", "3 companies",
	LS_RESERVE("DH3", "@H3", "K", "START", "10000", "2025-02-01")),
    /* A grant before the links still counts in the group's later windows. */
    LS_R_NOJ("deminimis_ceiling_exceeded", "on 2025-01-10",
	LS_RESERVE("DH3", "@H3", "K", "START", "10000", "2024-12-31")),
    LS_R_DONE(LS_RESERVE("DH3", "@H3", "K", "LIGHT", "15000", "2022-01-09")),

    /* The exclusion follows links too, on their first and last day. */
    LS_R_DONE(LS_RESERVE("DG1", "@G1", "K", "LIGHT", "15000", "2022-01-10")),
    LS_R_DONE(LS_APPROVE("DG1", "2022-01-10")),
    LS_R_DONE(LS_LINK_UNTIL("@G1", "@G2", "2023-01-01", "2024-12-31")),
    LS_R_NOJ("exclusion_period", "DG1",
	LS_RESERVE("DG2", "@G2", "K", "START", "10000", "2024-12-31")),
    LS_R_DONE(LS_RESERVE("DG2", "@G2", "K", "START", "10000", "2025-01-01")),
    LS_R_DONE(LS_CANCEL("DG2")),
    LS_R_DONE(LS_LINK("@G1", "@G3", "2025-02-01")),
    LS_R_DONE(LS_RESERVE("DG3", "@G3", "K", "START", "10000", "2025-01-31")),
    LS_R_DONE(LS_CANCEL("DG3")),
    LS_R_NOJ("exclusion_period", "DG1",
	LS_RESERVE("DG3b", "@G3", "K", "START", "10000", "2025-02-01")),
};

static void
test_links(void **state)
{
	struct h_daemon *d = LS_DAEMON(state);
	struct ls_name   names[] = {
	      {"Q1", LS_CO01},
	      {"Q2", LS_CO02},
	      {"Q3", LS_CO03},
	      {"H1", LS_CO04},
	      {"H2", LS_CO05},
	      {"H3", LS_CO06},
	      {"G1", LS_CO07},
	      {"G2", LS_CO08},
	      {"G3", LS_CO09},
	      {NULL, NULL},
        };

	LS_ROWS(d, links, names);
}

static const struct ls_row merger[] = {
    LS_R_DONE(LS_ADD("@MA", "small")),
    LS_R_DONE(LS_ADD("@MB", "small")),
    LS_R_DONE(LS_ADD("@MC", "small")),
    LS_R_DONE(LS_ADD("@MD", "small")),
    LS_R_DONE(LS_ADD("@ME", "small")),
    LS_R_DONE(LS_ADD("@MF", "small")),
    LS_R_DONE(LS_DECLARE("@MA", "295000", "2024-06-01")),
    LS_R_DONE_W(LS_W("undertaking#=2"), LS_MERGE("@MA", "@MB", "2025-01-01")),
    LS_R_READ(LS_W("absorbed_into=@MB", "absorbed_on=2025-01-01"), "company",
	"show", "@MA"),
    LS_R_READ(
	LS_W("undertaking#=2"), "company", "show", "@MB", "--on", "2025-01-01"),
    /* Before the merger A still decides for itself... */
    LS_R_DONE(LS_RESERVE("DA", "@MA", "K", "START", "10000", "2024-12-31")),
    LS_R_DONE(LS_CANCEL("DA")),
    /* ...from its day on it takes no new trajectory. */
    LS_R_NO("invalid_state", "absorbed",
	LS_RESERVE("DA2", "@MA", "K", "START", "10000", "2025-01-01")),
    LS_R_NO("invalid_state", "absorbed",
	LS_RESERVE("DA2", "@MA", "K", "START", "10000", "2025-06-01")),
    /* B: A's grants count from the merger's day on, not before. */
    LS_R_DONE(LS_RESERVE("DB", "@MB", "K", "START", "10000.02", "2024-12-31")),
    LS_R_DONE(LS_CANCEL("DB")),
    LS_R_NOJ("deminimis_ceiling_exceeded", "300,000.01",
	LS_RESERVE("DB2", "@MB", "K", "START", "10000.02", "2025-01-01")),
    LS_R_DONE(LS_RESERVE("DB2", "@MB", "K", "START", "10000.00", "2025-01-01")),
    LS_R_DONE(LS_APPROVE("DB2", "2025-01-01")),
    LS_R_READ(LS_W("used_cents=30000000", "undertaking#=2"),
	LS_DM_SHOW("@MB", "2025-01-01")),
    LS_R_READ(LS_W("used_cents=0", "undertaking#=1"),
	LS_DM_SHOW("@MB", "2024-12-31")),
    /* A company is absorbed once, and not into an absorbed one. */
    LS_R_NO("invalid_state", "absorbed", LS_MERGE("@MA", "@MC", "2025-02-01")),
    LS_R_NO("invalid_state", "absorbed", LS_MERGE("@MC", "@MA", "2025-02-01")),

    /* C's approval excludes D's new trajectory once D absorbed C. */
    LS_R_DONE(LS_RESERVE("DC", "@MC", "K", "START", "10000", "2024-06-01")),
    LS_R_DONE(LS_APPROVE("DC", "2024-06-01")),
    LS_R_DONE(LS_MERGE("@MC", "@MD", "2025-01-01")),
    LS_R_DONE(LS_RESERVE("DD", "@MD", "K", "START", "10000", "2024-12-31")),
    LS_R_DONE(LS_CANCEL("DD")),
    LS_R_NOJ("exclusion_period", "DC",
	LS_RESERVE("DD2", "@MD", "K", "START", "10000", "2025-01-01")),

    /* E reserved before being absorbed: approved before the day only. */
    LS_R_DONE(LS_RESERVE("DE", "@ME", "K", "START", "10000", "2024-12-01")),
    LS_R_DONE(LS_MERGE("@ME", "@MF", "2025-01-01")),
    LS_R_NO("invalid_state", "absorbed", LS_APPROVE("DE", "2025-01-01")),
    LS_R_DONE(LS_APPROVE("DE", "2024-12-31")),
};

static void
test_merger(void **state)
{
	struct h_daemon *d = LS_DAEMON(state);
	struct ls_name   names[] = {
	      {"MA", LS_CO01},
	      {"MB", LS_CO02},
	      {"MC", LS_CO03},
	      {"MD", LS_CO04},
	      {"ME", LS_CO05},
	      {"MF", LS_CO06},
	      {NULL, NULL},
        };

	LS_ROWS(d, merger, names);
}

/* ------------------------------------------------------------------ */
/* Contract budgets and payments on their edges                       */

static const struct ls_row budget_edges[] = {
    LS_R_DONE(LS_OPEN("KE", "5000.00")),
    LS_R_DONE(LS_ADD("@C1", "small")),
    LS_R_DONE(LS_ADD("@C2", "small")),
    /* Available 5,000.00: 5,000.01 is refused, 5,000.00 fits. */
    LS_R_NOJ("contract_budget_exceeded", "5000.01",
	LS_RESERVE("DC1", "@C1", "KE", "START", "10000.02", "2024-06-01")),
    LS_R_DONE(
	LS_RESERVE("DC1", "@C1", "KE", "START", "10000.00", "2024-06-01")),
    LS_R_READ(LS_W("reserved_cents=500000", "available_cents=0"), "contract",
	"show", "KE"),
    LS_R_NOJ("contract_budget_exceeded", "KE",
	LS_RESERVE("DC2", "@C2", "KE", "START", "8500", "2024-06-01")),
    /* Lowered down to what is used, not a cent below. */
    LS_R_NOJ("budget_below_usage", "KE", "contract", "amend", "KE", "--budget",
	"4999.99", "--reason", "test"),
    LS_R_DONE_W(LS_W("budget_cents=500000"), "contract", "amend", "KE",
	"--budget", "5000.00", "--reason", "test"),
    LS_R_DONE(LS_APPROVE("DC1", "2024-06-01")),
    LS_R_READ(LS_W("reserved_cents=0", "committed_cents=500000"), "contract",
	"show", "KE"),
    /* Payments up to what is committed. */
    LS_R_NOJ("amount_exceeds_commitment", "5000.01", "dossier", "pay", "DC1",
	"--amount", "5000.01"),
    LS_R_DONE_W(
	LS_W("paid_cents=300000"), "dossier", "pay", "DC1", "--amount", "3000"),
    LS_R_NOJ("amount_exceeds_commitment", "2000.01", "dossier", "pay", "DC1",
	"--amount", "2000.01"),
    LS_R_DONE_W(LS_W("paid_cents=500000"), "dossier", "pay", "DC1", "--amount",
	"2000.00"),
    LS_R_NOJ("amount_exceeds_commitment", "0.01", "dossier", "pay", "DC1",
	"--amount", "0.01"),
    LS_R_READ(
	LS_W("committed_cents=0", "paid_cents=500000", "available_cents=0"),
	"contract", "show", "KE"),
    /* Raised, it takes the next; closed, it takes nothing new. */
    LS_R_DONE(
	"contract", "amend", "KE", "--budget", "9250", "--reason", "test"),
    LS_R_DONE(LS_RESERVE("DC2", "@C2", "KE", "START", "8500", "2024-06-01")),
    LS_R_DONE(LS_CANCEL("DC2")),
    LS_R_DONE("contract", "close", "KE"),
    LS_R_NOJ("contract_closed", "KE",
	LS_RESERVE("DC3", "@C2", "KE", "START", "8500", "2024-06-01")),
};

static void
test_contract_budget(void **state)
{
	struct h_daemon *d = LS_DAEMON(state);
	struct ls_name   names[] = {
	      {"C1", LS_CO01},
	      {"C2", LS_CO02},
	      {NULL, NULL},
        };

	LS_ROWS(d, budget_edges, names);
}

/* ------------------------------------------------------------------ */
/* Amendments: upgrades and extensions                                */

static const struct ls_row amend[] = {
    LS_R_DONE(LS_ADD("@A1", "small")),
    LS_R_DONE(LS_RESERVE("DA1", "@A1", "K", "START", "10000", "2024-06-01")),
    /* Only approved dossiers are amended. */
    LS_R_NO("invalid_state", "reserved", "dossier", "amend", "DA1", "--package",
	"MEDIUM", "--cost", "17000"),
    LS_R_DONE(LS_APPROVE("DA1", "2024-06-01")),
    /* No extension on START; no way down; the new band; a real package. */
    LS_R_NO("package_not_allowed", "extension", "dossier", "amend", "DA1",
	"--extension-cost", "1000"),
    LS_R_NO("invalid_argument", "base cost", "dossier", "amend", "DA1",
	"--package", "MEDIUM"),
    LS_R_NO("cost_out_of_band", "band", "dossier", "amend", "DA1", "--package",
	"MEDIUM", "--cost", "16999.99"),
    LS_R_NO("cost_out_of_band", "band", "dossier", "amend", "DA1", "--package",
	"MEDIUM", "--cost", "22000.01"),
    LS_R_NO("package_not_allowed", "BASIC", "dossier", "amend", "DA1",
	"--package", "BASIC", "--cost", "25000"),
    /* The base cost changes only with an upgrade, up or down. */
    LS_R_NO("invalid_argument", "only with an upgrade", "dossier", "amend",
	"DA1", "--cost", "9000"),
    LS_R_NO("invalid_argument", "only with an upgrade", "dossier", "amend",
	"DA1", "--cost", "10800"),
    /* START -> MEDIUM: only the increment is reserved. */
    LS_R_DONE_W(LS_W("pending_cents=350000", "subsidy_cents=850000",
		    "granted_cents=500000", "package=MEDIUM"),
	"dossier", "amend", "DA1", "--package", "MEDIUM", "--cost", "17000"),
    LS_R_NO("invalid_state", "amendment pending", "dossier", "amend", "DA1",
	"--package", "PLUS", "--cost", "30000"),
    LS_R_DONE_W(LS_W("granted_cents=850000", "grants#=2",
		    "grants.1.kind=upgrade", "grants.1.amount_cents=350000"),
	LS_APPROVE("DA1", "2024-07-01")),
    LS_R_NO("package_not_allowed", "START", "dossier", "amend", "DA1",
	"--package", "START", "--cost", "10000"),
    /* Extensions on MEDIUM: the total cost counts up to 60,000. */
    LS_R_DONE_W(LS_W("pending_cents=2150000", "subsidy_cents=3000000"),
	"dossier", "amend", "DA1", "--extension-cost", "43000.01"),
    LS_R_DONE(LS_CANCEL("DA1")),
    LS_R_READ(LS_W("state=approved", "pending_cents=0", "subsidy_cents=850000",
		  "granted_cents=850000"),
	LS_SHOW("DA1")),
    LS_R_DONE_W(LS_W("pending_cents=100000"), "dossier", "amend", "DA1",
	"--extension-cost", "2000"),
    LS_R_DONE_W(LS_W("grants.2.kind=extension", "granted_cents=950000"),
	LS_APPROVE("DA1", "2024-07-02")),
    /* The extension cost is a total and cannot go down. */
    LS_R_NO("invalid_argument", "extension cost", "dossier", "amend", "DA1",
	"--extension-cost", "1999.99"),
    /* The same totals raise nothing; a new base cost needs an upgrade. */
    LS_R_NO("invalid_argument", "raise", "dossier", "amend", "DA1",
	"--extension-cost", "2000"),
    LS_R_NO("invalid_argument", "only with an upgrade", "dossier", "amend",
	"DA1", "--cost", "22000", "--extension-cost", "2500"),
    /* With an amendment pending (its base cost restated, which is allowed):
       payments go on, completion waits. */
    LS_R_DONE_W(LS_W("pending_cents=50000"), "dossier", "amend", "DA1",
	"--cost", "17000", "--extension-cost", "3000"),
    LS_R_NO("invalid_state", "amendment pending", "dossier", "complete", "DA1"),
    LS_R_DONE_W(LS_W("state=approved", "paid_cents=100000"), "dossier", "pay",
	"DA1", "--amount", "1000"),
    LS_R_DONE(LS_APPROVE("DA1", "2024-07-03")),
    LS_R_DONE_W(LS_W("state=completed"), "dossier", "complete", "DA1"),
    /* Completed: paid and withdrawn still, completed no more. */
    LS_R_NO("invalid_state", "completed", "dossier", "complete", "DA1"),
    LS_R_DONE_W(LS_W("state=completed", "paid_cents=200000"), "dossier", "pay",
	"DA1", "--amount", "1000"),
    LS_R_DONE_W(LS_W("state=withdrawn", "granted_cents=200000"), "dossier",
	"withdraw", "DA1", "--reason", "test"),
    /* Withdrawn with an amendment pending: the increment goes too. */
    LS_R_DONE(LS_ADD("@A2", "small")),
    LS_R_DONE(LS_RESERVE("DA2", "@A2", "K", "START", "10000", "2024-06-01")),
    LS_R_DONE(LS_APPROVE("DA2", "2024-06-01")),
    LS_R_DONE_W(LS_W("pending_cents=350000"), "dossier", "amend", "DA2",
	"--package", "MEDIUM", "--cost", "17000"),
    LS_R_DONE_W(LS_W("state=withdrawn", "pending_cents=0", "granted_cents=0"),
	"dossier", "withdraw", "DA2", "--reason", "test"),
};

static void
test_amend(void **state)
{
	struct h_daemon *d = LS_DAEMON(state);
	struct ls_name   names[] = {
	      {"A1", LS_CO01},
	      {"A2", LS_CO02},
	      {NULL, NULL},
        };

	LS_ROWS(d, amend, names);
}

/* ------------------------------------------------------------------ */
/* De-minimis: reductions and the undertaking's pending reservations  */

/*
 * Withdraw and close reduce a dossier's de-minimis grant to what was
 * paid (SPEC §2): the unpaid remainder leaves the undertaking's sum, so
 * aid that fits only thanks to the reduction is accepted, one cent more
 * is not.
 */
static const struct ls_row dm_reduced[] = {
    LS_R_DONE(LS_ADD("@R1", "small")),
    LS_R_DONE(LS_ADD("@R2", "small")),
    /* Withdrawn after 1,000 of 5,000 was paid: 1,000 counts. */
    LS_R_DONE(LS_DECLARE("@R1", "290000", "2025-01-10")),
    LS_R_DONE(LS_RESERVE("DR1", "@R1", "K", "START", "10000", "2025-02-01")),
    LS_R_DONE(LS_APPROVE("DR1", "2025-02-01")),
    LS_R_READ(LS_W("used_cents=29500000"), LS_DM_SHOW("@R1", "2025-02-01")),
    LS_R_DONE("dossier", "pay", "DR1", "--amount", "1000"),
    LS_R_DONE_W(LS_W("state=withdrawn", "granted_cents=100000"), "dossier",
	"withdraw", "DR1", "--reason", "test"),
    LS_R_READ(LS_W("used_cents=29100000", "available_cents=900000",
		  "grants.1.amount_cents=100000"),
	LS_DM_SHOW("@R1", "2025-02-01")),
    LS_R_NOJ("deminimis_ceiling_exceeded", "300,000.01",
	LS_DECLARE("@R1", "9000.01", "2025-02-02")),
    LS_R_DONE_W(
	LS_W("used_cents=30000000"), LS_DECLARE("@R1", "9000", "2025-02-02")),
    /* Closed after 3,000 of 5,000 was paid: 3,000 counts. */
    LS_R_DONE(LS_DECLARE("@R2", "290000", "2025-01-10")),
    LS_R_DONE(LS_RESERVE("DR2", "@R2", "K", "START", "10000", "2025-02-01")),
    LS_R_DONE(LS_APPROVE("DR2", "2025-02-01")),
    LS_R_DONE("dossier", "pay", "DR2", "--amount", "3000"),
    LS_R_DONE("dossier", "complete", "DR2"),
    LS_R_DONE_W(LS_W("state=closed", "granted_cents=300000"), "dossier",
	"close", "DR2"),
    LS_R_READ(LS_W("used_cents=29300000", "available_cents=700000"),
	LS_DM_SHOW("@R2", "2025-02-01")),
    LS_R_NOJ("deminimis_ceiling_exceeded", "300,000.01",
	LS_DECLARE("@R2", "7000.01", "2025-02-02")),
    LS_R_DONE(LS_DECLARE("@R2", "7000", "2025-02-02")),
};

/*
 * Pending reservations of every member of the undertaking count (SPEC
 * R-DM), not only the deciding company's, and a pending increment counts
 * in full, whatever was paid on the dossier before. B's trajectory was
 * approved more than four years ago, so A may start one; B's pending
 * extension then counts against A's reservation.
 */
static const struct ls_row dm_group_pending[] = {
    LS_R_DONE(LS_ADD("@A", "small")),
    LS_R_DONE(LS_ADD("@B", "small")),
    /* V2021, 45%: 11,250 granted to B on 2021-01-05, 1,000 paid. */
    LS_R_DONE(LS_RESERVE("DB", "@B", "K", "BASIC", "25000", "2021-01-05")),
    LS_R_DONE(LS_APPROVE("DB", "2021-01-05")),
    LS_R_DONE("dossier", "pay", "DB", "--amount", "1000"),
    LS_R_DONE(LS_LINK("@A", "@B", "2021-01-01")),
    LS_R_DONE(LS_DECLARE("@A", "286000.01", "2025-01-10")),
    /* 45% of 45,000 is 20,250: an increment of 9,000 is reserved. */
    LS_R_DONE_W(LS_W("pending_cents=900000", "subsidy_cents=2025000"),
	"dossier", "amend", "DB", "--extension-cost", "20000"),
    LS_R_READ(LS_W("used_cents=28600001", "pending_cents=900000",
		  "undertaking#=2", "available_cents=499999"),
	LS_DM_SHOW("@A", "2025-06-01")),
    /* 286,000.01 + 9,000 + 5,000 is one cent too much. */
    LS_R_NOJ("deminimis_ceiling_exceeded", "300,000.01",
	LS_RESERVE("DA", "@A", "K", "START", "10000", "2025-06-01")),
    LS_R_DONE_W(LS_W("subsidy_cents=499999"),
	LS_RESERVE("DA", "@A", "K", "START", "9999.98", "2025-06-01")),
    LS_R_READ(LS_W("pending_cents=1399999", "available_cents=0"),
	LS_DM_SHOW("@A", "2025-06-01")),
};

static void
test_deminimis_reductions_and_pending(void **state)
{
	struct h_daemon *d = LS_DAEMON(state);
	struct ls_name   names[] = {
	      {"R1", LS_CO01},
	      {"R2", LS_CO02},
	      {"A", LS_CO03},
	      {"B", LS_CO04},
	      {NULL, NULL},
        };

	LS_ROWS(d, dm_reduced, names);
	LS_ROWS(d, dm_group_pending, names);
}

/*
 * A link or merger that starts on the day both companies received aid:
 * on that day they are one undertaking (links hold on their first day),
 * so 150,000 + 160,000 on one day is refused; from the next day on the
 * join is accepted. A link may hold for one day only.
 */
static const struct ls_row join_day[] = {
    LS_R_DONE(LS_ADD("@J1", "small")),
    LS_R_DONE(LS_ADD("@J2", "small")),
    LS_R_DONE(LS_ADD("@J3", "small")),
    LS_R_DONE(LS_ADD("@J4", "small")),
    LS_R_DONE(LS_ADD("@J5", "small")),
    LS_R_DONE(LS_ADD("@J6", "small")),
    LS_R_DONE(LS_DECLARE("@J1", "150000", "2025-06-01")),
    LS_R_DONE(LS_DECLARE("@J2", "160000", "2025-06-01")),
    LS_R_NOJ("deminimis_ceiling_exceeded", "310,000.00",
	LS_LINK("@J1", "@J2", "2025-06-01")),
    LS_R_DONE(LS_LINK("@J1", "@J2", "2025-06-02")),
    LS_R_DONE(LS_DECLARE("@J3", "150000", "2025-06-01")),
    LS_R_DONE(LS_DECLARE("@J4", "160000", "2025-06-01")),
    LS_R_NOJ("deminimis_ceiling_exceeded", "310,000.00",
	LS_MERGE("@J3", "@J4", "2025-06-01")),
    LS_R_DONE(LS_MERGE("@J3", "@J4", "2025-06-02")),
    /* A link of one day: since and until the same day. */
    LS_R_DONE(LS_LINK_UNTIL("@J5", "@J6", "2025-03-01", "2025-03-01")),
    LS_R_READ(
	LS_W("undertaking#=2"), "company", "show", "@J6", "--on", "2025-03-01"),
    LS_R_READ(
	LS_W("undertaking#=1"), "company", "show", "@J6", "--on", "2025-03-02"),
};

static void
test_join_on_grant_day(void **state)
{
	struct h_daemon *d = LS_DAEMON(state);
	struct ls_name   names[] = {
	      {"J1", LS_CO01},
	      {"J2", LS_CO02},
	      {"J3", LS_CO03},
	      {"J4", LS_CO04},
	      {"J5", LS_CO05},
	      {"J6", LS_CO06},
	      {NULL, NULL},
        };

	LS_ROWS(d, join_day, names);
}

/* ------------------------------------------------------------------ */
/* The rules file: defaults, caps of its own, what it may not say     */

/*
 * A rule set from 2025 with a subsidy cap below rate x cost, a package
 * with one fixed price, and no exclusion_years (README: default 4).
 */
static const char rules_t2025[] = "[ruleset T2025]\n"
				  "from = 2025-01-01\n"
				  "rate_sme = 50%\n"
				  "rate_maatwerk = 50%\n"
				  "rate_large_nis2 = none\n"
				  "max_total_cost = none\n"
				  "max_subsidy = 5000.00\n"
				  "\n"
				  "[package T2025 START]\n"
				  "min_cost = 8000.00\n"
				  "max_cost = 12000.00\n"
				  "rank = 1\n"
				  "extensions = no\n"
				  "\n"
				  "[package T2025 FIXED]\n"
				  "min_cost = 10000.00\n"
				  "max_cost = 10000.00\n"
				  "rank = 2\n"
				  "extensions = no\n";

static const struct ls_row rules_own[] = {
    LS_R_DONE(LS_ADD("@S1", "small")),
    LS_R_DONE(LS_ADD("@S2", "small")),
    /* 50% of 10,000.02 is 5,000.01: the cap gives 5,000.00. */
    LS_R_DONE_W(LS_W("subsidy_cents=500000", "rule_set=T2025"),
	LS_RESERVE("DS1", "@S1", "K", "START", "10000.02", "2025-02-01")),
    LS_R_DONE(LS_CANCEL("DS1")),
    LS_R_DONE_W(LS_W("subsidy_cents=500000"),
	LS_RESERVE("DS1b", "@S1", "K", "START", "12000", "2025-02-01")),
    LS_R_DONE(LS_CANCEL("DS1b")),
    LS_R_DONE_W(LS_W("subsidy_cents=499999"),
	LS_RESERVE("DS1c", "@S1", "K", "START", "9999.98", "2025-02-01")),
    LS_R_DONE(LS_CANCEL("DS1c")),
    /* A band of one price takes that price only. */
    LS_R_NO("cost_out_of_band", "band",
	LS_RESERVE("DS1d", "@S1", "K", "FIXED", "10000.01", "2025-02-01")),
    LS_R_NO("cost_out_of_band", "band",
	LS_RESERVE("DS1d", "@S1", "K", "FIXED", "9999.99", "2025-02-01")),
    LS_R_DONE_W(LS_W("subsidy_cents=500000"),
	LS_RESERVE("DS1d", "@S1", "K", "FIXED", "10000", "2025-02-01")),
    /* Without exclusion_years the exclusion is 4 years. */
    LS_R_DONE(LS_RESERVE("DS2", "@S2", "K", "BASIC", "25000", "2021-06-01")),
    LS_R_DONE(LS_APPROVE("DS2", "2021-06-01")),
    LS_R_NOJ("exclusion_period", "4 years",
	LS_RESERVE("DS2b", "@S2", "K", "START", "10000", "2025-05-31")),
    LS_R_DONE_W(LS_W("rule_set=T2025"),
	LS_RESERVE("DS2b", "@S2", "K", "START", "10000", "2025-06-01")),
};

/* Rules files that must be refused, each with a piece of its message. */
static const struct {
	const char *name, *code, *msg, *text;
} rules_refused[] = {
    /* Above 100% the subsidy would exceed the cost. */
    {"rate", "invalid_argument", "rate_sme",
	"[ruleset R1]\nfrom = 2025-03-01\nrate_sme = 100.01%\n"
	"[package R1 P]\nmin_cost = 1.00\nmax_cost = 2.00\n"},
    /* A cap of 0 is no amount: "none" says there is no cap. */
    {"total", "invalid_argument", "max_total_cost",
	"[ruleset R2]\nfrom = 2025-03-01\nrate_sme = 50%\n"
	"max_total_cost = 0.00\n"
	"[package R2 P]\nmin_cost = 1.00\nmax_cost = 2.00\n"},
    {"subsidy", "invalid_argument", "max_subsidy",
	"[ruleset R3]\nfrom = 2025-03-01\nrate_sme = 50%\n"
	"max_subsidy = 0\n"
	"[package R3 P]\nmin_cost = 1.00\nmax_cost = 2.00\n"},
    /* Windows of 0 years would count one day's aid only. */
    {"years", "invalid_argument", "years",
	"[deminimis R4]\nfrom = 2025-03-01\nceiling = 300000.00\n"
	"window = rolling\nyears = 0\n"},
    {"exclusion", "invalid_argument", "exclusion_years",
	"[ruleset R5]\nfrom = 2025-03-01\nrate_sme = 50%\n"
	"exclusion_years = 0\n"
	"[package R5 P]\nmin_cost = 1.00\nmax_cost = 2.00\n"},
    /* A set without a from date would be in force since ever. */
    {"from", "invalid_argument", "from",
	"[ruleset R6]\nrate_sme = 50%\n"
	"[package R6 P]\nmin_cost = 1.00\nmax_cost = 2.00\n"},
    /* A loaded set or regime never changes: not a cap, not a ceiling. */
    {"v2024", "already_exists", "V2024 is loaded already",
	"[ruleset V2024]\nfrom = 2024-04-17\nrate_sme = 50%\n"
	"rate_maatwerk = 50%\nrate_large_nis2 = 35%\n"
	"max_total_cost = 70000.00\nmax_subsidy = 30000.00\n"
	"exclusion_years = 4\n"
	"[package V2024 START]\nmin_cost = 8500.00\nmax_cost = 10800.00\n"
	"rank = 1\nextensions = no\n"
	"[package V2024 MEDIUM]\nmin_cost = 17000.00\n"
	"max_cost = 22000.00\nrank = 2\nextensions = yes\n"
	"[package V2024 PLUS]\nmin_cost = 28800.00\nmax_cost = 35000.00\n"
	"rank = 3\nextensions = yes\n"},
    {"regime", "already_exists", "2023/2831",
	"[deminimis 2023/2831]\nfrom = 2024-01-01\nceiling = 400000.00\n"
	"window = rolling\nyears = 3\n"},
};

static void
test_rules_file_own_sets(void **state)
{
	struct h_daemon *d = LS_DAEMON(state);
	struct ls_answer a;
	char             path[H_PATH_MAX + 32];
	const char      *argv[] = {"rules", "load", path, NULL};
	struct ls_name   names[] = {
	      {"S1", LS_CO01},
	      {"S2", LS_CO02},
	      {NULL, NULL},
        };
	FILE  *fp;
	size_t i;

	for (i = 0; i < sizeof(rules_refused) / sizeof(rules_refused[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s.rules", d->dir,
		    rules_refused[i].name);
		assert_non_null(fp = fopen(path, "w"));
		fputs(rules_refused[i].text, fp);
		assert_int_equal(fclose(fp), 0);
		ls_step_at(
		    __FILE__, __LINE__, d, rules_refused[i].code, 0, argv, &a);
		if (strstr(a.message, rules_refused[i].msg) == NULL) {
			print_error(
			    "%s: %s\n", rules_refused[i].name, a.message);
			ls_answer_free(&a);
			fail_msg("the message does not say \"%s\"",
			    rules_refused[i].msg);
		}
		ls_answer_free(&a);
	}
	LS_RULES_TEXT(d, "t2025.rules", rules_t2025);
	LS_ROWS(d, rules_own, names);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_bands_rates_caps, h_teardown),
	    cmocka_unit_test_teardown(test_order_reserve, h_teardown),
	    cmocka_unit_test_teardown(test_order_approve, h_teardown),
	    cmocka_unit_test_teardown(test_deminimis_ceiling, h_teardown),
	    cmocka_unit_test_teardown(test_deminimis_window, h_teardown),
	    cmocka_unit_test_teardown(test_exclusion, h_teardown),
	    cmocka_unit_test_teardown(test_exclusion_leap_day, h_teardown),
	    cmocka_unit_test_teardown(test_links, h_teardown),
	    cmocka_unit_test_teardown(test_merger, h_teardown),
	    cmocka_unit_test_teardown(test_contract_budget, h_teardown),
	    cmocka_unit_test_teardown(test_amend, h_teardown),
	    cmocka_unit_test_teardown(
		test_deminimis_reductions_and_pending, h_teardown),
	    cmocka_unit_test_teardown(test_join_on_grant_day, h_teardown),
	    cmocka_unit_test_teardown(test_rules_file_own_sets, h_teardown),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
