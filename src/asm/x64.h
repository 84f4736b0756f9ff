/* asm/x64.h — a small x86-64 encoder: the instruction forms the tier-1 compiler needs.
 *
 * Contract: append-only byte buffer with labels and rel32 fix-ups. No dependency on
 * CPython. Every operand form here is checked against capstone in tests/test_asm.py.
 * Memory operands are always [base + disp32] (or disp8 when it fits); RSP/R12 as base get
 * the SIB byte they need, RBP/R13 get an explicit displacement. Errors (out of memory,
 * unbound label) set `failed`; the caller checks it once at the end. */
#ifndef OD_ASM_X64_H
#define OD_ASM_X64_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "codemem.h"

typedef enum {
    OD_RAX = 0, OD_RCX, OD_RDX, OD_RBX, OD_RSP, OD_RBP, OD_RSI, OD_RDI,
    OD_R8, OD_R9, OD_R10, OD_R11, OD_R12, OD_R13, OD_R14, OD_R15
} OdReg;

/* Condition codes, numbered as the low nibble of Jcc/SETcc. */
typedef enum {
    OD_CC_O = 0, OD_CC_NO = 1, OD_CC_B = 2, OD_CC_AE = 3, OD_CC_E = 4, OD_CC_NE = 5,
    OD_CC_BE = 6, OD_CC_A = 7, OD_CC_S = 8, OD_CC_NS = 9, OD_CC_P = 10, OD_CC_NP = 11,
    OD_CC_L = 12, OD_CC_GE = 13, OD_CC_LE = 14, OD_CC_G = 15
} OdCond;

typedef int OdLabel;

/* Bytes the buffer keeps beyond the code: an instruction is stored with fixed-size
 * (8- and 4-byte) writes that may reach up to 16 bytes past where it starts. */
#define OD_ASM_SLACK 16

/* What holds a rel32: jumps may be shortened to rel8 by od_asm_finish; OD_FIX_ABS is a
 * direct call of an absolute address (its `label` indexes OdAsm.relocs), resolved when the
 * code is installed (od_asm_install). */
typedef enum { OD_FIX_OTHER, OD_FIX_JMP, OD_FIX_JCC, OD_FIX_ABS } OdFixKind;

typedef struct {
    int32_t at;       /* offset of the rel32 field */
    OdLabel label;
    int32_t kind;     /* OdFixKind (od_asm_finish: | bytes relaxation saves here << 8) */
    int32_t tail;     /* od_asm_finish: bytes relaxation saves at this fix-up and after it */
} OdFixup;

typedef struct {
    int32_t off;      /* bound offset, -1 while unbound */
    int32_t nfix;     /* fix-ups recorded before it (all lie before it); 0 while unbound */
} OdLabelSlot;

typedef struct {
    const void *fn;   /* the call target, or the constant (data) */
    OdLabel label;
    int data;         /* 0: a call entry (od_call_abs), 1: an 8-byte constant (od_mov_ri) */
} OdPltEntry;

typedef struct {
    uint8_t *buf;
    size_t len, cap;  /* cap - OD_ASM_SLACK is usable: encoders store whole words past len.
                       * After a failure, len and the bytes mean nothing. */
    OdPltEntry *plt;  /* od_call_abs targets, emitted once each by od_emit_plt */
    int nplt, capplt;
    int *plt_index;   /* open-addressed hash of plt by fn: index + 1, 0 = empty */
    int plt_mask;     /* its size - 1 (a power of two, at least twice nplt) */
    OdLabelSlot *labels;
    int nlabels, caplabels;
    OdFixup *fixups;  /* in emission order, so by increasing `at` */
    int nfixups, capfixups;
    OdCodeReloc *relocs; /* direct calls (od_call_abs): `at` final after od_asm_finish */
    int nrelocs, caprelocs;
    int failed;
    int no_relax;      /* keep every jump rel32 (od_asm_finish does no relaxation) */
    int pool;          /* od_mov_ri of a 64-bit value loads it from a constant after the
                        * PLT (mov r64, [rip+c]: 7 bytes, not 10; one copy per value) */
    OdLabel pool_start; /* od_emit_plt: where the constants start, -1 if there are none */
    uintptr_t pool_skip_lo, pool_skip_hi; /* values in [lo, hi) stay immediates: used once
                        * each (a constant of its own costs 15 bytes, not 10) */
} OdAsm;

