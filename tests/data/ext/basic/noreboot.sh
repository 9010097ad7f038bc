#!/bin/sh
# asks for a reboot without declaring it: must fail, not reboot
/tmp/autopkgtest-reboot sneaky
