/*
 * test_full.c: a full map and a full disk (issue #5, "Disk and map full";
 * SPEC §8, README "When the disk or the map is full"). Writes (company
 * adds and reservations, pipelined) go on until the daemon answers
 * storage_full. Then: reads keep working (status, contract show, company
 * show, verify); every write acknowledged before is there and replays its
 * answer; storage_full was not remembered under the request id, so once
 * there is room the same request is applied (not replayed); and writes
 * resume:
 *
 * - a small map (map_size = map_max = 256KiB): after a restart with
 *   map_max = 64MiB on the same data directory;
 * - a tiny filesystem (a 2 MiB tmpfs as the data directory, with a 1 MiB
 *   ballast file in it): without a restart, once the ballast is removed.
 *   Needs root and a mount that works (skips otherwise).
 */
#include <sys/mount.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ops.h"

/* START at EUR 10,000.00: EUR 5,000.00 of subsidy. */
#define START_COST 1000000
#define START_SUB  500000

/* Requests per pipelined chunk, and the most the filling may send. */
#define FILL_CHUNK 32
#define FILL_MAX   40000
/* Single writes refused in a row that say the storage is full. */
#define FILL_TAIL  8

/* The tiny filesystem and what takes most of it at first. */
#define TINY_FS_SIZE "size=2m"
#define BALLAST_SIZE (1024 * 1024)

/* One write of the filling and what became of it. */
struct wr {
	struct fx_req     r;
	int               reserve; /* else a company add */
	Budget__Response *answer;  /* the first answer */
};

static struct {
	struct wr *w;
	size_t     n;
	int        mounted; /* the data directory is a tmpfs of ours */
	char       mnt[H_PATH_MAX];
} full;

static int
teardown_full(void **state)
{
	size_t i;

	/*
	 * A lazy unmount: the daemon keeps its open files until the
	 * teardown stops it; the directory is then empty to remove.
	 */
	if (full.mounted && umount2(full.mnt, MNT_DETACH) == -1)
		fprintf(stderr, "umount %s: %s\n", full.mnt, strerror(errno));
	full.mounted = 0;
	for (i = 0; i < full.n; i++) {
		if (full.w[i].answer != NULL)
			budget__response__free_unpacked(full.w[i].answer, NULL);
	}
	free(full.w);
	full.w = NULL;
	full.n = 0;
	ops_daemon_teardown(*state);
	return (0);
}

/* Refused for lack of room: nothing applied, nothing remembered. */
static int
is_full(const Budget__Response *a)
{
	return (
	    a->error != NULL && strcmp(a->error->code, "storage_full") == 0);
}

/* A write that may be answered: applied, or refused for lack of room. */
static void
check_first_answer(const struct wr *w, const Budget__Response *a)
{
	if (is_full(a))
		return;
	/* Its company was refused for lack of room: so it is not there. */
	if (w->reserve && a->error != NULL &&
	    strcmp(a->error->code, "not_found") == 0 && is_full(w[-1].answer))
		return;
	if (a->error != NULL)
		fail_msg(
		    "%s: %s: %s", w->r.rid, a->error->code, a->error->message);
	if (a->replayed)
		fail_msg("%s: a first answer marked replayed", w->r.rid);
	if (w->reserve) {
		assert_non_null(a->dossier);
		assert_string_equal(a->dossier->state, "reserved");
		assert_int_equal(a->dossier->subsidy_cents, START_SUB);
	} else
		assert_non_null(a->company);
}

/*
 * Company adds and reservations on them, FILL_CHUNK at a time, from
 * serial first on, until a chunk has a write refused for lack of room;
 * then company adds alone, until FILL_TAIL in a row are refused (a
 * single small write may still fit where a chunk did not). Returns how
 * many were refused.
 */
static size_t
fill(const struct h_daemon *d, unsigned first)
{
	Budget__Request  *reqs[FILL_CHUNK];
	Budget__Response *out[FILL_CHUNK];
	char              rid[FX_ID_SZ], id[FX_ID_SZ];
	size_t            i, k = FILL_CHUNK, next = k, start, nfull = 0;
	size_t            row = 0;
	unsigned          serial = first;
	int               fd = h_connect(d);

	if (full.w == NULL) {
		full.w = calloc(FILL_MAX, sizeof(*full.w));
		assert_non_null(full.w);
	}
	while (row < FILL_TAIL) {
		if (full.n + k > FILL_MAX)
			fail_msg("%d writes and the storage is not full yet",
			    FILL_MAX);
		start = full.n;
		for (i = 0; i < k; i++) {
			struct wr *w = &full.w[full.n++];

			if (i % 2 == 0) {
				snprintf(
				    rid, sizeof(rid), "fill-co-%u", serial);
				fx_company_req(&w->r, rid, serial);
				if (k == 1)
					serial++;
			} else {
				snprintf(
				    rid, sizeof(rid), "fill-rs-%u", serial);
				snprintf(id, sizeof(id), "F-%u", serial);
				fx_reserve(&w->r, rid, id, w[-1].r.company,
				    "K-FULL", "START", START_COST, 0);
				w->reserve = 1;
				serial++;
			}
			reqs[i] = &w->r.req;
		}
		fx_pipeline(fd, reqs, k, out);
		for (i = 0; i < k; i++) {
			check_first_answer(&full.w[start + i], out[i]);
			full.w[start + i].answer = out[i];
			if (is_full(out[i])) {
				nfull++;
				next = 1;
				row += k == 1;
			} else
				row = 0;
		}
		k = next;
	}
	close(fd);
	print_message("%zu writes, %zu refused storage_full\n", full.n, nfull);
	return (nfull);
}

