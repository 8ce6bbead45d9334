/*
 * test_expiry.c: the daemon's own clock (issue #3; SPEC §2 "expiry": the
 * daemon releases expired reservations itself, journaled). A reservation
 * or a pending amendment with a short TTL is released without anyone
 * asking, in one journal entry, and its money is available again; an
 * expired reservation cannot be approved; 300 reservations expiring at
 * once are all released (the daemon releases at most 256 per run and
 * comes back for the rest); a reservation that expired while the daemon
 * was down is released soon after it starts; the configured default TTL
 * applies when a request names none.
 *
 * Waits are polls with generous deadlines, never assertions on speed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fixture.h"

/* START at EUR 10,000.00: EUR 5,000.00 of subsidy. */
#define START_COST 1000000
#define START_SUB  500000
/* MEDIUM at EUR 17,000 (EUR 8,500), extended by EUR 5,000 (EUR 11,000). */
#define MEDIUM_SUB 850000
#define MEDIUM_INC 250000

/* Reservations expiring at once: more than one run's 256. */
#define MANY 300

/* How long the daemon may take to release what expired: hangs only. */
#define EXPIRY_DEADLINE_MS (2 * H_DEADLINE_MS)
#define EXPIRY_POLL_MS     100

/*
 * dossier show --json ID, polled until the dossier is in state (and,
 * when pending is not negative, has that much pending). The daemon must
 * stay up meanwhile. Returns the last answer (json_decref it).
 */
static json_t *
wait_dossier(
    struct h_daemon *d, const char *id, const char *state, int64_t pending)
{
	int64_t deadline = h_now_ms() + EXPIRY_DEADLINE_MS;
	json_t *j;
	int     status;

	for (;;) {
		j = fx_ctl_json_try(d, &status, "dossier", "show", id, NULL);
		if (status != 0 || j == NULL) {
			/* The daemon died? Then its log says why. */
			h_assert_running(d);
			fail_msg("dossier show %s: exit status %d", id, status);
		}
		if (strcmp(h_json_str(j, "state"), state) == 0 &&
		    (pending < 0 || h_json_int(j, "pending_cents") == pending))
			return (j);
		if (h_now_ms() >= deadline) {
			print_error("dossier %s: state %s, pending %lld\n", id,
			    h_json_str(j, "state"),
			    (long long)h_json_int(j, "pending_cents"));
			json_decref(j);
			fail_msg("dossier %s was not released within %d ms", id,
			    EXPIRY_DEADLINE_MS);
		}
		json_decref(j);
		h_sleep_ms(EXPIRY_POLL_MS);
	}
}

/* How often needle occurs in the daemon's log. */
static int
log_count(const struct h_daemon *d, const char *needle)
{
	char       *log = h_daemon_log(d);
	const char *p = log;
	int         n = 0;

	while ((p = strstr(p, needle)) != NULL) {
		n++;
		p += strlen(needle);
	}
	free(log);
	return (n);
}

/*
 * The journal's last entry about dossier id is its expiry: checked with
 * "history --dossier" where budgetctl and the daemon have it; skipped
 * (said so) where they do not yet.
 */
static void
expect_last_history_kind(const struct h_daemon *d, const char *id)
{
	const char   *argv[] = {BUDGETCTL_PATH, "-s", d->sock, "--json",
	      "history", "--dossier", id, NULL};
	struct h_proc p;
	json_t       *entries;
	size_t        n;

	h_run(&p, argv);
	if (p.status != 0) {
		print_message("history --dossier is not available (exit %d); "
			      "the expiry's journal kind is not checked\n",
		    p.status);
		h_proc_free(&p);
		return;
	}
	entries = h_json_get(h_json(&p), "entries");
	assert_true(json_is_array(entries));
	n = json_array_size(entries);
	assert_true(n >= 2);
	assert_string_equal(json_string_value(json_object_get(
				json_array_get(entries, n - 1), "kind")),
	    "dossier_expire");
	h_proc_free(&p);
}

/*
 * A reservation for 2 s holds the contract's last EUR 5,000: another
 * company is refused meanwhile. The daemon releases it in one journal
 * entry; it is "expired" with nothing pending, cannot be approved or
 * cancelled, and the money goes to the other company. A reservation
 * with an hour to go, on another contract, is left alone.
 */
