/*
 * audit.h: what the auditor's tests (test_audit.c, test_report.c,
 * test_tamper.c, test_upgrade.c, test_regress_audit.c, the adversarial
 * audits) share beside fixture.h: a small ledger to start from,
 * budgetctl runs whose output goes to a file, the programs that check
 * that output from outside budgetd (python3 with scripts/verify-journal,
 * the csv module, an XML parser), a strict RFC 4180 reader, the journal
 * as status shows it, journal times as numbers, verify's problems, raw
 * history pages, and the data file changed behind a stopped budgetd.
 *
 * Like the harness, every au_ function fails the current cmocka test when
 * something it cannot recover from goes wrong, saying what it was doing.
 */
#ifndef BUDGET_AUDIT_H
#define BUDGET_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>
#include <protobuf-c/protobuf-c.h>

#include "fixture.h"

#ifndef BUDGET_VERIFY_JOURNAL
#error "BUDGET_VERIFY_JOURNAL must be defined by the build"
#endif
#ifndef BUDGET_PYTHON3
#error "BUDGET_PYTHON3 must be defined by the build (\"\" when none)"
#endif

/*
 * budgetctl -s SOCK --json ARGS... (NULL-terminated), like fx_ctl_json
 * and fx_ctl_json_try, but run without LeakSanitizer's check at exit in
 * sanitizer builds (most of a short budgetctl's life there): for the
 * hundreds of reads these tests make. Leaks in budgetctl are the other
 * tests' business, and these tests still run each command at least once
 * through fx_ctl_json; the daemon keeps its check.
 */
json_t *au_ctl_json(const struct h_daemon *d, int status, ...);
json_t *au_ctl_json_try(const struct h_daemon *d, int *status, ...);

/* h_run without LeakSanitizer's exit check (as au_ctl_json). */
int au_run(struct h_proc *p, const char *const argv[]);

/*
 * budgetctl -s SOCK --json ARGS... (NULL-terminated) run as nobody (uid
 * and gid H_NOBODY_*: the auditor where the config names 65534). Returns
 * the exit status, which must be an answer (0 done, 1 refused) or the
 * test fails; *out (unless out is NULL) gets the JSON on stdout, NULL
 * when there is none (json_decref it). Needs root.
 */
int au_ctl_as_nobody(const struct h_daemon *d, json_t **out, ...);

/* status --json: journal_seq (au_ctl_json). */
int64_t au_seq(const struct h_daemon *d);

/* The journal as status --json shows it. */
struct au_head {
	int64_t seq;
	char    hash[65];
};

/* status --json: journal_seq and head_hash. */
void au_head(const struct h_daemon *d, struct au_head *h);

/* Fictional enterprise numbers (R-ID check digits right). */
#define AU_CO_X "0200101397"
#define AU_CO_Y "0200202654"

/*
 * A daemon up in *state with the shipped rules, contract K with a budget
 * of budget_eur, companies AU_CO_X (small, postcode 9000) and AU_CO_Y
 * (micro, postcode 2000), and dossier D1 (MEDIUM at EUR 18,000, for
 * AU_CO_X) reserved, approved and paid paid_eur: the start of a ledger
 * with a history to look at.
 */
struct h_daemon *
au_ledger_up(void **state, const char *budget_eur, const char *paid_eur);

/*
 * A daemon up in *state whose config makes nobody (H_NOBODY_UID) an
 * auditor, with its socket open to all, and the shipped rules, contract K
 * (EUR 100,000), company AU_CO_X (named "A", small) and its dossier D1
 * (START at EUR 10,000) reserved and approved. Skips the test when it
 * cannot run budgetctl as nobody.
 */
struct h_daemon *au_auditor_ledger_up(void **state);

/* DIR/name of the daemon's directory, into buf (H_PATH_MAX + 64). */
#define AU_PATH_SZ (H_PATH_MAX + 64)
void au_path(const struct h_daemon *d, const char *name, char buf[AU_PATH_SZ]);

/* Write len bytes to path (created or truncated); fails the test. */
void au_write_file(const char *path, const char *buf, size_t len);

/* A whole file, NUL-terminated (free it); *lenp its length if not NULL. */
char *au_read_file(const char *path, size_t *lenp);

/*
 * budgetctl -s SOCK ARGS... (NULL-terminated; quiet as au_ctl_json), its
 * stdout written to path. Returns the exit status; stderr is kept in *err
 * when not NULL (free it).
 */
