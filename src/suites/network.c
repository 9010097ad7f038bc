/* Area network: interfaces, addresses, routes, name resolution, hostname, MTU. */
#include <errno.h>

#include "platform/platform.h"
#include "suites/decide.h"
#include "util/util.h"
#include "util/yaml.h"

KILN_CASE(verify_nics_up,
          .area = "network", .priority = 1, .timeout_s = 120,
          .description = "Every NIC has carrier, is up and holds an address",
          .tags = KILN_TAGS("fast"))
{
    /* name operstate carrier addresses */
    struct gcap c;
    if (guest_capture(t, NULL,
                      "for n in /sys/class/net/*; do i=${n##*/}; [ \"$i\" = lo ] && continue; "
                      "[ -e $n/device ] || continue; "
                      /* the private network's and the multiqueue NIC are for the cases that use them */
                      "m=$(cat $n/address) || exit 1; "
                      "case $m in " KILN_PRIVATE_MAC_PREFIX ":*|" KILN_MULTIQUEUE_MAC_PREFIX ":*) continue;; esac; "
                      "s=$(cat $n/operstate) || exit 1; "
                      "a=$(ip -o addr show dev $i scope global | awk '{print $4}' | tr '\\n' ' '); "
                      "echo \"$i $s $(cat $n/carrier 2>/dev/null || echo 0) $a\"; done",
                      &c) < 0)
        return CASE_FAIL;
    struct verdict v = {0};
    size_t nics;
    decide_nics(&c, &v, &nics);
    gcap_free(&c);
    if (v.kind == VERDICT_PASS) case_metric(t, "nics", (double)nics, "");
    return case_verdict(t, &v);
}

KILN_CASE(verify_route_and_dns,
          .area = "network", .priority = 1, .timeout_s = 120,
          .description = "A default route exists and the policy's names resolve",
          .tags = KILN_TAGS("fast"))
{
    struct gcap route;
    if (guest_capture(t, NULL, "ip route show default", &route) < 0) return CASE_FAIL;
    struct verdict v = {0};
    decide_default_route(&route, &v);
    gcap_free(&route);
    if (v.kind != VERDICT_PASS) return case_verdict(t, &v);
    case_log(t, "%s", v.reason);
    verdict_free(&v);
    struct ynode *policy = suite_policy(t);
    if (!policy) return CASE_FAIL;
    const struct ynode *names = policy_get(policy, "network", "resolve");
    for (size_t i = 0; names && names->kind == YN_SEQ && i < names->n; i++) {
        const char *name = names->items[i]->scalar;
        if (!name) continue;
        _cleanup_free_ char *q = shell_quote(name);
        /* getent where libc has it, else busybox's nslookup (its answer follows "Name:") */
        _cleanup_free_ char *cmd = xasprintf(
            "if command -v getent >/dev/null 2>&1; then getent hosts %s; "
            "elif command -v nslookup >/dev/null 2>&1; then nslookup %s | awk '/^Name:/ {n=1} n && /^Address/ {print; f=1; exit} "
            "END {exit !f}'; else exit 127; fi", q, q);
        struct gcap ans, conf = {0};
        if (guest_capture(t, NULL, cmd, &ans) < 0) return CASE_FAIL;
        if ((ans.status != 0 || !*ans.out) && guest_capture(t, NULL, "cat /etc/resolv.conf", &conf) < 0) {
            gcap_free(&ans);
            return CASE_FAIL;
        }
        decide_resolve(name, &ans, conf.out, &v);
        gcap_free(&ans);
        gcap_free(&conf);
        if (v.kind != VERDICT_PASS) return case_verdict(t, &v);
        case_log(t, "%s", v.reason);
        verdict_free(&v);
    }
    return CASE_PASS;
}

KILN_CASE(verify_hostname,
          .area = "network", .priority = 2, .timeout_s = 60,
          .description = "The hostname is set (not empty, not localhost) and agrees with /etc/hostname",
          .tags = KILN_TAGS("fast"))
{
    struct gcap kernel, etc;
    if (guest_capture(t, NULL, "cat /proc/sys/kernel/hostname", &kernel) < 0) return CASE_FAIL;
    if (guest_capture(t, NULL, "[ -e /etc/hostname ] || exit 3; cat /etc/hostname", &etc) < 0) {
        gcap_free(&kernel);
        return CASE_FAIL;
    }
    struct verdict v = {0};
    decide_hostname(&kernel, &etc, &v);
    gcap_free(&kernel);
    gcap_free(&etc);
    return case_verdict(t, &v);
}

