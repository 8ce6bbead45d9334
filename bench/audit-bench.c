/*
 * audit-bench.c: the benchmark of the auditor's queries (issue #4). Owns
 * the timing of the four slow reads on a ledger someone else filled
 * (scripts/bench-audit fills one with a million dossiers):
 *
 *  - export: the whole journal, page after page of the largest page the
 *    daemon serves, each entry decoded here; entries per second. Pages of
 *    stored entries, as budgetctl export asks for them; with --views,
 *    pages of canonical fields, as history sends them;
 *  - history: one dossier's entries, for dossiers picked at random from
 *    what export saw; latency per request at p50/p99/max;
 *  - report --by year,province (or --by): time per report;
 *  - verify: the daemon's full check; entries per second.
 *
 * Each is measured from sending the request to having the decoded answer,
 * over the Unix socket, so it is what a client sees. Times come from
 * CLOCK_MONOTONIC; the CPU the daemon used is read from /proc when its pid
 * is given, so that a reader can tell the daemon's work from waiting on a
 * busy machine.
 *
 * Exit status: 0 done; 1 the daemon refused a query or verify failed;
 * 2 usage; 3 the daemon could not be reached or broke the protocol.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench-proc.h"
#include "budget.pb-c.h"
#include "budget/protocol.h"
#include "store.pb-c.h"

#define AB_EXIT_OK     0
#define AB_EXIT_FAILED 1
#define AB_EXIT_USAGE  2
#define AB_EXIT_IO     3

/* The daemon's largest export page, and room for its answer. */
#define AB_EXPORT_PAGE 10000u
#define AB_ANSWER_MAX  (64u * 1024u * 1024u)

#define AB_STR(s) ((char *)(uintptr_t)(s))

static struct {
	const char *socket;
	const char *by;
	unsigned    histories;
	unsigned    reports;
	unsigned    verifies;
	pid_t       daemon;
	int         views;
} opt = {NULL, "year,province", 1000, 5, 3, 0, 0};

static int fd = -1;

static void usage(void) __attribute__((noreturn));
static void ab_fatalx(int, const char *, ...)
    __attribute__((format(printf, 2, 3), noreturn));
static uint64_t          daemon_cpu_us(void);
static Budget__Response *call(Budget__Request *, const char *);
static void              bench_export(void);
static void              bench_history(void);
static void              bench_report(void);
static void              bench_verify(void);
static int               cmp_u64(const void *, const void *);

/* Dossier ids export saw, for history to pick from. */
static char   **ids;
static size_t   nids, ids_cap;
static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static void
usage(void)
{
	fprintf(stderr,
	    "usage: audit-bench -s SOCKET [--by DIMS] [--histories N]\n"
	    "                   [--reports N] [--verifies N] [--pid PID]\n"
	    "                   [--views]\n");
	exit(AB_EXIT_USAGE);
}

static void
ab_fatalx(int status, const char *fmt, ...)
{
	va_list ap;

	fputs("audit-bench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(status);
}

/* The daemon's CPU so far, all its threads, in µs; 0 without --pid. */
static uint64_t
daemon_cpu_us(void)
{
	struct bench_cpu c;

	if (opt.daemon == 0)
		return (0);
	bench_cpu_read(opt.daemon, &c);
	return (c.cpu < 0 ? 0 : (uint64_t)(c.cpu * 1e6));
}

static Budget__Response *
call(Budget__Request *req, const char *what)
{
	ProtobufCMessage *m;
	Budget__Response *resp;
	int               rc;

	req->version = BUDGET_PROTOCOL_VERSION;
	req->request_id = AB_STR("audit-bench");
	if (wire_write_fd(fd, BUDGET_FRAME_MAX, &req->base) != 0)
		ab_fatalx(AB_EXIT_IO, "sending %s: %s", what, strerror(errno));
	rc = wire_read_fd(fd, AB_ANSWER_MAX, &budget__response__descriptor, &m);
	if (rc == WIRE_IO && errno == 0)
		ab_fatalx(AB_EXIT_IO,
		    "budgetd closed the connection instead of answering %s "
		    "(see its log)",
		    what);
	if (rc != WIRE_OK)
		ab_fatalx(AB_EXIT_IO, "reading the answer to %s: %s", what,
		    rc == WIRE_IO ? strerror(errno) : "protocol error");
	resp = (Budget__Response *)m;
	if (resp->error != NULL)
		ab_fatalx(AB_EXIT_FAILED, "%s refused: %s: %s", what,
		    resp->error->code, resp->error->message);
	return (resp);
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x < y ? -1 : x > y);
}

