/*
 * harness.c: the integration test harness (see harness.h). Owns the life
 * of every process a test starts (budgetd, budgetctl, budgetd -n), the
 * temporary directories, and the guarantee that none of them outlives the
 * test process: a registry killed and removed from an atexit handler, and
 * PR_SET_PDEATHSIG in every child for when the test process itself dies.
 * Also owns the raw-socket client used to send hostile input, and
 * systemd's end of sd_notify for the tests that play the service manager.
 */
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#ifndef BUDGETD_PATH
#error "BUDGETD_PATH must be defined by the build"
#endif
#ifndef BUDGETCTL_PATH
#error "BUDGETCTL_PATH must be defined by the build"
#endif

/* Daemons and child processes alive at once, per test process. */
#define H_MAX_DAEMONS 64
#define H_MAX_PROCS   256

/* Poll intervals while waiting for something to happen. */
#define H_POLL_MS 10

/* Who a child runs as; NULL: as the test process. */
struct h_cred {
	uid_t uid;
	gid_t gid;
};

static struct h_daemon *h_daemons[H_MAX_DAEMONS];
static pid_t            h_procs[H_MAX_PROCS];
static int              h_initialised;
static unsigned         h_serial; /* request ids of the harness's probes */

static void h_init(void);
static void h_atexit(void);
static void h_track_daemon(struct h_daemon *);
static void h_untrack_daemon(struct h_daemon *);
static void h_track_proc(pid_t);
static void h_untrack_proc(pid_t);
static void h_rmtree(const char *);
static int  h_rmtree_cb(const char *, const struct stat *, int, struct FTW *);
static pid_t
h_fork_exec(const char *const[], int, int, int, const struct h_cred *);
static pid_t h_fork_exec_ex(const char *const[], int, int, int,
    const struct h_cred *, const char *const[], long);
static int   h_become(const struct h_cred *);
static void  h_child_fd(int, int);
static int   h_reap(pid_t, int, int *);
static void  h_print_log(const struct h_daemon *);
static void  h_append(char **, size_t *, size_t *, const char *, size_t);
static int   h_drain_fd(int *, char **, size_t *, size_t *);
static void  h_ctl_argv(const char *, va_list, const char **, size_t);
static void
h_proc_spawn_cred(struct h_proc *, const char *const[], const struct h_cred *);
static void h_set_rcvtimeo(int, int);

/* ------------------------------------------------------------------ */
/* Bookkeeping                                                        */

void
h_fail(const char *fmt, ...)
{
	char    buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	print_error("ERROR: %s\n", buf);
	_fail(__FILE__, __LINE__);
	/* _fail longjmps back into cmocka; this only tells the compiler. */
	abort();
}

/*
 * Once per process: a test that writes to a socket the daemon closed must
 * see EPIPE, not die of SIGPIPE; and whatever happens, clean up at exit.
 */
static void
h_init(void)
{
	if (h_initialised)
		return;
	h_initialised = 1;
	signal(SIGPIPE, SIG_IGN);
	atexit(h_atexit);
}

/* Kill whatever is left (a test failed half-way) and remove its files. */
static void
h_atexit(void)
{
	size_t i;
	int    ws;

	for (i = 0; i < H_MAX_PROCS; i++) {
		if (h_procs[i] > 0) {
			kill(h_procs[i], SIGKILL);
			waitpid(h_procs[i], &ws, 0);
			h_procs[i] = 0;
		}
	}
	for (i = 0; i < H_MAX_DAEMONS; i++) {
		if (h_daemons[i] != NULL)
			h_daemon_free(h_daemons[i]);
	}
}

static void
h_track_daemon(struct h_daemon *d)
{
	size_t i;

	for (i = 0; i < H_MAX_DAEMONS; i++) {
		if (h_daemons[i] == NULL) {
			h_daemons[i] = d;
			return;
		}
	}
	h_fail("harness: more than %d daemons at once", H_MAX_DAEMONS);
}

static void
h_untrack_daemon(struct h_daemon *d)
{
	size_t i;

	for (i = 0; i < H_MAX_DAEMONS; i++) {
		if (h_daemons[i] == d)
			h_daemons[i] = NULL;
	}
}

static void
h_track_proc(pid_t pid)
{
	size_t i;

	for (i = 0; i < H_MAX_PROCS; i++) {
		if (h_procs[i] == 0) {
			h_procs[i] = pid;
			return;
		}
	}
	kill(pid, SIGKILL);
	h_fail("harness: more than %d child processes at once", H_MAX_PROCS);
}

static void
h_untrack_proc(pid_t pid)
{
	size_t i;

	for (i = 0; i < H_MAX_PROCS; i++) {
		if (h_procs[i] == pid)
			h_procs[i] = 0;
	}
}

static int
h_rmtree_cb(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	if (remove(path) == -1 && errno != ENOENT)
		fprintf(
		    stderr, "harness: remove %s: %s\n", path, strerror(errno));
	return (0);
}

static void
h_rmtree(const char *dir)
{
	if (*dir == '\0')
		return;
	nftw(dir, h_rmtree_cb, 16, FTW_DEPTH | FTW_PHYS);
}

int
h_exit_status(int ws)
{
	if (WIFEXITED(ws))
		return (WEXITSTATUS(ws));
	if (WIFSIGNALED(ws))
		return (128 + WTERMSIG(ws));
	return (-1);
}

int64_t
h_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

void
h_sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* ------------------------------------------------------------------ */
/* Processes                                                          */

/* In the child: make fd the descriptor target, inherited across exec. */
static void
h_child_fd(int fd, int target)
{
	int fl;

	if (fd == target) {
		if ((fl = fcntl(fd, F_GETFD)) != -1)
			fcntl(fd, F_SETFD, fl & ~FD_CLOEXEC);
		return;
	}
	if (dup2(fd, target) == -1)
		_exit(126);
}

