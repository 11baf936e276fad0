/* fuzz_config — the YAML config loader (ig_config_load_file) on arbitrary file contents.  Oracle: it returns
 * 0 or -1, and on -1 the message is non-empty and NUL-terminated within the buffer. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[64];

static void cleanup(void)
{
    if (path[0]) unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!path[0]) {
        /* tmpfs when there is one: rewriting a truncated file on ext4 starts write-back on every close
         * (auto_da_alloc), which cuts the exec rate tenfold. */
        snprintf(path, sizeof path, "%s/icegate-fuzz-config-XXXXXX",
                 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
        int fd = mkstemp(path);
        if (fd < 0) abort();
        close(fd);
        atexit(cleanup);
    }
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    if (size && fwrite(data, 1, size, f) != size) abort();
    fclose(f);
    ig_config_t cfg;
    ig_config_defaults(&cfg);
    char errbuf[512];
    errbuf[0] = '\0';
    int rc = ig_config_load_file(&cfg, path, errbuf, sizeof errbuf);
    if (rc != 0 && rc != -1) abort();
    if (rc == -1 && (errbuf[0] == '\0' || memchr(errbuf, '\0', sizeof errbuf) == NULL)) abort();
    if (rc == 0) {
        /* Whatever the file said, the struct's strings stay terminated. */
        if (!memchr(cfg.data_dir, '\0', sizeof cfg.data_dir) ||
            !memchr(cfg.listen_host, '\0', sizeof cfg.listen_host))
            abort();
        errbuf[0] = '\0';
        (void)ig_config_finish(&cfg, errbuf, sizeof errbuf);
    }
    return 0;
}
