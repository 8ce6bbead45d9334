/*
 * ledger.c: the programme's rules as pure functions: provinces from
 * postcodes (R-PROV), the subsidy rate (R-RATE), the subsidy itself with
 * bands and caps (R-SUB), the de-minimis windows (R-DM) and the 4-year
 * exclusion window (R-EXCL), and the checks on identifiers and text. No
 * LMDB, no libevent, no protobuf: everything here is decided from its
 * arguments alone, so it is tested table by table in tests/unit.
 */
#include <stdio.h>
#include <string.h>

#include "budget/date.h"
#include "budget/money.h"
#include "budgetd.h"

static const struct {
	int         lo, hi;
	const char *name;
	int         flemish;
} ledger_provinces[] = {
    {1000, 1299, "Brussel", 0},
    {1300, 1499, "Waals-Brabant", 0},
    {1500, 1999, "Vlaams-Brabant", 1},
    {2000, 2999, "Antwerpen", 1},
    {3000, 3499, "Vlaams-Brabant", 1},
    {3500, 3999, "Limburg", 1},
    {4000, 4999, "Luik", 0},
    {5000, 5999, "Namen", 0},
    {6000, 6599, "Henegouwen", 0},
    {6600, 6999, "Luxemburg", 0},
    {7000, 7999, "Henegouwen", 0},
    {8000, 8999, "West-Vlaanderen", 1},
    {9000, 9999, "Oost-Vlaanderen", 1},
};

const char *
ledger_province(const char *postcode, int *flemish)
{
	int    pc = 0;
	size_t i;

	if (postcode == NULL || strlen(postcode) != 4)
		return (NULL);
	for (i = 0; i < 4; i++) {
		if (postcode[i] < '0' || postcode[i] > '9')
			return (NULL);
		pc = pc * 10 + (postcode[i] - '0');
	}
	for (i = 0; i < sizeof(ledger_provinces) / sizeof(ledger_provinces[0]);
	     i++) {
		if (pc >= ledger_provinces[i].lo &&
		    pc <= ledger_provinces[i].hi) {
			if (flemish != NULL)
				*flemish = ledger_provinces[i].flemish;
			return (ledger_provinces[i].name);
		}
	}
	return (NULL);
}

/*
 * Identifiers a person types and a script stores: contract and dossier
 * ids, rule set and package names.
 */
int
ledger_id_ok(const char *s, size_t max)
{
	size_t len = strlen(s), i;

	if (len == 0 || len > max)
		return (0);
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			(c >= '0' && c <= '9') || c == '.' || c == '_' ||
			c == '-' || c == ':'))
			return (0);
	}
	return (1);
}

/*
 * Free text (names, reasons, sources): 1..max bytes of valid UTF-8 with
 * no control characters, so that every log line, JSON document and CSV
 * cell stays well-formed.
 */
int
ledger_text_ok(const char *s, size_t max)
{
	return (ledger_utf8_ok(s, max, 0));
}

/*
 * Valid UTF-8 of 1..max bytes without control characters; with
 * multiline, tab, CR and LF are allowed (a whole rules file).
 */
int
ledger_utf8_ok(const char *s, size_t max, int multiline)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t               len = strlen(s), i, n;
	uint32_t             cp;

	if (len == 0 || len > max)
		return (0);
	for (i = 0; i < len; i += n) {
		if (p[i] < 0x80) {
			if ((p[i] < 0x20 || p[i] == 0x7f) &&
			    !(multiline &&
				(p[i] == '\n' || p[i] == '\r' || p[i] == '\t')))
				return (0);
			n = 1;
			continue;
		}
		if ((p[i] & 0xe0) == 0xc0) {
			n = 2;
			cp = p[i] & 0x1f;
		} else if ((p[i] & 0xf0) == 0xe0) {
			n = 3;
			cp = p[i] & 0x0f;
		} else if ((p[i] & 0xf8) == 0xf0) {
			n = 4;
			cp = p[i] & 0x07;
		} else
			return (0);
		if (i + n > len)
			return (0);
		for (size_t k = 1; k < n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return (0);
			cp = cp << 6 | (p[i + k] & 0x3f);
		}
		/* Overlong forms, surrogates, beyond Unicode, C1 controls. */
		if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) ||
		    (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp < 0xa0))
			return (0);
	}
	return (1);
}

const struct rule_package *
ledger_package(const struct ruleset *rs, const char *name)
{
	size_t i;

	for (i = 0; i < rs->npkgs; i++) {
		if (strcmp(rs->pkgs[i].name, name) == 0)
			return (&rs->pkgs[i]);
	}
	return (NULL);
}

/*
 * R-RATE: 50% (V2021: 45%) for SMEs and maatwerkbedrijven; the large-NIS2
 * rate only where the rule set has one; nobody else.
 */
enum budget_err
ledger_rate(const struct ruleset *rs, const struct company *co, uint32_t *bp,
    char *why, size_t whylen)
{
	uint32_t r = 0;

	if (co->size == SIZE_MICRO || co->size == SIZE_SMALL ||
	    co->size == SIZE_MEDIUM)
		r = rs->rate_sme_bp;
	if (co->maatwerk && rs->rate_maatwerk_bp > r)
		r = rs->rate_maatwerk_bp;
	if (r == 0 && co->size == SIZE_LARGE && co->nis2)
		r = rs->rate_large_nis2_bp;
	if (r == 0) {
		snprintf(why, whylen,
		    "company %s is %s%s%s: rule set %s grants no rate to it",
		    co->number, ledger_size_name(co->size),
		    co->nis2 ? ", NIS2" : "", co->maatwerk ? ", maatwerk" : "",
		    rs->name);
		return (BUDGET_ERR_INELIGIBLE_COMPANY);
	}
	*bp = r;
	return (BUDGET_OK);
}

