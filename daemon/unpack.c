/*
 * unpack.c: a decoder for the flat messages of store.proto (scalars,
 * strings, bytes, repeated integers), into the same structs, through the
 * same allocator, as protobuf_c_message_unpack, which it hands anything
 * else to: a field it does not know, a nested message, a varint longer
 * than protobuf-c reads the same way, a length past the end. verify
 * decodes every journal entry and every stored record, and
 * protobuf-c's general decoder, which looks every field up by number
 * twice and counts before it parses, was the largest item of its time.
 * test_unpack checks that both decoders agree on every kind of field.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <protobuf-c/protobuf-c.h>

#include "budgetd.h"

/* Wire types (the protobuf encoding). */
#define WT_VARINT 0
#define WT_I64    1
#define WT_LEN    2
#define WT_I32    5

/* Enough for every message of store.proto; more: protobuf-c decodes. */
#define UNPACK_MAX_FIELDS 64

/*
 * A varint at *p of at most max bytes, or -1. Tags and lengths: 5 bytes,
 * as protobuf-c reads them. Values: 9 (63 bits); a tenth byte carries a
 * 64th bit that protobuf-c and this would have to read alike, and no
 * value store.proto holds but a negative one needs it: protobuf-c
 * decodes those.
 */
static int
unpack_varint_long(const uint8_t **p, const uint8_t *end, uint64_t *v, int max)
{
	const uint8_t *q = *p;
	uint64_t       r = 0;
	int            i;

	for (i = 0; i < max && q < end; i++) {
		r |= (uint64_t)(*q & 0x7f) << (7 * i);
		if ((*q++ & 0x80) == 0) {
			*p = q;
			*v = r;
			return (0);
		}
	}
	return (-1);
}

/* Most tags and lengths, and many values, are one byte: inline those. */
static inline int
unpack_varint(const uint8_t **p, const uint8_t *end, uint64_t *v, int max)
{
	if (*p < end && **p < 0x80) {
		*v = **p;
		(*p)++;
		return (0);
	}
	return (unpack_varint_long(p, end, v, max));
}

#define VARINT_SHORT 5 /* a tag or a length */
#define VARINT_LONG  9 /* a value */

