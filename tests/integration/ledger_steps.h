/*
 * ledger_steps.h: steps on the ledger for the rule, bad-input and
 * idempotency tests (test_rules.c, test_badinput.c, test_idempotency.c,
 * test_regress_rules.c): run one budgetctl --json command, say what it
 * must answer (done, or refused with this code) and how far the journal
 * must move (0 for a refusal that changes nothing, 1 for a change or a
 * journaled refusal), and check after it that the ledger still verifies.
 *
 * Every failure is reported at the test's own file and line (the LS_
 * macros pass them), so that a table row that goes wrong names its row.
 *
 * The snapshot of "nothing changed" is what SPEC §7 lets a script see:
 * status journal_seq and head_hash, and verify ok. After each step they
 * are read over the socket (the same fields budgetctl --json prints, at a
 * fraction of the cost of two more processes, which matters under the
 * sanitizers); at the end of every table, and wherever a test calls
 * LS_CLI_CHECK, budgetctl status --json and verify --json must show the
 * same journal_seq and head_hash and ok:true.
 *
 * A step starts from the journal as the last snapshot saw it (the
 * previous step's, LS_SNAP's or LS_MOVED's): a test that changes the
 * ledger by other means (raw frames, h_ctl, a restart) takes LS_SNAP or
 * LS_MOVED before its next step, or that step fails on a journal that
 * moved.
 */
#ifndef BUDGET_LEDGER_STEPS_H
#define BUDGET_LEDGER_STEPS_H

#include "harness.h"

/* Fields a table row checks, at most. */
#define LS_WANT_MAX 8

/* Arguments of one budgetctl command in a table row (NULL-terminated). */
#define LS_ARGV_MAX 24

/* The journal as status shows it. */
struct ls_snap {
	json_int_t seq;
	char       head[65];
};

/* What one command answered. */
struct ls_answer {
	int     status;       /* budgetctl's exit status */
	char    code[64];     /* error.code; "" when it was done */
	char    message[640]; /* error.message; "" when it was done */
	int     replayed;     /* "replayed": true in the answer */
	json_t *json;         /* the whole --json document (a reference) */
	char    err[512];     /* the start of budgetctl's stderr */
};

/* Release the JSON an answer holds. NULL ok. */
void ls_answer_free(struct ls_answer *);

/* status: journal_seq and head_hash. */
void ls_snap_at(const char *, int, struct h_daemon *, struct ls_snap *);

/* verify must say ok. */
void ls_verify_at(const char *, int, struct h_daemon *);

/*
 * budgetctl status --json and verify --json agree with the socket's
 * status: the same journal_seq (verify's entries) and head_hash, ok:true.
 */
void ls_cli_check_at(const char *, int, struct h_daemon *);

/*
 * The journal moved by exactly delta entries since before (0: seq and
 * head_hash unchanged; >0: seq advanced by delta and head_hash differs),
 * and verify says ok.
 */
void ls_moved_at(
    const char *, int, struct h_daemon *, const struct ls_snap *, int delta);

/*
 * Run budgetctl -s SOCK --json ARGV... (argv NULL-terminated) and fill a
 * (when not NULL; free it with ls_answer_free).
 */
void ls_run_at(const char *, int, struct h_daemon *, const char *const *argv,
    struct ls_answer *a);

/*
 * The step every table row is: snapshot, run, expect code (NULL: done,
 * exit 0; "usage": exit 2 and nothing sent that could change the ledger;
 * otherwise exit 1 with this error.code and a message), then the journal
 * moved by delta and verify ok. a, when not NULL, gets the answer.
 */
void ls_step_at(const char *, int, struct h_daemon *, const char *code,
    int delta, const char *const *argv, struct ls_answer *a);

/* ls_step_at with the arguments inline, NULL-terminated. */
void ls_stepl_at(const char *, int, struct h_daemon *, const char *code,
    int delta, struct ls_answer *a, ...);

/*
 * An integer field of a done answer ("subsidy_cents"), failing at the
 * caller's line when it is not there.
 */