/*
 * R-SUB: the package must exist, the base cost lie in its band and an
 * extension be allowed on it; then subsidy = floor((base + extension),
 * capped at the rule set's total-cost cap, x rate), capped at the subsidy
 * cap. Rounded down: never over-grant.
 */
enum budget_err
ledger_subsidy(const struct ruleset *rs, const char *package, int64_t cost,
    int64_t ext, uint32_t bp, int64_t *out, char *why, size_t whylen)
{
	const struct rule_package *pkg;
	char    a[MONEY_BUFSZ], b[MONEY_BUFSZ], c[MONEY_BUFSZ];
	int64_t total, sub;

	if ((pkg = ledger_package(rs, package)) == NULL) {
		snprintf(why, whylen, "rule set %s has no package %s", rs->name,
		    package);
		return (BUDGET_ERR_PACKAGE_NOT_ALLOWED);
	}
	if (cost < pkg->min_cost || cost > pkg->max_cost) {
		snprintf(why, whylen,
		    "base cost %s is outside the %s band %s-%s of rule set %s",
		    money_format(cost, a, sizeof(a)), pkg->name,
		    money_format(pkg->min_cost, b, sizeof(b)),
		    money_format(pkg->max_cost, c, sizeof(c)), rs->name);
		return (BUDGET_ERR_COST_OUT_OF_BAND);
	}
	if (ext < 0) {
		snprintf(why, whylen, "extension cost cannot be negative");
		return (BUDGET_ERR_INVALID_ARGUMENT);
	}
	if (ext > 0 && !pkg->extensions) {
		snprintf(why, whylen,
		    "package %s of rule set %s takes no extension packages",
		    pkg->name, rs->name);
		return (BUDGET_ERR_PACKAGE_NOT_ALLOWED);
	}
	if (money_add(cost, ext, &total) == -1 || total > MONEY_MAX_CENTS) {
		snprintf(why, whylen, "total cost is too large");
		return (BUDGET_ERR_INVALID_ARGUMENT);
	}
	if (rs->max_total_cost > 0 && total > rs->max_total_cost)
		total = rs->max_total_cost;
	sub = money_rate(total, bp);
	if (rs->max_subsidy > 0 && sub > rs->max_subsidy)
		sub = rs->max_subsidy;
	*out = sub;
	return (BUDGET_OK);
}

/*
 * The de-minimis window of a grant decided on day: rolling (2023/2831:
 * [day - years, day], both ends in) or fiscal (1407/2013: the calendar
 * year of day and the years - 1 before it, whole years).
 */
void
ledger_dm_window(
    const struct dm_regime *r, int32_t day, int32_t *start, int32_t *end)
{
	int y;

	if (r->fiscal) {
		y = date_year(day);
		*start = date_from_civil(y - (int)r->years + 1, 1, 1);
		*end = date_from_civil(y, 12, 31);
	} else {
		*start = date_add_years(day, -(int)r->years);
		*end = day;
	}
}

/*
 * R-EXCL: a new trajectory decided on day conflicts with another decided
 * on prior when prior lies in (day - years, day], or, symmetrically, day
 * lies in (prior - years, prior] (a decision back-dated before a later
 * one). Calendar arithmetic: 29 February minus whole years is 28 February.
 */
int
ledger_excluded(int32_t prior, int32_t day, uint32_t years)
{
	if (prior <= day)
		return (prior > date_add_years(day, -(int)years));
	return (day > date_add_years(prior, -(int)years));
}

static const char *ledger_states[] = {
    [DS_NONE] = "none",
    [DS_RESERVED] = "reserved",
    [DS_APPROVED] = "approved",
    [DS_COMPLETED] = "completed",
    [DS_CLOSED] = "closed",
    [DS_CANCELLED] = "cancelled",
    [DS_EXPIRED] = "expired",
    [DS_WITHDRAWN] = "withdrawn",
};

const char *
ledger_state_name(enum dossier_state s)
{
	if ((unsigned)s > DS_WITHDRAWN)
		fatalx("ledger_state_name: unknown state %d", (int)s);
	return (ledger_states[s]);
}

static const char *ledger_sizes[] = {
    [SIZE_NONE] = "none",
    [SIZE_MICRO] = "micro",
    [SIZE_SMALL] = "small",
    [SIZE_MEDIUM] = "medium",
    [SIZE_LARGE] = "large",
};

const char *
ledger_size_name(enum company_size s)
{
	if ((unsigned)s > SIZE_LARGE)
		fatalx("ledger_size_name: unknown size %d", (int)s);
	return (ledger_sizes[s]);
}

static const char *ledger_grant_kinds[] = {
    [GRANT_NONE] = "none",
    [GRANT_INITIAL] = "initial",
    [GRANT_UPGRADE] = "upgrade",
    [GRANT_EXTENSION] = "extension",
    [GRANT_DECLARED] = "declared",
};

const char *
ledger_grant_kind_name(enum grant_kind k)
{
	if ((unsigned)k > GRANT_DECLARED)
		fatalx("ledger_grant_kind_name: unknown kind %d", (int)k);
	return (ledger_grant_kinds[k]);
}
