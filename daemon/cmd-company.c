/*
 * cmd-company.c: company add, link, merge and show. Owns the company's
 * identity (R-ID), its registered office (R-PROV: outside Flanders only with
 * a declared Flemish establishment) and the control links and mergers that
 * make single undertakings, each change checked against I-2 before it
 * stays.
 */
#include <stdio.h>
#include <string.h>

#include "budget/date.h"
#include "budget/rid.h"
#include "cmd.h"

static enum budget_err
cmd_company_add_exec(struct cmd_ctx *ctx)
{
	const Budget__CompanyAdd *a = ctx->msg->company_add;
	struct company            c;
	struct jentry             e = {.kind = "company_add"};
	const char               *province;
	char                      number[LEDGER_RID_SZ], clean[32];
	enum budget_err           rc;
	int                       flemish = 0, st;

	if ((rc = cmd_rid_arg(ctx, a->number, "enterprise number", number)) ||
	    (rc = cmd_text_arg(ctx, a->name, "name")))
		return (rc);
	if ((province = ledger_province(a->postcode, &flemish)) == NULL)
		return (cmd_fail(ctx, BUDGET_ERR_INVALID_ARGUMENT,
		    "postcode \"%s\" is not a Belgian postcode (1000-9999)",
		    log_clean(a->postcode, strlen(a->postcode), clean,
			sizeof(clean))));
	if (!flemish && !a->flemish_establishment)
		return (cmd_fail(ctx, BUDGET_ERR_INVALID_ARGUMENT,
		    "registered office %s (%s) is outside Flanders: the "
		    "company qualifies only with an establishment in the "
		    "Flemish Region (flemish_establishment)",
		    a->postcode, province));
	if (a->size < BUDGET__COMPANY_SIZE__MICRO ||
	    a->size > BUDGET__COMPANY_SIZE__LARGE)
		return (cmd_fail(ctx, BUDGET_ERR_INVALID_ARGUMENT,
		    "size must be micro, small, medium or large"));
	/* What was asked, for a refusal's journal entry (cmd.c). */
	ctx->jr.company = cmd_strdup(ctx, number);
	ctx->jr.name = a->name;
	ctx->jr.postcode = a->postcode;
	ctx->jr.size = (uint32_t)a->size;
	ctx->jr.flags = (a->maatwerk ? JFLAG_MAATWERK : 0) |
	    (a->nis2 ? JFLAG_NIS2 : 0) |
	    (a->flemish_establishment ? JFLAG_FLEMISH : 0);
	st = record_get_company(ctx->txn, number, &c);
	if (st == STORE_OK)
		return (cmd_fail(ctx, BUDGET_ERR_ALREADY_EXISTS,
		    "company %s exists already",
		    rid_format(number, clean, sizeof(clean))));
	if (st != STORE_NOTFOUND)
		return (cmd_lookup_fail(ctx, st, "company", number));
	memset(&c, 0, sizeof(c));
	memcpy(c.number, number, sizeof(c.number));
	snprintf(c.name, sizeof(c.name), "%s", a->name);
	snprintf(c.postcode, sizeof(c.postcode), "%s", a->postcode);
	c.size = (enum company_size)a->size;
	c.maatwerk = a->maatwerk;
	c.nis2 = a->nis2;
	c.flemish = a->flemish_establishment;
	c.added_at = ctx->now;
	record_put_company(ctx->txn, &c);
	e.company = c.number;
	e.name = c.name;
	e.postcode = c.postcode;
	e.size = (uint32_t)c.size;
	e.flags = (c.maatwerk ? JFLAG_MAATWERK : 0) |
	    (c.nis2 ? JFLAG_NIS2 : 0) | (c.flemish ? JFLAG_FLEMISH : 0);
	cmd_journal(ctx, &e);
	ctx->resp->result_case = BUDGET__RESPONSE__RESULT_COMPANY;
	ctx->resp->company = cmd_company_result(ctx, &c, date_today(ctx->now));
	return (BUDGET_OK);
}

