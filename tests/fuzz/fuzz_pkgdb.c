#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "trust/pkgdb.h"
#include "trust/sbom.h"

/* Any bytes as what dpkg-query / rpm print for an image's database (the image chooses every
 * field): a package list, never a crash. The same bytes as a package's copyright file (DEP-5):
 * a license expression or none. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const families[] = {"deb", "rpm"};
    for (size_t f = 0; f < 2; f++) {
        char *text = malloc(size + 1);
        if (!text) abort();
        memcpy(text, data, size);
        text[size] = 0;
        json_t *a = pkgdb_parse(families[f], text);
        size_t i;
        json_t *p;
        json_array_foreach(a, i, p) {
            char *purl = pkgdb_purl(families[f], p, "debian", "12");
            free(purl);
        }
        json_decref(a);
        free(text);
    }
    json_t *refs = json_object();
    char *expr = sbom_dep5_license((const char *)data, size, "/usr/share/doc/fuzz/copyright", refs);
    free(expr);
    json_decref(refs);
    return 0;
}
