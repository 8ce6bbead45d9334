/*
 * deminimis.c: single undertakings and the two rules that look across
 * them: the de-minimis ceiling (R-DM, invariant I-2) and the 4-year
 * exclusion (R-EXCL).
 *
 * A single undertaking on a day is every company reachable from one
 * company through control links (and merges) that hold on that day.
 *
 * I-2, as the regulation puts it, holds on grant days: every grant, on its
 * grant day, fits under the ceiling together with every grant in that
 * day's window of every company in its single undertaking *on that day*.
 * (Aid granted before a merger stays lawful, Art. 3(8): it counts for new
 * aid, it does not make old aid unlawful. So a merger is always recorded,
 * and from then on blocks new aid that does not fit.)
 *
 * One function keeps it, dm_verify(), called after a change is written
 * inside its nested transaction: on the change's own day (a grant, or a
 * reservation that may become one) and on every grant day from it on (the
 * change may put a later grant over), the undertaking's grants in the
 * window, plus for reservations and approvals its pending reservations,
 * must fit under the ceiling in force. A link or merger is checked on
 * every grant day from its start, in every window (DM_GRANT_DAYS |
 * DM_ALL_WINDOWS): it may reveal that two companies were one undertaking
 * when one of them received aid. On a refusal the caller's nested
 * transaction is rolled back: nothing changes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budget/date.h"
#include "budget/money.h"
#include "budget/rid.h"
#include "budgetd.h"

void
undertaking_init(struct undertaking *g)
{
	memset(g, 0, sizeof(*g));
}

void
undertaking_free(struct undertaking *g)
{
	free(g->m);
	memset(g, 0, sizeof(*g));
}

int
undertaking_has(const struct undertaking *g, const char *number)
{
	size_t i;

	for (i = 0; i < g->n; i++) {
		if (strcmp(g->m[i], number) == 0)
			return (1);
	}
	return (0);
}

void
undertaking_add(struct undertaking *g, const char *number)
{
	if (undertaking_has(g, number))
		return;
	if (g->n == g->cap) {
		g->cap = g->cap ? g->cap * 2 : 8;
		g->m = xreallocarray(g->m, g->cap, sizeof(*g->m));
	}
	snprintf(g->m[g->n++], LEDGER_RID_SZ, "%s", number);
}

struct undertaking_walk {
	struct undertaking *g;
	const char         *from;
	int32_t             day;
};

static int
undertaking_link_cb(const struct link *l, void *arg)
{
	struct undertaking_walk *w = arg;
	const char              *other;

	if (w->day != UNDERTAKING_ANY_DAY &&
	    (l->since > w->day || (l->until != 0 && w->day > l->until)))
		return (0);
	other = strcmp(l->parent, w->from) == 0 ? l->child : l->parent;
	undertaking_add(w->g, other);
	return (0);
}

/*
 * The members of company's single undertaking on day (UNDERTAKING_ANY_DAY: every
 * company ever linked to it, transitively), company first. Returns the
 * transaction's error.
 */
int
undertaking_on(struct store_txn *t, const char *company, int32_t day,
    struct undertaking *g)
{
	struct undertaking_walk w;
	size_t                  i;
	char                    from[LEDGER_RID_SZ];

	undertaking_init(g);
	undertaking_add(g, company);
	w.g = g;
	w.day = day;
	/* Breadth first: the list grows while it is walked. */
	for (i = 0; i < g->n && t->err == 0; i++) {
		memcpy(from, g->m[i], LEDGER_RID_SZ);
		w.from = from;
		record_each_link(t, from, undertaking_link_cb, &w);
	}
	return (t->err);
}

struct dm_sum {
	int32_t       start, end;
	int64_t       sum;
	int           overflow;
	int           collect; /* keep the grants counted in list */
	struct grant *list;
	size_t        nlist, caplist;
};

static int
dm_sum_cb(const struct grant *gr, void *arg)
{
	struct dm_sum *s = arg;

	if (gr->date < s->start || gr->date > s->end || gr->effective == 0)
		return (0);
	if (money_add(s->sum, gr->effective, &s->sum) == -1)
		s->overflow = 1;
	if (s->collect) {
		if (s->nlist == s->caplist) {
			s->caplist = s->caplist ? s->caplist * 2 : 8;
			s->list = xreallocarray(
			    s->list, s->caplist, sizeof(*s->list));
		}
		s->list[s->nlist++] = *gr;
	}
	return (0);
}

