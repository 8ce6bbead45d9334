/*
 * test_adversarial_gc2.c: more of the group commit (cmd.c) under what
 * test_adversarial_gc.c and test_turn.c do not put together.
 *
 * - A turn that is run again (a reservation refused by R-DM after it
 *   wrote, in one connection's batch) while other connections, of other
 *   roles, send the same request alone and batches with refused roles in
 *   them: every answer is what the request alone would get, each request
 *   id is applied or journaled once, each connection's entries in its
 *   order, and only the refused roles' requests are journaled again when
 *   sent again (they claim no request id, SPEC §5 and README "Roles").
 * - A turn whose commit fails for want of disk: reads behind its writes
 *   on the same connection must not show what was never committed, and
 *   no write of the turn is acknowledged.
 *
 * To put the requests of several connections in one turn, the daemon is
 * stopped (SIGSTOP) while they are sent and continued after; no assertion
 * depends on where a turn ends or on the order of connections in it.
 */
#include <sys/mount.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ops.h"

/* MEDIUM at EUR 17,000 (8,500), at EUR 22,000 (11,000); START 8,500. */
#define MED_LOW      1700000
#define MED_LOW_SUB  850000
#define MED_HIGH     2200000
#define START_LOW    850000
#define START_LOWSUB 425000

#define ROLES_CONFIG \
	"[budgetd]\nsocket_mode = 0666\n" \
	"[roles]\nauditor = 4001\nworkflow = 4002\n"

/* A connection as uid (a role of ROLES_CONFIG), accepted and served. */
static int
gc2_connect_as(const struct h_daemon *d, uid_t uid)
{
	int fd;

	if ((fd = h_connect_as_try(d->sock, uid, uid)) == -1)
		h_fail("connecting as uid %u", (unsigned)uid);
	h_send_status(fd, "hello");
	h_expect_status(fd, "hello");
	return (fd);
}

static void
gc2_expect(const Budget__Response *a, const char *code, const char *what)
{
	const char *err = fx_err(a);

	if (code == NULL && err != NULL)
		h_fail("%s: refused: %s: %s", what, err, a->error->message);
	if (code != NULL && (err == NULL || strcmp(err, code) != 0))
		h_fail("%s: got %s, expected %s", what,
		    err != NULL ? err : "a result", code);
}

/* ------------------------------------------------------------------ */
/* A rerun turn shared with other connections and other roles         */

/* The request ids of the scenario, by what they are. */
enum {
	RR_R1, /* admin's batch: reserve company 1, applied */
	RR_R2, /* company 2 over its ceiling: R-DM after writing */
	RR_R3, /* admin's batch: reserve company 3, applied */
	RR_R4, /* workflow alone: reserve company 4, applied */
	RR_R5, /* auditor's batch: reserve company 5: permission_denied */
	RR_R6, /* auditor's batch: declare: permission_denied */
	RR_R7, /* workflow's batch: declare: permission_denied */
	RR_R8, /* workflow's batch: reserve company 6, applied */
	RR_NREQ
};

struct rr {
	struct fx_req    r[RR_NREQ];
	struct fx_req    b0, b2, b3; /* the batches */
	Budget__Request *ops0[4], *ops2[2], *ops3[2];
	int              fd[4];
};

static void
rr_requests(struct rr *s)
{
	char     number[FX_RID_SZ], granted[FX_DATE_SZ];
	unsigned serial[RR_NREQ] = {1, 2, 3, 4, 5, 0, 0, 6};
	size_t   i;

	fx_date_ago(10, granted);
	for (i = 0; i < RR_NREQ; i++) {
		char rid[FX_ID_SZ], id[FX_ID_SZ];

		snprintf(rid, sizeof(rid), "rr-%zu", i + 1);
		snprintf(id, sizeof(id), "RR-%zu", i + 1);
		if (i == RR_R6 || i == RR_R7) {
			fx_rid(1, number);
			fx_declare_req(&s->r[i], rid, number, 100, granted);
			continue;
		}
		fx_rid(serial[i], number);
		fx_reserve(&s->r[i], rid, id, number, "K-RR", "MEDIUM",
		    i == RR_R2 ? MED_HIGH : MED_LOW, 0);
	}
	/* Company 3 on START, so that not every subsidy is the same. */
	fx_rid(3, number);
	fx_reserve(&s->r[RR_R3], "rr-3", "RR-3", number, "K-RR", "START",
	    START_LOW, 0);
	/* rr-2 twice in the admin's batch: its refusal, then replayed. */
	s->ops0[0] = &s->r[RR_R1].req;
	s->ops0[1] = &s->r[RR_R2].req;
	s->ops0[2] = &s->r[RR_R2].req;
	s->ops0[3] = &s->r[RR_R3].req;
	fx_batch_req(&s->b0, "rr-batch-0", s->ops0, 4);
	s->ops2[0] = &s->r[RR_R5].req;
	s->ops2[1] = &s->r[RR_R6].req;
	fx_batch_req(&s->b2, "rr-batch-2", s->ops2, 2);
	s->ops3[0] = &s->r[RR_R7].req;
	s->ops3[1] = &s->r[RR_R8].req;
	fx_batch_req(&s->b3, "rr-batch-3", s->ops3, 2);
}

