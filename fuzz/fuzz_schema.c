/*
** fuzz/fuzz_schema.c: libFuzzer target for the JSON Schema subset (ingest/schema.c).
** The input is a schema JSON and an instance JSON separated by the first NUL byte (no NUL: the
** schema is also the instance). The schema is compiled (external $ref resolve in
** $VIGIE_FUZZ_SHARED, default ../shared/datamodels/_shared/schemas, when that exists); the
** instance is validated with the tree walker, and every scalar member of an object instance
** with the one-point fast path.
** Invariants checked (abort on violation): return codes are 0/VG_EINVAL/VG_ENOENT as
** documented, a failure has a reason and every reason is NUL-terminated inside its buffer;
** compiling never fails without a message; the fast path never rejects a value that the tree
** walker accepts in the entity {member: value} (the fast path checks a subset: the schemas of
** the member, without the entity-level keywords). Depth limits and $ref cycles keep the stack
** bounded; ASan/LSan catch overflows and leaks.
** Owns: the parsed JSON and the compiled set of one input.
*/
#include "core/vg.h"
#include "ingest/schema.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_INPUT (64u << 10)

static const char *shared_dir(void)
{
    static int init;
    static const char *dir;
    struct stat sb;
    if (!init) {
        const char *e = getenv("VIGIE_FUZZ_SHARED");
        dir = e ? e : "../shared/datamodels/_shared/schemas";
        if (stat(dir, &sb) != 0)
            dir = NULL;
        init = 1;
    }
    return dir;
}

static void check_why(const char *why, size_t cap, int rc)
{
    if (!memchr(why, '\0', cap))
        abort();
    if (rc == VG_EINVAL && why[0] == '\0')
        abort();
}

static int scalar(const json_t *j, enum vg_vtype *vt, union vg_val *v)
{
    switch (json_typeof(j)) {
    case JSON_INTEGER:
        *vt = VT_I64;
        v->i = (int64_t)json_integer_value(j);
        return 1;
    case JSON_REAL:
        *vt = VT_F64;
        v->f = json_real_value(j);
        return 1;
    case JSON_TRUE:
    case JSON_FALSE:
        *vt = VT_BOOL;
        v->i = json_is_true(j);
        return 1;
    case JSON_STRING:
        *vt = VT_STR;
        v->s.p = json_string_value(j);
        v->s.len = (uint32_t)json_string_length(j);
        return 1;
    case JSON_NULL:
        *vt = VT_NONE;
        return 1;
    default:
        return 0;
    }
}

static void fast_vs_tree(const struct schema_set *set, const json_t *inst)
{
    const char *k;
    size_t kl;
    json_t *m;
    char why[160], why2[160];
    json_object_keylen_foreach((json_t *)inst, k, kl, m)
    {
        enum vg_vtype vt;
        union vg_val v;
        json_t *one;
        int fast, tree;
        if (strlen(k) != kl || !scalar(m, &vt, &v))
            continue;
        memset(why, 'x', sizeof(why));
        fast = schema_validate_value(set, "T", k, vt, &v, why, sizeof(why));
        if (fast != 0 && fast != VG_EINVAL)
            abort();
        check_why(why, sizeof(why), fast);
        if (fast == 0)
            continue;
        one = json_object();
        json_object_setn(one, k, kl, m);
        tree = schema_validate_entity(set, "T", one, why2, sizeof(why2));
        json_decref(one);
        if (tree == 0) {
            fprintf(stderr, "fast path rejects '%s' (%s) but the tree accepts it\n", k, why);
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data, *sep;
    size_t n1, n2;
    json_t *schema, *inst;
    json_error_t e;
    struct schema_set *set = NULL;
    char err[200], why[200];
    int rc;
    if (size > MAX_INPUT)
        return 0;
    sep = memchr(p, '\0', size);
    n1 = sep ? (size_t)(sep - p) : size;
    n2 = sep ? size - n1 - 1 : size;
    schema = json_loadb(p, n1, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
    if (!schema)
        return 0;
    inst = sep ? json_loadb(sep + 1, n2, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e)
               : json_incref(schema);
    memset(err, 'x', sizeof(err));
    rc = schema_compile_json(schema, "T", shared_dir(), &set, err, sizeof(err));
    if (rc != 0 && rc != VG_EINVAL)
        abort();
    if (!memchr(err, '\0', sizeof(err)) || (rc && err[0] == '\0'))
        abort();
    if (rc == 0) {
        if (schema_set_count(set) != 1 || !schema_has_type(set, "T"))
            abort();
        if (inst) {
            memset(why, 'x', sizeof(why));
            rc = schema_validate_entity(set, "T", inst, why, sizeof(why));
            if (rc != 0 && rc != VG_EINVAL)
                abort();
            check_why(why, sizeof(why), rc);
            if (schema_validate_entity(set, "U", inst, why, sizeof(why)) != VG_ENOENT)
                abort();
            if (json_is_object(inst))
                fast_vs_tree(set, inst);
        }
        schema_set_free(set);
    }
    json_decref(inst);
    json_decref(schema);
    return 0;
}
