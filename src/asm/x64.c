/* asm/x64.c — x86-64 encodings. See x64.h for the contract, and for how an instruction is
 * stored (its "Inline fast paths": the most frequent encoders live there). */
#include "x64.h"
#include "scratch.h"

#include <stdlib.h>
#include <string.h>

/* Short names for the instruction builders of x64.h. */
typedef OdX64Bytes Bytes;
#define none od_x64_none
#define add od_x64_add
#define rex od_x64_rex
#define modrm_rr od_x64_modrm_rr
#define emit od_x64_emit
#define put od_x64_put
#define put_mem od_x64_put_mem
#define put_slow od_x64_put_slow
#define rel32 od_x64_rel32
#define op_rr od_x64_op_rr
#define op_rm od_x64_op_rm
#define alu_ri od_x64_alu_ri
#define alu_mi od_x64_alu_mi

#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)

/* Capacity for `cap` bytes of code, labels or fix-ups: 0, or -1 (nothing changed) if out
 * of memory. Growth on demand doubles; od_asm_reserve sizes from an estimate. */
static int set_code_cap(OdAsm *a, size_t cap)
{
    uint8_t *p = od_scratch_realloc(a->buf, cap);
    if (!p)
        return -1;
    a->buf = p;
    a->cap = cap;
    return 0;
}

static int set_label_cap(OdAsm *a, int cap)
{
    OdLabelSlot *p = od_scratch_realloc(a->labels, (size_t)cap * sizeof *p);
    if (!p)
        return -1;
    a->labels = p;
    a->caplabels = cap;
    return 0;
}

static int set_fixup_cap(OdAsm *a, int cap)
{
    OdFixup *p = od_scratch_realloc(a->fixups, (size_t)cap * sizeof *p);
    if (!p)
        return -1;
    a->fixups = p;
    a->capfixups = cap;
    return 0;
}

/* Where instructions go once the buffer could not grow: they are thrown away (`failed`
 * is set, od_asm_finish refuses). Compilation holds the GIL, so one sink serves all. */
static uint8_t sink[OD_ASM_SLACK];

static __attribute__((noinline)) uint8_t *room_slow(OdAsm *a, size_t need)
{
    if (a->len + need + OD_ASM_SLACK <= a->cap)
        return a->buf + a->len;   /* (a jump's slow path: the fix-ups were full) */
    if (!a->failed) {
        size_t cap = a->cap ? a->cap * 2 : 1024;
        while (cap < a->len + need + OD_ASM_SLACK)
            cap *= 2;
        if (set_code_cap(a, cap) == 0)
            return a->buf + a->len;
        a->failed = 1;
    }
    return sink;
}

void od_emit_bytes(OdAsm *a, const void *p, size_t n)
{
    if (a->len + n + OD_ASM_SLACK > a->cap && room_slow(a, n) == sink)
        return;
    memcpy(a->buf + a->len, p, n);
    a->len += n;
}

/* ---- the slow path of the inline encoders (x64.h): grow, or throw away after a failure */

__attribute__((noinline, cold)) void od_x64_put_slow(OdAsm *a, uint64_t head, int hn,
                                                     uint64_t tail, int tn)
{
    uint8_t *p = room_slow(a, 0);
    memcpy(p, &head, 8);
    memcpy(p + hn, &tail, 8);
    a->len += (size_t)(hn + tn);
}

/* ---- buffer, labels, fix-ups ----------------------------------------------------------- */

void od_asm_init(OdAsm *a) { memset(a, 0, sizeof *a); }

void od_asm_reserve(OdAsm *a, size_t bytes, int labels, int fixups)
{
    /* Best effort: what cannot be reserved now grows on demand (and fails then). */
    if (a->failed)
        return;
    if (bytes + OD_ASM_SLACK > a->cap)
        (void)set_code_cap(a, bytes + OD_ASM_SLACK);
    if (labels > a->caplabels)
        (void)set_label_cap(a, labels);
    if (fixups + 1 > a->capfixups)
        (void)set_fixup_cap(a, fixups + 1);   /* + od_asm_finish's sentinel */
}

