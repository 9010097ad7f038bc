/* The hpc, gpu and kdump decisions from canned guest output (iproute2's rdma, rdma-core 44's
 * ibv_*_pingpong, perftest 4.5, kdump-tools 1.8's kdump-config, Linux's /proc/iomem and PCI
 * sysfs attributes as Debian 12 shows them): a pass, a failure naming the evidence, and what
 * cannot be decided, for each; and the vfio-pci check of a host device on a sysfs tree made
 * here. */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "platform/vfio.h"
#include "suites/decide_hpc.h"
#include "tap.h"
#include "verdicts.h"
#include "util/fs.h"
#include "util/util.h"

static void test_rdma_link(void)
{
    struct verdict v = {0};
    char dev[32] = "";
    struct gcap ok_setup = cap(0, "", NULL);
    struct gcap links = cap(0, "link rxe0/1 state ACTIVE physical_state LINK_UP netdev ens5 \n", NULL);
    expect(decide_rdma_link("node0", "ens5", &ok_setup, &links, dev, sizeof dev, &v), &v, VERDICT_PASS,
           "RDMA link rxe0/1 ACTIVE over ens5", "rdma: an active rxe link over the private NIC");
    is_str(dev, "rxe0", "rdma: the device name is the link's before the port");

    struct gcap blacklisted = cap(1, "", "modprobe rdma_rxe: modprobe: ERROR: could not insert 'rdma_rxe': Operation "
                                         "not permitted\n");
    expect(decide_rdma_link("node1", "ens5", &blacklisted, &links, dev, sizeof dev, &v), &v, VERDICT_FAIL,
           "node1: no soft-RoCE over ens5: the setup exited 1: modprobe rdma_rxe: modprobe: ERROR: could not insert "
           "'rdma_rxe': Operation not permitted",
           "rdma: a kernel that refuses rdma_rxe fails with modprobe's words");
    struct gcap missing = cap(1, "", "modprobe rdma_rxe: modprobe: FATAL: Module rdma_rxe not found in directory "
                                     "/lib/modules/6.1.0-57-amd64\n");
    expect(decide_rdma_link("node0", "ens5", &missing, &links, dev, sizeof dev, &v), &v, VERDICT_FAIL,
           "Module rdma_rxe not found", "rdma: a kernel without the module names it");

    struct gcap other = cap(0, "link rxe0/1 state ACTIVE physical_state LINK_UP netdev ens3 \n", NULL);
    expect(decide_rdma_link("node0", "ens5", &ok_setup, &other, dev, sizeof dev, &v), &v, VERDICT_FAIL,
           "no RDMA link over ens5: rdma link show lists rxe0/1 ACTIVE over ens3",
           "rdma: a link over the management NIC does not count, and is named");
    struct gcap none = cap(0, "", NULL);
    expect(decide_rdma_link("node0", "ens5", &ok_setup, &none, dev, sizeof dev, &v), &v, VERDICT_FAIL,
           "rdma link show lists none", "rdma: no link at all");
    struct gcap down = cap(0, "link rxe0/1 state DOWN physical_state DISABLED netdev ens5\n", NULL);
    expect(decide_rdma_link("node0", "ens5", &ok_setup, &down, dev, sizeof dev, &v), &v, VERDICT_FAIL,
           "the RDMA link rxe0/1 over ens5 is DOWN, not ACTIVE", "rdma: a link that is not active");
    struct gcap no_tool = cap(127, "", "sh: 1: rdma: not found\n");
    expect(decide_rdma_link("node0", "ens5", &ok_setup, &no_tool, dev, sizeof dev, &v), &v, VERDICT_FAIL,
           "rdma link show exited 127: sh: 1: rdma: not found", "rdma: the listing itself failing");
}

static const char rc_server[] =
    "  local address:  LID 0x0000, QPN 0x000011, PSN 0x2e5c61, GID ::ffff:10.99.0.2\n"
    "  remote address: LID 0x0000, QPN 0x000011, PSN 0x7fe7a8, GID ::ffff:10.99.0.1\n"
    "4096000 bytes in 1.93 seconds = 16.98 Mbit/sec\n"
    "500 iters in 1.93 seconds = 3859.02 usec/iter\n";
