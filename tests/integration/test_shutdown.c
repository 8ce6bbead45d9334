/*
 * test_shutdown.c: stopping (issue #5, "Shutdown"; SPEC §4 I-5, §8;
 * README "Operations"). SIGTERM while 32 connections stream reservations:
 * the daemon exits 0; each connection gets its answers in order and then
 * the close, never an answer out of order or after the close; after a
 * restart every acknowledged request is there and replays its answer,
 * every unacknowledged one is all there or not at all (its retry replays,
 * or is applied now), the contract's reserved money is the sum over the
 * dossiers that exist, and the checker agrees. SIGTERM with a client that
 * never reads still exits 0 (after the drain). Under systemd: READY=1
 * once the socket listens, WATCHDOG=1 again and again, STOPPING=1 on
 * SIGTERM, through $NOTIFY_SOCKET.
 *
 * The seed (printed) comes from $BUDGET_SHUTDOWN_SEED when set.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <arpa/inet.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ops.h"

/* Connections of the stream, requests each per round, in flight each. */
#define TERM_CONNS  32
#define TERM_PER    24
#define TERM_WINDOW 4
#define TERM_N      (TERM_CONNS * TERM_PER)
#define TERM_ROUNDS 3
#define TERM_BUF    65536

/*
 * Answers waiting in the daemon's output when it stops reading a client
 * that never reads: more than the kernel could ever take off its hands.
 */
#define STUCK_UNSENT (1024 * 1024)

/* The watchdog interval given, and the pets to see. */
#define WATCHDOG_USEC "400000"
#define WATCHDOG_PETS 4

struct op {
	struct fx_req     r;
	int               sent;
	Budget__Response *answer;
	int               exists;
};

struct sconn {
	int     fd;
	size_t  first, nsent, nacked;
	uint8_t buf[TERM_BUF];
	size_t  len;
	int     closed;
};

static struct {
	struct op *ops;
	size_t     nops;
	uint64_t   rng;
	int        termed;
} term;

static int
teardown_daemon(void **state)
{
	size_t i;

	for (i = 0; term.ops != NULL && i < term.nops; i++) {
		if (term.ops[i].answer != NULL)
			budget__response__free_unpacked(
			    term.ops[i].answer, NULL);
	}
	free(term.ops);
	term.ops = NULL;
	ops_daemon_teardown(*state);
	return (0);
}

/* A first answer: the reservation, or the contract's budget refusal. */
static void
check_answer(const struct fx_req *r, const Budget__Response *a)
{
	if (a->error != NULL) {
		if (strcmp(a->error->code, "contract_budget_exceeded") != 0)
			fail_msg("%s: %s: %s", r->rid, a->error->code,
			    a->error->message);
		return;
	}
	assert_non_null(a->dossier);
	assert_string_equal(a->dossier->id, r->id);
	assert_string_equal(a->dossier->state, "reserved");
	assert_int_equal(a->dossier->subsidy_cents, OPS_START_SUB);
}

static void
sconn_send(struct sconn *c)
{
	struct op *o = &term.ops[c->first + c->nsent];
	uint8_t   *frame;
	size_t     len;

	frame = fx_frame(&o->r.req, &len);
	o->sent = 1;
	c->nsent++;
	/* After SIGTERM the daemon may be gone: a failed send is fine. */
	if (h_send_try(c->fd, frame, len) == -1 && !term.termed)
		fail_msg("send: %s", strerror(errno));
	free(frame);
}

/* The whole answers buffered: each is the next op's, in order. */
static size_t
sconn_parse(struct sconn *c)
{
	size_t            off = 0, n = 0;
	Budget__Response *a;
	struct op        *o;

	while ((a = fx_next_answer(c->buf, c->len, &off, TERM_BUF)) != NULL) {
		if (c->nacked >= c->nsent)
			fail_msg("an answer to a request never sent");
		o = &term.ops[c->first + c->nacked++];
		if (strcmp(a->request_id, o->r.rid) != 0)
			fail_msg("answer for \"%s\", expected \"%s\": out of "
				 "order",
			    a->request_id, o->r.rid);
		assert_false(a->replayed);
		check_answer(&o->r, a);
		o->answer = a;
		n++;
	}
	memmove(c->buf, c->buf + off, c->len - off);
	c->len -= off;
	return (n);
}

/*
 * One round: ops first .. first + TERM_N - 1 on TERM_CONNS connections,
 * TERM_WINDOW in flight on each; SIGTERM once target answers came; read
 * until every connection is closed; the daemon must exit 0.
 */
