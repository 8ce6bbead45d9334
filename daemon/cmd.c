/*
 * cmd.c: the command table, dispatch, and the batch: budgetd's write path.
 *
 * Every request decoded in one event-loop turn, from every connection, is
 * queued; the batch event runs after the I/O callbacks of that turn. A
 * batch with any mutation runs in ONE LMDB write transaction, and a
 * refused request rolls back alone: it wrote nothing, or the batch runs
 * again with it in a nested transaction (struct cmd_turn); then one commit
 * (one fsync); only then are the answers released to their connections.
 * A batch of reads only uses a read transaction.
 *
 * Owns too: the request-id rules and idempotency (SPEC §5), the role check,
 * and what happens when the map fills (grow and rerun the batch) or a
 * commit fails (no write in the batch is acknowledged).
 */
#include <arpa/inet.h>

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <openssl/evp.h>

#include "budget/date.h"
#include "budget/protocol.h"
#include "cmd.h"
#include "store.pb-c.h"

/* Requests per batch; the rest waits for the next turn. */
#define CMD_BATCH_MAX     4096
/* Ops in one write turn, all batches together (see cmd_batch_cb). */
#define CMD_TURN_OPS_MAX  8192
/* Ops in one batch (TigerBeetle's number: answers stay a few MiB). */
#define CMD_BATCH_OPS_MAX 8190
/* Oneof field numbers of Request.command are below this. */
#define CMD_TABLE_SIZE    128

static const struct cmd_entry *cmd_table[CMD_TABLE_SIZE] = {
    [BUDGET__REQUEST__COMMAND_STATUS] = &cmd_status_entry,
    [BUDGET__REQUEST__COMMAND_RULES_LOAD] = &cmd_rules_load_entry,
    [BUDGET__REQUEST__COMMAND_RULES_SHOW] = &cmd_rules_show_entry,
    [BUDGET__REQUEST__COMMAND_CONTRACT_OPEN] = &cmd_contract_open_entry,
    [BUDGET__REQUEST__COMMAND_CONTRACT_AMEND] = &cmd_contract_amend_entry,
    [BUDGET__REQUEST__COMMAND_CONTRACT_CLOSE] = &cmd_contract_close_entry,
    [BUDGET__REQUEST__COMMAND_CONTRACT_SHOW] = &cmd_contract_show_entry,
    [BUDGET__REQUEST__COMMAND_CONTRACT_LIST] = &cmd_contract_list_entry,
    [BUDGET__REQUEST__COMMAND_COMPANY_ADD] = &cmd_company_add_entry,
    [BUDGET__REQUEST__COMMAND_COMPANY_LINK] = &cmd_company_link_entry,
    [BUDGET__REQUEST__COMMAND_COMPANY_MERGE] = &cmd_company_merge_entry,
    [BUDGET__REQUEST__COMMAND_COMPANY_SHOW] = &cmd_company_show_entry,
    [BUDGET__REQUEST__COMMAND_DEMINIMIS_DECLARE] = &cmd_deminimis_declare_entry,
    [BUDGET__REQUEST__COMMAND_DEMINIMIS_SHOW] = &cmd_deminimis_show_entry,
    [BUDGET__REQUEST__COMMAND_DOSSIER_RESERVE] = &cmd_dossier_reserve_entry,
    [BUDGET__REQUEST__COMMAND_DOSSIER_APPROVE] = &cmd_dossier_approve_entry,
    [BUDGET__REQUEST__COMMAND_DOSSIER_AMEND] = &cmd_dossier_amend_entry,
    [BUDGET__REQUEST__COMMAND_DOSSIER_CANCEL] = &cmd_dossier_cancel_entry,
    [BUDGET__REQUEST__COMMAND_DOSSIER_WITHDRAW] = &cmd_dossier_withdraw_entry,
    [BUDGET__REQUEST__COMMAND_DOSSIER_PAY] = &cmd_dossier_pay_entry,
    [BUDGET__REQUEST__COMMAND_DOSSIER_COMPLETE] = &cmd_dossier_complete_entry,
    [BUDGET__REQUEST__COMMAND_DOSSIER_CLOSE] = &cmd_dossier_close_entry,
    [BUDGET__REQUEST__COMMAND_DOSSIER_SHOW] = &cmd_dossier_show_entry,
    [BUDGET__REQUEST__COMMAND_VERIFY] = &cmd_verify_entry,
    [BUDGET__REQUEST__COMMAND_HISTORY] = &cmd_history_entry,
    [BUDGET__REQUEST__COMMAND_BALANCE] = &cmd_balance_entry,
    [BUDGET__REQUEST__COMMAND_EXPORT] = &cmd_export_entry,
    [BUDGET__REQUEST__COMMAND_REPORT] = &cmd_report_entry,
    [BUDGET__REQUEST__COMMAND_DRAWDOWN] = &cmd_drawdown_entry,
    [BUDGET__REQUEST__COMMAND_BATCH] = &cmd_batch_entry,
    [BUDGET__REQUEST__COMMAND_BACKUP] = &cmd_backup_entry,
};

/* What running one request inside a write batch asks of the batch. */
enum cmd_outcome {
	CMD_DONE,  /* answered (applied, refused or replayed) */
	CMD_GROW,  /* the map is full: abort, grow, rerun the batch */
	CMD_RERUN, /* refused after it wrote: rerun it, and the rest, nested */
};

