/*
 * test_backup.c: "budgetctl backup PATH" (issue 5): a consistent,
 * compacted hot copy taken while writes go on; the copy opens with
 * budgetd -d as it is, verifies, and holds exactly the journal head the
 * answer names; refusals for a used directory and a path the daemon
 * cannot write; the copy is private to budgetd's user, and one that
 * fails part of the way is removed. Adversarial: links placed in the
 * directory (lock.mdb to the live files, data.mdb, data.mdb.partial),
 * paths refused or spelled otherwise, README's restore step by step,
 * two backups into one directory, SIGTERM with backups queued, a
 * budgetd that may not write the path, and a file system that cannot
 * rename without replacing.
 */
#include <sys/resource.h>
#include <sys/stat.h>

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixture.h"
#include "harness.h"

#define CONTRACT     "BK-1"
#define WRITERS      40
/* The file-size limit of test_failed_copy_removed's budgetd. */
#define BACKUP_FSIZE (256 * 1024)

static int
setup(void **state)
{
	struct h_daemon *d = fx_daemon_up(state, NULL);

	fx_contract_open(d, CONTRACT, "1000000");
	fx_companies_add(d, 1, WRITERS);
	return (0);
}

static void
test_hot_copy_opens_and_verifies(void **state)
{
	struct h_daemon  *d = *state, *copy;
	struct fx_req     w[WRITERS];
	Budget__Response *resp;
	json_t           *bk, *st, *v;
	char              path[H_PATH_MAX], rid[FX_ID_SZ], id[FX_ID_SZ];
	char              co[FX_RID_SZ];
	int64_t           before, after, seq;
	int               fd, i;

	before = fx_journal_seq(d);
	/* Writes in flight on one connection while the copy is taken. */
	fd = h_connect(d);
	for (i = 0; i < WRITERS; i++) {
		snprintf(rid, sizeof(rid), "bk-%d", i);
		snprintf(id, sizeof(id), "BK-D-%d", i);
		fx_rid(1 + (unsigned)i, co);
		fx_reserve(&w[i], rid, id, co, CONTRACT, "START", 1000000, 0);
		h_send_request(fd, &w[i].req);
	}
	snprintf(path, sizeof(path), "%s/backup-1", d->dir);
	bk = fx_ctl_json(d, 0, "backup", path, NULL);
	for (i = 0; i < WRITERS; i++) {
		resp = h_recv(fd, 20000);
		assert_null(resp->error);
		budget__response__free_unpacked(resp, NULL);
	}
	close(fd);
	after = fx_journal_seq(d);
	assert_int_equal(after, before + WRITERS);

	seq = json_integer_value(json_object_get(bk, "journal_seq"));
	assert_true(seq >= before && seq <= after);
	assert_true(json_integer_value(json_object_get(bk, "bytes")) > 0);

	/* The copy is a ledger budgetd opens as it is. */
	copy = h_daemon_new(NULL);
	snprintf(copy->datadir, sizeof(copy->datadir), "%s", path);
	h_daemon_start(copy);
	st = fx_ctl_json(copy, 0, "status", NULL);
	assert_int_equal(
	    json_integer_value(json_object_get(st, "journal_seq")), seq);
	assert_string_equal(json_string_value(json_object_get(st, "head_hash")),
	    json_string_value(json_object_get(bk, "head_hash")));
	v = fx_ctl_json(copy, 0, "verify", NULL);
	assert_true(json_is_true(json_object_get(v, "ok")));
	assert_int_equal(
	    json_integer_value(json_object_get(v, "entries")), seq);
	json_decref(st);
	json_decref(v);
	json_decref(bk);
	h_daemon_teardown(copy);
	fx_verify_ok(d);
}

