/*
 * fixture.h: a ledger to race, crash and expire on, for the integration
 * tests of the write path (test_race.c, test_crash.c, test_expiry.c):
 * valid enterprise numbers by serial, the shipped rules, contracts,
 * companies and links set up through budgetctl or pipelined raw frames,
 * Requests built with the generated protobuf-c types, and the ledger read
 * back (contract balances, journal_seq, verify).
 *
 * Like the harness, every fx_ function fails the current cmocka test when
 * something it cannot recover from goes wrong, saying what it was doing.
 */
#ifndef BUDGET_FIXTURE_H
#define BUDGET_FIXTURE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "harness.h"

/* An enterprise number: ten digits and a NUL. */
#define FX_RID_SZ  11
/* Room for an id (dossier, contract, request): 64 bytes and a NUL. */
#define FX_ID_SZ   65
/* "YYYY-MM-DD" and a NUL. */
#define FX_DATE_SZ 11

/* Requests sent before their answers are read, in fx_pipeline. */
#define FX_PIPELINE_CHUNK 256

/*
 * The serial-th valid enterprise number (R-ID): first digit 1, the
 * mod-97 check digits right. Distinct serials (below 8,000,000) give
 * distinct numbers.
 */
void fx_rid(unsigned serial, char out[FX_RID_SZ]);

/*
 * The calendar day days before today (UTC), "YYYY-MM-DD", into out: for
 * dates that must lie in the past but inside today's windows whenever
 * the tests run.
 */
void fx_date_ago(int days, char out[FX_DATE_SZ]);

/*
 * budgetctl -s SOCK --json ARGS... (NULL-terminated); fail the test
 * unless it exits with status; return its stdout as JSON (json_decref
 * it).
 */
json_t *fx_ctl_json(const struct h_daemon *d, int status, ...);

/*
 * Like fx_ctl_json, without failing: *status gets the exit status; the
 * JSON on stdout is returned, NULL when there is none (json_decref it).
 */
json_t *fx_ctl_json_try(const struct h_daemon *d, int *status, ...);

/*
 * The two above with the arguments in a va_list and the way to start
 * budgetctl given (h_run; audit.c's au_run quietens LeakSanitizer).
 */
typedef int (*fx_runner)(struct h_proc *, const char *const[]);
json_t *
fx_ctl_vjson(const struct h_daemon *d, int status, fx_runner run, va_list ap);
json_t *fx_ctl_vjson_try(
    const struct h_daemon *d, int *status, fx_runner run, va_list ap);

/* budgetctl rules load of the shipped rules (rules/ in the source tree). */
void fx_rules_load(const struct h_daemon *d);

/* contract open ID --provider P-ID --framework FW2 --budget EUR. */
void fx_contract_open(
    const struct h_daemon *d, const char *id, const char *budget_eur);

/*
 * Add the companies of serials first .. first + n - 1 (small, postcode
 * 9000), pipelined on one raw connection.
 */
void fx_companies_add(const struct h_daemon *d, unsigned first, unsigned n);

/* company link PARENT CHILD --since DATE (enterprise numbers). */
void fx_company_link(const struct h_daemon *d, const char *parent,
    const char *child, const char *since);

/* deminimis declare NUMBER --amount EUR --granted DATE --source fixture. */
void fx_declare(const struct h_daemon *d, const char *number,
    const char *amount_eur, const char *granted);

/* A contract's balances, from contract show --json. */
struct fx_contract {
	int64_t budget, reserved, committed, paid, available, dossiers;
};
void fx_contract_show(
    const struct h_daemon *d, const char *id, struct fx_contract *c);

/* status --json: journal_seq. */
int64_t fx_journal_seq(const struct h_daemon *d);

/*
 * verify --json must say ok:true (exit 0); otherwise the test fails,
 * printing the problems. Returns the checker's count of dossiers.
 */
int64_t fx_verify_ok(const struct h_daemon *d);

/* A dossier's state from dossier show --json, into buf. */
const char *
fx_dossier_state(const struct h_daemon *d, const char *id, char *buf, size_t);

/* ------------------------------------------------------------------ */
/* Raw requests                                                       */

/*
 * A Request with its command and the strings they point to, in one
 * object: build it in place, do not copy it (the pointers are inside).
 */
struct fx_req {
	Budget__Request req;
	union {
		Budget__DossierReserve   reserve;
		Budget__DossierApprove   approve;
		Budget__DossierAmend     amend;
		Budget__DossierShow      show;
		Budget__DeminimisDeclare declare;
		Budget__CompanyAdd       company;
	} u;
	Budget__Cents cents;
	char          rid[FX_ID_SZ];
	char          id[FX_ID_SZ];
	char          company[FX_RID_SZ];
	char          contract[FX_ID_SZ];
	char          text[FX_ID_SZ];
};

/*
 * dossier reserve ID --company COMPANY --contract CONTRACT --package PKG
 * --cost (cents) [--ttl ttl seconds; 0: the daemon's default], today,
 * under request id rid.
 */
void fx_reserve(struct fx_req *r, const char *rid, const char *id,
    const char *company, const char *contract, const char *package,
    int64_t cost_cents, int64_t ttl);

/* dossier approve ID (today). */
void fx_approve(struct fx_req *r, const char *rid, const char *id);

/* dossier amend ID [--package PKG (NULL: none)] --cost (cents) [--ttl]. */
void fx_amend(struct fx_req *r, const char *rid, const char *id,
    const char *package, int64_t cost, int64_t ttl);

/* dossier show ID (a read: no request id needed). */
void fx_show(struct fx_req *r, const char *id);

/* deminimis declare NUMBER --amount (cents) --granted DATE. */
void fx_declare_req(struct fx_req *r, const char *rid, const char *number,
    int64_t amount_cents, const char *granted);

/* company add of the serial-th number. */
void fx_company_req(struct fx_req *r, const char *rid, unsigned serial);

/*
 * The request as one whole frame (header included) in a new buffer;
 * free() it.
 */
uint8_t *fx_frame(const Budget__Request *req, size_t *lenp);

/*
 * The next whole answer in buf[*off, len), unpacked (free it), *off moved
 * past it; NULL while the buffer holds no whole frame yet. Fails the test
 * on a frame that is empty, longer than max, or not a Response.
 */
Budget__Response *
fx_next_answer(const uint8_t *buf, size_t len, size_t *off, size_t max);

/*
 * The next number of a reproducible sequence (xorshift64*): tests that
 * choose at random print their seed, and the same seed runs them again.
 * *state must not be 0.
 */
uint64_t fx_rand(uint64_t *state);

/*
 * The environment variable name as a number from 1 to 1000, or dflt when
 * it is unset or empty; fails the test when it is anything else.
 */
unsigned fx_env_unsigned(const char *name, unsigned dflt);

/* The error code of a Response, or NULL when it is a result. */
const char *fx_err(const Budget__Response *r);

/*
 * Send the n requests on fd and read their n answers into out[] (free
 * each with budget__response__free_unpacked), FX_PIPELINE_CHUNK at a
 * time so that neither side's buffers fill. Fails the test if an answer
 * is missing or echoes another request id.
 */
void fx_pipeline(
    int fd, Budget__Request *const reqs[], size_t n, Budget__Response *out[]);

/* One request, one answer. */
Budget__Response *fx_call(int fd, const Budget__Request *req);

/*
 * Two Responses are the same answer: the same bytes once both are packed
 * with replayed cleared.
 */
int fx_same_answer(const Budget__Response *a, const Budget__Response *b);

#endif /* BUDGET_FIXTURE_H */