static void
test_expiry_reservation_released(void **state)
{
	struct h_daemon   *d = fx_daemon_up(state, NULL);
	struct fx_contract c;
	char               a[FX_RID_SZ], b[FX_RID_SZ], x[FX_RID_SZ], st[32];
	json_t            *j;
	int64_t            seq;

	fx_contract_open(d, "K-EXP", "5000");
	fx_contract_open(d, "K-LONG", "5000");
	fx_companies_add(d, 1, 3);
	fx_rid(1, a);
	fx_rid(2, b);
	fx_rid(3, x);
	json_decref(fx_ctl_json(d, 0, "dossier", "reserve", "LONG-1",
	    "--company", x, "--contract", "K-LONG", "--package", "START",
	    "--cost", "10000", "--ttl", "1h", NULL));
	seq = fx_journal_seq(d);
	j = fx_ctl_json(d, 0, "dossier", "reserve", "EXP-1", "--company", a,
	    "--contract", "K-EXP", "--package", "START", "--cost", "10000",
	    "--ttl", "2s", NULL);
	assert_string_equal(h_json_str(j, "state"), "reserved");
	assert_true(json_is_string(h_json_get(j, "expires_at")));
	json_decref(j);
	j = fx_ctl_json(d, 1, "dossier", "reserve", "EXP-2", "--company", b,
	    "--contract", "K-EXP", "--package", "START", "--cost", "10000",
	    NULL);
	assert_string_equal(
	    h_json_str(j, "error.code"), "contract_budget_exceeded");
	json_decref(j);

	j = wait_dossier(d, "EXP-1", "expired", 0);
	assert_true(json_is_null(h_json_get(j, "expires_at")));
	assert_int_equal(h_json_int(j, "subsidy_cents"), START_SUB);
	assert_int_equal(h_json_int(j, "granted_cents"), 0);
	json_decref(j);
	fx_contract_show(d, "K-EXP", &c);
	assert_int_equal(c.reserved, 0);
	assert_int_equal(c.available, START_SUB);
	/*
	 * The reservation, the refusal, and one more: the expiry,
	 * journaled by the daemon itself.
	 */
	assert_int_equal(fx_journal_seq(d), seq + 3);
	expect_last_history_kind(d, "EXP-1");
	assert_int_equal(log_count(d, "expire: dossier EXP-1:"), 1);
	fx_verify_ok(d);

	/* Expired is final. */
	j = fx_ctl_json(d, 1, "dossier", "approve", "EXP-1", NULL);
	assert_string_equal(h_json_str(j, "error.code"), "invalid_state");
	json_decref(j);
	j = fx_ctl_json(
	    d, 1, "dossier", "cancel", "EXP-1", "--reason", "late", NULL);
	assert_string_equal(h_json_str(j, "error.code"), "invalid_state");
	json_decref(j);

	/* The money is available again. */
	j = fx_ctl_json(d, 0, "dossier", "reserve", "EXP-2", "--company", b,
	    "--contract", "K-EXP", "--package", "START", "--cost", "10000",
	    NULL);
	assert_string_equal(h_json_str(j, "state"), "reserved");
	json_decref(j);
	fx_contract_show(d, "K-EXP", &c);
	assert_int_equal(c.reserved, START_SUB);
	assert_int_equal(c.available, 0);

	/* The hour-long reservation was not touched. */
	assert_string_equal(
	    fx_dossier_state(d, "LONG-1", st, sizeof(st)), "reserved");
	fx_contract_show(d, "K-LONG", &c);
	assert_int_equal(c.reserved, START_SUB);
	assert_int_equal(fx_verify_ok(d), 3);
	h_assert_serving(d);
}

/*
 * An amendment of an approved dossier for 2 s: released by the daemon,
 * the dossier stays approved with its old totals and nothing pending,
 * the increment is back on the contract and off the de-minimis pending.
 */
