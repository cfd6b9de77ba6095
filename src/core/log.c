/*
** core/log.c: error log and access log.
** Owns: g_level, the two FILE streams and their lock (the log sink is an allowed global).
*/
#include "core/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

static enum log_level g_level = LOG_INFO;
static FILE *g_err;
static FILE *g_acc;
static int g_acc_on = 1;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

void log_set_level(enum log_level level)
{
    g_level = level;
}

int log_level_parse(const char *s)
{
    static const char *names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++)
        if (strcasecmp(s, names[i]) == 0)
            return i;
    return -1;
}

int log_open(const char *error_path, const char *access_path)
{
    if (error_path) {
        FILE *f = fopen(error_path, "a");
        if (!f)
            return -1;
        setvbuf(f, NULL, _IOLBF, 0);
        g_err = f;
    }
    if (access_path) {
        FILE *f = fopen(access_path, "a");
        if (!f)
            return -1;
        setvbuf(f, NULL, _IOLBF, 0);
        g_acc = f;
    }
    return 0;
}

void log_access_enable(int on)
{
    g_acc_on = on;
}

__attribute__((format(printf, 3, 0))) static void emit(FILE *f, const char *tag, const char *fmt, va_list ap)
{
    char line[2048];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %s", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     (int)(tv.tv_usec / 1000), tag);
    if (n < 0 || (size_t)n >= sizeof(line))
        n = 0;
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof(line) - 2)
        len = sizeof(line) - 2;
    line[len++] = '\n';
    pthread_mutex_lock(&g_lock);
    fwrite(line, 1, len, f);
    fflush(f);
    pthread_mutex_unlock(&g_lock);
}

#define LOG_FN(name, lvl, tag)                                                                     \
    void name(const char *fmt, ...)                                                                \
    {                                                                                              \
        if (g_level < (lvl))                                                                       \
            return;                                                                                \
        va_list ap;                                                                                \
        va_start(ap, fmt);                                                                         \
        emit(g_err ? g_err : stderr, tag, fmt, ap);                                                \
        va_end(ap);                                                                                \
    }

LOG_FN(log_error, LOG_ERROR, "error: ")
LOG_FN(log_warn, LOG_WARN, "warn: ")
LOG_FN(log_info, LOG_INFO, "info: ")
LOG_FN(log_debug, LOG_DEBUG, "debug: ")

void log_access(const char *fmt, ...)
{
    if (!g_acc_on)
        return;
    va_list ap;
    va_start(ap, fmt);
    emit(g_acc ? g_acc : stdout, "", fmt, ap);
    va_end(ap);
}