json_int_t ls_int_at(const char *, int, const struct ls_answer *, const char *);
const char *
ls_str_at(const char *, int, const struct ls_answer *, const char *);

/* Load the shipped rules: rules/vlaio-cybersecurity.rules of the source. */
void ls_load_rules_at(const char *, int, struct h_daemon *);

/*
 * Write text to DIR/name in the daemon's directory and load it with
 * rules load (must be done, one journal entry).
 */
void ls_load_rules_text_at(
    const char *, int, struct h_daemon *, const char *name, const char *text);

/* A small company in Oost-Vlaanderen (company add ... --size small). */
void ls_company_at(const char *, int, struct h_daemon *, const char *number);

/* The date today + days in UTC, as YYYY-MM-DD, into buf (11 bytes). */
void ls_date_from_today(int days, char *buf);

/*
 * A field of an answer must have this value: "path=value", the path as
 * for h_json_get ("grants.0.kind"), the value compared with the field
 * rendered as text (integers in decimal, true, false, null).
 */
void ls_want_at(const char *, int, const struct ls_answer *, const char *);

/* Names for table rows: an argument "@NAME" stands for its value. */
struct ls_name {
	const char *name;
	const char *value;
};

/*
 * One row of a table: a command, what it must answer, how far the
 * journal must move, a piece of the refusal's message, and fields the
 * answer must have (ls_want_at) when it is done.
 */
struct ls_row {
	int         line;
	const char *code;  /* NULL: done; "usage": exit 2 */
	int         delta; /* journal entries it must add */
	const char *msg;   /* in the refusal's message, or NULL */
	const char *argv[LS_ARGV_MAX];
	const char *want[LS_WANT_MAX];
};

/* Run the rows in order, each as ls_step_at; names may be NULL. */
void ls_rows_at(const char *, struct h_daemon *, const struct ls_row *, size_t,
    const struct ls_name *);

#define LS_SNAP(d, s)      ls_snap_at(__FILE__, __LINE__, (d), (s))
#define LS_VERIFY(d)       ls_verify_at(__FILE__, __LINE__, (d))
#define LS_CLI_CHECK(d)    ls_cli_check_at(__FILE__, __LINE__, (d))
#define LS_MOVED(d, s, n)  ls_moved_at(__FILE__, __LINE__, (d), (s), (n))
#define LS_RUN(d, argv, a) ls_run_at(__FILE__, __LINE__, (d), (argv), (a))
#define LS_INT(a, k)       ls_int_at(__FILE__, __LINE__, (a), (k))
#define LS_STR(a, k)       ls_str_at(__FILE__, __LINE__, (a), (k))
#define LS_RULES(d)        ls_load_rules_at(__FILE__, __LINE__, (d))
#define LS_RULES_TEXT(d, name, text) \
	ls_load_rules_text_at(__FILE__, __LINE__, (d), (name), (text))
#define LS_COMPANY(d, n) ls_company_at(__FILE__, __LINE__, (d), (n))
#define LS_WANT(a, w)    ls_want_at(__FILE__, __LINE__, (a), (w))
#define LS_ROWS(d, rows, names) \
	ls_rows_at( \
	    __FILE__, (d), (rows), sizeof(rows) / sizeof((rows)[0]), (names))

/* A change that must be done: one journal entry, verify ok. */
#define LS_DO(d, ...) \
	ls_stepl_at(__FILE__, __LINE__, (d), NULL, 1, NULL, __VA_ARGS__, NULL)
/* A change that must be done; the answer kept in *a. */
#define LS_DO_A(d, a, ...) \
	ls_stepl_at(__FILE__, __LINE__, (d), NULL, 1, (a), __VA_ARGS__, NULL)
/* A refusal that must leave the journal exactly as it was. */
#define LS_NO(d, code, ...) \
	ls_stepl_at(__FILE__, __LINE__, (d), (code), 0, NULL, __VA_ARGS__, NULL)
/* A refusal the ledger journals: exactly one "refused" entry. */
#define LS_NO_J(d, code, ...) \
	ls_stepl_at(__FILE__, __LINE__, (d), (code), 1, NULL, __VA_ARGS__, NULL)
