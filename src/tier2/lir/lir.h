/* tier2/lir/lir.h — tier 2's low-level IR: machine-level instructions on virtual registers.
 *
 * Contract: lower.c turns optimized HIR into LIR (od_lir_lower), regalloc.c gives every
 * virtual register a machine register or a stack slot (od_lir_regalloc), codegen.c emits
 * x86-64 through asm/ (od_lir_codegen), print.c writes the text dis(f, tier=2) shows.
 *
 * Values: a vreg holds a PyObject pointer, an int64 or a CBool (GPR class) or a double
 * (XMM class). Blocks are in code layout order; a block ends in Jump, CondJump, ForIter,
 * Return or Exit. Vregs are not SSA: a phi is a vreg that each incoming edge writes with
 * Move (through temporaries when the copies overlap).
 *
 * Reference counts are explicit: every boxed value a HIR instruction produces owns one
 * reference, released by DecRef after its last use on every path (lowering computes the
 * liveness); arguments (read from the frame, which keeps them) and constants are borrowed.
 * A phi owns its value: each edge transfers the operand's reference when the operand dies
 * there, and adds one otherwise.
 *
 * Exits: a guard, an overflow check, a failed helper call, tracing switched on or the eval
 * breaker's error leave for the interpreter through an exit record (OdLirExit): the
 * bytecode position, how to find every local and stack value of the frame state, and the
 * owned values to release. od_t2_exit (tier2/rt/exit.c) does the work at run time.
 *
 * Write-back: tier 2 keeps locals in vregs, but before anything that may run Python code
 * (which can read the frame: sys._getframe(1).f_locals, an escaped frame object) the
 * locals changed since the last write-back are stored into the frame's localsplus as owned
 * references (od_t2_sync, tier2/rt/exit.c): a Sync before a generic helper call; the
 * sync list of the exit record of Poll (when the eval breaker is handled), ForIter and
 * Truth (when the iterator or object is not a builtin one); a conditional Sync at Return
 * (when the frame has a frame object). localsplus therefore always holds owned references:
 * an argument slot the code writes back into has its own reference taken at entry (the
 * Param is then an owned vreg, not re-read from the frame).
 *
 * Calls: a CallH stores its arguments in the outgoing area at [rsp], then calls
 * `helper(frame, args, imm, obj)` (tier2/rt/helpers.h); caller-saved registers do not
 * survive it, so the allocator gives values live across a call a callee-saved register or
 * a stack slot. DecRef's deallocation and Poll's handler run out of line and keep every
 * register. */
#ifndef OD_TIER2_LIR_LIR_H
#define OD_TIER2_LIR_LIR_H

#include "../hir/hir.h"
#include "../../bytecode/decode.h"

