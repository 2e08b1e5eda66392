/* validators.c - Luhn, IBAN mod 97 and US SSN checks, and the registry naming them. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "rules/validators.h"

#define VAL_LUHN_MAX_DIGITS  64
#define VAL_IBAN_MIN         15       /* shortest IBAN (Norway) */
#define VAL_IBAN_MAX         34

static const struct rule_validator val_registry[RULE_VAL__MAX] = {
	[RULE_VAL_NONE] = { "none", NULL, "accept every match" },
	[RULE_VAL_LUHN] = { "luhn", rule_val_luhn, "card numbers: Luhn (mod 10) check digit" },
	[RULE_VAL_IBAN] = { "iban", rule_val_iban, "IBAN: ISO 7064 mod 97-10 check digits" },
	[RULE_VAL_SSN]  = { "ssn",  rule_val_ssn,  "US SSN: area, group and serial rules" },
};

static int val_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

int rule_val_luhn(const uint8_t *p, uint32_t len)
{
	uint8_t d[VAL_LUHN_MAX_DIGITS];
	unsigned n = 0, sum = 0;

	for (uint32_t i = 0; i < len; i++) {
		if (val_digit(p[i])) {
			if (n == VAL_LUHN_MAX_DIGITS)
				return 0;
			d[n++] = (uint8_t)(p[i] - '0');
		} else if (p[i] != ' ' && p[i] != '-' && p[i] != '.') {
			return 0;
		}
	}
	if (n < 2)
		return 0;
	/* from the right: the check digit as is, every second digit doubled */
	for (unsigned i = 0; i < n; i++) {
		unsigned v = d[n - 1 - i];

		if (i & 1) {
			v *= 2;
			if (v > 9)
				v -= 9;
		}
		sum += v;
	}
	return sum % 10 == 0;
}

/* Folds one IBAN character into the running remainder <r> (mod 97). */
static unsigned val_iban_fold(unsigned r, uint8_t c)
{
	if (val_digit(c))
		return (r * 10 + (unsigned)(c - '0')) % 97;
	return (r * 100 + (unsigned)(c - 'A') + 10) % 97;   /* A=10 .. Z=35: two digits */
}

int rule_val_iban(const uint8_t *p, uint32_t len)
{
	uint8_t s[VAL_IBAN_MAX];
	unsigned n = 0, r = 0;

	for (uint32_t i = 0; i < len; i++) {
		uint8_t c = p[i];

		if (c == ' ')
			continue;
		if (c >= 'a' && c <= 'z')
			c = (uint8_t)(c - 'a' + 'A');
		if (!val_digit(c) && !(c >= 'A' && c <= 'Z'))
			return 0;
		if (n == VAL_IBAN_MAX)
			return 0;
		s[n++] = c;
	}
	if (n < VAL_IBAN_MIN)
		return 0;
	if (!(s[0] >= 'A' && s[0] <= 'Z') || !(s[1] >= 'A' && s[1] <= 'Z') ||
	    !val_digit(s[2]) || !val_digit(s[3]))
		return 0;
	/* the BBAN first, then country code and check digits */
	for (unsigned i = 4; i < n; i++)
		r = val_iban_fold(r, s[i]);
	for (unsigned i = 0; i < 4; i++)
		r = val_iban_fold(r, s[i]);
	return r == 1;
}

int rule_val_ssn(const uint8_t *p, uint32_t len)
{
	unsigned d[9], n = 0, area, group, serial;

	for (uint32_t i = 0; i < len; i++) {
		if (val_digit(p[i])) {
			if (n == 9)
				return 0;
			d[n++] = (unsigned)(p[i] - '0');
		} else if (p[i] != ' ' && p[i] != '-') {
			return 0;
		}
	}
	if (n != 9)
		return 0;
	area = d[0] * 100 + d[1] * 10 + d[2];
	group = d[3] * 10 + d[4];
	serial = d[5] * 1000 + d[6] * 100 + d[7] * 10 + d[8];
	if (area == 0 || area == 666 || area >= 900 || group == 0 || serial == 0)
		return 0;
	/* published in advertising (a wallet insert, a Social Security Board pamphlet) */
	if ((area == 78 && group == 5 && serial == 1120) ||
	    (area == 219 && group == 9 && serial == 9999))
		return 0;
	return 1;
}

int rule_val_lookup(const char *name)
{
	for (unsigned i = 0; i < RULE_VAL__MAX; i++)
		if (strcmp(val_registry[i].name, name) == 0)
			return (int)i;
	return -1;
}

const struct rule_validator *rule_val_get(unsigned id)
{
	return id < RULE_VAL__MAX ? &val_registry[id] : NULL;
}

int rule_val_check(unsigned id, const uint8_t *p, uint32_t len)
{
	if (id >= RULE_VAL__MAX)
		return 0;
	return val_registry[id].check == NULL || val_registry[id].check(p, len);
}

const char *rule_val_names(char *buf, unsigned len)
{
	unsigned used = 0;

	if (len == 0)
		return buf;
	buf[0] = '\0';
	for (unsigned i = 0; i < RULE_VAL__MAX && used < len; i++) {
		int w = snprintf(buf + used, len - used, "%s%s", i ? ", " : "", val_registry[i].name);

		if (w < 0)
			break;
		used += (unsigned)w;
	}
	return buf;
}