/*
 * Everything in one turn: admin's batch; workflow's reservation and
 * rr-2 alone behind it on one connection; the auditor's batch; the
 * workflow's batch. The answers by request id, into a[] (the three rr-2
 * answers into two[]).
 */
static void
rr_turn(struct h_daemon *d, struct rr *s, Budget__Response *got[4][2])
{
	size_t i;

	h_daemon_freeze(d);
	fx_send_frame(s->fd[0], &s->b0.req);
	fx_send_frame(s->fd[1], &s->r[RR_R4].req);
	fx_send_frame(s->fd[1], &s->r[RR_R2].req);
	fx_send_frame(s->fd[2], &s->b2.req);
	fx_send_frame(s->fd[3], &s->b3.req);
	h_daemon_signal(d, SIGCONT);
	for (i = 0; i < 4; i++) {
		got[i][0] = h_recv(s->fd[i], H_DEADLINE_MS);
		got[i][1] = i == 1 ? h_recv(s->fd[i], H_DEADLINE_MS) : NULL;
	}
	for (i = 0; i < 4; i++) {
		if (i == 1)
			continue;
		gc2_expect(got[i][0], NULL, "a batch");
		assert_non_null(got[i][0]->batch);
	}
	assert_int_equal(got[0][0]->batch->n_results, 4);
	assert_int_equal(got[2][0]->batch->n_results, 2);
	assert_int_equal(got[3][0]->batch->n_results, 2);
}

static void
rr_free(Budget__Response *got[4][2])
{
	size_t i, j;

	for (i = 0; i < 4; i++)
		for (j = 0; j < 2; j++)
			if (got[i][j] != NULL)
				budget__response__free_unpacked(
				    got[i][j], NULL);
}

/*
 * Contract K-RR of EUR 40,000; companies 1-6; company 2 with EUR 290,000
 * of aid: any subsidy over EUR 10,000 breaks its ceiling, and R-DM is
 * checked with the reservation written (a rerun of the turn).
 */