/*
 * One attempt at a write turn. Mutations run straight in the turn's
 * transaction ("flat") until one is refused after it has written, or
 * meets a storage error: only a nested transaction could take back what
 * it did. Then the attempt is abandoned and the turn runs again, the
 * same mutations flat up to that one and each from it on nested, as
 * they all were before; refusals that write nothing need no rollback.
 *
 * Why: a nested LMDB transaction copies every page it touches that its
 * parent has dirtied, 4 KiB each, and merges its page list back on
 * commit; on a reservation that was about a fifth of the daemon's CPU.
 * A rerun is safe because nothing is answered before the commit and a
 * mutation's outcome depends only on the ledger, the request and the
 * turn's clock, all the same the second time; the rules kept in memory
 * are dropped with the attempt (record_rules_settle), since a rules load
 * later in it may have filled them. The price: a turn with such a refusal
 * runs the requests before it twice, which bounds it at about twice the
 * work of the turn, once.
 */
struct cmd_turn {
	struct store_txn *txn;
	int64_t           now;
	int               allow_grow;
	unsigned          n;         /* mutations reached in this attempt */
	unsigned          nest_from; /* from this one on, nested */
};

/*
 * The commit wait. Clients that each wait for their answer before they
 * send again come back a few tens of microseconds after their answers
 * left; a turn that starts with the first of them commits without the
 * rest, who then pay a commit of their own: two fsyncs where one would
 * do. So a turn with a mutation waits, up to commit_wait_us, while some
 * connection answered by the last write turn and with nothing queued has
 * not sent again ("awaited"); it starts as soon as the last of them has,
 * or when the queue holds a full turn. A lone client or a pipelining one
 * does not wait. A connection that lets a wait run to its end (a client
 * taking turns on two connections, one that went quiet) is not waited for
 * again until it comes back before another write turn has run since its
 * answer, as a client in step with the others does: each other one costs
 * the rest one wait at most. PostgreSQL's commit_delay and
 * commit_siblings do the same without the early start.
 */
static struct {
	struct req_list   queue;
	unsigned          n;
	struct req_list   held; /* cmd_hold: back when the reader has room */
	unsigned          nheld;
	struct hold_chain orphans;   /* requests without a connection */
	uint64_t          pass;      /* of cmd_batch_cb: hold_chain.pass */
	int               finishing; /* cmd_finish: the loop has ended */
	int               scheduled;
	int               waiting; /* ev is a timer: the commit wait */
	struct event     *ev;
	uint64_t          next_seq;
	size_t            ops;     /* in the queue, counting each batch's */
	uint64_t          turn;    /* write turns run; conn->awaited */
	unsigned          awaited; /* connections with conn->awaited == turn */
} batch;

static struct cmd_chunk *cmd_spare; /* see cmd_ctx_free */

/* What a request id may be (SPEC §5), for the answer to one that is not. */
#define CMD_REQUEST_ID_RULE \
	"request_id must be 1-64 characters of A-Z a-z 0-9 . _ : -"

static void             cmd_batch_cb(int, short, void *);
static void             cmd_release(struct req *);
static int              cmd_run(struct req_list *);
static enum cmd_outcome cmd_exec_one(struct req *, struct cmd_turn *);
static size_t           cmd_ops(const struct req *);
static void cmd_exec_read(struct req *, struct store_txn *, int64_t, int);
static int  cmd_request_id_ok(const char *);
static int  cmd_refusal_journaled(enum budget_err);
static int  cmd_allowed(const struct req *);
static void
cmd_journal_refusal(struct cmd_ctx *, const struct req *, enum budget_err);
static enum cmd_outcome cmd_exec_batch(struct req *, struct cmd_turn *);
static void             cmd_digest(const Budget__Request *, uint8_t[32]);
static void     cmd_ctx_init(struct cmd_ctx *, struct req *, Budget__Response *,
	struct store_txn *, int64_t);
static void     cmd_ctx_free(struct cmd_ctx *);
static void     cmd_reply_ctx(struct req *, struct cmd_ctx *, enum budget_err);
static void     cmd_reply_error(struct req *, enum budget_err, const char *);
static void     cmd_reply_packed(struct req *, const uint8_t *, size_t, int);
static uint8_t *cmd_frame(const Budget__Response *, size_t *);
static enum budget_err cmd_store_error(int);

void
cmd_init(void)
{
	/* The thread that runs batches may cache the rules (record.c). */
	record_rules_owner();
	TAILQ_INIT(&batch.queue);
	TAILQ_INIT(&batch.held);
	batch.ev = event_new(bd->base, -1, 0, cmd_batch_cb, NULL);
	if (batch.ev == NULL)
		fatalx("cmd: event_new");
}

void
cmd_shutdown(void)
{
	free(cmd_spare);
	cmd_spare = NULL;
	if (batch.ev != NULL)
		event_free(batch.ev);
	batch.ev = NULL;
}

const struct cmd_entry *
cmd_lookup(int which)
{
	if (which <= 0 || which >= CMD_TABLE_SIZE)
		return (NULL);
	return (cmd_table[which]);
}

/* The commit wait ends early: the turn starts now. */
static void
cmd_wait_over(void)
{
	batch.waiting = 0;
	event_del(batch.ev);
	event_active(batch.ev, 0, 0);
}

/*
 * Queue a request for the batch. Activating the event puts it behind the
 * I/O callbacks already active in this turn: everything those callbacks
 * decode joins the same batch.
 */
void
cmd_submit(struct req *r)
{
	struct timeval tv;

	r->seq = ++batch.next_seq;
	TAILQ_INSERT_TAIL(&batch.queue, r, batch_entry);
	batch.n++;
	batch.ops += cmd_ops(r);
	if (r->conn != NULL) {
		r->conn->queued++;
		/*
		 * Back before another write turn, or one turn late but
		 * while a wait is on (it came in just behind the others):
		 * worth waiting for again.
		 */
		if (r->conn->answered == batch.turn ||
		    (batch.waiting && r->conn->answered + 1 == batch.turn))
			r->conn->missed = 0;
		cmd_heard(r->conn);
	}
	if (batch.waiting &&
	    (batch.n >= CMD_BATCH_MAX || batch.ops >= CMD_TURN_OPS_MAX))
		cmd_wait_over(); /* a full turn waits for nobody */
	if (batch.scheduled)
		return;
	batch.scheduled = 1;
	tv.tv_sec = 0;
	tv.tv_usec = (suseconds_t)bd->conf.commit_wait_us;
	if (batch.awaited > 0 && tv.tv_usec > 0 &&
	    !(r->cmd->flags & CMD_READONLY) && !bd->shutting_down &&
	    event_add(batch.ev, &tv) == 0) {
		batch.waiting = 1;
		bd->waits++;
	} else
		event_active(batch.ev, 0, 0);
}

