/*
 * test_adversarial_limits.c: the connection limits (conn.c: 256 answers
 * owed, 8 long reads, 4 MiB unsent) and the held requests (cmd.c's
 * cmd_hold: long reads beyond the reader's 64, and every later request of
 * their chain, held in order) under many connections at once: random
 * mixes (the seed is printed; AL_SEED=N runs one again) of long reads,
 * reservations, company adds and batches, from clients that read
 * everything, read slowly, read nothing until the end, half-close, or
 * vanish with requests queued, held or running; with SIGTERM or SIGKILL
 * in the middle.
 *
 * After each scenario:
 * - every client that reads got every answer, in request order (request
 *   ids echoed), each verify ok and none seeing fewer entries than the
 *   one before it on its connection; no connection stays stopped for good
 *   (a deadline, only against hangs);
 * - every write answered as applied is in the ledger: sent again under
 *   its request id it replays the same answer; one never answered is
 *   applied at most once (then all are, and the journal grew by exactly
 *   the number of writes, the contract holds exactly the reservations);
 * - the daemon serves a newcomer, verify is ok, RssAnon stayed bounded.
 *
 * The ledger is large enough (AL_COMPANIES companies) that a verify takes
 * long enough for the reader thread to fill up and hold requests back; a
 * watcher connection asks for status meanwhile and prints the most
 * requests held, long reads in flight and RssAnon it saw.
 *
 * Bugs found, each with its test here:
 * - requests left by a connection that went away counted against
 *   nothing: a client that vanished with requests held and came back had
 *   the daemon keep them without bound (test_vanished_requests_bounded);
 * - the commit wait waited for a connection closing on EOF or a protocol
 *   error until it ran out (test_commit_wait_skips_closing).
 */
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <linux/sockios.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ops.h"

#if defined(__SANITIZE_ADDRESS__)
#define AL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define AL_ASAN 1
#endif
#endif

/*
 * What a scenario may add to the daemon's anonymous memory: its clients'
 * requests and answers (a few MiB each at most, by conn.c's limits) and
 * LMDB's dirty pages; AddressSanitizer adds shadow memory and redzones.
 */
#ifdef AL_ASAN
#define AL_MEM_GROWTH_MAX (256 * 1024 * 1024)
#else
#define AL_MEM_GROWTH_MAX (96 * 1024 * 1024)
#endif

/*
 * What a client of export pages of 10,000 entries may cost, at most
 * (test_big_answers): 8 of them owed and 4 MiB unsent, and the heap's
 * slack after pages of some 300 KiB come and go.
 */
#ifdef AL_ASAN
#define AL_BIG_PER_CONN (64 * 1024 * 1024)
#else
#define AL_BIG_PER_CONN (32 * 1024 * 1024)
#endif

#define AL_CONTRACT "K-AL"
/*
 * Companies in the ledger, 4,000 to a batch: verify reads them all, and
 * takes long enough for the reader to fill up (the sanitizers' build is
 * slow enough with fewer).
 */
#ifdef AL_ASAN
#define AL_COMPANIES 8000
#else
#define AL_COMPANIES 16000
#endif
#define AL_PRE_BATCH  4000
/* Serials: the ledger's companies, then those the scenarios add. */
#define AL_SERIAL_PRE 100000
#define AL_SERIAL_NEW 400000
/* Connections of a mix, requests of one connection at most; a crowd. */
#define AL_CONNS      40
#define AL_PER_CONN   36
#define AL_CROWD      160
#define AL_CROWD_PER  5
/* Ops in one of a mix's batches, at most. */
#define AL_BATCH_OPS  24
/* Bytes a slow reader takes at a time. */
#define AL_SLOW_READ  700

/* ------------------------------------------------------------------ */
/* Requests                                                           */

enum al_kind {
	AL_VERIFY,  /* long */
	AL_EXPORT,  /* long: a page of the journal */
	AL_BIG,     /* long: a page of 10,000 entries, some 300 KiB */
	AL_HISTORY, /* long: a dossier's */
	AL_STATUS,
	AL_SHOW, /* contract show */
	AL_RESERVE,
	AL_COMPANY,
	AL_BATCH, /* of company adds */
};

struct al_op {
	enum al_kind           kind;
	struct fx_req          f;
	Budget__VerifyRequest  v;
	Budget__ExportRequest  x;
	Budget__HistoryRequest h;
	Budget__ContractShow   cs;
	struct fx_req         *sub; /* a batch's ops */
	Budget__Request      **subp;
	size_t                 nsub;
	size_t                 off;    /* its frame in its connection's out */
	int                    sent;   /* a byte of it left: it may count */
	Budget__Response      *answer; /* the first, NULL: none */
};

/* Ops of one mix, and what they add to the ledger. */
struct al_mix {
	struct al_op *ops;
	size_t        nops, cap;
	unsigned      next_serial; /* company adds */
	unsigned      next_res;    /* reservations: company serials */
	size_t        nwrites;     /* journal entries all writes make */
	size_t        nres;
	uint64_t      seed;
};

static int
al_is_write(const struct al_op *o)
{
	return (o->kind == AL_RESERVE || o->kind == AL_COMPANY ||
	    o->kind == AL_BATCH);
}

static int
al_is_long(const struct al_op *o)
{
	return (o->kind == AL_VERIFY || o->kind == AL_EXPORT ||
	    o->kind == AL_BIG || o->kind == AL_HISTORY);
}

/*
 * o as a batch of n company adds, rid.0 ... rid.(n-1), of the companies
 * first ... first + n - 1.
 */
static void
al_batch_op(struct al_op *o, const char *rid, size_t n, unsigned first)
{
	o->nsub = n;
	o->sub = calloc(n, sizeof(*o->sub));
	o->subp = calloc(n, sizeof(*o->subp));
	if (o->sub == NULL || o->subp == NULL)
		h_fail("out of memory");
	fx_company_reqs(o->sub, o->subp, n, rid, first);
	fx_batch_req(&o->f, rid, o->subp, n);
}

