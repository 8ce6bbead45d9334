/*
 * test_common.c: unit tests of the pure helpers in common/ (budget_common):
 * money parsing, printing and checked arithmetic (money.c), business dates,
 * the Europe/Brussels offset checked against the system tz database, UTC
 * timestamps and durations (date.c), enterprise numbers (rid.c) and the
 * table of stable error codes (errors.c).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "budget/date.h"
#include "budget/errors.h"
#include "budget/money.h"
#include "budget/rid.h"

#define BRUSSELS_ZONEINFO "/usr/share/zoneinfo/Europe/Brussels"

static int     tz_brussels(char **);
static void    tz_restore(char *);
static int32_t civil(int, unsigned, unsigned);

/*
 * Switch the C library to Europe/Brussels; returns 0, or -1 (after saying
 * why) when the tz database lacks the zone. *saved receives the old TZ.
 */
static int
tz_brussels(char **saved)
{
	const char *old = getenv("TZ");

	*saved = old != NULL ? strdup(old) : NULL;
	if (access(BRUSSELS_ZONEINFO, R_OK) == -1) {
		print_message(
		    "skipped: %s: %s\n", BRUSSELS_ZONEINFO, strerror(errno));
		return (-1);
	}
	assert_int_equal(setenv("TZ", "Europe/Brussels", 1), 0);
	tzset();
	return (0);
}

static void
tz_restore(char *saved)
{
	if (saved != NULL)
		setenv("TZ", saved, 1);
	else
		unsetenv("TZ");
	tzset();
	free(saved);
}

static int32_t
civil(int y, unsigned m, unsigned d)
{
	return (date_from_civil(y, m, d));
}

/* money_parse: the accepted shapes and their values. */
static void
test_money_parse_ok(void **state)
{
	static const struct {
		const char *s;
		int64_t     cents;
	} ok[] = {
	    {"4250", 425000},
	    {"4250.5", 425050},
	    {"4250.50", 425050},
	    {"4250.05", 425005},
	    {"0", 0},
	    {"0.01", 1},
	    {"007", 700},
	    {"10000000000", MONEY_MAX_CENTS},
	    {"10000000000.00", MONEY_MAX_CENTS},
	    {"9999999999.99", MONEY_MAX_CENTS - 1},
	};
	const char *why;
	int64_t     c;
	size_t      i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		c = -1;
		why = NULL;
		if (money_parse(ok[i].s, &c, &why) != 0)
			fail_msg(
			    "money_parse(\"%s\") refused: %s", ok[i].s, why);
		assert_int_equal(c, ok[i].cents);
	}
}

/* money_parse: everything that is not plain decimal euros is refused. */
static void
test_money_parse_bad(void **state)
{
	static const char *bad[] = {
	    "4250.505", "-5", "+5", "1e3", "", ".5", "5.", " 5", "5 ", "1,000",
	    "1.000,00", "5,5", "0x10", "five", "5..0", "5.0.0",
	    "1234567890123",   /* 13 digits */
	    "0000000000000",   /* 13 digits, even if zero */
	    "10000000000.01",  /* MONEY_MAX_CENTS + 1 */
	    "99999999999",     /* 11 digits, above the maximum */
	    "999999999999.99", /* 12 digits, above the maximum */
	};
	const char *why;
	int64_t     c;
	size_t      i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		c = 12345;
		why = NULL;
		if (money_parse(bad[i], &c, &why) != -1)
			fail_msg("money_parse(\"%s\") accepted: %lld", bad[i],
			    (long long)c);
		assert_non_null(why);
		assert_true(why[0] != '\0');
	}
	assert_int_equal(money_parse(NULL, &c, &why), -1);
}

