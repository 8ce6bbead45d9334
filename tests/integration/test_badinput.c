/*
 * test_badinput.c: bad input through the real daemon (issue #3): invalid
 * and establishment-unit enterprise numbers, postcodes outside Belgium or
 * Flanders, amounts that are zero, negative, with three decimals or beyond
 * int64 cents (refused by budgetctl as usage errors, and by the daemon as
 * invalid_argument when they arrive on the wire), dates that do not exist
 * and decision dates in the future, unknown packages, contracts,
 * companies and dossiers, a cost outside its band, an extension on START,
 * duplicates and wrong states.
 *
 * Every case checks its stable code and a message that says what is
 * wrong, and that the ledger is exactly as it was: status --json
 * journal_seq and head_hash unchanged, verify --json ok:true. The few
 * refusals the ledger journals (a payment above the commitment, a budget
 * below its use) move the journal by exactly one entry.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ledger_steps.h"

/* Companies (R-ID check digits right). */
#define CO_C  "0200101397" /* added, small, with approved dossier D1 */
#define CO_C2 "0200202654" /* added, with reserved dossier D2 */
#define CO_U  "0200303911" /* valid, never added */

/* MONEY_MAX_CENTS (include/budget/money.h): 10,000,000,000.00 EUR. */
#define MONEY_MAX INT64_C(1000000000000)

static struct h_daemon *badinput_daemon(void **);

/*
 * The ground every case is refused on: the shipped rules, contract K and
 * closed contract KC, company C with dossier D1 approved, company C2 with
 * dossier D2 reserved.
 */
static const struct ls_row ground[] = {
    LS_R_DONE(LS_OPEN("K", "1000000")),
    LS_R_DONE(LS_OPEN("KC", "1000")),
    LS_R_DONE("contract", "close", "KC"),
    LS_R_DONE(LS_ADD(CO_C, "small")),
    LS_R_DONE(LS_ADD(CO_C2, "small")),
    LS_R_DONE(LS_RESERVE("D1", CO_C, "K", "START", "10000", "2024-06-01")),
    LS_R_DONE(LS_APPROVE("D1", "2024-06-01")),
    LS_R_DONE(LS_RESERVE("D2", CO_C2, "K", "MEDIUM", "20000", "2024-06-01")),
};

static struct h_daemon *
badinput_daemon(void **state)
{
	struct h_daemon *d;

	*state = d = h_daemon_up(NULL);
	LS_RULES(d);
	LS_ROWS(d, ground, NULL);
	return (d);
}

/* ------------------------------------------------------------------ */
/* Enterprise numbers                                                 */

static const struct ls_row bad_numbers[] = {
    LS_R_NO("invalid_argument", "check digits", LS_ADD("0200101398", "small")),
    LS_R_NO("invalid_argument", "check digits", LS_ADD("0200101300", "small")),
    LS_R_NO("invalid_argument", "establishment-unit",
	LS_ADD("2147812701", "small")),
    LS_R_NO("invalid_argument", "establishment-unit",
	LS_ADD("8200101397", "small")),
    LS_R_NO("invalid_argument", "ten digits", LS_ADD("123", "small")),
    LS_R_NO("invalid_argument", "ten digits", LS_ADD("02001013", "small")),
    LS_R_NO("invalid_argument", "more than ten digits",
	LS_ADD("02001013970", "small")),
    LS_R_NO("invalid_argument", "only digits", LS_ADD("0200.101.39X", "small")),
    LS_R_NO("invalid_argument", "only digits", LS_ADD("NL0200101397", "small")),
    LS_R_NO("invalid_argument", "only digits", LS_ADD("0200-101-397", "small")),
    LS_R_NO("invalid_argument", "empty", LS_ADD("", "small")),
    /* The usual spellings are one company: it exists already. */
    LS_R_NO(
	"already_exists", "0200.101.397", LS_ADD("BE 0200.101.397", "small")),
    LS_R_NO("already_exists", "0200.101.397", LS_ADD("be0200101397", "small")),
    LS_R_NO("already_exists", "0200.101.397", LS_ADD("200101397", "small")),
    LS_R_NO("already_exists", "0200.101.397", LS_ADD("0200 101 397", "small")),
    /* Wherever an enterprise number is expected. */
    LS_R_NO("invalid_argument", "establishment-unit",
	LS_RESERVE("D9", "2147812701", "K", "START", "10000", "2024-06-01")),
    LS_R_NO("invalid_argument", "check digits",
	LS_RESERVE("D9", "0200101398", "K", "START", "10000", "2024-06-01")),
    LS_R_NO("invalid_argument", "establishment-unit",
	LS_DECLARE("2147812701", "1000", "2024-06-01")),
    LS_R_NO("invalid_argument", "check digits",
	LS_DECLARE("0200101398", "1000", "2024-06-01")),
    LS_R_NO("invalid_argument", "establishment-unit",
	LS_LINK(CO_C, "2147812701", "2024-01-01")),
    LS_R_NO("invalid_argument", "check digits",
	LS_LINK("0200101398", CO_C, "2024-01-01")),
    LS_R_NO("invalid_argument", "establishment-unit",
	LS_MERGE("2147812701", CO_C, "2024-01-01")),
    LS_R_NO("invalid_argument", "check digits",
	LS_MERGE(CO_C, "0200202655", "2024-01-01")),
    LS_R_NO("invalid_argument", "establishment-unit", "company", "show",
	"2147812701"),
    LS_R_NO(
	"invalid_argument", "check digits", "company", "show", "0200101398"),
    LS_R_NO("invalid_argument", "establishment-unit",
	LS_DM_SHOW("2147812701", "2024-06-01")),
    LS_R_NO("invalid_argument", "check digits",
	LS_DM_SHOW("0200101398", "2024-06-01")),
};

