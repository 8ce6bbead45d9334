/*
 * ctl-drawdown.c: "drawdown": a contract's budget against what it has
 * given away, month by month (the end of each month of the journal's
 * clock, as the daemon replays it): a table, JSON, and with --svg a chart
 * file (drawn by ctl-svg.c). The file appears whole or not at all: it is
 * written beside its name and renamed into place, so a report that links
 * to it never picks up half a chart.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "budgetctl.h"

/* The chart being written: its name, and the temporary file until done. */
struct drawdown_file {
	const char *path;
	char       *tmp;
	FILE       *fp;
};

static void    drawdown_open(struct drawdown_file *, const char *);
static int     drawdown_commit(struct drawdown_file *);
static void    drawdown_abort(struct drawdown_file *);
static json_t *drawdown_json(const Budget__DrawdownResult *);
static void    drawdown_table(const Budget__DrawdownResult *);

/*
 * Create the temporary file before asking the daemon anything: a path
 * that cannot be written is a mistake on the command line (exit 2), found
 * before any work is done.
 */
static void
drawdown_open(struct drawdown_file *f, const char *path)
{
	mode_t mask;
	int    fd;

	f->path = path;
	if (asprintf(&f->tmp, "%s.XXXXXX", path) == -1) {
		fprintf(stderr, "budgetctl: out of memory\n");
		exit(EXIT_UNREACHABLE);
	}
	if ((fd = mkstemp(f->tmp)) == -1)
		ctl_usage_exit(ctl.cmd, "--svg %s: %s", path, strerror(errno));
	/* mkstemp makes it private; a chart is as readable as any file. */
	mask = umask(0);
	umask(mask);
	if (fchmod(fd, 0666 & ~mask) == -1 ||
	    (f->fp = fdopen(fd, "w")) == NULL) {
		close(fd);
		unlink(f->tmp);
		ctl_usage_exit(ctl.cmd, "--svg %s: %s", path, strerror(errno));
	}
}

/* On disk and in place: flushed, synced, renamed. 0, or -1 and gone. */
static int
drawdown_commit(struct drawdown_file *f)
{
	if (fflush(f->fp) == 0 && fsync(fileno(f->fp)) == 0 &&
	    fclose(f->fp) == 0) {
		f->fp = NULL;
		if (rename(f->tmp, f->path) == 0) {
			free(f->tmp);
			f->tmp = NULL;
			return (0);
		}
	}
	fprintf(stderr, "budgetctl: drawdown: writing %s: %s\n", f->path,
	    strerror(errno));
	drawdown_abort(f);
	return (-1);
}

static void
drawdown_abort(struct drawdown_file *f)
{
	if (f->fp != NULL)
		fclose(f->fp);
	f->fp = NULL;
	if (f->tmp != NULL)
		unlink(f->tmp);
	free(f->tmp);
	f->tmp = NULL;
}

/*
 * {"contract":{…contract show…},"points":[{"month","budget_cents",
 * "reserved_cents","committed_cents","paid_cents",
 * "cumulative_committed_cents","available_cents"}]}
 */
static json_t *
drawdown_json(const Budget__DrawdownResult *d)
{
	json_t *o = json_object(), *a = json_array(), *p;
	size_t  i;

	json_object_set_new(o, "contract", ctl_json_contract(d->contract));
	for (i = 0; i < d->n_points; i++) {
		const Budget__DrawdownPoint *pt = d->points[i];

		p = json_object();
		json_object_set_new(p, "month", out_str(pt->month));
		json_object_set_new(
		    p, "budget_cents", out_money(pt->budget_cents));
		json_object_set_new(
		    p, "reserved_cents", out_money(pt->reserved_cents));
		json_object_set_new(
		    p, "committed_cents", out_money(pt->committed_cents));
		json_object_set_new(p, "paid_cents", out_money(pt->paid_cents));
		json_object_set_new(p, "cumulative_committed_cents",
		    out_money(pt->committed_cents + pt->paid_cents));
		json_object_set_new(p, "available_cents",
		    out_money(pt->budget_cents - pt->reserved_cents -
			pt->committed_cents - pt->paid_cents));
		json_array_append_new(a, p);
	}
	json_object_set_new(o, "points", a);
	return (o);
}

