/*
 * budgetd.h: the daemon's one private header. Structs first, then the
 * prototypes of each file under its name, in the order a request travels:
 * control (accept) -> conn (frames) -> cmd (dispatch, batch) -> store.
 */
#ifndef BUDGETD_H
#define BUDGETD_H

#include <sys/types.h>
#include <sys/queue.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "budget/canon.h"
#include "budget/errors.h"
#include "log.h"

struct event_base;
struct bufferevent;
struct evbuffer;

/*
 * Roles, from the least to the most powerful. A connection's role is fixed
 * at accept time from the peer's credentials.
 */
enum role {
	ROLE_NONE = 0,   /* no role configured: every command refused */
	ROLE_AUDITOR,    /* reads only */
	ROLE_WORKFLOW,   /* dossiers; no budgets, rules or links */
	ROLE_CONTROLLER, /* everything but administration */
	ROLE_ADMIN,      /* everything */
};

/* One "who gets which role" rule from the [roles] section. */
struct role_rule {
	enum role role;
	int       is_group; /* match gid (primary or supplementary) */
	uint32_t  id;       /* uid or gid */
};

/*
 * The configuration: compiled defaults, then the config file, then the
 * command line. Fields marked (reload) are re-read on SIGHUP.
 */
struct config {
	char             *path; /* config file or NULL */
	char             *datadir;
	char             *socket;
	unsigned          socket_mode; /* permissions of the socket file */
	unsigned          max_conns;   /* (reload) */
	unsigned          max_conns_per_uid; /* (reload) */
	unsigned          idle_timeout;      /* (reload) seconds */
	unsigned          write_timeout;     /* (reload) seconds */
	unsigned          frame_timeout;     /* (reload) seconds */
	size_t            frame_max;         /* bytes, frame payload */
	uint64_t          map_size;          /* initial LMDB map, bytes */
	uint64_t          map_max;           /* the map never grows past it */
	int64_t           reservation_ttl;   /* (reload) seconds */
	unsigned          commit_wait_us;    /* (reload) cmd.c */
	int               verbose;           /* (reload) */
	struct role_rule *roles;             /* (reload) */
	size_t            nroles;
	int               roles_configured; /* a [roles] section was read */
};

/*
 * Connection states. A connection is created READING; BLOCKED while it has
 * too much unanswered or unsent work; CLOSING once it must not be read any
 * more (protocol violation, peer EOF, shutdown): it is freed when its last
 * answer is written.
 */
enum conn_state {
	CONN_READING,
	CONN_BLOCKED,
	CONN_CLOSING,
};

struct req;
TAILQ_HEAD(req_list, req);

/*
 * Requests that must stay in order among themselves (a connection's; or
 * all those without one), and how many of them cmd.c holds back: the
 * ones held, and in which pass over the queue one was held last.
 */
struct hold_chain {
	unsigned held;
	uint64_t pass;
};

struct conn {
	uint32_t            id;
	int                 fd;
	enum conn_state     state;
	struct bufferevent *bev;
	struct evbuffer    *ready;       /* answers on their way to bev */
	struct event       *frame_timer; /* a frame must complete */
	uid_t               uid;
	gid_t               gid;
	pid_t               pid;
	enum role           role;
	struct req_list     reqs;     /* answers owed, in order */
	unsigned            npending; /* entries in reqs */
	unsigned            nslow;    /* of them, long reads (CMD_SLOW) */
	unsigned            queued;   /* of them, waiting for a batch */
	struct hold_chain   hold;     /* of them, held back (cmd_hold) */
	uint64_t            awaited;  /* cmd.c's commit wait: a turn */
	int                 missed;   /* it let a commit wait time out */
	uint64_t            answered; /* the write turn that answered it last */
	int                 writing;  /* on bd->writing */
	TAILQ_ENTRY(conn) entry;
	TAILQ_ENTRY(conn) writing_entry;
};
TAILQ_HEAD(conn_list, conn);

