/*
 * store.c: the LMDB environment, and the only file that includes <lmdb.h>.
 *
 * Owns: opening the environment once (with an exclusive lock on the data
 * directory, so two daemons never share one ledger), the named databases
 * and the schema version, the transaction wrapper with its sticky error,
 * the one function that maps MDB_* results to ours, and growing the map
 * when it fills. Durability is LMDB's default: every commit of a write
 * transaction is fsync'd before mdb_txn_commit returns. Never MDB_NOSYNC.
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lmdb.h>

#include "budgetd.h"

/* Warn once the map is this full (percent). */
#define STORE_WARN_PCT 80

/*
 * A filesystem with less room than this is full (store_disk_full). A short
 * write stops only when no block is left; the slack allows for block
 * granularity and for files others removed since.
 */
#define STORE_DISK_LOW (1024 * 1024)

/* The history index: one key per entity, its entries' seqs as sorted
 * fixed-size duplicates, appended in order (MDB_APPENDDUP). */
static const unsigned store_db_flags[STORE_DB__COUNT] = {
    [STORE_DB_HISTORY] = MDB_DUPSORT | MDB_DUPFIXED,
};

static const char *store_db_names[STORE_DB__COUNT] = {
    [STORE_DB_META] = "meta",
    [STORE_DB_REQUESTS] = "requests",
    [STORE_DB_RULES] = "rules",
    [STORE_DB_CONTRACTS] = "contracts",
    [STORE_DB_COMPANIES] = "companies",
    [STORE_DB_LINKS] = "links",
    [STORE_DB_GRANTS] = "grants",
    [STORE_DB_DOSSIERS] = "dossiers",
    [STORE_DB_COMPANY_DOSSIERS] = "company_dossiers",
    [STORE_DB_EXPIRY] = "expiry",
    [STORE_DB_JOURNAL] = "journal",
    [STORE_DB_HISTORY] = "history",
};

static struct {
	MDB_env *env;
	MDB_dbi  dbi[STORE_DB__COUNT];
	uint64_t map_size;
	uint64_t map_max;
	uint64_t schema;
	uint64_t generation; /* how many times a store was opened */
	int      lockfd;
	int      warned_full;
} store = {.lockfd = -1};

static int  store_err_from_mdb(int, const char *);
static int  store_disk_full(void);
static int  store_init_dbs(char **);
static void store_check_usage(void);
static void store_write(struct store_txn *, enum store_db, const void *, size_t,
    const void *, size_t, unsigned, const char *);

/*
 * The single place that knows MDB_* codes. NOTFOUND is a result, not an
 * error; everything else unexpected is logged here so that callers only
 * need to look at our code.
 */
static int
store_err_from_mdb(int rc, const char *what)
{
	switch (rc) {
	case MDB_SUCCESS:
		return (STORE_OK);
	case MDB_NOTFOUND:
		return (STORE_NOTFOUND);
	case MDB_MAP_FULL:
	case ENOSPC:
	case EDQUOT:
		log_warnx("store: %s: %s", what, mdb_strerror(rc));
		return (STORE_FULL);
	case EIO:
		/*
		 * LMDB reports a write the filesystem cut short as EIO
		 * (mdb_page_flush: "short write, filesystem full?"): on a
		 * filesystem with no room left, that is a full disk.
		 */
		log_warnx("store: %s: %s", what, mdb_strerror(rc));
		return (store_disk_full() ? STORE_FULL : STORE_IO);
	case MDB_TXN_FULL:
		log_warnx("store: %s: %s", what, mdb_strerror(rc));
		return (STORE_LIMIT);
	case MDB_CORRUPTED:
	case MDB_PAGE_NOTFOUND:
	case MDB_INVALID:
		log_warnx("store: %s: %s", what, mdb_strerror(rc));
		return (STORE_CORRUPT);
	default:
		log_warnx("store: %s: %s", what, mdb_strerror(rc));
		return (STORE_IO);
	}
}

/* 1 when the filesystem holding the ledger has (next to) no room left. */
static int
store_disk_full(void)
{
	struct statvfs sv;
	int            fd, saved = errno;

	if (store.env == NULL || mdb_env_get_fd(store.env, &fd) != 0 ||
	    fstatvfs(fd, &sv) == -1) {
		errno = saved;
		return (0);
	}
	return ((uint64_t)sv.f_bavail * sv.f_frsize < STORE_DISK_LOW);
}

