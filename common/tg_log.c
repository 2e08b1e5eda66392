/* tg_log.c - JSON log lines (see tg_log.h). */
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

/* Writes <s> into <out> as the inside of a JSON string; always NUL-terminates. */
static void json_escape(char *out, size_t cap, const char *s)
{
	size_t o = 0;

	for (; *s && o + 7 < cap; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\') {
			out[o++] = '\\';
			out[o++] = (char)ch;
		} else if (ch == '\n') {
			out[o++] = '\\';
			out[o++] = 'n';
		} else if (ch < 0x20) {
			o += (size_t)snprintf(out + o, cap - o, "\\u%04x", ch);
		} else {
			out[o++] = (char)ch;
		}
	}
	out[o] = '\0';
}

void tg_log(enum tg_log_level lvl, const char *comp, const char *fmt, ...)
{
	char msg[1024], esc[2048], ts[40];
	struct timespec now;
	struct tm tm;
	va_list ap;

	if (lvl < log_min)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_escape(esc, sizeof(esc), msg);
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "{\"ts\":\"%s.%03ldZ\",\"level\":\"%s\",\"comp\":\"%s\",\"msg\":\"%s\"}\n",
		ts, now.tv_nsec / 1000000, level_names[lvl], comp, esc);
}
