/* tier1/fast_attr.c — inline hit paths of the global and attribute caches
 * (runtime/unit.h describes the cache entries; the helpers in runtime/ops_names.c fill them
 * and handle every miss). See emit.h. */
#include "emit.h"

/* Whether LOAD_GLOBAL's site is known to find its name in the module's globals: the
 * interpreter specialized it as LOAD_GLOBAL_MODULE, or (recompiled) the site's value came
 * from the globals (it has the name's entry there). Such a value does not depend on the
 * builtins: their version need not be checked (two loads, a compare and a branch). */
static int global_from_module(Compiler *c, const OdInstr *in, const OdGlobalSite *site)
{
    if (c->feedback)
        return site->cache.value && site->cache.globals_index >= 0;
    return quickened_opcode(c, in) == LOAD_GLOBAL_MODULE;
}

/* rax = the value the global site in rdx cached, while both dicts' version tags equal
 * the ones it cached (tags are unique across all dicts, so this also proves they are the
 * same dicts), or only the globals' for a name found there (`globals_only`); else `miss`. */
static void emit_global_cached_value(Compiler *c, const OdGlobalSite *s, OdLabel miss)
{
    OdAsm *a = &c->a;
    int32_t ver = (int32_t)offsetof(PyDictObject, ma_version_tag);
    od_mov_rm(a, OD_RAX, R_FRAME, FRAME_DISP(offsetof(_PyInterpreterFrame, f_globals)));
    od_mov_rm(a, OD_RAX, OD_RAX, ver);
    od_cmp_rm(a, OD_RAX, OD_RDX, (int32_t)offsetof(OdGlobalSite, cache.globals_version));
    od_jcc(a, OD_CC_NE, miss);
    if (!s->globals_only) {
        od_mov_rm(a, OD_RAX, R_FRAME, FRAME_DISP(offsetof(_PyInterpreterFrame, f_builtins)));
        od_mov_rm(a, OD_RAX, OD_RAX, ver);
        od_cmp_rm(a, OD_RAX, OD_RDX, (int32_t)offsetof(OdGlobalSite, cache.builtins_version));
        od_jcc(a, OD_CC_NE, miss);
    }
    od_mov_rm(a, OD_RAX, OD_RDX, (int32_t)offsetof(OdGlobalSite, cache.value));
    od_test_rr(a, OD_RAX, OD_RAX);
    od_jcc(a, OD_CC_E, miss);
}

/* The hit: rax (a borrowed value) pushed as a new reference, the hit counted (dis shows
 * it) in first units only, after a NULL for LOAD_GLOBAL's `push_null`. */
static void emit_global_hit(Compiler *c, const OdInstr *in, int push_null, OdLabel done)
{
    OdAsm *a = &c->a;
    int d = in->depth;
    incref_reg(c, OD_RAX);
    if (!c->feedback)     /* a recompiled unit records nothing, as record_fast_hit */
        od_add32_mi(a, OD_RDX, (int32_t)offsetof(OdGlobalSite, cache.hits), 1);
    if (push_null)
        od_mov_mi(a, R_FRAME, slot_disp(c, d), 0);
    od_mov_mr(a, R_FRAME, slot_disp(c, d + push_null), OD_RAX);
    od_jmp(a, done);
}

static void emit_global_at_entry(Compiler *c, const OdGlobalSite *s, OdLabel miss);

/* Out of line: LOAD_GLOBAL's versions changed. A module that writes its own globals
 * changes the globals' version at every write (go's `TIMESTAMP += 1` at every move), and
 * every LOAD_GLOBAL of the module then missed into the helper; a name found in the
 * globals is read at its entry instead (emit_global_at_entry), then `join` (the hot hit
 * path) with rax = the value; else `miss`. */
static void global_at_entry_cold(Compiler *c, const Stub *s)
{
    emit_global_at_entry(c, s->site, s->miss);
    od_jmp(&c->a, s->join);
}

/* LOAD_GLOBAL's hit path inline: the value cached while the versions hold
 * (emit_global_cached_value), only the globals' version checked for a name found there
 * (global_from_module); out of line, a global at its entry. The helper call is the miss
 * path. */
void emit_load_global_fast(Compiler *c, const OdInstr *in, void *site, OdLabel miss,
                                  OdLabel done)
{
    OdGlobalSite *s = site;
    OdLabel hit = od_label_new(&c->a);
    OdLabel at_entry = cold_stub(c, global_at_entry_cold,
                                 (Stub){.instr = in, .site = site, .miss = miss, .join = hit});
    s->globals_only = global_from_module(c, in, s);
    od_mov_ri(&c->a, OD_RDX, (int64_t)(intptr_t)site);
    emit_global_cached_value(c, s, at_entry);
    od_label_bind(&c->a, hit);
    emit_global_hit(c, in, in->oparg & 1, done);
}

/* The guard shared by the inline attribute paths: leaves rdx = the site, rax = the object
 * on top of the stack, rcx = its type, and jumps to `miss` unless the site's first entry
 * is for that type at its current version. */
