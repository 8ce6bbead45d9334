/*
 * test_crash_matrix.c: the crash matrix of issue #5 (SPEC §4 I-5, §5).
 * Twenty kill -9 at random moments of a mixed load on 32 connections:
 * dossiers walk their whole life (reserve, approve, amend, approve the
 * amendment, pay, complete, close), or are cancelled, withdrawn, have an
 * amendment cancelled, or reserve with a ttl of 1-2 s so that the
 * daemon's own expiry runs during the load (and races their approval).
 * Each dossier's steps go one at a time (each on the last answer); the
 * connections pipeline several dossiers at once.
 *
 * Every request id sent and its answer are kept. After each restart:
 * - verify says ok;
 * - the journal since the last check holds, for every request of the
 *   round, at most one entry, of its command: one for an acknowledged
 *   success, none for an acknowledged invalid_state; nothing else but the
 *   daemon's expiries;
 * - every acknowledged request retried is replayed with the same answer;
 * - every unacknowledged one is all-or-nothing: its retry replays (then
 *   its journal entry was there, and its dossier shows it) or is applied
 *   now (then there was no entry);
 * - no answer is ever request_id_reused;
 * - every dossier is as its last answer left it (or that, expired), and
 *   the contract's reserved, committed and paid are the sums over the
 *   dossiers.
 * After the last round every acknowledged request of every round is
 * retried once more.
 *
 * The seed (printed) comes from $BUDGET_CRASH_SEED when set; the number
 * of kills from $BUDGET_CRASH_ROUNDS (default 20).
 */
#include <sys/socket.h>

#include <arpa/inet.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ops.h"

#define CM_ROUNDS    20
#define CM_CONNS     32
#define CM_WINDOW    4
#define CM_BUF       65536
/*
 * Where the kill falls. Most rounds: once a random number of answers
 * (1 .. CM_KILL_ACKS) came, in the thick of the load. The others: at a
 * random time CM_KILL_MIN + [0, CM_KILL_SPAN) ms in, often in the quiet
 * after the load, when only the delayed approvals and the daemon's
 * expiry run.
 */
#define CM_KILL_MIN  20
#define CM_KILL_SPAN 1200
/*
 * New dossiers per connection per round, and earlier acknowledged
 * requests retried after each round (a sample). Under AddressSanitizer
 * every request costs LMDB's nested transaction a large allocation that
 * the sanitizer maps and clears (milliseconds): less of all there.
 */
#if defined(__SANITIZE_ADDRESS__)
#define CM_SLOW 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CM_SLOW 1
#endif
#endif
#ifdef CM_SLOW
#define CM_NEW       4
#define CM_SAMPLE    100
#define CM_KILL_ACKS 250
#else
#define CM_NEW       8
#define CM_SAMPLE    400
#define CM_KILL_ACKS 1200
#endif

/* What a dossier is meant to go through. */
enum script {
	S_FULL,         /* approve, amend, approve, pay, pay, complete, close */
	S_CANCEL,       /* cancel the reservation */
	S_EXPIRE,       /* ttl 1-2 s, approve a while later (a race) */
	S_AMEND_CANCEL, /* approve, amend, cancel it, pay, pay, close */
	S_WITHDRAW,     /* approve, pay half, withdraw */
};

struct dossier {
	char        id[FX_ID_SZ];
	char        company[FX_RID_SZ];
	enum script script;
	size_t      conn;
	int         busy;    /* a request in flight */
	int         done;    /* at its end */
	int         refresh; /* state unknown: show it next */
	int         amend_tried;
	int         amend_ttl;  /* 0 or 1 s */
	int64_t     not_before; /* h_now_ms() */
	/* As the last answer (or show) left it; known = 0: not reserved. */
	int     known;
	char    state[16];
	int64_t pending, granted, paid;
};

struct op {
	struct fx_req     r;
	enum ops_kind     kind;
	size_t            dossier;
	int               round;
	int               read;   /* a show: not journaled, not retried */
	int               sent;   /* may have reached the daemon */
	Budget__Response *answer; /* its answer (first, or the retry's) */
	int               jcount; /* journal entries under its id */
};

struct cconn {
	int        fd;
	struct op *fifo[CM_WINDOW]; /* in flight, in order */
	size_t     nfifo;
	size_t     rr; /* round-robin over the dossiers */
	uint8_t    buf[CM_BUF];
	size_t     len;
	int        closed;
};

