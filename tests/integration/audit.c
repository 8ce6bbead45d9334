/*
 * audit.c: the helpers of the auditor's tests (see audit.h): budgetctl
 * output to files, python3 as the outside checker (verify-journal, csv,
 * XML), a strict RFC 4180 reader, journal times, and the small ledger
 * test_tamper.c and test_upgrade.c start from.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"

/* budgetctl or python3 arguments at most, our own included. */
#define AU_ARGV_MAX 64

int
au_run(struct h_proc *p, const char *const argv[])
{
	const char *old = getenv("ASAN_OPTIONS");
	char       *saved = old != NULL ? strdup(old) : NULL, buf[1024];
	int         st;

	snprintf(buf, sizeof(buf), "%s%sdetect_leaks=0",
	    saved != NULL ? saved : "",
	    saved != NULL && *saved != '\0' ? ":" : "");
	setenv("ASAN_OPTIONS", buf, 1);
	st = h_run(p, argv);
	if (saved != NULL)
		setenv("ASAN_OPTIONS", saved, 1);
	else
		unsetenv("ASAN_OPTIONS");
	free(saved);
	return (st);
}

/*
 * The fx_runner of au_ctl_as_nobody: anything but an answer fails here,
 * while stdout and stderr are still there to print.
 */
static int
au_run_nobody(struct h_proc *p, const char *const argv[])
{
	int st;

	h_proc_spawn_as(p, argv, H_NOBODY_UID, H_NOBODY_GID);
	h_proc_wait(p, H_DEADLINE_MS);
	st = p->status;
	if (st != 0 && st != 1) {
		print_error("stdout: %s\nstderr: %s\n", p->out, p->err);
		h_proc_free(p);
		h_fail("audit: budgetctl as nobody: exit %d", st);
	}
	return (st);
}

int
au_ctl_as_nobody(const struct h_daemon *d, json_t **out, ...)
{
	json_t *j;
	va_list ap;
	int     st;

	va_start(ap, out);
	j = fx_ctl_vjson_try(d, &st, au_run_nobody, ap);
	va_end(ap);
	if (out != NULL)
		*out = j;
	else
		json_decref(j);
	return (st);
}

json_t *
au_ctl_json(const struct h_daemon *d, int status, ...)
{
	json_t *j;
	va_list ap;

	va_start(ap, status);
	j = fx_ctl_vjson(d, status, au_run, ap);
	va_end(ap);
	return (j);
}

json_t *
au_ctl_json_try(const struct h_daemon *d, int *status, ...)
{
	json_t *j;
	va_list ap;

	va_start(ap, status);
	j = fx_ctl_vjson_try(d, status, au_run, ap);
	va_end(ap);
	return (j);
}

int64_t
au_seq(const struct h_daemon *d)
{
	json_t *j = au_ctl_json(d, 0, "status", NULL);
	int64_t seq = h_json_int(j, "journal_seq");

	json_decref(j);
	return (seq);
}

void
au_head(const struct h_daemon *d, struct au_head *h)
{
	json_t *j = au_ctl_json(d, 0, "status", NULL);

	h->seq = h_json_int(j, "journal_seq");
	snprintf(h->hash, sizeof(h->hash), "%s", h_json_str(j, "head_hash"));
	json_decref(j);
}

struct h_daemon *
au_ledger_up(void **state, const char *budget_eur, const char *paid_eur)
{
	struct h_daemon *d;

	*state = d = h_daemon_up(NULL);
	fx_rules_load(d);
	fx_contract_open(d, "K", budget_eur);
	json_decref(au_ctl_json(d, 0, "company", "add", AU_CO_X, "--name",
	    "Company X", "--postcode", "9000", "--size", "small", NULL));
	json_decref(au_ctl_json(d, 0, "company", "add", AU_CO_Y, "--name",
	    "Company Y", "--postcode", "2000", "--size", "micro", NULL));
	json_decref(au_ctl_json(d, 0, "dossier", "reserve", "D1", "--company",
	    AU_CO_X, "--contract", "K", "--package", "MEDIUM", "--cost",
	    "18000", NULL));
	json_decref(au_ctl_json(d, 0, "dossier", "approve", "D1", NULL));
	json_decref(au_ctl_json(
	    d, 0, "dossier", "pay", "D1", "--amount", paid_eur, NULL));
	return (d);
}

