/*
 * fixture.c: the ledger fixtures of the write-path integration tests (see
 * fixture.h): enterprise numbers, setup through budgetctl and pipelined
 * raw frames, Request builders, reading balances, journal_seq and the
 * checker's verdict back, and the stream of reservations that test_crash.c
 * and test_shutdown.c cut short and then account for.
 */
#include <sys/socket.h>

#include <arpa/inet.h>

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fixture.h"

#ifndef BUDGET_RULES_FILE
#error "BUDGET_RULES_FILE must be defined by the build"
#endif

/* budgetctl arguments at most, fx_ctl_json's own included. */
#define FX_ARGV_MAX 64

void
fx_rid(unsigned serial, char out[FX_RID_SZ])
{
	unsigned first8 = 10000000u + serial;

	if (serial >= 8000000u)
		h_fail("fixture: enterprise number serial %u is too large",
		    serial);
	snprintf(out, FX_RID_SZ, "%08u%02u", first8, 97u - first8 % 97u);
}

void
fx_date_ago(int days, char out[FX_DATE_SZ])
{
	time_t    t = time(NULL) - (time_t)days * 86400;
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(out, FX_DATE_SZ, "%Y-%m-%d", &tm) != FX_DATE_SZ - 1)
		h_fail("fixture: cannot format a date");
}

/* budgetctl --json ARGS from ap into p, started by run and waited for. */
static void
fx_ctl_run(
    struct h_proc *p, const struct h_daemon *d, fx_runner run, va_list ap)
{
	const char *argv[FX_ARGV_MAX], *a;
	size_t      n = 0;

	argv[n++] = BUDGETCTL_PATH;
	argv[n++] = "-s";
	argv[n++] = d->sock;
	argv[n++] = "--json";
	while ((a = va_arg(ap, const char *)) != NULL) {
		if (n + 1 >= FX_ARGV_MAX)
			h_fail("fixture: too many budgetctl arguments");
		argv[n++] = a;
	}
	argv[n] = NULL;
	run(p, argv);
}

json_t *
fx_ctl_vjson(const struct h_daemon *d, int status, fx_runner run, va_list ap)
{
	struct h_proc p;
	json_t       *j;

	fx_ctl_run(&p, d, run, ap);
	if (p.status != status) {
		int got = p.status;

		print_error("stdout: %s\nstderr: %s\n", p.out, p.err);
		h_proc_free(&p);
		h_fail(
		    "fixture: budgetctl exited %d, expected %d", got, status);
	}
	j = json_incref(h_json(&p));
	h_proc_free(&p);
	return (j);
}

json_t *
fx_ctl_vjson_try(
    const struct h_daemon *d, int *status, fx_runner run, va_list ap)
{
	struct h_proc p;
	json_t       *j;
	json_error_t  e;

	fx_ctl_run(&p, d, run, ap);
	*status = p.status;
	j = json_loadb(p.out, p.out_len, 0, &e);
	h_proc_free(&p);
	return (j);
}

json_t *
fx_ctl_json(const struct h_daemon *d, int status, ...)
{
	json_t *j;
	va_list ap;

	va_start(ap, status);
	j = fx_ctl_vjson(d, status, h_run, ap);
	va_end(ap);
	return (j);
}

json_t *
fx_ctl_json_try(const struct h_daemon *d, int *status, ...)
{
	json_t *j;
	va_list ap;

	va_start(ap, status);
	j = fx_ctl_vjson_try(d, status, h_run, ap);
	va_end(ap);
	return (j);
}

void
fx_rules_load(const struct h_daemon *d)
{
	json_decref(
	    fx_ctl_json(d, 0, "rules", "load", BUDGET_RULES_FILE, NULL));
}

struct h_daemon *
fx_daemon_up(void **state, const char *config)
{
	struct h_daemon *d;

	*state = d = h_daemon_up(config);
	fx_rules_load(d);
	return (d);
}

void
fx_contract_open(
    const struct h_daemon *d, const char *id, const char *budget_eur)
{
	char provider[FX_ID_SZ + 2];

	snprintf(provider, sizeof(provider), "P-%s", id);
	json_decref(fx_ctl_json(d, 0, "contract", "open", id, "--provider",
	    provider, "--framework", "FW2", "--budget", budget_eur, NULL));
}

