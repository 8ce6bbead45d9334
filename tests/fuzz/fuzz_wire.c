/*
 * fuzz_wire.c: libFuzzer target for the frame codec (proto/wire.c). Owns
 * the codec's contract as protocol.h states it, checked on every input:
 *
 *   - WIRE_MORE consumes nothing; WIRE_OK consumes exactly 4 + N bytes and
 *     yields a message; the errors yield none;
 *   - how the bytes arrive does not matter: the input fed whole and fed in
 *     chunks (sizes drawn from the input's own hash, some chunks copied,
 *     some referenced) decodes to the same frames and ends the same way;
 *   - the blocking reader (wire_read_fd) agrees with the evbuffer decoder;
 *   - a decoded message re-encodes (or is refused for a reason that holds)
 *     and decodes again to the same bytes.
 *
 * Each input is decoded as Requests with a small and the default limit,
 * and as Responses (what budgetctl reads) with the default one.
 */
#include <sys/mman.h>

#include <arpa/inet.h>

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "budget.pb-c.h"
#include "budget/protocol.h"
#include "fuzz.h"

/* The small limit: a realistic request does not fit in it. */
#define FW_SMALL_MAX  64
/* Frames looked at per pass (4 bytes is the shortest frame). */
#define FW_FRAMES_MAX 4096

#define FW_ASSERT(c, ...) \
	do { \
		if (!(c)) \
			fw_fail(__LINE__, #c, __VA_ARGS__); \
	} while (0)

/* What one pass saw: the frames it decoded and how it ended. */
struct fw_result {
	uint64_t digest[FW_FRAMES_MAX]; /* of each frame's re-packing */
	size_t   nframes;
	int      end; /* WIRE_MORE or the error that stopped it */
};

static int fw_memfd = -1;

/* What *out holds before a call: the decoder must overwrite it. */
static ProtobufCMessage fw_sentinel;

static void fw_fail(int, const char *, const char *, ...)
    __attribute__((format(printf, 3, 4), noreturn));
static uint64_t fw_hash(const uint8_t *, size_t, uint64_t);
static uint64_t fw_next(uint64_t *);
static uint64_t fw_repack(const ProtobufCMessage *);
static int      fw_field0(const ProtobufCMessage *);
static void     fw_roundtrip(const ProtobufCMessage *, size_t);
static int      fw_step(struct evbuffer *, size_t,
	 const ProtobufCMessageDescriptor *, struct fw_result *, int);
static void     fw_whole(const uint8_t *, size_t, size_t,
	const ProtobufCMessageDescriptor *, struct fw_result *);
static void     fw_chunked(const uint8_t *, size_t, size_t,
	const ProtobufCMessageDescriptor *, struct fw_result *);
static void     fw_fd(const uint8_t *, size_t, size_t,
	const ProtobufCMessageDescriptor *, struct fw_result *);
static void
fw_same(const struct fw_result *, const struct fw_result *, const char *);

static void
fw_fail(int line, const char *cond, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "fuzz_wire.c:%d: %s: ", line, cond);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

/* FNV-1a, 64 bits. */
static uint64_t
fw_hash(const uint8_t *p, size_t len, uint64_t h)
{
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ p[i]) * UINT64_C(0x100000001b3);
	return (h);
}

/* xorshift64*: chunk sizes that depend on the input, reproducibly. */
static uint64_t
fw_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return (*s * UINT64_C(2685821657736338717));
}

static uint64_t
fw_repack(const ProtobufCMessage *m)
{
	size_t   len = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = malloc(len > 0 ? len : 1);
	uint64_t h;

	FW_ASSERT(buf != NULL, "out of memory");
	FW_ASSERT(protobuf_c_message_pack(m, buf) == len,
	    "pack wrote other than get_packed_size said");
	h = fw_hash(buf, len, UINT64_C(0xcbf29ce484222325));
	free(buf);
	return (h ^ len);
}

/*
 * Whether m or a message in it holds an unknown field numbered 0.
 * protobuf-c 1.4 refuses tag 0 by looking at the tag's first byte only
 * (protobuf-c pull request #299), so an overlong tag varint (82 00) gets
 * field 0 in as an unknown field; packed again it is the short form (02),
 * which the same decoder refuses. Such a message cannot round-trip.
 */
static int
fw_field0(const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	const ProtobufCFieldDescriptor   *f;
	const uint8_t                    *base = (const uint8_t *)m;
	const ProtobufCMessage *const    *subs;
	size_t                            i, j, n;

	for (i = 0; i < m->n_unknown_fields; i++) {
		if (m->unknown_fields[i].tag == 0)
			return (1);
	}
	for (i = 0; i < d->n_fields; i++) {
		f = &d->fields[i];
		if (f->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			n = *(const size_t *)(const void *)(base +
			    f->quantifier_offset);
			subs = *(const ProtobufCMessage *const *const
				*)(const void *)(base + f->offset);
		} else {
			/* A oneof member of another case holds another type. */
			if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
			    *(const uint32_t *)(const void *)(base +
				f->quantifier_offset) != f->id)
				continue;
			n = 1;
			subs = (const ProtobufCMessage *const *)(const void
				*)(base + f->offset);
		}
		for (j = 0; j < n; j++) {
			if (subs[j] != NULL && fw_field0(subs[j]))
				return (1);
		}
	}
	return (0);
}

