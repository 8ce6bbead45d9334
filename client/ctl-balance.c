/*
 * ctl-balance.c: "balance --as-of": a contract's balances, or a company's
 * de-minimis position, as they stood after a journal entry or at a moment,
 * as the daemon replays them from the journal. Printed in the shapes of
 * "contract show" and "deminimis show", headed by the entry they stop at,
 * so that an auditor compares like with like.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budgetctl.h"

static int balance_seq_arg(const char *, uint64_t *);

/*
 * --as-of: all digits is a journal sequence number, anything else a time
 * for the daemon to judge (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS[.uuuuuu]Z).
 * Returns 1 for a sequence number, 0 for a time.
 */
static int
balance_seq_arg(const char *s, uint64_t *seq)
{
	unsigned long long v;
	size_t             i;

	for (i = 0; s[i] != '\0'; i++)
		if (s[i] < '0' || s[i] > '9')
			return (0);
	if (i == 0)
		ctl_usage_exit(ctl.cmd, "--as-of needs a value");
	v = strtoull(s, NULL, 10);
	/* Sequence numbers start at 1, and fit in 64 bits. */
	if (v == 0 || i > 20 ||
	    (i == 20 && strcmp(s, "18446744073709551615") > 0))
		ctl_usage_exit(ctl.cmd,
		    "--as-of \"%s\": a sequence number is 1 or above", s);
	*seq = (uint64_t)v;
	return (1);
}

int
ctl_balance(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"contract", required_argument, NULL, 'k'},
	    {"company", required_argument, NULL, 'c'},
	    {"as-of", required_argument, NULL, 'a'},
	    {"on", required_argument, NULL, 'o'},
	    {NULL, 0, NULL, 0},
	};
	Budget__Request        req = BUDGET__REQUEST__INIT;
	Budget__BalanceRequest br = BUDGET__BALANCE_REQUEST__INIT;
	Budget__Response      *resp;
	Budget__BalanceResult *b;
	const char            *asof = NULL;
	json_t                *o;
	int                    ch, rc;

	while ((ch = ctl_getopt(argc, argv, opts)) != -1) {
		switch (ch) {
		case 'k':
			br.contract = optarg;
			break;
		case 'c':
			br.company = optarg;
			break;
		case 'a':
			asof = optarg;
			break;
		case 'o':
			br.on = optarg;
			break;
		}
	}
	ctl_operands(0, "no operands");
	if ((*br.contract != '\0') == (*br.company != '\0'))
		ctl_usage_exit(ctl.cmd,
		    "balance takes exactly one of --contract or --company");
	if (asof == NULL)
		ctl_usage_exit(ctl.cmd, "--as-of is required");
	if (*br.on != '\0' && *br.contract != '\0')
		ctl_usage_exit(ctl.cmd, "--on is for a company's position");
	if (!balance_seq_arg(asof, &br.seq))
		br.at = (char *)(uintptr_t)asof;
	req.command_case = BUDGET__REQUEST__COMMAND_BALANCE;
	req.balance = &br;
	if ((resp = ctl_request(&req, BUDGET__RESPONSE__RESULT_BALANCE, &rc)) ==
	    NULL)
		return (rc);
	b = resp->balance;
	if ((*br.contract != '\0' && b->contract == NULL) ||
	    (*br.company != '\0' && b->deminimis == NULL)) {
		fprintf(stderr,
		    "budgetctl: balance: budgetd answered without "
		    "the balance asked for\n");
		budget__response__free_unpacked(resp, NULL);
		return (EXIT_UNREACHABLE);
	}
	if (ctl.json) {
		/* Where the replay stopped first, then the usual shape. */
		o = json_object();
		json_object_set_new(
		    o, "as_of_seq", json_integer((json_int_t)b->seq));
		json_object_set_new(o, "as_of", out_str(b->at));
		json_object_update_new(o,
		    b->contract != NULL ? ctl_json_contract(b->contract)
					: ctl_json_deminimis(b->deminimis));
		out_reply(o, resp);
	} else {
		out_kv("as of", "entry %llu, %s", (unsigned long long)b->seq,
		    b->at);
		if (b->contract != NULL)
			ctl_print_contract(b->contract);
		else
			ctl_print_deminimis(b->deminimis);
	}
	budget__response__free_unpacked(resp, NULL);
	return (EXIT_DONE);
}
