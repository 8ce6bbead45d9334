/*
 * test_unpack.c: budget_unpack (daemon/unpack.c) decodes exactly as
 * protobuf_c_message_unpack does. verify trusts its decode of every
 * journal entry and stored record; a difference would make it pass a
 * ledger protobuf-c reads otherwise, or fail a sound one. So, for every
 * message of store.proto: random messages, packed by protobuf-c, and
 * random damage to those bytes (flipped bytes, cuts, fields said twice,
 * varints of every length, unknown fields), decoded by both: both refuse,
 * or both give a message that packs to the same bytes (and, for a
 * journal entry, has the same canonical form).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "budget/canon.h"
#include "budgetd.h"
#include "store.pb-c.h"

/* budgetd_core's other objects refer to these; the tests never call them. */
struct budgetd *bd;
void
budgetd_shutdown(void)
{
}
void
budgetd_maybe_exit(void)
{
}

/*
 * Linked with -Wl,--wrap=protobuf_c_message_unpack: every call goes
 * through here, so the test sees how often budget_unpack hands over.
 */
ProtobufCMessage *
__real_protobuf_c_message_unpack(const ProtobufCMessageDescriptor *,
    ProtobufCAllocator *, size_t, const uint8_t *);
ProtobufCMessage *
__wrap_protobuf_c_message_unpack(const ProtobufCMessageDescriptor *,
    ProtobufCAllocator *, size_t, const uint8_t *);

static int    in_budget_unpack; /* the call comes from budget_unpack */
static size_t handed_over;      /* ...and how often it did */

ProtobufCMessage *
__wrap_protobuf_c_message_unpack(const ProtobufCMessageDescriptor *d,
    ProtobufCAllocator *a, size_t len, const uint8_t *data)
{
	handed_over += in_budget_unpack;
	return (__real_protobuf_c_message_unpack(d, a, len, data));
}

/* splitmix64: the same sequence on every run. */
static uint64_t rng_state = 0x243f6a8885a308d3;

static uint64_t
rng(void)
{
	uint64_t z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return (z ^ (z >> 31));
}

/*
 * A number of every size: small, large, now and then negative or at the
 * limits. Those take ten bytes on the wire, which budget_unpack leaves to
 * protobuf-c: rare, so that most messages take its own path.
 */
static uint64_t
rng_number(void)
{
	switch (rng() % 200) {
	case 0:
		return ((uint64_t) - (int64_t)(rng() % 1000)); /* negative */
	case 1:
		return (rng() % 2 ? UINT64_MAX : (uint64_t)INT64_MIN);
	default:
		break;
	}
	switch (rng() % 4) {
	case 0:
		return (0);
	case 1:
		return (rng() % 128);
	case 2:
		return (rng() % 100000);
	default:
		return (rng() >> (1 + rng() % 63));
	}
}

/* Memory the test frees at the end of a case. */
static void  *owned[1024];
static size_t nowned;

static void *
own(size_t n)
{
	void *p = calloc(1, n > 0 ? n : 1);

	assert_non_null(p);
	assert_true(nowned < sizeof(owned) / sizeof(owned[0]));
	owned[nowned++] = p;
	return (p);
}

static void
own_free(void)
{
	while (nowned > 0)
		free(owned[--nowned]);
}

/* Every field of m, set or not at random, to random values. */
static void
fill(ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	unsigned                          i;
	size_t                            j, n, len;

	for (i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		char                           *p = (char *)m + f->offset;

		if (rng() % 3 == 0)
			continue;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			if (f->type == PROTOBUF_C_TYPE_MESSAGE)
				continue; /* not flat: protobuf-c decodes */
			n = rng() % 4;
			*(size_t *)(void *)((char *)m + f->quantifier_offset) =
			    n;
			*(uint64_t **)(void *)p = own(n * 8);
			for (j = 0; j < n; j++)
				(*(uint64_t **)(void *)p)[j] = rng_number();
			continue;
		}
		switch (f->type) {
		case PROTOBUF_C_TYPE_INT32:
		case PROTOBUF_C_TYPE_UINT32:
			*(uint32_t *)(void *)p = (uint32_t)rng_number();
			break;
		case PROTOBUF_C_TYPE_INT64:
		case PROTOBUF_C_TYPE_UINT64:
			*(uint64_t *)(void *)p = rng_number();
			break;
		case PROTOBUF_C_TYPE_BOOL:
			*(protobuf_c_boolean *)(void *)p = (int)(rng() % 2);
			break;
		case PROTOBUF_C_TYPE_STRING: {
			char *s;

			len = rng() % 24;
			s = own(len + 1);
			for (j = 0; j < len; j++)
				s[j] = (char)(1 + rng() % 255); /* no NUL */
			*(char **)(void *)p = s;
			break;
		}
		case PROTOBUF_C_TYPE_BYTES: {
			ProtobufCBinaryData *b =
			    (ProtobufCBinaryData *)(void *)p;

			b->len = rng() % 40;
			b->data = own(b->len);
			for (j = 0; j < b->len; j++)
				b->data[j] = (uint8_t)rng();
			break;
		}
		default:
			break;
		}
	}
}

