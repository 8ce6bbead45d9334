/*
 * test_wire.c: unit tests of the frame codec (proto/wire.c, declared in
 * include/budget/protocol.h): the length checks done before anything is
 * buffered, partial and back-to-back frames on an evbuffer, payloads that
 * do not decode or decode as the wrong message, the allocation cap of
 * wire_unpack and its nesting limit, wire_encode's refusal of oversized
 * messages, and the
 * blocking fd variants over a socketpair (short reads, EINTR, peer close).
 */
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <arpa/inet.h>

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <event2/buffer.h>

#include "budget.pb-c.h"
#include "budget/protocol.h"

/* A small limit, so that frames "at the limit" are easy to build. */
#define TEST_MAX 64u

static char            *wstr(const char *);
static void             test_sigalrm_cb(int);
static void             req_fill(Budget__Request *, char *, size_t);
static size_t           req_sized(Budget__Request *, char *, size_t);
static void             put_header(struct evbuffer *, uint32_t);
static void             write_header(int, uint32_t);
static Budget__Request *decode_req(struct evbuffer *, size_t, int *);
static void             make_pair(int[2]);
static void             test_prepend(uint8_t *, size_t *, uint64_t, int);
static uint8_t         *test_nested_batch(unsigned, size_t *);

static volatile sig_atomic_t test_alarms;

/*
 * Generated messages hold char *, our literals are const (-Wwrite-strings);
 * the codec only reads them.
 */
static char *
wstr(const char *s)
{
	return ((char *)(uintptr_t)s);
}

static void
test_sigalrm_cb(int sig)
{
	(void)sig;
	test_alarms++;
}

/* A Request with version 1 and a request_id of n 'a's held in idbuf. */
static void
req_fill(Budget__Request *r, char *idbuf, size_t n)
{
	budget__request__init(r);
	memset(idbuf, 'a', n);
	idbuf[n] = '\0';
	r->version = BUDGET_PROTOCOL_VERSION;
	r->request_id = idbuf;
}

/*
 * A Request whose packed size is exactly want bytes (idbuf must hold want
 * bytes). Returns the packed size, which the caller asserts.
 */
static size_t
req_sized(Budget__Request *r, char *idbuf, size_t want)
{
	size_t n;

	for (n = 0; n < want; n++) {
		req_fill(r, idbuf, n);
		if (budget__request__get_packed_size(r) == want)
			return (want);
	}
	return (0);
}

static void
put_header(struct evbuffer *b, uint32_t len)
{
	uint32_t be = htonl(len);

	assert_int_equal(evbuffer_add(b, &be, sizeof(be)), 0);
}

static void
write_header(int fd, uint32_t len)
{
	uint32_t be = htonl(len);

	assert_int_equal(wire_write_all(fd, &be, sizeof(be)), 0);
}

static Budget__Request *
decode_req(struct evbuffer *b, size_t max, int *rc)
{
	ProtobufCMessage *m = NULL;

	*rc = wire_decode(b, max, &budget__request__descriptor, &m);
	if (*rc != WIRE_OK)
		assert_null(m);
	return ((Budget__Request *)m);
}

/*
 * A connected socketpair; reads on [0] time out after 5 seconds so that a
 * codec that wrongly waits for bytes fails the test instead of hanging it.
 */
