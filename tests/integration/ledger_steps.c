/*
 * ledger_steps.c: one budgetctl command as a checked step on the ledger
 * (see ledger_steps.h): the run, its expected answer, the journal's move
 * and verify after it, every failure reported at the caller's line; and
 * the daemon the tables run on (ls_daemon_at), with the rules loaded.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ledger_steps.h"

#ifndef BUDGET_SOURCE_DIR
#error "BUDGET_SOURCE_DIR must be defined by the build"
#endif

/*
 * The journal as the last step left it, so that the next step need not
 * ask again before it runs. Anything that changed the ledger in between
 * shows as a wrong move at that step: it can fail a test, never pass one.
 */
static struct {
	char           dir[H_DIR_MAX];
	struct ls_snap snap;
	int            valid;
} ls_last;

static void ls_argv_string(const char *const *, char *, size_t);
static void ls_run_ctl(struct h_proc *, const char *const *, int);
static void ls_run_raw(const char *, int, struct h_daemon *,
    const char *const *, struct ls_answer *, int);
static void
ls_verify_snap(const char *, int, struct h_daemon *, struct ls_snap *);
static void ls_want_named(const char *, int, const struct ls_answer *,
    const char *, const struct ls_name *);

void
ls_fail_at(const char *file, int line, const char *fmt, ...)
{
	char    buf[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	print_error("ERROR: %s\n", buf);
	_fail(file, line);
	abort();
}

/*
 * Run budgetctl. Built with the sanitizers, a budgetctl spends most of its
 * short life in LeakSanitizer's check at exit (about 100 ms of 130), and
 * the steps run it hundreds of times per test: quiet_leaks turns that
 * check off for this one run. The daemon keeps it (its teardown fails the
 * test on a leak), and so do the budgetctl runs of ls_cli_check_at and of
 * the other integration tests.
 */
static void
ls_run_ctl(struct h_proc *p, const char *const *argv, int quiet_leaks)
{
	const char *old = getenv("ASAN_OPTIONS");
	char       *saved = old != NULL ? strdup(old) : NULL, buf[1024];

	if (quiet_leaks) {
		snprintf(buf, sizeof(buf), "%s%sdetect_leaks=0",
		    saved != NULL ? saved : "",
		    saved != NULL && *saved != '\0' ? ":" : "");
		setenv("ASAN_OPTIONS", buf, 1);
	}
	h_run(p, argv);
	if (quiet_leaks) {
		if (saved != NULL)
			setenv("ASAN_OPTIONS", saved, 1);
		else
			unsetenv("ASAN_OPTIONS");
	}
	free(saved);
}

void
ls_answer_free(struct ls_answer *a)
{
	if (a == NULL)
		return;
	if (a->json != NULL)
		json_decref(a->json);
	a->json = NULL;
}

/* The command line as one string, for messages. */
static void
ls_argv_string(const char *const *argv, char *buf, size_t size)
{
	size_t i, n = 0;

	buf[0] = '\0';
	for (i = 0; argv[i] != NULL && n + 1 < size; i++) {
		snprintf(buf + n, size - n, "%s%s", i > 0 ? " " : "", argv[i]);
		n = strlen(buf);
	}
}

/* A command run outside the steps may change anything. */
void
ls_run_at(const char *file, int line, struct h_daemon *d,
    const char *const *argv, struct ls_answer *a)
{
	ls_last.valid = 0;
	ls_run_raw(file, line, d, argv, a, 0);
}

/* Run budgetctl --json argv; leak_check: see ls_run_ctl. */
static void
ls_run_raw(const char *file, int line, struct h_daemon *d,
    const char *const *argv, struct ls_answer *a, int leak_check)
{
	const char   *full[LS_ARGV_MAX + 8];
	struct h_proc p;
	json_error_t  e;
	json_t       *j = NULL, *err;
	size_t        i, n = 0;

	full[n++] = BUDGETCTL_PATH;
	full[n++] = "-s";
	full[n++] = d->sock;
	full[n++] = "--json";
	for (i = 0; argv[i] != NULL; i++) {
		if (n + 1 >= sizeof(full) / sizeof(full[0]))
			ls_fail_at(file, line, "too many arguments");
		full[n++] = argv[i];
	}
	full[n] = NULL;
	ls_run_ctl(&p, full, !leak_check);
	if (a == NULL) {
		h_proc_free(&p);
		return;
	}
	memset(a, 0, sizeof(*a));
	a->status = p.status;
	snprintf(a->err, sizeof(a->err), "%s", p.err);
	if (p.out_len > 0 &&
	    (j = json_loadb(p.out, p.out_len, 0, &e)) == NULL) {
		print_error("stdout: %s\nstderr: %s\n", p.out, p.err);
		h_proc_free(&p);
		ls_fail_at(file, line, "budgetctl --json printed no JSON");
	}
	a->json = j;
	if (j != NULL && (err = json_object_get(j, "error")) != NULL) {
		snprintf(a->code, sizeof(a->code), "%s",
		    json_string_value(json_object_get(err, "code")) != NULL
			? json_string_value(json_object_get(err, "code"))
			: "?");
		snprintf(a->message, sizeof(a->message), "%s",
		    json_string_value(json_object_get(err, "message")) != NULL
			? json_string_value(json_object_get(err, "message"))
			: "");
	}
	if (j != NULL && json_is_true(json_object_get(j, "replayed")))
		a->replayed = 1;
	h_proc_free(&p);
}

/* One read on a fresh connection: its Response (free it). */
static Budget__Response *
ls_wire_read(
    const char *file, int line, struct h_daemon *d, Budget__Request *req)
{
	static unsigned   serial;
	Budget__Response *r;
	char              id[32];
	int               fd;

	snprintf(id, sizeof(id), "ls-read-%u", ++serial);
	req->version = BUDGET_PROTOCOL_VERSION;
	req->request_id = id;
	if ((fd = h_connect_try(d->sock)) == -1)
		ls_fail_at(file, line, "cannot connect to %s", d->sock);
	h_send_request(fd, req);
	r = h_recv(fd, H_DEADLINE_MS);
	close(fd);
	if (r->error != NULL) {
		print_error("%s: %s\n", r->error->code, r->error->message);
		budget__response__free_unpacked(r, NULL);
		ls_fail_at(file, line, "a read was refused");
	}
	return (r);
}

void
ls_snap_at(const char *file, int line, struct h_daemon *d, struct ls_snap *s)
{
	Budget__Request       req = BUDGET__REQUEST__INIT;
	Budget__StatusRequest st = BUDGET__STATUS_REQUEST__INIT;
	Budget__Response     *r;

	req.command_case = BUDGET__REQUEST__COMMAND_STATUS;
	req.status = &st;
	r = ls_wire_read(file, line, d, &req);
	if (r->status == NULL) {
		budget__response__free_unpacked(r, NULL);
		ls_fail_at(file, line, "status: no status result");
	}
	s->seq = (json_int_t)r->status->journal_seq;
	snprintf(s->head, sizeof(s->head), "%s", r->status->head_hash);
	budget__response__free_unpacked(r, NULL);
	snprintf(ls_last.dir, sizeof(ls_last.dir), "%s", d->dir);
	ls_last.snap = *s;
	ls_last.valid = 1;
}

void
ls_verify_at(const char *file, int line, struct h_daemon *d)
{
	struct ls_snap s;

	ls_verify_snap(file, line, d, &s);
}

/* verify must say ok; *s gets its entries and head_hash. */
static void
ls_verify_snap(
    const char *file, int line, struct h_daemon *d, struct ls_snap *s)
{
	Budget__Request       req = BUDGET__REQUEST__INIT;
	Budget__VerifyRequest vr = BUDGET__VERIFY_REQUEST__INIT;
	Budget__Response     *r;
	size_t                i;

	req.command_case = BUDGET__REQUEST__COMMAND_VERIFY;
	req.verify = &vr;
	r = ls_wire_read(file, line, d, &req);
	if (r->verify == NULL || !r->verify->ok) {
		for (i = 0; r->verify != NULL && i < r->verify->n_problems; i++)
			print_error("verify: %s\n", r->verify->problems[i]);
		budget__response__free_unpacked(r, NULL);
		ls_fail_at(file, line, "verify does not say ok");
	}
	s->seq = (json_int_t)r->verify->entries;
	snprintf(s->head, sizeof(s->head), "%s", r->verify->head_hash);
	budget__response__free_unpacked(r, NULL);
}

void
ls_cli_check_at(const char *file, int line, struct h_daemon *d)
{
	static const char *const status[] = {"status", NULL};
	static const char *const verify[] = {"verify", NULL};
	struct ls_answer         a;
	struct ls_snap           s;
	char                     seq[32];

	ls_snap_at(file, line, d, &s);
	snprintf(seq, sizeof(seq), "journal_seq=%lld", (long long)s.seq);
	ls_run_raw(file, line, d, status, &a, 1);
	if (a.status != 0)
		ls_fail_at(file, line, "status --json: exit %d", a.status);
	ls_want_at(file, line, &a, seq);
	ls_want_at(file, line, &a, "protocol=1");
	if (strcmp(ls_str_at(file, line, &a, "head_hash"), s.head) != 0)
		ls_fail_at(file, line, "status --json shows another head_hash");
	ls_answer_free(&a);
	ls_run_raw(file, line, d, verify, &a, 1);
	if (a.status != 0)
		ls_fail_at(file, line, "verify --json: exit %d", a.status);
	ls_want_at(file, line, &a, "ok=true");
	snprintf(seq, sizeof(seq), "entries=%lld", (long long)s.seq);
	ls_want_at(file, line, &a, seq);
	if (strcmp(ls_str_at(file, line, &a, "head_hash"), s.head) != 0)
		ls_fail_at(file, line, "verify --json shows another head_hash");
	ls_answer_free(&a);
}

void
ls_moved_at(const char *file, int line, struct h_daemon *d,
    const struct ls_snap *before, int delta)
{
	struct ls_snap now, checked;

	ls_snap_at(file, line, d, &now);
	if (now.seq != before->seq + delta)
		ls_fail_at(file, line,
		    "journal_seq is %lld, expected %lld (%lld %+d)",
		    (long long)now.seq, (long long)(before->seq + delta),
		    (long long)before->seq, delta);
	if (delta == 0 && strcmp(now.head, before->head) != 0)
		ls_fail_at(file, line, "head_hash changed from %s to %s",
		    before->head, now.head);
	if (delta != 0 && strcmp(now.head, before->head) == 0)
		ls_fail_at(file, line, "head_hash did not change");
	ls_last.valid = 0;
	ls_verify_snap(file, line, d, &checked);
	/* verify read the same journal that status reports. */
	if (checked.seq != now.seq || strcmp(checked.head, now.head) != 0)
		ls_fail_at(file, line,
		    "verify: %lld entries, head %s; status: %lld, %s",
		    (long long)checked.seq, checked.head, (long long)now.seq,
		    now.head);
	snprintf(ls_last.dir, sizeof(ls_last.dir), "%s", d->dir);
	ls_last.snap = now;
	ls_last.valid = 1;
}

void
ls_step_at(const char *file, int line, struct h_daemon *d, const char *code,
    int delta, const char *const *argv, struct ls_answer *out)
{
	struct ls_snap   before;
	struct ls_answer a;
	char             cmd[1024], *dump;
	int              want;

	ls_argv_string(argv, cmd, sizeof(cmd));
	if (ls_last.valid && strcmp(ls_last.dir, d->dir) == 0)
		before = ls_last.snap;
	else
		ls_snap_at(file, line, d, &before);
	ls_last.valid = 0;
	ls_run_raw(file, line, d, argv, &a, 0);
	want = code == NULL ? 0 : strcmp(code, "usage") == 0 ? 2 : 1;
	if (a.status != want ||
	    (want == 1 &&
		(strcmp(a.code, code) != 0 || a.message[0] == '\0'))) {
		dump =
		    a.json != NULL ? json_dumps(a.json, JSON_INDENT(1)) : NULL;
		print_error("budgetctl %s\nstdout: %s\nstderr: %s\n", cmd,
		    dump != NULL ? dump : "", a.err);
		free(dump);
		ls_answer_free(&a);
		ls_fail_at(file, line, "expected %s, got exit %d%s%s",
		    code ? code : "done", a.status, a.code[0] ? " " : "",
		    a.code);
	}
	if (want == 2 && strstr(a.err, "usage:") == NULL) {
		ls_answer_free(&a);
		ls_fail_at(
		    file, line, "budgetctl %s: exit 2 without usage", cmd);
	}
	ls_moved_at(file, line, d, &before, delta);
	if (out != NULL)
		*out = a;
	else
		ls_answer_free(&a);
}

void
ls_stepl_at(const char *file, int line, struct h_daemon *d, const char *code,
    int delta, struct ls_answer *a, ...)
{
	const char *argv[LS_ARGV_MAX + 1], *s;
	va_list     ap;
	size_t      n = 0;

	va_start(ap, a);
	while ((s = va_arg(ap, const char *)) != NULL) {
		if (n == LS_ARGV_MAX) {
			va_end(ap);
			ls_fail_at(file, line, "too many arguments");
		}
		argv[n++] = s;
	}
	va_end(ap);
	argv[n] = NULL;
	ls_step_at(file, line, d, code, delta, argv, a);
}

json_int_t
ls_int_at(
    const char *file, int line, const struct ls_answer *a, const char *key)
{
	json_t *v = a->json != NULL ? h_json_get(a->json, key) : NULL;

	if (!json_is_integer(v))
		ls_fail_at(file, line, "answer has no integer \"%s\"", key);
	return (json_integer_value(v));
}

const char *
ls_str_at(
    const char *file, int line, const struct ls_answer *a, const char *key)
{
	json_t *v = a->json != NULL ? h_json_get(a->json, key) : NULL;

	if (!json_is_string(v))
		ls_fail_at(file, line, "answer has no string \"%s\"", key);
	return (json_string_value(v));
}

void
ls_load_rules_at(const char *file, int line, struct h_daemon *d)
{
	ls_stepl_at(file, line, d, NULL, 1, NULL, "rules", "load",
	    BUDGET_SOURCE_DIR "/rules/vlaio-cybersecurity.rules", NULL);
}

struct h_daemon *
ls_daemon_at(const char *file, int line, void **state)
{
	struct h_daemon *d;

	*state = d = h_daemon_up(NULL);
	ls_load_rules_at(file, line, d);
	ls_stepl_at(
	    file, line, d, NULL, 1, NULL, LS_OPEN("K", "1000000"), NULL);
	return (d);
}

void
ls_load_rules_text_at(const char *file, int line, struct h_daemon *d,
    const char *name, const char *text)
{
	char  path[H_PATH_MAX + 64];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", d->dir, name);
	if ((fp = fopen(path, "w")) == NULL || fputs(text, fp) < 0 ||
	    fclose(fp) != 0)
		ls_fail_at(file, line, "cannot write %s", path);
	ls_stepl_at(file, line, d, NULL, 1, NULL, "rules", "load", path, NULL);
}

void
ls_company_at(
    const char *file, int line, struct h_daemon *d, const char *number)
{
	ls_stepl_at(file, line, d, NULL, 1, NULL, "company", "add", number,
	    "--name", number, "--postcode", "9000", "--size", "small", NULL);
}

void
ls_date_from_today(int days, char *buf)
{
	time_t    t = time(NULL) + (time_t)days * 86400;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, 11, "%Y-%m-%d", &tm);
}

