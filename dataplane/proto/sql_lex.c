/* sql_lex.c - one-pass SQL lexer: statement splitting, normalized text and
 * fingerprints for PostgreSQL and MySQL (DESIGN.md §3, interface in sql_lex.h).
 *
 * Tokens are written joined by one space, except: none before ',' ')' ']',
 * none after '(' '[', none on either side of '.' and '::'. So `count( * )`,
 * `count(*)` and `COUNT (*)` all normalize to COUNT (*), and `a=-1` to A = - 1
 * (a sign is an operator token, as PostgreSQL's grammar sees it).
 *
 * The input is read once. Strings that PostgreSQL runs as code (a DO body, the
 * string of an EXECUTE inside one) are lexed again as SQL; when such a string is
 * quoted ('..', E'..', U&'..') it is read through a decoder (struct sl_level) that
 * undoes the quoting on the fly ('' → ', \n → newline, \0041 → A), so no copy is
 * made and nested statements keep offsets into the caller's input.
 *
 * Assumes standard_conforming_strings = on (the default since PostgreSQL 9.1) and
 * MySQL without NO_BACKSLASH_ESCAPES / ANSI_QUOTES.
 */
#include <stdint.h>
#include <string.h>

#include "dataplane/proto/sql_lex.h"

#define SL_MAX_DEPTH  4     /* DO bodies / EXECUTE strings lexed inside each other */
#define SL_MAX_BODIES 4     /* bodies remembered per statement */
#define SL_MAX_OP     64    /* longer operator runs are split (PostgreSQL allows 63) */

#ifdef SQL_LEX_NO_FAST
#define SL_NO_FAST 1
#else
#define SL_NO_FAST 0
#endif

#define sl_likely(x)   __builtin_expect(!!(x), 1)
#define sl_unlikely(x) __builtin_expect(!!(x), 0)

/* Character classes. */
#define K_SPACE   0x01      /* white space */
#define K_IDSTART 0x02      /* may start an identifier (bytes >= 0x80 included) */
#define K_IDCONT  0x04      /* may continue one */
#define K_DIGIT   0x08
#define K_OP      0x10      /* PostgreSQL operator character */

#define K_ALPHA (K_IDSTART | K_IDCONT)

static const uint8_t sl_class[256] = {
	[' '] = K_SPACE, ['\t'] = K_SPACE, ['\n'] = K_SPACE, ['\r'] = K_SPACE,
	['\f'] = K_SPACE, ['\v'] = K_SPACE,
	['0' ... '9'] = K_DIGIT | K_IDCONT,
	['A' ... 'Z'] = K_ALPHA, ['a' ... 'z'] = K_ALPHA, ['_'] = K_ALPHA,
	[0x80 ... 0xff] = K_ALPHA,
	['$'] = K_IDCONT,
	['~'] = K_OP, ['!'] = K_OP, ['@'] = K_OP, ['#'] = K_OP, ['^'] = K_OP,
	['&'] = K_OP, ['|'] = K_OP, ['`'] = K_OP, ['?'] = K_OP, ['+'] = K_OP,
	['-'] = K_OP, ['*'] = K_OP, ['/'] = K_OP, ['%'] = K_OP, ['<'] = K_OP,
	['>'] = K_OP, ['='] = K_OP,
};

/* Decoders that turn a quoted string's content back into the text it stands for. */
enum {
	LV_NONE = 0,        /* dollar-quoted body: read as is */
	LV_QUOTE,           /* '..': '' is one quote */
	LV_ESC,             /* E'..': also backslash escapes */
	LV_UNI,             /* U&'..': also \XXXX and \+XXXXXX (or UESCAPE char) */
	LV_NOT_CODE = 0xff, /* a literal that cannot be a body (B'..', X'..', MySQL) */
};

/* Spacing classes of tokens (see the file comment). */
enum { SP_WORD, SP_CLOSE, SP_OPEN, SP_JOIN };

/* Token kinds, as statements care about them. */
enum { TK_WORD, TK_STR, TK_LPAREN, TK_OTHER };

/* How a token is written: upper-cased, as is, or as is with '?' in the fingerprint. */
enum { EM_UPPER, EM_SAME, EM_LIT };

/* What the next string of a statement is (WANT_EXEC and WANT_FN: only if the very next
 * token is a string). */
enum { WANT_NONE, WANT_DO, WANT_EXEC, WANT_FN };

/* Statements that hold another statement PostgreSQL runs, whose later words are looked
 * at (not by the fast loop): the inner statement is judged on its own, so that rules
 * anchored at a statement's start see it. Without this, PREPARE d AS DELETE FROM t
 * (then EXECUTE d), EXPLAIN ANALYZE DELETE FROM t, COPY (DELETE FROM t RETURNING *) TO
 * STDOUT and a function whose body drops a table all walked past the packs. */
enum {
	W_NONE = 0,
	W_PREPARE,          /* PREPARE name [(types)] AS <statement>: split after AS */
	W_EXPLAIN,          /* EXPLAIN [ANALYZE|VERBOSE|(options)] <statement>: split before
	                     * it when ANALYZE (which runs it) is among the options */
	W_CREATE,           /* CREATE FUNCTION/PROCEDURE ... AS '<body>' (lexed like a DO
	                     * body), BEGIN ATOMIC <statements> END (split after ATOMIC),
	                     * CREATE RULE ... DO [ALSO|INSTEAD] <statement> (split before it) */
	W_COPY,             /* COPY (<statement>) TO ...: the parenthesized query as a body */
};

/* PL/pgSQL tokens dropped between statements. */
enum { SKIP_NONE, SKIP_TO_SEMI, SKIP_LABEL };

/* String flags for lex_quoted(). */
#define QF_BACKSLASH 0x01   /* backslash escapes the next character */
#define QF_CONT      0x02   /* PostgreSQL: 'a'<newline>'b' continues the string */
#define QF_IDENT     0x04   /* a quoted identifier, kept in the fingerprint */

struct sl_level {
	uint8_t kind;                 /* LV_QUOTE, LV_ESC or LV_UNI */
	uint8_t esc;                  /* LV_UNI: the escape character */
	uint8_t npend;                /* bytes of a decoded multi-byte character ... */
	uint8_t ipend;                /* ... and the next one to hand out */
	uint8_t pend[4];
};

/* A source of characters: raw input bytes, or (nlv > 0) the decoded content of
 * quoted strings nested nlv deep. */
struct sl_src {
	const uint8_t *p;             /* the caller's whole input */
	uint32_t pos;                 /* next raw byte */
	uint32_t end;                 /* raw end of this source */
	uint32_t nread;               /* decoded characters read so far (nlv > 0 only) */
	uint32_t nlv;                 /* decoder levels, lv[0] reading raw bytes */
	struct sl_level lv[SL_MAX_DEPTH];
};

/* A string to lex as code once its statement is complete. */
struct sl_body {
	uint32_t start;               /* raw offsets of its content */
	uint32_t end;
	uint8_t kind;                 /* LV_*: the decoder it needs */
	uint8_t esc;                  /* LV_UNI: escape character */
	uint8_t plpgsql;              /* 1: a DO or function body, 0: an EXECUTE string or
	                               * a COPY query */
};

/* An output buffer. Characters go at pos while one byte is left for a NUL. */
struct sl_w {
	uint8_t *buf;
	uint32_t cap;
	uint32_t pos;
	uint32_t lim;                 /* cap - 1 (0 if cap is 0): characters end there */
};

/* State shared by a top-level lexer and the nested ones it starts. */
struct sl_ctx {
	struct sql_lex_out *out;
	struct sl_w norm;
	struct sl_w fp;
	uint32_t stmts_cap;
	uint32_t flags;               /* SQL_LEX_* */
	unsigned mysql;               /* dialect is MySQL */
	int stop;                     /* the statement array is full */
};

/* The statement being built. */
struct sl_stmt {
	uint8_t active;               /* it has tokens */
	uint8_t kw_done;              /* first_kw settled */
	uint8_t prev_sp;              /* SP_* of the previous token */
	uint8_t want;                 /* WANT_*: what its next string is */
	uint8_t hdr;                  /* PL/pgSQL IF/WHILE/... header: ends at THEN/LOOP */
	uint8_t n_bodies;
	struct sl_watch {             /* a statement that holds another: zeroed at its start */
		uint8_t kind;         /* W_*: its later words are looked at */
		uint8_t analyze;      /* W_EXPLAIN: ANALYZE is among the options */
		uint8_t analyze_off;  /* W_EXPLAIN: an option ANALYZE was seen inside the
		                       * parentheses, at token analyze_at: a value FALSE, OFF,
		                       * 'false', 'off' or 0 right after it (analyze_at + 1)
		                       * undoes it (watch_value) */
		uint16_t analyze_at;
		uint8_t prev_begin;   /* W_CREATE: the previous word was BEGIN */
		uint8_t rule_do;      /* W_CREATE: DO of CREATE RULE seen (2: and the '(' of a
		                       * parenthesized action list) */
		uint16_t ntok;        /* tokens after the first word (saturating) */
		uint32_t copy_start;  /* W_COPY: raw offset after its '(' (0: none) */
	} w;
	int32_t paren;                /* parenthesis depth */
	uint32_t raw_off;
	uint32_t norm_off;
	uint32_t fp_off;
	char first_kw[16];
	struct sl_body bodies[SL_MAX_BODIES];
};

