/*
 * check.c: the checker behind "verify". It trusts nothing that is stored
 * as a total: it recomputes every contract's reserved, committed and paid
 * from the dossiers, every dossier's granted amount from its grants, and
 * compares; it checks I-1 on every contract, I-2 on every undertaking with
 * a grant, the expiry index against the reservations, and the journal's
 * hash chain (I-4) from the first entry to the head. Tests run it after
 * every step.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budget/date.h"
#include "budgetd.h"
#include "store.pb-c.h"

/* Enough to see a pattern; more would only hide the first one. */
#define CHECK_MAX_PROBLEMS 100

struct check_sum {
	char     id[LEDGER_ID_MAX + 1];
	int64_t  reserved, committed, paid;
	uint32_t ndossiers;
};

struct check_state {
	struct replay       *rp;
	struct store_txn    *t;
	struct check_report *r;
	struct check_sum    *sums;
	size_t               nsums, capsums;
};

static void check_problem(struct check_report *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
check_problem(struct check_report *r, const char *fmt, ...)
{
	va_list ap;
	char   *s;

	r->ok = 0;
	if (r->nproblems == CHECK_MAX_PROBLEMS)
		return;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) == -1)
		fatal("check_problem: vasprintf");
	va_end(ap);
	r->problems =
	    xreallocarray(r->problems, r->nproblems + 1, sizeof(*r->problems));
	r->problems[r->nproblems++] = s;
}

static void
check_problem_cb(void *arg, const char *text)
{
	check_problem(arg, "I-3: %s", text);
}

void
check_report_free(struct check_report *r)
{
	size_t i;

	for (i = 0; i < r->nproblems; i++)
		free(r->problems[i]);
	free(r->problems);
	memset(r, 0, sizeof(*r));
}

static struct check_sum *
check_sum_for(struct check_state *cs, const char *contract)
{
	size_t i;

	for (i = 0; i < cs->nsums; i++) {
		if (strcmp(cs->sums[i].id, contract) == 0)
			return (&cs->sums[i]);
	}
	if (cs->nsums == cs->capsums) {
		cs->capsums = cs->capsums ? cs->capsums * 2 : 32;
		cs->sums =
		    xreallocarray(cs->sums, cs->capsums, sizeof(*cs->sums));
	}
	memset(&cs->sums[cs->nsums], 0, sizeof(cs->sums[0]));
	snprintf(
	    cs->sums[cs->nsums].id, sizeof(cs->sums[0].id), "%s", contract);
	return (&cs->sums[cs->nsums++]);
}

struct check_grants {
	const struct dossier *d;
	int64_t               effective;
	size_t                found;
};

static int
check_dossier_grant_cb(const struct grant *g, void *arg)
{
	struct check_grants *cg = arg;
	size_t               i;

	for (i = 0; i < cg->d->ngrants; i++) {
		if (cg->d->grants[i] == g->id) {
			cg->effective += g->effective;
			cg->found++;
		}
	}
	return (0);
}

