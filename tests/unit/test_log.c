/* test_log.c - unit tests of the JSON logger (common/tg_log.c): every line it writes must
 * parse as JSON (jansson's json_loads, which also rejects invalid UTF-8), whatever the
 * message holds and wherever it is cut. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>
#include "common/tg_log.h"

#define RAW_MAX 1023                /* bytes of the formatted message kept (msg[1024]) */
#define ESC_MAX 2047                /* bytes of the escaped message written (esc[2048]) */

#define EURO  "\xe2\x82\xac"        /* U+20AC, 3 bytes */
#define EMOJI "\xf0\x9f\x98\x80"    /* U+1F600, 4 bytes */

/* One logged line, as written and as parsed. */
struct line {
	char *raw;                  /* the bytes written to stderr (malloc'd) */
	json_t *obj;                /* the parsed object; the test fails if it does not parse */
	const char *msg;            /* its "msg" (owned by obj) */
};

/* tg_log writes to stderr: for the one call, fd 2 goes to a temporary file. */
static int capture_begin(FILE **tmp)
{
	int saved;

	fflush(stderr);
	*tmp = tmpfile();
	assert_non_null(*tmp);
	saved = dup(2);
	assert_true(saved >= 0);
	assert_int_equal(dup2(fileno(*tmp), 2), 2);
	return saved;
}

static char *capture_end(FILE *tmp, int saved)
{
	long n;
	char *s;

	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	fseek(tmp, 0, SEEK_END);
	n = ftell(tmp);
	rewind(tmp);
	s = calloc(1, (size_t)n + 1);
	assert_non_null(s);
	assert_int_equal(fread(s, 1, (size_t)n, tmp), (size_t)n);
	fclose(tmp);
	return s;
}

/* Checks that <raw> is exactly one line holding one JSON object, and parses it. */
static void parse_line(struct line *l, char *raw)
{
	json_error_t err;
	json_t *m;
	size_t len = strlen(raw);

	l->raw = raw;
	assert_true(len > 0);
	assert_int_equal(raw[len - 1], '\n');
	assert_null(memchr(raw, '\n', len - 1));
	l->obj = json_loads(raw, 0, &err);
	if (!l->obj)
		fail_msg("not JSON (%s at column %d): %s", err.text, err.column, raw);
	assert_true(json_is_object(l->obj));
	m = json_object_get(l->obj, "msg");
	assert_true(json_is_string(m));
	l->msg = json_string_value(m);
}

/* Logs <s> as the whole message, at info, from component "test". */
static void log_msg(struct line *l, const char *s)
{
	FILE *tmp;
	int saved = capture_begin(&tmp);

	tg_log(TG_LOG_INFO, "test", "%s", s);
	parse_line(l, capture_end(tmp, saved));
}

static void line_free(struct line *l)
{
	json_decref(l->obj);
	free(l->raw);
}

/* The message as written between "msg":" and its closing quote (the line's bytes). */
static void raw_msg(const struct line *l, char *out, size_t cap)
{
	const char *b = strstr(l->raw, "\"msg\":\""), *e;

	assert_non_null(b);
	b += 7;
	for (e = b; *e && *e != '"'; e++)
		if (*e == '\\')
			e++;
	assert_int_equal(*e, '"');
	assert_true((size_t)(e - b) < cap);
	memcpy(out, b, (size_t)(e - b));
	out[e - b] = '\0';
}

static int truncated(const struct line *l)
{
	return json_is_true(json_object_get(l->obj, "truncated"));
}

/* Checks that the message <s> comes back unchanged, and not marked truncated. */
static void assert_roundtrip(const char *s)
{
	struct line l;

	log_msg(&l, s);
	assert_string_equal(l.msg, s);
	assert_false(truncated(&l));
	line_free(&l);
}

static void test_plain_line(void **state)
{
	struct line l;
	FILE *tmp;
	int saved, ms;
	char tail;
	unsigned y, mo, d, h, mi, s;

	saved = capture_begin(&tmp);
	tg_log(TG_LOG_WARN, "port", "port %d up: %s", 3, "rss no");
	parse_line(&l, capture_end(tmp, saved));
	assert_int_equal(json_object_size(l.obj), 4);
	assert_string_equal(json_string_value(json_object_get(l.obj, "level")), "warn");
	assert_string_equal(json_string_value(json_object_get(l.obj, "comp")), "port");
	assert_string_equal(l.msg, "port 3 up: rss no");
	assert_true(json_is_string(json_object_get(l.obj, "ts")));
	assert_int_equal(sscanf(json_string_value(json_object_get(l.obj, "ts")),
				"%4u-%2u-%2uT%2u:%2u:%2u.%3d%c", &y, &mo, &d, &h, &mi, &s, &ms, &tail), 8);
	assert_int_equal(tail, 'Z');
	assert_int_equal(strlen(json_string_value(json_object_get(l.obj, "ts"))), 24);
	line_free(&l);
}