const char *
store_strerror(int err)
{
	switch (err) {
	case STORE_OK:
		return ("ok");
	case STORE_NOTFOUND:
		return ("not found");
	case STORE_FULL:
		return ("the ledger's storage is full");
	case STORE_LIMIT:
		return ("the request touches too much data at once");
	case STORE_CORRUPT:
		return ("the ledger's data does not decode");
	default:
		return ("the ledger's storage failed");
	}
}

int
store_open(const char *dir, uint64_t map_size, uint64_t map_max, char **cause)
{
	char       *lockpath;
	MDB_envinfo info;
	int         rc;

	if (store.env != NULL || store.lockfd != -1) {
		xasprintf(cause, "%s: a store is open already", dir);
		return (-1);
	}
	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		xasprintf(cause, "%s: %s", dir, strerror(errno));
		return (-1);
	}
	/*
	 * LMDB lets several processes share an environment; a ledger must
	 * have exactly one writer deciding what fits, so take the directory.
	 */
	xasprintf(&lockpath, "%s/budgetd.lock", dir);
	store.lockfd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (store.lockfd == -1) {
		xasprintf(cause, "%s: %s", lockpath, strerror(errno));
		free(lockpath);
		return (-1);
	}
	if (flock(store.lockfd, LOCK_EX | LOCK_NB) == -1) {
		xasprintf(
		    cause, "%s: another budgetd uses this data directory", dir);
		free(lockpath);
		goto fail;
	}
	free(lockpath);

	if ((rc = mdb_env_create(&store.env)) != 0) {
		xasprintf(cause, "mdb_env_create: %s", mdb_strerror(rc));
		goto fail;
	}
	mdb_env_set_maxdbs(store.env, STORE_DB__COUNT + 4);
	mdb_env_set_mapsize(store.env, (size_t)map_size);
	/*
	 * MDB_NOTLS: read transactions are not tied to threads, so a reader
	 * thread can serve long reports. MDB_NORDAHEAD: random access.
	 */
	rc = mdb_env_open(store.env, dir, MDB_NOTLS | MDB_NORDAHEAD, 0600);
	if (rc != 0) {
		xasprintf(cause, "%s: %s", dir, mdb_strerror(rc));
		goto fail;
	}
	mdb_env_info(store.env, &info);
	store.map_size = info.me_mapsize;
	store.map_max = map_max > store.map_size ? map_max : store.map_size;
	if (store_init_dbs(cause) == -1)
		goto fail;
	store.generation++;
	log_info("store: %s: schema %llu, map %llu KiB (max %llu KiB)", dir,
	    (unsigned long long)store.schema,
	    (unsigned long long)(store.map_size >> 10),
	    (unsigned long long)(store.map_max >> 10));
	store_check_usage();
	return (0);
fail:
	if (store.env != NULL)
		mdb_env_close(store.env);
	store.env = NULL;
	close(store.lockfd);
	store.lockfd = -1;
	return (-1);
}

/*
 * Create or open every named database and check the schema version in one
 * write transaction, committed before the first client is accepted.
 */
