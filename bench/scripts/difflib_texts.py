"""Compare two versions of a generated text with difflib, as a diff tool would."""
import difflib
import random

rng = random.Random(13)
WORDS = ("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi "
         "omicron pi rho sigma tau upsilon phi chi psi omega").split()


def paragraph(n):
    return " ".join(rng.choice(WORDS) for _ in range(n))


old = [paragraph(rng.randint(4, 12)) for _ in range(900)]
new = list(old)
for _ in range(120):  # edits: change, insert, delete lines
    i = rng.randrange(len(new))
    kind = rng.random()
    if kind < 0.5:
        new[i] = paragraph(rng.randint(4, 12))
    elif kind < 0.8:
        new.insert(i, paragraph(rng.randint(4, 12)))
    else:
        del new[i]

diff = list(difflib.unified_diff(old, new, "old.txt", "new.txt", lineterm=""))
matcher = difflib.SequenceMatcher(None, old, new)
close = difflib.get_close_matches("alpha beta gamma delta", old[:300], n=3, cutoff=0.3)
changed = [op for op in matcher.get_opcodes() if op[0] != "equal"]
words = difflib.SequenceMatcher(None, " ".join(old[:60]), " ".join(new[:60])).ratio()
print(len(diff), round(matcher.ratio(), 4), len(changed), len(close), round(words, 4))
