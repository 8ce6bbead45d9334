/*
 * test_regress_write.c: daemon bugs found by the write-path tests
 * (test_race.c, test_crash.c, test_expiry.c), one minimal reproduction
 * each. Each fails until its bug is fixed, then guards the fix. Kept apart
 * (like test_regress.c) so that the race and crash binaries stay green
 * meanwhile; test_expiry.c cannot: every expiry hits the first bug.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"

/*
 * The daemon dies whenever a reservation expires, and again at every
 * start while one is due: a crash loop.
 *
 * expiry.c:52 queues the internal dossier_expire request;
 * cmd-dossier.c:574 cmd_dossier_expire_exec releases what is due and
 * returns BUDGET_OK without setting a result; cmd.c:404 cmd_exec_one then
 * packs the answer (cmd_reply_ctx, cmd.c:665) although nobody waits for
 * it, and cmd_frame (cmd.c:630) finds an empty Response: fatalx("cmd: a
 * command answered with an empty response"), before the batch commits.
 * So the release is never kept, and the next start dies the same way a
 * second later.
 *
 * Reproduce: budgetctl dossier reserve ... --ttl 2s; wait 3 s; budgetd is
 * gone, its log ending in "expire: dossier D: reservation of N cents
 * released" and "cmd: a command answered with an empty response".
 */
static void
test_bug_expiry_kills_the_daemon(void **state)
{
	struct h_daemon *d;
	char             a[FX_RID_SZ];
	json_t          *j;
	int64_t          deadline;
	int              status, expired;

	d = fx_daemon_up(state, NULL);
	fx_contract_open(d, "K-EXP", "5000");
	fx_companies_add(d, 1, 1);
	fx_rid(1, a);
	json_decref(fx_ctl_json(d, 0, "dossier", "reserve", "EXP-1",
	    "--company", a, "--contract", "K-EXP", "--package", "START",
	    "--cost", "10000", "--ttl", "1s", NULL));
	deadline = h_now_ms() + H_DEADLINE_MS;
	for (;;) {
		j = fx_ctl_json_try(
		    d, &status, "dossier", "show", "EXP-1", NULL);
		if (status != 0 || j == NULL) {
			json_decref(j);
			/* Gone? Give it a moment to be reaped. */
			h_daemon_wait_exit(d, 1000, NULL);
			if (h_daemon_running(d))
				fail_msg("dossier show EXP-1: exit status %d",
				    status);
			/* Does it come back? Not while the expiry is due. */
			h_daemon_start(d);
			h_sleep_ms(3000);
			fail_msg("budgetd died releasing an expired "
				 "reservation, and %s after a restart",
			    h_daemon_running(d) ? "not" : "again");
		}
		expired = strcmp(h_json_str(j, "state"), "expired") == 0;
		json_decref(j);
		if (expired)
			break;
		if (h_now_ms() >= deadline)
			fail_msg(
			    "EXP-1 not released within %d ms", H_DEADLINE_MS);
		h_sleep_ms(100);
	}
	/* Released, and the daemon lives on. */
	h_sleep_ms(1500);
	h_assert_serving(d);
	fx_verify_ok(d);
}

/*
 * A refused amendment breaks the journal's hash chain for good.
 *
 * cmd-dossier.c:445-449 (cmd_dossier_amend_exec): when the amendment
 * names no package, pkg = d.package, a field of the function's local
 * struct dossier d (:408), and ctx->jr.package = pkg. A refusal that is
 * journaled (de-minimis, contract budget, ...) is written after the
 * command returned (cmd.c:411, kind "refused", in cmd_exec_one), so
 * journal_append reads a dead stack frame: journal.c:356 hashes the
 * canonical bytes with one package and journal.c:364 stores another.
 * From then on verify says "journal entry N: hash does not match its
 * content and predecessor", as if the journal had been tampered with
 * (I-4), and the stored entry names a garbage package.
 *
 * Reproduce: reserve and approve a MEDIUM dossier at EUR 17,000, declare
 * EUR 290,000 of aid, "dossier amend D --extension-cost 5000" (refused:
 * deminimis_ceiling_exceeded), then "verify" (ok:false).
 */
static void
test_bug_refused_amendment_breaks_journal(void **state)
{
	struct h_daemon *d;
	char             number[FX_RID_SZ], granted[FX_DATE_SZ];
	json_t          *j;

	d = fx_daemon_up(state, NULL);
	fx_contract_open(d, "K-BUG", "20000");
	fx_companies_add(d, 1, 1);
	fx_rid(1, number);
	json_decref(fx_ctl_json(d, 0, "dossier", "reserve", "BUG-1",
	    "--company", number, "--contract", "K-BUG", "--package", "MEDIUM",
	    "--cost", "17000", NULL));
	json_decref(fx_ctl_json(d, 0, "dossier", "approve", "BUG-1", NULL));
	fx_date_ago(30, granted);
	fx_declare(d, number, "290000", granted);
	fx_verify_ok(d);

	/* Refused by R-DM: EUR 2,500 more does not fit under the ceiling. */
	j = fx_ctl_json(d, 1, "dossier", "amend", "BUG-1", "--extension-cost",
	    "5000", NULL);
	assert_string_equal(
	    h_json_str(j, "error.code"), "deminimis_ceiling_exceeded");
	json_decref(j);
	fx_verify_ok(d);

	/* Refused by R-PB the same way: EUR 12,500 more, EUR 11,500 left. */
	j = fx_ctl_json(d, 1, "dossier", "amend", "BUG-1", "--extension-cost",
	    "25000", NULL);
	assert_string_equal(
	    h_json_str(j, "error.code"), "contract_budget_exceeded");
	json_decref(j);
	fx_verify_ok(d);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, NULL, h_teardown)
	const struct CMUnitTest tests[] = {
	    T(test_bug_expiry_kills_the_daemon),
	    T(test_bug_refused_amendment_breaks_journal),
	};
#undef T

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