void
fx_companies_add(const struct h_daemon *d, unsigned first, unsigned n)
{
	struct fx_req     *r = calloc(n, sizeof(*r));
	Budget__Request  **reqs = calloc(n, sizeof(*reqs));
	Budget__Response **resp = calloc(n, sizeof(*resp));
	char               rid[FX_ID_SZ];
	unsigned           i;
	int                fd;

	if (r == NULL || reqs == NULL || resp == NULL)
		h_fail("fixture: out of memory");
	for (i = 0; i < n; i++) {
		snprintf(rid, sizeof(rid), "fx-company-%u", first + i);
		fx_company_req(&r[i], rid, first + i);
		reqs[i] = &r[i].req;
	}
	fd = h_connect(d);
	fx_pipeline(fd, reqs, n, resp);
	close(fd);
	for (i = 0; i < n; i++) {
		if (fx_err(resp[i]) != NULL)
			h_fail("fixture: company add %s: %s: %s", r[i].company,
			    fx_err(resp[i]), resp[i]->error->message);
		budget__response__free_unpacked(resp[i], NULL);
	}
	free(resp);
	free(reqs);
	free(r);
}

void
fx_company_link(const struct h_daemon *d, const char *parent, const char *child,
    const char *since)
{
	json_decref(fx_ctl_json(
	    d, 0, "company", "link", parent, child, "--since", since, NULL));
}

void
fx_declare(const struct h_daemon *d, const char *number, const char *amount_eur,
    const char *granted)
{
	json_decref(
	    fx_ctl_json(d, 0, "deminimis", "declare", number, "--amount",
		amount_eur, "--granted", granted, "--source", "fixture", NULL));
}

void
fx_contract_show(
    const struct h_daemon *d, const char *id, struct fx_contract *c)
{
	json_t *j = fx_ctl_json(d, 0, "contract", "show", id, NULL);

	c->budget = h_json_int(j, "budget_cents");
	c->reserved = h_json_int(j, "reserved_cents");
	c->committed = h_json_int(j, "committed_cents");
	c->paid = h_json_int(j, "paid_cents");
	c->available = h_json_int(j, "available_cents");
	c->dossiers = h_json_int(j, "dossiers");
	json_decref(j);
}

int64_t
fx_journal_seq(const struct h_daemon *d)
{
	json_t *j = fx_ctl_json(d, 0, "status", NULL);
	int64_t seq = h_json_int(j, "journal_seq");

	json_decref(j);
	return (seq);
}

int64_t
fx_verify_ok(const struct h_daemon *d)
{
	const char *argv[] = {
	    BUDGETCTL_PATH, "-s", d->sock, "--json", "verify", NULL};
	struct h_proc p;
	int64_t       n;

	h_run(&p, argv);
	if (p.status != 0 || !json_is_true(h_json_get(h_json(&p), "ok"))) {
		print_error("verify: %s\n%s", p.out, p.err);
		h_proc_free(&p);
		h_fail("fixture: the checker does not agree with the ledger");
	}
	n = h_json_int(h_json(&p), "dossiers");
	h_proc_free(&p);
	return (n);
}

const char *
fx_dossier_state(
    const struct h_daemon *d, const char *id, char *buf, size_t size)
{
	json_t *j = fx_ctl_json(d, 0, "dossier", "show", id, NULL);

	snprintf(buf, size, "%s", h_json_str(j, "state"));
	json_decref(j);
	return (buf);
}

/* ------------------------------------------------------------------ */
/* Raw requests                                                       */

void
fx_req_init(struct fx_req *r, const char *rid)
{
	memset(r, 0, sizeof(*r));
	budget__request__init(&r->req);
	r->req.version = BUDGET_PROTOCOL_VERSION;
	snprintf(r->rid, sizeof(r->rid), "%s", rid != NULL ? rid : "");
	r->req.request_id = r->rid;
}