static void
stream_and_term(struct h_daemon *d, size_t first, size_t target)
{
	struct sconn *cs = calloc(TERM_CONNS, sizeof(*cs));
	struct pollfd pfd[TERM_CONNS];
	size_t        i, k, acks = 0, open, after = 0;
	int64_t       deadline = h_now_ms() + 3 * H_DEADLINE_MS;
	ssize_t       r;
	int           n, status;

	assert_non_null(cs);
	term.termed = 0;
	for (i = 0; i < TERM_CONNS; i++) {
		cs[i].fd = h_connect_served(d);
		cs[i].first = first + i * TERM_PER;
	}
	for (i = 0; i < TERM_CONNS; i++) {
		while (cs[i].nsent < TERM_WINDOW)
			sconn_send(&cs[i]);
	}
	for (open = TERM_CONNS; open > 0;) {
		if (!term.termed && acks >= target) {
			h_daemon_signal(d, SIGTERM);
			term.termed = 1;
		}
		for (i = 0; i < TERM_CONNS; i++) {
			pfd[i].fd = cs[i].closed ? -1 : cs[i].fd;
			pfd[i].events = POLLIN;
			pfd[i].revents = 0;
		}
		n = poll(pfd, TERM_CONNS, 100);
		if (n == -1 && errno != EINTR)
			fail_msg("poll: %s", strerror(errno));
		if (h_now_ms() > deadline)
			fail_msg("the stream did not end (SIGTERM sent: %d)",
			    term.termed);
		for (i = 0; i < TERM_CONNS && n > 0; i++) {
			struct sconn *c = &cs[i];

			if (pfd[i].revents == 0)
				continue;
			r = recv(c->fd, c->buf + c->len, TERM_BUF - c->len,
			    MSG_DONTWAIT);
			if (r == 0 || (r == -1 && errno == ECONNRESET)) {
				if (!term.termed)
					fail_msg("connection %zu closed before "
						 "SIGTERM",
					    i);
				if (c->len != 0)
					fail_msg("connection %zu closed in the "
						 "middle of an answer",
					    i);
				c->closed = 1;
				open--;
				continue;
			}
			if (r == -1) {
				if (errno == EAGAIN || errno == EINTR)
					continue;
				fail_msg("recv: %s", strerror(errno));
			}
			c->len += (size_t)r;
			k = sconn_parse(c);
			acks += k;
			if (term.termed)
				after += k;
			while (k-- > 0 && c->nsent < TERM_PER)
				sconn_send(c);
		}
	}
	if (!term.termed)
		fail_msg("every connection closed before SIGTERM");
	if (!h_daemon_wait_exit(d, 3 * H_DEADLINE_MS, &status))
		fail_msg("budgetd did not exit after SIGTERM");
	assert_int_equal(status, 0);
	for (i = 0; i < TERM_CONNS; i++)
		close(cs[i].fd);
	free(cs);
	print_message("SIGTERM after %zu answers; %zu answers in all, %zu "
		      "after the signal\n",
	    target, acks, after);
}

/* After the restart: see the top of the file. Returns dossiers there. */
static size_t
check_ops(struct h_daemon *d, size_t n)
{
	struct fx_req     *shows = calloc(n, sizeof(*shows));
	Budget__Request  **reqs = calloc(n, sizeof(*reqs));
	Budget__Response **out = calloc(n, sizeof(*out));
	size_t             i, m, nexist = 0, lost = 0, fresh = 0;
	struct op         *o;
	int                fd;

	assert_non_null(shows);
	assert_non_null(reqs);
	assert_non_null(out);
	fd = h_connect(d);
	for (i = 0; i < n; i++) {
		fx_show(&shows[i], term.ops[i].r.id);
		reqs[i] = &shows[i].req;
	}
	fx_pipeline(fd, reqs, n, out);
	for (i = 0; i < n; i++) {
		o = &term.ops[i];
		if (out[i]->error == NULL) {
			if (!o->sent)
				fail_msg(
				    "dossier %s exists, never sent", o->r.id);
			assert_string_equal(out[i]->dossier->state, "reserved");
			o->exists = 1;
		} else if (strcmp(out[i]->error->code, "not_found") == 0)
			o->exists = 0;
		else
			fail_msg("show %s: %s", o->r.id, out[i]->error->code);
		if (o->answer != NULL &&
		    (o->answer->error == NULL) != o->exists)
			fail_msg("%s acknowledged as %s, but its dossier %s",
			    o->r.rid,
			    o->answer->error == NULL ? "applied" : "refused",
			    o->exists ? "exists" : "is missing");
		budget__response__free_unpacked(out[i], NULL);
	}
	for (i = m = 0; i < n; i++) {
		if (term.ops[i].sent)
			reqs[m++] = &term.ops[i].r.req;
	}
	fx_pipeline(fd, reqs, m, out);
	for (i = m = 0; i < n; i++) {
		Budget__Response *a;

		o = &term.ops[i];
		if (!o->sent)
			continue;
		a = out[m++];
		if (o->answer != NULL) {
			if (!a->replayed || !fx_same_answer(a, o->answer))
				fail_msg("acknowledged %s: the retry is %s",
				    o->r.rid,
				    a->replayed ? "another answer"
						: "applied again");
			budget__response__free_unpacked(a, NULL);
		} else {
			check_answer(&o->r, a);
			if (o->exists && (!a->replayed || a->error != NULL))
				fail_msg("%s: its dossier is there, the retry "
					 "is no replay",
				    o->r.rid);
			if (!o->exists && a->replayed && a->error == NULL)
				fail_msg("%s replays a reservation whose "
					 "dossier is missing",
				    o->r.rid);
			if (a->replayed)
				lost++;
			else
				fresh++;
			o->answer = a;
			o->exists = a->error == NULL;
		}
		nexist += o->exists;
	}
	close(fd);
	print_message("%zu dossiers; unacknowledged: %zu had been applied, "
		      "%zu applied on retry\n",
	    nexist, lost, fresh);
	free(out);
	free(reqs);
	free(shows);
	return (nexist);
}

