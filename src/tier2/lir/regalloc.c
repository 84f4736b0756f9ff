/* tier2/lir/regalloc.c — liveness and linear-scan register allocation (Poletto & Sarkar).
 *
 * Positions: instruction k of the layout is at 2k. Liveness is a backward data-flow over the
 * blocks (bit sets of vregs); a vreg's interval is one range from its first to its last
 * position (holes are not used), widened to every block it is live through. An exit's
 * values are uses at its instruction, or just after it when the exit follows a call (they
 * must survive the call). An interval that spans a call position (CallH, Truth, ForIter,
 * GlobalLoad: their slow paths call)
 * gets a callee-saved GPR or a stack slot (no XMM register survives a call); others take
 * any free register of their class, caller-saved first. With none free the interval lives
 * in a stack slot for its whole life; slots are reused once their interval has ended.
 * Finally every exit value's location becomes an rsp offset (lir.h). */
#include "lir.h"

#include <stdlib.h>
#include <string.h>

#define SET(s, i) ((s)[(i) >> 6] |= 1ull << ((i)&63))
#define GET(s, i) (((s)[(i) >> 6] >> ((i)&63)) & 1)

static int is_call(const OdLirInstr *i)
{
    return i->op == OD_LOP_CallH || i->op == OD_LOP_Truth || i->op == OD_LOP_ForIter
           || i->op == OD_LOP_GlobalLoad;
}

static void touch(OdLir *L, int v, int pos)
{
    if (v < 0)
        return;
    OdLirVreg *r = &L->vregs[v];
    if (pos < r->start)
        r->start = pos;
    if (pos > r->end)
        r->end = pos;
}

/* Calls f on every vreg an exit reads. */
static void exit_vregs(const OdLir *L, int e, void (*f)(OdLir *, int, int), OdLir *arg, int pos)
{
    const OdLirExit *x = &L->exits[e];
    for (int s = 0; s < x->nlocals + x->depth; s++)
        if (x->slots[s].vreg >= 0)
            f(arg, x->slots[s].vreg, pos);
    for (int h = 0; h < x->nheld; h++)
        f(arg, x->held[h].vreg, pos);
}

static uint64_t *G_use, *G_def;   /* scratch for the set builders below */
static void mark_use(OdLir *L, int v, int pos)
{
    (void)L;
    (void)pos;
    if (!GET(G_def, v))
        SET(G_use, v);
}

static int succs_of(const OdLirBlock *b, int *out)
{
    if (!b->n)
        return 0;
    const OdLirInstr *t = &b->ins[b->n - 1];
    int n = 0;
    for (int k = 0; k < 2; k++)
        if (t->target[k] >= 0)
            out[n++] = t->target[k];
    return n;
}

static int cmp_start(const void *a, const void *b, void *L)
{
    const OdLirVreg *va = &((OdLir *)L)->vregs[*(const int *)a], *vb = &((OdLir *)L)->vregs[*(const int *)b];
    return va->start != vb->start ? (va->start < vb->start ? -1 : 1) : (*(const int *)a - *(const int *)b);
}

static OdLir *sort_L;
static int cmp_start_q(const void *a, const void *b) { return cmp_start(a, b, sort_L); }

