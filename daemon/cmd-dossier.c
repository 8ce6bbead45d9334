/*
 * cmd-dossier.c: the dossier lifecycle (SPEC §2): reserve, approve, amend,
 * cancel, expire (the daemon's own), pay, complete, close, withdraw, show.
 *
 * Every transition moves money between a contract's balances in one step:
 *
 *   reserve/amend   available -> reserved           (R-PB, R-DM, R-EXCL)
 *   approve         reserved  -> committed, + de-minimis grant on D
 *   cancel/expire   reserved  -> available
 *   pay             committed -> paid
 *   close/withdraw  committed -> available, grants cut to what was paid
 *
 * Checks run in a fixed order, so that when several fail the answer is
 * always the same (README, "Order of checks"): arguments, existence,
 * state, rules in force, package and rate, cost bands, contract closed,
 * exclusion, contract budget, de-minimis. The de-minimis check runs on the
 * state with the change applied (dm_verify); a refusal rolls the command's
 * nested transaction back, so nothing of it stays.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budget/date.h"
#include "budget/money.h"
#include "budget/rid.h"
#include "cmd.h"

/*
 * The states a transition may start from. The test and the words its
 * refusal uses live together (dossier_needs), so they cannot drift apart.
 */
enum dossier_need {
	DOSSIER_NEED_PENDING,   /* reserved, or approved and amending */
	DOSSIER_NEED_SETTLED,   /* approved, no amendment pending */
	DOSSIER_NEED_GRANTED,   /* approved or completed: money committed */
	DOSSIER_NEED_COMPLETED, /* completed */
};

static int64_t
contract_available(const struct contract *c)
{
	return (c->budget - c->reserved - c->committed - c->paid);
}

/*
 * The dossier id (checked) names, into d, and what the command's journal
 * entry names: the dossier, its company and contract, also for a refusal
 * that comes before the lookup is acted on. Returns the store's answer.
 */
static int
dossier_find(struct cmd_ctx *ctx, const char *id, struct dossier *d)
{
	int st;

	ctx->jr.dossier = cmd_strdup(ctx, id);
	if ((st = record_get_dossier(ctx->txn, id, d)) == STORE_OK) {
		ctx->jr.company = cmd_strdup(ctx, d->company);
		ctx->jr.contract = cmd_strdup(ctx, d->contract);
	}
	return (st);
}

static enum budget_err
dossier_load(struct cmd_ctx *ctx, const char *id, struct dossier *d)
{
	enum budget_err rc;
	int             st;

	if ((rc = cmd_id_arg(ctx, id, "dossier id")))
		return (rc);
	if ((st = dossier_find(ctx, id, d)) != STORE_OK)
		return (cmd_lookup_fail(ctx, st, "dossier", id));
	return (BUDGET_OK);
}

/* A dossier's contract and company; both must exist (I-3 says so). */
static enum budget_err
dossier_parties(struct cmd_ctx *ctx, const struct dossier *d,
    struct contract *k, struct company *c)
{
	int st;

	if ((st = record_get_contract(ctx->txn, d->contract, k)) != STORE_OK)
		return (cmd_lookup_fail(ctx, st, "contract", d->contract));
	if (c != NULL &&
	    (st = record_get_company(ctx->txn, d->company, c)) != STORE_OK)
		return (cmd_lookup_fail(ctx, st, "company", d->company));
	return (BUDGET_OK);
}

/* Refuse op unless dossier d is in a state it may start from. */
static enum budget_err
dossier_needs(struct cmd_ctx *ctx, const struct dossier *d, const char *op,
    enum dossier_need need)
{
	int         amending = d->state == DS_APPROVED && d->pending > 0;
	int         ok;
	const char *needs;

	switch (need) {
	case DOSSIER_NEED_PENDING:
		ok = d->state == DS_RESERVED || amending;
		needs = "a reservation or a pending amendment";
		break;
	case DOSSIER_NEED_SETTLED:
		ok = d->state == DS_APPROVED && !amending;
		needs = "an approved dossier without a pending amendment";
		break;
	case DOSSIER_NEED_GRANTED:
		ok = d->state == DS_APPROVED || d->state == DS_COMPLETED;
		needs = "an approved or completed dossier";
		break;
	case DOSSIER_NEED_COMPLETED:
		ok = d->state == DS_COMPLETED;
		needs = "a completed dossier";
		break;
	default:
		fatalx("dossier_needs: %d", (int)need);
	}
	if (ok)
		return (BUDGET_OK);
	return (cmd_fail(ctx, BUDGET_ERR_INVALID_STATE,
	    "dossier %s is %s%s: %s needs %s", d->id,
	    ledger_state_name(d->state),
	    amending ? " with an amendment pending" : "", op, needs));
}