/* money_format and money_format_grouped. */
static void
test_money_format(void **state)
{
	static const struct {
		int64_t     cents;
		const char *plain, *grouped;
	} f[] = {
	    {0, "0.00", "0.00"},
	    {1, "0.01", "0.01"},
	    {99, "0.99", "0.99"},
	    {100, "1.00", "1.00"},
	    {99999, "999.99", "999.99"},
	    {100000, "1000.00", "1,000.00"},
	    {123456789, "1234567.89", "1,234,567.89"},
	    {100000000, "1000000.00", "1,000,000.00"},
	    {MONEY_MAX_CENTS, "10000000000.00", "10,000,000,000.00"},
	    {-1, "-0.01", "-0.01"},
	    {-100, "-1.00", "-1.00"},
	    {-123456789, "-1234567.89", "-1,234,567.89"},
	    {-100000, "-1000.00", "-1,000.00"},
	    {INT64_MAX, "92233720368547758.07", "92,233,720,368,547,758.07"},
	    {INT64_MIN, "-92233720368547758.08", "-92,233,720,368,547,758.08"},
	};
	char   buf[MONEY_BUFSZ];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		assert_ptr_equal(
		    money_format(f[i].cents, buf, sizeof(buf)), buf);
		assert_string_equal(buf, f[i].plain);
		assert_ptr_equal(
		    money_format_grouped(f[i].cents, buf, sizeof(buf)), buf);
		assert_string_equal(buf, f[i].grouped);
	}
}

/* Every amount money_format prints, money_parse reads back. */
static void
test_money_format_parse_round_trip(void **state)
{
	char        buf[MONEY_BUFSZ];
	const char *why;
	int64_t     c, back;

	(void)state;
	for (c = 0; c <= MONEY_MAX_CENTS; c = c * 3 + 7) {
		money_format(c, buf, sizeof(buf));
		assert_int_equal(money_parse(buf, &back, &why), 0);
		assert_int_equal(back, c);
	}
}

/* money_add/money_sub: exact within int64, -1 and *r unchanged beyond. */
static void
test_money_overflow(void **state)
{
	int64_t r;

	(void)state;
	assert_int_equal(money_add(2, 3, &r), 0);
	assert_int_equal(r, 5);
	assert_int_equal(money_add(INT64_MAX - 1, 1, &r), 0);
	assert_int_equal(r, INT64_MAX);
	assert_int_equal(money_add(INT64_MIN, INT64_MAX, &r), 0);
	assert_int_equal(r, -1);

	r = 42;
	assert_int_equal(money_add(INT64_MAX, 1, &r), -1);
	assert_int_equal(r, 42);
	assert_int_equal(money_add(INT64_MIN, -1, &r), -1);
	assert_int_equal(money_add(INT64_MAX, INT64_MAX, &r), -1);
	assert_int_equal(r, 42);

	assert_int_equal(money_sub(5, 7, &r), 0);
	assert_int_equal(r, -2);
	assert_int_equal(money_sub(INT64_MIN + 1, 1, &r), 0);
	assert_int_equal(r, INT64_MIN);
	r = 42;
	assert_int_equal(money_sub(INT64_MIN, 1, &r), -1);
	assert_int_equal(money_sub(INT64_MAX, -1, &r), -1);
	assert_int_equal(money_sub(0, INT64_MIN, &r), -1);
	assert_int_equal(r, 42);
	assert_int_equal(money_sub(-1, INT64_MIN, &r), 0);
	assert_int_equal(r, INT64_MAX);
}

/* money_rate: floor, and exact up to and beyond MONEY_MAX_CENTS. */
static void
test_money_rate(void **state)
{
	static const uint32_t bps[] = {
	    0, 1, 3333, 3500, 5000, 6667, 9999, 10000};
	int64_t c;
	size_t  i;

	(void)state;
	assert_int_equal(money_rate(1999, 5000), 999);
	assert_int_equal(money_rate(1, 9999), 0);
	assert_int_equal(money_rate(0, 10000), 0);
	assert_int_equal(money_rate(10000, 1), 1);
	assert_int_equal(money_rate(MONEY_MAX_CENTS, 10000), MONEY_MAX_CENTS);
	assert_int_equal(
	    money_rate(MONEY_MAX_CENTS, 3500), INT64_C(350000000000));
	assert_int_equal(
	    money_rate(MONEY_MAX_CENTS - 1, 3500), INT64_C(349999999999));
	assert_int_equal(
	    money_rate(MONEY_MAX_CENTS - 1, 10000), MONEY_MAX_CENTS - 1);
	/* Far above the ledger's range, still no overflow. */
	assert_int_equal(money_rate(INT64_MAX, 10000), INT64_MAX);
	assert_int_equal(money_rate(INT64_MAX, 5000), INT64_MAX / 2);

	/* Below MONEY_MAX_CENTS, cents * bp fits int64: a plain reference. */
	for (i = 0; i < sizeof(bps) / sizeof(bps[0]); i++) {
		for (c = 0; c <= MONEY_MAX_CENTS; c = c * 7 + 13)
			assert_int_equal(
			    money_rate(c, bps[i]), c * (int64_t)bps[i] / 10000);
		c = MONEY_MAX_CENTS;
		assert_int_equal(
		    money_rate(c, bps[i]), c * (int64_t)bps[i] / 10000);
	}
}