/* In a child: drop to cred (all of groups, gid, uid). 0 or -1. */
static int
h_become(const struct h_cred *cred)
{
	if (cred == NULL)
		return (0);
	if (setgroups(0, NULL) == -1 || setgid(cred->gid) == -1 ||
	    setuid(cred->uid) == -1)
		return (-1);
	return (0);
}

int
h_can_switch_user(void)
{
	return (geteuid() == 0);
}

/*
 * Fork and exec argv with the given stdin, stdout and stderr, as cred
 * when not NULL. Every other descriptor the harness opens is
 * close-on-exec. Returns the pid.
 */
static pid_t
h_fork_exec(const char *const argv[], int in, int out, int err,
    const struct h_cred *cred)
{
	return (h_fork_exec_ex(argv, in, out, err, cred, NULL, 0));
}

/*
 * h_fork_exec, and in the child: env (NULL, or "NAME=VALUE" strings,
 * NULL-terminated) added to the environment, and when nofile > 0 the
 * descriptor limit set to it, soft and hard, so that the program cannot
 * raise it.
 */
static pid_t
h_fork_exec_ex(const char *const argv[], int in, int out, int err,
    const struct h_cred *cred, const char *const env[], long nofile)
{
	pid_t         parent = getpid(), pid;
	sigset_t      none;
	struct rlimit rl;
	size_t        i;

	if ((pid = fork()) == -1)
		h_fail("harness: fork: %s", strerror(errno));
	if (pid > 0)
		return (pid);

	/* Die with the test process, even if it is SIGKILLed. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 || getppid() != parent)
		_exit(126);
	signal(SIGPIPE, SIG_DFL); /* ignored dispositions survive exec */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	h_child_fd(in, 0);
	h_child_fd(out, 1);
	h_child_fd(err, 2);
	for (i = 0; env != NULL && env[i] != NULL; i++) {
		/* putenv keeps the pointer: a copy of our own. */
		if (putenv(strdup(env[i])) != 0)
			_exit(126);
	}
	if (nofile > 0) {
		rl.rlim_cur = rl.rlim_max = (rlim_t)nofile;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			_exit(126);
	}
	if (h_become(cred) == -1)
		_exit(126);
	/* execv's prototype predates const; it does not modify argv. */
	execv(argv[0], (char *const *)(uintptr_t)argv);
	_exit(127);
}

/*
 * waitpid for pid for up to timeout_ms (0: just look). Returns 1 with the
 * exit status in *status when it exited, 0 if it still runs.
 */
static int
h_reap(pid_t pid, int timeout_ms, int *status)
{
	int64_t deadline = h_now_ms() + timeout_ms;
	int     ws;
	pid_t   r;

	for (;;) {
		r = waitpid(pid, &ws, WNOHANG);
		if (r == pid) {
			*status = h_exit_status(ws);
			return (1);
		}
		if (r == -1 && errno == ECHILD) {
			/* Reaped by someone else: gone, status unknown. */
			*status = -1;
			return (1);
		}
		if (r == -1 && errno != EINTR)
			h_fail("harness: waitpid %d: %s", (int)pid,
			    strerror(errno));
		if (h_now_ms() >= deadline)
			return (0);
		h_sleep_ms(timeout_ms < H_POLL_MS ? 1 : H_POLL_MS / 2);
	}
}

static void
h_append(char **buf, size_t *len, size_t *cap, const char *data, size_t n)
{
	if (*len + n + 1 > *cap) {
		size_t ncap = *cap ? *cap : 4096;

		while (*len + n + 1 > ncap)
			ncap *= 2;
		if ((*buf = realloc(*buf, ncap)) == NULL)
			h_fail("harness: out of memory");
		*cap = ncap;
	}
	memcpy(*buf + *len, data, n);
	*len += n;
	(*buf)[*len] = '\0';
}

/* Read what is there; at EOF close and set *fd to -1. Returns bytes. */
static int
h_drain_fd(int *fd, char **buf, size_t *len, size_t *cap)
{
	char    tmp[8192];
	ssize_t n;

	n = read(*fd, tmp, sizeof(tmp));
	if (n > 0) {
		h_append(buf, len, cap, tmp, (size_t)n);
		return ((int)n);
	}
	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return (0);
	close(*fd);
	*fd = -1;
	return (0);
}

void
h_proc_spawn(struct h_proc *p, const char *const argv[])
{
	h_proc_spawn_cred(p, argv, NULL);
}

void
h_proc_spawn_as(
    struct h_proc *p, const char *const argv[], uid_t uid, gid_t gid)
{
	struct h_cred cred = {uid, gid};

	if (!h_can_switch_user())
		h_fail("harness: running as uid %u needs root", (unsigned)uid);
	h_proc_spawn_cred(p, argv, &cred);
}

static void
h_proc_spawn_cred(
    struct h_proc *p, const char *const argv[], const struct h_cred *cred)
{
	int outp[2], errp[2], devnull;

