# Sourced by defect scripts: edit an ext4 filesystem image in place with debugfs (no mounts).
# $IMG is the raw image the defect is applied to; other defects of the same composite image
# (see tests/integration/defects.sh) may be applied to it before or after.
set -eu
: "${IMG:?IMG must name the raw image}"
_dbg() { out=$(debugfs -w -R "$1" "$IMG" 2>&1) || { echo "debugfs $1: $out" >&2; exit 1; }
         case "$out" in *"File not found"*|*"Could not"*|*"already exists"*) echo "debugfs $1: $out" >&2; exit 1;; esac; }
# put_file PATH MODE LOCAL: creates (or replaces) a root-owned file holding LOCAL's bytes
put_file() {
    debugfs -w -R "rm $1" "$IMG" >/dev/null 2>&1 || true
    _dbg "write $3 $1"
    _dbg "set_inode_field $1 mode 0100$2"; _dbg "set_inode_field $1 uid 0"; _dbg "set_inode_field $1 gid 0"
}
# put PATH MODE CONTENT: the same with CONTENT (printf %b: \n and friends)
put() { tmp=$(mktemp); printf '%b' "$3" > "$tmp"; put_file "$1" "$2" "$tmp"; rm -f "$tmp"; }
# mkdir_p PATH: a root-owned directory (kept if it exists)
mkdir_p() { debugfs -w -R "mkdir $1" "$IMG" >/dev/null 2>&1 || true; _dbg "set_inode_field $1 mode 040755"; }
# link TARGET PATH: a symlink at PATH
link() { debugfs -w -R "rm $2" "$IMG" >/dev/null 2>&1 || true; _dbg "symlink $2 $1"; }
remove() { _dbg "rm $1"; }
# cmdline_add WORD / cmdline_drop WORD: the defect is in the kernel command line the image
# boots with; under direct kernel boot that is the runbook's append, changed for this image only
cmdline_add() { echo "+$1" >> "$IMG.cmdline"; }
cmdline_drop() { echo "-$1" >> "$IMG.cmdline"; }
# Runbook keys a defect needs (a vulnerability feed, a policy) are appended to $IMG.extra.yml.
