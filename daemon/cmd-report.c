/*
 * cmd-report.c: the statistics parliament asks for (SPEC §7 "report").
 *
 * The unit counted is the grant event: a dossier's initial approval, an
 * approved upgrade or an approved extension, on its decision date. Per row:
 *   dossiers      dossiers with a grant event in the row
 *   grant_events  grant events in the row
 *   companies     companies with a grant event in the row, each once
 *   granted       the events' grants, after reductions (close, withdraw)
 *   paid          what was paid on the row's dossiers, each dossier once
 * The total counts every company and dossier once however many rows it is
 * in: a company with a new trajectory in 2023 and an extension in 2024 is
 * in both years' rows but once in the total (seed 004: 321 companies,
 * 350 company-years). Declared external aid is not a grant event here.
 *
 * One pass over the grants, grouped by company: each company's events
 * are added to their rows when the walk leaves it, so memory holds the
 * rows and one company, however long the programme has run. The
 * companies and their dossiers' summaries (what was paid) are read along
 * the same walk, their databases being in the same company order: a step
 * along a leaf page per company instead of two searches from the root.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budget/date.h"
#include "budget/money.h"
#include "budget/rid.h"
#include "cmd.h"

enum report_dim {
	DIM_YEAR,
	DIM_PROVINCE,
	DIM_SIZE,
	DIM_PACKAGE,
	DIM_PROVIDER,
	DIM_CONTRACT,
	DIM_FRAMEWORK,
	DIM_CATEGORY,
	DIM__COUNT
};

static const char *report_dims[DIM__COUNT] = {
    [DIM_YEAR] = "year",
    [DIM_PROVINCE] = "province",
    [DIM_SIZE] = "size",
    [DIM_PACKAGE] = "package",
    [DIM_PROVIDER] = "provider",
    [DIM_CONTRACT] = "contract",
    [DIM_FRAMEWORK] = "framework",
    [DIM_CATEGORY] = "category",
};

/* At most this many distinct values per dimension (8 bits of the key). */
#define REPORT_VALUES_MAX 255

struct report_dict {
	char  *v[REPORT_VALUES_MAX];
	size_t n;
};

/* One grant event of the company being walked. */
struct report_ev {
	uint64_t row;
	size_t   dossier; /* index into report.dos */
	int64_t  granted;
};

/* A row's measures as they add up. */
struct report_acc {
	uint64_t row;
	uint64_t dossiers, events, companies;
	int64_t  granted, paid;
};

struct report {
	struct cmd_ctx    *ctx;
	enum report_dim    by[DIM__COUNT];
	size_t             nby;
	int32_t            from, to;
	struct report_dict dict[DIM__COUNT];
	struct contract   *contracts; /* a small cache */
	size_t             ncontracts;
	/* the rows: accumulators, and an open-addressing index on row */
	struct report_acc *acc;
	size_t             nacc, capacc;
	size_t            *slot; /* index + 1 into acc; 0: empty */
	size_t             capslot;
	struct report_acc  total;
	/* the company being walked: its events and its dossiers */
	char                 company[LEDGER_RID_SZ];
	struct company       co;
	struct record_follow companies, summaries;
	struct report_ev    *ev;
	size_t               nev, capev;
	struct {
		char    id[LEDGER_ID_MAX + 1];
		int64_t paid;
	} * dos;
	size_t ndos, capdos;
	int    year;
	char   yearstr[8];
	int    overflow;
};

/* The small number of a dimension's value, added when new. */
static int
report_value(struct report *rp, enum report_dim dim, const char *value)
{
	struct report_dict *d = &rp->dict[dim];
	size_t              i;

	for (i = 0; i < d->n; i++) {
		if (strcmp(d->v[i], value) == 0)
			return ((int)i);
	}
	if (d->n == REPORT_VALUES_MAX) {
		rp->overflow = 1;
		return (0);
	}
	d->v[d->n] = cmd_strdup(rp->ctx, value);
	return ((int)d->n++);
}

/*
 * What the grants name must exist: when it does not, the store is damaged,
 * and a report cut short there must be an error, not a smaller answer.
 */
static void
report_corrupt(struct report *rp)
{
	if (rp->ctx->txn->err == 0)
		rp->ctx->txn->err = STORE_CORRUPT;
}

static const struct contract *
report_contract(struct report *rp, const char *id)
{
	size_t i;

	for (i = 0; i < rp->ncontracts; i++) {
		if (strcmp(rp->contracts[i].id, id) == 0)
			return (&rp->contracts[i]);
	}
	rp->contracts = xreallocarray(
	    rp->contracts, rp->ncontracts + 1, sizeof(*rp->contracts));
	if (record_get_contract(
		rp->ctx->txn, id, &rp->contracts[rp->ncontracts])) {
		report_corrupt(rp); /* a grant of no contract */
		return (NULL);
	}
	return (&rp->contracts[rp->ncontracts++]);
}