static void
test_enterprise_numbers(void **state)
{
	struct h_daemon *d = badinput_daemon(state);

	LS_ROWS(d, bad_numbers, NULL);
}

/* ------------------------------------------------------------------ */
/* Postcodes                                                          */

static const struct ls_row bad_postcodes[] = {
    LS_R_NO("invalid_argument", "not a Belgian postcode", "company", "add",
	CO_U, "--name", "X", "--postcode", "0999", "--size", "small"),
    LS_R_NO("invalid_argument", "not a Belgian postcode", "company", "add",
	CO_U, "--name", "X", "--postcode", "999", "--size", "small"),
    LS_R_NO("invalid_argument", "not a Belgian postcode", "company", "add",
	CO_U, "--name", "X", "--postcode", "10000", "--size", "small"),
    LS_R_NO("invalid_argument", "not a Belgian postcode", "company", "add",
	CO_U, "--name", "X", "--postcode", "ABCD", "--size", "small"),
    LS_R_NO("invalid_argument", "not a Belgian postcode", "company", "add",
	CO_U, "--name", "X", "--postcode", "90 0", "--size", "small"),
    LS_R_NO("invalid_argument", "not a Belgian postcode", "company", "add",
	CO_U, "--name", "X", "--postcode", "", "--size", "small"),
    LS_R_NO("invalid_argument", "not a Belgian postcode", "company", "add",
	CO_U, "--name", "X", "--postcode", "B-9000", "--size", "small"),
    /* Belgian, outside Flanders, no Flemish establishment declared. */
    LS_R_NO("invalid_argument", "Brussel", "company", "add", CO_U, "--name",
	"X", "--postcode", "1000", "--size", "small"),
    LS_R_NO("invalid_argument", "Brussel", "company", "add", CO_U, "--name",
	"X", "--postcode", "1299", "--size", "small"),
    LS_R_NO("invalid_argument", "Waals-Brabant", "company", "add", CO_U,
	"--name", "X", "--postcode", "1300", "--size", "small"),
    LS_R_NO("invalid_argument", "Waals-Brabant", "company", "add", CO_U,
	"--name", "X", "--postcode", "1499", "--size", "small"),
    LS_R_NO("invalid_argument", "Luik", "company", "add", CO_U, "--name", "X",
	"--postcode", "4000", "--size", "small"),
    LS_R_NO("invalid_argument", "Henegouwen", "company", "add", CO_U, "--name",
	"X", "--postcode", "7999", "--size", "small"),
    LS_R_NO("invalid_argument", "flemish_establishment", "company", "add", CO_U,
	"--name", "X", "--postcode", "6600", "--size", "small"),
    /* Sizes are the client's to check; names the daemon's. */
    LS_R_NO("usage", "--size", "company", "add", CO_U, "--name", "X",
	"--postcode", "9000", "--size", "huge"),
    LS_R_NO("invalid_argument", "name", "company", "add", CO_U, "--name", "",
	"--postcode", "9000", "--size", "small"),
    LS_R_NO("invalid_argument", "name", "company", "add", CO_U, "--name",
	"two\nlines", "--postcode", "9000", "--size", "small"),
};

/* The edges of the Flemish provinces: accepted, with their province. */
static const struct {
	const char *postcode, *province, *number;
} flemish[] = {
    {"1500", "Vlaams-Brabant", "0201013001"},
    {"1999", "Vlaams-Brabant", "0201114355"},
    {"2000", "Antwerpen", "0201215612"},
    {"2999", "Antwerpen", "0201316966"},
    {"3000", "Vlaams-Brabant", "0201418223"},
    {"3499", "Vlaams-Brabant", "0201519577"},
    {"3500", "Limburg", "0201620834"},
    {"3999", "Limburg", "0201722188"},
    {"8000", "West-Vlaanderen", "0201823445"},
    {"8999", "West-Vlaanderen", "0201924702"},
    {"9000", "Oost-Vlaanderen", "0202026056"},
    {"9999", "Oost-Vlaanderen", "0202127313"},
};

static void
test_postcodes(void **state)
{
	struct h_daemon *d = badinput_daemon(state);
	struct ls_answer a;
	char             want[64];
	size_t           i;

	LS_ROWS(d, bad_postcodes, NULL);
	for (i = 0; i < sizeof(flemish) / sizeof(flemish[0]); i++) {
		LS_DO_A(d, &a, "company", "add", flemish[i].number, "--name",
		    "X", "--postcode", flemish[i].postcode, "--size", "small");
		snprintf(
		    want, sizeof(want), "province=%s", flemish[i].province);
		LS_WANT(&a, want);
		ls_answer_free(&a);
	}
	/* Outside Flanders with a Flemish establishment: accepted. */
	LS_DO_A(d, &a, "company", "add", "0202228667", "--name", "X",
	    "--postcode", "4000", "--size", "small", "--flemish-establishment");
	LS_WANT(&a, "province=Luik");
	LS_WANT(&a, "flemish_establishment=true");
	ls_answer_free(&a);
	LS_CLI_CHECK(d);
}

/* ------------------------------------------------------------------ */
/* Amounts                                                            */

/*
 * budgetctl checks amounts itself: a slip is a usage error (exit 2)
 * naming the option, and nothing reaches the ledger. Every one is tried
 * on --cost, the first AMOUNTS_EVERYWHERE on every amount option.
 */