/*
 * What a connection that went away left to run (conn_free): it counts
 * against the connection limits until the last of it has run, so that a
 * client cannot leave more behind than it could keep open.
 */
struct conn_ghost {
	uid_t    uid;
	unsigned left; /* its requests not yet run */
	TAILQ_ENTRY(conn_ghost) entry;
};
TAILQ_HEAD(ghost_list, conn_ghost);

/*
 * One request, from decoding to its answer. It sits on its connection's
 * list (for answer order) and, until executed, on the batch queue.
 */
struct req {
	struct conn            *conn;  /* NULL: internal, or peer went away */
	struct conn_ghost      *ghost; /* peer went away: what it left */
	struct Budget__Request *msg;   /* owned; freed after execution */
	const struct cmd_entry *cmd;
	enum role               role; /* the caller's, fixed when it arrived */
	uid_t                   uid;
	uint8_t                *reply; /* whole frame, header included */
	size_t                  reply_len;
	int                     done;        /* reply is ready to be written */
	int                     close_after; /* protocol error: then close */
	int                     held;  /* held back, or taken from there */
	void (*on_done)(struct req *); /* internal: after it ran */
	uint64_t seq;                  /* arrival order, for logs */
	TAILQ_ENTRY(req) conn_entry;
	TAILQ_ENTRY(req) batch_entry;
};

/*
 * A transaction. err is sticky: once set, every store_* call on this txn is
 * a no-op and store_commit aborts. Callers check err once, at the end.
 */
/*
 * The journal's head as a transaction sees it: loaded from the meta
 * database once, moved by every append, written back once by
 * journal_flush() before the top-level commit. A nested transaction works
 * on a copy and hands it back on commit, so an aborted command's entries
 * never move the head.
 */
struct store_jhead {
	int      loaded;
	int      dirty; /* appended to: write at the top-level commit */
	uint64_t seq;
	int64_t  time;
	uint8_t  hash[32];
};

struct store_txn {
	void              *txn; /* MDB_txn * (opaque outside store.c) */
	int                err; /* 0 or enum store_err */
	int                rw;
	struct store_txn  *parent;
	struct store_jhead jh;
	uint64_t           writes; /* puts and deletes tried (cmd.c) */
};

enum store_err {
	STORE_OK = 0,
	STORE_NOTFOUND = 1, /* a plain result, never sticky */
	STORE_FULL,         /* map or disk full */
	STORE_LIMIT,        /* too many dirty pages in one txn */
	STORE_IO,           /* anything else: logged */
	STORE_CORRUPT,      /* a value that does not decode */
};

/* The named databases of the environment. */
enum store_db {
	STORE_DB_META,      /* schema version, counters, journal head */
	STORE_DB_REQUESTS,  /* request id -> digest and answer */
	STORE_DB_RULES,     /* 'S' + name: rule sets; 'R' + name: regimes */
	STORE_DB_CONTRACTS, /* id -> Contract */
	STORE_DB_COMPANIES, /* number -> Company */
	STORE_DB_LINKS,     /* a + b + since -> Link, both directions */
	STORE_DB_GRANTS,    /* company + date + id -> Grant */
	STORE_DB_DOSSIERS,  /* id -> Dossier */
	STORE_DB_COMPANY_DOSSIERS, /* company + dossier id -> (empty) */
	STORE_DB_EXPIRY,           /* expires_at + dossier id -> (empty) */
	STORE_DB_JOURNAL,          /* seq -> JournalEntry */
	STORE_DB_HISTORY,          /* type + id + NUL + seq -> (empty) */
	STORE_DB__COUNT
};

/* A value read from the store: always a private copy, free with free(). */
/*
 * The on-disk layout: bumped whenever it changes, with a step in upgrade.c
 * from the one before. Ledgers older than STORE_SCHEMA_OLDEST predate the
 * first release and are refused.
 */
#define STORE_SCHEMA        4
#define STORE_SCHEMA_OLDEST 2

struct store_val {
	void  *data;
	size_t len;
};

