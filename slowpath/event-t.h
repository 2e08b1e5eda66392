/* event-t.h - the fixed-size events workers send to the slow path (DESIGN.md §5).
 *
 * Each worker pushes events into its own single-producer single-consumer ring
 * (rte_ring of struct tg_event elements); the slow path drains every ring and hands
 * the events to the recorder in batches. Events are plain data, copied into the ring:
 * no pointer in an event refers to worker memory.
 */
#ifndef TG_EVENT_T_H
#define TG_EVENT_T_H

#include <stdint.h>

#define EV_TEXT_MAX   384             /* bytes of statement text kept in one event */
#define EV_NAME_MAX   64              /* user, database, application, rule id */

enum ev_type {
	EV_SESSION_OPEN  = 1,         /* u.open: the handshake of a protected flow was seen */
	EV_AUTH          = 2,         /* u.auth: database user, database, client application */
	EV_COMMAND       = 3,         /* u.cmd: a statement, its verdict and deciding rule */
	EV_RESULT        = 4,         /* u.result: summary of a command's result */
	EV_ERROR         = 5,         /* u.error: an error the server returned */
	EV_SESSION_CLOSE = 6,         /* u.close: the flow ended (FIN, RST, expiry, kill) */
	EV_ROWS          = 7,         /* u.rows: result rows as the client received them
	                               * (masked), up to recorder.result_bytes a session */
};

#define EV_F_TRUNCATED 0x01           /* the text did not fit: the first EV_TEXT_MAX bytes */
#define EV_F_NORMALIZED 0x02          /* u.cmd.text is the normalized statement, not raw */

enum ev_close_reason {
	EV_CLOSE_FIN = 1, EV_CLOSE_RST = 2, EV_CLOSE_IDLE = 3, EV_CLOSE_POLICY = 4,
	EV_CLOSE_KILLED = 5, EV_CLOSE_SHUTDOWN = 6,
	EV_CLOSE_LOST = 7,            /* the appliance stopped (crash, kill -9) before the
	                               * session closed: set when the store is next opened */
};

struct tg_event {
	uint8_t  type;                /* enum ev_type */
	uint8_t  flags;               /* EV_F_* */
	uint8_t  proto;               /* enum dp_proto_id */
	uint8_t  worker;              /* worker that saw it */
	uint16_t res_id;              /* resource index (config order) */
	uint16_t pad;
	uint64_t sid;                 /* session id = the flow's id (unique across restarts) */
	uint64_t ts_ns;               /* wall-clock time, ns since the epoch */
	union {
		struct {
			uint8_t  ip_ver;              /* 4 or 6 */
			uint8_t  pad[3];
			uint32_t client[4];           /* network order (IPv4 in [0]) */
			uint32_t server[4];
			uint16_t cport, sport;        /* host order */
		} open;
		struct {
			char user[EV_NAME_MAX];
			char database[EV_NAME_MAX];
			char app[EV_NAME_MAX];
		} auth;
		struct {
			uint8_t  action;              /* enum rule_action of the verdict */
			uint8_t  pad[3];
			uint32_t len;                 /* bytes of the whole text (may be > EV_TEXT_MAX) */
			uint64_t fp_hash;             /* 64-bit hash of the fingerprint (FNV-1a) */
			char rule[EV_NAME_MAX];       /* deciding rule id, "" if none */
			char text[EV_TEXT_MAX];       /* statement text, NUL-terminated */
		} cmd;
		struct {
			uint64_t rows;                /* rows returned (DataRow / COPY rows) */
			uint64_t bytes;               /* result bytes from the server */
			uint32_t masked;              /* fields masked */
			uint32_t duration_us;         /* first byte of the command to the end of its result */
			char tag[32];                 /* CommandComplete tag ("SELECT 2") */
		} result;
		struct {
			char code[8];                 /* SQLSTATE */
			char text[256];               /* message */
		} error;
		struct {
			uint32_t n;                   /* rows in text */
			uint32_t pad;
			char text[EV_TEXT_MAX];       /* the row: fields joined by '|' (COPY rows
			                               * as sent, without the line end), NULL as
			                               * "NULL"; NUL-terminated */
		} rows;
		struct {
			uint8_t  reason;              /* enum ev_close_reason */
			uint8_t  pad[7];
			uint64_t bytes_c2s;           /* bytes from the client */
			uint64_t bytes_s2c;           /* bytes from the server */
		} close;
	} u;
};

#endif
