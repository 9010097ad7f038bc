#include "platform/platform.h"

#include "util/fs.h"
#include "util/util.h"

/* The drivers, one entry each (each defines platform_<name>); the first is platform.type's
 * default. */
#define KILN_PLATFORMS(X) X(qemu) X(ready)

#define DECLARE(name) extern const struct kiln_platform platform_##name;
KILN_PLATFORMS(DECLARE)
#define ENTRY(name) &platform_##name,
static const struct kiln_platform *const platforms[] = {KILN_PLATFORMS(ENTRY)};
#define NAME(name) #name,
static const char *const names[] = {KILN_PLATFORMS(NAME) NULL};

const struct kiln_platform *platform_find(const char *type)
{
    for (size_t i = 0; type && i < ARRAY_SIZE(platforms); i++)
        if (streq(platforms[i]->name, type)) return platforms[i];
    return NULL;
}

const struct kiln_platform *platform_find_caps(unsigned caps)
{
    for (size_t i = 0; i < ARRAY_SIZE(platforms); i++)
        if ((platforms[i]->caps & caps) == caps) return platforms[i];
    return NULL;
}

const char *const *platform_names(void)
{
    return names;
}

long platform_env_cost_mb(const struct kiln_platform *ops, const struct kiln_req *spec)
{
    if (!ops->uses_host_memory) return 0;
    /* guest RAM plus what qemu itself and TCG's translation cache take */
    return (long)kiln_req_nodes(spec) * (spec->memory_mb + 256);
}

void env_free(struct kiln_env *env)
{
    if (!env) return;
    for (size_t i = 0; i < env->nnodes; i++) node_free(env->nodes[i]);
    free(env->nodes);
    free(env->name);
    free(env);
}

struct kiln_node *platform_new_node(struct kiln_platform_ctx *p)
{
    struct kiln_node *n = xcalloc(1, sizeof *n);
    int id = atomic_fetch_add(&p->next_node, 1);
    n->name = xasprintf("node%d", id);
    _cleanup_free_ char *nodes = path_join(p->run_dir, "nodes");
    n->dir = path_join(nodes, n->name);
    mkdir_p(n->dir, 0755);
    n->key_path = xstrdup(p->key_path);
    n->user = xstrdup(p->rb->platform.admin_username);
    return n;
}
