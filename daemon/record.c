/*
 * record.c: the ledger's records in the store. Owns the key layouts (fixed
 * width, big-endian, so that cursor order is date and sequence order), the
 * mapping between store.proto messages and the daemon's structs, and the
 * typed get/put/walk functions everything above uses. Errors follow the
 * store's convention: a failed read or write sets the transaction's sticky
 * error; STORE_NOTFOUND is returned, never sticky.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "budgetd.h"
#include "store.pb-c.h"

static void   record_summary_pack(const struct dossier *, uint8_t *);
static void   record_put_summary(struct store_txn *, const struct dossier *);
static size_t record_summary_key(uint8_t *, const struct dossier *);

/* Copy a decoded string into a fixed field; -1 when it does not fit. */
static int
record_str(char *dst, size_t dstsz, const char *src)
{
	size_t len = src != NULL ? strlen(src) : 0;

	if (len >= dstsz)
		return (-1);
	memcpy(dst, src != NULL ? src : "", len + 1);
	return (0);
}

void
record_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

void
record_be64(uint8_t *p, uint64_t v)
{
	record_be32(p, (uint32_t)(v >> 32));
	record_be32(p + 4, (uint32_t)v);
}

uint32_t
record_get_be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3]);
}

uint64_t
record_get_be64(const uint8_t *p)
{
	return ((uint64_t)record_get_be32(p) << 32 | record_get_be32(p + 4));
}

/* Pack any message and put it under key. */
static void
record_put_msg(struct store_txn *t, enum store_db db, const void *key,
    size_t klen, const ProtobufCMessage *msg)
{
	size_t   len = protobuf_c_message_get_packed_size(msg);
	uint8_t *buf = xmalloc(len > 0 ? len : 1);

	protobuf_c_message_pack(msg, buf);
	store_put(t, db, key, klen, buf, len);
	free(buf);
}

/*
 * A stored record is decoded into a buffer on the caller's stack, not a
 * malloc per field: every command and every walk of verify decodes
 * records, and turns each at once into a struct of fixed arrays
 * (record_*_from). What does not fit goes to malloc, and record_unpacked
 * gives it back.
 */
#define RECORD_ARENA_SZ 4096

struct record_arena {
	ProtobufCAllocator pa;
	size_t             used;    /* of buf */
	size_t             spilled; /* pieces that went to malloc */
	_Alignas(max_align_t) char buf[RECORD_ARENA_SZ];
};

static void *
record_arena_alloc(void *arg, size_t size)
{
	struct record_arena *a = arg;
	const size_t         align = _Alignof(max_align_t);
	void                *p;

	if (size <= sizeof(a->buf) &&
	    ((size + align - 1) & ~(align - 1)) <= sizeof(a->buf) - a->used) {
		p = a->buf + a->used;
		a->used += (size + align - 1) & ~(align - 1);
		return (p);
	}
	a->spilled++;
	return (xmalloc(size > 0 ? size : 1));
}

static void
record_arena_free(void *arg, void *p)
{
	struct record_arena *a = arg;
	uintptr_t            u = (uintptr_t)p, b = (uintptr_t)a->buf;

	if (u < b || u >= b + sizeof(a->buf))
		free(p);
}

/* v as a message of kind d, in a; NULL when it does not decode. */
static ProtobufCMessage *
record_unpack(struct record_arena *a, const ProtobufCMessageDescriptor *d,
    const struct store_val *v)
{
	a->pa.alloc = record_arena_alloc;
	a->pa.free = record_arena_free;
	a->pa.allocator_data = a;
	a->used = 0;
	a->spilled = 0;
	return (budget_unpack(d, &a->pa, v->len, v->data));
}

/* Done with m (NULL is fine): give back what went to malloc. */
static void
record_unpacked(struct record_arena *a, void *m)
{
	if (m != NULL && a->spilled > 0)
		protobuf_c_message_free_unpacked(m, &a->pa);
}

/* Get and unpack into a; NULL with the result in *rc (sticky on corruption). */
static ProtobufCMessage *
record_get_msg(struct store_txn *t, enum store_db db, const void *key,
    size_t klen, const ProtobufCMessageDescriptor *d, int *rc,
    struct record_arena *a)
{
	struct store_val  v;
	ProtobufCMessage *m;

	if ((*rc = store_peek(t, db, key, klen, &v)) != STORE_OK)
		return (NULL);
	m = record_unpack(a, d, &v);
	if (m == NULL) {
		log_warnx("record: a %s record does not decode", d->short_name);
		t->err = *rc = STORE_CORRUPT;
	}
	return (m);
}

/* contracts ----------------------------------------------------------- */

static int
record_contract_from(struct contract *c, const Budgetstore__Contract *m)
{
	memset(c, 0, sizeof(*c));
	if (record_str(c->id, sizeof(c->id), m->id) == -1 ||
	    record_str(c->provider, sizeof(c->provider), m->provider) == -1 ||
	    record_str(c->framework, sizeof(c->framework), m->framework) == -1)
		return (-1);
	c->budget = m->budget;
	c->reserved = m->reserved;
	c->committed = m->committed;
	c->paid = m->paid;
	c->closed = m->closed;
	c->opened_at = m->opened_at;
	c->ndossiers = m->dossiers;
	return (0);
}

int
record_get_contract(struct store_txn *t, const char *id, struct contract *c)
{
	struct record_arena    ra;
	Budgetstore__Contract *m;
	int                    rc;

	m = (Budgetstore__Contract *)record_get_msg(t, STORE_DB_CONTRACTS, id,
	    strlen(id), &budgetstore__contract__descriptor, &rc, &ra);
	if (m == NULL)
		return (rc);
	if (record_contract_from(c, m) == -1)
		t->err = rc = STORE_CORRUPT;
	record_unpacked(&ra, m);
	return (rc);
}

void
record_put_contract(struct store_txn *t, const struct contract *c)
{
	Budgetstore__Contract m = BUDGETSTORE__CONTRACT__INIT;

	m.id = PB_STR(c->id);
	m.provider = PB_STR(c->provider);
	m.framework = PB_STR(c->framework);
	m.budget = c->budget;
	m.reserved = c->reserved;
	m.committed = c->committed;
	m.paid = c->paid;
	m.closed = c->closed;
	m.opened_at = c->opened_at;
	m.dossiers = c->ndossiers;
	record_put_msg(t, STORE_DB_CONTRACTS, c->id, strlen(c->id), &m.base);
}

