/*
 * test_hostile.c: hostile clients (issue #5, "Limits"; SPEC §6). Each
 * scenario runs while a well-behaved client (ops.h, in a child process)
 * completes 1,000 requests, every answer checked: a client sending a
 * frame one byte a second; 1,000 idle connections; connections beyond the
 * global and the per-uid cap; a client that pipelines and never reads
 * (bounded memory, then the stuck-write timeout); oversized, malformed
 * and random frames; and a daemon out of descriptors (EMFILE: accepting
 * pauses instead of spinning, and resumes).
 *
 * Timeouts in the configs are short so that the tests are too; the only
 * timing asserted is "within a generous deadline" and, for EMFILE, a CPU
 * time far below a busy loop's.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <arpa/inet.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ops.h"

/* Requests of the well-behaved client in every scenario. */
#define GOOD_N 1000

/* Idle connections, and the caps that let them in. */
#define IDLE_N 1000
#define IDLE_CONFIG \
	"[limits]\nmax_connections = 1100\nmax_connections_per_uid = 1100\n"

/* A generous bound for "closed by a timeout of a few seconds". */
#define CLOSE_MS 15000

/*
 * What a client that never reads may cost the daemon (as test_limits.c):
 * its output cap (4 MiB), one frame of input and the allocator's slack;
 * AddressSanitizer's quarantine and shadow memory make more stay resident.
 */
#if defined(__SANITIZE_ADDRESS__)
#define T5_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define T5_ASAN 1
#endif
#endif
#ifdef T5_ASAN
#define FLOOD_MEM_GROWTH_MAX (160 * 1024 * 1024)
#define IDLE_MEM_PER_CONN    (256 * 1024)
#else
#define FLOOD_MEM_GROWTH_MAX (32 * 1024 * 1024)
#define IDLE_MEM_PER_CONN    (64 * 1024)
#endif

/*
 * Bytes a flooding client may get accepted before the daemon pushes back
 * (it holds a few MiB of answers and a frame of input), and how often the
 * flood looks at the daemon's memory while it is pushed back.
 */
#define FLOOD_MAX_BYTES (256u * 1024 * 1024)
#define FLOOD_POLL_MS   200

/* The daemon's descriptor limit in the EMFILE test, and clients beyond. */
#define EMFILE_NOFILE  64
#define EMFILE_CLIENTS 120
/*
 * CPU the daemon may burn in EMFILE_IDLE_MS while accepting is paused: a
 * daemon spinning on EMFILE burns all of it.
 */
#define EMFILE_IDLE_MS 3000
#define EMFILE_CPU_MAX 1000

/*
 * A daemon with config (in *state, for the teardown) and the good
 * client's ledger, pipelined in under that config (short frame timeouts
 * included); the client is set up, not started.
 */
static struct h_daemon *
hostile_up(
    void **state, const char *config, struct ops_good *g, const char *prefix)
{
	struct h_daemon *d = h_daemon_up(config);

	*state = d;
	memset(g, 0, sizeof(*g));
	g->n = GOOD_N;
	g->first_serial = 1;
	snprintf(g->contract, sizeof(g->contract), "K-GOOD");
	snprintf(g->prefix, sizeof(g->prefix), "%s", prefix);
	ops_good_ledger(d, g->contract, 1, OPS_GOOD_COMPANIES(GOOD_N));
	return (d);
}

/* What the good client left: its reservations, and a checker that agrees. */
static void
good_done(struct h_daemon *d, struct ops_good *g)
{
	struct fx_contract c;

	if (g->pid > 0)
		ops_good_wait(g);
	h_assert_serving(d);
	fx_contract_show(d, g->contract, &c);
	assert_int_equal(
	    c.reserved, (int64_t)((GOOD_N + 1) / 3) * OPS_START_SUB);
	fx_verify_ok(d);
}

/*
 * Slowloris: 50 clients each send a status frame one byte a second. With
 * frame_timeout = 3s the daemon closes every one of them without a word,
 * well before the frame would be complete.
 */
