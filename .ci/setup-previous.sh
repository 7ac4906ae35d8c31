#!/usr/bin/env bash
# Set-up for the rolling-upgrade test (crates/jikimi/tests/it/cluster_upgrade.rs): the `jikimi` binary of the
# previous release, the commit named in .ci/previous-release, which the test runs beside this tree's binary on one
# database and one stream. Built from `git archive` of that commit in the same target directory, so the
# dependencies this tree builds are reused and only the workspace's own crates compile a second time. Idempotent:
# a no-op once $CARGO_TARGET_DIR/previous-release/<commit>/jikimi exists.
set -euo pipefail
cd "$(dirname "$0")/.."
commit=$(tr -d '[:space:]' <.ci/previous-release)
target=${CARGO_TARGET_DIR:?CARGO_TARGET_DIR must be set (.ci/run sets it)}
dest="$target/previous-release/$commit"
# Before the stamp below existed, the two trees shared their crates' artefacts (see the note on versions): a target
# directory from then may hold the old tree's libraries under this tree's names, taken as fresh, and a previous
# binary built from a mix. Once: clean this workspace's own packages and build the previous binary again.
stamp="$target/previous-release/.own-artefacts"
if [ ! -e "$stamp" ]; then
  echo "clearing this workspace's own crates from $target (once)"
  rm -rf "$dest"
  members=$(cargo metadata --no-deps --format-version 1 --locked |
    python3 -c 'import json, sys; print(" ".join(p["name"] for p in json.load(sys.stdin)["packages"]))')
  for member in $members; do
    cargo clean -q -p "$member"
  done
  mkdir -p "$target/previous-release"
  touch "$stamp"
fi
if [ -x "$dest/jikimi" ]; then
  echo "previous release $commit: $dest/jikimi"
  exit 0
fi
if ! git cat-file -e "$commit^{commit}" 2>/dev/null; then
  echo "FATAL: the previous release $commit is not in this clone's history (a shallow clone?): the rolling-upgrade test needs it" >&2
  exit 1
fi
# A fixed source path: cargo's fingerprints of its crates hold between runs.
src="$target/previous-release/src"
rm -rf "$src"
mkdir -p "$src"
git archive "$commit" | tar -x -C "$src"
# The old workspace's crates must not share artefacts with this tree's: cargo names a path crate's artefacts and
# fingerprints by its name, version and path relative to the workspace root, which are the same in both trees, so
# the two builds would overwrite each other's libraries and each take the other's as fresh (this tree's server then
# fails to compile against the old `jikimi-mediahash`). A version of their own gives the old crates their own
# artefacts; the registry dependencies are still shared.
python3 - "$src" <<'PY'
import re, sys
root = sys.argv[1]
manifest = f"{root}/Cargo.toml"
text = open(manifest).read()
text, n = re.subn(r'(\[workspace\.package\]\nversion = )"[^"]*"', r'\1"0.0.0-previous"', text)
assert n == 1, "no [workspace.package] version in the previous release's Cargo.toml"
open(manifest, "w").write(text)
lock = f"{root}/Cargo.lock"
blocks = open(lock).read().split("\n[[package]]\n")
for i, block in enumerate(blocks):
    if block.startswith('name = "jikimi') and "\nsource = " not in block:
        blocks[i] = re.sub(r'\nversion = "[^"]*"', '\nversion = "0.0.0-previous"', block, count=1)
open(lock, "w").write("\n[[package]]\n".join(blocks))
PY
# The previous build writes its binary to $target/debug/jikimi, where this tree's is: keep ours aside and put it back.
ours="$target/debug/jikimi"
kept=""
if [ -e "$ours" ]; then
  kept=$(mktemp "$target/jikimi-ours.XXXXXX")
  cp -p "$ours" "$kept"
fi
echo "building the previous release $commit"
(cd "$src" && cargo build -p jikimi --locked)
mkdir -p "$dest"
cp "$ours" "$dest/jikimi.partial"
mv "$dest/jikimi.partial" "$dest/jikimi"
if [ -n "$kept" ]; then
  mv "$kept" "$ours"
else
  rm -f "$ours"
fi
echo "previous release $commit: $dest/jikimi"