static struct al_op *
al_new_op(struct al_mix *m, enum al_kind kind, const char *tag)
{
	struct al_op *o;
	char          rid[32], id[FX_ID_SZ], number[FX_RID_SZ];
	size_t        i;

	/* Never moved: an fx_req points into itself. */
	if (m->nops == m->cap)
		h_fail("more than %zu requests in a mix", m->cap);
	o = &m->ops[m->nops];
	memset(o, 0, sizeof(*o));
	o->kind = kind;
	snprintf(rid, sizeof(rid), "%s-%zu", tag, m->nops);
	m->nops++;
	switch (kind) {
	case AL_VERIFY:
		fx_req_init(&o->f, rid);
		budget__verify_request__init(&o->v);
		o->f.req.command_case = BUDGET__REQUEST__COMMAND_VERIFY;
		o->f.req.verify = &o->v;
		break;
	case AL_EXPORT:
	case AL_BIG:
		fx_req_init(&o->f, rid);
		budget__export_request__init(&o->x);
		o->x.limit = kind == AL_BIG ? 10000 : 50;
		o->f.req.command_case = BUDGET__REQUEST__COMMAND_EXPORT;
		o->f.req.export = &o->x;
		break;
	case AL_HISTORY:
		fx_req_init(&o->f, rid);
		budget__history_request__init(&o->h);
		snprintf(o->f.id, sizeof(o->f.id), "PRE-1");
		o->h.dossier = o->f.id;
		o->f.req.command_case = BUDGET__REQUEST__COMMAND_HISTORY;
		o->f.req.history = &o->h;
		break;
	case AL_STATUS:
		fx_req_init(&o->f, rid);
		budget__status_request__init(&o->f.u.status);
		o->f.req.command_case = BUDGET__REQUEST__COMMAND_STATUS;
		o->f.req.status = &o->f.u.status;
		break;
	case AL_SHOW:
		fx_req_init(&o->f, rid);
		budget__contract_show__init(&o->cs);
		snprintf(o->f.contract, sizeof(o->f.contract), AL_CONTRACT);
		o->cs.id = o->f.contract;
		o->f.req.command_case = BUDGET__REQUEST__COMMAND_CONTRACT_SHOW;
		o->f.req.contract_show = &o->cs;
		break;
	case AL_RESERVE:
		fx_rid(AL_SERIAL_PRE + m->next_res++, number);
		snprintf(id, sizeof(id), "D-%s", rid);
		ops_reserve(&o->f, rid, id, number, AL_CONTRACT, 0);
		m->nwrites++;
		m->nres++;
		break;
	case AL_COMPANY:
		fx_company_req(&o->f, rid, m->next_serial++);
		m->nwrites++;
		break;
	case AL_BATCH:
		i = 1 + (size_t)(fx_rand(&m->seed) % AL_BATCH_OPS);
		al_batch_op(o, rid, i, m->next_serial);
		m->next_serial += (unsigned)i;
		m->nwrites += i;
		break;
	}
	return (o);
}

static void
al_mix_init(struct al_mix *m, uint64_t seed, unsigned serial_base, size_t cap)
{
	memset(m, 0, sizeof(*m));
	m->cap = cap;
	if ((m->ops = calloc(cap, sizeof(*m->ops))) == NULL)
		h_fail("out of memory");
	m->seed = seed;
	m->next_serial = serial_base;
	/* Reservations use the ledger's companies after PRE-1's. */
	m->next_res = 1;
}

static void
al_mix_free(struct al_mix *m)
{
	size_t i;

	for (i = 0; i < m->nops; i++) {
		if (m->ops[i].answer != NULL)
			budget__response__free_unpacked(m->ops[i].answer, NULL);
		free(m->ops[i].sub);
		free(m->ops[i].subp);
	}
	free(m->ops);
	memset(m, 0, sizeof(*m));
}

/* ------------------------------------------------------------------ */
/* Clients                                                            */

enum al_behave {
	AL_READER, /* reads everything as it comes */
	AL_SLOW,   /* reads a few hundred bytes at a time */
	AL_LAZY,   /* reads nothing until the others are done */
	AL_HALF,   /* half-closes once all is sent, reads everything */
	AL_VANISH, /* sends part of its requests, reads nothing, closes */
	AL_DROP,   /* reads some answers, closes with the rest unread */
	AL_NBEHAVE,
};

static const char *const al_behave_name[AL_NBEHAVE] = {
    "reader", "slow", "lazy", "half", "vanish", "drop"};

struct al_conn {
	int            fd;
	enum al_behave b;
	size_t         first, n; /* its ops in the mix */
	uint8_t       *out;
	size_t         out_len, out_off;
	size_t         cut;  /* vanish: close once this much is sent */
	size_t         keep; /* drop: answers read before the close */
	uint8_t       *in;
	size_t         in_len, in_cap, in_off;
	size_t         nans;
	uint64_t       entries; /* the last verify's */
	int            shut;    /* half-closed */
	int            gone;    /* closed by us */
	int            eof;     /* closed by the daemon */
	int            reading;
};

struct al_clients {
	struct al_conn c[AL_CROWD];
	size_t         n;
	int            stopping; /* SIGTERM or SIGKILL: closes are fine */
};

static int
al_conn_done(const struct al_conn *c)
{
	return (c->gone || c->eof || c->nans == c->n);
}

/* Frame c's ops into its out buffer. */
static void
al_conn_frame(struct al_conn *c, struct al_mix *m)
{
	size_t   i, len;
	uint8_t *frame;

	for (i = c->first; i < c->first + c->n; i++) {
		frame = fx_frame(&m->ops[i].f.req, &len);
		c->out = realloc(c->out, c->out_len + len);
		if (c->out == NULL)
			h_fail("out of memory");
		m->ops[i].off = c->out_len;
		memcpy(c->out + c->out_len, frame, len);
		c->out_len += len;
		free(frame);
	}
}

/* An answer to op o, the next of its connection: is it right? */
static void
al_check_answer(struct al_clients *cl, struct al_conn *c, const struct al_op *o,
    const Budget__Response *a)
{
	size_t k = (size_t)(c - cl->c), j;

	if (strcmp(a->request_id, o->f.req.request_id) != 0)
		h_fail("conn %zu (%s): answer %zu is for \"%s\", expected "
		       "\"%s\": out of order",
		    k, al_behave_name[c->b], c->nans, a->request_id,
		    o->f.req.request_id);
	if (a->error != NULL) {
		/* Long reads not run when a drain ran out (cmd_finish). */
		if (cl->stopping && al_is_long(o) &&
		    strcmp(a->error->code, "shutting_down") == 0)
			return;
		h_fail("conn %zu (%s): %s: %s: %s", k, al_behave_name[c->b],
		    o->f.req.request_id, a->error->code, a->error->message);
	}
	switch (o->kind) {
	case AL_VERIFY:
		if (a->result_case != BUDGET__RESPONSE__RESULT_VERIFY ||
		    !a->verify->ok)
			h_fail("conn %zu: %s: verify not ok", k,
			    o->f.req.request_id);
		if (a->verify->entries < c->entries)
			h_fail("conn %zu: %s saw %llu entries, the verify "
			       "before it %llu",
			    k, o->f.req.request_id,
			    (unsigned long long)a->verify->entries,
			    (unsigned long long)c->entries);
		c->entries = a->verify->entries;
		break;
	case AL_BATCH:
		if (a->result_case != BUDGET__RESPONSE__RESULT_BATCH ||
		    a->batch->n_results != o->nsub)
			h_fail("conn %zu: %s: not a batch's answer", k,
			    o->f.req.request_id);
		for (j = 0; j < o->nsub; j++)
			if (a->batch->results[j]->error != NULL)
				h_fail("conn %zu: %s op %zu: %s", k,
				    o->f.req.request_id, j,
				    a->batch->results[j]->error->code);
		break;
	default:
		break;
	}
}

