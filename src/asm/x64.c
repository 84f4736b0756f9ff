/* asm/x64.c — x86-64 encodings. See x64.h for the contract. */
#include "x64.h"
#include "scratch.h"

#include <stdlib.h>
#include <string.h>

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
    int32_t *p = od_scratch_realloc(a->labels, (size_t)cap * sizeof *p);
    if (!p)
        return -1;
    a->labels = p;
    int32_t *q = od_scratch_realloc(a->label_nfix, (size_t)cap * sizeof *q);
    if (!q)
        return -1;  /* labels grew alone: harmless, caplabels still bounds both */
    a->label_nfix = q;
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

static void grow(OdAsm *a, size_t need)
{
    if (a->failed || a->len + need <= a->cap)
        return;
    size_t cap = a->cap ? a->cap * 2 : 1024;
    while (cap < a->len + need)
        cap *= 2;
    if (set_code_cap(a, cap) < 0)
        a->failed = 1;
}

void od_emit_bytes(OdAsm *a, const void *p, size_t n)
{
    grow(a, n);
    if (a->failed)
        return;
    memcpy(a->buf + a->len, p, n);
    a->len += n;
}

/* The hot path of code emission: one byte, with room checked inline. */
static inline void byte(OdAsm *a, uint8_t b)
{
    if (__builtin_expect(a->len < a->cap, 1))
        a->buf[a->len++] = b;
    else
        od_emit_bytes(a, &b, 1);
}

static inline void imm32(OdAsm *a, int32_t v)
{
    if (__builtin_expect(a->len + 4 <= a->cap, 1)) {
        memcpy(a->buf + a->len, &v, 4);
        a->len += 4;
    } else {
        od_emit_bytes(a, &v, 4);
    }
}

static void imm64(OdAsm *a, int64_t v) { od_emit_bytes(a, &v, 8); }

void od_asm_init(OdAsm *a) { memset(a, 0, sizeof *a); }

void od_asm_reserve(OdAsm *a, size_t bytes, int labels, int fixups)
{
    /* Best effort: what cannot be reserved now grows on demand (and fails then). */
    if (a->failed)
        return;
    if (bytes > a->cap)
        (void)set_code_cap(a, bytes);
    if (labels > a->caplabels)
        (void)set_label_cap(a, labels);
    if (fixups > a->capfixups)
        (void)set_fixup_cap(a, fixups);
}

void od_asm_free(OdAsm *a)
{
    free(a->plt);
    od_scratch_free(a->buf);
    od_scratch_free(a->labels);
    od_scratch_free(a->label_nfix);
    od_scratch_free(a->fixups);
    memset(a, 0, sizeof *a);
}

OdLabel od_label_new(OdAsm *a)
{
    if (a->nlabels == a->caplabels
        && set_label_cap(a, a->caplabels ? a->caplabels * 2 : 64) < 0) {
        a->failed = 1;
        return 0;
    }
    a->labels[a->nlabels] = -1;
    return a->nlabels++;
}

void od_label_bind(OdAsm *a, OdLabel l)
{
    if (!a->failed) {
        a->labels[l] = (int32_t)a->len;
        a->label_nfix[l] = a->nfixups;
    }
}

int32_t od_label_offset(const OdAsm *a, OdLabel l) { return a->labels[l]; }

int od_drop_trailing_jmp(OdAsm *a, OdLabel l, OdLabel first)
{
    if (a->failed || a->nfixups == 0 || a->len < 5)
        return 0;
    OdFixup *last = &a->fixups[a->nfixups - 1];
    if (last->label != l || last->at != (int32_t)a->len - 4 || a->buf[a->len - 5] != 0xE9)
        return 0;
    for (OdLabel i = first; i < a->nlabels; i++)
        if (a->labels[i] == (int32_t)a->len)
            return 0; /* something jumps to just after the jmp */
    a->nfixups--;
    a->len -= 5;
    return 1;
}

/* Record that the 4 bytes just emitted hold label - (end of those bytes). */
static void fixup_kind_here(OdAsm *a, OdLabel l, OdFixKind kind)
{
    if (a->failed)
        return;
    if (a->nfixups == a->capfixups
        && set_fixup_cap(a, a->capfixups ? a->capfixups * 2 : 128) < 0) {
        a->failed = 1;
        return;
    }
    a->fixups[a->nfixups].at = (int32_t)a->len - 4;
    a->fixups[a->nfixups].label = l;
    a->fixups[a->nfixups].kind = kind;
    a->nfixups++;
}