static enum budget_err
dossier_ttl(struct cmd_ctx *ctx, int64_t req, int64_t *expires_at)
{
	int64_t ttl = req > 0 ? req : bd->conf.reservation_ttl;

	if (req < 0 || req > DOSSIER_TTL_MAX)
		return (cmd_fail(ctx, BUDGET_ERR_INVALID_ARGUMENT,
		    "ttl must be 1 second to 366 days"));
	*expires_at = ctx->now + ttl * 1000000;
	return (BUDGET_OK);
}

/* Contract budget (R-PB): what is asked for must be available now. */
static enum budget_err
dossier_budget_check(
    struct cmd_ctx *ctx, const struct contract *k, int64_t amount)
{
	char m1[MONEY_BUFSZ], m2[MONEY_BUFSZ];

	if (contract_available(k) < amount)
		return (cmd_fail(ctx, BUDGET_ERR_CONTRACT_BUDGET_EXCEEDED,
		    "contract %s has %s available; %s does not fit", k->id,
		    money_format(contract_available(k), m1, sizeof(m1)),
		    money_format(amount, m2, sizeof(m2))));
	return (BUDGET_OK);
}

static enum budget_err
dossier_rules_on(struct cmd_ctx *ctx, int32_t day, struct ruleset *rs)
{
	char buf[DATE_BUFSZ];
	int  st;

	st = record_ruleset_on(ctx->txn, day, rs);
	if (st == STORE_NOTFOUND)
		return (cmd_fail(ctx, BUDGET_ERR_NO_RULES_IN_FORCE,
		    "no programme rule set is in force on %s",
		    date_format(day, buf, sizeof(buf))));
	if (st != STORE_OK)
		return (cmd_lookup_fail(ctx, st, "rule set", "in force"));
	return (BUDGET_OK);
}

static enum budget_err
dossier_not_absorbed(struct cmd_ctx *ctx, const struct company *c, int32_t day)
{
	char rid[RID_BUFSZ], into[RID_BUFSZ], d1[DATE_BUFSZ];

	if (c->absorbed_into[0] != '\0' && c->absorbed_on <= day)
		return (cmd_fail(ctx, BUDGET_ERR_INVALID_STATE,
		    "company %s was absorbed into %s on %s and takes no new "
		    "trajectory",
		    rid_format(c->number, rid, sizeof(rid)),
		    rid_format(c->absorbed_into, into, sizeof(into)),
		    date_format(c->absorbed_on, d1, sizeof(d1))));
	return (BUDGET_OK);
}

static enum budget_err
dossier_dm(struct cmd_ctx *ctx, const char *company, int32_t day)
{
	char            why[768];
	enum budget_err rc;

	rc = dm_verify(ctx->txn, company, day, DM_PENDING, why, sizeof(why));
	if (rc == BUDGET_ERR_STORAGE_ERROR)
		return (cmd_fail(ctx, rc, "%s", store_strerror(ctx->txn->err)));
	if (rc != BUDGET_OK)
		return (cmd_fail(ctx, rc, "%s", why));
	return (BUDGET_OK);
}

static void
dossier_reply(struct cmd_ctx *ctx, const struct dossier *d)
{
	ctx->resp->result_case = BUDGET__RESPONSE__RESULT_DOSSIER;
	ctx->resp->dossier = cmd_dossier_result(ctx, d);
}

/* Journal e as an entry about dossier d (and its company and contract). */
static void
dossier_journal(struct cmd_ctx *ctx, struct jentry *e, const struct dossier *d)
{
	e->dossier = d->id;
	e->company = d->company;
	e->contract = d->contract;
	cmd_journal(ctx, e);
}

/* The usual end of a dossier command: journal it, answer with the dossier. */
static enum budget_err
dossier_done(struct cmd_ctx *ctx, struct jentry *e, const struct dossier *d)
{
	dossier_journal(ctx, e, d);
	dossier_reply(ctx, d);
	return (BUDGET_OK);
}