static void
make_pair(int sv[2])
{
	struct timeval tv = {5, 0};

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(
	    setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
}

/* Length 0 is a protocol violation (protocol.h), even with bytes behind it. */
static void
test_decode_len_zero(void **state)
{
	struct evbuffer *b = evbuffer_new();
	Budget__Request *r;
	int              rc;

	(void)state;
	put_header(b, 0);
	evbuffer_add(b, "\x08\x01", 2);
	r = decode_req(b, TEST_MAX, &rc);
	assert_int_equal(rc, WIRE_TOO_LARGE);
	assert_null(r);
	evbuffer_free(b);
}

/* A frame of exactly max bytes decodes; the check is "> max", not ">=". */
static void
test_decode_len_max(void **state)
{
	struct evbuffer *b = evbuffer_new();
	Budget__Request  req, *r;
	char             id[TEST_MAX + 1];
	uint8_t          payload[TEST_MAX];
	int              rc;

	(void)state;
	assert_int_equal(req_sized(&req, id, TEST_MAX), TEST_MAX);
	assert_int_equal(budget__request__pack(&req, payload), TEST_MAX);
	put_header(b, TEST_MAX);
	evbuffer_add(b, payload, sizeof(payload));

	r = decode_req(b, TEST_MAX, &rc);
	assert_int_equal(rc, WIRE_OK);
	assert_non_null(r);
	assert_int_equal(r->version, BUDGET_PROTOCOL_VERSION);
	assert_string_equal(r->request_id, id);
	assert_int_equal(evbuffer_get_length(b), 0);
	budget__request__free_unpacked(r, NULL);
	evbuffer_free(b);
}

/* max + 1 is refused even though the whole valid payload is buffered. */
static void
test_decode_len_max_plus_one(void **state)
{
	struct evbuffer *b = evbuffer_new();
	Budget__Request  req, *r;
	char             id[TEST_MAX + 2];
	uint8_t          payload[TEST_MAX + 1];
	int              rc;

	(void)state;
	assert_int_equal(req_sized(&req, id, TEST_MAX + 1), TEST_MAX + 1);
	assert_int_equal(budget__request__pack(&req, payload), TEST_MAX + 1);
	put_header(b, TEST_MAX + 1);
	evbuffer_add(b, payload, sizeof(payload));

	r = decode_req(b, TEST_MAX, &rc);
	assert_int_equal(rc, WIRE_TOO_LARGE);
	assert_null(r);
	/* The same frame is fine under a limit one byte larger. */
	r = decode_req(b, TEST_MAX + 1, &rc);
	assert_int_equal(rc, WIRE_OK);
	budget__request__free_unpacked(r, NULL);
	evbuffer_free(b);
}

/*
 * 0xFFFFFFFF with only the header buffered: refused at once. WIRE_MORE here
 * would mean the decoder waits to buffer 4 GiB from the peer.
 */
static void
test_decode_len_huge(void **state)
{
	static const size_t limits[] = {
	    TEST_MAX, BUDGET_FRAME_MAX, BUDGET_FRAME_MAX_LIMIT};
	struct evbuffer *b;
	Budget__Request *r;
	size_t           i;
	int              rc;

	(void)state;
	for (i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
		b = evbuffer_new();
		put_header(b, 0xFFFFFFFFu);
		r = decode_req(b, limits[i], &rc);
		assert_int_equal(rc, WIRE_TOO_LARGE);
		assert_null(r);
		evbuffer_free(b);
	}
}

/* Fewer than 4 header bytes: WIRE_MORE, nothing consumed. */
static void
test_decode_short_header(void **state)
{
	struct evbuffer *b = evbuffer_new();
	Budget__Request *r;
	int              rc;

	(void)state;
	r = decode_req(b, TEST_MAX, &rc);
	assert_int_equal(rc, WIRE_MORE);
	assert_null(r);
	evbuffer_add(b, "\0\0\0", 3);
	r = decode_req(b, TEST_MAX, &rc);
	assert_int_equal(rc, WIRE_MORE);
	assert_int_equal(evbuffer_get_length(b), 3);
	evbuffer_free(b);
}

/* A frame fed one byte at a time: WIRE_MORE, untouched, until the last. */
static void
test_decode_byte_by_byte(void **state)
{
	struct evbuffer      *src = evbuffer_new(), *b = evbuffer_new();
	Budget__Request       req = BUDGET__REQUEST__INIT, *r;
	Budget__StatusRequest st = BUDGET__STATUS_REQUEST__INIT;
	uint8_t              *frame;
	size_t                len, i;
	int                   rc;

	(void)state;
	req.version = BUDGET_PROTOCOL_VERSION;
	req.request_id = wstr("byte-by-byte:1");
	req.command_case = BUDGET__REQUEST__COMMAND_STATUS;
	req.status = &st;
	assert_int_equal(wire_encode(src, TEST_MAX, &req.base), 0);
	len = evbuffer_get_length(src);
	assert_true(len > BUDGET_FRAME_HEADER);
	frame = evbuffer_pullup(src, -1);

	for (i = 0; i < len; i++) {
		evbuffer_add(b, frame + i, 1);
		r = decode_req(b, TEST_MAX, &rc);
		if (i + 1 < len) {
			assert_int_equal(rc, WIRE_MORE);
			assert_int_equal(evbuffer_get_length(b), i + 1);
			continue;
		}
		assert_int_equal(rc, WIRE_OK);
		assert_int_equal(evbuffer_get_length(b), 0);
		assert_string_equal(r->request_id, "byte-by-byte:1");
		assert_int_equal(
		    r->command_case, BUDGET__REQUEST__COMMAND_STATUS);
		budget__request__free_unpacked(r, NULL);
	}
	evbuffer_free(src);
	evbuffer_free(b);
}

/* Frames that arrive together are decoded one per call, in order. */
static void
test_decode_several_frames(void **state)
{
	static const char *ids[] = {"first", "second", "third"};
	struct evbuffer   *b;
	Budget__Request    req, *r;
	size_t             n, i, rest;
	int                rc;

	(void)state;
	for (n = 2; n <= 3; n++) {
		b = evbuffer_new();
		for (i = 0; i < n; i++) {
			budget__request__init(&req);
			req.version = BUDGET_PROTOCOL_VERSION;
			req.request_id = wstr(ids[i]);
			assert_int_equal(
			    wire_encode(b, TEST_MAX, &req.base), 0);
		}
		/* And the header and two bytes of one more, partial frame. */
		put_header(b, 10);
		evbuffer_add(b, "\x08\x01", 2);
		rest = BUDGET_FRAME_HEADER + 2;
		for (i = 0; i < n; i++) {
			r = decode_req(b, TEST_MAX, &rc);
			assert_int_equal(rc, WIRE_OK);
			assert_string_equal(r->request_id, ids[i]);
			budget__request__free_unpacked(r, NULL);
		}
		assert_int_equal(evbuffer_get_length(b), rest);
		r = decode_req(b, TEST_MAX, &rc);
		assert_int_equal(rc, WIRE_MORE);
		assert_int_equal(evbuffer_get_length(b), rest);
		evbuffer_free(b);
	}
}

/* Payloads that are not protobuf at all. */
static void
test_decode_garbage(void **state)
{
	static const struct {
		const char *bytes;
		size_t      len;
	} bad[] = {
	    {"\xff\xff\xff\xff\xff", 5}, /* a tag that never ends */
	    {"\x12\x10\x61\x62", 4},     /* string longer than the frame */
	    {"\x08", 1},                 /* tag without its value */
	    {"\x0f\x00", 2},             /* wire type 7 does not exist */
	    {"\x00\x00", 2},             /* field number 0 */
	};
	struct evbuffer *b;
	Budget__Request *r;
	size_t           i;
	int              rc;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		b = evbuffer_new();
		put_header(b, (uint32_t)bad[i].len);
		evbuffer_add(b, bad[i].bytes, bad[i].len);
		r = decode_req(b, TEST_MAX, &rc);
		assert_int_equal(rc, WIRE_MALFORMED);
		assert_null(r);
		evbuffer_free(b);
	}
}

