/*
 * test_report.c: parliament's statistics (issue #4; SPEC §7 "report") and
 * a contract's draw-down. Owns:
 *
 * - seed 004: tests/fixtures/seed004.cmds loaded into a daemon, after
 *   which report --by province,year must reproduce the province x year
 *   table of the Flemish Parliament's answer cell by cell (57/49/58/186
 *   per year, 321 unique companies, Brussel only in 2023-2024), and every
 *   dimension, --from/--to and --csv must agree with a model of the
 *   fixture computed here from the same commands (the grant events, their
 *   decision dates and subsidies, counted independently of budgetd);
 * - the measures on a small ledger where money was paid, a grant was cut
 *   by a withdrawal, aid was declared and reservations are pending;
 * - report's refusals; drawdown --json and --svg.
 *
 * The fixture's commands go over one pipelined raw connection (the same
 * requests budgetctl would send, in the same order) rather than as a
 * thousand budgetctl processes: the same ledger in a fraction of the time,
 * which matters under the sanitizers. The rules and contracts, whose
 * requests need a file or come first, go through budgetctl.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"

#ifndef BUDGET_SEED004_CMDS
#error "BUDGET_SEED004_CMDS must be defined by the build"
#endif
#ifndef BUDGET_RULES_PATH
#error "BUDGET_RULES_PATH must be defined by the build"
#endif

/* ------------------------------------------------------------------ */
/* The table of seed 004 (written question 8 of 17 October 2024)      */

static const char *const seed_years[4] = {"2021", "2022", "2023", "2024"};

static const struct {
	const char *province;
	int         companies[4]; /* per year; 0: no row */
	int         unique;
} seed_table[] = {
    {"Antwerpen", {22, 16, 23, 39}, 89},
    {"Brussel", {0, 0, 1, 3}, 4},
    {"Limburg", {5, 4, 2, 10}, 20},
    {"Oost-Vlaanderen", {12, 13, 11, 48}, 78},
    {"Vlaams-Brabant", {11, 13, 12, 27}, 56},
    {"West-Vlaanderen", {7, 3, 9, 59}, 74},
};
static const int seed_year_total[4] = {57, 49, 58, 186};
#define SEED_COMPANIES 321
#define SEED_RETURNS   29

/* ------------------------------------------------------------------ */
/* A model of grant events, and what report must say about them       */

enum {
	D_YEAR,
	D_PROVINCE,
	D_SIZE,
	D_PACKAGE,
	D_PROVIDER,
	D_CONTRACT,
	D_FRAMEWORK,
	D_CATEGORY,
	D_N
};
static const char *const dim_names[D_N] = {"year", "province", "size",
    "package", "provider", "contract", "framework", "category"};

#define MODEL_MAX   1024
#define MODEL_ROWS  512
#define MODEL_VALSZ 32

struct model_ev {
	int     company, dossier;
	char    date[FX_DATE_SZ];
	char    v[D_N][MODEL_VALSZ];
	int64_t granted; /* effective, after reductions */
};

struct model {
	struct model_ev ev[MODEL_MAX];
	size_t          nev;
	int64_t         paid[MODEL_MAX]; /* per dossier */
	int             ndossiers, ncompanies;
};

struct model_row {
	char    key[D_N][MODEL_VALSZ];
	int64_t dossiers, events, companies, granted, paid;
	uint8_t dseen[MODEL_MAX], cseen[MODEL_MAX];
};

static struct model_row model_rows[MODEL_ROWS], model_total;
static size_t           model_nby;

/* A value into the model (src may lie inside the model too). */
static void
model_str(char dst[MODEL_VALSZ], const char *src)
{
	size_t n = strlen(src);

	if (n >= MODEL_VALSZ)
		h_fail("model: value \"%s\" is too long", src);
	memmove(dst, src, n + 1);
}

static int
dim_index(const char *name)
{
	int i;

	for (i = 0; i < D_N; i++)
		if (strcmp(dim_names[i], name) == 0)
			return (i);
	h_fail("no dimension \"%s\"", name);
}

static void
model_count(
    struct model_row *r, const struct model *m, const struct model_ev *e)
{
	r->events++;
	r->granted += e->granted;
	if (!r->dseen[e->dossier]) {
		r->dseen[e->dossier] = 1;
		r->dossiers++;
		r->paid += m->paid[e->dossier];
	}
	if (!r->cseen[e->company]) {
		r->cseen[e->company] = 1;
		r->companies++;
	}
}

static int
model_row_cmp(const void *a, const void *b)
{
	const struct model_row *x = a, *y = b;
	size_t                  i;
	int                     c;

	for (i = 0; i < model_nby; i++)
		if ((c = strcmp(x->key[i], y->key[i])) != 0)
			return (c);
	return (0);
}

/*
 * The rows report --by dims (indexes into dim_names) must give for grant
 * events decided in [from, to] (NULL: open), sorted as the daemon sorts
 * them (by each dimension's value in turn); into model_rows and
 * model_total. Returns the number of rows.
 */
static size_t
model_expect(const struct model *m, const int *dims, size_t nby,
    const char *from, const char *to)
{
	size_t n = 0, i, j, r;

	memset(model_rows, 0, sizeof(model_rows));
	memset(&model_total, 0, sizeof(model_total));
	model_nby = nby;
	for (i = 0; i < m->nev; i++) {
		const struct model_ev *e = &m->ev[i];

		if ((from != NULL && strcmp(e->date, from) < 0) ||
		    (to != NULL && strcmp(e->date, to) > 0))
			continue;
		for (r = 0; r < n; r++) {
			for (j = 0; j < nby; j++)
				if (strcmp(model_rows[r].key[j],
					e->v[dims[j]]) != 0)
					break;
			if (j == nby)
				break;
		}
		if (r == n) {
			if (n == MODEL_ROWS)
				h_fail("model: too many rows");
			for (j = 0; j < nby; j++)
				snprintf(model_rows[r].key[j], MODEL_VALSZ,
				    "%s", e->v[dims[j]]);
			n++;
		}
		model_count(&model_rows[r], m, e);
		model_count(&model_total, m, e);
	}
	qsort(model_rows, n, sizeof(model_rows[0]), model_row_cmp);
	return (n);
}

/* One row of report --json against the model's. */
static void
model_row_check(json_t *got, const struct model_row *want, const int *dims,
    size_t nby, const char *what)
{
	char   label[256] = "";
	size_t j;

	for (j = 0; j < nby; j++)
		snprintf(label + strlen(label), sizeof(label) - strlen(label),
		    "%s%s=%s", j ? "," : "", dim_names[dims[j]], want->key[j]);
	for (j = 0; j < nby; j++) {
		json_t *v = json_object_get(got, dim_names[dims[j]]);

		if (!json_is_string(v) ||
		    strcmp(json_string_value(v), want->key[j]) != 0)
			h_fail("%s: row %s: %s is %s", what, label,
			    dim_names[dims[j]],
			    json_is_string(v) ? json_string_value(v)
					      : "missing");
	}
#define M(field, member) \
	do { \
		if (h_json_int(got, field) != want->member) \
			h_fail("%s: row %s: %s is %lld, expected %lld", what, \
			    label, field, (long long)h_json_int(got, field), \
			    (long long)want->member); \
	} while (0)
	M("dossiers", dossiers);
	M("grant_events", events);
	M("companies", companies);
	M("granted_cents", granted);
	M("paid_cents", paid);
#undef M
}

