/*
 * cmd-drawdown.c: a contract's draw-down: its budget against reserved,
 * committed and paid at the end of every month of the journal's clock
 * (Europe/Brussels), from the contract's first entry to the month the
 * clock is in now, replayed from the contract's history index. Months
 * without entries carry the previous month's figures, so a chart of the
 * points has no gaps.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budget/date.h"
#include "cmd.h"
#include "store.pb-c.h"

/* A contract's life is years, not centuries. */
#define DRAWDOWN_MONTHS_MAX 1200

static int
drawdown_month(int64_t us)
{
	int      y;
	unsigned m, d;

	date_to_civil(date_today(us), &y, &m, &d);
	return (y * 12 + (int)m - 1);
}

static Budget__DrawdownPoint *
drawdown_point(struct cmd_ctx *ctx, int month, const struct contract *c)
{
	Budget__DrawdownPoint *p = cmd_alloc(ctx, sizeof(*p));

	budget__drawdown_point__init(p);
	p->month = cmd_printf(ctx, "%04d-%02d", month / 12, month % 12 + 1);
	p->budget_cents = c->budget;
	p->reserved_cents = c->reserved;
	p->committed_cents = c->committed;
	p->paid_cents = c->paid;
	return (p);
}

/* Points for the months from month to before until, each at c. */
static void
drawdown_fill(struct cmd_ctx *ctx, Budget__DrawdownResult *res, int month,
    int until, const struct contract *c)
{
	while (month < until && res->n_points < DRAWDOWN_MONTHS_MAX)
		res->points[res->n_points++] = drawdown_point(ctx, month++, c);
}

static enum budget_err
cmd_drawdown_exec(struct cmd_ctx *ctx)
{
	const Budget__DrawdownRequest *a = ctx->msg->drawdown;
	Budget__DrawdownResult        *res;
	Budgetstore__JournalEntry     *m;
	struct history_cursor          cur;
	uint64_t                       seq;
	struct contract                now, c;
	int64_t                        clock;
	int                            month = -1, mo, st;
	enum budget_err                rc;

	if ((rc = cmd_id_arg(ctx, a->contract, "contract id")))
		return (rc);
	if ((st = record_get_contract(ctx->txn, a->contract, &now)))
		return (cmd_lookup_fail(ctx, st, "contract", a->contract));
	res = cmd_alloc(ctx, sizeof(*res));
	budget__drawdown_result__init(res);
	res->contract = cmd_contract_result(ctx, &now);
	res->points =
	    cmd_alloc(ctx, DRAWDOWN_MONTHS_MAX * sizeof(*res->points));

	memset(&c, 0, sizeof(c));
	history_open(&cur, ctx->txn, HIST_CONTRACT, a->contract, 0);
	while ((seq = history_next(&cur)) != 0) {
		if ((m = cmd_journal_get(ctx, seq)) == NULL)
			break;
		mo = drawdown_month(m->time);
		/* Close the months before this entry's. */
		if (month != -1)
			drawdown_fill(ctx, res, month, mo, &c);
		month = mo;
		replay_contract_effect(m, &c);
		budgetstore__journal_entry__free_unpacked(m, NULL);
	}
	history_close(&cur);
	if (ctx->txn->err != 0)
		return (cmd_fail(ctx, BUDGET_ERR_STORAGE_ERROR, "%s",
		    store_strerror(ctx->txn->err)));
	/*
	 * On to the month the journal's clock, or the host's, is in now: a
	 * contract with no entry since March still has its lines in
	 * November, carried forward, as a controller reading it today
	 * expects.
	 */
	if (month != -1) {
		clock = journal_time(ctx->txn);
		mo = drawdown_month(clock > ctx->now ? clock : ctx->now);
		drawdown_fill(
		    ctx, res, month, (mo > month ? mo : month) + 1, &c);
	}
	ctx->resp->result_case = BUDGET__RESPONSE__RESULT_DRAWDOWN;
	ctx->resp->drawdown = res;
	return (BUDGET_OK);
}

const struct cmd_entry cmd_drawdown_entry = {
    .name = "drawdown",
    .flags = CMD_READONLY | CMD_SLOW,
    .roles = CMD_ROLES_READ,
    .exec = cmd_drawdown_exec,
};
