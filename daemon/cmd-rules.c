/*
 * cmd-rules.c: loading and showing the programme rules. A loaded rule set
 * or regime never changes: decisions already taken under it must stay
 * explainable. Loading the same file again adds nothing; a different set
 * under a name already loaded is refused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budget/date.h"
#include "cmd.h"

/* A rules file is a page of text, not a data dump. */
#define RULES_TEXT_MAX (64 * 1024)

static Budget__RuleSet *
cmd_ruleset_result(struct cmd_ctx *ctx, const struct ruleset *rs)
{
	Budget__RuleSet *r = cmd_alloc(ctx, sizeof(*r));
	char             buf[DATE_BUFSZ];
	size_t           i;

	budget__rule_set__init(r);
	r->name = cmd_strdup(ctx, rs->name);
	r->from = cmd_strdup(ctx, date_format(rs->from, buf, sizeof(buf)));
	r->rate_sme_bp = rs->rate_sme_bp;
	r->rate_maatwerk_bp = rs->rate_maatwerk_bp;
	r->rate_large_nis2_bp = rs->rate_large_nis2_bp;
	r->max_total_cost_cents = rs->max_total_cost;
	r->max_subsidy_cents = rs->max_subsidy;
	r->exclusion_years = rs->exclusion_years;
	r->packages = cmd_alloc(ctx, rs->npkgs * sizeof(*r->packages));
	for (i = 0; i < rs->npkgs; i++) {
		Budget__Package *p = cmd_alloc(ctx, sizeof(*p));

		budget__package__init(p);
		p->name = cmd_strdup(ctx, rs->pkgs[i].name);
		p->min_cost_cents = rs->pkgs[i].min_cost;
		p->max_cost_cents = rs->pkgs[i].max_cost;
		p->rank = rs->pkgs[i].rank;
		p->extensions = rs->pkgs[i].extensions;
		r->packages[i] = p;
	}
	r->n_packages = rs->npkgs;
	return (r);
}

static Budget__DeminimisRegime *
cmd_regime_result(struct cmd_ctx *ctx, const struct dm_regime *rg)
{
	Budget__DeminimisRegime *r = cmd_alloc(ctx, sizeof(*r));
	char                     buf[DATE_BUFSZ];

	budget__deminimis_regime__init(r);
	r->name = cmd_strdup(ctx, rg->name);
	r->from = cmd_strdup(ctx, date_format(rg->from, buf, sizeof(buf)));
	r->ceiling_cents = rg->ceiling;
	r->window = PB_STR(rg->fiscal ? "fiscal" : "rolling");
	r->years = rg->years;
	return (r);
}

static Budget__RuleBook *
cmd_rulebook_new(struct cmd_ctx *ctx, size_t nsets, size_t nregimes)
{
	Budget__RuleBook *r = cmd_alloc(ctx, sizeof(*r));

	budget__rule_book__init(r);
	r->sets = cmd_alloc(ctx, (nsets + 1) * sizeof(*r->sets));
	r->regimes = cmd_alloc(ctx, (nregimes + 1) * sizeof(*r->regimes));
	ctx->resp->result_case = BUDGET__RESPONSE__RESULT_RULES;
	ctx->resp->rules = r;
	return (r);
}

/*
 * What cmd_rules_conflict_cb looks for and finds. The clash is a copy: the
 * rule set or regime it names lives in record_each_rule's frame, gone by
 * the time the refusal is formatted.
 */
struct rules_conflict {
	int32_t     from;                     /* the new one's first day */
	const char *name;                     /* the new one's name */
	char        kind;                     /* 'S' rule set, 'R' regime */
	char        clash[LEDGER_ID_MAX + 1]; /* a loaded one that clashes */
};

static int
cmd_rules_conflict_cb(const void *p, void *arg)
{
	struct rules_conflict *c = arg;
	const char *name = c->kind == 'S' ? ((const struct ruleset *)p)->name
					  : ((const struct dm_regime *)p)->name;
	int32_t     from = c->kind == 'S' ? ((const struct ruleset *)p)->from
					  : ((const struct dm_regime *)p)->from;

	if (from == c->from && strcmp(name, c->name) != 0) {
		snprintf(c->clash, sizeof(c->clash), "%s", name);
		return (1);
	}
	return (0);
}

