#pragma once
/* The key every node of a run accepts: the runbook's, or a fresh Ed25519 key made in
 * work_dir, mode 0600 (never in the run directory, so it never reaches reports or archives). */
int node_keys_prepare(const char *given, const char *work_dir, char **priv_path, char **pub_line);