void od_asm_drop_labels(OdAsm *a)
{
    od_scratch_free(a->labels);
    od_scratch_free(a->fixups);
    a->labels = NULL;
    a->fixups = NULL;
    a->nlabels = a->caplabels = a->nfixups = a->capfixups = 0;
}

void od_asm_free(OdAsm *a)
{
    free(a->relocs);
    free(a->plt);
    free(a->plt_index);
    od_scratch_free(a->buf);
    od_scratch_free(a->labels);
    od_scratch_free(a->fixups);
    memset(a, 0, sizeof *a);
}

OdLabel od_label_new_slow(OdAsm *a)
{
    if (a->nlabels == a->caplabels
        && set_label_cap(a, a->caplabels ? a->caplabels * 2 : 64) < 0) {
        a->failed = 1;
        return 0;
    }
    a->labels[a->nlabels] = (OdLabelSlot){-1, 0};
    return a->nlabels++;
}

int32_t od_label_offset(const OdAsm *a, OdLabel l) { return a->labels[l].off; }

int od_drop_trailing_jmp(OdAsm *a, OdLabel l, OdLabel first)
{
    if (a->failed || a->nfixups == 0 || a->len < 5)
        return 0;
    OdFixup *last = &a->fixups[a->nfixups - 1];
    if (last->label != l || last->at != (int32_t)a->len - 4 || a->buf[a->len - 5] != 0xE9)
        return 0;
    for (OdLabel i = first; i < a->nlabels; i++)
        if (a->labels[i].off == (int32_t)a->len)
            return 0; /* something jumps to just after the jmp */
    a->nfixups--;
    a->len -= 5;
    return 1;
}

static __attribute__((noinline)) void fixup_slow(OdAsm *a, OdLabel l, OdFixKind kind, int32_t at)
{
    if (a->failed)
        return;
    if (set_fixup_cap(a, a->capfixups ? a->capfixups * 2 : 128) < 0) {
        a->failed = 1;
        return;
    }
    a->fixups[a->nfixups++] = (OdFixup){at, l, kind, 0};
}

/* Record that the rel32 field at `at` holds label - (at + 4). */
static inline void fixup(OdAsm *a, OdLabel l, OdFixKind kind, int32_t at)
{
    if (UNLIKELY(a->nfixups == a->capfixups))
        fixup_slow(a, l, kind, at);
    else
        a->fixups[a->nfixups++] = (OdFixup){at, l, kind, 0};
}

__attribute__((noinline, cold)) void od_x64_rel32_slow(OdAsm *a, uint64_t head, int hn,
                                                       OdLabel l, OdFixKind kind)
{
    put_slow(a, head, hn, 0, 4);
    fixup(a, l, kind, (int32_t)a->len - 4);
}

/* ---- od_asm_finish: jump relaxation and fix-up resolution ------------------------------ */

/* What relaxation saves at a jump: nothing (it stays long), jmp 5 -> 2 or jcc 6 -> 2 bytes
 * (rel8), or all 5 of an unconditional jump to the very next instruction (which the
 * emitters leave where one path falls into the join another jumps to). */
enum { SAVE_SHORT_JMP = 3, SAVE_SHORT_JCC = 4, SAVE_DROPPED = 5 };

static int patch_all(OdAsm *a)
{
    const OdLabelSlot *lb = a->labels;
    for (int i = 0; i < a->nfixups; i++) {
        if (a->fixups[i].kind == OD_FIX_ABS) {
            a->relocs[a->fixups[i].label].at = a->fixups[i].at;
            continue;
        }
        int32_t target = lb[a->fixups[i].label].off;
        if (target < 0)
            return -1;
        int32_t rel = target - (a->fixups[i].at + 4);
        memcpy(a->buf + a->fixups[i].at, &rel, 4);
    }
    return 0;
}

