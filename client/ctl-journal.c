/*
 * ctl-journal.c: the auditor's view of the journal. "history" of one
 * dossier, company (with everyone ever in its single undertaking) or
 * contract, and "export" of the whole journal as JSON lines or CSV, to be
 * loaded elsewhere and re-verified without budgetd.
 *
 * Both page: the daemon answers a page at a time, and every page is
 * printed as it arrives, so that a ten-million-entry journal costs the
 * client two pages of memory, not ten million entries. A history entry
 * travels as its canonical fields (name, value as hashed, and whether the
 * value is an integer) and its hash; an export entry as the bytes budgetd
 * stored, which this client turns into the same fields with the same code
 * (canon.c) at a fraction of the cost on both sides. Printed as they
 * come, in their order, an export can be re-hashed by anyone (README,
 * "Verifying the journal yourself").
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budget/canon.h"
#include "budgetctl.h"
#include "store.pb-c.h"

/* The daemon's largest pages (cmd-journal.c). */
#define HISTORY_PAGE_MAX 1000
#define EXPORT_PAGE_MAX  10000

/*
 * Export: lines gather in a buffer of about EXPORT_FLUSH_AT bytes that is
 * handed to stdio in one fwrite. stdio's own buffer is kept smaller than
 * that, so that glibc writes most of each piece straight through instead
 * of copying it once more.
 */
#define EXPORT_FLUSH_AT  (1024 * 1024)
#define EXPORT_STDIO_BUF (64 * 1024)

/*
 * An entry's fields as an export line is built from them: a field of a
 * journal entry is one of at most 64 columns, and entries of one kind set
 * the same fields, so the JSON object of each set of fields ("shape") is
 * built once and only its values change from entry to entry.
 */
#define EXPORT_COLUMNS_MAX 64
#define EXPORT_SHAPES_MAX  256

struct export_shape {
	uint64_t present; /* bit c: the entry has column c */
	uint64_t numeric; /* ... and its value is an integer */
	json_t  *obj;     /* the fields in order, then "hash" */
	json_t  *val[EXPORT_COLUMNS_MAX];
	json_t  *hash;
};

struct export_state {
	FILE          *out;
	int            csv;
	char         **columns; /* from the first page: every field name */
	size_t         ncolumns;
	size_t         hashcol; /* where "hash" stands among them */
	struct out_buf buf;

	/* One entry's fields by column: CSV cells, JSON values. */
	const Budget__JournalField *cell[EXPORT_COLUMNS_MAX];
	json_int_t                  num[EXPORT_COLUMNS_MAX];

	struct export_shape **shapes; /* most recently used first */
	size_t                nshapes;
	int                   warned_utf8;

	/*
	 * A stored entry, decoded and dressed as the view the rest reads:
	 * its fields' values in text (offsets while it grows), hash in hex.
	 */
	Budget__JournalEntryView raw;
	Budget__JournalField     rawf[EXPORT_COLUMNS_MAX];
	Budget__JournalField    *rawp[EXPORT_COLUMNS_MAX];
	size_t                   rawoff[EXPORT_COLUMNS_MAX];
	char                    *text;
	size_t                   textlen, textcap;
	int                      toomany;
	char                     rawhash[65];
};

static const char *entry_field(const Budget__JournalEntryView *, const char *);
static json_t     *entry_value(const Budget__JournalField *);
static json_t     *entry_json(const Budget__JournalEntryView *);
static void        entry_print(const Budget__JournalEntryView *);
static int         entry_int(const Budget__JournalField *, json_int_t *);
static uint64_t    ctl_count_arg(const char *, const char *, int);
static __dead void journal_nomem(void);
static void        history_start(const Budget__JournalPage *, json_t **);
static int history_end(json_t *, uint64_t, int, const Budget__Response *);
static int export_page(struct export_state *, const Budget__JournalPage *);
static int export_columns(struct export_state *, const Budget__JournalPage *);
static int
export_match(struct export_state *, const Budget__JournalEntryView *);
static void export_csv(struct export_state *, const Budget__JournalEntryView *);
static void
export_jsonl(struct export_state *, const Budget__JournalEntryView *);
static void export_strings(struct export_state *, struct export_shape *,
    const Budget__JournalEntryView *, uint64_t, int);
