/*
 * check.c: the checker behind "verify". It trusts nothing that is stored
 * as a total: it recomputes every contract's reserved, committed and paid
 * from the dossiers, every dossier's granted amount from its grants, and
 * compares; it checks I-1 on every contract, I-2 on every undertaking with
 * a grant, the expiry index against the reservations, and the journal's
 * hash chain (I-4) from the first entry to the head. Tests run it after
 * every step.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sys/random.h>

#include "budget/date.h"
#include "budget/money.h"
#include "budgetd.h"
#include "store.pb-c.h"

/* Enough to see a pattern; more would only hide the first one. */
#define CHECK_MAX_PROBLEMS 100

struct check_sum {
	char     id[LEDGER_ID_MAX + 1];
	int64_t  reserved, committed, paid;
	uint32_t ndossiers;
};

struct check_state {
	struct replay       *rp;
	struct store_txn    *t;
	struct check_report *r;
	struct check_sum    *sums;
	size_t               nsums, capsums;
	/* The history index items the journal calls for, summed (replay). */
	uint64_t seed, want;
	size_t   indexed;
	int      whole; /* the journal walked to its end */
};

static void check_problem(struct check_report *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
check_problem(struct check_report *r, const char *fmt, ...)
{
	va_list ap;
	char   *s;

	r->ok = 0;
	if (r->nproblems == CHECK_MAX_PROBLEMS)
		return;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) == -1)
		fatal("check_problem: vasprintf");
	va_end(ap);
	r->problems =
	    xreallocarray(r->problems, r->nproblems + 1, sizeof(*r->problems));
	r->problems[r->nproblems++] = s;
}

static void
check_problem_cb(void *arg, const char *text)
{
	check_problem(arg, "I-3: %s", text);
}

void
check_report_free(struct check_report *r)
{
	size_t i;

	for (i = 0; i < r->nproblems; i++)
		free(r->problems[i]);
	free(r->problems);
	memset(r, 0, sizeof(*r));
}

static struct check_sum *
check_sum_for(struct check_state *cs, const char *contract)
{
	size_t i;

	for (i = 0; i < cs->nsums; i++) {
		if (strcmp(cs->sums[i].id, contract) == 0)
			return (&cs->sums[i]);
	}
	if (cs->nsums == cs->capsums) {
		cs->capsums = cs->capsums ? cs->capsums * 2 : 32;
		cs->sums =
		    xreallocarray(cs->sums, cs->capsums, sizeof(*cs->sums));
	}
	memset(&cs->sums[cs->nsums], 0, sizeof(cs->sums[0]));
	snprintf(
	    cs->sums[cs->nsums].id, sizeof(cs->sums[0].id), "%s", contract);
	return (&cs->sums[cs->nsums++]);
}

struct check_grants {
	const struct dossier *d;
	int64_t               effective;
	size_t                found;
	int                   overflow;
};

static int
check_dossier_grant_cb(const struct grant *g, void *arg)
{
	struct check_grants *cg = arg;
	size_t               i;

	for (i = 0; i < cg->d->ngrants; i++) {
		if (cg->d->grants[i] == g->id) {
			if (money_add(cg->effective, g->effective,
				&cg->effective) == -1)
				cg->overflow = 1;
			cg->found++;
		}
	}
	return (0);
}