/* Any expectation, the answer kept in *a (NULL ok). */
#define LS_STEP(d, code, delta, a, ...) \
	ls_stepl_at( \
	    __FILE__, __LINE__, (d), (code), (delta), (a), __VA_ARGS__, NULL)

/*
 * Table rows. LS_W("path=value", ...) lists the fields a done answer must
 * have; the rest of a row is the command's arguments.
 */
/* clang-format off */
#define LS_W(...) {__VA_ARGS__}
/* Done: one journal entry. */
#define LS_R_DONE(...) {__LINE__, NULL, 1, NULL, {__VA_ARGS__}, {NULL}}
#define LS_R_DONE_W(want, ...) {__LINE__, NULL, 1, NULL, {__VA_ARGS__}, want}
/* A read: done, the journal unchanged. */
#define LS_R_READ(want, ...) {__LINE__, NULL, 0, NULL, {__VA_ARGS__}, want}
/* Refused, the journal unchanged. */
#define LS_R_NO(code, msg, ...) \
	{__LINE__, (code), 0, (msg), {__VA_ARGS__}, {NULL}}
/* Refused and journaled: one "refused" entry. */
#define LS_R_NOJ(code, msg, ...) \
	{__LINE__, (code), 1, (msg), {__VA_ARGS__}, {NULL}}
/* clang-format on */

/* The arguments of the commands the tables use. */
#define LS_ADD(co, size) \
	"company", "add", (co), "--name", "test company", "--postcode", \
	    "9000", "--size", (size)
#define LS_OPEN(k, budget) \
	"contract", "open", (k), "--provider", "test provider", "--framework", \
	    "FW2", "--budget", (budget)
#define LS_RESERVE(id, co, k, pkg, cost, date) \
	"dossier", "reserve", (id), "--company", (co), "--contract", (k), \
	    "--package", (pkg), "--cost", (cost), "--date", (date)
#define LS_RESERVE_EXT(id, co, k, pkg, cost, ext, date) \
	"dossier", "reserve", (id), "--company", (co), "--contract", (k), \
	    "--package", (pkg), "--cost", (cost), "--extension-cost", (ext), \
	    "--date", (date)
#define LS_APPROVE(id, date) \
	"dossier", "approve", (id), "--decision-date", (date)
#define LS_CANCEL(id) "dossier", "cancel", (id), "--reason", "test"
#define LS_SHOW(id)   "dossier", "show", (id)
#define LS_DECLARE(co, amount, date) \
	"deminimis", "declare", (co), "--amount", (amount), "--granted", \
	    (date), "--source", "test"
#define LS_DM_SHOW(co, date) "deminimis", "show", (co), "--on", (date)
#define LS_LINK(p, c, since) "company", "link", (p), (c), "--since", (since)
#define LS_LINK_UNTIL(p, c, since, until) \
	"company", "link", (p), (c), "--since", (since), "--until", (until)
#define LS_MERGE(a, b, on) "company", "merge", (a), (b), "--on", (on)

/*
 * Fictional enterprise numbers (R-ID check digits right) for the tables.
 */
#define LS_CO01 "0200101397"
#define LS_CO02 "0200202654"
#define LS_CO03 "0200303911"
#define LS_CO04 "0200405265"
#define LS_CO05 "0200506522"
#define LS_CO06 "0200607876"
#define LS_CO07 "0200709133"
#define LS_CO08 "0200810487"
#define LS_CO09 "0200911744"

/*
 * A fresh daemon, in *state too, with the shipped rules loaded and
 * contract K (1,000,000 EUR) opened, both as checked steps: the ground
 * most tables start from.
 */
struct h_daemon *ls_daemon_at(const char *, int, void **state);
#define LS_DAEMON(state) ls_daemon_at(__FILE__, __LINE__, (state))

/* Fail the current test at file:line with a formatted message. */
void ls_fail_at(const char *, int, const char *, ...)
    __attribute__((noreturn, format(printf, 3, 4)));

#endif /* BUDGET_LEDGER_STEPS_H */
