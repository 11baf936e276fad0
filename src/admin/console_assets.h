/* console_assets — the web console's static files, compiled into the binary by scripts/embed.sh. */
#ifndef IG_CONSOLE_ASSETS_H
#define IG_CONSOLE_ASSETS_H
#include <stddef.h>

typedef struct {
    const char *path;         /* "/index.html" */
    const char *content_type;
    const unsigned char *data;
    size_t len;
} ig_asset_t;

/* Terminated by an entry whose path is NULL. */
extern const ig_asset_t ig_console_assets[];

#endif
