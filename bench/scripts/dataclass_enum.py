"""An order book model: dataclasses and enums as application code uses them."""
import dataclasses
import enum
import random
from dataclasses import dataclass, field


class Side(enum.Enum):
    BUY = "buy"
    SELL = "sell"


class Status(enum.IntEnum):
    NEW = 1
    PARTIAL = 2
    FILLED = 3
    CANCELLED = 4


class Flag(enum.Flag):
    NONE = 0
    IOC = enum.auto()
    POST_ONLY = enum.auto()
    HIDDEN = enum.auto()


@dataclass(order=True)
class Order:
    price: int
    seq: int
    side: Side = field(compare=False)
    qty: int = field(compare=False)
    status: Status = field(default=Status.NEW, compare=False)
    flags: Flag = field(default=Flag.NONE, compare=False)
    fills: list = field(default_factory=list, compare=False, repr=False)


@dataclass(frozen=True)
class Fill:
    buy: int
    sell: int
    price: int
    qty: int


rng = random.Random(17)
book = {Side.BUY: [], Side.SELL: []}
fills = []
for seq in range(4000):
    side = Side.BUY if rng.random() < 0.5 else Side.SELL
    flags = Flag.NONE
    for f in (Flag.IOC, Flag.POST_ONLY, Flag.HIDDEN):
        if rng.random() < 0.1:
            flags |= f
    order = Order(rng.randint(95, 105), seq, side, rng.randint(1, 10), flags=flags)
    other = book[Side.SELL if side is Side.BUY else Side.BUY]
    other.sort(reverse=side is Side.SELL)
    while order.qty and other and ((side is Side.BUY and other[0].price <= order.price)
                                   or (side is Side.SELL and other[0].price >= order.price)):
        top = other[0]
        qty = min(top.qty, order.qty)
        fill = Fill(order.seq if side is Side.BUY else top.seq,
                    top.seq if side is Side.BUY else order.seq, top.price, qty)
        fills.append(fill)
        top.fills.append(fill)
        top.qty -= qty
        order.qty -= qty
        top.status = Status.FILLED if not top.qty else Status.PARTIAL
        if not top.qty:
            other.pop(0)
    if order.qty and Flag.IOC not in order.flags:
        order.status = Status.PARTIAL if order.fills else Status.NEW
        book[side].append(order)
rest = [dataclasses.asdict(o) for o in book[Side.BUY][:50]]
clone = dataclasses.replace(book[Side.SELL][0], qty=0) if book[Side.SELL] else None
print(len(fills), sum(f.qty for f in fills), len(book[Side.BUY]), len(book[Side.SELL]),
      len(rest), clone.status.name if clone else None, Status(2).name, Side("sell"))