/* m packed by protobuf-c into a buffer of the test's. */
static uint8_t *
pack(const ProtobufCMessage *m, size_t *len)
{
	uint8_t *buf;

	*len = protobuf_c_message_get_packed_size(m);
	buf = own(*len);
	protobuf_c_message_pack(m, buf);
	return (buf);
}

/* A varint of v in exactly n bytes (n >= the bytes v needs). */
static size_t
put_varint(uint8_t *p, uint64_t v, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i++, v >>= 7)
		p[i] = (uint8_t)(0x80 | (v & 0x7f));
	p[i] = (uint8_t)(v & 0x7f);
	return (n);
}

/*
 * buf damaged at random into out (room for len + 64): a byte flipped, a
 * cut, a field said again, a field in a longer varint than it needs, an
 * unknown or impossible field; or left whole.
 */
static size_t
damage(const ProtobufCMessageDescriptor *d, const uint8_t *buf, size_t len,
    uint8_t *out)
{
	size_t   n = len, k;
	uint64_t id;

	memcpy(out, buf, len);
	switch (rng() % 7) {
	case 0:
		return (n);
	case 1:
		if (n > 0)
			out[rng() % n] ^= (uint8_t)(1 + rng() % 255);
		return (n);
	case 2:
		return (n > 0 ? rng() % n : 0);
	case 3: /* the whole message twice: every field said twice */
		memcpy(out + n, buf, len < 32 ? len : 32);
		return (n + (len < 32 ? len : 32));
	case 4: /* a varint field, its value in 1 to 10 bytes */
		id = d->fields[rng() % d->n_fields].id;
		k = put_varint(out + n, id << 3, 1 + (id >= 16));
		k += put_varint(out + n + k, rng() % 200, 1 + rng() % 10);
		return (n + k);
	case 5: /* a length-delimited field, its tag or length too long */
		id = d->fields[rng() % d->n_fields].id;
		n += put_varint(out + n, id << 3 | 2, 2 + rng() % 5);
		n += put_varint(out + n, 3, 1 + rng() % 6);
		memcpy(out + n, "abc", 3);
		return (n + 3);
	default: /* a field no descriptor has, or wire type 3 to 7 */
		k = put_varint(out + n,
		    rng() % 2 ? (uint64_t)(d->n_fields + 50) << 3
			      : (uint64_t)(1 << 3 | (3 + rng() % 5)),
		    1);
		out[n + k] = 0;
		return (n + k + 1);
	}
}

/* Both decoders on bytes: both refuse, or agree to the byte. */
static void
agree(const ProtobufCMessageDescriptor *d, const uint8_t *buf, size_t len,
    size_t *decoded)
{
	ProtobufCMessage *a = protobuf_c_message_unpack(d, NULL, len, buf);
	ProtobufCMessage *b;
	uint8_t          *pa, *pb;
	size_t            la, lb;

	in_budget_unpack = 1;
	b = budget_unpack(d, NULL, len, buf);
	in_budget_unpack = 0;

	if (a == NULL || b == NULL) {
		if (a != b)
			fail_msg("%s: protobuf-c %s, budget_unpack %s", d->name,
			    a != NULL ? "decodes" : "refuses",
			    b != NULL ? "decodes" : "refuses");
		protobuf_c_message_free_unpacked(a, NULL);
		protobuf_c_message_free_unpacked(b, NULL);
		return;
	}
	(*decoded)++;
	pa = pack(a, &la);
	pb = pack(b, &lb);
	if (la != lb || memcmp(pa, pb, la) != 0)
		fail_msg("%s: the two decodes pack differently", d->name);
	if (d == &budgetstore__journal_entry__descriptor) {
		size_t ca, cb;
		char  *sa = journal_canonical((void *)a, &ca);
		char  *sb = journal_canonical((void *)b, &cb);

		assert_int_equal(ca, cb);
		assert_memory_equal(sa, sb, ca);
		free(sa);
		free(sb);
	}
	protobuf_c_message_free_unpacked(a, NULL);
	protobuf_c_message_free_unpacked(b, NULL);
}

