/*
 * ops.c: the helpers of issue #5's operational tests (see ops.h): Requests
 * for every dossier step, the journal read with raw export pages, the
 * well-behaved client that runs in a child process beside a hostile one,
 * and the process facts (CPU time, descriptor limit) those tests look at.
 */
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ops.h"

/* MEDIUM at EUR 18,000.00: the amendment of a START dossier. */
#define OPS_AMEND_COST 1800000

/* Entries per export page (the daemon's maximum). */
#define OPS_EXPORT_PAGE 10000

void
ops_reserve(struct fx_req *r, const char *rid, const char *id,
    const char *company, const char *contract, int64_t ttl)
{
	fx_reserve(r, rid, id, company, contract, "START", OPS_START_COST, ttl);
}

void
ops_step(struct fx_req *r, enum ops_kind kind, const char *rid, const char *id,
    int64_t amount, int64_t ttl)
{
	fx_req_init(r, rid);
	snprintf(r->id, sizeof(r->id), "%s", id != NULL ? id : "");
	snprintf(r->text, sizeof(r->text), "ops");
	switch (kind) {
	case OPS_RESERVE:
		h_fail("ops: use ops_reserve for a reservation");
	case OPS_APPROVE:
		budget__dossier_approve__init(&r->u.approve);
		r->u.approve.id = r->id;
		r->req.command_case = BUDGET__REQUEST__COMMAND_DOSSIER_APPROVE;
		r->req.dossier_approve = &r->u.approve;
		break;
	case OPS_AMEND:
		budget__dossier_amend__init(&r->u.amend);
		budget__cents__init(&r->cents);
		snprintf(r->text, sizeof(r->text), "MEDIUM");
		r->cents.cents = OPS_AMEND_COST;
		r->u.amend.id = r->id;
		r->u.amend.package = r->text;
		r->u.amend.cost = &r->cents;
		r->u.amend.ttl_seconds = ttl;
		r->req.command_case = BUDGET__REQUEST__COMMAND_DOSSIER_AMEND;
		r->req.dossier_amend = &r->u.amend;
		break;
	case OPS_CANCEL:
		budget__dossier_cancel__init(&r->u.cancel);
		r->u.cancel.id = r->id;
		r->u.cancel.reason = r->text;
		r->req.command_case = BUDGET__REQUEST__COMMAND_DOSSIER_CANCEL;
		r->req.dossier_cancel = &r->u.cancel;
		break;
	case OPS_WITHDRAW:
		budget__dossier_withdraw__init(&r->u.withdraw);
		r->u.withdraw.id = r->id;
		r->u.withdraw.reason = r->text;
		r->req.command_case = BUDGET__REQUEST__COMMAND_DOSSIER_WITHDRAW;
		r->req.dossier_withdraw = &r->u.withdraw;
		break;
	case OPS_PAY:
		budget__dossier_pay__init(&r->u.pay);
		r->u.pay.id = r->id;
		r->u.pay.amount_cents = amount;
		r->req.command_case = BUDGET__REQUEST__COMMAND_DOSSIER_PAY;
		r->req.dossier_pay = &r->u.pay;
		break;
	case OPS_COMPLETE:
		budget__dossier_complete__init(&r->u.complete);
		r->u.complete.id = r->id;
		r->req.command_case = BUDGET__REQUEST__COMMAND_DOSSIER_COMPLETE;
		r->req.dossier_complete = &r->u.complete;
		break;
	case OPS_CLOSE:
		budget__dossier_close__init(&r->u.close);
		r->u.close.id = r->id;
		r->req.command_case = BUDGET__REQUEST__COMMAND_DOSSIER_CLOSE;
		r->req.dossier_close = &r->u.close;
		break;
	case OPS_SHOW:
		budget__dossier_show__init(&r->u.show);
		r->u.show.id = r->id;
		r->req.command_case = BUDGET__REQUEST__COMMAND_DOSSIER_SHOW;
		r->req.dossier_show = &r->u.show;
		break;
	case OPS_STATUS:
		budget__status_request__init(&r->u.status);
		r->req.command_case = BUDGET__REQUEST__COMMAND_STATUS;
		r->req.status = &r->u.status;
		break;
	}
}

const char *
ops_kind_name(enum ops_kind kind)
{
	static const char *names[] = {
	    [OPS_RESERVE] = "dossier_reserve",
	    [OPS_APPROVE] = "dossier_approve",
	    [OPS_AMEND] = "dossier_amend",
	    [OPS_CANCEL] = "dossier_cancel",
	    [OPS_WITHDRAW] = "dossier_withdraw",
	    [OPS_PAY] = "dossier_pay",
	    [OPS_COMPLETE] = "dossier_complete",
	    [OPS_CLOSE] = "dossier_close",
	    [OPS_SHOW] = "dossier_show",
	    [OPS_STATUS] = "status",
	};

	if ((unsigned)kind >= sizeof(names) / sizeof(names[0]))
		h_fail("ops: unknown step %d", (int)kind);
	return (names[kind]);
}

