/* cidr — IPv4 and IPv6 address ranges, for per-token allowlists and server.trusted_proxies (DESIGN.md §8).
 * Addresses are 16 bytes, IPv4 as IPv4-mapped IPv6 (::ffff:a.b.c.d), the form the transport reports, so one
 * comparison serves both families. */
#ifndef IG_CIDR_H
#define IG_CIDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IG_CIDR_TEXT_MAX 50 /* "ffff:...:ffff/128" with room */

typedef struct {
    uint8_t addr[16]; /* host bits cleared */
    uint8_t bits;     /* 0..128 (an IPv4 /n is 96 + n) */
} ig_cidr_t;

/* Parses "10.0.0.0/8", "192.168.1.7" (a /32), "2001:db8::/32", "::1": 0, or -1 (not a CIDR, a prefix out of
 * range).  Host bits are cleared ("10.1.2.3/8" is 10.0.0.0/8). */
int ig_cidr_parse(const char *s, size_t len, ig_cidr_t *out);
/* Canonical text: "10.0.0.0/8", "2001:db8::/32". */
void ig_cidr_format(const ig_cidr_t *c, char *buf, size_t cap);
bool ig_cidr_contains(const ig_cidr_t *c, const uint8_t addr[16]);
/* Parses one address (IPv4 or IPv6, no prefix) into 16 bytes: 0, or -1. */
int ig_addr_parse(const char *s, size_t len, uint8_t out[16]);
/* "10.1.2.3" or "2001:db8::1". */
void ig_addr_format(const uint8_t addr[16], char *buf, size_t cap);
/* Parses a comma-separated list of at most max CIDRs (spaces around each allowed): the count, or -1. */
int ig_cidr_list_parse(const char *s, ig_cidr_t *out, int max);

#endif
