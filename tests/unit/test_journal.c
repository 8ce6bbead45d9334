/*
 * test_journal.c: the canonical form an entry is hashed in (daemon/journal.c).
 * Auditors re-verify exports with their own tools from the README's
 * description, so the form is pinned here byte for byte: escaping, times,
 * dates, negative and repeated numbers, defaults left out, the hash field
 * never part of its own input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "budget/date.h"
#include "budgetd.h"
#include "store.pb-c.h"

/* budgetd_core's other objects refer to these; the tests never call them. */
struct budgetd *bd;
void
budgetd_shutdown(void)
{
}
void
budgetd_maybe_exit(void)
{
}

static const char golden[] = "seq=7\n"
			     "time=2024-02-29T12:34:56.000789Z\n"
			     "kind=dossier_reserve\n"
			     "request_id=r%201%25\n"
			     "uid=1000\n"
			     "amount=-5\n"
			     "date=2024-02-29\n"
			     "grant_ids=1,18446744073709551615\n"
			     "grant_amounts=-300,400\n"
			     "text=a%0Ab%C3%A9\n";

static void
fill(Budgetstore__JournalEntry *m, uint64_t *ids, int64_t *amounts)
{
	int32_t     day;
	const char *why;

	assert_int_equal(date_parse("2024-02-29", &day, &why), 0);
	m->seq = 7;
	m->time =
	    ((int64_t)day * 86400 + 12 * 3600 + 34 * 60 + 56) * 1000000 + 789;
	m->kind = PB_STR("dossier_reserve");
	m->request_id = PB_STR("r 1%");
	m->uid = 1000;
	m->error = PB_STR(""); /* empty: left out */
	m->amount = -5;
	m->date = day;
	ids[0] = 1;
	ids[1] = UINT64_MAX;
	m->n_grant_ids = 2;
	m->grant_ids = ids;
	amounts[0] = -300;
	amounts[1] = 400;
	m->n_grant_amounts = 2;
	m->grant_amounts = amounts;
	m->text = PB_STR("a\nb\xc3\xa9");
}

static void
test_canonical_golden(void **state)
{
	Budgetstore__JournalEntry m = BUDGETSTORE__JOURNAL_ENTRY__INIT;
	uint64_t                  ids[2];
	int64_t                   amounts[2];
	char                     *s;
	size_t                    len;

	(void)state;
	fill(&m, ids, amounts);
	s = journal_canonical(&m, &len);
	assert_string_equal(s, golden);
	assert_int_equal(len, strlen(golden));
	free(s);
}

/* The stored hash is the output; setting it must not change the input. */
static void
test_canonical_ignores_hash(void **state)
{
	Budgetstore__JournalEntry       m = BUDGETSTORE__JOURNAL_ENTRY__INIT;
	const ProtobufCFieldDescriptor *f;
	uint64_t                        ids[2];
	int64_t                         amounts[2];
	uint8_t                         h[32];
	char                           *s;
	size_t                          len;

	(void)state;
	f = protobuf_c_message_descriptor_get_field_by_name(
	    &budgetstore__journal_entry__descriptor, "hash");
	assert_non_null(f);
	assert_int_equal(f->id, BUDGETSTORE_JOURNAL_HASH_FIELD);

	fill(&m, ids, amounts);
	memset(h, 0xab, sizeof(h));
	m.hash.data = h;
	m.hash.len = sizeof(h);
	s = journal_canonical(&m, &len);
	assert_string_equal(s, golden);
	free(s);
}

/* One line of journal_fields' view, escaped here as README says. */
static void
view_line_cb(const char *name, const char *value, int number, void *arg)
{
	char       *out = arg, *o = out + strlen(out);
	const char *p;

	o += sprintf(o, "%s=", name);
	for (p = value; *p != '\0'; p++) {
		unsigned char b = (unsigned char)*p;

		if (number || (b > 0x20 && b < 0x7f && b != '%'))
			*o++ = (char)b;
		else
			o += sprintf(o, "%%%02X", b);
	}
	*o++ = '\n';
	*o = '\0';
}

/*
 * Every view of the journal (history, export) shows the fields
 * journal_fields gives, and auditors re-hash exports from them: they must
 * make the very bytes journal_canonical_into hashes, which writes its
 * lines without journal_fields, for speed.
 */
