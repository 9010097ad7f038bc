/* Package version ordering. Both return <0, 0, >0 like strcmp. */
#pragma once

/* Debian: [epoch:]upstream[-revision]; '~' sorts before everything, even the end. */
int version_cmp_deb(const char *a, const char *b);
/* RPM: [epoch:]version[-release], compared segment by segment like rpmvercmp ('~' and '^' too). */
int version_cmp_rpm(const char *a, const char *b);