static void emit_attr_entry_guard(Compiler *c, const OdInstr *in, void *site, OdLabel miss)
{
    OdAsm *a = &c->a;
    int32_t entry = (int32_t)offsetof(OdAttrSite, cache);
    od_mov_ri(a, OD_RDX, (int64_t)(intptr_t)site);
    load_operand(c, OD_RAX, in->depth - 1);
    od_mov_rm(a, OD_RCX, OD_RAX, (int32_t)offsetof(PyObject, ob_type));
    od_cmp_rm(a, OD_RCX, OD_RDX, entry + (int32_t)offsetof(OdAttrCache, type));
    od_jcc(a, OD_CC_NE, miss);
    od_mov32_rm(a, OD_RSI, OD_RCX, (int32_t)offsetof(PyTypeObject, tp_version_tag));
    od_cmp32_rm(a, OD_RSI, OD_RDX, entry + (int32_t)offsetof(OdAttrCache, type_version));
    od_jcc(a, OD_CC_NE, miss);
}

/* rsi = the keys of the dict in rsi, which must be combined (not split) with only str
 * keys, the layout the DICT_HINT entries index into; else `miss`. */
static void emit_str_keys_of_combined(Compiler *c, OdLabel miss)
{
    OdAsm *a = &c->a;
    od_cmp_mi(a, OD_RSI, (int32_t)offsetof(PyDictObject, ma_values), 0);
    od_jcc(a, OD_CC_NE, miss);
    od_mov_rm(a, OD_RSI, OD_RSI, (int32_t)offsetof(PyDictObject, ma_keys));
    od_cmp8_mi(a, OD_RSI, (int32_t)offsetof(PyDictKeysObject, dk_kind), DICT_KEYS_UNICODE);
    od_jcc(a, OD_CC_NE, miss);
}

/* rcx = the value of entry r8 of the keys in rsi (as emit_str_keys_of_combined leaves them)
 * when that entry's key is r10, by identity; else `miss`. An index out of range misses,
 * a negative one too (the compare is unsigned). Entries are only ever appended to a keys
 * object and a deleted entry keeps no key, so a key found at the index is the dict's one
 * entry for that name, whatever changed since the index was taken (the helpers'
 * global_at_hint, runtime/ops_names.c, reads it the same way). Clobbers rcx, r8, r9. */
static void emit_str_entry_value(Compiler *c, OdLabel miss)
{
    OdAsm *a = &c->a;
    int32_t indices = (int32_t)offsetof(PyDictKeysObject, dk_indices);
    od_cmp_rm(a, OD_R8, OD_RSI, (int32_t)offsetof(PyDictKeysObject, dk_nentries));
    od_jcc(a, OD_CC_AE, miss);
    /* entries start after the index table of 1 << dk_log2_index_bytes bytes */
    od_movzx8_rm(a, OD_RCX, OD_RSI, (int32_t)offsetof(PyDictKeysObject, dk_log2_index_bytes));
    od_mov_ri(a, OD_R9, 1);
    od_shl_cl(a, OD_R9);
    od_add_rr(a, OD_R9, OD_RSI);
    od_shl_ri(a, OD_R8, 4);
    _Static_assert(sizeof(PyDictUnicodeEntry) == 16, "entry stride");
    od_add_rr(a, OD_R9, OD_R8);
    od_cmp_rm(a, OD_R10, OD_R9, indices + (int32_t)offsetof(PyDictUnicodeEntry, me_key));
    od_jcc(a, OD_CC_NE, miss);
    od_mov_rm(a, OD_RCX, OD_R9, indices + (int32_t)offsetof(PyDictUnicodeEntry, me_value));
}

/* rax = the value of the global site rdx's name at the entry of the globals' keys the
 * site found it at, by its index (emit_str_entry_value: no version is needed); else
 * `miss`: the globals not an exact dict of str keys, the index out of date or -1 (the
 * name was not in the globals). */
static void emit_global_at_entry(Compiler *c, const OdGlobalSite *s, OdLabel miss)
{
    OdAsm *a = &c->a;
    od_mov_rm(a, OD_RSI, R_FRAME, FRAME_DISP(offsetof(_PyInterpreterFrame, f_globals)));
    /* an exact dict: a subclass's __getitem__ would be called (not a miss) */
    od_mov_ri(a, OD_R8, (int64_t)(intptr_t)&PyDict_Type);
    od_cmp_rm(a, OD_R8, OD_RSI, OFF_TYPE);
    od_jcc(a, OD_CC_NE, miss);
    emit_str_keys_of_combined(c, miss);
    od_mov_rm(a, OD_R8, OD_RDX, (int32_t)offsetof(OdGlobalSite, cache.globals_index));
    od_mov_ri(a, OD_R10, (int64_t)(intptr_t)s->name);
    emit_str_entry_value(c, miss);
    od_mov_rr(a, OD_RAX, OD_RCX);
    od_test_rr(a, OD_RAX, OD_RAX);
    od_jcc(a, OD_CC_E, miss);
}

/* LOAD_NAME's hit path inline, for a frame whose locals are its globals (a module body,
 * or exec() given one namespace): the name is then looked up as LOAD_GLOBAL looks it up,
 * through the same kind of site (runtime/ops_names.c od_rt_load_name); other frames (a
 * class body) take the helper. A module's loop stores its loop variable, and usually
 * more, with STORE_NAME at every iteration, and every store changes the globals' version:
 * a version-keyed value would always miss there. So a name found in the globals is read
 * at its entry first, in line (emit_global_at_entry), and a name of the builtins by the
 * version-keyed value. A module-level loop spent 45% of its time in dict lookups for its
 * names (docs/performance.md, "Sixteenth session"). */
