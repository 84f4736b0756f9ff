"""Parse a generated web-server log with regular expressions and report on it."""
import random
import re
from collections import Counter, defaultdict

rng = random.Random(5)
PATHS = ["/", "/login", "/api/items", "/api/items/{}", "/static/app.js", "/search?q={}"]
AGENTS = ["Mozilla/5.0 (X11; Linux x86_64)", "curl/8.1", "python-requests/2.31", "Googlebot/2.1"]
lines = []
for i in range(9000):
    path = rng.choice(PATHS).format(rng.randrange(500))
    lines.append(f'10.{rng.randrange(4)}.{rng.randrange(256)}.{rng.randrange(256)} - - '
                 f'[12/Mar/2024:{i // 3600 % 24:02}:{i // 60 % 60:02}:{i % 60:02} +0000] '
                 f'"{rng.choice(["GET", "GET", "POST", "PUT"])} {path} HTTP/1.1" '
                 f'{rng.choice([200, 200, 200, 301, 404, 500])} {rng.randrange(20000)} '
                 f'"-" "{rng.choice(AGENTS)}"')

LINE = re.compile(r'(?P<ip>\d+\.\d+\.\d+\.\d+) \S+ \S+ \[(?P<when>[^\]]+)\] '
                  r'"(?P<method>[A-Z]+) (?P<path>\S+) [^"]*" (?P<status>\d{3}) (?P<size>\d+) '
                  r'"[^"]*" "(?P<agent>[^"]*)"')
HOUR = re.compile(r":(\d\d):\d\d:\d\d ")
ITEM = re.compile(r"^/api/items/(\d+)$")
status = Counter()
per_ip = defaultdict(int)
hours = Counter()
items = Counter()
bots = 0
for line in lines:
    m = LINE.match(line)
    if not m:
        continue
    status[m["status"]] += 1
    per_ip[m["ip"]] += int(m["size"])
    hours[HOUR.search(m["when"] + " ").group(1)] += 1
    im = ITEM.match(m["path"])
    if im:
        items[int(im.group(1))] += 1
    if re.search(r"bot|crawl", m["agent"], re.I):
        bots += 1
redacted = re.sub(r"\d+\.\d+\.\d+\.\d+", "x.x.x.x", "\n".join(lines[:2000]))
print(sorted(status.items()), len(per_ip), hours.most_common(1), items.most_common(2), bots,
      len(redacted))
