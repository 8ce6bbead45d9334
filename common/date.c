/*
 * date.c: calendar arithmetic for business dates and the journal's UTC
 * timestamps. Owns the Europe/Brussels rule (CET, CEST from the last Sunday
 * of March to the last Sunday of October, 01:00 UTC, as EU law fixes it) so
 * that "today" does not depend on the host's time zone or tzdata.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "budget/date.h"

/*
 * Days from civil and back: Howard Hinnant's algorithms, exact for the
 * proleptic Gregorian calendar and free of tables and floating point.
 */
int32_t
date_from_civil(int y, unsigned m, unsigned d)
{
	int      era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return ((int32_t)(era * 146097 + (int)doe - 719468));
}

void
date_to_civil(int32_t days, int *y, unsigned *m, unsigned *d)
{
	int      z = days + 719468, era;
	unsigned doe, yoe, doy, mp;

	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int)yoe + era * 400 + (*m <= 2);
}

static int
date_leap(int y)
{
	return ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0);
}

static unsigned
date_mdays(int y, unsigned m)
{
	static const unsigned mdays[12] = {
	    31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	return (m == 2 && date_leap(y) ? 29 : mdays[m - 1]);
}

int
date_valid(int y, unsigned m, unsigned d)
{
	if (y < DATE_MIN_YEAR || y > DATE_MAX_YEAR || m < 1 || m > 12)
		return (0);
	return (d >= 1 && d <= date_mdays(y, m));
}

/* Parse n digits at s; -1 when any is not a digit. */
static int
date_digits(const char *s, int n)
{
	int v = 0;

	for (; n > 0; n--, s++) {
		if (*s < '0' || *s > '9')
			return (-1);
		v = v * 10 + (*s - '0');
	}
	return (v);
}

int
date_parse(const char *s, int32_t *days, const char **why)
{
	int y, m, d;

	if (s == NULL || strlen(s) != 10 || s[4] != '-' || s[7] != '-' ||
	    (y = date_digits(s, 4)) < 0 || (m = date_digits(s + 5, 2)) < 0 ||
	    (d = date_digits(s + 8, 2)) < 0) {
		*why = "date must be written YYYY-MM-DD";
		return (-1);
	}
	if (y < DATE_MIN_YEAR || y > DATE_MAX_YEAR) {
		*why = "date is outside the years 2000-2199";
		return (-1);
	}
	if (!date_valid(y, (unsigned)m, (unsigned)d)) {
		*why = "date does not exist in the calendar";
		return (-1);
	}
	*days = date_from_civil(y, (unsigned)m, (unsigned)d);
	return (0);
}

/*
 * v as exactly n decimal digits at p. Dates and times are formatted for
 * every journal entry hashed, verified or exported: snprintf's parsing of
 * its format was the largest part of that.
 */
static char *
put_digits(char *p, unsigned v, int n)
{
	int i;

	for (i = n - 1; i >= 0; i--) {
		p[i] = (char)('0' + v % 10);
		v /= 10;
	}
	return (p + n);
}

/* "YYYY-MM-DD" at p, or NULL when the year has not four digits. */
static char *
put_date(char *p, int y, unsigned m, unsigned d)
{
	if (y < 0 || y > 9999)
		return (NULL);
	p = put_digits(p, (unsigned)y, 4);
	*p++ = '-';
	p = put_digits(p, m, 2);
	*p++ = '-';
	return (put_digits(p, d, 2));
}

char *
date_format(int32_t days, char *buf, size_t len)
{
	int      y;
	unsigned m, d;
	char    *p;

	date_to_civil(days, &y, &m, &d);
	if (len >= DATE_BUFSZ && (p = put_date(buf, y, m, d)) != NULL)
		*p = '\0';
	else
		snprintf(buf, len, "%04d-%02u-%02u", y, m, d);
	return (buf);
}

int32_t
date_add_years(int32_t days, int n)
{
	int      y;
	unsigned m, d;

	date_to_civil(days, &y, &m, &d);
	y += n;
	if (m == 2 && d == 29 && !date_leap(y))
		d = 28;
	return (date_from_civil(y, m, d));
}

int
date_year(int32_t days)
{
	int      y;
	unsigned m, d;

	date_to_civil(days, &y, &m, &d);
	return (y);
}

/* The last Sunday of a month, as days since the epoch. */
static int32_t
date_last_sunday(int y, unsigned m)
{
	int32_t last = date_from_civil(y, m, date_mdays(y, m));
	int     wday = (int)((last % 7 + 7 + 4) % 7); /* 1970-01-01: Thu */

	return (last - wday);
}

int
date_brussels_offset(int64_t utc_s)
{
	int64_t day = utc_s >= 0 ? utc_s / 86400 : -((-utc_s + 86399) / 86400);
	int     y = date_year((int32_t)day);
	int64_t start, end;

	start = (int64_t)date_last_sunday(y, 3) * 86400 + 3600;
	end = (int64_t)date_last_sunday(y, 10) * 86400 + 3600;
	return (utc_s >= start && utc_s < end ? 7200 : 3600);
}

int32_t
date_today(int64_t now_us)
{
	int64_t s = now_us / 1000000;

	s += date_brussels_offset(s);
	return ((int32_t)(s >= 0 ? s / 86400 : -((-s + 86399) / 86400)));
}

int64_t
timestamp_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
}