static int
store_init_dbs(char **cause)
{
	MDB_txn *txn;
	MDB_val  k, v;
	uint8_t  be[8];
	uint64_t schema = 0;
	int      rc, i;

	if ((rc = mdb_txn_begin(store.env, NULL, 0, &txn)) != 0) {
		xasprintf(cause, "mdb_txn_begin: %s", mdb_strerror(rc));
		return (-1);
	}
	/* The schema first: an old layout may not even open the others. */
	rc = mdb_dbi_open(txn, store_db_names[STORE_DB_META], MDB_CREATE,
	    &store.dbi[STORE_DB_META]);
	if (rc != 0) {
		xasprintf(cause, "database meta: %s", mdb_strerror(rc));
		goto fail;
	}
	k.mv_data = (void *)(uintptr_t) "schema";
	k.mv_size = 6;
	rc = mdb_get(txn, store.dbi[STORE_DB_META], &k, &v);
	if (rc == 0) {
		if (v.mv_size != 8) {
			xasprintf(cause, "schema version does not decode");
			goto fail;
		}
		for (i = 0; i < 8; i++)
			schema = schema << 8 | ((uint8_t *)v.mv_data)[i];
		if (schema > STORE_SCHEMA) {
			xasprintf(cause,
			    "data was written by a newer budgetd "
			    "(schema %llu, this one knows %d)",
			    (unsigned long long)schema, STORE_SCHEMA);
			goto fail;
		}
		if (schema < STORE_SCHEMA_OLDEST) {
			/* Schema 1 was a pre-release layout: none in use. */
			xasprintf(cause,
			    "data has schema %llu, a pre-release layout "
			    "this budgetd (schema %d) does not read",
			    (unsigned long long)schema, STORE_SCHEMA);
			goto fail;
		}
		/* Older but known: upgrade.c converts it before serving. */
	} else if (rc != MDB_NOTFOUND) {
		xasprintf(cause, "reading schema: %s", mdb_strerror(rc));
		goto fail;
	}
	for (i = 0; i < STORE_DB__COUNT; i++) {
		if (i == STORE_DB_META)
			continue;
		rc = mdb_dbi_open(txn, store_db_names[i],
		    MDB_CREATE | store_db_flags[i], &store.dbi[i]);
		if (rc != 0) {
			xasprintf(cause, "database %s: %s", store_db_names[i],
			    mdb_strerror(rc));
			goto fail;
		}
	}
	if (schema == 0) {
		/* A new ledger. */
		schema = STORE_SCHEMA;
		for (i = 0; i < 8; i++)
			be[i] = (uint8_t)(schema >> (56 - 8 * i));
		v.mv_data = be;
		v.mv_size = sizeof(be);
		if ((rc = mdb_put(txn, store.dbi[STORE_DB_META], &k, &v, 0))) {
			xasprintf(
			    cause, "writing schema: %s", mdb_strerror(rc));
			goto fail;
		}
	}
	if ((rc = mdb_txn_commit(txn)) != 0) {
		xasprintf(cause, "mdb_txn_commit: %s", mdb_strerror(rc));
		return (-1);
	}
	store.schema = schema;
	return (0);
fail:
	mdb_txn_abort(txn);
	return (-1);
}

void
store_close(void)
{
	if (store.env != NULL) {
		mdb_env_close(store.env);
		store.env = NULL;
	}
	if (store.lockfd != -1) {
		close(store.lockfd);
		store.lockfd = -1;
	}
}

void
store_begin(struct store_txn *t, int rw)
{
	MDB_txn *txn = NULL;
	int      rc, tries;

	memset(t, 0, sizeof(*t));
	t->rw = rw;
	for (tries = 0; tries < 2; tries++) {
		rc = mdb_txn_begin(store.env, NULL, rw ? 0 : MDB_RDONLY, &txn);
		if (rc == MDB_MAP_RESIZED) {
			/* Only we grow the map, but be correct anyway. */
			mdb_env_set_mapsize(store.env, 0);
			continue;
		}
		if (rc == MDB_READERS_FULL) {
			int dead = 0;

			mdb_reader_check(store.env, &dead);
			continue;
		}
		break;
	}
	if (rc != 0) {
		t->err = store_err_from_mdb(rc, "begin");
		return;
	}
	t->txn = txn;
}

/*
 * Which opening of a store this is: transaction ids start again in a new
 * environment, so what is kept per snapshot is kept per generation too.
 */
uint64_t
store_generation(void)
{
	return (store.generation);
}

/* The layout the ledger has now (upgrade.c brings it to STORE_SCHEMA). */
uint64_t
store_schema(void)
{
	return (store.schema);
}

/*
 * Record that t converts the ledger to schema. Only upgrade.c does, at
 * start, before any client: a commit that then fails stops budgetd, so
 * the version kept in memory is set at once.
 */
void
store_set_schema(struct store_txn *t, uint64_t schema)
{
	store_put_u64(t, STORE_DB_META, "schema", schema);
	if (t->err == 0)
		store.schema = schema;
}

/*
 * Which commit a read transaction sees: two transactions with the same
 * snapshot read the same ledger, whichever threads they run on.
 */
uint64_t
store_snapshot(struct store_txn *t)
{
	return (t->txn != NULL ? (uint64_t)mdb_txn_id(t->txn) : 0);
}

