/*
 * test_regress_rules.c: daemon bugs found by the rule and bad-input tests
 * (test_rules.c, test_badinput.c), one test each, on the checked steps of
 * ledger_steps.h. Each comment says where the bug is and why it is one;
 * each test fails until the daemon is fixed, then guards the fix. Kept
 * apart so that the rule and bad-input binaries stay green meanwhile.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger_steps.h"

/* ------------------------------------------------------------------ */
/* I-2 across control links and mergers                               */

/*
 * cmd-company.c:130, cmd_company_link_exec: the link is checked against
 * I-2 with dm_verify(parent, since, flags 0), which looks only at the
 * windows that contain the link's first day (deminimis.c:295, "Only
 * windows that contain day can have changed"). A link that began more
 * than three years before a later grant day joins the undertaking on
 * that day too, but that day's window is skipped: two companies with
 * 150,000 and 160,000 granted on 2025-06-01, linked since 2021-01-01, are
 * accepted as one undertaking holding 310,000, and verify then reports
 * I-2 broken.
 */
static const struct ls_row bug_two_grants[] = {
    LS_R_DONE(LS_ADD(LS_CO01, "small")),
    LS_R_DONE(LS_ADD(LS_CO02, "small")),
    LS_R_DONE(LS_DECLARE(LS_CO01, "150000", "2025-06-01")),
    LS_R_DONE(LS_DECLARE(LS_CO02, "160000", "2025-06-01")),
};

/*
 * Run a link or merge of LS_CO01 and LS_CO02 that must be refused; first ask
 * the daemon's own checker whether I-2 still holds, so that a failure
 * shows its words ("I-2 broken: ... 310,000.00 ...").
 */
static void
bug_join_refused(struct h_daemon *d, const char *const *argv)
{
	struct ls_answer a;
	char             code[64], message[640];
	int              status;

	LS_ROWS(d, bug_two_grants, NULL);
	LS_RUN(d, argv, &a);
	status = a.status;
	snprintf(code, sizeof(code), "%s", a.code);
	snprintf(message, sizeof(message), "%s", a.message);
	ls_answer_free(&a);
	LS_VERIFY(d);
	if (strcmp(code, "deminimis_ceiling_exceeded") != 0 ||
	    strstr(message, "310,000.00") == NULL) {
		print_error("got exit %d %s: %s\n", status, code, message);
		fail_msg("the undertaking's 310,000.00 was not refused");
	}
}

static void
test_bug_link_long_before_grants_breaks_ceiling(void **state)
{
	static const char *const argv[] = {
	    LS_LINK(LS_CO01, LS_CO02, "2021-01-01"), NULL};

	bug_join_refused(LS_DAEMON(state), argv);
}

/* The same through cmd-company.c:188, cmd_company_merge_exec. */
static void
test_bug_merge_long_before_grants_breaks_ceiling(void **state)
{
	static const char *const argv[] = {
	    LS_MERGE(LS_CO02, LS_CO01, "2021-01-01"), NULL};

	bug_join_refused(LS_DAEMON(state), argv);
}

/*
 * A link that starts the day after a grant, in either order. Reported as
 * a bug because the outcome depended on the order of two requests ending
 * in the same state (approve then link: link refused; link then approve:
 * approval accepted). Decided (deminimis.c, top comment): I-2 holds on
 * grant days with the undertaking of that day, as Art. 3(8) has it, so
 * both orders are accepted (neither grant was made while the companies
 * were one undertaking), and from the link's first day the joined
 * undertaking is full: new aid is refused.
 */
static const struct ls_row link_day[] = {
    LS_R_DONE(LS_ADD("@Q1", "small")),
    LS_R_DONE(LS_ADD("@Q3", "small")),
    LS_R_DONE(LS_ADD("@Q4", "small")),
    LS_R_DONE(LS_ADD("@Q5", "small")),
    LS_R_DONE(LS_DECLARE("@Q1", "296000", "2025-01-10")),
    LS_R_DONE(LS_DECLARE("@Q4", "296000", "2025-01-10")),
    /* Approve, then link. */
    LS_R_DONE(LS_RESERVE("DQ5", "@Q5", "K", "START", "10000", "2025-02-25")),
    LS_R_DONE(LS_APPROVE("DQ5", "2025-02-28")),
    LS_R_DONE(LS_LINK("@Q4", "@Q5", "2025-03-01")),
    /* Link, then approve: the same outcome. */
    LS_R_DONE(LS_RESERVE("DQ3", "@Q3", "K", "START", "10000", "2025-02-25")),
    LS_R_DONE(LS_LINK("@Q1", "@Q3", "2025-03-01")),
    LS_R_DONE(LS_APPROVE("DQ3", "2025-02-28")),
    LS_R_READ(
	LS_W("used_cents=30100000", "available_cents=0", "undertaking#=2"),
	LS_DM_SHOW("@Q1", "2025-03-01")),
    LS_R_READ(LS_W("used_cents=30100000", "available_cents=0"),
	LS_DM_SHOW("@Q4", "2025-03-01")),
    /* New aid to the joined undertaking no longer fits. */
    LS_R_NOJ("deminimis_ceiling_exceeded", "2 companies",
	LS_DECLARE("@Q3", "1", "2025-03-02")),
    LS_R_NOJ("deminimis_ceiling_exceeded", "2 companies",
	LS_DECLARE("@Q4", "1", "2025-03-01")),
};

static void
test_order_of_link_and_grant_does_not_matter(void **state)
{
	struct h_daemon *d = LS_DAEMON(state);
	struct ls_name   names[] = {
	      {"Q1", LS_CO01},
	      {"Q3", LS_CO02},
	      {"Q4", LS_CO03},
	      {"Q5", LS_CO04},
	      {NULL, NULL},
        };

	LS_ROWS(d, link_day, names);
}

/* ------------------------------------------------------------------ */
/* Messages                                                           */

/*
 * common/rid.c:50-54, rid_parse: a first digit of 9 is answered "this
 * is an establishment-unit number (first digit 2-8)": the code is right
 * (invalid_argument) but the message is wrong, it is neither an
 * enterprise number (0 or 1) nor an establishment unit (2-8).
 */
static const struct ls_row bad_first_digit[] = {
    LS_R_NO("invalid_argument", NULL, LS_ADD("9200101397", "small")),
};

static void
test_bug_first_digit_9_is_no_establishment_unit(void **state)
{
	struct h_daemon         *d = LS_DAEMON(state);
	struct ls_answer         a;
	static const char *const argv[] = {LS_ADD("9200101397", "small"), NULL};

	LS_ROWS(d, bad_first_digit, NULL);
	LS_RUN(d, argv, &a);
	if (strstr(a.message, "establishment-unit") != NULL) {
		print_error("message: %s\n", a.message);
		ls_answer_free(&a);
		fail_msg("9200101397 is called an establishment-unit number");
	}
	ls_answer_free(&a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(
		test_bug_link_long_before_grants_breaks_ceiling, h_teardown),
	    cmocka_unit_test_teardown(
		test_bug_merge_long_before_grants_breaks_ceiling, h_teardown),
	    cmocka_unit_test_teardown(
		test_order_of_link_and_grant_does_not_matter, h_teardown),
	    cmocka_unit_test_teardown(
		test_bug_first_digit_9_is_no_establishment_unit, h_teardown),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
