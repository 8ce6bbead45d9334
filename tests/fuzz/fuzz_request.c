/*
 * fuzz_request.c: libFuzzer target for budgetd's whole request path, in
 * process, against a temporary ledger. Owns the harness that stands in for
 * budgetd.c (the global bd, budgetd_shutdown, budgetd_maybe_exit), the
 * temporary directory and its ledgers, and the oracles: every answer is a
 * well-formed Response frame echoing its request id (a batch's with one
 * answer per op), a read alone in its turn leaves the journal as it was,
 * and the checker (check.c: I-1 to I-4) holds after every few inputs, at
 * every reset and at exit. A broken oracle aborts: that is a finding.
 *
 * An input (fuzz.h, "fuzz_request's input") is one control byte and then
 * Request frames. Each frame is decoded with wire_unpack and submitted as
 * the daemon's conn.c would (struct req, no connection, the role from the
 * control byte, uid 0) through cmd_submit and cmd_run_now: the batch, its
 * nested transactions, group commit and the reader thread are the real
 * ones. The ledger lives on between inputs, so the fuzzer builds state;
 * once its journal passes FZ_RESET_ENTRIES, or its map has been full for
 * a while, it is replaced by a fresh one.
 *
 * Environment:
 *   BUDGET_FUZZ_FRESH=1    a fresh ledger for every input (reproducers:
 *                          each input then stands alone)
 *   BUDGET_FUZZ_TRAIL=DIR  where the inputs since the last reset are
 *                          written when the checker fails (default
 *                          ./budgetd-fuzz-trail-PID): replay that
 *                          directory to reproduce the state
 *   BUDGET_FUZZ_VERBOSE=N  the daemon's log verbosity (default 0)
 *   BUDGET_FUZZ_ANSWERS=1  print each answer's request id and outcome on
 *                          stdout (to see what a seed does)
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <glob.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/evp.h>

#include "budget/date.h"
#include "budget/protocol.h"
#include "budgetd.h"
#include "cmd.h"
#include "fuzz.h"

#ifndef BUDGET_RULES_FILE
#error "BUDGET_RULES_FILE must be defined by the build"
#endif

/* A new ledger once the journal holds this many entries. */
#define FZ_RESET_ENTRIES 2000
/* The checker runs after this many inputs (it replays the journal). */
#define FZ_CHECK_EVERY   64
/* The trail holds at most this many inputs and bytes: then a reset. */
#define FZ_TRAIL_MAX     4096
#define FZ_TRAIL_BYTES   (16u << 20)
/*
 * Small maps, so that growing the map and a full one are reached too
 * (FZ_RESET_ENTRIES entries take about 1 MiB); a ledger whose map is full
 * gets this many inputs, then a reset.
 */
#define FZ_MAP_SIZE      (UINT64_C(256) << 10)
#define FZ_MAP_MAX       (UINT64_C(1) << 20)
#define FZ_FULL_INPUTS   256
/* Another process's directory is stale once unlocked and this old. */
#define FZ_STALE_SECS    60

struct budgetd *bd;

static struct budgetd fz_bd;

/*
 * A request as the harness submits it: what the answer is checked against
 * once the Request itself is freed (cmd_release frees it first). cmd.c
 * frees the whole with req_free, since r comes first.
 */
struct fz_req {
	struct req r;
	char      *id;   /* request_id as sent */
	size_t     nops; /* a batch's ops; 0: not a batch */
};

#if defined(__SANITIZE_ADDRESS__)
#define FZ_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FZ_ASAN 1
#endif
#endif
#ifdef FZ_ASAN
/*
 * detect_stack_use_after_return: a callback that keeps a pointer into its
 * caller's locals is what found cmd-rules.c's bug (regress/README).
 * quarantine_size_mb: every nested LMDB transaction (one per request)
 * mallocs 3 MiB of page lists, which ASan maps and poisons afresh each
 * time; a quarantine that holds only a few keeps the RSS at 70 MB, not 300.
 */
const char *__asan_default_options(void);

const char *
__asan_default_options(void)
{
	return ("detect_stack_use_after_return=1:quarantine_size_mb=16");
}
#endif

