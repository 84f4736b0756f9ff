/* tier2/hir/types.h — the type lattice of tier 2's HIR.
 *
 * Contract: a type is a set of run-time values, represented as a union of primitive kinds
 * (one bit each, OD_TYPE_BITS) plus, for the "other objects" kind, an optional exact class
 * and type version. Types describe *exact* classes: an instance of a subclass of int is an
 * OtherObject, not a Long (so a type implies a layout a later pass may rely on). Bool is not
 * a subtype of Long here for the same reason. Boxed kinds (PyObject pointers), the C NULL of
 * an unbound local or an absent method, and unboxed machine values (CInt64, CDouble, CBool)
 * share one lattice so that a single join/meet serves phis, guards and the verifier.
 *
 *   Bottom ⊑ everything ⊑ Top;  Int ⊑ Long ⊑ Object;  Instance(C, v) ⊑ Instance(C) ⊑ Object;
 *   Object ⊑ OptObject (= Object|Null).
 *
 * join is the least upper bound, meet the greatest lower bound; both are commutative,
 * associative and idempotent, and sub(a, b) <=> join(a, b) == b <=> meet(a, b) == a
 * (tests/test_tier2_hir.py checks these on samples). Depends on CPython's headers only. */
#ifndef OD_TIER2_HIR_TYPES_H
#define OD_TIER2_HIR_TYPES_H

#include "../../od_python.h"

#include <stdint.h>

/* Primitive kinds: X(name, description). */
#define OD_TYPE_BITS(X)                                                                  \
    X(Null, "the C NULL: an unbound local, an absent method, an exhausted iterator")     \
    X(SmallInt, "an exact int whose value fits a machine word (int64)")                   \
    X(BigInt, "an exact int outside int64")                                               \
    X(Bool, "True or False")                                                              \
    X(Float, "an exact float")                                                            \
    X(Str, "an exact str")                                                                \
    X(Tuple, "an exact tuple")                                                            \
    X(List, "an exact list")                                                              \
    X(Dict, "an exact dict")                                                              \
    X(NoneType, "None")                                                                   \
    X(OtherObject, "any other object (optionally: of one exact class, at one version)")   \
    X(CInt64, "an unboxed int64 in a register")                                           \
    X(CDouble, "an unboxed double in a register")                                         \
    X(CBool, "an unboxed 0/1 condition")

enum {
#define OD_TB_ENUM(name, desc) OD_TBIT_##name,
    OD_TYPE_BITS(OD_TB_ENUM)
#undef OD_TB_ENUM
    OD_TBIT__COUNT
};
#define OD_TB(name) (1u << OD_TBIT_##name)

#define OD_TB_BOXED                                                                       \
    (OD_TB(SmallInt) | OD_TB(BigInt) | OD_TB(Bool) | OD_TB(Float) | OD_TB(Str) |          \
     OD_TB(Tuple) | OD_TB(List) | OD_TB(Dict) | OD_TB(NoneType) | OD_TB(OtherObject))
#define OD_TB_ALL ((1u << OD_TBIT__COUNT) - 1)

/* Named types: X(name, bits). The printer uses these names (the first match wins); a type
 * that matches none prints as its kinds joined with '|'. */
#define OD_TYPES(X)                                    \
    X(Bottom, 0)                                       \
    X(Null, OD_TB(Null))                               \
    X(Int, OD_TB(SmallInt))                            \
    X(BigInt, OD_TB(BigInt))                           \
    X(Long, OD_TB(SmallInt) | OD_TB(BigInt))           \
    X(Bool, OD_TB(Bool))                               \
    X(Float, OD_TB(Float))                             \
    X(Str, OD_TB(Str))                                 \
    X(Tuple, OD_TB(Tuple))                             \
    X(List, OD_TB(List))                               \
    X(Dict, OD_TB(Dict))                               \
    X(NoneType, OD_TB(NoneType))                       \
    X(OtherObject, OD_TB(OtherObject))                 \
    X(Object, OD_TB_BOXED)                             \
    X(OptObject, OD_TB_BOXED | OD_TB(Null))            \
    X(CInt64, OD_TB(CInt64))                           \
    X(CDouble, OD_TB(CDouble))                         \
    X(CBool, OD_TB(CBool))                             \
    X(Top, OD_TB_ALL)

typedef enum {
#define OD_TN_ENUM(name, bits) OD_TN_##name,
    OD_TYPES(OD_TN_ENUM)
#undef OD_TN_ENUM
    OD_TN__COUNT
} OdTypeName;

typedef struct {
    uint32_t bits;
    PyTypeObject *cls;     /* with OtherObject in bits: its only class, or NULL (any); borrowed,
                            * kept alive by whoever holds the type (the HIR function) */
    unsigned int version;  /* with cls: its tp_version_tag, or 0 (any version) */
} OdType;

OdType od_type_named(OdTypeName n);
const char *od_type_name_str(OdTypeName n);
/* Instances of exactly `cls` (built-in classes map to their kind: int -> Long, ...). */
OdType od_type_of_class(PyTypeObject *cls, unsigned int version);
/* The type of one known object (a constant); NULL -> Null. */
OdType od_type_of_object(PyObject *obj);

OdType od_type_join(OdType a, OdType b);
OdType od_type_meet(OdType a, OdType b);
int od_type_sub(OdType a, OdType b);     /* a ⊑ b */
int od_type_eq(OdType a, OdType b);
static inline int od_type_has(OdType t, uint32_t bits) { return (t.bits & bits) != 0; }

/* Writes the type's text ("Long", "Instance(Foo)", "Str|NoneType", "Object?" ...) into buf. */
void od_type_format(OdType t, char *buf, size_t size);
/* Parses a name as od_type_format writes it for the non-instance types; -1 if unknown. */
int od_type_parse(const char *text, OdType *out);

#endif /* OD_TIER2_HIR_TYPES_H */