static const char rc_client[] =
    "  local address:  LID 0x0000, QPN 0x000011, PSN 0x7fe7a8, GID ::ffff:10.99.0.1\n"
    "  remote address: LID 0x0000, QPN 0x000011, PSN 0x2e5c61, GID ::ffff:10.99.0.2\n"
    "4096000 bytes in 1.92 seconds = 17.07 Mbit/sec\n"
    "500 iters in 1.92 seconds = 3839.50 usec/iter\n";

static void test_pingpong(void)
{
    struct verdict v = {0};
    struct gcap s = cap(0, rc_server, NULL), c = cap(0, rc_client, NULL);
    double mbit = 0, usec = 0;
    expect(decide_pingpong("ibv_rc_pingpong", "node1", &s, "node0", &c, 500, &v, &mbit, &usec), &v, VERDICT_PASS,
           "500 iterations on both sides", "pingpong: both sides complete");
    ok(mbit == 17.07 && usec == 3839.50, "pingpong: the client's Mbit/s and usec/iter (got %g, %g)", mbit, usec);

    struct gcap short_run = cap(0, "  local address:  LID 0x0000\n  remote address: LID 0x0000\n"
                                   "819200 bytes in 0.41 seconds = 16.0 Mbit/sec\n100 iters in 0.41 seconds = 4100.0 usec/iter\n",
                                NULL);
    expect(decide_pingpong("ibv_rc_pingpong", "node1", &short_run, "node0", &c, 500, &v, NULL, NULL), &v, VERDICT_FAIL,
           "ibv_rc_pingpong on node1 (server) completed 100 iterations, expected 500",
           "pingpong: a side that stopped early is named");

    struct gcap failed = cap(1, "  local address:  LID 0x0000, QPN 0x000011\n  remote address: LID 0x0000\n",
                             "Failed status transport retry counter exceeded (12) for wr_id 2\nparse WC failed 1\n");
    expect(decide_pingpong("ibv_rc_pingpong", "node1", &s, "node0", &failed, 500, &v, NULL, NULL), &v, VERDICT_FAIL,
           "ibv_rc_pingpong on node0 (client) exited 1: Failed status transport retry counter exceeded (12) for wr_id 2",
           "pingpong: the verbs error of a side that failed");

    struct gcap no_peer = cap(1, "  local address:  LID 0x0000, QPN 0x000011\n", "Couldn't connect to 10.99.0.2:18515\n");
    expect(decide_pingpong("ibv_ud_pingpong", "node1", &s, "node0", &no_peer, 500, &v, NULL, NULL), &v, VERDICT_FAIL,
           "ibv_ud_pingpong on node0 (client) exited 1: Couldn't connect to 10.99.0.2:18515",
           "pingpong: a client that never reached its server");

    struct gcap silent = cap(0, "  local address:  LID 0x0000, QPN 0x000011\n", NULL);
    expect(decide_pingpong("ibv_ud_pingpong", "node1", &silent, "node0", &c, 500, &v, NULL, NULL), &v, VERDICT_FAIL,
           "(server) printed no \"remote address:\" line", "pingpong: exit 0 without an exchange is no pass");

    struct gcap negative = cap(0, "  remote address: LID 0x0000\n4096000 bytes in 1.92 seconds = -17.07 Mbit/sec\n"
                                  "500 iters in 1.92 seconds = -3839.50 usec/iter\n", NULL);
    mbit = usec = 0;
    expect(decide_pingpong("ibv_rc_pingpong", "node1", &s, "node0", &negative, 500, &v, &mbit, &usec), &v,
           VERDICT_FAIL, "ibv_rc_pingpong on node0 (client) printed no \"N iters in S seconds\" line",
           "pingpong: negative figures are no measurement (they would be recorded as metrics)");
    ok(mbit == 0 && usec == 0, "pingpong: no metric from a failed side (got %g, %g)", mbit, usec);

    struct gcap ended = cap(-1, "", "did not end within 60 s of its client");
    expect(decide_pingpong("ibv_rc_pingpong", "node1", &ended, "node0", &c, 500, &v, NULL, NULL), &v, VERDICT_FAIL,
           "ibv_rc_pingpong on node1 (server) exited -1: did not end within 60 s of its client",
           "pingpong: a server that hung");
}