/* date_parse: real days in 2000-2199 written YYYY-MM-DD, nothing else. */
static void
test_date_parse(void **state)
{
	static const char *bad[] = {
	    "2023-02-29",
	    "2024-02-30",
	    "2024-13-01",
	    "2024-00-10",
	    "2024-01-00",
	    "2024-04-31",
	    "2024-1-01",
	    "2024-01-1",
	    "1999-12-31",
	    "2200-01-01",
	    "2100-02-29",
	    "",
	    "2024/01/01",
	    "2024-01-01 ",
	    " 2024-01-01",
	    "2024-01-01T00",
	    "20240101",
	    "2024-0a-01",
	};
	const char *why;
	int32_t     d;
	size_t      i;

	(void)state;
	assert_int_equal(date_parse("2024-02-29", &d, &why), 0);
	assert_int_equal(d, civil(2024, 2, 29));
	assert_int_equal(date_parse("2000-02-29", &d, &why), 0);
	assert_int_equal(d, 11016);
	assert_int_equal(date_parse("2000-01-01", &d, &why), 0);
	assert_int_equal(d, 10957);
	assert_int_equal(date_parse("2199-12-31", &d, &why), 0);
	assert_int_equal(d, civil(2199, 12, 31));

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		if (date_parse(bad[i], &d, &why) != -1)
			fail_msg("date_parse(\"%s\") accepted", bad[i]);
		assert_non_null(why);
	}
	assert_int_equal(date_parse(NULL, &d, &why), -1);
}

/* date_add_years: 29 February, and ordinary days. */
static void
test_date_add_years(void **state)
{
	int32_t leap = civil(2024, 2, 29);
	char    buf[DATE_BUFSZ];

	(void)state;
	assert_int_equal(date_add_years(leap, -4), civil(2020, 2, 29));
	assert_int_equal(date_add_years(leap, -1), civil(2023, 2, 28));
	assert_int_equal(date_add_years(leap, -3), civil(2021, 2, 28));
	assert_int_equal(date_add_years(leap, 1), civil(2025, 2, 28));
	assert_int_equal(date_add_years(leap, 4), civil(2028, 2, 29));
	assert_int_equal(date_add_years(leap, 76), civil(2100, 2, 28));
	assert_int_equal(date_add_years(leap, 0), leap);
	assert_int_equal(
	    date_add_years(civil(2024, 3, 1), -4), civil(2020, 3, 1));
	assert_int_equal(
	    date_add_years(civil(2024, 2, 28), -1), civil(2023, 2, 28));
	assert_int_equal(
	    date_add_years(civil(2023, 12, 31), 1), civil(2024, 12, 31));
	assert_int_equal(
	    date_add_years(civil(2025, 6, 15), -4), civil(2021, 6, 15));
	assert_string_equal(date_format(date_add_years(civil(2024, 1, 1), -4),
				buf, sizeof(buf)),
	    "2020-01-01");
	assert_int_equal(date_year(civil(2024, 12, 31)), 2024);
	assert_int_equal(date_year(civil(2025, 1, 1)), 2025);
}

/*
 * Every day of the accepted range: days and civil dates convert both ways,
 * consecutive numbers are consecutive calendar days, and format/parse agree.
 */
