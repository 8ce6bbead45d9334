/*
 * journal.c: the append-only, hash-chained journal (I-4) and the history
 * index beside it. Owns the canonical form an entry is hashed in, so that
 * anyone can re-verify an export without budgetd:
 *
 *   hash(n) = SHA-256(hash(n-1) || canonical(n)),  hash(0) = 32 zero bytes
 *
 *   canonical(n) = one line "name=value\n" per field of JournalEntry that is
 *   set, in field-number order, "hash" excluded. Integers in decimal;
 *   "time" and "expires_at" as YYYY-MM-DDTHH:MM:SS.uuuuuuZ; "date" and
 *   "until" as YYYY-MM-DD; repeated fields comma-separated; strings with
 *   every byte outside 0x21-0x7e, and '%', written %XX (upper-case hex).
 *
 * An entry is written in the same transaction as the change it records,
 * so the journal and the balances can never disagree about what happened.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "budget/date.h"
#include "budgetd.h"
#include "store.pb-c.h"

struct canon {
	char  *buf;
	size_t len, cap;
};

static void
canon_put(struct canon *c, const char *s, size_t n)
{
	if (c->len + n + 1 > c->cap) {
		while (c->len + n + 1 > c->cap)
			c->cap = c->cap ? c->cap * 2 : 512;
		c->buf = xreallocarray(c->buf, c->cap, 1);
	}
	memcpy(c->buf + c->len, s, n);
	c->len += n;
	c->buf[c->len] = '\0';
}

static void
canon_str(struct canon *c, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char              esc[3];

	const char *run;

	/* Plain bytes go in runs: most strings have nothing to escape. */
	for (run = s; *s != '\0'; s++) {
		unsigned char b = (unsigned char)*s;

		if (b >= 0x21 && b <= 0x7e && b != '%')
			continue;
		canon_put(c, run, (size_t)(s - run));
		esc[0] = '%';
		esc[1] = hex[b >> 4];
		esc[2] = hex[b & 0xf];
		canon_put(c, esc, 3);
		run = s + 1;
	}
	canon_put(c, run, (size_t)(s - run));
}

/* How a field is written; by name, since several share a C type. */
enum canon_kind {
	CANON_PLAIN,
	CANON_TIME,
	CANON_DATE,
};

static enum canon_kind
canon_kind_of(const char *name)
{
	/* Called for every number of every entry: most names fail here. */
	if (strchr("tedu", name[0]) == NULL)
		return (CANON_PLAIN);
	if (strcmp(name, "time") == 0 || strcmp(name, "expires_at") == 0)
		return (CANON_TIME);
	if (strcmp(name, "date") == 0 || strcmp(name, "until") == 0)
		return (CANON_DATE);
	return (CANON_PLAIN);
}

/* Decimal digits of v into buf (at least 21 bytes); snprintf is slow. */
static char *
canon_u64(uint64_t v, char *buf, size_t len)
{
	char   tmp[24];
	size_t n = 0, i;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	if (n + 1 > len)
		fatalx("journal: no room for a number");
	for (i = 0; i < n; i++)
		buf[i] = tmp[n - 1 - i];
	buf[n] = '\0';
	return (buf);
}

/*
 * One scalar as text into buf; *number says whether it is an integer (as
 * opposed to a string, a date or a time).
 */
static const char *
canon_scalar(const ProtobufCFieldDescriptor *f, const void *p, char *buf,
    size_t len, int *number)
{
	int64_t v;

	*number = 0;
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
		v = *(const int32_t *)p;
		break;
	case PROTOBUF_C_TYPE_UINT32:
		v = *(const uint32_t *)p;
		break;
	case PROTOBUF_C_TYPE_INT64:
		v = *(const int64_t *)p;
		break;
	case PROTOBUF_C_TYPE_UINT64:
		*number = 1;
		return (canon_u64(*(const uint64_t *)p, buf, len));
	case PROTOBUF_C_TYPE_STRING:
		return (*(char *const *)p);
	default:
		fatalx("journal: field %s has a type the canonical form does "
		       "not know",
		    f->name);
	}
	switch (canon_kind_of(f->name)) {
	case CANON_TIME:
		return (timestamp_format(v, buf, len));
	case CANON_DATE:
		return (date_format((int32_t)v, buf, len));
	default:
		*number = 1;
		if (v >= 0)
			return (canon_u64((uint64_t)v, buf, len));
		buf[0] = '-';
		canon_u64((uint64_t)0 - (uint64_t)v, buf + 1, len - 1);
		return (buf);
	}
}

