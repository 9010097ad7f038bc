/* Host PCI devices given to guests whole (VFIO passthrough: feature gpu). A device qualifies
 * when the host bound it to vfio-pci and it sits in an IOMMU group whose /dev/vfio node
 * exists; the sysfs layout is the kernel's (Documentation/driver-api/vfio.rst). */
#pragma once
#include <stddef.h>

/* Whether the host PCI device addr ("DDDD:BB:DD.F") can be passed through. sysfs is the
 * mount point of sysfs ("/sys"; tests point it at a tree of their own) and dev that of the
 * device nodes ("/dev"). 0 when it can; otherwise -ENODEV (no such device, no IOMMU group,
 * no /dev/vfio node) or -EBUSY (bound to another driver or none), with a one-line reason in
 * *reterr that names the device, what was found and what to do. */
int vfio_device_check(const char *sysfs, const char *dev, const char *addr, char **reterr);
