/*
 * canon.h: the canonical form of a journal entry and the hash chain over
 * it (proto/canon.c): what budgetd hashes, verify re-hashes and budgetctl
 * exports, from one definition.
 */
#ifndef BUDGET_CANON_H
#define BUDGET_CANON_H

#include <stddef.h>
#include <stdint.h>

struct Budgetstore__JournalEntry;

/* store.proto's `bytes hash = 36`: the one field the canonical form omits. */
#define BUDGETSTORE_JOURNAL_HASH_FIELD 36

/*
 * Call cb(name, value, number, arg) for each field of the entry that is
 * set, in field-number order, "hash" excluded, with value as hashed
 * (before %XX escaping) and number 1 for a plain integer. value lives
 * until cb returns.
 */
void journal_fields(const struct Budgetstore__JournalEntry *,
    void (*cb)(const char *, const char *, int, void *), void *);

/* The canonical form, NUL-terminated (free it); its length in *lenp. */
char *journal_canonical(const struct Budgetstore__JournalEntry *, size_t *);

/*
 * The same into *buf, of *cap bytes, which it grows (realloc) when short:
 * one buffer for a walk over many entries. The form's length.
 */
size_t journal_canonical_into(
    const struct Budgetstore__JournalEntry *, char **buf, size_t *cap);

/* SHA-256(prev || data): one link of the chain. */
void journal_hash(const uint8_t[32], const void *, size_t, uint8_t[32]);

/* SHA-256 of n parts in a row. */
void budget_sha256(const void *const *, const size_t *, size_t, uint8_t[32]);

#endif /* BUDGET_CANON_H */
