/*
 * budgetctl.c: main and the grammar table. Owns the global options (which
 * may stand anywhere on the line), finding the command from its words,
 * parsing a command's own options and operands (ctl_getopt, ctl_operands)
 * and the arguments checked here rather than by the daemon (amounts,
 * durations), request ids for commands that change the ledger, and the exit
 * statuses.
 */
#include <sys/random.h>

#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budget/date.h"
#include "budget/money.h"
#include "budget/protocol.h"
#include "budgetctl.h"

struct ctl ctl = {.fd = -1, .timeout = 0};

/*
 * How long to wait for an answer when --timeout is not given. Reads that
 * walk the whole ledger take their time on a big one (verify: some
 * seconds per million entries, more the first time after a restart):
 * those wait up to an hour, everything else 30 seconds.
 */
#define CTL_TIMEOUT      30
#define CTL_TIMEOUT_LONG 3600
static const char *const ctl_long_reads[] = {
    "verify", "report", "export", "history", "balance", "drawdown", "backup"};

static int
ctl_default_timeout(const struct ctl_command *cmd)
{
	size_t i;

	for (i = 0; i < sizeof(ctl_long_reads) / sizeof(ctl_long_reads[0]); i++)
		if (strcmp(cmd->words, ctl_long_reads[i]) == 0)
			return (CTL_TIMEOUT_LONG);
	return (CTL_TIMEOUT);
}

/*
 * Keep in the order of SPEC §7. mutates = 1: the command changes the ledger
 * and so carries a request id (generated here when none is given).
 */
static const struct ctl_command ctl_commands[] = {
    {"status", 0, ctl_status, ""},
    {"rules load", 1, ctl_rules_load, "FILE"},
    {"rules show", 0, ctl_rules_show, "[--on DATE] [--all]"},
    {"contract open", 1, ctl_contract_open,
	"ID --provider NAME --framework FW --budget EUR"},
    {"contract amend", 1, ctl_contract_amend, "ID --budget EUR --reason TEXT"},
    {"contract close", 1, ctl_contract_close, "ID [--reason TEXT]"},
    {"contract show", 0, ctl_contract_show, "ID"},
    {"contract list", 0, ctl_contract_list, ""},
    {"company add", 1, ctl_company_add,
	"NUMBER --name NAME --postcode PC --size micro|small|medium|large "
	"[--maatwerk] [--nis2] [--flemish-establishment]"},
    {"company link", 1, ctl_company_link,
	"PARENT CHILD --since DATE [--until DATE]"},
    {"company merge", 1, ctl_company_merge, "ABSORBED INTO --on DATE"},
    {"company show", 0, ctl_company_show, "NUMBER [--on DATE]"},
    {"deminimis declare", 1, ctl_deminimis_declare,
	"NUMBER --amount EUR --granted DATE --source TEXT"},
    {"deminimis show", 0, ctl_deminimis_show, "NUMBER [--on DATE]"},
    {"dossier reserve", 1, ctl_dossier_reserve,
	"ID --company NUMBER --contract ID --package PKG --cost EUR "
	"[--extension-cost EUR] [--date DATE] [--ttl DURATION]"},
    {"dossier approve", 1, ctl_dossier_approve, "ID [--decision-date DATE]"},
    {"dossier amend", 1, ctl_dossier_amend,
	"ID [--package PKG] [--cost EUR] [--extension-cost TOTAL_EUR] "
	"[--ttl DURATION]"},
    {"dossier cancel", 1, ctl_dossier_cancel, "ID --reason TEXT"},
    {"dossier withdraw", 1, ctl_dossier_withdraw, "ID --reason TEXT"},
    {"dossier pay", 1, ctl_dossier_pay, "ID --amount EUR"},
    {"dossier complete", 1, ctl_dossier_complete, "ID"},
    {"dossier close", 1, ctl_dossier_close, "ID"},
    {"dossier show", 0, ctl_dossier_show, "ID"},
    {"history", 0, ctl_history,
	"(--dossier ID | --company NUMBER | --contract ID) [--since T] "
	"[--until T] [--limit N]"},
    {"balance", 0, ctl_balance,
	"(--contract ID | --company NUMBER [--on DATE]) --as-of (SEQ | T)"},
    {"report", 0, ctl_report,
	"--by DIM[,DIM...] [--from DATE] [--to DATE] [--csv]"},
    {"drawdown", 0, ctl_drawdown, "--contract ID [--svg FILE]"},
    {"verify", 0, ctl_verify, ""},
    {"export", 0, ctl_export, "[--format jsonl|csv] [--since SEQ]"},
    {"backup", 0, ctl_backup, "PATH"},
};
#define NCOMMANDS (sizeof(ctl_commands) / sizeof(ctl_commands[0]))

/* A command's operands, gathered by ctl_getopt in the order typed. */
#define CTL_OPERANDS_MAX 8
static const char *ctl_operand[CTL_OPERANDS_MAX + 1];
static int         ctl_noperands;

