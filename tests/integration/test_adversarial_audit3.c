/*
 * test_adversarial_audit3.c: the auditor's outputs (issue #4) at edges
 * the other audit tests do not reach: the draw-down chart of a small
 * contract.
 *
 * The tests that found bugs say so above them: where the bug is, the
 * sequence of events, and why it is one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"

/* budgetctl --json ARGS must be done; the JSON is dropped. */
#define OK(d, ...) json_decref(au_ctl_json((d), 0, __VA_ARGS__, NULL))

/* ------------------------------------------------------------------ */
/* drawdown --svg of a small contract                                  */

/*
 * BUG: client/ctl-svg.c, svg_euros wrote a tick label in whole euros:
 * a contract of EUR 12 gets a y axis stepping by EUR 2.50, and its
 * ticks at 2.50, 5, 7.50, 10 and 12.50 were labelled 2, 5, 7, 10 and 12
 * (the cents cut off), so the chart's scale said something else than its
 * lines. Each label must be its tick's value.
 */
static void
test_drawdown_svg_small_ticks(void **state)
{
	struct h_daemon         *d;
	char                     path[AU_PATH_SZ], root[16];
	char                    *svg;
	static const char *const want[] = {">0</text>", ">2.5</text>",
	    ">5</text>", ">7.5</text>", ">10</text>", ">12.5</text>"};
	size_t                   i;

	au_need_python();
	*state = d = h_daemon_up(NULL);
	OK(d, "contract", "open", "T", "--provider", "Tiny", "--framework",
	    "FW2", "--budget", "12");
	au_path(d, "t.svg", path);
	json_decref(au_ctl_json(
	    d, 0, "drawdown", "--contract", "T", "--svg", path, NULL));
	au_xml_root(path, root, sizeof(root));
	assert_string_equal(root, "svg");
	svg = au_read_file(path, NULL);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (strstr(svg, want[i]) == NULL) {
			print_error("%s\n", svg);
			free(svg);
			h_fail("drawdown --svg: no tick label %s", want[i]);
		}
	if (strstr(svg, ">7</text>") != NULL ||
	    strstr(svg, ">12</text>") != NULL) {
		free(svg);
		h_fail("drawdown --svg: a tick label lost its cents");
	}
	free(svg);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, NULL, h_teardown)
	const struct CMUnitTest tests[] = {
	    T(test_drawdown_svg_small_ticks),
	};
#undef T

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