/* Parse what c has read. */
static void
al_conn_parse(struct al_clients *cl, struct al_conn *c, struct al_mix *m)
{
	Budget__Response *a;
	struct al_op     *o;

	while ((a = fx_next_answer(c->in, c->in_len, &c->in_off,
		    BUDGET_FRAME_HEADER + 64 * 1024 * 1024)) != NULL) {
		if (c->nans >= c->n)
			h_fail("conn %zu: an answer more than it asked for",
			    (size_t)(c - cl->c));
		o = &m->ops[c->first + c->nans];
		al_check_answer(cl, c, o, a);
		o->answer = a;
		c->nans++;
	}
	if (c->in_off == c->in_len)
		c->in_off = c->in_len = 0;
}

static void
al_conn_close(struct al_conn *c)
{
	if (!c->gone && c->fd != -1) {
		close(c->fd);
		c->gone = 1;
	}
}

/* Mark the ops whose first byte has left. */
static void
al_conn_mark_sent(struct al_conn *c, struct al_mix *m)
{
	size_t i;

	for (i = c->first; i < c->first + c->n; i++)
		if (m->ops[i].off < c->out_off)
			m->ops[i].sent = 1;
}

static void
al_conn_write(struct al_clients *cl, struct al_conn *c, struct al_mix *m)
{
	size_t  end = c->b == AL_VANISH ? c->cut : c->out_len;
	ssize_t w;

	w = send(c->fd, c->out + c->out_off, end - c->out_off,
	    MSG_NOSIGNAL | MSG_DONTWAIT);
	if (w < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		if (cl->stopping && (errno == EPIPE || errno == ECONNRESET)) {
			c->shut = 1; /* nothing more goes out */
			return;
		}
		h_fail("conn %zu (%s): send: %s", (size_t)(c - cl->c),
		    al_behave_name[c->b], strerror(errno));
	}
	c->out_off += (size_t)w;
	al_conn_mark_sent(c, m);
	if (c->out_off < end)
		return;
	if (c->b == AL_VANISH)
		al_conn_close(c);
	else if (c->b == AL_HALF) {
		shutdown(c->fd, SHUT_WR);
		c->shut = 1;
	}
}

static void
al_conn_read(struct al_clients *cl, struct al_conn *c, struct al_mix *m)
{
	size_t  want = c->b == AL_SLOW ? AL_SLOW_READ : 65536;
	ssize_t r;

	if (c->in_off > 0) { /* what was parsed goes */
		memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
		c->in_len -= c->in_off;
		c->in_off = 0;
	}
	if (c->in_cap - c->in_len < want) {
		c->in_cap = 2 * (c->in_len + want);
		if ((c->in = realloc(c->in, c->in_cap)) == NULL)
			h_fail("out of memory");
	}
	r = recv(c->fd, c->in + c->in_len, want, MSG_DONTWAIT);
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r <= 0) {
		if (!cl->stopping)
			h_fail("conn %zu (%s): closed by the daemon after "
			       "%zu of %zu answers: %s",
			    (size_t)(c - cl->c), al_behave_name[c->b], c->nans,
			    c->n, r < 0 ? strerror(errno) : "EOF");
		c->eof = 1;
		return;
	}
	c->in_len += (size_t)r;
	al_conn_parse(cl, c, m);
	if (c->b == AL_DROP && c->nans >= c->keep)
		al_conn_close(c);
}

/*
 * Drive every client until each is done (all answers read, vanished, or
 * closed by the daemon when that is expected), or until stop() says so.
 * Lazy clients start reading once every other one is done. Fails the
 * test if a client that reads is left waiting past the deadline.
 */
static void
al_clients_run(
    struct al_clients *cl, struct al_mix *m, int (*stop)(void *), void *arg)
{
	struct pollfd   pfd[AL_CROWD];
	size_t          idx[AL_CROWD], i, np, others;
	int64_t         deadline = h_now_ms() + H_DEADLINE_MS * 4;
	struct al_conn *c;

	for (;;) {
		others = 0;
		for (i = 0; i < cl->n; i++)
			if (cl->c[i].b != AL_LAZY && !al_conn_done(&cl->c[i]))
				others++;
		np = 0;
		for (i = 0; i < cl->n; i++) {
			c = &cl->c[i];
			if (c->b == AL_LAZY && others == 0)
				c->reading = 1;
			if (c->b == AL_VANISH && c->out_off >= c->cut)
				al_conn_close(c);
			if (al_conn_done(c))
				continue;
			pfd[np].fd = c->fd;
			pfd[np].events = 0;
			if (!c->shut && c->out_off < c->out_len &&
			    !(c->b == AL_VANISH && c->out_off >= c->cut))
				pfd[np].events |= POLLOUT;
			if (c->reading)
				pfd[np].events |= POLLIN;
			idx[np++] = i;
		}
		if (np == 0)
			return;
		if (stop != NULL && stop(arg))
			return;
		if (h_now_ms() > deadline) {
			for (i = 0; i < cl->n; i++) {
				c = &cl->c[i];
				if (!al_conn_done(c))
					print_error("conn %zu (%s): %zu of %zu "
						    "answers, %zu of %zu bytes "
						    "sent\n",
					    i, al_behave_name[c->b], c->nans,
					    c->n, c->out_off, c->out_len);
			}
			h_fail("clients still waiting for answers after %d ms "
			       "(seed %llu)",
			    H_DEADLINE_MS * 4, (unsigned long long)m->seed);
		}
		if (poll(pfd, np, 20) < 0 && errno != EINTR)
			h_fail("poll: %s", strerror(errno));
		for (i = 0; i < np; i++) {
			c = &cl->c[idx[i]];
			if (pfd[i].revents & POLLOUT)
				al_conn_write(cl, c, m);
			if (!c->gone &&
			    (pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) &&
			    c->reading)
				al_conn_read(cl, c, m);
			else if (!c->gone && !c->reading &&
			    (pfd[i].revents & (POLLHUP | POLLERR)) &&
			    cl->stopping)
				c->eof = 1;
		}
	}
}

/* A request of a random kind: 42 in 100 long reads, 50 writes. */
static enum al_kind
al_random_kind(struct al_mix *m)
{
	uint64_t r = fx_rand(&m->seed) % 100;

	return (r < 30   ? AL_VERIFY
		: r < 36 ? AL_EXPORT
		: r < 42 ? AL_HISTORY
		: r < 46 ? AL_STATUS
		: r < 50 ? AL_SHOW
		: r < 75 ? AL_RESERVE
		: r < 88 ? AL_COMPANY
			 : AL_BATCH);
}

/*
 * One more client, behaving so, with the requests pattern says: a
 * string of letters (v verify, x export, X export of 10,000 entries, h history, s status, k contract
 * show, r reserve, c company add, b batch, ? any of them at random),
 * each once; NULL: n requests at random.
 */
