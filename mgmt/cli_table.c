/* cli_table.c - tollctl's text output: JSON member helpers, table cells and columns,
 * RFC 4180 CSV fields, key/value listings. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "mgmt/cli.h"

/* ---- JSON helpers ---------------------------------------------------------------------- */

const char *cli_jstr(const json_t *o, const char *key, const char *dflt)
{
	const json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : dflt;
}

long long cli_jint(const json_t *o, const char *key, long long dflt)
{
	const json_t *v = json_object_get(o, key);
	char *end;
	long long n;

	if (json_is_integer(v))
		return (long long)json_integer_value(v);
	if (json_is_real(v))
		return (long long)json_real_value(v);
	if (json_is_string(v)) {
		n = strtoll(json_string_value(v), &end, 10);
		if (end != json_string_value(v) && *end == '\0')
			return n;
	}
	return dflt;
}

uint64_t cli_jtime(const json_t *v)
{
	uint64_t ns;

	if (json_is_integer(v) && json_integer_value(v) > 0)
		return (uint64_t)json_integer_value(v);
	if (json_is_string(v) && cli_rfc3339_parse(json_string_value(v), &ns) == 0)
		return ns;
	return 0;
}

/* ---- cells and tables ------------------------------------------------------------------ */

/* A UTF-8 continuation byte (10xxxxxx): not the start of a character. */
#define CLI_U8_CONT(c) (((unsigned char)(c) & 0xc0) == 0x80)

unsigned cli_width(const char *s)
{
	unsigned w = 0;

	for (; *s; s++)
		w += !CLI_U8_CONT(*s);
	return w;
}

unsigned cli_cell(char *out, size_t cap, const char *s, unsigned max)
{
	unsigned w = 0, keep, k;
	size_t o = 0, b;
	int space = 0;

	if (cap == 0)
		return 0;
	for (; s != NULL && *s; s++) {
		unsigned char c = (unsigned char)*s;
		size_t n = 1;

		if (c < 0x20 || c == 0x7f || c == ' ') {
			space = o > 0;
			continue;
		}
		while (CLI_U8_CONT(s[n]))
			n++;
		if (o + space + n >= cap)
			break;
		if (space) {
			out[o++] = ' ';
			w++;
			space = 0;
		}
		memcpy(out + o, s, n);
		o += n;
		w++;
		s += n - 1;
	}
	out[o] = '\0';
	if (max == 0 || w <= max)
		return w;
	/* too long: keep max - 3 characters and "..." (only the first <max> characters
	 * when the column is too narrow for the dots) */
	keep = max > 3 ? max - 3 : max;
	for (b = 0, k = 0; k < keep; k++)
		for (b++; CLI_U8_CONT(out[b]); b++)
			;
	for (; b > 0 && out[b - 1] == ' '; b--)
		keep--;
	if (max <= 3) {
		out[b] = '\0';
		return keep;
	}
	memcpy(out + b, "...", 4);
	return keep + 3;
}

void cli_table_init(struct cli_table *t, const struct cli_col *cols, unsigned ncols)
{
	memset(t, 0, sizeof(*t));
	t->cols = cols;
	t->ncols = ncols;
}

int cli_table_add(struct cli_table *t, const char *const *cells)
{
	char buf[4096];

	if (t->nrows == t->cap) {
		unsigned cap = t->cap ? t->cap * 2 : 32;
		char **c = realloc(t->cells, (size_t)cap * t->ncols * sizeof(*c));

		if (c == NULL)
			return -1;
		t->cells = c;
		t->cap = cap;
	}
	for (unsigned i = 0; i < t->ncols; i++) {
		cli_cell(buf, sizeof(buf), cells[i], t->cols[i].max);
		if ((t->cells[(size_t)t->nrows * t->ncols + i] = strdup(buf)) == NULL) {
			while (i-- > 0)
				free(t->cells[(size_t)t->nrows * t->ncols + i]);
			return -1;
		}
	}
	t->nrows++;
	return 0;
}

