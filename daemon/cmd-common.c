/*
 * cmd-common.c: what the command files share: checking arguments from the
 * wire (each failure a clear invalid_argument, not_found or future_date
 * before anything is touched), journaling with the caller's identity, and
 * turning ledger records into wire results.
 */
#include <stdio.h>
#include <string.h>

#include "budget/date.h"
#include "budget/money.h"
#include "budget/rid.h"
#include "cmd.h"

/* Bytes as lower-case hex, in answer memory. */
char *
cmd_hex(struct cmd_ctx *ctx, const uint8_t *p, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	char             *s = cmd_alloc(ctx, 2 * len + 1);
	size_t            i;

	for (i = 0; i < len; i++) {
		s[2 * i] = digits[p[i] >> 4];
		s[2 * i + 1] = digits[p[i] & 0xf];
	}
	return (s);
}

/* A business date argument: empty means today (Europe/Brussels). */
enum budget_err
cmd_date_arg(struct cmd_ctx *ctx, const char *s, const char *what, int32_t *day)
{
	const char *why;
	char        clean[64];

	if (s == NULL || *s == '\0') {
		*day = date_today(ctx->now);
		return (BUDGET_OK);
	}
	if (date_parse(s, day, &why) == -1)
		return (cmd_fail(ctx, BUDGET_ERR_INVALID_ARGUMENT,
		    "%s \"%s\": %s", what,
		    log_clean(s, strlen(s), clean, sizeof(clean)), why));
	return (BUDGET_OK);
}

/* Decisions and grants cannot lie in the future. */
enum budget_err
cmd_not_future(struct cmd_ctx *ctx, int32_t day, const char *what)
{
	char d1[DATE_BUFSZ], d2[DATE_BUFSZ];

	if (day > date_today(ctx->now))
		return (cmd_fail(ctx, BUDGET_ERR_FUTURE_DATE,
		    "%s %s lies after today (%s)", what,
		    date_format(day, d1, sizeof(d1)),
		    date_format(date_today(ctx->now), d2, sizeof(d2))));
	return (BUDGET_OK);
}

enum budget_err
cmd_rid_arg(struct cmd_ctx *ctx, const char *s, const char *what,
    char out[LEDGER_RID_SZ])
{
	const char *why;
	char        clean[64];

	if (rid_parse(s, out, &why) == -1)
		return (cmd_fail(ctx, BUDGET_ERR_INVALID_ARGUMENT,
		    "%s \"%s\": %s", what,
		    log_clean(s, strlen(s), clean, sizeof(clean)), why));
	return (BUDGET_OK);
}

/*
 * A company named on the wire, looked at on a day (on: a date, empty for
 * today): the shape of every "show" of a company.
 */
enum budget_err
cmd_company_on(struct cmd_ctx *ctx, const char *s, const char *on,
    struct company *c, int32_t *day)
{
	char            number[LEDGER_RID_SZ];
	enum budget_err rc;
	int             st;

	if ((rc = cmd_rid_arg(ctx, s, "enterprise number", number)) ||
	    (rc = cmd_date_arg(ctx, on, "on", day)))
		return (rc);
	if ((st = record_get_company(ctx->txn, number, c)) != STORE_OK)
		return (cmd_lookup_fail(ctx, st, "company", number));
	return (BUDGET_OK);
}

enum budget_err
cmd_id_arg(struct cmd_ctx *ctx, const char *s, const char *what)
{
	char clean[96];

	if (!ledger_id_ok(s, LEDGER_ID_MAX))
		return (cmd_fail(ctx, BUDGET_ERR_INVALID_ARGUMENT,
		    "%s \"%s\" must be 1-%d characters of A-Z a-z 0-9 . _ : -",
		    what, log_clean(s, strlen(s), clean, sizeof(clean)),
		    LEDGER_ID_MAX));
	return (BUDGET_OK);
}

