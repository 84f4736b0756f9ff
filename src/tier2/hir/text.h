/* tier2/hir/text.h — a growing text buffer, for the printers of tier 2 (HIR, LIR).
 *
 * Contract: od_text_put appends printf-style, growing the buffer as needed (nothing is cut
 * off); after an allocation failure it does nothing and `failed` stays set.
 * od_text_finish returns the text as a str (NULL with MemoryError if anything failed) and
 * frees the buffer. A zero-initialised OdText is an empty buffer. */
#ifndef OD_TIER2_HIR_TEXT_H
#define OD_TIER2_HIR_TEXT_H

#include "../../od_python.h"

typedef struct {
    char *buf;
    size_t len, cap;
    int failed;
} OdText;

void od_text_put(OdText *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
PyObject *od_text_finish(OdText *t);

#endif /* OD_TIER2_HIR_TEXT_H */
