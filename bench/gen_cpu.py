"""CPU time of generator shapes, stock or JIT, for docs/performance.md "h-gen".

usage: python bench/gen_cpu.py KIND JIT [REPS]   (JIT: 1 = overdrive on, 0 = stock)
  gen    the timed part of pyperformance's generators (a 100,000-node tree walked by
         recursive `yield from`, ~17 levels)
  agen   pyperformance's async_generators body (tree built, then walked by recursive
         `async for` under asyncio.run)
  depth  ns per value and level of a `yield from` chain, depths 0 to 24
  flat   ns per value of `for x in gen()` over a plain generator

CPU time (time.process_time), the minimum of REPS runs: on a machine shared with other
work, wall time counts the waits for the CPU too, and callgrind's instruction counts miss
what these shapes pay in the processor (a chain of calls deeper than the return-address
predictor, some 32 entries, mispredicts every return beyond it).
"""
from __future__ import annotations

import asyncio
import sys
import time


class Tree:
    def __init__(self, left, value, right):
        self.left = left
        self.value = value
        self.right = right

    def __iter__(self):
        if self.left:
            yield from self.left
        yield self.value
        if self.right:
            yield from self.right

    async def __aiter__(self):
        if self.left:
            async for i in self.left:
                yield i
        yield self.value
        if self.right:
            async for i in self.right:
                yield i


def tree(values):
    n = len(values)
    if n == 0:
        return None
    i = n // 2
    return Tree(tree(values[:i]), values[i], tree(values[i + 1:]))


def leaf(n):
    i = 0
    while i < n:
        yield i
        i += 1


def chain(d, n):
    if d == 0:
        yield from leaf(n)
    else:
        yield from chain(d - 1, n)


def walk(it):
    t0 = time.process_time()
    for _ in it:
        pass
    return time.process_time() - t0


async def awalk():
    async for _ in tree(range(100000)):
        pass


def main() -> None:
    kind, jit = sys.argv[1], sys.argv[2] == "1"
    reps = int(sys.argv[3]) if len(sys.argv) > 3 else 10
    if jit:
        import overdrive

        overdrive.enable()
    side = "jit  " if jit else "stock"
    if kind == "gen":
        t = tree(range(100000))
        best = min(walk(t) for _ in range(reps))
        print(f"gen   {side} {best * 1e3:.1f} ms")
    elif kind == "agen":
        def once():
            t0 = time.process_time()
            asyncio.run(awalk())
            return time.process_time() - t0
        best = min(once() for _ in range(reps))
        print(f"agen  {side} {best * 1e3:.1f} ms")
    elif kind == "depth":
        walk(chain(3, 1000))
        out = []
        for d in (0, 2, 4, 8, 12, 16, 24):
            n = 2000000 // (d + 2)
            best = min(walk(chain(d, n)) for _ in range(reps))
            out.append(f"d={d}:{best / (n * (d + 1)) * 1e9:.1f}")
        print(f"depth {side} " + " ".join(out) + " ns per value and level")
    elif kind == "flat":
        walk(leaf(1000))
        n = 2000000
        best = min(walk(leaf(n)) for _ in range(reps))
        print(f"flat  {side} {best / n * 1e9:.1f} ns per value")
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