static void
test_slowloris(void **state)
{
	struct h_daemon *d;
	struct ops_good  g;
	struct pollfd    pfd[50];
	uint8_t          frame[64];
	size_t           len, sent = 0, i, open;
	int64_t          deadline;
	char             buf[256];
	ssize_t          n;

	*state = d =
	    hostile_up(state, "[limits]\nframe_timeout = 3s\n", &g, "slow");
	len =
	    h_pack_status(frame, sizeof(frame), 1, "a-slow-one-byte-a-second");
	for (i = 0; i < 50; i++) {
		pfd[i].fd = h_connect(d);
		pfd[i].events = POLLIN;
	}
	g.gap_ms = 3; /* spread the good client over the slow ones' life */
	ops_good_start(&g, d);

	deadline = h_now_ms() + CLOSE_MS;
	for (open = 50; open > 0 && sent < len;) {
		for (i = 0; i < 50; i++) {
			if (pfd[i].fd >= 0 &&
			    h_send_try(pfd[i].fd, frame + sent, 1) == -1)
				assert_true(
				    errno == EPIPE || errno == ECONNRESET);
		}
		sent++;
		/* A second until the next byte: see who was closed. */
		(void)poll(pfd, 50, 1000);
		for (i = 0; i < 50; i++) {
			if (pfd[i].fd < 0 || pfd[i].revents == 0)
				continue;
			n = recv(pfd[i].fd, buf, sizeof(buf), MSG_DONTWAIT);
			if (n > 0)
				fail_msg("a slow client got %zd bytes", n);
			if (n == 0 || errno == ECONNRESET) {
				close(pfd[i].fd);
				pfd[i].fd = -1;
				open--;
			}
		}
		if (h_now_ms() > deadline)
			break;
	}
	print_message("slow clients closed after %zu of %zu bytes; %zu "
		      "open\n",
	    sent, len, open);
	assert_int_equal(open, 0);
	assert_true(sent < len);
	assert_true(
	    h_daemon_log_wait(d, "did not finish a frame within 3s", 0));
	good_done(d, &g);
}

/*
 * 1,000 idle connections: all accepted and kept (idle_timeout is 5
 * minutes), each costing bounded memory, while the good client is served;
 * then each of them is still served, and once closed they are let go.
 */
static void
test_idle_connections(void **state)
{
	struct h_daemon *d;
	struct ops_good  g;
	struct h_mem     before, after;
	int             *fds, probe;
	char             rid[32];
	size_t           i;
	int64_t          per;

	if (ops_raise_nofile(IDLE_N + 100) == -1) {
		print_message("skipped: the descriptor limit is below %d\n",
		    IDLE_N + 100);
		skip();
	}
	*state = d = hostile_up(state, IDLE_CONFIG, &g, "idle");
	probe = h_connect_served(d);
	h_daemon_mem(d, &before);
	fds = calloc(IDLE_N, sizeof(*fds));
	assert_non_null(fds);
	for (i = 0; i < IDLE_N; i++)
		fds[i] = h_connect(d);
	h_wait_connections(probe, IDLE_N + 1);
	h_daemon_mem(d, &after);
	per = (after.rss_anon - before.rss_anon) / IDLE_N;
	print_message("%d idle connections: anon %lld -> %lld KiB, %lld "
		      "bytes each\n",
	    IDLE_N, (long long)before.rss_anon / 1024,
	    (long long)after.rss_anon / 1024, (long long)per);
	assert_true(per < IDLE_MEM_PER_CONN);

	ops_good_start(&g, d);
	ops_good_wait(&g);
	h_wait_connections(probe, IDLE_N + 1);
	for (i = 0; i < IDLE_N; i++) {
		snprintf(rid, sizeof(rid), "idle-%zu", i);
		h_send_status(fds[i], rid);
	}
	for (i = 0; i < IDLE_N; i++) {
		snprintf(rid, sizeof(rid), "idle-%zu", i);
		h_expect_status(fds[i], rid);
		close(fds[i]);
	}
	free(fds);
	h_wait_connections(probe, 1);
	close(probe);
	good_done(d, &g);
}

/*
 * A newcomer: 1 when it is turned away (too_many_connections, then the
 * close), 0 when it is served (*conns: the daemon's count with it).
 */