void
ls_want_at(
    const char *file, int line, const struct ls_answer *a, const char *want)
{
	const char *eq = strchr(want, '=');
	char        path[128], got[256];
	json_t     *v;

	if (eq == NULL || eq == want || (size_t)(eq - want) >= sizeof(path))
		ls_fail_at(file, line, "bad expectation \"%s\"", want);
	memcpy(path, want, (size_t)(eq - want));
	path[eq - want] = '\0';
	v = a->json != NULL ? h_json_get(a->json, path) : NULL;
	if (v == NULL && path[strlen(path) - 1] != '#')
		ls_fail_at(file, line, "answer has no \"%s\"", path);
	if (path[strlen(path) - 1] == '#') {
		/* "undertaking#=2": the number of elements of an array */
		path[strlen(path) - 1] = '\0';
		v = a->json != NULL ? h_json_get(a->json, path) : NULL;
		if (!json_is_array(v))
			ls_fail_at(
			    file, line, "answer has no array \"%s\"", path);
		snprintf(got, sizeof(got), "%zu", json_array_size(v));
	} else if (json_is_integer(v))
		snprintf(
		    got, sizeof(got), "%lld", (long long)json_integer_value(v));
	else if (json_is_string(v))
		snprintf(got, sizeof(got), "%s", json_string_value(v));
	else if (json_is_true(v))
		snprintf(got, sizeof(got), "true");
	else if (json_is_false(v))
		snprintf(got, sizeof(got), "false");
	else if (json_is_null(v))
		snprintf(got, sizeof(got), "null");
	else
		snprintf(got, sizeof(got), "(object or array)");
	if (strcmp(got, eq + 1) != 0)
		ls_fail_at(
		    file, line, "\"%s\" is %s, expected %s", path, got, eq + 1);
}