#define AMOUNTS_EVERYWHERE 5
static const char *const bad_amounts[] = {
    "0",
    "-5",
    "10000.005",
    "92233720368547758.08",
    "10,50",
    "0.00",
    "-0.01",
    "10000.001",
    "10000.",
    "1e4",
    "0x10",
    " 100",
    "100 ",
    "",
    "EUR 100",
    "10000000000.01",
    "92233720368547758.07",
    "99999999999999999999",
    "184467440737095516.16",
};

static void
test_amounts_cli(void **state)
{
	struct h_daemon *d = badinput_daemon(state);
	struct ls_answer a;
	size_t           i;

	for (i = 0; i < sizeof(bad_amounts) / sizeof(bad_amounts[0]); i++) {
		const char *x = bad_amounts[i];

		LS_STEP(d, "usage", 0, &a,
		    LS_RESERVE("D9", CO_U, "K", "START", x, "2024-06-01"));
		assert_non_null(strstr(a.err, "--cost"));
		ls_answer_free(&a);
		if (i >= AMOUNTS_EVERYWHERE)
			continue;
		/* An extension cost of 0 is "no extensions": it is sent. */
		if (strcmp(x, "0") == 0 || strcmp(x, "0.00") == 0)
			LS_NO(d, "not_found",
			    LS_RESERVE_EXT("D9", CO_U, "K", "MEDIUM", "20000",
				x, "2024-06-01"));
		else {
			LS_STEP(d, "usage", 0, &a,
			    LS_RESERVE_EXT("D9", CO_U, "K", "MEDIUM", "20000",
				x, "2024-06-01"));
			assert_non_null(strstr(a.err, "--extension-cost"));
			ls_answer_free(&a);
		}
		LS_STEP(d, "usage", 0, &a, LS_DECLARE(CO_C, x, "2024-06-01"));
		assert_non_null(strstr(a.err, "--amount"));
		ls_answer_free(&a);
		LS_STEP(d, "usage", 0, &a, LS_OPEN("K9", x));
		assert_non_null(strstr(a.err, "--budget"));
		ls_answer_free(&a);
		LS_STEP(d, "usage", 0, &a, "contract", "amend", "K", "--budget",
		    x, "--reason", "test");
		assert_non_null(strstr(a.err, "--budget"));
		ls_answer_free(&a);
		LS_STEP(
		    d, "usage", 0, &a, "dossier", "pay", "D1", "--amount", x);
		assert_non_null(strstr(a.err, "--amount"));
		ls_answer_free(&a);
	}
	LS_CLI_CHECK(d);
}

/*
 * The same amounts from a client that does not check: the daemon says
 * invalid_argument. Three decimals cannot be sent (the wire carries
 * cents); beyond int64 neither; the daemon's limit is MONEY_MAX_CENTS.
 */
static const int64_t wire_bad_amounts[] = {
    0,
    -1,
    -100,
    INT64_MIN,
    MONEY_MAX + 1,
    INT64_MAX,
};

/* Send req on a fresh connection; expect error code with msg in it. */
static void
wire_expect_at(int line, struct h_daemon *d, Budget__Request *req,
    const char *code, const char *msg)
{
	static unsigned   serial;
	Budget__Response *r;
	char              id[64];
	int               fd;

	snprintf(id, sizeof(id), "badinput-wire-%u", ++serial);
	req->version = BUDGET_PROTOCOL_VERSION;
	req->request_id = id;
	fd = h_connect(d);
	h_send_request(fd, req);
	r = h_recv(fd, H_DEADLINE_MS);
	close(fd);
	if (r->error == NULL || strcmp(r->error->code, code) != 0 ||
	    strstr(r->error->message, msg) == NULL) {
		print_error("got %s: %s\n",
		    r->error != NULL ? r->error->code : "a result",
		    r->error != NULL ? r->error->message : "");
		budget__response__free_unpacked(r, NULL);
		ls_fail_at(
		    __FILE__, line, "expected %s saying \"%s\"", code, msg);
	}
	budget__response__free_unpacked(r, NULL);
}

#define WIRE_EXPECT(d, req, code, msg) \
	wire_expect_at(__LINE__, (d), (req), (code), (msg))

