/* cidr — see cidr.h. */
#include "core/cidr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

int ig_addr_parse(const char *s, size_t len, uint8_t out[16])
{
    char buf[INET6_ADDRSTRLEN + 1];
    if (len == 0 || len >= sizeof buf) return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    struct in_addr a4;
    if (inet_pton(AF_INET, buf, &a4) == 1) {
        memcpy(out, v4mapped, 12);
        memcpy(out + 12, &a4, 4);
        return 0;
    }
    return inet_pton(AF_INET6, buf, out) == 1 ? 0 : -1;
}

void ig_addr_format(const uint8_t addr[16], char *buf, size_t cap)
{
    if (memcmp(addr, v4mapped, 12) == 0) snprintf(buf, cap, "%u.%u.%u.%u", addr[12], addr[13], addr[14], addr[15]);
    else if (!inet_ntop(AF_INET6, addr, buf, (socklen_t)cap) && cap) buf[0] = '\0';
}

int ig_cidr_parse(const char *s, size_t len, ig_cidr_t *out)
{
    const char *slash = memchr(s, '/', len);
    size_t al = slash ? (size_t)(slash - s) : len;
    if (ig_addr_parse(s, al, out->addr)) return -1;
    bool v4 = memcmp(out->addr, v4mapped, 12) == 0 && memchr(s, ':', al) == NULL;
    int max = v4 ? 32 : 128, bits = max;
    if (slash) {
        const char *p = slash + 1;
        size_t pl = len - al - 1;
        if (pl == 0 || pl > 3) return -1;
        bits = 0;
        for (size_t i = 0; i < pl; i++) {
            if (p[i] < '0' || p[i] > '9') return -1;
            bits = bits * 10 + (p[i] - '0');
        }
        if (bits > max) return -1;
    }
    out->bits = (uint8_t)(v4 ? 96 + bits : bits);
    for (int i = out->bits; i < 128; i++) out->addr[i / 8] &= (uint8_t) ~(0x80u >> (i % 8));
    return 0;
}

void ig_cidr_format(const ig_cidr_t *c, char *buf, size_t cap)
{
    char a[INET6_ADDRSTRLEN];
    bool v4 = memcmp(c->addr, v4mapped, 12) == 0 && c->bits >= 96;
    ig_addr_format(c->addr, a, sizeof a);
    snprintf(buf, cap, "%s/%u", a, v4 ? c->bits - 96u : c->bits);
}

bool ig_cidr_contains(const ig_cidr_t *c, const uint8_t addr[16])
{
    int full = c->bits / 8, rest = c->bits % 8;
    if (memcmp(c->addr, addr, (size_t)full) != 0) return false;
    if (rest == 0) return true;
    uint8_t mask = (uint8_t)(0xffu << (8 - rest));
    return (addr[full] & mask) == c->addr[full];
}

int ig_cidr_list_parse(const char *s, ig_cidr_t *out, int max)
{
    int n = 0;
    const char *p = s;
    while (*p) {
        while (*p == ' ') p++;
        size_t l = strcspn(p, ",");
        size_t t = l;
        while (t > 0 && p[t - 1] == ' ') t--;
        if (t > 0) {
            if (n == max || ig_cidr_parse(p, t, &out[n])) return -1;
            n++;
        }
        p += l;
        if (*p == ',') p++;
    }
    return n;
}
