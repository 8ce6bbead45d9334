/*
 * budget-bench.c: the benchmark of budgetd (issue #6). Owns the load it
 * puts on the daemon, the figures it reports, and the checks that the
 * daemon kept its word under that load:
 *
 *  - the data shape of the programme (--setup): the rules, 18 contracts,
 *    N companies with valid enterprise numbers, one in fifty controlled by
 *    its neighbour (single undertakings), one in ten with declared
 *    de-minimis aid, all of it loaded in batches;
 *  - the load: one thread, libevent, N Unix-socket connections, each with
 *    --depth requests in flight, each request one op or a BatchRequest of
 *    --batch ops, in one of the mixes (reserve, cycle, flow, read, mixed);
 *  - the figures: ops and requests per second, latency per request (send
 *    to answer, CLOCK_MONOTONIC) at p50/p99/p99.9, the machine's load, the
 *    daemon's memory and the CPU both sides used;
 *  - the verification: every acknowledged dossier is in the ledger in the
 *    state we expect, every contract's totals moved by exactly what was
 *    acknowledged, and the daemon's own verify passes; then the run's
 *    reservations are cancelled so that its companies can be used again.
 *
 * Answers on the hot path are not unpacked by protobuf-c: a small scanner
 * reads just the request id, the error code and a batch's results, so that
 * what is measured is the daemon and not this client. Requests are packed
 * by protobuf-c from one set of scratch structures, reused for every
 * request (the loop is single-threaded and a request is packed at once).
 *
 * Runs repeat on the same ledger: ids carry a run id (the time), setup's
 * requests have fixed ids and count what is there already as done, and a
 * run cancels what it left reserved. Approvals (flow, mixed) exclude their
 * companies from a new trajectory for four years, so a later run starts
 * past them: --first-company, from the next_company a run prints.
 *
 * Exit status: 0 all good; 1 the daemon refused an op, or a check failed;
 * 2 usage; 3 the daemon could not be reached or broke the protocol.
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/utsname.h>

#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <jansson.h>

#include "bench-proc.h"
#include "budget.pb-c.h"
#include "budget/date.h"
#include "budget/errors.h"
#include "budget/money.h"
#include "budget/protocol.h"
#include "budget/rid.h"

#define BENCH_EXIT_OK     0
#define BENCH_EXIT_FAILED 1
#define BENCH_EXIT_USAGE  2
#define BENCH_EXIT_IO     3

#define BENCH_STR(s) ((char *)(uintptr_t)(s))

/* Ops in one BatchRequest: the daemon's limit. */
#define BENCH_BATCH_MAX     8190
#define BENCH_CONTRACTS_MAX 99
/* Enterprise numbers are 1xxxxxxxcc: ten million of them. */
#define BENCH_COMPANIES_MAX 9999999u
/*
 * Setup and clean-up: connections, requests in flight, ops per request.
 * At most 8192 ops wait in the daemon at once: it runs everything that
 * waits in one write transaction, and LMDB keeps the largest such
 * transaction's dirty pages allocated for good (its free list of pages),
 * which would show as the daemon's memory in the runs that follow.
 */
#define BENCH_BULK_CONNS    2
#define BENCH_BULK_DEPTH    1
#define BENCH_BULK_BATCH    4096
#define BENCH_CHECK_CONNS   8
#define BENCH_CHECK_DEPTH   64
/* What each dossier asks: START at EUR 10,000, so EUR 5,000 at 50%. */
#define BENCH_COST          INT64_C(1000000)
#define BENCH_SUBSIDY       (BENCH_COST / 2)
/* What the flow pays of it. */
#define BENCH_PAY           INT64_C(200000)
/* Company i with i % BENCH_LINK_EVERY == 1 is controlled by company i-1. */
#define BENCH_LINK_EVERY    50
/* Company i with i % BENCH_AID_EVERY == 0 declared other de-minimis aid. */
#define BENCH_AID_EVERY     10
/* After the run, the answers still owed must come within this. */
#define BENCH_DRAIN_SECS    120
/* Refusal messages shown before we only count them. */
#define BENCH_SHOW_MAX      10
/* Answer frames up to this; a batch's answer is larger than its request. */
#define BENCH_ANSWER_MAX    BUDGET_FRAME_MAX_LIMIT

#define BENCH_RID_SZ 64 /* request ids: at most 64 bytes */
#define BENCH_ID_SZ  48 /* dossier ids */
#define BENCH_NUM_SZ 24 /* enterprise numbers, with room to spare */

#ifndef BENCH_RULES_DEFAULT
#define BENCH_RULES_DEFAULT "rules/vlaio-cybersecurity.rules"
#endif

/* One kind of op, as counted and reported. */
enum op_kind {
	OP_RESERVE,
	OP_APPROVE,
	OP_PAY,
	OP_CANCEL,
	OP_CONTRACT_SHOW,
	OP_DOSSIER_SHOW,
	OP_DEMINIMIS_SHOW,
	OP_COMPANY_SHOW,
	OP_CONTRACT_OPEN,
	OP_COMPANY_ADD,
	OP_COMPANY_LINK,
	OP_DEMINIMIS_DECLARE,
	OP__COUNT
};

static const char *op_names[OP__COUNT] = {
    [OP_RESERVE] = "reserve",
    [OP_APPROVE] = "approve",
    [OP_PAY] = "pay",
    [OP_CANCEL] = "cancel",
    [OP_CONTRACT_SHOW] = "contract_show",
    [OP_DOSSIER_SHOW] = "dossier_show",
    [OP_DEMINIMIS_SHOW] = "deminimis_show",
    [OP_COMPANY_SHOW] = "company_show",
    [OP_CONTRACT_OPEN] = "contract_open",
    [OP_COMPANY_ADD] = "company_add",
    [OP_COMPANY_LINK] = "company_link",
    [OP_DEMINIMIS_DECLARE] = "deminimis_declare",
};

/* The load: which chains of ops a slot runs. */
enum mix {
	MIX_RESERVE, /* reserve a new dossier for an unused company */
	MIX_CYCLE,   /* reserve, then cancel it: companies come back */
	MIX_FLOW,    /* reserve, approve, pay a part */
	MIX_READ,    /* contract, dossier, de-minimis and company reads */
	MIX_MIXED,   /* 70% reserve, 10% flow, 20% reads (by chain) */
};

static const char *mix_names[] = {
    [MIX_RESERVE] = "reserve",
    [MIX_CYCLE] = "cycle",
    [MIX_FLOW] = "flow",
    [MIX_READ] = "read",
    [MIX_MIXED] = "mixed",
};

/* What a slot is doing: one chain of dependent requests. */
enum task {
	TASK_NONE,    /* idle: start a new chain */
	TASK_RESERVE, /* reserve */
	TASK_CYCLE,   /* reserve, cancel */
	TASK_FLOW,    /* reserve, approve, pay */
	TASK_READ,    /* one read */
};

static const enum op_kind task_steps[][3] = {
    [TASK_RESERVE] = {OP_RESERVE},
    [TASK_CYCLE] = {OP_RESERVE, OP_CANCEL},
    [TASK_FLOW] = {OP_RESERVE, OP_APPROVE, OP_PAY},
};
static const unsigned task_nsteps[] = {
    [TASK_NONE] = 0,
    [TASK_RESERVE] = 1,
    [TASK_CYCLE] = 2,
    [TASK_FLOW] = 3,
    [TASK_READ] = 1,
};

/* What a timer of the load marks. */
enum bench_timer {
	BENCH_T_WARM,     /* the warm-up is over: the window opens */
	BENCH_T_END,      /* the window closes: no new requests */
	BENCH_T_DEADLINE, /* the answers still owed are overdue */
};

/* A dossier this run asked for; its index is the dossier's number. */
enum drec_state {
	DR_NONE,      /* asked for, not (yet) acknowledged */
	DR_RESERVED,  /* reservation acknowledged */
	DR_CANCELLED, /* and its cancellation */
	DR_APPROVED,  /* and its approval */
	DR_PAID,      /* and the payment */
};

static const char *drec_state_names[] = {
    [DR_NONE] = "none",
    [DR_RESERVED] = "reserved",
    [DR_CANCELLED] = "cancelled",
    [DR_APPROVED] = "approved",
    [DR_PAID] = "approved", /* paid in part: still approved */
};

struct drec {
	uint32_t company;  /* index of the company */
	uint8_t  contract; /* 0-based contract index */
	uint8_t  state;    /* enum drec_state */
};

/* Latencies of one kind of request, in microseconds. */
struct lat {
	uint32_t *v;
	size_t    n;
	size_t    cap;
};

/* Everything counted about one kind of op. */
struct op_stats {
	uint64_t   ok;        /* acknowledged, any time */
	uint64_t   ok_window; /* acknowledged inside the measured window */
	uint64_t   accepted;  /* setup: was there already (fine) */
	uint64_t   refused;   /* any error */
	uint64_t   err[BUDGET_ERR__COUNT + 1]; /* by code; last: unknown */
	uint64_t   req_window; /* requests (led by this op) in the window */
	struct lat lat;        /* their latencies */
};

/* One company (setup) or one dossier (load) of a request in flight. */
struct unit {
	uint32_t rec;   /* dossier record, or company index in setup */
	uint8_t  alive; /* the chain goes on for it */
	uint8_t  kind;  /* enum op_kind, where a request mixes kinds */
};

struct conn;

/* One request in flight on a connection, and the chain it belongs to. */
struct slot {
	struct conn *conn;
	enum task    task;
	unsigned     step;   /* index into task_steps */
	unsigned     nunits; /* companies or dossiers of the chain */
	struct unit *units;  /* room for the batch size */
	enum op_kind kind;   /* of the request in flight */
	unsigned     nops;   /* ops in it */
	int          batched;
	uint64_t     sent; /* monotonic microseconds */
	uint32_t     arg;  /* a read: what it reads */
	char         rid[BENCH_RID_SZ];
};

struct conn {
	unsigned            id;
	struct bufferevent *bev;
	struct slot        *slots; /* depth of them */
	struct slot       **fifo;  /* in flight, oldest first */
	unsigned            head;
	unsigned            n;
};

/* A phase of work: what to send next on a slot, what to do with answers. */
struct driver {
	const char *name;
	/* Queue the slot's next request; 0 when there is nothing to send. */
	int (*fill)(struct slot *);
	void (*answer)(struct slot *, const uint8_t *, size_t, uint64_t);
};

/* Scratch for packing one op (the loop packs one request at a time). */
union op_sub {
	Budget__DossierReserve   reserve;
	Budget__DossierApprove   approve;
	Budget__DossierPay       pay;
	Budget__DossierCancel    cancel;
	Budget__DossierShow      dossier_show;
	Budget__ContractShow     contract_show;
	Budget__DeminimisShow    deminimis_show;
	Budget__CompanyShow      company_show;
	Budget__CompanyAdd       company_add;
	Budget__CompanyLink      company_link;
	Budget__DeminimisDeclare deminimis_declare;
};

struct op_buf {
	Budget__Request req;
	union op_sub    sub;
	char            rid[BENCH_RID_SZ];
	char            id[BENCH_ID_SZ];
	char            num[BENCH_NUM_SZ];
	char            num2[BENCH_NUM_SZ];
	char            text[48];
	char            pc[8];
	char            date[DATE_BUFSZ + 8];
};

/* A scanned Response: slices into the frame, nothing copied. */
struct reply {
	const uint8_t *rid;
	size_t         ridlen;
	const uint8_t *code; /* NULL: no error */
	size_t         codelen;
	const uint8_t *msg;
	size_t         msglen;
	int            replayed;
	unsigned       result; /* field number of the result, 0: none */
	const uint8_t *res;
	size_t         reslen;
};

/* Reading protobuf fields off a slice. */
struct pb {
	const uint8_t *p;
	const uint8_t *end;
};

