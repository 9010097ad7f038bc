#include "tap.h"

#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

static int count, failures;

bool tap_ok(bool cond, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = NULL;
    if (vasprintf(&msg, fmt, ap) < 0) msg = NULL;
    va_end(ap);
    /* a TAP line ends at the first newline: one in a description (a tool's output quoted into
     * it) would make the rest unparsable lines */
    for (char *c = msg; c && *c; c++)
        if (*c == '\n' || *c == '\r') *c = ' ';
    printf("%s %d - %s\n", cond ? "ok" : "not ok", ++count, msg ? msg : "(no description)");
    free(msg);
    if (!cond) {
        failures++;
        printf("# failed at %s:%d\n", file, line);
    }
    fflush(stdout);
    return cond;
}

bool tap_is_str(const char *got, const char *want, const char *file, int line, const char *what)
{
    bool eq = got && want ? strcmp(got, want) == 0 : got == want;
    tap_ok(eq, file, line, "%s", what);
    if (!eq) printf("#   got:  \"%s\"\n#   want: \"%s\"\n", got ? got : "(null)", want ? want : "(null)");
    return eq;
}

bool tap_has(const char *hay, const char *needle, const char *file, int line, const char *what)
{
    bool found = hay && strstr(hay, needle);
    tap_ok(found, file, line, "%s", what);
    if (!found) printf("#   \"%s\"\n#   does not contain \"%s\"\n", hay ? hay : "(null)", needle);
    return found;
}

bool tap_is_int(long got, long want, const char *file, int line, const char *what)
{
    return tap_ok(got == want, file, line, "%s: got %ld, want %ld", what, got, want);
}

int tap_done(void)
{
    printf("1..%d\n", count);
    return failures ? 1 : 0;
}