void
store_begin_nested(struct store_txn *child, struct store_txn *parent)
{
	MDB_txn *txn = NULL;
	int      rc;

	memset(child, 0, sizeof(*child));
	child->rw = 1;
	child->parent = parent;
	child->jh = parent->jh;
	if (parent->err != 0) {
		child->err = parent->err;
		return;
	}
	rc = mdb_txn_begin(store.env, parent->txn, 0, &txn);
	if (rc != 0) {
		child->err = store_err_from_mdb(rc, "begin nested");
		return;
	}
	child->txn = txn;
}

int
store_commit(struct store_txn *t)
{
	int rc;

	if (t->txn == NULL)
		return (t->err != 0 ? t->err : STORE_IO);
	if (t->err != 0) {
		mdb_txn_abort(t->txn);
		t->txn = NULL;
		return (t->err);
	}
	/* Appends must reach the meta database before the last commit. */
	if (t->parent == NULL && t->jh.dirty)
		fatalx("store: committing a journal head not flushed");
	rc = mdb_txn_commit(t->txn);
	t->txn = NULL;
	if (rc != 0)
		t->err = store_err_from_mdb(rc, "commit");
	else if (t->parent != NULL)
		t->parent->jh = t->jh;
	else if (t->rw && t->parent == NULL)
		store_check_usage();
	return (t->err);
}

void
store_abort(struct store_txn *t)
{
	if (t->txn != NULL)
		mdb_txn_abort(t->txn);
	t->txn = NULL;
}

/*
 * The value under key, pointing into the map: valid only until the next
 * write in t or its end. For a caller that decodes the value at once;
 * store_get hands out a copy.
 */
int
store_peek(struct store_txn *t, enum store_db db, const void *key, size_t klen,
    struct store_val *out)
{
	MDB_val k, v;
	int     rc;

	out->data = NULL;
	out->len = 0;
	if (t->err != 0)
		return (t->err);
	k.mv_data = (void *)(uintptr_t)key;
	k.mv_size = klen;
	rc = mdb_get(t->txn, store.dbi[db], &k, &v);
	if (rc == MDB_NOTFOUND)
		return (STORE_NOTFOUND);
	if (rc != 0) {
		t->err = store_err_from_mdb(rc, "get");
		return (t->err);
	}
	out->len = v.mv_size;
	out->data = v.mv_data;
	return (STORE_OK);
}

int
store_get(struct store_txn *t, enum store_db db, const void *key, size_t klen,
    struct store_val *out)
{
	struct store_val v;
	int              rc;

	out->data = NULL;
	out->len = 0;
	if ((rc = store_peek(t, db, key, klen, &v)) != STORE_OK)
		return (rc);
	/* v.data dies with the transaction: hand out a copy. */
	out->len = v.len;
	out->data = xmalloc(v.len > 0 ? v.len : 1);
	memcpy(out->data, v.data, v.len);
	return (STORE_OK);
}

/*
 * The one mdb_put behind store_put and the appends: flags tell LMDB where
 * the value goes, what names the operation in the log if it fails.
 */
static void
store_write(struct store_txn *t, enum store_db db, const void *key, size_t klen,
    const void *val, size_t vlen, unsigned flags, const char *what)
{
	MDB_val k, v;
	int     rc;

	if (t->err != 0)
		return;
	k.mv_data = (void *)(uintptr_t)key;
	k.mv_size = klen;
	v.mv_data = (void *)(uintptr_t)val;
	v.mv_size = vlen;
	t->writes++;
	if ((rc = mdb_put(t->txn, store.dbi[db], &k, &v, flags)) != 0)
		t->err = store_err_from_mdb(rc, what);
}

void
store_put(struct store_txn *t, enum store_db db, const void *key, size_t klen,
    const void *val, size_t vlen)
{
	store_write(t, db, key, klen, val, vlen, 0, "put");
}

void
store_del(struct store_txn *t, enum store_db db, const void *key, size_t klen)
{
	MDB_val k;
	int     rc;

	if (t->err != 0)
		return;
	k.mv_data = (void *)(uintptr_t)key;
	k.mv_size = klen;
	t->writes++;
	rc = mdb_del(t->txn, store.dbi[db], &k, NULL);
	if (rc != 0 && rc != MDB_NOTFOUND)
		t->err = store_err_from_mdb(rc, "del");
}

