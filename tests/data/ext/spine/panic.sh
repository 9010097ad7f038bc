#!/bin/sh
# kiln: { timeout_s: 600, description: "panics the guest on purpose" }
echo c > /proc/sysrq-trigger
sleep 600
