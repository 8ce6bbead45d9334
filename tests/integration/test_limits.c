/*
 * test_limits.c: the limits that keep one client from hurting the others
 * (SPEC §6, STYLE "conn.c read callback"): backpressure on a client that
 * floods without reading, the connection caps (global and per uid), the
 * idle timeout and the deadline for finishing a frame.
 */
#include <sys/socket.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

/* Status frames packed into one flood buffer. */
#define FLOOD_FRAMES    4096
/*
 * The most a flooding client may get accepted: the daemon must push back
 * long before (it holds a few MiB of answers and one frame of input).
 */
#define FLOOD_MAX_BYTES (256u * 1024 * 1024)
/* The flood is over once the socket has not taken a byte for this long. */
#define FLOOD_STALL_MS  2000
/*
 * What a flooding client may cost the daemon: its output cap (4 MiB), its
 * input cap (about 1 MiB) and the allocator's slack. AddressSanitizer
 * keeps freed memory in quarantine (up to 256 MiB) and adds shadow memory,
 * so there the tens of thousands of requests executed before the daemon
 * pushed back stay resident (about 40 MiB); the flood itself would be
 * hundreds of MiB.
 */
#if defined(__SANITIZE_ADDRESS__)
#define FLOOD_MEM_GROWTH_MAX (160 * 1024 * 1024)
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FLOOD_MEM_GROWTH_MAX (160 * 1024 * 1024)
#endif
#endif
#ifndef FLOOD_MEM_GROWTH_MAX
#define FLOOD_MEM_GROWTH_MAX (32 * 1024 * 1024)
#endif

/* A generous bound for "closed by a 1 s timeout": only against hangs. */
#define TIMEOUT_CLOSE_MS 10000

/*
 * A client that pipelines status requests as fast as the socket takes them
 * and never reads. The daemon must stop reading from it (its writes stall)
 * with bounded memory, go on serving another client, and let go of it
 * when it closes.
 */
static void
test_backpressure(void **state)
{
	struct h_daemon *d;
	struct h_mem     before, after;
	struct pollfd    pfd;
	uint8_t         *buf;
	size_t           len = 0, off = 0, total = 0;
	ssize_t          n;
	char             rid[32];
	int              good, flood, i;

	*state = d = h_daemon_up(NULL);
	buf = malloc(FLOOD_FRAMES * 64);
	assert_non_null(buf);
	for (i = 0; i < FLOOD_FRAMES; i++) {
		snprintf(rid, sizeof(rid), "flood-%d", i);
		len +=
		    h_pack_status(buf + len, FLOOD_FRAMES * 64 - len, 1, rid);
	}

	good = h_connect_served(d);
	h_daemon_mem(d, &before);
	flood = h_connect(d);
	h_set_nonblock(flood, 1);
	while (total < FLOOD_MAX_BYTES) {
		n = send(flood, buf + off, len - off, MSG_NOSIGNAL);
		if (n > 0) {
			total += (size_t)n;
			off = (off + (size_t)n) % len;
			continue;
		}
		assert_true(n == -1);
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			/*
			 * Closing on a client that sends valid requests
			 * is wrong, unless the daemon died.
			 */
			h_assert_running(d);
			fail_msg("the daemon dropped the flooding client "
				 "after %zu bytes: %s",
			    total, strerror(errno));
		}
		pfd.fd = flood;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, FLOOD_STALL_MS) == 0)
			break; /* nothing taken for FLOOD_STALL_MS */
	}
	free(buf);
	print_message("flooding client got %zu bytes (%zu requests) in\n",
	    total, total / (len / FLOOD_FRAMES));
	/* The daemon stopped reading: the flood could not all go in. */
	assert_true(total < FLOOD_MAX_BYTES);

	/* Meanwhile another client is served, again and again. */
	for (i = 0; i < 20; i++) {
		snprintf(rid, sizeof(rid), "good-%d", i);
		h_send_status(good, rid);
		h_expect_status(good, rid);
	}
	h_daemon_mem(d, &after);
	print_message("RSS %lld -> %lld KiB, anon %lld -> %lld KiB\n",
	    (long long)before.vm_rss / 1024, (long long)after.vm_rss / 1024,
	    (long long)before.rss_anon / 1024,
	    (long long)after.rss_anon / 1024);
	assert_true(after.rss_anon - before.rss_anon < FLOOD_MEM_GROWTH_MAX);
	assert_true(after.vm_rss - before.vm_rss < FLOOD_MEM_GROWTH_MAX);

	/* Closing the flooding client frees it: only "good" is left. */
	assert_int_equal(h_status_connections(good), 2);
	close(flood);
	h_wait_connections(good, 1);
	close(good);
	h_assert_serving(d);
}

