/*
 * expiry.c: the daemon's own clock for reservations. Once a second it
 * looks whether a reservation's time has come and, if so, queues one
 * internal request that releases those due (cmd-dossier.c), through the
 * same batch, journal and fsync as every client request.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "budget/date.h"
#include "cmd.h"

static struct event *expiry_ev;
static int           expiry_queued; /* a request is waiting to run */

static void
expiry_done(struct req *r)
{
	(void)r;
	expiry_queued = 0;
}

static void
expiry_cb(int fd, short events, void *arg)
{
	struct store_txn t;
	struct req      *r;
	char             id[LEDGER_ID_MAX + 1];
	int64_t          at;
	int              st;

	(void)fd;
	(void)events;
	(void)arg;
	if (expiry_queued || bd->shutting_down)
		return;
	store_begin(&t, 0);
	st = record_expiry_first(&t, &at, id);
	store_abort(&t);
	if (st != STORE_OK || at > timestamp_now())
		return;
	r = xcalloc(1, sizeof(*r));
	r->cmd = &cmd_dossier_expire_entry;
	r->role = ROLE_ADMIN;
	r->uid = bd->euid;
	/* An empty Request, allocated the way the decoder would. */
	r->msg = budget__request__unpack(NULL, 0, NULL);
	if (r->msg == NULL)
		fatalx("expiry: cannot make an internal request");
	r->on_done = expiry_done;
	expiry_queued = 1;
	cmd_submit(r);
}

void
expiry_start(void)
{
	struct timeval tv = {1, 0};

	expiry_ev = event_new(bd->base, -1, EV_PERSIST, expiry_cb, NULL);
	if (expiry_ev == NULL)
		fatalx("expiry: event_new");
	evtimer_add(expiry_ev, &tv);
}

void
expiry_stop(void)
{
	if (expiry_ev != NULL) {
		event_del(expiry_ev);
		event_free(expiry_ev);
	}
	expiry_ev = NULL;
}
