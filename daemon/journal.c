/*
 * journal.c: the append-only, hash-chained journal (I-4) and the history
 * index beside it. The canonical form an entry is hashed in is canon.c's
 * (proto/), shared with budgetctl, which renders exports from it.
 *
 * An entry is written in the same transaction as the change it records,
 * so the journal and the balances can never disagree about what happened.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budgetd.h"
#include "store.pb-c.h"

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
 * The journal's clock: the time of its last entry (it never runs
 * backwards), 0 when empty.
 */
int64_t
journal_time(struct store_txn *t)
{
	journal_load(t);
	return (t->jh.time);
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
 * len bytes at p into h, eight at a time: each word multiplied in, its
 * high half folded down, the last few bytes as one word with the length
 * (mod 256) on top, so that "ab" then "c" is not "a" then "bc". A byte at
 * a time, as FNV goes, was a chain of multiplies as long as the bytes:
 * verify mixes four items per journal entry and one per index item.
 */
static uint64_t
index_mix_bytes(uint64_t h, const uint8_t *p, size_t len)
{
	const uint64_t mul = UINT64_C(0x9e3779b97f4a7c15);
	uint64_t       w = (uint64_t)len << 56;
	size_t         i;

	for (; len >= 8; p += 8, len -= 8) {
		uint64_t x;

		memcpy(&x, p, 8);
		h = (h ^ x) * mul;
		h ^= h >> 32;
	}
	for (i = 0; i < len; i++)
		w |= (uint64_t)p[i] << (8 * i);
	h = (h ^ w) * mul;
	return (h ^ (h >> 32));
}

/*
 * One index item (key, value) as a 64-bit number that depends on seed:
 * the bytes mixed in (index_mix_bytes), then splitmix64's finaliser.
 * Summed over an index, it stands for the index as a whole (see
 * journal_index_sum). Nothing keeps these numbers: they may change.
 */
uint64_t
index_mix(
    uint64_t seed, const uint8_t *k, size_t klen, const uint8_t *v, size_t vlen)
{
	uint64_t h = seed ^ UINT64_C(14695981039346656037);

	h = index_mix_bytes(h, k, klen);
	h = index_mix_bytes(h, v, vlen);
	h ^= h >> 30;
	h *= UINT64_C(0xbf58476d1ce4e5b9);
	h ^= h >> 27;
	h *= UINT64_C(0x94d049bb133111eb);
	return (h ^ (h >> 31));
}

/*
 * verify, the fast way: the index items entry m calls for, added to *sum
 * (their number returned). Summed over the journal and compared with
 * index_sum of the history index, it shows whether the index holds exactly what the
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
		*sum += index_mix(seed, k,
		    journal_index_key(k, it[i].type, it[i].id), v, sizeof(v));
	return (n);
}

/*
 * The same sum over every item an index holds (the history index, the
 * company index); its size returned. An item of a shape no record calls
 * for (a history value that is no sequence number) is mixed like any
 * other: no item the journal or the dossiers call for mixes to it.
 */
size_t
index_sum(struct store_txn *t, enum store_db db, uint64_t seed, uint64_t *sum)
{
	struct store_cursor cur;
	struct store_val    k, v;
	size_t              n = 0;

	store_cursor_open(&cur, t, db, NULL, 0);
	while (store_cursor_next(&cur, &k, &v)) {
		*sum += index_mix(seed, k.data, k.len, v.data, v.len);
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