/*
 * max_connections = 4: four idle clients are served, the fifth gets
 * "too_many_connections" and is closed; once one leaves, a newcomer is
 * served.
 */
static void
test_connection_cap(void **state)
{
	struct h_daemon *d;
	int              fds[4], i;
	char             rid[32];

	*state = d = h_daemon_up("[limits]\nmax_connections = 4\n");
	for (i = 0; i < 4; i++)
		fds[i] = h_connect_served(d);

	h_expect_refused(d, "too_many_connections");

	/* The four are not disturbed. */
	for (i = 0; i < 4; i++) {
		snprintf(rid, sizeof(rid), "idle-%d", i);
		h_send_status(fds[i], rid);
		h_expect_status(fds[i], rid);
	}
	assert_int_equal(h_status_connections(fds[0]), 4);

	close(fds[3]);
	fds[3] = h_connect_served(d);
	for (i = 0; i < 4; i++)
		close(fds[i]);
	h_assert_serving(d);
	assert_true(h_daemon_log_wait(d, "connection limit (4) reached", 0));
}

/* max_connections_per_uid = 2: this test's uid gets two, not three. */
static void
test_connection_cap_per_uid(void **state)
{
	struct h_daemon *d;
	int              a, b;

	*state = d = h_daemon_up("[limits]\nmax_connections_per_uid = 2\n");
	a = h_connect_served(d);
	b = h_connect_served(d);
	h_expect_refused(d, "too_many_connections");
	close(b);
	b = h_connect_served(d);
	close(a);
	close(b);
	h_assert_serving(d);
}

/*
 * idle_timeout = 1s: a connection that says nothing is closed by the
 * daemon (without a frame), whether it ever asked something or not.
 */
static void
test_idle_timeout(void **state)
{
	struct h_daemon *d;
	size_t           extra;
	int              silent, served;

	*state = d = h_daemon_up("[limits]\nidle_timeout = 1s\n");
	silent = h_connect(d);
	served = h_connect(d);
	h_send_status(served, "before-idle");
	h_expect_status(served, "before-idle");

	assert_true(h_wait_closed(silent, TIMEOUT_CLOSE_MS, &extra));
	assert_int_equal(extra, 0);
	close(silent);
	assert_true(h_wait_closed(served, TIMEOUT_CLOSE_MS, &extra));
	assert_int_equal(extra, 0);
	close(served);
	assert_true(h_daemon_log_wait(d, "idle for 1s; closing", 0));
	h_assert_serving(d);
}

/*
 * frame_timeout = 1s: a client that sends half a frame and stalls is
 * closed, although the idle timeout (default 5 min) is far away.
 */
static void
test_frame_timeout(void **state)
{
	struct h_daemon *d;
	uint8_t          frame[64];
	size_t           len, extra;
	int              good, fd;

	*state = d = h_daemon_up("[limits]\nframe_timeout = 1s\n");
	good = h_connect_served(d);
	len = h_pack_status(frame, sizeof(frame), 1, "stalled");
	fd = h_connect(d);
	h_send(fd, frame, len - 3);
	assert_true(h_wait_closed(fd, TIMEOUT_CLOSE_MS, &extra));
	assert_int_equal(extra, 0);
	close(fd);
	assert_true(h_daemon_log_wait(d, "did not finish a frame", 0));

	/* Two bytes of a header stall the same way. */
	fd = h_connect(d);
	h_send(fd, frame, 2);
	assert_true(h_wait_closed(fd, TIMEOUT_CLOSE_MS, &extra));
	close(fd);

	/* The patient, well-behaved client was not touched. */
	h_send_status(good, "still-here");
	h_expect_status(good, "still-here");
	close(good);
	h_assert_serving(d);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, NULL, h_teardown)
	const struct CMUnitTest tests[] = {
	    T(test_backpressure),
	    T(test_connection_cap),
	    T(test_connection_cap_per_uid),
	    T(test_idle_timeout),
	    T(test_frame_timeout),
	};
#undef T

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
