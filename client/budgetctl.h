/*
 * budgetctl.h: the client's private header. One struct of global options,
 * the connection (client.c), output helpers (output.c), and one function per
 * command (ctl-*.c) registered in the grammar table of budgetctl.c.
 */
#ifndef BUDGETCTL_H
#define BUDGETCTL_H

#include <stdint.h>

#include <jansson.h>

#include "budget.pb-c.h"

#ifndef __dead
#define __dead __attribute__((__noreturn__))
#endif

/* Exit statuses: the contract with scripts (SPEC §7). */
#define EXIT_DONE        0 /* done */
#define EXIT_REFUSED     1 /* the ledger refused */
#define EXIT_USAGE       2 /* bad command line */
#define EXIT_UNREACHABLE 3 /* cannot reach the daemon, protocol error */

struct ctl {
	const char *socket;
	const char *request_id;   /* --request-id, or generated */
	int         generated_id; /* request_id was made up here */
	int         json;
	int         timeout; /* seconds to wait for an answer */
	int         fd;
};
extern struct ctl ctl;

struct ctl_command {
	const char *words;   /* "contract open" */
	int         mutates; /* needs a request id */
	int (*run)(int, char **);
	const char *usage; /* arguments after the words */
};

/* budgetctl.c */
__dead void ctl_usage_exit(const struct ctl_command *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

/* client.c */
Budget__Response *ctl_call(Budget__Request *);
void              ctl_close(void);
int               ctl_refused(const Budget__Response *);

/* output.c */
void        out_json(json_t *);
json_t     *out_money(int64_t);
const char *out_eur(int64_t);
void
out_kv(const char *, const char *, ...) __attribute__((format(printf, 2, 3)));

/* ctl-*.c */
int ctl_status(int, char **);

#endif /* BUDGETCTL_H */
