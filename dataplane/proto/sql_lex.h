/* sql_lex.h - SQL lexer for PostgreSQL (and MySQL) statements: normalization,
 * fingerprints and statement splitting (DESIGN.md §3).
 *
 * The normalized statement is what rules match by default:
 *   - comments removed (`-- ...`, nested slash-star comments; MySQL `#` with SQL_LEX_MYSQL),
 *   - runs of white space folded to one space, none at the ends,
 *   - keywords and unquoted identifiers upper-cased,
 *   - string constants ('..', E'..', U&'..', dollar-quoted $tag$..$tag$), quoted
 *     identifiers ("..") and numbers kept as they are (strings stay quoted).
 * The fingerprint is the normalized statement with every string and numeric literal
 * replaced by '?'. So `SELECT 'DROP TABLE x'` normalizes to SELECT 'DROP TABLE x' and
 * fingerprints to SELECT ?, while dRoP (an empty comment) TaBlE t normalizes to DROP TABLE T.
 * Statements are split on top-level ';' (not inside strings, identifiers, comments
 * or dollar quotes); empty statements are skipped. The body of a `DO` block (code that
 * runs at once) is lexed too, and so is the string argument of an EXECUTE inside it:
 * their statements follow the DO statement with nested = 1, so that a rule against
 * DROP TABLE also sees the one a DO block would run.
 *
 * No allocation: the caller gives the output buffers. Output that does not fit is
 * truncated and flagged (SQL_LEX_TRUNCATED), never overflowed. Input may be any bytes.
 */
#ifndef TG_SQL_LEX_H
#define TG_SQL_LEX_H

#include <stddef.h>
#include <stdint.h>

#define SQL_LEX_MYSQL      0x01       /* dialect: '#' comments, backquoted identifiers,
                                       * backslash escapes in '..' and ".." strings */

#define SQL_LEX_TRUNCATED  0x01       /* an output buffer was too small */
#define SQL_LEX_UNTERMINATED 0x02     /* input ended inside a string/comment/identifier */

/* One statement found in the input. */
struct sql_stmt {
	uint32_t raw_off;             /* offset of the statement's first byte in the input */
	uint32_t raw_len;             /* its length (up to, not including, the ';') */
	uint32_t norm_off;            /* offset of its normalized text in out->norm */
	uint32_t norm_len;
	uint32_t fp_off;              /* offset of its fingerprint in out->fp */
	uint32_t fp_len;
	char     first_kw[16];        /* first keyword, upper case ("SELECT", "DO"), NUL-ended */
	uint8_t  nested;              /* 1: found inside a DO block body or an EXECUTE '...'
	                               * string of one (raw_off/raw_len point into the body) */
};

struct sql_lex_out {
	char *norm;                   /* caller's buffer for normalized statements */
	uint32_t norm_cap;
	char *fp;                     /* caller's buffer for fingerprints */
	uint32_t fp_cap;
	struct sql_stmt *stmts;       /* caller's array */
	uint32_t stmts_cap;
	uint32_t n_stmts;             /* filled in: statements found (<= stmts_cap) */
	uint32_t flags;               /* filled in: SQL_LEX_* result flags */
};

/* Lexes <len> bytes of <sql>. <dialect> is 0 (PostgreSQL) or SQL_LEX_MYSQL. Fills
 * <out>. Each normalized text and fingerprint is NUL-terminated inside its buffer
 * (not counted in the lengths). Returns the number of statements (may be 0). */
int sql_lex(const char *sql, size_t len, unsigned dialect, struct sql_lex_out *out);

#endif