/* Counters the status command and the logs report. */
struct store_info {
	uint64_t map_size;
	uint64_t map_used;
	uint64_t schema;
};

/*
 * Ledger records: the daemon's own view of what store.proto holds. Money
 * is int64 cents, business dates int32 days since 1970-01-01 (see
 * budget/date.h), timestamps int64 microseconds UTC.
 */
#define LEDGER_ID_MAX     64  /* contract and dossier ids, request ids */
#define LEDGER_TEXT_MAX   256 /* names, reasons, sources */
#define LEDGER_PKG_MAX    16  /* package names */
#define LEDGER_RULES_PKGS 8   /* packages per rule set */
#define LEDGER_GRANTS_MAX 32  /* grant events per dossier */
#define LEDGER_RID_SZ     11  /* ten digits and a NUL */
/* The longest reservation, seconds: --ttl and reservation_ttl. */
#define DOSSIER_TTL_MAX   (366 * 86400)

enum company_size {
	SIZE_NONE = 0,
	SIZE_MICRO,
	SIZE_SMALL,
	SIZE_MEDIUM,
	SIZE_LARGE,
};

enum dossier_state {
	DS_NONE = 0,
	DS_RESERVED,  /* money held, waiting for approval or expiry */
	DS_APPROVED,  /* committed; may be amended, paid, withdrawn */
	DS_COMPLETED, /* final report in; may be paid and closed */
	DS_CLOSED,    /* settled: unpaid remainder released */
	DS_CANCELLED, /* reservation released on request */
	DS_EXPIRED,   /* reservation released by the daemon */
	DS_WITHDRAWN, /* stopped after approval: unpaid part released */
};

enum grant_kind {
	GRANT_NONE = 0,
	GRANT_INITIAL,   /* a dossier's first approval */
	GRANT_UPGRADE,   /* an approved amendment to a bigger package */
	GRANT_EXTENSION, /* an approved amendment adding extensions */
	GRANT_DECLARED,  /* external de-minimis aid, declared */
};

struct contract {
	char     id[LEDGER_ID_MAX + 1];
	char     provider[LEDGER_TEXT_MAX + 1];
	char     framework[LEDGER_ID_MAX + 1];
	int64_t  budget;
	int64_t  reserved;
	int64_t  committed;
	int64_t  paid;
	int      closed;
	int64_t  opened_at;
	uint32_t ndossiers;
};

struct company {
	char              number[LEDGER_RID_SZ];
	char              name[LEDGER_TEXT_MAX + 1];
	char              postcode[5];
	enum company_size size;
	int               maatwerk;
	int               nis2;
	int               flemish; /* declared establishment in Flanders */
	char              absorbed_into[LEDGER_RID_SZ];
	int32_t           absorbed_on;
	int64_t           added_at;
};

struct link {
	char    parent[LEDGER_RID_SZ];
	char    child[LEDGER_RID_SZ];
	int32_t since; /* first day */
	int32_t until; /* last day; 0: open-ended */
	int     merge; /* child absorbed into parent */
};

struct grant {
	uint64_t        id;
	char            company[LEDGER_RID_SZ];
	int32_t         date;
	int64_t         amount;    /* as granted */
	int64_t         effective; /* after reductions */
	char            source[LEDGER_TEXT_MAX + 1];
	char            dossier[LEDGER_ID_MAX + 1];
	enum grant_kind kind;
	char            package[LEDGER_PKG_MAX + 1];
	char            contract[LEDGER_ID_MAX + 1];
};

