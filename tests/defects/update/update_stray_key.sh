#!/bin/sh
# case: verify_update_tampered
# expect: signed by an untrusted key: the updater installed
# The image trusts a second key beside the gallery's (a developer's key left in updates.keys):
# an update.json signed by it, and not by the gallery, is installed and booted.
. "$(dirname "$0")/lib.sh"
stray_key