void emit_load_name_fast(Compiler *c, const OdInstr *in, void *site, OdLabel miss,
                         OdLabel done)
{
    OdAsm *a = &c->a;
    OdGlobalSite *s = site;
    OdLabel by_version = od_label_new(a), hit = od_label_new(a);
    s->globals_only = 0;
    od_mov_rm(a, OD_RAX, R_FRAME, FRAME_DISP(offsetof(_PyInterpreterFrame, f_globals)));
    od_cmp_rm(a, OD_RAX, R_FRAME, FRAME_DISP(offsetof(_PyInterpreterFrame, f_locals)));
    od_jcc(a, OD_CC_NE, miss);
    od_mov_ri(a, OD_RDX, (int64_t)(intptr_t)site);
    emit_global_at_entry(c, s, by_version);
    od_jmp(a, hit);
    od_label_bind(a, by_version);
    emit_global_cached_value(c, s, miss);
    od_label_bind(a, hit);
    emit_global_hit(c, in, 0, done);
}

/* rcx = the value of the site's first entry when it is DICT_HINT: the instance's own dict
 * (managed, or at `dictoffset`) is a plain combined dict of str keys whose entry `index`
 * holds the attribute's name. What the interpreter's LOAD_ATTR_WITH_HINT checks. Leaves
 * rax (the object) and rdx (the site) alone. */
static void emit_dict_hint_value(Compiler *c, OdLabel miss)
{
    OdAsm *a = &c->a;
    int32_t entry = (int32_t)offsetof(OdAttrSite, cache);
    OdLabel at_offset = od_label_new(a);
    od_mov_rm(a, OD_RSI, OD_RDX, entry + (int32_t)offsetof(OdAttrCache, dictoffset));
    od_test_rr(a, OD_RSI, OD_RSI);
    od_jcc(a, OD_CC_NE, at_offset);
    od_cmp_mi(a, OD_RAX, -4 * (int32_t)sizeof(PyObject *), 0);   /* managed: values gone */
    od_jcc(a, OD_CC_NE, miss);
    od_mov_ri(a, OD_RSI, -3 * (int64_t)sizeof(PyObject *));       /* the managed dict slot */
    od_label_bind(a, at_offset);
    od_add_rr(a, OD_RSI, OD_RAX);
    od_mov_rm(a, OD_RSI, OD_RSI, 0);
    od_test_rr(a, OD_RSI, OD_RSI);
    od_jcc(a, OD_CC_E, miss);
    od_mov_ri(a, OD_R8, (int64_t)(intptr_t)&PyDict_Type);
    od_cmp_rm(a, OD_R8, OD_RSI, OFF_TYPE);
    od_jcc(a, OD_CC_NE, miss);
    emit_str_keys_of_combined(c, miss);
    od_mov_rm(a, OD_R8, OD_RDX, entry + (int32_t)offsetof(OdAttrCache, index));
    od_mov_rm(a, OD_R10, OD_RDX, (int32_t)offsetof(OdAttrSite, name));
    emit_str_entry_value(c, miss);
}

/* rsi = where the attribute's pointer is, for the site's first entry of kind `kind`
 * (checked by the caller): a __slots__ member (in the object) or an inline value (in its
 * values array; inline values no longer in use jump to `miss`). Needs rax = the object,
 * rdx = the site (emit_attr_entry_guard). */
static void emit_address_of_kind(Compiler *c, int kind, OdLabel miss)
{
    OdAsm *a = &c->a;
    int32_t entry = (int32_t)offsetof(OdAttrSite, cache);
    od_mov_rm(a, OD_RSI, OD_RDX, entry + (int32_t)offsetof(OdAttrCache, index));
    if (kind == OD_ATTR_SLOT) {
        od_add_rr(a, OD_RSI, OD_RAX);                 /* byte offset in the object */
        return;
    }
    od_mov_rm(a, OD_RCX, OD_RAX, -4 * (int32_t)sizeof(PyObject *));   /* inline values */
    od_test_rr(a, OD_RCX, OD_RCX);
    od_jcc(a, OD_CC_E, miss);
    od_shl_ri(a, OD_RSI, 3);
    od_add_rr(a, OD_RSI, OD_RCX);
}

/* The same when the kind is only known at run time: SLOT or INSTANCE_VALUE, any other kind
 * jumps to `other`. For a store (`new_attr` a label), an inline value not set yet jumps to
 * `new_attr` with rcx = the values, rsi = the value's place (store_new_value_cold). */
