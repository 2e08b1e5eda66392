/* rule_int.h - the rule engine's private types and the calls between its files
 * (rule_load.c reads and hashes files, rule_parse.c checks their rules, rule_compile.c
 * builds databases and scratch, rule_match.c scans).
 *
 * Not for use outside rules/ (the bench in rules/rule_bench.c excepted).
 */
#ifndef TG_RULE_INT_H
#define TG_RULE_INT_H

#include <stddef.h>
#include <stdint.h>
#include <hs/hs.h>

#include "common/tg_clock.h"
#include "rules/rule-t.h"
#include "rules/validators-t.h"
#include "dataplane/dp_config-t.h"

#define RULE_MAX_RULES      8192      /* rules in one set, all files together */
#define RULE_MAX_PATTERNS   64        /* patterns (and unless patterns) of one rule */
#define RULE_MAX_COLUMNS    64        /* column names of one rule */
#define RULE_ID_MAX         64        /* bytes of an id, NUL included */
#define RULE_MESSAGE_MAX    256       /* bytes of a message, NUL included */
#define RULE_PATTERN_MAX    4096      /* bytes of one pattern */
#define RULE_KEEP_MAX       1024      /* keep_first, keep_last */
#define RULE_DIGITS_MAX     64        /* min_digits */
#define RULE_FILE_MAX       (4u << 20)
#define RULE_RES_WORDS      (DP_MAX_RESOURCES / 64)

/* Hyperscan pattern ids: the rule's index, with this bit for an unless pattern. */
#define RULE_ID_UNLESS      0x80000000u

/* Field masking scans results in slices: the fields of a slice are copied into the
 * scratch's join buffer, each followed by '\n', so that every field is matched as its
 * own text (\b, ^ and $ see the field's edges, not the protocol's length bytes). */
#define RULE_JOIN_CAP       (64u << 10)   /* bytes of the join buffer */
#define RULE_SLICE_MAX      4096          /* fields per slice */
#define RULE_RANGES_MAX     256           /* accepted match ranges per field and pass */
#define RULE_FIELD_BITS     64            /* field rules told apart by the prefilter; the
                                           * last bit stands for "any later field rule" */

/* The databases of one protocol. Field rules are matched in two steps (DESIGN.md §12:
 * start of match costs ~2x, and most fields hold nothing to mask): a database without
 * start of match over the protocol's field rules (per field class, see below) finds
 * which fields have a hit of which rule; then the fields each rule hit are scanned
 * again, joined in one batch (struct rule_batch), with that rule's own database with
 * HS_FLAG_SOM_LEFTMOST (struct rule.som) to get the ranges to mask. RULE_DB_FIELD_SOM,
 * all field rules with start of match, exists only when a set has more field rules
 * than the prefilter can tell apart (RULE_FIELD_BITS). */
enum rule_dbk {
	RULE_DB_STATEMENT = 0,
	RULE_DB_FINGERPRINT,
	RULE_DB_RAW,
	RULE_DB_FIELD,                /* prefilter: which fields have a hit */
	RULE_DB_FIELD_SOM,            /* exact ranges inside one field, every field rule */
	RULE_DB__MAX
};

/* Field classes: a field rule may promise that each of its matches holds at least
 * min_digits digits (0-9) and min_upper upper-case letters (A-Z). A field's prefilter
 * then leaves out the rules whose promises its own counts cannot keep. Each count has
 * levels: the smallest distinct promises of a protocol's rules, thr[0] = 0; a field
 * with thr[L] <= digits < thr[L + 1] is at digit level L, where the rules with
 * min_digits < thr[L + 1] can match (all of them at the top level); the same for
 * upper-case letters with uthr[]. A (digit level, upper level) cell scans the rules
 * both levels admit; cells with the same rules are one class: one prefilter database
 * and one slice (RULE_LEVELS x RULE_ULEVELS cells bound the databases per protocol).
 * Most result fields (names, states, amounts, dates) have few digits or no capitals,
 * and class-only patterns such as card numbers and IBANs (no literal for Hyperscan to
 * look for) are what make a prefilter slow. */
#define RULE_LEVELS         4         /* digit levels per protocol */
#define RULE_ULEVELS        2         /* upper-case letter levels per protocol */
#define RULE_CLASSES        (RULE_LEVELS * RULE_ULEVELS)
#define RULE_CLASS_NONE     0xff      /* a cell where no rule can match */
#define RULE_UPPER_MAX      64        /* min_upper */

