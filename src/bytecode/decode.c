/* bytecode/decode.c — decode a code object. See decode.h. */
#define OD_DEFINE_OPCODE_TABLES  /* the one private copy of _PyOpcode_Deopt/_PyOpcode_Caches */
#include "decode.h"
#include "../asm/scratch.h"

#include <stdlib.h>
#include <string.h>

static const char *const opcode_names[256] = {
#define OD_NAME(name) [name] = #name,
    OD_NAME(CACHE) OD_NAME(POP_TOP) OD_NAME(PUSH_NULL) OD_NAME(NOP) OD_NAME(UNARY_POSITIVE)
    OD_NAME(UNARY_NEGATIVE) OD_NAME(UNARY_NOT) OD_NAME(UNARY_INVERT) OD_NAME(BINARY_SUBSCR)
    OD_NAME(GET_LEN) OD_NAME(MATCH_MAPPING) OD_NAME(MATCH_SEQUENCE) OD_NAME(MATCH_KEYS)
    OD_NAME(PUSH_EXC_INFO) OD_NAME(CHECK_EXC_MATCH) OD_NAME(CHECK_EG_MATCH)
    OD_NAME(WITH_EXCEPT_START) OD_NAME(GET_AITER) OD_NAME(GET_ANEXT) OD_NAME(BEFORE_ASYNC_WITH)
    OD_NAME(BEFORE_WITH) OD_NAME(END_ASYNC_FOR) OD_NAME(STORE_SUBSCR) OD_NAME(DELETE_SUBSCR)
    OD_NAME(GET_ITER) OD_NAME(GET_YIELD_FROM_ITER) OD_NAME(PRINT_EXPR) OD_NAME(LOAD_BUILD_CLASS)
    OD_NAME(LOAD_ASSERTION_ERROR) OD_NAME(RETURN_GENERATOR) OD_NAME(LIST_TO_TUPLE)
    OD_NAME(RETURN_VALUE) OD_NAME(IMPORT_STAR) OD_NAME(SETUP_ANNOTATIONS) OD_NAME(YIELD_VALUE)
    OD_NAME(ASYNC_GEN_WRAP) OD_NAME(PREP_RERAISE_STAR) OD_NAME(POP_EXCEPT) OD_NAME(STORE_NAME)
    OD_NAME(DELETE_NAME) OD_NAME(UNPACK_SEQUENCE) OD_NAME(FOR_ITER) OD_NAME(UNPACK_EX)
    OD_NAME(STORE_ATTR) OD_NAME(DELETE_ATTR) OD_NAME(STORE_GLOBAL) OD_NAME(DELETE_GLOBAL)
    OD_NAME(SWAP) OD_NAME(LOAD_CONST) OD_NAME(LOAD_NAME) OD_NAME(BUILD_TUPLE) OD_NAME(BUILD_LIST)
    OD_NAME(BUILD_SET) OD_NAME(BUILD_MAP) OD_NAME(LOAD_ATTR) OD_NAME(COMPARE_OP)
    OD_NAME(IMPORT_NAME) OD_NAME(IMPORT_FROM) OD_NAME(JUMP_FORWARD) OD_NAME(JUMP_IF_FALSE_OR_POP)
    OD_NAME(JUMP_IF_TRUE_OR_POP) OD_NAME(POP_JUMP_FORWARD_IF_FALSE)
    OD_NAME(POP_JUMP_FORWARD_IF_TRUE) OD_NAME(LOAD_GLOBAL) OD_NAME(IS_OP) OD_NAME(CONTAINS_OP)
    OD_NAME(RERAISE) OD_NAME(COPY) OD_NAME(BINARY_OP) OD_NAME(SEND) OD_NAME(LOAD_FAST)
    OD_NAME(STORE_FAST) OD_NAME(DELETE_FAST) OD_NAME(POP_JUMP_FORWARD_IF_NOT_NONE)
    OD_NAME(POP_JUMP_FORWARD_IF_NONE) OD_NAME(RAISE_VARARGS) OD_NAME(GET_AWAITABLE)
    OD_NAME(MAKE_FUNCTION) OD_NAME(BUILD_SLICE) OD_NAME(JUMP_BACKWARD_NO_INTERRUPT)
    OD_NAME(MAKE_CELL) OD_NAME(LOAD_CLOSURE) OD_NAME(LOAD_DEREF) OD_NAME(STORE_DEREF)
    OD_NAME(DELETE_DEREF) OD_NAME(JUMP_BACKWARD) OD_NAME(CALL_FUNCTION_EX) OD_NAME(EXTENDED_ARG)
    OD_NAME(LIST_APPEND) OD_NAME(SET_ADD) OD_NAME(MAP_ADD) OD_NAME(LOAD_CLASSDEREF)
    OD_NAME(COPY_FREE_VARS) OD_NAME(RESUME) OD_NAME(MATCH_CLASS) OD_NAME(FORMAT_VALUE)
    OD_NAME(BUILD_CONST_KEY_MAP) OD_NAME(BUILD_STRING) OD_NAME(LOAD_METHOD) OD_NAME(LIST_EXTEND)
    OD_NAME(SET_UPDATE) OD_NAME(DICT_MERGE) OD_NAME(DICT_UPDATE) OD_NAME(PRECALL) OD_NAME(CALL)
    OD_NAME(KW_NAMES) OD_NAME(POP_JUMP_BACKWARD_IF_NOT_NONE) OD_NAME(POP_JUMP_BACKWARD_IF_NONE)
    OD_NAME(POP_JUMP_BACKWARD_IF_FALSE) OD_NAME(POP_JUMP_BACKWARD_IF_TRUE)
#undef OD_NAME
};