static void
test_rerun_turn_shared_with_roles(void **state)
{
	struct h_daemon   *d;
	struct rr          s;
	Budget__Response  *got[4][2], *again[4][2];
	Budget__Response  *two[3];
	struct fx_contract k;
	json_t            *entries, *e, *j;
	char               number[FX_RID_SZ], granted[FX_DATE_SZ];
	int                seen[RR_NREQ];
	const char        *kind;
	uint64_t           before;
	size_t             i, fresh = 0, last0 = 0, last3 = 0;

	if (!h_can_switch_user()) {
		print_message("skipped: connecting as other uids needs root\n");
		skip();
	}
	d = fx_daemon_up(state, ROLES_CONFIG);
	/* Other uids reach the socket through the test's directory. */
	if (chmod(d->dir, 0755) == -1)
		h_fail("chmod %s: %s", d->dir, strerror(errno));
	fx_contract_open(d, "K-RR", "40000");
	fx_companies_add(d, 1, 6);
	fx_rid(2, number);
	fx_date_ago(30, granted);
	fx_declare(d, number, "290000", granted);
	memset(&s, 0, sizeof(s));
	rr_requests(&s);
	s.fd[0] = h_connect_served(d);
	s.fd[1] = gc2_connect_as(d, 4002);
	s.fd[2] = gc2_connect_as(d, 4001);
	s.fd[3] = gc2_connect_as(d, 4002);
	before = ops_journal_seq(d);

	rr_turn(d, &s, got);

	/* Admin's batch: applied, refused, the refusal replayed, applied. */
	gc2_expect(got[0][0]->batch->results[0], NULL, "rr-1");
	assert_int_equal(
	    got[0][0]->batch->results[0]->dossier->subsidy_cents, MED_LOW_SUB);
	gc2_expect(got[0][0]->batch->results[3], NULL, "rr-3");
	assert_int_equal(
	    got[0][0]->batch->results[3]->dossier->subsidy_cents, START_LOWSUB);
	/* Workflow alone: applied, then rr-2 as the admin got it. */
	gc2_expect(got[1][0], NULL, "rr-4");
	assert_int_equal(got[1][0]->dossier->subsidy_cents, MED_LOW_SUB);
	two[0] = got[0][0]->batch->results[1];
	two[1] = got[0][0]->batch->results[2];
	two[2] = got[1][1];
	for (i = 0; i < 3; i++) {
		gc2_expect(two[i], "deminimis_ceiling_exceeded", "rr-2");
		assert_string_equal(two[i]->request_id, "rr-2");
		assert_true(fx_same_answer(two[i], two[0]));
		fresh += !two[i]->replayed;
	}
	if (fresh != 1)
		h_fail("rr-2 answered fresh %zu times, not once", fresh);
	/* The refused roles, each op on its own. */
	gc2_expect(got[2][0]->batch->results[0], "permission_denied", "rr-5");
	gc2_expect(got[2][0]->batch->results[1], "permission_denied", "rr-6");
	gc2_expect(got[3][0]->batch->results[0], "permission_denied", "rr-7");
	gc2_expect(got[3][0]->batch->results[1], NULL, "rr-8");

	/* The ledger holds exactly what stood. */
	fx_contract_show(d, "K-RR", &k);
	assert_int_equal(k.reserved, 3 * MED_LOW_SUB + START_LOWSUB);
	assert_int_equal(k.dossiers, 4);
	j = fx_ctl_json(d, 1, "dossier", "show", "RR-2", NULL);
	assert_string_equal(h_json_str(j, "error.code"), "not_found");
	json_decref(j);
	j = fx_ctl_json(d, 1, "dossier", "show", "RR-5", NULL);
	assert_string_equal(h_json_str(j, "error.code"), "not_found");
	json_decref(j);

	/*
	 * One entry per request id, of the kind its answer says; each
	 * connection's in its order (the admin's rr-1, rr-2, rr-3; the
	 * workflow's batch rr-7, rr-8).
	 */
	memset(seen, 0, sizeof(seen));
	entries = ops_journal(d, before + 1);
	assert_int_equal(json_array_size(entries), RR_NREQ);
	json_array_foreach(entries, i, e) {
		const char *rid = ops_entry_str(e, "request_id");
		unsigned    n;

		if (sscanf(rid, "rr-%u", &n) != 1 || n < 1 || n > RR_NREQ)
			h_fail("entry %zu: request id %s", i, rid);
		if (seen[n - 1]++)
			h_fail("request %s journaled twice", rid);
		kind = ops_entry_str(e, "kind");
		if (n - 1 == RR_R2)
			assert_string_equal(ops_entry_str(e, "error"),
			    "deminimis_ceiling_exceeded");
		if (n - 1 == RR_R5 || n - 1 == RR_R6 || n - 1 == RR_R7)
			assert_string_equal(
			    ops_entry_str(e, "error"), "permission_denied");
		if (n - 1 == RR_R2 || n - 1 == RR_R5 || n - 1 == RR_R6 ||
		    n - 1 == RR_R7)
			assert_string_equal(kind, "refused");
		else
			assert_string_equal(kind, "dossier_reserve");
		if (n - 1 == RR_R1 || n - 1 == RR_R2 || n - 1 == RR_R3) {
			if (n < last0)
				h_fail("the admin's batch journaled out of "
				       "order (%s after rr-%zu)",
				    rid, last0);
			last0 = n;
		}
		if (n - 1 == RR_R7 || n - 1 == RR_R8) {
			if (n < last3)
				h_fail("the workflow's batch journaled out "
				       "of order");
			last3 = n;
		}
	}
	json_decref(entries);
	fx_verify_ok(d);

	/*
	 * Everything again, in one turn: every answer the first one, and
	 * replayed, but the refused roles' (they claimed no request id):
	 * refused again and journaled again, once each.
	 */
	before = ops_journal_seq(d);
	rr_turn(d, &s, again);
	for (i = 0; i < 4; i++) {
		assert_true(again[0][0]->batch->results[i]->replayed);
		assert_true(fx_same_answer(again[0][0]->batch->results[i],
		    got[0][0]->batch->results[i]));
	}
	for (i = 0; i < 2; i++) {
		assert_true(again[1][i]->replayed);
		assert_true(fx_same_answer(again[1][i], got[1][i]));
	}
	for (i = 0; i < 2; i++) {
		gc2_expect(again[2][0]->batch->results[i], "permission_denied",
		    "a refused role again");
		assert_false(again[2][0]->batch->results[i]->replayed);
	}
	gc2_expect(
	    again[3][0]->batch->results[0], "permission_denied", "rr-7 again");
	assert_false(again[3][0]->batch->results[0]->replayed);
	assert_true(again[3][0]->batch->results[1]->replayed);
	assert_true(fx_same_answer(
	    again[3][0]->batch->results[1], got[3][0]->batch->results[1]));
	assert_int_equal(ops_journal_seq(d), before + 3);
	fx_contract_show(d, "K-RR", &k);
	assert_int_equal(k.reserved, 3 * MED_LOW_SUB + START_LOWSUB);
	fx_verify_ok(d);

	rr_free(again);
	rr_free(got);
	for (i = 0; i < 4; i++)
		close(s.fd[i]);
}

