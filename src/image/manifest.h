/* Reading back the manifest `kiln build` writes next to its artifacts
 * (NAME-VERSION.manifest.json, docs/image.md): what a platform needs to boot an artifact. */
#pragma once
#include <stddef.h>

#include "model/arch.h"

/* The architecture of artifact (a file `kiln build` made): read from the *.manifest.json in
 * the artifact's directory whose "artifacts" list its file name. Returns 0 with *arch set;
 * -ENOENT when no readable manifest there lists it (*reterr says so); -EINVAL when the one that
 * does names an architecture kiln does not know (*reterr says which file and value).
 * Manifests are read up to 16 MiB each, at most 256 of them. */
int manifest_arch_for(const char *artifact, const struct kiln_arch **arch, char **reterr);

/* The same for one manifest's text: 0 with *arch when it lists file name base; -ENOENT when
 * it does not; -EBADMSG when the text is not a JSON object; -EINVAL when it lists base and
 * its "arch" is unknown (*reterr says so).
 * A manifest listing base without "arch" predates the field: x86_64, all kiln built then. */
int manifest_arch_parse(const char *text, size_t len, const char *base, const struct kiln_arch **arch, char **reterr);

/* The architecture a parsed manifest m (a JSON object) records in "arch": 0 with *arch; x86_64
 * when m has no "arch" (as above); -EINVAL when it names one kiln does not know (*reterr says
 * which, and the known ones). The gallery puts it in the catalog. */
struct json_t;
int manifest_arch(struct json_t *m, const struct kiln_arch **arch, char **reterr);
