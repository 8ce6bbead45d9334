/*
 * ctl-dossier.c: the dossier lifecycle from the command line (SPEC §2):
 * reserve, approve, amend, cancel, withdraw, pay, complete, close, show.
 * Amounts and durations are checked here (a slip is a usage error naming
 * the option); dates, ids, packages and states are the daemon's to judge.
 * Every command answers with the dossier as it now stands.
 */
#include <stdio.h>

#include "budgetctl.h"

static int  dossier_reply(Budget__Request *);
static void dossier_print(const Budget__Dossier *);
static int  dossier_reason_cmd(int, char **, int);
static int  dossier_id_cmd(int, char **, Budget__Request__CommandCase);

static int
dossier_reply(Budget__Request *req)
{
	Budget__Response *resp;
	int               rc;

	if ((resp = ctl_request(req, BUDGET__RESPONSE__RESULT_DOSSIER, &rc)) ==
	    NULL)
		return (rc);
	if (ctl.json)
		out_reply(ctl_json_dossier(resp->dossier), resp);
	else
		dossier_print(resp->dossier);
	budget__response__free_unpacked(resp, NULL);
	return (EXIT_DONE);
}

static void
dossier_print(const Budget__Dossier *d)
{
	size_t i;

	out_kv("dossier", "%s", d->id);
	out_kv("state", "%s", d->state);
	out_kv("company", "%s", out_rid(d->company));
	out_kv("contract", "%s", d->contract);
	out_kv("package", "%s", d->package);
	out_kv("cost", "%s", out_eur(d->cost_cents));
	out_kv("extension cost", "%s", out_eur(d->extension_cost_cents));
	out_kv("subsidy", "%s", out_eur(d->subsidy_cents));
	out_kv("granted", "%s", out_eur(d->granted_cents));
	out_kv("pending", "%s", out_eur(d->pending_cents));
	out_kv("paid", "%s", out_eur(d->paid_cents));
	if (*d->rule_set != '\0')
		out_kv(
		    "rule set", "%s at %s", d->rule_set, out_rate(d->rate_bp));
	if (*d->reserved_on != '\0')
		out_kv("reserved on", "%s", d->reserved_on);
	if (*d->first_decision != '\0')
		out_kv("first decision", "%s", d->first_decision);
	if (*d->expires_at != '\0')
		out_kv("expires at", "%s", d->expires_at);
	/*
	 * While an amendment waits for approval the totals above are the
	 * ones it asks for; say so, or the subsidy looks granted.
	 */
	if (*d->pending_package != '\0')
		out_kv("amendment",
		    "to %s, cost %s, extensions %s: awaiting "
		    "approval",
		    d->pending_package, out_eur(d->pending_cost_cents),
		    out_eur(d->pending_extension_cost_cents));
	for (i = 0; i < d->n_grants; i++) {
		const Budget__GrantEvent *g = d->grants[i];

		out_kv(i == 0 ? "grants" : "", "%s  %-9s  %16s  effective %s",
		    g->decision_date, g->kind, out_eur(g->amount_cents),
		    out_eur(g->effective_cents));
	}
}

int
ctl_dossier_reserve(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"company", required_argument, NULL, 'C'},
	    {"contract", required_argument, NULL, 'k'},
	    {"package", required_argument, NULL, 'p'},
	    {"cost", required_argument, NULL, 'c'},
	    {"extension-cost", required_argument, NULL, 'e'},
	    {"date", required_argument, NULL, 'd'},
	    {"ttl", required_argument, NULL, 't'},
	    {NULL, 0, NULL, 0},
	};
	Budget__Request        req = BUDGET__REQUEST__INIT;
	Budget__DossierReserve dr = BUDGET__DOSSIER_RESERVE__INIT;
	const char           **av, *cost = NULL, *ext = NULL, *ttl = NULL;
	char                  *company = NULL, *contract = NULL, *pkg = NULL;
	int                    ch;

	while ((ch = ctl_getopt(argc, argv, opts)) != -1) {
		switch (ch) {
		case 'C':
			company = optarg;
			break;
		case 'k':
			contract = optarg;
			break;
		case 'p':
			pkg = optarg;
			break;
		case 'c':
			cost = optarg;
			break;
		case 'e':
			ext = optarg;
			break;
		case 'd':
			dr.date = optarg;
			break;
		case 't':
			ttl = optarg;
			break;
		}
	}
	av = ctl_operands(1, "a dossier ID");
	if (company == NULL)
		ctl_usage_exit(ctl.cmd, "--company is required");
	if (contract == NULL)
		ctl_usage_exit(ctl.cmd, "--contract is required");
	if (pkg == NULL)
		ctl_usage_exit(ctl.cmd, "--package is required");
	if (cost == NULL)
		ctl_usage_exit(ctl.cmd, "--cost is required");
	dr.id = (char *)(uintptr_t)av[0];
	dr.company = company;
	dr.contract = contract;
	dr.package = pkg;
	dr.cost_cents = ctl_money_arg("--cost", cost, 0);
	/* 0 is "no extensions", the same as leaving the option out. */
	if (ext != NULL)
		dr.extension_cost_cents =
		    ctl_money_arg("--extension-cost", ext, 1);
	if (ttl != NULL)
		dr.ttl_seconds = ctl_duration_arg("--ttl", ttl);
	req.command_case = BUDGET__REQUEST__COMMAND_DOSSIER_RESERVE;
	req.dossier_reserve = &dr;
	return (dossier_reply(&req));
}