/* What a request counts for against CMD_TURN_OPS_MAX. */
static size_t
cmd_ops(const struct req *r)
{
	return (r->msg != NULL && r->cmd->flags & CMD_BATCH
		? r->msg->batch->n_ops
		: 1);
}

/*
 * A connection the commit wait may be waiting for has sent a request, or
 * is gone: once none is left to wait for, the turn starts.
 */
void
cmd_heard(struct conn *c)
{
	if (c->awaited != batch.turn || batch.turn == 0)
		return;
	c->awaited = 0;
	if (--batch.awaited == 0 && batch.waiting)
		cmd_wait_over();
}

/* After a write turn: who it answered, and who of them may come back. */
static void
cmd_await(struct req_list *seg)
{
	struct req *r;

	batch.turn++;
	batch.awaited = 0;
	TAILQ_FOREACH(r, seg, batch_entry) {
		if (r->conn == NULL || (r->cmd->flags & CMD_READONLY))
			continue;
		r->conn->answered = batch.turn;
		/* Not read now (conn_block, conn_closing): it cannot come back. */
		if (r->conn->state != CONN_READING || r->conn->queued > 0 ||
		    r->conn->hold.held > 0 || r->conn->awaited == batch.turn ||
		    r->conn->missed)
			continue;
		r->conn->awaited = batch.turn;
		batch.awaited++;
	}
}

int
cmd_batch_pending(void)
{
	return (batch.n > 0 || !TAILQ_EMPTY(&batch.held));
}

/* The chain r keeps its order in: its connection's, or the orphans'. */
static struct hold_chain *
cmd_chain(const struct req *r)
{
	return (r->conn != NULL ? &r->conn->hold : &batch.orphans);
}

/*
 * Whether r waits for room on the reader thread, into front or back: a
 * slow read when the reader has as many as it takes (reader.c), and every
 * later request of its chain, which may not overtake it. Other chains go
 * on meanwhile. Behind means: a request taken from batch.held is behind
 * one held again earlier in this pass; one from the queue, behind any
 * of its chain still held.
 */
static int
cmd_hold(struct req_list *work, struct req_list *front, struct req_list *back,
    struct req *r)
{
	struct hold_chain *ch = cmd_chain(r);
	int behind = r->held ? ch->pass == batch.pass : ch->held > 0;

	if (!behind &&
	    (!(r->cmd->flags & CMD_SLOW) || !cmd_allowed(r) ||
		reader_has_room() || batch.finishing))
		return (0);
	TAILQ_REMOVE(work, r, batch_entry);
	TAILQ_INSERT_TAIL(r->held ? front : back, r, batch_entry);
	r->held = 1;
	batch.nheld++;
	ch->held++;
	ch->pass = batch.pass;
	return (1);
}

/* Requests held back now (status). */
unsigned
cmd_held(void)
{
	return (batch.nheld);
}

/* A slow read was answered: what was held back may go on. */
void
cmd_reader_room(void)
{
	if (!TAILQ_EMPTY(&batch.held) && reader_has_room() &&
	    !batch.scheduled) {
		batch.scheduled = 1;
		event_active(batch.ev, 0, 0);
	}
}

/*
 * c is being freed: its requests not yet run lose it and join the
 * orphans' chain, with their place in it, so that what was held of them
 * still holds what comes after.
 */
void
cmd_conn_gone(struct conn *c)
{
	batch.orphans.held += c->hold.held;
	if (c->hold.held > 0 && c->hold.pass > batch.orphans.pass)
		batch.orphans.pass = c->hold.pass;
	cmd_heard(c); /* nothing more will come from it */
}

/*
 * After the loop, a shutdown that did not drain in time: what was held
 * back runs now, in order, so that no write accepted is dropped. Nobody
 * reads the answers any more, so the long reads among them, which change
 * nothing in the ledger, are answered shutting_down instead of run (a
 * backup not yet begun is not made): the exit waits for writes only.
 */
void
cmd_finish(void)
{
	batch.finishing = 1;
	while (cmd_batch_pending())
		cmd_batch_cb(-1, 0, NULL);
}

/* A long read that will not run: budgetd stops (reader_stop). */
void
cmd_slow_dropped(struct req *r)
{
	cmd_reply_error(r, BUDGET_ERR_SHUTTING_DOWN,
	    "budgetd stopped before this read ran");
	cmd_release(r);
}

/* Run everything queued now (shutdown: finish what is in flight). */
void
cmd_run_now(void)
{
	while (batch.n > 0)
		cmd_batch_cb(-1, 0, NULL);
}

void
req_free(struct req *r)
{
	if (r == NULL)
		return;
	if (r->ghost != NULL)
		conn_ghost_done(r->ghost);
	if (r->msg != NULL)
		protobuf_c_message_free_unpacked(&r->msg->base, NULL);
	free(r->reply);
	free(r);
}