/* Reservations acknowledged as applied. */
static int64_t
acked_reservations(void)
{
	int64_t n = 0;
	size_t  i;

	for (i = 0; i < full.n; i++) {
		if (full.w[i].reserve && full.w[i].answer != NULL &&
		    full.w[i].answer->error == NULL)
			n++;
	}
	return (n);
}

/*
 * Every write answered other than storage_full (the applied ones, and any
 * refusal, which is remembered too) replays the answer it got.
 */
static void
check_acked(const struct h_daemon *d)
{
	Budget__Request  **reqs = calloc(full.n, sizeof(*reqs));
	Budget__Response **out = calloc(full.n, sizeof(*out));
	size_t            *idx = calloc(full.n, sizeof(*idx));
	size_t             i, m = 0;
	int                fd = h_connect(d);

	assert_non_null(reqs);
	assert_non_null(out);
	assert_non_null(idx);
	for (i = 0; i < full.n; i++) {
		if (is_full(full.w[i].answer))
			continue;
		idx[m] = i;
		reqs[m++] = &full.w[i].r.req;
	}
	fx_pipeline(fd, reqs, m, out);
	close(fd);
	for (i = 0; i < m; i++) {
		if (!out[i]->replayed ||
		    !fx_same_answer(out[i], full.w[idx[i]].answer))
			fail_msg("acknowledged %s: its retry is %s",
			    reqs[i]->request_id,
			    !out[i]->replayed ? "applied again"
					      : "another answer");
		budget__response__free_unpacked(out[i], NULL);
	}
	free(idx);
	free(out);
	free(reqs);
}

/* Reads while full: status, contract show, company show, verify. */
static void
check_reads(const struct h_daemon *d)
{
	struct fx_contract c;
	json_t            *j;
	size_t             i;

	j = fx_ctl_json(d, 0, "status", NULL);
	print_message("while full: map_size %lld, map_used %lld\n",
	    (long long)h_json_int(j, "map_size"),
	    (long long)h_json_int(j, "map_used"));
	json_decref(j);
	fx_contract_show(d, "K-FULL", &c);
	assert_int_equal(c.reserved, acked_reservations() * START_SUB);
	for (i = 0; i < full.n; i++) {
		if (!full.w[i].reserve && !is_full(full.w[i].answer)) {
			json_decref(fx_ctl_json(d, 0, "company", "show",
			    full.w[i].r.company, NULL));
			break;
		}
	}
	fx_verify_ok(d);
}

/*
 * Once there is room: the writes refused storage_full, retried with the
 * same ids in the same order, are applied now (storage_full was not
 * remembered), and new writes go through.
 */
static void
check_resumed(const struct h_daemon *d, unsigned next_serial)
{
	struct fx_req     r[2];
	Budget__Response *a;
	size_t            i, retried = 0;
	int               fd = h_connect(d);

	for (i = 0; i < full.n; i++) {
		struct wr *w = &full.w[i];

		if (!is_full(w->answer))
			continue;
		a = fx_call(fd, &w->r.req);
		if (a->replayed || a->error != NULL)
			fail_msg("%s, refused storage_full, retried with room: "
				 "%s%s",
			    w->r.rid, a->replayed ? "replayed " : "",
			    a->error != NULL ? a->error->code : "");
		budget__response__free_unpacked(w->answer, NULL);
		w->answer = a;
		retried++;
	}
	fx_company_req(&r[0], "fresh-co", next_serial);
	fx_reserve(&r[1], "fresh-rs", "F-FRESH", r[0].company, "K-FULL",
	    "START", START_COST, 0);
	for (i = 0; i < 2; i++) {
		a = fx_call(fd, &r[i].req);
		if (a->error != NULL)
			fail_msg("a new write after room was made: %s",
			    a->error->code);
		budget__response__free_unpacked(a, NULL);
	}
	close(fd);
	print_message("%zu writes retried and applied\n", retried);
}

/*
 * Still full: each write refused for room, retried alone, is refused
 * again or, fitting now that it is alone, applied; never replayed (the
 * refusal was not remembered). The applied ones count as acknowledged.
 */