int
ctl_dossier_approve(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"decision-date", required_argument, NULL, 'd'},
	    {NULL, 0, NULL, 0},
	};
	Budget__Request        req = BUDGET__REQUEST__INIT;
	Budget__DossierApprove da = BUDGET__DOSSIER_APPROVE__INIT;
	const char           **av;
	int                    ch;

	while ((ch = ctl_getopt(argc, argv, opts)) != -1) {
		if (ch == 'd')
			da.decision_date = optarg;
	}
	av = ctl_operands(1, "a dossier ID");
	da.id = (char *)(uintptr_t)av[0];
	req.command_case = BUDGET__REQUEST__COMMAND_DOSSIER_APPROVE;
	req.dossier_approve = &da;
	return (dossier_reply(&req));
}

/*
 * An amendment states new totals; what it leaves out stays as it is, so
 * the cost and extension cost travel as Cents submessages that are
 * absent (NULL) unless given: an extension cost of 0 is a value.
 */
int
ctl_dossier_amend(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"package", required_argument, NULL, 'p'},
	    {"cost", required_argument, NULL, 'c'},
	    {"extension-cost", required_argument, NULL, 'e'},
	    {"ttl", required_argument, NULL, 't'},
	    {NULL, 0, NULL, 0},
	};
	Budget__Request      req = BUDGET__REQUEST__INIT;
	Budget__DossierAmend da = BUDGET__DOSSIER_AMEND__INIT;
	Budget__Cents        cost = BUDGET__CENTS__INIT;
	Budget__Cents        ext = BUDGET__CENTS__INIT;
	const char         **av, *costs = NULL, *exts = NULL, *ttl = NULL;
	char                *pkg = NULL;
	int                  ch;

	while ((ch = ctl_getopt(argc, argv, opts)) != -1) {
		switch (ch) {
		case 'p':
			pkg = optarg;
			break;
		case 'c':
			costs = optarg;
			break;
		case 'e':
			exts = optarg;
			break;
		case 't':
			ttl = optarg;
			break;
		}
	}
	av = ctl_operands(1, "a dossier ID");
	if (pkg == NULL && costs == NULL && exts == NULL)
		ctl_usage_exit(ctl.cmd,
		    "an amendment needs --package, --cost "
		    "or --extension-cost");
	da.id = (char *)(uintptr_t)av[0];
	if (pkg != NULL)
		da.package = pkg;
	if (costs != NULL) {
		cost.cents = ctl_money_arg("--cost", costs, 0);
		da.cost = &cost;
	}
	if (exts != NULL) {
		ext.cents = ctl_money_arg("--extension-cost", exts, 1);
		da.extension_cost = &ext;
	}
	if (ttl != NULL)
		da.ttl_seconds = ctl_duration_arg("--ttl", ttl);
	req.command_case = BUDGET__REQUEST__COMMAND_DOSSIER_AMEND;
	req.dossier_amend = &da;
	return (dossier_reply(&req));
}