int au_ctl_to_file(const struct h_daemon *d, const char *path, char **err, ...);

/*
 * Skip the current test when there is no python3 (BUDGET_PYTHON3 ""):
 * the outside checks need it.
 */
void au_need_python(void);

/*
 * python3 ARGS... (NULL-terminated): the process, waited for (free it
 * with h_proc_free). Returns its exit status.
 */
int au_python(struct h_proc *p, ...);

/*
 * scripts/verify-journal FILE [--prev HEX] (prev NULL: from the start):
 * its JSON verdict (json_decref it); *status gets its exit status.
 */
json_t *au_verify_journal(const char *file, const char *prev, int *status);

/*
 * export [--since SEQ] (since 0: all) --format jsonl into path, then
 * scripts/verify-journal on it; the verdict must be ok, with entries and
 * head_hash equal to expect_entries and expect_head.
 */
void
au_export_verified(const struct h_daemon *d, const char *path, int64_t since,
    const char *prev, int64_t expect_entries, const char *expect_head);

/*
 * The lines of a JSON-lines file, each parsed (an array; json_decref it).
 * Fails the test on a line that is not one JSON object.
 */
json_t *au_jsonl(const char *path);

/*
 * A strict RFC 4180 reader: records end in CRLF (the last one too), a
 * field is either plain (no quote, comma, CR or LF) or quoted with inner
 * quotes doubled. Returns an array of arrays of strings (json_decref it),
 * or NULL with *why set when the text is not RFC 4180.
 */
json_t *au_csv_parse(const char *text, size_t len, const char **why);

/*
 * Python's csv module reading the file (strict): its records as an array
 * of arrays of strings, for comparison with au_csv_parse.
 */
json_t *au_csv_python(const char *path);

/* The file parses as XML (python3 xml.dom.minidom); its root's name. */
void au_xml_root(const char *path, char *root, size_t size);

/*
 * A journal time "YYYY-MM-DDTHH:MM:SS.uuuuuuZ" as microseconds since the
 * epoch, and back.
 */
int64_t     au_time_us(const char *s);
const char *au_time_str(int64_t us, char *buf, size_t size);

/*
 * Move the journal's clock on to us (microseconds since the epoch): stop
 * d, set the journal head's time, start d. The clock never runs
 * backwards, so the entries written next carry exactly that time (until
 * the host's clock passes it): a way to write entries in later months.
 */
void au_journal_clock(struct h_daemon *d, int64_t us);

/* The integer a JSON value holds, or a decimal string (export fields). */
int64_t au_int(json_t *v);

/* One of verify's problems (v: its --json answer) contains word. */
int au_has_problem(json_t *v, const char *word);

/*
 * verify --json must say ok:false, exit 1, and name word in a problem;
 * the verdict is printed when it does not.
 */
void au_expect_verify_names(const struct h_daemon *d, const char *word);

/*
 * The data file itself, for tests that change it behind budgetd's back
 * (tamper, adversarial audit, upgrade): one named database of a stopped
 * daemon's ledger, open for writing in one transaction.
 */
struct au_db {
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi  dbi;
};

/* Fail the test, naming what, unless rc (an LMDB result) is 0. */
void au_db_check(int rc, const char *what);

/* Open database name of d's ledger; d must be stopped. */
void au_db_open(const struct h_daemon *d, const char *name, struct au_db *t);

/* Commit and close. */
void au_db_close(struct au_db *t);

/*
 * Stop d, give every record of database db whose key starts with prefix
 * (plen bytes; 0: every record) to change (which may rewrite *val, a
 * malloc'ed copy of *len bytes, or return 0 to delete the record), start
 * d again. Returns how many records were changed or deleted.
 */
size_t au_tamper(struct h_daemon *d, const char *db, const void *prefix,
    size_t plen, int (*change)(uint8_t **val, size_t *len));

/* Stop d (if running), put val under key in database db, start d. */
void au_db_put(struct h_daemon *d, const char *db, const void *key, size_t klen,
    const void *val, size_t vlen);

/*
 * One raw history page, over fd, of contract or (contract NULL) company:
 * after, limit, since and until (NULL: none) as the request has them.
 */
Budget__Response *
au_history_page(int fd, const char *contract, const char *company,
    uint64_t after, uint32_t limit, const char *since, const char *until);

/* A stored record re-packed after a change (the old *val is freed). */
void au_repack(const ProtobufCMessage *m, uint8_t **val, size_t *len);

#endif /* BUDGET_AUDIT_H */
