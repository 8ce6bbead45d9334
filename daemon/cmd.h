/*
 * cmd.h: what a command file (cmd-<verb>.c) needs: the table entry, the
 * per-request context and the helpers that build answers. Generated
 * Budget__* types appear only here, in conn.c and in cmd*.c.
 */
#ifndef BUDGETD_CMD_H
#define BUDGETD_CMD_H

#include "budget.pb-c.h"
#include "budgetd.h"

/* cmd_entry.flags */
#define CMD_READONLY 0x1 /* never writes: no request id needed */
#define CMD_INTERNAL 0x2 /* issued by the daemon itself, not a peer */

/* Role masks for cmd_entry.roles. */
#define CMD_ROLE(r) (1u << (r))
#define CMD_ROLES_READ \
	(CMD_ROLE(ROLE_AUDITOR) | CMD_ROLE(ROLE_WORKFLOW) | \
	    CMD_ROLE(ROLE_CONTROLLER) | CMD_ROLE(ROLE_ADMIN))
#define CMD_ROLES_DOSSIER \
	(CMD_ROLE(ROLE_WORKFLOW) | CMD_ROLE(ROLE_CONTROLLER) | \
	    CMD_ROLE(ROLE_ADMIN))
#define CMD_ROLES_CONTROL (CMD_ROLE(ROLE_CONTROLLER) | CMD_ROLE(ROLE_ADMIN))
#define CMD_ROLES_ADMIN   CMD_ROLE(ROLE_ADMIN)

/*
 * protobuf-c declares string fields char * although packing only reads
 * them; this is the one sanctioned way to put a const string there.
 */
#define PB_STR(s) ((char *)(uintptr_t)(s))

struct cmd_ctx;

struct cmd_entry {
	const char *name;
	int         flags;
	unsigned    roles; /* CMD_ROLE() bits allowed to run it */
	/*
	 * Validate the request, read and change the ledger through ctx->txn,
	 * fill ctx->resp. Return BUDGET_OK, or an error set with cmd_fail().
	 * Never commits: cmd.c does, and rolls back everything on an error.
	 */
	enum budget_err (*exec)(struct cmd_ctx *);
};

struct cmd_ctx {
	const Budget__Request *msg;  /* borrowed; valid during exec */
	Budget__Response      *resp; /* fill the result here */
	struct store_txn      *txn;
	enum role              role;
	uid_t                  uid;
	int64_t                now; /* microseconds UTC, one per batch */
	char                  *errmsg;
	void                 **scratch; /* freed after packing */
	size_t                 nscratch;
	size_t                 scratchcap;
};

/* cmd.c */
const struct cmd_entry *cmd_lookup(int);
enum budget_err cmd_fail(struct cmd_ctx *, enum budget_err, const char *, ...)
    __attribute__((format(printf, 3, 4)));
void *cmd_alloc(struct cmd_ctx *, size_t);
char *cmd_strdup(struct cmd_ctx *, const char *);
char *cmd_printf(struct cmd_ctx *, const char *, ...)
    __attribute__((format(printf, 2, 3)));
uint8_t *cmd_error_frame(enum budget_err, const char *, const char *, size_t *);

/* cmd-*.c: one entry per command */
extern const struct cmd_entry cmd_status_entry;

#endif /* BUDGETD_CMD_H */