void od_asm_init(OdAsm *a);
void od_asm_free(OdAsm *a);
/* After od_asm_finish, once every label offset the caller needs has been read: frees the
 * labels and fix-ups (a large unit's are most of its scratch), so that they are not held
 * while the code is installed. od_label_offset must not be called after it. */
void od_asm_drop_labels(OdAsm *a);
/* Room for `bytes` of code, `labels` labels and `fixups` fix-ups up front, so that a buffer
 * sized from an estimate grows (and is copied) rarely. Best effort: what it cannot reserve
 * grows on demand later (and sets `failed` then if memory is still short). */
void od_asm_reserve(OdAsm *a, size_t bytes, int labels, int fixups);
/* Resolve fix-ups; returns 0, or -1 if any label is unbound or the buffer failed.
 * Jumps whose target ends up within reach of a rel8 are first shortened (jmp 5 -> 2 bytes,
 * jcc 6 -> 2), and the code behind them moves up: label offsets are final only after
 * this. Position-independent otherwise: everything that refers to a position in the
 * buffer does so through a label. */
int od_asm_finish(OdAsm *a);
/* After od_asm_finish: the code copied into executable memory with its relocations
 * resolved (asm/codemem.h od_codemem_install). */
void *od_asm_install(OdAsm *a, size_t *reserved);

/* New and bind are inline: emitters call them several times per bytecode instruction, and
 * each is a store or two (the slow path, growing the labels, is od_label_new_slow). */
OdLabel od_label_new_slow(OdAsm *a);

static inline OdLabel od_label_new(OdAsm *a)
{
    if (__builtin_expect(a->nlabels == a->caplabels, 0))
        return od_label_new_slow(a);
    a->labels[a->nlabels] = (OdLabelSlot){-1, 0};
    return a->nlabels++;
}

static inline void od_label_bind(OdAsm *a, OdLabel l)
{
    if (__builtin_expect(!a->failed, 1)) {
        a->labels[l].off = (int32_t)a->len;
        a->labels[l].nfix = a->nfixups;
    }
}
/* If the last instruction emitted is `jmp l` (l not yet bound), and no label from
 * `first` on is bound after it, remove it: the caller binds l right here. 1 if removed. */
int od_drop_trailing_jmp(OdAsm *a, OdLabel l, OdLabel first);
/* Offset a bound label resolved to (valid after binding). */
int32_t od_label_offset(const OdAsm *a, OdLabel l);

void od_emit_bytes(OdAsm *a, const void *p, size_t n);

/* Encoders. The most frequent forms (od_mov_rr/ri/rm/mr, od_lea, od_add_ri, od_cmp_ri,
 * od_add/sub/cmp_mi, od_add32/cmp32_mi, od_cmp_rr/rm, od_add_rm, od_test_rr, od_add_rr, od_movzx8_rm,
 * od_jmp, od_jcc, od_call_label) are inline, at the end of this file. */

/* Register and immediate moves. */
void od_mov_mi(OdAsm *a, OdReg base, int32_t disp, int32_t imm); /* mov qword [m], simm32 */
void od_mov32_mi(OdAsm *a, OdReg base, int32_t disp, int32_t imm); /* mov dword [m], imm32 */
void od_mov32_mr(OdAsm *a, OdReg base, int32_t disp, OdReg src); /* mov dword [m], r32 */
void od_mov8_mi(OdAsm *a, OdReg base, int32_t disp, int8_t imm);   /* mov byte [m], imm8 */
void od_mov8_mr(OdAsm *a, OdReg base, int32_t disp, OdReg src);   /* mov byte [m], r8 */
void od_movsxd_rm(OdAsm *a, OdReg dst, OdReg base, int32_t disp); /* movsxd r64, dword [m] */
void od_lea_rip_label(OdAsm *a, OdReg dst, OdLabel l);          /* lea r64, [rip+label] */

