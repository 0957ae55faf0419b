/*
 * byteorder.h: little- and big-endian loads and stores on byte buffers,
 * whatever the host's order and alignment (virtio and MP tables are
 * little-endian; ISO 9660 stores numbers in both orders).
 */
#ifndef DROVER_BYTEORDER_H
#define DROVER_BYTEORDER_H

#include <stdint.h>

static inline void
bo_put16le(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void
bo_put32le(uint8_t *p, uint32_t v)
{
	bo_put16le(p, (uint16_t)v);
	bo_put16le(p + 2, (uint16_t)(v >> 16));
}

static inline void
bo_put64le(uint8_t *p, uint64_t v)
{
	bo_put32le(p, (uint32_t)v);
	bo_put32le(p + 4, (uint32_t)(v >> 32));
}

static inline void
bo_put16be(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void
bo_put32be(uint8_t *p, uint32_t v)
{
	bo_put16be(p, (uint16_t)(v >> 16));
	bo_put16be(p + 2, (uint16_t)v);
}

static inline uint16_t
bo_get16le(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t
bo_get32le(const uint8_t *p)
{
	return (uint32_t)bo_get16le(p) | (uint32_t)bo_get16le(p + 2) << 16;
}

static inline uint64_t
bo_get64le(const uint8_t *p)
{
	return (uint64_t)bo_get32le(p) | (uint64_t)bo_get32le(p + 4) << 32;
}

#endif
