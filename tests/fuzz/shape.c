/*
 * shape.c: the small ledger fuzz_request builds before the first input
 * (and again after every reset), as specs (fuzz.h). It holds one of each
 * thing the rules tell apart, so that mutated requests land next to real
 * contracts, companies, undertakings and dossiers in every state that can
 * be reached without waiting: the names are in fuzz.h for the seeds. Also
 * the roles fuzz_request's control byte chooses from.
 */
#include "fuzz.h"

#define BIG    SHAPE_CONTRACT_BIG
#define SMALL  SHAPE_CONTRACT_SMALL
#define CLOSED SHAPE_CONTRACT_CLOSED

const char *const shape_setup[] = {
    "rules_load request_id=shape-rules text=@rules "
    "source=vlaio-cybersecurity.rules",
    /* EUR 500,000, EUR 20,000 (two reservations fill it), and one to close. */
    "contract_open request_id=shape-c1 id=" BIG " provider=\"Cyber Partners "
    "NV\" framework=FW-2024-CS budget_cents=50000000",
    "contract_open request_id=shape-c2 id=" SMALL " provider=\"SecureFlow "
    "BV\" framework=FW-2024-CS budget_cents=2000000",
    "contract_open request_id=shape-c3 id=" CLOSED " provider=\"Oud & "
    "Vertrouwd CommV\" framework=FW-2023 budget_cents=1000000",
    "company_add request_id=shape-co1 number=" SHAPE_CO_MICRO
    " name=\"Bakkerij Peeters BV\" postcode=9000 size=MICRO",
    "company_add request_id=shape-co2 number=" SHAPE_CO_MEDIUM
    " name=\"Metaalwerken Claes NV\" postcode=2000 size=MEDIUM",
    "company_add request_id=shape-co3 number=" SHAPE_CO_LARGE
    " name=\"Logistiek Vermeulen NV\" postcode=3000 size=LARGE nis2=true",
    "company_add request_id=shape-co4 number=" SHAPE_CO_MAATWERK
    " name=\"Atelier De Brug vzw\" postcode=8500 size=SMALL maatwerk=true",
    "company_add request_id=shape-co5 number=" SHAPE_CO_BRUSSELS
    " name=\"Brussels Data SA\" postcode=1000 size=SMALL "
    "flemish_establishment=true",
    "company_add request_id=shape-co6 number=" SHAPE_CO_WAITING
    " name=\"Schrijnwerkerij Maes BV\" postcode=3500 size=SMALL",
    "company_add request_id=shape-co7 number=" SHAPE_CO_FREE
    " name=\"Transport Wuyts NV\" postcode=2800 size=MEDIUM",
    "company_add request_id=shape-co8 number=" SHAPE_CO_FREE2
    " name=\"Kapsalon Lien\" postcode=8000 size=MICRO",
    /* The medium company controls the micro one: one undertaking. */
    "company_link request_id=shape-l1 parent=" SHAPE_CO_MEDIUM
    " child=" SHAPE_CO_MICRO " since=2023-01-01",
    /* EUR 250,000 of the 300,000 ceiling used outside the programme. */
    "deminimis_declare request_id=shape-dm1 number=" SHAPE_CO_MEDIUM
    " amount_cents=25000000 granted=2025-03-01 source=kmo-portefeuille",
    "dossier_reserve request_id=shape-d1 id=" SHAPE_D_RESERVED
    " company=" SHAPE_CO_MICRO " contract=" BIG
    " package=MEDIUM cost_cents=2000000",
    "dossier_reserve request_id=shape-d2 id=" SHAPE_D_APPROVED
    " company=" SHAPE_CO_MAATWERK " contract=" BIG
    " package=PLUS cost_cents=3000000 extension_cost_cents=500000",
    "dossier_approve request_id=shape-d2a id=" SHAPE_D_APPROVED,
    "dossier_reserve request_id=shape-d3 id=" SHAPE_D_COMPLETED
    " company=" SHAPE_CO_BRUSSELS " contract=" BIG
    " package=START cost_cents=1000000",
    "dossier_approve request_id=shape-d3a id=" SHAPE_D_COMPLETED,
    "dossier_pay request_id=shape-d3p id=" SHAPE_D_COMPLETED
    " amount_cents=200000",
    "dossier_complete request_id=shape-d3c id=" SHAPE_D_COMPLETED,
    "dossier_reserve request_id=shape-d4 id=" SHAPE_D_SMALL
    " company=" SHAPE_CO_WAITING " contract=" SMALL
    " package=MEDIUM cost_cents=1800000 ttl_seconds=86400",
    "dossier_reserve request_id=shape-d6 id=" SHAPE_D_CANCELLED
    " company=" SHAPE_CO_LARGE " contract=" CLOSED
    " package=START cost_cents=900000",
    "dossier_cancel request_id=shape-d6c id=" SHAPE_D_CANCELLED
    " reason=\"applicant withdrew before approval\"",
    "dossier_reserve request_id=shape-d5 id=" SHAPE_D_NIS2
    " company=" SHAPE_CO_LARGE " contract=" BIG
    " package=MEDIUM cost_cents=2100000",
    "dossier_approve request_id=shape-d5a id=" SHAPE_D_NIS2,
    "dossier_pay request_id=shape-d5p id=" SHAPE_D_NIS2 " amount_cents=300000",
    "contract_close request_id=shape-c3c id=" CLOSED
    " reason=\"framework 2023 ended\"",
};
const size_t shape_nsetup = sizeof(shape_setup) / sizeof(shape_setup[0]);

/* admin, controller, workflow, auditor, none, admin, admin, admin */
const int fuzz_req_roles[8] = {4, 3, 2, 1, 0, 4, 4, 4};