void
fx_reserve(struct fx_req *r, const char *rid, const char *id,
    const char *company, const char *contract, const char *package,
    int64_t cost_cents, int64_t ttl)
{
	Budget__DossierReserve *a = &r->u.reserve;

	fx_req_init(r, rid);
	budget__dossier_reserve__init(a);
	snprintf(r->id, sizeof(r->id), "%s", id);
	snprintf(r->company, sizeof(r->company), "%s", company);
	snprintf(r->contract, sizeof(r->contract), "%s", contract);
	snprintf(r->text, sizeof(r->text), "%s", package);
	a->id = r->id;
	a->company = r->company;
	a->contract = r->contract;
	a->package = r->text;
	a->cost_cents = cost_cents;
	a->ttl_seconds = ttl;
	r->req.command_case = BUDGET__REQUEST__COMMAND_DOSSIER_RESERVE;
	r->req.dossier_reserve = a;
}

void
fx_approve(struct fx_req *r, const char *rid, const char *id)
{
	Budget__DossierApprove *a = &r->u.approve;

	fx_req_init(r, rid);
	budget__dossier_approve__init(a);
	snprintf(r->id, sizeof(r->id), "%s", id);
	a->id = r->id;
	r->req.command_case = BUDGET__REQUEST__COMMAND_DOSSIER_APPROVE;
	r->req.dossier_approve = a;
}

void
fx_amend(struct fx_req *r, const char *rid, const char *id, const char *package,
    int64_t extension_cost, int64_t ttl)
{
	Budget__DossierAmend *a = &r->u.amend;

	fx_req_init(r, rid);
	budget__dossier_amend__init(a);
	budget__cents__init(&r->cents);
	snprintf(r->id, sizeof(r->id), "%s", id);
	snprintf(
	    r->text, sizeof(r->text), "%s", package != NULL ? package : "");
	a->id = r->id;
	a->package = r->text;
	r->cents.cents = extension_cost;
	a->extension_cost = &r->cents;
	a->ttl_seconds = ttl;
	r->req.command_case = BUDGET__REQUEST__COMMAND_DOSSIER_AMEND;
	r->req.dossier_amend = a;
}

void
fx_show(struct fx_req *r, const char *id)
{
	Budget__DossierShow *a = &r->u.show;
	char                 rid[FX_ID_SZ], copy[FX_ID_SZ];

	/* id may be r->id itself (show what r reserved). */
	snprintf(copy, sizeof(copy), "%s", id);
	snprintf(rid, sizeof(rid), "show:%.58s", copy);
	fx_req_init(r, rid);
	budget__dossier_show__init(a);
	snprintf(r->id, sizeof(r->id), "%s", copy);
	a->id = r->id;
	r->req.command_case = BUDGET__REQUEST__COMMAND_DOSSIER_SHOW;
	r->req.dossier_show = a;
}

void
fx_declare_req(struct fx_req *r, const char *rid, const char *number,
    int64_t amount_cents, const char *granted)
{
	Budget__DeminimisDeclare *a = &r->u.declare;

	fx_req_init(r, rid);
	budget__deminimis_declare__init(a);
	snprintf(r->company, sizeof(r->company), "%s", number);
	snprintf(r->id, sizeof(r->id), "%s", granted);
	snprintf(r->text, sizeof(r->text), "fixture");
	a->number = r->company;
	a->amount_cents = amount_cents;
	a->granted = r->id;
	a->source = r->text;
	r->req.command_case = BUDGET__REQUEST__COMMAND_DEMINIMIS_DECLARE;
	r->req.deminimis_declare = a;
}

void
fx_company_req(struct fx_req *r, const char *rid, unsigned serial)
{
	Budget__CompanyAdd *a = &r->u.company;

	fx_req_init(r, rid);
	budget__company_add__init(a);
	fx_rid(serial, r->company);
	snprintf(r->id, sizeof(r->id), "Company %u", serial);
	snprintf(r->text, sizeof(r->text), "9000");
	a->number = r->company;
	a->name = r->id;
	a->postcode = r->text;
	a->size = BUDGET__COMPANY_SIZE__SMALL;
	r->req.command_case = BUDGET__REQUEST__COMMAND_COMPANY_ADD;
	r->req.company_add = a;
}