/*
 * Encode m as a frame and decode it again: the same bytes must come back.
 * A refusal must have its reason: too large for max, or packing to
 * nothing (a length-0 frame is forbidden).
 */
static void
fw_roundtrip(const ProtobufCMessage *m, size_t max)
{
	struct evbuffer  *b = evbuffer_new();
	ProtobufCMessage *again = NULL;
	size_t            len = protobuf_c_message_get_packed_size(m);
	int               rc;

	FW_ASSERT(b != NULL, "evbuffer_new");
	rc = wire_encode(b, max, m);
	if (rc == 0 && fw_field0(m))
		; /* see fw_field0 */
	else if (len > max)
		FW_ASSERT(rc == WIRE_TOO_LARGE && evbuffer_get_length(b) == 0,
		    "%zu bytes over a limit of %zu: encode says %d", len, max,
		    rc);
	else if (len == 0)
		FW_ASSERT(rc == WIRE_MALFORMED && evbuffer_get_length(b) == 0,
		    "an empty message: encode says %d", rc);
	else {
		FW_ASSERT(rc == 0, "encode of %zu bytes says %d", len, rc);
		FW_ASSERT(evbuffer_get_length(b) == BUDGET_FRAME_HEADER + len,
		    "encode wrote %zu bytes for %zu", evbuffer_get_length(b),
		    len);
		rc = wire_decode(b, max, m->descriptor, &again);
		FW_ASSERT(rc == WIRE_OK && again != NULL,
		    "what encode wrote does not decode: %d", rc);
		FW_ASSERT(evbuffer_get_length(b) == 0, "decode left %zu bytes",
		    evbuffer_get_length(b));
		FW_ASSERT(fw_repack(again) == fw_repack(m),
		    "decode(encode(m)) packs differently from m");
		protobuf_c_message_free_unpacked(again, NULL);
	}
	evbuffer_free(b);
}

/*
 * Decode one frame from b and check the call's contract. Adds what it
 * decoded to res; returns the status.
 */
static int
fw_step(struct evbuffer *b, size_t max, const ProtobufCMessageDescriptor *d,
    struct fw_result *res, int roundtrip)
{
	ProtobufCMessage *m = &fw_sentinel;
	size_t            before = evbuffer_get_length(b), after;
	uint32_t          be = 0;
	int               rc;

	if (before >= BUDGET_FRAME_HEADER)
		evbuffer_copyout(b, &be, sizeof(be));
	rc = wire_decode(b, max, d, &m);
	after = evbuffer_get_length(b);
	switch (rc) {
	case WIRE_MORE:
		FW_ASSERT(m == NULL, "WIRE_MORE with a message");
		FW_ASSERT(after == before, "WIRE_MORE consumed %zu bytes",
		    before - after);
		FW_ASSERT(before < BUDGET_FRAME_HEADER ||
			before < BUDGET_FRAME_HEADER + (size_t)ntohl(be),
		    "WIRE_MORE with the whole frame of %u bytes buffered",
		    ntohl(be));
		break;
	case WIRE_OK:
		FW_ASSERT(m != NULL, "WIRE_OK without a message");
		FW_ASSERT(m->descriptor == d, "a message of another type");
		FW_ASSERT(ntohl(be) > 0 && ntohl(be) <= max,
		    "WIRE_OK for a length of %u (limit %zu)", ntohl(be), max);
		FW_ASSERT(before - after == BUDGET_FRAME_HEADER + ntohl(be),
		    "WIRE_OK consumed %zu bytes of a %u-byte frame",
		    before - after, ntohl(be));
		if (res->nframes < FW_FRAMES_MAX)
			res->digest[res->nframes++] = fw_repack(m);
		if (roundtrip)
			fw_roundtrip(m, max);
		protobuf_c_message_free_unpacked(m, NULL);
		break;
	case WIRE_TOO_LARGE:
		FW_ASSERT(m == NULL, "WIRE_TOO_LARGE with a message");
		FW_ASSERT(ntohl(be) == 0 || ntohl(be) > max,
		    "WIRE_TOO_LARGE for a length of %u (limit %zu)", ntohl(be),
		    max);
		break;
	case WIRE_MALFORMED:
		FW_ASSERT(m == NULL, "WIRE_MALFORMED with a message");
		FW_ASSERT(before >= BUDGET_FRAME_HEADER + ntohl(be),
		    "WIRE_MALFORMED before the frame was whole");
		break;
	default:
		FW_ASSERT(0, "wire_decode returned %d", rc);
	}
	return (rc);
}

