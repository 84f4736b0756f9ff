/* tier2/passes/passes.c — the pass table (passes.h). */
#include "passes.h"

#include <string.h>

const OdHirPass od_hir_passes[] = {
#define OD_HIR_PASS_ENTRY(name, desc) {#name, desc, od_hir_pass_##name},
    OD_HIR_PASSES(OD_HIR_PASS_ENTRY)
#undef OD_HIR_PASS_ENTRY
};

const int od_hir_npasses = (int)(sizeof(od_hir_passes) / sizeof(od_hir_passes[0]));

const OdHirPass *od_hir_find_pass(const char *name)
{
    for (int k = 0; k < od_hir_npasses; k++)
        if (strcmp(od_hir_passes[k].name, name) == 0)
            return &od_hir_passes[k];
    return NULL;
}
