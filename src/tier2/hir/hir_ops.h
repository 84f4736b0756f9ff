/* tier2/hir/hir_ops.h — the HIR instruction set, declared once.
 *
 * X(name, operands, kind, effects, output)
 *   operands  fixed operand count, or -1 for a variable count (the builder says how many)
 *   kind      what every operand must be (the verifier checks it against operand types):
 *               NONE   no operands
 *               BOXED  a PyObject* that is never NULL (type ⊑ Object)
 *               ANY    a PyObject* that may be NULL (type ⊑ OptObject)
 *               CINT / CDBL / CBOOL  an unboxed int64 / double / condition
 *   effects   OD_HE_* flags below, or 0 for a pure instruction (removable when unused)
 *   output    the type of its value (an OD_TYPES name), or Void when it has none. Const,
 *             Phi, GuardType and GuardIs compute theirs per instruction: the column is the
 *             upper bound the verifier holds them to.
 *
 * Conventions the builder and the later tiers share:
 *   - Locals are SSA values: there is no LoadFast/StoreFast. A local that may be unbound
 *     (its value's type includes Null) is read through CheckBound.
 *   - Every instruction that can raise or deoptimize carries a frame state (hir.h): the
 *     bytecode instruction to resume at, and which value holds each local and stack slot
 *     *before* that bytecode instruction. One bytecode instruction expands to at most one
 *     instruction with effects, followed only by pure ones, so resuming there is exact.
 *   - LoadMethod defines the first of the two stack slots LOAD_METHOD pushes (the method, or
 *     NULL); MethodSelf, its pure companion, the second (self, or the bound attribute). A
 *     code generator computes both with one call.
 *   - BeforeWith likewise: the first of BEFORE_WITH's two values (__exit__); WithEnter the
 *     second (what __enter__() returned).
 *   - ForIter is a terminator whose value (the next item) exists on its first edge only
 *     (into the loop body, which has it as its only predecessor); the second edge is taken
 *     when the iterator is exhausted, with the iterator popped.
 *   - Snapshot records a frame state and does nothing: the builder puts one at each loop
 *     header (where an OSR entry and the back-edge's eval-breaker poll will resume). */
#ifndef OD_TIER2_HIR_OPS_H
#define OD_TIER2_HIR_OPS_H

#define OD_HE_READS 0x01    /* reads memory other code can write */
#define OD_HE_WRITES 0x02   /* writes memory, or may run arbitrary Python code */
#define OD_HE_RAISES 0x04   /* may raise: needs a frame state to unwind through */
#define OD_HE_DEOPT 0x08    /* may deoptimize: needs a frame state to resume from */
#define OD_HE_TERM 0x10     /* ends its block */
#define OD_HE_STATE 0x20    /* carries a frame state without raising or deoptimizing */
#define OD_HE_RW (OD_HE_READS | OD_HE_WRITES)

