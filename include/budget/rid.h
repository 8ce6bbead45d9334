/*
 * rid.h: Belgian enterprise numbers (R-ID), the key of every company.
 */
#ifndef BUDGET_RID_H
#define BUDGET_RID_H

#include <stddef.h>

#define RID_LEN   10 /* canonical: ten digits */
#define RID_BUFSZ 16 /* room for "0123.456.749" and a NUL */

/*
 * Normalise and check an enterprise number: strip dots, spaces and an
 * optional "BE" prefix; prefix a 9-digit number with 0; require ten digits,
 * a first digit 0 or 1 and the mod-97 check digits. Establishment-unit
 * numbers (first digit 2-8) are refused with their own message. Writes the
 * ten digits and a NUL to out (RID_LEN + 1 bytes). Returns 0 or -1 with
 * *why set.
 */
int rid_parse(const char *s, char *out, const char **why);

/* "0123456749" -> "0123.456.749"; returns buf. */
char *rid_format(const char *rid, char *buf, size_t len);

#endif /* BUDGET_RID_H */