	h_init();
	memset(p, 0, sizeof(*p));
	p->pid = -1;
	p->out_fd = p->err_fd = -1;
	if (pipe2(outp, O_CLOEXEC) == -1 || pipe2(errp, O_CLOEXEC) == -1)
		h_fail("harness: pipe: %s", strerror(errno));
	if ((devnull = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1)
		h_fail("harness: /dev/null: %s", strerror(errno));
	p->pid = h_fork_exec(argv, devnull, outp[1], errp[1], cred);
	h_track_proc(p->pid);
	close(devnull);
	close(outp[1]);
	close(errp[1]);
	p->out_fd = outp[0];
	p->err_fd = errp[0];
	/* Buffers always exist, so that tests may strstr them. */
	p->out = calloc(1, 1);
	p->err = calloc(1, 1);
	if (p->out == NULL || p->err == NULL)
		h_fail("harness: out of memory");
}

void
h_proc_wait(struct h_proc *p, int timeout_ms)
{
	int64_t       deadline = h_now_ms() + timeout_ms;
	size_t        ocap = p->out_len + 1, ecap = p->err_len + 1;
	struct pollfd pfd[2];
	int           n, left, status;

	while (p->out_fd != -1 || p->err_fd != -1) {
		left = (int)(deadline - h_now_ms());
		if (left <= 0)
			break;
		pfd[0].fd = p->out_fd;
		pfd[0].events = POLLIN;
		pfd[1].fd = p->err_fd;
		pfd[1].events = POLLIN;
		n = poll(pfd, 2, left);
		if (n == -1 && errno != EINTR)
			h_fail("harness: poll: %s", strerror(errno));
		if (n <= 0)
			continue;
		if (p->out_fd != -1 && pfd[0].revents != 0)
			h_drain_fd(&p->out_fd, &p->out, &p->out_len, &ocap);
		if (p->err_fd != -1 && pfd[1].revents != 0)
			h_drain_fd(&p->err_fd, &p->err, &p->err_len, &ecap);
	}
	left = (int)(deadline - h_now_ms());
	if (!h_reap(p->pid, left > 0 ? left : 0, &status)) {
		kill(p->pid, SIGKILL);
		h_reap(p->pid, H_DEADLINE_MS, &status);
		h_untrack_proc(p->pid);
		p->pid = -1;
		print_error("stdout: %s\nstderr: %s\n", p->out, p->err);
		h_fail("harness: child did not exit within %d ms; killed",
		    timeout_ms);
	}
	h_untrack_proc(p->pid);
	p->pid = -1;
	p->status = status;
}

int
h_run(struct h_proc *p, const char *const argv[])
{
	h_proc_spawn(p, argv);
	h_proc_wait(p, H_DEADLINE_MS);
	return (p->status);
}

/* argv = budgetctl -s SOCK, then the NULL-terminated list in ap. */
static void
h_ctl_argv(const char *sock, va_list ap, const char **argv, size_t max)
{
	const char *a;
	size_t      n = 0;

	argv[n++] = BUDGETCTL_PATH;
	argv[n++] = "-s";
	argv[n++] = sock;
	while ((a = va_arg(ap, const char *)) != NULL) {
		if (n + 1 >= max)
			h_fail("harness: too many budgetctl arguments");
		argv[n++] = a;
	}
	argv[n] = NULL;
}

int
h_ctl_v(struct h_proc *p, const char *sock, va_list ap)
{
	const char *argv[64];

	h_ctl_argv(sock, ap, argv, sizeof(argv) / sizeof(argv[0]));
	return (h_run(p, argv));
}

int
h_ctl_sock(struct h_proc *p, const char *sock, ...)
{
	va_list ap;
	int     rc;

	va_start(ap, sock);
	rc = h_ctl_v(p, sock, ap);
	va_end(ap);
	return (rc);
}

int
h_ctl(struct h_proc *p, const struct h_daemon *d, ...)
{
	va_list ap;
	int     rc;

	va_start(ap, d);
	rc = h_ctl_v(p, d->sock, ap);
	va_end(ap);
	return (rc);
}

int
h_ctl_as(struct h_proc *p, const struct h_daemon *d, uid_t uid, gid_t gid, ...)
{
	const char *argv[64];
	va_list     ap;

	va_start(ap, gid);
	h_ctl_argv(d->sock, ap, argv, sizeof(argv) / sizeof(argv[0]));
	va_end(ap);
	h_proc_spawn_as(p, argv, uid, gid);
	h_proc_wait(p, H_DEADLINE_MS);
	return (p->status);
}

void
h_ctl_spawn(struct h_proc *p, const struct h_daemon *d, ...)
{
	const char *argv[64];
	va_list     ap;

	va_start(ap, d);
	h_ctl_argv(d->sock, ap, argv, sizeof(argv) / sizeof(argv[0]));
	va_end(ap);
	h_proc_spawn(p, argv);
}

void
h_proc_expect(const struct h_proc *p, int status)
{
	if (p->status == status)
		return;
	print_error("stdout: %s\nstderr: %s\n", p->out, p->err);
	h_fail("harness: exit status %d, expected %d", p->status, status);
}

void
h_proc_free(struct h_proc *p)
{
	int status;

	if (p == NULL)
		return;
	if (p->pid > 0) {
		kill(p->pid, SIGKILL);
		h_reap(p->pid, H_DEADLINE_MS, &status);
		h_untrack_proc(p->pid);
	}
	if (p->out_fd != -1)
		close(p->out_fd);
	if (p->err_fd != -1)
		close(p->err_fd);
	free(p->out);
	free(p->err);
	if (p->json != NULL)
		json_decref(p->json);
	memset(p, 0, sizeof(*p));
	p->pid = -1;
	p->out_fd = p->err_fd = -1;
}

/* ------------------------------------------------------------------ */
/* JSON                                                               */

json_t *
h_json(struct h_proc *p)
{
	json_error_t e;

	if (p->json != NULL)
		return (p->json);
	p->json = json_loadb(p->out, p->out_len, 0, &e);
	if (p->json == NULL) {
		print_error("stdout: %s\nstderr: %s\n", p->out, p->err);
		h_fail(
		    "harness: stdout is not JSON: line %d: %s", e.line, e.text);
	}
	return (p->json);
}

json_t *
h_json_get(json_t *root, const char *path)
{
	char    key[256], *end;
	size_t  n;
	json_t *cur = root;
	long    idx;

	while (cur != NULL && *path != '\0') {
		n = strcspn(path, ".");
		if (n >= sizeof(key))
			return (NULL);
		memcpy(key, path, n);
		key[n] = '\0';
		path += n;
		if (*path == '.')
			path++;
		if (json_is_array(cur)) {
			errno = 0;
			idx = strtol(key, &end, 10);
			if (*key == '\0' || *end != '\0' || errno != 0 ||
			    idx < 0)
				return (NULL);
			cur = json_array_get(cur, (size_t)idx);
		} else if (json_is_object(cur))
			cur = json_object_get(cur, key);
		else
			return (NULL);
	}
	return (cur);
}

const char *
h_json_str(json_t *root, const char *path)
{
	json_t *v = h_json_get(root, path);

	if (!json_is_string(v))
		h_fail("harness: JSON \"%s\" is %s, not a string", path,
		    v == NULL ? "missing" : "another type");
	return (json_string_value(v));
}

json_int_t
h_json_int(json_t *root, const char *path)
{
	json_t *v = h_json_get(root, path);

	if (!json_is_integer(v))
		h_fail("harness: JSON \"%s\" is %s, not an integer", path,
		    v == NULL ? "missing" : "another type");
	return (json_integer_value(v));
}

int
h_json_bool(json_t *root, const char *path)
{
	json_t *v = h_json_get(root, path);

	if (!json_is_boolean(v))
		h_fail("harness: JSON \"%s\" is %s, not a boolean", path,
		    v == NULL ? "missing" : "another type");
	return (json_is_true(v));
}

/* ------------------------------------------------------------------ */
/* Daemons                                                            */

struct h_daemon *
h_daemon_new(const char *config)
{
	struct h_daemon *d;
	const char      *tmp = getenv("TMPDIR");

	h_init();
	/* The socket path must fit in sun_path: keep the base short. */
	if (tmp == NULL || *tmp == '\0' || strlen(tmp) > 64)
		tmp = "/tmp";
	if ((d = calloc(1, sizeof(*d))) == NULL)
		h_fail("harness: out of memory");
	d->pid = -1;
	snprintf(d->dir, sizeof(d->dir), "%s/budgetd-test.XXXXXX", tmp);
	if (mkdtemp(d->dir) == NULL) {
		int saved = errno;

		free(d);
		h_fail("harness: mkdtemp in %s: %s", tmp, strerror(saved));
	}
	h_track_daemon(d);
	snprintf(d->datadir, sizeof(d->datadir), "%s/data", d->dir);
	snprintf(d->sock, sizeof(d->sock), "%s/sock", d->dir);
	snprintf(d->log, sizeof(d->log), "%s/budgetd.log", d->dir);
	if (config != NULL)
		h_daemon_write_config(d, config);
	return (d);
}

struct h_daemon *
h_daemon_up(const char *config)
{
	struct h_daemon *d = h_daemon_new(config);

	h_daemon_start(d);
	return (d);
}

void
h_daemon_run_as(struct h_daemon *d, uid_t uid, gid_t gid)
{
	if (!h_can_switch_user())
		h_fail("harness: running budgetd as uid %u needs root",
		    (unsigned)uid);
	if (chown(d->dir, uid, gid) == -1)
		h_fail("harness: chown %s: %s", d->dir, strerror(errno));
	d->run_as = 1;
	d->uid = uid;
	d->gid = gid;
}

void
h_daemon_write_config(struct h_daemon *d, const char *config)
{
	char   tmp[H_PATH_MAX + 8];
	FILE  *fp;
	size_t len = strlen(config);

	snprintf(d->conf, sizeof(d->conf), "%s/budgetd.conf", d->dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", d->conf);
	if ((fp = fopen(tmp, "w")) == NULL)
		h_fail("harness: %s: %s", tmp, strerror(errno));
	if (fwrite(config, 1, len, fp) != len || fclose(fp) != 0)
		h_fail("harness: writing %s: %s", tmp, strerror(errno));
	if (rename(tmp, d->conf) == -1)
		h_fail("harness: rename %s: %s", tmp, strerror(errno));
}

void
h_daemon_spawn(struct h_daemon *d)
{
	h_daemon_spawn_ex(d, NULL, 0);
}

void
h_daemon_spawn_ex(struct h_daemon *d, const char *const env[], long nofile)
{
	const char   *argv[16];
	struct h_cred cred;
	size_t        n = 0;
	int           logfd, devnull, i;

	h_init();
	if (d->pid > 0 && h_daemon_running(d))
		h_fail("harness: budgetd %d is already running", (int)d->pid);
	argv[n++] = BUDGETD_PATH;
	argv[n++] = "-d";
	argv[n++] = d->datadir;
	argv[n++] = "-s";
	argv[n++] = d->sock;
	if (*d->conf != '\0') {
		argv[n++] = "-c";
		argv[n++] = d->conf;
	}
	for (i = 0; i < d->verbose && n < 14; i++)
		argv[n++] = "-v";
	argv[n] = NULL;

	logfd = open(d->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (logfd == -1)
		h_fail("harness: %s: %s", d->log, strerror(errno));
	if ((devnull = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1)
		h_fail("harness: /dev/null: %s", strerror(errno));
	cred.uid = d->uid;
	cred.gid = d->gid;
	d->pid = h_fork_exec_ex(
	    argv, devnull, logfd, logfd, d->run_as ? &cred : NULL, env, nofile);
	d->starts++;
	close(logfd);
	close(devnull);
}

static void
h_print_log(const struct h_daemon *d)
{
	char *log = h_daemon_log(d);

	print_error("---- %s ----\n%s---- end of log ----\n", d->log, log);
	free(log);
}

int
h_notify_listen(const struct h_daemon *d, char env[H_NOTIFY_ENV_SZ])
{
	struct sockaddr_un sun;
	char               path[H_PATH_MAX + 16];
	int                ns;

	snprintf(path, sizeof(path), "%s/notify", d->dir);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	assert_true(strlen(path) < sizeof(sun.sun_path));
	memcpy(sun.sun_path, path, strlen(path) + 1);
	ns = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(ns >= 0);
	assert_int_equal(bind(ns, (struct sockaddr *)&sun, sizeof(sun)), 0);
	snprintf(env, H_NOTIFY_ENV_SZ, "NOTIFY_SOCKET=%s", path);
	return (ns);
}

void
h_notify_close(const struct h_daemon *d, int fd)
{
	char path[H_PATH_MAX + 16];

	snprintf(path, sizeof(path), "%s/notify", d->dir);
	close(fd);
	unlink(path);
}

int
h_notify_recv(int fd, char *buf, size_t size, int ms)
{
	struct pollfd p = {fd, POLLIN, 0};
	ssize_t       n;

	if (poll(&p, 1, ms) <= 0)
		return (0);
	n = recv(fd, buf, size - 1, 0);
	if (n < 0)
		return (0);
	buf[n] = '\0';
	return (1);
}

void
h_daemon_wait_ready(struct h_daemon *d)
{
	int64_t           deadline = h_now_ms() + H_DEADLINE_MS;
	Budget__Response *r;
	char              rid[32];
	uint8_t           frame[128];
	size_t            len;
	int               fd, ok;

	for (;;) {
		if (!h_daemon_running(d)) {
			h_print_log(d);
			h_fail("harness: budgetd exited with status %d "
			       "before answering on %s",
			    d->status, d->sock);
		}
		if ((fd = h_connect_try(d->sock)) != -1) {
			snprintf(rid, sizeof(rid), "h-ready-%u", ++h_serial);
			len = h_pack_status(
			    frame, sizeof(frame), BUDGET_PROTOCOL_VERSION, rid);
			ok = 0;
			if (h_send_try(fd, frame, len) == 0 &&
			    h_recv_try(fd, 1000, &r) == WIRE_OK) {
				ok = r->status != NULL &&
				    strcmp(r->status->datadir, d->datadir) == 0;
				budget__response__free_unpacked(r, NULL);
			}
			close(fd);
			if (ok)
				return;
		}
		if (h_now_ms() >= deadline) {
			h_print_log(d);
			kill(d->pid, SIGKILL);
			h_daemon_wait_exit(d, H_DEADLINE_MS, NULL);
			h_fail("harness: budgetd did not answer on %s "
			       "within %d ms; killed",
			    d->sock, H_DEADLINE_MS);
		}
		h_sleep_ms(H_POLL_MS);
	}
}

void
h_daemon_start(struct h_daemon *d)
{
	h_daemon_spawn(d);
	h_daemon_wait_ready(d);
}

int
h_daemon_wait_exit(struct h_daemon *d, int timeout_ms, int *status)
{
	int st;

	if (d->pid <= 0) {
		if (status != NULL)
			*status = d->status;
		return (1);
	}
	if (!h_reap(d->pid, timeout_ms, &st))
		return (0);
	d->pid = -1;
	d->status = st;
	if (status != NULL)
		*status = st;
	return (1);
}

int
h_daemon_running(struct h_daemon *d)
{
	return (d->pid > 0 && !h_daemon_wait_exit(d, 0, NULL));
}

void
h_daemon_signal(struct h_daemon *d, int sig)
{
	if (!h_daemon_running(d)) {
		h_print_log(d);
		h_fail("harness: budgetd is not running (status %d); "
		       "cannot send signal %d",
		    d->status, sig);
	}
	if (kill(d->pid, sig) == -1)
		h_fail("harness: kill %d: %s", (int)d->pid, strerror(errno));
}

/*
 * SIGSTOP, and back only once the kernel says the daemon is stopped, so
 * that whatever the test sends next is all there when it wakes (one turn).
 */
void
h_daemon_freeze(struct h_daemon *d)
{
	char    path[64], buf[512], *p;
	int64_t deadline = h_now_ms() + H_DEADLINE_MS;
	FILE   *f;

	h_daemon_signal(d, SIGSTOP);
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)d->pid);
	for (;;) {
		if ((f = fopen(path, "r")) == NULL)
			h_fail("%s: %s", path, strerror(errno));
		p = fgets(buf, sizeof(buf), f);
		fclose(f);
		if (p != NULL && (p = strrchr(buf, ')')) != NULL &&
		    (p[2] == 'T' || p[2] == 't'))
			return;
		if (h_now_ms() > deadline)
			h_fail("budgetd does not stop on SIGSTOP");
		h_sleep_ms(1);
	}
}

int
h_daemon_stop(struct h_daemon *d)
{
	h_daemon_signal(d, SIGTERM);
	if (!h_daemon_wait_exit(d, 3 * H_DEADLINE_MS, NULL)) {
		h_print_log(d);
		kill(d->pid, SIGKILL);
		h_daemon_wait_exit(d, H_DEADLINE_MS, NULL);
		h_fail("harness: budgetd did not exit after SIGTERM; "
		       "killed");
	}
	return (d->status);
}

void
h_daemon_kill9(struct h_daemon *d)
{
	h_daemon_signal(d, SIGKILL);
	if (!h_daemon_wait_exit(d, H_DEADLINE_MS, NULL))
		h_fail("harness: budgetd survived SIGKILL");
}

void
h_daemon_restart(struct h_daemon *d)
{
	int st;

	if (h_daemon_running(d) && (st = h_daemon_stop(d)) != 0) {
		h_print_log(d);
		h_fail("harness: budgetd exited %d on SIGTERM", st);
	}
	h_daemon_start(d);
}

void
h_daemon_free(struct h_daemon *d)
{
	if (d == NULL)
		return;
	if (d->pid > 0) {
		kill(d->pid, SIGKILL);
		h_daemon_wait_exit(d, H_DEADLINE_MS, NULL);
	}
	h_rmtree(d->dir);
	h_untrack_daemon(d);
	free(d);
}

void
h_daemon_teardown(struct h_daemon *d)
{
	int crashed = 0, st = 0;

	if (d == NULL)
		return;
	if (d->pid > 0) {
		if (!h_daemon_running(d))
			crashed = 1;
		else
			st = h_daemon_stop(d);
		if (crashed || st != 0)
			h_print_log(d);
		st = d->status;
	}
	h_daemon_free(d);
	if (crashed)
		h_fail("harness: budgetd died during the test (status %d)", st);
	if (st != 0)
		h_fail("harness: budgetd exited %d on SIGTERM at the end of "
		       "the test",
		    st);
}

int
h_teardown(void **state)
{
	h_daemon_teardown(*state);
	return (0);
}

char *
h_daemon_log(const struct h_daemon *d)
{
	char  *buf = NULL;
	size_t len = 0, cap = 0;
	char   tmp[8192];
	size_t n;
	FILE  *fp;

	h_append(&buf, &len, &cap, "", 0);
	if ((fp = fopen(d->log, "r")) == NULL)
		return (buf);
	while ((n = fread(tmp, 1, sizeof(tmp), fp)) > 0)
		h_append(&buf, &len, &cap, tmp, n);
	fclose(fp);
	return (buf);
}

int
h_daemon_log_wait(const struct h_daemon *d, const char *needle, int timeout_ms)
{
	int64_t deadline = h_now_ms() + timeout_ms;
	char   *log;
	int     found;

	for (;;) {
		log = h_daemon_log(d);
		found = strstr(log, needle) != NULL;
		free(log);
		if (found)
			return (1);
		if (h_now_ms() >= deadline)
			return (0);
		h_sleep_ms(H_POLL_MS);
	}
}

void
h_assert_running(struct h_daemon *d)
{
	if (!h_daemon_running(d)) {
		h_print_log(d);
		h_fail("harness: budgetd is not running (exit status %d)",
		    d->status);
	}
}

void
h_assert_serving(struct h_daemon *d)
{
	Budget__Response *r;
	char              rid[32];
	int               fd;

	h_assert_running(d);
	if ((fd = h_connect_try(d->sock)) == -1) {
		h_print_log(d);
		h_fail("harness: connect %s: %s", d->sock, strerror(errno));
	}
	snprintf(rid, sizeof(rid), "h-serving-%u", ++h_serial);
	h_send_status(fd, rid);
	r = h_recv(fd, H_DEADLINE_MS);
	close(fd);
	if (r->error != NULL) {
		print_error(
		    "error %s: %s\n", r->error->code, r->error->message);
		budget__response__free_unpacked(r, NULL);
		h_fail("harness: a good client's status was refused");
	}
	if (r->result_case != BUDGET__RESPONSE__RESULT_STATUS ||
	    r->status == NULL || strcmp(r->request_id, rid) != 0 ||
	    r->status->protocol != BUDGET_PROTOCOL_VERSION ||
	    strcmp(r->status->datadir, d->datadir) != 0) {
		print_error("result %d, request_id \"%s\"\n",
		    (int)r->result_case, r->request_id);
		budget__response__free_unpacked(r, NULL);
		h_fail("harness: a good client got a wrong status answer");
	}
	budget__response__free_unpacked(r, NULL);
}

void
h_daemon_mem(const struct h_daemon *d, struct h_mem *m)
{
	char      path[64], line[256];
	FILE     *fp;
	long long kb;

	memset(m, 0, sizeof(*m));
	m->vm_rss = m->rss_anon = -1;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)d->pid);
	if (d->pid <= 0 || (fp = fopen(path, "r")) == NULL)
		h_fail("harness: %s: %s", path,
		    d->pid <= 0 ? "not running" : strerror(errno));
	while (fgets(line, sizeof(line), fp) != NULL) {
		if (sscanf(line, "VmRSS: %lld kB", &kb) == 1)
			m->vm_rss = (int64_t)kb * 1024;
		else if (sscanf(line, "RssAnon: %lld kB", &kb) == 1)
			m->rss_anon = (int64_t)kb * 1024;
	}
	fclose(fp);
	if (m->vm_rss < 0 || m->rss_anon < 0)
		h_fail("harness: no VmRSS/RssAnon in %s", path);
}

