#!/usr/bin/env python3
"""Rewrites the generated part of docs/performance.md from criterion's estimates.

Reads target/criterion/<group>/<contender>/new/estimates.json (the mean, in ns), and puts each
contender next to its group's baseline as a ratio, so the figures stay comparable when the machine
is slower or busier. For the token-endpoint groups, measured paired with the floor, it reads
<group>/<contender>/paired.json instead: the floor's and the contender's time per call in each
criterion sample, and reports the median of the per-sample ratios with the middle half of them.
It also counts the unique crates of grantkit's default build and of its anchors' (from
`cargo tree`, run in a scratch project for the anchors).
"""
import json, os, pathlib, platform, re, statistics, subprocess, sys, tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
CRIT = ROOT / "target" / "criterion"
DOC = ROOT / "docs" / "performance.md"

def mean_ns(group, name):
    path = CRIT / group / name / "new" / "estimates.json"
    if not path.exists():  # an ungrouped bench: `group/name` becomes one directory `group_name`
        path = CRIT / f"{group}_{name}" / "new" / "estimates.json"
    if not path.exists():
        return None
    return json.loads(path.read_text())["mean"]["point_estimate"]

def fmt_time(ns):
    if ns is None:
        return "—"
    for unit, div in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= div:
            return f"{ns / div:.3g} {unit}"
    return f"{ns:.3g} ns"

def table(title, group, baseline, names, note, throughput=False):
    base = mean_ns(group, baseline)
    rows = [f"### {title}", "", note, "", "| contender | mean | ratio to " + baseline + " |", "|---|---|---|"]
    for name in names:
        ns = mean_ns(group, name)
        if ns is None or base is None:
            ratio = "—"
        elif throughput:
            ratio = f"{base / ns:.3f}× throughput"
        else:
            ratio = f"{ns / base:.3f}×"
        rows.append(f"| {name} | {fmt_time(ns)} | {ratio} |")
    return "\n".join(rows) + "\n"

def paired(group, name):
    path = CRIT / group / name / "paired.json"
    if not path.exists():
        return None
    samples = json.loads(path.read_text())
    ratios = sorted(p["contender_ns"] / p["floor_ns"] for p in samples)
    q1, _, q3 = statistics.quantiles(ratios, n=4)
    return {
        "floor": statistics.median(p["floor_ns"] for p in samples),
        "contender": statistics.median(p["contender_ns"] for p in samples),
        "ratio": statistics.median(ratios), "q1": q1, "q3": q3, "n": len(samples),
    }

def paired_table(title, group, names, note, throughput=False):
    unit = "throughput (floor time ÷ contender time)" if throughput else "time ratio to the floor"
    rows = [f"### {title}", "", note, "",
            f"| contender | contender, median | floor in the same samples | {unit}, median | middle half of samples |",
            "|---|---|---|---|---|"]
    for name in names:
        p = paired(group, name)
        if p is None:
            rows.append(f"| {name} | — | — | — | — |")
            continue
        if throughput:
            ratio, low, high = 1 / p["ratio"], 1 / p["q3"], 1 / p["q1"]
        else:
            ratio, low, high = p["ratio"], p["q1"], p["q3"]
        rows.append(f"| {name} | {fmt_time(p['contender'])} | {fmt_time(p['floor'])} | {ratio:.3f}× | {low:.3f}–{high:.3f}× |")
    return "\n".join(rows) + "\n"

def crate_count(manifest_dir, package=None):
    cmd = ["cargo", "tree", "-e", "normal", "--prefix", "none"]
    if package:
        cmd += ["-p", package]
    out = subprocess.run(cmd, cwd=manifest_dir, capture_output=True, text=True, check=True).stdout
    return len({line.strip().removesuffix(" (*)") for line in out.splitlines() if line.strip()})

def anchor_count(dep_line):
    with tempfile.TemporaryDirectory() as tmp:
        (pathlib.Path(tmp) / "src").mkdir()
        (pathlib.Path(tmp) / "src" / "lib.rs").write_text("")
        (pathlib.Path(tmp) / "Cargo.toml").write_text(
            f'[package]\nname = "anchor"\nversion = "0.0.0"\nedition = "2021"\n\n[dependencies]\n{dep_line}\n[workspace]\n')
        return crate_count(tmp) - 1  # minus the scratch package itself