static struct {
	uint64_t        rng;
	struct dossier *dos;
	size_t          ndos, maxdos;
	struct op     **ops; /* every write request ever sent */
	size_t          nops, maxops;
	unsigned        opseq;
	uint64_t        head; /* journal head at the last check */
	int             round;
	struct cconn    cs[CM_CONNS];
} cm;

static void free_all(void);

static int
teardown_daemon(void **state)
{
	free_all();
	ops_daemon_teardown(*state);
	return (0);
}

static void
free_all(void)
{
	size_t i;

	for (i = 0; i < cm.nops; i++) {
		if (cm.ops[i]->answer != NULL)
			budget__response__free_unpacked(
			    cm.ops[i]->answer, NULL);
		free(cm.ops[i]);
	}
	free(cm.ops);
	free(cm.dos);
	memset(&cm, 0, sizeof(cm));
}

static const char *
err_code(const Budget__Response *a)
{
	return (a->error != NULL ? a->error->code : NULL);
}

/* ------------------------------------------------------------------ */
/* The model: what a dossier does next, and what an answer tells      */

static void
add_dossiers(unsigned first_serial)
{
	size_t c, k;

	for (c = 0; c < CM_CONNS; c++) {
		for (k = 0; k < CM_NEW; k++) {
			struct dossier *x = &cm.dos[cm.ndos];
			unsigned        p = (unsigned)(fx_rand(&cm.rng) % 100);

			if (cm.ndos >= cm.maxdos)
				fail_msg("more dossiers than companies");
			memset(x, 0, sizeof(*x));
			snprintf(x->id, sizeof(x->id), "CM-%zu", cm.ndos);
			fx_rid(first_serial + (unsigned)cm.ndos, x->company);
			x->conn = c;
			x->script = p < 30 ? S_FULL
			    : p < 50       ? S_CANCEL
			    : p < 70       ? S_EXPIRE
			    : p < 85       ? S_AMEND_CANCEL
					   : S_WITHDRAW;
			x->amend_ttl =
			    x->script == S_FULL && fx_rand(&cm.rng) % 3 == 0;
			cm.ndos++;
		}
	}
}

/* Take what a Dossier result says. */
static void
learn(struct dossier *x, const Budget__Dossier *r)
{
	x->known = 1;
	x->refresh = 0;
	snprintf(x->state, sizeof(x->state), "%s", r->state);
	x->pending = r->pending_cents;
	x->granted = r->granted_cents;
	x->paid = r->paid_cents;
	x->done = strcmp(x->state, "closed") == 0 ||
	    strcmp(x->state, "cancelled") == 0 ||
	    strcmp(x->state, "expired") == 0 ||
	    strcmp(x->state, "withdrawn") == 0;
}

/*
 * The next step of x, built in place into o (its Request points into
 * it), not sent. Returns 0 when x has nothing to do now.
 */
static int
next_step(struct dossier *x, size_t xi, struct op *o)
{
	char          rid[FX_ID_SZ];
	enum ops_kind k = OPS_SHOW;
	int64_t       amount = 0, ttl = 0;

	if (x->busy || x->done || h_now_ms() < x->not_before)
		return (0);
	memset(o, 0, sizeof(*o));
	o->dossier = xi;
	o->round = cm.round;
	if (x->refresh) {
		snprintf(rid, sizeof(rid), "cm-show-%u", ++cm.opseq);
		ops_step(&o->r, OPS_SHOW, rid, x->id, 0, 0);
		o->kind = OPS_SHOW;
		o->read = 1;
		return (1);
	}
	if (!x->known) {
		snprintf(rid, sizeof(rid), "cm-%u", ++cm.opseq);
		ops_reserve(&o->r, rid, x->id, x->company, "K-CM",
		    x->script == S_EXPIRE ? 1 + (int64_t)(fx_rand(&cm.rng) % 2)
					  : 0);
		o->kind = OPS_RESERVE;
		return (1);
	}
	if (strcmp(x->state, "reserved") == 0)
		k = x->script == S_CANCEL ? OPS_CANCEL : OPS_APPROVE;
	else if (strcmp(x->state, "approved") == 0) {
		if (x->pending > 0)
			k = x->script == S_AMEND_CANCEL ? OPS_CANCEL
							: OPS_APPROVE;
		else if (!x->amend_tried &&
		    (x->script == S_FULL || x->script == S_AMEND_CANCEL)) {
			k = OPS_AMEND;
			x->amend_tried = 1;
			ttl = x->amend_ttl;
		} else if (x->script == S_WITHDRAW && x->paid > 0)
			k = OPS_WITHDRAW;
		else if (x->paid < x->granted) {
			k = OPS_PAY;
			amount = x->paid == 0 ? x->granted / 2
					      : x->granted - x->paid;
		} else
			k = OPS_COMPLETE;
	} else if (strcmp(x->state, "completed") == 0)
		k = OPS_CLOSE;
	else
		fail_msg(
		    "dossier %s in state %s has a next step?", x->id, x->state);
	snprintf(rid, sizeof(rid), "cm-%u", ++cm.opseq);
	ops_step(&o->r, k, rid, x->id, amount, ttl);
	o->kind = k;
	return (1);
}

