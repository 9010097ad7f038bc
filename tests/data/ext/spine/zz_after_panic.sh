#!/bin/sh
# runs after panic.sh: on a fresh node
uptime
