/*
 * test_xmap.c: unit tests of the maps verify walks the ledger with
 * (daemon/xmalloc.c): a map given back is kept as a spare and handed out
 * again, zeroed, for the same size only; small maps are not kept; and
 * xmap_trim unmaps the spares. Whether a range is still mapped is asked
 * of mincore, which fails with ENOMEM where nothing is.
 */
#include <sys/mman.h>

#include <errno.h>
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

/* Whether [p, p + len) is mapped, page by page: all of it, or none. */
static int
mapped(void *p, size_t len)
{
	unsigned char *vec;
	size_t         pages = (len + 4095) / 4096;
	int            rc;

	vec = malloc(pages);
	assert_non_null(vec);
	rc = mincore(p, len, vec);
	free(vec);
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

/* A spare of another length is not handed out; trimming unmaps both. */
static void
test_other_size_maps_anew(void **state)
{
	unsigned char *p, *q;

	(void)state;
	p = xmap(4 * MIB);
	xunmap(p, 4 * MIB);
	q = xmap(8 * MIB);
	assert_ptr_not_equal(q, p);
	assert_true(all_zero(q, 8 * MIB));
	xunmap(q, 8 * MIB);

	assert_int_equal(xmap_trim(0), 12 * MIB);
	assert_false(mapped(p, 4 * MIB));
	assert_false(mapped(q, 8 * MIB));
	assert_int_equal(xmap_trim(0), 0);
}

/* A spare given back just now outlives a trim of those kept a while. */
static void
test_trim_keeps_the_young(void **state)
{
	unsigned char *p;

	(void)state;
	p = xmap(2 * MIB);
	xunmap(p, 2 * MIB);
	assert_int_equal(xmap_trim(XMAP_KEEP_SECS), 0);
	assert_true(mapped(p, 2 * MIB));
	assert_int_equal(xmap_trim(0), 2 * MIB);
	assert_false(mapped(p, 2 * MIB));
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
	    cmocka_unit_test_teardown(test_small_maps_are_not_kept, trim_all),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