static void
test_amounts_wire(void **state)
{
	struct h_daemon         *d = badinput_daemon(state);
	struct ls_snap           before;
	Budget__Request          req;
	Budget__DossierReserve   dr;
	Budget__DeminimisDeclare dd;
	Budget__ContractOpen     co;
	Budget__ContractAmend    ca;
	Budget__DossierPay       dp;
	Budget__DossierAmend     da;
	Budget__Cents            cents;
	const char              *why;
	size_t                   i;

	LS_SNAP(d, &before);
	for (i = 0; i < sizeof(wire_bad_amounts) / sizeof(wire_bad_amounts[0]);
	     i++) {
		int64_t v = wire_bad_amounts[i];

		why = v <= 0 ? "above zero" : "beyond";

		budget__request__init(&req);
		budget__dossier_reserve__init(&dr);
		dr.id = H_STR("D9");
		dr.company = H_STR(CO_C2);
		dr.contract = H_STR("K");
		dr.package = H_STR("START");
		dr.cost_cents = v;
		dr.date = H_STR("2024-06-01");
		req.command_case = BUDGET__REQUEST__COMMAND_DOSSIER_RESERVE;
		req.dossier_reserve = &dr;
		WIRE_EXPECT(d, &req, "invalid_argument", why);
		/* A negative extension cost (0 is "none"). */
		if (v != 0) {
			dr.cost_cents = 1000000;
			dr.extension_cost_cents = v;
			WIRE_EXPECT(d, &req, "invalid_argument", why);
		}

		budget__request__init(&req);
		budget__deminimis_declare__init(&dd);
		dd.number = H_STR(CO_C);
		dd.amount_cents = v;
		dd.granted = H_STR("2024-06-01");
		dd.source = H_STR("test");
		req.command_case = BUDGET__REQUEST__COMMAND_DEMINIMIS_DECLARE;
		req.deminimis_declare = &dd;
		WIRE_EXPECT(d, &req, "invalid_argument", why);

		budget__request__init(&req);
		budget__contract_open__init(&co);
		co.id = H_STR("K9");
		co.provider = H_STR("test");
		co.framework = H_STR("FW2");
		co.budget_cents = v;
		req.command_case = BUDGET__REQUEST__COMMAND_CONTRACT_OPEN;
		req.contract_open = &co;
		WIRE_EXPECT(d, &req, "invalid_argument", why);

		budget__request__init(&req);
		budget__contract_amend__init(&ca);
		ca.id = H_STR("K");
		ca.budget_cents = v;
		ca.reason = H_STR("test");
		req.command_case = BUDGET__REQUEST__COMMAND_CONTRACT_AMEND;
		req.contract_amend = &ca;
		WIRE_EXPECT(d, &req, "invalid_argument", why);

		budget__request__init(&req);
		budget__dossier_pay__init(&dp);
		dp.id = H_STR("D1");
		dp.amount_cents = v;
		req.command_case = BUDGET__REQUEST__COMMAND_DOSSIER_PAY;
		req.dossier_pay = &dp;
		WIRE_EXPECT(d, &req, "invalid_argument", why);

		budget__request__init(&req);
		budget__dossier_amend__init(&da);
		budget__cents__init(&cents);
		da.id = H_STR("D1");
		cents.cents = v;
		da.cost = &cents;
		req.command_case = BUDGET__REQUEST__COMMAND_DOSSIER_AMEND;
		req.dossier_amend = &da;
		WIRE_EXPECT(d, &req, "invalid_argument", why);
	}
	/* A reservation's time to live: 1 second to 366 days. */
	budget__request__init(&req);
	budget__dossier_reserve__init(&dr);
	dr.id = H_STR("D9");
	dr.company = H_STR(CO_C2);
	dr.contract = H_STR("K");
	dr.package = H_STR("START");
	dr.cost_cents = 1000000;
	dr.date = H_STR("2024-06-01");
	dr.ttl_seconds = -1;
	req.command_case = BUDGET__REQUEST__COMMAND_DOSSIER_RESERVE;
	req.dossier_reserve = &dr;
	WIRE_EXPECT(d, &req, "invalid_argument", "ttl");
	dr.ttl_seconds = 366 * 86400 + 1;
	WIRE_EXPECT(d, &req, "invalid_argument", "ttl");
	LS_MOVED(d, &before, 0);
	LS_CLI_CHECK(d);
}

/* ------------------------------------------------------------------ */
/* Dates                                                              */

/* Every one on reserve --date, the first DATES_EVERYWHERE everywhere. */
#define DATES_EVERYWHERE 4
static const char *const bad_dates[] = {
    "2024-02-30",
    "2023-02-29",
    "2024/01/05",
    "1999-12-31",
    "2100-02-29",
    "2024-04-31",
    "2024-13-01",
    "2024-00-10",
    "2024-06-00",
    "2024-06-32",
    "2024-1-5",
    "24-01-05",
    "20240105",
    "2024-01-05T00:00:00Z",
    "today",
    "2200-01-01",
    "+024-01-05",
};

