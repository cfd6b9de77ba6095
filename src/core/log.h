/*
** core/log.h: leveled error log and access log sinks.
** Owns: the log level and the two output streams (the only allowed globals besides const tables).
** Messages are lowercase, no final period, subject in quotes (see STYLE.md section 8).
** Thread-safe: each line is written with one fwrite under a lock.
*/
#ifndef VG_LOG_H
#define VG_LOG_H

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

/* Set the minimum level written to the error log (default LOG_INFO). */
void log_set_level(enum log_level level);
/* Parse "error|warn|info|debug"; returns -1 if unknown. */
int log_level_parse(const char *s);
/* Redirect the error log / access log; NULL path means stderr / stdout. Returns 0 or -1. */
int log_open(const char *error_path, const char *access_path);
/* Turn the access log off (tests, benchmarks). */
void log_access_enable(int on);

void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* One access-log line (Common Log Format-like, plus duration and tenant). */
void log_access(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
