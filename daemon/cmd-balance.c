/*
 * cmd-balance.c: "balance --as-of": a contract's balances, or a company's
 * de-minimis position, as they stood after a given journal entry or at a
 * given time. Computed by replaying that entity's entries from its history
 * index (replay.c), not from the stored totals, so the answer is what the
 * journal says happened.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budget/date.h"
#include "cmd.h"
#include "store.pb-c.h"

/*
 * Walk one entity's history index up to seq/time, calling back per entry.
 * Returns how many entries that happened (not refusals) it saw: a
 * contract or company only ever refused by then did not exist yet.
 */
static int
balance_walk(struct cmd_ctx *ctx, char type, const char *id, uint64_t upto,
    int64_t at, void (*cb)(const Budgetstore__JournalEntry *, void *),
    void *arg, uint64_t *lastseq, int64_t *lasttime)
{
	struct history_cursor      cur;
	Budgetstore__JournalEntry *m;
	uint64_t                   seq;
	int                        n = 0;

	history_open(&cur, ctx->txn, type, id, 0);
	while ((seq = history_next(&cur)) != 0) {
		if (seq > upto)
			break;
		if ((m = cmd_journal_get(ctx, seq)) == NULL)
			break;
		if (m->time > at) {
			budgetstore__journal_entry__free_unpacked(m, NULL);
			break;
		}
		cb(m, arg);
		if (seq > *lastseq) {
			*lastseq = seq;
			*lasttime = m->time;
		}
		if (strcmp(m->kind, "refused") != 0)
			n++;
		budgetstore__journal_entry__free_unpacked(m, NULL);
	}
	history_close(&cur);
	return (n);
}

static void
balance_none_cb(const Budgetstore__JournalEntry *m, void *arg)
{
	(void)m;
	(void)arg;
}

static void
balance_contract_cb(const Budgetstore__JournalEntry *m, void *arg)
{
	replay_contract_effect(m, arg);
}

struct balance_company {
	struct replay *rp;
	int            bad;
	/* Entries of several companies: apply each sequence number once,
	 * in order. */
	Budgetstore__JournalEntry **e;
	size_t                      n, cap;
};

static void
balance_collect_cb(const Budgetstore__JournalEntry *m, void *arg)
{
	struct balance_company *bc = arg;
	size_t                  len;
	uint8_t                *buf;

	if (bc->n == bc->cap) {
		bc->cap = bc->cap ? bc->cap * 2 : 64;
		bc->e = xreallocarray(bc->e, bc->cap, sizeof(*bc->e));
	}
	/* Keep a copy: the caller frees m. */
	len = budgetstore__journal_entry__get_packed_size(m);
	buf = xmalloc(len > 0 ? len : 1);
	budgetstore__journal_entry__pack(m, buf);
	bc->e[bc->n++] = budgetstore__journal_entry__unpack(NULL, len, buf);
	free(buf);
}

static int
balance_seq_cmp(const void *a, const void *b)
{
	const Budgetstore__JournalEntry *x =
	    *(Budgetstore__JournalEntry *const *)a;
	const Budgetstore__JournalEntry *y =
	    *(Budgetstore__JournalEntry *const *)b;

	return (x->seq < y->seq ? -1 : x->seq > y->seq);
}

/* The regimes the ledger had at an as-of point, and the latest on day. */
struct balance_regime {
	struct cmd_ctx   *ctx;
	int32_t           day;
	uint64_t          upto;
	int64_t           at;
	struct dm_regime *best;
	int               found, failed;
};

static int
balance_regime_cb(const void *p, void *arg)
{
	const struct dm_regime    *r = p;
	struct balance_regime     *br = arg;
	Budgetstore__JournalEntry *m;
	int                        later = 0;

	if (r->from > br->day || (br->found && r->from <= br->best->from))
		return (0);
	/* Loaded after the point asked about: the ledger had not got it. */
	if (r->loaded_seq > br->upto)
		return (0);
	if (br->at != INT64_MAX && r->loaded_seq != 0) {
		if ((m = cmd_journal_get(br->ctx, r->loaded_seq)) == NULL) {
			br->failed = 1;
			return (1);
		}
		later = m->time > br->at;
		budgetstore__journal_entry__free_unpacked(m, NULL);
		if (later)
			return (0);
	}
	*br->best = *r;
	br->found = 1;
	return (0);
}