/* ------------------------------------------------------------------ */
/* The journal                                                        */

static json_t *
ops_entry_json(const Budget__JournalEntryView *e)
{
	json_t *o = json_object();
	size_t  i;

	if (o == NULL)
		h_fail("ops: out of memory");
	json_object_set_new(o, "seq", json_integer((json_int_t)e->seq));
	for (i = 0; i < e->n_fields; i++) {
		const Budget__JournalField *f = e->fields[i];

		if (f->number)
			json_object_set_new(o, f->name,
			    json_integer(strtoll(f->value, NULL, 10)));
		else
			json_object_set_new(o, f->name, json_string(f->value));
	}
	return (o);
}

json_t *
ops_journal(const struct h_daemon *d, uint64_t since)
{
	Budget__Request       req = BUDGET__REQUEST__INIT;
	Budget__ExportRequest ex = BUDGET__EXPORT_REQUEST__INIT;
	Budget__Response     *a;
	json_t               *all = json_array();
	uint64_t              until = 0;
	size_t                i;
	int                   fd = h_connect(d);

	if (all == NULL)
		h_fail("ops: out of memory");
	req.version = BUDGET_PROTOCOL_VERSION;
	req.request_id = H_STR("");
	req.command_case = BUDGET__REQUEST__COMMAND_EXPORT;
	req.export = &ex;
	for (;;) {
		ex.since = since;
		ex.until = until;
		ex.limit = OPS_EXPORT_PAGE;
		h_send_request(fd, &req);
		a = h_recv(fd, H_DEADLINE_MS);
		if (a->error != NULL || a->journal == NULL) {
			print_error("export: %s: %s\n",
			    a->error != NULL ? a->error->code : "no page",
			    a->error != NULL ? a->error->message : "");
			budget__response__free_unpacked(a, NULL);
			h_fail("ops: the journal could not be exported");
		}
		for (i = 0; i < a->journal->n_entries; i++)
			json_array_append_new(
			    all, ops_entry_json(a->journal->entries[i]));
		/* The rest of the pages stop where the first one did. */
		until = a->journal->head_seq;
		since = a->journal->next;
		budget__response__free_unpacked(a, NULL);
		if (since == 0 || until == 0)
			break;
	}
	close(fd);
	return (all);
}

uint64_t
ops_journal_seq(const struct h_daemon *d)
{
	Budget__Response *a;
	uint64_t          seq;
	int               fd = h_connect(d);

	h_send_status(fd, "ops-seq");
	a = h_recv(fd, H_DEADLINE_MS);
	close(fd);
	if (a->status == NULL) {
		budget__response__free_unpacked(a, NULL);
		h_fail("ops: status refused to root");
	}
	seq = a->status->journal_seq;
	budget__response__free_unpacked(a, NULL);
	return (seq);
}

const char *
ops_entry_str(json_t *entry, const char *name)
{
	json_t *v = json_object_get(entry, name);

	return (json_is_string(v) ? json_string_value(v) : "");
}

int64_t
ops_entry_int(json_t *entry, const char *name)
{
	json_t *v = json_object_get(entry, name);

	return (json_is_integer(v) ? (int64_t)json_integer_value(v) : 0);
}

/* ------------------------------------------------------------------ */
/* Processes                                                          */

int
ops_raise_nofile(unsigned n)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		h_fail("ops: getrlimit: %s", strerror(errno));
	if (rl.rlim_cur >= n)
		return (0);
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < n)
		return (-1);
	rl.rlim_cur = n;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		h_fail("ops: setrlimit %u: %s", n, strerror(errno));
	return (0);
}

int64_t
ops_cpu_ms(pid_t pid)
{
	char               path[64], buf[4096], *p;
	unsigned long long utime, stime;
	long               hz = sysconf(_SC_CLK_TCK);
	ssize_t            n;
	int                fd, i;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		h_fail("ops: %s: %s", path, strerror(errno));
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		h_fail("ops: reading %s", path);
	buf[n] = '\0';
	/* The command may hold spaces and parentheses: after the last ')'. */
	if ((p = strrchr(buf, ')')) == NULL)
		h_fail("ops: %s: no ')'", path);
	p++;
	/* Field 3 (state) is the first after ')'; utime is 14, stime 15. */
	for (i = 3; i < 14 && p != NULL; i++) {
		p = strchr(p + 1, ' ');
	}
	if (p == NULL || sscanf(p, " %llu %llu", &utime, &stime) != 2)
		h_fail("ops: %s: no utime and stime", path);
	return ((int64_t)(utime + stime) * 1000 / (hz > 0 ? hz : 100));
}

