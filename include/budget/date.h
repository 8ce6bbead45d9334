/*
 * date.h: business dates and timestamps.
 *
 * A business date (decision date, grant date) is a calendar day in
 * Europe/Brussels, held as int32 days since 1970-01-01. A timestamp (the
 * journal's own clock) is int64 microseconds since the epoch, UTC.
 */
#ifndef BUDGET_DATE_H
#define BUDGET_DATE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* The range of dates the ledger accepts at all. */
#define DATE_MIN_YEAR 2000
#define DATE_MAX_YEAR 2199

#define DATE_BUFSZ      11 /* "YYYY-MM-DD" and a NUL */
#define TIMESTAMP_BUFSZ 32 /* "YYYY-MM-DDTHH:MM:SS.uuuuuuZ" and a NUL */

/* Days since 1970-01-01 of a proleptic Gregorian date (no range check). */
int32_t date_from_civil(int y, unsigned m, unsigned d);
void    date_to_civil(int32_t days, int *y, unsigned *m, unsigned *d);

/* 1 when (y, m, d) is a real calendar day within the accepted range. */
int date_valid(int y, unsigned m, unsigned d);

/*
 * Parse exactly "YYYY-MM-DD" naming a real day in the accepted range.
 * Returns 0, or -1 with *why set.
 */
int   date_parse(const char *s, int32_t *days, const char **why);
char *date_format(int32_t days, char *buf, size_t len);

/*
 * The same calendar day n years later (n may be negative); 29 February
 * becomes 28 February in a year that has none.
 */
int32_t date_add_years(int32_t days, int n);

/* The calendar year of a date. */
int date_year(int32_t days);

/* Today in Europe/Brussels at the given UTC time. */
int32_t date_today(int64_t now_us);

/* UTC offset of Europe/Brussels at a UTC time, in seconds (3600 or 7200). */
int date_brussels_offset(int64_t utc_s);

/* Microseconds since the epoch, UTC, from the realtime clock. */
int64_t timestamp_now(void);
char   *timestamp_format(int64_t us, char *buf, size_t len);

/*
 * Parse "YYYY-MM-DD" (midnight Europe/Brussels), "YYYY-MM-DDTHH:MM:SSZ" or
 * with fractional seconds "…SS.uuuuuuZ" (UTC). Returns 0 or -1 with *why.
 */
int timestamp_parse(const char *s, int64_t *us, const char **why);

/*
 * Parse a duration: a number with a unit s, m, h or d ("90s", "60d").
 * Returns 0 and seconds in *secs, or -1 with *why.
 */
int duration_parse(const char *s, int64_t *secs, const char **why);

#endif /* BUDGET_DATE_H */
