#!/bin/sh
# kiln: { reboot: true, timeout_s: 300 }
# autopkgtest convention: ask for a reboot with a mark, get rerun with the mark set
case "${AUTOPKGTEST_REBOOT_MARK:-}" in
    "") echo "first boot, asking for a reboot"; /tmp/autopkgtest-reboot after-first
        echo "not reached" ; exit 1 ;;
    after-first) echo "second run after the reboot"; exit 0 ;;
    *) echo "unexpected mark $AUTOPKGTEST_REBOOT_MARK" >&2; exit 1 ;;
esac