static enum budget_err
cmd_rules_load_exec(struct cmd_ctx *ctx)
{
	const Budget__RulesLoad *a = ctx->msg->rules_load;
	struct rulebook          rb;
	struct ruleset           old;
	struct dm_regime         oldr;
	struct jentry            e = {.kind = "rules_load"};
	struct rules_conflict    cf;
	Budget__RuleBook        *res;
	uint8_t                  digest[32];
	char                    *cause = NULL;
	size_t                   i;
	enum budget_err          rc = BUDGET_OK;
	int                      st, added = 0;

	record_rules_changed();
	if (!ledger_utf8_ok(a->text, RULES_TEXT_MAX, 1))
		return (cmd_fail(ctx, BUDGET_ERR_INVALID_ARGUMENT,
		    "a rules file is 1 byte to %d KiB of UTF-8 text",
		    RULES_TEXT_MAX / 1024));
	if (*a->source != '\0' && (rc = cmd_text_arg(ctx, a->source, "source")))
		return (rc);
	if (rules_parse(a->text, &rb, &cause) == -1) {
		rc = cmd_fail(ctx, BUDGET_ERR_INVALID_ARGUMENT,
		    "rules file%s%s: %s", *a->source ? " " : "", a->source,
		    cause);
		free(cause);
		return (rc);
	}
	{
		const void *part = a->text;
		size_t      len = strlen(a->text);

		budget_sha256(&part, &len, 1, digest);
	}

	res = cmd_rulebook_new(ctx, rb.nsets, rb.nregimes);
	res->digest = cmd_hex(ctx, digest, sizeof(digest));
	for (i = 0; i < rb.nsets && rc == BUDGET_OK; i++) {
		const struct ruleset *rs = &rb.sets[i];

		res->sets[res->n_sets++] = cmd_ruleset_result(ctx, rs);
		st = record_get_ruleset(ctx->txn, rs->name, &old);
		if (st == STORE_OK) {
			if (!rules_same_set(&old, rs))
				rc = cmd_fail(ctx, BUDGET_ERR_ALREADY_EXISTS,
				    "rule set %s is loaded already with other "
				    "content; a loaded rule set never changes: "
				    "give the new one its own name and date",
				    rs->name);
			continue;
		}
		if (st != STORE_NOTFOUND) {
			rc = cmd_lookup_fail(ctx, st, "rule set", rs->name);
			break;
		}
		cf = (struct rules_conflict){rs->from, rs->name, 'S', ""};
		record_each_rule(ctx->txn, 'S', cmd_rules_conflict_cb, &cf);
		if (cf.clash[0] != '\0') {
			rc = cmd_fail(ctx, BUDGET_ERR_ALREADY_EXISTS,
			    "rule set %s starts on the same day as the loaded "
			    "rule set %s",
			    rs->name, cf.clash);
			break;
		}
		record_put_ruleset(ctx->txn, rs);
		added++;
	}
	for (i = 0; i < rb.nregimes && rc == BUDGET_OK; i++) {
		const struct dm_regime *rg = &rb.regimes[i];

		res->regimes[res->n_regimes++] = cmd_regime_result(ctx, rg);
		st = record_get_regime(ctx->txn, rg->name, &oldr);
		if (st == STORE_OK) {
			if (!rules_same_regime(&oldr, rg))
				rc = cmd_fail(ctx, BUDGET_ERR_ALREADY_EXISTS,
				    "de-minimis regime %s is loaded already "
				    "with other content",
				    rg->name);
			continue;
		}
		if (st != STORE_NOTFOUND) {
			rc = cmd_lookup_fail(ctx, st, "regime", rg->name);
			break;
		}
		cf = (struct rules_conflict){rg->from, rg->name, 'R', ""};
		record_each_rule(ctx->txn, 'R', cmd_rules_conflict_cb, &cf);
		if (cf.clash[0] != '\0') {
			rc = cmd_fail(ctx, BUDGET_ERR_ALREADY_EXISTS,
			    "regime %s starts on the same day as the loaded "
			    "regime %s",
			    rg->name, cf.clash);
			break;
		}
		{
			/* This command's entry is the next one: it loads rg. */
			struct dm_regime put = *rg;
			uint8_t          head[32];

			journal_head(ctx->txn, &put.loaded_seq, head);
			put.loaded_seq++;
			record_put_regime(ctx->txn, &put);
		}
		added++;
	}
	rules_free(&rb);
	if (rc != BUDGET_OK)
		return (rc);
	res->added = (uint32_t)added;
	if (added > 0) {
		e.reason = a->source;
		e.text = a->text;
		e.amount = added;
		cmd_journal(ctx, &e);
	}
	return (BUDGET_OK);
}