/*
 * The two days a thread last formatted, as "YYYY-MM-DD": a journal's
 * entries come a day at a time, with now and then an expiry some days
 * on, and verify and export format each one's times.
 */
struct ts_day {
	int32_t day;
	int     valid;
	char    ymd[DATE_BUFSZ];
};
static _Thread_local struct ts_day ts_days[2];
static _Thread_local unsigned      ts_older; /* the slot to reuse */

char *
timestamp_format(int64_t us, char *buf, size_t len)
{
	int64_t        s = us / 1000000, rem = us % 1000000;
	int32_t        day;
	int            y;
	unsigned       m, d, sod;
	char          *p;
	struct ts_day *c;

	if (len < TIMESTAMP_BUFSZ) { /* the whole, cut as snprintf would */
		char whole[TIMESTAMP_BUFSZ];

		snprintf(
		    buf, len, "%s", timestamp_format(us, whole, sizeof(whole)));
		return (buf);
	}
	if (rem < 0) {
		rem += 1000000;
		s--;
	}
	day = (int32_t)(s >= 0 ? s / 86400 : -((-s + 86399) / 86400));
	sod = (unsigned)(s - (int64_t)day * 86400);
	if (ts_days[0].valid && ts_days[0].day == day) {
		c = &ts_days[0];
		ts_older = 1;
	} else if (ts_days[1].valid && ts_days[1].day == day) {
		c = &ts_days[1];
		ts_older = 0;
	} else {
		date_to_civil(day, &y, &m, &d);
		c = &ts_days[ts_older];
		if ((p = put_date(c->ymd, y, m, d)) == NULL) {
			c->valid = 0;
			snprintf(buf, len,
			    "%04d-%02u-%02uT%02u:%02u:%02u.%06lldZ", y, m, d,
			    sod / 3600, sod / 60 % 60, sod % 60,
			    (long long)rem);
			return (buf);
		}
		*p = '\0';
		c->day = day;
		c->valid = 1;
		ts_older ^= 1;
	}
	memcpy(buf, c->ymd, DATE_BUFSZ - 1);
	p = buf + DATE_BUFSZ - 1;
	*p++ = 'T';
	p = put_digits(p, sod / 3600, 2);
	*p++ = ':';
	p = put_digits(p, sod / 60 % 60, 2);
	*p++ = ':';
	p = put_digits(p, sod % 60, 2);
	*p++ = '.';
	p = put_digits(p, (unsigned)rem, 6);
	*p++ = 'Z';
	*p = '\0';
	return (buf);
}

int
timestamp_parse(const char *s, int64_t *us, const char **why)
{
	int32_t day;
	int     hh, mm, ss, frac = 0, n;
	size_t  len;
	char    datepart[DATE_BUFSZ];
	int64_t t;

	len = s != NULL ? strlen(s) : 0;
	if (len < 10) {
		*why = "time must be YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ";
		return (-1);
	}
	memcpy(datepart, s, 10);
	datepart[10] = '\0';
	if (date_parse(datepart, &day, why) == -1)
		return (-1);
	if (len == 10) {
		/* Midnight in Brussels: shift by the offset in force then. */
		t = (int64_t)day * 86400;
		t -= date_brussels_offset(t - 3600);
		*us = t * 1000000;
		return (0);
	}
	if (len < 20 || s[10] != 'T' || s[13] != ':' || s[16] != ':' ||
	    (hh = date_digits(s + 11, 2)) < 0 ||
	    (mm = date_digits(s + 14, 2)) < 0 ||
	    (ss = date_digits(s + 17, 2)) < 0 || hh > 23 || mm > 59 || ss > 59)
		goto bad;
	n = 19;
	if (s[n] == '.') {
		int digits = 0;

		for (n++; s[n] >= '0' && s[n] <= '9'; n++) {
			if (++digits > 6)
				goto bad;
			frac = frac * 10 + (s[n] - '0');
		}
		if (digits == 0)
			goto bad;
		for (; digits < 6; digits++)
			frac *= 10;
	}
	if (s[n] != 'Z' || s[n + 1] != '\0')
		goto bad;
	*us =
	    ((int64_t)day * 86400 + hh * 3600 + mm * 60 + ss) * 1000000 + frac;
	return (0);
bad:
	*why = "time must be YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS[.uuuuuu]Z (UTC)";
	return (-1);
}

int
duration_parse(const char *s, int64_t *secs, const char **why)
{
	int64_t     v = 0, mult;
	const char *p = s;
	int         nd = 0;

	for (; p != NULL && *p >= '0' && *p <= '9'; p++) {
		if (++nd > 9) {
			*why = "duration is too long";
			return (-1);
		}
		v = v * 10 + (*p - '0');
	}
	if (nd == 0 || p[0] == '\0' || p[1] != '\0') {
		*why =
		    "duration must be a number with a unit: 90s, 30m, 12h, 60d";
		return (-1);
	}
	switch (*p) {
	case 's':
		mult = 1;
		break;
	case 'm':
		mult = 60;
		break;
	case 'h':
		mult = 3600;
		break;
	case 'd':
		mult = 86400;
		break;
	default:
		*why = "duration unit must be s, m, h or d";
		return (-1);
	}
	if (v == 0) {
		*why = "duration must be longer than zero";
		return (-1);
	}
	*secs = v * mult;
	return (0);
}
