/*
 * output.c: how budgetctl prints. JSON is always built with jansson (never
 * by assembling strings) and printed as one document on stdout; text output
 * is aligned "key  value" lines. Money: integer cents in JSON fields ending
 * in _cents, "1,234.56 EUR" for people; enterprise numbers "0123.456.749"
 * for people, ten digits in JSON. Also the two shapes that several
 * commands print: text tables, and CSV (RFC 4180, through libcsv) built in
 * a buffer that goes to stdio in large pieces.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <csv.h>

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

/*
 * The width of a cell in characters, not bytes, so that "Sécurité NV"
 * lines up: count the bytes that do not continue a UTF-8 sequence.
 */
size_t
out_width(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return (n);
}

static __dead void
out_nomem(void)
{
	fprintf(stderr, "budgetctl: out of memory\n");
	exit(EXIT_UNREACHABLE);
}

static void *
out_xreallocarray(void *p, size_t n, size_t size)
{
	if ((p = reallocarray(p, n, size)) == NULL)
		out_nomem();
	return (p);
}

static char *
out_xstrdup(const char *s)
{
	char *p;

	if ((p = strdup(s != NULL ? s : "")) == NULL)
		out_nomem();
	return (p);
}

/* Cells row by row; a row of NULL cells is a rule. */
struct out_table {
	size_t  ncols, nrows, cap;
	char  **cells;
	size_t *width;
	char   *align;
};

struct out_table *
out_table_new(size_t ncols, const char *const *head, const char *align)
{
	struct out_table *t;
	size_t            i;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		out_nomem();
	t->ncols = ncols;
	t->width = out_xreallocarray(NULL, ncols, sizeof(*t->width));
	t->align = out_xstrdup(align);
	for (i = 0; i < ncols; i++)
		t->width[i] = 0;
	out_table_row(t, head);
	return (t);
}

static void
out_table_add(struct out_table *t, const char *const *cells)
{
	size_t i, w;

	if (t->nrows == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 16;
		t->cells = out_xreallocarray(
		    t->cells, t->cap * t->ncols, sizeof(char *));
	}
	for (i = 0; i < t->ncols; i++) {
		t->cells[t->nrows * t->ncols + i] =
		    cells != NULL ? out_xstrdup(cells[i]) : NULL;
		if (cells != NULL && (w = out_width(cells[i])) > t->width[i])
			t->width[i] = w;
	}
	t->nrows++;
}

/* A row of cells, copied. */
void
out_table_row(struct out_table *t, const char *const *cells)
{
	out_table_add(t, cells);
}

/* A line of dashes under every column, before a total. */
void
out_table_rule(struct out_table *t)
{
	out_table_add(t, NULL);
}

/* Print the table, the first row being the header, and free it. */
void
out_table_print(struct out_table *t)
{
	const char *c;
	size_t      r, i, pad, k;

	for (r = 0; r < t->nrows; r++) {
		for (i = 0; i < t->ncols; i++) {
			c = t->cells[r * t->ncols + i];
			if (c == NULL) {
				for (k = 0; k < t->width[i]; k++)
					putchar('-');
			} else {
				pad = t->width[i] - out_width(c);
				/* No trailing blanks after the last column. */
				if (t->align[i] == 'r')
					printf("%*s%s", (int)pad, "", c);
				else if (i + 1 < t->ncols)
					printf("%s%*s", c, (int)pad, "");
				else
					fputs(c, stdout);
			}
			if (i + 1 < t->ncols)
				fputs("  ", stdout);
			free(t->cells[r * t->ncols + i]);
		}
		putchar('\n');
	}
	free(t->cells);
	free(t->width);
	free(t->align);
	free(t);
}

/* Room for n more bytes at b->p + b->len. */
void
out_buf_reserve(struct out_buf *b, size_t n)
{
	if (b->len + n > b->cap) {
		while (b->len + n > b->cap)
			b->cap = b->cap ? b->cap * 2 : 65536;
		b->p = out_xreallocarray(b->p, b->cap, 1);
	}
}

void
out_buf_put(struct out_buf *b, const char *s, size_t n)
{
	out_buf_reserve(b, n);
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

/*
 * One CSV field, preceded by a comma unless it is the first of its row.
 * Quoted (libcsv doubles the quotes inside) only when RFC 4180 requires
 * it, for a comma, a quote or a line break, or when a spreadsheet would
 * otherwise eat leading or trailing blanks: bare numbers stay numbers.
 */
void
out_buf_csv(struct out_buf *b, const char *s, size_t n, int first)
{
	size_t i, need;
	int    quote = n > 0 && (s[0] == ' ' || s[n - 1] == ' ');

	if (!first)
		out_buf_put(b, ",", 1);
	for (i = 0; i < n && !quote; i++)
		if (s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n')
			quote = 1;
	if (!quote) {
		out_buf_put(b, s, n);
		return;
	}
	/* csv_write says how much it needs: room first, then write. */
	need = csv_write(NULL, 0, s, n);
	out_buf_reserve(b, need);
	b->len += csv_write(b->p + b->len, b->cap - b->len, s, n);
}

/* The end of a CSV record: CRLF, as RFC 4180 has it. */
void
out_buf_csv_end(struct out_buf *b)
{
	out_buf_put(b, "\r\n", 2);
}

/* Hand the buffer to fp and empty it; -1 when the write failed. */
int
out_buf_flush(struct out_buf *b, FILE *fp)
{
	size_t n = b->len;

	b->len = 0;
	if (n > 0 && fwrite(b->p, 1, n, fp) != n)
		return (-1);
	return (ferror(fp) ? -1 : 0);
}

void
out_buf_free(struct out_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}
