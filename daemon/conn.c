/*
 * conn.c: one client connection. Owns the connection's state machine
 * (READING, BLOCKED, CLOSING), turning bytes into requests, writing answers
 * strictly in request order, and the limits that keep one client from
 * hurting the others: frames per wakeup, unanswered requests (and long
 * reads among them), unsent bytes, idle and stuck-write timeouts, and a
 * deadline for finishing a frame.
 *
 * A connection is freed on exactly one path, conn_free(), and never while
 * one of its requests is being executed: requests whose connection goes
 * away are detached and freed by cmd.c after they run.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "budget.pb-c.h"
#include "budget/protocol.h"
#include "budgetd.h"
#include "cmd.h"

/* Frames decoded per read callback, so that one client cannot starve. */
#define CONN_BATCH       16
/* Stop reading while this many answers are owed... */
#define CONN_PENDING_MAX 256
/*
 * ...or this many of them are long reads (CMD_SLOW). Their answers, over a
 * megabyte each for an export page, are all made before the output limit
 * below can see one: without this, a client that pipelines exports and
 * never reads would have CONN_PENDING_MAX of them (345 MiB, measured) in
 * the daemon's memory. It also keeps one connection from taking every
 * slot of the reader thread...
 */
#define CONN_SLOW_MAX    8
/* ...or this many unsent bytes wait in the output buffer. */
#define CONN_OUT_MAX     (4u * 1024 * 1024)
/* The write callback fires when output drains below this. */
#define CONN_OUT_LOW     (256u * 1024)

static void conn_read_cb(struct bufferevent *, void *);
static void conn_write_cb(struct bufferevent *, void *);
static void conn_event_cb(struct bufferevent *, short, void *);
static void conn_frame_timeout_cb(int, short, void *);
static void conn_request(struct conn *, Budget__Request *);
static void conn_protocol_error(struct conn *, enum budget_err, const char *);
static int  conn_flush(struct conn *);
static int  conn_over_limits(const struct conn *);
static void conn_block(struct conn *);
static void conn_closing(struct conn *);
static void conn_unblock(struct conn *);
static void conn_free(struct conn *);

void
conn_new(int fd, uid_t uid, gid_t gid, pid_t pid)
{
	struct conn   *c;
	struct timeval rtv, wtv;

	c = xcalloc(1, sizeof(*c));
	c->id = ++bd->next_conn_id;
	c->fd = fd;
	c->uid = uid;
	c->gid = gid;
	c->pid = pid;
	c->state = CONN_READING;
	c->role = config_role_for(&bd->conf, uid, gid);
	TAILQ_INIT(&c->reqs);
	c->bev = bufferevent_socket_new(bd->base, fd, BEV_OPT_CLOSE_ON_FREE);
	c->frame_timer = evtimer_new(bd->base, conn_frame_timeout_cb, c);
	c->ready = evbuffer_new();
	if (c->bev == NULL || c->frame_timer == NULL || c->ready == NULL)
		fatalx("conn: bufferevent_socket_new");
	bufferevent_setcb(
	    c->bev, conn_read_cb, conn_write_cb, conn_event_cb, c);
	/* A rough guard only: the frame limit is enforced by the decoder. */
	bufferevent_setwatermark(c->bev, EV_READ, 0,
	    BUDGET_FRAME_HEADER + bd->conf.frame_max + 65536);
	bufferevent_setwatermark(c->bev, EV_WRITE, CONN_OUT_LOW, 0);
	rtv.tv_sec = bd->conf.idle_timeout;
	rtv.tv_usec = 0;
	wtv.tv_sec = bd->conf.write_timeout;
	wtv.tv_usec = 0;
	bufferevent_set_timeouts(c->bev, &rtv, &wtv);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	TAILQ_INSERT_TAIL(&bd->conns, c, entry);
	bd->nconns++;
	log_debug("conn %u: uid %u gid %u pid %d, role %s", c->id,
	    (unsigned)uid, (unsigned)gid, (int)pid, role_name(c->role));
}

/*
 * Answer a connection we will not serve with one error frame and close it.
 * The frame is tiny and the socket new, so a non-blocking write fits.
 */
void
conn_refuse(int fd, enum budget_err code, const char *text)
{
	uint8_t *frame;
	size_t   len;

	frame = cmd_error_frame(code, text, "", &len);
	if (write(fd, frame, len) == -1)
		log_debug("control: refusing: %s", strerror(errno));
	free(frame);
	close(fd);
}

