/* tg_log.h - JSON log lines: one object per line on stderr.
 *
 * {"ts":"2026-11-29T02:44:05.123Z","level":"info","comp":"port","msg":"..."}
 * Every line is valid JSON: a byte of the message that is not well-formed UTF-8 is written
 * as \u00XX (XX its value); a message over 1023 bytes, or over 2047 once escaped, is cut
 * at a character and the line ends in ,"truncated":true.
 * Safe from any thread (one fprintf per line; stdio locks the stream).
 */
#ifndef TG_LOG_H
#define TG_LOG_H

enum tg_log_level { TG_LOG_DEBUG = 0, TG_LOG_INFO, TG_LOG_WARN, TG_LOG_ERROR };

/* Sets the lowest level printed (default info). */
void tg_log_set_level(enum tg_log_level lvl);
/* Parses "debug", "info", "warn", "error"; returns -1 if unknown. */
int tg_log_level_parse(const char *s);
/* Logs one line: <comp> is the component ("port", "worker"), the message is printf-style;
 * both are JSON-escaped. */
void tg_log(enum tg_log_level lvl, const char *comp, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define TG_INFO(comp, ...)  tg_log(TG_LOG_INFO, comp, __VA_ARGS__)
#define TG_WARN(comp, ...)  tg_log(TG_LOG_WARN, comp, __VA_ARGS__)
#define TG_ERR(comp, ...)   tg_log(TG_LOG_ERROR, comp, __VA_ARGS__)
#define TG_DEBUG(comp, ...) tg_log(TG_LOG_DEBUG, comp, __VA_ARGS__)

#endif
