/* tier1/fast_num.c — inline arithmetic and comparisons on exact ints and floats.
 *
 * The interpreter's specialized forms (BINARY_OP_ADD_INT, COMPARE_OP_FLOAT_JUMP, ...) do
 * these without a call; so does compiled code. The operands must be exact floats or exact
 * ints with at most one 30-bit digit ("compact"): two ints, two floats, or (out of line) a
 * float with a compact int, which the interpreter leaves to the generic path. Anything else
 * — big ints past int's own slots, subclasses, a zero divisor — jumps to `miss`, where the generic helper
 * (runtime/ops_arith.c) does the whole instruction, so semantics live in one place.
 * See emit.h for the conventions. */
#include "emit.h"

#define OFF_FVAL ((int32_t)offsetof(PyFloatObject, ob_fval))

static int float_sd_op(int nb, OdSdOp *op)
{
    if (nb >= NB_INPLACE_ADD)
        nb -= NB_INPLACE_ADD - NB_ADD; /* int and float: in-place forms are the plain ones */
    switch (nb) {
    case NB_ADD: *op = OD_SD_ADD; return 1;
    case NB_SUBTRACT: *op = OD_SD_SUB; return 1;
    case NB_MULTIPLY: *op = OD_SD_MUL; return 1;
    case NB_TRUE_DIVIDE: *op = OD_SD_DIV; return 1;
    default: return 0;
    }
}

/* The plain operator (NB_ADD, NB_SUBTRACT or NB_MULTIPLY) ints do inline, or -1. */
static int int_op(int nb)
{
    if (nb >= NB_INPLACE_ADD)
        nb -= NB_INPLACE_ADD - NB_ADD;
    return nb == NB_ADD || nb == NB_SUBTRACT || nb == NB_MULTIPLY ? nb : -1;
}

/* Whether an operand of the binary instruction `in` is a constant that is neither an int
 * nor a float (`s == "abc"`, `name + "."`, `x is None` aside): the numeric inline paths
 * could never run, and a first unit without the interpreter's specialization (3.11 leaves
 * COMPARE_OP unspecialized unless a jump follows it) would still put about 140 bytes of
 * them on the main line. The right operand is the constant pushed just before; the left
 * one, the constant pushed just before a local's. A hint only: the helper does any pair. */
static int non_numeric_constant(PyObject *k)
{
    return !PyLong_CheckExact(k) && !PyFloat_CheckExact(k);
}

static int has_non_numeric_constant_operand(Compiler *c, const OdInstr *in)
{
    PyObject *consts = c->co->co_consts;
    if (in - 1 < c->bc.instrs || in->is_target)   /* a jump target: operands of other paths */
        return 0;
    const OdInstr *right = in - 1;
    if (right->opcode == LOAD_CONST)
        return non_numeric_constant(PyTuple_GET_ITEM(consts, right->oparg));
    if (right->opcode == LOAD_FAST && !right->is_target && in - 2 >= c->bc.instrs
        && (in - 2)->opcode == LOAD_CONST && (in - 2)->next == right->start)
        return non_numeric_constant(PyTuple_GET_ITEM(consts, (in - 2)->oparg));
    return 0;
}

/* The pairs the numeric inline paths take: two ints, two floats, or one of each. */
static int numeric_pair(PyTypeObject *l, PyTypeObject *r)
{
    return (l == &PyLong_Type || l == &PyFloat_Type) && (r == &PyLong_Type || r == &PyFloat_Type);
}

int binary_op_has_fast_path(Compiler *c, const OdInstr *in)
{
    OdSdOp op;
    if (!float_sd_op(in->oparg, &op) && int_op(in->oparg) < 0)
        return 0;
    return !binary_op_other_kind(c, in) && !has_non_numeric_constant_operand(c, in);
}

int binary_op_other_kind(Compiler *c, const OdInstr *in)
{
    /* Recompiled: telco's Decimals had about 130 bytes of int and float paths on its
     * loop's main line, tested and left at every iteration. */
    if (c->feedback)
        return recorded_generic_only(c, in, numeric_pair);
    if (quickened_state(c, in) != QUICK_SPECIALIZED)
        return 0;
    int q = quickened_opcode(c, in);
    return q == BINARY_OP_ADD_UNICODE || q == BINARY_OP_INPLACE_ADD_UNICODE;
}

