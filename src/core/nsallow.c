/* nsallow — see nsallow.h. */
#include "core/nsallow.h"

#include <string.h>

/* How a (len bytes, levels joined by 0x1F) relates to ns: is ns equal to or below a, or is a below ns. */
static bool starts_with_ns(const char *s, size_t slen, const char *prefix, size_t plen)
{
    return slen >= plen && memcmp(s, prefix, plen) == 0 && (slen == plen || s[plen] == '\x1f');
}

/* Calls the test for each namespace of allow; true when one answers true. */
static bool any(const char *allow, const char *ns, bool below_too)
{
    size_t nl = strlen(ns);
    for (const char *p = allow; *p;) {
        const char *e = strchr(p, IG_NS_SEP);
        size_t al = e ? (size_t)(e - p) : strlen(p);
        if (starts_with_ns(ns, nl, p, al)) return true;         /* ns is a or below a */
        if (below_too && starts_with_ns(p, al, ns, nl)) return true; /* a is below ns */
        if (!e) break;
        p = e + 1;
    }
    return false;
}

bool ig_ns_within(const char *allow, const char *ns)
{
    return !allow[0] || any(allow, ns, false);
}

bool ig_ns_sees(const char *allow, const char *ns)
{
    return !allow[0] || any(allow, ns, true);
}

void ig_ns_allow_text(const char *allow, char *buf, size_t cap)
{
    if (!cap) return;
    size_t n = 0;
    const char *p = allow;
    for (; *p; p++) {
        bool sep = *p == IG_NS_SEP;
        if (n + (sep ? 2 : 1) >= cap) break;
        if (sep) {
            buf[n++] = ',';
            buf[n++] = ' ';
        } else {
            buf[n++] = *p == '\x1f' ? '.' : *p;
        }
    }
    if (((unsigned char)*p & 0xc0) == 0x80) { /* cut inside a UTF-8 character: drop its first bytes too */
        while (n > 0 && ((unsigned char)buf[n - 1] & 0xc0) == 0x80) n--;
        if (n > 0) n--;
    }
    buf[n] = '\0';
}