static void
cmd_batch_cb(int fd, short events, void *arg)
{
	struct req_list work, seg, front, back;
	struct req     *r;
	struct conn    *c;
	unsigned        n = 0;
	size_t          ops = 0;

	(void)fd;
	(void)events;
	(void)arg;
	batch.scheduled = 0;
	if (batch.waiting && (events & EV_TIMEOUT)) {
		/* Who did not come is not waited for again soon. */
		bd->waits_out++;
		TAILQ_FOREACH(c, &bd->conns, entry) {
			if (c->awaited == batch.turn)
				c->missed = 1;
		}
	} else if (batch.waiting) /* run before its time: cmd_run_now */
		event_del(batch.ev);
	batch.waiting = 0;
	TAILQ_INIT(&work);
	TAILQ_INIT(&front);
	TAILQ_INIT(&back);
	batch.pass++;
	/*
	 * First what was held back, in order, if it can go on now; then
	 * the queue, if the turn has room left, which it has only when none
	 * is left held or the reader had no room. Each chain stays in
	 * order: what is held again goes back in front of what was not
	 * taken, and what the queue adds behind that.
	 */
	while ((reader_has_room() || batch.finishing) && n < CMD_BATCH_MAX &&
	    ops < CMD_TURN_OPS_MAX && (r = TAILQ_FIRST(&batch.held)) != NULL) {
		TAILQ_REMOVE(&batch.held, r, batch_entry);
		TAILQ_INSERT_TAIL(&work, r, batch_entry);
		cmd_chain(r)->held--;
		batch.nheld--;
		n++;
		ops += cmd_ops(r);
	}
	/*
	 * Requests, and ops counting each batch's ops: a turn is one write
	 * transaction, and LMDB keeps the dirty-page list of the largest it
	 * has seen, so a turn of many big batches would cost memory for good.
	 */
	while (n < CMD_BATCH_MAX && ops < CMD_TURN_OPS_MAX &&
	    (r = TAILQ_FIRST(&batch.queue)) != NULL) {
		TAILQ_REMOVE(&batch.queue, r, batch_entry);
		TAILQ_INSERT_TAIL(&work, r, batch_entry);
		batch.n--;
		batch.ops -= cmd_ops(r);
		if (r->conn != NULL)
			r->conn->queued--;
		n++;
		ops += cmd_ops(r);
	}
	if (batch.n > 0 && !batch.scheduled) {
		batch.scheduled = 1;
		event_active(batch.ev, 0, 0);
	}
	if (n == 0)
		return;

	/*
	 * Run the turn's requests in order, in segments: a slow read ends a
	 * segment, so that the writes before it are committed before its
	 * snapshot is taken (reader.c); it then runs on the reader thread
	 * while the next segment goes on here.
	 */
	while (!TAILQ_EMPTY(&work)) {
		TAILQ_INIT(&seg);
		while ((r = TAILQ_FIRST(&work)) != NULL) {
			if (cmd_hold(&work, &front, &back, r))
				continue;
			/* A refused one is journaled here, not read there. */
			if ((r->cmd->flags & CMD_SLOW) && cmd_allowed(r))
				break;
			TAILQ_REMOVE(&work, r, batch_entry);
			TAILQ_INSERT_TAIL(&seg, r, batch_entry);
		}
		if (!TAILQ_EMPTY(&seg)) {
			if (cmd_run(&seg))
				cmd_await(&seg);
			while ((r = TAILQ_FIRST(&seg)) != NULL) {
				TAILQ_REMOVE(&seg, r, batch_entry);
				cmd_release(r);
			}
		}
		if ((r = TAILQ_FIRST(&work)) != NULL) {
			TAILQ_REMOVE(&work, r, batch_entry);
			if (batch.finishing)
				cmd_slow_dropped(r);
			else
				reader_submit(r, timestamp_now());
		}
	}
	TAILQ_CONCAT(&front, &batch.held, batch_entry);
	TAILQ_CONCAT(&front, &back, batch_entry);
	TAILQ_INIT(&batch.held);
	TAILQ_CONCAT(&batch.held, &front, batch_entry);
	cmd_reader_room(); /* what was not taken, if there is room yet */
	/*
	 * A long turn: let timeouts armed next be measured from now, not
	 * from the time libevent cached before this callback started.
	 */
	event_base_update_cache_time(bd->base);
	record_rules_settle();
	if (bd->shutting_down)
		budgetd_maybe_exit();
}

/*
 * Release an answer to its connection. conn_reply_ready may free a
 * connection whose peer is gone; that detaches its later requests
 * (r->conn = NULL), which are freed when they are released in turn.
 */
static void
cmd_release(struct req *r)
{
	r->done = 1;
	if (r->msg != NULL) {
		protobuf_c_message_free_unpacked(&r->msg->base, NULL);
		r->msg = NULL;
	}
	if (r->on_done != NULL)
		r->on_done(r);
	if (r->conn != NULL)
		conn_reply_ready(r->conn);
	else
		req_free(r);
}

/* Reader thread: run a slow read in the snapshot taken for it. */
void
cmd_exec_slow(struct req *r, struct store_txn *t, int64_t now)
{
	cmd_exec_read(r, t, now, 1);
}

/* Main thread: a slow read is answered. */
void
cmd_slow_done(struct req *r)
{
	cmd_release(r);
}