/* rax = lhs, rcx = rhs (from stack slots d-2, d-1), rdx = lhs's type; on to
 * `mismatch` if rhs's type differs. */
static void load_same_type_operands(Compiler *c, int d, OdLabel mismatch)
{
    OdAsm *a = &c->a;
    load_operand(c, OD_RAX, d - 2);
    load_operand(c, OD_RCX, d - 1);
    od_mov_rm(a, OD_RDX, OD_RAX, OFF_TYPE);
    od_cmp_rm(a, OD_RDX, OD_RCX, OFF_TYPE);
    od_jcc(a, OD_CC_NE, mismatch);
}


/* Jump to `to` on condition `cc` of comparing the type in `reg` with `type` (r8: scratch). */
static void branch_on_type_in(Compiler *c, OdReg reg, PyTypeObject *type, OdCond cc, OdLabel to)
{
    od_cmp_r_imm64(&c->a, reg, (int64_t)(intptr_t)type, OD_R8);
    od_jcc(&c->a, cc, to);
}

/* The same for rdx (the operands' type). */
static void branch_on_type(Compiler *c, PyTypeObject *type, OdCond cc, OdLabel to)
{
    branch_on_type_in(c, OD_RDX, type, cc, to);
}

/* Whether the rhs (stack slot `depth`) is a constant exact int of one digit that only this
 * instruction reads (a deferred LOAD_CONST); *value = its value. Then its type and size
 * need no check and the value is an immediate. */
static int compact_int_constant(Compiler *c, int depth, int32_t *value)
{
    const Pending *p = borrowed(c, depth);
    if (!p || p->local >= 0 || !PyLong_CheckExact(p->constant))
        return 0;
    Py_ssize_t size = Py_SIZE(p->constant);
    if (size < -1 || size > 1)
        return 0;
    *value = (int32_t)(size * (Py_ssize_t)((PyLongObject *)p->constant)->ob_digit[0]);
    return 1;
}

/* rax = lhs, rcx = the int constant rhs, rdx = lhs's type; on to `not_int` unless lhs is an
 * exact int (the operands' types then differ). */
static void load_operands_int_constant(Compiler *c, int d, OdLabel not_int)
{
    load_operand(c, OD_RAX, d - 2);
    load_operand(c, OD_RCX, d - 1);         /* cold paths read it; the fast one does not */
    od_mov_rm(&c->a, OD_RDX, OD_RAX, OFF_TYPE);
    branch_on_type(c, &PyLong_Type, OD_CC_NE, not_int);
}




/* Which operand type a site should expect: 1 floats, 0 ints, -1 no hint. Floats when the
 * interpreter specialized it for floats, the site has seen floats, or a float constant is
 * one of the operands; ints likewise. */
static int expect_float(Compiler *c, const OdInstr *in, const OdOpCache *site)
{
    switch (quickened_opcode(c, in)) {
    case BINARY_OP_ADD_FLOAT: case BINARY_OP_SUBTRACT_FLOAT: case BINARY_OP_MULTIPLY_FLOAT:
    case COMPARE_OP_FLOAT_JUMP:
        return 1;
    case BINARY_OP_ADD_INT: case BINARY_OP_SUBTRACT_INT: case BINARY_OP_MULTIPLY_INT:
    case COMPARE_OP_INT_JUMP:
        return 0;
    }
    if (site->left == &PyFloat_Type)
        return 1;
    if (site->left == &PyLong_Type)
        return 0;
    for (int back = 1; back <= 2 && in - back >= c->bc.instrs; back++) {
        const OdInstr *prev = in - back;
        if (prev->opcode == LOAD_CONST) {
            PyObject *k = PyTuple_GET_ITEM(c->co->co_consts, prev->oparg);
            if (PyFloat_CheckExact(k))
                return 1;
            if (PyLong_CheckExact(k))
                return 0;
        }
    }
    return -1;
}

/* Whether a COMPARE_OP gets no numeric inline path, only its helper (whose own fast paths
 * also compare ints, floats and strs, and which records the operands): when what the site
 * met was never two ints or two floats. In a first unit, the interpreter's form says so:
 * COMPARE_OP_STR_JUMP (two strs). (Not the adaptive form with a count, a failed
 * specialization: that is also an int with a float, or an int of two digits, which the
 * inline paths do.) In a recompiled unit: no inline hit, and the operands last seen not
 * two numbers. Otherwise both numeric paths took ~430 bytes (268 of them on the main line)
 * to test two types on the way to the helper. */