struct status_snap {
	uint64_t seq;
	uint64_t map_used;
	uint64_t map_size;
	unsigned conns;
};

struct contract_snap {
	int64_t reserved;
	int64_t committed;
	int64_t paid;
};

struct mem_snap {
	long rss; /* KiB; -1 when unknown */
	long anon;
	long hwm;
};

static struct {
	const char *socket;
	unsigned    conns;
	unsigned    depth;
	unsigned    batch;
	double      duration;
	double      warmup;
	enum mix    mix;
	unsigned    companies;
	unsigned    first_company;
	unsigned    contracts;
	int         setup;
	int         setup_only;
	int         verify;
	int         keep;
	int         json;
	int         prefixed_ids;
	int         daemon_verify;
	uint64_t    seed;
	const char *rules;
} opt = {
    .conns = 64,
    .depth = 1,
    .batch = 1,
    .duration = 10,
    .warmup = 2,
    .mix = MIX_RESERVE,
    .companies = 100000,
    .contracts = 18,
    .verify = 1,
    .daemon_verify = 1,
    .seed = 1,
    .rules = BENCH_RULES_DEFAULT,
};

/* The connections of the phase that runs, and the loop. */
static struct {
	struct event_base   *base;
	const struct driver *drv;
	struct conn         *v;
	unsigned             n;
	unsigned             depth;
	unsigned             batch;
	uint64_t             inflight;
	unsigned             next_id;
} eng;

/* The state of the load and what it counted. */
static struct {
	char            runid[24];
	uint64_t        rng;
	int32_t         today;
	uint64_t        t0;     /* load starts */
	uint64_t        t_meas; /* measured window starts */
	uint64_t        t_end;  /* and ends */
	int             stopping;
	int             measuring;
	int             ran_out; /* no unused company was left */
	uint64_t        batch_seq;
	struct op_stats st[OP__COUNT];
	unsigned        shown;
	uint64_t        replayed;
	/* the dossiers */
	struct drec *rec;
	size_t       nrec;
	size_t       caprec;
	uint64_t     nacked;
	/* what the contracts should have moved by */
	struct contract_snap delta[BENCH_CONTRACTS_MAX];
	uint32_t             next_contract;
	/* unused companies, first in first out */
	uint32_t *pool;
	size_t    pool_cap;
	size_t    pool_head;
	size_t    pool_n;
	uint32_t  company_hw; /* highest company index taken, plus one */
	/* CPU used (and waited for) in the window, both sides */
	struct bench_cpu client0, client1;
	struct bench_cpu daemon0, daemon1;
	/* cursors of the bulk phases */
	size_t cursor;
	size_t cursor_end;
	/* verification */
	uint64_t checked;
	uint64_t mismatched;
	uint64_t released;
} run;

static struct op_buf    *opb;
static Budget__Request **opp;
static int               sync_fd = -1;
static const char       *sync_what = "a request"; /* for messages */
static pid_t             daemon_pid = -1;
static int               failed;

static void usage(void) __attribute__((noreturn));
static void bench_fatalx(int, const char *, ...)
    __attribute__((format(printf, 2, 3), noreturn));
static uint64_t mix64(uint64_t);
static uint64_t rng_next(void);
static void     company_number(uint32_t, char *, size_t);
static int      company_is_child(uint32_t);
static void     clip(const uint8_t *, size_t, char *, size_t);

static int pb_varint(struct pb *, uint64_t *);
static int
pb_field(struct pb *, unsigned *, uint64_t *, const uint8_t **, size_t *);
static int  reply_scan(const uint8_t *, size_t, struct reply *);
static int  reply_code_is(const struct reply *, enum budget_err);
static void reply_expect(const struct slot *, const struct reply *);
static void reply_count(enum op_kind, const struct reply *, int);

static int              bench_connect(void);
static void             conns_open(unsigned, unsigned, unsigned);
static void             conns_close(void);
static void             conns_run(const struct driver *);
static void             conn_read_cb(struct bufferevent *, void *);
static void             conn_event_cb(struct bufferevent *, short, void *);
static void             slot_send(struct slot *, enum op_kind, unsigned, int);
static Budget__Request *op_init(unsigned, enum op_kind, const char *);
static void             lat_add(struct lat *, uint64_t);

static int  bulk_send(struct slot *, enum op_kind, unsigned);
static void bulk_answer(struct slot *, const uint8_t *, size_t, const char *,
    struct reply *, struct pb *);
static int  bulk_next(
     struct pb *, const struct slot *, unsigned, struct reply *, const char *);

static Budget__Response *sync_call(Budget__Request *);
static void              sync_status(struct status_snap *);
static void              sync_contracts(struct contract_snap *);
static int               sync_verify(json_t *);
static void              mem_read(struct mem_snap *);

static void setup_run(void);
static int  setup_fill_companies(struct slot *);
static int  setup_fill_links(struct slot *);
static void setup_answer(struct slot *, const uint8_t *, size_t, uint64_t);

static void rec_grow(void);
static int  pool_take(uint32_t *);
static void pool_put(uint32_t);
static void dossier_id(uint32_t, char *, size_t);
static int  load_fill(struct slot *);
static void load_answer(struct slot *, const uint8_t *, size_t, uint64_t);
static void
load_op_done(struct slot *, struct unit *, const struct reply *, int);
static void load_timer_cb(evutil_socket_t, short, void *);
static void load_stop(uint64_t);

static int  check_fill(struct slot *);
static void check_answer(struct slot *, const uint8_t *, size_t, uint64_t);
static int  release_fill(struct slot *);
static void release_answer(struct slot *, const uint8_t *, size_t, uint64_t);

static void   report_conditions(FILE *);
static void   report_loadavg(char *, size_t, double[3]);
static int    lat_cmp(const void *, const void *);
static double lat_pct(const struct lat *, double);
static void   mem_print(const char *, const struct mem_snap *);

static void
usage(void)
{
	fprintf(stderr,
	    "usage: budget-bench [-s socket] [--connections N] [--depth D] "
	    "[--batch B]\n"
	    "           [--duration SECS] [--warmup SECS] "
	    "[--mix reserve|cycle|flow|read|mixed]\n"
	    "           [--companies N] [--first-company K] [--contracts N] "
	    "[--seed N]\n"
	    "           [--setup | --setup-only] [--rules FILE] [--no-verify] "
	    "[--no-daemon-verify]\n"
	    "           [--keep] [--prefixed-ids] [--json]\n");
	exit(BENCH_EXIT_USAGE);
}

static void
bench_fatalx(int status, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "budget-bench: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(status);
}

static uint64_t
mix64(uint64_t z)
{
	z += UINT64_C(0x9e3779b97f4a7c15);
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return (z ^ (z >> 31));
}

static uint64_t
rng_next(void)
{
	run.rng += UINT64_C(0x9e3779b97f4a7c15);
	return (mix64(run.rng));
}

/*
 * Company i's enterprise number: first eight digits 10000000 + i, then the
 * mod-97 check digits (R-ID), so 1000000092 for company 0.
 */
static void
company_number(uint32_t i, char *out, size_t len)
{
	unsigned long first8 = 10000000ul + i;

	snprintf(out, len, "%08lu%02lu", first8, 97 - first8 % 97);
}

/* Controlled by company i - 1 from 2020 on: never reserved for itself. */
static int
company_is_child(uint32_t i)
{
	return (i % BENCH_LINK_EVERY == 1);
}

/* Bytes from the daemon, made safe for a terminal. */
static void
clip(const uint8_t *p, size_t n, char *out, size_t len)
{
	size_t i, o = 0;

	for (i = 0; i < n && o + 1 < len; i++)
		out[o++] = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '?';
	out[o] = '\0';
}

/* ---- reading answers without unpacking them ------------------------- */

static int
pb_varint(struct pb *b, uint64_t *v)
{
	unsigned shift = 0;

	*v = 0;
	while (b->p < b->end && shift < 64) {
		uint8_t c = *b->p++;

		*v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			return (0);
		shift += 7;
	}
	return (-1);
}

/*
 * The next field: its number, and its value (varint) or its bytes
 * (length-delimited). Returns 1, 0 at the end, -1 when malformed. Fixed
 * width fields are skipped over but reported.
 */
static int
pb_field(struct pb *b, unsigned *field, uint64_t *v, const uint8_t **data,
    size_t *len)
{
	uint64_t key, n;

	if (b->p >= b->end)
		return (0);
	if (pb_varint(b, &key) == -1)
		return (-1);
	*field = (unsigned)(key >> 3);
	*v = 0;
	*data = NULL;
	*len = 0;
	switch (key & 7) {
	case 0:
		return (pb_varint(b, v) == -1 ? -1 : 1);
	case 1:
		if (b->end - b->p < 8)
			return (-1);
		b->p += 8;
		return (1);
	case 2:
		if (pb_varint(b, &n) == -1 || n > (uint64_t)(b->end - b->p))
			return (-1);
		*data = b->p;
		*len = (size_t)n;
		b->p += n;
		return (1);
	case 5:
		if (b->end - b->p < 4)
			return (-1);
		b->p += 4;
		return (1);
	default:
		return (-1);
	}
}

/* A Response: request id, error code and message, replayed, the result. */
static int
reply_scan(const uint8_t *p, size_t n, struct reply *r)
{
	struct pb      b = {p, p + n}, e;
	const uint8_t *d;
	size_t         len;
	uint64_t       v;
	unsigned       f;
	int            rc;

	memset(r, 0, sizeof(*r));
	while ((rc = pb_field(&b, &f, &v, &d, &len)) == 1) {
		if (f == 1 && d != NULL) {
			r->rid = d;
			r->ridlen = len;
		} else if (f == 2 && d != NULL) {
			e.p = d;
			e.end = d + len;
			r->code = (const uint8_t *)"";
			while ((rc = pb_field(&e, &f, &v, &d, &len)) == 1) {
				if (f == 1 && d != NULL) {
					r->code = d;
					r->codelen = len;
				} else if (f == 2 && d != NULL) {
					r->msg = d;
					r->msglen = len;
				}
			}
			if (rc == -1)
				return (-1);
		} else if (f == 3)
			r->replayed = v != 0;
		else if (f >= 16 && d != NULL) {
			r->result = f;
			r->res = d;
			r->reslen = len;
		}
	}
	return (rc);
}

static int
reply_code_is(const struct reply *r, enum budget_err code)
{
	const char *s = budget_err_code(code);

	return (r->code != NULL && r->codelen == strlen(s) &&
	    memcmp(r->code, s, r->codelen) == 0);
}

/*
 * The answer must echo the request id of the oldest request in flight on
 * its connection; anything else is an answer to something we did not ask
 * (a connection refused, say), and the stream cannot be trusted.
 */
static void
reply_expect(const struct slot *s, const struct reply *r)
{
	char code[64], msg[256];

	if (r->ridlen == strlen(s->rid) &&
	    memcmp(r->rid, s->rid, r->ridlen) == 0)
		return;
	if (r->code != NULL) {
		clip(r->code, r->codelen, code, sizeof(code));
		clip(r->msg, r->msglen, msg, sizeof(msg));
		bench_fatalx(BENCH_EXIT_IO, "conn %u: budgetd says %s: %s",
		    s->conn->id, code, msg);
	}
	bench_fatalx(BENCH_EXIT_IO,
	    "conn %u: an answer to another request than %s", s->conn->id,
	    s->rid);
}

/* Count a refusal of an op of this kind, and show the first few. */
static void
reply_count(enum op_kind kind, const struct reply *r, int fail)
{
	char code[64], msg[256];
	int  e;

	clip(r->code, r->codelen, code, sizeof(code));
	e = budget_err_from_code(code);
	run.st[kind].refused++;
	run.st[kind].err[e < 0 ? BUDGET_ERR__COUNT : e]++;
	if (fail)
		failed = 1;
	if (run.shown++ < BENCH_SHOW_MAX) {
		clip(r->msg, r->msglen, msg, sizeof(msg));
		fprintf(stderr, "budget-bench: %s refused: %s: %s\n",
		    op_names[kind], code, msg);
	}
}

