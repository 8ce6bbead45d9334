/*
 * ctl-contract.c: "contract open|amend|close|show|list": a provider's lot
 * under a framework and its budget in subsidy euros. Every command but
 * list answers with the contract as it now stands.
 */
#include <stdio.h>
#include <string.h>

#include "budgetctl.h"

/* The columns of "contract list" whose values are amounts. */
#define CONTRACT_NAMOUNTS 5

static int    contract_reply(Budget__Request *);
static size_t contract_width(const char *);
static void   contract_cell(const char *, size_t, int);

/* Send a contract command and print the contract it answers with. */
static int
contract_reply(Budget__Request *req)
{
	Budget__Response *resp;
	int               rc;

	if ((resp = ctl_request(req, BUDGET__RESPONSE__RESULT_CONTRACT, &rc)) ==
	    NULL)
		return (rc);
	if (ctl.json)
		out_reply(ctl_json_contract(resp->contract), resp);
	else
		ctl_print_contract(resp->contract);
	budget__response__free_unpacked(resp, NULL);
	return (EXIT_DONE);
}

void
ctl_print_contract(const Budget__Contract *c)
{
	out_kv("contract", "%s", c->id);
	out_kv("provider", "%s", c->provider);
	out_kv("framework", "%s", c->framework);
	out_kv("budget", "%s", out_eur(c->budget_cents));
	out_kv("reserved", "%s", out_eur(c->reserved_cents));
	out_kv("committed", "%s", out_eur(c->committed_cents));
	out_kv("paid", "%s", out_eur(c->paid_cents));
	out_kv("available", "%s", out_eur(c->available_cents));
	out_kv("closed", "%s", out_yesno(c->closed));
	out_kv("dossiers", "%u", c->dossiers);
}

int
ctl_contract_open(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"provider", required_argument, NULL, 'p'},
	    {"framework", required_argument, NULL, 'f'},
	    {"budget", required_argument, NULL, 'b'},
	    {NULL, 0, NULL, 0},
	};
	Budget__Request      req = BUDGET__REQUEST__INIT;
	Budget__ContractOpen co = BUDGET__CONTRACT_OPEN__INIT;
	const char         **av, *budget = NULL;
	char                *provider = NULL, *framework = NULL;
	int                  ch;

	while ((ch = ctl_getopt(argc, argv, opts)) != -1) {
		switch (ch) {
		case 'p':
			provider = optarg;
			break;
		case 'f':
			framework = optarg;
			break;
		case 'b':
			budget = optarg;
			break;
		}
	}
	av = ctl_operands(1, "a contract ID");
	if (provider == NULL)
		ctl_usage_exit(ctl.cmd, "--provider is required");
	if (framework == NULL)
		ctl_usage_exit(ctl.cmd, "--framework is required");
	if (budget == NULL)
		ctl_usage_exit(ctl.cmd, "--budget is required");
	co.id = (char *)(uintptr_t)av[0];
	co.provider = provider;
	co.framework = framework;
	co.budget_cents = ctl_money_arg("--budget", budget, 0);
	req.command_case = BUDGET__REQUEST__COMMAND_CONTRACT_OPEN;
	req.contract_open = &co;
	return (contract_reply(&req));
}

int
ctl_contract_amend(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"budget", required_argument, NULL, 'b'},
	    {"reason", required_argument, NULL, 'r'},
	    {NULL, 0, NULL, 0},
	};
	Budget__Request       req = BUDGET__REQUEST__INIT;
	Budget__ContractAmend ca = BUDGET__CONTRACT_AMEND__INIT;
	const char          **av, *budget = NULL;
	char                 *reason = NULL;
	int                   ch;

	while ((ch = ctl_getopt(argc, argv, opts)) != -1) {
		switch (ch) {
		case 'b':
			budget = optarg;
			break;
		case 'r':
			reason = optarg;
			break;
		}
	}
	av = ctl_operands(1, "a contract ID");
	if (budget == NULL)
		ctl_usage_exit(ctl.cmd, "--budget is required");
	if (reason == NULL)
		ctl_usage_exit(ctl.cmd, "--reason is required");
	ca.id = (char *)(uintptr_t)av[0];
	ca.budget_cents = ctl_money_arg("--budget", budget, 0);
	ca.reason = reason;
	req.command_case = BUDGET__REQUEST__COMMAND_CONTRACT_AMEND;
	req.contract_amend = &ca;
	return (contract_reply(&req));
}

