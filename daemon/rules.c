/*
 * rules.c: the programme rules file (README, "Rules file"). Owns parsing
 * it (INI, with inih) and every check that makes a rule set usable: dates,
 * rates, bands, ranks, no duplicates, no unknown keys, each with the line
 * it came from. Storing and choosing the set in force is record.c's.
 *
 *   [deminimis 2023/2831]         a de-minimis regime
 *   from = 2024-01-01
 *   ceiling = 300000.00
 *   window = rolling              rolling | fiscal
 *   years = 3
 *
 *   [ruleset V2024]               a programme rule set
 *   from = 2024-04-17
 *   rate_sme = 50%                also rate_maatwerk, rate_large_nis2
 *   max_total_cost = 60000.00     "none" for no cap; also max_subsidy
 *   exclusion_years = 4
 *
 *   [package V2024 MEDIUM]        a package of that rule set
 *   min_cost = 17000.00
 *   max_cost = 22000.00
 *   rank = 2                      upgrades go to a higher rank
 *   extensions = yes
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "budget/date.h"
#include "budget/money.h"
#include "budgetd.h"

#define RULES_MAX_SETS    64
#define RULES_MAX_REGIMES 16

struct rules_ctx {
	struct rulebook     *rb;
	char                *cause;
	char                 section[3 * (LEDGER_ID_MAX + 1)];
	int                  in_section;
	struct ruleset      *rs;  /* the section being read is one of */
	struct rule_package *pkg; /* these three */
	struct dm_regime    *rg;
	/* what each section has set, to insist on the required keys */
	unsigned char set_seen[RULES_MAX_SETS];
	unsigned char regime_seen[RULES_MAX_REGIMES];
};

/* Keys a rule set must have; seen bits. */
#define SEEN_FROM    0x01
#define SEEN_CEILING 0x02
#define SEEN_WINDOW  0x04
#define SEEN_YEARS   0x08
#define SEEN_MIN     0x10
#define SEEN_MAX     0x20

