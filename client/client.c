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
 * Send one request and return its answer (free with
 * budget__response__free_unpacked). Never returns on a transport failure.
 */
Budget__Response *
ctl_call(Budget__Request *req)
{
	ProtobufCMessage *msg;
	int               rc;

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
	rc = wire_read_fd(ctl.fd, BUDGET_FRAME_MAX_LIMIT,
	    &budget__response__descriptor, &msg);
	if (rc == WIRE_IO) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			ctl_fail(
			    "no answer from budgetd within %ds", ctl.timeout);
		ctl_fail("reading from budgetd: %s",
		    errno != 0 ? strerror(errno) : "connection closed");
	}
	if (rc != WIRE_OK)
		ctl_fail("budgetd sent a frame that does not decode");
	return ((Budget__Response *)msg);
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
	Budget__Response *resp = ctl_call(req);

	if ((*rc = ctl_refused(resp)) != 0)
		goto fail;
	if (resp->result_case != want) {
		fprintf(stderr,
		    "budgetctl: %s: budgetd answered without the expected "
		    "result (%d, expected %d)\n",
		    ctl.cmd != NULL ? ctl.cmd->words : "request",
		    (int)resp->result_case, (int)want);
		*rc = EXIT_UNREACHABLE;
		goto fail;
	}
	if (resp->replayed && !ctl.json)
		fprintf(stderr,
		    "note: request %s was answered before; this is that "
		    "answer again, nothing was applied twice\n",
		    resp->request_id);
	*rc = EXIT_DONE;
	return (resp);

fail:
	budget__response__free_unpacked(resp, NULL);
	return (NULL);
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