static void
test_fields_agree_with_canonical(void **state)
{
	Budgetstore__JournalEntry m = BUDGETSTORE__JOURNAL_ENTRY__INIT;
	uint64_t                  ids[2];
	int64_t                   amounts[2];
	char                      view[2048], *s = NULL;
	size_t                    len, cap = 0;

	(void)state;
	fill(&m, ids, amounts);
	m.expires_at = -1; /* a microsecond before 1970 */
	m.until = -719468; /* 0000-03-01 */
	m.company = PB_STR("0123456789");
	m.name = PB_STR("%% \t\x7f\xff,=");
	m.budget = INT64_MIN;
	m.subsidy = INT64_MAX;
	view[0] = '\0';
	journal_fields(&m, view_line_cb, view);
	len = journal_canonical_into(&m, &s, &cap);
	assert_string_equal(s, view);
	assert_int_equal(len, strlen(view));
	assert_non_null(strstr(s, "expires_at=1969-12-31T23:59:59.999999Z\n"));
	assert_non_null(strstr(s, "until=0000-03-01\n"));
	assert_non_null(strstr(s, "budget=-9223372036854775808\n"));
	assert_non_null(strstr(s, "name=%25%25%20%09%7F%FF,=\n"));
	/* The buffer is reused: a shorter entry leaves nothing behind. */
	m = (Budgetstore__JournalEntry)BUDGETSTORE__JOURNAL_ENTRY__INIT;
	m.seq = 1;
	len = journal_canonical_into(&m, &s, &cap);
	assert_string_equal(s, "seq=1\n");
	assert_int_equal(len, 6);
	free(s);
}

/* The canonical form of an entry whose only field is name = s. */
static void
canonical_name_agrees(const char *s)
{
	Budgetstore__JournalEntry m = BUDGETSTORE__JOURNAL_ENTRY__INIT;
	char                      view[256], *c = NULL;
	size_t                    cap = 0;

	m.name = (char *)(uintptr_t)s;
	view[0] = '\0';
	journal_fields(&m, view_line_cb, view);
	journal_canonical_into(&m, &c, &cap);
	assert_string_equal(c, view);
	free(c);
}

/*
 * journal_canonical_into tests eight bytes at a time whether a string
 * needs escaping: every byte value at every place in and around a word,
 * then strings of the values at the edges of each test (0x20/0x21,
 * 0x7e/0x7f, '%', 0xff, next to plain bytes, whose borrows and carries
 * could hide one), each written exactly as the reference escapes it.
 */
static void
test_escapes_every_byte_everywhere(void **state)
{
	static const unsigned char edge[] = {0x01, 0x20, 0x21, 0x24, 0x25, 0x26,
	    0x7e, 0x7f, 0x80, 0xfe, 0xff, 'a', 'a', 'a'};
	uint64_t                   r = 0x9e3779b97f4a7c15;
	char                       s[41];
	unsigned                   b, pos, i, len, n;

	(void)state;
	for (b = 1; b < 256; b++) {
		for (pos = 0; pos < 17; pos++) {
			memset(s, 'a', 17);
			s[17] = '\0';
			s[pos] = (char)b;
			canonical_name_agrees(s);
		}
	}
	for (n = 0; n < 20000; n++) {
		r = r * 6364136223846793005u + 1442695040888963407u;
		len = (unsigned)(r >> 58) % 41;
		for (i = 0; i < len; i++) {
			r = r * 6364136223846793005u + 1442695040888963407u;
			s[i] = (char)edge[(r >> 33) % sizeof(edge)];
		}
		s[len] = '\0';
		canonical_name_agrees(s);
	}
}

/* hash(n) = SHA-256(hash(n-1) || canonical(n)), on a known vector. */
static void
test_hash_vector(void **state)
{
	/* SHA-256 of 32 zero bytes followed by "abc". */
	static const uint8_t want[32] = {0x36, 0x5a, 0xa7, 0xd8, 0xf7, 0xf9,
	    0x40, 0x2c, 0x4b, 0x94, 0x34, 0x50, 0x2b, 0x4c, 0xc8, 0x9d, 0xdb,
	    0x09, 0xfe, 0x50, 0xd7, 0xcd, 0x95, 0xb4, 0x93, 0xb8, 0x34, 0xc6,
	    0x2d, 0x5a, 0x53, 0x70};
	uint8_t              prev[32], out[32];

	(void)state;
	memset(prev, 0, sizeof(prev));
	journal_hash(prev, "abc", 3, out);
	assert_memory_equal(out, want, 32);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_canonical_golden),
	    cmocka_unit_test(test_fields_agree_with_canonical),
	    cmocka_unit_test(test_escapes_every_byte_everywhere),
	    cmocka_unit_test(test_canonical_ignores_hash),
	    cmocka_unit_test(test_hash_vector),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