static struct export_shape             *
export_shape(struct export_state *, uint64_t, uint64_t);
static void export_free(struct export_state *);

static __dead void
journal_nomem(void)
{
	fprintf(stderr, "budgetctl: out of memory\n");
	exit(EXIT_UNREACHABLE);
}

/* A count on the command line: digits only, at least min. */
static uint64_t
ctl_count_arg(const char *opt, const char *s, int min)
{
	unsigned long long v;
	char              *end;

	errno = 0;
	if (*s < '0' || *s > '9' ||
	    ((v = strtoull(s, &end, 10)), errno != 0 || *end != '\0') ||
	    v < (unsigned long long)min)
		ctl_usage_exit(ctl.cmd, "%s \"%s\": must be a whole number%s",
		    opt, s, min > 0 ? " above zero" : "");
	return ((uint64_t)v);
}

/* The value of the entry's field name, or NULL when it is not set. */
static const char *
entry_field(const Budget__JournalEntryView *e, const char *name)
{
	size_t i;

	for (i = 0; i < e->n_fields; i++)
		if (strcmp(e->fields[i]->name, name) == 0)
			return (e->fields[i]->value);
	return (NULL);
}

/*
 * An integer field as the integer it is. The value must be exactly what
 * printing the integer gives back, or a script re-hashing str(value) would
 * hash something else: anything else (an integer jansson cannot hold)
 * stays a string, which hashes the same.
 */
static int
entry_int(const Budget__JournalField *f, json_int_t *v)
{
	const char *s = f->value;
	char       *end;
	long long   n;

	if (!f->number || *s == '\0' || *s == '+' || *s == ' ' ||
	    (s[0] == '0' && s[1] != '\0') ||
	    (s[0] == '-' && (s[1] == '0' || s[1] == '\0')))
		return (-1);
	errno = 0;
	n = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return (-1);
	*v = (json_int_t)n;
	return (0);
}

static json_t *
entry_value(const Budget__JournalField *f)
{
	json_int_t v;

	if (entry_int(f, &v) == 0)
		return (json_integer(v));
	return (out_str(f->value));
}

/*
 * History's entry: the fields as sent, "actor" (who, in one string), then
 * "hash" last.
 */
static json_t *
entry_json(const Budget__JournalEntryView *e)
{
	json_t     *o = json_object();
	const char *role, *uid;
	size_t      i;
	char        actor[128];

	for (i = 0; o != NULL && i < e->n_fields; i++)
		json_object_set_new(
		    o, e->fields[i]->name, entry_value(e->fields[i]));
	/* A uid of 0 is not written (proto3 writes no defaults): root. */
	role = entry_field(e, "role");
	uid = entry_field(e, "uid");
	snprintf(actor, sizeof(actor), "%s (uid %s)",
	    role != NULL ? role : "unknown", uid != NULL ? uid : "0");
	json_object_set_new(o, "actor", json_string(actor));
	json_object_set_new(o, "hash", out_str(e->hash));
	return (o);
}

/*
 * One line of history: sequence number, time, what happened (a refusal
 * says which error, and to what command), whom it concerns, the money it
 * moves and the request it came from.
 */
