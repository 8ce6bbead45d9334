/*
 * cmd-backup.c: "backup": a consistent, compacted hot copy of the ledger
 * into a directory, while the daemon keeps serving writes (LMDB copies in
 * its own read transaction). It runs on the reader thread like the other
 * long reads. The copy is an environment budgetd -d opens as it is; the
 * answer says which journal head it holds, so the operator can check the
 * restored ledger against it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"

static enum budget_err
cmd_backup_exec(struct cmd_ctx *ctx)
{
	const Budget__BackupRequest *a = ctx->msg->backup;
	Budget__BackupResult        *res;
	uint8_t                      hash[32];
	char                        *cause = NULL;
	enum budget_err              rc;
	int                          err;

	if (*a->path != '/' || strlen(a->path) > 1024 ||
	    !ledger_text_ok(a->path, 1024))
		return (cmd_fail(ctx, BUDGET_ERR_INVALID_ARGUMENT,
		    "backup path must be an absolute directory path, at most "
		    "1024 bytes of UTF-8 without control characters"));
	res = cmd_alloc(ctx, sizeof(*res));
	budget__backup_result__init(res);
	if ((err = store_copy(
		 a->path, &res->bytes, &res->journal_seq, hash, &cause)) != 0) {
		/* The operator's mistakes are not the ledger's failures. */
		if (err == EEXIST)
			rc = cmd_fail(ctx, BUDGET_ERR_ALREADY_EXISTS,
			    "backup: %s: choose a new or empty directory",
			    cause);
		else if (err == EACCES || err == ENOENT || err == ENOTDIR ||
		    err == EROFS || err == EPERM || err == ENAMETOOLONG ||
		    err == ELOOP)
			rc = cmd_fail(ctx, BUDGET_ERR_INVALID_ARGUMENT,
			    "backup: %s (the daemon writes the copy: the path "
			    "must be writable by its user)",
			    cause);
		else
			rc = cmd_fail(
			    ctx, BUDGET_ERR_STORAGE_ERROR, "backup: %s", cause);
		free(cause);
		return (rc);
	}
	res->path = cmd_strdup(ctx, a->path);
	res->head_hash = cmd_hex(ctx, hash, sizeof(hash));
	log_info("backup: %s: %llu bytes, journal entry %llu", a->path,
	    (unsigned long long)res->bytes,
	    (unsigned long long)res->journal_seq);
	ctx->resp->result_case = BUDGET__RESPONSE__RESULT_BACKUP;
	ctx->resp->backup = res;
	return (BUDGET_OK);
}

const struct cmd_entry cmd_backup_entry = {
    .name = "backup",
    .flags = CMD_READONLY | CMD_SLOW,
    .roles = CMD_ROLE(ROLE_ADMIN) | CMD_ROLE(ROLE_AUDITOR),
    .exec = cmd_backup_exec,
};