struct sl_lexer {
	struct sl_ctx *x;
	struct sl_src src;
	struct sl_src tok0;           /* decoded sources: where the current token starts */
	uint32_t tok_pos;             /* raw offset where the current token starts */
	int depth;                    /* 0: the caller's input; >0: a body */
	uint8_t plpgsql;              /* lexing a DO body */
	uint8_t skip;                 /* SKIP_* */
	uint8_t hdr_next;             /* the word being added starts a PL/pgSQL header */
	uint8_t mysql_exec;           /* inside a MySQL executable comment */
	uint8_t sep;                  /* a space goes before the token being written */
	char kw[16];                  /* current word, upper case, first 15 characters */
	struct sl_stmt st;            /* the statement being built */
};

static void lex_run(struct sl_lexer *L);

/* ---- decoders ---------------------------------------------------------- */

static int lv_get(struct sl_src *s, unsigned k);

static int sl_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Reads up to <max> digits in <base> at level <k> into <v>; returns how many.
 * Nothing past the last digit is consumed. */
static int lv_digits(struct sl_src *s, unsigned k, unsigned base, int max, uint32_t *v)
{
	int n = 0;

	*v = 0;
	while (n < max) {
		struct sl_src t = *s;
		int d = sl_digit(lv_get(&t, k));

		if (d < 0 || (unsigned)d >= base)
			break;
		*v = *v * base + (unsigned)d;
		*s = t;
		n++;
	}
	return n;
}

/* Returns the first UTF-8 byte of <cp>, leaving the others pending in <l>. */
static int lv_codepoint(struct sl_level *l, uint32_t cp)
{
	uint8_t b[4];
	int n;

	if (cp < 0x80)
		return (int)cp;
	if (cp < 0x800) {
		b[0] = 0xc0 | cp >> 6;
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = 0xe0 | cp >> 12;
		n = 3;
	} else if (cp < 0x110000) {
		b[0] = 0xf0 | cp >> 18;
		n = 4;
	} else {
		return '?';
	}
	for (int i = 1; i < n; i++)
		b[i] = 0x80 | ((cp >> (6 * (n - 1 - i))) & 0x3f);
	memcpy(l->pend, b + 1, (size_t)n - 1);
	l->npend = (uint8_t)(n - 1);
	l->ipend = 0;
	return b[0];
}

/* E'..': the character after a backslash (already read) at level <k>. */
static int lv_escape(struct sl_src *s, unsigned k, struct sl_level *l)
{
	uint32_t v;
	int c = lv_get(s, k - 1), n;

	switch (c) {
	case 'b': return '\b';
	case 'f': return '\f';
	case 'n': return '\n';
	case 'r': return '\r';
	case 't': return '\t';
	case 'x':
		return lv_digits(s, k - 1, 16, 2, &v) ? (int)v : 'x';
	case 'u':
		return lv_digits(s, k - 1, 16, 4, &v) == 4 ? lv_codepoint(l, v) : 'u';
	case 'U':
		return lv_digits(s, k - 1, 16, 8, &v) == 8 ? lv_codepoint(l, v) : 'U';
	default:
		if (c < '0' || c > '7')
			return c;          /* \' \\ \; ... stand for themselves; -1 at the end */
		n = lv_digits(s, k - 1, 8, 2, &v);
		return (int)((((uint32_t)(c - '0') << (3 * n)) | v) & 0xff);
	}
}

/* U&'..': the escape character was read at level <k>. */
static int lv_unicode(struct sl_src *s, unsigned k, struct sl_level *l)
{
	struct sl_src t = *s;
	uint32_t v;
	int c = lv_get(&t, k - 1);

	if (c == l->esc) {
		*s = t;
		return c;
	}
	if (c == '+') {
		*s = t;
		return lv_digits(s, k - 1, 16, 6, &v) == 6 ? lv_codepoint(l, v) : '+';
	}
	return lv_digits(s, k - 1, 16, 4, &v) == 4 ? lv_codepoint(l, v) : l->esc;
}

/* Skips the gap between the segments of a continued string ('a'<newline>'b'),
 * through the next segment's opening quote, at level <k>. The string was checked
 * when it was lexed, so any '-' here starts a -- comment. Returns -1 at the end. */
static int lv_skip_gap(struct sl_src *s, unsigned k)
{
	int c, comment = 0;

	while ((c = lv_get(s, k)) >= 0) {
		if (comment) {
			if (c == '\n' || c == '\r')
				comment = 0;
		} else if (c == '\'') {
			return 0;
		} else if (c == '-') {
			comment = 1;
		}
	}
	return -1;
}

/* Returns the next character at level <k> (0: raw bytes), -1 at the end. */
static int lv_get(struct sl_src *s, unsigned k)
{
	struct sl_level *l;
	int c;

	if (k == 0)
		return s->pos < s->end ? s->p[s->pos++] : -1;
	l = &s->lv[k - 1];
	if (l->ipend < l->npend) {
		c = l->pend[l->ipend++];
		if (l->ipend == l->npend)
			l->ipend = l->npend = 0;      /* one canonical idle state */
		return c;
	}
	for (;;) {
		struct sl_src t;

		c = lv_get(s, k - 1);
		if (c != '\'')
			break;
		t = *s;
		if (lv_get(&t, k - 1) == '\'') {
			*s = t;
			return '\'';
		}
		/* A lone quote inside the content ends a segment of a continued string. */
		if (lv_skip_gap(s, k - 1) < 0)
			return -1;
	}
	if (c == '\\' && l->kind == LV_ESC)
		return lv_escape(s, k, l);
	if (c >= 0 && c == l->esc && l->kind == LV_UNI)
		return lv_unicode(s, k, l);
	return c;
}

/* ---- sources ----------------------------------------------------------- */

/* One decoder level, nothing pending: a byte that is not a quote or an escape
 * character stands for itself (the common case inside a quoted body). */
static inline int src_plain1(const struct sl_src *s, unsigned i)
{
	int c = -1;

	if (s->nlv != 1 || s->lv[0].npend || s->end - s->pos <= i)
		return -1;
	for (unsigned j = 0; j <= i; j++) {
		c = s->p[s->pos + j];
		if (c == '\'' || c == '\\' || c == s->lv[0].esc)
			return -1;
	}
	return c;
}

static inline int src_get(struct sl_src *s)
{
	int c;

	if (sl_likely(s->nlv == 0))
		return s->pos < s->end ? s->p[s->pos++] : -1;
	if ((c = src_plain1(s, 0)) >= 0) {
		s->pos++;
		s->nread++;
		return c;
	}
	c = lv_get(s, s->nlv);
	if (c >= 0)
		s->nread++;
	return c;
}

static int src_peek_slow(const struct sl_src *s, unsigned i)
{
	struct sl_src t = *s;
	int c;

	do
		c = lv_get(&t, t.nlv);
	while (c >= 0 && i-- > 0);
	return c;
}

/* The character <i> places ahead (only small <i>: decoded sources decode again). */
static inline int src_peek(const struct sl_src *s, unsigned i)
{
	int c;

	if (sl_likely(s->nlv == 0))
		return s->end - s->pos > i ? s->p[s->pos + i] : -1;
	if (i <= 1 && (c = src_plain1(s, i)) >= 0)
		return c;
	return src_peek_slow(s, i);
}

static inline void src_skip(struct sl_src *s, unsigned n)
{
	if (sl_likely(s->nlv == 0)) {
		s->pos = s->end - s->pos > n ? s->pos + n : s->end;
		return;
	}
	while (n-- > 0 && src_get(s) >= 0)
		;
}

static inline int is_class(int c, uint8_t k)
{
	return c >= 0 && (sl_class[c] & k);
}

/* Offset of the first byte from <i> on (before <e>) that cannot continue an
 * identifier, eight bytes per step: the exit branch of a byte loop mispredicts on
 * nearly every word. Bit 7 of each byte of <m> collects "is a letter, digit, '_'
 * or '$'" from carry-free byte-wise compares (each byte is <= 0x7f once masked). */