static void
test_date_civil_round_trip(void **state)
{
	static const unsigned mdays[12] = {
	    31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int32_t     day, first, last, back;
	int         y = 2000, gy;
	unsigned    m = 1, d = 1, gm, gd, len;
	char        buf[DATE_BUFSZ], want[32];
	const char *why;

	(void)state;
	assert_int_equal(civil(1970, 1, 1), 0);
	first = civil(2000, 1, 1);
	last = civil(2199, 12, 31);
	assert_int_equal(first, 10957);
	for (day = first; day <= last; day++) {
		date_to_civil(day, &gy, &gm, &gd);
		if (gy != y || gm != m || gd != d)
			fail_msg("day %d: %04d-%02u-%02u, want %04d-%02u-%02u",
			    day, gy, gm, gd, y, m, d);
		assert_int_equal(civil(y, m, d), day);
		assert_true(date_valid(y, m, d));
		snprintf(want, sizeof(want), "%04d-%02u-%02u", y, m, d);
		assert_string_equal(date_format(day, buf, sizeof(buf)), want);
		assert_int_equal(date_parse(buf, &back, &why), 0);
		assert_int_equal(back, day);

		/* Step the expected date by one, independently. */
		len = mdays[m - 1];
		if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
			len = 29;
		if (++d > len) {
			d = 1;
			if (++m > 12) {
				m = 1;
				y++;
			}
		}
	}
	assert_int_equal(y, 2200);
	assert_false(date_valid(2200, 1, 1));
	assert_false(date_valid(1999, 12, 31));
}

/*
 * date_brussels_offset and date_today against the C library with the real
 * tz database, every hour (and the second before it) of 2021-2030.
 */
static void
test_date_brussels_offset(void **state)
{
	struct tm tm;
	char     *saved;
	time_t    t, from, to;
	int       k, changes = 0, prev = 0;

	(void)state;
	if (tz_brussels(&saved) == -1) {
		tz_restore(saved);
		skip();
	}
	from = (time_t)civil(2021, 1, 1) * 86400;
	to = (time_t)civil(2031, 1, 1) * 86400;
	for (t = from; t < to; t += 3600) {
		for (k = 0; k < 2; k++) {
			time_t u = t - k;

			assert_non_null(localtime_r(&u, &tm));
			if (date_brussels_offset((int64_t)u) != tm.tm_gmtoff)
				fail_msg("offset at %lld: %d, tz database %ld",
				    (long long)u,
				    date_brussels_offset((int64_t)u),
				    tm.tm_gmtoff);
			if (date_today((int64_t)u * 1000000) !=
			    civil(tm.tm_year + 1900, (unsigned)tm.tm_mon + 1,
				(unsigned)tm.tm_mday))
				fail_msg("date_today at %lld: %d", (long long)u,
				    date_today((int64_t)u * 1000000));
		}
		if (prev != 0 && tm.tm_gmtoff != prev)
			changes++;
		prev = (int)tm.tm_gmtoff;
	}
	/* Two changes a year: the loop did cross every transition. */
	assert_int_equal(changes, 20);
	tz_restore(saved);
}

/* The known transitions of 2024, to the second. */
static void
test_date_brussels_transitions(void **state)
{
	int64_t spring = (int64_t)civil(2024, 3, 31) * 86400 + 3600;
	int64_t autumn = (int64_t)civil(2024, 10, 27) * 86400 + 3600;

	(void)state;
	assert_int_equal(date_brussels_offset(spring - 1), 3600);
	assert_int_equal(date_brussels_offset(spring), 7200);
	assert_int_equal(date_brussels_offset(autumn - 1), 7200);
	assert_int_equal(date_brussels_offset(autumn), 3600);
	/* 23:30 UTC on 31 December is already 1 January in Brussels. */
	assert_int_equal(
	    date_today(
		((int64_t)civil(2024, 12, 31) * 86400 + 84600) * 1000000),
	    civil(2025, 1, 1));
	/* 22:30 UTC on 30 June is 1 July (CEST). */
	assert_int_equal(
	    date_today(((int64_t)civil(2024, 6, 30) * 86400 + 81000) * 1000000),
	    civil(2024, 7, 1));
	assert_int_equal(
	    date_today(((int64_t)civil(2024, 6, 30) * 86400 + 77400) * 1000000),
	    civil(2024, 6, 30));
}

/* A bare date is midnight in Brussels: checked with mktime, every day. */
static void
test_timestamp_parse_date(void **state)
{
	struct tm   tm;
	char       *saved, buf[DATE_BUFSZ];
	const char *why;
	int32_t     day;
	int64_t     us;
	time_t      want;
	int         y;
	unsigned    m, d;

	(void)state;
	if (tz_brussels(&saved) == -1) {
		tz_restore(saved);
		skip();
	}
	for (day = civil(2000, 1, 1); day <= civil(2199, 12, 31); day++) {
		date_format(day, buf, sizeof(buf));
		date_to_civil(day, &y, &m, &d);
		memset(&tm, 0, sizeof(tm));
		tm.tm_year = y - 1900;
		tm.tm_mon = (int)m - 1;
		tm.tm_mday = (int)d;
		tm.tm_isdst = -1;
		want = mktime(&tm);
		assert_true(want != (time_t)-1);
		assert_int_equal(timestamp_parse(buf, &us, &why), 0);
		if (us != (int64_t)want * 1000000)
			fail_msg("%s: %lld, want %lld", buf, (long long)us,
			    (long long)want * 1000000);
	}
	tz_restore(saved);
}

/* timestamp_format and timestamp_parse are inverses. */
static void
test_timestamp_round_trip(void **state)
{
	static const struct {
		int64_t     us;
		const char *s;
	} fixed[] = {
	    {INT64_C(946684800000000), "2000-01-01T00:00:00.000000Z"},
	    {INT64_C(1709164800123456), "2024-02-29T00:00:00.123456Z"},
	    {INT64_C(1711846799999999), "2024-03-31T00:59:59.999999Z"},
	};
	int64_t     us, back, lo, hi;
	uint64_t    x = 88172645463325252u;
	char        buf[TIMESTAMP_BUFSZ];
	const char *why;
	size_t      i;

	(void)state;
	for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		assert_string_equal(
		    timestamp_format(fixed[i].us, buf, sizeof(buf)),
		    fixed[i].s);
		assert_int_equal(timestamp_parse(fixed[i].s, &back, &why), 0);
		assert_int_equal(back, fixed[i].us);
	}
	lo = (int64_t)civil(2000, 1, 1) * 86400 * 1000000;
	hi = (int64_t)civil(2200, 1, 1) * 86400 * 1000000;
	for (i = 0; i < 100000; i++) {
		x ^= x << 13; /* xorshift64: reproducible, no libc rand */
		x ^= x >> 7;
		x ^= x << 17;
		us = lo + (int64_t)(x % (uint64_t)(hi - lo));
		timestamp_format(us, buf, sizeof(buf));
		if (timestamp_parse(buf, &back, &why) != 0 || back != us)
			fail_msg("%lld -> %s -> %lld", (long long)us, buf,
			    (long long)back);
	}
}

