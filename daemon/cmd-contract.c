/*
 * cmd-contract.c: contract open, amend, close, show and list. A contract is
 * one provider's lot under one framework and holds its budget in subsidy
 * euros (R-PB): raised at any time, lowered only down to what is reserved,
 * committed and paid, closed to new reservations while its dossiers run on.
 */
#include <stdio.h>
#include <string.h>

#include "budget/money.h"
#include "cmd.h"

static int64_t
contract_usage(const struct contract *c)
{
	return (c->reserved + c->committed + c->paid);
}

static enum budget_err
cmd_contract_open_exec(struct cmd_ctx *ctx)
{
	const Budget__ContractOpen *a = ctx->msg->contract_open;
	struct contract             c;
	struct jentry               e = {.kind = "contract_open"};
	enum budget_err             rc;
	int                         st;

	if ((rc = cmd_id_arg(ctx, a->id, "contract id")) ||
	    (rc = cmd_text_arg(ctx, a->provider, "provider")) ||
	    (rc = cmd_id_arg(ctx, a->framework, "framework")) ||
	    (rc = cmd_amount_arg(ctx, a->budget_cents, "budget")))
		return (rc);
	/* What was asked, for a refusal's journal entry (cmd.c). */
	ctx->jr.contract = a->id;
	ctx->jr.provider = a->provider;
	ctx->jr.framework = a->framework;
	ctx->jr.budget = a->budget_cents;
	ctx->jr.amount = a->budget_cents;
	st = record_get_contract(ctx->txn, a->id, &c);
	if (st == STORE_OK)
		return (cmd_fail(ctx, BUDGET_ERR_ALREADY_EXISTS,
		    "contract %s exists already", a->id));
	if (st != STORE_NOTFOUND)
		return (cmd_lookup_fail(ctx, st, "contract", a->id));
	memset(&c, 0, sizeof(c));
	snprintf(c.id, sizeof(c.id), "%s", a->id);
	snprintf(c.provider, sizeof(c.provider), "%s", a->provider);
	snprintf(c.framework, sizeof(c.framework), "%s", a->framework);
	c.budget = a->budget_cents;
	c.opened_at = ctx->now;
	record_put_contract(ctx->txn, &c);
	e.contract = c.id;
	e.provider = c.provider;
	e.framework = c.framework;
	e.budget = c.budget;
	e.amount = c.budget;
	cmd_journal(ctx, &e);
	ctx->resp->result_case = BUDGET__RESPONSE__RESULT_CONTRACT;
	ctx->resp->contract = cmd_contract_result(ctx, &c);
	return (BUDGET_OK);
}

static enum budget_err
cmd_contract_amend_exec(struct cmd_ctx *ctx)
{
	const Budget__ContractAmend *a = ctx->msg->contract_amend;
	struct contract              c;
	struct jentry                e = {.kind = "contract_amend"};
	char                         m1[MONEY_BUFSZ], m2[MONEY_BUFSZ];
	enum budget_err              rc;
	int                          st;

	if ((rc = cmd_id_arg(ctx, a->id, "contract id")) ||
	    (rc = cmd_amount_arg(ctx, a->budget_cents, "budget")) ||
	    (rc = cmd_text_arg(ctx, a->reason, "reason")))
		return (rc);
	ctx->jr.contract = a->id;
	ctx->jr.budget = a->budget_cents;
	ctx->jr.reason = a->reason;
	if ((st = record_get_contract(ctx->txn, a->id, &c)) != STORE_OK)
		return (cmd_lookup_fail(ctx, st, "contract", a->id));
	ctx->jr.amount = a->budget_cents - c.budget;
	if (a->budget_cents < contract_usage(&c))
		return (cmd_fail(ctx, BUDGET_ERR_BUDGET_BELOW_USAGE,
		    "contract %s has %s reserved, committed or paid; its "
		    "budget cannot go below that to %s",
		    c.id, money_format(contract_usage(&c), m1, sizeof(m1)),
		    money_format(a->budget_cents, m2, sizeof(m2))));
	e.contract = c.id;
	e.amount = a->budget_cents - c.budget;
	e.budget = a->budget_cents;
	e.reason = a->reason;
	c.budget = a->budget_cents;
	record_put_contract(ctx->txn, &c);
	cmd_journal(ctx, &e);
	ctx->resp->result_case = BUDGET__RESPONSE__RESULT_CONTRACT;
	ctx->resp->contract = cmd_contract_result(ctx, &c);
	return (BUDGET_OK);
}

