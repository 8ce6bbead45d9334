/*
 * ctl-company.c: "company add|link|merge|show": companies by enterprise
 * number, and the control links and mergers that make single
 * undertakings. Numbers are sent as typed ("BE 0123.456.749" works): the
 * daemon normalises and checks them, and answers with the ten digits that
 * are shown here as 0123.456.749. Every command answers with a company:
 * the one added, the parent of a link, the absorbing one of a merger.
 */
#include <stdio.h>
#include <strings.h>

#include "budgetctl.h"

static int                 company_reply(Budget__Request *);
static void                company_print(const Budget__Company *);
static Budget__CompanySize company_size_arg(const char *);

static int
company_reply(Budget__Request *req)
{
	Budget__Response *resp;
	int               rc;

	if ((resp = ctl_request(req, BUDGET__RESPONSE__RESULT_COMPANY, &rc)) ==
	    NULL)
		return (rc);
	if (ctl.json)
		out_reply(ctl_json_company(resp->company), resp);
	else
		company_print(resp->company);
	budget__response__free_unpacked(resp, NULL);
	return (EXIT_DONE);
}

static void
company_print(const Budget__Company *c)
{
	size_t i;

	out_kv("company", "%s", out_rid(c->number));
	out_kv("name", "%s", c->name);
	out_kv("postcode", "%s%s%s%s", c->postcode, *c->province ? " (" : "",
	    c->province, *c->province ? ")" : "");
	out_kv("size", "%s", ctl_size_name(c->size));
	out_kv("maatwerk", "%s", out_yesno(c->maatwerk));
	out_kv("nis2", "%s", out_yesno(c->nis2));
	out_kv("flemish site", "%s", out_yesno(c->flemish_establishment));
	if (*c->absorbed_into != '\0')
		out_kv("absorbed", "into %s on %s", out_rid(c->absorbed_into),
		    c->absorbed_on);
	/* The group depends on the day: say which day it is for. */
	out_kv("undertaking on", "%s", c->on);
	for (i = 0; i < c->n_undertaking; i++)
		out_kv("", "%s", out_rid(c->undertaking[i]));
}

/* --size as typed; the wire only carries the enum, so it is checked here. */
static Budget__CompanySize
company_size_arg(const char *s)
{
	static const Budget__CompanySize sizes[] = {
	    BUDGET__COMPANY_SIZE__MICRO,
	    BUDGET__COMPANY_SIZE__SMALL,
	    BUDGET__COMPANY_SIZE__MEDIUM,
	    BUDGET__COMPANY_SIZE__LARGE,
	};
	size_t i;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		if (strcasecmp(s, ctl_size_name(sizes[i])) == 0)
			return (sizes[i]);
	ctl_usage_exit(
	    ctl.cmd, "--size \"%s\": must be micro, small, medium or large", s);
}

int
ctl_company_add(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"name", required_argument, NULL, 'n'},
	    {"postcode", required_argument, NULL, 'p'},
	    {"size", required_argument, NULL, 's'},
	    {"maatwerk", no_argument, NULL, 'm'},
	    {"nis2", no_argument, NULL, '2'},
	    {"flemish-establishment", no_argument, NULL, 'f'},
	    {NULL, 0, NULL, 0},
	};
	Budget__Request    req = BUDGET__REQUEST__INIT;
	Budget__CompanyAdd ca = BUDGET__COMPANY_ADD__INIT;
	const char       **av, *size = NULL;
	char              *name = NULL, *postcode = NULL;
	int                ch;

	while ((ch = ctl_getopt(argc, argv, opts)) != -1) {
		switch (ch) {
		case 'n':
			name = optarg;
			break;
		case 'p':
			postcode = optarg;
			break;
		case 's':
			size = optarg;
			break;
		case 'm':
			ca.maatwerk = 1;
			break;
		case '2':
			ca.nis2 = 1;
			break;
		case 'f':
			ca.flemish_establishment = 1;
			break;
		}
	}
	av = ctl_operands(1, "an enterprise NUMBER");
	if (name == NULL)
		ctl_usage_exit(ctl.cmd, "--name is required");
	if (postcode == NULL)
		ctl_usage_exit(ctl.cmd, "--postcode is required");
	if (size == NULL)
		ctl_usage_exit(ctl.cmd, "--size is required");
	ca.number = (char *)(uintptr_t)av[0];
	ca.name = name;
	ca.postcode = postcode;
	ca.size = company_size_arg(size);
	req.command_case = BUDGET__REQUEST__COMMAND_COMPANY_ADD;
	req.company_add = &ca;
	return (company_reply(&req));
}

int
ctl_company_link(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"since", required_argument, NULL, 's'},
	    {"until", required_argument, NULL, 'u'},
	    {NULL, 0, NULL, 0},
	};
	Budget__Request     req = BUDGET__REQUEST__INIT;
	Budget__CompanyLink cl = BUDGET__COMPANY_LINK__INIT;
	const char        **av;
	char               *since = NULL;
	int                 ch;

	while ((ch = ctl_getopt(argc, argv, opts)) != -1) {
		switch (ch) {
		case 's':
			since = optarg;
			break;
		case 'u':
			cl.until = optarg;
			break;
		}
	}
	av = ctl_operands(2, "the PARENT and CHILD enterprise numbers");
	if (since == NULL)
		ctl_usage_exit(ctl.cmd, "--since is required");
	cl.parent = (char *)(uintptr_t)av[0];
	cl.child = (char *)(uintptr_t)av[1];
	cl.since = since;
	req.command_case = BUDGET__REQUEST__COMMAND_COMPANY_LINK;
	req.company_link = &cl;
	return (company_reply(&req));
}

int
ctl_company_merge(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"on", required_argument, NULL, 'o'},
	    {NULL, 0, NULL, 0},
	};
	Budget__Request      req = BUDGET__REQUEST__INIT;
	Budget__CompanyMerge cm = BUDGET__COMPANY_MERGE__INIT;
	const char         **av;
	char                *on = NULL;
	int                  ch;

	while ((ch = ctl_getopt(argc, argv, opts)) != -1) {
		if (ch == 'o')
			on = optarg;
	}
	av = ctl_operands(2, "the ABSORBED and INTO enterprise numbers");
	if (on == NULL)
		ctl_usage_exit(ctl.cmd, "--on is required");
	cm.absorbed = (char *)(uintptr_t)av[0];
	cm.into = (char *)(uintptr_t)av[1];
	cm.on = on;
	req.command_case = BUDGET__REQUEST__COMMAND_COMPANY_MERGE;
	req.company_merge = &cm;
	return (company_reply(&req));
}

int
ctl_company_show(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"on", required_argument, NULL, 'o'},
	    {NULL, 0, NULL, 0},
	};
	Budget__Request     req = BUDGET__REQUEST__INIT;
	Budget__CompanyShow cs = BUDGET__COMPANY_SHOW__INIT;
	const char        **av;
	int                 ch;

	while ((ch = ctl_getopt(argc, argv, opts)) != -1) {
		if (ch == 'o')
			cs.on = optarg;
	}
	av = ctl_operands(1, "an enterprise NUMBER");
	cs.number = (char *)(uintptr_t)av[0];
	req.command_case = BUDGET__REQUEST__COMMAND_COMPANY_SHOW;
	req.company_show = &cs;
	return (company_reply(&req));
}
