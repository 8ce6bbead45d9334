/*
 * ctl-status.c: "budgetctl status": is the daemon there, which version,
 * how far is its journal.
 */
#include <stdio.h>

#include "budget/date.h"
#include "budgetctl.h"

int
ctl_status(int argc, char **argv)
{
	Budget__Request       req = BUDGET__REQUEST__INIT;
	Budget__StatusRequest st = BUDGET__STATUS_REQUEST__INIT;
	Budget__Response     *resp;
	Budget__StatusResult *r;
	char                  ts[TIMESTAMP_BUFSZ];
	int                   rc = EXIT_DONE;

	(void)argv;
	if (argc != 1)
		ctl_usage_exit(ctl.cmd, "status takes no arguments");
	req.command_case = BUDGET__REQUEST__COMMAND_STATUS;
	req.status = &st;
	resp = ctl_call(&req);
	if ((rc = ctl_refused(resp)) != 0)
		;
	else if ((r = resp->status) == NULL) {
		fprintf(stderr, "budgetctl: status: empty answer\n");
		rc = EXIT_UNREACHABLE;
	} else if (ctl.json) {
		out_json(json_pack("{s:s,s:i,s:I,s:s,s:s,s:I,s:s,s:i,s:I,s:I,"
				   "s:s,s:I,s:I,s:I,s:I,s:i,s:i,s:i}",
		    "version", r->version, "protocol", (int)r->protocol,
		    "journal_seq", (json_int_t)r->journal_seq, "head_hash",
		    r->head_hash, "datadir", r->datadir, "schema",
		    (json_int_t)r->schema, "started_at",
		    timestamp_format(r->started_at, ts, sizeof(ts)),
		    "connections", (int)r->connections, "map_size",
		    (json_int_t)r->map_size, "map_used",
		    (json_int_t)r->map_used, "role", r->role, "commits",
		    (json_int_t)r->commits, "committed",
		    (json_int_t)r->committed, "commit_waits",
		    (json_int_t)r->commit_waits, "commit_waits_timed_out",
		    (json_int_t)r->commit_waits_timed_out, "slow_reads",
		    (int)r->slow_reads, "held", (int)r->held,
		    "connections_gone", (int)r->connections_gone));
	} else {
		out_kv("version", "%s", r->version);
		out_kv("protocol", "%u", r->protocol);
		out_kv(
		    "journal_seq", "%llu", (unsigned long long)r->journal_seq);
		out_kv("head_hash", "%s", r->head_hash);
		out_kv("datadir", "%s", r->datadir);
		out_kv("started_at", "%s",
		    timestamp_format(r->started_at, ts, sizeof(ts)));
		out_kv("connections",
		    "%u open, %u gone with requests still to run",
		    r->connections, r->connections_gone);
		out_kv("map", "%llu of %llu bytes used",
		    (unsigned long long)r->map_used,
		    (unsigned long long)r->map_size);
		out_kv("your role", "%s", r->role);
		out_kv("commits", "%llu, carrying %llu mutations",
		    (unsigned long long)r->commits,
		    (unsigned long long)r->committed);
		out_kv("commit waits", "%llu, %llu of them timed out",
		    (unsigned long long)r->commit_waits,
		    (unsigned long long)r->commit_waits_timed_out);
		out_kv("long reads",
		    "%u on the reader thread, %u requests held "
		    "back",
		    r->slow_reads, r->held);
	}
	budget__response__free_unpacked(resp, NULL);
	return (rc);
}