/* Note a dossier id the first time export shows its reservation. */
static void
note_dossier(const char *kind, const char *id, const char *error)
{
	/* A refusal's dossier may not exist. */
	if (kind == NULL || id == NULL || *id == '\0' ||
	    strcmp(kind, "dossier_reserve") != 0 ||
	    (error != NULL && *error != '\0'))
		return;
	if (nids == ids_cap) {
		ids_cap = ids_cap ? ids_cap * 2 : 4096;
		if ((ids = realloc(ids, ids_cap * sizeof(*ids))) == NULL)
			ab_fatalx(AB_EXIT_IO, "out of memory");
	}
	if ((ids[nids++] = strdup(id)) == NULL)
		ab_fatalx(AB_EXIT_IO, "out of memory");
}

static void
note_view(const Budget__JournalEntryView *e)
{
	const char *kind = NULL, *id = NULL, *error = NULL;
	size_t      i;

	for (i = 0; i < e->n_fields; i++) {
		if (strcmp(e->fields[i]->name, "kind") == 0)
			kind = e->fields[i]->value;
		else if (strcmp(e->fields[i]->name, "dossier") == 0)
			id = e->fields[i]->value;
		else if (strcmp(e->fields[i]->name, "error") == 0)
			error = e->fields[i]->value;
	}
	note_dossier(kind, id, error);
}

static void
note_raw(const ProtobufCBinaryData *b)
{
	Budgetstore__JournalEntry *m;

	if ((m = budgetstore__journal_entry__unpack(NULL, b->len, b->data)) ==
	    NULL)
		ab_fatalx(AB_EXIT_IO, "export: an entry does not decode");
	note_dossier(m->kind, m->dossier, m->error);
	budgetstore__journal_entry__free_unpacked(m, NULL);
}

static void
bench_export(void)
{
	Budget__Request       req = BUDGET__REQUEST__INIT;
	Budget__ExportRequest ex = BUDGET__EXPORT_REQUEST__INIT;
	Budget__Response     *resp;
	uint64_t              t0, t, cpu0, entries = 0, pages = 0, bytes = 0;
	size_t                i;

	req.command_case = BUDGET__REQUEST__COMMAND_EXPORT;
	req.export = &ex;
	ex.since = 1;
	ex.limit = AB_EXPORT_PAGE;
	ex.raw = !opt.views;
	cpu0 = daemon_cpu_us();
	t0 = bench_mono_us();
	for (;;) {
		resp = call(&req, "export");
		if (resp->journal == NULL)
			ab_fatalx(AB_EXIT_IO, "export: no journal page");
		entries += resp->journal->n_entries;
		bytes += budget__response__get_packed_size(resp);
		pages++;
		entries += resp->journal->n_raw;
		for (i = 0; i < resp->journal->n_entries; i++)
			note_view(resp->journal->entries[i]);
		for (i = 0; i < resp->journal->n_raw; i++)
			note_raw(&resp->journal->raw[i]);
		ex.since = resp->journal->next;
		budget__response__free_unpacked(resp, NULL);
		if (ex.since == 0)
			break;
	}
	t = bench_mono_us() - t0;
	printf("export (%s): entries=%" PRIu64 " pages=%" PRIu64 " MiB=%.1f "
	       "s=%.3f entries_per_s=%.0f daemon_cpu_s=%.3f\n",
	    opt.views ? "fields" : "stored entries", entries, pages,
	    (double)bytes / (1024.0 * 1024.0), (double)t / 1e6,
	    t ? (double)entries * 1e6 / (double)t : 0.0,
	    (double)(daemon_cpu_us() - cpu0) / 1e6);
}