/*
 * A valid Response where a Request is expected. Protobuf carries no message
 * type, so what happens depends on the field numbers and wire types; this
 * pins down that it never crashes and what the daemon then has to cope
 * with (a Request with version 0, or a request_id holding binary bytes).
 */
static void
test_decode_wrong_message(void **state)
{
	Budget__Response     resp = BUDGET__RESPONSE__INIT;
	Budget__Error        err = BUDGET__ERROR__INIT;
	Budget__StatusResult sr = BUDGET__STATUS_RESULT__INIT;
	struct evbuffer     *b;
	Budget__Request     *r;
	int                  rc;

	(void)state;

	/* Response.request_id (1, bytes) against Request.version (1, varint). */
	b = evbuffer_new();
	resp.request_id = wstr("abc");
	assert_int_equal(wire_encode(b, TEST_MAX, &resp.base), 0);
	r = decode_req(b, TEST_MAX, &rc);
	assert_int_equal(rc, WIRE_MALFORMED);
	evbuffer_free(b);

	/* Response.error (2, message) lands in Request.request_id (2). */
	b = evbuffer_new();
	resp.request_id = wstr("");
	err.code = wstr("x");
	resp.error = &err;
	assert_int_equal(wire_encode(b, TEST_MAX, &resp.base), 0);
	r = decode_req(b, TEST_MAX, &rc);
	assert_int_equal(rc, WIRE_OK);
	assert_int_equal(r->version, 0);
	assert_memory_equal(r->request_id, "\x0a\x01x", 4);
	assert_int_equal(r->command_case, BUDGET__REQUEST__COMMAND__NOT_SET);
	budget__request__free_unpacked(r, NULL);
	evbuffer_free(b);

	/* Response.status (16) lands in Request.status (16). */
	b = evbuffer_new();
	resp.error = NULL;
	sr.version = wstr("0.1.0");
	sr.protocol = BUDGET_PROTOCOL_VERSION;
	resp.result_case = BUDGET__RESPONSE__RESULT_STATUS;
	resp.status = &sr;
	resp.replayed = 1;
	assert_int_equal(wire_encode(b, TEST_MAX, &resp.base), 0);
	r = decode_req(b, TEST_MAX, &rc);
	assert_int_equal(rc, WIRE_OK);
	assert_int_equal(r->version, 0);
	assert_string_equal(r->request_id, "");
	assert_int_equal(r->command_case, BUDGET__REQUEST__COMMAND_STATUS);
	assert_non_null(r->status);
	/* Response.replayed (3) is an unknown field of Request: kept aside. */
	assert_null(protobuf_c_message_descriptor_get_field(
	    &budget__request__descriptor, 3));
	assert_int_equal(r->base.n_unknown_fields, 1);
	budget__request__free_unpacked(r, NULL);
	evbuffer_free(b);
}

