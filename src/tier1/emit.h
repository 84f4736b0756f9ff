/* tier1/emit.h — the tier-1 compiler's state and the emission primitives its parts share.
 *
 * Contract (internal to tier1/): compile.c drives one pass over the bytecode; fast_attr.c
 * and fast_num.c emit inline fast paths for cached sites. All of them emit through the
 * Compiler below, and every value stays where the interpreter keeps it.
 *
 * Register plan inside compiled code (all callee-saved, so helpers preserve them):
 *   rbx = the frame + FRAME_BIAS (below)      r12 = the thread state
 *   r13 = first code unit (for prev_instr)    r14 = &interp->ceval.eval_breaker
 *   r15 = ts->cframe (use_tracing at offset 0) rbp = the OdUnit
 * The body runs as a call from the unit's entry (or a direct call's entry, fast_call.c),
 * with the stack aligned to 16; its epilogue is a `ret` to that entry.
 * Stack slot d of the value stack is [rbx + localsplus + 8 * (co_nlocalsplus + d)]; the
 * depth of every instruction is static (bytecode/decode), so no stack pointer is kept.
 * Rarely taken paths (errors, exits, deallocations, the eval breaker) are emitted after the
 * body as stubs, keeping the hot path straight. */
#ifndef OD_TIER1_EMIT_H
#define OD_TIER1_EMIT_H

#include "../runtime/helpers.h" /* first: Python.h sets the feature macros */
#include "../asm/x64.h"

/* R_FRAME holds the frame's address plus FRAME_BIAS: one-byte displacements (-128..127)
 * then reach every field before localsplus and its first 23 slots (locals and the value
 * stack), where without the bias they reached 7 slots; each slot access further in takes 3
 * bytes more (a 4-byte displacement). FRAME_DISP turns a field's offset into its
 * displacement from R_FRAME; frame_to() gives a helper the frame itself. */
#define FRAME_BIAS 128
#define FRAME_DISP(off) ((int32_t)(off) - FRAME_BIAS)
_Static_assert(offsetof(_PyInterpreterFrame, localsplus) < FRAME_BIAS,
               "the frame's fields stay within a one-byte displacement below R_FRAME");
#define OFF_LOCALS FRAME_DISP(offsetof(_PyInterpreterFrame, localsplus))
#define OFF_PREV FRAME_DISP(offsetof(_PyInterpreterFrame, prev_instr))
#define OFF_STACKTOP FRAME_DISP(offsetof(_PyInterpreterFrame, stacktop))

#define R_FRAME OD_RBX
#define R_TS OD_R12
#define R_CODE OD_R13
#define R_BREAKER OD_R14
#define R_CFRAME OD_R15
#define R_UNIT OD_RBP

#define OFF_TYPE ((int32_t)offsetof(PyObject, ob_type))
#define OFF_SIZE ((int32_t)offsetof(PyVarObject, ob_size))
#define OFF_DIGIT0 ((int32_t)offsetof(PyLongObject, ob_digit))

/* Stub kinds, declared once (the code census, tier1/census.c, names them from here). */
#define OD_STUB_KINDS(X) \
    X(EXIT, "exit")             /* leave for the interpreter at `resume` with `depth` values */ \
    X(ERROR, "error")           /* exception set: unwind with `depth` live values at `index` */ \
    X(HELPER, "helper")         /* helper returned non-zero: negative -> error, else exit */ \
    X(DEALLOC, "dealloc")       /* refcount of `reg` hit zero: dealloc, then back to `back` */ \
    X(BREAKER, "breaker")       /* eval breaker set: handle, then continue at `back` */ \
    X(BOX_BOOL, "box_bool")     /* store bool(eax) at depth-1, then exit at `resume` (fused \
                                 * compare) */ \
    X(WARMUP, "warmup")         /* co_warmup != 0: count it; at the quickening RESUME, take \
                                 * `exit` */ \
    X(SLOW_PATH, "slow_path")   /* an inline fast path missed: the helper call of `instr`, \
                                 * then `back` */ \
    X(COLD, "cold")             /* the less likely variants of an inline fast path: `cold` \
                                 * emits them */ \
    X(FLUSH, "flush")           /* push the deferred operands `pending`, then continue at \
                                 * `back` */ \
    X(HELPER_FAIL, "helper_fail") /* a helper call returned non-zero (error, deopt) or \
                                 * tracing came on: `call stub_thunk` + a descriptor, decided \
                                 * in C (tier1/stub_thunk.c) */