/* 1 when a singular field holds its default (proto3: not written). */
static int
canon_is_default(const ProtobufCFieldDescriptor *f, const void *p)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
		return (*(const int32_t *)p == 0);
	case PROTOBUF_C_TYPE_UINT32:
		return (*(const uint32_t *)p == 0);
	case PROTOBUF_C_TYPE_INT64:
		return (*(const int64_t *)p == 0);
	case PROTOBUF_C_TYPE_UINT64:
		return (*(const uint64_t *)p == 0);
	case PROTOBUF_C_TYPE_STRING:
		return (
		    *(char *const *)p == NULL || **(char *const *)p == '\0');
	default:
		return (1);
	}
}

/*
 * Walk the fields of an entry that are set, in field-number order, "hash"
 * excluded, each as the text that is hashed: the one definition of what an
 * entry says, used for the hash chain and for every view of the journal.
 */
void
journal_fields(const Budgetstore__JournalEntry *m,
    void (*cb)(const char *, const char *, int, void *), void *arg)
{
	const ProtobufCMessageDescriptor *d = m->base.descriptor;
	struct canon                      list = {NULL, 0, 0};
	char                              buf[TIMESTAMP_BUFSZ + 8];
	const char                       *v;
	unsigned                          i;
	size_t                            j, n, sz;
	int                               number;

	for (i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const char                     *p = (const char *)m + f->offset;

		if (f->id == BUDGETSTORE_JOURNAL_HASH_FIELD)
			continue;
		if (f->label != PROTOBUF_C_LABEL_REPEATED) {
			if (canon_is_default(f, p))
				continue;
			v = canon_scalar(f, p, buf, sizeof(buf), &number);
			cb(f->name, v, number, arg);
			continue;
		}
		n = *(const size_t *)(const void *)((const char *)m +
		    f->quantifier_offset);
		if (n == 0)
			continue;
		sz = f->type == PROTOBUF_C_TYPE_UINT64 ||
			f->type == PROTOBUF_C_TYPE_INT64
		    ? 8
		    : 4;
		list.len = 0;
		canon_put(&list, "", 0);
		for (j = 0; j < n; j++) {
			const char *arr = *(char *const *)(const void *)p;

			if (j > 0)
				canon_put(&list, ",", 1);
			v = canon_scalar(
			    f, arr + j * sz, buf, sizeof(buf), &number);
			canon_put(&list, v, strlen(v));
		}
		cb(f->name, list.buf, 0, arg);
	}
	free(list.buf);
}

static void
canon_line_cb(const char *name, const char *value, int number, void *arg)
{
	struct canon *c = arg;

	(void)number;
	canon_put(c, name, strlen(name));
	canon_put(c, "=", 1);
	canon_str(c, value);
	canon_put(c, "\n", 1);
}

/*
 * The canonical form of an entry (see the top of this file), as a
 * NUL-terminated string the caller frees; its length in *lenp.
 */
char *
journal_canonical(const Budgetstore__JournalEntry *m, size_t *lenp)
{
	struct canon c = {NULL, 0, 0};

	canon_put(&c, "", 0);
	journal_fields(m, canon_line_cb, &c);
	*lenp = c.len;
	return (c.buf);
}

/*
 * SHA-256 of the concatenation of n parts. OpenSSL 3 looks the algorithm
 * up by name on every EVP_DigestInit_ex(EVP_sha256()) (a provider fetch);
 * fetch it once, and keep one context per thread.
 */
static pthread_once_t            sha256_once = PTHREAD_ONCE_INIT;
static EVP_MD                   *sha256_md;
static pthread_key_t             sha256_key;
static _Thread_local EVP_MD_CTX *sha256_ctx;

/* A thread that exits (the reader) gives its context back. */
static void
sha256_ctx_free(void *ctx)
{
	EVP_MD_CTX_free(ctx);
}