/* backup PATH through budgetctl must fail with this error code. */
static void
backup_refused(const struct h_daemon *d, const char *path, const char *code)
{
	json_t *bk;
	int     status;

	bk = fx_ctl_json_try(d, &status, "backup", path, NULL);
	assert_int_equal(status, 1);
	assert_non_null(bk);
	print_message("%s: %s\n", code,
	    json_string_value(
		json_object_get(json_object_get(bk, "error"), "message")));
	assert_string_equal(json_string_value(json_object_get(
				json_object_get(bk, "error"), "code")),
	    code);
	json_decref(bk);
}

static void
test_refusals(void **state)
{
	struct h_daemon *d = *state;
	struct stat      st;
	FILE            *fp;
	char             path[H_PATH_MAX], file[H_PATH_MAX + 32];

	snprintf(path, sizeof(path), "%s/backup-2", d->dir);
	json_decref(fx_ctl_json(d, 0, "backup", path, NULL));
	/* A directory that holds a copy already. */
	backup_refused(d, path, "already_exists");
	/*
	 * A copy being written there, or cut short by a kill: refused, and
	 * left as it is.
	 */
	snprintf(path, sizeof(path), "%s/backup-3", d->dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(file, sizeof(file), "%s/data.mdb.partial", path);
	fp = fopen(file, "w");
	assert_non_null(fp);
	fputs("half a copy", fp);
	assert_int_equal(fclose(fp), 0);
	backup_refused(d, path, "already_exists");
	assert_int_equal(stat(file, &st), 0);
	assert_int_equal(st.st_size, 11);
	/* A parent that does not exist. */
	snprintf(path, sizeof(path), "%s/no/such/dir", d->dir);
	backup_refused(d, path, "invalid_argument");
	h_assert_serving(d);
}

/*
 * A copy into a directory that exists and others may read, by a budgetd
 * started with umask 022 (main): the file is budgetd's user's alone.
 */
static void
test_copy_private(void **state)
{
	struct h_daemon *d = *state;
	struct stat      st;
	char             path[H_PATH_MAX], file[H_PATH_MAX + 32];

	snprintf(path, sizeof(path), "%s/backup-open", d->dir);
	assert_int_equal(mkdir(path, 0755), 0);
	json_decref(fx_ctl_json(d, 0, "backup", path, NULL));
	snprintf(file, sizeof(file), "%s/data.mdb", path);
	assert_int_equal(stat(file, &st), 0);
	print_message("data.mdb mode %04o\n", (unsigned)(st.st_mode & 07777));
	assert_int_equal(st.st_mode & 07777, 0600);
	snprintf(file, sizeof(file), "%s/data.mdb.partial", path);
	assert_int_equal(stat(file, &st), -1);
	/* The look at the copy made no lock file: data.mdb is all there is. */
	snprintf(file, sizeof(file), "%s/lock.mdb", path);
	assert_int_equal(stat(file, &st), -1);
}

/*
 * A copy that fails part of the way leaves nothing that looks like a
 * backup. budgetd runs under a file-size limit (RLIMIT_FSIZE, inherited)
 * below the size of its copy: the copy's writes fail with EFBIG, as they
 * would on a full disk. The answer is storage_error, the directory is
 * gone, and budgetd goes on serving.
 */
static void
test_failed_copy_removed(void **state)
{
	struct h_daemon *d = *state;
	struct rlimit    lim, small;
	struct stat      st;
	char             path[H_PATH_MAX], file[H_PATH_MAX + 16];

	fx_companies_add(d, 1000, 3000);
	snprintf(file, sizeof(file), "%s/data.mdb", d->datadir);
	assert_int_equal(stat(file, &st), 0);
	assert_true(st.st_size > 2 * BACKUP_FSIZE);
	assert_int_equal(h_daemon_stop(d), 0);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &lim), 0);
	small = lim;
	small.rlim_cur = BACKUP_FSIZE;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
	h_daemon_start(d);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);

	snprintf(path, sizeof(path), "%s/backup-cut", d->dir);
	backup_refused(d, path, "storage_error");
	assert_int_equal(stat(path, &st), -1);
	h_assert_serving(d);
	/* Without the limit, the same directory takes a whole copy. */
	h_daemon_restart(d);
	json_decref(fx_ctl_json(d, 0, "backup", path, NULL));
	fx_verify_ok(d);
}