static int
check_dossier_cb(const struct dossier *d, void *arg)
{
	struct check_state  *cs = arg;
	struct check_report *r = cs->r;
	struct check_sum    *s = check_sum_for(cs, d->contract);
	struct check_grants  cg = {d, 0, 0, 0};
	struct company       c;
	int64_t              owed;
	int                  open;

	r->ndossiers++;
	/* Checked: a damaged store's amounts must be reported, not wrap. */
	if (money_add(s->reserved, d->pending, &s->reserved) == -1 ||
	    money_sub(d->granted, d->paid, &owed) == -1 ||
	    money_add(s->committed, owed, &s->committed) == -1 ||
	    money_add(s->paid, d->paid, &s->paid) == -1)
		check_problem(r,
		    "dossier %s: its amounts do not fit in the contract's sums",
		    d->id);
	s->ndossiers++;

	if (d->pending < 0 || d->granted < 0 || d->paid < 0 ||
	    d->paid > d->granted)
		check_problem(r,
		    "dossier %s: pending %lld, granted %lld, paid "
		    "%lld do not make sense",
		    d->id, (long long)d->pending, (long long)d->granted,
		    (long long)d->paid);
	switch (d->state) {
	case DS_RESERVED:
		if (d->pending != d->subsidy || d->granted != 0)
			check_problem(r,
			    "dossier %s: reserved but pending %lld "
			    "!= subsidy %lld or granted %lld",
			    d->id, (long long)d->pending, (long long)d->subsidy,
			    (long long)d->granted);
		break;
	case DS_CANCELLED:
	case DS_EXPIRED:
		if (d->pending != 0 || d->granted != 0 || d->paid != 0)
			check_problem(r, "dossier %s: %s but holds money",
			    d->id, ledger_state_name(d->state));
		break;
	case DS_APPROVED:
	case DS_COMPLETED:
		if (d->granted != d->subsidy)
			check_problem(r,
			    "dossier %s: granted %lld != subsidy "
			    "%lld",
			    d->id, (long long)d->granted,
			    (long long)d->subsidy);
		if (d->state == DS_COMPLETED && d->pending != 0)
			check_problem(r,
			    "dossier %s: completed with a pending "
			    "amendment",
			    d->id);
		break;
	case DS_CLOSED:
	case DS_WITHDRAWN:
		if (d->pending != 0 || d->granted != d->paid)
			check_problem(r,
			    "dossier %s: %s but granted %lld != "
			    "paid %lld or pending %lld",
			    d->id, ledger_state_name(d->state),
			    (long long)d->granted, (long long)d->paid,
			    (long long)d->pending);
		break;
	default:
		check_problem(
		    r, "dossier %s: unknown state %d", d->id, (int)d->state);
	}
	/* The grants of a dossier add up to what it has been granted. */
	record_each_grant(cs->t, d->company, check_dossier_grant_cb, &cg);
	if (cg.found != d->ngrants || cg.effective != d->granted || cg.overflow)
		check_problem(r,
		    "dossier %s: %zu of %zu grants found, adding up "
		    "to %lld, granted says %lld",
		    d->id, cg.found, d->ngrants, (long long)cg.effective,
		    (long long)d->granted);
	open = d->pending > 0;
	if (open && d->expires_at == 0)
		check_problem(
		    r, "dossier %s: a reservation without expiry", d->id);
	if (record_get_company(cs->t, d->company, &c) != STORE_OK)
		check_problem(r, "dossier %s: company %s does not exist", d->id,
		    d->company);
	if (!record_summary_ok(cs->t, d))
		check_problem(r,
		    "dossier %s: the company index does not "
		    "summarise it",
		    d->id);
	return (0);
}

static int
check_contract_cb(const struct contract *k, void *arg)
{
	struct check_state  *cs = arg;
	struct check_report *r = cs->r;
	struct check_sum    *s = check_sum_for(cs, k->id);

	r->ncontracts++;
	/* I-1 */
	if (k->reserved < 0 || k->committed < 0 || k->paid < 0 ||
	    k->reserved + k->committed + k->paid > k->budget)
		check_problem(r,
		    "contract %s: I-1 broken: reserved %lld + "
		    "committed %lld + paid %lld vs budget %lld",
		    k->id, (long long)k->reserved, (long long)k->committed,
		    (long long)k->paid, (long long)k->budget);
	if (s->reserved != k->reserved || s->committed != k->committed ||
	    s->paid != k->paid || s->ndossiers != k->ndossiers)
		check_problem(r,
		    "contract %s: stored reserved/committed/paid/"
		    "dossiers %lld/%lld/%lld/%u, its dossiers add "
		    "up to %lld/%lld/%lld/%u",
		    k->id, (long long)k->reserved, (long long)k->committed,
		    (long long)k->paid, k->ndossiers, (long long)s->reserved,
		    (long long)s->committed, (long long)s->paid, s->ndossiers);
	s->ndossiers = UINT32_MAX; /* seen: a contract exists for it */
	return (0);
}

struct check_company {
	struct check_state *cs;
	int32_t             first;
	int                 has;
};