static void fixup_here(OdAsm *a, OdLabel l) { fixup_kind_here(a, l, OD_FIX_OTHER); }

/* Start offset and length of the jump instruction holding fix-up f. */
static int32_t jump_start(const OdFixup *f) { return f->at - (f->kind == OD_FIX_JCC ? 2 : 1); }
static int32_t jump_length(const OdFixup *f) { return f->kind == OD_FIX_JCC ? 6 : 5; }

/* What relaxation does with a jump: keeps it long, makes it short (rel8), or drops it (an
 * unconditional jump to the very next instruction, which the emitters leave where one
 * path falls into the join another jumps to). */
enum { JUMP_LONG, JUMP_SHORT, JUMP_DROPPED };

static int32_t jump_saving(const OdFixup *f, char how)
{
    return how == JUMP_SHORT ? jump_length(f) - 2 : how == JUMP_DROPPED ? jump_length(f) : 0;
}

static void sum_savings(const OdFixup *fx, int n, const char *shrt, int32_t *saved_upto)
{
    saved_upto[0] = 0;
    for (int i = 0; i < n; i++)
        saved_upto[i + 1] = saved_upto[i] + jump_saving(&fx[i], shrt[i]);
}

/* Shorten every jump whose target is within a rel8's reach and drop unconditional ones to
 * the next instruction, then rebuild the buffer and move the labels.
 *
 * One pass, on the distances as emitted: shortening a jump only brings other targets
 * closer, so iterating to a fixpoint found a few more short jumps, but its rounds cost 40%
 * of od_asm_finish for 0.25% of code (email_parse: od_asm_finish 26.9M -> 15.9M
 * instructions, 130.3 -> 130.6 bytes per bytecode instruction). */
static int relax_jumps(OdAsm *a)
{
    int n = a->nfixups, ok = -1;
    char *shrt = od_scratch_calloc((size_t)n + 1, 1);
    int32_t *saved_upto = od_scratch_calloc((size_t)n + 1, sizeof *saved_upto);
    int32_t *pos8 = od_scratch_calloc((size_t)n + 1, sizeof *pos8);
    OdLabel *target8 = od_scratch_calloc((size_t)n + 1, sizeof *target8);
    if (!shrt || !saved_upto || !pos8 || !target8)
        goto done;
    OdFixup *fx = a->fixups;
    /* Backwards, so that a jump followed by dropped jumps (a chain of joins) sees where
     * they end: [drop_from, drop_to) is the run of dropped jumps found last. */
    int32_t drop_from = -1, drop_to = -1;
    for (int i = n - 1; i >= 0; i--) {
        if (fx[i].kind == OD_FIX_OTHER || a->labels[fx[i].label] < 0)
            continue;
        int32_t target = a->labels[fx[i].label];
        int32_t start = jump_start(&fx[i]);
        int32_t end = start + jump_length(&fx[i]);
        int32_t reach = drop_from == end ? drop_to : end;
        int32_t disp = target - (start + 2); /* as a rel8, nothing else shortened */
        if (fx[i].kind == OD_FIX_JMP && target >= end && target <= reach) {
            shrt[i] = JUMP_DROPPED;   /* lands right after itself once the run is gone */
            drop_to = reach;
            drop_from = start;
        } else if (disp >= -128 && disp <= 127) {
            shrt[i] = JUMP_SHORT;
        }
    }
    sum_savings(fx, n, shrt, saved_upto);
    if (saved_upto[n] == 0) {
        ok = 0;
        goto done;
    }
    /* In place: code only moves towards the start (to <= from), and fix-up i is read
     * before slot `kept` <= i is written. */
    size_t from = 0, to = 0;
    int kept = 0;
    for (int i = 0; i < n; i++) {
        if (!shrt[i]) {
            OdFixup f = fx[i];
            f.at -= saved_upto[i];
            a->fixups[kept++] = f;
            continue;
        }
        size_t start = (size_t)jump_start(&fx[i]);
        uint8_t cc = a->buf[start + 1];
        OdFixKind kind = (OdFixKind)fx[i].kind;
        target8[i] = fx[i].label;
        memmove(a->buf + to, a->buf + from, start - from);
        to += start - from;
        from = start + (size_t)jump_length(&fx[i]);
        if (shrt[i] == JUMP_DROPPED)
            continue;
        a->buf[to] = kind == OD_FIX_JMP ? 0xEB : (uint8_t)(0x70 | (cc & 0x0F));
        pos8[i] = (int32_t)to + 1;
        to += 2;
    }
    memmove(a->buf + to, a->buf + from, a->len - from);
    to += a->len - from;
    for (int l = 0; l < a->nlabels; l++)
        if (a->labels[l] >= 0)
            a->labels[l] -= saved_upto[a->label_nfix[l]];
    for (int i = 0; i < n; i++) {
        if (shrt[i] != JUMP_SHORT)
            continue;
        int32_t disp = a->labels[target8[i]] - (pos8[i] + 1);
        if (disp < -128 || disp > 127)
            goto done; /* cannot happen: distances only shrank */
        a->buf[pos8[i]] = (uint8_t)(int8_t)disp;
    }
    a->len = to;
    a->nfixups = kept;
    ok = 0;
done:
    od_scratch_free(shrt);
    od_scratch_free(saved_upto);
    od_scratch_free(pos8);
    od_scratch_free(target8);
    return ok;
}