/*
 * Each 3-byte unknown field makes the protobuf decoder allocate tens of
 * bytes. A frame of them within the length limit must be refused by the
 * allocation cap (8 x max) rather than decoded; a few of them are fine.
 * Field 2047 is the highest with a 2-byte tag: far from any real field.
 */
#define TEST_UNKNOWN_FIELD 2047u

static size_t test_counted;

static void *
test_count_alloc(void *data, size_t size)
{
	(void)data;
	test_counted += size;
	return (malloc(size));
}

static void
test_count_free(void *data, void *p)
{
	(void)data;
	free(p);
}

static void
test_unpack_alloc_cap(void **state)
{
	const size_t       max = 64 * 1024, nfield = max / 3, len = nfield * 3;
	const uint32_t     tag = TEST_UNKNOWN_FIELD << 3 | 0; /* varint */
	ProtobufCAllocator count = {test_count_alloc, test_count_free, NULL};
	ProtobufCMessage  *m;
	struct evbuffer   *b;
	uint8_t           *p;
	size_t             i, few = 256;
	int                rc;

	(void)state;
	assert_null(protobuf_c_message_descriptor_get_field(
	    &budget__request__descriptor, TEST_UNKNOWN_FIELD));
	p = malloc(len);
	assert_non_null(p);
	for (i = 0; i < len; i += 3) {
		p[i] = (uint8_t)(tag | 0x80);
		p[i + 1] = (uint8_t)(tag >> 7);
		p[i + 2] = 0;
	}

	/* Without a cap, this frame does decode, and costs more than 8x. */
	test_counted = 0;
	m = protobuf_c_message_unpack(
	    &budget__request__descriptor, &count, len, p);
	assert_non_null(m);
	assert_int_equal(m->n_unknown_fields, nfield);
	protobuf_c_message_free_unpacked(m, &count);
	assert_true(test_counted > 8 * max + 4096);

	/* With the cap, it does not. */
	m = wire_unpack(&budget__request__descriptor, max, len, p);
	assert_null(m);

	/* The cap is not a ban on unknown fields: a few decode fine. */
	m = wire_unpack(&budget__request__descriptor, max, few * 3, p);
	assert_non_null(m);
	assert_int_equal(m->n_unknown_fields, few);
	protobuf_c_message_free_unpacked(m, NULL);

	/* And the same through wire_decode: a protocol error. */
	b = evbuffer_new();
	put_header(b, (uint32_t)len);
	evbuffer_add(b, p, len);
	m = (ProtobufCMessage *)decode_req(b, max, &rc);
	assert_int_equal(rc, WIRE_MALFORMED);
	assert_null(m);
	evbuffer_free(b);
	free(p);
}