static void emit_value_address(Compiler *c, OdLabel other, OdLabel miss, OdLabel new_attr)
{
    OdAsm *a = &c->a;
    int32_t kind = (int32_t)offsetof(OdAttrSite, cache) + (int32_t)offsetof(OdAttrCache, kind);
    OdLabel found = od_label_new(a), not_slot = od_label_new(a);
    od_cmp32_mi(a, OD_RDX, kind, OD_ATTR_SLOT);
    od_jcc(a, OD_CC_NE, not_slot);
    emit_address_of_kind(c, OD_ATTR_SLOT, miss);
    od_jmp(a, found);
    od_label_bind(a, not_slot);
    od_cmp32_mi(a, OD_RDX, kind, OD_ATTR_INSTANCE_VALUE);
    od_jcc(a, OD_CC_NE, other);
    emit_address_of_kind(c, OD_ATTR_INSTANCE_VALUE, miss);
    if (new_attr >= 0) {
        od_cmp_mi(a, OD_RSI, 0, 0);
        od_jcc(a, OD_CC_E, new_attr);                 /* a new attribute */
    }
    od_label_bind(a, found);
}

/* Out of line, STORE_ATTR of an attribute the object's inline values do not hold yet (an
 * `__init__` setting up its instance): rcx = the values, rsi = the value's place; the
 * index is the built-in entry's (`s->resume`), or the site's first entry's (resume -1,
 * rdx = the site). What STORE_ATTR_INSTANCE_VALUE does: store the value (the stack's
 * reference moves into the object), then append the index to the values' insertion order
 * (_PyDictValues_AddToInsertionOrder: the byte values[-3 - size], then the size byte
 * values[-2] one more, as a 32-bit add of 1 << 16 at values - 4: the size stays below the
 * capacity byte above it, so nothing carries). Then `join`: the object released, done. */
static void store_new_value_cold(Compiler *c, const Stub *s)
{
    OdAsm *a = &c->a;
    od_mov_rm(a, OD_R8, R_FRAME, slot_disp(c, s->instr->depth - 2));
    od_mov_mr(a, OD_RSI, 0, OD_R8);
    od_movzx8_rm(a, OD_R9, OD_RCX, -2);
    od_mov_rr(a, OD_R10, OD_RCX);
    od_sub_rr(a, OD_R10, OD_R9);
    if (s->resume >= 0) {
        od_mov8_mi(a, OD_R10, -3, (int8_t)s->resume);
    } else {
        int32_t entry = (int32_t)offsetof(OdAttrSite, cache);
        od_mov_rm(a, OD_R8, OD_RDX, entry + (int32_t)offsetof(OdAttrCache, index));
        od_mov8_mr(a, OD_R10, -3, OD_R8);
        od_add32_mi(a, OD_RDX, entry + (int32_t)offsetof(OdAttrCache, hits), 1);
    }
    od_add32_mi(a, OD_RCX, -4, 1 << 16);
    od_jmp(a, s->join);
}

/* The entry kind a LOAD_ATTR site is compiled to expect inline: what its first entry holds
 * (when recompiled with feedback), else what the specializing interpreter made of the
 * instruction if it has run it, else an instance attribute in inline values (what most
 * attribute loads of 3.11 classes are). */
static int expected_attr_kind(Compiler *c, const OdInstr *in, const OdAttrSite *site)
{
    int seen = site->cache[0].type ? site->cache[0].kind : OD_ATTR_NONE;
    if (seen == OD_ATTR_SLOT || seen == OD_ATTR_DICT_HINT || seen == OD_ATTR_INSTANCE_VALUE)
        return seen;                      /* what the site's first entry holds */
    switch (quickened_opcode(c, in)) {
    case LOAD_ATTR_SLOT: return OD_ATTR_SLOT;
    case LOAD_ATTR_WITH_HINT: return OD_ATTR_DICT_HINT;
    default: return OD_ATTR_INSTANCE_VALUE;
    }
}

/* The entries a recompiled unit's attribute site recorded, into `out` (at most
 * OD_ATTR_WAYS): entry 0 from the copy in this unit's sites, entries 1.. through the
 * previous unit's site, which still owns their block while this unit compiles (the copy's
 * `more` may not be read through: helpers.h). Returns how many. */
static int recorded_entries(Compiler *c, const OdAttrSite *site, const OdAttrCache **out)
{
    int n = 0;
    if (site->cache[0].type)
        out[n++] = &site->cache[0];
    if (site->more && c->prev && c->prev->caches) {
        const OdAttrSite *orig = (const OdAttrSite *)((const char *)c->prev->caches
                                                      + ((const char *)site - c->sites));
        const OdAttrCache *more = od_attr_more(orig);
        for (int i = 0; more && i < OD_ATTR_WAYS - 1; i++)
            if (more[i].type)
                out[n++] = &more[i];
    }
    return n;
}

/* Whether the inline hit path of `opcode` handles entries of `kind`. */
static int inline_kind(int opcode, int kind)
{
    switch (opcode) {
    case LOAD_ATTR:
        return kind == OD_ATTR_INSTANCE_VALUE || kind == OD_ATTR_SLOT || kind == OD_ATTR_DICT_HINT;
    case LOAD_METHOD:
        return kind == OD_ATTR_METHOD_NO_DICT || kind == OD_ATTR_METHOD_SHARED_KEYS;
    default:   /* STORE_ATTR */
        return kind == OD_ATTR_INSTANCE_VALUE || kind == OD_ATTR_SLOT;
    }
}