/*
 * report --by BY [--from FROM] [--to TO] --json must give exactly the
 * model's rows and total. Returns the report (json_decref it).
 */
static json_t *
model_check(const struct h_daemon *d, const struct model *m, const char *by,
    const char *from, const char *to)
{
	char    copy[128], *s, *tok, what[256];
	int     dims[D_N];
	size_t  nby = 0, n, i;
	json_t *j, *rows;

	snprintf(copy, sizeof(copy), "%s", by);
	for (s = copy; (tok = strsep(&s, ",")) != NULL;)
		dims[nby++] = dim_index(tok);
	n = model_expect(m, dims, nby, from, to);
	if (from != NULL && to != NULL)
		j = au_ctl_json(d, 0, "report", "--by", by, "--from", from,
		    "--to", to, NULL);
	else if (from != NULL)
		j = au_ctl_json(
		    d, 0, "report", "--by", by, "--from", from, NULL);
	else if (to != NULL)
		j = au_ctl_json(d, 0, "report", "--by", by, "--to", to, NULL);
	else
		j = au_ctl_json(d, 0, "report", "--by", by, NULL);
	snprintf(what, sizeof(what), "report --by %s%s%s%s%s", by,
	    from ? " --from " : "", from ? from : "", to ? " --to " : "",
	    to ? to : "");
	rows = h_json_get(j, "rows");
	if (!json_is_array(rows) || json_array_size(rows) != n) {
		char *dump = json_dumps(j, JSON_INDENT(1));

		print_error("%s\n", dump != NULL ? dump : "?");
		free(dump);
		h_fail("%s: %zu rows, expected %zu", what,
		    json_is_array(rows) ? json_array_size(rows) : 0, n);
	}
	for (i = 0; i < n; i++)
		model_row_check(
		    json_array_get(rows, i), &model_rows[i], dims, nby, what);
	model_row_check(h_json_get(j, "total"), &model_total, dims, 0, what);
	return (j);
}

/* ------------------------------------------------------------------ */
/* Seed 004: the fixture's commands, the ledger and the model          */

struct seed_company {
	char rid[FX_RID_SZ];
	char province[MODEL_VALSZ];
	char size[MODEL_VALSZ];
};

struct seed_dossier {
	char    id[FX_ID_SZ];
	int     company;
	char    contract[MODEL_VALSZ];
	char    reserved_on[FX_DATE_SZ];
	int     rate_bp;
	char    package[MODEL_VALSZ], next_package[MODEL_VALSZ];
	int64_t cost, ext, granted, pending;
	int     approved;
};

/* One pipelined request and what its pointers point to. */
struct seed_req {
	Budget__Request req;
	union {
		Budget__CompanyAdd     company;
		Budget__DossierReserve reserve;
		Budget__DossierApprove approve;
		Budget__DossierAmend   amend;
	} u;
	Budget__Cents cost, ext;
	char          rid[32];
	int           line;
};

static struct {
	struct h_daemon    *d;
	struct model        m;
	struct seed_company co[MODEL_MAX];
	struct seed_dossier ds[MODEL_MAX];
	char               *text; /* the file, split into tokens */
	int                 lines;
} seed;

/* R-PROV (SPEC §3), written again here. */
static const char *
seed_province(const char *pc)
{
	int n = atoi(pc);

	if (n >= 1000 && n <= 1299)
		return ("Brussel");
	if ((n >= 1500 && n <= 1999) || (n >= 3000 && n <= 3499))
		return ("Vlaams-Brabant");
	if (n >= 2000 && n <= 2999)
		return ("Antwerpen");
	if (n >= 3500 && n <= 3999)
		return ("Limburg");
	if (n >= 8000 && n <= 8999)
		return ("West-Vlaanderen");
	if (n >= 9000 && n <= 9999)
		return ("Oost-Vlaanderen");
	h_fail("seed: postcode %s is outside Flanders and Brussels", pc);
}

/* Euros with at most two decimals, as cents. */
static int64_t
seed_cents(const char *s, int line)
{
	char     *end;
	long long eur = strtoll(s, &end, 10), c = 0;

	if (*end == '.') {
		if (end[1] < '0' || end[1] > '9')
			h_fail("seed line %d: amount \"%s\"", line, s);
		c = (end[1] - '0') * 10;
		if (end[2] >= '0' && end[2] <= '9')
			c += end[2] - '0';
		end += end[2] >= '0' && end[2] <= '9' ? 3 : 2;
	}
	if (end == s || *end != '\0' || eur < 0)
		h_fail("seed line %d: amount \"%s\"", line, s);
	return (eur * 100 + c);
}

/*
 * The subsidy of a dossier reserved on day under the shipped rule sets
 * (SPEC §3): the rate, the total-cost cap, the subsidy cap.
 */
static int64_t
seed_subsidy(const char *day, int rate_bp, int64_t cost, int64_t ext)
{
	int64_t total = cost + ext, sub;

	if (strcmp(day, "2023-03-01") < 0 && total > 5000000)
		total = 5000000; /* V2021, V2021L */
	if (strcmp(day, "2024-04-17") >= 0 && total > 6000000)
		total = 6000000; /* V2024 */
	sub = total * rate_bp / 10000;
	if (strcmp(day, "2024-04-17") >= 0 && sub > 3000000)
		sub = 3000000;
	return (sub);
}

/* The value of option name among t[from..n), NULL when absent. */
static const char *
seed_opt(char *const *t, int n, const char *name)
{
	int i;

	for (i = 3; i < n; i++)
		if (strcmp(t[i], name) == 0)
			return (i + 1 < n && strncmp(t[i + 1], "--", 2) != 0
				? t[i + 1]
				: "");
	return (NULL);
}

/* Every option on the line is one of these (so none is ignored). */
static void
seed_opts_known(char *const *t, int n, int line, const char *const *known)
{
	int i, k;

	for (i = 3; i < n; i++) {
		if (strncmp(t[i], "--", 2) != 0)
			continue;
		for (k = 0; known[k] != NULL; k++)
			if (strcmp(known[k], t[i]) == 0)
				break;
		if (known[k] == NULL)
			h_fail("seed line %d: option %s is not modelled", line,
			    t[i]);
	}
}

static int
seed_find_dossier(const char *id, int line)
{
	int i;

	for (i = 0; i < seed.m.ndossiers; i++)
		if (strcmp(seed.ds[i].id, id) == 0)
			return (i);
	h_fail("seed line %d: unknown dossier %s", line, id);
}

static int
seed_find_company(const char *rid, int line)
{
	int i;

	for (i = 0; i < seed.m.ncompanies; i++)
		if (strcmp(seed.co[i].rid, rid) == 0)
			return (i);
	h_fail("seed line %d: unknown company %s", line, rid);
}

