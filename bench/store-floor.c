/*
 * store-floor.c: how fast LMDB alone takes the writes of a reservation on
 * this machine, with nothing of budgetd around it: no socket, no
 * protobuf, no rules, no hash chain. A floor under what budgetd can reach
 * with one LMDB write per record (issue #6, docs/benchmarks.md "What the
 * store alone does"): if the store alone cannot, no tuning of budgetd
 * will.
 *
 * Each operation, like a reservation's: a company record read and
 * rewritten (400,000 companies, in order like budget-bench, or at random
 * with -r), a journal entry and a dossier appended, a history index item
 * put. -n operations per transaction, each in its own nested transaction
 * with -N; every commit is synced, as budgetd's are.
 *
 *   store-floor -d DIR [-n PER_TXN] [-N] [-r] [-t TOTAL]
 */
#include <sys/stat.h>

#include <errno.h>
#include <lmdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench-proc.h"

#define COMPANIES 400000
#define SPREAD    2654435761u /* keys spread over the key space, in order */

static void
check(int rc, const char *what)
{
	if (rc != 0) {
		fprintf(
		    stderr, "store-floor: %s: %s\n", what, mdb_strerror(rc));
		exit(1);
	}
}

static void
put_be64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

/* xorshift64: a fixed sequence, so that runs compare. */
static uint64_t
next_random(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return (*s);
}

/* The load average over the last minute, as /proc/loadavg has it. */
static void
print_load(const char *when)
{
	FILE  *fp;
	double la = -1;

	if ((fp = fopen("/proc/loadavg", "r")) != NULL) {
		if (fscanf(fp, "%lf", &la) != 1)
			la = -1;
		fclose(fp);
	}
	printf("# load %s: %.2f on %ld cpus\n", when, la,
	    sysconf(_SC_NPROCESSORS_ONLN));
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: store-floor -d DIR [-n PER_TXN] [-N] [-r] [-t TOTAL]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	MDB_env    *env;
	MDB_txn    *txn, *op;
	MDB_dbi     journal, dossiers, companies, history;
	MDB_val     k, v;
	uint8_t     val[256], ck[8], jk[8], hk[16];
	const char *dir = NULL;
	long        per = 64, total = 400000, done = 0, i;
	int         nested = 0, random = 0, c;
	uint64_t    seq = 0, rng = 88172645463325252ull, company;
	uint64_t    start;
	double      secs;

	while ((c = getopt(argc, argv, "d:n:Nrt:")) != -1) {
		switch (c) {
		case 'd':
			dir = optarg;
			break;
		case 'n':
			per = strtol(optarg, NULL, 10);
			break;
		case 'N':
			nested = 1;
			break;
		case 'r':
			random = 1;
			break;
		case 't':
			total = strtol(optarg, NULL, 10);
			break;
		default:
			usage();
		}
	}
	if (dir == NULL || per < 1 || total < per)
		usage();
	if (mkdir(dir, 0700) == -1) {
		fprintf(stderr, "store-floor: %s: %s (it must be new)\n", dir,
		    strerror(errno));
		return (1);
	}
	memset(val, 7, sizeof(val));
	check(mdb_env_create(&env), "mdb_env_create");
	check(mdb_env_set_maxdbs(env, 8), "mdb_env_set_maxdbs");
	check(mdb_env_set_mapsize(env, (size_t)8 << 30), "mdb_env_set_mapsize");
	check(mdb_env_open(env, dir, 0, 0600), dir);

	check(mdb_txn_begin(env, NULL, 0, &txn), "mdb_txn_begin");
	check(mdb_dbi_open(txn, "journal", MDB_CREATE, &journal), "journal");
	check(mdb_dbi_open(txn, "dossiers", MDB_CREATE, &dossiers), "dossiers");
	check(mdb_dbi_open(txn, "companies", MDB_CREATE, &companies),
	    "companies");
	check(mdb_dbi_open(txn, "history", MDB_CREATE, &history), "history");
	for (i = 0; i < COMPANIES; i++) {
		put_be64(ck, (uint64_t)i * SPREAD);
		k = (MDB_val){sizeof(ck), ck};
		v = (MDB_val){100, val};
		check(mdb_put(txn, companies, &k, &v, 0), "company");
	}
	check(mdb_txn_commit(txn), "mdb_txn_commit");

	printf("# store-floor: %ld operations, %ld per synced commit, %s, "
	       "companies %s, in %s\n",
	    total, per, nested ? "each nested" : "flat",
	    random ? "at random" : "in order", dir);
	print_load("before");
	start = bench_mono_us();
	while (done < total) {
		check(mdb_txn_begin(env, NULL, 0, &txn), "mdb_txn_begin");
		for (i = 0; i < per; i++) {
			op = txn;
			if (nested)
				check(
				    mdb_txn_begin(env, txn, 0, &op), "nested");
			company = random ? next_random(&rng) % COMPANIES
					 : seq % COMPANIES;
			seq++;
			put_be64(ck, company * SPREAD);
			k = (MDB_val){sizeof(ck), ck};
			check(mdb_get(op, companies, &k, &v), "company get");
			v = (MDB_val){100, val};
			check(mdb_put(op, companies, &k, &v, 0), "company put");
			put_be64(jk, seq);
			k = (MDB_val){sizeof(jk), jk};
			v = (MDB_val){220, val};
			check(mdb_put(op, journal, &k, &v, MDB_APPEND),
			    "journal");
			v = (MDB_val){150, val};
			check(mdb_put(op, dossiers, &k, &v, MDB_APPEND),
			    "dossier");
			memcpy(hk, ck, 8);
			put_be64(hk + 8, seq);
			k = (MDB_val){sizeof(hk), hk};
			v = (MDB_val){0, val};
			check(mdb_put(op, history, &k, &v, 0), "history");
			if (nested)
				check(mdb_txn_commit(op), "nested commit");
		}
		check(mdb_txn_commit(txn), "mdb_txn_commit");
		done += per;
	}
	secs = (double)(bench_mono_us() - start) / 1e6;
	print_load("after");
	printf("summary: per_txn=%ld nested=%d random=%d ops=%ld secs=%.2f "
	       "ops_per_s=%.0f us_per_op=%.2f\n",
	    per, nested, random, done, secs, done / secs, secs * 1e6 / done);
	mdb_env_close(env);
	return (0);
}