static int
check_first_grant_cb(const struct grant *g, void *arg)
{
	struct check_company *cc = arg;

	if (!cc->has || g->date < cc->first)
		cc->first = g->date;
	cc->has = 1;
	if (g->effective < 0 || g->effective > g->amount)
		check_problem(cc->cs->r,
		    "grant %llu: effective %lld outside "
		    "0..%lld",
		    (unsigned long long)g->id, (long long)g->effective,
		    (long long)g->amount);
	return (0);
}

static int
check_company_cb(const struct company *c, void *arg)
{
	struct check_state  *cs = arg;
	struct check_company cc = {cs, 0, 0};
	char                 why[768];
	enum budget_err      rc;

	cs->r->ncompanies++;
	record_each_grant(cs->t, c->number, check_first_grant_cb, &cc);
	if (!cc.has)
		return (0);
	rc = dm_verify(
	    cs->t, c->number, cc.first, DM_ALL_WINDOWS, why, sizeof(why));
	if (rc == BUDGET_ERR_DEMINIMIS_CEILING_EXCEEDED)
		check_problem(cs->r, "I-2 broken: %s", why);
	else if (rc != BUDGET_OK && rc != BUDGET_ERR_STORAGE_ERROR)
		check_problem(cs->r, "company %s: %s", c->number, why);
	return (0);
}

/*
 * The journal in order, one decoded entry at a time: each under the key of
 * its own sequence number, the numbers running 1, 2, 3 without a gap.
 *
 * Entries are decoded into an arena that the next entry reuses: verify
 * decodes every entry on both threads, and protobuf-c's malloc and free
 * of each field would otherwise be a fifth of its time. An entry the
 * arena has no room for goes to malloc, and the arena grows to fit it.
 */
struct check_walk {
	struct store_cursor cur;
	uint64_t            next;    /* the sequence number expected next */
	int                 broken;  /* stopped at one that was not so */
	ProtobufCAllocator  pa;      /* protobuf-c's: into the arena */
	char               *arena;   /* the current entry's memory */
	size_t              cap;     /* the arena's size */
	size_t              used;    /* of it, taken by the current entry */
	size_t              spilled; /* bytes that went to malloc instead */
	void              **spill;   /* what did not fit, malloc'ed */
	size_t              nspill;
};

/* Every block the arena hands out is aligned for any type. */
#define CHECK_WALK_ALIGN _Alignof(max_align_t)

static void *
check_walk_alloc(void *arg, size_t size)
{
	struct check_walk *w = arg;
	void              *p;

	/* protobuf-c asks for no more than the entry's length allows. */
	if (size > SIZE_MAX / 2)
		fatalx("check: a journal entry asks for %zu bytes", size);
	size = (size + CHECK_WALK_ALIGN - 1) & ~(size_t)(CHECK_WALK_ALIGN - 1);
	if (size <= w->cap - w->used) {
		p = w->arena + w->used;
		w->used += size;
		return (p);
	}
	w->spill = xreallocarray(w->spill, w->nspill + 1, sizeof(*w->spill));
	w->spill[w->nspill++] = p = xmalloc(size);
	w->spilled += size;
	return (p);
}

static void
check_walk_free(void *arg, void *p)
{
	(void)arg;
	(void)p; /* all of it goes at once, in check_walk_reset */
}

/* Forget the last entry's memory; make room for the largest yet. */
static void
check_walk_reset(struct check_walk *w)
{
	size_t i;

	for (i = 0; i < w->nspill; i++)
		free(w->spill[i]);
	w->nspill = 0;
	if (w->spilled > 0) {
		w->cap = (w->used + w->spilled) * 2;
		free(w->arena);
		w->arena = xmalloc(w->cap);
		w->spilled = 0;
	}
	w->used = 0;
}

static void
check_walk_open(struct check_walk *w, struct store_txn *t)
{
	memset(w, 0, sizeof(*w));
	store_cursor_open(&w->cur, t, STORE_DB_JOURNAL, NULL, 0);
	w->next = 1;
	w->pa.alloc = check_walk_alloc;
	w->pa.free = check_walk_free;
	w->pa.allocator_data = w;
	w->cap = 4096;
	w->arena = xmalloc(w->cap);
}

static void
check_walk_close(struct check_walk *w)
{
	store_cursor_close(&w->cur);
	check_walk_reset(w);
	free(w->spill);
	free(w->arena);
}