/* Put a varint, or one or two raw bytes, in front of p[*at]. */
static void
test_prepend(uint8_t *p, size_t *at, uint64_t v, int raw)
{
	uint8_t tmp[10];
	size_t  n = 0;

	if (raw) {
		if (v > 0xff)
			tmp[n++] = (uint8_t)(v >> 8);
		tmp[n++] = (uint8_t)v;
	} else {
		for (; v >= 0x80; v >>= 7)
			tmp[n++] = (uint8_t)(v | 0x80);
		tmp[n++] = (uint8_t)v;
	}
	assert_true(n <= *at);
	*at -= n;
	memcpy(p + *at, tmp, n);
}

/*
 * A Request whose batch holds one op, a Request whose batch holds one op,
 * ... levels deep, the innermost a bare version. Built from the inside
 * out: each level is the tag of Request.batch (45, length-delimited: ea
 * 02), its length, the tag of BatchRequest.ops (1: 0a), its length and
 * the level below.
 */
static uint8_t *
test_nested_batch(unsigned levels, size_t *lenp)
{
	size_t   cap = 16 + (size_t)levels * 16, at = cap, end = cap, inner;
	uint8_t *p = malloc(cap);

	assert_non_null(p);
	test_prepend(p, &at, 0x0801, 1); /* version = 1 */
	while (levels-- > 0) {
		inner = end - at;
		test_prepend(p, &at, inner, 0);
		test_prepend(p, &at, 0x0a, 1);
		inner = end - at;
		test_prepend(p, &at, inner, 0);
		test_prepend(p, &at, 0xea02, 1);
	}
	*lenp = end - at;
	memmove(p, p + at, *lenp);
	return (p);
}

/*
 * protobuf-c recurses once per embedded message with no limit of its own:
 * wire_unpack refuses more than 32 levels, so that a small frame of
 * batches in batches cannot overflow the stack (fuzz regress
 * wire/stack-overflow-nested-batch). 15 batches are 31 levels, 16 are 33.
 */
static void
test_unpack_nesting(void **state)
{
	static const unsigned levels[] = {1, 15, 16, 10000};
	ProtobufCMessage     *m;
	Budget__Request      *r;
	uint8_t              *p;
	size_t                len, i, depth;

	(void)state;
	for (i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		p = test_nested_batch(levels[i], &len);
		/* What the builder made is what protobuf-c reads. */
		if (levels[i] < 100) {
			m = protobuf_c_message_unpack(
			    &budget__request__descriptor, NULL, len, p);
			assert_non_null(m);
			for (depth = 0, r = (Budget__Request *)m;
			     r->command_case == BUDGET__REQUEST__COMMAND_BATCH;
			     depth++) {
				assert_int_equal(r->batch->n_ops, 1);
				r = r->batch->ops[0];
			}
			assert_int_equal(depth, levels[i]);
			assert_int_equal(r->version, 1);
			protobuf_c_message_free_unpacked(m, NULL);
		}
		m = wire_unpack(
		    &budget__request__descriptor, BUDGET_FRAME_MAX, len, p);
		if (levels[i] <= 15) {
			assert_non_null(m);
			protobuf_c_message_free_unpacked(m, NULL);
		} else
			assert_null(m);
		free(p);
	}
}

