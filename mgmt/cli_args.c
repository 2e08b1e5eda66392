/* cli_args.c - tollctl's global options, token files, session ids and time parsing. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "mgmt/cli.h"

#define NS_PER_S 1000000000ull

/* A token goes into an HTTP header: visible ASCII only, or it could end the header. */
static int cli_token_ok(const char *t)
{
	for (; *t; t++)
		if ((unsigned char)*t <= 0x20 || (unsigned char)*t >= 0x7f)
			return 0;
	return 1;
}

void cli_global_init(struct cli_global *g)
{
	const char *url = getenv("TOLLGATE_URL"), *tok = getenv("TOLLGATE_TOKEN");

	memset(g, 0, sizeof(*g));
	snprintf(g->url, sizeof(g->url), "%s", url != NULL && *url ? url : CLI_DEFAULT_URL);
	g->url_given = url != NULL && *url;
	if (tok != NULL && *tok && strlen(tok) < sizeof(g->token) && cli_token_ok(tok)) {
		snprintf(g->token, sizeof(g->token), "%s", tok);
		g->token_given = 1;
	}
	g->timeout_s = 30;
}

int cli_token_read(const char *path, char *out, size_t cap, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	size_t n, b = 0;

	if (f == NULL) {
		snprintf(err, errlen, "cannot read token file %s: %s", path, strerror(errno));
		return -1;
	}
	n = fread(out, 1, cap, f);
	fclose(f);
	if (n == cap) {
		snprintf(err, errlen, "token file %s: longer than %zu bytes", path, cap - 1);
		memset(out, 0, cap);
		return -1;
	}
	while (n > 0 && isspace((unsigned char)out[n - 1]))
		n--;
	while (b < n && isspace((unsigned char)out[b]))
		b++;
	memmove(out, out + b, n - b);
	memset(out + (n - b), 0, cap - (n - b));
	if (n == b) {
		snprintf(err, errlen, "token file %s is empty", path);
		return -1;
	}
	/* a token is one word: anything else is not a token file (and sending it would
	 * break the Authorization header) */
	if (!cli_token_ok(out)) {
		snprintf(err, errlen, "token file %s: not one line of visible characters", path);
		memset(out, 0, cap);
		return -1;
	}
	return 0;
}

int cli_global_opt(struct cli_global *g, int opt, char *arg, char *err, size_t errlen)
{
	char *end;
	long v;

	switch (opt) {
	case CLI_O_URL:
		if (strlen(arg) >= sizeof(g->url)) {
			snprintf(err, errlen, "--url: too long");
			return -1;
		}
		snprintf(g->url, sizeof(g->url), "%s", arg);
		g->url_given = 1;
		return 1;
	case CLI_O_TOKEN:
		if (*arg == '\0' || strlen(arg) >= sizeof(g->token) || !cli_token_ok(arg)) {
			snprintf(err, errlen, "--token: empty, too long or not visible characters");
			return -1;
		}
		snprintf(g->token, sizeof(g->token), "%s", arg);
		/* hide it from ps and /proc/PID/cmdline (the window before this is short;
		 * --token-file or $TOLLGATE_TOKEN have none) */
		memset(arg, 'x', strlen(arg));
		g->token_given = 1;
		return 1;
	case CLI_O_TOKEN_FILE:
		if (cli_token_read(arg, g->token, sizeof(g->token), err, errlen) < 0)
			return -1;
		g->token_given = 1;
		return 1;
	case CLI_O_CACERT:
		if (strlen(arg) >= sizeof(g->cacert)) {
			snprintf(err, errlen, "--cacert: path too long");
			return -1;
		}
		snprintf(g->cacert, sizeof(g->cacert), "%s", arg);
		g->cacert_given = 1;
		return 1;
	case CLI_O_INSECURE:
		g->insecure = 1;
		return 1;
	case CLI_O_JSON:
		g->json = 1;
		return 1;
	case CLI_O_TIMEOUT:
		errno = 0;
		v = strtol(arg, &end, 10);
		if (errno != 0 || end == arg || *end != '\0' || v <= 0 || v > 86400) {
			snprintf(err, errlen, "--timeout: \"%s\" is not a number of seconds (1-86400)", arg);
			return -1;
		}
		g->timeout_s = v;
		return 1;
	default:
		return 0;
	}
}

int cli_global_finish(struct cli_global *g, char *err, size_t errlen)
{
	size_t n;

	if (strncasecmp(g->url, "https://", 8) != 0 && strncasecmp(g->url, "http://", 7) != 0) {
		snprintf(err, errlen, "--url \"%s\": must start with https:// (or http://)", g->url);
		return -1;
	}
	n = strlen(g->url);
	while (n > 0 && g->url[n - 1] == '/')
		g->url[--n] = '\0';
	if (g->cacert_given && !g->insecure && access(g->cacert, R_OK) != 0) {
		snprintf(err, errlen, "--cacert %s: %s", g->cacert, strerror(errno));
		return -1;
	}
	/* the appliance's generated certificate is self-signed: trust it when it is here
	 * (tollctl on the appliance itself), the system's store otherwise */
	if (!g->cacert_given && g->cacert[0] == '\0' && access(CLI_DEFAULT_CACERT, R_OK) == 0)
		snprintf(g->cacert, sizeof(g->cacert), "%s", CLI_DEFAULT_CACERT);
	return 0;
}