int compare_generic_only(Compiler *c, const OdInstr *in)
{
    if (has_non_numeric_constant_operand(c, in))
        return 1;
    if (c->feedback)
        return recorded_generic_only(c, in, numeric_pair);
    return quickened_state(c, in) == QUICK_SPECIALIZED
           && quickened_opcode(c, in) == COMPARE_OP_STR_JUMP;
}

/* Whether a site gets the out-of-line code for an int and a float together (~250 bytes):
 * in a first unit unless the interpreter specialized the instruction (it met one kind),
 * in a recompiled one only if its operands were last seen mixed (the helper records them;
 * otherwise a mixed pair takes the helper). */
static int want_mixed(Compiler *c, const OdInstr *in, const OdOpCache *site)
{
    if (!c->feedback)      /* a first unit: unless the interpreter specialized it */
        return !single_kind_site(c, in);
    PyTypeObject *l = site->left, *r = site->right;
    return l != r && (l == &PyLong_Type || l == &PyFloat_Type)
           && (r == &PyLong_Type || r == &PyFloat_Type);
}

/* Where a fast path puts the variant it does not expect: out of line when it has a hint
 * (`cold`, a cold stub), right after the expected one otherwise (a fresh label the caller
 * binds there: with no hint both stay inline, floats tested first, as before the split). */
static OdLabel other_variant(Compiler *c, int hint, ColdFn cold, Stub s)
{
    return hint >= 0 ? cold_stub(c, cold, s) : od_label_new(&c->a);
}

/* Out of line: the result of compact int arithmetic (r8) is not a cached small int. */
static void int_result_cold(Compiler *c, const Stub *s)
{
    OdAsm *a = &c->a;
    int d = s->instr->depth;
    /* An operand that only the stack holds may become the result; a borrowed one: NULL. */
    if (borrowed(c, d - 2))
        od_mov_ri(a, OD_RDI, 0);
    else
        od_mov_rr(a, OD_RDI, OD_RAX);
    if (borrowed(c, d - 1))
        od_mov_ri(a, OD_RSI, 0);
    else
        od_mov_rr(a, OD_RSI, OD_RCX);
    od_mov_rr(a, OD_RDX, OD_R8);
    od_call_abs(a, (const void *)od_rt_long_result);
    od_test_rr(a, OD_RAX, OD_RAX);
    od_jcc(a, OD_CC_E, error_stub(c, s->instr->index, s->instr->depth));
    od_mov_rr(a, OD_RDI, OD_RAX);
    od_jmp(a, s->join);
}

/* Out of line: exact ints of more than one digit. int's own number slot does the
 * operation, with no dispatch (the interpreter's BINARY_OP_ADD_INT and friends call the
 * same code); `join` with rdi = the result. */
static void big_int_cold(Compiler *c, const Stub *s)
{
    OdAsm *a = &c->a;
    int iop = int_op(s->instr->oparg);
    record_fast_hit(c, s->site, OD_RDX, OD_RDX);
    od_mov_rr(a, OD_RDI, OD_RAX);
    od_mov_rr(a, OD_RSI, OD_RCX);
    if (iop == NB_ADD)
        od_call_abs(a, (const void *)od_rt_int_add);
    else if (iop == NB_SUBTRACT)
        od_call_abs(a, (const void *)od_rt_int_subtract);
    else
        od_call_abs(a, (const void *)od_rt_int_multiply);
    od_test_rr(a, OD_RAX, OD_RAX);
    od_jcc(a, OD_CC_E, error_stub(c, s->instr->index, s->instr->depth));
    od_mov_rr(a, OD_RDI, OD_RAX);
    od_jmp(a, s->join);
}

/* rdi = (lhs op rhs) as a new int, then jump to `have_result`: both operands are exact
 * ints (checked); compact ones are done inline, bigger ones by int's slot. */