/* Arithmetic and compares. */
void od_sub_ri(OdAsm *a, OdReg r, int32_t imm);
void od_cmp32_rm(OdAsm *a, OdReg r, OdReg base, int32_t disp);    /* cmp r32, dword [m] */
void od_mov32_rm(OdAsm *a, OdReg dst, OdReg base, int32_t disp);  /* mov r32, dword [m] */
void od_shl_ri(OdAsm *a, OdReg r, uint8_t imm);                    /* shl r64, imm8 */
void od_shl_cl(OdAsm *a, OdReg r);                                 /* shl r64, cl */
void od_cmp8_mi(OdAsm *a, OdReg base, int32_t disp, int8_t imm);   /* cmp byte [m], imm8 */
void od_cmp16_mi(OdAsm *a, OdReg base, int32_t disp, int8_t imm);  /* cmp word [m], simm8 */
void od_sub_rr(OdAsm *a, OdReg dst, OdReg src);                   /* sub r64, r64 */
void od_imul_rr(OdAsm *a, OdReg dst, OdReg src);                  /* imul r64, r64 */
void od_test32_rr(OdAsm *a, OdReg x, OdReg y);
void od_and_rr(OdAsm *a, OdReg dst, OdReg src);                   /* and r64, r64 */
void od_or_rr(OdAsm *a, OdReg dst, OdReg src);                    /* or r64, r64 */
void od_or32_rr(OdAsm *a, OdReg dst, OdReg src);                  /* or r32, r32 */
void od_xor32_rr(OdAsm *a, OdReg dst, OdReg src);                 /* xor r32, r32 (flags!) */
void od_xor_rr(OdAsm *a, OdReg dst, OdReg src);                   /* xor r64, r64 */
void od_neg_r(OdAsm *a, OdReg r);                                  /* neg r64 */
void od_sar_ri(OdAsm *a, OdReg r, uint8_t imm);                    /* sar r64, imm8 */
void od_setcc_r(OdAsm *a, OdCond cc, OdReg r);                     /* setcc r8 (low byte) */
void od_movzx8_rr(OdAsm *a, OdReg dst, OdReg src);                 /* movzx r32, r8 */

/* Scalar double arithmetic (SSE2). XMM registers are numbered 0-15 like the GPRs. */
typedef enum { OD_SD_SQRT = 0x51, OD_SD_ADD = 0x58, OD_SD_MUL = 0x59, OD_SD_SUB = 0x5C, OD_SD_DIV = 0x5E } OdSdOp;
void od_movsd_xm(OdAsm *a, int xmm, OdReg base, int32_t disp);    /* movsd xmm, [m] */
void od_movsd_mx(OdAsm *a, OdReg base, int32_t disp, int xmm);    /* movsd [m], xmm */
void od_sd_xm(OdAsm *a, OdSdOp op, int xmm, OdReg base, int32_t disp); /* addsd.. xmm, [m] */
void od_ucomisd_xm(OdAsm *a, int xmm, OdReg base, int32_t disp);  /* ucomisd xmm, [m] */
void od_sd_xx(OdAsm *a, OdSdOp op, int dst, int src);             /* addsd.. xmm, xmm */
void od_ucomisd_xx(OdAsm *a, int x, int y);                       /* ucomisd xmm, xmm */
void od_cvtsi2sd_xr(OdAsm *a, int xmm, OdReg src);                /* cvtsi2sd xmm, r64 */
void od_movq_xr(OdAsm *a, int xmm, OdReg src);                    /* movq xmm, r64 */
void od_movq_rx(OdAsm *a, OdReg dst, int xmm);                    /* movq r64, xmm */
void od_movapd_xx(OdAsm *a, int dst, int src);                    /* movapd xmm, xmm */