struct dm_pend {
	const char *exclude;
	int64_t     sum;
	int         overflow;
};

static int
dm_pending_cb(const struct dossier_summary *d, void *arg)
{
	struct dm_pend *p = arg;

	if (p->exclude != NULL && strcmp(d->id, p->exclude) == 0)
		return (0);
	if (money_add(p->sum, d->pending, &p->sum) == -1)
		p->overflow = 1;
	return (0);
}

/* Pending reservations of every member (a dossier may be left out). */
int64_t
dm_pending(
    struct store_txn *t, const struct undertaking *g, const char *exclude)
{
	struct dm_pend p = {exclude, 0, 0};
	size_t         i;

	for (i = 0; i < g->n && t->err == 0; i++)
		record_each_company_summary(t, g->m[i], dm_pending_cb, &p);
	if (p.overflow)
		t->err = STORE_CORRUPT;
	return (p.sum);
}

/*
 * The position of company on day: regime, window, grants used, pending.
 * With list != NULL, *list gets the grants counted (free it). Returns
 * BUDGET_OK, NO_RULES_IN_FORCE, or STORAGE_ERROR with t->err set.
 */
enum budget_err
dm_position(struct store_txn *t, const char *company, int32_t day,
    struct dm_position *pos, struct grant **list, size_t *nlist)
{
	struct dm_sum s;
	size_t        i;

	memset(pos, 0, sizeof(*pos));
	memset(&s, 0, sizeof(s));
	if (record_regime_on(t, day, &pos->regime) != STORE_OK)
		return (t->err ? BUDGET_ERR_STORAGE_ERROR
			       : BUDGET_ERR_NO_RULES_IN_FORCE);
	ledger_dm_window(&pos->regime, day, &pos->start, &pos->end);
	if (undertaking_on(t, company, day, &pos->group) != 0)
		return (BUDGET_ERR_STORAGE_ERROR);
	s.start = pos->start;
	s.end = pos->end;
	s.collect = list != NULL;
	for (i = 0; i < pos->group.n && t->err == 0; i++)
		record_each_grant(t, pos->group.m[i], dm_sum_cb, &s);
	pos->used = s.sum;
	pos->pending = dm_pending(t, &pos->group, NULL);
	if (list != NULL) {
		*list = s.list;
		*nlist = s.nlist;
	} else
		free(s.list);
	if (t->err != 0 || s.overflow)
		return (BUDGET_ERR_STORAGE_ERROR);
	return (BUDGET_OK);
}

/* A grant as I-2 sees it: whose (an index into the undertaking), when. */
struct dm_grant {
	size_t  member;
	int32_t date;
	int64_t effective;
};

/*
 * The candidate days of dm_verify, and every grant of the undertaking's
 * members, read once: each window sums them again from memory instead of
 * walking the store once per member per window.
 */
struct dm_days {
	int32_t         *d;
	size_t           n, cap;
	int32_t          from;
	struct dm_grant *g;
	size_t           ng, capg;
	size_t           member; /* whose grants are being read */
};

/* A candidate day, once, if it lies after dd->from. */
static void
dm_days_add(struct dm_days *dd, int32_t day)
{
	size_t i;

	if (day <= dd->from)
		return;
	for (i = 0; i < dd->n; i++) {
		if (dd->d[i] == day)
			return;
	}
	if (dd->n == dd->cap) {
		dd->cap = dd->cap ? dd->cap * 2 : 16;
		dd->d = xreallocarray(dd->d, dd->cap, sizeof(*dd->d));
	}
	dd->d[dd->n++] = day;
}

static int
dm_days_grant_cb(const struct grant *gr, void *arg)
{
	struct dm_days *dd = arg;

	dm_days_add(dd, gr->date);
	if (dd->ng == dd->capg) {
		dd->capg = dd->capg ? dd->capg * 2 : 16;
		dd->g = xreallocarray(dd->g, dd->capg, sizeof(*dd->g));
	}
	dd->g[dd->ng].member = dd->member;
	dd->g[dd->ng].date = gr->date;
	dd->g[dd->ng].effective = gr->effective;
	dd->ng++;
	return (0);
}

/*
 * What g, the undertaking on one day, has been granted in s's window, from
 * the grants dd read of u, everyone ever in it. g is part of u: a link in
 * force on a day is a link.
 */
