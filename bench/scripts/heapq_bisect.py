"""Graph and interval algorithms with heapq and bisect: Dijkstra, k-smallest, range lookups."""
import bisect
import heapq
import random

rng = random.Random(21)
N = 3000
graph = [[] for _ in range(N)]
for u in range(N):
    for _ in range(5):
        v = rng.randrange(N)
        graph[u].append((v, rng.randint(1, 100)))


def dijkstra(src):
    dist = [None] * N
    heap = [(0, src)]
    while heap:
        d, u = heapq.heappop(heap)
        if dist[u] is not None:
            continue
        dist[u] = d
        for v, w in graph[u]:
            if dist[v] is None:
                heapq.heappush(heap, (d + w, v))
    return dist


dists = [dijkstra(s) for s in (0, 1, 2)]
reach = sum(d is not None for d in dists[0])
far = heapq.nlargest(3, (d for d in dists[1] if d is not None))
near = heapq.nsmallest(5, range(N), key=lambda v: dists[2][v] if dists[2][v] is not None else 1e9)

# Interval lookups: sorted breakpoints, bisect to find the bucket of each value.
breaks = sorted(rng.sample(range(100000), 400))
grades = [f"g{i}" for i in range(len(breaks) + 1)]
hist = {}
for _ in range(40000):
    g = grades[bisect.bisect_right(breaks, rng.randrange(100000))]
    hist[g] = hist.get(g, 0) + 1
sorted_list = []
for x in (rng.randrange(10**6) for _ in range(8000)):
    bisect.insort(sorted_list, x)
merged = list(heapq.merge(sorted_list[::2], sorted_list[1::2]))
print(reach, far, near[:2], max(hist.values()), merged == sorted_list, sorted_list[4000])