struct dossier {
	char               id[LEDGER_ID_MAX + 1];
	char               company[LEDGER_RID_SZ];
	char               contract[LEDGER_ID_MAX + 1];
	char               package[LEDGER_PKG_MAX + 1];
	enum dossier_state state;
	int64_t            cost; /* approved totals ... */
	int64_t            extension_cost;
	int64_t            subsidy; /* ... and their subsidy */
	int64_t            granted; /* approved, after reductions */
	int64_t            paid;
	int64_t            pending;    /* reserved, not yet approved */
	int64_t            expires_at; /* of the pending reservation */
	int64_t            released;   /* given back on close/withdraw */
	char               rule_set[LEDGER_ID_MAX + 1];
	uint32_t           rate_bp;
	int32_t            reserved_on;
	int32_t            first_decision; /* 0: never approved */
	uint64_t           grants[LEDGER_GRANTS_MAX];
	size_t             ngrants;
	/* An amendment waiting for approval: the totals it asks for. */
	char    pending_package[LEDGER_PKG_MAX + 1];
	int64_t pending_cost;
	int64_t pending_extension_cost;
	int64_t pending_subsidy;
};

struct rule_package {
	char     name[LEDGER_PKG_MAX + 1];
	int64_t  min_cost; /* base cost band, inclusive */
	int64_t  max_cost;
	uint32_t rank;       /* upgrades go up */
	int      extensions; /* extension packages allowed */
};

struct ruleset {
	char                name[LEDGER_ID_MAX + 1];
	int32_t             from;
	uint32_t            rate_sme_bp; /* 0: not eligible */
	uint32_t            rate_maatwerk_bp;
	uint32_t            rate_large_nis2_bp;
	int64_t             max_total_cost; /* 0: no cap */
	int64_t             max_subsidy;    /* 0: no cap */
	uint32_t            exclusion_years;
	struct rule_package pkgs[LEDGER_RULES_PKGS];
	size_t              npkgs;
};

struct dm_regime {
	char     name[LEDGER_ID_MAX + 1];
	int32_t  from;
	int64_t  ceiling;
	int      fiscal; /* fiscal years, else rolling */
	uint32_t years;
	uint64_t loaded_seq; /* the rules_load entry; 0 in a rules file */
};

/* A parsed rules file. */
struct rulebook {
	struct ruleset   *sets;
	size_t            nsets;
	struct dm_regime *regimes;
	size_t            nregimes;
};

/*
 * One journal entry as the daemon builds it (store.proto JournalEntry).
 * Strings are borrowed: they must outlive journal_append().
 */
struct jentry {
	uint64_t        seq;
	int64_t         time;
	const char     *kind;
	const char     *request_id;
	uint32_t        uid;
	const char     *role;
	const char     *error;
	const char     *contract;
	const char     *company;
	const char     *company2;
	const char     *dossier;
	int64_t         amount;
	int32_t         date;
	int32_t         until;
	const char     *package;
	int64_t         cost;
	int64_t         extension_cost;
	int64_t         subsidy;
	int64_t         budget;
	int64_t         expires_at;
	const char     *rule_set;
	uint32_t        rate_bp;
	uint64_t        grant_id;
	const uint64_t *grant_ids; /* reductions */
	const int64_t  *grant_amounts;
	size_t          ngrant_changes;
	const char     *provider;
	const char     *framework;
	const char     *name;
	const char     *postcode;
	uint32_t        size;
	uint32_t        flags;
	const char     *reason;
	const char     *text;
	int64_t         pending;
	const char     *command;
	uint8_t         hash[32]; /* set by journal_append */
};
#define JFLAG_MAATWERK 0x1
#define JFLAG_NIS2     0x2
#define JFLAG_FLEMISH  0x4

/* A cursor over the keys of one database that start with a prefix. */
struct store_cursor {
	void             *cur; /* MDB_cursor * */
	struct store_txn *t;
	uint8_t           prefix[LEDGER_ID_MAX + 16];
	size_t            plen;
	int               started;
	int               dup; /* walking one key's duplicates */
	uint8_t           from[16];
	size_t            flen;
};

/* A walk of one entity's journal entries (journal.c), by entity type. */
#define HIST_DOSSIER  'D'
#define HIST_COMPANY  'C'
#define HIST_CONTRACT 'K'
struct history_cursor {
	struct store_cursor cur;
};