int
ops_log_blocked(const struct h_daemon *d, size_t min_unsent)
{
	char              *log = h_daemon_log(d), *p = log;
	unsigned long long unsent;
	unsigned           owed;
	int                found = 0;

	while (!found && (p = strstr(p, ": blocked (")) != NULL) {
		p += strlen(": blocked (");
		if (sscanf(p, "%u owed, %llu bytes unsent)", &owed, &unsent) ==
			2 &&
		    unsent >= min_unsent)
			found = 1;
	}
	free(log);
	return (found);
}

void
ops_daemon_teardown(struct h_daemon *d)
{
	char *log;
	int   st = 0, crashed = 0;

	if (d != NULL && d->pid > 0) {
		if (!h_daemon_running(d))
			crashed = 1;
		else {
			kill(d->pid, SIGTERM);
			if (!h_daemon_wait_exit(d, 3 * H_DEADLINE_MS, &st)) {
				kill(d->pid, SIGKILL);
				h_daemon_wait_exit(d, H_DEADLINE_MS, &st);
				st = -1;
			}
		}
		if (crashed || st != 0) {
			log = h_daemon_log(d);
			fprintf(stderr,
			    "---- %s (%s %d) ----\n%s---- end ----\n", d->log,
			    crashed ? "died, status" : "SIGTERM: exit",
			    crashed ? d->status : st, log);
			free(log);
			/* Let h_daemon_teardown see it as it was. */
			h_daemon_free(d);
			if (crashed)
				h_fail("budgetd died during the test");
			h_fail("budgetd exited %d on SIGTERM at the end of the "
			       "test",
			    st);
		}
	}
	h_daemon_teardown(d);
}

int
ops_teardown(void **state)
{
	ops_daemon_teardown(*state);
	return (0);
}

/* ------------------------------------------------------------------ */
/* The well-behaved client                                            */

/*
 * In the child: never h_fail (that would run the rest of the test
 * suite in the child) and never exit() (the harness's atexit handler
 * would remove the parent's daemons): say why and _exit(1).
 */
static void __attribute__((noreturn, format(printf, 1, 2)))
good_die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
	_exit(1);
}

static Budget__Response *
good_call(int fd, const Budget__Request *req)
{
	Budget__Response *a;
	uint8_t          *frame;
	size_t            len;
	int               rc;

	frame = fx_frame(req, &len);
	if (h_send_try(fd, frame, len) == -1)
		good_die("good client: sending %s: %s", req->request_id,
		    strerror(errno));
	free(frame);
	rc = h_recv_try(fd, H_DEADLINE_MS, &a);
	if (rc != WIRE_OK)
		good_die("good client: no answer to %s (%d: %s)",
		    req->request_id, rc,
		    errno == 0 ? "closed" : strerror(errno));
	if (strcmp(a->request_id, req->request_id) != 0)
		good_die("good client: the answer to %s is for \"%s\"",
		    req->request_id, a->request_id);
	if (a->error != NULL)
		good_die("good client: %s refused: %s: %s", req->request_id,
		    a->error->code, a->error->message);
	return (a);
}

static void
good_check_dossier(const Budget__Response *a, const char *rid, const char *id)
{
	if (a->result_case != BUDGET__RESPONSE__RESULT_DOSSIER ||
	    a->dossier == NULL)
		good_die("good client: %s: not a dossier", rid);
	if (strcmp(a->dossier->id, id) != 0)
		good_die("good client: %s: dossier %s, expected %s", rid,
		    a->dossier->id, id);
	if (strcmp(a->dossier->state, "reserved") != 0 ||
	    a->dossier->subsidy_cents != OPS_START_SUB ||
	    a->dossier->pending_cents != OPS_START_SUB)
		good_die("good client: %s: dossier %s is %s with %lld "
			 "pending",
		    rid, id, a->dossier->state,
		    (long long)a->dossier->pending_cents);
}