/* ---- connections and the loop --------------------------------------- */

static int
bench_connect(void)
{
	struct sockaddr_un sun;
	int                fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(opt.socket) >= sizeof(sun.sun_path))
		bench_fatalx(
		    BENCH_EXIT_USAGE, "%s: socket path too long", opt.socket);
	memcpy(sun.sun_path, opt.socket, strlen(opt.socket) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		bench_fatalx(BENCH_EXIT_IO, "socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		bench_fatalx(BENCH_EXIT_IO, "cannot reach budgetd at %s: %s",
		    opt.socket, strerror(errno));
	return (fd);
}

/* n connections with depth slots each, for requests of up to batch ops. */
static void
conns_open(unsigned n, unsigned depth, unsigned batch)
{
	struct conn *c;
	unsigned     i, j;
	int          fd;

	eng.v = calloc(n, sizeof(*eng.v));
	if (eng.v == NULL)
		bench_fatalx(BENCH_EXIT_IO, "out of memory");
	eng.n = n;
	eng.depth = depth;
	eng.batch = batch;
	eng.inflight = 0;
	for (i = 0; i < n; i++) {
		c = &eng.v[i];
		c->id = ++eng.next_id;
		fd = bench_connect();
		if (evutil_make_socket_nonblocking(fd) == -1)
			bench_fatalx(
			    BENCH_EXIT_IO, "nonblocking: %s", strerror(errno));
		c->bev =
		    bufferevent_socket_new(eng.base, fd, BEV_OPT_CLOSE_ON_FREE);
		if (c->bev == NULL)
			bench_fatalx(BENCH_EXIT_IO, "bufferevent_socket_new");
		/* Batches answer in large frames: read them in large bites. */
		if (batch > 1)
			bufferevent_set_max_single_read(c->bev, 256 * 1024);
		bufferevent_setcb(c->bev, conn_read_cb, NULL, conn_event_cb, c);
		bufferevent_enable(c->bev, EV_READ | EV_WRITE);
		c->slots = calloc(depth, sizeof(*c->slots));
		c->fifo = calloc(depth, sizeof(*c->fifo));
		if (c->slots == NULL || c->fifo == NULL)
			bench_fatalx(BENCH_EXIT_IO, "out of memory");
		for (j = 0; j < depth; j++) {
			c->slots[j].conn = c;
			c->slots[j].units =
			    calloc(batch, sizeof(*c->slots[j].units));
			if (c->slots[j].units == NULL)
				bench_fatalx(BENCH_EXIT_IO, "out of memory");
		}
	}
}

static void
conns_close(void)
{
	unsigned i, j;

	for (i = 0; i < eng.n; i++) {
		for (j = 0; j < eng.depth; j++)
			free(eng.v[i].slots[j].units);
		free(eng.v[i].slots);
		free(eng.v[i].fifo);
		bufferevent_free(eng.v[i].bev);
	}
	free(eng.v);
	eng.v = NULL;
	eng.n = 0;
}

/* Fill every slot, then run the loop until nothing is in flight. */
static void
conns_run(const struct driver *drv)
{
	unsigned i, j;

	eng.drv = drv;
	for (j = 0; j < eng.depth; j++) {
		for (i = 0; i < eng.n; i++)
			drv->fill(&eng.v[i].slots[j]);
	}
	if (eng.inflight > 0)
		event_base_dispatch(eng.base);
	eng.drv = NULL;
}

static void
conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct conn     *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct slot     *s;
	struct reply     r;
	uint8_t         *p;
	uint32_t         be;
	size_t           len, n;
	uint64_t         now;
	char             code[64];

	for (;;) {
		len = evbuffer_get_length(in);
		if (len < BUDGET_FRAME_HEADER)
			break;
		evbuffer_copyout(in, &be, sizeof(be));
		n = ntohl(be);
		if (n == 0 || n > BENCH_ANSWER_MAX)
			bench_fatalx(BENCH_EXIT_IO,
			    "conn %u: answer of %zu bytes", c->id, n);
		if (len < BUDGET_FRAME_HEADER + n)
			break;
		evbuffer_drain(in, BUDGET_FRAME_HEADER);
		if ((p = evbuffer_pullup(in, (ev_ssize_t)n)) == NULL)
			bench_fatalx(BENCH_EXIT_IO, "evbuffer_pullup");
		now = bench_mono_us();
		if (c->n == 0) {
			/* Refused at connect (too many connections)? */
			if (reply_scan(p, n, &r) == -1 || r.code == NULL)
				bench_fatalx(BENCH_EXIT_IO,
				    "conn %u: an answer nobody asked for",
				    c->id);
			clip(r.code, r.codelen, code, sizeof(code));
			bench_fatalx(BENCH_EXIT_IO, "conn %u: daemon says %s",
			    c->id, code);
		}
		s = c->fifo[c->head];
		c->head = (c->head + 1) % eng.depth;
		c->n--;
		eng.inflight--;
		eng.drv->answer(s, p, n, now);
		evbuffer_drain(in, n);
		eng.drv->fill(s);
	}
	if (eng.inflight == 0)
		event_base_loopbreak(eng.base);
}

static void
conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;

	(void)bev;
	if (what & BEV_EVENT_EOF)
		bench_fatalx(BENCH_EXIT_IO,
		    "conn %u: the daemon closed the connection", c->id);
	if (what & BEV_EVENT_ERROR)
		bench_fatalx(BENCH_EXIT_IO, "conn %u: %s", c->id,
		    strerror(EVUTIL_SOCKET_ERROR()));
}

/*
 * Start op i of the request being built: a Request with its request id
 * (rid, copied) and the scratch sub-message of the kind, zeroed.
 */
static Budget__Request *
op_init(unsigned i, enum op_kind kind, const char *rid)
{
	struct op_buf   *o = &opb[i];
	Budget__Request *q = &o->req;

	budget__request__init(q);
	q->version = BUDGET_PROTOCOL_VERSION;
	snprintf(o->rid, sizeof(o->rid), "%s", rid);
	q->request_id = o->rid;
	switch (kind) {
	case OP_RESERVE:
		budget__dossier_reserve__init(&o->sub.reserve);
		q->command_case = BUDGET__REQUEST__COMMAND_DOSSIER_RESERVE;
		q->dossier_reserve = &o->sub.reserve;
		break;
	case OP_APPROVE:
		budget__dossier_approve__init(&o->sub.approve);
		q->command_case = BUDGET__REQUEST__COMMAND_DOSSIER_APPROVE;
		q->dossier_approve = &o->sub.approve;
		break;
	case OP_PAY:
		budget__dossier_pay__init(&o->sub.pay);
		q->command_case = BUDGET__REQUEST__COMMAND_DOSSIER_PAY;
		q->dossier_pay = &o->sub.pay;
		break;
	case OP_CANCEL:
		budget__dossier_cancel__init(&o->sub.cancel);
		q->command_case = BUDGET__REQUEST__COMMAND_DOSSIER_CANCEL;
		q->dossier_cancel = &o->sub.cancel;
		break;
	case OP_CONTRACT_SHOW:
		budget__contract_show__init(&o->sub.contract_show);
		q->command_case = BUDGET__REQUEST__COMMAND_CONTRACT_SHOW;
		q->contract_show = &o->sub.contract_show;
		break;
	case OP_DOSSIER_SHOW:
		budget__dossier_show__init(&o->sub.dossier_show);
		q->command_case = BUDGET__REQUEST__COMMAND_DOSSIER_SHOW;
		q->dossier_show = &o->sub.dossier_show;
		break;
	case OP_DEMINIMIS_SHOW:
		budget__deminimis_show__init(&o->sub.deminimis_show);
		q->command_case = BUDGET__REQUEST__COMMAND_DEMINIMIS_SHOW;
		q->deminimis_show = &o->sub.deminimis_show;
		break;
	case OP_COMPANY_SHOW:
		budget__company_show__init(&o->sub.company_show);
		q->command_case = BUDGET__REQUEST__COMMAND_COMPANY_SHOW;
		q->company_show = &o->sub.company_show;
		break;
	case OP_COMPANY_ADD:
		budget__company_add__init(&o->sub.company_add);
		q->command_case = BUDGET__REQUEST__COMMAND_COMPANY_ADD;
		q->company_add = &o->sub.company_add;
		break;
	case OP_COMPANY_LINK:
		budget__company_link__init(&o->sub.company_link);
		q->command_case = BUDGET__REQUEST__COMMAND_COMPANY_LINK;
		q->company_link = &o->sub.company_link;
		break;
	case OP_DEMINIMIS_DECLARE:
		budget__deminimis_declare__init(&o->sub.deminimis_declare);
		q->command_case = BUDGET__REQUEST__COMMAND_DEMINIMIS_DECLARE;
		q->deminimis_declare = &o->sub.deminimis_declare;
		break;
	case OP_CONTRACT_OPEN:
	case OP__COUNT:
		bench_fatalx(BENCH_EXIT_IO, "op_init: %d", (int)kind);
	}
	opp[i] = q;
	return (q);
}

/*
 * Send the n ops built with op_init on slot s: op 0 alone, or all of them
 * in one BatchRequest. The slot joins its connection's queue of requests
 * in flight; answers come back in that order.
 */
static void
slot_send(struct slot *s, enum op_kind kind, unsigned n, int batched)
{
	Budget__Request        env = BUDGET__REQUEST__INIT;
	Budget__BatchRequest   b = BUDGET__BATCH_REQUEST__INIT;
	struct conn           *c = s->conn;
	const Budget__Request *q = opp[0];
	int                    rc;

	if (batched) {
		snprintf(s->rid, sizeof(s->rid), "%s-b%" PRIu64, run.runid,
		    ++run.batch_seq);
		env.version = BUDGET_PROTOCOL_VERSION;
		env.request_id = s->rid;
		env.command_case = BUDGET__REQUEST__COMMAND_BATCH;
		env.batch = &b;
		b.n_ops = n;
		b.ops = opp;
		q = &env;
	} else
		snprintf(s->rid, sizeof(s->rid), "%s", q->request_id);
	s->kind = kind;
	s->nops = n;
	s->batched = batched;
	s->sent = bench_mono_us();
	rc = wire_encode(
	    bufferevent_get_output(c->bev), BUDGET_FRAME_MAX, &q->base);
	if (rc != 0)
		bench_fatalx(
		    BENCH_EXIT_IO, "packing a request of %u ops: %d", n, rc);
	c->fifo[(c->head + c->n) % eng.depth] = s;
	c->n++;
	eng.inflight++;
}

/*
 * The bulk phases (setup, release) fill a slot with up to BENCH_BULK_BATCH
 * ops, send them as one batch and walk its results in order. Send the n
 * ops built; 0 when there were none, so that the phase ends.
 */
static int
bulk_send(struct slot *s, enum op_kind kind, unsigned n)
{
	if (n == 0)
		return (0);
	s->nunits = n;
	slot_send(s, kind, n, 1);
	return (1);
}

/*
 * A bulk batch's answer (p, n), scanned into r, with b on its results.
 * An answer that does not scan, or that answers another request, ends the
 * run (phase names it).
 */
static void
bulk_answer(struct slot *s, const uint8_t *p, size_t n, const char *phase,
    struct reply *r, struct pb *b)
{
	if (reply_scan(p, n, r) == -1)
		bench_fatalx(BENCH_EXIT_IO, "%s: malformed answer", phase);
	reply_expect(s, r);
	b->p = r->res;
	b->end = r->res + r->reslen;
}

/*
 * The result of op i of the batch on s, the next one in b: 1 with it
 * scanned into op, 0 when there is none. Results beyond the batch's ops
 * are passed over; one that does not scan ends the run (malformed says).
 */