#define OD_HIR_OPS(X)                                                                      \
    /* values */                                                                           \
    X(Param, 0, NONE, 0, OptObject)                 /* imm: local index (an argument is \
        Object; in an OSR function any other local may be NULL) */                         \
    X(OsrStack, 0, NONE, OD_HE_READS, Object)       /* imm: value-stack slot taken over at \
        an OSR entry (the reference moves to the code; READS: kept even when unused, so  \
        the lowering releases it) */                                                       \
    X(Const, 0, NONE, 0, Top)                       /* obj (boxed), or imm (unboxed) */    \
    X(Phi, -1, ANY, 0, Top)                         /* one operand per predecessor */      \
    X(Snapshot, 0, NONE, OD_HE_STATE, Void)                                                \
    X(CheckBound, 1, ANY, OD_HE_RAISES, Object)     /* imm: local (UnboundLocalError) */   \
    /* guards */                                                                           \
    X(GuardType, 1, BOXED, OD_HE_DEOPT, Object)     /* itype: the type it guarantees */    \
    X(GuardNotNull, 1, ANY, OD_HE_DEOPT, Object)                                           \
    X(GuardIs, 1, BOXED, OD_HE_DEOPT, Object)       /* obj: the one object it may be */    \
    X(GlobalValue, 0, NONE, OD_HE_READS | OD_HE_RAISES | OD_HE_DEOPT, Object) /* obj: the  \
        value LoadGlobal found at compile time, while the globals' (imm) and builtins'     \
        (imm2) dict versions hold (0: not checked), else looked up again (deopts when the \
        name is unbound); a new reference */                                              \
    /* attributes by tier 1's site feedback (passes/specialize.c): the receiver's type is \
     * guarded by its version tag (unique to one type in one state: any change to the     \
     * type, its bases or their dicts gives a new one), then read or written in place */  \
    X(GuardTypeVersion, 1, BOXED, OD_HE_READS | OD_HE_DEOPT, Object) /* imm: the          \
        tp_version_tag Py_TYPE(operand) must have */                                       \
    X(GuardSharedKeys, 1, BOXED, OD_HE_READS | OD_HE_DEOPT, Object) /* imm: entries the   \
        type's shared keys must have (imm2 1: their dk_version); the instance must use     \
        inline values (then no instance attribute can shadow a method the keys lacked) */  \
    X(LoadInstanceValue, 1, BOXED, OD_HE_READS | OD_HE_DEOPT, Object) /* imm: index in the \
        inline values; obj: name. Deopts when the values are not in use or the entry is    \
        NULL (deleted); a new reference */                                                 \
    X(LoadSlot, 1, BOXED, OD_HE_READS | OD_HE_DEOPT, Object) /* imm: byte offset of a      \
        __slots__ member; obj: name. Deopts when empty; a new reference */                 \
    X(LoadDictHint, 1, BOXED, OD_HE_READS | OD_HE_DEOPT, Object) /* imm: index of the      \
        name's entry in the instance dict's keys; imm2: tp_dictoffset (0: the managed      \
        dict); obj: name. Deopts unless the dict is an exact, combined dict of str keys     \
        whose entry imm has the name as its key and a value; a new reference */            \
    X(LoadTypeMethod, 1, BOXED, 0, Object) /* imm: the method's address, found in the      \
        type's dict under the guard its operand went through; obj: name; a new reference */ \
    X(StoreInstanceValue, 2, BOXED, OD_HE_RW | OD_HE_DEOPT, Void) /* owner, value; imm:    \
        index. Deopts when the values are not in use; releases the old value */            \
    X(StoreSlot, 2, BOXED, OD_HE_RW, Void) /* owner, value; imm: byte offset; releases the \
        old value */                                                                       \
    X(StoreDictHint, 2, BOXED, OD_HE_RW | OD_HE_DEOPT, Void) /* owner, value; imm, imm2,  \
        obj as LoadDictHint's. Replaces that entry's value in place (a new dict version    \
        tag: rt/attr.h); off the hint (another index, a new key, a split dict) the dict's  \
        own insert out of line; deopts only without an exact dict of str keys (the inline  \
        values in use, a dict subclass, other keys); releases the old value */             \
    /* list items by a constant index (passes/subscr.c): the operand is an exact list     \
     * (guarded: a list's class cannot change); deopts when the index is out of range     \
     * (the interpreter raises IndexError) */                                              \
    X(LoadListItem, 1, BOXED, OD_HE_READS | OD_HE_DEOPT, Object) /* imm: index >= 0; a new \
        reference */                                                                       \
    X(StoreListItem, 2, BOXED, OD_HE_RW | OD_HE_DEOPT, Void) /* list, value; imm: index;   \
        releases the old item */                                                           \
    /* the same by an index computed at run time: an exact int in [0, 2**30) (one digit),  \
     * else a deopt (the interpreter takes negative indices, raises for the rest) */        \
    X(LoadListItemAt, 2, BOXED, OD_HE_READS | OD_HE_DEOPT, Object) /* list, index (an int, \
        or a CInt64: the verifier's one exception to the kind); a new reference */         \
    X(StoreListItemAt, 3, BOXED, OD_HE_RW | OD_HE_DEOPT, Void) /* list, index, value;      \
        releases the old item */                                                           \
    /* generic operations on boxed values (runtime helpers; any type) */                   \
    X(BinaryOp, 2, BOXED, OD_HE_RW | OD_HE_RAISES, Object)   /* imm: NB_* */               \
    X(Compare, 2, BOXED, OD_HE_RW | OD_HE_RAISES, Object)    /* imm: Py_LT.. */            \
    X(ContainsOp, 2, BOXED, OD_HE_RW | OD_HE_RAISES, Bool)   /* item, container; imm: not */ \
    X(UnaryOp, 1, BOXED, OD_HE_RW | OD_HE_RAISES, Object)    /* imm: UNARY_* opcode */    \
    X(Not, 1, BOXED, OD_HE_RW | OD_HE_RAISES, Bool)                                        \
    X(IsTrue, 1, BOXED, OD_HE_RW | OD_HE_RAISES, CBool)                                    \
    X(IsIdentical, 2, BOXED, 0, CBool)                       /* imm: 1 = "is not" */       \
    X(LoadAttr, 1, BOXED, OD_HE_RW | OD_HE_RAISES, Object)   /* obj: name */               \
    X(StoreAttr, 2, BOXED, OD_HE_RW | OD_HE_RAISES, Void)    /* owner, value; obj: name */ \
    X(LoadMethod, 1, BOXED, OD_HE_RW | OD_HE_RAISES, OptObject) /* obj: name */            \
    X(MethodSelf, 2, ANY, 0, Object)                         /* method-or-NULL, owner */   \
    X(BeforeWith, 1, BOXED, OD_HE_RW | OD_HE_RAISES, Object) /* mgr: its __exit__ (bound);  \
        WithEnter, its pure companion, is what __enter__() returned (one helper call) */   \
    X(WithEnter, 2, BOXED, 0, Object)                        /* BeforeWith, mgr */         \
    X(LoadGlobal, 0, NONE, OD_HE_READS | OD_HE_RAISES, Object) /* obj: name */             \
    X(StoreGlobal, 1, BOXED, OD_HE_RW | OD_HE_RAISES, Void)  /* obj: name */               \
    X(Call, -1, BOXED, OD_HE_RW | OD_HE_RAISES, Object)  /* callable, args; obj: kwnames */ \
    X(CallMethod, -1, ANY, OD_HE_RW | OD_HE_RAISES, Object) /* method-or-NULL, self, args */ \
    X(GetIter, 1, BOXED, OD_HE_RW | OD_HE_RAISES, Object)                                  \
    X(BuildTuple, -1, BOXED, OD_HE_RAISES, Tuple)                                          \
    X(BuildList, -1, BOXED, OD_HE_RAISES, List)                                            \
    X(BuildSet, -1, BOXED, OD_HE_RW | OD_HE_RAISES, Object)                                \
    X(BuildMap, -1, BOXED, OD_HE_RW | OD_HE_RAISES, Dict)      /* k0, v0, k1, v1, ... */   \
    X(BuildConstKeyMap, -1, BOXED, OD_HE_RW | OD_HE_RAISES, Dict) /* values..., keys */    \
    X(BuildSlice, -1, BOXED, OD_HE_RAISES, Object)                                         \
    X(BuildString, -1, BOXED, OD_HE_RAISES, Str)                                           \
    X(FormatValue, -1, BOXED, OD_HE_RW | OD_HE_RAISES, Str) /* value[, spec]; imm: flags */ \
    X(ListAppend, 2, BOXED, OD_HE_WRITES | OD_HE_RAISES, Void)                             \
    X(ListExtend, 2, BOXED, OD_HE_RW | OD_HE_RAISES, Void)                                 \
    X(ListToTuple, 1, BOXED, OD_HE_READS | OD_HE_RAISES, Tuple)                            \
    X(SetAdd, 2, BOXED, OD_HE_RW | OD_HE_RAISES, Void)                                     \
    X(MapAdd, 3, BOXED, OD_HE_RW | OD_HE_RAISES, Void)        /* dict, key, value */       \
    X(Subscr, 2, BOXED, OD_HE_RW | OD_HE_RAISES, Object)      /* container, key */         \
    X(StoreSubscr, 3, BOXED, OD_HE_RW | OD_HE_RAISES, Void)   /* container, key, value */  \
    X(DeleteSubscr, 2, BOXED, OD_HE_RW | OD_HE_RAISES, Void)                               \
    X(UnpackSequence, 1, BOXED, OD_HE_READS | OD_HE_DEOPT, Object) /* imm: n; its operand, \
        an exact tuple or list of n items (else a deopt: the interpreter unpacks the rest) */ \
    X(TupleGetItem, 1, BOXED, 0, Object)  /* imm: index; item of an UnpackSequence's value */ \
    /* cells and closures: cell and free-variable slots stay in the frame (a cell, once   \
     * made, never leaves its slot); a cell operand is the Param of its slot, re-read     \
     * from the frame. Nothing caches a cell's contents: any call may change them. */    \
    X(MakeCell, 0, NONE, OD_HE_WRITES | OD_HE_RAISES, Void) /* imm: slot; its value (an    \
        argument, or NULL) into a new cell stored there */                                  \
    X(CopyFreeVars, 0, NONE, OD_HE_WRITES, Void) /* imm: n; the closure's cells into the    \
        free-variable slots */                                                             \
    X(LoadDeref, 1, BOXED, OD_HE_READS | OD_HE_DEOPT, Object) /* cell; imm: slot. Deopts   \
        when empty (the interpreter raises); a new reference */                            \
    X(StoreDeref, 2, BOXED, OD_HE_RW, Void)        /* cell, value; releases the old one */ \
    X(DeleteDeref, 1, BOXED, OD_HE_RW | OD_HE_DEOPT, Void) /* cell; deopts when empty */   \
    X(MakeFunction, -1, BOXED, OD_HE_RAISES, Object) /* [defaults] [kwdefaults]            \
        [annotations] [closure] code, as MAKE_FUNCTION's flags (imm) say */                 \
    /* unboxed arithmetic (for later passes; the builder emits none) */                    \
    X(UnboxInt, 1, BOXED, OD_HE_DEOPT, CInt64)                                             \
    X(UnboxFloat, 1, BOXED, OD_HE_DEOPT, CDouble)                                          \
    X(UnboxNumber, 1, BOXED, OD_HE_DEOPT, CDouble)  /* an exact float's double, or an exact \
        int's as float arithmetic converts it (PyLong_AsDouble); deopts for anything else */ \
    X(BoxInt, 1, CINT, OD_HE_RAISES, Long)                                                 \
    X(BoxFloat, 1, CDBL, OD_HE_RAISES, Float)                                              \
    X(BoxBool, 1, CBOOL, 0, Bool)                                                          \
    X(IntAdd, 2, CINT, OD_HE_DEOPT, CInt64)                   /* deopt on overflow */      \
    X(IntSub, 2, CINT, OD_HE_DEOPT, CInt64)                                                \
    X(IntMul, 2, CINT, OD_HE_DEOPT, CInt64)                                                \
    X(IntAnd, 2, CINT, 0, CInt64)                                                          \
    X(IntOr, 2, CINT, 0, CInt64)                                                           \
    X(IntXor, 2, CINT, 0, CInt64)                                                          \
    X(IntFloorDiv, 2, CINT, OD_HE_DEOPT, CInt64)  /* Python's //; deopt on a zero divisor   \
        (the interpreter raises) */                                                        \
    X(IntMod, 2, CINT, OD_HE_DEOPT, CInt64)       /* Python's % (the divisor's sign); deopt \
        on a zero divisor */                                                               \
    X(IntTrueDiv, 2, CINT, OD_HE_DEOPT, CDouble)  /* Python's int / int when both are below  \
        2**53 in magnitude (one exactly rounded division, as long_true_divide's fast path); \
        deopt on a zero divisor or a larger operand (the interpreter raises or computes) */ \
    X(IntCompare, 2, CINT, 0, CBool)                          /* imm: Py_LT.. */           \
    X(FloatAdd, 2, CDBL, 0, CDouble)                                                       \
    X(FloatSub, 2, CDBL, 0, CDouble)                                                       \
    X(FloatMul, 2, CDBL, 0, CDouble)                                                       \
    X(FloatDiv, 2, CDBL, OD_HE_DEOPT, CDouble)                /* deopt on division by 0 */ \
    X(FloatPow, 2, CDBL, OD_HE_DEOPT, CDouble)  /* float ** as float_pow computes it for a  \
        finite base (a negative one with an integral exponent) and a finite exponent (libm's \
        pow); deopts otherwise, for 0.0 to a negative power, or when the result is out of  \
        range (the interpreter computes or raises) */                                      \
    X(FloatSqrt, 1, CDBL, OD_HE_DEOPT, CDouble)  /* math.sqrt of an unboxed double, in line;   \
        deopts for a negative operand (the interpreter raises ValueError) */                 \
    X(FloatMath, 1, CDBL, OD_HE_DEOPT, CDouble)  /* math.<fn>(x), imm: its OdHirMathFn (below) \
        deopts where math_1 would raise (the interpreter raises) */                          \
    X(FloatCompare, 2, CDBL, 0, CBool)                        /* imm: Py_LT.. */           \
    X(IntToFloat, 1, CINT, 0, CDouble)  /* the double nearest the int64: what float's     \
        arithmetic does with an int operand (PyLong_AsDouble, round to nearest even) */      \
    /* reference counting (placeholders for the refcount pass) */                          \
    X(IncRef, 1, BOXED, OD_HE_WRITES, Void)                                                \
    X(DecRef, 1, BOXED, OD_HE_RW, Void)                       /* may run a finalizer */    \
    /* terminators */                                                                      \
    X(Branch, 0, NONE, OD_HE_TERM, Void)                                                   \
    X(CondBranch, 1, CBOOL, OD_HE_TERM, Void)                 /* -> if true, if false */   \
    X(ForIter, 1, BOXED, OD_HE_TERM | OD_HE_RW | OD_HE_RAISES, Object) /* -> body, done */ \
    X(Return, 1, BOXED, OD_HE_TERM, Void)                                                  \
    X(Raise, -1, BOXED, OD_HE_TERM | OD_HE_RW | OD_HE_RAISES, Void) /* exc[, cause] */     \
    X(Deopt, 0, NONE, OD_HE_TERM | OD_HE_DEOPT, Void)