static const char write_bw[] =
    "---------------------------------------------------------------------------------------\n"
    "                    RDMA_Write BW Test\n"
    " Dual-port       : OFF\t\tDevice         : rxe0\n"
    " Number of qps   : 1\t\tTransport type : IB\n"
    "---------------------------------------------------------------------------------------\n"
    " #bytes     #iterations    BW peak[MB/sec]    BW average[MB/sec]   MsgRate[Mpps]\n"
    " 65536      1544             0.00               19.27\t\t   0.000308\n"
    "---------------------------------------------------------------------------------------\n";
static const char read_lat[] =
    "---------------------------------------------------------------------------------------\n"
    " #bytes #iterations    t_min[usec]    t_max[usec]  t_typical[usec]    t_avg[usec]    t_stdev[usec]   99% "
    "percentile[usec]   99.9% percentile[usec] \n"
    " 2       200          1012.33        9120.50      1534.07            1702.11        611.45          5012.77     "
    "            9120.50  \n"
    "---------------------------------------------------------------------------------------\n";

static void test_perftest(void)
{
    double d = 0;
    ok(perftest_value(write_bw, "BW average[MB/sec]", &d) && d == 19.27, "perftest: BW average (got %g)", d);
    ok(perftest_value(write_bw, "BW peak[MB/sec]", &d) && d == 0, "perftest: a column of two words");
    ok(perftest_value(read_lat, "t_typical[usec]", &d) && d == 1534.07, "perftest: t_typical (got %g)", d);
    ok(perftest_value(read_lat, "99.9% percentile[usec]", &d) && d == 9120.50, "perftest: the last column (got %g)", d);
    ok(!perftest_value(read_lat, "BW average[MB/sec]", &d), "perftest: no such column");
    ok(!perftest_value(" #bytes #iterations t_avg[usec]\n 2 200\n", "t_avg[usec]", &d),
       "perftest: a row shorter than its header is not read");
    ok(!perftest_value(" #bytes #iterations t_avg[usec]\n 2 200 nan\n", "t_avg[usec]", &d), "perftest: nan is no value");
    ok(!perftest_value(" #bytes #iterations t_avg[usec]\n 2 200 -3.5\n", "t_avg[usec]", &d),
       "perftest: a negative latency is no measurement");
    ok(!perftest_value(" #bytes #iterations BW average[MB/sec]\n 65536 1544 -19.27\n", "BW average[MB/sec]", &d),
       "perftest: a negative bandwidth is no measurement");

    struct verdict v = {0};
    struct gcap srv = cap(0, write_bw, NULL), cli = cap(0, write_bw, NULL);
    expect(decide_perftest("ib_write_bw", "BW average[MB/sec]", &srv, &cli, &v, &d), &v, VERDICT_PASS,
           "BW average[MB/sec] 19.27", "perftest: a result");
    struct gcap refused = cap(1, "", " Couldn't connect to 10.99.0.2:18517\nUnable to open file descriptor for socket "
                                     "connection Unable to init the socket connection\n");
    expect(decide_perftest("ib_read_lat", "t_typical[usec]", &srv, &refused, &v, &d), &v, VERDICT_FAIL,
           "ib_read_lat (client) exited 1: Couldn't connect to 10.99.0.2:18517", "perftest: the client's failure");
    /* a guest that reports a negative latency must not pass the latency threshold (best <= limit) */
    struct gcap negative = cap(0, " #bytes #iterations t_typical[usec]\n 2 200 -1534.07\n", NULL);
    expect(decide_perftest("ib_read_lat", "t_typical[usec]", &srv, &negative, &v, &d), &v, VERDICT_FAIL,
           "ib_read_lat printed no result table with a \"t_typical[usec]\" value", "perftest: a negative latency fails");
    struct gcap empty = cap(0, "---\n RDMA_Read Latency Test\n", NULL);
    expect(decide_perftest("ib_read_lat", "t_typical[usec]", &srv, &empty, &v, &d), &v, VERDICT_FAIL,
           "ib_read_lat printed no result table with a \"t_typical[usec]\" value", "perftest: no table");
}