static struct al_conn *
al_client_add(struct al_clients *cl, struct al_mix *m, enum al_behave b,
    const char *pattern, size_t n)
{
	struct al_conn *c;
	char            tag[16];
	size_t          k;
	enum al_kind    kind;

	if (cl->n == AL_CROWD)
		h_fail("more than %d clients", AL_CROWD);
	c = &cl->c[cl->n];
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->b = b;
	c->first = m->nops;
	c->n = pattern != NULL ? strlen(pattern) : n;
	snprintf(tag, sizeof(tag), "c%zu", cl->n);
	cl->n++;
	for (k = 0; k < c->n; k++) {
		switch (pattern != NULL ? pattern[k] : '?') {
		case 'v':
			kind = AL_VERIFY;
			break;
		case 'x':
			kind = AL_EXPORT;
			break;
		case 'X':
			kind = AL_BIG;
			break;
		case 'h':
			kind = AL_HISTORY;
			break;
		case 's':
			kind = AL_STATUS;
			break;
		case 'k':
			kind = AL_SHOW;
			break;
		case 'r':
			kind = AL_RESERVE;
			break;
		case 'c':
			kind = AL_COMPANY;
			break;
		case 'b':
			kind = AL_BATCH;
			break;
		default:
			kind = al_random_kind(m);
			break;
		}
		(void)al_new_op(m, kind, tag);
	}
	al_conn_frame(c, m);
	c->cut = (size_t)(fx_rand(&m->seed) % (c->out_len + 1));
	c->keep = (size_t)(fx_rand(&m->seed) % (c->n + 1));
	c->reading = c->b != AL_LAZY && c->b != AL_VANISH;
	return (c);
}

/* Connect every client not connected yet. */
static void
al_clients_connect(struct al_clients *cl, const struct h_daemon *d)
{
	size_t i;

	for (i = 0; i < cl->n; i++) {
		if (cl->c[i].fd != -1 || cl->c[i].gone)
			continue;
		cl->c[i].fd = h_connect(d);
		h_set_nonblock(cl->c[i].fd, 1);
	}
}

/* n random clients with up to per random requests each, connected. */
static void
al_clients_open(struct al_clients *cl, struct al_mix *m,
    const struct h_daemon *d, size_t n, size_t per)
{
	size_t i;

	for (i = 0; i < n; i++)
		(void)al_client_add(cl, m,
		    (enum al_behave)(fx_rand(&m->seed) % AL_NBEHAVE), NULL,
		    1 + (size_t)(fx_rand(&m->seed) % per));
	al_clients_connect(cl, d);
}

static void
al_clients_close(struct al_clients *cl)
{
	size_t i;

	for (i = 0; i < cl->n; i++) {
		al_conn_close(&cl->c[i]);
		free(cl->c[i].out);
		free(cl->c[i].in);
	}
}

static void
al_clients_print(const struct al_clients *cl, const struct al_mix *m)
{
	size_t n[AL_NBEHAVE] = {0}, i, longs = 0, writes = 0;

	for (i = 0; i < cl->n; i++)
		n[cl->c[i].b]++;
	for (i = 0; i < m->nops; i++) {
		longs += al_is_long(&m->ops[i]);
		writes += al_is_write(&m->ops[i]);
	}
	print_message("%zu connections (%zu reader, %zu slow, %zu lazy, %zu "
		      "half, %zu vanish, %zu drop), %zu requests: %zu long "
		      "reads, %zu writes\n",
	    cl->n, n[AL_READER], n[AL_SLOW], n[AL_LAZY], n[AL_HALF],
	    n[AL_VANISH], n[AL_DROP], m->nops, longs, writes);
}

/* ------------------------------------------------------------------ */
/* The ledger                                                         */

/*
 * The ledger: rules, the contract with room for every reservation,
 * AL_COMPANIES companies, and dossier PRE-1 (for history).
 */
static struct h_daemon *
al_ledger(void **state, const char *config)
{
	int64_t           t0 = h_now_ms();
	struct h_daemon  *d = fx_daemon_up(state, config);
	struct al_mix     pre;
	struct al_op     *o;
	Budget__Response *a;
	struct fx_req     r;
	char              number[FX_RID_SZ], tag[16];
	unsigned          i, k;
	int               fd;

	fx_contract_open(d, AL_CONTRACT, "100000000");
	fd = h_connect(d);
	for (i = 0; i < AL_COMPANIES / AL_PRE_BATCH; i++) {
		al_mix_init(&pre, 1, AL_SERIAL_PRE + i * AL_PRE_BATCH, 1);
		snprintf(tag, sizeof(tag), "pre%u", i);
		o = al_new_op(&pre, AL_COMPANY, tag);
		/* One batch of AL_PRE_BATCH, of fixed size. */
		al_batch_op(
		    o, tag, AL_PRE_BATCH, AL_SERIAL_PRE + i * AL_PRE_BATCH);
		a = fx_call(fd, &o->f.req);
		if (a->error != NULL)
			h_fail("ledger: %s", a->error->code);
		for (k = 0; k < a->batch->n_results; k++)
			if (a->batch->results[k]->error != NULL)
				h_fail("ledger: company %u: %s", k,
				    a->batch->results[k]->error->code);
		budget__response__free_unpacked(a, NULL);
		al_mix_free(&pre);
	}
	fx_rid(AL_SERIAL_PRE, number);
	ops_reserve(&r, "pre-res", "PRE-1", number, AL_CONTRACT, 0);
	a = fx_call(fd, &r.req);
	if (a->error != NULL)
		h_fail("ledger: PRE-1: %s", a->error->code);
	budget__response__free_unpacked(a, NULL);
	close(fd);
	print_message("ledger of %d companies in %lld ms\n", AL_COMPANIES,
	    (long long)(h_now_ms() - t0));
	return (d);
}

/* What the ledger held before a mix. */
struct al_base {
	int64_t            seq;
	struct fx_contract k;
	struct h_mem       mem;
};

static void
al_base(const struct h_daemon *d, struct al_base *b)
{
	b->seq = fx_journal_seq(d);
	fx_contract_show(d, AL_CONTRACT, &b->k);
	h_daemon_mem(d, &b->mem);
}

/* The same answer, a batch's op by op (each is replayed on its own). */
static int
al_same_answer(
    const struct al_op *o, const Budget__Response *x, const Budget__Response *y)
{
	size_t j;

	if (o->kind != AL_BATCH)
		return (fx_same_answer(x, y));
	if (x->batch == NULL || y->batch == NULL ||
	    x->batch->n_results != y->batch->n_results)
		return (0);
	for (j = 0; j < x->batch->n_results; j++)
		if (!fx_same_answer(x->batch->results[j], y->batch->results[j]))
			return (0);
	return (1);
}

/*
 * Every write of m sent again on one connection: what was answered as
 * applied replays that answer; what was not sent is applied now; what
 * was sent and not answered either. Then every write is in the ledger
 * exactly once: the journal grew by one entry a write, the contract holds
 * one reservation more for each.
 */
