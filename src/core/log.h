/* log — one line per event on stderr: timestamp, level, message.  Thread-safe (one write(2) per line).
 * Never pass a token secret to these functions. */
#ifndef IG_LOG_H
#define IG_LOG_H

typedef enum { IG_LOG_DEBUG, IG_LOG_INFO, IG_LOG_WARN, IG_LOG_ERROR } ig_log_level_t;

void ig_log_set_level(ig_log_level_t level);
/* Parses "debug"|"info"|"warn"|"error"; returns 0 or -1. */
int ig_log_parse_level(const char *s, ig_log_level_t *out);
void ig_log(ig_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define ig_debug(...) ig_log(IG_LOG_DEBUG, __VA_ARGS__)
#define ig_info(...) ig_log(IG_LOG_INFO, __VA_ARGS__)
#define ig_warn(...) ig_log(IG_LOG_WARN, __VA_ARGS__)
#define ig_error(...) ig_log(IG_LOG_ERROR, __VA_ARGS__)

#endif