static struct {
	char     root[PATH_MAX / 2]; /* mkdtemp: all of ours */
	char     ledger[PATH_MAX];   /* the current data directory */
	char     backup[PATH_MAX];   /* where "backup" writes */
	int      lockfd;             /* root/owner.lock, held */
	unsigned generation;         /* ledgers made */
	char    *rules;              /* the shipped rules' text */
	int      fresh;              /* BUDGET_FUZZ_FRESH */
	int      answers;            /* BUDGET_FUZZ_ANSWERS */
	int      busy;               /* inside an input */
	int      setup;              /* building the shape */
	unsigned since_check;
	uint64_t serial;         /* inputs since the ledger was made */
	unsigned full;           /* inputs since the map was nearly full */
	uint64_t inputs, checks; /* for the summary at exit */
	/*
	 * The inputs since the ledger was made, back to back: allocated once,
	 * since memory an input keeps makes libFuzzer look for leaks.
	 */
	uint8_t *trail;     /* FZ_TRAIL_BYTES */
	size_t  *trail_end; /* FZ_TRAIL_MAX: where each input ends */
	size_t   ntrail;
} fz = {.lockfd = -1};

static void
fz_die(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));
static int  fz_rm_cb(const char *, const struct stat *, int, struct FTW *);
static void fz_rmtree(const char *);
static void fz_clean_stale(const char *);
static int  fz_utf8(const char *);
static const char *fz_bad_string(const ProtobufCMessage *);
static void        fz_reply_cb(struct req *);
static void fz_submit(Budget__Request *, const struct cmd_entry *, enum role);
static void fz_settle(void);
static void fz_head(uint64_t *, uint8_t[32]);
static void fz_ledger_new(void);
static void fz_ledger_drop(void);
static void fz_check(const char *);
static int  fz_trail_add(const uint8_t *, size_t);
static void fz_trail_dump(void);
static void fz_backup_path(Budget__Request *);
static void fz_ids(Budget__Request *, const char *, int);
static void fz_exit(void);

/*
 * budgetd.c, which holds main(), stands in here: the fuzzer never shuts
 * down (only signals call budgetd_shutdown in the daemon), and
 * budgetd_maybe_exit only acts while shutting down.
 */
void
budgetd_shutdown(void)
{
	fz_die("budgetd_shutdown called outside the daemon");
}

void
budgetd_maybe_exit(void)
{
}

static void
fz_die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "fuzz_request: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

static int
fz_rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	if (remove(path) == -1 && errno != ENOENT)
		fprintf(
		    stderr, "fuzz_request: %s: %s\n", path, strerror(errno));
	return (0);
}

