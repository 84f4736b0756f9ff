/* tier1/census.c — the code census (census.h): bytes of machine code by opcode and stub
 * kind. Read by bench/code_census.py; docs/performance.md has what it found. */
#include "census.h"

#include <string.h>

int od_tier1_census_on;

static struct {
    uint64_t units, compact_units, code_bytes, prologue, tails;
    uint64_t main_n[256], main_bytes[256];
    uint64_t stub_n[STUB__COUNT][256], stub_bytes[STUB__COUNT][256];
} census;

static const char *const kind_names[STUB__COUNT] = {
#define OD_STUB_KIND_NAME(name, text) text,
    OD_STUB_KINDS(OD_STUB_KIND_NAME)
#undef OD_STUB_KIND_NAME
};

void od_census_add(Compiler *c, const OdCensusStub *stubs, int nstubs, OdLabel stubs_end)
{
    OdAsm *a = &c->a;
    census.units++;
    census.compact_units += c->compact != 0;
    census.code_bytes += (uint64_t)a->len;
    int n = c->bc.ninstrs;
    int32_t body_end = nstubs ? od_label_offset(a, stubs[0].label) : od_label_offset(a, stubs_end);
    census.prologue += (uint64_t)(n ? od_label_offset(a, c->label_of[0]) : 0);
    for (int i = 0; i < n; i++) {
        const OdInstr *in = &c->bc.instrs[i];
        int32_t end = i + 1 < n ? od_label_offset(a, c->label_of[i + 1]) : body_end;
        census.main_n[in->opcode & 255]++;
        census.main_bytes[in->opcode & 255] += (uint64_t)(end - od_label_offset(a, c->label_of[i]));
    }
    for (int i = 0; i < nstubs; i++) {
        int32_t end = i + 1 < nstubs ? od_label_offset(a, stubs[i + 1].label)
                                     : od_label_offset(a, stubs_end);
        census.stub_n[stubs[i].kind][stubs[i].owner]++;
        census.stub_bytes[stubs[i].kind][stubs[i].owner]
            += (uint64_t)(end - od_label_offset(a, stubs[i].label));
    }
    /* The int3 after the body, thunks, shared tails, epilogue, PLT. */
    census.tails += (uint64_t)a->len - (uint64_t)od_label_offset(a, stubs_end);
}

static int put_pair(PyObject *d, const char *key, uint64_t n, uint64_t bytes)
{
    return od_dict_put(d, key, Py_BuildValue("[KK]", (unsigned long long)n,
                                             (unsigned long long)bytes));
}

static int put_u64(PyObject *d, const char *key, uint64_t v)
{
    return od_dict_put(d, key, PyLong_FromUnsignedLongLong(v));
}

PyObject *od_census_dict(void)
{
    if (!census.units)
        Py_RETURN_NONE;
    PyObject *d = PyDict_New(), *main = PyDict_New(), *stubs = PyDict_New();
    if (!d || !main || !stubs)
        goto fail;
    for (int op = 0; op < 256; op++)
        if (census.main_n[op] && put_pair(main, od_opcode_name(op), census.main_n[op],
                                          census.main_bytes[op]) < 0)
            goto fail;
    for (int k = 0; k < STUB__COUNT; k++) {
        PyObject *byop = PyDict_New();
        if (!byop || PyDict_SetItemString(stubs, kind_names[k], byop) < 0) {
            Py_XDECREF(byop);
            goto fail;
        }
        Py_DECREF(byop);
        for (int op = 0; op < 256; op++)
            if (census.stub_n[k][op] && put_pair(byop, od_opcode_name(op), census.stub_n[k][op],
                                                 census.stub_bytes[k][op]) < 0)
                goto fail;
    }
    if (put_u64(d, "units", census.units) < 0
        || put_u64(d, "compact_units", census.compact_units) < 0
        || put_u64(d, "code_bytes", census.code_bytes) < 0
        || put_u64(d, "prologue", census.prologue) < 0
        || put_u64(d, "unit_tails", census.tails) < 0
        || PyDict_SetItemString(d, "main", main) < 0
        || PyDict_SetItemString(d, "stubs", stubs) < 0)
        goto fail;
    Py_DECREF(main);
    Py_DECREF(stubs);
    return d;
fail:
    Py_XDECREF(d);
    Py_XDECREF(main);
    Py_XDECREF(stubs);
    return NULL;
}

void od_census_reset(void)
{
    memset(&census, 0, sizeof census);
}