void
fx_batch_req(struct fx_req *r, const char *rid, Budget__Request **ops, size_t n)
{
	fx_req_init(r, rid);
	budget__batch_request__init(&r->u.batch);
	r->u.batch.n_ops = n;
	r->u.batch.ops = ops;
	r->req.command_case = BUDGET__REQUEST__COMMAND_BATCH;
	r->req.batch = &r->u.batch;
}

void
fx_company_reqs(struct fx_req *ops, Budget__Request **ptrs, size_t n,
    const char *rid, unsigned first)
{
	char   srid[FX_ID_SZ];
	size_t i;

	for (i = 0; i < n; i++) {
		snprintf(srid, sizeof(srid), "%s.%zu", rid, i);
		fx_company_req(&ops[i], srid, first + (unsigned)i);
		ptrs[i] = &ops[i].req;
	}
}

void
fx_send_frame(int fd, const Budget__Request *req)
{
	uint8_t *frame;
	size_t   len;

	frame = fx_frame(req, &len);
	h_send(fd, frame, len);
	free(frame);
}

void
fx_send_frames(int fd, Budget__Request *const reqs[], size_t n)
{
	uint8_t *buf = NULL, *frame, *nb;
	size_t   len = 0, flen, i;

	for (i = 0; i < n; i++) {
		frame = fx_frame(reqs[i], &flen);
		if ((nb = realloc(buf, len + flen)) == NULL)
			h_fail("fixture: out of memory");
		buf = nb;
		memcpy(buf + len, frame, flen);
		len += flen;
		free(frame);
	}
	h_send(fd, buf, len);
	free(buf);
}

void
fx_verify_req(Budget__Request *req, Budget__VerifyRequest *v)
{
	budget__request__init(req);
	budget__verify_request__init(v);
	req->version = BUDGET_PROTOCOL_VERSION;
	req->command_case = BUDGET__REQUEST__COMMAND_VERIFY;
	req->verify = v;
}

int64_t
fx_expect_verifies(int fd, int n, int64_t from, int *at_from)
{
	Budget__Response *resp;
	int64_t           prev = from;
	int               i;

	if (at_from != NULL)
		*at_from = 0;
	for (i = 0; i < n; i++) {
		resp = h_recv(fd, H_DEADLINE_MS * 3);
		if (resp->error != NULL)
			h_fail("fixture: verify %d of %d: %s: %s", i + 1, n,
			    resp->error->code, resp->error->message);
		if (resp->result_case != BUDGET__RESPONSE__RESULT_VERIFY ||
		    !resp->verify->ok)
			h_fail("fixture: verify %d of %d: not ok", i + 1, n);
		if ((int64_t)resp->verify->entries < prev)
			h_fail("fixture: verify %d of %d saw %lld entries, the "
			       "one before %lld",
			    i + 1, n, (long long)resp->verify->entries,
			    (long long)prev);
		prev = (int64_t)resp->verify->entries;
		if (prev == from && at_from != NULL)
			(*at_from)++;
		budget__response__free_unpacked(resp, NULL);
	}
	return (prev);
}

uint8_t *
fx_frame(const Budget__Request *req, size_t *lenp)
{
	size_t   len = budget__request__get_packed_size(req);
	uint8_t *buf = malloc(BUDGET_FRAME_HEADER + len);
	uint32_t be = htonl((uint32_t)len);

	if (buf == NULL)
		h_fail("fixture: out of memory");
	memcpy(buf, &be, sizeof(be));
	budget__request__pack(req, buf + BUDGET_FRAME_HEADER);
	*lenp = BUDGET_FRAME_HEADER + len;
	return (buf);
}

const char *
fx_err(const Budget__Response *r)
{
	return (r->error != NULL ? r->error->code : NULL);
}

