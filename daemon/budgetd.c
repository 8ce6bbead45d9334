/*
 * budgetd.c: main. Owns the order of start-up (config, store, socket,
 * readiness), the signals (SIGTERM/SIGINT: finish what is in flight and
 * exit 0; SIGHUP: reload what can be reloaded) and the conversation with
 * systemd (READY once the socket listens, WATCHDOG, STOPPING).
 *
 * budgetd never forks or daemonizes: under systemd it is Type=notify, by
 * hand it runs in the foreground and logs to stderr.
 */
#include <sys/resource.h>
#include <sys/stat.h>

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <event2/event.h>
#include <systemd/sd-daemon.h>

#include "budget/date.h"
#include "budget/protocol.h"
#include "budgetd.h"

/* How long SIGTERM waits for answers to drain before giving up. */
#define BUDGETD_DRAIN_SECS 10

#define BUDGETD_DATADIR_DEFAULT "/var/lib/budgetd"

struct budgetd *bd;

static struct event *ev_sigterm, *ev_sigint, *ev_sighup;
static struct event *ev_watchdog, *ev_drain, *ev_trim;

static __dead void usage(void);
static void        budgetd_signal_cb(int, short, void *);
static void        budgetd_watchdog_cb(int, short, void *);
static void        budgetd_drain_cb(int, short, void *);
static void        budgetd_trim_cb(int, short, void *);
static void        budgetd_reload(void);
static void        budgetd_libevent_log(int, const char *);
static void        budgetd_raise_nofile(void);
static void budgetd_resolve_paths(struct config *, const char *, const char *);

static __dead void
usage(void)
{
	fprintf(stderr,
	    "usage: budgetd [-nv] [-c config] [-d datadir] "
	    "[-s socket]\n");
	exit(2);
}

/* libevent's own complaints go to our log, not to a stray stderr. */
static void
budgetd_libevent_log(int severity, const char *msg)
{
	if (severity >= 2) /* EVENT_LOG_WARN */
		log_warnx("libevent: %s", msg);
	else
		log_debug("libevent: %s", msg);
}

/*
 * Every connection is a descriptor: take the hard limit the system allows
 * rather than the customary soft 1024, so that max_connections means what
 * it says. Not being able to is no reason not to start.
 */
static void
budgetd_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			log_warn("budgetd: raising the descriptor limit");
	}
	log_debug("budgetd: %llu descriptors", (unsigned long long)rl.rlim_cur);
}

/*
 * Where the ledger and the socket live, first match wins: the command
 * line, the config file, systemd's StateDirectory/RuntimeDirectory, the
 * environment (BUDGETD_SOCKET), the compiled defaults.
 */
static void
budgetd_resolve_paths(
    struct config *conf, const char *optdata, const char *optsock)
{
	const char *env;
	char       *first, *p;

	if (optdata != NULL) {
		free(conf->datadir);
		conf->datadir = xstrdup(optdata);
	}
	if (conf->datadir == NULL) {
		if ((env = getenv("STATE_DIRECTORY")) != NULL && *env != '\0') {
			/* systemd may list several, separated by ':'. */
			first = xstrdup(env);
			if ((p = strchr(first, ':')) != NULL)
				*p = '\0';
			conf->datadir = first;
		} else
			conf->datadir = xstrdup(BUDGETD_DATADIR_DEFAULT);
	}
	if (optsock != NULL) {
		free(conf->socket);
		conf->socket = xstrdup(optsock);
	}
	if (conf->socket == NULL) {
		if ((env = getenv("RUNTIME_DIRECTORY")) != NULL &&
		    *env != '\0') {
			first = xstrdup(env);
			if ((p = strchr(first, ':')) != NULL)
				*p = '\0';
			xasprintf(&conf->socket, "%s/budgetd.sock", first);
			free(first);
		} else if ((env = getenv(BUDGET_SOCKET_ENV)) != NULL &&
		    *env != '\0')
			conf->socket = xstrdup(env);
		else if (access(BUDGET_SOCKET_DIR, W_OK) == 0)
			conf->socket = xstrdup(BUDGET_SOCKET_DEFAULT);
		else {
			/*
			 * No system socket directory (a developer's machine):
			 * keep the socket beside the data, so that
			 * "budgetd -d ./var" just works.
			 */
			xasprintf(
			    &conf->socket, "%s/budgetd.sock", conf->datadir);
		}
	}
}

