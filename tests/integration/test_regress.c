/*
 * test_regress.c: regression tests named after daemon bugs found while
 * writing the integration tests. Each documents the bug: it fails until
 * the bug is fixed, then guards the fix. Kept apart from the other
 * integration binaries so that those stay green meanwhile.
 */
#include <sys/stat.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

static int
count_substr(const char *hay, const char *needle)
{
	int n = 0;

	while ((hay = strstr(hay, needle)) != NULL) {
		n++;
		hay += strlen(needle);
	}
	return (n);
}

/*
 * control.c, control_listen: any failure of the probe connect() is taken
 * for "a leftover from a crash" and the socket file is unlinked. A
 * connect() refused for lack of permission (EACCES) means a live daemon
 * of another user is there: a second budgetd run by nobody, in a shared
 * writable directory, deletes the live root daemon's socket and takes
 * over its path. Only ECONNREFUSED says nobody listens.
 */
static void
test_bug_socket_stolen_when_connect_is_denied(void **state)
{
	struct h_daemon *d, *d2;
	int64_t          deadline;
	int              status, exited = 0;

	if (!h_can_switch_user())
		skip();
	*state = d = h_daemon_new(NULL);
	/* A directory where others may create and remove files. */
	assert_int_equal(chmod(d->dir, 0777), 0);
	h_daemon_start(d);

	d2 = h_daemon_new(NULL);
	h_daemon_run_as(d2, H_NOBODY_UID, H_NOBODY_GID);
	snprintf(d2->sock, sizeof(d2->sock), "%s", d->sock);
	/* nobody cannot connect to root's 0660 socket... */
	assert_int_equal(
	    h_connect_as_try(d->sock, H_NOBODY_UID, H_NOBODY_GID), -1);
	assert_int_equal(errno, EACCES);

	/* ...so the second daemon must refuse to start, not steal it. */
	h_daemon_spawn(d2);
	deadline = h_now_ms() + H_DEADLINE_MS;
	while (h_now_ms() < deadline) {
		if ((exited = h_daemon_wait_exit(d2, 50, &status)))
			break;
		if (h_daemon_log_wait(d2, "listening on", 0))
			break;
	}
	if (!exited) {
		char *log = h_daemon_log(d2);

		print_error("second daemon's log:\n%s", log);
		free(log);
		h_daemon_free(d2);
		fail_msg("a budgetd run by nobody replaced the live socket "
			 "of root's budgetd");
	}
	assert_int_not_equal(status, 0);
	h_daemon_free(d2);
	h_assert_serving(d);
}

/*
 * budgetd.c, budgetd_reload: "cur->verbose = next.verbose" drops the -v
 * of the command line on every SIGHUP, although start-up takes the larger
 * of the two: debug logging silently stops after a reload.
 */
static void
test_bug_sighup_drops_command_line_verbose(void **state)
{
	struct h_daemon *d;
	char            *log;
	int              before, after;

	*state = d = h_daemon_new("[limits]\nmax_connections = 100\n");
	d->verbose = 1;
	h_daemon_start(d);
	h_assert_serving(d);
	log = h_daemon_log(d);
	before = count_substr(log, ", role ");
	free(log);
	assert_true(before >= 1); /* -v logs every accepted connection */

	h_daemon_signal(d, SIGHUP);
	assert_true(
	    h_daemon_log_wait(d, "configuration reloaded", H_DEADLINE_MS));
	h_assert_serving(d);
	log = h_daemon_log(d);
	after = count_substr(log, ", role ");
	free(log);
	if (after <= before)
		fail_msg("after SIGHUP, budgetd -v no longer logs debug "
			 "messages");
}

/*
 * config.c, config_handler/config_load: inih goes on after an error, and
 * each later error overwrites ctx->cause (leaking the previous one) while
 * ini_parse returns the line of the first: the message names the first
 * error's line but the last error's text.
 */
static void
test_bug_config_error_line_and_text_disagree(void **state)
{
	struct h_daemon *d;
	struct h_proc    p;
	const char      *argv[] = {BUDGETD_PATH, "-n", "-c", NULL, NULL};
	char             where[H_PATH_MAX + 16];

	*state = d = h_daemon_new(NULL);
	h_daemon_write_config(d,
	    "[limits]\n"
	    "max_conections = 7\n" /* line 2: the first error */
	    "idle_timout = 1s\n"); /* line 3 */
	argv[3] = d->conf;
	assert_int_not_equal(h_run(&p, argv), 0);
	snprintf(where, sizeof(where), "%s:2: ", d->conf);
	if (strstr(p.err, where) == NULL ||
	    strstr(p.err, "max_conections") == NULL) {
		print_error("stderr: %s", p.err);
		h_proc_free(&p);
		fail_msg("the error names line 2 but not its key, or not "
			 "line 2");
	}
	h_proc_free(&p);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, NULL, h_teardown)
	const struct CMUnitTest tests[] = {
	    T(test_bug_socket_stolen_when_connect_is_denied),
	    T(test_bug_sighup_drops_command_line_verbose),
	    T(test_bug_config_error_line_and_text_disagree),
	};
#undef T

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