/* X(name, description) */
#define OD_LIR_OPS(X)                                                                        \
    X(LoadLocal, "dst = localsplus[imm] (an argument: the frame keeps it while tier 2 runs)") \
    X(StoreLocal, "dst = localsplus[imm] (the old value, or NULL); localsplus[imm] = src0, "  \
                  "whose reference moves into the frame")                                    \
    X(Imm, "dst = imm (an object pointer or an int64)")                                      \
    X(FImm, "dst = the double whose bits are imm")                                           \
    X(Move, "dst = src0 (same class)")                                                       \
    X(IncRef, "Py_INCREF(src0); imm 1: Py_XINCREF")                                          \
    X(DecRef, "Py_DECREF(src0); imm 1: Py_XDECREF; dealloc out of line, registers kept")     \
    X(GuardInt, "exit unless src0 is an exact int in int64's range: at most two 30-bit "   \
                "digits, or three with a top digit below 8 (|x| < 2**63)")                   \
    X(GuardFloat, "exit unless src0 is an exact float")                                      \
    X(GuardList, "exit unless src0 is an exact list")                                        \
    X(GuardStr, "exit unless src0 is an exact str")                                          \
    X(GuardNotNull, "exit if src0 is NULL")                                                  \
    X(GuardIs, "exit unless src0 is the object ptr")                                         \
    X(GuardVersion, "exit unless Py_TYPE(src0)->tp_version_tag is imm")                     \
    X(GuardKeys, "exit unless src0 uses inline values and its type's shared keys have imm "  \
                 "entries (imm2 1: dk_version imm)")                                          \
    X(LoadField, "dst = the attribute of src0 (borrowed), exit when NULL: imm2 0, at byte "  \
                 "imm of the object; 1, inline value imm (exit when the values are not in "   \
                 "use); 2, item imm of the list src0 (exit when out of range); 3, the item "  \
                 "of the list src0 at the index src1, an exact int (exit unless one digit, "  \
                 ">= 0, in range); 4, the same at an int64 index src1 (exit unless in range)")\
    X(LoadDictEntry, "dst = the value of entry imm of the instance dict of src0 (borrowed; "  \
                     "the managed dict, or at byte imm2), exit unless that dict is an exact, " \
                     "combined dict of str keys whose entry imm has the name obj as its key " \
                     "and a value (what LOAD_ATTR_WITH_HINT checks)")                          \
    X(StoreDictEntry, "dst = the old value (or NULL) of name obj in the instance dict of "    \
                      "src0 (at entry imm when LoadDictEntry's checks hold, the value is not " \
                      "NULL and the GC tracks the dict or src1's type has no GC; else by the " \
                      "dict's insert out of line, od_t2_store_dict_slow, which exits when "   \
                      "there is no exact dict of str keys), src1 stored in its place (moves, " \
                      "as StoreField's); the dict gets a new version tag")                    \
    X(StoreField, "dst = the old value (or NULL), src1 stored in its place (the reference "  \
                  "moves: the caller adds one): imm2 0, at byte imm; 1, inline value imm "    \
                  "(exit when not in use; a new one goes into the insertion order); 2, item " \
                  "imm of the list src0 (exit when out of range); 3, the item at the index "  \
                  "src2 (as LoadField's 3); 4, at the int64 index src2 (as LoadField's 4)")   \
    X(GlobalLoad, "dst = ptr (a new reference) while f_globals's version is imm and (imm2 " \
                  "!= 0) f_builtins's is imm2; else the lookup helper (exit: unbound, error)") \
    X(UnboxInt, "dst = the int64 value of the int src0 (guarded)")                           \
    X(UnboxFloat, "dst = the double of the float src0 (guarded)")                            \
    X(BoxBool, "dst = src0 ? True : False, a new reference")                                 \
    X(BoxFloat, "dst = a new float of the double src0: from the interpreter's free list in "  \
                "line, else PyFloat_FromDouble out of line (registers kept); exit on error. " \
                "With src1 (a value released right after it; imm2 bit 0: may be NULL, bit 1: " \
                "its container holds it too and gets dst back): src1 itself, the double "    \
                "written into it, when it is an exact float nobody else holds")              \
    X(BoxInt, "dst = the int of the int64 src0: a small int (-5..256) from the runtime's "    \
              "cache in line, else PyLong_FromLongLong out of line (registers kept); exit "   \
              "on error")                                                                     \
    X(LoadMem, "dst = *(src0 + imm)")                                                        \
    X(SeqItems, "dst = the item array of src0 when it is an exact tuple (its own) or an "     \
                "exact list (its ob_item) of exactly imm items, else exit")                   \
    X(IntAdd, "dst = src0 + src1, exit on overflow")                                         \
    X(IntSub, "dst = src0 - src1, exit on overflow")                                         \
    X(IntMul, "dst = src0 * src1, exit on overflow")                                         \
    X(IntAnd, "dst = src0 & src1")                                                           \
    X(IntOr, "dst = src0 | src1")                                                            \
    X(IntXor, "dst = src0 ^ src1")                                                           \
    X(IntSar, "dst = src0 >> imm, arithmetic: Python's floor division by 2**imm")           \
    X(IntCmp, "dst = src0 <imm> src1 (0/1)")                                                 \
    X(FAdd, "dst = src0 + src1")                                                             \
    X(FSub, "dst = src0 - src1")                                                             \
    X(FMul, "dst = src0 * src1")                                                             \
    X(FDiv, "dst = src0 / src1, exit when src1 is +-0.0 (ZeroDivisionError)")                \
    X(FSqrt, "dst = sqrt(src0) (sqrtsd), exit when src0 < 0 (math.sqrt's domain error)")     \
    X(FCmp, "dst = src0 <imm> src1 (0/1, IEEE: false with a NaN except !=)")                 \
    X(IntToF, "dst = the double nearest the int64 src0 (cvtsi2sd, round to nearest even)")   \
    X(IsPtr, "dst = (src0 == src1) ^ imm")                                                   \
    X(CallH, "dst = helper(frame, [srcs], imm, obj); check the result (exit)")               \
    X(Truth, "dst = truth of src0: True/False inline, else a helper call (exit on error)")   \
    X(SetPrev, "f->prev_instr = first code unit + imm")                                      \
    X(TraceCheck, "exit when tracing was switched on (after a call)")                        \
    X(Poll, "eval breaker set: handle it out of line (exit on error); first write back the " \
            "locals its exit record's sync list names")                                        \
    X(Sync, "write back the locals the exit record's sync list names (exit on MemoryError); " \
            "imm 1: only when the frame has a frame object, and set prev_instr first")        \
    X(Jump, "-> target0")                                                                    \
    X(CondJump, "src0 != 0 -> target0, else target1")                                        \
    X(ForIter, "dst = next item of src0 -> target0; exhausted -> target1; exit on error")    \
    X(Return, "return src0 (an owned reference)")                                            \
    X(Exit, "leave for the interpreter (exit record)")