static int
newcomer(const struct h_daemon *d, unsigned *conns)
{
	Budget__Response *a;
	uint8_t           frame[128];
	size_t            len;
	int               fd = h_connect(d);

	/* Turned away at once, the request may find the socket closed. */
	len = h_pack_status(frame, sizeof(frame), 1, "newcomer");
	(void)h_send_try(fd, frame, len);
	a = h_recv(fd, H_DEADLINE_MS);
	if (a->error != NULL) {
		assert_string_equal(a->error->code, "too_many_connections");
		budget__response__free_unpacked(a, NULL);
		if (!h_wait_closed(fd, H_DEADLINE_MS, NULL))
			fail_msg("a refused connection was not closed");
		close(fd);
		return (1);
	}
	assert_non_null(a->status);
	*conns = a->status->connections;
	budget__response__free_unpacked(a, NULL);
	close(fd);
	return (0);
}

/*
 * max_connections = 16: the good client has its connection first, 15
 * more fill the daemon, and while the good client works every newcomer is
 * answered too_many_connections and closed. A newcomer is served only
 * once the good client has let go of its place, and then it is the 16th.
 */
static void
test_beyond_global_cap(void **state)
{
	struct h_daemon *d;
	struct ops_good  g;
	unsigned         conns = 0;
	int              fds[15], i, refused = 0, served = 0;

	*state = d =
	    hostile_up(state, "[limits]\nmax_connections = 16\n", &g, "cap");
	g.gap_ms = 2; /* long enough for the newcomers to find it there */
	ops_good_start(&g, d);
	for (i = 0; i < 15; i++)
		fds[i] = h_connect_served(d);
	while (ops_good_running(&g)) {
		if (newcomer(d, &conns))
			refused++;
		else {
			/* The good client closed before it exited. */
			served = 1;
			break;
		}
	}
	print_message("%d connections refused while the good client ran%s\n",
	    refused, served ? "; then one served in its place" : "");
	ops_good_wait(&g);
	if (served && conns > 16)
		fail_msg("a newcomer was served as connection %u of 16", conns);
	assert_true(refused > 0);
	/* Full again, the cap holds as before. */
	h_wait_connections(fds[0], 15);
	i = h_connect_served(d);
	h_expect_refused(d, "too_many_connections");
	close(i);
	h_wait_connections(fds[0], 15);
	for (i = 0; i < 15; i++)
		close(fds[i]);
	assert_true(h_daemon_log_wait(d, "connection limit (16) reached", 0));
	good_done(d, &g);
}

/*
 * max_connections_per_uid = 4: uid 4001 gets four connections and then
 * only refusals, while root's good client goes on (its own count).
 */
static void
test_beyond_uid_cap(void **state)
{
	struct h_daemon  *d;
	struct ops_good   g;
	Budget__Response *a;
	int               fds[4], fd, i, refused = 0;

	if (!h_can_switch_user()) {
		print_message("skipped: connecting as another uid needs "
			      "root\n");
		skip();
	}
	d = h_daemon_new(NULL);
	*state = d;
	assert_int_equal(chmod(d->dir, 0755), 0);
	h_daemon_write_config(d,
	    "[budgetd]\nsocket_mode = 0666\n"
	    "[limits]\nmax_connections_per_uid = 4\n"
	    "[roles]\nauditor = 4001\n");
	h_daemon_start(d);
	memset(&g, 0, sizeof(g));
	g.n = GOOD_N;
	g.first_serial = 1;
	snprintf(g.contract, sizeof(g.contract), "K-GOOD");
	snprintf(g.prefix, sizeof(g.prefix), "uid");
	ops_good_ledger(d, g.contract, 1, OPS_GOOD_COMPANIES(GOOD_N));
	ops_good_start(&g, d);

	for (i = 0; i < 4; i++) {
		fds[i] = h_connect_as_try(d->sock, 4001, 4001);
		assert_true(fds[i] >= 0);
		h_send_status(fds[i], "uid-ok");
		h_expect_status(fds[i], "uid-ok");
	}
	while (refused < 200 || ops_good_running(&g)) {
		fd = h_connect_as_try(d->sock, 4001, 4001);
		assert_true(fd >= 0);
		a = h_recv(fd, H_DEADLINE_MS);
		assert_non_null(a->error);
		assert_string_equal(a->error->code, "too_many_connections");
		budget__response__free_unpacked(a, NULL);
		assert_true(h_wait_closed(fd, H_DEADLINE_MS, NULL));
		close(fd);
		refused++;
	}
	ops_good_wait(&g);
	for (i = 0; i < 4; i++)
		close(fds[i]);
	assert_true(
	    h_daemon_log_wait(d, "uid 4001 has 4 connections; refusing", 0));
	good_done(d, &g);
}

