/* tier2/hir/types.c — the HIR type lattice (see types.h). */
#include "types.h"

#include <stdio.h>
#include <string.h>

static const uint32_t named_bits[] = {
#define OD_TN_BITS(name, bits) bits,
    OD_TYPES(OD_TN_BITS)
#undef OD_TN_BITS
};

static const char *const named_str[] = {
#define OD_TN_STR(name, bits) #name,
    OD_TYPES(OD_TN_STR)
#undef OD_TN_STR
};

static const char *const bit_str[] = {
#define OD_TB_STR(name, desc) #name,
    OD_TYPE_BITS(OD_TB_STR)
#undef OD_TB_STR
};

/* One representation per set: no class unless OtherObject is in, no version without a class. */
static OdType normal(OdType t)
{
    if (!(t.bits & OD_TB(OtherObject)))
        t.cls = NULL;
    if (!t.cls)
        t.version = 0;
    return t;
}

OdType od_type_named(OdTypeName n)
{
    OdType t = {named_bits[n], NULL, 0};
    return t;
}

const char *od_type_name_str(OdTypeName n) { return named_str[n]; }

OdType od_type_of_class(PyTypeObject *cls, unsigned int version)
{
    OdType t = {0, NULL, 0};
    if (cls == &PyLong_Type)
        t.bits = OD_TB(SmallInt) | OD_TB(BigInt);
    else if (cls == &PyBool_Type)
        t.bits = OD_TB(Bool);
    else if (cls == &PyFloat_Type)
        t.bits = OD_TB(Float);
    else if (cls == &PyUnicode_Type)
        t.bits = OD_TB(Str);
    else if (cls == &PyTuple_Type)
        t.bits = OD_TB(Tuple);
    else if (cls == &PyList_Type)
        t.bits = OD_TB(List);
    else if (cls == &PyDict_Type)
        t.bits = OD_TB(Dict);
    else if (cls == Py_TYPE(Py_None))
        t.bits = OD_TB(NoneType);
    else {
        t.bits = OD_TB(OtherObject);
        t.cls = cls;
        t.version = version;
    }
    return t;
}

OdType od_type_of_object(PyObject *obj)
{
    if (obj == NULL)
        return od_type_named(OD_TN_Null);
    if (PyLong_CheckExact(obj)) {
        int overflow = 0;
        (void)PyLong_AsLongLongAndOverflow(obj, &overflow);
        return od_type_named(overflow ? OD_TN_BigInt : OD_TN_Int);
    }
    return od_type_of_class(Py_TYPE(obj), 0);
}

OdType od_type_join(OdType a, OdType b)
{
    OdType t = {a.bits | b.bits, NULL, 0};
    int ao = (a.bits & OD_TB(OtherObject)) != 0, bo = (b.bits & OD_TB(OtherObject)) != 0;
    if (ao && bo) {
        if (a.cls && a.cls == b.cls) {
            t.cls = a.cls;
            t.version = a.version == b.version ? a.version : 0;
        }
    } else if (ao) {
        t.cls = a.cls;
        t.version = a.version;
    } else if (bo) {
        t.cls = b.cls;
        t.version = b.version;
    }
    return normal(t);
}

OdType od_type_meet(OdType a, OdType b)
{
    OdType t = {a.bits & b.bits, NULL, 0};
    if (t.bits & OD_TB(OtherObject)) {
        if (a.cls && b.cls && a.cls != b.cls)
            t.bits &= ~OD_TB(OtherObject);
        else if (a.version && b.version && a.version != b.version)
            t.bits &= ~OD_TB(OtherObject);
        else {
            t.cls = a.cls ? a.cls : b.cls;
            t.version = a.version ? a.version : b.version;
        }
    }
    return normal(t);
}

int od_type_eq(OdType a, OdType b)
{
    a = normal(a);
    b = normal(b);
    return a.bits == b.bits && a.cls == b.cls && a.version == b.version;
}

int od_type_sub(OdType a, OdType b)
{
    if (a.bits & ~b.bits)
        return 0;
    if ((a.bits & OD_TB(OtherObject)) && b.cls) {
        if (a.cls != b.cls)
            return 0;
        if (b.version && a.version != b.version)
            return 0;
    }
    return 1;
}

void od_type_format(OdType t, char *buf, size_t size)
{
    t = normal(t);
    if (size == 0)
        return;
    buf[0] = '\0';
    if (!t.cls) {
        for (int n = 0; n < OD_TN__COUNT; n++)
            if (named_bits[n] == t.bits) {
                snprintf(buf, size, "%s", named_str[n]);
                return;
            }
        /* Object plus NULL, or any named type plus NULL: "Long?" */
        if ((t.bits & OD_TB(Null)) && t.bits != OD_TB(Null)) {
            OdType inner = t;
            inner.bits &= ~OD_TB(Null);
            for (int n = 0; n < OD_TN__COUNT; n++)
                if (named_bits[n] == inner.bits) {
                    snprintf(buf, size, "%s?", named_str[n]);
                    return;
                }
        }
    }
    size_t len = 0;
    uint32_t bits = t.bits;
    if ((bits & (OD_TB(SmallInt) | OD_TB(BigInt))) == (OD_TB(SmallInt) | OD_TB(BigInt))) {
        len += (size_t)snprintf(buf + len, size - len, "Long");
        bits &= ~(OD_TB(SmallInt) | OD_TB(BigInt));
    }
    for (int i = 0; i < OD_TBIT__COUNT && len < size; i++) {
        if (!(bits & (1u << i)))
            continue;
        const char *sep = len ? "|" : "";
        if (i == OD_TBIT_OtherObject && t.cls) {
            if (t.version)
                len += (size_t)snprintf(buf + len, size - len, "%sInstance(%s@%u)", sep,
                                        t.cls->tp_name, t.version);
            else
                len += (size_t)snprintf(buf + len, size - len, "%sInstance(%s)", sep,
                                        t.cls->tp_name);
        } else if (i == OD_TBIT_SmallInt) {
            len += (size_t)snprintf(buf + len, size - len, "%sInt", sep);
        } else {
            len += (size_t)snprintf(buf + len, size - len, "%s%s", sep, bit_str[i]);
        }
    }
}

int od_type_parse(const char *text, OdType *out)
{
    OdType t = {0, NULL, 0};
    const char *p = text;
    while (*p) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);
        int opt = n > 0 && p[n - 1] == '?';
        size_t m = opt ? n - 1 : n;
        int found = 0;
        for (int k = 0; k < OD_TN__COUNT && !found; k++)
            if (strlen(named_str[k]) == m && strncmp(named_str[k], p, m) == 0) {
                t.bits |= named_bits[k];
                found = 1;
            }
        if (!found)
            return -1;
        if (opt)
            t.bits |= OD_TB(Null);
        p += n;
        if (*p == '|')
            p++;
    }
    *out = t;
    return 0;
}
