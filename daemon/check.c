/*
 * check.c: the checker behind "verify". It trusts nothing that is stored
 * as a total: it recomputes every contract's reserved, committed and paid
 * from the dossiers, every dossier's granted amount from its grants, and
 * compares; it checks I-1 on every contract, I-2 on every undertaking with
 * a grant, the company and history indexes against the records and the
 * journal, and the journal's hash chain (I-4) from the first entry to the
 * head; it replays the journal into fresh balances and compares them with
 * every stored record (I-3). Tests run it after every step.
 *
 * On three threads: the journal is walked and decoded once; one thread
 * replays it, a second hashes it, and a third meanwhile checks what needs
 * only the store; then all take the remaining parts (see enum
 * check_part) until none is left.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
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

/*
 * Stored records by a 64-bit key (never 0), read in one sequential walk:
 * check_records looks each one up per dossier, and a probe of this table
 * costs a tenth of a B-tree seek. Open addressing, linear probing.
 */
struct check_slot {
	uint64_t key;   /* 0: empty */
	int64_t  value; /* a grant's effective amount */
	uint64_t owner; /* a grant's company, as check_rid_key says, and: */
#define CHECK_TWICE (UINT64_C(1) << 63) /* stored twice under one id */
};

struct check_map {
	struct check_slot *slot;
	size_t             cap; /* a power of two; the keys fill 70% at most */
};

/*
 * As small as keeps probes short: every page of it is touched, and a
 * fresh page costs more than the probes it saves.
 */
static void
check_map_init(struct check_map *m, size_t n)
{
	m->cap = 64;
	while (m->cap * 7 < n * 10)
		m->cap *= 2;
	m->slot = xmap(m->cap * sizeof(*m->slot));
}

/* The slot of key, or the empty one where it would go. */
static struct check_slot *
check_map_slot(const struct check_map *m, uint64_t key)
{
	size_t i =
	    (size_t)((key * UINT64_C(0x9e3779b97f4a7c15)) >> 20) & (m->cap - 1);

	while (m->slot[i].key != 0 && m->slot[i].key != key)
		i = (i + 1) & (m->cap - 1);
	return (&m->slot[i]);
}

/*
 * A company number's key (len bytes of s): its ten digits plus one; 0 if
 * it is not a number of ten digits.
 */