/*
 * Append under a key that sorts after every key in the database (the
 * journal's sequence numbers): LMDB then skips the search and fills pages
 * completely.
 */
void
store_append(struct store_txn *t, enum store_db db, const void *key,
    size_t klen, const void *val, size_t vlen)
{
	store_write(t, db, key, klen, val, vlen, MDB_APPEND, "append");
}

/* Append val as key's last duplicate (a DUPSORT database, in order). */
void
store_append_dup(struct store_txn *t, enum store_db db, const void *key,
    size_t klen, const void *val, size_t vlen)
{
	store_write(t, db, key, klen, val, vlen, MDB_APPENDDUP, "append dup");
}

/* Whether key holds the duplicate val: STORE_OK or STORE_NOTFOUND. */
int
store_get_both(struct store_txn *t, enum store_db db, const void *key,
    size_t klen, const void *val, size_t vlen)
{
	MDB_cursor *cur;
	MDB_val     k, v;
	int         rc;

	if (t->err != 0)
		return (t->err);
	if ((rc = mdb_cursor_open(t->txn, store.dbi[db], &cur)) != 0) {
		t->err = store_err_from_mdb(rc, "cursor open");
		return (t->err);
	}
	k.mv_data = (void *)(uintptr_t)key;
	k.mv_size = klen;
	v.mv_data = (void *)(uintptr_t)val;
	v.mv_size = vlen;
	rc = mdb_cursor_get(cur, &k, &v, MDB_GET_BOTH);
	mdb_cursor_close(cur);
	if (rc == MDB_NOTFOUND)
		return (STORE_NOTFOUND);
	if (rc != 0)
		t->err = store_err_from_mdb(rc, "get both");
	return (rc == 0 ? STORE_OK : t->err);
}

uint64_t
store_get_u64(struct store_txn *t, enum store_db db, const char *key)
{
	struct store_val v;
	uint64_t         n = 0;

	if (store_get(t, db, key, strlen(key), &v) != STORE_OK)
		return (0);
	if (v.len != 8)
		t->err = STORE_CORRUPT;
	else
		n = record_get_be64(v.data);
	free(v.data);
	return (n);
}

void
store_put_u64(
    struct store_txn *t, enum store_db db, const char *key, uint64_t n)
{
	uint8_t be[8];
	int     i;

	for (i = 0; i < 8; i++)
		be[i] = (uint8_t)(n >> (56 - 8 * i));
	store_put(t, db, key, strlen(key), be, sizeof(be));
}

/*
 * Walk the keys of db that start with prefix (plen may be 0: every key),
 * in key order. The key and value store_cursor_next hands out are
 * borrowed: valid until the next call on this cursor or the end of the
 * transaction, whichever comes first. Decode them at once.
 */
void
store_cursor_open(struct store_cursor *c, struct store_txn *t, enum store_db db,
    const void *prefix, size_t plen)
{
	MDB_cursor *cur = NULL;
	int         rc;

	memset(c, 0, sizeof(*c));
	c->t = t;
	if (plen > sizeof(c->prefix))
		fatalx("store_cursor_open: prefix of %zu bytes", plen);
	if (plen > 0)
		memcpy(c->prefix, prefix, plen);
	c->plen = plen;
	if (t->err != 0)
		return;
	if ((rc = mdb_cursor_open(t->txn, store.dbi[db], &cur)) != 0) {
		t->err = store_err_from_mdb(rc, "cursor open");
		return;
	}
	c->cur = cur;
}

/*
 * Walk the duplicates of exactly key in a DUPSORT database, from the
 * first that is >= from on: store_cursor_next then hands them out as its
 * value (the key stays key).
 */
void
store_cursor_open_dup(struct store_cursor *c, struct store_txn *t,
    enum store_db db, const void *key, size_t klen, const void *from,
    size_t flen)
{
	store_cursor_open(c, t, db, key, klen);
	if (flen > sizeof(c->from))
		fatalx("store_cursor_open_dup: from of %zu bytes", flen);
	memcpy(c->from, from, flen);
	c->flen = flen;
	c->dup = 1;
}