/*
 * The regime in force on day as the ledger stood at entry upto or time
 * at: among those loaded by then, not every one loaded now.
 */
static int
balance_regime_on(struct cmd_ctx *ctx, int32_t day, uint64_t upto, int64_t at,
    struct dm_regime *r)
{
	struct balance_regime br = {ctx, day, upto, at, r, 0, 0};

	if (record_each_rule(ctx->txn, 'R', balance_regime_cb, &br) != 0)
		return (ctx->txn->err);
	if (br.failed)
		return (STORE_CORRUPT);
	return (br.found ? STORE_OK : STORE_NOTFOUND);
}

/*
 * The day of the ledger's moment after entry upto: that entry's, or the
 * head's when upto is beyond it. -1 when it cannot be read.
 */
static int
balance_seq_day(struct cmd_ctx *ctx, uint64_t upto, int32_t *day)
{
	Budgetstore__JournalEntry *m;
	uint8_t                    hash[32];
	uint64_t                   head;

	journal_head(ctx->txn, &head, hash);
	if (ctx->txn->err != 0)
		return (-1);
	if ((m = cmd_journal_get(ctx, upto < head ? upto : head)) == NULL) {
		/* Not there, below the head: a gap in the journal. */
		if (ctx->txn->err == 0)
			ctx->txn->err = STORE_CORRUPT;
		return (-1);
	}
	*day = date_today(m->time);
	budgetstore__journal_entry__free_unpacked(m, NULL);
	return (0);
}