static int
bulk_next(struct pb *b, const struct slot *s, unsigned i, struct reply *op,
    const char *malformed)
{
	const uint8_t *d;
	size_t         len;
	uint64_t       v;
	unsigned       f;

	while (pb_field(b, &f, &v, &d, &len) == 1) {
		if (f != 1 || d == NULL || i >= s->nunits)
			continue;
		if (reply_scan(d, len, op) == -1)
			bench_fatalx(BENCH_EXIT_IO, "%s", malformed);
		return (1);
	}
	return (0);
}

static void
lat_add(struct lat *l, uint64_t us)
{
	uint32_t *v;

	if (l->n == l->cap) {
		l->cap = l->cap == 0 ? (size_t)1 << 20 : l->cap * 2;
		if ((v = realloc(l->v, l->cap * sizeof(*v))) == NULL)
			bench_fatalx(BENCH_EXIT_IO, "out of memory");
		l->v = v;
	}
	l->v[l->n++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

/* ---- one blocking connection for the few single calls ---------------- */

static Budget__Response *
sync_call(Budget__Request *req)
{
	ProtobufCMessage *m;
	int               rc;

	req->version = BUDGET_PROTOCOL_VERSION;
	if (wire_write_fd(sync_fd, BUDGET_FRAME_MAX, &req->base) != 0)
		bench_fatalx(
		    BENCH_EXIT_IO, "sending to budgetd: %s", strerror(errno));
	rc = wire_read_fd(
	    sync_fd, BENCH_ANSWER_MAX, &budget__response__descriptor, &m);
	if (rc == WIRE_IO && errno == 0)
		bench_fatalx(BENCH_EXIT_IO,
		    "budgetd closed the connection instead of answering %s%s",
		    sync_what,
		    strcmp(sync_what, "verify") == 0
			? " (budgetd drops an answer that took longer than its "
			  "write_timeout to compute: raise write_timeout)"
			: "");
	if (rc != WIRE_OK)
		bench_fatalx(BENCH_EXIT_IO, "reading from budgetd: %s",
		    rc == WIRE_IO ? strerror(errno) : "protocol error");
	return ((Budget__Response *)m);
}

static void
sync_status(struct status_snap *s)
{
	Budget__Request       req = BUDGET__REQUEST__INIT;
	Budget__StatusRequest st = BUDGET__STATUS_REQUEST__INIT;
	Budget__Response     *resp;

	req.command_case = BUDGET__REQUEST__COMMAND_STATUS;
	req.status = &st;
	resp = sync_call(&req);
	if (resp->error != NULL || resp->status == NULL)
		bench_fatalx(BENCH_EXIT_IO, "status: refused");
	s->seq = resp->status->journal_seq;
	s->map_used = resp->status->map_used;
	s->map_size = resp->status->map_size;
	s->conns = resp->status->connections;
	budget__response__free_unpacked(resp, NULL);
}

static void
sync_contracts(struct contract_snap *k)
{
	Budget__Request      req = BUDGET__REQUEST__INIT;
	Budget__ContractShow cs = BUDGET__CONTRACT_SHOW__INIT;
	Budget__Response    *resp;
	char                 id[32], code[64];
	unsigned             i;

	for (i = 0; i < opt.contracts; i++) {
		snprintf(id, sizeof(id), "BENCH-%02u", i + 1);
		cs.id = id;
		req.command_case = BUDGET__REQUEST__COMMAND_CONTRACT_SHOW;
		req.contract_show = &cs;
		resp = sync_call(&req);
		if (resp->error != NULL || resp->contract == NULL) {
			clip((const uint8_t *)(resp->error != NULL
				     ? resp->error->code
				     : "no contract"),
			    resp->error != NULL ? strlen(resp->error->code)
						: 11,
			    code, sizeof(code));
			bench_fatalx(BENCH_EXIT_FAILED,
			    "contract %s: %s (run with --setup first)", id,
			    code);
		}
		k[i].reserved = resp->contract->reserved_cents;
		k[i].committed = resp->contract->committed_cents;
		k[i].paid = resp->contract->paid_cents;
		budget__response__free_unpacked(resp, NULL);
	}
}

/* The daemon's own verify; 1 when it says ok. Adds what it said to o. */
static int
sync_verify(json_t *o)
{
	Budget__Request       req = BUDGET__REQUEST__INIT;
	Budget__VerifyRequest vr = BUDGET__VERIFY_REQUEST__INIT;
	Budget__Response     *resp;
	uint64_t              t = bench_mono_us();
	double                secs;
	char                  buf[256];
	size_t                i;
	int                   ok;

	req.command_case = BUDGET__REQUEST__COMMAND_VERIFY;
	req.verify = &vr;
	sync_what = "verify";
	resp = sync_call(&req);
	sync_what = "a request";
	secs = (double)(bench_mono_us() - t) / 1e6;
	if (resp->error != NULL || resp->verify == NULL) {
		clip((const uint8_t *)(resp->error != NULL ? resp->error->code
							   : "?"),
		    resp->error != NULL ? strlen(resp->error->code) : 1, buf,
		    sizeof(buf));
		printf("  verify       refused: %s\n", buf);
		budget__response__free_unpacked(resp, NULL);
		json_object_set_new(o, "verify_ok", json_false());
		return (0);
	}
	ok = resp->verify->ok;
	printf("  verify       %s, %" PRIu64 " journal entries, %u contracts, "
	       "%u companies, %u dossiers (%.1f s)\n",
	    ok ? "ok" : "FAILED", resp->verify->entries,
	    resp->verify->contracts, resp->verify->companies,
	    resp->verify->dossiers, secs);
	if (!ok && resp->verify->first_bad_seq != 0)
		printf("  verify       first bad entry: %" PRIu64 "\n",
		    resp->verify->first_bad_seq);
	for (i = 0; i < resp->verify->n_problems && i < BENCH_SHOW_MAX; i++) {
		clip((const uint8_t *)resp->verify->problems[i],
		    strlen(resp->verify->problems[i]), buf, sizeof(buf));
		printf("  verify       problem: %s\n", buf);
	}
	json_object_set_new(o, "verify_ok", json_boolean(ok));
	json_object_set_new(o, "verify_entries",
	    json_integer((json_int_t)resp->verify->entries));
	json_object_set_new(o, "verify_s", json_real(secs));
	budget__response__free_unpacked(resp, NULL);
	return (ok);
}

/* The daemon's memory from /proc/PID/status, in KiB. */
static void
mem_read(struct mem_snap *m)
{
	char  path[64], line[256];
	FILE *fp;
	long  v;

	m->rss = m->anon = m->hwm = -1;
	if (daemon_pid <= 0)
		return;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)daemon_pid);
	if ((fp = fopen(path, "r")) == NULL)
		return;
	while (fgets(line, sizeof(line), fp) != NULL) {
		if (sscanf(line, "VmRSS: %ld kB", &v) == 1)
			m->rss = v;
		else if (sscanf(line, "RssAnon: %ld kB", &v) == 1)
			m->anon = v;
		else if (sscanf(line, "VmHWM: %ld kB", &v) == 1)
			m->hwm = v;
	}
	fclose(fp);
}

/* ---- --setup: the data shape of the programme ----------------------- */

static const struct {
	unsigned lo, hi;
} bench_postcodes[] = {
    {1500, 1999}, /* Vlaams-Brabant */
    {2000, 2999}, /* Antwerpen */
    {3000, 3499}, /* Vlaams-Brabant */
    {3500, 3999}, /* Limburg */
    {8000, 8999}, /* West-Vlaanderen */
    {9000, 9999}, /* Oost-Vlaanderen */
};

/*
 * Rules, contracts (one batch on the blocking connection), then companies,
 * then their links and declared aid (batches over a few connections: a
 * link needs both companies). Request ids are fixed, so a second setup on
 * the same data is answered from the ledger's memory of the first.
 */