const char *od_opcode_name(int opcode)
{
    const char *n = (opcode >= 0 && opcode < 256) ? opcode_names[opcode] : NULL;
    return n ? n : "<unknown>";
}

int od_opcode_is_backward_jump(int op)
{
    switch (op) {
    case JUMP_BACKWARD: case JUMP_BACKWARD_NO_INTERRUPT:
    case POP_JUMP_BACKWARD_IF_FALSE: case POP_JUMP_BACKWARD_IF_TRUE:
    case POP_JUMP_BACKWARD_IF_NONE: case POP_JUMP_BACKWARD_IF_NOT_NONE:
        return 1;
    default:
        return 0;
    }
}

/* Code units from an instruction to the next, by its opcode as it is in the code (1 + the
 * inline cache entries of its base form), or 0 for the backward jumps od_code_has_loop
 * looks for. Filled once. */
static uint8_t loop_scan_step[256];

static void fill_loop_scan_step(void)
{
    for (int op = 0; op < 256; op++) {
        int base = _PyOpcode_Deopt[op] ? _PyOpcode_Deopt[op] : op;
        int loop = base == JUMP_BACKWARD || base == POP_JUMP_BACKWARD_IF_FALSE
                   || base == POP_JUMP_BACKWARD_IF_TRUE || base == POP_JUMP_BACKWARD_IF_NONE
                   || base == POP_JUMP_BACKWARD_IF_NOT_NONE;
        loop_scan_step[op] = loop ? 0 : (uint8_t)(1 + _PyOpcode_Caches[base]);
    }
}

int od_code_has_loop(PyCodeObject *co)
{
    if (!loop_scan_step[NOP])       /* (every step is >= 1 but the loops') */
        fill_loop_scan_step();
    const _Py_CODEUNIT *code = _PyCode_CODE(co);
    Py_ssize_t n = Py_SIZE(co); /* code units */
    for (Py_ssize_t i = 0; i < n;) {
        uint8_t step = loop_scan_step[_Py_OPCODE(code[i])];
        if (!step)
            return 1;
        i += step;
    }
    return 0;
}

int od_opcode_is_jump(int op)
{
    switch (op) {
    case JUMP_FORWARD: case JUMP_IF_FALSE_OR_POP: case JUMP_IF_TRUE_OR_POP:
    case POP_JUMP_FORWARD_IF_FALSE: case POP_JUMP_FORWARD_IF_TRUE:
    case POP_JUMP_FORWARD_IF_NONE: case POP_JUMP_FORWARD_IF_NOT_NONE:
    case FOR_ITER: case SEND:
        return 1;
    default:
        return od_opcode_is_backward_jump(op);
    }
}

int od_opcode_is_terminator(int op)
{
    switch (op) {
    case RETURN_VALUE: case RAISE_VARARGS: case RERAISE: case JUMP_FORWARD:
    case JUMP_BACKWARD: case JUMP_BACKWARD_NO_INTERRUPT:
        return 1;
    default:
        return 0;
    }
}

int od_jump_target(int op, int oparg, int index)
{
    /* 3.11 jumps are relative to the unit after the jump (jumps carry no caches). */
    return od_opcode_is_backward_jump(op) ? index + 1 - oparg : index + 1 + oparg;
}