static void
sha256_init(void)
{
	if ((sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL)
		fatalx("journal: OpenSSL has no SHA-256");
	if (pthread_key_create(&sha256_key, sha256_ctx_free) != 0)
		fatalx("journal: pthread_key_create");
}

void
budget_sha256(
    const void *const *parts, const size_t *lens, size_t n, uint8_t out[32])
{
	unsigned int dlen = 32;
	size_t       i;

	pthread_once(&sha256_once, sha256_init);
	if (sha256_ctx == NULL) {
		if ((sha256_ctx = EVP_MD_CTX_new()) == NULL)
			fatalx("journal: EVP_MD_CTX_new");
		if (pthread_setspecific(sha256_key, sha256_ctx) != 0)
			fatalx("journal: pthread_setspecific");
	}
	if (EVP_DigestInit_ex(sha256_ctx, sha256_md, NULL) != 1)
		fatalx("journal: SHA-256 failed");
	for (i = 0; i < n; i++) {
		if (lens[i] > 0 &&
		    EVP_DigestUpdate(sha256_ctx, parts[i], lens[i]) != 1)
			fatalx("journal: SHA-256 failed");
	}
	if (EVP_DigestFinal_ex(sha256_ctx, out, &dlen) != 1)
		fatalx("journal: SHA-256 failed");
}

/* SHA-256(prev || data). */
void
journal_hash(
    const uint8_t prev[32], const void *data, size_t len, uint8_t out[32])
{
	const void *parts[2] = {prev, data};
	size_t      lens[2] = {32, len};

	budget_sha256(parts, lens, 2, out);
}

/* Read the head from the meta database into t's copy, once. */
static void
journal_load(struct store_txn *t)
{
	struct store_val v;

	if (t->jh.loaded)
		return;
	t->jh.seq = store_get_u64(t, STORE_DB_META, "journal_seq");
	t->jh.time = (int64_t)store_get_u64(t, STORE_DB_META, "journal_time");
	memset(t->jh.hash, 0, 32);
	if (store_get(t, STORE_DB_META, "head_hash", 9, &v) == STORE_OK) {
		if (v.len == 32)
			memcpy(t->jh.hash, v.data, 32);
		else
			t->err = STORE_CORRUPT;
		free(v.data);
	}
	if (t->err == 0)
		t->jh.loaded = 1;
}

/* The last sequence number and the head hash (zeros when empty). */
void
journal_head(struct store_txn *t, uint64_t *seq, uint8_t hash[32])
{
	journal_load(t);
	*seq = t->jh.seq;
	memcpy(hash, t->jh.hash, 32);
}

/*
 * Write the head into the meta database if entries were appended: once
 * per top-level transaction, just before it commits (store_commit refuses
 * to commit an unflushed head).
 */
void
journal_flush(struct store_txn *t)
{
	if (!t->jh.dirty)
		return;
	store_put_u64(t, STORE_DB_META, "journal_seq", t->jh.seq);
	store_put_u64(t, STORE_DB_META, "journal_time", (uint64_t)t->jh.time);
	store_put(t, STORE_DB_META, "head_hash", 9, t->jh.hash, 32);
	t->jh.dirty = 0;
}

/*
 * The history index: key type + id + NUL ('D' dossier, 'K' contract, 'C'
 * company), its entries' sequence numbers as big-endian duplicates in
 * order. One entity's history is one key's duplicates: reading it costs
 * in proportion to that entity's entries, not the journal's.
 */
static size_t
journal_index_key(uint8_t *k, char type, const char *id)
{
	size_t len = strlen(id);

	if (len > LEDGER_ID_MAX)
		fatalx("journal_index: id of %zu bytes", len);
	k[0] = (uint8_t)type;
	memcpy(k + 1, id, len);
	k[1 + len] = '\0';
	return (2 + len);
}

static void
journal_index(struct store_txn *t, char type, const char *id, uint64_t seq)
{
	uint8_t k[1 + LEDGER_ID_MAX + 1], v[8];

	if (id == NULL || *id == '\0')
		return;
	record_be64(v, seq);
	store_append_dup(t, STORE_DB_HISTORY, k, journal_index_key(k, type, id),
	    v, sizeof(v));
}

/* The index items entry m calls for: (type, id) pairs, NULL-terminated. */
struct journal_index_item {
	char        type;
	const char *id;
};

static size_t
journal_index_items(
    const struct Budgetstore__JournalEntry *m, struct journal_index_item *it)
{
	const struct journal_index_item all[] = {
	    {HIST_DOSSIER, m->dossier},
	    {HIST_CONTRACT, m->contract},
	    {HIST_COMPANY, m->company},
	    {HIST_COMPANY,
		strcmp(m->company2, m->company) != 0 ? m->company2 : ""},
	};
	size_t i, n = 0;

	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if (all[i].id == NULL || *all[i].id == '\0' ||
		    strlen(all[i].id) > LEDGER_ID_MAX)
			continue;
		it[n++] = all[i];
	}
	return (n);
}