int od_lir_regalloc(OdLir *L)
{
    int nv = L->nvregs, words = (nv + 64) / 64, nb = L->nblocks, rc = -1;
    size_t per = sizeof(uint64_t) * (size_t)words;
    uint64_t *use = calloc((size_t)nb + 1, per), *def = calloc((size_t)nb + 1, per);
    uint64_t *in = calloc((size_t)nb + 1, per), *out = calloc((size_t)nb + 1, per);
    int ncalls = 0, pos = 0;
    for (int b = 0; b < nb; b++)
        ncalls += L->blocks[b].n;
    int *calls = malloc(sizeof(int) * (size_t)(ncalls + 1));
    int *order = malloc(sizeof(int) * (size_t)(nv + 1));
    int *slot_free_at = malloc(sizeof(int) * (size_t)(nv + 1));   /* per slot: end of its user */
    int *active = malloc(sizeof(int) * (size_t)(nv + 1));
    if (!use || !def || !in || !out || !calls || !order || !slot_free_at || !active) {
        PyErr_NoMemory();
        goto done;
    }
    ncalls = 0;
    /* positions, use/def sets */
    for (int b = 0; b < nb; b++) {
        OdLirBlock *B = &L->blocks[b];
        G_use = use + (size_t)b * words;
        G_def = def + (size_t)b * words;
        B->start = pos;
        for (int k = 0; k < B->n; k++, pos += 2) {
            OdLirInstr *i = &B->ins[k];
            i->pos = pos;
            for (int s = 0; s < i->nsrc; s++)
                mark_use(L, i->src[s], pos);
            if (i->exit >= 0)
                exit_vregs(L, i->exit, mark_use, L, pos);
            if (i->dst >= 0)
                SET(G_def, i->dst);
            if (i->dst2 >= 0)
                SET(G_def, i->dst2);
            if (is_call(i))
                calls[ncalls++] = pos;
        }
        B->end = pos - 2;
    }
    /* live in / out */
    for (int changed = 1; changed;) {
        changed = 0;
        for (int b = nb - 1; b >= 0; b--) {
            int s[2], ns = succs_of(&L->blocks[b], s);
            uint64_t *o = out + (size_t)b * words, *ib = in + (size_t)b * words;
            for (int k = 0; k < ns; k++)
                for (int w = 0; w < words; w++)
                    o[w] |= in[(size_t)s[k] * words + w];
            for (int w = 0; w < words; w++) {
                uint64_t x = use[(size_t)b * words + w] | (o[w] & ~def[(size_t)b * words + w]);
                if (x != ib[w]) {
                    ib[w] = x;
                    changed = 1;
                }
            }
        }
    }
    /* intervals */
    for (int v = 0; v < nv; v++) {
        L->vregs[v].start = 1 << 30;
        L->vregs[v].end = -1;
    }
    for (int b = 0; b < nb; b++) {
        OdLirBlock *B = &L->blocks[b];
        for (int k = 0; k < B->n; k++) {
            OdLirInstr *i = &B->ins[k];
            for (int s = 0; s < i->nsrc; s++)
                touch(L, i->src[s], i->pos);
            if (i->exit >= 0)
                exit_vregs(L, i->exit, touch, L, i->pos + (L->exits[i->exit].after_call ? 1 : 0));
            touch(L, i->dst, i->pos);
            touch(L, i->dst2, i->pos);
        }
        /* the set bits only (touch keeps a minimum and a maximum: order is free); a loop
         * over every vreg per block was 3 M instructions of hexiom's compiles */
        for (int w = 0; w < words; w++) {
            for (uint64_t m = in[(size_t)b * words + w]; m; m &= m - 1) {
                int v = (w << 6) + __builtin_ctzll(m);
                if (v < nv)
                    touch(L, v, B->start);
            }
            for (uint64_t m = out[(size_t)b * words + w]; m; m &= m - 1) {
                int v = (w << 6) + __builtin_ctzll(m);
                if (v < nv)
                    touch(L, v, B->end + 1);
            }
        }
    }
    for (int v = 0; v < nv; v++) {
        OdLirVreg *r = &L->vregs[v];
        r->crosses_call = 0;
        int lo = 0, hi = ncalls;      /* first call position > start */
        while (lo < hi) {
            int mid = (lo + hi) / 2;
            if (calls[mid] <= r->start)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo < ncalls && calls[lo] < r->end)
            r->crosses_call = 1;
    }
    /* linear scan */
    int n = 0;
    for (int v = 0; v < nv; v++)
        if (L->vregs[v].start <= L->vregs[v].end)
            order[n++] = v;
    sort_L = L;
    qsort(order, (size_t)n, sizeof(int), cmp_start_q);
    int gpr_busy[16] = {0}, xmm_busy[16] = {0}, nactive = 0;
    L->nslots = 0;
    for (int k = 0; k < n; k++) {
        OdLirVreg *r = &L->vregs[order[k]];
        /* expire */
        for (int a = 0; a < nactive;) {
            OdLirVreg *o = &L->vregs[active[a]];
            if (o->end < r->start) {
                if (o->reg >= 0)
                    (o->cls == OD_VR_GPR ? gpr_busy : xmm_busy)[o->reg] = 0;
                else
                    slot_free_at[o->slot] = -1;
                active[a] = active[--nactive];
            } else {
                a++;
            }
        }
        r->reg = -1;
        if (r->cls == OD_VR_GPR) {
            if (!r->crosses_call)
                for (int g = od_lir_ncallee_saved; g < od_lir_ngprs && r->reg < 0; g++)
                    if (!gpr_busy[od_lir_gprs[g]])
                        r->reg = od_lir_gprs[g];
            for (int g = 0; g < od_lir_ncallee_saved && r->reg < 0; g++)
                if (!gpr_busy[od_lir_gprs[g]])
                    r->reg = od_lir_gprs[g];
            if (r->reg >= 0)
                gpr_busy[r->reg] = 1;
        } else if (!r->crosses_call) {
            for (int x = 0; x < od_lir_nxmms && r->reg < 0; x++)
                if (!xmm_busy[od_lir_xmms[x]])
                    r->reg = od_lir_xmms[x];
            if (r->reg >= 0)
                xmm_busy[r->reg] = 1;
        }
        if (r->reg < 0) {
            int s = 0;
            while (s < L->nslots && slot_free_at[s] >= 0)
                s++;
            if (s == L->nslots)
                L->nslots++;
            slot_free_at[s] = r->end;
            r->slot = s;
        }
        active[nactive++] = order[k];
    }
    /* exit locations */
    for (int e = 0; e < L->nexits; e++) {
        OdLirExit *x = &L->exits[e];
        for (int s = 0; s < x->nlocals + x->depth + x->nheld; s++) {
            OdLirVal *v = s < x->nlocals + x->depth ? &x->slots[s] : &x->held[s - x->nlocals - x->depth];
            if (v->vreg < 0)
                continue;
            const OdLirVreg *r = &L->vregs[v->vreg];
            if (r->reg >= 0)
                v->off = OD_LIR_OFF_DUMP + (r->cls == OD_VR_XMM ? 128 : 0) + 8 * r->reg;
            else
                v->off = od_lir_spill_off(L, r->slot);
        }
    }
    rc = 0;
done:
    free(use);
    free(def);
    free(in);
    free(out);
    free(calls);
    free(order);
    free(slot_free_at);
    free(active);
    return rc;
}
