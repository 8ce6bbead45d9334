/*
 * wire.c: the frame codec, shared by budgetd (evbuffer side) and budgetctl
 * and the tests (blocking fd side). Owns the rule that a length is checked
 * against the limit before a single payload byte is buffered or allocated.
 */
#include <arpa/inet.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "budget/protocol.h"

/*
 * The protobuf decoder allocates structures per field; a frame of many tiny
 * repeated or unknown fields can make it allocate several times the frame
 * size. This allocator refuses once that passes a fixed multiple of the
 * frame limit, which turns such a frame into WIRE_MALFORMED.
 */
#define WIRE_ALLOC_FACTOR 8u

/*
 * protobuf-c unpacks an embedded message by recursion, with no depth limit:
 * a batch of a batch of a batch ... 6,000 deep (under 50 KB) overflows an
 * 8 MiB stack. What budgetd sends or accepts nests 6 deep at most.
 */
#define WIRE_DEPTH_MAX 32u

struct wire_budget {
	size_t left;
};

static void *wire_alloc(void *, size_t);
static void  wire_free(void *, void *);
static int wire_varint(const uint8_t **, const uint8_t *, unsigned, uint64_t *);
static int wire_nesting_ok(
    const ProtobufCMessageDescriptor *, const uint8_t *, size_t, unsigned);

static void *
wire_alloc(void *data, size_t size)
{
	struct wire_budget *b = data;

	if (size > b->left)
		return (NULL);
	b->left -= size;
	return (malloc(size));
}

static void
wire_free(void *data, void *p)
{
	(void)data;
	free(p);
}

/*
 * A varint of at most max (10 or fewer) bytes at *p, bits past 64
 * dropped; -1 when it is longer or runs past end.
 */
static int
wire_varint(const uint8_t **p, const uint8_t *end, unsigned max, uint64_t *v)
{
	unsigned i;

	*v = 0;
	for (i = 0; i < max && *p < end; i++) {
		*v |= (uint64_t)(**p & 0x7f) << (7 * i);
		if ((*(*p)++ & 0x80) == 0)
			return (0);
	}
	return (-1);
}

/*
 * Whether the message of type d in p[0..len) nests embedded messages at
 * most WIRE_DEPTH_MAX deep (depth is this message's). It walks tags and
 * lengths as protobuf-c does, and where it stops on bytes it cannot read,
 * protobuf-c refuses them too, before it goes down a level.
 */
static int
wire_nesting_ok(const ProtobufCMessageDescriptor *d, const uint8_t *p,
    size_t len, unsigned depth)
{
	const ProtobufCFieldDescriptor *f;
	const uint8_t                  *end = p + len;
	uint64_t                        tag, n;

	if (depth > WIRE_DEPTH_MAX)
		return (0);
	while (p < end) {
		/*
		 * Tags and lengths as protobuf-c reads them: 5 bytes at most,
		 * and what does not fit in 32 bits dropped.
		 */
		if (wire_varint(&p, end, 5, &tag) == -1)
			return (1);
		switch (tag & 7) {
		case 0:
			if (wire_varint(&p, end, 10, &n) == -1)
				return (1);
			break;
		case 1:
		case 5:
			n = (tag & 7) == 1 ? 8 : 4;
			if (n > (size_t)(end - p))
				return (1);
			p += n;
			break;
		case 2:
			if (wire_varint(&p, end, 5, &n) == -1 ||
			    (uint32_t)n > (size_t)(end - p))
				return (1);
			n = (uint32_t)n;
			f = protobuf_c_message_descriptor_get_field(
			    d, (uint32_t)(tag >> 3));
			if (f != NULL && f->type == PROTOBUF_C_TYPE_MESSAGE &&
			    !wire_nesting_ok(f->descriptor, p, n, depth + 1))
				return (0);
			p += n;
			break;
		default:
			return (1); /* groups: protobuf-c refuses them */
		}
	}
	return (1);
}

ProtobufCMessage *
wire_unpack(const ProtobufCMessageDescriptor *d, size_t max, size_t len,
    const uint8_t *data)
{
	struct wire_budget budget;
	ProtobufCAllocator alloc;

	/* Freed later with the default allocator: ours is malloc underneath. */
	budget.left = max * WIRE_ALLOC_FACTOR + 4096;
	alloc.alloc = wire_alloc;
	alloc.free = wire_free;
	alloc.allocator_data = &budget;
	if (!wire_nesting_ok(d, data, len, 1))
		return (NULL);
	return (protobuf_c_message_unpack(d, &alloc, len, data));
}

