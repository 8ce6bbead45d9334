/*
 * canon.c: the canonical form a journal entry is hashed in, and the hash
 * chain over it (SPEC I-4). One definition, shared by budgetd, which
 * writes and verifies the chain, and budgetctl, which renders exports from
 * the stored entries, so that what an auditor re-hashes outside budgetd
 * is exactly what budgetd hashed:
 *
 *   hash(n) = SHA-256(hash(n-1) || canonical(n)),  hash(0) = 32 zero bytes
 *
 *   canonical(n) = one line "name=value\n" per field of JournalEntry that is
 *   set, in field-number order, "hash" excluded. Integers in decimal;
 *   "time" and "expires_at" as YYYY-MM-DDTHH:MM:SS.uuuuuuZ; "date" and
 *   "until" as YYYY-MM-DD; repeated fields comma-separated; strings with
 *   every byte outside 0x21-0x7e, and '%', written %XX (upper-case hex).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "budget/canon.h"
#include "budget/date.h"
#include "store.pb-c.h"

/*
 * What cannot happen unless memory or OpenSSL is gone: neither budgetd
 * nor budgetctl can go on without the canonical form, so stop at once.
 */
static void __attribute__((noreturn)) canon_fatal(const char *what)
{
	fprintf(stderr, "canon: %s\n", what);
	abort();
}

struct canon {
	char  *buf;
	size_t len, cap;
};

/* Room for n more bytes and a NUL. */
static void
canon_reserve(struct canon *c, size_t n)
{
	if (c->len + n + 1 > c->cap) {
		while (c->len + n + 1 > c->cap)
			c->cap = c->cap ? c->cap * 2 : 512;
		if ((c->buf = realloc(c->buf, c->cap)) == NULL)
			canon_fatal("out of memory");
	}
}

/* Bytes a string's value holds as they are; the rest are written %XX. */
static int
canon_plain_byte(unsigned char b)
{
	return (b >= 0x21 && b <= 0x7e && b != '%');
}

/* b at o as the canonical form writes it; the end. */
static char *
canon_esc_byte(char *o, unsigned char b)
{
	static const char hex[] = "0123456789ABCDEF";

	if (canon_plain_byte(b)) {
		*o++ = (char)b;
		return (o);
	}
	*o++ = '%';
	*o++ = hex[b >> 4];
	*o++ = hex[b & 0xf];
	return (o);
}

/*
 * Whether the eight bytes of w are all plain (canon_plain_byte), tested
 * at once: none below 0x21, none above 0x7e, none '%'. Each test may flag
 * a plain byte after one that is not (a borrow or a carry), never miss
 * one that is not: a word it flags is written a byte at a time.
 */
static int
canon_plain_word(uint64_t w)
{
	const uint64_t ones = UINT64_C(0x0101010101010101);
	const uint64_t highs = ones * 0x80;
	uint64_t       pct = w ^ (ones * '%');

	return ((((w - ones * 0x21) & ~w) | ((w + ones) | w) |
		    ((pct - ones) & ~pct)) &
		   highs) == 0;
}

/*
 * The len bytes of s at o, every byte outside 0x21-0x7e, and '%',
 * written %XX; o must have room for three times len. Eight bytes a step
 * while they need nothing: ids, kinds and most names. The end of what was
 * written.
 */
static char *
canon_esc(char *o, const char *s, size_t len)
{
	uint64_t w;
	size_t   i = 0, j;

	for (; len - i >= 8; i += 8) {
		memcpy(&w, s + i, 8);
		if (canon_plain_word(w)) {
			memcpy(o, &w, 8);
			o += 8;
			continue;
		}
		for (j = 0; j < 8; j++)
			o = canon_esc_byte(o, (unsigned char)s[i + j]);
	}
	for (; i < len; i++)
		o = canon_esc_byte(o, (unsigned char)s[i]);
	return (o);
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
	if (strcmp(name, "time") == 0 || strcmp(name, "expires_at") == 0)
		return (CANON_TIME);
	if (strcmp(name, "date") == 0 || strcmp(name, "until") == 0)
		return (CANON_DATE);
	return (CANON_PLAIN);
}

/* How canon_set tells whether a field is set: what it holds. */
enum canon_test {
	CANON_REPEATED,
	CANON_INT4, /* a 32-bit integer */
	CANON_INT8, /* a 64-bit one */
	CANON_STRING,
};

/*
 * What the canonical form needs of each field of JournalEntry, in field
 * number order, worked out once: every entry asks for every field's, and
 * verify asks for millions of entries'.
 */
struct canon_field {
	const ProtobufCFieldDescriptor *f;
	enum canon_kind                 kind;
	enum canon_test                 test;
	size_t                          offset; /* of the value, in the entry */
	size_t                          namelen;
	int                             number; /* written as a plain integer */
	size_t                          size;   /* of one repeated element */
};

#define CANON_MAX_FIELDS 64
static pthread_once_t     canon_fields_once = PTHREAD_ONCE_INIT;
static struct canon_field canon_fields[CANON_MAX_FIELDS];
static size_t             canon_nfields;