/*
 * The next entry, valid until the next call, or NULL: at the end, or
 * (w->broken) at entry w->next, which is missing, out of order or
 * undecodable.
 */
static const Budgetstore__JournalEntry *
check_walk_next(struct check_walk *w)
{
	const Budgetstore__JournalEntry *m;
	struct store_val                 k, v;
	uint64_t                         seq;

	check_walk_reset(w);
	if (w->broken || !store_cursor_next(&w->cur, &k, &v))
		return (NULL);
	seq = k.len == 8 ? record_get_be64(k.data) : 0;
	m = budgetstore__journal_entry__unpack(&w->pa, v.len, v.data);
	if (m == NULL || seq != w->next || m->seq != seq || m->hash.len != 32) {
		w->broken = 1;
		return (NULL);
	}
	w->next++;
	return (m);
}

/*
 * The first half of the journal walk, I-4: every entry is there, in order,
 * decodes, and its hash is SHA-256(previous || canonical form); the head
 * in the meta database is the chain's last link.
 */
static void
check_hashes(struct check_state *cs)
{
	struct check_report             *r = cs->r;
	struct check_walk                w;
	const Budgetstore__JournalEntry *m;
	uint8_t                          prev[32], h[32], head[32];
	uint64_t                         seq;
	char                            *canon = NULL;
	size_t                           clen, ccap = 0;

	memset(prev, 0, sizeof(prev));
	check_walk_open(&w, cs->t);
	while ((m = check_walk_next(&w)) != NULL) {
		clen = journal_canonical_into(m, &canon, &ccap);
		journal_hash(prev, canon, clen, h);
		if (memcmp(h, m->hash.data, 32) != 0) {
			check_problem(r,
			    "journal entry %llu: hash does not "
			    "match its content and predecessor",
			    (unsigned long long)m->seq);
			r->first_bad_seq = m->seq;
			break;
		}
		memcpy(prev, h, 32);
		r->entries = m->seq;
	}
	free(canon);
	check_walk_close(&w);
	if (w.broken) {
		check_problem(r,
		    "journal entry %llu: missing, out of "
		    "order or undecodable",
		    (unsigned long long)w.next);
		r->first_bad_seq = w.next;
	}
	journal_head(cs->t, &seq, head);
	memcpy(r->head, head, 32);
	if (r->first_bad_seq == 0 &&
	    (seq != r->entries || memcmp(head, prev, 32) != 0)) {
		check_problem(r,
		    "journal head says entry %llu, the chain ends "
		    "at %llu",
		    (unsigned long long)seq, (unsigned long long)r->entries);
		r->first_bad_seq = r->entries + 1;
	}
	/* Report the journal's size, not how far the chain held. */
	if (seq > r->entries)
		r->entries = seq;
}

/*
 * The history index, item by item: which entries it lacks (history and
 * balance --as-of would miss them), and whether it holds what no entry
 * calls for. Only when the sums check_ledger compares disagree: a lookup per
 * item is several times the cost of the rest of verify.
 */
static void
check_index_items(struct check_state *cs)
{
	struct check_report             *r = cs->r;
	struct check_walk                w;
	const Budgetstore__JournalEntry *m;
	const char                      *missing;
	size_t                           indexed = 0, nmissing = 0;
	uint64_t                         have;

	check_walk_open(&w, cs->t);
	while ((m = check_walk_next(&w)) != NULL) {
		indexed += journal_check_index(cs->t, m, &missing);
		if (missing != NULL && nmissing++ < CHECK_MAX_PROBLEMS)
			check_problem(r,
			    "journal entry %llu is missing from the history "
			    "of %s",
			    (unsigned long long)m->seq, missing);
	}
	check_walk_close(&w);
	if (cs->t->err != 0)
		return; /* check_ledger says it could not read */
	have = store_count(cs->t, STORE_DB_HISTORY);
	if (have != indexed)
		check_problem(r,
		    "the history index holds %llu entries, the journal calls "
		    "for %zu",
		    (unsigned long long)have, indexed);
	else if (nmissing == 0)
		check_problem(r,
		    "the history index holds entries no journal entry calls "
		    "for, in place of some it does");
}

/*
 * The second half, I-3: the history index items the entries call for are
 * summed (check_ledger compares the sum with the index's), and what each
 * entry did is done again from scratch, then compared with every stored
 * record. It stops where the entries stop making sense:
 * check_hashes says where and why, and its verdict decides whether this
 * half's findings mean anything.
 */