/* The next call to store_cursor_next returns the first key >= key. */
void
store_cursor_seek(struct store_cursor *c, const void *key, size_t klen)
{
	MDB_val k, v;
	int     rc;

	if (c->cur == NULL || c->t->err != 0)
		return;
	k.mv_data = (void *)(uintptr_t)key;
	k.mv_size = klen;
	rc = mdb_cursor_get(c->cur, &k, &v, MDB_SET_RANGE);
	if (rc != 0 && rc != MDB_NOTFOUND)
		c->t->err = store_err_from_mdb(rc, "cursor seek");
	c->started = rc == 0 ? 2 : 3; /* positioned / past the end */
}

/* 1 and a borrowed key and value, or 0 at the end (or on error). */
int
store_cursor_next(
    struct store_cursor *c, struct store_val *key, struct store_val *val)
{
	MDB_val k, v;
	int     rc;

	if (c->cur == NULL || c->t->err != 0 || c->started == 3)
		return (0);
	if (c->dup) {
		if (c->started == 0) {
			k.mv_data = c->prefix;
			k.mv_size = c->plen;
			v.mv_data = c->from;
			v.mv_size = c->flen;
			rc = mdb_cursor_get(c->cur, &k, &v, MDB_GET_BOTH_RANGE);
		} else
			rc = mdb_cursor_get(c->cur, &k, &v, MDB_NEXT_DUP);
	} else if (c->started == 0) {
		k.mv_data = c->prefix;
		k.mv_size = c->plen;
		rc = c->plen > 0 ? mdb_cursor_get(c->cur, &k, &v, MDB_SET_RANGE)
				 : mdb_cursor_get(c->cur, &k, &v, MDB_FIRST);
	} else if (c->started == 2)
		rc = mdb_cursor_get(c->cur, &k, &v, MDB_GET_CURRENT);
	else
		rc = mdb_cursor_get(c->cur, &k, &v, MDB_NEXT);
	c->started = 1;
	if (rc == MDB_NOTFOUND) {
		c->started = 3;
		return (0);
	}
	if (rc != 0) {
		c->t->err = store_err_from_mdb(rc, "cursor next");
		return (0);
	}
	if (k.mv_size < c->plen || memcmp(k.mv_data, c->prefix, c->plen)) {
		c->started = 3;
		return (0);
	}
	key->data = k.mv_data;
	key->len = k.mv_size;
	val->data = v.mv_data;
	val->len = v.mv_size;
	return (1);
}

void
store_cursor_close(struct store_cursor *c)
{
	if (c->cur != NULL)
		mdb_cursor_close(c->cur);
	c->cur = NULL;
}

/*
 * Double the map, up to the configured maximum. Only legal while no
 * transaction is open in this process; the single-threaded writer calls it
 * between batches. Returns 0 when the map grew, -1 when it cannot.
 */
int
store_grow(void)
{
	uint64_t next;
	int      rc;

	if (store.map_size >= store.map_max)
		return (-1);
	/*
	 * A full disk is STORE_FULL too, but a bigger map needs the same
	 * room on it: growing would only rerun the batch until map_max.
	 */
	if (store_disk_full()) {
		log_warnx("store: the filesystem is full; not growing the map");
		return (-1);
	}
	next = store.map_size * 2;
	if (next > store.map_max || next < store.map_size)
		next = store.map_max;
	if ((rc = mdb_env_set_mapsize(store.env, (size_t)next)) != 0) {
		log_warnx("store: growing map to %llu bytes: %s",
		    (unsigned long long)next, mdb_strerror(rc));
		return (-1);
	}
	log_info("store: map grown from %llu to %llu KiB",
	    (unsigned long long)(store.map_size >> 10),
	    (unsigned long long)(next >> 10));
	store.map_size = next;
	store.warned_full = 0;
	return (0);
}

/* fsync the directory that holds path's last component. */
static int
store_sync_parent(const char *path)
{
	char *dir = xstrdup(path), *slash = strrchr(dir, '/');
	int   fd, rc = 0;

	if (slash == dir)
		slash++;
	*slash = '\0';
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    fsync(fd) == -1)
		rc = errno;
	if (fd != -1)
		close(fd);
	free(dir);
	return (rc);
}

/*
 * What a copy holds: the last journal entry and its hash, read from the
 * file at path in an environment of its own, read-only and without a
 * lock file (MDB_NOLOCK): nobody else writes the copy, and a lock.mdb
 * beside it is not budgetd's. LMDB would reset one it opened first, even
 * one linked to the live environment's lock file or data.mdb, since this
 * process's own locks do not keep it out. Returns 0 or an LMDB code with
 * *cause.
 */