/*
 * A client that pipelines status and show requests as fast as the socket
 * takes them and never reads: the daemon stops reading it, its memory
 * stays bounded meanwhile, the good client is served, and write_timeout
 * (5s) closes the client that does not take its answers. The flood goes
 * on until the daemon closes it: how long the daemon takes to push back
 * is not what is tested, only that it does and then lets go.
 */
static void
test_pipeline_never_reads(void **state)
{
	struct h_daemon *d;
	struct ops_good  g;
	struct h_mem     before, now;
	struct pollfd    pfd;
	struct fx_req    r;
	uint8_t         *buf, *frame;
	size_t           len = 0, off = 0, total = 0, flen, cap;
	int64_t          peak, deadline;
	ssize_t          n;
	char             rid[32];
	int              flood, probe, i, err;

	*state = d =
	    hostile_up(state, "[limits]\nwrite_timeout = 5s\n", &g, "pipe");
	probe = h_connect_served(d);
	cap = 2048 * 128;
	buf = malloc(cap);
	assert_non_null(buf);
	for (i = 0; i < 2048; i++) {
		snprintf(rid, sizeof(rid), "flood-%d", i);
		if (i % 2 == 0)
			ops_step(&r, OPS_STATUS, rid, NULL, 0, 0);
		else
			ops_step(&r, OPS_SHOW, rid, "no-such-dossier", 0, 0);
		frame = fx_frame(&r.req, &flen);
		assert_true(len + flen <= cap);
		memcpy(buf + len, frame, flen);
		len += flen;
		free(frame);
	}
	h_daemon_mem(d, &before);
	peak = before.rss_anon;
	ops_good_start(&g, d);
	flood = h_connect(d);
	h_set_nonblock(flood, 1);
	deadline = h_now_ms() + 3 * H_DEADLINE_MS;
	for (;;) {
		n = send(flood, buf + off, len - off, MSG_NOSIGNAL);
		if (n > 0) {
			total += (size_t)n;
			off = (off + (size_t)n) % len;
			if (total >= FLOOD_MAX_BYTES)
				fail_msg("the daemon took %zu bytes from a "
					 "client that never reads",
				    total);
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			err = errno; /* closed by the daemon */
			break;
		}
		/* Pushed back (or just slow): look at its memory, wait. */
		h_daemon_mem(d, &now);
		if (now.rss_anon > peak)
			peak = now.rss_anon;
		if (h_now_ms() > deadline)
			fail_msg("a client that never reads was not closed "
				 "(%zu bytes sent)",
			    total);
		pfd.fd = flood;
		pfd.events = POLLOUT;
		(void)poll(&pfd, 1, FLOOD_POLL_MS);
	}
	free(buf);
	print_message("never-reading client got %zu bytes in, then was "
		      "closed; anon %lld -> peak %lld KiB\n",
	    total, (long long)before.rss_anon / 1024, (long long)peak / 1024);
	if (err != EPIPE && err != ECONNRESET)
		fail_msg("flood: send: %s", strerror(err));
	/* The stuck-write timeout closed it, nothing else. */
	assert_true(
	    h_daemon_log_wait(d, "does not read its answers; closing", 0));
	assert_true(peak - before.rss_anon < FLOOD_MEM_GROWTH_MAX);

	ops_good_wait(&g);
	h_wait_connections(probe, 1);
	close(flood);
	close(probe);
	good_done(d, &g);
}