/*
 * An answer for o (first or retry). A dossier result is learnt; the only
 * refusal this load may meet is invalid_state (an expiry won the race):
 * then the dossier is shown next, a little later.
 */
static void
take_answer(struct op *o, const Budget__Response *a)
{
	struct dossier *x = &cm.dos[o->dossier];
	const char     *e = err_code(a);

	if (e != NULL && strcmp(e, "request_id_reused") == 0)
		fail_msg("%s: request_id_reused", o->r.rid);
	if (e == NULL) {
		if (a->dossier == NULL || strcmp(a->dossier->id, x->id) != 0)
			fail_msg(
			    "%s: not a result for dossier %s", o->r.rid, x->id);
		learn(x, a->dossier);
		/* Give a short reservation a chance to expire first. */
		if (x->script == S_EXPIRE && o->kind == OPS_RESERVE)
			x->not_before = h_now_ms() + 400 +
			    (int64_t)(fx_rand(&cm.rng) % 2400);
		if (o->kind == OPS_AMEND && x->amend_ttl)
			x->not_before =
			    h_now_ms() + (int64_t)(fx_rand(&cm.rng) % 2000);
		return;
	}
	if (strcmp(e, "invalid_state") != 0 || o->kind == OPS_RESERVE ||
	    o->read)
		fail_msg("%s (%s of %s): %s: %s", o->r.rid,
		    ops_kind_name(o->kind), x->id, e, a->error->message);
	x->refresh = 1;
	x->not_before = h_now_ms() + 300;
}

/* ------------------------------------------------------------------ */
/* One round of load, cut by SIGKILL                                   */

/*
 * Send x's next step on c. The op lives in a heap object of its own (its
 * Request points into itself), kept in cm.ops unless it is a read.
 */
static int
send_next(struct cconn *c, size_t xi, int killed)
{
	struct dossier *x = &cm.dos[xi];
	struct op      *o = malloc(sizeof(*o));
	uint8_t        *frame;
	size_t          len;

	assert_non_null(o);
	if (!next_step(x, xi, o)) {
		free(o);
		return (0);
	}
	if (!o->read) {
		if (cm.nops == cm.maxops) {
			cm.maxops = cm.maxops ? cm.maxops * 2 : 4096;
			cm.ops = realloc(cm.ops, cm.maxops * sizeof(*cm.ops));
			assert_non_null(cm.ops);
		}
		cm.ops[cm.nops++] = o;
	}
	x->busy = 1;
	o->sent = 1;
	c->fifo[c->nfifo++] = o;
	frame = fx_frame(&o->r.req, &len);
	if (h_send_try(c->fd, frame, len) == -1 && !killed)
		fail_msg("send: %s", strerror(errno));
	free(frame);
	return (1);
}

/* Fill c's window from its dossiers, round-robin. */
static void
fill_window(struct cconn *c, size_t ci, int killed)
{
	size_t tries = 0, xi;

	if (killed)
		return;
	while (c->nfifo < CM_WINDOW && tries < cm.ndos) {
		xi = c->rr++ % cm.ndos;
		tries++;
		if (cm.dos[xi].conn != ci)
			continue;
		send_next(c, xi, killed);
	}
}