struct h_daemon *
au_auditor_ledger_up(void **state)
{
	struct h_daemon *d;

	if (!h_can_switch_user())
		skip();
	*state = d = h_daemon_new(NULL);
	/* nobody must reach the socket inside the test's directory. */
	assert_int_equal(chmod(d->dir, 0755), 0);
	h_daemon_write_config(d,
	    "[budgetd]\nsocket_mode = 0666\n"
	    "[roles]\nauditor = 65534\n");
	h_daemon_start(d);
	fx_rules_load(d);
	fx_contract_open(d, "K", "100000");
	json_decref(au_ctl_json(d, 0, "company", "add", AU_CO_X, "--name", "A",
	    "--postcode", "9000", "--size", "small", NULL));
	json_decref(au_ctl_json(d, 0, "dossier", "reserve", "D1", "--company",
	    AU_CO_X, "--contract", "K", "--package", "START", "--cost", "10000",
	    NULL));
	json_decref(au_ctl_json(d, 0, "dossier", "approve", "D1", NULL));
	return (d);
}

void
au_path(const struct h_daemon *d, const char *name, char buf[AU_PATH_SZ])
{
	snprintf(buf, AU_PATH_SZ, "%s/%s", d->dir, name);
}

void
au_write_file(const char *path, const char *buf, size_t len)
{
	FILE *fp;

	if ((fp = fopen(path, "w")) == NULL ||
	    (len > 0 && fwrite(buf, 1, len, fp) != len) || fclose(fp) != 0)
		h_fail("audit: cannot write %s: %s", path, strerror(errno));
}

char *
au_read_file(const char *path, size_t *lenp)
{
	FILE  *fp;
	char  *buf = NULL;
	size_t len = 0, cap = 0, n;

	if ((fp = fopen(path, "r")) == NULL)
		h_fail("audit: cannot read %s: %s", path, strerror(errno));
	for (;;) {
		if (len + 65536 + 1 > cap) {
			cap = cap == 0 ? 131072 : cap * 2;
			if ((buf = realloc(buf, cap)) == NULL)
				h_fail("audit: out of memory");
		}
		n = fread(buf + len, 1, cap - len - 1, fp);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(fp))
		h_fail("audit: reading %s: %s", path, strerror(errno));
	fclose(fp);
	buf[len] = '\0';
	if (lenp != NULL)
		*lenp = len;
	return (buf);
}

int
au_ctl_to_file(const struct h_daemon *d, const char *path, char **err, ...)
{
	const char   *argv[AU_ARGV_MAX], *a;
	struct h_proc p;
	size_t        n = 0;
	va_list       ap;
	int           status;

	argv[n++] = BUDGETCTL_PATH;
	argv[n++] = "-s";
	argv[n++] = d->sock;
	va_start(ap, err);
	while ((a = va_arg(ap, const char *)) != NULL) {
		if (n + 1 >= AU_ARGV_MAX)
			h_fail("audit: too many budgetctl arguments");
		argv[n++] = a;
	}
	va_end(ap);
	argv[n] = NULL;
	au_run(&p, argv);
	au_write_file(path, p.out, p.out_len);
	status = p.status;
	if (err != NULL && (*err = strdup(p.err)) == NULL)
		h_fail("audit: out of memory");
	h_proc_free(&p);
	return (status);
}

void
au_need_python(void)
{
	if (BUDGET_PYTHON3[0] == '\0')
		skip();
}

int
au_python(struct h_proc *p, ...)
{
	const char *argv[AU_ARGV_MAX], *a;
	size_t      n = 0;
	va_list     ap;

	au_need_python();
	argv[n++] = BUDGET_PYTHON3;
	va_start(ap, p);
	while ((a = va_arg(ap, const char *)) != NULL) {
		if (n + 1 >= AU_ARGV_MAX)
			h_fail("audit: too many python3 arguments");
		argv[n++] = a;
	}
	va_end(ap);
	argv[n] = NULL;
	return (h_run(p, argv));
}

json_t *
au_verify_journal(const char *file, const char *prev, int *status)
{
	struct h_proc p;
	json_t       *j;

	if (prev != NULL)
		au_python(
		    &p, BUDGET_VERIFY_JOURNAL, file, "--prev", prev, NULL);
	else
		au_python(&p, BUDGET_VERIFY_JOURNAL, file, NULL);
	*status = p.status;
	if (p.status != 0 && p.status != 1) {
		print_error("stdout: %s\nstderr: %s\n", p.out, p.err);
		h_proc_free(&p);
		h_fail("audit: verify-journal exited %d", *status);
	}
	j = json_incref(h_json(&p));
	h_proc_free(&p);
	return (j);
}