/* Both companies of a link or merge: parsed, different, existing. */
static enum budget_err
cmd_company_pair(struct cmd_ctx *ctx, const char *sa, const char *sb,
    const char *wa, const char *wb, struct company *a, struct company *b)
{
	char            na[LEDGER_RID_SZ], nb[LEDGER_RID_SZ];
	enum budget_err rc;
	int             st;

	if ((rc = cmd_rid_arg(ctx, sa, wa, na)) ||
	    (rc = cmd_rid_arg(ctx, sb, wb, nb)))
		return (rc);
	if (strcmp(na, nb) == 0)
		return (cmd_fail(ctx, BUDGET_ERR_INVALID_ARGUMENT,
		    "a company cannot be linked to itself"));
	if ((st = record_get_company(ctx->txn, na, a)) != STORE_OK)
		return (cmd_lookup_fail(ctx, st, "company", na));
	if ((st = record_get_company(ctx->txn, nb, b)) != STORE_OK)
		return (cmd_lookup_fail(ctx, st, "company", nb));
	return (BUDGET_OK);
}

static enum budget_err
cmd_company_link_exec(struct cmd_ctx *ctx)
{
	const Budget__CompanyLink *a = ctx->msg->company_link;
	struct company             parent, child;
	struct link                l;
	struct jentry              e = {.kind = "company_link"};
	char                       why[512];
	enum budget_err            rc;

	if ((rc = cmd_company_pair(
		 ctx, a->parent, a->child, "parent", "child", &parent, &child)))
		return (rc);
	if (*a->since == '\0')
		return (cmd_fail(ctx, BUDGET_ERR_INVALID_ARGUMENT,
		    "since: the date the control began is required"));
	memset(&l, 0, sizeof(l));
	if ((rc = cmd_date_arg(ctx, a->since, "since", &l.since)))
		return (rc);
	if (*a->until != '\0') {
		if ((rc = cmd_date_arg(ctx, a->until, "until", &l.until)))
			return (rc);
		if (l.until < l.since)
			return (cmd_fail(ctx, BUDGET_ERR_INVALID_ARGUMENT,
			    "until lies before since"));
	}
	memcpy(l.parent, parent.number, sizeof(l.parent));
	memcpy(l.child, child.number, sizeof(l.child));
	if (record_link_exists(ctx->txn, l.parent, l.child, l.since))
		return (cmd_fail(ctx, BUDGET_ERR_ALREADY_EXISTS,
		    "this link exists already"));
	ctx->jr.company = cmd_strdup(ctx, l.parent);
	ctx->jr.company2 = cmd_strdup(ctx, l.child);
	ctx->jr.date = l.since;
	record_put_link(ctx->txn, &l);
	/* Did the two form one undertaking on some grant day from since? */
	if ((rc = dm_verify(ctx->txn, l.parent, l.since,
		 DM_ALL_WINDOWS | DM_GRANT_DAYS, why, sizeof(why))))
		return (cmd_fail(ctx, rc, "%s", why));
	e.company = l.parent;
	e.company2 = l.child;
	e.date = l.since;
	e.until = l.until;
	cmd_journal(ctx, &e);
	ctx->resp->result_case = BUDGET__RESPONSE__RESULT_COMPANY;
	ctx->resp->company = cmd_company_result(ctx, &parent,
	    l.since > date_today(ctx->now) ? l.since : date_today(ctx->now));
	return (BUDGET_OK);
}

/*
 * A merger of absorbed into into on day: from day on, every grant of the
 * absorbed company counts for the absorbing one (Art. 3(8)), and the
 * absorbed company takes no new dossier.
 */
