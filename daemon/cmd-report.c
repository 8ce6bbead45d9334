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
 * One pass over the grants (grouped by company, so companies and dossiers
 * get small numbers without a map), then two sorts per measure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budget/date.h"
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

struct report_ev {
	uint64_t row;
	uint32_t company;
	uint32_t dossier;
	int64_t  granted;
	int64_t  paid; /* the dossier's, counted once per dossier */
};

struct report {
	struct cmd_ctx    *ctx;
	enum report_dim    by[DIM__COUNT];
	size_t             nby;
	int32_t            from, to;
	struct report_dict dict[DIM__COUNT];
	struct report_ev  *ev;
	size_t             nev, capev;
	struct contract   *contracts; /* a small cache */
	size_t             ncontracts;
	/* the company being walked and its dossiers */
	char           company[LEDGER_RID_SZ];
	struct company co;
	uint32_t       company_no, ncompanies;
	struct {
		char     id[LEDGER_ID_MAX + 1];
		uint32_t no;
		int64_t  paid;
	} * dos;
	size_t   ndos, capdos;
	uint32_t ndossiers;
	int      overflow;
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
		rp->ctx->txn, id, &rp->contracts[rp->ncontracts]))
		return (NULL);
	return (&rp->contracts[rp->ncontracts++]);
}

static int
report_grant_cb(const struct grant *g, void *arg)
{
	struct report         *rp = arg;
	const struct contract *k;
	struct report_ev      *e;
	struct dossier         d;
	const char            *v;
	char                   year[8];
	uint64_t               row = 0;
	size_t                 i, di;

	if (g->kind == GRANT_DECLARED || g->kind == GRANT_NONE ||
	    g->date < rp->from || g->date > rp->to)
		return (0);
	/* Grants come grouped by company: a new one gets a new number. */
	if (strcmp(g->company, rp->company) != 0) {
		memcpy(rp->company, g->company, sizeof(rp->company));
		if (record_get_company(rp->ctx->txn, g->company, &rp->co))
			return (1);
		rp->company_no = rp->ncompanies++;
		rp->ndos = 0;
	}
	for (i = 0; i < rp->ndos; i++) {
		if (strcmp(rp->dos[i].id, g->dossier) == 0)
			break;
	}
	if (i == rp->ndos) {
		if (record_get_dossier(rp->ctx->txn, g->dossier, &d))
			return (1);
		if (rp->ndos == rp->capdos) {
			rp->capdos = rp->capdos ? rp->capdos * 2 : 8;
			rp->dos = xreallocarray(
			    rp->dos, rp->capdos, sizeof(*rp->dos));
		}
		snprintf(rp->dos[i].id, sizeof(rp->dos[i].id), "%s", d.id);
		rp->dos[i].no = rp->ndossiers++;
		rp->dos[i].paid = d.paid;
		rp->ndos++;
	}
	di = i;
	if ((k = report_contract(rp, g->contract)) == NULL)
		return (1);

	for (i = 0; i < rp->nby; i++) {
		switch (rp->by[i]) {
		case DIM_YEAR:
			snprintf(year, sizeof(year), "%d", date_year(g->date));
			v = year;
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
	e->company = rp->company_no;
	e->dossier = rp->dos[di].no;
	e->paid = rp->dos[di].paid;
	e->granted = g->effective;
	return (0);
}

static int
report_cmp_company(const void *a, const void *b)
{
	const struct report_ev *x = a, *y = b;

	if (x->row != y->row)
		return (x->row < y->row ? -1 : 1);
	return (x->company < y->company ? -1 : x->company > y->company);
}

static int
report_cmp_dossier(const void *a, const void *b)
{
	const struct report_ev *x = a, *y = b;

	if (x->row != y->row)
		return (x->row < y->row ? -1 : 1);
	return (x->dossier < y->dossier ? -1 : x->dossier > y->dossier);
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
static size_t report_sort_nby;
static int
report_row_cmp(const void *a, const void *b)
{
	const Budget__ReportRow *x = *(Budget__ReportRow *const *)a;
	const Budget__ReportRow *y = *(Budget__ReportRow *const *)b;
	size_t                   i;
	int                      c;

	for (i = 0; i < report_sort_nby; i++) {
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
	uint8_t                     *seen;
	size_t                       i, j, nrows = 0;
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

	record_each_grant(ctx->txn, NULL, report_grant_cb, &rp);
	free(rp.contracts);
	free(rp.dos);
	if (ctx->txn->err != 0) {
		free(rp.ev);
		return (cmd_fail(ctx, BUDGET_ERR_STORAGE_ERROR, "%s",
		    store_strerror(ctx->txn->err)));
	}
	if (rp.overflow) {
		free(rp.ev);
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
	res->rows = cmd_alloc(ctx, (rp.nev + 1) * sizeof(*res->rows));
	total = report_row_new(ctx, 0);

	/* Companies, events and grants per row. */
	if (rp.nev > 1)
		qsort(rp.ev, rp.nev, sizeof(*rp.ev), report_cmp_company);
	for (i = 0; i < rp.nev; i++) {
		if (i == 0 || rp.ev[i].row != rp.ev[i - 1].row) {
			row = report_row_new(ctx, rp.nby);
			for (j = 0; j < rp.nby; j++) {
				unsigned v = (unsigned)(rp.ev[i].row >>
					(8 * (rp.nby - 1 - j)) &
				    0xff);

				row->keys[j] = rp.dict[rp.by[j]].v[v];
			}
			row->n_keys = rp.nby;
			res->rows[nrows++] = row;
		}
		if (i == 0 || rp.ev[i].row != rp.ev[i - 1].row ||
		    rp.ev[i].company != rp.ev[i - 1].company)
			row->companies++;
		row->grant_events++;
		row->granted_cents += rp.ev[i].granted;
		total->grant_events++;
		total->granted_cents += rp.ev[i].granted;
	}
	res->n_rows = nrows;
	total->companies = rp.ncompanies;

	/* Dossiers and payments per row, each dossier once. */
	if (rp.nev > 1)
		qsort(rp.ev, rp.nev, sizeof(*rp.ev), report_cmp_dossier);
	seen = xcalloc(rp.ndossiers + 1, 1);
	for (i = 0, j = 0; i < rp.nev; i++) {
		if (i > 0 && rp.ev[i].row != rp.ev[i - 1].row)
			j++;
		if (i == 0 || rp.ev[i].row != rp.ev[i - 1].row ||
		    rp.ev[i].dossier != rp.ev[i - 1].dossier) {
			res->rows[j]->dossiers++;
			res->rows[j]->paid_cents += rp.ev[i].paid;
			if (!seen[rp.ev[i].dossier]) {
				seen[rp.ev[i].dossier] = 1;
				total->dossiers++;
				total->paid_cents += rp.ev[i].paid;
			}
		}
	}
	free(seen);
	free(rp.ev);
	report_sort_nby = rp.nby;
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
