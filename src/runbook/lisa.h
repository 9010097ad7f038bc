/* LISA's runbook shapes (microsoft/lisa, lisa/schema.py and its qemu and ready platforms)
 * rewritten in the tree into kiln's own, so a LISA runbook pastes in. Private to runbook/. */
#pragma once
#include "util/yaml.h"

/* Top-level keys of LISA's runbook that runbook_lisa_rewrite() takes out of the tree (it warns
 * about or refuses each as below), as X(key) for each. */
#define RUNBOOK_LISA_TOP_KEYS(X)                                                                                  \
    X("environment") X("exit_with_failed_count") X("exit_on_first_failure") X("test_project") X("test_pass")     \
    X("tags") X("wait_resource_timeout") X("import_builtin_tests") X("transformer") X("combinator") X("dev")

/* Before an included file (base) is merged under the file including it (over): LISA replaces
 * a top-level key the including file sets, where kiln merges maps and joins lists. A platform
 * list (LISA's shape) and an environment block are taken out of base when over has them, so
 * the including file's stand alone, as in LISA. */
void runbook_lisa_before_merge(struct ynode *base, const struct ynode *over);

/* Rewrites root (a runbook after variable substitution) in place:
 *  - platform: a list of one entry becomes that entry (more or none: an error);
 *  - platform.requirement in LISA's capability words (node_count, core_count, memory_mb,
 *    disk.data_disk_count, network_interface.nic_count, gpu_count, features) becomes kiln's
 *    requirement; its qemu: {qcow2, firmware_type, cloud_init} goes to platform.qemu (image,
 *    firmware: LISA boots UEFI unless told bios);
 *  - platform.qemu's LISA keys: hosts (only this machine), network_boot_timeout (boot_timeout_s);
 *  - environment.environments[0].nodes: remote nodes become platform.ready.nodes, a requirement
 *    node becomes platform.requirement;
 *  - extension entries {name, path} become their path (and {paths: [...]} the list); notifier
 *    entries may be a type name or
 *    carry enabled (false drops it);
 *  - testcase entries: select_action forceInclude/forceExclude/none (parsed later), enabled or
 *    enable (false drops the rule), timeout (timeout_s; 0 is the case's own), type lisa;
 * and takes out the LISA keys kiln has no use for. What kiln does not honour is named at its
 * file:line:col: in warn when a run can go on without it (a label, a capture switch, a
 * LISAv2 legacy test), in d when the run would not be what the runbook asks (a second
 * platform or environment, a password, a local node, transformers). */
void runbook_lisa_rewrite(struct ynode *root, struct diags *d, struct diags *warn);