int
record_each_contract(
    struct store_txn *t, int (*cb)(const struct contract *, void *), void *arg)
{
	struct record_arena    ra;
	struct store_cursor    cur;
	struct store_val       k, v;
	Budgetstore__Contract *m;
	struct contract        c;
	int                    stop = 0;

	store_cursor_open(&cur, t, STORE_DB_CONTRACTS, NULL, 0);
	while (!stop && store_cursor_next(&cur, &k, &v)) {
		m = (Budgetstore__Contract *)record_unpack(
		    &ra, &budgetstore__contract__descriptor, &v);
		if (m == NULL || record_contract_from(&c, m) == -1) {
			if (m != NULL)
				record_unpacked(&ra, m);
			t->err = STORE_CORRUPT;
			break;
		}
		record_unpacked(&ra, m);
		stop = cb(&c, arg);
	}
	store_cursor_close(&cur);
	return (t->err);
}

/* companies ----------------------------------------------------------- */

static int
record_company_from(struct company *c, const Budgetstore__Company *m)
{
	memset(c, 0, sizeof(*c));
	if (record_str(c->number, sizeof(c->number), m->number) == -1 ||
	    record_str(c->name, sizeof(c->name), m->name) == -1 ||
	    record_str(c->postcode, sizeof(c->postcode), m->postcode) == -1 ||
	    record_str(c->absorbed_into, sizeof(c->absorbed_into),
		m->absorbed_into) == -1 ||
	    m->size > SIZE_LARGE)
		return (-1);
	c->size = (enum company_size)m->size;
	c->maatwerk = m->maatwerk;
	c->nis2 = m->nis2;
	c->flemish = m->flemish_establishment;
	c->absorbed_on = m->absorbed_on;
	c->added_at = m->added_at;
	return (0);
}

int
record_get_company(struct store_txn *t, const char *number, struct company *c)
{
	struct record_arena   ra;
	Budgetstore__Company *m;
	int                   rc;

	m = (Budgetstore__Company *)record_get_msg(t, STORE_DB_COMPANIES,
	    number, strlen(number), &budgetstore__company__descriptor, &rc,
	    &ra);
	if (m == NULL)
		return (rc);
	if (record_company_from(c, m) == -1)
		t->err = rc = STORE_CORRUPT;
	record_unpacked(&ra, m);
	return (rc);
}

void
record_put_company(struct store_txn *t, const struct company *c)
{
	Budgetstore__Company m = BUDGETSTORE__COMPANY__INIT;

	m.number = PB_STR(c->number);
	m.name = PB_STR(c->name);
	m.postcode = PB_STR(c->postcode);
	m.size = c->size;
	m.maatwerk = c->maatwerk;
	m.nis2 = c->nis2;
	m.flemish_establishment = c->flemish;
	m.absorbed_into = PB_STR(c->absorbed_into);
	m.absorbed_on = c->absorbed_on;
	m.added_at = c->added_at;
	record_put_msg(
	    t, STORE_DB_COMPANIES, c->number, strlen(c->number), &m.base);
}

int
record_each_company(
    struct store_txn *t, int (*cb)(const struct company *, void *), void *arg)
{
	struct record_arena   ra;
	struct store_cursor   cur;
	struct store_val      k, v;
	Budgetstore__Company *m;
	struct company        c;
	int                   stop = 0;

	store_cursor_open(&cur, t, STORE_DB_COMPANIES, NULL, 0);
	while (!stop && store_cursor_next(&cur, &k, &v)) {
		m = (Budgetstore__Company *)record_unpack(
		    &ra, &budgetstore__company__descriptor, &v);
		if (m == NULL || record_company_from(&c, m) == -1) {
			if (m != NULL)
				record_unpacked(&ra, m);
			t->err = STORE_CORRUPT;
			break;
		}
		record_unpacked(&ra, m);
		stop = cb(&c, arg);
	}
	store_cursor_close(&cur);
	return (t->err);
}

/* A company from its stored bytes; -1 when they do not decode. */
int
record_company_decode(const struct store_val *v, struct company *c)
{
	struct record_arena   ra;
	Budgetstore__Company *m;
	int                   rc;

	if ((m = (Budgetstore__Company *)record_unpack(
		 &ra, &budgetstore__company__descriptor, v)) == NULL)
		return (-1);
	rc = record_company_from(c, m);
	record_unpacked(&ra, m);
	return (rc);
}

/* follow -------------------------------------------------------------- */

/*
 * A walk of one database that follows another walk in the same key order
 * (a merge join): the report walks the grants by company and follows the
 * companies and the company index with it. Moving to the next key wanted
 * is then a step or two along the leaf pages, not a search from the root.
 */
void
record_follow_open(
    struct record_follow *f, struct store_txn *t, enum store_db db)
{
	memset(f, 0, sizeof(*f));
	store_cursor_open(&f->cur, t, db, NULL, 0);
}

void
record_follow_close(struct record_follow *f)
{
	store_cursor_close(&f->cur);
}

/* LMDB's order: bytes, then the shorter key first. */
static int
record_follow_cmp(const struct store_val *k, const void *key, size_t klen)
{
	size_t n = k->len < klen ? k->len : klen;
	int    c = memcmp(k->data, key, n);

	if (c != 0)
		return (c);
	return (k->len < klen ? -1 : k->len > klen);
}

/* Onto the next key; 0 at the end. */
int
record_follow_next(struct record_follow *f)
{
	if (f->state == 2)
		return (0);
	f->state = store_cursor_next(&f->cur, &f->k, &f->v) ? 1 : 2;
	return (f->state == 1);
}

