/*
 * output.c: how budgetctl prints. JSON is always built with jansson (never
 * by assembling strings) and printed as one document on stdout; text output
 * is aligned "key  value" lines. Money: integer cents in JSON fields ending
 * in _cents, "1,234.56 EUR" for people; enterprise numbers "0123.456.749"
 * for people, ten digits in JSON.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budget/money.h"
#include "budget/rid.h"
#include "budgetctl.h"

/* Text helpers return rotating static buffers: up to 8 per printf. */
#define OUT_NBUFS 8

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

/*
 * Print the answer to a command: o, the JSON of its result, marked
 * "replayed" when the ledger answered from an earlier request with the same
 * id, and carrying "request_id" when the command changes the ledger, so
 * that a script can retry with it. Takes ownership of o.
 */
void
out_reply(json_t *o, const Budget__Response *resp)
{
	const char *id;

	if (o != NULL && resp->replayed)
		json_object_set_new(o, "replayed", json_true());
	if (o != NULL && ctl.cmd != NULL && ctl.cmd->mutates) {
		id = resp->request_id != NULL && *resp->request_id != '\0'
		    ? resp->request_id
		    : ctl.request_id;
		if (id != NULL)
			json_object_set_new(o, "request_id", out_str(id));
	}
	out_json(o);
}

json_t *
out_money(int64_t cents)
{
	return (json_integer((json_int_t)cents));
}

/*
 * A string from the daemon as JSON; NULL becomes null. The daemon only
 * stores UTF-8, but should a byte sequence that is not slip through,
 * jansson would refuse the whole document: print it with the offending
 * bytes as '?' rather than print nothing.
 */
json_t *
out_str(const char *s)
{
	json_t *j;
	char   *copy;
	size_t  i;

	if (s == NULL)
		return (json_null());
	if ((j = json_string(s)) != NULL)
		return (j);
	if ((copy = strdup(s)) == NULL)
		return (NULL);
	for (i = 0; copy[i] != '\0'; i++)
		if ((unsigned char)copy[i] >= 0x80)
			copy[i] = '?';
	j = json_string(copy);
	free(copy);
	return (j);
}

/* A string that proto3 cannot mark absent: empty means null here. */
json_t *
out_opt_str(const char *s)
{
	return (s == NULL || *s == '\0' ? json_null() : out_str(s));
}

/* "1,234.56 EUR". */
const char *
out_eur(int64_t cents)
{
	static char bufs[OUT_NBUFS][MONEY_BUFSZ * 2 + 8];
	static int  i;

	i = (i + 1) % OUT_NBUFS;
	snprintf(bufs[i], sizeof(bufs[i]), "%s EUR", out_amount(cents));
	return (bufs[i]);
}

/* "1,234.56", for tables whose header says the unit. */
const char *
out_amount(int64_t cents)
{
	static char bufs[OUT_NBUFS][MONEY_BUFSZ * 2];
	static int  i;

	i = (i + 1) % OUT_NBUFS;
	return (money_format_grouped(cents, bufs[i], sizeof(bufs[i])));
}

/* An enterprise number as people write it: "0123.456.749". */
const char *
out_rid(const char *number)
{
	static char bufs[OUT_NBUFS][RID_BUFSZ + 64];
	static int  i;

	i = (i + 1) % OUT_NBUFS;
	if (number == NULL)
		number = "";
	return (rid_format(number, bufs[i], sizeof(bufs[i])));
}

/* Basis points as a percentage: 5000 -> "50%", 3550 -> "35.5%". */
const char *
out_rate(uint32_t bp)
{
	static char bufs[OUT_NBUFS][24];
	static int  i;

	i = (i + 1) % OUT_NBUFS;
	if (bp % 100 == 0)
		snprintf(bufs[i], sizeof(bufs[i]), "%u%%", bp / 100);
	else if (bp % 10 == 0)
		snprintf(bufs[i], sizeof(bufs[i]), "%u.%u%%", bp / 100,
		    bp % 100 / 10);
	else
		snprintf(
		    bufs[i], sizeof(bufs[i]), "%u.%02u%%", bp / 100, bp % 100);
	return (bufs[i]);
}

const char *
out_yesno(int b)
{
	return (b ? "yes" : "no");
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