static void
entry_print(const Budget__JournalEntryView *e)
{
	static const char *const subjects[][2] = {
	    {"dossier", "dossier"},
	    {"contract", "contract"},
	    {"company", "company"},
	    {"company2", "and"},
	};
	const char *kind, *err, *cmd, *v, *label;
	char        what[128];
	int64_t     cents;
	size_t      i;
	int         n = 0;

	kind = entry_field(e, "kind");
	if ((err = entry_field(e, "error")) != NULL) {
		cmd = entry_field(e, "command");
		snprintf(what, sizeof(what), "refused: %s%s%s%s", err,
		    cmd != NULL ? " (" : "", cmd != NULL ? cmd : "",
		    cmd != NULL ? ")" : "");
	} else
		snprintf(what, sizeof(what), "%s", kind != NULL ? kind : "?");
	v = entry_field(e, "time");
	printf("%7llu  %s  %-22s", (unsigned long long)e->seq,
	    v != NULL ? v : "-", what);
	for (i = 0; i < sizeof(subjects) / sizeof(subjects[0]); i++) {
		if ((v = entry_field(e, subjects[i][0])) == NULL)
			continue;
		printf("%s%s %s", n++ == 0 ? "  " : " ", subjects[i][1],
		    strncmp(subjects[i][0], "company", 7) == 0 ? out_rid(v)
							       : v);
	}
	/* The money the entry moves; a budget when it moves none. */
	if ((v = entry_field(e, "amount")) != NULL ||
	    (v = entry_field(e, "budget")) != NULL) {
		cents = strtoll(v, NULL, 10);
		label = entry_field(e, "amount") != NULL ? "" : "budget ";
		printf("  %s%s", label, out_eur(cents));
	}
	if ((v = entry_field(e, "request_id")) != NULL)
		printf("  [%s]", v);
	putchar('\n');
}

/*
 * Before the first entry: in JSON, open the document (the entries go out
 * one by one, so it is written around them here, each entry by jansson);
 * in text, say whose entries a company's history holds. *companies keeps
 * them for the JSON's end.
 */
static void
history_start(const Budget__JournalPage *p, json_t **companies)
{
	size_t i;

	*companies = NULL;
	if (ctl.json) {
		/* Only a company's history has them. */
		if (p->n_companies > 0)
			*companies = json_array();
		for (i = 0; i < p->n_companies; i++)
			json_array_append_new(
			    *companies, out_str(p->companies[i]));
		fputs("{\n  \"entries\": [", stdout);
		return;
	}
	if (p->n_companies > 1) {
		printf("single undertaking:");
		for (i = 0; i < p->n_companies; i++)
			printf(" %s", out_rid(p->companies[i]));
		putchar('\n');
	}
}

/*
 * Close the JSON document (a refusal that came after some pages had gone
 * out is part of it, so that it stays one JSON document), or in text say
 * that there was nothing, or that --limit cut it short. Returns the exit
 * status.
 */
static int
history_end(
    json_t *companies, uint64_t n, int more, const Budget__Response *err)
{
	json_t     *tail, *v;
	const char *key;
	int         rc = EXIT_DONE, json;

	if (err != NULL) {
		/* Said on stderr: stdout holds the document, which says it too. */
		json = ctl.json;
		ctl.json = 0;
		rc = ctl_refused(err);
		ctl.json = json;
	}
	if (!ctl.json) {
		if (n == 0 && err == NULL)
			printf("no entries\n");
		if (more)
			fprintf(stderr,
			    "budgetctl: history: stopped after %llu entries "
			    "(--limit); there are more\n",
			    (unsigned long long)n);
		return (rc);
	}
	tail = json_object();
	if (companies != NULL)
		json_object_set_new(tail, "companies", json_incref(companies));
	json_object_set_new(tail, "count", json_integer((json_int_t)n));
	json_object_set_new(tail, "more", json_boolean(more));
	if (err != NULL && err->error != NULL)
		json_object_set_new(tail, "error",
		    json_pack("{s:s,s:s}", "code", err->error->code, "message",
			err->error->message));
	/* The members after "entries", without the braces around them. */
	fputs(n > 0 ? "\n  ]" : "]", stdout);
	json_object_foreach(tail, key, v) {
		printf(",\n  \"%s\": ", key);
		json_dumpf(v, stdout, JSON_COMPACT | JSON_ENCODE_ANY);
	}
	fputs("\n}\n", stdout);
	json_decref(tail);
	json_decref(companies);
	return (rc);
}