/* Note one of the company's dossiers: a small number, what was paid. */
static void
report_dossier(struct report *rp, const char *id, int64_t paid)
{
	if (rp->ndos == rp->capdos) {
		rp->capdos = rp->capdos ? rp->capdos * 2 : 8;
		rp->dos = xreallocarray(rp->dos, rp->capdos, sizeof(*rp->dos));
	}
	snprintf(rp->dos[rp->ndos].id, sizeof(rp->dos[0].id), "%s", id);
	rp->dos[rp->ndos].paid = paid;
	rp->ndos++;
}

/* The accumulator of row, added when new. */
static struct report_acc *
report_acc(struct report *rp, uint64_t row)
{
	size_t i, j, mask;

	if ((rp->nacc + 1) * 2 > rp->capslot) {
		free(rp->slot);
		rp->capslot = rp->capslot ? rp->capslot * 2 : 64;
		rp->slot = xcalloc(rp->capslot, sizeof(*rp->slot));
		mask = rp->capslot - 1;
		for (j = 0; j < rp->nacc; j++) {
			i = (size_t)(rp->acc[j].row *
				    UINT64_C(0x9e3779b97f4a7c15) >>
				32) &
			    mask;
			while (rp->slot[i] != 0)
				i = (i + 1) & mask;
			rp->slot[i] = j + 1;
		}
	}
	mask = rp->capslot - 1;
	i = (size_t)(row * UINT64_C(0x9e3779b97f4a7c15) >> 32) & mask;
	for (; rp->slot[i] != 0; i = (i + 1) & mask)
		if (rp->acc[rp->slot[i] - 1].row == row)
			return (&rp->acc[rp->slot[i] - 1]);
	if (rp->nacc == rp->capacc) {
		rp->capacc = rp->capacc ? rp->capacc * 2 : 64;
		rp->acc = xreallocarray(rp->acc, rp->capacc, sizeof(*rp->acc));
	}
	memset(&rp->acc[rp->nacc], 0, sizeof(rp->acc[0]));
	rp->acc[rp->nacc].row = row;
	rp->slot[i] = ++rp->nacc;
	return (&rp->acc[rp->nacc - 1]);
}

/*
 * *sum += v. No programme's money comes near int64 cents: a sum that does
 * not fit means stored amounts that are not money, a damaged store.
 */
static void
report_add(struct report *rp, int64_t *sum, int64_t v)
{
	if (money_add(*sum, v, sum) == -1)
		report_corrupt(rp);
}

/*
 * Add the walked company's events to their rows and the total. All of a
 * company's events are in hand (its grants come together), so counting
 * it once per row, and each dossier once per row and once in the total,
 * needs only a look at the events before.
 */
static void
report_flush(struct report *rp)
{
	struct report_acc *a;
	struct report_ev  *e;
	size_t             i, j;
	int                row_seen, dossier_seen, anywhere;

	for (i = 0; i < rp->nev; i++) {
		e = &rp->ev[i];
		a = report_acc(rp, e->row);
		row_seen = dossier_seen = anywhere = 0;
		for (j = 0; j < i; j++) {
			if (rp->ev[j].row == e->row) {
				row_seen = 1;
				if (rp->ev[j].dossier == e->dossier)
					dossier_seen = 1;
			}
			if (rp->ev[j].dossier == e->dossier)
				anywhere = 1;
		}
		a->events++;
		report_add(rp, &a->granted, e->granted);
		if (!row_seen)
			a->companies++;
		if (!dossier_seen) {
			a->dossiers++;
			report_add(rp, &a->paid, rp->dos[e->dossier].paid);
		}
		if (!anywhere) {
			rp->total.dossiers++;
			report_add(
			    rp, &rp->total.paid, rp->dos[e->dossier].paid);
		}
		rp->total.events++;
		report_add(rp, &rp->total.granted, e->granted);
	}
	if (rp->nev > 0)
		rp->total.companies++;
	rp->nev = 0;
}

