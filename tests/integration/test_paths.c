/*
 * test_paths.c: where budgetd and budgetctl look when nobody says (SPEC
 * §7, §8; README "Configuration"). budgetctl: -s, else $BUDGETD_SOCKET,
 * else the compiled default. budgetd: systemd's STATE_DIRECTORY and
 * RUNTIME_DIRECTORY (the first of a ':' list), and on a machine without
 * /run/budgetd, "budgetd -d DIR" puts its socket in DIR. Every other test
 * passes -d and -s, so only these would notice a default going wrong.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

/* The variables a test's environment may hold that change the defaults. */
static const char *const path_vars[] = {
    "STATE_DIRECTORY", "RUNTIME_DIRECTORY", "BUDGETD_SOCKET", NULL};

/*
 * budgetd with argv and only env's path variables (NULL-terminated
 * "NAME=VALUE"), its output into d's log, as d's process: h_teardown
 * stops it and checks its exit.
 */
static void
spawn_budgetd(
    struct h_daemon *d, const char *const argv[], const char *const env[])
{
	pid_t pid;
	int   fd, i;

	if ((pid = fork()) == -1)
		h_fail("fork: %s", strerror(errno));
	if (pid == 0) {
		for (i = 0; path_vars[i] != NULL; i++)
			unsetenv(path_vars[i]);
		for (i = 0; env[i] != NULL; i++)
			putenv(strdup(env[i]));
		fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd == -1 || dup2(fd, 1) == -1 || dup2(fd, 2) == -1)
			_exit(126);
		if ((fd = open("/dev/null", O_RDONLY)) == -1 ||
		    dup2(fd, 0) == -1)
			_exit(126);
		/* execv's prototype predates const; it changes nothing. */
		execv(argv[0], (char *const *)(uintptr_t)argv);
		_exit(127);
	}
	d->pid = pid;
}

/* budgetctl --json status at sock: until it answers, then its datadir. */
static void
expect_serving(const char *sock, const char *datadir)
{
	int64_t       deadline = h_now_ms() + H_DEADLINE_MS;
	struct h_proc p;

	while (h_ctl_sock(&p, sock, "--json", "status", NULL) != 0) {
		h_proc_free(&p);
		if (h_now_ms() > deadline)
			h_fail("nothing answers at %s", sock);
		h_sleep_ms(20);
	}
	assert_string_equal(h_json_str(h_json(&p), "datadir"), datadir);
	h_proc_free(&p);
}

/* budgetctl --json ARG without -s, with env its only path variable. */
static void
ctl_env(struct h_proc *p, const char *env, const char *arg)
{
	const char *argv[] = {BUDGETCTL_PATH, "--json", arg, NULL};
	int         i;

	for (i = 0; path_vars[i] != NULL; i++)
		unsetenv(path_vars[i]);
	if (env != NULL)
		putenv((char *)(uintptr_t)env);
	h_proc_spawn(p, argv);
	h_proc_wait(p, H_DEADLINE_MS);
	for (i = 0; path_vars[i] != NULL; i++)
		unsetenv(path_vars[i]);
}

static void
test_budgetctl_socket_env(void **state)
{
	struct h_daemon *d = h_daemon_up(NULL);
	struct h_proc    p;
	static char      env[H_PATH_MAX + 32], gone[H_PATH_MAX + 32];

	*state = d;
	snprintf(env, sizeof(env), "BUDGETD_SOCKET=%s", d->sock);
	ctl_env(&p, env, "status");
	h_proc_expect(&p, 0);
	assert_string_equal(h_json_str(h_json(&p), "datadir"), d->datadir);
	h_proc_free(&p);

	/* -s wins over the environment. */
	snprintf(gone, sizeof(gone), "BUDGETD_SOCKET=%s/nowhere.sock", d->dir);
	putenv(gone);
	assert_int_equal(h_ctl(&p, d, "--json", "status", NULL), 0);
	h_proc_free(&p);
	ctl_env(&p, gone, "status");
	h_proc_expect(&p, 3);
	assert_non_null(
	    strstr(h_json_str(h_json(&p), "error.message"), "nowhere.sock"));
	h_proc_free(&p);

	/* Neither: the compiled default, named when nothing is there. */
	ctl_env(&p, NULL, "status");
	if (p.status == 3)
		assert_non_null(strstr(h_json_str(h_json(&p), "error.message"),
		    "/run/budgetd/budgetd.sock"));
	else
		print_message("a budgetd answers at the default socket\n");
	h_proc_free(&p);
}

/*
 * Under systemd (StateDirectory=budgetd, RuntimeDirectory=budgetd), with
 * no -d, -s or socket in the configuration: the data in the first state
 * directory, the socket in the first runtime directory.
 */
static void
test_systemd_directories(void **state)
{
	struct h_daemon *d = h_daemon_new(NULL);
	const char      *argv[] = {BUDGETD_PATH, NULL};
	const char      *env[3];
	char             st[2 * H_PATH_MAX + 64], rt[2 * H_PATH_MAX + 64];
	char data[H_PATH_MAX], run[H_PATH_MAX], sock[H_PATH_MAX + 16];

	*state = d;
	snprintf(data, sizeof(data), "%s/state", d->dir);
	snprintf(run, sizeof(run), "%s/run", d->dir);
	assert_int_equal(mkdir(data, 0700), 0);
	assert_int_equal(mkdir(run, 0700), 0);
	snprintf(st, sizeof(st), "STATE_DIRECTORY=%s:%s/other", data, d->dir);
	snprintf(rt, sizeof(rt), "RUNTIME_DIRECTORY=%s:%s/other", run, d->dir);
	env[0] = st;
	env[1] = rt;
	env[2] = NULL;
	spawn_budgetd(d, argv, env);
	snprintf(sock, sizeof(sock), "%s/budgetd.sock", run);
	expect_serving(sock, data);
	assert_int_equal(h_daemon_stop(d), 0);
}

/*
 * A developer's machine, without /run/budgetd: "budgetd -d DIR" puts its
 * socket beside the data, DIR/budgetd.sock.
 */
static void
test_datadir_socket_without_run_dir(void **state)
{
	struct h_daemon *d = h_daemon_new(NULL);
	const char      *argv[] = {BUDGETD_PATH, "-d", NULL, NULL};
	const char      *env[] = {NULL};
	char             data[H_PATH_MAX], sock[H_PATH_MAX + 16];

	*state = d;
	if (access("/run/budgetd", W_OK) == 0) {
		print_message("skipped: /run/budgetd exists here\n");
		skip();
	}
	snprintf(data, sizeof(data), "%s/var", d->dir);
	argv[2] = data;
	spawn_budgetd(d, argv, env);
	snprintf(sock, sizeof(sock), "%s/budgetd.sock", data);
	expect_serving(sock, data);
	assert_int_equal(h_daemon_stop(d), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_budgetctl_socket_env, h_teardown),
	    cmocka_unit_test_teardown(test_systemd_directories, h_teardown),
	    cmocka_unit_test_teardown(
		test_datadir_socket_without_run_dir, h_teardown),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
