/*
 * ctl-verify.c: "verify": ask the daemon to check the whole ledger (the
 * journal's hash chain, I-4, and that replaying it gives the stored
 * balances, I-3) and say whether it holds together. A ledger that does not
 * is exit status 1, so that a cron job or a test notices without parsing.
 */
#include <stdio.h>

#include "budgetctl.h"

int
ctl_verify(int argc, char **argv)
{
	Budget__Request       req = BUDGET__REQUEST__INIT;
	Budget__VerifyRequest vr = BUDGET__VERIFY_REQUEST__INIT;
	Budget__Response     *resp;
	Budget__VerifyResult *v;
	size_t                i;
	int                   rc;

	ctl_plain_args(argc, argv, 0, "no arguments");
	req.command_case = BUDGET__REQUEST__COMMAND_VERIFY;
	req.verify = &vr;
	if ((resp = ctl_request(&req, BUDGET__RESPONSE__RESULT_VERIFY, &rc)) ==
	    NULL)
		return (rc);
	v = resp->verify;
	if (ctl.json)
		out_reply(ctl_json_verify(v), resp);
	else {
		out_kv("ok", "%s", out_yesno(v->ok));
		out_kv("entries", "%llu", (unsigned long long)v->entries);
		out_kv("head_hash", "%s", v->head_hash);
		out_kv("checked",
		    "%u contract(s), %u company(ies), %u "
		    "dossier(s)",
		    v->contracts, v->companies, v->dossiers);
		if (!v->ok && v->first_bad_seq != 0)
			out_kv("first bad entry", "%llu",
			    (unsigned long long)v->first_bad_seq);
		for (i = 0; i < v->n_problems; i++)
			out_kv(i == 0 ? "problems" : "", "%s", v->problems[i]);
		if (!v->ok)
			fprintf(stderr,
			    "budgetctl: verify: the ledger does "
			    "not hold together\n");
	}
	rc = v->ok ? EXIT_DONE : EXIT_REFUSED;
	budget__response__free_unpacked(resp, NULL);
	return (rc);
}
