#include <errno.h>
#include <libssh/libssh.h>

#include "node/keys.h"
#include "util/fs.h"
#include "util/util.h"

int node_keys_prepare(const char *given, const char *work_dir, char **priv_path, char **pub_line, char **reterr)
{
    ssh_key key = NULL;
    if (given) {
        if (ssh_pki_import_privkey_file(given, NULL, NULL, NULL, &key) != SSH_OK)
            return err_setf(reterr, -EINVAL, "platform.admin_private_key_file: cannot read %s as an unencrypted private key",
                            given);
        *priv_path = xstrdup(given);
    } else {
        if (ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &key) != SSH_OK) return err_setf(reterr, -EIO, "cannot generate an SSH key");
        *priv_path = path_join(work_dir, "id_ed25519");
        /* libssh's own export creates the file with the umask's mode (0644 as a rule) */
        char *pem = NULL;
        int r = ssh_pki_export_privkey_base64(key, NULL, NULL, NULL, &pem) == SSH_OK
                    ? write_file_atomic(*priv_path, pem, strlen(pem), 0600) : -EIO;
        ssh_string_free_char(pem);
        if (r < 0) {
            ssh_key_free(key);
            return err_setf(reterr, r, "cannot write %s: %s", *priv_path, strerror(-r));
        }
    }
    ssh_key pub = NULL;
    char *b64 = NULL;
    int rc = 0;
    if (ssh_pki_export_privkey_to_pubkey(key, &pub) != SSH_OK || ssh_pki_export_pubkey_base64(pub, &b64) != SSH_OK) {
        rc = err_setf(reterr, -EIO, "cannot derive the public key");
    } else {
        *pub_line = xasprintf("%s %s kiln", ssh_key_type_to_char(ssh_key_type(pub)), b64);
    }
    ssh_string_free_char(b64);
    ssh_key_free(pub);
    ssh_key_free(key);
    return rc;
}
