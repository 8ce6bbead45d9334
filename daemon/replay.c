/*
 * replay.c: what each journal entry does to the balances, written a second
 * time, independently of the commands that wrote the entries. verify
 * replays the whole journal into fresh balances and compares them with
 * every stored contract, dossier, grant and company (I-3); balance --as-of
 * replays one contract's or one undertaking's entries up to a moment.
 *
 * The state is compact (amounts and states, not whole records) and kept in
 * hash tables of our own: glibc's hsearch_r hashes only the first bytes of
 * a key, so ids that share a prefix ("CS-2026-...") made verify quadratic.
 * Each table holds at most what the store's record counts say: a replay
 * that finds more entities than the store holds reports it rather than
 * growing without bound.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budget/date.h"
#include "budgetd.h"
#include "store.pb-c.h"

struct rp_arena {
	char            *buf;
	size_t           len, cap;
	struct rp_arena *next;
};

/*
 * Open addressing, linear probing, the whole key hashed (FNV-1a). FNV is
 * kept for a reason: ids made one after another ("...0001", "...0002")
 * differ in their last bytes, and FNV's last multiply puts them a few
 * hundred slots apart, so the entries a stretch of the journal touches
 * share cache lines. A well-mixing hash (tried: eight bytes a step and
 * splitmix64's finaliser) scatters them over the whole table and made the
 * replay of 4.8M entries 1.3 s slower.
 */
struct rp_slot {
	uint64_t    hash;
	const char *key; /* NULL: empty */
	void       *val;
};

struct rp_table {
	struct rp_slot *slot;
	size_t          cap; /* a power of two */
	size_t          n;
};

struct replay {
	struct rp_table  contracts, dossiers, grants, companies, strings;
	size_t           ncontracts, ndossiers, ngrants, ncompanies, nstrings;
	size_t           maxc, maxd, maxg, maxco;
	struct rp_arena *arena;
	struct link     *links;
	size_t           nlinks, caplinks;
	/* For walking the tables in order: every grant and dossier made. */
	struct rp_grant   **glist;
	struct rp_dossier **dlist;
	size_t              capglist, capdlist;
	uint64_t            seq;     /* last entry applied */
	int                 partial; /* not from the start: be lenient */
	int64_t             time;
	/* The rule sets and regimes rules_load entries brought, each once. */
	struct rulebook rules;
};

/*
 * Bump allocation; the whole arena goes at once in replay_free. Each
 * chunk twice the last, up to 8 MiB: a replay of one dossier's history
 * stays small.
 */
static void *
rp_alloc(struct replay *rp, size_t size)
{
	struct rp_arena *a = rp->arena;
	size_t           cap;
	void            *p;

	size = (size + 7) & ~(size_t)7;
	if (a == NULL || a->len + size > a->cap) {
		cap = a == NULL           ? 65536
		    : a->cap < (8u << 20) ? a->cap * 2
					  : a->cap;
		a = xcalloc(1, sizeof(*a));
		a->cap = size > cap ? size : cap;
		a->buf = xmap(a->cap);
		a->next = rp->arena;
		rp->arena = a;
	}
	p = a->buf + a->len;
	a->len += size;
	return (p);
}

static char *
rp_strdup(struct replay *rp, const char *s)
{
	size_t len = strlen(s) + 1;
	char  *p = rp_alloc(rp, len);

	memcpy(p, s, len);
	return (p);
}

static uint64_t
rp_hash(const char *s)
{
	uint64_t h = UINT64_C(14695981039346656037);

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= UINT64_C(1099511628211);
	}
	return (h);
}

/* The slot holding key, or the empty slot where it would go. */
static struct rp_slot *
rp_probe(struct rp_table *t, const char *key, uint64_t h)
{
	size_t i = (size_t)h & (t->cap - 1);

	while (t->slot[i].key != NULL &&
	    (t->slot[i].hash != h || strcmp(t->slot[i].key, key) != 0))
		i = (i + 1) & (t->cap - 1);
	return (&t->slot[i]);
}

/* Keep the table at most 70% full: probes stay short. */
static void
rp_grow(struct rp_table *t)
{
	struct rp_table old = *t;
	size_t          i;

	t->cap = old.cap ? old.cap * 2 : 64;
	t->slot = xmap(t->cap * sizeof(*t->slot));
	for (i = 0; i < old.cap; i++) {
		if (old.slot[i].key != NULL)
			*rp_probe(t, old.slot[i].key, old.slot[i].hash) =
			    old.slot[i];
	}
	xunmap(old.slot, old.cap * sizeof(*old.slot));
}

/* Make an empty tab big enough for n entries at most 70% full. */
static void
rp_presize(struct rp_table *t, size_t n)
{
	size_t cap = 64;

	while (cap * 7 < n * 10)
		cap *= 2;
	t->slot = xmap(cap * sizeof(*t->slot));
	t->cap = cap;
}

/*
 * Find key, of hash h (rp_hash; 0: worked out here), in tab; with size >
 * 0, create a zeroed value of that size when missing (NULL when the table
 * holds max entries already).
 */
static void *
rp_lookup(struct replay *rp, struct rp_table *tab, size_t *count, size_t max,
    const char *key, uint64_t h, size_t size, int *created)
{
	struct rp_slot *sl;

	size_t klen;

	if (h == 0)
		h = rp_hash(key);
	*created = 0;
	if (tab->cap > 0 && (sl = rp_probe(tab, key, h))->key != NULL)
		return (sl->val);
	if (size == 0 || *count >= max)
		return (NULL);
	/* A whole journal's replay: room for all at once, no rehashing. */
	if (tab->cap == 0 && !rp->partial)
		rp_presize(tab, max);
	if ((tab->n + 1) * 10 > tab->cap * 7)
		rp_grow(tab);
	sl = rp_probe(tab, key, h);
	sl->hash = h;
	/* The key right after the value: one cache miss finds both. */
	size = (size + 7) & ~(size_t)7;
	klen = strlen(key) + 1;
	sl->val = rp_alloc(rp, size + klen);
	sl->key = memcpy((char *)sl->val + size, key, klen);
	tab->n++;
	(*count)++;
	*created = 1;
	return (sl->val);
}

/* The key rp_lookup keeps right after a value of size bytes. */
static const char *
rp_key(const void *val, size_t size)
{
	return ((const char *)val + ((size + 7) & ~(size_t)7));
}

/* s, kept once however often it comes: a dossier's package. */
static const char *
rp_intern(struct replay *rp, const char *s)
{
	void *v;
	int   created;

	/* A few names in all, as a rule: grown, not sized for the worst. */
	if (rp->strings.cap == 0)
		rp_presize(&rp->strings, 16);
	v = rp_lookup(rp, &rp->strings, &rp->nstrings, rp->maxd + rp->maxg, s,
	    0, 1, &created);
	return (v != NULL ? rp_key(v, 1) : rp_strdup(rp, s));
}

