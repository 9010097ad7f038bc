#!/bin/sh
# kiln shell: boots the busybox image through the qemu platform, runs a command over OpenSSH's
# ssh with its exit status and words intact, gives a terminal's session a remote terminal, and
# leaves no VM, ssh or work directory behind, after a session, a boot that fails, SIGINT during
# the boot and SIGTERM during a session.
. "$(dirname "$0")/lib.sh"
command -v ssh >/dev/null || { echo "no OpenSSH client (apt-get install openssh-client)"; exit 77; }

bb() { "$KILN" shell --kernel "$KILN_BUSYBOX/vmlinuz" --initrd "$KILN_BUSYBOX/initrd.img" \
    --append "console=ttyS0 quiet" --memory 256 --cpus 1 --accel tcg --boot-timeout 120 "$@"; }
no_workdir() { [ -z "$(ls -A "$TMPDIR")" ] || { ls -la "$TMPDIR" >&2; fail "$1 left $(ls "$TMPDIR")"; }; }

# usage errors: 2, before anything boots
expect_status 2 "$KILN" shell
expect_in "$T/err" "kiln shell: no IMAGE given (or --kernel FILE)"
expect_status 2 "$KILN" shell "$T/missing.qcow2"
expect_in "$T/err" "missing.qcow2"
expect_status 2 bb --
expect_in "$T/err" "kiln shell: -- is followed by no COMMAND"
expect_status 2 "$KILN" shell /etc/hostname --kernel "$KILN_BUSYBOX/vmlinuz"
expect_in "$T/err" "IMAGE and --kernel exclude each other"
expect_status 2 bb --firmware efi -- true
expect_in "$T/err" "platform.qemu.firmware"
no_workdir "a usage error"

# IMAGE's firmware when none is named: UEFI for a GPT with an EFI system partition and no BIOS
# boot partition (what kiln build makes: systemd-boot only), BIOS otherwise; seen on the qemu
# command line (a pflash drive), then SIGINT ends the boot
if command -v sgdisk > /dev/null; then
    truncate -s 64M esp.raw && sgdisk -n 1:2048:+32M -t 1:ef00 -n 2:0:0 -t 2:8304 esp.raw > /dev/null || fail "sgdisk"
    cp esp.raw bios.raw && sgdisk -n 3:34:2047 -t 3:ef02 bios.raw > /dev/null || fail "sgdisk"
    for c in esp.raw:pflash bios.raw:none; do
        img=${c%%:*}
        (exec "$KILN" shell "$img" --accel tcg --memory 256 --boot-timeout 60 -- true) > fw.out 2> fw.err &
        pid=$!
        for i in $(seq 1 300); do
            pgrep -f "qemu-system-[a-z0-9_]* -name kiln-.*$T/" >/dev/null && break
            sleep 0.1
        done
        cmdline=$(pgrep -af "qemu-system-[a-z0-9_]* -name kiln-.*$T/")
        kill -INT "$pid"
        wait "$pid"
        [ -n "$cmdline" ] || { cat fw.err; fail "$img: no qemu started"; }
        case "$cmdline:${c#*:}" in
            *if=pflash*:pflash) ;;
            *if=pflash*:none) fail "$img (a BIOS boot partition) was booted with UEFI: $cmdline" ;;
            *:pflash) fail "$img (an ESP alone) was not booted with UEFI: $cmdline" ;;
        esac
        expect_no_qemu
        no_workdir "$img"
    done
fi