static int
store_copy_describe(
    const char *path, uint64_t *seq, uint8_t hash[32], char **cause)
{
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	MDB_dbi  meta;
	MDB_val  k, v;
	int      rc;

	*seq = 0;
	memset(hash, 0, 32);
	if ((rc = mdb_env_create(&env)) != 0 ||
	    (rc = mdb_env_set_maxdbs(env, STORE_DB__COUNT + 4)) != 0 ||
	    (rc = mdb_env_open(env, path,
		 MDB_RDONLY | MDB_NOLOCK | MDB_NOSUBDIR | MDB_NOTLS, 0600)) !=
		0 ||
	    (rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) != 0 ||
	    (rc = mdb_dbi_open(txn, "meta", 0, &meta)) != 0)
		goto out;
	k.mv_data = (void *)(uintptr_t) "journal_seq";
	k.mv_size = 11;
	if ((rc = mdb_get(txn, meta, &k, &v)) == 0 && v.mv_size == 8)
		*seq = record_get_be64(v.mv_data);
	else if (rc != 0 && rc != MDB_NOTFOUND)
		goto out;
	k.mv_data = (void *)(uintptr_t) "head_hash";
	k.mv_size = 9;
	if ((rc = mdb_get(txn, meta, &k, &v)) == 0 && v.mv_size == 32)
		memcpy(hash, v.mv_data, 32);
	else if (rc != 0 && rc != MDB_NOTFOUND)
		goto out;
	rc = 0;
out:
	if (rc != 0)
		xasprintf(cause, "%s: the copy does not open: %s", path,
		    mdb_strerror(rc));
	if (txn != NULL)
		mdb_txn_abort(txn);
	if (env != NULL)
		mdb_env_close(env);
	return (rc);
}

/*
 * rename(from, to), never over an existing to. Where the file system
 * cannot rename that way (NFS, some FUSE and CIFS mounts answer EINVAL), a
 * hard link does the same, since link(2) never replaces either, and from
 * is then unlinked. Returns 0 or an errno.
 */
static int
store_rename_noreplace(const char *from, const char *to)
{
	struct stat a, b;
	int         err;

	if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
		return (0);
	if (errno != EINVAL && errno != ENOSYS)
		return (errno);
	if (link(from, to) == -1) {
		/*
		 * NFS may answer a retransmitted link that did its work
		 * with EEXIST: then to is from already.
		 */
		err = errno;
		if (err != EEXIST || lstat(from, &a) == -1 ||
		    lstat(to, &b) == -1 || a.st_dev != b.st_dev ||
		    a.st_ino != b.st_ino)
			return (err);
	}
	/* The copy is whole under to: a stray from only costs space. */
	if (unlink(from) == -1)
		log_warn("backup: %s", from);
	return (0);
}

/*
 * The copy itself, into dir/data.mdb.partial: created 0600 whatever the
 * umask, written by LMDB in its own read transaction (with O_DIRECT where
 * the file system has it, as mdb_env_copy2 does: the source is in the
 * page cache already, the copy need not be), fsync'd, described
 * (store_copy_describe), then renamed to data.mdb, never over one
 * (store_rename_noreplace), and
 * the directory and its parent fsync'd. So a copy cut short, by an
 * error, a kill or a power cut, or one that does not open, is never
 * named data.mdb, and the answer comes only once the copy would survive
 * a power cut: O_DIRECT neither flushes the disk's cache nor makes the
 * file's size and name durable. On failure the file this made is gone,
 * and nothing else was touched. Returns 0, or an errno or LMDB code with
 * *cause.
 */