static void
al_ledger_check(
    const struct h_daemon *d, struct al_mix *m, const struct al_base *b)
{
	Budget__Request  **reqs;
	Budget__Response **ans;
	struct al_op      *o;
	struct fx_contract k;
	size_t             i, j, n = 0, replays = 0, fresh = 0, unknown = 0;
	int                fd, was_applied;
	int64_t            seq;

	reqs = calloc(m->nops + 1, sizeof(*reqs));
	ans = calloc(m->nops + 1, sizeof(*ans));
	if (reqs == NULL || ans == NULL)
		h_fail("out of memory");
	for (i = 0; i < m->nops; i++)
		if (al_is_write(&m->ops[i]))
			reqs[n++] = &m->ops[i].f.req;
	fd = h_connect(d);
	fx_pipeline(fd, reqs, n, ans);
	close(fd);
	for (i = 0, n = 0; i < m->nops; i++) {
		o = &m->ops[i];
		if (!al_is_write(o))
			continue;
		Budget__Response *a = ans[n++];

		if (a->error != NULL)
			h_fail("%s sent again: %s: %s", o->f.req.request_id,
			    a->error->code, a->error->message);
		/* A batch's ops replay one by one. */
		if (o->kind == AL_BATCH) {
			assert_int_equal(a->batch->n_results, o->nsub);
			was_applied = a->batch->results[0]->replayed;
			for (j = 0; j < o->nsub; j++) {
				if (a->batch->results[j]->error != NULL)
					h_fail("%s op %zu sent again: %s",
					    o->f.req.request_id, j,
					    a->batch->results[j]->error->code);
				if (a->batch->results[j]->replayed !=
				    was_applied)
					h_fail("%s: ops %zu and 0 of one "
					       "batch: one applied, not the "
					       "other",
					    o->f.req.request_id, j);
			}
		} else
			was_applied = a->replayed;
		if (o->answer != NULL && o->answer->error == NULL) {
			if (!was_applied)
				h_fail("%s was answered as applied, and is "
				       "not in the ledger",
				    o->f.req.request_id);
			if (!al_same_answer(o, o->answer, a))
				h_fail("%s replays another answer than the "
				       "first",
				    o->f.req.request_id);
		} else if (!o->sent && was_applied)
			h_fail("%s was never sent, and is in the ledger",
			    o->f.req.request_id);
		if (o->answer != NULL)
			replays++;
		else if (!o->sent)
			fresh++;
		else
			unknown++;
		budget__response__free_unpacked(a, NULL);
	}
	free(ans);
	free(reqs);
	seq = fx_journal_seq(d);
	print_message("writes: %zu answered, %zu not sent, %zu sent and not "
		      "answered; journal +%lld for %zu\n",
	    replays, fresh, unknown, (long long)(seq - b->seq), m->nwrites);
	assert_int_equal(seq - b->seq, (int64_t)m->nwrites);
	fx_contract_show(d, AL_CONTRACT, &k);
	assert_int_equal(k.dossiers - b->k.dossiers, (int64_t)m->nres);
	assert_int_equal(
	    k.reserved - b->k.reserved, (int64_t)m->nres * OPS_START_SUB);
}

/* Serving, verify ok, memory bounded (since b). */
static void
al_daemon_check(struct h_daemon *d, const struct al_base *b)
{
	struct h_mem now;

	h_assert_serving(d);
	fx_verify_ok(d);
	if (b != NULL) {
		h_daemon_mem(d, &now);
		print_message("RssAnon %lld -> %lld KiB\n",
		    (long long)b->mem.rss_anon / 1024,
		    (long long)now.rss_anon / 1024);
		assert_true(now.rss_anon - b->mem.rss_anon < AL_MEM_GROWTH_MAX);
	}
}

static uint64_t
al_seed(void)
{
	uint64_t seed = fx_seed("AL_SEED");

	print_message("seed %llu (AL_SEED=%llu runs it again)\n",
	    (unsigned long long)seed, (unsigned long long)seed);
	return (seed);
}

/*
 * A watcher: a connection of its own that asks for status now and then
 * while clients run, to show what the mix did to the daemon (the most
 * requests held, long reads in flight, connections). Only printed.
 */
struct al_watch {
	const struct h_daemon *d;
	int                    fd;
	int64_t                next;
	uint64_t               held, slow, conns;
	uint64_t               last; /* held, at the last look */
	int64_t                peak; /* RssAnon, the most seen */
	int (*then)(void *);         /* stop() of the scenario, NULL: none */
	void *arg;
};

static int
al_watch_tick(void *arg)
{
	struct al_watch  *w = arg;
	Budget__Response *a;
	char              rid[32];

	if (w->fd != -1 && h_now_ms() >= w->next) {
		struct h_mem mem;

		w->next = h_now_ms() + 50;
		w->last = 0;
		h_daemon_mem(w->d, &mem);
		if (mem.rss_anon > w->peak)
			w->peak = mem.rss_anon;
		snprintf(rid, sizeof(rid), "watch-%lld", (long long)w->next);
		h_send_status(w->fd, rid);
		a = h_recv(w->fd, H_DEADLINE_MS);
		if (a->status != NULL) {
			w->last = a->status->held;
			if (a->status->held > w->held)
				w->held = a->status->held;
			if (a->status->slow_reads > w->slow)
				w->slow = a->status->slow_reads;
			if (a->status->connections > w->conns)
				w->conns = a->status->connections;
		}
		budget__response__free_unpacked(a, NULL);
	}
	return (w->then != NULL && w->then(w->arg));
}

/* Look now: the requests held. */
static uint64_t
al_watch_now(struct al_watch *w)
{
	w->next = 0;
	(void)al_watch_tick(w);
	return (w->last);
}

static void
al_watch_start(struct al_watch *w, const struct h_daemon *d)
{
	memset(w, 0, sizeof(*w));
	w->d = d;
	w->fd = h_connect(d);
}

static void
al_watch_stop(struct al_watch *w)
{
	if (w->fd != -1)
		close(w->fd);
	w->fd = -1;
	print_message("at most %llu requests held, %llu long reads in flight, "
		      "%llu connections, RssAnon %lld KiB\n",
	    (unsigned long long)w->held, (unsigned long long)w->slow,
	    (unsigned long long)w->conns, (long long)w->peak / 1024);
}

/* The most anonymous memory the watcher saw grew by less than max. */
static void
al_peak_check(const struct al_watch *w, const struct al_base *b, int64_t max)
{
	if (w->peak - b->mem.rss_anon >= max)
		h_fail(
		    "RssAnon grew from %lld to %lld KiB, by %lld KiB or more",
		    (long long)b->mem.rss_anon / 1024,
		    (long long)w->peak / 1024, (long long)max / 1024);
}

/*
 * The clients' run, watched: each gets its answers, and the daemon's peak
 * RssAnon meanwhile grows by less than max.
 */