typedef enum {
#define OD_STUB_KIND_ENUM(name, text) STUB_##name,
    OD_STUB_KINDS(OD_STUB_KIND_ENUM)
#undef OD_STUB_KIND_ENUM
} StubKind;
#define OD_STUB_KIND_ONE(name, text) +1
enum { STUB__COUNT = 0 OD_STUB_KINDS(OD_STUB_KIND_ONE) };
#undef OD_STUB_KIND_ONE

/* A deferred push (operand borrowing): a LOAD_FAST or LOAD_CONST whose value only the
 * next instruction reads is not pushed. That consumer reads the local or constant
 * directly, as a borrowed reference, and does not release it: the local (or co_consts)
 * keeps the object alive, since nothing between the load and the consumer stores to a
 * local. Where the consumer leaves its inline path (a miss, an error, an exit), the
 * deferred values are first pushed as the loads would have pushed them. */
#define OD_MAX_PENDING 2
typedef struct {
    int depth;          /* the stack slot it stands for */
    int local;          /* LOAD_FAST: the local's index, or -1 */
    PyObject *constant; /* LOAD_CONST: the constant (borrowed from co_consts) */
} Pending;

typedef OD_HELPER((*HelperFn));

/* The helper of `opcode` in the OD_HELPER_OPS table and how many inputs it releases on
 * error (compile.c); 0 if the table has none. */
int od_tier1_helper_for(int opcode, HelperFn *fn, int *released);

struct Compiler;
struct Stub;
/* Emits a cold variant out of line. It must end in a jump (to one of the stub's labels). */
typedef void (*ColdFn)(struct Compiler *c, const struct Stub *s);

typedef struct Stub {
    StubKind kind;
    OdLabel label;
    OdLabel back;       /* where to continue (DEALLOC, BREAKER) */
    OdLabel error;      /* HELPER/BREAKER: the error stub (BREAKER: -1 in descriptor form) */
    OdLabel exit;       /* HELPER: the exit stub */
    int index;          /* instruction unit (prev_instr while it runs) */
    int resume;         /* EXIT: unit at which the interpreter continues */
    int depth;          /* EXIT: values on the stack; ERROR: live values */
    int reason, opcode; /* EXIT */
    int next, after;    /* HELPER_FAIL: where and with how many values the tracing exit
                         * resumes (index/depth: the error; resume/reg-free `phys`: deopt) */
    int phys;           /* HELPER_FAIL: the values on the stack when the helper ran */
    OdReg reg;          /* DEALLOC */
    const OdInstr *instr; /* SLOW_PATH: the instruction, its helper and per-site argument */
    HelperFn fn;
    int released;
    void *site;
    int owner;          /* opcode of the instruction that asked for it (the code census) */
    ColdFn cold;        /* COLD: the emitter, with `instr` and `site` above and the labels */
    OdLabel miss, done, join, join2; /* of the hot path it continues (meaning per emitter) */
    PyTypeObject *cold_type;         /* the type a cold variant handles, when it says so */
    Pending pending[OD_MAX_PENDING]; /* COLD: deferred operands where it starts; FLUSH: */
    int npending;                    /* the ones to push */
} Stub;

