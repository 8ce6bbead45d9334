/*
 * ctl-json.c: the --json shapes of budgetctl (SPEC §7), one function per
 * result the daemon sends, so that every command printing a contract, a
 * company, a de-minimis position or a dossier prints the same object.
 * Scripts depend on these names: add fields freely, never rename one.
 * Money is integer cents in fields ending in _cents; a string the wire
 * cannot mark absent (proto3) is null here when empty and optional.
 */
#include "budgetctl.h"

static json_t *ctl_json_strings(char **, size_t);

/* The wire's CompanySize as the word typed on the command line. */
const char *
ctl_size_name(Budget__CompanySize size)
{
	switch (size) {
	case BUDGET__COMPANY_SIZE__MICRO:
		return ("micro");
	case BUDGET__COMPANY_SIZE__SMALL:
		return ("small");
	case BUDGET__COMPANY_SIZE__MEDIUM:
		return ("medium");
	case BUDGET__COMPANY_SIZE__LARGE:
		return ("large");
	default:
		return ("unspecified");
	}
}

static json_t *
ctl_json_strings(char **v, size_t n)
{
	json_t *a = json_array();
	size_t  i;

	for (i = 0; a != NULL && i < n; i++)
		json_array_append_new(a, out_str(v[i]));
	return (a);
}

/*
 * {"id","provider","framework","budget_cents","reserved_cents",
 * "committed_cents","paid_cents","available_cents","closed","dossiers"}
 */
json_t *
ctl_json_contract(const Budget__Contract *c)
{
	json_t *o = json_object();

	json_object_set_new(o, "id", out_str(c->id));
	json_object_set_new(o, "provider", out_str(c->provider));
	json_object_set_new(o, "framework", out_str(c->framework));
	json_object_set_new(o, "budget_cents", out_money(c->budget_cents));
	json_object_set_new(o, "reserved_cents", out_money(c->reserved_cents));
	json_object_set_new(
	    o, "committed_cents", out_money(c->committed_cents));
	json_object_set_new(o, "paid_cents", out_money(c->paid_cents));
	json_object_set_new(
	    o, "available_cents", out_money(c->available_cents));
	json_object_set_new(o, "closed", json_boolean(c->closed));
	json_object_set_new(o, "dossiers", json_integer(c->dossiers));
	return (o);
}

/*
 * {"number","name","postcode","province","size","maatwerk","nis2",
 * "undertaking":[numbers],"flemish_establishment","on","absorbed_into",
 * "absorbed_on"}
 */
json_t *
ctl_json_company(const Budget__Company *c)
{
	json_t *o = json_object();

	json_object_set_new(o, "number", out_str(c->number));
	json_object_set_new(o, "name", out_str(c->name));
	json_object_set_new(o, "postcode", out_str(c->postcode));
	json_object_set_new(o, "province", out_opt_str(c->province));
	json_object_set_new(o, "size", json_string(ctl_size_name(c->size)));
	json_object_set_new(o, "maatwerk", json_boolean(c->maatwerk));
	json_object_set_new(o, "nis2", json_boolean(c->nis2));
	json_object_set_new(o, "undertaking",
	    ctl_json_strings(c->undertaking, c->n_undertaking));
	json_object_set_new(
	    o, "flemish_establishment", json_boolean(c->flemish_establishment));
	json_object_set_new(o, "on", out_opt_str(c->on));
	json_object_set_new(o, "absorbed_into", out_opt_str(c->absorbed_into));
	json_object_set_new(o, "absorbed_on", out_opt_str(c->absorbed_on));
	return (o);
}

/*
 * {"number","on","ceiling_cents","used_cents","pending_cents",
 * "available_cents","window_start","window_end","regime","undertaking",
 * "grants":[{"company","date","amount_cents","source","dossier"}]}
 */