int
ctl_history(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"dossier", required_argument, NULL, 'd'},
	    {"company", required_argument, NULL, 'c'},
	    {"contract", required_argument, NULL, 'k'},
	    {"since", required_argument, NULL, 's'},
	    {"until", required_argument, NULL, 'u'},
	    {"limit", required_argument, NULL, 'l'},
	    {NULL, 0, NULL, 0},
	};
	Budget__Request        req = BUDGET__REQUEST__INIT;
	Budget__HistoryRequest hr = BUDGET__HISTORY_REQUEST__INIT;
	Budget__Response      *resp;
	Budget__JournalPage   *p;
	json_t                *companies = NULL, *o;
	uint64_t               limit = UINT64_MAX, n = 0;
	size_t                 i;
	int                    ch, rc, given = 0, more = 0;

	while ((ch = ctl_getopt(argc, argv, opts)) != -1) {
		switch (ch) {
		case 'd':
			hr.dossier = optarg;
			given++;
			break;
		case 'c':
			hr.company = optarg;
			given++;
			break;
		case 'k':
			hr.contract = optarg;
			given++;
			break;
		case 's':
			hr.since = optarg;
			break;
		case 'u':
			hr.until = optarg;
			break;
		case 'l':
			limit = ctl_count_arg("--limit", optarg, 1);
			break;
		}
	}
	ctl_operands(0, "no operands");
	if (given != 1)
		ctl_usage_exit(ctl.cmd,
		    "history takes exactly one of --dossier, --company or "
		    "--contract");
	req.command_case = BUDGET__REQUEST__COMMAND_HISTORY;
	req.history = &hr;

	for (;;) {
		hr.limit = limit - n < HISTORY_PAGE_MAX ? (uint32_t)(limit - n)
							: HISTORY_PAGE_MAX;
		resp = ctl_call(&req);
		/* Once the document is open, a refusal goes inside it. */
		if (resp->error != NULL && hr.after != 0) {
			rc = history_end(companies, n, 0, resp);
			budget__response__free_unpacked(resp, NULL);
			return (rc);
		}
		if ((resp = ctl_expect(
			 resp, BUDGET__RESPONSE__RESULT_JOURNAL, &rc)) == NULL)
			return (rc);
		p = resp->journal;
		if (hr.after == 0)
			history_start(p, &companies);
		for (i = 0; i < p->n_entries; i++) {
			if (!ctl.json) {
				entry_print(p->entries[i]);
				continue;
			}
			if ((o = entry_json(p->entries[i])) == NULL)
				journal_nomem();
			fputs(n + i > 0 ? ",\n    " : "\n    ", stdout);
			json_dumpf(o, stdout, JSON_PRESERVE_ORDER);
			json_decref(o);
		}
		n += p->n_entries;
		hr.after = p->next;
		budget__response__free_unpacked(resp, NULL);
		if (hr.after == 0)
			break;
		if (n >= limit) {
			more = 1;
			break;
		}
		/* A page went out: let a reader see it while we fetch. */
		fflush(stdout);
	}
	return (history_end(companies, n, more, NULL));
}

/* 1 when budgetd's columns are the fields this client's store.proto has. */
static int
export_columns_ours(const Budget__JournalPage *p)
{
	const ProtobufCMessageDescriptor *d =
	    &budgetstore__journal_entry__descriptor;
	size_t i;

	if (p->n_columns != d->n_fields)
		return (0);
	for (i = 0; i < p->n_columns; i++)
		if (strcmp(p->columns[i], d->fields[i].name) != 0)
			return (0);
	return (1);
}

/*
 * The columns, from the first page (the others carry the same), kept for
 * the whole export; and where "hash" stands among them.
 */