static void
seed_req_init(struct seed_req *r, int line)
{
	memset(r, 0, sizeof(*r));
	budget__request__init(&r->req);
	r->req.version = BUDGET_PROTOCOL_VERSION;
	snprintf(r->rid, sizeof(r->rid), "seed004-%d", line);
	r->req.request_id = r->rid;
	r->line = line;
}

/* Send the requests gathered so far, in order; every one must be done. */
static void
seed_flush(struct seed_req *reqs, size_t *n)
{
	Budget__Request  **pr;
	Budget__Response **resp;
	size_t             i;
	int                fd;

	if (*n == 0)
		return;
	pr = calloc(*n, sizeof(*pr));
	resp = calloc(*n, sizeof(*resp));
	if (pr == NULL || resp == NULL)
		h_fail("seed: out of memory");
	for (i = 0; i < *n; i++)
		pr[i] = &reqs[i].req;
	fd = h_connect(seed.d);
	fx_pipeline(fd, pr, *n, resp);
	close(fd);
	for (i = 0; i < *n; i++) {
		if (fx_err(resp[i]) != NULL)
			h_fail("seed line %d refused: %s: %s", reqs[i].line,
			    fx_err(resp[i]), resp[i]->error->message);
		budget__response__free_unpacked(resp[i], NULL);
	}
	free(pr);
	free(resp);
	*n = 0;
}

/* A line budgetctl runs (RULES: the shipped rules file). */
static void
seed_ctl(char *const *t, int n, int line)
{
	const char   *argv[40];
	struct h_proc p;
	int           i, k = 0;

	argv[k++] = BUDGETCTL_PATH;
	argv[k++] = "-s";
	argv[k++] = seed.d->sock;
	for (i = 0; i < n && k < 39; i++)
		argv[k++] =
		    strcmp(t[i], "RULES") == 0 ? BUDGET_RULES_PATH : t[i];
	argv[k] = NULL;
	if (h_run(&p, argv) != 0) {
		print_error("stdout: %s\nstderr: %s\n", p.out, p.err);
		h_fail("seed line %d: budgetctl exited %d", line, p.status);
	}
	h_proc_free(&p);
}

static void
seed_company_add(struct seed_req *r, char *const *t, int n, int line)
{
	static const char *const known[] = {
	    "--name", "--postcode", "--size", "--flemish-establishment", NULL};
	struct seed_company *c = &seed.co[seed.m.ncompanies];
	const char          *size = seed_opt(t, n, "--size");

	seed_opts_known(t, n, line, known);
	if (seed.m.ncompanies == MODEL_MAX || size == NULL ||
	    seed_opt(t, n, "--postcode") == NULL)
		h_fail("seed line %d: company add", line);
	snprintf(c->rid, sizeof(c->rid), "%s", t[2]);
	snprintf(c->province, sizeof(c->province), "%s",
	    seed_province(seed_opt(t, n, "--postcode")));
	snprintf(c->size, sizeof(c->size), "%s", size);
	seed.m.ncompanies++;

	r->req.command_case = BUDGET__REQUEST__COMMAND_COMPANY_ADD;
	r->req.company_add = &r->u.company;
	budget__company_add__init(&r->u.company);
	r->u.company.number = t[2];
	r->u.company.name = H_STR(seed_opt(t, n, "--name"));
	r->u.company.postcode = H_STR(seed_opt(t, n, "--postcode"));
	r->u.company.size = strcmp(size, "micro") == 0
	    ? BUDGET__COMPANY_SIZE__MICRO
	    : strcmp(size, "small") == 0  ? BUDGET__COMPANY_SIZE__SMALL
	    : strcmp(size, "medium") == 0 ? BUDGET__COMPANY_SIZE__MEDIUM
					  : BUDGET__COMPANY_SIZE__LARGE;
	r->u.company.flemish_establishment =
	    seed_opt(t, n, "--flemish-establishment") != NULL;
}

static void
seed_reserve(struct seed_req *r, char *const *t, int n, int line)
{
	static const char *const known[] = {
	    "--company", "--contract", "--package", "--cost", "--date", NULL};
	struct seed_dossier *ds = &seed.ds[seed.m.ndossiers];
	const char          *date = seed_opt(t, n, "--date");

	seed_opts_known(t, n, line, known);
	if (seed.m.ndossiers == MODEL_MAX || date == NULL ||
	    seed_opt(t, n, "--company") == NULL ||
	    seed_opt(t, n, "--contract") == NULL ||
	    seed_opt(t, n, "--package") == NULL ||
	    seed_opt(t, n, "--cost") == NULL)
		h_fail("seed line %d: dossier reserve", line);
	memset(ds, 0, sizeof(*ds));
	snprintf(ds->id, sizeof(ds->id), "%s", t[2]);
	ds->company = seed_find_company(seed_opt(t, n, "--company"), line);
	snprintf(ds->contract, sizeof(ds->contract), "%s",
	    seed_opt(t, n, "--contract"));
	snprintf(ds->reserved_on, sizeof(ds->reserved_on), "%s", date);
	/* All of the fixture's companies are SMEs. */
	ds->rate_bp = strcmp(date, "2023-03-01") < 0 ? 4500 : 5000;
	snprintf(ds->next_package, sizeof(ds->next_package), "%s",
	    seed_opt(t, n, "--package"));
	ds->cost = seed_cents(seed_opt(t, n, "--cost"), line);
	ds->pending = seed_subsidy(date, ds->rate_bp, ds->cost, 0);
	seed.m.ndossiers++;

	r->req.command_case = BUDGET__REQUEST__COMMAND_DOSSIER_RESERVE;
	r->req.dossier_reserve = &r->u.reserve;
	budget__dossier_reserve__init(&r->u.reserve);
	r->u.reserve.id = t[2];
	r->u.reserve.company = H_STR(seed_opt(t, n, "--company"));
	r->u.reserve.contract = H_STR(seed_opt(t, n, "--contract"));
	r->u.reserve.package = H_STR(seed_opt(t, n, "--package"));
	r->u.reserve.cost_cents = ds->cost;
	r->u.reserve.date = H_STR(date);
}

static void
seed_approve(struct seed_req *r, char *const *t, int n, int line)
{
	static const char *const known[] = {"--decision-date", NULL};
	const char              *date = seed_opt(t, n, "--decision-date");
	int                      di = seed_find_dossier(t[2], line);
	struct seed_dossier     *ds = &seed.ds[di];
	struct seed_company     *c = &seed.co[ds->company];
	struct model_ev         *e = &seed.m.ev[seed.m.nev];
	const char              *category;
	char                     provider[MODEL_VALSZ];

	seed_opts_known(t, n, line, known);
	if (date == NULL || seed.m.nev == MODEL_MAX)
		h_fail("seed line %d: dossier approve", line);
	category = !ds->approved                         ? "initial"
	    : strcmp(ds->package, ds->next_package) != 0 ? "upgrade"
							 : "extension";
	memset(e, 0, sizeof(*e));
	e->company = ds->company;
	e->dossier = di;
	snprintf(e->date, sizeof(e->date), "%s", date);
	snprintf(e->v[D_YEAR], MODEL_VALSZ, "%.4s", date);
	model_str(e->v[D_PROVINCE], c->province);
	model_str(e->v[D_SIZE], c->size);
	model_str(e->v[D_PACKAGE], ds->next_package);
	snprintf(provider, sizeof(provider), "Provider-%s", ds->contract);
	model_str(e->v[D_PROVIDER], provider);
	model_str(e->v[D_CONTRACT], ds->contract);
	model_str(e->v[D_FRAMEWORK], "FIX");
	model_str(e->v[D_CATEGORY], category);
	e->granted = ds->pending - ds->granted;
	seed.m.nev++;
	ds->granted = ds->pending;
	model_str(ds->package, ds->next_package);
	ds->approved = 1;

	r->req.command_case = BUDGET__REQUEST__COMMAND_DOSSIER_APPROVE;
	r->req.dossier_approve = &r->u.approve;
	budget__dossier_approve__init(&r->u.approve);
	r->u.approve.id = t[2];
	r->u.approve.decision_date = H_STR(date);
}