static void
fz_rmtree(const char *path)
{
	nftw(path, fz_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/*
 * A process that crashed (which is what fuzzers find) leaves its directory
 * behind, and in /dev/shm that is memory: remove those whose owner is gone,
 * which is when nobody holds the lock on their owner.lock.
 */
static void
fz_clean_stale(const char *tmp)
{
	glob_t      g;
	struct stat st;
	char        lock[PATH_MAX];
	size_t      i;
	int         fd;

	snprintf(lock, sizeof(lock), "%s/budgetd-fuzz.*", tmp);
	if (glob(lock, GLOB_NOSORT, NULL, &g) != 0)
		return;
	for (i = 0; i < g.gl_pathc; i++) {
		snprintf(lock, sizeof(lock), "%s/owner.lock", g.gl_pathv[i]);
		if ((fd = open(lock, O_RDWR | O_CLOEXEC)) == -1)
			continue;
		if (fstat(fd, &st) == 0 &&
		    st.st_mtime + FZ_STALE_SECS < time(NULL) &&
		    flock(fd, LOCK_EX | LOCK_NB) == 0)
			fz_rmtree(g.gl_pathv[i]);
		close(fd);
	}
	globfree(&g);
}

/* Valid UTF-8: no overlong forms, surrogates or code points past 10FFFF. */
static int
fz_utf8(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t             c, min;
	int                  i, n;

	while (*p != '\0') {
		if (*p < 0x80) {
			p++;
			continue;
		}
		if ((*p & 0xe0) == 0xc0) {
			n = 1;
			c = *p & 0x1f;
			min = 0x80;
		} else if ((*p & 0xf0) == 0xe0) {
			n = 2;
			c = *p & 0x0f;
			min = 0x800;
		} else if ((*p & 0xf8) == 0xf0) {
			n = 3;
			c = *p & 0x07;
			min = 0x10000;
		} else
			return (0);
		/* A NUL is no continuation byte: this stops at the end. */
		for (i = 1; i <= n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return (0);
			c = c << 6 | (p[i] & 0x3f);
		}
		if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
			return (0);
		p += n + 1;
	}
	return (1);
}

/*
 * The first string field of m (or of a message in it) that is not valid
 * UTF-8, which proto3 requires of every string: conforming clients (Go,
 * Python, Java) refuse the whole answer. A Response's request_id is left
 * out: it echoes whatever the client sent.
 */
static const char *
fz_bad_string(const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	const ProtobufCFieldDescriptor   *f;
	const uint8_t                    *base = (const uint8_t *)m;
	const void                       *field;
	const char                       *bad;
	size_t                            i, j, n;

	for (i = 0; i < d->n_fields; i++) {
		f = &d->fields[i];
		field = base + f->offset;
		if ((f->type != PROTOBUF_C_TYPE_STRING &&
			f->type != PROTOBUF_C_TYPE_MESSAGE) ||
		    (d == &budget__response__descriptor &&
			strcmp(f->name, "request_id") == 0))
			continue;
		if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
		    *(const uint32_t *)(const void *)(base +
			f->quantifier_offset) != f->id)
			continue;
		n = 1;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			n = *(const size_t *)(const void *)(base +
			    f->quantifier_offset);
			field = *(const void *const *)field;
		}
		for (j = 0; j < n; j++) {
			const void *const *p = (const void *const *)field + j;

			if (*p == NULL)
				continue;
			if (f->type == PROTOBUF_C_TYPE_STRING) {
				if (!fz_utf8(*p))
					return (f->name);
			} else if ((bad = fz_bad_string(*p)) != NULL)
				return (bad);
		}
	}
	return (NULL);
}

/*
 * Every answer must be one whole Response frame (cmd.c guarantees it)
 * that decodes, echoes the request id and has valid UTF-8 in its other
 * strings; a batch's must hold one answer per op unless it was refused
 * whole. While the shape is built, every answer must be a success. The
 * daemon's own requests have nobody to answer.
 */
static void
fz_reply_cb(struct req *r)
{
	struct fz_req    *fr = (struct fz_req *)r;
	Budget__Response *resp;
	const char       *bad;
	char              clean[512];
	uint32_t          be;

	if (r->cmd->flags & CMD_INTERNAL)
		return;
	if (r->reply == NULL || r->reply_len <= BUDGET_FRAME_HEADER)
		fz_die("request #%llu (%s): no answer",
		    (unsigned long long)r->seq, r->cmd->name);
	memcpy(&be, r->reply, sizeof(be));
	if (ntohl(be) != r->reply_len - BUDGET_FRAME_HEADER)
		fz_die("request #%llu (%s): frame says %u bytes, has %zu",
		    (unsigned long long)r->seq, r->cmd->name, ntohl(be),
		    r->reply_len - BUDGET_FRAME_HEADER);
	resp = budget__response__unpack(NULL,
	    r->reply_len - BUDGET_FRAME_HEADER, r->reply + BUDGET_FRAME_HEADER);
	if (resp == NULL)
		fz_die("request #%llu (%s): the answer does not decode",
		    (unsigned long long)r->seq, r->cmd->name);
	if (strcmp(resp->request_id, fr->id) != 0)
		fz_die("request #%llu (%s): answered as request id \"%s\"",
		    (unsigned long long)r->seq, r->cmd->name, resp->request_id);
	if ((bad = fz_bad_string(&resp->base)) != NULL)
		fz_die("request #%llu (%s): the answer's %s is not UTF-8%s%s",
		    (unsigned long long)r->seq, r->cmd->name, bad,
		    resp->error != NULL ? ": " : "",
		    resp->error != NULL ? log_clean(resp->error->message,
					      strlen(resp->error->message),
					      clean, sizeof(clean))
					: "");
	if (fr->nops > 0 && resp->error == NULL &&
	    (resp->result_case != BUDGET__RESPONSE__RESULT_BATCH ||
		resp->batch->n_results != fr->nops))
		fz_die("request #%llu: a batch of %zu ops answered with %zu",
		    (unsigned long long)r->seq, fr->nops,
		    resp->result_case == BUDGET__RESPONSE__RESULT_BATCH
			? resp->batch->n_results
			: 0);
	if (fz.answers && !fz.setup)
		printf("  %s %s: %s%s%s\n", r->cmd->name, resp->request_id,
		    resp->error != NULL ? resp->error->code : "ok",
		    resp->error != NULL ? ": " : "",
		    resp->error != NULL ? log_clean(resp->error->message,
					      strlen(resp->error->message),
					      clean, sizeof(clean))
					: "");
	if (fz.setup && resp->error != NULL)
		fz_die("shape: request #%llu (%s) refused: %s: %s",
		    (unsigned long long)r->seq, r->cmd->name, resp->error->code,
		    resp->error->message);
	budget__response__free_unpacked(resp, NULL);
	free(fr->id);
	fr->id = NULL;
}