static int rules_handler(void *, const char *, const char *, const char *);
static int rules_bad(struct rules_ctx *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

/* Record why the file is refused; returns 0, what inih wants on error. */
static int
rules_bad(struct rules_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	/* inih reads on after an error and reports the first line: keep
	 * the first reason too. */
	if (ctx->cause != NULL)
		return (0);
	va_start(ap, fmt);
	if (vasprintf(&ctx->cause, fmt, ap) == -1)
		fatal("rules_bad: vasprintf");
	va_end(ap);
	return (0);
}

void
rules_free(struct rulebook *rb)
{
	free(rb->sets);
	free(rb->regimes);
	memset(rb, 0, sizeof(*rb));
}

/* "50%", "45.5%", "none" (0) -> basis points. */
static int
rules_percent(const char *s, uint32_t *bp)
{
	int64_t     cents;
	const char *why;
	char        buf[16];
	size_t      len = strlen(s);

	if (strcmp(s, "none") == 0) {
		*bp = 0;
		return (0);
	}
	if (len < 2 || len >= sizeof(buf) || s[len - 1] != '%')
		return (-1);
	memcpy(buf, s, len - 1);
	buf[len - 1] = '\0';
	/* "45.5" parsed as money is 4550 "cents": exactly basis points. */
	if (money_parse(buf, &cents, &why) == -1 || cents > 10000)
		return (-1);
	*bp = (uint32_t)cents;
	return (0);
}

static int
rules_money(const char *s, int64_t *cents, int none_ok)
{
	const char *why;

	if (none_ok && strcmp(s, "none") == 0) {
		*cents = 0;
		return (0);
	}
	if (money_parse(s, cents, &why) == -1 || *cents <= 0)
		return (-1);
	return (0);
}

static int
rules_uint(const char *s, uint32_t lo, uint32_t hi, uint32_t *out)
{
	char         *end;
	unsigned long v = strtoul(s, &end, 10);

	if (*s == '\0' || *end != '\0' || *s == '-' || v < lo || v > hi)
		return (-1);
	*out = (uint32_t)v;
	return (0);
}

static struct ruleset *
rules_find_set(struct rulebook *rb, const char *name)
{
	size_t i;

	for (i = 0; i < rb->nsets; i++) {
		if (strcmp(rb->sets[i].name, name) == 0)
			return (&rb->sets[i]);
	}
	return (NULL);
}

static struct dm_regime *
rules_find_regime(struct rulebook *rb, const char *name)
{
	size_t i;

	for (i = 0; i < rb->nregimes; i++) {
		if (strcmp(rb->regimes[i].name, name) == 0)
			return (&rb->regimes[i]);
	}
	return (NULL);
}

/* Split "kind name [name2]" into its words; returns how many (<= 3). */
static int
rules_words(const char *section, char w[3][LEDGER_ID_MAX + 1])
{
	char *copy, *tok, *save = NULL;
	int   n = 0;

	copy = xstrdup(section);
	for (tok = strtok_r(copy, " \t", &save); tok != NULL;
	     tok = strtok_r(NULL, " \t", &save)) {
		if (n == 3 || strlen(tok) > LEDGER_ID_MAX) {
			n = -1;
			break;
		}
		strcpy(w[n++], tok);
	}
	free(copy);
	return (n);
}

/*
 * A new section starts (inih only tells us through a changed section
 * name): create what it defines, refusing one defined twice.
 */
static int
rules_section(struct rules_ctx *ctx, const char *section)
{
	struct rulebook  *rb = ctx->rb;
	char              w[3][LEDGER_ID_MAX + 1];
	int               n;
	struct ruleset   *rs;
	struct dm_regime *rg;
	size_t            i;

	snprintf(ctx->section, sizeof(ctx->section), "%s", section);
	ctx->rs = NULL;
	ctx->pkg = NULL;
	ctx->rg = NULL;
	n = rules_words(section, w);
	if (n == 2 && strcmp(w[0], "ruleset") == 0) {
		if (!ledger_id_ok(w[1], LEDGER_ID_MAX))
			return (rules_bad(ctx,
			    "rule set name \"%s\" is not an "
			    "identifier",
			    w[1]));
		if (rules_find_set(rb, w[1]) != NULL)
			return (
			    rules_bad(ctx, "rule set %s defined twice", w[1]));
		if (rb->nsets == RULES_MAX_SETS)
			return (rules_bad(
			    ctx, "more than %d rule sets", RULES_MAX_SETS));
		rs = &rb->sets[rb->nsets++];
		memset(rs, 0, sizeof(*rs));
		strcpy(rs->name, w[1]);
		rs->exclusion_years = 4;
		ctx->rs = rs;
		return (1);
	}
	if (n == 3 && strcmp(w[0], "package") == 0) {
		if ((rs = rules_find_set(rb, w[1])) == NULL)
			return (rules_bad(ctx,
			    "package %s names rule set %s, "
			    "which is not defined above it",
			    w[2], w[1]));
		if (!ledger_id_ok(w[2], LEDGER_PKG_MAX))
			return (rules_bad(ctx,
			    "package name \"%s\" is not an "
			    "identifier of at most %d "
			    "characters",
			    w[2], LEDGER_PKG_MAX));
		for (i = 0; i < rs->npkgs; i++) {
			if (strcmp(rs->pkgs[i].name, w[2]) == 0)
				return (rules_bad(ctx,
				    "package %s %s defined "
				    "twice",
				    w[1], w[2]));
		}
		if (rs->npkgs == LEDGER_RULES_PKGS)
			return (rules_bad(ctx,
			    "rule set %s has more than %d "
			    "packages",
			    w[1], LEDGER_RULES_PKGS));
		ctx->pkg = &rs->pkgs[rs->npkgs++];
		memset(ctx->pkg, 0, sizeof(*ctx->pkg));
		strcpy(ctx->pkg->name, w[2]);
		ctx->pkg->rank = 1;
		return (1);
	}
	if (n == 2 && strcmp(w[0], "deminimis") == 0) {
		if (rules_find_regime(rb, w[1]) != NULL)
			return (
			    rules_bad(ctx, "regime %s defined twice", w[1]));
		if (rb->nregimes == RULES_MAX_REGIMES)
			return (rules_bad(
			    ctx, "more than %d regimes", RULES_MAX_REGIMES));
		rg = &rb->regimes[rb->nregimes++];
		memset(rg, 0, sizeof(*rg));
		strcpy(rg->name, w[1]);
		ctx->rg = rg;
		return (1);
	}
	return (rules_bad(ctx,
	    "section [%s] must be [ruleset NAME], "
	    "[package SET NAME] or [deminimis NAME]",
	    section));
}

static int
rules_handler(
    void *arg, const char *section, const char *key, const char *value)
{
	struct rules_ctx    *ctx = arg;
	struct ruleset      *rs;
	struct rule_package *pkg;
	struct dm_regime    *rg;
	const char          *why;
	size_t               i;

	if (strcmp(section, ctx->section) != 0 || !ctx->in_section) {
		ctx->in_section = 1;
		if (!rules_section(ctx, section))
			return (0);
	}
	if (key == NULL)
		return (1);
	if ((rs = ctx->rs) != NULL) {
		i = (size_t)(rs - ctx->rb->sets);
		if (strcmp(key, "from") == 0) {
			if (date_parse(value, &rs->from, &why) == -1)
				return (rules_bad(ctx, "from: %s", why));
			ctx->set_seen[i] |= SEEN_FROM;
		} else if (strcmp(key, "rate_sme") == 0) {
			if (rules_percent(value, &rs->rate_sme_bp) == -1)
				return (rules_bad(ctx,
				    "rate_sme must be a "
				    "percentage such as 50%% "
				    "or none"));
		} else if (strcmp(key, "rate_maatwerk") == 0) {
			if (rules_percent(value, &rs->rate_maatwerk_bp) == -1)
				return (rules_bad(ctx,
				    "rate_maatwerk must be a "
				    "percentage such as 50%% "
				    "or none"));
		} else if (strcmp(key, "rate_large_nis2") == 0) {
			if (rules_percent(value, &rs->rate_large_nis2_bp) == -1)
				return (rules_bad(ctx,
				    "rate_large_nis2 must be "
				    "a percentage such as "
				    "35%% or none"));
		} else if (strcmp(key, "max_total_cost") == 0) {
			if (rules_money(value, &rs->max_total_cost, 1) == -1)
				return (rules_bad(ctx,
				    "max_total_cost must be "
				    "an amount or none"));
		} else if (strcmp(key, "max_subsidy") == 0) {
			if (rules_money(value, &rs->max_subsidy, 1) == -1)
				return (rules_bad(ctx,
				    "max_subsidy must be an "
				    "amount or none"));
		} else if (strcmp(key, "exclusion_years") == 0) {
			if (rules_uint(value, 1, 20, &rs->exclusion_years))
				return (rules_bad(ctx,
				    "exclusion_years must be "
				    "1-20"));
		} else
			return (rules_bad(
			    ctx, "unknown key \"%s\" in [%s]", key, section));
		return (1);
	}
	if ((pkg = ctx->pkg) != NULL) {
		if (strcmp(key, "min_cost") == 0) {
			if (rules_money(value, &pkg->min_cost, 0) == -1)
				return (rules_bad(ctx,
				    "min_cost must be an "
				    "amount above 0"));
		} else if (strcmp(key, "max_cost") == 0) {
			if (rules_money(value, &pkg->max_cost, 0) == -1)
				return (rules_bad(ctx,
				    "max_cost must be an "
				    "amount above 0"));
		} else if (strcmp(key, "rank") == 0) {
			if (rules_uint(value, 1, 100, &pkg->rank) == -1)
				return (rules_bad(ctx, "rank must be 1-100"));
		} else if (strcmp(key, "extensions") == 0) {
			if (strcmp(value, "yes") == 0)
				pkg->extensions = 1;
			else if (strcmp(value, "no") == 0)
				pkg->extensions = 0;
			else
				return (rules_bad(ctx,
				    "extensions must be yes "
				    "or no"));
		} else
			return (rules_bad(
			    ctx, "unknown key \"%s\" in [%s]", key, section));
		return (1);
	}
	if ((rg = ctx->rg) != NULL) {
		i = (size_t)(rg - ctx->rb->regimes);
		if (strcmp(key, "from") == 0) {
			if (date_parse(value, &rg->from, &why) == -1)
				return (rules_bad(ctx, "from: %s", why));
			ctx->regime_seen[i] |= SEEN_FROM;
		} else if (strcmp(key, "ceiling") == 0) {
			if (rules_money(value, &rg->ceiling, 0) == -1)
				return (rules_bad(ctx,
				    "ceiling must be an "
				    "amount above 0"));
			ctx->regime_seen[i] |= SEEN_CEILING;
		} else if (strcmp(key, "window") == 0) {
			if (strcmp(value, "rolling") == 0)
				rg->fiscal = 0;
			else if (strcmp(value, "fiscal") == 0)
				rg->fiscal = 1;
			else
				return (rules_bad(ctx,
				    "window must be rolling "
				    "or fiscal"));
			ctx->regime_seen[i] |= SEEN_WINDOW;
		} else if (strcmp(key, "years") == 0) {
			if (rules_uint(value, 1, 10, &rg->years) == -1)
				return (rules_bad(ctx, "years must be 1-10"));
			ctx->regime_seen[i] |= SEEN_YEARS;
		} else
			return (rules_bad(
			    ctx, "unknown key \"%s\" in [%s]", key, section));
		return (1);
	}
	return (rules_bad(ctx, "key \"%s\" outside any section", key));
}

/* Whole-file checks, once every section is read. */
static int
rules_check(struct rules_ctx *ctx)
{
	struct rulebook *rb = ctx->rb;
	size_t           i, j;

	if (rb->nsets == 0 && rb->nregimes == 0) {
		xasprintf(&ctx->cause,
		    "the file defines no rule set and no "
		    "de-minimis regime");
		return (-1);
	}
	for (i = 0; i < rb->nsets; i++) {
		struct ruleset *rs = &rb->sets[i];

		if (!(ctx->set_seen[i] & SEEN_FROM)) {
			xasprintf(&ctx->cause, "rule set %s has no from date",
			    rs->name);
			return (-1);
		}
		if (rs->rate_sme_bp == 0 && rs->rate_maatwerk_bp == 0 &&
		    rs->rate_large_nis2_bp == 0) {
			xasprintf(&ctx->cause,
			    "rule set %s grants no rate at all", rs->name);
			return (-1);
		}
		if (rs->npkgs == 0) {
			xasprintf(&ctx->cause, "rule set %s has no package",
			    rs->name);
			return (-1);
		}
		for (j = 0; j < rs->npkgs; j++) {
			const struct rule_package *p = &rs->pkgs[j];

			if (p->min_cost == 0 || p->max_cost == 0 ||
			    p->min_cost > p->max_cost) {
				xasprintf(&ctx->cause,
				    "package %s %s needs min_cost <= max_cost",
				    rs->name, p->name);
				return (-1);
			}
		}
		for (j = 0; j < i; j++) {
			if (rb->sets[j].from == rs->from) {
				xasprintf(&ctx->cause,
				    "rule sets %s and %s start on the same day",
				    rb->sets[j].name, rs->name);
				return (-1);
			}
		}
	}
	for (i = 0; i < rb->nregimes; i++) {
		struct dm_regime *rg = &rb->regimes[i];

		if ((ctx->regime_seen[i] &
			(SEEN_FROM | SEEN_CEILING | SEEN_WINDOW |
			    SEEN_YEARS)) !=
		    (SEEN_FROM | SEEN_CEILING | SEEN_WINDOW | SEEN_YEARS)) {
			xasprintf(&ctx->cause,
			    "regime %s needs from, ceiling, "
			    "window and years",
			    rg->name);
			return (-1);
		}
		for (j = 0; j < i; j++) {
			if (rb->regimes[j].from == rg->from) {
				xasprintf(&ctx->cause,
				    "regimes %s and %s start on the same day",
				    rb->regimes[j].name, rg->name);
				return (-1);
			}
		}
	}
	return (0);
}

/*
 * Parse and check a rules file's text. Returns 0 and fills rb (free with
 * rules_free), or -1 with *cause ("line N: ..."); rb is then empty.
 */
int
rules_parse(const char *text, struct rulebook *rb, char **cause)
{
	struct rules_ctx ctx;
	int              line;

	memset(rb, 0, sizeof(*rb));
	memset(&ctx, 0, sizeof(ctx));
	rb->sets = xcalloc(RULES_MAX_SETS, sizeof(*rb->sets));
	rb->regimes = xcalloc(RULES_MAX_REGIMES, sizeof(*rb->regimes));
	ctx.rb = rb;
	line = ini_parse_string(text, rules_handler, &ctx);
	if (line != 0) {
		xasprintf(cause, "line %d: %s", line,
		    ctx.cause != NULL ? ctx.cause : "syntax error");
		free(ctx.cause);
		rules_free(rb);
		return (-1);
	}
	if (rules_check(&ctx) == -1) {
		*cause = ctx.cause;
		rules_free(rb);
		return (-1);
	}
	return (0);
}

/* Whether two rule sets say the same, field by field. */
int
rules_same_set(const struct ruleset *a, const struct ruleset *b)
{
	size_t i;

	if (strcmp(a->name, b->name) != 0 || a->from != b->from ||
	    a->rate_sme_bp != b->rate_sme_bp ||
	    a->rate_maatwerk_bp != b->rate_maatwerk_bp ||
	    a->rate_large_nis2_bp != b->rate_large_nis2_bp ||
	    a->max_total_cost != b->max_total_cost ||
	    a->max_subsidy != b->max_subsidy ||
	    a->exclusion_years != b->exclusion_years || a->npkgs != b->npkgs)
		return (0);
	for (i = 0; i < a->npkgs; i++) {
		const struct rule_package *p = &a->pkgs[i], *q = &b->pkgs[i];

		if (strcmp(p->name, q->name) != 0 ||
		    p->min_cost != q->min_cost || p->max_cost != q->max_cost ||
		    p->rank != q->rank || p->extensions != q->extensions)
			return (0);
	}
	return (1);
}

int
rules_same_regime(const struct dm_regime *a, const struct dm_regime *b)
{
	return (strcmp(a->name, b->name) == 0 && a->from == b->from &&
	    a->ceiling == b->ceiling && a->fiscal == b->fiscal &&
	    a->years == b->years);
}
