#include "util/version.h"
#include "tap.h"

#define LT_DEB(a, b) ok(version_cmp_deb(a, b) < 0 && version_cmp_deb(b, a) > 0, "deb %s < %s", a, b)
#define EQ_DEB(a, b) ok(version_cmp_deb(a, b) == 0, "deb %s == %s", a, b)
#define LT_RPM(a, b) ok(version_cmp_rpm(a, b) < 0 && version_cmp_rpm(b, a) > 0, "rpm %s < %s", a, b)
#define EQ_RPM(a, b) ok(version_cmp_rpm(a, b) == 0, "rpm %s == %s", a, b)

int main(void)
{
    /* Debian policy 5.6.12 and dpkg's own test cases */
    LT_DEB("1.0~rc1", "1.0");
    LT_DEB("1.0", "1.0+b1");
    LT_DEB("1.0-1", "1.0-2");
    LT_DEB("1:0.9", "2:0.1");
    LT_DEB("0.9", "1:0.1");
    LT_DEB("1.2.3", "1.10");
    LT_DEB("9.2p1-2+deb12u5", "9.2p1-2+deb12u6");
    LT_DEB("2.36-9+deb12u13", "2.36-9+deb12u14");
    LT_DEB("1.0~~", "1.0~");
    LT_DEB("1.0~", "1.0");
    LT_DEB("a", "b");
    LT_DEB("1.0a", "1.0b");
    LT_DEB("1.0", "1.0a");
    EQ_DEB("1.0", "0:1.0");
    EQ_DEB("1.01", "1.1");
    LT_DEB("6.1.0-55", "6.1.0-56");

    /* rpmvercmp cases from rpm's test suite */
    LT_RPM("1.0", "1.0.1");
    LT_RPM("1.0", "2.0");
    LT_RPM("2.0.1", "2.0.1a");
    LT_RPM("5.5p1", "5.5p2");
    LT_RPM("5.5p1", "5.5p10");
    LT_RPM("10xyz", "10.1xyz");
    LT_RPM("xyz10", "xyz10.1");
    LT_RPM("1.0aa", "1.0.1");
    LT_RPM("1.0~rc1", "1.0");
    LT_RPM("1.0~rc1", "1.0~rc2");
    LT_RPM("1.0^", "1.0.1");
    LT_RPM("1.0", "1.0^");
    LT_RPM("1.0^git1", "1.0^git2");
    LT_RPM("1.0-1.fc38", "1.0-2.fc38");
    LT_RPM("1:1.0", "2:0.5");
    EQ_RPM("1.0", "1.0");
    EQ_RPM("1.0", "1.0-5");
    EQ_RPM("2.0", "2_0");
    EQ_RPM("1.01", "1.1");
    return tap_done();
}