/* Whole answers on c: each for the head of its FIFO. Returns how many. */
static size_t
parse_answers(struct cconn *c)
{
	size_t            off = 0, i, got = 0;
	Budget__Response *a;
	struct op        *o;

	while ((a = fx_next_answer(c->buf, c->len, &off, CM_BUF)) != NULL) {
		if (c->nfifo == 0)
			fail_msg("an answer to nothing");
		o = c->fifo[0];
		for (i = 1; i < c->nfifo; i++)
			c->fifo[i - 1] = c->fifo[i];
		c->nfifo--;
		if (strcmp(a->request_id, o->r.rid) != 0)
			fail_msg("answer for %s, expected %s", a->request_id,
			    o->r.rid);
		if (a->replayed)
			fail_msg("a first answer (%s) is replayed", o->r.rid);
		take_answer(o, a);
		cm.dos[o->dossier].busy = 0;
		if (o->read) {
			budget__response__free_unpacked(a, NULL);
			free(o);
		} else
			o->answer = a;
		got++;
	}
	memmove(c->buf, c->buf + off, c->len - off);
	c->len -= off;
	return (got);
}

static void
round_load(
    struct h_daemon *d, unsigned *killed_after_ms, size_t *killed_after_acks)
{
	struct pollfd pfd[CM_CONNS];
	int64_t       start, kill_at, deadline;
	size_t        i, open, acks = 0, kill_acks = SIZE_MAX;
	ssize_t       r;
	int           killed = 0, status, n;

	/* Connected first: a status waits for the writes before it. */
	for (i = 0; i < CM_CONNS; i++) {
		memset(&cm.cs[i], 0, sizeof(cm.cs[i]));
		cm.cs[i].fd = h_connect_served(d);
		cm.cs[i].rr = (size_t)fx_rand(&cm.rng);
	}
	start = h_now_ms();
	kill_at =
	    start + CM_KILL_MIN + (int64_t)(fx_rand(&cm.rng) % CM_KILL_SPAN);
	if (fx_rand(&cm.rng) % 4 != 0) {
		/* The load may go quiet first: then the time comes. */
		kill_acks = 1 + (size_t)(fx_rand(&cm.rng) % CM_KILL_ACKS);
		kill_at = start + CM_KILL_MIN + CM_KILL_SPAN;
	}
	deadline = start + 3 * H_DEADLINE_MS;
	for (i = 0; i < CM_CONNS; i++)
		fill_window(&cm.cs[i], i, 0);
	for (open = CM_CONNS; open > 0;) {
		int64_t now = h_now_ms();
		int     wait = 20;

		if (!killed && (now >= kill_at || acks >= kill_acks)) {
			kill(d->pid, SIGKILL);
			killed = 1;
			*killed_after_ms = (unsigned)(now - start);
			*killed_after_acks = acks;
		}
		if (!killed && kill_at - now < wait)
			wait = (int)(kill_at - now);
		if (now > deadline)
			fail_msg("the round did not end");
		for (i = 0; i < CM_CONNS; i++) {
			pfd[i].fd = cm.cs[i].closed ? -1 : cm.cs[i].fd;
			pfd[i].events = POLLIN;
			pfd[i].revents = 0;
		}
		n = poll(pfd, CM_CONNS, wait < 1 ? 1 : wait);
		if (n == -1 && errno != EINTR)
			fail_msg("poll: %s", strerror(errno));
		for (i = 0; i < CM_CONNS; i++) {
			struct cconn *c = &cm.cs[i];

			if (n > 0 && pfd[i].revents != 0) {
				r = recv(c->fd, c->buf + c->len,
				    CM_BUF - c->len, MSG_DONTWAIT);
				if (r == 0 ||
				    (r == -1 && errno == ECONNRESET)) {
					if (!killed) {
						h_assert_running(d);
						fail_msg(
						    "connection %zu closed", i);
					}
					c->closed = 1;
					open--;
				} else if (r > 0) {
					c->len += (size_t)r;
					acks += parse_answers(c);
				} else if (errno != EAGAIN && errno != EINTR)
					fail_msg("recv: %s", strerror(errno));
			}
			/* Dossiers waiting for their time come back. */
			if (!c->closed)
				fill_window(c, i, killed);
		}
	}
	if (!h_daemon_wait_exit(d, H_DEADLINE_MS, &status))
		fail_msg("budgetd survived SIGKILL");
	if (status != 128 + SIGKILL)
		fail_msg("budgetd died of something else first: %d", status);
	for (i = 0; i < CM_CONNS; i++) {
		struct cconn *c = &cm.cs[i];
		size_t        k;

		/* Unanswered reads are simply forgotten. */
		for (k = 0; k < c->nfifo; k++) {
			if (c->fifo[k]->read) {
				cm.dos[c->fifo[k]->dossier].busy = 0;
				cm.dos[c->fifo[k]->dossier].refresh = 1;
				free(c->fifo[k]);
			}
		}
		c->nfifo = 0;
		close(c->fd);
	}
}