/* rp->company's record and its dossiers' summaries, along the walk. */
static int
report_company(struct report *rp)
{
	struct store_txn      *t = rp->ctx->txn;
	struct dossier_summary s;
	int                    more;

	if (!record_follow_seek(&rp->companies, rp->company, RID_LEN) ||
	    rp->companies.k.len != RID_LEN ||
	    memcmp(rp->companies.k.data, rp->company, RID_LEN) != 0 ||
	    record_company_decode(&rp->companies.v, &rp->co) == -1) {
		report_corrupt(rp); /* a grant of no company */
		return (-1);
	}
	rp->ndos = 0;
	for (more = record_follow_seek(&rp->summaries, rp->company, RID_LEN);
	     more && rp->summaries.k.len > RID_LEN &&
	     memcmp(rp->summaries.k.data, rp->company, RID_LEN) == 0;
	     more = record_follow_next(&rp->summaries)) {
		if (record_summary_decode(
			&rp->summaries.k, &rp->summaries.v, &s) == -1) {
			t->err = STORE_CORRUPT;
			return (-1);
		}
		report_dossier(rp, s.id, s.paid);
	}
	return (t->err != 0 ? -1 : 0);
}

static int
report_grant_cb(const struct grant *g, void *arg)
{
	struct report         *rp = arg;
	const struct contract *k;
	struct report_ev      *e;
	struct dossier         d;
	const char            *v;
	uint64_t               row = 0;
	size_t                 i, di;

	if (g->kind == GRANT_DECLARED || g->kind == GRANT_NONE ||
	    g->date < rp->from || g->date > rp->to)
		return (0);
	/* Grants come grouped by company: a new one ends the last. */
	if (strcmp(g->company, rp->company) != 0) {
		report_flush(rp);
		memcpy(rp->company, g->company, sizeof(rp->company));
		if (report_company(rp) == -1)
			return (1);
	}
	for (i = 0; i < rp->ndos; i++) {
		if (strcmp(rp->dos[i].id, g->dossier) == 0)
			break;
	}
	if (i == rp->ndos) {
		/* Not in the company's index: the dossier says. */
		if (record_get_dossier(rp->ctx->txn, g->dossier, &d)) {
			report_corrupt(rp); /* a grant of no dossier */
			return (1);
		}
		report_dossier(rp, d.id, d.paid);
	}
	di = i;
	if ((k = report_contract(rp, g->contract)) == NULL)
		return (1);

	for (i = 0; i < rp->nby; i++) {
		switch (rp->by[i]) {
		case DIM_YEAR:
			if (date_year(g->date) != rp->year || !*rp->yearstr) {
				rp->year = date_year(g->date);
				snprintf(rp->yearstr, sizeof(rp->yearstr), "%d",
				    rp->year);
			}
			v = rp->yearstr;
			break;
		case DIM_PROVINCE:
			v = ledger_province(rp->co.postcode, NULL);
			break;
		case DIM_SIZE:
			v = ledger_size_name(rp->co.size);
			break;
		case DIM_PACKAGE:
			v = g->package;
			break;
		case DIM_PROVIDER:
			v = k->provider;
			break;
		case DIM_CONTRACT:
			v = k->id;
			break;
		case DIM_FRAMEWORK:
			v = k->framework;
			break;
		default:
			v = ledger_grant_kind_name(g->kind);
			break;
		}
		row = row << 8 |
		    (uint64_t)report_value(rp, rp->by[i], v != NULL ? v : "");
	}
	if (rp->nev == rp->capev) {
		rp->capev = rp->capev ? rp->capev * 2 : 1024;
		rp->ev = xreallocarray(rp->ev, rp->capev, sizeof(*rp->ev));
	}
	e = &rp->ev[rp->nev++];
	e->row = row;
	e->dossier = di;
	e->granted = g->effective;
	return (0);
}

static void
report_measures(Budget__ReportRow *r, const struct report_acc *a)
{
	r->dossiers = a->dossiers;
	r->grant_events = a->events;
	r->companies = a->companies;
	r->granted_cents = a->granted;
	r->paid_cents = a->paid;
}

static Budget__ReportRow *
report_row_new(struct cmd_ctx *ctx, size_t nkeys)
{
	Budget__ReportRow *r = cmd_alloc(ctx, sizeof(*r));

	budget__report_row__init(r);
	r->keys = cmd_alloc(ctx, (nkeys + 1) * sizeof(char *));
	return (r);
}

/* Rows in the order of their values, dimension by dimension. */
static int
report_row_cmp(const void *a, const void *b)
{
	const Budget__ReportRow *x = *(Budget__ReportRow *const *)a;
	const Budget__ReportRow *y = *(Budget__ReportRow *const *)b;
	size_t                   i;
	int                      c;

	/* Every row has one key per dimension of this report. */
	for (i = 0; i < x->n_keys; i++) {
		if ((c = strcmp(x->keys[i], y->keys[i])) != 0)
			return (c);
	}
	return (0);
}