/* Control flow. All label jumps use rel32. */
void od_jmp_r(OdAsm *a, OdReg r);
void od_call_r(OdAsm *a, OdReg r);
/* Call an absolute address: `call fn` itself when fn is within reach of any code
 * (asm/codemem.h od_codemem_near: a relocation od_asm_install resolves), otherwise a 5-byte
 * `call rel32` to this buffer's entry for `fn`, which is `mov rax, imm64; jmp rax` (rax is
 * clobbered by any call anyway), 7 bytes shorter per call site than an inline
 * `mov rax; call rax`. od_emit_plt() emits the entries; call it once, after all code,
 * before od_asm_finish. */
void od_call_abs(OdAsm *a, const void *fn);
void od_emit_plt(OdAsm *a);
void od_push(OdAsm *a, OdReg r);
void od_pop(OdAsm *a, OdReg r);
void od_ret(OdAsm *a);
void od_int3(OdAsm *a);

/* ---- Inline fast paths -------------------------------------------------------------------
 * The most frequent encoders are inline: at a call site with constant registers, the REX and
 * ModRM bytes fold into constants and only the displacement's size is decided at run time
 * (bench/compile_speed.py --callgrind: 2,839 -> 2,492 machine instructions per bytecode
 * instruction). How an instruction is stored: its bytes are assembled in a register
 * (OdX64Bytes: up to 8 bytes, first in the low byte), written with one 8-byte store, plus one
 * 8-byte store for displacement and immediate, after one room check (OD_ASM_SLACK bytes
 * free). Byte-at-a-time stores through `uint8_t *`, which may alias anything, made the
 * compiler reload len, buf and cap after every byte. The slow path (growing the buffer) is an
 * out-of-line tail call, so the fast path needs no frame. Bytes stored past an instruction's
 * end are overwritten by the next one or lie beyond len. The od_x64_ names are internals of
 * this header and x64.c, not API. */

typedef struct {
    uint64_t v;   /* the bytes, first in the low byte */
    int n;
} OdX64Bytes;

static inline OdX64Bytes od_x64_none(void) { return (OdX64Bytes){0, 0}; }

static inline OdX64Bytes od_x64_add(OdX64Bytes b, unsigned x)
{
    b.v |= (uint64_t)(uint8_t)x << (8 * b.n);
    b.n++;
    return b;
}

/* REX prefix if needed: W selects 64-bit operand size; R extends ModRM.reg; B extends
 * rm/base; `force` for byte registers 4-7 (spl..dil, not ah..bh). */
static inline OdX64Bytes od_x64_rex(OdX64Bytes b, int w, int reg, int rm, int force)
{
    unsigned r = 0x40 | (w ? 8 : 0) | ((reg & 8) ? 4 : 0) | ((rm & 8) ? 1 : 0);
    return (r != 0x40 || force) ? od_x64_add(b, r) : b;
}

static inline OdX64Bytes od_x64_modrm_rr(OdX64Bytes b, int reg, int rm)
{
    return od_x64_add(b, 0xC0 | ((reg & 7) << 3) | (rm & 7));
}

void od_x64_put_slow(OdAsm *a, uint64_t head, int hn, uint64_t tail, int tn);
void od_x64_rel32_slow(OdAsm *a, uint64_t head, int hn, OdLabel l, OdFixKind kind);

/* Store an instruction: `head` (hn <= 8 bytes) then `tail` (tn <= 8 bytes: displacement,
 * immediate). */
static inline void od_x64_emit(OdAsm *a, uint64_t head, int hn, uint64_t tail, int tn)
{
    size_t len = a->len;
    if (__builtin_expect(len + OD_ASM_SLACK > a->cap, 0)) {
        od_x64_put_slow(a, head, hn, tail, tn);
        return;
    }
    uint8_t *p = a->buf + len;
    memcpy(p, &head, 8);
    memcpy(p + hn, &tail, 8);
    a->len = len + (size_t)(hn + tn);
}

