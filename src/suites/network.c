/* Area network: interfaces, addresses, routes, name resolution, hostname, MTU. */
#include <errno.h>

#include "suites/common.h"
#include "util/util.h"
#include "util/yaml.h"

KILN_CASE(verify_nics_up,
          .area = "network", .priority = 1, .timeout_s = 120,
          .description = "Every NIC has carrier, is up and holds an address",
          .tags = KILN_TAGS("fast"))
{
    _cleanup_free_ char *out = NULL;
    /* name operstate carrier addresses */
    if (guest_sh_ok(t, "list NICs",
                    "for n in /sys/class/net/*; do i=${n##*/}; [ \"$i\" = lo ] && continue; "
                    "[ -e $n/device ] || continue; "
                    "a=$(ip -o addr show dev $i scope global 2>/dev/null | awk '{print $4}' | tr '\\n' ' '); "
                    "echo \"$i $(cat $n/operstate) $(cat $n/carrier 2>/dev/null || echo 0) $a\"; done",
                    &out))
        return CASE_FAIL;
    size_t nics = 0;
    for (char *save = NULL, *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        char name[64], state[32], addr[128] = "";
        int carrier = 0;
        int k = sscanf(l, "%63s %31s %d %127s", name, state, &carrier, addr);
        if (k < 3) continue;
        nics++;
        case_log(t, "%s: %s carrier=%d %s", name, state, carrier, addr);
        if (!carrier || !streq(state, "up")) return case_fail(t, "%s is %s (carrier %d)", name, state, carrier);
        if (k < 4 || !*addr) return case_fail(t, "%s is up but has no global address", name);
    }
    if (!nics) return case_fail(t, "no network interface backed by a device");
    case_metric(t, "nics", (double)nics, "");
    return CASE_PASS;
}

KILN_CASE(verify_route_and_dns,
          .area = "network", .priority = 1, .timeout_s = 120,
          .description = "A default route exists and the policy's names resolve",
          .tags = KILN_TAGS("fast"))
{
    _cleanup_free_ char *route = NULL;
    case_sh(t, "ip route show default", &route);
    if (!route || !*strstrip(route)) return case_fail(t, "no default route (ip route show default is empty)");
    case_log(t, "default route: %s", route);
    struct ynode *policy = suite_policy(t);
    if (!policy) return CASE_FAIL;
    const struct ynode *names = policy_get(policy, "network", "resolve");
    for (size_t i = 0; names && names->kind == YN_SEQ && i < names->n; i++) {
        const char *name = names->items[i]->scalar;
        if (!name) continue;
        _cleanup_free_ char *q = shell_quote(name);
        _cleanup_free_ char *cmd = xasprintf("getent hosts %s 2>/dev/null || nslookup %s 2>/dev/null | "
                                             "awk '/^Name:/ {n=1} n && /^Address/ {print; exit 0}'", q, q);
        _cleanup_free_ char *out = NULL, *conf = NULL;
        if (case_sh(t, cmd, &out) != 0 || !out || !*strstrip(out)) {
            case_sh(t, "grep -E '^nameserver' /etc/resolv.conf | tr '\\n' ' '", &conf);
            return case_fail(t, "cannot resolve %s (resolv.conf: %s)", name, conf && *conf ? strstrip(conf) : "no nameserver");
        }
        case_log(t, "%s -> %s", name, out);
    }
    return CASE_PASS;
}

KILN_CASE(verify_hostname,
          .area = "network", .priority = 2, .timeout_s = 60,
          .description = "The hostname is set (not empty, not localhost) and agrees with /etc/hostname",
          .tags = KILN_TAGS("fast"))
{
    _cleanup_free_ char *h = NULL, *file = NULL;
    if (guest_sh_ok(t, "hostname", "cat /proc/sys/kernel/hostname", &h)) return CASE_FAIL;
    strstrip(h);
    if (!*h || streq(h, "localhost") || streq(h, "(none)")) return case_fail(t, "the hostname is \"%s\"", h);
    if (case_sh(t, "cat /etc/hostname", &file) == 0 && *strstrip(file) && !streq(file, h))
        return case_fail(t, "the hostname is \"%s\" but /etc/hostname says \"%s\"", h, file);
    return CASE_PASS;
}

KILN_CASE(verify_mtu,
          .area = "network", .priority = 2, .timeout_s = 60,
          .description = "Every NIC's MTU is the policy's",
          .tags = KILN_TAGS("fast"))
{
    struct ynode *policy = suite_policy(t);
    if (!policy) return CASE_FAIL;
    const struct ynode *m = policy_get(policy, "network", "mtu");
    long want = 1500;
    if (m && m->kind == YN_SCALAR) want = strtol(m->scalar, NULL, 10);
    _cleanup_free_ char *out = NULL;
    if (guest_sh_ok(t, "read MTUs", "for n in /sys/class/net/*; do [ -e $n/device ] && echo \"${n##*/} $(cat $n/mtu)\"; done; true", &out))
        return CASE_FAIL;
    for (char *save = NULL, *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        char name[64];
        long mtu = 0;
        if (sscanf(l, "%63s %ld", name, &mtu) != 2) continue;
        if (mtu != want) return case_fail(t, "%s has MTU %ld, the policy says %ld", name, mtu, want);
    }
    return CASE_PASS;
}