static inline uint32_t scan_ident(const uint8_t *p, uint32_t i, uint32_t e)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	const uint64_t ones = 0x0101010101010101ull, high = ones * 0x80;

	while (e - i >= 8) {
		uint64_t v, h, l, m;

		memcpy(&v, p + i, 8);
		h = v & ~high;
		l = h | ones * 0x20;                                          /* fold case */
		m = (h + ones * (0x80 - '0')) & ~(h + ones * (0x7f - '9'));   /* digit */
		m |= (l + ones * (0x80 - 'a')) & ~(l + ones * (0x7f - 'z'));  /* letter */
		m |= ~((h ^ ones * '_') + ones * 0x7f);                       /* '_' */
		m |= ~((h ^ ones * '$') + ones * 0x7f);                       /* '$' */
		m = ~(m | v) & high;              /* bytes >= 0x80 continue one too */
		if (m)
			return i + (uint32_t)(__builtin_ctzll(m) >> 3);
		i += 8;
	}
#endif
	while (i < e && (sl_class[p[i]] & K_IDCONT))
		i++;
	return i;
}

static void skip_spaces(struct sl_src *s)
{
	if (sl_likely(s->nlv == 0)) {
		uint32_t i = s->pos;

		while (i < s->end && (sl_class[s->p[i]] & K_SPACE))
			i++;
		s->pos = i;
		return;
	}
	while (is_class(src_peek(s, 0), K_SPACE))
		src_get(s);
}

/* Skips a line comment up to its end of line. NUL ends it too: a server that
 * stops there must not see code that this lexer hid. */
static void skip_line(struct sl_src *s)
{
	int c;

	if (sl_likely(s->nlv == 0)) {
		uint32_t i = s->pos;

		while (i < s->end && s->p[i] != '\n' && s->p[i] != '\r' && s->p[i] != 0)
			i++;
		s->pos = i;
		return;
	}
	while ((c = src_peek(s, 0)) >= 0 && c != '\n' && c != '\r' && c != 0)
		src_get(s);
}

/* Skips a block comment starting at "/" "*"; PostgreSQL's nest, MySQL's do not.
 * Returns 0 if the input ends inside it. */
static int skip_block_comment(struct sl_src *s, int nested)
{
	uint32_t depth = 1;
	int c, prev = 0;

	src_skip(s, 2);
	if (sl_likely(s->nlv == 0)) {
		const uint8_t *p = s->p;
		uint32_t i = s->pos, e = s->end;

		while (e - i >= 2) {
			if (p[i] == '*' && p[i + 1] == '/') {
				i += 2;
				if (--depth == 0 || !nested) {
					s->pos = i;
					return 1;
				}
			} else if (nested && p[i] == '/' && p[i + 1] == '*') {
				i += 2;
				depth++;
			} else {
				i++;
			}
		}
		s->pos = e;
		return 0;
	}
	while ((c = src_get(s)) >= 0) {
		if (prev == '*' && c == '/') {
			if (--depth == 0 || !nested)
				return 1;
			prev = 0;
		} else if (nested && prev == '/' && c == '*') {
			depth++;
			prev = 0;
		} else {
			prev = c;
		}
	}
	return 0;
}

/* Skips white space and comments (for look-ahead only). */
static void skip_gap(struct sl_src *s)
{
	for (;;) {
		int c = src_peek(s, 0), c1 = src_peek(s, 1);

		if (is_class(c, K_SPACE))
			skip_spaces(s);
		else if (c == '-' && c1 == '-')
			skip_line(s);
		else if (c == '/' && c1 == '*')
			skip_block_comment(s, 1);
		else
			return;
	}
}

/* ---- output ------------------------------------------------------------ */

static inline uint32_t w_room(const struct sl_w *w)
{
	return w->pos < w->lim ? w->lim - w->pos : 0;
}

static inline void w_putc(struct sl_ctx *x, struct sl_w *w, uint8_t c)
{
	if (sl_likely(w_room(w)))
		w->buf[w->pos++] = c;
	else
		x->flags |= SQL_LEX_TRUNCATED;
}

static inline uint8_t sl_upper(uint8_t c)
{
	return (uint8_t)(c - 'a') < 26 ? (uint8_t)(c - 32) : c;
}

/* Upper-cases 8 bytes at once: bit 7 of each byte of <lower> is 'a' <= c <= 'z'
 * (carry-free byte-wise compares on c & 0x7f, bytes >= 0x80 excluded), and
 * clearing bit 5 makes a lower-case letter upper-case. */
static inline uint64_t upper8(uint64_t v)
{
	const uint64_t ones = 0x0101010101010101ull;
	uint64_t h = v & (ones * 0x7f);
	uint64_t lower = (h + ones * (0x80 - 'a')) & ~(h + ones * (0x80 - 'z' - 1)) & ~v & (ones * 0x80);

	return v ^ (lower >> 2);
}

/* Upper-cases <n> bytes of <b> into <a> and <f>, 8 at a time where it can. */
static inline void upper2(uint8_t *restrict a, uint8_t *restrict f, const uint8_t *b, uint32_t n)
{
	uint32_t i = 0;

	for (; n - i >= 8; i += 8) {
		uint64_t v;

		memcpy(&v, b + i, 8);
		v = upper8(v);
		memcpy(a + i, &v, 8);
		memcpy(f + i, &v, 8);
	}
	for (; i < n; i++)
		a[i] = f[i] = sl_upper(b[i]);
}

/* NUL-terminates a statement's text begun at <off>. */
static void w_end(struct sl_ctx *x, struct sl_w *w, uint32_t off, uint32_t *r_off, uint32_t *r_len)
{
	if (w->cap == 0) {
		*r_off = *r_len = 0;
		x->flags |= SQL_LEX_TRUNCATED;
	} else if (w->pos < w->cap) {
		w->buf[w->pos] = 0;
		*r_off = off;
		*r_len = w->pos - off;
		w->pos++;
	} else {
		/* Full, even the NUL: point at the previous statement's NUL. */
		*r_off = w->cap - 1;
		*r_len = 0;
		x->flags |= SQL_LEX_TRUNCATED;
	}
}

/* ---- tokens and statements --------------------------------------------- */

static inline void tok_mark(struct sl_lexer *L)
{
	L->tok_pos = L->src.pos;
	if (sl_unlikely(L->src.nlv))
		L->tok0 = L->src;
}

/* Writes a token byte by byte, with its separator: the slow path. */
static void __attribute__((noinline)) emit_slow(struct sl_lexer *L, int how)
{
	struct sl_ctx *x = L->x;
	struct sl_src t;
	uint32_t n;

	if (L->sep) {
		w_putc(x, &x->norm, ' ');
		w_putc(x, &x->fp, ' ');
	}
	if (L->src.nlv == 0) {
		const uint8_t *b = L->src.p + L->tok_pos;

		n = L->src.pos - L->tok_pos;
		for (uint32_t i = 0; i < n; i++) {
			uint8_t c = how == EM_UPPER ? sl_upper(b[i]) : b[i];

			w_putc(x, &x->norm, c);
			if (how != EM_LIT)
				w_putc(x, &x->fp, c);
		}
	} else {
		/* Decoded source: read the token again. */
		t = L->tok0;
		n = L->src.nread - t.nread;
		while (n-- > 0) {
			int c = src_get(&t);
			uint8_t b;

			if (c < 0)
				break;
			b = how == EM_UPPER ? sl_upper((uint8_t)c) : (uint8_t)c;
			w_putc(x, &x->norm, b);
			if (how != EM_LIT)
				w_putc(x, &x->fp, b);
		}
	}
	if (how == EM_LIT)
		w_putc(x, &x->fp, '?');
}

/* Most tokens are a few bytes: a library call would cost more than the copy. */
static inline void copy_tok(uint8_t *restrict d, const uint8_t *restrict b, uint32_t n)
{
	if (n > 16) {
		memcpy(d, b, n);
		return;
	}
	for (uint32_t i = 0; i < n; i++)
		d[i] = b[i];
}

/* Writes the token from its mark to the current position, after a space if
 * tok_begin() asked for one. One room check per buffer on the common path. */