/* ------------------------------------------------------------------ */
/* Raw connections                                                    */

int
h_connect_try(const char *sock)
{
	struct sockaddr_un sun;
	int                fd, saved;

	h_init();
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(sock) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return (-1);
	}
	memcpy(sun.sun_path, sock, strlen(sock) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return (-1);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		return (-1);
	}
	return (fd);
}

int
h_connect_as_try(const char *sock, uid_t uid, gid_t gid)
{
	struct h_cred   cred = {uid, gid};
	struct msghdr   msg;
	struct iovec    iov;
	struct cmsghdr *cm;
	union {
		struct cmsghdr hdr;
		char           buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	pid_t pid;
	int   sp[2], fd = -1, err = 0, status;

	if (!h_can_switch_user())
		h_fail(
		    "harness: connecting as uid %u needs root", (unsigned)uid);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1)
		h_fail("harness: socketpair: %s", strerror(errno));
	if ((pid = fork()) == -1)
		h_fail("harness: fork: %s", strerror(errno));
	if (pid == 0) {
		/* The child connects as cred and sends errno and the fd. */
		close(sp[0]);
		memset(&msg, 0, sizeof(msg));
		iov.iov_base = &err;
		iov.iov_len = sizeof(err);
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		if (h_become(&cred) == -1 || (fd = h_connect_try(sock)) == -1)
			err = errno != 0 ? errno : EPERM;
		else {
			msg.msg_control = ctl.buf;
			msg.msg_controllen = sizeof(ctl.buf);
			cm = CMSG_FIRSTHDR(&msg);
			cm->cmsg_level = SOL_SOCKET;
			cm->cmsg_type = SCM_RIGHTS;
			cm->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(cm), &fd, sizeof(int));
		}
		_exit(sendmsg(sp[1], &msg, 0) == -1 ? 1 : 0);
	}
	close(sp[1]);
	memset(&msg, 0, sizeof(msg));
	iov.iov_base = &err;
	iov.iov_len = sizeof(err);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = ctl.buf;
	msg.msg_controllen = sizeof(ctl.buf);
	if (recvmsg(sp[0], &msg, MSG_CMSG_CLOEXEC) != (ssize_t)sizeof(err))
		err = EPROTO;
	else if (err == 0 && (cm = CMSG_FIRSTHDR(&msg)) != NULL &&
	    cm->cmsg_type == SCM_RIGHTS)
		memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	else if (err == 0)
		err = EPROTO;
	close(sp[0]);
	if (!h_reap(pid, H_DEADLINE_MS, &status))
		h_fail("harness: connecting child %d hangs", (int)pid);
	errno = err;
	return (err == 0 ? fd : -1);
}