/* ------------------------------------------------------------------ */
/* A turn whose commit fails, with reads behind its writes            */

#define CF_CHUNK 32
#define CF_TAIL  8
#define CF_MAX   40000
#define CF_FS    "size=2m"

static struct {
	int  mounted;
	char mnt[H_PATH_MAX];
} cf;

static int
cf_teardown(void **state)
{
	/* Lazy: the daemon keeps its files open until it is stopped. */
	if (cf.mounted && umount2(cf.mnt, MNT_DETACH) == -1)
		fprintf(stderr, "umount %s: %s\n", cf.mnt, strerror(errno));
	cf.mounted = 0;
	return (ops_teardown(state));
}

static int
cf_is_full(const Budget__Response *a)
{
	const char *err = fx_err(a);

	return (err != NULL &&
	    (strcmp(err, "storage_full") == 0 ||
		strcmp(err, "storage_error") == 0));
}

/*
 * Company adds from serial *next on, CF_CHUNK pipelined at a time until
 * one is refused for lack of room, then alone until CF_TAIL in a row are.
 */
static void
cf_fill(const struct h_daemon *d, unsigned *next)
{
	struct fx_req     r[CF_CHUNK];
	Budget__Request  *reqs[CF_CHUNK];
	Budget__Response *out[CF_CHUNK];
	char              rid[FX_ID_SZ];
	size_t            i, n, k = CF_CHUNK, row = 0, sent = 0;
	int               fd = h_connect(d);

	while (row < CF_TAIL) {
		if ((sent += k) > CF_MAX)
			h_fail("%d writes and the disk is not full", CF_MAX);
		for (i = 0; i < k; i++) {
			snprintf(rid, sizeof(rid), "cf-fill-%u", *next);
			fx_company_req(&r[i], rid, (*next)++);
			reqs[i] = &r[i].req;
		}
		fx_pipeline(fd, reqs, k, out);
		/* k may drop to 1 below: every answer of this round is freed. */
		for (i = 0, n = k; i < n; i++) {
			if (cf_is_full(out[i])) {
				/* Only writes sent alone count. */
				row += n == 1;
				k = 1;
			} else {
				gc2_expect(out[i], NULL, "a company add");
				row = 0;
			}
			budget__response__free_unpacked(out[i], NULL);
		}
	}
	close(fd);
}

/* company show of the serial-th company. */
static void
cf_company_show(struct fx_req *r, Budget__CompanyShow *cs, unsigned serial)
{
	fx_req_init(r, NULL);
	budget__company_show__init(cs);
	fx_rid(serial, r->company);
	cs->number = r->company;
	r->req.command_case = BUDGET__REQUEST__COMMAND_COMPANY_SHOW;
	r->req.company_show = cs;
}

/*
 * The data directory on a 2 MiB tmpfs, half of it ballast, filled until
 * writes are refused for want of room: LMDB writes its pages out only at
 * commit, so it is the turn's commit that fails. Then, in one turn on one
 * connection: a company add, a show of that company, status, a batch of
 * another company add, a show of that one. Each show must agree with the
 * answer to the write before it (found only if that was applied), status
 * must count only what was; once there is room, both writes, asked again
 * under their request ids, are applied now, not replayed.
 */
