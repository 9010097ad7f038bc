#!/bin/sh
# kiln: { timeout_s: 600, description: "sulogin refuses the emergency shell on the console" }
printf '%s\n' 'Cannot open access to console, the root account is locked.' > /dev/console
sleep 600