static void
al_clients_watched(struct al_clients *cl, struct al_mix *m,
    const struct h_daemon *d, const struct al_base *b, int64_t max)
{
	struct al_watch w;

	al_clients_print(cl, m);
	al_watch_start(&w, d);
	al_clients_run(cl, m, al_watch_tick, &w);
	al_watch_stop(&w);
	al_clients_close(cl);
	al_peak_check(&w, b, max);
}

/* The end of a scenario: the ledger holds what was answered, and more. */
static void
al_finish(struct h_daemon *d, struct al_mix *m, const struct al_base *b)
{
	al_ledger_check(d, m, b);
	al_daemon_check(d, b);
	al_mix_free(m);
}

/* ------------------------------------------------------------------ */
/* Scenarios                                                          */

/*
 * A random mix on AL_CONNS connections, run to its end: every client
 * that reads gets all its answers, the ledger is exactly what was
 * answered, the daemon serves on.
 */
static void
al_random_mix(void **state, const char *config)
{
	struct h_daemon  *d = al_ledger(state, config);
	struct al_mix     m;
	struct al_clients cl;
	struct al_base    b;

	al_base(d, &b);
	al_mix_init(&m, al_seed(), AL_SERIAL_NEW, AL_CONNS * AL_PER_CONN);
	memset(&cl, 0, sizeof(cl));
	al_clients_open(&cl, &m, d, AL_CONNS, AL_PER_CONN);
	al_clients_watched(&cl, &m, d, &b, AL_MEM_GROWTH_MAX);
	al_finish(d, &m, &b);
}

static void
test_random_mix(void **state)
{
	al_random_mix(state, NULL);
}

/* The same with the longest commit wait: nobody is waited for for good. */
static void
test_random_mix_commit_wait(void **state)
{
	al_random_mix(state, "[budgetd]\ncommit_wait_us = 10000\n");
}

/*
 * Connections stopped on the long-read cap (8 owed) while the reader is
 * full, their writes waiting behind (not even read yet): R, twelve
 * clients of 8 verifies that read late, fills the reader; C sends 8
 * verifies, writes, 8 verifies, writes, and reads late too; H the same,
 * reading all along and half-closing once all is sent (the daemon sees
 * the EOF only once it reads again); X the same, gone once all is sent;
 * Y the same, gone after a few answers. G, writing and reading, is served
 * meanwhile; then everyone that reads gets all its answers.
 */
static void
test_capped_writes_wait(void **state)
{
	struct h_daemon  *d = al_ledger(state, NULL);
	static const char capped[] = "vvvvvvvvrrcbrcbrcbrcvvvvvvvvrrcbbbrcrc";
	struct al_mix     m;
	struct al_clients cl;
	struct al_base    b;
	struct al_conn   *y;
	int               i;

	al_base(d, &b);
	al_mix_init(&m, al_seed(), AL_SERIAL_NEW, 2048);
	memset(&cl, 0, sizeof(cl));
	for (i = 0; i < 12; i++)
		(void)al_client_add(&cl, &m, AL_LAZY, "vvvvvvvv", 0);
	for (i = 0; i < 2; i++) {
		(void)al_client_add(&cl, &m, AL_LAZY, capped, 0);
		(void)al_client_add(&cl, &m, AL_HALF, capped, 0);
		al_client_add(&cl, &m, AL_VANISH, capped, 0)->cut = SIZE_MAX;
		y = al_client_add(&cl, &m, AL_DROP, capped, 0);
		y->keep = 2;
	}
	for (i = 0; i < 4; i++)
		(void)al_client_add(&cl, &m, AL_READER, "rcrbrcskrcrb", 0);
	for (i = 0; i < (int)cl.n; i++)
		if (cl.c[i].cut == SIZE_MAX)
			cl.c[i].cut = cl.c[i].out_len;
	al_clients_connect(&cl, d);
	al_clients_watched(&cl, &m, d, &b, AL_MEM_GROWTH_MAX);
	al_finish(d, &m, &b);
}

/*
 * Big answers (export pages of 10,000 entries, some 300 KiB) to clients
 * that read late, slowly, half-close or go away: each connection stops
 * being read at 8 long reads owed or 4 MiB unsent, so the daemon's memory
 * grows by a bounded amount a connection, and each goes on once read.
 */
static void
test_big_answers(void **state)
{
	struct h_daemon            *d = al_ledger(state, NULL);
	static const char           big[] = "XXXXXrXXXXXc";
	static const enum al_behave who[] = {
	    AL_LAZY, AL_LAZY, AL_SLOW, AL_HALF, AL_DROP, AL_VANISH};
	struct al_mix     m;
	struct al_clients cl;
	struct al_base    b;
	size_t            i;

	al_base(d, &b);
	al_mix_init(&m, al_seed(), AL_SERIAL_NEW, 256);
	memset(&cl, 0, sizeof(cl));
	for (i = 0; i < sizeof(who) / sizeof(who[0]); i++)
		(void)al_client_add(&cl, &m, who[i], big, 0);
	(void)al_client_add(&cl, &m, AL_READER, "rcrbrcskrcrb", 0);
	al_clients_connect(&cl, d);
	/* The output limit, 8 answers made before it sees them, and slack. */
	al_clients_watched(&cl, &m, d, &b, (int64_t)cl.n * AL_BIG_PER_CONN);
	al_finish(d, &m, &b);
}

/* When to stop the daemon in the middle of a mix. */
struct al_cut {
	struct al_clients *cl;
	struct al_watch   *w;
	size_t             target; /* answers read, at least */
};

/* Once target answers were read and requests are held now. */
static int
al_cut_now(void *arg)
{
	struct al_cut *t = arg;
	size_t         i, n = 0;

	for (i = 0; i < t->cl->n; i++)
		n += t->cl->c[i].nans;
	return (n >= t->target && (t->w->last > 0 || n >= 2 * t->target));
}

/*
 * A random mix stopped part of the way, by SIGTERM (sig) or SIGKILL:
 * the clients read on until the daemon closes them; every answer they
 * got is right and in order; budgetd exits 0 on SIGTERM; restarted, the
 * ledger holds every write answered, none twice.
 */