static inline __attribute__((always_inline)) void emit_span(struct sl_lexer *L, int how)
{
	struct sl_ctx *x = L->x;
	struct sl_w *wn = &x->norm, *wf = &x->fp;
	uint32_t n = L->src.pos - L->tok_pos, sep = L->sep;
	uint32_t fn = how == EM_LIT ? 1 : n;
	uint32_t rn = w_room(wn), rf = w_room(wf);
	const uint8_t *b = L->src.p + L->tok_pos;
	uint8_t *dn, *df;
	uint64_t v;

	if (sl_unlikely(L->src.nlv != 0 || n == 0 || rn < n + sep || rf < fn + sep)) {
		emit_slow(L, how);
		return;
	}
	dn = wn->buf + wn->pos;
	df = wf->buf + wf->pos;
	wn->pos += n + sep;
	wf->pos += fn + sep;
	/* Branch-free separator: without one, the token overwrites the space. */
	*dn = *df = ' ';
	dn += sep;
	df += sep;
	/* A short token with 8 bytes readable and writable: one 8-byte step (the bytes
	 * written past the token stay inside the buffer, beyond the text). */
	if (n <= 8 && L->src.end - L->tok_pos >= 8 && rn - sep >= 8 && (how == EM_LIT || rf - sep >= 8)) {
		memcpy(&v, b, 8);
		if (how == EM_UPPER)
			v = upper8(v);
		memcpy(dn, &v, 8);
		if (how == EM_LIT)
			*df = '?';
		else
			memcpy(df, &v, 8);
		return;
	}
	if (how == EM_UPPER) {
		upper2(dn, df, b, n);
		return;
	}
	copy_tok(dn, b, n);
	if (how == EM_LIT)
		*df = '?';
	else
		copy_tok(df, b, n);
}

/* Copies the current word's first 15 characters, upper-cased, into L->kw;
 * returns its length. */
/* Copies the first bytes of the token just read (L->tok_pos up to the source
 * position), at most <cap>, into <out>, upper-cased if <upper>; returns the token's
 * length, which may be more than was copied. */
static inline __attribute__((always_inline)) uint32_t tok_copy(const struct sl_lexer *L, char *out,
							       uint32_t cap, int upper)
{
	uint32_t n, m, i;

	if (sl_likely(L->src.nlv == 0)) {
		n = L->src.pos - L->tok_pos;
		m = n < cap ? n : cap;
		for (i = 0; i < m; i++)
			out[i] = (char)(upper ? sl_upper(L->src.p[L->tok_pos + i]) : L->src.p[L->tok_pos + i]);
	} else {
		struct sl_src t = L->tok0;

		n = L->src.nread - t.nread;
		m = n < cap ? n : cap;
		for (i = 0; i < m; i++) {
			uint8_t c = (uint8_t)src_get(&t);
			out[i] = (char)(upper ? sl_upper(c) : c);
		}
	}
	return n;
}

static uint32_t word_kw(struct sl_lexer *L)
{
	uint32_t n = tok_copy(L, L->kw, 15, 1);

	L->kw[n < 15 ? n : 15] = 0;
	return n;
}

static int kw_is(const struct sl_lexer *L, uint32_t n, const char *w)
{
	return n == strlen(w) && memcmp(L->kw, w, n) == 0;
}

static int kw_in(const struct sl_lexer *L, uint32_t n, const char *const *ws)
{
	for (; *ws; ws++)
		if (kw_is(L, n, *ws))
			return 1;
	return 0;
}

static void lex_body(struct sl_lexer *P, const struct sl_body *b);

static void stmt_begin(struct sl_lexer *L)
{
	struct sl_stmt *st = &L->st;

	st->active = 1;
	st->kw_done = 0;
	st->want = WANT_NONE;
	st->hdr = 0;
	st->n_bodies = 0;
	st->paren = 0;
	memset(&st->w, 0, sizeof(st->w));
	st->raw_off = L->tok_pos;
	st->norm_off = L->x->norm.pos;
	st->fp_off = L->x->fp.pos;
	memset(st->first_kw, 0, sizeof(st->first_kw));
}

/* Ends the current statement at raw offset <raw_end>, records it, then lexes the
 * bodies it holds (their statements follow it). */
static void stmt_end(struct sl_lexer *L, uint32_t raw_end)
{
	struct sl_stmt *st = &L->st;
	struct sl_ctx *x = L->x;
	struct sql_stmt *r;

	if (!st->active || x->stop)
		return;
	st->active = 0;
	if (x->out->n_stmts >= x->stmts_cap) {
		x->flags |= SQL_LEX_TRUNCATED;
		x->stop = 1;
		x->norm.pos = st->norm_off;
		x->fp.pos = st->fp_off;
		return;
	}
	r = &x->out->stmts[x->out->n_stmts++];
	r->raw_off = st->raw_off;
	r->raw_len = raw_end > st->raw_off ? raw_end - st->raw_off : 0;
	w_end(x, &x->norm, st->norm_off, &r->norm_off, &r->norm_len);
	w_end(x, &x->fp, st->fp_off, &r->fp_off, &r->fp_len);
	memcpy(r->first_kw, st->first_kw, sizeof(r->first_kw));
	r->nested = L->depth > 0;
	for (unsigned i = 0; i < st->n_bodies && !x->stop; i++)
		lex_body(L, &st->bodies[i]);
}

/* Starts a token of spacing class <sp> and kind <tk>: opens a statement or
 * decides the separator (L->sep). Returns 0 if the token is to be dropped. */
static inline __attribute__((always_inline)) int tok_begin(struct sl_lexer *L, uint8_t sp, int tk)
{
	struct sl_stmt *st = &L->st;

	if (sl_unlikely(L->skip))
		return 0;
	if (sl_unlikely(!st->active)) {
		stmt_begin(L);
		L->sep = 0;
	} else {
		L->sep = st->prev_sp != SP_OPEN && st->prev_sp != SP_JOIN &&
			 sp != SP_CLOSE && sp != SP_JOIN;
	}
	st->prev_sp = sp;
	if (sl_unlikely(st->w.kind) && st->w.ntok < UINT16_MAX)
		st->w.ntok++;
	if ((st->want == WANT_EXEC || st->want == WANT_FN) && tk != TK_STR)
		st->want = WANT_NONE;
	if (!st->kw_done && tk != TK_LPAREN) {
		st->kw_done = 1;
		if (tk == TK_WORD)
			memcpy(st->first_kw, L->kw, sizeof(st->first_kw));
	}
	return 1;
}

/* U&'..' UESCAPE 'c': returns c, or the default backslash. */
static uint8_t uescape_char(const struct sl_lexer *L)
{
	static const char word[] = "UESCAPE";
	struct sl_src t = L->src;
	int c;

	skip_gap(&t);
	for (const char *w = word; *w; w++)
		if ((c = src_get(&t)) < 0 || sl_upper((uint8_t)c) != (uint8_t)*w)
			return '\\';
	if (is_class(src_peek(&t, 0), K_IDCONT))
		return '\\';
	skip_gap(&t);
	if (src_get(&t) != '\'' || (c = src_get(&t)) < 0 || src_get(&t) != '\'')
		return '\\';
	return (uint8_t)c;
}

/* Remembers the string just lexed as a body of the statement, if it wants one. */
static void note_body(struct sl_lexer *L, uint8_t kind, uint32_t start, uint32_t end)
{
	struct sl_stmt *st = &L->st;
	struct sl_body *b;
	uint8_t plpgsql = st->want == WANT_DO || st->want == WANT_FN;

	st->want = WANT_NONE;
	if (kind == LV_NOT_CODE)
		return;
	if (st->n_bodies >= SL_MAX_BODIES) {
		L->x->flags |= SQL_LEX_TRUNCATED;
		return;
	}
	b = &st->bodies[st->n_bodies++];
	b->start = start;
	b->end = end > start ? end : start;
	b->kind = kind;
	b->esc = kind == LV_UNI ? uescape_char(L) : '\\';
	b->plpgsql = plpgsql;
}

static const char *const explain_opt_kw[] = { "ANALYZE", "ANALYSE", "VERBOSE", NULL };

/* Is token <idx> of an EXPLAIN's options the value of an ANALYZE right before it?
 * Only the very next token is: in (ANALYZE, "costs" 0) the 0 is COSTS' (found in
 * review). ntok saturates: past 65534 tokens no value is taken (ANALYZE stays on). */
static inline int explain_value_next(const struct sl_stmt *st, unsigned idx)
{
	return st->w.analyze_off && st->w.ntok < UINT16_MAX && idx == st->w.analyze_at + 1u;
}

/* A word <n> of a statement that holds another (st->w.kind), before it is written: it
 * may end the statement, the word then beginning a new one. */