/* ------------------------------------------------------------------ */
/* The checks after a restart                                         */

struct jrid {
	const char *rid;
	const char *kind;
	int         count;
};

static int
jrid_cmp(const void *a, const void *b)
{
	return (strcmp(
	    ((const struct jrid *)a)->rid, ((const struct jrid *)b)->rid));
}

/* The refusals a retry may replay or make, and whether journaled. */
static int
journaled(const Budget__Response *a)
{
	/* A success is journaled; invalid_state is not. */
	return (a->error == NULL);
}

/*
 * The journal since the last check: every entry is the daemon's expiry
 * or one of this round's requests, at most one each, of its command.
 * Sets jcount of this round's ops.
 */
static void
check_journal(const struct h_daemon *d, size_t first_op)
{
	json_t      *j = ops_journal(d, cm.head + 1), *e;
	struct jrid *v, key, *hit;
	size_t       i, n = 0, expiries = 0;

	v = calloc(json_array_size(j) + 1, sizeof(*v));
	assert_non_null(v);
	json_array_foreach(j, i, e) {
		const char *kind = ops_entry_str(e, "kind");

		if (strcmp(kind, "dossier_expire") == 0) {
			expiries++;
			continue;
		}
		v[n].rid = ops_entry_str(e, "request_id");
		v[n].kind = kind;
		v[n].count = 1;
		n++;
	}
	qsort(v, n, sizeof(*v), jrid_cmp);
	for (i = 1; i < n; i++) {
		if (strcmp(v[i].rid, v[i - 1].rid) == 0)
			fail_msg(
			    "request %s has two journal entries", v[i].rid);
	}
	for (i = first_op; i < cm.nops; i++) {
		struct op *o = cm.ops[i];

		key.rid = o->r.rid;
		hit = bsearch(&key, v, n, sizeof(*v), jrid_cmp);
		o->jcount = hit != NULL;
		if (hit != NULL) {
			if (strcmp(hit->kind, ops_kind_name(o->kind)) != 0)
				fail_msg("%s (%s) is journaled as %s", o->r.rid,
				    ops_kind_name(o->kind), hit->kind);
			hit->count = 0; /* accounted for */
		}
		if (o->answer != NULL && o->jcount != journaled(o->answer))
			fail_msg("acknowledged %s (%s): %d journal entries",
			    o->r.rid,
			    err_code(o->answer) != NULL ? err_code(o->answer)
							: "applied",
			    o->jcount);
	}
	for (i = 0; i < n; i++) {
		if (v[i].count != 0)
			fail_msg("journal entry %s (request %s) is no request "
				 "of this round",
			    v[i].kind, v[i].rid);
	}
	free(v);
	json_decref(j);
	print_message(
	    "  journal: %zu entries of requests, %zu expiries\n", n, expiries);
}

/*
 * Retry ops[i] for i in idx[0..m): acknowledged ones must replay their
 * answer; unacknowledged ones replay (then they had been applied: one
 * entry if journaled) or are applied now (then there was none).
 */
