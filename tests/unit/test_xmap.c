/*
 * test_xmap.c: unit tests of the maps verify walks the ledger with
 * (daemon/xmalloc.c): a map given back is kept as a spare and handed out
 * again, zeroed, for the same size only; a spare is out of reach until
 * taken; small maps are not kept; and xmap_trim unmaps the spares old
 * enough. Whether a range is still mapped is asked
 * of mincore, which fails with ENOMEM where nothing is.
 */
#include <sys/mman.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "budgetd.h"

#define MIB ((size_t)1 << 20)

/*
 * Whether [p, p + len) is mapped, page by page: all of it, or none. No
 * malloc between an unmap and the question: it might map the range anew.
 */
static int
mapped(void *p, size_t len)
{
	static unsigned char vec[8 * MIB / 4096];
	int                  rc;

	assert_true(len <= 8 * MIB);
	rc = mincore(p, len, vec);
	if (rc == -1)
		assert_int_equal(errno, ENOMEM);
	return (rc == 0);
}

/* Whether every byte of p is zero. */
static int
all_zero(const unsigned char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (p[i] != 0)
			return (0);
	}
	return (1);
}

static int
trim_all(void **state)
{
	(void)state;
	(void)xmap_trim(0);
	return (0);
}

/* A spare comes back for any size that rounds to its length, zeroed. */
static void
test_spare_comes_back_zeroed(void **state)
{
	unsigned char *p, *q;

	(void)state;
	p = xmap(3 * MIB);
	assert_true(all_zero(p, 4 * MIB));
	memset(p, 0xa5, 4 * MIB);
	xunmap(p, 3 * MIB);
	assert_true(mapped(p, 4 * MIB));

	q = xmap(4 * MIB - 100); /* rounds, as 3 MiB does, to 4 MiB */
	assert_ptr_equal(q, p);
	assert_true(all_zero(q, 4 * MIB));
	xunmap(q, 4 * MIB);
}

/*
 * A spare is not handed out for a smaller size, nor for a larger; trimming
 * unmaps all three.
 */
static void
test_other_size_maps_anew(void **state)
{
	unsigned char *p, *q, *r;

	(void)state;
	p = xmap(6 * MIB);
	xunmap(p, 6 * MIB);
	q = xmap(4 * MIB);
	assert_ptr_not_equal(q, p);
	assert_true(all_zero(q, 4 * MIB));
	r = xmap(8 * MIB);
	assert_ptr_not_equal(r, p);
	assert_true(all_zero(r, 8 * MIB));
	xunmap(q, 4 * MIB);
	xunmap(r, 8 * MIB);

	assert_int_equal(xmap_trim(0), 18 * MIB);
	assert_false(mapped(p, 6 * MIB));
	assert_false(mapped(q, 4 * MIB));
	assert_false(mapped(r, 8 * MIB));
	assert_int_equal(xmap_trim(0), 0);
}

/*
 * A trim of those kept age seconds or more takes the spare given back
 * three seconds ago and leaves the one given back just now. (The clock is
 * read in whole seconds: a spare given back 2.99 s ago may count as 2 or
 * 3 s old, one given back just now as 0 or 1 s.)
 */
static void
test_trim_keeps_the_young(void **state)
{
	unsigned char *old, *young;

	(void)state;
	old = xmap(2 * MIB);
	young = xmap(4 * MIB);
	xunmap(old, 2 * MIB);
	sleep(3);
	xunmap(young, 4 * MIB);
	assert_int_equal(xmap_trim(XMAP_KEEP_SECS), 0);
	assert_int_equal(xmap_trim(2), 2 * MIB);
	assert_false(mapped(old, 2 * MIB));
	assert_true(mapped(young, 4 * MIB));
	assert_int_equal(xmap_trim(0), 4 * MIB);
	assert_false(mapped(young, 4 * MIB));
}

/* One byte written so that the compiler cannot leave it out. */
static void
poke(unsigned char *p)
{
	*(volatile unsigned char *)p = 1;
}

/* A spare is out of reach until taken again: a write to it faults. */
static void
test_spare_is_out_of_reach(void **state)
{
	unsigned char *p;
	pid_t          pid;
	int            status;

	(void)state;
	p = xmap(2 * MIB);
	poke(p);
	xunmap(p, 2 * MIB);
	assert_true(mapped(p, 2 * MIB));
	if ((pid = fork()) == 0) {
		signal(SIGSEGV, SIG_DFL); /* not cmocka's: die of it */
		poke(p + 4096);
		_exit(0);
	}
	assert_int_not_equal(pid, -1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGSEGV);

	assert_ptr_equal(xmap(2 * MIB), p);
	poke(p + 4096); /* taken again: writable */
	xunmap(p, 2 * MIB);
}

/* Below a huge page, a map given back is unmapped at once. */
static void
test_small_maps_are_not_kept(void **state)
{
	unsigned char *p;

	(void)state;
	p = xmap(64 * 1024);
	assert_true(all_zero(p, 64 * 1024));
	xunmap(p, 64 * 1024);
	assert_false(mapped(p, 64 * 1024));
	assert_int_equal(xmap_trim(0), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_spare_comes_back_zeroed, trim_all),
	    cmocka_unit_test_teardown(test_other_size_maps_anew, trim_all),
	    cmocka_unit_test_teardown(test_trim_keeps_the_young, trim_all),
	    cmocka_unit_test_teardown(test_spare_is_out_of_reach, trim_all),
	    cmocka_unit_test_teardown(test_small_maps_are_not_kept, trim_all),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