static void
dm_sum_read(struct store_txn *t, const struct dm_days *dd,
    const struct undertaking *u, const struct undertaking *g, struct dm_sum *s)
{
	struct grant gr;
	size_t       i, j;
	char        *in = xcalloc(u->n, 1);

	for (j = 0; j < g->n; j++) {
		for (i = 0; i < u->n; i++) {
			if (strcmp(u->m[i], g->m[j]) == 0) {
				in[i] = 1;
				break;
			}
		}
		/* Cannot happen (see above); if it did, ask the store. */
		if (i == u->n)
			record_each_grant(t, g->m[j], dm_sum_cb, s);
	}
	memset(&gr, 0, sizeof(gr));
	for (i = 0; i < dd->ng; i++) {
		if (!in[dd->g[i].member])
			continue;
		gr.date = dd->g[i].date;
		gr.effective = dd->g[i].effective;
		dm_sum_cb(&gr, s);
	}
	free(in);
}

/*
 * DM_OWN_FIRST: keep the candidate days from company's own first grant on
 * (it is u's member 0); 0 when it has none, and there is nothing to check.
 */
static int
dm_days_own_first(struct dm_days *dd)
{
	int32_t first = 0;
	size_t  i, n = 0;
	int     has = 0;

	for (i = 0; i < dd->ng; i++) {
		if (dd->g[i].member == 0 && (!has || dd->g[i].date < first)) {
			first = dd->g[i].date;
			has = 1;
		}
	}
	for (i = 0; i < dd->n; i++) {
		if (dd->d[i] >= first)
			dd->d[n++] = dd->d[i];
	}
	dd->n = n;
	return (has);
}

static int
dm_day_cmp(const void *a, const void *b)
{
	int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;

	return (x < y ? -1 : x > y);
}

/*
 * I-2 for company's undertaking, from day on (see the top of this file).
 * DM_PENDING also counts the undertaking's pending reservations, as a
 * reservation or an approval must; DM_ALL_WINDOWS checks every window
 * from day on, not only those that contain day (the checker);
 * DM_OWN_FIRST, only from company's own first grant on, and nothing if it
 * has none (the checker, which asks for every company: the others of its
 * undertaking answer for the windows before). Returns BUDGET_OK,
 * DEMINIMIS_CEILING_EXCEEDED or NO_RULES_IN_FORCE with why filled, or
 * STORAGE_ERROR with t->err set.
 */
enum budget_err
dm_verify(struct store_txn *t, const char *company, int32_t day, int flags,
    char *why, size_t whylen)
{
	struct undertaking u, g;
	struct dm_days     dd;
	struct dm_regime   r;
	struct dm_sum      s;
	size_t             i, k;
	int64_t            pending, total;
	char               d1[DATE_BUFSZ], d2[DATE_BUFSZ], d3[DATE_BUFSZ];
	char               m1[MONEY_BUFSZ * 2], m2[MONEY_BUFSZ * 2];
	char               m3[MONEY_BUFSZ * 2], m4[MONEY_BUFSZ * 2];
	char               rid[RID_BUFSZ];
	enum budget_err    rc = BUDGET_OK;

	/*
	 * Candidate days: the change's own day (a grant or reservation
	 * on it), then every grant day from it on.
	 */
	memset(&dd, 0, sizeof(dd));
	dd.from = day - 1;
	if (!(flags & DM_GRANT_DAYS))
		dm_days_add(&dd, day);
	if (undertaking_on(t, company, UNDERTAKING_ANY_DAY, &u) != 0) {
		undertaking_free(&u);
		free(dd.d);
		return (BUDGET_ERR_STORAGE_ERROR);
	}
	for (i = 0; i < u.n && t->err == 0; i++) {
		dd.member = i;
		record_each_grant(t, u.m[i], dm_days_grant_cb, &dd);
	}
	if ((flags & DM_OWN_FIRST) && !dm_days_own_first(&dd))
		dd.n = 0;
	if (dd.n > 1)
		qsort(dd.d, dd.n, sizeof(*dd.d), dm_day_cmp);

	for (k = 0; k < dd.n && rc == BUDGET_OK && t->err == 0; k++) {
		int32_t x = dd.d[k];

		if (record_regime_on(t, x, &r) != STORE_OK) {
			if (t->err != 0)
				break;
			snprintf(why, whylen,
			    "no de-minimis regime is in force on %s",
			    date_format(x, d1, sizeof(d1)));
			rc = BUDGET_ERR_NO_RULES_IN_FORCE;
			break;
		}
		memset(&s, 0, sizeof(s));
		ledger_dm_window(&r, x, &s.start, &s.end);
		/* Only windows that contain day can have changed. */
		if (!(flags & DM_ALL_WINDOWS) && (day < s.start || day > s.end))
			continue;
		/* Never linked to anyone: alone on every day. */
		if (u.n == 1) {
			undertaking_init(&g);
			undertaking_add(&g, company);
		} else if (undertaking_on(t, company, x, &g) != 0) {
			undertaking_free(&g);
			break;
		}
		dm_sum_read(t, &dd, &u, &g, &s);
		pending = flags & DM_PENDING ? dm_pending(t, &g, NULL) : 0;
		if (t->err == 0 &&
		    (s.overflow || money_add(s.sum, pending, &total) == -1 ||
			total > r.ceiling)) {
			money_format_grouped(total, m1, sizeof(m1));
			money_format_grouped(s.sum, m2, sizeof(m2));
			money_format_grouped(r.ceiling, m3, sizeof(m3));
			money_format_grouped(pending, m4, sizeof(m4));
			snprintf(why, whylen,
			    "the single undertaking of %s (%zu compan%s) would "
			    "reach %s EUR of de-minimis aid on %s: %s granted "
			    "in the window %s..%s%s%s%s, above the %s EUR "
			    "ceiling of %s; nothing was applied",
			    rid_format(company, rid, sizeof(rid)), g.n,
			    g.n == 1 ? "y" : "ies", m1,
			    date_format(x, d1, sizeof(d1)), m2,
			    date_format(s.start, d2, sizeof(d2)),
			    date_format(s.end, d3, sizeof(d3)),
			    flags & DM_PENDING ? " and " : "",
			    flags & DM_PENDING ? m4 : "",
			    flags & DM_PENDING
				? " reserved (this request included)"
				: "",
			    m3, r.name);
			rc = BUDGET_ERR_DEMINIMIS_CEILING_EXCEEDED;
		}
		undertaking_free(&g);
	}
	undertaking_free(&u);
	free(dd.d);
	free(dd.g);
	if (t->err != 0)
		return (BUDGET_ERR_STORAGE_ERROR);
	return (rc);
}

