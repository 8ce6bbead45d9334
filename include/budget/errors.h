/*
 * errors.h: the stable error codes of budgetd. The wire carries the
 * lowercase code string (Response.error.code); C code uses the enum. Codes
 * are part of the contract with scripts: add new ones, never rename.
 */
#ifndef BUDGET_ERRORS_H
#define BUDGET_ERRORS_H

enum budget_err {
	BUDGET_OK = 0,
	BUDGET_ERR_INVALID_ARGUMENT,
	BUDGET_ERR_NOT_FOUND,
	BUDGET_ERR_ALREADY_EXISTS,
	BUDGET_ERR_INVALID_STATE,
	BUDGET_ERR_CONTRACT_BUDGET_EXCEEDED,
	BUDGET_ERR_DEMINIMIS_CEILING_EXCEEDED,
	BUDGET_ERR_EXCLUSION_PERIOD,
	BUDGET_ERR_COST_OUT_OF_BAND,
	BUDGET_ERR_PACKAGE_NOT_ALLOWED,
	BUDGET_ERR_INELIGIBLE_COMPANY,
	BUDGET_ERR_AMOUNT_EXCEEDS_COMMITMENT,
	BUDGET_ERR_BUDGET_BELOW_USAGE,
	BUDGET_ERR_CONTRACT_CLOSED,
	BUDGET_ERR_REQUEST_ID_REUSED,
	BUDGET_ERR_PERMISSION_DENIED,
	BUDGET_ERR_FUTURE_DATE,
	BUDGET_ERR_NO_RULES_IN_FORCE,
	BUDGET_ERR_FRAME_TOO_LARGE,
	BUDGET_ERR_UNSUPPORTED_VERSION,
	BUDGET_ERR_MALFORMED_FRAME,
	BUDGET_ERR_UNKNOWN_COMMAND,
	BUDGET_ERR_TOO_MANY_CONNECTIONS,
	BUDGET_ERR_STORAGE_FULL,
	BUDGET_ERR_STORAGE_ERROR,
	BUDGET_ERR_SHUTTING_DOWN,
	BUDGET_ERR_INTERNAL,
	BUDGET_ERR__COUNT
};

/* The stable lowercase code ("contract_budget_exceeded"); "ok" for 0. */
const char *budget_err_code(enum budget_err);

/* One line saying what the code means, for help texts and the README. */
const char *budget_err_summary(enum budget_err);

/* The enum for a code string, or -1 when the string is not a known code. */
int budget_err_from_code(const char *);

#endif /* BUDGET_ERRORS_H */