int od_asm_finish(OdAsm *a)
{
    if (a->failed)
        return -1;
    if (!a->no_relax && relax_jumps(a) < 0) /* (jumps to labels never bound stay long: failed below) */
        return -1;
    for (int i = 0; i < a->nfixups; i++) {
        int32_t target = a->labels[a->fixups[i].label];
        if (target < 0)
            return -1;
        int32_t rel = target - (a->fixups[i].at + 4);
        memcpy(a->buf + a->fixups[i].at, &rel, 4);
    }
    return 0;
}

/* REX prefix: W selects 64-bit operand size; R extends ModRM.reg; B extends rm/base. */
static void rex(OdAsm *a, int w, int reg, int rm, int force)
{
    uint8_t r = (uint8_t)(0x40 | (w ? 8 : 0) | ((reg & 8) ? 4 : 0) | ((rm & 8) ? 1 : 0));
    if (r != 0x40 || force)
        byte(a, r);
}

static void modrm_rr(OdAsm *a, int reg, int rm)
{
    byte(a, (uint8_t)(0xC0 | ((reg & 7) << 3) | (rm & 7)));
}

/* ModRM (+SIB) (+disp) for [base + disp]. */
static void modrm_mem(OdAsm *a, int reg, int base, int32_t disp)
{
    int mod;
    if (disp == 0 && (base & 7) != OD_RBP)
        mod = 0;
    else if (disp >= -128 && disp <= 127)
        mod = 1;
    else
        mod = 2;
    byte(a, (uint8_t)((mod << 6) | ((reg & 7) << 3) | (base & 7)));
    if ((base & 7) == OD_RSP)
        byte(a, 0x24); /* SIB: no index, base = rsp/r12 */
    if (mod == 1)
        byte(a, (uint8_t)(int8_t)disp);
    else if (mod == 2)
        imm32(a, disp);
}

/* Generic "op r64, r/m64" forms. */
static void op_rr(OdAsm *a, uint8_t opc, int reg, int rm)
{
    rex(a, 1, reg, rm, 0);
    byte(a, opc);
    modrm_rr(a, reg, rm);
}

static void op_rm(OdAsm *a, uint8_t opc, int reg, int base, int32_t disp)
{
    rex(a, 1, reg, base, 0);
    byte(a, opc);
    modrm_mem(a, reg, base, disp);
}

void od_mov_rr(OdAsm *a, OdReg dst, OdReg src) { op_rr(a, 0x89, src, dst); }

void od_mov_ri(OdAsm *a, OdReg dst, int64_t imm)
{
    if (imm >= 0 && imm <= 0xFFFFFFFFLL) {       /* mov r32, imm32 zero-extends */
        rex(a, 0, 0, dst, 0);
        byte(a, (uint8_t)(0xB8 + (dst & 7)));
        imm32(a, (int32_t)(uint32_t)imm);
    } else if (imm >= INT32_MIN && imm <= INT32_MAX) {
        rex(a, 1, 0, dst, 0);                    /* mov r/m64, simm32 */
        byte(a, 0xC7);
        modrm_rr(a, 0, dst);
        imm32(a, (int32_t)imm);
    } else {
        rex(a, 1, 0, dst, 0);                    /* movabs r64, imm64 */
        byte(a, (uint8_t)(0xB8 + (dst & 7)));
        imm64(a, imm);
    }
}

void od_mov_rm(OdAsm *a, OdReg dst, OdReg base, int32_t disp) { op_rm(a, 0x8B, dst, base, disp); }
void od_mov_mr(OdAsm *a, OdReg base, int32_t disp, OdReg src) { op_rm(a, 0x89, src, base, disp); }