/* Shorten every jump whose target is within a rel8's reach and drop unconditional ones to
 * the next instruction, then move the code up, move the labels and resolve every fix-up.
 *
 * One decision pass, on the distances as emitted: shortening a jump only brings other
 * targets closer, so iterating to a fixpoint found a few more short jumps, but its rounds
 * cost 40% of od_asm_finish for 0.25% of code (email_parse: od_asm_finish 26.9M -> 15.9M
 * instructions, 130.3 -> 130.6 bytes per bytecode instruction).
 *
 * No scratch memory: fixups[i].tail holds the bytes saved at fix-ups i.. (a sentinel
 * fixups[n] holds 0), so the bytes saved before fix-up k, or before a label bound after k
 * fix-ups, are tail[0] - tail[k]. Long fix-ups are patched where they were emitted, with
 * the final distance, before the code holding them moves (only towards the start). The
 * fix-ups are used up: nfixups is 0 afterwards. */
static int relax_and_patch(OdAsm *a)
{
    int n = a->nfixups;
    if (n == 0)
        return 0;
    if (n == a->capfixups && set_fixup_cap(a, n + 1) < 0)
        return -1;
    OdFixup *fx = a->fixups;
    OdLabelSlot *lb = a->labels;
    uint8_t *buf = a->buf;
    fx[n].tail = 0;
    /* Backwards, so that a jump followed by dropped jumps (a chain of joins) sees where
     * they end: [drop_from, drop_to) is the run of dropped jumps found last. A fix-up's own
     * saving goes into kind's upper bits (kind & 0xFF is the OdFixKind). */
    int32_t saved = 0, drop_from = -1, drop_to = -1;
    for (int i = n - 1; i >= 0; i--) {
        OdFixup *f = &fx[i];
        if (f->kind == OD_FIX_JMP || f->kind == OD_FIX_JCC) {
            int32_t target = lb[f->label].off, end = f->at + 4, save = 0;
            if (f->kind == OD_FIX_JMP) {
                int32_t reach = drop_from == end ? drop_to : end;
                if (target >= end && target <= reach) {
                    save = SAVE_DROPPED;  /* lands right after itself once the run is gone */
                    drop_to = reach;
                    drop_from = end - 5;
                } else if ((uint32_t)(target - (end - 3) + 128) < 256 && target >= 0) {
                    save = SAVE_SHORT_JMP; /* rel8 from the end of a 2-byte jmp */
                }
            } else if ((uint32_t)(target - (end - 4) + 128) < 256 && target >= 0) {
                save = SAVE_SHORT_JCC;
            }
            saved += save;
            f->kind |= save << 8;
        }
        f->tail = saved;
    }
    if (saved == 0) {
        if (patch_all(a) < 0)
            return -1;
        a->nfixups = 0;
        return 0;
    }
    /* Unbound labels have nfix 0, and fx[0].tail == saved: they stay at -1. */
    for (int l = 0; l < a->nlabels; l++)
        lb[l].off -= saved - fx[lb[l].nfix].tail;
    size_t from = 0, to = 0;
    int32_t before = 0;    /* bytes saved before fix-up i */
    for (int i = 0; i < n; i++) {
        const OdFixup *f = &fx[i];
        if (f->kind == OD_FIX_ABS) {
            a->relocs[f->label].at = f->at - before;
            continue;
        }
        int32_t target = lb[f->label].off, at = f->at;
        int save = f->kind >> 8;
        if (target < 0)
            return -1;   /* an unbound label */
        if (save == 0) {
            int32_t rel = target - (at - before + 4);
            memcpy(buf + at, &rel, 4);
            continue;
        }
        before += save;
        size_t start = (size_t)at - ((f->kind & 0xFF) == OD_FIX_JCC ? 2 : 1);
        uint8_t op = (f->kind & 0xFF) == OD_FIX_JMP ? 0xEB
                                                    : (uint8_t)(0x70 | (buf[start + 1] & 0x0F));
        memmove(buf + to, buf + from, start - from);
        to += start - from;
        from = (size_t)at + 4;
        if (save == SAVE_DROPPED)
            continue;
        int32_t disp = target - (int32_t)(to + 2);
        if (disp < -128 || disp > 127)
            return -1; /* cannot happen: distances only shrank */
        buf[to] = op;
        buf[to + 1] = (uint8_t)(int8_t)disp;
        to += 2;
    }
    memmove(buf + to, buf + from, a->len - from);
    a->len = to + (a->len - from);
    a->nfixups = 0;
    return 0;
}