# the remote command's output and exit status; its words arrive as given (sh -c's $0 and $1)
bb -- sh -c 'echo hi; printf "[%s]" "$0" "$1"; echo; exit 3' 'a b' "it's" > out.txt 2> err.txt
rc=$?
cat err.txt
[ "$rc" -eq 3 ] || { cat out.txt; fail "kiln shell exited $rc, expected the command's 3"; }
[ "$(cat out.txt)" = "hi
[a b][it's]" ] || { cat out.txt; fail "the command's output differs"; }
expect_in err.txt "answers SSH after"
expect_no_qemu
no_workdir "a session"

# a kernel qemu cannot boot: 1, with the reason, nothing left
expect_status 1 "$KILN" shell --kernel /etc/hostname --accel tcg --memory 256 --boot-timeout 60 -- true
expect_in "$T/err" "kiln shell: boot failed: qemu did not start: qemu: invalid kernel header"
expect_no_qemu
no_workdir "a failed boot"

# SIGINT while the VM boots: 130, the VM ended
# exec: $! is then kiln itself (a background subshell would take the SIGINT and ignore it)
(exec "$KILN" shell --kernel "$KILN_BUSYBOX/vmlinuz" --initrd "$KILN_BUSYBOX/initrd.img" --append "console=ttyS0 quiet" \
    --memory 256 --cpus 1 --accel tcg --boot-timeout 120 -- true) > int.out 2> int.err &
pid=$!
for i in $(seq 1 600); do
    pgrep -f "qemu-system-[a-z0-9_]* -name kiln-.*$T/" >/dev/null && break
    sleep 0.1
done
pgrep -f "qemu-system-[a-z0-9_]* -name kiln-.*$T/" >/dev/null || { cat int.err; fail "no qemu started"; }
kill -INT "$pid"
wait "$pid"
rc=$?
[ "$rc" -eq 130 ] || { cat int.out int.err; fail "kiln shell exited $rc after SIGINT, expected 130"; }
expect_in int.err "kiln shell: interrupted while booting"
expect_no_qemu
no_workdir "SIGINT"
# SIGTERM during a session: ssh and the VM end, 130
(exec "$KILN" shell --kernel "$KILN_BUSYBOX/vmlinuz" --initrd "$KILN_BUSYBOX/initrd.img" --append "console=ttyS0 quiet" \
    --memory 256 --cpus 1 --accel tcg --boot-timeout 120 -- sleep 600) > term.out 2> term.err &
pid=$!
for i in $(seq 1 1800); do
    pgrep -f "ssh .*UserKnownHostsFile=$TMPDIR/" >/dev/null && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
pgrep -f "ssh .*UserKnownHostsFile=$TMPDIR/" >/dev/null || { cat term.err; kill -INT "$pid"; fail "no ssh session started"; }
kill -TERM "$pid"
wait "$pid"
rc=$?
[ "$rc" -eq 130 ] || { cat term.out term.err; fail "kiln shell exited $rc after SIGTERM, expected 130"; }
! pgrep -af "ssh .*UserKnownHostsFile=$TMPDIR/" >&2 || fail "the ssh client outlived kiln shell"
expect_no_qemu
no_workdir "SIGTERM in a session"

# kill -9 of kiln shell during a session: its ssh client (PDEATHSIG SIGTERM) and qemu
# (PDEATHSIG SIGKILL) end with it, within a short bound
(exec "$KILN" shell --kernel "$KILN_BUSYBOX/vmlinuz" --initrd "$KILN_BUSYBOX/initrd.img" --append "console=ttyS0 quiet" \
    --memory 256 --cpus 1 --accel tcg --boot-timeout 120 -- sleep 600) > kill.out 2> kill.err &
pid=$!
for i in $(seq 1 1800); do
    pgrep -f "ssh .*UserKnownHostsFile=$TMPDIR/" >/dev/null && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
pgrep -f "ssh .*UserKnownHostsFile=$TMPDIR/" >/dev/null || { cat kill.err; kill -INT "$pid"; fail "no ssh session started"; }
kill -9 "$pid"
wait "$pid"
for i in $(seq 1 50); do
    pgrep -f "ssh .*UserKnownHostsFile=$TMPDIR/" >/dev/null || pgrep -f "qemu-system-[a-z0-9_]* -name kiln-.*$T/" >/dev/null || break
    sleep 0.1
done
! pgrep -af "ssh .*UserKnownHostsFile=$TMPDIR/" >&2 || fail "the ssh client outlived kiln shell's kill -9"
expect_no_qemu
rm -rf "$TMPDIR"/kiln-*  # what the killed kiln left (its work dir: the next kiln run sweeps it)

# no COMMAND on a terminal: an interactive login shell with a terminal of its own; what is
# typed reaches it and its exit status is kiln's (script gives kiln a pseudo-terminal)
if command -v script >/dev/null; then
    printf 'echo in-tty-$((6*7)); tty\nexit 5\n' | script -qefc "$(printf '%s ' "$KILN" shell --kernel "$KILN_BUSYBOX/vmlinuz" \
        --initrd "$KILN_BUSYBOX/initrd.img" --append "'console=ttyS0 quiet'" --memory 256 --cpus 1 --accel tcg \
        --boot-timeout 120)" /dev/null > tty.out 2>&1
    rc=$?
    [ "$rc" -eq 5 ] || { cat tty.out; fail "the interactive session exited $rc, expected 5"; }
    expect_in tty.out "in-tty-42"
    grep -q '^/dev/pts/[0-9]' tty.out || { cat tty.out; fail "the remote shell had no terminal"; }
    expect_no_qemu
    no_workdir "an interactive session"
else
    note "no script(1): the interactive session is not tested"
fi
echo "shell: ok"