static void test_level(void **state)
{
	FILE *tmp;
	int saved;
	char *raw;

	assert_int_equal(tg_log_level_parse("debug"), TG_LOG_DEBUG);
	assert_int_equal(tg_log_level_parse("WARN"), TG_LOG_WARN);
	assert_int_equal(tg_log_level_parse("verbose"), -1);
	tg_log_set_level(TG_LOG_WARN);
	saved = capture_begin(&tmp);
	tg_log(TG_LOG_INFO, "test", "hidden");
	TG_ERR("test", "shown");
	raw = capture_end(tmp, saved);
	tg_log_set_level(TG_LOG_INFO);
	assert_null(strstr(raw, "hidden"));
	assert_non_null(strstr(raw, "\"level\":\"error\""));
	free(raw);
}

static void test_escapes(void **state)
{
	struct line l;
	char m[64];
	FILE *tmp;
	int saved;

	log_msg(&l, "say \"hi\" c:\\dir\nnext\tcol\x01\x1f end");
	assert_string_equal(l.msg, "say \"hi\" c:\\dir\nnext\tcol\x01\x1f end");
	raw_msg(&l, m, sizeof(m));
	assert_string_equal(m, "say \\\"hi\\\" c:\\\\dir\\nnext\\u0009col\\u0001\\u001f end");
	line_free(&l);

	/* The component is a string of the program's, but it is escaped all the same. */
	saved = capture_begin(&tmp);
	tg_log(TG_LOG_INFO, "we\"ird", "x");
	parse_line(&l, capture_end(tmp, saved));
	assert_string_equal(json_string_value(json_object_get(l.obj, "comp")), "we\"ird");
	line_free(&l);
}

/* Valid UTF-8 is written as it is, byte for byte. */
static void test_utf8_passes(void **state)
{
	static const char *const ok[] = {
		"caf\xc3\xa9", EURO " 5", EMOJI, "\xc2\x80\xdf\xbf",  /* U+0080, U+07FF */
		"\xe0\xa0\x80\xef\xbf\xbf",                 /* U+0800, U+FFFF */
		"\xed\x9f\xbf\xee\x80\x80",                 /* U+D7FF, U+E000: beside the surrogates */
		"\xf0\x90\x80\x80\xf4\x8f\xbf\xbf",         /* U+10000, U+10FFFF */
		"\x7f",
	};
	struct line l;
	char m[64];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_roundtrip(ok[i]);
		log_msg(&l, ok[i]);
		raw_msg(&l, m, sizeof(m));
		assert_string_equal(m, ok[i]);
		line_free(&l);
	}
}

/* Each byte that is not part of well-formed UTF-8 is written as \u00XX, XX its value. */
static void test_invalid_bytes(void **state)
{
	static const struct {
		const char *in, *written, *decoded;
	} bad[] = {
		{ "v=\xff\xfe", "v=\\u00ff\\u00fe", "v=\xc3\xbf\xc3\xbe" },
		{ "\xc0\xaf", "\\u00c0\\u00af", "\xc3\x80\xc2\xaf" },          /* overlong '/' */
		{ "\xe0\x80\xaf", "\\u00e0\\u0080\\u00af", "\xc3\xa0\xc2\x80\xc2\xaf" },
		{ "\xed\xa0\x80", "\\u00ed\\u00a0\\u0080", "\xc3\xad\xc2\xa0\xc2\x80" },  /* U+D800 */
		{ "\xf4\x90\x80\x80", "\\u00f4\\u0090\\u0080\\u0080",                   /* > U+10FFFF */
		  "\xc3\xb4\xc2\x90\xc2\x80\xc2\x80" },
		{ "\xf5!", "\\u00f5!", "\xc3\xb5!" },
		{ "a\xe2\x82", "a\\u00e2\\u0082", "a\xc3\xa2\xc2\x82" },      /* truncated euro */
		{ "\xe2\x82z", "\\u00e2\\u0082z", "\xc3\xa2\xc2\x82z" },
		{ "\x80" EURO, "\\u0080" EURO, "\xc2\x80" EURO },             /* stray continuation */
		{ "\xf0\x9f\x98" EMOJI, "\\u00f0\\u009f\\u0098" EMOJI, "\xc3\xb0\xc2\x9f\xc2\x98" EMOJI },
	};
	struct line l;
	char m[128];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		log_msg(&l, bad[i].in);
		raw_msg(&l, m, sizeof(m));
		assert_string_equal(m, bad[i].written);
		assert_string_equal(l.msg, bad[i].decoded);
		assert_false(truncated(&l));
		line_free(&l);
	}
}

/* Fills <buf> with <pre> times 'a', then <unit> repeated to <total> bytes at least (none
 * if <unit> is ""). */
