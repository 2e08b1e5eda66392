/* pgwire.h - PostgreSQL wire-protocol helpers for the test clients (see pgwire.c). */
#ifndef TG_PGWIRE_H
#define TG_PGWIRE_H

#include <stddef.h>
#include <stdint.h>

/* Growable output buffer for messages. */
struct pgw_buf {
	uint8_t *p;
	size_t len;
	size_t cap;
};

/* How a tool sends bytes: returns 0, or -1 on error. */
typedef int (*pgw_send_pt)(int fd, const uint8_t *p, size_t n);

/* Sets the tool's name (for messages) and its send function (NULL: pgw_send). */
void pgw_init(const char *prog, pgw_send_pt send_fn);

void pgw_put32(uint8_t *p, uint32_t v);
uint32_t pgw_be32(const uint8_t *p);
/* Appends <n> bytes. Returns 0, or -1 when out of memory. */
int pgw_add(struct pgw_buf *b, const void *p, size_t n);
/* Appends one message: type <t> (0: none, the start-up) and body <body> of <n> bytes. */
int pgw_msg(struct pgw_buf *b, char t, const void *body, size_t n);
/* Sends all <n> bytes at once. Returns 0 or -1. */
int pgw_send(int fd, const uint8_t *p, size_t n);
/* Reads exactly <n> bytes, each wait bounded (10 s). Returns 0 or -1. */
int pgw_read_full(int fd, uint8_t *p, size_t n);
/* Reads one message: type in *<t>, body (malloc'd, NUL-terminated) in *<body>, its
 * length in *<len>. Returns 0, or -1 on error. */
int pgw_read_msg(int fd, uint8_t *t, uint8_t **body, uint32_t *len);
void pgw_md5_hex(const uint8_t *in, size_t n, char out[33]);
int pgw_send_password(int fd, const char *pw);
/* Answers an md5 challenge: "md5" + md5(md5(password + user) + salt). */
int pgw_send_md5(int fd, const char *user, const char *pw, const uint8_t salt[4]);
/* Prints a RowDescription (<row> 0) or a DataRow (<row> 1) as one line. */
void pgw_print_fields(const char *what, const uint8_t *b, uint32_t len, int row);
/* Connects to <host>:<port> (IPv4) with TCP_NODELAY. Returns the socket, or -1 (said). */
int pgw_connect(const char *host, const char *port);
/* Sends the StartupMessage (protocol 3.0) for <user> and <db> with the tool's send
 * function and prints the answer up to ReadyForQuery. Returns 0 or -1. */
int pgw_startup(int fd, const char *user, const char *db, const char *pw);

/* Prints messages until ReadyForQuery, answering authentication requests (trust,
 * cleartext, md5). Returns 0, or -1 on error (COPY is not supported). */
int pgw_until_ready(int fd, const char *user, const char *pw);

#endif
