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

struct conn {
	uint32_t            id;
	int                 fd;
	enum conn_state     state;
	struct bufferevent *bev;
	struct event       *frame_timer; /* a frame must complete */
	uid_t               uid;
	gid_t               gid;
	pid_t               pid;
	enum role           role;
	struct req_list     reqs;     /* answers owed, in order */
	unsigned            npending; /* entries in reqs */
	TAILQ_ENTRY(conn) entry;
};
TAILQ_HEAD(conn_list, conn);

/*
 * One request, from decoding to its answer. It sits on its connection's
 * list (for answer order) and, until executed, on the batch queue.
 */
struct req {
	struct conn            *conn; /* NULL: internal, or peer went away */
	struct Budget__Request *msg;  /* owned; freed after execution */
	const struct cmd_entry *cmd;
	uint8_t                *reply; /* whole frame, header included */
	size_t                  reply_len;
	int                     done;        /* reply is ready to be written */
	int                     close_after; /* protocol error: then close */
	uint64_t                seq;         /* arrival order, for logs */
	TAILQ_ENTRY(req) conn_entry;
	TAILQ_ENTRY(req) batch_entry;
};

/*
 * A transaction. err is sticky: once set, every store_* call on this txn is
 * a no-op and store_commit aborts. Callers check err once, at the end.
 */
struct store_txn {
	void             *txn; /* MDB_txn * (opaque outside store.c) */
	int               err; /* 0 or enum store_err */
	int               rw;
	struct store_txn *parent;
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
	STORE_DB_META,     /* schema version, counters */
	STORE_DB_REQUESTS, /* request id -> digest and answer */
	STORE_DB__COUNT
};

/* A value read from the store: always a private copy, free with free(). */
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

/* The whole daemon. One instance, in budgetd.c. */
struct budgetd {
	struct config      conf;
	struct event_base *base;
	struct conn_list   conns;
	unsigned           nconns;
	int64_t            started_at;
	int                shutting_down;
	uint32_t           next_conn_id;
	uid_t              euid;
};
extern struct budgetd *bd;

/* budgetd.c */
void budgetd_shutdown(void);
void budgetd_maybe_exit(void);

/* xmalloc.c */
void *xmalloc(size_t);
void *xcalloc(size_t, size_t);
void *xreallocarray(void *, size_t, size_t);
char *xstrdup(const char *);
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
void     conn_reply_ready(struct conn *);
void     conn_close_all(void);
void     conn_stop_reading_all(void);
unsigned conn_count_uid(uid_t);

/* cmd.c */
void cmd_init(void);
void cmd_shutdown(void);
void cmd_submit(struct req *);
int  cmd_batch_pending(void);
void cmd_run_now(void);
void req_free(struct req *);

/* store.c */
int         store_open(const char *, uint64_t, uint64_t, char **);
void        store_close(void);
void        store_begin(struct store_txn *, int);
void        store_begin_nested(struct store_txn *, struct store_txn *);
int         store_commit(struct store_txn *);
void        store_abort(struct store_txn *);
int         store_get(struct store_txn *, enum store_db, const void *, size_t,
	    struct store_val *);
void        store_put(struct store_txn *, enum store_db, const void *, size_t,
	   const void *, size_t);
void        store_del(struct store_txn *, enum store_db, const void *, size_t);
int         store_grow(void);
void        store_info(struct store_info *);
const char *store_strerror(int);

#endif /* BUDGETD_H */