static enum budget_err
cmd_dossier_reserve_exec(struct cmd_ctx *ctx)
{
	const Budget__DossierReserve *a = ctx->msg->dossier_reserve;
	struct dossier                d;
	struct contract               k;
	struct company                c;
	struct ruleset                rs;
	struct jentry                 e = {.kind = "dossier_reserve"};
	char                          number[LEDGER_RID_SZ], why[512];
	uint32_t                      bp;
	int64_t                       sub, expires_at = 0;
	int32_t                       day;
	enum budget_err               rc;
	int                           st;

	memset(&d, 0, sizeof(d));
	if ((rc = cmd_id_arg(ctx, a->id, "dossier id")) ||
	    (rc = cmd_rid_arg(ctx, a->company, "company", number)) ||
	    (rc = cmd_id_arg(ctx, a->contract, "contract")) ||
	    (rc = cmd_amount_arg(ctx, a->cost_cents, "cost")) ||
	    (rc = cmd_date_arg(ctx, a->date, "date", &day)) ||
	    (rc = cmd_not_future(ctx, day, "reservation date")) ||
	    (rc = dossier_ttl(ctx, a->ttl_seconds, &expires_at)))
		return (rc);
	if (!ledger_id_ok(a->package, LEDGER_PKG_MAX))
		return (cmd_fail(ctx, BUDGET_ERR_INVALID_ARGUMENT,
		    "package must be a package name such as START"));
	if (a->extension_cost_cents != 0 &&
	    (rc = cmd_amount_arg(
		 ctx, a->extension_cost_cents, "extension cost")))
		return (rc);
	ctx->jr.dossier = a->id;
	ctx->jr.company = cmd_strdup(ctx, number);
	ctx->jr.contract = a->contract;
	ctx->jr.package = a->package;
	ctx->jr.cost = a->cost_cents;
	ctx->jr.extension_cost = a->extension_cost_cents;
	ctx->jr.date = day;

	st = record_get_dossier(ctx->txn, a->id, &d);
	if (st == STORE_OK)
		return (cmd_fail(ctx, BUDGET_ERR_ALREADY_EXISTS,
		    "dossier %s exists already", a->id));
	if (st != STORE_NOTFOUND)
		return (cmd_lookup_fail(ctx, st, "dossier", a->id));
	if ((st = record_get_company(ctx->txn, number, &c)) != STORE_OK)
		return (cmd_lookup_fail(ctx, st, "company", number));
	if ((st = record_get_contract(ctx->txn, a->contract, &k)) != STORE_OK)
		return (cmd_lookup_fail(ctx, st, "contract", a->contract));
	if ((rc = dossier_not_absorbed(ctx, &c, day)) ||
	    (rc = dossier_rules_on(ctx, day, &rs)))
		return (rc);
	if (ledger_package(&rs, a->package) == NULL)
		return (cmd_fail(ctx, BUDGET_ERR_PACKAGE_NOT_ALLOWED,
		    "rule set %s has no package %s", rs.name, a->package));
	if ((rc = ledger_rate(&rs, &c, &bp, why, sizeof(why))) ||
	    (rc = ledger_subsidy(&rs, a->package, a->cost_cents,
		 a->extension_cost_cents, bp, &sub, why, sizeof(why))))
		return (cmd_fail(ctx, rc, "%s", why));
	ctx->jr.amount = sub;
	if (k.closed)
		return (cmd_fail(ctx, BUDGET_ERR_CONTRACT_CLOSED,
		    "contract %s is closed to new reservations", k.id));
	rc = excl_check(
	    ctx->txn, number, day, rs.exclusion_years, NULL, why, sizeof(why));
	if (rc != BUDGET_OK)
		return (cmd_fail(ctx, rc, "%s", why));
	if ((rc = dossier_budget_check(ctx, &k, sub)))
		return (rc);

	snprintf(d.id, sizeof(d.id), "%s", a->id);
	memcpy(d.company, number, sizeof(d.company));
	snprintf(d.contract, sizeof(d.contract), "%s", k.id);
	snprintf(d.package, sizeof(d.package), "%s", a->package);
	d.state = DS_RESERVED;
	d.cost = a->cost_cents;
	d.extension_cost = a->extension_cost_cents;
	d.subsidy = sub;
	d.pending = sub;
	d.expires_at = expires_at;
	memcpy(d.rule_set, rs.name, sizeof(d.rule_set));
	d.rate_bp = bp;
	d.reserved_on = day;
	record_put_dossier(ctx->txn, &d, 1);
	record_expiry_add(ctx->txn, d.expires_at, d.id);
	k.reserved += sub;
	k.ndossiers++;
	record_put_contract(ctx->txn, &k);
	if ((rc = dossier_dm(ctx, number, day)))
		return (rc);

	e.amount = sub;
	e.date = day;
	e.package = d.package;
	e.cost = d.cost;
	e.extension_cost = d.extension_cost;
	e.subsidy = sub;
	e.expires_at = d.expires_at;
	e.rule_set = d.rule_set;
	e.rate_bp = bp;
	return (dossier_done(ctx, &e, &d));
}