/* Connections of uid, counting those gone with requests left to run. */
unsigned
conn_count_uid(uid_t uid)
{
	struct conn       *c;
	struct conn_ghost *g;
	unsigned           n = 0;

	TAILQ_FOREACH(c, &bd->conns, entry) {
		if (c->uid == uid)
			n++;
	}
	TAILQ_FOREACH(g, &bd->ghosts, entry) {
		if (g->uid == uid)
			n++;
	}
	return (n);
}

/* One of what a connection left has run (req_free). */
void
conn_ghost_done(struct conn_ghost *g)
{
	if (--g->left > 0)
		return;
	TAILQ_REMOVE(&bd->ghosts, g, entry);
	bd->nghosts--;
	free(g);
}

static int
conn_over_limits(const struct conn *c)
{
	return (c->npending >= CONN_PENDING_MAX || c->nslow >= CONN_SLOW_MAX ||
	    evbuffer_get_length(bufferevent_get_output(c->bev)) >=
		CONN_OUT_MAX);
}

/* Backpressure: a client that does not read its answers is not read. */
static void
conn_block(struct conn *c)
{
	if (c->state != CONN_READING)
		return;
	c->state = CONN_BLOCKED;
	bufferevent_disable(c->bev, EV_READ);
	/*
	 * We stopped reading, not the client: a frame it has not finished
	 * is ours to wait for. The write timeout watches it meanwhile, and
	 * the read callback arms the deadline again after unblocking.
	 */
	evtimer_del(c->frame_timer);
	cmd_heard(c); /* the commit wait: nothing comes from it meanwhile */
	log_debug("conn %u: blocked (%u owed, %zu bytes unsent, %u long "
		  "reads)",
	    c->id, c->npending,
	    evbuffer_get_length(bufferevent_get_output(c->bev)), c->nslow);
}

static void
conn_unblock(struct conn *c)
{
	if (c->state != CONN_BLOCKED || conn_over_limits(c))
		return;
	c->state = CONN_READING;
	bufferevent_enable(c->bev, EV_READ);
	/* Frames may already be buffered: look at them without new bytes. */
	if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
		bufferevent_trigger(c->bev, EV_READ, BEV_TRIG_DEFER_CALLBACKS);
}

static void
conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct conn      *c = arg;
	struct evbuffer  *in = bufferevent_get_input(bev);
	ProtobufCMessage *msg;
	struct timeval    tv;
	int               n, rc;

	for (n = 0; n < CONN_BATCH; n++) {
		if (c->state != CONN_READING)
			return;
		if (conn_over_limits(c)) {
			conn_block(c);
			return;
		}
		rc = wire_decode(
		    in, bd->conf.frame_max, &budget__request__descriptor, &msg);
		if (rc == WIRE_MORE)
			break;
		if (rc == WIRE_TOO_LARGE) {
			conn_protocol_error(c, BUDGET_ERR_FRAME_TOO_LARGE,
			    "frame length is 0 or above the limit");
			return;
		}
		if (rc == WIRE_MALFORMED) {
			conn_protocol_error(c, BUDGET_ERR_MALFORMED_FRAME,
			    "frame does not decode as a Request");
			return;
		}
		/*
		 * The deadline that ran was for this frame, and it is done:
		 * the bytes after it start a new frame, with its own.
		 */
		evtimer_del(c->frame_timer);
		conn_request(c, (Budget__Request *)msg);
	}

	if (n == CONN_BATCH) {
		/* Fairness: let the others have a turn, then come back. */
		bufferevent_trigger(bev, EV_READ, BEV_TRIG_DEFER_CALLBACKS);
		return;
	}
	/* Half a frame is buffered: it must be completed in time. */
	if (evbuffer_get_length(in) > 0) {
		if (!evtimer_pending(c->frame_timer, NULL)) {
			tv.tv_sec = bd->conf.frame_timeout;
			tv.tv_usec = 0;
			evtimer_add(c->frame_timer, &tv);
		}
	} else
		evtimer_del(c->frame_timer);
}

