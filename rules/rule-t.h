/* rule-t.h - rule language types (DESIGN.md §4): what a rule is, what a verdict is.
 *
 * A compiled struct rule_set is immutable once built: workers read it from the
 * policy snapshot without locks, and the slow path replaces it whole.
 */
#ifndef TG_RULE_T_H
#define TG_RULE_T_H

#include <stdint.h>

/* Actions, in increasing precedence: when several rules match one command, the
 * highest action wins (reset > block > review > mask > alert > allow). */
enum rule_action {
	RULE_ALLOW  = 0,
	RULE_ALERT  = 1,              /* count and log, change nothing */
	RULE_MASK   = 2,              /* rewrite matched result bytes */
	RULE_REVIEW = 3,              /* hold for approval (approvals issue) */
	RULE_BLOCK  = 4,              /* remove the command, answer with a native error */
	RULE_RESET  = 5,              /* RST both sides */
};

/* What a rule's patterns are matched against. */
enum rule_target {
	RULE_T_STATEMENT   = 0,       /* the normalized statement (default for commands) */
	RULE_T_FINGERPRINT = 1,       /* the normalized statement with literals as '?' */
	RULE_T_RAW         = 2,       /* the command text exactly as sent */
	RULE_T_FIELD       = 3,       /* result field content (mask rules) */
	RULE_T_COLUMN      = 4,       /* result column name (mask rules, whole field) */
	RULE_T__MAX
};

/* How matched bytes are masked. */
struct rule_mask {
	uint16_t keep_first;          /* leading characters left as they are */
	uint16_t keep_last;           /* trailing characters left as they are */
	uint8_t  ch;                  /* mask character ('*') */
	uint8_t  preserve_class;      /* 1: only letters and digits are masked; separators
	                               * (' ', '-', '@', '.') keep the layout */
};

/* The verdict on one command. */
struct rule_verdict {
	uint8_t action;               /* enum rule_action: the highest matched */
	int32_t rule;                 /* index of the deciding rule, -1 if none */
	const char *id;               /* its id ("sql.drop-table"); valid while the rule set is */
	const char *message;          /* its message; valid while the rule set is */
	uint32_t n_alerts;            /* alert rules that also matched */
};

/* A result field handed to rule_mask_fields(): a span of the scanned buffer. */
struct rule_field {
	uint32_t off;                 /* offset of the field's bytes in the buffer */
	uint32_t len;                 /* length in bytes */
	const struct rule_mask *col;  /* whole-field mask from a column rule, or NULL */
	int32_t col_rule;             /* index of that column rule, -1 if none */
};

/* Counters of one rule_mask_fields() call. */
struct rule_mask_stats {
	uint32_t fields_masked;       /* fields in which at least one byte was masked */
	uint32_t matches;             /* pattern matches (before validators) */
	uint32_t rejected;            /* matches a validator rejected */
};

struct rule_set;                  /* opaque, immutable after rule_set_load */
struct rule_scratch;              /* per worker (Hyperscan scratch + buffers) */

#endif
