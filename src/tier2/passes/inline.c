/* tier2/passes/inline.c — calls of methods that only return an argument or a constant.
 *
 * A CallMethod whose callee is a LoadTypeMethod (a Python function found in the receiver's
 * type, under the `attrs` pass's type-version guard) and whose body is, in base opcodes,
 *   RESUME 0; LOAD_FAST k; RETURN_VALUE       (k an argument: `return self`)
 *   RESUME 0; LOAD_CONST c; RETURN_VALUE      (`return True`, `return None`)
 * called with exactly its positional parameters (no keywords, no keyword-only parameters,
 * no star parameters, no cells), becomes
 *   c = LoadSlot +func_code f; GuardIs <the code> c
 * and its result is the argument k (or the constant): no frame is pushed, nothing runs.
 *
 * Why: raytrace's `Vector.dot` and `Vector.__sub__` call `other.mustBeVector()`, whose
 * body is `return self`, about 520 K times a run (raytrace 1); each went through the call
 * thunk and the callee's own prologue and epilogue, about 140 instructions.
 *
 * What guards it: the function is the one the type held at compile time (the receiver's
 * GuardTypeVersion: a method replaced in the class changes the version, and LoadTypeMethod
 * exists only under that guard); its code can still be replaced (`f.__code__ = ...` leaves
 * the type alone), so its func_code is compared with the code read here (GuardIs: an exit
 * at the CALL, whose frame state has the method and its arguments: the interpreter makes
 * the call). Defaults, globals, closures and annotations are not read by such a body.
 *
 * What is lost: the call's frame. A profiler or tracer set while this code runs does not
 * see the call (tier 2 runs only without tracing at entry); a call at the recursion limit
 * does not raise RecursionError. Sites in fn->no_speculate stay calls. */
#include "passes.h"

#include "../../bytecode/decode.h"

#include <stddef.h>

/* What `i` returns when its callee's body is trivial (above), else NULL (the call stays;
 * a decoding error is cleared). The argument's value; or `i` itself with *constant set
 * (borrowed from the callee's co_consts) for a constant. *code: the callee's code. */
static OdHirInstr *trivial_result(OdHirInstr *i, PyCodeObject **code,
                                  PyObject **constant)
{
    OdHirInstr *m = i->ops[0];
    *constant = NULL;
    if (i->obj || !m || m->op != OD_HOP_LoadTypeMethod || !m->imm)
        return NULL;
    PyObject *f = (PyObject *)(intptr_t)m->imm;
    if (!PyFunction_Check(f))
        return NULL;
    PyCodeObject *co = (PyCodeObject *)((PyFunctionObject *)f)->func_code;
    int npassed = i->nops - 1;   /* self and the arguments */
    if (co->co_argcount != npassed || co->co_kwonlyargcount || co->co_ncellvars
        || co->co_nfreevars
        || (co->co_flags & (CO_VARARGS | CO_VARKEYWORDS | CO_GENERATOR | CO_COROUTINE
                            | CO_ASYNC_GENERATOR | CO_ITERABLE_COROUTINE)))
        return NULL;
    OdBytecode bc;
    if (od_bytecode_decode(co, &bc) < 0) {
        PyErr_Clear();
        return NULL;
    }
    OdHirInstr *r = NULL;
    if (bc.ninstrs == 3 && bc.instrs[0].opcode == RESUME && bc.instrs[0].oparg == 0
        && bc.instrs[2].opcode == RETURN_VALUE) {
        int op = bc.instrs[1].opcode, arg = bc.instrs[1].oparg;
        if (op == LOAD_FAST && arg < npassed)
            r = i->ops[1 + arg];
        else if (op == LOAD_CONST && arg < PyTuple_GET_SIZE(co->co_consts)) {
            *constant = PyTuple_GET_ITEM(co->co_consts, arg);
            r = i;  /* a Const made by the caller */
        }
    }
    od_bytecode_free(&bc);
    *code = co;
    return r;
}

static int inline_call(OdHirFunc *fn, OdHirInstr *i)
{
    PyCodeObject *co = NULL;
    PyObject *constant;
    OdHirInstr *value = trivial_result(i, &co, &constant);
    if (!value)
        return 0;
    if (!od_hir_own(fn, (PyObject *)co) || (constant && !od_hir_own(fn, constant)))
        return -1;
    OdHirInstr *load = od_hir_new_before(fn, i, OD_HOP_LoadSlot, i->ops[0], NULL);
    if (!load)
        return -1;
    load->imm = (int64_t)offsetof(PyFunctionObject, func_code);
    PyObject *name = PyUnicode_InternFromString("__code__");   /* for dis only */
    load->obj = name ? od_hir_own(fn, name) : NULL;
    Py_XDECREF(name);
    if (!load->obj)
        return -1;
    OdHirInstr *g = od_hir_new_before(fn, i, OD_HOP_GuardIs, load, NULL);
    if (!g)
        return -1;
    g->obj = (PyObject *)co;
    if (constant)
        return od_hir_replace_by_const(fn, i, constant) < 0 ? -1 : 1;
    if (od_hir_replace_all_uses(fn, i, value) < 0)
        return -1;
    od_hir_remove(i);
    return 1;
}

int od_hir_pass_inline(OdHirFunc *fn)
{
    for (int b = 0; b < fn->nblocks; b++)
        for (OdHirInstr *i = fn->blocks[b]->first, *next; i; i = next) {
            next = i->next;
            if (i->op == OD_HOP_CallMethod && od_hir_may_speculate(fn, i)
                && inline_call(fn, i) < 0)
                return -1;
        }
    return 0;
}