void
fx_pipeline(
    int fd, Budget__Request *const reqs[], size_t n, Budget__Response *out[])
{
	size_t   done, i, end, len;
	uint8_t *frame;

	for (done = 0; done < n; done = end) {
		end =
		    done + FX_PIPELINE_CHUNK < n ? done + FX_PIPELINE_CHUNK : n;
		for (i = done; i < end; i++) {
			frame = fx_frame(reqs[i], &len);
			h_send(fd, frame, len);
			free(frame);
		}
		for (i = done; i < end; i++) {
			out[i] = h_recv(fd, H_DEADLINE_MS);
			if (strcmp(out[i]->request_id, reqs[i]->request_id) !=
			    0)
				h_fail("fixture: answer %zu is for \"%s\", "
				       "expected \"%s\"",
				    i, out[i]->request_id, reqs[i]->request_id);
		}
	}
}

Budget__Response *
fx_call(int fd, const Budget__Request *req)
{
	h_send_request(fd, req);
	return (h_recv(fd, H_DEADLINE_MS));
}

int
fx_same_answer(const Budget__Response *a, const Budget__Response *b)
{
	Budget__Response x = *a, y = *b;
	size_t           lx, ly;
	uint8_t         *bx, *by;
	int              same;

	x.replayed = y.replayed = 0;
	lx = budget__response__get_packed_size(&x);
	ly = budget__response__get_packed_size(&y);
	if (lx != ly)
		return (0);
	bx = malloc(lx + 1);
	by = malloc(ly + 1);
	if (bx == NULL || by == NULL)
		h_fail("fixture: out of memory");
	budget__response__pack(&x, bx);
	budget__response__pack(&y, by);
	same = memcmp(bx, by, lx) == 0;
	free(bx);
	free(by);
	return (same);
}

uint64_t
fx_rand(uint64_t *state)
{
	*state ^= *state >> 12;
	*state ^= *state << 25;
	*state ^= *state >> 27;
	return (*state * UINT64_C(2685821657736338717));
}

unsigned
fx_env_unsigned(const char *name, unsigned dflt)
{
	const char   *s = getenv(name);
	char         *end;
	unsigned long v;

	if (s == NULL || *s == '\0')
		return (dflt);
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v == 0 || v > 1000)
		fail_msg("%s must be a number from 1 to 1000", name);
	return ((unsigned)v);
}

Budget__Response *
fx_next_answer(const uint8_t *buf, size_t len, size_t *off, size_t max)
{
	Budget__Response *a;
	uint32_t          be, flen;

	if (len - *off < BUDGET_FRAME_HEADER)
		return (NULL);
	memcpy(&be, buf + *off, sizeof(be));
	flen = ntohl(be);
	if (flen == 0 || flen > max - BUDGET_FRAME_HEADER)
		fail_msg("a frame of %u bytes from the daemon", flen);
	if (len - *off < BUDGET_FRAME_HEADER + flen)
		return (NULL);
	a = budget__response__unpack(
	    NULL, flen, buf + *off + BUDGET_FRAME_HEADER);
	if (a == NULL)
		fail_msg("the daemon sent a frame that is no Response");
	*off += BUDGET_FRAME_HEADER + flen;
	return (a);
}

uint64_t
fx_seed(const char *name)
{
	const char *s = getenv(name);
	uint64_t    seed;

	seed = s != NULL && *s != '\0'
	    ? strtoull(s, NULL, 10)
	    : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
	return (seed != 0 ? seed : 1);
}

struct fx_op *
fx_ops_reserve(size_t n, const char *id_prefix, const char *rid_prefix,
    const char *contract, int64_t cost)
{
	struct fx_op *ops = calloc(n, sizeof(*ops));
	char          number[FX_RID_SZ], id[FX_ID_SZ], rid[FX_ID_SZ];
	size_t        i;

	if (ops == NULL)
		h_fail("fixture: out of memory");
	for (i = 0; i < n; i++) {
		fx_rid(1 + (unsigned)i, number);
		snprintf(id, sizeof(id), "%s-%zu", id_prefix, i);
		snprintf(rid, sizeof(rid), "%s-%zu", rid_prefix, i);
		fx_reserve(
		    &ops[i].r, rid, id, number, contract, "START", cost, 0);
	}
	return (ops);
}

void
fx_ops_free(struct fx_op *ops, size_t n)
{
	size_t i;

	for (i = 0; ops != NULL && i < n; i++) {
		if (ops[i].answer != NULL)
			budget__response__free_unpacked(ops[i].answer, NULL);
	}
	free(ops);
}