typedef enum {
#define OD_HOP_ENUM(name, n, kind, eff, out) OD_HOP_##name,
    OD_HIR_OPS(OD_HOP_ENUM)
#undef OD_HOP_ENUM
    OD_HOP__COUNT
} OdHirOp;

typedef enum {
    OD_HK_NONE,
    OD_HK_BOXED,
    OD_HK_ANY,
    OD_HK_CINT,
    OD_HK_CDBL,
    OD_HK_CBOOL,
} OdHirKind;

typedef struct {
    const char *name;
    int noperands;      /* -1: variable */
    OdHirKind kind;
    int effects;
    int out;            /* an OdTypeName, or -1 (Void) */
} OdHirOpInfo;

extern const OdHirOpInfo od_hir_op_info[OD_HOP__COUNT];

/* FloatMath's imm: the math module's functions tier 2 calls on an unboxed double
 * (passes/specialize.c; FloatSqrt in line for sqrt), X(id, name in math). Each is a FUNC1
 * of mathmodule.c (math_1's error rules), or log of one argument (loghelper: math_1 on
 * m_log, the same for an exact int converted as math converts it). floor and ceil return
 * ints: not here. */
#define OD_HIR_MATH_FUNCS(X) X(SQRT, "sqrt") X(SIN, "sin") X(COS, "cos") X(TAN, "tan") \
    X(EXP, "exp") X(LOG, "log") X(FABS, "fabs")

typedef enum {
#define OD_HIR_MATH_ENUM(id, name) OD_MATH_##id,
    OD_HIR_MATH_FUNCS(OD_HIR_MATH_ENUM)
#undef OD_HIR_MATH_ENUM
    OD_MATH__COUNT
} OdHirMathFn;

extern const char *const od_hir_math_names[OD_MATH__COUNT];

/* An instruction with these effects must carry a frame state. */
#define OD_HE_NEEDS_STATE (OD_HE_RAISES | OD_HE_DEOPT | OD_HE_STATE)

#endif /* OD_TIER2_HIR_OPS_H */