/* What the company index says of a dossier (record.c). */
struct dossier_summary {
	char               id[LEDGER_ID_MAX + 1];
	char               company[LEDGER_RID_SZ];
	enum dossier_state state;
	int32_t            first_decision;
	int64_t            pending;
	int64_t            paid;
};

/* A walk of a database that follows another in key order (record.c). */
struct record_follow {
	struct store_cursor cur;
	struct store_val    k, v;
	int                 state; /* 0 not started, 1 on k/v, 2 at the end */
};

/* A single undertaking: company numbers, the first one the starting point. */
struct undertaking {
	char (*m)[LEDGER_RID_SZ];
	size_t n, cap;
};
#define UNDERTAKING_ANY_DAY INT32_MIN /* every link, whatever its dates */
#define DM_PENDING          0x1 /* dm_verify: count pending reservations */
#define DM_ALL_WINDOWS      0x2 /* dm_verify: every window, not only day's */
#define DM_GRANT_DAYS       0x4 /* dm_verify: day itself is no grant day */
#define DM_OWN_FIRST        0x8 /* dm_verify: from company's first grant */

/* A company's de-minimis position on a day. */
struct dm_position {
	struct dm_regime   regime;
	int32_t            start, end; /* the window, inclusive */
	int64_t            used;       /* grants in the window */
	int64_t            pending;    /* reservations of the undertaking */
	struct undertaking group;      /* free with undertaking_free */
};

/*
 * protobuf-c declares string fields char * although packing only reads
 * them; this is the one sanctioned way to put a const string there.
 */
#define PB_STR(s) ((char *)(uintptr_t)(s))

struct Budgetstore__JournalEntry;

/* unpack.c: protobuf_c_message_unpack, faster for flat messages. */
struct ProtobufCMessage;
struct ProtobufCMessageDescriptor;
struct ProtobufCAllocator;
struct ProtobufCMessage *
budget_unpack(const struct ProtobufCMessageDescriptor *,
    struct ProtobufCAllocator *, size_t, const uint8_t *);

/* What the checker found (check.c). */
struct check_report {
	int      ok;
	uint64_t entries; /* journal entries whose chain holds */
	uint8_t  head[32];
	uint64_t first_bad_seq; /* 0: the chain holds */
	char   **problems;
	size_t   nproblems;
	uint32_t ncontracts, ncompanies, ndossiers;
};

/* The whole daemon. One instance, in budgetd.c. */
struct budgetd {
	struct config      conf;
	struct event_base *base;
	struct conn_list   conns;
	unsigned           nconns;
	struct ghost_list  ghosts; /* connections gone, requests not yet */
	unsigned           nghosts;
	struct conn_list   writing;     /* answers collected, to write */
	struct event      *write_ready; /* writes them, after the turn */
	int64_t            started_at;
	int                shutting_down;
	uint32_t           next_conn_id;
	uid_t              euid;
	int                verbose_cmdline; /* -v given, kept over reloads */
	uint64_t           commits;         /* write transactions committed */
	uint64_t           committed;       /* mutations run in them */
	uint64_t           waits;           /* commit waits begun (cmd.c) */
	uint64_t           waits_out;       /* of them, that ran to their end */
};
extern struct budgetd *bd;

/* budgetd.c */
void budgetd_shutdown(void);
void budgetd_maybe_exit(void);

/* xmalloc.c */
void  *xmalloc(size_t);
void  *xcalloc(size_t, size_t);
void  *xreallocarray(void *, size_t, size_t);
char  *xstrdup(const char *);
void  *xmap(size_t);
void   xunmap(void *, size_t);
size_t xmap_trim(unsigned);
/* How long a verify's maps are kept for the next one: see xmalloc.c. */
#define XMAP_KEEP_SECS 300
int xasprintf(char **, const char *, ...) __attribute__((format(printf, 2, 3)));

/* config.c */
void        config_defaults(struct config *);
int         config_load(struct config *, const char *, char **);
void        config_free(struct config *);
void        config_print(const struct config *, FILE *);
const char *role_name(enum role);
enum role   config_role_for(const struct config *, uid_t, gid_t);