/* b plus an immediate of `in` bytes (0, 1, 4). */
static inline void od_x64_put(OdAsm *a, OdX64Bytes b, uint32_t imm, int in)
{
    od_x64_emit(a, b.v, b.n, imm, in);
}

/* b (the bytes before ModRM: at most 4), then ModRM (+SIB) (+disp8/32) for [base + disp]
 * with `reg` in ModRM.reg, then an immediate of `in` bytes (0, 1, 4; a 1-byte one passed
 * zero-extended). RSP/R12 as base need the SIB byte; RBP/R13 have no mod=00 form (that is
 * RIP-relative or disp32), so they get an explicit displacement. */
static inline void od_x64_put_mem(OdAsm *a, OdX64Bytes b, int reg, int base, int32_t disp,
                                  uint32_t imm, int in)
{
    unsigned m = (unsigned)(((reg & 7) << 3) | (base & 7));
    uint64_t tail;
    int dn;
    if (disp == 0 && (base & 7) != OD_RBP) {
        tail = imm, dn = 0;
    } else if (disp >= -128 && disp <= 127) {
        m |= 0x40;
        tail = (uint8_t)disp | (uint64_t)imm << 8, dn = 1;
    } else {
        m |= 0x80;
        tail = (uint32_t)disp | (uint64_t)imm << 32, dn = 4;
    }
    b = od_x64_add(b, m);
    if ((base & 7) == OD_RSP)
        b = od_x64_add(b, 0x24); /* SIB: no index, base = rsp/r12 */
    od_x64_emit(a, b.v, b.n, tail, dn + in);
}

/* An instruction ending in a rel32 to label l: `head` (hn bytes) and 4 zero bytes, and its
 * fix-up (room for both checked at once). */
static inline void od_x64_rel32(OdAsm *a, uint64_t head, int hn, OdLabel l, OdFixKind kind)
{
    size_t len = a->len;
    int nf = a->nfixups;
    if (__builtin_expect(len + OD_ASM_SLACK > a->cap || nf == a->capfixups, 0)) {
        od_x64_rel32_slow(a, head, hn, l, kind);
        return;
    }
    uint64_t zero = 0;
    memcpy(a->buf + len, &head, 8);
    memcpy(a->buf + len + hn, &zero, 4);
    a->len = len + (size_t)hn + 4;
    OdFixup *f = &a->fixups[nf];
    f->at = (int32_t)(len + (size_t)hn);
    f->label = l;
    f->kind = kind;
    a->nfixups = nf + 1;
}

/* Generic "op r64, r/m64" forms. */
static inline void od_x64_op_rr(OdAsm *a, uint8_t opc, int reg, int rm)
{
    OdX64Bytes b = od_x64_add(od_x64_rex(od_x64_none(), 1, reg, rm, 0), opc);
    od_x64_put(a, od_x64_modrm_rr(b, reg, rm), 0, 0);
}

static inline void od_x64_op_rm(OdAsm *a, uint8_t opc, int reg, int base, int32_t disp)
{
    OdX64Bytes b = od_x64_add(od_x64_rex(od_x64_none(), 1, reg, base, 0), opc);
    od_x64_put_mem(a, b, reg, base, disp, 0, 0);
}

/* Group-1 ALU with immediate: /0 add, /5 sub, /7 cmp. */
static inline void od_x64_alu_ri(OdAsm *a, int ext, int r, int32_t imm)
{
    OdX64Bytes b = od_x64_rex(od_x64_none(), 1, 0, r, 0);
    if (imm >= -128 && imm <= 127)
        od_x64_put(a, od_x64_modrm_rr(od_x64_add(b, 0x83), ext, r), (uint8_t)(int8_t)imm, 1);
    else
        od_x64_put(a, od_x64_modrm_rr(od_x64_add(b, 0x81), ext, r), (uint32_t)imm, 4);
}