struct fx_sconn *
fx_sconns_open(const struct h_daemon *d, size_t n, size_t first, size_t per)
{
	struct fx_sconn *cs;
	size_t           i;

	/* fx_sconns_poll polls them from an array of this size. */
	if (n > FX_STREAM_CONNS)
		h_fail("fixture: a stream of %zu connections", n);
	if ((cs = calloc(n, sizeof(*cs))) == NULL)
		h_fail("fixture: out of memory");
	for (i = 0; i < n; i++) {
		cs[i].fd = h_connect_served(d);
		cs[i].first = first + i * per;
	}
	return (cs);
}

void
fx_sconns_close(struct fx_sconn *cs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		close(cs[i].fd);
	free(cs);
}

void
fx_sconn_send(
    struct fx_sconn *c, struct fx_op *ops, const volatile sig_atomic_t *gone)
{
	struct fx_op *o = &ops[c->first + c->nsent];
	uint8_t      *frame;
	size_t        len;

	frame = fx_frame(&o->r.req, &len);
	o->sent = 1;
	c->nsent++;
	if (h_send_try(c->fd, frame, len) == -1 && !*gone)
		h_fail("fixture: send: %s", strerror(errno));
	free(frame);
}

size_t
fx_sconns_poll(struct fx_sconn *cs, size_t n, int ms)
{
	struct pollfd pfd[FX_STREAM_CONNS];
	size_t        i, ready = 0;
	int           rc;

	for (i = 0; i < n; i++) {
		pfd[i].fd = cs[i].closed ? -1 : cs[i].fd;
		pfd[i].events = POLLIN;
		pfd[i].revents = 0;
	}
	rc = poll(pfd, (nfds_t)n, ms);
	if (rc == -1 && errno != EINTR)
		h_fail("fixture: poll: %s", strerror(errno));
	for (i = 0; i < n; i++) {
		cs[i].ready = rc > 0 && pfd[i].revents != 0;
		ready += (size_t)cs[i].ready;
	}
	return (ready);
}

int
fx_sconn_read(struct fx_sconn *c)
{
	ssize_t n;

	if (c->len == FX_STREAM_BUF)
		h_fail(
		    "fixture: an answer larger than %d bytes", FX_STREAM_BUF);
	n = recv(c->fd, c->buf + c->len, FX_STREAM_BUF - c->len, MSG_DONTWAIT);
	if (n > 0) {
		c->len += (size_t)n;
		return (1);
	}
	if (n == 0 || errno == ECONNRESET)
		return (0);
	if (errno == EAGAIN || errno == EINTR)
		return (1);
	h_fail("fixture: recv: %s", strerror(errno));
}

size_t
fx_sconn_parse(struct fx_sconn *c, struct fx_op *ops, fx_check check)
{
	size_t            off = 0, n = 0;
	struct fx_op     *o;
	Budget__Response *a;

	while (
	    (a = fx_next_answer(c->buf, c->len, &off, FX_STREAM_BUF)) != NULL) {
		if (c->nacked >= c->nsent)
			h_fail("fixture: an answer to a request never sent");
		o = &ops[c->first + c->nacked++];
		if (strcmp(a->request_id, o->r.rid) != 0)
			h_fail("fixture: answer for \"%s\", expected \"%s\": "
			       "out of order",
			    a->request_id, o->r.rid);
		if (a->replayed)
			h_fail("fixture: a first answer (%s) is marked "
			       "replayed",
			    o->r.rid);
		check(&o->r, a);
		o->answer = a;
		n++;
	}
	memmove(c->buf, c->buf + off, c->len - off);
	c->len -= off;
	return (n);
}

/*
 * What is there now, before anything is retried: sets each op's exists.
 */
