/* util — small helpers with no state: clocks, RFC 3339 times, durations, randomness, base62, CRC32,
 * bounded string copies. */
#ifndef IG_UTIL_H
#define IG_UTIL_H

#include <stddef.h>
#include <stdint.h>


/* Formats ms-since-epoch as RFC 3339 UTC ("2027-01-31T00:00:00Z", or with ".123" when ms is not whole).
 * Returns the length written (buf always NUL-terminated; cap >= 32 is always enough). */
int ig_rfc3339_format(int64_t ms, char *buf, size_t cap);
/* Parses an RFC 3339 date-time ("2027-01-31T00:00:00Z", fractional seconds and "+02:00" offsets accepted;
 * a plain "2027-01-31" date means midnight UTC).  Returns 0 and *ms, or -1 if it is not one. */
int ig_rfc3339_parse(const char *s, int64_t *ms);
/* Parses a duration "30d", "12h", "15m", "45s", "2w" into milliseconds (> 0).  Returns 0 or -1. */
int ig_duration_parse(const char *s, int64_t *ms);

/* Fills buf with n bytes from the OS CSPRNG (getrandom(2)).  Aborts if it cannot: running on without
 * randomness would mint guessable tokens. */
void ig_random_bytes(void *buf, size_t n);
/* n uniformly random base62 characters (rejection sampling, no modulo bias); out gets a NUL at out[n]. */
void ig_random_base62(char *out, size_t n);
/* Random UUID version 4, lower-case, 36 chars + NUL. */
void ig_uuid4(char out[37]);

/* CRC-32 (IEEE 802.3, as zlib's crc32) of len bytes. */
uint32_t ig_crc32(const void *data, size_t len);
extern const char ig_base62_alphabet[63];

/* Value of a hexadecimal digit (0-9, a-f, A-F), or -1. */
int ig_hex_digit(int c);

/* snprintf-style bounded copy: always NUL-terminates; returns -1 if src was truncated, else 0. */
int ig_strlcpy(char *dst, const char *src, size_t cap);
/* mkdir -p with mode 0755: 0, or -1 with errno set (ENAMETOOLONG past 4095 bytes). */
int ig_mkdirs(const char *path);
/* Parses a base-10 integer that fills the whole string into [min,max]. Returns 0 or -1. */
int ig_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out);

/* The length (1..4) of the well-formed UTF-8 sequence at p, of which avail bytes are there, or 0 when it is
 * not one (a stray continuation byte, an overlong form, a surrogate, past U+10FFFF, or cut short). */
size_t ig_utf8_len(const unsigned char *p, size_t avail);

#endif
