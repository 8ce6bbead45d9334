/*
 * harness.h: what an integration test needs to drive the real budgetd:
 * start and stop daemons on a private temporary directory, run budgetctl
 * (or any program) and look at its output and JSON, talk raw frames to the
 * socket, and read the daemon's memory use.
 *
 * Conventions:
 * - Every function prefixed h_ that can go wrong in a way a test cannot
 *   sensibly handle fails the current cmocka test (h_fail) with a message
 *   saying what it was doing; functions ending in _try return an error to
 *   the caller instead.
 * - Nothing is left behind: every daemon and child process is killed and
 *   every temporary directory removed at exit, even when a test failed
 *   (atexit), and every child gets PR_SET_PDEATHSIG so that it dies with
 *   the test process if that is killed (ctest timeout).
 * - Deadlines are generous (H_DEADLINE_MS) and only guard against hangs;
 *   no test asserts on speed.
 *
 * A test, in short (test_NAME.c, registered in CMakeLists.txt with
 * budget_add_integration_test(NAME)):
 *
 *	static void
 *	test_x(void **state)
 *	{
 *		struct h_daemon *d;
 *		struct h_proc    p;
 *
 *		*state = d = h_daemon_up("[limits]\nmax_connections = 4\n");
 *		h_ctl(&p, d, "--json", "status", NULL);
 *		h_proc_expect(&p, 0);
 *		assert_int_equal(h_json_int(h_json(&p), "protocol"), 1);
 *		h_proc_free(&p);
 *	}
 *
 *	... cmocka_unit_test_setup_teardown(test_x, NULL, h_teardown) ...
 */
#ifndef BUDGET_HARNESS_H
#define BUDGET_HARNESS_H

#include <sys/types.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>

#include <cmocka.h>
#include <jansson.h>

#include "budget.pb-c.h"
#include "budget/protocol.h"

/* The default bound on anything a test waits for: only against hangs. */
#define H_DEADLINE_MS 20000

/*
 * protobuf-c declares string fields char * although packing only reads
 * them: the way to put a string literal there (like the daemon's PB_STR).
 */
#define H_STR(s) ((char *)(uintptr_t)(s))

/*
 * Room for the paths of one daemon; sun_path allows 108 bytes anyway. The
 * directory is shorter so that every file name under it fits.
 */
#define H_DIR_MAX  128
#define H_PATH_MAX 256

/*
 * One budgetd under test and its directory:
 *   DIR/data          the data directory (-d)
 *   DIR/sock          the socket (-s)
 *   DIR/budgetd.conf  the config file (-c), when one was given
 *   DIR/budgetd.log   the daemon's stdout and stderr, appended across
 *                     restarts
 * The path fields may be changed between h_daemon_new and a start (e.g. to
 * point a second daemon at a first one's socket).
 */
struct h_daemon {
	char  dir[H_DIR_MAX];
	char  datadir[H_PATH_MAX];
	char  sock[H_PATH_MAX];
	char  conf[H_PATH_MAX]; /* "" when started without -c */
	char  log[H_PATH_MAX];
	pid_t pid;     /* -1 when not running */
	int   verbose; /* pass -v this many times */
	int   run_as;  /* run with uid/gid below (h_daemon_run_as) */
	uid_t uid;
	gid_t gid;
	int   status; /* exit status of the last run (h_exit_status) */
	int   starts; /* how many times it was spawned */
};

/*
 * Fail the current test with a formatted message, like cmocka's fail_msg,
 * but known not to return (so the compiler knows so too).
 */