static void
seed_amend(struct seed_req *r, char *const *t, int n, int line)
{
	static const char *const known[] = {
	    "--package", "--cost", "--extension-cost", NULL};
	struct seed_dossier *ds = &seed.ds[seed_find_dossier(t[2], line)];
	const char          *v;

	seed_opts_known(t, n, line, known);
	r->req.command_case = BUDGET__REQUEST__COMMAND_DOSSIER_AMEND;
	r->req.dossier_amend = &r->u.amend;
	budget__dossier_amend__init(&r->u.amend);
	r->u.amend.id = t[2];
	if ((v = seed_opt(t, n, "--package")) != NULL) {
		snprintf(ds->next_package, sizeof(ds->next_package), "%s", v);
		r->u.amend.package = H_STR(v);
	}
	if ((v = seed_opt(t, n, "--cost")) != NULL) {
		ds->cost = seed_cents(v, line);
		budget__cents__init(&r->cost);
		r->cost.cents = ds->cost;
		r->u.amend.cost = &r->cost;
	}
	if ((v = seed_opt(t, n, "--extension-cost")) != NULL) {
		ds->ext = seed_cents(v, line);
		budget__cents__init(&r->ext);
		r->ext.cents = ds->ext;
		r->u.amend.extension_cost = &r->ext;
	}
	ds->pending =
	    seed_subsidy(ds->reserved_on, ds->rate_bp, ds->cost, ds->ext);
}

/* Load the fixture into seed.d, building the model as it goes. */
static void
seed_load(void)
{
	struct seed_req *reqs;
	size_t           nreq = 0;
	char            *line, *next, *t[40], *s;
	int              n, lineno = 0;

	seed.text = au_read_file(BUDGET_SEED004_CMDS, NULL);
	if ((reqs = calloc(MODEL_MAX * 2, sizeof(*reqs))) == NULL)
		h_fail("seed: out of memory");
	for (line = seed.text; *line != '\0'; line = next) {
		lineno++;
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		else
			next = line + strlen(line);
		for (n = 0, s = line; n < 40 && (t[n] = strsep(&s, " "));)
			if (*t[n] != '\0')
				n++;
		if (n == 0)
			continue;
		if (n < 3)
			h_fail("seed line %d: too short", lineno);
		if (nreq == MODEL_MAX * 2)
			seed_flush(reqs, &nreq);
		seed_req_init(&reqs[nreq], lineno);
		if (strcmp(t[0], "company") == 0 && strcmp(t[1], "add") == 0)
			seed_company_add(&reqs[nreq], t, n, lineno);
		else if (strcmp(t[0], "dossier") == 0 &&
		    strcmp(t[1], "reserve") == 0)
			seed_reserve(&reqs[nreq], t, n, lineno);
		else if (strcmp(t[0], "dossier") == 0 &&
		    strcmp(t[1], "approve") == 0)
			seed_approve(&reqs[nreq], t, n, lineno);
		else if (strcmp(t[0], "dossier") == 0 &&
		    strcmp(t[1], "amend") == 0)
			seed_amend(&reqs[nreq], t, n, lineno);
		else {
			/* In order: what was gathered goes first. */
			seed_flush(reqs, &nreq);
			seed_ctl(t, n, lineno);
			seed.lines++;
			continue;
		}
		nreq++;
		seed.lines++;
	}
	seed_flush(reqs, &nreq);
	free(reqs);
}

static int
seed_setup(void **state)
{
	(void)state;
	seed.d = h_daemon_up(NULL);
	seed_load();
	return (0);
}

static int
seed_teardown(void **state)
{
	(void)state;
	h_daemon_teardown(seed.d);
	free(seed.text);
	seed.d = NULL;
	return (0);
}

/* ------------------------------------------------------------------ */
/* Seed 004 tests                                                     */

/* Every line made one journal entry, and the ledger verifies. */
static void
test_seed_loaded(void **state)
{
	struct au_head h;
	json_t        *v;

	(void)state;
	au_head(seed.d, &h);
	assert_int_equal(seed.lines, 1026);
	assert_int_equal(h.seq, seed.lines);
	assert_int_equal(seed.m.ncompanies, SEED_COMPANIES);
	assert_int_equal(seed.m.ndossiers, SEED_COMPANIES);
	assert_int_equal(seed.m.nev, SEED_COMPANIES + SEED_RETURNS);
	v = fx_ctl_json(seed.d, 0, "verify", NULL);
	assert_true(h_json_bool(v, "ok"));
	assert_int_equal(h_json_int(v, "entries"), h.seq);
	assert_string_equal(h_json_str(v, "head_hash"), h.hash);
	assert_int_equal(h_json_int(v, "contracts"), 4);
	assert_int_equal(h_json_int(v, "companies"), SEED_COMPANIES);
	assert_int_equal(h_json_int(v, "dossiers"), SEED_COMPANIES);
	json_decref(v);
}

/* The province x year table of seed 004, cell by cell. */
static void
test_seed_province_year(void **state)
{
	json_t *j, *rows, *row, *total;
	size_t  i, y, k = 0, nrows = 0;

	(void)state;
	j = fx_ctl_json(seed.d, 0, "report", "--by", "province,year", NULL);
	rows = h_json_get(j, "rows");
	assert_true(json_is_array(rows));
	for (i = 0; i < sizeof(seed_table) / sizeof(seed_table[0]); i++)
		for (y = 0; y < 4; y++)
			nrows += seed_table[i].companies[y] > 0;
	assert_int_equal(nrows, 22);
	assert_int_equal(json_array_size(rows), nrows);
	/* Sorted by province, then year: the table's own order. */
	for (i = 0; i < sizeof(seed_table) / sizeof(seed_table[0]); i++) {
		for (y = 0; y < 4; y++) {
			if (seed_table[i].companies[y] == 0)
				continue;
			row = json_array_get(rows, k++);
			assert_string_equal(h_json_str(row, "province"),
			    seed_table[i].province);
			assert_string_equal(
			    h_json_str(row, "year"), seed_years[y]);
			if (h_json_int(row, "companies") !=
			    seed_table[i].companies[y])
				h_fail("%s %s: %lld companies, the table "
				       "says %d",
				    seed_table[i].province, seed_years[y],
				    (long long)h_json_int(row, "companies"),
				    seed_table[i].companies[y]);
			assert_int_equal(h_json_int(row, "paid_cents"), 0);
		}
	}
	/* Brussel: no row before 2023. */
	for (i = 0; i < json_array_size(rows); i++) {
		row = json_array_get(rows, i);
		if (strcmp(h_json_str(row, "province"), "Brussel") == 0)
			assert_true(
			    strcmp(h_json_str(row, "year"), "2023") >= 0);
	}
	total = h_json_get(j, "total");
	assert_int_equal(h_json_int(total, "companies"), SEED_COMPANIES);
	assert_int_equal(h_json_int(total, "dossiers"), SEED_COMPANIES);
	assert_int_equal(
	    h_json_int(total, "grant_events"), SEED_COMPANIES + SEED_RETURNS);
	json_decref(j);
	/* And every measure of every cell against the model. */
	json_decref(model_check(seed.d, &seed.m, "province,year", NULL, NULL));
}