static void
check_replay(struct check_state *cs)
{
	struct check_report             *r = cs->r;
	struct check_walk                w;
	const Budgetstore__JournalEntry *m;
	char                             why[512];

	check_walk_open(&w, cs->t);
	while ((m = check_walk_next(&w)) != NULL) {
		cs->indexed += journal_index_sum(m, cs->seed, &cs->want);
		if (replay_apply(cs->rp, m, why, sizeof(why)) == -1)
			check_problem(r, "%s", why);
	}
	check_walk_close(&w);
	cs->whole = !w.broken;
	if (cs->whole)
		replay_compare(cs->rp, cs->t, check_problem_cb, r);
}

/* The stored records against each other: dossiers and contracts. */
static void
check_records(struct check_state *cs)
{
	struct check_report *r = cs->r;
	size_t               i;

	record_each_dossier(cs->t, check_dossier_cb, cs);
	record_each_contract(cs->t, check_contract_cb, cs);
	for (i = 0; i < cs->nsums; i++) {
		if (cs->sums[i].ndossiers != UINT32_MAX)
			check_problem(r,
			    "dossiers name contract %s, which does "
			    "not exist",
			    cs->sums[i].id);
	}
	free(cs->sums);
	cs->sums = NULL;
	cs->nsums = cs->capsums = 0;
}

/* Every company with a grant: its grants, and I-2 in every window. */
static void
check_companies(struct check_state *cs)
{
	record_each_company(cs->t, check_company_cb, cs);
}

/*
 * What a second thread checks: the hash chain, then the dossiers and
 * contracts. Together about as much work as the replay and the companies'
 * I-2 that the first thread does, so verify takes half the time on two
 * cores. Both read one snapshot: the second thread a transaction of its
 * own that sees the same commit as the caller's; when it does not (a write
 * came in between) the caller does this part itself, before the replay.
 */
struct check_worker {
	struct store_txn   *t; /* its own, or the caller's */
	uint64_t            seed;
	struct check_report hash, rec;
	uint64_t            hist_sum; /* the history index's items, summed */
	size_t              hist_n;
	int                 err;
	long                chain_ms, records_ms;
};

/* Milliseconds of clk since *since. */
static long
check_ms_of(clockid_t clk, const struct timespec *since)
{
	struct timespec now;

	clock_gettime(clk, &now);
	return ((long)(now.tv_sec - since->tv_sec) * 1000 +
	    (now.tv_nsec - since->tv_nsec) / 1000000);
}

/* Wall-clock milliseconds since *since. */
static long
check_ms(const struct timespec *since)
{
	return (check_ms_of(CLOCK_MONOTONIC, since));
}

/* This thread's CPU milliseconds since *since: the log's figures. */
static long
check_cpu_ms(const struct timespec *since)
{
	return (check_ms_of(CLOCK_THREAD_CPUTIME_ID, since));
}

static void
check_worker_part(struct check_worker *w, struct store_txn *t)
{
	struct check_state cs;
	struct timespec    start;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &start);
	memset(&cs, 0, sizeof(cs));
	cs.t = t;
	cs.r = &w->hash;
	w->hash.ok = 1;
	check_hashes(&cs);
	w->chain_ms = check_cpu_ms(&start);
	cs.r = &w->rec;
	w->rec.ok = 1;
	check_records(&cs);
	w->hist_n = history_index_sum(t, w->seed, &w->hist_sum);
	w->err = t->err;
	w->records_ms = check_cpu_ms(&start) - w->chain_ms;
}

static void *
check_worker_main(void *arg)
{
	struct check_worker *w = arg;

	check_worker_part(w, w->t);
	return (NULL);
}

/* Move src's problems to the end of dst's, up to the cap; empty src. */
static void
check_take(struct check_report *dst, struct check_report *src)
{
	size_t i;

	if (!src->ok)
		dst->ok = 0;
	for (i = 0; i < src->nproblems; i++) {
		if (dst->nproblems == CHECK_MAX_PROBLEMS) {
			free(src->problems[i]);
			continue;
		}
		dst->problems = xreallocarray(
		    dst->problems, dst->nproblems + 1, sizeof(*dst->problems));
		dst->problems[dst->nproblems++] = src->problems[i];
	}
	src->nproblems = 0;
	check_report_free(src);
}