/* Onto the first key >= key, f->k and f->v; 0 when there is none. */
int
record_follow_seek(struct record_follow *f, const void *key, size_t klen)
{
	int i;

	if (f->state == 1 && record_follow_cmp(&f->k, key, klen) >= 0)
		return (1);
	/* Near: a few steps. Far, or not started: one search. */
	for (i = 0; f->state == 1 && i < 8; i++) {
		if (!record_follow_next(f))
			return (0);
		if (record_follow_cmp(&f->k, key, klen) >= 0)
			return (1);
	}
	if (f->state == 2)
		return (0);
	store_cursor_seek(&f->cur, key, klen);
	return (record_follow_next(f));
}

/* links --------------------------------------------------------------- */

/* a(10) b(10) since(4) */
#define LINK_KEY_LEN       (2 * RID_DIGITS + 4)
#define RID_DIGITS         10
#define RECORD_SUMMARY_LEN 21

static void
record_link_key(uint8_t *k, const char *a, const char *b, int32_t since)
{
	memcpy(k, a, RID_DIGITS);
	memcpy(k + RID_DIGITS, b, RID_DIGITS);
	record_be32(k + 2 * RID_DIGITS, (uint32_t)since);
}

/* Stored under both ends, so either company finds it by prefix. */
void
record_put_link(struct store_txn *t, const struct link *l)
{
	Budgetstore__Link m = BUDGETSTORE__LINK__INIT;
	uint8_t           k[LINK_KEY_LEN];

	m.parent = PB_STR(l->parent);
	m.child = PB_STR(l->child);
	m.since = l->since;
	m.until = l->until;
	m.merge = l->merge;
	record_link_key(k, l->parent, l->child, l->since);
	record_put_msg(t, STORE_DB_LINKS, k, sizeof(k), &m.base);
	record_link_key(k, l->child, l->parent, l->since);
	record_put_msg(t, STORE_DB_LINKS, k, sizeof(k), &m.base);
}

static int
record_link_from(struct link *l, const Budgetstore__Link *m)
{
	memset(l, 0, sizeof(*l));
	if (record_str(l->parent, sizeof(l->parent), m->parent) == -1 ||
	    record_str(l->child, sizeof(l->child), m->child) == -1)
		return (-1);
	l->since = m->since;
	l->until = m->until;
	l->merge = m->merge;
	return (0);
}

int
record_link_exists(
    struct store_txn *t, const char *a, const char *b, int32_t since)
{
	struct store_val v;
	uint8_t          k[LINK_KEY_LEN];
	int              rc;

	record_link_key(k, a, b, since);
	rc = store_get(t, STORE_DB_LINKS, k, sizeof(k), &v);
	free(v.data);
	return (rc == STORE_OK);
}

/*
 * The link stored under (a, b, since): a's and b's numbers in that order,
 * either end first. STORE_OK, STORE_NOTFOUND or an error.
 */
int
record_get_link(struct store_txn *t, const char *a, const char *b,
    int32_t since, struct link *l)
{
	struct record_arena ra;
	Budgetstore__Link  *m;
	uint8_t             k[LINK_KEY_LEN];
	int                 rc;

	record_link_key(k, a, b, since);
	m = (Budgetstore__Link *)record_get_msg(t, STORE_DB_LINKS, k, sizeof(k),
	    &budgetstore__link__descriptor, &rc, &ra);
	if (m == NULL)
		return (rc);
	if (record_link_from(l, m) == -1)
		t->err = rc = STORE_CORRUPT;
	record_unpacked(&ra, m);
	return (rc);
}

/* Every link touching company, whatever its dates. */
int
record_each_link(struct store_txn *t, const char *company,
    int (*cb)(const struct link *, void *), void *arg)
{
	struct record_arena ra;
	struct store_cursor cur;
	struct store_val    k, v;
	Budgetstore__Link  *m;
	struct link         l;
	int                 stop = 0;

	store_cursor_open(&cur, t, STORE_DB_LINKS, company, RID_DIGITS);
	while (!stop && store_cursor_next(&cur, &k, &v)) {
		m = (Budgetstore__Link *)record_unpack(
		    &ra, &budgetstore__link__descriptor, &v);
		if (m == NULL || record_link_from(&l, m) == -1) {
			if (m != NULL)
				record_unpacked(&ra, m);
			t->err = STORE_CORRUPT;
			break;
		}
		record_unpacked(&ra, m);
		stop = cb(&l, arg);
	}
	store_cursor_close(&cur);
	return (t->err);
}

/* grants -------------------------------------------------------------- */

/* company(10) date(4) id(8) */
#define GRANT_KEY_LEN (RID_DIGITS + 4 + 8)

static void
record_grant_key(uint8_t *k, const char *company, int32_t date, uint64_t id)
{
	memcpy(k, company, RID_DIGITS);
	record_be32(k + RID_DIGITS, (uint32_t)date);
	record_be64(k + RID_DIGITS + 4, id);
}

static int
record_grant_from(struct grant *g, const Budgetstore__Grant *m)
{
	memset(g, 0, sizeof(*g));
	if (record_str(g->company, sizeof(g->company), m->company) == -1 ||
	    record_str(g->source, sizeof(g->source), m->source) == -1 ||
	    record_str(g->dossier, sizeof(g->dossier), m->dossier) == -1 ||
	    record_str(g->package, sizeof(g->package), m->package) == -1 ||
	    record_str(g->contract, sizeof(g->contract), m->contract) == -1 ||
	    m->kind > GRANT_DECLARED)
		return (-1);
	g->id = m->id;
	g->date = m->date;
	g->amount = m->amount;
	g->effective = m->effective;
	g->kind = (enum grant_kind)m->kind;
	return (0);
}

void
record_put_grant(struct store_txn *t, const struct grant *g)
{
	Budgetstore__Grant m = BUDGETSTORE__GRANT__INIT;
	uint8_t            k[GRANT_KEY_LEN];

	m.id = g->id;
	m.company = PB_STR(g->company);
	m.date = g->date;
	m.amount = g->amount;
	m.effective = g->effective;
	m.source = PB_STR(g->source);
	m.dossier = PB_STR(g->dossier);
	m.kind = g->kind;
	m.package = PB_STR(g->package);
	m.contract = PB_STR(g->contract);
	record_grant_key(k, g->company, g->date, g->id);
	record_put_msg(t, STORE_DB_GRANTS, k, sizeof(k), &m.base);
}