static enum budget_err
cmd_balance_exec(struct cmd_ctx *ctx)
{
	const Budget__BalanceRequest *a = ctx->msg->balance;
	Budget__BalanceResult        *res;
	struct contract               c;
	struct undertaking            u;
	struct balance_company        bc;
	struct dm_regime              r;
	struct dm_position            pos;
	const char                   *why;
	char            number[LEDGER_RID_SZ], buf[TIMESTAMP_BUFSZ];
	uint64_t        upto = UINT64_MAX, lastseq = 0;
	int64_t         at = INT64_MAX, lasttime = 0;
	int32_t         day;
	struct grant   *list = NULL;
	size_t          nlist = 0;
	size_t          i;
	enum budget_err rc;
	int             st;

	if ((*a->contract != '\0') == (*a->company != '\0'))
		return (cmd_fail(ctx, BUDGET_ERR_INVALID_ARGUMENT,
		    "balance needs a contract or a company"));
	if ((a->seq != 0) == (*a->at != '\0'))
		return (cmd_fail(ctx, BUDGET_ERR_INVALID_ARGUMENT,
		    "as-of is a journal sequence number or a time"));
	if (a->seq != 0)
		upto = a->seq;
	else if (timestamp_parse(a->at, &at, &why) == -1)
		return (cmd_fail(
		    ctx, BUDGET_ERR_INVALID_ARGUMENT, "as-of: %s", why));
	res = cmd_alloc(ctx, sizeof(*res));
	budget__balance_result__init(res);

	if (*a->contract != '\0') {
		if ((rc = cmd_id_arg(ctx, a->contract, "contract id")))
			return (rc);
		if ((st = record_get_contract(ctx->txn, a->contract, &c)))
			return (
			    cmd_lookup_fail(ctx, st, "contract", a->contract));
		memset(&c, 0, sizeof(c));
		snprintf(c.id, sizeof(c.id), "%s", a->contract);
		if (balance_walk(ctx, HIST_CONTRACT, a->contract, upto, at,
			balance_contract_cb, &c, &lastseq, &lasttime) == 0)
			return (cmd_fail(ctx, BUDGET_ERR_NOT_FOUND,
			    "contract %s was not open yet then", a->contract));
		/* Provider and framework never change: take them as stored. */
		{
			struct contract now;

			record_get_contract(ctx->txn, a->contract, &now);
			memcpy(c.provider, now.provider, sizeof(c.provider));
			memcpy(c.framework, now.framework, sizeof(c.framework));
		}
		res->contract = cmd_contract_result(ctx, &c);
	} else {
		if ((rc = cmd_rid_arg(ctx, a->company, "company", number)))
			return (rc);
		/* The company itself must have been added by then. */
		if (balance_walk(ctx, HIST_COMPANY, number, upto, at,
			balance_none_cb, NULL, &lastseq, &lasttime) == 0) {
			if (ctx->txn->err != 0)
				return (cmd_lookup_fail(
				    ctx, ctx->txn->err, "company", number));
			return (cmd_fail(ctx, BUDGET_ERR_NOT_FOUND,
			    "company %s was not added yet then", number));
		}
		lastseq = 0;
		lasttime = 0;
		if (undertaking_on(ctx->txn, number, UNDERTAKING_ANY_DAY, &u))
			return (cmd_lookup_fail(
			    ctx, ctx->txn->err, "company", number));
		memset(&bc, 0, sizeof(bc));
		for (i = 0; i < u.n; i++)
			balance_walk(ctx, HIST_COMPANY, u.m[i], upto, at,
			    balance_collect_cb, &bc, &lastseq, &lasttime);
		undertaking_free(&u);
		if (lastseq == 0) {
			free(bc.e);
			return (cmd_fail(ctx, BUDGET_ERR_NOT_FOUND,
			    "company %s had no journal entries then", number));
		}
		qsort(bc.e, bc.n, sizeof(*bc.e), balance_seq_cmp);
		bc.rp = replay_new(64, bc.n, bc.n, bc.n);
		replay_partial(bc.rp);
		for (i = 0; i < bc.n; i++) {
			char w[256];

			/* An entry indexed under two members comes twice. */
			if (i > 0 && bc.e[i]->seq == bc.e[i - 1]->seq)
				continue;
			replay_apply(bc.rp, bc.e[i], NULL, w, sizeof(w));
		}
		/*
		 * The window's day: --on, else the day of the moment asked
		 * about, not of the undertaking's last entry before it,
		 * which may be years earlier.
		 */
		if (*a->on != '\0') {
			if ((rc = cmd_date_arg(ctx, a->on, "on", &day)))
				goto out;
		} else if (a->seq == 0)
			day = date_today(at);
		else if (balance_seq_day(ctx, upto, &day) == -1) {
			rc = cmd_lookup_fail(
			    ctx, ctx->txn->err, "journal entry", "as-of");
			goto out;
		}
		if (balance_regime_on(ctx, day, upto, at, &r) != STORE_OK) {
			rc = cmd_fail(ctx, BUDGET_ERR_NO_RULES_IN_FORCE,
			    "no de-minimis regime is in force on %s",
			    date_format(day, buf, sizeof(buf)));
			goto out;
		}
		replay_position(bc.rp, number, day, &r, &pos, &list, &nlist);
		res->deminimis =
		    cmd_position_result(ctx, number, day, &pos, list, nlist);
		free(list);
		undertaking_free(&pos.group);
		rc = BUDGET_OK;
	out:
		for (i = 0; i < bc.n; i++)
			budgetstore__journal_entry__free_unpacked(
			    bc.e[i], NULL);
		free(bc.e);
		replay_free(bc.rp);
		if (rc != BUDGET_OK)
			return (rc);
	}
	res->seq = lastseq;
	res->at = cmd_strdup(ctx, timestamp_format(lasttime, buf, sizeof(buf)));
	ctx->resp->result_case = BUDGET__RESPONSE__RESULT_BALANCE;
	ctx->resp->balance = res;
	return (BUDGET_OK);
}

const struct cmd_entry cmd_balance_entry = {
    .name = "balance",
    .flags = CMD_READONLY | CMD_SLOW,
    .roles = CMD_ROLES_READ,
    .exec = cmd_balance_exec,
};