int od_asm_finish(OdAsm *a)
{
    if (a->failed)
        return -1;
    if (a->no_relax) {
        if (patch_all(a) < 0)
            return -1;
        a->nfixups = 0;
        return 0;
    }
    return relax_and_patch(a);
}

/* ---- encodings -------------------------------------------------------------------------- */




void od_mov_mi(OdAsm *a, OdReg base, int32_t disp, int32_t imm)
{
    put_mem(a, add(rex(none(), 1, 0, base, 0), 0xC7), 0, base, disp, (uint32_t)imm, 4);
}

void od_mov32_mi(OdAsm *a, OdReg base, int32_t disp, int32_t imm)
{
    put_mem(a, add(rex(none(), 0, 0, base, 0), 0xC7), 0, base, disp, (uint32_t)imm, 4);
}

void od_mov32_mr(OdAsm *a, OdReg base, int32_t disp, OdReg src)
{
    put_mem(a, add(rex(none(), 0, src, base, 0), 0x89), src, base, disp, 0, 0);
}

void od_mov8_mr(OdAsm *a, OdReg base, int32_t disp, OdReg src)
{
    /* with a REX prefix (an empty one if need be) 4-7 are spl/bpl/sil/dil, not ah..bh */
    put_mem(a, add(rex(none(), 0, src, base, src >= 4 && src < 8), 0x88), src, base, disp, 0, 0);
}

void od_mov8_mi(OdAsm *a, OdReg base, int32_t disp, int8_t imm)
{
    put_mem(a, add(rex(none(), 0, 0, base, 0), 0xC6), 0, base, disp, (uint8_t)imm, 1);
}

void od_movsxd_rm(OdAsm *a, OdReg dst, OdReg base, int32_t disp) { op_rm(a, 0x63, dst, base, disp); }

void od_lea_rip_label(OdAsm *a, OdReg dst, OdLabel l)
{
    /* mod=00 rm=101: RIP-relative */
    Bytes b = add(add(rex(none(), 1, dst, 0, 0), 0x8D), ((dst & 7) << 3) | 5);
    rel32(a, b.v, b.n, l, OD_FIX_OTHER);
}

void od_sub_ri(OdAsm *a, OdReg r, int32_t imm) { alu_ri(a, 5, r, imm); }

void od_cmp8_mi(OdAsm *a, OdReg base, int32_t disp, int8_t imm)
{
    put_mem(a, add(rex(none(), 0, 0, base, 0), 0x80), 7, base, disp, (uint8_t)imm, 1);
}

void od_cmp16_mi(OdAsm *a, OdReg base, int32_t disp, int8_t imm)
{
    /* 0x66: operand-size prefix, 16 bits */
    put_mem(a, add(rex(add(none(), 0x66), 0, 0, base, 0), 0x83), 7, base, disp, (uint8_t)imm, 1);
}

void od_sub_rr(OdAsm *a, OdReg dst, OdReg src) { op_rr(a, 0x29, src, dst); }
void od_and_rr(OdAsm *a, OdReg dst, OdReg src) { op_rr(a, 0x21, src, dst); }
void od_or_rr(OdAsm *a, OdReg dst, OdReg src) { op_rr(a, 0x09, src, dst); }

static inline void op32_rr(OdAsm *a, uint8_t opc, int reg, int rm)
{
    put(a, modrm_rr(add(rex(none(), 0, reg, rm, 0), opc), reg, rm), 0, 0);
}

void od_or32_rr(OdAsm *a, OdReg dst, OdReg src) { op32_rr(a, 0x09, src, dst); }
void od_xor32_rr(OdAsm *a, OdReg dst, OdReg src) { op32_rr(a, 0x31, src, dst); }
void od_xor_rr(OdAsm *a, OdReg dst, OdReg src) { op_rr(a, 0x31, src, dst); }

void od_neg_r(OdAsm *a, OdReg r)
{
    put(a, modrm_rr(add(rex(none(), 1, 0, r, 0), 0xF7), 3, r), 0, 0);
}

void od_sar_ri(OdAsm *a, OdReg r, uint8_t imm)
{
    put(a, modrm_rr(add(rex(none(), 1, 0, r, 0), 0xC1), 7, r), imm, 1);
}

