/* test_linedec.h - a scriptable line-protocol decoder (protocol DP_PROTO_TEST) for
 * tests and fuzz targets: no test framework, so libFuzzer targets link it too.
 *
 * It cuts each direction into '\n'-terminated lines and acts on each whole line
 * through the sink (dataplane/proto/proto.h):
 *   "BLOCK"            removed, and "ERR\n" injected into the other direction
 *   "DROP"             removed, nothing injected
 *   "PING"             forwarded, and "PONG\n" injected into the other direction
 *   contains "SECRET"  the line (not its '\n') rewritten to as many 'X'
 *   "RESET"            sink->reset()
 *   "BAD"              feed() returns PROTO_ERR
 *   anything else      released at its '\n'
 * A sink call that fails is counted (tdec_log.sink_fail) and resets the flow: a line
 * that could not be removed or answered is never let through.
 * What it was fed is copied into tdec_log (a test-only global, never read by the data
 * plane), so a test can check that the decoder saw one in-order stream.
 */
#ifndef TG_TEST_LINEDEC_H
#define TG_TEST_LINEDEC_H

#include <stdint.h>

/* ---- the decoder ---- */

#define TDEC_LOG_MAX  65536           /* bytes of each direction kept in the log */
#define TDEC_LINE_MAX 96              /* longest line the decoder matches commands in */

struct tdec_log {
	uint8_t  seen[2][TDEC_LOG_MAX];   /* bytes fed, per direction, in feed order */
	uint32_t n[2];                    /* bytes fed per direction */
	unsigned gaps;                    /* feeds whose offset was not the previous end */
	unsigned sink_fail;               /* sink calls that returned -1 */
	unsigned fins[2];                 /* fin() calls per direction */
	unsigned lines[2];                /* whole lines seen per direction */
	unsigned inits;                   /* init() calls */
	unsigned finis;                   /* fini() calls */
};

/* The log of the decoder (all flows together). */
extern struct tdec_log tdec_log;

/* Registers the decoder as DP_PROTO_TEST. */
void tdec_register(void);
/* Clears tdec_log. */
void tdec_log_reset(void);

#endif