/* Run one segment; whether it had a mutation (a write turn). */
static int
cmd_run(struct req_list *work)
{
	struct store_txn t;
	struct cmd_turn  turn = {&t, timestamp_now(), 1, 0, UINT_MAX};
	struct req      *r;
	int64_t          now = turn.now;
	int              has_write = 0, err = 0;
	enum cmd_outcome out = CMD_DONE;

	TAILQ_FOREACH(r, work, batch_entry) {
		if (!(r->cmd->flags & CMD_READONLY) || !cmd_allowed(r))
			has_write = 1;
	}
	if (!has_write) {
		store_begin(&t, 0);
		TAILQ_FOREACH(r, work, batch_entry)
			cmd_exec_read(r, &t, now, 0);
		store_abort(&t);
		return (0);
	}

	for (;;) {
		store_begin(&t, 1);
		turn.n = 0;
		TAILQ_FOREACH(r, work, batch_entry) {
			out = cmd_exec_one(r, &turn);
			if (out != CMD_DONE)
				break;
		}
		if (out == CMD_DONE &&
		    !(t.err == STORE_FULL && turn.allow_grow)) {
			/*
			 * LMDB may also find the map full only when it
			 * writes the pages out, at commit: then grow and
			 * rerun like any other MAP_FULL.
			 */
			journal_flush(&t);
			err = store_commit(&t);
			if (err != STORE_FULL || !turn.allow_grow)
				break;
		} else
			store_abort(&t);
		/* Nothing of this attempt is kept: nor its rules in memory. */
		record_rules_settle();
		/* Nothing of this attempt is kept or answered. */
		TAILQ_FOREACH(r, work, batch_entry) {
			free(r->reply);
			r->reply = NULL;
		}
		if (out != CMD_RERUN) {
			/* LMDB resizes its map only with no txn open. */
			reader_drain();
			if (store_grow() == -1)
				turn.allow_grow = 0;
		}
		out = CMD_DONE;
	}
	if (err == 0) {
		bd->commits++;
		bd->committed += turn.n;
		return (1);
	}
	record_rules_settle();

	/*
	 * The commit failed: nothing of the batch is on disk, so no mutation
	 * may be acknowledged. Reads are answered again from the last commit.
	 */
	log_warnx(
	    "cmd: batch of writes not committed: %s", store_strerror(err));
	store_begin(&t, 0);
	TAILQ_FOREACH(r, work, batch_entry) {
		free(r->reply);
		r->reply = NULL;
		/* A refused read's answer waited on its journal entry too. */
		if ((r->cmd->flags & CMD_READONLY) && cmd_allowed(r))
			cmd_exec_read(r, &t, now, 0);
		else
			cmd_reply_error(
			    r, cmd_store_error(err), store_strerror(err));
	}
	store_abort(&t);
	return (1);
}

static enum budget_err
cmd_store_error(int err)
{
	return (err == STORE_FULL ? BUDGET_ERR_STORAGE_FULL
				  : BUDGET_ERR_STORAGE_ERROR);
}

/* A read: on the batch's transaction, which it never changes. */
static void
cmd_exec_read(struct req *r, struct store_txn *t, int64_t now, int worker)
{
	Budget__Response resp = BUDGET__RESPONSE__INIT;
	struct cmd_ctx   ctx;
	enum budget_err  rc;

	cmd_ctx_init(&ctx, r, &resp, t, now);
	ctx.worker = worker;
	if (!(r->cmd->roles & CMD_ROLE(ctx.role)))
		rc = cmd_fail(&ctx, BUDGET_ERR_PERMISSION_DENIED,
		    "role %s may not run %s", role_name(ctx.role),
		    r->cmd->name);
	else if (t->err != 0)
		rc = cmd_fail(&ctx, cmd_store_error(t->err), "%s",
		    store_strerror(t->err));
	else
		rc = r->cmd->exec(&ctx);
	cmd_reply_ctx(r, &ctx, rc);
	cmd_ctx_free(&ctx);
}

/*
 * One request of a write batch. Mutations: request id check, role check,
 * idempotency, then the command, flat or in a nested transaction (struct
 * cmd_turn), kept or rolled back alone; the answer is recorded under the
 * request id in the batch transaction. A refused role's request is
 * journaled, and neither replayed nor recorded under its id.
 */
