/*
 * test_store.c: unit tests of the LMDB wrapper (daemon/store.c, declared in
 * daemon/budgetd.h): put/get/del and private copies, NOTFOUND as a plain
 * result, the sticky error, nested transactions as the batch uses them,
 * the directory lock against a second process, MAP_FULL with a tiny map,
 * growing the map up to its maximum, a full child transaction inside a
 * healthy parent (the assumption daemon/cmd.c is built on) and the schema
 * version check. Each test gets its own mkdtemp directory, removed after.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "budgetd.h"

#define KIB (UINT64_C(1024))
#define MIB (UINT64_C(1024) * 1024)

/* Values that fill a 64 KiB map within a few dozen writes. */
#define FILL_VLEN 128

static int  dir_setup(void **);
static int  dir_teardown(void **);
static void open_or_fail(const char *, uint64_t, uint64_t);
static void
put_str(struct store_txn *, enum store_db, const char *, const char *);
static int
get_str(struct store_txn *, enum store_db, const char *, const char *);
static void  fill_key(char *, size_t, unsigned);
static void  fill_val(uint8_t *, unsigned);
static int   fill_put(struct store_txn *, unsigned);
static int   fill_check(unsigned);
static int   fill_txn(unsigned, int *);
static pid_t child_open(const char *, const char *);
static int   child_wait(pid_t);

/* A fresh directory per test, under $TMPDIR; *state is its path. */
static int
dir_setup(void **state)
{
	const char *tmp = getenv("TMPDIR");
	char       *dir;

	if (tmp == NULL || *tmp == '\0')
		tmp = "/tmp";
	if (asprintf(&dir, "%s/budgetd-test-store-XXXXXX", tmp) == -1)
		return (-1);
	if (mkdtemp(dir) == NULL) {
		free(dir);
		return (-1);
	}
	*state = dir;
	return (0);
}