static void
test_dates(void **state)
{
	struct h_daemon *d = badinput_daemon(state);
	struct ls_answer a;
	char             future[16], tomorrow2[16];
	size_t           i;

	for (i = 0; i < sizeof(bad_dates) / sizeof(bad_dates[0]); i++) {
		const char *x = bad_dates[i];

		LS_STEP(d, "invalid_argument", 0, &a,
		    LS_RESERVE("D9", CO_U, "NOPE", "START", "10000", x));
		assert_non_null(strstr(a.message, x));
		ls_answer_free(&a);
		if (i >= DATES_EVERYWHERE)
			continue;
		LS_STEP(d, "invalid_argument", 0, &a, LS_APPROVE("D2", x));
		assert_non_null(strstr(a.message, "decision date"));
		ls_answer_free(&a);
		LS_STEP(
		    d, "invalid_argument", 0, &a, LS_DECLARE(CO_C, "1000", x));
		assert_non_null(strstr(a.message, "granted"));
		ls_answer_free(&a);
		LS_STEP(d, "invalid_argument", 0, &a, LS_LINK(CO_C, CO_C2, x));
		assert_non_null(strstr(a.message, "since"));
		ls_answer_free(&a);
		LS_STEP(d, "invalid_argument", 0, &a,
		    LS_LINK_UNTIL(CO_C, CO_C2, "2024-01-01", x));
		assert_non_null(strstr(a.message, "until"));
		ls_answer_free(&a);
		LS_STEP(d, "invalid_argument", 0, &a, LS_MERGE(CO_C2, CO_C, x));
		assert_non_null(strstr(a.message, "on"));
		ls_answer_free(&a);
		LS_STEP(d, "invalid_argument", 0, &a, LS_DM_SHOW(CO_C, x));
		ls_answer_free(&a);
		LS_STEP(d, "invalid_argument", 0, &a, "company", "show", CO_C,
		    "--on", x);
		ls_answer_free(&a);
	}
	/* Each says why. */
	LS_STEP(d, "invalid_argument", 0, &a,
	    LS_RESERVE("D9", CO_C2, "K", "START", "10000", "2024-02-30"));
	assert_non_null(strstr(a.message, "does not exist in the calendar"));
	ls_answer_free(&a);
	LS_STEP(d, "invalid_argument", 0, &a,
	    LS_RESERVE("D9", CO_C2, "K", "START", "10000", "2024/01/05"));
	assert_non_null(strstr(a.message, "YYYY-MM-DD"));
	ls_answer_free(&a);
	LS_STEP(d, "invalid_argument", 0, &a,
	    LS_RESERVE("D9", CO_C2, "K", "START", "10000", "1999-12-31"));
	assert_non_null(strstr(a.message, "2000-2199"));
	ls_answer_free(&a);

	/* Decisions and grants cannot lie in the future. */
	ls_date_from_today(2, tomorrow2);
	snprintf(future, sizeof(future), "2150-01-01");
	LS_STEP(d, "future_date", 0, &a,
	    LS_RESERVE("D9", CO_C2, "K", "START", "10000", tomorrow2));
	assert_non_null(strstr(a.message, "lies after today"));
	ls_answer_free(&a);
	LS_NO(d, "future_date",
	    LS_RESERVE("D9", CO_C2, "K", "START", "10000", future));
	LS_STEP(d, "future_date", 0, &a, LS_APPROVE("D2", tomorrow2));
	assert_non_null(strstr(a.message, "decision date"));
	ls_answer_free(&a);
	LS_NO(d, "future_date", LS_APPROVE("D2", future));
	LS_STEP(d, "future_date", 0, &a, LS_DECLARE(CO_C, "1000", tomorrow2));
	assert_non_null(strstr(a.message, "grant date"));
	ls_answer_free(&a);
	LS_NO(d, "future_date", LS_DECLARE(CO_C, "1000", future));

	/* Required dates, and an end before the start. */
	LS_STEP(d, "invalid_argument", 0, &a, LS_DECLARE(CO_C, "1000", ""));
	assert_non_null(strstr(a.message, "required"));
	ls_answer_free(&a);
	LS_STEP(d, "invalid_argument", 0, &a, LS_LINK(CO_C, CO_C2, ""));
	assert_non_null(strstr(a.message, "required"));
	ls_answer_free(&a);
	LS_STEP(d, "invalid_argument", 0, &a, LS_MERGE(CO_C2, CO_C, ""));
	assert_non_null(strstr(a.message, "required"));
	ls_answer_free(&a);
	LS_STEP(d, "invalid_argument", 0, &a,
	    LS_LINK_UNTIL(CO_C, CO_C2, "2024-06-02", "2024-06-01"));
	assert_non_null(strstr(a.message, "until lies before since"));
	ls_answer_free(&a);
	/* A decision before the reservation it decides. */
	LS_STEP(d, "invalid_argument", 0, &a, LS_APPROVE("D2", "2024-05-31"));
	assert_non_null(strstr(a.message, "before"));
	ls_answer_free(&a);
	LS_CLI_CHECK(d);
}

/* ------------------------------------------------------------------ */
/* Unknown packages, contracts, companies and dossiers                */

static const struct ls_row unknown[] = {
    /* Packages: names the rule set in force does not have. */
    LS_R_NO("package_not_allowed", "no package GOLD",
	LS_RESERVE("D9", CO_C2, "K", "GOLD", "10000", "2024-06-01")),
    LS_R_NO("package_not_allowed", "no package start",
	LS_RESERVE("D9", CO_C2, "K", "start", "10000", "2024-06-01")),
    LS_R_NO("package_not_allowed", "no package LIGHT",
	LS_RESERVE("D9", CO_C2, "K", "LIGHT", "15000", "2024-06-01")),
    LS_R_NO("invalid_argument", "package",
	LS_RESERVE("D9", CO_C2, "K", "ST ART", "10000", "2024-06-01")),
    LS_R_NO("invalid_argument", "package",
	LS_RESERVE("D9", CO_C2, "K", "", "10000", "2024-06-01")),
    LS_R_NO("package_not_allowed", "no package GOLD", "dossier", "amend", "D1",
	"--package", "GOLD", "--cost", "20000"),
    /* Contracts. */
    LS_R_NO("not_found", "contract NOPE does not exist",
	LS_RESERVE("D9", CO_C2, "NOPE", "START", "10000", "2024-06-01")),
    LS_R_NO("not_found", "contract NOPE", "contract", "show", "NOPE"),
    LS_R_NO("not_found", "contract NOPE", "contract", "amend", "NOPE",
	"--budget", "100", "--reason", "test"),
    LS_R_NO("not_found", "contract NOPE", "contract", "close", "NOPE"),
    LS_R_NO("invalid_argument", "contract id", "contract", "show", "K 1"),
    /* Companies: valid numbers nobody added. */
    LS_R_NO("not_found", "company " CO_U " does not exist",
	LS_RESERVE("D9", CO_U, "K", "START", "10000", "2024-06-01")),
    LS_R_NO("not_found", CO_U, LS_DECLARE(CO_U, "1000", "2024-06-01")),
    LS_R_NO("not_found", CO_U, LS_LINK(CO_C, CO_U, "2024-01-01")),
    LS_R_NO("not_found", CO_U, LS_LINK(CO_U, CO_C, "2024-01-01")),
    LS_R_NO("not_found", CO_U, LS_MERGE(CO_U, CO_C, "2024-01-01")),
    LS_R_NO("not_found", CO_U, LS_MERGE(CO_C, CO_U, "2024-01-01")),
    LS_R_NO("not_found", CO_U, "company", "show", CO_U),
    LS_R_NO("not_found", CO_U, LS_DM_SHOW(CO_U, "2024-06-01")),
    /* Dossiers. */
    LS_R_NO("not_found", "dossier NOPE does not exist", LS_SHOW("NOPE")),
    LS_R_NO("not_found", "dossier NOPE", LS_APPROVE("NOPE", "2024-06-01")),
    LS_R_NO("not_found", "dossier NOPE", LS_CANCEL("NOPE")),
    LS_R_NO("not_found", "dossier NOPE", "dossier", "withdraw", "NOPE",
	"--reason", "test"),
    LS_R_NO(
	"not_found", "dossier NOPE", "dossier", "pay", "NOPE", "--amount", "1"),
    LS_R_NO("not_found", "dossier NOPE", "dossier", "complete", "NOPE"),
    LS_R_NO("not_found", "dossier NOPE", "dossier", "close", "NOPE"),
    LS_R_NO("not_found", "dossier NOPE", "dossier", "amend", "NOPE", "--cost",
	"20000"),
    LS_R_NO("invalid_argument", "dossier id", LS_SHOW("D 1")),
    LS_R_NO("invalid_argument", "dossier id", LS_SHOW("")),
    LS_R_NO("invalid_argument", "dossier id",
	LS_SHOW("D0123456789012345678901234567890123456789012345678901234567890"
		"123")),
};