static const ProtobufCMessageDescriptor *const kinds[] = {
    &budgetstore__request_record__descriptor,
    &budgetstore__contract__descriptor,
    &budgetstore__company__descriptor,
    &budgetstore__link__descriptor,
    &budgetstore__grant__descriptor,
    &budgetstore__dossier__descriptor,
    &budgetstore__rule_set__descriptor,
    &budgetstore__deminimis_regime__descriptor,
    &budgetstore__journal_entry__descriptor,
};

/* Whether messages of kind d can be flat: no field holds a message. */
static int
flat_kind(const ProtobufCMessageDescriptor *d)
{
	unsigned i;

	for (i = 0; i < d->n_fields; i++)
		if (d->fields[i].type == PROTOBUF_C_TYPE_MESSAGE)
			return (0);
	return (1);
}

static void
test_agrees_with_protobuf_c(void **state)
{
	size_t   i, k, len, n, decoded = 0, damaged = 0, before;
	uint8_t *buf, out[4096];

	(void)state;
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		before = handed_over;
		for (k = 0; k < 3000; k++) {
			ProtobufCMessage *m = own(kinds[i]->sizeof_message);

			kinds[i]->message_init(m);
			fill(m);
			buf = pack(m, &len);
			assert_true(len + 64 <= sizeof(out));
			agree(kinds[i], buf, len, &decoded);
			own_free();
		}
		/* Whole messages: most on budget_unpack's own path. */
		if (flat_kind(kinds[i]) && handed_over - before > 3000 / 4)
			fail_msg("%s: %zu of 3000 handed to protobuf-c",
			    kinds[i]->name, handed_over - before);
		for (k = 0; k < 3000; k++) {
			ProtobufCMessage *m = own(kinds[i]->sizeof_message);

			kinds[i]->message_init(m);
			fill(m);
			buf = pack(m, &len);
			n = damage(kinds[i], buf, len, out);
			damaged += n != len || memcmp(out, buf, n) != 0;
			agree(kinds[i], out, n, &decoded);
			own_free();
		}
	}
	/* Both paths taken, often: not a test of refusals alone. */
	assert_true(decoded > 30000);
	assert_true(damaged > 10000);
	assert_true(handed_over > 1000);
}

/* Through an allocator of the caller's, as verify and record.c use it. */
static size_t allocs, frees;

static void *
count_alloc(void *arg, size_t n)
{
	(void)arg;
	allocs++;
	return (malloc(n));
}

static void
count_free(void *arg, void *p)
{
	(void)arg;
	frees++;
	free(p);
}

static void
test_uses_the_allocator(void **state)
{
	ProtobufCAllocator        pa = {count_alloc, count_free, NULL};
	Budgetstore__JournalEntry e = BUDGETSTORE__JOURNAL_ENTRY__INIT, *m;
	uint64_t                  ids[2] = {3, 4};
	uint8_t                   buf[256], h[32] = {1};
	size_t                    len;

	(void)state;
	e.seq = 9;
	e.kind = PB_STR("dossier_pay");
	e.dossier = PB_STR("D1");
	e.amount = 500;
	e.grant_ids = ids;
	e.n_grant_ids = 2;
	e.hash.data = h;
	e.hash.len = sizeof(h);
	len = budgetstore__journal_entry__pack(&e, buf);
	m = (Budgetstore__JournalEntry *)budget_unpack(
	    &budgetstore__journal_entry__descriptor, &pa, len, buf);
	assert_non_null(m);
	assert_string_equal(m->kind, "dossier_pay");
	assert_string_equal(m->dossier, "D1");
	assert_int_equal(m->n_grant_ids, 2);
	assert_int_equal(m->grant_ids[1], 4);
	assert_int_equal(m->hash.len, 32);
	assert_int_equal(m->hash.data[0], 1);
	/* The message, two strings, the array, the bytes. */
	assert_int_equal(allocs, 5);
	budgetstore__journal_entry__free_unpacked(m, &pa);
	assert_int_equal(frees, allocs);
}