void
h_fail(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

/*
 * Exit statuses are reported as the shell does: the exit code (0-255), or
 * 128 + the signal number when the process was killed by a signal.
 */
int h_exit_status(int waitstatus);

/*
 * 1 when the test process may run children as other users (it is root);
 * tests that need it skip() otherwise.
 */
int h_can_switch_user(void);

/* The conventional unprivileged user and group. */
#define H_NOBODY_UID 65534
#define H_NOBODY_GID 65534

/* Milliseconds on a monotonic clock, for deadlines. */
int64_t h_now_ms(void);

/* Sleep for ms milliseconds (restarting after signals). */
void h_sleep_ms(int ms);

/* ------------------------------------------------------------------ */
/* Daemons                                                            */

/*
 * Make a fresh temporary directory (under $TMPDIR or /tmp) and, when
 * config is not NULL, write it to DIR/budgetd.conf. Does not start the
 * daemon. Fails the test if the directory cannot be made. Free with
 * h_daemon_free.
 */
struct h_daemon *h_daemon_new(const char *config);

/* h_daemon_new + h_daemon_start. */
struct h_daemon *h_daemon_up(const char *config);

/*
 * Run the daemon as this uid and gid (no supplementary groups) from its
 * next start, and give DIR to that user. Needs root (h_can_switch_user).
 */
void h_daemon_run_as(struct h_daemon *d, uid_t uid, gid_t gid);

/*
 * (Re)write DIR/budgetd.conf atomically (a temporary file renamed over it),
 * so that a daemon reloading on SIGHUP never reads half a file. Sets
 * d->conf; takes effect at the next start or SIGHUP.
 */
void h_daemon_write_config(struct h_daemon *d, const char *config);

/*
 * Fork and exec budgetd with -d, -s and (when set) -c, its stdout and
 * stderr appended to DIR/budgetd.log; do not wait for anything. Fails the
 * test if the daemon is already running or fork fails. For starts that are
 * expected to fail, follow with h_daemon_wait_exit.
 */
void h_daemon_spawn(struct h_daemon *d);

/*
 * h_daemon_spawn with more for the daemon: env (NULL, or a NULL-terminated
 * list of "NAME=VALUE") is added to its environment (NOTIFY_SOCKET,
 * WATCHDOG_USEC), and nofile > 0 sets its RLIMIT_NOFILE, soft and hard,
 * before exec, so that it cannot raise it. Later starts (h_daemon_restart)
 * are plain again.
 */
void
h_daemon_spawn_ex(struct h_daemon *d, const char *const env[], long nofile);

/* Room for "NOTIFY_SOCKET=" and a path in the daemon's directory. */
#define H_NOTIFY_ENV_SZ (H_PATH_MAX + 32)

/*
 * systemd's end of sd_notify for d: a datagram socket bound at
 * DIR/notify, and "NOTIFY_SOCKET=DIR/notify" into env for
 * h_daemon_spawn_ex. Returns the socket; close it with h_notify_close.
 */
int h_notify_listen(const struct h_daemon *d, char env[H_NOTIFY_ENV_SZ]);

/* Close it and remove DIR/notify, so that d can be notified again. */
void h_notify_close(const struct h_daemon *d, int fd);

/*
 * Wait up to ms for a datagram on fd (from h_notify_listen) into buf,
 * NUL-terminated. Returns 0 when none came.
 */
int h_notify_recv(int fd, char *buf, size_t size, int ms);

/*
 * Wait until the daemon answers a status request on its socket and that
 * answer names its data directory (so a different daemon at the same
 * path does not count). Fails the test, printing the daemon's log, if
 * the daemon exits first or does not answer within H_DEADLINE_MS.
 */
void h_daemon_wait_ready(struct h_daemon *d);

/* h_daemon_spawn + h_daemon_wait_ready. */
void h_daemon_start(struct h_daemon *d);

/*
 * Wait up to timeout_ms for the daemon to exit. Returns 1 and sets
 * d->status (and *status when not NULL) if it exited, 0 on timeout (the
 * daemon keeps running).
 */
int h_daemon_wait_exit(struct h_daemon *d, int timeout_ms, int *status);

/*
 * SIGTERM, then wait for the exit. Returns the exit status (0 for a clean
 * stop). If it does not exit within 3 * H_DEADLINE_MS it is killed with
 * SIGKILL and the test fails.
 */
int h_daemon_stop(struct h_daemon *d);

/* SIGKILL and reap: a crash. The socket file and data stay as they are. */
void h_daemon_kill9(struct h_daemon *d);

/* Stop (SIGTERM, must exit 0) if running, then start on the same dir. */
void h_daemon_restart(struct h_daemon *d);

/* Send a signal to the running daemon; fails the test if it is not. */
void h_daemon_signal(struct h_daemon *d, int sig);

/* SIGSTOP it and wait until it is stopped (SIGCONT wakes it). */
void h_daemon_freeze(struct h_daemon *d);

/* 1 if the daemon process exists and has not exited, else 0 (reaps). */
int h_daemon_running(struct h_daemon *d);

/* Kill the daemon if it runs, remove DIR recursively, free d. NULL ok. */
void h_daemon_free(struct h_daemon *d);

/*
 * The end of a test (call it from the teardown): fail the test, showing
 * the log, if the daemon died on its own since the harness last looked (a
 * crash, a sanitizer abort), or if a SIGTERM does not make it exit 0 (a
 * sanitizer's leak report shows there). Then h_daemon_free. NULL ok.
 */
void h_daemon_teardown(struct h_daemon *d);

/*
 * The cmocka teardown of a test whose *state is its daemon (or NULL):
 * h_daemon_teardown(*state), so a crash or a leak fails that test. Always
 * returns 0: the failure is the test's, not the group's.
 */
int h_teardown(void **state);

/* The whole log so far, NUL-terminated; free() it. "" if none. */
char *h_daemon_log(const struct h_daemon *d);

/*
 * Wait up to timeout_ms for needle to appear in the log (e.g. after a
 * SIGHUP, "configuration reloaded"). Returns 1 if found, else 0.
 */
int
h_daemon_log_wait(const struct h_daemon *d, const char *needle, int timeout_ms);

/* Fail the test, showing the log, unless the daemon is still running. */
void h_assert_running(struct h_daemon *d);

/*
 * Fail the test unless the daemon is running and a well-behaved client on
 * a fresh connection gets a correct status answer (request id echoed,
 * protocol 1, datadir equal to d->datadir). Use after each hostile case.
 */
void h_assert_serving(struct h_daemon *d);

/* ------------------------------------------------------------------ */
/* Memory                                                             */

/* Resident memory of a process, in bytes, from /proc/PID/status. */
struct h_mem {
	int64_t vm_rss;   /* VmRSS */
	int64_t rss_anon; /* RssAnon: heap and the like, no mapped files */
};

/* Read the daemon's memory; fails the test if /proc cannot be read. */
void h_daemon_mem(const struct h_daemon *d, struct h_mem *m);

/* ------------------------------------------------------------------ */
/* Programs: budgetctl, budgetd -n, ...                               */

/*
 * A child process with its stdout and stderr captured through pipes. The
 * out and err buffers are NUL-terminated; json is stdout parsed by
 * h_json (NULL until then).
 */
struct h_proc {
	pid_t   pid;    /* -1 once reaped */
	int     out_fd; /* read ends of the pipes, -1 once at EOF */
	int     err_fd;
	char   *out;
	size_t  out_len;
	char   *err;
	size_t  err_len;
	int     status; /* exit status, valid after h_proc_wait */
	json_t *json;
};

/*
 * Start argv[0] (a path; no shell, no PATH search) with argv, NULL-
 * terminated, stdin from /dev/null. Fails the test if fork fails; an exec
 * failure shows as exit status 127.
 */
void h_proc_spawn(struct h_proc *p, const char *const argv[]);

/*
 * Collect the output and the exit status. Fails the test (after killing
 * the child) if it does not exit within timeout_ms.
 */
void h_proc_wait(struct h_proc *p, int timeout_ms);

/*
 * h_proc_spawn, the child running as uid and gid with no supplementary
 * groups (peer credentials for role tests). Needs root.
 */
void h_proc_spawn_as(
    struct h_proc *p, const char *const argv[], uid_t uid, gid_t gid);

/* h_proc_spawn + h_proc_wait(H_DEADLINE_MS). Returns p->status. */
int h_run(struct h_proc *p, const char *const argv[]);

/*
 * Run budgetctl -s SOCK ARGS...: the arguments after sock are strings,
 * terminated by NULL. Returns the exit status. h_ctl uses d->sock.
 */
int h_ctl(struct h_proc *p, const struct h_daemon *d, ...);
int h_ctl_sock(struct h_proc *p, const char *sock, ...);
int h_ctl_v(struct h_proc *p, const char *sock, va_list ap);

/* h_ctl run as uid and gid (see h_proc_spawn_as). */
int
h_ctl_as(struct h_proc *p, const struct h_daemon *d, uid_t uid, gid_t gid, ...);

/* Start budgetctl like h_ctl without waiting (for concurrent clients). */
void h_ctl_spawn(struct h_proc *p, const struct h_daemon *d, ...);

/*
 * Fail the test unless the process exited with this status, showing its
 * stdout and stderr.
 */
void h_proc_expect(const struct h_proc *p, int status);

/* Release the buffers and JSON; kill and reap the child if still running. */
void h_proc_free(struct h_proc *p);

/*
 * stdout parsed as one JSON document (cached in p->json, owned by p).
 * Fails the test, showing the output, if it is not JSON.
 */
json_t *h_json(struct h_proc *p);

/*
 * Fields by path: object keys and array indexes separated by dots,
 * "error.code", "contracts.0.id". h_json_get returns NULL when the path
 * does not exist; the typed getters fail the test when it does not exist
 * or has another type.
 */
json_t     *h_json_get(json_t *root, const char *path);
const char *h_json_str(json_t *root, const char *path);
json_int_t  h_json_int(json_t *root, const char *path);
int         h_json_bool(json_t *root, const char *path);

/* ------------------------------------------------------------------ */
/* Raw connections                                                    */

/*
 * Connect to a socket path. Returns the fd (blocking, close-on-exec) or -1
 * with errno; never fails the test.
 */
int h_connect_try(const char *sock);

/* Connect to the daemon's socket; fails the test on error. */
int h_connect(const struct h_daemon *d);

/*
 * Connect as another user: a child with that uid and gid connects (the
 * daemon sees its SO_PEERCRED) and hands the descriptor back. Returns the
 * fd or -1 with errno (EACCES: the socket's mode keeps that user out).
 * Needs root.
 */
int h_connect_as_try(const char *sock, uid_t uid, gid_t gid);

/*
 * Send bytes as they are (all of them, retrying short writes). Returns 0,
 * or -1 with errno (EPIPE, ECONNRESET: the daemon closed). SIGPIPE is
 * ignored in the test process.
 */
int h_send_try(int fd, const void *buf, size_t len);

/* h_send_try that fails the test on error. */
void h_send(int fd, const void *buf, size_t len);

/* Send a 4-byte big-endian frame length on its own. */
void h_send_len(int fd, uint32_t len);

/* Send one Request as one frame (proto/wire.c); fails the test on error. */
void h_send_request(int fd, const Budget__Request *req);

/*
 * Pack a status Request (protocol version, request id; id may be NULL) as
 * a whole frame, header included, into buf. Returns the frame's length;
 * fails the test if it does not fit in size.
 */
size_t h_pack_status(
    uint8_t *buf, size_t size, uint32_t version, const char *request_id);

/* Send one status Request with this request id (version 1). */
void h_send_status(int fd, const char *request_id);

/*
 * Read one Response frame, waiting at most timeout_ms (SO_RCVTIMEO).
 * Returns WIRE_OK with *out set (free with budget__response__free_unpacked)
 * or a negative enum wire_status: WIRE_IO with errno EAGAIN on timeout,
 * errno 0 when the daemon closed cleanly, ECONNRESET when it reset.
 */
int h_recv_try(int fd, int timeout_ms, Budget__Response **out);

/* h_recv_try that fails the test unless it got a Response. */
Budget__Response *h_recv(int fd, int timeout_ms);

/*
 * Read one Response and fail the test unless it is an error with this
 * code (and, when request_id is not NULL, echoes it). Returns nothing:
 * the response is freed.
 */
void h_expect_error(int fd, const char *code, const char *request_id);

/*
 * Read one Response and fail the test unless it is a status result for
 * this request id (NULL: "") with protocol 1.
 */
void h_expect_status(int fd, const char *request_id);

/*
 * Wait up to timeout_ms for the daemon to close the connection: read
 * returns 0 or fails with ECONNRESET. Bytes read meanwhile are discarded
 * and counted in *extra when not NULL. Returns 1 if closed, 0 on timeout.
 */
int h_wait_closed(int fd, int timeout_ms, size_t *extra);

/*
 * Fail the test unless the daemon closes fd within H_DEADLINE_MS without
 * sending anything more; then close fd.
 */
void h_expect_closed(int fd);

/*
 * Make fd non-blocking (1) or blocking (0). For clients that must never
 * block, such as one that floods the daemon without reading.
 */
void h_set_nonblock(int fd, int on);

/*
 * A status round-trip on fd: send one status request, read its answer and
 * return the daemon's count of open connections (this one included).
 */
unsigned h_status_connections(int fd);

/*
 * Connect and make sure this connection is being served: a status
 * round-trip. While the daemon answers "too_many_connections" (a closed
 * connection it has not noticed yet still counts), retry until
 * H_DEADLINE_MS. Returns the connected fd; fails the test otherwise.
 */
int h_connect_served(const struct h_daemon *d);

/*
 * Connect and expect to be turned away at once: one error Response with
 * this code (e.g. "too_many_connections"), then the close. A status
 * request is sent first, as a real client would; the daemon may have
 * closed before it arrives, so a failed send is not an error.
 */
void h_expect_refused(const struct h_daemon *d, const char *code);

/*
 * Wait until a status on fd reports exactly n open connections; fails the
 * test after H_DEADLINE_MS. For "the daemon has let go of that client".
 */
void h_wait_connections(int fd, unsigned n);

#endif /* BUDGET_HARNESS_H */