/* As conn_request does it; takes ownership of msg. */
static void
fz_submit(Budget__Request *msg, const struct cmd_entry *cmd, enum role role)
{
	struct fz_req *fr = xcalloc(1, sizeof(*fr));
	struct req    *r = &fr->r;

	fr->id = xstrdup(msg->request_id);
	if (msg->command_case == BUDGET__REQUEST__COMMAND_BATCH)
		fr->nops = msg->batch->n_ops;
	r->conn = NULL;
	r->msg = msg;
	r->cmd = cmd;
	r->role = role;
	r->uid = 0;
	r->on_done = fz_reply_cb;
	cmd_submit(r);
}

/*
 * Run everything queued, then wait for the reader thread and let the loop
 * hand its answers back, until nothing is in flight.
 */
static void
fz_settle(void)
{
	cmd_run_now();
	while (reader_inflight() > 0 || cmd_batch_pending()) {
		reader_drain();
		event_base_loop(bd->base, EVLOOP_NONBLOCK);
		cmd_run_now();
	}
	/* The batch event may still be active: let it find nothing. */
	event_base_loop(bd->base, EVLOOP_NONBLOCK);
}

/* The journal's last entry, as committed. */
static void
fz_head(uint64_t *seq, uint8_t hash[32])
{
	struct store_txn t;

	store_begin(&t, 0);
	journal_head(&t, seq, hash);
	store_abort(&t);
}

/* A new data directory with the shape in it, built in one batch. */
static void
fz_ledger_new(void)
{
	char  *cause = NULL;
	size_t i;

	snprintf(fz.ledger, sizeof(fz.ledger), "%s/ledger-%u", fz.root,
	    ++fz.generation);
	if (store_open(fz.ledger, FZ_MAP_SIZE, FZ_MAP_MAX, &cause) == -1)
		fz_die("store_open: %s", cause);
	bd->conf.datadir = fz.ledger;
	fz.setup = 1;
	for (i = 0; i < shape_nsetup; i++) {
		Budget__Request *msg = spec_request(shape_setup[i]);

		fz_submit(msg, cmd_lookup((int)msg->command_case), ROLE_ADMIN);
	}
	fz_settle();
	fz.setup = 0;
	fz.ntrail = 0;
	fz.serial = 0;
	fz.full = 0;
	fz.since_check = 0;
}

static void
fz_ledger_drop(void)
{
	store_close();
	fz_rmtree(fz.ledger);
}