void
au_export_verified(const struct h_daemon *d, const char *path, int64_t since,
    const char *prev, int64_t expect_entries, const char *expect_head)
{
	char    sincebuf[32], *err = NULL;
	json_t *v;
	int     status;

	if (since > 0) {
		snprintf(sincebuf, sizeof(sincebuf), "%lld", (long long)since);
		status = au_ctl_to_file(d, path, &err, "export", "--format",
		    "jsonl", "--since", sincebuf, NULL);
	} else
		status = au_ctl_to_file(
		    d, path, &err, "export", "--format", "jsonl", NULL);
	if (status != 0) {
		print_error("stderr: %s\n", err);
		free(err);
		h_fail("audit: export exited %d", status);
	}
	free(err);
	v = au_verify_journal(path, prev, &status);
	if (status != 0 || !json_is_true(json_object_get(v, "ok"))) {
		char *s = json_dumps(v, 0);

		print_error("verify-journal: %s\n", s != NULL ? s : "?");
		free(s);
		json_decref(v);
		h_fail("audit: the export of %s does not re-verify", path);
	}
	if (h_json_int(v, "entries") != expect_entries ||
	    strcmp(h_json_str(v, "head_hash"), expect_head) != 0) {
		print_error("verify-journal: %lld entries, head %s; expected "
			    "%lld, %s\n",
		    (long long)h_json_int(v, "entries"),
		    h_json_str(v, "head_hash"), (long long)expect_entries,
		    expect_head);
		json_decref(v);
		h_fail("audit: the export re-verifies to another head");
	}
	json_decref(v);
}

json_t *
au_jsonl(const char *path)
{
	json_t      *all = json_array(), *o;
	json_error_t e;
	char        *buf = au_read_file(path, NULL), *line, *next;
	size_t       lineno = 0;

	for (line = buf; *line != '\0'; line = next) {
		lineno++;
		if ((next = strchr(line, '\n')) == NULL)
			h_fail("audit: %s: line %zu does not end in a newline",
			    path, lineno);
		*next++ = '\0';
		/* jansson keeps an object's keys in the order read (2.8 on). */
		if ((o = json_loads(line, 0, &e)) == NULL || !json_is_object(o))
			h_fail("audit: %s: line %zu is not a JSON object: %s",
			    path, lineno, e.text);
		json_array_append_new(all, o);
	}
	free(buf);
	return (all);
}

json_t *
au_csv_parse(const char *text, size_t len, const char **why)
{
	json_t *rows = json_array(), *row = NULL;
	char   *field;
	size_t  i = 0, flen, fcap = 256;

	if ((field = malloc(fcap)) == NULL)
		h_fail("audit: out of memory");
	while (i < len) {
		/* One field. */
		flen = 0;
		if (row == NULL)
			row = json_array();
		if (text[i] == '"') {
			for (i++;; i++) {
				if (i >= len) {
					*why = "a quoted field is not closed";
					goto bad;
				}
				if (text[i] == '"') {
					if (i + 1 < len && text[i + 1] == '"')
						i++;
					else {
						i++;
						break;
					}
				}
				if (flen + 2 > fcap &&
				    (field = realloc(field, fcap *= 2)) == NULL)
					h_fail("audit: out of memory");
				field[flen++] = text[i];
			}
		} else {
			for (; i < len && text[i] != ',' && text[i] != '\r' &&
			     text[i] != '\n';
			     i++) {
				if (text[i] == '"') {
					*why = "a quote inside a plain field";
					goto bad;
				}
				if (flen + 2 > fcap &&
				    (field = realloc(field, fcap *= 2)) == NULL)
					h_fail("audit: out of memory");
				field[flen++] = text[i];
			}
		}
		json_array_append_new(row, json_stringn(field, flen));
		if (i < len && text[i] == ',') {
			i++;
			continue;
		}
		if (i + 1 < len && text[i] == '\r' && text[i + 1] == '\n') {
			i += 2;
			json_array_append_new(rows, row);
			row = NULL;
			continue;
		}
		*why = i >= len ? "the last record does not end in CRLF"
		    : text[i] == '\r' || text[i] == '\n'
		    ? "a record ends in a bare CR or LF"
		    : "text follows a closing quote";
		goto bad;
	}
	free(field);
	if (row != NULL) {
		*why = "the last record does not end in CRLF";
		json_decref(row);
		json_decref(rows);
		return (NULL);
	}
	return (rows);
bad:
	free(field);
	json_decref(row);
	json_decref(rows);
	return (NULL);
}