/*
 * verify: how many history index entries entry m must have (returned) and
 * whether they are all there (*missing names the first absent one).
 */
size_t
journal_check_index(struct store_txn       *t,
    const struct Budgetstore__JournalEntry *m, const char **missing)
{
	struct journal_index_item it[4];
	uint8_t                   k[1 + LEDGER_ID_MAX + 1], v[8];
	size_t                    i, n = journal_index_items(m, it);

	*missing = NULL;
	record_be64(v, m->seq);
	for (i = 0; i < n; i++) {
		if (store_get_both(t, STORE_DB_HISTORY, k,
			journal_index_key(k, it[i].type, it[i].id), v,
			sizeof(v)) != STORE_OK &&
		    *missing == NULL)
			*missing = it[i].id;
	}
	return (n);
}

/*
 * One index item (key, seq) as a 64-bit number that depends on seed:
 * FNV-1a, then splitmix64's finaliser, since FNV's high bits mix poorly.
 */
static uint64_t
journal_index_mix(
    uint64_t seed, const uint8_t *k, size_t klen, const uint8_t v[8])
{
	uint64_t h = seed ^ UINT64_C(14695981039346656037);
	size_t   i;

	for (i = 0; i < klen; i++)
		h = (h ^ k[i]) * UINT64_C(1099511628211);
	for (i = 0; i < 8; i++)
		h = (h ^ v[i]) * UINT64_C(1099511628211);
	h ^= h >> 30;
	h *= UINT64_C(0xbf58476d1ce4e5b9);
	h ^= h >> 27;
	h *= UINT64_C(0x94d049bb133111eb);
	return (h ^ (h >> 31));
}

/*
 * verify, the fast way: the index items entry m calls for, added to *sum
 * (their number returned). Summed over the journal and compared with
 * history_index_sum, it shows whether the index holds exactly what the
 * journal calls for with one sequential walk of each, instead of a B-tree
 * lookup per item. Under a seed chosen at random, an index that differs
 * has the same sum with probability 2^-64; journal_check_index then names
 * what is missing.
 */
size_t
journal_index_sum(
    const struct Budgetstore__JournalEntry *m, uint64_t seed, uint64_t *sum)
{
	struct journal_index_item it[4];
	uint8_t                   k[1 + LEDGER_ID_MAX + 1], v[8];
	size_t                    i, n = journal_index_items(m, it);

	record_be64(v, m->seq);
	for (i = 0; i < n; i++)
		*sum += journal_index_mix(
		    seed, k, journal_index_key(k, it[i].type, it[i].id), v);
	return (n);
}

/* The same sum over what the history index holds; its size returned. */
size_t
history_index_sum(struct store_txn *t, uint64_t seed, uint64_t *sum)
{
	struct store_cursor cur;
	struct store_val    k, v;
	size_t              n = 0;

	store_cursor_open(&cur, t, STORE_DB_HISTORY, NULL, 0);
	while (store_cursor_next(&cur, &k, &v)) {
		if (v.len != 8) {
			*sum += 1; /* no item of the journal's looks like it */
			n++;
			continue;
		}
		*sum += journal_index_mix(seed, k.data, k.len, v.data);
		n++;
	}
	store_cursor_close(&cur);
	return (n);
}

/* Walk the entries of entity (type, id) with a sequence number > after. */
void
history_open(struct history_cursor *h, struct store_txn *t, char type,
    const char *id, uint64_t after)
{
	uint8_t k[1 + LEDGER_ID_MAX + 1], v[8];

	record_be64(v, after + 1);
	store_cursor_open_dup(&h->cur, t, STORE_DB_HISTORY, k,
	    journal_index_key(k, type, id), v, sizeof(v));
}