struct rule_pattern {
	char *re;                     /* the expression, as written (libconfig unescaped) */
	uint32_t line;                /* where it is written */
};

/* One rule as loaded. Strings are owned by the rule. */
struct rule {
	char id[RULE_ID_MAX];
	char *message;                /* never NULL once loaded (a default is made) */
	const char *file;             /* points into rule_set.files[] */
	uint32_t line;                /* the rule's group */
	uint8_t action;               /* enum rule_action */
	uint8_t target;               /* enum rule_target */
	uint8_t validator;            /* enum rule_val_id */
	uint8_t enabled;              /* 0: loaded and checked, never compiled */
	uint8_t nocase;               /* HS_FLAG_CASELESS */
	uint8_t all_res;              /* 1: every resource; 0: the bits of res[] */
	uint16_t protos;              /* bit (1 << enum dp_proto_id) per protocol */
	int32_t unless_slot;          /* index among rules with unless patterns, or -1 */
	uint64_t res[RULE_RES_WORDS]; /* resource indexes (dp_config.resources[]) */
	struct rule_pattern *pats;
	uint16_t n_pats;
	struct rule_pattern *unless;  /* the rule does not match when one of these does */
	uint16_t n_unless;
	char **cols;                  /* column names (target column), compared without case */
	uint16_t n_cols;
	struct rule_mask mask;
	uint16_t min_digits;          /* field rules: every match has at least this many digits */
	uint16_t min_upper;           /* field rules: ... and this many letters A-Z */
	uint8_t fbit;                 /* field rules: bit in the prefilter's hit words */
	uint8_t batch;                /* field rules: the exact pass may scan several fields
	                               * joined with '\n' (no pattern anchors at the text's
	                               * own edges: \A, \z, \Z, (?-m)) */
	hs_database_t *som;           /* enabled field rules: its patterns with start of match */
};

struct rule_set {
	struct rule *rules;
	unsigned n_rules;
	char **files;                 /* paths as given */
	unsigned n_files;
	char hash[65];                /* SHA-256 of the files' bytes, hex */
	unsigned n_unless;            /* rules with unless patterns (scratch bitmaps) */
	uint32_t *unless_rules;       /* their indexes, by unless_slot */
	/* per protocol and kind; equal rule lists share one database */
	hs_database_t *db[DP_PROTO__MAX][RULE_DB__MAX];
	hs_database_t **owned;        /* each distinct database once (rule.som included) */
	unsigned n_owned;
	uint32_t field_rules[RULE_FIELD_BITS - 1];  /* rule index of each fbit but the last */
	unsigned n_lev[DP_PROTO__MAX];             /* digit levels (1: no promises) */
	uint16_t thr[DP_PROTO__MAX][RULE_LEVELS];  /* their lowest digit counts; thr[0] = 0 */
	unsigned n_ulev[DP_PROTO__MAX];            /* upper-case levels (1: no promises) */
	uint16_t uthr[DP_PROTO__MAX][RULE_ULEVELS];  /* their lowest counts; uthr[0] = 0 */
	uint8_t cell[DP_PROTO__MAX][RULE_LEVELS][RULE_ULEVELS];  /* class of each (digit
	                                           * level, upper level), or RULE_CLASS_NONE */
	uint8_t dlev[DP_PROTO__MAX][RULE_DIGITS_MAX + 1];  /* digit level of a count (capped:
	                                           * no branch per field on the packet path) */
	uint8_t ulev[DP_PROTO__MAX][RULE_UPPER_MAX + 1];   /* upper-case level of a count */
	hs_database_t *cls[DP_PROTO__MAX][RULE_CLASSES];  /* each class's prefilter (the
	                                           * top cell's is db[RULE_DB_FIELD]) */
	unsigned n_cls[DP_PROTO__MAX];
	unsigned max_cls;             /* most classes of any protocol (scratch slices) */
	unsigned n_field;             /* enabled field rules */
	uint32_t *cols[DP_PROTO__MAX];        /* indexes of enabled column rules */
	unsigned n_cols[DP_PROTO__MAX];
	/* which resources have field rules / any result rule, per protocol */
	uint8_t field_all[DP_PROTO__MAX];
	uint64_t field_res[DP_PROTO__MAX][RULE_RES_WORDS];
	uint8_t result_all[DP_PROTO__MAX];
	uint64_t result_res[DP_PROTO__MAX][RULE_RES_WORDS];
	/* how the last load went (logs, tollctl) */
	unsigned n_compiled;          /* databases compiled */
	unsigned n_cached;            /* databases read from the cache */
	double compile_ms;            /* time spent in hs_compile_multi and the cache */
};