static int
export_columns(struct export_state *x, const Budget__JournalPage *p)
{
	size_t i;

	if ((x->columns = calloc(p->n_columns + 1, sizeof(char *))) == NULL)
		journal_nomem();
	x->ncolumns = p->n_columns;
	x->hashcol = SIZE_MAX;
	for (i = 0; i < p->n_columns; i++) {
		if ((x->columns[i] = strdup(p->columns[i])) == NULL)
			journal_nomem();
		if (strcmp(p->columns[i], "hash") == 0)
			x->hashcol = i;
	}
	/* Raw entries become fields by this client's idea of an entry. */
	if (p->n_raw > 0 && !export_columns_ours(p)) {
		fprintf(stderr,
		    "budgetctl: export: budgetd's journal entries have "
		    "fields this budgetctl does not know: use the budgetctl "
		    "of budgetd's version\n");
		return (-1);
	}
	if (x->ncolumns == 0 || x->ncolumns > EXPORT_COLUMNS_MAX ||
	    x->hashcol == SIZE_MAX) {
		fprintf(stderr,
		    "budgetctl: export: budgetd sent %zu columns%s; this "
		    "budgetctl handles 1-%d with \"hash\" among them\n",
		    x->ncolumns,
		    x->hashcol == SIZE_MAX ? " without \"hash\"" : "",
		    EXPORT_COLUMNS_MAX);
		return (-1);
	}
	return (0);
}

/*
 * Put each field of e under its column (x->cell): both come in canonical
 * order, so one walk matches them. A field that is not a column means a
 * daemon this client does not understand: stop rather than drop it, since
 * an export without it would not re-hash.
 */
static int
export_match(struct export_state *x, const Budget__JournalEntryView *e)
{
	size_t i, c = 0;

	memset(x->cell, 0, x->ncolumns * sizeof(x->cell[0]));
	for (i = 0; i < e->n_fields; i++) {
		const char *name = e->fields[i]->name;

		/* The first byte settles most: strcmp only for the rest. */
		while (c < x->ncolumns &&
		    (x->columns[c][0] != name[0] ||
			strcmp(x->columns[c], name) != 0))
			c++;
		if (c == x->ncolumns || c == x->hashcol) {
			fprintf(stderr,
			    "budgetctl: export: entry %llu has field \"%s\" "
			    "out of the columns' order\n",
			    (unsigned long long)e->seq, name);
			return (-1);
		}
		x->cell[c++] = e->fields[i];
	}
	return (0);
}

/* One CSV row: every column, empty where the entry has no such field. */
static void
export_csv(struct export_state *x, const Budget__JournalEntryView *e)
{
	const Budget__JournalField *f;
	size_t                      c;

	for (c = 0; c < x->ncolumns; c++) {
		if (c == x->hashcol)
			out_buf_csv(&x->buf, e->hash, strlen(e->hash), c == 0);
		else if ((f = x->cell[c]) != NULL)
			out_buf_csv(
			    &x->buf, f->value, strlen(f->value), c == 0);
		else
			out_buf_csv(&x->buf, "", 0, c == 0);
	}
	out_buf_csv_end(&x->buf);
}

/* The JSON object for entries with these fields: found, or built now. */
static struct export_shape *
export_shape(struct export_state *x, uint64_t present, uint64_t numeric)
{
	struct export_shape *s;
	json_t              *v;
	size_t               i, c;

	/*
	 * Entries of a kind come in runs, and there are few kinds: the list
	 * is kept most recently used first, so the search is short.
	 */
	for (i = 0; i < x->nshapes; i++) {
		s = x->shapes[i];
		if (s->present != present || s->numeric != numeric)
			continue;
		memmove(&x->shapes[1], &x->shapes[0], i * sizeof(s));
		x->shapes[0] = s;
		return (s);
	}
	/* More shapes than kinds of entries: forget the least used. */
	if (x->nshapes == EXPORT_SHAPES_MAX) {
		s = x->shapes[--x->nshapes];
		json_decref(s->obj);
	} else if ((s = malloc(sizeof(*s))) == NULL)
		journal_nomem();
	memmove(&x->shapes[1], &x->shapes[0], x->nshapes * sizeof(s));
	x->shapes[0] = s;
	x->nshapes++;
	memset(s, 0, sizeof(*s));
	s->present = present;
	s->numeric = numeric;
	s->obj = json_object();
	for (c = 0; s->obj != NULL && c < x->ncolumns; c++) {
		if (!(present & (UINT64_C(1) << c)))
			continue;
		v = numeric & (UINT64_C(1) << c) ? json_integer(0)
						 : json_string("");
		s->val[c] = v;
		json_object_set_new(s->obj, x->columns[c], v);
	}
	s->hash = json_string("");
	json_object_set_new(s->obj, "hash", s->hash);
	if (s->obj == NULL || s->hash == NULL)
		journal_nomem();
	return (s);
}

