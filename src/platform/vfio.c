#include "platform/vfio.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/fs.h"
#include "util/util.h"

/* The last component of the symbolic link at path (a driver's or IOMMU group's name). */
static int link_name(const char *path, char *name, size_t sz)
{
    char target[PATH_MAX];
    ssize_t n = readlink(path, target, sizeof target - 1);
    if (n < 0) return -errno;
    target[n] = 0;
    const char *slash = strrchr(target, '/');
    const char *base = slash ? slash + 1 : target;
    size_t len = strlen(base);
    if (len >= sz) return -ENAMETOOLONG;
    memcpy(name, base, len + 1);
    return 0;
}

bool vfio_pci_address_ok(const char *s)
{
    static const char shape[] = "xxxx:xx:xx.x";
    if (strlen(s) != sizeof shape - 1) return false;
    for (size_t i = 0; shape[i]; i++)
        if (shape[i] == 'x' ? !isxdigit((unsigned char)s[i]) : s[i] != shape[i]) return false;
    return true;
}

/* The PCI base class's name (PCI Code and ID Assignment Specification), for the refusal. */
static const char *class_name(unsigned base)
{
    static const char *const names[] = {"unclassified", "mass storage controller", "network controller",
                                        "display controller", "multimedia controller", "memory controller",
                                        "bridge", "communication controller", "system peripheral", "input device",
                                        "docking station", "processor", "serial bus controller", "wireless controller",
                                        "intelligent controller", "satellite communication controller",
                                        "encryption controller", "signal processing controller",
                                        "processing accelerator"};
    return base < ARRAY_SIZE(names) ? names[base] : "device of another class";
}

/* 0 when the device in dir is a display controller or processing accelerator, else -EINVAL. */
static int gpu_class_check(const char *dir, const char *addr, char **reterr)
{
    _cleanup_free_ char *path = path_join(dir, "class"), *text = NULL;
    if (read_file(path, 64, &text, NULL) < 0)
        return err_setf(reterr, -ENODEV, "cannot read %s: the kernel gives every PCI device its class there", path);
    char *end = NULL;
    unsigned long cls = strtoul(text, &end, 16);
    if (end == text) return err_setf(reterr, -EINVAL, "%s holds \"%.20s\", not a PCI class", path, text);
    unsigned base = (unsigned)(cls >> 16) & 0xff;
    if (base == 0x03 || base == 0x12) return 0;
    return err_setf(reterr, -EINVAL, "%s is a %s (PCI class 0x%06lx), not a GPU (display controller 0x03xxxx or "
                                     "processing accelerator 0x12xxxx): it is not passed through, and binding it to "
                                     "vfio-pci would take it from the host; name a GPU (lspci -D -d ::0300 lists them)",
                    addr, class_name(base), cls & 0xffffff);
}

int vfio_device_check(const char *sysfs, const char *dev, const char *addr, char **reterr)
{
    if (!vfio_pci_address_ok(addr)) return err_setf(reterr, -EINVAL, "\"%.64s\" " VFIO_NOT_PCI_ADDRESS, addr);
    _cleanup_free_ char *dir = xasprintf("%s/bus/pci/devices/%s", sysfs, addr);
    if (access(dir, F_OK) != 0)
        return err_setf(reterr, -ENODEV, "no PCI device %s on this host (%s); lspci -D lists the host's devices", addr, dir);
    int r = gpu_class_check(dir, addr, reterr);
    if (r < 0) return r;
    _cleanup_free_ char *drv_link = path_join(dir, "driver");
    char driver[256];
    if (link_name(drv_link, driver, sizeof driver) < 0)
        return err_setf(reterr, -EBUSY, "%s is bound to no driver, not vfio-pci (bind it: driverctl set-override %s vfio-pci)",
                        addr, addr);
    if (!streq(driver, "vfio-pci"))
        return err_setf(reterr, -EBUSY, "%s is bound to %s, not vfio-pci (bind it: driverctl set-override %s vfio-pci)", addr,
                        driver, addr);
    _cleanup_free_ char *group_link = path_join(dir, "iommu_group");
    char group[64];
    if (link_name(group_link, group, sizeof group) < 0)
        return err_setf(reterr, -ENODEV, "%s has no IOMMU group (%s): the host runs without an IOMMU (intel_iommu=on or "
                                 "amd_iommu=on)", addr, group_link);
    _cleanup_free_ char *node = xasprintf("%s/vfio/%s", dev, group);
    if (access(node, F_OK) != 0)
        return err_setf(reterr, -ENODEV, "%s is in IOMMU group %s but %s does not exist (is vfio-pci loaded?)", addr, group,
                        node);
    return 0;
}
