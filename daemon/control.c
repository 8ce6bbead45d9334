/*
 * control.c: the control socket. Owns creating it safely (never steal a
 * live daemon's socket, never delete something that is not a socket, set
 * the permissions before bind so there is no window where anyone may
 * connect), accepting, reading the peer's credentials, and the connection
 * caps. When the process runs out of descriptors, accepting pauses for a
 * second instead of spinning on EMFILE.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "budgetd.h"

/* Connections accepted per wakeup before other work gets a turn. */
#define CONTROL_ACCEPT_BURST 64

static struct {
	int           fd;
	char         *path;
	struct event *ev;
	struct event *pause; /* re-arms accepting after EMFILE */
} control = {.fd = -1};

static void control_accept_cb(int, short, void *);
static void control_resume_cb(int, short, void *);

/*
 * Create the listening socket at path. Refuses when a daemon already
 * answers there; replaces a stale socket file; refuses to touch anything
 * that is not a socket. Returns 0 or -1 with *cause.
 */
int
control_listen(const char *path, unsigned mode, char **cause)
{
	struct sockaddr_un sun;
	struct stat        st;
	mode_t             old;
	int                fd, probe;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		xasprintf(cause, "%s: socket path too long", path);
		return (-1);
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);

	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			xasprintf(
			    cause, "%s: exists and is not a socket", path);
			return (-1);
		}
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe == -1) {
			xasprintf(cause, "socket: %s", strerror(errno));
			return (-1);
		}
		if (connect(probe, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
			close(probe);
			xasprintf(
			    cause, "%s: another budgetd is listening", path);
			return (-1);
		}
		/*
		 * Only "refused" proves nobody listens. Anything else (a
		 * socket we may not connect to, say) may be someone's live
		 * daemon: never unlink it.
		 */
		if (errno != ECONNREFUSED) {
			xasprintf(cause,
			    "%s: exists and cannot be probed (%s); "
			    "remove it if no budgetd uses it",
			    path, strerror(errno));
			close(probe);
			return (-1);
		}
		close(probe);
		/* Nobody answers: a leftover from a crash. */
		if (unlink(path) == -1 && errno != ENOENT) {
			xasprintf(cause, "%s: %s", path, strerror(errno));
			return (-1);
		}
		log_info("control: removed stale socket %s", path);
	}

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		xasprintf(cause, "socket: %s", strerror(errno));
		return (-1);
	}
	/* The file is born with no world access: no window to connect. */
	old = umask(0177);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		umask(old);
		xasprintf(cause, "%s: bind: %s", path, strerror(errno));
		close(fd);
		return (-1);
	}
	umask(old);
	if (chmod(path, (mode_t)mode) == -1) {
		xasprintf(cause, "%s: chmod: %s", path, strerror(errno));
		goto fail;
	}
	if (listen(fd, SOMAXCONN) == -1) {
		xasprintf(cause, "%s: listen: %s", path, strerror(errno));
		goto fail;
	}
	control.fd = fd;
	control.path = xstrdup(path);
	return (0);
fail:
	close(fd);
	unlink(path);
	return (-1);
}

void
control_start(void)
{
	control.ev = event_new(bd->base, control.fd, EV_READ | EV_PERSIST,
	    control_accept_cb, NULL);
	control.pause = evtimer_new(bd->base, control_resume_cb, NULL);
	if (control.ev == NULL || control.pause == NULL)
		fatalx("control: event_new");
	event_add(control.ev, NULL);
}

/* Stop accepting; the socket file stays until control_cleanup. */
void
control_stop(void)
{
	if (control.ev != NULL)
		event_del(control.ev);
	if (control.pause != NULL)
		event_del(control.pause);
}

void
control_cleanup(void)
{
	control_stop();
	if (control.ev != NULL)
		event_free(control.ev);
	if (control.pause != NULL)
		event_free(control.pause);
	control.ev = control.pause = NULL;
	if (control.fd != -1) {
		close(control.fd);
		control.fd = -1;
	}
	if (control.path != NULL) {
		unlink(control.path);
		free(control.path);
		control.path = NULL;
	}
}

static void
control_resume_cb(int fd, short events, void *arg)
{
	(void)fd;
	(void)events;
	(void)arg;
	if (!bd->shutting_down)
		event_add(control.ev, NULL);
}

static void
control_accept_cb(int lfd, short events, void *arg)
{
	struct ucred   cred;
	socklen_t      len;
	int            fd, n;
	struct timeval tv = {1, 0};

	(void)events;
	(void)arg;
	for (n = 0; n < CONTROL_ACCEPT_BURST; n++) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				log_warn("control: accept; pausing for 1s");
				event_del(control.ev);
				evtimer_add(control.pause, &tv);
			} else if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED)
				log_warn("control: accept");
			return;
		}
		len = sizeof(cred);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) ==
		    -1) {
			log_warn("control: SO_PEERCRED");
			close(fd);
			continue;
		}
		/* Those gone with requests left count (conn_free). */
		if (bd->nconns + bd->nghosts >= bd->conf.max_conns) {
			log_warnx("control: connection limit (%u) reached; "
				  "refusing uid %u",
			    bd->conf.max_conns, (unsigned)cred.uid);
			conn_refuse(fd, BUDGET_ERR_TOO_MANY_CONNECTIONS,
			    "the daemon's connection limit is reached");
			continue;
		}
		if (conn_count_uid(cred.uid) >= bd->conf.max_conns_per_uid) {
			log_warnx(
			    "control: uid %u has %u connections; refusing",
			    (unsigned)cred.uid, bd->conf.max_conns_per_uid);
			conn_refuse(fd, BUDGET_ERR_TOO_MANY_CONNECTIONS,
			    "too many connections from this user");
			continue;
		}
		conn_new(fd, cred.uid, cred.gid, cred.pid);
	}
}