static void emit_int_arith(Compiler *c, const OdInstr *in, OdOpCache *site, int iop,
                           const int32_t *rhs_constant, OdLabel have_result)
{
    OdAsm *a = &c->a;
    OdLabel big = cold_stub(c, big_int_cold, (Stub){.instr = in, .site = site, .join = have_result});
    compact_value(c, OD_R8, OD_RAX, big);
    /* Both below 2**30 in magnitude: no 64-bit overflow, even for the product. */
    if (rhs_constant && iop == NB_ADD) {
        od_add_ri(a, OD_R8, *rhs_constant);
    } else if (rhs_constant && iop == NB_SUBTRACT) {
        od_sub_ri(a, OD_R8, *rhs_constant);
    } else {
        if (rhs_constant)
            od_mov_ri(a, OD_R10, *rhs_constant);
        else
            compact_value(c, OD_R10, OD_RCX, big);
        if (iop == NB_ADD)
            od_add_rr(a, OD_R8, OD_R10);
        else if (iop == NB_SUBTRACT)
            od_sub_rr(a, OD_R8, OD_R10);
        else
            od_imul_rr(a, OD_R8, OD_R10);
    }
    record_fast_hit(c, site, OD_RDX, OD_RDX);
    small_int_or_jump(c, OD_R8, have_result,
                      cold_stub(c, int_result_cold, (Stub){.instr = in, .join = have_result}));
}

/* xmm0 holds a float result: reuse an operand that is an exact float only the value stack
 * holds (floats are immutable to Python code, so no one can tell) and go to `done`; or a
 * new float in rdi, then `have_result`. A borrowed operand is never reused: its one
 * reference may be a local's or a constant's. `lhs_float`/`rhs_float`: which operands are
 * floats (an int operand of mixed arithmetic is never reused). */
static void place_float_result(Compiler *c, const OdInstr *in, int lhs_float, int rhs_float,
                               OdLabel done, OdLabel have_result)
{
    OdAsm *a = &c->a;
    int d = in->depth;
    OdLabel try_rhs = od_label_new(a), alloc = od_label_new(a);
    if (lhs_float && !borrowed(c, d - 2)) {
        od_cmp_mi(a, OD_RAX, 0, 1);
        od_jcc(a, OD_CC_NE, try_rhs);
        od_movsd_mx(a, OD_RAX, OFF_FVAL, 0);           /* lhs stays in its slot as the result */
        release_operand_reg(c, OD_RCX, d - 1, in->index);
        od_jmp(a, done);
    }
    od_label_bind(a, try_rhs);
    if (rhs_float && !borrowed(c, d - 1)) {
        od_cmp_mi(a, OD_RCX, 0, 1);
        od_jcc(a, OD_CC_NE, alloc);
        od_movsd_mx(a, OD_RCX, OFF_FVAL, 0);
        od_mov_mr(a, R_FRAME, slot_disp(c, d - 2), OD_RCX);
        release_operand_reg(c, OD_RAX, d - 2, in->index);
        od_jmp(a, done);
    }
    od_label_bind(a, alloc);
    od_call_abs(a, (const void *)PyFloat_FromDouble);   /* the value is in xmm0 */
    od_test_rr(a, OD_RAX, OD_RAX);
    od_jcc(a, OD_CC_E, error_stub(c, in->index, d));
    od_mov_rr(a, OD_RDI, OD_RAX);
    od_jmp(a, have_result);
}

/* Both operands exact floats (checked): the result, as place_float_result leaves it. */
static void emit_float_arith(Compiler *c, const OdInstr *in, OdOpCache *site, OdSdOp sd,
                             OdLabel miss, OdLabel done, OdLabel have_result)
{
    OdAsm *a = &c->a;
    if (sd == OD_SD_DIV) {                             /* +-0.0 divisor: the helper raises */
        od_mov_rm(a, OD_R8, OD_RCX, OFF_FVAL);
        od_shl_ri(a, OD_R8, 1);
        od_jcc(a, OD_CC_E, miss);
    }
    record_fast_hit(c, site, OD_RDX, OD_RDX);
    od_movsd_xm(a, 0, OD_RAX, OFF_FVAL);
    od_sd_xm(a, sd, 0, OD_RCX, OFF_FVAL);
    place_float_result(c, in, 1, 1, done, have_result);
}

