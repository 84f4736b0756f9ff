"""Hashes what tier 2 makes of every function of json.decoder, json.encoder,
email._header_value_parser and tomllib._parser, to show a change to the compiler left its
output as it was. Run in stress mode, so each function tier 2 accepts is compiled at its
first call:

    PYTHONHASHSEED=0 OVERDRIVE=1 OVERDRIVE_THRESHOLD=0 OVERDRIVE_TIER2_THRESHOLD=0 \
        .venv/bin/python tools/tier2_text_hash.py OUT.txt

Writes per function overdrive.dis_text(f, tier=2) (HIR, and LIR with its registers) and
info()'s tier and, at tier 2, code_size, to OUT.txt; prints how many functions have a LIR
and the text's sha256. Addresses (0x and 9 or more hex digits) are written as ADDR: they
change from run to run. A tier-1 code size is left out: it depends on where the helpers
were loaded (rel32 or not), not on tier 2."""
import hashlib
import inspect
import re
import sys

import email
import email._header_value_parser as hvp
import email.policy
import json
import json.decoder
import json.encoder
import tomllib
import tomllib._parser

import overdrive

MSG = ("From: A <a@example.com>\nTo: b@example.com, \"C D\" <c@d.org>\n"
       "Subject: =?utf-8?q?hi_there?=\nContent-Type: text/plain; charset=utf-8\n\nbody\n")
TOML = 'a = 1\nb = "x"\n[t]\nc = [1, 2, 3]\nd = {e = 1.5}\nf = 1979-05-27T07:32:00Z\n'


def functions(mod):
    for name, v in sorted(vars(mod).items()):
        if inspect.isfunction(v) and v.__module__ == mod.__name__:
            yield name, v
        elif inspect.isclass(v) and v.__module__ == mod.__name__:
            for mn, mv in sorted(vars(v).items()):
                if inspect.isfunction(mv):
                    yield name + "." + mn, mv


def main(path):
    for _ in range(3):      # feedback for the compiles, and the compiles themselves
        m = email.message_from_string(MSG, policy=email.policy.default)
        _ = (m["To"].addresses, m["Subject"], m.get_content())
        s = json.dumps({"a": [1, 2.5, "x\u00e9", None, True], "b": {"c": "d" * 5}}, indent=2)
        json.loads(s)
        json.dumps([1, 2], sort_keys=True)
        tomllib.loads(TOML)
    out, n = [], 0
    for mod in (json.decoder, json.encoder, hvp, tomllib._parser):
        for name, f in functions(mod):
            try:
                t = overdrive.dis_text(f, tier=2)
            except Exception as e:      # refused: the reason's type is enough here
                t = "ERR " + type(e).__name__
            n += "LIR" in t
            d = overdrive.info(f)
            size = d.get("code_size") if d.get("tier") == 2 else "-"
            out.append(f"{mod.__name__}.{name}\n{t}\n{d.get('tier')} {size}\n")
    text = re.sub(r"0x[0-9a-f]{9,}", "ADDR", "".join(out))
    with open(path, "w") as fh:
        fh.write(text)
    print(n, "functions with a tier-2 LIR", hashlib.sha256(text.encode()).hexdigest())


if __name__ == "__main__":
    main(sys.argv[1])