int
h_connect(const struct h_daemon *d)
{
	int fd;

	if ((fd = h_connect_try(d->sock)) == -1)
		h_fail("harness: connect %s: %s", d->sock, strerror(errno));
	return (fd);
}

int
h_send_try(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	ssize_t        n;

	while (len > 0) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		p += n;
		len -= (size_t)n;
	}
	return (0);
}

void
h_send(int fd, const void *buf, size_t len)
{
	if (h_send_try(fd, buf, len) == -1)
		h_fail("harness: send %zu bytes: %s", len, strerror(errno));
}

void
h_send_len(int fd, uint32_t len)
{
	uint32_t be = htonl(len);

	h_send(fd, &be, sizeof(be));
}

void
h_send_request(int fd, const Budget__Request *req)
{
	int rc;

	rc = wire_write_fd(fd, BUDGET_FRAME_MAX_LIMIT, &req->base);
	if (rc != 0)
		h_fail("harness: sending a Request: %s",
		    rc == WIRE_TOO_LARGE ? "too large" : strerror(errno));
}

size_t
h_pack_status(
    uint8_t *buf, size_t size, uint32_t version, const char *request_id)
{
	Budget__Request       req = BUDGET__REQUEST__INIT;
	Budget__StatusRequest st = BUDGET__STATUS_REQUEST__INIT;
	size_t                len;
	uint32_t              be;

	req.version = version;
	/* protobuf-c's char * fields are only read when packing. */
	req.request_id =
	    (char *)(uintptr_t)(request_id != NULL ? request_id : "");
	req.command_case = BUDGET__REQUEST__COMMAND_STATUS;
	req.status = &st;
	len = budget__request__get_packed_size(&req);
	if (BUDGET_FRAME_HEADER + len > size)
		h_fail("harness: status frame of %zu bytes does not fit", len);
	be = htonl((uint32_t)len);
	memcpy(buf, &be, sizeof(be));
	budget__request__pack(&req, buf + BUDGET_FRAME_HEADER);
	return (BUDGET_FRAME_HEADER + len);
}