enum budget_err
cmd_text_arg(struct cmd_ctx *ctx, const char *s, const char *what)
{
	if (!ledger_text_ok(s, LEDGER_TEXT_MAX))
		return (cmd_fail(ctx, BUDGET_ERR_INVALID_ARGUMENT,
		    "%s must be 1-%d bytes of UTF-8 text without control "
		    "characters",
		    what, LEDGER_TEXT_MAX));
	return (BUDGET_OK);
}

/* An amount of money from the wire: above zero, at most MONEY_MAX_CENTS. */
enum budget_err
cmd_amount_arg(struct cmd_ctx *ctx, int64_t cents, const char *what)
{
	char m[MONEY_BUFSZ];

	if (cents <= 0)
		return (cmd_fail(ctx, BUDGET_ERR_INVALID_ARGUMENT,
		    "%s must be above zero (got %s)", what,
		    money_format(cents, m, sizeof(m))));
	if (cents > MONEY_MAX_CENTS)
		return (cmd_fail(ctx, BUDGET_ERR_INVALID_ARGUMENT,
		    "%s of %s is beyond any budget this ledger keeps", what,
		    money_format(cents, m, sizeof(m))));
	return (BUDGET_OK);
}

/* A store lookup that found nothing, said the way a person needs it. */
enum budget_err
cmd_lookup_fail(struct cmd_ctx *ctx, int rc, const char *what, const char *id)
{
	char clean[96];

	if (rc == STORE_NOTFOUND)
		return (
		    cmd_fail(ctx, BUDGET_ERR_NOT_FOUND, "%s %s does not exist",
			what, log_clean(id, strlen(id), clean, sizeof(clean))));
	return (
	    cmd_fail(ctx, BUDGET_ERR_STORAGE_ERROR, "%s", store_strerror(rc)));
}

/*
 * Journal an applied change as the caller: fills in time, request id and
 * actor, then appends in the command's transaction.
 */
void
cmd_journal(struct cmd_ctx *ctx, struct jentry *e)
{
	e->time = ctx->now;
	e->request_id = ctx->msg->request_id;
	e->uid = (uint32_t)ctx->uid;
	e->role = ctx->internal ? "daemon" : role_name(ctx->role);
	journal_append(ctx->txn, e);
}

Budget__Contract *
cmd_contract_result(struct cmd_ctx *ctx, const struct contract *c)
{
	Budget__Contract *r = cmd_alloc(ctx, sizeof(*r));

	budget__contract__init(r);
	r->id = cmd_strdup(ctx, c->id);
	r->provider = cmd_strdup(ctx, c->provider);
	r->framework = cmd_strdup(ctx, c->framework);
	r->budget_cents = c->budget;
	r->reserved_cents = c->reserved;
	r->committed_cents = c->committed;
	r->paid_cents = c->paid;
	r->available_cents = c->budget - c->reserved - c->committed - c->paid;
	r->closed = c->closed;
	r->dossiers = c->ndossiers;
	return (r);
}

