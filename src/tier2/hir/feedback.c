/* tier2/hir/feedback.c — reading the interpreter's and tier 1's records (feedback.h). */
#include "feedback.h"

#include <string.h>

int od_feedback_init(OdFeedback *fb, PyCodeObject *co, const OdUnit *tier1, PyObject *globals,
                     PyObject *builtins)
{
    memset(fb, 0, sizeof *fb);
    fb->code = co;
    fb->tier1 = tier1 && tier1->tier == 1 ? tier1 : NULL;
    fb->globals = globals && PyDict_CheckExact(globals) ? globals : NULL;
    fb->builtins = builtins && PyDict_CheckExact(builtins) ? builtins : NULL;
    return od_bytecode_decode(co, &fb->bc);
}

void od_feedback_free(OdFeedback *fb) { od_bytecode_free(&fb->bc); }

/* The classes a specialized form of BINARY_OP / COMPARE_OP implies, or NULL. */
static PyTypeObject *specialized_class(int opcode)
{
    switch (opcode) {
    case BINARY_OP_ADD_INT: case BINARY_OP_SUBTRACT_INT: case BINARY_OP_MULTIPLY_INT:
    case COMPARE_OP_INT_JUMP:
        return &PyLong_Type;
    case BINARY_OP_ADD_FLOAT: case BINARY_OP_SUBTRACT_FLOAT: case BINARY_OP_MULTIPLY_FLOAT:
    case COMPARE_OP_FLOAT_JUMP:
        return &PyFloat_Type;
    case BINARY_OP_ADD_UNICODE: case BINARY_OP_INPLACE_ADD_UNICODE: case COMPARE_OP_STR_JUMP:
        return &PyUnicode_Type;
    default:
        return NULL;
    }
}

void od_feedback_operands(const OdFeedback *fb, int start, PyTypeObject **left, PyTypeObject **right)
{
    *left = *right = NULL;
    if (start < 0 || start >= fb->bc.ncodeunits || fb->bc.instr_at_unit[start] < 0)
        return;
    const OdInstr *in = &fb->bc.instrs[fb->bc.instr_at_unit[start]];
    if (in->opcode != BINARY_OP && in->opcode != COMPARE_OP)
        return;
    PyTypeObject *t = specialized_class(_Py_OPCODE(_PyCode_CODE(fb->code)[in->index]));
    if (t) {
        *left = *right = t;
        return;
    }
    const OdUnit *u = fb->tier1;
    if (u && u->cache_at_unit && in->index < u->ncodeunits && u->cache_at_unit[in->index] >= 0) {
        const OdOpCache *site = (const OdOpCache *)((const char *)u->caches + u->cache_at_unit[in->index]);
        *left = site->left;
        *right = site->right;
    }
}

PyObject *od_feedback_global(const OdFeedback *fb, PyObject *name, uint64_t *globals_version,
                             uint64_t *builtins_version)
{
    *globals_version = *builtins_version = 0;
    if (!fb->globals || !fb->builtins || !PyUnicode_CheckExact(name))
        return NULL;
    PyObject *v = PyDict_GetItemWithError(fb->globals, name);
    if (!v && !PyErr_Occurred()) {
        v = PyDict_GetItemWithError(fb->builtins, name);
        if (v)
            *builtins_version = ((PyDictObject *)fb->builtins)->ma_version_tag;
    }
    if (PyErr_Occurred()) {
        PyErr_Clear();
        return NULL;
    }
    if (v)
        *globals_version = ((PyDictObject *)fb->globals)->ma_version_tag;
    return v;
}

int od_feedback_attr(const OdFeedback *fb, int start, OdAttrCache *out)
{
    const OdUnit *u = fb->tier1;
    if (!u || !u->cache_at_unit || start < 0 || start >= fb->bc.ncodeunits
        || fb->bc.instr_at_unit[start] < 0)
        return 0;
    const OdInstr *in = &fb->bc.instrs[fb->bc.instr_at_unit[start]];
    if ((in->opcode != LOAD_ATTR && in->opcode != STORE_ATTR && in->opcode != LOAD_METHOD)
        || in->index >= u->ncodeunits || u->cache_at_unit[in->index] < 0)
        return 0;
    const OdAttrSite *site = (const OdAttrSite *)((const char *)u->caches + u->cache_at_unit[in->index]);
    /* `more` set (even copied from an older unit): a second receiver type came */
    if (!site->cache[0].type || site->more || site->cache[0].type_version == 0)
        return 0;
    *out = site->cache[0];
    return 1;
}