/* By year: 57/49/58/186, and 321 companies in total, not 350. */
static void
test_seed_year(void **state)
{
	json_t *j, *rows, *total;
	size_t  y;
	int     sum = 0;

	(void)state;
	j = model_check(seed.d, &seed.m, "year", NULL, NULL);
	rows = h_json_get(j, "rows");
	assert_int_equal(json_array_size(rows), 4);
	for (y = 0; y < 4; y++) {
		assert_string_equal(
		    h_json_str(json_array_get(rows, y), "year"), seed_years[y]);
		assert_int_equal(
		    h_json_int(json_array_get(rows, y), "companies"),
		    seed_year_total[y]);
		sum += seed_year_total[y];
	}
	total = h_json_get(j, "total");
	assert_int_equal(sum, SEED_COMPANIES + SEED_RETURNS);
	assert_int_equal(h_json_int(total, "companies"), SEED_COMPANIES);
	json_decref(j);
}

/* By province: 89/4/20/78/56/74, 321 in total. */
static void
test_seed_province(void **state)
{
	json_t *j, *rows;
	size_t  i;

	(void)state;
	j = model_check(seed.d, &seed.m, "province", NULL, NULL);
	rows = h_json_get(j, "rows");
	assert_int_equal(json_array_size(rows), 6);
	for (i = 0; i < 6; i++) {
		json_t *row = json_array_get(rows, i);

		assert_string_equal(
		    h_json_str(row, "province"), seed_table[i].province);
		assert_int_equal(
		    h_json_int(row, "companies"), seed_table[i].unique);
	}
	assert_int_equal(h_json_int(j, "total.companies"), SEED_COMPANIES);
	json_decref(j);
}

/* By category: the 29 returning companies are 29 upgrade+extension events. */
static void
test_seed_category(void **state)
{
	json_t *j, *rows, *row;
	size_t  i;
	int64_t returns = 0, initial = -1;

	(void)state;
	j = model_check(seed.d, &seed.m, "category", NULL, NULL);
	rows = h_json_get(j, "rows");
	for (i = 0; i < json_array_size(rows); i++) {
		row = json_array_get(rows, i);
		if (strcmp(h_json_str(row, "category"), "initial") == 0)
			initial = h_json_int(row, "grant_events");
		else if (strcmp(h_json_str(row, "category"), "upgrade") == 0 ||
		    strcmp(h_json_str(row, "category"), "extension") == 0)
			returns += h_json_int(row, "grant_events");
		else
			h_fail("category %s", h_json_str(row, "category"));
	}
	assert_int_equal(initial, SEED_COMPANIES);
	assert_int_equal(returns, SEED_RETURNS);
	json_decref(j);
}

/*
 * Every dimension alone and in pairs, against the model: dossiers, grant
 * events, companies and granted per row (the subsidies computed here from
 * the fixture's costs and the rule sets' rates).
 */
static void
test_seed_dimensions(void **state)
{
	static const char *const by[] = {"year", "province", "size", "package",
	    "provider", "contract", "framework", "category", "year,category",
	    "category,year", "contract,package", "size,province",
	    "framework,provider,contract",
	    "year,province,size,package,provider,contract,framework,category"};
	json_t                  *j;
	size_t                   i;

	(void)state;
	for (i = 0; i < sizeof(by) / sizeof(by[0]); i++)
		json_decref(model_check(seed.d, &seed.m, by[i], NULL, NULL));
	/* One cell worked out by hand: Antwerpen 2022 is 13 new BASIC
	 * trajectories at 45% of 26,000 and 3 extensions of 10,000 on a
	 * 25,000 BASIC (45% of 35,000 - 45% of 25,000 = 4,500). */
	j = fx_ctl_json(seed.d, 0, "report", "--by", "province,year", NULL);
	assert_string_equal(h_json_str(j, "rows.1.province"), "Antwerpen");
	assert_string_equal(h_json_str(j, "rows.1.year"), "2022");
	assert_int_equal(h_json_int(j, "rows.1.grant_events"), 16);
	assert_int_equal(h_json_int(j, "rows.1.dossiers"), 16);
	assert_int_equal(
	    h_json_int(j, "rows.1.granted_cents"), 13 * 1170000 + 3 * 450000);
	json_decref(j);
}

/* --from and --to: decision dates, both inclusive. */
static void
test_seed_from_to(void **state)
{
	json_t *j, *rows;
	size_t  i;
	int     st;

	(void)state;
	j = model_check(seed.d, &seed.m, "province,year", "2024-01-01", NULL);
	rows = h_json_get(j, "rows");
	assert_int_equal(json_array_size(rows), 6);
	for (i = 0; i < json_array_size(rows); i++)
		assert_string_equal(
		    h_json_str(json_array_get(rows, i), "year"), "2024");
	assert_int_equal(h_json_int(j, "total.companies"), 186);
	json_decref(j);

	j = model_check(seed.d, &seed.m, "year", NULL, "2021-12-31");
	assert_int_equal(json_array_size(h_json_get(j, "rows")), 1);
	assert_int_equal(h_json_int(j, "total.companies"), 57);
	json_decref(j);

	/* Two years: companies that returned in 2023 count once. */
	j = model_check(seed.d, &seed.m, "year", "2022-01-01", "2023-12-31");
	assert_int_equal(json_array_size(h_json_get(j, "rows")), 2);
	assert_true(h_json_int(j, "total.companies") < 49 + 58);
	json_decref(j);

	/* The returns of 2023 were approved on 1-4 December 2023. */
	json_decref(model_check(
	    seed.d, &seed.m, "category", "2023-12-01", "2023-12-02"));
	json_decref(model_check(
	    seed.d, &seed.m, "province,category", "2023-12-02", "2023-12-02"));
	json_decref(model_check(
	    seed.d, &seed.m, "province", "2021-02-01", "2021-02-01"));
	/* Nothing in range: no rows, a total of nothing. */
	j = model_check(seed.d, &seed.m, "year", "2025-01-01", NULL);
	assert_int_equal(json_array_size(h_json_get(j, "rows")), 0);
	assert_int_equal(h_json_int(j, "total.companies"), 0);
	json_decref(j);
	/* from after to: nothing either (or refused as an argument). */
	j = fx_ctl_json_try(seed.d, &st, "report", "--by", "year", "--from",
	    "2024-01-01", "--to", "2023-01-01", NULL);
	if (st == 0)
		assert_int_equal(json_array_size(h_json_get(j, "rows")), 0);
	else {
		assert_int_equal(st, 1);
		assert_string_equal(
		    h_json_str(j, "error.code"), "invalid_argument");
	}
	json_decref(j);
}