static void
retry(const struct h_daemon *d, size_t *idx, size_t m, size_t *lost,
    size_t *fresh)
{
	Budget__Request  **reqs = calloc(m + 1, sizeof(*reqs));
	Budget__Response **out = calloc(m + 1, sizeof(*out));
	size_t             i;
	int                fd = h_connect(d);

	assert_non_null(reqs);
	assert_non_null(out);
	for (i = 0; i < m; i++)
		reqs[i] = &cm.ops[idx[i]]->r.req;
	fx_pipeline(fd, reqs, m, out);
	close(fd);
	for (i = 0; i < m; i++) {
		struct op        *o = cm.ops[idx[i]];
		Budget__Response *a = out[i];

		if (err_code(a) != NULL &&
		    strcmp(err_code(a), "request_id_reused") == 0)
			fail_msg("%s: request_id_reused", o->r.rid);
		if (o->answer != NULL) {
			if (!a->replayed || !fx_same_answer(a, o->answer))
				fail_msg("acknowledged %s (%s): the retry is "
					 "%s",
				    o->r.rid, ops_kind_name(o->kind),
				    a->replayed ? "another answer"
						: "applied again");
			budget__response__free_unpacked(a, NULL);
			continue;
		}
		if (a->replayed) {
			if (o->jcount != journaled(a))
				fail_msg("%s replays %s, with %d journal "
					 "entries: half applied",
				    o->r.rid,
				    err_code(a) != NULL ? err_code(a)
							: "a success",
				    o->jcount);
			(*lost)++;
		} else {
			if (o->jcount != 0)
				fail_msg("%s was journaled, but its retry is "
					 "applied again",
				    o->r.rid);
			(*fresh)++;
		}
		o->answer = a;
		take_answer(o, a);
		cm.dos[o->dossier].busy = 0;
	}
	free(out);
	free(reqs);
}

/* x as shown equals x as last known, or that with its pending expired. */
static void
check_dossier(struct dossier *x, const Budget__Response *a)
{
	const Budget__Dossier *s;

	if (!x->known) {
		if (err_code(a) == NULL || strcmp(err_code(a), "not_found"))
			fail_msg("dossier %s was never reserved, yet %s", x->id,
			    err_code(a) ? err_code(a) : "it exists");
		return;
	}
	if (err_code(a) != NULL)
		fail_msg("show %s: %s", x->id, err_code(a));
	s = a->dossier;
	if (!x->refresh) {
		int same = strcmp(s->state, x->state) == 0 &&
		    s->pending_cents == x->pending;
		int expired = x->pending > 0 && s->pending_cents == 0 &&
		    strcmp(s->state,
			strcmp(x->state, "reserved") == 0 ? "expired"
							  : x->state) == 0;

		if (s->granted_cents != x->granted ||
		    s->paid_cents != x->paid || !(same || expired))
			fail_msg("dossier %s is %s (pending %lld, granted "
				 "%lld, paid %lld); its last answer said %s "
				 "(%lld, %lld, %lld)",
			    x->id, s->state, (long long)s->pending_cents,
			    (long long)s->granted_cents,
			    (long long)s->paid_cents, x->state,
			    (long long)x->pending, (long long)x->granted,
			    (long long)x->paid);
	}
	learn(x, s);
}

/* Every dossier shown, pipelined, into out[]. */
static void
show_all(const struct h_daemon *d, Budget__Response **out)
{
	struct fx_req    *shows = calloc(cm.ndos + 1, sizeof(*shows));
	Budget__Request **reqs = calloc(cm.ndos + 1, sizeof(*reqs));
	size_t            i;
	int               fd = h_connect(d);

	assert_non_null(shows);
	assert_non_null(reqs);
	for (i = 0; i < cm.ndos; i++) {
		fx_show(&shows[i], cm.dos[i].id);
		reqs[i] = &shows[i].req;
	}
	fx_pipeline(fd, reqs, cm.ndos, out);
	close(fd);
	free(reqs);
	free(shows);
}

static void
free_all_answers(Budget__Response **out)
{
	size_t i;

	for (i = 0; i < cm.ndos; i++)
		budget__response__free_unpacked(out[i], NULL);
}

/*
 * Every dossier shown; the contract is the sum of them. The daemon's
 * expiry may run meanwhile: the contract is read between two rounds of
 * shows, and counts only when both rounds agree (expiry is the only
 * writer now, and it never undoes itself).
 */
