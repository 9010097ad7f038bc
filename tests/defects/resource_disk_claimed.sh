#!/bin/sh
# case: perf_storage_io
# expect: /dev/vdb mounted at /mnt/scratch
# image: system
# The image formats and mounts "the second disk" by kernel name as scratch space, whatever
# disk that turns out to be: a data disk it was given is taken over.
. "$(dirname "$0")/lib.sh"
put /etc/systemd/system/scratch-disk.service 644 "[Unit]\nDescription=Scratch space on the second disk\nAfter=local-fs.target\n\n[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/sh -c 'mkfs.ext4 -q -F /dev/vdb && mkdir -p /mnt/scratch && mount /dev/vdb /mnt/scratch'\n\n[Install]\nWantedBy=multi-user.target\n"
link /etc/systemd/system/scratch-disk.service /etc/systemd/system/multi-user.target.wants/scratch-disk.service
