/* test_validators.c - the match validators (Luhn, IBAN mod 97, US SSN) and their registry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "rules/validators.h"

static int luhn(const char *s)
{
	return rule_val_luhn((const uint8_t *)s, (uint32_t)strlen(s));
}

static int iban(const char *s)
{
	return rule_val_iban((const uint8_t *)s, (uint32_t)strlen(s));
}

static int ssn(const char *s)
{
	return rule_val_ssn((const uint8_t *)s, (uint32_t)strlen(s));
}

static void test_luhn_valid(void **state)
{
	assert_int_equal(luhn("4111111111111111"), 1);
	assert_int_equal(luhn("4111 1111 1111 1111"), 1);
	assert_int_equal(luhn("4111-1111-1111-1111"), 1);
	assert_int_equal(luhn("5500 0000 0000 0004"), 1);
	assert_int_equal(luhn("378282246310005"), 1);        /* American Express */
	assert_int_equal(luhn("6011000990139424"), 1);       /* Discover */
	assert_int_equal(luhn("79927398713"), 1);            /* the textbook example */
	assert_int_equal(luhn("00"), 1);
}

static void test_luhn_invalid(void **state)
{
	char many[80];

	assert_int_equal(luhn("4111 1111 1111 1112"), 0);    /* wrong check digit */
	assert_int_equal(luhn("79927398710"), 0);
	assert_int_equal(luhn(""), 0);
	assert_int_equal(luhn("0"), 0);                      /* one digit is no number */
	assert_int_equal(luhn("4111a111 1111 1111"), 0);     /* a letter inside */
	assert_int_equal(luhn("4111_1111_1111_1111"), 0);    /* not a separator */
	memset(many, '0', 65);
	many[65] = '\0';
	assert_int_equal(luhn(many), 0);                     /* over 64 digits */
	many[64] = '\0';
	assert_int_equal(luhn(many), 1);
}

static void test_iban_valid(void **state)
{
	assert_int_equal(iban("DE89370400440532013000"), 1);
	assert_int_equal(iban("DE89 3704 0044 0532 0130 00"), 1);
	assert_int_equal(iban("GB29NWBK60161331926819"), 1);
	assert_int_equal(iban("gb29 nwbk 6016 1331 9268 19"), 1); /* either case */
	assert_int_equal(iban("NO9386011117947"), 1);              /* 15: the shortest */
	assert_int_equal(iban("FR1420041010050500013M02606"), 1);  /* letter in the BBAN */
	assert_int_equal(iban("MT84MALT011000012345MTLCAST001S"), 1);
}

static void test_iban_invalid(void **state)
{
	assert_int_equal(iban("DE89370400440532013001"), 0);      /* check digits wrong */
	assert_int_equal(iban("DE88370400440532013000"), 0);
	assert_int_equal(iban("DE8937040044"), 0);                /* too short */
	assert_int_equal(iban("NO938601111794"), 0);              /* 14 */
	assert_int_equal(iban("DE89370400440532013000123456789012"), 0); /* 34 but bad */
	assert_int_equal(iban("DE893704004405320130001234567890123"), 0); /* 35: too long */
	assert_int_equal(iban("D189370400440532013000"), 0);      /* country not letters */
	assert_int_equal(iban("DEX9370400440532013000"), 0);      /* check digits not digits */
	assert_int_equal(iban("DE89-3704-0044-0532-0130-00"), 0); /* '-' is no IBAN separator */
	assert_int_equal(iban(""), 0);
}

static void test_ssn(void **state)
{
	assert_int_equal(ssn("123-45-6789"), 1);
	assert_int_equal(ssn("123 45 6789"), 1);
	assert_int_equal(ssn("123456789"), 1);
	assert_int_equal(ssn("899-99-9999"), 1);
	/* area 000, 666, 900-999 */
	assert_int_equal(ssn("000-12-3456"), 0);
	assert_int_equal(ssn("666-12-3456"), 0);
	assert_int_equal(ssn("900-12-3456"), 0);
	assert_int_equal(ssn("999-12-3456"), 0);
	/* group 00, serial 0000 */
	assert_int_equal(ssn("123-00-6789"), 0);
	assert_int_equal(ssn("123-45-0000"), 0);
	/* advertising numbers */
	assert_int_equal(ssn("078-05-1120"), 0);
	assert_int_equal(ssn("219-09-9999"), 0);
	assert_int_equal(ssn("078-05-1121"), 1);
	/* not nine digits, or another separator */
	assert_int_equal(ssn("123-45-678"), 0);
	assert_int_equal(ssn("123-45-67890"), 0);
	assert_int_equal(ssn("123.45.6789"), 0);
	assert_int_equal(ssn(""), 0);
}

static void test_registry(void **state)
{
	char names[128];

	assert_int_equal(rule_val_lookup("none"), RULE_VAL_NONE);
	assert_int_equal(rule_val_lookup("luhn"), RULE_VAL_LUHN);
	assert_int_equal(rule_val_lookup("iban"), RULE_VAL_IBAN);
	assert_int_equal(rule_val_lookup("ssn"), RULE_VAL_SSN);
	assert_int_equal(rule_val_lookup("LUHN"), -1);
	assert_int_equal(rule_val_lookup("crc32"), -1);
	assert_non_null(rule_val_get(RULE_VAL_SSN));
	assert_string_equal(rule_val_get(RULE_VAL_SSN)->name, "ssn");
	assert_null(rule_val_get(RULE_VAL__MAX));
	/* none accepts anything; the others dispatch */
	assert_int_equal(rule_val_check(RULE_VAL_NONE, (const uint8_t *)"x", 1), 1);
	assert_int_equal(rule_val_check(RULE_VAL_LUHN, (const uint8_t *)"79927398713", 11), 1);
	assert_int_equal(rule_val_check(RULE_VAL_LUHN, (const uint8_t *)"79927398710", 11), 0);
	assert_int_equal(rule_val_check(RULE_VAL__MAX, (const uint8_t *)"x", 1), 0);
	assert_string_equal(rule_val_names(names, sizeof(names)), "none, luhn, iban, ssn");
	assert_string_equal(rule_val_names(names, 7), "none, ");
}

/* Validators run on result bytes: any bytes, any length, never past the end. */
static void test_any_bytes(void **state)
{
	uint8_t b[300];

	for (unsigned i = 0; i < sizeof(b); i++)
		b[i] = (uint8_t)(i * 37 + 11);
	for (uint32_t len = 0; len <= sizeof(b); len += 13) {
		(void)rule_val_luhn(b, len);
		(void)rule_val_iban(b, len);
		(void)rule_val_ssn(b, len);
	}
	assert_int_equal(rule_val_luhn(b, 0), 0);
	assert_int_equal(rule_val_iban(b, 0), 0);
	assert_int_equal(rule_val_ssn(b, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_luhn_valid),
		cmocka_unit_test(test_luhn_invalid),
		cmocka_unit_test(test_iban_valid),
		cmocka_unit_test(test_iban_invalid),
		cmocka_unit_test(test_ssn),
		cmocka_unit_test(test_registry),
		cmocka_unit_test(test_any_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