struct rules_all {
	struct cmd_ctx   *ctx;
	Budget__RuleBook *res;
	size_t            capsets, capregimes;
};

static int
cmd_rules_all_cb(const void *p, void *arg)
{
	struct rules_all *ra = arg;
	Budget__RuleBook *r = ra->res;

	if (r->n_sets == ra->capsets) {
		Budget__RuleSet **g;

		ra->capsets = ra->capsets * 2 + 8;
		g = cmd_alloc(ra->ctx, ra->capsets * sizeof(*g));
		if (r->n_sets > 0)
			memcpy(g, r->sets, r->n_sets * sizeof(*g));
		r->sets = g;
	}
	r->sets[r->n_sets++] = cmd_ruleset_result(ra->ctx, p);
	return (0);
}

static int
cmd_regimes_all_cb(const void *p, void *arg)
{
	struct rules_all *ra = arg;
	Budget__RuleBook *r = ra->res;

	if (r->n_regimes == ra->capregimes) {
		Budget__DeminimisRegime **g;

		ra->capregimes = ra->capregimes * 2 + 8;
		g = cmd_alloc(ra->ctx, ra->capregimes * sizeof(*g));
		if (r->n_regimes > 0)
			memcpy(g, r->regimes, r->n_regimes * sizeof(*g));
		r->regimes = g;
	}
	r->regimes[r->n_regimes++] = cmd_regime_result(ra->ctx, p);
	return (0);
}

static enum budget_err
cmd_rules_show_exec(struct cmd_ctx *ctx)
{
	const Budget__RulesShow *a = ctx->msg->rules_show;
	Budget__RuleBook        *res;
	struct ruleset           rs;
	struct dm_regime         rg;
	struct rules_all         ra;
	int32_t                  day;
	char                     buf[DATE_BUFSZ];
	enum budget_err          rc;
	int                      st;

	if ((rc = cmd_date_arg(ctx, a->on, "on", &day)))
		return (rc);
	if (a->all) {
		res = cmd_rulebook_new(ctx, 0, 0);
		ra = (struct rules_all){ctx, res, 0, 0};
		record_each_rule(ctx->txn, 'S', cmd_rules_all_cb, &ra);
		record_each_rule(ctx->txn, 'R', cmd_regimes_all_cb, &ra);
		return (ctx->txn->err ? cmd_fail(ctx, BUDGET_ERR_STORAGE_ERROR,
					    "%s", store_strerror(ctx->txn->err))
				      : BUDGET_OK);
	}
	if ((st = record_ruleset_on(ctx->txn, day, &rs)) == STORE_NOTFOUND)
		return (cmd_fail(ctx, BUDGET_ERR_NO_RULES_IN_FORCE,
		    "no programme rule set is in force on %s",
		    date_format(day, buf, sizeof(buf))));
	if (st != STORE_OK)
		return (cmd_lookup_fail(ctx, st, "rule set", "in force"));
	res = cmd_rulebook_new(ctx, 1, 1);
	res->sets[res->n_sets++] = cmd_ruleset_result(ctx, &rs);
	if (record_regime_on(ctx->txn, day, &rg) == STORE_OK)
		res->regimes[res->n_regimes++] = cmd_regime_result(ctx, &rg);
	return (BUDGET_OK);
}

const struct cmd_entry cmd_rules_load_entry = {
    .name = "rules_load",
    .roles = CMD_ROLES_CONTROL,
    .exec = cmd_rules_load_exec,
};
const struct cmd_entry cmd_rules_show_entry = {
    .name = "rules_show",
    .flags = CMD_READONLY,
    .roles = CMD_ROLES_READ,
    .exec = cmd_rules_show_exec,
};