static enum budget_err
cmd_dossier_approve_exec(struct cmd_ctx *ctx)
{
	const Budget__DossierApprove *a = ctx->msg->dossier_approve;
	struct dossier                d;
	struct contract               k;
	struct company                c;
	struct ruleset                rs;
	struct grant                  g;
	struct jentry                 e = {.kind = "dossier_approve"};
	char            why[512], d1[DATE_BUFSZ], t1[TIMESTAMP_BUFSZ];
	int32_t         day, last;
	int64_t         amount;
	uint32_t        bp;
	int             initial, st;
	enum budget_err rc;

	/*
	 * Arguments before not_found (README's order of checks); the
	 * dossier is looked up first all the same, so that a refusal names
	 * it.
	 */
	if ((rc = cmd_id_arg(ctx, a->id, "dossier id")))
		return (rc);
	st = dossier_find(ctx, a->id, &d);
	if ((rc = cmd_date_arg(ctx, a->decision_date, "decision date", &day)) ||
	    (rc = cmd_not_future(ctx, day, "decision date")))
		return (rc);
	if (st != STORE_OK)
		return (cmd_lookup_fail(ctx, st, "dossier", a->id));
	ctx->jr.date = day;
	if ((rc = dossier_needs(ctx, &d, "approve", DOSSIER_NEED_PENDING)))
		return (rc);
	initial = d.state == DS_RESERVED;
	ctx->jr.amount = d.pending;
	if (ctx->now >= d.expires_at)
		return (cmd_fail(ctx, BUDGET_ERR_INVALID_STATE,
		    "the reservation of dossier %s expired at %s", d.id,
		    timestamp_format(d.expires_at, t1, sizeof(t1))));
	last = initial ? d.reserved_on : d.first_decision;
	if (!initial && d.ngrants > 0 &&
	    cmd_find_grant(ctx, &d, d.grants[d.ngrants - 1], &g) == 0)
		last = g.date;
	if (day < last)
		return (cmd_fail(ctx, BUDGET_ERR_INVALID_ARGUMENT,
		    "decision date lies before %s, the dossier's %s",
		    date_format(last, d1, sizeof(d1)),
		    initial ? "reservation" : "last decision"));
	if ((rc = dossier_parties(ctx, &d, &k, &c)))
		return (rc);

	if (initial) {
		/*
		 * The rules that depend on the decision date (R-EXCL, R-DM,
		 * and the rule set itself) are checked again on it.
		 */
		if ((rc = dossier_not_absorbed(ctx, &c, day)) ||
		    (rc = dossier_rules_on(ctx, day, &rs)))
			return (rc);
		if (strcmp(rs.name, d.rule_set) != 0)
			return (cmd_fail(ctx, BUDGET_ERR_INVALID_STATE,
			    "dossier %s was reserved under rule set %s, but %s "
			    "is in force on %s: cancel and reserve again",
			    d.id, d.rule_set, rs.name,
			    date_format(day, d1, sizeof(d1))));
		if ((rc = ledger_rate(&rs, &c, &bp, why, sizeof(why))))
			return (cmd_fail(ctx, rc, "%s", why));
		if (bp != d.rate_bp)
			return (cmd_fail(ctx, BUDGET_ERR_INVALID_STATE,
			    "company %s now qualifies for %u.%02u%%, not the "
			    "%u.%02u%% dossier %s was reserved at: cancel and "
			    "reserve again",
			    d.company, bp / 100, bp % 100, d.rate_bp / 100,
			    d.rate_bp % 100, d.id));
		rc = excl_check(ctx->txn, d.company, day, rs.exclusion_years,
		    d.id, why, sizeof(why));
		if (rc != BUDGET_OK)
			return (cmd_fail(ctx, rc, "%s", why));
	}

	amount = d.pending;
	memset(&g, 0, sizeof(g));
	g.id = record_next_grant_id(ctx->txn);
	memcpy(g.company, d.company, sizeof(g.company));
	g.date = day;
	g.amount = g.effective = amount;
	snprintf(g.source, sizeof(g.source), "ledger");
	snprintf(g.dossier, sizeof(g.dossier), "%s", d.id);
	if (initial)
		g.kind = GRANT_INITIAL;
	else if (strcmp(d.pending_package, d.package) != 0)
		g.kind = GRANT_UPGRADE;
	else
		g.kind = GRANT_EXTENSION;
	snprintf(g.package, sizeof(g.package), "%s",
	    initial ? d.package : d.pending_package);
	snprintf(g.contract, sizeof(g.contract), "%s", d.contract);
	if (d.ngrants == LEDGER_GRANTS_MAX)
		return (cmd_fail(ctx, BUDGET_ERR_INVALID_STATE,
		    "dossier %s has %d grant events, the most one dossier "
		    "can hold",
		    d.id, LEDGER_GRANTS_MAX));
	record_put_grant(ctx->txn, &g);

	record_expiry_del(ctx->txn, d.expires_at, d.id);
	if (initial) {
		d.state = DS_APPROVED;
		d.first_decision = day;
	} else {
		memcpy(d.package, d.pending_package, sizeof(d.package));
		d.cost = d.pending_cost;
		d.extension_cost = d.pending_extension_cost;
		d.subsidy = d.pending_subsidy;
		d.pending_package[0] = '\0';
		d.pending_cost = d.pending_extension_cost = 0;
		d.pending_subsidy = 0;
	}
	d.granted += amount;
	d.pending = 0;
	d.expires_at = 0;
	d.grants[d.ngrants++] = g.id;
	record_put_dossier(ctx->txn, &d, 0);
	k.reserved -= amount;
	k.committed += amount;
	record_put_contract(ctx->txn, &k);
	if ((rc = dossier_dm(ctx, d.company, day)))
		return (rc);

	e.amount = amount;
	e.date = day;
	e.grant_id = g.id;
	e.package = d.package;
	e.subsidy = d.subsidy;
	e.reason = ledger_grant_kind_name(g.kind);
	return (dossier_done(ctx, &e, &d));
}