/* Byte registers 4-7 need a REX prefix (spl..dil, not ah..bh). */
void od_setcc_r(OdAsm *a, OdCond cc, OdReg r)
{
    put(a, modrm_rr(add(add(rex(none(), 0, 0, r, r >= 4), 0x0F), 0x90 | cc), 0, r), 0, 0);
}

void od_movzx8_rr(OdAsm *a, OdReg dst, OdReg src)
{
    put(a, modrm_rr(add(add(rex(none(), 0, dst, src, src >= 4), 0x0F), 0xB6), dst, src), 0, 0);
}

void od_imul_rr(OdAsm *a, OdReg dst, OdReg src)
{
    put(a, modrm_rr(add(add(rex(none(), 1, dst, src, 0), 0x0F), 0xAF), dst, src), 0, 0);
}

/* SSE forms: [prefix] [REX] 0F opc ModRM. The mandatory prefix goes before REX. */
static inline void sse_xm(OdAsm *a, uint8_t prefix, uint8_t opc, int xmm, int base, int32_t disp)
{
    Bytes b = add(add(rex(add(none(), prefix), 0, xmm, base, 0), 0x0F), opc);
    put_mem(a, b, xmm, base, disp, 0, 0);
}

void od_movsd_xm(OdAsm *a, int xmm, OdReg base, int32_t disp) { sse_xm(a, 0xF2, 0x10, xmm, base, disp); }
void od_movsd_mx(OdAsm *a, OdReg base, int32_t disp, int xmm) { sse_xm(a, 0xF2, 0x11, xmm, base, disp); }
void od_sd_xm(OdAsm *a, OdSdOp op, int xmm, OdReg base, int32_t disp)
{
    sse_xm(a, 0xF2, (uint8_t)op, xmm, base, disp);
}
void od_ucomisd_xm(OdAsm *a, int xmm, OdReg base, int32_t disp) { sse_xm(a, 0x66, 0x2E, xmm, base, disp); }

/* Register forms: [prefix] [REX] 0F opc ModRM(11, reg, rm); w selects a 64-bit GPR source. */
static inline void sse_xr(OdAsm *a, uint8_t prefix, int w, uint8_t opc, int reg, int rm)
{
    put(a, modrm_rr(add(add(rex(add(none(), prefix), w, reg, rm, 0), 0x0F), opc), reg, rm), 0, 0);
}

void od_sd_xx(OdAsm *a, OdSdOp op, int dst, int src) { sse_xr(a, 0xF2, 0, (uint8_t)op, dst, src); }
void od_ucomisd_xx(OdAsm *a, int x, int y) { sse_xr(a, 0x66, 0, 0x2E, x, y); }
void od_cvtsi2sd_xr(OdAsm *a, int xmm, OdReg src) { sse_xr(a, 0xF2, 1, 0x2A, xmm, src); }
void od_movq_xr(OdAsm *a, int xmm, OdReg src) { sse_xr(a, 0x66, 1, 0x6E, xmm, src); }
void od_movq_rx(OdAsm *a, OdReg dst, int xmm) { sse_xr(a, 0x66, 1, 0x7E, xmm, dst); }
void od_movapd_xx(OdAsm *a, int dst, int src) { sse_xr(a, 0x66, 0, 0x28, dst, src); }

void od_cmp32_rm(OdAsm *a, OdReg r, OdReg base, int32_t disp)
{
    put_mem(a, add(rex(none(), 0, r, base, 0), 0x3B), r, base, disp, 0, 0);
}

void od_mov32_rm(OdAsm *a, OdReg dst, OdReg base, int32_t disp)
{
    put_mem(a, add(rex(none(), 0, dst, base, 0), 0x8B), dst, base, disp, 0, 0);
}

void od_shl_ri(OdAsm *a, OdReg r, uint8_t imm)
{
    put(a, modrm_rr(add(rex(none(), 1, 0, r, 0), 0xC1), 4, r), imm, 1);
}

void od_shl_cl(OdAsm *a, OdReg r)
{
    put(a, modrm_rr(add(rex(none(), 1, 0, r, 0), 0xD3), 4, r), 0, 0);
}