static void
test_expiry_amendment_released(void **state)
{
	struct h_daemon   *d = fx_daemon_up(state, NULL);
	struct fx_contract c;
	char               a[FX_RID_SZ];
	json_t            *j;
	int64_t            seq;

	fx_contract_open(d, "K-AM", "100000");
	fx_companies_add(d, 1, 1);
	fx_rid(1, a);
	json_decref(fx_ctl_json(d, 0, "dossier", "reserve", "AM-1", "--company",
	    a, "--contract", "K-AM", "--package", "MEDIUM", "--cost", "17000",
	    NULL));
	json_decref(fx_ctl_json(d, 0, "dossier", "approve", "AM-1", NULL));
	seq = fx_journal_seq(d);
	j = fx_ctl_json(d, 0, "dossier", "amend", "AM-1", "--extension-cost",
	    "5000", "--ttl", "2s", NULL);
	assert_string_equal(h_json_str(j, "state"), "approved");
	assert_int_equal(h_json_int(j, "pending_cents"), MEDIUM_INC);
	json_decref(j);
	fx_contract_show(d, "K-AM", &c);
	assert_int_equal(c.reserved, MEDIUM_INC);
	assert_int_equal(c.committed, MEDIUM_SUB);

	j = wait_dossier(d, "AM-1", "approved", 0);
	assert_int_equal(h_json_int(j, "subsidy_cents"), MEDIUM_SUB);
	assert_int_equal(h_json_int(j, "granted_cents"), MEDIUM_SUB);
	assert_int_equal(h_json_int(j, "cost_cents"), 1700000);
	assert_true(json_is_null(h_json_get(j, "expires_at")));
	json_decref(j);
	fx_contract_show(d, "K-AM", &c);
	assert_int_equal(c.reserved, 0);
	assert_int_equal(c.committed, MEDIUM_SUB);
	assert_int_equal(c.available, 10000000 - MEDIUM_SUB);
	j = fx_ctl_json(d, 0, "deminimis", "show", a, NULL);
	assert_int_equal(h_json_int(j, "pending_cents"), 0);
	assert_int_equal(h_json_int(j, "used_cents"), MEDIUM_SUB);
	json_decref(j);
	/* The amendment and its expiry. */
	assert_int_equal(fx_journal_seq(d), seq + 2);
	expect_last_history_kind(d, "AM-1");
	fx_verify_ok(d);

	/* Nothing pending to approve; a new amendment may be made. */
	j = fx_ctl_json(d, 1, "dossier", "approve", "AM-1", NULL);
	assert_string_equal(h_json_str(j, "error.code"), "invalid_state");
	json_decref(j);
	j = fx_ctl_json(
	    d, 0, "dossier", "amend", "AM-1", "--extension-cost", "5000", NULL);
	assert_int_equal(h_json_int(j, "pending_cents"), MEDIUM_INC);
	json_decref(j);
	assert_int_equal(fx_verify_ok(d), 1);
}

/*
 * 300 reservations of 2 s: all released (two runs of the expiry), one
 * journal entry each, the contract back to its budget.
 */
static void
test_expiry_many_at_once(void **state)
{
	struct h_daemon   *d = fx_daemon_up(state, NULL);
	struct fx_req     *r = calloc(MANY, sizeof(*r));
	Budget__Request  **reqs = calloc(MANY, sizeof(*reqs));
	Budget__Response **out = calloc(MANY, sizeof(*out));
	struct fx_contract c;
	char               number[FX_RID_SZ], id[FX_ID_SZ], rid[FX_ID_SZ];
	json_t            *j;
	int64_t            seq, deadline, reserved;
	size_t             i;
	int                fd, status;

	assert_non_null(r);
	assert_non_null(reqs);
	assert_non_null(out);
	fx_contract_open(d, "K-MANY", "1500000");
	fx_companies_add(d, 1, MANY);
	for (i = 0; i < MANY; i++) {
		fx_rid(1 + (unsigned)i, number);
		snprintf(id, sizeof(id), "MANY-%zu", i);
		snprintf(rid, sizeof(rid), "many-%zu", i);
		fx_reserve(
		    &r[i], rid, id, number, "K-MANY", "START", START_COST, 2);
		reqs[i] = &r[i].req;
	}
	seq = fx_journal_seq(d);
	fd = h_connect(d);
	fx_pipeline(fd, reqs, MANY, out);
	for (i = 0; i < MANY; i++) {
		if (fx_err(out[i]) != NULL)
			fail_msg("reserve %s: %s: %s", r[i].id, fx_err(out[i]),
			    out[i]->error->message);
		budget__response__free_unpacked(out[i], NULL);
	}

	deadline = h_now_ms() + EXPIRY_DEADLINE_MS;
	for (;;) {
		j = fx_ctl_json_try(
		    d, &status, "contract", "show", "K-MANY", NULL);
		if (status != 0 || j == NULL) {
			h_assert_running(d);
			fail_msg("contract show: exit status %d", status);
		}
		reserved = h_json_int(j, "reserved_cents");
		json_decref(j);
		if (reserved == 0)
			break;
		if (h_now_ms() >= deadline)
			fail_msg("%lld cents still reserved after %d ms",
			    (long long)reserved, EXPIRY_DEADLINE_MS);
		h_sleep_ms(EXPIRY_POLL_MS);
	}
	fx_contract_show(d, "K-MANY", &c);
	assert_int_equal(c.reserved, 0);
	assert_int_equal(c.available, MANY * START_SUB);
	/* 300 reservations, 300 expiries. */
	assert_int_equal(fx_journal_seq(d), seq + 2 * MANY);

	for (i = 0; i < MANY; i++)
		fx_show(&r[i], r[i].id);
	fx_pipeline(fd, reqs, MANY, out);
	for (i = 0; i < MANY; i++) {
		if (fx_err(out[i]) != NULL)
			fail_msg("show %s: %s: %s", r[i].id, fx_err(out[i]),
			    out[i]->error->message);
		assert_string_equal(out[i]->dossier->state, "expired");
		assert_int_equal(out[i]->dossier->pending_cents, 0);
		budget__response__free_unpacked(out[i], NULL);
	}
	close(fd);
	assert_int_equal(log_count(d, "expire: dossier MANY-"), MANY);
	assert_int_equal(fx_verify_ok(d), MANY);
	free(out);
	free(reqs);
	free(r);
}