json_t *
au_csv_python(const char *path)
{
	static const char code[] =
	    "import csv, json, sys\n"
	    "with open(sys.argv[1], newline='', encoding='utf-8') as f:\n"
	    "    rows = list(csv.reader(f, strict=True))\n"
	    "print(json.dumps(rows))\n";
	struct h_proc p;
	json_t       *j;

	au_python(&p, "-c", code, path, NULL);
	if (p.status != 0) {
		print_error("stderr: %s\n", p.err);
		h_proc_free(&p);
		h_fail("audit: python's csv module cannot read %s", path);
	}
	j = json_incref(h_json(&p));
	h_proc_free(&p);
	return (j);
}

void
au_xml_root(const char *path, char *root, size_t size)
{
	static const char code[] = "import sys, xml.dom.minidom\n"
				   "doc = xml.dom.minidom.parse(sys.argv[1])\n"
				   "print(doc.documentElement.tagName)\n";
	struct h_proc     p;
	char             *nl;

	au_python(&p, "-c", code, path, NULL);
	if (p.status != 0) {
		print_error("stderr: %s\n", p.err);
		h_proc_free(&p);
		h_fail("audit: %s is not well-formed XML", path);
	}
	if ((nl = strchr(p.out, '\n')) != NULL)
		*nl = '\0';
	snprintf(root, size, "%s", p.out);
	h_proc_free(&p);
}

int64_t
au_time_us(const char *s)
{
	struct tm tm;
	int       us, n = 0;
	time_t    t;

	memset(&tm, 0, sizeof(tm));
	if (s == NULL ||
	    sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%6dZ%n", &tm.tm_year, &tm.tm_mon,
		&tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &us,
		&n) != 7 ||
	    n != 27 || s[n] != '\0')
		h_fail("audit: \"%s\" is not a journal time", s ? s : "(null)");
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	t = timegm(&tm);
	return ((int64_t)t * 1000000 + us);
}

const char *
au_time_str(int64_t us, char *buf, size_t size)
{
	time_t    t = (time_t)(us / 1000000);
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	    tm.tm_sec, (int)(us % 1000000));
	return (buf);
}

int64_t
au_int(json_t *v)
{
	if (json_is_integer(v))
		return (json_integer_value(v));
	if (json_is_string(v))
		return (strtoll(json_string_value(v), NULL, 10));
	h_fail("audit: not an integer");
}

int
au_has_problem(json_t *v, const char *word)
{
	json_t *ps = h_json_get(v, "problems");
	size_t  i;

	for (i = 0; i < json_array_size(ps); i++) {
		const char *p = json_string_value(json_array_get(ps, i));

		if (p != NULL && strstr(p, word) != NULL)
			return (1);
	}
	return (0);
}

void
au_expect_verify_names(const struct h_daemon *d, const char *word)
{
	json_t *v;
	int     st;
	char   *s;

	v = au_ctl_json_try(d, &st, "verify", NULL);
	if (v != NULL && st == 1 && !h_json_bool(v, "ok") &&
	    au_has_problem(v, word)) {
		json_decref(v);
		return;
	}
	s = v != NULL ? json_dumps(v, JSON_INDENT(1)) : NULL;
	print_error("verify (exit %d): %s\n", st, s != NULL ? s : "?");
	free(s);
	json_decref(v);
	h_fail(
	    "verify does not find the change (no problem naming \"%s\")", word);
}

void
au_db_check(int rc, const char *what)
{
	if (rc != 0)
		h_fail("lmdb: %s: %s", what, mdb_strerror(rc));
}

void
au_db_open(const struct h_daemon *d, const char *name, struct au_db *t)
{
	if (h_daemon_running((struct h_daemon *)(uintptr_t)d))
		h_fail("tamper: stop the daemon first");
	au_db_check(mdb_env_create(&t->env), "mdb_env_create");
	au_db_check(mdb_env_set_maxdbs(t->env, 32), "mdb_env_set_maxdbs");
	au_db_check(mdb_env_open(t->env, d->datadir, 0, 0600), d->datadir);
	au_db_check(mdb_txn_begin(t->env, NULL, 0, &t->txn), "mdb_txn_begin");
	au_db_check(mdb_dbi_open(t->txn, name, 0, &t->dbi), name);
}