static void
al_mix_stopped(void **state, int sig)
{
	struct h_daemon  *d = al_ledger(state, NULL);
	struct al_mix     m;
	struct al_clients cl;
	struct al_base    b;
	struct al_watch   w;
	struct al_cut     cut;
	struct h_mem      now;
	size_t            i, n = 0;
	int               st;

	al_base(d, &b);
	al_mix_init(&m, al_seed(), AL_SERIAL_NEW, AL_CONNS * AL_PER_CONN);
	memset(&cl, 0, sizeof(cl));
	al_clients_open(&cl, &m, d, AL_CONNS, AL_PER_CONN);
	al_clients_print(&cl, &m);
	al_watch_start(&w, d);
	cut.cl = &cl;
	cut.w = &w;
	cut.target = 1 + (size_t)(fx_rand(&m.seed) % (m.nops / 3));
	w.then = al_cut_now;
	w.arg = &cut;
	al_clients_run(&cl, &m, al_watch_tick, &w);
	al_watch_stop(&w);
	al_peak_check(&w, &b, AL_MEM_GROWTH_MAX);
	h_daemon_mem(d, &now);
	for (i = 0; i < cl.n; i++)
		n += cl.c[i].nans;
	print_message("%s after %zu answers; RssAnon %lld -> %lld KiB\n",
	    sig == SIGTERM ? "SIGTERM" : "SIGKILL", n,
	    (long long)b.mem.rss_anon / 1024, (long long)now.rss_anon / 1024);
	assert_true(now.rss_anon - b.mem.rss_anon < AL_MEM_GROWTH_MAX);
	cl.stopping = 1;
	if (sig == SIGTERM)
		h_daemon_signal(d, SIGTERM);
	else
		h_daemon_kill9(d);
	al_clients_run(&cl, &m, NULL, NULL);
	al_clients_close(&cl);
	if (sig == SIGTERM) {
		if (!h_daemon_wait_exit(d, H_DEADLINE_MS * 3, &st))
			h_fail("budgetd does not exit on SIGTERM");
		assert_int_equal(h_exit_status(st), 0);
	}
	h_daemon_start(d);
	al_ledger_check(d, &m, &b);
	al_daemon_check(d, NULL);
	al_mix_free(&m);
}

static void
test_sigterm_mid_mix(void **state)
{
	al_mix_stopped(state, SIGTERM);
}

static void
test_kill9_mid_mix(void **state)
{
	al_mix_stopped(state, SIGKILL);
}

/*
 * A crowd: AL_CROWD connections at once, each with a few requests and
 * any behaviour, twice over on the same daemon (the second crowd comes
 * while what the first left behind may still run).
 */
static void
test_crowd(void **state)
{
	struct h_daemon  *d = al_ledger(state, NULL);
	struct al_mix     m;
	struct al_clients cl;
	struct al_base    b;
	int               round;

	if (ops_raise_nofile(AL_CROWD + 64) == -1)
		skip();
	al_base(d, &b);
	al_mix_init(&m, al_seed(), AL_SERIAL_NEW, 2 * AL_CROWD * AL_CROWD_PER);
	for (round = 0; round < 2; round++) {
		memset(&cl, 0, sizeof(cl));
		al_clients_open(&cl, &m, d, AL_CROWD, AL_CROWD_PER);
		al_clients_watched(&cl, &m, d, &b, AL_MEM_GROWTH_MAX);
	}
	al_finish(d, &m, &b);
}

/* ------------------------------------------------------------------ */
/* Requests left behind by connections that went away                 */

#define OR_RCONN  12 /* R: connections of 8 verifies, more than the reader */
#define OR_RPER   8
#define OR_LIMIT  16 /* max_connections(_per_uid): V has 3 (a watcher) */
#define OR_CYCLES 10 /* V's connections, one after the other */
#define OR_VER    7  /* verifies V sends (one fewer than the cap: read on) */
#define OR_BEHIND 34 /* company adds V sends behind each */

/* Bytes fd has sent that the peer has not read yet. */
static int
al_outq(int fd)
{
	int n;

	if (ioctl(fd, SIOCOUTQ, &n) == -1)
		h_fail("SIOCOUTQ: %s", strerror(errno));
	return (n);
}

/* Until the daemon has read everything sent on fd. */
static void
al_wait_read(int fd)
{
	int64_t deadline = h_now_ms() + H_DEADLINE_MS;

	while (al_outq(fd) > 0) {
		if (h_now_ms() > deadline)
			h_fail("the daemon does not read what was sent");
		h_sleep_ms(1);
	}
}

/*
 * Connect and get a status answered without reading it: whatever is
 * closed after this has unread input, so the daemon's next read fails
 * (ECONNRESET) and it frees the connection at once. -1 when refused
 * (too_many_connections).
 */
static int
al_connect_unread(const struct h_daemon *d)
{
	struct pollfd     p;
	Budget__Response *a;
	int               fd;

	uint8_t frame[128];
	size_t  len;

	if ((fd = h_connect_try(d->sock)) == -1)
		h_fail("connect: %s", strerror(errno));
	len = h_pack_status(
	    frame, sizeof(frame), BUDGET_PROTOCOL_VERSION, "unread");
	/* Refused, it may be closed before the request arrives. */
	(void)h_send_try(fd, frame, len);
	p.fd = fd;
	p.events = POLLIN;
	if (poll(&p, 1, H_DEADLINE_MS) != 1)
		h_fail("no status answer");
	/* A refusal comes before the status is read: peek at it. */
	{
		uint8_t buf[512];
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_PEEK);
		size_t  off = 0;

		if (n > 0 &&
		    (a = fx_next_answer(buf, (size_t)n, &off, sizeof(buf))) !=
			NULL) {
			int refused = a->error != NULL;

			budget__response__free_unpacked(a, NULL);
			if (refused) {
				close(fd);
				return (-1);
			}
		}
	}
	return (fd);
}

/*
 * One client cannot take the daemon from the others: the requests it
 * has the daemon keep are bounded by its connections (conn.c's 256
 * owed), and its connections by max_connections. Requests whose
 * connection went away keep running (the orphans' chain), and while the
 * reader is full the long reads among them are held, and all that
 * follows them. V, one connection at a time, sends 7 verifies with 34
 * company adds behind each, and goes away with an answer unread (the daemon's
 * read fails: it lets go of the connection at once); then again. If what
 * a connection left behind no longer counts against anything, the
 * requests held grow with every connection V opens, without bound.
 */