static int
store_copy_write(const char *dir, struct stat *st, uint64_t *seq,
    uint8_t hash[32], char **cause)
{
	char *file, *part;
	int   fd, fl, rc = 0, renamed = 0;

	xasprintf(&file, "%s/data.mdb", dir);
	xasprintf(&part, "%s/data.mdb.partial", dir);
	if (lstat(file, st) == 0) {
		rc = EEXIST;
		xasprintf(cause, "%s: %s", file, strerror(rc));
	} else if ((fd = open(part, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
			0600)) == -1) {
		/* EEXIST: a backup is being written there, or was cut short. */
		rc = errno;
		xasprintf(cause, "%s: %s", part, strerror(rc));
	} else {
		if ((fl = fcntl(fd, F_GETFL)) != -1)
			(void)fcntl(fd, F_SETFL, fl | O_DIRECT);
		rc = mdb_env_copyfd2(store.env, fd, MDB_CP_COMPACT);
		if (rc == 0 && (fsync(fd) == -1 || fstat(fd, st) == -1))
			rc = errno;
		if (close(fd) == -1 && rc == 0)
			rc = errno;
		if (rc != 0)
			xasprintf(cause, "%s: %s", part, mdb_strerror(rc));
		else
			rc = store_copy_describe(part, seq, hash, cause);
		if (rc == 0 && (rc = store_rename_noreplace(part, file)) != 0) {
			xasprintf(cause, "%s: %s", file, strerror(rc));
		} else if (rc == 0) {
			renamed = 1;
			if ((rc = store_sync_parent(file)) == 0)
				rc = store_sync_parent(dir);
			if (rc != 0)
				xasprintf(cause, "%s: %s", dir, strerror(rc));
		}
		if (rc != 0 && unlink(renamed ? file : part) == -1)
			log_warn("backup: %s", renamed ? file : part);
	}
	free(file);
	free(part);
	return (rc);
}

/*
 * A compacted, consistent copy of the environment into dir (created here
 * with mode 0700; it may exist if it holds no copy), made in LMDB's own
 * read transaction, so writers go on meanwhile, and described: its size,
 * the last journal entry and that entry's hash (store_copy_write). A
 * backup that fails leaves nothing, and no directory it made. Safe on the
 * reader thread. Returns 0, or an errno (EEXIST: dir holds a copy, or one
 * being written) or LMDB code with *cause.
 */
int
store_copy(const char *path, uint64_t *bytes, uint64_t *seq, uint8_t hash[32],
    char **cause)
{
	struct stat st;
	char       *dir = xstrdup(path), *end = dir + strlen(dir);
	int         rc, made_dir;

	/*
	 * Without its trailing slashes: store_sync_parent(dir) must fsync
	 * the directory that holds dir, not dir again.
	 */
	while (end > dir + 1 && end[-1] == '/')
		*--end = '\0';
	made_dir = mkdir(dir, 0700) == 0;
	if (!made_dir && errno != EEXIST) {
		rc = errno;
		xasprintf(cause, "%s: %s", dir, strerror(rc));
	} else if ((rc = store_copy_write(dir, &st, seq, hash, cause)) != 0) {
		if (made_dir && rmdir(dir) == -1)
			log_warn("backup: %s", dir);
	} else
		*bytes = (uint64_t)st.st_size;
	free(dir);
	return (rc);
}

/* How many records a database holds (0 on error, which is then sticky). */
uint64_t
store_count(struct store_txn *t, enum store_db db)
{
	MDB_stat st;
	int      rc;

	if (t->err != 0)
		return (0);
	if ((rc = mdb_stat(t->txn, store.dbi[db], &st)) != 0) {
		t->err = store_err_from_mdb(rc, "stat");
		return (0);
	}
	return (st.ms_entries);
}

void
store_info(struct store_info *si)
{
	MDB_envinfo info;
	MDB_stat    st;

	memset(si, 0, sizeof(*si));
	if (store.env == NULL)
		return;
	mdb_env_info(store.env, &info);
	mdb_env_stat(store.env, &st);
	si->map_size = info.me_mapsize;
	si->map_used = (uint64_t)(info.me_last_pgno + 1) * st.ms_psize;
	si->schema = store.schema;
}

/* Tell the operator before the map fills, not after. */
static void
store_check_usage(void)
{
	struct store_info si;

	store_info(&si);
	if (si.map_size == 0)
		return;
	if (si.map_used * 100 / si.map_size >= STORE_WARN_PCT) {
		if (!store.warned_full) {
			log_warnx("store: map %llu%% full (%llu of %llu "
				  "bytes)%s",
			    (unsigned long long)(si.map_used * 100 /
				si.map_size),
			    (unsigned long long)si.map_used,
			    (unsigned long long)si.map_size,
			    store.map_size < store.map_max
				? "; it will grow"
				: "; at map_max: raise it or writes will be refused");
			store.warned_full = 1;
		}
	} else
		store.warned_full = 0;
}