KILN_CASE(verify_mtu,
          .area = "network", .priority = 2, .timeout_s = 60,
          .description = "Every NIC's MTU is the policy's",
          .tags = KILN_TAGS("fast"))
{
    struct ynode *policy = suite_policy(t);
    if (!policy) return CASE_FAIL;
    long want = (long)policy_number(policy, "network", "mtu", 1500);
    struct gcap c;
    if (guest_capture(t, NULL, "for n in /sys/class/net/*; do [ -e $n/device ] || continue; "
                               "m=$(cat $n/mtu) || exit 1; echo \"${n##*/} $m\"; done", &c) < 0)
        return CASE_FAIL;
    struct verdict v = {0};
    decide_mtu(&c, want, &v);
    gcap_free(&c);
    return case_verdict(t, &v);
}

/* ---- two nodes on a private segment ---- */

#define PRIV_MB 100

/* Starts a helper server on n in the background; its output goes to file. */
static int start_server(struct kiln_case_ctx *t, struct kiln_node *n, const char *helper, const char *args, const char *file)
{
    _cleanup_free_ char *cmd = xasprintf("rm -f %s; (trap '' HUP; exec %s %s > %s 2>&1 < /dev/null) & "
                                         "for k in $(seq 1 40); do grep -q listening= %s 2>/dev/null && exit 0; sleep 0.25; done; "
                                         "cat %s >&2; exit 1", file, helper, args, file, file, file);
    _cleanup_free_ char *err = NULL;
    if (case_sh_on(t, n, cmd, NULL, &err) != 0)
        return case_fail(t, "%s: %s %s did not start: %s", n->name, helper, args, err ? strstrip(err) : "");
    return 0;
}

/* Waits for a background server's final line (key=) and returns its output. */
static char *server_result(struct kiln_case_ctx *t, struct kiln_node *n, const char *file, const char *key)
{
    _cleanup_free_ char *cmd = xasprintf("for k in $(seq 1 120); do grep -q '^%s=' %s && break; sleep 0.25; done; cat %s", key, file, file);
    char *out = NULL;
    case_sh_on(t, n, cmd, &out, NULL);
    return out;
}

KILN_CASE(verify_private_network,
          .area = "network", .priority = 1, .timeout_s = 900,
          .description = "Two nodes on a private L2 segment reach each other and move 100 MB with a matching SHA-256; "
                         "TCP throughput and latency as metrics",
          .tags = KILN_TAGS("multi-node"),
          .requires = {.nodes = 2, .features = FEAT_PRIVATE_NET})
{
    struct kiln_node *a = t->env->nodes[0], *b = t->env->nodes[1];
    const char *ha, *hb;
    int hrc = guest_helper_on(t, a, &ha);
    if (hrc == CASE_PASS) hrc = guest_helper_on(t, b, &hb);
    if (hrc != CASE_PASS) return hrc;
    _cleanup_free_ char *ia = guest_private_up(t, a, 0);
    _cleanup_free_ char *ib = ia ? guest_private_up(t, b, 1) : NULL;
    if (!ia || !ib) return CASE_FAIL;
    /* both directions answer ICMP echo */
    struct { struct kiln_node *from, *to; const char *helper; int to_i; } pings[] = {{a, b, ha, 2}, {b, a, hb, 1}};
    for (size_t k = 0; k < ARRAY_SIZE(pings); k++) {
        _cleanup_free_ char *cmd = xasprintf("%s ping " PRIV_NET ".%d 3", pings[k].helper, pings[k].to_i);
        _cleanup_free_ char *out = NULL;
        case_sh_on(t, pings[k].from, cmd, &out, NULL);
        _cleanup_free_ char *got = helper_value(out, "received");
        _cleanup_free_ char *avg = helper_value(out, "avg_ms");
        if (!got || atoi(got) != 3)
            return case_fail(t, "%s cannot reach %s at " PRIV_NET ".%d on the private network: %s of 3 echo replies",
                             pings[k].from->name, pings[k].to->name, pings[k].to_i, got ? got : "none");
        case_log(t, "%s -> %s: 3/3 echo replies, avg %s ms", pings[k].from->name, pings[k].to->name, avg ? avg : "?");
    }
    /* 100 MiB from a to b, hashed on both ends */
    const char *rfile = "/tmp/kiln-net-recv.out";
    if (start_server(t, b, hb, "net-recv 5201", rfile)) return CASE_FAIL;
    _cleanup_free_ char *send_cmd = xasprintf("%s net-send " PRIV_NET ".2 5201 %d", ha, PRIV_MB);
    _cleanup_free_ char *sent = NULL, *serr = NULL;
    int sr = case_sh_on(t, a, send_cmd, &sent, &serr);
    _cleanup_free_ char *recv = server_result(t, b, rfile, "seconds");
    if (sr != 0) return case_fail(t, "sending %d MiB failed: %s", PRIV_MB, serr ? strstrip(serr) : "");
    _cleanup_free_ char *s_hash = helper_value(sent, "sha256"), *r_hash = helper_value(recv, "sha256");
    _cleanup_free_ char *s_bytes = helper_value(sent, "bytes"), *r_bytes = helper_value(recv, "bytes");
    _cleanup_free_ char *mbit = helper_value(sent, "mbit_s");
    if (!s_hash || !r_hash || !r_bytes)
        return case_fail(t, "%s reported no transfer result: %s", b->name, recv ? strstrip(recv) : "nothing");
    if (!streq(s_bytes, r_bytes) || !streq(s_hash, r_hash))
        return case_fail(t, "the data changed on the way: %s sent %s bytes sha256 %s, %s received %s bytes sha256 %s",
                         a->name, s_bytes, s_hash, b->name, r_bytes, r_hash);
    case_log(t, "%s -> %s: %s bytes, sha256 %s on both ends, %s Mbit/s", a->name, b->name, r_bytes, r_hash,
             mbit ? mbit : "?");
    if (mbit) case_metric(t, "private_net_throughput", atof(mbit), "Mbit/s");
    /* request/response latency over TCP */
    const char *efile = "/tmp/kiln-net-echo.out";
    if (start_server(t, b, hb, "net-echo 5202", efile)) return CASE_FAIL;
    _cleanup_free_ char *rr_cmd = xasprintf("%s net-rr " PRIV_NET ".2 5202 200", ha);
    _cleanup_free_ char *rr = NULL;
    if (case_sh_on(t, a, rr_cmd, &rr, NULL) != 0 || !rr) return case_fail(t, "the TCP round-trip test failed: %s", rr ? rr : "");
    _cleanup_free_ char *p50 = helper_value(rr, "p50_us"), *p99 = helper_value(rr, "p99_us");
    if (p50) case_metric(t, "private_net_rtt_p50", atof(p50), "us");
    if (p99) case_metric(t, "private_net_rtt_p99", atof(p99), "us");
    /* iperf3 where both nodes have it: the number people compare against */
    if (guest_has_cmd(t, "iperf3")) {
        if (case_sh_on(t, b, "command -v iperf3", NULL, NULL) == 0 &&
            case_sh_on(t, b, "iperf3 -s -1 -D -p 5203", NULL, NULL) == 0) {
            _cleanup_free_ char *ip = NULL;
            if (case_sh_on(t, a, "sleep 0.5; iperf3 -c " PRIV_NET ".2 -p 5203 -t 5 -f m | awk '/receiver/ {print $7}'", &ip, NULL) == 0 &&
                ip && atof(ip) > 0)
                case_metric(t, "private_net_iperf3", atof(ip), "Mbit/s");
        }
    }
    return CASE_PASS;
}