void od_mov_mi(OdAsm *a, OdReg base, int32_t disp, int32_t imm)
{
    op_rm(a, 0xC7, 0, base, disp);
    imm32(a, imm);
}

void od_mov32_mi(OdAsm *a, OdReg base, int32_t disp, int32_t imm)
{
    rex(a, 0, 0, base, 0);
    byte(a, 0xC7);
    modrm_mem(a, 0, base, disp);
    imm32(a, imm);
}

void od_mov32_mr(OdAsm *a, OdReg base, int32_t disp, OdReg src)
{
    rex(a, 0, src, base, 0);
    byte(a, 0x89);
    modrm_mem(a, src, base, disp);
}

void od_mov8_mi(OdAsm *a, OdReg base, int32_t disp, int8_t imm)
{
    rex(a, 0, 0, base, 0);
    byte(a, 0xC6);
    modrm_mem(a, 0, base, disp);
    byte(a, (uint8_t)imm);
}

void od_movsxd_rm(OdAsm *a, OdReg dst, OdReg base, int32_t disp) { op_rm(a, 0x63, dst, base, disp); }
void od_lea(OdAsm *a, OdReg dst, OdReg base, int32_t disp) { op_rm(a, 0x8D, dst, base, disp); }

void od_lea_rip_label(OdAsm *a, OdReg dst, OdLabel l)
{
    rex(a, 1, dst, 0, 0);
    byte(a, 0x8D);
    byte(a, (uint8_t)(((dst & 7) << 3) | 5)); /* mod=00 rm=101: RIP-relative */
    imm32(a, 0);
    fixup_here(a, l);
}

/* Group-1 ALU with immediate: /0 add, /5 sub, /7 cmp. */
static void alu_ri(OdAsm *a, int ext, int r, int32_t imm)
{
    rex(a, 1, 0, r, 0);
    if (imm >= -128 && imm <= 127) {
        byte(a, 0x83);
        modrm_rr(a, ext, r);
        byte(a, (uint8_t)(int8_t)imm);
    } else {
        byte(a, 0x81);
        modrm_rr(a, ext, r);
        imm32(a, imm);
    }
}

static void alu_mi(OdAsm *a, int w, int ext, int base, int32_t disp, int32_t imm)
{
    rex(a, w, 0, base, 0);
    if (imm >= -128 && imm <= 127) {
        byte(a, 0x83);
        modrm_mem(a, ext, base, disp);
        byte(a, (uint8_t)(int8_t)imm);
    } else {
        byte(a, 0x81);
        modrm_mem(a, ext, base, disp);
        imm32(a, imm);
    }
}

void od_add_ri(OdAsm *a, OdReg r, int32_t imm) { alu_ri(a, 0, r, imm); }
void od_sub_ri(OdAsm *a, OdReg r, int32_t imm) { alu_ri(a, 5, r, imm); }
void od_cmp_ri(OdAsm *a, OdReg r, int32_t imm) { alu_ri(a, 7, r, imm); }
void od_add_mi(OdAsm *a, OdReg base, int32_t disp, int32_t imm) { alu_mi(a, 1, 0, base, disp, imm); }
void od_sub_mi(OdAsm *a, OdReg base, int32_t disp, int32_t imm) { alu_mi(a, 1, 5, base, disp, imm); }
void od_add32_mi(OdAsm *a, OdReg base, int32_t disp, int32_t imm) { alu_mi(a, 0, 0, base, disp, imm); }
void od_cmp_mi(OdAsm *a, OdReg base, int32_t disp, int32_t imm) { alu_mi(a, 1, 7, base, disp, imm); }
void od_cmp32_mi(OdAsm *a, OdReg base, int32_t disp, int32_t imm) { alu_mi(a, 0, 7, base, disp, imm); }

void od_cmp8_mi(OdAsm *a, OdReg base, int32_t disp, int8_t imm)
{
    rex(a, 0, 0, base, 0);
    byte(a, 0x80);
    modrm_mem(a, 7, base, disp);
    byte(a, (uint8_t)imm);
}

void od_cmp16_mi(OdAsm *a, OdReg base, int32_t disp, int8_t imm)
{
    byte(a, 0x66); /* operand-size prefix: 16 bits */
    rex(a, 0, 0, base, 0);
    byte(a, 0x83);
    modrm_mem(a, 7, base, disp);
    byte(a, (uint8_t)imm);
}