static void
setup_run(void)
{
	static const struct driver companies = {
	    "company_add", setup_fill_companies, setup_answer};
	static const struct driver links = {
	    "company_link", setup_fill_links, setup_answer};
	Budget__Request req = BUDGET__REQUEST__INIT, *ops[BENCH_CONTRACTS_MAX];
	Budget__Request opreq[BENCH_CONTRACTS_MAX];
	Budget__RulesLoad    rl = BUDGET__RULES_LOAD__INIT;
	Budget__ContractOpen co[BENCH_CONTRACTS_MAX];
	Budget__BatchRequest b = BUDGET__BATCH_REQUEST__INIT;
	Budget__Response    *resp;
	char                 ids[BENCH_CONTRACTS_MAX][32];
	char                 rids[BENCH_CONTRACTS_MAX][32];
	char                 prov[BENCH_CONTRACTS_MAX][32], code[64], msg[256];
	char                *text;
	const char          *base;
	struct stat          sb;
	uint64_t             t;
	size_t               i;
	ssize_t              got;
	int                  fd;

	/* The rules, as budgetctl rules load sends them. */
	if ((fd = open(opt.rules, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &sb) == -1)
		bench_fatalx(
		    BENCH_EXIT_USAGE, "%s: %s", opt.rules, strerror(errno));
	if ((text = calloc(1, (size_t)sb.st_size + 1)) == NULL)
		bench_fatalx(BENCH_EXIT_IO, "out of memory");
	got = read(fd, text, (size_t)sb.st_size);
	close(fd);
	if (got != sb.st_size)
		bench_fatalx(BENCH_EXIT_IO, "%s: short read", opt.rules);
	base = strrchr(opt.rules, '/') != NULL ? strrchr(opt.rules, '/') + 1
					       : opt.rules;
	rl.text = text;
	rl.source = BENCH_STR(base);
	req.request_id = BENCH_STR(run.runid);
	req.command_case = BUDGET__REQUEST__COMMAND_RULES_LOAD;
	req.rules_load = &rl;
	t = bench_mono_us();
	resp = sync_call(&req);
	free(text);
	if (resp->error != NULL) {
		clip((const uint8_t *)resp->error->code,
		    strlen(resp->error->code), code, sizeof(code));
		clip((const uint8_t *)resp->error->message,
		    strlen(resp->error->message), msg, sizeof(msg));
		bench_fatalx(
		    BENCH_EXIT_FAILED, "rules load: %s: %s", code, msg);
	}
	budget__response__free_unpacked(resp, NULL);

	/* The contracts: budgets that never bind. */
	for (i = 0; i < opt.contracts; i++) {
		budget__request__init(&opreq[i]);
		budget__contract_open__init(&co[i]);
		snprintf(ids[i], sizeof(ids[i]), "BENCH-%02zu", i + 1);
		snprintf(
		    rids[i], sizeof(rids[i]), "bench-contract-%02zu", i + 1);
		snprintf(
		    prov[i], sizeof(prov[i]), "Bench provider %02zu", i + 1);
		co[i].id = ids[i];
		co[i].provider = prov[i];
		co[i].framework = BENCH_STR("FW2");
		co[i].budget_cents = MONEY_MAX_CENTS;
		opreq[i].version = BUDGET_PROTOCOL_VERSION;
		opreq[i].request_id = rids[i];
		opreq[i].command_case = BUDGET__REQUEST__COMMAND_CONTRACT_OPEN;
		opreq[i].contract_open = &co[i];
		ops[i] = &opreq[i];
	}
	budget__request__init(&req);
	req.request_id = BENCH_STR(run.runid);
	req.command_case = BUDGET__REQUEST__COMMAND_BATCH;
	req.batch = &b;
	b.n_ops = opt.contracts;
	b.ops = ops;
	resp = sync_call(&req);
	if (resp->error != NULL || resp->batch == NULL ||
	    resp->batch->n_results != opt.contracts)
		bench_fatalx(BENCH_EXIT_FAILED, "contract_open: batch refused");
	for (i = 0; i < opt.contracts; i++) {
		const Budget__Error *e = resp->batch->results[i]->error;

		if (e == NULL)
			run.st[OP_CONTRACT_OPEN].ok++;
		else if (strcmp(e->code, "already_exists") == 0 ||
		    strcmp(e->code, "request_id_reused") == 0)
			run.st[OP_CONTRACT_OPEN].accepted++;
		else {
			clip((const uint8_t *)e->code, strlen(e->code), code,
			    sizeof(code));
			clip((const uint8_t *)e->message, strlen(e->message),
			    msg, sizeof(msg));
			bench_fatalx(BENCH_EXIT_FAILED,
			    "contract_open %s: %s: %s", ids[i], code, msg);
		}
	}
	budget__response__free_unpacked(resp, NULL);

	conns_open(BENCH_BULK_CONNS, BENCH_BULK_DEPTH, BENCH_BULK_BATCH);
	run.cursor = 0;
	run.cursor_end = opt.companies;
	conns_run(&companies);
	printf("setup: %u companies in %.1f s (%" PRIu64 " added, %" PRIu64
	       " there already)\n",
	    opt.companies, (double)(bench_mono_us() - t) / 1e6,
	    run.st[OP_COMPANY_ADD].ok, run.st[OP_COMPANY_ADD].accepted);
	fflush(stdout);
	t = bench_mono_us();
	run.cursor = 0;
	conns_run(&links);
	conns_close();
	printf("setup: %" PRIu64 " links, %" PRIu64
	       " declarations of other aid in %.1f s\n",
	    run.st[OP_COMPANY_LINK].ok + run.st[OP_COMPANY_LINK].accepted,
	    run.st[OP_DEMINIMIS_DECLARE].ok +
		run.st[OP_DEMINIMIS_DECLARE].accepted,
	    (double)(bench_mono_us() - t) / 1e6);
	fflush(stdout);
}

static int
setup_fill_companies(struct slot *s)
{
	Budget__Request    *q;
	Budget__CompanyAdd *a;
	struct op_buf      *o;
	uint64_t            h;
	uint32_t            i;
	unsigned            n = 0, r;
	char                rid[BENCH_RID_SZ];

	while (n < BENCH_BULK_BATCH && run.cursor < run.cursor_end) {
		i = (uint32_t)run.cursor++;
		h = mix64(i);
		snprintf(rid, sizeof(rid), "bench-co-%" PRIu32, i);
		q = op_init(n, OP_COMPANY_ADD, rid);
		o = &opb[n];
		a = q->company_add;
		company_number(i, o->num, sizeof(o->num));
		snprintf(o->text, sizeof(o->text), "Bench company %" PRIu32, i);
		r = (unsigned)(h %
		    (sizeof(bench_postcodes) / sizeof(bench_postcodes[0])));
		snprintf(o->pc, sizeof(o->pc), "%u",
		    bench_postcodes[r].lo +
			(unsigned)((h >> 8) %
			    (bench_postcodes[r].hi - bench_postcodes[r].lo +
				1)));
		a->number = o->num;
		a->name = o->text;
		a->postcode = o->pc;
		/* Micro, small and medium: all at the SME rate. */
		a->size = (Budget__CompanySize)(BUDGET__COMPANY_SIZE__MICRO +
		    (int)((h >> 24) % 3));
		s->units[n].rec = i;
		s->units[n].kind = OP_COMPANY_ADD;
		n++;
	}
	return (bulk_send(s, OP_COMPANY_ADD, n));
}

/*
 * Company i % 50 == 1 is controlled by i - 1 since 2020; company
 * i % 10 == 0 declared EUR 50,000-250,000 of other aid within the last
 * three years. A controlled company has no aid, so that with its parent's
 * and a START subsidy (EUR 5,000) the undertaking stays under 300,000.
 */
static int
setup_fill_links(struct slot *s)
{
	Budget__Request *q;
	struct op_buf   *o;
	uint64_t         h;
	uint32_t         i;
	unsigned         n = 0;
	char             rid[BENCH_RID_SZ];

	while (n < BENCH_BULK_BATCH && run.cursor < run.cursor_end) {
		i = (uint32_t)run.cursor++;
		h = mix64(i);
		if (company_is_child(i)) {
			snprintf(rid, sizeof(rid), "bench-ln-%" PRIu32, i);
			q = op_init(n, OP_COMPANY_LINK, rid);
			o = &opb[n];
			company_number(i - 1, o->num, sizeof(o->num));
			company_number(i, o->num2, sizeof(o->num2));
			q->company_link->parent = o->num;
			q->company_link->child = o->num2;
			q->company_link->since = BENCH_STR("2020-01-01");
			s->units[n].kind = OP_COMPANY_LINK;
		} else if (i % BENCH_AID_EVERY == 0) {
			snprintf(rid, sizeof(rid), "bench-dm-%" PRIu32, i);
			q = op_init(n, OP_DEMINIMIS_DECLARE, rid);
			o = &opb[n];
			company_number(i, o->num, sizeof(o->num));
			date_format(run.today - (int32_t)((h >> 40) % 1000),
			    o->date, sizeof(o->date));
			q->deminimis_declare->number = o->num;
			q->deminimis_declare->amount_cents =
			    (INT64_C(50000) + (int64_t)((h >> 8) % 200001)) *
			    100;
			q->deminimis_declare->granted = o->date;
			q->deminimis_declare->source =
			    BENCH_STR("kmo-portefeuille (bench)");
			s->units[n].kind = OP_DEMINIMIS_DECLARE;
		} else
			continue;
		s->units[n].rec = i;
		n++;
	}
	return (bulk_send(s, OP_COMPANY_ADD, n));
}

/*
 * A setup batch's answer. What was there already (a second setup) is fine:
 * already_exists, a replayed answer, or a request id used before for a
 * request that differs only in its date (a setup on another day).
 */
static void
setup_answer(struct slot *s, const uint8_t *p, size_t n, uint64_t now)
{
	struct reply r, op;
	struct pb    b;
	unsigned     i = 0;
	enum op_kind k;

	(void)now;
	bulk_answer(s, p, n, "setup", &r, &b);
	if (r.code != NULL) {
		reply_count(s->kind, &r, 1);
		bench_fatalx(BENCH_EXIT_FAILED, "setup: batch refused");
	}
	while (bulk_next(&b, s, i, &op, "setup: malformed result")) {
		k = (enum op_kind)s->units[i++].kind;
		if (op.code == NULL && !op.replayed)
			run.st[k].ok++;
		else if (op.code == NULL ||
		    reply_code_is(&op, BUDGET_ERR_ALREADY_EXISTS) ||
		    reply_code_is(&op, BUDGET_ERR_REQUEST_ID_REUSED))
			run.st[k].accepted++;
		else
			reply_count(k, &op, 1);
	}
	if (i != s->nunits)
		bench_fatalx(BENCH_EXIT_IO, "setup: %u results for %u ops", i,
		    s->nunits);
}

/* ---- the load ------------------------------------------------------- */

static void
rec_grow(void)
{
	struct drec *v;

	if (run.nrec < run.caprec)
		return;
	run.caprec = run.caprec == 0 ? (size_t)1 << 20 : run.caprec * 2;
	if ((v = realloc(run.rec, run.caprec * sizeof(*v))) == NULL)
		bench_fatalx(BENCH_EXIT_IO, "out of memory");
	run.rec = v;
}

/* An unused company, oldest returned first; 0 when none is left. */
static int
pool_take(uint32_t *c)
{
	if (run.pool_n == 0)
		return (0);
	*c = run.pool[run.pool_head];
	run.pool_head = (run.pool_head + 1) % run.pool_cap;
	run.pool_n--;
	if (*c + 1 > run.company_hw)
		run.company_hw = *c + 1;
	return (1);
}

static void
pool_put(uint32_t c)
{
	run.pool[(run.pool_head + run.pool_n) % run.pool_cap] = c;
	run.pool_n++;
}

/*
 * Dossier rec's id: "00012345-RUNID". Keys in order of rec, so that a
 * run's dossiers go into the ledger's B-trees one after the other, as a
 * programme's numbered dossiers do. --prefixed-ids sends ids that share a
 * long prefix ("RUNID-12345"), as a programme's own numbering does
 * (CS-2026-0001, CS-2026-0002, ...): verify's tables must hash them as
 * well as any others (glibc's hsearch, which it once used, did not).
 */
static void
dossier_id(uint32_t rec, char *out, size_t len)
{
	if (opt.prefixed_ids)
		snprintf(out, len, "%s-%" PRIu32, run.runid, rec);
	else
		snprintf(out, len, "%08" PRIu32 "-%s", rec, run.runid);
}

/*
 * The next request of slot s: the next step of its chain for the units
 * still alive, or a new chain. Returns 0 once the load stops.
 */
static int
load_fill(struct slot *s)
{
	Budget__Request *q;
	struct op_buf   *o;
	struct drec     *d;
	enum op_kind     kind;
	uint64_t         x;
	uint32_t         c, k;
	unsigned         i, n = 0;
	char             rid[BENCH_RID_SZ];

	if (run.stopping)
		return (0);
	if (s->task == TASK_NONE) {
		switch (opt.mix) {
		case MIX_RESERVE:
			s->task = TASK_RESERVE;
			break;
		case MIX_CYCLE:
			s->task = TASK_CYCLE;
			break;
		case MIX_FLOW:
			s->task = TASK_FLOW;
			break;
		case MIX_READ:
			s->task = TASK_READ;
			break;
		case MIX_MIXED:
			x = rng_next() % 100;
			s->task = x < 70 ? TASK_RESERVE
			    : x < 80     ? TASK_FLOW
					 : TASK_READ;
			break;
		}
		s->step = 0;
		s->nunits = 0;
		if (s->task != TASK_READ) {
			while (s->nunits < opt.batch && pool_take(&c)) {
				rec_grow();
				d = &run.rec[run.nrec];
				d->company = c;
				d->contract = (uint8_t)(run.next_contract++ %
				    opt.contracts);
				d->state = DR_NONE;
				s->units[s->nunits].rec = (uint32_t)run.nrec++;
				s->units[s->nunits].alive = 1;
				s->nunits++;
			}
			if (s->nunits == 0) {
				s->task = TASK_NONE;
				run.ran_out = 1;
				load_stop(bench_mono_us());
				return (0);
			}
		}
	}

	if (s->task == TASK_READ) {
		x = rng_next();
		kind = (enum op_kind)(OP_CONTRACT_SHOW + x % 4);
		k = 0;
		if (kind == OP_DOSSIER_SHOW) {
			/* A dossier of this run, if one was acknowledged. */
			for (i = 0; i < 4 && run.nacked > 0; i++) {
				k = (uint32_t)((x >> 8) % run.nrec);
				if (run.rec[k].state != DR_NONE)
					break;
				x = rng_next();
			}
			if (run.nacked == 0 || i == 4)
				kind = OP_CONTRACT_SHOW;
		}
		snprintf(rid, sizeof(rid), "%s-q", run.runid);
		q = op_init(0, kind, rid);
		o = &opb[0];
		switch (kind) {
		case OP_CONTRACT_SHOW:
			snprintf(o->id, sizeof(o->id), "BENCH-%02u",
			    (unsigned)((x >> 8) % opt.contracts) + 1);
			q->contract_show->id = o->id;
			break;
		case OP_DOSSIER_SHOW:
			dossier_id(k, o->id, sizeof(o->id));
			q->dossier_show->id = o->id;
			break;
		case OP_DEMINIMIS_SHOW:
			company_number((uint32_t)((x >> 8) % opt.companies),
			    o->num, sizeof(o->num));
			q->deminimis_show->number = o->num;
			break;
		default:
			company_number((uint32_t)((x >> 8) % opt.companies),
			    o->num, sizeof(o->num));
			q->company_show->number = o->num;
			break;
		}
		slot_send(s, kind, 1, 0);
		return (1);
	}

	kind = task_steps[s->task][s->step];
	for (i = 0; i < s->nunits; i++) {
		struct unit *u = &s->units[i];
		char         tag;

		if (!u->alive)
			continue;
		d = &run.rec[u->rec];
		tag = kind == OP_RESERVE ? 'r'
		    : kind == OP_APPROVE ? 'a'
		    : kind == OP_PAY     ? 'p'
					 : 'c';
		snprintf(rid, sizeof(rid), "%s-%" PRIu32 ":%c", run.runid,
		    u->rec, tag);
		q = op_init(n, kind, rid);
		o = &opb[n];
		dossier_id(u->rec, o->id, sizeof(o->id));
		switch (kind) {
		case OP_RESERVE:
			company_number(d->company, o->num, sizeof(o->num));
			snprintf(o->text, sizeof(o->text), "BENCH-%02u",
			    (unsigned)d->contract + 1);
			q->dossier_reserve->id = o->id;
			q->dossier_reserve->company = o->num;
			q->dossier_reserve->contract = o->text;
			q->dossier_reserve->package = BENCH_STR("START");
			q->dossier_reserve->cost_cents = BENCH_COST;
			break;
		case OP_APPROVE:
			q->dossier_approve->id = o->id;
			break;
		case OP_PAY:
			q->dossier_pay->id = o->id;
			q->dossier_pay->amount_cents = BENCH_PAY;
			break;
		default:
			q->dossier_cancel->id = o->id;
			q->dossier_cancel->reason = BENCH_STR("bench cycle");
			break;
		}
		n++;
	}
	slot_send(s, kind, n, opt.batch > 1);
	return (1);
}

static void
load_answer(struct slot *s, const uint8_t *p, size_t n, uint64_t now)
{
	struct reply   r, op;
	struct pb      b;
	const uint8_t *d;
	size_t         len;
	uint64_t       v;
	unsigned       f, i, alive = 0;
	int in = run.measuring && now >= run.t_meas && now < run.t_end;

	if (reply_scan(p, n, &r) == -1)
		bench_fatalx(BENCH_EXIT_IO, "malformed answer");
	reply_expect(s, &r);
	if (in) {
		run.st[s->kind].req_window++;
		lat_add(&run.st[s->kind].lat, now - s->sent);
	}
	if (s->task == TASK_READ) {
		if (r.code != NULL)
			reply_count(s->kind, &r, 1);
		else {
			run.st[s->kind].ok++;
			run.st[s->kind].ok_window += in;
		}
		s->task = TASK_NONE;
		return;
	}
	if (s->batched && r.code != NULL) {
		/* The whole batch was refused: every op of it failed. */
		for (i = 0; i < s->nunits; i++)
			if (s->units[i].alive) {
				reply_count(s->kind, &r, 1);
				s->units[i].alive = 0;
			}
	} else if (s->batched) {
		b.p = r.res;
		b.end = r.res + r.reslen;
		i = 0;
		while (pb_field(&b, &f, &v, &d, &len) == 1) {
			if (f != 1 || d == NULL)
				continue;
			while (i < s->nunits && !s->units[i].alive)
				i++;
			if (i == s->nunits)
				bench_fatalx(BENCH_EXIT_IO,
				    "a batch answered more ops than it had");
			if (reply_scan(d, len, &op) == -1)
				bench_fatalx(BENCH_EXIT_IO, "malformed result");
			load_op_done(s, &s->units[i++], &op, in);
		}
		while (i < s->nunits && !s->units[i].alive)
			i++;
		if (i != s->nunits)
			bench_fatalx(BENCH_EXIT_IO,
			    "a batch answered fewer ops than it had");
	} else {
		for (i = 0; i < s->nunits && !s->units[i].alive; i++)
			;
		load_op_done(s, &s->units[i], &r, in);
	}

	for (i = 0; i < s->nunits; i++)
		alive += s->units[i].alive;
	if (++s->step < task_nsteps[s->task] && alive > 0)
		return;
	if (s->task == TASK_CYCLE) {
		/* Cancelled: the company may reserve again. */
		for (i = 0; i < s->nunits; i++)
			if (s->units[i].alive)
				pool_put(run.rec[s->units[i].rec].company);
	}
	s->task = TASK_NONE;
}

/* One op's result for one dossier: what the ledger should now hold. */
static void
load_op_done(struct slot *s, struct unit *u, const struct reply *r, int in)
{
	struct drec          *d = &run.rec[u->rec];
	struct contract_snap *k = &run.delta[d->contract];

	if (r->code != NULL) {
		reply_count(s->kind, r, 1);
		u->alive = 0;
		return;
	}
	if (r->replayed) {
		/* Every request id is new: nothing may be replayed. */
		run.replayed++;
		failed = 1;
	}
	switch (s->kind) {
	case OP_RESERVE:
		d->state = DR_RESERVED;
		k->reserved += BENCH_SUBSIDY;
		run.nacked++;
		break;
	case OP_APPROVE:
		d->state = DR_APPROVED;
		k->reserved -= BENCH_SUBSIDY;
		k->committed += BENCH_SUBSIDY;
		break;
	case OP_PAY:
		d->state = DR_PAID;
		k->committed -= BENCH_PAY;
		k->paid += BENCH_PAY;
		break;
	case OP_CANCEL:
		d->state = DR_CANCELLED;
		k->reserved -= BENCH_SUBSIDY;
		break;
	default:
		bench_fatalx(BENCH_EXIT_IO, "load: op %d", (int)s->kind);
	}
	run.st[s->kind].ok++;
	run.st[s->kind].ok_window += in;
}

/* No new requests from now on; the window closes now if it is open. */
static void
load_stop(uint64_t now)
{
	if (run.stopping)
		return;
	run.stopping = 1;
	if (run.measuring) {
		if (now < run.t_end)
			run.t_end = now > run.t_meas ? now : run.t_meas;
		bench_cpu_read(0, &run.client1);
		bench_cpu_read(daemon_pid, &run.daemon1);
	}
}

/* The timers: the end of the warm-up, the end of the run, the deadline. */
static void
load_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	enum bench_timer which = (enum bench_timer)(uintptr_t)arg;

	(void)fd;
	(void)what;
	switch (which) {
	case BENCH_T_WARM:
		bench_cpu_read(0, &run.client0);
		bench_cpu_read(daemon_pid, &run.daemon0);
		break;
	case BENCH_T_END:
		load_stop(bench_mono_us());
		if (eng.inflight == 0)
			event_base_loopbreak(eng.base);
		break;
	case BENCH_T_DEADLINE:
		bench_fatalx(BENCH_EXIT_IO,
		    "%" PRIu64 " answers still owed %d s after the run",
		    eng.inflight, BENCH_DRAIN_SECS);
	}
}