static enum cmd_outcome
cmd_exec_one(struct req *r, struct cmd_turn *turn)
{
	Budget__Response            resp = BUDGET__RESPONSE__INIT;
	Budgetstore__RequestRecord  rec = BUDGETSTORE__REQUEST_RECORD__INIT;
	Budgetstore__RequestRecord *old;
	struct cmd_ctx              ctx;
	struct store_txn            child, *parent = turn->txn, *t;
	struct store_val            v;
	const char                 *id = r->msg->request_id;
	uint8_t                     digest[32];
	uint64_t                    writes;
	int64_t                     now = turn->now;
	enum budget_err             rc;
	int                         st, internal, allowed, flat;
	int                         allow_grow = turn->allow_grow;

	internal = r->cmd->flags & CMD_INTERNAL;
	if (r->cmd->flags & CMD_BATCH)
		return (cmd_exec_batch(r, turn));
	if (r->cmd->flags & CMD_READONLY) {
		if (!cmd_allowed(r)) {
			/*
			 * Who tried to read what they may not: journaled,
			 * with the request id only if it is one (a read
			 * needs none, so nothing checked it yet).
			 */
			if (*id != '\0' && !cmd_request_id_ok(id)) {
				cmd_reply_error(r, BUDGET_ERR_INVALID_ARGUMENT,
				    CMD_REQUEST_ID_RULE);
				return (CMD_DONE);
			}
			cmd_ctx_init(&ctx, r, &resp, parent, now);
			rc = cmd_fail(&ctx, BUDGET_ERR_PERMISSION_DENIED,
			    "role %s may not run %s", role_name(ctx.role),
			    r->cmd->name);
			cmd_reply_ctx(r, &ctx, rc);
			cmd_journal_refusal(&ctx, r, rc);
			cmd_ctx_free(&ctx);
			return (parent->err == STORE_FULL && allow_grow
				? CMD_GROW
				: CMD_DONE);
		}
		store_begin_nested(&child, parent);
		cmd_exec_read(r, &child, now, 0);
		store_abort(&child);
		return (CMD_DONE);
	}
	if (internal)
		goto run;
	if (!cmd_request_id_ok(id)) {
		cmd_reply_error(
		    r, BUDGET_ERR_INVALID_ARGUMENT, CMD_REQUEST_ID_RULE);
		return (CMD_DONE);
	}
	/*
	 * A role that may not run the command neither reads what is stored
	 * under the id nor claims it: else anyone on the socket could take
	 * the workflow's ids first, and have its requests answered with
	 * that refusal or request_id_reused.
	 */
	if (!cmd_allowed(r))
		goto run;

	/* Seen before? Then answer as before, and apply nothing. */
	cmd_digest(r->msg, digest);
	st = store_get(parent, STORE_DB_REQUESTS, id, strlen(id), &v);
	if (st == STORE_OK) {
		old = budgetstore__request_record__unpack(NULL, v.len, v.data);
		free(v.data);
		if (old == NULL) {
			cmd_reply_error(r, BUDGET_ERR_STORAGE_ERROR,
			    "the stored answer to this request id is corrupt");
			return (CMD_DONE);
		}
		if (old->digest.len == sizeof(digest) &&
		    memcmp(old->digest.data, digest, sizeof(digest)) == 0)
			cmd_reply_packed(
			    r, old->response.data, old->response.len, 1);
		else
			cmd_reply_error(r, BUDGET_ERR_REQUEST_ID_REUSED,
			    "this request id was used before for a different "
			    "request; nothing was applied");
		budgetstore__request_record__free_unpacked(old, NULL);
		return (CMD_DONE);
	}
	if (st != STORE_NOTFOUND) {
		if (st == STORE_FULL && allow_grow)
			return (CMD_GROW);
		cmd_reply_error(r, cmd_store_error(st), store_strerror(st));
		return (CMD_DONE);
	}

run:
	/* A refused role runs the command only to throw its work away. */
	allowed = cmd_allowed(r);
	flat = allowed && parent->err == 0 && turn->n < turn->nest_from;
	turn->n++;
	if (flat)
		t = parent;
	else {
		store_begin_nested(&child, parent);
		t = &child;
	}
	writes = t->writes;
	cmd_ctx_init(&ctx, r, &resp, t, now);
	if (!allowed) {
		/*
		 * The refusal is journaled with what was asked (dossier,
		 * contract, amount), which only the command knows how to read
		 * from the request: let it run, then throw away everything
		 * it did, whatever it answered.
		 */
		if (child.err == 0)
			(void)r->cmd->exec(&ctx);
		child.err = 0;
		rc = cmd_fail(&ctx, BUDGET_ERR_PERMISSION_DENIED,
		    "role %s may not run %s", role_name(ctx.role),
		    r->cmd->name);
	} else if (t->err != 0)
		rc = BUDGET_OK; /* handled below as a store error */
	else
		rc = r->cmd->exec(&ctx);
	if (flat) {
		if (parent->err != 0 ||
		    (rc != BUDGET_OK && parent->writes != writes)) {
			cmd_ctx_free(&ctx);
			turn->nest_from = turn->n - 1;
			return (CMD_RERUN);
		}
	} else if (rc == BUDGET_OK && child.err == 0)
		store_commit(&child);
	else
		store_abort(&child);
	if (!flat && child.err != 0) {
		/* Storage, not the ledger, said no: record nothing. */
		st = child.err;
		cmd_ctx_free(&ctx);
		if (st == STORE_FULL && allow_grow)
			return (CMD_GROW);
		cmd_reply_error(r, cmd_store_error(st), store_strerror(st));
		return (CMD_DONE);
	}
	/* The daemon's own requests have nobody to answer. */
	if (!internal)
		cmd_reply_ctx(r, &ctx, rc);
	else if (rc != BUDGET_OK)
		log_warnx("cmd %s: %s: %s", r->cmd->name, budget_err_code(rc),
		    ctx.errmsg != NULL ? ctx.errmsg : "");
	if (rc != BUDGET_OK && cmd_refusal_journaled(rc)) {
		/*
		 * Who tried to overspend, when, with what: the refusal goes
		 * into the journal, outside the rolled-back command.
		 */
		ctx.txn = parent;
		cmd_journal_refusal(&ctx, r, rc);
	}
	cmd_ctx_free(&ctx);
	if (internal || !allowed)
		return (parent->err == STORE_FULL && allow_grow ? CMD_GROW
								: CMD_DONE);

	rec.digest.data = digest;
	rec.digest.len = sizeof(digest);
	rec.response.data = r->reply + BUDGET_FRAME_HEADER;
	rec.response.len = r->reply_len - BUDGET_FRAME_HEADER;
	rec.time = now;
	{
		size_t len = budgetstore__request_record__get_packed_size(&rec);
		uint8_t *buf = xmalloc(len > 0 ? len : 1);

		budgetstore__request_record__pack(&rec, buf);
		store_put(parent, STORE_DB_REQUESTS, id, strlen(id), buf, len);
		free(buf);
	}
	if (parent->err == STORE_FULL && allow_grow)
		return (CMD_GROW);
	return (CMD_DONE);
}

/*
 * A batch: each op is a whole Request run exactly as if it had come alone
 * (request id, idempotency, role, its own nested transaction), in order;
 * the batch's answer gathers the ops' answers. A full map reruns the whole
 * batch like any other request.
 */