/* ls_want_at with "path=@NAME" standing for the name's value. */
static void
ls_want_named(const char *file, int line, const struct ls_answer *a,
    const char *want, const struct ls_name *names)
{
	const char *eq = strchr(want, '=');
	char        buf[256];
	size_t      m;

	if (eq == NULL || eq[1] != '@') {
		ls_want_at(file, line, a, want);
		return;
	}
	for (m = 0; names != NULL && names[m].name != NULL; m++) {
		if (strcmp(names[m].name, eq + 2) == 0) {
			snprintf(buf, sizeof(buf), "%.*s=%s", (int)(eq - want),
			    want, names[m].value);
			ls_want_at(file, line, a, buf);
			return;
		}
	}
	ls_fail_at(file, line, "no name \"%s\"", eq + 1);
}

void
ls_rows_at(const char *file, struct h_daemon *d, const struct ls_row *rows,
    size_t n, const struct ls_name *names)
{
	const char      *argv[LS_ARGV_MAX + 1];
	const char      *s, *v;
	struct ls_answer a;
	size_t           i, k, m;

	for (i = 0; i < n; i++) {
		const struct ls_row *r = &rows[i];

		for (k = 0; k < LS_ARGV_MAX && (s = r->argv[k]) != NULL; k++) {
			v = NULL;
			if (*s == '@') {
				for (m = 0; names != NULL &&
				     names[m].name != NULL && v == NULL;
				     m++) {
					if (strcmp(names[m].name, s + 1) == 0)
						v = names[m].value;
				}
				if (v == NULL)
					ls_fail_at(
					    file, r->line, "no name \"%s\"", s);
			}
			argv[k] = v != NULL ? v : s;
		}
		argv[k] = NULL;
		ls_step_at(file, r->line, d, r->code, r->delta, argv, &a);
		s = r->code != NULL && strcmp(r->code, "usage") == 0
		    ? a.err
		    : a.message;
		if (r->code != NULL && r->msg != NULL &&
		    strstr(s, r->msg) == NULL) {
			print_error("message: %s\n", s);
			ls_answer_free(&a);
			ls_fail_at(file, r->line,
			    "the message does not say \"%s\"", r->msg);
		}
		for (k = 0; k < LS_WANT_MAX && r->want[k] != NULL; k++)
			ls_want_named(file, r->line, &a, r->want[k], names);
		ls_answer_free(&a);
	}
	if (n > 0)
		ls_cli_check_at(file, rows[n - 1].line, d);
}
