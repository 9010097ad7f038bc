#pragma once
/* The key every node of a run accepts: the runbook's, or a fresh Ed25519 key made in
 * work_dir, mode 0600 (never in the run directory, so it never reaches reports or archives).
 * *priv_path gets the private key's path, *pub_line its "TYPE BASE64 kiln" line (caller frees
 * both). 0, or -errno with the message in *reterr: -EINVAL for a given key libssh cannot read
 * unencrypted, -EIO when libssh cannot make or export one, the write's error otherwise. */
int node_keys_prepare(const char *given, const char *work_dir, char **priv_path, char **pub_line, char **reterr);
