#!/bin/sh
# kiln: { timeout_s: 600, description: "systemd's older emergency-mode greeting reaches the console" }
printf '%s\n' 'Welcome to emergency mode! After logging in, type "journalctl -xb" to view' > /dev/console
sleep 600
