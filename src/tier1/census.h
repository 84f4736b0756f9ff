/* tier1/census.h — where tier 1's machine code goes: bytes by opcode, on the main line and
 * in each kind of out-of-line stub, summed over every unit compiled while it is on.
 *
 * Off by default (it costs a pass over a unit's labels per compile); bench/code_census.py
 * switches it on through _overdrive._code_census(True) and reads the totals. Sizes are
 * final (after jump relaxation): each is the distance between two labels of the unit. */
#ifndef OD_TIER1_CENSUS_H
#define OD_TIER1_CENSUS_H

#include "emit.h"

extern int od_tier1_census_on;

/* The stubs of a unit, as the census needs them after they were emitted and freed. */
typedef struct {
    OdLabel label;
    unsigned char kind, owner;
} OdCensusStub;

/* Adds the unit `c` just finished (od_asm_finish done) to the totals. `stubs` in emission
 * order; `stubs_end` is bound where the last stub ends. */
void od_census_add(Compiler *c, const OdCensusStub *stubs, int nstubs, OdLabel stubs_end);

/* {"units", "compact_units", "code_bytes", "prologue", "unit_tails",
 *  "main": {opname: [instructions, bytes]}, "stubs": {kind: {opname: [stubs, bytes]}}},
 * or None if nothing was counted. */
PyObject *od_census_dict(void);
void od_census_reset(void);

#endif /* OD_TIER1_CENSUS_H */
