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
#define CMD_BATCH    0x4 /* many ops, each run as a request */
#define CMD_SLOW     0x8 /* a long read: runs on the reader thread */

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

struct cmd_ctx;

/* Answer memory: chunks of a per-request arena (cmd_alloc). */
#define CMD_CHUNK_MIN (4 * 1024)
#define CMD_CHUNK_MAX (1024 * 1024)
struct cmd_chunk {
	struct cmd_chunk *next;
	size_t            len, cap;
	_Alignas(16) unsigned char data[];
};

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
	/*
	 * What a refusal is journaled with, filled as a command learns it.
	 * It is journaled after exec returns: its strings must point into
	 * the request or answer memory (cmd_strdup), never into locals.
	 */
	struct jentry     jr;
	int               internal; /* the daemon's own request */
	int               worker;   /* on the reader thread */
	struct cmd_chunk *scratch;  /* freed after packing */
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

/* cmd-common.c */
char *cmd_hex(struct cmd_ctx *, const uint8_t *, size_t);
enum budget_err
cmd_date_arg(struct cmd_ctx *, const char *, const char *, int32_t *);
enum budget_err cmd_not_future(struct cmd_ctx *, int32_t, const char *);
enum budget_err
cmd_rid_arg(struct cmd_ctx *, const char *, const char *, char[LEDGER_RID_SZ]);
enum budget_err cmd_id_arg(struct cmd_ctx *, const char *, const char *);
enum budget_err cmd_company_on(
    struct cmd_ctx *, const char *, const char *, struct company *, int32_t *);
enum budget_err cmd_text_arg(struct cmd_ctx *, const char *, const char *);
enum budget_err cmd_amount_arg(struct cmd_ctx *, int64_t, const char *);
enum budget_err
     cmd_lookup_fail(struct cmd_ctx *, int, const char *, const char *);
void cmd_journal(struct cmd_ctx *, struct jentry *);
int  cmd_find_grant(
     struct cmd_ctx *, const struct dossier *, uint64_t, struct grant *);
Budget__Contract                  *
cmd_contract_result(struct cmd_ctx *, const struct contract *);
Budget__Dossier *cmd_dossier_result(struct cmd_ctx *, const struct dossier *);
Budget__Company *
cmd_company_result(struct cmd_ctx *, const struct company *, int32_t);

/* cmd-deminimis.c */
enum budget_err cmd_deminimis_result(struct cmd_ctx *, const char *, int32_t);
Budget__DeminimisPosition *cmd_position_result(struct cmd_ctx *, const char *,
    int32_t, const struct dm_position *, const struct grant *, size_t);

/* cmd-journal.c */
struct Budgetstore__JournalEntry *cmd_journal_get(struct cmd_ctx *, uint64_t);

/* cmd-*.c: one entry per command */
extern const struct cmd_entry cmd_status_entry;
extern const struct cmd_entry cmd_rules_load_entry, cmd_rules_show_entry;
extern const struct cmd_entry cmd_contract_open_entry, cmd_contract_amend_entry,
    cmd_contract_close_entry, cmd_contract_show_entry, cmd_contract_list_entry;
extern const struct cmd_entry cmd_company_add_entry, cmd_company_link_entry,
    cmd_company_merge_entry, cmd_company_show_entry;
extern const struct cmd_entry cmd_deminimis_declare_entry,
    cmd_deminimis_show_entry;
extern const struct cmd_entry cmd_dossier_reserve_entry,
    cmd_dossier_approve_entry, cmd_dossier_amend_entry,
    cmd_dossier_cancel_entry, cmd_dossier_expire_entry, cmd_dossier_pay_entry,
    cmd_dossier_complete_entry, cmd_dossier_close_entry,
    cmd_dossier_withdraw_entry, cmd_dossier_show_entry;
extern const struct cmd_entry cmd_verify_entry;
extern const struct cmd_entry cmd_batch_entry, cmd_backup_entry;
extern const struct cmd_entry cmd_history_entry, cmd_export_entry,
    cmd_balance_entry, cmd_report_entry, cmd_drawdown_entry;

#endif /* BUDGETD_CMD_H */