void od_test32_rr(OdAsm *a, OdReg x, OdReg y) { op32_rr(a, 0x85, y, x); }


static inline void ff_group(OdAsm *a, int ext, OdReg r)
{
    put(a, modrm_rr(add(rex(none(), 0, 0, r, 0), 0xFF), ext, r), 0, 0);
}

void od_jmp_r(OdAsm *a, OdReg r) { ff_group(a, 4, r); }
void od_call_r(OdAsm *a, OdReg r) { ff_group(a, 2, r); }

/* ---- calls to absolute addresses through the buffer's PLT ------------------------------ */

static inline unsigned plt_hash(const void *fn)
{
    uint64_t h = (uint64_t)(uintptr_t)fn * 0x9E3779B97F4A7C15ull;   /* Fibonacci hashing */
    return (unsigned)(h >> 40);
}

/* Re-index the PLT into a table of `size` slots (a power of two). 0 or -1. */
static int plt_rehash(OdAsm *a, int size)
{
    int *t = calloc((size_t)size, sizeof *t);
    if (!t)
        return -1;
    for (int i = 0; i < a->nplt; i++) {
        unsigned h = plt_hash(a->plt[i].fn) & (unsigned)(size - 1);
        while (t[h])
            h = (h + 1) & (unsigned)(size - 1);
        t[h] = i + 1;
    }
    free(a->plt_index);
    a->plt_index = t;
    a->plt_mask = size - 1;
    return 0;
}

static __attribute__((noinline)) OdLabel plt_add(OdAsm *a, const void *fn, int data)
{
    if (a->nplt == a->capplt) {
        int cap = a->capplt ? a->capplt * 2 : 16;
        OdPltEntry *p = realloc(a->plt, (size_t)cap * sizeof *p);
        if (!p) {
            a->failed = 1;
            return 0;
        }
        a->plt = p;
        a->capplt = cap;
    }
    OdLabel l = od_label_new(a);
    a->plt[a->nplt].fn = fn;
    a->plt[a->nplt].label = l;
    a->plt[a->nplt].data = data;
    a->nplt++;
    /* At most half full, so that probes stay short. */
    int size = a->plt_index ? a->plt_mask + 1 : 0;
    if (2 * a->nplt > size) {
        if (plt_rehash(a, size ? 2 * size : 64) < 0)
            a->failed = 1;
    } else {
        unsigned h = plt_hash(fn) & (unsigned)a->plt_mask;
        while (a->plt_index[h])
            h = (h + 1) & (unsigned)a->plt_mask;
        a->plt_index[h] = a->nplt;
    }
    return l;
}

/* The call entry (data 0) or the constant (data 1) of `fn`, one per value. */
static inline OdLabel plt_label(OdAsm *a, const void *fn, int data)
{
    if (LIKELY(a->plt_index != NULL)) {
        unsigned h = plt_hash(fn) & (unsigned)a->plt_mask;
        for (int k; (k = a->plt_index[h]) != 0; h = (h + 1) & (unsigned)a->plt_mask)
            if (a->plt[k - 1].fn == fn && a->plt[k - 1].data == data)
                return a->plt[k - 1].label;
    }
    return plt_add(a, fn, data);
}

/* A direct call's relocation: its index, or -1 (and `failed`) out of memory. */
static int reloc_add(OdAsm *a, const void *fn)
{
    if (a->nrelocs == a->caprelocs) {
        int cap = a->caprelocs ? a->caprelocs * 2 : 64;
        OdCodeReloc *p = realloc(a->relocs, (size_t)cap * sizeof *p);
        if (!p) {
            a->failed = 1;
            return -1;
        }
        a->relocs = p;
        a->caprelocs = cap;
    }
    a->relocs[a->nrelocs] = (OdCodeReloc){-1, fn};
    return a->nrelocs++;
}

/* `call fn` as a relocation when fn is within reach of any code (od_codemem_near): 1 if
 * so (emitted, or `failed` set), 0 if the caller must call it some other way. */
