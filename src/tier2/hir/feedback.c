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
/* The site tier 1's unit keeps for `in` (an OdOpCache, OdAttrSite... as the opcode says),
 * or NULL when there is no tier-1 unit or the instruction has no site. */
static const void *tier1_site(const OdFeedback *fb, const OdInstr *in)
{
    return fb->tier1 && in->index < fb->tier1->ncodeunits ? od_unit_site(fb->tier1, in->index)
                                                           : NULL;
}

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
    if (in->opcode != BINARY_OP && in->opcode != COMPARE_OP && in->opcode != BINARY_SUBSCR
        && in->opcode != STORE_SUBSCR)
        return;
    int quick = _Py_OPCODE(_PyCode_CODE(fb->code)[in->index]);
    if (quick == BINARY_SUBSCR_LIST_INT || quick == STORE_SUBSCR_LIST_INT) {
        *left = &PyList_Type;
        *right = &PyLong_Type;
        return;
    }
    PyTypeObject *t = specialized_class(quick);
    if (t) {
        *left = *right = t;
        return;
    }
    const OdOpCache *site = tier1_site(fb, in);
    if (site) {
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

/* A specialized instruction's first cache entry counts its misses down from this value
 * (CPython 3.11's specialize.c miss_counter_start, private): only an instruction that has
 * not missed since it was specialized says the site is monomorphic. The interpreter keeps
 * only the last receiver type, so one that keeps meeting several would send tier 2 into a
 * deopt per site (richards' Task methods, run on four subclasses). */
#define OD_CPY_MISS_COUNTER_START 53

/* CPython 3.11's specialized BINARY_OP and COMPARE_OP keep their miss counter in their
 * first cache entry, set to miss_counter_start (OD_CPY_MISS_COUNTER_START) when the
 * instruction specializes and decremented at every miss (ceval.c `miss:`); at zero the
 * instruction goes back to its adaptive form with adaptive_counter_start(), whose low 4
 * bits (the backoff exponent) are 5. The adaptive form's counter starts at 0 when the code
 * is quickened; a failed specialization (`+ - *` of two classes, or of classes it has no
 * form for) raises the exponent by one. */
#define OD_CPY_BACKOFF_START 5

int od_feedback_number_mix(const OdFeedback *fb, int start)
{
    if (start < 0 || start >= fb->bc.ncodeunits || fb->bc.instr_at_unit[start] < 0)
        return 0;
    const OdInstr *in = &fb->bc.instrs[fb->bc.instr_at_unit[start]];
    if ((in->opcode != BINARY_OP && in->opcode != COMPARE_OP) || in->index + 1 >= Py_SIZE(fb->code))
        return 0;
    _Py_CODEUNIT *code = _PyCode_CODE(fb->code);
    unsigned counter = code[in->index + 1], backoff = counter & 15;
    switch (_Py_OPCODE(code[in->index])) {
    case BINARY_OP_ADD_INT: case BINARY_OP_SUBTRACT_INT: case BINARY_OP_MULTIPLY_INT:
    case BINARY_OP_ADD_FLOAT: case BINARY_OP_SUBTRACT_FLOAT: case BINARY_OP_MULTIPLY_FLOAT:
    case COMPARE_OP_INT_JUMP: case COMPARE_OP_FLOAT_JUMP:
        return (int)counter <= OD_CPY_MISS_COUNTER_START - OD_FEEDBACK_MIX_MISSES;
    case BINARY_OP_ADAPTIVE: {
        /* Tried and failed, or specialized and missed until it went back: it met an int
         * with a float or other classes. Mixed when tier 1's helper last met two ints or
         * two floats; or when the exponent is the one of a form that missed 53 times. A
         * site that always meets an int with a float (`x * i`) fails too, and tier 1's
         * record then names the pair: left to the int-and-float speculation. */
        const OdOpCache *site = tier1_site(fb, in);
        PyTypeObject *l = site ? site->left : NULL, *r = site ? site->right : NULL;
        int numbers = (l == &PyLong_Type || l == &PyFloat_Type) && (r == &PyLong_Type || r == &PyFloat_Type);
        return backoff != 0 && numbers && (l == r || backoff == OD_CPY_BACKOFF_START);
    }
    default:
        return 0;
    }
}

/* What the interpreter's specialized attribute instruction at code unit `index` says, as
 * tier 1's entry would: its inline cache holds the type version and the index, offset or
 * method. 1 when it is one of the kinds tier 2 uses, else 0. LOAD_METHOD_WITH_VALUES keys
 * the shared keys by their dk_version (keys_version), where tier 1 counts their entries. */
static int interpreter_attr(const OdFeedback *fb, int index, OdAttrCache *out)
{
    _Py_CODEUNIT *code = _PyCode_CODE(fb->code);
    if (index + 1 >= Py_SIZE(fb->code) || code[index + 1] != OD_CPY_MISS_COUNTER_START)
        return 0;
    _PyAttrCache *ac = (_PyAttrCache *)&code[index + 1];
    _PyLoadMethodCache *mc = (_PyLoadMethodCache *)&code[index + 1];
    memset(out, 0, sizeof *out);
    switch (_Py_OPCODE(code[index])) {
    case LOAD_ATTR_INSTANCE_VALUE: case STORE_ATTR_INSTANCE_VALUE:
        out->kind = OD_ATTR_INSTANCE_VALUE;
        break;
    case LOAD_ATTR_SLOT: case STORE_ATTR_SLOT:
        out->kind = OD_ATTR_SLOT;
        break;
    case LOAD_ATTR_WITH_HINT: case STORE_ATTR_WITH_HINT:
        /* 3.11 specializes them for managed dicts only (Py_TPFLAGS_MANAGED_DICT) */
        out->kind = OD_ATTR_DICT_HINT;
        out->dictoffset = 0;
        break;
    case LOAD_METHOD_NO_DICT:
        out->kind = OD_ATTR_METHOD_NO_DICT;
        out->type_version = read_u32(mc->type_version);
        out->value = read_obj(mc->descr);
        return out->type_version != 0;
    case LOAD_METHOD_WITH_VALUES:
        out->kind = OD_ATTR_METHOD_SHARED_KEYS;
        out->type_version = read_u32(mc->type_version);
        out->keys_nentries = -1;
        out->dict_version = read_u32(mc->keys_version);
        out->value = read_obj(mc->descr);
        return out->type_version != 0 && out->dict_version != 0;
    default:
        return 0;
    }
    out->type_version = read_u32(ac->version);
    out->index = ac->index;
    return out->type_version != 0;
}

/* The attribute instruction (LOAD_ATTR, STORE_ATTR, LOAD_METHOD) at code unit `start`, or
 * NULL. */
static const OdInstr *attr_instr(const OdFeedback *fb, int start)
{
    if (start < 0 || start >= fb->bc.ncodeunits || fb->bc.instr_at_unit[start] < 0)
        return NULL;
    const OdInstr *in = &fb->bc.instrs[fb->bc.instr_at_unit[start]];
    if (in->opcode != LOAD_ATTR && in->opcode != STORE_ATTR && in->opcode != LOAD_METHOD)
        return NULL;
    return in;
}

int od_feedback_attr(const OdFeedback *fb, int start, OdAttrCache *out)
{
    const OdInstr *in = attr_instr(fb, start);
    if (!in)
        return 0;
    const OdAttrSite *site = tier1_site(fb, in);
    if (site && (site->cache[0].type || site->more)) {
        /* `more` set (even copied from an older unit): a second receiver type came */
        if (!site->cache[0].type || site->more || site->cache[0].type_version == 0)
            return 0;
        *out = site->cache[0];
        if (out->kind == OD_ATTR_METHOD_SHARED_KEYS)
            out->dict_version = 0;      /* keyed by the entries' count */
        return 1;
    }
    /* tier 1's site has not run (tier 2 compiled at the entry tier 1 did): the
     * interpreter's specialization from the code's warm-up */
    return interpreter_attr(fb, in->index, out);
}

int od_feedback_attr_ways(const OdFeedback *fb, int start, OdAttrCache out[OD_ATTR_WAYS])
{
    const OdInstr *in = attr_instr(fb, start);
    if (!in)
        return 0;
    const OdAttrSite *site = tier1_site(fb, in);
    const OdAttrCache *more = site ? od_attr_more(site) : NULL;
    if (!more || site->next_victim != 0 || !site->cache[0].type)
        return 0;
    int n = 0;
    out[n++] = site->cache[0];
    for (int k = 0; k < OD_ATTR_WAYS - 1; k++)
        if (more[k].type)
            out[n++] = more[k];
    for (int k = 0; k < n; k++)
        if (out[k].type_version == 0)
            return 0;
    for (int k = 1; k < n; k++)          /* by hits, descending */
        for (int j = k; j > 0 && out[j].hits > out[j - 1].hits; j--) {
            OdAttrCache t = out[j];
            out[j] = out[j - 1];
            out[j - 1] = t;
        }
    return n >= 2 ? n : 0;
}

const char *const od_attr_why_names[OD_ATTR_WHY__COUNT] = {
#define OD_ATTR_WHY_NAME(name, text) text,
    OD_ATTR_WHY(OD_ATTR_WHY_NAME)
#undef OD_ATTR_WHY_NAME
};

OdAttrWhy od_attr_why_of_kind(int kind, int is_load_attr)
{
    switch (kind) {
    case OD_ATTR_MODULE_VALUE: return OD_ATTR_WHY_MODULE;
    case OD_ATTR_CLASS_VALUE: return OD_ATTR_WHY_CLASS;
    case OD_ATTR_DICT_HINT: case OD_ATTR_SPLIT_DICT: case OD_ATTR_DICT_STORE:
        return OD_ATTR_WHY_DICT;
    case OD_ATTR_METHOD_WITH_DICT:
        return is_load_attr ? OD_ATTR_WHY_METHOD_AS_ATTR : OD_ATTR_WHY_METHOD_WITH_DICT;
    case OD_ATTR_METHOD_NO_DICT: case OD_ATTR_METHOD_SHARED_KEYS:
        return is_load_attr ? OD_ATTR_WHY_METHOD_AS_ATTR : OD_ATTR_WHY_OTHER;
    case OD_ATTR_GETSET: case OD_ATTR_PROPERTY:
        return OD_ATTR_WHY_DESCRIPTOR;
    default:
        return OD_ATTR_WHY_OTHER;
    }
}

OdAttrWhy od_feedback_attr_why(const OdFeedback *fb, int start, int is_load_attr)
{
    if (start < 0 || start >= fb->bc.ncodeunits || fb->bc.instr_at_unit[start] < 0)
        return OD_ATTR_WHY_OTHER;
    const OdInstr *in = &fb->bc.instrs[fb->bc.instr_at_unit[start]];
    const OdAttrSite *site = tier1_site(fb, in);
    if (site && (site->cache[0].type || site->more)) {
        if (site->more)
            return OD_ATTR_WHY_POLYMORPHIC;
        return od_attr_why_of_kind(site->cache[0].kind, is_load_attr);
    }
    _Py_CODEUNIT *code = _PyCode_CODE(fb->code);
    int missed = in->index + 1 < Py_SIZE(fb->code)
                 && code[in->index + 1] != OD_CPY_MISS_COUNTER_START;
    switch (_Py_OPCODE(code[in->index])) {
    case LOAD_ATTR_MODULE: case LOAD_METHOD_MODULE:
        return OD_ATTR_WHY_MODULE;
    case LOAD_METHOD_CLASS:
        return OD_ATTR_WHY_CLASS;
    case LOAD_ATTR_WITH_HINT: case STORE_ATTR_WITH_HINT:
        return OD_ATTR_WHY_DICT;
    case LOAD_METHOD_WITH_DICT:
        return OD_ATTR_WHY_METHOD_WITH_DICT;
    case LOAD_ATTR_INSTANCE_VALUE: case LOAD_ATTR_SLOT: case STORE_ATTR_INSTANCE_VALUE:
    case STORE_ATTR_SLOT: case LOAD_METHOD_NO_DICT: case LOAD_METHOD_WITH_VALUES:
        return missed ? OD_ATTR_WHY_POLYMORPHIC : OD_ATTR_WHY_OTHER;
    default:
        return OD_ATTR_WHY_NO_FEEDBACK;
    }
}