/* Too large to encode: refused, and the buffer is left exactly as it was. */
static void
test_encode_too_large(void **state)
{
	struct evbuffer *b = evbuffer_new();
	Budget__Request  req;
	char             id[TEST_MAX + 2];
	uint8_t          copy[3];

	(void)state;
	evbuffer_add(b, "xyz", 3);
	assert_int_equal(req_sized(&req, id, TEST_MAX + 1), TEST_MAX + 1);
	assert_int_equal(wire_encode(b, TEST_MAX, &req.base), WIRE_TOO_LARGE);
	assert_int_equal(evbuffer_get_length(b), 3);
	assert_int_equal(evbuffer_copyout(b, copy, sizeof(copy)), 3);
	assert_memory_equal(copy, "xyz", 3);

	/* At exactly max it is accepted: header + payload appended. */
	assert_int_equal(req_sized(&req, id, TEST_MAX), TEST_MAX);
	assert_int_equal(wire_encode(b, TEST_MAX, &req.base), 0);
	assert_int_equal(
	    evbuffer_get_length(b), 3 + BUDGET_FRAME_HEADER + TEST_MAX);
	evbuffer_free(b);
}

/* The header is big-endian and the payload is the packed message. */
static void
test_encode_layout(void **state)
{
	struct evbuffer *b = evbuffer_new();
	Budget__Request  req = BUDGET__REQUEST__INIT;
	uint8_t          want[TEST_MAX], *got;
	size_t           len;

	(void)state;
	req.version = BUDGET_PROTOCOL_VERSION;
	req.request_id = wstr("layout");
	len = budget__request__pack(&req, want);
	assert_int_equal(wire_encode(b, TEST_MAX, &req.base), 0);
	assert_int_equal(evbuffer_get_length(b), BUDGET_FRAME_HEADER + len);
	got = evbuffer_pullup(b, -1);
	assert_int_equal(got[0], 0);
	assert_int_equal(got[1], 0);
	assert_int_equal(got[2], 0);
	assert_int_equal(got[3], len);
	assert_memory_equal(got + BUDGET_FRAME_HEADER, want, len);
	evbuffer_free(b);
}

/* Encode then decode gives back every field, for both message types. */
static void
test_round_trip(void **state)
{
	struct evbuffer      *b = evbuffer_new();
	Budget__Request       req = BUDGET__REQUEST__INIT, *r;
	Budget__StatusRequest st = BUDGET__STATUS_REQUEST__INIT;
	Budget__Response      resp = BUDGET__RESPONSE__INIT, *rr;
	Budget__Error         err = BUDGET__ERROR__INIT;
	ProtobufCMessage     *m = NULL;
	int                   rc;

	(void)state;
	req.version = BUDGET_PROTOCOL_VERSION;
	req.request_id = wstr("rt.1:A-z_9");
	req.command_case = BUDGET__REQUEST__COMMAND_STATUS;
	req.status = &st;
	assert_int_equal(wire_encode(b, BUDGET_FRAME_MAX, &req.base), 0);
	r = decode_req(b, BUDGET_FRAME_MAX, &rc);
	assert_int_equal(rc, WIRE_OK);
	assert_int_equal(r->version, BUDGET_PROTOCOL_VERSION);
	assert_string_equal(r->request_id, "rt.1:A-z_9");
	assert_int_equal(r->command_case, BUDGET__REQUEST__COMMAND_STATUS);
	assert_non_null(r->status);
	assert_int_equal(r->base.n_unknown_fields, 0);
	budget__request__free_unpacked(r, NULL);

	resp.request_id = wstr("rt.1:A-z_9");
	err.code = wstr("contract_budget_exceeded");
	err.message = wstr("only 12.00 left");
	resp.error = &err;
	resp.replayed = 1;
	assert_int_equal(wire_encode(b, BUDGET_FRAME_MAX, &resp.base), 0);
	rc =
	    wire_decode(b, BUDGET_FRAME_MAX, &budget__response__descriptor, &m);
	assert_int_equal(rc, WIRE_OK);
	rr = (Budget__Response *)m;
	assert_string_equal(rr->request_id, "rt.1:A-z_9");
	assert_non_null(rr->error);
	assert_string_equal(rr->error->code, "contract_budget_exceeded");
	assert_string_equal(rr->error->message, "only 12.00 left");
	assert_true(rr->replayed);
	assert_int_equal(rr->result_case, BUDGET__RESPONSE__RESULT__NOT_SET);
	budget__response__free_unpacked(rr, NULL);
	assert_int_equal(evbuffer_get_length(b), 0);
	evbuffer_free(b);
}

