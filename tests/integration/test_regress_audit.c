/*
 * test_regress_audit.c: daemon bugs found by the auditor's tests
 * (test_audit.c, test_report.c, test_tamper.c), one test each. Each
 * comment says where the bug is and why it is one; each test fails until
 * the daemon is fixed, then guards the fix. Kept apart so that the
 * auditor's binaries stay green meanwhile.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"

/*
 * daemon/cmd.c:438, cmd_exec_one: the role is checked before the
 * command runs, and it is the command's exec that fills in what the
 * journal entry says was asked (ctx->jr: dossier, contract, company,
 * amount). So a permission_denied refusal is journaled with command,
 * error and text only: no dossier, no contract. It is in the export, but
 * in no history: an auditor looking at dossier D1's history does not see
 * that someone without the right tried to pay 1.00 on it. README ("The
 * journal": refused entries record "what was asked"; "history": "refused
 * requests included"; Concepts: refusals, permission denied among them,
 * are journaled "so an auditor can see who tried to overspend").
 *
 * Reproduce: budgetd with [roles] auditor = 65534; as uid 65534,
 * budgetctl dossier pay D1 --amount 1 (permission_denied); then
 * budgetctl history --dossier D1 --json: no refused entry.
 */
static void
test_bug_permission_denied_not_in_history(void **state)
{
	struct h_daemon *d;
	json_t          *h, *ents, *e;
	size_t           i;
	int              found = 0;

	d = au_auditor_ledger_up(state);
	assert_int_equal(au_ctl_as_nobody(d, NULL, "dossier", "pay", "D1",
			     "--amount", "1", NULL),
	    1);

	h = fx_ctl_json(d, 0, "history", "--dossier", "D1", NULL);
	ents = h_json_get(h, "entries");
	for (i = 0; i < json_array_size(ents); i++) {
		e = json_array_get(ents, i);
		if (strcmp(h_json_str(e, "kind"), "refused") == 0 &&
		    strcmp(h_json_str(e, "error"), "permission_denied") == 0)
			found++;
	}
	json_decref(h);
	if (found != 1)
		fail_msg("history --dossier D1 does not show the auditor's "
			 "refused payment on D1");
}

/*
 * daemon/cmd-balance.c:160-172, cmd_balance_exec: a company's entries
 * are gathered for everyone ever in its single undertaking
 * (UNDERTAKING_ANY_DAY, as of now), and "not found" is only when none of
 * them had an entry by then. So a company that did not exist yet at the
 * entry asked for gets a de-minimis position anyway, whenever a company
 * it was linked to later already had entries: B, added at entry 2, has
 * a position (ceiling 300,000.00 available) "as of entry 1". deminimis
 * show said not_found for B at that moment, and balance --contract says
 * not_found for a contract not yet open ("was not open yet then"); the
 * company's answer should be the same.
 *
 * Reproduce: company add A; company add B; company link A B --since
 * 2020-01-01; budgetctl balance --company B --as-of 1 --json: exit 0
 * with a position, expected not_found.
 */
static void
test_bug_balance_company_before_it_existed(void **state)
{
	struct h_daemon *d;
	json_t          *j;
	int              st;

	d = fx_daemon_up(state, NULL);
	json_decref(fx_ctl_json(d, 0, "company", "add", AU_CO_X, "--name", "A",
	    "--postcode", "9000", "--size", "small", NULL));
	json_decref(fx_ctl_json(d, 0, "company", "add", AU_CO_Y, "--name", "B",
	    "--postcode", "9000", "--size", "small", NULL));
	fx_company_link(d, AU_CO_X, AU_CO_Y, "2020-01-01");
	/* Entry 2 added A; B came at entry 3. */
	j = fx_ctl_json_try(
	    d, &st, "balance", "--company", AU_CO_Y, "--as-of", "2", NULL);
	if (st != 1 || j == NULL ||
	    !json_is_string(h_json_get(j, "error.code")) ||
	    strcmp(h_json_str(j, "error.code"), "not_found") != 0) {
		char *s = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;

		print_error("exit %d: %s\n", st, s != NULL ? s : "");
		free(s);
		json_decref(j);
		fail_msg("balance --company B --as-of 2 answers for a company "
			 "added at entry 3");
	}
	json_decref(j);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, NULL, h_teardown)
	const struct CMUnitTest tests[] = {
	    T(test_bug_permission_denied_not_in_history),
	    T(test_bug_balance_company_before_it_existed),
	};
#undef T

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