typedef enum {
#define OD_LOP_ENUM(name, desc) OD_LOP_##name,
    OD_LIR_OPS(OD_LOP_ENUM)
#undef OD_LOP_ENUM
    OD_LOP__COUNT
} OdLirOp;

extern const char *const od_lir_op_names[OD_LOP__COUNT];

enum { OD_VR_GPR, OD_VR_XMM };

/* How CallH checks its helper's result. */
enum {
    OD_CHK_NONE,
    OD_CHK_NULL,     /* NULL: exit */
    OD_CHK_NEG,      /* negative: exit */
    OD_CHK_DONE,     /* ForIter: (PyObject *)1 exhausted, NULL exit */
    OD_CHK_BITS,     /* raw bits (a double, an int64): OD_T2_BITS_FAIL exits (rt/helpers.h) */
    OD_CHK_MATH,     /* not a helper: a C function double -> double (FloatMath, its operand in
                      * xmm0); exits where mathmodule.c's math_1 raises: a NaN from a
                      * non-NaN, an infinity from a finite operand */
};

typedef struct {
    int cls;            /* OD_VR_GPR / OD_VR_XMM */
    int reg;            /* machine register, or -1 when in a stack slot */
    int slot;           /* stack slot when reg < 0 */
    int start, end;     /* live interval (positions), start > end when never used */
    int crosses_call;
} OdLirVreg;

typedef struct {
    OdLirOp op;
    int dst, dst2;      /* vregs or -1 (dst2: CallH's second output, from the outgoing area) */
    int nsrc;
    int *src;
    long long imm, imm2;
    const void *ptr;    /* CallH: the helper; GuardIs: the object */
    PyObject *obj;      /* CallH: its constant argument (borrowed from the code or HIR) */
    void *site;         /* GlobalLoad: its slow path's cache (OdT2GlobalSite), or NULL */
    int check;          /* CallH: OD_CHK_* */
    int outs_in_args;   /* CallH: dst/dst2 are args[0]/args[1] after the call */
    long long prev;     /* CallH, Truth: the instruction index prev_instr gets right before
                         * the helper's call, after any in-line hit path (a hit runs no Python
                         * code: nothing reads it); -1: none, or a SetPrev before it */
    int nlend;          /* CallH: objects (vregs) whose reference the frame's locals hold */
    int *lend;          /* while the helper runs: one less before its call, restored right
                         * after it (lower.c lend_to_frame); not on an in-line hit path */
    int exit;           /* exit record or -1 */
    int target[2];      /* block indices */
    int hir;            /* id of the HIR instruction it comes from, or -1 */
    int pos;            /* position (regalloc) */
} OdLirInstr;

