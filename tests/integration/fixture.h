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

#include <signal.h>
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

/*
 * h_daemon_up(config) with the shipped rules loaded: the ground the
 * write-path tests build on. The daemon goes in *state too, for
 * h_teardown to stop and check even when the test fails half-way.
 */
struct h_daemon *fx_daemon_up(void **state, const char *config);

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
 * The builders below and ops.c's ops_step (every other dossier step) all
 * fill this one struct, so that one frame codec and one pipeline serve
 * every test.
 */
struct fx_req {
	Budget__Request req;
	union {
		Budget__DossierReserve   reserve;
		Budget__DossierApprove   approve;
		Budget__DossierAmend     amend;
		Budget__DossierCancel    cancel;
		Budget__DossierWithdraw  withdraw;
		Budget__DossierPay       pay;
		Budget__DossierComplete  complete;
		Budget__DossierClose     close;
		Budget__DossierShow      show;
		Budget__StatusRequest    status;
		Budget__DeminimisDeclare declare;
		Budget__CompanyAdd       company;
		Budget__BatchRequest     batch;
	} u;
	Budget__Cents cents;
	char          rid[FX_ID_SZ];
	char          id[FX_ID_SZ];
	char          company[FX_RID_SZ];
	char          contract[FX_ID_SZ];
	char          text[FX_ID_SZ];
};

/*
 * Start r afresh as a Request of this protocol version under request id
 * rid (NULL: none); the builders then set its command.
 */
void fx_req_init(struct fx_req *r, const char *rid);

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

/*
 * dossier amend ID [--package PKG (NULL: none)] --extension-cost (the new
 * total, cents) [--ttl]: an extension. (A new base cost comes only with
 * an upgrade.)
 */
void fx_amend(struct fx_req *r, const char *rid, const char *id,
    const char *package, int64_t extension_cost, int64_t ttl);

/* dossier show ID (a read: no request id needed). */
void fx_show(struct fx_req *r, const char *id);

/* deminimis declare NUMBER --amount (cents) --granted DATE. */
void fx_declare_req(struct fx_req *r, const char *rid, const char *number,
    int64_t amount_cents, const char *granted);

/* company add of the serial-th number. */
void fx_company_req(struct fx_req *r, const char *rid, unsigned serial);

/* r as a batch of ops[0 .. n) (borrowed) under request id rid. */
void fx_batch_req(
    struct fx_req *r, const char *rid, Budget__Request **ops, size_t n);

/*
 * ops[0 .. n) as company adds of companies first ... first + n - 1, under
 * request ids rid.0 ...; ptrs[i] is ops[i]'s Request, for fx_batch_req.
 */
void fx_company_reqs(struct fx_req *ops, Budget__Request **ptrs, size_t n,
    const char *rid, unsigned first);

/*
 * The request as one whole frame (header included) in a new buffer;
 * free() it.
 */
uint8_t *fx_frame(const Budget__Request *req, size_t *lenp);

/* The request as one frame, in one write. */
void fx_send_frame(int fd, const Budget__Request *req);

/* Every request of reqs[0 .. n) as frames, in one write. */
void fx_send_frames(int fd, Budget__Request *const reqs[], size_t n);

/* A verify request, v its arguments. */
void fx_verify_req(Budget__Request *req, Budget__VerifyRequest *v);

/*
 * The next n answers on fd are verifies, each ok and seeing at least the
 * entries the one before saw (from, for the first); *at_from, unless
 * NULL, counts those that saw exactly from. Returns what the last saw.
 */
int64_t fx_expect_verifies(int fd, int n, int64_t from, int *at_from);

/*
 * Add opt ("name=value") to ASAN_OPTIONS for every daemon and program
 * started from now on; builds without the sanitizer ignore it.
 */
void fx_asan_option(const char *opt);

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

/*
 * The seed of a reproducible sequence: $name as a number when set, else
 * one from the time and pid; never 0 (fx_rand's state must not be).
 */