void cli_global_wipe(struct cli_global *g)
{
	/* explicit_bzero: a plain memset before exit may be optimized away */
	explicit_bzero(g->token, sizeof(g->token));
}

/* ---- session ids ---------------------------------------------------------------------- */

int cli_sid_norm(const char *s, char out[17])
{
	size_t n = strlen(s);

	if (n == 0 || n > 16 || strspn(s, "0123456789abcdefABCDEF") != n)
		return -1;
	memset(out, '0', 16 - n);
	for (size_t i = 0; i < n; i++)
		out[16 - n + i] = (char)tolower((unsigned char)s[i]);
	out[16] = '\0';
	return 0;
}

/* ---- time ----------------------------------------------------------------------------- */

/* Reads exactly <n> digits at *<p> into *<v>, advancing *<p>. Returns 0 or -1. */
static int cli_digits(const char **p, unsigned n, int *v)
{
	*v = 0;
	for (unsigned i = 0; i < n; i++, (*p)++) {
		if (!isdigit((unsigned char)**p))
			return -1;
		*v = *v * 10 + (**p - '0');
	}
	return 0;
}

int cli_rfc3339_parse(const char *s, uint64_t *ns)
{
	int Y, M, D, h, m, sec, oh = 0, om = 0, sign = 0;
	uint64_t frac = 0, scale = NS_PER_S;
	struct tm tm = { 0 };
	const char *p = s;
	time_t t;

	if (cli_digits(&p, 4, &Y) || *p++ != '-' || cli_digits(&p, 2, &M) || *p++ != '-' ||
	    cli_digits(&p, 2, &D) || (*p != 'T' && *p != 't' && *p != ' '))
		return -1;
	p++;
	if (cli_digits(&p, 2, &h) || *p++ != ':' || cli_digits(&p, 2, &m) || *p++ != ':' ||
	    cli_digits(&p, 2, &sec))
		return -1;
	if (*p == '.') {
		if (!isdigit((unsigned char)*++p))
			return -1;
		for (; isdigit((unsigned char)*p); p++)
			if (scale > 1) {
				scale /= 10;
				frac += (uint64_t)(*p - '0') * scale;
			}
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p++ == '-' ? -1 : 1;
		if (cli_digits(&p, 2, &oh) || *p++ != ':' || cli_digits(&p, 2, &om) || oh > 23 || om > 59)
			return -1;
	} else {
		return -1;
	}
	/* sec 60 is a leap second: RFC 3339 allows it, time_t folds it into the next */
	if (*p != '\0' || Y < 1970 || M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60)
		return -1;
	tm.tm_year = Y - 1900;
	tm.tm_mon = M - 1;
	tm.tm_mday = D;
	tm.tm_hour = h;
	tm.tm_min = m;
	tm.tm_sec = sec;
	t = timegm(&tm);
	/* timegm normalizes 31 April into 1 May: reject dates that moved */
	if (t == (time_t)-1 || tm.tm_mday != D || tm.tm_mon != M - 1)
		return -1;
	t -= (time_t)sign * (oh * 3600 + om * 60);
	if (t < 0)
		return -1;
	*ns = (uint64_t)t * NS_PER_S + frac;
	return 0;
}

int cli_since_parse(const char *s, uint64_t now_ns, uint64_t *ns)
{
	static const struct { char unit; uint64_t s; } units[] = {
		{ 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 }, { 'w', 7 * 86400 },
	};
	uint64_t total = 0;
	const char *p = s;

	if (cli_rfc3339_parse(s, ns) == 0)
		return 0;
	if (*p == '\0')
		return -1;
	while (*p) {
		uint64_t v = 0;
		size_t u;

		if (!isdigit((unsigned char)*p))
			return -1;
		for (; isdigit((unsigned char)*p); p++) {
			v = v * 10 + (uint64_t)(*p - '0');
			if (v > 100ull * 365 * 86400)
				return -1;
		}
		for (u = 0; u < sizeof(units) / sizeof(units[0]) && units[u].unit != *p; u++)
			;
		if (u == sizeof(units) / sizeof(units[0]))
			return -1;
		p++;
		total += v * units[u].s;
		if (total > 100ull * 365 * 86400)
			return -1;
	}
	total *= NS_PER_S;
	*ns = total >= now_ns ? 0 : now_ns - total;
	return 0;
}

void cli_rfc3339_fmt(uint64_t ns, unsigned frac, char *out, size_t len)
{
	time_t t = (time_t)(ns / NS_PER_S);
	unsigned long sub = (unsigned long)(ns % NS_PER_S);
	char base[32];
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	if (frac == 3)
		snprintf(out, len, "%s.%03luZ", base, sub / 1000000);
	else if (frac == 6)
		snprintf(out, len, "%s.%06luZ", base, sub / 1000);
	else if (frac == 9)
		snprintf(out, len, "%s.%09luZ", base, sub);
	else
		snprintf(out, len, "%sZ", base);
}

void cli_time_local(uint64_t ns, char *out, size_t len)
{
	time_t t = (time_t)(ns / NS_PER_S);
	struct tm tm;

	if (ns == 0) {
		snprintf(out, len, "-");
		return;
	}
	localtime_r(&t, &tm);
	strftime(out, len, "%Y-%m-%d %H:%M:%S", &tm);
}