typedef struct {
    int id;
    int hir_block;      /* HIR block id, or -1 for an edge block */
    int from;           /* an edge block: the block whose terminator leads to it */
    OdLirInstr *ins;
    int n, cap;
    int start, end;     /* positions */
} OdLirBlock;

/* Where an exit finds one value of the frame state (or one value to release). */
enum {
    OD_XV_NULL,         /* an unbound local */
    OD_XV_CONST,        /* obj, borrowed */
    OD_XV_LOCAL,        /* localsplus[local]: an argument, as the frame has it */
    OD_XV_BOXED,        /* a vreg holding an object (may be NULL when nullable) */
    OD_XV_CINT,         /* a vreg holding an int64: boxed at the exit */
    OD_XV_CDOUBLE,      /* a vreg holding a double */
    OD_XV_CBOOL,        /* a vreg holding 0/1 */
};

typedef struct {
    int kind;           /* OD_XV_* */
    int vreg;
    int local;
    PyObject *obj;
    int32_t off;        /* after regalloc: where the vreg is, relative to rsp at the exit */
} OdLirVal;

/* Exit reasons: X(name, description, speculative: a repeat disables the speculation). */
#define OD_T2_EXIT_REASONS(X)                                                              \
    X(GUARD_TYPE, "an operand's type was not the one speculated on", 1)                      \
    X(GUARD_ATTR, "an attribute guard failed: type version, shared keys, inline values "    \
                  "not in use, or the attribute missing", 1)                                  \
    X(INT_OVERFLOW, "int arithmetic left int64", 1)                                          \
    X(LIST_INDEX, "a list item's index out of range, negative, or (computed at run time) "  \
                  "not an exact int of one digit (the interpreter raises or computes)", 1)   \
    X(FLOAT_ZERO_DIV, "float division by zero (the interpreter raises)", 1)                  \
    X(INT_DIV, "int // or % by zero, or the one int64 overflow; int / by zero or of an "    \
               "operand of 2**53 or more (the interpreter raises or computes)", 1)            \
    X(FLOAT_POW, "float ** off its fast case: an operand not finite, a negative base with a " \
                 "fractional exponent, 0.0 to a negative power, a result out of range (the "  \
                 "interpreter computes or raises)", 1)                                         \
    X(FLOAT_MATH, "a math function off its fast case: sqrt of a negative number, a domain " \
                  "or range error (the interpreter raises)", 1)                              \
    X(UNBOUND_LOCAL, "unbound local (the interpreter raises)", 0)                           \
    X(UNSUPPORTED, "an instruction tier 2 leaves to the interpreter (raise, ...)", 0)        \
    X(HELPER_DEOPT, "a helper met a case it leaves to the interpreter", 0)                   \
    X(TRACING, "tracing or profiling switched on during a call", 0)                          \
    X(EVAL_BREAKER, "the eval breaker was set at entry", 0)                                  \
    X(ERROR, "an exception: the interpreter unwinds it", 0)

typedef enum {
#define OD_T2X_ENUM(name, desc, spec) OD_T2X_##name,
    OD_T2_EXIT_REASONS(OD_T2X_ENUM)
#undef OD_T2X_ENUM
    OD_T2X__COUNT
} OdT2ExitReason;

extern const char *const od_t2_exit_names[OD_T2X__COUNT];
extern const int od_t2_exit_speculative[OD_T2X__COUNT];

enum {
    OD_XK_DEOPT,        /* resume before the instruction at `resume` */
    OD_XK_ERROR,        /* exception set: unwind from the instruction at `index` */
    OD_XK_ERROR_OR_DEOPT, /* ERROR when an exception is set, else DEOPT */
};

