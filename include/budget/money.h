/*
 * money.h: euro amounts as int64 cents. No floating point anywhere near
 * money: amounts are parsed from and printed as decimal strings.
 */
#ifndef BUDGET_MONEY_H
#define BUDGET_MONEY_H

#include <stddef.h>
#include <stdint.h>

/*
 * The largest single amount the ledger accepts: EUR 10,000,000,000.00. Far
 * above any subsidy programme, far below where sums of many amounts could
 * overflow int64; anything larger is a typing mistake or an attack.
 */
#define MONEY_MAX_CENTS INT64_C(1000000000000)

/* Room for "-92233720368547758.08" and a NUL. */
#define MONEY_BUFSZ 32

/*
 * Parse decimal euros: digits, optionally '.' and one or two digits
 * ("4250", "4250.5", "4250.50"). No sign, no exponent, no thousands
 * separators, no spaces. Returns 0 and sets *cents, or -1 with *why set to
 * a static explanation. Accepts 0; callers that need > 0 check it.
 */
int money_parse(const char *s, int64_t *cents, const char **why);

/* Format cents as "1234.50" (or "-0.01"); returns buf. */
char *money_format(int64_t cents, char *buf, size_t len);

/* Same with thousands grouped for people: "1,234,567.50". */
char *money_format_grouped(int64_t cents, char *buf, size_t len);

/* Checked arithmetic: 0 on success, -1 on int64 overflow (*r unchanged). */
int money_add(int64_t a, int64_t b, int64_t *r);
int money_sub(int64_t a, int64_t b, int64_t *r);

/*
 * floor(cents * bp / 10000) for cents >= 0 and 0 <= bp <= 10000, computed
 * without overflow. Rounded down: the ledger never over-grants.
 */
int64_t money_rate(int64_t cents, uint32_t bp);

#endif /* BUDGET_MONEY_H */