/* A site that only meets what the helper's cache handles (a module attribute, a property,
 * a method beside an instance dict, a store into a dict, super(), ...) gains nothing from
 * the inline probe: it fails on every run and then walks the out-of-line code before the
 * helper call, and both are code the instruction cache must hold. Such a site gets the
 * helper call alone. Known from a recompiled unit's feedback, or from the form the
 * specializing interpreter gave the instruction. The inline path reads the site's entry 0
 * only, which keeps its receiver type while the site meets at most OD_ATTR_WAYS types (a
 * miss fills another entry): so it is entry 0's kind that decides, also for a site whose
 * other entries hold kinds the inline path takes (a str method beside the same method
 * of a str subclass with a __dict__, first met, never hits inline). */
int attr_helper_only(Compiler *c, const OdInstr *in)
{
    if (c->feedback) {
        const OdAttrSite *site = (const OdAttrSite *)(c->sites + c->cache_at_unit[in->index]);
        return site->cache[0].type && !inline_kind(in->opcode, site->cache[0].kind);
    }
    switch (quickened_opcode(c, in)) {
    case LOAD_ATTR_MODULE: case LOAD_METHOD_MODULE: case LOAD_METHOD_CLASS:
    case LOAD_METHOD_WITH_DICT: case STORE_ATTR_WITH_HINT:
        return 1;
    default:
        return 0;
    }
}

/* Whether a LOAD_ATTR site gets the out-of-line code for the inline kinds it does not
 * expect (~230 bytes): in a first unit unless the interpreter specialized the instruction
 * (its form is the kind expected), in a recompiled one only if one of its entries holds
 * such a kind (otherwise that case takes the helper). */
static int want_other_kinds(Compiler *c, const OdInstr *in, const OdAttrSite *site,
                            int expected)
{
    if (!c->feedback)      /* a first unit: unless the interpreter specialized it */
        return !single_kind_site(c, in);
    const OdAttrCache *seen[OD_ATTR_WAYS];
    int n = recorded_entries(c, site, seen);
    for (int i = 0; i < n; i++)
        if (seen[i]->kind != expected && inline_kind(LOAD_ATTR, seen[i]->kind))
            return 1;
    return 0;
}

/* Out of line: every kind the inline path handles (the expected one was not it). Joins
 * the hot path at `join` with rcx = the value or NULL. */
static void load_attr_other_kinds(Compiler *c, const Stub *s)
{
    OdAsm *a = &c->a;
    int32_t kind = (int32_t)offsetof(OdAttrSite, cache) + (int32_t)offsetof(OdAttrCache, kind);
    OdLabel not_values = od_label_new(a);
    emit_value_address(c, not_values, s->miss, -1);
    od_mov_rm(a, OD_RCX, OD_RSI, 0);
    od_jmp(a, s->join);
    od_label_bind(a, not_values);
    od_cmp32_mi(a, OD_RDX, kind, OD_ATTR_DICT_HINT);
    od_jcc(a, OD_CC_NE, s->miss);
    emit_dict_hint_value(c, s->miss);
    od_jmp(a, s->join);
}

/* Whether a recompiled unit can build entry `e` of a site of `opcode` into its code. Its
 * type version (a tag no other type, or other state of the type, ever gets: it alone
 * identifies both) and what the entry holds become immediates, so a hit reads nothing
 * from the site. For LOAD_ATTR: an instance attribute in inline values or in the
 * instance's dict, or a __slots__ member; for LOAD_METHOD: a method no instance
 * attribute can shadow. */
static int entry_builds_in(const OdAttrCache *e, int opcode)
{
    if (!e->type || e->type_version == 0)
        return 0;
    if (opcode == LOAD_METHOD)
        return e->kind == OD_ATTR_METHOD_NO_DICT
               || (e->kind == OD_ATTR_METHOD_SHARED_KEYS && e->keys_nentries >= 0
                   && e->keys_nentries < INT32_MAX);
    if (opcode == STORE_ATTR && e->kind == OD_ATTR_DICT_HINT)
        return 0;
    switch (e->kind) {
    case OD_ATTR_SLOT:
        return e->index > 0 && e->index < INT32_MAX;
    case OD_ATTR_INSTANCE_VALUE:
        return e->index >= 0 && e->index < INT32_MAX / 8;
    case OD_ATTR_DICT_HINT:    /* entry `index` at a fixed offset in the keys object */
        return e->dictoffset >= 0 && e->dictoffset < INT32_MAX && e->index >= 0
               && e->index < (1 << 20) && e->index_log2 >= 0 && e->index_log2 <= 24;
    default:
        return 0;
    }
}

/* The entries a recompiled unit builds into its code for a site (entry_builds_in), into
 * `out`, the most hit first; how many (0: none, the site's entries through the site as
 * in a first unit). A site that met a few receiver types (richards' task methods, each
 * class of a small hierarchy) gets one guard per type, each with its own immediates, in
 * place of entry 0 inline and the other types through the helper: every entry recorded
 * must build in, and the site must never have evicted one (a site that met more types
 * than it has entries takes the helper). */
static int built_in_entries(Compiler *c, const OdAttrSite *site, int opcode,
                            const OdAttrCache **out)
{
    if (!c->feedback || site->next_victim != 0)
        return 0;
    int n = recorded_entries(c, site, out);
    for (int i = 0; i < n; i++)
        if (!entry_builds_in(out[i], opcode))
            return 0;
    for (int i = 1; i < n; i++)          /* by hits, descending (n <= OD_ATTR_WAYS) */
        for (int j = i; j > 0 && out[j]->hits > out[j - 1]->hits; j--) {
            const OdAttrCache *t = out[j];
            out[j] = out[j - 1];
            out[j - 1] = t;
        }
    return n;
}

