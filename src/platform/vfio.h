/* Host PCI devices given to guests whole (VFIO passthrough: feature gpu). A device qualifies
 * when the host bound it to vfio-pci and it sits in an IOMMU group whose /dev/vfio node
 * exists; the sysfs layout is the kernel's (Documentation/driver-api/vfio.rst). */
#pragma once
#include <stddef.h>

#include <stdbool.h>

/* Whether s is a PCI address as lspci -D prints it: DOMAIN:BUS:DEVICE.FUNCTION, hex digits
 * ("0000:01:00.0"). */
bool vfio_pci_address_ok(const char *s);

/* The refusal of a name that is not one (platform.qemu.gpu, $KILN_GPU), for "\"S\" " to precede. */
#define VFIO_NOT_PCI_ADDRESS "is not a PCI address: expected DOMAIN:BUS:DEVICE.FUNCTION as lspci -D prints it, e.g. 0000:01:00.0"

/* Whether the host PCI device addr ("DDDD:BB:DD.F") can be passed through. sysfs is the
 * mount point of sysfs ("/sys"; tests point it at a tree of their own) and dev that of the
 * device nodes ("/dev"). Only a display controller (PCI class 0x03) or a processing
 * accelerator (0x12), as the device's sysfs "class" file says, is taken: binding anything
 * else to vfio-pci takes it from the host. 0 when it can; otherwise -EINVAL (addr is not a
 * PCI address, the device is of another class), -ENODEV (no such device, no IOMMU group, no
 * /dev/vfio node) or -EBUSY (bound to another driver or none), with a one-line reason in
 * *reterr that names the device, what was found and what to do. */
int vfio_device_check(const char *sysfs, const char *dev, const char *addr, char **reterr);
