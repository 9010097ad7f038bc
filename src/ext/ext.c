#include "ext/ext.h"

#include "ext/common.h"
#include "ext/kselftest.h"
#include "ext/ltprun.h"
#include "ext/scripts.h"

int ext_load(const struct kiln_runbook *rb, struct diags *d)
{
    int r1 = ext_scripts_load(rb, d);
    int r2 = ext_kselftest_load(rb, d);
    int r3 = ext_ltp_load(rb, d);
    return r1 < 0 ? r1 : r2 < 0 ? r2 : r3;
}

void ext_free(void)
{
    ext_scripts_free();
    ext_kselftest_free();
    ext_ltp_free();
    ext_upload_forget();
}