static inline void od_x64_alu_mi(OdAsm *a, int w, int ext, int base, int32_t disp, int32_t imm)
{
    OdX64Bytes b = od_x64_rex(od_x64_none(), w, 0, base, 0);
    if (imm >= -128 && imm <= 127)
        od_x64_put_mem(a, od_x64_add(b, 0x83), ext, base, disp, (uint8_t)(int8_t)imm, 1);
    else
        od_x64_put_mem(a, od_x64_add(b, 0x81), ext, base, disp, (uint32_t)imm, 4);
}

static inline void od_mov_rr(OdAsm *a, OdReg dst, OdReg src) { od_x64_op_rr(a, 0x89, src, dst); }

/* The shortest of mov r32, imm32 (zero-extends), mov r/m64, simm32 and movabs r64, imm64. */
void od_mov_rpool(OdAsm *a, OdReg dst, int64_t imm);   /* mov r64, [rip+constant] */
void od_cmp_rpool(OdAsm *a, OdReg r, int64_t imm);     /* cmp r64, [rip+constant] */
/* call [rip+constant]: one instruction to an absolute address (od_call_abs's entry adds two
 * to every call), for the hottest calls; a byte longer. Needs OdAsm.pool. A target within
 * reach (od_codemem_near) gets a direct call instead, as from od_call_abs. */
void od_call_pool(OdAsm *a, const void *fn);
/* jmp [rip+constant], or a direct jmp within reach: od_call_pool's jump. */
void od_jmp_pool(OdAsm *a, const void *fn);
/* cmp r64, imm64 wherever it fits best: an immediate (32 bits, sign-extended) or, with
 * the pool, the constant; else through `scratch`. */
void od_cmp_r_imm64(OdAsm *a, OdReg r, int64_t imm, OdReg scratch);

static inline void od_mov_ri(OdAsm *a, OdReg dst, int64_t imm)
{
    if (imm >= 0 && imm <= 0xFFFFFFFFLL) {
        OdX64Bytes b = od_x64_add(od_x64_rex(od_x64_none(), 0, 0, dst, 0), 0xB8 + (dst & 7));
        od_x64_put(a, b, (uint32_t)imm, 4);
    } else if (imm >= INT32_MIN && imm <= INT32_MAX) {
        OdX64Bytes b = od_x64_add(od_x64_rex(od_x64_none(), 1, 0, dst, 0), 0xC7);
        od_x64_put(a, od_x64_modrm_rr(b, 0, dst), (uint32_t)imm, 4);
    } else if (a->pool && ((uintptr_t)imm < a->pool_skip_lo || (uintptr_t)imm >= a->pool_skip_hi)) {
        od_mov_rpool(a, dst, imm);
    } else {
        OdX64Bytes b = od_x64_add(od_x64_rex(od_x64_none(), 1, 0, dst, 0), 0xB8 + (dst & 7));
        od_x64_emit(a, b.v, b.n, (uint64_t)imm, 8);
    }
}

/* mov r64, [base+disp] */
static inline void od_mov_rm(OdAsm *a, OdReg dst, OdReg base, int32_t disp)
{
    od_x64_op_rm(a, 0x8B, dst, base, disp);
}

/* call qword [base+disp] */
static inline void od_call_m(OdAsm *a, OdReg base, int32_t disp)
{
    od_x64_put_mem(a, od_x64_add(od_x64_rex(od_x64_none(), 0, 0, base, 0), 0xFF), 2, base,
                   disp, 0, 0);
}

/* mov [base+disp], r64 */
static inline void od_mov_mr(OdAsm *a, OdReg base, int32_t disp, OdReg src)
{
    od_x64_op_rm(a, 0x89, src, base, disp);
}

static inline void od_lea(OdAsm *a, OdReg dst, OdReg base, int32_t disp)
{
    od_x64_op_rm(a, 0x8D, dst, base, disp);
}

static inline void od_add_ri(OdAsm *a, OdReg r, int32_t imm) { od_x64_alu_ri(a, 0, r, imm); }
static inline void od_cmp_ri(OdAsm *a, OdReg r, int32_t imm) { od_x64_alu_ri(a, 7, r, imm); }