static enum budget_err
cmd_dossier_amend_exec(struct cmd_ctx *ctx)
{
	const Budget__DossierAmend *a = ctx->msg->dossier_amend;
	struct dossier              d;
	struct contract             k;
	struct ruleset              rs;
	const struct rule_package  *oldp, *newp;
	struct jentry               e = {.kind = "dossier_amend"};
	const char                 *pkg;
	char                        why[512], m1[MONEY_BUFSZ];
	int64_t                     cost, ext, sub, inc, expires_at = 0;
	enum budget_err             rc;
	int                         st;

	/* As approve: the arguments first, the dossier named all the same. */
	if ((rc = cmd_id_arg(ctx, a->id, "dossier id")))
		return (rc);
	st = dossier_find(ctx, a->id, &d);
	if ((rc = dossier_ttl(ctx, a->ttl_seconds, &expires_at)))
		return (rc);
	if (*a->package == '\0' && a->cost == NULL && a->extension_cost == NULL)
		return (cmd_fail(ctx, BUDGET_ERR_INVALID_ARGUMENT,
		    "an amendment states a new package, cost or total "
		    "extension cost"));
	if (*a->package != '\0' && !ledger_id_ok(a->package, LEDGER_PKG_MAX))
		return (cmd_fail(ctx, BUDGET_ERR_INVALID_ARGUMENT,
		    "package must be a package name such as PLUS"));
	if (a->cost != NULL &&
	    (rc = cmd_amount_arg(ctx, a->cost->cents, "cost")))
		return (rc);
	if (a->extension_cost != NULL && a->extension_cost->cents != 0 &&
	    (rc = cmd_amount_arg(
		 ctx, a->extension_cost->cents, "extension cost")))
		return (rc);
	if (st != STORE_OK)
		return (cmd_lookup_fail(ctx, st, "dossier", a->id));
	if ((rc = dossier_needs(ctx, &d, "amend", DOSSIER_NEED_SETTLED)) ||
	    (rc = dossier_parties(ctx, &d, &k, NULL)))
		return (rc);
	/* The rule set of the first approval governs the whole dossier. */
	if ((st = record_get_ruleset(ctx->txn, d.rule_set, &rs)) != STORE_OK)
		return (cmd_lookup_fail(ctx, st, "rule set", d.rule_set));

	pkg = *a->package != '\0' ? a->package : d.package;
	cost = a->cost != NULL ? a->cost->cents : d.cost;
	ext = a->extension_cost != NULL ? a->extension_cost->cents
					: d.extension_cost;
	ctx->jr.package = cmd_strdup(ctx, pkg);
	ctx->jr.cost = cost;
	ctx->jr.extension_cost = ext;
	if (strcmp(pkg, d.package) != 0) {
		oldp = ledger_package(&rs, d.package);
		if ((newp = ledger_package(&rs, pkg)) == NULL)
			return (cmd_fail(ctx, BUDGET_ERR_PACKAGE_NOT_ALLOWED,
			    "rule set %s has no package %s", rs.name, pkg));
		if (oldp != NULL && newp->rank <= oldp->rank)
			return (cmd_fail(ctx, BUDGET_ERR_PACKAGE_NOT_ALLOWED,
			    "an upgrade goes to a bigger package: %s is not "
			    "above %s",
			    pkg, d.package));
		if (a->cost == NULL)
			return (cmd_fail(ctx, BUDGET_ERR_INVALID_ARGUMENT,
			    "an upgrade to %s needs its base cost", pkg));
	} else if (cost != d.cost)
		/* An amendment is an upgrade or an extension, not a new quote. */
		return (cmd_fail(ctx, BUDGET_ERR_INVALID_ARGUMENT,
		    "the base cost changes only with an upgrade: %s stays "
		    "at %s",
		    d.package, money_format(d.cost, m1, sizeof(m1))));
	if (ext < d.extension_cost)
		return (cmd_fail(ctx, BUDGET_ERR_INVALID_ARGUMENT,
		    "extension cost is the new total and cannot drop below %s",
		    money_format(d.extension_cost, m1, sizeof(m1))));
	if ((rc = ledger_subsidy(
		 &rs, pkg, cost, ext, d.rate_bp, &sub, why, sizeof(why))))
		return (cmd_fail(ctx, rc, "%s", why));
	inc = sub - d.subsidy;
	ctx->jr.amount = inc;
	if (inc <= 0)
		return (cmd_fail(ctx, BUDGET_ERR_INVALID_ARGUMENT,
		    "the amendment does not raise the subsidy (%s now, %s "
		    "after)",
		    money_format(d.subsidy, why, sizeof(why)),
		    money_format(sub, m1, sizeof(m1))));
	if ((rc = dossier_budget_check(ctx, &k, inc)))
		return (rc);

	snprintf(d.pending_package, sizeof(d.pending_package), "%s", pkg);
	d.pending_cost = cost;
	d.pending_extension_cost = ext;
	d.pending_subsidy = sub;
	d.pending = inc;
	d.expires_at = expires_at;
	record_put_dossier(ctx->txn, &d, 0);
	record_expiry_add(ctx->txn, d.expires_at, d.id);
	k.reserved += inc;
	record_put_contract(ctx->txn, &k);
	if ((rc = dossier_dm(ctx, d.company, date_today(ctx->now))))
		return (rc);

	e.amount = inc;
	e.package = d.pending_package;
	e.cost = cost;
	e.extension_cost = ext;
	e.subsidy = sub;
	e.expires_at = d.expires_at;
	return (dossier_done(ctx, &e, &d));
}

