/*
 * ops.h: what the operational tests of issue #5 (test_roles.c,
 * test_hostile.c, test_full.c, test_shutdown.c, test_crash_matrix.c,
 * test_regress_ops.c) share beside fixture.h: Requests for every dossier
 * step, the journal read over a raw connection, a well-behaved client
 * that runs in a child process while the test plays the hostile one, and
 * a process's CPU time and descriptor limit.
 *
 * Like the harness, every ops_ function fails the current cmocka test
 * when something it cannot recover from goes wrong, saying what it was
 * doing; the exceptions say so.
 */
#ifndef BUDGET_OPS_H
#define BUDGET_OPS_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include "fixture.h"

/* START at EUR 10,000.00: EUR 5,000.00 of subsidy (50%, an SME). */
#define OPS_START_COST 1000000
#define OPS_START_SUB  500000

/* The steps of ops_step. */
enum ops_kind {
	OPS_RESERVE,
	OPS_APPROVE,
	OPS_AMEND,
	OPS_CANCEL,
	OPS_WITHDRAW,
	OPS_PAY,
	OPS_COMPLETE,
	OPS_CLOSE,
	OPS_SHOW,
	OPS_STATUS,
};

/*
 * reserve ID --company COMPANY --contract CONTRACT --package START --cost
 * 10000 [--ttl ttl seconds; 0: the daemon's default].
 */
void ops_reserve(struct fx_req *r, const char *rid, const char *id,
    const char *company, const char *contract, int64_t ttl);

/*
 * Any other step of dossier id: approve, amend (to MEDIUM at EUR 18,000,
 * ttl as given), cancel and withdraw (reason "ops"), pay (amount cents),
 * complete, close, show (no request id needed; rid may be NULL), status
 * (id ignored).
 */
void ops_step(struct fx_req *r, enum ops_kind kind, const char *rid,
    const char *id, int64_t amount, int64_t ttl);

/* "dossier_approve" ...: the command names the journal uses. */
const char *ops_kind_name(enum ops_kind kind);

/*
 * The journal from entry since on (1: all), read with export over a raw
 * connection page by page: an array of objects, one per entry, with
 * "seq" and every field (numbers as integers); json_decref it.
 */
json_t *ops_journal(const struct h_daemon *d, uint64_t since);

/* status over a raw connection: journal_seq. */
uint64_t ops_journal_seq(const struct h_daemon *d);

/* A journal entry's string field, "" when absent. */
const char *ops_entry_str(json_t *entry, const char *name);

/* A journal entry's integer field, 0 when absent. */
int64_t ops_entry_int(json_t *entry, const char *name);

/*
 * Raise this process's soft RLIMIT_NOFILE to at least n. Returns 0, or -1
 * when the hard limit is lower (the caller skips).
 */
int ops_raise_nofile(unsigned n);

/* User + system CPU time of a process, in milliseconds (/proc/PID/stat). */
int64_t ops_cpu_ms(pid_t pid);

/*
 * 1 when the daemon's log (it runs with verbose >= 1) says it stopped
 * reading a connection while at least min_unsent bytes of answers waited
 * in its output ("conn N: blocked (K owed, M bytes unsent, L long reads)"). For a client
 * that never reads, that lasts: the kernel takes only a few hundred KiB.
 */
int ops_log_blocked(const struct h_daemon *d, size_t min_unsent);

/*
 * h_daemon_teardown, but when the daemon crashed or does not exit 0 on
 * SIGTERM its whole log goes to stderr first (the harness's copy goes
 * through cmocka's message buffer, which cuts long logs: a sanitizer's
 * report is at the end).
 */
void ops_daemon_teardown(struct h_daemon *d);

/* h_teardown with ops_daemon_teardown: the whole log of a crash. */
int ops_teardown(void **state);

/* ------------------------------------------------------------------ */
/* The well-behaved client                                            */

/*
 * A client in a child process that connects, gets one status answered,
 * tells the test so (ops_good_start returns then), and sends n requests
 * one at a time: status, dossier reserve (dossier PREFIX-k of company
 * serial first_serial + k on contract, START, EUR 10,000) and dossier
 * show of the dossier it reserved last, in turn, with gap_ms between
 * them. Every answer is checked: the request id echoed, the right result,
 * the reservation's state and subsidy. The child exits 0 when all were
 * right, else 1 saying why on stderr.
 *
 * The companies (n / 3 + 1 of them from first_serial) and the contract
 * must exist, with room for every reservation.
 */
struct ops_good {
	pid_t    pid;
	int      err_fd; /* its stderr */
	unsigned n;
	unsigned first_serial;
	int      gap_ms;
	char     contract[FX_ID_SZ];
	char     prefix[16];
};

/* Companies the good client needs for n requests. */
#define OPS_GOOD_COMPANIES(n) ((n) / 3 + 1)

/* Fork it; return once it is connected and served. */
void ops_good_start(struct ops_good *g, const struct h_daemon *d);

/*
 * Wait for it (H_DEADLINE_MS * 3 at most); fail the test, with what it
 * said, unless it exited 0.
 */
void ops_good_wait(struct ops_good *g);

/* 1 while it runs (does not reap). */
int ops_good_running(struct ops_good *g);

/*
 * The common ledger for a good client: the shipped rules, contract
 * contract with a large budget, and n companies from first_serial.
 */
void ops_good_ledger(const struct h_daemon *d, const char *contract,
    unsigned first_serial, unsigned n);

#endif /* BUDGET_OPS_H */
