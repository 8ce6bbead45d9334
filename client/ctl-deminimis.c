/*
 * ctl-deminimis.c: "deminimis declare|show": de-minimis aid a company got
 * elsewhere, and a company's position against the ceiling on a day (R-DM):
 * what its single undertaking used in the window, what is pending, what is
 * left. Both answer with the position (declare: on the grant date).
 */
#include <stdio.h>

#include "budgetctl.h"

static int deminimis_reply(Budget__Request *);

static int
deminimis_reply(Budget__Request *req)
{
	Budget__Response *resp;
	int               rc;

	if ((resp = ctl_request(
		 req, BUDGET__RESPONSE__RESULT_DEMINIMIS, &rc)) == NULL)
		return (rc);
	if (ctl.json)
		out_reply(ctl_json_deminimis(resp->deminimis), resp);
	else
		ctl_print_deminimis(resp->deminimis);
	budget__response__free_unpacked(resp, NULL);
	return (EXIT_DONE);
}

void
ctl_print_deminimis(const Budget__DeminimisPosition *p)
{
	size_t i;

	out_kv("company", "%s", out_rid(p->number));
	out_kv("on", "%s", p->on);
	out_kv("regime", "%s", p->regime);
	out_kv("window", "%s to %s", p->window_start, p->window_end);
	out_kv("ceiling", "%s", out_eur(p->ceiling_cents));
	out_kv("used", "%s", out_eur(p->used_cents));
	out_kv("pending", "%s", out_eur(p->pending_cents));
	out_kv("available", "%s", out_eur(p->available_cents));
	for (i = 0; i < p->n_undertaking; i++)
		out_kv(i == 0 ? "undertaking" : "", "%s",
		    out_rid(p->undertaking[i]));
	/* Grants in the window: whose, when, how much, from where. */
	for (i = 0; i < p->n_grants; i++) {
		const Budget__DeminimisGrant *g = p->grants[i];

		out_kv(i == 0 ? "grants" : "", "%s  %s  %16s  %s%s%s", g->date,
		    out_rid(g->company), out_eur(g->amount_cents), g->source,
		    *g->dossier ? " dossier " : "", g->dossier);
	}
}

int
ctl_deminimis_declare(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"amount", required_argument, NULL, 'a'},
	    {"granted", required_argument, NULL, 'g'},
	    {"source", required_argument, NULL, 's'},
	    {NULL, 0, NULL, 0},
	};
	Budget__Request          req = BUDGET__REQUEST__INIT;
	Budget__DeminimisDeclare dd = BUDGET__DEMINIMIS_DECLARE__INIT;
	const char             **av, *amount = NULL;
	char                    *granted = NULL, *source = NULL;
	int                      ch;

	while ((ch = ctl_getopt(argc, argv, opts)) != -1) {
		switch (ch) {
		case 'a':
			amount = optarg;
			break;
		case 'g':
			granted = optarg;
			break;
		case 's':
			source = optarg;
			break;
		}
	}
	av = ctl_operands(1, "an enterprise NUMBER");
	if (amount == NULL)
		ctl_usage_exit(ctl.cmd, "--amount is required");
	if (granted == NULL)
		ctl_usage_exit(ctl.cmd, "--granted is required");
	if (source == NULL)
		ctl_usage_exit(ctl.cmd, "--source is required");
	dd.number = (char *)(uintptr_t)av[0];
	dd.amount_cents = ctl_money_arg("--amount", amount, 0);
	dd.granted = granted;
	dd.source = source;
	req.command_case = BUDGET__REQUEST__COMMAND_DEMINIMIS_DECLARE;
	req.deminimis_declare = &dd;
	return (deminimis_reply(&req));
}

int
ctl_deminimis_show(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"on", required_argument, NULL, 'o'},
	    {NULL, 0, NULL, 0},
	};
	Budget__Request       req = BUDGET__REQUEST__INIT;
	Budget__DeminimisShow ds = BUDGET__DEMINIMIS_SHOW__INIT;
	const char          **av;
	int                   ch;

	while ((ch = ctl_getopt(argc, argv, opts)) != -1) {
		if (ch == 'o')
			ds.on = optarg;
	}
	av = ctl_operands(1, "an enterprise NUMBER");
	ds.number = (char *)(uintptr_t)av[0];
	req.command_case = BUDGET__REQUEST__COMMAND_DEMINIMIS_SHOW;
	req.deminimis_show = &ds;
	return (deminimis_reply(&req));
}