/* Takes ownership of msg. */
static void
conn_request(struct conn *c, Budget__Request *msg)
{
	const struct cmd_entry *cmd;
	struct req             *r;
	char                    buf[64];

	if (msg->version != BUDGET_PROTOCOL_VERSION) {
		log_warnx("conn %u: protocol version %u, expected %u", c->id,
		    msg->version, BUDGET_PROTOCOL_VERSION);
		protobuf_c_message_free_unpacked(&msg->base, NULL);
		snprintf(buf, sizeof(buf),
		    "this daemon speaks protocol "
		    "version %u",
		    BUDGET_PROTOCOL_VERSION);
		conn_protocol_error(c, BUDGET_ERR_UNSUPPORTED_VERSION, buf);
		return;
	}
	if ((cmd = cmd_lookup(msg->command_case)) == NULL) {
		log_warnx("conn %u: unknown command %d", c->id,
		    (int)msg->command_case);
		protobuf_c_message_free_unpacked(&msg->base, NULL);
		conn_protocol_error(c, BUDGET_ERR_UNKNOWN_COMMAND,
		    "the request carries no command this daemon knows");
		return;
	}
	r = xcalloc(1, sizeof(*r));
	r->conn = c;
	r->msg = msg;
	r->cmd = cmd;
	r->role = c->role;
	r->uid = c->uid;
	TAILQ_INSERT_TAIL(&c->reqs, r, conn_entry);
	c->npending++;
	if (cmd->flags & CMD_SLOW)
		c->nslow++;
	cmd_submit(r);
}

/*
 * A protocol violation: after the answers already owed, one error frame,
 * then the connection closes. Nothing more is read from it.
 */
static void
conn_protocol_error(struct conn *c, enum budget_err code, const char *text)
{
	struct req *r;

	log_warnx("conn %u: uid %u: %s: %s", c->id, (unsigned)c->uid,
	    budget_err_code(code), text);
	r = xcalloc(1, sizeof(*r));
	r->conn = c;
	r->reply = cmd_error_frame(code, text, "", &r->reply_len);
	r->done = 1;
	r->close_after = 1;
	TAILQ_INSERT_TAIL(&c->reqs, r, conn_entry);
	c->npending++;
	conn_closing(c);
}

/*
 * Read nothing more from c: it closes once its answers are written (and
 * here, if none is owed: c may be freed). Like a connection blocked, it
 * is not waited for by the commit wait (it may have been answered by the
 * last write turn: cmd_await).
 */
static void
conn_closing(struct conn *c)
{
	c->state = CONN_CLOSING;
	bufferevent_disable(c->bev, EV_READ);
	evtimer_del(c->frame_timer);
	cmd_heard(c);
	conn_flush(c);
}

/*
 * Move every answer that is ready, in order, towards the socket. Returns
 * 1 when the connection was freed (the caller must not touch it).
 *
 * With nothing unsent ahead of them, answers collect in c->ready, and
 * conn_write_ready writes each connection's in one writev once the turn
 * that made them is over. Through the bufferevent each answer would cost
 * two epoll_ctl calls (arm the write event, disarm it once drained) and a
 * wakeup. While output is queued, or the connection is closing, answers
 * go to the bufferevent as before, after whatever c->ready holds.
 */
static int
conn_flush(struct conn *c)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	struct evbuffer *to;
	struct req      *r;

	if (evbuffer_get_length(out) == 0 && c->state != CONN_CLOSING)
		to = c->ready;
	else {
		to = out;
		if (evbuffer_add_buffer(out, c->ready) != 0)
			fatalx("conn %u: evbuffer_add_buffer", c->id);
	}
	while ((r = TAILQ_FIRST(&c->reqs)) != NULL && r->done) {
		TAILQ_REMOVE(&c->reqs, r, conn_entry);
		c->npending--;
		if (r->cmd != NULL && (r->cmd->flags & CMD_SLOW))
			c->nslow--;
		if (evbuffer_add(to, r->reply, r->reply_len) != 0)
			fatalx("conn %u: evbuffer_add", c->id);
		if (r->close_after)
			c->state = CONN_CLOSING;
		req_free(r);
	}
	if (evbuffer_get_length(c->ready) > 0 && !c->writing) {
		c->writing = 1;
		TAILQ_INSERT_TAIL(&bd->writing, c, writing_entry);
		event_active(bd->write_ready, 0, 0);
	}
	if (c->state == CONN_CLOSING && TAILQ_EMPTY(&c->reqs) &&
	    evbuffer_get_length(out) == 0) {
		conn_free(c);
		return (1);
	}
	return (0);
}

/*
 * After a turn: each connection's collected answers to its socket. What
 * the socket does not take, and any error, is left to the bufferevent,
 * which writes the rest, times it out and reports errors as before.
 */