int
record_get_grant(struct store_txn *t, const char *company, int32_t date,
    uint64_t id, struct grant *g)
{
	struct record_arena ra;
	Budgetstore__Grant *m;
	uint8_t             k[GRANT_KEY_LEN];
	int                 rc;

	record_grant_key(k, company, date, id);
	m = (Budgetstore__Grant *)record_get_msg(t, STORE_DB_GRANTS, k,
	    sizeof(k), &budgetstore__grant__descriptor, &rc, &ra);
	if (m == NULL)
		return (rc);
	if (record_grant_from(g, m) == -1)
		t->err = rc = STORE_CORRUPT;
	record_unpacked(&ra, m);
	return (rc);
}

/* Every grant of a company, oldest first. */
int
record_each_grant(struct store_txn *t, const char *company,
    int (*cb)(const struct grant *, void *), void *arg)
{
	struct record_arena ra;
	struct store_cursor cur;
	struct store_val    k, v;
	Budgetstore__Grant *m;
	struct grant        g;
	int                 stop = 0;

	store_cursor_open(&cur, t, STORE_DB_GRANTS, company,
	    company != NULL ? RID_DIGITS : 0);
	while (!stop && store_cursor_next(&cur, &k, &v)) {
		m = (Budgetstore__Grant *)record_unpack(
		    &ra, &budgetstore__grant__descriptor, &v);
		if (m == NULL || record_grant_from(&g, m) == -1) {
			if (m != NULL)
				record_unpacked(&ra, m);
			t->err = STORE_CORRUPT;
			break;
		}
		record_unpacked(&ra, m);
		stop = cb(&g, arg);
	}
	store_cursor_close(&cur);
	return (t->err);
}

/*
 * verify: every grant in key order, with the company its key files it
 * under (*filed, the key's first digits) and whether the key is the one
 * record_put_grant gives it. Whose grant it is goes by the key, as every
 * walk of one company's grants does.
 */
int
record_each_grant_filed(struct store_txn *t,
    int (*cb)(const struct grant *, const char *, int, void *), void *arg)
{
	struct record_arena ra;
	struct store_cursor cur;
	struct store_val    k, v;
	Budgetstore__Grant *m;
	struct grant        g;
	uint8_t             want[GRANT_KEY_LEN];
	char                filed[RID_DIGITS + 1];
	int                 stop = 0, bad;

	store_cursor_open(&cur, t, STORE_DB_GRANTS, NULL, 0);
	while (!stop && store_cursor_next(&cur, &k, &v)) {
		m = (Budgetstore__Grant *)record_unpack(
		    &ra, &budgetstore__grant__descriptor, &v);
		bad = m == NULL || record_grant_from(&g, m) == -1;
		record_unpacked(&ra, m);
		if (bad || k.len < RID_DIGITS) {
			t->err = STORE_CORRUPT;
			break;
		}
		memcpy(filed, k.data, RID_DIGITS);
		filed[RID_DIGITS] = '\0';
		record_grant_key(want, g.company, g.date, g.id);
		stop = cb(&g, filed,
		    k.len == sizeof(want) &&
			memcmp(k.data, want, sizeof(want)) == 0,
		    arg);
	}
	store_cursor_close(&cur);
	return (t->err);
}

uint64_t
record_next_grant_id(struct store_txn *t)
{
	uint64_t id = store_get_u64(t, STORE_DB_META, "next_grant") + 1;

	store_put_u64(t, STORE_DB_META, "next_grant", id);
	return (id);
}

/* dossiers ------------------------------------------------------------ */

static int
record_dossier_from(struct dossier *d, const Budgetstore__Dossier *m)
{
	size_t i;

	memset(d, 0, sizeof(*d));
	if (record_str(d->id, sizeof(d->id), m->id) == -1 ||
	    record_str(d->company, sizeof(d->company), m->company) == -1 ||
	    record_str(d->contract, sizeof(d->contract), m->contract) == -1 ||
	    record_str(d->package, sizeof(d->package), m->package) == -1 ||
	    record_str(d->rule_set, sizeof(d->rule_set), m->rule_set) == -1 ||
	    record_str(d->pending_package, sizeof(d->pending_package),
		m->pending_package) == -1 ||
	    m->state > DS_WITHDRAWN || m->n_grants > LEDGER_GRANTS_MAX)
		return (-1);
	d->state = (enum dossier_state)m->state;
	d->cost = m->cost;
	d->extension_cost = m->extension_cost;
	d->subsidy = m->subsidy;
	d->granted = m->granted;
	d->paid = m->paid;
	d->pending = m->pending;
	d->expires_at = m->expires_at;
	d->released = m->released;
	d->rate_bp = m->rate_bp;
	d->reserved_on = m->reserved_on;
	d->first_decision = m->first_decision;
	for (i = 0; i < m->n_grants; i++)
		d->grants[i] = m->grants[i];
	d->ngrants = m->n_grants;
	d->pending_cost = m->pending_cost;
	d->pending_extension_cost = m->pending_extension_cost;
	d->pending_subsidy = m->pending_subsidy;
	return (0);
}

int
record_get_dossier(struct store_txn *t, const char *id, struct dossier *d)
{
	struct record_arena   ra;
	Budgetstore__Dossier *m;
	int                   rc;

	m = (Budgetstore__Dossier *)record_get_msg(t, STORE_DB_DOSSIERS, id,
	    strlen(id), &budgetstore__dossier__descriptor, &rc, &ra);
	if (m == NULL)
		return (rc);
	if (record_dossier_from(d, m) == -1)
		t->err = rc = STORE_CORRUPT;
	record_unpacked(&ra, m);
	return (rc);
}

/*
 * Write a dossier; when new, also index it under its company (for the
 * exclusion rule, pending reservations and company history).
 */
