/*
 * fixture.c: the ledger fixtures of the write-path integration tests (see
 * fixture.h): enterprise numbers, setup through budgetctl and pipelined
 * raw frames, Request builders, and reading balances, journal_seq and the
 * checker's verdict back.
 */
#include <arpa/inet.h>

#include <errno.h>
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

static void
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
    int64_t cost, int64_t ttl)
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
	r->cents.cents = cost;
	a->cost = &r->cents;
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
