/*
 * budgetctl.h: the client's private header. One struct of global options,
 * the connection (client.c), output helpers (output.c), and one function per
 * command (ctl-*.c) registered in the grammar table of budgetctl.c.
 */
#ifndef BUDGETCTL_H
#define BUDGETCTL_H

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "budget.pb-c.h"

#ifndef __dead
#define __dead __attribute__((__noreturn__))
#endif

/* Exit statuses: the contract with scripts (SPEC §7). */
#define EXIT_DONE        0 /* done */
#define EXIT_REFUSED     1 /* the ledger refused */
#define EXIT_USAGE       2 /* bad command line */
#define EXIT_UNREACHABLE 3 /* cannot reach the daemon, protocol error */

struct ctl_command;

struct ctl {
	const char *socket;
	const char *request_id;   /* --request-id, or generated */
	int         generated_id; /* request_id was made up here */
	int         id_shown;     /* ... and printed on stderr */
	int         json;
	int         timeout; /* seconds to wait for an answer */
	int         fd;

	const struct ctl_command *cmd; /* the command being run */
};
extern struct ctl ctl;

struct ctl_command {
	const char *words;   /* "contract open" */
	int         mutates; /* needs a request id */
	int (*run)(int, char **);
	const char *usage; /* arguments after the words */
};

/* budgetctl.c */
__dead void ctl_usage_exit(const struct ctl_command *, const char *, ...)
    __attribute__((format(printf, 2, 3)));
int          ctl_getopt(int, char **, const struct option *);
const char **ctl_operands(int, const char *);
const char **ctl_plain_args(int, char **, int, const char *);
int64_t      ctl_money_arg(const char *, const char *, int);
int64_t      ctl_duration_arg(const char *, const char *);

/* client.c */
void              ctl_send(Budget__Request *);
Budget__Response *ctl_recv(void);
Budget__Response *ctl_call(Budget__Request *);
Budget__Response *
ctl_request(Budget__Request *, Budget__Response__ResultCase, int *);
Budget__Response     *
ctl_expect(Budget__Response *, Budget__Response__ResultCase, int *);
int ctl_check(const Budget__Response *, Budget__Response__ResultCase, int *);
struct ctl_arena;
struct ctl_arena *ctl_arena_new(void);
void              ctl_arena_free(struct ctl_arena *);
Budget__Response *ctl_recv_arena(struct ctl_arena *);
void              ctl_close(void);
int               ctl_refused(const Budget__Response *);

/* output.c */
void        out_json(json_t *);
void        out_reply(json_t *, const Budget__Response *);
json_t     *out_money(int64_t);
json_t     *out_str(const char *);
json_t     *out_opt_str(const char *);
const char *out_eur(int64_t);
const char *out_amount(int64_t);
const char *out_rid(const char *);
const char *out_rate(uint32_t);
const char *out_yesno(int);
void
out_kv(const char *, const char *, ...) __attribute__((format(printf, 2, 3)));
size_t out_width(const char *);

/*
 * output.c: a text table, printed once every row is in so that columns
 * are as wide as their widest cell. align: one 'l' or 'r' per column.
 */
struct out_table;
struct out_table *out_table_new(size_t, const char *const *, const char *);
void              out_table_row(struct out_table *, const char *const *);
void              out_table_rule(struct out_table *);
void              out_table_print(struct out_table *);

/*
 * output.c: a growing byte buffer, to build many lines and hand them to
 * stdio in one piece; CSV fields (RFC 4180) are written into one.
 */
struct out_buf {
	char  *p;
	size_t len, cap;
};
void out_buf_reserve(struct out_buf *, size_t);
void out_buf_put(struct out_buf *, const char *, size_t);
void out_buf_csv(struct out_buf *, const char *, size_t, int);
void out_buf_csv_end(struct out_buf *);
int  out_buf_flush(struct out_buf *, FILE *);
void out_buf_free(struct out_buf *);

/* ctl-json.c: the --json shapes of SPEC §7, one function per result */
const char *ctl_size_name(Budget__CompanySize);
json_t     *ctl_json_contract(const Budget__Contract *);
json_t     *ctl_json_company(const Budget__Company *);
json_t     *ctl_json_deminimis(const Budget__DeminimisPosition *);
json_t     *ctl_json_dossier(const Budget__Dossier *);
json_t     *ctl_json_rulebook(const Budget__RuleBook *);
json_t     *ctl_json_verify(const Budget__VerifyResult *);

/* ctl-contract.c, ctl-deminimis.c: the text shapes, shared with balance */
void ctl_print_contract(const Budget__Contract *);
void ctl_print_deminimis(const Budget__DeminimisPosition *);

/* ctl-svg.c: the draw-down chart as a self-contained SVG document */
int ctl_svg_drawdown(FILE *, const Budget__DrawdownResult *);

/*
 * ctl-*.c: one function per command, given argv[0] = the command's last
 * word and its arguments; each returns the exit status. A usage error
 * exits from within (ctl_usage_exit) before anything is sent.
 */
int ctl_status(int, char **);
int ctl_rules_load(int, char **);
int ctl_rules_show(int, char **);
int ctl_contract_open(int, char **);
int ctl_contract_amend(int, char **);
int ctl_contract_close(int, char **);
int ctl_contract_show(int, char **);
int ctl_contract_list(int, char **);
int ctl_company_add(int, char **);
int ctl_company_link(int, char **);
int ctl_company_merge(int, char **);
int ctl_company_show(int, char **);
int ctl_deminimis_declare(int, char **);
int ctl_deminimis_show(int, char **);
int ctl_dossier_reserve(int, char **);
int ctl_dossier_approve(int, char **);
int ctl_dossier_amend(int, char **);
int ctl_dossier_cancel(int, char **);
int ctl_dossier_withdraw(int, char **);
int ctl_dossier_pay(int, char **);
int ctl_dossier_complete(int, char **);
int ctl_dossier_close(int, char **);
int ctl_dossier_show(int, char **);
int ctl_history(int, char **);
int ctl_balance(int, char **);
int ctl_report(int, char **);
int ctl_drawdown(int, char **);
int ctl_verify(int, char **);
int ctl_backup(int, char **);
int ctl_export(int, char **);

#endif /* BUDGETCTL_H */