/*
 * Release a dossier's pending reservation (cancel or expiry): a reserved
 * dossier ends in state final; an amendment is dropped and the dossier
 * stays approved. Returns the amount released.
 */
static int64_t
dossier_release(struct cmd_ctx *ctx, struct dossier *d, struct contract *k,
    enum dossier_state final)
{
	int64_t amount = d->pending;

	record_expiry_del(ctx->txn, d->expires_at, d->id);
	if (d->state == DS_RESERVED)
		d->state = final;
	else {
		d->pending_package[0] = '\0';
		d->pending_cost = d->pending_extension_cost = 0;
		d->pending_subsidy = 0;
	}
	d->pending = 0;
	d->expires_at = 0;
	record_put_dossier(ctx->txn, d, 0);
	k->reserved -= amount;
	record_put_contract(ctx->txn, k);
	return (amount);
}

static enum budget_err
cmd_dossier_cancel_exec(struct cmd_ctx *ctx)
{
	const Budget__DossierCancel *a = ctx->msg->dossier_cancel;
	struct dossier               d;
	struct contract              k;
	struct jentry                e = {.kind = "dossier_cancel"};
	enum budget_err              rc;

	if ((rc = dossier_load(ctx, a->id, &d)) ||
	    (rc = cmd_text_arg(ctx, a->reason, "reason")) ||
	    (rc = dossier_needs(ctx, &d, "cancel", DOSSIER_NEED_PENDING)) ||
	    (rc = dossier_parties(ctx, &d, &k, NULL)))
		return (rc);
	e.amount = dossier_release(ctx, &d, &k, DS_CANCELLED);
	e.reason = a->reason;
	return (dossier_done(ctx, &e, &d));
}

/* How many expired reservations one internal request releases. */
#define EXPIRE_PER_RUN 256

/*
 * The daemon's own request: release every reservation whose time has come
 * (up to EXPIRE_PER_RUN; the timer comes back for the rest).
 */