typedef struct Compiler {
    OdAsm a;
    OdBytecode bc;
    PyCodeObject *co;
    int nlocalsplus;
    OdLabel *label_of;          /* per instruction number */
    OdLabel epilogue, ret_null;
    OdLabel body_start;         /* the first instruction's code, entered by a call with the
                                 * register plan loaded (compile.c emit_prologue) */
    OdLabel exit_tail, error_tail;  /* shared ends of the exit and error stubs */
    Stub *stubs;
    int nstubs, capstubs;
    char *sites;                /* per-site caches, one block */
    size_t nsite_bytes;
    int *cache_at_unit;         /* code unit -> offset in `sites`, or -1 (the unit keeps it
                                 * as its narrower site_at_unit) */
    PyObject *kwnames;          /* from the KW_NAMES just before a CALL */
    unsigned char *always_bound; /* per local: an argument nothing deletes (never NULL) */
    int *bound_in;              /* per local: the stretch (block_gen) in which it was stored
                                 * or checked, so its next LOAD_FAST there needs no check */
    int block_gen;              /* the current stretch: no jump, handler or resumption
                                 * lands inside it (compile.c compile_unit) */
    int feedback;               /* sites hold what a previous unit's runs recorded */
    const OdUnit *prev;         /* with feedback: that unit, alive while this one compiles
                                 * (its attribute sites own their entries 1..) */
    unsigned char *deferred;    /* per instruction: a load its consumer borrows (Pending) */
    Pending pending[OD_MAX_PENDING]; /* deferred loads not pushed yet, deepest first */
    int npending;
    int ndeferred, nfixed_attr; /* for info(): deferred loads, built-in attribute entries, */
    int ncold, nsingle_kind;    /* cold sites, sites left single-kind (OdUnit's fields) */
    int nhelper_only;           /* attribute sites left to their helper alone */
    int compact;                /* compact unit: no inline fast paths, no borrowing, helper
                                 * calls through one shared thunk (tier1/compact.c) */
    OdLabel compact_thunk;      /* that thunk's label, -1 until the first call needs it */
    OdLabel stub_thunk;         /* the thunk of descriptor stubs (tier1/stub_thunk.c), or -1 */
    uint32_t memo_epoch;        /* this compile's in the stub memo (emit.c); 0: none */
    OdLabel direct_entry;       /* this unit's specialised direct-call entry (fast_call.c),
                                 * -1 if it has none */
    int osr;                    /* backward jumps count down u->osr_counter (compile.h) */
    int enter_mid;              /* replaces a compact unit whose frames move over at a loop
                                 * header (hook/enter.c): the prologue's resume dispatch */
    int cur_op;                 /* opcode of the instruction being emitted (Stub.owner) */
    int next_sets_prev;         /* the next instruction starts with prev_instr's store (a
                                 * new line or a jump target: compile.c) */
} Compiler;

static inline int32_t local_disp(int i) { return OFF_LOCALS + 8 * i; }
/* r = the frame (_PyInterpreterFrame *), as helpers take it. */
static inline void frame_to(OdAsm *a, OdReg r) { od_lea(a, r, R_FRAME, -FRAME_BIAS); }
static inline int32_t slot_disp(Compiler *c, int d) { return local_disp(c->nlocalsplus + d); }

OdLabel add_stub(Compiler *c, Stub s);
/* Error, exit and flush stubs are functions of their fields: one stub serves every jump to
 * the same (kind, fields) within a unit (emit.c). Called once per compile that shares them. */
void stub_memo_begin(Compiler *c);

/* Exit to the interpreter / unwind an error with `depth` / `live` values on the stack:
 * deferred operands among them are pushed first. */
OdLabel exit_stub(Compiler *c, int resume, int depth, int reason, int opcode);

OdLabel error_stub(Compiler *c, int index, int live);

/* Operand borrowing (see Pending). Whether the instruction at `i` can take the value a
 * load pushes at `depth` without it being pushed (its inline path reads operands through
 * the functions below and releases only what it owns). */