static void
test_unknown(void **state)
{
	struct h_daemon *d = badinput_daemon(state);

	LS_ROWS(d, unknown, NULL);
}

/* ------------------------------------------------------------------ */
/* Bands, extensions, duplicates, states                              */

static const struct ls_row rules_input[] = {
    /* A cost outside its band, at reservation and at amendment. */
    LS_R_NO("cost_out_of_band", "outside the START band",
	LS_RESERVE("D9", CO_C2, "K", "START", "8499.99", "2024-06-01")),
    LS_R_NO("cost_out_of_band", "outside the START band",
	LS_RESERVE("D9", CO_C2, "K", "START", "10800.01", "2024-06-01")),
    LS_R_NO("cost_out_of_band", "outside the PLUS band",
	LS_RESERVE("D9", CO_C2, "K", "PLUS", "1", "2024-06-01")),
    LS_R_NO("cost_out_of_band", "outside the MEDIUM band", "dossier", "amend",
	"D1", "--package", "MEDIUM", "--cost", "16999.99"),
    /* An extension on START, at reservation and at amendment. */
    LS_R_NO("package_not_allowed", "takes no extension packages",
	LS_RESERVE_EXT(
	    "D9", CO_C2, "K", "START", "10000", "1000", "2024-06-01")),
    LS_R_NO("package_not_allowed", "takes no extension packages", "dossier",
	"amend", "D1", "--extension-cost", "0.01"),
    /* Not a company this programme pays for. */
    LS_R_DONE("company", "add", "0200405265", "--name", "Large", "--postcode",
	"9000", "--size", "large"),
    LS_R_NO("ineligible_company", "grants no rate",
	LS_RESERVE("D9", "0200405265", "K", "START", "10000", "2024-06-01")),
    /* Duplicates. */
    LS_R_NO("already_exists", "contract K exists", LS_OPEN("K", "5")),
    LS_R_NO("already_exists", "dossier D1 exists",
	LS_RESERVE("D1", CO_C2, "K", "START", "10000", "2024-06-01")),
    LS_R_NO("already_exists", "exists", LS_ADD(CO_C, "small")),
    LS_R_DONE(LS_LINK(CO_C, "0200405265", "2024-01-01")),
    LS_R_NO("already_exists", "link exists",
	LS_LINK(CO_C, "0200405265", "2024-01-01")),
    LS_R_NO("invalid_argument", "itself", LS_LINK(CO_C, CO_C, "2024-01-01")),
    LS_R_NO("invalid_argument", "itself",
	LS_LINK(CO_C, "BE0200.101.397", "2024-01-01")),
    LS_R_NO("invalid_argument", "itself", LS_MERGE(CO_C, CO_C, "2024-01-01")),
    /* Text and identifiers. */
    LS_R_NO("invalid_argument", "contract id", LS_OPEN("K 9", "5")),
    LS_R_NO("invalid_argument", "framework", "contract", "open", "K9",
	"--provider", "P", "--framework", "F W", "--budget", "5"),
    LS_R_NO("invalid_argument", "provider", "contract", "open", "K9",
	"--provider", "", "--framework", "FW2", "--budget", "5"),
    LS_R_NO("invalid_argument", "provider", "contract", "open", "K9",
	"--provider", "a\tb", "--framework", "FW2", "--budget", "5"),
    LS_R_NO("invalid_argument", "reason", "dossier", "cancel", "D2", "--reason",
	""),
    LS_R_NO("invalid_argument", "source", "deminimis", "declare", CO_C,
	"--amount", "1", "--granted", "2024-06-01", "--source", ""),
    /* Wrong states. */
    LS_R_NO("invalid_state", "approved", LS_APPROVE("D1", "2024-06-02")),
    LS_R_NO("invalid_state", "approved", LS_CANCEL("D1")),
    LS_R_NO(
	"invalid_state", "reserved", "dossier", "pay", "D2", "--amount", "1"),
    LS_R_NO("invalid_state", "reserved", "dossier", "complete", "D2"),
    LS_R_NO("invalid_state", "reserved", "dossier", "close", "D2"),
    LS_R_NO("invalid_state", "reserved", "dossier", "withdraw", "D2",
	"--reason", "test"),
    LS_R_NO("invalid_state", "approved", "dossier", "close", "D1"),
    LS_R_NO("invalid_state", "closed already", "contract", "close", "KC"),
    /* Refusals that guard the money are journaled: one entry each. */
    LS_R_NOJ("amount_exceeds_commitment", "5000.01", "dossier", "pay", "D1",
	"--amount", "5000.01"),
    LS_R_NOJ("budget_below_usage", "K", "contract", "amend", "K", "--budget",
	"14999.99", "--reason", "test"),
    LS_R_NOJ("contract_closed", "KC",
	LS_RESERVE("D9", CO_C2, "KC", "START", "10000", "2024-06-01")),
};

