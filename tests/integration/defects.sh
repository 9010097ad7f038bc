#!/bin/sh
# Every built-in check is worth the bugs it catches: each tests/defects/<name>.sh breaks a
# copy of the clean Debian image in one way (editing ext4 with debugfs, no mounts), or the
# kernel command line it boots with (under direct kernel boot that is the runbook's append);
# kiln must fail the targeted case with a reason naming the evidence (exit status 1, a
# failure and not a configuration error). Each defect runs through the runbook of the clean
# tier runs (examples/common-debian.yml), and the clean image passes every targeted case
# through it: each check is proven both ways. KILN_DEFECTS=a,b limits (a name that matches
# no defect is an error).
#
# A VM per defect took most of CI's time, so defects that leave each other's cases alone
# share an image: "# image: NAME" in a defect script puts it in the composite image NAME,
# which carries every such defect and runs each one's targeted case in one environment
# (the requirements of all its cases merged); each case must still fail naming its own
# evidence. An image holds one defect per case, since a case fails with one reason. A defect
# without "# image:" (it breaks a reboot or the boot, or another case) has an image of its own.
# Every environment, the clean image's too, gets two NICs: a second NIC is what an image that
# configures only its build NIC gets wrong.
# The images run in KILN_DEFECT_LANES (default 2) lanes side by side, the clean image's run
# split in two among them: under TCG a guest keeps one host core busy, and CI has two.
# A defect with "# long: WHY" (its case reboots the guest or waits out a timeout: minutes each
# under TCG) runs, with its case in the clean image's run, only with KILN_DEFECTS_LONG=1 (all
# defects) or =only (those alone, as make check-long runs them); make check names what it left
# out. KILN_DEFECTS=a,b runs the named ones whatever their header.
. "$(dirname "$0")/lib.sh"
D=$KILN_ROOT/tests/defects
started=$(date +%s)
clean=$(sh "$KILN_ROOT/tests/images/build.sh" debian) || fail "cannot build the Debian test image"
qemu-img convert -O raw "$clean/disk.qcow2" clean.raw || fail "cannot convert the clean image"
base_append=$(sed -n 's/^ *- { name: append, value: "\(.*\)" }$/\1/p' "$KILN_ROOT/examples/common-debian.yml")
[ -n "$base_append" ] || fail "examples/common-debian.yml defines no append variable"
"$KILN" list --json > cases.json || fail "kiln list --json failed"

hdr() { sed -n "s/^# $1: //p" "$D/$2.sh"; }

# requirement CASE...: the merged requirement of the cases, with two NICs, as YAML
requirement() {
    jq -r --arg cases "$*" '($cases | split(" ")) as $c | [.[] | select(.name | IN($c[]))] |
        "{ nodes: \(map(.requires.nodes) | max), cpus: \(map(.requires.cpus) | max), " +
        "memory_mb: \(map(.requires.memory_mb) | max), nics: \([2, (map(.requires.nics) | max)] | max), " +
        "data_disks: \(map(.requires.data_disks) | max), features: [\([.[].requires.features | select(. != "") |
        split(",")[]] | unique | join(", "))] }"' cases.json
}

# runbook NAME IMAGE CPUS CASES...: the clean tier runs' runbook on IMAGE selecting CASES, in
# one environment that meets all their requirements (CPUS: vCPUs per node, - for the runbook's)
runbook() {
    name=$1 image=$2 cpus=$3; shift 3
    cat <<YAML
name: $name
include: [ $KILN_ROOT/examples/common-debian.yml ]
platform:
  requirement: $(requirement "$@")
  qemu:
    image: $image
$([ "$cpus" = - ] || echo "    cpus: $cpus")
testcase:
  - criteria: { name: "$(echo "$*" | tr ' ' '|')" }
YAML
    # defects may add runbook keys (a vulnerability feed, a policy) in IMAGE.extra.yml
    [ -f "$image.extra.yml" ] && cat "$image.extra.yml"
    return 0
}

# cmdline IMAGE: the base append with the words the image's defects add (+WORD) and drop
# (-WORD); fails on a word to drop that is not there (the defect would not be applied)
cmdline() {
    words=$base_append
    [ -f "$1.cmdline" ] || { echo "$words"; return 0; }
    while read -r w; do
        case $w in
            -*) case " $words " in *" ${w#-} "*) ;; *) echo "the kernel command line has no ${w#-} to drop"; return 1 ;; esac
                words=$(echo " $words " | sed "s| ${w#-} | |; s|^ *||; s| *$||") ;;
            +*) words="$words ${w#+}" ;;
            *) echo "$1.cmdline: \"$w\" is neither +WORD nor -WORD"; return 1 ;;
        esac
    done < "$1.cmdline"
    echo "$words"
}

