/*
 * test_readme.c: the README's table of error codes lists exactly the codes
 * of common/errors.c, so the manual cannot drift from the daemon.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "budget/errors.h"

static char *
slurp(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *buf;
	long  n;

	assert_non_null(fp);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	assert_true(n > 0);
	rewind(fp);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	buf[n] = '\0';
	fclose(fp);
	return (buf);
}

/*
 * The rows of the "## Error codes" section: each must name a real code,
 * and every code (but "ok") must have exactly one row.
 */
static void
test_every_code_documented(void **state)
{
	char *readme = slurp(BUDGET_SOURCE_DIR "/README.md");
	char *sect, *end, *p;
	int   seen[BUDGET_ERR__COUNT] = {0};
	int   i, code;

	(void)state;
	sect = strstr(readme, "\n## Error codes\n");
	assert_non_null(sect);
	end = strstr(sect + 1, "\n## ");
	assert_non_null(end);
	*end = '\0';
	for (p = strstr(sect, "\n| `"); p != NULL; p = strstr(p + 1, "\n| `")) {
		char   name[64];
		size_t n = strcspn(p + 4, "`");

		assert_true(n < sizeof(name));
		memcpy(name, p + 4, n);
		name[n] = '\0';
		if ((code = budget_err_from_code(name)) <= 0)
			fail_msg(
			    "README.md documents unknown error code %s", name);
		if (seen[code]++)
			fail_msg("README.md documents %s twice", name);
	}
	for (i = 1; i < BUDGET_ERR__COUNT; i++) {
		if (!seen[i])
			fail_msg("README.md has no row for error code %s",
			    budget_err_code(i));
	}
	free(readme);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_code_documented),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