static enum cmd_outcome
cmd_exec_batch(struct req *r, struct cmd_turn *turn)
{
	Budget__Response      resp = BUDGET__RESPONSE__INIT;
	Budget__BatchResult   res = BUDGET__BATCH_RESULT__INIT;
	Budget__BatchRequest *b = r->msg->batch;
	struct req            op;
	const char           *why;
	size_t                i, n = 0;
	enum cmd_outcome      out = CMD_DONE;

	if (b->n_ops == 0 || b->n_ops > CMD_BATCH_OPS_MAX) {
		cmd_reply_error(r, BUDGET_ERR_INVALID_ARGUMENT,
		    "a batch holds 1 to 8190 ops");
		return (CMD_DONE);
	}
	res.results = xcalloc(b->n_ops + 1, sizeof(*res.results));
	for (i = 0; i < b->n_ops; i++) {
		memset(&op, 0, sizeof(op));
		op.conn = r->conn;
		op.role = r->role;
		op.uid = r->uid;
		op.msg = b->ops[i];
		op.seq = r->seq;
		op.cmd = cmd_lookup(op.msg->command_case);
		why = NULL;
		if (op.msg->version != 0 &&
		    op.msg->version != BUDGET_PROTOCOL_VERSION)
			why = "an op's version must be 0 or 1";
		else if (op.cmd == NULL)
			why = "unknown command";
		else if (op.cmd->flags & CMD_BATCH)
			why = "a batch cannot hold a batch";
		else if (op.cmd->flags & (CMD_READONLY | CMD_INTERNAL))
			why =
			    "only commands that change the ledger are batched";
		if (why != NULL) {
			enum budget_err code = op.cmd == NULL
			    ? BUDGET_ERR_UNKNOWN_COMMAND
			    : BUDGET_ERR_INVALID_ARGUMENT;

			op.cmd = r->cmd;
			cmd_reply_error(&op, code, why);
		} else if ((out = cmd_exec_one(&op, turn)) != CMD_DONE) {
			free(op.reply);
			break;
		}
		res.results[n] = budget__response__unpack(NULL,
		    op.reply_len - BUDGET_FRAME_HEADER,
		    op.reply + BUDGET_FRAME_HEADER);
		free(op.reply);
		if (res.results[n] == NULL)
			fatalx("cmd: a batch op's answer does not decode");
		n++;
	}
	if (out == CMD_DONE) {
		res.n_results = n;
		resp.request_id = r->msg->request_id;
		resp.result_case = BUDGET__RESPONSE__RESULT_BATCH;
		resp.batch = &res;
		free(r->reply);
		r->reply = cmd_frame(&resp, &r->reply_len);
	}
	for (i = 0; i < n; i++)
		budget__response__free_unpacked(res.results[i], NULL);
	free(res.results);
	return (out);
}

/* Whether the caller's role may run r's command. */
static int
cmd_allowed(const struct req *r)
{
	return ((r->cmd->roles & CMD_ROLE(r->role)) != 0);
}

/* A "refused" entry for r, answered rc, in ctx's transaction. */
static void
cmd_journal_refusal(
    struct cmd_ctx *ctx, const struct req *r, enum budget_err rc)
{
	ctx->jr.kind = "refused";
	ctx->jr.error = budget_err_code(rc);
	ctx->jr.command = r->cmd->name;
	ctx->jr.text = ctx->errmsg;
	cmd_journal(ctx, &ctx->jr);
}

/*
 * Refusals that guard the money are journaled, so that an auditor sees
 * who tried to overspend; bad input (invalid_argument, not_found, ...)
 * changes nothing and leaves no trace but its answer.
 */
static int
cmd_refusal_journaled(enum budget_err rc)
{
	switch (rc) {
	case BUDGET_ERR_CONTRACT_BUDGET_EXCEEDED:
	case BUDGET_ERR_DEMINIMIS_CEILING_EXCEEDED:
	case BUDGET_ERR_EXCLUSION_PERIOD:
	case BUDGET_ERR_AMOUNT_EXCEEDS_COMMITMENT:
	case BUDGET_ERR_BUDGET_BELOW_USAGE:
	case BUDGET_ERR_CONTRACT_CLOSED:
	case BUDGET_ERR_PERMISSION_DENIED:
		return (1);
	default:
		return (0);
	}
}

static int
cmd_request_id_ok(const char *id)
{
	size_t len = strlen(id), i;

	if (len == 0 || len > BUDGET_REQUEST_ID_MAX)
		return (0);
	for (i = 0; i < len; i++) {
		char c = id[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			(c >= '0' && c <= '9') || c == '.' || c == '_' ||
			c == ':' || c == '-'))
			return (0);
	}
	return (1);
}

/*
 * What "the same request" means: the command's case and its re-packed
 * bytes. Re-packing (rather than hashing what arrived) makes the digest
 * independent of how a client's library ordered or defaulted fields.
 */
static void
cmd_digest(const Budget__Request *msg, uint8_t out[32])
{
	const ProtobufCFieldDescriptor *f;
	const ProtobufCMessage         *sub = NULL;
	uint8_t                         small[512], *buf = small;
	size_t                          len = 0;
	uint32_t                        be;
	const void                     *parts[2];
	size_t                          lens[2];

	f = protobuf_c_message_descriptor_get_field(
	    &budget__request__descriptor, (unsigned)msg->command_case);
	if (f != NULL)
		sub = *(const ProtobufCMessage *const *)(const void
			*)((const char *)msg + f->offset);
	if (sub != NULL) {
		len = protobuf_c_message_get_packed_size(sub);
		if (len > sizeof(small))
			buf = xmalloc(len);
		protobuf_c_message_pack(sub, buf);
	}
	be = htonl((uint32_t)msg->command_case);
	parts[0] = &be;
	lens[0] = sizeof(be);
	parts[1] = buf;
	lens[1] = len;
	budget_sha256(parts, lens, 2, out);
	if (buf != small)
		free(buf);
}

static void
cmd_ctx_init(struct cmd_ctx *ctx, struct req *r, Budget__Response *resp,
    struct store_txn *t, int64_t now)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->msg = r->msg;
	ctx->resp = resp;
	ctx->txn = t;
	ctx->now = now;
	/*
	 * The caller's role as it was when the request arrived: a request
	 * whose connection has gone since still runs as its sender.
	 */
	ctx->role = r->role;
	ctx->uid = r->uid;
	ctx->internal = (r->cmd->flags & CMD_INTERNAL) != 0;
}