static void
test_sigterm_under_load(void **state)
{
	struct h_daemon   *d;
	struct fx_contract c;
	const char        *s = getenv("BUDGET_SHUTDOWN_SEED");
	size_t             i, round, nexist, answered;
	int64_t            base, budget;
	char number[FX_RID_SZ], id[FX_ID_SZ], rid[FX_ID_SZ], eur[32];

	term.rng = s != NULL && *s != '\0'
	    ? strtoull(s, NULL, 10)
	    : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
	if (term.rng == 0)
		term.rng = 1;
	print_message(
	    "BUDGET_SHUTDOWN_SEED=%llu\n", (unsigned long long)term.rng);

	*state = d = h_daemon_up(NULL);
	fx_rules_load(d);
	term.nops = TERM_ROUNDS * TERM_N;
	/* Room for 80%: budget refusals come too, and are journaled. */
	budget = (int64_t)(term.nops * 8 / 10) * OPS_START_SUB;
	snprintf(eur, sizeof(eur), "%lld", (long long)(budget / 100));
	fx_contract_open(d, "K-TERM", eur);
	fx_companies_add(d, 1, (unsigned)term.nops);
	term.ops = calloc(term.nops, sizeof(*term.ops));
	assert_non_null(term.ops);
	for (i = 0; i < term.nops; i++) {
		fx_rid(1 + (unsigned)i, number);
		snprintf(id, sizeof(id), "T-%zu", i);
		snprintf(rid, sizeof(rid), "term-%zu", i);
		fx_reserve(&term.ops[i].r, rid, id, number, "K-TERM", "START",
		    OPS_START_COST, 0);
	}
	base = fx_journal_seq(d);

	for (round = 0; round < TERM_ROUNDS; round++) {
		stream_and_term(d, round * TERM_N,
		    1 + (size_t)(fx_rand(&term.rng) % (TERM_N * 3 / 4)));
		h_daemon_start(d);
		fx_verify_ok(d);
		nexist = check_ops(d, (round + 1) * TERM_N);
		for (i = answered = 0; i < term.nops; i++)
			answered += term.ops[i].answer != NULL;
		fx_contract_show(d, "K-TERM", &c);
		assert_int_equal(c.reserved, (int64_t)nexist * OPS_START_SUB);
		assert_int_equal(c.available, budget - c.reserved);
		assert_int_equal(c.dossiers, (int64_t)nexist);
		assert_int_equal(fx_journal_seq(d), base + (int64_t)answered);
		assert_int_equal(fx_verify_ok(d), (int64_t)nexist);
	}
	assert_true(
	    h_daemon_log_wait(d, "SIGTERM: finishing what is in flight", 0));
}

/*
 * SIGTERM with a client that floods and never reads: the answers owed to
 * it cannot drain, so after the drain time the daemon gives up on it and
 * exits 0 all the same; the ledger is whole. The flood goes on until the
 * daemon says (-v) it stopped reading that client with MiBs of answers
 * unsent, so that SIGTERM surely finds answers that cannot drain.
 */