/* Mixed operands, the way float's own slots see them: an exact float with an exact int of
 * one digit. float's slots convert the int with PyLong_AsDouble, which is exact below
 * 2**53, so xmm0 = lhs and xmm1 = rhs as doubles give the same results, NaNs and signed
 * zeros included (int's slots return NotImplemented first: no effects). rax = lhs,
 * rcx = rhs, rdx = lhs's type; anything else, or a zero divisor when `divides`, goes to
 * s->miss. `then` finishes each of the two orders (its flag: the float is the lhs). */
typedef void (*MixedThen)(Compiler *c, const Stub *s, int float_is_lhs);

static void emit_mixed_operands(Compiler *c, const Stub *s, int divides, MixedThen then)
{
    OdAsm *a = &c->a;
    OdLabel int_lhs = od_label_new(a);
    branch_on_type(c, &PyFloat_Type, OD_CC_NE, int_lhs);
    od_mov_rm(a, OD_R11, OD_RCX, OFF_TYPE);            /* float op int */
    branch_on_type_in(c, OD_R11, &PyLong_Type, OD_CC_NE, s->miss);
    compact_value(c, OD_R10, OD_RCX, s->miss);
    if (divides) {
        od_test_rr(a, OD_R10, OD_R10);
        od_jcc(a, OD_CC_E, s->miss);
    }
    od_movsd_xm(a, 0, OD_RAX, OFF_FVAL);
    od_cvtsi2sd_xr(a, 1, OD_R10);
    then(c, s, 1);
    od_label_bind(a, int_lhs);                          /* int op float */
    branch_on_type(c, &PyLong_Type, OD_CC_NE, s->miss);
    od_mov_rm(a, OD_R11, OD_RCX, OFF_TYPE);
    branch_on_type_in(c, OD_R11, &PyFloat_Type, OD_CC_NE, s->miss);
    if (divides) {
        od_mov_rm(a, OD_R8, OD_RCX, OFF_FVAL);
        od_shl_ri(a, OD_R8, 1);
        od_jcc(a, OD_CC_E, s->miss);
    }
    compact_value(c, OD_R10, OD_RAX, s->miss);
    od_cvtsi2sd_xr(a, 0, OD_R10);
    od_movsd_xm(a, 1, OD_RCX, OFF_FVAL);
    then(c, s, 0);
}

static void mixed_arith_then(Compiler *c, const Stub *s, int float_is_lhs)
{
    OdSdOp sd = OD_SD_ADD;
    float_sd_op(s->instr->oparg, &sd);
    record_fast_hit(c, s->site, OD_RDX, OD_R11);
    od_sd_xx(&c->a, sd, 0, 1);
    place_float_result(c, s->instr, float_is_lhs, !float_is_lhs, s->done, s->join);
}

/* Out of line: the operands' types differ (float's arithmetic). */
static void binary_op_mixed_cold(Compiler *c, const Stub *s)
{
    OdSdOp sd = OD_SD_ADD;
    float_sd_op(s->instr->oparg, &sd);
    emit_mixed_operands(c, s, sd == OD_SD_DIV, mixed_arith_then);
}

/* Out of line: the operands' common type (rdx) is not the expected one. */
static void binary_op_int_cold(Compiler *c, const Stub *s)
{
    branch_on_type(c, &PyLong_Type, OD_CC_NE, s->miss);
    emit_int_arith(c, s->instr, s->site, int_op(s->instr->oparg), NULL, s->join);
}

static void binary_op_float_cold(Compiler *c, const Stub *s)
{
    OdSdOp sd = OD_SD_ADD;
    float_sd_op(s->instr->oparg, &sd);
    branch_on_type(c, &PyFloat_Type, OD_CC_NE, s->miss);
    emit_float_arith(c, s->instr, s->site, sd, s->miss, s->done, s->join);
}

