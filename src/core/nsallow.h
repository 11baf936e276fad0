/* nsallow — what a token limited to some namespaces may reach (DESIGN.md §8).  Names are compared level by
 * level: a token limited to "analytics" reaches "analytics" and "analytics\x1fdaily", never "analytics2".
 * Pure string work on the catalog's own form of a namespace (levels joined by 0x1F): no allocation, no
 * lock, so the catalog asks it on every request of a limited token. */
#ifndef IG_NSALLOW_H
#define IG_NSALLOW_H

#include <stdbool.h>
#include <stddef.h>

#include "core/principal.h"

/* ns is one of allow's namespaces or below one ("" allow: every namespace). */
bool ig_ns_within(const char *allow, const char *ns);
/* ns is within allow, or above one of its namespaces (the way down to it): a listing shows it. */
bool ig_ns_sees(const char *allow, const char *ns);
/* allow as readable text for a message: "analytics, raw.events" (levels joined by '.'), cut to fit cap. */
void ig_ns_allow_text(const char *allow, char *buf, size_t cap);

#endif