static enum budget_err
cmd_dossier_expire_exec(struct cmd_ctx *ctx)
{
	struct dossier  d;
	struct contract k;
	char            id[LEDGER_ID_MAX + 1];
	int64_t         at;
	int             n, st;

	for (n = 0; n < EXPIRE_PER_RUN; n++) {
		struct jentry e = {.kind = "dossier_expire"};

		st = record_expiry_first(ctx->txn, &at, id);
		if (st != STORE_OK || at > ctx->now)
			break;
		if (record_get_dossier(ctx->txn, id, &d) != STORE_OK ||
		    d.expires_at != at || d.pending == 0 ||
		    record_get_contract(ctx->txn, d.contract, &k) != STORE_OK) {
			/* An index entry without its reservation: a bug. */
			log_warnx(
			    "expire: stale expiry entry for dossier %s", id);
			if (ctx->txn->err == 0)
				record_expiry_del(ctx->txn, at, id);
			continue;
		}
		e.amount = dossier_release(ctx, &d, &k, DS_EXPIRED);
		e.expires_at = at;
		dossier_journal(ctx, &e, &d);
		log_info(
		    "expire: dossier %s: reservation of %lld cents released",
		    d.id, (long long)e.amount);
	}
	return (ctx->txn->err != 0 ? BUDGET_ERR_STORAGE_ERROR : BUDGET_OK);
}

static enum budget_err
cmd_dossier_pay_exec(struct cmd_ctx *ctx)
{
	const Budget__DossierPay *a = ctx->msg->dossier_pay;
	struct dossier            d;
	struct contract           k;
	struct jentry             e = {.kind = "dossier_pay"};
	char                      m1[MONEY_BUFSZ], m2[MONEY_BUFSZ];
	enum budget_err           rc;

	if ((rc = dossier_load(ctx, a->id, &d)) ||
	    (rc = cmd_amount_arg(ctx, a->amount_cents, "amount")))
		return (rc);
	ctx->jr.amount = a->amount_cents;
	if ((rc = dossier_needs(ctx, &d, "pay", DOSSIER_NEED_GRANTED)))
		return (rc);
	if (a->amount_cents > d.granted - d.paid)
		return (cmd_fail(ctx, BUDGET_ERR_AMOUNT_EXCEEDS_COMMITMENT,
		    "dossier %s has %s committed and unpaid; %s is more", d.id,
		    money_format(d.granted - d.paid, m1, sizeof(m1)),
		    money_format(a->amount_cents, m2, sizeof(m2))));
	if ((rc = dossier_parties(ctx, &d, &k, NULL)))
		return (rc);
	d.paid += a->amount_cents;
	record_put_dossier(ctx->txn, &d, 0);
	k.committed -= a->amount_cents;
	k.paid += a->amount_cents;
	record_put_contract(ctx->txn, &k);
	e.amount = a->amount_cents;
	return (dossier_done(ctx, &e, &d));
}

static enum budget_err
cmd_dossier_complete_exec(struct cmd_ctx *ctx)
{
	const Budget__DossierComplete *a = ctx->msg->dossier_complete;
	struct dossier                 d;
	struct jentry                  e = {.kind = "dossier_complete"};
	enum budget_err                rc;

	if ((rc = dossier_load(ctx, a->id, &d)) ||
	    (rc = dossier_needs(ctx, &d, "complete", DOSSIER_NEED_SETTLED)))
		return (rc);
	d.state = DS_COMPLETED;
	record_put_dossier(ctx->txn, &d, 0);
	return (dossier_done(ctx, &e, &d));
}

/*
 * Settle a dossier: the unpaid part of what was granted goes back to the
 * contract, and the de-minimis grants are cut by the same amount, newest
 * grant first (payments pay for the oldest work first), so that the
 * grants add up to what was paid. The cuts go into e.
 */
static void
dossier_settle(struct cmd_ctx *ctx, struct dossier *d, struct contract *k,
    struct jentry *e)
{
	int64_t      unpaid = d->granted - d->paid, left = unpaid, cut;
	uint64_t    *ids = cmd_alloc(ctx, LEDGER_GRANTS_MAX * sizeof(*ids));
	int64_t     *cuts = cmd_alloc(ctx, LEDGER_GRANTS_MAX * sizeof(*cuts));
	struct grant g;
	size_t       i, n = 0;

	for (i = d->ngrants; i > 0 && left > 0; i--) {
		if (cmd_find_grant(ctx, d, d->grants[i - 1], &g) == -1) {
			ctx->txn->err = STORE_CORRUPT;
			return;
		}
		cut = g.effective < left ? g.effective : left;
		if (cut == 0)
			continue;
		g.effective -= cut;
		left -= cut;
		record_put_grant(ctx->txn, &g);
		ids[n] = g.id;
		cuts[n++] = cut;
	}
	d->granted -= unpaid;
	d->released += unpaid;
	k->committed -= unpaid;
	e->amount = unpaid;
	e->grant_ids = ids;
	e->grant_amounts = cuts;
	e->ngrant_changes = n;
}