void
record_put_dossier(struct store_txn *t, const struct dossier *d, int isnew)
{
	Budgetstore__Dossier m = BUDGETSTORE__DOSSIER__INIT;
	uint64_t             grants[LEDGER_GRANTS_MAX];
	size_t               i, idlen = strlen(d->id);

	m.id = PB_STR(d->id);
	m.company = PB_STR(d->company);
	m.contract = PB_STR(d->contract);
	m.package = PB_STR(d->package);
	m.state = d->state;
	m.cost = d->cost;
	m.extension_cost = d->extension_cost;
	m.subsidy = d->subsidy;
	m.granted = d->granted;
	m.paid = d->paid;
	m.pending = d->pending;
	m.expires_at = d->expires_at;
	m.released = d->released;
	m.rule_set = PB_STR(d->rule_set);
	m.rate_bp = d->rate_bp;
	m.reserved_on = d->reserved_on;
	m.first_decision = d->first_decision;
	for (i = 0; i < d->ngrants; i++)
		grants[i] = d->grants[i];
	m.grants = grants;
	m.n_grants = d->ngrants;
	m.pending_package = PB_STR(d->pending_package);
	m.pending_cost = d->pending_cost;
	m.pending_extension_cost = d->pending_extension_cost;
	m.pending_subsidy = d->pending_subsidy;
	record_put_msg(t, STORE_DB_DOSSIERS, d->id, idlen, &m.base);
	(void)isnew;
	record_put_summary(t, d);
}

static void
record_put_summary(struct store_txn *t, const struct dossier *d)
{
	uint8_t k[RID_DIGITS + LEDGER_ID_MAX];
	uint8_t sum[RECORD_SUMMARY_LEN];

	record_summary_pack(d, sum);
	store_put(t, STORE_DB_COMPANY_DOSSIERS, k, record_summary_key(k, d),
	    sum, sizeof(sum));
}

/* d's key in the company index: company number, then dossier id. */
static size_t
record_summary_key(uint8_t *k, const struct dossier *d)
{
	size_t idlen = strlen(d->id);

	memcpy(k, d->company, RID_DIGITS);
	memcpy(k + RID_DIGITS, d->id, idlen);
	return (RID_DIGITS + idlen);
}

/*
 * The company index holds each dossier's summary: what the exclusion rule,
 * the pending-reservation sum and the report need, without unpacking the
 * dossier. state (1), first decision (4), pending (8), paid (8; since
 * schema 3), big-endian.
 */
static void
record_summary_pack(const struct dossier *d, uint8_t *p)
{
	p[0] = (uint8_t)d->state;
	record_be32(p + 1, (uint32_t)d->first_decision);
	record_be64(p + 5, (uint64_t)d->pending);
	record_be64(p + 13, (uint64_t)d->paid);
}

/*
 * One entry of the company index as a summary; -1 when it is not one.
 * s->company is the first RID_DIGITS bytes of the key.
 */
int
record_summary_decode(const struct store_val *k, const struct store_val *v,
    struct dossier_summary *s)
{
	const uint8_t *p = v->data;

	if (k->len <= RID_DIGITS || k->len > RID_DIGITS + LEDGER_ID_MAX ||
	    v->len != RECORD_SUMMARY_LEN || p[0] > DS_WITHDRAWN)
		return (-1);
	memcpy(
	    s->id, (const uint8_t *)k->data + RID_DIGITS, k->len - RID_DIGITS);
	s->id[k->len - RID_DIGITS] = '\0';
	memcpy(s->company, k->data, RID_DIGITS);
	s->company[RID_DIGITS] = '\0';
	s->state = (enum dossier_state)p[0];
	s->first_decision = (int32_t)record_get_be32(p + 1);
	s->pending = (int64_t)record_get_be64(p + 5);
	s->paid = (int64_t)record_get_be64(p + 13);
	return (0);
}

struct record_rebuild {
	struct store_txn *t;
	size_t            n;
};

static int
record_rebuild_cb(const struct dossier *d, void *arg)
{
	struct record_rebuild *rb = arg;

	record_put_summary(rb->t, d);
	rb->n++;
	return (rb->t->err != 0);
}

/*
 * upgrade.c, schema 2 to 3: write every dossier's summary again, now with
 * what was paid. Returns how many.
 */
size_t
record_rebuild_summaries(struct store_txn *t)
{
	struct record_rebuild rb = {t, 0};

	record_each_dossier(t, record_rebuild_cb, &rb);
	return (rb.n);
}

/*
 * Every dossier of one company as its summary, from the company index.
 * cb gets a summary valid during the call; return non-zero to stop.
 */
int
record_each_company_summary(struct store_txn *t, const char *company,
    int (*cb)(const struct dossier_summary *, void *), void *arg)
{
	struct store_cursor    cur;
	struct store_val       k, v;
	struct dossier_summary s;
	int                    stop = 0;

	store_cursor_open(
	    &cur, t, STORE_DB_COMPANY_DOSSIERS, company, RID_DIGITS);
	while (!stop && store_cursor_next(&cur, &k, &v)) {
		if (record_summary_decode(&k, &v, &s) == -1) {
			t->err = STORE_CORRUPT;
			break;
		}
		stop = cb(&s, arg);
	}
	store_cursor_close(&cur);
	return (t->err);
}

/* verify: whether the company index summarises dossier d correctly. */
int
record_summary_ok(struct store_txn *t, const struct dossier *d)
{
	struct store_val v;
	uint8_t k[RID_DIGITS + LEDGER_ID_MAX], want[RECORD_SUMMARY_LEN];
	int     ok;

	if (store_get(t, STORE_DB_COMPANY_DOSSIERS, k, record_summary_key(k, d),
		&v) != STORE_OK)
		return (0);
	record_summary_pack(d, want);
	ok = v.len == sizeof(want) && memcmp(v.data, want, sizeof(want)) == 0;
	free(v.data);
	return (ok);
}

/*
 * verify, the fast way: d's item in the company index, mixed under seed.
 * Summed over the dossiers and compared with index_sum of the company
 * index, it shows whether the index holds exactly their summaries, with
 * one sequential walk instead of a B-tree lookup per dossier.
 */
uint64_t
record_summary_mix(uint64_t seed, const struct dossier *d)
{
	uint8_t k[RID_DIGITS + LEDGER_ID_MAX], v[RECORD_SUMMARY_LEN];

	record_summary_pack(d, v);
	return (index_mix(seed, k, record_summary_key(k, d), v, sizeof(v)));
}