static void
bench_history(void)
{
	Budget__Request        req = BUDGET__REQUEST__INIT;
	Budget__HistoryRequest h = BUDGET__HISTORY_REQUEST__INIT;
	Budget__Response      *resp;
	uint64_t              *lat, t, entries = 0;
	unsigned               i;

	if (nids == 0 || opt.histories == 0) {
		printf("history: no dossiers in the journal\n");
		return;
	}
	if ((lat = calloc(opt.histories, sizeof(*lat))) == NULL)
		ab_fatalx(AB_EXIT_IO, "out of memory");
	req.command_case = BUDGET__REQUEST__COMMAND_HISTORY;
	req.history = &h;
	for (i = 0; i < opt.histories; i++) {
		/* xorshift64: a fixed sequence, so runs pick alike. */
		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		h.dossier = ids[rng % nids];
		t = bench_mono_us();
		resp = call(&req, "history");
		lat[i] = bench_mono_us() - t;
		if (resp->journal == NULL || resp->journal->n_entries == 0)
			ab_fatalx(AB_EXIT_FAILED, "history of %s: no entries",
			    h.dossier);
		entries += resp->journal->n_entries;
		budget__response__free_unpacked(resp, NULL);
	}
	qsort(lat, opt.histories, sizeof(*lat), cmp_u64);
	printf("history: dossiers=%u of=%zu entries_per_dossier=%.2f "
	       "p50_ms=%.3f p99_ms=%.3f max_ms=%.3f\n",
	    opt.histories, nids, (double)entries / opt.histories,
	    (double)lat[opt.histories / 2] / 1e3,
	    (double)lat[(opt.histories * 99) / 100] / 1e3,
	    (double)lat[opt.histories - 1] / 1e3);
	free(lat);
}

static void
bench_report(void)
{
	Budget__Request       req = BUDGET__REQUEST__INIT;
	Budget__ReportRequest r = BUDGET__REPORT_REQUEST__INIT;
	Budget__Response     *resp;
	uint64_t             *lat, t, cpu0, dossiers = 0;
	char                 *dims, *p, *by[8];
	size_t                nrows = 0;
	unsigned              i;

	if (opt.reports == 0)
		return;
	if ((dims = strdup(opt.by)) == NULL ||
	    (lat = calloc(opt.reports, sizeof(*lat))) == NULL)
		ab_fatalx(AB_EXIT_IO, "out of memory");
	for (p = strtok(dims, ","); p != NULL && r.n_by < 8;
	     p = strtok(NULL, ","))
		by[r.n_by++] = p;
	r.by = by;
	req.command_case = BUDGET__REQUEST__COMMAND_REPORT;
	req.report = &r;
	cpu0 = daemon_cpu_us();
	for (i = 0; i < opt.reports; i++) {
		t = bench_mono_us();
		resp = call(&req, "report");
		lat[i] = bench_mono_us() - t;
		if (resp->report == NULL)
			ab_fatalx(AB_EXIT_IO, "report: no result");
		nrows = resp->report->n_rows;
		dossiers =
		    resp->report->total ? resp->report->total->dossiers : 0;
		budget__response__free_unpacked(resp, NULL);
	}
	qsort(lat, opt.reports, sizeof(*lat), cmp_u64);
	printf(
	    "report: by=%s runs=%u rows=%zu dossiers=%" PRIu64
	    " min_s=%.3f median_s=%.3f max_s=%.3f daemon_cpu_s_per_run=%.3f\n",
	    opt.by, opt.reports, nrows, dossiers, (double)lat[0] / 1e6,
	    (double)lat[opt.reports / 2] / 1e6,
	    (double)lat[opt.reports - 1] / 1e6,
	    (double)(daemon_cpu_us() - cpu0) / 1e6 / opt.reports);
	free(lat);
	free(dims);
}