static void
test_rules_input(void **state)
{
	struct h_daemon *d = badinput_daemon(state);

	LS_ROWS(d, rules_input, NULL);
}

/* ------------------------------------------------------------------ */
/* Money on its edges                                                 */

/*
 * What an amendment, a payment, a close and a budget cut move, to the
 * cent (SPEC §2-3, README "dossier ..."): an amendment is checked and
 * reserved as its increment, not its new total, and one that does not
 * raise the subsidy is refused; close cuts the grants newest first; a
 * budget goes down to reserved + committed + paid, paid included.
 */
static const struct ls_row money_edges[] = {
    /* A new base cost without an upgrade is not an amendment. */
    LS_R_NO("invalid_argument", "only with an upgrade", "dossier", "amend",
	"D1", "--cost", "10000.01"),
    /* KM holds D3's 5,000.00 and exactly its upgrade's 3,500.00. */
    LS_R_DONE(LS_OPEN("KM", "8500")),
    LS_R_DONE(LS_ADD(LS_CO05, "small")),
    LS_R_DONE(LS_RESERVE("D3", LS_CO05, "KM", "START", "10000", "2024-06-01")),
    LS_R_DONE(LS_APPROVE("D3", "2024-06-01")),
    LS_R_NOJ("contract_budget_exceeded", "3500.01", "dossier", "amend", "D3",
	"--package", "MEDIUM", "--cost", "17000.02"),
    LS_R_DONE_W(LS_W("pending_cents=350000", "subsidy_cents=850000"), "dossier",
	"amend", "D3", "--package", "MEDIUM", "--cost", "17000"),
    LS_R_READ(LS_W("reserved_cents=350000", "committed_cents=500000",
		  "available_cents=0"),
	"contract", "show", "KM"),
    LS_R_DONE_W(LS_W("granted_cents=850000", "grants#=2"),
	LS_APPROVE("D3", "2024-07-01")),
    /* MEDIUM with 0.01 of extension is still 8,500.00 (R-SUB-1 rounds down). */
    LS_R_NO("invalid_argument", "does not raise", "dossier", "amend", "D3",
	"--extension-cost", "0.01"),
    /* Closed with 6,000.00 paid: 2,500.00 comes off the newest grant. */
    LS_R_DONE("dossier", "pay", "D3", "--amount", "6000"),
    LS_R_DONE("dossier", "complete", "D3"),
    LS_R_DONE_W(LS_W("state=closed", "granted_cents=600000",
		    "grants.0.effective_cents=500000",
		    "grants.1.effective_cents=100000"),
	"dossier", "close", "D3"),
    /* Closed is the end: no payment, no withdrawal, no second close. */
    LS_R_NO(
	"invalid_state", "closed", "dossier", "pay", "D3", "--amount", "0.01"),
    LS_R_NO("invalid_state", "closed", "dossier", "withdraw", "D3", "--reason",
	"test"),
    LS_R_NO("invalid_state", "closed", "dossier", "close", "D3"),
    LS_R_READ(LS_W("used_cents=500000"), LS_DM_SHOW(LS_CO05, "2024-06-30")),
    LS_R_READ(LS_W("used_cents=600000"), LS_DM_SHOW(LS_CO05, "2024-07-01")),
    LS_R_READ(LS_W("reserved_cents=0", "committed_cents=0", "paid_cents=600000",
		  "available_cents=250000"),
	"contract", "show", "KM"),
    /* What was paid is not available: 4,250.00 does not fit in 2,500.00. */
    LS_R_DONE(LS_ADD(LS_CO07, "small")),
    LS_R_NOJ("contract_budget_exceeded", "KM",
	LS_RESERVE("D5", LS_CO07, "KM", "START", "8500", "2024-06-01")),
    /* What was paid is used: the budget goes down to it, not below. */
    LS_R_NOJ("budget_below_usage", "KM", "contract", "amend", "KM", "--budget",
	"5999.99", "--reason", "test"),
    LS_R_DONE_W(LS_W("budget_cents=600000", "available_cents=0"), "contract",
	"amend", "KM", "--budget", "6000", "--reason", "test"),
    /*
     * An amendment's increment counts against the de-minimis ceiling on
     * today (R-DM): with 296,500.00 used, 3,500.00 fits and 3,500.01 not.
     */
    LS_R_DONE(LS_ADD(LS_CO06, "small")),
    LS_R_DONE(LS_DECLARE(LS_CO06, "291500", "@T30")),
    LS_R_DONE(LS_RESERVE("D4", LS_CO06, "K", "START", "10000", "@T20")),
    LS_R_DONE(LS_APPROVE("D4", "@T20")),
    LS_R_NOJ("deminimis_ceiling_exceeded", "300,000.01", "dossier", "amend",
	"D4", "--package", "MEDIUM", "--cost", "17000.02"),
    LS_R_DONE_W(LS_W("pending_cents=350000"), "dossier", "amend", "D4",
	"--package", "MEDIUM", "--cost", "17000"),
    LS_R_READ(LS_W("used_cents=29650000", "pending_cents=350000",
		  "available_cents=0"),
	"deminimis", "show", LS_CO06),
    /*
     * A budget change journals the new budget and the change (README); the
     * opening is the change from nothing.
     */
    LS_R_DONE(LS_OPEN("KA", "100")),
    LS_R_DONE("contract", "amend", "KA", "--budget", "150", "--reason", "up"),
    LS_R_DONE(
	"contract", "amend", "KA", "--budget", "120.5", "--reason", "down"),
    LS_R_READ(LS_W("entries#=3", "entries.0.budget=10000",
		  "entries.0.amount=10000", "entries.1.kind=contract_amend",
		  "entries.1.budget=15000", "entries.1.amount=5000",
		  "entries.2.budget=12050", "entries.2.amount=-2950"),
	"history", "--contract", "KA"),
};

