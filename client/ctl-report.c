/*
 * ctl-report.c: "report": parliament's statistics (SPEC §7). Grant events
 * counted by any of the dimensions year, province, size, package,
 * provider, contract, framework and category, with dossiers, grant events,
 * unique companies, granted and paid per row and in total. The daemon
 * counts; this prints a table for people, CSV for a spreadsheet, or JSON.
 *
 * Companies are the one measure that does not add up: a company with
 * grants in two years is in both years' rows and once in the total (the
 * 350 company-years against 321 companies of parliament's table), so the
 * table says so under it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budgetctl.h"

/* Dimensions a report can have (the daemon's list), repeats included. */
#define REPORT_BY_MAX    16
/* The measures after the dimensions. */
#define REPORT_NMEASURES 5

static void    report_by_arg(char *, char **, size_t *);
static json_t *report_json_measures(json_t *, const Budget__ReportRow *);
static json_t *
report_json(const Budget__ReportResult *, const char *, const char *);
static void        report_table(const Budget__ReportResult *);
static int         report_csv(const Budget__ReportResult *);
static const char *report_key(const Budget__ReportRow *, size_t);

/*
 * --by "year,province": the dimensions in order, appended to by[]. An
 * empty one ("year,,size") is a slip, not a request for fewer.
 */
static void
report_by_arg(char *s, char **by, size_t *nby)
{
	char *d;

	while ((d = strsep(&s, ",")) != NULL) {
		if (*d == '\0')
			ctl_usage_exit(ctl.cmd, "--by: an empty dimension");
		if (*nby == REPORT_BY_MAX)
			ctl_usage_exit(ctl.cmd, "--by: too many dimensions");
		by[(*nby)++] = d;
	}
}

/* A row's value of dimension i; "" should the daemon send fewer. */
static const char *
report_key(const Budget__ReportRow *r, size_t i)
{
	return (i < r->n_keys && r->keys[i] != NULL ? r->keys[i] : "");
}

static json_t *
report_json_measures(json_t *o, const Budget__ReportRow *r)
{
	json_object_set_new(
	    o, "dossiers", json_integer((json_int_t)r->dossiers));
	json_object_set_new(
	    o, "grant_events", json_integer((json_int_t)r->grant_events));
	json_object_set_new(
	    o, "companies", json_integer((json_int_t)r->companies));
	json_object_set_new(o, "granted_cents", out_money(r->granted_cents));
	json_object_set_new(o, "paid_cents", out_money(r->paid_cents));
	return (o);
}

/*
 * {"by":[…],"from","to","rows":[{<dim>:value…,"dossiers","grant_events",
 * "companies","granted_cents","paid_cents"}],"total":{…measures…}}
 */
static json_t *
report_json(const Budget__ReportResult *r, const char *from, const char *to)
{
	static const Budget__ReportRow zero = BUDGET__REPORT_ROW__INIT;
	json_t                        *o = json_object(), *by, *rows, *row;
	size_t                         i, j;

	by = json_array();
	for (i = 0; i < r->n_by; i++)
		json_array_append_new(by, out_str(r->by[i]));
	json_object_set_new(o, "by", by);
	json_object_set_new(o, "from", out_opt_str(from));
	json_object_set_new(o, "to", out_opt_str(to));
	rows = json_array();
	for (i = 0; i < r->n_rows; i++) {
		row = json_object();
		for (j = 0; j < r->n_by; j++)
			json_object_set_new(
			    row, r->by[j], out_str(report_key(r->rows[i], j)));
		json_array_append_new(
		    rows, report_json_measures(row, r->rows[i]));
	}
	json_object_set_new(o, "rows", rows);
	json_object_set_new(o, "total",
	    report_json_measures(
		json_object(), r->total != NULL ? r->total : &zero));
	return (o);
}

/* The measures of a row as table cells, after the dimensions. */
static void
report_cells(const Budget__ReportRow *r, const char **cell, char num[][24])
{
	snprintf(
	    num[0], sizeof(num[0]), "%llu", (unsigned long long)r->dossiers);
	snprintf(num[1], sizeof(num[1]), "%llu",
	    (unsigned long long)r->grant_events);
	snprintf(
	    num[2], sizeof(num[2]), "%llu", (unsigned long long)r->companies);
	cell[0] = num[0];
	cell[1] = num[1];
	cell[2] = num[2];
	cell[3] = out_amount(r->granted_cents);
	cell[4] = out_amount(r->paid_cents);
}