/* What one built-in entry emits: its guard (jumping to `next`, the following entry's
 * code or the miss) and its hit, with `ctx` the caller's. */
typedef void (*BuiltInEntryFn)(Compiler *c, const OdInstr *in, const OdAttrCache *e,
                               OdLabel next, OdLabel miss, const void *ctx);

/* The `n` built-in entries of a site, one after the other, for the object on top of the
 * stack (rax): each entry's hit jumps to `have`, bound after the last; the last entry's
 * guard fails to `miss`. */
static void emit_built_in_chain(Compiler *c, const OdInstr *in, const OdAttrCache *const *e,
                                int n, BuiltInEntryFn each, const void *ctx, OdLabel miss)
{
    OdAsm *a = &c->a;
    OdLabel have = od_label_new(a);
    c->nfixed_attr++;
    load_operand(c, OD_RAX, in->depth - 1);
    for (int i = 0; i < n; i++) {
        OdLabel next = i + 1 < n ? od_label_new(a) : miss;
        each(c, in, e[i], next, miss, ctx);
        if (i + 1 < n) {
            od_jmp(a, have);
            od_label_bind(a, next);
        }
    }
    od_label_bind(a, have);
}

/* Jump to `miss` unless the object in rax has the type version of `e`. Leaves rcx = its type. */
static void emit_built_in_guard(Compiler *c, const OdAttrCache *e, OdLabel miss)
{
    OdAsm *a = &c->a;
    od_mov_rm(a, OD_RCX, OD_RAX, OFF_TYPE);
    od_cmp32_mi(a, OD_RCX, (int32_t)offsetof(PyTypeObject, tp_version_tag),
                (int32_t)e->type_version);
    od_jcc(a, OD_CC_NE, miss);
}

/* rcx = the attribute or NULL, for the object in rax, through `e` (entry_builds_in). A
 * DICT_HINT entry checks what the interpreter's LOAD_ATTR_WITH_HINT does (and the dict
 * is combined, of str keys, with the index table size it had) and reads the entry at
 * its fixed address. */
static void emit_built_in_attr(Compiler *c, const OdAttrCache *e, PyObject *name, OdLabel miss)
{
    OdAsm *a = &c->a;
    emit_built_in_guard(c, e, miss);
    if (e->kind == OD_ATTR_SLOT) {
        od_mov_rm(a, OD_RCX, OD_RAX, (int32_t)e->index);
        return;
    }
    if (e->kind == OD_ATTR_INSTANCE_VALUE) {
        od_mov_rm(a, OD_RCX, OD_RAX, -4 * (int32_t)sizeof(PyObject *));   /* inline values */
        od_test_rr(a, OD_RCX, OD_RCX);
        od_jcc(a, OD_CC_E, miss);
        od_mov_rm(a, OD_RCX, OD_RCX, 8 * (int32_t)e->index);
        return;
    }
    int32_t at = (int32_t)offsetof(PyDictKeysObject, dk_indices) + (1 << e->index_log2)
                 + (int32_t)sizeof(PyDictUnicodeEntry) * (int32_t)e->index;
    if (e->dictoffset == 0) {                          /* managed: values gone */
        od_cmp_mi(a, OD_RAX, -4 * (int32_t)sizeof(PyObject *), 0);
        od_jcc(a, OD_CC_NE, miss);
        od_mov_rm(a, OD_RSI, OD_RAX, -3 * (int32_t)sizeof(PyObject *));
    } else {
        od_mov_rm(a, OD_RSI, OD_RAX, (int32_t)e->dictoffset);
    }
    od_test_rr(a, OD_RSI, OD_RSI);
    od_jcc(a, OD_CC_E, miss);
    emit_str_keys_of_combined(c, miss);
    od_cmp8_mi(a, OD_RSI, (int32_t)offsetof(PyDictKeysObject, dk_log2_index_bytes),
               (int8_t)e->index_log2);
    od_jcc(a, OD_CC_NE, miss);
    od_cmp_mi(a, OD_RSI, (int32_t)offsetof(PyDictKeysObject, dk_nentries), (int32_t)e->index);
    od_jcc(a, OD_CC_LE, miss);                         /* the entry is not in use */
    od_mov_ri(a, OD_R8, (int64_t)(intptr_t)name);
    od_cmp_rm(a, OD_R8, OD_RSI, at + (int32_t)offsetof(PyDictUnicodeEntry, me_key));
    od_jcc(a, OD_CC_NE, miss);
    od_mov_rm(a, OD_RCX, OD_RSI, at + (int32_t)offsetof(PyDictUnicodeEntry, me_value));
}

/* A built-in LOAD_ATTR entry: rcx = the attribute (`ctx`: its name), not NULL. */
static void built_in_load_hit(Compiler *c, const OdInstr *in, const OdAttrCache *e,
                              OdLabel next, OdLabel miss, const void *ctx)
{
    (void)in;
    emit_built_in_attr(c, e, (PyObject *)ctx, next);
    od_test_rr(&c->a, OD_RCX, OD_RCX);
    od_jcc(&c->a, OD_CC_E, miss);
}