static void
fx_ops_look(int fd, struct fx_op *ops, size_t n, fx_check shown)
{
	struct fx_req     *shows = calloc(n, sizeof(*shows));
	Budget__Request  **reqs = calloc(n, sizeof(*reqs));
	Budget__Response **out = calloc(n, sizeof(*out));
	struct fx_op      *o;
	size_t             i;

	if (shows == NULL || reqs == NULL || out == NULL)
		h_fail("fixture: out of memory");
	for (i = 0; i < n; i++) {
		fx_show(&shows[i], ops[i].r.id);
		reqs[i] = &shows[i].req;
	}
	fx_pipeline(fd, reqs, n, out);
	for (i = 0; i < n; i++) {
		o = &ops[i];
		if (fx_err(out[i]) == NULL) {
			if (!o->sent)
				h_fail("fixture: dossier %s exists, but its "
				       "request was never sent",
				    o->r.id);
			assert_non_null(out[i]->dossier);
			assert_string_equal(out[i]->dossier->state, "reserved");
			if (shown != NULL)
				shown(&o->r, out[i]);
			o->exists = 1;
		} else if (strcmp(fx_err(out[i]), "not_found") == 0)
			o->exists = 0;
		else
			h_fail("fixture: dossier show %s: %s", o->r.id,
			    fx_err(out[i]));
		if (o->answer != NULL &&
		    (fx_err(o->answer) == NULL) != o->exists)
			h_fail("fixture: request %s was acknowledged as %s, "
			       "but its dossier %s after the restart",
			    o->r.rid,
			    fx_err(o->answer) == NULL ? "applied" : "refused",
			    o->exists ? "exists" : "is missing");
		budget__response__free_unpacked(out[i], NULL);
	}
	free(out);
	free(reqs);
	free(shows);
}

size_t
fx_ops_recheck(const struct h_daemon *d, struct fx_op *ops, size_t n,
    fx_check check, fx_check shown)
{
	Budget__Request  **reqs = calloc(n, sizeof(*reqs));
	Budget__Response **out = calloc(n, sizeof(*out));
	Budget__Response  *a;
	struct fx_op      *o;
	size_t             i, m, nexist = 0, fresh = 0, lost = 0;
	int                fd;

	if (reqs == NULL || out == NULL)
		h_fail("fixture: out of memory");
	fd = h_connect(d);
	fx_ops_look(fd, ops, n, shown);

	/* Every request sent, again: acknowledged ones replay. */
	for (i = m = 0; i < n; i++) {
		if (ops[i].sent)
			reqs[m++] = &ops[i].r.req;
	}
	fx_pipeline(fd, reqs, m, out);
	for (i = m = 0; i < n; i++) {
		o = &ops[i];
		if (!o->sent)
			continue;
		a = out[m++];
		if (o->answer != NULL) {
			if (!a->replayed)
				h_fail("fixture: acknowledged request %s was "
				       "applied again",
				    o->r.rid);
			if (!fx_same_answer(a, o->answer))
				h_fail("fixture: request %s replays another "
				       "answer than the one acknowledged",
				    o->r.rid);
			budget__response__free_unpacked(a, NULL);
		} else {
			/* Sent, answer lost: all there or not at all. */
			check(&o->r, a);
			if (o->exists && (!a->replayed || fx_err(a) != NULL))
				h_fail("fixture: request %s: its dossier is "
				       "there, but the retry is not its "
				       "replay",
				    o->r.rid);
			if (!o->exists && a->replayed && fx_err(a) == NULL)
				h_fail("fixture: request %s replays a "
				       "reservation whose dossier is missing",
				    o->r.rid);
			if (a->replayed)
				lost++;
			else
				fresh++;
			o->answer = a;
			o->exists = fx_err(a) == NULL;
		}
		if (o->exists)
			nexist++;
	}
	close(fd);
	print_message("%zu dossiers; unacknowledged requests: %zu had been "
		      "applied, %zu applied on retry\n",
	    nexist, lost, fresh);
	free(out);
	free(reqs);
	return (nexist);
}

void
fx_asan_option(const char *opt)
{
	const char *old = getenv("ASAN_OPTIONS");
	char        buf[1024];

	snprintf(buf, sizeof(buf), "%s%s%s", old != NULL ? old : "",
	    old != NULL && *old != '\0' ? ":" : "", opt);
	setenv("ASAN_OPTIONS", buf, 1);
}