int
ctl_contract_close(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"reason", required_argument, NULL, 'r'},
	    {NULL, 0, NULL, 0},
	};
	Budget__Request       req = BUDGET__REQUEST__INIT;
	Budget__ContractClose cc = BUDGET__CONTRACT_CLOSE__INIT;
	const char          **av;
	int                   ch;

	while ((ch = ctl_getopt(argc, argv, opts)) != -1) {
		if (ch == 'r')
			cc.reason = optarg;
	}
	av = ctl_operands(1, "a contract ID");
	cc.id = (char *)(uintptr_t)av[0];
	req.command_case = BUDGET__REQUEST__COMMAND_CONTRACT_CLOSE;
	req.contract_close = &cc;
	return (contract_reply(&req));
}

int
ctl_contract_show(int argc, char **argv)
{
	Budget__Request      req = BUDGET__REQUEST__INIT;
	Budget__ContractShow cs = BUDGET__CONTRACT_SHOW__INIT;
	const char         **av;

	av = ctl_plain_args(argc, argv, 1, "a contract ID");
	cs.id = (char *)(uintptr_t)av[0];
	req.command_case = BUDGET__REQUEST__COMMAND_CONTRACT_SHOW;
	req.contract_show = &cs;
	return (contract_reply(&req));
}

/*
 * Columns are as wide as their widest cell; a cell's width counts
 * characters, not bytes, so that "Sécurité NV" lines up.
 */
static size_t
contract_width(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return (n);
}

/* One cell and the gap after it; amounts are right-aligned. */
static void
contract_cell(const char *s, size_t width, int right)
{
	size_t pad = width - contract_width(s);

	if (right)
		printf("%*s%s  ", (int)pad, "", s);
	else
		printf("%s%*s  ", s, (int)pad, "");
}

int
ctl_contract_list(int argc, char **argv)
{
	static const char   *head[] = {"id", "provider", "framework", "budget",
	      "reserved", "committed", "paid", "available", "closed"};
	Budget__Request      req = BUDGET__REQUEST__INIT;
	Budget__ContractList cl = BUDGET__CONTRACT_LIST__INIT;
	Budget__Response    *resp;
	Budget__ContractListResult *r;
	json_t                     *o, *a;
	size_t                      w[9], i, j;
	int                         rc;

	ctl_plain_args(argc, argv, 0, "no arguments");
	req.command_case = BUDGET__REQUEST__COMMAND_CONTRACT_LIST;
	req.contract_list = &cl;
	if ((resp = ctl_request(
		 &req, BUDGET__RESPONSE__RESULT_CONTRACTS, &rc)) == NULL)
		return (rc);
	r = resp->contracts;
	if (ctl.json) {
		o = json_object();
		a = json_array();
		for (i = 0; i < r->n_contracts; i++)
			json_array_append_new(
			    a, ctl_json_contract(r->contracts[i]));
		json_object_set_new(o, "contracts", a);
		out_reply(o, resp);
		budget__response__free_unpacked(resp, NULL);
		return (EXIT_DONE);
	}
	if (r->n_contracts == 0) {
		printf("no contracts\n");
		budget__response__free_unpacked(resp, NULL);
		return (EXIT_DONE);
	}
	for (j = 0; j < 9; j++)
		w[j] = strlen(head[j]);
	for (i = 0; i < r->n_contracts; i++) {
		const Budget__Contract *c = r->contracts[i];
		const int64_t           m[CONTRACT_NAMOUNTS] = {c->budget_cents,
			      c->reserved_cents, c->committed_cents, c->paid_cents,
			      c->available_cents};

		if (contract_width(c->id) > w[0])
			w[0] = contract_width(c->id);
		if (contract_width(c->provider) > w[1])
			w[1] = contract_width(c->provider);
		if (contract_width(c->framework) > w[2])
			w[2] = contract_width(c->framework);
		for (j = 0; j < CONTRACT_NAMOUNTS; j++)
			if (strlen(out_amount(m[j])) > w[3 + j])
				w[3 + j] = strlen(out_amount(m[j]));
	}
	/* Amounts in EUR without the unit in every cell: the table is wide. */
	for (j = 0; j < 8; j++)
		contract_cell(head[j], w[j], j >= 3);
	printf("%s\n", head[8]);
	for (i = 0; i < r->n_contracts; i++) {
		const Budget__Contract *c = r->contracts[i];
		const int64_t           m[CONTRACT_NAMOUNTS] = {c->budget_cents,
			      c->reserved_cents, c->committed_cents, c->paid_cents,
			      c->available_cents};

		contract_cell(c->id, w[0], 0);
		contract_cell(c->provider, w[1], 0);
		contract_cell(c->framework, w[2], 0);
		for (j = 0; j < CONTRACT_NAMOUNTS; j++)
			contract_cell(out_amount(m[j]), w[3 + j], 1);
		printf("%s\n", out_yesno(c->closed));
	}
	budget__response__free_unpacked(resp, NULL);
	return (EXIT_DONE);
}