/* The field numbered id, or NULL; fields are in number order. */
static const ProtobufCFieldDescriptor *
unpack_field(const ProtobufCMessageDescriptor *d, uint64_t id)
{
	size_t lo = 0, hi = d->n_fields, mid;

	if (id > 0 && id <= d->n_fields && d->fields[id - 1].id == id)
		return (&d->fields[id - 1]);
	while (lo < hi) {
		mid = (lo + hi) / 2;
		if (d->fields[mid].id == id)
			return (&d->fields[mid]);
		if (d->fields[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (NULL);
}

/* The wire type a singular field of this type comes in. */
static int
unpack_wire_type(ProtobufCType type)
{
	switch (type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_BOOL:
		return (WT_VARINT);
	case PROTOBUF_C_TYPE_STRING:
	case PROTOBUF_C_TYPE_BYTES:
		return (WT_LEN);
	default:
		return (-1); /* not flat: protobuf-c's */
	}
}

/* A varint as protobuf-c stores it in a field of this type, at dst. */
static void
unpack_store(ProtobufCType type, uint64_t v, void *dst)
{
	switch (type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_UINT32:
		*(uint32_t *)dst = (uint32_t)v;
		break;
	case PROTOBUF_C_TYPE_BOOL:
		*(protobuf_c_boolean *)dst = v != 0;
		break;
	default:
		*(uint64_t *)dst = v;
		break;
	}
}

/*
 * The only repeated fields this decodes are of 64-bit integers (anything
 * else goes to protobuf-c), so every element is 8 bytes.
 */
#define UNPACK_ELEM_SIZE 8

/* n bytes of the allocator's, or NULL (then the decode fails). */
static void *
unpack_alloc(ProtobufCAllocator *a, size_t n)
{
	return (a != NULL ? a->alloc(a->allocator_data, n) : malloc(n));
}

static void
unpack_free(ProtobufCAllocator *a, void *p)
{
	if (a != NULL)
		a->free(a->allocator_data, p);
	else
		free(p);
}

#define UNPACK_REPEATED_LEFT 4096 /* see unpack_repeated */

#define UNPACK_OK     0
#define UNPACK_NOT_US (-1) /* protobuf-c's to decode */
#define UNPACK_NOMEM  (-2)

/*
 * One more element of the repeated field f at p: its array is made, the
 * first time, as long as what is left of the message could hold, so that
 * one pass over the wire does, with no count beforehand.
 */
static int
unpack_repeated(ProtobufCAllocator *a, ProtobufCMessage *m,
    const ProtobufCFieldDescriptor *f, size_t *cap, uint64_t v, size_t left)
{
	size_t   *q = (size_t *)(void *)((char *)m + f->quantifier_offset);
	uint8_t **arr = (uint8_t **)(void *)((char *)m + f->offset);

	if (*cap == 0) {
		/*
		 * Each element takes a byte at least. A message with more
		 * left than UNPACK_REPEATED_LEFT goes to protobuf-c, which
		 * counts first: an array eight times the rest of a large
		 * message is memory for nothing.
		 */
		if (left >= UNPACK_REPEATED_LEFT)
			return (UNPACK_NOT_US);
		*cap = left + 1;
		if ((*arr = unpack_alloc(a, *cap * UNPACK_ELEM_SIZE)) == NULL)
			return (UNPACK_NOMEM);
	}
	if (*q >= *cap)
		return (UNPACK_NOT_US); /* cannot be: but never past the end */
	memcpy(*arr + (*q)++ * UNPACK_ELEM_SIZE, &v, UNPACK_ELEM_SIZE);
	return (UNPACK_OK);
}

/*
 * The message at p..end into m, in one pass: each field known, of its
 * wire type, within the buffer. UNPACK_NOT_US for anything protobuf-c
 * should see, m then half filled, for the caller to free.
 */
static int
unpack_fields(const ProtobufCMessageDescriptor *d, ProtobufCAllocator *a,
    ProtobufCMessage *m, const uint8_t *p, const uint8_t *end)
{
	const ProtobufCFieldDescriptor *f;
	const uint8_t                  *e;
	size_t                          cap[UNPACK_MAX_FIELDS];
	uint64_t                        key, v;
	uint8_t                        *b;
	char                           *s;
	int                             wt, rc;

	memset(cap, 0, d->n_fields * sizeof(cap[0]));
	while (p < end) {
		if (unpack_varint(&p, end, &key, VARINT_SHORT) == -1 ||
		    (f = unpack_field(d, key >> 3)) == NULL ||
		    (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) != 0)
			return (UNPACK_NOT_US);
		wt = (int)(key & 7);
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t *c = &cap[f - d->fields];

			if (f->type != PROTOBUF_C_TYPE_INT64 &&
			    f->type != PROTOBUF_C_TYPE_UINT64)
				return (UNPACK_NOT_US);
			if (wt == WT_VARINT) {
				if (unpack_varint(&p, end, &v, VARINT_LONG) ==
				    -1)
					return (UNPACK_NOT_US);
				rc = unpack_repeated(
				    a, m, f, c, v, (size_t)(end - p));
				if (rc != UNPACK_OK)
					return (rc);
				continue;
			}
			if (wt != WT_LEN ||
			    unpack_varint(&p, end, &v, VARINT_SHORT) == -1 ||
			    v > (uint64_t)(end - p))
				return (UNPACK_NOT_US);
			for (e = p + v; p < e;) {
				if (unpack_varint(&p, e, &v, VARINT_LONG) == -1)
					return (UNPACK_NOT_US);
				rc = unpack_repeated(
				    a, m, f, c, v, (size_t)(end - p));
				if (rc != UNPACK_OK)
					return (rc);
			}
			continue;
		}
		if (f->label != PROTOBUF_C_LABEL_NONE ||
		    wt != unpack_wire_type(f->type) ||
		    unpack_varint(&p, end, &v,
			wt == WT_LEN ? VARINT_SHORT : VARINT_LONG) == -1 ||
		    (wt == WT_LEN && v > (uint64_t)(end - p)))
			return (UNPACK_NOT_US);
		if (f->type == PROTOBUF_C_TYPE_STRING) {
			char **dst = (char **)(void *)((char *)m + f->offset);

			if ((s = unpack_alloc(a, v + 1)) == NULL)
				return (UNPACK_NOMEM);
			memcpy(s, p, v);
			s[v] = '\0';
			/* The last of a field said twice wins, as protobuf-c's. */
			if (*dst != NULL && *dst != f->default_value)
				unpack_free(a, *dst);
			*dst = s;
			p += v;
		} else if (f->type == PROTOBUF_C_TYPE_BYTES) {
			ProtobufCBinaryData *bin =
			    (ProtobufCBinaryData *)(void *)((char *)m +
				f->offset);

			/* Empty: no data, as protobuf-c's. */
			b = NULL;
			if (v > 0 && (b = unpack_alloc(a, v)) == NULL)
				return (UNPACK_NOMEM);
			if (v > 0)
				memcpy(b, p, v);
			if (bin->data != NULL)
				unpack_free(a, bin->data);
			bin->data = b;
			bin->len = v;
			p += v;
		} else
			unpack_store(f->type, v, (char *)m + f->offset);
	}
	return (UNPACK_OK);
}

/*
 * As protobuf_c_message_unpack(d, a, len, data), which decodes what this
 * does not (see the top of this file).
 */
ProtobufCMessage *
budget_unpack(const ProtobufCMessageDescriptor *d, ProtobufCAllocator *a,
    size_t len, const uint8_t *data)
{
	ProtobufCMessage *m;
	int               rc;

	if (d->n_fields > UNPACK_MAX_FIELDS)
		return (protobuf_c_message_unpack(d, a, len, data));
	if ((m = unpack_alloc(a, d->sizeof_message)) == NULL)
		return (NULL);
	d->message_init(m);
	if ((rc = unpack_fields(d, a, m, data, data + len)) == UNPACK_OK)
		return (m);
	protobuf_c_message_free_unpacked(m, a);
	if (rc == UNPACK_NOMEM)
		return (NULL);
	return (protobuf_c_message_unpack(d, a, len, data));
}