/*
 * Set the shape's string values to e's. jansson checks UTF-8 when a string
 * is set and again as it writes it; the daemon keeps UTF-8 only, so the
 * first check is skipped (check = 0) and only a line that then fails to
 * write is set again with it (check = 1): a value that is not UTF-8 cannot
 * be carried by JSON, and is written as U+FFFD with a warning rather than
 * lose the line.
 */
static void
export_strings(struct export_state *x, struct export_shape *s,
    const Budget__JournalEntryView *e, uint64_t numeric, int check)
{
	const Budget__JournalField *f;
	size_t                      c;

	for (c = 0; c < x->ncolumns; c++) {
		if ((f = x->cell[c]) == NULL || numeric & (UINT64_C(1) << c))
			continue;
		if (!check)
			json_string_setn_nocheck(
			    s->val[c], f->value, strlen(f->value));
		else if (json_string_set(s->val[c], f->value) == -1) {
			json_string_set(s->val[c], "\xef\xbf\xbd");
			if (!x->warned_utf8++)
				fprintf(stderr,
				    "budgetctl: export: entry %llu: %s is not "
				    "UTF-8; written as U+FFFD, so that entry "
				    "will not re-hash\n",
				    (unsigned long long)e->seq, f->name);
		}
	}
	json_string_setn_nocheck(s->hash, e->hash, strlen(e->hash));
}

/*
 * One JSON line: the fields exactly as sent, then "hash", and nothing
 * else; an independent script re-hashes every key but "hash" in order.
 */
static void
export_jsonl(struct export_state *x, const Budget__JournalEntryView *e)
{
	struct export_shape *s;
	uint64_t             present = 0, numeric = 0, bit;
	size_t               c, n, room;
	int                  check = 0;

	for (c = 0; c < x->ncolumns; c++) {
		if (x->cell[c] == NULL)
			continue;
		bit = UINT64_C(1) << c;
		present |= bit;
		if (entry_int(x->cell[c], &x->num[c]) == 0)
			numeric |= bit;
	}
	s = export_shape(x, present, numeric);
	for (c = 0; c < x->ncolumns; c++)
		if (numeric & (UINT64_C(1) << c))
			json_integer_set(s->val[c], x->num[c]);
	export_strings(x, s, e, numeric, 0);
	/*
	 * Straight into the buffer, with room for a usual line so that
	 * jansson rarely has to write one twice; a longer line grows it.
	 */
	out_buf_reserve(&x->buf, 4096);
	for (;;) {
		room = x->buf.cap - x->buf.len;
		n = json_dumpb(s->obj, x->buf.p + x->buf.len, room,
		    JSON_COMPACT | JSON_PRESERVE_ORDER);
		if (n == 0 && !check++) {
			export_strings(x, s, e, numeric, 1);
			continue;
		}
		if (n == 0)
			journal_nomem();
		if (n < room)
			break;
		out_buf_reserve(&x->buf, n + 1);
	}
	x->buf.len += n;
	out_buf_put(&x->buf, "\n", 1);
}