static enum budget_err
cmd_contract_close_exec(struct cmd_ctx *ctx)
{
	const Budget__ContractClose *a = ctx->msg->contract_close;
	struct contract              c;
	struct jentry                e = {.kind = "contract_close"};
	enum budget_err              rc;
	int                          st;

	if ((rc = cmd_id_arg(ctx, a->id, "contract id")))
		return (rc);
	if (*a->reason != '\0' && (rc = cmd_text_arg(ctx, a->reason, "reason")))
		return (rc);
	ctx->jr.contract = a->id;
	ctx->jr.reason = a->reason;
	if ((st = record_get_contract(ctx->txn, a->id, &c)) != STORE_OK)
		return (cmd_lookup_fail(ctx, st, "contract", a->id));
	if (c.closed)
		return (cmd_fail(ctx, BUDGET_ERR_INVALID_STATE,
		    "contract %s is closed already", c.id));
	c.closed = 1;
	record_put_contract(ctx->txn, &c);
	e.contract = c.id;
	e.reason = a->reason;
	cmd_journal(ctx, &e);
	ctx->resp->result_case = BUDGET__RESPONSE__RESULT_CONTRACT;
	ctx->resp->contract = cmd_contract_result(ctx, &c);
	return (BUDGET_OK);
}

static enum budget_err
cmd_contract_show_exec(struct cmd_ctx *ctx)
{
	const Budget__ContractShow *a = ctx->msg->contract_show;
	struct contract             c;
	enum budget_err             rc;
	int                         st;

	if ((rc = cmd_id_arg(ctx, a->id, "contract id")))
		return (rc);
	if ((st = record_get_contract(ctx->txn, a->id, &c)) != STORE_OK)
		return (cmd_lookup_fail(ctx, st, "contract", a->id));
	ctx->resp->result_case = BUDGET__RESPONSE__RESULT_CONTRACT;
	ctx->resp->contract = cmd_contract_result(ctx, &c);
	return (BUDGET_OK);
}

struct contract_list {
	struct cmd_ctx             *ctx;
	Budget__ContractListResult *res;
	size_t                      cap;
};

static int
cmd_contract_list_cb(const struct contract *c, void *arg)
{
	struct contract_list       *l = arg;
	Budget__ContractListResult *r = l->res;
	Budget__Contract          **grown;

	if (r->n_contracts == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 32;
		grown = cmd_alloc(l->ctx, l->cap * sizeof(*grown));
		if (r->n_contracts > 0)
			memcpy(grown, r->contracts,
			    r->n_contracts * sizeof(*grown));
		r->contracts = grown;
	}
	r->contracts[r->n_contracts++] = cmd_contract_result(l->ctx, c);
	return (0);
}

static enum budget_err
cmd_contract_list_exec(struct cmd_ctx *ctx)
{
	struct contract_list l = {ctx, NULL, 0};

	l.res = cmd_alloc(ctx, sizeof(*l.res));
	budget__contract_list_result__init(l.res);
	if (record_each_contract(ctx->txn, cmd_contract_list_cb, &l) != 0)
		return (cmd_fail(ctx, BUDGET_ERR_STORAGE_ERROR, "%s",
		    store_strerror(ctx->txn->err)));
	ctx->resp->result_case = BUDGET__RESPONSE__RESULT_CONTRACTS;
	ctx->resp->contracts = l.res;
	return (BUDGET_OK);
}

const struct cmd_entry cmd_contract_open_entry = {
    .name = "contract_open",
    .roles = CMD_ROLES_CONTROL,
    .exec = cmd_contract_open_exec,
};
const struct cmd_entry cmd_contract_amend_entry = {
    .name = "contract_amend",
    .roles = CMD_ROLES_CONTROL,
    .exec = cmd_contract_amend_exec,
};
const struct cmd_entry cmd_contract_close_entry = {
    .name = "contract_close",
    .roles = CMD_ROLES_CONTROL,
    .exec = cmd_contract_close_exec,
};
const struct cmd_entry cmd_contract_show_entry = {
    .name = "contract_show",
    .flags = CMD_READONLY,
    .roles = CMD_ROLES_READ,
    .exec = cmd_contract_show_exec,
};
const struct cmd_entry cmd_contract_list_entry = {
    .name = "contract_list",
    .flags = CMD_READONLY,
    .roles = CMD_ROLES_READ,
    .exec = cmd_contract_list_exec,
};