static int call_direct(OdAsm *a, const void *fn)
{
    if (!od_codemem_near(fn))
        return 0;
    int r = reloc_add(a, fn);
    if (r >= 0)
        rel32(a, 0xE8, 1, r, OD_FIX_ABS);
    return 1;
}

void od_call_abs(OdAsm *a, const void *fn)
{
    if (!call_direct(a, fn))
        rel32(a, 0xE8, 1, plt_label(a, fn, 0), OD_FIX_OTHER);
}

void *od_asm_install(OdAsm *a, size_t *reserved)
{
    return od_codemem_install(a->buf, a->len, a->relocs, a->nrelocs, reserved);
}

/* ---- the constant pool (OdAsm.pool) ------------------------------------------------------ */

/* op r64, [rip+constant] (mod=00 rm=101: RIP-relative) */
static void op_rpool(OdAsm *a, uint8_t opc, OdReg r, int64_t imm)
{
    Bytes b = add(add(rex(none(), 1, r, 0, 0), opc), ((r & 7) << 3) | 5);
    rel32(a, b.v, b.n, plt_label(a, (const void *)(intptr_t)imm, 1), OD_FIX_OTHER);
}

void od_mov_rpool(OdAsm *a, OdReg dst, int64_t imm) { op_rpool(a, 0x8B, dst, imm); }
void od_cmp_rpool(OdAsm *a, OdReg r, int64_t imm) { op_rpool(a, 0x3B, r, imm); }
void od_call_pool(OdAsm *a, const void *fn)
{
    if (!call_direct(a, fn))
        op_rpool(a, 0xFF, (OdReg)2, (int64_t)(intptr_t)fn);   /* FF /2: the reg field is the opcode's */
}

void od_jmp_pool(OdAsm *a, const void *fn)
{
    if (!od_codemem_near(fn)) {
        op_rpool(a, 0xFF, (OdReg)4, (int64_t)(intptr_t)fn);   /* FF /4 */
        return;
    }
    int r = reloc_add(a, fn);
    if (r >= 0)
        rel32(a, 0xE9, 1, r, OD_FIX_ABS);
}

void od_cmp_r_imm64(OdAsm *a, OdReg r, int64_t imm, OdReg scratch)
{
    if (imm >= INT32_MIN && imm <= INT32_MAX) {
        od_cmp_ri(a, r, (int32_t)imm);
    } else if (a->pool) {
        od_cmp_rpool(a, r, imm);
    } else {
        od_mov_ri(a, scratch, imm);
        od_cmp_rr(a, r, scratch);
    }
}

/* The call entries (`mov rax, fn; jmp rax`, the immediate in the instruction: the
 * disassembly names them from it), then the constants, 8 bytes each. */
void od_emit_plt(OdAsm *a)
{
    a->pool_start = -1;
    for (int i = 0; i < a->nplt; i++) {
        if (a->plt[i].data)
            continue;
        od_label_bind(a, a->plt[i].label);
        Bytes b = add(rex(none(), 1, 0, OD_RAX, 0), 0xB8);     /* movabs rax, fn */
        od_x64_emit(a, b.v, b.n, (uint64_t)(uintptr_t)a->plt[i].fn, 8);
        od_jmp_r(a, OD_RAX);
    }
    for (int i = 0; i < a->nplt; i++) {
        if (!a->plt[i].data)
            continue;
        if (a->pool_start < 0) {
            a->pool_start = od_label_new(a);
            od_label_bind(a, a->pool_start);
        }
        od_label_bind(a, a->plt[i].label);
        uint64_t v = (uint64_t)(uintptr_t)a->plt[i].fn;
        od_emit_bytes(a, &v, 8);
    }
}

void od_push(OdAsm *a, OdReg r) { put(a, add(rex(none(), 0, 0, r, 0), 0x50 + (r & 7)), 0, 0); }
void od_pop(OdAsm *a, OdReg r) { put(a, add(rex(none(), 0, 0, r, 0), 0x58 + (r & 7)), 0, 0); }
void od_ret(OdAsm *a) { put(a, add(none(), 0xC3), 0, 0); }
void od_int3(OdAsm *a) { put(a, add(none(), 0xCC), 0, 0); }
