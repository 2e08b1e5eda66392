/* tg_log.c - JSON log lines (see tg_log.h).
 *
 * Every line must parse as JSON whatever the message holds, since the journal's readers
 * (jq, json.loads) drop or choke on a line that does not: so the message is written as
 * well-formed UTF-8 with each byte that is not part of it escaped, and a message that is
 * too long is cut between two characters, never inside one or inside an escape. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include "common/tg_log.h"

/* The only process-wide mutable setting besides the quit flag: written once at start-up. */
static enum tg_log_level log_min = TG_LOG_INFO;
static const char *const level_names[] = { "debug", "info", "warn", "error" };

void tg_log_set_level(enum tg_log_level lvl)
{
	log_min = lvl;
}

int tg_log_level_parse(const char *s)
{
	for (unsigned i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcasecmp(s, level_names[i]) == 0)
			return (int)i;
	return -1;
}

/* Length of the well-formed UTF-8 sequence that starts at <s> (Unicode table 3-7): 1 to 4;
 * 0 if the bytes there are not one (a stray continuation byte, an overlong form, a
 * surrogate U+D800..DFFF, above U+10FFFF); -1 if <s> ends (NUL) before the sequence does
 * and every byte up to there fits it. */
static int utf8_len(const unsigned char *s)
{
	unsigned char lo = 0x80, hi = 0xbf;    /* the range of the second byte */
	int n;

	if (s[0] < 0x80)
		return 1;
	if (s[0] < 0xc2)                       /* continuation, or C0/C1: overlong */
		return 0;
	if (s[0] < 0xe0) {
		n = 2;
	} else if (s[0] < 0xf0) {
		n = 3;
		lo = s[0] == 0xe0 ? 0xa0 : 0x80;   /* overlong below U+0800 */
		hi = s[0] == 0xed ? 0x9f : 0xbf;   /* surrogates */
	} else if (s[0] < 0xf5) {
		n = 4;
		lo = s[0] == 0xf0 ? 0x90 : 0x80;   /* overlong below U+10000 */
		hi = s[0] == 0xf4 ? 0x8f : 0xbf;   /* above U+10FFFF */
	} else {
		return 0;
	}
	for (int i = 1; i < n; i++) {
		if (s[i] == '\0')
			return -1;
		if (s[i] < lo || s[i] > hi)
			return 0;
		lo = 0x80;
		hi = 0xbf;
	}
	return n;
}

/* Writes <in> into <out> (<cap> bytes) as the inside of a JSON string; always NUL-terminates.
 * Stops before a character or an escape that would not fit whole, and, when <cut> says
 * that <in> is itself the head of a longer message, before a character that <in> ends
 * inside of. Returns 1 if it stopped before the end of <in>, else 0. */
static int json_escape(char *out, size_t cap, const char *in, int cut)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t o = 0, wl;
	char u[8];
	int n, stop = 0;

	for (; *s; s += n) {
		const char *w = u;                 /* the <wl> bytes written for this character */

		n = utf8_len(s);
		if (n < 0 && cut) {
			stop = 1;
			break;
		}
		/* A byte that is not well-formed UTF-8 is written as \u00XX, XX its value (0xff
		 * as \u00ff, U+00FF once decoded), one escape per byte: unlike U+FFFD, the line
		 * then still says which bytes were there (a config value, a client's string). */
		if (n <= 0) {
			n = 1;
			wl = (size_t)snprintf(u, sizeof(u), "\\u%04x", *s);
		} else if (*s == '"' || *s == '\\') {
			u[0] = '\\';
			u[1] = (char)*s;
			wl = 2;
		} else if (*s == '\n') {
			memcpy(u, "\\n", 2);
			wl = 2;
		} else if (*s < 0x20) {
			wl = (size_t)snprintf(u, sizeof(u), "\\u%04x", *s);
		} else {
			w = (const char *)s;
			wl = (size_t)n;
		}
		if (o + wl >= cap) {
			stop = 1;
			break;
		}
		memcpy(out + o, w, wl);
		o += wl;
	}
	out[o] = '\0';
	return stop;
}

void tg_log(enum tg_log_level lvl, const char *comp, const char *fmt, ...)
{
	char msg[1024], esc[2048], comp_esc[64], ts[40];
	struct timespec now;
	struct tm tm;
	va_list ap;
	int n, cut;

	if (lvl < log_min)
		return;
	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		msg[0] = '\0';
	/* A long message is cut in one of two places: vsnprintf keeps the first bytes that fit
	 * msg, which may end inside a character (json_escape then leaves that one out), or
	 * the escaped text fills esc first. Either way the line ends in "truncated":true. */
	cut = n >= (int)sizeof(msg);
	cut |= json_escape(esc, sizeof(esc), msg, cut);
	json_escape(comp_esc, sizeof(comp_esc), comp, 0);
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "{\"ts\":\"%s.%03ldZ\",\"level\":\"%s\",\"comp\":\"%s\",\"msg\":\"%s\"%s}\n",
		ts, now.tv_nsec / 1000000, level_names[lvl], comp_esc, esc,
		cut ? ",\"truncated\":true" : "");
}