static void test_crashkernel(void)
{
    struct verdict v = {0};
    double mib = -1;
    expect(decide_crashkernel("402653184\n", "  2b000000-42ffffff : Crash kernel\n", "console=ttyS0 crashkernel=384M\n",
                              &v, &mib),
           &v, VERDICT_PASS, "384 MiB reserved for a crash kernel (/sys/kernel/kexec_crash_size); /proc/iomem: "
                             "2b000000-42ffffff : Crash kernel",
           "crashkernel: reserved");
    ok(mib == 384, "crashkernel: MiB reported (got %g)", mib);
    expect(decide_crashkernel("0\n", "", "BOOT_IMAGE=/vmlinuz root=PARTUUID=x rw console=ttyS0\n", &v, &mib), &v,
           VERDICT_FAIL,
           "no memory reserved for a crash kernel: /sys/kernel/kexec_crash_size is 0 and /proc/iomem has no \"Crash "
           "kernel\" range; the kernel command line has no crashkernel=",
           "crashkernel: none asked, none reserved");
    expect(decide_crashkernel("0\n", "", "console=ttyS0 crashkernel=4G\n", &v, &mib), &v, VERDICT_FAIL,
           "the kernel command line asks crashkernel=4G but the kernel reserved nothing",
           "crashkernel: asked but too large to reserve");
    expect(decide_crashkernel("0\n", "", "console=ttyS0 nocrashkernel=1 xcrashkernel=1\n", &v, &mib), &v, VERDICT_FAIL,
           "has no crashkernel=", "crashkernel: a word merely ending in crashkernel= is not it");
    expect(decide_crashkernel(NULL, "  2b000000-42ffffff : Crash kernel\n", "", &v, &mib), &v, VERDICT_PASS,
           "/proc/iomem: 2b000000-42ffffff : Crash kernel", "crashkernel: iomem alone");
    expect(decide_crashkernel("lots\n", "", "", &v, &mib), &v, VERDICT_SKIP, "holds \"lots\"",
           "crashkernel: garbage cannot decide");
}

static void test_kdump_armed(void)
{
    struct verdict v = {0};
    struct gcap ready = cap(0, "current state   : ready to kdump\n\nkexec command:\n  /sbin/kexec -p ...\n", NULL);
    expect(decide_kdump_armed("1\n", &ready, &v), &v, VERDICT_PASS, "\"current state   : ready to kdump\"",
           "kdump: armed");
    struct gcap not_ready = cap(0, "current state   : Not ready to kdump\n", NULL);
    expect(decide_kdump_armed("0\n", &not_ready, &v), &v, VERDICT_FAIL,
           "kdump is not armed: kdump-config status: \"current state   : Not ready to kdump\"; "
           "/sys/kernel/kexec_crash_loaded is 0",
           "kdump: not ready names kdump-config's line");
    expect(decide_kdump_armed("0\n", &ready, &v), &v, VERDICT_FAIL, "but /sys/kernel/kexec_crash_loaded is 0",
           "kdump: kdump-config and the kernel disagree");
    expect(decide_kdump_armed("0\n", NULL, &v), &v, VERDICT_FAIL,
           "kdump is not armed: /sys/kernel/kexec_crash_loaded is 0 and kdump-tools is not installed",
           "kdump: no kdump-tools");
    expect(decide_kdump_armed("1\n", NULL, &v), &v, VERDICT_PASS, "no kdump-config", "kdump: loaded by other means");
    struct gcap broken = cap(1, "", "/usr/sbin/kdump-config: 12: .: cannot open /etc/default/kdump-tools\n");
    expect(decide_kdump_armed("0\n", &broken, &v), &v, VERDICT_FAIL,
           "kdump-config status exited 1: /usr/sbin/kdump-config: 12: .: cannot open", "kdump: kdump-config failing");
}