static int
record_each_dossier_cb(struct store_txn *t, const struct store_val *v,
    int (*cb)(const struct dossier *, void *), void                *arg)
{
	struct record_arena   ra;
	Budgetstore__Dossier *m;
	struct dossier        d;
	int                   bad;

	m = (Budgetstore__Dossier *)record_unpack(
	    &ra, &budgetstore__dossier__descriptor, v);
	bad = m == NULL || record_dossier_from(&d, m) == -1;
	if (m != NULL)
		record_unpacked(&ra, m);
	if (bad) {
		t->err = STORE_CORRUPT;
		return (1);
	}
	return (cb(&d, arg));
}

int
record_each_dossier(
    struct store_txn *t, int (*cb)(const struct dossier *, void *), void *arg)
{
	struct store_cursor cur;
	struct store_val    k, v;

	store_cursor_open(&cur, t, STORE_DB_DOSSIERS, NULL, 0);
	while (store_cursor_next(&cur, &k, &v)) {
		if (record_each_dossier_cb(t, &v, cb, arg))
			break;
	}
	store_cursor_close(&cur);
	return (t->err);
}

/* expiry -------------------------------------------------------------- */

static size_t
record_expiry_key(uint8_t *k, int64_t at, const char *dossier)
{
	size_t len = strlen(dossier);

	record_be64(k, (uint64_t)at);
	memcpy(k + 8, dossier, len);
	return (8 + len);
}

void
record_expiry_add(struct store_txn *t, int64_t at, const char *dossier)
{
	uint8_t k[8 + LEDGER_ID_MAX];

	store_put(
	    t, STORE_DB_EXPIRY, k, record_expiry_key(k, at, dossier), "", 0);
}

void
record_expiry_del(struct store_txn *t, int64_t at, const char *dossier)
{
	uint8_t k[8 + LEDGER_ID_MAX];

	store_del(t, STORE_DB_EXPIRY, k, record_expiry_key(k, at, dossier));
}

/* 1 when the expiry index holds dossier's item at at, else 0. */
int
record_expiry_has(struct store_txn *t, int64_t at, const char *dossier)
{
	struct store_val v;
	uint8_t          k[8 + LEDGER_ID_MAX];

	if (strlen(dossier) > LEDGER_ID_MAX)
		return (0);
	return (store_peek(t, STORE_DB_EXPIRY, k,
		    record_expiry_key(k, at, dossier), &v) == STORE_OK);
}

/*
 * The first reservation to expire: its time in *at and its dossier in id
 * (LEDGER_ID_MAX + 1 bytes). Returns STORE_OK or STORE_NOTFOUND.
 */
int
record_expiry_first(struct store_txn *t, int64_t *at, char *id)
{
	struct store_cursor cur;
	struct store_val    k, v;
	int                 rc = STORE_NOTFOUND;

	store_cursor_open(&cur, t, STORE_DB_EXPIRY, NULL, 0);
	if (store_cursor_next(&cur, &k, &v)) {
		if (k.len <= 8 || k.len > 8 + LEDGER_ID_MAX)
			t->err = STORE_CORRUPT;
		else {
			*at = (int64_t)record_get_be64(k.data);
			memcpy(id, (const uint8_t *)k.data + 8, k.len - 8);
			id[k.len - 8] = '\0';
			rc = STORE_OK;
		}
	}
	store_cursor_close(&cur);
	return (t->err != 0 ? t->err : rc);
}

/* rules --------------------------------------------------------------- */

static int
record_ruleset_from(struct ruleset *rs, const Budgetstore__RuleSet *m)
{
	size_t i;

	memset(rs, 0, sizeof(*rs));
	if (record_str(rs->name, sizeof(rs->name), m->name) == -1 ||
	    m->n_packages > LEDGER_RULES_PKGS)
		return (-1);
	rs->from = m->from;
	rs->rate_sme_bp = m->rate_sme_bp;
	rs->rate_maatwerk_bp = m->rate_maatwerk_bp;
	rs->rate_large_nis2_bp = m->rate_large_nis2_bp;
	rs->max_total_cost = m->max_total_cost;
	rs->max_subsidy = m->max_subsidy;
	rs->exclusion_years = m->exclusion_years;
	for (i = 0; i < m->n_packages; i++) {
		struct rule_package            *p = &rs->pkgs[i];
		const Budgetstore__RulePackage *q = m->packages[i];

		if (record_str(p->name, sizeof(p->name), q->name) == -1)
			return (-1);
		p->min_cost = q->min_cost;
		p->max_cost = q->max_cost;
		p->rank = q->rank;
		p->extensions = q->extensions;
	}
	rs->npkgs = m->n_packages;
	return (0);
}

void
record_put_ruleset(struct store_txn *t, const struct ruleset *rs)
{
	Budgetstore__RuleSet      m = BUDGETSTORE__RULE_SET__INIT;
	Budgetstore__RulePackage  pk[LEDGER_RULES_PKGS];
	Budgetstore__RulePackage *pp[LEDGER_RULES_PKGS];
	uint8_t                   k[1 + LEDGER_ID_MAX];
	size_t                    i, len = strlen(rs->name);

	m.name = PB_STR(rs->name);
	m.from = rs->from;
	m.rate_sme_bp = rs->rate_sme_bp;
	m.rate_maatwerk_bp = rs->rate_maatwerk_bp;
	m.rate_large_nis2_bp = rs->rate_large_nis2_bp;
	m.max_total_cost = rs->max_total_cost;
	m.max_subsidy = rs->max_subsidy;
	m.exclusion_years = rs->exclusion_years;
	for (i = 0; i < rs->npkgs; i++) {
		budgetstore__rule_package__init(&pk[i]);
		pk[i].name = PB_STR(rs->pkgs[i].name);
		pk[i].min_cost = rs->pkgs[i].min_cost;
		pk[i].max_cost = rs->pkgs[i].max_cost;
		pk[i].rank = rs->pkgs[i].rank;
		pk[i].extensions = rs->pkgs[i].extensions;
		pp[i] = &pk[i];
	}
	m.packages = pp;
	m.n_packages = rs->npkgs;
	k[0] = 'S';
	memcpy(k + 1, rs->name, len);
	record_put_msg(t, STORE_DB_RULES, k, 1 + len, &m.base);
}