static void
report_table(const Budget__ReportResult *r)
{
	static const char *const       measures[REPORT_NMEASURES] = {"dossiers",
		  "grant events", "companies", "granted (EUR)", "paid (EUR)"};
	static const Budget__ReportRow zero = BUDGET__REPORT_ROW__INIT;
	struct out_table              *t;
	const char                    *cell[REPORT_BY_MAX + REPORT_NMEASURES];
	char   align[REPORT_BY_MAX + REPORT_NMEASURES + 1];
	char   num[3][24];
	size_t nby = r->n_by, i, j;

	/* The daemon names at most as many dimensions as were asked for. */
	if (nby > REPORT_BY_MAX)
		nby = REPORT_BY_MAX;
	for (j = 0; j < nby; j++) {
		cell[j] = r->by[j];
		align[j] = 'l';
	}
	for (j = 0; j < REPORT_NMEASURES; j++) {
		cell[nby + j] = measures[j];
		align[nby + j] = 'r';
	}
	align[nby + REPORT_NMEASURES] = '\0';
	t = out_table_new(nby + REPORT_NMEASURES, cell, align);
	for (i = 0; i < r->n_rows; i++) {
		for (j = 0; j < nby; j++)
			cell[j] = report_key(r->rows[i], j);
		report_cells(r->rows[i], cell + nby, num);
		out_table_row(t, cell);
	}
	out_table_rule(t);
	for (j = 0; j < nby; j++)
		cell[j] = j == 0 ? "TOTAL" : "";
	report_cells(r->total != NULL ? r->total : &zero, cell + nby, num);
	out_table_row(t, cell);
	out_table_print(t);
	printf("\ncompanies: each company counts once in a row, and once in "
	       "TOTAL however many rows it is in.\n");
}

/*
 * RFC 4180: dimensions, then the measures with money in cents, so that a
 * spreadsheet sums exact integers; the last row is the total.
 */
static int
report_csv(const Budget__ReportResult *r)
{
	static const char *const       measures[REPORT_NMEASURES] = {"dossiers",
		  "grant_events", "companies", "granted_cents", "paid_cents"};
	static const Budget__ReportRow zero = BUDGET__REPORT_ROW__INIT;
	const Budget__ReportRow       *row;
	struct out_buf                 b = {NULL, 0, 0};
	char                           num[REPORT_NMEASURES][24];
	const char                    *key;
	size_t                         i, j;
	int                            rc;

	for (j = 0; j < r->n_by; j++)
		out_buf_csv(&b, r->by[j], strlen(r->by[j]), j == 0);
	for (j = 0; j < REPORT_NMEASURES; j++)
		out_buf_csv(&b, measures[j], strlen(measures[j]),
		    r->n_by == 0 && j == 0);
	out_buf_csv_end(&b);
	for (i = 0; i <= r->n_rows; i++) {
		row = i < r->n_rows    ? r->rows[i]
		    : r->total != NULL ? r->total
				       : &zero;
		for (j = 0; j < r->n_by; j++) {
			key = i < r->n_rows ? report_key(row, j)
			    : j == 0        ? "total"
					    : "";
			out_buf_csv(&b, key, strlen(key), j == 0);
		}
		snprintf(num[0], sizeof(num[0]), "%llu",
		    (unsigned long long)row->dossiers);
		snprintf(num[1], sizeof(num[1]), "%llu",
		    (unsigned long long)row->grant_events);
		snprintf(num[2], sizeof(num[2]), "%llu",
		    (unsigned long long)row->companies);
		snprintf(num[3], sizeof(num[3]), "%lld",
		    (long long)row->granted_cents);
		snprintf(
		    num[4], sizeof(num[4]), "%lld", (long long)row->paid_cents);
		for (j = 0; j < REPORT_NMEASURES; j++)
			out_buf_csv(
			    &b, num[j], strlen(num[j]), r->n_by == 0 && j == 0);
		out_buf_csv_end(&b);
	}
	rc = out_buf_flush(&b, stdout);
	out_buf_free(&b);
	return (rc);
}

int
ctl_report(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"by", required_argument, NULL, 'b'},
	    {"from", required_argument, NULL, 'f'},
	    {"to", required_argument, NULL, 't'},
	    {"csv", no_argument, NULL, 'c'},
	    {NULL, 0, NULL, 0},
	};
	Budget__Request       req = BUDGET__REQUEST__INIT;
	Budget__ReportRequest rr = BUDGET__REPORT_REQUEST__INIT;
	Budget__Response     *resp;
	char                 *by[REPORT_BY_MAX];
	size_t                nby = 0;
	int                   ch, rc, csv = 0;

	while ((ch = ctl_getopt(argc, argv, opts)) != -1) {
		switch (ch) {
		case 'b':
			report_by_arg(optarg, by, &nby);
			break;
		case 'f':
			rr.from = optarg;
			break;
		case 't':
			rr.to = optarg;
			break;
		case 'c':
			csv = 1;
			break;
		}
	}
	ctl_operands(0, "no operands");
	if (nby == 0)
		ctl_usage_exit(ctl.cmd, "--by is required");
	if (csv && ctl.json)
		ctl_usage_exit(ctl.cmd, "--csv and --json: choose one");
	rr.by = by;
	rr.n_by = nby;
	req.command_case = BUDGET__REQUEST__COMMAND_REPORT;
	req.report = &rr;
	if ((resp = ctl_request(&req, BUDGET__RESPONSE__RESULT_REPORT, &rc)) ==
	    NULL)
		return (rc);
	if (ctl.json)
		out_reply(report_json(resp->report, rr.from, rr.to), resp);
	else if (!csv)
		report_table(resp->report);
	else if (report_csv(resp->report) == -1) {
		perror("budgetctl: report: writing");
		rc = EXIT_UNREACHABLE;
	}
	budget__response__free_unpacked(resp, NULL);
	return (rc);
}