/* A connection that sends bytes and must get one error, then the close. */
static void
expect_protocol_error(
    const struct h_daemon *d, const void *bytes, size_t len, const char *code)
{
	int fd = h_connect(d);

	(void)h_send_try(fd, bytes, len);
	h_expect_error(fd, code, NULL);
	if (!h_wait_closed(fd, H_DEADLINE_MS, NULL))
		fail_msg("the daemon kept a connection that sent %s", code);
	close(fd);
}

/* A Request with an unknown field of pad bytes, packed as a frame. */
static size_t
padded_status(uint8_t *buf, size_t size, size_t frame_len)
{
	uint8_t  st[256];
	size_t   n = h_pack_status(st, sizeof(st), 1, "padded");
	size_t   body = n - BUDGET_FRAME_HEADER, pad, hdr;
	uint32_t be;

	/* Field 1000, wire type 2: tag 0xc2 0x3e, a 2-byte length. */
	hdr = 2 + 2;
	assert_true(frame_len > body + hdr && frame_len < 16384);
	pad = frame_len - body - hdr;
	assert_true(BUDGET_FRAME_HEADER + frame_len <= size);
	be = htonl((uint32_t)frame_len);
	memcpy(buf, &be, 4);
	memcpy(buf + 4, st + BUDGET_FRAME_HEADER, body);
	buf[4 + body] = 0xc2;
	buf[4 + body + 1] = 0x3e;
	buf[4 + body + 2] = (uint8_t)(0x80 | (pad & 0x7f));
	buf[4 + body + 3] = (uint8_t)(pad >> 7);
	memset(buf + 4 + body + hdr, 'x', pad);
	return (BUDGET_FRAME_HEADER + frame_len);
}

/*
 * Oversized and garbage frames (frame_max = 4KiB), each on its own
 * connection: length 0, one above the limit, 4 GiB, a body that is no
 * Request, version 2, no command, and 300 random frames; each gets its
 * one error and the close. A frame exactly at the limit is served. A
 * good request before garbage on the same connection is answered first.
 */
static void
test_bad_frames(void **state)
{
	static const uint8_t zero[4] = {0, 0, 0, 0};
	static const uint8_t huge[4] = {0xff, 0xff, 0xff, 0xff};
	static const uint8_t over[4] = {0, 0, 0x10, 0x01};
	static const uint8_t junk[9] = {
	    0, 0, 0, 5, 0xff, 0xff, 0xff, 0xff, 0xff};
	struct h_daemon  *d;
	struct ops_good   g;
	Budget__Request   req = BUDGET__REQUEST__INIT;
	Budget__Response *a;
	uint8_t           buf[8192], *frame;
	size_t            len;
	uint64_t          rng = 0x5eed;
	int               fd, i, answered = 0, errors = 0;

	*state = d = hostile_up(state,
	    "[limits]\nframe_max = 4KiB\nframe_timeout = 2s\n", &g, "bad");
	ops_good_start(&g, d);

	expect_protocol_error(d, zero, sizeof(zero), "frame_too_large");
	expect_protocol_error(d, over, sizeof(over), "frame_too_large");
	expect_protocol_error(d, huge, sizeof(huge), "frame_too_large");
	expect_protocol_error(d, junk, sizeof(junk), "malformed_frame");
	len = h_pack_status(buf, sizeof(buf), 2, "v2");
	expect_protocol_error(d, buf, len, "unsupported_version");
	req.version = 1;
	req.request_id = H_STR("no-command");
	frame = fx_frame(&req, &len);
	expect_protocol_error(d, frame, len, "unknown_command");
	free(frame);

	/* Exactly frame_max is a frame; one more byte is not. */
	len = padded_status(buf, sizeof(buf), 4096);
	fd = h_connect(d);
	h_send(fd, buf, len);
	h_expect_status(fd, "padded");
	close(fd);
	len = padded_status(buf, sizeof(buf), 4097);
	expect_protocol_error(d, buf, len, "frame_too_large");

	/* Answers owed come first, then the error, then the close. */
	fd = h_connect(d);
	len = h_pack_status(buf, sizeof(buf), 1, "before-junk");
	memcpy(buf + len, junk, sizeof(junk));
	h_send(fd, buf, len + sizeof(junk));
	h_expect_status(fd, "before-junk");
	h_expect_error(fd, "malformed_frame", NULL);
	assert_true(h_wait_closed(fd, H_DEADLINE_MS, NULL));
	close(fd);

	/* Random frames: a length of 1-64 and that many random bytes. */
	for (i = 0; i < 300; i++) {
		size_t k, n;
		int    rc;

		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		n = 1 + rng % 64;
		buf[0] = buf[1] = buf[2] = 0;
		buf[3] = (uint8_t)n;
		for (k = 0; k < n; k++) {
			rng ^= rng << 13;
			rng ^= rng >> 7;
			rng ^= rng << 17;
			buf[4 + k] = (uint8_t)rng;
		}
		fd = h_connect(d);
		h_send(fd, buf, 4 + n);
		rc = h_recv_try(fd, H_DEADLINE_MS, &a);
		if (rc != WIRE_OK)
			fail_msg("random frame %d: no answer (%d)", i, rc);
		if (a->error != NULL &&
		    (strcmp(a->error->code, "malformed_frame") == 0 ||
			strcmp(a->error->code, "unknown_command") == 0 ||
			strcmp(a->error->code, "unsupported_version") == 0)) {
			/* A protocol violation: the answer, then the close. */
			errors++;
			assert_true(h_wait_closed(fd, H_DEADLINE_MS, NULL));
		} else
			answered++;
		budget__response__free_unpacked(a, NULL);
		close(fd);
	}
	print_message("random frames: %d refused, %d decoded and answered\n",
	    errors, answered);
	good_done(d, &g);
}