int
record_get_ruleset(struct store_txn *t, const char *name, struct ruleset *rs)
{
	struct record_arena   ra;
	Budgetstore__RuleSet *m;
	uint8_t               k[1 + LEDGER_ID_MAX];
	size_t                len = strlen(name);
	int                   rc;

	if (len > LEDGER_ID_MAX)
		return (STORE_NOTFOUND);
	k[0] = 'S';
	memcpy(k + 1, name, len);
	m = (Budgetstore__RuleSet *)record_get_msg(t, STORE_DB_RULES, k,
	    1 + len, &budgetstore__rule_set__descriptor, &rc, &ra);
	if (m == NULL)
		return (rc);
	if (record_ruleset_from(rs, m) == -1)
		t->err = rc = STORE_CORRUPT;
	record_unpacked(&ra, m);
	return (rc);
}

static int
record_regime_from(struct dm_regime *r, const Budgetstore__DeminimisRegime *m)
{
	memset(r, 0, sizeof(*r));
	if (record_str(r->name, sizeof(r->name), m->name) == -1)
		return (-1);
	r->from = m->from;
	r->ceiling = m->ceiling;
	r->fiscal = m->fiscal != 0;
	r->years = m->years;
	r->loaded_seq = m->loaded_seq;
	return (0);
}

void
record_put_regime(struct store_txn *t, const struct dm_regime *r)
{
	Budgetstore__DeminimisRegime m = BUDGETSTORE__DEMINIMIS_REGIME__INIT;
	uint8_t                      k[1 + LEDGER_ID_MAX];
	size_t                       len = strlen(r->name);

	m.name = PB_STR(r->name);
	m.from = r->from;
	m.ceiling = r->ceiling;
	m.fiscal = (uint32_t)r->fiscal;
	m.years = r->years;
	m.loaded_seq = r->loaded_seq;
	k[0] = 'R';
	memcpy(k + 1, r->name, len);
	record_put_msg(t, STORE_DB_RULES, k, 1 + len, &m.base);
}

int
record_get_regime(struct store_txn *t, const char *name, struct dm_regime *r)
{
	struct record_arena           ra;
	Budgetstore__DeminimisRegime *m;
	uint8_t                       k[1 + LEDGER_ID_MAX];
	size_t                        len = strlen(name);
	int                           rc;

	if (len > LEDGER_ID_MAX)
		return (STORE_NOTFOUND);
	k[0] = 'R';
	memcpy(k + 1, name, len);
	m = (Budgetstore__DeminimisRegime *)record_get_msg(t, STORE_DB_RULES, k,
	    1 + len, &budgetstore__deminimis_regime__descriptor, &rc, &ra);
	if (m == NULL)
		return (rc);
	if (record_regime_from(r, m) == -1)
		t->err = rc = STORE_CORRUPT;
	record_unpacked(&ra, m);
	return (rc);
}

/*
 * Upgrade from schema 3: each stored regime learns the rules_load entry
 * that brought it (the first that named it: a loaded regime never
 * changes), from one walk of the journal. Returns the regimes updated.
 */
size_t
record_regimes_loaded(struct store_txn *t)
{
	struct record_arena        ra;
	struct store_cursor        cur;
	struct store_val           k, v;
	Budgetstore__JournalEntry *m;
	struct rulebook            rb;
	struct dm_regime           rg;
	char                      *cause;
	size_t                     i, n = 0;

	store_cursor_open(&cur, t, STORE_DB_JOURNAL, NULL, 0);
	while (t->err == 0 && store_cursor_next(&cur, &k, &v)) {
		m = (Budgetstore__JournalEntry *)record_unpack(
		    &ra, &budgetstore__journal_entry__descriptor, &v);
		if (m == NULL) {
			t->err = STORE_CORRUPT;
			break;
		}
		cause = NULL;
		if (strcmp(m->kind, "rules_load") == 0 &&
		    rules_parse(m->text, &rb, &cause) == 0) {
			for (i = 0; i < rb.nregimes; i++) {
				if (record_get_regime(t, rb.regimes[i].name,
					&rg) != STORE_OK ||
				    rg.loaded_seq != 0)
					continue;
				rg.loaded_seq = m->seq;
				record_put_regime(t, &rg);
				n++;
			}
			rules_free(&rb);
		}
		free(cause);
		record_unpacked(&ra, m);
	}
	store_cursor_close(&cur);
	return (n);
}

/*
 * Every rule set (kind 'S') or regime (kind 'R'), in name order; cb gets
 * a struct ruleset * or a struct dm_regime *.
 */
int
record_each_rule(
    struct store_txn *t, char kind, int (*cb)(const void *, void *), void *arg)
{
	struct record_arena           ra;
	struct store_cursor           cur;
	struct store_val              k, v;
	Budgetstore__RuleSet         *ms;
	Budgetstore__DeminimisRegime *mr;
	struct ruleset                rs;
	struct dm_regime              rg;
	int                           stop = 0, bad;

	store_cursor_open(&cur, t, STORE_DB_RULES, &kind, 1);
	while (!stop && store_cursor_next(&cur, &k, &v)) {
		if (kind == 'S') {
			ms = (Budgetstore__RuleSet *)record_unpack(
			    &ra, &budgetstore__rule_set__descriptor, &v);
			bad = ms == NULL || record_ruleset_from(&rs, ms) == -1;
			if (ms != NULL)
				record_unpacked(&ra, ms);
			if (!bad)
				stop = cb(&rs, arg);
		} else {
			mr = (Budgetstore__DeminimisRegime *)record_unpack(&ra,
			    &budgetstore__deminimis_regime__descriptor, &v);
			bad = mr == NULL || record_regime_from(&rg, mr) == -1;
			if (mr != NULL)
				record_unpacked(&ra, mr);
			if (!bad)
				stop = cb(&rg, arg);
		}
		if (bad) {
			t->err = STORE_CORRUPT;
			break;
		}
	}
	store_cursor_close(&cur);
	return (t->err);
}

