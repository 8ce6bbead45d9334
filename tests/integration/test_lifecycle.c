/*
 * test_lifecycle.c: the daemon's life (SPEC §8, STYLE "Socket setup"):
 * creating the socket safely (never stealing a live daemon's, replacing a
 * crashed one's, never deleting what is not a socket, no world access),
 * SIGTERM with work in flight, SIGHUP reloads good and bad, restarts.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

/* Requests in flight when SIGTERM arrives. */
#define INFLIGHT_N 1000

static void
assert_log_contains(const struct h_daemon *d, const char *needle)
{
	char *log;

	if (h_daemon_log_wait(d, needle, H_DEADLINE_MS))
		return;
	log = h_daemon_log(d);
	print_error("---- %s ----\n%s---- end ----\n", d->log, log);
	free(log);
	fail_msg("the log does not say \"%s\"", needle);
}

/*
 * A second budgetd on the same socket path (its own data dir) must not
 * steal it: it exits non-zero saying why, and the first keeps serving.
 */
static void
test_second_daemon_refused(void **state)
{
	struct h_daemon *d, *d2;
	struct stat      st;
	int              status;

	*state = d = h_daemon_up(NULL);
	d2 = h_daemon_new(NULL);
	snprintf(d2->sock, sizeof(d2->sock), "%s", d->sock);
	h_daemon_spawn(d2);
	assert_true(h_daemon_wait_exit(d2, H_DEADLINE_MS, &status));
	assert_int_not_equal(status, 0);
	assert_log_contains(d2, "another budgetd is listening");
	h_daemon_free(d2);

	assert_int_equal(lstat(d->sock, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	h_assert_serving(d);
}

/* kill -9 leaves the socket file; the next start replaces it. */
static void
test_stale_socket_replaced(void **state)
{
	struct h_daemon *d;
	struct stat      st;

	*state = d = h_daemon_up(NULL);
	h_daemon_kill9(d);
	assert_int_equal(lstat(d->sock, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(h_connect_try(d->sock), -1);
	assert_int_equal(errno, ECONNREFUSED);

	h_daemon_start(d);
	assert_log_contains(d, "removed stale socket");
	h_assert_serving(d);
	assert_int_equal(h_daemon_stop(d), 0);
}

/* Default mode 0660: nothing for the world. */
static void
test_socket_mode(void **state)
{
	struct h_daemon *d;
	struct stat      st;

	*state = d = h_daemon_up(NULL);
	assert_int_equal(lstat(d->sock, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0007, 0);
	assert_int_equal(st.st_mode & 0777, 0660);
}

/* socket_mode in the config is applied as given. */
static void
test_socket_mode_configured(void **state)
{
	struct h_daemon *d;
	struct stat      st;

	*state = d = h_daemon_up("[budgetd]\nsocket_mode = 0600\n");
	assert_int_equal(lstat(d->sock, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
}

/* Something that is not a socket at the path is left alone. */
static void
test_regular_file_not_deleted(void **state)
{
	static const char precious[] = "precious data\n";
	struct h_daemon  *d;
	struct stat       st;
	char              buf[64];
	FILE             *fp;
	size_t            n;
	int               status;

	*state = d = h_daemon_new(NULL);
	assert_non_null(fp = fopen(d->sock, "w"));
	assert_int_equal(fputs(precious, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);

	h_daemon_spawn(d);
	assert_true(h_daemon_wait_exit(d, H_DEADLINE_MS, &status));
	assert_int_not_equal(status, 0);
	assert_log_contains(d, "is not a socket");

	assert_int_equal(lstat(d->sock, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_non_null(fp = fopen(d->sock, "r"));
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	assert_string_equal(buf, precious);
}

/*
 * SIGTERM with pipelined requests in flight: every answer the client gets
 * is correct and in order, then the connection closes; idle clients are
 * closed too; the daemon exits 0 and removes its socket file.
 */
static void
test_sigterm_in_flight(void **state)
{
	struct h_daemon  *d;
	Budget__Response *r;
	struct stat       st;
	uint8_t          *buf;
	size_t            len = 0, extra;
	char              rid[32];
	int               fd, idle, got, rc;

	*state = d = h_daemon_up(NULL);
	buf = malloc(INFLIGHT_N * 64);
	assert_non_null(buf);
	for (got = 0; got < INFLIGHT_N; got++) {
		snprintf(rid, sizeof(rid), "term-%d", got);
		len += h_pack_status(buf + len, INFLIGHT_N * 64 - len, 1, rid);
	}
	idle = h_connect_served(d);
	fd = h_connect(d);
	h_send(fd, buf, len);
	free(buf);
	h_daemon_signal(d, SIGTERM);

	for (got = 0;; got++) {
		rc = h_recv_try(fd, H_DEADLINE_MS, &r);
		if (rc != WIRE_OK) {
			/* The end: a close, never a timeout or bad frame. */
			assert_int_equal(rc, WIRE_IO);
			assert_true(errno == 0 || errno == ECONNRESET);
			break;
		}
		snprintf(rid, sizeof(rid), "term-%d", got);
		assert_null(r->error);
		assert_non_null(r->status);
		assert_string_equal(r->request_id, rid);
		budget__response__free_unpacked(r, NULL);
	}
	print_message("%d of %d answered before the close\n", got, INFLIGHT_N);
	assert_true(got <= INFLIGHT_N);
	close(fd);
	assert_true(h_wait_closed(idle, H_DEADLINE_MS, &extra));
	assert_int_equal(extra, 0);
	close(idle);

	assert_true(h_daemon_wait_exit(d, 3 * H_DEADLINE_MS, NULL));
	assert_int_equal(d->status, 0);
	assert_int_equal(lstat(d->sock, &st), -1);
	assert_int_equal(errno, ENOENT);
	assert_log_contains(d, "budgetd: stopped");
}

/*
 * A plain SIGTERM with nobody connected, then restarts on the same data:
 * the same data directory and journal position are reported.
 */
static void
test_stop_and_restart(void **state)
{
	struct h_daemon *d;
	struct stat      st;
	struct h_proc    p;
	json_int_t       seq;
	char             hash[80];

	*state = d = h_daemon_up(NULL);
	h_ctl(&p, d, "--json", "status", NULL);
	h_proc_expect(&p, 0);
	seq = h_json_int(h_json(&p), "journal_seq");
	snprintf(hash, sizeof(hash), "%s", h_json_str(h_json(&p), "head_hash"));
	h_proc_free(&p);

	assert_int_equal(h_daemon_stop(d), 0);
	assert_int_equal(lstat(d->sock, &st), -1);
	h_daemon_start(d);
	h_daemon_restart(d);
	h_ctl(&p, d, "--json", "status", NULL);
	h_proc_expect(&p, 0);
	assert_string_equal(h_json_str(h_json(&p), "datadir"), d->datadir);
	assert_int_equal(h_json_int(h_json(&p), "journal_seq"), seq);
	assert_string_equal(h_json_str(h_json(&p), "head_hash"), hash);
	h_proc_free(&p);
	assert_int_equal(d->starts, 3);
}

/*
 * SIGHUP: a new max_connections applies to new connections; a broken file
 * changes nothing and the daemon keeps running.
 */
static void
test_sighup_reload(void **state)
{
	struct h_daemon *d;
	int              fds[3], i;

	*state = d = h_daemon_up("[limits]\nmax_connections = 2\n");
	fds[0] = h_connect_served(d);
	fds[1] = h_connect_served(d);
	h_expect_refused(d, "too_many_connections");

	h_daemon_write_config(d, "[limits]\nmax_connections = 3\n");
	h_daemon_signal(d, SIGHUP);
	assert_log_contains(d, "configuration reloaded");
	fds[2] = h_connect_served(d);
	h_expect_refused(d, "too_many_connections");

	/* A broken file: refused, the running config (3) stays. */
	h_daemon_write_config(d, "[limits]\nmax_connections = lots\n");
	h_daemon_signal(d, SIGHUP);
	assert_log_contains(d, "reload refused");
	assert_true(h_daemon_running(d));
	h_expect_refused(d, "too_many_connections");
	for (i = 0; i < 3; i++) {
		h_send_status(fds[i], "after-bad-hup");
		h_expect_status(fds[i], "after-bad-hup");
	}
	close(fds[2]);
	fds[2] = h_connect_served(d);
	for (i = 0; i < 3; i++)
		close(fds[i]);
	h_assert_serving(d);
	assert_int_equal(h_daemon_stop(d), 0);
}

/* SIGHUP with no config file: nothing to reload, nothing breaks. */
static void
test_sighup_without_config(void **state)
{
	struct h_daemon *d;

	*state = d = h_daemon_up(NULL);
	h_daemon_signal(d, SIGHUP);
	assert_log_contains(d, "no config file to reload");
	h_assert_serving(d);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, NULL, h_teardown)
	const struct CMUnitTest tests[] = {
	    T(test_second_daemon_refused),
	    T(test_stale_socket_replaced),
	    T(test_socket_mode),
	    T(test_socket_mode_configured),
	    T(test_regular_file_not_deleted),
	    T(test_sigterm_in_flight),
	    T(test_stop_and_restart),
	    T(test_sighup_reload),
	    T(test_sighup_without_config),
	};
#undef T

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