void emit_binary_op_fast(Compiler *c, const OdInstr *in, OdOpCache *site, OdLabel miss, OdLabel done)
{
    OdAsm *a = &c->a;
    OdSdOp sd = OD_SD_ADD;
    int has_float = float_sd_op(in->oparg, &sd), iop = int_op(in->oparg);
    int hint = expect_float(c, in, site);
    OdLabel have_result = od_label_new(a);
    Stub cold = {.instr = in, .site = site, .miss = miss, .done = done, .join = have_result};
    OdLabel mismatch = has_float && want_mixed(c, in, site) ? cold_stub(c, binary_op_mixed_cold, cold)
                                                        : miss;
    int32_t k;
    if (iop >= 0 && (!has_float || hint == 0) && compact_int_constant(c, in->depth - 1, &k)) {
        load_operands_int_constant(c, in->depth, mismatch);   /* int op constant */
        emit_int_arith(c, in, site, iop, &k, have_result);
        od_label_bind(a, have_result);
        release_operands_into(c, in, OD_RDI, done);
        return;
    }
    load_same_type_operands(c, in->depth, mismatch);
    if (has_float && (iop < 0 || hint != 0)) { /* floats expected or only, or no hint */
        OdLabel other = iop < 0 ? miss : other_variant(c, hint, binary_op_int_cold, cold);
        branch_on_type(c, &PyFloat_Type, OD_CC_NE, other);
        emit_float_arith(c, in, site, sd, miss, done, have_result);
        if (iop >= 0 && hint < 0) {
            od_label_bind(a, other);
            binary_op_int_cold(c, &cold);
        }
    } else {
        OdLabel other = has_float ? cold_stub(c, binary_op_float_cold, cold) : miss;
        branch_on_type(c, &PyLong_Type, OD_CC_NE, other);
        emit_int_arith(c, in, site, iop, NULL, have_result);
    }
    od_label_bind(a, have_result);                    /* rdi = the result (new reference) */
    release_operands_into(c, in, OD_RDI, done);
}

/* Release both operands and go to `to` (one copy per outcome: the flags cannot live
 * across the deallocation calls). */
static void release_operands_then(Compiler *c, const OdInstr *in, OdLabel to)
{
    release_operand_slot(c, in->depth - 2, in->index);
    release_operand_slot(c, in->depth - 1, in->index);
    od_jmp(&c->a, to);
}

/* Compare two compact ints (checked: rax, rcx of type int) and go to `yes` or `no`. */
static void emit_int_compare(Compiler *c, int op, OdOpCache *site, const int32_t *rhs_constant,
                             OdLabel miss, OdLabel yes, OdLabel no)
{
    static const OdCond int_cc[] = {[Py_LT] = OD_CC_L, [Py_LE] = OD_CC_LE, [Py_EQ] = OD_CC_E,
                                    [Py_NE] = OD_CC_NE, [Py_GT] = OD_CC_G, [Py_GE] = OD_CC_GE};
    OdAsm *a = &c->a;
    compact_value(c, OD_R8, OD_RAX, miss);
    if (!rhs_constant)
        compact_value(c, OD_R10, OD_RCX, miss);
    record_fast_hit(c, site, OD_RDX, OD_RDX);
    if (rhs_constant)
        od_cmp_ri(a, OD_R8, *rhs_constant);
    else
        od_cmp_rr(a, OD_R8, OD_R10);
    od_jcc(a, int_cc[op], yes);
    od_jmp(a, no);
}

/* The same for two floats. ucomisd: unordered (a NaN) sets ZF, PF and CF, so every
 * comparison but != must be false then. "Above" conditions are false when unordered;
 * < and <= are written as > and >= with the operands swapped, == and != test PF
 * explicitly. */
static void compare_doubles(Compiler *c, int op, int in_xmm, OdLabel yes, OdLabel no)
{
    OdAsm *a = &c->a;
    int swap = op == Py_LT || op == Py_LE;
    if (in_xmm) {                                      /* xmm0 = lhs, xmm1 = rhs */
        od_ucomisd_xx(a, swap ? 1 : 0, swap ? 0 : 1);
    } else {                                           /* the floats rax, rcx */
        od_movsd_xm(a, 0, swap ? OD_RCX : OD_RAX, OFF_FVAL);
        od_ucomisd_xm(a, 0, swap ? OD_RAX : OD_RCX, OFF_FVAL);
    }
    switch (op) {
    case Py_LT: case Py_GT:
        od_jcc(a, OD_CC_A, yes);
        break;
    case Py_LE: case Py_GE:
        od_jcc(a, OD_CC_AE, yes);
        break;
    case Py_EQ:
        od_jcc(a, OD_CC_P, no);
        od_jcc(a, OD_CC_E, yes);
        break;
    default: /* Py_NE */
        od_jcc(a, OD_CC_P, yes);
        od_jcc(a, OD_CC_NE, yes);
        break;
    }
    od_jmp(a, no);
}