static void
retry_while_full(const struct h_daemon *d)
{
	Budget__Response *a;
	size_t            i, again = 0, applied = 0;
	int               fd = h_connect(d);

	for (i = 0; i < full.n; i++) {
		struct wr *w = &full.w[i];

		/* A reservation alone would find no company: later. */
		if (!is_full(w->answer) || w->reserve)
			continue;
		a = fx_call(fd, &w->r.req);
		if (a->replayed)
			fail_msg("%s: a refusal for lack of room was "
				 "remembered",
			    w->r.rid);
		if (is_full(a)) {
			again++;
			budget__response__free_unpacked(a, NULL);
			continue;
		}
		check_first_answer(w, a);
		budget__response__free_unpacked(w->answer, NULL);
		w->answer = a;
		applied++;
	}
	close(fd);
	print_message("retried while full: %zu refused again, %zu applied\n",
	    again, applied);
	assert_true(again > 0);
}

static void
ledger(const struct h_daemon *d)
{
	fx_rules_load(d);
	fx_contract_open(d, "K-FULL", "100000000");
}

/*
 * map_size = map_max = 256KiB: storage_full, nothing acknowledged lost,
 * reads work; restarted with map_max = 64MiB the map grows and writes
 * resume.
 */
static void
test_map_full(void **state)
{
	struct h_daemon   *d;
	struct fx_contract c;
	json_t            *j;

	*state = d =
	    h_daemon_up("[limits]\nmap_size = 256KiB\nmap_max = 256KiB\n");
	ledger(d);
	assert_true(fill(d, 1) > 0);
	check_reads(d);
	check_acked(d);
	assert_true(h_daemon_log_wait(d, "MDB_MAP_FULL", 0));

	retry_while_full(d);
	assert_int_equal(h_daemon_stop(d), 0);
	h_daemon_write_config(
	    d, "[limits]\nmap_size = 256KiB\nmap_max = 64MiB\n");
	h_daemon_start(d);
	check_acked(d);
	fx_verify_ok(d);
	check_resumed(d, 100000);
	check_acked(d);
	fx_contract_show(d, "K-FULL", &c);
	assert_int_equal(c.reserved, (acked_reservations() + 1) * START_SUB);
	fx_verify_ok(d);
	j = fx_ctl_json(d, 0, "status", NULL);
	assert_true(h_json_int(j, "map_size") > 256 * 1024);
	json_decref(j);
	assert_true(h_daemon_log_wait(d, "map grown", 0));
}

/* Write len bytes of 'b' to path (a file on the tiny filesystem). */
static void
ballast(const char *path, size_t len)
{
	char    buf[65536];
	size_t  done = 0;
	ssize_t n;
	int     fd;

	memset(buf, 'b', sizeof(buf));
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	while (done < len) {
		n = write(fd, buf,
		    len - done < sizeof(buf) ? len - done : sizeof(buf));
		assert_true(n > 0);
		done += (size_t)n;
	}
	assert_int_equal(close(fd), 0);
}

/*
 * The data directory on a 2 MiB tmpfs, half of it a ballast file: the
 * disk fills (ENOSPC) long before the 64 MiB map; the same checks as for
 * the map; then the ballast goes and writes resume in the same daemon.
 */
static void
test_disk_full(void **state)
{
	struct h_daemon   *d;
	struct fx_contract c;
	char               path[H_PATH_MAX + 16];

	*state = d = h_daemon_new(NULL);
	if (!h_can_switch_user()) {
		print_message("skipped: mounting a tmpfs needs root\n");
		skip();
	}
	snprintf(full.mnt, sizeof(full.mnt), "%s", d->datadir);
	assert_int_equal(mkdir(full.mnt, 0700), 0);
	if (mount("tmpfs", full.mnt, "tmpfs", MS_NOSUID | MS_NODEV,
		TINY_FS_SIZE) == -1) {
		print_message("skipped: mount -t tmpfs: %s\n", strerror(errno));
		skip();
	}
	full.mounted = 1;
	snprintf(path, sizeof(path), "%s/ballast", full.mnt);
	ballast(path, BALLAST_SIZE);
	h_daemon_start(d);
	ledger(d);

	assert_true(fill(d, 1) > 0);
	check_reads(d);
	check_acked(d);
	retry_while_full(d);

	/* A bigger map would need the same room: it did not grow. */
	assert_false(h_daemon_log_wait(d, "map grown", 0));

	/* Room is made; the same daemon takes writes again. */
	assert_int_equal(unlink(path), 0);
	check_resumed(d, 100000);
	check_acked(d);
	fx_contract_show(d, "K-FULL", &c);
	assert_int_equal(c.reserved, (acked_reservations() + 1) * START_SUB);
	fx_verify_ok(d);

	/* And it all survives a restart. */
	h_daemon_restart(d);
	check_acked(d);
	fx_verify_ok(d);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, NULL, teardown_full)
	const struct CMUnitTest tests[] = {
	    T(test_map_full),
	    T(test_disk_full),
	};
#undef T

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
