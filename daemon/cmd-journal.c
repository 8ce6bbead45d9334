/*
 * cmd-journal.c: reading the journal: "history" of one dossier, company
 * (with its whole single undertaking) or contract, served from the history
 * index so that it costs in proportion to that entity's entries; and
 * "export" of the whole journal from a sequence number on. Both page: a
 * long history or a ten-million-entry export is many small answers, so
 * neither side ever holds more than a page.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budget/date.h"
#include "budget/rid.h"
#include "cmd.h"
#include "store.pb-c.h"

#define HISTORY_LIMIT_DEFAULT 100
#define HISTORY_LIMIT_MAX     1000
#define EXPORT_LIMIT_DEFAULT  1000
#define EXPORT_LIMIT_MAX      10000

/* The entry with sequence number seq, unpacked (free it), or NULL. */
Budgetstore__JournalEntry *
cmd_journal_get(struct cmd_ctx *ctx, uint64_t seq)
{
	Budgetstore__JournalEntry *m;
	struct store_val           v;
	uint8_t                    key[8];

	record_be64(key, seq);
	if (store_get(ctx->txn, STORE_DB_JOURNAL, key, sizeof(key), &v) !=
	    STORE_OK)
		return (NULL);
	m = budgetstore__journal_entry__unpack(NULL, v.len, v.data);
	free(v.data);
	if (m == NULL)
		ctx->txn->err = STORE_CORRUPT;
	return (m);
}

struct view_fields {
	struct cmd_ctx        *ctx;
	Budget__JournalField **f;
	size_t                 n;
};

static void
cmd_view_field_cb(const char *name, const char *value, int number, void *arg)
{
	struct view_fields   *vf = arg;
	Budget__JournalField *f = cmd_alloc(vf->ctx, sizeof(*f));

	budget__journal_field__init(f);
	f->name = PB_STR(name); /* descriptor names are static */
	f->value = cmd_strdup(vf->ctx, value);
	f->number = number;
	vf->f[vf->n++] = f;
}

/* An entry as the wire shows it: its canonical fields and its hash. */
static Budget__JournalEntryView *
cmd_entry_view(struct cmd_ctx *ctx, const Budgetstore__JournalEntry *m)
{
	Budget__JournalEntryView *v = cmd_alloc(ctx, sizeof(*v));
	struct view_fields        vf;

	budget__journal_entry_view__init(v);
	v->seq = m->seq;
	vf.ctx = ctx;
	vf.n = 0;
	vf.f = cmd_alloc(ctx,
	    budgetstore__journal_entry__descriptor.n_fields * sizeof(*vf.f));
	journal_fields(m, cmd_view_field_cb, &vf);
	v->fields = vf.f;
	v->n_fields = vf.n;
	v->hash = cmd_hex(ctx, m->hash.data, m->hash.len);
	return (v);
}

static Budget__JournalPage *
cmd_page_new(struct cmd_ctx *ctx, size_t cap)
{
	Budget__JournalPage *p = cmd_alloc(ctx, sizeof(*p));
	uint8_t              head[32];

	budget__journal_page__init(p);
	p->entries = cmd_alloc(ctx, cap * sizeof(*p->entries));
	journal_head(ctx->txn, &p->head_seq, head);
	p->head_hash = cmd_hex(ctx, head, sizeof(head));
	ctx->resp->result_case = BUDGET__RESPONSE__RESULT_JOURNAL;
	ctx->resp->journal = p;
	return (p);
}

/* One entity's index: type, id and the cursor walking it. */
struct hist_src {
	struct history_cursor cur;
	uint64_t              seq; /* the entry it points at; 0: done */
};

static void
hist_next(struct hist_src *h)
{
	h->seq = history_next(&h->cur);
}

static void
hist_open(struct cmd_ctx *ctx, struct hist_src *h, char type, const char *id,
    uint64_t after)
{
	history_open(&h->cur, ctx->txn, type, id, after);
	hist_next(h);
}

