/*
** core/strset_test.c: bounded string set: membership, growth past many rehashes, the cap that
** empties the set, keys that differ only after a shared prefix, reuse after release.
*/
#include "core/strset.h"
#include "core/test.h"

#include <stdio.h>

static void add_reports_new_keys_once(void)
{
    struct strset s;
    strset_init(&s, 100);
    CHECK_EQ_INT(strset_add(&s, "a"), 1);
    CHECK_EQ_INT(strset_add(&s, "b"), 1);
    CHECK_EQ_INT(strset_add(&s, "a"), 0);
    CHECK_EQ_INT(strset_add(&s, ""), 1);
    CHECK_EQ_INT(strset_add(&s, ""), 0);
    CHECK_EQ_INT(strset_add(&s, "t\x1f" "e\x1f" "a"), 1);
    CHECK_EQ_INT(strset_add(&s, "t\x1f" "e\x1f" "b"), 1);
    CHECK_EQ_INT(strset_add(&s, "t\x1f" "e\x1f" "a"), 0);
    CHECK_EQ_INT(s.n, 5);
    strset_release(&s);
}

static void grows_and_keeps_every_key(void)
{
    struct strset s;
    char k[32];
    strset_init(&s, 1000000);
    int fresh = 0, again = 0;
    for (int i = 0; i < 20000; i++) {
        snprintf(k, sizeof(k), "urn:e:%d", i);
        fresh += strset_add(&s, k);
    }
    for (int i = 0; i < 20000; i++) {
        snprintf(k, sizeof(k), "urn:e:%d", i);
        again += strset_add(&s, k);
    }
    CHECK_EQ_INT(fresh, 20000);
    CHECK_EQ_INT(again, 0);
    CHECK_EQ_INT(s.n, 20000);
    CHECK(s.cap >= 2 * s.n && (s.cap & (s.cap - 1)) == 0);
    strset_release(&s);
}

static void cap_empties_the_set(void)
{
    struct strset s;
    char k[32];
    strset_init(&s, 3);
    CHECK_EQ_INT(strset_add(&s, "x"), 1);
    CHECK_EQ_INT(strset_add(&s, "y"), 1);
    CHECK_EQ_INT(strset_add(&s, "z"), 1);
    CHECK_EQ_INT(strset_add(&s, "x"), 0); /* full, but x is known: nothing forgotten */
    CHECK_EQ_INT(s.n, 3);
    CHECK_EQ_INT(strset_add(&s, "w"), 1); /* full: forget x, y, z, then hold w */
    CHECK_EQ_INT(s.n, 1);
    CHECK_EQ_INT(strset_add(&s, "w"), 0);
    CHECK_EQ_INT(strset_add(&s, "x"), 1);
    for (int i = 0; i < 1000; i++) { /* never more than max keys */
        snprintf(k, sizeof(k), "k%d", i);
        strset_add(&s, k);
        CHECK(s.n >= 1 && s.n <= 3);
    }
    strset_release(&s);
}

static void zero_max_and_reuse(void)
{
    struct strset s;
    strset_init(&s, 0); /* taken as 1 */
    CHECK_EQ_INT(strset_add(&s, "a"), 1);
    CHECK_EQ_INT(strset_add(&s, "a"), 0);
    CHECK_EQ_INT(strset_add(&s, "b"), 1);
    CHECK_EQ_INT(strset_add(&s, "a"), 1);
    strset_release(&s);
    CHECK(s.k == NULL && s.n == 0 && s.cap == 0);
    strset_release(&s); /* released twice: nothing to free */
    strset_init(&s, 10);
    CHECK_EQ_INT(strset_add(&s, "a"), 1);
    strset_release(&s);
}

int main(void)
{
    TEST_BEGIN("strset");
    TEST_RUN(add_reports_new_keys_once);
    TEST_RUN(grows_and_keeps_every_key);
    TEST_RUN(cap_empties_the_set);
    TEST_RUN(zero_max_and_reuse);
    return TEST_END();
}