static void
bench_verify(void)
{
	Budget__Request       req = BUDGET__REQUEST__INIT;
	Budget__VerifyRequest v = BUDGET__VERIFY_REQUEST__INIT;
	Budget__Response     *resp;
	uint64_t              t, best = UINT64_MAX, entries = 0, cpu0;
	unsigned              i, dossiers = 0;

	if (opt.verifies == 0)
		return;
	req.command_case = BUDGET__REQUEST__COMMAND_VERIFY;
	req.verify = &v;
	cpu0 = daemon_cpu_us();
	for (i = 0; i < opt.verifies; i++) {
		t = bench_mono_us();
		resp = call(&req, "verify");
		t = bench_mono_us() - t;
		if (resp->verify == NULL)
			ab_fatalx(AB_EXIT_IO, "verify: no result");
		if (!resp->verify->ok)
			ab_fatalx(AB_EXIT_FAILED,
			    "verify: the ledger is not "
			    "sound (%zu problems)",
			    resp->verify->n_problems);
		entries = resp->verify->entries;
		dossiers = resp->verify->dossiers;
		budget__response__free_unpacked(resp, NULL);
		if (t < best)
			best = t;
	}
	printf("verify: entries=%" PRIu64 " dossiers=%u runs=%u best_s=%.3f "
	       "entries_per_s=%.0f daemon_cpu_s_per_run=%.3f\n",
	    entries, dossiers, opt.verifies, (double)best / 1e6,
	    best ? (double)entries * 1e6 / (double)best : 0.0,
	    (double)(daemon_cpu_us() - cpu0) / 1e6 / opt.verifies);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"socket", required_argument, NULL, 's'},
	    {"by", required_argument, NULL, 'b'},
	    {"histories", required_argument, NULL, 'H'},
	    {"reports", required_argument, NULL, 'r'},
	    {"verifies", required_argument, NULL, 'v'},
	    {"pid", required_argument, NULL, 'p'},
	    {"views", no_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct sockaddr_un sun;
	unsigned long      ul;
	char              *end;
	int                ch;

	while ((ch = getopt_long(
		    argc, argv, "s:b:H:r:v:p:Vh", longopts, NULL)) != -1) {
		if (ch == 's') {
			opt.socket = optarg;
			continue;
		}
		if (ch == 'b') {
			opt.by = optarg;
			continue;
		}
		if (ch == 'V') {
			opt.views = 1;
			continue;
		}
		if (ch == 'h' || ch == '?')
			usage();
		errno = 0;
		ul = strtoul(optarg, &end, 10);
		if (errno != 0 || *end != '\0' || end == optarg ||
		    ul > 10000000ul)
			usage();
		if (ch == 'H')
			opt.histories = (unsigned)ul;
		else if (ch == 'r')
			opt.reports = (unsigned)ul;
		else if (ch == 'v')
			opt.verifies = (unsigned)ul;
		else
			opt.daemon = (pid_t)ul;
	}
	if (opt.socket == NULL || optind != argc)
		usage();

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(opt.socket) >= sizeof(sun.sun_path))
		ab_fatalx(
		    AB_EXIT_USAGE, "%s: socket path too long", opt.socket);
	memcpy(sun.sun_path, opt.socket, strlen(opt.socket) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		ab_fatalx(AB_EXIT_IO, "%s: %s", opt.socket, strerror(errno));

	bench_export();
	bench_history();
	bench_report();
	bench_verify();
	close(fd);
	return (AB_EXIT_OK);
}