/* LOAD_ATTR's hit path inline for the site's first entry when it is an instance attribute
 * in the object's inline values or its own dict (DICT_HINT), or a __slots__ member (the
 * common monomorphic cases): type and type version match and the attribute is there.
 * The expected kind is inline, the other two out of line. Anything else is the helper. */
void emit_load_attr_fast(Compiler *c, const OdInstr *in, void *site, OdLabel miss, OdLabel done)
{
    OdAsm *a = &c->a;
    int d = in->depth;
    int32_t entry = (int32_t)offsetof(OdAttrSite, cache);
    int32_t kind = entry + (int32_t)offsetof(OdAttrCache, kind);
    const OdAttrCache *built_in[OD_ATTR_WAYS];
    int nbuilt = built_in_entries(c, site, LOAD_ATTR, built_in);
    if (nbuilt) {
        emit_built_in_chain(c, in, built_in, nbuilt, built_in_load_hit,
                            ((OdAttrSite *)site)->name, miss);
        incref_reg(c, OD_RCX);
        od_mov_mr(a, R_FRAME, slot_disp(c, d - 1), OD_RCX);
        release_operand_reg(c, OD_RAX, d - 1, in->index);
        od_jmp(a, done);
        return;
    }
    int expected = expected_attr_kind(c, in, site);
    OdLabel have_value = od_label_new(a);
    emit_attr_entry_guard(c, in, site, miss);
    od_cmp32_mi(a, OD_RDX, kind, expected);
    od_jcc(a, OD_CC_NE, !want_other_kinds(c, in, site, expected) ? miss
                        : cold_stub(c, load_attr_other_kinds,
                                    (Stub){.instr = in, .site = site, .miss = miss,
                                           .join = have_value}));
    if (expected == OD_ATTR_DICT_HINT) {
        emit_dict_hint_value(c, miss);
    } else {
        emit_address_of_kind(c, expected, miss);
        od_mov_rm(a, OD_RCX, OD_RSI, 0);
    }
    od_label_bind(a, have_value);                     /* rcx = the value, or NULL */
    od_test_rr(a, OD_RCX, OD_RCX);
    od_jcc(a, OD_CC_E, miss);
    incref_reg(c, OD_RCX);
    od_add32_mi(a, OD_RDX, entry + (int32_t)offsetof(OdAttrCache, hits), 1);
    od_mov_mr(a, R_FRAME, slot_disp(c, d - 1), OD_RCX);
    release_operand_reg(c, OD_RAX, d - 1, in->index);
    od_jmp(a, done);
}

/* A built-in STORE_ATTR entry: rsi = where the attribute of the object in rax is:
 * after its type guard (to `next`), a __slots__ member's address, or an instance
 * attribute's place in the inline values when the attribute is set there (a new one, or
 * values no longer in use: `miss`). */
static void built_in_store_address(Compiler *c, const OdInstr *in, const OdAttrCache *e,
                                   OdLabel next, OdLabel miss, const void *ctx)
{
    OdAsm *a = &c->a;
    OdLabel stored = *(const OdLabel *)ctx;    /* where a new attribute's store joins */
    emit_built_in_guard(c, e, next);
    if (e->kind == OD_ATTR_SLOT) {
        od_lea(a, OD_RSI, OD_RAX, (int32_t)e->index);
        return;
    }
    od_mov_rm(a, OD_RCX, OD_RAX, -4 * (int32_t)sizeof(PyObject *));   /* inline values */
    od_test_rr(a, OD_RCX, OD_RCX);
    od_jcc(a, OD_CC_E, miss);
    od_lea(a, OD_RSI, OD_RCX, 8 * (int32_t)e->index);
    od_cmp_mi(a, OD_RSI, 0, 0);
    od_jcc(a, OD_CC_E, cold_stub(c, store_new_value_cold,       /* a new attribute */
                                 (Stub){.instr = in, .resume = (int)e->index, .join = stored}));
}

/* STORE_ATTR's hit path inline for the site's first entry (in a recompiled unit: for each
 * type its site met, built in) when it replaces a __slots__ member or an existing
 * instance attribute in inline values (a new one keeps the insertion order in the
 * helper): store, then release the old value and the object. */
void emit_store_attr_fast(Compiler *c, const OdInstr *in, void *site, OdLabel miss,
                                 OdLabel done)
{
    OdAsm *a = &c->a;
    int d = in->depth;
    int32_t entry = (int32_t)offsetof(OdAttrSite, cache);
    OdLabel no_old = od_label_new(a);
    const OdAttrCache *built_in[OD_ATTR_WAYS];
    int nbuilt = built_in_entries(c, site, STORE_ATTR, built_in);
    if (nbuilt) {
        emit_built_in_chain(c, in, built_in, nbuilt, built_in_store_address, &no_old, miss);
    } else {
        emit_attr_entry_guard(c, in, site, miss);
        emit_value_address(c, miss, miss,
                           cold_stub(c, store_new_value_cold,
                                     (Stub){.instr = in, .resume = -1, .join = no_old}));
        od_add32_mi(a, OD_RDX, entry + (int32_t)offsetof(OdAttrCache, hits), 1);
    }
    od_mov_rm(a, OD_RDI, OD_RSI, 0);                  /* the old value, or NULL */
    od_mov_rm(a, OD_RCX, R_FRAME, slot_disp(c, d - 2));
    od_mov_mr(a, OD_RSI, 0, OD_RCX);
    od_test_rr(a, OD_RDI, OD_RDI);
    od_jcc(a, OD_CC_E, no_old);
    decref_reg(c, OD_RDI, in->index);
    od_label_bind(a, no_old);
    release_operand_slot(c, d - 1, in->index);
    od_jmp(a, done);
}

