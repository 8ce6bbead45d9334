/*
 * ctl-rules.c: "rules load FILE" and "rules show [--on DATE] [--all]". The
 * client only reads the file and sends its text: parsing and validating
 * the rules is the daemon's, so that every client gets the same verdict and
 * the journal keeps exactly the text that was judged.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budget/protocol.h"
#include "budgetctl.h"

/*
 * What we read of a rules file at most. The daemon takes far less (a page
 * of text) and says so; this bound only keeps a wrong file name (a disk
 * image, /dev/zero) from being read whole and sent past the frame limit.
 */
#define RULES_READ_MAX (BUDGET_FRAME_MAX - 4096)

static char *rules_read(const char *);
static void  rules_print_book(const Budget__RuleBook *);

/*
 * The whole of path ("-": standard input) as a string. A file that cannot
 * be read, is too large or holds NUL bytes (so is not text) is a usage
 * error: the command line named the wrong file.
 */
static char *
rules_read(const char *path)
{
	FILE  *f;
	char  *buf;
	size_t len = 0, n;

	if (strcmp(path, "-") == 0)
		f = stdin;
	else if ((f = fopen(path, "r")) == NULL)
		ctl_usage_exit(NULL, "%s: %s", path, strerror(errno));
	if ((buf = malloc(RULES_READ_MAX + 1)) == NULL) {
		fprintf(stderr, "budgetctl: out of memory\n");
		exit(EXIT_UNREACHABLE);
	}
	while ((n = fread(buf + len, 1, RULES_READ_MAX + 1 - len, f)) > 0) {
		len += n;
		if (len > RULES_READ_MAX)
			ctl_usage_exit(NULL,
			    "%s: larger than %u KiB, not a rules file", path,
			    RULES_READ_MAX / 1024);
	}
	if (ferror(f))
		ctl_usage_exit(NULL, "%s: %s", path, strerror(errno));
	if (f != stdin)
		fclose(f);
	if (memchr(buf, '\0', len) != NULL)
		ctl_usage_exit(
		    NULL, "%s: holds NUL bytes, not a rules file", path);
	buf[len] = '\0';
	return (buf);
}

int
ctl_rules_load(int argc, char **argv)
{
	Budget__Request   req = BUDGET__REQUEST__INIT;
	Budget__RulesLoad rl = BUDGET__RULES_LOAD__INIT;
	Budget__Response *resp;
	Budget__RuleBook *rb;
	json_t           *o;
	const char      **av, *base;
	char             *text;
	size_t            i;
	int               rc;

	av = ctl_plain_args(argc, argv, 1, "the rules FILE");
	text = rules_read(av[0]);
	/* The journal records where the rules came from, not our $PWD. */
	base = strrchr(av[0], '/') != NULL ? strrchr(av[0], '/') + 1 : av[0];
	if (strcmp(av[0], "-") == 0)
		base = "stdin";
	rl.text = text;
	rl.source = (char *)(uintptr_t)base;
	req.command_case = BUDGET__REQUEST__COMMAND_RULES_LOAD;
	req.rules_load = &rl;
	resp = ctl_request(&req, BUDGET__RESPONSE__RESULT_RULES, &rc);
	free(text);
	if (resp == NULL)
		return (rc);
	rb = resp->rules;
	if (ctl.json) {
		o = ctl_json_rulebook(rb);
		json_object_set_new(o, "source", out_str(base));
		json_object_set_new(o, "added", json_integer(rb->added));
		json_object_set_new(o, "digest", out_str(rb->digest));
		out_reply(o, resp);
	} else {
		out_kv("loaded",
		    "%zu rule set(s), %zu de-minimis regime(s) "
		    "from %s",
		    rb->n_sets, rb->n_regimes, base);
		for (i = 0; i < rb->n_regimes; i++)
			out_kv("  regime", "%s from %s", rb->regimes[i]->name,
			    rb->regimes[i]->from);
		for (i = 0; i < rb->n_sets; i++)
			out_kv("  rule set", "%s from %s", rb->sets[i]->name,
			    rb->sets[i]->from);
		out_kv("added", "%u new%s", rb->added,
		    rb->added < rb->n_sets + rb->n_regimes
			? ", the rest was loaded before"
			: "");
		out_kv("digest", "%s", rb->digest);
	}
	budget__response__free_unpacked(resp, NULL);
	return (EXIT_DONE);
}

static void
rules_print_book(const Budget__RuleBook *rb)
{
	size_t i, j;

	for (i = 0; i < rb->n_regimes; i++) {
		const Budget__DeminimisRegime *rg = rb->regimes[i];

		out_kv("de-minimis regime", "%s from %s", rg->name, rg->from);
		out_kv("  ceiling", "%s over %u year(s), %s window",
		    out_eur(rg->ceiling_cents), rg->years, rg->window);
	}
	for (i = 0; i < rb->n_sets; i++) {
		const Budget__RuleSet *rs = rb->sets[i];

		if (i > 0 || rb->n_regimes > 0)
			putchar('\n');
		out_kv("rule set", "%s from %s", rs->name, rs->from);
		out_kv("  rates", "SME %s, maatwerk %s, large NIS2 %s",
		    out_rate(rs->rate_sme_bp), out_rate(rs->rate_maatwerk_bp),
		    rs->rate_large_nis2_bp ? out_rate(rs->rate_large_nis2_bp)
					   : "not eligible");
		out_kv("  max total cost", "%s",
		    rs->max_total_cost_cents ? out_eur(rs->max_total_cost_cents)
					     : "no cap");
		out_kv("  max subsidy", "%s",
		    rs->max_subsidy_cents ? out_eur(rs->max_subsidy_cents)
					  : "no cap");
		out_kv("  exclusion", "%u year(s)", rs->exclusion_years);
		for (j = 0; j < rs->n_packages; j++) {
			const Budget__Package *p = rs->packages[j];

			out_kv("  package", "%-8s %s - %s, rank %u, %s",
			    p->name, out_eur(p->min_cost_cents),
			    out_eur(p->max_cost_cents), p->rank,
			    p->extensions ? "extensions allowed"
					  : "no extensions");
		}
	}
}

int
ctl_rules_show(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"on", required_argument, NULL, 'o'},
	    {"all", no_argument, NULL, 'a'},
	    {NULL, 0, NULL, 0},
	};
	Budget__Request   req = BUDGET__REQUEST__INIT;
	Budget__RulesShow rs = BUDGET__RULES_SHOW__INIT;
	Budget__Response *resp;
	int               ch, rc;

	while ((ch = ctl_getopt(argc, argv, opts)) != -1) {
		switch (ch) {
		case 'o':
			rs.on = optarg;
			break;
		case 'a':
			rs.all = 1;
			break;
		}
	}
	ctl_operands(0, "no arguments");
	req.command_case = BUDGET__REQUEST__COMMAND_RULES_SHOW;
	req.rules_show = &rs;
	if ((resp = ctl_request(&req, BUDGET__RESPONSE__RESULT_RULES, &rc)) ==
	    NULL)
		return (rc);
	if (ctl.json)
		out_reply(ctl_json_rulebook(resp->rules), resp);
	else if (resp->rules->n_sets == 0 && resp->rules->n_regimes == 0)
		printf("no rules loaded\n");
	else
		rules_print_book(resp->rules);
	budget__response__free_unpacked(resp, NULL);
	return (EXIT_DONE);
}