static enum budget_err
cmd_report_exec(struct cmd_ctx *ctx)
{
	const Budget__ReportRequest *a = ctx->msg->report;
	Budget__ReportResult        *res;
	Budget__ReportRow           *row = NULL, *total;
	struct report                rp;
	size_t                       i, j;
	int                          d;
	enum budget_err              rc;

	memset(&rp, 0, sizeof(rp));
	rp.ctx = ctx;
	if (a->n_by == 0 || a->n_by > DIM__COUNT)
		return (cmd_fail(ctx, BUDGET_ERR_INVALID_ARGUMENT,
		    "report by 1 to 8 of: year, province, size, package, "
		    "provider, contract, framework, category"));
	for (i = 0; i < a->n_by; i++) {
		for (d = 0; d < DIM__COUNT; d++) {
			if (strcmp(a->by[i], report_dims[d]) == 0)
				break;
		}
		if (d == DIM__COUNT)
			return (cmd_fail(ctx, BUDGET_ERR_INVALID_ARGUMENT,
			    "unknown report dimension; use year, province, "
			    "size, package, provider, contract, framework or "
			    "category"));
		for (j = 0; j < i; j++) {
			if (rp.by[j] == (enum report_dim)d)
				return (
				    cmd_fail(ctx, BUDGET_ERR_INVALID_ARGUMENT,
					"dimension %s given twice",
					report_dims[d]));
		}
		rp.by[rp.nby++] = (enum report_dim)d;
	}
	rp.from = INT32_MIN;
	rp.to = INT32_MAX;
	if ((*a->from != '\0' &&
		(rc = cmd_date_arg(ctx, a->from, "from", &rp.from))) ||
	    (*a->to != '\0' && (rc = cmd_date_arg(ctx, a->to, "to", &rp.to))))
		return (rc);
	if (rp.from > rp.to)
		return (cmd_fail(ctx, BUDGET_ERR_INVALID_ARGUMENT,
		    "from %s is after to %s: the range is empty", a->from,
		    a->to));

	record_follow_open(&rp.companies, ctx->txn, STORE_DB_COMPANIES);
	record_follow_open(&rp.summaries, ctx->txn, STORE_DB_COMPANY_DOSSIERS);
	record_each_grant(ctx->txn, NULL, report_grant_cb, &rp);
	report_flush(&rp);
	record_follow_close(&rp.companies);
	record_follow_close(&rp.summaries);
	free(rp.contracts);
	free(rp.dos);
	free(rp.ev);
	free(rp.slot);
	if (ctx->txn->err != 0 || rp.overflow) {
		free(rp.acc);
		if (ctx->txn->err != 0)
			return (cmd_fail(ctx, BUDGET_ERR_STORAGE_ERROR, "%s",
			    store_strerror(ctx->txn->err)));
		return (cmd_fail(ctx, BUDGET_ERR_INVALID_ARGUMENT,
		    "a dimension has more than %d values; report by fewer or "
		    "coarser dimensions",
		    REPORT_VALUES_MAX));
	}

	res = cmd_alloc(ctx, sizeof(*res));
	budget__report_result__init(res);
	res->by = cmd_alloc(ctx, rp.nby * sizeof(char *));
	for (i = 0; i < rp.nby; i++)
		res->by[res->n_by++] = PB_STR(report_dims[rp.by[i]]);
	res->rows = cmd_alloc(ctx, (rp.nacc + 1) * sizeof(*res->rows));
	for (i = 0; i < rp.nacc; i++) {
		row = report_row_new(ctx, rp.nby);
		for (j = 0; j < rp.nby; j++) {
			unsigned v =
			    (unsigned)(rp.acc[i].row >> (8 * (rp.nby - 1 - j)) &
				0xff);

			row->keys[j] = rp.dict[rp.by[j]].v[v];
		}
		row->n_keys = rp.nby;
		report_measures(row, &rp.acc[i]);
		res->rows[res->n_rows++] = row;
	}
	free(rp.acc);
	total = report_row_new(ctx, 0);
	report_measures(total, &rp.total);
	if (res->n_rows > 1)
		qsort(
		    res->rows, res->n_rows, sizeof(*res->rows), report_row_cmp);
	res->total = total;
	ctx->resp->result_case = BUDGET__RESPONSE__RESULT_REPORT;
	ctx->resp->report = res;
	return (BUDGET_OK);
}

const struct cmd_entry cmd_report_entry = {
    .name = "report",
    .flags = CMD_READONLY | CMD_SLOW,
    .roles = CMD_ROLES_READ,
    .exec = cmd_report_exec,
};