int consumer_borrows(Compiler *c, const OdInstr *in, int depth);
/* The local or constant deferred for stack slot `depth`, or NULL. */
const Pending *borrowed(Compiler *c, int depth);
/* r = the value at stack slot `depth`, wherever it is. */
void load_operand(Compiler *c, OdReg r, int depth);
/* Release the value at `depth` held in `r` / in its slot, unless it is borrowed. */
void release_operand_reg(Compiler *c, OdReg r, int depth, int unit);
void release_operand_slot(Compiler *c, int depth, int unit);
/* `target`, reached after pushing the deferred operands (deeper than `below`, all when
 * below < 0): where a fast path leaves for code that reads the stack. */
OdLabel flushed(Compiler *c, OdLabel target, int below);
/* Push the deferred operands here, inline; none are left deferred. */
void flush_pending(Compiler *c);
/* The pushes of `n` deferred loads (a flush stub's body). Clobbers rax. */
void emit_pushes(Compiler *c, const Pending *p, int n);

/* A fast path emits the variant it expects inline and the others out of line, so the
 * instruction cache holds only what runs: the label of a stub that `cold` emits later,
 * with `s` giving it the instruction, site and labels to jump back to. */
OdLabel cold_stub(Compiler *c, ColdFn cold, Stub s);

/* The instruction's opcode as the specializing interpreter left it in the code object
 * (LOAD_ATTR_SLOT, BINARY_OP_ADD_FLOAT, ...; the plain opcode when it has not specialized
 * it): a hint of which variant a fast path should expect. */
int quickened_opcode(Compiler *c, const OdInstr *in);

/* What the specializing interpreter's form of `in` says about the instruction's past, for
 * a unit compiled without feedback of its own (code without a loop is compiled at its
 * 201st call, after the interpreter ran it, specialized what it could and left the rest in
 * the adaptive forms):
 *   QUICK_UNKNOWN      nothing (the code was never quickened, or the instruction has no
 *                      specialized forms, or specializing it failed);
 *   QUICK_NEVER_RAN    the adaptive form with its counter untouched: not run once since
 *                      the code was quickened (at its 8th call), cold code in warm code;
 *   QUICK_SPECIALIZED  a specialized form: the operands it met are the kind it names, so
 *                      the variants for other kinds can be left to the helper until the
 *                      recompilation, which reads the site's own feedback. */
typedef enum { QUICK_UNKNOWN, QUICK_NEVER_RAN, QUICK_SPECIALIZED } OdQuickened;
OdQuickened quickened_state(Compiler *c, const OdInstr *in);
/* A first unit's site that the interpreter specialized (counted for info()). */
int single_kind_site(Compiler *c, const OdInstr *in);
/* Whether the site of operator or comparison `in`, as the unit a recompiled unit replaces
 * recorded it (its sites are that unit's, copied: compile.c), says the inline path would never run: it never hit, and the
 * operands last seen were not a pair the inline path takes (`takes`: 1 if it does). A
 * hint only (the helper does any pair): a recompiled unit then calls the helper alone. */
int recorded_generic_only(Compiler *c, const OdInstr *in,
                          int (*takes)(PyTypeObject *left, PyTypeObject *right));

void set_prev(Compiler *c, int unit);

void incref_reg(Compiler *c, OdReg r);

/* Py_DECREF of the object in `r` (not NULL); the dealloc is a stub. `unit` is the
 * instruction whose prev_instr a finalizer would observe. */
void decref_reg(Compiler *c, OdReg r, int unit);

/* Values True/False/None never reach refcount zero: a plain decrement suffices. */
void decref_immortalish(Compiler *c, OdReg r);

void check_breaker(Compiler *c, int index, int live_after, OdLabel cont);

int depth_after(const OdInstr *in);

OdLabel label_at(Compiler *c, int unit);

/* Jump to `target`, polling the eval breaker first when the jump goes backwards. */
void jump_to(Compiler *c, const OdInstr *in, int target, int backward);

/* Feedback of an OdOpCache site, as the helpers keep it: the operand types (registers
 * holding them), and one inline hit. Clobbers rsi. Nothing in a recompiled unit: the
 * record was read when it was compiled (its inline variant is the recorded type). */
