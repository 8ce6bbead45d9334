/*
 * ctl-backup.c: "backup PATH": have the daemon write a consistent,
 * compacted copy of the ledger into the directory PATH while it keeps
 * serving. The daemon writes it, so PATH must be writable by the daemon's
 * user; a relative PATH is made absolute here, since the daemon's working
 * directory is not ours.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "budgetctl.h"

int
ctl_backup(int argc, char **argv)
{
	Budget__Request       req = BUDGET__REQUEST__INIT;
	Budget__BackupRequest br = BUDGET__BACKUP_REQUEST__INIT;
	Budget__Response     *resp;
	Budget__BackupResult *b;
	const char          **args;
	char                  cwd[PATH_MAX], *path;
	int                   rc;

	args = ctl_plain_args(argc, argv, 1, "PATH");
	if (args[0][0] == '/')
		path = strdup(args[0]);
	else if (getcwd(cwd, sizeof(cwd)) == NULL ||
	    asprintf(&path, "%s/%s", cwd, args[0]) == -1)
		path = NULL;
	if (path == NULL) {
		fprintf(stderr, "budgetctl: backup: cannot make %s absolute\n",
		    args[0]);
		return (EXIT_USAGE);
	}
	br.path = path;
	req.command_case = BUDGET__REQUEST__COMMAND_BACKUP;
	req.backup = &br;
	resp = ctl_request(&req, BUDGET__RESPONSE__RESULT_BACKUP, &rc);
	free(path);
	if (resp == NULL)
		return (rc);
	b = resp->backup;
	if (ctl.json)
		out_reply(
		    json_pack("{s:s,s:I,s:I,s:s}", "path", b->path, "bytes",
			(json_int_t)b->bytes, "journal_seq",
			(json_int_t)b->journal_seq, "head_hash", b->head_hash),
		    resp);
	else {
		out_kv("backup", "%s", b->path);
		out_kv("bytes", "%llu", (unsigned long long)b->bytes);
		out_kv(
		    "journal_seq", "%llu", (unsigned long long)b->journal_seq);
		out_kv("head_hash", "%s", b->head_hash);
	}
	budget__response__free_unpacked(resp, NULL);
	return (EXIT_DONE);
}