static void watch_word_before(struct sl_lexer *L, uint32_t n)
{
	struct sl_stmt *st = &L->st;

	if (st->w.kind == W_EXPLAIN) {
		if (st->paren > 0) {
			/* (ANALYZE), (ANALYZE true), but not (ANALYZE false) / (ANALYZE off); this
			 * word is token ntok + 1 (tok_begin has not counted it yet) */
			if (explain_value_next(st, st->w.ntok + 1) &&
			    (kw_is(L, n, "FALSE") || kw_is(L, n, "OFF")))
				st->w.analyze = 0;
			if (kw_is(L, n, "ANALYZE") || kw_is(L, n, "ANALYSE")) {
				st->w.analyze = st->w.analyze_off = 1;
				st->w.analyze_at = (uint16_t)(st->w.ntok + 1);
			}
			return;
		}
		if (kw_in(L, n, explain_opt_kw)) {
			st->w.analyze |= !kw_is(L, n, "VERBOSE");
			return;
		}
		/* the explained statement: judged alone if EXPLAIN runs it */
		st->w.kind = W_NONE;
		if (st->w.analyze)
			stmt_end(L, L->tok_pos);
		return;
	}
	/* the action, or the first of a parenthesized list (the next ones follow a ';') */
	if (st->w.kind == W_CREATE && st->w.rule_do && st->paren == (st->w.rule_do == 2)) {
		if (kw_is(L, n, "ALSO") || kw_is(L, n, "INSTEAD"))
			return;
		st->w.kind = W_NONE;
		if (!kw_is(L, n, "NOTHING"))
			stmt_end(L, L->tok_pos);    /* the rule's action */
	}
}

/* A number or string of an EXPLAIN's parenthesized options: the value of the option
 * word before it. After ANALYZE, PostgreSQL (defGetBoolean) reads the integer 0 and
 * the strings 'false' and 'off' (any case) as false: EXPLAIN then runs nothing. Any
 * other value is true or an error, and whatever is not read exactly here (a dollar
 * string, an escape) leaves ANALYZE on: the safe side. Called after the token is
 * read (L->tok_pos .. the source position). */
static void watch_value(struct sl_lexer *L)
{
	struct sl_stmt *st = &L->st;
	static const char *const off[] = { "0", "'FALSE'", "'OFF'", "E'FALSE'", "E'OFF'", NULL };

	if (st->w.kind != W_EXPLAIN || st->paren <= 0 || !st->active ||
	    !explain_value_next(st, st->w.ntok))
		return;
	uint32_t n = word_kw(L);
	int zero = n > 0 && n < sizeof(L->kw);

	for (uint32_t i = 0; zero && i < n; i++)
		zero = L->kw[i] == '0';     /* 0, 00: the integer 0 (-0 is two tokens: stays on) */
	if (zero || kw_in(L, n, off))
		st->w.analyze = 0;
}

/* A quoted identifier among an EXPLAIN's options (<uni>: U&"..."), just read: an option
 * name. PostgreSQL compares option names with "analyze" as written, so "analyze" and
 * "analyse" are ANALYZE and "ANALYZE" is an unknown option (an error); a U& name may
 * spell anything with its escapes, so it counts as ANALYZE (the safe side). */
static void watch_option_name(struct sl_lexer *L, int uni)
{
	struct sl_stmt *st = &L->st;
	char t[12];
	uint32_t n;

	if (st->w.kind != W_EXPLAIN || st->paren <= 0 || !st->active)
		return;
	if (uni) {
		st->w.analyze = 1;
		return;
	}
	n = tok_copy(L, t, sizeof(t), 0);   /* quoted names are compared as written */
	if (n == 9 && (memcmp(t, "\"analyze\"", 9) == 0 || memcmp(t, "\"analyse\"", 9) == 0)) {
		st->w.analyze = st->w.analyze_off = 1;
		st->w.analyze_at = st->w.ntok;   /* counted already by tok_begin */
	}
}

/* The same, after the word is written. */
static void watch_word_after(struct sl_lexer *L, uint32_t n)
{
	struct sl_stmt *st = &L->st;
	int begin = 0;

	if (st->paren != 0)
		return;
	if (st->w.kind == W_PREPARE && kw_is(L, n, "AS")) {
		stmt_end(L, L->src.pos);        /* what follows is the prepared statement */
		return;
	}
	if (st->w.kind != W_CREATE)
		return;
	if (kw_is(L, n, "AS"))
		st->want = WANT_FN;             /* a function body, if a string follows */
	else if (kw_is(L, n, "DO"))
		st->w.rule_do = 1;
	else if (kw_is(L, n, "ATOMIC") && st->w.prev_begin) {
		stmt_end(L, L->src.pos);        /* BEGIN ATOMIC: statements follow */
		return;
	} else
		begin = kw_is(L, n, "BEGIN");
	st->w.prev_begin = (uint8_t)begin;
}

/* Lexes body <b> of the statement just recorded by <P>, one level deeper. */
static void lex_body(struct sl_lexer *P, const struct sl_body *b)
{
	struct sl_lexer N;

	if (P->depth >= SL_MAX_DEPTH) {
		P->x->flags |= SQL_LEX_TRUNCATED;
		return;
	}
	memset(&N, 0, sizeof(N));
	N.x = P->x;
	N.depth = P->depth + 1;
	N.plpgsql = b->plpgsql;
	N.src = P->src;
	N.src.pos = b->start;
	N.src.end = b->end;
	N.src.nread = 0;
	/* The body starts right after an ASCII quote or '$': no decoder is mid-character. */
	for (unsigned i = 0; i < N.src.nlv; i++)
		N.src.lv[i].npend = N.src.lv[i].ipend = 0;
	if (b->kind != LV_NONE) {
		N.src.lv[N.src.nlv].kind = b->kind;
		N.src.lv[N.src.nlv].esc = b->esc;
		N.src.nlv++;
	}
	lex_run(&N);
}

/* ---- PL/pgSQL ---------------------------------------------------------- */

static const char *const plpg_block_kw[] = {
	"BEGIN", "DECLARE", "EXCEPTION", "ELSE", "LOOP", "THEN", NULL,
};
static const char *const plpg_hdr_kw[] = {
	"IF", "ELSIF", "ELSEIF", "WHEN", "WHILE", "FOR", "FOREACH", "CASE", NULL,
};

/* In a DO body, block structure is not a statement: BEGIN/DECLARE/... are dropped,
 * END ...; skipped, and IF ... THEN / WHILE ... LOOP headers end at THEN/LOOP, so
 * that the statements inside stand alone. Returns 1 if the word is consumed. */
static int plpgsql_word(struct sl_lexer *L, uint32_t n)
{
	struct sl_stmt *st = &L->st;

	if (!st->active) {
		if (kw_in(L, n, plpg_block_kw))
			return 1;
		if (kw_is(L, n, "END")) {
			L->skip = SKIP_TO_SEMI;
			return 1;
		}
		L->hdr_next = (uint8_t)kw_in(L, n, plpg_hdr_kw);
		return 0;
	}
	if (st->hdr && st->paren <= 0 && (kw_is(L, n, "THEN") || kw_is(L, n, "LOOP"))) {
		stmt_end(L, L->tok_pos);
		return 1;
	}
	return 0;
}

/* ---- lexers of each token kind ------------------------------------------ */

static void lex_word(struct sl_lexer *L)
{
	struct sl_src *s = &L->src;
	struct sl_stmt *st = &L->st;
	uint32_t n = 0;
	int first;

	tok_mark(L);
	if (sl_likely(s->nlv == 0)) {
		s->pos = scan_ident(s->p, s->pos + 1, s->end);
	} else {
		src_get(s);
		while (is_class(src_peek(s, 0), K_IDCONT))
			src_get(s);
	}
	if (L->skip)
		return;
	/* The word itself matters only for a statement's first words, in PL/pgSQL and in
	 * statements that hold another (st->w.kind). */
	if (!st->active || !st->kw_done || L->plpgsql || st->w.kind)
		n = word_kw(L);
	else
		L->kw[0] = 0;
	L->hdr_next = 0;
	if (L->plpgsql && plpgsql_word(L, n))
		return;
	if (st->w.kind && st->active && st->kw_done)
		watch_word_before(L, n);
	first = !st->active;
	if (!tok_begin(L, SP_WORD, TK_WORD))
		return;
	emit_span(L, EM_UPPER);
	if (first) {
		st->hdr = L->hdr_next;
		if (!L->x->mysql && kw_is(L, n, "DO"))
			st->want = WANT_DO;
		if (!L->x->mysql)
			st->w.kind = kw_is(L, n, "PREPARE") ? W_PREPARE :
				    kw_is(L, n, "EXPLAIN") ? W_EXPLAIN :
				    kw_is(L, n, "CREATE") ? W_CREATE :
				    kw_is(L, n, "COPY") ? W_COPY : W_NONE;
	} else if (st->w.kind) {
		watch_word_after(L, n);
	}
	if (L->plpgsql && st->want == WANT_NONE && kw_is(L, n, "EXECUTE"))
		st->want = WANT_EXEC;
}

