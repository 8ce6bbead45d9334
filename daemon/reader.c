/*
 * reader.c: the reader thread. Long reads (verify, report, export,
 * history, balance, drawdown) run here so that a report over a million
 * dossiers never stalls the writers on the event loop.
 *
 * Consistency comes from where the read transaction starts: cmd.c begins
 * it on the main thread at the request's place in the batch, after the
 * writes that came before it are committed. The snapshot is therefore
 * exactly "everything before this request, nothing after", and the thread
 * only executes and packs (LMDB's MDB_NOTLS lets a read transaction move
 * between threads). Answers come back through an eventfd to the loop,
 * which releases them in their connection's order like any other.
 *
 * The thread touches only its job: the request's message, command, role
 * and reply, which the main thread leaves alone until the job is done. A
 * request whose connection went away meanwhile is freed on completion.
 */
#include <sys/eventfd.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "budgetd.h"

/*
 * Slow reads submitted and not yet answered, at most. Each holds a read
 * transaction from its place in the turn until it has run, and LMDB has
 * 126 reader slots for the whole process (the loop's own reads, verify's
 * second thread, expiry and backup take a few); the thread runs them one
 * at a time, so more queued would only pin more old pages. Beyond this,
 * cmd.c holds them back (cmd_hold).
 */
#define READER_INFLIGHT_MAX 64

struct reader_job {
	struct req        *r;
	struct store_txn   txn;
	int64_t            now;
	struct reader_job *next;
};

static struct {
	pthread_t          thread;
	pthread_mutex_t    mtx;
	pthread_cond_t     cv;   /* work queued, or stop */
	pthread_cond_t     idle; /* nothing queued or running */
	struct reader_job *todo, *todo_tail;
	struct reader_job *done;
	int                running; /* jobs taken, not yet finished */
	int                stop;
	int                started;
	int                efd;
	struct event      *ev;
	unsigned           inflight; /* main thread: submitted, not back */
} reader = {.mtx = PTHREAD_MUTEX_INITIALIZER,
    .cv = PTHREAD_COND_INITIALIZER,
    .idle = PTHREAD_COND_INITIALIZER,
    .efd = -1};

static void *
reader_main(void *arg)
{
	struct reader_job *j;
	uint64_t           one = 1;

	(void)arg;
	pthread_mutex_lock(&reader.mtx);
	for (;;) {
		while (reader.todo == NULL && !reader.stop)
			pthread_cond_wait(&reader.cv, &reader.mtx);
		/* Stopped: what is queued is dropped (reader_stop). */
		if (reader.stop)
			break;
		j = reader.todo;
		if ((reader.todo = j->next) == NULL)
			reader.todo_tail = NULL;
		reader.running++;
		pthread_mutex_unlock(&reader.mtx);

		cmd_exec_slow(j->r, &j->txn, j->now);
		store_abort(&j->txn);

		pthread_mutex_lock(&reader.mtx);
		reader.running--;
		j->next = reader.done;
		reader.done = j;
		if (reader.todo == NULL && reader.running == 0)
			pthread_cond_broadcast(&reader.idle);
		if (write(reader.efd, &one, sizeof(one)) == -1 &&
		    errno != EAGAIN)
			fatal("reader: eventfd write");
	}
	pthread_mutex_unlock(&reader.mtx);
	return (NULL);
}

/* Main thread: hand finished answers to their connections. */
static void
reader_done_cb(int fd, short events, void *arg)
{
	struct reader_job *j, *next;
	uint64_t           n;

	(void)events;
	(void)arg;
	if (read(fd, &n, sizeof(n)) == -1 && errno != EAGAIN)
		log_warn("reader: eventfd read");
	pthread_mutex_lock(&reader.mtx);
	j = reader.done;
	reader.done = NULL;
	pthread_mutex_unlock(&reader.mtx);
	for (; j != NULL; j = next) {
		next = j->next;
		reader.inflight--;
		cmd_slow_done(j->r);
		free(j);
	}
	cmd_reader_room();
	if (bd->shutting_down)
		budgetd_maybe_exit();
}

void
reader_start(void)
{
	reader.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (reader.efd == -1)
		fatal("reader: eventfd");
	reader.ev = event_new(
	    bd->base, reader.efd, EV_READ | EV_PERSIST, reader_done_cb, NULL);
	if (reader.ev == NULL || event_add(reader.ev, NULL) == -1)
		fatalx("reader: event_new");
	if (pthread_create(&reader.thread, NULL, reader_main, NULL) != 0)
		fatalx("reader: pthread_create");
	reader.started = 1;
}

/*
 * Queue r to run on the thread in a read transaction begun now, on the
 * main thread, so that it sees exactly what is committed at this point.
 */
void
reader_submit(struct req *r, int64_t now)
{
	struct reader_job *j = xcalloc(1, sizeof(*j));

	j->r = r;
	j->now = now;
	store_begin(&j->txn, 0);
	reader.inflight++;
	pthread_mutex_lock(&reader.mtx);
	if (reader.todo_tail != NULL)
		reader.todo_tail->next = j;
	else
		reader.todo = j;
	reader.todo_tail = j;
	pthread_cond_signal(&reader.cv);
	pthread_mutex_unlock(&reader.mtx);
}

/*
 * Block until the thread holds no read transaction: LMDB may resize its
 * map only then. Answers already made still go out through the loop.
 */
void
reader_drain(void)
{
	pthread_mutex_lock(&reader.mtx);
	while (reader.todo != NULL || reader.running > 0)
		pthread_cond_wait(&reader.idle, &reader.mtx);
	pthread_mutex_unlock(&reader.mtx);
}

/* Reads handed to the thread whose answers are not back on the loop. */
unsigned
reader_inflight(void)
{
	return (reader.inflight);
}

/* Whether another slow read may be submitted now. */
int
reader_has_room(void)
{
	return (reader.inflight < READER_INFLIGHT_MAX);
}

void
reader_stop(void)
{
	struct reader_job *j, *next;

	if (!reader.started)
		return;
	pthread_mutex_lock(&reader.mtx);
	reader.stop = 1;
	pthread_cond_signal(&reader.cv);
	pthread_mutex_unlock(&reader.mtx);
	pthread_join(reader.thread, NULL);
	reader.started = 0;
	/* Answers nobody will collect now: the loop has ended. */
	for (j = reader.done; j != NULL; j = next) {
		next = j->next;
		cmd_slow_done(j->r);
		free(j);
	}
	reader.done = NULL;
	/*
	 * Reads that did not start: after a drain that timed out (the loop
	 * waits for every read otherwise), nobody would see their answers.
	 */
	for (j = reader.todo; j != NULL; j = next) {
		next = j->next;
		store_abort(&j->txn);
		cmd_slow_dropped(j->r);
		free(j);
	}
	reader.todo = reader.todo_tail = NULL;
	event_free(reader.ev);
	reader.ev = NULL;
	close(reader.efd);
	reader.efd = -1;
}