static void fill(char *buf, size_t cap, size_t pre, const char *unit, size_t total)
{
	size_t o, ul = strlen(unit);

	memset(buf, 'a', pre);
	for (o = pre; ul > 0 && o < total; o += ul) {
		assert_true(o + ul < cap);
		memcpy(buf + o, unit, ul);
	}
	buf[o] = '\0';
}

/* Checks a cut line: it parses, says truncated, and its message is a prefix of <in> that
 * ends on a whole unit of <unit> and has at least <min> bytes. */
static void assert_cut(const char *in, size_t pre, const char *unit, size_t min)
{
	struct line l;
	size_t n;

	log_msg(&l, in);
	assert_true(truncated(&l));
	n = strlen(l.msg);
	assert_true(n >= min);
	assert_memory_equal(l.msg, in, n);
	if (n > pre)
		assert_int_equal((n - pre) % strlen(unit), 0);
	line_free(&l);
}

/* A long message is cut at RAW_MAX bytes, before a character the cut would split. */
static void test_truncate_raw(void **state)
{
	static char in[4096];
	struct line l;

	fill(in, sizeof(in), 3000, "", 3000);
	log_msg(&l, in);
	assert_true(truncated(&l));
	assert_int_equal(strlen(l.msg), RAW_MAX);
	assert_memory_equal(l.msg, in, RAW_MAX);
	line_free(&l);

	fill(in, sizeof(in), RAW_MAX, "", RAW_MAX);
	assert_roundtrip(in);                       /* the longest that is whole */

	for (size_t pre = RAW_MAX - 8; pre <= RAW_MAX; pre++) {
		fill(in, sizeof(in), pre, EURO, RAW_MAX + 8);
		assert_cut(in, pre, EURO, RAW_MAX - 2);
		fill(in, sizeof(in), pre, EMOJI, RAW_MAX + 8);
		assert_cut(in, pre, EMOJI, RAW_MAX - 3);
	}
}

/* Escapes make the written message longer than its bytes: it is cut at ESC_MAX written
 * bytes, never inside an escape or a character. */
static void test_truncate_escaped(void **state)
{
	static char in[4096];
	struct line l;
	char m[ESC_MAX + 8];

	for (size_t pre = 0; pre < 8; pre++) {
		/* \x01 is written as the 6 bytes \u0001, and \xff (invalid) as \u00ff: as many
		 * whole escapes as fit after the 'a's. */
		static const char *const six[] = { "\x01", "\xff" };
		size_t whole = pre + 6 * ((ESC_MAX - pre) / 6);

		for (int i = 0; i < 2; i++) {
			fill(in, sizeof(in), pre, six[i], 600);
			log_msg(&l, in);
			assert_true(truncated(&l));
			raw_msg(&l, m, sizeof(m));
			assert_int_equal(strlen(m), whole);
			assert_int_equal(strlen(l.msg), pre + (whole - pre) / 6 * (i ? 2 : 1));
			line_free(&l);
		}
	}

	/* <k> escapes, then emojis: the written bytes reach ESC_MAX within an emoji (k 338 to
	 * 340) or right after the last escape (341). */
	for (size_t k = 338; k <= 341; k++) {
		fill(in, sizeof(in), 0, "\x01", k);
		fill(in + k, sizeof(in) - k, 0, EMOJI, 200);
		log_msg(&l, in);
		assert_true(truncated(&l));
		raw_msg(&l, m, sizeof(m));
		assert_int_equal(strlen(m), 6 * k + 4 * ((ESC_MAX - 6 * k) / 4));
		assert_int_equal(strlen(l.msg), k + 4 * ((ESC_MAX - 6 * k) / 4));
		assert_memory_equal(l.msg, in, strlen(l.msg));
		line_free(&l);
	}
}

/* Any bytes at all, of any length: the line parses and its message is no longer than the
 * limit. A fixed seed, so that a failure repeats. */
static void test_any_bytes(void **state)
{
	static const unsigned char pick[] = { 'a', '"', '\\', '\n', 0x01, 0x7f, 0x80, 0xbf, 0xc0,
		0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xed, 0xa0, 0xf0, 0x9f, 0x98, 0xf4, 0x90, 0xff };
	static char in[3000];
	struct line l;
	unsigned seed = 12345;

	for (int i = 0; i < 500; i++) {
		size_t len = (size_t)rand_r(&seed) % (sizeof(in) - 1);

		for (size_t j = 0; j < len; j++)
			in[j] = (char)pick[(size_t)rand_r(&seed) % sizeof(pick)];
		in[len] = '\0';
		log_msg(&l, in);
		assert_true(strlen(l.msg) <= 2 * RAW_MAX);
		line_free(&l);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_line),
		cmocka_unit_test(test_level),
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_utf8_passes),
		cmocka_unit_test(test_invalid_bytes),
		cmocka_unit_test(test_truncate_raw),
		cmocka_unit_test(test_truncate_escaped),
		cmocka_unit_test(test_any_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