/* Reads a quoted run up to its closing quote <q> ('' doubles it; QF_BACKSLASH:
 * backslash escapes). Returns 1 with the raw offset of the closing quote in
 * <close>, 0 if the input ends first. */
static int scan_quoted(struct sl_src *s, int q, int bs, uint32_t *close)
{
	if (sl_likely(s->nlv == 0)) {
		const uint8_t *p = s->p;
		uint32_t i = s->pos, e = s->end;

		for (;;) {
			if (i >= e)
				break;
			if (!bs) {
				const uint8_t *f = memchr(p + i, q, e - i);

				if (!f)
					break;
				i = (uint32_t)(f - p);
			} else {
				while (i < e && p[i] != q && p[i] != '\\')
					i++;
				if (i >= e)
					break;
				if (p[i] == '\\') {
					i = e - i > 2 ? i + 2 : e;
					continue;
				}
			}
			if (e - i > 1 && p[i + 1] == q) {
				i += 2;
				continue;
			}
			*close = i;
			s->pos = i + 1;
			return 1;
		}
		s->pos = e;
		return 0;
	}
	for (;;) {
		uint32_t at = s->pos;
		int c = src_get(s);

		if (c < 0)
			return 0;
		if (c == '\\' && bs) {
			if (src_get(s) < 0)
				return 0;
		} else if (c == q) {
			if (src_peek(s, 0) != q) {
				*close = at;
				return 1;
			}
			src_get(s);
		}
	}
}

/* PostgreSQL: after a closing quote, white space holding a newline (and -- comments)
 * then a quote continue the string. If so, moves past that quote and returns 1. */
static int quote_continues(struct sl_src *s)
{
	struct sl_src t;
	int c, nl = 0;

	if (!is_class(src_peek(s, 0), K_SPACE) && src_peek(s, 0) != '-')
		return 0;                     /* the common case, without a copy */
	t = *s;
	c = src_get(&t);
	for (;;) {
		if (c == '\'') {
			if (!nl)
				return 0;
			*s = t;
			return 1;
		}
		if (c == '\n' || c == '\r') {
			nl = 1;
		} else if (c == '-') {
			if (src_get(&t) != '-')
				return 0;
			do
				c = src_get(&t);
			while (c >= 0 && c != '\n' && c != '\r');
			if (c < 0)
				return 0;
			continue;             /* c is the newline */
		} else if (!is_class(c, K_SPACE)) {
			return 0;
		}
		c = src_get(&t);
	}
}

/* A quoted token: <prefix> characters (E, U&, ...), the quote <q>, its content.
 * <body_kind> is the decoder that reads its content as code (LV_*). */
static void lex_quoted(struct sl_lexer *L, unsigned prefix, int q, unsigned flags, uint8_t body_kind)
{
	struct sl_src *s = &L->src;
	uint32_t start, close = 0;
	int ident = flags & QF_IDENT;

	tok_mark(L);
	src_skip(s, prefix + 1);
	start = s->pos;
	for (;;) {
		if (!scan_quoted(s, q, flags & QF_BACKSLASH, &close)) {
			L->x->flags |= SQL_LEX_UNTERMINATED;
			close = s->pos;
			break;
		}
		if (!(flags & QF_CONT) || !quote_continues(s))
			break;
	}
	if (!tok_begin(L, SP_WORD, ident ? TK_OTHER : TK_STR))
		return;
	emit_span(L, ident ? EM_SAME : EM_LIT);
	if (!ident && L->st.want != WANT_NONE)
		note_body(L, body_kind, start, close);
	if (sl_unlikely(L->st.w.kind == W_EXPLAIN)) {
		if (ident)
			watch_option_name(L, prefix == 2);
		else
			watch_value(L);
	}
}

/* A word that may be a string prefix: E'..' B'..' X'..' N'..' U&'..' U&"..". */
static void lex_word_or_prefixed(struct sl_lexer *L, int c)
{
	struct sl_src *s = &L->src;
	const unsigned my = L->x->mysql;
	int c1 = src_peek(s, 1), lc = c | 0x20;

	if (c1 == '\'') {
		if (lc == 'e' && !my) {
			lex_quoted(L, 1, '\'', QF_BACKSLASH | QF_CONT, LV_ESC);
			return;
		}
		if (lc == 'b' || lc == 'x') {
			lex_quoted(L, 1, '\'', my ? 0 : QF_CONT, LV_NOT_CODE);
			return;
		}
		if (lc == 'n') {
			lex_quoted(L, 1, '\'', my ? QF_BACKSLASH : QF_CONT, LV_QUOTE);
			return;
		}
	}
	if (lc == 'u' && c1 == '&' && !my) {
		int c2 = src_peek(s, 2);

		if (c2 == '\'') {
			lex_quoted(L, 2, '\'', QF_CONT, LV_UNI);
			return;
		}
		if (c2 == '"') {
			lex_quoted(L, 2, '"', QF_IDENT, LV_NOT_CODE);
			return;
		}
	}
	lex_word(L);
}

/* Digits (and single '_' between them) of <base>. */
static void scan_digits(struct sl_src *s, unsigned base)
{
	if (sl_likely(s->nlv == 0 && base == 10)) {
		const uint8_t *p = s->p;
		uint32_t i = s->pos, e = s->end;

		while (i < e) {
			if ((unsigned)(p[i] - '0') < 10)
				i++;
			else if (p[i] == '_' && e - i > 1 && (unsigned)(p[i + 1] - '0') < 10)
				i += 2;
			else
				break;
		}
		s->pos = i;
		return;
	}
	for (;;) {
		int d = sl_digit(src_peek(s, 0));

		if (d >= 0 && (unsigned)d < base) {
			src_get(s);
			continue;
		}
		if (src_peek(s, 0) == '_') {
			d = sl_digit(src_peek(s, 1));
			if (d >= 0 && (unsigned)d < base) {
				src_skip(s, 2);
				continue;
			}
		}
		return;
	}
}

static int is_digit(int c)
{
	return c >= '0' && c <= '9';
}

/* 42, 3.5, .5e-3, 1_000, 0x1F, 0o17, 0b101. MySQL: a number run into letters is
 * an identifier (1abc). */
static void lex_number(struct sl_lexer *L)
{
	struct sl_src *s = &L->src;
	int c = src_peek(s, 0), c1 = src_peek(s, 1) | 0x20, d;

	tok_mark(L);
	d = sl_digit(src_peek(s, 2));
	if (c == '0' && ((c1 == 'x' && d >= 0) || (c1 == 'o' && d >= 0 && d < 8) ||
			 (c1 == 'b' && d >= 0 && d < 2))) {
		src_skip(s, 2);
		scan_digits(s, c1 == 'x' ? 16 : c1 == 'o' ? 8 : 2);
	} else {
		if (c != '.')
			scan_digits(s, 10);
		/* 1..10 is a range (PL/pgSQL FOR): the dots are not this number's. */
		if (src_peek(s, 0) == '.' && src_peek(s, 1) != '.') {
			src_get(s);
			scan_digits(s, 10);
		}
		c = src_peek(s, 0) | 0x20;
		c1 = src_peek(s, 1);
		if (c == 'e' && (is_digit(c1) || ((c1 == '+' || c1 == '-') && is_digit(src_peek(s, 2))))) {
			src_skip(s, 2);
			scan_digits(s, 10);
		}
	}
	if (L->x->mysql && is_class(src_peek(s, 0), K_IDCONT)) {
		while (is_class(src_peek(s, 0), K_IDCONT))
			src_get(s);
		if (tok_begin(L, SP_WORD, TK_OTHER))
			emit_span(L, EM_UPPER);
		return;
	}
	if (tok_begin(L, SP_WORD, TK_OTHER))
		emit_span(L, EM_LIT);
	if (sl_unlikely(L->st.w.kind == W_EXPLAIN))
		watch_value(L);
}

