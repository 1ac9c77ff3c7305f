#!/usr/bin/env python3
"""Rewrites the generated part of docs/performance.md from criterion's estimates.

Reads target/criterion/<group>/<contender>/new/estimates.json (the mean, in ns), and puts each
contender next to its group's baseline as a ratio, so the figures stay comparable when the machine
is slower or busier. It also counts the unique crates of grantkit's default build and of its
anchors' (from `cargo tree`, run in a scratch project for the anchors).
"""
import json, os, pathlib, platform, re, subprocess, sys, tempfile

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
        table("Code exchange, sequential", "code_exchange", "floor", ["floor", "grantkit", "oauth2"],
              "One authorization-code exchange against a loopback token endpoint. The floor is a hand-written reqwest form POST + serde parse. Target: grantkit ≤ 1.02×."),
        table("Refresh, sequential", "refresh", "floor", ["floor", "grantkit", "oauth2"],
              "One refresh-token grant, same endpoint."),
        table("Code exchange, 64 concurrent", "code_exchange_x64", "floor", ["floor", "grantkit", "oauth2"],
              "A batch of 64 concurrent exchanges; throughput is the floor's batch time divided by the contender's. Target: grantkit ≥ 0.98×.",
              throughput=True),
        table("ID-token validation, RS256, warm keys", "id_token_rs256", "floor", ["floor", "grantkit", "openidconnect"],
              "The same token and key. The floor is `jsonwebtoken::decode` (ring) with iss/aud/exp checks; grantkit runs every check of docs/oidc.md. Target: ≤ 1.1×, and no network request after warm-up (asserted by the bench)."),
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