static void
cmd_ctx_free(struct cmd_ctx *ctx)
{
	struct cmd_chunk *c, *next;

	for (c = ctx->scratch; c != NULL; c = next) {
		next = c->next;
		/* Keep one small chunk for the next request: most answers
		 * fit in it, and the daemon is single-threaded. */
		if (!ctx->worker && cmd_spare == NULL &&
		    c->cap == CMD_CHUNK_MIN)
			cmd_spare = c;
		else
			free(c);
	}
	free(ctx->errmsg);
	ctx->scratch = NULL;
	ctx->errmsg = NULL;
}

enum budget_err
cmd_fail(struct cmd_ctx *ctx, enum budget_err code, const char *fmt, ...)
{
	va_list ap;

	free(ctx->errmsg);
	va_start(ap, fmt);
	if (vasprintf(&ctx->errmsg, fmt, ap) == -1)
		fatal("cmd_fail: vasprintf");
	va_end(ap);
	return (code);
}

/*
 * Memory that lives until the answer is packed, zeroed: bump allocation
 * from chunks freed all at once, since an answer (an export page, say) is
 * made of thousands of tiny pieces.
 */
void *
cmd_alloc(struct cmd_ctx *ctx, size_t size)
{
	struct cmd_chunk *c = ctx->scratch;
	size_t            cap;
	void             *p;

	size = (size + 15) & ~(size_t)15;
	if (size == 0)
		size = 16;
	if (c == NULL || c->len + size > c->cap) {
		cap = c == NULL ? CMD_CHUNK_MIN : c->cap * 2;
		if (cap > CMD_CHUNK_MAX)
			cap = CMD_CHUNK_MAX;
		if (cap < size)
			cap = size;
		if (!ctx->worker && cap == CMD_CHUNK_MIN && cmd_spare != NULL) {
			c = cmd_spare;
			cmd_spare = NULL;
		} else
			c = xmalloc(sizeof(*c) + cap);
		c->cap = cap;
		c->len = 0;
		c->next = ctx->scratch;
		ctx->scratch = c;
	}
	p = c->data + c->len;
	c->len += size;
	memset(p, 0, size);
	return (p);
}

char *
cmd_strdup(struct cmd_ctx *ctx, const char *s)
{
	size_t len = strlen(s) + 1;
	char  *p = cmd_alloc(ctx, len);

	memcpy(p, s, len);
	return (p);
}

char *
cmd_printf(struct cmd_ctx *ctx, const char *fmt, ...)
{
	va_list ap;
	char   *s, *p;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) == -1)
		fatal("cmd_printf: vasprintf");
	va_end(ap);
	p = cmd_strdup(ctx, s);
	free(s);
	return (p);
}

/* Pack a Response as a whole frame (header included) in a new buffer. */
static uint8_t *
cmd_frame(const Budget__Response *resp, size_t *lenp)
{
	size_t   len = budget__response__get_packed_size(resp);
	uint8_t *buf;
	uint32_t be;

	/* Every answer has an error or a result: a bug otherwise, and a
	 * length-0 frame is a protocol violation. */
	if (len == 0)
		fatalx("cmd: a command answered with an empty response");
	buf = xmalloc(BUDGET_FRAME_HEADER + len);
	be = htonl((uint32_t)len);
	memcpy(buf, &be, sizeof(be));
	budget__response__pack(resp, buf + BUDGET_FRAME_HEADER);
	*lenp = BUDGET_FRAME_HEADER + len;
	return (buf);
}

uint8_t *
cmd_error_frame(
    enum budget_err code, const char *text, const char *id, size_t *lenp)
{
	Budget__Response resp = BUDGET__RESPONSE__INIT;
	Budget__Error    err = BUDGET__ERROR__INIT;

	err.code = PB_STR(budget_err_code(code));
	err.message = PB_STR(text);
	resp.error = &err;
	resp.request_id = PB_STR(id);
	return (cmd_frame(&resp, lenp));
}

static void
cmd_reply_error(struct req *r, enum budget_err code, const char *text)
{
	free(r->reply);
	r->reply =
	    cmd_error_frame(code, text, r->msg->request_id, &r->reply_len);
	if (code != BUDGET_OK)
		log_debug("cmd %s #%llu: %s: %s", r->cmd->name,
		    (unsigned long long)r->seq, budget_err_code(code), text);
}

static void
cmd_reply_ctx(struct req *r, struct cmd_ctx *ctx, enum budget_err rc)
{
	if (rc != BUDGET_OK) {
		cmd_reply_error(r, rc,
		    ctx->errmsg != NULL ? ctx->errmsg : budget_err_summary(rc));
		return;
	}
	ctx->resp->request_id = r->msg->request_id;
	free(r->reply);
	r->reply = cmd_frame(ctx->resp, &r->reply_len);
}

/* Answer with a stored packed Response, marked as replayed. */
static void
cmd_reply_packed(struct req *r, const uint8_t *data, size_t len, int replayed)
{
	Budget__Response *resp;

	resp = budget__response__unpack(NULL, len, data);
	if (resp == NULL) {
		cmd_reply_error(r, BUDGET_ERR_STORAGE_ERROR,
		    "the stored answer to this request id is corrupt");
		return;
	}
	resp->replayed = replayed;
	free(r->reply);
	r->reply = cmd_frame(resp, &r->reply_len);
	budget__response__free_unpacked(resp, NULL);
}

/* The table entry of a batch; cmd_exec_one runs it (cmd_exec_batch). */
static enum budget_err
cmd_batch_unused(struct cmd_ctx *ctx)
{
	return (cmd_fail(ctx, BUDGET_ERR_INTERNAL, "batch dispatched wrongly"));
}

const struct cmd_entry cmd_batch_entry = {
    .name = "batch",
    .flags = CMD_BATCH,
    .roles = CMD_ROLES_READ,
    .exec = cmd_batch_unused,
};