int
wire_decode(struct evbuffer *in, size_t max,
    const ProtobufCMessageDescriptor *d, ProtobufCMessage **out)
{
	uint32_t be;
	size_t   n, need;
	uint8_t *p;

	*out = NULL;
	if (evbuffer_get_length(in) < BUDGET_FRAME_HEADER)
		return (WIRE_MORE);
	if (evbuffer_copyout(in, &be, sizeof(be)) != (ssize_t)sizeof(be))
		return (WIRE_MORE);
	n = ntohl(be);
	if (n == 0 || n > max)
		return (WIRE_TOO_LARGE);
	need = BUDGET_FRAME_HEADER + n;
	if (evbuffer_get_length(in) < need)
		return (WIRE_MORE);

	evbuffer_drain(in, BUDGET_FRAME_HEADER);
	p = evbuffer_pullup(in, (ssize_t)n);
	if (p == NULL) {
		evbuffer_drain(in, n);
		return (WIRE_MALFORMED);
	}
	*out = wire_unpack(d, max, n, p);
	evbuffer_drain(in, n);
	return (*out != NULL ? WIRE_OK : WIRE_MALFORMED);
}

int
wire_encode(struct evbuffer *out, size_t max, const ProtobufCMessage *msg)
{
	struct evbuffer_iovec v;
	size_t                len;
	uint32_t              be;
	uint8_t              *p;

	len = protobuf_c_message_get_packed_size(msg);
	if (len > max)
		return (WIRE_TOO_LARGE);
	/* A message that packs to nothing would be a length-0 frame, which
	 * the protocol forbids: callers always set a version or a result. */
	if (len == 0)
		return (WIRE_MALFORMED);
	if (evbuffer_reserve_space(
		out, (ev_ssize_t)(BUDGET_FRAME_HEADER + len), &v, 1) != 1)
		return (WIRE_IO);
	p = v.iov_base;
	be = htonl((uint32_t)len);
	memcpy(p, &be, sizeof(be));
	protobuf_c_message_pack(msg, p + BUDGET_FRAME_HEADER);
	v.iov_len = BUDGET_FRAME_HEADER + len;
	if (evbuffer_commit_space(out, &v, 1) != 0)
		return (WIRE_IO);
	return (0);
}

int
wire_write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	ssize_t        n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		p += n;
		len -= (size_t)n;
	}
	return (0);
}

int
wire_read_all(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;
	ssize_t  n;

	while (len > 0) {
		n = read(fd, p, len);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		if (n == 0) {
			errno = 0; /* closed by the peer */
			return (-1);
		}
		p += n;
		len -= (size_t)n;
	}
	return (0);
}

int
wire_write_fd(int fd, size_t max, const ProtobufCMessage *msg)
{
	uint8_t *buf;
	size_t   len;
	uint32_t be;
	int      rc, saved;

	len = protobuf_c_message_get_packed_size(msg);
	if (len > max)
		return (WIRE_TOO_LARGE);
	if (len == 0)
		return (WIRE_MALFORMED);
	if ((buf = malloc(BUDGET_FRAME_HEADER + len)) == NULL)
		return (WIRE_IO);
	be = htonl((uint32_t)len);
	memcpy(buf, &be, sizeof(be));
	protobuf_c_message_pack(msg, buf + BUDGET_FRAME_HEADER);
	rc = wire_write_all(fd, buf, BUDGET_FRAME_HEADER + len);
	saved = errno;
	free(buf);
	errno = saved;
	return (rc == 0 ? 0 : WIRE_IO);
}

int
wire_read_fd(int fd, size_t max, const ProtobufCMessageDescriptor *d,
    ProtobufCMessage **out)
{
	uint8_t *buf;
	uint32_t be;
	size_t   n;
	int      saved;

	*out = NULL;
	if (wire_read_all(fd, &be, sizeof(be)) == -1)
		return (WIRE_IO);
	n = ntohl(be);
	if (n == 0 || n > max)
		return (WIRE_TOO_LARGE);
	if ((buf = malloc(n)) == NULL)
		return (WIRE_IO);
	if (wire_read_all(fd, buf, n) == -1) {
		saved = errno;
		free(buf);
		errno = saved;
		return (WIRE_IO);
	}
	*out = wire_unpack(d, max, n, buf);
	free(buf);
	return (*out != NULL ? WIRE_OK : WIRE_MALFORMED);
}