static void
check_dossiers(const struct h_daemon *d)
{
	Budget__Response **a = calloc(cm.ndos + 1, sizeof(*a));
	Budget__Response **b = calloc(cm.ndos + 1, sizeof(*b));
	struct fx_contract c;
	int64_t            reserved = 0, committed = 0, paid = 0;
	size_t             i, states[8] = {0};
	int                tries;

	assert_non_null(a);
	assert_non_null(b);
	for (tries = 0;; tries++) {
		show_all(d, a);
		fx_contract_show(d, "K-CM", &c);
		show_all(d, b);
		for (i = 0; i < cm.ndos; i++) {
			if (!fx_same_answer(a[i], b[i]))
				break;
		}
		free_all_answers(b);
		if (i == cm.ndos)
			break;
		free_all_answers(a);
		if (tries == 20)
			fail_msg("the dossiers keep changing while nobody "
				 "writes");
		h_sleep_ms(100);
	}
	for (i = 0; i < cm.ndos; i++) {
		struct dossier    *x = &cm.dos[i];
		static const char *names[] = {"reserved", "approved",
		    "completed", "closed", "cancelled", "expired", "withdrawn"};
		size_t             k;

		check_dossier(x, a[i]);
		if (!x->known)
			continue;
		reserved += x->pending;
		committed += x->granted - x->paid;
		paid += x->paid;
		for (k = 0; k < 7 && strcmp(names[k], x->state) != 0; k++)
			;
		states[k]++;
	}
	free_all_answers(a);
	assert_int_equal(c.reserved, reserved);
	assert_int_equal(c.committed, committed);
	assert_int_equal(c.paid, paid);
	print_message("  dossiers: %zu reserved, %zu approved, %zu completed, "
		      "%zu closed, %zu cancelled, %zu expired, %zu withdrawn\n",
	    states[0], states[1], states[2], states[3], states[4], states[5],
	    states[6]);
	free(b);
	free(a);
}

static void
check_round(struct h_daemon *d, size_t first_op, int all)
{
	size_t *idx = calloc(cm.nops + 1, sizeof(*idx));
	size_t  i, m = 0, lost = 0, fresh = 0, earlier;

	assert_non_null(idx);
	fx_verify_ok(d);
	check_journal(d, first_op);
	/* This round's requests, all of them, first... */
	for (i = first_op; i < cm.nops; i++)
		idx[m++] = i;
	/* ...then a sample of the earlier ones acknowledged (or all). */
	for (i = 0; i < first_op && (all || i < CM_SAMPLE); i++)
		idx[m++] = all ? i : (size_t)(fx_rand(&cm.rng) % first_op);
	earlier = m - (cm.nops - first_op);
	retry(d, idx, m, &lost, &fresh);
	print_message("  %zu requests this round, %zu earlier retried; "
		      "unacknowledged: %zu had been applied, %zu applied on "
		      "retry\n",
	    cm.nops - first_op, earlier, lost, fresh);
	check_dossiers(d);
	fx_verify_ok(d);
	cm.head = ops_journal_seq(d);
	free(idx);
}

static void
test_crash_matrix(void **state)
{
	struct h_daemon *d;
	unsigned rounds = fx_env_unsigned("BUDGET_CRASH_ROUNDS", CM_ROUNDS);
	unsigned killed_after = 0;
	size_t   killed_acks = 0;
	size_t   first_op;
	int64_t  t0 = h_now_ms();

	cm.rng = fx_seed("BUDGET_CRASH_SEED");
	print_message("BUDGET_CRASH_SEED=%llu, %u kills\n",
	    (unsigned long long)cm.rng, rounds);

	*state = d = h_daemon_up(NULL);
	cm.maxdos = (size_t)rounds * CM_CONNS * CM_NEW;
	cm.dos = calloc(cm.maxdos, sizeof(*cm.dos));
	assert_non_null(cm.dos);
	fx_rules_load(d);
	fx_contract_open(d, "K-CM", "1000000000");
	fx_companies_add(d, 1, (unsigned)cm.maxdos);
	cm.head = ops_journal_seq(d);

	for (cm.round = 0; cm.round < (int)rounds; cm.round++) {
		add_dossiers(1);
		first_op = cm.nops;
		round_load(d, &killed_after, &killed_acks);
		print_message("round %d: killed after %u ms and %zu answers, "
			      "%zu requests sent\n",
		    cm.round + 1, killed_after, killed_acks,
		    cm.nops - first_op);
		h_daemon_start(d);
		check_round(d, first_op, 0);
	}
	/* Every acknowledged request of every round, once more. */
	check_round(d, cm.nops, 1);
	print_message("%zu requests in %u rounds, %lld ms\n", cm.nops, rounds,
	    (long long)(h_now_ms() - t0));
	free_all();
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, NULL, teardown_daemon)
	const struct CMUnitTest tests[] = {
	    T(test_crash_matrix),
	};
#undef T

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
