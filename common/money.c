/*
 * money.c: parsing, printing and checked arithmetic of euro cents. Owns the
 * rule that an amount typed by a person has at most two decimals and fits
 * comfortably in int64.
 */
#include <stdio.h>
#include <string.h>

#include "budget/money.h"

int
money_parse(const char *s, int64_t *cents, const char **why)
{
	int64_t     euros = 0, frac = 0;
	const char *p = s;
	int         ndig = 0, nfrac = 0;

	if (s == NULL || *s == '\0') {
		*why = "amount is empty";
		return (-1);
	}
	if (*p == '-' || *p == '+') {
		*why = "amount must be a plain positive number of euros";
		return (-1);
	}
	for (; *p >= '0' && *p <= '9'; p++) {
		/* 13 integer digits already exceed MONEY_MAX_CENTS / 100. */
		if (++ndig > 12) {
			*why = "amount is too large";
			return (-1);
		}
		euros = euros * 10 + (*p - '0');
	}
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++) {
			if (++nfrac > 2) {
				*why = "amount has more than two decimals";
				return (-1);
			}
			frac = frac * 10 + (*p - '0');
		}
		if (nfrac == 0) {
			*why = "amount has a '.' without decimals";
			return (-1);
		}
		if (nfrac == 1)
			frac *= 10;
	}
	if (*p != '\0' || ndig == 0) {
		*why = "amount must look like 4250, 4250.5 or 4250.50";
		return (-1);
	}
	*cents = euros * 100 + frac;
	if (*cents > MONEY_MAX_CENTS) {
		*why = "amount is too large";
		return (-1);
	}
	return (0);
}

char *
money_format(int64_t cents, char *buf, size_t len)
{
	uint64_t    u;
	const char *sign = "";

	if (cents < 0) {
		sign = "-";
		u = (uint64_t)0 - (uint64_t)cents;
	} else
		u = (uint64_t)cents;
	snprintf(buf, len, "%s%llu.%02llu", sign, (unsigned long long)(u / 100),
	    (unsigned long long)(u % 100));
	return (buf);
}

char *
money_format_grouped(int64_t cents, char *buf, size_t len)
{
	char   plain[MONEY_BUFSZ], out[MONEY_BUFSZ * 2];
	char  *dot, *q = out;
	size_t i, start, nint;

	money_format(cents, plain, sizeof(plain));
	start = plain[0] == '-' ? 1 : 0;
	if (start)
		*q++ = '-';
	dot = strchr(plain, '.');
	nint = (size_t)(dot - plain) - start;
	for (i = 0; i < nint; i++) {
		if (i > 0 && (nint - i) % 3 == 0)
			*q++ = ',';
		*q++ = plain[start + i];
	}
	strcpy(q, dot);
	snprintf(buf, len, "%s", out);
	return (buf);
}

int
money_add(int64_t a, int64_t b, int64_t *r)
{
	int64_t t;

	if (__builtin_add_overflow(a, b, &t))
		return (-1);
	*r = t;
	return (0);
}

int
money_sub(int64_t a, int64_t b, int64_t *r)
{
	int64_t t;

	if (__builtin_sub_overflow(a, b, &t))
		return (-1);
	*r = t;
	return (0);
}

int64_t
money_rate(int64_t cents, uint32_t bp)
{
	/*
	 * Split to stay inside int64: (q*10000 + r) * bp / 10000 =
	 * q*bp + r*bp/10000, and r*bp < 10^8.
	 */
	int64_t q = cents / 10000, r = cents % 10000;

	return (q * (int64_t)bp + (r * (int64_t)bp) / 10000);
}
