/* validators.h - match validators for field rules: Luhn, IBAN (ISO 7064 mod 97-10),
 * US SSN, and the registry that names them for rule files.
 *
 * Every check takes the matched bytes as they are in the result, separators included:
 * Luhn and SSN read the digits and skip ' ' and '-' (Luhn also '.'), any other byte
 * rejects the match. All functions are pure and safe from any thread.
 */
#ifndef TG_VALIDATORS_H
#define TG_VALIDATORS_H

#include <stdint.h>
#include "rules/validators-t.h"

/* Luhn check over the digits of <p> [0, <len>): 1 if there are 2 to 64 digits, only
 * ' ', '-' or '.' between them, and the check digit is right; 0 otherwise. */
int rule_val_luhn(const uint8_t *p, uint32_t len);

/* IBAN check: country code (2 letters), 2 check digits, then letters and digits;
 * spaces are skipped, letters may be of either case. 1 if the length without spaces is
 * 15..34 and the number is 1 mod 97 once the first four characters are moved to the
 * end and letters are replaced by 10..35 (ISO 7064 mod 97-10); 0 otherwise. */
int rule_val_iban(const uint8_t *p, uint32_t len);

/* US SSN check: exactly 9 digits, ' ' or '-' allowed between them. 1 if the area
 * (first 3) is not 000, 666 or 900-999, the group (next 2) is not 00, the serial
 * (last 4) is not 0000, and the number is not one of the known advertising numbers
 * 078-05-1120 and 219-09-9999; 0 otherwise. */
int rule_val_ssn(const uint8_t *p, uint32_t len);

/* The validator named <name> ("luhn", "iban", "ssn", "none"): returns its id
 * (enum rule_val_id), or -1 if there is none of that name. */
int rule_val_lookup(const char *name);

/* The registry row of validator <id>, or NULL if <id> is out of range. */
const struct rule_validator *rule_val_get(unsigned id);

/* Runs validator <id> on <p> [0, <len>): 1 valid (RULE_VAL_NONE: always), 0 invalid
 * or unknown id. */
int rule_val_check(unsigned id, const uint8_t *p, uint32_t len);

/* Writes the known names, comma-separated, into <buf> (for error messages); returns
 * <buf>. */
const char *rule_val_names(char *buf, unsigned len);

#endif