/*
 * EMFILE: budgetd with 64 descriptors and 120 clients connecting. It
 * accepts what it can, then logs "accept; pausing for 1s" and does not
 * spin (little CPU while the backlog waits); the client it already had is
 * served throughout; once the clients leave it accepts again.
 */
static void
test_emfile(void **state)
{
	struct h_daemon *d;
	struct ops_good  g;
	int              fds[EMFILE_CLIENTS], i;
	int64_t          cpu0, cpu1;

	*state = d = h_daemon_new(NULL);
	h_daemon_spawn_ex(d, NULL, EMFILE_NOFILE);
	h_daemon_wait_ready(d);
	memset(&g, 0, sizeof(g));
	g.n = GOOD_N;
	g.first_serial = 1;
	snprintf(g.contract, sizeof(g.contract), "K-GOOD");
	snprintf(g.prefix, sizeof(g.prefix), "emfile");
	ops_good_ledger(d, g.contract, 1, OPS_GOOD_COMPANIES(GOOD_N));
	ops_good_start(&g, d);

	for (i = 0; i < EMFILE_CLIENTS; i++)
		fds[i] = h_connect(d); /* the backlog takes what is not */
	assert_true(
	    h_daemon_log_wait(d, "accept; pausing for 1s", H_DEADLINE_MS));
	ops_good_wait(&g);
	h_assert_running(d);

	cpu0 = ops_cpu_ms(d->pid);
	h_sleep_ms(EMFILE_IDLE_MS);
	cpu1 = ops_cpu_ms(d->pid);
	print_message("CPU while paused: %lld ms in %d ms\n",
	    (long long)(cpu1 - cpu0), EMFILE_IDLE_MS);
	assert_true(cpu1 - cpu0 < EMFILE_CPU_MAX);
	h_assert_running(d);

	for (i = 0; i < EMFILE_CLIENTS; i++)
		close(fds[i]);
	h_assert_serving(d);
	{
		int probe = h_connect_served(d);

		h_wait_connections(probe, 1);
		close(probe);
	}
	good_done(d, &g);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, NULL, ops_teardown)
	const struct CMUnitTest tests[] = {
	    T(test_slowloris),
	    T(test_idle_connections),
	    T(test_beyond_global_cap),
	    T(test_beyond_uid_cap),
	    T(test_pipeline_never_reads),
	    T(test_bad_frames),
	    T(test_emfile),
	};
#undef T

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
