#include <math.h>

#include "suites/common.h"
#include "tap.h"
#include "util/util.h"

static bool near(double a, double b)
{
    return fabs(a - b) < 1e-9;
}

int main(void)
{
    ok(near(parse_systemd_duration("1.234s"), 1.234), "seconds");
    ok(near(parse_systemd_duration("345ms"), 0.345), "milliseconds");
    ok(near(parse_systemd_duration("1min 2.5s"), 62.5), "minutes and seconds");
    ok(near(parse_systemd_duration("2h 3min"), 7380), "hours and minutes");
    ok(near(parse_systemd_duration("12us"), 12e-6), "microseconds");
    ok(parse_systemd_duration("") < 0, "empty is garbage");
    ok(parse_systemd_duration("5 parsecs") < 0, "unknown unit is garbage");
    const char *hv = "listening=5201\nbytes=104857600\nsha256=ab12\nxbytes=1\n";
    _cleanup_free_ char *b = helper_value(hv, "bytes"), *h = helper_value(hv, "sha256"), *none = helper_value(hv, "byte");
    is_str(b, "104857600", "helper_value reads a key=value line");
    is_str(h, "ab12", "helper_value: last line");
    ok(!none && !helper_value(NULL, "bytes"), "helper_value: no partial keys, NULL output");
    return tap_done();
}