/*
 * --csv is RFC 4180 (a strict reader here and Python's csv module agree
 * on every field), with the same numbers as --json and the total last.
 */
static void
test_seed_csv(void **state)
{
	static const char *const head[] = {"province", "year", "dossiers",
	    "grant_events", "companies", "granted_cents", "paid_cents"};
	static const char *const measures[] = {"dossiers", "grant_events",
	    "companies", "granted_cents", "paid_cents"};
	char                     path[AU_PATH_SZ], *text, *err = NULL, num[32];
	const char              *why = NULL;
	json_t                  *j, *rows, *csv, *py, *rec, *row;
	size_t                   len, i, k;

	(void)state;
	au_need_python();
	au_path(seed.d, "report.csv", path);
	assert_int_equal(au_ctl_to_file(seed.d, path, &err, "report", "--by",
			     "province,year", "--csv", NULL),
	    0);
	free(err);
	text = au_read_file(path, &len);
	if ((csv = au_csv_parse(text, len, &why)) == NULL)
		h_fail("report --csv is not RFC 4180: %s", why);
	free(text);
	py = au_csv_python(path);
	assert_true(json_equal(csv, py));
	json_decref(py);

	j = fx_ctl_json(seed.d, 0, "report", "--by", "province,year", NULL);
	rows = h_json_get(j, "rows");
	assert_int_equal(json_array_size(csv), json_array_size(rows) + 2);
	rec = json_array_get(csv, 0);
	assert_int_equal(json_array_size(rec), 7);
	for (k = 0; k < 7; k++)
		assert_string_equal(
		    json_string_value(json_array_get(rec, k)), head[k]);
	for (i = 0; i <= json_array_size(rows); i++) {
		rec = json_array_get(csv, i + 1);
		assert_int_equal(json_array_size(rec), 7);
		if (i < json_array_size(rows)) {
			row = json_array_get(rows, i);
			assert_string_equal(
			    json_string_value(json_array_get(rec, 0)),
			    h_json_str(row, "province"));
			assert_string_equal(
			    json_string_value(json_array_get(rec, 1)),
			    h_json_str(row, "year"));
		} else {
			row = h_json_get(j, "total");
			assert_string_equal(
			    json_string_value(json_array_get(rec, 0)), "total");
		}
		for (k = 0; k < 5; k++) {
			snprintf(num, sizeof(num), "%lld",
			    (long long)h_json_int(row, measures[k]));
			assert_string_equal(
			    json_string_value(json_array_get(rec, k + 2)), num);
		}
	}
	json_decref(j);
	json_decref(csv);
}

/* The whole journal of the fixture re-verifies outside budgetd. */
static void
test_seed_export(void **state)
{
	struct au_head h;
	char           path[AU_PATH_SZ];

	(void)state;
	au_need_python();
	au_head(seed.d, &h);
	au_path(seed.d, "seed004.jsonl", path);
	au_export_verified(seed.d, path, 0, NULL, h.seq, h.hash);
}

/* ------------------------------------------------------------------ */
/* The measures on a small ledger                                     */

/* Fictional enterprise numbers (R-ID check digits right). */
#define CO1 "0200101397"
#define CO2 "0200202654"
#define CO3 "0200303911"
#define CO4 "0200405265"
#define CO5 "0200506522"
#define CO6 "0200607777"

static void
ctl_ok(const struct h_daemon *d, ...)
{
	const char   *argv[48], *a;
	struct h_proc p;
	va_list       ap;
	size_t        n = 0;

	argv[n++] = BUDGETCTL_PATH;
	argv[n++] = "-s";
	argv[n++] = d->sock;
	va_start(ap, d);
	while ((a = va_arg(ap, const char *)) != NULL && n < 47)
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	if (au_run(&p, argv) != 0) {
		print_error("stdout: %s\nstderr: %s\n", p.out, p.err);
		h_fail("budgetctl %s %s: exit %d", argv[3], argv[4], p.status);
	}
	h_proc_free(&p);
}

static void
small_company(
    const struct h_daemon *d, const char *co, const char *pc, const char *size)
{
	if (strcmp(size, "large") == 0)
		ctl_ok(d, "company", "add", co, "--name", co, "--postcode", pc,
		    "--size", size, "--nis2", NULL);
	else if (strcmp(pc, "1000") == 0)
		ctl_ok(d, "company", "add", co, "--name", co, "--postcode", pc,
		    "--size", size, "--flemish-establishment", NULL);
	else
		ctl_ok(d, "company", "add", co, "--name", co, "--postcode", pc,
		    "--size", size, NULL);
}

static void
small_event(struct model *m, int company, int dossier, const char *date,
    const char *province, const char *size, const char *package,
    const char *contract, const char *provider, const char *framework,
    const char *category, int64_t granted)
{
	struct model_ev *e = &m->ev[m->nev++];

	memset(e, 0, sizeof(*e));
	e->company = company;
	e->dossier = dossier;
	snprintf(e->date, sizeof(e->date), "%s", date);
	snprintf(e->v[D_YEAR], MODEL_VALSZ, "%.4s", date);
	snprintf(e->v[D_PROVINCE], MODEL_VALSZ, "%s", province);
	snprintf(e->v[D_SIZE], MODEL_VALSZ, "%s", size);
	snprintf(e->v[D_PACKAGE], MODEL_VALSZ, "%s", package);
	snprintf(e->v[D_PROVIDER], MODEL_VALSZ, "%s", provider);
	snprintf(e->v[D_CONTRACT], MODEL_VALSZ, "%s", contract);
	snprintf(e->v[D_FRAMEWORK], MODEL_VALSZ, "%s", framework);
	snprintf(e->v[D_CATEGORY], MODEL_VALSZ, "%s", category);
	e->granted = granted;
}

/*
 * Two contracts of two providers and frameworks; five companies of every
 * size in five provinces. Granted, then: D1 9,000 + an extension of
 * 2,000, 5,000 paid, closed (its grants cut to 5,000 newest first: the
 * extension to 0, the initial grant to 5,000; both still grant events);
 * D2 5,000 paid in full and closed; D3 15,000 of
 * which 2,000 was paid before it was withdrawn (its grant cut to 2,000);
 * D5 7,000 (35% of a large NIS2 company's 20,000) with an upgrade of
 * 3,500 pending; D7 5,000 on Alpha's other contract KC (FW1), for a
 * company in Brussels with an establishment in Flanders. Not counted: D4
 * reserved and cancelled, D6 reserved, D5's pending upgrade, aid declared
 * for CO2. The model's events are written out by hand.
 */
