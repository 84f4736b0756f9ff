"""Parse generated TOML configuration files with tomllib (pure Python)."""
import tomllib


def make(i):
    services = "\n".join(
        f"""
[services.svc{j}]
image = "registry.example/svc{j}:{i}.{j}"
replicas = {j % 5 + 1}
ports = [{8000 + j}, {9000 + j}]
env = {{ LOG_LEVEL = "info", WORKERS = {j % 8}, DEBUG = {str(j % 2 == 0).lower()} }}
started = 2024-01-{j % 28 + 1:02}T12:00:00Z
weights = [0.5, 1.25, -3e2]
""" for j in range(25))
    return f"""# generated config {i}
title = "deployment {i}"
version = "1.{i}"

[owner]
name = "ops"
email = 'ops@example.org'
notes = \"\"\"multi
line {i}\"\"\"

{services}

[[hosts]]
name = "alpha"
ip = "10.0.0.{i % 250}"

[[hosts]]
name = "beta"
ip = "10.0.1.{i % 250}"
"""


docs = [make(i) for i in range(40)]
total = replicas = 0
for text in docs:
    cfg = tomllib.loads(text)
    total += len(cfg["services"]) + len(cfg["hosts"])
    replicas += sum(s["replicas"] for s in cfg["services"].values())
print(total, replicas, cfg["owner"]["notes"].split()[-1], cfg["services"]["svc3"]["env"])