static void
export_raw_field_cb(const char *name, const char *value, int number, void *arg)
{
	struct export_state  *x = arg;
	Budget__JournalField *f;
	size_t                n = strlen(value) + 1;

	if (x->raw.n_fields == EXPORT_COLUMNS_MAX) {
		x->toomany = 1;
		return;
	}
	if (x->textlen + n > x->textcap) {
		while (x->textlen + n > x->textcap)
			x->textcap = x->textcap ? x->textcap * 2 : 4096;
		if ((x->text = realloc(x->text, x->textcap)) == NULL)
			journal_nomem();
	}
	memcpy(x->text + x->textlen, value, n);
	x->rawoff[x->raw.n_fields] = x->textlen;
	x->textlen += n;
	f = &x->rawf[x->raw.n_fields++];
	f->name = (char *)(uintptr_t)name; /* descriptor names are static */
	f->number = number;
}

/*
 * Stored entry b as x->raw; -1 when it does not decode, or holds fields
 * this budgetctl does not know: written without them, it would not
 * re-hash.
 */
static int
export_raw(struct export_state *x, const ProtobufCBinaryData *b)
{
	static const char          hex[] = "0123456789abcdef";
	Budgetstore__JournalEntry *m;
	size_t                     i;

	if (x->raw.fields == NULL) {
		budget__journal_entry_view__init(&x->raw);
		for (i = 0; i < EXPORT_COLUMNS_MAX; i++) {
			budget__journal_field__init(&x->rawf[i]);
			x->rawp[i] = &x->rawf[i];
		}
		x->raw.fields = x->rawp;
	}
	if ((m = budgetstore__journal_entry__unpack(NULL, b->len, b->data)) ==
	    NULL) {
		fprintf(stderr,
		    "budgetctl: export: budgetd sent an entry "
		    "that does not decode\n");
		return (-1);
	}
	x->raw.seq = m->seq;
	x->raw.n_fields = 0;
	x->textlen = 0;
	x->toomany = 0;
	journal_fields(m, export_raw_field_cb, x);
	if (m->base.n_unknown_fields > 0 || m->hash.len != 32 || x->toomany) {
		fprintf(stderr,
		    "budgetctl: export: entry %llu has fields this budgetctl "
		    "does not know: use the budgetctl of budgetd's version\n",
		    (unsigned long long)m->seq);
		budgetstore__journal_entry__free_unpacked(m, NULL);
		return (-1);
	}
	for (i = 0; i < x->raw.n_fields; i++)
		x->rawf[i].value = x->text + x->rawoff[i];
	for (i = 0; i < 32; i++) {
		x->rawhash[2 * i] = hex[m->hash.data[i] >> 4];
		x->rawhash[2 * i + 1] = hex[m->hash.data[i] & 0xf];
	}
	x->rawhash[64] = '\0';
	x->raw.hash = x->rawhash;
	budgetstore__journal_entry__free_unpacked(m, NULL);
	return (0);
}

/* One entry out; -1 when it cannot be (a bad entry). */
static int
export_entry(struct export_state *x, const Budget__JournalEntryView *e)
{
	if (export_match(x, e) == -1)
		return (-1);
	if (x->csv)
		export_csv(x, e);
	else
		export_jsonl(x, e);
	return (0);
}

/*
 * Write a page; -1 when it cannot be (stdout failed, or a bad entry). A
 * page holds entries as stored (raw), or as fields from a budgetd that
 * predates raw pages.
 */
static int
export_page(struct export_state *x, const Budget__JournalPage *p)
{
	size_t i;

	for (i = 0; i < p->n_entries + p->n_raw; i++) {
		if (i < p->n_entries) {
			if (export_entry(x, p->entries[i]) == -1)
				return (-1);
		} else if (export_raw(x, &p->raw[i - p->n_entries]) == -1 ||
		    export_entry(x, &x->raw) == -1)
			return (-1);
		if (x->buf.len >= EXPORT_FLUSH_AT &&
		    out_buf_flush(&x->buf, x->out) == -1)
			goto fail;
	}
	if (out_buf_flush(&x->buf, x->out) == 0)
		return (0);
fail:
	fprintf(stderr, "budgetctl: export: writing: %s\n", strerror(errno));
	return (-1);
}