static void
canon_fields_init(void)
{
	const ProtobufCMessageDescriptor *d =
	    &budgetstore__journal_entry__descriptor;
	unsigned i;

	if (d->n_fields > CANON_MAX_FIELDS)
		canon_fatal("JournalEntry has more fields than the canonical "
			    "form expects");
	for (i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		struct canon_field             *cf;

		if (f->id == BUDGETSTORE_JOURNAL_HASH_FIELD)
			continue;
		switch (f->type) {
		case PROTOBUF_C_TYPE_INT32:
		case PROTOBUF_C_TYPE_UINT32:
		case PROTOBUF_C_TYPE_INT64:
		case PROTOBUF_C_TYPE_UINT64:
		case PROTOBUF_C_TYPE_STRING:
			break;
		default:
			canon_fatal("a field has a type the canonical form "
				    "does not know");
		}
		/* Lists are of numbers: a comma in a string would be ambiguous. */
		if (f->label == PROTOBUF_C_LABEL_REPEATED &&
		    f->type == PROTOBUF_C_TYPE_STRING)
			canon_fatal("a repeated string field: the canonical "
				    "form has no way to write it");
		cf = &canon_fields[canon_nfields++];
		cf->f = f;
		cf->kind = canon_kind_of(f->name);
		cf->namelen = strlen(f->name);
		cf->number = f->type != PROTOBUF_C_TYPE_STRING &&
		    (cf->kind == CANON_PLAIN ||
			f->type == PROTOBUF_C_TYPE_UINT64);
		cf->size = f->type == PROTOBUF_C_TYPE_UINT64 ||
			f->type == PROTOBUF_C_TYPE_INT64
		    ? 8
		    : 4;
		cf->offset = f->offset;
		cf->test = f->label == PROTOBUF_C_LABEL_REPEATED
		    ? CANON_REPEATED
		    : f->type == PROTOBUF_C_TYPE_STRING ? CANON_STRING
		    : cf->size == 8                     ? CANON_INT8
							: CANON_INT4;
	}
}

/* The longest text canon_value writes for a number, a date or a time. */
#define CANON_VALUE_MAX (TIMESTAMP_BUFSZ + 8)