struct excl_walk {
	const char *exclude;
	int32_t     day;
	uint32_t    years;
	char       *why;
	size_t      whylen;
	int         hit;
};

static int
excl_cb(const struct dossier_summary *d, void *arg)
{
	struct excl_walk *w = arg;
	char              d1[DATE_BUFSZ], rid[RID_BUFSZ];

	if (w->exclude != NULL && strcmp(d->id, w->exclude) == 0)
		return (0);
	if (d->first_decision != 0 &&
	    ledger_excluded(d->first_decision, w->day, w->years)) {
		snprintf(w->why, w->whylen,
		    "company %s of this single undertaking had dossier %s "
		    "approved on %s: a new trajectory is excluded for %u "
		    "years around that decision",
		    rid_format(d->company, rid, sizeof(rid)), d->id,
		    date_format(d->first_decision, d1, sizeof(d1)), w->years);
		w->hit = 1;
		return (1);
	}
	if (d->state == DS_RESERVED) {
		snprintf(w->why, w->whylen,
		    "company %s of this single undertaking already has dossier "
		    "%s reserved; one trajectory at a time",
		    rid_format(d->company, rid, sizeof(rid)), d->id);
		w->hit = 1;
		return (1);
	}
	return (0);
}

/*
 * R-EXCL for a new trajectory of company decided (or reserved) on day:
 * refused when any member of its undertaking on day has another dossier
 * approved within years of day, or one reserved now. exclude names the
 * dossier being decided (it does not exclude itself).
 */
enum budget_err
excl_check(struct store_txn *t, const char *company, int32_t day,
    uint32_t years, const char *exclude, char *why, size_t whylen)
{
	struct undertaking g;
	struct excl_walk   w = {exclude, day, years, why, whylen, 0};
	size_t             i;

	if (undertaking_on(t, company, day, &g) != 0) {
		undertaking_free(&g);
		return (BUDGET_ERR_STORAGE_ERROR);
	}
	for (i = 0; i < g.n && !w.hit && t->err == 0; i++)
		record_each_company_summary(t, g.m[i], excl_cb, &w);
	undertaking_free(&g);
	if (t->err != 0)
		return (BUDGET_ERR_STORAGE_ERROR);
	return (w.hit ? BUDGET_ERR_EXCLUSION_PERIOD : BUDGET_OK);
}