void od_cmp_rr(OdAsm *a, OdReg x, OdReg y) { op_rr(a, 0x39, y, x); }
void od_cmp_rm(OdAsm *a, OdReg r, OdReg base, int32_t disp) { op_rm(a, 0x3B, r, base, disp); }
void od_test_rr(OdAsm *a, OdReg x, OdReg y) { op_rr(a, 0x85, y, x); }
void od_add_rr(OdAsm *a, OdReg dst, OdReg src) { op_rr(a, 0x01, src, dst); }
void od_sub_rr(OdAsm *a, OdReg dst, OdReg src) { op_rr(a, 0x29, src, dst); }
void od_and_rr(OdAsm *a, OdReg dst, OdReg src) { op_rr(a, 0x21, src, dst); }
void od_or_rr(OdAsm *a, OdReg dst, OdReg src) { op_rr(a, 0x09, src, dst); }

static void op32_rr(OdAsm *a, uint8_t opc, int reg, int rm)
{
    rex(a, 0, reg, rm, 0);
    byte(a, opc);
    modrm_rr(a, reg, rm);
}

void od_or32_rr(OdAsm *a, OdReg dst, OdReg src) { op32_rr(a, 0x09, src, dst); }
void od_xor32_rr(OdAsm *a, OdReg dst, OdReg src) { op32_rr(a, 0x31, src, dst); }
void od_xor_rr(OdAsm *a, OdReg dst, OdReg src) { op_rr(a, 0x31, src, dst); }

void od_neg_r(OdAsm *a, OdReg r)
{
    rex(a, 1, 0, r, 0);
    byte(a, 0xF7);
    modrm_rr(a, 3, r);
}

void od_sar_ri(OdAsm *a, OdReg r, uint8_t imm)
{
    rex(a, 1, 0, r, 0);
    byte(a, 0xC1);
    modrm_rr(a, 7, r);
    byte(a, imm);
}

/* Byte registers 4-7 need a REX prefix (spl..dil, not ah..bh). */
void od_setcc_r(OdAsm *a, OdCond cc, OdReg r)
{
    rex(a, 0, 0, r, r >= 4);
    byte(a, 0x0F);
    byte(a, (uint8_t)(0x90 | cc));
    modrm_rr(a, 0, r);
}

void od_movzx8_rr(OdAsm *a, OdReg dst, OdReg src)
{
    rex(a, 0, dst, src, src >= 4);
    byte(a, 0x0F);
    byte(a, 0xB6);
    modrm_rr(a, dst, src);
}

void od_imul_rr(OdAsm *a, OdReg dst, OdReg src)
{
    rex(a, 1, dst, src, 0);
    byte(a, 0x0F);
    byte(a, 0xAF);
    modrm_rr(a, dst, src);
}

/* SSE forms: [prefix] [REX] 0F opc ModRM. The mandatory prefix goes before REX. */
static void sse_xm(OdAsm *a, uint8_t prefix, uint8_t opc, int xmm, int base, int32_t disp)
{
    byte(a, prefix);
    rex(a, 0, xmm, base, 0);
    byte(a, 0x0F);
    byte(a, opc);
    modrm_mem(a, xmm, base, disp);
}

void od_movsd_xm(OdAsm *a, int xmm, OdReg base, int32_t disp) { sse_xm(a, 0xF2, 0x10, xmm, base, disp); }
void od_movsd_mx(OdAsm *a, OdReg base, int32_t disp, int xmm) { sse_xm(a, 0xF2, 0x11, xmm, base, disp); }
void od_sd_xm(OdAsm *a, OdSdOp op, int xmm, OdReg base, int32_t disp)
{
    sse_xm(a, 0xF2, (uint8_t)op, xmm, base, disp);
}
void od_ucomisd_xm(OdAsm *a, int xmm, OdReg base, int32_t disp) { sse_xm(a, 0x66, 0x2E, xmm, base, disp); }

/* Register forms: [prefix] [REX] 0F opc ModRM(11, reg, rm); w selects a 64-bit GPR source. */
static void sse_xr(OdAsm *a, uint8_t prefix, int w, uint8_t opc, int reg, int rm)
{
    byte(a, prefix);
    rex(a, w, reg, rm, 0);
    byte(a, 0x0F);
    byte(a, opc);
    modrm_rr(a, reg, rm);
}