names= long_left=
for script in "$D"/*.sh; do
    name=$(basename "$script" .sh)
    [ "$name" = lib ] && continue
    case ",${KILN_DEFECTS:-$name}," in *",$name,"*) ;; *) continue ;; esac
    if [ -z "${KILN_DEFECTS:-}" ]; then
        if [ -n "$(hdr long "$name")" ]; then
            case ${KILN_DEFECTS_LONG:-0} in 1|only) ;; *) long_left="$long_left $name ($(hdr case "$name"): $(hdr long "$name"))"; continue ;; esac
        else
            [ "${KILN_DEFECTS_LONG:-0}" = only ] && continue
        fi
    fi
    names="$names $name"
done
for want in $(echo "${KILN_DEFECTS:-}" | tr ',' ' '); do
    case " $names " in *" $want "*) ;; *) fail "KILN_DEFECTS names $want, which is no defect in tests/defects" ;; esac
done
[ -n "$names" ] || fail "no defect selected"

# plan: "IMAGE CASE DEFECT" lines; images: their names, in the order first named
: > plan
images= targets=
for name in $names; do
    t=$(hdr case "$name") e=$(hdr expect "$name") g=$(hdr image "$name")
    [ -n "$t" ] && [ -n "$e" ] || fail "tests/defects/$name.sh lacks '# case:' or '# expect:' (an empty expectation proves nothing)"
    jq -e --arg c "$t" 'any(.[]; .name == $c)' cases.json > /dev/null || fail "tests/defects/$name.sh targets $t, which is no case of kiln's"
    g=${g:+image-$g}
    g=${g:-own-$name}
    other=$(awk -v g="$g" -v t="$t" '$1 == g && $2 == t {print $3}' plan)
    [ -z "$other" ] || fail "defects $other and $name both target $t in ${g#image-}: a case fails with one reason, so one of them needs another image"
    echo "$g $t $name" >> plan
    case " $images " in *" $g "*) ;; *) images="$images $g" ;; esac
    case " $targets " in *" $t "*) ;; *) targets="$targets $t" ;; esac
done

# check_image IMAGE: applies its defects to a copy of the clean image, runs their cases in one
# environment, and writes result-DEFECT for each: "caught ..." or "MISSED ..." with kiln's output
check_image() {
    g=$1 img=$T/$1.raw
    defects=$(awk -v g="$g" '$1 == g {print $3}' plan)
    cases=$(awk -v g="$g" '$1 == g {print $2}' plan)
    cp --sparse=always clean.raw "$img"
    for name in $defects; do
        # a defect's scratch files (mktemp) go under $T, removed with it
        mkdir -p "$T/tmp"
        if ! TMPDIR=$T/tmp IMG=$img sh "$D/$name.sh" > "$g.apply" 2>&1; then
            for d in $defects; do { echo "  MISSED $d: could not apply $name to ${g#*-}"; cat "$g.apply"; } > "result-$d"; done
            rm -f "$img" "$img".*
            return
        fi
    done
    dup=$( [ -f "$img.extra.yml" ] && sed -n 's/^\([a-z_]*\):.*/\1/p' "$img.extra.yml" | sort | uniq -d)
    if [ -n "$dup" ] || ! append=$(cmdline "$img"); then
        why=${dup:+defects in ${g#*-} set the same runbook key: $dup}
        for d in $defects; do echo "  MISSED $d: ${why:-$append}" > "result-$d"; done
        rm -f "$img" "$img".*
        return
    fi
    runbook "defect-${g#*-}" "$img" - $cases > "$g.yml"
    t0=$(date +%s)
    "$KILN" run --runs-dir "runs-$g" -v images="$clean" -v append="$append" "$g.yml" > "$g.out" 2>&1
    rc=$?
    echo "$(( $(date +%s) - t0 ))" > "took-$g"
    r=runs-$g/latest/results.json
    rm -f "$img" "$img".*
    for name in $defects; do
        target=$(hdr case "$name") expect=$(hdr expect "$name")
        status=$(jq -r ".cases[] | select(.name==\"$target\") | .status" "$r" 2>/dev/null)
        reason=$(jq -r ".cases[] | select(.name==\"$target\") | .reason" "$r" 2>/dev/null)
        case "$rc:$status:$reason" in
            1:failed:*"$expect"*) echo "  caught $name: $target failed: $reason" > "result-$name" ;;
            *) { echo "  MISSED $name (image ${g#*-}): kiln exited $rc, $target is $status: $reason (expected exit 1 and a failure naming '$expect')"
                 cat "$g.out"; } > "result-$name" ;;
        esac
    done
}