static void
drawdown_table(const Budget__DrawdownResult *d)
{
	static const char *const head[] = {"month", "budget", "reserved",
	    "committed", "paid", "committed+paid", "available"};
	const Budget__Contract  *k = d->contract;
	struct out_table        *t;
	const char              *cell[7];
	size_t                   i;

	printf("contract %s (%s, %s), amounts in EUR at the end of each "
	       "month\n\n",
	    k->id, k->provider, k->framework);
	if (d->n_points == 0) {
		printf("no months yet\n");
		return;
	}
	t = out_table_new(7, head, "lrrrrrr");
	for (i = 0; i < d->n_points; i++) {
		const Budget__DrawdownPoint *p = d->points[i];

		cell[0] = p->month;
		cell[1] = out_amount(p->budget_cents);
		cell[2] = out_amount(p->reserved_cents);
		cell[3] = out_amount(p->committed_cents);
		cell[4] = out_amount(p->paid_cents);
		cell[5] = out_amount(p->committed_cents + p->paid_cents);
		cell[6] = out_amount(p->budget_cents - p->reserved_cents -
		    p->committed_cents - p->paid_cents);
		out_table_row(t, cell);
	}
	out_table_print(t);
}

int
ctl_drawdown(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"contract", required_argument, NULL, 'k'},
	    {"svg", required_argument, NULL, 's'},
	    {NULL, 0, NULL, 0},
	};
	Budget__Request         req = BUDGET__REQUEST__INIT;
	Budget__DrawdownRequest dr = BUDGET__DRAWDOWN_REQUEST__INIT;
	Budget__Response       *resp;
	Budget__DrawdownResult *d;
	struct drawdown_file    f = {NULL, NULL, NULL};
	const char             *svg = NULL;
	json_t                 *o;
	int                     ch, rc;

	while ((ch = ctl_getopt(argc, argv, opts)) != -1) {
		switch (ch) {
		case 'k':
			dr.contract = optarg;
			break;
		case 's':
			svg = optarg;
			break;
		}
	}
	ctl_operands(0, "no operands");
	if (*dr.contract == '\0')
		ctl_usage_exit(ctl.cmd, "--contract is required");
	if (svg != NULL)
		drawdown_open(&f, svg);
	req.command_case = BUDGET__REQUEST__COMMAND_DRAWDOWN;
	req.drawdown = &dr;
	if ((resp = ctl_request(
		 &req, BUDGET__RESPONSE__RESULT_DRAWDOWN, &rc)) == NULL) {
		drawdown_abort(&f);
		return (rc);
	}
	d = resp->drawdown;
	if (d->contract == NULL) {
		fprintf(stderr,
		    "budgetctl: drawdown: budgetd answered without "
		    "the contract\n");
		drawdown_abort(&f);
		budget__response__free_unpacked(resp, NULL);
		return (EXIT_UNREACHABLE);
	}
	/* The chart first: the table or JSON then says whether it exists. */
	if (svg != NULL) {
		if (d->n_points == 0) {
			fprintf(stderr,
			    "budgetctl: drawdown: no months to chart; %s not "
			    "written\n",
			    svg);
			drawdown_abort(&f);
			rc = EXIT_REFUSED;
		} else if (ctl_svg_drawdown(f.fp, d) == -1) {
			fprintf(stderr, "budgetctl: drawdown: writing %s: %s\n",
			    svg, strerror(errno));
			drawdown_abort(&f);
			rc = EXIT_UNREACHABLE;
		} else if (drawdown_commit(&f) == -1)
			rc = EXIT_UNREACHABLE;
	}
	if (ctl.json) {
		o = drawdown_json(d);
		if (svg != NULL && rc == EXIT_DONE)
			json_object_set_new(o, "svg", out_str(svg));
		out_reply(o, resp);
	} else {
		drawdown_table(d);
		if (svg != NULL && rc == EXIT_DONE)
			fprintf(stderr, "chart written to %s\n", svg);
	}
	budget__response__free_unpacked(resp, NULL);
	return (rc);
}
