/*
 * client.c: budgetctl's one connection to budgetd. Owns connecting (with a
 * clear message when the daemon is not there), sending a Request with the
 * shared frame codec over a blocking socket, waiting a bounded time for the
 * Response, and the mapping of failures to exit statuses: a refusal by the
 * ledger is 1, anything that keeps us from getting an answer is 3.
 */
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include <arpa/inet.h>

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "budget/protocol.h"
#include "budgetctl.h"

static __dead void
ctl_fail(const char *, ...) __attribute__((format(printf, 1, 2)));
static __dead void ctl_read_fail(int);
static void       *ctl_arena_alloc(void *, size_t);
static void        ctl_arena_nofree(void *, void *);

/* Cannot talk to the daemon: say so in the requested format, exit 3. */
static __dead void
ctl_fail(const char *fmt, ...)
{
	va_list ap;
	char    buf[512];
	json_t *o;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (ctl.json) {
		o = json_pack("{s:{s:s,s:s}}", "error", "code", "unreachable",
		    "message", buf);
		out_json(o);
	} else
		fprintf(stderr, "budgetctl: %s\n", buf);
	exit(EXIT_UNREACHABLE);
}

static void
ctl_connect(void)
{
	struct sockaddr_un sun;
	struct timeval     tv;

	if (ctl.fd != -1)
		return;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(ctl.socket) >= sizeof(sun.sun_path))
		ctl_fail("%s: socket path too long", ctl.socket);
	memcpy(sun.sun_path, ctl.socket, strlen(ctl.socket) + 1);
	if ((ctl.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		ctl_fail("socket: %s", strerror(errno));
	if (connect(ctl.fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		ctl_fail("cannot reach budgetd at %s: %s (is it running? "
			 "use -s or BUDGETD_SOCKET)",
		    ctl.socket, strerror(errno));
	tv.tv_sec = ctl.timeout;
	tv.tv_usec = 0;
	setsockopt(ctl.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(ctl.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

void
ctl_close(void)
{
	if (ctl.fd != -1)
		close(ctl.fd);
	ctl.fd = -1;
}

/*
 * Send one request without waiting for its answer: a client may pipeline,
 * and a paging command asks for the next page while it prints this one.
 * Never returns on a transport failure.
 */
void
ctl_send(Budget__Request *req)
{
	int rc;

	ctl_connect();
	/*
	 * A generated id is worth printing only now: the command line was
	 * fine, and if the answer gets lost this is what to retry with.
	 */
	if (ctl.generated_id && !ctl.json && !ctl.id_shown) {
		fprintf(stderr, "request-id: %s\n", ctl.request_id);
		ctl.id_shown = 1;
	}
	req->version = BUDGET_PROTOCOL_VERSION;
	if (req->request_id == NULL || *req->request_id == '\0')
		req->request_id =
		    (char *)(uintptr_t)(ctl.request_id != NULL ? ctl.request_id
							       : "");
	rc = wire_write_fd(ctl.fd, BUDGET_FRAME_MAX_LIMIT, &req->base);
	if (rc != 0)
		ctl_fail("sending to budgetd: %s",
		    rc == WIRE_TOO_LARGE ? "request too large"
					 : strerror(errno));
}

/* A read of an answer failed: why, in words, and exit 3. */
static __dead void
ctl_read_fail(int rc)
{
	if (rc == WIRE_IO) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			ctl_fail(
			    "no answer from budgetd within %ds", ctl.timeout);
		ctl_fail("reading from budgetd: %s",
		    errno != 0 ? strerror(errno) : "connection closed");
	}
	if (rc == WIRE_TOO_LARGE)
		ctl_fail("budgetd sent a frame above %u bytes",
		    BUDGET_FRAME_MAX_LIMIT);
	ctl_fail("budgetd sent a frame that does not decode");
}

/*
 * The answer to the oldest request sent and not yet answered (free with
 * budget__response__free_unpacked). Never returns on a transport failure.
 */
Budget__Response *
ctl_recv(void)
{
	ProtobufCMessage *msg;
	int               rc;

	rc = wire_read_fd(ctl.fd, BUDGET_FRAME_MAX_LIMIT,
	    &budget__response__descriptor, &msg);
	if (rc != WIRE_OK)
		ctl_read_fail(rc);
	return ((Budget__Response *)msg);
}

/*
 * Answers decoded into an arena. A page of the journal decodes into
 * hundreds of thousands of small structures and strings: here each is a
 * pointer bump, and all of a page go at once when the arena is reused for
 * the next, so that paging through a journal costs no malloc per field.
 * Chunks are kept and reused, so memory stays that of the largest page. As
 * wire.c does, decoding may allocate at most a fixed multiple of the frame.
 */
#define CTL_ARENA_CHUNK  (4u * 1024u * 1024u)
#define CTL_ARENA_FACTOR 8u
#define CTL_ARENA_ALIGN  16u

struct ctl_chunk {
	struct ctl_chunk *next;
	char             *data;
	size_t            cap, used;
};

struct ctl_arena {
	struct ctl_chunk  *chunks, *cur, *last;
	size_t             left; /* what this answer may still allocate */
	uint8_t           *frame;
	size_t             framecap;
	ProtobufCAllocator alloc;
};

static void *
ctl_arena_alloc(void *data, size_t size)
{
	struct ctl_arena *a = data;
	struct ctl_chunk *c;

	size = (size + CTL_ARENA_ALIGN - 1) & ~(size_t)(CTL_ARENA_ALIGN - 1);
	if (size > a->left)
		return (NULL);
	a->left -= size;
	while (a->cur != NULL && a->cur->used + size > a->cur->cap)
		a->cur = a->cur->next;
	if (a->cur == NULL) {
		if ((c = calloc(1, sizeof(*c))) == NULL)
			return (NULL);
		c->cap = size > CTL_ARENA_CHUNK ? size : CTL_ARENA_CHUNK;
		if ((c->data = aligned_alloc(CTL_ARENA_ALIGN, c->cap)) ==
		    NULL) {
			free(c);
			return (NULL);
		}
		if (a->last != NULL)
			a->last->next = c;
		else
			a->chunks = c;
		a->last = a->cur = c;
	}
	c = a->cur;
	c->used += size;
	return (c->data + c->used - size);
}

/* Nothing to do: everything goes when the arena is reset. */
static void
ctl_arena_nofree(void *data, void *p)
{
	(void)data;
	(void)p;
}

struct ctl_arena *
ctl_arena_new(void)
{
	struct ctl_arena *a;

	if ((a = calloc(1, sizeof(*a))) == NULL)
		ctl_fail("out of memory");
	a->alloc.alloc = ctl_arena_alloc;
	a->alloc.free = ctl_arena_nofree;
	a->alloc.allocator_data = a;
	return (a);
}

void
ctl_arena_free(struct ctl_arena *a)
{
	struct ctl_chunk *c, *next;

	if (a == NULL)
		return;
	for (c = a->chunks; c != NULL; c = next) {
		next = c->next;
		free(c->data);
		free(c);
	}
	free(a->frame);
	free(a);
}

/*
 * ctl_recv into the arena: the answer lives until the next call with the
 * same arena (or ctl_arena_free); never free it otherwise.
 */
Budget__Response *
ctl_recv_arena(struct ctl_arena *a)
{
	Budget__Response *resp;
	struct ctl_chunk *c;
	uint32_t          be;
	size_t            n;

	if (wire_read_all(ctl.fd, &be, sizeof(be)) == -1)
		ctl_read_fail(WIRE_IO);
	n = ntohl(be);
	if (n == 0 || n > BUDGET_FRAME_MAX_LIMIT)
		ctl_read_fail(WIRE_TOO_LARGE);
	if (n > a->framecap) {
		free(a->frame);
		if ((a->frame = malloc(n)) == NULL)
			ctl_fail("out of memory for a frame of %zu bytes", n);
		a->framecap = n;
	}
	if (wire_read_all(ctl.fd, a->frame, n) == -1)
		ctl_read_fail(WIRE_IO);
	for (c = a->chunks; c != NULL; c = c->next)
		c->used = 0;
	a->cur = a->chunks;
	a->left = n * CTL_ARENA_FACTOR + 4096;
	if ((resp = budget__response__unpack(&a->alloc, n, a->frame)) == NULL)
		ctl_read_fail(WIRE_MALFORMED);
	return (resp);
}

/*
 * Send one request and return its answer (free with
 * budget__response__free_unpacked). Never returns on a transport failure.
 */
Budget__Response *
ctl_call(Budget__Request *req)
{
	ctl_send(req);
	return (ctl_recv());
}

/*
 * Send req and return the answer when it carries the result "want" (free
 * it with budget__response__free_unpacked). Otherwise report why, set *rc
 * to the exit status (1 when the ledger refused, 3 when the answer holds
 * neither a refusal nor the result: a daemon that does not speak our
 * contract) and return NULL, the answer already freed. A replayed answer
 * is announced on stderr here in text mode; out_reply marks it in JSON.
 */
Budget__Response *
ctl_request(Budget__Request *req, Budget__Response__ResultCase want, int *rc)
{
	return (ctl_expect(ctl_call(req), want, rc));
}

/* ctl_request for an answer already received (ctl_recv). */
Budget__Response *
ctl_expect(Budget__Response *resp, Budget__Response__ResultCase want, int *rc)
{
	if (ctl_check(resp, want, rc) == 0)
		return (resp);
	budget__response__free_unpacked(resp, NULL);
	return (NULL);
}

/*
 * The checks of ctl_expect, leaving the answer to its owner (an arena's
 * answer is not freed one by one): 0 when it carries "want", else -1 with
 * the refusal or the mismatch reported and *rc the exit status.
 */
int
ctl_check(
    const Budget__Response *resp, Budget__Response__ResultCase want, int *rc)
{
	if ((*rc = ctl_refused(resp)) != 0)
		return (-1);
	if (resp->result_case != want) {
		fprintf(stderr,
		    "budgetctl: %s: budgetd answered without the expected "
		    "result (%d, expected %d)\n",
		    ctl.cmd != NULL ? ctl.cmd->words : "request",
		    (int)resp->result_case, (int)want);
		*rc = EXIT_UNREACHABLE;
		return (-1);
	}
	if (resp->replayed && !ctl.json)
		fprintf(stderr,
		    "note: request %s was answered before; this is that "
		    "answer again, nothing was applied twice\n",
		    resp->request_id);
	*rc = EXIT_DONE;
	return (0);
}

/*
 * If the daemon refused, print the refusal (stderr, or JSON on stdout) and
 * return the exit status it means; else return 0.
 */
int
ctl_refused(const Budget__Response *resp)
{
	json_t *o;

	if (resp->error == NULL)
		return (0);
	if (ctl.json) {
		o = json_pack("{s:{s:s,s:s}}", "error", "code",
		    resp->error->code, "message", resp->error->message);
		if (resp->replayed)
			json_object_set_new(o, "replayed", json_true());
		if (ctl.request_id != NULL)
			json_object_set_new(
			    o, "request_id", json_string(ctl.request_id));
		out_json(o);
	} else
		fprintf(stderr, "error: %s: %s%s\n", resp->error->code,
		    resp->error->message,
		    resp->replayed
			? " (replayed: this is the answer given before)"
			: "");
	/*
	 * The ledger said no: 1. The daemon would not talk to us at all
	 * (limits, protocol, stopping): 3, as when it cannot be reached.
	 */
	if (strcmp(resp->error->code, "too_many_connections") == 0 ||
	    strcmp(resp->error->code, "shutting_down") == 0 ||
	    strcmp(resp->error->code, "frame_too_large") == 0 ||
	    strcmp(resp->error->code, "malformed_frame") == 0 ||
	    strcmp(resp->error->code, "unknown_command") == 0 ||
	    strcmp(resp->error->code, "unsupported_version") == 0)
		return (EXIT_UNREACHABLE);
	return (EXIT_REFUSED);
}