static void
conn_write_ready(int fd, short events, void *arg)
{
	struct evbuffer *out;
	struct conn     *c;

	(void)fd;
	(void)events;
	(void)arg;
	while ((c = TAILQ_FIRST(&bd->writing)) != NULL) {
		TAILQ_REMOVE(&bd->writing, c, writing_entry);
		c->writing = 0;
		out = bufferevent_get_output(c->bev);
		if (evbuffer_get_length(c->ready) > 0 &&
		    evbuffer_get_length(out) == 0)
			(void)evbuffer_write(c->ready, c->fd);
		if (evbuffer_add_buffer(out, c->ready) != 0)
			fatalx("conn %u: evbuffer_add_buffer", c->id);
	}
}

void
conn_init(void)
{
	TAILQ_INIT(&bd->writing);
	bd->write_ready = event_new(bd->base, -1, 0, conn_write_ready, NULL);
	if (bd->write_ready == NULL)
		fatalx("conn: event_new");
}

/* Called by cmd.c when one of this connection's answers is ready. */
void
conn_reply_ready(struct conn *c)
{
	if (conn_flush(c))
		return;
	conn_unblock(c);
}

static void
conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	if (c->state == CONN_CLOSING) {
		if (TAILQ_EMPTY(&c->reqs) &&
		    evbuffer_get_length(bufferevent_get_output(bev)) == 0)
			conn_free(c);
		return;
	}
	conn_unblock(c);
}

static void
conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;

	if (what & BEV_EVENT_EOF) {
		/* Answer what was asked if the peer still reads, then go. */
		log_debug("conn %u: closed by peer", c->id);
		conn_closing(c);
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		log_debug(
		    "conn %u: %s", c->id, strerror(EVUTIL_SOCKET_ERROR()));
		conn_free(c);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		if (what & BEV_EVENT_WRITING) {
			log_warnx("conn %u: uid %u does not read its answers; "
				  "closing",
			    c->id, (unsigned)c->uid);
			conn_free(c);
			return;
		}
		if (c->npending > 0) {
			/* Waiting for us, not idle: keep listening. */
			bufferevent_enable(bev, EV_READ);
			return;
		}
		log_info("conn %u: idle for %us; closing", c->id,
		    bd->conf.idle_timeout);
		conn_free(c);
	}
}

static void
conn_frame_timeout_cb(int fd, short events, void *arg)
{
	struct conn *c = arg;

	(void)fd;
	(void)events;
	log_warnx("conn %u: uid %u did not finish a frame within %us; closing",
	    c->id, (unsigned)c->uid, bd->conf.frame_timeout);
	conn_free(c);
}

/*
 * The one place a connection is freed. Requests still waiting to execute
 * are detached (cmd.c frees them after they run: they may be applied, but
 * nobody is told); answers already made are dropped. Until the detached
 * ones have run, they count as a connection (struct conn_ghost): without
 * that, a client that goes away with requests held (cmd_hold), connects
 * and does it again, would have the daemon keep its requests without
 * bound.
 */
static void
conn_free(struct conn *c)
{
	struct conn_ghost *g = NULL;
	struct req        *r;

	while ((r = TAILQ_FIRST(&c->reqs)) != NULL) {
		TAILQ_REMOVE(&c->reqs, r, conn_entry);
		if (r->done) {
			req_free(r);
			continue;
		}
		if (g == NULL) {
			g = xcalloc(1, sizeof(*g));
			g->uid = c->uid;
			TAILQ_INSERT_TAIL(&bd->ghosts, g, entry);
			bd->nghosts++;
		}
		g->left++;
		r->conn = NULL;
		r->ghost = g;
	}
	cmd_conn_gone(c);
	TAILQ_REMOVE(&bd->conns, c, entry);
	bd->nconns--;
	evtimer_del(c->frame_timer);
	event_free(c->frame_timer);
	if (c->writing)
		TAILQ_REMOVE(&bd->writing, c, writing_entry);
	bufferevent_free(c->bev);
	evbuffer_free(c->ready);
	log_debug("conn %u: freed", c->id);
	free(c);
	if (bd->shutting_down)
		budgetd_maybe_exit();
}

/* Shutdown: read no more requests; answer the ones owed, then close. */
void
conn_stop_reading_all(void)
{
	struct conn *c, *next;

	for (c = TAILQ_FIRST(&bd->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		conn_closing(c);
	}
}

void
conn_close_all(void)
{
	struct conn *c;

	while ((c = TAILQ_FIRST(&bd->conns)) != NULL)
		conn_free(c);
}