json_t *
ctl_json_deminimis(const Budget__DeminimisPosition *p)
{
	json_t *o = json_object(), *grants = json_array(), *g;
	size_t  i;

	json_object_set_new(o, "number", out_str(p->number));
	json_object_set_new(o, "on", out_str(p->on));
	json_object_set_new(o, "ceiling_cents", out_money(p->ceiling_cents));
	json_object_set_new(o, "used_cents", out_money(p->used_cents));
	json_object_set_new(o, "pending_cents", out_money(p->pending_cents));
	json_object_set_new(
	    o, "available_cents", out_money(p->available_cents));
	json_object_set_new(o, "window_start", out_str(p->window_start));
	json_object_set_new(o, "window_end", out_str(p->window_end));
	json_object_set_new(o, "regime", out_opt_str(p->regime));
	json_object_set_new(o, "undertaking",
	    ctl_json_strings(p->undertaking, p->n_undertaking));
	for (i = 0; grants != NULL && i < p->n_grants; i++) {
		const Budget__DeminimisGrant *dg = p->grants[i];

		g = json_object();
		json_object_set_new(g, "company", out_str(dg->company));
		json_object_set_new(g, "date", out_str(dg->date));
		json_object_set_new(
		    g, "amount_cents", out_money(dg->amount_cents));
		json_object_set_new(g, "source", out_str(dg->source));
		json_object_set_new(g, "dossier", out_opt_str(dg->dossier));
		json_array_append_new(grants, g);
	}
	json_object_set_new(o, "grants", grants);
	return (o);
}

/*
 * {"id","company","contract","package","state","cost_cents",
 * "extension_cost_cents","subsidy_cents","paid_cents","expires_at",
 * "granted_cents","pending_cents","rule_set","rate_bp","reserved_on",
 * "first_decision","grants":[{"kind","decision_date","amount_cents",
 * "effective_cents"}],"amendment":null|{"package","cost_cents",
 * "extension_cost_cents"}}
 */
json_t *
ctl_json_dossier(const Budget__Dossier *d)
{
	json_t *o = json_object(), *grants = json_array(), *g, *am;
	size_t  i;

	json_object_set_new(o, "id", out_str(d->id));
	json_object_set_new(o, "company", out_str(d->company));
	json_object_set_new(o, "contract", out_str(d->contract));
	json_object_set_new(o, "package", out_str(d->package));
	json_object_set_new(o, "state", out_str(d->state));
	json_object_set_new(o, "cost_cents", out_money(d->cost_cents));
	json_object_set_new(
	    o, "extension_cost_cents", out_money(d->extension_cost_cents));
	json_object_set_new(o, "subsidy_cents", out_money(d->subsidy_cents));
	json_object_set_new(o, "paid_cents", out_money(d->paid_cents));
	json_object_set_new(o, "expires_at", out_opt_str(d->expires_at));
	json_object_set_new(o, "granted_cents", out_money(d->granted_cents));
	json_object_set_new(o, "pending_cents", out_money(d->pending_cents));
	json_object_set_new(o, "rule_set", out_opt_str(d->rule_set));
	json_object_set_new(o, "rate_bp", json_integer(d->rate_bp));
	json_object_set_new(o, "reserved_on", out_opt_str(d->reserved_on));
	json_object_set_new(
	    o, "first_decision", out_opt_str(d->first_decision));
	for (i = 0; grants != NULL && i < d->n_grants; i++) {
		const Budget__GrantEvent *ge = d->grants[i];

		g = json_object();
		json_object_set_new(g, "kind", out_str(ge->kind));
		json_object_set_new(
		    g, "decision_date", out_str(ge->decision_date));
		json_object_set_new(
		    g, "amount_cents", out_money(ge->amount_cents));
		json_object_set_new(
		    g, "effective_cents", out_money(ge->effective_cents));
		json_array_append_new(grants, g);
	}
	json_object_set_new(o, "grants", grants);
	/* The daemon names a pending amendment by the package it asks for. */
	if (d->pending_package != NULL && *d->pending_package != '\0') {
		am = json_object();
		json_object_set_new(am, "package", out_str(d->pending_package));
		json_object_set_new(
		    am, "cost_cents", out_money(d->pending_cost_cents));
		json_object_set_new(am, "extension_cost_cents",
		    out_money(d->pending_extension_cost_cents));
		json_object_set_new(o, "amendment", am);
	} else
		json_object_set_new(o, "amendment", json_null());
	return (o);
}