/*
 * timestamp_format keeps the last two days it wrote: times a few minutes
 * apart across days (a leap day among them), three days in turn, and a
 * buffer too short for the whole each come out as they should.
 */
static void
test_timestamp_day_by_day(void **state)
{
	static const char *days[] = {"2024-02-28T23:00:00.000000Z",
	    "2024-02-29T23:00:00.000000Z", "2024-03-01T23:00:00.000000Z"};
	int64_t     start = INT64_C(1709161200000000); /* 2024-02-28T23:00Z */
	int64_t     us, back;
	char        buf[TIMESTAMP_BUFSZ], shortbuf[14];
	const char *why;
	int         i;

	(void)state;
	for (i = 0; i < 3000; i++) {
		us = start + (int64_t)i * 7 * 60 * 1000000 + i;
		timestamp_format(us, buf, sizeof(buf));
		if (timestamp_parse(buf, &back, &why) != 0 || back != us)
			fail_msg("%lld -> %s -> %lld", (long long)us, buf,
			    (long long)back);
	}
	for (i = 0; i < 12; i++) {
		us = start + (int64_t)(i % 3) * 86400 * 1000000;
		assert_string_equal(
		    timestamp_format(us, buf, sizeof(buf)), days[i % 3]);
		us = start + (int64_t)(i / 4) * 86400 * 1000000;
		assert_string_equal(
		    timestamp_format(us, buf, sizeof(buf)), days[i / 4]);
	}
	assert_string_equal(timestamp_format(start, shortbuf, sizeof(shortbuf)),
	    "2024-02-28T23");
}

