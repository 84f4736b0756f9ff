"""A coroutine `await` chain and a `yield from` chain, for counting (callgrind): every value
crosses DEPTH frames of compiled generators or coroutines.

usage: python bench/coro_chain.py [ROUNDS]   (with OVERDRIVE=1 for the JIT)
"""
import asyncio
import sys

DEPTH = 10


class Tick:
    """A bare awaitable: its __await__ yields once, suspending the whole chain."""

    def __await__(self):
        yield None


async def leaf(i):
    await Tick()
    return i


async def chain(depth, i):
    if depth == 0:
        return await leaf(i)
    return await chain(depth - 1, i) + 1


async def main(rounds):
    total = 0
    for i in range(rounds):
        total += await chain(DEPTH, i)
    return total


def gen_leaf(n):
    for i in range(n):
        yield i
    return n


def gen_chain(depth, n):
    if depth == 0:
        return (yield from gen_leaf(n))
    return (yield from gen_chain(depth - 1, n))


def drive(rounds):
    total = 0
    for v in gen_chain(DEPTH, rounds):
        total += v
    return total


if __name__ == "__main__":
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    print(asyncio.run(main(rounds)), drive(rounds * 5))
