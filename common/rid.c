/*
 * rid.c: the enterprise number check (R-ID). Owns the distinction between
 * enterprise numbers (first digit 0 or 1) and establishment-unit numbers
 * (2-8), which share the mod-97 check but must never be confused.
 */
#include <stdio.h>
#include <string.h>

#include "budget/rid.h"

int
rid_parse(const char *s, char *out, const char **why)
{
	char          digits[RID_LEN + 2];
	size_t        n = 0;
	unsigned long first8 = 0, check;
	size_t        i;

	if (s == NULL || *s == '\0') {
		*why = "enterprise number is empty";
		return (-1);
	}
	while (*s == ' ')
		s++;
	if ((s[0] == 'B' || s[0] == 'b') && (s[1] == 'E' || s[1] == 'e'))
		s += 2;
	for (; *s != '\0'; s++) {
		if (*s == '.' || *s == ' ')
			continue;
		if (*s < '0' || *s > '9') {
			*why = "enterprise number may hold only digits, dots, "
			       "spaces and a BE prefix";
			return (-1);
		}
		if (n == RID_LEN) {
			*why = "enterprise number has more than ten digits";
			return (-1);
		}
		digits[n++] = *s;
	}
	if (n == RID_LEN - 1) {
		memmove(digits + 1, digits, n);
		digits[0] = '0';
		n++;
	}
	if (n != RID_LEN) {
		*why = "enterprise number must have ten digits";
		return (-1);
	}
	digits[n] = '\0';
	if (digits[0] >= '2' && digits[0] <= '8') {
		*why =
		    "this is an establishment-unit number (first digit 2-8), "
		    "not an enterprise number";
		return (-1);
	}
	if (digits[0] != '0' && digits[0] != '1') {
		*why = "an enterprise number starts with 0 or 1";
		return (-1);
	}
	for (i = 0; i < 8; i++)
		first8 = first8 * 10 + (unsigned long)(digits[i] - '0');
	check = (unsigned long)(digits[8] - '0') * 10 +
	    (unsigned long)(digits[9] - '0');
	if (97 - first8 % 97 != check) {
		*why = "enterprise number check digits are wrong";
		return (-1);
	}
	memcpy(out, digits, RID_LEN + 1);
	return (0);
}

char *
rid_format(const char *rid, char *buf, size_t len)
{
	if (strlen(rid) != RID_LEN)
		snprintf(buf, len, "%s", rid);
	else
		snprintf(buf, len, "%.4s.%.3s.%.3s", rid, rid + 4, rid + 7);
	return (buf);
}
