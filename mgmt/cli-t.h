/* cli-t.h - tollctl's types: global options, HTTP answers, text tables, exit codes.
 *
 * tollctl is a short-lived process: these are plain structures filled by the command
 * line parser and passed explicitly to the command that runs; nothing here is global.
 */
#ifndef TG_CLI_T_H
#define TG_CLI_T_H

#include <stddef.h>
#include <stdint.h>

/* Exit status of every tollctl command (docs/tollctl.md, "Exit status"). */
enum cli_exit {
	CLI_EXIT_OK          = 0,     /* done (verify: every chain verified) */
	CLI_EXIT_FAIL        = 1,     /* an error the server or a file reported; verify: altered */
	CLI_EXIT_USAGE       = 2,     /* bad command line */
	CLI_EXIT_UNREACHABLE = 3,     /* no HTTP answer: connect, TLS or timeout failure */
	CLI_EXIT_AUTH        = 4,     /* 401 (bad or missing token) or 403 (role too low) */
	CLI_EXIT_NOTFOUND    = 5,     /* 404: unknown session (or route) */
};

#define CLI_DEFAULT_URL     "https://127.0.0.1:8443"
#define CLI_DEFAULT_CACERT  "/var/lib/tollgate/api-cert.pem"
#define CLI_DEFAULT_RECDIR  "/var/lib/tollgate/recordings"
#define CLI_URL_MAX         512
#define CLI_TOKEN_MAX       8192      /* an OIDC ID token with many groups is a few KB */

/* Options every command accepts (before or after the command words). */
struct cli_global {
	char url[CLI_URL_MAX];        /* API base URL, without a trailing '/' */
	char token[CLI_TOKEN_MAX];    /* bearer token; never printed, wiped at exit */
	char cacert[256];             /* CA file to trust; "" = the system's store */
	int insecure;                 /* --insecure: no certificate or host name check */
	int json;                     /* --json: raw JSON on stdout */
	long timeout_s;               /* --timeout: whole-request limit, seconds */
	int url_given;                /* --url or $TOLLGATE_URL was set */
	int token_given;              /* --token, --token-file or $TOLLGATE_TOKEN was set */
	int cacert_given;             /* --cacert was set (a missing file is then an error) */
};

/* One HTTP answer. <body> is malloc'd, NUL-terminated, owned by the struct until
 * cli_resp_free(). */
struct cli_resp {
	long status;                  /* HTTP status (200, 404, ...) */
	char *body;                   /* response body, "" when there was none */
	size_t len;                   /* bytes in <body>, without the NUL */
};

/* What a 404 means to the command that got it, for its message. */
enum cli_nf {
	CLI_NF_ROUTE   = 0,           /* the server's message ("no such route") */
	CLI_NF_SESSION = 1,           /* "unknown session ID" */
};

/* A column of a text table. */
struct cli_col {
	const char *title;            /* header text */
	unsigned max;                 /* widest the column may be (characters); longer cells
	                               * are cut and end with "..."; 0 = no limit */
	int right;                    /* 1: right-aligned (numbers) */
};

/* A text table being built: rows are added, then printed with each column as wide as
 * its widest cell (capped by the column's max). Cells are copied. */
struct cli_table {
	const struct cli_col *cols;   /* column descriptions, <ncols> of them */
	unsigned ncols;
	unsigned nrows;               /* rows added so far */
	unsigned cap;                 /* rows <cells> has room for */
	char **cells;                 /* nrows * ncols malloc'd strings, row-major */
};

/* Formats of `recordings export`. */
enum cli_fmt {
	CLI_FMT_JSON = 0,             /* the session object with an "events" array */
	CLI_FMT_CSV  = 1,             /* seq,time,type,action,rule,text; one event per line */
};

#endif
