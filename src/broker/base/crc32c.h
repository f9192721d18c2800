/*
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of Kafka record batch v2.
 * Uses the SSE4.2 crc32 instruction when the CPU has it, a slicing-by-8 table otherwise; both
 * give identical results (tests/unit/test_crc32c.c checks the RFC 3720 vectors).
 */
#ifndef TANDEM_BASE_CRC32C_H
#define TANDEM_BASE_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continues a CRC: crc32c(0, p, n) is the CRC of p; crc32c(crc32c(0, a, n), b, m) that of a||b. */
uint32_t crc32c(uint32_t crc, const void *p, size_t n);
/* The portable implementation, exposed so tests can compare it with the hardware path. */
uint32_t crc32c_sw(uint32_t crc, const void *p, size_t n);

#endif