KILN_CASE(verify_multiqueue,
          .area = "network", .priority = 2, .timeout_s = 120,
          .description = "A virtio-net NIC with N queue pairs shows N channels in the guest (one per vCPU)",
          .requires = {.cpus = 2, .features = FEAT_MULTIQUEUE})
{
    int queues = MAX(2, MIN(t->node->have.cpus, 8)); /* what the platform gave the NIC */
    _cleanup_free_ char *out = NULL;
    if (guest_sh_ok(t, "inspect the multiqueue NIC",
                    "for n in /sys/class/net/*; do case $(cat $n/address) in " KILN_MULTIQUEUE_MAC_PREFIX
                    ":*) i=${n##*/}; echo \"$i $(ls -d $n/queues/rx-* | wc -l) $(ls -d $n/queues/tx-* | wc -l) "
                    "$(getconf _NPROCESSORS_ONLN 2>/dev/null || nproc) $(basename $(readlink $n/device/driver) 2>/dev/null)\";; "
                    "esac; done",
                    &out))
        return CASE_FAIL;
    char ifname[64], driver[64] = "?";
    int rx = 0, tx = 0, cpus = 0;
    if (!out || sscanf(out, "%63s %d %d %d %63s", ifname, &rx, &tx, &cpus, driver) < 4)
        return case_fail(t, "no NIC with a MAC starting " KILN_MULTIQUEUE_MAC_PREFIX " in the guest");
    case_log(t, "%s (%s): %d rx / %d tx queues, %d online CPUs, device offers %d queue pairs", ifname, driver, rx, tx,
             cpus, queues);
    /* the guest's maximum, where ethtool is installed */
    if (guest_has_cmd(t, "ethtool")) {
        _cleanup_free_ char *cmd = xasprintf("ethtool -l %s | awk '/maximums/ {m=1} m && /^Combined/ {print $2; exit}'", ifname);
        _cleanup_free_ char *max = NULL;
        if (case_sh(t, cmd, &max) == 0 && max && atoi(max) != queues)
            return case_fail(t, "%s: ethtool reports %d combined channels at most, the device has %d", ifname, atoi(max), queues);
    }
    /* virtio_net enables min(queue pairs, online CPUs) at probe */
    int want = MIN(queues, cpus > 0 ? cpus : 1);
    case_metric(t, "nic_queues", rx, "");
    if (rx != want || tx != want)
        return case_fail(t, "%s uses %d rx / %d tx queues; with %d queue pairs and %d CPUs it should use %d (driver %s)",
                         ifname, rx, tx, queues, cpus, want, driver);
    return CASE_PASS;
}