/*
 * What the directory holds besides data.mdb is not budgetd's: a lock.mdb
 * there, even one pointing at the live ledger's files, is neither opened
 * nor written. Whoever may name the directory (an auditor) could place
 * one. Opened as the copy's lock file, LMDB resets it as its first user
 * (in this very process the live environment's locks do not keep it
 * out): pointing at the live lock.mdb, the live transaction id goes back
 * to the copy's, and commits after that are lost at the next start;
 * pointing at the live data.mdb, its first page is overwritten.
 */
static void
backup_beside_link(struct h_daemon *d, const char *name, const char *target)
{
	struct stat st;
	json_t     *bk;
	char        path[H_PATH_MAX], file[H_PATH_MAX + 32];
	char        live[H_PATH_MAX + 32], id[32];
	int64_t     seq;
	int         status;

	snprintf(live, sizeof(live), "%s/%s", d->datadir, target);
	snprintf(path, sizeof(path), "%s/backup-%s", d->dir, name);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(file, sizeof(file), "%s/lock.mdb", path);
	assert_int_equal(symlink(live, file), 0);
	bk = fx_ctl_json_try(d, &status, "backup", path, NULL);
	assert_int_equal(status, 0);
	json_decref(bk);
	assert_int_equal(lstat(file, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	/* One commit after the backup is there after a restart. */
	seq = fx_journal_seq(d);
	snprintf(id, sizeof(id), "BK-%s", name);
	fx_contract_open(d, id, "1000");
	assert_int_equal(fx_journal_seq(d), seq + 1);
	h_daemon_restart(d);
	assert_int_equal(fx_journal_seq(d), seq + 1);
	fx_companies_add(d, 5000, 50);
	fx_verify_ok(d);
}

static void
test_lock_link_to_live_lock(void **state)
{
	backup_beside_link(*state, "lock-lock", "lock.mdb");
}

static void
test_lock_link_to_live_data(void **state)
{
	backup_beside_link(*state, "lock-data", "data.mdb");
}

/* A backup request with this path, sent raw (budgetctl makes it absolute). */
static void
backup_raw_refused(const struct h_daemon *d, const char *path)
{
	Budget__Request       req = BUDGET__REQUEST__INIT;
	Budget__BackupRequest br = BUDGET__BACKUP_REQUEST__INIT;
	int                   fd;

	req.version = BUDGET_PROTOCOL_VERSION;
	req.request_id = H_STR("bk-raw");
	req.command_case = BUDGET__REQUEST__COMMAND_BACKUP;
	br.path = H_STR(path);
	req.backup = &br;
	fd = h_connect(d);
	h_send_request(fd, &req);
	h_expect_error(fd, "invalid_argument", "bk-raw");
	close(fd);
}

/* The contents of a small file, NUL-terminated, into buf. */
static void
slurp(const char *file, char *buf, size_t size)
{
	FILE  *fp = fopen(file, "r");
	size_t n;

	assert_non_null(fp);
	n = fread(buf, 1, size - 1, fp);
	buf[n] = '\0';
	assert_int_equal(fclose(fp), 0);
}

/*
 * Paths that are not a directory budgetd may fill: refused as the
 * operator's mistake (invalid_argument, not the ledger's storage_error),
 * or already_exists when something there is not budgetd's to replace,
 * and in every case nothing made, nothing removed, nothing written
 * through a link someone placed.
 */
static void
test_paths_refused(void **state)
{
	struct h_daemon *d = *state;
	struct stat      st;
	FILE            *fp;
	char             path[2048], file[2048 + 32], other[H_PATH_MAX];
	char             buf[64];
	size_t           n;

	/* Not absolute, empty: the daemon's working directory is not ours. */
	backup_raw_refused(d, "bk-relative");
	assert_int_equal(stat("bk-relative", &st), -1);
	backup_raw_refused(d, "");
	/* Not UTF-8, and control characters (the path goes to the log). */
	snprintf(path, sizeof(path), "%s/bk-\xff\xfe", d->dir);
	backup_refused(d, path, "invalid_argument");
	assert_int_equal(stat(path, &st), -1);
	snprintf(path, sizeof(path), "%s/bk-\nfake log line", d->dir);
	backup_refused(d, path, "invalid_argument");
	assert_int_equal(stat(path, &st), -1);
	/* Longer than 1024 bytes. */
	n = (size_t)snprintf(path, sizeof(path), "%s/", d->dir);
	memset(path + n, 'a', 1100 - n);
	path[1100] = '\0';
	backup_refused(d, path, "invalid_argument");
	/* A component longer than a name may be (ENAMETOOLONG). */
	n = (size_t)snprintf(path, sizeof(path), "%s/", d->dir);
	memset(path + n, 'b', 300);
	path[n + 300] = '\0';
	backup_refused(d, path, "invalid_argument");
	/* A link loop (ELOOP). */
	snprintf(path, sizeof(path), "%s/bk-loop", d->dir);
	assert_int_equal(symlink(path, path), 0);
	backup_refused(d, path, "invalid_argument");
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	/* A regular file: left as it is. */
	snprintf(path, sizeof(path), "%s/bk-file", d->dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("not a directory", fp);
	assert_int_equal(fclose(fp), 0);
	backup_refused(d, path, "invalid_argument");
	slurp(path, buf, sizeof(buf));
	assert_string_equal(buf, "not a directory");
	/* The live data directory itself, and its data.mdb. */
	backup_refused(d, d->datadir, "already_exists");
	snprintf(path, sizeof(path), "%s/data.mdb", d->datadir);
	backup_refused(d, path, "invalid_argument");
	snprintf(path, sizeof(path), "%s/data.mdb.partial", d->datadir);
	assert_int_equal(stat(path, &st), -1);
	/* A dangling link named data.mdb: somebody's, kept. */
	snprintf(path, sizeof(path), "%s/bk-dangling", d->dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(file, sizeof(file), "%s/data.mdb", path);
	assert_int_equal(symlink("/nonexistent/data.mdb", file), 0);
	backup_refused(d, path, "already_exists");
	assert_int_equal(lstat(file, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	snprintf(file, sizeof(file), "%s/data.mdb.partial", path);
	assert_int_equal(lstat(file, &st), -1);
	/* data.mdb.partial linked to a file elsewhere: not written through. */
	snprintf(other, sizeof(other), "%s/bk-victim", d->dir);
	fp = fopen(other, "w");
	assert_non_null(fp);
	fputs("victim", fp);
	assert_int_equal(fclose(fp), 0);
	snprintf(path, sizeof(path), "%s/bk-partial-link", d->dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(file, sizeof(file), "%s/data.mdb.partial", path);
	assert_int_equal(symlink(other, file), 0);
	backup_refused(d, path, "already_exists");
	slurp(other, buf, sizeof(buf));
	assert_string_equal(buf, "victim");
	assert_int_equal(lstat(file, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	h_assert_serving(d);
	fx_verify_ok(d);
}

/*
 * Paths spelled another way that do name a directory budgetd may fill: a
 * trailing slash, a link to a directory. The copy lands there, whole.
 */
static void
test_paths_spelled_otherwise(void **state)
{
	struct h_daemon *d = *state;
	struct stat      st;
	json_t          *bk;
	const char      *msg;
	char             path[H_PATH_MAX], real[H_PATH_MAX];
	char             file[H_PATH_MAX + 32];
	int              status;

	snprintf(path, sizeof(path), "%s/bk-slash/", d->dir);
	json_decref(fx_ctl_json(d, 0, "backup", path, NULL));
	snprintf(file, sizeof(file), "%s/bk-slash/data.mdb", d->dir);
	assert_int_equal(stat(file, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	snprintf(file, sizeof(file), "%s/bk-slash", d->dir);
	assert_int_equal(stat(file, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	/*
	 * The trailing slashes are dropped, so that the directory that holds
	 * bk-slash is the one fsync'd as its parent (not bk-slash twice, as
	 * strace showed); the error names the file without "//".
	 */
	snprintf(path, sizeof(path), "%s/bk-slash//", d->dir);
	bk = fx_ctl_json_try(d, &status, "backup", path, NULL);
	assert_int_equal(status, 1);
	snprintf(file, sizeof(file), "%s/bk-slash/data.mdb: ", d->dir);
	msg = json_string_value(
	    json_object_get(json_object_get(bk, "error"), "message"));
	print_message("%s\n", msg);
	assert_non_null(strstr(msg, file));
	json_decref(bk);

	snprintf(real, sizeof(real), "%s/bk-real", d->dir);
	assert_int_equal(mkdir(real, 0700), 0);
	snprintf(path, sizeof(path), "%s/bk-link", d->dir);
	assert_int_equal(symlink(real, path), 0);
	bk = fx_ctl_json(d, 0, "backup", path, NULL);
	assert_string_equal(
	    json_string_value(json_object_get(bk, "path")), path);
	json_decref(bk);
	snprintf(file, sizeof(file), "%s/data.mdb", real);
	assert_int_equal(stat(file, &st), 0);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
}

/* cp SRC DST, as README's restore does it (mode 0600 from the copy's). */
static void
copy_file(const char *src, const char *dst)
{
	FILE  *in = fopen(src, "r"), *out;
	char   buf[65536];
	size_t n;

	assert_non_null(in);
	out = fopen(dst, "wx");
	assert_non_null(out);
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		assert_int_equal(fwrite(buf, 1, n, out), n);
	assert_int_equal(ferror(in), 0);
	assert_int_equal(fclose(in), 0);
	assert_int_equal(fclose(out), 0);
}

/*
 * dir/data.mdb, alone in a fresh data directory, is a ledger budgetd
 * opens, holding exactly journal entry seq with hash head, and verifies.
 */
static void
copy_restores(const char *dir, json_int_t seq, const char *head)
{
	struct h_daemon *r = h_daemon_new(NULL);
	json_t          *st;
	char             src[H_PATH_MAX + 32], dst[H_PATH_MAX + 32];

	assert_int_equal(mkdir(r->datadir, 0700), 0);
	snprintf(src, sizeof(src), "%s/data.mdb", dir);
	snprintf(dst, sizeof(dst), "%s/data.mdb", r->datadir);
	copy_file(src, dst);
	h_daemon_start(r);
	st = fx_ctl_json(r, 0, "status", NULL);
	assert_int_equal(h_json_int(st, "journal_seq"), seq);
	if (head != NULL)
		assert_string_equal(h_json_str(st, "head_hash"), head);
	json_decref(st);
	fx_verify_ok(r);
	h_daemon_teardown(r);
}

/*
 * README's restore, step by step: the nightly's copy in the data
 * directory's backups/, later writes, stop, move the data directory
 * aside, a fresh one (0700) with the copy's data.mdb alone, start: status
 * names the head the backup named, verify passes, what came after the
 * backup is not there, and the restored budgetd writes and backs up.
 */
static void
test_restore_as_readme(void **state)
{
	struct h_daemon *d = *state;
	json_t          *bk, *st;
	char             backups[H_PATH_MAX + 32], path[H_PATH_MAX + 64];
	char             broken[H_PATH_MAX + 32], src[H_PATH_MAX + 96];
	char             dst[H_PATH_MAX + 32];
	int              status;

	snprintf(backups, sizeof(backups), "%s/backups", d->datadir);
	assert_int_equal(mkdir(backups, 0700), 0);
	snprintf(path, sizeof(path), "%s/2026-11-22", backups);
	bk = fx_ctl_json(d, 0, "backup", path, NULL);
	fx_contract_open(d, "BK-AFTER", "1000");

	assert_int_equal(h_daemon_stop(d), 0);
	snprintf(broken, sizeof(broken), "%s.broken", d->datadir);
	assert_int_equal(rename(d->datadir, broken), 0);
	assert_int_equal(mkdir(d->datadir, 0700), 0);
	snprintf(src, sizeof(src), "%s/backups/2026-11-22/data.mdb", broken);
	snprintf(dst, sizeof(dst), "%s/data.mdb", d->datadir);
	copy_file(src, dst);
	h_daemon_start(d);

	st = fx_ctl_json(d, 0, "status", NULL);
	assert_int_equal(
	    h_json_int(st, "journal_seq"), h_json_int(bk, "journal_seq"));
	assert_string_equal(
	    h_json_str(st, "head_hash"), h_json_str(bk, "head_hash"));
	json_decref(st);
	fx_verify_ok(d);
	json_decref(
	    fx_ctl_json_try(d, &status, "contract", "show", "BK-AFTER", NULL));
	assert_int_not_equal(status, 0);

	fx_contract_open(d, "BK-AFTER", "1000");
	assert_int_equal(fx_journal_seq(d), h_json_int(bk, "journal_seq") + 1);
	assert_int_equal(mkdir(backups, 0700), 0);
	snprintf(path, sizeof(path), "%s/2026-11-23", backups);
	json_decref(bk);
	bk = fx_ctl_json(d, 0, "backup", path, NULL);
	copy_restores(
	    path, h_json_int(bk, "journal_seq"), h_json_str(bk, "head_hash"));
	json_decref(bk);
	fx_verify_ok(d);
}

/*
 * Two backups into one new directory at once: one makes the copy, the
 * other is refused with already_exists and removes nothing of it.
 */
static void
test_two_backups_one_dir(void **state)
{
	struct h_daemon *d = *state;
	struct h_proc    p[2];
	struct stat      st;
	char             path[H_PATH_MAX], file[H_PATH_MAX + 32];
	int              i, ok = -1;

	fx_companies_add(d, 1000, 2000);
	snprintf(path, sizeof(path), "%s/backup-both", d->dir);
	for (i = 0; i < 2; i++)
		h_ctl_spawn(&p[i], d, "--json", "backup", path, NULL);
	for (i = 0; i < 2; i++)
		h_proc_wait(&p[i], H_DEADLINE_MS);
	for (i = 0; i < 2; i++) {
		if (p[i].status == 0) {
			assert_int_equal(ok, -1);
			ok = i;
		} else {
			assert_int_equal(p[i].status, 1);
			assert_string_equal(
			    h_json_str(h_json(&p[i]), "error.code"),
			    "already_exists");
		}
	}
	assert_int_not_equal(ok, -1);
	snprintf(file, sizeof(file), "%s/data.mdb.partial", path);
	assert_int_equal(stat(file, &st), -1);
	copy_restores(path, h_json_int(h_json(&p[ok]), "journal_seq"),
	    h_json_str(h_json(&p[ok]), "head_hash"));
	for (i = 0; i < 2; i++)
		h_proc_free(&p[i]);
	h_assert_serving(d);
}

#define SIGTERM_BACKUPS 8

/*
 * SIGTERM with backups on the reader thread and queued behind it: the
 * daemon finishes them, answers each, and exits 0; none leaves a
 * data.mdb.partial, and every copy answered is whole.
 */
static void
test_backups_at_sigterm(void **state)
{
	struct h_daemon      *d = *state;
	Budget__Request       req = BUDGET__REQUEST__INIT;
	Budget__BackupRequest br = BUDGET__BACKUP_REQUEST__INIT;
	Budget__Response     *resp[SIGTERM_BACKUPS];
	struct stat           st;
	/* file: room for what GCC thinks path[i] may hold (all of path). */
	char path[SIGTERM_BACKUPS][H_PATH_MAX];
	char file[SIGTERM_BACKUPS * H_PATH_MAX + 32];
	char rid[32];
	int  fd, i, answered = 0;

	fx_companies_add(d, 1000, 3000);
	fd = h_connect(d);
	req.version = BUDGET_PROTOCOL_VERSION;
	req.command_case = BUDGET__REQUEST__COMMAND_BACKUP;
	req.backup = &br;
	for (i = 0; i < SIGTERM_BACKUPS; i++) {
		snprintf(
		    path[i], sizeof(path[i]), "%s/backup-term-%d", d->dir, i);
		snprintf(rid, sizeof(rid), "bk-term-%d", i);
		req.request_id = rid;
		br.path = path[i];
		h_send_request(fd, &req);
	}
	/*
	 * SIGTERM at the first answer: the daemon has read them all, and
	 * the others are on the reader thread or queued for it.
	 */
	for (i = 0; i < SIGTERM_BACKUPS; i++) {
		if (h_recv_try(fd, H_DEADLINE_MS, &resp[i]) != WIRE_OK)
			break;
		if (i == 0)
			h_daemon_signal(d, SIGTERM);
	}
	answered = i;
	for (i = 0; i < answered; i++) {
		snprintf(rid, sizeof(rid), "bk-term-%d", i);
		assert_string_equal(resp[i]->request_id, rid);
		assert_null(resp[i]->error);
		assert_non_null(resp[i]->backup);
		copy_restores(path[i], (json_int_t)resp[i]->backup->journal_seq,
		    resp[i]->backup->head_hash);
		budget__response__free_unpacked(resp[i], NULL);
	}
	close(fd);
	assert_true(h_daemon_wait_exit(d, 3 * H_DEADLINE_MS, NULL));
	assert_int_equal(d->status, 0);
	print_message("%d of %d answered\n", answered, SIGTERM_BACKUPS);
	assert_int_equal(answered, SIGTERM_BACKUPS);
	for (i = 0; i < SIGTERM_BACKUPS; i++) {
		snprintf(file, sizeof(file), "%s/data.mdb.partial", path[i]);
		assert_int_equal(stat(file, &st), -1);
	}
	h_daemon_start(d);
}

/*
 * budgetd as an unprivileged user (nobody): a path it may not write is
 * the operator's mistake (invalid_argument) and leaves nothing; in a
 * directory others own but it may write, the copy is its user's, 0600.
 */
static void
test_not_writable(void **state)
{
	struct h_daemon *d;
	struct stat      st;
	json_t          *bk;
	char             ro[H_PATH_MAX], path[H_PATH_MAX + 32];
	char             file[H_PATH_MAX + 64];

	if (!h_can_switch_user())
		skip();
	*state = d = h_daemon_new(NULL);
	h_daemon_run_as(d, H_NOBODY_UID, H_NOBODY_GID);
	h_daemon_start(d);

	snprintf(ro, sizeof(ro), "%s/bk-ro", d->dir);
	assert_int_equal(mkdir(ro, 0755), 0);
	snprintf(path, sizeof(path), "%s/new", ro);
	backup_refused(d, path, "invalid_argument");
	assert_int_equal(lstat(path, &st), -1);
	backup_refused(d, ro, "invalid_argument");
	snprintf(file, sizeof(file), "%s/data.mdb.partial", ro);
	assert_int_equal(lstat(file, &st), -1);

	snprintf(path, sizeof(path), "%s/bk-shared", d->dir);
	assert_int_equal(mkdir(path, 0777), 0);
	assert_int_equal(chmod(path, 0777), 0);
	bk = fx_ctl_json(d, 0, "backup", path, NULL);
	snprintf(file, sizeof(file), "%s/data.mdb", path);
	assert_int_equal(stat(file, &st), 0);
	assert_int_equal(st.st_uid, H_NOBODY_UID);
	assert_int_equal(st.st_mode & 07777, 0600);
	copy_restores(
	    path, h_json_int(bk, "journal_seq"), h_json_str(bk, "head_hash"));
	json_decref(bk);
	h_assert_serving(d);
}

/*
 * A file system that cannot rename without replacing (NFS answers
 * RENAME_NOREPLACE with EINVAL; shim_noreplace.c, preloaded, plays one):
 * the copy is put in place by a hard link instead, opens and verifies,
 * no data.mdb.partial is left, and a second backup there is refused.
 */
static void
backup_without_rename_noreplace(struct h_daemon *d, int link_eexist)
{
	const char *envp[4], *old = getenv("ASAN_OPTIONS");
	char        pre[H_PATH_MAX + 16], asan[1024], path[H_PATH_MAX];
	char        part[H_PATH_MAX + 32], *log;
	struct stat st;
	json_t     *bk;

	assert_int_equal(h_daemon_stop(d), 0);
	snprintf(pre, sizeof(pre), "LD_PRELOAD=%s", SHIM_NOREPLACE_PATH);
	/* AddressSanitizer wants its runtime first; here it comes second. */
	snprintf(asan, sizeof(asan),
	    "ASAN_OPTIONS=%s%sverify_asan_link_order=0", old != NULL ? old : "",
	    old != NULL && *old != '\0' ? ":" : "");
	envp[0] = pre;
	envp[1] = asan;
	envp[2] = link_eexist ? "SHIM_LINK_EEXIST=1" : NULL;
	envp[3] = NULL;
	h_daemon_spawn_ex(d, envp, 0);
	h_daemon_wait_ready(d);

	snprintf(path, sizeof(path), "%s/backup-nfs", d->dir);
	bk = fx_ctl_json(d, 0, "backup", path, NULL);
	log = h_daemon_log(d);
	assert_non_null(strstr(log, "shim: renameat2 RENAME_NOREPLACE"));
	if (link_eexist)
		assert_non_null(strstr(log, "shim: link done, EEXIST"));
	free(log);
	snprintf(part, sizeof(part), "%s/data.mdb.partial", path);
	assert_int_equal(lstat(part, &st), -1);
	copy_restores(
	    path, h_json_int(bk, "journal_seq"), h_json_str(bk, "head_hash"));
	json_decref(bk);
	backup_refused(d, path, "already_exists");
	h_assert_serving(d);
}

static void
test_no_rename_noreplace(void **state)
{
	backup_without_rename_noreplace(*state, 0);
}

/*
 * The same, where link answers EEXIST after doing its work (NFS, to a
 * retransmitted call): data.mdb is the copy, so the backup succeeds.
 */
static void
test_no_rename_noreplace_link_retransmitted(void **state)
{
	backup_without_rename_noreplace(*state, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		test_hot_copy_opens_and_verifies, setup, h_teardown),
	    cmocka_unit_test_setup_teardown(test_refusals, setup, h_teardown),
	    cmocka_unit_test_setup_teardown(
		test_copy_private, setup, h_teardown),
	    cmocka_unit_test_setup_teardown(
		test_failed_copy_removed, setup, h_teardown),
	    cmocka_unit_test_setup_teardown(
		test_lock_link_to_live_lock, setup, h_teardown),
	    cmocka_unit_test_setup_teardown(
		test_lock_link_to_live_data, setup, h_teardown),
	    cmocka_unit_test_setup_teardown(
		test_paths_refused, setup, h_teardown),
	    cmocka_unit_test_setup_teardown(
		test_paths_spelled_otherwise, setup, h_teardown),
	    cmocka_unit_test_setup_teardown(
		test_restore_as_readme, setup, h_teardown),
	    cmocka_unit_test_setup_teardown(
		test_two_backups_one_dir, setup, h_teardown),
	    cmocka_unit_test_setup_teardown(
		test_backups_at_sigterm, setup, h_teardown),
	    cmocka_unit_test_teardown(test_not_writable, h_teardown),
	    cmocka_unit_test_setup_teardown(
		test_no_rename_noreplace, setup, h_teardown),
	    cmocka_unit_test_setup_teardown(
		test_no_rename_noreplace_link_retransmitted, setup, h_teardown),
	};

	/* The umask of a budgetd started by hand: the copy must not use it. */
	umask(022);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
