/*
 * cmd-deminimis.c: declaring de-minimis aid from other sources (the
 * company's declaration, kmo-portefeuille, other agencies) and showing a
 * company's de-minimis position on a day (R-DM).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budget/date.h"
#include "cmd.h"

static enum budget_err
cmd_deminimis_declare_exec(struct cmd_ctx *ctx)
{
	const Budget__DeminimisDeclare *a = ctx->msg->deminimis_declare;
	struct company                  c;
	struct grant                    g;
	struct jentry                   e = {.kind = "deminimis_declare"};
	char                            number[LEDGER_RID_SZ], why[512];
	enum budget_err                 rc;
	int                             st;

	memset(&g, 0, sizeof(g));
	if ((rc = cmd_rid_arg(ctx, a->number, "enterprise number", number)) ||
	    (rc = cmd_amount_arg(ctx, a->amount_cents, "amount")) ||
	    (rc = cmd_text_arg(ctx, a->source, "source")))
		return (rc);
	if (*a->granted == '\0')
		return (cmd_fail(ctx, BUDGET_ERR_INVALID_ARGUMENT,
		    "granted: the date the aid was granted is required"));
	if ((rc = cmd_date_arg(ctx, a->granted, "granted", &g.date)) ||
	    (rc = cmd_not_future(ctx, g.date, "grant date")))
		return (rc);
	ctx->jr.company = cmd_strdup(ctx, number);
	ctx->jr.amount = a->amount_cents;
	ctx->jr.date = g.date;
	ctx->jr.reason = a->source;
	if ((st = record_get_company(ctx->txn, number, &c)) != STORE_OK)
		return (cmd_lookup_fail(ctx, st, "company", number));

	g.id = record_next_grant_id(ctx->txn);
	memcpy(g.company, number, sizeof(g.company));
	g.amount = g.effective = a->amount_cents;
	snprintf(g.source, sizeof(g.source), "%s", a->source);
	g.kind = GRANT_DECLARED;
	record_put_grant(ctx->txn, &g);
	/* Aid already received is a fact: our own reservations do not count
	 * against recording it, only grants do (I-2). */
	if ((rc = dm_verify(ctx->txn, number, g.date, 0, why, sizeof(why))))
		return (cmd_fail(ctx, rc, "%s", why));
	e.company = g.company;
	e.amount = g.amount;
	e.date = g.date;
	e.grant_id = g.id;
	e.reason = g.source;
	cmd_journal(ctx, &e);
	return (cmd_deminimis_result(ctx, number, g.date));
}

/* A de-minimis position as the wire shows it; list may be NULL. */
Budget__DeminimisPosition *
cmd_position_result(struct cmd_ctx *ctx, const char *number, int32_t day,
    const struct dm_position *pos, const struct grant *list, size_t nlist)
{
	Budget__DeminimisPosition *r = cmd_alloc(ctx, sizeof(*r));
	char                       buf[DATE_BUFSZ];
	size_t                     i;

	budget__deminimis_position__init(r);
	r->number = cmd_strdup(ctx, number);
	r->on = cmd_strdup(ctx, date_format(day, buf, sizeof(buf)));
	r->regime = cmd_strdup(ctx, pos->regime.name);
	r->ceiling_cents = pos->regime.ceiling;
	r->used_cents = pos->used;
	r->pending_cents = pos->pending;
	r->available_cents = pos->regime.ceiling - pos->used - pos->pending;
	if (r->available_cents < 0)
		r->available_cents = 0;
	r->window_start =
	    cmd_strdup(ctx, date_format(pos->start, buf, sizeof(buf)));
	r->window_end =
	    cmd_strdup(ctx, date_format(pos->end, buf, sizeof(buf)));
	r->undertaking = cmd_alloc(ctx, (pos->group.n + 1) * sizeof(char *));
	for (i = 0; i < pos->group.n; i++)
		r->undertaking[i] = cmd_strdup(ctx, pos->group.m[i]);
	r->n_undertaking = pos->group.n;
	if (nlist > 0) {
		r->grants = cmd_alloc(ctx, nlist * sizeof(*r->grants));
		for (i = 0; i < nlist; i++) {
			Budget__DeminimisGrant *g = cmd_alloc(ctx, sizeof(*g));

			budget__deminimis_grant__init(g);
			g->company = cmd_strdup(ctx, list[i].company);
			g->date = cmd_strdup(
			    ctx, date_format(list[i].date, buf, sizeof(buf)));
			g->amount_cents = list[i].effective;
			g->source = cmd_strdup(ctx, list[i].source);
			g->dossier = cmd_strdup(ctx, list[i].dossier);
			r->grants[i] = g;
		}
		r->n_grants = nlist;
	}
	return (r);
}

/* Fill the response with company's de-minimis position on day. */
enum budget_err
cmd_deminimis_result(struct cmd_ctx *ctx, const char *number, int32_t day)
{
	struct dm_position pos;
	struct grant      *list = NULL;
	size_t             nlist = 0;
	enum budget_err    rc;
	char               buf[DATE_BUFSZ];

	rc = dm_position(ctx->txn, number, day, &pos, &list, &nlist);
	if (rc == BUDGET_ERR_NO_RULES_IN_FORCE) {
		undertaking_free(&pos.group);
		return (cmd_fail(ctx, rc,
		    "no de-minimis regime is in force on %s: load the rules",
		    date_format(day, buf, sizeof(buf))));
	}
	if (rc != BUDGET_OK) {
		undertaking_free(&pos.group);
		free(list);
		return (cmd_fail(ctx, rc, "%s", store_strerror(ctx->txn->err)));
	}
	ctx->resp->result_case = BUDGET__RESPONSE__RESULT_DEMINIMIS;
	ctx->resp->deminimis =
	    cmd_position_result(ctx, number, day, &pos, list, nlist);
	free(list);
	undertaking_free(&pos.group);
	return (BUDGET_OK);
}

static enum budget_err
cmd_deminimis_show_exec(struct cmd_ctx *ctx)
{
	const Budget__DeminimisShow *a = ctx->msg->deminimis_show;
	struct company               c;
	int32_t                      day;
	enum budget_err              rc;

	if ((rc = cmd_company_on(ctx, a->number, a->on, &c, &day)))
		return (rc);
	return (cmd_deminimis_result(ctx, c.number, day));
}

const struct cmd_entry cmd_deminimis_declare_entry = {
    .name = "deminimis_declare",
    .roles = CMD_ROLES_CONTROL,
    .exec = cmd_deminimis_declare_exec,
};
const struct cmd_entry cmd_deminimis_show_entry = {
    .name = "deminimis_show",
    .flags = CMD_READONLY,
    .roles = CMD_ROLES_READ,
    .exec = cmd_deminimis_show_exec,
};