static int
check_dossier_cb(const struct dossier *d, void *arg)
{
	struct check_state  *cs = arg;
	struct check_report *r = cs->r;
	struct check_sum    *s = check_sum_for(cs, d->contract);
	struct check_grants  cg = {d, 0, 0};
	struct company       c;
	int                  open;

	r->ndossiers++;
	s->reserved += d->pending;
	s->committed += d->granted - d->paid;
	s->paid += d->paid;
	s->ndossiers++;

	if (d->pending < 0 || d->granted < 0 || d->paid < 0 ||
	    d->paid > d->granted)
		check_problem(r,
		    "dossier %s: pending %lld, granted %lld, paid "
		    "%lld do not make sense",
		    d->id, (long long)d->pending, (long long)d->granted,
		    (long long)d->paid);
	switch (d->state) {
	case DS_RESERVED:
		if (d->pending != d->subsidy || d->granted != 0)
			check_problem(r,
			    "dossier %s: reserved but pending %lld "
			    "!= subsidy %lld or granted %lld",
			    d->id, (long long)d->pending, (long long)d->subsidy,
			    (long long)d->granted);
		break;
	case DS_CANCELLED:
	case DS_EXPIRED:
		if (d->pending != 0 || d->granted != 0 || d->paid != 0)
			check_problem(r, "dossier %s: %s but holds money",
			    d->id, ledger_state_name(d->state));
		break;
	case DS_APPROVED:
	case DS_COMPLETED:
		if (d->granted != d->subsidy)
			check_problem(r,
			    "dossier %s: granted %lld != subsidy "
			    "%lld",
			    d->id, (long long)d->granted,
			    (long long)d->subsidy);
		if (d->state == DS_COMPLETED && d->pending != 0)
			check_problem(r,
			    "dossier %s: completed with a pending "
			    "amendment",
			    d->id);
		break;
	case DS_CLOSED:
	case DS_WITHDRAWN:
		if (d->pending != 0 || d->granted != d->paid)
			check_problem(r,
			    "dossier %s: %s but granted %lld != "
			    "paid %lld or pending %lld",
			    d->id, ledger_state_name(d->state),
			    (long long)d->granted, (long long)d->paid,
			    (long long)d->pending);
		break;
	default:
		check_problem(
		    r, "dossier %s: unknown state %d", d->id, (int)d->state);
	}
	/* The grants of a dossier add up to what it has been granted. */
	record_each_grant(cs->t, d->company, check_dossier_grant_cb, &cg);
	if (cg.found != d->ngrants || cg.effective != d->granted)
		check_problem(r,
		    "dossier %s: %zu of %zu grants found, adding up "
		    "to %lld, granted says %lld",
		    d->id, cg.found, d->ngrants, (long long)cg.effective,
		    (long long)d->granted);
	open = d->pending > 0;
	if (open && d->expires_at == 0)
		check_problem(
		    r, "dossier %s: a reservation without expiry", d->id);
	if (record_get_company(cs->t, d->company, &c) != STORE_OK)
		check_problem(r, "dossier %s: company %s does not exist", d->id,
		    d->company);
	if (!record_summary_ok(cs->t, d))
		check_problem(r,
		    "dossier %s: the company index does not "
		    "summarise it",
		    d->id);
	return (0);
}

static int
check_contract_cb(const struct contract *k, void *arg)
{
	struct check_state  *cs = arg;
	struct check_report *r = cs->r;
	struct check_sum    *s = check_sum_for(cs, k->id);

	r->ncontracts++;
	/* I-1 */
	if (k->reserved < 0 || k->committed < 0 || k->paid < 0 ||
	    k->reserved + k->committed + k->paid > k->budget)
		check_problem(r,
		    "contract %s: I-1 broken: reserved %lld + "
		    "committed %lld + paid %lld vs budget %lld",
		    k->id, (long long)k->reserved, (long long)k->committed,
		    (long long)k->paid, (long long)k->budget);
	if (s->reserved != k->reserved || s->committed != k->committed ||
	    s->paid != k->paid || s->ndossiers != k->ndossiers)
		check_problem(r,
		    "contract %s: stored reserved/committed/paid/"
		    "dossiers %lld/%lld/%lld/%u, its dossiers add "
		    "up to %lld/%lld/%lld/%u",
		    k->id, (long long)k->reserved, (long long)k->committed,
		    (long long)k->paid, k->ndossiers, (long long)s->reserved,
		    (long long)s->committed, (long long)s->paid, s->ndossiers);
	s->ndossiers = UINT32_MAX; /* seen: a contract exists for it */
	return (0);
}

struct check_company {
	struct check_state *cs;
	int32_t             first;
	int                 has;
};

static int
check_first_grant_cb(const struct grant *g, void *arg)
{
	struct check_company *cc = arg;

	if (!cc->has || g->date < cc->first)
		cc->first = g->date;
	cc->has = 1;
	if (g->effective < 0 || g->effective > g->amount)
		check_problem(cc->cs->r,
		    "grant %llu: effective %lld outside "
		    "0..%lld",
		    (unsigned long long)g->id, (long long)g->effective,
		    (long long)g->amount);
	return (0);
}

static int
check_company_cb(const struct company *c, void *arg)
{
	struct check_state  *cs = arg;
	struct check_company cc = {cs, 0, 0};
	char                 why[768];
	enum budget_err      rc;

	cs->r->ncompanies++;
	record_each_grant(cs->t, c->number, check_first_grant_cb, &cc);
	if (!cc.has)
		return (0);
	rc = dm_verify(
	    cs->t, c->number, cc.first, DM_ALL_WINDOWS, why, sizeof(why));
	if (rc == BUDGET_ERR_DEMINIMIS_CEILING_EXCEEDED)
		check_problem(cs->r, "I-2 broken: %s", why);
	else if (rc != BUDGET_OK && rc != BUDGET_ERR_STORAGE_ERROR)
		check_problem(cs->r, "company %s: %s", c->number, why);
	return (0);
}

