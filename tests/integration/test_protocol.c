/*
 * test_protocol.c: the wire protocol against hostile and careless clients
 * (SPEC §6): every kind of bad frame gets exactly one error Response and a
 * close, never hurts the daemon or its other clients, and never makes it
 * allocate what a length field claims; and pipelined requests are answered
 * in order, on one connection or on many at once. Each case runs on a
 * fresh daemon, on a fresh connection, with a well-behaved client served
 * before, during and after.
 */
#include <sys/socket.h>

#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

/* A hostile frame must not cost the daemon anything like its length. */
#define MEM_GROWTH_MAX (4 * 1024 * 1024)

/* Requests pipelined in one write. */
#define PIPELINE_N    100
/* Requests pipelined before a half-close: many fairness rounds' worth. */
#define HALF_CLOSE_N  2000
/*
 * Requests pipelined before reading any answer: their answers (some
 * hundreds of bytes each) are many times what a socket buffers.
 */
#define FULL_SOCKET_N 6000
/* Concurrent connections, and requests pipelined on each. */
#define MANY_CONNS    64
#define MANY_PIPELINE 20

static int  setup_daemon(void **);
static int  good_begin(struct h_daemon *);
static void good_end(struct h_daemon *, int);
static void
send_bad_then_expect(struct h_daemon *, const void *, size_t, const char *);

static int
setup_daemon(void **state)
{
	*state = h_daemon_up(NULL);
	return (0);
}

/* A well-behaved client, connected and served before the hostile one. */
static int
good_begin(struct h_daemon *d)
{
	int fd;

	h_assert_serving(d);
	fd = h_connect(d);
	h_send_status(fd, "good-before");
	h_expect_status(fd, "good-before");
	return (fd);
}

/* ...and still served after it, on its old and on a new connection. */
static void
good_end(struct h_daemon *d, int fd)
{
	h_send_status(fd, "good-after");
	h_expect_status(fd, "good-after");
	close(fd);
	h_assert_serving(d);
}

/*
 * On a fresh connection: send these bytes, expect one error Response with
 * this code, then the close. The daemon may answer and close before it
 * has read everything (a bad header is enough): a failed send is fine.
 */
static void
send_bad_then_expect(
    struct h_daemon *d, const void *bytes, size_t len, const char *code)
{
	int good = good_begin(d), fd;

	fd = h_connect(d);
	(void)h_send_try(fd, bytes, len);
	h_expect_error(fd, code, NULL);
	h_expect_closed(fd);
	good_end(d, good);
}

/* Something that is not our protocol at all: an HTTP request. */
static void
test_garbage_http(void **state)
{
	static const char http[] = "GET / HTTP/1.1\r\nHost: budgetd\r\n\r\n";

	/* "GET " read as a length is about 1.2 GB: too large. */
	send_bad_then_expect(*state, http, sizeof(http) - 1, "frame_too_large");
}