int
main(int argc, char *argv[])
{
	static struct budgetd daemon;
	struct config        *conf;
	const char           *optdata = NULL, *optsock = NULL;
	const char           *optconf = NULL;
	char                 *cause = NULL;
	uint64_t              wd_usec = 0;
	struct timeval        tv;
	int                   ch, checkonly = 0, verbose = 0;

	bd = &daemon;
	conf = &bd->conf;
	config_defaults(conf);
	log_init(1, LOG_DAEMON);

	while ((ch = getopt(argc, argv, "c:d:ns:v")) != -1) {
		switch (ch) {
		case 'c':
			optconf = optarg;
			break;
		case 'd':
			optdata = optarg;
			break;
		case 'n':
			checkonly = 1;
			break;
		case 's':
			optsock = optarg;
			break;
		case 'v':
			verbose++;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();

	if (optconf != NULL && config_load(conf, optconf, &cause) == -1)
		fatalx("%s", cause);
	budgetd_resolve_paths(conf, optdata, optsock);
	bd->verbose_cmdline = verbose;
	if (verbose > conf->verbose)
		conf->verbose = verbose;
	log_setverbose(conf->verbose);
	if (checkonly) {
		config_print(conf, stdout);
		fprintf(stderr, "configuration OK\n");
		exit(0);
	}

	budgetd_raise_nofile();
	bd->euid = geteuid();
	bd->started_at = timestamp_now();
	TAILQ_INIT(&bd->conns);
	TAILQ_INIT(&bd->ghosts);
	signal(SIGPIPE, SIG_IGN);
	/*
	 * A file-size limit (RLIMIT_FSIZE) reached is then EFBIG from the
	 * write, a storage error like a full disk, not a dead daemon.
	 */
	signal(SIGXFSZ, SIG_IGN);
	event_set_log_callback(budgetd_libevent_log);

	if (store_open(conf->datadir, conf->map_size, conf->map_max, &cause) ==
	    -1)
		fatalx("store: %s", cause);
	if (upgrade_ledger(&cause) == -1)
		fatalx("store: %s", cause);
	if ((bd->base = event_base_new()) == NULL)
		fatalx("event_base_new");
	conn_init();
	cmd_init();
	reader_start();
	if (control_listen(conf->socket, conf->socket_mode, &cause) == -1)
		fatalx("control: %s", cause);
	control_start();
	expiry_start();

	ev_sigterm = evsignal_new(bd->base, SIGTERM, budgetd_signal_cb, NULL);
	ev_sigint = evsignal_new(bd->base, SIGINT, budgetd_signal_cb, NULL);
	ev_sighup = evsignal_new(bd->base, SIGHUP, budgetd_signal_cb, NULL);
	ev_drain = evtimer_new(bd->base, budgetd_drain_cb, NULL);
	if (ev_sigterm == NULL || ev_sigint == NULL || ev_sighup == NULL ||
	    ev_drain == NULL)
		fatalx("evsignal_new");
	evsignal_add(ev_sigterm, NULL);
	evsignal_add(ev_sigint, NULL);
	evsignal_add(ev_sighup, NULL);
	ev_trim = event_new(bd->base, -1, EV_PERSIST, budgetd_trim_cb, NULL);
	if (ev_trim == NULL)
		fatalx("event_new");
	tv.tv_sec = XMAP_KEEP_SECS / 5;
	tv.tv_usec = 0;
	evtimer_add(ev_trim, &tv);

	/* Pet the watchdog at half the interval systemd expects. */
	if (sd_watchdog_enabled(0, &wd_usec) > 0 && wd_usec > 0) {
		ev_watchdog = event_new(
		    bd->base, -1, EV_PERSIST, budgetd_watchdog_cb, NULL);
		tv.tv_sec = (time_t)(wd_usec / 2 / 1000000);
		tv.tv_usec = (suseconds_t)(wd_usec / 2 % 1000000);
		evtimer_add(ev_watchdog, &tv);
	}

	log_info("budgetd %s: listening on %s, data in %s", BUDGET_VERSION,
	    conf->socket, conf->datadir);
	sd_notifyf(0, "READY=1\nSTATUS=listening on %s\nMAINPID=%lu",
	    conf->socket, (unsigned long)getpid());

	event_base_dispatch(bd->base);

	expiry_stop();
	cmd_finish();
	reader_stop();
	conn_close_all();
	event_free(bd->write_ready);
	control_cleanup();
	cmd_shutdown();
	event_free(ev_sigterm);
	event_free(ev_sigint);
	event_free(ev_sighup);
	event_free(ev_drain);
	event_free(ev_trim);
	if (ev_watchdog != NULL)
		event_free(ev_watchdog);
	event_base_free(bd->base);
	store_close();
	log_info("budgetd: stopped");
	config_free(conf);
	return (0);
}

static void
budgetd_signal_cb(int sig, short events, void *arg)
{
	(void)events;
	(void)arg;
	switch (sig) {
	case SIGTERM:
	case SIGINT:
		log_info("budgetd: %s: finishing what is in flight",
		    sig == SIGTERM ? "SIGTERM" : "SIGINT");
		budgetd_shutdown();
		break;
	case SIGHUP:
		budgetd_reload();
		break;
	}
}

/*
 * Stop: accept nothing more, read no more requests, run the batch that is
 * queued, and leave the loop once every answer owed is written (or after
 * BUDGETD_DRAIN_SECS, for clients that do not read).
 */
void
budgetd_shutdown(void)
{
	struct timeval tv = {BUDGETD_DRAIN_SECS, 0};

	if (bd->shutting_down)
		return;
	bd->shutting_down = 1;
	sd_notify(0, "STOPPING=1\nSTATUS=stopping");
	control_stop();
	expiry_stop();
	conn_stop_reading_all();
	cmd_run_now();
	evtimer_add(ev_drain, &tv);
	budgetd_maybe_exit();
}

void
budgetd_maybe_exit(void)
{
	if (bd->shutting_down && bd->nconns == 0 && !cmd_batch_pending() &&
	    reader_inflight() == 0)
		event_base_loopexit(bd->base, NULL);
}

static void
budgetd_drain_cb(int fd, short events, void *arg)
{
	(void)fd;
	(void)events;
	(void)arg;
	log_warnx("budgetd: %u connections did not take their answers in "
		  "%ds; closing them",
	    bd->nconns, BUDGETD_DRAIN_SECS);
	event_base_loopexit(bd->base, NULL);
}

static void
budgetd_watchdog_cb(int fd, short events, void *arg)
{
	(void)fd;
	(void)events;
	(void)arg;
	sd_notify(0, "WATCHDOG=1");
}

/* Give back the maps the last verify left, once none has come for a while. */
static void
budgetd_trim_cb(int fd, short events, void *arg)
{
	size_t freed;

	(void)fd;
	(void)events;
	(void)arg;
	if ((freed = xmap_trim(XMAP_KEEP_SECS)) != 0)
		log_info("budgetd: gave back %zu MiB kept from the last verify",
		    freed >> 20);
}

/*
 * SIGHUP: re-read the config file and take what can change while running
 * (limits, timeouts, reservation TTL, the commit wait, verbosity, roles
 * of new connections). Paths and the map need a restart; a broken file changes
 * nothing.
 */
static void
budgetd_reload(void)
{
	struct config     next, *cur = &bd->conf;
	char             *cause = NULL;
	struct role_rule *tmp;

	if (cur->path == NULL) {
		log_info("budgetd: SIGHUP: no config file to reload");
		return;
	}
	config_defaults(&next);
	if (config_load(&next, cur->path, &cause) == -1) {
		log_warnx("budgetd: reload refused, keeping the running "
			  "config: %s",
		    cause);
		free(cause);
		config_free(&next);
		return;
	}
	cur->max_conns = next.max_conns;
	cur->max_conns_per_uid = next.max_conns_per_uid;
	cur->idle_timeout = next.idle_timeout;
	cur->write_timeout = next.write_timeout;
	cur->frame_timeout = next.frame_timeout;
	cur->reservation_ttl = next.reservation_ttl;
	cur->commit_wait_us = next.commit_wait_us;
	/* -v on the command line holds until restart. */
	cur->verbose = next.verbose > bd->verbose_cmdline ? next.verbose
							  : bd->verbose_cmdline;
	tmp = cur->roles;
	cur->roles = next.roles;
	cur->nroles = next.nroles;
	cur->roles_configured = next.roles_configured;
	next.roles = tmp;
	log_setverbose(cur->verbose);
	if ((next.datadir != NULL && strcmp(next.datadir, cur->datadir)) ||
	    (next.socket != NULL && strcmp(next.socket, cur->socket)) ||
	    next.map_size != cur->map_size || next.map_max != cur->map_max ||
	    next.frame_max != cur->frame_max)
		log_warnx("budgetd: reload: datadir, socket, frame_max and "
			  "the map sizes change only on restart");
	config_free(&next);
	log_info("budgetd: configuration reloaded from %s", cur->path);
}