void
h_send_status(int fd, const char *request_id)
{
	uint8_t frame[256];
	size_t  len;

	len = h_pack_status(
	    frame, sizeof(frame), BUDGET_PROTOCOL_VERSION, request_id);
	h_send(fd, frame, len);
}

static void
h_set_rcvtimeo(int fd, int timeout_ms)
{
	struct timeval tv;

	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (suseconds_t)(timeout_ms % 1000) * 1000;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1)
		h_fail("harness: SO_RCVTIMEO: %s", strerror(errno));
}

int
h_recv_try(int fd, int timeout_ms, Budget__Response **out)
{
	ProtobufCMessage *msg = NULL;
	int               rc;

	*out = NULL;
	h_set_rcvtimeo(fd, timeout_ms);
	rc = wire_read_fd(
	    fd, BUDGET_FRAME_MAX_LIMIT, &budget__response__descriptor, &msg);
	if (rc == WIRE_OK)
		*out = (Budget__Response *)msg;
	return (rc);
}

Budget__Response *
h_recv(int fd, int timeout_ms)
{
	Budget__Response *r;
	int               rc;

	rc = h_recv_try(fd, timeout_ms, &r);
	if (rc == WIRE_OK)
		return (r);
	if (rc == WIRE_IO && (errno == EAGAIN || errno == EWOULDBLOCK))
		h_fail("harness: no Response within %d ms", timeout_ms);
	if (rc == WIRE_IO)
		h_fail("harness: reading a Response: %s",
		    errno == 0 ? "the daemon closed the connection"
			       : strerror(errno));
	h_fail("harness: the daemon sent a frame that is not a Response "
	       "(%d)",
	    rc);
	return (NULL);
}