# check_clean JOB CPUS CASES...: the clean image through the same runbook, passing every case
check_clean() {
    job=$1 cpus=$2; shift 2
    cp --sparse=always clean.raw "$job.raw"
    runbook "$job" "$T/$job.raw" "$cpus" "$@" > "$job.yml"
    t0=$(date +%s)
    # one vCPU: tsc=reliable too. On a loaded host the guest's clocksource watchdog can still see
    # the emulated TSC drift against hpet and mark it unstable (make check 2026-12-01 20:00:
    # "Marking TSC unstable due to clocksource watchdog"), and verify_vdso then skips where this
    # run must see it pass; tsc=reliable is the kernel's switch for a TSC known to be good, as on
    # hardware with an invariant TSC. The defect images boot without it.
    a=$base_append
    [ "$cpus" = 1 ] && a="$a tsc=reliable"
    "$KILN" run --runs-dir "runs-$job" -v images="$clean" -v append="$a" "$job.yml" > "$job.out" 2>&1
    rc=$?
    echo "$(( $(date +%s) - t0 ))" > "took-$job"
    rm -f "$job.raw"
    r=runs-$job/latest/results.json
    jq -r '.cases[] | "  clean image: \(.name) \(.status)\(if .reason then ": " + .reason else "" end)"' "$r" > "result-$job" 2>/dev/null
    passed=$(jq '[.cases[] | select(.status=="passed")] | length' "$r" 2>/dev/null)
    if [ "$rc" -ne 0 ] || [ "${passed:-0}" -ne $# ]; then
        { echo "  FAILED $job: kiln exited $rc, the clean image passed ${passed:-0} of $# targeted cases"; cat "$job.out"; } >> "result-$job"
    fi
}

# The jobs, taken in turn from one queue by the lanes: the clean image's run in two (the longest
# jobs, so first), then the defect images. The cases that reboot or wait out the boot (minutes
# each) run in the second clean job, with verify_vdso, on one vCPU: under TCG the vDSO can be
# judged only there (with two, the kernel finds the emulated TSCs unsynchronised and picks
# hpet, which has no vDSO read path, and the case skips).
clean_one= clean_rest=
for t in $targets; do
    case $t in verify_reboot_cycles|verify_clean_shutdown|boot_time|verify_vdso) clean_one="$clean_one $t" ;;
        *) clean_rest="$clean_rest $t" ;; esac
done
mkdir queue
n=0 clean_jobs=
enqueue() { n=$((n + 1)); echo "$*" > "queue/$(printf %03d $n)"; }
[ -n "$clean_rest" ] && enqueue check_clean clean-image - $clean_rest && clean_jobs="clean-image"
[ -n "$clean_one" ] && enqueue check_clean clean-image-one-cpu 1 $clean_one && clean_jobs="$clean_jobs clean-image-one-cpu"
for g in $images; do enqueue check_image "$g"; done
lane() {
    for f in queue/*; do
        [ -e "$f" ] || continue
        mv "$f" "$f.lane$1" 2>/dev/null || continue # another lane took it
        $(cat "$f.lane$1")
    done
}
lanes=${KILN_DEFECT_LANES:-2}
i=0
while [ "$i" -lt "$lanes" ]; do lane "$i" & i=$((i + 1)); done
wait

failures=
for name in $names; do
    if [ -f "result-$name" ]; then cat "result-$name"; else echo "  MISSED $name: no result"; fi
    grep -q '^  caught' "result-$name" 2>/dev/null || failures="$failures $name"
done
for job in $clean_jobs; do
    if [ -f "result-$job" ]; then cat "result-$job"; else echo "  FAILED $job: no result"; fi
    grep -q "^  FAILED" "result-$job" 2>/dev/null && failures="$failures $job"
    [ -f "result-$job" ] || failures="$failures $job"
done
for f in took-*; do note "${f#took-}: $(cat "$f") s"; done
note "$(echo $names | wc -w) defects in $(echo $images | wc -w) images, $(echo $targets | wc -w) cases: $(( $(date +%s) - started )) s"
[ -z "$long_left" ] || note "left to make check-long (KILN_DEFECTS_LONG=1), with their cases in the clean run:$long_left"
[ -z "$failures" ] || fail "not proven:$failures"
expect_no_qemu
exit 0