void
au_db_close(struct au_db *t)
{
	au_db_check(mdb_txn_commit(t->txn), "mdb_txn_commit");
	mdb_env_close(t->env);
}

size_t
au_tamper(struct h_daemon *d, const char *db, const void *prefix, size_t plen,
    int (*change)(uint8_t **val, size_t *len))
{
	struct au_db t;
	MDB_cursor  *cur;
	MDB_val      k, v;
	uint8_t     *copy, keys[64][64];
	uint8_t     *vals[64];
	size_t       klens[64], vlens[64], n = 0, i;
	int          rc;

	assert_int_equal(h_daemon_stop(d), 0);
	au_db_open(d, db, &t);
	au_db_check(mdb_cursor_open(t.txn, t.dbi, &cur), "mdb_cursor_open");
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size < plen ||
		    (plen > 0 && memcmp(k.mv_data, prefix, plen) != 0))
			continue;
		if (n == 64 || k.mv_size > sizeof(keys[0]))
			h_fail("tamper: too many or too long keys in %s", db);
		memcpy(keys[n], k.mv_data, k.mv_size);
		klens[n] = k.mv_size;
		if ((copy = malloc(v.mv_size + 1)) == NULL)
			h_fail("tamper: out of memory");
		memcpy(copy, v.mv_data, v.mv_size);
		vals[n] = copy;
		vlens[n] = v.mv_size;
		n++;
	}
	mdb_cursor_close(cur);
	for (i = 0; i < n; i++) {
		MDB_val kk = {klens[i], keys[i]};

		if (change(&vals[i], &vlens[i])) {
			MDB_val vv = {vlens[i], vals[i]};

			au_db_check(
			    mdb_put(t.txn, t.dbi, &kk, &vv, 0), "mdb_put");
		} else
			au_db_check(
			    mdb_del(t.txn, t.dbi, &kk, NULL), "mdb_del");
		free(vals[i]);
	}
	au_db_close(&t);
	h_daemon_start(d);
	return (n);
}

void
au_db_put(struct h_daemon *d, const char *db, const void *key, size_t klen,
    const void *val, size_t vlen)
{
	struct au_db t;
	MDB_val      k = {klen, (void *)(uintptr_t)key};
	MDB_val      v = {vlen, (void *)(uintptr_t)val};

	if (h_daemon_running(d))
		assert_int_equal(h_daemon_stop(d), 0);
	au_db_open(d, db, &t);
	au_db_check(mdb_put(t.txn, t.dbi, &k, &v, 0), "mdb_put");
	au_db_close(&t);
	h_daemon_start(d);
}

void
au_repack(const ProtobufCMessage *m, uint8_t **val, size_t *len)
{
	free(*val);
	*len = protobuf_c_message_get_packed_size(m);
	if ((*val = malloc(*len + 1)) == NULL)
		h_fail("tamper: out of memory");
	protobuf_c_message_pack(m, *val);
}

Budget__Response *
au_history_page(int fd, const char *contract, const char *company,
    uint64_t after, uint32_t limit, const char *since, const char *until)
{
	Budget__Request        req = BUDGET__REQUEST__INIT;
	Budget__HistoryRequest hr = BUDGET__HISTORY_REQUEST__INIT;

	req.version = BUDGET_PROTOCOL_VERSION;
	req.request_id = H_STR("page");
	req.command_case = BUDGET__REQUEST__COMMAND_HISTORY;
	req.history = &hr;
	if (contract != NULL)
		hr.contract = H_STR(contract);
	else
		hr.company = H_STR(company);
	hr.after = after;
	hr.limit = limit;
	hr.since = H_STR(since != NULL ? since : "");
	hr.until = H_STR(until != NULL ? until : "");
	return (fx_call(fd, &req));
}

void
au_journal_clock(struct h_daemon *d, int64_t us)
{
	uint8_t be[8];
	int     i;

	for (i = 0; i < 8; i++)
		be[i] = (uint8_t)((uint64_t)us >> (56 - 8 * i));
	au_db_put(d, "meta", "journal_time", 12, be, sizeof(be));
}
