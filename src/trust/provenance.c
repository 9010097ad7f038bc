#include "trust/provenance.h"

#include <unistd.h>

#include "trust/pkgdb.h"
#include "util/digest.h"
#include "util/fs.h"
#include "util/timeutil.h"
#include "util/util.h"

json_t *provenance_make(const struct provenance_in *in)
{
    char t0[32], t1[32];
    format_utc(t0, in->started);
    format_utc(t1, in->finished);
    const char *id = json_string_value(json_object_get(in->os_release, "ID"));
    const char *vid = json_string_value(json_object_get(in->os_release, "VERSION_ID"));
    json_t *deps = json_array();
    size_t i;
    json_t *p;
    json_array_foreach(in->packages, i, p) {
        _cleanup_free_ char *purl = pkgdb_purl(in->family, p, id, vid);
        json_t *d = json_object();
        json_object_set_new(d, "uri", json_string(purl));
        json_object_set_new(d, "name", json_incref(json_object_get(p, "name")));
        _cleanup_free_ char *key = pkgdb_digest_key(p);
        const char *hx = json_string_value(json_object_get(in->digests, key));
        if (hx) json_object_set_new(d, "digest", json_pack("{s:s}", "sha256", hx));
        json_array_append_new(deps, d);
    }
    json_t *ext = json_object();
    json_object_set_new(ext, "spec", json_pack("{s:s, s:{s:s}}", "uri", in->spec_path, "digest", "sha256", in->spec_sha256));
    if (in->parameters) json_object_update(ext, in->parameters);
    char host[256] = "localhost";
    gethostname(host, sizeof host - 1);
    _cleanup_free_ char *builder = xasprintf("urn:kiln:builder:%s", host);
    /* one build = one invocation: the spec digest and the start time name it */
    _cleanup_free_ char *invocation = xasprintf("%.16s-%lld", in->spec_sha256, (long long)in->started);
    json_t *pred = json_pack(
        "{s:{s:s, s:o, s:{s:s}, s:o}, s:{s:{s:s, s:{s:s}}, s:{s:s, s:s, s:s}}}",
        "buildDefinition", "buildType", KILN_BUILD_TYPE, "externalParameters", ext, "internalParameters", "kiln",
        KILN_VERSION, "resolvedDependencies", deps, "runDetails", "builder", "id", builder, "version", "kiln",
        KILN_VERSION, "metadata", "invocationId", invocation, "startedOn", t0, "finishedOn", t1);
    json_t *st = json_object();
    json_object_set_new(st, "_type", json_string(INTOTO_STATEMENT_TYPE));
    json_object_set_new(st, "subject", json_incref(in->subjects));
    json_object_set_new(st, "predicateType", json_string(SLSA_PROVENANCE_TYPE));
    json_object_set_new(st, "predicate", pred);
    return st;
}