static void
test_money_edges(void **state)
{
	struct h_daemon *d = badinput_daemon(state);
	char             t30[16], t20[16];
	struct ls_name   names[] = {
	      {"T30", t30},
	      {"T20", t20},
	      {NULL, NULL},
        };

	/* Within today's de-minimis window whenever the test runs. */
	ls_date_from_today(-30, t30);
	ls_date_from_today(-20, t20);
	LS_ROWS(d, money_edges, names);
}

/* A bad rules file: refused with the line it is on; nothing loaded. */
static void
test_rules_file(void **state)
{
	struct h_daemon *d = badinput_daemon(state);
	struct ls_answer a;
	char             path[H_PATH_MAX + 32];
	FILE            *fp;

	snprintf(path, sizeof(path), "%s/bad.rules", d->dir);
	assert_non_null(fp = fopen(path, "w"));
	fputs("[ruleset BAD]\n"
	      "from = 2024-02-30\n"
	      "rate_sme = 50%\n",
	    fp);
	assert_int_equal(fclose(fp), 0);
	LS_STEP(d, "invalid_argument", 0, &a, "rules", "load", path);
	assert_non_null(strstr(a.message, "line 2"));
	assert_non_null(strstr(a.message, "calendar"));
	ls_answer_free(&a);

	assert_non_null(fp = fopen(path, "w"));
	fputs("[ruleset BAD]\n"
	      "from = 2024-06-01\n"
	      "rate_sme = 50%\n"
	      "colour = blue\n",
	    fp);
	assert_int_equal(fclose(fp), 0);
	LS_STEP(d, "invalid_argument", 0, &a, "rules", "load", path);
	assert_non_null(strstr(a.message, "line 4"));
	assert_non_null(strstr(a.message, "colour"));
	ls_answer_free(&a);

	/* A loaded set never changes under the same name. */
	assert_non_null(fp = fopen(path, "w"));
	fputs("[ruleset V2024]\n"
	      "from = 2024-04-17\n"
	      "rate_sme = 60%\n"
	      "rate_maatwerk = 50%\n"
	      "rate_large_nis2 = 35%\n"
	      "max_total_cost = 60000.00\n"
	      "max_subsidy = 30000.00\n"
	      "exclusion_years = 4\n"
	      "[package V2024 START]\n"
	      "min_cost = 8500.00\n"
	      "max_cost = 10800.00\n"
	      "rank = 1\n"
	      "extensions = no\n",
	    fp);
	assert_int_equal(fclose(fp), 0);
	LS_STEP(d, "already_exists", 0, &a, "rules", "load", path);
	assert_non_null(strstr(a.message, "V2024 is loaded already"));
	ls_answer_free(&a);
	/* The same shipped file again adds nothing and changes nothing. */
	LS_STEP(d, NULL, 0, &a, "rules", "load",
	    BUDGET_SOURCE_DIR "/rules/vlaio-cybersecurity.rules");
	LS_WANT(&a, "added=0");
	ls_answer_free(&a);
	LS_CLI_CHECK(d);
}

/* Text mode says it the same way: "error: CODE: message", exit 1. */
static void
test_text_mode(void **state)
{
	struct h_daemon *d = badinput_daemon(state);
	struct ls_snap   before;
	struct h_proc    p;

	LS_SNAP(d, &before);
	h_ctl(&p, d, "company", "add", "0200101398", "--name", "X",
	    "--postcode", "9000", "--size", "small", NULL);
	h_proc_expect(&p, 1);
	assert_string_equal(p.out, "");
	assert_non_null(strstr(p.err,
	    "error: invalid_argument: enterprise "
	    "number \"0200101398\": "));
	assert_non_null(strstr(p.err, "check digits"));
	h_proc_free(&p);
	h_ctl(&p, d, "dossier", "reserve", "D9", "--company", CO_C2,
	    "--contract", "K", "--package", "START", "--cost", "10000",
	    "--date", "2024-02-30", NULL);
	h_proc_expect(&p, 1);
	assert_non_null(strstr(p.err,
	    "error: invalid_argument: date "
	    "\"2024-02-30\": date does not exist"));
	h_proc_free(&p);
	h_ctl(&p, d, "dossier", "reserve", "D9", "--company", CO_C2,
	    "--contract", "K", "--package", "START", "--cost", "10000.001",
	    NULL);
	h_proc_expect(&p, 2);
	assert_non_null(strstr(p.err,
	    "--cost \"10000.001\": amount has more "
	    "than two decimals"));
	h_proc_free(&p);
	LS_MOVED(d, &before, 0);
	LS_CLI_CHECK(d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_enterprise_numbers, h_teardown),
	    cmocka_unit_test_teardown(test_postcodes, h_teardown),
	    cmocka_unit_test_teardown(test_amounts_cli, h_teardown),
	    cmocka_unit_test_teardown(test_amounts_wire, h_teardown),
	    cmocka_unit_test_teardown(test_dates, h_teardown),
	    cmocka_unit_test_teardown(test_unknown, h_teardown),
	    cmocka_unit_test_teardown(test_rules_input, h_teardown),
	    cmocka_unit_test_teardown(test_money_edges, h_teardown),
	    cmocka_unit_test_teardown(test_rules_file, h_teardown),
	    cmocka_unit_test_teardown(test_text_mode, h_teardown),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