/* A plausible length followed by bytes that are not protobuf. */
static void
test_garbage_payload(void **state)
{
	static const uint8_t junk[] = {
	    0, 0, 0, 6, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

	send_bad_then_expect(*state, junk, sizeof(junk), "malformed_frame");
}

static void
test_length_zero(void **state)
{
	static const uint8_t zero[] = {0, 0, 0, 0};

	send_bad_then_expect(*state, zero, sizeof(zero), "frame_too_large");
}

/* One byte above the default limit: refused on the header alone. */
static void
test_length_above_max(void **state)
{
	uint32_t be = htonl(BUDGET_FRAME_MAX + 1);

	send_bad_then_expect(*state, &be, sizeof(be), "frame_too_large");
}

/* The same with the (oversized) body following: still refused, still up. */
static void
test_length_above_max_with_body(void **state)
{
	struct h_daemon *d = *state;
	size_t           len = 4 + BUDGET_FRAME_MAX + 1;
	uint8_t         *buf = calloc(1, len);
	uint32_t         be = htonl(BUDGET_FRAME_MAX + 1);
	int              good, fd;

	assert_non_null(buf);
	memcpy(buf, &be, sizeof(be));
	good = good_begin(d);
	fd = h_connect(d);
	/* The daemon may close before it has it all: EPIPE is fine. */
	(void)h_send_try(fd, buf, len);
	free(buf);
	h_expect_error(fd, "frame_too_large", NULL);
	assert_true(h_wait_closed(fd, H_DEADLINE_MS, NULL));
	close(fd);
	good_end(d, good);
}

/*
 * 0xFFFFFFFF: a 4 GiB frame announced. Refused at once, and the daemon's
 * memory does not grow by anything like the announced size.
 */
static void
test_length_ffffffff(void **state)
{
	struct h_daemon *d = *state;
	struct h_mem     before, after;
	uint8_t          buf[4 + 65536];
	int              good, fd;

	memset(buf, 0xab, sizeof(buf));
	memset(buf, 0xff, 4);
	good = good_begin(d);
	h_daemon_mem(d, &before);
	fd = h_connect(d);
	(void)h_send_try(fd, buf, sizeof(buf));
	h_expect_error(fd, "frame_too_large", NULL);
	assert_true(h_wait_closed(fd, H_DEADLINE_MS, NULL));
	close(fd);
	h_daemon_mem(d, &after);
	print_message("RSS %lld -> %lld KiB, anon %lld -> %lld KiB\n",
	    (long long)before.vm_rss / 1024, (long long)after.vm_rss / 1024,
	    (long long)before.rss_anon / 1024,
	    (long long)after.rss_anon / 1024);
	assert_true(after.vm_rss - before.vm_rss < MEM_GROWTH_MAX);
	assert_true(after.rss_anon - before.rss_anon < MEM_GROWTH_MAX);
	good_end(d, good);
}

/* Half a frame, then the client goes away: nothing to answer, no harm. */
static void
test_half_frame_then_close(void **state)
{
	struct h_daemon *d = *state;
	uint8_t          frame[64];
	size_t           len;
	int              good, fd;

	good = good_begin(d);
	len = h_pack_status(frame, sizeof(frame), 1, "half");
	fd = h_connect(d);
	h_send(fd, frame, len / 2);
	close(fd);

	/* Only the header, or only part of it. */
	fd = h_connect(d);
	h_send(fd, frame, 4);
	close(fd);
	fd = h_connect(d);
	h_send(fd, frame, 2);
	close(fd);

	h_wait_connections(good, 1);
	good_end(d, good);
}

/* A Request of the right version with no command at all. */
static void
test_no_command(void **state)
{
	struct h_daemon *d = *state;
	Budget__Request  req = BUDGET__REQUEST__INIT;
	int              good, fd;

	good = good_begin(d);
	req.version = BUDGET_PROTOCOL_VERSION;
	req.request_id = H_STR("no-command");
	fd = h_connect(d);
	h_send_request(fd, &req);
	h_expect_error(fd, "unknown_command", NULL);
	h_expect_closed(fd);
	good_end(d, good);
}

/* Append n as a protobuf varint; returns the bytes written. */
static size_t
put_varint(uint8_t *p, uint32_t n)
{
	size_t i = 0;

	while (n >= 0x80) {
		p[i++] = (uint8_t)(n | 0x80);
		n >>= 7;
	}
	p[i++] = (uint8_t)n;
	return (i);
}

/*
 * A Request of version 1, request id "uc", carrying an empty message in
 * field number field, as a newer client would send a command this daemon
 * does not know.
 */
static void
send_unknown_field(struct h_daemon *d, uint32_t field)
{
	uint8_t  buf[64], *p = buf + 4;
	uint32_t be;

	p += put_varint(p, (1u << 3) | 0); /* version = 1 */
	*p++ = 1;
	p += put_varint(p, (2u << 3) | 2); /* request_id = "uc" */
	*p++ = 2;
	*p++ = 'u';
	*p++ = 'c';
	p += put_varint(p, (field << 3) | 2); /* field = {} */
	*p++ = 0;
	be = htonl((uint32_t)(p - buf - 4));
	memcpy(buf, &be, sizeof(be));
	send_bad_then_expect(d, buf, (size_t)(p - buf), "unknown_command");
}

/*
 * Field numbers the daemon does not know: the highest one of the command
 * range (below 128) that this build's Request does not define, whatever
 * commands are added later, and some beyond the range.
 */
static void
test_unknown_command_field(void **state)
{
	uint32_t n;

	for (n = 127; n > 16; n--) {
		if (protobuf_c_message_descriptor_get_field(
			&budget__request__descriptor, n) == NULL)
			break;
	}
	assert_true(n > 16);
	send_unknown_field(*state, n);
	send_unknown_field(*state, 128);
	send_unknown_field(*state, 100000);
}

static void
test_version_2(void **state)
{
	uint8_t frame[64];
	size_t  len = h_pack_status(frame, sizeof(frame), 2, "v2");

	send_bad_then_expect(*state, frame, len, "unsupported_version");
}

/* Version 0 is what a client gets that forgot to set it. */
static void
test_version_0(void **state)
{
	uint8_t frame[64];
	size_t  len = h_pack_status(frame, sizeof(frame), 0, "v0");

	send_bad_then_expect(*state, frame, len, "unsupported_version");
}

/* Pack a Response as a frame, as a confused client might send it. */
static size_t
pack_response(const Budget__Response *resp, uint8_t *buf, size_t size)
{
	size_t   len = budget__response__get_packed_size(resp);
	uint32_t be = htonl((uint32_t)len);

	assert_true(4 + len <= size);
	memcpy(buf, &be, sizeof(be));
	budget__response__pack(resp, buf + 4);
	return (4 + len);
}

/*
 * Valid protobuf of the wrong message: a Response sent as a Request. A
 * status result's Response carries field 1 as a string where Request has
 * the varint version: it does not decode as a Request.
 */
static void
test_response_as_request(void **state)
{
	Budget__Response     resp = BUDGET__RESPONSE__INIT;
	Budget__StatusResult st = BUDGET__STATUS_RESULT__INIT;
	uint8_t              frame[256];
	size_t               len;

	resp.request_id = H_STR("r-1");
	resp.result_case = BUDGET__RESPONSE__RESULT_STATUS;
	resp.status = &st;
	st.version = H_STR("0.1.0");
	st.protocol = 1;
	st.datadir = H_STR("/nowhere");
	len = pack_response(&resp, frame, sizeof(frame));
	send_bad_then_expect(*state, frame, len, "malformed_frame");
}

/*
 * An error Response without request id decodes as a Request (field 2 is a
 * string in both) of version 0, so it is refused for its version.
 */
static void
test_error_response_as_request(void **state)
{
	Budget__Response resp = BUDGET__RESPONSE__INIT;
	Budget__Error    err = BUDGET__ERROR__INIT;
	uint8_t          frame[256];
	size_t           len;

	err.code = H_STR("not_found");
	err.message = H_STR("no such thing");
	resp.error = &err;
	len = pack_response(&resp, frame, sizeof(frame));
	send_bad_then_expect(*state, frame, len, "unsupported_version");
}

/*
 * A valid status Request of exactly len payload bytes: padded with an
 * unknown field (number 100000), which a daemon must skip. len must be
 * between 16 KiB and 2 MiB so that the padding's length is 3 varint bytes.
 */
static uint8_t *
pack_padded_status(size_t len, const char *rid)
{
	uint8_t *buf = malloc(4 + len), *p;
	size_t   base, pad;
	uint32_t be;

	assert_non_null(buf);
	base = h_pack_status(buf, 4 + len, 1, rid) - 4;
	pad = len - base - 3 - 3; /* tag (3 bytes) and length (3) */
	p = buf + 4 + base;
	p += put_varint(p, (100000u << 3) | 2);
	assert_int_equal(put_varint(p, (uint32_t)pad), 3);
	p += 3;
	memset(p, 'x', pad);
	be = htonl((uint32_t)len);
	memcpy(buf, &be, sizeof(be));
	return (buf);
}

/* The limit itself is allowed: a valid Request of exactly 1 MiB. */
static void
test_frame_at_limit_served(void **state)
{
	struct h_daemon *d = *state;
	uint8_t         *buf = pack_padded_status(BUDGET_FRAME_MAX, "at-max");
	int              good, fd;

	good = good_begin(d);
	fd = h_connect(d);
	h_send(fd, buf, 4 + BUDGET_FRAME_MAX);
	free(buf);
	h_expect_status(fd, "at-max");
	close(fd);
	good_end(d, good);
}

/* frame_max from the config: 64 KiB served, one byte more refused. */
static void
test_frame_max_configured(void **state)
{
	struct h_daemon *d;
	uint8_t         *buf;
	int              fd;

	d = *state;
	*state = NULL;
	h_daemon_teardown(d);
	*state = d = h_daemon_up("[limits]\nframe_max = 64KiB\n");
	buf = pack_padded_status(65536, "64k");
	fd = h_connect(d);
	h_send(fd, buf, 4 + 65536);
	free(buf);
	h_expect_status(fd, "64k");
	close(fd);

	buf = pack_padded_status(65537, "64k-and-1");
	send_bad_then_expect(d, buf, 4 + 65537, "frame_too_large");
	free(buf);
}

/* A frame of exactly the limit whose payload is not protobuf. */
static void
test_garbage_1mib(void **state)
{
	size_t   len = 4 + BUDGET_FRAME_MAX;
	uint8_t *buf = malloc(len);
	uint32_t be = htonl(BUDGET_FRAME_MAX);

	assert_non_null(buf);
	/* 0xff...: a varint that never ends. */
	memset(buf, 0xff, len);
	memcpy(buf, &be, sizeof(be));
	send_bad_then_expect(*state, buf, len, "malformed_frame");
	free(buf);
}

/*
 * A bad frame after good ones on the same connection: the answers owed
 * come first, then the error, then the close.
 */
static void
test_answers_owed_before_error(void **state)
{
	struct h_daemon *d = *state;
	uint8_t          buf[256];
	size_t           len;
	int              good, fd;

	good = good_begin(d);
	len = h_pack_status(buf, sizeof(buf), 1, "owed-1");
	len += h_pack_status(buf + len, sizeof(buf) - len, 1, "owed-2");
	memset(buf + len, 0, 4);
	len += 4;
	fd = h_connect(d);
	h_send(fd, buf, len);
	h_expect_status(fd, "owed-1");
	h_expect_status(fd, "owed-2");
	h_expect_error(fd, "frame_too_large", NULL);
	h_expect_closed(fd);
	good_end(d, good);
}

/* Send n status requests "prefix-0".. on fd, in one write. */
static void
send_pipeline(int fd, const char *prefix, int n)
{
	uint8_t *buf = malloc((size_t)n * 64);
	char     rid[64];
	size_t   len = 0;
	int      i;

	assert_non_null(buf);
	for (i = 0; i < n; i++) {
		snprintf(rid, sizeof(rid), "%s-%d", prefix, i);
		len += h_pack_status(buf + len, (size_t)n * 64 - len, 1, rid);
	}
	h_send(fd, buf, len);
	free(buf);
}

/* Read the answers to send_pipeline's requests: all of them, in order. */
static void
expect_pipeline(int fd, const char *prefix, int n)
{
	char rid[64];
	int  i;

	for (i = 0; i < n; i++) {
		snprintf(rid, sizeof(rid), "%s-%d", prefix, i);
		h_expect_status(fd, rid);
	}
}

/* Many requests in one write: all answered, in order. */
static void
test_pipelining(void **state)
{
	struct h_daemon *d = *state;
	int              good, fd;

	good = good_begin(d);
	fd = h_connect(d);
	send_pipeline(fd, "pipe", PIPELINE_N);
	expect_pipeline(fd, "pipe", PIPELINE_N);
	/* The connection stays usable. */
	h_send_status(fd, "pipe-after");
	h_expect_status(fd, "pipe-after");
	close(fd);
	good_end(d, good);
}

/*
 * Answers go straight to the socket while nothing is queued before them,
 * and through the output buffer once the socket is full: a client that
 * sends thousands of requests before reading gets every answer, whole and
 * in order, then one more once the backlog has drained.
 */
static void
test_answers_past_a_full_socket(void **state)
{
	struct h_daemon *d = *state;
	int              good, fd;

	good = good_begin(d);
	fd = h_connect(d);
	send_pipeline(fd, "full", FULL_SOCKET_N);
	expect_pipeline(fd, "full", FULL_SOCKET_N);
	h_send_status(fd, "full-after");
	h_expect_status(fd, "full-after");
	close(fd);
	good_end(d, good);
}

/*
 * A client that pipelines and then shuts down its sending side (as
 * "printf ... | nc -U" does) still gets an answer to every request it
 * sent: a half-close is not a reason to drop requests already received.
 */
static void
test_pipelining_then_half_close(void **state)
{
	struct h_daemon *d = *state;
	size_t           extra;
	int              good, fd;

	good = good_begin(d);
	fd = h_connect(d);
	send_pipeline(fd, "hc", HALF_CLOSE_N);
	assert_int_equal(shutdown(fd, SHUT_WR), 0);
	expect_pipeline(fd, "hc", HALF_CLOSE_N);
	assert_true(h_wait_closed(fd, H_DEADLINE_MS, &extra));
	assert_int_equal(extra, 0);
	close(fd);
	good_end(d, good);
}

/*
 * Many clients at once, each pipelining: every connection gets its own
 * answers, in its own order.
 */
static void
test_many_connections_pipelining(void **state)
{
	struct h_daemon *d = *state;
	char             prefix[32];
	int              fds[MANY_CONNS], i;

	for (i = 0; i < MANY_CONNS; i++)
		fds[i] = h_connect(d);
	for (i = 0; i < MANY_CONNS; i++) {
		snprintf(prefix, sizeof(prefix), "c%d", i);
		send_pipeline(fds[i], prefix, MANY_PIPELINE);
	}
	for (i = MANY_CONNS - 1; i >= 0; i--) {
		snprintf(prefix, sizeof(prefix), "c%d", i);
		expect_pipeline(fds[i], prefix, MANY_PIPELINE);
	}
	assert_int_equal(h_status_connections(fds[0]), MANY_CONNS);
	for (i = 0; i < MANY_CONNS; i++)
		close(fds[i]);
	h_assert_serving(d);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup_daemon, h_teardown)
	const struct CMUnitTest tests[] = {
	    T(test_garbage_http),
	    T(test_garbage_payload),
	    T(test_length_zero),
	    T(test_length_above_max),
	    T(test_length_above_max_with_body),
	    T(test_length_ffffffff),
	    T(test_half_frame_then_close),
	    T(test_no_command),
	    T(test_unknown_command_field),
	    T(test_version_2),
	    T(test_version_0),
	    T(test_response_as_request),
	    T(test_error_response_as_request),
	    T(test_frame_at_limit_served),
	    T(test_frame_max_configured),
	    T(test_garbage_1mib),
	    T(test_answers_owed_before_error),
	    T(test_pipelining),
	    T(test_answers_past_a_full_socket),
	    T(test_pipelining_then_half_close),
	    T(test_many_connections_pipelining),
	};
#undef T

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