static void emit_float_compare(Compiler *c, int op, OdOpCache *site, OdLabel yes, OdLabel no)
{
    record_fast_hit(c, site, OD_RDX, OD_RDX);
    compare_doubles(c, op, 0, yes, no);
}

static void mixed_compare_then(Compiler *c, const Stub *s, int float_is_lhs)
{
    (void)float_is_lhs;
    record_fast_hit(c, s->site, OD_RDX, OD_R11);
    compare_doubles(c, s->instr->oparg, 1, s->join, s->join2);
}

/* Out of line: the operands' types differ (float's comparison). */
static void compare_mixed_cold(Compiler *c, const Stub *s)
{
    emit_mixed_operands(c, s, 0, mixed_compare_then);
}

/* Out of line: the other type than the one expected inline (join = yes, join2 = no). */
static void compare_int_cold(Compiler *c, const Stub *s)
{
    branch_on_type(c, &PyLong_Type, OD_CC_NE, s->miss);
    emit_int_compare(c, s->instr->oparg, s->site, NULL, s->miss, s->join, s->join2);
}

static void compare_float_cold(Compiler *c, const Stub *s)
{
    branch_on_type(c, &PyFloat_Type, OD_CC_NE, s->miss);
    emit_float_compare(c, s->instr->oparg, s->site, s->join, s->join2);
}

/* Two operands of one type (rax, rcx; rdx = the type): the expected one inline, the other
 * out of line, or both inline with no hint; on to s->join if true, s->join2 if false. */
static void emit_same_type_compare(Compiler *c, const Stub *s, int hint)
{
    int op = s->instr->oparg;
    if (hint != 0) {                       /* floats expected, or no hint: floats first */
        OdLabel other = other_variant(c, hint, compare_int_cold, *s);
        branch_on_type(c, &PyFloat_Type, OD_CC_NE, other);
        emit_float_compare(c, op, s->site, s->join, s->join2);
        if (hint < 0) {
            od_label_bind(&c->a, other);
            compare_int_cold(c, s);
        }
    } else {
        branch_on_type(c, &PyLong_Type, OD_CC_NE, cold_stub(c, compare_float_cold, *s));
        emit_int_compare(c, op, s->site, NULL, s->miss, s->join, s->join2);
    }
}

void emit_compare_branch_fast(Compiler *c, const OdInstr *in, OdOpCache *site, OdLabel miss,
                              OdLabel if_true, OdLabel if_false)
{
    OdAsm *a = &c->a;
    int op = in->oparg;
    OdLabel yes = od_label_new(a), no = od_label_new(a);
    if (op < Py_LT || op > Py_GE) {
        od_jmp(a, miss);
        return;
    }
    Stub cold = {.instr = in, .site = site, .miss = miss, .join = yes, .join2 = no};
    int hint = expect_float(c, in, site);
    OdLabel mismatch = want_mixed(c, in, site) ? cold_stub(c, compare_mixed_cold, cold) : miss;
    int32_t k;
    if (hint == 0 && compact_int_constant(c, in->depth - 1, &k)) {
        load_operands_int_constant(c, in->depth, mismatch);   /* int op constant */
        emit_int_compare(c, op, site, &k, miss, yes, no);
    } else {
        load_same_type_operands(c, in->depth, mismatch);
        emit_same_type_compare(c, &cold, hint);
    }
    od_label_bind(a, yes);
    release_operands_then(c, in, if_true);
    od_label_bind(a, no);
    release_operands_then(c, in, if_false);
}

void emit_compare_fast(Compiler *c, const OdInstr *in, OdOpCache *site, OdLabel miss, OdLabel done)
{
    OdAsm *a = &c->a;
    OdLabel yes = od_label_new(a), no = od_label_new(a);
    emit_compare_branch_fast(c, in, site, miss, yes, no);
    for (int truth = 1; truth >= 0; truth--) {
        od_label_bind(a, truth ? yes : no);
        od_mov_ri(a, OD_RAX, (int64_t)(intptr_t)(truth ? Py_True : Py_False));
        incref_reg(c, OD_RAX);
        od_mov_mr(a, R_FRAME, slot_disp(c, in->depth - 2), OD_RAX);
        od_jmp(a, done);
    }
}