/* control.c */
int  control_listen(const char *, unsigned, char **);
void control_start(void);
void control_stop(void);
void control_cleanup(void);

/* conn.c */
void     conn_new(int, uid_t, gid_t, pid_t);
void     conn_refuse(int, enum budget_err, const char *);
void     conn_init(void);
void     conn_reply_ready(struct conn *);
void     conn_close_all(void);
void     conn_stop_reading_all(void);
unsigned conn_count_uid(uid_t);
void     conn_ghost_done(struct conn_ghost *);

/* cmd.c */
void     cmd_init(void);
void     cmd_shutdown(void);
void     cmd_submit(struct req *);
void     cmd_heard(struct conn *);
int      cmd_batch_pending(void);
void     cmd_run_now(void);
void     cmd_reader_room(void);
void     cmd_conn_gone(struct conn *);
void     cmd_finish(void);
unsigned cmd_held(void);
void     req_free(struct req *);
void     cmd_exec_slow(struct req *, struct store_txn *, int64_t);
void     cmd_slow_done(struct req *);
void     cmd_slow_dropped(struct req *);

/* store.c */
int      store_open(const char *, uint64_t, uint64_t, char **);
void     store_close(void);
void     store_begin(struct store_txn *, int);
void     store_begin_nested(struct store_txn *, struct store_txn *);
uint64_t store_snapshot(struct store_txn *);
uint64_t store_schema(void);
uint64_t store_generation(void);
void     store_set_schema(struct store_txn *, uint64_t);
int      store_commit(struct store_txn *);
void     store_abort(struct store_txn *);
int      store_get(struct store_txn *, enum store_db, const void *, size_t,
	 struct store_val *);
int      store_peek(struct store_txn *, enum store_db, const void *, size_t,
	 struct store_val *);
void     store_put(struct store_txn *, enum store_db, const void *, size_t,
	const void *, size_t);
void     store_del(struct store_txn *, enum store_db, const void *, size_t);
void     store_append(struct store_txn *, enum store_db, const void *, size_t,
	const void *, size_t);
uint64_t store_get_u64(struct store_txn *, enum store_db, const char *);
void store_put_u64(struct store_txn *, enum store_db, const char *, uint64_t);
void store_cursor_open(struct store_cursor *, struct store_txn *, enum store_db,
    const void *, size_t);
void store_cursor_seek(struct store_cursor *, const void *, size_t);
int  store_cursor_next(
     struct store_cursor *, struct store_val *, struct store_val *);
void store_cursor_close(struct store_cursor *);
void store_cursor_open_dup(struct store_cursor *, struct store_txn *,
    enum store_db, const void *, size_t, const void *, size_t);
void store_append_dup(struct store_txn *, enum store_db, const void *, size_t,
    const void *, size_t);
int  store_get_both(struct store_txn *, enum store_db, const void *, size_t,
     const void *, size_t);
int  store_grow(void);
void store_info(struct store_info *);
uint64_t store_count(struct store_txn *, enum store_db);
int      store_copy(const char *, uint64_t *, uint64_t *, uint8_t[32], char **);
const char *store_strerror(int);

/* ledger.c */
const char                *ledger_province(const char *, int *);
int                        ledger_id_ok(const char *, size_t);
int                        ledger_text_ok(const char *, size_t);
int                        ledger_utf8_ok(const char *, size_t, int);
const struct rule_package *ledger_package(const struct ruleset *, const char *);
enum budget_err            ledger_rate(
	       const struct ruleset *, const struct company *, uint32_t *, char *, size_t);
enum budget_err ledger_subsidy(const struct ruleset *, const char *, int64_t,
    int64_t, uint32_t, int64_t *, char *, size_t);
void ledger_dm_window(const struct dm_regime *, int32_t, int32_t *, int32_t *);
int  ledger_excluded(int32_t, int32_t, uint32_t);
const char *ledger_state_name(enum dossier_state);
const char *ledger_size_name(enum company_size);
const char *ledger_grant_kind_name(enum grant_kind);