/* cancel and withdraw: a dossier ID and a --reason, nothing else. */
static int
dossier_reason_cmd(int argc, char **argv, int withdraw)
{
	static const struct option opts[] = {
	    {"reason", required_argument, NULL, 'r'},
	    {NULL, 0, NULL, 0},
	};
	Budget__Request         req = BUDGET__REQUEST__INIT;
	Budget__DossierCancel   dc = BUDGET__DOSSIER_CANCEL__INIT;
	Budget__DossierWithdraw dw = BUDGET__DOSSIER_WITHDRAW__INIT;
	const char            **av;
	char                   *reason = NULL;
	int                     ch;

	while ((ch = ctl_getopt(argc, argv, opts)) != -1) {
		if (ch == 'r')
			reason = optarg;
	}
	av = ctl_operands(1, "a dossier ID");
	if (reason == NULL)
		ctl_usage_exit(ctl.cmd, "--reason is required");
	if (withdraw) {
		dw.id = (char *)(uintptr_t)av[0];
		dw.reason = reason;
		req.command_case = BUDGET__REQUEST__COMMAND_DOSSIER_WITHDRAW;
		req.dossier_withdraw = &dw;
	} else {
		dc.id = (char *)(uintptr_t)av[0];
		dc.reason = reason;
		req.command_case = BUDGET__REQUEST__COMMAND_DOSSIER_CANCEL;
		req.dossier_cancel = &dc;
	}
	return (dossier_reply(&req));
}

int
ctl_dossier_cancel(int argc, char **argv)
{
	return (dossier_reason_cmd(argc, argv, 0));
}

int
ctl_dossier_withdraw(int argc, char **argv)
{
	return (dossier_reason_cmd(argc, argv, 1));
}

int
ctl_dossier_pay(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"amount", required_argument, NULL, 'a'},
	    {NULL, 0, NULL, 0},
	};
	Budget__Request    req = BUDGET__REQUEST__INIT;
	Budget__DossierPay dp = BUDGET__DOSSIER_PAY__INIT;
	const char       **av, *amount = NULL;
	int                ch;

	while ((ch = ctl_getopt(argc, argv, opts)) != -1) {
		if (ch == 'a')
			amount = optarg;
	}
	av = ctl_operands(1, "a dossier ID");
	if (amount == NULL)
		ctl_usage_exit(ctl.cmd, "--amount is required");
	dp.id = (char *)(uintptr_t)av[0];
	dp.amount_cents = ctl_money_arg("--amount", amount, 0);
	req.command_case = BUDGET__REQUEST__COMMAND_DOSSIER_PAY;
	req.dossier_pay = &dp;
	return (dossier_reply(&req));
}

/*
 * complete, close and show: a dossier ID alone. Their requests are all
 * { string id = 1; }, but each has its own type and oneof case.
 */
static int
dossier_id_cmd(int argc, char **argv, Budget__Request__CommandCase which)
{
	Budget__Request         req = BUDGET__REQUEST__INIT;
	Budget__DossierComplete dco = BUDGET__DOSSIER_COMPLETE__INIT;
	Budget__DossierClose    dcl = BUDGET__DOSSIER_CLOSE__INIT;
	Budget__DossierShow     ds = BUDGET__DOSSIER_SHOW__INIT;
	const char            **av;
	char                   *id;

	av = ctl_plain_args(argc, argv, 1, "a dossier ID");
	id = (char *)(uintptr_t)av[0];
	req.command_case = which;
	switch (which) {
	case BUDGET__REQUEST__COMMAND_DOSSIER_COMPLETE:
		dco.id = id;
		req.dossier_complete = &dco;
		break;
	case BUDGET__REQUEST__COMMAND_DOSSIER_CLOSE:
		dcl.id = id;
		req.dossier_close = &dcl;
		break;
	default:
		ds.id = id;
		req.dossier_show = &ds;
		break;
	}
	return (dossier_reply(&req));
}

int
ctl_dossier_complete(int argc, char **argv)
{
	return (dossier_id_cmd(
	    argc, argv, BUDGET__REQUEST__COMMAND_DOSSIER_COMPLETE));
}

int
ctl_dossier_close(int argc, char **argv)
{
	return (
	    dossier_id_cmd(argc, argv, BUDGET__REQUEST__COMMAND_DOSSIER_CLOSE));
}

int
ctl_dossier_show(int argc, char **argv)
{
	return (
	    dossier_id_cmd(argc, argv, BUDGET__REQUEST__COMMAND_DOSSIER_SHOW));
}