/* The blocking pair over a socketpair, in both directions. */
static void
test_fd_round_trip(void **state)
{
	Budget__Request   req = BUDGET__REQUEST__INIT, *r;
	ProtobufCMessage *m;
	int               sv[2], i;

	(void)state;
	make_pair(sv);
	req.version = BUDGET_PROTOCOL_VERSION;
	for (i = 0; i < 2; i++) {
		req.request_id = wstr(i == 0 ? "fd-1" : "fd-2");
		assert_int_equal(wire_write_fd(sv[1], TEST_MAX, &req.base), 0);
	}
	for (i = 0; i < 2; i++) {
		assert_int_equal(wire_read_fd(sv[0], TEST_MAX,
				     &budget__request__descriptor, &m),
		    WIRE_OK);
		r = (Budget__Request *)m;
		assert_string_equal(r->request_id, i == 0 ? "fd-1" : "fd-2");
		budget__request__free_unpacked(r, NULL);
	}
	close(sv[0]);
	close(sv[1]);
}

/*
 * A frame much larger than the socket buffer, written by another process:
 * both sides must loop over short writes and short reads.
 */
static void
test_fd_large_frame(void **state)
{
	const size_t      n = 600 * 1024;
	Budget__Request   req, *r;
	ProtobufCMessage *m;
	char             *id;
	pid_t             pid;
	int               sv[2], status;

	(void)state;
	id = malloc(n + 1);
	assert_non_null(id);
	req_fill(&req, id, n);
	make_pair(sv);
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		close(sv[0]);
		_exit(wire_write_fd(sv[1], BUDGET_FRAME_MAX, &req.base) == 0
			? 0
			: 1);
	}
	close(sv[1]);
	assert_int_equal(wire_read_fd(sv[0], BUDGET_FRAME_MAX,
			     &budget__request__descriptor, &m),
	    WIRE_OK);
	r = (Budget__Request *)m;
	assert_int_equal(strlen(r->request_id), n);
	assert_string_equal(r->request_id, id);
	budget__request__free_unpacked(r, NULL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(sv[0]);
	free(id);
}

/* A signal interrupting the blocking read is not an error: it retries. */
static void
test_fd_eintr(void **state)
{
	struct sigaction  sa, old;
	struct itimerval  it;
	Budget__Request   req = BUDGET__REQUEST__INIT, *r;
	ProtobufCMessage *m;
	pid_t             pid;
	int               sv[2], status;

	(void)state;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = test_sigalrm_cb;
	sa.sa_flags = 0; /* no SA_RESTART: read(2) fails with EINTR */
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGALRM, &sa, &old), 0);
	req.version = BUDGET_PROTOCOL_VERSION;
	req.request_id = wstr("after-a-signal");
	make_pair(sv);
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		close(sv[0]);
		usleep(500 * 1000);
		_exit(wire_write_fd(sv[1], TEST_MAX, &req.base) == 0 ? 0 : 1);
	}
	close(sv[1]);
	test_alarms = 0;
	memset(&it, 0, sizeof(it));
	it.it_value.tv_usec = 50 * 1000;
	assert_int_equal(setitimer(ITIMER_REAL, &it, NULL), 0);
	assert_int_equal(
	    wire_read_fd(sv[0], TEST_MAX, &budget__request__descriptor, &m),
	    WIRE_OK);
	assert_int_equal(test_alarms, 1);
	r = (Budget__Request *)m;
	assert_string_equal(r->request_id, "after-a-signal");
	budget__request__free_unpacked(r, NULL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(sigaction(SIGALRM, &old, NULL), 0);
	close(sv[0]);
}