static void
export_free(struct export_state *x)
{
	size_t i;

	for (i = 0; i < x->nshapes; i++) {
		json_decref(x->shapes[i]->obj);
		free(x->shapes[i]);
	}
	free(x->shapes);
	for (i = 0; i < x->ncolumns; i++)
		free(x->columns[i]);
	free(x->columns);
	free(x->text);
	out_buf_free(&x->buf);
}

/*
 * The export asks for the next page before it writes this one, so that
 * the daemon reads while we write. Its end is the head as it was when the
 * export began: entries appended meanwhile belong to the next export, and
 * the last hash written is the head hash of that moment.
 */
int
ctl_export(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"format", required_argument, NULL, 'f'},
	    {"since", required_argument, NULL, 's'},
	    {NULL, 0, NULL, 0},
	};
	Budget__Request       req = BUDGET__REQUEST__INIT;
	Budget__ExportRequest er = BUDGET__EXPORT_REQUEST__INIT;
	Budget__Response     *resp;
	Budget__JournalPage  *p;
	struct ctl_arena     *arena;
	struct export_state   x;
	size_t                c;
	int                   ch, rc = EXIT_DONE, pending;

	memset(&x, 0, sizeof(x));
	x.out = stdout;
	while ((ch = ctl_getopt(argc, argv, opts)) != -1) {
		switch (ch) {
		case 'f':
			if (strcmp(optarg, "csv") == 0)
				x.csv = 1;
			else if (strcmp(optarg, "jsonl") != 0)
				ctl_usage_exit(ctl.cmd,
				    "--format \"%s\": must be jsonl or csv",
				    optarg);
			break;
		case 's':
			er.since = ctl_count_arg("--since", optarg, 1);
			break;
		}
	}
	ctl_operands(0, "no operands");
	if ((x.shapes = calloc(EXPORT_SHAPES_MAX, sizeof(*x.shapes))) == NULL)
		journal_nomem();
	setvbuf(stdout, NULL, _IOFBF, EXPORT_STDIO_BUF);
	req.command_case = BUDGET__REQUEST__COMMAND_EXPORT;
	req.export = &er;
	er.limit = EXPORT_PAGE_MAX;
	er.raw = 1;

	arena = ctl_arena_new();
	ctl_send(&req);
	for (pending = 1; pending;) {
		resp = ctl_recv_arena(arena);
		if (ctl_check(resp, BUDGET__RESPONSE__RESULT_JOURNAL, &rc) ==
		    -1)
			break;
		p = resp->journal;
		/* Ask for the next page now: the daemon reads as we write. */
		if ((pending = p->next != 0)) {
			er.since = p->next;
			if (x.columns == NULL)
				er.until = p->head_seq;
			ctl_send(&req);
		}
		if (x.columns == NULL) {
			if (export_columns(&x, p) == -1) {
				rc = EXIT_UNREACHABLE;
				break;
			}
			for (c = 0; x.csv && c < x.ncolumns; c++)
				out_buf_csv(&x.buf, x.columns[c],
				    strlen(x.columns[c]), c == 0);
			if (x.csv)
				out_buf_csv_end(&x.buf);
			/*
			 * Later refusals must not land inside the data on
			 * stdout, whatever --json says: stderr from here on.
			 */
			ctl.json = 0;
		}
		/* The page stays in the arena until the next one replaces it. */
		if (export_page(&x, p) == -1) {
			rc = EXIT_UNREACHABLE;
			break;
		}
	}
	if (fflush(stdout) != 0 && rc == EXIT_DONE) {
		fprintf(stderr, "budgetctl: export: writing: %s\n",
		    strerror(errno));
		rc = EXIT_UNREACHABLE;
	}
	export_free(&x);
	ctl_arena_free(arena);
	return (rc);
}