/* add qword [m], imm */
static inline void od_add_mi(OdAsm *a, OdReg base, int32_t disp, int32_t imm)
{
    od_x64_alu_mi(a, 1, 0, base, disp, imm);
}

/* sub qword [m], imm */
static inline void od_sub_mi(OdAsm *a, OdReg base, int32_t disp, int32_t imm)
{
    od_x64_alu_mi(a, 1, 5, base, disp, imm);
}

/* inc qword [m] and dec qword [m]: a byte shorter than add/sub qword [m], 1, and as fast;
 * they leave CF as it was, so they are for counts whose ZF (or SF) is read, reference
 * counts above all, never for a value a jb/jae/ja/jbe tests next. */
static inline void od_inc_m(OdAsm *a, OdReg base, int32_t disp)
{
    od_x64_put_mem(a, od_x64_add(od_x64_rex(od_x64_none(), 1, 0, base, 0), 0xFF), 0, base,
                   disp, 0, 0);
}

static inline void od_dec_m(OdAsm *a, OdReg base, int32_t disp)
{
    od_x64_put_mem(a, od_x64_add(od_x64_rex(od_x64_none(), 1, 0, base, 0), 0xFF), 1, base,
                   disp, 0, 0);
}

/* add dword [m], imm */
static inline void od_add32_mi(OdAsm *a, OdReg base, int32_t disp, int32_t imm)
{
    od_x64_alu_mi(a, 0, 0, base, disp, imm);
}

/* cmp qword [m], simm32 */
static inline void od_cmp_mi(OdAsm *a, OdReg base, int32_t disp, int32_t imm)
{
    od_x64_alu_mi(a, 1, 7, base, disp, imm);
}

/* cmp dword [m], imm */
static inline void od_cmp32_mi(OdAsm *a, OdReg base, int32_t disp, int32_t imm)
{
    od_x64_alu_mi(a, 0, 7, base, disp, imm);
}

static inline void od_cmp_rr(OdAsm *a, OdReg x, OdReg y) { od_x64_op_rr(a, 0x39, y, x); }

/* cmp r64, [m] */
static inline void od_cmp_rm(OdAsm *a, OdReg r, OdReg base, int32_t disp)
{
    od_x64_op_rm(a, 0x3B, r, base, disp);
}

/* add r64, [m] */
static inline void od_add_rm(OdAsm *a, OdReg r, OdReg base, int32_t disp)
{
    od_x64_op_rm(a, 0x03, r, base, disp);
}

static inline void od_test_rr(OdAsm *a, OdReg x, OdReg y) { od_x64_op_rr(a, 0x85, y, x); }

/* add r64, r64 */
static inline void od_add_rr(OdAsm *a, OdReg dst, OdReg src) { od_x64_op_rr(a, 0x01, src, dst); }

/* movzx r32, byte [m] */
static inline void od_movzx8_rm(OdAsm *a, OdReg dst, OdReg base, int32_t disp)
{
    OdX64Bytes b = od_x64_add(od_x64_add(od_x64_rex(od_x64_none(), 0, dst, base, 0), 0x0F), 0xB6);
    od_x64_put_mem(a, b, dst, base, disp, 0, 0);
}

/* Jumps to labels: rel32 here; od_asm_finish may shorten them. */
static inline void od_jmp(OdAsm *a, OdLabel l) { od_x64_rel32(a, 0xE9, 1, l, OD_FIX_JMP); }

static inline void od_jcc(OdAsm *a, OdCond cc, OdLabel l)
{
    od_x64_rel32(a, 0x0F | (uint64_t)(0x80 | cc) << 8, 2, l, OD_FIX_JCC);
}

/* call rel32 to a label of this buffer */
static inline void od_call_label(OdAsm *a, OdLabel l) { od_x64_rel32(a, 0xE8, 1, l, OD_FIX_OTHER); }

#endif /* OD_ASM_X64_H */