struct record_latest {
	int32_t day;
	int     found;
	void   *out;
	char    kind;
};

static int
record_latest_cb(const void *p, void *arg)
{
	struct record_latest *l = arg;
	int32_t               from;

	from = l->kind == 'S' ? ((const struct ruleset *)p)->from
			      : ((const struct dm_regime *)p)->from;
	if (from > l->day)
		return (0);
	if (l->kind == 'S') {
		struct ruleset *best = l->out;

		if (!l->found || from > best->from)
			*best = *(const struct ruleset *)p;
	} else {
		struct dm_regime *best = l->out;

		if (!l->found || from > best->from)
			*best = *(const struct dm_regime *)p;
	}
	l->found = 1;
	return (0);
}

/*
 * Rule sets and regimes never change once loaded, and every reservation
 * asks for them (a regime once per day the de-minimis check looks at), so
 * the main thread keeps them in memory. rules load drops the cache when it
 * runs and again when its batch ends (record_rules_settle), so that a
 * batch that did not commit leaves nothing of its sets behind.
 */
struct rules_copy {
	struct ruleset   *sets;
	size_t            nsets;
	struct dm_regime *regimes;
	size_t            nregimes;
};

static struct {
	int               valid;
	int               touched; /* a rules load ran in this batch */
	int               owned;
	pthread_t         owner;
	struct rules_copy c;
} rules_cache;

/*
 * Other threads (the reader thread, verify's second one) read in
 * snapshots, which cannot change under them: each keeps a copy for the
 * snapshot it last read, so that verify's de-minimis check of a million
 * companies reads the rules once, not a million times.
 */
struct rules_snap {
	uint64_t          generation, snapshot; /* 0: none */
	struct rules_copy c;
};
static pthread_once_t                   rules_snap_once = PTHREAD_ONCE_INIT;
static pthread_key_t                    rules_snap_key;
static _Thread_local struct rules_snap *rules_snap;

void
record_rules_owner(void)
{
	rules_cache.owner = pthread_self();
	rules_cache.owned = 1;
}

void
record_rules_changed(void)
{
	rules_cache.valid = 0;
	rules_cache.touched = 1;
}

void
record_rules_settle(void)
{
	if (rules_cache.touched)
		rules_cache.valid = 0;
	rules_cache.touched = 0;
}

static int
record_cache_set_cb(const void *p, void *arg)
{
	struct rules_copy *c = arg;

	c->sets = xreallocarray(c->sets, c->nsets + 1, sizeof(*c->sets));
	c->sets[c->nsets++] = *(const struct ruleset *)p;
	return (0);
}

static int
record_cache_regime_cb(const void *p, void *arg)
{
	struct rules_copy *c = arg;

	c->regimes =
	    xreallocarray(c->regimes, c->nregimes + 1, sizeof(*c->regimes));
	c->regimes[c->nregimes++] = *(const struct dm_regime *)p;
	return (0);
}

static int
record_rules_fill(struct store_txn *t, struct rules_copy *c)
{
	c->nsets = c->nregimes = 0;
	if (record_each_rule(t, 'S', record_cache_set_cb, c) != 0 ||
	    record_each_rule(t, 'R', record_cache_regime_cb, c) != 0)
		return (-1);
	return (0);
}

/* A thread that exits gives its copy back. */
static void
rules_snap_free(void *p)
{
	struct rules_snap *rs = p;

	free(rs->c.sets);
	free(rs->c.regimes);
	free(rs);
}

static void
rules_snap_init(void)
{
	if (pthread_key_create(&rules_snap_key, rules_snap_free) != 0)
		fatalx("record: pthread_key_create");
}

/* The rules in memory, valid for t (filled if need be), or NULL. */
static const struct rules_copy *
record_rules_copy(struct store_txn *t)
{
	uint64_t gen, snap;

	if (rules_cache.owned &&
	    pthread_equal(pthread_self(), rules_cache.owner)) {
		if (!rules_cache.valid) {
			if (record_rules_fill(t, &rules_cache.c) == -1)
				return (NULL);
			rules_cache.valid = 1;
		}
		return (&rules_cache.c);
	}
	/* A write elsewhere may load rules: only a snapshot is fixed. */
	if (t->rw || (snap = store_snapshot(t)) == 0)
		return (NULL);
	gen = store_generation();
	pthread_once(&rules_snap_once, rules_snap_init);
	if (rules_snap == NULL) {
		rules_snap = xcalloc(1, sizeof(*rules_snap));
		if (pthread_setspecific(rules_snap_key, rules_snap) != 0)
			fatalx("record: pthread_setspecific");
	}
	if (rules_snap->generation != gen || rules_snap->snapshot != snap) {
		rules_snap->snapshot = 0;
		if (record_rules_fill(t, &rules_snap->c) == -1)
			return (NULL);
		rules_snap->generation = gen;
		rules_snap->snapshot = snap;
	}
	return (&rules_snap->c);
}

/*
 * The rule set (or regime) in force on day: the latest whose from date is
 * on or before it. STORE_OK, STORE_NOTFOUND or a store error.
 */
int
record_ruleset_on(struct store_txn *t, int32_t day, struct ruleset *rs)
{
	struct record_latest     l = {day, 0, rs, 'S'};
	const struct rules_copy *c;
	size_t                   i;

	if ((c = record_rules_copy(t)) != NULL) {
		for (i = 0; i < c->nsets; i++)
			record_latest_cb(&c->sets[i], &l);
	} else if (record_each_rule(t, 'S', record_latest_cb, &l) != 0)
		return (t->err);
	return (l.found ? STORE_OK : STORE_NOTFOUND);
}

int
record_regime_on(struct store_txn *t, int32_t day, struct dm_regime *r)
{
	struct record_latest     l = {day, 0, r, 'R'};
	const struct rules_copy *c;
	size_t                   i;

	if ((c = record_rules_copy(t)) != NULL) {
		for (i = 0; i < c->nregimes; i++)
			record_latest_cb(&c->regimes[i], &l);
	} else if (record_each_rule(t, 'R', record_latest_cb, &l) != 0)
		return (t->err);
	return (l.found ? STORE_OK : STORE_NOTFOUND);
}