static struct h_daemon *
small_ledger(void **state, struct model *m, char dates[5][FX_DATE_SZ])
{
	struct h_daemon *d;
	int              i;

	*state = d = h_daemon_up(NULL);
	for (i = 0; i < 5; i++)
		fx_date_ago(60 - 10 * i, dates[i]);
	fx_rules_load(d);
	ctl_ok(d, "contract", "open", "KA", "--provider", "Alpha",
	    "--framework", "FW2", "--budget", "200000", NULL);
	ctl_ok(d, "contract", "open", "KB", "--provider", "Beta", "--framework",
	    "FW1", "--budget", "200000", NULL);
	/* Alpha's other lot, under the other framework. */
	ctl_ok(d, "contract", "open", "KC", "--provider", "Alpha",
	    "--framework", "FW1", "--budget", "50000", NULL);
	small_company(d, CO1, "2000", "micro");
	small_company(d, CO2, "9000", "small");
	small_company(d, CO3, "3000", "medium");
	small_company(d, CO4, "8000", "small");
	small_company(d, CO5, "3500", "large");
	small_company(d, CO6, "1000", "micro");

	ctl_ok(d, "dossier", "reserve", "D1", "--company", CO1, "--contract",
	    "KA", "--package", "MEDIUM", "--cost", "18000", "--date", dates[0],
	    NULL);
	ctl_ok(
	    d, "dossier", "approve", "D1", "--decision-date", dates[0], NULL);
	ctl_ok(d, "dossier", "amend", "D1", "--extension-cost", "4000", NULL);
	ctl_ok(
	    d, "dossier", "approve", "D1", "--decision-date", dates[1], NULL);
	ctl_ok(d, "dossier", "pay", "D1", "--amount", "5000", NULL);
	ctl_ok(d, "dossier", "complete", "D1", NULL);
	ctl_ok(d, "dossier", "close", "D1", NULL);

	ctl_ok(d, "dossier", "reserve", "D2", "--company", CO2, "--contract",
	    "KB", "--package", "START", "--cost", "10000", "--date", dates[2],
	    NULL);
	ctl_ok(
	    d, "dossier", "approve", "D2", "--decision-date", dates[2], NULL);
	ctl_ok(d, "dossier", "pay", "D2", "--amount", "5000", NULL);
	ctl_ok(d, "dossier", "complete", "D2", NULL);
	ctl_ok(d, "dossier", "close", "D2", NULL);

	ctl_ok(d, "dossier", "reserve", "D3", "--company", CO3, "--contract",
	    "KA", "--package", "PLUS", "--cost", "30000", "--date", dates[3],
	    NULL);
	ctl_ok(
	    d, "dossier", "approve", "D3", "--decision-date", dates[3], NULL);
	ctl_ok(d, "dossier", "pay", "D3", "--amount", "2000", NULL);
	ctl_ok(d, "dossier", "withdraw", "D3", "--reason", "not an SME", NULL);

	ctl_ok(d, "dossier", "reserve", "D4", "--company", CO4, "--contract",
	    "KB", "--package", "MEDIUM", "--cost", "20000", NULL);
	ctl_ok(d, "dossier", "cancel", "D4", "--reason", "changed mind", NULL);
	ctl_ok(d, "dossier", "reserve", "D6", "--company", CO4, "--contract",
	    "KB", "--package", "MEDIUM", "--cost", "20000", NULL);

	ctl_ok(d, "dossier", "reserve", "D5", "--company", CO5, "--contract",
	    "KA", "--package", "MEDIUM", "--cost", "20000", "--date", dates[4],
	    NULL);
	ctl_ok(
	    d, "dossier", "approve", "D5", "--decision-date", dates[4], NULL);
	ctl_ok(d, "dossier", "amend", "D5", "--package", "PLUS", "--cost",
	    "30000", NULL);
	ctl_ok(d, "deminimis", "declare", CO2, "--amount", "1000", "--granted",
	    dates[4], "--source", "kmo-portefeuille", NULL);
	ctl_ok(d, "dossier", "reserve", "D7", "--company", CO6, "--contract",
	    "KC", "--package", "START", "--cost", "10000", "--date", dates[4],
	    NULL);
	ctl_ok(
	    d, "dossier", "approve", "D7", "--decision-date", dates[4], NULL);

	memset(m, 0, sizeof(*m));
	m->ncompanies = 6;
	m->ndossiers = 5;
	m->paid[0] = 500000;
	m->paid[1] = 500000;
	m->paid[2] = 200000;
	m->paid[3] = 0;
	small_event(m, 0, 0, dates[0], "Antwerpen", "micro", "MEDIUM", "KA",
	    "Alpha", "FW2", "initial", 500000);
	small_event(m, 0, 0, dates[1], "Antwerpen", "micro", "MEDIUM", "KA",
	    "Alpha", "FW2", "extension", 0);
	small_event(m, 1, 1, dates[2], "Oost-Vlaanderen", "small", "START",
	    "KB", "Beta", "FW1", "initial", 500000);
	small_event(m, 2, 2, dates[3], "Vlaams-Brabant", "medium", "PLUS", "KA",
	    "Alpha", "FW2", "initial", 200000);
	small_event(m, 4, 3, dates[4], "Limburg", "large", "MEDIUM", "KA",
	    "Alpha", "FW2", "initial", 700000);
	small_event(m, 5, 4, dates[4], "Brussel", "micro", "START", "KC",
	    "Alpha", "FW1", "initial", 500000);
	assert_int_equal(fx_verify_ok(d), 7);
	return (d);
}

/* Every dimension, paid and granted after reductions, exactly. */
static void
test_report_measures(void **state)
{
	static const char *const by[] = {"year", "province", "size", "package",
	    "provider", "contract", "framework", "category",
	    "contract,category", "provider,size", "framework,package,year"};
	static struct model      m;
	char                     dates[5][FX_DATE_SZ];
	struct h_daemon         *d = small_ledger(state, &m, dates);
	json_t                  *j;
	size_t                   i;

	for (i = 0; i < sizeof(by) / sizeof(by[0]); i++)
		json_decref(model_check(d, &m, by[i], NULL, NULL));
	/* The totals, by hand. */
	j = fx_ctl_json(d, 0, "report", "--by", "contract", NULL);
	assert_int_equal(h_json_int(j, "total.dossiers"), 5);
	assert_int_equal(h_json_int(j, "total.grant_events"), 6);
	assert_int_equal(h_json_int(j, "total.companies"), 5);
	assert_int_equal(h_json_int(j, "total.granted_cents"), 2400000);
	assert_int_equal(h_json_int(j, "total.paid_cents"), 1200000);
	assert_string_equal(h_json_str(j, "rows.0.contract"), "KA");
	assert_int_equal(h_json_int(j, "rows.0.granted_cents"), 1400000);
	assert_int_equal(h_json_int(j, "rows.0.paid_cents"), 700000);
	assert_int_equal(h_json_int(j, "rows.0.dossiers"), 3);
	assert_string_equal(h_json_str(j, "rows.1.contract"), "KB");
	assert_int_equal(h_json_int(j, "rows.1.granted_cents"), 500000);
	json_decref(j);
	/* Alpha's two contracts are one provider's row. */
	j = fx_ctl_json(d, 0, "report", "--by", "provider", NULL);
	assert_int_equal(json_array_size(h_json_get(j, "rows")), 2);
	assert_string_equal(h_json_str(j, "rows.0.provider"), "Alpha");
	assert_int_equal(h_json_int(j, "rows.0.dossiers"), 4);
	assert_int_equal(h_json_int(j, "rows.0.granted_cents"), 1900000);
	json_decref(j);
	/* --from/--to on the decision dates. */
	json_decref(model_check(d, &m, "category", dates[1], dates[3]));
	json_decref(model_check(d, &m, "contract", dates[4], dates[4]));
	json_decref(model_check(d, &m, "size", NULL, dates[0]));
}

