/*
 * errors.c: the table of stable error codes and what each one means. The
 * README's error chapter is checked against this table by a test, so the
 * two cannot drift apart.
 */
#include <string.h>

#include "budget/errors.h"

static const struct {
	const char *code;
	const char *summary;
} budget_errs[BUDGET_ERR__COUNT] = {
    [BUDGET_OK] = {"ok", "no error"},
    [BUDGET_ERR_INVALID_ARGUMENT] = {"invalid_argument",
	"a field is missing, malformed or out of range"},
    [BUDGET_ERR_NOT_FOUND] = {"not_found",
	"the contract, company, dossier or rule set does not exist"},
    [BUDGET_ERR_ALREADY_EXISTS] = {"already_exists",
	"an object with that identifier exists already"},
    [BUDGET_ERR_INVALID_STATE] = {"invalid_state",
	"the operation is not allowed in the object's current state"},
    [BUDGET_ERR_CONTRACT_BUDGET_EXCEEDED] = {"contract_budget_exceeded",
	"the contract's available budget is smaller than the subsidy"},
    [BUDGET_ERR_DEMINIMIS_CEILING_EXCEEDED] = {"deminimis_ceiling_exceeded",
	"the single undertaking's de-minimis ceiling would be exceeded"},
    [BUDGET_ERR_EXCLUSION_PERIOD] = {"exclusion_period",
	"the undertaking had a trajectory approved in the last 4 years"},
    [BUDGET_ERR_COST_OUT_OF_BAND] = {"cost_out_of_band",
	"the cost lies outside the package's band or the dossier caps"},
    [BUDGET_ERR_PACKAGE_NOT_ALLOWED] = {"package_not_allowed",
	"the package or extension does not exist under the rules"},
    [BUDGET_ERR_INELIGIBLE_COMPANY] = {"ineligible_company",
	"no subsidy rate applies to this company on that date"},
    [BUDGET_ERR_AMOUNT_EXCEEDS_COMMITMENT] = {"amount_exceeds_commitment",
	"the payment is larger than what is committed and unpaid"},
    [BUDGET_ERR_BUDGET_BELOW_USAGE] = {"budget_below_usage",
	"the new budget is below reserved + committed + paid"},
    [BUDGET_ERR_CONTRACT_CLOSED] = {"contract_closed",
	"the contract is closed to new reservations"},
    [BUDGET_ERR_REQUEST_ID_REUSED] = {"request_id_reused",
	"the request id was used before for a different request"},
    [BUDGET_ERR_PERMISSION_DENIED] = {"permission_denied",
	"the caller's role may not perform this operation"},
    [BUDGET_ERR_FUTURE_DATE] = {"future_date",
	"a decision or grant date lies after today"},
    [BUDGET_ERR_NO_RULES_IN_FORCE] = {"no_rules_in_force",
	"no programme rule set is in force on that date"},
    [BUDGET_ERR_FRAME_TOO_LARGE] = {"frame_too_large",
	"a frame's length is 0 or above the limit; connection closed"},
    [BUDGET_ERR_UNSUPPORTED_VERSION] = {"unsupported_version",
	"the request's protocol version is not spoken; connection closed"},
    [BUDGET_ERR_MALFORMED_FRAME] = {"malformed_frame",
	"the frame is not a valid Request message; connection closed"},
    [BUDGET_ERR_UNKNOWN_COMMAND] = {"unknown_command",
	"the request carries no command this daemon knows; "
	"connection closed"},
    [BUDGET_ERR_TOO_MANY_CONNECTIONS] = {"too_many_connections",
	"the connection limit is reached; connection closed"},
    [BUDGET_ERR_STORAGE_FULL] = {"storage_full",
	"the ledger's map or disk is full; nothing was applied"},
    [BUDGET_ERR_STORAGE_ERROR] = {"storage_error",
	"the ledger could not be read or written; nothing was applied"},
    [BUDGET_ERR_SHUTTING_DOWN] = {"shutting_down",
	"the daemon is stopping; nothing was applied"},
    [BUDGET_ERR_INTERNAL] = {"internal_error",
	"a bug in budgetd; nothing was applied, please report it"},
};

const char *
budget_err_code(enum budget_err e)
{
	if ((unsigned)e >= BUDGET_ERR__COUNT)
		return ("internal_error");
	return (budget_errs[e].code);
}

const char *
budget_err_summary(enum budget_err e)
{
	if ((unsigned)e >= BUDGET_ERR__COUNT)
		return ("unknown error");
	return (budget_errs[e].summary);
}

int
budget_err_from_code(const char *code)
{
	int i;

	for (i = 0; i < BUDGET_ERR__COUNT; i++) {
		if (strcmp(budget_errs[i].code, code) == 0)
			return (i);
	}
	return (-1);
}