/* ---- verification and clean-up --------------------------------------- */

static int
check_fill(struct slot *s)
{
	Budget__Request *q;
	char             rid[BENCH_RID_SZ];

	while (run.cursor < run.nrec && run.rec[run.cursor].state == DR_NONE)
		run.cursor++;
	if (run.cursor >= run.nrec)
		return (0);
	s->arg = (uint32_t)run.cursor++;
	snprintf(rid, sizeof(rid), "%s-v", run.runid);
	q = op_init(0, OP_DOSSIER_SHOW, rid);
	dossier_id(s->arg, opb[0].id, sizeof(opb[0].id));
	q->dossier_show->id = opb[0].id;
	slot_send(s, OP_DOSSIER_SHOW, 1, 0);
	return (1);
}

/* Is the dossier what its acknowledged ops said it would be? */
static void
check_answer(struct slot *s, const uint8_t *p, size_t n, uint64_t now)
{
	Budget__Response *resp;
	Budget__Dossier  *d;
	struct drec      *r = &run.rec[s->arg];
	char              num[BENCH_NUM_SZ], ct[32], id[BENCH_ID_SZ];
	int64_t           paid = r->state == DR_PAID ? BENCH_PAY : 0;
	const char       *why = NULL;

	(void)now;
	resp = budget__response__unpack(NULL, n, p);
	if (resp == NULL)
		bench_fatalx(BENCH_EXIT_IO, "verify: malformed answer");
	company_number(r->company, num, sizeof(num));
	snprintf(ct, sizeof(ct), "BENCH-%02u", (unsigned)r->contract + 1);
	dossier_id(s->arg, id, sizeof(id));
	if (strcmp(resp->request_id, s->rid) != 0)
		bench_fatalx(BENCH_EXIT_IO,
		    "conn %u: an answer to another request than %s",
		    s->conn->id, s->rid);
	d = resp->dossier;
	if (resp->error != NULL || d == NULL)
		why = "not in the ledger";
	else if (strcmp(d->id, id) != 0)
		why = "another dossier answered";
	else if (strcmp(d->state, drec_state_names[r->state]) != 0)
		why = "in another state";
	else if (strcmp(d->company, num) != 0 || strcmp(d->contract, ct) != 0)
		why = "of another company or contract";
	else if (d->subsidy_cents != BENCH_SUBSIDY || d->paid_cents != paid)
		why = "with other amounts";
	run.checked++;
	if (why != NULL) {
		run.mismatched++;
		failed = 1;
		if (run.mismatched <= BENCH_SHOW_MAX)
			printf("  dossier      %s (expected %s): %s\n", id,
			    drec_state_names[r->state], why);
	}
	budget__response__free_unpacked(resp, NULL);
}

/* Cancel what this run still holds reserved, in large batches. */
static int
release_fill(struct slot *s)
{
	Budget__Request *q;
	unsigned         n = 0;
	char             rid[BENCH_RID_SZ];

	while (n < BENCH_BULK_BATCH && run.cursor < run.nrec) {
		if (run.rec[run.cursor].state != DR_RESERVED) {
			run.cursor++;
			continue;
		}
		snprintf(rid, sizeof(rid), "%s-%zu:x", run.runid, run.cursor);
		q = op_init(n, OP_CANCEL, rid);
		dossier_id((uint32_t)run.cursor, opb[n].id, sizeof(opb[n].id));
		q->dossier_cancel->id = opb[n].id;
		q->dossier_cancel->reason = BENCH_STR("bench: end of run");
		s->units[n].rec = (uint32_t)run.cursor++;
		s->units[n].alive = 1;
		n++;
	}
	return (bulk_send(s, OP_CANCEL, n));
}

static void
release_answer(struct slot *s, const uint8_t *p, size_t n, uint64_t now)
{
	struct reply r, op;
	struct pb    b;
	unsigned     i = 0;

	(void)now;
	bulk_answer(s, p, n, "release", &r, &b);
	if (r.code != NULL)
		bench_fatalx(BENCH_EXIT_IO, "release: batch refused");
	while (bulk_next(&b, s, i, &op, "release: malformed")) {
		if (op.code != NULL)
			reply_count(OP_CANCEL, &op, 1);
		else {
			run.rec[s->units[i].rec].state = DR_CANCELLED;
			run.released++;
		}
		i++;
	}
}

/* ---- reporting -------------------------------------------------------- */

static void
report_loadavg(char *buf, size_t len, double la[3])
{
	FILE *fp;
	char  line[128];

	la[0] = la[1] = la[2] = -1;
	snprintf(buf, len, "unknown");
	if ((fp = fopen("/proc/loadavg", "r")) == NULL)
		return;
	if (fgets(line, sizeof(line), fp) != NULL &&
	    sscanf(line, "%lf %lf %lf", &la[0], &la[1], &la[2]) == 3)
		snprintf(buf, len, "load average: %.2f, %.2f, %.2f", la[0],
		    la[1], la[2]);
	fclose(fp);
}