typedef struct {
    int kind;           /* OD_XK_* */
    int reason;         /* OdT2ExitReason (an ERROR_OR_DEOPT's deopt reason) */
    int resume;         /* code unit the interpreter resumes at (an instruction start) */
    int index;          /* the opcode's unit (prev_instr for an error) */
    int nlocals, depth;
    OdLirVal *slots;    /* nlocals + depth */
    int nheld;
    OdLirVal *held;     /* owned values to release */
    int after_call;     /* its values must survive the call it follows */
    int nsync;          /* write-back (od_t2_sync): the locals to store into the frame, */
    int *sync;          /* read from slots[local] (Sync, Poll, ForIter, Truth) */
    uint64_t count;     /* times taken (run time) */
} OdLirExit;

typedef struct {
    OdHirFunc *hir;     /* borrowed */
    PyCodeObject *code;
    OdBytecode bc;
    OdArena arena;
    OdLirBlock *blocks;
    int nblocks, capblocks;
    OdLirVreg *vregs;
    int nvregs, capvregs;
    OdLirExit *exits;
    int nexits, capexits;
    int nslots;         /* spill slots */
    int out_slots;      /* outgoing-area slots CallH needs */
    int frame_bytes;    /* codegen: stack frame below the saved registers */
    int direct_entry_off; /* codegen: the unit's own entry for tier 2's call thunk
                           * (rt/call_thunk.h), its offset in the code; 0: none */
    int short_entry;      /* lowering's input: also emit the entry for a call one argument
                           * short (the function compiled has defaults) */
    int short_entry_off;  /* codegen: that entry's offset in the code; 0: none */
    const struct OdUnit *unit; /* codegen's input: the unit the code will belong to (its
                                * address is an immediate in the call thunk's own entry);
                                * NULL: no such entry */
    struct OdT2AttrSite *attr_sites; /* the generic attribute instructions' caches (rt/attr.h),
                                      * one per LoadAttr/StoreAttr/LoadMethod; the unit takes them */
    int nattr_sites, used_attr_sites;
    struct OdT2GlobalSite *global_sites; /* the global loads' slow-path caches (rt/helpers.h),
                                          * one per GlobalValue/LoadGlobal; the unit takes them */
    int nglobal_sites, used_global_sites;
    int osr;            /* -1, or an OSR function's loop header (hir.h): its prologue
                         * neither polls the eval breaker (the header's Poll does) nor
                         * counts CPython's warm-up (the frame is running already) */
    char reason[256];   /* why lowering refused */
} OdLir;

/* 0; 1 when a HIR instruction has no lowering (L->reason says which); -1 with an exception.
 * The HIR must be verified; it stays borrowed until od_lir_free. */
int od_lir_lower(OdLir *L, OdHirFunc *fn);
void od_lir_free(OdLir *L);

/* Liveness, intervals, linear scan; resolves exit value locations. 0 or -1 (exception). */
int od_lir_regalloc(OdLir *L);

/* x86-64 for the allocated LIR, installed in executable memory (codegen.c): 0 with the
 * entry address, its size and the bytes reserved; -1 with an exception. */
int od_lir_codegen(OdLir *L, void **code, size_t *size, size_t *reserved);

/* Text (print.c): a new str, or NULL with an exception. */
PyObject *od_lir_print(const OdLir *L);

/* Machine registers the allocator hands out (codegen.c): GPRs, callee-saved first. */
extern const int od_lir_gprs[];
extern const int od_lir_ngprs, od_lir_ncallee_saved;
extern const int od_lir_xmms[];
extern const int od_lir_nxmms;

/* Stack frame layout (rsp-relative, after the prologue), shared with the exit path. */
#define OD_LIR_OFF_TS 0
#define OD_LIR_OFF_UNIT 8
#define OD_LIR_OFF_CFRAME 16
#define OD_LIR_OFF_DUMP 24            /* 16 GPRs then 16 XMMs, 8 bytes each */
#define OD_LIR_OFF_OUT (OD_LIR_OFF_DUMP + 256)
static inline int32_t od_lir_spill_off(const OdLir *L, int slot)
{
    return OD_LIR_OFF_OUT + 8 * L->out_slots + 8 * slot;
}

#endif /* OD_TIER2_LIR_LIR_H */