static uint64_t
check_rid_key(const char *s, size_t len)
{
	uint64_t v = 0;
	size_t   i;

	if (len != (LEDGER_RID_SZ - 1))
		return (0);
	for (i = 0; i < (LEDGER_RID_SZ - 1); i++) {
		if (s[i] < '0' || s[i] > '9')
			return (0);
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	return (v + 1);
}

struct check_state {
	/*
	 * check_journal's replay, being made; in a part, the whole
	 * journal's (trusted), which check_dossier_cb looks grants and
	 * companies up in, or NULL: it looks in cs->grants and companies.
	 */
	struct replay       *rp;
	struct store_txn    *t;
	struct check_report *r;
	struct check_sum    *sums;
	size_t               nsums, capsums;
	int                  whole; /* the journal walked to its end */
	/* check_records: the stored grants and companies, by key */
	struct check_map grants, companies;
	uint64_t         seed, summaries; /* the company index, summed */
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

/*
 * Whether grant id exists for company (its key, as check_rid_key says);
 * its effective amount in *value. From the stored grants check_records
 * read, or, with cs->rp, from the replay, which the stored grants are
 * compared with one by one meanwhile.
 */
static int
check_grant_of(
    struct check_state *cs, uint64_t id, uint64_t company, int64_t *value)
{
	struct check_slot *g;
	const char        *owner;

	if (id == 0)
		return (0);
	if (cs->rp != NULL)
		return (replay_get_grant(cs->rp, id, value, &owner) == 0 &&
		    check_rid_key(owner, strlen(owner)) == company);
	g = check_map_slot(&cs->grants, id);
	*value = g->value;
	return (g->key != 0 && (g->owner & ~CHECK_TWICE) == company);
}

static int
check_dossier_cb(const struct dossier *d, void *arg)
{
	struct check_state  *cs = arg;
	struct check_report *r = cs->r;
	struct check_sum    *s = check_sum_for(cs, d->contract);
	uint64_t company = check_rid_key(d->company, strlen(d->company));
	int64_t  owed, value, effective = 0;
	size_t   i, found = 0;
	int      open, overflow = 0;

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
	/*
	 * The grants of a dossier, each stored for the dossier's company,
	 * add up to what it has been granted.
	 */
	for (i = 0; i < d->ngrants; i++) {
		if (!check_grant_of(cs, d->grants[i], company, &value))
			continue;
		if (money_add(effective, value, &effective) == -1)
			overflow = 1;
		found++;
	}
	if (found != d->ngrants || effective != d->granted || overflow)
		check_problem(r,
		    "dossier %s: %zu of %zu grants found, adding up "
		    "to %lld, granted says %lld",
		    d->id, found, d->ngrants, (long long)effective,
		    (long long)d->granted);
	open = d->pending > 0;
	if (open && d->expires_at == 0)
		check_problem(
		    r, "dossier %s: a reservation without expiry", d->id);
	else if (open && !record_expiry_has(cs->t, d->expires_at, d->id) &&
	    cs->t->err == 0)
		/* The daemon's clock finds what expires there alone. */
		check_problem(r,
		    "dossier %s: its reservation is missing from the expiry "
		    "index: it would never expire",
		    d->id);
	if (company == 0 ||
	    (cs->rp != NULL
		    ? !replay_has_company(cs->rp, d->company)
		    : check_map_slot(&cs->companies, company)->key == 0))
		check_problem(r, "dossier %s: company %s does not exist", d->id,
		    d->company);
	cs->summaries += record_summary_mix(cs->seed, d);
	return (0);
}

/* The slow way, once the sums disagree: which dossiers are not summarised. */
static int
check_summary_cb(const struct dossier *d, void *arg)
{
	struct check_state *cs = arg;

	if (!record_summary_ok(cs->t, d))
		check_problem(cs->r,
		    "dossier %s: the company index does not "
		    "summarise it",
		    d->id);
	return (0);
}

/* ...and which summaries name no dossier of that company. */
static void
check_summaries_extra(struct check_state *cs)
{
	struct store_cursor    cur;
	struct store_val       k, v;
	struct dossier_summary sum;
	struct dossier         d;
	char                   key[4 * 32 + 1];

	store_cursor_open(&cur, cs->t, STORE_DB_COMPANY_DOSSIERS, NULL, 0);
	while (store_cursor_next(&cur, &k, &v)) {
		if (record_summary_decode(&k, &v, &sum) == -1)
			check_problem(cs->r,
			    "the company index holds an item that is no "
			    "summary: key %s, %zu bytes",
			    log_clean(k.data, k.len, key, sizeof(key)), v.len);
		else if (record_get_dossier(cs->t, sum.id, &d) != STORE_OK ||
		    strcmp(d.company, sum.company) != 0)
			check_problem(cs->r,
			    "the company index summarises dossier %s for "
			    "company %s, which has no such dossier",
			    sum.id, sum.company);
	}
	store_cursor_close(&cur);
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

/*
 * A stored grant on its own: filed under its own key (company, date, id),
 * and what is left of it within what it was. Into cs->grants by id, as
 * the grant of the company its key files it under.
 */
static int
check_grant_cb(const struct grant *g, const char *filed, int keyok, void *arg)
{
	struct check_state *cs = arg;
	struct check_slot  *sl;
	char                clean[4 * LEDGER_RID_SZ + 8];

	if (!keyok)
		check_problem(cs->r,
		    "grant %llu of company %s is filed under company %s, "
		    "or under another date or id",
		    (unsigned long long)g->id, g->company,
		    log_clean(filed, LEDGER_RID_SZ - 1, clean, sizeof(clean)));
	if (g->effective < 0 || g->effective > g->amount)
		check_problem(cs->r,
		    "grant %llu: effective %lld outside "
		    "0..%lld",
		    (unsigned long long)g->id, (long long)g->effective,
		    (long long)g->amount);
	if (g->id == 0)
		return (0); /* no dossier can name it: found by nobody */
	sl = check_map_slot(&cs->grants, g->id);
	if (sl->key != 0) {
		if (!(sl->owner & CHECK_TWICE))
			check_problem(cs->r, "grant %llu is stored twice",
			    (unsigned long long)g->id);
		sl->owner |= CHECK_TWICE;
		return (0);
	}
	sl->key = g->id;
	sl->value = g->effective;
	sl->owner = check_rid_key(filed, LEDGER_RID_SZ - 1);
	return (0);
}

/*
 * I-2 in every window of the company's undertaking from the company's
 * own first grant on; nothing for a company without one. Each window is
 * so checked for the member whose grant opens it, not for every member.
 */
static void
check_company_dm(struct check_state *cs, const char *company)
{
	char            why[768];
	enum budget_err rc;

	rc = dm_verify(cs->t, company, UNDERTAKING_ANY_DAY + 1,
	    DM_ALL_WINDOWS | DM_GRANT_DAYS | DM_OWN_FIRST, why, sizeof(why));
	if (rc == BUDGET_ERR_DEMINIMIS_CEILING_EXCEEDED)
		check_problem(cs->r, "I-2 broken: %s", why);
	else if (rc != BUDGET_OK && rc != BUDGET_ERR_STORAGE_ERROR)
		check_problem(cs->r, "company %s: %s", company, why);
}

/*
 * I-2 for every company with a grant, in one walk of the grants in key
 * order (company, date, id). dm_verify costs a microsecond a company: it
 * reads the undertaking, the grants and the regimes from the store. Most
 * companies need none of it. One never linked to anyone (nothing under
 * its number in the links database, which holds every link and merger
 * under both companies) is alone on every day; if its grants, none
 * negative, add up to no more than the lowest ceiling of any regime, and
 * none is dated before the first regime begins, every window dm_verify
 * would look at fits under the ceiling in force. Every other company
 * goes to dm_verify.
 */
struct check_dm {
	struct check_state *cs;
	struct check_map    linked; /* companies named by a link, by key */
	int64_t             floor;  /* the lowest ceiling; -1: no regime */
	int32_t             first;  /* the first day a regime is in force */
	char                company[LEDGER_RID_SZ]; /* whose grants these are */
	int64_t             sum;                    /* theirs, so far */
	int                 alone; /* the company needs no dm_verify so far */
};

static int
check_dm_regime_cb(const void *p, void *arg)
{
	const struct dm_regime *rg = p;
	struct check_dm        *dm = arg;

	if (dm->floor == -1 || rg->ceiling < dm->floor)
		dm->floor = rg->ceiling;
	if (rg->from < dm->first)
		dm->first = rg->from;
	return (0);
}

/* The company summed so far: through dm_verify if it may need it. */
static void
check_dm_flush(struct check_dm *dm)
{
	if (dm->company[0] != '\0' && !dm->alone)
		check_company_dm(dm->cs, dm->company);
	dm->company[0] = '\0';
}

static int
check_dm_grant_cb(
    const struct grant *g, const char *filed, int keyok, void *arg)
{
	struct check_dm *dm = arg;
	uint64_t         key = check_rid_key(filed, LEDGER_RID_SZ - 1);

	(void)keyok;
	if (key == 0)
		return (0); /* check_grant_cb names the key; nobody's grant */
	if (strcmp(filed, dm->company) != 0) {
		check_dm_flush(dm);
		memcpy(dm->company, filed, LEDGER_RID_SZ);
		dm->sum = 0;
		dm->alone = dm->floor >= 0 &&
		    check_map_slot(&dm->linked, key)->key == 0;
	}
	if (dm->alone &&
	    (g->effective < 0 || g->date < dm->first ||
		money_add(dm->sum, g->effective, &dm->sum) == -1 ||
		dm->sum > dm->floor))
		dm->alone = 0;
	return (0);
}

static void
check_deminimis(struct check_state *cs)
{
	struct check_dm     dm;
	struct store_cursor cur;
	struct store_val    k, v;
	uint64_t            key;

	memset(&dm, 0, sizeof(dm));
	dm.cs = cs;
	dm.floor = -1;
	dm.first = INT32_MAX;
	record_each_rule(cs->t, 'R', check_dm_regime_cb, &dm);
	check_map_init(&dm.linked, store_count(cs->t, STORE_DB_LINKS));
	store_cursor_open(&cur, cs->t, STORE_DB_LINKS, NULL, 0);
	while (store_cursor_next(&cur, &k, &v)) {
		key = k.len >= LEDGER_RID_SZ - 1
		    ? check_rid_key(k.data, LEDGER_RID_SZ - 1)
		    : 0;
		/* A link that names no company: take nobody for alone. */
		if (key == 0)
			dm.floor = -1;
		else
			check_map_slot(&dm.linked, key)->key = key;
	}
	store_cursor_close(&cur);
	record_each_grant_filed(cs->t, check_dm_grant_cb, &dm);
	check_dm_flush(&dm);
	cs->r->ncompanies = store_count(cs->t, STORE_DB_COMPANIES);
	xunmap(dm.linked.slot, dm.linked.cap * sizeof(*dm.linked.slot));
}

/*
 * Decoded journal entries live in an arena, emptied all at once: verify
 * decodes every entry, and protobuf-c's malloc and free of each field
 * would otherwise be a fifth of its time. What the arena has no room for
 * goes to malloc, and the arena grows to fit it next time.
 */
struct check_arena {
	ProtobufCAllocator pa;      /* protobuf-c's: into this arena */
	char              *mem;     /* the arena itself */
	size_t             cap;     /* its size */
	size_t             used;    /* of it, taken since the last reset */
	size_t             spilled; /* bytes that went to malloc instead */
	void             **spill;   /* what did not fit, malloc'ed */
	size_t             nspill;
};

/* Every block the arena hands out is aligned for any type. */
#define CHECK_ARENA_ALIGN _Alignof(max_align_t)

static void *
check_arena_alloc(void *arg, size_t size)
{
	struct check_arena *a = arg;
	void               *p;

	/* protobuf-c asks for no more than the entry's length allows. */
	if (size > SIZE_MAX / 2)
		fatalx("check: a journal entry asks for %zu bytes", size);
	size =
	    (size + CHECK_ARENA_ALIGN - 1) & ~(size_t)(CHECK_ARENA_ALIGN - 1);
	if (size <= a->cap - a->used) {
		p = a->mem + a->used;
		a->used += size;
		return (p);
	}
	a->spill = xreallocarray(a->spill, a->nspill + 1, sizeof(*a->spill));
	a->spill[a->nspill++] = p = xmalloc(size);
	a->spilled += size;
	return (p);
}

static void
check_arena_free(void *arg, void *p)
{
	(void)arg;
	(void)p; /* all of it goes at once, in check_arena_reset */
}

static void
check_arena_init(struct check_arena *a, size_t cap)
{
	memset(a, 0, sizeof(*a));
	a->pa.alloc = check_arena_alloc;
	a->pa.free = check_arena_free;
	a->pa.allocator_data = a;
	a->cap = cap;
	a->mem = xmalloc(cap);
}

/* Forget what the arena holds; make room for the most it held yet. */
static void
check_arena_reset(struct check_arena *a)
{
	size_t i;

	for (i = 0; i < a->nspill; i++)
		free(a->spill[i]);
	a->nspill = 0;
	if (a->spilled > 0) {
		a->cap = (a->used + a->spilled) * 2;
		free(a->mem);
		a->mem = xmalloc(a->cap);
		a->spilled = 0;
	}
	a->used = 0;
}

static void
check_arena_fini(struct check_arena *a)
{
	check_arena_reset(a);
	free(a->spill);
	free(a->mem);
}

/*
 * The journal in order, one decoded entry at a time: each under the key of
 * its own sequence number, the numbers running 1, 2, 3 without a gap.
 */
struct check_walk {
	struct store_cursor cur;
	uint64_t            next;   /* the sequence number expected next */
	int                 broken; /* stopped at one that was not so */
	struct check_arena  own;    /* for check_walk_next: one entry */
};

static void
check_walk_open(struct check_walk *w, struct store_txn *t)
{
	memset(w, 0, sizeof(*w));
	store_cursor_open(&w->cur, t, STORE_DB_JOURNAL, NULL, 0);
	w->next = 1;
	check_arena_init(&w->own, 4096);
}

static void
check_walk_close(struct check_walk *w)
{
	store_cursor_close(&w->cur);
	check_arena_fini(&w->own);
}

/*
 * The next entry, decoded into a (valid until a is reset), or NULL: at
 * the end, or (w->broken) at entry w->next, which is missing, out of
 * order or undecodable.
 */
static const Budgetstore__JournalEntry *
check_walk_into(struct check_walk *w, struct check_arena *a)
{
	const Budgetstore__JournalEntry *m;
	struct store_val                 k, v;
	uint64_t                         seq;

	if (w->broken || !store_cursor_next(&w->cur, &k, &v))
		return (NULL);
	seq = k.len == 8 ? record_get_be64(k.data) : 0;
	m = (const Budgetstore__JournalEntry *)budget_unpack(
	    &budgetstore__journal_entry__descriptor, &a->pa, v.len, v.data);
	if (m == NULL || seq != w->next || m->seq != seq || m->hash.len != 32) {
		w->broken = 1;
		return (NULL);
	}
	w->next++;
	return (m);
}

/* The next entry, valid until the next call; as check_walk_into. */
static const Budgetstore__JournalEntry *
check_walk_next(struct check_walk *w)
{
	check_arena_reset(&w->own);
	return (check_walk_into(w, &w->own));
}

/*
 * I-4, one entry at a time: every entry's hash is SHA-256(previous ||
 * canonical form). The chain stops at the first that is not; the walk
 * goes on, for the replay's sake.
 */
struct check_chain {
	struct check_report *r;
	uint8_t              prev[32];
	char                *canon; /* one buffer for every canonical form */
	size_t               ccap;
	int                  stopped;
	/* The history index items the journal calls for, summed. */
	uint64_t seed, want;
	size_t   indexed;
};

static void
check_chain_entry(struct check_chain *ch, const Budgetstore__JournalEntry *m)
{
	uint8_t h[32];
	size_t  clen;

	ch->indexed += journal_index_sum(m, ch->seed, &ch->want);
	if (ch->stopped)
		return;
	clen = journal_canonical_into(m, &ch->canon, &ch->ccap);
	journal_hash(ch->prev, ch->canon, clen, h);
	if (memcmp(h, m->hash.data, 32) != 0) {
		check_problem(ch->r,
		    "journal entry %llu: hash does not "
		    "match its content and predecessor",
		    (unsigned long long)m->seq);
		ch->r->first_bad_seq = m->seq;
		ch->stopped = 1;
		return;
	}
	memcpy(ch->prev, h, 32);
	ch->r->entries = m->seq;
}

/*
 * The end of the chain: where the walk broke off (0: it did not), and
 * whether the head in the meta database is the chain's last link. A walk
 * cut short by a read error (cut) says nothing about the head:
 * check_ledger says that the ledger could not be read.
 */
static void
check_chain_end(
    struct check_chain *ch, struct store_txn *t, uint64_t broken, int cut)
{
	struct check_report *r = ch->r;
	uint8_t              head[32];
	uint64_t             seq;

	free(ch->canon);
	ch->canon = NULL;
	if (!ch->stopped && broken != 0) {
		check_problem(r,
		    "journal entry %llu: missing, out of "
		    "order or undecodable",
		    (unsigned long long)broken);
		r->first_bad_seq = broken;
	}
	journal_head(t, &seq, head);
	if (t->err != 0)
		return; /* no head to compare or show: check_ledger says why */
	memcpy(r->head, head, 32);
	if (!cut && r->first_bad_seq == 0 &&
	    (seq != r->entries || memcmp(head, ch->prev, 32) != 0)) {
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
 * How the journal gets from the thread that walks it to the one that
 * hashes it: blocks of decoded entries, in a ring. The walker decodes each
 * entry once, replays it, and passes the block on; the hasher checks the
 * chain over it and gives it back. A block is about a millisecond of
 * work, so the lock is taken a thousand times per million entries; each
 * time one thread waits for the other costs a context switch.
 */
#define CHECK_BLOCK_ENTRIES 1024
#define CHECK_RING_BLOCKS   8

struct check_block {
	struct check_arena               a;
	const Budgetstore__JournalEntry *e[CHECK_BLOCK_ENTRIES];
	struct replay_hint               hint[CHECK_BLOCK_ENTRIES];
	size_t                           n;
};

struct check_ring {
	pthread_mutex_t     mu;
	pthread_cond_t      cv;
	struct check_block *blocks; /* 256 KiB in all: not on a stack */
	uint64_t            filled; /* blocks passed on, in all */
	uint64_t            hashed; /* blocks given back, in all */
	int                 done;   /* the walk has ended */
	uint64_t            broken; /* where it broke off, or 0 */
	int                 cut;    /* by a read error */
	int                 judged; /* the chain is checked: see trusted */
};

static void
check_ring_init(struct check_ring *g)
{
	size_t i;

	memset(g, 0, sizeof(*g));
	if (pthread_mutex_init(&g->mu, NULL) != 0 ||
	    pthread_cond_init(&g->cv, NULL) != 0)
		fatalx("check: pthread_mutex_init");
	g->blocks = xcalloc(CHECK_RING_BLOCKS, sizeof(*g->blocks));
	for (i = 0; i < CHECK_RING_BLOCKS; i++)
		check_arena_init(&g->blocks[i].a, 64 * 1024);
}

static void
check_ring_fini(struct check_ring *g)
{
	size_t i;

	for (i = 0; i < CHECK_RING_BLOCKS; i++)
		check_arena_fini(&g->blocks[i].a);
	free(g->blocks);
	pthread_cond_destroy(&g->cv);
	pthread_mutex_destroy(&g->mu);
}

/* The walker's next empty block, once the hasher has given it back. */
static struct check_block *
check_ring_empty(struct check_ring *g)
{
	struct check_block *b;

	pthread_mutex_lock(&g->mu);
	while (g->filled - g->hashed == CHECK_RING_BLOCKS)
		pthread_cond_wait(&g->cv, &g->mu);
	pthread_mutex_unlock(&g->mu);
	/* Only the walker writes filled: it may read it unlocked. */
	b = &g->blocks[g->filled % CHECK_RING_BLOCKS];
	check_arena_reset(&b->a);
	b->n = 0;
	return (b);
}

/*
 * Pass a block on; the last, done, also says where and how the walk ended.
 * The lock publishes, with it, everything the walker wrote before: the
 * blocks, the replay, cs->whole.
 */
static void
check_ring_fill(struct check_ring *g, int done, uint64_t broken, int cut)
{
	pthread_mutex_lock(&g->mu);
	g->filled++;
	g->done = done;
	g->broken = broken;
	g->cut = cut;
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->mu);
}

/* The hasher's next block, or NULL when the walk has ended. */
static struct check_block *
check_ring_next(struct check_ring *g)
{
	struct check_block *b = NULL;

	pthread_mutex_lock(&g->mu);
	while (g->hashed == g->filled && !g->done)
		pthread_cond_wait(&g->cv, &g->mu);
	if (g->hashed < g->filled)
		b = &g->blocks[g->hashed % CHECK_RING_BLOCKS];
	pthread_mutex_unlock(&g->mu);
	return (b);
}

static void
check_ring_hashed(struct check_ring *g)
{
	pthread_mutex_lock(&g->mu);
	g->hashed++;
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->mu);
}

/*
 * The journal, walked once: each entry decoded, replayed (I-3) and, on one
 * thread, hashed (ch); on two, passed to the other thread through the
 * ring g to be hashed there. Replay problems go to cs->r. It stops where
 * the entries stop making sense: the chain says where and why, and its
 * verdict decides whether the replay's findings mean anything.
 */
static uint64_t
check_journal(struct check_state *cs, struct check_ring *g,
    struct check_chain *ch, int *cut)
{
	struct check_walk                w;
	struct check_block              *b, *own = NULL;
	const Budgetstore__JournalEntry *m = NULL;
	char                             why[512];
	size_t                           i;

	check_walk_open(&w, cs->t);
	if (g == NULL) {
		own = xmalloc(sizeof(*own));
		check_arena_init(&own->a, 64 * 1024);
	}
	do {
		if (g != NULL)
			b = check_ring_empty(g);
		else {
			b = own;
			check_arena_reset(&b->a);
			b->n = 0;
		}
		/*
		 * A block decoded, then replayed: its lookups prefetched
		 * meanwhile, so that the replay finds them in the cache.
		 */
		while (b->n < CHECK_BLOCK_ENTRIES &&
		    (m = check_walk_into(&w, &b->a)) != NULL) {
			replay_prefetch(cs->rp, m, 0, &b->hint[b->n]);
			b->e[b->n++] = m;
		}
		for (i = 0; i < b->n; i++)
			replay_prefetch(cs->rp, b->e[i], 1, &b->hint[i]);
		for (i = 0; i < b->n; i++) {
			if (replay_apply(cs->rp, b->e[i], &b->hint[i], why,
				sizeof(why)) == -1)
				check_problem(cs->r, "%s", why);
			if (g == NULL)
				check_chain_entry(ch, b->e[i]);
		}
		if (m == NULL) {
			*cut = cs->t->err != 0;
			cs->whole = !w.broken && !*cut;
			if (g != NULL)
				check_ring_fill(
				    g, 1, w.broken ? w.next : 0, *cut);
		} else if (g != NULL)
			check_ring_fill(g, 0, 0, 0);
	} while (m != NULL);
	if (own != NULL) {
		check_arena_fini(&own->a);
		free(own);
	}
	check_walk_close(&w);
	return (w.broken ? w.next : 0);
}

/* The other thread's half of check_journal: the chain over each block. */
static void
check_ring_hash(struct check_ring *g, struct check_chain *ch)
{
	struct check_block *b;
	size_t              i;

	while ((b = check_ring_next(g)) != NULL) {
		for (i = 0; i < b->n; i++)
			check_chain_entry(ch, b->e[i]);
		check_ring_hashed(g);
	}
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

/* Every stored company's key into cs->companies, reading keys only. */
static void
check_read_companies(struct check_state *cs)
{
	struct store_cursor cur;
	struct store_val    k, v;
	uint64_t            key;

	check_map_init(&cs->companies, store_count(cs->t, STORE_DB_COMPANIES));
	store_cursor_open(&cur, cs->t, STORE_DB_COMPANIES, NULL, 0);
	while (store_cursor_next(&cur, &k, &v)) {
		if ((key = check_rid_key(k.data, k.len)) != 0)
			check_map_slot(&cs->companies, key)->key = key;
	}
	store_cursor_close(&cur);
}

/*
 * The end of the stored records against each other, once every dossier
 * and contract has been through check_dossier_cb and check_contract_cb:
 * contracts that dossiers name but that do not exist, and the company
 * index against the dossiers.
 */
static void
check_records_end(struct check_state *cs)
{
	struct check_report *r = cs->r;
	struct store_txn    *t = cs->t;
	uint64_t             have = 0;
	size_t               i, n;

	for (i = 0; i < cs->nsums; i++) {
		if (cs->sums[i].ndossiers != UINT32_MAX)
			check_problem(r,
			    "dossiers name contract %s, which does "
			    "not exist",
			    cs->sums[i].id);
	}
	n = index_sum(t, STORE_DB_COMPANY_DOSSIERS, cs->seed, &have);
	if (t->err == 0 && (n != r->ndossiers || have != cs->summaries)) {
		/* Look dossier by dossier which, as in check_index_items. */
		record_each_dossier(t, check_summary_cb, cs);
		check_summaries_extra(cs);
	}
	free(cs->sums);
	cs->sums = NULL;
	cs->nsums = cs->capsums = 0;
}

/*
 * The stored records against each other, when there is no replay to
 * hold them to (the journal is broken): every grant on its own, then the
 * dossiers against their grants, companies and contracts, and the
 * company index against the dossiers.
 */
static void
check_records(struct check_state *cs)
{
	struct store_txn *t = cs->t;

	check_read_companies(cs);
	check_map_init(&cs->grants, store_count(t, STORE_DB_GRANTS));
	record_each_grant_filed(t, check_grant_cb, cs);
	record_each_dossier(t, check_dossier_cb, cs);
	record_each_contract(t, check_contract_cb, cs);
	check_records_end(cs);
	xunmap(cs->grants.slot, cs->grants.cap * sizeof(*cs->grants.slot));
	xunmap(cs->companies.slot,
	    cs->companies.cap * sizeof(*cs->companies.slot));
}

/*
 * The same checks with the replay, each record decoded once for both:
 * the dossiers and contracts against each other and against their
 * replay (problems of the second kind to cmp), the grants of a dossier
 * and its company looked up in the replay. Sound because the replay is
 * compared with every stored grant and company too (CP_GRANTS,
 * CP_COMPANY), and is of a journal whose chain holds.
 */
static void
check_dossiers_replayed(struct check_state *cs, struct check_report *cmp)
{
	struct replay_also also = {
	    .dossier = check_dossier_cb,
	    .contract = check_contract_cb,
	    .arg = cs,
	};

	replay_compare(
	    cs->rp, cs->t, REPLAY_DOSSIERS, check_problem_cb, cmp, &also);
	replay_compare(
	    cs->rp, cs->t, REPLAY_CONTRACTS, check_problem_cb, cmp, &also);
	check_records_end(cs);
}

/* ...and every grant on its own, against its replay. */
static void
check_grants_replayed(struct check_state *cs, struct check_report *cmp)
{
	struct replay_also also = {.grant = check_grant_cb, .arg = cs};

	/* check_grant_cb finds a grant stored twice in it. */
	check_map_init(&cs->grants, store_count(cs->t, STORE_DB_GRANTS));
	replay_compare(
	    cs->rp, cs->t, REPLAY_GRANTS, check_problem_cb, cmp, &also);
	xunmap(cs->grants.slot, cs->grants.cap * sizeof(*cs->grants.slot));
}

/*
 * What is left besides the walk of the journal, in parts that any thread
 * may take, the largest first, so that the threads finish together. The
 * first two read only the store: a third thread takes them while the
 * journal is still walked, in the time the chain waits for blocks. The
 * rest begin once the replay is complete, and only read it. Each part
 * has two reports: what it finds in the store, and what differs from
 * the replay, which is noise if the chain is broken; check_ledger puts
 * them together, the chain's first, in an order of its own.
 */
enum check_part {
	CP_COMPANIES, /* every company with a grant: I-2 in every window */
	CP_HISTORY,   /* the history index, summed */
	CP_DOSSIERS,  /* dossiers and contracts: sums, and against the replay */
	CP_GRANTS,    /* grants: each on its own, and against the replay */
	CP_COMPANY,   /* companies and links against the replay */
	CP_RULES,     /* rule sets and regimes against the replay */
	CP_RECORDS,   /* with no replay to trust: check_records */
	CP_NPARTS
};
#define CP_FIRST_REPLAY CP_DOSSIERS /* the first that needs the replay */

struct check_parts {
	_Atomic unsigned    next; /* the next part to take */
	struct check_report rep[CP_NPARTS], cmp[CP_NPARTS];
	struct replay      *rp;
	/*
	 * The replay is of the whole journal: check_journal's, which the
	 * ring's last fill publishes to the other thread.
	 */
	const int *whole;
	/*
	 * ...and its chain holds, so that the records may be checked
	 * against the replay; said before any part from CP_FIRST_REPLAY on
	 * is taken (check_ring_judge).
	 */
	int      trusted;
	uint64_t seed;     /* of the history index's sum */
	uint64_t hist_sum; /* the history index's items, summed */
	size_t   hist_n;
	long     ms[CP_NPARTS]; /* each part's CPU, for the log */
};

static void
check_part(struct check_parts *p, enum check_part i, struct store_txn *t)
{
	struct check_state cs;

	memset(&cs, 0, sizeof(cs));
	cs.t = t;
	cs.r = &p->rep[i];
	cs.seed = p->seed;
	if (i >= CP_FIRST_REPLAY && p->trusted)
		cs.rp = p->rp;
	switch (i) {
	case CP_COMPANIES:
		check_deminimis(&cs);
		break;
	case CP_HISTORY:
		p->hist_n =
		    index_sum(t, STORE_DB_HISTORY, p->seed, &p->hist_sum);
		break;
	case CP_DOSSIERS:
		if (cs.rp != NULL)
			check_dossiers_replayed(&cs, &p->cmp[i]);
		break;
	case CP_GRANTS:
		if (cs.rp != NULL)
			check_grants_replayed(&cs, &p->cmp[i]);
		break;
	case CP_COMPANY:
	case CP_RULES:
		if (cs.rp != NULL)
			replay_compare(cs.rp, t,
			    i == CP_COMPANY ? REPLAY_COMPANIES : REPLAY_RULES,
			    check_problem_cb, &p->cmp[i], NULL);
		break;
	case CP_RECORDS:
		if (cs.rp == NULL)
			check_records(&cs);
		break;
	case CP_NPARTS:
		break;
	}
}

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

/*
 * The next part below limit, or limit when there is none. Not a plain
 * fetch-and-add: a part the caller may not take stays for a thread that
 * may.
 */
static unsigned
check_part_next(struct check_parts *p, unsigned limit)
{
	unsigned i = atomic_load(&p->next);

	while (i < limit && !atomic_compare_exchange_weak(&p->next, &i, i + 1))
		;
	return (i < limit ? i : limit);
}

/*
 * Take parts below limit until none is left; this thread's CPU
 * milliseconds.
 */
static long
check_parts_take(struct check_parts *p, struct store_txn *t, unsigned limit)
{
	struct timespec start, part;
	unsigned        i;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &start);
	while ((i = check_part_next(p, limit)) < limit) {
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &part);
		check_part(p, (enum check_part)i, t);
		p->ms[i] = check_cpu_ms(&part);
	}
	return (check_cpu_ms(&start));
}

/*
 * The second thread: the chain over the blocks the first passes it, then
 * its share of the parts. Both read one snapshot: the second thread a
 * transaction of its own that sees the same commit as the caller's; when
 * it does not (a write came in between) the caller does all of it.
 */
struct check_worker {
	struct store_txn   *t;
	struct check_ring   ring;
	struct check_chain  chain;
	struct check_report hash;
	struct check_parts *parts;
	long                chain_ms, parts_ms;
};

/*
 * The worker, its chain checked to the end of the walk: whether the
 * replay may stand for the journal (p->trusted), said to the caller,
 * which waits for it before it takes a part (check_ring_trusted).
 */
static void
check_ring_judge(struct check_ring *g, struct check_parts *p, int intact)
{
	pthread_mutex_lock(&g->mu);
	p->trusted = *p->whole && intact;
	g->judged = 1;
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->mu);
}

static void
check_ring_trusted(struct check_ring *g)
{
	pthread_mutex_lock(&g->mu);
	while (!g->judged)
		pthread_cond_wait(&g->cv, &g->mu);
	pthread_mutex_unlock(&g->mu);
}

static void *
check_worker_main(void *arg)
{
	struct check_worker *w = arg;
	struct timespec      start;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &start);
	check_ring_hash(&w->ring, &w->chain);
	check_ring_judge(&w->ring, w->parts, !w->chain.stopped);
	check_chain_end(&w->chain, w->t, w->ring.broken, w->ring.cut);
	w->chain_ms = check_cpu_ms(&start);
	w->parts_ms = check_parts_take(w->parts, w->t, CP_NPARTS);
	return (NULL);
}