/* An accepted match range inside one field, for one rule. */
struct rule_range {
	uint32_t from, to;            /* [from, to) relative to the field */
	uint32_t rule;
};

/* Fields gathered for one prefilter scan. */
struct rule_slice {
	uint8_t *join;                /* RULE_JOIN_CAP bytes: the fields, each + '\n' */
	uint32_t jpos;                /* bytes used */
	unsigned n;                   /* fields */
	uint32_t jstart[RULE_SLICE_MAX + 1];  /* field k starts at join + jstart[k] */
	uint32_t jfield[RULE_SLICE_MAX];      /* its index in the caller's fields[] */
};

/* The fields of one slice that one rule hit, joined again (from the caller's buffer,
 * so with the masks of earlier rules applied) for one start-of-match scan of that rule:
 * the exact pass pays one hs_scan per rule and slice, not one per rule and field. */
struct rule_batch {
	uint8_t *join;                /* RULE_JOIN_CAP bytes: the fields, each + '\n' */
	unsigned n;                   /* fields */
	uint32_t start[RULE_SLICE_MAX + 1];   /* field k starts at join + start[k] */
	uint16_t slot[RULE_SLICE_MAX];        /* its index in the slice */
	uint32_t matches[RULE_SLICE_MAX];     /* its pattern matches, rejected ones, and */
	uint32_t rejected[RULE_SLICE_MAX];    /* whether it is scanned again alone (a match */
	uint8_t redo[RULE_SLICE_MAX];         /* began in an earlier field, or too many) */
};

struct rule_scratch {
	hs_scratch_t *hs;             /* grown over every database it has served */
	unsigned unless_cap;          /* bits in cand/veto */
	uint64_t *cand;               /* rule with unless: a pattern matched */
	uint64_t *veto;               /* rule with unless: an unless pattern matched */
	struct rule_slice sl[RULE_CLASSES];   /* fields for each class's prefilter */
	unsigned n_sl;                /* slices with a join buffer */
	uint64_t hit[RULE_SLICE_MAX]; /* per field of the slice being scanned: fbits of
	                               * the rules that hit */
	uint8_t masked[RULE_SLICE_MAX];       /* per field of the slice: a byte was masked */
	struct rule_batch bt;         /* the exact pass of one rule over a slice */
	struct rule_range ranges[RULE_RANGES_MAX];
};

/* Whether rule <r> applies to resource index <res>. */
static inline int rule_applies(const struct rule *r, uint16_t res)
{
	if (r->all_res)
		return 1;
	return res < DP_MAX_RESOURCES && (r->res[res / 64] >> (res % 64) & 1);
}

/* Monotonic time in milliseconds (load and compile times, for the log). */
static inline double rule_now_ms(void)
{
	return (double)tg_mono_ns() / 1e6;
}

/* rule_parse.c */

/* Parses the <len> bytes of <text> (NUL-terminated), the file <file> given as
 * rs->files[<file_idx>], and appends its rules to <rs> (each rule is counted in
 * rs->n_rules as soon as it is started, so that rule_set_free() frees a half-read one).
 * <res> names the resources, or is NULL. Returns 0, or -1 with one line in <err>. */
int rule_parse_text(struct rule_set *rs, const struct dp_config *res, const char *file,
		    unsigned file_idx, const char *text, size_t len, char *err, size_t errlen);

/* rule_compile.c */

/* Builds every database of <rs> (rules loaded): from the cache under <cache_dir>/<key>
 * when present, else compiled (and then written there). Returns 0, or -1 with one
 * "FILE:LINE: rule ID: problem" line in <err>. */
int rule_compile_set(struct rule_set *rs, const char *key_hex, const char *cache_dir,
		     char *err, size_t errlen);

/* Checks the patterns of disabled rules (they are not compiled) so that enabling one
 * later cannot fail. Returns 0 or -1 with <err>. */
int rule_check_disabled(const struct rule_set *rs, char *err, size_t errlen);

/* Frees every database of <rs>. */
void rule_dbs_free(struct rule_set *rs);

/* The protocol's name in rule files and cache file names ("postgresql"), or NULL. */
const char *rule_proto_name(unsigned proto);

#endif