static __dead void               usage(void);
static void                      usage_noun(const char *);
static int                       ctl_globals(int, char **);
static const struct ctl_command *ctl_find(int, char **, int *);
static void                      ctl_operand_add(const char *);
static void                      ctl_make_request_id(void);

static __dead void
usage(void)
{
	size_t i;

	fprintf(stderr,
	    "usage: budgetctl [-s socket] [--json] "
	    "[--request-id ID] [--timeout SECS] command [args]\n\ncommands:\n");
	for (i = 0; i < NCOMMANDS; i++)
		fprintf(stderr, "  %s%s%s\n", ctl_commands[i].words,
		    *ctl_commands[i].usage ? " " : "", ctl_commands[i].usage);
	exit(EXIT_USAGE);
}

/*
 * "budgetctl contract" or "budgetctl contract frobnicate": a known noun
 * without a known verb. Listing that noun's commands helps more than the
 * whole table. Returns when noun is not the first word of any command.
 */
static void
usage_noun(const char *noun)
{
	size_t len = strlen(noun), i;
	int    n = 0;

	for (i = 0; i < NCOMMANDS; i++) {
		if (strncmp(ctl_commands[i].words, noun, len) != 0 ||
		    ctl_commands[i].words[len] != ' ')
			continue;
		if (n++ == 0)
			fprintf(stderr,
			    "budgetctl: %s: unknown or missing subcommand\n"
			    "usage:\n",
			    noun);
		fprintf(stderr, "  budgetctl %s%s%s\n", ctl_commands[i].words,
		    *ctl_commands[i].usage ? " " : "", ctl_commands[i].usage);
	}
	if (n > 0)
		exit(EXIT_USAGE);
}

void
ctl_usage_exit(const struct ctl_command *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "budgetctl: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (cmd != NULL)
		fprintf(stderr, "usage: budgetctl %s%s%s\n", cmd->words,
		    *cmd->usage ? " " : "", cmd->usage);
	exit(EXIT_USAGE);
}

static void
ctl_operand_add(const char *s)
{
	if (ctl_noperands == CTL_OPERANDS_MAX)
		ctl_usage_exit(ctl.cmd, "too many arguments");
	ctl_operand[ctl_noperands++] = s;
}

/*
 * getopt_long for the running command: returns the next option's val (its
 * value in optarg) or -1 at the end. Operands are collected in the order
 * typed, wherever they stand among the options ("-" in the optstring
 * returns them as they come, so this works under POSIXLY_CORRECT too); an
 * unknown option or one without its value is a usage error, reported
 * here with the command's usage line. Expects optind = 1 at the first call.
 */
int
ctl_getopt(int argc, char **argv, const struct option *opts)
{
	const char *a;
	int         ch, at;

	for (;;) {
		/* The argument getopt_long looks at, to name it in errors. */
		at = optind;
		/* ":" after "-": we print the errors, naming the command. */
		ch = getopt_long(argc, argv, "-:", opts, NULL);
		a = at < argc ? argv[at] : "";
		switch (ch) {
		case 1:
			ctl_operand_add(optarg);
			break;
		case -1:
			/* After "--" everything is an operand. */
			while (optind < argc)
				ctl_operand_add(argv[optind++]);
			return (-1);
		case ':':
			ctl_usage_exit(ctl.cmd, "%s needs a value", a);
		case '?':
			/* optopt is also set for "--flag=value": look at a. */
			if (strncmp(a, "--", 2) != 0)
				ctl_usage_exit(
				    ctl.cmd, "unknown option -%c", optopt);
			if (strchr(a, '=') != NULL)
				ctl_usage_exit(ctl.cmd,
				    "unknown option %s, or one that takes no "
				    "value",
				    a);
			ctl_usage_exit(ctl.cmd, "unknown option %s", a);
		default:
			return (ch);
		}
	}
}

/*
 * The operands once ctl_getopt has returned -1: exactly n of them, else a
 * usage error saying what is missing ("a dossier id"). The array is
 * NULL-terminated and lives until exit.
 */
const char **
ctl_operands(int n, const char *what)
{
	if (ctl_noperands < n)
		ctl_usage_exit(ctl.cmd, "%s needs %s", ctl.cmd->words, what);
	if (ctl_noperands > n)
		ctl_usage_exit(
		    ctl.cmd, "unexpected argument \"%s\"", ctl_operand[n]);
	return (ctl_operand);
}

/* A command without options: exactly n operands (see ctl_operands). */
const char **
ctl_plain_args(int argc, char **argv, int n, const char *what)
{
	static const struct option none[] = {{NULL, 0, NULL, 0}};

	/* With no options known, this returns -1 or exits. */
	while (ctl_getopt(argc, argv, none) != -1)
		continue;
	return (ctl_operands(n, what));
}

/*
 * An amount typed in euros for option opt ("--budget"), as cents. The
 * client checks amounts itself so that a slip ("4250,50", "-5", "1.005")
 * is a usage error naming the option, before anything is sent; zero passes
 * only where it means "none" (allow_zero).
 */
