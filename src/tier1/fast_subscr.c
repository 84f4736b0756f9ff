/* tier1/fast_subscr.c — inline indexing and unpacking of exact lists, tuples and strs.
 *
 * container[i] and list[i] = v with an exact int index of at most one digit that is in
 * range: what the interpreter's BINARY_SUBSCR_LIST_INT/TUPLE_INT and STORE_SUBSCR_LIST_INT
 * do, and negative indexes from the end besides. Out-of-range indexes, slices, dicts and
 * everything else jump to `miss` (the helpers in runtime/ops_data.c). `a, b = pair` of an
 * exact tuple or list of the right length likewise. A recompiled unit's site that recorded
 * a str reads an ASCII str's character in line instead. See emit.h. */
#include "emit.h"

#include <string.h>

#define OFF_LIST_ITEMS ((int32_t)offsetof(PyListObject, ob_item))
#define OFF_TUPLE_ITEMS ((int32_t)offsetof(PyTupleObject, ob_item))

/* rcx = the index object at depth-1, r8 = the position it names in the container in rax
 * when it is an exact compact int in range: from the start when it is at least 0 and below
 * the size (ob_size, or a str's length at the same offset), from the end when it is
 * negative and at least minus the size (`stack[-1]`: the size added, as list, tuple and str
 * do; 3.11's interpreter leaves negative indexes to the generic path); otherwise `miss`. */
static void in_range_index_value(Compiler *c, int d, OdLabel miss)
{
    OdAsm *a = &c->a;
    load_operand(c, OD_RCX, d - 1);
    od_mov_ri(a, OD_R8, (int64_t)(intptr_t)&PyLong_Type);
    od_cmp_rm(a, OD_R8, OD_RCX, OFF_TYPE);
    od_jcc(a, OD_CC_NE, miss);
    compact_value(c, OD_R8, OD_RCX, miss);
    OdLabel in_range = od_label_new(a);
    od_cmp_rm(a, OD_R8, OD_RAX, OFF_SIZE);
    od_jcc(a, OD_CC_B, in_range);               /* unsigned: 0 <= index < size, as before */
    od_test_rr(a, OD_R8, OD_R8);
    od_jcc(a, OD_CC_NS, miss);                  /* size or more */
    od_add_rm(a, OD_R8, OD_RAX, OFF_SIZE);
    od_jcc(a, OD_CC_S, miss);                   /* below minus the size */
    od_label_bind(a, in_range);
}

/* The same, r8 = the value times 8 (the offset of a pointer item). */
static void in_range_index(Compiler *c, int d, OdLabel miss)
{
    in_range_index_value(c, d, miss);
    od_shl_ri(&c->a, OD_R8, 3);
}

/* rdi = container[index] (borrowed) when the container in rax has type `type` (rdx holds
 * its type; an exact list or tuple) and the index at depth-1 is in range; else `miss`.
 * The type is checked before the size field is read. Leaves rcx = the index object. */
static void load_item(Compiler *c, int d, PyTypeObject *type, OdLabel miss)
{
    OdAsm *a = &c->a;
    od_cmp_r_imm64(a, OD_RDX, (int64_t)(intptr_t)type, OD_RSI);
    od_jcc(a, OD_CC_NE, miss);
    in_range_index(c, d, miss);
    if (type == &PyList_Type) {
        od_mov_rm(a, OD_RDI, OD_RAX, OFF_LIST_ITEMS);
        od_add_rr(a, OD_RDI, OD_R8);
        od_mov_rm(a, OD_RDI, OD_RDI, 0);
    } else {
        od_add_rr(a, OD_R8, OD_RAX);
        od_mov_rm(a, OD_RDI, OD_R8, OFF_TUPLE_ITEMS);
    }
}

/* Out of line: the container type not expected inline (join: rdi = the item). */
static void subscr_other_type(Compiler *c, const Stub *s)
{
    load_item(c, s->instr->depth, s->cold_type, s->miss);
    od_jmp(&c->a, s->join);
}

_Static_assert(offsetof(PyASCIIObject, length) == offsetof(PyVarObject, ob_size),
               "in_range_index_value reads a str's length where a list keeps its size");

/* The first byte of PyASCIIObject.state with `compact`, `ascii` and `ready` set, the rest
 * clear, and the same three bits as a mask: the layout of the bit-field is the compiler's,
 * so it is read from a state built here. A compact ASCII str keeps its characters, one
 * byte each, right after the PyASCIIObject. */
static uint8_t compact_ascii_bits(void)
{
    PyASCIIObject o;
    memset(&o, 0, sizeof o);
    o.state.compact = 1;
    o.state.ascii = 1;
    o.state.ready = 1;
    uint8_t first;
    memcpy(&first, &o.state, 1);
    return first;
}

/* rdi = container[index] (borrowed) when the container in rax (rdx: its type) is an exact
 * compact ASCII str and the index at depth-1 is in range: the static one-character str
 * unicode's subscript returns (od_str_char_at in helpers.h, its road out of line). */
static void load_ascii_char(Compiler *c, int d, OdLabel miss)
{
    OdAsm *a = &c->a;
    uint8_t bits = compact_ascii_bits();
    od_cmp_r_imm64(a, OD_RDX, (int64_t)(intptr_t)&PyUnicode_Type, OD_RSI);
    od_jcc(a, OD_CC_NE, miss);
    od_movzx8_rm(a, OD_R8, OD_RAX, (int32_t)offsetof(PyASCIIObject, state));
    od_mov_ri(a, OD_R9, bits);
    od_and_rr(a, OD_R8, OD_R9);
    od_cmp_rr(a, OD_R8, OD_R9);
    od_jcc(a, OD_CC_NE, miss);                  /* legacy, not ASCII, or not compact */
    in_range_index_value(c, d, miss);
    od_add_rr(a, OD_R8, OD_RAX);
    od_movzx8_rm(a, OD_RDI, OD_R8, (int32_t)sizeof(PyASCIIObject));
    od_mov_ri(a, OD_R9, (int64_t)sizeof(_Py_SINGLETON(strings).ascii[0]));
    od_imul_rr(a, OD_RDI, OD_R9);
    od_mov_ri(a, OD_R9, (int64_t)(intptr_t)&_Py_SINGLETON(strings).ascii[0]);
    od_add_rr(a, OD_RDI, OD_R9);
}