/* All of the input in one buffer: decode until it ends. */
static void
fw_whole(const uint8_t *data, size_t size, size_t max,
    const ProtobufCMessageDescriptor *d, struct fw_result *res)
{
	struct evbuffer *b = evbuffer_new();
	int              rc;

	FW_ASSERT(b != NULL, "evbuffer_new");
	res->nframes = 0;
	evbuffer_add(b, data, size);
	while ((rc = fw_step(b, max, d, res, 1)) == WIRE_OK)
		;
	res->end = rc;
	evbuffer_free(b);
}

/*
 * The input as it might come off a socket: chunks of 1 byte to a few
 * hundred, decoding whatever is whole after each, like conn_read_cb.
 */
static void
fw_chunked(const uint8_t *data, size_t size, size_t max,
    const ProtobufCMessageDescriptor *d, struct fw_result *res)
{
	struct evbuffer *b = evbuffer_new();
	uint64_t         s = fw_hash(data, size, UINT64_C(0x9e3779b97f4a7c15));
	size_t           off = 0, n;
	uint64_t         r;
	int              rc = WIRE_MORE;

	FW_ASSERT(b != NULL, "evbuffer_new");
	res->nframes = 0;
	s |= 1;
	while (off < size && (rc == WIRE_MORE || rc == WIRE_OK)) {
		r = fw_next(&s);
		n = (r & 3) == 0 ? 1 : 1 + (size_t)(r >> 8) % 300;
		if (n > size - off)
			n = size - off;
		/* A reference makes a chain of its own: pullup must join. */
		if (r & 4)
			evbuffer_add_reference(b, data + off, n, NULL, NULL);
		else
			evbuffer_add(b, data + off, n);
		off += n;
		while ((rc = fw_step(b, max, d, res, 0)) == WIRE_OK)
			;
	}
	res->end = rc;
	evbuffer_free(b);
}

/* The blocking reader over a file holding the input. */
static void
fw_fd(const uint8_t *data, size_t size, size_t max,
    const ProtobufCMessageDescriptor *d, struct fw_result *res)
{
	ProtobufCMessage *m = &fw_sentinel;
	int               rc;

	res->nframes = 0;
	FW_ASSERT(ftruncate(fw_memfd, 0) == 0 &&
		(size == 0 ||
		    pwrite(fw_memfd, data, size, 0) == (ssize_t)size) &&
		lseek(fw_memfd, 0, SEEK_SET) == 0,
	    "memfd: %s", strerror(errno));
	while ((rc = wire_read_fd(fw_memfd, max, d, &m)) == WIRE_OK) {
		FW_ASSERT(m != NULL, "wire_read_fd: WIRE_OK without a message");
		if (res->nframes < FW_FRAMES_MAX)
			res->digest[res->nframes++] = fw_repack(m);
		protobuf_c_message_free_unpacked(m, NULL);
	}
	FW_ASSERT(m == NULL, "wire_read_fd: %d with a message", rc);
	/* The end of the file is the end of the stream: WIRE_MORE here. */
	FW_ASSERT(
	    rc != WIRE_IO || errno == 0, "wire_read_fd: %s", strerror(errno));
	res->end = rc == WIRE_IO ? WIRE_MORE : rc;
}

static void
fw_same(const struct fw_result *a, const struct fw_result *b, const char *how)
{
	size_t i;

	FW_ASSERT(a->nframes == b->nframes,
	    "%s: %zu frames, decoded whole: %zu", how, b->nframes, a->nframes);
	for (i = 0; i < a->nframes; i++)
		FW_ASSERT(a->digest[i] == b->digest[i], "%s: frame %zu differs",
		    how, i);
	FW_ASSERT(a->end == b->end, "%s: ends with %d, decoded whole: %d", how,
	    b->end, a->end);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if ((fw_memfd = memfd_create("fuzz_wire", MFD_CLOEXEC)) == -1) {
		perror("fuzz_wire: memfd_create");
		abort();
	}
	return (0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fw_result whole, other;
	static const size_t     max[] = {FW_SMALL_MAX, BUDGET_FRAME_MAX};
	size_t                  i;

	for (i = 0; i < sizeof(max) / sizeof(max[0]); i++) {
		fw_whole(
		    data, size, max[i], &budget__request__descriptor, &whole);
		fw_chunked(
		    data, size, max[i], &budget__request__descriptor, &other);
		fw_same(&whole, &other, "fed in chunks");
		fw_fd(data, size, max[i], &budget__request__descriptor, &other);
		fw_same(&whole, &other, "read from an fd");
	}
	fw_whole(data, size, BUDGET_FRAME_MAX, &budget__response__descriptor,
	    &whole);
	return (0);
}
