/*
 * output.c: how budgetctl prints. JSON is always built with jansson (never
 * by assembling strings) and printed as one document on stdout; text output
 * is aligned "key: value" lines. Money: integer cents in JSON fields ending
 * in _cents, "1,234.56 EUR" for people.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "budget/money.h"
#include "budgetctl.h"

/* Print and release a JSON document. */
void
out_json(json_t *o)
{
	if (o == NULL) {
		fprintf(stderr, "budgetctl: out of memory building JSON\n");
		exit(EXIT_UNREACHABLE);
	}
	if (json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) == -1) {
		fprintf(stderr, "budgetctl: writing JSON failed\n");
		exit(EXIT_UNREACHABLE);
	}
	fputc('\n', stdout);
	json_decref(o);
}

json_t *
out_money(int64_t cents)
{
	return (json_integer((json_int_t)cents));
}

/* "1,234.56 EUR" in a rotating static buffer: up to 8 per printf. */
const char *
out_eur(int64_t cents)
{
	static char bufs[8][MONEY_BUFSZ * 2 + 8];
	static int  i;
	char        tmp[MONEY_BUFSZ * 2];

	i = (i + 1) % 8;
	money_format_grouped(cents, tmp, sizeof(tmp));
	snprintf(bufs[i], sizeof(bufs[i]), "%s EUR", tmp);
	return (bufs[i]);
}

void
out_kv(const char *key, const char *fmt, ...)
{
	va_list ap;

	printf("%-20s ", key);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}