/* Close the store and remove the directory (LMDB files, the lock file). */
static int
dir_teardown(void **state)
{
	char          *dir = *state, path[4096];
	DIR           *dp;
	struct dirent *de;
	int            rc = 0;

	store_close();
	if ((dp = opendir(dir)) != NULL) {
		while ((de = readdir(dp)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			if (unlink(path) == -1)
				rc = -1;
		}
		closedir(dp);
	}
	if (rmdir(dir) == -1)
		rc = -1;
	free(dir);
	return (rc);
}

static void
open_or_fail(const char *dir, uint64_t map_size, uint64_t map_max)
{
	char *cause = NULL;

	if (store_open(dir, map_size, map_max, &cause) != 0)
		fail_msg("store_open %s: %s", dir, cause);
}

static void
put_str(struct store_txn *t, enum store_db db, const char *k, const char *v)
{
	store_put(t, db, k, strlen(k), v, strlen(v));
}

/*
 * 1 when k holds exactly v, 0 when k is absent; fails the test on any other
 * value or error.
 */
static int
get_str(struct store_txn *t, enum store_db db, const char *k, const char *v)
{
	struct store_val sv;
	int              rc;

	rc = store_get(t, db, k, strlen(k), &sv);
	if (rc == STORE_NOTFOUND) {
		assert_null(sv.data);
		assert_int_equal(sv.len, 0);
		return (0);
	}
	assert_int_equal(rc, STORE_OK);
	if (v == NULL)
		fail_msg("%s: present, expected absent", k);
	assert_int_equal(sv.len, strlen(v));
	assert_memory_equal(sv.data, v, sv.len);
	free(sv.data);
	return (1);
}

static void
fill_key(char *buf, size_t len, unsigned i)
{
	snprintf(buf, len, "fill-%06u", i);
}

static void
fill_val(uint8_t *v, unsigned i)
{
	size_t j;

	for (j = 0; j < FILL_VLEN; j++)
		v[j] = (uint8_t)(i * 31 + j);
}

/* Write the i-th fill record into t; returns t->err afterwards. */
static int
fill_put(struct store_txn *t, unsigned i)
{
	char    k[32];
	uint8_t v[FILL_VLEN];

	fill_key(k, sizeof(k), i);
	fill_val(v, i);
	store_put(t, STORE_DB_REQUESTS, k, strlen(k), v, sizeof(v));
	return (t->err);
}

/* In a read txn: 1 when fill record i is there and intact, 0 when absent. */
static int
fill_check(unsigned i)
{
	struct store_txn t;
	struct store_val sv;
	char             k[32];
	uint8_t          v[FILL_VLEN];
	int              rc;

	fill_key(k, sizeof(k), i);
	fill_val(v, i);
	store_begin(&t, 0);
	assert_int_equal(t.err, 0);
	rc = store_get(&t, STORE_DB_REQUESTS, k, strlen(k), &sv);
	store_abort(&t);
	if (rc == STORE_NOTFOUND)
		return (0);
	assert_int_equal(rc, STORE_OK);
	assert_int_equal(sv.len, FILL_VLEN);
	assert_memory_equal(sv.data, v, FILL_VLEN);
	free(sv.data);
	return (1);
}

/*
 * Fork a process that calls store_open(dir). It exits 0 when the outcome
 * matches want: NULL means "opens", otherwise "fails with a cause that
 * contains want". It exits with _exit so nothing of ours runs twice.
 */
static pid_t
child_open(const char *dir, const char *want)
{
	char *cause = NULL;
	pid_t pid;
	int   rc;

	pid = fork();
	assert_true(pid != -1);
	if (pid != 0)
		return (pid);
	/*
	 * Be another process: drop the store inherited from the parent
	 * (store_open refuses a second open in one process). The parent's
	 * flock stays, since it holds the lock file open itself.
	 */
	store_close();
	rc = store_open(dir, 1 * MIB, 1 * MIB, &cause);
	if (want == NULL) {
		if (rc == 0) {
			store_close();
			_exit(0);
		}
		fprintf(stderr, "child: store_open failed: %s\n", cause);
		_exit(1);
	}
	if (rc == 0) {
		fprintf(stderr, "child: store_open succeeded\n");
		_exit(2);
	}
	if (cause == NULL || strstr(cause, want) == NULL) {
		fprintf(stderr, "child: cause \"%s\", want \"%s\"\n",
		    cause != NULL ? cause : "(null)", want);
		_exit(3);
	}
	_exit(0);
}

static int
child_wait(pid_t pid)
{
	int status;

	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return (WEXITSTATUS(status));
}

/* A new store: this build's schema, databases usable; put, get, del. */
static void
test_put_get_del(void **state)
{
	const char       *dir = *state;
	struct store_txn  t;
	struct store_info si;

	open_or_fail(dir, 1 * MIB, 4 * MIB);
	store_info(&si);
	assert_int_equal(si.schema, STORE_SCHEMA);
	assert_int_equal(si.map_size, 1 * MIB);
	assert_true(si.map_used > 0 && si.map_used <= si.map_size);

	store_begin(&t, 1);
	assert_int_equal(t.err, 0);
	put_str(&t, STORE_DB_META, "k1", "meta value");
	put_str(&t, STORE_DB_REQUESTS, "k1", "requests value");
	/* Visible inside the writing transaction already. */
	assert_int_equal(get_str(&t, STORE_DB_META, "k1", "meta value"), 1);
	assert_int_equal(store_commit(&t), 0);

	store_begin(&t, 0);
	assert_int_equal(get_str(&t, STORE_DB_META, "k1", "meta value"), 1);
	assert_int_equal(
	    get_str(&t, STORE_DB_REQUESTS, "k1", "requests value"), 1);
	store_abort(&t);

	/* Overwrite, delete, and delete what is not there (no error). */
	store_begin(&t, 1);
	put_str(&t, STORE_DB_META, "k1", "second");
	store_del(&t, STORE_DB_REQUESTS, "k1", 2);
	store_del(&t, STORE_DB_REQUESTS, "never-written", 13);
	assert_int_equal(t.err, 0);
	assert_int_equal(store_commit(&t), 0);

	store_begin(&t, 0);
	assert_int_equal(get_str(&t, STORE_DB_META, "k1", "second"), 1);
	assert_int_equal(get_str(&t, STORE_DB_REQUESTS, "k1", NULL), 0);
	store_abort(&t);

	/* An aborted write leaves nothing behind. */
	store_begin(&t, 1);
	put_str(&t, STORE_DB_META, "k2", "aborted");
	store_abort(&t);
	assert_null(t.txn);
	store_begin(&t, 0);
	assert_int_equal(get_str(&t, STORE_DB_META, "k2", NULL), 0);
	store_abort(&t);
}

/* NOTFOUND is a result: the transaction carries on and commits. */
static void
test_get_missing_not_sticky(void **state)
{
	const char      *dir = *state;
	struct store_txn t;
	struct store_val sv;

	open_or_fail(dir, 1 * MIB, 1 * MIB);
	store_begin(&t, 1);
	sv.data = (void *)&sv;
	sv.len = 99;
	assert_int_equal(store_get(&t, STORE_DB_REQUESTS, "missing", 7, &sv),
	    STORE_NOTFOUND);
	assert_null(sv.data);
	assert_int_equal(sv.len, 0);
	assert_int_equal(t.err, 0);
	put_str(&t, STORE_DB_REQUESTS, "after", "written");
	assert_int_equal(t.err, 0);
	assert_int_equal(get_str(&t, STORE_DB_REQUESTS, "after", "written"), 1);
	assert_int_equal(store_commit(&t), 0);

	store_begin(&t, 0);
	assert_int_equal(
	    store_get(&t, STORE_DB_META, "missing", 7, &sv), STORE_NOTFOUND);
	assert_int_equal(t.err, 0);
	assert_int_equal(get_str(&t, STORE_DB_REQUESTS, "after", "written"), 1);
	store_abort(&t);
}

/*
 * A value is the caller's own memory: writable (LMDB's map is read-only,
 * so writing through a map pointer would fault), alive after the
 * transaction ends, unaffected by later writes. Empty values too.
 */
static void
test_value_is_private_copy(void **state)
{
	const char      *dir = *state;
	struct store_txn t;
	struct store_val a, b, e;

	open_or_fail(dir, 1 * MIB, 1 * MIB);
	store_begin(&t, 1);
	put_str(&t, STORE_DB_META, "key", "original");
	store_put(&t, STORE_DB_META, "empty", 5, "", 0);
	assert_int_equal(store_commit(&t), 0);

	store_begin(&t, 0);
	assert_int_equal(store_get(&t, STORE_DB_META, "key", 3, &a), STORE_OK);
	assert_int_equal(store_get(&t, STORE_DB_META, "key", 3, &b), STORE_OK);
	assert_int_equal(
	    store_get(&t, STORE_DB_META, "empty", 5, &e), STORE_OK);
	store_abort(&t);

	assert_ptr_not_equal(a.data, b.data);
	assert_int_equal(e.len, 0);
	assert_non_null(e.data);
	memset(a.data, 'X', a.len);
	assert_memory_equal(b.data, "original", 8);

	store_begin(&t, 1);
	put_str(&t, STORE_DB_META, "key", "replaced");
	assert_int_equal(store_commit(&t), 0);
	assert_memory_equal(b.data, "original", 8);

	store_begin(&t, 0);
	assert_int_equal(get_str(&t, STORE_DB_META, "key", "replaced"), 1);
	store_abort(&t);
	free(a.data);
	free(b.data);
	free(e.data);
}

/*
 * While one process has the directory open, store_open in another fails
 * with the lock message; the first keeps working; after store_close the
 * directory can be opened again.
 */
static void
test_lock(void **state)
{
	const char      *dir = *state;
	struct store_txn t;

	open_or_fail(dir, 1 * MIB, 1 * MIB);
	store_begin(&t, 1);
	put_str(&t, STORE_DB_META, "before", "1");
	assert_int_equal(store_commit(&t), 0);

	assert_int_equal(child_wait(child_open(dir, "another budgetd")), 0);

	store_begin(&t, 1);
	assert_int_equal(get_str(&t, STORE_DB_META, "before", "1"), 1);
	put_str(&t, STORE_DB_META, "after", "2");
	assert_int_equal(store_commit(&t), 0);
	store_close();

	assert_int_equal(child_wait(child_open(dir, NULL)), 0);

	open_or_fail(dir, 1 * MIB, 1 * MIB);
	store_begin(&t, 0);
	assert_int_equal(get_str(&t, STORE_DB_META, "before", "1"), 1);
	assert_int_equal(get_str(&t, STORE_DB_META, "after", "2"), 1);
	store_abort(&t);
}

/*
 * After an error every operation is a no-op, commit aborts and returns the
 * error, nothing of the transaction is kept, and the next one is clean.
 * LMDB refuses an empty key (MDB_BAD_VALSIZE), which maps to STORE_IO.
 */
static void
test_sticky_error(void **state)
{
	const char      *dir = *state;
	struct store_txn t, child;
	struct store_val sv;
	char             big[600];

	open_or_fail(dir, 1 * MIB, 1 * MIB);
	store_begin(&t, 1);
	put_str(&t, STORE_DB_META, "a", "1");
	assert_int_equal(t.err, 0);
	store_put(&t, STORE_DB_META, "", 0, "x", 1);
	assert_int_equal(t.err, STORE_IO);

	assert_int_equal(store_get(&t, STORE_DB_META, "a", 1, &sv), STORE_IO);
	assert_null(sv.data);
	put_str(&t, STORE_DB_META, "b", "2");
	store_del(&t, STORE_DB_META, "a", 1);
	assert_int_equal(t.err, STORE_IO);
	store_begin_nested(&child, &t);
	assert_int_equal(child.err, STORE_IO);
	assert_null(child.txn);
	assert_int_equal(store_commit(&child), STORE_IO);
	assert_int_equal(store_commit(&t), STORE_IO);
	assert_null(t.txn);

	store_begin(&t, 1);
	assert_int_equal(t.err, 0);
	assert_int_equal(get_str(&t, STORE_DB_META, "a", NULL), 0);
	assert_int_equal(get_str(&t, STORE_DB_META, "b", NULL), 0);
	/* A key above LMDB's limit (511 bytes) is the same kind of error. */
	memset(big, 'k', sizeof(big));
	store_put(&t, STORE_DB_META, big, sizeof(big), "v", 1);
	assert_int_equal(t.err, STORE_IO);
	put_str(&t, STORE_DB_META, "c", "3");
	assert_int_equal(store_commit(&t), STORE_IO);

	store_begin(&t, 0);
	assert_int_equal(get_str(&t, STORE_DB_META, "c", NULL), 0);
	store_abort(&t);
}

/*
 * Nested transactions, as the batch uses them: a committed child is part of
 * the parent, an aborted or failed child is gone without hurting the
 * parent, and only the parent's commit reaches the disk.
 */
static void
test_nested(void **state)
{
	const char      *dir = *state;
	struct store_txn p, c;

	open_or_fail(dir, 1 * MIB, 1 * MIB);
	store_begin(&p, 1);
	put_str(&p, STORE_DB_META, "parent", "p");

	store_begin_nested(&c, &p);
	assert_int_equal(c.err, 0);
	assert_ptr_equal(c.parent, &p);
	assert_int_equal(get_str(&c, STORE_DB_META, "parent", "p"), 1);
	put_str(&c, STORE_DB_REQUESTS, "child1", "c1");
	assert_int_equal(store_commit(&c), 0);
	assert_int_equal(get_str(&p, STORE_DB_REQUESTS, "child1", "c1"), 1);

	store_begin_nested(&c, &p);
	put_str(&c, STORE_DB_REQUESTS, "child2", "c2");
	store_del(&c, STORE_DB_META, "parent", 6);
	assert_int_equal(get_str(&c, STORE_DB_META, "parent", NULL), 0);
	store_abort(&c);
	assert_int_equal(get_str(&p, STORE_DB_REQUESTS, "child2", NULL), 0);
	assert_int_equal(get_str(&p, STORE_DB_META, "parent", "p"), 1);

	/* A child whose error is sticky: its commit aborts it, alone. */
	store_begin_nested(&c, &p);
	put_str(&c, STORE_DB_REQUESTS, "child3", "c3");
	store_put(&c, STORE_DB_META, "", 0, "x", 1);
	assert_int_equal(store_commit(&c), STORE_IO);
	assert_int_equal(p.err, 0);
	assert_int_equal(get_str(&p, STORE_DB_REQUESTS, "child3", NULL), 0);

	/* Several children in a row, as a batch does. */
	store_begin_nested(&c, &p);
	put_str(&c, STORE_DB_REQUESTS, "child4", "c4");
	assert_int_equal(store_commit(&c), 0);
	assert_int_equal(store_commit(&p), 0);

	store_close();
	open_or_fail(dir, 1 * MIB, 1 * MIB);
	store_begin(&p, 0);
	assert_int_equal(get_str(&p, STORE_DB_META, "parent", "p"), 1);
	assert_int_equal(get_str(&p, STORE_DB_REQUESTS, "child1", "c1"), 1);
	assert_int_equal(get_str(&p, STORE_DB_REQUESTS, "child2", NULL), 0);
	assert_int_equal(get_str(&p, STORE_DB_REQUESTS, "child3", NULL), 0);
	assert_int_equal(get_str(&p, STORE_DB_REQUESTS, "child4", "c4"), 1);
	store_abort(&p);

	/* Children of an aborted parent never reach the disk either. */
	store_begin(&p, 1);
	store_begin_nested(&c, &p);
	put_str(&c, STORE_DB_REQUESTS, "child5", "c5");
	assert_int_equal(store_commit(&c), 0);
	store_abort(&p);
	store_begin(&p, 0);
	assert_int_equal(get_str(&p, STORE_DB_REQUESTS, "child5", NULL), 0);
	store_abort(&p);
}

/*
 * One fill record in its own write transaction. Returns 0 when committed,
 * or the error and where it surfaced: *at_put is 1 when store_put set it,
 * 0 when only the commit failed.
 */
static int
fill_txn(unsigned i, int *at_put)
{
	struct store_txn t;
	int              err;

	store_begin(&t, 1);
	assert_int_equal(t.err, 0);
	if ((err = fill_put(&t, i)) != 0) {
		*at_put = 1;
		assert_int_equal(store_commit(&t), err);
		return (err);
	}
	*at_put = 0;
	return (store_commit(&t));
}

/*
 * A 64 KiB map that may not grow. First one record per transaction until
 * storage says STORE_FULL (LMDB may say so at the put or only at the
 * commit, when it writes its free list). Then one transaction that writes
 * until store_put itself sets STORE_FULL. Every committed record survives
 * a reopen; nothing of the refused transactions does. Then, with a larger
 * map_max, store_grow() makes room for the same write, and refuses once
 * the maximum is reached.
 */
static void
test_map_full_and_grow(void **state)
{
	const char       *dir = *state;
	struct store_txn  t;
	struct store_info si;
	unsigned          i, committed, big;
	int               err = 0, at_put = 0;

	open_or_fail(dir, 64 * KIB, 64 * KIB);
	store_info(&si);
	assert_int_equal(si.map_size, 64 * KIB);
	assert_int_equal(store_grow(), -1); /* map_max == map_size */

	for (i = 0; i < 10000; i++) {
		if ((err = fill_txn(i, &at_put)) != 0)
			break;
	}
	committed = i;
	print_message("map full after %u records of %d bytes, at %s\n",
	    committed, FILL_VLEN, at_put ? "store_put" : "store_commit");
	assert_int_equal(err, STORE_FULL);
	assert_true(committed > 10);

	/* Many records in one transaction: store_put sets STORE_FULL. */
	store_begin(&t, 1);
	for (big = committed; big < committed + 10000; big++) {
		if (fill_put(&t, big) != 0)
			break;
	}
	assert_int_equal(t.err, STORE_FULL);
	put_str(&t, STORE_DB_META, "after-full", "no-op");
	assert_int_equal(t.err, STORE_FULL);
	assert_int_equal(store_commit(&t), STORE_FULL);

	store_close();
	open_or_fail(dir, 64 * KIB, 256 * KIB);
	for (i = 0; i < committed; i++)
		assert_int_equal(fill_check(i), 1);
	for (i = committed; i <= big; i++)
		assert_int_equal(fill_check(i), 0);
	store_begin(&t, 0);
	assert_int_equal(get_str(&t, STORE_DB_META, "after-full", NULL), 0);
	store_abort(&t);

	/* Still full at the same size... */
	assert_int_equal(fill_txn(committed, &at_put), STORE_FULL);

	/* ...and the same write fits once the map has grown. */
	assert_int_equal(store_grow(), 0);
	store_info(&si);
	assert_int_equal(si.map_size, 128 * KIB);
	assert_int_equal(fill_txn(committed, &at_put), 0);
	assert_int_equal(fill_check(committed), 1);

	assert_int_equal(store_grow(), 0);
	store_info(&si);
	assert_int_equal(si.map_size, 256 * KIB);
	assert_int_equal(store_grow(), -1);
	store_info(&si);
	assert_int_equal(si.map_size, 256 * KIB);

	/* The grown map is used: twice as many records as fitted before. */
	for (i = committed + 1; i < 2 * committed; i++)
		assert_int_equal(fill_txn(i, &at_put), 0);
	store_close();
	open_or_fail(dir, 64 * KIB, 256 * KIB);
	for (i = 0; i < 2 * committed; i++)
		assert_int_equal(fill_check(i), 1);
}

/*
 * daemon/cmd.c runs each request in a child of the batch transaction and,
 * when the map is at its maximum, answers "storage_full" for the child
 * that hit MAP_FULL, aborts it, and goes on to commit the rest of the
 * batch. That needs LMDB to leave the parent usable after a child's
 * MAP_FULL: this test checks exactly that.
 */
static void
test_child_full_parent_commits(void **state)
{
	const char      *dir = *state;
	struct store_txn p, c;
	unsigned         i;

	open_or_fail(dir, 64 * KIB, 64 * KIB);
	store_begin(&p, 1);
	put_str(&p, STORE_DB_META, "parent-before", "1");

	store_begin_nested(&c, &p);
	put_str(&c, STORE_DB_META, "first-child", "committed");
	assert_int_equal(store_commit(&c), 0);

	store_begin_nested(&c, &p);
	for (i = 0; i < 10000 && c.err == 0; i++)
		fill_put(&c, i);
	assert_int_equal(c.err, STORE_FULL);
	assert_true(i > 10);
	store_abort(&c);
	assert_int_equal(p.err, 0);

	/* The parent goes on: its own writes and another child's. */
	assert_int_equal(get_str(&p, STORE_DB_META, "parent-before", "1"), 1);
	assert_int_equal(
	    get_str(&p, STORE_DB_META, "first-child", "committed"), 1);
	assert_int_equal(
	    get_str(&p, STORE_DB_REQUESTS, "fill-000000", NULL), 0);
	put_str(&p, STORE_DB_META, "parent-after", "2");
	store_begin_nested(&c, &p);
	put_str(&c, STORE_DB_META, "next-child", "3");
	assert_int_equal(store_commit(&c), 0);
	assert_int_equal(p.err, 0);
	assert_int_equal(store_commit(&p), 0);

	store_close();
	open_or_fail(dir, 64 * KIB, 64 * KIB);
	store_begin(&p, 0);
	assert_int_equal(get_str(&p, STORE_DB_META, "parent-before", "1"), 1);
	assert_int_equal(
	    get_str(&p, STORE_DB_META, "first-child", "committed"), 1);
	assert_int_equal(get_str(&p, STORE_DB_META, "parent-after", "2"), 1);
	assert_int_equal(get_str(&p, STORE_DB_META, "next-child", "3"), 1);
	store_abort(&p);
	assert_int_equal(fill_check(0), 0);
}

/* A schema newer than this build refuses to open, every time. */
static void
test_schema_newer(void **state)
{
	const char      *dir = *state;
	struct store_txn t;
	const uint8_t    newer[8] = {0, 0, 0, 0, 0, 0, 0, STORE_SCHEMA + 1};
	char            *cause = NULL;
	int              k;

	open_or_fail(dir, 1 * MIB, 1 * MIB);
	store_begin(&t, 1);
	store_put(&t, STORE_DB_META, "schema", 6, newer, sizeof(newer));
	assert_int_equal(store_commit(&t), 0);
	store_close();

	/* Twice: a failed open must release the lock it took. */
	for (k = 0; k < 2; k++) {
		cause = NULL;
		assert_int_equal(store_open(dir, 1 * MIB, 1 * MIB, &cause), -1);
		assert_non_null(cause);
		if (strstr(cause, "newer budgetd") == NULL)
			fail_msg("cause: %s", cause);
		free(cause);
	}
}

/* Schema 1, a pre-release layout, is refused with a clear reason. */
static void
test_schema_older(void **state)
{
	const char      *dir = *state;
	struct store_txn t;
	const uint8_t    one[8] = {0, 0, 0, 0, 0, 0, 0, 1};
	char            *cause = NULL;

	open_or_fail(dir, 1 * MIB, 1 * MIB);
	store_begin(&t, 1);
	store_put(&t, STORE_DB_META, "schema", 6, one, sizeof(one));
	assert_int_equal(store_commit(&t), 0);
	store_close();

	assert_int_equal(store_open(dir, 1 * MIB, 1 * MIB, &cause), -1);
	assert_non_null(cause);
	if (strstr(cause, "pre-release") == NULL)
		fail_msg("cause: %s", cause);
	free(cause);
}

/* A schema value that is not 8 bytes does not decode: refused. */
static void
test_schema_garbage(void **state)
{
	const char      *dir = *state;
	struct store_txn t;
	char            *cause = NULL;

	open_or_fail(dir, 1 * MIB, 1 * MIB);
	store_begin(&t, 1);
	store_put(&t, STORE_DB_META, "schema", 6, "\1", 1);
	assert_int_equal(store_commit(&t), 0);
	store_close();

	assert_int_equal(store_open(dir, 1 * MIB, 1 * MIB, &cause), -1);
	assert_non_null(cause);
	if (strstr(cause, "schema") == NULL)
		fail_msg("cause: %s", cause);
	free(cause);
}

/* The current schema reopens; the version survives. */
static void
test_schema_current(void **state)
{
	const char       *dir = *state;
	struct store_txn  t;
	struct store_val  sv;
	struct store_info si;
	const uint8_t     cur[8] = {0, 0, 0, 0, 0, 0, 0, STORE_SCHEMA};

	open_or_fail(dir, 1 * MIB, 1 * MIB);
	store_close();
	open_or_fail(dir, 1 * MIB, 1 * MIB);
	store_info(&si);
	assert_int_equal(si.schema, STORE_SCHEMA);
	store_begin(&t, 0);
	assert_int_equal(
	    store_get(&t, STORE_DB_META, "schema", 6, &sv), STORE_OK);
	store_abort(&t);
	assert_int_equal(sv.len, 8);
	assert_memory_equal(sv.data, cur, 8);
	free(sv.data);
}

/* Every error has its own message for people. */
static void
test_strerror(void **state)
{
	static const int errs[] = {STORE_OK, STORE_NOTFOUND, STORE_FULL,
	    STORE_LIMIT, STORE_IO, STORE_CORRUPT};
	size_t           i, j;

	(void)state;
	for (i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
		assert_non_null(store_strerror(errs[i]));
		for (j = 0; j < i; j++)
			assert_string_not_equal(
			    store_strerror(errs[i]), store_strerror(errs[j]));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		test_put_get_del, dir_setup, dir_teardown),
	    cmocka_unit_test_setup_teardown(
		test_get_missing_not_sticky, dir_setup, dir_teardown),
	    cmocka_unit_test_setup_teardown(
		test_value_is_private_copy, dir_setup, dir_teardown),
	    cmocka_unit_test_setup_teardown(test_lock, dir_setup, dir_teardown),
	    cmocka_unit_test_setup_teardown(
		test_sticky_error, dir_setup, dir_teardown),
	    cmocka_unit_test_setup_teardown(
		test_nested, dir_setup, dir_teardown),
	    cmocka_unit_test_setup_teardown(
		test_map_full_and_grow, dir_setup, dir_teardown),
	    cmocka_unit_test_setup_teardown(
		test_child_full_parent_commits, dir_setup, dir_teardown),
	    cmocka_unit_test_setup_teardown(
		test_schema_newer, dir_setup, dir_teardown),
	    cmocka_unit_test_setup_teardown(
		test_schema_garbage, dir_setup, dir_teardown),
	    cmocka_unit_test_setup_teardown(
		test_schema_older, dir_setup, dir_teardown),
	    cmocka_unit_test_setup_teardown(
		test_schema_current, dir_setup, dir_teardown),
	    cmocka_unit_test(test_strerror),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