/* PostgreSQL '$': $1 parameter, $$..$$ or $tag$..$tag$ string, else a lone '$'. */
static void lex_dollar(struct sl_lexer *L)
{
	struct sl_src *s = &L->src;
	struct sl_src tag;
	uint32_t tlen = 0, start, close = 0;
	int c, found = 0;

	tok_mark(L);
	if (is_digit(src_peek(s, 1))) {
		src_get(s);
		while (is_digit(src_peek(s, 0)))
			src_get(s);
		if (tok_begin(L, SP_WORD, TK_OTHER))
			emit_span(L, EM_SAME);
		return;
	}
	tag = *s;
	src_get(s);
	while ((c = src_peek(s, 0)) >= 0 &&
	       (sl_class[c] & (tlen ? (K_IDSTART | K_DIGIT) : K_IDSTART))) {
		src_get(s);
		tlen++;
	}
	if (c != '$') {
		/* Not a dollar quote: PostgreSQL returns the '$' alone. */
		*s = tag;
		src_get(s);
		if (tok_begin(L, SP_WORD, TK_OTHER))
			emit_span(L, EM_SAME);
		return;
	}
	src_get(s);
	start = s->pos;
	if (sl_likely(s->nlv == 0)) {
		const uint8_t *p = s->p, *tg = p + tag.pos + 1;
		uint32_t i = s->pos, e = s->end;

		while (i < e) {
			const uint8_t *f = memchr(p + i, '$', e - i);
			uint32_t j;

			if (!f)
				break;
			j = (uint32_t)(f - p);
			if (e - j >= tlen + 2 && p[j + 1 + tlen] == '$' && memcmp(p + j + 1, tg, tlen) == 0) {
				close = j;
				s->pos = j + tlen + 2;
				found = 1;
				break;
			}
			i = j + 1;
		}
		if (!found)
			s->pos = e;
	} else {
		/* Each comparison stops at the first character that differs; the matched
		 * part holds no '$', so the search stays linear. */
		for (;;) {
			uint32_t at = s->pos, i;
			struct sl_src t, g;

			if ((c = src_get(s)) < 0)
				break;
			if (c != '$')
				continue;
			t = *s;
			g = tag;
			src_get(&g);
			for (i = 0; i < tlen; i++)
				if (src_get(&t) != src_get(&g))
					break;
			if (i == tlen && src_get(&t) == '$') {
				*s = t;
				close = at;
				found = 1;
				break;
			}
		}
	}
	if (!found) {
		L->x->flags |= SQL_LEX_UNTERMINATED;
		close = s->pos;
	}
	if (!tok_begin(L, SP_WORD, TK_STR))
		return;
	emit_span(L, EM_LIT);
	if (L->st.want != WANT_NONE)
		note_body(L, LV_NONE, start, close);
}

/* One or more characters as one token. Returns 1 if it was kept. */
static int lex_chars(struct sl_lexer *L, unsigned n, uint8_t sp, int tk)
{
	tok_mark(L);
	src_skip(&L->src, n);
	if (!tok_begin(L, sp, tk))
		return 0;
	emit_span(L, EM_SAME);
	return 1;
}

/* PostgreSQL operator: the longest run of operator characters, cut before -- or
 * slash-star, and without trailing + or - unless it holds ~ ! @ # % ^ & | ` ?
 * (scan.l's rule, so that a=-1 is a = -1). */
static void lex_op_pg(struct sl_lexer *L)
{
	struct sl_src *s = &L->src;
	uint8_t op[SL_MAX_OP];
	uint32_t n = 0, i;
	int c;

	if (sl_likely(s->nlv == 0)) {
		for (i = s->pos; i < s->end && n < SL_MAX_OP && (sl_class[s->p[i]] & K_OP); i++)
			op[n++] = s->p[i];
	} else {
		struct sl_src t = *s;

		while (n < SL_MAX_OP && is_class(c = src_get(&t), K_OP))
			op[n++] = (uint8_t)c;
	}
	for (i = 0; i + 1 < n; i++) {
		if ((op[i] == '-' && op[i + 1] == '-') || (op[i] == '/' && op[i + 1] == '*')) {
			n = i;
			break;
		}
	}
	if (n == 0)
		n = 1;
	if (n > 1 && (op[n - 1] == '+' || op[n - 1] == '-')) {
		for (i = 0; i + 1 < n; i++)
			if (memchr("~!@#^&|`?%", op[i], 10))
				break;
		if (i + 1 >= n) {
			do
				n--;
			while (n > 1 && (op[n - 1] == '+' || op[n - 1] == '-'));
		}
	}
	/* PL/pgSQL <<label>> between statements. */
	if (L->plpgsql && n == 2 && !L->st.active) {
		if (!L->skip && op[0] == '<' && op[1] == '<')
			L->skip = SKIP_LABEL;
		else if (L->skip == SKIP_LABEL && op[0] == '>' && op[1] == '>')
			L->skip = SKIP_NONE;
		else
			goto keep;
		src_skip(s, 2);
		return;
	}
keep:
	lex_chars(L, n, SP_WORD, TK_OTHER);
}

/* MySQL operator: its two- and three-character operators, else one character. */
static void lex_op_my(struct sl_lexer *L)
{
	static const char ops3[][4] = { "<=>", "->>" };
	static const char ops2[][3] = { "<=", ">=", "<>", "!=", "<<", ">>", "&&", "||", "->" };
	struct sl_src *s = &L->src;
	char b[3];

	for (unsigned i = 0; i < 3; i++)
		b[i] = (char)src_peek(s, i);
	for (unsigned i = 0; i < sizeof(ops3) / sizeof(ops3[0]); i++)
		if (memcmp(b, ops3[i], 3) == 0) {
			lex_chars(L, 3, SP_WORD, TK_OTHER);
			return;
		}
	for (unsigned i = 0; i < sizeof(ops2) / sizeof(ops2[0]); i++)
		if (memcmp(b, ops2[i], 2) == 0) {
			lex_chars(L, 2, SP_WORD, TK_OTHER);
			return;
		}
	lex_chars(L, 1, SP_WORD, TK_OTHER);
}

/* MySQL @var, @@var. */
static void lex_myvar(struct sl_lexer *L)
{
	struct sl_src *s = &L->src;

	tok_mark(L);
	src_get(s);
	if (src_peek(s, 0) == '@')
		src_get(s);
	while (is_class(src_peek(s, 0), K_IDCONT))
		src_get(s);
	if (tok_begin(L, SP_WORD, TK_OTHER))
		emit_span(L, EM_UPPER);
}

/* Slash-star: a comment, or MySQL's executable comment whose content is code
 * (/ *!50000 DROP TABLE t * / runs on the server). */
static void lex_slash_star(struct sl_lexer *L)
{
	struct sl_src *s = &L->src;

	if (L->x->mysql) {
		int c2 = src_peek(s, 2);

		if (c2 == '!' || (c2 == 'M' && src_peek(s, 3) == '!')) {
			unsigned n = 0;

			src_skip(s, c2 == '!' ? 3 : 4);
			while (n < 6 && is_digit(src_peek(s, n)))
				n++;
			if (n >= 5)
				src_skip(s, n);   /* version number */
			L->mysql_exec = 1;
			return;
		}
	}
	if (!skip_block_comment(s, !L->x->mysql))
		L->x->flags |= SQL_LEX_UNTERMINATED;
}

/* MySQL: -- is a comment only when followed by a space, a control character or the end. */
static int mysql_dash_comment(const struct sl_src *s)
{
	int c = src_peek(s, 2);

	return c < 0 || c <= 0x20 || c == 0x7f;
}

static void lex_op(struct sl_lexer *L)
{
	if (L->x->mysql)
		lex_op_my(L);
	else
		lex_op_pg(L);
}

/* ---- the loop ---------------------------------------------------------- */

/* Writes the token [<start>, <end>) of raw input from the fast loop. */
static inline __attribute__((always_inline)) void fast_tok(struct sl_lexer *L, uint32_t start,
							   uint32_t end, uint8_t sp, int how)
{
	struct sl_stmt *st = &L->st;

	L->sep = st->prev_sp != SP_OPEN && st->prev_sp != SP_JOIN && sp != SP_CLOSE && sp != SP_JOIN;
	st->prev_sp = sp;
	L->tok_pos = start;
	L->src.pos = end;
	emit_span(L, how);
}

/* The common tokens inside a statement of raw input, without the generic
 * machinery: white space, plain words, plain numbers, punctuation and one-character
 * operators. Returns at the first thing it does not handle (strings, comments,
 * ';', a statement's first word, ...), which the generic loop then lexes; the
 * output is the same either way. Only for raw input, outside PL/pgSQL, with the
 * statement open and its first keyword settled. */