static void __attribute__((noreturn))
good_run(const struct ops_good *g, const char *sock, int ready)
{
	Budget__Response *a;
	struct fx_req     r;
	char              rid[FX_ID_SZ], id[FX_ID_SZ], number[FX_RID_SZ];
	unsigned          i, k = 0;
	int               fd;

	if ((fd = h_connect_try(sock)) == -1)
		good_die("good client: connect: %s", strerror(errno));
	ops_step(&r, OPS_STATUS, "good-hello", NULL, 0, 0);
	a = good_call(fd, &r.req);
	budget__response__free_unpacked(a, NULL);
	if (write(ready, "!", 1) != 1)
		good_die("good client: telling the test: %s", strerror(errno));
	close(ready);

	for (i = 0; i < g->n; i++) {
		if (g->gap_ms > 0 && i > 0)
			h_sleep_ms(g->gap_ms);
		switch (i % 3) {
		case 0:
			snprintf(rid, sizeof(rid), "%s-st-%u", g->prefix, i);
			ops_step(&r, OPS_STATUS, rid, NULL, 0, 0);
			a = good_call(fd, &r.req);
			if (a->result_case != BUDGET__RESPONSE__RESULT_STATUS ||
			    a->status == NULL ||
			    a->status->protocol != BUDGET_PROTOCOL_VERSION)
				good_die("good client: %s: not a status", rid);
			break;
		case 1:
			k = i / 3;
			snprintf(id, sizeof(id), "%s-%u", g->prefix, k);
			snprintf(rid, sizeof(rid), "%s-rs-%u", g->prefix, k);
			fx_rid(g->first_serial + k, number);
			ops_reserve(&r, rid, id, number, g->contract, 0);
			a = good_call(fd, &r.req);
			if (a->replayed)
				good_die("good client: %s: replayed", rid);
			good_check_dossier(a, rid, id);
			break;
		default:
			snprintf(id, sizeof(id), "%s-%u", g->prefix, k);
			snprintf(rid, sizeof(rid), "%s-sh-%u", g->prefix, i);
			ops_step(&r, OPS_SHOW, rid, id, 0, 0);
			a = good_call(fd, &r.req);
			good_check_dossier(a, rid, id);
			break;
		}
		budget__response__free_unpacked(a, NULL);
	}
	close(fd);
	_exit(0);
}

void
ops_good_start(struct ops_good *g, const struct h_daemon *d)
{
	pid_t         parent = getpid();
	struct pollfd pfd;
	char          c;
	int           ready[2], err[2], n;

	if (g->n == 0 || g->contract[0] == '\0' || g->prefix[0] == '\0')
		h_fail("ops: the good client needs n, contract and prefix");
	if (pipe2(ready, O_CLOEXEC) == -1 || pipe2(err, O_CLOEXEC) == -1)
		h_fail("ops: pipe: %s", strerror(errno));
	fflush(NULL);
	if ((g->pid = fork()) == -1)
		h_fail("ops: fork: %s", strerror(errno));
	if (g->pid == 0) {
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 ||
		    getppid() != parent)
			_exit(126);
		close(ready[0]);
		close(err[0]);
		if (dup2(err[1], 2) == -1)
			_exit(126);
		good_run(g, d->sock, ready[1]);
	}
	close(ready[1]);
	close(err[1]);
	g->err_fd = err[0];
	pfd.fd = ready[0];
	pfd.events = POLLIN;
	do {
		n = poll(&pfd, 1, H_DEADLINE_MS);
	} while (n == -1 && errno == EINTR);
	if (n != 1 || read(ready[0], &c, 1) != 1) {
		close(ready[0]);
		ops_good_wait(g);
		h_fail("ops: the good client was not served at the start");
	}
	close(ready[0]);
}

int
ops_good_running(struct ops_good *g)
{
	siginfo_t si;

	if (g->pid <= 0)
		return (0);
	/*
	 * waitid, not waitpid: only waitid takes WNOWAIT (waitpid fails with
	 * EINVAL), and the child must stay unreaped for ops_good_wait.
	 */
	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, (id_t)g->pid, &si, WEXITED | WNOHANG | WNOWAIT) == -1)
		h_fail("ops: waitid %d: %s", (int)g->pid, strerror(errno));
	return (si.si_pid == 0);
}

void
ops_good_wait(struct ops_good *g)
{
	int64_t deadline = h_now_ms() + 3 * H_DEADLINE_MS;
	char    msg[2048];
	ssize_t n;
	size_t  len = 0;
	pid_t   r;
	int     ws = 0, status;

	if (g->pid <= 0)
		h_fail("ops: no good client to wait for");
	while (
	    (r = waitpid(g->pid, &ws, WNOHANG)) == 0 && h_now_ms() < deadline)
		h_sleep_ms(10);
	if (r == 0) {
		kill(g->pid, SIGKILL);
		waitpid(g->pid, &ws, 0);
	}
	g->pid = -1;
	h_set_nonblock(g->err_fd, 1);
	while (len < sizeof(msg) - 1 &&
	    (n = read(g->err_fd, msg + len, sizeof(msg) - 1 - len)) > 0)
		len += (size_t)n;
	msg[len] = '\0';
	close(g->err_fd);
	g->err_fd = -1;
	if (r == 0)
		h_fail("ops: the good client did not finish in %d ms: %s",
		    3 * H_DEADLINE_MS, msg);
	status = h_exit_status(ws);
	if (status != 0)
		h_fail(
		    "ops: the good client failed (status %d): %s", status, msg);
}

void
ops_good_ledger(const struct h_daemon *d, const char *contract,
    unsigned first_serial, unsigned n)
{
	fx_rules_load(d);
	fx_contract_open(d, contract, "100000000");
	fx_companies_add(d, first_serial, n);
}