/* Prints cell <s> padded to <w> characters; the last column gets no trailing blanks. */
static void cli_pad(FILE *f, const char *s, unsigned w, int right, int last)
{
	unsigned n = cli_width(s);

	if (right)
		fprintf(f, "%*s%s", (int)(w > n ? w - n : 0), "", s);
	else if (last)
		fputs(s, f);
	else
		fprintf(f, "%s%*s", s, (int)(w > n ? w - n : 0), "");
}

void cli_table_print(FILE *f, const struct cli_table *t)
{
	unsigned w[32] = { 0 }, nc = t->ncols < 32 ? t->ncols : 32;

	for (unsigned c = 0; c < nc; c++) {
		w[c] = cli_width(t->cols[c].title);
		for (unsigned r = 0; r < t->nrows; r++) {
			unsigned cw = cli_width(t->cells[(size_t)r * t->ncols + c]);

			w[c] = cw > w[c] ? cw : w[c];
		}
	}
	for (unsigned c = 0; c < nc; c++) {
		fputs(c ? "  " : "", f);
		cli_pad(f, t->cols[c].title, w[c], t->cols[c].right, c + 1 == nc);
	}
	fputc('\n', f);
	for (unsigned r = 0; r < t->nrows; r++) {
		for (unsigned c = 0; c < nc; c++) {
			fputs(c ? "  " : "", f);
			cli_pad(f, t->cells[(size_t)r * t->ncols + c], w[c], t->cols[c].right, c + 1 == nc);
		}
		fputc('\n', f);
	}
}

void cli_table_free(struct cli_table *t)
{
	for (size_t i = 0; i < (size_t)t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	t->cells = NULL;
	t->nrows = t->cap = 0;
}

/* ---- CSV (RFC 4180) --------------------------------------------------------------------- */

void cli_csv_field(FILE *f, const char *s)
{
	size_t n;

	if (s == NULL)
		s = "";
	n = strlen(s);
	/* RFC 4180 needs quotes for comma, quote, CR and LF; quoting a leading or trailing
	 * space too keeps spreadsheets from trimming it */
	if (strpbrk(s, ",\"\r\n") == NULL && (n == 0 || (s[0] != ' ' && s[n - 1] != ' '))) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

void cli_csv_row(FILE *f, const char *const *fields, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		if (i)
			fputc(',', f);
		cli_csv_field(f, fields[i]);
	}
	fputs("\r\n", f);
}

/* ---- key: value ------------------------------------------------------------------------- */

/* The longest dotted key under <o> with prefix length <plen>. */
static unsigned cli_kv_width(const json_t *o, unsigned plen)
{
	const char *k;
	json_t *v;
	unsigned w = 0, x;

	json_object_foreach((json_t *)o, k, v) {
		if (json_is_null(v))
			continue;
		x = json_is_object(v) ? cli_kv_width(v, plen + (unsigned)strlen(k) + 1) :
			plen + (unsigned)strlen(k);
		w = x > w ? x : w;
	}
	return w;
}

static void cli_kv_rec(FILE *f, const json_t *o, const char *prefix, unsigned indent, unsigned w)
{
	char key[256], val[512];
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)o, k, v) {
		if (json_is_null(v))
			continue;
		snprintf(key, sizeof(key), "%s%s%s", prefix, *prefix ? "." : "", k);
		if (json_is_object(v)) {
			cli_kv_rec(f, v, key, indent, w);
			continue;
		}
		if (json_is_string(v)) {
			cli_cell(val, sizeof(val), json_string_value(v), 200);
		} else {
			char *d = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);

			cli_cell(val, sizeof(val), d != NULL ? d : "?", 200);
			free(d);
		}
		fprintf(f, "%*s%s:%*s %s\n", (int)indent, "", key, (int)(w - strlen(key)), "", val);
	}
}

void cli_kv_print(FILE *f, const json_t *o, unsigned indent)
{
	if (!json_is_object(o))
		return;
	cli_kv_rec(f, o, "", indent, cli_kv_width(o, 0));
}