static const unsigned char *read_varint(const unsigned char *p, int *out)
{
    int v = *p & 63;
    while (*p & 64) {
        p++;
        v = (v << 6) | (*p & 63);
    }
    *out = v;
    return p + 1;
}

/* Location-table varints are little-endian 6-bit groups (the exception table's are
 * big-endian); the signed form keeps the sign in bit 0. */
static const unsigned char *read_le_varint(const unsigned char *p, const unsigned char *end,
                                           unsigned int *out)
{
    unsigned int v = 0, shift = 0;
    while (p < end) {
        unsigned int b = *p++;
        v |= (b & 63) << shift;
        shift += 6;
        if (!(b & 64))
            break;
    }
    *out = v;
    return p;
}

void od_bytecode_lines(PyCodeObject *co, int *out)
{
    const unsigned char *p = (const unsigned char *)PyBytes_AS_STRING(co->co_linetable);
    const unsigned char *end = p + PyBytes_GET_SIZE(co->co_linetable);
    Py_ssize_t n = Py_SIZE(co), unit = 0;
    int line = co->co_firstlineno;
    unsigned int v;
    while (p < end && unit < n) {
        int first = *p++;
        int kind = (first >> 3) & 15, length = (first & 7) + 1, here = line;
        switch (kind) {
        case PY_CODE_LOCATION_INFO_NONE:
            here = -1;
            break;
        case PY_CODE_LOCATION_INFO_LONG:
            p = read_le_varint(p, end, &v);
            line += (v & 1) ? -(int)(v >> 1) : (int)(v >> 1);
            here = line;
            p = read_le_varint(p, end, &v); /* end line delta */
            p = read_le_varint(p, end, &v); /* column */
            p = read_le_varint(p, end, &v); /* end column */
            break;
        case PY_CODE_LOCATION_INFO_NO_COLUMNS:
            p = read_le_varint(p, end, &v);
            line += (v & 1) ? -(int)(v >> 1) : (int)(v >> 1);
            here = line;
            break;
        case PY_CODE_LOCATION_INFO_ONE_LINE0:
        case PY_CODE_LOCATION_INFO_ONE_LINE1:
        case PY_CODE_LOCATION_INFO_ONE_LINE2:
            line += kind - PY_CODE_LOCATION_INFO_ONE_LINE0;
            here = line;
            p += 2; /* start and end column */
            break;
        default: /* short forms: same line, one byte of columns */
            p += 1;
            break;
        }
        for (int i = 0; i < length && unit < n; i++)
            out[unit++] = here;
    }
    while (unit < n)
        out[unit++] = -1;
}

int od_exctable_parse(PyObject *table, OdExcEntry **out)
{
    const unsigned char *p = (const unsigned char *)PyBytes_AS_STRING(table);
    const unsigned char *end = p + PyBytes_GET_SIZE(table);
    int n = 0, cap = 0;
    OdExcEntry *e = NULL;
    while (p < end) {
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            OdExcEntry *ne = realloc(e, (size_t)cap * sizeof *ne);
            if (!ne) {
                free(e);
                return -1;
            }
            e = ne;
        }
        int start, size, target, dl;
        p = read_varint(p, &start);
        p = read_varint(p, &size);
        p = read_varint(p, &target);
        p = read_varint(p, &dl);
        e[n].start = start;
        e[n].end = start + size;
        e[n].target = target;
        e[n].depth = dl >> 1;
        e[n].lasti = dl & 1;
        n++;
    }
    *out = e;
    return n;
}

const OdExcEntry *od_bytecode_handler(const OdExcEntry *exc, int nexc, int index)
{
    /* Entries do not overlap in 3.11's table: the compiler splits ranges so that each
     * unit maps to its innermost handler. */
    for (int i = 0; i < nexc; i++)
        if (exc[i].start <= index && index < exc[i].end)
            return &exc[i];
    return NULL;
}

void od_bytecode_free(OdBytecode *bc)
{
    od_scratch_free(bc->instrs);
    od_scratch_free(bc->instr_at_unit);
    free(bc->exc);
    memset(bc, 0, sizeof *bc);
}

