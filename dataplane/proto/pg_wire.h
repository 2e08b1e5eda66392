/* pg_wire.h - byte order of the PostgreSQL wire protocol (network order), shared by the
 * decoder (pg.c) and the FunctionCall reader (pg_fn.c). Unaligned-safe. */
#ifndef TG_PG_WIRE_H
#define TG_PG_WIRE_H

#include <stdint.h>

static inline uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

#endif