/*
 * A reservation of 3 s; the daemon is stopped before it expires and
 * started after: it is released soon after the start.
 */
static void
test_expiry_across_restart(void **state)
{
	struct h_daemon   *d = fx_daemon_up(state, NULL);
	struct fx_contract c;
	char               a[FX_RID_SZ];
	int64_t            seq;

	fx_contract_open(d, "K-RST", "5000");
	fx_companies_add(d, 1, 1);
	fx_rid(1, a);
	json_decref(fx_ctl_json(d, 0, "dossier", "reserve", "RST-1",
	    "--company", a, "--contract", "K-RST", "--package", "START",
	    "--cost", "10000", "--ttl", "3s", NULL));
	seq = fx_journal_seq(d);
	assert_int_equal(h_daemon_stop(d), 0);
	h_sleep_ms(4000);
	h_daemon_start(d);
	json_decref(wait_dossier(d, "RST-1", "expired", 0));
	fx_contract_show(d, "K-RST", &c);
	assert_int_equal(c.reserved, 0);
	assert_int_equal(c.available, START_SUB);
	assert_int_equal(fx_journal_seq(d), seq + 1);
	assert_int_equal(fx_verify_ok(d), 1);
	/* And it stays released across another restart. */
	h_daemon_restart(d);
	fx_contract_show(d, "K-RST", &c);
	assert_int_equal(c.reserved, 0);
	assert_int_equal(fx_journal_seq(d), seq + 1);
}

/* [ledger] reservation_ttl applies to a reservation that names none. */
static void
test_expiry_default_ttl(void **state)
{
	struct h_daemon *d =
	    fx_daemon_up(state, "[ledger]\nreservation_ttl = 2s\n");
	struct fx_contract c;
	char               a[FX_RID_SZ];

	fx_contract_open(d, "K-DEF", "5000");
	fx_companies_add(d, 1, 1);
	fx_rid(1, a);
	json_decref(fx_ctl_json(d, 0, "dossier", "reserve", "DEF-1",
	    "--company", a, "--contract", "K-DEF", "--package", "START",
	    "--cost", "10000", NULL));
	json_decref(wait_dossier(d, "DEF-1", "expired", 0));
	fx_contract_show(d, "K-DEF", &c);
	assert_int_equal(c.available, START_SUB);
	assert_int_equal(fx_verify_ok(d), 1);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, NULL, h_teardown)
	const struct CMUnitTest tests[] = {
	    T(test_expiry_reservation_released),
	    T(test_expiry_amendment_released),
	    T(test_expiry_many_at_once),
	    T(test_expiry_across_restart),
	    T(test_expiry_default_ttl),
	};
#undef T

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