/* rules.c */
int  rules_parse(const char *, struct rulebook *, char **);
void rules_free(struct rulebook *);
int  rules_same_set(const struct ruleset *, const struct ruleset *);
int  rules_same_regime(const struct dm_regime *, const struct dm_regime *);

/* record.c */
void     record_be32(uint8_t *, uint32_t);
void     record_be64(uint8_t *, uint64_t);
uint32_t record_get_be32(const uint8_t *);
uint64_t record_get_be64(const uint8_t *);
int  record_get_contract(struct store_txn *, const char *, struct contract *);
void record_put_contract(struct store_txn *, const struct contract *);
int  record_each_contract(
     struct store_txn *, int (*)(const struct contract *, void *), void *);
int  record_get_company(struct store_txn *, const char *, struct company *);
void record_put_company(struct store_txn *, const struct company *);
int  record_each_company(
     struct store_txn *, int (*)(const struct company *, void *), void *);
void record_put_link(struct store_txn *, const struct link *);
int record_link_exists(struct store_txn *, const char *, const char *, int32_t);
int record_get_link(
    struct store_txn *, const char *, const char *, int32_t, struct link *);
int  record_each_link(struct store_txn *, const char *,
     int (*)(const struct link *, void *), void *);
void record_put_grant(struct store_txn *, const struct grant *);
int  record_get_grant(
     struct store_txn *, const char *, int32_t, uint64_t, struct grant *);
int      record_each_grant(struct store_txn *, const char *,
	 int (*)(const struct grant *, void *), void *);
int      record_each_grant_filed(struct store_txn *,
	 int (*)(const struct grant *, const char *, int, void *), void *);
uint64_t record_next_grant_id(struct store_txn *);
int      record_get_dossier(struct store_txn *, const char *, struct dossier *);
void     record_put_dossier(struct store_txn *, const struct dossier *, int);
int      record_each_dossier(
	 struct store_txn *, int (*)(const struct dossier *, void *), void *);
int      record_each_company_summary(struct store_txn *, const char *,
	 int (*)(const struct dossier_summary *, void *), void *);
int      record_summary_ok(struct store_txn *, const struct dossier *);
uint64_t record_summary_mix(uint64_t, const struct dossier *);
int    record_summary_decode(const struct store_val *, const struct store_val *,
       struct dossier_summary *);
size_t record_rebuild_summaries(struct store_txn *);
int    record_company_decode(const struct store_val *, struct company *);
void
record_follow_open(struct record_follow *, struct store_txn *, enum store_db);
int    record_follow_seek(struct record_follow *, const void *, size_t);
int    record_follow_next(struct record_follow *);
void   record_follow_close(struct record_follow *);
void   record_expiry_add(struct store_txn *, int64_t, const char *);
void   record_expiry_del(struct store_txn *, int64_t, const char *);
int    record_expiry_first(struct store_txn *, int64_t *, char *);
int    record_expiry_has(struct store_txn *, int64_t, const char *);
void   record_put_ruleset(struct store_txn *, const struct ruleset *);
int    record_get_ruleset(struct store_txn *, const char *, struct ruleset *);
void   record_put_regime(struct store_txn *, const struct dm_regime *);
size_t record_regimes_loaded(struct store_txn *);
int    record_get_regime(struct store_txn *, const char *, struct dm_regime *);
int    record_each_rule(
       struct store_txn *, char, int (*)(const void *, void *), void *);
int  record_ruleset_on(struct store_txn *, int32_t, struct ruleset *);
int  record_regime_on(struct store_txn *, int32_t, struct dm_regime *);
void record_rules_owner(void);
void record_rules_changed(void);
void record_rules_settle(void);

/* deminimis.c */
void undertaking_init(struct undertaking *);
void undertaking_free(struct undertaking *);
void undertaking_add(struct undertaking *, const char *);
int  undertaking_has(const struct undertaking *, const char *);
int
undertaking_on(struct store_txn *, const char *, int32_t, struct undertaking *);
int64_t
dm_pending(struct store_txn *, const struct undertaking *, const char *);
enum budget_err dm_position(struct store_txn *, const char *, int32_t,
    struct dm_position *, struct grant **, size_t *);