void record_fast_hit(Compiler *c, OdOpCache *site, OdReg left_type, OdReg right_type);
/* Value of the int in `obj` into `dst` when it has at most one digit (sign * digit 0),
 * else jump to `miss`. The caller checked the type. Clobbers r9. */
void compact_value(Compiler *c, OdReg dst, OdReg obj, OdLabel miss);
/* The int `value` (a C long in a register) as an object when CPython preallocates it
 * (-5..256; results in that range must be those objects): rdi = it (new reference), then
 * jump to `have`; otherwise jump to `big` with `value` untouched. Clobbers rsi. */
void small_int_or_jump(Compiler *c, OdReg value, OdLabel have, OdLabel big);
/* For instructions popping two values and pushing one: `result` (a new reference) replaces
 * the value at depth-2, both operands are released (reloaded from their slots: a
 * deallocation clobbers registers), then jump to `to`. */
void release_operands_into(Compiler *c, const OdInstr *in, OdReg result, OdLabel to);

/* Inline fast paths (fast_attr.c, fast_num.c, fast_subscr.c, fast_call.c, fast_iter.c). Each falls through to nothing: it either
 * jumps to `done` having done the instruction's whole work, or jumps to `miss` with the
 * stack untouched, where the caller emits the helper call. */
void emit_load_global_fast(Compiler *c, const OdInstr *in, void *site, OdLabel miss, OdLabel done);
void emit_load_name_fast(Compiler *c, const OdInstr *in, void *site, OdLabel miss, OdLabel done);
/* Whether LOAD_ATTR, LOAD_METHOD or STORE_ATTR `in` gets its helper call alone, with no
 * inline hit path: what its site is known to meet (its feedback, or the interpreter's
 * specialized form) is only kinds the helper's cache handles. Needs the sites (c->sites). */
int attr_helper_only(Compiler *c, const OdInstr *in);
void emit_load_attr_fast(Compiler *c, const OdInstr *in, void *site, OdLabel miss, OdLabel done);
void emit_store_attr_fast(Compiler *c, const OdInstr *in, void *site, OdLabel miss, OdLabel done);
void emit_load_method_fast(Compiler *c, const OdInstr *in, void *site, OdLabel miss, OdLabel done);

/* BINARY_OP on two exact floats or two compact ints, for the operators that have such a
 * path (binary_op_has_fast_path). COMPARE_OP fused with its conditional jump: two exact
 * floats or compact ints branch to `if_true`/`if_false` directly. */
int binary_op_has_fast_path(Compiler *c, const OdInstr *in);
/* A BINARY_OP known to meet another kind than the numeric inline path's: in a first unit,
 * the interpreter specialized it for two strs (the helper appends in place when it can);
 * in a recompiled one, its site never hit inline and last met a pair that is not two
 * numbers (telco's Decimals). It gets no inline path, which would only test types on the
 * way to the helper. */
int binary_op_other_kind(Compiler *c, const OdInstr *in);
/* BINARY_SUBSCR of an exact list or tuple, STORE_SUBSCR into an exact list, by an index
 * that is an exact one-digit int in range. */
void emit_binary_subscr_fast(Compiler *c, const OdInstr *in, OdOpCache *site, OdLabel miss,
                             OdLabel done);
void emit_store_subscr_fast(Compiler *c, const OdInstr *in, OdLabel miss, OdLabel done);
/* UNPACK_SEQUENCE of an exact tuple or list of exactly oparg items (small oparg). */
int unpack_sequence_has_fast_path(int n);
/* BINARY_SUBSCR's inline path (list and tuple items by an int index), unless a first unit
 * knows from the interpreter's form that the instruction subscripts something else. (Not
 * dropped in a recompiled unit whose site met only dicts or strs, as BINARY_OP's is: the
 * operands it lets the instruction borrow are worth more than the type tests it costs,
 * regex_v8 +0.3% instructions and +1.2% I1 misses without it.) */