static void
test_vanished_requests_bounded(void **state)
{
	struct h_daemon      *d;
	struct al_mix         m;
	struct al_base        b;
	struct al_watch       w;
	struct al_op         *o;
	Budget__Request       vreq;
	Budget__VerifyRequest v;
	uint8_t              *buf = NULL, *frame;
	size_t                len, flen, i, k;
	int                   rfd[OR_RCONN], fd, cycle, refused = 0;
	int64_t               deadline;
	char                  config[128], tag[16];

	snprintf(config, sizeof(config),
	    "[limits]\nmax_connections = %d\nmax_connections_per_uid = %d\n",
	    OR_LIMIT, OR_LIMIT);
	d = al_ledger(state, config);
	al_base(d, &b);
	al_mix_init(
	    &m, al_seed(), AL_SERIAL_NEW, OR_CYCLES * OR_VER * (1 + OR_BEHIND));
	al_watch_start(&w, d);
	fx_verify_req(&vreq, &v);
	for (k = 0; k < OR_RCONN; k++) {
		rfd[k] = h_connect(d);
		for (i = 0; i < OR_RPER; i++)
			h_send_request(rfd[k], &vreq);
	}
	deadline = h_now_ms() + H_DEADLINE_MS;
	while (al_watch_now(&w) == 0)
		if (h_now_ms() > deadline)
			h_fail("the reader never filled up");
	for (cycle = 0; cycle < OR_CYCLES; cycle++) {
		if ((fd = al_connect_unread(d)) == -1) {
			/* Turned away: what it left must go first. */
			refused++;
			cycle--;
			if (h_now_ms() > deadline + H_DEADLINE_MS * 3)
				h_fail("V is turned away for good");
			h_sleep_ms(10);
			continue;
		}
		snprintf(tag, sizeof(tag), "v%d", cycle);
		len = 0;
		for (i = 0; i < OR_VER * (1 + OR_BEHIND); i++) {
			o = al_new_op(&m,
			    i % (1 + OR_BEHIND) == 0 ? AL_VERIFY : AL_COMPANY,
			    tag);
			o->sent = 1;
			frame = fx_frame(&o->f.req, &flen);
			if ((buf = realloc(buf, len + flen)) == NULL)
				h_fail("out of memory");
			memcpy(buf + len, frame, flen);
			len += flen;
			free(frame);
		}
		h_send(fd, buf, len);
		al_wait_read(fd);
		/* A few turns, for the daemon to decode what it read. */
		for (k = 0; k < 4; k++)
			(void)al_watch_now(&w);
		close(fd);
	}
	free(buf);
	print_message("V: %d connections (%d turned away), %zu requests\n",
	    OR_CYCLES, refused, m.nops);
	/* R reads now: its connections were served all along. */
	for (k = 0; k < OR_RCONN; k++) {
		(void)fx_expect_verifies(rfd[k], OR_RPER, b.seq, NULL);
		close(rfd[k]);
	}
	deadline = h_now_ms() + H_DEADLINE_MS * 3;
	while (al_watch_now(&w) > 0) {
		if (h_now_ms() > deadline)
			h_fail("requests held for good");
		h_sleep_ms(20);
	}
	al_watch_stop(&w);
	al_peak_check(&w, &b, AL_MEM_GROWTH_MAX);
	/* R's, and what V's connections may owe (conn.c's 256 each). */
	assert_true(
	    w.held <= OR_RCONN * OR_RPER + (OR_LIMIT - OR_RCONN - 1) * 256);
	al_ledger_check(d, &m, &b);
	al_daemon_check(d, &b);
	al_mix_free(&m);
}

/* ------------------------------------------------------------------ */
/* The commit wait and connections no longer read                     */

/* status on fd: commit waits that ran to their end. */
static uint64_t
al_waits_out(int fd)
{
	Budget__Response *a;
	uint64_t          n;

	h_send_status(fd, "waits");
	a = h_recv(fd, H_DEADLINE_MS);
	if (a->status == NULL)
		h_fail("status: no status");
	n = a->status->commit_waits_timed_out;
	budget__response__free_unpacked(a, NULL);
	return (n);
}

/*
 * The commit wait waits only for connections the daemon reads: one that
 * half-closed (EOF) or sent garbage is closing, and nothing more comes
 * from it. A sends a company add and a verify in one write; the add's
 * turn answers A, so the next write turn may wait for it while the
 * verify, behind R's 56, runs on. Then A half-closes (round 0) or sends
 * a frame that is no request (round 1), and D adds companies one at a
 * time: with a wait of 10 ms, none of D's turns may wait for A to the
 * end.
 */
static void
test_commit_wait_skips_closing(void **state)
{
	struct h_daemon      *d;
	Budget__Request       vreq, *two[2];
	Budget__VerifyRequest v;
	Budget__Response     *a;
	struct fx_req         add, w;
	uint64_t              t0, t1, out[2];
	char                  rid[FX_ID_SZ];
	static const uint8_t  garbage[] = {0, 0, 0, 3, 0xff, 0xff, 0xff};
	int                   rfd[7], fd, dfd, sfd, i, k;

	d = al_ledger(state, "[budgetd]\ncommit_wait_us = 10000\n");
	fx_verify_req(&vreq, &v);
	sfd = h_connect(d);
	dfd = h_connect(d);
	for (k = 0; k < 2; k++) {
		for (i = 0; i < 7; i++) {
			rfd[i] = h_connect(d);
			for (int j = 0; j < 8; j++)
				h_send_request(rfd[i], &vreq);
		}
		snprintf(rid, sizeof(rid), "closing-%d", k);
		fx_company_req(&add, rid, AL_SERIAL_NEW + (unsigned)k);
		two[0] = &add.req;
		two[1] = &vreq;
		fd = h_connect(d);
		fx_send_frames(fd, two, 2);
		a = h_recv(fd, H_DEADLINE_MS);
		if (a->error != NULL)
			h_fail("A's add: %s", a->error->code);
		budget__response__free_unpacked(a, NULL);
		t0 = al_waits_out(sfd);
		if (k == 0)
			shutdown(fd, SHUT_WR);
		else
			h_send(fd, garbage, sizeof(garbage));
		for (i = 0; i < 5; i++) {
			snprintf(rid, sizeof(rid), "after-closing-%d-%d", k, i);
			fx_company_req(&w, rid,
			    AL_SERIAL_NEW + 10 + (unsigned)(k * 5 + i));
			a = fx_call(dfd, &w.req);
			if (a->error != NULL)
				h_fail("D's add %d: %s", i, a->error->code);
			budget__response__free_unpacked(a, NULL);
		}
		t1 = al_waits_out(sfd);
		out[k] = t1 - t0;
		/* A's verify, then the close. */
		(void)fx_expect_verifies(fd, 1, 0, NULL);
		if (k == 1)
			h_expect_error(fd, "malformed_frame", NULL);
		assert_true(h_wait_closed(fd, H_DEADLINE_MS * 3, NULL));
		close(fd);
		for (i = 0; i < 7; i++) {
			(void)fx_expect_verifies(rfd[i], 8, 0, NULL);
			close(rfd[i]);
		}
	}
	print_message("commit waits that ran out for A: %llu after its EOF, "
		      "%llu after its garbage\n",
	    (unsigned long long)out[0], (unsigned long long)out[1]);
	close(dfd);
	close(sfd);
	assert_int_equal(out[0], 0);
	assert_int_equal(out[1], 0);
	al_daemon_check(d, NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_random_mix, ops_teardown),
	    cmocka_unit_test_teardown(
		test_random_mix_commit_wait, ops_teardown),
	    cmocka_unit_test_teardown(test_capped_writes_wait, ops_teardown),
	    cmocka_unit_test_teardown(test_big_answers, ops_teardown),
	    cmocka_unit_test_teardown(test_sigterm_mid_mix, ops_teardown),
	    cmocka_unit_test_teardown(test_kill9_mid_mix, ops_teardown),
	    cmocka_unit_test_teardown(test_crowd, ops_teardown),
	    cmocka_unit_test_teardown(
		test_vanished_requests_bounded, ops_teardown),
	    cmocka_unit_test_teardown(
		test_commit_wait_skips_closing, ops_teardown),
	};

	/*
	 * AddressSanitizer's quarantine of freed memory (256 MiB) would be
	 * resident growth the memory bounds cannot tell from answers kept.
	 */
	fx_asan_option("quarantine_size_mb=8");
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