static void test_vmcore(void)
{
    struct verdict v = {0};
    struct gcap before = cap(0, "", NULL);
    struct gcap after = cap(0, "30961 /var/crash/202611302040/dmesg.202611302040\n"
                               "41258123 /var/crash/202611302040/dump.202611302040\n"
                               "0 /var/crash/kexec_cmd\n", NULL);
    expect(decide_vmcore(&before, &after, &v), &v, VERDICT_PASS,
           "the crash left /var/crash/202611302040/dump.202611302040 (41258123 bytes)", "vmcore: a new dump");
    struct gcap old = cap(0, "41258123 /var/crash/202611302040/dump.202611302040\n", NULL);
    expect(decide_vmcore(&old, &after, &v), &v, VERDICT_FAIL, "no new vmcore under /var/crash after the crash and the "
                                                              "reboot (it holds /var/crash/202611302040/dmesg",
           "vmcore: an earlier crash's dump is not this one's");
    struct gcap partial = cap(0, "1048576 /var/crash/202611302040/dump-incomplete\n", NULL);
    expect(decide_vmcore(&before, &partial, &v), &v, VERDICT_FAIL,
           "the crash kernel left only an incomplete dump under /var/crash: /var/crash/202611302040/dump-incomplete",
           "vmcore: an incomplete dump");
    struct gcap nothing = cap(0, "", NULL);
    expect(decide_vmcore(&before, &nothing, &v), &v, VERDICT_FAIL, "(it holds no files)", "vmcore: nothing at all");
    struct gcap empty_dump = cap(0, "0 /var/crash/202611302040/vmcore\n", NULL);
    expect(decide_vmcore(&before, &empty_dump, &v), &v, VERDICT_FAIL, "vmcore (empty)", "vmcore: an empty dump");

    /* a guest with 100000 files under /var/crash: each line of one listing was compared with
     * every line of the other (10^10 comparisons, minutes under ASan); now sorted and searched */
    struct sbuf many = {0};
    for (int i = 0; i < 100000; i++) sbuf_printf(&many, "1 /var/crash/old/dump.%06d\n", i);
    _cleanup_free_ char *old_list = xstrdup(many.s);
    sbuf_printf(&many, "4096 /var/crash/new/dump.202612020840\n");
    struct gcap many_before = cap(0, old_list, NULL), many_after = cap(0, many.s, NULL);
    expect(decide_vmcore(&many_before, &many_after, &v), &v, VERDICT_PASS,
           "the crash left /var/crash/new/dump.202612020840 (4096 bytes)", "vmcore: 100000 old files and a new dump");
    expect(decide_vmcore(&many_before, &many_before, &v), &v, VERDICT_FAIL, "no new vmcore",
           "vmcore: 100000 old files and nothing new");
    sbuf_free(&many);
}

static const char pci_gpu[] = "0000:00:00.0 0x060000 0x8086 0x29c0 -\n"
                              "0000:00:01.0 0x030000 0x1234 0x1111 bochs-drm\n"
                              "0000:00:02.0 0x020000 0x1af4 0x1041 virtio-pci\n"
                              "0000:01:00.0 0x030200 0x10de 0x20B0 nvidia\n";
static const char lspci_gpu[] = "0000:00:01.0 VGA compatible controller [0300]: Device [1234:1111] (rev 02)\n"
                                "0000:01:00.0 3D controller [0302]: NVIDIA Corporation GA100 [A100 SXM4 40GB] "
                                "[10de:20b0] (rev a1)\n";