int binary_subscr_has_fast_path(Compiler *c, const OdInstr *in);
void emit_unpack_sequence_fast(Compiler *c, const OdInstr *in, OdLabel miss, OdLabel done);
void emit_binary_op_fast(Compiler *c, const OdInstr *in, OdOpCache *site, OdLabel miss, OdLabel done);
void emit_compare_branch_fast(Compiler *c, const OdInstr *in, OdOpCache *site, OdLabel miss,
                              OdLabel if_true, OdLabel if_false);
/* FOR_ITER over a range, list or tuple iterator with items left (when their private
 * layouts match what fast_iter.c restates: od_fast_iter_usable). */
int od_fast_iter_usable(void);
void emit_for_iter_fast(Compiler *c, const OdInstr *in, OdOpCache *site, OdLabel miss,
                        OdLabel done);
/* CALL of a compiled Python function with as many arguments as parameters, any keywords
 * naming the last ones in order: the frame pushed and the callee's native code entered
 * through the direct-call thunk (compile.h od_tier1_direct_thunk). */
int call_has_fast_path(Compiler *c, const OdInstr *in, const void *site);
void emit_call_fast(Compiler *c, const OdInstr *in, void *site, OdLabel miss, OdLabel done);
/* A routine of its own, shared by all units (a thunk, the shared return tail, the shared
 * entry): emit(a, arg) assembled with a constant pool and installed in code memory under
 * `name`; NULL if that failed. */
void *od_tier1_install_routine(void (*emit)(OdAsm *, int), int arg, const char *name);
/* A recompiled (hot) unit's own entry for direct calls: what the thunk does from the frame
 * push on, with this code's sizes as immediates and the loops unrolled. */
void emit_direct_entry(Compiler *c);
/* A COMPARE_OP that gets no numeric inline path, from the interpreter's form (two strs)
 * or a recompiled unit's feedback (one type, neither int nor float, and no inline hit). */
int compare_generic_only(Compiler *c, const OdInstr *in);
/* COMPARE_OP on its own: the same, pushing True or False. */
void emit_compare_fast(Compiler *c, const OdInstr *in, OdOpCache *site, OdLabel miss, OdLabel done);

/* Compact units (tier1/compact.c): whether `in`'s helper call can take the thunk form, the
 * call and its descriptor, and the thunk itself (once, after the stubs, if any call needs it).
 * Full units use the form too, for sites that never ran (compile.c emit_helper). */
int compact_form_ok(const OdInstr *in);   /* the fields fit the descriptor */
int compact_call_ok(Compiler *c, const OdInstr *in);   /* ...in a compact unit */
void emit_compact_call(Compiler *c, const OdInstr *in);
void emit_compact_thunk(Compiler *c);

/* Stubs as `call stub_thunk` and a descriptor (tier1/stub_thunk.c). An error stub, an
 * exit stub: 0 when a field does not fit the descriptor (the caller emits the long form).
 * An eval-breaker stub: breaker_desc_ok says whether it may take the form (then it has no
 * error stub of its own), emit_breaker_desc emits it, continuing at `back`. */
int emit_error_desc(Compiler *c, int index, int live);
int emit_exit_desc(Compiler *c, int resume, int depth, int reason, int opcode);
int breaker_desc_ok(Compiler *c, int index, int live);
void emit_breaker_desc(Compiler *c, int index, int live, OdLabel back);
/* One stub for everything that follows a helper call of a full unit when its result is
 * not OD_OK or tracing came on (instead of an error stub, an exit stub, a helper stub and a
 * tracing exit stub: ~68 bytes): the thunk's call and a 14-byte descriptor, 19 bytes.
 * helper_fail_ok says whether the fields fit the descriptor. */
int helper_fail_ok(Compiler *c, const Stub *s);
void emit_helper_fail_stub(Compiler *c, const Stub *s);
/* The thunk, once, after the stubs, if any stub calls it. */
void emit_stub_thunk(Compiler *c);

#endif /* OD_TIER1_EMIT_H */
