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
unpack_varint(const uint8_t **p, const uint8_t *end, uint64_t *v, int max)
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
 * The only repeated fields this decodes are of 64-bit integers (the scan
 * refuses the others), so every element is 8 bytes.
 */
#define UNPACK_ELEM_SIZE 8

/*
 * One pass over the wire: each field known, of its wire type, within the
 * buffer; the elements of each repeated field counted into count (by
 * field index). -1 for anything protobuf-c should see.
 */
static int
unpack_scan(const ProtobufCMessageDescriptor *d, const uint8_t *p,
    const uint8_t *end, size_t *count)
{
	const ProtobufCFieldDescriptor *f;
	const uint8_t                  *e;
	uint64_t                        key, v, len;
	int                             wt;

	while (p < end) {
		if (unpack_varint(&p, end, &key, VARINT_SHORT) == -1 ||
		    (f = unpack_field(d, key >> 3)) == NULL ||
		    (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) != 0)
			return (-1);
		wt = (int)(key & 7);
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			if ((f->type != PROTOBUF_C_TYPE_INT64 &&
				f->type != PROTOBUF_C_TYPE_UINT64))
				return (-1);
			if (wt == WT_VARINT) {
				if (unpack_varint(&p, end, &v, VARINT_LONG) ==
				    -1)
					return (-1);
				count[f - d->fields]++;
				continue;
			}
			if (wt != WT_LEN ||
			    unpack_varint(&p, end, &len, VARINT_SHORT) == -1 ||
			    len > (uint64_t)(end - p))
				return (-1);
			for (e = p + len; p < e; count[f - d->fields]++)
				if (unpack_varint(&p, e, &v, VARINT_LONG) == -1)
					return (-1);
			continue;
		}
		if (f->label != PROTOBUF_C_LABEL_NONE ||
		    wt != unpack_wire_type(f->type))
			return (-1);
		if (unpack_varint(&p, end, &v,
			wt == WT_LEN ? VARINT_SHORT : VARINT_LONG) == -1)
			return (-1);
		if (wt == WT_LEN) {
			if (v > (uint64_t)(end - p))
				return (-1);
			p += v;
		}
	}
	return (0);
}

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

/*
 * As protobuf_c_message_unpack(d, a, len, data), which decodes what this
 * does not (see the top of this file).
 */
ProtobufCMessage *
budget_unpack(const ProtobufCMessageDescriptor *d, ProtobufCAllocator *a,
    size_t len, const uint8_t *data)
{
	const uint8_t                  *p = data, *end = data + len, *e;
	const ProtobufCFieldDescriptor *f;
	ProtobufCMessage               *m;
	size_t                          count[UNPACK_MAX_FIELDS];
	size_t                          i;
	uint64_t                        key = 0, v = 0, n = 0;
	char                           *s;
	uint8_t                        *b;

	if (d->n_fields > UNPACK_MAX_FIELDS)
		return (protobuf_c_message_unpack(d, a, len, data));
	memset(count, 0, d->n_fields * sizeof(count[0]));
	if (unpack_scan(d, data, end, count) == -1)
		return (protobuf_c_message_unpack(d, a, len, data));
	if ((m = unpack_alloc(a, d->sizeof_message)) == NULL)
		return (NULL);
	d->message_init(m);
	/* Room for the repeated fields first, so that a failure frees all. */
	for (i = 0; i < d->n_fields; i++) {
		f = &d->fields[i];
		if (f->label != PROTOBUF_C_LABEL_REPEATED || count[i] == 0)
			continue;
		if ((b = unpack_alloc(a, count[i] * UNPACK_ELEM_SIZE)) ==
		    NULL) {
			protobuf_c_message_free_unpacked(m, a);
			return (NULL);
		}
		*(void **)((char *)m + f->offset) = b;
	}
	/* The scan said what is there: nothing below can be out of bounds. */
	while (p < end) {
		(void)unpack_varint(&p, end, &key, VARINT_SHORT);
		f = unpack_field(d, key >> 3);
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t *q = (size_t *)(void *)((char *)m +
			    f->quantifier_offset);
			char   *arr = *(char **)((char *)m + f->offset);

			if ((key & 7) == WT_VARINT) {
				(void)unpack_varint(&p, end, &v, VARINT_LONG);
				memcpy(arr + (*q)++ * UNPACK_ELEM_SIZE, &v,
				    UNPACK_ELEM_SIZE);
				continue;
			}
			(void)unpack_varint(&p, end, &n, VARINT_SHORT);
			for (e = p + n; p < e;) {
				(void)unpack_varint(&p, e, &v, VARINT_LONG);
				memcpy(arr + (*q)++ * UNPACK_ELEM_SIZE, &v,
				    UNPACK_ELEM_SIZE);
			}
			continue;
		}
		(void)unpack_varint(&p, end, &v,
		    (key & 7) == WT_LEN ? VARINT_SHORT : VARINT_LONG);
		if (f->type == PROTOBUF_C_TYPE_STRING) {
			char **dst = (char **)(void *)((char *)m + f->offset);

			if ((s = unpack_alloc(a, v + 1)) == NULL) {
				protobuf_c_message_free_unpacked(m, a);
				return (NULL);
			}
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
			if (v > 0 && (b = unpack_alloc(a, v)) == NULL) {
				protobuf_c_message_free_unpacked(m, a);
				return (NULL);
			}
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
	return (m);
}
