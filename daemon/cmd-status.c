/*
 * cmd-status.c: "status": what this daemon is, what it serves and how far
 * its journal has come. Read-only, open to every role.
 */
#include <stdio.h>

#include "budget/protocol.h"
#include "cmd.h"

static enum budget_err
cmd_status_exec(struct cmd_ctx *ctx)
{
	Budget__StatusResult *res;
	uint8_t               head[32];
	uint64_t              seq;
	struct store_info     si;

	res = cmd_alloc(ctx, sizeof(*res));
	budget__status_result__init(res);
	store_info(&si);
	res->version = PB_STR(BUDGET_VERSION);
	res->protocol = BUDGET_PROTOCOL_VERSION;
	res->datadir = bd->conf.datadir;
	res->schema = si.schema;
	res->started_at = bd->started_at;
	res->connections = bd->nconns;
	res->connections_gone = bd->nghosts;
	res->map_size = si.map_size;
	res->map_used = si.map_used;
	res->role = PB_STR(role_name(ctx->role));
	res->commits = bd->commits;
	res->committed = bd->committed;
	res->commit_waits = bd->waits;
	res->commit_waits_timed_out = bd->waits_out;
	res->slow_reads = reader_inflight();
	res->held = cmd_held();
	journal_head(ctx->txn, &seq, head);
	res->journal_seq = seq;
	res->head_hash = cmd_hex(ctx, head, sizeof(head));
	ctx->resp->result_case = BUDGET__RESPONSE__RESULT_STATUS;
	ctx->resp->status = res;
	return (BUDGET_OK);
}

const struct cmd_entry cmd_status_entry = {
    .name = "status",
    .flags = CMD_READONLY,
    .roles = CMD_ROLES_READ,
    .exec = cmd_status_exec,
};