static void test_gpu(void)
{
    struct verdict v = {0};
    int count = -1;
    struct gcap pci = cap(0, pci_gpu, NULL), lspci = cap(0, lspci_gpu, NULL);
    expect(decide_gpu_visible(&pci, &lspci, &v, &count), &v, VERDICT_PASS,
           "1 GPU(s): 0000:01:00.0 [10de:20b0] 3D controller [0302]: NVIDIA Corporation GA100",
           "gpu: the passed-through device, named by lspci; QEMU's stdvga does not count");
    ok(count == 1, "gpu: one GPU counted (got %d)", count);
    struct gcap emulated = cap(0, "0000:00:01.0 0x030000 0x1234 0x1111 bochs-drm\n0000:00:02.0 0x020000 0x1af4 0x1041 "
                                  "virtio-pci\n", NULL);
    expect(decide_gpu_visible(&emulated, NULL, &v, &count), &v, VERDICT_FAIL,
           "no GPU on the guest's PCI bus: 2 device(s), none a display controller (class 0x03) passed through (only "
           "displays the hypervisor emulates)",
           "gpu: an emulated display only");
    struct gcap unreadable = cap(2, "", "ls: cannot access '/sys/bus/pci/devices'\n");
    expect(decide_gpu_visible(&unreadable, NULL, &v, &count), &v, VERDICT_FAIL, "cannot list the PCI devices",
           "gpu: no listing");

    expect(decide_gpu_driver(&pci, NULL, &v), &v, VERDICT_PASS, "bound: 0000:01:00.0: nvidia", "gpu driver: nvidia");
    struct gcap smi = cap(0, "GPU 0: NVIDIA A100-SXM4-40GB (UUID: GPU-0e1d2c3b-aaaa-bbbb-cccc-000000000000)\n", NULL);
    expect(decide_gpu_driver(&pci, &smi, &v), &v, VERDICT_PASS, "nvidia-smi: GPU 0: NVIDIA A100-SXM4-40GB",
           "gpu driver: nvidia-smi lists it");
    struct gcap smi_bad = cap(9, "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.\n", NULL);
    expect(decide_gpu_driver(&pci, &smi_bad, &v), &v, VERDICT_FAIL,
           "nvidia-smi -L exited 9: NVIDIA-SMI has failed because it couldn't communicate", "gpu driver: nvidia-smi fails");
    struct gcap unbound = cap(0, "0000:01:00.0 0x030000 0x1002 0x73bf -\n", NULL);
    expect(decide_gpu_driver(&unbound, NULL, &v), &v, VERDICT_FAIL,
           "GPU 0000:01:00.0 [1002:73bf] has no driver bound", "gpu driver: none bound");
    struct gcap vfio = cap(0, "0000:01:00.0 0x030000 0x8086 0x56a0 vfio-pci\n", NULL);
    expect(decide_gpu_driver(&vfio, NULL, &v), &v, VERDICT_FAIL, "is bound to vfio-pci, not a GPU driver",
           "gpu driver: a stub driver is not a GPU driver");
    struct gcap amd = cap(0, "0000:01:00.0 0x030000 0x1002 0x73bf amdgpu\n0000:02:00.0 0x038000 0x8086 0x56a0 i915\n",
                          NULL);
    expect(decide_gpu_driver(&amd, NULL, &v), &v, VERDICT_PASS, "0000:01:00.0: amdgpu, 0000:02:00.0: i915",
           "gpu driver: two GPUs, both bound");
    expect(decide_gpu_driver(&emulated, NULL, &v), &v, VERDICT_FAIL, "no GPU on the guest's PCI bus",
           "gpu driver: no GPU at all");
    /* a hostile guest's one-byte IDs: named whole, not read past their end (vendor + 2 was) */
    struct gcap short_ids = cap(0, "0000:01:00.0 0x030000 a b -\n", NULL);
    expect(decide_gpu_visible(&short_ids, NULL, &v, &count), &v, VERDICT_PASS, "0000:01:00.0 [a:b]",
           "gpu: one-byte vendor and device IDs are shown whole");
    expect(decide_gpu_driver(&short_ids, NULL, &v), &v, VERDICT_FAIL, "GPU 0000:01:00.0 [a:b] has no driver bound",
           "gpu driver: one-byte IDs in the failure");
}