static enum budget_err
cmd_history_exec(struct cmd_ctx *ctx)
{
	const Budget__HistoryRequest *a = ctx->msg->history;
	Budget__JournalPage          *page;
	Budgetstore__JournalEntry    *m;
	struct hist_src              *src;
	struct undertaking            u;
	const char                   *why;
	char                          number[LEDGER_RID_SZ], type;
	const char                   *id, *what;
	int64_t                       since = INT64_MIN, until = INT64_MAX;
	uint32_t                      limit;
	uint64_t                      seq, last = 0;
	size_t                        nsrc, i;
	enum budget_err               rc;
	int                           given, st, exists = 1;

	given = (*a->dossier != '\0') + (*a->company != '\0') +
	    (*a->contract != '\0');
	if (given != 1)
		return (cmd_fail(ctx, BUDGET_ERR_INVALID_ARGUMENT,
		    "history needs exactly one of a dossier, a company or a "
		    "contract"));
	if (*a->since != '\0' && timestamp_parse(a->since, &since, &why) == -1)
		return (cmd_fail(
		    ctx, BUDGET_ERR_INVALID_ARGUMENT, "since: %s", why));
	if (*a->until != '\0' && timestamp_parse(a->until, &until, &why) == -1)
		return (cmd_fail(
		    ctx, BUDGET_ERR_INVALID_ARGUMENT, "until: %s", why));
	if (since > until)
		return (cmd_fail(ctx, BUDGET_ERR_INVALID_ARGUMENT,
		    "since %s is after until %s: the range is empty", a->since,
		    a->until));
	limit = a->limit == 0 ? HISTORY_LIMIT_DEFAULT : a->limit;
	if (limit > HISTORY_LIMIT_MAX)
		return (cmd_fail(ctx, BUDGET_ERR_INVALID_ARGUMENT,
		    "limit is at most %d entries a page", HISTORY_LIMIT_MAX));

	undertaking_init(&u);
	if (*a->dossier != '\0') {
		struct dossier d;

		if ((rc = cmd_id_arg(ctx, a->dossier, "dossier id")))
			return (rc);
		/* A dossier only ever refused has a history, not a record. */
		st = record_get_dossier(ctx->txn, a->dossier, &d);
		if (st != STORE_OK && st != STORE_NOTFOUND)
			return (
			    cmd_lookup_fail(ctx, st, "dossier", a->dossier));
		exists = st == STORE_OK;
		type = HIST_DOSSIER;
		id = a->dossier;
		what = "dossier";
	} else if (*a->contract != '\0') {
		struct contract k;

		if ((rc = cmd_id_arg(ctx, a->contract, "contract id")))
			return (rc);
		/* Nor a contract only ever refused (permission_denied). */
		st = record_get_contract(ctx->txn, a->contract, &k);
		if (st != STORE_OK && st != STORE_NOTFOUND)
			return (
			    cmd_lookup_fail(ctx, st, "contract", a->contract));
		exists = st == STORE_OK;
		type = HIST_CONTRACT;
		id = a->contract;
		what = "contract";
	} else {
		struct company c;

		if ((rc = cmd_rid_arg(ctx, a->company, "company", number)))
			return (rc);
		/* ...nor a company: its history is its own alone. */
		st = record_get_company(ctx->txn, number, &c);
		if (st != STORE_OK && st != STORE_NOTFOUND)
			return (cmd_lookup_fail(ctx, st, "company", number));
		exists = st == STORE_OK;
		/* Everyone ever in its single undertaking. */
		if (!exists)
			undertaking_add(&u, number);
		else if (undertaking_on(
			     ctx->txn, number, UNDERTAKING_ANY_DAY, &u))
			return (cmd_lookup_fail(
			    ctx, ctx->txn->err, "company", number));
		type = HIST_COMPANY;
		id = number;
		what = "company";
	}

	nsrc = type == HIST_COMPANY ? u.n : 1;
	src = cmd_alloc(ctx, nsrc * sizeof(*src));
	for (i = 0; i < nsrc; i++)
		hist_open(ctx, &src[i], type,
		    type == HIST_COMPANY ? u.m[i] : id, a->after);
	page = cmd_page_new(ctx, limit);
	if (type == HIST_COMPANY) {
		page->companies = cmd_alloc(ctx, u.n * sizeof(char *));
		for (i = 0; i < u.n; i++)
			page->companies[i] = cmd_strdup(ctx, u.m[i]);
		page->n_companies = u.n;
	}
	undertaking_free(&u);

	/* A merge of the sources, lowest sequence number first. */
	for (;;) {
		seq = 0;
		for (i = 0; i < nsrc; i++) {
			if (src[i].seq != 0 && (seq == 0 || src[i].seq < seq))
				seq = src[i].seq;
		}
		if (seq == 0 || ctx->txn->err != 0)
			break;
		for (i = 0; i < nsrc; i++) {
			if (src[i].seq == seq)
				hist_next(&src[i]);
		}
		if ((m = cmd_journal_get(ctx, seq)) == NULL) {
			ctx->txn->err =
			    ctx->txn->err ? ctx->txn->err : STORE_CORRUPT;
			break;
		}
		/* Times follow sequence numbers: past until, we are done. */
		if (m->time >= until) {
			budgetstore__journal_entry__free_unpacked(m, NULL);
			break;
		}
		if (m->time >= since) {
			if (page->n_entries == limit) {
				page->next = last;
				budgetstore__journal_entry__free_unpacked(
				    m, NULL);
				break;
			}
			page->entries[page->n_entries++] =
			    cmd_entry_view(ctx, m);
			last = seq;
		}
		budgetstore__journal_entry__free_unpacked(m, NULL);
	}
	for (i = 0; i < nsrc; i++)
		history_close(&src[i].cur);
	if (ctx->txn->err != 0)
		return (cmd_fail(ctx, BUDGET_ERR_STORAGE_ERROR, "%s",
		    store_strerror(ctx->txn->err)));
	if (!exists && a->after == 0 && page->n_entries == 0 && page->next == 0)
		return (cmd_lookup_fail(ctx, STORE_NOTFOUND, what, id));
	return (BUDGET_OK);
}