static void
test_sigterm_with_stuck_client(void **state)
{
	struct h_daemon *d;
	uint8_t          buf[64 * 64];
	size_t           len = 0, off = 0;
	int64_t          deadline;
	char             rid[32];
	int              fd, i, status;

	*state = d = h_daemon_new(NULL);
	d->verbose = 1; /* "conn N: blocked (...)" */
	h_daemon_start(d);
	for (i = 0; i < 64; i++) {
		snprintf(rid, sizeof(rid), "stuck-%d", i);
		len += h_pack_status(buf + len, sizeof(buf) - len, 1, rid);
	}
	fd = h_connect(d);
	h_set_nonblock(fd, 1);
	deadline = h_now_ms() + 3 * H_DEADLINE_MS;
	for (;;) {
		ssize_t       n = send(fd, buf + off, len - off, MSG_NOSIGNAL);
		struct pollfd p = {fd, POLLOUT, 0};

		if (n > 0) {
			off = (off + (size_t)n) % len;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			fail_msg("send: %s", strerror(errno));
		if (ops_log_blocked(d, STUCK_UNSENT))
			break;
		if (h_now_ms() > deadline)
			fail_msg("the daemon never stopped reading a client "
				 "that does not read");
		(void)poll(&p, 1, 100);
	}
	h_daemon_signal(d, SIGTERM);
	assert_true(h_daemon_wait_exit(d, 3 * H_DEADLINE_MS, &status));
	assert_int_equal(status, 0);
	assert_true(h_daemon_log_wait(d, "did not take their answers", 0));
	close(fd);
	h_daemon_start(d);
	fx_verify_ok(d);
}

/* Wait up to ms for a datagram on fd into buf (NUL-terminated). */
static int
notify_recv(int fd, char *buf, size_t size, int ms)
{
	struct pollfd p = {fd, POLLIN, 0};
	ssize_t       n;

	if (poll(&p, 1, ms) <= 0)
		return (0);
	n = recv(fd, buf, size - 1, 0);
	if (n < 0)
		return (0);
	buf[n] = '\0';
	return (1);
}

/*
 * systemd's notification socket: READY=1 (with MAINPID) once the control
 * socket listens, WATCHDOG=1 every half interval, STOPPING=1 on SIGTERM,
 * then exit 0.
 */
static void
test_systemd_notify(void **state)
{
	struct h_daemon   *d;
	struct sockaddr_un sun;
	char               path[H_PATH_MAX + 16], env[H_PATH_MAX + 32];
	char               msg[1024], pid[32];
	const char        *envp[3];
	int64_t            deadline;
	int                ns, fd, pets = 0, ready = 0, stopping = 0, status;

	*state = d = h_daemon_new(NULL);
	snprintf(path, sizeof(path), "%s/notify", d->dir);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	assert_true(strlen(path) < sizeof(sun.sun_path));
	memcpy(sun.sun_path, path, strlen(path) + 1);
	ns = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(ns >= 0);
	assert_int_equal(bind(ns, (struct sockaddr *)&sun, sizeof(sun)), 0);
	snprintf(env, sizeof(env), "NOTIFY_SOCKET=%s", path);
	envp[0] = env;
	envp[1] = "WATCHDOG_USEC=" WATCHDOG_USEC;
	envp[2] = NULL;
	h_daemon_spawn_ex(d, envp, 0);

	deadline = h_now_ms() + H_DEADLINE_MS;
	while (!ready && h_now_ms() < deadline) {
		if (!notify_recv(ns, msg, sizeof(msg), 100))
			continue;
		if (strstr(msg, "READY=1") == NULL)
			continue;
		ready = 1;
		/* By now the socket listens: a connect succeeds at once. */
		fd = h_connect_try(d->sock);
		if (fd == -1)
			fail_msg(
			    "READY=1 came, but connect: %s", strerror(errno));
		h_send_status(fd, "after-ready");
		h_expect_status(fd, "after-ready");
		close(fd);
		snprintf(pid, sizeof(pid), "MAINPID=%d", (int)d->pid);
		if (strstr(msg, pid) == NULL)
			fail_msg("READY without %s: %s", pid, msg);
	}
	assert_true(ready);

	deadline = h_now_ms() + H_DEADLINE_MS;
	while (pets < WATCHDOG_PETS && h_now_ms() < deadline) {
		if (notify_recv(ns, msg, sizeof(msg), 100) &&
		    strstr(msg, "WATCHDOG=1") != NULL)
			pets++;
	}
	print_message("%d watchdog pets\n", pets);
	assert_int_equal(pets, WATCHDOG_PETS);
	h_assert_serving(d);

	h_daemon_signal(d, SIGTERM);
	deadline = h_now_ms() + H_DEADLINE_MS;
	while (!stopping && h_now_ms() < deadline) {
		if (notify_recv(ns, msg, sizeof(msg), 100) &&
		    strstr(msg, "STOPPING=1") != NULL)
			stopping = 1;
	}
	assert_true(stopping);
	assert_true(h_daemon_wait_exit(d, 3 * H_DEADLINE_MS, &status));
	assert_int_equal(status, 0);
	close(ns);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, NULL, teardown_daemon)
	const struct CMUnitTest tests[] = {
	    T(test_sigterm_under_load),
	    T(test_sigterm_with_stuck_client),
	    T(test_systemd_notify),
	};
#undef T

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