/* timestamp_parse: the other accepted shapes and the refusals. */
static void
test_timestamp_parse_forms(void **state)
{
	static const char *bad[] = {
	    "",
	    "2024-01-01T",
	    "2024-01-01T00:00:00",
	    "2024-01-01T00:00:00z",
	    "2024-01-01 00:00:00Z",
	    "2024-01-01T24:00:00Z",
	    "2024-01-01T00:60:00Z",
	    "2024-01-01T00:00:60Z",
	    "2024-01-01T00:00:00.Z",
	    "2024-01-01T00:00:00.1234567Z",
	    "2024-01-01T00:00:00ZZ",
	    "2024-01-01T00:00:00+01:00",
	    "1999-12-31T23:59:59Z",
	    "2024-02-30T00:00:00Z",
	};
	int64_t     us, base = (int64_t)civil(2024, 1, 1) * 86400 * 1000000;
	const char *why;
	size_t      i;

	(void)state;
	assert_int_equal(timestamp_parse("2024-01-01T00:00:00Z", &us, &why), 0);
	assert_int_equal(us, base);
	assert_int_equal(
	    timestamp_parse("2024-01-01T12:34:56.5Z", &us, &why), 0);
	assert_int_equal(us, base + INT64_C(45296500000));
	assert_int_equal(
	    timestamp_parse("2024-01-01T00:00:00.000001Z", &us, &why), 0);
	assert_int_equal(us, base + 1);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		if (timestamp_parse(bad[i], &us, &why) != -1)
			fail_msg("timestamp_parse(\"%s\") accepted", bad[i]);
		assert_non_null(why);
	}
	assert_int_equal(timestamp_parse(NULL, &us, &why), -1);
}

static void
test_duration_parse(void **state)
{
	static const struct {
		const char *s;
		int64_t     secs;
	} ok[] = {
	    {"90s", 90},
	    {"30m", 1800},
	    {"12h", 43200},
	    {"60d", 5184000},
	    {"1s", 1},
	};
	static const char *bad[] = {
	    "0s",
	    "0d",
	    "5",
	    "5x",
	    "-5s",
	    "",
	    "s",
	    "5 s",
	    " 5s",
	    "5s ",
	    "5ss",
	    "5S",
	    "1.5h",
	    "1234567890s",
	};
	const char *why;
	int64_t     secs;
	size_t      i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		secs = -1;
		assert_int_equal(duration_parse(ok[i].s, &secs, &why), 0);
		assert_int_equal(secs, ok[i].secs);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		if (duration_parse(bad[i], &secs, &why) != -1)
			fail_msg("duration_parse(\"%s\") accepted", bad[i]);
		assert_non_null(why);
	}
	assert_int_equal(duration_parse(NULL, &secs, &why), -1);
}

/* rid_parse: valid numbers in every accepted spelling. */
static void
test_rid_parse_ok(void **state)
{
	static const struct {
		const char *in, *out;
	} ok[] = {
	    {"0566988259", "0566988259"},
	    {"0884303369", "0884303369"},
	    {"0123456749", "0123456749"},
	    {"0314595348", "0314595348"},
	    {"1006872569", "1006872569"},
	    {"0353456320", "0353456320"},
	    {"BE 0123.456.749", "0123456749"},
	    {"BE0123456749", "0123456749"},
	    {"be 0123 456 749", "0123456749"},
	    {"0123.456.749", "0123456749"},
	    {"123456749", "0123456749"},
	    {"123.456.749", "0123456749"},
	};
	char        out[RID_LEN + 1];
	const char *why;
	size_t      i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		why = NULL;
		memset(out, 'x', sizeof(out));
		if (rid_parse(ok[i].in, out, &why) != 0)
			fail_msg(
			    "rid_parse(\"%s\") refused: %s", ok[i].in, why);
		assert_string_equal(out, ok[i].out);
	}
}