static enum budget_err
cmd_export_exec(struct cmd_ctx *ctx)
{
	const Budget__ExportRequest      *a = ctx->msg->export;
	const ProtobufCMessageDescriptor *d =
	    &budgetstore__journal_entry__descriptor;
	Budget__JournalPage       *page;
	Budgetstore__JournalEntry *m;
	struct store_cursor        cur;
	struct store_val           k, v;
	uint64_t                   since, until, seq;
	uint32_t                   limit;
	uint8_t                    key[8];
	unsigned                   i;

	limit = a->limit == 0 ? EXPORT_LIMIT_DEFAULT : a->limit;
	if (limit > EXPORT_LIMIT_MAX)
		return (cmd_fail(ctx, BUDGET_ERR_INVALID_ARGUMENT,
		    "limit is at most %d entries a page", EXPORT_LIMIT_MAX));
	page = cmd_page_new(ctx, a->raw ? 0 : limit);
	if (a->raw)
		page->raw = cmd_alloc(ctx, limit * sizeof(*page->raw));
	since = a->since == 0 ? 1 : a->since;
	until = a->until == 0 || a->until > page->head_seq ? page->head_seq
							   : a->until;
	/* Every field an entry can have, in order: CSV's columns. */
	page->columns = cmd_alloc(ctx, d->n_fields * sizeof(char *));
	for (i = 0; i < d->n_fields; i++)
		page->columns[page->n_columns++] = PB_STR(d->fields[i].name);

	record_be64(key, since);
	store_cursor_open(&cur, ctx->txn, STORE_DB_JOURNAL, NULL, 0);
	store_cursor_seek(&cur, key, sizeof(key));
	while (store_cursor_next(&cur, &k, &v)) {
		if (k.len != 8 || (seq = record_get_be64(k.data)) == 0) {
			/* Not a journal key: a damaged store, not the end. */
			ctx->txn->err = STORE_CORRUPT;
			break;
		}
		if (seq > until)
			break;
		if (page->n_entries + page->n_raw == limit) {
			page->next = seq;
			break;
		}
		if (a->raw) {
			/* Copied: the stored bytes live as long as the txn. */
			page->raw[page->n_raw].data = cmd_alloc(ctx, v.len);
			memcpy(page->raw[page->n_raw].data, v.data, v.len);
			page->raw[page->n_raw++].len = v.len;
			continue;
		}
		m = budgetstore__journal_entry__unpack(NULL, v.len, v.data);
		if (m == NULL) {
			ctx->txn->err = STORE_CORRUPT;
			break;
		}
		page->entries[page->n_entries++] = cmd_entry_view(ctx, m);
		budgetstore__journal_entry__free_unpacked(m, NULL);
	}
	store_cursor_close(&cur);
	if (ctx->txn->err != 0)
		return (cmd_fail(ctx, BUDGET_ERR_STORAGE_ERROR, "%s",
		    store_strerror(ctx->txn->err)));
	return (BUDGET_OK);
}

const struct cmd_entry cmd_history_entry = {
    .name = "history",
    .flags = CMD_READONLY | CMD_SLOW,
    .roles = CMD_ROLES_READ,
    .exec = cmd_history_exec,
};
const struct cmd_entry cmd_export_entry = {
    .name = "export",
    .flags = CMD_READONLY | CMD_SLOW,
    .roles = CMD_ROLES_READ,
    .exec = cmd_export_exec,
};