/* Propagate a stack depth to the instruction starting at unit `unit`. */
static int flow_to(OdBytecode *bc, int unit, int depth, int *work, int *nwork)
{
    if (unit < 0 || unit >= bc->ncodeunits || bc->instr_at_unit[unit] < 0) {
        PyErr_Format(PyExc_SystemError, "overdrive: jump to unit %d is not an instruction", unit);
        return -1;
    }
    OdInstr *t = &bc->instrs[bc->instr_at_unit[unit]];
    if (t->depth < 0) {
        t->depth = depth;
        work[(*nwork)++] = bc->instr_at_unit[unit];
    }
    if (depth > bc->max_depth)
        bc->max_depth = depth;
    return 0;
}

int od_bytecode_decode(PyCodeObject *co, OdBytecode *bc)
{
    memset(bc, 0, sizeof *bc);
    bc->code = co;
    int n = (int)Py_SIZE(co); /* code units */
    bc->ncodeunits = n;
    const _Py_CODEUNIT *code = _PyCode_CODE(co);
    /* Not zeroed: the loop below sets every field of each instruction it makes (the array
     * is sized by code units, about 2.5 times the instructions, so zeroing it cost more
     * than the rest of the decoding). */
    bc->instrs = od_scratch_realloc(NULL, ((size_t)n + 1) * sizeof(OdInstr));
    bc->instr_at_unit = od_scratch_realloc(NULL, ((size_t)n + 1) * sizeof(int));
    int *work = od_scratch_realloc(NULL, ((size_t)n + 1) * sizeof(int));
    if (!bc->instrs || !bc->instr_at_unit || !work)
        goto nomem;
    for (int i = 0; i <= n; i++)
        bc->instr_at_unit[i] = -1;

    for (int pc = 0; pc < n;) {
        OdInstr *in = &bc->instrs[bc->ninstrs];
        in->start = pc;
        int op = _PyOpcode_Deopt[_Py_OPCODE(code[pc])];
        int arg = _Py_OPARG(code[pc]);
        while (op == EXTENDED_ARG && pc + 1 < n) {
            pc++;
            op = _PyOpcode_Deopt[_Py_OPCODE(code[pc])];
            arg = (arg << 8) | _Py_OPARG(code[pc]);
        }
        in->index = pc;
        in->opcode = op;
        in->oparg = arg;
        in->next = pc + 1 + _PyOpcode_Caches[op];
        in->target = od_opcode_is_jump(op) ? od_jump_target(op, arg, pc) : -1;
        in->depth = -1;
        in->is_target = 0;
        in->handler_of = -1;
        if (od_opcode_is_backward_jump(op))
            bc->has_backward_jump = 1;
        bc->instr_at_unit[in->start] = bc->ninstrs;
        bc->ninstrs++;
        pc = in->next;
    }

    int nexc = od_exctable_parse(co->co_exceptiontable, &bc->exc);
    if (nexc < 0)
        goto nomem;
    bc->nexc = nexc;

    /* Depth flow analysis: fall-through, jumps, and handlers of every reached instruction. */
    int nwork = 0;
    if (bc->ninstrs > 0 && flow_to(bc, 0, 0, work, &nwork) < 0)
        goto fail;
    while (nwork > 0) {
        OdInstr *in = &bc->instrs[work[--nwork]];
        int d = in->depth;
        if (in->target >= 0) {
            int eff = PyCompile_OpcodeStackEffectWithJump(in->opcode, in->oparg, 1);
            if (flow_to(bc, in->target, d + eff, work, &nwork) < 0)
                goto fail;
            bc->instrs[bc->instr_at_unit[in->target]].is_target = 1;
        }
        const OdExcEntry *h = od_bytecode_handler(bc->exc, bc->nexc, in->index);
        if (h) {
            if (flow_to(bc, h->target, h->depth + h->lasti + 1, work, &nwork) < 0)
                goto fail;
            OdInstr *t = &bc->instrs[bc->instr_at_unit[h->target]];
            t->is_target = 1;
            t->handler_of = (int)(h - bc->exc);
        }
        if (!od_opcode_is_terminator(in->opcode) && in->next < n) {
            int eff = PyCompile_OpcodeStackEffectWithJump(in->opcode, in->oparg, 0);
            /* The compiler books RETURN_GENERATOR as neutral, but a generator's frame
             * resumes after it with the first sent value pushed (popped by the POP_TOP
             * that follows). */
            if (in->opcode == RETURN_GENERATOR)
                eff = 1;
            if (flow_to(bc, in->next, d + eff, work, &nwork) < 0)
                goto fail;
        }
    }
    od_scratch_free(work);
    return 0;

nomem:
    PyErr_NoMemory();
fail:
    od_scratch_free(work);
    od_bytecode_free(bc);
    return -1;
}