void
h_expect_error(int fd, const char *code, const char *request_id)
{
	Budget__Response *r = h_recv(fd, H_DEADLINE_MS);
	char              got[128];

	if (r->error == NULL) {
		int rc = (int)r->result_case;

		budget__response__free_unpacked(r, NULL);
		h_fail(
		    "harness: expected error \"%s\", got result %d", code, rc);
	}
	snprintf(got, sizeof(got), "%s", r->error->code);
	if (strcmp(got, code) != 0) {
		print_error("message: %s\n", r->error->message);
		budget__response__free_unpacked(r, NULL);
		h_fail("harness: expected error \"%s\", got \"%s\"", code, got);
	}
	if (request_id != NULL && strcmp(r->request_id, request_id) != 0) {
		snprintf(got, sizeof(got), "%s", r->request_id);
		budget__response__free_unpacked(r, NULL);
		h_fail("harness: error for request \"%s\", expected \"%s\"",
		    got, request_id);
	}
	budget__response__free_unpacked(r, NULL);
}

void
h_expect_status(int fd, const char *request_id)
{
	Budget__Response *r = h_recv(fd, H_DEADLINE_MS);
	char              got[128];

	if (request_id == NULL)
		request_id = "";
	if (r->error != NULL) {
		snprintf(got, sizeof(got), "%s", r->error->code);
		budget__response__free_unpacked(r, NULL);
		h_fail("harness: status \"%s\" refused: %s", request_id, got);
	}
	snprintf(got, sizeof(got), "%s", r->request_id);
	if (r->result_case != BUDGET__RESPONSE__RESULT_STATUS ||
	    r->status == NULL ||
	    r->status->protocol != BUDGET_PROTOCOL_VERSION) {
		budget__response__free_unpacked(r, NULL);
		h_fail("harness: answer to \"%s\" is not a status result", got);
	}
	budget__response__free_unpacked(r, NULL);
	if (strcmp(got, request_id) != 0)
		h_fail("harness: got the answer to \"%s\", expected \"%s\"",
		    got, request_id);
}