/* I-4: every entry's hash is SHA-256(previous || canonical form). */
static void
check_chain(struct check_state *cs)
{
	struct check_report       *r = cs->r;
	struct store_cursor        cur;
	struct store_val           k, v;
	Budgetstore__JournalEntry *m;
	uint8_t                    prev[32], h[32], head[32];
	char                       why[512];
	const char                *missing;
	uint64_t                   expect = 1, seq;
	char                      *canon;
	size_t                     clen, indexed = 0;

	memset(prev, 0, sizeof(prev));
	store_cursor_open(&cur, cs->t, STORE_DB_JOURNAL, NULL, 0);
	while (store_cursor_next(&cur, &k, &v)) {
		seq = k.len == 8 ? record_get_be64(k.data) : 0;
		m = budgetstore__journal_entry__unpack(NULL, v.len, v.data);
		if (m == NULL || seq != expect || m->seq != seq ||
		    m->hash.len != 32) {
			if (m != NULL)
				budgetstore__journal_entry__free_unpacked(
				    m, NULL);
			check_problem(r,
			    "journal entry %llu: missing, out of "
			    "order or undecodable",
			    (unsigned long long)expect);
			r->first_bad_seq = expect;
			break;
		}
		canon = journal_canonical(m, &clen);
		journal_hash(prev, canon, clen, h);
		free(canon);
		if (memcmp(h, m->hash.data, 32) != 0) {
			check_problem(r,
			    "journal entry %llu: hash does not "
			    "match its content and predecessor",
			    (unsigned long long)seq);
			r->first_bad_seq = seq;
			budgetstore__journal_entry__free_unpacked(m, NULL);
			break;
		}
		memcpy(prev, h, 32);
		/* history and balance --as-of read the index: it must hold. */
		indexed += journal_check_index(cs->t, m, &missing);
		if (missing != NULL)
			check_problem(r,
			    "journal entry %llu is missing from the history "
			    "of %s",
			    (unsigned long long)seq, missing);
		/* I-3: what the entry did, done again from scratch. */
		if (replay_apply(cs->rp, m, why, sizeof(why)) == -1)
			check_problem(r, "%s", why);
		budgetstore__journal_entry__free_unpacked(m, NULL);
		r->entries = seq;
		expect++;
	}
	store_cursor_close(&cur);
	journal_head(cs->t, &seq, head);
	memcpy(r->head, head, 32);
	if (r->first_bad_seq == 0 &&
	    (seq != r->entries || memcmp(head, prev, 32) != 0)) {
		check_problem(r,
		    "journal head says entry %llu, the chain ends "
		    "at %llu",
		    (unsigned long long)seq, (unsigned long long)r->entries);
		r->first_bad_seq = r->entries + 1;
	}
	if (r->first_bad_seq == 0 &&
	    store_count(cs->t, STORE_DB_HISTORY) != indexed)
		check_problem(r,
		    "the history index holds %llu entries, the journal calls "
		    "for %zu",
		    (unsigned long long)store_count(cs->t, STORE_DB_HISTORY),
		    indexed);
	/* Report the journal's size, not how far the chain held. */
	if (seq > r->entries)
		r->entries = seq;
}

/*
 * Check everything (see the top of this file) in t. r->ok says whether
 * all holds; r->problems says what does not, for people.
 */
void
check_ledger(struct store_txn *t, struct check_report *r)
{
	struct check_state cs;
	size_t             i;

	memset(r, 0, sizeof(*r));
	memset(&cs, 0, sizeof(cs));
	r->ok = 1;
	cs.t = t;
	cs.r = r;
	cs.rp = replay_new(store_count(t, STORE_DB_CONTRACTS),
	    store_count(t, STORE_DB_DOSSIERS), store_count(t, STORE_DB_GRANTS),
	    store_count(t, STORE_DB_COMPANIES));
	check_chain(&cs);
	/* A broken chain makes every later comparison noise. */
	if (r->first_bad_seq == 0)
		replay_compare(cs.rp, t, check_problem_cb, r);
	replay_free(cs.rp);
	record_each_dossier(t, check_dossier_cb, &cs);
	record_each_contract(t, check_contract_cb, &cs);
	for (i = 0; i < cs.nsums; i++) {
		if (cs.sums[i].ndossiers != UINT32_MAX)
			check_problem(r,
			    "dossiers name contract %s, which does "
			    "not exist",
			    cs.sums[i].id);
	}
	record_each_company(t, check_company_cb, &cs);
	free(cs.sums);
	if (t->err != 0)
		check_problem(r, "the ledger could not be read: %s",
		    store_strerror(t->err));
}