static void lex_fast(struct sl_lexer *L)
{
	const uint8_t *p = L->src.p;
	const uint32_t e = L->src.end;
	const unsigned my = L->x->mysql;
	uint32_t i = L->src.pos, j;

	while (i < e) {
		int c = p[i], c1;
		uint8_t k = sl_class[c];

		if (k & K_SPACE) {
			i++;
			while (i < e && (sl_class[p[i]] & K_SPACE))
				i++;
			continue;
		}
		c1 = e - i > 1 ? p[i + 1] : -1;
		if (k & K_IDSTART) {
			if (c1 == '\'' || c1 == '&')
				break;                  /* maybe E'..', U&'..': generic */
			j = scan_ident(p, i + 1, e);
			fast_tok(L, i, j, SP_WORD, EM_UPPER);
			i = j;
			continue;
		}
		if (k & K_DIGIT) {
			j = i + 1;
			while (j < e && (unsigned)(p[j] - '0') < 10)
				j++;
			if (j < e && p[j] == '.' && e - j > 1 && (unsigned)(p[j + 1] - '0') < 10) {
				j += 2;
				while (j < e && (unsigned)(p[j] - '0') < 10)
					j++;
			}
			/* 0x1F, 1_000, 1e5, 1.e5, 1..2, MySQL 1abc: generic */
			if (j < e && ((sl_class[p[j]] & K_IDCONT) || p[j] == '.'))
				break;
			fast_tok(L, i, j, SP_WORD, EM_LIT);
			i = j;
			continue;
		}
		if (c == '\'' && !my && L->st.want == WANT_NONE) {
			const uint8_t *q;

			for (j = i + 1;; j = (uint32_t)(q - p) + 2) {
				q = j < e ? memchr(p + j, '\'', e - j) : NULL;
				if (!q || (uint32_t)(q - p) + 1 >= e || q[1] != '\'')
					break;
			}
			if (!q)
				break;                  /* unterminated: generic */
			j = (uint32_t)(q - p) + 1;
			/* A newline or -- comment after it may continue it: generic. */
			while (j < e && (p[j] == ' ' || p[j] == '\t'))
				j++;
			if (j < e && (p[j] == '\n' || p[j] == '\r' || p[j] == '-' || p[j] == '\f' || p[j] == '\v'))
				break;
			fast_tok(L, i, (uint32_t)(q - p) + 1, SP_WORD, EM_LIT);
			i = j;
			continue;
		}
		switch (c) {
		case ',':
		case ')':
		case ']':
			fast_tok(L, i, i + 1, SP_CLOSE, EM_SAME);
			if (c == ')')
				L->st.paren--;
			break;
		case '(':
		case '[':
			fast_tok(L, i, i + 1, SP_OPEN, EM_SAME);
			if (c == '(')
				L->st.paren++;
			break;
		case '.':
			if (c1 == '.' || (unsigned)(c1 - '0') < 10)
				goto out;
			fast_tok(L, i, i + 1, SP_JOIN, EM_SAME);
			break;
		case '=': case '<': case '>': case '+': case '-': case '*': case '/': case '%':
			/* alone: not part of a longer operator, a comment or MySQL's * / */
			if (is_class(c1, K_OP))
				goto out;
			fast_tok(L, i, i + 1, SP_WORD, EM_SAME);
			break;
		default:
			goto out;
		}
		i++;
	}
out:
	L->src.pos = i;
}


static void lex_run(struct sl_lexer *L)
{
	struct sl_src *s = &L->src;
	const unsigned my = L->x->mysql;
	int c, c1;

	while (!L->x->stop && (c = src_peek(s, 0)) >= 0) {
		uint8_t k;

		/* SQL_LEX_NO_FAST builds without the fast loop, to test both against each other. */
		if (!SL_NO_FAST && s->nlv == 0 && !L->plpgsql && L->st.active && L->st.kw_done &&
		    !L->st.w.kind) {
			lex_fast(L);
			if ((c = src_peek(s, 0)) < 0)
				break;
		}
		k = sl_class[c];

		if (k & K_SPACE) {
			skip_spaces(s);
			continue;
		}
		if (k & K_IDSTART) {
			lex_word_or_prefixed(L, c);
			continue;
		}
		if (k & K_DIGIT) {
			lex_number(L);
			continue;
		}
		c1 = src_peek(s, 1);
		switch (c) {
		case ';':
			stmt_end(L, s->pos);
			src_get(s);
			L->skip = SKIP_NONE;
			break;
		case '\'':
			lex_quoted(L, 0, '\'', my ? QF_BACKSLASH : QF_CONT, my ? LV_NOT_CODE : LV_QUOTE);
			break;
		case '"':
			if (my)
				lex_quoted(L, 0, '"', QF_BACKSLASH, LV_NOT_CODE);
			else
				lex_quoted(L, 0, '"', QF_IDENT, LV_NOT_CODE);
			break;
		case '`':
			if (my)
				lex_quoted(L, 0, '`', QF_IDENT, LV_NOT_CODE);
			else
				lex_op(L);
			break;
		case '$':
			if (my)
				lex_word(L);
			else
				lex_dollar(L);
			break;
		case '-':
			if (c1 == '-' && (!my || mysql_dash_comment(s)))
				skip_line(s);
			else
				lex_op(L);
			break;
		case '#':
			if (my)
				skip_line(s);
			else
				lex_op(L);
			break;
		case '/':
			if (c1 == '*')
				lex_slash_star(L);
			else
				lex_op(L);
			break;
		case '*':
			if (my && L->mysql_exec && c1 == '/') {
				src_skip(s, 2);
				L->mysql_exec = 0;
			} else {
				lex_op(L);
			}
			break;
		case '@':
			if (my)
				lex_myvar(L);
			else
				lex_op(L);
			break;
		case '(':
			if (lex_chars(L, 1, SP_OPEN, TK_LPAREN)) {
				/* COPY (query): the query right after COPY is a body */
				if (L->st.w.kind == W_COPY && L->st.w.ntok == 1 && L->st.paren == 0)
					L->st.w.copy_start = s->pos;
				/* CREATE RULE ... DO INSTEAD ( action; ... ) */
				if (L->st.w.kind == W_CREATE && L->st.w.rule_do == 1 && L->st.paren == 0)
					L->st.w.rule_do = 2;
				L->st.paren++;
			}
			break;
		case ')':
			if (L->st.w.kind == W_COPY && L->st.w.copy_start && L->st.paren == 1) {
				L->st.want = WANT_EXEC;  /* plain SQL, not PL/pgSQL */
				note_body(L, LV_NONE, L->st.w.copy_start, s->pos);
				L->st.w.copy_start = 0;
				L->st.w.kind = W_NONE;
			}
			if (lex_chars(L, 1, SP_CLOSE, TK_OTHER))
				L->st.paren--;
			break;
		case '[':
			lex_chars(L, 1, SP_OPEN, TK_OTHER);
			break;
		case ']':
		case ',':
			lex_chars(L, 1, SP_CLOSE, TK_OTHER);
			break;
		case '.':
			if (is_digit(c1))
				lex_number(L);
			else if (c1 == '.')
				lex_chars(L, 2, SP_WORD, TK_OTHER);
			else
				lex_chars(L, 1, SP_JOIN, TK_OTHER);
			break;
		case ':':
			if (c1 == ':')
				lex_chars(L, 2, SP_JOIN, TK_OTHER);
			else
				lex_chars(L, c1 == '=' ? 2 : 1, SP_WORD, TK_OTHER);
			break;
		default:
			if (k & K_OP)
				lex_op(L);
			else
				lex_chars(L, 1, SP_WORD, TK_OTHER);  /* anything else, NUL included */
			break;
		}
	}
	stmt_end(L, s->pos);
}

int sql_lex(const char *sql, size_t len, unsigned dialect, struct sql_lex_out *out)
{
	struct sl_ctx x;
	struct sl_lexer L;

	if (out == NULL)
		return 0;
	memset(&x, 0, sizeof(x));
	x.out = out;
	x.mysql = dialect & SQL_LEX_MYSQL;
	x.stmts_cap = out->stmts ? out->stmts_cap : 0;
	if (out->norm && out->norm_cap) {
		x.norm.buf = (uint8_t *)out->norm;
		x.norm.cap = out->norm_cap;
		x.norm.lim = out->norm_cap - 1;
		x.norm.buf[0] = 0;
	}
	if (out->fp && out->fp_cap) {
		x.fp.buf = (uint8_t *)out->fp;
		x.fp.cap = out->fp_cap;
		x.fp.lim = out->fp_cap - 1;
		x.fp.buf[0] = 0;
	}
	out->n_stmts = 0;
	if (sql == NULL)
		len = 0;
	if (len > UINT32_MAX - 1) {
		len = UINT32_MAX - 1;     /* offsets are 32-bit */
		x.flags |= SQL_LEX_TRUNCATED;
	}
	memset(&L, 0, sizeof(L));
	L.x = &x;
	L.src.p = (const uint8_t *)sql;
	L.src.end = (uint32_t)len;
	lex_run(&L);
	if (L.mysql_exec)
		x.flags |= SQL_LEX_UNTERMINATED;
	out->flags = x.flags;
	return (int)out->n_stmts;
}