/* Keep an input for the trail; -1 when it is full. */
static int
fz_trail_add(const uint8_t *data, size_t len)
{
	size_t at = fz.ntrail > 0 ? fz.trail_end[fz.ntrail - 1] : 0;

	if (fz.ntrail == FZ_TRAIL_MAX || len > FZ_TRAIL_BYTES - at)
		return (-1);
	memcpy(fz.trail + at, data, len);
	fz.trail_end[fz.ntrail++] = at + len;
	return (0);
}

/* Write the inputs since the last reset, in order, for replay. */
static void
fz_trail_dump(void)
{
	const char *env = getenv("BUDGET_FUZZ_TRAIL");
	char        dir[PATH_MAX / 2], path[PATH_MAX];
	FILE       *f;
	size_t      i, at, len;

	if (env != NULL && *env != '\0')
		snprintf(dir, sizeof(dir), "%s", env);
	else
		snprintf(
		    dir, sizeof(dir), "budgetd-fuzz-trail-%ld", (long)getpid());
	if (mkdir(dir, 0755) == -1 && errno != EEXIST) {
		fprintf(stderr, "fuzz_request: %s: %s\n", dir, strerror(errno));
		return;
	}
	for (i = 0; i < fz.ntrail; i++) {
		at = i > 0 ? fz.trail_end[i - 1] : 0;
		len = fz.trail_end[i] - at;
		snprintf(path, sizeof(path), "%s/%06zu", dir, i + 1);
		if ((f = fopen(path, "wb")) == NULL ||
		    fwrite(fz.trail + at, 1, len, f) != len || fclose(f) != 0)
			fprintf(stderr, "fuzz_request: %s: %s\n", path,
			    strerror(errno));
	}
	fprintf(stderr,
	    "fuzz_request: the %zu inputs since the ledger was made are in "
	    "%s/: replay them in order to reproduce\n",
	    fz.ntrail, dir);
}

/* The invariants (check.c); a broken one is a finding. */
static void
fz_check(const char *when)
{
	struct store_txn    t;
	struct check_report r;
	size_t              i;

	store_begin(&t, 0);
	check_ledger(&t, &r);
	store_abort(&t);
	fz.since_check = 0;
	fz.checks++;
	if (r.ok) {
		check_report_free(&r);
		return;
	}
	fprintf(stderr, "fuzz_request: the checker fails %s (%llu entries):\n",
	    when, (unsigned long long)r.entries);
	for (i = 0; i < r.nproblems; i++)
		fprintf(stderr, "  %s\n", r.problems[i]);
	check_report_free(&r);
	if (!fz.fresh)
		fz_trail_dump();
	abort();
}

/*
 * A backup writes where it is told: keep it inside our directory. A path
 * the command takes (its checks, copied here) becomes our backup
 * directory; any other absolute path gets our directory in front, which
 * keeps it as long and as malformed as it was, so that the command's
 * checks are fuzzed too and, should they ever let more through, the copy
 * still lands with us.
 */
static void
fz_backup_path(Budget__Request *msg)
{
	Budget__BackupRequest *b = msg->backup;
	char                  *path;

	if (msg->command_case != BUDGET__REQUEST__COMMAND_BACKUP || b == NULL ||
	    b->path[0] != '/')
		return;
	if (strlen(b->path) <= 1024 && ledger_text_ok(b->path, 1024))
		path = xstrdup(fz.backup);
	else
		xasprintf(&path, "%s%s", fz.backup, b->path);
	free(b->path); /* set by the decoder: a string of its own */
	b->path = path;
}

/* Make the request ids of msg (and its ops) this input's (fuzz.h). */
static void
fz_ids(Budget__Request *msg, const char *suffix, int depth)
{
	size_t len = strlen(msg->request_id), slen = strlen(suffix), i;
	char  *id;

	/* Empty is the decoder's shared default, not a string of its own. */
	if (len > 0 && len + slen <= BUDGET_REQUEST_ID_MAX) {
		id = xmalloc(len + slen + 1);
		memcpy(id, msg->request_id, len);
		memcpy(id + len, suffix, slen + 1);
		free(msg->request_id);
		msg->request_id = id;
	}
	if (msg->command_case == BUDGET__REQUEST__COMMAND_BATCH && depth < 2) {
		for (i = 0; i < msg->batch->n_ops; i++)
			fz_ids(msg->batch->ops[i], suffix, depth + 1);
	}
}