int64_t
ctl_money_arg(const char *opt, const char *s, int allow_zero)
{
	const char *why;
	int64_t     cents;

	if (money_parse(s, &cents, &why) == -1)
		ctl_usage_exit(ctl.cmd, "%s \"%s\": %s", opt, s, why);
	if (cents == 0 && !allow_zero)
		ctl_usage_exit(ctl.cmd, "%s must be above zero", opt);
	return (cents);
}

/* A duration for option opt ("--ttl"): "90s", "60d"; in seconds. */
int64_t
ctl_duration_arg(const char *opt, const char *s)
{
	const char *why;
	int64_t     secs;

	if (duration_parse(s, &secs, &why) == -1)
		ctl_usage_exit(ctl.cmd, "%s \"%s\": %s", opt, s, why);
	return (secs);
}

/*
 * Take the global options out of argv wherever they stand, so that
 * "budgetctl contract show X --json" works like "budgetctl --json ...".
 * Returns the new argc; argv keeps only command words and their options.
 */
static int
ctl_globals(int argc, char **argv)
{
	int   i, o = 1;
	char *end;
	long  t;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--json") == 0)
			ctl.json = 1;
		else if (strcmp(a, "-s") == 0 || strcmp(a, "--socket") == 0 ||
		    strcmp(a, "--request-id") == 0 ||
		    strcmp(a, "--timeout") == 0) {
			if (i + 1 >= argc)
				ctl_usage_exit(NULL, "%s needs a value", a);
			if (a[1] == 's' || a[2] == 's')
				ctl.socket = argv[++i];
			else if (a[2] == 'r')
				ctl.request_id = argv[++i];
			else {
				t = strtol(argv[++i], &end, 10);
				if (*end != '\0' || t < 1 || t > 3600)
					ctl_usage_exit(NULL,
					    "--timeout must "
					    "be 1-3600 seconds");
				ctl.timeout = (int)t;
			}
		} else if (strncmp(a, "--socket=", 9) == 0)
			ctl.socket = a + 9;
		else if (strncmp(a, "--request-id=", 13) == 0)
			ctl.request_id = a + 13;
		else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
			usage();
		else
			argv[o++] = argv[i];
	}
	argv[o] = NULL;
	return (o);
}

/* The command whose words match the most leading arguments. */
static const struct ctl_command *
ctl_find(int argc, char **argv, int *nwords)
{
	const struct ctl_command *best = NULL;
	size_t                    i;
	int                       n, bestn = 0;

	for (i = 0; i < NCOMMANDS; i++) {
		char words[64], *w, *save = NULL;
		int  ok = 1;

		snprintf(words, sizeof(words), "%s", ctl_commands[i].words);
		n = 0;
		for (w = strtok_r(words, " ", &save); w != NULL;
		     w = strtok_r(NULL, " ", &save)) {
			if (1 + n >= argc || strcmp(argv[1 + n], w) != 0) {
				ok = 0;
				break;
			}
			n++;
		}
		if (ok && n > bestn) {
			best = &ctl_commands[i];
			bestn = n;
		}
	}
	*nwords = bestn;
	return (best);
}

/*
 * A fresh id for a command that changes the ledger, printed so that the
 * operator can retry with it if the answer got lost.
 */
static void
ctl_make_request_id(void)
{
	static char id[40];
	uint8_t     rnd[12];
	size_t      i;

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		fprintf(stderr, "budgetctl: getrandom failed\n");
		exit(EXIT_UNREACHABLE);
	}
	strcpy(id, "ctl-");
	for (i = 0; i < sizeof(rnd); i++)
		snprintf(id + 4 + 2 * i, 3, "%02x", rnd[i]);
	ctl.request_id = id;
	ctl.generated_id = 1;
}

int
main(int argc, char *argv[])
{
	const struct ctl_command *cmd;
	const char               *env;
	int                       nwords, rc;

	/* A daemon that closed on us must give exit 3, not kill us. */
	signal(SIGPIPE, SIG_IGN);
	argc = ctl_globals(argc, argv);
	if (ctl.socket == NULL) {
		env = getenv(BUDGET_SOCKET_ENV);
		ctl.socket =
		    env != NULL && *env != '\0' ? env : BUDGET_SOCKET_DEFAULT;
	}
	if (argc < 2)
		usage();
	if ((cmd = ctl_find(argc, argv, &nwords)) == NULL) {
		usage_noun(argv[1]);
		fprintf(stderr, "budgetctl: unknown command \"%s\"\n", argv[1]);
		usage();
	}
	if (ctl.timeout == 0)
		ctl.timeout = ctl_default_timeout(cmd);
	/* Printed by ctl_call once the request is about to go out. */
	if (cmd->mutates && ctl.request_id == NULL)
		ctl_make_request_id();

	/*
	 * The command sees argv[0] = its last word, then its arguments, and
	 * parses them with getopt_long from the start.
	 */
	ctl.cmd = cmd;
	optind = 1;
	rc = cmd->run(argc - nwords, argv + nwords);
	ctl_close();
	return (rc);
}