int binary_subscr_has_fast_path(Compiler *c, const OdInstr *in)
{
    if (quickened_state(c, in) != QUICK_SPECIALIZED)
        return 1;
    int op = quickened_opcode(c, in);
    return op == BINARY_SUBSCR_LIST_INT || op == BINARY_SUBSCR_TUPLE_INT;
}

void emit_binary_subscr_fast(Compiler *c, const OdInstr *in, OdOpCache *site, OdLabel miss,
                             OdLabel done)
{
    OdAsm *a = &c->a;
    int d = in->depth;
    OdLabel found = od_label_new(a);
    load_operand(c, OD_RAX, d - 2);
    od_mov_rm(a, OD_RDX, OD_RAX, OFF_TYPE);
    if (c->feedback && site->left == &PyUnicode_Type) {
        load_ascii_char(c, d, miss);
    } else {
        int tuple_first = quickened_opcode(c, in) == BINARY_SUBSCR_TUPLE_INT
                          || site->left == &PyTuple_Type;
        Stub other = {.instr = in, .miss = miss, .join = found,
                      .cold_type = tuple_first ? &PyList_Type : &PyTuple_Type};
        /* The other one out of line, unless the interpreter specialized the instruction
         * for the one expected (a first unit; the helper takes the other then). */
        load_item(c, d, tuple_first ? &PyTuple_Type : &PyList_Type,
                  single_kind_site(c, in) ? miss : cold_stub(c, subscr_other_type, other));
    }
    od_label_bind(a, found);                    /* rdi = the item (borrowed) */
    if (!c->feedback) {     /* (a recompiled unit records nothing: record_fast_hit) */
        od_mov_rm(a, OD_R8, OD_RCX, OFF_TYPE);
        record_fast_hit(c, site, OD_RDX, OD_R8);
    }
    incref_reg(c, OD_RDI);
    release_operands_into(c, in, OD_RDI, done);
}

void emit_store_subscr_fast(Compiler *c, const OdInstr *in, OdLabel miss, OdLabel done)
{
    OdAsm *a = &c->a;
    int d = in->depth;                          /* stack: value, list, index */
    od_mov_rm(a, OD_RAX, R_FRAME, slot_disp(c, d - 2));
    od_mov_ri(a, OD_RDX, (int64_t)(intptr_t)&PyList_Type);
    od_cmp_rm(a, OD_RDX, OD_RAX, OFF_TYPE);
    od_jcc(a, OD_CC_NE, miss);
    in_range_index(c, d, miss);
    od_mov_rm(a, OD_RDX, OD_RAX, OFF_LIST_ITEMS);
    od_add_rr(a, OD_RDX, OD_R8);
    od_mov_rm(a, OD_RDI, OD_RDX, 0);            /* the old item */
    od_mov_rm(a, OD_RSI, R_FRAME, slot_disp(c, d - 3));
    od_mov_mr(a, OD_RDX, 0, OD_RSI);            /* the stack's reference moves into the list */
    decref_reg(c, OD_RDI, in->index);
    od_mov_rm(a, OD_RDI, R_FRAME, slot_disp(c, d - 1));
    decref_reg(c, OD_RDI, in->index);
    od_mov_rm(a, OD_RDI, R_FRAME, slot_disp(c, d - 2));
    decref_reg(c, OD_RDI, in->index);
    od_jmp(a, done);
}

int unpack_sequence_has_fast_path(int n) { return n >= 1 && n <= 6; }

void emit_unpack_sequence_fast(Compiler *c, const OdInstr *in, OdLabel miss, OdLabel done)
{
    OdAsm *a = &c->a;
    int d = in->depth, n = in->oparg;
    OdLabel not_tuple = od_label_new(a), items = od_label_new(a);
    load_operand(c, OD_RAX, d - 1);
    od_mov_rm(a, OD_RCX, OD_RAX, OFF_TYPE);
    od_cmp_mi(a, OD_RAX, OFF_SIZE, n);
    od_jcc(a, OD_CC_NE, miss);                  /* exactly n items (else: the helper) */
    od_cmp_r_imm64(a, OD_RCX, (int64_t)(intptr_t)&PyTuple_Type, OD_RDX);
    od_jcc(a, OD_CC_NE, not_tuple);
    od_lea(a, OD_RSI, OD_RAX, OFF_TUPLE_ITEMS);
    od_jmp(a, items);
    od_label_bind(a, not_tuple);
    od_cmp_r_imm64(a, OD_RCX, (int64_t)(intptr_t)&PyList_Type, OD_RDX);
    od_jcc(a, OD_CC_NE, miss);
    od_mov_rm(a, OD_RSI, OD_RAX, OFF_LIST_ITEMS);
    od_label_bind(a, items);                    /* rsi = the n items: item 0 ends on top */
    for (int i = 0; i < n; i++) {
        od_mov_rm(a, OD_RDI, OD_RSI, 8 * i);
        incref_reg(c, OD_RDI);
        od_mov_mr(a, R_FRAME, slot_disp(c, d - 1 + (n - 1 - i)), OD_RDI);
    }
    release_operand_reg(c, OD_RAX, d - 1, in->index);
    od_jmp(a, done);
}
