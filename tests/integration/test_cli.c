/*
 * test_cli.c: the command-line contracts (SPEC §7, §8): budgetctl status in
 * text and JSON, budgetctl's exit statuses when the daemon is missing or
 * the command is unknown, many budgetctl at once, the caller's role from
 * its credentials, and budgetd -n (check and print the config).
 */
#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

/* budgetctl processes running at once. */
#define CONCURRENT_N 32

static int setup_daemon(void **);
static int setup_dir(void **);

static int
setup_daemon(void **state)
{
	*state = h_daemon_up(NULL);
	return (0);
}

/* A directory for files only: no daemon runs. */
static int
setup_dir(void **state)
{
	*state = h_daemon_new(NULL);
	return (0);
}

/*
 * The value of "key   value" in budgetctl's text output, copied to buf;
 * NULL when there is no such line.
 */
static const char *
text_field(const char *out, const char *key, char *buf, size_t size)
{
	const char *p = out, *v, *eol;
	size_t      klen = strlen(key), n;

	while (p != NULL && *p != '\0') {
		if (strncmp(p, key, klen) == 0 && p[klen] == ' ') {
			v = p + klen;
			while (*v == ' ')
				v++;
			eol = strchr(v, '\n');
			n = eol != NULL ? (size_t)(eol - v) : strlen(v);
			if (n >= size)
				n = size - 1;
			memcpy(buf, v, n);
			buf[n] = '\0';
			return (buf);
		}
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	return (NULL);
}

static int
is_hex64(const char *s)
{
	return (strlen(s) == 64 && strspn(s, "0123456789abcdef") == 64);
}

static void
test_status_text(void **state)
{
	struct h_daemon *d = *state;
	struct h_proc    p;
	char             v[512];

	h_ctl(&p, d, "status", NULL);
	h_proc_expect(&p, 0);
	assert_string_equal(p.err, "");
	assert_non_null(text_field(p.out, "version", v, sizeof(v)));
	assert_string_equal(v, BUDGET_VERSION);
	assert_non_null(text_field(p.out, "protocol", v, sizeof(v)));
	assert_string_equal(v, "1");
	assert_non_null(text_field(p.out, "journal_seq", v, sizeof(v)));
	assert_string_equal(v, "0");
	assert_non_null(text_field(p.out, "head_hash", v, sizeof(v)));
	assert_true(is_hex64(v));
	assert_non_null(text_field(p.out, "datadir", v, sizeof(v)));
	assert_string_equal(v, d->datadir);
	h_proc_free(&p);
}

static void
test_status_json(void **state)
{
	struct h_daemon *d = *state;
	struct h_proc    p;
	json_t          *j;

	h_ctl(&p, d, "--json", "status", NULL);
	h_proc_expect(&p, 0);
	assert_string_equal(p.err, "");
	j = h_json(&p);
	assert_true(json_is_object(j));
	assert_string_equal(h_json_str(j, "version"), BUDGET_VERSION);
	assert_int_equal(h_json_int(j, "protocol"), 1);
	assert_int_equal(h_json_int(j, "journal_seq"), 0);
	assert_true(is_hex64(h_json_str(j, "head_hash")));
	assert_string_equal(h_json_str(j, "datadir"), d->datadir);
	h_proc_free(&p);

	/* Global options may stand after the command words too. */
	h_ctl(&p, d, "status", "--json", NULL);
	h_proc_expect(&p, 0);
	assert_string_equal(h_json_str(h_json(&p), "datadir"), d->datadir);
	h_proc_free(&p);
}

/* Nothing at the path: exit 3 and a message naming the socket. */
static void
test_unreachable(void **state)
{
	struct h_daemon *d = *state;
	struct h_proc    p;
	char             sock[H_PATH_MAX + 16];

	snprintf(sock, sizeof(sock), "%s/nobody.sock", d->dir);
	h_ctl_sock(&p, sock, "status", NULL);
	h_proc_expect(&p, 3);
	assert_string_equal(p.out, "");
	assert_non_null(strstr(p.err, "cannot reach budgetd"));
	assert_non_null(strstr(p.err, sock));
	h_proc_free(&p);

	/* With --json the failure is a JSON document on stdout. */
	h_ctl_sock(&p, sock, "--json", "status", NULL);
	h_proc_expect(&p, 3);
	assert_string_equal(
	    h_json_str(h_json(&p), "error.code"), "unreachable");
	assert_non_null(
	    strstr(h_json_str(h_json(&p), "error.message"), "cannot reach"));
	h_proc_free(&p);
}

/* A socket file nobody listens on (a crashed daemon's) is exit 3 too. */
static void
test_unreachable_stale_socket(void **state)
{
	struct h_daemon *d = *state;
	struct h_proc    p;

	h_daemon_kill9(d);
	h_ctl(&p, d, "status", NULL);
	h_proc_expect(&p, 3);
	assert_non_null(strstr(p.err, "cannot reach budgetd"));
	h_proc_free(&p);
}

static void
test_usage(void **state)
{
	struct h_daemon *d = *state;
	struct h_proc    p;

	h_ctl(&p, d, "frobnicate", NULL);
	h_proc_expect(&p, 2);
	assert_string_equal(p.out, "");
	assert_non_null(strstr(p.err, "unknown command \"frobnicate\""));
	assert_non_null(strstr(p.err, "usage:"));
	h_proc_free(&p);

	h_ctl(&p, d, NULL);
	h_proc_expect(&p, 2);
	assert_non_null(strstr(p.err, "usage:"));
	h_proc_free(&p);

	h_ctl(&p, d, "status", "extra", NULL);
	h_proc_expect(&p, 2);
	h_proc_free(&p);

	/* The daemon was never bothered. */
	h_assert_serving(d);
}

static void
test_config_check_ok(void **state)
{
	struct h_daemon *d = *state;
	struct h_proc    p;
	const char      *argv[] = {BUDGETD_PATH, "-n", "-c", NULL, NULL};

	h_daemon_write_config(d,
	    "# a comment\n"
	    "[budgetd]\n"
	    "commit_wait_us = 750\n"
	    "[limits]\n"
	    "max_connections = 7\n"
	    "idle_timeout = 45s\n"
	    "frame_timeout = 2m\n"
	    "[ledger]\n"
	    "reservation_ttl = 30d\n");
	argv[3] = d->conf;
	assert_int_equal(h_run(&p, argv), 0);
	assert_non_null(strstr(p.out, "commit_wait_us = 750\n"));
	assert_non_null(strstr(p.out, "[limits]\n"));
	assert_non_null(strstr(p.out, "max_connections = 7\n"));
	assert_non_null(strstr(p.out, "idle_timeout = 45s\n"));
	assert_non_null(strstr(p.out, "frame_timeout = 120s\n"));
	assert_non_null(strstr(p.out, "reservation_ttl = 2592000s\n"));
	assert_non_null(strstr(p.err, "configuration OK"));
	h_proc_free(&p);
}

/*
 * budgetd -n refuses the config text: it exits non-zero, names the file
 * and the line, says what (needle), and does not call it OK.
 */
static void
config_refused(
    struct h_daemon *d, const char *text, int line, const char *needle)
{
	struct h_proc p;
	const char   *argv[] = {BUDGETD_PATH, "-n", "-c", d->conf, NULL};
	char          where[H_PATH_MAX + 16];

	h_daemon_write_config(d, text);
	assert_int_not_equal(h_run(&p, argv), 0);
	snprintf(where, sizeof(where), "%s:%d:", d->conf, line);
	assert_non_null(strstr(p.err, where));
	assert_non_null(strstr(p.err, needle));
	assert_null(strstr(p.err, "configuration OK"));
	h_proc_free(&p);
}

/* An unknown key is an error that names the file and the line. */
static void
test_config_check_unknown_key(void **state)
{
	struct h_daemon *d = *state;

	config_refused(d,
	    "[limits]\n"
	    "max_connections = 7\n"
	    "max_conections = 8\n",
	    3, "unknown key \"max_conections\"");
	/* Unknown sections and bad values are refused the same way. */
	config_refused(d, "[limits]\nidle_timeout = soon\n", 2, "idle_timeout");
	config_refused(d, "[budgetd]\ncommit_wait_us = 10001\n", 2,
	    "commit_wait_us must be 0-10000");
	config_refused(
	    d, "\n[nonsense]\nx = 1\n", 3, "unknown section [nonsense]");
}

/*
 * reservation_ttl is held to what a request may ask for with --ttl (366
 * days): a longer default was taken, and one of 999999999d overflowed the
 * expiry time.
 */
static void
test_config_reservation_ttl_range(void **state)
{
	struct h_daemon *d = *state;
	struct h_proc    p;
	const char      *argv[] = {BUDGETD_PATH, "-n", "-c", d->conf, NULL};

	config_refused(d, "[ledger]\nreservation_ttl = 367d\n", 2,
	    "reservation_ttl must be a duration such as 60d, up to 366d");
	config_refused(
	    d, "[ledger]\nreservation_ttl = 999999999d\n", 2, "up to 366d");
	h_daemon_write_config(d, "[ledger]\nreservation_ttl = 366d\n");
	assert_int_equal(h_run(&p, argv), 0);
	assert_non_null(strstr(p.out, "reservation_ttl = 31622400s\n"));
	h_proc_free(&p);
}

/* Many budgetctl at once: every one is answered correctly. */
static void
test_concurrent_status(void **state)
{
	struct h_daemon *d = *state;
	struct h_proc    p[CONCURRENT_N];
	int              i;

	for (i = 0; i < CONCURRENT_N; i++)
		h_ctl_spawn(&p[i], d, "--json", "status", NULL);
	for (i = 0; i < CONCURRENT_N; i++) {
		h_proc_wait(&p[i], H_DEADLINE_MS);
		h_proc_expect(&p[i], 0);
		assert_string_equal(
		    h_json_str(h_json(&p[i]), "datadir"), d->datadir);
		h_proc_free(&p[i]);
	}
	h_assert_serving(d);
}

/*
 * The caller's role comes from its credentials: nobody, made auditor in
 * the config, may read the status; without a role it is refused (exit 1,
 * permission_denied).
 */
static void
test_status_roles(void **state)
{
	struct h_daemon *d = *state;
	struct h_proc    p;

	if (!h_can_switch_user())
		skip();
	assert_int_equal(h_daemon_stop(d), 0);
	/* Let nobody reach the socket: the directory and the socket mode. */
	assert_int_equal(chmod(d->dir, 0755), 0);
	h_daemon_write_config(d,
	    "[budgetd]\nsocket_mode = 0666\n"
	    "[roles]\nauditor = 65534\n");
	h_daemon_start(d);
	h_ctl_as(&p, d, H_NOBODY_UID, H_NOBODY_GID, "--json", "status", NULL);
	h_proc_expect(&p, 0);
	assert_string_equal(h_json_str(h_json(&p), "role"), "auditor");
	h_proc_free(&p);
	h_ctl(&p, d, "--json", "status", NULL);
	h_proc_expect(&p, 0);
	assert_string_equal(h_json_str(h_json(&p), "role"), "admin");
	h_proc_free(&p);

	h_daemon_write_config(d, "[budgetd]\nsocket_mode = 0666\n");
	h_daemon_restart(d);
	h_ctl_as(&p, d, H_NOBODY_UID, H_NOBODY_GID, "--json", "status", NULL);
	h_proc_expect(&p, 1);
	assert_string_equal(
	    h_json_str(h_json(&p), "error.code"), "permission_denied");
	h_proc_free(&p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		test_status_text, setup_daemon, h_teardown),
	    cmocka_unit_test_setup_teardown(
		test_status_json, setup_daemon, h_teardown),
	    cmocka_unit_test_setup_teardown(
		test_unreachable, setup_daemon, h_teardown),
	    cmocka_unit_test_setup_teardown(
		test_unreachable_stale_socket, setup_daemon, h_teardown),
	    cmocka_unit_test_setup_teardown(
		test_usage, setup_daemon, h_teardown),
	    cmocka_unit_test_setup_teardown(
		test_concurrent_status, setup_daemon, h_teardown),
	    cmocka_unit_test_setup_teardown(
		test_status_roles, setup_daemon, h_teardown),
	    cmocka_unit_test_setup_teardown(
		test_config_check_ok, setup_dir, h_teardown),
	    cmocka_unit_test_setup_teardown(
		test_config_check_unknown_key, setup_dir, h_teardown),
	    cmocka_unit_test_setup_teardown(
		test_config_reservation_ttl_range, setup_dir, h_teardown),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
