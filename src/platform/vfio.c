#include "platform/vfio.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
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

int vfio_device_check(const char *sysfs, const char *dev, const char *addr, char **reterr)
{
    _cleanup_free_ char *dir = xasprintf("%s/bus/pci/devices/%s", sysfs, addr);
    if (access(dir, F_OK) != 0)
        return err_setf(reterr, -ENODEV, "no PCI device %s on this host (%s); lspci -D lists the host's devices", addr, dir);
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