/* rid_parse: establishment units get their own message. */
static void
test_rid_parse_establishment(void **state)
{
	static const char *units[] = {
	    "2297964444", "2147812701", "2.297.964.444"};
	char        out[RID_LEN + 1];
	const char *why;
	size_t      i;

	(void)state;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		why = NULL;
		assert_int_equal(rid_parse(units[i], out, &why), -1);
		assert_non_null(why);
		if (strstr(why, "establishment") == NULL ||
		    strstr(why, "unit") == NULL)
			fail_msg("\"%s\": %s", units[i], why);
	}
}

/* rid_parse: everything else is refused, never with the unit message. */
static void
test_rid_parse_bad(void **state)
{
	static const char *bad[] = {
	    "0123456748",    /* check digits */
	    "0123456750",    /* check digits */
	    "1006872568",    /* check digits */
	    "0123A56749",    /* a letter */
	    "O123456749",    /* the letter O */
	    "01234567490",   /* 11 digits */
	    "12345674",      /* 8 digits */
	    "",              /* empty */
	    "BE",            /* nothing after the prefix */
	    "...",           /* no digits */
	    "0123-456-749",  /* dashes */
	    "NL0123456749",  /* another country */
	    "0123456749 BE", /* prefix at the end */
	};
	char        out[RID_LEN + 1];
	const char *why;
	size_t      i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		if (rid_parse(bad[i], out, &why) != -1)
			fail_msg("rid_parse(\"%s\") accepted: %s", bad[i], out);
		assert_non_null(why);
		assert_null(strstr(why, "establishment"));
	}
	assert_int_equal(rid_parse(NULL, out, &why), -1);
}

static void
test_rid_format(void **state)
{
	char buf[RID_BUFSZ];

	(void)state;
	assert_string_equal(
	    rid_format("0123456749", buf, sizeof(buf)), "0123.456.749");
	assert_string_equal(
	    rid_format("1006872569", buf, sizeof(buf)), "1006.872.569");
	/* Not ten digits: printed as it is. */
	assert_string_equal(rid_format("12345", buf, sizeof(buf)), "12345");
}

/* Every code: lowercase [a-z_], unique, and maps back to its enum. */
static void
test_err_codes(void **state)
{
	const char *c, *p;
	int         i, j;

	(void)state;
	assert_string_equal(budget_err_code(BUDGET_OK), "ok");
	for (i = 0; i < BUDGET_ERR__COUNT; i++) {
		c = budget_err_code((enum budget_err)i);
		assert_non_null(c);
		assert_true(c[0] != '\0');
		for (p = c; *p != '\0'; p++) {
			if (!((*p >= 'a' && *p <= 'z') || *p == '_'))
				fail_msg("code %d \"%s\": bad character", i, c);
		}
		assert_int_equal(budget_err_from_code(c), i);
		for (j = 0; j < i; j++)
			assert_string_not_equal(
			    c, budget_err_code((enum budget_err)j));
		assert_non_null(budget_err_summary((enum budget_err)i));
		assert_true(budget_err_summary((enum budget_err)i)[0] != '\0');
	}
	assert_int_equal(budget_err_from_code("no_such_code"), -1);
	assert_int_equal(budget_err_from_code(""), -1);
	assert_int_equal(budget_err_from_code("OK"), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_money_parse_ok),
	    cmocka_unit_test(test_money_parse_bad),
	    cmocka_unit_test(test_money_format),
	    cmocka_unit_test(test_money_format_parse_round_trip),
	    cmocka_unit_test(test_money_overflow),
	    cmocka_unit_test(test_money_rate),
	    cmocka_unit_test(test_date_parse),
	    cmocka_unit_test(test_date_add_years),
	    cmocka_unit_test(test_date_civil_round_trip),
	    cmocka_unit_test(test_date_brussels_offset),
	    cmocka_unit_test(test_date_brussels_transitions),
	    cmocka_unit_test(test_timestamp_parse_date),
	    cmocka_unit_test(test_timestamp_round_trip),
	    cmocka_unit_test(test_timestamp_day_by_day),
	    cmocka_unit_test(test_timestamp_parse_forms),
	    cmocka_unit_test(test_duration_parse),
	    cmocka_unit_test(test_rid_parse_ok),
	    cmocka_unit_test(test_rid_parse_establishment),
	    cmocka_unit_test(test_rid_parse_bad),
	    cmocka_unit_test(test_rid_format),
	    cmocka_unit_test(test_err_codes),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