/* A sysfs and /dev tree with the device in each state vfio_device_check tells apart. */
static void test_vfio(void)
{
    char tmpl[] = "/tmp/kiln-vfio-XXXXXX";
    char *root = mkdtemp(tmpl);
    if (!root) {
        ok(false, "vfio: cannot make a temporary directory");
        return;
    }
    _cleanup_free_ char *sys = path_join(root, "sys"), *dev = path_join(root, "dev");
    _cleanup_free_ char *devs = xasprintf("%s/bus/pci/devices", sys);
    _cleanup_free_ char *d = xasprintf("%s/0000:01:00.0", devs);
    _cleanup_free_ char *drivers = xasprintf("%s/bus/pci/drivers", sys);
    _cleanup_free_ char *groups = xasprintf("%s/kernel/iommu_groups/17", sys);
    _cleanup_free_ char *vfio_dev = xasprintf("%s/vfio", dev);
    mkdir_p(d, 0755), mkdir_p(drivers, 0755), mkdir_p(groups, 0755), mkdir_p(vfio_dev, 0755);
    _cleanup_free_ char *why = NULL;
    int r = vfio_device_check(sys, dev, "0000:02:00.0", &why);
    ok(r == -ENODEV, "vfio: a device the host does not have (got %d)", r);
    has(why, "no PCI device 0000:02:00.0 on this host", "vfio: says so");
    r = vfio_device_check(sys, dev, "garbage", &why);
    ok(r == -EINVAL, "vfio: a name that is not a PCI address (got %d)", r);
    is_str(why, "\"garbage\" is not a PCI address: expected DOMAIN:BUS:DEVICE.FUNCTION as lspci -D prints it, e.g. "
                "0000:01:00.0", "vfio: says so as the runbook's platform.qemu.gpu does");
    /* a host bridge (class 0x0600): refused for its class, never told to bind it to vfio-pci */
    _cleanup_free_ char *bridge = xasprintf("%s/0000:00:00.0", devs), *bclass = path_join(bridge, "class");
    mkdir_p(bridge, 0755);
    write_file_atomic(bclass, "0x060000\n", 9, 0644);
    r = vfio_device_check(sys, dev, "0000:00:00.0", &why);
    ok(r == -EINVAL, "vfio: a host bridge is not a GPU (got %d)", r);
    has(why, "0000:00:00.0 is a bridge (PCI class 0x060000), not a GPU (display controller 0x03xxxx or processing "
             "accelerator 0x12xxxx)", "vfio: names its class");
    ok(!strstr(why, "driverctl"), "vfio: and gives no advice to bind it: %s", why);
    _cleanup_free_ char *class = path_join(d, "class");
    write_file_atomic(class, "0x030000\n", 9, 0644);
    r = vfio_device_check(sys, dev, "0000:01:00.0", &why);
    ok(r == -EBUSY, "vfio: no driver bound (got %d)", r);
    has(why, "0000:01:00.0 is bound to no driver, not vfio-pci (bind it: driverctl set-override 0000:01:00.0 vfio-pci)",
        "vfio: names the fix");
    _cleanup_free_ char *drv = path_join(d, "driver"), *nv = path_join(drivers, "nvidia");
    mkdir_p(nv, 0755);
    ok(symlink("../../../bus/pci/drivers/nvidia", drv) == 0, "vfio: link the device to nvidia");
    r = vfio_device_check(sys, dev, "0000:01:00.0", &why);
    ok(r == -EBUSY, "vfio: bound to the host's GPU driver (got %d)", r);
    has(why, "0000:01:00.0 is bound to nvidia, not vfio-pci", "vfio: names the driver");
    unlink(drv);
    ok(symlink("../../../bus/pci/drivers/vfio-pci", drv) == 0, "vfio: link the device to vfio-pci");
    r = vfio_device_check(sys, dev, "0000:01:00.0", &why);
    ok(r == -ENODEV, "vfio: vfio-pci without an IOMMU group (got %d)", r);
    has(why, "has no IOMMU group", "vfio: says the host lacks an IOMMU");
    _cleanup_free_ char *grp = path_join(d, "iommu_group");
    ok(symlink("../../../kernel/iommu_groups/17", grp) == 0, "vfio: put the device in group 17");
    r = vfio_device_check(sys, dev, "0000:01:00.0", &why);
    ok(r == -ENODEV, "vfio: no /dev/vfio/17 (got %d)", r);
    has(why, "is in IOMMU group 17 but", "vfio: names the group");
    _cleanup_free_ char *node = path_join(vfio_dev, "17");
    write_file_atomic(node, "", 0, 0600);
    r = vfio_device_check(sys, dev, "0000:01:00.0", &why);
    ok(r == 0, "vfio: bound to vfio-pci in an IOMMU group with its node: can be passed through (got %d: %s)", r,
       r ? why : "");
    write_file_atomic(class, "0x120000\n", 9, 0644);
    r = vfio_device_check(sys, dev, "0000:01:00.0", &why);
    ok(r == 0, "vfio: a processing accelerator (0x12) too (got %d: %s)", r, r ? why : "");
    rm_rf(root);
}

int main(void)
{
    test_rdma_link();
    test_pingpong();
    test_perftest();
    test_crashkernel();
    test_kdump_armed();
    test_vmcore();
    test_gpu();
    test_vfio();
    return tap_done();
}