/*
 * The third thread: parts that read only the store, begun at once, on a
 * transaction of its own that sees the caller's snapshot (as the
 * second's). Two cores run three threads: it fills the time the chain
 * waits for the walk, which is slower.
 */
struct check_early {
	struct store_txn    t;
	struct check_parts *parts;
	long                ms;
};

static void *
check_early_main(void *arg)
{
	struct check_early *e = arg;

	e->ms = check_parts_take(e->parts, &e->t, CP_FIRST_REPLAY);
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
 * BUDGETD_VERIFY_THREADS=1 in budgetd's environment: all of verify on the
 * caller's thread, as when a write comes in between the two threads'
 * snapshots. The tests run the tamper checks so too, since that path is
 * otherwise a race away; an operator may, to compare.
 */
static int
check_one_thread(void)
{
	const char *v = getenv("BUDGETD_VERIFY_THREADS");

	return (v != NULL && strcmp(v, "1") == 0);
}

/*
 * Check everything (see the top of this file) in t. r->ok says whether
 * all holds; r->problems says what does not, for people, the chain first.
 */
void
check_ledger(struct store_txn *t, struct check_report *r)
{
	static const enum check_part order[] = {
	    CP_RECORDS, CP_DOSSIERS, CP_GRANTS, CP_COMPANIES};
	struct check_state  cs;
	struct check_worker w;
	struct check_early  e;
	struct check_parts  p;
	struct check_report rep;
	struct store_txn    wt;
	struct timespec     start, cpu;
	pthread_t           thr, ethr;
	uint64_t            broken = 0;
	int                 threaded = 0, early = 0, err, cut = 1;
	long                ms = 0, parts_ms;
	size_t              i;

	clock_gettime(CLOCK_MONOTONIC, &start);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu);
	memset(&cs, 0, sizeof(cs));
	memset(r, 0, sizeof(*r));
	memset(&w, 0, sizeof(w));
	memset(&e, 0, sizeof(e));
	memset(&p, 0, sizeof(p));
	memset(&rep, 0, sizeof(rep));
	r->ok = rep.ok = w.hash.ok = 1;
	for (i = 0; i < CP_NPARTS; i++)
		p.rep[i].ok = p.cmp[i].ok = 1;
	atomic_init(&p.next, 0);
	if (getrandom(&p.seed, sizeof(p.seed), 0) != (ssize_t)sizeof(p.seed))
		fatal("check: getrandom");
	w.chain.r = &w.hash;
	w.chain.seed = p.seed;
	w.parts = &p;
	p.whole = &cs.whole;
	/*
	 * The second thread's transaction, begun here (the environment is
	 * MDB_NOTLS: it may move to that thread) so that whether it sees
	 * t's snapshot is known before anything runs.
	 */
	store_begin(&wt, 0);
	if (!check_one_thread() && t->err == 0 && wt.err == 0 &&
	    store_snapshot(t) != 0 &&
	    store_snapshot(&wt) == store_snapshot(t)) {
		w.t = &wt;
		check_ring_init(&w.ring);
		threaded =
		    pthread_create(&thr, NULL, check_worker_main, &w) == 0;
		if (!threaded)
			check_ring_fini(&w.ring);
	}
	if (!threaded) {
		store_abort(&wt);
		w.t = t;
	} else {
		e.parts = &p;
		store_begin(&e.t, 0);
		early = e.t.err == 0 &&
		    store_snapshot(&e.t) == store_snapshot(t) &&
		    pthread_create(&ethr, NULL, check_early_main, &e) == 0;
		if (!early)
			store_abort(&e.t);
	}

	cs.t = t;
	cs.r = &rep;
	if (t->err == 0) {
		cs.rp = replay_new(store_count(t, STORE_DB_CONTRACTS),
		    store_count(t, STORE_DB_DOSSIERS),
		    store_count(t, STORE_DB_GRANTS),
		    store_count(t, STORE_DB_COMPANIES));
		p.rp = cs.rp;
		broken = check_journal(
		    &cs, threaded ? &w.ring : NULL, &w.chain, &cut);
	} else if (threaded)
		check_ring_fill(&w.ring, 1, 0, 1); /* or it waits forever */
	ms = check_cpu_ms(&cpu);
	if (!threaded) {
		p.trusted = cs.whole && !w.chain.stopped;
		check_chain_end(&w.chain, t, broken, cut);
	} else if (t->err == 0)
		check_ring_trusted(&w.ring);
	parts_ms = t->err == 0 ? check_parts_take(&p, t, CP_NPARTS) : 0;
	if (threaded) {
		if (pthread_join(thr, NULL) != 0)
			fatalx("check: pthread_join");
		check_ring_fini(&w.ring);
	}
	if (early && pthread_join(ethr, NULL) != 0)
		fatalx("check: pthread_join");
	err = t->err != 0 ? t->err : w.t->err;
	if (early && err == 0)
		err = e.t.err;
	if (threaded)
		store_abort(&wt);
	if (early)
		store_abort(&e.t);
	replay_free(cs.rp);

	/* The index holds exactly what the journal calls for, or look why. */
	if (err == 0 && cs.whole &&
	    (p.hist_n != w.chain.indexed || p.hist_sum != w.chain.want))
		check_index_items(&cs);
	/*
	 * A store that could not be read leaves every later comparison
	 * short of data: what it would say is noise. The chain's verdict,
	 * reached first, stands.
	 */
	if (err != 0) {
		check_report_free(&rep);
		for (i = 0; i < CP_NPARTS; i++) {
			check_report_free(&p.rep[i]);
			check_report_free(&p.cmp[i]);
		}
	}

	r->entries = w.hash.entries;
	r->first_bad_seq = w.hash.first_bad_seq;
	memcpy(r->head, w.hash.head, 32);
	/* Counted by one of the two, whichever ran. */
	r->ncontracts =
	    p.rep[CP_RECORDS].ncontracts + p.rep[CP_DOSSIERS].ncontracts;
	r->ndossiers =
	    p.rep[CP_RECORDS].ndossiers + p.rep[CP_DOSSIERS].ndossiers;
	r->ncompanies = p.rep[CP_COMPANIES].ncompanies;
	check_take(r, &w.hash);
	/* A broken chain makes every later comparison noise. */
	if (r->first_bad_seq == 0) {
		check_take(r, &rep);
		for (i = 0; i < CP_NPARTS; i++)
			check_take(r, &p.cmp[i]);
	}
	check_report_free(&rep);
	/* The records' own problems, then I-2's. */
	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		check_take(r, &p.rep[order[i]]);
	for (i = 0; i < CP_NPARTS; i++) {
		check_report_free(&p.rep[i]);
		check_report_free(&p.cmp[i]);
	}
	if (err != 0)
		check_problem(
		    r, "the ledger could not be read: %s", store_strerror(err));
	/* Info, not debug: which path verify took is part of the record. */
	log_info("verify: %llu entries in %ld ms; CPU: journal %ld ms, "
		 "parts %ld ms; chain %ld ms, parts %ld ms; early parts %ld "
		 "ms (%s)",
	    (unsigned long long)r->entries, check_ms(&start), ms, parts_ms,
	    w.chain_ms, w.parts_ms, e.ms,
	    early          ? "on three threads"
		: threaded ? "on two threads"
			   : "all on this one");
	log_debug("verify: parts (CPU ms): I-2 %ld, history %ld; with the "
		  "replay: dossiers and contracts %ld, grants %ld, companies "
		  "%ld, rules %ld; without: records %ld",
	    p.ms[CP_COMPANIES], p.ms[CP_HISTORY], p.ms[CP_DOSSIERS],
	    p.ms[CP_GRANTS], p.ms[CP_COMPANY], p.ms[CP_RULES],
	    p.ms[CP_RECORDS]);
}
