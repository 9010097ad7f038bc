/* Debian and RPM version ordering, for the image tests, the gallery and the update policy.
 * Both return -1, 0 or 1 as a is older than, equal to or newer than b. */
#pragma once

/* Debian: [epoch:]upstream[-revision]; '~' sorts before everything, even the end. */
int version_cmp_deb(const char *a, const char *b);
/* RPM: [epoch:]version[-release], compared segment by segment like rpmvercmp ('~' and '^' too). */
int version_cmp_rpm(const char *a, const char *b);
