# Sourced by defect scripts: edit an ext4 filesystem image in place with debugfs (no mounts).
# $IMG is the raw image the defect is applied to.
set -eu
: "${IMG:?IMG must name the raw image}"
_dbg() { out=$(debugfs -w -R "$1" "$IMG" 2>&1) || { echo "debugfs $1: $out" >&2; exit 1; }
         case "$out" in *"File not found"*|*"Could not"*|*"already exists"*) echo "debugfs $1: $out" >&2; exit 1;; esac; }
# put PATH MODE CONTENT: creates (or replaces) a root-owned file
put() {
    tmp=$(mktemp); printf '%b' "$3" > "$tmp"
    debugfs -w -R "rm $1" "$IMG" >/dev/null 2>&1 || true
    _dbg "write $tmp $1"; rm -f "$tmp"
    _dbg "set_inode_field $1 mode 0100$2"; _dbg "set_inode_field $1 uid 0"; _dbg "set_inode_field $1 gid 0"
}
# link TARGET PATH: a symlink at PATH
link() { debugfs -w -R "rm $2" "$IMG" >/dev/null 2>&1 || true; _dbg "symlink $2 $1"; }
remove() { _dbg "rm $1"; }