/* The next entry's sequence number, or 0 when there is none. */
uint64_t
history_next(struct history_cursor *h)
{
	struct store_val k, v;

	if (!store_cursor_next(&h->cur, &k, &v))
		return (0);
	if (v.len != 8) {
		h->cur.t->err = STORE_CORRUPT;
		return (0);
	}
	return (record_get_be64(v.data));
}

void
history_close(struct history_cursor *h)
{
	store_cursor_close(&h->cur);
}

static void
journal_to_msg(const struct jentry *e, Budgetstore__JournalEntry *m)
{
	budgetstore__journal_entry__init(m);
	m->seq = e->seq;
	m->time = e->time;
	m->kind = PB_STR(e->kind);
	m->request_id = PB_STR(e->request_id);
	m->uid = e->uid;
	m->role = PB_STR(e->role);
	m->error = PB_STR(e->error);
	m->contract = PB_STR(e->contract);
	m->company = PB_STR(e->company);
	m->company2 = PB_STR(e->company2);
	m->dossier = PB_STR(e->dossier);
	m->amount = e->amount;
	m->date = e->date;
	m->until = e->until;
	m->package = PB_STR(e->package);
	m->cost = e->cost;
	m->extension_cost = e->extension_cost;
	m->subsidy = e->subsidy;
	m->budget = e->budget;
	m->expires_at = e->expires_at;
	m->rule_set = PB_STR(e->rule_set);
	m->rate_bp = e->rate_bp;
	m->grant_id = e->grant_id;
	m->grant_ids = (uint64_t *)(uintptr_t)e->grant_ids;
	m->n_grant_ids = e->ngrant_changes;
	m->grant_amounts = (int64_t *)(uintptr_t)e->grant_amounts;
	m->n_grant_amounts = e->ngrant_changes;
	m->provider = PB_STR(e->provider);
	m->framework = PB_STR(e->framework);
	m->name = PB_STR(e->name);
	m->postcode = PB_STR(e->postcode);
	m->size = e->size;
	m->flags = e->flags;
	m->reason = PB_STR(e->reason);
	m->text = PB_STR(e->text);
	m->pending = e->pending;
	m->command = PB_STR(e->command);
}

/*
 * Append e: give it the next sequence number, chain its hash, write it
 * and its history index entries, and move the head. All in t; on a store
 * error t->err is set and nothing of it survives the transaction.
 */
void
journal_append(struct store_txn *t, struct jentry *e)
{
	Budgetstore__JournalEntry m;
	uint8_t                   prev[32], key[8], *buf;
	uint64_t                  seq;
	char                     *canon;
	size_t                    clen, len;

	journal_load(t);
	if (t->err != 0)
		return;
	seq = t->jh.seq;
	memcpy(prev, t->jh.hash, 32);
	/*
	 * The journal's clock never runs backwards, whatever the host's
	 * does: entries in sequence order are in time order, so a time range
	 * maps to a sequence range.
	 */
	if (e->time < t->jh.time)
		e->time = t->jh.time;
	e->seq = seq + 1;
	journal_to_msg(e, &m);
	canon = journal_canonical(&m, &clen);
	journal_hash(prev, canon, clen, e->hash);
	free(canon);
	m.hash.data = e->hash;
	m.hash.len = 32;

	len = budgetstore__journal_entry__get_packed_size(&m);
	buf = xmalloc(len);
	budgetstore__journal_entry__pack(&m, buf);
	record_be64(key, e->seq);
	store_append(t, STORE_DB_JOURNAL, key, sizeof(key), buf, len);
	free(buf);

	journal_index(t, HIST_DOSSIER, e->dossier, e->seq);
	journal_index(t, HIST_CONTRACT, e->contract, e->seq);
	journal_index(t, HIST_COMPANY, e->company, e->seq);
	if (e->company2 == NULL || e->company == NULL ||
	    strcmp(e->company2, e->company) != 0)
		journal_index(t, HIST_COMPANY, e->company2, e->seq);
	t->jh.seq = e->seq;
	t->jh.time = e->time;
	memcpy(t->jh.hash, e->hash, 32);
	t->jh.dirty = 1;
}