/* The peer closes before, inside the header, and inside the payload. */
static void
test_fd_peer_closes(void **state)
{
	ProtobufCMessage *m;
	uint8_t           half[2] = {0, 0};
	int               sv[2], cut;

	(void)state;
	for (cut = 0; cut < 3; cut++) {
		make_pair(sv);
		if (cut == 1)
			assert_int_equal(wire_write_all(sv[1], half, 2), 0);
		if (cut == 2) {
			write_header(sv[1], 20);
			assert_int_equal(
			    wire_write_all(sv[1], "\x08\x01\x12", 3), 0);
		}
		close(sv[1]);
		errno = EINVAL;
		assert_int_equal(wire_read_fd(sv[0], TEST_MAX,
				     &budget__request__descriptor, &m),
		    WIRE_IO);
		assert_int_equal(errno, 0); /* a clean close, not a failure */
		assert_null(m);
		close(sv[0]);
	}
}

/*
 * Lengths above max are refused from the header alone: the peer sends no
 * payload and keeps the socket open, so a reader that waited would time
 * out with WIRE_IO instead.
 */
static void
test_fd_too_large(void **state)
{
	static const uint32_t lens[] = {TEST_MAX + 1, 0xFFFFFFFFu, 0};
	ProtobufCMessage     *m;
	size_t                i;
	int                   sv[2];

	(void)state;
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		make_pair(sv);
		write_header(sv[1], lens[i]);
		assert_int_equal(wire_read_fd(sv[0], TEST_MAX,
				     &budget__request__descriptor, &m),
		    WIRE_TOO_LARGE);
		assert_null(m);
		close(sv[0]);
		close(sv[1]);
	}
}

/* A garbage payload of a well-formed frame: WIRE_MALFORMED. */
static void
test_fd_malformed(void **state)
{
	ProtobufCMessage *m;
	int               sv[2];

	(void)state;
	make_pair(sv);
	write_header(sv[1], 5);
	assert_int_equal(wire_write_all(sv[1], "\xff\xff\xff\xff\xff", 5), 0);
	assert_int_equal(
	    wire_read_fd(sv[0], TEST_MAX, &budget__request__descriptor, &m),
	    WIRE_MALFORMED);
	assert_null(m);
	close(sv[0]);
	close(sv[1]);
}

/* wire_write_fd: too large writes nothing; a closed peer is WIRE_IO. */
static void
test_fd_write_errors(void **state)
{
	Budget__Request req;
	char            id[TEST_MAX + 2];
	uint8_t         c;
	void (*oldpipe)(int);
	int sv[2];

	(void)state;
	make_pair(sv);
	assert_int_equal(req_sized(&req, id, TEST_MAX + 1), TEST_MAX + 1);
	assert_int_equal(
	    wire_write_fd(sv[1], TEST_MAX, &req.base), WIRE_TOO_LARGE);
	assert_int_equal(recv(sv[0], &c, 1, MSG_DONTWAIT), -1);
	assert_true(errno == EAGAIN || errno == EWOULDBLOCK);

	/* The caller is expected to ignore SIGPIPE, as budgetd does. */
	oldpipe = signal(SIGPIPE, SIG_IGN);
	close(sv[0]);
	assert_int_equal(
	    wire_write_fd(sv[1], TEST_MAX + 1, &req.base), WIRE_IO);
	assert_int_equal(errno, EPIPE);
	signal(SIGPIPE, oldpipe);
	close(sv[1]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_decode_len_zero),
	    cmocka_unit_test(test_decode_len_max),
	    cmocka_unit_test(test_decode_len_max_plus_one),
	    cmocka_unit_test(test_decode_len_huge),
	    cmocka_unit_test(test_decode_short_header),
	    cmocka_unit_test(test_decode_byte_by_byte),
	    cmocka_unit_test(test_decode_several_frames),
	    cmocka_unit_test(test_decode_garbage),
	    cmocka_unit_test(test_decode_wrong_message),
	    cmocka_unit_test(test_unpack_alloc_cap),
	    cmocka_unit_test(test_unpack_nesting),
	    cmocka_unit_test(test_encode_too_large),
	    cmocka_unit_test(test_encode_layout),
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_fd_round_trip),
	    cmocka_unit_test(test_fd_large_frame),
	    cmocka_unit_test(test_fd_eintr),
	    cmocka_unit_test(test_fd_peer_closes),
	    cmocka_unit_test(test_fd_too_large),
	    cmocka_unit_test(test_fd_malformed),
	    cmocka_unit_test(test_fd_write_errors),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