static void
fz_exit(void)
{
	struct store_info si;
	uint8_t           head[32];
	uint64_t          seq;

	if (fz.root[0] == '\0')
		return;
	/*
	 * exit() from inside an input (fatalx) may come with a transaction
	 * open or from the reader thread: then only clean up the disk.
	 */
	if (!fz.busy) {
		fz_check("at exit");
		fz_head(&seq, head);
		store_info(&si);
		fprintf(stderr,
		    "fuzz_request: %llu inputs, %u ledgers, %llu checks; the "
		    "last ledger: %llu journal entries, map %llu of %llu KiB\n",
		    (unsigned long long)fz.inputs, fz.generation,
		    (unsigned long long)fz.checks, (unsigned long long)seq,
		    (unsigned long long)(si.map_used >> 10),
		    (unsigned long long)(si.map_size >> 10));
		reader_stop();
		cmd_shutdown();
		store_close();
		event_base_free(bd->base);
		free(fz.trail);
		free(fz.trail_end);
		free(fz.rules);
	}
	fz_rmtree(fz.root);
	if (fz.lockfd != -1)
		close(fz.lockfd);
	fz.root[0] = '\0';
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char   *tmp = getenv("TMPDIR"), *env;
	char          lock[PATH_MAX + 16];
	unsigned char digest[EVP_MAX_MD_SIZE];

	(void)argc;
	(void)argv;
	/* Ledgers fsync every commit: memory-backed, that costs nothing. */
	if (tmp == NULL || *tmp == '\0')
		tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	fz_clean_stale(tmp);
	snprintf(fz.root, sizeof(fz.root), "%s/budgetd-fuzz.XXXXXX", tmp);
	if (mkdtemp(fz.root) == NULL)
		fz_die("mkdtemp %s: %s", fz.root, strerror(errno));
	snprintf(lock, sizeof(lock), "%s/owner.lock", fz.root);
	fz.lockfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fz.lockfd == -1 || flock(fz.lockfd, LOCK_EX) == -1)
		fz_die("%s: %s", lock, strerror(errno));
	snprintf(fz.backup, sizeof(fz.backup), "%s/backup", fz.root);
	/*
	 * OpenSSL cleans up in an atexit handler of its own, registered when
	 * it is first used; the checker at exit hashes the journal, so use
	 * it once now: its handler then runs after ours.
	 */
	if (EVP_Digest("", 0, digest, NULL, EVP_sha256(), NULL) != 1)
		fz_die("EVP_Digest");
	atexit(fz_exit);

	if ((env = getenv("BUDGET_FUZZ_VERBOSE")) != NULL)
		log_setverbose(atoi(env));
	fz.fresh = (env = getenv("BUDGET_FUZZ_FRESH")) != NULL &&
	    strcmp(env, "0") != 0 && *env != '\0';
	fz.answers = (env = getenv("BUDGET_FUZZ_ANSWERS")) != NULL &&
	    strcmp(env, "0") != 0 && *env != '\0';
	if (!fz.fresh) {
		fz.trail = xmalloc(FZ_TRAIL_BYTES);
		fz.trail_end = xcalloc(FZ_TRAIL_MAX, sizeof(*fz.trail_end));
	}
	fz.rules = spec_read_file(BUDGET_RULES_FILE, NULL);
	spec_set_rules(fz.rules);

	bd = &fz_bd;
	config_defaults(&bd->conf);
	bd->started_at = timestamp_now();
	bd->euid = 0;
	TAILQ_INIT(&bd->conns);
	if ((bd->base = event_base_new()) == NULL)
		fz_die("event_base_new");
	cmd_init();
	reader_start();
	fz_ledger_new();
	return (0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct cmd_entry *cmd;
	Budget__Request        *msg;
	uint8_t                 head[32], head2[32];
	uint64_t                seq, seq2;
	struct store_info       si;
	char                    suffix[24];
	uint32_t                be;
	size_t                  left, len;
	enum role               role;
	int                     ctl, n;

	if (size == 0)
		return (0);
	if (fz.fresh || fz_trail_add(data, size) == -1) {
		/* Every input since the ledger was made is in the trail. */
		if (!fz.fresh && fz.since_check > 0)
			fz_check("before a reset");
		fz_ledger_drop();
		fz_ledger_new();
		if (!fz.fresh && fz_trail_add(data, size) == -1)
			fprintf(stderr,
			    "fuzz_request: an input of %zu bytes is "
			    "not in the trail\n",
			    size);
	}
	fz.busy = 1;
	ctl = data[0];
	role = (enum role)fuzz_req_roles[ctl & FUZZ_REQ_ROLE_MASK];
	snprintf(
	    suffix, sizeof(suffix), ":%llu", (unsigned long long)fz.serial++);
	data++;
	left = size - 1;
	for (n = 0; n < FUZZ_REQ_FRAMES && left >= BUDGET_FRAME_HEADER; n++) {
		memcpy(&be, data, sizeof(be));
		data += BUDGET_FRAME_HEADER;
		left -= BUDGET_FRAME_HEADER;
		len = ntohl(be);
		if (len > left)
			len = left;
		/* What conn.c refuses ends the connection, and the input. */
		if (len == 0 || len > bd->conf.frame_max)
			break;
		msg =
		    (Budget__Request *)wire_unpack(&budget__request__descriptor,
			bd->conf.frame_max, len, data);
		data += len;
		left -= len;
		if (msg == NULL)
			break;
		if (msg->version != BUDGET_PROTOCOL_VERSION ||
		    (cmd = cmd_lookup((int)msg->command_case)) == NULL) {
			protobuf_c_message_free_unpacked(&msg->base, NULL);
			break;
		}
		fz_backup_path(msg);
		if (!(ctl & FUZZ_REQ_SAME_IDS))
			fz_ids(msg, suffix, 0);
		if (!(ctl & FUZZ_REQ_TURNS)) {
			fz_submit(msg, cmd, role);
			continue;
		}
		/*
		 * Alone in its turn, a read must leave the journal alone; one
		 * the role may not run adds its refusal, and nothing else.
		 */
		fz_head(&seq, head);
		fz_submit(msg, cmd, role);
		fz_settle();
		fz_head(&seq2, head2);
		if ((cmd->flags & CMD_READONLY) &&
		    (cmd->roles & CMD_ROLE(role)) &&
		    (seq2 != seq || memcmp(head, head2, sizeof(head)) != 0))
			fz_die("%s, a read, moved the journal from entry %llu "
			       "to %llu",
			    cmd->name, (unsigned long long)seq,
			    (unsigned long long)seq2);
		if ((cmd->flags & CMD_READONLY) &&
		    !(cmd->roles & CMD_ROLE(role)) && seq2 > seq + 1)
			fz_die("%s, a refused read, moved the journal from "
			       "entry %llu to %llu",
			    cmd->name, (unsigned long long)seq,
			    (unsigned long long)seq2);
	}
	if (ctl & FUZZ_REQ_EXPIRE) {
		/* What expiry.c queues once a second when one is due. */
		struct req *r = xcalloc(1, sizeof(*r));

		r->cmd = &cmd_dossier_expire_entry;
		r->role = ROLE_ADMIN;
		r->uid = bd->euid;
		r->msg = budget__request__unpack(NULL, 0, NULL);
		cmd_submit(r);
	}
	fz_settle();
	fz_rmtree(fz.backup);
	fz.busy = 0;
	fz.inputs++;

	if (fz.fresh || ++fz.since_check >= FZ_CHECK_EVERY)
		fz_check("after an input");
	if (fz.fresh)
		return (0);
	fz_head(&seq, head);
	store_info(&si);
	if (si.map_used >= FZ_MAP_MAX / 10 * 9)
		fz.full++;
	if (seq >= FZ_RESET_ENTRIES || fz.full >= FZ_FULL_INPUTS) {
		if (fz.since_check > 0)
			fz_check("before a reset");
		fz_ledger_drop();
		fz_ledger_new();
	}
	return (0);
}
