"""Round-trip documents through json with its C accelerator turned off (pure Python)."""
import json
import json.decoder
import json.encoder
import json.scanner
import random

# json's pure-Python scanner, string parser and encoder, whether or not _json was imported
# before (blocking the import is not enough: another module may have imported json first).
json.scanner.make_scanner = json.scanner.py_make_scanner
json.decoder.scanstring = json.decoder.py_scanstring
json.encoder.c_make_encoder = None
json.encoder.encode_basestring = json.encoder.py_encode_basestring
json.encoder.encode_basestring_ascii = json.encoder.py_encode_basestring_ascii

rng = random.Random(3)


def record(i):
    return {"id": i, "name": f"user{i}", "score": rng.random() * 100,
            "tags": [rng.choice(["a", "b", "c", "dé", "e\n"]) for _ in range(rng.randint(0, 6))],
            "active": rng.random() < 0.5, "parent": None if i % 3 else i // 3,
            "address": {"street": f"{i} Main St", "zip": f"{rng.randrange(99999):05}"}}


data = [record(i) for i in range(1500)]
text = json.dumps(data, indent=1, sort_keys=True)
back = json.loads(text)
compact = json.dumps(back, separators=(",", ":"), ensure_ascii=False)
again = json.loads(compact)
assert again == back
print(len(text), len(compact), sum(r["id"] for r in again), json.encoder.c_make_encoder,
      type(json.JSONDecoder().scan_once).__name__)