/*
 * Room in a list of pointers (glist, dlist) for n. A whole journal's
 * replay makes room for all it may hold (max, as rp_lookup caps the count)
 * at once, in a map xmap keeps for the next verify: doubling through
 * realloc cost a fresh page, and a fault, every 512 pointers.
 */
static void *
rp_room(const struct replay *rp, void *list, size_t *cap, size_t n, size_t max)
{
	if (n <= *cap)
		return (list);
	if (!rp->partial) {
		if (*cap != 0 || n > max)
			fatalx("replay: %zu in a list of %zu", n, max);
		*cap = max;
		return (xmap(max * sizeof(void *)));
	}
	*cap = *cap != 0 ? *cap * 2 : 64;
	return (xreallocarray(list, *cap, sizeof(void *)));
}

/* src into dst of size bytes, cut short if need be, as snprintf would. */
static void
rp_copy(char *dst, size_t size, const char *src)
{
	size_t n = strnlen(src, size - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

/*
 * A replay able to hold up to the given numbers of each entity (the
 * store's counts, with room for what the journal may add meanwhile).
 */
struct replay *
replay_new(size_t contracts, size_t dossiers, size_t grants, size_t companies)
{
	struct replay *rp = xcalloc(1, sizeof(*rp));

	rp->maxc = contracts + 16;
	rp->maxd = dossiers + 16;
	rp->maxg = grants + 16;
	rp->maxco = companies + 16;
	return (rp);
}

/*
 * This replay sees only some entries (one undertaking's): contracts are
 * made up when first named instead of being an error. Called before the
 * first entry: the tables and lists are sized by it.
 */
void
replay_partial(struct replay *rp)
{
	if (rp->arena != NULL || rp->capdlist != 0 || rp->capglist != 0)
		fatalx("replay_partial: after the first entry");
	rp->partial = 1;
}

void
replay_free(struct replay *rp)
{
	struct rp_arena *a, *next;

	if (rp == NULL)
		return;
	xunmap(rp->contracts.slot, rp->contracts.cap * sizeof(struct rp_slot));
	xunmap(rp->dossiers.slot, rp->dossiers.cap * sizeof(struct rp_slot));
	xunmap(rp->grants.slot, rp->grants.cap * sizeof(struct rp_slot));
	xunmap(rp->companies.slot, rp->companies.cap * sizeof(struct rp_slot));
	xunmap(rp->strings.slot, rp->strings.cap * sizeof(struct rp_slot));
	for (a = rp->arena; a != NULL; a = next) {
		next = a->next;
		xunmap(a->buf, a->cap);
		free(a);
	}
	free(rp->links);
	if (!rp->partial) {
		xunmap(rp->glist, rp->capglist * sizeof(*rp->glist));
		xunmap(rp->dlist, rp->capdlist * sizeof(*rp->dlist));
	} else {
		free(rp->glist);
		free(rp->dlist);
	}
	free(rp->rules.sets);
	free(rp->rules.regimes);
	free(rp);
}

/*
 * The replay's records hold no string twice: a dossier points at its
 * contract's id and at its package's, kept once (rp_intern), a grant at
 * its dossier's. A whole journal's replay holds millions of them, and
 * every page of it is a fresh page to fault in and clear.
 */
struct rp_contract {
	struct contract c;
	const char     *id; /* the table's key */
};

struct rp_dossier {
	int64_t     subsidy, granted, paid, pending, released;
	const char *contract, *package; /* in the tables */
	uint32_t    ngrants;
	uint8_t     state; /* enum dossier_state */
	char        company[LEDGER_RID_SZ];
};

struct rp_grant {
	int64_t     amount, effective;
	uint64_t    what;    /* its package and contract, rp_what */
	const char *source;  /* in the arena */
	const char *dossier; /* its dossier's id, or "" */
	int32_t     date;
	uint8_t     kind; /* enum grant_kind */
	char        company[LEDGER_RID_SZ];
};

struct rp_company {
	char     absorbed_into[LEDGER_RID_SZ];
	int32_t  absorbed_on;
	uint64_t what; /* its name, postcode, size and flags, rp_what */
};

/*
 * What a record says beside its amounts, as one number: the two strings,
 * each with its NUL, then the two numbers, through index_mix. Kept
 * instead of the strings, so that a replay of millions of grants and
 * companies stays small; a change that leaves the number as it was is a
 * chance of 2^-64.
 */
static uint64_t
rp_what(const char *a, const char *b, uint64_t x, uint64_t y)
{
	uint64_t n[2] = {x, y};
	uint64_t h = index_mix(0, (const uint8_t *)a, strlen(a) + 1,
	    (const uint8_t *)b, strlen(b) + 1);

	return (index_mix(h, (const uint8_t *)n, sizeof(n), NULL, 0));
}

/* A grant's kind from its journal entry: a dossier's says it by name. */
static enum grant_kind
rp_grant_kind(const Budgetstore__JournalEntry *m)
{
	enum grant_kind k;

	if (*m->dossier == '\0')
		return (GRANT_DECLARED);
	for (k = GRANT_INITIAL; k < GRANT_DECLARED; k++)
		if (strcmp(m->reason, ledger_grant_kind_name(k)) == 0)
			return (k);
	return (GRANT_NONE);
}

static struct rp_contract *
rp_contract(struct replay *rp, const char *id, int create, int *created)
{
	return (rp_lookup(rp, &rp->contracts, &rp->ncontracts, rp->maxc, id, 0,
	    create ? sizeof(struct rp_contract) : 0, created));
}

/* h: id's hash, or 0 (rp_lookup works it out); likewise below. */
static struct rp_dossier *
rp_dossier(
    struct replay *rp, const char *id, uint64_t h, int create, int *created)
{
	return (rp_lookup(rp, &rp->dossiers, &rp->ndossiers, rp->maxd, id, h,
	    create ? sizeof(struct rp_dossier) : 0, created));
}

/* Grant id's key in key: decimal, without snprintf (a lookup per payment). */
#define RP_GRANT_KEY_SZ 24
static const char *
rp_grant_key(uint64_t id, char key[RP_GRANT_KEY_SZ])
{
	char *p = key + RP_GRANT_KEY_SZ - 1;

	*p = '\0';
	do {
		*--p = (char)('0' + id % 10);
		id /= 10;
	} while (id != 0);
	return (p);
}

static struct rp_grant *
rp_grant(struct replay *rp, uint64_t id, uint64_t h, int create, int *created)
{
	char key[RP_GRANT_KEY_SZ];

	return (rp_lookup(rp, &rp->grants, &rp->ngrants, rp->maxg,
	    rp_grant_key(id, key), h, create ? sizeof(struct rp_grant) : 0,
	    created));
}

static struct rp_company *
rp_company(
    struct replay *rp, const char *number, uint64_t h, int create, int *created)
{
	return (rp_lookup(rp, &rp->companies, &rp->ncompanies, rp->maxco,
	    number, h, create ? sizeof(struct rp_company) : 0, created));
}

/*
 * key's hash for rp_prefetch: 0 for no key, which names nothing to fetch.
 */
static uint64_t
rp_hint(const char *key)
{
	return (*key != '\0' ? rp_hash(key) : 0);
}

/*
 * Ask the CPU for what rp_lookup will read of the key of hash h (rp_hint;
 * 0: nothing): with first, the slot it hashes to; after, what that slot
 * points at: the value and the key right after it, which is on another
 * cache line as often as not. The tables are far larger than the caches,
 * so each lookup of a replay waits for memory twice; a caller with a block
 * of entries asks for all of them first.
 *
 * Always inlined: out of line, with no loop in it, GCC finds that the
 * function has no effect it can see and drops calls to it (all of the
 * comparing walk's), with their prefetches.
 */
static inline __attribute__((always_inline)) void
rp_prefetch(struct rp_table *tab, uint64_t h, int first)
{
	struct rp_slot *sl;

	if (tab->cap == 0 || h == 0)
		return;
	sl = &tab->slot[(size_t)h & (tab->cap - 1)];
	if (first)
		__builtin_prefetch(sl);
	else if (sl->val != NULL) {
		__builtin_prefetch(sl->val);
		__builtin_prefetch(sl->key);
	}
}

/*
 * The kinds of entry the replay knows, told apart once per entry: a
 * replay of millions of entries would otherwise compare each kind with
 * a dozen names, at every step that depends on it.
 */
enum rp_entry {
	RE_UNKNOWN,
	RE_REFUSED,
	RE_RULES_LOAD,
	RE_COMPANY_ADD,
	RE_COMPANY_LINK,
	RE_COMPANY_MERGE,
	RE_DEMINIMIS_DECLARE,
	RE_CONTRACT_OPEN,
	RE_CONTRACT_AMEND,
	RE_CONTRACT_CLOSE,
	RE_DOSSIER_RESERVE,
	RE_DOSSIER_AMEND,
	RE_DOSSIER_APPROVE,
	RE_DOSSIER_CANCEL,
	RE_DOSSIER_EXPIRE,
	RE_DOSSIER_PAY,
	RE_DOSSIER_COMPLETE,
	RE_DOSSIER_CLOSE,
	RE_DOSSIER_WITHDRAW,
	RE_COUNT
};

/* Each name with its length: most names fail on it, with no compare. */
#define RP_ENTRY(name) \
	{ \
		name, sizeof(name) - 1 \
	}
static const struct {
	const char *name;
	size_t      len;
} rp_entry_names[RE_COUNT] = {
    [RE_REFUSED] = RP_ENTRY("refused"),
    [RE_RULES_LOAD] = RP_ENTRY("rules_load"),
    [RE_COMPANY_ADD] = RP_ENTRY("company_add"),
    [RE_COMPANY_LINK] = RP_ENTRY("company_link"),
    [RE_COMPANY_MERGE] = RP_ENTRY("company_merge"),
    [RE_DEMINIMIS_DECLARE] = RP_ENTRY("deminimis_declare"),
    [RE_CONTRACT_OPEN] = RP_ENTRY("contract_open"),
    [RE_CONTRACT_AMEND] = RP_ENTRY("contract_amend"),
    [RE_CONTRACT_CLOSE] = RP_ENTRY("contract_close"),
    [RE_DOSSIER_RESERVE] = RP_ENTRY("dossier_reserve"),
    [RE_DOSSIER_AMEND] = RP_ENTRY("dossier_amend"),
    [RE_DOSSIER_APPROVE] = RP_ENTRY("dossier_approve"),
    [RE_DOSSIER_CANCEL] = RP_ENTRY("dossier_cancel"),
    [RE_DOSSIER_EXPIRE] = RP_ENTRY("dossier_expire"),
    [RE_DOSSIER_PAY] = RP_ENTRY("dossier_pay"),
    [RE_DOSSIER_COMPLETE] = RP_ENTRY("dossier_complete"),
    [RE_DOSSIER_CLOSE] = RP_ENTRY("dossier_close"),
    [RE_DOSSIER_WITHDRAW] = RP_ENTRY("dossier_withdraw"),
};
#undef RP_ENTRY

static enum rp_entry
rp_entry_of(const char *kind)
{
	size_t len = strlen(kind);
	int    e;

	for (e = RE_REFUSED; e < RE_COUNT; e++)
		if (rp_entry_names[e].len == len &&
		    memcmp(rp_entry_names[e].name, kind, len) == 0)
			return ((enum rp_entry)e);
	return (RE_UNKNOWN);
}

/*
 * Prefetch what replay_apply will look up for an entry (stage 0: the
 * slots; stage 1, once those have arrived: the records): its dossier, the
 * grant it makes, and the company only for the two kinds that look one
 * up. Most entries name a company they need not read, and a prefetch of
 * it would cost as much memory traffic as the lookups themselves. Only a
 * hint: replay_apply is right with or without it.
 */
void
replay_prefetch(struct replay *rp, const Budgetstore__JournalEntry *m,
    int stage, struct replay_hint *hint)
{
	char          key[RP_GRANT_KEY_SZ];
	enum rp_entry e;

	if (stage == 0) {
		e = *m->dossier != '\0' ? RE_UNKNOWN : rp_entry_of(m->kind);
		hint->dossier = rp_hint(m->dossier);
		hint->company = rp_hint(e == RE_COMPANY_ADD ? m->company
			: e == RE_COMPANY_MERGE             ? m->company2
							    : "");
		hint->grant = m->grant_id != 0
		    ? rp_hint(rp_grant_key(m->grant_id, key))
		    : 0;
	}
	rp_prefetch(&rp->dossiers, hint->dossier, stage == 0);
	rp_prefetch(&rp->companies, hint->company, stage == 0);
	rp_prefetch(&rp->grants, hint->grant, stage == 0);
}

/*
 * An entry's effect on its contract's balances, the one place that says
 * it: kind, amount and the pending part a withdraw releases.
 */
static void
rp_contract_effect(
    enum rp_entry e, const Budgetstore__JournalEntry *m, struct contract *c)
{
	switch (e) {
	case RE_CONTRACT_OPEN:
	case RE_CONTRACT_AMEND:
		c->budget = m->budget;
		break;
	case RE_CONTRACT_CLOSE:
		c->closed = 1;
		break;
	case RE_DOSSIER_RESERVE:
		c->reserved += m->amount;
		c->ndossiers++;
		break;
	case RE_DOSSIER_AMEND:
		c->reserved += m->amount;
		break;
	case RE_DOSSIER_APPROVE:
		c->reserved -= m->amount;
		c->committed += m->amount;
		break;
	case RE_DOSSIER_CANCEL:
	case RE_DOSSIER_EXPIRE:
		c->reserved -= m->amount;
		break;
	case RE_DOSSIER_PAY:
		c->committed -= m->amount;
		c->paid += m->amount;
		break;
	case RE_DOSSIER_CLOSE:
		c->committed -= m->amount;
		break;
	case RE_DOSSIER_WITHDRAW:
		c->committed -= m->amount;
		c->reserved -= m->pending;
		break;
	default:
		break;
	}
}

void
replay_contract_effect(const Budgetstore__JournalEntry *m, struct contract *c)
{
	rp_contract_effect(rp_entry_of(m->kind), m, c);
}

static int replay_bad(char *, size_t, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static int
replay_bad(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
	return (-1);
}

/*
 * The grant an entry makes, for dossier: the dossier table's key for an
 * approval; for a declared aid, whatever dossier its entry names (none,
 * unless the entry was made by something other than budgetd).
 */
static int
replay_new_grant(struct replay *rp, const Budgetstore__JournalEntry *m,
    uint64_t h, const char *dossier, char *why, size_t len)
{
	struct rp_grant *g;
	int              created;

	g = rp_grant(rp, m->grant_id, h, 1, &created);
	if (g == NULL || !created)
		return (replay_bad(why, len,
		    "entry %llu: grant %llu twice or "
		    "more grants than stored",
		    (unsigned long long)m->seq,
		    (unsigned long long)m->grant_id));
	rp_copy(g->company, sizeof(g->company), m->company);
	g->date = m->date;
	g->amount = g->effective = m->amount;
	g->source = *m->dossier != '\0' ? "ledger" : rp_strdup(rp, m->reason);
	g->dossier = dossier;
	g->kind = (uint8_t)rp_grant_kind(m);
	g->what = *m->dossier != '\0' ? rp_what(m->package, m->contract, 0, 0)
				      : rp_what("", "", 0, 0);
	rp->glist =
	    rp_room(rp, rp->glist, &rp->capglist, rp->ngrants, rp->maxg);
	rp->glist[rp->ngrants - 1] = g;
	return (0);
}

static void
replay_link(struct replay *rp, const Budgetstore__JournalEntry *m, int merge)
{
	struct link *l;

	if (rp->nlinks == rp->caplinks) {
		rp->caplinks = rp->caplinks ? rp->caplinks * 2 : 64;
		rp->links =
		    xreallocarray(rp->links, rp->caplinks, sizeof(*rp->links));
	}
	l = &rp->links[rp->nlinks++];
	memset(l, 0, sizeof(*l));
	snprintf(l->parent, sizeof(l->parent), "%s", m->company);
	snprintf(l->child, sizeof(l->child), "%s", m->company2);
	l->since = m->date;
	l->until = merge ? 0 : m->until;
	l->merge = merge;
}

/*
 * A rules_load entry: the rule sets and regimes of its text that no
 * earlier entry brought (a loaded one never changes, so a name seen
 * again is the same set), for replay_compare to hold the rules database
 * to.
 */
static int
replay_rules(struct replay *rp, const Budgetstore__JournalEntry *m, char *why,
    size_t len)
{
	struct rulebook rb;
	char           *cause = NULL;
	size_t          i, j;
	int             rc;

	if (rules_parse(m->text, &rb, &cause) == -1) {
		rc = replay_bad(why, len,
		    "entry %llu: its rules do not parse: %s",
		    (unsigned long long)m->seq, cause);
		free(cause);
		return (rc);
	}
	for (i = 0; i < rb.nsets; i++) {
		for (j = 0; j < rp->rules.nsets; j++)
			if (strcmp(rp->rules.sets[j].name, rb.sets[i].name) ==
			    0)
				break;
		if (j < rp->rules.nsets)
			continue;
		rp->rules.sets = xreallocarray(rp->rules.sets,
		    rp->rules.nsets + 1, sizeof(*rp->rules.sets));
		rp->rules.sets[rp->rules.nsets++] = rb.sets[i];
	}
	for (i = 0; i < rb.nregimes; i++) {
		for (j = 0; j < rp->rules.nregimes; j++)
			if (strcmp(rp->rules.regimes[j].name,
				rb.regimes[i].name) == 0)
				break;
		if (j < rp->rules.nregimes)
			continue;
		rp->rules.regimes = xreallocarray(rp->rules.regimes,
		    rp->rules.nregimes + 1, sizeof(*rp->rules.regimes));
		rb.regimes[i].loaded_seq = m->seq;
		rp->rules.regimes[rp->rules.nregimes++] = rb.regimes[i];
	}
	rules_free(&rb);
	return (0);
}

/*
 * Apply one entry. Entries must come in sequence order. hint: what
 * replay_prefetch worked out of this entry, or NULL. Returns 0, or -1
 * with why filled when the entry cannot have happened (an unknown dossier,
 * an unknown kind): that is itself a finding.
 */
int
replay_apply(struct replay *rp, const Budgetstore__JournalEntry *m,
    const struct replay_hint *hint, char *why, size_t len)
{
	static const struct replay_hint none;
	struct rp_contract             *k = NULL;
	struct rp_dossier              *d = NULL;
	struct rp_company              *co;
	struct rp_grant                *g;
	const char                     *kind = m->kind;
	enum rp_entry                   e = rp_entry_of(kind);
	size_t                          i;
	int                             created;

	if (hint == NULL)
		hint = &none;
	rp->seq = m->seq;
	rp->time = m->time;
	if (e == RE_REFUSED)
		return (0);
	if (e == RE_RULES_LOAD)
		return (replay_rules(rp, m, why, len));
	if (e == RE_COMPANY_ADD) {
		if ((co = rp_company(
			 rp, m->company, hint->company, 1, &created)) == NULL ||
		    !created)
			return (replay_bad(why, len,
			    "entry %llu: company %s "
			    "added twice",
			    (unsigned long long)m->seq, m->company));
		co->what = rp_what(m->name, m->postcode, m->size, m->flags);
		return (0);
	}
	if (e == RE_COMPANY_LINK) {
		replay_link(rp, m, 0);
		return (0);
	}
	if (e == RE_COMPANY_MERGE) {
		replay_link(rp, m, 1);
		if ((co = rp_company(
			 rp, m->company2, hint->company, 0, &created)) == NULL)
			return (replay_bad(why, len,
			    "entry %llu: merges unknown "
			    "company %s",
			    (unsigned long long)m->seq, m->company2));
		rp_copy(
		    co->absorbed_into, sizeof(co->absorbed_into), m->company);
		co->absorbed_on = m->date;
		return (0);
	}
	if (e == RE_DEMINIMIS_DECLARE)
		return (replay_new_grant(rp, m, hint->grant,
		    *m->dossier != '\0' ? rp_strdup(rp, m->dossier) : "", why,
		    len));

	/* Everything else moves a contract's money. */
	if (*m->contract == '\0')
		return (replay_bad(why, len, "entry %llu: unknown kind %s",
		    (unsigned long long)m->seq, kind));
	k = rp_contract(
	    rp, m->contract, rp->partial || e == RE_CONTRACT_OPEN, &created);
	if (k == NULL)
		return (replay_bad(why, len, "entry %llu: contract %s unknown",
		    (unsigned long long)m->seq, m->contract));
	if (created)
		k->id = rp_key(k, sizeof(*k));
	if (e >= RE_CONTRACT_OPEN && e <= RE_CONTRACT_CLOSE) {
		rp_contract_effect(e, m, &k->c);
		return (0);
	}
	if (e < RE_DOSSIER_RESERVE)
		return (replay_bad(why, len, "entry %llu: unknown kind %s",
		    (unsigned long long)m->seq, kind));
	d = rp_dossier(
	    rp, m->dossier, hint->dossier, e == RE_DOSSIER_RESERVE, &created);
	if (d == NULL)
		return (replay_bad(why, len, "entry %llu: dossier %s unknown",
		    (unsigned long long)m->seq, m->dossier));
	/* budgetd refuses a second reserve of an id: a journal has none. */
	if (e == RE_DOSSIER_RESERVE && !created)
		return (replay_bad(why, len,
		    "entry %llu: dossier %s reserved a second time",
		    (unsigned long long)m->seq, m->dossier));
	rp_contract_effect(e, m, &k->c);

	switch (e) {
	case RE_DOSSIER_RESERVE:
		rp->dlist = rp_room(
		    rp, rp->dlist, &rp->capdlist, rp->ndossiers, rp->maxd);
		rp->dlist[rp->ndossiers - 1] = d;
		rp_copy(d->company, sizeof(d->company), m->company);
		d->contract = k->id;
		d->package = rp_intern(rp, m->package);
		d->state = DS_RESERVED;
		d->subsidy = m->subsidy;
		d->pending = m->amount;
		break;
	case RE_DOSSIER_AMEND:
		d->pending += m->amount;
		break;
	case RE_DOSSIER_APPROVE:
		d->pending -= m->amount;
		d->granted += m->amount;
		d->subsidy = m->subsidy;
		/* The package approved: an upgrade's new one. */
		d->package = rp_intern(rp, m->package);
		d->ngrants++;
		if (d->state == DS_RESERVED)
			d->state = DS_APPROVED;
		return (replay_new_grant(
		    rp, m, hint->grant, rp_key(d, sizeof(*d)), why, len));
	case RE_DOSSIER_CANCEL:
	case RE_DOSSIER_EXPIRE:
		d->pending -= m->amount;
		if (d->state == DS_RESERVED)
			d->state =
			    e == RE_DOSSIER_CANCEL ? DS_CANCELLED : DS_EXPIRED;
		break;
	case RE_DOSSIER_PAY:
		d->paid += m->amount;
		break;
	case RE_DOSSIER_COMPLETE:
		d->state = DS_COMPLETED;
		break;
	case RE_DOSSIER_CLOSE:
	case RE_DOSSIER_WITHDRAW:
		d->pending -= m->pending;
		d->granted -= m->amount;
		d->released += m->amount;
		d->state = e == RE_DOSSIER_CLOSE ? DS_CLOSED : DS_WITHDRAWN;
		if (m->n_grant_ids != m->n_grant_amounts)
			return (replay_bad(why, len,
			    "entry %llu: %zu grants "
			    "cut by %zu amounts",
			    (unsigned long long)m->seq, m->n_grant_ids,
			    m->n_grant_amounts));
		for (i = 0; i < m->n_grant_ids; i++) {
			g = rp_grant(rp, m->grant_ids[i], 0, 0, &created);
			if (g == NULL)
				return (replay_bad(why, len,
				    "entry %llu: cuts "
				    "unknown grant "
				    "%llu",
				    (unsigned long long)m->seq,
				    (unsigned long long)m->grant_ids[i]));
			g->effective -= m->grant_amounts[i];
		}
		break;
	default:
		return (replay_bad(why, len, "entry %llu: unknown kind %s",
		    (unsigned long long)m->seq, kind));
	}
	return (0);
}

static int
replay_link_holds(const struct link *l, int32_t day)
{
	return (l->since <= day && (l->until == 0 || day <= l->until));
}

/*
 * The de-minimis position of company on day as the replayed entries left
 * it: its undertaking through the replayed links, the grants in r's
 * window, the undertaking's pending reservations.
 */
void
replay_position(struct replay *rp, const char *company, int32_t day,
    const struct dm_regime *r, struct dm_position *pos, struct grant **list,
    size_t *nlist)
{
	struct undertaking *u = &pos->group;
	struct grant       *out;
	size_t              i, j;

	memset(pos, 0, sizeof(*pos));
	pos->regime = *r;
	ledger_dm_window(r, day, &pos->start, &pos->end);
	undertaking_init(u);
	undertaking_add(u, company);
	for (i = 0; i < u->n; i++) {
		for (j = 0; j < rp->nlinks; j++) {
			const struct link *l = &rp->links[j];

			if (!replay_link_holds(l, day))
				continue;
			if (strcmp(l->parent, u->m[i]) == 0)
				undertaking_add(u, l->child);
			else if (strcmp(l->child, u->m[i]) == 0)
				undertaking_add(u, l->parent);
		}
	}
	*list = NULL;
	*nlist = 0;
	for (i = 0; i < rp->ngrants; i++) {
		const struct rp_grant *g = rp->glist[i];

		if (g->date < pos->start || g->date > pos->end ||
		    g->effective == 0 || !undertaking_has(u, g->company))
			continue;
		pos->used += g->effective;
		*list = xreallocarray(*list, *nlist + 1, sizeof(**list));
		out = &(*list)[(*nlist)++];
		memset(out, 0, sizeof(*out));
		memcpy(out->company, g->company, sizeof(out->company));
		out->date = g->date;
		out->amount = g->amount;
		out->effective = g->effective;
		snprintf(out->source, sizeof(out->source), "%s", g->source);
		snprintf(out->dossier, sizeof(out->dossier), "%s", g->dossier);
	}
	for (i = 0; i < rp->ndossiers; i++) {
		if (undertaking_has(u, rp->dlist[i]->company))
			pos->pending += rp->dlist[i]->pending;
	}
}

uint64_t
replay_seq(const struct replay *rp)
{
	return (rp->seq);
}

int64_t
replay_time(const struct replay *rp)
{
	return (rp->time);
}

/* The replayed balances of a contract; -1 when it never appeared. */
int
replay_get_contract(struct replay *rp, const char *id, struct contract *out)
{
	struct rp_contract *k;
	int                 created;

	if ((k = rp_contract(rp, id, 0, &created)) == NULL)
		return (-1);
	*out = k->c;
	snprintf(out->id, sizeof(out->id), "%s", id);
	return (0);
}

/*
 * Grant id as the replay has it: its effective amount and its company's
 * number; -1 if the journal made no such grant.
 */
int
replay_get_grant(
    struct replay *rp, uint64_t id, int64_t *effective, const char **company)
{
	struct rp_grant *g;
	int              created;

	if ((g = rp_grant(rp, id, 0, 0, &created)) == NULL)
		return (-1);
	*effective = g->effective;
	*company = g->company;
	return (0);
}

/* Whether the journal added company. */
int
replay_has_company(struct replay *rp, const char *number)
{
	int created;

	return (rp_company(rp, number, 0, 0, &created) != NULL);
}

/* Compare one stored record with its replay: NULL, or what differs. */
static const char *
replay_diff_dossier(struct replay *rp, const struct dossier *s, uint64_t h,
    char *why, size_t len)
{
	struct rp_dossier *d;
	int                created;

	if ((d = rp_dossier(rp, s->id, h, 0, &created)) == NULL) {
		snprintf(why, len,
		    "dossier %s is stored but no journal entry "
		    "reserved it",
		    s->id);
		return (why);
	}
	if ((unsigned)d->state != (unsigned)s->state ||
	    d->pending != s->pending || d->granted != s->granted ||
	    d->paid != s->paid || d->released != s->released ||
	    d->subsidy != s->subsidy || d->ngrants != s->ngrants ||
	    strcmp(d->contract, s->contract) ||
	    strcmp(d->company, s->company)) {
		snprintf(why, len,
		    "dossier %s: stored %s pending/granted/paid/released "
		    "%lld/%lld/%lld/%lld, the journal replays to %s "
		    "%lld/%lld/%lld/%lld",
		    s->id, ledger_state_name(s->state), (long long)s->pending,
		    (long long)s->granted, (long long)s->paid,
		    (long long)s->released,
		    ledger_state_name((enum dossier_state)d->state),
		    (long long)d->pending, (long long)d->granted,
		    (long long)d->paid, (long long)d->released);
		return (why);
	}
	if (strcmp(d->package, s->package) != 0) {
		snprintf(why, len,
		    "dossier %s: stored package %s, the journal replays to %s",
		    s->id, s->package, d->package);
		return (why);
	}
	return (NULL);
}

static const char *
replay_diff_contract(
    struct replay *rp, const struct contract *s, char *why, size_t len)
{
	struct contract r;

	if (replay_get_contract(rp, s->id, &r) == -1) {
		snprintf(why, len,
		    "contract %s is stored but no journal entry "
		    "opened it",
		    s->id);
		return (why);
	}
	if (r.budget != s->budget || r.reserved != s->reserved ||
	    r.committed != s->committed || r.paid != s->paid ||
	    r.closed != s->closed || r.ndossiers != s->ndossiers) {
		snprintf(why, len,
		    "contract %s: stored budget/reserved/committed/paid "
		    "%lld/%lld/%lld/%lld, the journal replays to "
		    "%lld/%lld/%lld/%lld",
		    s->id, (long long)s->budget, (long long)s->reserved,
		    (long long)s->committed, (long long)s->paid,
		    (long long)r.budget, (long long)r.reserved,
		    (long long)r.committed, (long long)r.paid);
		return (why);
	}
	return (NULL);
}

static const char *
replay_diff_grant(
    struct replay *rp, const struct grant *s, uint64_t h, char *why, size_t len)
{
	struct rp_grant *g;
	int              created;

	if ((g = rp_grant(rp, s->id, h, 0, &created)) == NULL) {
		snprintf(why, len,
		    "grant %llu is stored but no journal entry "
		    "made it",
		    (unsigned long long)s->id);
		return (why);
	}
	if (g->amount != s->amount || g->effective != s->effective ||
	    g->date != s->date || strcmp(g->company, s->company) != 0) {
		snprintf(why, len,
		    "grant %llu: stored %lld (%lld effective), "
		    "the journal replays to %lld (%lld)",
		    (unsigned long long)s->id, (long long)s->amount,
		    (long long)s->effective, (long long)g->amount,
		    (long long)g->effective);
		return (why);
	}
	if ((unsigned)g->kind != (unsigned)s->kind ||
	    strcmp(g->source, s->source) != 0 ||
	    strcmp(g->dossier, s->dossier) != 0 ||
	    g->what != rp_what(s->package, s->contract, 0, 0)) {
		snprintf(why, len,
		    "grant %llu: its kind, source, dossier, package or "
		    "contract (stored %s, %s, %s, %s, %s) does not match the "
		    "journal",
		    (unsigned long long)s->id,
		    (unsigned)s->kind <= GRANT_DECLARED
			? ledger_grant_kind_name(s->kind)
			: "?",
		    s->source, s->dossier, s->package, s->contract);
		return (why);
	}
	return (NULL);
}

static const char *
replay_diff_company(struct replay *rp, const struct company *s, uint64_t h,
    char *why, size_t len)
{
	struct rp_company *c;
	int                created;

	if ((c = rp_company(rp, s->number, h, 0, &created)) == NULL) {
		snprintf(why, len,
		    "company %s is stored but no journal entry "
		    "added it",
		    s->number);
		return (why);
	}
	if (strcmp(c->absorbed_into, s->absorbed_into) != 0 ||
	    c->absorbed_on != s->absorbed_on) {
		snprintf(why, len,
		    "company %s: its merger does not match the "
		    "journal",
		    s->number);
		return (why);
	}
	if (c->what !=
	    rp_what(s->name, s->postcode, (uint64_t)s->size,
		(s->maatwerk ? JFLAG_MAATWERK : 0) |
		    (s->nis2 ? JFLAG_NIS2 : 0) |
		    (s->flemish ? JFLAG_FLEMISH : 0))) {
		snprintf(why, len,
		    "company %s: its name, postcode, size or flags do not "
		    "match the journal",
		    s->number);
		return (why);
	}
	return (NULL);
}

/*
 * Links by what the store keys them on: the same two companies (either
 * way round) from the same day share their keys (a merger on the day of a
 * control link overwrites it). 0: one replaces the other.
 */
static int
rp_link_key_cmp(const struct link *a, const struct link *b)
{
	const char *a1, *a2, *b1, *b2;
	int         c;

	a1 = strcmp(a->parent, a->child) < 0 ? a->parent : a->child;
	a2 = a1 == a->parent ? a->child : a->parent;
	b1 = strcmp(b->parent, b->child) < 0 ? b->parent : b->child;
	b2 = b1 == b->parent ? b->child : b->parent;
	if ((c = strcmp(a1, b1)) != 0 || (c = strcmp(a2, b2)) != 0)
		return (c);
	return (a->since < b->since ? -1 : a->since > b->since);
}

/* Indexes into the links, by key, then in the order they were made. */
static int
rp_link_cmp(const void *x, const void *y, void *arg)
{
	const struct link *links = arg;
	size_t             i = *(const size_t *)x, j = *(const size_t *)y;
	int                c;

	if ((c = rp_link_key_cmp(&links[i], &links[j])) != 0)
		return (c);
	return (i < j ? -1 : i > j);
}

/*
 * The control links and mergers the journal made against the links
 * database: each (the last of those sharing its keys) stored under both
 * of its companies as it was made, and nothing else stored.
 */
static void
replay_compare_links(struct replay *rp, struct store_txn *t,
    void (*problem)(void *, const char *), void          *arg)
{
	const struct link *l;
	struct link        s;
	size_t            *order, i, j, n = 0;
	uint64_t           have;
	char               why[256], day[DATE_BUFSZ];
	int                st, bad;

	order = xcalloc(rp->nlinks + 1, sizeof(*order));
	for (i = 0; i < rp->nlinks; i++)
		order[i] = i;
	qsort_r(order, rp->nlinks, sizeof(*order), rp_link_cmp, rp->links);
	for (i = 0; i < rp->nlinks; i++) {
		l = &rp->links[order[i]];
		if (i + 1 < rp->nlinks &&
		    rp_link_key_cmp(l, &rp->links[order[i + 1]]) == 0)
			continue; /* replaced by a later one */
		n++;
		for (j = 0, bad = 0; j < 2 && !bad; j++) {
			st = record_get_link(t, j == 0 ? l->parent : l->child,
			    j == 0 ? l->child : l->parent, l->since, &s);
			if (st != STORE_OK ||
			    strcmp(s.parent, l->parent) != 0 ||
			    strcmp(s.child, l->child) != 0 ||
			    s.until != l->until || s.merge != l->merge)
				bad = 1;
		}
		if (bad && t->err == 0) {
			snprintf(why, sizeof(why),
			    "the %s of %s over %s from %s is not stored as "
			    "the journal made it",
			    l->merge ? "merger" : "control link", l->parent,
			    l->child, date_format(l->since, day, sizeof(day)));
			problem(arg, why);
		}
	}
	free(order);
	have = store_count(t, STORE_DB_LINKS);
	if (t->err == 0 && have != 2 * (uint64_t)n) {
		snprintf(why, sizeof(why),
		    "the journal makes %zu control links and mergers, the "
		    "store holds %llu link records (two each)",
		    n, (unsigned long long)have);
		problem(arg, why);
	}
}

/*
 * replay_compare's records, read a few ahead of the one compared. The
 * store's order is not the tables' (a key's hash decides its slot), so
 * each lookup would wait for memory: a record's slot is asked for as it
 * is read, its value RP_AHEAD / 2 records later, and it is compared
 * RP_AHEAD records later, when both are in the cache.
 */
#define RP_AHEAD 16

struct rp_ahead {
	union {
		struct dossier d;
		struct grant   g;
		struct company c;
	} rec;
	char     filed[LEDGER_RID_SZ]; /* a grant's: as its key files it */
	int      keyok;
	uint64_t h; /* its key's hash (rp_hint), worked out once */
	/* A dossier's: its company's and its grants' hashes, for rp_cmp_also. */
	uint64_t hco, hg[LEDGER_GRANTS_MAX];
};

struct replay_cmp {
	struct replay *rp;
	void (*problem)(void *, const char *);
	void                     *arg;
	size_t                    seen;
	const struct replay_also *also; /* or NULL */
	enum replay_kind          kind;
	struct rp_ahead          *ahead; /* RP_AHEAD of them, a ring */
	int                       stop;  /* also said so */
};

/* The table a record of rc's kind is looked up in, and its key. */
static struct rp_table *
rp_cmp_table(struct replay_cmp *rc, const struct rp_ahead *a, const char **key,
    char buf[RP_GRANT_KEY_SZ])
{
	switch (rc->kind) {
	case REPLAY_DOSSIERS:
		*key = a->rec.d.id;
		return (&rc->rp->dossiers);
	case REPLAY_GRANTS:
		*key = rp_grant_key(a->rec.g.id, buf);
		return (&rc->rp->grants);
	default:
		*key = a->rec.c.number;
		return (&rc->rp->companies);
	}
}

/* Compare record a with its replay; hand it to also. */
static void
rp_cmp_one(struct replay_cmp *rc, const struct rp_ahead *a)
{
	const struct replay_also *also = rc->also;
	const char               *why = NULL;
	char                      buf[512];
	int                       stop = 0;

	switch (rc->kind) {
	case REPLAY_DOSSIERS:
		why = replay_diff_dossier(
		    rc->rp, &a->rec.d, a->h, buf, sizeof(buf));
		if (also != NULL && also->dossier != NULL)
			stop = also->dossier(&a->rec.d, also->arg);
		break;
	case REPLAY_GRANTS:
		why = replay_diff_grant(
		    rc->rp, &a->rec.g, a->h, buf, sizeof(buf));
		if (also != NULL && also->grant != NULL)
			stop = also->grant(
			    &a->rec.g, a->filed, a->keyok, also->arg);
		break;
	default:
		why = replay_diff_company(
		    rc->rp, &a->rec.c, a->h, buf, sizeof(buf));
		break;
	}
	if (why != NULL)
		rc->problem(rc->arg, why);
	if (stop)
		rc->stop = 1;
}

/*
 * What the checker's also callback looks up of a dossier in the replay
 * (replay_get_grant, replay_has_company), prefetched as rp_prefetch does;
 * the keys hashed at the first stage, kept for the second.
 */
static void
rp_cmp_also(struct replay_cmp *rc, struct rp_ahead *a, int first)
{
	char   key[RP_GRANT_KEY_SZ];
	size_t i, n;

	if (rc->kind != REPLAY_DOSSIERS || rc->also == NULL ||
	    rc->also->dossier == NULL)
		return;
	n = a->rec.d.ngrants < LEDGER_GRANTS_MAX ? a->rec.d.ngrants
						 : LEDGER_GRANTS_MAX;
	if (first) {
		a->hco = rp_hint(a->rec.d.company);
		for (i = 0; i < n; i++)
			a->hg[i] =
			    rp_hint(rp_grant_key(a->rec.d.grants[i], key));
	}
	rp_prefetch(&rc->rp->companies, a->hco, first);
	for (i = 0; i < n; i++)
		rp_prefetch(&rc->rp->grants, a->hg[i], first);
}

/*
 * The record just read into the ring: its slot asked for, the value of
 * the one read RP_AHEAD / 2 before, and the one read RP_AHEAD before
 * compared, making room.
 */
static int
rp_cmp_push(struct replay_cmp *rc)
{
	struct rp_ahead *a;
	struct rp_table *tab;
	const char      *key;
	char             buf[RP_GRANT_KEY_SZ];
	size_t           n = rc->seen++;

	a = &rc->ahead[n % RP_AHEAD];
	tab = rp_cmp_table(rc, a, &key, buf);
	a->h = rp_hint(key);
	rp_prefetch(tab, a->h, 1);
	rp_cmp_also(rc, a, 1);
	if (n >= RP_AHEAD / 2) {
		/* The same table: it is rc's kind's. */
		a = &rc->ahead[(n - RP_AHEAD / 2) % RP_AHEAD];
		rp_prefetch(tab, a->h, 0);
		rp_cmp_also(rc, a, 0);
	}
	if (n + 1 >= RP_AHEAD)
		rp_cmp_one(rc, &rc->ahead[(n + 1) % RP_AHEAD]);
	return (rc->stop);
}

/* The records still in the ring, compared in the order they were read. */
static void
rp_cmp_drain(struct replay_cmp *rc)
{
	size_t i = rc->seen > RP_AHEAD - 1 ? rc->seen - (RP_AHEAD - 1) : 0;

	for (; i < rc->seen && !rc->stop; i++)
		rp_cmp_one(rc, &rc->ahead[i % RP_AHEAD]);
}

static int
replay_cmp_contract_cb(const struct contract *c, void *arg)
{
	struct replay_cmp *rc = arg;
	char               why[512];

	rc->seen++;
	if (replay_diff_contract(rc->rp, c, why, sizeof(why)) != NULL)
		rc->problem(rc->arg, why);
	return (rc->also != NULL && rc->also->contract != NULL
		? rc->also->contract(c, rc->also->arg)
		: 0);
}

static int
replay_cmp_dossier_cb(const struct dossier *d, void *arg)
{
	struct replay_cmp *rc = arg;

	rc->ahead[rc->seen % RP_AHEAD].rec.d = *d;
	return (rp_cmp_push(rc));
}

static int
replay_cmp_grant_cb(
    const struct grant *g, const char *filed, int keyok, void *arg)
{
	struct replay_cmp *rc = arg;
	struct rp_ahead   *a = &rc->ahead[rc->seen % RP_AHEAD];

	a->rec.g = *g;
	rp_copy(a->filed, sizeof(a->filed), filed);
	a->keyok = keyok;
	return (rp_cmp_push(rc));
}

static int
replay_cmp_company_cb(const struct company *c, void *arg)
{
	struct replay_cmp *rc = arg;

	rc->ahead[rc->seen % RP_AHEAD].rec.c = *c;
	return (rp_cmp_push(rc));
}

static int
replay_cmp_ruleset_cb(const void *p, void *arg)
{
	const struct ruleset *rs = p;
	struct replay_cmp    *rc = arg;
	char                  why[512];
	size_t                i;

	rc->seen++;
	for (i = 0; i < rc->rp->rules.nsets; i++) {
		if (strcmp(rc->rp->rules.sets[i].name, rs->name) != 0)
			continue;
		if (!rules_same_set(&rc->rp->rules.sets[i], rs)) {
			snprintf(why, sizeof(why),
			    "rule set %s: stored other than the journal's "
			    "rules_load says",
			    rs->name);
			rc->problem(rc->arg, why);
		}
		return (0);
	}
	snprintf(why, sizeof(why),
	    "rule set %s: stored, but no rules_load in the journal brought it",
	    rs->name);
	rc->problem(rc->arg, why);
	return (0);
}

static int
replay_cmp_regime_cb(const void *p, void *arg)
{
	const struct dm_regime *rg = p;
	struct replay_cmp      *rc = arg;
	char                    why[512];
	size_t                  i;

	rc->seen++;
	for (i = 0; i < rc->rp->rules.nregimes; i++) {
		if (strcmp(rc->rp->rules.regimes[i].name, rg->name) != 0)
			continue;
		if (!rules_same_regime(&rc->rp->rules.regimes[i], rg)) {
			snprintf(why, sizeof(why),
			    "de-minimis regime %s: stored other than the "
			    "journal's rules_load says",
			    rg->name);
			rc->problem(rc->arg, why);
		} else if (rc->rp->rules.regimes[i].loaded_seq !=
		    rg->loaded_seq) {
			snprintf(why, sizeof(why),
			    "de-minimis regime %s: stored as loaded by entry "
			    "%llu, but entry %llu loaded it",
			    rg->name, (unsigned long long)rg->loaded_seq,
			    (unsigned long long)rc->rp->rules.regimes[i]
				.loaded_seq);
			rc->problem(rc->arg, why);
		}
		return (0);
	}
	snprintf(why, sizeof(why),
	    "de-minimis regime %s: stored, but no rules_load in the journal "
	    "brought it",
	    rg->name);
	rc->problem(rc->arg, why);
	return (0);
}

/*
 * The rules database against the rules_load entries: every stored rule
 * set and regime as the journal loaded it, none the journal did not
 * load, and every one it loaded stored (a record that does not decode is
 * not seen, and so counted missing).
 */
static void
replay_compare_rules(struct replay *rp, struct store_txn *t,
    void (*problem)(void *, const char *), void          *arg)
{
	struct replay_cmp rc = {
	    rp, problem, arg, 0, NULL, REPLAY_RULES, NULL, 0};
	char     why[256];
	size_t   sets;
	uint64_t have;

	record_each_rule(t, 'S', replay_cmp_ruleset_cb, &rc);
	sets = rc.seen;
	record_each_rule(t, 'R', replay_cmp_regime_cb, &rc);
	have = store_count(t, STORE_DB_RULES);
	if (t->err != 0)
		return;
	if (sets != rp->rules.nsets || rc.seen - sets != rp->rules.nregimes ||
	    have != rc.seen) {
		snprintf(why, sizeof(why),
		    "the journal loads %zu rule sets and %zu de-minimis "
		    "regimes, the store holds %zu and %zu (%llu records)",
		    rp->rules.nsets, rp->rules.nregimes, sets, rc.seen - sets,
		    (unsigned long long)have);
		problem(arg, why);
	}
}

/*
 * I-3, one kind of record at a time: every stored contract, dossier, grant
 * or company equals its replay, and the journal created no entity of that
 * kind the store lacks (equal counts). Each difference goes to
 * problem(arg, text). Each record read is also handed to also's callback
 * for its kind, if any: the checker's own checks of it. The replay is
 * only read: once it is complete, two threads may compare different kinds
 * at once.
 */
void
replay_compare(struct replay *rp, struct store_txn *t, enum replay_kind kind,
    void (*problem)(void *, const char *), void *arg,
    const struct replay_also *also)
{
	struct replay_cmp rc = {rp, problem, arg, 0, also, kind, NULL, 0};
	char              why[256];
	size_t            want = 0;
	const char       *verb = NULL, *what = NULL;

	switch (kind) {
	case REPLAY_CONTRACTS:
		record_each_contract(t, replay_cmp_contract_cb, &rc);
		want = rp->ncontracts;
		verb = "opens";
		what = "contracts";
		break;
	case REPLAY_DOSSIERS:
		rc.ahead = xcalloc(RP_AHEAD, sizeof(*rc.ahead));
		record_each_dossier(t, replay_cmp_dossier_cb, &rc);
		rp_cmp_drain(&rc);
		want = rp->ndossiers;
		verb = "reserves";
		what = "dossiers";
		break;
	case REPLAY_GRANTS:
		rc.ahead = xcalloc(RP_AHEAD, sizeof(*rc.ahead));
		record_each_grant_filed(t, replay_cmp_grant_cb, &rc);
		rp_cmp_drain(&rc);
		want = rp->ngrants;
		verb = "makes";
		what = "grants";
		break;
	case REPLAY_COMPANIES:
		rc.ahead = xcalloc(RP_AHEAD, sizeof(*rc.ahead));
		record_each_company(t, replay_cmp_company_cb, &rc);
		rp_cmp_drain(&rc);
		replay_compare_links(rp, t, problem, arg);
		want = rp->ncompanies;
		verb = "adds";
		what = "companies";
		break;
	case REPLAY_RULES:
		replay_compare_rules(rp, t, problem, arg);
		break;
	}
	free(rc.ahead);
	if (verb != NULL && rc.seen != want) {
		snprintf(why, sizeof(why),
		    "the journal %s %zu %s, the store holds %zu", verb, want,
		    what, rc.seen);
		problem(arg, why);
	}
}
