/*
 * cmd-verify.c: "verify": run the checker (check.c) and say whether the
 * ledger holds together, and if not, where it does not.
 */
#include <stdio.h>

#include "cmd.h"

static enum budget_err
cmd_verify_exec(struct cmd_ctx *ctx)
{
	Budget__VerifyResult *r = cmd_alloc(ctx, sizeof(*r));
	struct check_report   rep;
	size_t                i;

	check_ledger(ctx->txn, &rep);
	budget__verify_result__init(r);
	r->ok = rep.ok;
	r->entries = rep.entries;
	r->head_hash = cmd_hex(ctx, rep.head, sizeof(rep.head));
	r->first_bad_seq = rep.first_bad_seq;
	r->contracts = rep.ncontracts;
	r->companies = rep.ncompanies;
	r->dossiers = rep.ndossiers;
	if (rep.nproblems > 0) {
		r->problems = cmd_alloc(ctx, rep.nproblems * sizeof(char *));
		for (i = 0; i < rep.nproblems; i++)
			r->problems[i] = cmd_strdup(ctx, rep.problems[i]);
		r->n_problems = rep.nproblems;
		log_warnx("verify: %zu problem(s), the first: %s",
		    rep.nproblems, rep.problems[0]);
	}
	check_report_free(&rep);
	ctx->resp->result_case = BUDGET__RESPONSE__RESULT_VERIFY;
	ctx->resp->verify = r;
	return (BUDGET_OK);
}

const struct cmd_entry cmd_verify_entry = {
    .name = "verify",
    .flags = CMD_READONLY | CMD_SLOW,
    .roles = CMD_ROLES_READ,
    .exec = cmd_verify_exec,
};