def main(argv):
    cli_build = None
    if "--cli-build-seconds" in argv:
        cli_build = argv[argv.index("--cli-build-seconds") + 1]
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
    parts = [
        f"Measured on: {os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}; "
        "loopback HTTP; release build. Reproduce with `scripts/bench` (`--build-time` also times the CLI build).",
        "",
        paired_table("Code exchange, sequential", "code_exchange", ["grantkit", "oauth2", "floor_with_timeout"],
              "One authorization-code exchange against a loopback token endpoint. The floor is a hand-written reqwest form POST + serde parse, without a timeout. `floor_with_timeout` is the same code with what grantkit always has: a 30 s total timeout (`tokio::time::timeout`) and a `User-Agent`. Each sample runs the floor and the contender in turn, so both meet the same machine. Target: grantkit ≤ 1.02×."),
        paired_table("Refresh, sequential", "refresh", ["grantkit", "oauth2", "floor_with_timeout"],
              "One refresh-token grant, same endpoint. Target: grantkit ≤ 1.02×."),
        paired_table("Code exchange, 64 concurrent", "code_exchange_x64", ["grantkit", "oauth2", "floor_with_timeout"],
              "A batch of 64 concurrent exchanges on one client thread. Target: grantkit ≥ 0.98× the floor's throughput.",
              throughput=True),
        paired_table("Client CPU per code exchange", "code_exchange_client_cpu", ["grantkit", "oauth2", "floor_with_timeout"],
              "CPU time of the client thread per call (the server runs on another thread and is not counted): what each contender costs on top of the same wire traffic."),
        paired_table("Client CPU per refresh", "refresh_client_cpu", ["grantkit", "oauth2", "floor_with_timeout"], "As above, for a refresh."),
        table("ID-token validation, RS256, warm keys", "id_token_rs256", "floor", ["floor", "grantkit", "openidconnect"],
              "The same token and key. The floor is `jsonwebtoken::decode` (on aws-lc-rs, as grantkit) with iss/aud/exp checks; grantkit runs every check of docs/oidc.md. Target: ≤ 1.1×, and no network request after warm-up (asserted by the bench)."),
        table("ID-token validation, ES256, warm keys", "id_token_es256", "floor", ["floor", "grantkit", "openidconnect"], "As above, with P-256."),
        table("Authorization URL (state + PKCE S256 + nonce)", "authorize_url", "oauth2", ["oauth2", "grantkit"],
              "Building the URL and what must be kept for the callback."),
        table("Token source", "access_token", "fresh", ["fresh"],
              "`TokenSource::access_token()` on a fresh token (see docs/token-lifecycle.md for the refresh-waiter figures)."),
    ]
    try:
        ours = crate_count(ROOT, "grantkit")
        oauth2 = anchor_count('oauth2 = "5"')
        oidc = anchor_count('openidconnect = "4"')
        parts.append("### Dependency weight\n\nUnique crates in `cargo tree -e normal` with default features.\n\n"
                     "| crate | unique crates |\n|---|---|\n"
                     f"| grantkit (OAuth 2.0 + OpenID Connect + token lifecycle) | {ours} |\n| oauth2 5 (reqwest, rustls) | {oauth2} |\n| openidconnect 4 | {oidc} |\n")
    except Exception as e:  # the registry may be unreachable; keep the rest
        parts.append(f"### Dependency weight\n\n(not measured: {e})\n")
    if cli_build:
        parts.append(f"Clean `cargo build --release -p grantkit-cli`: {cli_build} s.\n")
    generated = "\n".join(parts)
    text = DOC.read_text()
    text = re.sub(r"(<!-- generated:start -->\n).*(<!-- generated:end -->)", lambda m: m.group(1) + generated + "\n" + m.group(2), text, flags=re.S)
    DOC.write_text(text)
    print(generated)

if __name__ == "__main__":
    main(sys.argv[1:])