/* A built-in LOAD_METHOD entry: rsi = the method (an immediate), which no instance
 * attribute shadows (no instance dict, or shared keys that have not grown and inline
 * values in use). */
static void built_in_method_hit(Compiler *c, const OdInstr *in, const OdAttrCache *e,
                                OdLabel next, OdLabel miss, const void *ctx)
{
    OdAsm *a = &c->a;
    (void)in; (void)ctx;
    emit_built_in_guard(c, e, next);
    if (e->kind == OD_ATTR_METHOD_SHARED_KEYS) {
        od_cmp_mi(a, OD_RAX, -4 * (int32_t)sizeof(PyObject *), 0);   /* inline values */
        od_jcc(a, OD_CC_E, miss);
        od_mov_rm(a, OD_RSI, OD_RCX, (int32_t)offsetof(PyHeapTypeObject, ht_cached_keys));
        od_test_rr(a, OD_RSI, OD_RSI);
        od_jcc(a, OD_CC_E, miss);
        od_cmp_mi(a, OD_RSI, (int32_t)offsetof(PyDictKeysObject, dk_nentries),
                  (int32_t)e->keys_nentries);
        od_jcc(a, OD_CC_NE, miss);
    }
    od_mov_ri(a, OD_RSI, (int64_t)(intptr_t)e->value);
}

/* LOAD_METHOD's hit path inline for the site's first entry when it is a method of the
 * type that the instance cannot shadow (no instance dict, or shared keys that have not
 * grown and inline values in use): push the method (new reference) and move the object. */
void emit_load_method_fast(Compiler *c, const OdInstr *in, void *site, OdLabel miss,
                                  OdLabel done)
{
    OdAsm *a = &c->a;
    int d = in->depth;
    int32_t entry = (int32_t)offsetof(OdAttrSite, cache);
    const OdAttrCache *built_in[OD_ATTR_WAYS];
    int nbuilt = built_in_entries(c, site, LOAD_METHOD, built_in);
    if (nbuilt) {                                      /* the methods are immediates */
        emit_built_in_chain(c, in, built_in, nbuilt, built_in_method_hit, NULL, miss);
        incref_reg(c, OD_RSI);
        od_mov_mr(a, R_FRAME, slot_disp(c, d - 1), OD_RSI);
        if (borrowed(c, d - 1))
            incref_reg(c, OD_RAX);                     /* self: the stack's own reference */
        od_mov_mr(a, R_FRAME, slot_disp(c, d), OD_RAX);
        od_jmp(a, done);
        return;
    }
    OdLabel hit = od_label_new(a);
    emit_attr_entry_guard(c, in, site, miss);
    od_cmp32_mi(a, OD_RDX, entry + (int32_t)offsetof(OdAttrCache, kind), OD_ATTR_METHOD_NO_DICT);
    od_jcc(a, OD_CC_E, hit);
    od_cmp32_mi(a, OD_RDX, entry + (int32_t)offsetof(OdAttrCache, kind),
                OD_ATTR_METHOD_SHARED_KEYS);
    od_jcc(a, OD_CC_NE, miss);
    od_mov_rm(a, OD_RSI, OD_RAX, -4 * (int32_t)sizeof(PyObject *));   /* inline values */
    od_test_rr(a, OD_RSI, OD_RSI);
    od_jcc(a, OD_CC_E, miss);
    od_mov_rm(a, OD_RSI, OD_RCX, (int32_t)offsetof(PyHeapTypeObject, ht_cached_keys));
    od_test_rr(a, OD_RSI, OD_RSI);
    od_jcc(a, OD_CC_E, miss);
    od_mov_rm(a, OD_RSI, OD_RSI, (int32_t)offsetof(PyDictKeysObject, dk_nentries));
    od_cmp_rm(a, OD_RSI, OD_RDX, entry + (int32_t)offsetof(OdAttrCache, keys_nentries));
    od_jcc(a, OD_CC_NE, miss);
    od_label_bind(a, hit);
    od_mov_rm(a, OD_RSI, OD_RDX, entry + (int32_t)offsetof(OdAttrCache, value));
    incref_reg(c, OD_RSI);
    od_add32_mi(a, OD_RDX, entry + (int32_t)offsetof(OdAttrCache, hits), 1);
    od_mov_mr(a, R_FRAME, slot_disp(c, d - 1), OD_RSI);
    if (borrowed(c, d - 1))
        incref_reg(c, OD_RAX);                         /* self: the stack's own reference */
    od_mov_mr(a, R_FRAME, slot_disp(c, d), OD_RAX);
    od_jmp(a, done);
}

