/* tier1/fast_iter.c — FOR_ITER over range, list and tuple iterators, inline (a recompiled
 * unit: only the kind its site met).
 *
 * The three iterator structs are private to Objects/ (rangeobject.c, listobject.c,
 * tupleobject.c); their 3.11 layouts are restated below and checked against the types'
 * tp_basicsize before any of this is used (od_fast_iter_usable). Exhaustion and every
 * other iterator take the helper (runtime/ops_data.c), which also releases the iterator.
 * See emit.h. */
#include "emit.h"

typedef struct {
    PyObject_HEAD
    long index, start, step, len;
} RangeIter;

typedef struct {
    PyObject_HEAD
    Py_ssize_t index;
    PyObject *seq;          /* list or tuple; NULL once exhausted */
} SeqIter;

int od_fast_iter_usable(void)
{
    return PyRangeIter_Type.tp_basicsize == (Py_ssize_t)sizeof(RangeIter)
           && PyListIter_Type.tp_basicsize == (Py_ssize_t)sizeof(SeqIter)
           && PyTupleIter_Type.tp_basicsize == (Py_ssize_t)sizeof(SeqIter);
}

/* rdi = seq->items[rsi] (borrowed) for a list (rdx = the list) or a tuple. */
static void load_item(Compiler *c, int is_list)
{
    OdAsm *a = &c->a;
    od_mov_rr(a, OD_R8, OD_RSI);
    od_shl_ri(a, OD_R8, 3);
    if (is_list) {
        od_mov_rm(a, OD_RDI, OD_RDX, (int32_t)offsetof(PyListObject, ob_item));
        od_add_rr(a, OD_RDI, OD_R8);
        od_mov_rm(a, OD_RDI, OD_RDI, 0);
    } else {
        od_add_rr(a, OD_R8, OD_RDX);
        od_mov_rm(a, OD_RDI, OD_R8, (int32_t)offsetof(PyTupleObject, ob_item));
    }
}

/* The iterators a site compiles inline, as a mask of these. A first unit inlines all
 * three (3.11's interpreter does not specialize FOR_ITER, so nothing says which); a
 * recompiled one only the kind its site last met, and none when that was another iterator
 * (a generator, a dict's, enumerate: the helper's road, without three type tests and about
 * 250 bytes of main line in front of it) or when the site never ran. */
enum { ITER_RANGE = 1, ITER_LIST = 2, ITER_TUPLE = 4, ITER_ALL = 7 };

static int inline_iterators(const Compiler *c, const OdOpCache *site)
{
    if (!c->feedback)
        return ITER_ALL;
    if (site->left == &PyRangeIter_Type)
        return ITER_RANGE;
    if (site->left == &PyListIter_Type)
        return ITER_LIST;
    if (site->left == &PyTupleIter_Type)
        return ITER_TUPLE;
    return 0;
}

void emit_for_iter_fast(Compiler *c, const OdInstr *in, OdOpCache *site, OdLabel miss,
                        OdLabel done)
{
    OdAsm *a = &c->a;
    int d = in->depth;
    int kinds = od_fast_iter_usable() ? inline_iterators(c, site) : 0;
    if (!kinds) {
        od_jmp(a, miss);
        return;
    }
    OdLabel push = od_label_new(a);
    od_mov_rm(a, OD_RAX, R_FRAME, slot_disp(c, d - 1));
    od_mov_rm(a, OD_RCX, OD_RAX, OFF_TYPE);
    if (kinds & ITER_RANGE) {
        OdLabel not_range = od_label_new(a), big = od_label_new(a);
        od_cmp_r_imm64(a, OD_RCX, (int64_t)(intptr_t)&PyRangeIter_Type, OD_RDX);
        od_jcc(a, OD_CC_NE, kinds == ITER_RANGE ? miss : not_range);
        /* range: value = start + index * step, while index < len */
        od_mov_rm(a, OD_RDX, OD_RAX, (int32_t)offsetof(RangeIter, index));
        od_cmp_rm(a, OD_RDX, OD_RAX, (int32_t)offsetof(RangeIter, len));
        od_jcc(a, OD_CC_GE, miss);
        od_lea(a, OD_RSI, OD_RDX, 1);
        od_mov_mr(a, OD_RAX, (int32_t)offsetof(RangeIter, index), OD_RSI);
        od_mov_rm(a, OD_R8, OD_RAX, (int32_t)offsetof(RangeIter, step));
        od_imul_rr(a, OD_R8, OD_RDX);
        od_mov_rm(a, OD_R9, OD_RAX, (int32_t)offsetof(RangeIter, start));
        od_add_rr(a, OD_R8, OD_R9);
        small_int_or_jump(c, OD_R8, push, big);
        od_label_bind(a, big);
        od_mov_rr(a, OD_RDI, OD_R8);
        od_call_abs(a, (const void *)PyLong_FromLong);
        od_test_rr(a, OD_RAX, OD_RAX);
        od_jcc(a, OD_CC_E, error_stub(c, in->index, d));
        od_mov_rr(a, OD_RDI, OD_RAX);
        od_jmp(a, push);
        od_label_bind(a, not_range);
    }
    /* list and tuple iterators: seq[index++] while index < len(seq) */
    for (int is_list = 1; is_list >= 0; is_list--) {
        int kind = is_list ? ITER_LIST : ITER_TUPLE;
        if (!(kinds & kind))
            continue;
        int last = !is_list || !(kinds & ITER_TUPLE);   /* no tuple test after it */
        OdLabel other = last ? miss : od_label_new(a);
        od_cmp_r_imm64(a, OD_RCX,
                       (int64_t)(intptr_t)(is_list ? &PyListIter_Type : &PyTupleIter_Type), OD_RDX);
        od_jcc(a, OD_CC_NE, other);
        od_mov_rm(a, OD_RDX, OD_RAX, (int32_t)offsetof(SeqIter, seq));
        od_test_rr(a, OD_RDX, OD_RDX);
        od_jcc(a, OD_CC_E, miss);
        od_mov_rm(a, OD_RSI, OD_RAX, (int32_t)offsetof(SeqIter, index));
        od_cmp_rm(a, OD_RSI, OD_RDX, OFF_SIZE);
        od_jcc(a, OD_CC_GE, miss);
        load_item(c, is_list);
        od_lea(a, OD_R8, OD_RSI, 1);
        od_mov_mr(a, OD_RAX, (int32_t)offsetof(SeqIter, index), OD_R8);
        incref_reg(c, OD_RDI);
        od_jmp(a, push);
        if (!last)
            od_label_bind(a, other);
    }
    od_label_bind(a, push);                        /* rdi = the next value (new reference) */
    od_mov_mr(a, R_FRAME, slot_disp(c, d), OD_RDI);
    if (!c->feedback) {
        od_mov_rm(a, OD_RAX, R_FRAME, slot_disp(c, d - 1));
        od_mov_rm(a, OD_RCX, OD_RAX, OFF_TYPE);
        record_fast_hit(c, site, OD_RCX, OD_RCX);
    }
    od_jmp(a, done);
}