/* A dossier_close entry cutting grants ids[0..n), packed into buf. */
static size_t
pack_close(uint8_t *buf, uint64_t *ids, size_t n)
{
	Budgetstore__JournalEntry e = BUDGETSTORE__JOURNAL_ENTRY__INIT;

	e.seq = 9;
	e.kind = PB_STR("dossier_close");
	e.dossier = PB_STR("D1");
	e.grant_ids = ids;
	e.n_grant_ids = n;
	return (budgetstore__journal_entry__pack(&e, buf));
}

/*
 * Field 2047, a varint, known to no descriptor of store.proto, after the
 * len bytes of buf: budget_unpack hands such a message to protobuf-c once
 * it reaches it. The new length.
 */
static size_t
add_unknown_field(uint8_t *buf, size_t len)
{
	buf[len++] = 0xf8;
	buf[len++] = 0x7f;
	buf[len++] = 1;
	return (len);
}

/*
 * A message that budget_unpack gives up on half way (a field no
 * descriptor has, after the rest): what it made so far is freed through
 * the caller's allocator before protobuf-c decodes the whole.
 */
static void
test_gives_back_what_it_made(void **state)
{
	ProtobufCAllocator         pa = {count_alloc, count_free, NULL};
	Budgetstore__JournalEntry *m;
	uint64_t                   ids[2] = {3, 4};
	uint8_t                    buf[256];
	size_t                     len;

	(void)state;
	allocs = frees = 0;
	len = pack_close(buf, ids, 2);
	len = add_unknown_field(buf, len);
	m = (Budgetstore__JournalEntry *)budget_unpack(
	    &budgetstore__journal_entry__descriptor, &pa, len, buf);
	assert_non_null(m);
	assert_string_equal(m->kind, "dossier_close");
	assert_int_equal(m->n_grant_ids, 2);
	assert_int_equal(m->grant_ids[0], 3);
	/* Its own message, strings and array, then protobuf-c's. */
	assert_true(allocs > 4);
	assert_int_equal(frees, 4);
	budgetstore__journal_entry__free_unpacked(m, &pa);
	assert_int_equal(frees, allocs);
}

/* An allocator that refuses its fail_at-th request (from 1; 0: none). */
static size_t fail_at, live;

static void *
failing_alloc(void *arg, size_t n)
{
	void *p;

	(void)arg;
	if (++allocs == fail_at)
		return (NULL);
	if ((p = malloc(n)) != NULL)
		live++;
	return (p);
}

static void
failing_free(void *arg, void *p)
{
	(void)arg;
	if (p != NULL)
		live--;
	free(p);
}

/*
 * Out of memory at every allocation in turn, on budget_unpack's own path
 * and on its way to protobuf-c (a field no descriptor has, after a
 * repeated one): NULL, and nothing left allocated; or, when protobuf-c's
 * own decode is what failed to allocate, the same.
 */
static void
test_out_of_memory_leaves_nothing(void **state)
{
	ProtobufCAllocator         pa = {failing_alloc, failing_free, NULL};
	Budgetstore__JournalEntry *m;
	uint64_t                   ids[3] = {3, 4, 300};
	uint8_t                    buf[256];
	size_t                     len, k, tail;

	(void)state;
	len = pack_close(buf, ids, 3);
	for (tail = 0; tail < 2; tail++) {
		if (tail)
			len = add_unknown_field(buf, len);
		for (k = 1;; k++) {
			allocs = live = 0;
			fail_at = k;
			m = (Budgetstore__JournalEntry *)budget_unpack(
			    &budgetstore__journal_entry__descriptor, &pa, len,
			    buf);
			if (m == NULL) {
				assert_int_equal(live, 0);
				continue;
			}
			/* No allocation failed: the whole decode came out. */
			assert_true(allocs < k);
			assert_int_equal(m->n_grant_ids, 3);
			assert_int_equal(m->grant_ids[2], 300);
			budgetstore__journal_entry__free_unpacked(m, &pa);
			assert_int_equal(live, 0);
			break;
		}
		assert_true(k > 4);
	}
	fail_at = 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_agrees_with_protobuf_c),
	    cmocka_unit_test(test_uses_the_allocator),
	    cmocka_unit_test(test_gives_back_what_it_made),
	    cmocka_unit_test(test_out_of_memory_leaves_nothing),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
