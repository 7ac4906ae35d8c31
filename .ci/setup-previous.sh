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
