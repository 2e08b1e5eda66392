/* sessgen.h - generates realistic PostgreSQL sessions as a packet trace, in memory.
 *
 * Each session: a three-way handshake (MSS, window scale 7, SACK permitted,
 * timestamps), StartupMessage, MD5 authentication, AuthenticationOk, ParameterStatus
 * messages, BackendKeyData, ReadyForQuery; then simple-protocol queries, each answered
 * by RowDescription, DataRows (ids, names, e-mail addresses, card-number-like text,
 * free text: 10 to 200 bytes a row), CommandComplete and ReadyForQuery, cut into MSS
 * segments; then Terminate with FIN, the server's FIN, the last ACK.
 *
 * Clients acknowledge every second data segment, with the ACK a receiver behind the
 * appliance would send: up to the last whole message received in order (the appliance
 * forwards whole messages only). Some server segments arrive before their predecessor
 * and some are sent twice, as sg_params says.
 *
 * Delivery follows a NIC that serves many sessions: passes over the active sessions,
 * one port at a time, each session giving at most <per_visit> frames per pass, cut
 * into bursts of <burst>. A session's frames never overtake each other, and a reply
 * never arrives in the same pass as what it answers.
 *
 * Session s uses client 198.18.1.0 + (s >> 14), port 10000 + (s & 0x3fff), and the
 * server 198.18.0.2:5432; sg_session_of() inverts that.
 */
#ifndef TG_SESSGEN_H
#define TG_SESSGEN_H

#include <stddef.h>
#include <stdint.h>
#include "bench/sessgen-t.h"

struct rte_mempool;

#define SG_SERVER_IP   0xC6120002u    /* 198.18.0.2, host order */
#define SG_SERVER_PORT 5432
#define SG_CLIENT_IP0  0xC6120100u    /* 198.18.1.0: first client address, host order */
#define SG_CLIENT_PORT0 10000

/* Fills <p> with the defaults documented in sessgen-t.h. */
void sg_params_default(struct sg_params *p);

/* Builds the trace described by <p> into <t> (zeroed first). Frames are built in
 * mbufs from <scratch> and copied out, so <scratch> needs only a few free mbufs.
 * Returns 0, or -1 with a message in <err> (<errlen> bytes) on bad parameters or when
 * memory runs out; <t> then holds nothing to free. */
int sg_build(const struct sg_params *p, struct rte_mempool *scratch, struct sg_trace *t,
	     char *err, size_t errlen);

/* Frees what sg_build allocated in <t>. */
void sg_free(struct sg_trace *t);

/* Session index of client address <ip> (host order) and port <port>, or -1 when they
 * are not a client of a trace of <sessions> sessions. */
int64_t sg_session_of(uint32_t ip, uint16_t port, uint64_t sessions);

/* Continues an FNV-1a 64 hash <h> over <len> bytes at <p> (start with SG_FNV_INIT). */
uint64_t sg_fnv(uint64_t h, const uint8_t *p, size_t len);
#define SG_FNV_INIT 0xcbf29ce484222325ull

#endif
