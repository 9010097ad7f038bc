#include "util/version.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

/* ---- Debian (policy 5.6.12) ---- */

static int deb_order(char c)
{
    if (isdigit((unsigned char)c)) return 0;
    if (isalpha((unsigned char)c)) return c;
    if (c == '~') return -1;
    if (c) return c + 256;
    return 0;
}

static int deb_part(const char *a, const char *b)
{
    while (*a || *b) {
        int first_diff = 0;
        while ((*a && !isdigit((unsigned char)*a)) || (*b && !isdigit((unsigned char)*b))) {
            int ac = deb_order(*a), bc = deb_order(*b);
            if (ac != bc) return ac - bc;
            a++;
            b++;
        }
        while (*a == '0') a++;
        while (*b == '0') b++;
        while (isdigit((unsigned char)*a) && isdigit((unsigned char)*b)) {
            if (!first_diff) first_diff = *a - *b;
            a++;
            b++;
        }
        if (isdigit((unsigned char)*a)) return 1;
        if (isdigit((unsigned char)*b)) return -1;
        if (first_diff) return first_diff;
    }
    return 0;
}

static void deb_split(const char *v, long *epoch, char **up, char **rev)
{
    const char *colon = strchr(v, ':');
    *epoch = colon ? strtol(v, NULL, 10) : 0;
    const char *rest = colon ? colon + 1 : v;
    const char *dash = strrchr(rest, '-');
    *up = dash ? xstrndup(rest, (size_t)(dash - rest)) : xstrdup(rest);
    *rev = xstrdup(dash ? dash + 1 : "");
}

/* [epoch:]version[-revision] of both, the epochs as numbers, the rest part by part; the
 * revisions count only when both have one and rev_if_both is set (rpm's rule), else always. */
static int evr_cmp(const char *a, const char *b, int (*part)(const char *, const char *), bool rev_if_both)
{
    long ea, eb;
    char *va, *ra, *vb, *rb;
    deb_split(a, &ea, &va, &ra);
    deb_split(b, &eb, &vb, &rb);
    int r = ea != eb ? (ea < eb ? -1 : 1) : part(va, vb);
    if (!r && (!rev_if_both || (*ra && *rb))) r = part(ra, rb);
    free(va);
    free(ra);
    free(vb);
    free(rb);
    return r < 0 ? -1 : r > 0;
}

int version_cmp_deb(const char *a, const char *b)
{
    return evr_cmp(a, b, deb_part, false);
}

/* ---- RPM (rpmvercmp) ---- */

static int rpm_segcmp(const char *a, const char *b)
{
    if (strcmp(a, b) == 0) return 0;
    const char *one = a, *two = b;
    while (*one || *two) {
        while (*one && !isalnum((unsigned char)*one) && *one != '~' && *one != '^') one++;
        while (*two && !isalnum((unsigned char)*two) && *two != '~' && *two != '^') two++;
        /* '~' sorts before anything, even the end */
        if (*one == '~' || *two == '~') {
            if (*one != '~') return 1;
            if (*two != '~') return -1;
            one++, two++;
            continue;
        }
        /* '^' sorts after the end but before anything else */
        if (*one == '^' || *two == '^') {
            if (!*one) return -1;
            if (!*two) return 1;
            if (*one != '^') return 1;
            if (*two != '^') return -1;
            one++, two++;
            continue;
        }
        if (!*one || !*two) break;
        const char *s1 = one, *s2 = two;
        bool num = isdigit((unsigned char)*s1);
        if (num) {
            while (isdigit((unsigned char)*one)) one++;
            while (isdigit((unsigned char)*two)) two++;
        } else {
            while (isalpha((unsigned char)*one)) one++;
            while (isalpha((unsigned char)*two)) two++;
        }
        if (two == s2) return num ? 1 : -1; /* different kinds: numeric is newer */
        size_t l1 = (size_t)(one - s1), l2 = (size_t)(two - s2);
        if (num) {
            while (l1 && *s1 == '0') s1++, l1--;
            while (l2 && *s2 == '0') s2++, l2--;
            if (l1 != l2) return l1 > l2 ? 1 : -1;
        }
        int c = strncmp(s1, s2, MIN(l1, l2));
        if (c) return c < 0 ? -1 : 1;
        if (l1 != l2) return l1 > l2 ? 1 : -1;
    }
    if (!*one && !*two) return 0;
    return *one ? 1 : -1;
}

int version_cmp_rpm(const char *a, const char *b)
{
    return evr_cmp(a, b, rpm_segcmp, true);
}