/* v in decimal at o; the end. snprintf is slow. */
static char *
canon_u64(char *o, uint64_t v)
{
	char   tmp[20], *t = tmp + sizeof(tmp);
	size_t n;

	do {
		*--t = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	n = (size_t)(tmp + sizeof(tmp) - t);
	memcpy(o, t, n);
	return (o + n);
}

/*
 * One integer of field cf, at p, as text at o (room for CANON_VALUE_MAX):
 * a time, a date or a number. The end of what was written, unterminated.
 */
static char *
canon_value(const struct canon_field *cf, const void *p, char *o)
{
	int64_t v;

	switch (cf->f->type) {
	case PROTOBUF_C_TYPE_INT32:
		v = *(const int32_t *)p;
		break;
	case PROTOBUF_C_TYPE_UINT32:
		v = *(const uint32_t *)p;
		break;
	case PROTOBUF_C_TYPE_INT64:
		v = *(const int64_t *)p;
		break;
	default: /* UINT64; strings are no integer */
		return (canon_u64(o, *(const uint64_t *)p));
	}
	switch (cf->kind) {
	case CANON_TIME:
		timestamp_format(v, o, CANON_VALUE_MAX);
		return (o + strlen(o));
	case CANON_DATE:
		date_format((int32_t)v, o, CANON_VALUE_MAX);
		return (o + strlen(o));
	default:
		if (v >= 0)
			return (canon_u64(o, (uint64_t)v));
		*o++ = '-';
		return (canon_u64(o, (uint64_t)0 - (uint64_t)v));
	}
}

/*
 * The n integers of field cf at p, comma-separated, at o (room for n
 * times CANON_VALUE_MAX + 1); a singular field is a list of one. The end
 * of what was written, unterminated.
 */
static char *
canon_values(const struct canon_field *cf, const void *p, size_t n, char *o)
{
	size_t j;

	for (j = 0; j < n; j++) {
		if (j > 0)
			*o++ = ',';
		o = canon_value(cf, (const char *)p + j * cf->size, o);
	}
	return (o);
}

/*
 * Whether field cf of m is set, and so in the canonical form: a repeated
 * field's count, 1 for a singular one that does not hold its default
 * (proto3: not written), else 0. *pp: where its value is.
 */
static inline size_t
canon_set(const struct canon_field *cf, const Budgetstore__JournalEntry *m,
    const void **pp)
{
	const char *p = (const char *)m + cf->offset;

	switch (cf->test) {
	case CANON_REPEATED:
		*pp = *(const void *const *)(const void *)p;
		return (*(const size_t *)(const void *)((const char *)m +
		    cf->f->quantifier_offset));
	case CANON_INT4:
		*pp = p;
		return (*(const uint32_t *)(const void *)p != 0);
	case CANON_INT8:
		*pp = p;
		return (*(const uint64_t *)(const void *)p != 0);
	default: /* CANON_STRING */
		*pp = *(char *const *)(const void *)p;
		return (
		    *pp != NULL && **(char *const *)(const void *)p != '\0');
	}
}

/* The fields of JournalEntry as canon_fields_init laid them out. */
static const struct canon_field *
canon_fields_of(const Budgetstore__JournalEntry *m, size_t *n)
{
	pthread_once(&canon_fields_once, canon_fields_init);
	if (m->base.descriptor != &budgetstore__journal_entry__descriptor)
		canon_fatal("not a journal entry");
	*n = canon_nfields;
	return (canon_fields);
}

/*
 * Walk the fields of an entry that are set, in field-number order, "hash"
 * excluded, each as the text that is hashed: the one definition of what an
 * entry says, used for the hash chain and for every view of the journal.
 * journal_canonical_into writes the same lines without the callback.
 */
void
journal_fields(const Budgetstore__JournalEntry *m,
    void (*cb)(const char *, const char *, int, void *), void *arg)
{
	const struct canon_field *cfs;
	struct canon              list = {NULL, 0, 0};
	char                      buf[CANON_VALUE_MAX + 1];
	const void               *p;
	size_t                    i, n, nf;

	cfs = canon_fields_of(m, &nf);
	for (i = 0; i < nf; i++) {
		const struct canon_field *cf = &cfs[i];

		if ((n = canon_set(cf, m, &p)) == 0)
			continue;
		if (cf->test != CANON_REPEATED) {
			if (cf->test == CANON_STRING)
				cb(cf->f->name, p, 0, arg);
			else {
				*canon_values(cf, p, 1, buf) = '\0';
				cb(cf->f->name, buf, cf->number, arg);
			}
			continue;
		}
		list.len = 0;
		canon_reserve(&list, n * (CANON_VALUE_MAX + 1));
		*canon_values(cf, p, n, list.buf) = '\0';
		cb(cf->f->name, list.buf, 0, arg);
	}
	free(list.buf);
}

/*
 * The canonical form of an entry (see the top of this file), NUL-terminated,
 * into *bufp (of *capp bytes, grown with realloc as needed): callers that
 * hash every entry keep one buffer instead of one per entry. Its length.
 * The lines journal_fields would give, "name=value\n" each, written in
 * place: verify builds millions of them, and the callbacks, the copies and
 * the lengths counted twice were half the cost of its hash chain.
 */
size_t
journal_canonical_into(
    const Budgetstore__JournalEntry *m, char **bufp, size_t *capp)
{
	const struct canon_field *cfs;
	struct canon              c = {*bufp, 0, *capp};
	const void               *p;
	size_t                    i, n, nf, slen;
	char                     *o;

	cfs = canon_fields_of(m, &nf);
	canon_reserve(&c, 0);
	for (i = 0; i < nf; i++) {
		const struct canon_field *cf = &cfs[i];

		if ((n = canon_set(cf, m, &p)) == 0)
			continue;
		slen = cf->test == CANON_STRING ? strlen(p) : 0;
		/* Room for the line at its longest, then no more checks. */
		canon_reserve(&c,
		    cf->namelen + 2 +
			(cf->test == CANON_STRING ? 3 * slen
						  : n * (CANON_VALUE_MAX + 1)));
		o = c.buf + c.len;
		memcpy(o, cf->f->name, cf->namelen);
		o += cf->namelen;
		*o++ = '=';
		if (cf->test == CANON_STRING)
			o = canon_esc(o, p, slen);
		else
			o = canon_values(cf, p, n, o);
		*o++ = '\n';
		c.len = (size_t)(o - c.buf);
	}
	c.buf[c.len] = '\0';
	*bufp = c.buf;
	*capp = c.cap;
	return (c.len);
}

/*
 * The canonical form of an entry, as a NUL-terminated string the caller
 * frees; its length in *lenp.
 */
char *
journal_canonical(const Budgetstore__JournalEntry *m, size_t *lenp)
{
	char  *buf = NULL;
	size_t cap = 0;

	*lenp = journal_canonical_into(m, &buf, &cap);
	return (buf);
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
		canon_fatal("OpenSSL has no SHA-256");
	if (pthread_key_create(&sha256_key, sha256_ctx_free) != 0)
		canon_fatal("pthread_key_create");
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
			canon_fatal("EVP_MD_CTX_new");
		if (pthread_setspecific(sha256_key, sha256_ctx) != 0)
			canon_fatal("pthread_setspecific");
	}
	if (EVP_DigestInit_ex(sha256_ctx, sha256_md, NULL) != 1)
		canon_fatal("SHA-256 failed");
	for (i = 0; i < n; i++) {
		if (lens[i] > 0 &&
		    EVP_DigestUpdate(sha256_ctx, parts[i], lens[i]) != 1)
			canon_fatal("SHA-256 failed");
	}
	if (EVP_DigestFinal_ex(sha256_ctx, out, &dlen) != 1)
		canon_fatal("SHA-256 failed");
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
