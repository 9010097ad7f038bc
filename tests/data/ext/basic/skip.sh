#!/bin/sh
# kiln: { tags: [fast] }
echo "this guest has no GPU"
exit 77