static enum budget_err
cmd_company_merge_exec(struct cmd_ctx *ctx)
{
	const Budget__CompanyMerge *a = ctx->msg->company_merge;
	struct company              absorbed, into;
	struct link                 l;
	struct jentry               e = {.kind = "company_merge"};
	char                        why[512], rid[RID_BUFSZ];
	enum budget_err             rc;

	if ((rc = cmd_company_pair(ctx, a->absorbed, a->into, "absorbed",
		 "into", &absorbed, &into)))
		return (rc);
	if (*a->on == '\0')
		return (cmd_fail(ctx, BUDGET_ERR_INVALID_ARGUMENT,
		    "on: the date of the merger is required"));
	memset(&l, 0, sizeof(l));
	if ((rc = cmd_date_arg(ctx, a->on, "on", &l.since)))
		return (rc);
	if (absorbed.absorbed_into[0] != '\0')
		return (cmd_fail(ctx, BUDGET_ERR_INVALID_STATE,
		    "company %s was absorbed into %s already",
		    rid_format(absorbed.number, why, sizeof(why)),
		    rid_format(absorbed.absorbed_into, rid, sizeof(rid))));
	if (into.absorbed_into[0] != '\0')
		return (cmd_fail(ctx, BUDGET_ERR_INVALID_STATE,
		    "company %s was itself absorbed into %s",
		    rid_format(into.number, why, sizeof(why)),
		    rid_format(into.absorbed_into, rid, sizeof(rid))));
	memcpy(l.parent, into.number, sizeof(l.parent));
	memcpy(l.child, absorbed.number, sizeof(l.child));
	l.merge = 1;
	ctx->jr.company = cmd_strdup(ctx, into.number);
	ctx->jr.company2 = cmd_strdup(ctx, absorbed.number);
	ctx->jr.date = l.since;
	record_put_link(ctx->txn, &l);
	memcpy(absorbed.absorbed_into, into.number,
	    sizeof(absorbed.absorbed_into));
	absorbed.absorbed_on = l.since;
	record_put_company(ctx->txn, &absorbed);
	if ((rc = dm_verify(ctx->txn, l.parent, l.since,
		 DM_ALL_WINDOWS | DM_GRANT_DAYS, why, sizeof(why))))
		return (cmd_fail(ctx, rc, "%s", why));
	e.company = into.number;
	e.company2 = absorbed.number;
	e.date = l.since;
	cmd_journal(ctx, &e);
	ctx->resp->result_case = BUDGET__RESPONSE__RESULT_COMPANY;
	ctx->resp->company = cmd_company_result(ctx, &into,
	    l.since > date_today(ctx->now) ? l.since : date_today(ctx->now));
	return (BUDGET_OK);
}

static enum budget_err
cmd_company_show_exec(struct cmd_ctx *ctx)
{
	const Budget__CompanyShow *a = ctx->msg->company_show;
	struct company             c;
	int32_t                    day;
	enum budget_err            rc;

	if ((rc = cmd_company_on(ctx, a->number, a->on, &c, &day)))
		return (rc);
	ctx->resp->result_case = BUDGET__RESPONSE__RESULT_COMPANY;
	ctx->resp->company = cmd_company_result(ctx, &c, day);
	return (BUDGET_OK);
}

const struct cmd_entry cmd_company_add_entry = {
    .name = "company_add",
    .roles = CMD_ROLES_DOSSIER,
    .exec = cmd_company_add_exec,
};
const struct cmd_entry cmd_company_link_entry = {
    .name = "company_link",
    .roles = CMD_ROLES_CONTROL,
    .exec = cmd_company_link_exec,
};
const struct cmd_entry cmd_company_merge_entry = {
    .name = "company_merge",
    .roles = CMD_ROLES_CONTROL,
    .exec = cmd_company_merge_exec,
};
const struct cmd_entry cmd_company_show_entry = {
    .name = "company_show",
    .flags = CMD_READONLY,
    .roles = CMD_ROLES_READ,
    .exec = cmd_company_show_exec,
};