static void
report_conditions(FILE *fp)
{
	struct utsname u;
	char           host[256], date[64];
	time_t         t = time(NULL);
	struct tm      tm;

	if (gethostname(host, sizeof(host)) == -1)
		snprintf(host, sizeof(host), "unknown");
	host[sizeof(host) - 1] = '\0';
	localtime_r(&t, &tm);
	strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S %z", &tm);
	if (uname(&u) == -1)
		memset(&u, 0, sizeof(u));
	fprintf(fp, "  date         %s\n", date);
	fprintf(fp, "  host         %s, %ld cpus online, %s %s %s\n", host,
	    sysconf(_SC_NPROCESSORS_ONLN), u.sysname, u.release, u.machine);
}

static int
lat_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x < y ? -1 : x > y);
}

/* The q-quantile in milliseconds (nearest rank); lat must be sorted. */
static double
lat_pct(const struct lat *l, double q)
{
	size_t i;

	if (l->n == 0)
		return (0);
	i = (size_t)(q * (double)l->n + 0.999999);
	if (i < 1)
		i = 1;
	if (i > l->n)
		i = l->n;
	return ((double)l->v[i - 1] / 1000.0);
}

static void
mem_print(const char *when, const struct mem_snap *m)
{
	if (m->rss < 0)
		printf("  memory       %-7s unknown (no /proc/%d/status)\n",
		    when, (int)daemon_pid);
	else
		printf("  memory       %-7s RSS %.1f MiB, RssAnon %.1f MiB, "
		       "peak RSS %.1f MiB\n",
		    when, m->rss / 1024.0, m->anon / 1024.0, m->hwm / 1024.0);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"socket", required_argument, NULL, 's'},
	    {"connections", required_argument, NULL, 'c'},
	    {"depth", required_argument, NULL, 'd'},
	    {"batch", required_argument, NULL, 'b'},
	    {"duration", required_argument, NULL, 't'},
	    {"warmup", required_argument, NULL, 'w'},
	    {"mix", required_argument, NULL, 'm'},
	    {"companies", required_argument, NULL, 'n'},
	    {"first-company", required_argument, NULL, 'F'},
	    {"contracts", required_argument, NULL, 'K'},
	    {"setup", no_argument, NULL, 'S'},
	    {"setup-only", no_argument, NULL, 'O'},
	    {"verify", no_argument, NULL, 'V'},
	    {"no-verify", no_argument, NULL, 'N'},
	    {"keep", no_argument, NULL, 'k'},
	    {"no-daemon-verify", no_argument, NULL, 'D'},
	    {"prefixed-ids", no_argument, NULL, 'P'},
	    {"seed", required_argument, NULL, 'r'},
	    {"json", no_argument, NULL, 'j'},
	    {"rules", required_argument, NULL, 'R'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	static const struct driver load = {"load", load_fill, load_answer};
	static const struct driver check = {"check", check_fill, check_answer};
	static const struct driver release = {
	    "release", release_fill, release_answer};
	struct status_snap   s0, s1;
	struct contract_snap k0[BENCH_CONTRACTS_MAX], k1[BENCH_CONTRACTS_MAX];
	struct mem_snap      m0, m1;
	struct ucred         cred;
	socklen_t            credlen = sizeof(cred);
	struct rlimit        rl;
	struct event        *timers[3];
	struct timeval       tv;
	json_t              *js, *jo, *jr, *je;
	char                 la0s[96], la1s[96], *dump, *end;
	double               la0[3], la1[3], secs, rate;
	double               cpu_c, cpu_d, wait_c, wait_d, us_op;
	unsigned long        ul;
	uint64_t             t, nerr;
	size_t               i, e;
	int                  ch, bad;
	enum op_kind         primary;

	opt.socket = getenv(BUDGET_SOCKET_ENV);
	if (opt.socket == NULL || *opt.socket == '\0')
		opt.socket = BUDGET_SOCKET_DEFAULT;
	while ((ch = getopt_long(
		    argc, argv, "s:c:d:b:t:w:m:n:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			opt.socket = optarg;
			break;
		case 'c':
		case 'd':
		case 'b':
		case 'n':
		case 'F':
		case 'K':
		case 'r':
			errno = 0;
			ul = strtoul(optarg, &end, 10);
			if (errno != 0 || end == optarg || *end != '\0' ||
			    *optarg == '-')
				usage();
			if (ch == 'r') {
				opt.seed = ul;
				break;
			}
			if (ul > UINT32_MAX)
				usage();
			if (ch == 'c')
				opt.conns = (unsigned)ul;
			else if (ch == 'd')
				opt.depth = (unsigned)ul;
			else if (ch == 'b')
				opt.batch = (unsigned)ul;
			else if (ch == 'n')
				opt.companies = (unsigned)ul;
			else if (ch == 'F')
				opt.first_company = (unsigned)ul;
			else
				opt.contracts = (unsigned)ul;
			break;
		case 't':
		case 'w':
			secs = strtod(optarg, &end);
			if (end == optarg || *end != '\0' || !(secs >= 0) ||
			    secs > 86400)
				usage();
			if (ch == 't')
				opt.duration = secs;
			else
				opt.warmup = secs;
			break;
		case 'm':
			for (i = 0; i < sizeof(mix_names) / sizeof(*mix_names);
			     i++)
				if (strcmp(optarg, mix_names[i]) == 0)
					break;
			if (i == sizeof(mix_names) / sizeof(*mix_names))
				usage();
			opt.mix = (enum mix)i;
			break;
		case 'S':
			opt.setup = 1;
			break;
		case 'O':
			opt.setup = opt.setup_only = 1;
			break;
		case 'V':
			opt.verify = 1;
			break;
		case 'N':
			opt.verify = 0;
			break;
		case 'k':
			opt.keep = 1;
			break;
		case 'D':
			opt.daemon_verify = 0;
			break;
		case 'P':
			opt.prefixed_ids = 1;
			break;
		case 'j':
			opt.json = 1;
			break;
		case 'R':
			opt.rules = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc || opt.conns == 0 || opt.depth == 0 ||
	    opt.batch == 0 || opt.batch > BENCH_BATCH_MAX ||
	    opt.contracts == 0 || opt.contracts > BENCH_CONTRACTS_MAX ||
	    opt.companies == 0 || opt.companies > BENCH_COMPANIES_MAX ||
	    opt.first_company >= opt.companies ||
	    (opt.duration <= 0 && !opt.setup_only))
		usage();
	if (opt.mix == MIX_READ && opt.batch > 1)
		bench_fatalx(BENCH_EXIT_USAGE,
		    "reads are not batched (a batch holds only changes)");

	signal(SIGPIPE, SIG_IGN);
	/* A descriptor per connection, and some. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_cur < (rlim_t)opt.conns + 64) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if ((opb = calloc(BENCH_BATCH_MAX, sizeof(*opb))) == NULL ||
	    (opp = calloc(BENCH_BATCH_MAX, sizeof(*opp))) == NULL)
		bench_fatalx(BENCH_EXIT_IO, "out of memory");
	if ((eng.base = event_base_new()) == NULL)
		bench_fatalx(BENCH_EXIT_IO, "event_base_new");
	run.rng = opt.seed;
	run.today = date_today(timestamp_now());
	/* A run id that no earlier run on this ledger had: the time, in ms. */
	snprintf(run.runid, sizeof(run.runid), "bb%" PRIx64,
	    (uint64_t)timestamp_now() / 1000);

	sync_fd = bench_connect();
	if (getsockopt(sync_fd, SOL_SOCKET, SO_PEERCRED, &cred, &credlen) == 0)
		daemon_pid = cred.pid;

	printf("== budget-bench %s: mix %s, %u connections x depth %u, "
	       "batch %u\n",
	    run.runid, mix_names[opt.mix], opt.conns, opt.depth, opt.batch);
	printf("conditions\n");
	report_conditions(stdout);
	report_loadavg(la0s, sizeof(la0s), la0);
	printf("  start        %s\n", la0s);
	printf("  options      -s %s --mix %s --connections %u --depth %u "
	       "--batch %u --duration %g --warmup %g --companies %u "
	       "--first-company %u --contracts %u --seed %" PRIu64
	       "%s%s%s%s%s\n",
	    opt.socket, mix_names[opt.mix], opt.conns, opt.depth, opt.batch,
	    opt.duration, opt.warmup, opt.companies, opt.first_company,
	    opt.contracts, opt.seed, opt.setup ? " --setup" : "",
	    opt.verify ? "" : " --no-verify",
	    opt.daemon_verify ? "" : " --no-daemon-verify",
	    opt.keep ? " --keep" : "",
	    opt.prefixed_ids ? " --prefixed-ids" : "");
	printf("  daemon       pid %d\n", (int)daemon_pid);
	fflush(stdout);

	if (opt.setup) {
		sync_status(&s0);
		t = bench_mono_us();
		setup_run();
		sync_status(&s1);
		printf("setup: done in %.1f s, journal_seq %" PRIu64
		       " -> %" PRIu64 ", map used %.1f MiB\n",
		    (double)(bench_mono_us() - t) / 1e6, s0.seq, s1.seq,
		    (double)s1.map_used / 1048576.0);
		if (failed)
			bench_fatalx(BENCH_EXIT_FAILED, "setup failed");
		if (opt.setup_only) {
			mem_read(&m1);
			mem_print("now", &m1);
			return (BENCH_EXIT_OK);
		}
		memset(run.st, 0, sizeof(run.st));
	}

	/* The companies this run may use: the controlled ones never. */
	run.pool_cap = opt.companies - opt.first_company;
	if ((run.pool = calloc(run.pool_cap, sizeof(*run.pool))) == NULL)
		bench_fatalx(BENCH_EXIT_IO, "out of memory");
	for (i = opt.first_company; i < opt.companies; i++)
		if (!company_is_child((uint32_t)i))
			pool_put((uint32_t)i);
	run.company_hw = opt.first_company;

	sync_status(&s0);
	sync_contracts(k0);
	mem_read(&m0);
	conns_open(opt.conns, opt.depth, opt.batch);

	/* The warm-up, the window, and a deadline for the answers owed. */
	for (i = 0; i < 3; i++) {
		timers[i] = event_new(
		    eng.base, -1, 0, load_timer_cb, (void *)(uintptr_t)i);
		if (timers[i] == NULL)
			bench_fatalx(BENCH_EXIT_IO, "event_new");
	}
	run.t0 = bench_mono_us();
	run.t_meas = run.t0 + (uint64_t)(opt.warmup * 1e6);
	run.t_end = run.t_meas + (uint64_t)(opt.duration * 1e6);
	run.measuring = 1;
	bench_cpu_read(0, &run.client0);
	bench_cpu_read(daemon_pid, &run.daemon0);
	for (i = 0; i < 3; i++) {
		secs = i == BENCH_T_WARM ? opt.warmup
		    : i == BENCH_T_END
		    ? opt.warmup + opt.duration
		    : opt.warmup + opt.duration + BENCH_DRAIN_SECS;
		tv.tv_sec = (time_t)secs;
		tv.tv_usec = (suseconds_t)((secs - (double)tv.tv_sec) * 1e6);
		event_add(timers[i], &tv);
	}
	conns_run(&load);
	for (i = 0; i < 3; i++)
		event_free(timers[i]);
	if (!run.stopping)
		load_stop(bench_mono_us());
	run.measuring = 0;
	conns_close();

	mem_read(&m1);
	sync_status(&s1);
	report_loadavg(la1s, sizeof(la1s), la1);
	secs =
	    run.t_end > run.t_meas ? (double)(run.t_end - run.t_meas) / 1e6 : 0;
	cpu_c = secs > 0 && run.client0.cpu >= 0
	    ? (run.client1.cpu - run.client0.cpu) / secs
	    : -1;
	wait_c = secs > 0 && run.client0.wait >= 0
	    ? (run.client1.wait - run.client0.wait) / secs
	    : -1;
	cpu_d = secs > 0 && run.daemon0.cpu >= 0
	    ? (run.daemon1.cpu - run.daemon0.cpu) / secs
	    : -1;
	wait_d = secs > 0 && run.daemon0.wait >= 0
	    ? (run.daemon1.wait - run.daemon0.wait) / secs
	    : -1;

	printf("  end          %s\n", la1s);
	printf("  journal_seq  %" PRIu64 " -> %" PRIu64 " (+%" PRIu64 ")\n",
	    s0.seq, s1.seq, s1.seq - s0.seq);
	printf("  map used     %.1f MiB -> %.1f MiB (map %.1f MiB)\n",
	    (double)s0.map_used / 1048576.0, (double)s1.map_used / 1048576.0,
	    (double)s1.map_size / 1048576.0);
	mem_print("before", &m0);
	mem_print("after", &m1);
	/* The daemon's CPU per op: what load on the machine does not skew. */
	for (i = 0, t = 0; i < OP__COUNT; i++)
		t += run.st[i].ok_window;
	us_op = t > 0 && cpu_d >= 0 ? cpu_d * secs * 1e6 / (double)t : -1;
	printf("  cpu          client %.0f%% of a core (waited %.0f%%), daemon "
	       "%.0f%% (waited %.0f%%) in the window;\n"
	       "               daemon CPU per op %.1f us\n",
	    cpu_c * 100, wait_c * 100, cpu_d * 100, wait_d * 100, us_op);
	if (run.ran_out && secs <= 0) {
		printf("  FAILED       companies ran out in the warm-up: "
		       "nothing was measured; use a larger --companies\n");
		failed = 1;
	} else if (run.ran_out)
		printf("  WARNING      companies ran out after %.1f s of the "
		       "window: use a larger --companies\n",
		    secs);

	printf("results: %.2f s measured after %.1f s of warm-up\n", secs,
	    opt.warmup);
	printf("  %-18s %12s %12s %10s %10s %10s\n", "op / request", "count",
	    "per s", "p50 ms", "p99 ms", "p99.9 ms");
	js = json_object();
	jo = json_object();
	jr = json_object();
	je = json_object();
	nerr = 0;
	for (i = 0; i < OP__COUNT; i++) {
		struct op_stats *st = &run.st[i];

		if (st->ok == 0 && st->refused == 0 && st->req_window == 0)
			continue;
		rate = secs > 0 ? (double)st->ok_window / secs : 0;
		printf("  %-18s %12" PRIu64 " %12.1f\n", op_names[i],
		    st->ok_window, rate);
		json_object_set_new(jo, op_names[i],
		    json_pack("{s:I,s:f,s:I,s:I}", "count",
			(json_int_t)st->ok_window, "rate", rate, "total",
			(json_int_t)st->ok, "refused",
			(json_int_t)st->refused));
		for (e = 0; e <= BUDGET_ERR__COUNT; e++) {
			if (st->err[e] == 0)
				continue;
			nerr += st->err[e];
			json_object_set_new(je,
			    e < BUDGET_ERR__COUNT
				? budget_err_code((enum budget_err)e)
				: "unknown",
			    json_integer((json_int_t)st->err[e]));
		}
	}
	for (i = 0; i < OP__COUNT; i++) {
		struct op_stats *st = &run.st[i];

		if (st->req_window == 0)
			continue;
		qsort(st->lat.v, st->lat.n, sizeof(*st->lat.v), lat_cmp);
		rate = secs > 0 ? (double)st->req_window / secs : 0;
		printf("  %-18s %12" PRIu64 " %12.1f %10.3f %10.3f %10.3f\n",
		    opt.batch > 1 && i <= OP_CANCEL ? "requests (batch)"
						    : "requests",
		    st->req_window, rate, lat_pct(&st->lat, 0.5),
		    lat_pct(&st->lat, 0.99), lat_pct(&st->lat, 0.999));
		printf("  %-18s   (%s)\n", "", op_names[i]);
		json_object_set_new(jr, op_names[i],
		    json_pack("{s:I,s:f,s:f,s:f,s:f}", "count",
			(json_int_t)st->req_window, "rate", rate, "p50_ms",
			lat_pct(&st->lat, 0.5), "p99_ms",
			lat_pct(&st->lat, 0.99), "p999_ms",
			lat_pct(&st->lat, 0.999)));
	}
	if (nerr == 0 && run.replayed == 0)
		printf("errors: none\n");
	else {
		printf("errors: %" PRIu64 " refused", nerr);
		for (i = 0; i < OP__COUNT; i++)
			for (e = 0; e <= BUDGET_ERR__COUNT; e++)
				if (run.st[i].err[e] > 0)
					printf(", %s %s %" PRIu64, op_names[i],
					    e < BUDGET_ERR__COUNT
						? budget_err_code(
						      (enum budget_err)e)
						: "unknown",
					    run.st[i].err[e]);
		if (run.replayed > 0)
			printf(", %" PRIu64 " replayed", run.replayed);
		printf("\n");
		if (run.st[OP_RESERVE].err[BUDGET_ERR_EXCLUSION_PERIOD] > 0)
			printf("  (exclusion_period: an earlier run left "
			       "companies reserved or approved; start past "
			       "them with --first-company)\n");
	}
	fflush(stdout);

	bad = failed;
	if (opt.verify) {
		printf("verification\n");
		t = bench_mono_us();
		run.cursor = 0;
		conns_open(BENCH_CHECK_CONNS, BENCH_CHECK_DEPTH, 1);
		conns_run(&check);
		conns_close();
		printf("  dossiers     %" PRIu64 " checked, %" PRIu64
		       " not as acknowledged (%.1f s)\n",
		    run.checked, run.mismatched,
		    (double)(bench_mono_us() - t) / 1e6);
		sync_contracts(k1);
		for (i = 0, e = 0; i < opt.contracts; i++) {
			if (k1[i].reserved - k0[i].reserved ==
				run.delta[i].reserved &&
			    k1[i].committed - k0[i].committed ==
				run.delta[i].committed &&
			    k1[i].paid - k0[i].paid == run.delta[i].paid)
				continue;
			e++;
			printf("  contract     BENCH-%02zu moved by reserved "
			       "%+" PRId64 " committed %+" PRId64
			       " paid %+" PRId64 " cents; acknowledged "
			       "%+" PRId64 " %+" PRId64 " %+" PRId64 "\n",
			    i + 1, k1[i].reserved - k0[i].reserved,
			    k1[i].committed - k0[i].committed,
			    k1[i].paid - k0[i].paid, run.delta[i].reserved,
			    run.delta[i].committed, run.delta[i].paid);
		}
		printf("  contracts    %u checked, %zu not as acknowledged\n",
		    opt.contracts, e);
		json_object_set_new(js, "dossiers_checked",
		    json_integer((json_int_t)run.checked));
		json_object_set_new(js, "dossiers_wrong",
		    json_integer((json_int_t)run.mismatched));
		json_object_set_new(
		    js, "contracts_wrong", json_integer((json_int_t)e));
		if (e > 0 || run.mismatched > 0)
			bad = 1;
	}
	if (!opt.keep) {
		t = bench_mono_us();
		run.cursor = 0;
		conns_open(
		    BENCH_BULK_CONNS, BENCH_BULK_DEPTH, BENCH_BULK_BATCH);
		conns_run(&release);
		conns_close();
		printf("  released     %" PRIu64 " reservations of this run "
		       "(%.1f s)\n",
		    run.released, (double)(bench_mono_us() - t) / 1e6);
		if (failed)
			bad = 1;
	}
	if (opt.verify && opt.daemon_verify && !sync_verify(js))
		bad = 1;

	primary = opt.mix == MIX_READ ? OP_CONTRACT_SHOW : OP_RESERVE;
	if (opt.mix == MIX_READ) {
		/* Reads: all four kinds together. */
		for (i = OP_DOSSIER_SHOW,
		    t = run.st[OP_CONTRACT_SHOW].ok_window;
		     i <= OP_COMPANY_SHOW; i++)
			t += run.st[i].ok_window;
	} else
		t = run.st[OP_RESERVE].ok_window;
	rate = secs > 0 ? (double)t / secs : 0;
	printf("summary: mix=%s conns=%u depth=%u batch=%u secs=%.1f "
	       "%s_per_s=%.0f p50_ms=%.3f p99_ms=%.3f p999_ms=%.3f "
	       "errors=%" PRIu64 " anon_mib=%.1f rss_mib=%.1f cpu_client=%.0f "
	       "cpu_daemon=%.0f wait_daemon=%.0f daemon_us_per_op=%.1f "
	       "next_company=%" PRIu32 " load=%.2f result=%s\n",
	    mix_names[opt.mix], opt.conns, opt.depth, opt.batch, secs,
	    opt.mix == MIX_READ ? "reads" : "reservations", rate,
	    lat_pct(&run.st[primary].lat, 0.5),
	    lat_pct(&run.st[primary].lat, 0.99),
	    lat_pct(&run.st[primary].lat, 0.999), nerr, m1.anon / 1024.0,
	    m1.rss / 1024.0, cpu_c * 100, cpu_d * 100, wait_d * 100, us_op,
	    run.company_hw, la1[0], bad ? "FAILED" : "ok");

	if (opt.json) {
		json_object_set_new(js, "run", json_string(run.runid));
		json_object_set_new(js, "mix", json_string(mix_names[opt.mix]));
		json_object_set_new(js, "connections", json_integer(opt.conns));
		json_object_set_new(js, "depth", json_integer(opt.depth));
		json_object_set_new(js, "batch", json_integer(opt.batch));
		json_object_set_new(js, "warmup_s", json_real(opt.warmup));
		json_object_set_new(js, "measured_s", json_real(secs));
		json_object_set_new(
		    js, "nproc", json_integer(sysconf(_SC_NPROCESSORS_ONLN)));
		json_object_set_new(js, "load_start",
		    json_pack("[f,f,f]", la0[0], la0[1], la0[2]));
		json_object_set_new(js, "load_end",
		    json_pack("[f,f,f]", la1[0], la1[1], la1[2]));
		json_object_set_new(
		    js, "journal_seq_before", json_integer((json_int_t)s0.seq));
		json_object_set_new(
		    js, "journal_seq_after", json_integer((json_int_t)s1.seq));
		json_object_set_new(js, "map_used_before",
		    json_integer((json_int_t)s0.map_used));
		json_object_set_new(js, "map_used_after",
		    json_integer((json_int_t)s1.map_used));
		json_object_set_new(
		    js, "daemon_rss_kib_before", json_integer(m0.rss));
		json_object_set_new(
		    js, "daemon_anon_kib_before", json_integer(m0.anon));
		json_object_set_new(
		    js, "daemon_rss_kib_after", json_integer(m1.rss));
		json_object_set_new(
		    js, "daemon_anon_kib_after", json_integer(m1.anon));
		json_object_set_new(js, "daemon_hwm_kib", json_integer(m1.hwm));
		json_object_set_new(js, "cpu_client", json_real(cpu_c));
		json_object_set_new(js, "cpu_daemon", json_real(cpu_d));
		json_object_set_new(js, "wait_client", json_real(wait_c));
		json_object_set_new(js, "wait_daemon", json_real(wait_d));
		json_object_set_new(js, "daemon_us_per_op", json_real(us_op));
		json_object_set_new(
		    js, "companies_ran_out", json_boolean(run.ran_out));
		json_object_set_new(
		    js, "next_company", json_integer(run.company_hw));
		json_object_set_new(js, "ops", jo);
		json_object_set_new(js, "requests", jr);
		json_object_set_new(js, "errors", je);
		json_object_set_new(js, "ok", json_boolean(!bad));
		if ((dump = json_dumps(
			 js, JSON_COMPACT | JSON_REAL_PRECISION(6))) != NULL) {
			printf("%s\n", dump);
			free(dump);
		}
	} else {
		json_decref(jo);
		json_decref(jr);
		json_decref(je);
	}
	json_decref(js);
	close(sync_fd);
	event_base_free(eng.base);
	return (bad ? BENCH_EXIT_FAILED : BENCH_EXIT_OK);
}
