/*
** core/test.h: the unit-test harness used by every src/<layer>/<mod>_test.c.
** Each test binary defines test functions and calls them with TEST_RUN(fn) from main(),
** then returns TEST_END(). Output is one line per test case:
**     ok <binary> <case>
**     FAIL <binary> <case>: file:line: expression
** tests/run.sh counts these lines across binaries and prints "N passed, N failed".
** Owns: the per-binary counters below (test binaries only; never linked into vigie).
*/
#ifndef VG_TEST_H
#define VG_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_failed_checks;
static int test_cases_passed;
static int test_cases_failed;
static const char *test_prog = "test";

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            if (test_failed_checks++ < 20)                                                         \
                printf("  check failed: %s:%d: %s\n", __FILE__, __LINE__, #cond);                \
        }                                                                                          \
    } while (0)

/* Like CHECK but returns from the current test function on failure. */
#define REQUIRE(cond)                                                                              \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            printf("  required failed: %s:%d: %s\n", __FILE__, __LINE__, #cond);                 \
            test_failed_checks++;                                                                  \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                         \
    do {                                                                                           \
        long long va_ = (long long)(a), vb_ = (long long)(b);                                      \
        if (va_ != vb_) {                                                                          \
            if (test_failed_checks++ < 20)                                                         \
                printf("  check failed: %s:%d: %s == %s (%lld != %lld)\n", __FILE__, __LINE__, #a, \
                       #b, va_, vb_);                                                              \
        }                                                                                          \
    } while (0)

#define TEST_RUN(fn)                                                                               \
    do {                                                                                           \
        int before_ = test_failed_checks;                                                          \
        fn();                                                                                      \
        if (test_failed_checks == before_) {                                                       \
            test_cases_passed++;                                                                   \
            printf("ok %s %s\n", test_prog, #fn);                                                  \
        } else {                                                                                   \
            test_cases_failed++;                                                                   \
            printf("FAIL %s %s\n", test_prog, #fn);                                                \
        }                                                                                          \
        fflush(stdout);                                                                            \
    } while (0)

#define TEST_BEGIN(name) (test_prog = (name), setvbuf(stdout, NULL, _IOLBF, 0))
#define TEST_END() (test_cases_failed ? 1 : 0)

/* A fresh empty directory under $TMPDIR for one test; the caller frees the string. */
static inline char *test_tmpdir(const char *tag)
{
    const char *base = getenv("TMPDIR");
    char tmpl[512];
    snprintf(tmpl, sizeof(tmpl), "%s/vigie-%s-XXXXXX", base ? base : "/tmp", tag);
    char *d = mkdtemp(tmpl);
    if (!d) {
        perror("mkdtemp");
        exit(2);
    }
    return strdup(d);
}

/* rm -rf of a test directory. */
static inline void test_rmrf(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
}

#endif