uint64_t fx_seed(const char *name);

/* ------------------------------------------------------------------ */
/* A stream of reservations on many connections, cut short            */

/*
 * Bytes of answers buffered per connection of a stream: far more than a
 * window of requests in flight gets back.
 */
#define FX_STREAM_BUF   65536
/* The most connections one stream polls. */
#define FX_STREAM_CONNS 64

/* One request of a stream and what became of it. */
struct fx_op {
	struct fx_req     r;
	int               sent;   /* tried: it may have reached the daemon */
	Budget__Response *answer; /* its first answer, NULL: none yet */
	int               exists; /* its dossier was there after a restart */
};

/*
 * One connection of a stream: ops[first ..] in order, a window of them in
 * flight, and the input not parsed yet.
 */
struct fx_sconn {
	int     fd;
	size_t  first;  /* index of its first op */
	size_t  nsent;  /* ops sent */
	size_t  nacked; /* answers read */
	uint8_t buf[FX_STREAM_BUF];
	size_t  len;    /* bytes in buf */
	int     ready;  /* the last fx_sconns_poll saw input or a close */
	int     closed; /* EOF or reset seen: polled no more */
};

/* Fails the test unless a is a right first answer to r. */
typedef void (*fx_check)(const struct fx_req *r, const Budget__Response *a);

/*
 * n reservations: ops[i] is dossier reserve ID_PREFIX-i --company (the
 * serial i + 1) --contract CONTRACT --package START --cost (cents), under
 * request id RID_PREFIX-i; nothing sent yet. Free with fx_ops_free.
 */
struct fx_op *fx_ops_reserve(size_t n, const char *id_prefix,
    const char *rid_prefix, const char *contract, int64_t cost);

/* Free ops[0 .. n) and the answers they hold; NULL is fine. */
void fx_ops_free(struct fx_op *ops, size_t n);

/*
 * n connections to d, already served, the i-th for ops first + i * per
 * onwards. Close and free with fx_sconns_close.
 */
struct fx_sconn *
fx_sconns_open(const struct h_daemon *d, size_t n, size_t first, size_t per);
void fx_sconns_close(struct fx_sconn *cs, size_t n);

/*
 * Send c's next op of ops; it counts as sent even when the send fails,
 * since it may have reached the daemon. A failed send fails the test
 * unless *gone (the daemon was told to go, or killed), read after the
 * send: a signal handler may kill the daemon while the frame is built.
 */
void fx_sconn_send(
    struct fx_sconn *c, struct fx_op *ops, const volatile sig_atomic_t *gone);

/*
 * Wait up to ms for input on the connections not closed, marking each
 * ready or not. Returns how many are ready (0 on EINTR).
 */
size_t fx_sconns_poll(struct fx_sconn *cs, size_t n, int ms);

/* Read what is there into c->buf. 0: EOF or reset (the daemon is gone). */
int fx_sconn_read(struct fx_sconn *c);

/*
 * Parse the whole answers buffered on c: each is the first answer of the
 * connection's next op, never marked replayed, and must pass check; it
 * is kept in the op. Returns how many.
 */
size_t fx_sconn_parse(struct fx_sconn *c, struct fx_op *ops, fx_check check);

/*
 * After a restart: each op of ops[0 .. n) is where it should be. A
 * dossier exists only if its request was sent, is "reserved" and passes
 * shown (NULL: nothing more to check); an acknowledged op's dossier
 * exists exactly when its answer was no refusal. Then every op sent is
 * sent again: an acknowledged one must replay its answer; one never
 * acknowledged must replay when its dossier exists and be applied now
 * (passing check) when not, and keeps that answer. Returns how many
 * dossiers exist.
 */
size_t fx_ops_recheck(const struct h_daemon *d, struct fx_op *ops, size_t n,
    fx_check check, fx_check shown);

#endif /* BUDGET_FIXTURE_H */
