#!/bin/sh
# kiln: { reboot: true, timeout_s: 300, description: "a machine stuck in its own reset is reset from outside" }
# Plays a machine that hangs in its reset: the first run installs a systemctl that only
# prints the kernel's restart message to the console and takes the NICs down, then asks
# for a reboot. kiln must notice the silent console and reset the machine itself; the
# second run then sees a new boot (the initramfs root, fake systemctl included, is gone).
case "${AUTOPKGTEST_REBOOT_MARK:-}" in
    "")
        printf '#!/bin/sh\necho "[   99.000000] reboot: machine restart" > /dev/console\nfor n in /sys/class/net/*; do [ "${n##*/}" = lo ] || ip link set "${n##*/}" down; done\n' > /bin/systemctl
        chmod 755 /bin/systemctl
        /tmp/autopkgtest-reboot stuck
        echo "not reached"; exit 1 ;;
    stuck)
        [ ! -e /bin/systemctl ] || { echo "the fake systemctl survived: no reset happened" >&2; exit 1; }
        echo "came back after the reset"; exit 0 ;;
    *) echo "unexpected mark $AUTOPKGTEST_REBOOT_MARK" >&2; exit 1 ;;
esac