/*
 * Check everything (see the top of this file) in t. r->ok says whether
 * all holds; r->problems says what does not, for people, the chain first.
 */
void
check_ledger(struct store_txn *t, struct check_report *r)
{
	struct check_state  cs;
	struct check_worker w;
	struct check_report rep, comp;
	struct store_txn    wt;
	struct timespec     start, cpu;
	pthread_t           thr;
	int                 threaded = 0;
	long                ms = 0, comp_ms = 0;

	clock_gettime(CLOCK_MONOTONIC, &start);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu);
	memset(r, 0, sizeof(*r));
	memset(&w, 0, sizeof(w));
	memset(&rep, 0, sizeof(rep));
	memset(&comp, 0, sizeof(comp));
	r->ok = rep.ok = comp.ok = 1;
	if (getrandom(&w.seed, sizeof(w.seed), 0) != (ssize_t)sizeof(w.seed))
		fatal("check: getrandom");
	/*
	 * The second thread's transaction, begun here (the environment is
	 * MDB_NOTLS: it may move to that thread) so that whether it sees
	 * t's snapshot is known before anything runs.
	 */
	store_begin(&wt, 0);
	if (t->err == 0 && wt.err == 0 && store_snapshot(t) != 0 &&
	    store_snapshot(&wt) == store_snapshot(t)) {
		w.t = &wt;
		threaded =
		    pthread_create(&thr, NULL, check_worker_main, &w) == 0;
	}
	if (!threaded) {
		/* One thread: the chain first, as it decides the rest. */
		store_abort(&wt);
		w.t = t;
		check_worker_part(&w, t);
	}

	memset(&cs, 0, sizeof(cs));
	cs.t = t;
	cs.r = &rep;
	cs.seed = w.seed;
	if (t->err == 0) {
		cs.rp = replay_new(store_count(t, STORE_DB_CONTRACTS),
		    store_count(t, STORE_DB_DOSSIERS),
		    store_count(t, STORE_DB_GRANTS),
		    store_count(t, STORE_DB_COMPANIES));
		check_replay(&cs);
		replay_free(cs.rp);
		ms = check_cpu_ms(&cpu);
		/* The second thread has the larger share: this one, I-2. */
		cs.r = &comp;
		check_companies(&cs);
		comp_ms = check_cpu_ms(&cpu) - ms;
	}

	if (threaded) {
		if (pthread_join(thr, NULL) != 0)
			fatalx("check: pthread_join");
		store_abort(&wt);
	}
	/* The index holds exactly what the journal calls for, or look why. */
	cs.r = &rep;
	if (t->err == 0 && w.err == 0 && cs.whole &&
	    (w.hist_n != cs.indexed || w.hist_sum != cs.want))
		check_index_items(&cs);
	/*
	 * A store that could not be read leaves every later comparison
	 * short of data: what it would say is noise. The chain's verdict,
	 * reached first, stands.
	 */
	if (t->err != 0 || w.err != 0) {
		check_report_free(&rep);
		check_report_free(&w.rec);
		check_report_free(&comp);
	}

	r->entries = w.hash.entries;
	r->first_bad_seq = w.hash.first_bad_seq;
	memcpy(r->head, w.hash.head, 32);
	r->ncontracts = w.rec.ncontracts;
	r->ncompanies = comp.ncompanies;
	r->ndossiers = w.rec.ndossiers;
	check_take(r, &w.hash);
	/* A broken chain makes every later comparison noise. */
	if (r->first_bad_seq == 0)
		check_take(r, &rep);
	else
		check_report_free(&rep);
	check_take(r, &w.rec);
	check_take(r, &comp);
	if (t->err != 0 || w.err != 0)
		check_problem(r, "the ledger could not be read: %s",
		    store_strerror(t->err != 0 ? t->err : w.err));
	log_debug("check: %llu entries in %ld ms; CPU: replay %ld ms, "
		  "companies %ld ms; chain %ld ms, records %ld ms (%s)",
	    (unsigned long long)r->entries, check_ms(&start), ms, comp_ms,
	    w.chain_ms, w.records_ms,
	    threaded ? "on a second thread" : "first, on this one");
}