void od_sd_xx(OdAsm *a, OdSdOp op, int dst, int src) { sse_xr(a, 0xF2, 0, (uint8_t)op, dst, src); }
void od_ucomisd_xx(OdAsm *a, int x, int y) { sse_xr(a, 0x66, 0, 0x2E, x, y); }
void od_cvtsi2sd_xr(OdAsm *a, int xmm, OdReg src) { sse_xr(a, 0xF2, 1, 0x2A, xmm, src); }
void od_movq_xr(OdAsm *a, int xmm, OdReg src) { sse_xr(a, 0x66, 1, 0x6E, xmm, src); }
void od_movq_rx(OdAsm *a, OdReg dst, int xmm) { sse_xr(a, 0x66, 1, 0x7E, xmm, dst); }
void od_movapd_xx(OdAsm *a, int dst, int src) { sse_xr(a, 0x66, 0, 0x28, dst, src); }

void od_cmp32_rm(OdAsm *a, OdReg r, OdReg base, int32_t disp)
{
    rex(a, 0, r, base, 0);
    byte(a, 0x3B);
    modrm_mem(a, r, base, disp);
}

void od_mov32_rm(OdAsm *a, OdReg dst, OdReg base, int32_t disp)
{
    rex(a, 0, dst, base, 0);
    byte(a, 0x8B);
    modrm_mem(a, dst, base, disp);
}

void od_shl_ri(OdAsm *a, OdReg r, uint8_t imm)
{
    rex(a, 1, 0, r, 0);
    byte(a, 0xC1);
    modrm_rr(a, 4, r);
    byte(a, imm);
}

void od_shl_cl(OdAsm *a, OdReg r)
{
    rex(a, 1, 0, r, 0);
    byte(a, 0xD3);
    modrm_rr(a, 4, r);
}

void od_movzx8_rm(OdAsm *a, OdReg dst, OdReg base, int32_t disp)
{
    rex(a, 0, dst, base, 0);
    byte(a, 0x0F);
    byte(a, 0xB6);
    modrm_mem(a, dst, base, disp);
}

void od_test32_rr(OdAsm *a, OdReg x, OdReg y)
{
    rex(a, 0, y, x, 0);
    byte(a, 0x85);
    modrm_rr(a, y, x);
}

void od_jmp(OdAsm *a, OdLabel l)
{
    byte(a, 0xE9);
    imm32(a, 0);
    fixup_kind_here(a, l, OD_FIX_JMP);
}

void od_jcc(OdAsm *a, OdCond cc, OdLabel l)
{
    byte(a, 0x0F);
    byte(a, (uint8_t)(0x80 | cc));
    imm32(a, 0);
    fixup_kind_here(a, l, OD_FIX_JCC);
}

static void ff_group(OdAsm *a, int ext, OdReg r)
{
    rex(a, 0, 0, r, 0);
    byte(a, 0xFF);
    modrm_rr(a, ext, r);
}

void od_jmp_r(OdAsm *a, OdReg r) { ff_group(a, 4, r); }
void od_call_r(OdAsm *a, OdReg r) { ff_group(a, 2, r); }

static OdLabel plt_label(OdAsm *a, const void *fn)
{
    for (int i = 0; i < a->nplt; i++)
        if (a->plt[i].fn == fn)
            return a->plt[i].label;
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
    a->plt[a->nplt].fn = fn;
    a->plt[a->nplt].label = od_label_new(a);
    return a->plt[a->nplt++].label;
}

void od_call_abs(OdAsm *a, const void *fn)
{
    OdLabel l = plt_label(a, fn);
    byte(a, 0xE8);
    imm32(a, 0);
    fixup_here(a, l);
}

void od_call_label(OdAsm *a, OdLabel l)
{
    byte(a, 0xE8);
    imm32(a, 0);
    fixup_here(a, l);
}

void od_emit_plt(OdAsm *a)
{
    for (int i = 0; i < a->nplt; i++) {
        od_label_bind(a, a->plt[i].label);
        od_mov_ri(a, OD_RAX, (int64_t)(intptr_t)a->plt[i].fn);
        od_jmp_r(a, OD_RAX);
    }
}

void od_push(OdAsm *a, OdReg r)
{
    rex(a, 0, 0, r, 0);
    byte(a, (uint8_t)(0x50 + (r & 7)));
}

void od_pop(OdAsm *a, OdReg r)
{
    rex(a, 0, 0, r, 0);
    byte(a, (uint8_t)(0x58 + (r & 7)));
}

void od_ret(OdAsm *a) { byte(a, 0xC3); }
void od_int3(OdAsm *a) { byte(a, 0xCC); }