static void
test_failed_commit_reads_behind(void **state)
{
	struct h_daemon    *d;
	struct fx_req       w1, w2, b, s1, s2, st;
	Budget__CompanyShow cs1, cs2;
	Budget__Request    *bops[1], *all[5];
	Budget__Response   *a[5];
	char                path[H_PATH_MAX + 16];
	unsigned            next = 1, x, y;
	uint64_t            before;
	int                 fd, ok1, ok2, bfd;
	size_t              i;

	*state = d = h_daemon_new(NULL);
	if (!h_can_switch_user()) {
		print_message("skipped: mounting a tmpfs needs root\n");
		skip();
	}
	snprintf(cf.mnt, sizeof(cf.mnt), "%s", d->datadir);
	assert_int_equal(mkdir(cf.mnt, 0700), 0);
	if (mount("tmpfs", cf.mnt, "tmpfs", MS_NOSUID | MS_NODEV, CF_FS) ==
	    -1) {
		print_message("skipped: mount -t tmpfs: %s\n", strerror(errno));
		skip();
	}
	cf.mounted = 1;
	snprintf(path, sizeof(path), "%s/ballast", cf.mnt);
	if ((bfd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600)) == -1)
		h_fail("%s: %s", path, strerror(errno));
	{
		static char buf[64 * 1024];

		memset(buf, 'b', sizeof(buf));
		for (i = 0; i < 16; i++)
			if (write(bfd, buf, sizeof(buf)) !=
			    (ssize_t)sizeof(buf))
				h_fail("ballast: %s", strerror(errno));
	}
	close(bfd);
	h_daemon_start(d);
	fx_rules_load(d);
	cf_fill(d, &next);

	x = next++;
	y = next++;
	fx_company_req(&w1, "cf-w1", x);
	fx_company_req(&w2, "cf-w2", y);
	bops[0] = &w2.req;
	fx_batch_req(&b, "cf-batch", bops, 1);
	cf_company_show(&s1, &cs1, x);
	cf_company_show(&s2, &cs2, y);
	ops_step(&st, OPS_STATUS, "cf-status", NULL, 0, 0);
	all[0] = &w1.req;
	all[1] = &s1.req;
	all[2] = &st.req;
	all[3] = &b.req;
	all[4] = &s2.req;
	before = ops_journal_seq(d);
	fd = h_connect_served(d);
	h_daemon_freeze(d);
	fx_send_frames(fd, all, 5);
	h_daemon_signal(d, SIGCONT);
	for (i = 0; i < 5; i++)
		a[i] = h_recv(fd, H_DEADLINE_MS);

	ok1 = fx_err(a[0]) == NULL;
	if (!ok1 && !cf_is_full(a[0]))
		h_fail("cf-w1: %s", fx_err(a[0]));
	/* The batch as a whole may be refused, or its op. */
	if (fx_err(a[3]) != NULL) {
		if (!cf_is_full(a[3]))
			h_fail("cf-batch: %s", fx_err(a[3]));
		ok2 = 0;
	} else {
		assert_int_equal(a[3]->batch->n_results, 1);
		ok2 = fx_err(a[3]->batch->results[0]) == NULL;
		if (!ok2 && !cf_is_full(a[3]->batch->results[0]))
			h_fail("cf-w2: %s", fx_err(a[3]->batch->results[0]));
	}
	print_message("write 1 %s, write 2 %s\n", ok1 ? "applied" : "refused",
	    ok2 ? "applied" : "refused");
	/* What this test is for: the disk is full, the turn did not commit. */
	assert_false(ok1);
	assert_false(ok2);
	if (ok1)
		gc2_expect(a[1], NULL, "the show behind write 1");
	else
		gc2_expect(a[1], "not_found", "the show behind write 1");
	gc2_expect(a[2], NULL, "status");
	assert_int_equal(a[2]->status->journal_seq, before + (ok1 ? 1 : 0));
	if (ok2)
		gc2_expect(a[4], NULL, "the show behind write 2");
	else
		gc2_expect(a[4], "not_found", "the show behind write 2");
	assert_int_equal(ops_journal_seq(d), before + ok1 + ok2);
	for (i = 0; i < 5; i++)
		budget__response__free_unpacked(a[i], NULL);
	fx_verify_ok(d);

	/* Room again: neither was remembered, both are applied now. */
	assert_int_equal(unlink(path), 0);
	a[0] = fx_call(fd, &w1.req);
	gc2_expect(a[0], NULL, "cf-w1 with room");
	assert_false(a[0]->replayed);
	a[1] = fx_call(fd, &b.req);
	gc2_expect(a[1], NULL, "cf-batch with room");
	gc2_expect(a[1]->batch->results[0], NULL, "cf-w2 with room");
	assert_false(a[1]->batch->results[0]->replayed);
	assert_int_equal(ops_journal_seq(d), before + 2);
	budget__response__free_unpacked(a[0], NULL);
	budget__response__free_unpacked(a[1], NULL);
	fx_verify_ok(d);
	close(fd);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, NULL, ops_teardown)
	const struct CMUnitTest tests[] = {
	    T(test_rerun_turn_shared_with_roles),
	    cmocka_unit_test_setup_teardown(
		test_failed_commit_reads_behind, NULL, cf_teardown),
	};
#undef T

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
