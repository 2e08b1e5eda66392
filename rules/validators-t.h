/* validators-t.h - types of the match validators (Luhn, IBAN mod 97, US SSN).
 *
 * A validator confirms that the bytes a field pattern matched are really what the rule
 * looks for, so that "4111 1111 1111 1112" (a bad Luhn check digit) is not masked.
 */
#ifndef TG_VALIDATORS_T_H
#define TG_VALIDATORS_T_H

#include <stdint.h>

/* Validator ids, as stored in a rule. RULE_VAL_NONE accepts every match. */
enum rule_val_id {
	RULE_VAL_NONE = 0,
	RULE_VAL_LUHN = 1,            /* card numbers: Luhn (mod 10) check digit */
	RULE_VAL_IBAN = 2,            /* IBAN: ISO 7064 mod 97-10 */
	RULE_VAL_SSN  = 3,            /* US social security number: area/group/serial rules */
	RULE_VAL__MAX
};

/* Checks the <len> matched bytes at <p>; returns 1 if valid, 0 if not. Must accept any
 * bytes (it runs on result data) and never read outside [p, p + len). */
typedef int (*rule_val_pt)(const uint8_t *p, uint32_t len);

/* One row of the validator registry (validators.c): adding a validator is one row. */
struct rule_validator {
	const char *name;             /* as written in rule files ("luhn") */
	rule_val_pt check;            /* NULL for "none" */
	const char *what;             /* one line for docs and tollctl ("card numbers (Luhn)") */
};

#endif