/*
 * {"sets":[{"name","from","rate_sme_bp","rate_maatwerk_bp",
 * "rate_large_nis2_bp","max_total_cost_cents","max_subsidy_cents",
 * "exclusion_years","packages":[{"name","min_cost_cents","max_cost_cents",
 * "rank","extensions"}]}],"regimes":[{"name","from","ceiling_cents",
 * "window","years"}]}; rules load adds "added" and "digest".
 */
json_t *
ctl_json_rulebook(const Budget__RuleBook *rb)
{
	json_t *o = json_object(), *sets = json_array(), *regimes;
	json_t *s, *pkgs, *p, *r;
	size_t  i, j;

	for (i = 0; sets != NULL && i < rb->n_sets; i++) {
		const Budget__RuleSet *rs = rb->sets[i];

		s = json_object();
		json_object_set_new(s, "name", out_str(rs->name));
		json_object_set_new(s, "from", out_str(rs->from));
		json_object_set_new(
		    s, "rate_sme_bp", json_integer(rs->rate_sme_bp));
		json_object_set_new(
		    s, "rate_maatwerk_bp", json_integer(rs->rate_maatwerk_bp));
		json_object_set_new(s, "rate_large_nis2_bp",
		    json_integer(rs->rate_large_nis2_bp));
		json_object_set_new(s, "max_total_cost_cents",
		    out_money(rs->max_total_cost_cents));
		json_object_set_new(
		    s, "max_subsidy_cents", out_money(rs->max_subsidy_cents));
		json_object_set_new(
		    s, "exclusion_years", json_integer(rs->exclusion_years));
		pkgs = json_array();
		for (j = 0; pkgs != NULL && j < rs->n_packages; j++) {
			const Budget__Package *pk = rs->packages[j];

			p = json_object();
			json_object_set_new(p, "name", out_str(pk->name));
			json_object_set_new(
			    p, "min_cost_cents", out_money(pk->min_cost_cents));
			json_object_set_new(
			    p, "max_cost_cents", out_money(pk->max_cost_cents));
			json_object_set_new(p, "rank", json_integer(pk->rank));
			json_object_set_new(
			    p, "extensions", json_boolean(pk->extensions));
			json_array_append_new(pkgs, p);
		}
		json_object_set_new(s, "packages", pkgs);
		json_array_append_new(sets, s);
	}
	json_object_set_new(o, "sets", sets);
	regimes = json_array();
	for (i = 0; regimes != NULL && i < rb->n_regimes; i++) {
		const Budget__DeminimisRegime *rg = rb->regimes[i];

		r = json_object();
		json_object_set_new(r, "name", out_str(rg->name));
		json_object_set_new(r, "from", out_str(rg->from));
		json_object_set_new(
		    r, "ceiling_cents", out_money(rg->ceiling_cents));
		json_object_set_new(r, "window", out_str(rg->window));
		json_object_set_new(r, "years", json_integer(rg->years));
		json_array_append_new(regimes, r);
	}
	json_object_set_new(o, "regimes", regimes);
	return (o);
}

/*
 * {"ok","entries","head_hash","contracts","companies","dossiers",
 * "problems":[…]} and, when not ok, "first_bad_seq" (null when the
 * problem is not in the chain itself).
 */
json_t *
ctl_json_verify(const Budget__VerifyResult *v)
{
	json_t *o = json_object();

	json_object_set_new(o, "ok", json_boolean(v->ok));
	json_object_set_new(o, "entries", json_integer((json_int_t)v->entries));
	json_object_set_new(o, "head_hash", out_str(v->head_hash));
	if (!v->ok)
		json_object_set_new(o, "first_bad_seq",
		    v->first_bad_seq != 0
			? json_integer((json_int_t)v->first_bad_seq)
			: json_null());
	json_object_set_new(o, "contracts", json_integer(v->contracts));
	json_object_set_new(o, "companies", json_integer(v->companies));
	json_object_set_new(o, "dossiers", json_integer(v->dossiers));
	json_object_set_new(
	    o, "problems", ctl_json_strings(v->problems, v->n_problems));
	return (o);
}