enum budget_err
dm_verify(struct store_txn *, const char *, int32_t, int, char *, size_t);
enum budget_err excl_check(struct store_txn *, const char *, int32_t, uint32_t,
    const char *, char *, size_t);

/* replay.c */
struct replay;
struct replay *replay_new(size_t, size_t, size_t, size_t);
void           replay_free(struct replay *);
void           replay_partial(struct replay *);
/*
 * What replay_prefetch works out of an entry at its first stage (the
 * hashes of what it names; 0: nothing, or work it out again), for its
 * second and for replay_apply. replay_prefetch needs one, and stage 0
 * before stage 1; replay_apply takes NULL too.
 */
struct replay_hint {
	uint64_t dossier, company, grant;
};
void replay_prefetch(struct replay *, const struct Budgetstore__JournalEntry *,
    int, struct replay_hint *);
int  replay_apply(struct replay *, const struct Budgetstore__JournalEntry *,
     const struct replay_hint *, char *, size_t);
void replay_contract_effect(
    const struct Budgetstore__JournalEntry *, struct contract *);
int      replay_get_contract(struct replay *, const char *, struct contract *);
int      replay_get_grant(struct replay *, uint64_t, int64_t *, const char **);
int      replay_has_company(struct replay *, const char *);
void     replay_position(struct replay *, const char *, int32_t,
	const struct dm_regime *, struct dm_position *, struct grant **, size_t *);
uint64_t replay_seq(const struct replay *);
int64_t  replay_time(const struct replay *);
/* The kinds of record replay_compare compares, one call each. */
enum replay_kind {
	REPLAY_CONTRACTS,
	REPLAY_DOSSIERS,
	REPLAY_GRANTS,
	REPLAY_COMPANIES,
	REPLAY_RULES, /* rule sets and regimes against rules_load */
};
#define REPLAY_NKINDS 5
/*
 * What replay_compare also hands each stored record it reads, so that a
 * caller with checks of its own decodes each record once. A callback
 * returns non-zero to stop the walk.
 */
struct replay_also {
	int (*contract)(const struct contract *, void *);
	int (*dossier)(const struct dossier *, void *);
	int (*grant)(const struct grant *, const char *, int, void *);
	void *arg;
};
void replay_compare(struct replay *, struct store_txn *, enum replay_kind,
    void (*)(void *, const char *), void *, const struct replay_also *);

/* reader.c */
void     reader_start(void);
void     reader_stop(void);
void     reader_submit(struct req *, int64_t);
void     reader_drain(void);
unsigned reader_inflight(void);
int      reader_has_room(void);

/* check.c */
void check_ledger(struct store_txn *, struct check_report *);
void check_report_free(struct check_report *);

/* upgrade.c */
int upgrade_ledger(char **);

/* expiry.c */
void expiry_start(void);
void expiry_stop(void);

/* journal.c */
void    journal_head(struct store_txn *, uint64_t *, uint8_t[32]);
int64_t journal_time(struct store_txn *);
void    journal_append(struct store_txn *, struct jentry *);
void    journal_flush(struct store_txn *);
void    history_open(
       struct history_cursor *, struct store_txn *, char, const char *, uint64_t);
uint64_t history_next(struct history_cursor *);
void     history_close(struct history_cursor *);
size_t   journal_check_index(struct store_txn *,
      const struct Budgetstore__JournalEntry *, const char **);
size_t   journal_index_sum(
      const struct Budgetstore__JournalEntry *, uint64_t, uint64_t *);
size_t   index_sum(struct store_txn *, enum store_db, uint64_t, uint64_t *);
uint64_t index_mix(uint64_t, const uint8_t *, size_t, const uint8_t *, size_t);

#endif /* BUDGETD_H */