int
h_wait_closed(int fd, int timeout_ms, size_t *extra)
{
	int64_t       deadline = h_now_ms() + timeout_ms;
	struct pollfd pfd;
	char          buf[65536];
	ssize_t       n;
	int           left;

	if (extra != NULL)
		*extra = 0;
	for (;;) {
		left = (int)(deadline - h_now_ms());
		if (left <= 0)
			return (0);
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, left) <= 0)
			continue;
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0)
			return (1);
		if (n > 0) {
			if (extra != NULL)
				*extra += (size_t)n;
			continue;
		}
		if (errno == ECONNRESET)
			return (1);
		if (errno != EINTR && errno != EAGAIN)
			h_fail("harness: recv: %s", strerror(errno));
	}
}

void
h_expect_closed(int fd)
{
	size_t extra;

	if (!h_wait_closed(fd, H_DEADLINE_MS, &extra))
		h_fail("harness: the daemon did not close the connection "
		       "within %d ms",
		    H_DEADLINE_MS);
	if (extra != 0)
		h_fail("harness: %zu unexpected bytes before the close", extra);
	close(fd);
}

void
h_set_nonblock(int fd, int on)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl == -1 ||
	    fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK) == -1)
		h_fail("harness: fcntl: %s", strerror(errno));
}

unsigned
h_status_connections(int fd)
{
	Budget__Response *r;
	char              rid[32];
	unsigned          n;

	snprintf(rid, sizeof(rid), "h-conns-%u", ++h_serial);
	h_send_status(fd, rid);
	r = h_recv(fd, H_DEADLINE_MS);
	if (r->status == NULL || strcmp(r->request_id, rid) != 0) {
		budget__response__free_unpacked(r, NULL);
		h_fail("harness: no status answer to \"%s\"", rid);
	}
	n = r->status->connections;
	budget__response__free_unpacked(r, NULL);
	return (n);
}

void
h_wait_connections(int fd, unsigned n)
{
	int64_t  deadline = h_now_ms() + H_DEADLINE_MS;
	unsigned got;

	while ((got = h_status_connections(fd)) != n) {
		if (h_now_ms() >= deadline)
			h_fail("harness: the daemon still counts %u "
			       "connections, expected %u",
			    got, n);
		h_sleep_ms(H_POLL_MS);
	}
}

int
h_connect_served(const struct h_daemon *d)
{
	int64_t           deadline = h_now_ms() + H_DEADLINE_MS;
	Budget__Response *r;
	char              rid[32], code[64];
	int               fd, rc;

	for (;;) {
		fd = h_connect(d);
		snprintf(rid, sizeof(rid), "h-served-%u", ++h_serial);
		h_send_status(fd, rid);
		rc = h_recv_try(fd, H_DEADLINE_MS, &r);
		if (rc != WIRE_OK)
			h_fail("harness: no answer on a new connection (%d, "
			       "%s)",
			    rc, strerror(errno));
		if (r->error == NULL && r->status != NULL &&
		    strcmp(r->request_id, rid) == 0) {
			budget__response__free_unpacked(r, NULL);
			return (fd);
		}
		snprintf(code, sizeof(code), "%s",
		    r->error != NULL ? r->error->code : "(no status)");
		budget__response__free_unpacked(r, NULL);
		close(fd);
		if (strcmp(code, "too_many_connections") != 0)
			h_fail("harness: a new connection got \"%s\"", code);
		if (h_now_ms() >= deadline)
			h_fail("harness: still too_many_connections after "
			       "%d ms",
			    H_DEADLINE_MS);
		h_sleep_ms(H_POLL_MS);
	}
}

void
h_expect_refused(const struct h_daemon *d, const char *code)
{
	uint8_t frame[128];
	size_t  len;
	char    rid[32];
	int     fd;

	snprintf(rid, sizeof(rid), "h-refused-%u", ++h_serial);
	len = h_pack_status(frame, sizeof(frame), BUDGET_PROTOCOL_VERSION, rid);
	fd = h_connect(d);
	(void)h_send_try(fd, frame, len);
	h_expect_error(fd, code, NULL);
	if (!h_wait_closed(fd, H_DEADLINE_MS, NULL))
		h_fail("harness: a refused connection was not closed");
	close(fd);
}
