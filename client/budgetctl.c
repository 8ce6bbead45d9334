/*
 * budgetctl.c: main and the grammar table. Owns the global options (which
 * may stand anywhere on the line), finding the command from its words,
 * request ids for commands that change the ledger, and the exit statuses.
 */
#include <sys/random.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budget/protocol.h"
#include "budgetctl.h"

struct ctl ctl = {.fd = -1, .timeout = 30};

/* Keep sorted as they appear in the README. */
static const struct ctl_command ctl_commands[] = {
    {"status", 0, ctl_status, ""},
};
#define NCOMMANDS (sizeof(ctl_commands) / sizeof(ctl_commands[0]))

static __dead void               usage(void);
static int                       ctl_globals(int, char **);
static const struct ctl_command *ctl_find(int, char **, int *);
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
		fprintf(
		    stderr, "usage: budgetctl %s %s\n", cmd->words, cmd->usage);
	exit(EXIT_USAGE);
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

	argc = ctl_globals(argc, argv);
	if (ctl.socket == NULL) {
		env = getenv(BUDGET_SOCKET_ENV);
		ctl.socket =
		    env != NULL && *env != '\0' ? env : BUDGET_SOCKET_DEFAULT;
	}
	if (argc < 2)
		usage();
	if ((cmd = ctl_find(argc, argv, &nwords)) == NULL) {
		fprintf(stderr, "budgetctl: unknown command \"%s\"\n", argv[1]);
		usage();
	}
	if (cmd->mutates && ctl.request_id == NULL)
		ctl_make_request_id();
	if (cmd->mutates && ctl.generated_id && !ctl.json)
		fprintf(stderr, "request-id: %s\n", ctl.request_id);

	/* The command sees argv[0] = its last word, then its arguments. */
	rc = cmd->run(argc - nwords, argv + nwords);
	ctl_close();
	return (rc);
}
