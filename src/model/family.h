/* Package families: how a system's packages are installed and recorded (dpkg / rpm). One
 * definition for the image spec (base.family), the build and the cases that read a guest. */
#pragma once
#include <stddef.h>

/* FAMILY_DEB and FAMILY_RPM are 0 and 1 on purpose: the spec lists base.family's names in this
 * order, and the number is part of the key of every package tree kiln build has cached. */
enum pkg_family { FAMILY_DEB, FAMILY_RPM, FAMILY_OTHER };

/* "deb", "rpm", or NULL for FAMILY_OTHER. */
static inline const char *pkg_family_name(enum pkg_family f)
{
    return f == FAMILY_DEB ? "deb" : f == FAMILY_RPM ? "rpm" : NULL;
}
