"""N-body simulation of the Jovian planets: the program `make demo` runs.

Plain Python on purpose (classes, attribute access, float arithmetic, loops):
it is the kind of code a user would write, not a tuned benchmark kernel.

    python bench/demo_nbody.py [STEPS]
"""

from __future__ import annotations

import math
import sys
import time

SOLAR_MASS = 4 * math.pi * math.pi
DAYS_PER_YEAR = 365.24


class Body:
    def __init__(self, name: str, x: float, y: float, z: float,
                 vx: float, vy: float, vz: float, mass: float) -> None:
        self.name = name
        self.x, self.y, self.z = x, y, z
        # Velocities are given in AU/day; the simulation works in AU/year.
        self.vx, self.vy, self.vz = vx * DAYS_PER_YEAR, vy * DAYS_PER_YEAR, vz * DAYS_PER_YEAR
        self.mass = mass * SOLAR_MASS


def solar_system() -> list[Body]:
    return [
        Body("sun", 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0),
        Body("jupiter", 4.84143144246472090e+00, -1.16032004402742839e+00,
             -1.03622044471123109e-01, 1.66007664274403694e-03, 7.69901118419740425e-03,
             -6.90460016972063023e-05, 9.54791938424326609e-04),
        Body("saturn", 8.34336671824457987e+00, 4.12479856412430479e+00,
             -4.03523417114321381e-01, -2.76742510726862411e-03, 4.99852801234917238e-03,
             2.30417297573763929e-05, 2.85885980666130812e-04),
        Body("uranus", 1.28943695621391310e+01, -1.51111514016986312e+01,
             -2.23307578892655734e-01, 2.96460137564761618e-03, 2.37847173959480950e-03,
             -2.96589568540237556e-05, 4.36624404335156298e-05),
        Body("neptune", 1.53796971148509165e+01, -2.59193146099879641e+01,
             1.79258772950371181e-01, 2.68067772490389322e-03, 1.62824170038242295e-03,
             -9.51592254519715870e-05, 5.15138902046611451e-05),
    ]


def offset_momentum(bodies: list[Body]) -> None:
    """Give the sun the velocity that makes the system's total momentum zero."""
    px = sum(b.vx * b.mass for b in bodies)
    py = sum(b.vy * b.mass for b in bodies)
    pz = sum(b.vz * b.mass for b in bodies)
    sun = bodies[0]
    sun.vx, sun.vy, sun.vz = -px / sun.mass, -py / sun.mass, -pz / sun.mass


def energy(bodies: list[Body]) -> float:
    e = 0.0
    for i, b in enumerate(bodies):
        e += 0.5 * b.mass * (b.vx * b.vx + b.vy * b.vy + b.vz * b.vz)
        for other in bodies[i + 1:]:
            dx, dy, dz = b.x - other.x, b.y - other.y, b.z - other.z
            e -= b.mass * other.mass / math.sqrt(dx * dx + dy * dy + dz * dz)
    return e


def advance(bodies: list[Body], dt: float, steps: int) -> None:
    pairs = [(a, b) for i, a in enumerate(bodies) for b in bodies[i + 1:]]
    for _ in range(steps):
        for a, b in pairs:
            dx, dy, dz = a.x - b.x, a.y - b.y, a.z - b.z
            dist2 = dx * dx + dy * dy + dz * dz
            mag = dt / (dist2 * math.sqrt(dist2))
            bm, am = b.mass * mag, a.mass * mag
            a.vx -= dx * bm
            a.vy -= dy * bm
            a.vz -= dz * bm
            b.vx += dx * am
            b.vy += dy * am
            b.vz += dz * am
        for body in bodies:
            body.x += dt * body.vx
            body.y += dt * body.vy
            body.z += dt * body.vz


def main(argv: list[str]) -> int:
    steps = int(argv[1]) if len(argv) > 1 else 200_000
    bodies = solar_system()
    offset_momentum(bodies)
    start = time.perf_counter()
    before = energy(bodies)
    advance(bodies, 0.01, steps)
    after = energy(bodies)
    elapsed = time.perf_counter() - start
    # The energies double as a correctness check: a JIT must not change them.
    print(f"energy before: {before:.12f}")
    print(f"energy after {steps} steps: {after:.12f}")
    print(f"simulation time: {elapsed:.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