/* What report refuses, and an empty ledger's report. */
static void
test_report_refusals(void **state)
{
	struct h_daemon *d;
	struct h_proc    p;
	json_t          *j;
	int              st;

	*state = d = h_daemon_up(NULL);
	j = fx_ctl_json(d, 0, "report", "--by", "year,province", NULL);
	assert_int_equal(json_array_size(h_json_get(j, "rows")), 0);
	assert_int_equal(h_json_int(j, "total.companies"), 0);
	assert_int_equal(h_json_int(j, "total.grant_events"), 0);
	json_decref(j);
	j = fx_ctl_json_try(d, &st, "report", "--by", "colour", NULL);
	assert_int_equal(st, 1);
	assert_string_equal(h_json_str(j, "error.code"), "invalid_argument");
	json_decref(j);
	j = fx_ctl_json_try(d, &st, "report", "--by", "year,year", NULL);
	assert_int_equal(st, 1);
	assert_string_equal(h_json_str(j, "error.code"), "invalid_argument");
	json_decref(j);
	j = fx_ctl_json_try(
	    d, &st, "report", "--by", "year", "--from", "2024-13-01", NULL);
	assert_int_equal(st, 1);
	assert_string_equal(h_json_str(j, "error.code"), "invalid_argument");
	json_decref(j);
	/* Usage: no --by; --csv with --json. */
	j = fx_ctl_json_try(d, &st, "report", NULL);
	assert_int_equal(st, 2);
	json_decref(j);
	j = fx_ctl_json_try(d, &st, "report", "--by", "year", "--csv", NULL);
	assert_int_equal(st, 2);
	json_decref(j);
	/* The empty CSV: a header and the total. */
	h_ctl(&p, d, "report", "--by", "year", "--csv", NULL);
	h_proc_expect(&p, 0);
	assert_string_equal(p.out,
	    "year,dossiers,grant_events,companies,granted_cents,paid_cents\r\n"
	    "total,0,0,0,0,0\r\n");
	h_proc_free(&p);
}

/* ------------------------------------------------------------------ */
/* Draw-down                                                          */

/*
 * drawdown --json: a point per month of the journal's clock, the last one
 * the contract as it stands; --svg FILE: a well-formed SVG document.
 */
static void
test_drawdown(void **state)
{
	static struct model m;
	char                dates[5][FX_DATE_SZ], path[AU_PATH_SZ], root[64];
	struct h_daemon    *d = small_ledger(state, &m, dates);
	struct fx_contract  k;
	json_t             *j, *pts, *last;
	char               *svg;
	size_t              i;
	int                 st;

	fx_contract_show(d, "KA", &k);
	j = fx_ctl_json(d, 0, "drawdown", "--contract", "KA", NULL);
	assert_string_equal(h_json_str(j, "contract.id"), "KA");
	pts = h_json_get(j, "points");
	assert_true(json_is_array(pts));
	assert_true(json_array_size(pts) >= 1);
	for (i = 0; i < json_array_size(pts); i++) {
		json_t *pt = json_array_get(pts, i);

		assert_int_equal(strlen(h_json_str(pt, "month")), 7);
		if (i > 0)
			assert_true(strcmp(h_json_str(pt, "month"),
					h_json_str(json_array_get(pts, i - 1),
					    "month")) > 0);
		assert_int_equal(h_json_int(pt, "available_cents"),
		    h_json_int(pt, "budget_cents") -
			h_json_int(pt, "reserved_cents") -
			h_json_int(pt, "committed_cents") -
			h_json_int(pt, "paid_cents"));
	}
	last = json_array_get(pts, json_array_size(pts) - 1);
	assert_int_equal(h_json_int(last, "budget_cents"), k.budget);
	assert_int_equal(h_json_int(last, "reserved_cents"), k.reserved);
	assert_int_equal(h_json_int(last, "committed_cents"), k.committed);
	assert_int_equal(h_json_int(last, "paid_cents"), k.paid);
	assert_int_equal(h_json_int(last, "available_cents"), k.available);
	json_decref(j);

	au_need_python();
	au_path(d, "KA-chart.svg", path);
	j = fx_ctl_json(
	    d, 0, "drawdown", "--contract", "KA", "--svg", path, NULL);
	assert_string_equal(h_json_str(j, "svg"), path);
	json_decref(j);
	au_xml_root(path, root, sizeof(root));
	assert_string_equal(root, "svg");
	svg = au_read_file(path, NULL);
	assert_non_null(strstr(svg, "KA"));
	free(svg);
	/* Text output with --svg of the other contract. */
	au_path(d, "KB.svg", path);
	ctl_ok(d, "drawdown", "--contract", "KB", "--svg", path, NULL);
	au_xml_root(path, root, sizeof(root));
	assert_string_equal(root, "svg");
	/* A provider's name with XML's special characters. */
	ctl_ok(d, "contract", "open", "KX", "--provider",
	    "R&D <Labs> \"Q\" & Co's", "--framework", "FW2", "--budget", "1000",
	    NULL);
	au_path(d, "KX.svg", path);
	ctl_ok(d, "drawdown", "--contract", "KX", "--svg", path, NULL);
	au_xml_root(path, root, sizeof(root));
	assert_string_equal(root, "svg");
	svg = au_read_file(path, NULL);
	assert_non_null(strstr(svg, "R&amp;D &lt;Labs&gt;"));
	free(svg);
	/* An unknown contract: not_found, and no file. */
	au_path(d, "none.svg", path);
	j = fx_ctl_json_try(
	    d, &st, "drawdown", "--contract", "NONE", "--svg", path, NULL);
	assert_int_equal(st, 1);
	assert_string_equal(h_json_str(j, "error.code"), "not_found");
	json_decref(j);
	assert_int_equal(access(path, F_OK), -1);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, NULL, h_teardown)
	const struct CMUnitTest seed_tests[] = {
	    cmocka_unit_test(test_seed_loaded),
	    cmocka_unit_test(test_seed_province_year),
	    cmocka_unit_test(test_seed_year),
	    cmocka_unit_test(test_seed_province),
	    cmocka_unit_test(test_seed_category),
	    cmocka_unit_test(test_seed_dimensions),
	    cmocka_unit_test(test_seed_from_to),
	    cmocka_unit_test(test_seed_csv),
	    cmocka_unit_test(test_seed_export),
	};
	const struct CMUnitTest tests[] = {
	    T(test_report_measures),
	    T(test_report_refusals),
	    T(test_drawdown),
	};
#undef T
	int rc;

	rc = cmocka_run_group_tests_name(
	    "seed004", seed_tests, seed_setup, seed_teardown);
	rc += cmocka_run_group_tests_name("report", tests, NULL, NULL);
	return (rc);
}