Budget__Dossier *
cmd_dossier_result(struct cmd_ctx *ctx, const struct dossier *d)
{
	Budget__Dossier *r = cmd_alloc(ctx, sizeof(*r));
	int              amending = d->state == DS_APPROVED && d->pending > 0;
	char             buf[TIMESTAMP_BUFSZ];
	struct grant     g;
	size_t           i;

	budget__dossier__init(r);
	r->id = cmd_strdup(ctx, d->id);
	r->company = cmd_strdup(ctx, d->company);
	r->contract = cmd_strdup(ctx, d->contract);
	/*
	 * The dossier's latest totals: while an amendment waits for approval,
	 * the totals it asks for; granted_cents says what is approved.
	 */
	r->package =
	    cmd_strdup(ctx, amending ? d->pending_package : d->package);
	r->state = PB_STR(ledger_state_name(d->state));
	r->cost_cents = amending ? d->pending_cost : d->cost;
	r->extension_cost_cents =
	    amending ? d->pending_extension_cost : d->extension_cost;
	r->subsidy_cents = amending ? d->pending_subsidy : d->subsidy;
	r->paid_cents = d->paid;
	r->granted_cents = d->granted;
	r->pending_cents = d->pending;
	r->expires_at = d->pending > 0
	    ? cmd_strdup(ctx, timestamp_format(d->expires_at, buf, sizeof(buf)))
	    : PB_STR("");
	r->rule_set = cmd_strdup(ctx, d->rule_set);
	r->rate_bp = d->rate_bp;
	r->reserved_on =
	    cmd_strdup(ctx, date_format(d->reserved_on, buf, sizeof(buf)));
	r->first_decision = d->first_decision != 0
	    ? cmd_strdup(ctx, date_format(d->first_decision, buf, sizeof(buf)))
	    : PB_STR("");
	r->pending_package = cmd_strdup(ctx, d->pending_package);
	r->pending_cost_cents = d->pending_cost;
	r->pending_extension_cost_cents = d->pending_extension_cost;
	if (d->ngrants > 0) {
		r->grants = cmd_alloc(ctx, d->ngrants * sizeof(*r->grants));
		for (i = 0; i < d->ngrants; i++) {
			Budget__GrantEvent *ge = cmd_alloc(ctx, sizeof(*ge));

			budget__grant_event__init(ge);
			if (cmd_find_grant(ctx, d, d->grants[i], &g) == 0) {
				ge->kind =
				    PB_STR(ledger_grant_kind_name(g.kind));
				ge->decision_date = cmd_strdup(
				    ctx, date_format(g.date, buf, sizeof(buf)));
				ge->amount_cents = g.amount;
				ge->effective_cents = g.effective;
			}
			r->grants[r->n_grants++] = ge;
		}
	}
	return (r);
}

struct find_grant {
	uint64_t      id;
	struct grant *out;
	int           found;
};

static int
cmd_find_grant_cb(const struct grant *g, void *arg)
{
	struct find_grant *f = arg;

	if (g->id != f->id)
		return (0);
	*f->out = *g;
	f->found = 1;
	return (1);
}

/* One of a dossier's grants, by id (grants are keyed by company+date). */
int
cmd_find_grant(struct cmd_ctx *ctx, const struct dossier *d, uint64_t id,
    struct grant *out)
{
	struct find_grant f = {id, out, 0};

	record_each_grant(ctx->txn, d->company, cmd_find_grant_cb, &f);
	return (f.found ? 0 : -1);
}

/* A company as shown: its record and its single undertaking on day. */
Budget__Company *
cmd_company_result(struct cmd_ctx *ctx, const struct company *c, int32_t day)
{
	Budget__Company   *r = cmd_alloc(ctx, sizeof(*r));
	struct undertaking u;
	char               buf[DATE_BUFSZ];
	size_t             i;

	budget__company__init(r);
	r->number = cmd_strdup(ctx, c->number);
	r->name = cmd_strdup(ctx, c->name);
	r->postcode = cmd_strdup(ctx, c->postcode);
	r->province = PB_STR(ledger_province(c->postcode, NULL));
	r->size = (Budget__CompanySize)c->size;
	r->maatwerk = c->maatwerk;
	r->nis2 = c->nis2;
	r->flemish_establishment = c->flemish;
	r->on = cmd_strdup(ctx, date_format(day, buf, sizeof(buf)));
	r->absorbed_into = cmd_strdup(ctx, c->absorbed_into);
	r->absorbed_on = c->absorbed_on != 0
	    ? cmd_strdup(ctx, date_format(c->absorbed_on, buf, sizeof(buf)))
	    : PB_STR("");
	if (undertaking_on(ctx->txn, c->number, day, &u) == 0 && u.n > 0) {
		r->undertaking = cmd_alloc(ctx, u.n * sizeof(char *));
		for (i = 0; i < u.n; i++)
			r->undertaking[i] = cmd_strdup(ctx, u.m[i]);
		r->n_undertaking = u.n;
	}
	undertaking_free(&u);
	return (r);
}
