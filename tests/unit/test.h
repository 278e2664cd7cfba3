/* test: planebridge's unit/contract test framework (one binary, tests self-register).
 *
 *   PB_TEST(name) { PB_CHECK(x == 1); PB_CHECK_EQ_INT(a, b); PB_CHECK_STR(a, b); }
 *
 * Each test runs in a forked child so a crash fails one test, not the run. The runner
 * prints one line per test and ends with "N passed, N failed". Arguments: substrings to
 * select tests by name. Store contract tests (PB_STORE_TEST) run against the URL in
 * PB_TEST_STORE (default: a fresh SQLite file in a temporary directory). */
#ifndef PB_TEST_H
#define PB_TEST_H

#include <stdio.h>
#include <string.h>

typedef void (*pb_test_fn)(void);
void pb_test_register(const char *name, pb_test_fn fn, int is_store);
extern int pb_test_failures;
void pb_test_fail(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* A fresh, migrated, empty store URL for this test (SQLite temp file, or a fresh schema
 * namespace on PostgreSQL: the runner recreates the database between store tests). */
const char *pb_test_store_url(void);
/* A per-test temporary directory (created; removed after the test). */
const char *pb_test_tmpdir(void);

#define PB_TEST_(name, store)                                                        \
    static void pbt_##name(void);                                                    \
    __attribute__((constructor)) static void pbt_reg_##name(void)                   \
    {                                                                                \
        pb_test_register(#name, pbt_##name, store);                                  \
    }                                                                                \
    static void pbt_##name(void)

#define PB_TEST(name) PB_TEST_(name, 0)
#define PB_STORE_TEST(name) PB_TEST_(name, 1)

#define PB_CHECK(cond)                                                               \
    do {                                                                             \
        if (!(cond)) pb_test_fail(__FILE__, __LINE__, "check failed: %s", #cond);    \
    } while (0)
#define PB_REQUIRE(cond)                                                             \
    do {                                                                             \
        if (!(cond)) {                                                               \
            pb_test_fail(__FILE__, __LINE__, "required: %s", #cond);                 \
            return;                                                                  \
        }                                                                            \
    } while (0)
#define PB_CHECK_EQ_INT(a, b)                                                        \
    do {                                                                             \
        long long a_ = (long long)(a), b_ = (long long)(b);                          \
        if (a_ != b_) pb_test_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b, a_, b_); \
    } while (0)
#define PB_CHECK_STR(a, b)                                                           \
    do {                                                                             \
        const char *a_ = (a), *b_ = (b);                                             \
        if (!a_ || !b_ || strcmp(a_, b_) != 0)                                       \
            pb_test_fail(__FILE__, __LINE__, "%s == %s: \"%s\" != \"%s\"", #a, #b,   \
                         a_ ? a_ : "(null)", b_ ? b_ : "(null)");                    \
    } while (0)

#endif
