/*
** store/value.c: names of the value types of a series.
** Owns: one const table of names.
*/
#include "store/value.h"

#include <stddef.h>

const char *vg_vtype_name(enum vg_vtype t)
{
    static const char *const names[] = {
        [VT_NONE] = "none", [VT_F64] = "float", [VT_I64] = "int",
        [VT_BOOL] = "bool", [VT_STR] = "string", [VT_GEO] = "geo",
    };
    if ((unsigned)t >= sizeof(names) / sizeof(names[0]) || names[t] == NULL)
        return "unknown";
    return names[t];
}
