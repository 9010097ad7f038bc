#!/bin/sh
# kiln: { timeout_s: 5, description: "outlives its timeout with a background job" }
sleep 3001 &
sleep 3002
