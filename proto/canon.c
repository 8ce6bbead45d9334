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

static void
canon_put(struct canon *c, const char *s, size_t n)
{
	canon_reserve(c, n);
	memcpy(c->buf + c->len, s, n);
	c->len += n;
	c->buf[c->len] = '\0';
}

/*
 * s at o, every byte outside 0x21-0x7e, and '%', written %XX; o must have
 * room for three times s. The end of what was written.
 */
static char *
canon_esc(char *o, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s != '\0'; s++) {
		unsigned char b = (unsigned char)*s;

		if (b >= 0x21 && b <= 0x7e && b != '%') {
			*o++ = (char)b;
			continue;
		}
		*o++ = '%';
		*o++ = hex[b >> 4];
		*o++ = hex[b & 0xf];
	}
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

/*
 * Each field's kind, by its index in the descriptor, worked out once:
 * the canonical form of every entry asks for every field's.
 */
#define CANON_MAX_FIELDS 64
static pthread_once_t  canon_kinds_once = PTHREAD_ONCE_INIT;
static enum canon_kind canon_kinds[CANON_MAX_FIELDS];

static void
canon_kinds_init(void)
{
	const ProtobufCMessageDescriptor *d =
	    &budgetstore__journal_entry__descriptor;
	unsigned i;

	if (d->n_fields > CANON_MAX_FIELDS)
		canon_fatal("JournalEntry has more fields than the canonical "
			    "form expects");
	for (i = 0; i < d->n_fields; i++)
		canon_kinds[i] = canon_kind_of(d->fields[i].name);
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
		canon_fatal("no room for a number");
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
canon_scalar(const ProtobufCFieldDescriptor *f, enum canon_kind kind,
    const void *p, char *buf, size_t len, int *number)
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
		canon_fatal("a field has a type the canonical form does not "
			    "know");
	}
	switch (kind) {
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

	pthread_once(&canon_kinds_once, canon_kinds_init);
	if (d != &budgetstore__journal_entry__descriptor)
		canon_fatal("not a journal entry");
	for (i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const char                     *p = (const char *)m + f->offset;

		if (f->id == BUDGETSTORE_JOURNAL_HASH_FIELD)
			continue;
		if (f->label != PROTOBUF_C_LABEL_REPEATED) {
			if (canon_is_default(f, p))
				continue;
			v = canon_scalar(
			    f, canon_kinds[i], p, buf, sizeof(buf), &number);
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
			v = canon_scalar(f, canon_kinds[i], arr + j * sz, buf,
			    sizeof(buf), &number);
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
	size_t        nlen = strlen(name), vlen = strlen(value);
	char         *o;

	/* Room for the line at its longest, then no more checks. */
	canon_reserve(c, nlen + 2 + 3 * vlen);
	o = c->buf + c->len;
	memcpy(o, name, nlen);
	o += nlen;
	*o++ = '=';
	if (number) { /* digits and a sign: nothing to escape */
		memcpy(o, value, vlen);
		o += vlen;
	} else
		o = canon_esc(o, value);
	*o++ = '\n';
	*o = '\0';
	c->len = (size_t)(o - c->buf);
}

/*
 * The canonical form of an entry (see the top of this file), NUL-terminated,
 * into *bufp (of *capp bytes, grown with realloc as needed): callers that
 * hash every entry keep one buffer instead of one per entry. Its length.
 */
size_t
journal_canonical_into(
    const Budgetstore__JournalEntry *m, char **bufp, size_t *capp)
{
	struct canon c = {*bufp, 0, *capp};

	canon_put(&c, "", 0);
	journal_fields(m, canon_line_cb, &c);
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