static enum budget_err
cmd_dossier_close_exec(struct cmd_ctx *ctx)
{
	const Budget__DossierClose *a = ctx->msg->dossier_close;
	struct dossier              d;
	struct contract             k;
	struct jentry               e = {.kind = "dossier_close"};
	enum budget_err             rc;

	if ((rc = dossier_load(ctx, a->id, &d)) ||
	    (rc = dossier_needs(ctx, &d, "close", DOSSIER_NEED_COMPLETED)) ||
	    (rc = dossier_parties(ctx, &d, &k, NULL)))
		return (rc);
	dossier_settle(ctx, &d, &k, &e);
	d.state = DS_CLOSED;
	record_put_dossier(ctx->txn, &d, 0);
	record_put_contract(ctx->txn, &k);
	return (dossier_done(ctx, &e, &d));
}

static enum budget_err
cmd_dossier_withdraw_exec(struct cmd_ctx *ctx)
{
	const Budget__DossierWithdraw *a = ctx->msg->dossier_withdraw;
	struct dossier                 d;
	struct contract                k;
	struct jentry                  e = {.kind = "dossier_withdraw"};
	enum budget_err                rc;

	if ((rc = dossier_load(ctx, a->id, &d)) ||
	    (rc = cmd_text_arg(ctx, a->reason, "reason")) ||
	    (rc = dossier_needs(ctx, &d, "withdraw", DOSSIER_NEED_GRANTED)) ||
	    (rc = dossier_parties(ctx, &d, &k, NULL)))
		return (rc);
	/* A pending amendment goes with it. */
	if (d.pending > 0)
		e.pending = dossier_release(ctx, &d, &k, DS_APPROVED);
	dossier_settle(ctx, &d, &k, &e);
	d.state = DS_WITHDRAWN;
	record_put_dossier(ctx->txn, &d, 0);
	record_put_contract(ctx->txn, &k);
	e.reason = a->reason;
	return (dossier_done(ctx, &e, &d));
}

static enum budget_err
cmd_dossier_show_exec(struct cmd_ctx *ctx)
{
	struct dossier  d;
	enum budget_err rc;

	if ((rc = dossier_load(ctx, ctx->msg->dossier_show->id, &d)))
		return (rc);
	dossier_reply(ctx, &d);
	return (BUDGET_OK);
}

const struct cmd_entry cmd_dossier_reserve_entry = {
    .name = "dossier_reserve",
    .roles = CMD_ROLES_DOSSIER,
    .exec = cmd_dossier_reserve_exec,
};
const struct cmd_entry cmd_dossier_approve_entry = {
    .name = "dossier_approve",
    .roles = CMD_ROLES_DOSSIER,
    .exec = cmd_dossier_approve_exec,
};
const struct cmd_entry cmd_dossier_amend_entry = {
    .name = "dossier_amend",
    .roles = CMD_ROLES_DOSSIER,
    .exec = cmd_dossier_amend_exec,
};
const struct cmd_entry cmd_dossier_cancel_entry = {
    .name = "dossier_cancel",
    .roles = CMD_ROLES_DOSSIER,
    .exec = cmd_dossier_cancel_exec,
};
const struct cmd_entry cmd_dossier_expire_entry = {
    .name = "dossier_expire",
    .flags = CMD_INTERNAL,
    .roles = CMD_ROLE(ROLE_ADMIN),
    .exec = cmd_dossier_expire_exec,
};
const struct cmd_entry cmd_dossier_pay_entry = {
    .name = "dossier_pay",
    .roles = CMD_ROLES_DOSSIER,
    .exec = cmd_dossier_pay_exec,
};
const struct cmd_entry cmd_dossier_complete_entry = {
    .name = "dossier_complete",
    .roles = CMD_ROLES_DOSSIER,
    .exec = cmd_dossier_complete_exec,
};
const struct cmd_entry cmd_dossier_close_entry = {
    .name = "dossier_close",
    .roles = CMD_ROLES_DOSSIER,
    .exec = cmd_dossier_close_exec,
};
const struct cmd_entry cmd_dossier_withdraw_entry = {
    .name = "dossier_withdraw",
    .roles = CMD_ROLES_DOSSIER,
    .exec = cmd_dossier_withdraw_exec,
};
const struct cmd_entry cmd_dossier_show_entry = {
    .name = "dossier_show",
    .flags = CMD_READONLY,
    .roles = CMD_ROLES_READ,
    .exec = cmd_dossier_show_exec,
};
