"""A discrete-event simulation of a bank with tellers and customers, with plain classes."""
import heapq
import random


class Customer:
    def __init__(self, ident, arrival, work):
        self.ident, self.arrival, self.work = ident, arrival, work
        self.started = self.left = None

    def wait(self):
        return self.started - self.arrival


class Teller:
    def __init__(self, name, speed):
        self.name, self.speed, self.busy_until, self.served = name, speed, 0.0, 0

    def service_time(self, customer):
        return customer.work / self.speed


class Bank:
    def __init__(self, tellers, rng):
        self.tellers, self.rng = tellers, rng
        self.queue, self.events, self.done, self.now = [], [], [], 0.0
        self.seq = 0

    def schedule(self, when, kind, payload):
        self.seq += 1
        heapq.heappush(self.events, (when, self.seq, kind, payload))

    def free_teller(self):
        for t in self.tellers:
            if t.busy_until <= self.now:
                return t
        return None

    def start(self):
        while self.queue:
            teller = self.free_teller()
            if teller is None:
                return
            c = self.queue.pop(0)
            c.started = self.now
            teller.busy_until = self.now + teller.service_time(c)
            teller.served += 1
            self.schedule(teller.busy_until, "leave", c)

    def run(self, customers):
        t = 0.0
        for i in range(customers):
            t += self.rng.expovariate(1.9)
            self.schedule(t, "arrive", Customer(i, t, self.rng.uniform(0.5, 3.0)))
        while self.events:
            self.now, _, kind, c = heapq.heappop(self.events)
            if kind == "arrive":
                self.queue.append(c)
            else:
                c.left = self.now
                self.done.append(c)
            self.start()


bank = Bank([Teller(f"t{i}", 0.8 + 0.1 * i) for i in range(4)], random.Random(1))
bank.run(20000)
waits = sorted(c.wait() for c in bank.done)
print(len(bank.done), round(waits[len(waits) // 2], 4), round(waits[-1], 3),
      [t.served for t in bank.tellers])
